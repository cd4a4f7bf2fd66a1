//! Harness for the integration tests: starts the real `imap2graph` binary (`demo`, or
//! `emulator` plus `serve`) on ephemeral ports with a temporary data directory, collects what it
//! prints, stops it with SIGTERM, and gives the tests what they need to check its answers
//! against the emulator: a tiny HTTP/1.1 client for the token endpoint and Graph, a runner for
//! the Python client scripts in `tests/clients/`, and a check that a client program exists.
//!
//! Every test starts its own processes in its own temporary directory, so tests run in
//! parallel. Child processes are killed when their handle is dropped (also on a panic).
#![allow(dead_code)]

pub mod client;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const TENANT: &str = "contoso.example";
pub const TENANT_ID: &str = "c0a7c0de-0000-4000-8000-000000000001";
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const SECRET: &str = "demo-secret";
pub const ALICE: &str = "alice@contoso.example";
pub const VOICEMAIL: &str = "voicemail@contoso.example";

/// How long a process may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a process may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client program may run.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_imap2graph")
}

/// `tests/clients/NAME`.
pub fn client_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// The full login name for `mailbox` in the demo tenant.
pub fn login_name(mailbox: &str) -> String {
    format!("{TENANT}/{CLIENT_ID}/{mailbox}")
}

/// Fails the test (never skips it) when `program` is not on the PATH.
pub fn require_program(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "this test needs the program `{program}` (Debian package `{package}`), which is not on \
         the PATH; install it (`apt-get install -y {package}`, as .ci/run does) and run the \
         tests again"
    );
}

/// A temporary directory for one test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("imap2graph-test-")
        .tempdir()
        .expect("cannot create a temporary directory")
}

/// A command for the binary with a clean environment as far as our configuration goes: no
/// `IMAP2GRAPH_*` variable of the test run (e.g. IMAP2GRAPH_GRAPH_CSDL) reaches it.
pub fn binary_command() -> Command {
    let mut command = Command::new(binary());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("IMAP2GRAPH_") {
            command.env_remove(name);
        }
    }
    command.env_remove("RUST_LOG");
    command
}

/// What a stopped process left behind.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A running `imap2graph` process (demo, serve or emulator).
pub struct Process {
    what: String,
    child: Child,
    stdout_lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<thread::JoinHandle<()>>,
    lines: mpsc::Receiver<String>,
}

