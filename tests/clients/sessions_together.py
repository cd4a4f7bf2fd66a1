"""Several sessions on one mailbox of one gateway see each other's changes as untagged responses:
A, B and C select alice's INBOX; C IDLEs. A sets \\Flagged on one message: B learns it on NOOP
(FETCH FLAGS) and C while idling. A APPENDs a message: B and C see EXISTS. A marks the new one
\\Deleted and EXPUNGEs it: B sees \\Deleted and then the EXPUNGE of the same sequence number,
and C sees the EXPUNGE while idling. Sequence numbers agree across the three sessions throughout.
"""

import re
import time

import gwtest as t

def noop_untagged(imap, who):
    imap.untagged_responses.clear()
    typ, _ = imap.noop()
    t.check(typ == "OK", "%s NOOP" % who)
    responses = {k: list(v) for k, v in imap.untagged_responses.items()}
    t.log(who, "NOOP:", responses)
    return responses


def main():
    sessions = {}
    for who in "ABC":
        imap = t.connect()
        t.login(imap, t.name(t.ALICE))
        exists, _ = t.select(imap, "INBOX", readonly=False)
        sessions[who] = (imap, exists)
    a, exists = sessions["A"]
    b, _ = sessions["B"]
    c, _ = sessions["C"]
    t.check(len({e for _, e in sessions.values()}) == 1, "the three sessions see one EXISTS")

    # Pick an unflagged message by sequence number.
    typ, data = a.fetch("1:*", "(UID FLAGS)")
    target = None
    for line in data:
        match = re.match(rb"(\d+) \(UID (\d+) FLAGS \(([^)]*)\)\)", line)
        if match and b"\\Flagged" not in match.group(3):
            target = (int(match.group(1)), int(match.group(2)))
            break
    t.check(target is not None, "an unflagged message in INBOX")
    seq, uid = target

    tag = c._new_tag()
    c.send(tag + b" IDLE\r\n")
    t.check(c.readline().startswith(b"+"), "C's IDLE is accepted")

    typ, _ = a.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")
    t.check(typ == "OK", "A: UID STORE +FLAGS (\\Flagged)")
    t.idle_until(c, lambda l: l.startswith("* %d FETCH" % seq) and "\\Flagged" in l, "C")
    responses = noop_untagged(b, "B")
    t.check(
        any(b"\\Flagged" in r and r.startswith(b"%d " % seq) for r in responses.get("FETCH", [])),
        "B learns of A's \\Flagged on NOOP, at sequence number %d" % seq,
    )

    started = time.time()
    typ, data = a.append(
        "INBOX",
        "",
        None,
        b"From: a@example.net\r\nTo: alice@contoso.example\r\nSubject: from session A\r\n"
        b"Message-ID: <together-%d@example.net>\r\n\r\nhello\r\n" % int(started),
    )
    t.check(typ == "OK", "A: APPEND %r" % data)
    appended_uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    t.idle_until(c, lambda l: l == "* %d EXISTS" % (exists + 1), "C")
    responses = noop_untagged(b, "B")
    t.check(
        responses.get("EXISTS", [b""])[-1] == str(exists + 1).encode(),
        "B sees EXISTS %d after A's APPEND" % (exists + 1),
    )

    typ, _ = a.uid("STORE", str(appended_uid), "+FLAGS", "(\\Deleted)")
    t.check(typ == "OK", "A: STORE \\Deleted on the appended message")
    responses = noop_untagged(b, "B")
    t.check(
        any(b"\\Deleted" in r and r.startswith(b"%d " % (exists + 1)) for r in responses.get("FETCH", [])),
        "B sees A's \\Deleted at sequence number %d" % (exists + 1),
    )
    typ, data = a.expunge()
    t.check(typ == "OK" and data == [str(exists + 1).encode()], "A: EXPUNGE %r" % data)
    t.idle_until(c, lambda l: l == "* %d EXPUNGE" % (exists + 1), "C")
    responses = noop_untagged(b, "B")
    t.check(
        responses.get("EXPUNGE") == [str(exists + 1).encode()],
        "B sees the EXPUNGE of sequence number %d" % (exists + 1),
    )

    c.send(b"DONE\r\n")
    done = c.readline().decode().rstrip()
    t.check(done.startswith(tag.decode() + " OK"), "C: DONE ends IDLE: %r" % done)
    counts = []
    for who in "ABC":
        imap = sessions[who][0]
        typ, data = imap.uid("SEARCH", "ALL")
        counts.append(len(data[0].split()))
        imap.logout()
    t.check(len(set(counts)) == 1 and counts[0] == exists, "all sessions agree at the end: %r" % counts)
    t.finish()


if __name__ == "__main__":
    main()
