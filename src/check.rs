//! Owns `imap2graph check`: the preflight an operator runs on the gateway's own host before
//! going live ("all status indicators green"). It reaches the identity platform and Graph the
//! way the gateway does (same configuration, same HTTP client), and reports each step as a row:
//! DNS and HTTPS to both, the clock against theirs, a token for the application, the roles it
//! carries, each mailbox opened and its Inbox counted (which shows an application access
//! policy's effect), and the gateway's TLS certificate. A failed row says what to do.
//!
//! The secret comes from `IMAP2GRAPH_CHECK_SECRET` or a prompt on the terminal, never from an
//! argument (arguments show in `ps`), and never appears in what is printed.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::graph::client::encode;
use crate::graph::token::token_roles;
use crate::graph::{AuthFailure, Credentials, GraphClient, GraphError};
use crate::login::{LoginName, MailboxName};
use crate::secret::Secret;

/// The application permissions the gateway's setup asks for (README: Registering the Azure
/// application).
const REQUIRED_ROLES: [&str; 2] = ["Mail.ReadWrite", "Mail.Send"];
/// A clock further off than this breaks tokens (their `nbf`/`exp`) and TLS.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// A certificate expiring sooner than this is reported, so it is renewed in time.
const CERTIFICATE_WARNING_DAYS: i64 = 14;

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Row {
    pub what: String,
    pub ok: bool,
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Row {
    fn ok(what: impl Into<String>, detail: impl Into<String>) -> Row {
        Row {
            what: what.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn failed(what: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Row {
        Row {
            what: what.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Runs every check for `login` (and the extra `mailboxes`) with `secret`.
pub async fn run(
    config: &Config,
    config_path: &Path,
    login: &str,
    mailboxes: &[String],
    secret: Secret,
) -> Vec<Row> {
    crate::tls::install_crypto_provider();
    let mut rows = vec![Row::ok("configuration", config_path.display().to_string())];
    let name = match LoginName::parse(login) {
        Ok(name) => name,
        Err(err) => {
            rows.push(Row::failed(
                "login name",
                err.to_string(),
                "give --login as TENANT/CLIENT_ID or TENANT/CLIENT_ID/MAILBOX",
            ));
            return rows;
        }
    };
    for (what, url) in [
        ("identity platform", config.identity.authority.as_str()),
        ("Microsoft Graph", config.graph.base_url.as_str()),
    ] {
        rows.extend(reach(what, url, &config.graph.timeout_secs).await);
    }
    let graph = match GraphClient::new(&config.graph, &config.identity.authority) {
        Ok(graph) => graph,
        Err(err) => {
            rows.push(Row::failed("HTTP client", err.to_string(), "see the error"));
            return rows;
        }
    };
    let credentials = Credentials {
        tenant: name.tenant.clone(),
        client_id: name.client_id.clone(),
        secret,
    };
    let token = match graph.access_token(&credentials).await {
        Ok(token) => {
            rows.push(Row::ok(
                "token",
                format!(
                    "client-credentials grant for application {} in {}",
                    name.client_id, name.tenant
                ),
            ));
            token
        }
        Err(err) => {
            rows.push(token_failure(err));
            return rows;
        }
    };
    rows.push(roles_row(token.expose()));

    let mut wanted: Vec<MailboxName> = Vec::new();
    if let Some(mailbox) = name
        .mailbox
        .clone()
        .or_else(|| config.default_mailbox_for(&name.client_id))
    {
        wanted.push(mailbox);
    }
    for address in mailboxes {
        match MailboxName::parse(address, &name.tenant) {
            Ok(mailbox) if !wanted.contains(&mailbox) => wanted.push(mailbox),
            Ok(_) => {}
            Err(err) => rows.push(Row::failed(
                format!("mailbox {address}"),
                err.to_string(),
                "give --mailbox as an address, an object id or an alias",
            )),
        }
    }
    if wanted.is_empty() {
        rows.push(Row::failed(
            "mailbox",
            "none named",
            "add the mailbox to --login or give --mailbox ADDR",
        ));
    }
    for mailbox in &wanted {
        rows.push(inbox_row(&graph, token.expose(), mailbox).await);
    }
    rows.push(certificate_row(config));
    rows
}

/// DNS, then HTTPS (or plain HTTP to a loopback emulator) to `url`'s host, and the clock
/// against the `Date` it answers with.
async fn reach(what: &str, url: &str, timeout_secs: &u64) -> Vec<Row> {
    let Ok(parsed) = url::Url::parse(url) else {
        return vec![Row::failed(
            what,
            format!("{url} is not a URL"),
            "fix the configuration",
        )];
    };
    let host = parsed.host_str().unwrap_or_default().to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let mut rows = Vec::new();
    match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(addresses) => {
            let addresses: Vec<String> = addresses.map(|a| a.ip().to_string()).collect();
            rows.push(Row::ok(format!("DNS {host}"), addresses.join(", ")));
        }
        Err(err) => {
            rows.push(Row::failed(
                format!("DNS {host}"),
                err.to_string(),
                "check the host's resolver (/etc/resolv.conf) and that outbound DNS is allowed",
            ));
            return rows;
        }
    }
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(*timeout_secs))
        .build()
    {
        Ok(client) => client,
        Err(err) => return vec![Row::failed(what, err.to_string(), "see the error")],
    };
    let origin = format!("{}://{}/", parsed.scheme(), parsed.authority());
    let scheme = if parsed.scheme() == "https" {
        "HTTPS"
    } else {
        "HTTP (loopback only)"
    };
    match client.get(&origin).send().await {
        Ok(response) => {
            rows.push(Row::ok(
                format!("{scheme} {what}"),
                format!("{origin} answered {}", response.status().as_u16()),
            ));
            rows.push(clock_row(
                what,
                response.headers().get(reqwest::header::DATE),
            ));
        }
        Err(err) => rows.push(Row::failed(
            format!("{scheme} {what}"),
            crate::graph::token::describe_transport_error(&err),
            "allow outbound HTTPS (443) to this host; if a proxy or TLS inspection sits in the \
             way, the gateway must trust its CA",
        )),
    }
    rows
}

fn clock_row(what: &str, date: Option<&reqwest::header::HeaderValue>) -> Row {
    let theirs = date
        .and_then(|value| value.to_str().ok())
        .and_then(|text| DateTime::parse_from_rfc2822(text).ok());
    let Some(theirs) = theirs else {
        return Row::ok(
            format!("clock ({what})"),
            "not measured: no Date in the answer",
        );
    };
    let skew = (Utc::now() - theirs.with_timezone(&Utc)).num_seconds();
    let detail = format!("{skew:+} s against {what}");
    if skew.unsigned_abs() <= MAX_CLOCK_SKEW.as_secs() {
        Row::ok(format!("clock ({what})"), detail)
    } else {
        Row::failed(
            format!("clock ({what})"),
            detail,
            "synchronise the clock (chrony or systemd-timesyncd): tokens are refused when it is \
             more than a few minutes off",
        )
    }
}

fn token_failure(err: GraphError) -> Row {
    let fix = match &err {
        GraphError::Auth(AuthFailure::InvalidSecret) => {
            "create a new client secret (Entra admin center → App registrations → Certificates & \
             secrets) and use its Value, not its Secret ID"
        }
        GraphError::Auth(AuthFailure::UnknownApplication) => {
            "check the application (client) id, and that the application is registered in this \
             tenant"
        }
        GraphError::Auth(AuthFailure::UnknownTenant) => {
            "check the tenant: its primary domain (contoso.com) or its directory (tenant) id"
        }
        GraphError::Auth(AuthFailure::Refused(_)) => {
            "look the AADSTS code up in Microsoft's error reference and fix the registration"
        }
        _ => "the identity platform could not be reached: see the rows above",
    };
    let detail = match err {
        GraphError::Auth(failure) => failure.reason(),
        other => other.to_string(),
    };
    Row::failed("token", detail, fix)
}

fn roles_row(token: &str) -> Row {
    let Some(roles) = token_roles(token) else {
        return Row::ok(
            "roles",
            "the token names no application permissions: mail access may come from Exchange \
             Online RBAC for Applications; the mailbox rows below tell",
        );
    };
    let missing: Vec<&str> = REQUIRED_ROLES
        .iter()
        .copied()
        .filter(|wanted| !roles.iter().any(|role| role.eq_ignore_ascii_case(wanted)))
        .collect();
    let detail = format!("granted: {}", roles.join(", "));
    if missing.is_empty() {
        Row::ok("roles", detail)
    } else {
        Row::failed(
            "roles",
            format!("{detail}; missing: {}", missing.join(", ")),
            format!(
                "API permissions → Add a permission → Microsoft Graph → Application permissions: \
                 {}; then Grant admin consent",
                missing.join(", ")
            ),
        )
    }
}

/// Opens the mailbox's Inbox and counts it.
async fn inbox_row(graph: &GraphClient, token: &str, mailbox: &MailboxName) -> Row {
    let what = format!("mailbox {mailbox}");
    let (http, base) = graph.http();
    let url = format!(
        "{base}/users/{}/mailFolders/inbox?$select=totalItemCount,unreadItemCount",
        encode(mailbox.as_str())
    );
    let answer = http
        .get(&url)
        .bearer_auth(token)
        .header("Prefer", "IdType=\"ImmutableId\"")
        .send()
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(err) => {
            return Row::failed(
                what,
                crate::graph::token::describe_transport_error(&err),
                "Graph could not be reached: see the rows above",
            )
        }
    };
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match status {
        200 => {
            let count = |key: &str| body[key].as_u64().unwrap_or(0);
            Row::ok(
                what,
                format!(
                    "Inbox holds {} messages, {} unread",
                    count("totalItemCount"),
                    count("unreadItemCount")
                ),
            )
        }
        403 => Row::failed(
            what,
            format!("403 {code}: the application may not open this mailbox"),
            "an application access policy (or RBAC scope) leaves it out: add the mailbox to the \
             policy's group, then check with Test-ApplicationAccessPolicy",
        ),
        404 => Row::failed(
            what,
            format!("404 {code}: no such mailbox"),
            "check the address; it must be an Exchange Online mailbox (not on-premises, not a \
             contact)",
        ),
        other => Row::failed(
            what,
            format!("{other} {code}"),
            "see Graph's error code in Microsoft's documentation",
        ),
    }
}

fn certificate_row(config: &Config) -> Row {
    let Some(path) = config.tls.cert.as_deref() else {
        return Row::failed(
            "certificate",
            "tls.cert is not set",
            "set tls.cert and tls.key (imap2graph cert makes a self-signed pair)",
        );
    };
    let what = format!("certificate {}", path.display());
    let pem = match std::fs::read(path) {
        Ok(pem) => pem,
        Err(err) => return Row::failed(what, err.to_string(), "check tls.cert"),
    };
    use rustls_pki_types::pem::PemObject;
    let Some(Ok(leaf)) = rustls_pki_types::CertificateDer::pem_slice_iter(&pem).next() else {
        return Row::failed(what, "no certificate in the file", "check tls.cert");
    };
    let certificate = match x509_parser::parse_x509_certificate(&leaf) {
        Ok((_, certificate)) => certificate,
        Err(err) => return Row::failed(what, err.to_string(), "check tls.cert"),
    };
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(alternatives)) = certificate.subject_alternative_name() {
        for name in &alternatives.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => names.push(dns.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).map(std::net::IpAddr::from).ok(),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .map(std::net::IpAddr::from)
                            .ok(),
                        _ => None,
                    };
                    names.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    let names = names.join(", ");
    let not_after = certificate.validity().not_after.timestamp();
    let days_left = (not_after - Utc::now().timestamp()).div_euclid(86_400);
    let expiry = DateTime::<Utc>::from_timestamp(not_after, 0)
        .map(|at| at.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let detail = format!("names: {names}; expires {expiry} ({days_left} days)");
    if days_left < 0 {
        Row::failed(
            what,
            detail,
            "the certificate has expired: renew it, then send SIGHUP or restart",
        )
    } else if days_left < CERTIFICATE_WARNING_DAYS {
        Row::failed(what, detail, "renew the certificate before it expires")
    } else {
        Row::ok(what, detail)
    }
}

/// The report as a table, ✔/✘ per row and what to do under each ✘.
pub fn render(rows: &[Row]) -> String {
    let width = rows
        .iter()
        .map(|row| row.what.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for row in rows {
        let mark = if row.ok { '✔' } else { '✘' };
        let _ = writeln!(out, "{mark} {:<width$}  {}", row.what, row.detail);
        if let Some(fix) = &row.fix {
            let _ = writeln!(out, "  {:<width$}  → {fix}", "");
        }
    }
    let failed = rows.iter().filter(|row| !row.ok).count();
    if failed == 0 {
        out.push_str("All checks passed.\n");
    } else {
        let _ = writeln!(out, "{failed} check(s) failed.");
    }
    out
}

/// The secret from `IMAP2GRAPH_CHECK_SECRET`, else asked for on the terminal without echo.
pub fn read_secret() -> anyhow::Result<Secret> {
    if let Ok(secret) = std::env::var("IMAP2GRAPH_CHECK_SECRET") {
        return Ok(Secret::new(secret));
    }
    prompt_without_echo("Client secret: ").map(Secret::new)
}

fn prompt_without_echo(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            anyhow::anyhow!(
                "no terminal to ask for the secret on: set IMAP2GRAPH_CHECK_SECRET instead"
            )
        })?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios calls on a descriptor this function holds open; the settings are put back
    // before it returns.
    let saved = unsafe {
        let mut settings: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut settings) != 0 {
            anyhow::bail!("cannot read the terminal's settings");
        }
        let saved = settings;
        settings.c_lflag &= !libc::ECHO;
        libc::tcsetattr(fd, libc::TCSANOW, &settings);
        saved
    };
    let mut writer = &tty;
    let _ = writer.write_all(prompt.as_bytes());
    let _ = writer.flush();
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    // SAFETY: as above.
    unsafe {
        libc::tcsetattr(fd, libc::TCSANOW, &saved);
    }
    let _ = writer.write_all(b"\n");
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
