//! Owns requests to Graph: URL building (every part from a login or from Graph percent-encoded),
//! `$select`/`$top` paging that follows `@odata.nextLink` verbatim, `$batch`, and the retry
//! policy; every request first passes its mailbox's budget (`pacing`):
//! - 429 and 503 wait for `Retry-After` (seconds, possibly fractional) and try again, a bounded
//!   number of times, with jitter when Graph gives no delay
//!   (https://learn.microsoft.com/en-us/graph/throttling);
//! - a 401 forgets the token and tries once more with a fresh one;
//! - transport errors are retried only for requests that are safe to repeat.
//!
//! Every request sends `Prefer: IdType="ImmutableId"` so a message keeps its id across moves
//! (https://learn.microsoft.com/en-us/graph/outlook-immutable-id).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::error::{parse_graph_error, GraphError};
use super::model::{
    BatchResponses, DeltaPage, DeltaRound, MailFolder, MessageSummary, Page, FOLDER_SELECT,
    LAST_VERB_PROPERTY, MESSAGE_SELECT,
};
use super::pacing::{Cost, MailboxBudget, Pacer};
use super::token::{describe_transport_error, Credentials, MailAccess, TokenCache};
use crate::config::{GraphConfig, PacingConfig};
use crate::login::MailboxName;
use crate::metrics::METRICS;

/// Characters left as they are in a path segment or query value: RFC 3986 unreserved.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Graph's limit of requests in one `$batch` (https://learn.microsoft.com/en-us/graph/json-batching).
pub const MAX_BATCH: usize = 20;

/// Largest page Graph serves for messages and folders.
const PAGE_SIZE: u32 = 1000;

const IMMUTABLE_IDS: &str = "IdType=\"ImmutableId\"";

pub fn encode(component: &str) -> String {
    utf8_percent_encode(component, COMPONENT).to_string()
}

/// The well-known folders the gateway asks for at once: those it maps to SPECIAL-USE
/// attributes, and the root of the folder tree (the parent of the top-level folders).
pub const WELL_KNOWN_FOLDERS: [&str; 7] = [
    "inbox",
    "sentitems",
    "drafts",
    "deleteditems",
    "junkemail",
    "archive",
    "msgfolderroot",
];

/// Shared by every mailbox of the process: the HTTP pool, the token cache and the budgets.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    http: reqwest::Client,
    base_url: String,
    tokens: TokenCache,
    config: GraphConfig,
    pacer: Pacer,
}

impl GraphClient {
    /// A client paced with the default `[pacing]` settings.
    pub fn new(config: &GraphConfig, authority: &str) -> Result<GraphClient, GraphError> {
        GraphClient::paced(config, &PacingConfig::default(), authority)
    }

    pub fn paced(
        config: &GraphConfig,
        pacing: &PacingConfig,
        authority: &str,
    ) -> Result<GraphClient, GraphError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("imap2graph/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| GraphError::Unavailable(describe_transport_error(&err)))?;
        Ok(GraphClient {
            inner: Arc::new(ClientInner {
                tokens: TokenCache::new(http.clone(), authority),
                http,
                base_url: config.base_url.trim_end_matches('/').to_string(),
                config: config.clone(),
                pacer: Pacer::new(config, pacing),
            }),
        })
    }

    /// Checks the credentials by obtaining (or reusing) a token.
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<(), GraphError> {
        self.inner.tokens.token(credentials).await.map(|_| ())
    }

    /// A valid access token for these credentials (for `imap2graph check`, which reads its
    /// roles and asks Graph directly; the gateway's own requests never need it).
    pub async fn access_token(
        &self,
        credentials: &Credentials,
    ) -> Result<crate::secret::Secret, GraphError> {
        self.inner.tokens.token(credentials).await
    }

    /// The HTTP client and Graph's base URL the gateway uses, for `imap2graph check`.
    pub fn http(&self) -> (&reqwest::Client, &str) {
        (&self.inner.http, &self.inner.base_url)
    }

