"""FETCH of body sections and header items with imaplib, each checked against the slice of the
emulator's MIME ($value) that RFC 3501 defines, computed here:

- BODY.PEEK[HEADER], RFC822.HEADER: the header including the empty line that ends it;
- BODY.PEEK[TEXT], RFC822.TEXT: everything after that empty line;
- BODY.PEEK[HEADER.FIELDS (...)] / HEADER.FIELDS.NOT: the matching (or other) header lines, as
  they are in the message, folding kept, in their order, followed by an empty line;
- BODY.PEEK[]<o.n>: the octets o..o+n of BODY[] (shorter at the end, empty past it);
- BODY.PEEK[1] of a single-part message: the same as TEXT (RFC 3501 6.4.5); BODY.PEEK[n] and
  BODY.PEEK[n.MIME] of each top-level part of a multipart message: its body, its MIME header;
- RFC822: the whole message; RFC822.SIZE: its length;
- ENVELOPE, BODYSTRUCTURE, BODY, FLAGS, INTERNALDATE, UID: present and parseable enough to find.

usage: fetch_sections.py MAILBOX FOLDER [LIMIT]
"""

import email
import re
import sys

import gwtest as t


def split_header(raw):
    index = raw.find(b"\r\n\r\n")
    if index < 0:
        return raw, b""
    return raw[: index + 4], raw[index + 4 :]


def header_fields(raw, names, negate=False):
    header, _ = split_header(raw)
    lines = header[:-2].split(b"\r\n")
    fields = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        elif line:
            fields.append([line])
    wanted = {n.lower() for n in names}
    out = b""
    for field in fields:
        name = field[0].split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        if (name in wanted) != negate:
            out += b"\r\n".join(field) + b"\r\n"
    return out + b"\r\n"


def top_level_parts(raw):
    """The parts of a multipart message (RFC 2046 delimiters; the CRLF before a delimiter
    belongs to it), each as raw bytes: MIME header, empty line, body."""
    header, body = split_header(raw)
    boundary = email.message_from_bytes(header).get_boundary()
    if not boundary:
        return []
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary.encode())
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        line_end = piece.find(b"\r\n")
        parts.append(piece[line_end + 2 :] if line_end >= 0 else b"")
    return parts


def fetch_one(imap, uid, items):
    typ, data = imap.uid("FETCH", str(uid), "(%s)" % items)
    if typ != "OK":
        raise RuntimeError("UID FETCH %s (%s) answered %s %r" % (uid, items, typ, data))
    fetched = [m for m in t.parse_fetch(data) if t.fetch_number(m["text"], b"UID") == uid]
    if len(fetched) != 1:
        raise RuntimeError("UID FETCH %s (%s): %d responses: %r" % (uid, items, len(fetched), data[:3]))
    return fetched[0]


def literal_of(message, item_name):
    """The value of one item whose value may be a literal, a quoted string or NIL."""
    text = message["text"]
    key = re.escape(item_name.encode())
    match = re.search(key + rb" \{\d+\}\{\}", text)
    if match:
        index = text[: match.start()].count(b"{}")
        return message["literals"][index]
    match = re.search(key + rb' "((?:[^"\\]|\\.)*)"', text)
    if match:
        return re.sub(rb"\\(.)", rb"\1", match.group(1))
    if re.search(key + rb" NIL", text):
        return None
    raise RuntimeError("no %s in %r" % (item_name, text[:300]))


