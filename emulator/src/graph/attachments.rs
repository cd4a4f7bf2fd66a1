//! Attachments: list, get, `$value`, add (under 3 MB), delete, and upload sessions for 3–150 MB
//! (`createUploadSession`, then `PUT` byte ranges to the pre-authenticated upload URL).
//! Owns the attachment JSON shapes and ids, the upload session state and the rewriting of a
//! stored message's MIME when an attachment is added or deleted.
//!
//! Docs: <https://learn.microsoft.com/graph/api/message-list-attachments>,
//! <https://learn.microsoft.com/graph/api/attachment-get> (raw contents with `/$value`: "For a
//! file attachment, the content type is based on its original content type"; an attached
//! message's raw contents are its MIME),
//! <https://learn.microsoft.com/graph/api/attachment-delete> (`DELETE …/attachments/{id}`,
//! 204 No Content),
//! <https://learn.microsoft.com/graph/api/message-post-attachments> (fileAttachment with
//! contentBytes, under 3 MB), <https://learn.microsoft.com/graph/api/attachment-createuploadsession>
//! and <https://learn.microsoft.com/graph/outlook-large-attachments>: files of 3–150 MB;
//! body `{"AttachmentItem": {"attachmentType": "file", "name", "size"}}` → 201 uploadSession
//! (`uploadUrl`, `expirationDateTime`, `nextExpectedRanges: ["0-"]`); each PUT carries
//! Content-Range `bytes {start}-{end}/{total}` and Content-Length, no Authorization header,
//! bytes in order, under 4 MB per request; 200 with `nextExpectedRanges: ["{next}"]`; the
//! last PUT answers 201 with a `Location` header naming the attachment and an empty body.
//! The error for a session under 3 MB is Exchange's ErrorAttachmentSizeShouldNotBeLessThanMinimumSize;
//! the pages do not list it, nor what a session over 150 MB answers (we refuse it with 413).

use axum::body::Bytes;
use axum::http::StatusCode;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::messages::lookup;
use super::{apply_select, context_user, iso, Ctx, GraphResponse, RespBody};
use crate::ids::{self, IdKind};
use crate::mime_view::AttachmentView;
use crate::store::{Mailbox, Message};

pub(crate) const ATTACHMENT_PROPS: &[&str] = &[
    "id",
    "contentType",
    "isInline",
    "lastModifiedDateTime",
    "name",
    "size",
    "contentBytes",
    "contentId",
    "contentLocation",
    "item",
];

pub(crate) const MAX_INLINE_POST: usize = 3 * 1024 * 1024;
pub(crate) const MIN_SESSION: u64 = 3 * 1024 * 1024;
pub(crate) const MAX_SESSION: u64 = 150 * 1024 * 1024;
pub(crate) const MAX_CHUNK: usize = 4 * 1024 * 1024;

/// An attachment's id: made from the message and the attachment's content (and which of
/// identical ones it is), so it stays the same when other attachments come or go and when the
/// message's MIME is written anew. Exchange's attachment ids name the attachment, not its
/// position (their make-up is not documented).
fn attachment_id(mb: &Mailbox, m: &Message, index: usize) -> String {
    let attachments = &m.view.attachments;
    let fingerprint = attachments.get(index).map(|a| a.fingerprint).unwrap_or(0);
    let twin = attachments[..index.min(attachments.len())]
        .iter()
        .filter(|a| a.fingerprint == fingerprint)
        .count() as u64;
    ids::make(
        IdKind::Attachment,
        &mb.user_id,
        &[
            m.immutable_id.as_bytes(),
            &fingerprint.to_le_bytes(),
            &twin.to_le_bytes(),
        ],
    )
}

fn attachment_json(mb: &Mailbox, m: &Message, i: usize, a: &AttachmentView) -> Map<String, Value> {
    let mut o = Map::new();
    if a.is_item {
        o.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.itemAttachment"),
        );
    } else {
        o.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.fileAttachment"),
        );
        o.insert("@odata.mediaContentType".into(), json!(a.content_type));
    }
    o.insert("id".into(), json!(attachment_id(mb, m, i)));
    o.insert("lastModifiedDateTime".into(), json!(iso(m.modified)));
    o.insert("name".into(), json!(a.name));
    o.insert("contentType".into(), json!(a.content_type));
    o.insert("size".into(), json!(a.size));
    o.insert("isInline".into(), json!(a.is_inline));
    if !a.is_item {
        o.insert("contentId".into(), json!(a.content_id));
        o.insert("contentLocation".into(), Value::Null);
        o.insert(
            "contentBytes".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(&a.bytes)),
        );
    }
    o
}

fn find<'a>(
    mb: &'a Mailbox,
    m: &'a Message,
    att_id: &str,
) -> Result<(usize, &'a AttachmentView), GraphError> {
    match ids::parse(att_id) {
        None => return Err(GraphError::id_malformed()),
        Some(p) if p.kind != IdKind::Attachment => return Err(GraphError::item_not_found()),
        Some(_) => {}
    }
    m.view
        .attachments
        .iter()
        .enumerate()
        .find(|(i, _)| attachment_id(mb, m, *i) == att_id)
        .ok_or_else(GraphError::item_not_found)
}

