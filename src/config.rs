//! Owns the gateway's configuration: the TOML file, its defaults, the `IMAP2GRAPH_<SECTION>_<KEY>`
//! environment overrides, and the checks that run before anything listens.
//!
//! A configuration error names the key (or the environment variable) and says what is wrong, so
//! an operator can fix it without reading code; the process exits non-zero before listening.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::login::{ClientId, MailboxName, Tenant};

const ENV_PREFIX: &str = "IMAP2GRAPH_";

/// Keys without a default (absent from the serialised defaults), which the environment may set.
const OPTIONAL_KEYS: [&str; 4] = ["tls.cert", "tls.key", "store.url", "metrics.listen"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {key}: {problem}")]
pub struct ConfigError {
    /// The key as `section.key`, or the environment variable that set it.
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub imap: ImapConfig,
    pub tls: TlsConfig,
    pub graph: GraphConfig,
    pub identity: IdentityConfig,
    pub store: StoreConfig,
    pub cache: CacheConfig,
    pub metrics: MetricsConfig,
    pub pacing: PacingConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapConfig {
    /// Address of the implicit-TLS IMAP listener.
    pub listen: String,
    /// Connections open at once, over all clients.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// TLS handshakes (and PROXY headers) in progress at once, over all clients; others wait.
    pub max_handshakes: usize,
    /// TLS handshakes in progress at once from one client address; others wait.
    pub max_handshakes_per_ip: usize,
    /// Seconds from accept to a finished TLS handshake (waiting for a turn included).
    pub handshake_timeout_secs: u64,
    /// Seconds a connection may stay unauthenticated.
    pub prelogin_timeout_secs: u64,
    /// Longest spacing login throttling puts between attempts from one address, or with new
    /// secrets for one application, after failures (it doubles per failure from 0.25 s).
    pub login_delay_max_secs: u64,
    /// Seconds a secret the identity platform refused is refused again without asking it.
    pub login_refused_secret_secs: u64,
    /// Seconds an authenticated connection may stay silent (RFC 3501 asks for at least 30 min).
    pub idle_timeout_secs: u64,
    /// Largest literal (e.g. an APPENDed message) in bytes.
    pub max_literal_bytes: u32,
    /// Largest command line, literals excluded, in bytes.
    pub max_command_bytes: u32,
    /// Seconds given to open sessions after SIGTERM before the process exits anyway.
    pub shutdown_grace_secs: u64,
    /// Show folders Graph marks hidden (`isHidden`).
    pub show_hidden_folders: bool,
    /// Seconds between listings of a folder that sessions IDLE on (one poller per folder).
    pub idle_poll_secs: u64,
    /// NOOP and CHECK list the selected folder again when its last listing is older than this.
    pub noop_freshness_secs: u64,
    /// Seconds between `* OK` keepalives sent to an idling client.
    pub idle_keepalive_secs: u64,
    /// Expect a PROXY protocol v2 header (HAProxy `send-proxy-v2`) before TLS on every
    /// connection, and use the client address it carries for limits and logs.
    pub proxy_protocol: bool,
    /// Addresses of the load balancers allowed to send that header; required (not empty) when
    /// `proxy_protocol` is on, since the header names the client's address for limits and logs.
    pub proxy_trusted: Vec<String>,
    /// What EXPUNGE does in Graph: `soft` (DELETE, recoverable by an administrator), `trash`
    /// (move to Deleted Items) or `hard` (permanentDelete).
    pub expunge_mode: String,
}

/// What EXPUNGE does to a message in Graph (`imap.expunge_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpungeMode {
    /// `DELETE`: the message goes to Recoverable Items, where an administrator can restore it.
    Soft,
    /// Moved to Deleted Items (expunging in Deleted Items itself deletes softly).
    Trash,
    /// `permanentDelete`: gone for good.
    Hard,
}

impl ImapConfig {
    /// `imap.expunge_mode` as a value (checked by [`Config::validate`]; `soft` if not).
    pub fn expunge_mode(&self) -> ExpungeMode {
        ExpungeMode::parse(&self.expunge_mode).unwrap_or(ExpungeMode::Soft)
    }
}

impl ExpungeMode {
    pub fn parse(text: &str) -> Option<ExpungeMode> {
        match text {
            "soft" => Some(ExpungeMode::Soft),
            "trash" => Some(ExpungeMode::Trash),
            "hard" => Some(ExpungeMode::Hard),
            _ => None,
        }
    }
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            listen: "0.0.0.0:993".into(),
            max_connections: 1000,
            max_connections_per_ip: 100,
            max_handshakes: 100,
            max_handshakes_per_ip: 10,
            handshake_timeout_secs: 10,
            prelogin_timeout_secs: 60,
            login_delay_max_secs: 8,
            login_refused_secret_secs: 60,
            idle_timeout_secs: 30 * 60,
            max_literal_bytes: 50 * 1024 * 1024,
            max_command_bytes: 64 * 1024,
            shutdown_grace_secs: 10,
            show_hidden_folders: false,
            idle_poll_secs: 10,
            noop_freshness_secs: 5,
            idle_keepalive_secs: 120,
            proxy_protocol: false,
            proxy_trusted: Vec::new(),
            expunge_mode: "soft".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphConfig {
    pub base_url: String,
    /// Seconds one Graph request may take.
    pub timeout_secs: u64,
    /// Graph requests in flight per mailbox, over all sessions (Outlook allows 4).
    pub max_concurrency_per_mailbox: usize,
    /// Retries of a throttled or failed request before the IMAP command fails.
    pub max_retries: u32,
    /// Longest wait for one `Retry-After`, in seconds; a longer one fails the command instead.
    pub max_retry_after_secs: u64,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            base_url: "https://graph.microsoft.com/v1.0".into(),
            timeout_secs: 60,
            max_concurrency_per_mailbox: 4,
            max_retries: 4,
            max_retry_after_secs: 30,
        }
    }
}

