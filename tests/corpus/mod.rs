//! The deterministic MIME corpus of the FETCH/SEARCH differential test (`tests/dovecot.rs`) and
//! of the MIME benchmark (`benches/mime.rs`): every shape of issue 4's list, built by code, so
//! the same bytes come out on every run and nothing is pasted from real mail.
//!
//! Each message is written with bare LF line ends in this file and turned into CRLF by
//! [`crlf`], except the one case that keeps bare LF on purpose (`bare_lf`): IMAP serves CRLF, and
//! the gateway's hub turns bare LF into CRLF as Dovecot does when it serves such a file.
//! [`CorpusMessage::crlf_bytes`] is what a Maildir should hold (see that method).
//!
//! Messages differ in their bytes (the differential test pairs them by BODY[]), carry dates
//! spread over March 2026 (SEARCH SINCE/ON/BEFORE, SENTSINCE/ON/BEFORE), and a few have no Date
//! or no Message-ID at all.
#![allow(dead_code)]

use base64::Engine;

/// One corpus message: a short name (used as file name) and its exact bytes.
pub struct CorpusMessage {
    pub name: &'static str,
    pub raw: Vec<u8>,
}

impl CorpusMessage {
    /// The message with every bare LF turned into CRLF: what Dovecot's Maildir holds. Dovecot
    /// serves a bare-LF file with CRLF too, but computes BINARY.SIZE of such a file from the
    /// stored (LF) octets, so the Maildir copy is stored as IMAP serves it.
    pub fn crlf_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() + self.raw.len() / 40);
        let mut previous = 0u8;
        for &byte in &self.raw {
            if byte == b'\n' && previous != b'\r' {
                out.push(b'\r');
            }
            out.push(byte);
            previous = byte;
        }
        out
    }
}

/// LF to CRLF (the source text below is written with LF).
pub fn crlf(text: &str) -> Vec<u8> {
    crlf_bytes(text.as_bytes())
}