pub(crate) fn list(ctx: &Ctx<'_>, mb: &Mailbox, id: &str) -> Result<GraphResponse, GraphError> {
    let m = lookup(mb, id)?;
    let mut value = Vec::new();
    for (i, a) in m.view.attachments.iter().enumerate() {
        let o = apply_select(
            attachment_json(mb, m, i, a),
            ctx.query.select.as_ref(),
            ATTACHMENT_PROPS,
            "microsoft.graph.attachment",
        )?;
        value.push(Value::Object(o));
    }
    Ok(GraphResponse::json(
        200,
        json!({
            "@odata.context": format!("{}/messages('{}')/attachments", context_user(ctx), id),
            "value": value,
        }),
    ))
}

pub(crate) fn get(
    ctx: &Ctx<'_>,
    mb: &Mailbox,
    id: &str,
    att: &str,
) -> Result<GraphResponse, GraphError> {
    let m = lookup(mb, id)?;
    let (i, a) = find(mb, m, att)?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/messages('{}')/attachments/$entity",
            context_user(ctx),
            id
        )),
    );
    out.extend(apply_select(
        attachment_json(mb, m, i, a),
        ctx.query.select.as_ref(),
        ATTACHMENT_PROPS,
        "microsoft.graph.attachment",
    )?);
    Ok(GraphResponse::json(200, Value::Object(out)))
}

/// Raw contents: the file's bytes, or the MIME of an attached item.
pub(crate) fn get_value(mb: &Mailbox, id: &str, att: &str) -> Result<GraphResponse, GraphError> {
    let m = lookup(mb, id)?;
    let (_, a) = find(mb, m, att)?;
    Ok(GraphResponse {
        status: StatusCode::OK,
        headers: Vec::new(),
        body: RespBody::Bytes {
            content_type: if a.is_item {
                "text/plain".to_string()
            } else {
                a.content_type.clone()
            },
            data: Bytes::from(a.bytes.clone()),
        },
    })
}

/// Writes a message's MIME anew from its item after its attachments changed: Exchange holds
/// attachments as attachment objects of the item, and `$value` of a changed item is converted
/// from it (MS-OXCMAIL 2.2.3), whatever MIME the message first came with ("Outlook does not
/// save messages in MIME format", <https://learn.microsoft.com/graph/outlook-get-mime-message>).
fn rewrite(
    mb: &mut Mailbox,
    imm: &str,
    change: impl FnOnce(&mut super::write::Draft),
    skip: Option<usize>,
) -> Result<(), GraphError> {
    let m = mb
        .messages
        .get(imm)
        .ok_or_else(GraphError::item_not_found)?;
    let mut draft = super::write::draft_from_view(mb, &m.raw, &m.view, m.received, skip);
    change(&mut draft);
    let raw = super::write::render_mime(&draft);
    let view = crate::mime_view::parse(&raw);
    mb.update_message(imm, |m| {
        m.raw = std::sync::Arc::new(raw);
        m.view = std::sync::Arc::new(view);
    });
    Ok(())
}

/// Adds a file attachment to a message, returning its new attachment id.
pub(crate) fn attach(
    mb: &mut Mailbox,
    imm: &str,
    name: &str,
    ct: &str,
    bytes: &[u8],
    cid: Option<&str>,
) -> Result<String, GraphError> {
    let added = (
        name.to_string(),
        ct.to_string(),
        bytes.to_vec(),
        cid.map(str::to_string),
    );
    rewrite(mb, imm, |d| d.attachments.push(added), None)?;
    let m = mb
        .messages
        .get(imm)
        .ok_or_else(GraphError::item_not_found)?;
    let index = m
        .view
        .attachments
        .iter()
        .rposition(|a| !a.is_item && a.name == name && a.bytes == bytes)
        .unwrap_or(m.view.attachments.len().saturating_sub(1));
    Ok(attachment_id(mb, m, index))
}

/// DELETE /messages/{id}/attachments/{id} → 204; the message's MIME is written anew without it.
pub(crate) fn delete(mb: &mut Mailbox, id: &str, att: &str) -> Result<GraphResponse, GraphError> {
    let m = lookup(mb, id)?;
    let imm = m.immutable_id.clone();
    let (index, _) = find(mb, m, att)?;
    rewrite(mb, &imm, |_| {}, Some(index))?;
    Ok(GraphResponse {
        status: StatusCode::NO_CONTENT,
        headers: Vec::new(),
        body: RespBody::Empty,
    })
}

