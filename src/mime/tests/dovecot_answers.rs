//! Expected answers below were produced by Dovecot 2.3.19.1 (Debian bookworm's
//! dovecot-imapd) for the same messages, FETCHed in a throwaway Maildir.
//! Regenerate with scratch tooling if Dovecot's behaviour is re-checked.

use super::super::*;
use super::support::*;

/// RFC 3501 example message; plain 7bit text gets Dovecot's cached lowercase BODYSTRUCTURE.
#[test]
fn simple_text_message() {
    let message = ParsedMessage::parse(&b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.COM>\r\nSubject: afternoon meeting\r\nTo: mooch@owatagu.siam.edu\r\nMessage-Id: <B27397-0100000@Blurdybloop.COM>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n"[..]);
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"afternoon meeting\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\")) ((NIL NIL \"mooch\" \"owatagu.siam.edu\")) NIL NIL NIL \"<B27397-0100000@Blurdybloop.COM>\")");
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 55 1 NIL NIL NIL NIL)");
    assert_fetch(
        &message,
        "BODY",
        b"BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 55 1)",
    );
    assert_fetch(
        &message,
        "BODY.PEEK[1]",
        b"BODY[1] {55}\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n",
    );
    assert_fetch(&message, "BODY.PEEK[1.MIME]", b"BODY[1.MIME] {255}\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.COM>\r\nSubject: afternoon meeting\r\nTo: mooch@owatagu.siam.edu\r\nMessage-Id: <B27397-0100000@Blurdybloop.COM>\r\nMIME-Version: 1.0\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n");
    assert_fetch(&message, "BODY.PEEK[HEADER.FIELDS (subject from)]", b"BODY[HEADER.FIELDS (SUBJECT FROM)] {74}\r\nFrom: Fred Foobar <foobar@Blurdybloop.COM>\r\nSubject: afternoon meeting\r\n\r\n");
    assert_fetch(
        &message,
        "BINARY.PEEK[1]",
        b"BINARY[1] {55}\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n",
    );
    assert_fetch(&message, "BINARY.SIZE[1]", b"BINARY.SIZE[1] 55");
    assert_fetch(&message, "BODY.PEEK[2]", b"BODY[2] {0}\r\n");
}

