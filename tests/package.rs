//! The service as operations install it (issue 13, item 5): the example configuration of
//! `packaging/` parses with the gateway's own loader, every key commented in or not; and the
//! Debian package, built by `cargo deb` (from the debug binary the tests built), installs with `dpkg -i` as root:
//! the binary runs, the unit passes `systemd-analyze verify` and keeps its exposure score, the
//! configuration is a conffile readable by root and the `imap2graph` group only,
//! /var/lib/imap2graph is that user's; the gateway then runs as the unit would start it (that user, only
//! CAP_NET_BIND_SERVICE, on port 993, the installed configuration), takes a TLS connection,
//! reloads its certificate by the unit's ExecReload, and stops; a second `dpkg -i` (an
//! upgrade) keeps it all, and `dpkg --purge` removes it. systemd itself need not run.
//!
//! The install test needs root, `cargo deb` (cargo-deb), `dpkg` and `dpkg-dev`, `setpriv` and
//! `systemd-analyze` (Debian's `systemd`); `.ci/run` provides them. It refuses to run where the
//! imap2graph package is already installed, since the purge would delete that uid store.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::client::Client;
use common::*;
use imap2graph::config::Config;

const PACKAGE: &str = "imap2graph";
const INSTALLED_UNIT: &str = "/usr/lib/systemd/system/imap2graph.service";
const INSTALLED_CONFIG: &str = "/etc/imap2graph/imap2graph.toml";
const STATE_DIR: &str = "/var/lib/imap2graph";
/// `systemd-analyze security` rates the unit 1.4 ("OK"); a change that loosens it fails here.
const MAX_EXPOSURE: f64 = 2.0;
/// A debug build of the binary when the tests' build left none, then cargo-deb's packing.
const BUILD_TIMEOUT: Duration = Duration::from_secs(60 * 60);

fn repository(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {path:?}: {err}"))
}

/// The example configuration with every `# key = value` line made a setting.
fn all_commented_keys_set(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(setting) if looks_like_a_setting(setting) => setting,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key = value` that is TOML by itself (prose comments are not).
fn looks_like_a_setting(text: &str) -> bool {
    text.contains(" = ") && toml::from_str::<toml::Table>(text).is_ok()
}

/// Every `section.key` the file names, as a setting or as a commented one.
fn keys_shown(text: &str) -> BTreeSet<String> {
    let table: toml::Table =
        toml::from_str(&all_commented_keys_set(text)).expect("the example is TOML");
    let mut keys = BTreeSet::new();
    for (section, value) in &table {
        for key in value.as_table().into_iter().flat_map(|t| t.keys()) {
            keys.insert(format!("{section}.{key}"));
        }
    }
    keys
}

#[test]
fn example_configuration_parses_with_every_key_shown() {
    let text = read(repository("packaging/imap2graph.toml"));
    let config = Config::from_toml_and_env(&text, Vec::new())
        .unwrap_or_else(|err| panic!("packaging/imap2graph.toml as shipped: {err}"));
    // What the unit and the package rely on.
    assert_eq!(config.listen_addr().unwrap().port(), 993);
    assert_eq!(
        config.store.path,
        Path::new(STATE_DIR).join("uids.sqlite"),
        "the uid store belongs in the unit's StateDirectory"
    );
    assert!(config.store.url.is_none());
    assert_eq!(
        config.tls.cert.as_deref(),
        Some(Path::new("/etc/imap2graph/cert.pem"))
    );
    assert_eq!(
        config.tls.key.as_deref(),
        Some(Path::new("/etc/imap2graph/key.pem"))
    );
    assert!(
        config.metrics_addr().unwrap().unwrap().ip().is_loopback(),
        "the unauthenticated metrics listener stays on loopback"
    );

    let everything = all_commented_keys_set(&text);
    let config = Config::from_toml_and_env(&everything, Vec::new()).unwrap_or_else(|err| {
        panic!("packaging/imap2graph.toml with every commented key set: {err}\n{everything}")
    });
    assert!(
        config.imap.proxy_protocol,
        "the commented keys were not set"
    );
    assert_eq!(config.identity.default_mailbox.len(), 1);

    // Every key the gateway knows is shown, so the file is the operator's whole reference.
    let shown = keys_shown(&text);
    let defaults = toml::Value::try_from(Config::default()).unwrap();
    let mut known: BTreeSet<String> = ["tls.cert", "tls.key", "store.url", "metrics.listen"]
        .map(String::from)
        .into();
    for (section, value) in defaults.as_table().unwrap() {
        for key in value.as_table().unwrap().keys() {
            known.insert(format!("{section}.{key}"));
        }
    }
    let missing: Vec<_> = known.difference(&shown).collect();
    assert!(
        missing.is_empty(),
        "packaging/imap2graph.toml does not show {missing:?}: add each with its default, \
         commented (`# key = value`), and a word on what it does"
    );
}

