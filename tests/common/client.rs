//! A raw IMAP client over real TLS for the tests that need to see exactly what the gateway
//! sends, line by line and in order (imaplib keeps untagged responses unordered): hostile
//! input, certificate reloads. No literals in answers are expected.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use super::{Gateway, ALICE, SECRET};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A line-oriented IMAP client over one TLS connection.
pub struct Client {
    stream: Tls,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(gateway: &Gateway) -> Client {
        Client::over(super::tls_connect(gateway.imap, &gateway.cert))
    }

    /// A connection from another loopback address (127.0.0.2), as a second client host.
    pub fn connect_from(source: &str, gateway: &Gateway) -> Client {
        let tcp = bind_and_connect(source, gateway.imap);
        Client::over(super::tls_over(tcp, &gateway.cert))
    }

    pub fn over(stream: Tls) -> Client {
        let mut client = Client {
            stream,
            buf: Vec::new(),
        };
        let greeting = client.line();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        client
    }

    /// A connection, or `None` when the gateway closed it before greeting.
    pub fn try_connect(gateway: &Gateway) -> Option<Client> {
        let mut client = Client {
            stream: super::tls_connect(gateway.imap, &gateway.cert),
            buf: Vec::new(),
        };
        let greeting = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.line()));
        greeting.ok()?.starts_with("* OK").then_some(client)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the gateway");
        self.stream.flush().expect("flush");
    }

    /// The next line the server sent, or "" when it closed the connection.
    pub fn line(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return String::from_utf8_lossy(&line).trim_end().to_string();
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return String::new(),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == ErrorKind::UnexpectedEof => return String::new(),
                Err(err) if err.kind() == ErrorKind::ConnectionReset => return String::new(),
                Err(err) => panic!("reading from the gateway: {err}"),
            }
        }
    }

    /// Every line up to the one tagged `tag` (included), or up to the server closing.
    pub fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                return lines;
            }
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// The tagged answer line to `tag` (or the last line before the server closed).
    pub fn answer(&mut self, tag: &str) -> String {
        self.until_tagged(tag).pop().unwrap_or_default()
    }

    /// Sends `tag command` and returns the tagged answer line.
    pub fn command(&mut self, tag: &str, command: &str) -> String {
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.answer(tag)
    }

    pub fn login(&mut self) {
        let name = super::login_name(ALICE);
        let answer = self.command("L", &format!("LOGIN \"{name}\" \"{SECRET}\""));
        assert!(answer.starts_with("L OK"), "login: {answer}");
    }
}

pub fn bind_and_connect(source: &str, to: SocketAddr) -> TcpStream {
    let socket = socket2_free_connect(source.parse().unwrap(), to);
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    socket
}

/// Connects from `source` (a loopback address other than 127.0.0.1) with the standard library
/// only: bind through libc, then connect.
fn socket2_free_connect(source: IpAddr, to: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let IpAddr::V4(source) = source else {
        panic!("IPv4 source addresses only")
    };
    let SocketAddr::V4(to) = to else {
        panic!("the gateway listens on IPv4 here")
    };
    // SAFETY: plain socket calls on a descriptor this function owns until it is handed to
    // TcpStream.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(ip).to_be(),
            },
            sin_zero: [0; 8],
        };
        let local = sockaddr(source, 0);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let bound = libc::bind(fd, &local as *const _ as *const libc::sockaddr, len);
        assert!(
            bound == 0,
            "bind {source}: {}",
            std::io::Error::last_os_error()
        );
        let remote = sockaddr(*to.ip(), to.port());
        let connected = libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len);
        assert!(
            connected == 0,
            "connect: {}",
            std::io::Error::last_os_error()
        );
        TcpStream::from_raw_fd(fd)
    }
}
