//! Configuration of an emulator instance: the tenants, their applications (client id, secret,
//! granted roles), token lifetime, throttling limits, faults, how delta pages represent
//! updated items, and what mailboxes to seed.
//! Owns `EmulatorConfig` and the secret type whose `Debug` never shows the secret.

use std::fmt;
use std::time::Duration;

/// A client secret. `Debug` and `Display` print `***`; the value is only reachable through
/// [`Secret::expose`], which the token endpoint uses for a constant-time comparison.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An application registration in a tenant (client credentials).
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// The application (client) id, a GUID.
    pub client_id: String,
    pub secret: Secret,
    /// When true the secret is expired: the token endpoint answers AADSTS7000222.
    pub secret_expired: bool,
    /// Application permissions granted (admin-consented) to the app, e.g. `Mail.ReadWrite`.
    /// They are carried in the token's `roles` claim and checked per Graph call.
    pub roles: Vec<String>,
}

/// A tenant: its id (GUID), the DNS domains it owns (a mailbox belongs to the tenant owning
/// its domain) and its applications.
#[derive(Clone, Debug)]
pub struct TenantConfig {
    pub tenant_id: String,
    pub domains: Vec<String>,
    /// Directory users (UPNs) that have no Exchange Online mailbox: `GET /users/{upn}` finds
    /// them, mail calls answer 404 MailboxNotEnabledForRESTAPI.
    pub users_without_mailbox: Vec<String>,
    pub apps: Vec<AppConfig>,
}

/// Outlook's throttling limits, applied per (application, mailbox).
/// <https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits>
#[derive(Clone, Debug)]
pub struct ThrottleLimits {
    pub enabled: bool,
    /// Concurrent requests in flight; the next one gets 429 MailboxConcurrency.
    pub max_concurrent: u32,
    /// Requests per `request_window`.
    pub max_requests: u32,
    pub request_window: Duration,
    /// Bytes uploaded (request bodies of POST/PUT/PATCH) per `upload_window`.
    pub max_upload_bytes: u64,
    pub upload_window: Duration,
    /// Whether refused (429) requests count against `max_requests` too, as "all requests
    /// accrue against your usage limits" (<https://learn.microsoft.com/graph/throttling>).
    pub count_refused: bool,
    /// The body of a 429.
    pub body: ThrottleBody,
}

/// The body of a throttled request's 429. The throttling page gives a sample "similar to"
/// what Graph sends (<https://learn.microsoft.com/graph/throttling>, "Sample response"):
/// `TooManyRequests`, "Please retry again later.", with `code`, `message` and `status` in
/// `innerError`; Outlook's own answers name the limit met ("Application is over its
/// MailboxConcurrency limit.", quoted in
/// <https://learn.microsoft.com/answers/questions/1660054/>). Both are offered; the
/// documented one, which does not say which limit was met, is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ThrottleBody {
    #[default]
    Documented,
    Outlook,
}

/// `ThrottleLimits` as JSON for `GET/POST /_emulator/throttle` (windows in seconds, which
/// may be fractional); absent fields keep their current value.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ThrottleLimitsJson {
    pub enabled: Option<bool>,
    pub max_concurrent: Option<u32>,
    pub max_requests: Option<u32>,
    pub request_window_secs: Option<f64>,
    pub max_upload_bytes: Option<u64>,
    pub upload_window_secs: Option<f64>,
    pub count_refused: Option<bool>,
    pub body: Option<ThrottleBody>,
}

impl ThrottleLimits {
    pub fn to_json(&self) -> ThrottleLimitsJson {
        ThrottleLimitsJson {
            enabled: Some(self.enabled),
            max_concurrent: Some(self.max_concurrent),
            max_requests: Some(self.max_requests),
            request_window_secs: Some(self.request_window.as_secs_f64()),
            max_upload_bytes: Some(self.max_upload_bytes),
            upload_window_secs: Some(self.upload_window.as_secs_f64()),
            count_refused: Some(self.count_refused),
            body: Some(self.body),
        }
    }