def main():
    mailbox, folder = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    graph = t.Graph(mailbox)
    tree = {f["imap"]: f for f in graph.folders()}
    by_mime = {}
    for message in graph.messages(tree[folder]["id"]):
        by_mime[graph.mime(message["id"])] = message

    imap = t.connect()
    t.login(imap, t.name(mailbox))
    exists, _ = t.select(imap, folder)
    typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    bodies = {}
    for item in t.parse_fetch(data):
        bodies[t.fetch_number(item["text"], b"UID")] = item["literals"][0]
    uids = sorted(bodies)[:limit]
    t.log("%s/%s: checking sections of %d of %d messages" % (mailbox, folder, len(uids), exists))
    compared = 0
    part_sections = 0

    for uid in uids:
        raw = bodies[uid]
        if not t.check(raw in by_mime, "UID %d: BODY[] is not a message the emulator holds" % uid):
            continue
        header, text = split_header(raw)
        multipart = re.search(rb"(?im)^content-type:\s*multipart/", header) is not None
        checks = [
            ("BODY.PEEK[HEADER]", "BODY[HEADER]", header),
            ("BODY.PEEK[TEXT]", "BODY[TEXT]", text),
            ("RFC822.HEADER", "RFC822.HEADER", header),
            ("BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]", "BODY[HEADER.FIELDS (SUBJECT FROM)]", header_fields(raw, ["subject", "from"])),
            ("BODY.PEEK[HEADER.FIELDS (MESSAGE-ID X-NOT-THERE)]", "BODY[HEADER.FIELDS (MESSAGE-ID X-NOT-THERE)]", header_fields(raw, ["message-id", "x-not-there"])),
            ("BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)]", "BODY[HEADER.FIELDS.NOT (SUBJECT)]", header_fields(raw, ["subject"], negate=True)),
            ("BODY.PEEK[]<0.100>", "BODY[]<0>", raw[:100]),
            ("BODY.PEEK[]<100.37>", "BODY[]<100>", raw[100:137]),
            ("BODY.PEEK[]<%d.100>" % (len(raw) - 10), "BODY[]<%d>" % (len(raw) - 10), raw[len(raw) - 10 :]),
        ]
        if not multipart:
            checks.append(("BODY.PEEK[1]", "BODY[1]", text))
        else:
            for number, part in enumerate(top_level_parts(raw), start=1):
                part_header, part_body = split_header(part)
                if part.startswith(b"\r\n"):
                    part_header, part_body = b"\r\n", part[2:]
                checks.append(("BODY.PEEK[%d]" % number, "BODY[%d]" % number, part_body))
                checks.append(("BODY.PEEK[%d.MIME]" % number, "BODY[%d.MIME]" % number, part_header))
        part_sections += sum(1 for c in checks if re.match(r"BODY\.PEEK\[\d", c[0]) and multipart)
        for request, answer, want in checks:
            compared += 1
            try:
                message = fetch_one(imap, uid, "UID " + request)
                got = literal_of(message, answer)
            except (RuntimeError, t.imaplib.IMAP4.error) as err:
                t.check(False, "UID %d %s: %s" % (uid, request, err))
                continue
            if got is None:
                got = b""
                t.check(want == b"", "UID %d %s: NIL, expected %d octets" % (uid, request, len(want)))
            t.check(got == want, "UID %d %s: %d octets %r..., expected %d octets %r..." % (uid, request, len(got), got[:80], len(want), want[:80]))

        try:
            message = fetch_one(imap, uid, "UID RFC822 RFC822.SIZE")
            t.check(literal_of(message, "RFC822") == raw, "UID %d: RFC822 differs from BODY[]" % uid)
            t.check(t.fetch_number(message["text"], b"RFC822.SIZE") == len(raw), "UID %d: RFC822.SIZE is not the length of BODY[]" % uid)
            message = fetch_one(imap, uid, "UID FLAGS INTERNALDATE ENVELOPE BODYSTRUCTURE BODY")
            joined = message["text"]
            for item in (b"FLAGS (", b"INTERNALDATE \"", b"ENVELOPE (", b"BODYSTRUCTURE (", b"BODY ("):
                t.check(item in joined, "UID %d: no %s in %r" % (uid, item.decode(), joined[:300]))
            if not multipart:
                t.check(b'BODYSTRUCTURE ("' in joined.upper() or b"BODYSTRUCTURE (\"".lower() in joined, "UID %d: single-part BODYSTRUCTURE %r" % (uid, joined[:200]))
            # The macros (not parenthesised: RFC 3501's grammar allows them only alone).
            typ, data = imap.uid("FETCH", str(uid), "ALL")
            t.check(typ == "OK", "UID %d: FETCH ALL answered %s" % (uid, typ))
            typ, data = imap.uid("FETCH", str(uid), "FAST")
            t.check(typ == "OK", "UID %d: FETCH FAST answered %s" % (uid, typ))
            typ, data = imap.uid("FETCH", str(uid), "FULL")
            t.check(typ == "OK", "UID %d: FETCH FULL answered %s" % (uid, typ))
        except (RuntimeError, t.imaplib.IMAP4.error) as err:
            t.check(False, "UID %d: %s" % (uid, err))

    t.log("compared %d sections (%d of them parts of multipart messages)" % (compared, part_sections))
    t.check(compared > 0, "no section compared")

    # Sequence sets: reversed ranges and `*`.
    typ, data = imap.fetch("3:1", "(UID)")
    t.check(typ == "OK" and len(t.parse_fetch(data)) == min(3, exists), "FETCH 3:1 gave %r" % data)
    typ, data = imap.fetch("*", "(UID)")
    seq = t.parse_fetch(data)
    t.check(typ == "OK" and len(seq) == 1 and seq[0]["text"].startswith(b"%d " % exists), "FETCH * gave %r" % data)
    typ, data = imap.uid("FETCH", "%d:*" % (max(bodies) + 1000), "(UID)")
    got = t.parse_fetch(data)
    t.check(typ == "OK" and len(got) == 1 and t.fetch_number(got[0]["text"], b"UID") == max(bodies),
            "UID FETCH n:* beyond the last UID must return the last message (RFC 3501 6.4.8), gave %r" % data)
    imap.logout()
    t.finish()


if __name__ == "__main__":
    main()
