"""Hostile APPENDs and mailbox names (issue 12, points 4 and 5), driven with imaplib over TLS.

Every APPEND ends either in OK with APPENDUID, after which FETCH of BODY[], RFC822.SIZE,
ENVELOPE and BODYSTRUCTURE answers OK (RFC822.SIZE the length of BODY[]), or in a tagged
`NO [code] reason` that creates nothing in Graph. Never BAD for a valid APPEND, never a dropped
connection: a NOOP follows every answer, and a second session, idle in INBOX, answers NOOP too.
Messages with NUL bytes go in a literal8 (`~{n}`, RFC 3516), the only literal that may hold NUL;
the same bytes in a plain literal are a syntax error (BAD), and the connection stays open.

Mailbox names: `CREATE "&AAA"` is BAD, and a folder answers to its canonical modified UTF-7
spelling only.
"""

import base64
import re

import gwtest
from gwtest import check, finish, log

graph = gwtest.Graph(gwtest.ALICE)
INBOX_ID = graph.well_known("inbox")


def graph_count():
    return len(graph.get_all("/mailFolders/%s/messages?$select=id&$top=1000" % INBOX_ID))


imap = gwtest.connect()
gwtest.login(imap, gwtest.name(gwtest.ALICE))
imap.select("INBOX")
other = gwtest.connect()
gwtest.login(other, gwtest.name(gwtest.ALICE))
other.select("INBOX")


def still_open(what):
    """A NOOP on both sessions after each answer."""
    for who, session in (("this session", imap), ("the other session", other)):
        try:
            typ, data = session.noop()
        except Exception as err:  # noqa: BLE001 - any failure is the finding
            typ, data = "ERROR", [str(err).encode()]
        check(typ == "OK", "%s: NOOP on %s after it: %s %s" % (what, who, typ, data))


def text_of(data):
    return b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")


def append_imaplib(message, flags=None):
    """APPEND with imaplib's own command (a synchronising literal); (status, text)."""
    try:
        typ, data = imap.append("INBOX", flags, None, message)
    except imap.abort as err:
        return "ABORT", str(err)
    except imap.error as err:
        return ("BAD" if "BAD" in str(err) else "ERROR"), str(err)
    return typ, text_of(data)


def append_literal8(message, flags=None):
    """APPEND with a literal8 (`~{n}`, RFC 3516), which imaplib does not send; (status, text)."""
    tag = imap._new_tag()
    head = tag + b" APPEND INBOX "
    if flags:
        head += b"(" + flags.encode() + b") "
    try:
        imap.send(head + b"~{%d}\r\n" % len(message))
        line = imap._get_line()
        if not line.startswith(b"+"):
            return status_of(tag, line)
        imap.send(message + b"\r\n")
        while True:
            line = imap._get_line()
            if line.startswith(tag + b" "):
                return status_of(tag, line)
    except imap.abort as err:
        return "ABORT", str(err)
    finally:
        imap.tagged_commands.pop(tag, None)


def status_of(tag, line):
    rest = line[len(tag) + 1 :].decode("utf-8", "replace")
    status, _, text = rest.partition(" ")
    return status, text


def fetch_back(what, uid):
    """FETCH what IMAP serves of an appended message; checks every item answers."""
    typ, data = imap.uid("FETCH", uid, "(RFC822.SIZE BODY.PEEK[] ENVELOPE BODYSTRUCTURE)")
    check(typ == "OK", "%s: UID FETCH %s: %s %s" % (what, uid, typ, data))
    messages = gwtest.parse_fetch(data)
    if not check(len(messages) == 1, "%s: one FETCH response for UID %s: %r" % (what, uid, data)):
        return
    text, literals = messages[0]["text"], messages[0]["literals"]
    size = gwtest.fetch_number(text, b"RFC822.SIZE")
    check(b"ENVELOPE (" in text, "%s: ENVELOPE answered: %r" % (what, text[:300]))
    check(b"BODYSTRUCTURE (" in text, "%s: BODYSTRUCTURE answered: %r" % (what, text[:300]))
    check(len(literals) >= 1, "%s: BODY[] answered: %r" % (what, text[:300]))
    if literals and size is not None:
        check(size == len(literals[0]),
              "%s: RFC822.SIZE %s is the length of BODY[] (%d)" % (what, size, len(literals[0])))
    return literals[0] if literals else b""


def case(what, message, expect, code=None, literal8=False, flags=None, contains=None):
    """One APPEND; `expect` is OK, NO (with `code`) or BAD."""
    before = graph_count()
    send = append_literal8 if literal8 else append_imaplib
    typ, text = send(message, flags)
    log("%s (%d bytes): %s %s" % (what, len(message), typ, text[:300]))
    check(typ == expect, "%s: answered %s %s, expected %s" % (what, typ, text[:300], expect))
    after = graph_count()
    if typ == "OK":
        match = re.search(r"\[APPENDUID (\d+) (\d+)\]", text)
        if check(match, "%s: APPENDUID in %r" % (what, text)):
            body = fetch_back(what, match.group(2))
            if contains is not None and body is not None:
                check(contains in body, "%s: %r in BODY[]: %r" % (what, contains, body[:500]))
        check(after == before + 1, "%s: one message more in Graph (%d -> %d)" % (what, before, after))
    else:
        if code:
            check(text.startswith("[%s] " % code) and len(text) > len(code) + 10,
                  "%s: NO [%s] with a reason, got %r" % (what, code, text[:300]))
        check(after == before, "%s: nothing left in Graph (%d -> %d)" % (what, before, after))
    still_open(what)


