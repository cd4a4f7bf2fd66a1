"""Every write command of issue 5 with imaplib against alice@, checked in IMAP and through
Graph's own API on the emulator: CREATE, APPEND (flags, date, draft, TRYCREATE), PERMANENTFLAGS,
STORE (FLAGS, +FLAGS, -FLAGS, .SILENT, keywords, \\Answered, $Forwarded, \\Draft kept by the gateway),
FETCH BODY[] setting \\Seen, COPY with COPYUID, MOVE with COPYUID and EXPUNGE, EXPUNGE and
UID EXPUNGE of exactly the \\Deleted messages, CLOSE expunging silently, EXAMINE refusing
writes, RENAME keeping UIDVALIDITY, SUBSCRIBE/UNSUBSCRIBE/LSUB, DELETE with its rules.
"""

import re
import time

import gwtest
from gwtest import check, finish, log

STAMP = str(int(time.time() * 1000))
TOP = "WriteTest" + STAMP
graph = gwtest.Graph(gwtest.ALICE)
ext = "$expand=singleValueExtendedProperties($filter=id%20eq%20'Integer%200x1081')"


def text_of(data):
    return b" ".join(d if isinstance(d, bytes) else b"" for d in data or []).decode("utf-8", "replace")


def tagged(imap, *args):
    """A command's tagged (status, text), whatever imaplib does with it."""
    try:
        typ, data = imap._simple_command(*args)
    except imaplib_error as err:
        return ("NO", str(err))
    return (typ, text_of(data))


imaplib_error = __import__("imaplib").IMAP4.error


def message(n, subject):
    return (
        "From: Sender %d <s%d@example.net>\r\nTo: alice@contoso.example\r\nSubject: %s\r\n"
        "Date: Mon, 02 Mar 2026 08:0%d:00 +0000\r\nMessage-ID: <%s-%d@example.net>\r\n"
        "In-Reply-To: <parent-%d@example.net>\r\n\r\nBody %d\r\n" % (n, n, subject, n, STAMP, n, n, n)
    ).encode()


def folder_id(path):
    for folder in graph.folders():
        if folder["imap"] == path:
            return folder["id"]
    return None


def graph_messages(path):
    fid = folder_id(path)
    if fid is None:
        return []
    return graph.get_all(
        "/mailFolders/%s/messages?$select=id,subject,isRead,isDraft,flag,categories,internetMessageId&%s&$top=100"
        % (fid, ext)
    )


def by_subject(path, subject):
    for m in graph_messages(path):
        if m.get("subject") == subject:
            return m
    return None


def verb(m):
    for p in m.get("singleValueExtendedProperties", []):
        if p["id"].lower() == "integer 0x1081":
            return p["value"]
    return None


imap = gwtest.connect()
gwtest.login(imap, gwtest.name(gwtest.ALICE))
typ, caps = imap.capability()
caps = text_of(caps)
check("UIDPLUS" in caps and "MOVE" in caps, "CAPABILITY has UIDPLUS and MOVE: %s" % caps)

# CREATE (with a missing parent), and its refusals.
check(imap.create(TOP + "/Sub")[0] == "OK", "CREATE %s/Sub creates the parent too" % TOP)
typ, data = imap.list('""', TOP + "*")
listed = text_of(data)
check(TOP + '"' in listed or TOP + " " in listed or ('"%s"' % TOP) in listed, "LIST shows %s: %s" % (TOP, listed))
check(TOP + "/Sub" in listed, "LIST shows %s/Sub: %s" % (TOP, listed))
typ, text = tagged(imap, "CREATE", TOP)
check(typ == "NO" and "ALREADYEXISTS" in text, "CREATE of an existing folder: %s %s" % (typ, text))
typ, text = tagged(imap, "CREATE", "INBOX")
check(typ == "NO", "CREATE INBOX refused: %s %s" % (typ, text))

# APPEND: missing folder, flags and date, a draft.
typ, data = imap.append("NoSuchFolder" + STAMP, "", None, message(9, "nowhere"))
check(typ == "NO" and "TRYCREATE" in text_of(data), "APPEND to a missing folder: %s %s" % (typ, data))
uids = []
for n, flags in [(1, "(\\Seen)"), (2, "($Label1 \\Flagged)"), (3, None)]:
    typ, data = imap.append(TOP, flags, '"02-Mar-2026 08:0%d:30 +0000"' % n, message(n, "flow %d %s" % (n, STAMP)))
    match = re.search(r"APPENDUID (\d+) (\d+)", text_of(data))
    check(typ == "OK" and match, "APPEND %d: %s %s" % (n, typ, data))
    if match:
        validity = match.group(1)
        uids.append(int(match.group(2)))
