//! Differential test: the gateway must answer FETCH and SEARCH as Dovecot does (issue 4).
//!
//! The corpus of `tests/corpus/` is loaded twice: into a Maildir read by a real Dovecot
//! (Debian's `dovecot-imapd`, 2.3), and into the emulator (`imap2graph emulator --seed DIR`)
//! behind `imap2graph serve`. Dovecot runs as its `imap` binary in pre-authenticated mode over
//! a pipe (`/usr/lib/dovecot/imap -c CONF`, as `doveadm exec imap` would), with its own
//! configuration, base and state directories in a temporary directory; as root it runs as
//! `nobody` (Dovecot refuses mail access as root). The gateway is reached as clients reach it:
//! TLS on a loopback port, LOGIN with the demo application's credentials.
//!
//! Then, over one session to each server:
//! - both servers must hold the same messages in the same order (paired by BODY[]: sequence
//!   numbers and UIDs are then comparable); INTERNALDATE is aligned by giving each Maildir file
//!   the mtime the gateway reports (its receivedDateTime, which the emulator takes from the
//!   Date header, or 1 Jan 2026 without one). The Maildir holds each message with CRLF line
//!   ends, as IMAP serves it: the emulator keeps the bare-LF message as it is and the gateway
//!   serves it with CRLF, while Dovecot would compute BINARY.SIZE of a bare-LF file from its
//!   stored octets;
//! - a first session on each server takes \Recent away (Dovecot's also indexes the Maildir),
//!   then the same flags are set on both through STORE (the gateway turns them into Graph
//!   PATCHes);
//! - for every message: ENVELOPE, BODYSTRUCTURE, BODY, RFC822.SIZE, INTERNALDATE, BODY[],
//!   HEADER, TEXT, HEADER.FIELDS(.NOT), partials, the FAST/ALL/FULL macros, every part's
//!   BODY[n] and n.MIME, n.HEADER/n.TEXT where message/rfc822, BINARY[n] and BINARY.SIZE[n] of
//!   every leaf, parts that do not exist; then FETCHes that set \Seen, and UID FETCH;
//! - `SEARCH_QUERIES` (154 of them) as SEARCH and as UID SEARCH.
//!
//! Each answer must be byte-identical (after the `* n FETCH` prefix; tagged responses compare
//! their status and response code, not their text), except the differences listed in
//! `ALLOWED`, each with the RFC clause that allows it. Anything else fails, and the report shows
//! both answers (for SEARCH, the corpus messages only one server found). A BAD from Dovecot
//! fails too: it means the test asked something malformed.
//!
//! Why a pipe and not a Dovecot listener with a passdb: the pre-authenticated `imap` process is
//! the same code that serves IMAP behind Dovecot's login process, needs no ports, users or
//! running master, and works the same as root and as any user; what is compared is the mail
//! process's answers, which a listener would only relay.
//!
//! A second test, `appended_messages_answer_as_dovecot_does` (issue 11), APPENDs the corpus
//! through the gateway and into Dovecot instead, with the same INTERNALDATE, and compares the
//! same way: the gateway must give back what was appended, as Dovecot does.
//!
//! Run it alone with `cargo test --test dovecot -- --nocapture`; `DOVECOT_TEST_SHOW=ITEM` prints
//! both answers to that FETCH item (as written in `fetch_items`) for every message.

mod common;
#[path = "corpus/mod.rs"]
mod corpus;
#[path = "common/dovecot_server.rs"]
mod dovecot_server;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{Gateway, ALICE, SECRET};
use dovecot_server::{current_uid, require_dovecot, DOVECOT_IMAP};

/// A difference between Dovecot's answer and the gateway's that the RFCs allow.
struct Allowed {
    /// The FETCH item or SEARCH command it applies to (a part of it; "" for any).
    item: &'static str,
    /// The corpus message it applies to ("" for any).
    message: &'static str,
    /// Which RFC clause leaves the choice to the server, and what each one does.
    why: &'static str,
    /// True when the two answers differ only in the allowed way.
    applies: fn(dovecot: &[u8], gateway: &[u8]) -> bool,
}

/// Every difference this test accepts. Keep each one narrow.
const ALLOWED: &[Allowed] = &[
    Allowed {
        item: "",
        message: "",
        why: "A FETCH that includes BINARY/BINARY.SIZE of a part that cannot be decoded fails \
              with the same tagged NO on both ([UNKNOWN-CTE] of RFC 3516 4.3, or [PARSE] for \
              invalid base64/QP). Before it, Dovecot sends a `* n FETCH` with the items it had \
              rendered (at least the UID, asked or not); the gateway sends none. RFC 3501 \
              section 7 lets a server send untagged data at any time and 7.4.2 lets it send \
              UID unasked; the answer a client acts on, the tagged NO and its code, is the same.",
        applies: |dovecot, gateway| {
            (gateway.starts_with(b"NO [UNKNOWN-CTE]") || gateway.starts_with(b"NO [PARSE]"))
                && dovecot
                    .strip_suffix(gateway)
                    .is_some_and(|extra| extra.starts_with(b"(UID ") && extra.ends_with(b")\r\n\n"))
        },
    },
    Allowed {
        item: "FETCH ",
        message: "",
        why: "A FETCH of BODY[…], BINARY[…], RFC822 or RFC822.TEXT sets \\Seen (RFC 3501 \
              6.4.5) and both servers add the new FLAGS to that message's FETCH response; \
              Dovecot puts FLAGS first, the gateway last. RFC 3501 7.4.2 does not order the \
              data items of a FETCH response; the items and their values are the same.",
        applies: same_items_in_another_order,
    },
    Allowed {
        item: "",
        message: "",
        why: "SEARCH CHARSET: RFC 3501 6.4.4 lets a server support only US-ASCII and UTF-8 and \
              requires NO [BADCHARSET] for any other. Dovecot converts ISO-8859-1 (iconv); the \
              gateway refuses it as the RFC says.",
        applies: |dovecot, gateway| {
            gateway.ends_with(b" NO [BADCHARSET (US-ASCII UTF-8)]") && dovecot.ends_with(b" OK")
        },
    },
    Allowed {
        item: "BODY.PEEK[TEXT]<0.0>",
        message: "",
        why: "A partial of length 0: RFC 3501 section 9 (section-partial = \"<\" number \".\" \
              nz-number \">\") makes it a syntax error, and the gateway answers BAD; Dovecot \
              accepts it and sends an empty literal.",
        applies: |dovecot, gateway| gateway == b"BAD" && dovecot.ends_with(b"{0}\r\n)\r\n\nOK"),
    },
    Allowed {
        item: "HEADER.FIELDS (\"subject\"",
        message: "",
        why: "A header field name the client sent quoted: Dovecot echoes it quoted in the \
              response's section (`\"SUBJECT\"`), the gateway as an atom (`SUBJECT`). RFC 3501 \
              section 9: header-fld-name is an astring, and an atom and a quoted string with \
              the same characters are the same astring.",
        applies: |dovecot, gateway| {
            let quoted: &[u8] = b"\"SUBJECT\"";
            dovecot
                .windows(quoted.len())
                .position(|w| w == quoted)
                .is_some_and(|at| {
                    let mut unquoted = dovecot[..at].to_vec();
                    unquoted.extend_from_slice(b"SUBJECT");
                    unquoted.extend_from_slice(&dovecot[at + quoted.len()..]);
                    unquoted == gateway
                })
        },
    },
    Allowed {
        item: "SEARCH BCC strange",
        message: "",
        why: "An encoded word in an unknown charset (`=?x-unknown?q?strange?=`): RFC 2047 6.2 \
              lets a reader that does not know the charset show the encoded word as it is, \
              which is what the gateway matches (`strange` is found); Dovecot does not match \
              the undecodable word's text in address and header keys.",
        applies: |dovecot, gateway| dovecot.starts_with(b"[] ") && gateway.ends_with(b"] OK"),
    },
];

