//! Seeds: the deterministic demo mailboxes (alice with a few hundred varied messages,
//! voicemail with voice messages) and loading mailboxes from a directory of `.eml` files.
//! Owns the MIME generators; everything is derived from a fixed PRNG seed, so every start
//! of the demo produces the same bytes and therefore the same ids.

use std::path::Path;

use base64::Engine;

use crate::config::{SeedFolder, SeedMailbox, SeedMessage};

/// splitmix64: tiny, stable across versions (unlike a crate's RNG), good enough for test data.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

const PEOPLE: &[(&str, &str)] = &[
    ("Bob Smith", "bob@fabrikam.example"),
    ("Carol Jones", "carol@contoso.example"),
    ("Dávid Kovács", "david.kovacs@example.hu"),
    ("Émilie Dubois", "emilie@exemple.fr"),
    ("Frank Müller", "frank.mueller@beispiel.de"),
    ("Grace Lee", "grace@northwind.example"),
    ("Hiro Tanaka", "hiro@example.jp"),
    ("Ines García", "ines@ejemplo.es"),
    ("Jamal Wright", "jamal@tailspin.example"),
    ("Newsletter", "news@lists.example.com"),
];

const TOPICS: &[&str] = &[
    "Quarterly report",
    "Lunch on Friday?",
    "Re: Budget review",
    "Project kickoff",
    "Invoice 2026-0117",
    "Your order has shipped",
    "Meeting notes",
    "Fwd: Conference agenda",
    "Server maintenance window",
    "Welcome aboard",
    "Design review feedback",
    "Travel plans",
];

const NON_ASCII_SUBJECTS: &[&str] = &[
    "Überprüfung der Unterlagen",
    "Réunion de l'équipe — ordre du jour",
    "Presupuesto año 2026",
    "会議の議事録",
    "Привет из Москвы",
    "Smörgåsbord 🍣 on Thursday",
];

const ALICE: (&str, &str) = ("Alice Wonder", "alice@contoso.example");

pub(crate) fn rfc2822_date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// RFC 2047 encoded-word (B encoding) when the text is not ASCII.
pub(crate) fn encode_header_text(s: &str) -> String {
    if s.is_ascii() {
        s.to_string()
    } else {
        let b = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        format!("=?UTF-8?B?{b}?=")
    }
}

fn addr(name: &str, address: &str) -> String {
    format!("{} <{}>", encode_header_text(name), address)
}

fn wrap76(b64: &str) -> String {
    let mut out = String::with_capacity(b64.len() + b64.len() / 76 * 2 + 2);
    let bytes = b64.as_bytes();
    for chunk in bytes.chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push_str("\r\n");
    }
    out
}

pub(crate) fn b64_lines(data: &[u8]) -> String {
    wrap76(&base64::engine::general_purpose::STANDARD.encode(data))
}

/// Quoted-printable for UTF-8 text bodies (soft line breaks at 76).
pub(crate) fn qp(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let mut cur = String::new();
        for &b in line.trim_end_matches('\r').as_bytes() {
            let piece = if (b == b' ' || (33..=126).contains(&b)) && b != b'=' {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if cur.len() + piece.len() > 75 {
                out.push_str(&cur);
                out.push_str("=\r\n");
                cur.clear();
            }
            cur.push_str(&piece);
        }
        if cur.ends_with(' ') {
            cur.pop();
            cur.push_str("=20");
        }
        out.push_str(&cur);
        out.push_str("\r\n");
    }
    out
}

struct Headers {
    from: String,
    to: String,
    cc: Option<String>,
    subject: String,
    date: i64,
    message_id: String,
    extra: Vec<String>,
}

fn header_block(h: &Headers) -> String {
    let mut s = String::new();
    s.push_str(&format!("From: {}\r\n", h.from));
    s.push_str(&format!("To: {}\r\n", h.to));
    if let Some(cc) = &h.cc {
        s.push_str(&format!("Cc: {cc}\r\n"));
    }
    s.push_str(&format!("Subject: {}\r\n", encode_header_text(&h.subject)));
    s.push_str(&format!("Date: {}\r\n", rfc2822_date(h.date)));
    s.push_str(&format!("Message-ID: <{}>\r\n", h.message_id));
    for e in &h.extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s.push_str("MIME-Version: 1.0\r\n");
    s
}