/// How the gateway spends Graph's limits (`[pacing]`): per application and mailbox, Outlook
/// allows 10,000 requests per 10 minutes and 150 MB uploaded per 5 minutes
/// (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits); the gateway
/// spends them through token buckets, so a busy mailbox slows down instead of being refused.
/// See `graph::pacing`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacingConfig {
    /// Pace requests at all; off, only `graph.max_concurrency_per_mailbox` and Graph's own
    /// 429 answers hold the gateway back.
    pub enabled: bool,
    /// Requests per application and mailbox per `mailbox_window_secs` (a `$batch` counts each
    /// request in it).
    pub mailbox_requests: u32,
    pub mailbox_window_secs: u64,
    /// Of `mailbox_requests`, how many a quiet mailbox may spend at once; the rest comes at an
    /// even rate over the window.
    pub mailbox_burst: u32,
    /// Bytes uploaded (request bodies) per application and mailbox per
    /// `mailbox_upload_window_secs`.
    pub mailbox_upload_bytes: u64,
    pub mailbox_upload_window_secs: u64,
    /// Of `mailbox_upload_bytes`, how many a quiet mailbox may upload at once.
    pub mailbox_upload_burst_bytes: u64,
    /// Requests per second per application over all its mailboxes, shared fairly among them.
    pub application_requests_per_sec: u32,
    /// Of those, how many may go at once.
    pub application_burst: u32,
    /// A folder synchronised this recently (milliseconds) is served from that round, also to
    /// sessions that asked while it was under way and after a change made through the gateway.
    pub sync_coalesce_ms: u64,
    /// How far IDLE polling and that window stretch as a mailbox's request budget runs out: up
    /// to this many times their usual interval.
    pub tight_stretch: u32,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            enabled: true,
            mailbox_requests: 10_000,
            mailbox_window_secs: 600,
            mailbox_burst: 1_000,
            // 150 MB read as decimal megabytes, the smaller reading.
            mailbox_upload_bytes: 150_000_000,
            mailbox_upload_window_secs: 300,
            mailbox_upload_burst_bytes: 30_000_000,
            // Graph's documented global limit is 130,000 requests per 10 seconds per application
            // across all tenants (https://learn.microsoft.com/graph/throttling-limits); Outlook
            // documents no per-tenant limit. A sixth of it leaves room for other instances and
            // tools of the same application, and is above what one instance reached on 100
            // mailboxes (2,777 commands/s at 0.42 requests each).
            application_requests_per_sec: 2_000,
            application_burst: 2_000,
            sync_coalesce_ms: 500,
            tight_stretch: 6,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub authority: String,
    /// When not empty, only these tenants (domains or GUIDs) may log in.
    pub allowed_tenants: Vec<String>,
    /// When not empty, only these application (client) ids may log in.
    pub allowed_client_ids: Vec<String>,
    /// Mailbox opened when a login names none: application (client) id → mailbox.
    pub default_mailbox: BTreeMap<String, String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            authority: "https://login.microsoftonline.com".into(),
            allowed_tenants: Vec::new(),
            allowed_client_ids: Vec::new(),
            default_mailbox: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the plain-HTTP listener serving `GET /metrics` (Prometheus text); none when
    /// unset. Keep it on a private interface: it is not authenticated.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file holding UIDs (the embedded store).
    pub path: PathBuf,
    /// A PostgreSQL URL (`postgres://user:password@host/db`) for a store shared by several
    /// gateway instances; when set, `path` is not used.
    pub url: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("imap2graph.sqlite"),
            url: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Bytes of message bodies (MIME) kept in memory.
    pub body_bytes: u64,
    /// Seconds a body stays cached after it was last loaded.
    pub body_ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            body_bytes: 256 * 1024 * 1024,
            body_ttl_secs: 3600,
        }
    }
}