/// Bare LF line ends are served and counted as CRLF; preamble/epilogue stay in the multipart body.
#[test]
fn bare_lf_multipart() {
    let message = ParsedMessage::parse(&b"From: a@b.example\nTo: c@d.example\nSubject: bare LF\nContent-Type: multipart/mixed; boundary=XX\n\npreamble\n--XX\nContent-Type: text/plain\n\nline one\nline two\n--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--XX--\nepilogue\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 1 NIL NIL NIL NIL)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 8 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)");
    assert_fetch(&message, "RFC822.SIZE", b"RFC822.SIZE 275");
    assert_fetch(
        &message,
        "BODY.PEEK[1]",
        b"BODY[1] {18}\r\nline one\r\nline two",
    );
    assert_fetch(&message, "BODY.PEEK[2.MIME]", b"BODY[2.MIME] {77}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    assert_fetch(&message, "BODY.PEEK[TEXT]", b"BODY[TEXT] {175}\r\npreamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\nepilogue\r\n");
    assert_fetch(&message, "BINARY.PEEK[2]", b"BINARY[2] ~{5}\r\nhello");
    assert_fetch(&message, "BINARY.SIZE[2]", b"BINARY.SIZE[2] 5");
}

/// Without MIME-Version/Content-Type, Content-* fields are ignored by BODYSTRUCTURE (BINARY still decodes, as Dovecot).
#[test]
fn no_mime_version_ignores_content_fields() {
    let message = ParsedMessage::parse(&b"From: x@y\r\nSubject: no mime\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\naGVsbG8=\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)");
    assert_fetch(&message, "BINARY.PEEK[1]", b"BINARY[1] ~{5}\r\nhello");
}

/// No blank line after the header: empty body.
#[test]
fn headers_only() {
    let message = ParsedMessage::parse(&b"From: x@y\r\nSubject: only headers\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
    assert_fetch(
        &message,
        "BODY.PEEK[HEADER]",
        b"BODY[HEADER] {34}\r\nFrom: x@y\r\nSubject: only headers\r\n",
    );
    assert_fetch(&message, "BODY.PEEK[TEXT]", b"BODY[TEXT] {0}\r\n");
    assert_fetch(
        &message,
        "BODY.PEEK[HEADER.FIELDS (From)]",
        b"BODY[HEADER.FIELDS (FROM)] {13}\r\nFrom: x@y\r\n\r\n",
    );
}

/// Lines without a colon are nameless header lines, so the header goes on.
#[test]
fn header_without_blank_line_runs_on() {
    let message = ParsedMessage::parse(
        &b"From: x@y\r\nSubject: no blank\r\nHello world this has no colon\r\nmore text\r\n"[..],
    );
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (NIL \"no blank\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL)");
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
    assert_fetch(&message, "BODY.PEEK[HEADER.FIELDS.NOT (From)]", b"BODY[HEADER.FIELDS.NOT (FROM)] {61}\r\nSubject: no blank\r\nHello world this has no colon\r\nmore text\r\n");
}

/// RFC 2231 continuations are merged but stay percent-encoded; undisclosed-recipients group; encoded subject kept raw.
#[test]
fn mixed_with_rfc2231_attachment() {
    let message = ParsedMessage::parse(&b"From: \"Doe, John\" <john@example.com>\r\nTo: undisclosed-recipients:;\r\nSubject: =?UTF-8?B?w6lsw6h2ZQ==?= report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"==b1==\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--==b1==\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xc3\xa9 body text\r\n--==b1==\r\nContent-Type: application/pdf;\r\n name*0*=utf-8''%E2%82%AC%20rate;\r\n name*1*=s.pdf\r\nContent-Disposition: attachment;\r\n filename*0*=utf-8''%E2%82%AC%20rate;\r\n filename*1*=s.pdf; size=10\r\nContent-Transfer-Encoding: base64\r\nContent-Description: the rates\r\nContent-ID: <part2@example.com>\r\n\r\nJVBERi0xLjQK\r\n--==b1==--\r\n"[..]);
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (NIL \"=?UTF-8?B?w6lsw6h2ZQ==?= report\" ((\"Doe, John\" NIL \"john\" \"example.com\")) ((\"Doe, John\" NIL \"john\" \"example.com\")) ((\"Doe, John\" NIL \"john\" \"example.com\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"8bit\" 15 0 NIL NIL NIL NIL)(\"application\" \"pdf\" (\"name*\" \"utf-8''%E2%82%AC%20rates.pdf\") \"<part2@example.com>\" \"the rates\" \"base64\" 12 NIL (\"attachment\" (\"size\" \"10\" \"filename*\" \"utf-8''%E2%82%AC%20rates.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"==b1==\") NIL NIL NIL)");
    assert_fetch(&message, "BODY", b"BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"8bit\" 15 0)(\"application\" \"pdf\" (\"name*\" \"utf-8''%E2%82%AC%20rates.pdf\") \"<part2@example.com>\" \"the rates\" \"base64\" 12) \"mixed\")");
    assert_fetch(&message, "BODY.PEEK[2.MIME]", b"BODY[2.MIME] {287}\r\nContent-Type: application/pdf;\r\n name*0*=utf-8''%E2%82%AC%20rate;\r\n name*1*=s.pdf\r\nContent-Disposition: attachment;\r\n filename*0*=utf-8''%E2%82%AC%20rate;\r\n filename*1*=s.pdf; size=10\r\nContent-Transfer-Encoding: base64\r\nContent-Description: the rates\r\nContent-ID: <part2@example.com>\r\n\r\n");
    assert_fetch(&message, "BINARY.PEEK[2]", b"BINARY[2] ~{9}\r\n%PDF-1.4\n");
    assert_fetch(&message, "BINARY.SIZE[2]", b"BINARY.SIZE[2] 9");
    assert_fetch(&message, "BINARY.SIZE[]", b"BINARY.SIZE[] 667");
}

/// Nested multiparts, QP soft breaks, Content-Language list, location and MD5.
#[test]
fn alternative_and_related() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nSubject: alt\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=outer\r\n\r\n--outer\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 soft=\r\n break and trailing   \r\n--outer\r\nContent-Type: multipart/related; boundary=inner; type=\"text/html\"\r\n\r\n--inner\r\nContent-Type: text/html; charset=us-ascii\r\nContent-Language: en-US, fr\r\n\r\n<html><img src=\"cid:img1\"></html>\r\n--inner\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <img1>\r\nContent-Disposition: inline; filename=\"a.png\"\r\nContent-Location: http://example.com/a.png\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\niVBORw0KGgo=\r\n--inner--\r\n\r\n--outer--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 36 1 NIL NIL NIL NIL)((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 33 0 NIL NIL (\"en-US\" \"fr\") NIL)(\"image\" \"png\" (\"name\" \"a.png\") \"<img1>\" NIL \"base64\" 12 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"filename\" \"a.png\")) NIL \"http://example.com/a.png\") \"related\" (\"boundary\" \"inner\" \"type\" \"text/html\") NIL NIL NIL) \"alternative\" (\"boundary\" \"outer\") NIL NIL NIL)");
    assert_fetch(
        &message,
        "BINARY.PEEK[1]",
        b"BINARY[1] ~{28}\r\nCaf\xe9 soft break and trailing",
    );
    assert_fetch(&message, "BODY.PEEK[2.2.MIME]", b"BODY[2.2.MIME] {224}\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <img1>\r\nContent-Disposition: inline; filename=\"a.png\"\r\nContent-Location: http://example.com/a.png\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\n");
    assert_fetch(&message, "BINARY.PEEK[2]", b"BINARY[2] ~{372}\r\n--inner\r\nContent-Type: text/html; charset=us-ascii\r\nContent-Language: en-US, fr\r\n\r\n<html><img src=\"cid:img1\"></html>\r\n--inner\r\nContent-Type: image/png; name=a.png\r\nContent-ID: <img1>\r\nContent-Disposition: inline; filename=\"a.png\"\r\nContent-Location: http://example.com/a.png\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\nContent-Transfer-Encoding: binary\r\n\r\n\x89PNG\r\n\x1a\n\r\n--inner--\r\n");
    assert_fetch(&message, "BINARY.SIZE[2]", b"BINARY.SIZE[2] 372");
}

/// message/rfc822 inside message/rfc822: envelopes and part numbers.
#[test]
fn message_rfc822_nested_twice() {
    let message = ParsedMessage::parse(&b"From: top@example.com\r\nSubject: forward\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=top\r\n\r\n--top\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--top\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\nFrom: mid@example.com\r\nTo: someone@example.com\r\nSubject: level one\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=mid\r\n\r\n--mid\r\nContent-Type: text/plain\r\n\r\nmiddle text\r\n--mid\r\nContent-Type: message/rfc822\r\n\r\nFrom: deep@example.com\r\nSubject: level two\r\nDate: Tue, 1 Jan 2019 00:00:00 +0000\r\n\r\ndeepest body\r\n--mid--\r\n--top--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 328 (NIL \"level one\" ((NIL NIL \"mid\" \"example.com\")) ((NIL NIL \"mid\" \"example.com\")) ((NIL NIL \"mid\" \"example.com\")) ((NIL NIL \"someone\" \"example.com\")) NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 96 (\"Tue, 1 Jan 2019 00:00:00 +0000\" \"level two\" ((NIL NIL \"deep\" \"example.com\")) ((NIL NIL \"deep\" \"example.com\")) ((NIL NIL \"deep\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL) 4 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"mid\") NIL NIL NIL) 19 NIL (\"attachment\" NIL) NIL NIL) \"mixed\" (\"boundary\" \"top\") NIL NIL NIL)");
    assert_fetch(&message, "BODY", b"BODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 328 (NIL \"level one\" ((NIL NIL \"mid\" \"example.com\")) ((NIL NIL \"mid\" \"example.com\")) ((NIL NIL \"mid\" \"example.com\")) ((NIL NIL \"someone\" \"example.com\")) NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 96 (\"Tue, 1 Jan 2019 00:00:00 +0000\" \"level two\" ((NIL NIL \"deep\" \"example.com\")) ((NIL NIL \"deep\" \"example.com\")) ((NIL NIL \"deep\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0) 4) \"mixed\") 19) \"mixed\")");
    assert_fetch(&message, "BODY.PEEK[2.HEADER]", b"BODY[2.HEADER] {134}\r\nFrom: mid@example.com\r\nTo: someone@example.com\r\nSubject: level one\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=mid\r\n\r\n");
    assert_fetch(&message, "BODY.PEEK[2.TEXT]", b"BODY[2.TEXT] {194}\r\n--mid\r\nContent-Type: text/plain\r\n\r\nmiddle text\r\n--mid\r\nContent-Type: message/rfc822\r\n\r\nFrom: deep@example.com\r\nSubject: level two\r\nDate: Tue, 1 Jan 2019 00:00:00 +0000\r\n\r\ndeepest body\r\n--mid--\r\n");
    assert_fetch(&message, "BODY.PEEK[2.2]", b"BODY[2.2] {96}\r\nFrom: deep@example.com\r\nSubject: level two\r\nDate: Tue, 1 Jan 2019 00:00:00 +0000\r\n\r\ndeepest body");
    assert_fetch(
        &message,
        "BODY.PEEK[2.2.HEADER.FIELDS (subject)]",
        b"BODY[2.2.HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: level two\r\n\r\n",
    );
    assert_fetch(
        &message,
        "BODY.PEEK[2.2.1]",
        b"BODY[2.2.1] {12}\r\ndeepest body",
    );
    assert_fetch(
        &message,
        "BODY.PEEK[2.2.MIME]",
        b"BODY[2.2.MIME] {32}\r\nContent-Type: message/rfc822\r\n\r\n",
    );
    assert_fetch(
        &message,
        "BODY.PEEK[2.1.HEADER]",
        b"BODY[2.1.HEADER] {0}\r\n",
    );
    assert_fetch(
        &message,
        "BODY.PEEK[2.2.TEXT]",
        b"BODY[2.2.TEXT] {12}\r\ndeepest body",
    );
}

/// multipart/signed keeps the signed part byte-exact.
#[test]
fn multipart_signed() {
    let message = ParsedMessage::parse(&b"From: s@example.com\r\nSubject: signed\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n--sig\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nsigned text\r\n--sig\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\nContent-Description: OpenPGP digital signature\r\nContent-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\nabc\r\n-----END PGP SIGNATURE-----\r\n\r\n--sig--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0 NIL NIL NIL NIL)(\"application\" \"pgp-signature\" (\"name\" \"signature.asc\") NIL \"OpenPGP digital signature\" \"7bit\" 65 NIL (\"attachment\" (\"filename\" \"signature.asc\")) NIL NIL) \"signed\" (\"micalg\" \"pgp-sha256\" \"protocol\" \"application/pgp-signature\" \"boundary\" \"sig\") NIL NIL NIL)");
    assert_fetch(&message, "BODY.PEEK[1.MIME]", b"BODY[1.MIME] {79}\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
    assert_fetch(&message, "BODY.PEEK[1]", b"BODY[1] {11}\r\nsigned text");
}

/// Last Subject/Message-ID wins, address fields merge, first Content-Type/-Transfer-Encoding wins, later Content-Disposition replaces one without parameters; BINARY uses the last encoding.
#[test]
fn duplicate_headers() {
    let message = ParsedMessage::parse(&b"Subject: first subject\r\nFrom: one@example.com\r\nSubject: second subject\r\nFrom: two@example.com\r\nTo: a@x, b@y\r\nTo: c@z\r\nMessage-ID: <first@x>\r\nMessage-ID: <second@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Type: text/plain; charset=latin1\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: inline\r\nContent-Disposition: attachment; filename=x\r\n\r\n<b>hi</b>\r\n"[..]);
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (NIL \"second subject\" ((NIL NIL \"one\" \"example.com\")(NIL NIL \"two\" \"example.com\")) ((NIL NIL \"one\" \"example.com\")(NIL NIL \"two\" \"example.com\")) ((NIL NIL \"one\" \"example.com\")(NIL NIL \"two\" \"example.com\")) ((NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"y\")(NIL NIL \"c\" \"z\")) NIL NIL NIL \"<second@x>\")");
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 11 1 NIL (\"attachment\" (\"filename\" \"x\")) NIL NIL)");
    assert_fetch(&message, "BODY.PEEK[HEADER.FIELDS (Subject)]", b"BODY[HEADER.FIELDS (SUBJECT)] {51}\r\nSubject: first subject\r\nSubject: second subject\r\n\r\n");
    assert_fetch_fails(&message, "BINARY.PEEK[1]");
}

/// Zero bytes still give answers.
#[test]
fn empty_message() {
    let message = ParsedMessage::parse(&b""[..]);
    assert_fetch(
        &message,
        "ENVELOPE",
        b"ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
    );
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
    assert_fetch(&message, "RFC822.SIZE", b"RFC822.SIZE 0");
    assert_fetch(&message, "BODY.PEEK[HEADER]", b"BODY[HEADER] {0}\r\n");
    assert_fetch(
        &message,
        "BODY.PEEK[HEADER.FIELDS (From)]",
        b"BODY[HEADER.FIELDS (FROM)] {2}\r\n\r\n",
    );
}

/// Folded Date/Subject/In-Reply-To/Message-ID and RFC 2047 names stay raw; subjects with tabs become literals.
#[test]
fn folded_headers_and_encoded_words() {
    let message = ParsedMessage::parse(&b"Date: Wed, 3 Mar 2021\r\n 10:00:00 +0100\r\nSubject: =?iso-8859-1?q?this=20is?=\r\n =?iso-8859-1?q?_folded?=\tand\ttabbed\r\nFrom: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>,\r\n\t=?broken?= <b@example.com>\r\nTo: \"Quoted \\\"Name\\\"\" <q@example.com>\r\nCc: a@b (Comment Name), (only comment) c@d\r\nIn-Reply-To: <a@b>\r\n <c@d>\r\nMessage-ID:\r\n <folded@example.com>\r\n\r\nbody\r\n"[..]);
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (\"Wed, 3 Mar 2021 10:00:00 +0100\" {62}\r\n=?iso-8859-1?q?this=20is?= =?iso-8859-1?q?_folded?= and tabbed ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.com\")(\"=?broken?=\" NIL \"b\" \"example.com\")) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.com\")(\"=?broken?=\" NIL \"b\" \"example.com\")) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.com\")(\"=?broken?=\" NIL \"b\" \"example.com\")) (({13}\r\nQuoted \"Name\" NIL \"q\" \"example.com\")) ((\"Comment Name\" NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) NIL \"<a@b> <c@d>\" \" <folded@example.com>\")");
}

/// 8-bit header text is sent as literals.
#[test]
fn eight_bit_headers() {
    let message = ParsedMessage::parse(&b"From: J\xc3\xb6rg M\xc3\xbcller <jm@example.com>\r\nSubject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\nTo: \xe6\x97\xa5\xe6\x9c\xac <jp@example.jp>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8; name=\"\xc3\xa9t\xc3\xa9.txt\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa4\xc3\xb6\xc3\xbc\r\n"[..]);
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (NIL {17}\r\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln (({13}\r\nJ\xc3\xb6rg M\xc3\xbcller NIL \"jm\" \"example.com\")) (({13}\r\nJ\xc3\xb6rg M\xc3\xbcller NIL \"jm\" \"example.com\")) (({13}\r\nJ\xc3\xb6rg M\xc3\xbcller NIL \"jm\" \"example.com\")) (({6}\r\n\xe6\x97\xa5\xe6\x9c\xac NIL \"jp\" \"example.jp\")) NIL NIL NIL NIL)");
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\" \"name\" {9}\r\n\xc3\xa9t\xc3\xa9.txt) NIL NIL \"8bit\" 8 1 NIL NIL NIL NIL)");
}

/// Groups, routes, missing @, empty <>, broken angle addresses, comments.
#[test]
fn odd_addresses() {
    let message = ParsedMessage::parse(&b"From: \"a b\" <x@y>\r\nSender: <@route1,@route2:user@host>\r\nReply-To: Group One: a@b, \"c d\" <e@f>;, solo@x\r\nTo: user-without-at, John Doe, <>, @bad\r\nCc: Name <broken, x@y\r\nBcc: \"Doe, John\" <jd@example.com> (comment)\r\nSubject: odd\r\n\r\ntext\r\n"[..]);
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (NIL \"odd\" ((\"a b\" NIL \"x\" \"y\")) ((NIL \"@route1,@route2\" \"user\" \"host\")) ((NIL NIL \"Group One\" NIL)(NIL NIL \"a\" \"b\")(\"c d\" NIL \"e\" \"f\")(NIL NIL NIL NIL)(NIL NIL \"solo\" \"x\")) ((NIL NIL \"user-without-at\" \"MISSING_DOMAIN\")(\"John Doe\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" \"bad\")) ((\"Name\" NIL \"broken\" \"SYNTAX_ERROR\")(NIL NIL \"x\" \"y\")) ((\"Doe, John\" NIL \"jd\" \"example.com\")) NIL NIL)");
}

/// A multipart without boundary has one empty text/plain part.
#[test]
fn multipart_without_boundary() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nno boundary here\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)");
    assert_fetch(&message, "BODY.PEEK[1]", b"BODY[1] {0}\r\n");
}

/// Boundaries match by prefix, the longest wins, an outer boundary closes inner parts.
#[test]
fn boundary_prefixes() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"abc\"\r\n\r\n--abc\r\nContent-Type: multipart/alternative; boundary=\"abcdef\"\r\n\r\n--abcdef\r\nContent-Type: text/plain\r\n\r\none\r\n--abcdef\r\nContent-Type: text/html\r\n\r\ntwo\r\n--abc\r\nContent-Type: text/plain\r\n\r\nthree (inner never closed)\r\n--abc--   \r\ntrailing epilogue\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"abcdef\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 26 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"abc\") NIL NIL NIL)");
    assert_fetch(&message, "BODY.PEEK[1.2]", b"BODY[1.2] {3}\r\ntwo");
    assert_fetch(
        &message,
        "BODY.PEEK[2]",
        b"BODY[2] {26}\r\nthree (inner never closed)",
    );
}

