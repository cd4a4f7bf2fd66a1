//! imap2graph-emulator: a stateful double of the Microsoft Graph v1.0 mail API and of the
//! identity platform's client-credentials token endpoint, for tests, benchmarks and the demo.
//!
//! One HTTP port serves both: the token endpoint at `POST /{tenant}/oauth2/v2.0/token`
//! (so an authority of `http://127.0.0.1:PORT`) and Graph under `/v1.0/…` (a Graph base URL
//! of `http://127.0.0.1:PORT/v1.0`). Administration lives only under `/_emulator/`.
//! This module owns the public API (`Emulator`, `EmulatorConfig`, the demo constants), the
//! axum router, and the conversion of internal responses into HTTP.

mod config;
mod faults;
mod graph;
mod identity;
mod ids;
mod mime_view;
mod seed;
mod stats;
mod store;
mod throttle;

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};

pub use config::{
    AppConfig, DeltaConfig, EmulatorConfig, ErrorFault, FaultConfig, MimeConfig, MimeDrafts,
    Secret, SeedFolder, SeedMailbox, SeedMessage, TenantConfig, ThrottleBody, ThrottleLimits,
    ThrottleLimitsJson, UpdatedItems,
};

pub use seed::synthetic_mailbox;

use graph::{GraphRequest, GraphResponse, RespBody};

/// The demo tenant, its applications and mailboxes.
pub mod demo {
    pub const TENANT: &str = "contoso.example";
    /// The demo tenant's directory id (a GUID; the token endpoint accepts it as well).
    pub const TENANT_ID: &str = "c0a7c0de-0000-4000-8000-000000000001";
    /// The read-write application (Mail.ReadWrite, Mail.Send, User.Read.All).
    pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
    pub const SECRET: &str = "demo-secret";
    /// A second application of the tenant, granted only Mail.Read: it may read every mailbox
    /// and change none.
    pub const READONLY_CLIENT_ID: &str = "22222222-3333-4444-5555-666666666666";
    pub const READONLY_SECRET: &str = "demo-readonly-secret";
    pub const ALICE: &str = "alice@contoso.example";
    pub const VOICEMAIL: &str = "voicemail@contoso.example";
    /// A directory user without a mailbox (mail calls answer MailboxNotEnabledForRESTAPI).
    pub const NO_MAILBOX: &str = "nomailbox@contoso.example";
}

/// Errors building an emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bad seed: {0}")]
    Seed(String),
}

pub(crate) struct Inner {
    config: EmulatorConfig,
    store: Mutex<store::Store>,
    stats: Arc<stats::Stats>,
    throttle: Arc<throttle::Throttle>,
    limits: Mutex<ThrottleLimits>,
    faults: faults::Faults,
    delta: Mutex<DeltaConfig>,
    mime: Mutex<MimeConfig>,
    token_key: [u8; 32],
}

/// A running emulator's state; cheap to clone (shared).
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").finish_non_exhaustive()
    }
}

impl Emulator {
    /// The demo tenant, application, secret and seeded mailboxes, default limits.
    pub fn demo() -> Emulator {
        Emulator::with_config(EmulatorConfig::demo())
    }