    /// Whether these credentials are known good: a valid token for this secret is cached.
    pub fn holds_token(&self, credentials: &Credentials) -> bool {
        self.inner.tokens.holds(credentials)
    }

    /// The handle through which one mailbox is read and written. Handles of one mailbox share
    /// one budget (requests in flight, requests and bytes per window), whichever session or
    /// hub holds them.
    pub fn mailbox(&self, credentials: Credentials, mailbox: MailboxName) -> MailboxGraph {
        let budget = self
            .inner
            .pacer
            .mailbox(credentials.client_id.as_str(), mailbox.as_str());
        MailboxGraph {
            client: self.clone(),
            user_path: format!("{}/users/{}", self.inner.base_url, encode(mailbox.as_str())),
            mailbox,
            credentials: RwLock::new(credentials),
            budget,
        }
    }
}

/// Graph as one mailbox sees it.
pub struct MailboxGraph {
    client: GraphClient,
    mailbox: MailboxName,
    /// `{base}/users/{mailbox}`.
    user_path: String,
    /// The credentials of the latest successful login to this mailbox.
    credentials: RwLock<Credentials>,
    budget: Arc<MailboxBudget>,
}

/// A request that can be sent again: method, absolute URL, optional JSON or text body.
pub(super) struct RequestSpec {
    pub(super) method: Method,
    pub(super) url: String,
    pub(super) json: Option<serde_json::Value>,
    /// A `text/plain` body (MIME in base64, as Graph takes it).
    pub(super) text: Option<String>,
    pub(super) extra_prefer: Option<String>,
    pub(super) idempotent: bool,
}

impl RequestSpec {
    /// A plain GET: no body, safe to send again.
    pub(super) fn get(url: String) -> RequestSpec {
        RequestSpec {
            method: Method::GET,
            url,
            json: None,
            text: None,
            extra_prefer: None,
            idempotent: true,
        }
    }
}

/// One request inside a `$batch`: method, URL relative to the version root, optional JSON body.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    pub method: &'static str,
    pub url: String,
    pub body: Option<serde_json::Value>,
}

impl BatchRequest {
    pub fn get(url: String) -> BatchRequest {
        BatchRequest {
            method: "GET",
            url,
            body: None,
        }
    }
}

impl MailboxGraph {
    pub fn mailbox(&self) -> &MailboxName {
        &self.mailbox
    }

    /// `{base}/users/{mailbox}`, for absolute URLs.
    pub(super) fn user_path(&self) -> &str {
        &self.user_path
    }

    /// `/users/{mailbox}`, for URLs inside a `$batch`.
    pub(super) fn relative_user_path(&self) -> String {
        format!("/users/{}", encode(self.mailbox.as_str()))
    }

    /// How much of the mailbox's request budget is spent: 0 (all there) to 1 (none left).
    pub fn budget_tightness(&self) -> f64 {
        self.budget.tightness()
    }

    pub fn set_credentials(&self, credentials: Credentials) {
        *self.credentials.write().unwrap_or_else(|e| e.into_inner()) = credentials;
    }