impl Config {
    /// Reads the file, applies environment overrides and checks the result.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigError::new(path.display().to_string(), err.to_string()))?;
        Self::from_toml_and_env(&text, std::env::vars())
    }

    /// The file's text plus overrides from `vars` (the process environment in production).
    pub fn from_toml_and_env(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|err| {
            ConfigError::new(
                "file",
                err.message().to_string() + &span_hint(text, err.span()),
            )
        })?;
        apply_env_overrides(&mut table, vars)?;
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|err: toml::de::Error| ConfigError::new("file", err.message().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.metrics_addr()?;
        if ExpungeMode::parse(&self.imap.expunge_mode).is_none() {
            return Err(ConfigError::new(
                "imap.expunge_mode",
                format!(
                    "{:?} is not one of soft, trash, hard",
                    self.imap.expunge_mode
                ),
            ));
        }
        self.proxy_trusted_addrs()?;
        if self.imap.proxy_protocol && self.imap.proxy_trusted.is_empty() {
            // Anyone allowed to send a PROXY header can claim any source address, and so slip
            // past the per-address limits and write someone else's address in the logs.
            return Err(ConfigError::new(
                "imap.proxy_trusted",
                "is empty while imap.proxy_protocol = true: list the load balancers' IP addresses \
                 (e.g. proxy_trusted = [\"10.0.0.5\"]), the only peers allowed to send a PROXY header",
            ));
        }
        if let Some(url) = &self.store.url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                // Never echo the URL: it may hold a password.
                return Err(ConfigError::new(
                    "store.url",
                    "must be a postgres:// or postgresql:// URL",
                ));
            }
        }
        check_upstream_url("graph.base_url", &self.graph.base_url)?;
        check_upstream_url("identity.authority", &self.identity.authority)?;
        for tenant in &self.identity.allowed_tenants {
            Tenant::parse(tenant).map_err(|err| {
                ConfigError::new("identity.allowed_tenants", format!("{tenant:?}: {err}"))
            })?;
        }
        for client in &self.identity.allowed_client_ids {
            ClientId::parse(client).map_err(|err| {
                ConfigError::new("identity.allowed_client_ids", format!("{client:?}: {err}"))
            })?;
        }
        for (client, mailbox) in &self.identity.default_mailbox {
            ClientId::parse(client).map_err(|err| {
                ConfigError::new("identity.default_mailbox", format!("{client:?}: {err}"))
            })?;
            if !mailbox.contains('@') {
                return Err(ConfigError::new(
                    "identity.default_mailbox",
                    format!("{mailbox:?} must be a full address"),
                ));
            }
            MailboxName::parse(mailbox, &Tenant::parse("example.invalid").expect("valid"))
                .map_err(|err| {
                    ConfigError::new("identity.default_mailbox", format!("{mailbox:?}: {err}"))
                })?;
        }
        let positive = [
            ("imap.max_connections", self.imap.max_connections as u64),
            (
                "imap.max_connections_per_ip",
                self.imap.max_connections_per_ip as u64,
            ),
            ("imap.max_handshakes", self.imap.max_handshakes as u64),
            (
                "imap.max_handshakes_per_ip",
                self.imap.max_handshakes_per_ip as u64,
            ),
            (
                "imap.handshake_timeout_secs",
                self.imap.handshake_timeout_secs,
            ),
            (
                "imap.prelogin_timeout_secs",
                self.imap.prelogin_timeout_secs,
            ),
            ("imap.idle_timeout_secs", self.imap.idle_timeout_secs),
            ("imap.login_delay_max_secs", self.imap.login_delay_max_secs),
            ("imap.max_literal_bytes", self.imap.max_literal_bytes as u64),
            ("imap.max_command_bytes", self.imap.max_command_bytes as u64),
            ("imap.idle_poll_secs", self.imap.idle_poll_secs),
            ("imap.idle_keepalive_secs", self.imap.idle_keepalive_secs),
            ("graph.timeout_secs", self.graph.timeout_secs),
            (
                "graph.max_concurrency_per_mailbox",
                self.graph.max_concurrency_per_mailbox as u64,
            ),
            ("cache.body_bytes", self.cache.body_bytes),
            (
                "pacing.mailbox_requests",
                self.pacing.mailbox_requests as u64,
            ),
            (
                "pacing.mailbox_window_secs",
                self.pacing.mailbox_window_secs,
            ),
            ("pacing.mailbox_burst", self.pacing.mailbox_burst as u64),
            (
                "pacing.mailbox_upload_bytes",
                self.pacing.mailbox_upload_bytes,
            ),
            (
                "pacing.mailbox_upload_window_secs",
                self.pacing.mailbox_upload_window_secs,
            ),
            (
                "pacing.mailbox_upload_burst_bytes",
                self.pacing.mailbox_upload_burst_bytes,
            ),
            (
                "pacing.application_requests_per_sec",
                self.pacing.application_requests_per_sec as u64,
            ),
            (
                "pacing.application_burst",
                self.pacing.application_burst as u64,
            ),
            ("pacing.tight_stretch", self.pacing.tight_stretch as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::new(key, "must be greater than zero"));
            }
        }
        // The burst is spent at once and the rest over the window: a burst as large as the
        // budget would leave nothing to pace.
        if self.pacing.mailbox_burst >= self.pacing.mailbox_requests {
            return Err(ConfigError::new(
                "pacing.mailbox_burst",
                "must be less than pacing.mailbox_requests",
            ));
        }
        if self.pacing.mailbox_upload_burst_bytes >= self.pacing.mailbox_upload_bytes {
            return Err(ConfigError::new(
                "pacing.mailbox_upload_burst_bytes",
                "must be less than pacing.mailbox_upload_bytes",
            ));
        }
        if self.imap.max_command_bytes < 1024 {
            return Err(ConfigError::new(
                "imap.max_command_bytes",
                "must be at least 1024",
            ));
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.imap.listen.parse().map_err(|_| {
            ConfigError::new(
                "imap.listen",
                format!("{:?} is not an address:port", self.imap.listen),
            )
        })
    }

    /// `metrics.listen` as an address, when set.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.metrics
            .listen
            .as_deref()
            .map(|listen| {
                listen.parse().map_err(|_| {
                    ConfigError::new(
                        "metrics.listen",
                        format!("{listen:?} is not an address:port"),
                    )
                })
            })
            .transpose()
    }

    /// `imap.proxy_trusted` as addresses.
    pub fn proxy_trusted_addrs(&self) -> Result<Vec<IpAddr>, ConfigError> {
        self.imap
            .proxy_trusted
            .iter()
            .map(|text| {
                text.parse().map_err(|_| {
                    ConfigError::new(
                        "imap.proxy_trusted",
                        format!("{text:?} is not an IP address"),
                    )
                })
            })
            .collect()
    }

    /// Login throttling's settings: a login may wait up to half the pre-login time (at most
    /// 30 s) for its turn; longer, it is refused at once.
    pub fn login_throttle(&self) -> crate::throttle::ThrottleSettings {
        crate::throttle::ThrottleSettings {
            max_spacing: Duration::from_secs(self.imap.login_delay_max_secs),
            max_wait: (self.prelogin_timeout() / 2).min(Duration::from_secs(30)),
            refused_secret_ttl: Duration::from_secs(self.imap.login_refused_secret_secs),
        }
    }

    pub fn prelogin_timeout(&self) -> Duration {
        Duration::from_secs(self.imap.prelogin_timeout_secs)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.imap.idle_timeout_secs)
    }

    /// Parsed `identity.default_mailbox` entry for an application, if any.
    pub fn default_mailbox_for(&self, client: &ClientId) -> Option<MailboxName> {
        self.identity
            .default_mailbox
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(client.as_str()))
            .and_then(|(_, mailbox)| {
                MailboxName::parse(mailbox, &Tenant::parse("example.invalid").ok()?).ok()
            })
    }

    pub fn tenant_allowed(&self, tenant: &Tenant) -> bool {
        let list = &self.identity.allowed_tenants;
        list.is_empty() || list.iter().any(|t| t.eq_ignore_ascii_case(tenant.as_str()))
    }

    pub fn client_allowed(&self, client: &ClientId) -> bool {
        let list = &self.identity.allowed_client_ids;
        list.is_empty() || list.iter().any(|c| c.eq_ignore_ascii_case(client.as_str()))
    }
}