    pub fn with_config(config: EmulatorConfig) -> Emulator {
        let store = store::Store::from_seed(&config.mailboxes);
        let mut key = [0u8; 32];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&fastrand::u64(..).to_le_bytes());
        }
        Emulator {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                stats: Arc::new(stats::Stats::default()),
                throttle: Arc::new(throttle::Throttle::default()),
                limits: Mutex::new(config.throttle.clone()),
                faults: faults::Faults::new(config.faults.clone()),
                delta: Mutex::new(config.delta.clone()),
                mime: Mutex::new(config.mime.clone()),
                token_key: key,
                config,
            }),
        }
    }

    /// The demo tenant and application, with mailboxes loaded from
    /// `DIR/<mailbox address>/<folder path>/*.eml` (nested directories are nested folders;
    /// "Inbox", "Sent Items", "Drafts", "Deleted Items", "Junk Email", "Archive" at the top
    /// are the well-known folders). Mailbox domains are added to the demo tenant.
    pub fn from_eml_dir(dir: &std::path::Path) -> Result<Emulator, EmulatorError> {
        Ok(Emulator::with_config(EmulatorConfig::from_eml_dir(dir)?))
    }

    /// The HTTP surface: token endpoint, Graph under /v1.0, admin under /_emulator.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token_endpoint))
            .route("/_emulator/stats", get(admin_stats))
            .route("/_emulator/reset", post(admin_reset))
            .route(
                "/_emulator/throttle",
                get(admin_get_throttle).post(admin_set_throttle),
            )
            .route(
                "/_emulator/faults",
                post(admin_set_faults)
                    .delete(admin_clear_faults)
                    .get(admin_get_faults),
            )
            .route(
                "/_emulator/delta",
                get(admin_get_delta).post(admin_set_delta),
            )
            .route("/_emulator/mime", get(admin_get_mime).post(admin_set_mime))
            .route(
                "/_emulator/mailboxes/{mailbox}/deliver",
                post(admin_deliver),
            )
            // Pre-authenticated attachment upload URLs (Outlook's own API path, as Graph's
            // uploadUrl points at https://outlook.office.com/api/v2.0/…).
            .route("/api/v2.0/{*rest}", any(upload_entry))
            .route("/v1.0", any(graph_entry))
            .route("/v1.0/{*rest}", any(graph_entry))
            .fallback(fallback)
            // Upload sessions and MIME bodies can be large; Graph's own limits apply inside.
            .layer(DefaultBodyLimit::max(200 * 1024 * 1024))
            .with_state(self.clone())
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// The same JSON as `GET /_emulator/stats`.
    pub fn stats_json(&self) -> Value {
        self.inner.stats.to_json()
    }

    /// Back to the seed: mail state, stats, throttling windows, faults and delta answers as
    /// configured.
    pub fn reset(&self) {
        let fresh = store::Store::from_seed(&self.inner.config.mailboxes);
        *self.inner.store.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.inner.stats.reset();
        self.inner.throttle.reset();
        *self.inner.limits.lock().unwrap_or_else(|e| e.into_inner()) =
            self.inner.config.throttle.clone();
        self.inner.faults.set(self.inner.config.faults.clone());
        self.set_delta(self.inner.config.delta.clone());
        self.set_mime(self.inner.config.mime.clone());
    }

    /// What drafts created from MIME keep, from now on (as `POST /_emulator/mime`).
    pub fn set_mime(&self, mime: MimeConfig) {
        *self.inner.mime.lock().unwrap_or_else(|e| e.into_inner()) = mime;
    }

    /// What drafts created from MIME keep now.
    pub fn mime_config(&self) -> MimeConfig {
        self.inner
            .mime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How delta pages answer from now on (as `POST /_emulator/delta`); tokens already issued
    /// stay valid.
    pub fn set_delta(&self, delta: DeltaConfig) {
        *self.inner.delta.lock().unwrap_or_else(|e| e.into_inner()) = delta;
    }

    /// How delta pages answer now.
    pub fn delta_config(&self) -> DeltaConfig {
        self.inner
            .delta
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the injected faults (as `POST /_emulator/faults`).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.inner.faults.set(faults);
    }

    /// Replaces the throttling limits at run time.
    pub fn set_throttle(&self, limits: ThrottleLimits) {
        *self.inner.limits.lock().unwrap_or_else(|e| e.into_inner()) = limits;
    }

    /// Stores raw RFC 5322 bytes as newly received, unread, non-draft mail in `folder`
    /// (well-known name or folder id) of `mailbox`; returns the message's default id and
    /// immutable id.
    pub fn deliver(
        &self,
        mailbox: &str,
        folder: &str,
        raw: Vec<u8>,
    ) -> Result<(String, String), String> {
        let mut store = self.inner.store.lock().unwrap_or_else(|e| e.into_inner());
        let key = store
            .mailbox_key(mailbox)
            .ok_or_else(|| format!("no mailbox {mailbox}"))?;
        let mb = store
            .mailboxes
            .get_mut(&key)
            .ok_or_else(|| format!("no mailbox {mailbox}"))?;
        let folder_id = match mb.folder(folder) {
            store::Lookup::Found(f) => f.id.clone(),
            _ => return Err(format!("no folder {folder} in {mailbox}")),
        };
        let now = chrono::Utc::now().timestamp();
        let order = mb.next_order + 1;
        let imm = mb.add_message(
            &folder_id,
            format!("runtime/{order}").as_bytes(),
            raw,
            store::NewMessageProps {
                received: Some(now),
                created: Some(now),
                ..Default::default()
            },
        );
        mb.touch_folder(&folder_id);
        let rest = mb
            .messages
            .get(&imm)
            .map(|m| m.rest_id.clone())
            .unwrap_or_default();
        Ok((rest, imm))
    }

    /// A user of the token's tenant that exists without a mailbox.
    pub(crate) fn user_without_mailbox(&self, tenant_id: &str, user: &str) -> bool {
        self.inner.config.tenants.iter().any(|t| {
            t.tenant_id.eq_ignore_ascii_case(tenant_id)
                && t.users_without_mailbox
                    .iter()
                    .any(|u| u.eq_ignore_ascii_case(user))
        })
    }

    pub(crate) fn tenant_owns(&self, tenant_id: &str, mailbox: &str) -> bool {
        let domain = mailbox.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        self.inner.config.tenants.iter().any(|t| {
            t.tenant_id.eq_ignore_ascii_case(tenant_id)
                && t.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
        })
    }

    pub(crate) fn admit(
        &self,
        app: &str,
        mailbox: &str,
        upload: u64,
    ) -> Result<throttle::Permit, graph::errors::GraphError> {
        let limits = self
            .inner
            .limits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.inner
            .throttle
            .admit(&self.inner.stats, &limits, app, mailbox, upload)
    }

    pub(crate) async fn injected_fault(&self, template: &str) -> Option<graph::errors::GraphError> {
        let (delay, err) = self.inner.faults.roll(template);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        err
    }

    pub(crate) fn token_revoked(&self, claims: &identity::TokenClaims) -> bool {
        match self.inner.faults.token_early_expiry() {
            Some(secs) => chrono::Utc::now().timestamp() >= claims.iat + secs as i64,
            None => false,
        }
    }
}