/// True when both are one FETCH response with the same (item, value) pairs and status.
fn same_items_in_another_order(dovecot: &[u8], gateway: &[u8]) -> bool {
    fn items(answer: &[u8]) -> Option<(Vec<String>, &[u8])> {
        let mut pos = 0;
        let V::List(values) = parse_value(answer, &mut pos)? else {
            return None;
        };
        let rest = answer.get(pos..)?.strip_prefix(b"\r\n\n")?;
        let mut pairs: Vec<String> = values.chunks(2).map(|pair| format!("{pair:?}")).collect();
        pairs.sort();
        Some((pairs, rest))
    }
    matches!((items(dovecot), items(gateway)), (Some(d), Some(g)) if d == g)
}

/// SEARCH keys run on both servers, as SEARCH and as UID SEARCH. Flags were set by the same
/// STOREs on both; dates are the corpus's March 2026 dates (INTERNALDATE from the Date header).
const SEARCH_QUERIES: &[&str] = &[
    "ALL",
    "ANSWERED",
    "UNANSWERED",
    "DELETED",
    "UNDELETED",
    "FLAGGED",
    "UNFLAGGED",
    "SEEN",
    "UNSEEN",
    "DRAFT",
    "UNDRAFT",
    "RECENT",
    "NEW",
    "OLD",
    "KEYWORD $Forwarded",
    "UNKEYWORD $Forwarded",
    "FROM example.com",
    "FROM john",
    "FROM \"Fred Foobar\"",
    "FROM VOICEMAIL",
    "FROM «Jörg»",
    "CHARSET UTF-8 FROM «Jörg»",
    "FROM André",
    "TO alice",
    "TO contoso",
    "TO recipient39",
    "CC example",
    "CC \"Quoted\"",
    "BCC jd@example.com",
    "BCC bcc",
    "SUBJECT meeting",
    "SUBJECT \"level one\"",
    "SUBJECT \"Voice message\"",
    "CHARSET UTF-8 SUBJECT «café»",
    "CHARSET UTF-8 SUBJECT «résumé»",
    "CHARSET UTF-8 SUBJECT «GRÜSS»",
    "SUBJECT \"this is joined\"",
    "SUBJECT \"\"",
    "HEADER Message-ID example.com",
    "HEADER X-Long word",
    "HEADER Content-Type multipart",
    "HEADER X-Missing \"\"",
    "HEADER Subject \"\"",
    "HEADER References <b@example.com>",
    "HEADER Comments comment",
    "HEADER Content-Description scription",
    "BODY zebrafish",
    "BODY quarterly",
    "BODY \"line two\"",
    "BODY Newsletter",
    "BODY VCALENDAR",
    "BODY \"no Date header\"",
    "CHARSET UTF-8 BODY «café»",
    "CHARSET UTF-8 BODY «bientôt»",
    "TEXT Newsletter",
    "TEXT \"Subject: level\"",
    "TEXT voice",
    "TEXT attachments",
    "TEXT \"level two\"",
    "BODY \"level two\"",
    "BODY \"deepest body\"",
    "BODY \"middle text\"",
    "TEXT audio/mpeg",
    "BODY audio/mpeg",
    "TEXT \"Content-Type: audio\"",
    "TEXT message.mp3",
    "BODY \"hello bare LF\"",
    "HEADER Content-Type audio",
    "CHARSET UTF-8 SUBJECT «Grüße»",
    "CHARSET UTF-8 TO «日本»",
    "LARGER 1000",
    "SMALLER 1000",
    "LARGER 100000",
    "SMALLER 500",
    "SINCE 10-Mar-2026",
    "BEFORE 10-Mar-2026",
    "ON 5-Mar-2026",
    "ON 8-Mar-2026",
    "ON 9-Mar-2026",
    "SENTON 8-Mar-2026",
    "SENTON 9-Mar-2026",
    "SENTON 12-Mar-2026",
    "SENTSINCE 20-Mar-2026",
    "SENTBEFORE 5-Mar-2026",
    "SENTBEFORE 1-Jan-2000",
    "SENTON 1-Jan-1970",
    "SENTON 11-Mar-2026",
    "SENTSINCE 1-Jan-2000",
    "1:5",
    "2,4,6",
    "*",
    "10:*",
    "UID 1:3",
    "UID 5,7:9",
    "NOT SEEN",
    "NOT (FROM example.com SEEN)",
    "OR SEEN FLAGGED",
    "OR FROM alice TO alice",
    "OR OR SEEN FLAGGED DELETED",
    "NOT OR ANSWERED DELETED",
    "(SUBJECT level LARGER 100)",
    "UNSEEN SINCE 15-Mar-2026",
    "CHARSET UTF-8 TEXT «café»",
    "CHARSET US-ASCII SUBJECT odd",
    "1:* NOT 3:5",
    "100:200",
    "UID *",
    "UID 30:*",
    "LARGER 0",
    "SMALLER 0",
    "LARGER 2000000",
    "NOT NOT SEEN",
    "ON 1-Jan-2026",
    "BEFORE 2-Jan-2026",
    "charset utf-8 SUBJECT odd",
    "CHARSET ISO-8859-1 SUBJECT meeting",
    "HEADER From Fred",
    "SUBJECT \"=?utf-8?X?bad?=\"",
    "TO user-without-at",
    "CHARSET UTF-8 SUBJECT «テスト»",
    "CHARSET UTF-8 BODY «日本語»",
    "CHARSET UTF-8 FROM «日本»",
    "BODY \"<img\"",
    "BODY \"%PDF-1.4\"",
    "BODY JVBERi0x",
    "TEXT DTSTART",
    "BODY \"soft break\"",
    "BODY \"with nul\"",
    "SUBJECT nul",
    "BODY \"three (inner never closed)\"",
    "SUBJECT \"inner in base64\"",
    "TEXT \"inner in base64\"",
    "OR (FROM broken SUBJECT boundary) (TO alice UNSEEN)",
    "SUBJECT \"line of header\"",
    "SUBJECT \"tab inside\"",
    "SUBJECT \"tab\tinside\"",
    "HEADER Subject \"tab inside\"",
    "HEADER Subject \"tab\tinside\"",
    "CHARSET UTF-8 FROM «Müller»",
    "CHARSET UTF-8 TO «Zürich»",
    "CC unterminated",
    "BCC strange",
    "REPLY-TO reply",
    "HEADER REPLY-TO reply",
    "HEADER MESSAGE-ID <B27397",
    "HEADER Received x",
    "KEYWORD Blue",
    "UNKEYWORD Blue",
    "SUBJECT \"  \"",
    "FROM \"<>\"",
    "TO \"undisclosed-recipients\"",
    "CC Nested",
    "HEADER X-Nul b",
    "FLAGGED UNANSWERED NOT DELETED 2:*",
];