/// POST /messages/{id}/attachments (fileAttachment under 3 MB) → 201.
pub(crate) fn add(ctx: &Ctx<'_>, mb: &mut Mailbox, id: &str) -> Result<GraphResponse, GraphError> {
    let imm = lookup(mb, id)?.immutable_id.clone();
    let body = Value::Object(super::json_body(ctx.req)?);
    let (name, ct, bytes, cid) = super::write::file_attachment(&body)?;
    if bytes.len() >= MAX_INLINE_POST {
        return Err(GraphError::new(
            413,
            "ErrorRequestEntityTooLarge",
            "Attachments of 3 MB or more must be uploaded with an upload session.",
        ));
    }
    let att_id = attach(mb, &imm, &name, &ct, &bytes, cid.as_deref())?;
    let m = mb
        .messages
        .get(&imm)
        .ok_or_else(GraphError::item_not_found)?;
    let (i, a) = find(mb, m, &att_id)?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/messages('{}')/attachments/$entity",
            context_user(ctx),
            id
        )),
    );
    out.extend(attachment_json(mb, m, i, a));
    Ok(GraphResponse::json(201, Value::Object(out)))
}

/// An open upload session.
#[derive(Clone, Debug)]
pub(crate) struct UploadSession {
    pub mailbox: String,
    pub user_id: String,
    pub message: String,
    pub app_id: String,
    pub auth_token: String,
    pub name: String,
    pub content_type: String,
    pub is_inline: bool,
    pub content_id: Option<String>,
    pub size: u64,
    pub received: Vec<u8>,
    pub expires: i64,
}

/// POST /messages/{id}/attachments/createUploadSession → 201 uploadSession.
pub(crate) fn create_session(
    ctx: &Ctx<'_>,
    store: &mut crate::store::Store,
    mailbox: &str,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let mb = store
        .mailboxes
        .get(mailbox)
        .ok_or_else(GraphError::item_not_found)?;
    let m = lookup(mb, id)?;
    let body = Value::Object(super::json_body(ctx.req)?);
    let item = body
        .get("AttachmentItem")
        .or_else(|| body.get("attachmentItem"))
        .ok_or_else(|| GraphError::bad_request("AttachmentItem is required."))?;
    if !item["attachmentType"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case("file"))
    {
        return Err(GraphError::not_implemented(
            "upload sessions for attachmentType other than 'file'",
        ));
    }
    let size = item["size"]
        .as_u64()
        .ok_or_else(|| GraphError::bad_request("AttachmentItem.size is required."))?;
    if size < MIN_SESSION {
        return Err(GraphError::new(
            400,
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            "Attachment size must be greater than the minimum size.",
        ));
    }
    if size > MAX_SESSION {
        return Err(GraphError::new(
            413,
            "ErrorAttachmentSizeExceedsMaximum",
            "The attachment exceeds the maximum size of 150 MB.",
        ));
    }
    let name = item["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| GraphError::bad_request("AttachmentItem.name is required."))?
        .to_string();
    let sid = ids::make(
        IdKind::Attachment,
        &mb.user_id,
        &[
            b"session",
            m.immutable_id.as_bytes(),
            &fastrand::u64(..).to_le_bytes(),
        ],
    );
    let auth_token = ids::opaque(&[sid.as_bytes(), &fastrand::u64(..).to_le_bytes()], 40);
    let expires = chrono::Utc::now().timestamp() + 15 * 60;
    let session = UploadSession {
        mailbox: mailbox.to_string(),
        user_id: mb.user_id.clone(),
        message: m.immutable_id.clone(),
        app_id: ctx.claims.app_id.clone(),
        auth_token: auth_token.clone(),
        name,
        content_type: item["contentType"]
            .as_str()
            .unwrap_or("application/octet-stream")
            .to_string(),
        is_inline: item["isInline"].as_bool().unwrap_or(false),
        content_id: item["contentId"].as_str().map(|s| s.to_string()),
        size,
        received: Vec::new(),
        expires,
    };
    let origin = ctx.req.base.trim_end_matches("/v1.0");
    let url = format!(
        "{origin}/api/v2.0/Users('{}')/Messages('{}')/AttachmentSessions('{}')?authtoken={}",
        session.user_id, session.message, sid, auth_token
    );
    store.uploads.insert(sid, session);
    Ok(GraphResponse::json(
        201,
        json!({
            "@odata.context": format!("{}/$metadata#microsoft.graph.uploadSession", ctx.req.base),
            "uploadUrl": url,
            "expirationDateTime": iso(expires),
            "nextExpectedRanges": ["0-"],
        }),
    ))
}

/// Finds `AttachmentSessions('…')` in an upload URL path.
pub(crate) fn session_id(path: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned();
    let start = decoded.find("AttachmentSessions('")? + "AttachmentSessions('".len();
    let end = decoded[start..].find("')")? + start;
    Some(decoded[start..end].to_string())
}

/// Parses `bytes {start}-{end}/{total}`.
pub(crate) fn content_range(v: &str) -> Option<(u64, u64, u64)> {
    let r = v.trim().strip_prefix("bytes ")?;
    let (range, total) = r.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b, t) = (
        a.trim().parse().ok()?,
        b.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (a <= b && b < t).then_some((a, b, t))
}