fn json_response(status: u16, v: &Value, extra: &[(&str, &str)]) -> Response {
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8");
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    r.body(Body::from(v.to_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `POST /{tenant}/oauth2/v2.0/token` (see [`identity`] for the documentation followed).
async fn token_endpoint(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(identity::parse_basic);
    let used_basic = basic.is_some();
    let no_cache = [
        ("Cache-Control", "no-store, no-cache"),
        ("Pragma", "no-cache"),
    ];
    match identity::check_request(&emu.inner.config.tenants, &tenant, &form, basic) {
        Err(e) => {
            emu.inner.stats.record_token(e.status);
            tracing::debug!(tenant = %tenant, status = e.status, "emulated token request refused");
            // RFC 6749 §5.2: a client that authenticated with the Authorization header and
            // failed gets 401 with a WWW-Authenticate challenge for that scheme.
            if e.status == 401 && used_basic {
                let mut h = no_cache.to_vec();
                h.push((
                    "WWW-Authenticate",
                    "Basic realm=\"login.microsoftonline.com\"",
                ));
                json_response(e.status, &e.body, &h)
            } else {
                json_response(e.status, &e.body, &no_cache)
            }
        }
        Ok(issued) => {
            let now = chrono::Utc::now().timestamp();
            let lifetime = emu.inner.config.token_lifetime_secs;
            let claims = identity::TokenClaims {
                tenant_id: issued.tenant_id,
                app_id: issued.app_id,
                roles: issued.roles,
                iat: now,
                exp: now + lifetime as i64,
            };
            let token = identity::sign(&emu.inner.token_key, &claims);
            emu.inner.stats.record_token(200);
            json_response(
                200,
                &json!({
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                    "ext_expires_in": lifetime,
                    "access_token": token,
                }),
                &no_cache,
            )
        }
    }
}

/// Every `/v1.0/…` request.
async fn graph_entry(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().strip_prefix("/v1.0").unwrap_or("").to_string();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c))
        })
        .unwrap_or("127.0.0.1")
        .to_string();
    let req = GraphRequest {
        method,
        path: if path.is_empty() {
            "/".to_string()
        } else {
            path
        },
        query: uri.query().map(|q| q.to_string()),
        headers,
        body,
        base: format!("http://{host}/v1.0"),
    };
    let mut hold = None;
    let resp = graph::handle(&emu, req, &mut hold).await;
    let fault = emu.inner.faults.body_fault();
    into_http_with(resp, fault, hold)
}