    /// Applies the fields present in `j`; negative or non-finite windows are refused.
    pub fn merged(&self, j: &ThrottleLimitsJson) -> Result<ThrottleLimits, String> {
        let secs = |v: Option<f64>, cur: Duration, what: &str| match v {
            None => Ok(cur),
            Some(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s)),
            Some(_) => Err(format!("{what} must be a non-negative number of seconds")),
        };
        Ok(ThrottleLimits {
            enabled: j.enabled.unwrap_or(self.enabled),
            max_concurrent: j.max_concurrent.unwrap_or(self.max_concurrent),
            max_requests: j.max_requests.unwrap_or(self.max_requests),
            request_window: secs(
                j.request_window_secs,
                self.request_window,
                "requestWindowSecs",
            )?,
            max_upload_bytes: j.max_upload_bytes.unwrap_or(self.max_upload_bytes),
            upload_window: secs(j.upload_window_secs, self.upload_window, "uploadWindowSecs")?,
            count_refused: j.count_refused.unwrap_or(self.count_refused),
            body: j.body.unwrap_or(self.body),
        })
    }
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            enabled: true,
            max_concurrent: 4,
            max_requests: 10_000,
            request_window: Duration::from_secs(600),
            // "150 MB": decimal megabytes, the smaller of the two readings.
            max_upload_bytes: 150_000_000,
            upload_window: Duration::from_secs(300),
            count_refused: true,
            body: ThrottleBody::Documented,
        }
    }
}

/// Injected faults. All random choices come from one RNG seeded with `seed`, so a test that
/// sends the same requests in the same order sees the same faults.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FaultConfig {
    pub seed: u64,
    /// Added latency before each Graph response, fixed part in milliseconds.
    pub latency_ms: u64,
    /// Added latency, random part in milliseconds (uniform in 0..=jitter).
    pub jitter_ms: u64,
    /// Error probabilities; each rule matches a route template prefix ("" = every route).
    pub errors: Vec<ErrorFault>,
    /// Probability (0..1) that a Graph response is cut off mid-body (connection reset).
    pub reset_probability: f64,
    /// When non-zero, response bodies are streamed at this many bytes per second.
    pub slow_body_bytes_per_sec: u64,
    /// When set, tokens issued from now on expire after this many seconds (their
    /// `expires_in` still says the configured lifetime: an early expiry, as after a revocation).
    pub token_early_expiry_secs: Option<u64>,
    /// When true, every delta token issued so far becomes invalid (syncStateNotFound / 410).
    pub invalidate_delta_tokens: bool,
}

/// One error-rate rule: with `probability`, answer `status` (429, 500, 503 or 504) instead of
/// serving the request, for routes whose template starts with `route` (e.g. "GET /users/{id}/messages").
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorFault {
    pub route: String,
    pub status: u16,
    pub probability: f64,
    /// Retry-After seconds sent with 429/503 (may be fractional).
    pub retry_after: Option<f64>,
}

/// How delta queries answer, settable at start (`EmulatorConfig.delta`) and at run time
/// (`POST /_emulator/delta`). The delta overview
/// (<https://learn.microsoft.com/graph/delta-query-overview>, "Resource representation in the
/// delta query response") allows both representations of an updated item, and replays.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeltaConfig {
    /// How an item updated since the token's state is sent.
    pub updated_items: UpdatedItems,
    /// When true, every delta page first sends again, unchanged, the entries that the page
    /// which issued its token sent ("Replays": "the same change appears in subsequent
    /// responses").
    pub replay: bool,
}

/// The representation of an updated item in a delta page. Items created since the token's
/// state and the items of a first round are always whole ("their standard representation").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UpdatedItems {
    /// Only `id`, the annotations, and the properties changed since the token's state: "at
    /// least the properties that have been updated", the least the documentation allows.
    #[default]
    Changed,
    /// The whole object (within `$select`): "additional properties may be included".
    Whole,
}

impl std::str::FromStr for UpdatedItems {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "changed" => Ok(UpdatedItems::Changed),
            "whole" => Ok(UpdatedItems::Whole),
            _ => Err(format!(
                "unknown delta item representation {s:?}: use `changed` or `whole`"
            )),
        }
    }
}

/// What Exchange does with the MIME of messages created through Graph, settable at start
/// (`EmulatorConfig.mime`) and at run time (`POST /_emulator/mime`). Messages created from JSON
/// always have their MIME regenerated from the item ("Outlook does not save messages in MIME
/// format", <https://learn.microsoft.com/graph/outlook-get-mime-message>); for drafts created
/// from MIME (<https://learn.microsoft.com/graph/api/user-post-messages>, "Create a message in
/// MIME format") the page does not say whether `$value` gives back what was posted, so both
/// behaviours are offered.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MimeConfig {
    /// What `$value` of a draft created from MIME gives back.
    pub drafts: MimeDrafts,
}

/// The MIME of a draft created from MIME, as `$value` serves it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MimeDrafts {
    /// Exchange converts the MIME into an item (MS-OXCMAIL) and `$value` is written anew from
    /// it: new boundaries, Exchange's header fields, dates in UTC, attachments in base64. The
    /// least a client can rely on, hence the default.
    #[default]
    Regenerated,
    /// The MIME as posted, byte for byte.
    Kept,
}