/// Flags set through STORE on both servers before the comparison (sequence set, flags).
const STORES: &[(&str, &str)] = &[
    ("1,3,5,7,9,11,13,15", "\\Seen"),
    ("2:4,20", "\\Flagged"),
    ("5,6", "\\Answered"),
    ("7", "\\Deleted"),
    ("8", "$Forwarded"),
];

#[test]
fn fetch_and_search_answer_as_dovecot_does() {
    let started = Instant::now();
    require_dovecot();
    let corpus = corpus::corpus();
    let dir = common::temp_dir();

    // The emulator holds the corpus byte for byte; the gateway serves it.
    let seed = dir.path().join("seed");
    let inbox = seed.join(ALICE).join("Inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for (i, message) in corpus.iter().enumerate() {
        std::fs::write(
            inbox.join(format!("{i:03}_{}.eml", message.name)),
            &message.raw,
        )
        .unwrap();
    }
    let emulator = SeededEmulator::start(&seed);
    let data = dir.path().join("gateway");
    std::fs::create_dir_all(&data).unwrap();
    let gateway = Gateway::serve(&data, &emulator.url, &[]);
    let gateway_session = || {
        let mut gw = Imap::new(
            "gateway",
            Box::new(common::tls_connect(gateway.imap, &gateway.cert)),
        );
        gw.read_response(); // greeting
        gw.ok(&format!(
            "LOGIN \"{}\" \"{SECRET}\"",
            common::login_name(ALICE)
        ));
        gw.ok("SELECT INBOX");
        gw
    };
    // A first session takes \Recent away, as the first Dovecot session below does.
    gateway_session().ok("LOGOUT");
    let mut gw = gateway_session();

    // Which corpus message is at which sequence number, and its INTERNALDATE.
    let listing = gw.ok("FETCH 1:* (UID INTERNALDATE BODY.PEEK[])");
    let mut order: Vec<(usize, String)> = Vec::new();
    for response in &listing.untagged {
        let Some((_, items)) = parse_fetch(response) else {
            continue;
        };
        let body = item(&items, "BODY[]")
            .and_then(V::bytes)
            .expect("BODY[] in FETCH");
        let date = item(&items, "INTERNALDATE")
            .and_then(V::bytes)
            .expect("INTERNALDATE in FETCH");
        let index = corpus
            .iter()
            .position(|m| as_served(&m.crlf_bytes()) == body)
            .unwrap_or_else(|| {
                panic!(
                    "the gateway's BODY[] matches no corpus message: {:?}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                )
            });
        order.push((index, String::from_utf8_lossy(&date).into_owned()));
    }
    let seen: BTreeSet<usize> = order.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        (order.len(), seen.len()),
        (corpus.len(), corpus.len()),
        "the gateway must show every corpus message once"
    );

    // Dovecot's Maildir holds the same messages, named so that it numbers them in the same
    // order, with the gateway's INTERNALDATE as mtime.
    let dovecot = DovecotDir::create();
    let cur = dovecot.maildir.join("cur");
    for (seq, (index, date)) in order.iter().enumerate() {
        let path = cur.join(format!("{}.M{seq}P1.corpus:2,", 1_700_000_000 + seq));
        std::fs::write(&path, corpus[*index].crlf_bytes()).unwrap();
        let time = chrono::DateTime::parse_from_str(date.trim(), "%d-%b-%Y %H:%M:%S %z")
            .unwrap_or_else(|err| panic!("INTERNALDATE {date:?}: {err}"));
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(time.timestamp() as u64);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    dovecot.hand_over();
    // A first session indexes the Maildir and takes \Recent away, as the gateway's first
    // session did.
    dovecot
        .run_once(b"a SELECT INBOX\r\nb FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)\r\nz LOGOUT\r\n");
    let mut dc = Imap::new("dovecot", Box::new(dovecot.spawn()));
    dc.read_response();
    dc.ok("SELECT INBOX");

    let indices: Vec<usize> = order.iter().map(|(i, _)| *i).collect();
    compare_servers(gw, dc, &corpus, &indices, started);
    drop(gateway);
    drop(emulator);
}

/// Issue 11: the corpus APPENDed through the gateway (into an empty Inbox) and into Dovecot, with
/// the same INTERNALDATE, then compared as above: every answer must be Dovecot's, which serves
/// what was appended. The emulator writes the MIME of what the gateway creates anew, as Exchange
/// does, so what is compared is what the gateway kept.
#[test]
fn appended_messages_answer_as_dovecot_does() {
    let started = Instant::now();
    require_dovecot();
    let corpus = corpus::corpus();
    let dir = common::temp_dir();

    // alice with an empty Inbox.
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(seed.join(ALICE).join("Inbox")).unwrap();
    let emulator = SeededEmulator::start(&seed);
    let data = dir.path().join("gateway");
    std::fs::create_dir_all(&data).unwrap();
    let gateway = Gateway::serve(&data, &emulator.url, &[]);
    let gateway_session = |gateway: &Gateway, select: bool| {
        let mut gw = Imap::new(
            "gateway",
            Box::new(common::tls_connect(gateway.imap, &gateway.cert)),
        );
        gw.read_response(); // greeting
        gw.ok(&format!(
            "LOGIN \"{}\" \"{SECRET}\"",
            common::login_name(ALICE)
        ));
        if select {
            gw.ok("SELECT INBOX");
        }
        gw
    };
    let dovecot = DovecotDir::create();
    dovecot.hand_over();

    // The same APPENDs, in corpus order, to both.
    let mut gw = gateway_session(&gateway, false);
    let mut dc = Imap::new("dovecot", Box::new(dovecot.spawn()));
    dc.read_response();
    let mut refused = Vec::new();
    let mut order = Vec::new();
    for (index, message) in corpus.iter().enumerate() {
        let raw = message.crlf_bytes();
        let date = internal_date(&raw);
        let gateway_answer = gw.append("INBOX", &date, &raw);
        if REFUSED_APPENDS.contains(&message.name) {
            assert!(
                gateway_answer.starts_with(b"NO [PARSE]"),
                "the gateway was to refuse {} with NO [PARSE]: {}",
                message.name,
                String::from_utf8_lossy(&gateway_answer)
            );
            continue;
        }
        order.push(index);
        let dovecot_answer = dc.append("INBOX", &date, &raw);
        assert!(
            dovecot_answer.starts_with(b"OK"),
            "Dovecot refused to APPEND {}: {}",
            message.name,
            String::from_utf8_lossy(&dovecot_answer)
        );
        if !gateway_answer.starts_with(b"OK") {
            refused.push(format!(
                "{}: {}",
                message.name,
                String::from_utf8_lossy(&gateway_answer)
            ));
        }
    }
    assert!(
        refused.is_empty(),
        "the gateway refused APPENDs Dovecot took:\n{}",
        refused.join("\n")
    );
    gw.ok("LOGOUT");
    dc.ok("LOGOUT");
    drop(dc);

    // The gateway restarts on the same uid store, so what it serves comes from what it kept and
    // what Graph holds, not from anything held in memory since the APPEND.
    gateway.stop();
    let gateway = Gateway::serve(&data, &emulator.url, &[]);

    // A first session on each takes \Recent away.
    gateway_session(&gateway, true).ok("LOGOUT");
    dovecot.run_once(b"a SELECT INBOX\r\nz LOGOUT\r\n");
    let gw = gateway_session(&gateway, true);
    let mut dc = Imap::new("dovecot", Box::new(dovecot.spawn()));
    dc.read_response();
    dc.ok("SELECT INBOX");
    compare_servers(gw, dc, &corpus, &order, started);
    drop(gateway);
    drop(emulator);
}

/// Corpus messages the gateway refuses to APPEND, by design, with NO [PARSE] (Dovecot stores
/// them): a header line that is neither a field nor a folded continuation is not RFC 5322 (2.2),
/// and the gateway answers so rather than guess where the header ends (tests/hostile_append.rs).
/// They go to neither server.
const REFUSED_APPENDS: &[&str] = &["line_without_colon"];

/// The INTERNALDATE both servers are given for a message: its Date header in UTC, or the start
/// of 2026 when it has none that parses (as the emulator takes receivedDateTime for seeds).
fn internal_date(raw: &[u8]) -> String {
    let header_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let header = String::from_utf8_lossy(&raw[..header_end])
        .replace("\r\n\t", " ")
        .replace("\r\n ", "  ");
    let date = header
        .split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("date")
                .then(|| value.trim().to_string())
        })
        .and_then(|value| chrono::DateTime::parse_from_rfc2822(&value).ok())
        .map(|date| date.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("1 Jan 2026"));
    date.format("%d-%b-%Y %H:%M:%S +0000").to_string()
}