fn body_text(rng: &mut Rng, topic: &str, sender: &str) -> String {
    const LINES: &[&str] = &[
        "Thanks for the update, this looks good to me.",
        "Could you send me the latest numbers before the meeting?",
        "I have attached the document we discussed yesterday.",
        "Let's sync up next week to go over the details.",
        "Please find my comments inline below.",
        "The deadline has moved to the end of the month.",
        "Grüße aus Berlin — see you at the workshop.",
        "Merci beaucoup pour votre aide, à bientôt.",
    ];
    let mut s = format!("Hi Alice,\r\n\r\nRegarding \"{topic}\":\r\n\r\n");
    for _ in 0..(2 + rng.below(5)) {
        let line: &&str = rng.pick(LINES);
        s.push_str(line);
        s.push_str("\r\n");
    }
    s.push_str(&format!("\r\nBest regards,\r\n{sender}\r\n"));
    s
}

fn html_of(text: &str) -> String {
    let mut s = String::from("<html><head><meta charset=\"utf-8\"></head><body>");
    for line in text.split("\r\n") {
        if line.is_empty() {
            s.push_str("<br>");
        } else {
            s.push_str("<p>");
            s.push_str(&line.replace('&', "&amp;").replace('<', "&lt;"));
            s.push_str("</p>");
        }
    }
    s.push_str("</body></html>");
    s
}

fn text_part(text: &str) -> String {
    format!(
        "Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
        qp(text)
    )
}

fn html_part(html: &str) -> String {
    format!(
        "Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
        qp(html)
    )
}

/// One varied message; `kind` picks the structure.
fn build_message(rng: &mut Rng, kind: u64, h: &Headers, sender_name: &str) -> Vec<u8> {
    let mut out = header_block(h);
    let text = body_text(rng, &h.subject, sender_name);
    let boundary = format!("=_b{:016x}", rng.next_u64());
    match kind {
        // text/plain, 7bit ASCII-ish with QP
        0 => out.push_str(&text_part(&text)),
        // text/html only
        1 => out.push_str(&html_part(&html_of(&text))),
        // multipart/alternative
        2 => {
            out.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n{}\r\n--{boundary}\r\n{}\r\n--{boundary}--\r\n",
                text_part(&text),
                html_part(&html_of(&text))
            ));
        }
        // multipart/mixed with a PDF-ish and a small image attachment
        3 => {
            let size = 2_000 + rng.below(40_000) as usize;
            let mut pdf = b"%PDF-1.4\n% imap2graph demo\n".to_vec();
            pdf.extend(rng.bytes(size));
            let png_len = 600 + rng.below(3000) as usize;
            let png = rng.bytes(png_len);
            // Two draws, one used: keeps the generator's sequence (and so every later
            // message) as it was when the name and filename still differed.
            let report_no = rng.below(1000);
            let _unused = rng.below(1000);
            out.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n{}\r\n--{boundary}\r\nContent-Type: application/pdf; name=\"report-{report_no}.pdf\"\r\nContent-Disposition: attachment; filename=\"report-{report_no}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: image/png; name=\"chart.png\"\r\nContent-Disposition: attachment; filename=\"chart.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
                text_part(&text),
                b64_lines(&pdf),
                b64_lines(&png),
            ));
        }
        // nested message/rfc822 (forwarded as attachment)
        4 => {
            let inner_h = Headers {
                from: addr("Grace Lee", "grace@northwind.example"),
                to: addr("Bob Smith", "bob@fabrikam.example"),
                cc: None,
                subject: "Original: supplier contract".to_string(),
                date: h.date - 86_400 * (1 + rng.below(20) as i64),
                message_id: format!("inner.{:x}@northwind.example", rng.next_u64()),
                extra: vec![],
            };
            let mut inner = header_block(&inner_h);
            inner.push_str(&text_part(
                "Please review the attached contract terms.\r\nRegards, Grace\r\n",
            ));
            out.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n{}\r\n--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"forwarded.eml\"\r\n\r\n{}\r\n--{boundary}--\r\n",
                text_part(&text),
                inner
            ));
        }
        // multipart/related: HTML with an inline image, plus alternative text
        5 => {
            let alt = format!("=_a{:016x}", rng.next_u64());
            let img_len = 400 + rng.below(1500) as usize;
            let img = rng.bytes(img_len);
            let html = html_of(&text).replace(
                "</body>",
                "<img src=\"cid:logo@contoso.example\" alt=\"logo\"></body>",
            );
            out.push_str(&format!(
                "Content-Type: multipart/related; boundary=\"{boundary}\"; type=\"multipart/alternative\"\r\n\r\n--{boundary}\r\nContent-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n--{alt}\r\n{}\r\n--{alt}\r\n{}\r\n--{alt}--\r\n\r\n--{boundary}\r\nContent-Type: image/gif; name=\"logo.gif\"\r\nContent-ID: <logo@contoso.example>\r\nContent-Disposition: inline; filename=\"logo.gif\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
                text_part(&text),
                html_part(&html),
                b64_lines(&img),
            ));
        }
        // plain text, base64 transfer encoding, ISO-8859-1 charset
        _ => {
            let latin: Vec<u8> = text
                .chars()
                .map(|c| {
                    if (c as u32) < 256 {
                        c as u32 as u8
                    } else {
                        b'?'
                    }
                })
                .collect();
            out.push_str(&format!(
                "Content-Type: text/plain; charset=\"iso-8859-1\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
                b64_lines(&latin)
            ));
        }
    }
    out.into_bytes()
}

