"""Flags Graph cannot hold, kept by the gateway, and Outlook categories as keywords (issue 10,
items 4 and 5). Every STORE here is one Dovecot accepts, and answers OK:

- \\Draft set on a message that is not a draft in Graph, and cleared on one that is (isDraft is
  fixed at creation: Graph keeps its value, IMAP shows the gateway's);
- \\Answered and $Forwarded together (Graph's PR_LAST_VERB_EXECUTED gets the one set last);
- keywords that are no category: IMAP's own ($MDNSent) and one that spells no category (&41);
- a category set in Outlook whose name is no atom ("Red category") shows as Red&20category, and
  STORE -FLAGS of that keyword removes the category in Graph; +FLAGS Blue&20sky adds "Blue sky";
- two sessions changing different flags of one message keep each other's changes.

usage: held_flags.py set           makes the folder HeldFlags-test and checks all of the above,
                                   with a second session on the same instance
       held_flags.py check [PORT]  checks that a session (on PORT, another instance, if given)
                                   sees the same flags, e.g. after a restart
"""

import re
import sys
import urllib.parse

import gwtest as t

FOLDER = "HeldFlags-test"

# What FETCH FLAGS shows of each message at the end of `set`, in order.
EXPECTED = [
    {"\\Answered", "$Forwarded", "\\Draft", "$MDNSent", "&41", "Work"},
    {"\\Answered", "$Forwarded", "Blue&20sky"},
    {"\\Answered", "$hello", "$world", "Green"},
]


def message(n):
    return (
        "From: Held <held@example.net>\r\nTo: alice@contoso.example\r\n"
        "Subject: held flags %d\r\nMessage-ID: <held-%d@example.net>\r\n\r\nbody %d\r\n" % (n, n, n)
    ).encode()


def ok(lines, what):
    tagged = lines[-1].split(" ", 2)
    t.check(len(tagged) > 1 and tagged[1] == "OK", "%s: %r" % (what, lines))
    return lines


def fetched_flags(lines):
    """{sequence number: set of flags} from the FETCH responses among `lines`."""
    found = {}
    for line in lines:
        match = re.match(r"\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", line)
        if match:
            # \Recent is the session's, not the message's.
            found[int(match.group(1))] = set(match.group(2).split()) - {"\\Recent"}
    return found


def flags_now(imap):
    return fetched_flags(t.command_lines(imap, "FETCH 1:* (FLAGS)"))


def graph_messages(graph):
    folder = next(f for f in graph.folders() if f["imap"] == FOLDER)
    url = (
        "/mailFolders/%s/messages?$select=id,subject,isDraft,categories&$top=100"
        "&$expand=singleValueExtendedProperties($filter=id%%20eq%%20'Integer%%200x1081')"
        % urllib.parse.quote(folder["id"], safe="")
    )
    by_subject = {}
    for m in graph.get_all(url):
        verb = next((p["value"] for p in m.get("singleValueExtendedProperties", [])), None)
        m["verb"] = verb
        by_subject[m["subject"]] = m
    return by_subject.get("held flags 1"), by_subject.get("held flags 2")