impl std::str::FromStr for MimeDrafts {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "regenerated" | "regenerate" => Ok(MimeDrafts::Regenerated),
            "kept" | "keep" => Ok(MimeDrafts::Kept),
            _ => Err(format!(
                "unknown MIME draft mode {s:?}: use `regenerated` or `kept`"
            )),
        }
    }
}

/// One message to seed: the raw RFC 5322 bytes (stored byte for byte) and its Outlook state.
#[derive(Clone, Debug)]
pub struct SeedMessage {
    pub raw: Vec<u8>,
    pub is_read: bool,
    pub is_draft: bool,
    pub flagged: bool,
    pub categories: Vec<String>,
    /// receivedDateTime as seconds since the epoch; None = the Date header (or a fixed epoch).
    pub received: Option<i64>,
    /// PR_LAST_VERB_EXECUTED (0x1081): 102 reply, 103 reply all, 104 forward.
    pub last_verb: Option<i32>,
}

impl SeedMessage {
    pub fn new(raw: Vec<u8>) -> SeedMessage {
        SeedMessage {
            raw,
            is_read: false,
            is_draft: false,
            flagged: false,
            categories: Vec::new(),
            received: None,
            last_verb: None,
        }
    }
}

/// A folder to seed, by path from the root: `["Inbox", "Projects", "2026"]`. The display
/// names "Inbox", "Sent Items", "Drafts", "Deleted Items", "Junk Email", "Archive" and
/// "Outbox" at the top level are the well-known folders (always present).
#[derive(Clone, Debug)]
pub struct SeedFolder {
    pub path: Vec<String>,
    pub hidden: bool,
    pub messages: Vec<SeedMessage>,
}

#[derive(Clone, Debug)]
pub struct SeedMailbox {
    /// SMTP address / UPN; its domain must belong to a configured tenant.
    pub address: String,
    pub display_name: String,
    pub folders: Vec<SeedFolder>,
}

/// Everything that defines an emulator instance.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub tenants: Vec<TenantConfig>,
    /// `expires_in` of issued tokens, seconds (identity platform default 3599).
    pub token_lifetime_secs: u64,
    pub throttle: ThrottleLimits,
    pub faults: FaultConfig,
    /// How delta pages represent updated items, and whether they replay.
    pub delta: DeltaConfig,
    /// Whether drafts created from MIME keep it.
    pub mime: MimeConfig,
    pub mailboxes: Vec<SeedMailbox>,
}

impl EmulatorConfig {
    /// The demo tenant and its applications (read-write and read-only) with no mailboxes.
    pub fn demo_tenant_only() -> EmulatorConfig {
        EmulatorConfig {
            tenants: vec![TenantConfig {
                tenant_id: crate::demo::TENANT_ID.to_string(),
                domains: vec![crate::demo::TENANT.to_string()],
                users_without_mailbox: vec![crate::demo::NO_MAILBOX.to_string()],
                apps: vec![
                    AppConfig {
                        client_id: crate::demo::CLIENT_ID.to_string(),
                        secret: Secret::new(crate::demo::SECRET),
                        secret_expired: false,
                        roles: vec![
                            "Mail.ReadWrite".to_string(),
                            "Mail.Send".to_string(),
                            "User.Read.All".to_string(),
                        ],
                    },
                    AppConfig {
                        client_id: crate::demo::READONLY_CLIENT_ID.to_string(),
                        secret: Secret::new(crate::demo::READONLY_SECRET),
                        secret_expired: false,
                        roles: vec!["Mail.Read".to_string()],
                    },
                ],
            }],
            token_lifetime_secs: 3599,
            throttle: ThrottleLimits::default(),
            faults: FaultConfig::default(),
            delta: DeltaConfig::default(),
            mime: MimeConfig::default(),
            mailboxes: Vec::new(),
        }
    }

    /// The demo tenant, application and seeded mailboxes (alice, voicemail).
    pub fn demo() -> EmulatorConfig {
        let mut c = EmulatorConfig::demo_tenant_only();
        c.mailboxes = crate::seed::demo_mailboxes();
        c
    }

    /// The demo tenant and application with the mailboxes of `DIR/<mailbox address>/<folder
    /// path>/*.eml` (see [`crate::Emulator::from_eml_dir`]); their domains join the tenant.
    pub fn from_eml_dir(dir: &std::path::Path) -> Result<EmulatorConfig, crate::EmulatorError> {
        let mailboxes = crate::seed::load_eml_dir(dir)?;
        let mut config = EmulatorConfig::demo_tenant_only();
        for mb in &mailboxes {
            if let Some((_, domain)) = mb.address.rsplit_once('@') {
                let t = &mut config.tenants[0];
                if !t.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
                    t.domains.push(domain.to_ascii_lowercase());
                }
            }
        }
        config.mailboxes = mailboxes;
        Ok(config)
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig::demo()
    }
}