/// Compares the two servers' answers for `corpus`, whose messages each holds at sequence numbers
/// 1..N in `order` (corpus indices), and fails with every difference not in `ALLOWED`.
fn compare_servers(
    mut gw: Imap,
    mut dc: Imap,
    corpus: &[corpus::CorpusMessage],
    order: &[usize],
    started: Instant,
) {
    // Same messages in the same order on both.
    let dc_listing = dc.ok("FETCH 1:* (UID BODY.PEEK[])");
    let mut dc_order = Vec::new();
    for response in &dc_listing.untagged {
        if let Some((_, items)) = parse_fetch(response) {
            let body = item(&items, "BODY[]").and_then(V::bytes).unwrap();
            dc_order.push(
                corpus
                    .iter()
                    .position(|m| as_served(&m.crlf_bytes()) == body),
            );
        }
    }
    let gw_order: Vec<Option<usize>> = order.iter().map(|i| Some(*i)).collect();
    assert_eq!(
        dc_order, gw_order,
        "Dovecot numbers the messages in another order"
    );
    let uids_gw = uids(&mut gw);
    let uids_dc = uids(&mut dc);

    // The same flags on both.
    for (set, flag) in STORES {
        gw.ok(&format!("STORE {set} +FLAGS.SILENT ({flag})"));
        dc.ok(&format!("STORE {set} +FLAGS.SILENT ({flag})"));
    }

    let mut report = Report::default();
    let names: Vec<&str> = order.iter().map(|i| corpus[*i].name).collect();
    let flags_gw = flag_sets(&mut gw);
    let flags_dc = flag_sets(&mut dc);
    for (seq, name) in names.iter().enumerate() {
        report.compare(
            name,
            "FLAGS",
            format!("{:?}", flags_dc[seq]).as_bytes(),
            format!("{:?}", flags_gw[seq]).as_bytes(),
        );
    }

    // FETCH, message by message.
    for (seq0, name) in names.iter().enumerate() {
        let seq = seq0 + 1;
        let structure = dc.ok(&format!("FETCH {seq} (BODYSTRUCTURE)"));
        let parts = structure
            .untagged
            .iter()
            .find_map(|r| parse_fetch(r))
            .and_then(|(_, items)| item(&items, "BODYSTRUCTURE").cloned())
            .map(|bs| {
                let mut parts = Vec::new();
                enumerate_inner(&bs, &[], &mut parts);
                parts
            })
            .unwrap_or_default();
        for fetch_item in fetch_items(&parts) {
            let command = if fetch_item.starts_with('(') || MACROS.contains(&fetch_item.as_str()) {
                format!("FETCH {seq} {fetch_item}")
            } else {
                format!("FETCH {seq} ({fetch_item})")
            };
            let dovecot = dc.command(&command).fetch_answer(seq);
            // A BAD from Dovecot means this test asked something wrong, not a difference.
            if dovecot.ends_with(b"BAD") {
                report
                    .failures
                    .push(format!("--- {name}: Dovecot answered BAD to {command}"));
            }
            let gateway = gw.command(&command).fetch_answer(seq);
            if std::env::var_os("DOVECOT_TEST_SHOW").is_some_and(|v| *v == *fetch_item) {
                eprintln!(
                    "{name} {fetch_item}\n  dovecot: {}\n  gateway: {}",
                    show(&dovecot),
                    show(&gateway)
                );
            }
            report.compare(name, &fetch_item, &dovecot, &gateway);
        }
    }

    // SEARCH, by sequence number and by UID.
    assert_eq!(
        uids_dc, uids_gw,
        "UIDs differ; the UID search keys below assume both servers number 1..N"
    );
    for query in SEARCH_QUERIES {
        for uid in [false, true] {
            let command = format!("{}SEARCH {query}", if uid { "UID " } else { "" });
            let dc_reply = dc.command(&command);
            let gw_reply = gw.command(&command);
            let (dovecot, gateway) = (dc_reply.search_answer(), gw_reply.search_answer());
            let mut label = String::from("SEARCH");
            if dovecot != gateway {
                let (d, g) = (dc_reply.search_numbers(), gw_reply.search_numbers());
                let only = |a: &BTreeSet<u64>, b: &BTreeSet<u64>| {
                    a.difference(b)
                        .filter_map(|n| {
                            let seq = if uid {
                                uids_dc.iter().position(|u| *u as u64 == *n)?
                            } else {
                                *n as usize - 1
                            };
                            names.get(seq).copied()
                        })
                        .collect::<Vec<_>>()
                };
                label = format!(
                    "SEARCH (only Dovecot: {:?}; only the gateway: {:?})",
                    only(&d, &g),
                    only(&g, &d)
                );
            }
            report.compare(&label, &command, &dovecot, &gateway);
        }
    }

    // FETCHes that set \Seen (RFC 3501 6.4.5: BODY[…], BINARY[…], RFC822, RFC822.TEXT), on
    // messages not seen yet: the FLAGS they add to the answer, and the flags afterwards.
    for (seq, fetch_item) in [
        (2, "BODY[1]"),
        (4, "BINARY[1]"),
        (6, "RFC822.TEXT"),
        (10, "RFC822"),
        (12, "BODY[HEADER]"),
    ] {
        let command = format!("FETCH {seq} ({fetch_item})");
        let dovecot = dc.command(&command).fetch_answer(seq);
        let gateway = gw.command(&command).fetch_answer(seq);
        report.compare(names[seq - 1], &command, &dovecot, &gateway);
    }
    // UID FETCH: the UID item is added to each response (RFC 3501 6.4.8).
    for command in [
        "UID FETCH 1:* (FLAGS RFC822.SIZE)",
        "UID FETCH 3,5:7 (INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
        "UID FETCH 4 (BINARY.PEEK[1] BINARY.SIZE[1])",
    ] {
        let dovecot = dc.command(command);
        let gateway = gw.command(command);
        let mut d = dovecot.untagged.concat();
        d.extend_from_slice(&dovecot.status());
        let mut g = gateway.untagged.concat();
        g.extend_from_slice(&gateway.status());
        report.compare("(several)", command, &d, &g);
    }
    let flags_gw = flag_sets(&mut gw);
    let flags_dc = flag_sets(&mut dc);
    for (seq, name) in names.iter().enumerate() {
        report.compare(
            name,
            "FLAGS after FETCH BODY[]",
            format!("{:?}", flags_dc[seq]).as_bytes(),
            format!("{:?}", flags_gw[seq]).as_bytes(),
        );
    }

    gw.ok("LOGOUT");
    dc.ok("LOGOUT");
    eprintln!(
        "dovecot differential: {} messages, {} comparisons, {} allowed differences, {:.1?}",
        corpus.len(),
        report.compared,
        report.allowed,
        started.elapsed()
    );
    for (index, count) in &report.allowed_by {
        let why = ALLOWED[*index].why;
        let short: String = why.chars().take(90).collect();
        eprintln!("  allowed {count}x: {short}…");
    }
    if !report.failures.is_empty() {
        panic!(
            "{} answers differ from Dovecot's (of {} compared):\n\n{}",
            report.failures.len(),
            report.compared,
            report.failures.join("\n")
        );
    }
}

