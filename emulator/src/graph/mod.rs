//! The Graph v1.0 surface: one entry point that authenticates a request, resolves its path
//! to an operation (or a 501 naming it), applies throttling and faults, runs it against the
//! store and records it in the stats. `$batch` sub-requests go through the same path.
//! Owns `GraphRequest`, `GraphResponse`, route resolution and the per-request context.

pub(crate) mod attachments;
pub(crate) mod batch;
pub(crate) mod delta;
pub(crate) mod errors;
pub(crate) mod folders;
pub(crate) mod messages;
pub(crate) mod odata;
pub(crate) mod write;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::identity::{self, TokenClaims};
use crate::Emulator;
use errors::GraphError;
use odata::{Prefer, Query};

/// A Graph request, from HTTP or from a `$batch` entry.
#[derive(Clone, Debug)]
pub(crate) struct GraphRequest {
    pub method: Method,
    /// Raw (still percent-encoded) path after `/v1.0`, starting with '/'.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `http://host:port/v1.0`, for absolute links.
    pub base: String,
}

impl GraphRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

#[derive(Clone, Debug)]
pub(crate) enum RespBody {
    Json(Value),
    Bytes { content_type: String, data: Bytes },
    Empty,
}

#[derive(Clone, Debug)]
pub(crate) struct GraphResponse {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: RespBody,
}

impl GraphResponse {
    pub fn json(status: u16, v: Value) -> GraphResponse {
        GraphResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            headers: Vec::new(),
            body: RespBody::Json(v),
        }
    }
}

/// Everything an operation needs to know about its request.
pub(crate) struct Ctx<'a> {
    pub req: &'a GraphRequest,
    pub claims: &'a TokenClaims,
    pub query: Query,
    pub prefer: Prefer,
    /// The mailbox path segment as given (UPN or GUID), decoded.
    pub user_segment: String,
}

impl Ctx<'_> {
    pub fn immutable(&self) -> bool {
        self.prefer.immutable_ids
    }
    /// The raw path, for nextLinks.
    pub fn path(&self) -> &str {
        &self.req.path
    }
}

/// The operations the emulator serves. Each names its route template for stats.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    GetUser,
    ListRootFolders,
    CreateRootFolder,
    GetFolder(String),
    PatchFolder(String),
    MoveFolder(String),
    DeleteFolder(String),
    ListChildFolders(String),
    CreateChildFolder(String),
    FolderDelta,
    ListFolderMessages(String),
    CreateFolderMessage(String),
    MessageDelta(String),
    ListMessages,
    CreateMessage,
    GetMessage(String),
    GetMessageValue(String),
    PatchMessage(String),
    DeleteMessage(String),
    MoveMessage(String),
    CopyMessage(String),
    PermanentDelete(String),
    SendDraft(String),
    ListAttachments(String),
    GetAttachment(String, String),
    GetAttachmentValue(String, String),
    AddAttachment(String),
    DeleteAttachment(String, String),
    CreateUploadSession(String),
    SendMail,
}

pub(crate) struct Resolved {
    pub template: String,
    pub user: Option<String>,
    pub op: Result<Op, GraphError>,
    /// `/mailFolders/{id}/messages/{id}…`: the message must be in that folder.
    pub folder_scope: Option<String>,
}

fn decode(seg: &str) -> String {
    percent_decode_str(seg).decode_utf8_lossy().into_owned()
}

/// The route under which a request is counted in the stats: its template, and for a delta
/// function the kind of round page (`?$deltatoken` resumes a round, `?$skiptoken` continues
/// one, neither starts from scratch), so tests can tell a resumed sync from a full one.
pub(crate) fn stats_route(template: &str, query: Option<&str>) -> String {
    if !template.ends_with("/delta") {
        return template.to_string();
    }
    let has = |name: &str| {
        query.is_some_and(|q| {
            q.split('&').any(|pair| {
                let key = pair.split('=').next().unwrap_or("");
                percent_decode_str(key).decode_utf8_lossy() == name
            })
        })
    };
    if has("$deltatoken") {
        format!("{template}?$deltatoken")
    } else if has("$skiptoken") {
        format!("{template}?$skiptoken")
    } else {
        template.to_string()
    }
}