fn into_http(resp: GraphResponse) -> Response {
    into_http_with(resp, faults::BodyFault::default(), None)
}

/// A body that trickles (slow-body fault) or breaks off halfway (connection-reset fault).
fn faulty_body(data: Bytes, fault: faults::BodyFault, hold: Option<throttle::Permit>) -> Body {
    // The permit lives as long as the stream: the request stays in flight until the
    // last byte is out.
    let hold = std::sync::Arc::new(hold);
    let cut = if fault.reset {
        data.len() / 2
    } else {
        data.len()
    };
    let step = if fault.bytes_per_sec > 0 {
        ((fault.bytes_per_sec / 10).max(1)) as usize
    } else {
        cut.max(1)
    };
    let stream = futures_util::stream::unfold(0usize, move |pos| {
        let data = data.clone();
        let hold = std::sync::Arc::clone(&hold);
        async move {
            let _hold = hold;
            if pos >= cut {
                if fault.reset && pos == cut {
                    // Let what was sent so far reach the client before the connection dies.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    return Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "connection reset injected by the emulator",
                        )),
                        pos + 1,
                    ));
                }
                return None;
            }
            if fault.bytes_per_sec > 0 && pos > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let end = (pos + step).min(cut);
            Some((Ok(data.slice(pos..end)), end))
        }
    });
    Body::from_stream(stream)
}

fn into_http_with(
    resp: GraphResponse,
    fault: faults::BodyFault,
    hold: Option<throttle::Permit>,
) -> Response {
    let mut b = Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body = match resp.body {
        RespBody::Json(v) => {
            b = b.header(header::CONTENT_TYPE, graph::JSON_CT);
            Bytes::from(v.to_string())
        }
        RespBody::Bytes { content_type, data } => {
            b = b.header(header::CONTENT_TYPE, content_type);
            data
        }
        RespBody::Empty => Bytes::new(),
    };
    let body = if (fault.reset || fault.bytes_per_sec > 0) && !body.is_empty() {
        b = b.header(header::CONTENT_LENGTH, body.len());
        faulty_body(body, fault, hold)
    } else {
        Body::from(body)
    };
    b.body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn fallback(method: Method, uri: Uri) -> Response {
    let what = format!("{} {}", method, uri.path());
    json_response(
        501,
        &json!({"error": {
            "code": "NotImplemented",
            "message": format!("The imap2graph emulator does not implement {what}. Graph lives under /v1.0, the token endpoint at /{{tenant}}/oauth2/v2.0/token, administration under /_emulator/."),
        }}),
        &[],
    )
}

async fn admin_stats(State(emu): State<Emulator>) -> Response {
    json_response(200, &emu.stats_json(), &[])
}

async fn admin_reset(State(emu): State<Emulator>) -> Response {
    emu.reset();
    json_response(200, &json!({"reset": true}), &[])
}

async fn admin_get_faults(State(emu): State<Emulator>) -> Response {
    json_response(
        200,
        &serde_json::to_value(emu.inner.faults.config()).unwrap_or(Value::Null),
        &[],
    )
}

async fn admin_set_faults(State(emu): State<Emulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(f) => {
            emu.set_faults(f.clone());
            json_response(200, &serde_json::to_value(f).unwrap_or(Value::Null), &[])
        }
        Err(e) => json_response(
            400,
            &json!({"error": {"code": "BadRequest", "message": format!("invalid fault configuration: {e}")}}),
            &[],
        ),
    }
}

async fn admin_get_delta(State(emu): State<Emulator>) -> Response {
    json_response(
        200,
        &serde_json::to_value(emu.delta_config()).unwrap_or(Value::Null),
        &[],
    )
}