/// Invalid QP/base64 and unknown encodings fail BINARY; BINARY.SIZE fails when any part is undecodable.
#[test]
fn transfer_encoding_errors() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\nbad =ZZ escape\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nnot base64!!\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: BASE64\r\n\r\naGVsbG8gd29ybGQ=\r\n--b--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"Quoted-Printable\" 14 0 NIL NIL NIL NIL)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 12 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"x-uuencode\" 11 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"BASE64\" 16 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
    assert_fetch_fails(&message, "BINARY.PEEK[1]");
    assert_fetch_fails(&message, "BINARY.PEEK[2]");
    assert_fetch_fails(&message, "BINARY.PEEK[3]");
    assert_fetch(
        &message,
        "BINARY.PEEK[4]",
        b"BINARY[4] ~{11}\r\nhello world",
    );
    assert_fetch_fails(&message, "BINARY.SIZE[4]");
}

/// Parts of multipart/digest without Content-Type are message/rfc822.
#[test]
fn multipart_digest() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nFrom: one@x\r\nSubject: digest one\r\n\r\nfirst\r\n--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n--d--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 41 (NIL \"digest one\" ((NIL NIL \"one\" \"x\")) ((NIL NIL \"one\" \"x\")) ((NIL NIL \"one\" \"x\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL)");
}

