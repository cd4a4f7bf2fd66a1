//! MIME benchmark over the differential test's corpus (`tests/corpus/`): ENVELOPE and
//! BODYSTRUCTURE computation (parse included, as the gateway parses a body once per FETCH
//! window) and the rendering of a typical client's FETCH, reported per MB (`corpus_bytes`,
//! Throughput::Bytes) and per message (`corpus_messages`, Throughput::Elements; and
//! `small_messages`, the corpus without the voice message), plus the 2 MB voice message alone.
//!
//! `cargo bench --bench mime`. The FETCH rendering here drives the same `imap2graph::mime`
//! calls as `session::fetch` for `FETCH n (UID RFC822.SIZE FLAGS ENVELOPE BODYSTRUCTURE
//! BODY.PEEK[HEADER] BINARY.SIZE[part]…)` and `BODY.PEEK[part]` of every part; it cannot call
//! `session::fetch` itself, which is private to the session.

#[path = "../tests/corpus/mod.rs"]
mod corpus;

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use imap2graph::mime::{self, ParsedMessage, SectionKind, SectionSpec};

fn envelope(raw: &Bytes) -> Vec<u8> {
    let parsed = ParsedMessage::parse(raw.clone());
    let mut out = Vec::with_capacity(512);
    parsed.envelope(&mut out);
    out
}

fn body_structure(raw: &Bytes) -> Vec<u8> {
    let parsed = ParsedMessage::parse(raw.clone());
    let mut out = Vec::with_capacity(1024);
    parsed.body_structure(&mut out, true);
    out
}

/// What the gateway writes for a client's first look at a message and then for each part.
fn fetch_render(seq: usize, raw: &Bytes) -> Vec<u8> {
    let parsed = ParsedMessage::parse(raw.clone());
    let mut out = Vec::with_capacity(raw.len() + 4096);
    out.extend_from_slice(
        format!(
            "* {seq} FETCH (UID {seq} RFC822.SIZE {} FLAGS (\\Seen) ENVELOPE ",
            parsed.size()
        )
        .as_bytes(),
    );
    parsed.envelope(&mut out);
    out.extend_from_slice(b" BODYSTRUCTURE ");
    parsed.body_structure(&mut out, true);
    out.extend_from_slice(b" BODY[HEADER] ");
    let header = parsed
        .section(&SectionSpec::new(Vec::new(), SectionKind::Header))
        .unwrap_or_default();
    mime::write_body_literal(&mut out, &header);
    for part in parsed.part_numbers() {
        if let Ok(Some(size)) = parsed.binary_size(&part) {
            out.extend_from_slice(b" BINARY.SIZE[");
            SectionSpec::new(part.clone(), SectionKind::Full).write_name(&mut out);
            out.extend_from_slice(format!("] {size}").as_bytes());
        }
    }
    out.extend_from_slice(b")\r\n");
    for part in parsed.part_numbers() {
        let spec = SectionSpec::new(part, SectionKind::Full);
        out.extend_from_slice(format!("* {seq} FETCH (BODY[").as_bytes());
        spec.write_name(&mut out);
        out.extend_from_slice(b"] ");
        match parsed.section(&spec) {
            Some(data) => mime::write_body_literal(&mut out, &data),
            None => out.extend_from_slice(b"NIL"),
        }
        out.extend_from_slice(b")\r\n");
    }
    out
}

fn bench(c: &mut Criterion) {
    let corpus = corpus::corpus();
    let messages: Vec<Bytes> = corpus.iter().map(|m| Bytes::from(m.crlf_bytes())).collect();
    let total: u64 = messages.iter().map(|m| m.len() as u64).sum();
    let voice = corpus
        .iter()
        .position(|m| m.name == "voice_message")
        .map(|i| messages[i].clone())
        .expect("the corpus has a voice message");

    // The voice message is most of the corpus's bytes: per message without it, too.
    let small: Vec<Bytes> = corpus
        .iter()
        .zip(&messages)
        .filter(|(m, _)| m.name != "voice_message")
        .map(|(_, raw)| raw.clone())
        .collect();

    for (group_name, messages, throughput) in [
        ("corpus_bytes", &messages, Throughput::Bytes(total)),
        (
            "corpus_messages",
            &messages,
            Throughput::Elements(messages.len() as u64),
        ),
        (
            "small_messages",
            &small,
            Throughput::Elements(small.len() as u64),
        ),
    ] {
        let mut group = c.benchmark_group(group_name);
        group.throughput(throughput);
        group.bench_function("envelope", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .map(|m| envelope(black_box(m)).len())
                    .sum::<usize>()
            })
        });
        group.bench_function("bodystructure", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .map(|m| body_structure(black_box(m)).len())
                    .sum::<usize>()
            })
        });
        group.bench_function("fetch_render", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| fetch_render(i + 1, black_box(m)).len())
                    .sum::<usize>()
            })
        });
        group.finish();
    }

    let mut group = c.benchmark_group("voice_message");
    group.throughput(Throughput::Bytes(voice.len() as u64));
    group.bench_function("bodystructure", |b| {
        b.iter(|| body_structure(black_box(&voice)))
    });
    group.bench_function("fetch_render", |b| {
        b.iter(|| fetch_render(1, black_box(&voice)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