const DAY: i64 = 86_400;
/// 2026-10-31T00:00:00Z: no demo message is dated later.
const LATEST: i64 = 1_793_404_800;
/// 2025-09-01T00:00:00Z: the demo's history starts here.
const EPOCH: i64 = 1_756_684_800;

struct FolderPlan {
    path: &'static [&'static str],
    count: usize,
    outgoing: bool,
    draft: bool,
    hidden: bool,
}

fn alice() -> SeedMailbox {
    let plans = [
        FolderPlan {
            path: &["Inbox"],
            count: 140,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Inbox", "Projects"],
            count: 15,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Inbox", "Projects", "2026"],
            count: 12,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Inbox", "Réunions"],
            count: 8,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Sent Items"],
            count: 40,
            outgoing: true,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Drafts"],
            count: 6,
            outgoing: true,
            draft: true,
            hidden: false,
        },
        FolderPlan {
            path: &["Deleted Items"],
            count: 15,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Archive"],
            count: 40,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Junk Email"],
            count: 10,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Clients"],
            count: 18,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Clients", "Fabrikam"],
            count: 6,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Überprüfung"],
            count: 7,
            outgoing: false,
            draft: false,
            hidden: false,
        },
        FolderPlan {
            path: &["Sync State"],
            count: 2,
            outgoing: false,
            draft: false,
            hidden: true,
        },
    ];
    let mut rng = Rng::new(0x1AA6_2C0D_E5EE_D001);
    let mut folders = Vec::new();
    let mut n: u64 = 0;
    for plan in &plans {
        let mut messages = Vec::new();
        // Spread the folder's messages over ~14 months, oldest first.
        let mut ts = EPOCH + rng.below(10 * DAY as u64) as i64;
        let step = (420 * DAY) / (plan.count.max(1) as i64);
        for i in 0..plan.count {
            n += 1;
            ts += step / 2 + rng.below(step as u64) as i64;
            // Never in the future of the demo's history (folders with few messages take
            // long strides).
            let ts_capped = ts.min(LATEST);
            let (pname, paddr) = *rng.pick(PEOPLE);
            let subject = if n % 6 == 0 {
                rng.pick(NON_ASCII_SUBJECTS).to_string()
            } else {
                format!("{} #{n}", rng.pick(TOPICS))
            };
            let (from, to, sender_name) = if plan.outgoing {
                (addr(ALICE.0, ALICE.1), addr(pname, paddr), ALICE.0)
            } else {
                (addr(pname, paddr), addr(ALICE.0, ALICE.1), pname)
            };
            let cc = if n % 5 == 0 {
                let (cn, ca) = *rng.pick(PEOPLE);
                Some(addr(cn, ca))
            } else {
                None
            };
            let mut extra = vec![];
            if n % 17 == 0 {
                extra.push("Importance: high".to_string());
            }
            if plan.path[0] == "Junk Email" {
                extra.push("X-Spam-Flag: YES".to_string());
            }
            let h = Headers {
                from,
                to,
                cc,
                subject,
                date: ts_capped,
                message_id: format!("demo.{n}.{:08x}@contoso.example", rng.next_u64() as u32),
                extra,
            };
            let kind = n % 7;
            let raw = build_message(&mut rng, kind, &h, sender_name);
            let recent = i + 6 >= plan.count;
            let mut sm = SeedMessage::new(raw);
            sm.received = Some(ts_capped + 2 + rng.below(90) as i64);
            sm.is_draft = plan.draft;
            sm.is_read = plan.outgoing || (!recent && rng.below(10) < 8);
            sm.flagged = n % 9 == 0 && !plan.draft;
            if n % 11 == 0 {
                sm.categories = vec!["Red category".to_string()];
            } else if n % 23 == 0 {
                sm.categories = vec!["Important".to_string(), "Blue category".to_string()];
            }
            if !plan.outgoing {
                if n % 13 == 0 {
                    sm.last_verb = Some(102);
                } else if n % 29 == 0 {
                    sm.last_verb = Some(104);
                }
            }
            messages.push(sm);
        }
        folders.push(SeedFolder {
            path: plan.path.iter().map(|s| s.to_string()).collect(),
            hidden: plan.hidden,
            messages,
        });
    }
    SeedMailbox {
        address: crate::demo::ALICE.to_string(),
        display_name: "Alice Wonder".to_string(),
        folders,
    }
}