/// A message as both servers send it in BODY[]: NUL octets become 0x80 (Dovecot's choice,
/// which the gateway follows; a literal cannot carry NUL, RFC 3501 4.3).
fn as_served(raw: &[u8]) -> Vec<u8> {
    raw.iter().map(|&b| if b == 0 { 0x80 } else { b }).collect()
}

/// FETCH macros (RFC 3501 6.4.5), sent without parentheses.
const MACROS: &[&str] = &["FAST", "ALL", "FULL"];

/// The FETCH items asked of one message whose parts are `parts`.
fn fetch_items(parts: &[(Vec<u32>, PartKind)]) -> Vec<String> {
    let mut items: Vec<String> = [
        "ENVELOPE",
        "BODYSTRUCTURE",
        "BODY",
        "RFC822.SIZE",
        "INTERNALDATE",
        "BODY.PEEK[]",
        "BODY.PEEK[HEADER]",
        "BODY.PEEK[TEXT]",
        "BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID X-Missing)]",
        "BODY.PEEK[HEADER.FIELDS.NOT (Subject Content-Type)]",
        "BODY.PEEK[]<0.100>",
        "BODY.PEEK[TEXT]<10.50>",
        "BODY.PEEK[1]<0.20>",
        "RFC822.HEADER",
        "BINARY.PEEK[]",
        "BINARY.SIZE[]",
        "BODY.PEEK[99]",
        "BODY.PEEK[1.2.3.4]",
        "BINARY.PEEK[99]",
        "BINARY.SIZE[99]",
        "BODY.PEEK[]<100000000.10>",
        "BODY.PEEK[TEXT]<0.0>",
        "BINARY.PEEK[1]<0.10>",
        "BINARY.PEEK[]<3.17>",
        "BODY.PEEK[1.MIME]<0.5>",
        "BODY.PEEK[1.HEADER]",
        "BODY.PEEK[1.TEXT]",
        "BODY.PEEK[HEADER.FIELDS (\"subject\" FROM from X-Nul)]",
        "BODY.PEEK[HEADER.FIELDS.NOT (DATE FROM TO CC SUBJECT MESSAGE-ID MIME-VERSION)]",
        "RFC822.SIZE BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)] BODYSTRUCTURE",
        "FAST",
        "ALL",
        "FULL",
        "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)] BINARY.SIZE[1])",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (path, kind) in parts {
        let p = path
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".");
        items.push(format!("BODY.PEEK[{p}]"));
        items.push(format!("BODY.PEEK[{p}.MIME]"));
        match kind {
            PartKind::Message => {
                items.push(format!("BODY.PEEK[{p}.HEADER]"));
                items.push(format!("BODY.PEEK[{p}.TEXT]"));
                items.push(format!("BODY.PEEK[{p}.HEADER.FIELDS (Subject From)]"));
            }
            PartKind::Leaf => {
                items.push(format!("BINARY.PEEK[{p}]"));
                items.push(format!("BINARY.SIZE[{p}]"));
            }
            PartKind::Multipart => {}
        }
    }
    items
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum PartKind {
    Multipart,
    Message,
    Leaf,
}

/// The numbered parts inside `body` (a BODYSTRUCTURE list) whose own number is `base`: a
/// multipart's children are base.1, base.2, …; a single part is base.1 (just "1" at the top).
fn enumerate_inner(body: &V, base: &[u32], out: &mut Vec<(Vec<u32>, PartKind)>) {
    let V::List(elements) = body else { return };
    if matches!(elements.first(), Some(V::List(_))) {
        for (i, child) in elements
            .iter()
            .take_while(|e| matches!(e, V::List(_)))
            .enumerate()
        {
            let mut path = base.to_vec();
            path.push(i as u32 + 1);
            enumerate_part(child, path, out);
        }
    } else {
        let mut path = base.to_vec();
        path.push(1);
        enumerate_part(body, path, out);
    }
}

fn enumerate_part(body: &V, path: Vec<u32>, out: &mut Vec<(Vec<u32>, PartKind)>) {
    let V::List(elements) = body else { return };
    if matches!(elements.first(), Some(V::List(_))) {
        out.push((path.clone(), PartKind::Multipart));
        for (i, child) in elements
            .iter()
            .take_while(|e| matches!(e, V::List(_)))
            .enumerate()
        {
            let mut child_path = path.clone();
            child_path.push(i as u32 + 1);
            enumerate_part(child, child_path, out);
        }
        return;
    }
    let is = |i: usize, want: &str| {
        elements
            .get(i)
            .and_then(V::bytes)
            .is_some_and(|b| b.eq_ignore_ascii_case(want.as_bytes()))
    };
    if is(0, "message") && is(1, "rfc822") && matches!(elements.get(8), Some(V::List(_))) {
        out.push((path.clone(), PartKind::Message));
        enumerate_inner(&elements[8], &path, out);
    } else {
        out.push((path, PartKind::Leaf));
    }
}

#[derive(Default)]
struct Report {
    compared: usize,
    allowed: usize,
    /// How often each entry of ALLOWED applied.
    allowed_by: std::collections::BTreeMap<usize, usize>,
    failures: Vec<String>,
}

impl Report {
    fn compare(&mut self, message: &str, item: &str, dovecot: &[u8], gateway: &[u8]) {
        self.compared += 1;
        if dovecot == gateway {
            return;
        }
        if let Some(index) = ALLOWED.iter().position(|a| {
            item.contains(a.item)
                && (a.message.is_empty() || a.message == message)
                && (a.applies)(dovecot, gateway)
        }) {
            *self.allowed_by.entry(index).or_default() += 1;
            self.allowed += 1;
            return;
        }
        self.failures.push(format!(
            "--- {message}: {item}\n  dovecot: {}\n  gateway: {}",
            show(dovecot),
            show(gateway)
        ));
    }
}

/// An answer for the report: escaped, long ones cut in the middle.
fn show(bytes: &[u8]) -> String {
    let text = bytes.escape_ascii().to_string();
    if text.len() > 1600 {
        format!(
            "{} …[{} octets]… {}",
            &text[..800],
            bytes.len(),
            &text[text.len() - 600..]
        )
    } else {
        text
    }
}

fn uids(imap: &mut Imap) -> Vec<u32> {
    imap.ok("FETCH 1:* (UID)")
        .untagged
        .iter()
        .filter_map(|r| parse_fetch(r))
        .map(|(_, items)| {
            let uid = item(&items, "UID").and_then(V::bytes).unwrap_or_default();
            String::from_utf8_lossy(&uid).parse().unwrap_or(0)
        })
        .collect()
}

/// Each message's flags, as a sorted set (the order inside FLAGS is the server's choice).
fn flag_sets(imap: &mut Imap) -> Vec<BTreeSet<String>> {
    imap.ok("FETCH 1:* (FLAGS)")
        .untagged
        .iter()
        .filter_map(|r| parse_fetch(r))
        .map(|(_, items)| match item(&items, "FLAGS") {
            Some(V::List(flags)) => flags
                .iter()
                .filter_map(V::bytes)
                .map(|f| String::from_utf8_lossy(&f).to_ascii_lowercase())
                .collect(),
            _ => BTreeSet::new(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Dovecot

/// Dovecot's configuration, Maildir, base and state directories in one temporary directory.
/// APPENDed messages are saved with CRLF (`mail_save_crlf`), as IMAP serves them: Dovecot
/// computes BINARY.SIZE from the stored octets, which by default have bare LF.
struct DovecotDir {
    dir: tempfile::TempDir,
    maildir: PathBuf,
    config: PathBuf,
    /// Run as this uid/gid (`nobody` when the test runs as root).
    drop_to: Option<u32>,
}

impl DovecotDir {
    fn create() -> DovecotDir {
        // Its own temporary directory (not inside the test's private one), so that `nobody`
        // can reach it when the test runs as root.
        let dir = tempfile::Builder::new()
            .prefix("imap2graph-dovecot-")
            .tempdir()
            .unwrap();
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let uid = current_uid();
        let drop_to = (uid == 0).then_some(65534);
        let mail_uid = drop_to.unwrap_or(uid);
        let base = dir.path();
        let config = base.join("dovecot.conf");
        std::fs::write(
            &config,
            format!(
                "protocols = imap\n\
                 mail_location = maildir:{maildir}\n\
                 base_dir = {base}/run\n\
                 state_dir = {base}/state\n\
                 log_path = {base}/dovecot.log\n\
                 ssl = no\n\
                 mail_uid = {mail_uid}\n\
                 mail_gid = {mail_uid}\n\
                 mail_save_crlf = yes\n\
                 first_valid_uid = 0\n\
                 first_valid_gid = 0\n",
                maildir = maildir.display(),
                base = base.display(),
            ),
        )
        .unwrap();
        DovecotDir {
            dir,
            maildir,
            config,
            drop_to,
        }
    }

    /// Gives the directory to the user Dovecot runs as.
    fn hand_over(&self) {
        if let Some(id) = self.drop_to {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{id}:{id}"))
                .arg(self.dir.path())
                .status()
                .expect("cannot run chown");
            assert!(status.success(), "chown of the Dovecot directory failed");
        }
    }

    fn command(&self) -> Command {
        let mut command = match self.drop_to {
            Some(id) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={id}"))
                    .arg(format!("--regid={id}"))
                    .arg("--clear-groups")
                    .arg(DOVECOT_IMAP);
                c
            }
            None => Command::new(DOVECOT_IMAP),
        };
        command
            .arg("-c")
            .arg(&self.config)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env(
                "USER",
                if self.drop_to.is_some() {
                    "nobody"
                } else {
                    "imap2graph-test"
                },
            )
            .env("HOME", self.dir.path())
            // INTERNALDATE is shown in the server's zone; the gateway shows UTC.
            .env("TZ", "UTC");
        command
    }

    /// One whole session from a script of commands.
    fn run_once(&self, script: &[u8]) {
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start Dovecot's imap");
        child.stdin.take().unwrap().write_all(script).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "Dovecot's imap failed ({}): {}\n{}\nlog: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
        );
    }

    fn spawn(&self) -> DovecotPipe {
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start Dovecot's imap");
        DovecotPipe {
            stdin: child.stdin.take().unwrap(),
            stdout: child.stdout.take().unwrap(),
            child,
        }
    }
}

/// Dovecot's imap process, spoken to over its stdin and stdout.
struct DovecotPipe {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Read for DovecotPipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Write for DovecotPipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stdin.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stdin.flush()
    }
}

impl Drop for DovecotPipe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The emulator with the corpus as its seed

struct SeededEmulator {
    child: Child,
    url: String,
}

impl SeededEmulator {
    fn start(seed: &Path) -> SeededEmulator {
        let mut command = Command::new(common::binary());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("IMAP2GRAPH_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(["emulator", "--listen", "127.0.0.1:0", "--seed"])
            .arg(seed)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start imap2graph emulator");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("Graph emulator: ") {
                        break url.trim().to_string();
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!("imap2graph emulator --seed exited before it listened");
                }
            }
        };
        std::thread::spawn(move || for _ in lines {});
        SeededEmulator { child, url }
    }
}