/// `POST /_emulator/delta`: fields left out take their defaults, as in `POST /_emulator/faults`.
async fn admin_set_delta(State(emu): State<Emulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<DeltaConfig>(&body) {
        Ok(d) => {
            emu.set_delta(d.clone());
            json_response(200, &serde_json::to_value(d).unwrap_or(Value::Null), &[])
        }
        Err(e) => json_response(
            400,
            &json!({"error": {"code": "BadRequest", "message": format!("invalid delta configuration: {e}")}}),
            &[],
        ),
    }
}

async fn admin_get_mime(State(emu): State<Emulator>) -> Response {
    json_response(
        200,
        &serde_json::to_value(emu.mime_config()).unwrap_or(Value::Null),
        &[],
    )
}

/// `POST /_emulator/mime`: fields left out take their defaults, as in `POST /_emulator/delta`.
async fn admin_set_mime(State(emu): State<Emulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<MimeConfig>(&body) {
        Ok(m) => {
            emu.set_mime(m.clone());
            json_response(200, &serde_json::to_value(m).unwrap_or(Value::Null), &[])
        }
        Err(e) => json_response(
            400,
            &json!({"error": {"code": "BadRequest", "message": format!("invalid MIME configuration: {e}")}}),
            &[],
        ),
    }
}

async fn admin_get_throttle(State(emu): State<Emulator>) -> Response {
    let cur = emu
        .inner
        .limits
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    json_response(
        200,
        &serde_json::to_value(cur.to_json()).unwrap_or(Value::Null),
        &[],
    )
}

async fn admin_set_throttle(State(emu): State<Emulator>, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<ThrottleLimitsJson>(&body).map_err(|e| e.to_string());
    let cur = emu
        .inner
        .limits
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match parsed.and_then(|j| cur.merged(&j)) {
        Ok(new) => {
            emu.set_throttle(new.clone());
            json_response(
                200,
                &serde_json::to_value(new.to_json()).unwrap_or(Value::Null),
                &[],
            )
        }
        Err(e) => json_response(
            400,
            &json!({"error": {"code": "BadRequest", "message": format!("invalid throttle configuration: {e}")}}),
            &[],
        ),
    }
}

async fn admin_clear_faults(State(emu): State<Emulator>) -> Response {
    emu.inner.faults.clear();
    json_response(200, &json!({"cleared": true}), &[])
}

async fn admin_deliver(
    State(emu): State<Emulator>,
    Path(mailbox): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let folder = q
        .as_deref()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "folder")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| "inbox".to_string());
    if body.is_empty() {
        return json_response(
            400,
            &json!({"error": {"code": "BadRequest", "message": "the body must be a raw RFC 5322 message"}}),
            &[],
        );
    }
    match emu.deliver(&mailbox, &folder, body.to_vec()) {
        Ok((id, immutable_id)) => json_response(
            201,
            &json!({"id": id, "immutableId": immutable_id, "mailbox": mailbox.to_ascii_lowercase(), "folder": folder}),
            &[],
        ),
        Err(e) => json_response(
            404,
            &json!({"error": {"code": "NotFound", "message": e}}),
            &[],
        ),
    }
}

const UPLOAD_TEMPLATE: &str = "/api/v2.0/Users/{id}/Messages/{id}/AttachmentSessions/{id}";

/// PUT (a byte range) or DELETE (cancel) on an upload URL; see `graph::attachments`.
async fn upload_entry(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let template = format!("{} {UPLOAD_TEMPLATE}", method.as_str());
    let resp = upload(&emu, &method, &uri, &headers, body, &template).await;
    emu.inner
        .stats
        .record(&template, resp.status.as_u16(), false);
    let rid = identity::uuid_like();
    let mut resp = resp;
    resp.headers.push(("request-id".to_string(), rid));
    into_http(resp)
}

