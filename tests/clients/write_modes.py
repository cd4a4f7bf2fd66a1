"""Configuration of the write path, run against a gateway started with
IMAP2GRAPH_IMAP_MAX_LITERAL_BYTES=1048576 and IMAP2GRAPH_IMAP_EXPUNGE_MODE=trash:
an APPEND over the size limit is refused (NO [TOOBIG]) before its literal is sent and creates
nothing; EXPUNGE moves the message to Deleted Items instead of deleting it.
"""

import time

import gwtest
from gwtest import check, finish, log

STAMP = str(int(time.time() * 1000))
graph = gwtest.Graph(gwtest.ALICE)


def subjects(folder):
    return [m.get("subject") for m in graph.get_all("/mailFolders/%s/messages?$select=subject&$top=1000" % folder)]


imap = gwtest.connect()
gwtest.login(imap, gwtest.name(gwtest.ALICE))

big = ("Subject: too big %s\r\n\r\n" % STAMP).encode() + b"x" * (2 * 1024 * 1024)
try:
    typ, data = imap.append("INBOX", None, None, big)
except gwtest.imaplib.IMAP4.error as err:
    typ, data = "NO", [str(err).encode()]
log("APPEND of 2 MB:", typ, data)
check(typ == "NO" and b"TOOBIG" in b" ".join(d for d in data if d), "APPEND over the limit: %s %s" % (typ, data))
check("too big %s" % STAMP not in subjects("inbox"), "nothing was created")

small = ("Subject: to trash %s\r\nMessage-ID: <trash-%s@x>\r\n\r\nbye\r\n" % (STAMP, STAMP)).encode()
typ, data = imap.append("INBOX", None, None, small)
check(typ == "OK", "APPEND of a small message after the refused one: %s %s" % (typ, data))
imap.select("INBOX")
typ, data = imap.search(None, "SUBJECT", '"to trash %s"' % STAMP)
numbers = (data[0] or b"").split()
check(len(numbers) == 1, "the message is in INBOX: %s" % data)
if numbers:
    imap.store(numbers[0], "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = imap.expunge()
    check(typ == "OK" and data == [numbers[0]], "EXPUNGE: %s %s" % (typ, data))
check("to trash %s" % STAMP not in subjects("inbox"), "gone from Graph's Inbox")
check("to trash %s" % STAMP in subjects("deleteditems"), "in Deleted Items (expunge_mode = trash)")

# APPEND into the selected folder: the session hears of it (EXISTS) at once.
typ, data = imap.select("INBOX")
exists = int(data[0])
typ, data = imap.append("INBOX", None, None, ("Subject: seen at once %s\r\n\r\nhi\r\n" % STAMP).encode())
check(typ == "OK", "APPEND into the selected INBOX: %s %s" % (typ, data))
check(imap.response("EXISTS")[1][-1] == str(exists + 1).encode(),
      "EXISTS %d follows the APPEND: %s" % (exists + 1, imap.response("EXISTS")))
typ, data = imap.fetch(str(exists + 1), "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
check(typ == "OK" and b"seen at once" in b"".join(d[1] for d in data if isinstance(d, tuple)),
      "the new message can be fetched at once: %s" % data)
imap.logout()
finish()
