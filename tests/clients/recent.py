"""\\Recent as RFC 3501 2.3.2 keeps it: a message is recent to exactly one session, the first
read-write SELECT to see it; EXAMINE and STATUS report without claiming; `* n RECENT` at SELECT
and when new messages arrive; FETCH FLAGS shows \\Recent to that session only; SEARCH RECENT,
NEW and OLD follow it. New mail is delivered through the emulator, as a transport would.

usage: recent.py [OTHER_PORT]   with a second gateway instance on the same uid store, sessions
B and C use it, so the claims are shared across instances.
"""

import re
import sys
import time
import urllib.parse

import gwtest as t


def deliver(subject):
    status, body = t.http(
        "POST",
        "%s/_emulator/mailboxes/%s/deliver?folder=inbox"
        % (t.GRAPH, urllib.parse.quote(t.ALICE, safe="")),
        ("From: caller@example.net\r\nTo: alice@contoso.example\r\nSubject: %s\r\n"
         "Message-ID: <%s@example.net>\r\n\r\nPlease call back.\r\n" % (subject, subject)).encode(),
        {"Content-Type": "message/rfc822"},
    )
    t.check(status in (200, 201), "delivery: %s %s" % (status, body[:200]))


def number(lines, suffix):
    """n of the last `* n SUFFIX` line, or None."""
    found = [int(l.split()[1]) for l in lines if re.fullmatch(r"\* \d+ " + suffix, l)]
    return found[-1] if found else None


def search(imap, criteria):
    lines = t.command_lines(imap, "UID SEARCH " + criteria)
    found = next((l for l in lines if l.startswith("* SEARCH")), "* SEARCH")
    return sorted(int(n) for n in found.split()[2:])


def status_recent(imap, messages=None):
    """STATUS INBOX RECENT; with `messages`, once STATUS counts that many messages (the gateway
    may answer from a synchronisation up to a second old)."""
    for _ in range(50):
        lines = t.command_lines(imap, "STATUS INBOX (MESSAGES RECENT)")
        found = next((l for l in lines if l.startswith("* STATUS")), "")
        counted = re.search(r"MESSAGES (\d+)", found)
        if messages is None or (counted and int(counted.group(1)) == messages):
            break
        time.sleep(0.2)
    match = re.search(r"RECENT (\d+)", found)
    return int(match.group(1)) if match else None


def main():
    other = int(sys.argv[1]) if len(sys.argv) > 1 else None
    a, b, c = t.session(), t.session(other), t.session(other)
    lines = t.command_lines(a, "SELECT INBOX")
    exists = number(lines, "EXISTS")
    t.check(number(lines, "RECENT") == exists, "the first SELECT of a new folder claims all: %r" % lines)
    lines = t.command_lines(b, "SELECT INBOX")
    t.check(number(lines, "RECENT") == 0, "a second SELECT finds nothing recent: %r" % lines)
    lines = t.command_lines(c, "EXAMINE INBOX")
    t.check(number(lines, "RECENT") == 0, "EXAMINE finds nothing recent: %r" % lines)
    t.check(status_recent(c) == 0, "STATUS RECENT after the claim is 0")

    # New mail: A looks first and gets it; B sees it arrive, not recent.
    deliver("recent-1")
    lines = t.command_lines(a, "NOOP")
    t.check(number(lines, "EXISTS") == exists + 1, "A sees the new message: %r" % lines)
    t.check(number(lines, "RECENT") == exists + 1, "A: one more recent message: %r" % lines)
    lines = t.command_lines(b, "NOOP")
    t.check(number(lines, "EXISTS") == exists + 1, "B sees the new message: %r" % lines)
    t.check(number(lines, "RECENT") == 0, "B: the new message is not recent to it: %r" % lines)
    new_uid = search(a, "ALL")[-1]
    lines = t.command_lines(a, "UID FETCH %d (FLAGS)" % new_uid)
    t.check(any("\\Recent" in l for l in lines if " FETCH " in l), "A's FLAGS show \\Recent: %r" % lines)
    lines = t.command_lines(b, "UID FETCH %d (FLAGS)" % new_uid)
    t.check(not any("\\Recent" in l for l in lines), "B's FLAGS do not: %r" % lines)
    t.check(new_uid in search(a, "RECENT"), "SEARCH RECENT in A finds it")
    t.check(new_uid in search(a, "NEW"), "SEARCH NEW in A finds it (recent and unseen)")
    t.check(new_uid not in search(a, "OLD"), "SEARCH OLD in A does not")
    t.check(search(b, "RECENT") == [], "SEARCH RECENT in B finds nothing")
    t.check(new_uid in search(b, "OLD"), "SEARCH OLD in B finds it")
    t.command_lines(a, "UID STORE %d +FLAGS (\\Seen)" % new_uid)
    t.check(new_uid not in search(a, "NEW"), "once seen, it is no longer NEW")
    t.check(new_uid in search(a, "RECENT"), "but still RECENT")

    # Mail nobody has looked at: STATUS and EXAMINE report it without claiming it.
    for imap in (a, b):
        t.command_lines(imap, "CLOSE")
    deliver("recent-2")
    t.check(status_recent(c, exists + 2) == 1, "STATUS RECENT counts the unclaimed message")
    lines = t.command_lines(c, "EXAMINE INBOX")
    t.check(number(lines, "RECENT") == 1, "EXAMINE reports it: %r" % lines)
    t.check(status_recent(c) == 1, "and leaves it unclaimed")
    lines = t.command_lines(b, "SELECT INBOX")
    t.check(number(lines, "RECENT") == 1, "the next read-write SELECT claims it: %r" % lines)
    lines = t.command_lines(a, "SELECT INBOX")
    t.check(number(lines, "RECENT") == 0, "and no other session gets it: %r" % lines)
    t.check(status_recent(c) == 0, "STATUS RECENT is 0 again")
    for imap in (a, b, c):
        imap.logout()
    t.finish()


main()