impl Process {
    /// Spawns `command` with piped output and waits until it printed every line that starts
    /// with one of `wanted` (in any order); returns the process and those lines' remainders.
    pub fn spawn(what: &str, mut command: Command, wanted: &[&str]) -> (Process, Vec<String>) {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {what} ({}): {err}", binary()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let stderr_buf = Arc::new(Mutex::new(Vec::new()));
        let (sender, lines) = mpsc::channel();
        let out_reader = {
            let stdout_lines = Arc::clone(&stdout_lines);
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    stdout_lines.lock().unwrap().push(line.clone());
                    let _ = sender.send(line);
                }
            })
        };
        let err_reader = {
            let stderr_buf = Arc::clone(&stderr_buf);
            thread::spawn(move || {
                let mut stderr = stderr;
                let mut chunk = [0u8; 8192];
                loop {
                    match stderr.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => stderr_buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                    }
                }
            })
        };
        let mut process = Process {
            what: what.to_string(),
            child,
            stdout_lines,
            stderr: stderr_buf,
            readers: vec![out_reader, err_reader],
            lines,
        };
        let mut found: Vec<Option<String>> = vec![None; wanted.len()];
        let deadline = Instant::now() + START_TIMEOUT;
        while found.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            match process.lines.recv_timeout(left) {
                Ok(line) => {
                    for (slot, prefix) in found.iter_mut().zip(wanted) {
                        if slot.is_none() {
                            if let Some(rest) = line.strip_prefix(prefix) {
                                *slot = Some(rest.trim().to_string());
                            }
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = process.child.kill();
                    let _ = process.child.wait();
                    panic!(
                        "{what} did not print {wanted:?} within {START_TIMEOUT:?}\n{}",
                        process.output_so_far()
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = process.child.wait();
                    thread::sleep(Duration::from_millis(200));
                    panic!(
                        "{what} exited ({status:?}) before printing {wanted:?}\n{}",
                        process.output_so_far()
                    );
                }
            }
        }
        (process, found.into_iter().map(Option::unwrap).collect())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything on stderr so far (the log).
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Everything on stdout so far.
    pub fn stdout_so_far(&self) -> String {
        self.stdout_lines.lock().unwrap().join("\n")
    }

    fn output_so_far(&self) -> String {
        format!(
            "--- stdout of {} ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.stdout_so_far(),
            tail(&self.stderr_so_far(), 200)
        )
    }

    /// Sends SIGTERM and waits for the process to exit; kills it after STOP_TIMEOUT.
    pub fn terminate(mut self) -> Stopped {
        require_program("kill", "procps");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("cannot run `kill`");
        assert!(status.success(), "`kill -TERM` failed for {}", self.what);
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            match self.child.try_wait().expect("waiting for the child") {
                Some(status) => break status,
                None if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "{} did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                        self.what,
                        self.output_so_far()
                    );
                }
                None => thread::sleep(Duration::from_millis(50)),
            }
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Stopped {
            status,
            stdout: self.stdout_so_far(),
            stderr: self.stderr_so_far(),
        }
    }

    /// SIGTERM, and asserts the exit status is 0 (the contract of a graceful stop).
    pub fn stop(self) -> Stopped {
        let what = self.what.clone();
        let stopped = self.terminate();
        assert!(
            stopped.status.success(),
            "{what} exited with {} after SIGTERM (expected 0)\n--- stderr ---\n{}",
            stopped.status,
            tail(&stopped.stderr, 200)
        );
        stopped
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A running gateway: `imap2graph demo`, or `imap2graph serve` against a separate emulator.
pub struct Gateway {
    pub process: Process,
    /// The IMAPS address.
    pub imap: SocketAddr,
    /// The emulator's base URL, `http://ADDR` (authority; Graph is under `/v1.0`).
    pub graph_url: String,
    /// The gateway's self-signed certificate (PEM).
    pub cert: PathBuf,
    pub data_dir: PathBuf,
}

impl Gateway {
    /// `imap2graph demo --imap 127.0.0.1:0 --graph 127.0.0.1:0 --data-dir DIR`.
    pub fn demo(data_dir: &Path) -> Gateway {
        Gateway::demo_with_env(data_dir, &[])
    }

    /// The demo with its emulator in that delta mode.
    pub fn demo_in(data_dir: &Path, mode: DeltaMode) -> Gateway {
        Gateway::demo_with_env(data_dir, &mode.env())
    }

    pub fn demo_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Gateway {
        Gateway::demo_with_command(data_dir, env, binary_command())
    }

    /// The demo under a hard limit of `open_files` open files (RLIMIT_NOFILE).
    pub fn demo_with_env_and_file_limit(
        data_dir: &Path,
        env: &[(&str, &str)],
        open_files: u64,
    ) -> Gateway {
        use std::os::unix::process::CommandExt;
        let mut command = binary_command();
        // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: open_files,
                    rlim_max: open_files,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Gateway::demo_with_command(data_dir, env, command)
    }

    fn demo_with_command(data_dir: &Path, env: &[(&str, &str)], mut command: Command) -> Gateway {
        require_program("kill", "procps");
        command
            .arg("demo")
            .args([
                "--imap",
                "127.0.0.1:0",
                "--graph",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .envs(env.iter().copied());
        let (process, found) =
            Process::spawn("imap2graph demo", command, &["Graph emulator: ", "IMAPS: "]);
        let imap = found[1]
            .parse()
            .unwrap_or_else(|_| panic!("unexpected IMAPS line: {:?}", found[1]));
        let gateway = Gateway {
            process,
            imap,
            graph_url: found[0].clone(),
            cert: data_dir.join("cert.pem"),
            data_dir: data_dir.to_path_buf(),
        };
        assert!(
            gateway.cert.is_file(),
            "the demo wrote no certificate at {}",
            gateway.cert.display()
        );
        gateway
    }

    /// `imap2graph serve --config DIR/imap2graph.toml` against `graph_url`, with a certificate
    /// made by `imap2graph cert` (unless DIR already has one) and the uid store in DIR.
    pub fn serve(data_dir: &Path, graph_url: &str, env: &[(&str, &str)]) -> Gateway {
        require_program("kill", "procps");
        let config = write_serve_config(data_dir, graph_url);
        let mut command = binary_command();
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .envs(env.iter().copied());
        let (process, found) = Process::spawn("imap2graph serve", command, &["IMAPS: "]);
        let imap = found[0]
            .parse()
            .unwrap_or_else(|_| panic!("unexpected IMAPS line: {:?}", found[0]));
        Gateway {
            process,
            imap,
            graph_url: graph_url.to_string(),
            cert: data_dir.join("cert.pem"),
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub fn graph(&self) -> Graph {
        Graph::new(&self.graph_url)
    }

    /// The gateway's process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What the gateway logged so far.
    pub fn stderr_so_far(&self) -> String {
        self.process.stderr_so_far()
    }

    /// The metrics listener's address, from the `Metrics: http://ADDR/metrics` line the gateway
    /// printed (it runs with `metrics.listen` set).
    pub fn metrics_address(&self) -> String {
        let stdout = self.process.stdout_so_far();
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("Metrics: http://"))
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("the gateway printed no Metrics line:\n{stdout}"))
            .to_string()
    }

    pub fn stop(self) -> Stopped {
        self.process.stop()
    }

    /// Runs `tests/clients/SCRIPT` with python3 against this gateway; see `python`.
    pub fn python(&self, script: &str, args: &[&str]) -> Output {
        python(script, args, &self.client_env())
    }

    /// Runs a Python client script and asserts it succeeded; returns its stdout.
    pub fn python_ok(&self, script: &str, args: &[&str]) -> String {
        let output = self.python(script, args);
        assert_success(&format!("python3 {script} {args:?}"), &output, Some(self));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// What the client scripts need to know, as environment variables.
    pub fn client_env(&self) -> Vec<(String, String)> {
        vec![
            ("I2G_IMAP_HOST".into(), self.imap.ip().to_string()),
            ("I2G_IMAP_PORT".into(), self.imap.port().to_string()),
            ("I2G_CA_FILE".into(), self.cert.display().to_string()),
            ("I2G_GRAPH_URL".into(), self.graph_url.clone()),
            ("I2G_TENANT".into(), TENANT.into()),
            ("I2G_TENANT_ID".into(), TENANT_ID.into()),
            ("I2G_CLIENT_ID".into(), CLIENT_ID.into()),
            ("I2G_SECRET".into(), SECRET.into()),
        ]
    }
}

/// Asserts a client program exited 0; otherwise panics with its output (and the gateway's log).
pub fn assert_success(what: &str, output: &Output, gateway: Option<&Gateway>) {
    if output.status.success() {
        return;
    }
    let log = gateway
        .map(|g| {
            format!(
                "\n--- gateway log (last 80 lines) ---\n{}",
                tail(&g.process.stderr_so_far(), 80)
            )
        })
        .unwrap_or_default();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The scripts' failed checks first, so they are seen even in a long report.
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL:")).collect();
    panic!(
        "{what} failed ({})\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}{log}",
        output.status,
        failures.join("\n"),
        stdout,
        String::from_utf8_lossy(&output.stderr),
    );
}

/// `imap2graph emulator --listen 127.0.0.1:0`.
pub struct EmulatorProcess {
    pub process: Process,
    /// `http://ADDR`
    pub url: String,
}

/// How the emulator answers delta queries in a test (`--delta-items`, `--delta-replay`). Graph's
/// documentation allows an updated item whole or with only what changed, and replays; the
/// tests of delta sync run in each mode ([`in_each_delta_mode!`](crate::in_each_delta_mode)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaMode {
    /// Updated items whole, no replays.
    WholeObjects,
    /// Updated items with only the properties that changed (the emulator's default).
    ChangedProperties,
    /// Only what changed, and every page first sends the previous page again.
    ChangedReplayed,
}

impl DeltaMode {
    /// The environment that sets this mode for `imap2graph emulator` and `imap2graph demo`.
    pub fn env(self) -> [(&'static str, &'static str); 2] {
        let (items, replay) = match self {
            DeltaMode::WholeObjects => ("whole", "false"),
            DeltaMode::ChangedProperties => ("changed", "false"),
            DeltaMode::ChangedReplayed => ("changed", "true"),
        };
        [
            ("IMAP2GRAPH_EMULATOR_DELTA_ITEMS", items),
            ("IMAP2GRAPH_EMULATOR_DELTA_REPLAY", replay),
        ]
    }
}

/// Turns each `fn name(mode: DeltaMode) { … }` into a module `name` with one test per
/// [`DeltaMode`] (`whole_objects`, `changed_properties`, `changed_replayed`) running the body.
#[macro_export]
macro_rules! in_each_delta_mode {
    ($($(#[doc = $doc:literal])* fn $name:ident($mode:ident: DeltaMode) $body:block)*) => {
        $(
            $(#[doc = $doc])*
            mod $name {
                use super::*;

                fn scenario($mode: DeltaMode) $body

                #[test]
                fn whole_objects() {
                    scenario(DeltaMode::WholeObjects)
                }

                #[test]
                fn changed_properties() {
                    scenario(DeltaMode::ChangedProperties)
                }

                #[test]
                fn changed_replayed() {
                    scenario(DeltaMode::ChangedReplayed)
                }
            }
        )*
    };
}

impl EmulatorProcess {
    /// The emulator in its default delta mode (only the changed properties, no replays).
    pub fn start() -> EmulatorProcess {
        EmulatorProcess::start_in(DeltaMode::ChangedProperties)
    }

    pub fn start_in(mode: DeltaMode) -> EmulatorProcess {
        let mut command = binary_command();
        command
            .arg("emulator")
            .args(["--listen", "127.0.0.1:0"])
            .envs(mode.env());
        let (process, found) =
            Process::spawn("imap2graph emulator", command, &["Graph emulator: "]);
        EmulatorProcess {
            process,
            url: found[0].clone(),
        }
    }

    /// Runs the client script `script` against `imap2graph serve` (configured by `env`) on a
    /// new emulator in `mode`, asserts it passed every check, and returns what it printed.
    pub fn run_script(mode: DeltaMode, env: &[(&str, &str)], script: &str) -> String {
        let emulator = EmulatorProcess::start_in(mode);
        let dir = temp_dir();
        let gateway = Gateway::serve(dir.path(), &emulator.url, env);
        let out = gateway.python_ok(script, &[]);
        assert!(out.contains("all checks passed"), "{out}");
        gateway.stop();
        emulator.process.stop();
        out
    }

    pub fn graph(&self) -> Graph {
        Graph::new(&self.url)
    }
}

/// A new self-signed pair for localhost and 127.0.0.1 in `dir` (cert.pem, key.pem), made by
/// `imap2graph cert` (replacing any pair there).
pub fn write_certificate(dir: &Path) {
    let output = binary_command()
        .arg("cert")
        .arg("--out")
        .arg(dir)
        .args(["--name", "localhost", "--name", "127.0.0.1"])
        .output()
        .expect("cannot run `imap2graph cert`");
    assert_success("imap2graph cert", &output, None);
    assert!(
        dir.join("cert.pem").is_file() && dir.join("key.pem").is_file(),
        "`imap2graph cert` wrote no pair"
    );
}

/// Writes `DIR/imap2graph.toml` for `serve` (and the certificate, if missing).
pub fn write_serve_config(dir: &Path, graph_url: &str) -> PathBuf {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if !cert.is_file() || !key.is_file() {
        write_certificate(dir);
    }
    let config = dir.join("imap2graph.toml");
    let text = format!(
        "[imap]\nlisten = \"127.0.0.1:0\"\n\n\
         [tls]\ncert = {cert:?}\nkey = {key:?}\n\n\
         [graph]\nbase_url = \"{graph_url}/v1.0\"\n\n\
         [identity]\nauthority = \"{graph_url}\"\n\n\
         [identity.default_mailbox]\n\"{CLIENT_ID}\" = \"{ALICE}\"\n\n\
         [store]\npath = {store:?}\n",
        cert = cert.display().to_string(),
        key = key.display().to_string(),
        store = dir.join("uids.sqlite").display().to_string(),
    );
    std::fs::write(&config, text).expect("cannot write the configuration");
    config
}

/// Runs `python3 tests/clients/SCRIPT ARGS` with `env`, killed after CLIENT_TIMEOUT.
/// One plain HTTP/1.1 request; (status line, body).
pub fn http_get(address: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address)
        .unwrap_or_else(|err| panic!("cannot connect to the metrics listener {address}: {err}"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// curl (which must be installed) logging in to the gateway as `user` with `secret` and
/// opening `imaps://…/{path}`; the certificate is not checked (the gateway's is self-signed).
/// Callers add options: curl takes them after the URL too.
pub fn curl_command(gateway: &Gateway, user: &str, secret: &str, path: &str) -> Command {
    require_program("curl", "curl");
    let mut command = Command::new("curl");
    command
        .args([
            "--silent",
            "--show-error",
            "--insecure",
            "--max-time",
            "120",
        ])
        .arg("--user")
        .arg(format!("{user}:{secret}"))
        .arg(format!("imaps://127.0.0.1:{}/{path}", gateway.imap.port()));
    command
}

/// The messages of an mbox a client wrote, as (Message-ID, body after the header), in order.
/// Clients write LF line ends and add headers of their own (Status, X-Status), so only the
/// bodies compare with Graph's MIME (see [`as_mbox_body`]).
pub fn mbox_messages(mbox: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(mbox);
    let mut messages = Vec::new();
    for chunk in text
        .split("\n\nFrom ")
        .map(|c| c.trim_start_matches("From "))
        .filter(|c| !c.trim().is_empty())
    {
        let (envelope_and_header, body) = chunk.split_once("\n\n").unwrap_or((chunk, ""));
        let message_id = envelope_and_header
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("Message-ID")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default();
        messages.push((message_id, body.trim_end_matches('\n').to_string()));
    }
    messages
}

/// How an mbox writer protects body lines that look like a message separator.
#[derive(Clone, Copy)]
pub enum MboxQuoting {
    /// mboxo (mutt): `>` before lines beginning `From `.
    O,
    /// mboxrd (getmail): `>` before lines beginning `From ` after any number of `>`.
    Rd,
}

/// The body of a MIME message as an mbox writer stores it: LF line ends, separator-like
/// lines quoted, trailing line ends dropped.
pub fn as_mbox_body(mime: &[u8], quoting: MboxQuoting) -> String {
    let text = String::from_utf8_lossy(mime).replace("\r\n", "\n");
    let body = text.split_once("\n\n").map_or("", |(_, body)| body);
    body.lines()
        .map(|line| {
            let quoted = match quoting {
                MboxQuoting::O => line.starts_with("From "),
                MboxQuoting::Rd => line.trim_start_matches('>').starts_with("From "),
            };
            if quoted {
                format!(">{line}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end_matches('\n')
        .to_string()
}

/// What a client remembers of a mailbox, seen through imaplib (`uids.py`): per folder
/// UIDVALIDITY, UIDNEXT, EXISTS, each UID's Message-ID (`uids`) and its FLAGS and INTERNALDATE
/// (`states`).
pub fn client_view(env: &[(String, String)], mailbox: &str) -> Value {
    let output = python("uids.py", &[mailbox], env);
    assert_success("python3 uids.py", &output, None);
    let out = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(out.lines().last().unwrap_or(""))
        .unwrap_or_else(|err| panic!("uids.py printed no JSON ({err}):\n{out}"))
}

pub fn python(script: &str, args: &[&str], env: &[(String, String)]) -> Output {
    require_program("python3", "python3");
    let mut command = Command::new("python3");
    command
        .arg(client_script(script))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    run(command, CLIENT_TIMEOUT)
}

/// Runs a command to completion with a time limit, capturing its output.
pub fn run(mut command: Command, timeout: Duration) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().expect("waiting for a killed client");
            let stdout = out.join().unwrap_or_default();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "{command:?} did not finish within {timeout:?} ({status})\n--- stdout ---\n{}\n\
                 --- stderr ---\n{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A Graph folder as the gateway should show it.
#[derive(Clone, Debug)]
pub struct GraphFolder {
    /// The IMAP name: `INBOX` for the inbox, display names joined with `/`, modified UTF-7.
    pub imap_name: String,
    pub id: String,
    pub display_name: String,
    pub total_item_count: u64,
}

/// A minimal HTTP/1.1 client for the emulator: token endpoint, Graph GETs, stats.
#[derive(Clone, Debug)]
pub struct Graph {
    /// `http://ADDR`
    pub url: String,
    addr: String,
}

/// An HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "response is not JSON ({err}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

impl Graph {
    pub fn new(url: &str) -> Graph {
        let addr = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("not an http:// URL: {url}"))
            .trim_end_matches('/')
            .to_string();
        Graph {
            url: url.trim_end_matches('/').to_string(),
            addr,
        }
    }

    /// One request with `Connection: close`; `target` is an origin-form path with query.
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        let mut stream = TcpStream::connect(&self.addr)
            .unwrap_or_else(|err| panic!("cannot connect to the emulator at {}: {err}", self.addr));
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("read timeout");
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("write request");
        stream.write_all(body).expect("write body");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        parse_http_response(&raw)
    }

    /// A fresh access token for the demo application (client credentials).
    pub fn token(&self) -> String {
        self.token_for(TENANT, CLIENT_ID, SECRET)
            .unwrap_or_else(|response| {
                panic!(
                    "token request failed: {} {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                )
            })
    }

    pub fn token_for(
        &self,
        tenant: &str,
        client_id: &str,
        secret: &str,
    ) -> Result<String, HttpResponse> {
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            form_encode(client_id),
            form_encode(secret),
            form_encode("https://graph.microsoft.com/.default")
        );
        let response = self.request(
            "POST",
            &format!("/{}/oauth2/v2.0/token", path_encode(tenant)),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        );
        if response.status != 200 {
            return Err(response);
        }
        let json = response.json();
        Ok(json["access_token"]
            .as_str()
            .expect("no access_token in the token response")
            .to_string())
    }

    /// GET `/v1.0{path}` (path already encoded) with a bearer token; panics unless 200.
    pub fn get(&self, token: &str, path: &str) -> HttpResponse {
        let target = if let Some(rest) = path.strip_prefix(&self.url) {
            rest.to_string()
        } else {
            format!("/v1.0{path}")
        };
        let auth = format!("Bearer {token}");
        let response = self.request("GET", &target, &[("Authorization", &auth)], b"");
        assert_eq!(
            response.status,
            200,
            "GET {target}: {}",
            String::from_utf8_lossy(&response.body)
        );
        response
    }

    /// All items of a Graph collection, following `@odata.nextLink`.
    pub fn get_all(&self, token: &str, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(path) = next.take() {
            let json = self.get(token, &path).json();
            items.extend(json["value"].as_array().cloned().unwrap_or_default());
            next = json["@odata.nextLink"].as_str().map(str::to_string);
        }
        items
    }

    /// The MIME of a message as the emulator holds it.
    pub fn mime(&self, token: &str, mailbox: &str, message_id: &str) -> Vec<u8> {
        self.get(
            token,
            &format!(
                "/users/{}/messages/{}/$value",
                path_encode(mailbox),
                path_encode(message_id)
            ),
        )
        .body
    }

    /// Messages of a folder: (id, receivedDateTime, internetMessageId).
    pub fn messages(&self, token: &str, mailbox: &str, folder_id: &str) -> Vec<Value> {
        self.get_all(
            token,
            &format!(
                "/users/{}/mailFolders/{}/messages?$select=id,receivedDateTime,internetMessageId&$top=1000",
                path_encode(mailbox),
                path_encode(folder_id)
            ),
        )
    }

    /// The messages of a folder by internetMessageId: their Graph ids.
    pub fn ids_by_message_id(
        &self,
        token: &str,
        mailbox: &str,
        folder_id: &str,
    ) -> std::collections::HashMap<String, String> {
        self.messages(token, mailbox, folder_id)
            .iter()
            .map(|m| {
                (
                    m["internetMessageId"].as_str().unwrap_or("").to_string(),
                    m["id"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// The id of a well-known folder (`inbox`, `sentitems`, …).
    pub fn well_known(&self, token: &str, mailbox: &str, name: &str) -> String {
        let json = self
            .get(
                token,
                &format!("/users/{}/mailFolders/{name}", path_encode(mailbox)),
            )
            .json();
        json["id"].as_str().expect("folder without id").to_string()
    }

    /// The whole folder tree of a mailbox, with the names the gateway should give.
    pub fn folders(&self, token: &str, mailbox: &str) -> Vec<GraphFolder> {
        let inbox = self.well_known(token, mailbox, "inbox");
        let mut out = Vec::new();
        let top = format!("/users/{}/mailFolders?$top=100", path_encode(mailbox));
        self.walk(token, mailbox, &top, "", &inbox, &mut out);
        out
    }

    fn walk(
        &self,
        token: &str,
        mailbox: &str,
        path: &str,
        prefix: &str,
        inbox: &str,
        out: &mut Vec<GraphFolder>,
    ) {
        for folder in self.get_all(token, path) {
            let id = folder["id"].as_str().expect("folder id").to_string();
            let display_name = folder["displayName"].as_str().unwrap_or("").to_string();
            let leaf = if prefix.is_empty() && id == inbox {
                "INBOX".to_string()
            } else {
                modified_utf7(&display_name)
            };
            let imap_name = format!("{prefix}{leaf}");
            out.push(GraphFolder {
                imap_name: imap_name.clone(),
                id: id.clone(),
                display_name,
                total_item_count: folder["totalItemCount"].as_u64().unwrap_or(0),
            });
            if folder["childFolderCount"].as_u64().unwrap_or(0) > 0 {
                let children = format!(
                    "/users/{}/mailFolders/{}/childFolders?$top=100",
                    path_encode(mailbox),
                    path_encode(&id)
                );
                self.walk(
                    token,
                    mailbox,
                    &children,
                    &format!("{imap_name}/"),
                    inbox,
                    out,
                );
            }
        }
    }

    /// `GET /_emulator/stats`.
    pub fn stats(&self) -> Value {
        let response = self.request("GET", "/_emulator/stats", &[], b"");
        assert_eq!(response.status, 200, "GET /_emulator/stats");
        response.json()
    }
}

fn parse_http_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "malformed HTTP response: {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        body = dechunk(&body);
    } else if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len.parse().expect("content-length");
        assert!(body.len() >= len, "truncated HTTP body");
        body.truncate(len);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16).expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Percent-encodes everything but unreserved characters (for one path segment).
pub fn path_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn form_encode(text: &str) -> String {
    path_encode(text)
}

/// RFC 3501 modified UTF-7 for a mailbox name component.
pub fn modified_utf7(name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    };
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut pending, &mut out);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

#[test]
fn modified_utf7_examples() {
    assert_eq!(modified_utf7("Überprüfung"), "&ANw-berpr&APw-fung");
    assert_eq!(modified_utf7("Réunions"), "R&AOk-unions");
    assert_eq!(modified_utf7("A&B"), "A&-B");
    assert_eq!(modified_utf7("台北"), "&U,BTFw-");
}

/// Runs mbsync on one channel with network debugging (`-D n`: the IMAP commands it sends,
/// secrets masked), HOME pointing at `home`; asserts it succeeded; returns its output.
pub fn run_mbsync(gateway: &Gateway, home: &Path, config: &Path, channel: &str) -> String {
    require_program("mbsync", "isync");
    let mut command = Command::new("mbsync");
    command
        .arg("-Dn")
        .arg("-c")
        .arg(config)
        .arg(channel)
        .env("HOME", home);
    let output = run(command, CLIENT_TIMEOUT);
    assert_success("mbsync", &output, Some(gateway));
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A TLS connection to the gateway, checking its certificate (issued for `localhost`).
pub fn tls_connect(
    addr: SocketAddr,
    cert: &Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(addr).expect("cannot connect to the gateway");
    tls_over(tcp, cert)
}

/// TLS over an open TCP connection to the gateway (e.g. one bound to another source address).
pub fn tls_over(
    tcp: TcpStream,
    cert: &Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(cert).expect("gateway certificate")
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    rustls::StreamOwned::new(connection, tcp)
}