/// An upstream must be https, or http to a loopback address (the emulator).
fn check_upstream_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|err| ConfigError::new(key, format!("{url:?} is not a URL: {err}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(ConfigError::new(
                    key,
                    format!(
                        "{url:?}: http:// is accepted only for a loopback address; use https://"
                    ),
                ))
            }
        }
        other => Err(ConfigError::new(
            key,
            format!("scheme {other:?} is not supported"),
        )),
    }
}

/// Applies `IMAP2GRAPH_<SECTION>_<KEY>` variables. The value's type follows the key's default
/// (numbers, booleans, comma-separated lists, `k=v,k=v` maps, else text).
fn apply_env_overrides(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = toml::Value::try_from(Config::default()).expect("defaults serialise");
    let defaults = defaults.as_table().expect("config is a table");
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        let Some((section, key)) = defaults.keys().find_map(|section| {
            let key = rest.strip_prefix(section.as_str())?.strip_prefix('_')?;
            Some((section.clone(), key.to_string()))
        }) else {
            // Not a configuration key (for example IMAP2GRAPH_CONFIG, read by the command line).
            continue;
        };
        let expected = defaults.get(&section).and_then(|s| s.get(&key));
        if expected.is_none() && !OPTIONAL_KEYS.contains(&format!("{section}.{key}").as_str()) {
            return Err(ConfigError::new(
                name,
                format!("{section}.{key} is not a configuration key"),
            ));
        }
        let parsed = parse_env_value(&value, expected)
            .map_err(|problem| ConfigError::new(name.clone(), problem))?;
        let section_table = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = section_table.as_table_mut() else {
            return Err(ConfigError::new(section, "must be a table"));
        };
        section_table.insert(key, parsed);
    }
    Ok(())
}