#[test]
fn the_unit_and_the_example_agree() {
    let unit = read(repository("packaging/imap2graph.service"));
    let config = Config::from_toml_and_env(&read(repository("packaging/imap2graph.toml")), [])
        .expect("the example parses");
    assert_eq!(unit_value(&unit, "StateDirectory"), "imap2graph");
    assert_eq!(unit_value(&unit, "ConfigurationDirectory"), "imap2graph");
    assert!(config.store.path.starts_with("/var/lib/imap2graph"));
    assert!(unit_value(&unit, "ExecStart").ends_with(&format!("--config {INSTALLED_CONFIG}")));
    // LimitNOFILE covers max_connections plus what the gateway keeps for itself (256).
    let files: usize = unit_value(&unit, "LimitNOFILE").parse().unwrap();
    assert!(files >= config.imap.max_connections + 256);
    assert_eq!(unit_value(&unit, "User"), PACKAGE);
    assert_eq!(
        unit_value(&unit, "CapabilityBoundingSet"),
        "CAP_NET_BIND_SERVICE"
    );
    assert_eq!(
        unit_value(&unit, "AmbientCapabilities"),
        "CAP_NET_BIND_SERVICE"
    );
}

/// The value of the (last) `key=` line of a unit file.
fn unit_value(unit: &str, key: &str) -> String {
    unit.lines()
        .rev()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("the unit has no {key}="))
        .trim()
        .to_string()
}

fn command_output(program: &str, args: &[&str]) -> Output {
    let mut command = Command::new(program);
    command.args(args);
    run(command, CLIENT_TIMEOUT)
}

fn ok_output(program: &str, args: &[&str]) -> String {
    let output = command_output(program, args);
    assert_success(&format!("{program} {}", args.join(" ")), &output, None);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Purges the package when dropped, so a failed assertion leaves no installation behind.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        for file in ["cert.pem", "key.pem"] {
            let _ = std::fs::remove_file(Path::new("/etc/imap2graph").join(file));
        }
        let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
    }
}

fn require_root() {
    let uid = ok_output("id", &["-u"]);
    assert_eq!(
        uid.trim(),
        "0",
        "this test installs a Debian package with dpkg and must run as root (CI does, through \
         .ci/run); run it as root in a Debian container or VM"
    );
}

fn require_cargo_deb() {
    let found = Command::new("cargo")
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "this test builds the Debian package with cargo-deb, which is not installed: \
         `cargo install cargo-deb --version 3.8.0 --locked` (as .ci/run does)"
    );
}

/// Nothing of an earlier installation is here: the test writes a certificate into
/// /etc/imap2graph and purges the package, which deletes /var/lib/imap2graph.
fn require_not_installed() {
    let status = command_output("dpkg-query", &["-W", "-f=${Status}", PACKAGE]);
    let status = String::from_utf8_lossy(&status.stdout);
    let traces: Vec<&str> = ["/etc/imap2graph", STATE_DIR]
        .into_iter()
        .filter(|path| Path::new(path).exists())
        .collect();
    assert!(
        (status.is_empty() || status.contains("not-installed")) && traces.is_empty(),
        "the {PACKAGE} package is or was installed on this machine (dpkg: {status:?}; present: \
         {traces:?}); this test installs its own build, writes a certificate into \
         /etc/imap2graph and purges the package, which deletes {STATE_DIR}: run it where \
         imap2graph was never installed (or `dpkg --purge {PACKAGE}` and remove those first)"
    );
}