async fn upload(
    emu: &Emulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    template: &str,
) -> GraphResponse {
    use graph::attachments as att;
    use graph::errors::GraphError;
    let rid = identity::uuid_like();
    let fail = |e: GraphError| graph::error_response(&e, &rid, &rid);
    if headers.contains_key(header::AUTHORIZATION) {
        // "Do not specify an Authorization request header" (outlook-large-attachments); what
        // Outlook answers if one is sent is not documented; we refuse it.
        return fail(GraphError::new(
            401,
            "InvalidAuthenticationToken",
            "The upload URL is pre-authenticated: do not send an Authorization header.",
        ));
    }
    let Some(sid) = att::session_id(uri.path()) else {
        return fail(GraphError::item_not_found());
    };
    let token = uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("authtoken"))
            .map(|(_, v)| v.into_owned())
    });
    let session = {
        let store = emu.inner.store.lock().unwrap_or_else(|e| e.into_inner());
        store.uploads.get(&sid).cloned()
    };
    let Some(session) = session else {
        return fail(GraphError::item_not_found());
    };
    if token.as_deref() != Some(session.auth_token.as_str()) {
        return fail(GraphError::new(
            401,
            "InvalidAuthenticationToken",
            "The upload URL's token is not valid.",
        ));
    }
    let now = chrono::Utc::now().timestamp();
    if now >= session.expires {
        return fail(GraphError::item_not_found());
    }
    if *method == Method::DELETE {
        let mut store = emu.inner.store.lock().unwrap_or_else(|e| e.into_inner());
        store.uploads.remove(&sid);
        return GraphResponse {
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            body: RespBody::Empty,
        };
    }
    if *method != Method::PUT {
        return fail(GraphError::new(
            405,
            "BadRequest",
            "Upload URLs accept PUT (a byte range) and DELETE (cancel).",
        ));
    }
    let Some((start, end, total)) = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(att::content_range)
    else {
        return fail(GraphError::bad_request(
            "Content-Range 'bytes {start}-{end}/{total}' is required.",
        ));
    };
    if total != session.size {
        return fail(GraphError::bad_request(format!(
            "The total size in Content-Range ({total}) differs from the session's size ({}).",
            session.size
        )));
    }
    if body.len() as u64 != end - start + 1 {
        return fail(GraphError::bad_request(
            "Content-Length does not match the Content-Range.",
        ));
    }
    if body.len() > att::MAX_CHUNK {
        return fail(GraphError::new(
            413,
            "RequestEntityTooLarge",
            "Each upload request must carry less than 4 MB.",
        ));
    }
    if start != session.received.len() as u64 {
        // https://learn.microsoft.com/graph/errors: 416 "The specified byte range is invalid
        // or unavailable"; bytes must come in order (outlook-large-attachments).
        return fail(GraphError::new(
            416,
            "ErrorInvalidRange",
            format!("Expected the range to start at {}.", session.received.len()),
        ));
    }
    let _permit = match emu.admit(&session.app_id, &session.mailbox, body.len() as u64) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if let Some(e) = emu.injected_fault(template).await {
        return fail(e);
    }
    let mut store = emu.inner.store.lock().unwrap_or_else(|e| e.into_inner());
    let Some(s) = store.uploads.get_mut(&sid) else {
        return fail(GraphError::item_not_found());
    };
    s.received.extend_from_slice(&body);
    let next = s.received.len() as u64;
    let expires = s.expires;
    if next < s.size {
        return GraphResponse::json(
            200,
            json!({
                "@odata.context": format!(
                    "https://outlook.office.com/api/v2.0/$metadata#Users('{}')/Messages('{}')/AttachmentSessions/$entity",
                    s.user_id, s.message
                ),
                "ExpirationDateTime": graph::iso(expires),
                "nextExpectedRanges": [next.to_string()],
            }),
        );
    }
    let s = match store.uploads.remove(&sid) {
        Some(s) => s,
        None => return fail(GraphError::item_not_found()),
    };
    let Some(mb) = store.mailboxes.get_mut(&s.mailbox) else {
        return fail(GraphError::item_not_found());
    };
    let cid = if s.is_inline {
        s.content_id.clone()
    } else {
        None
    };
    match att::attach(
        mb,
        &s.message,
        &s.name,
        &s.content_type,
        &s.received,
        cid.as_deref(),
    ) {
        Ok(att_id) => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            GraphResponse {
                status: StatusCode::CREATED,
                headers: vec![(
                    "Location".to_string(),
                    format!(
                        "http://{host}/api/v2.0/Users('{}')/Messages('{}')/Attachments('{att_id}')",
                        s.user_id, s.message
                    ),
                )],
                body: RespBody::Empty,
            }
        }
        Err(e) => fail(e),
    }
}