# Header names outside printable US-ASCII: not header fields (RFC 5322 2.2).
case("header name of 0xff bytes", b"\xff\xffX-Header: boom\r\nSubject: ff\r\n\r\nbody\r\n", "NO", "PARSE")
case("header name with a euro sign", "X\u20ac-Foo: bar\r\nSubject: euro\r\n\r\nbody\r\n".encode(), "NO", "PARSE")
case("header name with a control character", b"Subject: s\r\nX-C\x01trl: v\r\n\r\nbody\r\n", "NO", "PARSE")
case("header name of 0xff bytes, as a draft", b"\xff\xffX-Header: boom\r\n\r\nbody\r\n", "NO", "PARSE",
     flags="\\Draft")
case("mbox From line first", b"From sender@example.com Tue Mar  3 10:00:00 2026\r\nSubject: s\r\n\r\nb\r\n",
     "NO", "PARSE")

# Header values with any bytes but NUL (a plain literal cannot hold NUL).
case("header values with 8-bit and control bytes",
     b"Subject: caf\xe9 \x01\x02 \xff\xfe ctl\r\nX-Bytes: \x80\x9f\xa0\xff \x1b[0m \x7f\r\nFrom: \"\xe9\x07\" <x@example.com>\r\n"
     b"\r\nbody with \x80\xff bytes\r\n",
     "OK", contains=b"body with")
case("8-bit UTF-8 headers (RFC 6532)",
     "Subject: Gr\u00fc\u00dfe aus K\u00f6ln\r\nFrom: J\u00fcrgen <j@example.com>\r\nX-Ort: K\u00f6ln\r\n\r\nHallo\r\n".encode(),
     "OK", contains=b"Hallo")

# No blank line between header and text.
case("text without any header", b"just some text\r\nand a second line\r\n", "NO", "PARSE")
case("a single line without a colon", b"x" * 5000, "NO", "PARSE")
case("all header, no blank line, no body", b"Subject: header only\r\nX-Note: nothing follows", "OK",
     contains=b"header only")

# NUL bytes: literal8 may carry them; a plain literal may not (RFC 3501 CHAR8).
case("NUL bytes in the body (literal8)", b"Subject: nul body\r\n\r\nab\x00cd\x00\r\nend\r\n", "OK",
     literal8=True, contains=b"end")
case("NUL bytes in header values (literal8)", b"Subject: nul\x00here\r\nX-Nul: a\x00b\r\n\r\nbody\r\n", "OK",
     literal8=True, contains=b"body")
case("NUL bytes in a plain literal", b"Subject: nul\r\n\r\nab\x00cd\r\n", "BAD")

# Sizes and emptiness.
case("a 40 MB single line as the body", b"Subject: one long line\r\n\r\n" + b"a" * (40 * 1024 * 1024), "NO", "TOOBIG")
case("a 5 MB draft", b"Subject: big draft\r\n\r\n" + (b"b" * 998 + b"\r\n") * 5000, "NO", "TOOBIG",
     flags="\\Draft")
case("an empty message", b"", "NO", "CANNOT")
case("a message of only CRLFs", b"\r\n" * 8, "OK")

# Strict mailbox names (RFC 3501 5.1.3).
def command(name, *args):
    try:
        typ, data = imap._simple_command(name, *args)
    except imap.abort as err:
        return "ABORT", str(err)
    except imap.error as err:
        return ("BAD" if "BAD" in str(err) else "ERROR"), str(err)
    return typ, text_of(data)


typ, text = command("CREATE", '"&AAA"')
check(typ == "BAD", "CREATE \"&AAA\": %s %s" % (typ, text))
still_open("CREATE \"&AAA\"")
canonical = gwtest.imap_utf7("\u53f0\u5317")  # Taipei, one run: &U,BTFw-
split = "&%s-&%s-" % tuple(
    base64.b64encode(c.encode("utf-16-be")).decode().rstrip("=").replace("/", ",") for c in "\u53f0\u5317"
)
typ, text = command("CREATE", gwtest.quote(canonical))
check(typ == "OK", "CREATE %s: %s %s" % (canonical, typ, text))
for spelling in [split, canonical.replace(",", "/"), "&U,BTFw"]:
    typ, text = command("SELECT", gwtest.quote(spelling))
    check(typ == "BAD", "SELECT %s (another spelling of %s): %s %s" % (spelling, canonical, typ, text))
    still_open("SELECT " + spelling)
typ, text = command("SELECT", gwtest.quote(canonical))
check(typ == "OK", "SELECT %s: %s %s" % (canonical, typ, text))
names = [entry[2] for entry in gwtest.list_folders(imap)]
check(names.count(canonical) == 1 and split not in names and "&AAA" not in names,
      "LIST shows %s once and no other spelling: %s" % (canonical, names))

imap.logout()
other.logout()
finish()