fn parse_env_value(value: &str, expected: Option<&toml::Value>) -> Result<toml::Value, String> {
    Ok(match expected {
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not a whole number"))?,
        ),
        Some(toml::Value::Boolean(_)) => toml::Value::Boolean(match value.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(format!("{value:?} is not true or false")),
        }),
        Some(toml::Value::Array(_)) => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_string()))
                .collect(),
        ),
        Some(toml::Value::Table(_)) => {
            let mut map = toml::Table::new();
            for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{pair:?} is not key=value"))?;
                map.insert(
                    k.trim().to_string(),
                    toml::Value::String(v.trim().to_string()),
                );
            }
            toml::Value::Table(map)
        }
        _ => toml::Value::String(value.to_string()),
    })
}

fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_production_values() {
        let config = Config::from_toml_and_env("", env(&[])).unwrap();
        assert_eq!(config.imap.listen, "0.0.0.0:993");
        assert_eq!(config.graph.base_url, "https://graph.microsoft.com/v1.0");
        assert_eq!(
            config.identity.authority,
            "https://login.microsoftonline.com"
        );
        assert_eq!(config.imap.prelogin_timeout_secs, 60);
        assert_eq!(config.imap.idle_timeout_secs, 1800);
    }

    #[test]
    fn environment_overrides_file() {
        let text = "[imap]\nlisten = \"127.0.0.1:1993\"\nmax_connections = 5\n";
        let config = Config::from_toml_and_env(
            text,
            env(&[
                ("IMAP2GRAPH_IMAP_MAX_CONNECTIONS", "7"),
                ("IMAP2GRAPH_GRAPH_BASE_URL", "http://127.0.0.1:9994/v1.0"),
                (
                    "IMAP2GRAPH_IDENTITY_ALLOWED_TENANTS",
                    "contoso.example, fabrikam.example",
                ),
                (
                    "IMAP2GRAPH_IDENTITY_DEFAULT_MAILBOX",
                    "11111111-2222-3333-4444-555555555555=alice@contoso.example",
                ),
                ("IMAP2GRAPH_CONFIG", "ignored.toml"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.imap.listen, "127.0.0.1:1993");
        assert_eq!(config.imap.max_connections, 7);
        assert_eq!(config.graph.base_url, "http://127.0.0.1:9994/v1.0");
        assert_eq!(config.identity.allowed_tenants.len(), 2);
        let client = ClientId::parse("11111111-2222-3333-4444-555555555555").unwrap();
        assert_eq!(
            config.default_mailbox_for(&client).unwrap().as_str(),
            "alice@contoso.example"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err =
            Config::from_toml_and_env("[imap]\nlisten = \"nowhere\"\n", env(&[])).unwrap_err();
        assert_eq!(err.key, "imap.listen");
        let err = Config::from_toml_and_env(
            "[graph]\nbase_url = \"http://graph.example.com/v1.0\"\n",
            env(&[]),
        )
        .unwrap_err();
        assert_eq!(err.key, "graph.base_url");
        assert!(err.problem.contains("loopback"));
        let err = Config::from_toml_and_env("[imap]\nlistn = \"x\"\n", env(&[])).unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
        let err =
            Config::from_toml_and_env("", env(&[("IMAP2GRAPH_IMAP_MAX_CONNECTIONS", "many")]))
                .unwrap_err();
        assert_eq!(err.key, "IMAP2GRAPH_IMAP_MAX_CONNECTIONS");
        let err =
            Config::from_toml_and_env("", env(&[("IMAP2GRAPH_GRAPH_CSDL", "x.csdl")])).unwrap_err();
        assert_eq!(err.key, "IMAP2GRAPH_GRAPH_CSDL");
        let config = Config::from_toml_and_env(
            "",
            env(&[
                ("IMAP2GRAPH_TLS_CERT", "/etc/c.pem"),
                ("IMAP2GRAPH_STORE_URL", "postgres://db/x"),
                ("IMAP2GRAPH_TEST_POSTGRES", "not a section"),
            ]),
        )
        .unwrap();
        assert_eq!(config.store.url.as_deref(), Some("postgres://db/x"));
        let err =
            Config::from_toml_and_env("[imap]\nexpunge_mode = \"shred\"\n", env(&[])).unwrap_err();
        assert_eq!(err.key, "imap.expunge_mode");
        let config =
            Config::from_toml_and_env("", env(&[("IMAP2GRAPH_IMAP_EXPUNGE_MODE", "trash")]))
                .unwrap();
        assert_eq!(config.imap.expunge_mode(), ExpungeMode::Trash);
        assert_eq!(Config::default().imap.expunge_mode(), ExpungeMode::Soft);
        let err =
            Config::from_toml_and_env("[imap]\nproxy_trusted = [\"lb1\"]\n", env(&[])).unwrap_err();
        assert_eq!(err.key, "imap.proxy_trusted");
        let err =
            Config::from_toml_and_env("[imap]\nproxy_protocol = true\n", env(&[])).unwrap_err();
        assert_eq!(err.key, "imap.proxy_trusted");
        assert!(err.problem.contains("proxy_protocol"), "{err}");
        let config = Config::from_toml_and_env(
            "[imap]\nproxy_protocol = true\nproxy_trusted = [\"127.0.0.1\"]\n",
            env(&[]),
        )
        .unwrap();
        assert_eq!(config.proxy_trusted_addrs().unwrap().len(), 1);
        let err = Config::from_toml_and_env("[imap]\nmax_connections = 0\n", env(&[])).unwrap_err();
        assert_eq!(err.key, "imap.max_connections");
    }
}