check(uids == sorted(uids) and len(set(uids)) == 3, "APPENDUIDs ascend: %s" % uids)
typ, data = imap.append(TOP, "(\\Draft)", None, message(4, "draft %s" % STAMP))
check(typ == "OK" and "APPENDUID" in text_of(data), "APPEND of a draft: %s %s" % (typ, data))
m1 = by_subject(TOP, "flow 1 %s" % STAMP)
m2 = by_subject(TOP, "flow 2 %s" % STAMP)
d4 = by_subject(TOP, "draft %s" % STAMP)
check(m1 and m1["isRead"] is True and m1["isDraft"] is False, "Graph: message 1 read, not a draft: %s" % m1)
check(m2 and m2["isRead"] is False and m2["flag"]["flagStatus"] == "flagged", "Graph: message 2 unread, flagged: %s" % m2)
check(m2 and not m2.get("categories"), "Graph: $Label1 is IMAP's own keyword, no category: %s" % m2)
check(d4 and d4["isDraft"] is True, "Graph: the \\Draft APPEND is a draft: %s" % d4)
if m1:
    raw = graph.get("/messages/%s/$value" % m1["id"])
    check(b"In-Reply-To: <parent-1@example.net>" in raw, "In-Reply-To survives the APPEND")

# SELECT: PERMANENTFLAGS and the messages.
typ, data = imap.select(TOP)
check(typ == "OK" and int(data[0]) == 4, "SELECT %s: %s" % (TOP, data))
permanent = text_of(imap.response("PERMANENTFLAGS")[1])
check("\\Deleted" in permanent and "\\Seen" in permanent and "\\*" in permanent, "PERMANENTFLAGS: %s" % permanent)

# STORE in its forms.
typ, data = imap.store("1", "FLAGS", "(\\Flagged Blue)")
check(typ == "OK" and "\\Flagged" in text_of(data) and "Blue" in text_of(data), "STORE 1 FLAGS: %s" % data)
m1 = by_subject(TOP, "flow 1 %s" % STAMP)
check(m1 and m1["isRead"] is False and m1["flag"]["flagStatus"] == "flagged" and m1["categories"] == ["Blue"],
      "Graph after STORE FLAGS: %s" % m1)
typ, data = imap.store("2", "+FLAGS.SILENT", "(\\Answered)")
check(typ == "OK" and not any(data or []), "STORE .SILENT sends no FETCH: %s" % data)
m2 = by_subject(TOP, "flow 2 %s" % STAMP)
check(m2 and verb(m2) == "102", "Graph: \\Answered is PR_LAST_VERB_EXECUTED 102: %s" % m2)
imap.store("2", "-FLAGS", "(\\Answered)")
typ, data = imap.store("2", "+FLAGS", "($Forwarded)")
check(typ == "OK" and "$Forwarded" in text_of(data), "STORE +FLAGS $Forwarded: %s" % data)
m2 = by_subject(TOP, "flow 2 %s" % STAMP)
check(m2 and verb(m2) == "104", "Graph: $Forwarded is 104: %s" % m2)
typ, data = imap.store("4", "-FLAGS", "(\\Draft)")
check(typ == "OK" and "\\Draft" not in text_of(data), "STORE -FLAGS \\Draft: %s %s" % (typ, data))
d4 = by_subject(TOP, "draft %s" % STAMP)
check(d4 and d4["isDraft"] is True, "Graph: isDraft stays as created: %s" % d4)
typ, data = imap.fetch("3", "(BODY[])")
meta = data[0][0] if data and isinstance(data[0], tuple) else b""
check(typ == "OK" and b"\\Seen" in text_of(data).encode() + meta, "FETCH BODY[] reports \\Seen: %r" % (data[:1],))
m3 = by_subject(TOP, "flow 3 %s" % STAMP)
check(m3 and m3["isRead"] is True, "Graph: FETCH BODY[] set isRead: %s" % m3)

# COPY with COPYUID, MOVE with COPYUID and EXPUNGE.
typ, data = imap.uid("FETCH", "1:*", "(UID)")
all_uids = [int(u) for u in re.findall(rb"UID (\d+)", b" ".join(d if isinstance(d, bytes) else d[0] for d in data))]
typ, text = tagged(imap, "UID", "COPY", "%d:%d" % (all_uids[0], all_uids[1]), TOP + "/Sub")
check(typ == "OK" and "COPYUID" in text, "UID COPY answers COPYUID: %s %s" % (typ, text))
check(len(graph_messages(TOP + "/Sub")) == 2, "Graph: two copies in %s/Sub" % TOP)
check(len(graph_messages(TOP)) == 4, "Graph: the originals stay")
typ, text = tagged(imap, "MOVE", "3", TOP + "/Sub")
expunged = imap.response("EXPUNGE")[1]
copyuid = text_of(imap.response("COPYUID")[1])
check(typ == "OK", "MOVE 3: %s %s" % (typ, text))
check(expunged and expunged[0] == b"3", "MOVE sends EXPUNGE 3: %s" % expunged)
check(copyuid != "", "MOVE sends COPYUID in an untagged OK: %r" % copyuid)
check(len(graph_messages(TOP)) == 3 and len(graph_messages(TOP + "/Sub")) == 3, "Graph: moved")
typ, text = tagged(imap, "COPY", "1", "NoSuchFolder" + STAMP)
check(typ == "NO" and "TRYCREATE" in text, "COPY to a missing folder: %s %s" % (typ, text))