impl Drop for SeededEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// A raw IMAP client: sends a command, collects every response up to its tagged one.

trait Duplex: Read + Write {}
impl<T: Read + Write> Duplex for T {}

struct Imap {
    who: &'static str,
    stream: Box<dyn Duplex>,
    buf: Vec<u8>,
    next_tag: u32,
}

struct Reply {
    untagged: Vec<Vec<u8>>,
    /// The tagged line without its tag.
    tagged: Vec<u8>,
}

impl Reply {
    /// What a FETCH answered for message `seq`: its FETCH responses without the `* seq FETCH `
    /// prefix, then the tagged status and response code (not the human text, which differs).
    fn fetch_answer(&self, seq: usize) -> Vec<u8> {
        let prefix = format!("* {seq} FETCH ");
        let mut out = Vec::new();
        for response in &self.untagged {
            if let Some(rest) = response.strip_prefix(prefix.as_bytes()) {
                out.extend_from_slice(rest);
                out.extend_from_slice(b"\n");
            }
        }
        out.extend_from_slice(&self.status());
        out
    }

    /// The numbers of `* SEARCH`.
    fn search_numbers(&self) -> BTreeSet<u64> {
        let mut numbers = BTreeSet::new();
        for response in &self.untagged {
            if let Some(rest) = response.strip_prefix(b"* SEARCH") {
                numbers.extend(
                    String::from_utf8_lossy(rest)
                        .split_ascii_whitespace()
                        .filter_map(|n| n.parse::<u64>().ok()),
                );
            }
        }
        numbers
    }

