//! The metrics endpoint (`metrics.listen`): after a session through imaplib, `GET /metrics`
//! answers Prometheus text counting that session, its login, its commands, Graph's answers, the
//! token requests and the delta rounds that synchronised the folders; `GET /healthz` answers ok
//! while the uid store answers; other paths answer 404; and nothing in the metrics names a
//! mailbox, a tenant or a secret.

mod common;

use common::*;

/// The value of one sample line `name{labels} value`.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

#[test]
fn metrics_count_sessions_commands_graph_answers_and_delta_rounds() {
    let emulator = EmulatorProcess::start();
    let dir = temp_dir();
    let gateway = Gateway::serve(
        dir.path(),
        &emulator.url,
        &[("IMAP2GRAPH_METRICS_LISTEN", "127.0.0.1:0")],
    );
    let address = gateway.metrics_address();

    client_view(&gateway.client_env(), VOICEMAIL);
    let (status, text) = http_get(&address, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    assert!(
        text.contains("# TYPE imap2graph_sessions_total counter"),
        "{text}"
    );
    assert!(sample(&text, "imap2graph_sessions_total") >= 1);
    assert!(sample(&text, "imap2graph_logins_total{result=\"ok\"}") >= 1);
    assert!(sample(&text, "imap2graph_commands_total{command=\"EXAMINE\"}") >= 1);
    assert!(sample(&text, "imap2graph_commands_total{command=\"FETCH\"}") >= 1);
    assert!(sample(&text, "imap2graph_graph_responses_total{status=\"200\"}") >= 1);
    assert!(sample(&text, "imap2graph_delta_rounds_total{kind=\"first\"}") >= 1);
    assert!(sample(&text, "imap2graph_token_responses_total{status=\"200\"}") >= 1);
    for secret_or_name in [SECRET, "voicemail", TENANT, CLIENT_ID] {
        assert!(
            !text.contains(secret_or_name),
            "the metrics name {secret_or_name:?}:\n{text}"
        );
    }
    let (status, body) = http_get(&address, "/healthz");
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "ok\n"),
        "the health check with a working uid store"
    );
    let (status, _) = http_get(&address, "/secrets");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    gateway.stop();
    emulator.process.stop();
}