/// Maps a path to an operation. The template replaces ids with `{id}`.
pub(crate) fn resolve(method: &Method, path: &str) -> Resolved {
    let segs: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    // Template: an id follows a collection segment.
    let mut tpl = String::new();
    let mut prev_collection = false;
    for s in &segs {
        tpl.push('/');
        if prev_collection {
            tpl.push_str("{id}");
            prev_collection = false;
        } else {
            tpl.push_str(s);
            prev_collection = matches!(
                *s,
                "users" | "mailFolders" | "childFolders" | "messages" | "attachments"
            );
        }
    }
    // `messages/delta` and `mailFolders/delta` are functions, not ids.
    let template = format!("{} {}", method.as_str(), fix_delta_template(&segs, tpl));
    let not_impl = |t: &str| Err(GraphError::not_implemented(t));
    if segs.first() == Some(&"me") {
        return Resolved {
            template,
            user: None,
            // "/me request is only valid with delegated authentication flow." (400 BadRequest,
            // quoted in https://github.com/microsoftgraph/msgraph-sdk-php/issues/1163; see
            // https://learn.microsoft.com/graph/auth-v2-service: app-only calls use /users/{id}).
            op: Err(GraphError::bad_request(
                "/me request is only valid with delegated authentication flow.",
            )),
            folder_scope: None,
        };
    }
    if segs.first() == Some(&"users") && segs.len() == 2 && *method == Method::GET {
        return Resolved {
            template,
            user: Some(decode(segs[1])),
            op: Ok(Op::GetUser),
            folder_scope: None,
        };
    }
    if segs.first() != Some(&"users") || segs.len() < 3 {
        let op = not_impl(&template);
        return Resolved {
            template,
            user: None,
            op,
            folder_scope: None,
        };
    }
    let user = decode(segs[1]);
    let rest: Vec<String> = segs[2..].iter().map(|s| decode(s)).collect();
    let r: Vec<&str> = rest.iter().map(|s| s.as_str()).collect();
    use Method as M;
    let m = method.clone();
    let op = match (m, r.as_slice()) {
        (M::GET, ["mailFolders"]) => Ok(Op::ListRootFolders),
        (M::POST, ["mailFolders"]) => Ok(Op::CreateRootFolder),
        (M::GET, ["mailFolders", "delta"]) => Ok(Op::FolderDelta),
        (M::GET, ["mailFolders", f]) => Ok(Op::GetFolder(f.to_string())),
        (M::PATCH, ["mailFolders", f]) => Ok(Op::PatchFolder(f.to_string())),
        (M::DELETE, ["mailFolders", f]) => Ok(Op::DeleteFolder(f.to_string())),
        (M::POST, ["mailFolders", f, "move"]) => Ok(Op::MoveFolder(f.to_string())),
        (M::GET, ["mailFolders", f, "childFolders"]) => Ok(Op::ListChildFolders(f.to_string())),
        (M::POST, ["mailFolders", f, "childFolders"]) => Ok(Op::CreateChildFolder(f.to_string())),
        (M::GET, ["mailFolders", f, "messages"]) => Ok(Op::ListFolderMessages(f.to_string())),
        (M::POST, ["mailFolders", f, "messages"]) => Ok(Op::CreateFolderMessage(f.to_string())),
        (M::GET, ["mailFolders", f, "messages", "delta"]) => Ok(Op::MessageDelta(f.to_string())),
        (M::GET, ["messages"]) => Ok(Op::ListMessages),
        (M::POST, ["messages"]) => Ok(Op::CreateMessage),
        (M::POST, ["sendMail"]) => Ok(Op::SendMail),
        (m, ["mailFolders", _, "messages", id, tail @ ..]) | (m, ["messages", id, tail @ ..]) => {
            let id = id.to_string();
            match (m, tail) {
                (M::GET, []) => Ok(Op::GetMessage(id)),
                (M::GET, ["$value"]) => Ok(Op::GetMessageValue(id)),
                (M::PATCH, []) => Ok(Op::PatchMessage(id)),
                (M::DELETE, []) => Ok(Op::DeleteMessage(id)),
                (M::POST, ["move"]) => Ok(Op::MoveMessage(id)),
                (M::POST, ["copy"]) => Ok(Op::CopyMessage(id)),
                (M::POST, ["permanentDelete"]) => Ok(Op::PermanentDelete(id)),
                (M::POST, ["send"]) => Ok(Op::SendDraft(id)),
                (M::GET, ["attachments"]) => Ok(Op::ListAttachments(id)),
                (M::POST, ["attachments"]) => Ok(Op::AddAttachment(id)),
                (M::GET, ["attachments", a]) => Ok(Op::GetAttachment(id, a.to_string())),
                (M::DELETE, ["attachments", a]) => Ok(Op::DeleteAttachment(id, a.to_string())),
                (M::GET, ["attachments", a, "$value"]) => {
                    Ok(Op::GetAttachmentValue(id, a.to_string()))
                }
                (M::POST, ["attachments", "createUploadSession"]) => {
                    Ok(Op::CreateUploadSession(id))
                }
                _ => not_impl(&template),
            }
        }
        _ => not_impl(&template),
    };
    let folder_scope = match r.as_slice() {
        ["mailFolders", f, "messages", m, ..] if *m != "delta" => Some(f.to_string()),
        _ => None,
    };
    Resolved {
        template,
        user: Some(user),
        op,
        folder_scope,
    }
}