# EXPUNGE and UID EXPUNGE remove exactly the \Deleted messages.
imap.store("1", "+FLAGS.SILENT", "(\\Deleted)")
typ, text = tagged(imap, "UID", "EXPUNGE", str(all_uids[1]))
check(typ == "OK" and not imap.response("EXPUNGE")[1][0], "UID EXPUNGE of an unmarked UID removes nothing")
typ, data = imap.expunge()
check(typ == "OK" and data == [b"1"], "EXPUNGE removes message 1 only: %s" % (data,))
check(len(graph_messages(TOP)) == 2, "Graph: one message fewer")
imap.store("1", "+FLAGS.SILENT", "(\\Deleted)")
check(imap.close()[0] == "OK", "CLOSE")
check(len(graph_messages(TOP)) == 1, "Graph: CLOSE expunged the \\Deleted message")

# EXAMINE refuses writes.
imap.select(TOP, readonly=True)
typ, text = tagged(imap, "STORE", "1", "+FLAGS", "(\\Seen)")
check(typ == "NO", "STORE after EXAMINE refused: %s %s" % (typ, text))
check(text_of(imap.response("PERMANENTFLAGS")[1]) in ("()", ""), "EXAMINE: no PERMANENTFLAGS")
imap.close()

# RENAME keeps UIDVALIDITY; to another parent as well.
typ, data = imap.status(TOP + "/Sub", "(UIDVALIDITY MESSAGES)")
before = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1) if typ == "OK" else None
typ, text = tagged(imap, "RENAME", TOP + "/Sub", TOP + "/Renamed")
check(typ == "OK", "RENAME within the parent: %s %s" % (typ, text))
typ, data = imap.status(TOP + "/Renamed", "(UIDVALIDITY MESSAGES)")
after = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1) if typ == "OK" else None
check(before and before == after, "UIDVALIDITY kept across RENAME: %s %s" % (before, after))
typ, text = tagged(imap, "RENAME", TOP + "/Renamed", TOP + "Moved/Deeper")
check(typ == "OK", "RENAME to another parent: %s %s" % (typ, text))
typ, data = imap.status(TOP + "Moved/Deeper", "(UIDVALIDITY MESSAGES)")
moved_validity = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1) if typ == "OK" else None
check(
    before and before == moved_validity,
    "UIDVALIDITY kept across RENAME to another parent: %s %s" % (before, moved_validity),
)

# Subscriptions.
imap.unsubscribe("Archive")
imap.subscribe("Nowhere" + STAMP)
typ, data = imap.lsub('""', "*")
lsub = text_of(data)
check('"Archive"' not in lsub and " Archive" not in lsub, "LSUB leaves out an UNSUBSCRIBEd folder: %s" % lsub)
check("Nowhere" + STAMP in lsub and "\\Noselect" in lsub, "LSUB shows a subscribed name without folder")
check("INBOX" in lsub, "LSUB still shows INBOX")
imap.subscribe("Archive")
check("Archive" in text_of(imap.lsub('""', "Archive")[1]), "SUBSCRIBE brings Archive back")

# DELETE and its rules.
typ, text = tagged(imap, "DELETE", "INBOX")
check(typ == "NO", "DELETE INBOX refused: %s %s" % (typ, text))
parent, child = TOP + "Moved", TOP + "Moved/Deeper"
typ, text = tagged(imap, "DELETE", parent)
check(typ == "NO" and "INUSE" in text, "DELETE of a folder with subfolders refused: %s %s" % (typ, text))
check(tagged(imap, "DELETE", child)[0] == "OK", "DELETE the subfolder")
check(tagged(imap, "DELETE", parent)[0] == "OK", "then its parent")
# TOP, which RENAME left without its subfolder, goes too.
other = TOP
check(tagged(imap, "DELETE", other)[0] == "OK", "DELETE %s" % other)
typ, data = imap.list('""', TOP + "*")
check(not any(data or []), "LIST shows nothing left: %s" % data)

# RENAME INBOX moves its messages into a new folder; INBOX stays, empty (RFC 3501 6.3.5).
typ, data = imap.status("INBOX", "(MESSAGES)")
inbox_count = int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
typ, text = tagged(imap, "RENAME", "INBOX", '"Old Inbox %s"' % STAMP)
check(typ == "OK", "RENAME INBOX: %s %s" % (typ, text))
typ, data = imap.status("INBOX", "(MESSAGES)")
check(b"MESSAGES 0" in data[0], "INBOX is empty after RENAME: %s" % data)
typ, data = imap.status('"Old Inbox %s"' % STAMP, "(MESSAGES)")
check(typ == "OK" and b"MESSAGES %d" % inbox_count in data[0],
      "the new folder holds INBOX's %d messages: %s" % (inbox_count, data))
check(len(graph_messages("Old Inbox " + STAMP)) == inbox_count, "Graph agrees")

imap.logout()
finish()
