//! No log line, at any level, holds the client secret or an access token.
//!
//! The gateway runs with RUST_LOG=trace (every crate, so hyper, reqwest, rustls and imap-codec
//! log too) while `tests/clients/log_probe.py` logs in every way (LOGIN, AUTHENTICATE PLAIN with
//! and without SASL-IR, with a right and a wrong secret), lists, selects and fetches bodies.
//! The log must then contain none of:
//! - the secret or the wrong secret, nor any form the client sent them in (quoted strings,
//!   the base64 SASL PLAIN messages), nor the token request's form body;
//! - `Bearer ` (an Authorization header value);
//! - any part of an access token. Tokens differ per request, so the gateway's own token cannot
//!   be known here; but every token the emulator issues to this application starts with the
//!   same JWT header segment and the same leading part of the payload (the claims before the
//!   timestamps). The test obtains two tokens itself, takes their common prefix and the
//!   header segment, and shows they occur nowhere in the log: a token that appears in full or
//!   in its first part would contain them.
//!
//! The test also makes sure the log is really at trace level, or it would prove nothing. With
//! `IMAP2GRAPH_LOG_FORMAT=json` every line is one JSON object, and just as clean.

mod common;

use common::*;

const WRONG_SECRET: &str = "wrong-secret-5d0c2a91";

/// What must never appear in a log, with a label for the failure message.
fn forbidden(graph: &Graph, probe_output: &str) -> Vec<(String, String)> {
    let mut needles = vec![
        ("the secret".to_string(), SECRET.to_string()),
        ("the wrong secret".to_string(), WRONG_SECRET.to_string()),
        ("an Authorization header".to_string(), "Bearer ".to_string()),
        (
            "a token request body".to_string(),
            "client_secret=".to_string(),
        ),
        (
            "an access token field".to_string(),
            "access_token\":\"".to_string(),
        ),
    ];
    for line in probe_output.lines() {
        if let Some(form) = line.strip_prefix("SENT-SECRET: ") {
            needles.push((
                format!("a secret as the client sent it ({form})"),
                form.to_string(),
            ));
        }
    }
    let first = graph.token();
    let second = graph.token();
    let header = first.split('.').next().expect("a JWT").to_string();
    assert!(header.len() >= 16, "unexpected token shape: {first}");
    needles.push(("an access token's JWT header".to_string(), header));
    let common: String = first
        .chars()
        .zip(second.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    assert!(
        common.len() > 40,
        "two tokens share only {common:?}; the test needs a longer common prefix"
    );
    needles.push(("the start of an access token".to_string(), common));
    // The signature part of the tokens we saw (cannot be the gateway's, but costs nothing).
    for token in [first, second] {
        if let Some(signature) = token.rsplit('.').next() {
            needles.push((
                "an access token's signature".to_string(),
                signature.to_string(),
            ));
        }
    }
    needles
}

fn assert_clean(what: &str, log: &str, needles: &[(String, String)]) {
    let mut leaks = Vec::new();
    for (label, needle) in needles {
        for (number, line) in log.lines().enumerate() {
            if line.contains(needle.as_str()) {
                leaks.push(format!("line {}: {label}: {line}", number + 1));
                break;
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{what} leaks secrets or tokens:\n{}",
        leaks.join("\n")
    );
}

fn assert_trace_level(log: &str) {
    let lines = log.lines().count();
    assert!(
        log.contains("TRACE") && log.contains("DEBUG") && lines > 50,
        "the log is not at trace level ({lines} lines), so the test would prove nothing:\n{}",
        tail(log, 40)
    );
}

#[test]
fn serve_logs_no_secret_or_token_at_trace_level() {
    let dir = temp_dir();
    let emulator = EmulatorProcess::start();
    let gateway = Gateway::serve(dir.path(), &emulator.url, &[("RUST_LOG", "trace")]);
    let probe = gateway.python_ok("log_probe.py", &[WRONG_SECRET]);
    let needles = forbidden(&emulator.graph(), &probe);
    let stopped = gateway.stop();
    assert_trace_level(&stopped.stderr);
    assert_clean("the gateway's log (stderr)", &stopped.stderr, &needles);
    assert_clean("the gateway's stdout", &stopped.stdout, &needles);
    emulator.process.stop();
}

#[test]
fn demo_logs_no_secret_or_token_at_trace_level() {
    // The demo runs the emulator in the same process, so its log holds both sides.
    let dir = temp_dir();
    let gateway = Gateway::demo_with_env(dir.path(), &[("RUST_LOG", "trace")]);
    let probe = gateway.python_ok("log_probe.py", &[WRONG_SECRET]);
    let needles = forbidden(&gateway.graph(), &probe);
    let stopped = gateway.stop();
    assert_trace_level(&stopped.stderr);
    // stdout is the demo's banner, which prints the demo secret on purpose; it is no log.
    assert_clean("the demo's log (stderr)", &stopped.stderr, &needles);
}

#[test]
fn json_logs_are_one_object_a_line_without_secrets() {
    let dir = temp_dir();
    let emulator = EmulatorProcess::start();
    let gateway = Gateway::serve(
        dir.path(),
        &emulator.url,
        &[("RUST_LOG", "trace"), ("IMAP2GRAPH_LOG_FORMAT", "json")],
    );
    let probe = gateway.python_ok("log_probe.py", &[WRONG_SECRET]);
    let needles = forbidden(&emulator.graph(), &probe);
    let stopped = gateway.stop();
    assert_clean("the gateway's JSON log", &stopped.stderr, &needles);
    let mut logins = 0;
    for line in stopped
        .stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        let object: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("a log line that is not JSON ({err}): {line}"));
        for key in ["timestamp", "level", "target", "fields"] {
            assert!(object.get(key).is_some(), "no {key} in {line}");
        }
        if object["fields"]["message"] == "logged in" {
            logins += 1;
        }
    }
    assert!(logins > 0, "no \"logged in\" line in the JSON log");
    emulator.process.stop();
}