fn voicemail() -> SeedMailbox {
    let mut rng = Rng::new(0x0005_0CE0_3A11_0002);
    let callers = [
        ("+14255550101", "Bob Smith"),
        ("+14255550102", "Carol Jones"),
        ("+33155550103", "Émilie Dubois"),
        ("+4930555010", "Frank Müller"),
        ("+81355550105", "Hiro Tanaka"),
        ("Unknown", "Unknown caller"),
    ];
    let mut messages = Vec::new();
    let mut ts = EPOCH + 300 * DAY;
    for i in 0..20u64 {
        ts += DAY / 3 + rng.below(3 * DAY as u64) as i64;
        let (number, name) = *rng.pick(&callers);
        let seconds = 3 + rng.below(90);
        let audio_len = 2_000 + rng.below(100_000) as usize;
        // An MPEG audio frame header followed by deterministic noise: not playable, but it
        // looks like audio/mpeg to anything sniffing the first bytes.
        let mut audio = b"ID3\x03\x00\x00\x00\x00\x00\x00".to_vec();
        audio.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        audio.extend(rng.bytes(audio_len));
        let boundary = format!("=_v{:016x}", rng.next_u64());
        let subject = format!("Voice Mail from {name} ({number}) {seconds} seconds");
        let h = Headers {
            from: addr("Voice Mail", "voicemail@contoso.example"),
            to: addr("Voice Mail", "voicemail@contoso.example"),
            cc: None,
            subject,
            date: ts,
            message_id: format!("vm.{i}.{:08x}@contoso.example", rng.next_u64() as u32),
            extra: vec![
                format!("X-Caller-ID: {number}"),
                format!("X-Caller-Name: {}", encode_header_text(name)),
                format!("X-Voice-Duration: {seconds}"),
                "X-MS-Exchange-UM-PartnerContent: voice".to_string(),
            ],
        };
        let mut out = header_block(&h);
        let text = format!(
            "You received a voice mail from {name} at {number}.\r\nDuration: {seconds} seconds.\r\n"
        );
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n{}\r\n--{boundary}\r\nContent-Type: audio/mpeg; name=\"voicemail-{i:02}.mp3\"\r\nContent-Disposition: attachment; filename=\"voicemail-{i:02}.mp3\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
            text_part(&text),
            b64_lines(&audio)
        ));
        let mut sm = SeedMessage::new(out.into_bytes());
        sm.received = Some(ts + 1);
        sm.is_read = i < 12 && rng.below(3) > 0;
        messages.push(sm);
    }
    SeedMailbox {
        address: crate::demo::VOICEMAIL.to_string(),
        display_name: "Voice Mail".to_string(),
        folders: vec![SeedFolder {
            path: vec!["Inbox".to_string()],
            hidden: false,
            messages,
        }],
    }
}

