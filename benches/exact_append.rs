//! Store bytes per appended byte (issue 11, "Small storage"): the gateway keeps of an APPENDed
//! message only what Graph cannot give back, and its large parts by reference to Graph's
//! attachments. Measured black-box: the logical size of the SQLite uid store (pages in use,
//! WAL included, as a second connection sees it) before and after APPENDs over real TLS, for
//! voice messages (2.8 MB, an MP3 in base64, as a unified-messaging server writes them) and for
//! the corpus of the differential test (`tests/corpus`). Goal: at most 2 % for voice messages,
//! never more than the messages themselves.
//!
//! `cargo bench --bench exact_append -- [--voice N]` (default 10 voice messages).

use base64::Engine;
use imap2graph_emulator::demo;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

mod common;
use common::Client;

#[path = "../tests/corpus/mod.rs"]
mod corpus;

/// A voice message of about 2.8 MB: a text part and an MP3 (ID3 header, pseudo-random frames)
/// in base64 lines of 72 characters; `n` makes each one different.
fn voice_message(n: usize) -> Vec<u8> {
    let mut audio = b"ID3\x04\x00\x00\x00\x00\x00\x0a".to_vec();
    audio.extend(corpus::octets(n as u64 + 7, 2_100_000 - audio.len()));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&audio);
    let mut lines = String::with_capacity(encoded.len() + encoded.len() / 36);
    for chunk in encoded.as_bytes().chunks(72) {
        lines.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        lines.push_str("\r\n");
    }
    format!(
        "From: \"Voice Mail\" <pbx@pbx.example>\r\n\
         To: Voicemail <voicemail@contoso.example>\r\n\
         Subject: Voice message {n} from +49 30 1234567\r\n\
         Date: Sat, 9 Mar 2024 18:03:11 +0100\r\n\
         Message-ID: <vm-bench-{n}@pbx.example>\r\n\
         Content-Class: voice\r\n\
         X-CallingTelephoneNumber: +49 30 1234567\r\n\
         X-VoiceMessageDuration: 131\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"----=_Part_{n}.UM\"\r\n\
         \r\n\
         ------=_Part_{n}.UM\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         Sie haben eine neue Sprachnachricht erhalten. Gr=C3=BC=C3=9Fe\r\n\
         ------=_Part_{n}.UM\r\n\
         Content-Type: audio/mpeg; name=voicemessage.mp3\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=voicemessage.mp3\r\n\
         \r\n\
         {lines}\
         ------=_Part_{n}.UM--\r\n"
    )
    .into_bytes()
}

/// Bytes of the uid store in use: pages minus free pages, WAL included.
fn store_bytes(path: &std::path::Path) -> u64 {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the uid store");
    let pragma = |name: &str| -> u64 {
        db.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0))
            .expect("pragma") as u64
    };
    (pragma("page_count") - pragma("freelist_count")) * pragma("page_size")
}

async fn login(setup: &common::Setup, mailbox: &str) -> Client {
    let mut client = Client::connect(setup.imap, setup.tls.clone())
        .await
        .expect("connect");
    let (ok, _) = client
        .command(&format!(
            "LOGIN \"{}/{}/{}\" \"{}\"",
            demo::TENANT,
            demo::CLIENT_ID,
            mailbox,
            demo::SECRET
        ))
        .await
        .expect("LOGIN");
    assert!(ok, "LOGIN failed");
    client
}

/// APPEND with a non-synchronising literal (LITERAL+); panics unless OK.
async fn append(client: &mut Client, folder: &str, message: &[u8]) {
    let head = format!("a APPEND {folder} (\\Seen) {{{}+}}\r\n", message.len());
    let stream = client.stream.get_mut();
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(message).await.expect("send");
    stream.write_all(b"\r\n").await.expect("send");
    loop {
        let mut line = Vec::new();
        let read = client
            .stream
            .read_until(b'\n', &mut line)
            .await
            .expect("read");
        assert!(read > 0, "the gateway closed the connection");
        if line.starts_with(b"a ") {
            assert!(
                line.starts_with(b"a OK"),
                "APPEND failed: {}",
                String::from_utf8_lossy(&line)
            );
            return;
        }
    }
}

/// APPENDs `messages` into `folder` of `mailbox`; returns (appended bytes, store growth).
async fn measure(
    setup: &common::Setup,
    mailbox: &str,
    folder: &str,
    messages: &[Vec<u8>],
) -> (u64, u64) {
    let mut client = login(setup, mailbox).await;
    let (ok, _) = client
        .command(&format!("CREATE {folder}"))
        .await
        .expect("CREATE");
    assert!(ok, "CREATE {folder} failed");
    let (ok, _) = client
        .command(&format!("SELECT {folder}"))
        .await
        .expect("SELECT");
    assert!(ok, "SELECT {folder} failed");
    let before = store_bytes(&setup.store_path());
    let mut appended = 0;
    for message in messages {
        append(&mut client, folder, message).await;
        appended += message.len() as u64;
    }
    // Every message must be readable back before the store is measured.
    let (ok, _) = client
        .command("UID FETCH 1:* (RFC822.SIZE)")
        .await
        .expect("FETCH");
    assert!(ok, "FETCH failed");
    let _ = client.command("LOGOUT").await;
    let after = store_bytes(&setup.store_path());
    (appended, after.saturating_sub(before))
}

fn report(what: &str, count: usize, appended: u64, growth: u64) {
    println!(
        "{what:<14} {count:>4} messages {:>10.1} KiB appended  store +{:>8.1} KiB  {:.3} % ({:.5} store bytes per appended byte)",
        appended as f64 / 1024.0,
        growth as f64 / 1024.0,
        100.0 * growth as f64 / appended.max(1) as f64,
        growth as f64 / appended.max(1) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let voices = args
        .iter()
        .position(|a| a == "--voice")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let setup = common::start(&[]).await;
        let voice: Vec<Vec<u8>> = (0..voices).map(voice_message).collect();
        let (appended, growth) = measure(&setup, demo::VOICEMAIL, "Voice", &voice).await;
        report("voice (2.8 MB)", voices, appended, growth);
        let messages: Vec<Vec<u8>> = corpus::corpus()
            .iter()
            .filter(|m| m.name != "line_without_colon" && !m.raw.contains(&0))
            .map(|m| m.crlf_bytes())
            .collect();
        let (appended, growth) = measure(&setup, demo::ALICE, "Corpus", &messages).await;
        report("corpus", messages.len(), appended, growth);
        setup.stop().await;
    });
}
