//! JSON batching: `POST /$batch` with up to 20 requests, each run through the same path as
//! a direct request (own role check, throttling, faults and stats), `dependsOn` ordering
//! with 424 for a failed dependency, JSON or base64 bodies. Owns the batch envelope.
//!
//! Docs: <https://learn.microsoft.com/graph/json-batching> — up to 20 requests; each has a
//! required `id` (string, case-insensitive, unique in the batch, else the whole batch fails
//! with 400), `method`, relative `url`, optional `headers` (required with `body`, which must
//! then carry Content-Type) and `body` (a JSON object or a base64 URL-encoded value);
//! responses carry `id`, `status`, `headers`, `body`, possibly in another order; a request
//! whose dependency fails gets 424 (Failed Dependency); non-JSON response bodies are
//! base64-encoded. The exact message for 21+ requests is not documented; we answer 400
//! BadRequest naming the limit.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use base64::Engine;
use serde_json::{json, Value};

use super::errors::GraphError;
use super::{error_response, resolve, serve_one, GraphRequest, GraphResponse, RespBody};
use crate::identity::{uuid_like, TokenClaims};
use crate::Emulator;

pub(crate) const MAX_REQUESTS: usize = 20;

struct Entry {
    id: String,
    depends_on: Vec<String>,
    req: Result<GraphRequest, GraphError>,
}

fn parse_entry(outer: &GraphRequest, v: &Value) -> Result<Entry, GraphError> {
    let id = match v.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(GraphError::bad_request(
                "Invalid batch payload format: each request needs a string 'id'.",
            ))
        }
    };
    let depends_on: Vec<String> = match v.get("dependsOn") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|d| d.as_str().map(|s| s.to_string()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| GraphError::bad_request("dependsOn must be an array of ids."))?,
        Some(_) => {
            return Err(GraphError::bad_request(
                "dependsOn must be an array of ids.",
            ))
        }
    };
    let req = (|| {
        let method = v
            .get("method")
            .and_then(|m| m.as_str())
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| GraphError::bad_request("Each request needs a valid 'method'."))?;
        let url = v
            .get("url")
            .and_then(|u| u.as_str())
            .ok_or_else(|| GraphError::bad_request("Each request needs a relative 'url'."))?;
        if url.contains("://") {
            return Err(GraphError::bad_request(
                "Batch request urls must be relative to the version, e.g. /users/{id}/messages.",
            ));
        }
        let url = url.trim_start_matches('/');
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (format!("/{p}"), Some(q.to_string())),
            None => (format!("/{url}"), None),
        };
        let mut headers = HeaderMap::new();
        if let Some(auth) = outer.headers.get("authorization") {
            headers.insert("authorization", auth.clone());
        }
        let mut content_type = None;
        if let Some(Value::Object(h)) = v.get("headers") {
            for (k, val) in h {
                let Some(s) = val.as_str() else { continue };
                if k.eq_ignore_ascii_case("content-type") {
                    content_type = Some(s.to_ascii_lowercase());
                }
                if let (Ok(n), Ok(hv)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(s),
                ) {
                    headers.append(n, hv);
                }
            }
        }
        // An outer Prefer applies to no sub-request by itself; each entry carries its own.
        let body = match v.get("body") {
            None | Some(Value::Null) => Bytes::new(),
            Some(b) => {
                let ct = content_type.ok_or_else(|| {
                    GraphError::bad_request(
                        "Content-Type header must be specified when a request has a body.",
                    )
                })?;
                if ct.starts_with("application/json") {
                    Bytes::from(b.to_string())
                } else {
                    let s = b.as_str().ok_or_else(|| {
                        GraphError::bad_request("A non-JSON body must be a base64 string.")
                    })?;
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
                        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s))
                        .map_err(|_| GraphError::bad_request("The body is not valid base64."))?;
                    Bytes::from(decoded)
                }
            }
        };
        Ok(GraphRequest {
            method,
            path,
            query,
            headers,
            body,
            base: outer.base.clone(),
        })
    })();
    Ok(Entry {
        id,
        depends_on,
        req,
    })
}

fn to_json(id: &str, resp: GraphResponse) -> Value {
    let mut headers = serde_json::Map::new();
    for (k, v) in &resp.headers {
        headers.insert(k.clone(), json!(v));
    }
    let body = match resp.body {
        RespBody::Json(v) => {
            headers.insert("Content-Type".into(), json!(super::JSON_CT));
            Some(v)
        }
        RespBody::Bytes { content_type, data } => {
            headers.insert("Content-Type".into(), json!(content_type));
            Some(json!(
                base64::engine::general_purpose::STANDARD.encode(&data)
            ))
        }
        RespBody::Empty => None,
    };
    let mut o = serde_json::Map::new();
    o.insert("id".into(), json!(id));
    o.insert("status".into(), json!(resp.status.as_u16()));
    o.insert("headers".into(), Value::Object(headers));
    if let Some(b) = body {
        o.insert("body".into(), b);
    }
    Value::Object(o)
}

