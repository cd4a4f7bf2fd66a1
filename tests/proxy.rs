//! PROXY protocol v2 behind a real HAProxy (Debian's `haproxy`, `send-proxy-v2`): the gateway
//! logs, and limits by, the client's own address, not the balancer's. The client (curl) binds
//! 127.0.0.2 and HAProxy connects from 127.0.0.1, so the two addresses can be told apart; only
//! 127.0.0.1 is in `imap.proxy_trusted`, which `serve` refuses to start without.

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "HAProxy did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn curl_list(port: u16, interface: &str) -> std::process::Output {
    let mut command = Command::new(require_program("curl", "curl"));
    command
        .args(["--silent", "--show-error", "--insecure", "--max-time", "60"])
        .args(["--interface", interface])
        .arg("--user")
        .arg(format!("{}:{SECRET}", login_name(ALICE)))
        .arg(format!("imaps://127.0.0.1:{port}/"));
    run(command, CLIENT_TIMEOUT)
}

#[test]
fn behind_haproxy_the_real_client_address_is_logged() {
    let haproxy = require_program("haproxy", "haproxy");
    let emulator = EmulatorProcess::start();
    let dir = temp_dir();
    let gateway = Gateway::serve(
        dir.path(),
        &emulator.url,
        &[
            ("IMAP2GRAPH_IMAP_PROXY_PROTOCOL", "true"),
            ("IMAP2GRAPH_IMAP_PROXY_TRUSTED", "127.0.0.1"),
            ("RUST_LOG", "info"),
        ],
    );
    let front = free_port();
    let config = dir.path().join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "global\n    maxconn 100\n\
             defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\
             frontend imaps\n    bind 127.0.0.1:{front}\n    default_backend gateway\n\
             backend gateway\n    server gw {} send-proxy-v2\n",
            gateway.imap
        ),
    )
    .expect("cannot write haproxy.cfg");
    let mut balancer = Command::new(haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cannot start haproxy");
    wait_for_port(front);

    let through_balancer = curl_list(front, "127.0.0.2");
    // A client that bypasses the balancer is turned away: from an address not in
    // imap.proxy_trusted before anything is read, from a trusted one for want of a PROXY header.
    let direct = curl_list(gateway.imap.port(), "127.0.0.3");
    let direct_from_trusted = curl_list(gateway.imap.port(), "127.0.0.1");
    let _ = balancer.kill();
    let _ = balancer.wait();
    let stopped = gateway.stop();

    assert!(
        through_balancer.status.success(),
        "curl through HAProxy failed: {}\n{}",
        String::from_utf8_lossy(&through_balancer.stderr),
        tail(&stopped.stderr, 40)
    );
    let listing = String::from_utf8_lossy(&through_balancer.stdout);
    assert!(listing.contains("\"INBOX\""), "{listing}");
    let login_lines: Vec<&str> = stopped
        .stderr
        .lines()
        .filter(|line| line.contains("logged in"))
        .collect();
    assert_eq!(login_lines.len(), 1, "{}", tail(&stopped.stderr, 40));
    assert!(
        login_lines[0].contains("peer=127.0.0.2:"),
        "the login was not logged with the client's address: {}",
        login_lines[0]
    );
    assert!(
        !direct.status.success(),
        "a connection from an untrusted address was served"
    );
    assert!(
        !direct_from_trusted.status.success(),
        "a connection without a PROXY header was served"
    );
    let log_line = |needle: &str| {
        stopped
            .stderr
            .lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in the log:\n{}", tail(&stopped.stderr, 40)))
            .to_string()
    };
    assert!(
        log_line("not in imap.proxy_trusted").contains("peer=127.0.0.3:"),
        "{}",
        tail(&stopped.stderr, 40)
    );
    assert!(
        log_line("bad PROXY header").contains("peer=127.0.0.1:"),
        "{}",
        tail(&stopped.stderr, 40)
    );
}

/// `proxy_protocol = true` with no `proxy_trusted` would let any client claim any address:
/// `serve` refuses it before listening, naming the key.
#[test]
fn proxy_protocol_without_trusted_balancers_is_a_configuration_error() {
    let dir = temp_dir();
    let config = write_serve_config(dir.path(), "http://127.0.0.1:9");
    let mut command = Command::new(binary());
    // Only this test's configuration: none of the test run's IMAP2GRAPH_* variables.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("IMAP2GRAPH_") {
            command.env_remove(name);
        }
    }
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("IMAP2GRAPH_IMAP_PROXY_PROTOCOL", "true");
    let output = run(command, CLIENT_TIMEOUT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "serve started without imap.proxy_trusted:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("imap.proxy_trusted") && stderr.contains("proxy_protocol"),
        "the error does not name imap.proxy_trusted:\n{stderr}"
    );
    assert!(
        !stdout.contains("IMAPS: "),
        "serve listened before refusing:\n{stdout}"
    );
}