    fn credentials(&self) -> Credentials {
        self.credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What the application of the latest login may do with mail, from its token's roles (no
    /// Graph request; a token request only if none is cached).
    pub async fn mail_access(&self) -> Result<MailAccess, GraphError> {
        self.client
            .inner
            .tokens
            .mail_access(&self.credentials())
            .await
    }

    /// Ids of the well-known folders, in one `$batch`. A folder the mailbox lacks (an archive
    /// that was never enabled) is simply absent. Fails when the mailbox cannot be opened.
    pub async fn well_known_folders(&self) -> Result<HashMap<String, String>, GraphError> {
        let relative = |name: &str| {
            format!(
                "/users/{}/mailFolders/{name}?$select=id",
                encode(self.mailbox.as_str())
            )
        };
        let urls: Vec<String> = WELL_KNOWN_FOLDERS
            .iter()
            .map(|name| relative(name))
            .collect();
        let answers = self.batch_get(urls).await?;
        let mut ids = HashMap::new();
        for (name, answer) in WELL_KNOWN_FOLDERS.iter().zip(answers) {
            match answer {
                Ok(body) => {
                    if let Some(id) = body.get("id").and_then(|v| v.as_str()) {
                        ids.insert(name.to_string(), id.to_string());
                    }
                }
                Err(err) if *name == "inbox" => return Err(err),
                Err(err) if err.is_not_found() => {}
                Err(err) if err.is_mailbox_refused() => return Err(err),
                Err(err) => return Err(err),
            }
        }
        Ok(ids)
    }

    /// The folders directly under the root of the mailbox.
    pub async fn list_root_folders(
        &self,
        include_hidden: bool,
    ) -> Result<Vec<MailFolder>, GraphError> {
        let url = format!(
            "{}/mailFolders?$select={}&$top={PAGE_SIZE}{}",
            self.user_path,
            FOLDER_SELECT,
            if include_hidden {
                "&includeHiddenFolders=true"
            } else {
                ""
            }
        );
        self.list_all(url).await
    }

    pub async fn list_child_folders(
        &self,
        folder_id: &str,
        include_hidden: bool,
    ) -> Result<Vec<MailFolder>, GraphError> {
        let url = format!(
            "{}/mailFolders/{}/childFolders?$select={}&$top={PAGE_SIZE}{}",
            self.user_path,
            encode(folder_id),
            FOLDER_SELECT,
            if include_hidden {
                "&includeHiddenFolders=true"
            } else {
                ""
            }
        );
        self.list_all(url).await
    }

    /// One round of the folder's `messages/delta`
    /// (https://learn.microsoft.com/en-us/graph/api/message-delta): from `delta_link` when
    /// given, else a first round that names every message. The fields are those the gateway
    /// shows, PR_LAST_VERB_EXECUTED included (the page says delta supports `$select`, `$top`
    /// and `$expand` for messages).
    pub async fn messages_delta(
        &self,
        folder_id: &str,
        delta_link: Option<&str>,
    ) -> Result<DeltaRound<MessageSummary>, GraphError> {
        let first = delta_link.map(str::to_string).unwrap_or_else(|| {
            format!(
                "{}/mailFolders/{}/messages/delta?{}",
                self.user_path,
                encode(folder_id),
                message_query()
            )
        });
        self.delta_round(first).await
    }

    /// Messages of a folder by id, whole (the fields of
    /// [`messages_delta`](Self::messages_delta)), through `$batch`: for delta items that name a
    /// message the gateway does not know yet without everything it shows. A message not in
    /// that folder answers not found. Answers in the order asked.
    pub async fn messages_by_id(
        &self,
        folder_id: &str,
        ids: &[&str],
    ) -> Result<Vec<Result<MessageSummary, GraphError>>, GraphError> {
        let folder = format!(
            "{}/mailFolders/{}",
            self.relative_user_path(),
            encode(folder_id)
        );
        let urls = ids
            .iter()
            .map(|id| format!("{folder}/messages/{}?{}", encode(id), message_query()))
            .collect();
        Ok(decode_answers(self.batch_get(urls).await?, "message"))
    }

    /// Folders by id (the fields of [`folders_delta`](Self::folders_delta)) through `$batch`,
    /// in the order asked.
    pub async fn folders_by_id(
        &self,
        ids: &[&str],
    ) -> Result<Vec<Result<MailFolder, GraphError>>, GraphError> {
        let base = self.relative_user_path();
        let urls = ids
            .iter()
            .map(|id| format!("{base}/mailFolders/{}?$select={FOLDER_SELECT}", encode(id)))
            .collect();
        Ok(decode_answers(self.batch_get(urls).await?, "folder"))
    }

    /// One round of `mailFolders/delta`
    /// (https://learn.microsoft.com/en-us/graph/api/mailfolder-delta): every folder of the
    /// mailbox, flat, with its parent's id (a first round), or those changed since `delta_link`.
    pub async fn folders_delta(
        &self,
        delta_link: Option<&str>,
    ) -> Result<DeltaRound<MailFolder>, GraphError> {
        let first = delta_link.map(str::to_string).unwrap_or_else(|| {
            format!(
                "{}/mailFolders/delta?$select={FOLDER_SELECT}",
                self.user_path
            )
        });
        self.delta_round(first).await
    }

    /// Follows one delta round from `first` to its deltaLink. Graph may name an item more than
    /// once in a round (the delta overview warns of replays), each time with "at least the
    /// properties that have been updated": the entries are merged in order, later properties
    /// over earlier ones, and a removal ends what came before it. A token Graph no longer knows
    /// answers an error for which [`GraphError::is_sync_state_lost`] holds.
    async fn delta_round<T: DeserializeOwned>(
        &self,
        first: String,
    ) -> Result<DeltaRound<T>, GraphError> {
        if !first.starts_with(&self.client.inner.base_url) {
            // A deltaLink kept from another Graph endpoint (the configuration changed, or a
            // restarted emulator took a new port) names a sync state this endpoint cannot
            // know: answered as Graph answers a token it lost, so the caller starts afresh.
            return Err(GraphError::Api {
                status: 410,
                code: "SyncStateNotFound".into(),
                message: "the kept delta link belongs to another Graph endpoint".into(),
            });
        }
        let mut merge = DeltaMerge::default();
        let mut next = Some(first);
        let delta_link = loop {
            let Some(url) = next.take() else {
                return Err(GraphError::Decode(
                    "a delta round ended without a deltaLink".into(),
                ));
            };
            self.check_origin(&url)?;
            let page: DeltaPage = self
                .get_json(url, Some(format!("odata.maxpagesize={PAGE_SIZE}")))
                .await?;
            merge.add_page(page.value)?;
            match (page.delta_link, page.next_link) {
                (Some(link), _) => break link,
                (None, link) => next = link,
            }
        };
        self.check_origin(&delta_link)?;
        merge.finish(delta_link)
    }

    /// The message's MIME, byte for byte as Exchange holds it.
    pub async fn message_mime(&self, message_id: &str) -> Result<Bytes, GraphError> {
        let url = format!("{}/messages/{}/$value", self.user_path, encode(message_id));
        let (_, body) = self.execute(RequestSpec::get(url)).await?;
        Ok(body)
    }

    /// The MIME of several messages through `$batch`, in the order asked. Graph answers a
    /// non-JSON body inside a batch as a base64 string: this is observed behaviour rather than
    /// documented (https://learn.microsoft.com/en-us/graph/json-batching shows JSON bodies only),
    /// so a body that is not a base64 string is reported as a decoding error for that message.
    pub async fn messages_mime(
        &self,
        message_ids: &[&str],
    ) -> Result<Vec<Result<Bytes, GraphError>>, GraphError> {
        use base64::Engine;
        let mailbox = encode(self.mailbox.as_str());
        let urls = message_ids
            .iter()
            .map(|id| format!("/users/{mailbox}/messages/{}/$value", encode(id)))
            .collect();
        let answers = self.batch_get(urls).await?;
        Ok(answers
            .into_iter()
            .map(|answer| {
                let value = answer?;
                let text = value.as_str().ok_or_else(|| {
                    GraphError::Decode("$batch gave a $value body that is not a string".into())
                })?;
                let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(&compact)
                    .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
                    .map(Bytes::from)
                    .map_err(|_| {
                        GraphError::Decode("$batch gave a $value body that is not base64".into())
                    })
            })
            .collect())
    }

    /// Follows `@odata.nextLink` to the end, verbatim, as Graph asks.
    pub(super) async fn list_all<T: DeserializeOwned>(
        &self,
        first: String,
    ) -> Result<Vec<T>, GraphError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            self.check_origin(&url)?;
            let page: Page<T> = self
                .get_json(url, Some(format!("odata.maxpagesize={PAGE_SIZE}")))
                .await?;
            items.extend(page.value);
            next = page.next_link;
        }
        Ok(items)
    }

    /// Links from Graph are followed verbatim, but only to the configured endpoint: the token
    /// must never be sent elsewhere.
    fn check_origin(&self, url: &str) -> Result<(), GraphError> {
        if url.starts_with(&self.client.inner.base_url) {
            Ok(())
        } else {
            Err(GraphError::Decode(
                "a link from Graph points outside the configured Graph endpoint".into(),
            ))
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: String,
        extra_prefer: Option<String>,
    ) -> Result<T, GraphError> {
        let (_, body) = self
            .execute(RequestSpec {
                extra_prefer,
                ..RequestSpec::get(url)
            })
            .await?;
        serde_json::from_slice(&body).map_err(|err| GraphError::Decode(err.to_string()))
    }

    /// GETs many relative URLs through `$batch`, 20 at a time; answers in the order asked.
    /// Sub-requests that were throttled are sent again in a later batch.
    pub async fn batch_get(
        &self,
        relative_urls: Vec<String>,
    ) -> Result<Vec<Result<serde_json::Value, GraphError>>, GraphError> {
        self.batch(
            relative_urls.into_iter().map(BatchRequest::get).collect(),
            true,
        )
        .await
    }

    /// Sends many requests through `$batch`, 20 at a time, one batch after the other (so a
    /// command never holds more than one of the mailbox's four slots); answers in the order
    /// asked. Sub-requests answered 429 or 503 were not carried out and are sent again in a
    /// later batch. `idempotent` says whether the whole batch may be sent again after a
    /// transport error (not for copies or creations, which would then be made twice).
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
        idempotent: bool,
    ) -> Result<Vec<Result<serde_json::Value, GraphError>>, GraphError> {
        let mut results: Vec<Option<Result<serde_json::Value, GraphError>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let mut round = 0u32;
        while !pending.is_empty() {
            let mut throttled = Vec::new();
            let mut wait = Duration::ZERO;
            for chunk in pending.chunks(MAX_BATCH) {
                let entries: Vec<serde_json::Value> = chunk
                    .iter()
                    .map(|&index| {
                        let request = &requests[index];
                        let mut entry = serde_json::json!({
                            "id": index.to_string(),
                            "method": request.method,
                            "url": request.url,
                            "headers": { "Prefer": IMMUTABLE_IDS },
                        });
                        if let Some(body) = &request.body {
                            entry["body"] = body.clone();
                            entry["headers"]["Content-Type"] = "application/json".into();
                        }
                        entry
                    })
                    .collect();
                // A batch that fails as a whole fails its own entries only: those of earlier
                // batches were carried out and keep their answers.
                let sent = self
                    .execute_counted(
                        RequestSpec {
                            method: Method::POST,
                            url: format!("{}/$batch", self.client.inner.base_url),
                            json: Some(serde_json::json!({ "requests": entries })),
                            text: None,
                            extra_prefer: None,
                            idempotent,
                        },
                        chunk.len() as u32,
                    )
                    .await
                    .and_then(|(_, body)| {
                        serde_json::from_slice::<BatchResponses>(&body)
                            .map_err(|err| GraphError::Decode(format!("$batch answer: {err}")))
                    });
                let parsed = match sent {
                    Ok(parsed) => parsed,
                    Err(err) => {
                        for &index in chunk {
                            results[index] = Some(Err(err.clone()));
                        }
                        continue;
                    }
                };
                for response in parsed.responses {
                    let Some(index) = response
                        .id
                        .parse::<usize>()
                        .ok()
                        .filter(|i| chunk.contains(i))
                    else {
                        continue;
                    };
                    if matches!(response.status, 429 | 503)
                        && round < self.client.inner.config.max_retries
                    {
                        // The entry's own Retry-After when it has one (the throttling page says
                        // a suggested wait comes "in the response header of the failed
                        // request": https://learn.microsoft.com/en-us/graph/throttling), else
                        // a second.
                        let asked = response
                            .header("Retry-After")
                            .and_then(parse_retry_after)
                            .unwrap_or(Duration::from_secs(1))
                            .min(Duration::from_secs(
                                self.client.inner.config.max_retry_after_secs,
                            ));
                        if response.status == 429 {
                            self.budget.throttled(asked);
                        }
                        wait = wait.max(asked);
                        throttled.push(index);
                        continue;
                    }
                    results[index] = Some(if (200..300).contains(&response.status) {
                        Ok(response.body.unwrap_or(serde_json::Value::Null))
                    } else {
                        let body = response.body.map(|b| b.to_string()).unwrap_or_default();
                        Err(parse_graph_error(response.status, body.as_bytes()))
                    });
                }
            }
            pending = throttled;
            if !pending.is_empty() {
                round += 1;
                METRICS.graph_wait();
                tokio::time::sleep(wait + jitter()).await;
            }
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(GraphError::Decode(
                        "$batch left a request unanswered".into(),
                    ))
                })
            })
            .collect())
    }

    /// PUTs one byte range of an attachment to a pre-authenticated upload URL, under the
    /// mailbox's budget and without an Authorization header
    /// (https://learn.microsoft.com/en-us/graph/outlook-large-attachments). 429 and 503 wait
    /// and try again; a transport error is not retried, since the range may have arrived.
    pub(super) async fn put_range(
        &self,
        url: &str,
        start: u64,
        total: u64,
        chunk: Bytes,
    ) -> Result<(StatusCode, Bytes), GraphError> {
        let inner = &self.client.inner;
        let end = start + (chunk.len() as u64).saturating_sub(1);
        let cost = Cost::one(chunk.len() as u64);
        let mut attempt = 0u32;
        loop {
            let request = inner
                .http
                .put(url)
                .header(
                    reqwest::header::CONTENT_RANGE,
                    format!("bytes {start}-{end}/{total}"),
                )
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(chunk.clone());
            let outcome = self.send_limited(request, cost).await?;
            match outcome {
                Ok((status, _, body)) if status.is_success() => return Ok((status, body)),
                Ok((status, retry_after, _))
                    if matches!(status.as_u16(), 429 | 503)
                        && attempt < inner.config.max_retries =>
                {
                    let delay = retry_after
                        .unwrap_or_else(|| backoff(attempt))
                        .min(Duration::from_secs(inner.config.max_retry_after_secs));
                    if status.as_u16() == 429 {
                        self.budget.throttled(delay);
                    }
                    attempt += 1;
                    METRICS.graph_wait();
                    tokio::time::sleep(delay).await;
                }
                Ok((status, _, body)) => return Err(parse_graph_error(status.as_u16(), &body)),
                Err(description) => return Err(GraphError::Unavailable(description)),
            }
        }
    }

    /// Sends one request once the mailbox's budget lets it go, holding its slots in flight
    /// (released before any retry's wait), and reads its status, `Retry-After` and body. `Err`
    /// when the gateway is stopping or Graph asked the mailbox to wait longer than the gateway
    /// waits; a transport failure is the inner `Err`, described without its URL.
    async fn send_limited(
        &self,
        request: reqwest::RequestBuilder,
        cost: Cost,
    ) -> Result<Result<(StatusCode, Option<Duration>, Bytes), String>, GraphError> {
        let _permit = self.budget.admit(cost).await?;
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                match response.bytes().await {
                    Ok(body) => Ok((status, retry_after, body)),
                    Err(err) => Err(describe_transport_error(&err)),
                }
            }
            Err(err) => Err(describe_transport_error(&err)),
        };
        match &outcome {
            Ok((status, _, _)) => METRICS.graph_answer(status.as_u16()),
            Err(_) => METRICS.graph_transport_error(),
        }
        Ok(outcome)
    }

    /// Sends one request under the mailbox's budget, with the retry policy of this module.
    pub(super) async fn execute(
        &self,
        spec: RequestSpec,
    ) -> Result<(StatusCode, Bytes), GraphError> {
        self.execute_counted(spec, 1).await
    }

    /// [`execute`](Self::execute) for a request Outlook counts as `requests` (a `$batch`).
    async fn execute_counted(
        &self,
        spec: RequestSpec,
        requests: u32,
    ) -> Result<(StatusCode, Bytes), GraphError> {
        let inner = &self.client.inner;
        // The body is made once: its size is what the upload budget is charged.
        let json_body = match &spec.json {
            Some(json) => Some(Bytes::from(
                serde_json::to_vec(json).map_err(|err| GraphError::Decode(err.to_string()))?,
            )),
            None => None,
        };
        let cost = Cost {
            requests,
            upload_bytes: json_body.as_ref().map_or(0, Bytes::len) as u64
                + spec.text.as_ref().map_or(0, String::len) as u64,
        };
        let mut refreshed_token = false;
        let mut attempt = 0u32;
        loop {
            let credentials = self.credentials();
            let token = inner.tokens.token(&credentials).await?;
            let mut request = inner
                .http
                .request(spec.method.clone(), &spec.url)
                .bearer_auth(token.expose())
                .header("Prefer", IMMUTABLE_IDS);
            if let Some(prefer) = &spec.extra_prefer {
                request = request.header("Prefer", prefer);
            }
            if let Some(json) = &json_body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(json.clone());
            }
            if let Some(text) = &spec.text {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "text/plain")
                    .body(text.clone());
            }
            let outcome = self.send_limited(request, cost).await?;
            match outcome {
                Ok((status, _, body)) if status.is_success() => return Ok((status, body)),
                Ok((StatusCode::UNAUTHORIZED, _, _)) if !refreshed_token => {
                    refreshed_token = true;
                    inner.tokens.invalidate(&credentials).await;
                }
                Ok((status, retry_after, body)) if matches!(status.as_u16(), 429 | 503 | 504) => {
                    if attempt >= inner.config.max_retries {
                        return Err(GraphError::Unavailable(format!(
                            "Graph answered {status} {} times",
                            attempt + 1
                        )));
                    }
                    let delay = retry_after.unwrap_or_else(|| backoff(attempt));
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        // Every request counts, the refused ones too: the mailbox's others
                        // wait out the same Retry-After rather than add to the count.
                        self.budget.throttled(delay);
                    }
                    if delay > Duration::from_secs(inner.config.max_retry_after_secs) {
                        let err = parse_graph_error(status.as_u16(), &body);
                        return Err(GraphError::Unavailable(format!(
                            "throttled for {:.1} s: {err}",
                            delay.as_secs_f64()
                        )));
                    }
                    tracing::debug!(mailbox = %self.mailbox, status = status.as_u16(), delay_ms = delay.as_millis() as u64, "Graph asked to wait");
                    METRICS.graph_wait();
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                Ok((status, _, body)) => return Err(parse_graph_error(status.as_u16(), &body)),
                Err(description) => {
                    if !spec.idempotent || attempt >= inner.config.max_retries {
                        return Err(GraphError::Unavailable(description));
                    }
                    tracing::debug!(mailbox = %self.mailbox, error = %description, "Graph request failed; retrying");
                    let delay = backoff(attempt);
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// The entries of one delta round's pages, merged as `MailboxGraph::delta_round` reads them:
/// per item id, in the order items first appear, later properties over earlier ones, a removal
/// ending what came before it. Public (doc-hidden) for the `graph_json` fuzz target.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct DeltaMerge {
    latest: HashMap<String, Option<serde_json::Map<String, serde_json::Value>>>,
    order: Vec<String>,
}

impl DeltaMerge {
    /// Takes the `value` entries of one page.
    pub fn add_page(&mut self, entries: Vec<serde_json::Value>) -> Result<(), GraphError> {
        for entry in entries {
            let serde_json::Value::Object(entry) = entry else {
                return Err(GraphError::Decode("a delta entry is not an object".into()));
            };
            let id = entry
                .get("id")
                .and_then(|v| v.as_str())
                .ok_or_else(|| GraphError::Decode("a delta entry without an id".into()))?
                .to_string();
            let item = if entry.contains_key("@removed") {
                None
            } else {
                // Kept in place (not taken out), so an id named again is not listed again:
                // listed twice, it was both changed and removed in the round.
                match self.latest.get(&id) {
                    Some(Some(known)) => {
                        let mut merged = known.clone();
                        merged.extend(entry);
                        Some(merged)
                    }
                    _ => Some(entry),
                }
            };
            if self.latest.insert(id.clone(), item).is_none() {
                self.order.push(id);
            }
        }
        Ok(())
    }

    /// The round: each item read as `T` once merged, or its id among the removed.
    pub fn finish<T: DeserializeOwned>(
        mut self,
        delta_link: String,
    ) -> Result<DeltaRound<T>, GraphError> {
        let mut round = DeltaRound {
            changed: Vec::new(),
            removed: Vec::new(),
            delta_link,
        };
        for id in self.order {
            match self.latest.remove(&id).flatten() {
                Some(entry) => round.changed.push(
                    serde_json::from_value(serde_json::Value::Object(entry))
                        .map_err(|err| GraphError::Decode(format!("delta entry: {err}")))?,
                ),
                None => round.removed.push(id),
            }
        }
        Ok(round)
    }
}

/// `$select` and `$expand` of a message as the gateway reads it (PR_LAST_VERB_EXECUTED included;
/// the message-delta page says delta supports `$select`, `$top` and `$expand` for messages).
fn message_query() -> String {
    let expand = encode(&format!(
        "singleValueExtendedProperties($filter=id eq '{LAST_VERB_PROPERTY}')"
    ));
    format!("$select={MESSAGE_SELECT}&$expand={expand}")
}

/// `$batch` answers read as `T`; `what` names it in a decoding error.
#[doc(hidden)]
pub fn decode_answers<T: DeserializeOwned>(
    answers: Vec<Result<serde_json::Value, GraphError>>,
    what: &str,
) -> Vec<Result<T, GraphError>> {
    answers
        .into_iter()
        .map(|answer| {
            serde_json::from_value(answer?)
                .map_err(|err| GraphError::Decode(format!("{what} answer: {err}")))
        })
        .collect()
}

/// `Retry-After` as seconds (Graph may send fractions such as `1.5`).
#[doc(hidden)]
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// Exponential backoff with full jitter: up to 0.2 s, 0.4 s, 0.8 s … capped at 5 s.
fn backoff(attempt: u32) -> Duration {
    let ceiling = (200u64 << attempt.min(5)).min(5_000);
    Duration::from_millis(fastrand::u64(ceiling / 2..=ceiling))
}

fn jitter() -> Duration {
    Duration::from_millis(fastrand::u64(0..250))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_named_again_in_a_round_is_changed_or_removed_never_both() {
        let mut merge = DeltaMerge::default();
        merge
            .add_page(vec![
                serde_json::json!({"id": "moved-back", "@removed": {"reason": "changed"}}),
                serde_json::json!({"id": "patched", "isRead": true}),
                serde_json::json!({"id": "moved-back", "isRead": false}),
                serde_json::json!({"id": "gone", "isRead": true}),
            ])
            .unwrap();
        merge
            .add_page(vec![
                serde_json::json!({"id": "patched", "categories": ["Blue"]}),
                serde_json::json!({"id": "gone", "@removed": {"reason": "deleted"}}),
            ])
            .unwrap();
        let round = merge
            .finish::<crate::graph::model::MessageSummary>("link".into())
            .unwrap();
        let changed: Vec<(&str, Option<bool>, Option<usize>)> = round
            .changed
            .iter()
            .map(|m| {
                (
                    m.id.as_str(),
                    m.is_read,
                    m.categories.as_ref().map(Vec::len),
                )
            })
            .collect();
        assert_eq!(
            changed,
            vec![
                ("moved-back", Some(false), None),
                ("patched", Some(true), Some(1))
            ]
        );
        assert_eq!(round.removed, vec!["gone".to_string()]);
    }

    #[test]
    fn retry_after_takes_fractions() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 1.5 "),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode("alice@contoso.example"), "alice%40contoso.example");
        assert_eq!(encode("AAMk/a+b=="), "AAMk%2Fa%2Bb%3D%3D");
        assert_eq!(encode("../x?y#z"), "..%2Fx%3Fy%23z");
    }

    #[test]
    fn backoff_is_bounded() {
        for attempt in 0..20 {
            assert!(backoff(attempt) <= Duration::from_secs(5));
        }
    }
}
