#!/usr/bin/env python3
"""Regenerates dovecot_answers.rs: the expected FETCH answers in the MIME
module's tests, taken from a real Dovecot.

Needs Debian's dovecot-imapd (2.3.19.1 on bookworm), root (to run Dovecot's
imap binary as `nobody` with setpriv) and nothing else: each message goes
into a throwaway Maildir, Dovecot's preauthenticated imap process answers
FETCHes on stdin/stdout, nothing listens on the network.

    python3 src/mime/tests/dovecot_answers.py > src/mime/tests/dovecot_answers.rs
    rustfmt --edition 2021 src/mime/tests/dovecot_answers.rs
"""
import base64
import os
import re
import shutil
import subprocess
import tempfile


def ask(msg_path, items, sessions=1):
    """FETCH `items` (one command each) from Dovecot for the message file."""
    base = tempfile.mkdtemp(prefix="dvt", dir="/tmp")
    os.chmod(base, 0o777)
    md = os.path.join(base, "md")
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, d))
    shutil.copy(msg_path, os.path.join(md, "cur", "1.msg:2,S"))
    conf = os.path.join(base, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""protocols = imap
mail_location = maildir:{md}
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/log
ssl = no
first_valid_uid = 0
first_valid_gid = 0
""")
    subprocess.run(["chown", "-R", "nobody:nogroup", base], check=True)
    cmds = b"s SELECT INBOX\r\n"
    for i, item in enumerate(items):
        cmds += b"t%d FETCH 1 (%s)\r\n" % (i, item.encode())
    cmds += b"z LOGOUT\r\n"
    for _ in range(sessions):
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              "env", "USER=nobody", f"HOME={base}", "/usr/lib/dovecot/imap", "-c", conf],
                             input=cmds, capture_output=True, timeout=30).stdout
    shutil.rmtree(base, ignore_errors=True)
    lines = []
    pos = 0
    while pos < len(out):
        cur = b""
        while True:
            nl = out.find(b"\r\n", pos)
            if nl < 0:
                cur += out[pos:]; pos = len(out); break
            line = out[pos:nl + 2]
            pos = nl + 2
            cur += line
            m = re.search(rb"~?\{(\d+)\}\r\n$", line)
            if m:
                n = int(m.group(1))
                cur += out[pos:pos + n]
                pos += n
                continue
            break
        lines.append(cur)
    fetches = [l[len(b"* 1 FETCH ("):-3] for l in lines if l.startswith(b"* 1 FETCH (")]
    tagged = {}
    for line in lines:
        m = re.match(rb"t(\d+) (OK|NO|BAD)", line)
        if m:
            tagged[int(m.group(1))] = line.strip()
    results = {}
    for i, item in enumerate(items):
        t = tagged.get(i, b"NORESPONSE")
        if not t.startswith(b"t%d OK" % i):
            results[i] = b"ERROR " + t
            continue
        name = item.replace(".PEEK", "").encode()
        for j, f in enumerate(fetches):
            if f is not None and (f.upper().startswith(name.upper() + b" ")):
                results[i] = f
                fetches[j] = None
                break
        else:
            results[i] = b"MISSING"
    return [results.get(i, b"NORESPONSE") for i in range(len(items))]



def ask_bytes(raw, items):
    with tempfile.NamedTemporaryFile(suffix=".eml", delete=False) as f:
        f.write(raw)
        path = f.name
    try:
        return ask(path, items)
    finally:
        os.remove(path)


def corpus_bytes(key):
    text = M[key]
    # Two messages carry raw 8-bit bytes in a legacy charset.
    return text.encode("latin-1") if key.startswith(("29", "23")) else text.encode("utf-8")


M = {}
def crlf(s): return s.replace("\n", "\r\n")

M["01_simple"] = crlf("""Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
From: Fred Foobar <foobar@Blurdybloop.COM>
Subject: afternoon meeting
To: mooch@owatagu.siam.edu
Message-Id: <B27397-0100000@Blurdybloop.COM>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

Hello Joe, do you think we can meet at 3:30 tomorrow?
""")
M["02_bare_lf"] = """From: a@b.example
To: c@d.example
Subject: bare LF
Content-Type: multipart/mixed; boundary=XX

preamble
--XX
Content-Type: text/plain

line one
line two
--XX
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

aGVsbG8=
--XX--
epilogue
"""
M["03_no_mime_version_cte_ignored"] = crlf("""From: x@y
Subject: no mime
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename=a.txt

aGVsbG8=
""")
M["04_headers_only"] = crlf("""From: x@y
Subject: only headers
""")
M["05_headers_no_blank_then_text"] = crlf("""From: x@y
Subject: no blank
Hello world this has no colon
more text
""")
M["06_mixed_attachment_rfc2231"] = crlf("""From: "Doe, John" <john@example.com>
To: undisclosed-recipients:;
Subject: =?UTF-8?B?w6lsw6h2ZQ==?= report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==b1=="

This is a multi-part message in MIME format.

--==b1==
Content-Type: text/plain; charset=utf-8; format=flowed
Content-Transfer-Encoding: 8bit

Caf\u00e9 body text
--==b1==
Content-Type: application/pdf;
 name*0*=utf-8''%E2%82%AC%20rate;
 name*1*=s.pdf
Content-Disposition: attachment;
 filename*0*=utf-8''%E2%82%AC%20rate;
 filename*1*=s.pdf; size=10
Content-Transfer-Encoding: base64
Content-Description: the rates
Content-ID: <part2@example.com>

JVBERi0xLjQK
--==b1==--
""")
M["07_alternative_related"] = crlf("""From: a@b
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=outer

--outer
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 soft=
 break and trailing   
--outer
Content-Type: multipart/related; boundary=inner; type="text/html"

--inner
Content-Type: text/html; charset=us-ascii
Content-Language: en-US, fr

<html><img src="cid:img1"></html>
--inner
Content-Type: image/png; name=a.png
Content-Transfer-Encoding: base64
Content-ID: <img1>
Content-Disposition: inline; filename="a.png"
Content-Location: http://example.com/a.png
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

iVBORw0KGgo=
--inner--

--outer--
""")
inner2 = crlf("""From: deep@example.com
Subject: level two
Date: Tue, 1 Jan 2019 00:00:00 +0000

deepest body
""")
inner1 = crlf("""From: mid@example.com
To: someone@example.com
Subject: level one
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=mid

--mid
Content-Type: text/plain

middle text
--mid
Content-Type: message/rfc822

""") + inner2 + crlf("""--mid--
""")
M["08_rfc822_twice"] = crlf("""From: top@example.com
Subject: forward
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=top

--top
Content-Type: text/plain

see attached
--top
Content-Type: message/rfc822
Content-Disposition: attachment

""") + inner1 + crlf("""--top--
""")
M["09_signed"] = crlf("""From: s@example.com
Subject: signed
MIME-Version: 1.0
Content-Type: multipart/signed; micalg=pgp-sha256;
 protocol="application/pgp-signature"; boundary="sig"

--sig
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

signed text
--sig
Content-Type: application/pgp-signature; name="signature.asc"
Content-Description: OpenPGP digital signature
Content-Disposition: attachment; filename="signature.asc"

-----BEGIN PGP SIGNATURE-----
abc
-----END PGP SIGNATURE-----

--sig--
""")
M["10_duplicates"] = crlf("""Subject: first subject
From: one@example.com
Subject: second subject
From: two@example.com
To: a@x, b@y
To: c@z
Message-ID: <first@x>
Message-ID: <second@x>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Type: text/plain; charset=latin1
Content-Transfer-Encoding: quoted-printable
Content-Transfer-Encoding: base64
Content-Disposition: inline
Content-Disposition: attachment; filename=x

<b>hi</b>
""")
M["11_empty_body"] = crlf("""From: e@x
Subject: empty

""")
M["12_empty_message"] = ""
M["13_only_blank"] = "\r\n"
M["14_folded_and_2047"] = crlf("""Date: Wed, 3 Mar 2021
 10:00:00 +0100
Subject: =?iso-8859-1?q?this=20is?=
 =?iso-8859-1?q?_folded?=	and	tabbed
From: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>,
	=?broken?= <b@example.com>
To: "Quoted \\"Name\\"" <q@example.com>
Cc: a@b (Comment Name), (only comment) c@d
In-Reply-To: <a@b>
 <c@d>
Message-ID:
 <folded@example.com>

body
""")
M["15_8bit_headers"] = crlf("""From: J\u00f6rg M\u00fcller <jm@example.com>
Subject: Gr\u00fc\u00dfe aus K\u00f6ln
To: \u65e5\u672c <jp@example.jp>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8; name="\u00e9t\u00e9.txt"
Content-Transfer-Encoding: 8bit

\u00e4\u00f6\u00fc
""")
M["16_odd_addresses"] = crlf("""From: "a b" <x@y>
Sender: <@route1,@route2:user@host>
Reply-To: Group One: a@b, "c d" <e@f>;, solo@x
To: user-without-at, John Doe, <>, @bad
Cc: Name <broken, x@y
Bcc: "Doe, John" <jd@example.com> (comment)
Subject: odd

text
""")
M["17_multipart_no_boundary"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed

no boundary here
""")
M["18_boundary_never_found"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=zzz

--nope
Content-Type: text/plain

text
""")
M["19_prefix_boundaries"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="abc"

--abc
Content-Type: multipart/alternative; boundary="abcdef"

--abcdef
Content-Type: text/plain

one
--abcdef
Content-Type: text/html

two
--abc
Content-Type: text/plain

three (inner never closed)
--abc--   
trailing epilogue
""")
M["20_qp_b64_errors"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain
Content-Transfer-Encoding: Quoted-Printable

bad =ZZ escape
--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

not base64!!
--b
Content-Type: text/plain
Content-Transfer-Encoding: x-uuencode

begin 644 x
--b
Content-Type: text/plain
Content-Transfer-Encoding: BASE64

aGVsbG8gd29ybGQ=
--b--
""")
M["21_digest"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/digest; boundary=d

--d

From: one@x
Subject: digest one

first
--d
Content-Type: text/plain

not a message
--d--
""")
M["22_rfc822_base64"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: message/rfc822
Content-Transfer-Encoding: base64

""") + base64.encodebytes(b"From: x@y\r\nSubject: inner\r\n\r\nhi\r\n").decode().replace("\n", "\r\n") + crlf("""--b--
""")
M["23_nuls"] = "From: a@b\r\nSubject: nul\x00here\r\nX-Nul: a\x00b\r\n\r\nbody\x00with nul\r\n"
M["24_no_colon_line"] = crlf("""From: a@b
this line has no colon
Subject: after
MIME-Version: 1.0
Content-Type: text/plain

body
""")
M["25_odd_content_types"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text

no subtype
--b
Content-Type: text/plain junk

junk after subtype
--b
Content-Type:

empty
--b
Content-Type: image

image no subtype
--b
Content-Type: multipart

bare multipart
--b
Content-Type: message/rfc822

--b
Content-Type: Application/X-Thing; A=1; b="two words"; c="x\\"y"

thing
--b--
""")
M["26_part_header_ends_at_boundary"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain
--b
Content-Type: message/rfc822

From: x@y
Subject: cut
--b
Content-Type: text/plain

last
--b--""")
M["27_long_line"] = crlf("From: a@b\nSubject: long\n\n") + ("x" * 20000) + "\r\n"
M["28_calendar_voice"] = crlf("""From: voicemail@contoso.example
To: alice@contoso.example
Subject: Voice message from +1 555 0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="vm"

--vm
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

You received a voice message.=0D=0ALength: 0:12
--vm
Content-Type: audio/mpeg; name="message.mp3"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="message.mp3"

""") + base64.encodebytes(bytes(range(256)) * 20).decode().replace("\n", "\r\n") + crlf("""--vm
Content-Type: text/calendar; method=REQUEST; charset=UTF-8
Content-Transfer-Encoding: 7bit

BEGIN:VCALENDAR
END:VCALENDAR
--vm--
""")
M["29_charsets"] = crlf("""From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>
Subject: =?Shift_JIS?B?g2WDWINn?=
MIME-Version: 1.0
Content-Type: text/plain; charset=Shift_JIS

""") + "\x83\x65\x83\x58\x83\x67\r\n"
M["30_params_quirks"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"; name==?utf-8?q?x.txt?=; title*=us-ascii'en'a%20b; t*1=x; t*2=y
Content-Disposition: ATTACHMENT; filename="a \\"q\\" b.txt"; creation-date="Mon, 1 Jan 2001"
Content-Language: de
Content-Location: /x
 /y

body
""")
M["31_bcc_group_empty_from"] = crlf("""From:
To: Empty Group:;
Bcc: a@b
Subject:

x
""")
M["32_epilogue_no_close"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

text with no closing boundary""")
M["33_rfc822_top"] = crlf("""From: a@b
MIME-Version: 1.0
Content-Type: message/rfc822

From: inner@x
Subject: inner top
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=q

--q
Content-Type: text/plain

p
--q
Content-Type: text/html

<p>h</p>
--q--
""")

ADDRESS_CASES = ["Team: a@b, c@d; e@f", "Team: a@b, c@d;, e@f", "user", "John Doe", "Name <broken", "<>", ".a.b.@x", "x@y (Comment Name)", "<@r1.example,@r2.example:x@y>", "undisclosed-recipients:", "a@b c, d@e", "\"a b\" <x@y>, John Q. Public <jqp@example.com>", "=?utf-8?q?J=C3=B6rg?= <j@x>", "<@bad x@y>", "@bad", "a@", "a@b,", "a@b,,c@d", "(only comment)", "\"quoted only\"", "a.@b", "x@[1.2.3.4]", "\"a\\\"b\\\\c\" <d@e>", "a@b (nested (comment) here)", "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", "\"Joe Q. Public\" <john.q.public@example.com>", "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", "a@b\r\n\t(folded comment)", "\"\" <x@y>", "x@y\x00z", "J\u00f6rg <j@x>"]

def rust_bytes(b):
    out = 'b"'
    for c in b:
        ch = chr(c)
        if ch == '"': out += '\\"'
        elif ch == '\\': out += '\\\\'
        elif ch == '\n': out += '\\n'
        elif ch == '\r': out += '\\r'
        elif ch == '\t': out += '\\t'
        elif 32 <= c < 127: out += ch
        else: out += '\\x%02x' % c
    return out + '"'

def rust_str_item(item):
    return item.replace('\\', '\\\\').replace('"', '\\"')

CASES = []
def case(name, path, items, doc):
    CASES.append((name, path, items, doc))

case("simple_text_message", "01_simple", ["ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[HEADER.FIELDS (subject from)]", "BINARY.PEEK[1]", "BINARY.SIZE[1]", "BODY.PEEK[2]"], "RFC 3501 example message; plain 7bit text gets Dovecot's cached lowercase BODYSTRUCTURE.")
case("bare_lf_multipart", "02_bare_lf", ["BODYSTRUCTURE", "RFC822.SIZE", "BODY.PEEK[1]", "BODY.PEEK[2.MIME]", "BODY.PEEK[TEXT]", "BINARY.PEEK[2]", "BINARY.SIZE[2]"], "Bare LF line ends are served and counted as CRLF; preamble/epilogue stay in the multipart body.")
case("no_mime_version_ignores_content_fields", "03_no_mime_version_cte_ignored", ["BODYSTRUCTURE", "BINARY.PEEK[1]"], "Without MIME-Version/Content-Type, Content-* fields are ignored by BODYSTRUCTURE (BINARY still decodes, as Dovecot).")
case("headers_only", "04_headers_only", ["BODYSTRUCTURE", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "BODY.PEEK[HEADER.FIELDS (From)]"], "No blank line after the header: empty body.")
case("header_without_blank_line_runs_on", "05_headers_no_blank_then_text", ["ENVELOPE", "BODYSTRUCTURE", "BODY.PEEK[HEADER.FIELDS.NOT (From)]"], "Lines without a colon are nameless header lines, so the header goes on.")
case("mixed_with_rfc2231_attachment", "06_mixed_attachment_rfc2231", ["ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY.PEEK[2.MIME]", "BINARY.PEEK[2]", "BINARY.SIZE[2]", "BINARY.SIZE[]"], "RFC 2231 continuations are merged but stay percent-encoded; undisclosed-recipients group; encoded subject kept raw.")
case("alternative_and_related", "07_alternative_related", ["BODYSTRUCTURE", "BINARY.PEEK[1]", "BODY.PEEK[2.2.MIME]", "BINARY.PEEK[2]", "BINARY.SIZE[2]"], "Nested multiparts, QP soft breaks, Content-Language list, location and MD5.")
case("message_rfc822_nested_twice", "08_rfc822_twice", ["BODYSTRUCTURE", "BODY", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]", "BODY.PEEK[2.2]", "BODY.PEEK[2.2.HEADER.FIELDS (subject)]", "BODY.PEEK[2.2.1]", "BODY.PEEK[2.2.MIME]", "BODY.PEEK[2.1.HEADER]", "BODY.PEEK[2.2.TEXT]"], "message/rfc822 inside message/rfc822: envelopes and part numbers.")
case("multipart_signed", "09_signed", ["BODYSTRUCTURE", "BODY.PEEK[1.MIME]", "BODY.PEEK[1]"], "multipart/signed keeps the signed part byte-exact.")
case("duplicate_headers", "10_duplicates", ["ENVELOPE", "BODYSTRUCTURE", "BODY.PEEK[HEADER.FIELDS (Subject)]", "BINARY.PEEK[1]"], "Last Subject/Message-ID wins, address fields merge, first Content-Type/-Transfer-Encoding wins, later Content-Disposition replaces one without parameters; BINARY uses the last encoding.")
case("empty_message", "12_empty_message", ["ENVELOPE", "BODYSTRUCTURE", "RFC822.SIZE", "BODY.PEEK[HEADER]", "BODY.PEEK[HEADER.FIELDS (From)]"], "Zero bytes still give answers.")
case("folded_headers_and_encoded_words", "14_folded_and_2047", ["ENVELOPE"], "Folded Date/Subject/In-Reply-To/Message-ID and RFC 2047 names stay raw; subjects with tabs become literals.")
case("eight_bit_headers", "15_8bit_headers", ["ENVELOPE", "BODYSTRUCTURE"], "8-bit header text is sent as literals.")
case("odd_addresses", "16_odd_addresses", ["ENVELOPE"], "Groups, routes, missing @, empty <>, broken angle addresses, comments.")
case("multipart_without_boundary", "17_multipart_no_boundary", ["BODYSTRUCTURE", "BODY.PEEK[1]"], "A multipart without boundary has one empty text/plain part.")
case("boundary_prefixes", "19_prefix_boundaries", ["BODYSTRUCTURE", "BODY.PEEK[1.2]", "BODY.PEEK[2]"], "Boundaries match by prefix, the longest wins, an outer boundary closes inner parts.")
case("transfer_encoding_errors", "20_qp_b64_errors", ["BODYSTRUCTURE", "BINARY.PEEK[1]", "BINARY.PEEK[2]", "BINARY.PEEK[3]", "BINARY.PEEK[4]", "BINARY.SIZE[4]"], "Invalid QP/base64 and unknown encodings fail BINARY; BINARY.SIZE fails when any part is undecodable.")
case("multipart_digest", "21_digest", ["BODYSTRUCTURE"], "Parts of multipart/digest without Content-Type are message/rfc822.")
case("message_rfc822_in_base64", "22_rfc822_base64", ["BODYSTRUCTURE", "BINARY.PEEK[]", "BINARY.SIZE[]", "BINARY.SIZE[1]", "BODY.PEEK[1.HEADER.FIELDS.NOT (From)]"], "A base64 message/rfc822 is still parsed as a message (Dovecot), and BINARY.SIZE follows Dovecot's arithmetic.")
case("nul_bytes", "23_nuls", ["ENVELOPE", "BODY.PEEK[TEXT]", "BINARY.PEEK[1]"], "NUL is U+FFFD in envelope strings, 0x80 in BODY[] literals, literal8 in BINARY.")
case("odd_content_types", "25_odd_content_types", ["BODYSTRUCTURE", "BODY.PEEK[6.MIME]", "BODY.PEEK[6.HEADER.FIELDS (Content-Type)]", "BINARY.PEEK[6]"], "Missing subtypes, junk after the subtype, empty Content-Type, bare multipart, empty message/rfc822, quoted parameters.")
case("part_header_cut_by_boundary", "26_part_header_ends_at_boundary", ["BODYSTRUCTURE", "BODY.PEEK[1.MIME]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.HEADER.FIELDS (From Content-Type)]"], "A part header ended by a boundary; HEADER.FIELDS reads on to the next blank line, as Dovecot.")
case("voice_message_and_calendar", "28_calendar_voice", ["BODYSTRUCTURE", "BINARY.SIZE[2]", "BINARY.PEEK[1]"], "Voice message with audio/mpeg and a text/calendar part.")
case("parameter_quirks", "30_params_quirks", ["BODYSTRUCTURE"], "name==?..?= workaround, RFC 2231 extended single value, missing continuation index, quoted filename with escapes.")
case("empty_from_and_groups", "31_bcc_group_empty_from", ["ENVELOPE"], "Empty From is NIL; an empty group.")
case("top_level_message_rfc822", "33_rfc822_top", ["BODYSTRUCTURE", "BODY.PEEK[1.1]", "BODY.PEEK[1.HEADER]", "BODY.PEEK[1.2.MIME]"], "A message whose own type is message/rfc822.")

INLINE = []
def inline(name, raw, items, doc):
    INLINE.append((name, raw, items, doc))

inline("single_space_continuation_joins_without_line_break",
       b'Cc: J "a\r\n \r\nTo: J "\\\r\n \r\n\tb\r\nMessage-ID: <a>\r\n \r\nBcc: J "a\r\n\tb\r\n\t\r\n\r\nx\r\n',
       ["ENVELOPE"], "A continuation line of one white space character is joined without its line break (visible in addresses with an unterminated quote).")
inline("nul_in_header_or_body_makes_binary_literal8",
       b'Subject: a\x00b\r\n\r\nbody\r\n', ["BINARY.PEEK[]", "BINARY.PEEK[1]", "BODY.PEEK[]"], "NUL in a header: BINARY uses literal8 even for the body alone; BODY[] sends 0x80.")
inline("nul_in_preamble_is_not_binary",
       b'Content-Type: multipart/mixed; boundary=b\r\n\r\n\x00pre\r\n--b\r\n\r\nx\r\n--b--\r\n', ["BINARY.PEEK[]", "BINARY.PEEK[1]"], "NUL outside part headers and leaf bodies: plain literal with 0x80.")
inline("empty_part_header_reads_into_next_part_for_binary",
       b'From: a@b\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\n',
       ["BODYSTRUCTURE", "BINARY.PEEK[]", "BINARY.SIZE[]", "BINARY.PEEK[1]", "BINARY.SIZE[2]", "BODY.PEEK[1.MIME]", "BODY.PEEK[2.MIME]"], "A part with no header before the next boundary: Dovecot's BINARY reads its header on into the next part (duplicating the rewritten header); we do the same.")
inline("blank_line_before_boundary_belongs_to_the_boundary",
       b'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n--b--\r\n',
       ["BODYSTRUCTURE", "BODY.PEEK[1.MIME]", "BODY.PEEK[1]", "BODY.PEEK[2.MIME]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.HEADER.FIELDS (X)]"], "An empty body: the blank line after the part header is the line break of the next boundary.")
inline("lowercase_plain_text_defaults",
       b'Subject: x\r\nContent-Type: text/plain; charset=US-ASCII\r\nContent-Transfer-Encoding: 7BIT\r\nMIME-Version: 1.0\r\n\r\nbody\r\n',
       ["BODYSTRUCTURE", "BODY"], "Plain 7bit text uses Dovecot's cached lowercase form.")
inline("plain_text_with_other_parameters_keeps_its_spelling",
       b'Subject: x\r\nContent-Type: TEXT/PLAIN; Format=Flowed\r\nMIME-Version: 1.0\r\n\r\nbody\r\n',
       ["BODYSTRUCTURE", "BODY"], "Not plain 7bit: the header's spelling, default charset appended.")

def main():
    out = []
    out.append("//! Expected answers below were produced by Dovecot 2.3.19.1 (Debian bookworm's\n//! dovecot-imapd) for the same messages, FETCHed in a throwaway Maildir.\n//! Generated by dovecot_answers.py in this directory; do not edit by hand.\n")
    out.append("use super::super::*;\nuse super::support::*;\n")
    for name, key, items, doc in CASES:
        raw = corpus_bytes(key)
        answers = ask_bytes(raw, ["BODYSTRUCTURE", "BODY"] + items)[2:]
        out.append(f"/// {doc}\n#[test]\nfn {name}() {{\n    let message = ParsedMessage::parse(&{rust_bytes(raw)}[..]);")
        for item, ans in zip(items, answers):
            if ans.startswith(b"ERROR"):
                out.append(f"    assert_fetch_fails(&message, \"{rust_str_item(item)}\");")
            else:
                i = ans.find(b"] ")
                if i >= 0:
                    ans = ans[:i].upper() + ans[i:]
                out.append(f"    assert_fetch(&message, \"{rust_str_item(item)}\", {rust_bytes(ans)});")
        out.append("}\n")
    for name, raw, items, doc in INLINE:
        answers = ask_bytes(raw, ["BODYSTRUCTURE", "BODY"] + items)[2:]
        out.append(f"/// {doc}\n#[test]\nfn {name}() {{\n    let message = ParsedMessage::parse(&{rust_bytes(raw)}[..]);")
        for item, ans in zip(items, answers):
            if ans.startswith(b"ERROR"):
                out.append(f"    assert_fetch_fails(&message, \"{rust_str_item(item)}\");")
            else:
                out.append(f"    assert_fetch(&message, \"{rust_str_item(item)}\", {rust_bytes(ans)});")
        out.append("}\n")
    out.append("/// Address lists: groups, routes, comments, missing parts, quoting (RFC 5322 examples too).\n#[test]\nfn address_lists() {")
    for value in ADDRESS_CASES:
        raw = ("From: " + value + "\r\nTo: " + value + "\r\nSubject: s\r\n\r\nx\r\n").encode("utf-8")
        ans = ask_bytes(raw, ["ENVELOPE"])[0]
        out.append(f"    assert_fetch(&ParsedMessage::parse(&{rust_bytes(raw)}[..]), \"ENVELOPE\", {rust_bytes(ans)});")
    out.append("}\n")
    print("\n".join(out))

main()
