//! SIGHUP reloads the TLS certificate and key without dropping sessions: a session opened
//! before goes on; a connection made after is served with the new certificate (a client that
//! trusts only the new one connects, one that trusts only the old one is refused); a file that
//! does not load leaves the certificate in use as it was.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::client::Client;
use common::*;

/// Whether a client that trusts only `cert` gets the gateway's greeting.
fn greeted_trusting(gateway: &Gateway, cert: &std::path::Path) -> bool {
    let mut stream = tls_connect(gateway.imap, cert);
    let mut greeting = String::new();
    BufReader::new(&mut stream).read_line(&mut greeting).is_ok() && greeting.starts_with("* OK")
}

/// Sends SIGHUP and waits until the gateway has logged `wanted` `times` times in all.
fn hang_up(gateway: &Gateway, wanted: &str, times: usize) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &gateway.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success(), "kill -HUP failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    while gateway.stderr_so_far().matches(wanted).count() < times {
        assert!(
            Instant::now() < deadline,
            "no {wanted:?} after SIGHUP:\n{}",
            tail(&gateway.stderr_so_far(), 20)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_reloads_the_certificate_and_sessions_go_on() {
    let emulator = EmulatorProcess::start();
    let dir = temp_dir();
    let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
    let old_cert = dir.path().join("old-cert.pem");
    std::fs::copy(&gateway.cert, &old_cert).expect("keep the first certificate");

    let mut session = Client::connect(&gateway);
    session.login();
    assert!(session.command("s1", "SELECT INBOX").starts_with("s1 OK"));

    // A new pair in place, then SIGHUP.
    write_certificate(dir.path());
    hang_up(&gateway, "TLS certificate and key reloaded", 1);
    assert!(
        greeted_trusting(&gateway, &gateway.cert),
        "a client trusting the new certificate is served"
    );
    assert!(
        !greeted_trusting(&gateway, &old_cert),
        "a client trusting only the old certificate is refused"
    );
    assert!(
        session.command("s2", "NOOP").starts_with("s2 OK"),
        "the session opened before the reload goes on"
    );

    // A broken key: the reload fails, the certificate in use stays.
    let good_cert = dir.path().join("good-cert.pem");
    std::fs::copy(&gateway.cert, &good_cert).expect("keep the second certificate");
    std::fs::write(dir.path().join("key.pem"), b"not a key").expect("break the key");
    hang_up(&gateway, "TLS certificate and key not reloaded", 1);
    assert!(
        greeted_trusting(&gateway, &good_cert),
        "the certificate in use stays after a failed reload"
    );
    assert!(session.command("s3", "NOOP").starts_with("s3 OK"));
    gateway.stop();
}
