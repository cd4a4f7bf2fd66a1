"""The demo's read-only application (granted only Mail.Read) with imaplib against alice@: LIST,
STATUS, SEARCH and FETCH work; SELECT is read-only (imaplib itself refuses INBOX as not
writable) with PERMANENTFLAGS (); FETCH BODY[] leaves the message unseen in Graph; STORE,
EXPUNGE, UID EXPUNGE, APPEND, COPY, MOVE, CREATE, DELETE and RENAME answer NO [NOPERM] without
one Graph request (the emulator's request count stays put); SUBSCRIBE stays allowed.

Usage: read_only.py CLIENT_ID SECRET (the read-only application's).
"""

import json
import sys

import gwtest
from gwtest import check, finish, log

CLIENT_ID, SECRET = sys.argv[1], sys.argv[2]
LOGIN = "/".join([gwtest.TENANT, CLIENT_ID, gwtest.ALICE])
# The test's own view of Graph, through the read-write application.
graph = gwtest.Graph(gwtest.ALICE)


def graph_requests():
    status, body = gwtest.http("GET", gwtest.GRAPH + "/_emulator/stats")
    if status != 200:
        raise RuntimeError("GET /_emulator/stats: %s" % status)
    return json.loads(body)["total"]


def text_of(data):
    return b" ".join(d if isinstance(d, bytes) else b"" for d in data or []).decode("utf-8", "replace")


def tagged(imap, *args):
    """A command's tagged (status, text), whatever imaplib does with it."""
    try:
        typ, data = imap._simple_command(*args)
    except imap.error as err:
        return ("BAD", str(err))
    return (typ, text_of(data))


def appended(result):
    typ, data = result
    return (typ, text_of(data))


def refused_without_graph(what, command):
    before = graph_requests()
    typ, text = command()
    cost = graph_requests() - before
    log("%-34s -> %s %s (%d Graph requests)" % (what, typ, text, cost))
    check(typ == "NO" and text.startswith("[NOPERM]"), "%s: %s %s" % (what, typ, text))
    check(cost == 0, "%s cost %d Graph requests" % (what, cost))


imap = gwtest.connect()
gwtest.login(imap, LOGIN, secret=SECRET)

typ, folders = imap.list('""', "*")
check(typ == "OK" and len(folders) > 5, "LIST: %s, %d folders" % (typ, len(folders or [])))
typ, data = imap.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")
check(typ == "OK" and b"MESSAGES" in data[0], "STATUS INBOX: %s %s" % (typ, data))

# SELECT: a read-only answer, which imaplib turns into its own `readonly` error (the folder is
# selected all the same).
read_only = False
try:
    imap.select("INBOX")
except imap.readonly as err:
    read_only = True
    log("SELECT INBOX: imaplib says", err)
check(read_only, "SELECT INBOX was not [READ-ONLY]")
check(imap.state == "SELECTED", "INBOX is not selected: %s" % imap.state)
check(
    gwtest.response_code(imap, "PERMANENTFLAGS") == b"()",
    "PERMANENTFLAGS: %r" % gwtest.response_code(imap, "PERMANENTFLAGS"),
)
check("READ-WRITE" not in imap.untagged_responses, "SELECT said READ-WRITE too")
# imaplib refuses further commands in a folder that turned read-only unless told it knows.
imap.is_readonly = True

typ, data = imap.search(None, "UNSEEN")
unseen = data[0].split() if typ == "OK" else []
check(typ == "OK" and unseen, "SEARCH UNSEEN: %s %s" % (typ, data))
number = unseen[0].decode()
typ, data = imap.fetch(number, "(UID FLAGS)")
check(typ == "OK", "FETCH %s (UID FLAGS): %s %s" % (number, typ, data))
uid = gwtest.fetch_number(data[0], b"UID")
check(uid is not None, "no UID in %r" % data)

# FETCH BODY[] of an unseen message: the body, and no \Seen, here or in Graph.
typ, data = imap.fetch(number, "(BODY[])")
body = data[0][1] if typ == "OK" and data and isinstance(data[0], tuple) else b""
check(len(body) > 0, "FETCH %s BODY[]: %s" % (number, typ))
check("\\Seen" not in text_of([d[0] if isinstance(d, tuple) else d for d in data]),
      "FETCH BODY[] reported \\Seen: %r" % data)
typ, data = imap.fetch(number, "(FLAGS)")
check("\\Seen" not in text_of(data), "FLAGS after FETCH BODY[]: %r" % data)
message_id = gwtest.message_id(body)
in_graph = [
    m for m in graph.get_all("/mailFolders/inbox/messages?$select=isRead,internetMessageId&$top=500")
    if m.get("internetMessageId") == message_id
]
check(len(in_graph) == 1 and in_graph[0]["isRead"] is False,
      "Graph's isRead after FETCH BODY[]: %r" % in_graph)

# Every write: NO [NOPERM], and Graph is not asked.
message = b"From: a@example.net\r\nSubject: not allowed\r\n\r\nbody\r\n"
refused_without_graph("STORE +FLAGS (\\Flagged)", lambda: tagged(imap, "STORE", number, "+FLAGS", "(\\Flagged)"))
refused_without_graph("UID STORE +FLAGS (\\Deleted)",
                      lambda: tagged(imap, "UID", "STORE", str(uid), "+FLAGS", "(\\Deleted)"))
refused_without_graph("EXPUNGE", lambda: tagged(imap, "EXPUNGE"))
refused_without_graph("UID EXPUNGE", lambda: tagged(imap, "UID", "EXPUNGE", str(uid)))
refused_without_graph("COPY", lambda: tagged(imap, "COPY", number, "Archive"))
refused_without_graph("UID MOVE", lambda: tagged(imap, "UID", "MOVE", str(uid), "Archive"))
refused_without_graph("APPEND", lambda: appended(imap.append("INBOX", None, None, message)))
refused_without_graph("CREATE", lambda: tagged(imap, "CREATE", "ReadOnlyTest"))
refused_without_graph("DELETE", lambda: tagged(imap, "DELETE", "Archive"))
refused_without_graph("RENAME", lambda: tagged(imap, "RENAME", "Archive", "Archive2"))

# SUBSCRIBE is the gateway's own (kept in the uid store), not the mailbox's.
typ, text = tagged(imap, "SUBSCRIBE", "Archive")
check(typ == "OK", "SUBSCRIBE: %s %s" % (typ, text))

# Nothing changed: the message is where it was, unflagged and unseen.
in_graph = [
    m for m in graph.get_all("/mailFolders/inbox/messages?$select=isRead,flag,internetMessageId&$top=500")
    if m.get("internetMessageId") == message_id
]
check(len(in_graph) == 1 and in_graph[0]["isRead"] is False
      and in_graph[0]["flag"]["flagStatus"] == "notFlagged",
      "the message in Graph after the refused writes: %r" % in_graph)
typ, text = tagged(imap, "CLOSE")
check(typ == "OK", "CLOSE: %s %s" % (typ, text))
typ, data = imap.select("INBOX", readonly=True)
check(typ == "OK", "EXAMINE INBOX: %s" % typ)
typ, data = imap.uid("SEARCH", None, "UID", str(uid))
check(typ == "OK" and data[0].split() == [str(uid).encode()],
      "UID %s is still in INBOX: %s %s" % (uid, typ, data))
imap.logout()
finish()
