//! Test harness for the emulator's contract tests: serves an emulator on 127.0.0.1:0 and
//! talks HTTP/1.1 to it with a tiny client (no HTTP client dependency), so tests see the
//! bytes on the wire exactly.
#![allow(dead_code)]

use std::net::SocketAddr;

use imap2graph_emulator::{demo, Emulator};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Server {
    pub addr: SocketAddr,
    pub emu: Emulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start(emu: Emulator) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let e = emu.clone();
    tokio::spawn(async move {
        let _ = e
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await;
    });
    Server {
        addr,
        emu,
        stop: Some(tx),
    }
}

pub async fn demo_server() -> Server {
    start(Emulator::demo()).await
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// One request on a fresh connection (`Connection: close`).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" || method == "PATCH" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write body");
    let mut buf = Vec::new();
    // A reset connection (an injected fault) ends the read with what arrived so far.
    let mut chunk = [0u8; 16384];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> Resp {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Resp {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
    };
    let head = std::str::from_utf8(&buf[..end]).expect("utf8 head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size_s = std::str::from_utf8(&b[..nl]).unwrap_or("0");
        let size =
            usize::from_str_radix(size_s.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        b = &b[nl + 2..];
        if size == 0 || b.len() < size {
            break;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[(size + 2).min(b.len())..];
    }
    out
}

pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        let enc = |x: &str| -> String {
            x.bytes()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                        (c as char).to_string()
                    } else {
                        format!("%{c:02X}")
                    }
                })
                .collect()
        };
        s.push_str(&enc(k));
        s.push('=');
        s.push_str(&enc(v));
    }
    s.into_bytes()
}

pub async fn token_for(addr: SocketAddr, tenant: &str, client: &str, secret: &str) -> Resp {
    request(
        addr,
        "POST",
        &format!("/{tenant}/oauth2/v2.0/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ]),
    )
    .await
}

pub async fn token(addr: SocketAddr) -> String {
    let r = token_for(addr, demo::TENANT, demo::CLIENT_ID, demo::SECRET).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// A Graph GET with the token and the gateway's usual Prefer header.
pub async fn get(addr: SocketAddr, token: &str, path: &str) -> Resp {
    let auth = format!("Bearer {token}");
    request(
        addr,
        "GET",
        &format!("/v1.0{path}"),
        &[
            ("Authorization", &auth),
            ("Prefer", "IdType=\"ImmutableId\""),
        ],
        b"",
    )
    .await
}

pub async fn send(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let auth = format!("Bearer {token}");
    let mut h: Vec<(&str, &str)> = vec![("Authorization", &auth)];
    h.extend_from_slice(extra);
    request(addr, method, &format!("/v1.0{path}"), &h, body).await
}

/// Follows an absolute nextLink (http://host:port/v1.0/...) on our server.
pub fn link_target(link: &str) -> String {
    let after_scheme = link.strip_prefix("http://").expect("http link");
    let slash = after_scheme.find('/').expect("path");
    after_scheme[slash..].to_string()
}

pub const ALICE_ENC: &str = "alice%40contoso.example";

/// GETs an absolute link from a delta page (nextLink or deltaLink) with the token.
pub async fn follow(s: &Server, t: &str, link: &str, prefer: &[(&str, &str)]) -> Resp {
    let auth = format!("Bearer {t}");
    let mut h = vec![("Authorization", auth.as_str())];
    h.extend_from_slice(prefer);
    request(s.addr, "GET", &link_target(link), &h, b"").await
}

/// Runs a delta round to its deltaLink, 25 entries a page with immutable ids; returns (items,
/// deltaLink).
pub async fn round(s: &Server, t: &str, first: &str) -> (Vec<Value>, String) {
    let prefer = [
        ("Prefer", "IdType=\"ImmutableId\""),
        ("Prefer", "odata.maxpagesize=25"),
    ];
    let mut link = first.to_string();
    let mut items = Vec::new();
    loop {
        let r = follow(s, t, &link, &prefer).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let j = r.json();
        assert!(!(j.get("@odata.nextLink").is_some() && j.get("@odata.deltaLink").is_some()));
        items.extend(j["value"].as_array().cloned().unwrap_or_default());
        if let Some(n) = j["@odata.nextLink"].as_str() {
            assert!(
                n.contains("%24skiptoken=") || n.contains("$skiptoken="),
                "{n}"
            );
            link = n.to_string();
        } else {
            let d = j["@odata.deltaLink"]
                .as_str()
                .expect("deltaLink")
                .to_string();
            assert!(d.contains("deltatoken="), "{d}");
            return (items, d);
        }
    }
}