fn fix_delta_template(segs: &[&str], tpl: String) -> String {
    if segs.last() == Some(&"delta") {
        let mut t = tpl;
        if let Some(stripped) = t.strip_suffix("/{id}") {
            t = format!("{stripped}/delta");
        }
        t
    } else if segs.len() >= 2
        && segs[segs.len() - 2] == "attachments"
        && segs.last() == Some(&"createUploadSession")
    {
        tpl.replace("attachments/{id}", "attachments/createUploadSession")
    } else {
        tpl
    }
}

/// Roles an operation needs (any one of them).
/// <https://learn.microsoft.com/graph/api/user-list-messages> and the other method pages'
/// "Permissions" tables: reads need Mail.Read or Mail.ReadWrite (folders also
/// Mail.ReadBasic.All), writes Mail.ReadWrite, sending Mail.Send.
fn roles_for(op: &Op) -> &'static [&'static str] {
    const READ: &[&str] = &["Mail.Read", "Mail.ReadWrite"];
    const READ_BASIC: &[&str] = &["Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"];
    const WRITE: &[&str] = &["Mail.ReadWrite"];
    const SEND: &[&str] = &["Mail.Send"];
    match op {
        // https://learn.microsoft.com/graph/api/user-get: User.Read.All (or higher).
        Op::GetUser => &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"],
        Op::ListRootFolders | Op::GetFolder(_) | Op::ListChildFolders(_) | Op::FolderDelta => {
            READ_BASIC
        }
        Op::ListFolderMessages(_)
        | Op::ListMessages
        | Op::MessageDelta(_)
        | Op::GetMessage(_)
        | Op::GetMessageValue(_)
        | Op::ListAttachments(_)
        | Op::GetAttachment(_, _)
        | Op::GetAttachmentValue(_, _) => READ,
        Op::SendMail | Op::SendDraft(_) => SEND,
        _ => WRITE,
    }
}