/// A base64 message/rfc822 is still parsed as a message (Dovecot), and BINARY.SIZE follows Dovecot's arithmetic.
#[test]
fn message_rfc822_in_base64() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nRnJvbTogeEB5DQpTdWJqZWN0OiBpbm5lcg0KDQpoaQ0K\r\n--b--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"message\" \"rfc822\" NIL NIL NIL \"base64\" 46 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
    assert_fetch(&message, "BINARY.PEEK[]", b"BINARY[] {200}\r\nFrom: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nRnJvbTogeEB5DQpTdWJqZWN0OiBpbm5lcg0KDQpoaQ0K\r\n--b--\r\n");
    assert_fetch(&message, "BINARY.SIZE[]", b"BINARY.SIZE[] 154");
    assert_fetch(&message, "BINARY.SIZE[1]", b"BINARY.SIZE[1] 0");
    assert_fetch(&message, "BODY.PEEK[1.HEADER.FIELDS.NOT (From)]", b"BODY[1.HEADER.FIELDS.NOT (FROM)] {53}\r\nRnJvbTogeEB5DQpTdWJqZWN0OiBpbm5lcg0KDQpoaQ0K\r\n--b--\r\n");
}

/// NUL is U+FFFD in envelope strings, 0x80 in BODY[] literals, literal8 in BINARY.
#[test]
fn nul_bytes() {
    let message = ParsedMessage::parse(
        &b"From: a@b\r\nSubject: nul\x00here\r\nX-Nul: a\x00b\r\n\r\nbody\x00with nul\r\n"[..],
    );
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (NIL {10}\r\nnul\xef\xbf\xbdhere ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)");
    assert_fetch(
        &message,
        "BODY.PEEK[TEXT]",
        b"BODY[TEXT] {15}\r\nbody\x80with nul\r\n",
    );
    assert_fetch(
        &message,
        "BINARY.PEEK[1]",
        b"BINARY[1] ~{15}\r\nbody\x00with nul\r\n",
    );
}