fn crlf_bytes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 40);
    for &byte in text {
        if byte == b'\n' {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

/// Deterministic pseudo-random octets (xorshift64*), for binary payloads.
pub fn octets(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Base64 in lines of 76 characters, each ended by CRLF (RFC 2045 6.8).
pub fn base64_lines(data: &[u8]) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(text.len() + text.len() / 38 + 2);
    for chunk in text.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn message(name: &'static str, parts: &[&[u8]]) -> CorpusMessage {
    CorpusMessage {
        name,
        raw: parts.concat(),
    }
}

/// Size of the voice message's audio/mpeg payload (decoded): over 2 MB, as issue 4 asks.
pub const VOICE_AUDIO_OCTETS: usize = 2 * 1024 * 1024 + 4321;

/// The whole corpus, in a fixed order.
pub fn corpus() -> Vec<CorpusMessage> {
    let mut m = Vec::new();

    m.push(message(
        "simple",
        &[&crlf(
            "Date: Mon, 2 Mar 2026 09:15:00 +0000
From: Fred Foobar <foobar@Blurdybloop.COM>
Subject: afternoon meeting
To: mooch@owatagu.siam.edu
Message-Id: <B27397-0100000@Blurdybloop.COM>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

Hello Joe, do you think we can meet at 3:30 tomorrow?
",
        )],
    ));

    m.push(message(
        "mixed_rfc2231",
        &[&crlf(
            "Date: Tue, 3 Mar 2026 10:00:00 +0100
From: \"Doe, John\" <john@example.com>
To: undisclosed-recipients:;
Subject: =?UTF-8?B?w6lsw6h2ZQ==?= report
Message-ID: <mixed-rfc2231@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"==b1==\"

This is a multi-part message in MIME format.

--==b1==
Content-Type: text/plain; charset=utf-8; format=flowed
Content-Transfer-Encoding: 8bit

Caf\u{e9} body text with the word quarterly
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
--==b1==
Content-Type: text/plain; name*=iso-8859-1'fr'r%E9sum%E9.txt
Content-Disposition: attachment; filename*0=\"long name \"; filename*1=\"in two pieces.txt\"

r\u{e9}sum\u{e9}
--==b1==--
",
        )],
    ));

    m.push(message(
        "alternative_related",
        &[&crlf(
            "Date: Wed, 4 Mar 2026 11:30:00 +0000
From: Newsletter <news@example.org>
To: alice@contoso.example
Subject: alternative with related
Message-ID: <alt-rel@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=outer

--outer
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 soft=
 break and trailing   
--outer
Content-Type: multipart/related; boundary=inner; type=\"text/html\"

--inner
Content-Type: text/html; charset=us-ascii
Content-Language: en-US, fr

<html><body>Newsletter <img src=\"cid:img1\"></body></html>
--inner
Content-Type: image/png; name=a.png
Content-Transfer-Encoding: base64
Content-ID: <img1>
Content-Disposition: inline; filename=\"a.png\"
Content-Location: http://example.com/a.png
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

iVBORw0KGgo=
--inner--

--outer--
",
        )],
    ));

    let deepest = crlf(
        "From: deep@example.com
Subject: level two
Date: Tue, 1 Jan 2019 00:00:00 +0000
Message-ID: <deepest@example.com>

deepest body
",
    );
    let middle = [
        crlf(
            "From: mid@example.com
To: someone@example.com
Subject: level one
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=mid

--mid
Content-Type: text/plain

middle text
--mid
Content-Type: message/rfc822

",
        ),
        deepest,
        crlf("--mid--\n"),
    ]
    .concat();
    m.push(message(
        "rfc822_twice",
        &[
            &crlf(
                "Date: Thu, 5 Mar 2026 08:00:00 +0000
From: top@example.com
To: alice@contoso.example
Subject: Fwd: level one
Message-ID: <rfc822-twice@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=top

--top
Content-Type: text/plain

see attached forward
--top
Content-Type: message/rfc822
Content-Disposition: attachment

",
            ),
            &middle,
            &crlf("--top--\n"),
        ],
    ));

    m.push(message(
        "rfc822_top",
        &[&crlf(
            "Date: Thu, 5 Mar 2026 09:00:00 +0000
From: a@example.net
Subject: message/rfc822 at the top
Message-ID: <rfc822-top@example.net>
MIME-Version: 1.0
Content-Type: message/rfc822

From: inner@example.net
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
",
        )],
    ));

    m.push(message(
        "signed",
        &[&crlf(
            "Date: Fri, 6 Mar 2026 12:00:00 +0000
From: signer@example.com
To: alice@contoso.example
Subject: signed
Message-ID: <signed@example.com>
MIME-Version: 1.0
Content-Type: multipart/signed; micalg=pgp-sha256;
 protocol=\"application/pgp-signature\"; boundary=\"sig\"

--sig
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

signed text
--sig
Content-Type: application/pgp-signature; name=\"signature.asc\"
Content-Description: OpenPGP digital signature
Content-Disposition: attachment; filename=\"signature.asc\"

-----BEGIN PGP SIGNATURE-----
abc
-----END PGP SIGNATURE-----

--sig--
",
        )],
    ));

    m.push(message(
        "encoded_words",
        &[&crlf(
            "Date: Sat, 7 Mar 2026 07:07:07 +0000
From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>
Sender: =?iso-8859-1?b?QW5kcuk=?= <andre@example.fr>
Reply-To: =?utf-8?B?UmVwbHkg8J+Ygg==?= <reply@example.de>
To: =?utf-8?q?Z=C3=BCrich?= <zurich@example.ch>, =?broken?= <b@example.com>
Cc: =?utf-8?q?unterminated <cc@example.com>
Bcc: =?x-unknown?q?strange?= <bcc@example.com>
Subject: =?iso-8859-1?q?this=20is?= =?iso-8859-1?q?_joined?= and =?utf-8?Q?caf=C3=A9?=
 =?utf-8?B?bm90IGJhc2U2NA=?= =?utf-8?X?bad?=
Comments: =?utf-8?q?a_comment?=
Keywords: =?utf-8?q?k=C3=A9y?=
In-Reply-To: <parent@example.de>
Message-ID: <encoded-words@example.de>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Description: =?utf-8?q?d=C3=A9scription?=

body with umlauts \u{e4}\u{f6}\u{fc}
",
        )],
    ));

    m.push(message(
        "eight_bit_and_binary",
        &[
            &crlf(
                "Date: Sun, 8 Mar 2026 23:30:00 -0800
From: J\u{f6}rg <jorg@example.de>
To: \u{65e5}\u{672c} <jp@example.jp>
Subject: Gr\u{fc}\u{df}e aus K\u{f6}ln
Message-ID: <eight-bit@example.de>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=bin

--bin
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

\u{e4}\u{f6}\u{fc} eight bit text
--bin
Content-Type: application/octet-stream; name=blob.bin
Content-Transfer-Encoding: binary

",
            ),
            // binary octets, with no CR or LF so line ends stay the same in every store
            &octets(7, 300)
                .into_iter()
                .map(|b| {
                    if b == b'\r' || b == b'\n' || b == 0 {
                        b'.'
                    } else {
                        b
                    }
                })
                .collect::<Vec<u8>>(),
            &crlf("\n--bin--\n"),
        ],
    ));

    m.push(message(
        "odd_content_types",
        &[&crlf(
            "Date: Mon, 9 Mar 2026 10:00:00 +0000
From: odd@example.com
Subject: odd content types
Message-ID: <odd-types@example.com>
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

empty content type
--b
Content-Type: image

image no subtype
--b
Content-Type: Application/X-Thing; A=1; b=\"two words\"; c=\"x\\\"y\"

thing
--b
Content-Transfer-Encoding: x-uuencode

begin 644 x
--b
Content-Type: text/plain
Content-Transfer-Encoding: BASE64

aGVsbG8gd29ybGQ=
--b
Content-Type: text/plain
Content-Transfer-Encoding: 8-bit-ish

odd encoding token
--b--
",
        )],
    ));

    m.push(message(
        "no_content_type",
        &[&crlf(
            "Date: Tue, 10 Mar 2026 10:00:00 +0000
From: plain@example.com
Subject: no MIME headers at all
Message-ID: <no-ct@example.com>

Just text, no Content-Type and no MIME-Version.
",
        )],
    ));

    m.push(message(
        "cte_without_mime_version",
        &[&crlf(
            "Date: Tue, 10 Mar 2026 11:00:00 +0000
From: x@example.com
Subject: CTE but no MIME-Version
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename=a.txt

aGVsbG8=
",
        )],
    ));

    m.push(message(
        "duplicates",
        &[&crlf(
            "Date: Wed, 11 Mar 2026 10:00:00 +0000
Date: Thu, 12 Mar 2026 10:00:00 +0000
Subject: first subject
From: one@example.com
Subject: second subject
From: two@example.com
To: a@x.example, b@y.example
To: c@z.example
Message-ID: <first-dup@x>
Message-ID: <second-dup@x>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Type: text/plain; charset=latin1
Content-Transfer-Encoding: quoted-printable
Content-Transfer-Encoding: base64
Content-Disposition: inline
Content-Disposition: attachment; filename=x

<b>hi duplicate</b>
",
        )],
    ));

    let long_to: Vec<String> = (0..40)
        .map(|i| format!("\"Recipient Number {i}\" <recipient{i}@long.example.com>"))
        .collect();
    m.push(message(
        "long_folded_headers",
        &[crlf(&format!(
            "Date: Thu, 12 Mar 2026
 10:00:00 +0100
From: folded@example.com
To: {}
Subject: a subject that is long enough to be folded over more than one line
 of header text, with a tab	inside and	another
References: <a@example.com>
 <b@example.com>
	<c@example.com>
Message-ID:
 <folded@example.com>
X-Long: {}

body of the folded one
",
            long_to.join(",\n "),
            "word ".repeat(300).trim_end()
        ))
        .as_slice()],
    ));

    m.push(message(
        "bare_lf",
        &[b"Date: Fri, 13 Mar 2026 10:00:00 +0000
From: lf@example.com
To: alice@contoso.example
Subject: bare LF line ends
Message-ID: <bare-lf@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=XX

preamble
--XX
Content-Type: text/plain

line one
line two
--XX
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

aGVsbG8gYmFyZSBMRg==
--XX--
epilogue
"],
    ));

    m.push(message(
        "empty_body",
        &[&crlf(
            "Date: Sat, 14 Mar 2026 10:00:00 +0000
From: empty@example.com
Subject: empty body
Message-ID: <empty-body@example.com>

",
        )],
    ));

    m.push(message(
        "headers_only",
        &[&crlf(
            "Date: Sat, 14 Mar 2026 11:00:00 +0000
From: headers@example.com
Subject: headers and no blank line
",
        )],
    ));

    m.push(message(
        "very_long_line",
        &[
            &crlf(
                "Date: Sun, 15 Mar 2026 10:00:00 +0000
From: long@example.com
Subject: a very long single line
Message-ID: <long-line@example.com>

",
            ),
            "0123456789abcdef".repeat(5000).as_bytes(),
            b"\r\n",
        ],
    ));

    let audio = octets(2026, VOICE_AUDIO_OCTETS);
    m.push(message(
        "voice_message",
        &[
            &crlf(
                "Date: Mon, 16 Mar 2026 08:45:00 +0000
From: Voice Mail <voicemail@contoso.example>
To: alice@contoso.example
Subject: Voice message from +1 555 0100 (0:42)
Message-ID: <voice-0100@contoso.example>
X-MS-Exchange-Organization-SCL: -1
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"vm\"

--vm
Content-Type: text/plain; charset=\"utf-8\"
Content-Transfer-Encoding: quoted-printable

You received a voice message from +1 555 0100.=0D=0ALength: 0:42
--vm
Content-Type: audio/mpeg; name=\"message.mp3\"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename=\"message.mp3\"

",
            ),
            &base64_lines(&audio),
            &crlf("--vm--\n"),
        ],
    ));

    m.push(message(
        "calendar",
        &[&crlf(
            "Date: Tue, 17 Mar 2026 15:00:00 +0000
From: Organizer <organizer@example.com>
To: alice@contoso.example
Subject: Invitation: design review
Message-ID: <invite@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"cal\"

--cal
Content-Type: text/plain; charset=UTF-8

You are invited to the design review.
--cal
Content-Type: text/calendar; method=REQUEST; charset=UTF-8
Content-Transfer-Encoding: 7bit

BEGIN:VCALENDAR
METHOD:REQUEST
PRODID:-//corpus//EN
VERSION:2.0
BEGIN:VEVENT
UID:review-2026@example.com
DTSTART:20260320T140000Z
DTEND:20260320T150000Z
SUMMARY:Design review
ORGANIZER:mailto:organizer@example.com
ATTENDEE;RSVP=TRUE:mailto:alice@contoso.example
END:VEVENT
END:VCALENDAR
--cal
Content-Type: application/ics; name=\"invite.ics\"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename=\"invite.ics\"

QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=
--cal--
",
        )],
    ));

    m.push(message(
        "latin1",
        &[
            &crlf(
                "Date: Wed, 18 Mar 2026 10:00:00 +0200
From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>
To: alice@contoso.example
Subject: =?ISO-8859-1?Q?r=E9sum=E9_du_projet?=
Message-ID: <latin1@example.fr>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: 8bit

",
            ),
            b"Le caf\xe9 est pr\xeat, \xe0 bient\xf4t.\r\n",
        ],
    ));

    m.push(message(
        "shift_jis",
        &[
            &crlf(
                "Date: Thu, 19 Mar 2026 10:00:00 +0900
From: =?Shift_JIS?B?k/qWe4zq?= <jp@example.jp>
To: alice@contoso.example
Subject: =?Shift_JIS?B?g2WDWINn?=
Message-ID: <sjis@example.jp>
MIME-Version: 1.0
Content-Type: text/plain; charset=Shift_JIS
Content-Transfer-Encoding: 8bit

",
            ),
            b"\x83\x65\x83\x58\x83\x67 \x93\xfa\x96\x7b\x8c\xea\r\n",
        ],
    ));

    m.push(message(
        "odd_addresses",
        &[&crlf(
            "Date: Fri, 20 Mar 2026 10:00:00 +0000
From: \"a b\" <x@y.example>, second@from.example
Sender: <@route1,@route2:user@host.example>
Reply-To: Group One: a@b.example, \"c d\" <e@f.example>;, solo@x.example
To: user-without-at, John Doe, <>, @bad
Cc: Name <broken, x@y.example, (only comment) c@d.example, a@b.example (Comment Name)
Bcc: \"Doe, John\" <jd@example.com> (comment), Empty Group:;
Subject: odd addresses
Message-ID: <odd-addresses@example.com>

text with odd addresses
",
        )],
    ));

    m.push(message(
        "group_syntax",
        &[&crlf(
            "Date: Fri, 20 Mar 2026 11:00:00 +0000
From: Team Leads: alice@contoso.example, bob@contoso.example;
To: undisclosed-recipients:;
Cc: \"Quoted \\\"Name\\\"\" <q@example.com>, Nested: a@n.example, Inner: b@n.example;;
Subject: group syntax
Message-ID: <groups@example.com>

group syntax body
",
        )],
    ));

    m.push(message(
        "no_date",
        &[&crlf(
            "From: nodate@example.com
To: alice@contoso.example
Subject: no Date header here
Message-ID: <no-date@example.com>

This message has no Date header.
",
        )],
    ));

    m.push(message(
        "no_message_id",
        &[&crlf(
            "Date: Sat, 21 Mar 2026 10:00:00 +0000
From: noid@example.com
To: alice@contoso.example
Subject: no Message-ID header here

This message has no Message-ID header.
",
        )],
    ));

    m.push(message(
        "no_date_no_id",
        &[&crlf(
            "From: neither@example.com
Subject: neither Date nor Message-ID

Neither a Date nor a Message-ID.
",
        )],
    ));

    m.push(message(
        "qp_base64_errors",
        &[&crlf(
            "Date: Sun, 22 Mar 2026 10:00:00 +0000
From: errors@example.com
Subject: invalid encodings
Message-ID: <encoding-errors@example.com>
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
Content-Transfer-Encoding: base64

aGVsbG8gd29ybGQ=
--b--
",
        )],
    ));

    m.push(message("params_quirks", &[&crlf(
        "Date: Mon, 23 Mar 2026 10:00:00 +0000
From: params@example.com
Subject: parameter quirks
Message-ID: <params@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=\"utf-8\"; name==?utf-8?q?x.txt?=; title*=us-ascii'en'a%20b; t*1=x; t*2=y
Content-Disposition: ATTACHMENT; filename=\"a \\\"q\\\" b.txt\"; creation-date=\"Mon, 1 Jan 2001\"
Content-Language: de
Content-Location: /x
 /y

body
",
    )]));

    m.push(message(
        "digest",
        &[&crlf(
            "Date: Tue, 24 Mar 2026 10:00:00 +0000
From: digest@example.com
Subject: a digest
Message-ID: <digest@example.com>
MIME-Version: 1.0
Content-Type: multipart/digest; boundary=d

--d

From: one@x.example
Subject: digest one

first in digest
--d
Content-Type: text/plain

not a message
--d--
",
        )],
    ));

    m.push(message(
        "base64_text_utf8",
        &[
            &crlf(
                "Date: Wed, 25 Mar 2026 10:00:00 +0000
From: b64@example.com
To: alice@contoso.example
Subject: base64 text body
Message-ID: <b64-text@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

",
            ),
            &base64_lines("Grüße aus Köln: the secret word is zebrafish.\r\n".as_bytes()),
        ],
    ));

    m.push(message(
        "attachment_names",
        &[&crlf(
            "Date: Thu, 26 Mar 2026 10:00:00 +0000
From: attach@example.com
To: alice@contoso.example
Subject: attachment names
Message-ID: <attach-names@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=a

--a
Content-Type: text/plain

three attachments
--a
Content-Type: application/vnd.ms-excel; name=\"=?utf-8?q?Umsatz_=C3=BCbersicht.xls?=\"
Content-Disposition: attachment; filename=\"=?utf-8?q?Umsatz_=C3=BCbersicht.xls?=\"
Content-Transfer-Encoding: base64

0M8R4KGxGuE=
--a
Content-Type: image/jpeg
Content-Disposition: attachment; filename*=UTF-8''%E5%86%99%E7%9C%9F.jpg
Content-Transfer-Encoding: base64

/9j/4AAQ
--a
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
--a--
",
        )],
    ));

    broken_structures(&mut m);
    m
}

/// Mail that breaks MIME's rules in the ways real mail does; both servers must still agree on
/// its structure.
fn broken_structures(m: &mut Vec<CorpusMessage>) {
    m.push(message(
        "multipart_without_boundary",
        &[&crlf(
            "Date: Fri, 27 Mar 2026 10:00:00 +0000
From: broken@example.com
Subject: multipart without a boundary
MIME-Version: 1.0
Content-Type: multipart/mixed

no boundary here
",
        )],
    ));

    m.push(message(
        "boundary_never_found",
        &[&crlf(
            "Date: Fri, 27 Mar 2026 11:00:00 +0000
From: broken@example.com
Subject: boundary never found
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=zzz

--nope
Content-Type: text/plain

text
",
        )],
    ));

    m.push(message(
        "prefix_boundaries",
        &[&crlf(
            "Date: Fri, 27 Mar 2026 12:00:00 +0000
From: broken@example.com
Subject: one boundary a prefix of the other, inner never closed
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"abc\"

--abc
Content-Type: multipart/alternative; boundary=\"abcdef\"

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
",
        )],
    ));

    m.push(message(
        "part_header_ends_at_boundary",
        &[
            &crlf(
                "Date: Sat, 28 Mar 2026 10:00:00 +0000
From: broken@example.com
Subject: part headers cut by the next boundary
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain
--b
Content-Type: message/rfc822

From: x@example.com
Subject: cut
--b
Content-Type: text/plain

last
",
            ),
            b"--b--",
        ],
    ));

    let inner = base64_lines(b"From: x@example.com\r\nSubject: inner in base64\r\n\r\nhi\r\n");
    m.push(message(
        "rfc822_in_base64",
        &[
            &crlf(
                "Date: Sat, 28 Mar 2026 11:00:00 +0000
From: broken@example.com
Subject: message/rfc822 encoded in base64
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: message/rfc822
Content-Transfer-Encoding: base64

",
            ),
            &inner,
            &crlf("--b--\n"),
        ],
    ));

    m.push(message("nul_octets", &[
        b"Date: Sun, 29 Mar 2026 10:00:00 +0000\r\nFrom: broken@example.com\r\nSubject: nul\x00here\r\nX-Nul: a\x00b\r\n\r\nbody\x00with nul\r\n",
    ]));

    m.push(message(
        "line_without_colon",
        &[&crlf(
            "Date: Sun, 29 Mar 2026 11:00:00 +0000
From: broken@example.com
this line has no colon
Subject: after the line without colon
MIME-Version: 1.0
Content-Type: text/plain

body
",
        )],
    ));

    m.push(message(
        "no_closing_boundary",
        &[
            &crlf(
                "Date: Mon, 30 Mar 2026 10:00:00 +0000
From: broken@example.com
Subject: no closing boundary
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

pre
--b
Content-Type: text/plain

text with no closing boundary
",
            ),
            b"and no line end",
        ],
    ));

    m.push(message(
        "close_without_open",
        &[&crlf(
            "Date: Mon, 30 Mar 2026 11:00:00 +0000
From: broken@example.com
Subject: close delimiter without an open one
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

pre
--b--
epi
",
        )],
    ));

    m.push(message(
        "boundary_with_space",
        &[&crlf(
            "Date: Tue, 31 Mar 2026 10:00:00 +0000
From: broken@example.com
Subject: boundary with a space
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"a b\"

--a b
Content-Type: text/plain

x
--a b--
",
        )],
    ));
}