/// Serves one Graph request end to end (except `$batch`, see [`batch`]).
/// `hold` receives the throttling permit, so the caller can keep the request "in flight"
/// until its body has been sent (slow bodies count against MailboxConcurrency).
pub(crate) async fn handle(
    emu: &Emulator,
    req: GraphRequest,
    hold: &mut Option<crate::throttle::Permit>,
) -> GraphResponse {
    let request_id = identity::uuid_like();
    let client_request_id = req
        .header("client-request-id")
        .map(|s| s.to_string())
        .unwrap_or_else(|| request_id.clone());
    let is_batch = req.path.trim_end_matches('/') == "/$batch";
    let resolved = if is_batch {
        Resolved {
            template: format!("{} /$batch", req.method.as_str()),
            user: None,
            op: Err(GraphError::not_implemented("$batch")),
            folder_scope: None,
        }
    } else {
        resolve(&req.method, &req.path)
    };
    let template = stats_route(&resolved.template, req.query.as_deref());
    let resp = match authenticate(emu, &req) {
        Err(e) => error_response(&e, &request_id, &client_request_id),
        Ok(claims) => {
            if is_batch {
                if req.method == Method::POST {
                    batch::handle(emu, &req, &claims).await
                } else {
                    error_response(
                        &GraphError::new(405, "BadRequest", "$batch only accepts POST."),
                        &request_id,
                        &client_request_id,
                    )
                }
            } else {
                serve_one(
                    emu,
                    &req,
                    &claims,
                    resolved,
                    &request_id,
                    &client_request_id,
                    Some(hold),
                )
                .await
            }
        }
    };
    emu.inner
        .stats
        .record(&template, resp.status.as_u16(), false);
    // Route template and status only: never the Authorization header or a body.
    tracing::debug!(route = %template, status = resp.status.as_u16(), request_id = %request_id, "emulated Graph request");
    finish(resp, &request_id, &client_request_id)
}