/// Missing subtypes, junk after the subtype, empty Content-Type, bare multipart, empty message/rfc822, quoted parameters.
#[test]
fn odd_content_types() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text\r\n\r\nno subtype\r\n--b\r\nContent-Type: text/plain junk\r\n\r\njunk after subtype\r\n--b\r\nContent-Type:\r\n\r\nempty\r\n--b\r\nContent-Type: image\r\n\r\nimage no subtype\r\n--b\r\nContent-Type: multipart\r\n\r\nbare multipart\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n--b\r\nContent-Type: Application/X-Thing; A=1; b=\"two words\"; c=\"x\\\"y\"\r\n\r\nthing\r\n--b--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL)(\"\" \"\" NIL NIL NIL \"7bit\" 18 NIL NIL NIL NIL)(\"\" \"\" NIL NIL NIL \"7bit\" 5 NIL NIL NIL NIL)(\"image\" \"\" NIL NIL NIL \"7bit\" 16 NIL NIL NIL NIL)(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 14 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)(\"Application\" \"X-Thing\" (\"A\" \"1\" \"b\" \"two words\" \"c\" \"x\\\"y\") NIL NIL \"7bit\" 5 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
    assert_fetch(
        &message,
        "BODY.PEEK[6.MIME]",
        b"BODY[6.MIME] {30}\r\nContent-Type: message/rfc822\r\n",
    );
    assert_fetch(
        &message,
        "BODY.PEEK[6.HEADER.FIELDS (Content-Type)]",
        b"BODY[6.HEADER.FIELDS (CONTENT-TYPE)] {2}\r\n\r\n",
    );
    assert_fetch(&message, "BINARY.PEEK[6]", b"BINARY[6] {0}\r\n");
}

/// A part header ended by a boundary; HEADER.FIELDS reads on to the next blank line, as Dovecot.
#[test]
fn part_header_cut_by_boundary() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: cut\r\n--b\r\nContent-Type: text/plain\r\n\r\nlast\r\n--b--"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 25 (NIL \"cut\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
    assert_fetch(
        &message,
        "BODY.PEEK[1.MIME]",
        b"BODY[1.MIME] {24}\r\nContent-Type: text/plain",
    );
    assert_fetch(
        &message,
        "BODY.PEEK[2.HEADER]",
        b"BODY[2.HEADER] {23}\r\nFrom: x@y\r\nSubject: cut",
    );
    assert_fetch(&message, "BODY.PEEK[2.HEADER.FIELDS (From Content-Type)]", b"BODY[2.HEADER.FIELDS (FROM CONTENT-TYPE)] {39}\r\nFrom: x@y\r\nContent-Type: text/plain\r\n\r\n");
}