/// A large deterministic mailbox for benchmarks: `messages_per_folder` varied messages in
/// each of `folders` (paths like "Inbox" or "Archive/2025"), all from the same generator
/// as the demo, seeded with `seed`.
pub fn synthetic_mailbox(
    address: &str,
    folders: &[&str],
    messages_per_folder: usize,
    seed: u64,
) -> SeedMailbox {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut n: u64 = 0;
    for path in folders {
        let mut messages = Vec::with_capacity(messages_per_folder);
        let mut ts = EPOCH;
        for _ in 0..messages_per_folder {
            n += 1;
            ts += 60 + rng.below(7200) as i64;
            let (pname, paddr) = *rng.pick(PEOPLE);
            let h = Headers {
                from: addr(pname, paddr),
                to: addr("Mailbox", address),
                cc: None,
                subject: format!("{} #{n}", rng.pick(TOPICS)),
                date: ts,
                message_id: format!("bulk.{n}.{:08x}@example.org", rng.next_u64() as u32),
                extra: vec![],
            };
            let kind = n % 7;
            let raw = build_message(&mut rng, kind, &h, pname);
            let mut sm = SeedMessage::new(raw);
            sm.received = Some(ts + 5);
            sm.is_read = rng.below(4) > 0;
            sm.flagged = n % 10 == 0;
            messages.push(sm);
        }
        out.push(SeedFolder {
            path: path.split('/').map(|p| p.to_string()).collect(),
            hidden: false,
            messages,
        });
    }
    SeedMailbox {
        address: address.to_ascii_lowercase(),
        display_name: address.split('@').next().unwrap_or("").to_string(),
        folders: out,
    }
}

pub(crate) fn demo_mailboxes() -> Vec<SeedMailbox> {
    vec![alice(), voicemail()]
}

/// Loads `DIR/<mailbox>/<folder path>/*.eml`. Each directory below a mailbox directory is a
/// folder (nested directories are nested folders); files ending in `.eml` are stored byte
/// for byte, in file-name order. Messages in a top-level "Drafts" directory are drafts;
/// others are unread, non-draft mail received at their Date header.
pub(crate) fn load_eml_dir(dir: &Path) -> Result<Vec<SeedMailbox>, crate::EmulatorError> {
    let io = |p: &Path, e: std::io::Error| crate::EmulatorError::Io {
        path: p.display().to_string(),
        source: e,
    };
    let mut mailboxes = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.contains('@') {
            return Err(crate::EmulatorError::Seed(format!(
                "{}: a mailbox directory must be named after its SMTP address (user@domain)",
                path.display()
            )));
        }
        let mut folders = Vec::new();
        walk(&path, &mut Vec::new(), &mut folders, &io)?;
        mailboxes.push(SeedMailbox {
            address: name.to_ascii_lowercase(),
            display_name: name.split('@').next().unwrap_or("").to_string(),
            folders,
        });
    }
    Ok(mailboxes)
}

fn walk(
    dir: &Path,
    path: &mut Vec<String>,
    out: &mut Vec<SeedFolder>,
    io: &dyn Fn(&Path, std::io::Error) -> crate::EmulatorError,
) -> Result<(), crate::EmulatorError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let mut messages = Vec::new();
    let is_drafts = path.len() == 1 && path[0].eq_ignore_ascii_case("Drafts");
    for entry in &entries {
        let p = entry.path();
        if p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")) {
            let raw = std::fs::read(&p).map_err(|e| io(&p, e))?;
            let mut sm = SeedMessage::new(raw);
            sm.is_draft = is_drafts;
            sm.is_read = is_drafts;
            messages.push(sm);
        }
    }
    if !path.is_empty() {
        out.push(SeedFolder {
            path: path.clone(),
            hidden: false,
            messages,
        });
    }
    for entry in &entries {
        let p = entry.path();
        if p.is_dir() {
            path.push(entry.file_name().to_string_lossy().to_string());
            walk(&p, path, out, io)?;
            path.pop();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_deterministic_and_large_enough() {
        let a = demo_mailboxes();
        let b = demo_mailboxes();
        let count: usize = a[0].folders.iter().map(|f| f.messages.len()).sum();
        assert!(count >= 250, "{count}");
        assert_eq!(
            a[0].folders[0].messages[3].raw,
            b[0].folders[0].messages[3].raw
        );
        for f in &a[0].folders {
            for m in &f.messages {
                let s = String::from_utf8_lossy(&m.raw);
                assert!(!s.replace("\r\n", "").contains('\n'), "bare LF in {s}");
            }
        }
        assert_eq!(a[1].folders[0].messages.len(), 20);
        for f in a.iter().flat_map(|m| m.folders.iter()) {
            for m in &f.messages {
                assert!(m.received.unwrap_or(0) <= LATEST + 100, "{:?}", f.path);
            }
        }
    }
}