/// Runs a resolved operation with an authenticated token: role check, mailbox lookup,
/// throttling and faults, then the operation. Used for direct requests and batch entries.
pub(crate) async fn serve_one(
    emu: &Emulator,
    req: &GraphRequest,
    claims: &TokenClaims,
    resolved: Resolved,
    request_id: &str,
    client_request_id: &str,
    hold: Option<&mut Option<crate::throttle::Permit>>,
) -> GraphResponse {
    let template = resolved.template.clone();
    let op = match resolved.op {
        Ok(op) => op,
        Err(e) => return error_response(&e, request_id, client_request_id),
    };
    if !roles_for(&op)
        .iter()
        .any(|r| claims.roles.iter().any(|c| c.eq_ignore_ascii_case(r)))
    {
        return error_response(&GraphError::access_denied(), request_id, client_request_id);
    }
    let user_segment = resolved.user.unwrap_or_default();
    // Resolve the mailbox and check it belongs to the token's tenant.
    let mailbox = {
        let store = emu.inner.store.lock().unwrap_or_else(|e| e.into_inner());
        store.mailbox_key(&user_segment)
    };
    let Some(mailbox) = mailbox.filter(|mb| emu.tenant_owns(&claims.tenant_id, mb)) else {
        if emu.user_without_mailbox(&claims.tenant_id, &user_segment) {
            if let Op::GetUser = op {
                let upn = user_segment.to_ascii_lowercase();
                return GraphResponse::json(
                    200,
                    serde_json::json!({
                        "@odata.context": format!("{}/$metadata#users/$entity", req.base),
                        "id": crate::ids::guid(&[b"user", upn.as_bytes()]),
                        "displayName": upn.split('@').next().unwrap_or(""),
                        "mail": null,
                        "userPrincipalName": upn,
                    }),
                );
            }
            // "The mailbox is either inactive, soft-deleted, or is hosted on-premise." (quoted
            // in https://github.com/iyear/E5SubBot/issues/39; a 404 per
            // https://github.com/O365/python-o365/issues/438). Not in the reference pages.
            return error_response(
                &GraphError::new(
                    404,
                    "MailboxNotEnabledForRESTAPI",
                    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
                ),
                request_id,
                client_request_id,
            );
        }
        return error_response(
            &GraphError::invalid_user(&user_segment),
            request_id,
            client_request_id,
        );
    };
    emu.inner.stats.record_mailbox(&mailbox);
    let query = match odata::parse(req.query.as_deref()) {
        Ok(q) => q,
        Err(e) => return error_response(&e, request_id, client_request_id),
    };
    let prefer = odata::parse_prefer(&req.header_all("prefer"));
    // Throttling per (application, mailbox), then injected faults.
    let mut guard = match emu.admit(&claims.app_id, &mailbox, req.body.len() as u64) {
        Ok(g) => Some(g),
        Err(e) => return error_response(&e, request_id, client_request_id),
    };
    if let Some(e) = emu.injected_fault(&template).await {
        return error_response(&e, request_id, client_request_id);
    }
    let ctx = Ctx {
        req,
        claims,
        query,
        prefer,
        user_segment,
    };
    let result = run(emu, &ctx, &mailbox, op, resolved.folder_scope.as_deref());
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => error_response(&e, request_id, client_request_id),
    };
    if ctx.prefer.immutable_ids {
        // The page (https://learn.microsoft.com/graph/outlook-immutable-id) does not say
        // whether Graph acknowledges the preference; RFC 7240 §3 says a server SHOULD list
        // applied preferences in Preference-Applied, so we do (merged with maxpagesize).
        add_preference(&mut resp, "IdType=\"ImmutableId\"");
    }
    if let Some(t) = ctx.prefer.body_content_type {
        // https://learn.microsoft.com/graph/api/user-list-messages: bodies come as HTML
        // unless `Prefer: outlook.body-content-type="text"`; the applied value is echoed.
        add_preference(&mut resp, &format!("outlook.body-content-type=\"{t}\""));
    }
    if let Some(h) = hold {
        *h = guard.take();
    }
    drop(guard);
    resp
}

pub(crate) fn add_preference(resp: &mut GraphResponse, pref: &str) {
    if let Some((_, v)) = resp
        .headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("Preference-Applied"))
    {
        v.push_str(", ");
        v.push_str(pref);
    } else {
        resp.headers
            .push(("Preference-Applied".to_string(), pref.to_string()));
    }
}