/// Voice message with audio/mpeg and a text/calendar part.
#[test]
fn voice_message_and_calendar() {
    let message = ParsedMessage::parse(&b"From: voicemail@contoso.example\r\nTo: alice@contoso.example\r\nSubject: Voice message from +1 555 0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"vm\"\r\n\r\n--vm\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nYou received a voice message.=0D=0ALength: 0:12\r\n--vm\r\nContent-Type: audio/mpeg; name=\"message.mp3\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"message.mp3\"\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\nOTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\r\ncnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq\r\nq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj\r\n5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhsc\r\nHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFFSU1RV\r\nVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2O\r\nj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbH\r\nyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8A\r\nAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5\r\nOjs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFy\r\nc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTlJWWl5iZmpucnZ6foKGio6Slpqeoqaqr\r\nrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3+Dh4uPk\r\n5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\r\nHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVW\r\nV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6P\r\nkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfI\r\nycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wAB\r\nAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6\r\nOzw9Pj9AQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJz\r\ndHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqus\r\nra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl\r\n5ufo6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e\r\nHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX\r\nWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+Q\r\nkZKTlJWWl5iZmpucnZ6foKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJ\r\nysvMzc7P0NHS09TV1tfY2drb3N3e3+Dh4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/AAEC\r\nAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7\r\nPD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0\r\ndXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6yt\r\nrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm\r\n5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\r\nICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFFSU1RVVldY\r\nWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CR\r\nkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnK\r\ny8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8AAQID\r\nBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8\r\nPT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1\r\ndnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTlJWWl5iZmpucnZ6foKGio6SlpqeoqaqrrK2u\r\nr7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3+Dh4uPk5ebn\r\n6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\r\nISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZ\r\nWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGS\r\nk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrL\r\nzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgME\r\nBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9\r\nPj9AQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2\r\nd3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6v\r\nsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo\r\n6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh\r\nIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla\r\nW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKT\r\nlJWWl5iZmpucnZ6foKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvM\r\nzc7P0NHS09TV1tfY2drb3N3e3+Dh4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/AAECAwQF\r\nBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+\r\nP0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3\r\neHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+w\r\nsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp\r\n6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEi\r\nIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpb\r\nXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOU\r\nlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zN\r\nzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8AAQIDBAUG\r\nBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/\r\nQEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4\r\neXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTlJWWl5iZmpucnZ6foKGio6SlpqeoqaqrrK2ur7Cx\r\nsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3+Dh4uPk5ebn6Onq\r\n6+zt7u/w8fLz9PX29/j5+vv8/f7/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj\r\nJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltc\r\nXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SV\r\nlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3O\r\nz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYH\r\nCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9A\r\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5\r\nent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGy\r\ns7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err\r\n7O3u7/Dx8vP09fb3+Pn6+/z9/v8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMk\r\nJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xd\r\nXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTlJWW\r\nl5iZmpucnZ6foKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P\r\n0NHS09TV1tfY2drb3N3e3+Dh4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/AAECAwQFBgcI\r\nCQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BB\r\nQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6\r\ne3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKz\r\ntLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs\r\n7e7v8PHy8/T19vf4+fr7/P3+/wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQl\r\nJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1e\r\nX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaX\r\nmJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/Q\r\n0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8=\r\n--vm\r\nContent-Type: text/calendar; method=REQUEST; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n--vm--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 47 0 NIL NIL NIL NIL)(\"audio\" \"mpeg\" (\"name\" \"message.mp3\") NIL NIL \"base64\" 7006 NIL (\"attachment\" (\"filename\" \"message.mp3\")) NIL NIL)(\"text\" \"calendar\" (\"method\" \"REQUEST\" \"charset\" \"UTF-8\") NIL NIL \"7bit\" 30 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"vm\") NIL NIL NIL)");
    assert_fetch(&message, "BINARY.SIZE[2]", b"BINARY.SIZE[2] 5120");
    assert_fetch(
        &message,
        "BINARY.PEEK[1]",
        b"BINARY[1] ~{43}\r\nYou received a voice message.\r\nLength: 0:12",
    );
}

/// name==?..?= workaround, RFC 2231 extended single value, missing continuation index, quoted filename with escapes.
#[test]
fn parameter_quirks() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"utf-8\"; name==?utf-8?q?x.txt?=; title*=us-ascii'en'a%20b; t*1=x; t*2=y\r\nContent-Disposition: ATTACHMENT; filename=\"a \\\"q\\\" b.txt\"; creation-date=\"Mon, 1 Jan 2001\"\r\nContent-Language: de\r\nContent-Location: /x\r\n /y\r\n\r\nbody\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\" \"name\" \"=?utf-8?q?x.txt?=\" \"t*1\" \"x\" \"t*2\" \"y\" \"title*\" \"us-ascii'en'a%20b\") NIL NIL \"7bit\" 6 1 NIL (\"ATTACHMENT\" (\"filename\" \"a \\\"q\\\" b.txt\" \"creation-date\" \"Mon, 1 Jan 2001\")) (\"de\") \"/x /y\")");
}

/// Empty From is NIL; an empty group.
#[test]
fn empty_from_and_groups() {
    let message = ParsedMessage::parse(
        &b"From:\r\nTo: Empty Group:;\r\nBcc: a@b\r\nSubject:\r\n\r\nx\r\n"[..],
    );
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (NIL \"\" NIL NIL NIL ((NIL NIL \"Empty Group\" NIL)(NIL NIL NIL NIL)) NIL ((NIL NIL \"a\" \"b\")) NIL NIL)");
}

/// A message whose own type is message/rfc822.
#[test]
fn top_level_message_rfc822() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@x\r\nSubject: inner top\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\np\r\n--q\r\nContent-Type: text/html\r\n\r\n<p>h</p>\r\n--q--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 190 (NIL \"inner top\" ((NIL NIL \"inner\" \"x\")) ((NIL NIL \"inner\" \"x\")) ((NIL NIL \"inner\" \"x\")) NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"q\") NIL NIL NIL) 14 NIL NIL NIL NIL)");
    assert_fetch(&message, "BODY.PEEK[1.1]", b"BODY[1.1] {1}\r\np");
    assert_fetch(&message, "BODY.PEEK[1.HEADER]", b"BODY[1.HEADER] {105}\r\nFrom: inner@x\r\nSubject: inner top\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n");
    assert_fetch(
        &message,
        "BODY.PEEK[1.2.MIME]",
        b"BODY[1.2.MIME] {27}\r\nContent-Type: text/html\r\n\r\n",
    );
}

/// A continuation line of one white space character is joined without its line break (visible in addresses with an unterminated quote).
#[test]
fn single_space_continuation_joins_without_line_break() {
    let message = ParsedMessage::parse(&b"Cc: J \"a\r\n \r\nTo: J \"\\\r\n \r\n\tb\r\nMessage-ID: <a>\r\n \r\nBcc: J \"a\r\n\tb\r\n\t\r\n\r\nx\r\n"[..]);
    assert_fetch(&message, "ENVELOPE", b"ENVELOPE (NIL NIL NIL NIL NIL (({1}\r\nJ NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"J\" \"MISSING_DOMAIN\")) ((\"J a\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL \"<a> \")");
}