pub(crate) async fn handle(
    emu: &Emulator,
    outer: &GraphRequest,
    claims: &TokenClaims,
) -> GraphResponse {
    let rid = uuid_like();
    let fail = |e: GraphError| error_response(&e, &rid, &rid);
    if !outer
        .header("content-type")
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
    {
        // json-batching: "Content-Type: application/json" on the batch request.
        return fail(GraphError::new(
            415,
            "UnsupportedMediaType",
            "A $batch request must be sent as application/json.",
        ));
    }
    let body: Value = match serde_json::from_slice(&outer.body) {
        Ok(v) => v,
        Err(_) => return fail(GraphError::bad_request("Invalid batch payload format.")),
    };
    let Some(list) = body.get("requests").and_then(|r| r.as_array()) else {
        return fail(GraphError::bad_request(
            "Invalid batch payload format: 'requests' is required.",
        ));
    };
    if list.len() > MAX_REQUESTS {
        return fail(GraphError::bad_request(format!(
            "Invalid batch payload format: the number of requests ({}) exceeds the limit of {MAX_REQUESTS}.",
            list.len()
        )));
    }
    let mut entries = Vec::new();
    for v in list {
        match parse_entry(outer, v) {
            Ok(e) => entries.push(e),
            Err(e) => return fail(e),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for e in &entries {
        if !seen.insert(e.id.to_ascii_lowercase()) {
            return fail(GraphError::bad_request(format!(
                "Invalid batch payload format: duplicate request id '{}'.",
                e.id
            )));
        }
    }
    for e in &entries {
        for d in &e.depends_on {
            if !seen.contains(&d.to_ascii_lowercase()) || d.eq_ignore_ascii_case(&e.id) {
                return fail(GraphError::bad_request(format!(
                    "Invalid batch payload format: request '{}' depends on unknown request '{d}'.",
                    e.id
                )));
            }
        }
    }
    // "Batch should be either fully sequential or fully parallel" (json-batching): a batch
    // where some entries after the first have dependsOn and others don't is refused
    // (stricter reading; the page does not say what Graph answers).
    let with_deps = entries.iter().filter(|e| !e.depends_on.is_empty()).count();
    if with_deps > 0 && with_deps + 1 < entries.len() {
        return fail(GraphError::bad_request(
            "Invalid batch payload format: a batch must be fully sequential (every request after the first has dependsOn) or fully parallel (none has).",
        ));
    }
    // Run in waves: up to four entries whose dependencies are done run at once, as "Microsoft
    // Graph sends the Outlook service up to four individual requests from the batch at a
    // time" (https://learn.microsoft.com/graph/throttling-limits, Outlook service limits; also
    // https://learn.microsoft.com/answers/questions/1660054/), and "requests in a batch are
    // evaluated individually against the applicable throttling limits" (json-batching): each
    // entry takes a MailboxConcurrency slot of its own and can get its own 429.
    let mut status: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    let mut pending: Vec<Entry> = entries;
    while !pending.is_empty() {
        let mut wave = Vec::new();
        let mut i = 0;
        while i < pending.len() && wave.len() < 4 {
            let ready = pending[i]
                .depends_on
                .iter()
                .all(|d| status.contains_key(&d.to_ascii_lowercase()));
            if ready {
                wave.push(pending.remove(i));
            } else {
                i += 1;
            }
        }
        if wave.is_empty() {
            return fail(GraphError::bad_request(
                "Invalid batch payload format: dependsOn forms a cycle.",
            ));
        }
        let mut set = tokio::task::JoinSet::new();
        for (n, e) in wave.into_iter().enumerate() {
            let failed_dep = e.depends_on.iter().any(|d| {
                status
                    .get(&d.to_ascii_lowercase())
                    .is_some_and(|s| *s >= 400)
            });
            let emu = emu.clone();
            let claims = claims.clone();
            set.spawn(async move {
                let resp = run_entry(&emu, e.req, &claims, failed_dep).await;
                (n, e.id, resp)
            });
        }
        let mut done = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(x) => done.push(x),
                Err(_) => {
                    return fail(GraphError::new(
                        500,
                        "InternalServerError",
                        "A batch entry failed.",
                    ))
                }
            }
        }
        done.sort_by_key(|(n, _, _)| *n);
        for (_, id, resp) in done {
            status.insert(id.to_ascii_lowercase(), resp.status.as_u16());
            responses.push(to_json(&id, resp));
        }
    }
    // json-batching: the id "allows the server to process requests in the batch in the most
    // efficient order", and responses are matched by id; we answer in reverse order so that a
    // client matching by position rather than by id fails here and not in production.
    responses.reverse();
    GraphResponse::json(200, json!({ "responses": responses }))
}

async fn run_entry(
    emu: &Emulator,
    req: Result<GraphRequest, GraphError>,
    claims: &TokenClaims,
    failed_dep: bool,
) -> GraphResponse {
    let sub_rid = uuid_like();
    if failed_dep {
        return error_response(
            &GraphError::new(
                424,
                "BadRequest",
                "Failed dependency: a request this one depends on failed.",
            ),
            &sub_rid,
            &sub_rid,
        );
    }
    match req {
        Err(err) => error_response(&err, &sub_rid, &sub_rid),
        Ok(req) => {
            let resolved = resolve(&req.method, &req.path);
            let template = super::stats_route(&resolved.template, req.query.as_deref());
            let crid = req
                .header("client-request-id")
                .map(|s| s.to_string())
                .unwrap_or_else(|| sub_rid.clone());
            let r = serve_one(emu, &req, claims, resolved, &sub_rid, &crid, None).await;
            emu.inner.stats.record(&template, r.status.as_u16(), true);
            r
        }
    }
}