fn run(
    emu: &Emulator,
    ctx: &Ctx<'_>,
    mailbox: &str,
    op: Op,
    folder_scope: Option<&str>,
) -> Result<GraphResponse, GraphError> {
    let mut store = emu.inner.store.lock().unwrap_or_else(|e| e.into_inner());
    // Operations that touch more than one mailbox (local delivery).
    match &op {
        Op::SendMail => return write::send_mail(ctx, &mut store, mailbox),
        Op::SendDraft(m) => return write::send_draft(&mut store, mailbox, m),
        Op::CreateUploadSession(m) => {
            return attachments::create_session(ctx, &mut store, mailbox, m)
        }
        _ => {}
    }
    let epoch = emu.inner.faults.delta_epoch();
    let delta_config = emu.delta_config();
    let mime_config = emu.mime_config();
    let mb = store
        .mailboxes
        .get_mut(mailbox)
        .ok_or_else(|| GraphError::invalid_user(&ctx.user_segment))?;
    // `/mailFolders/{id}/messages/{id}`: a message of another folder is not found there.
    if let Some(f) = folder_scope {
        let scoped = match &op {
            Op::GetMessage(m)
            | Op::GetMessageValue(m)
            | Op::PatchMessage(m)
            | Op::DeleteMessage(m)
            | Op::MoveMessage(m)
            | Op::CopyMessage(m)
            | Op::PermanentDelete(m)
            | Op::ListAttachments(m)
            | Op::AddAttachment(m)
            | Op::GetAttachment(m, _)
            | Op::DeleteAttachment(m, _)
            | Op::GetAttachmentValue(m, _) => Some(m.clone()),
            _ => None,
        };
        if let Some(m) = scoped {
            let fid = folders::lookup(mb, f)?.id.clone();
            if messages::lookup(mb, &m)?.folder_id != fid {
                return Err(GraphError::item_not_found());
            }
        }
    }
    match op {
        Op::GetUser => Ok(GraphResponse::json(
            200,
            serde_json::json!({
                "@odata.context": format!("{}/$metadata#users/$entity", ctx.req.base),
                "id": mb.user_id,
                "displayName": mb.display_name,
                "mail": mb.address,
                "userPrincipalName": mb.address,
            }),
        )),
        Op::ListRootFolders => {
            let root = mb.root_id.clone();
            folders::list_children(ctx, mb, &root, true)
        }
        Op::GetFolder(f) => folders::get(ctx, mb, &f),
        Op::ListChildFolders(f) => folders::list_children(ctx, mb, &f, false),
        Op::ListFolderMessages(f) => messages::list(ctx, mb, Some(&f)),
        Op::ListMessages => messages::list(ctx, mb, None),
        Op::GetMessage(m) => messages::get(ctx, mb, &m),
        Op::GetMessageValue(m) => messages::get_value(mb, &m),
        Op::CreateRootFolder => folders::create(ctx, mb, None),
        Op::CreateChildFolder(f) => folders::create(ctx, mb, Some(&f)),
        Op::PatchFolder(f) => folders::rename(ctx, mb, &f),
        Op::MoveFolder(f) => folders::move_to(ctx, mb, &f),
        Op::DeleteFolder(f) => folders::delete(mb, &f),
        Op::FolderDelta => delta::serve(ctx, mb, delta::DeltaKind::Folders, epoch, &delta_config),
        Op::MessageDelta(f) => {
            let folder_id = folders::lookup(mb, &f)?.id.clone();
            let kind = delta::DeltaKind::Messages { folder_id };
            delta::serve(ctx, mb, kind, epoch, &delta_config)
        }
        Op::CreateMessage => write::create(ctx, mb, None, &mime_config),
        Op::CreateFolderMessage(f) => write::create(ctx, mb, Some(&f), &mime_config),
        Op::PatchMessage(m) => write::patch(ctx, mb, &m),
        Op::DeleteMessage(m) => write::delete(mb, &m),
        Op::MoveMessage(m) => write::move_to(ctx, mb, &m),
        Op::CopyMessage(m) => write::copy_to(ctx, mb, &m),
        Op::PermanentDelete(m) => write::permanent_delete(mb, &m),
        Op::ListAttachments(m) => attachments::list(ctx, mb, &m),
        Op::GetAttachment(m, a) => attachments::get(ctx, mb, &m, &a),
        Op::GetAttachmentValue(m, a) => attachments::get_value(mb, &m, &a),
        Op::AddAttachment(m) => attachments::add(ctx, mb, &m),
        Op::DeleteAttachment(m, a) => attachments::delete(mb, &m, &a),
        other => Err(GraphError::not_implemented(&format!("{other:?}"))),
    }
}

/// Checks the bearer token. Graph answers 401 InvalidAuthenticationToken with a
/// WWW-Authenticate challenge (<https://learn.microsoft.com/graph/errors>: 401 "Required
/// authentication information is either missing or not valid for the resource"; the
/// header's exact parameters are not documented there, we send Graph's observed
/// `Bearer realm="", authorization_uri=…, client_id=…`).
pub(crate) fn authenticate(emu: &Emulator, req: &GraphRequest) -> Result<TokenClaims, GraphError> {
    let auth = req.header("authorization").unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .unwrap_or(if auth.is_empty() { "" } else { "\u{0}" })
        .trim();
    let now = chrono::Utc::now().timestamp();
    let challenge = "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"";
    let claims = identity::verify(&emu.inner.token_key, token, now).map_err(|e| {
        GraphError::new(401, "InvalidAuthenticationToken", e.message())
            .with_header("WWW-Authenticate", challenge)
    })?;
    if emu.token_revoked(&claims) {
        return Err(GraphError::new(
            401,
            "InvalidAuthenticationToken",
            identity::TokenError::Expired.message(),
        )
        .with_header("WWW-Authenticate", challenge));
    }
    Ok(claims)
}