/// NUL in a header: BINARY uses literal8 even for the body alone; BODY[] sends 0x80.
#[test]
fn nul_in_header_or_body_makes_binary_literal8() {
    let message = ParsedMessage::parse(&b"Subject: a\x00b\r\n\r\nbody\r\n"[..]);
    assert_fetch(
        &message,
        "BINARY.PEEK[]",
        b"BINARY[] ~{22}\r\nSubject: a\x00b\r\n\r\nbody\r\n",
    );
    assert_fetch(&message, "BINARY.PEEK[1]", b"BINARY[1] ~{6}\r\nbody\r\n");
    assert_fetch(
        &message,
        "BODY.PEEK[]",
        b"BODY[] {22}\r\nSubject: a\x80b\r\n\r\nbody\r\n",
    );
}

/// NUL outside part headers and leaf bodies: plain literal with 0x80.
#[test]
fn nul_in_preamble_is_not_binary() {
    let message = ParsedMessage::parse(
        &b"Content-Type: multipart/mixed; boundary=b\r\n\r\n\x00pre\r\n--b\r\n\r\nx\r\n--b--\r\n"[..],
    );
    assert_fetch(&message, "BINARY.PEEK[]", b"BINARY[] {68}\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\x80pre\r\n--b\r\n\r\nx\r\n--b--\r\n");
    assert_fetch(&message, "BINARY.PEEK[1]", b"BINARY[1] {1}\r\nx");
}