    /// The numbers of `* SEARCH`, sorted, and the tagged status.
    fn search_answer(&self) -> Vec<u8> {
        let numbers: Vec<u64> = self.search_numbers().into_iter().collect();
        let mut out = format!("{numbers:?} ").into_bytes();
        out.extend_from_slice(&self.status());
        out
    }

    /// `OK`, `NO [CODE]` or `BAD [CODE]`: status and response code, not the text.
    fn status(&self) -> Vec<u8> {
        let line = self.tagged.trim_ascii_end();
        let status_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let mut out = line[..status_end].to_ascii_uppercase();
        let rest = &line[status_end..];
        if let Some(code) = rest.strip_prefix(b" [") {
            if let Some(end) = code.iter().position(|&b| b == b']') {
                out.extend_from_slice(b" [");
                out.extend_from_slice(&code[..end].to_ascii_uppercase());
                out.push(b']');
            }
        }
        out
    }
}

impl Imap {
    fn new(who: &'static str, stream: Box<dyn Duplex>) -> Imap {
        Imap {
            who,
            stream,
            buf: Vec::new(),
            next_tag: 1,
        }
    }

    /// Sends `command` (where `«text»` becomes the non-synchronising literal `{n+}` CRLF
    /// text, RFC 7888) and reads every response up to the tagged one.
    fn command(&mut self, command: &str) -> Reply {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        let line = format!("{tag} {}\r\n", with_literals(command));
        self.stream
            .write_all(line.as_bytes())
            .and_then(|_| self.stream.flush())
            .unwrap_or_else(|err| panic!("{}: cannot send {command:?}: {err}", self.who));
        let mut untagged = Vec::new();
        loop {
            let response = self.read_response();
            if let Some(rest) = response.strip_prefix(format!("{tag} ").as_bytes()) {
                return Reply {
                    untagged,
                    tagged: rest.to_vec(),
                };
            }
            if !response.starts_with(b"+") {
                untagged.push(response);
            }
        }
    }

