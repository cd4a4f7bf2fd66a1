"""Keywords as RFC 3501 7.1 and 7.2.6 want them: FLAGS and PERMANENTFLAGS at SELECT name every
keyword used in the folder, and before the first response that shows a keyword new to the
folder a session gets an untagged FLAGS (and PERMANENTFLAGS) naming it: after its own STORE,
after another session's STORE (NOOP), and after a category set in Outlook (Graph's API).
"""

import urllib.parse

import gwtest as t


def flag_list(line):
    """The names inside `* FLAGS (...)` or `[PERMANENTFLAGS (...)]`."""
    inner = line.split("(", 1)[1].split(")", 1)[0]
    return [name.lower() for name in inner.split()]


def announced_before_fetch(lines, keyword, who):
    """The FLAGS and PERMANENTFLAGS naming `keyword` come before any FETCH showing it."""
    keyword = keyword.lower()
    flags_at = next(
        (i for i, l in enumerate(lines) if l.startswith("* FLAGS (") and keyword in flag_list(l)),
        None,
    )
    permanent_at = next(
        (i for i, l in enumerate(lines) if "[PERMANENTFLAGS (" in l and keyword in flag_list(l.split("[PERMANENTFLAGS", 1)[1])),
        None,
    )
    fetch_at = next(
        (i for i, l in enumerate(lines) if " FETCH (" in l and keyword in l.lower()), None
    )
    t.check(fetch_at is not None, "%s: a FETCH shows %s: %r" % (who, keyword, lines))
    t.check(
        flags_at is not None and fetch_at is not None and flags_at < fetch_at,
        "%s: FLAGS names %s before the FETCH that shows it: %r" % (who, keyword, lines),
    )
    t.check(
        permanent_at is not None and fetch_at is not None and permanent_at < fetch_at,
        "%s: PERMANENTFLAGS names %s before the FETCH: %r" % (who, keyword, lines),
    )


def main():
    a = t.connect()
    t.login(a, t.name(t.ALICE))
    b = t.connect()
    t.login(b, t.name(t.ALICE))
    for imap in (a, b):
        lines = t.command_lines(imap, "SELECT INBOX")
        t.check(lines[-1].split(" ", 1)[1].startswith("OK"), "SELECT: %r" % lines[-1])

    # A's own STORE of a keyword new to the folder.
    lines = t.command_lines(a, "STORE 1 +FLAGS ($KwFromA)")
    announced_before_fetch(lines, "$KwFromA", "A's STORE")
    # B learns of it on NOOP.
    lines = t.command_lines(b, "NOOP")
    announced_before_fetch(lines, "$KwFromA", "B's NOOP after A's STORE")
    # Known keywords are not named again.
    lines = t.command_lines(a, "STORE 2 +FLAGS ($KwFromA)")
    t.check(not any(l.startswith("* FLAGS") for l in lines), "no FLAGS for a known keyword: %r" % lines)

    # A category set in Outlook (through Graph's API) on the first message.
    graph = t.Graph(t.ALICE)
    inbox = graph.well_known("inbox")
    first = graph.get_all(
        "/mailFolders/%s/messages?$select=id,categories,receivedDateTime&$orderby=receivedDateTime&$top=1000"
        % urllib.parse.quote(inbox, safe="")
    )
    t.check(first, "INBOX has messages")
    fetched = t.command_lines(a, "UID FETCH 1:* (UID)")
    status, body = graph.request(
        "PATCH",
        "/messages/%s" % urllib.parse.quote(first[0]["id"], safe=""),
        {"categories": first[0].get("categories", []) + ["OutlookTag"]},
    )
    t.check(status == 200, "PATCH categories through Graph: %s %s" % (status, body[:200]))
    lines = t.command_lines(b, "NOOP")
    announced_before_fetch(lines, "OutlookTag", "B's NOOP after Outlook's category")

    # A new session's SELECT names every keyword in use.
    c = t.connect()
    t.login(c, t.name(t.ALICE))
    lines = t.command_lines(c, "EXAMINE INBOX")
    flags = next((flag_list(l) for l in lines if l.startswith("* FLAGS (")), [])
    for keyword in ("$kwfroma", "outlooktag"):
        t.check(keyword in flags, "SELECT's FLAGS names %s: %r" % (keyword, lines))
    for imap in (a, b, c):
        imap.logout()
    t.finish()


main()
