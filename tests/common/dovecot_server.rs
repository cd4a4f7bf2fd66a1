//! A private Dovecot (Debian's dovecot-imapd, 2.3) listening for IMAPS on a loopback port, with
//! its configuration, state, log and mail in one temporary directory: any user name logs in
//! with the one password given, each user's mail in an sdbox of its own (Dovecot's own format:
//! concurrent sessions on one Maildir meet its uidlist races). For load tests that compare the
//! gateway with Dovecot over the same kind of connection (tests/loadtest.rs, benches/loadtest.rs,
//! which include this file by path); tests/dovecot.rs takes its checks for Dovecot from here.
//! As root, mail is handled as `nobody` (Dovecot refuses mail access as root); as another user,
//! Dovecot runs rootless as that user.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Dovecot's master binary in Debian's dovecot-core.
pub const DOVECOT: &str = "/usr/sbin/dovecot";
/// Dovecot's administration tool in Debian's dovecot-core.
pub const DOVEADM: &str = "/usr/bin/doveadm";
/// Dovecot's IMAP binary in Debian's dovecot-imapd.
pub const DOVECOT_IMAP: &str = "/usr/lib/dovecot/imap";

pub struct DovecotServer {
    child: Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT` of its IMAPS listener.
    pub address: String,
    /// The certificate it presents (self-signed, for `localhost` and 127.0.0.1).
    pub cert: PathBuf,
    mail_owner: u32,
}

/// Fails with what to install when Dovecot is missing.
pub fn require_dovecot() {
    for program in [DOVECOT, DOVEADM, DOVECOT_IMAP] {
        assert!(
            Path::new(program).is_file(),
            "this needs Dovecot ({program}, Debian packages `dovecot-core` and `dovecot-imapd`), \
             which is not installed; install it (`apt-get install -y dovecot-imapd`, as .ci/run \
             does) and run again"
        );
    }
}

/// The uid this process runs as.
pub fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

fn current_user() -> String {
    let output = Command::new("id")
        .arg("-un")
        .output()
        .expect("cannot run id");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A port free at the moment (Dovecot binds it right after; the race is acceptable on loopback).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl DovecotServer {
    /// Starts Dovecot with `password` for every user, a certificate made by `imap2graph cert`
    /// (`binary` is the imap2graph executable), and waits until it accepts connections.
    pub fn start(binary: &Path, password: &str) -> DovecotServer {
        require_dovecot();
        let dir = tempfile::Builder::new()
            .prefix("imap2graph-dovecot-server-")
            .tempdir()
            .expect("a temporary directory");
        let base = dir.path();
        let output = Command::new(binary)
            .arg("cert")
            .arg("--out")
            .arg(base)
            .args(["--name", "localhost", "--name", "127.0.0.1"])
            .output()
            .expect("cannot run `imap2graph cert`");
        assert!(
            output.status.success(),
            "imap2graph cert failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let root = current_uid() == 0;
        let (mail_owner, internal_user) = if root {
            (65534, "dovecot".to_string())
        } else {
            (current_uid(), current_user())
        };
        std::fs::create_dir_all(base.join("home")).expect("home directory");
        let port = free_port();
        let config = base.join("dovecot.conf");
        let base_text = base.display();
        std::fs::write(
            &config,
            format!(
                "protocols = imap\n\
                 listen = 127.0.0.1\n\
                 base_dir = {base_text}/run\n\
                 state_dir = {base_text}/state\n\
                 log_path = {base_text}/dovecot.log\n\
                 info_log_path = {base_text}/dovecot.log\n\
                 ssl = required\n\
                 ssl_cert = <{base_text}/cert.pem\n\
                 ssl_key = <{base_text}/key.pem\n\
                 disable_plaintext_auth = no\n\
                 auth_mechanisms = plain login\n\
                 default_internal_user = {internal_user}\n\
                 default_login_user = {login_user}\n\
                 first_valid_uid = 0\n\
                 first_valid_gid = 0\n\
                 mail_location = sdbox:~/sdbox\n\
                 passdb {{\n  driver = static\n  args = password={password}\n}}\n\
                 userdb {{\n  driver = static\n  args = uid={mail_owner} gid={mail_owner} home={base_text}/home/%n\n}}\n\
                 protocol imap {{\n  mail_max_userip_connections = 10000\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    port = 0\n  }}\n  \
                 inet_listener imaps {{\n    port = {port}\n    ssl = yes\n  }}\n}}\n\
                 service imap {{\n  process_limit = 10000\n}}\n\
                 default_process_limit = 10000\n\
                 default_client_limit = 30000\n",
                login_user = if root { "dovenull" } else { internal_user.as_str() },
            ),
        )
        .expect("write dovecot.conf");
        if root {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{mail_owner}:{mail_owner}"))
                .arg(base.join("home"))
                .status()
                .expect("cannot run chown");
            assert!(status.success(), "chown of Dovecot's home directory failed");
            // nobody must reach its homes through the temporary directory.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start Dovecot");
        let mut server = DovecotServer {
            child,
            cert: base.join("cert.pem"),
            address: format!("127.0.0.1:{port}"),
            dir,
            mail_owner,
        };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&mut self) {
        let started = Instant::now();
        loop {
            if std::net::TcpStream::connect(&self.address).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Dovecot exited ({status}) before it listened: {}",
                    self.log()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "Dovecot did not listen on {} within 30 s: {}",
                self.address,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Dovecot's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Puts `messages` into `user`'s INBOX with `doveadm save`, as delivered mail.
    pub fn seed(&self, user: &str, messages: &[Vec<u8>]) {
        for message in messages {
            let mut child = Command::new(DOVEADM)
                .arg("-c")
                .arg(self.dir.path().join("dovecot.conf"))
                .args(["save", "-u", user])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cannot run doveadm");
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(message)
                .expect("write to doveadm save");
            let output = child.wait_with_output().expect("doveadm save");
            assert!(
                output.status.success(),
                "doveadm save -u {user} failed: {}\n{}",
                String::from_utf8_lossy(&output.stderr),
                self.log()
            );
        }
    }
}

impl Drop for DovecotServer {
    fn drop(&mut self) {
        // SIGTERM to the master (our own child), which stops its services; then reap it.
        // SAFETY: kill on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