    /// `APPEND mailbox "date" {n}` with `message` as a synchronising literal (`~{n}`, RFC 3516,
    /// when it holds NUL); returns the tagged status line without its tag.
    fn append(&mut self, mailbox: &str, date: &str, message: &[u8]) -> Vec<u8> {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        let binary = if message.contains(&0) { "~" } else { "" };
        let line = format!(
            "{tag} APPEND {mailbox} \"{date}\" {binary}{{{}}}\r\n",
            message.len()
        );
        self.stream
            .write_all(line.as_bytes())
            .and_then(|_| self.stream.flush())
            .unwrap_or_else(|err| panic!("{}: cannot send APPEND: {err}", self.who));
        let go_ahead = self.read_response();
        if !go_ahead.starts_with(b"+") {
            return go_ahead
                .strip_prefix(format!("{tag} ").as_bytes())
                .unwrap_or(&go_ahead)
                .to_vec();
        }
        self.stream
            .write_all(message)
            .and_then(|_| self.stream.write_all(b"\r\n"))
            .and_then(|_| self.stream.flush())
            .unwrap_or_else(|err| panic!("{}: cannot send the APPEND literal: {err}", self.who));
        loop {
            let response = self.read_response();
            if let Some(rest) = response.strip_prefix(format!("{tag} ").as_bytes()) {
                return rest.to_vec();
            }
        }
    }

    /// A command that must succeed.
    fn ok(&mut self, command: &str) -> Reply {
        let reply = self.command(command);
        assert!(
            reply.tagged.starts_with(b"OK"),
            "{}: {command:?} answered {}",
            self.who,
            String::from_utf8_lossy(&reply.tagged)
        );
        reply
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        let n = self
            .stream
            .read(&mut chunk)
            .unwrap_or_else(|err| panic!("{}: read failed: {err}", self.who));
        assert!(n > 0, "{}: the connection closed", self.who);
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// One response: a line, and each literal it announces with the line that follows.
    fn read_response(&mut self) -> Vec<u8> {
        let mut response = Vec::new();
        let mut scanned = 0;
        loop {
            let Some(nl) = self.buf[scanned..].iter().position(|&b| b == b'\n') else {
                scanned = self.buf.len();
                self.fill();
                continue;
            };
            let end = scanned + nl + 1;
            let line: Vec<u8> = self.buf.drain(..end).collect();
            scanned = 0;
            let literal = literal_length(&line);
            response.extend_from_slice(&line);
            match literal {
                Some(n) => {
                    while self.buf.len() < n {
                        self.fill();
                    }
                    response.extend(self.buf.drain(..n));
                }
                None => return response,
            }
        }
    }
}

/// `«text»` as `{n+}` CRLF text.
fn with_literals(command: &str) -> String {
    let mut out = String::new();
    let mut rest = command;
    while let Some(open) = rest.find('«') {
        let close = rest[open..]
            .find('»')
            .map(|c| open + c)
            .expect("unclosed «");
        let text = &rest[open + '«'.len_utf8()..close];
        out.push_str(&rest[..open]);
        out.push_str(&format!("{{{}+}}\r\n{text}", text.len()));
        rest = &rest[close + '»'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// `n` when `line` ends with `{n}\r\n` or `~{n}\r\n`.
fn literal_length(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Just enough of IMAP's response syntax to read FETCH items.

#[derive(Clone, Debug)]
enum V {
    Atom(Vec<u8>),
    Str(Vec<u8>),
    Nil,
    List(Vec<V>),
}

impl V {
    fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            V::Atom(b) | V::Str(b) => Some(b.clone()),
            _ => None,
        }
    }
}

/// `* n FETCH (NAME VALUE …)` as n and its (NAME, VALUE) pairs.
fn parse_fetch(response: &[u8]) -> Option<(u32, Vec<(String, V)>)> {
    let rest = response.strip_prefix(b"* ")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let seq: u32 = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
    let rest = rest[space + 1..].strip_prefix(b"FETCH ")?;
    let mut pos = 0;
    let V::List(values) = parse_value(rest, &mut pos)? else {
        return None;
    };
    let mut items = Vec::new();
    let mut values = values.into_iter();
    while let (Some(name), Some(value)) = (values.next(), values.next()) {
        let name = String::from_utf8_lossy(&name.bytes()?).to_ascii_uppercase();
        items.push((name, value));
    }
    Some((seq, items))
}

fn item<'a>(items: &'a [(String, V)], name: &str) -> Option<&'a V> {
    items.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn parse_value(input: &[u8], pos: &mut usize) -> Option<V> {
    while input.get(*pos) == Some(&b' ') {
        *pos += 1;
    }
    match *input.get(*pos)? {
        b'(' => {
            *pos += 1;
            let mut list = Vec::new();
            loop {
                while input.get(*pos) == Some(&b' ') {
                    *pos += 1;
                }
                if input.get(*pos)? == &b')' {
                    *pos += 1;
                    return Some(V::List(list));
                }
                list.push(parse_value(input, pos)?);
            }
        }
        b'"' => {
            *pos += 1;
            let mut out = Vec::new();
            loop {
                match *input.get(*pos)? {
                    b'\\' => {
                        out.push(*input.get(*pos + 1)?);
                        *pos += 2;
                    }
                    b'"' => {
                        *pos += 1;
                        return Some(V::Str(out));
                    }
                    b => {
                        out.push(b);
                        *pos += 1;
                    }
                }
            }
        }
        b'{' | b'~' => {
            let open = *pos + input[*pos..].iter().position(|&b| b == b'{')?;
            let close = open + input[open..].iter().position(|&b| b == b'}')?;
            let n: usize = std::str::from_utf8(&input[open + 1..close])
                .ok()?
                .parse()
                .ok()?;
            let start = close + 3;
            *pos = start + n;
            Some(V::Str(input.get(start..start + n)?.to_vec()))
        }
        _ => {
            let start = *pos;
            let mut depth = 0;
            while let Some(&b) = input.get(*pos) {
                match b {
                    b'[' => depth += 1,
                    b']' => depth -= 1,
                    b' ' | b'(' | b')' | b'\r' | b'\n' if depth == 0 => break,
                    _ => {}
                }
                *pos += 1;
            }
            let atom = input[start..*pos].to_vec();
            if atom.eq_ignore_ascii_case(b"NIL") {
                Some(V::Nil)
            } else {
                Some(V::Atom(atom))
            }
        }
    }
}