def set_flags():
    graph = t.Graph(t.ALICE)
    a = t.connect()
    t.login(a, t.name(t.ALICE))
    typ, data = a.create(FOLDER)
    t.check(typ == "OK", "CREATE %s: %s %s" % (FOLDER, typ, data))
    typ, data = a.append(FOLDER, None, None, message(1))
    t.check(typ == "OK", "APPEND 1: %s %s" % (typ, data))
    typ, data = a.append(FOLDER, "(\\Draft)", None, message(2))
    t.check(typ == "OK", "APPEND 2 as a draft: %s %s" % (typ, data))
    typ, data = a.append(FOLDER, "(\\Seen)", None, message(3))
    t.check(typ == "OK", "APPEND 3: %s %s" % (typ, data))
    lines = ok(t.command_lines(a, "SELECT " + FOLDER), "SELECT")
    permanent = next((l for l in lines if "[PERMANENTFLAGS (" in l), "")
    t.check("\\Draft" in permanent, "PERMANENTFLAGS names \\Draft: %r" % permanent)

    # \Draft on a message that is not a draft in Graph, and off one that is.
    lines = ok(t.command_lines(a, "STORE 1 +FLAGS (\\Draft)"), "STORE 1 +FLAGS \\Draft")
    t.check("\\Draft" in fetched_flags(lines).get(1, set()), "FETCH after +\\Draft: %r" % lines)
    lines = ok(t.command_lines(a, "STORE 2 -FLAGS (\\Draft)"), "STORE 2 -FLAGS \\Draft")
    t.check("\\Draft" not in fetched_flags(lines).get(2, {"\\Draft"}), "FETCH after -\\Draft: %r" % lines)
    search = ok(t.command_lines(a, "SEARCH DRAFT"), "SEARCH DRAFT")
    t.check("* SEARCH 1" in search, "SEARCH DRAFT finds the override: %r" % search)
    search = ok(t.command_lines(a, "SEARCH UNDRAFT"), "SEARCH UNDRAFT")
    t.check("* SEARCH 2 3" in search, "SEARCH UNDRAFT: %r" % search)
    m1, m2 = graph_messages(graph)
    t.check(m1 and m1["isDraft"] is False and m2 and m2["isDraft"] is True,
            "Graph's isDraft is as created: %s %s" % (m1, m2))
    # Set and cleared again: back to Graph's own value, and nothing held.
    ok(t.command_lines(a, "STORE 2 +FLAGS.SILENT (\\Draft)"), "STORE 2 +FLAGS \\Draft")
    t.check("\\Draft" in flags_now(a).get(2, set()), "\\Draft back on the draft")
    ok(t.command_lines(a, "STORE 2 -FLAGS.SILENT (\\Draft)"), "STORE 2 -FLAGS \\Draft again")

    # \Answered and $Forwarded together: one at a time, and both at once.
    ok(t.command_lines(a, "STORE 1 +FLAGS (\\Answered)"), "STORE 1 +\\Answered")
    lines = ok(t.command_lines(a, "STORE 1 +FLAGS ($Forwarded)"), "STORE 1 +$Forwarded")
    t.check({"\\Answered", "$Forwarded"} <= fetched_flags(lines).get(1, set()), "both shown: %r" % lines)
    lines = ok(t.command_lines(a, "STORE 2 +FLAGS (\\Answered $Forwarded)"), "STORE 2 +both")
    t.check({"\\Answered", "$Forwarded"} <= fetched_flags(lines).get(2, set()), "both shown: %r" % lines)
    m1, m2 = graph_messages(graph)
    t.check(m1 and m1["verb"] == "104", "Graph's verb is the one set last ($Forwarded): %s" % m1)
    t.check(m2 and m2["verb"] == "102", "Graph's verb is \\Answered when both come at once: %s" % m2)

    # Keywords that are no category, and one that is.
    lines = ok(t.command_lines(a, "STORE 1 +FLAGS ($MDNSent &41 Work)"), "STORE 1 +keywords")
    t.check({"$MDNSent", "&41", "Work"} <= fetched_flags(lines).get(1, set()), "keywords shown: %r" % lines)
    m1, _ = graph_messages(graph)
    t.check(m1 and m1["categories"] == ["Work"], "only Work is a category in Graph: %s" % m1)
    search = ok(t.command_lines(a, "SEARCH KEYWORD $mdnsent"), "SEARCH KEYWORD")
    t.check("* SEARCH 1" in search, "SEARCH KEYWORD $MDNSent: %r" % search)

    # A category set in Outlook whose name is no atom.
    status, body = graph.request(
        "PATCH", "/messages/%s" % urllib.parse.quote(m2["id"], safe=""), {"categories": ["Red category"]}
    )
    t.check(status == 200, "PATCH categories through Graph: %s %s" % (status, body[:200]))
    lines = ok(t.command_lines(a, "NOOP"), "NOOP after Outlook's category")
    t.check(
        any(l.startswith("* FLAGS (") and "Red&20category" in l for l in lines)
        and "Red&20category" in fetched_flags(lines).get(2, set()),
        "Outlook's 'Red category' shows as Red&20category: %r" % lines,
    )
    search = ok(t.command_lines(a, "SEARCH KEYWORD red&20CATEGORY"), "SEARCH KEYWORD of a category")
    t.check("* SEARCH 2" in search, "SEARCH KEYWORD red&20CATEGORY: %r" % search)
    lines = ok(t.command_lines(a, "STORE 2 -FLAGS (Red&20category)"), "STORE 2 -FLAGS Red&20category")
    _, m2 = graph_messages(graph)
    t.check(m2 and m2["categories"] == [], "the category is gone from Graph: %s" % m2)
    ok(t.command_lines(a, "STORE 2 +FLAGS (Blue&20sky)"), "STORE 2 +FLAGS Blue&20sky")
    _, m2 = graph_messages(graph)
    t.check(m2 and m2["categories"] == ["Blue sky"], "Blue&20sky is the category 'Blue sky': %s" % m2)

    # Two sessions do not undo each other's changes: B, which has not heard of A's, changes
    # other flags of the same message.
    b = t.connect()
    t.login(b, t.name(t.ALICE))
    ok(t.command_lines(b, "SELECT " + FOLDER), "B: SELECT")
    ok(t.command_lines(a, "STORE 3 +FLAGS.SILENT (\\Answered $hello Green)"), "A: STORE 3")
    ok(t.command_lines(b, "STORE 3 +FLAGS.SILENT ($world)"), "B: STORE 3 +$world")
    ok(t.command_lines(b, "STORE 3 -FLAGS.SILENT (\\Seen)"), "B: STORE 3 -\\Seen")
    ok(t.command_lines(a, "NOOP"), "A: NOOP")
    for who, imap in (("A", a), ("B", b)):
        shown = flags_now(imap)
        t.check(shown == dict(enumerate(EXPECTED, 1)), "%s's flags: %r" % (who, shown))
    b.logout()
    a.logout()
    check_flags(None)


def check_flags(port):
    """A new session (on `port` if given) shows the flags `set` left."""
    if port:
        t.PORT = port
    b = t.connect()
    t.login(b, t.name(t.ALICE))
    lines = ok(t.command_lines(b, "EXAMINE " + FOLDER), "EXAMINE")
    flag_list = next((l for l in lines if l.startswith("* FLAGS (")), "")
    for keyword in ("$MDNSent", "&41", "Work", "Blue&20sky", "$hello", "$world", "Green"):
        t.check(keyword in flag_list.split("(", 1)[1].rstrip(")").split(), "FLAGS names %s: %r" % (keyword, flag_list))
    shown = flags_now(b)
    t.check(shown == dict(enumerate(EXPECTED, 1)), "another session's flags (port %s): %r" % (port, shown))
    b.logout()


def main():
    phase = sys.argv[1]
    if phase == "set":
        set_flags()
    else:
        check_flags(int(sys.argv[2]) if len(sys.argv) > 2 else None)
    t.finish()


main()