/// A part with no header before the next boundary: Dovecot's BINARY reads its header on into the next part (duplicating the rewritten header); we do the same.
#[test]
fn empty_part_header_reads_into_next_part_for_binary() {
    let message = ParsedMessage::parse(&b"From: a@b\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 8 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)");
    assert_fetch(&message, "BINARY.PEEK[]", b"BINARY[] ~{244}\r\nFrom: a@b\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\nhello\r\n--XX--\r\n");
    assert_fetch(&message, "BINARY.SIZE[]", b"BINARY.SIZE[] 244");
    assert_fetch(&message, "BINARY.PEEK[1]", b"BINARY[1] {0}\r\n");
    assert_fetch(&message, "BINARY.SIZE[2]", b"BINARY.SIZE[2] 5");
    assert_fetch(&message, "BODY.PEEK[1.MIME]", b"BODY[1.MIME] {0}\r\n");
    assert_fetch(&message, "BODY.PEEK[2.MIME]", b"BODY[2.MIME] {77}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
}

/// An empty body: the blank line after the part header is the line break of the next boundary.
#[test]
fn blank_line_before_boundary_belongs_to_the_boundary() {
    let message = ParsedMessage::parse(&b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n--b--\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
    assert_fetch(
        &message,
        "BODY.PEEK[1.MIME]",
        b"BODY[1.MIME] {26}\r\nContent-Type: text/plain\r\n",
    );
    assert_fetch(&message, "BODY.PEEK[1]", b"BODY[1] {0}\r\n");
    assert_fetch(
        &message,
        "BODY.PEEK[2.MIME]",
        b"BODY[2.MIME] {30}\r\nContent-Type: message/rfc822\r\n",
    );
    assert_fetch(&message, "BODY.PEEK[2.HEADER]", b"BODY[2.HEADER] {0}\r\n");
    assert_fetch(
        &message,
        "BODY.PEEK[2.HEADER.FIELDS (X)]",
        b"BODY[2.HEADER.FIELDS (X)] {2}\r\n\r\n",
    );
}

/// Plain 7bit text uses Dovecot's cached lowercase form.
#[test]
fn lowercase_plain_text_defaults() {
    let message = ParsedMessage::parse(&b"Subject: x\r\nContent-Type: text/plain; charset=US-ASCII\r\nContent-Transfer-Encoding: 7BIT\r\nMIME-Version: 1.0\r\n\r\nbody\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)");
    assert_fetch(
        &message,
        "BODY",
        b"BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)",
    );
}

/// Not plain 7bit: the header's spelling, default charset appended.
#[test]
fn plain_text_with_other_parameters_keeps_its_spelling() {
    let message = ParsedMessage::parse(&b"Subject: x\r\nContent-Type: TEXT/PLAIN; Format=Flowed\r\nMIME-Version: 1.0\r\n\r\nbody\r\n"[..]);
    assert_fetch(&message, "BODYSTRUCTURE", b"BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"Format\" \"Flowed\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)");
    assert_fetch(&message, "BODY", b"BODY (\"TEXT\" \"PLAIN\" (\"Format\" \"Flowed\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)");
}

/// Address lists: groups, routes, comments, missing parts, quoting (RFC 5322 examples too).
#[test]
fn address_lists() {
    assert_fetch(&ParsedMessage::parse(&b"From: Team: a@b, c@d; e@f\r\nTo: Team: a@b, c@d; e@f\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)) ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)) ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)) ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: Team: a@b, c@d;, e@f\r\nTo: Team: a@b, c@d;, e@f\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)(NIL NIL \"e\" \"f\")) ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)(NIL NIL \"e\" \"f\")) ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)(NIL NIL \"e\" \"f\")) ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)(NIL NIL \"e\" \"f\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: user\r\nTo: user\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"user\" \"MISSING_DOMAIN\")) ((NIL NIL \"user\" \"MISSING_DOMAIN\")) ((NIL NIL \"user\" \"MISSING_DOMAIN\")) ((NIL NIL \"user\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: John Doe\r\nTo: John Doe\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"John Doe\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"John Doe\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"John Doe\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"John Doe\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: Name <broken\r\nTo: Name <broken\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"Name\" NIL \"broken\" \"SYNTAX_ERROR\")) ((\"Name\" NIL \"broken\" \"SYNTAX_ERROR\")) ((\"Name\" NIL \"broken\" \"SYNTAX_ERROR\")) ((\"Name\" NIL \"broken\" \"SYNTAX_ERROR\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: <>\r\nTo: <>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: .a.b.@x\r\nTo: .a.b.@x\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \".a.b.\" \"x\")) ((NIL NIL \".a.b.\" \"x\")) ((NIL NIL \".a.b.\" \"x\")) ((NIL NIL \".a.b.\" \"x\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: x@y (Comment Name)\r\nTo: x@y (Comment Name)\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"Comment Name\" NIL \"x\" \"y\")) ((\"Comment Name\" NIL \"x\" \"y\")) ((\"Comment Name\" NIL \"x\" \"y\")) ((\"Comment Name\" NIL \"x\" \"y\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: <@r1.example,@r2.example:x@y>\r\nTo: <@r1.example,@r2.example:x@y>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL \"@r1.example,@r2.example\" \"x\" \"y\")) ((NIL \"@r1.example,@r2.example\" \"x\" \"y\")) ((NIL \"@r1.example,@r2.example\" \"x\" \"y\")) ((NIL \"@r1.example,@r2.example\" \"x\" \"y\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: undisclosed-recipients:\r\nTo: undisclosed-recipients:\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: a@b c, d@e\r\nTo: a@b c, d@e\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: \"a b\" <x@y>, John Q. Public <jqp@example.com>\r\nTo: \"a b\" <x@y>, John Q. Public <jqp@example.com>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"a b\" NIL \"x\" \"y\")(\"John Q. Public\" NIL \"jqp\" \"example.com\")) ((\"a b\" NIL \"x\" \"y\")(\"John Q. Public\" NIL \"jqp\" \"example.com\")) ((\"a b\" NIL \"x\" \"y\")(\"John Q. Public\" NIL \"jqp\" \"example.com\")) ((\"a b\" NIL \"x\" \"y\")(\"John Q. Public\" NIL \"jqp\" \"example.com\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: =?utf-8?q?J=C3=B6rg?= <j@x>\r\nTo: =?utf-8?q?J=C3=B6rg?= <j@x>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: <@bad x@y>\r\nTo: <@bad x@y>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL \"INVALID_ROUTE\" \"x\" \"y\")) ((NIL \"INVALID_ROUTE\" \"x\" \"y\")) ((NIL \"INVALID_ROUTE\" \"x\" \"y\")) ((NIL \"INVALID_ROUTE\" \"x\" \"y\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: @bad\r\nTo: @bad\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"MISSING_MAILBOX\" \"bad\")) ((NIL NIL \"MISSING_MAILBOX\" \"bad\")) ((NIL NIL \"MISSING_MAILBOX\" \"bad\")) ((NIL NIL \"MISSING_MAILBOX\" \"bad\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: a@\r\nTo: a@\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: a@b,\r\nTo: a@b,\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: a@b,,c@d\r\nTo: a@b,,c@d\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"c\" \"d\")) NIL NIL NIL NIL)");
    assert_fetch(
        &ParsedMessage::parse(
            &b"From: (only comment)\r\nTo: (only comment)\r\nSubject: s\r\n\r\nx\r\n"[..],
        ),
        "ENVELOPE",
        b"ENVELOPE (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL)",
    );
    assert_fetch(&ParsedMessage::parse(&b"From: \"quoted only\"\r\nTo: \"quoted only\"\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"quoted only\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"quoted only\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"quoted only\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"quoted only\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: a.@b\r\nTo: a.@b\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"a.\" \"b\")) ((NIL NIL \"a.\" \"b\")) ((NIL NIL \"a.\" \"b\")) ((NIL NIL \"a.\" \"b\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: x@[1.2.3.4]\r\nTo: x@[1.2.3.4]\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"x\" \"[1.2.3.4]\")) ((NIL NIL \"x\" \"[1.2.3.4]\")) ((NIL NIL \"x\" \"[1.2.3.4]\")) ((NIL NIL \"x\" \"[1.2.3.4]\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: \"a\\\"b\\\\c\" <d@e>\r\nTo: \"a\\\"b\\\\c\" <d@e>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" (({5}\r\na\"b\\c NIL \"d\" \"e\")) (({5}\r\na\"b\\c NIL \"d\" \"e\")) (({5}\r\na\"b\\c NIL \"d\" \"e\")) (({5}\r\na\"b\\c NIL \"d\" \"e\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: a@b (nested (comment) here)\r\nTo: a@b (nested (comment) here)\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"nested (comment) here\" NIL \"a\" \"b\")) ((\"nested (comment) here\" NIL \"a\" \"b\")) ((\"nested (comment) here\" NIL \"a\" \"b\")) ((\"nested (comment) here\" NIL \"a\" \"b\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\nTo: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")(\"Who?\" NIL \"one\" \"y.test\")) ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")(\"Who?\" NIL \"one\" \"y.test\")) ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")(\"Who?\" NIL \"one\" \"y.test\")) ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")(\"Who?\" NIL \"one\" \"y.test\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: \"Joe Q. Public\" <john.q.public@example.com>\r\nTo: \"Joe Q. Public\" <john.q.public@example.com>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\nTo: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\nTo: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\nTo: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"boss\" \"nil.test\")({16}\r\nGiant; \"Big\" Box NIL \"sysservices\" \"example.net\")) ((NIL NIL \"boss\" \"nil.test\")({16}\r\nGiant; \"Big\" Box NIL \"sysservices\" \"example.net\")) ((NIL NIL \"boss\" \"nil.test\")({16}\r\nGiant; \"Big\" Box NIL \"sysservices\" \"example.net\")) ((NIL NIL \"boss\" \"nil.test\")({16}\r\nGiant; \"Big\" Box NIL \"sysservices\" \"example.net\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: a@b\r\n\t(folded comment)\r\nTo: a@b\r\n\t(folded comment)\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((\"folded comment\" NIL \"a\" \"b\")) ((\"folded comment\" NIL \"a\" \"b\")) ((\"folded comment\" NIL \"a\" \"b\")) ((\"folded comment\" NIL \"a\" \"b\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: \"\" <x@y>\r\nTo: \"\" <x@y>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: x@y\x00z\r\nTo: x@y\x00z\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL)");
    assert_fetch(&ParsedMessage::parse(&b"From: J\xc3\xb6rg <j@x>\r\nTo: J\xc3\xb6rg <j@x>\r\nSubject: s\r\n\r\nx\r\n"[..]), "ENVELOPE", b"ENVELOPE (NIL \"s\" (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\")) NIL NIL NIL NIL)");
}