/// `cargo deb --profile dev`: packs the binary `cargo test` has already built; returns the
/// .deb's path. The test proves the package (files, scripts, unit, user), not the optimiser, and
/// a release build would add 7 to 15 minutes on two cores. (cargo-deb 3.8.0, pinned in .ci/run,
/// warns that it is meant for release profiles; operators build with plain `cargo deb`.)
fn build_package() -> PathBuf {
    let mut command = Command::new("cargo");
    command
        .args(["deb", "--profile", "dev"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let output = run(command, BUILD_TIMEOUT);
    assert_success("cargo deb", &output, None);
    let printed = String::from_utf8_lossy(&output.stdout);
    let deb = printed
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.ends_with(".deb"))
        .unwrap_or_else(|| panic!("cargo deb named no .deb:\n{printed}"));
    PathBuf::from(deb)
}

fn owner_and_mode(path: &str) -> (String, String, u32) {
    let metadata = std::fs::metadata(path).unwrap_or_else(|err| panic!("{path} is missing: {err}"));
    let name = |id: u32, database: &str| {
        let entry = ok_output("getent", &[database, &id.to_string()]);
        entry.split(':').next().unwrap_or_default().to_string()
    };
    (
        name(metadata.uid(), "passwd"),
        name(metadata.gid(), "group"),
        metadata.permissions().mode() & 0o7777,
    )
}

#[test]
fn the_debian_package_installs_runs_and_purges() {
    require_root();
    require_cargo_deb();
    for (program, package) in [
        ("dpkg", "dpkg"),
        ("dpkg-shlibdeps", "dpkg-dev"),
        ("setpriv", "util-linux"),
        ("systemd-analyze", "systemd"),
        ("getent", "libc-bin"),
        ("kill", "procps"),
    ] {
        require_program(program, package);
    }
    require_not_installed();
    let deb = build_package();

    let installed = Installed;
    ok_output("dpkg", &["-i", deb.to_str().unwrap()]);
    check_installation();
    run_as_the_unit_would();

    // An upgrade (the same version again): the maintainer scripts run again over an existing
    // user, state directory and configuration.
    let uid_before = ok_output("id", &["-u", PACKAGE]);
    ok_output("dpkg", &["-i", deb.to_str().unwrap()]);
    check_installation();
    assert_eq!(ok_output("id", &["-u", PACKAGE]), uid_before);

    drop(installed);
    let status = command_output("dpkg-query", &["-W", "-f=${Status}", PACKAGE]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(!status.contains(" installed"), "still installed: {status}");
    for gone in [
        "/usr/bin/imap2graph",
        INSTALLED_UNIT,
        "/etc/imap2graph",
        STATE_DIR,
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left after the purge");
    }
}

fn check_installation() {
    let version = ok_output("/usr/bin/imap2graph", &["--version"]);
    assert_eq!(
        version.trim(),
        format!("imap2graph {}", env!("CARGO_PKG_VERSION"))
    );
    let help = ok_output("/usr/bin/imap2graph", &["--help"]);
    for command in ["serve", "check", "cert"] {
        assert!(
            help.contains(command),
            "--help names no `{command}`:\n{help}"
        );
    }

    let fields = ok_output(
        "dpkg-query",
        &["-W", "-f=${Depends}\n${Conffiles}\n", PACKAGE],
    );
    assert!(
        fields.contains("libc6"),
        "Depends lacks libc6 (dpkg-shlibdeps): {fields}"
    );
    assert!(
        fields.contains("adduser"),
        "Depends lacks adduser: {fields}"
    );
    assert!(
        fields.contains(INSTALLED_CONFIG),
        "not a conffile: {fields}"
    );

    assert_eq!(
        read(INSTALLED_UNIT),
        read(repository("packaging/imap2graph.service"))
    );
    assert_eq!(
        read(INSTALLED_CONFIG),
        read(repository("packaging/imap2graph.toml"))
    );
    // The configuration may hold a PostgreSQL password: the service's group reads it, no one else.
    assert_eq!(
        owner_and_mode(INSTALLED_CONFIG),
        ("root".into(), PACKAGE.into(), 0o640)
    );
    assert_eq!(
        owner_and_mode(STATE_DIR),
        (PACKAGE.into(), PACKAGE.into(), 0o750)
    );

    let user = ok_output("getent", &["passwd", PACKAGE]);
    let fields: Vec<&str> = user.trim().split(':').collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "not a system user: {user}");
    assert_eq!(fields[5], STATE_DIR, "home: {user}");
    assert!(fields[6].ends_with("nologin"), "shell: {user}");

    let verify = command_output("systemd-analyze", &["verify", INSTALLED_UNIT]);
    assert_success("systemd-analyze verify", &verify, None);
    let verify_said = String::from_utf8_lossy(&verify.stderr);
    assert!(
        !verify_said.contains("imap2graph"),
        "systemd-analyze verify has remarks on the unit:\n{verify_said}"
    );
    let security = ok_output(
        "systemd-analyze",
        &["security", "--offline=true", "--no-pager", INSTALLED_UNIT],
    );
    let score: f64 = security
        .lines()
        .find_map(|line| {
            line.split("Overall exposure level for imap2graph.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"));
    assert!(
        score <= MAX_EXPOSURE,
        "the unit's exposure is {score} (at most {MAX_EXPOSURE}):\n{security}"
    );
}

/// Starts the installed gateway as the unit does (its User=, its one capability, its
/// WorkingDirectory=, its ExecStart=) on 127.0.0.1:993, after the README's steps for the
/// certificate; checks a client gets a TLS greeting, the store is made in the state directory,
/// the unit's ExecReload reloads the certificate, and SIGTERM stops it cleanly.
fn run_as_the_unit_would() {
    let unit = read(INSTALLED_UNIT);
    ok_output(
        "/usr/bin/imap2graph",
        &[
            "cert",
            "--out",
            "/etc/imap2graph",
            "--name",
            "localhost",
            "--name",
            "127.0.0.1",
        ],
    );
    ok_output("chgrp", &[PACKAGE, "/etc/imap2graph/key.pem"]);
    ok_output("chmod", &["640", "/etc/imap2graph/key.pem"]);

    let user = unit_value(&unit, "User");
    let capability = unit_value(&unit, "AmbientCapabilities")
        .trim_start_matches("CAP_")
        .to_ascii_lowercase();
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={user}"))
        .arg(format!("--regid={}", unit_value(&unit, "Group")))
        .arg("--init-groups")
        .arg(format!("--inh-caps=-all,+{capability}"))
        .arg(format!("--ambient-caps=-all,+{capability}"))
        .arg(format!("--bounding-set=-all,+{capability}"))
        .arg("--no-new-privs")
        .arg("--")
        .args(unit_value(&unit, "ExecStart").split_whitespace())
        .current_dir(unit_value(&unit, "WorkingDirectory"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("IMAP2GRAPH_") {
            command.env_remove(name);
        }
    }
    command
        .env("IMAP2GRAPH_IMAP_LISTEN", "127.0.0.1:993")
        .env("IMAP2GRAPH_METRICS_LISTEN", "127.0.0.1:0")
        .env_remove("RUST_LOG");
    let (process, lines) = Process::spawn(
        "the installed gateway as the imap2graph user",
        command,
        &["Metrics: http://", "IMAPS: "],
    );
    assert_eq!(lines[1], "127.0.0.1:993");

    let mut client = Client::over(tls_connect(
        "127.0.0.1:993".parse().unwrap(),
        Path::new("/etc/imap2graph/cert.pem"),
    ));
    assert!(client.command("a", "CAPABILITY").starts_with("a OK"));
    let metrics = lines[0].trim_end_matches("/metrics");
    let (status, _) = http_get(metrics, "/healthz");
    assert!(status.contains("200"), "/healthz: {status}");
    assert_eq!(
        owner_and_mode(&format!("{STATE_DIR}/uids.sqlite")).0,
        PACKAGE,
        "the uid store was not made by the service user"
    );

    let reload = unit_value(&unit, "ExecReload").replace("$MAINPID", &process.pid().to_string());
    let mut words = reload.split_whitespace();
    let program = words.next().unwrap();
    ok_output(program, &words.collect::<Vec<_>>());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !process
        .stderr_so_far()
        .contains("TLS certificate and key reloaded")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "ExecReload did not reload the certificate:\n{}",
            tail(&process.stderr_so_far(), 30)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        client.command("b", "NOOP").starts_with("b OK"),
        "the session survives a reload"
    );
    drop(client);
    process.stop();
}