pub(crate) fn error_response(
    e: &GraphError,
    request_id: &str,
    client_request_id: &str,
) -> GraphResponse {
    let mut r = GraphResponse {
        status: e.status,
        headers: Vec::new(),
        body: RespBody::Json(e.body(request_id, client_request_id)),
    };
    for (k, v) in &e.headers {
        r.headers.push((k.to_string(), v.clone()));
    }
    r
}

/// Adds the headers every Graph response carries.
fn finish(mut resp: GraphResponse, request_id: &str, client_request_id: &str) -> GraphResponse {
    resp.headers
        .push(("request-id".to_string(), request_id.to_string()));
    resp.headers.push((
        "client-request-id".to_string(),
        client_request_id.to_string(),
    ));
    if matches!(resp.body, RespBody::Json(_)) {
        resp.headers
            .push(("OData-Version".to_string(), "4.0".to_string()));
    }
    resp
}

/// The JSON object body of a POST/PATCH. A body that is not declared `application/json` is
/// refused with 415 (<https://learn.microsoft.com/graph/errors>: "The content type of the
/// request is a format that isn't supported by the service"; the method pages list
/// `Content-Type: application/json` as required).
pub(crate) fn json_body(req: &GraphRequest) -> Result<serde_json::Map<String, Value>, GraphError> {
    let ct = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ct.starts_with("application/json") {
        return Err(GraphError::new(
            415,
            "UnsupportedMediaType",
            "The content type of the request must be application/json.",
        ));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(GraphError::bad_request(
            "Empty Payload. JSON content expected.",
        )),
    }
}

/// `application/json` as Graph labels it.
pub(crate) const JSON_CT: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";

/// The `users('…')` part of @odata.context.
pub(crate) fn context_user(ctx: &Ctx<'_>) -> String {
    let enc: String = percent_encoding::utf8_percent_encode(
        &ctx.user_segment,
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    format!("{}/$metadata#users('{}')", ctx.req.base, enc)
}

/// Formats a timestamp as Graph does (`2026-01-05T08:00:00Z`).
pub(crate) fn iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Page size: `$top`, else `Prefer: odata.maxpagesize` (capped at 1000), else `default`.
/// Returns the size and whether maxpagesize was applied.
pub(crate) fn page_size(ctx: &Ctx<'_>, default: usize) -> (usize, bool) {
    if let Some(t) = ctx.query.top {
        return (t, false);
    }
    if let Some(n) = ctx.prefer.max_page_size {
        return (n.min(1000), true);
    }
    (default, false)
}

/// Select helper: keeps `id`, `@odata.*` and the selected properties.
pub(crate) fn apply_select(
    mut obj: serde_json::Map<String, Value>,
    select: Option<&Vec<String>>,
    known: &[&str],
    type_name: &str,
) -> Result<serde_json::Map<String, Value>, GraphError> {
    let Some(sel) = select else { return Ok(obj) };
    for s in sel {
        if !known.iter().any(|k| k == s) {
            return Err(GraphError::new(
                400,
                "RequestBroker--ParseUri",
                format!("Could not find a property named '{s}' on type '{type_name}'."),
            ));
        }
    }
    obj.retain(|k, _| k == "id" || k.starts_with('@') || sel.iter().any(|s| s == k));
    Ok(obj)
}
