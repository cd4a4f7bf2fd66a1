//! message operations: list (per folder or mailbox) with `$select`, `$top`,
//! `odata.maxpagesize`, `$orderby`, `$count`, `$filter` (the forms below, with Graph's
//! InefficientFilter rule), `$expand=singleValueExtendedProperties(…)` and
//! `$skip` paging; get; `$value` (the stored MIME). Owns the message JSON shape (CSDL
//! `message` + `outlookItem` + `entity`).
//!
//! Docs: <https://learn.microsoft.com/graph/api/user-list-messages> (default page 10, `$top`
//! 1..1000, nextLink), <https://learn.microsoft.com/graph/api/message-get>,
//! <https://learn.microsoft.com/graph/outlook-get-mime-message> (`GET …/messages/{id}/$value`
//! returns the MIME content), <https://learn.microsoft.com/graph/api/resources/message>,
//! <https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get>
//! (`$expand=singleValueExtendedProperties($filter=id eq '…')`).

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::{apply_select, context_user, iso, page_size, Ctx, GraphResponse, RespBody};
use crate::mime_view::{self, Mailbox as Addr};
use crate::store::{Lookup, Mailbox, Message};

pub(crate) const MESSAGE_PROPS: &[&str] = &[
    "id",
    "categories",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "bccRecipients",
    "body",
    "bodyPreview",
    "ccRecipients",
    "conversationId",
    "conversationIndex",
    "flag",
    "from",
    "hasAttachments",
    "importance",
    "inferenceClassification",
    "internetMessageHeaders",
    "internetMessageId",
    "isDeliveryReceiptRequested",
    "isDraft",
    "isRead",
    "isReadReceiptRequested",
    "parentFolderId",
    "receivedDateTime",
    "replyTo",
    "sender",
    "sentDateTime",
    "subject",
    "toRecipients",
    "uniqueBody",
    "webLink",
];

fn recipients(v: &[Addr]) -> Value {
    Value::Array(v.iter().map(|a| a.to_json()).collect())
}

pub(crate) fn lookup<'a>(mb: &'a Mailbox, id: &str) -> Result<&'a Message, GraphError> {
    match mb.message(id) {
        Lookup::Found(m) => Ok(m),
        Lookup::Malformed => Err(GraphError::id_malformed()),
        Lookup::NotFound => Err(GraphError::item_not_found()),
    }
}

/// PR_MESSAGE_SIZE (0x0E08) as Exchange reports it: the size of the item in the store,
/// which is not the MIME size. We add a deterministic overhead so clients cannot mistake it
/// for RFC822.SIZE (docs: "PidTagMessageSize … an approximation"? not stated on Graph pages;
/// MS-OXPROPS says it is the sum of the sizes of all properties — stricter reading).
pub(crate) fn store_size(m: &Message) -> usize {
    m.raw.len() + 512 + m.raw.len() / 20
}

fn ext_value(mb: &Mailbox, m: &Message, id: &str) -> Option<String> {
    let _ = mb;
    match id {
        "Integer 0xe08" => Some(store_size(m).to_string()),
        // PR_MESSAGE_FLAGS: MSGFLAG_READ 0x1, MSGFLAG_UNSENT 0x8 (drafts), MSGFLAG_HASATTACH 0x10.
        "Integer 0xe07" => {
            let mut f = 0;
            if m.is_read {
                f |= 1;
            }
            if m.is_draft {
                f |= 8;
            }
            if has_attachments(m) {
                f |= 0x10;
            }
            Some(f.to_string())
        }
        _ => m.ext.get(id).cloned(),
    }
}

/// A plain-text body as Exchange presents it in HTML: escaped, line breaks kept.
pub(crate) fn text_to_html(t: &str) -> String {
    let esc = t
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("\r\n", "\n")
        .replace('\n', "<br>\r\n");
    format!(
        "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n<div>{esc}</div>\r\n</body>\r\n</html>\r\n"
    )
}

pub(crate) fn has_attachments(m: &Message) -> bool {
    m.view.attachments.iter().any(|a| !a.is_inline)
}

/// Full message JSON (before `$select`).
pub(crate) fn message_json(mb: &Mailbox, m: &Message, ctx: &Ctx<'_>) -> Map<String, Value> {
    let v = &m.view;
    let immutable = ctx.immutable();
    let id = m.id(immutable).to_string();
    // "Currently, this operation returns message bodies in only HTML format" unless
    // `Prefer: outlook.body-content-type="text"` (https://learn.microsoft.com/graph/api/user-list-messages).
    let want_text = ctx.prefer.body_content_type == Some("text");
    let (html, text) = (v.body_html.clone(), v.body_text.clone());
    let (body_type, body_content) = if want_text {
        match (text, html) {
            (Some(t), _) => ("text".to_string(), t),
            (None, Some(h)) => ("text".to_string(), mime_view::strip_html(&h)),
            _ => ("text".to_string(), String::new()),
        }
    } else {
        match (html, text) {
            (Some(h), _) => ("html".to_string(), h),
            (None, Some(t)) => ("html".to_string(), text_to_html(&t)),
            _ => ("html".to_string(), String::new()),
        }
    };
    let preview = v.preview.clone();
    let conv_seed = v
        .references_root
        .clone()
        .or_else(|| v.message_id.clone())
        .unwrap_or_else(|| m.immutable_id.clone());
    let conversation_id = crate::ids::make(
        crate::ids::IdKind::Folder,
        &mb.user_id,
        &[b"conversation", conv_seed.as_bytes()],
    );
    let mut o = Map::new();
    o.insert(
        "@odata.etag".into(),
        json!(format!("W/\"{}\"", m.change_key())),
    );
    o.insert("id".into(), json!(id));
    o.insert("createdDateTime".into(), json!(iso(m.created)));
    o.insert("lastModifiedDateTime".into(), json!(iso(m.modified)));
    o.insert("changeKey".into(), json!(m.change_key()));
    o.insert("categories".into(), json!(m.categories));
    o.insert("receivedDateTime".into(), json!(iso(m.received)));
    o.insert(
        "sentDateTime".into(),
        json!(iso(v.date.unwrap_or(m.received))),
    );
    o.insert("hasAttachments".into(), json!(has_attachments(m)));
    o.insert("internetMessageId".into(), json!(v.message_id));
    o.insert("subject".into(), json!(m.subject()));
    o.insert("bodyPreview".into(), json!(preview));
    o.insert("importance".into(), json!(m.importance));
    o.insert("parentFolderId".into(), json!(m.folder_id));
    o.insert("conversationId".into(), json!(conversation_id));
    o.insert(
        "conversationIndex".into(),
        json!(mime_view::b64(
            &crate::ids::opaque(&[conv_seed.as_bytes()], 22).into_bytes()
        )),
    );
    o.insert("isDeliveryReceiptRequested".into(), json!(false));
    o.insert("isReadReceiptRequested".into(), json!(v.read_receipt));
    o.insert("isRead".into(), json!(m.is_read));
    o.insert("isDraft".into(), json!(m.is_draft));
    let item_param: String =
        percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC).to_string();
    o.insert(
        "webLink".into(),
        json!(format!(
            "https://outlook.office365.com/owa/?ItemID={item_param}&exvsurl=1&viewmodel=ReadMessageItem"
        )),
    );
    o.insert("inferenceClassification".into(), json!("focused"));
    o.insert(
        "body".into(),
        json!({"contentType": body_type, "content": body_content}),
    );
    let sender = v.sender.as_ref().or(v.from.as_ref());
    o.insert(
        "sender".into(),
        sender.map(|a| a.to_json()).unwrap_or(Value::Null),
    );
    o.insert(
        "from".into(),
        v.from.as_ref().map(|a| a.to_json()).unwrap_or(Value::Null),
    );
    o.insert("toRecipients".into(), recipients(&v.to));
    o.insert("ccRecipients".into(), recipients(&v.cc));
    o.insert("bccRecipients".into(), recipients(&v.bcc));
    o.insert("replyTo".into(), recipients(&v.reply_to));
    o.insert("flag".into(), json!({"flagStatus": m.flag_status}));
    o
}

/// Properties only returned when selected.
fn selected_only(m: &Message, ctx: &Ctx<'_>, o: &mut Map<String, Value>) {
    let Some(sel) = ctx.query.select.as_ref() else {
        return;
    };
    if sel.iter().any(|s| s == "uniqueBody") {
        let b = o.get("body").cloned().unwrap_or(Value::Null);
        o.insert("uniqueBody".into(), b);
    }
    if sel.iter().any(|s| s == "internetMessageHeaders") {
        let headers: Vec<Value> = mail_parser::MessageParser::default()
            .parse_headers(&m.raw[..])
            .map(|p| {
                p.headers_raw()
                    .map(|(n, v)| json!({"name": n, "value": v.trim()}))
                    .collect()
            })
            .unwrap_or_default();
        o.insert("internetMessageHeaders".into(), Value::Array(headers));
    }
}

/// Renders one message for the response: select, expand.
pub(crate) fn render(mb: &Mailbox, m: &Message, ctx: &Ctx<'_>) -> Result<Value, GraphError> {
    let mut o = message_json(mb, m, ctx);
    selected_only(m, ctx, &mut o);
    let mut o = apply_select(
        o,
        ctx.query.select.as_ref(),
        MESSAGE_PROPS,
        "microsoft.graph.message",
    )?;
    if let Some(ids) = &ctx.query.expand_ext {
        let props: Vec<Value> = ids
            .iter()
            .filter_map(|id| ext_value(mb, m, id).map(|v| json!({"id": id, "value": v})))
            .collect();
        o.insert("singleValueExtendedProperties".into(), Value::Array(props));
    }
    Ok(Value::Object(o))
}

pub(crate) fn get(ctx: &Ctx<'_>, mb: &Mailbox, id: &str) -> Result<GraphResponse, GraphError> {
    let m = lookup(mb, id)?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/messages/$entity", context_user(ctx))),
    );
    if let Value::Object(o) = render(mb, m, ctx)? {
        out.extend(o);
    }
    Ok(GraphResponse::json(200, Value::Object(out)))
}

/// The stored MIME, byte for byte, as `Content-type: text/plain`
/// (<https://learn.microsoft.com/graph/api/message-get>, example 4 "get the MIME content").
pub(crate) fn get_value(mb: &Mailbox, id: &str) -> Result<GraphResponse, GraphError> {
    let m = lookup(mb, id)?;
    Ok(GraphResponse {
        status: axum::http::StatusCode::OK,
        headers: Vec::new(),
        body: RespBody::Bytes {
            content_type: "text/plain".to_string(),
            data: Bytes::from(m.raw.as_ref().clone()),
        },
    })
}

/// Lists messages of a folder (or of the whole mailbox), newest first unless `$orderby`
/// says otherwise; `$skip` paging with an absolute nextLink.
pub(crate) fn list(
    ctx: &Ctx<'_>,
    mb: &Mailbox,
    folder: Option<&str>,
) -> Result<GraphResponse, GraphError> {
    let mut msgs = match folder {
        Some(f) => {
            let fid = super::folders::lookup(mb, f)?.id.clone();
            mb.folder_messages(&fid)
        }
        None => mb.all_messages(),
    };
    if let Some(filter) = &ctx.query.filter {
        let clauses = parse_filter(filter)?;
        if let Some((prop, _)) = &ctx.query.orderby {
            // "Properties that appear in $orderby must also appear in $filter … in the same
            // order … before any properties that aren't", else InefficientFilter
            // (https://learn.microsoft.com/graph/api/user-list-messages, "Using filter and
            // sort in the same query").
            if clauses.first().map(|c| c.prop.as_str()) != Some(prop.as_str()) {
                return Err(GraphError::new(
                    400,
                    "InefficientFilter",
                    "The restriction or sort order is too complex for this operation.",
                ));
            }
        }
        msgs.retain(|m| clauses.iter().all(|c| c.matches(m)));
    }
    if let Some((prop, desc)) = &ctx.query.orderby {
        use std::cmp::Ordering;
        let key: fn(&Message, &Message) -> Ordering = match prop.as_str() {
            "receivedDateTime" => |a, b| a.received.cmp(&b.received),
            "sentDateTime" => |a, b| {
                a.view
                    .date
                    .unwrap_or(a.received)
                    .cmp(&b.view.date.unwrap_or(b.received))
            },
            "lastModifiedDateTime" => |a, b| a.modified.cmp(&b.modified),
            "createdDateTime" => |a, b| a.created.cmp(&b.created),
            "subject" => |a, b| a.subject().to_lowercase().cmp(&b.subject().to_lowercase()),
            "isRead" => |a, b| a.is_read.cmp(&b.is_read),
            other => {
                return Err(GraphError::not_implemented(&format!("$orderby={other}")));
            }
        };
        // Ties keep store order (oldest stored first ascending, newest first descending).
        msgs.sort_by(|a, b| key(a, b).then(a.order.cmp(&b.order)));
        if *desc {
            msgs.reverse();
        }
    }
    let (size, applied) = page_size(ctx, 10);
    let skip = ctx.query.skip;
    let mut value = Vec::new();
    for m in msgs.iter().skip(skip).take(size) {
        value.push(render(mb, m, ctx)?);
    }
    let mut out = Map::new();
    let ctx_path = match folder {
        Some(f) => format!("{}/mailFolders('{}')/messages", context_user(ctx), f),
        None => format!("{}/messages", context_user(ctx)),
    };
    out.insert("@odata.context".into(), json!(ctx_path));
    if ctx.query.count {
        out.insert("@odata.count".into(), json!(msgs.len()));
    }
    out.insert("value".into(), Value::Array(value));
    if skip + size < msgs.len() {
        let link = super::odata::link_with(
            &ctx.req.base,
            ctx.path(),
            &ctx.query.pairs,
            &["$skip"],
            &[("$skip", (skip + size).to_string())],
        );
        out.insert("@odata.nextLink".into(), json!(link));
    }
    let mut resp = GraphResponse::json(200, Value::Object(out));
    if applied {
        super::add_preference(&mut resp, &format!("odata.maxpagesize={size}"));
    }
    Ok(resp)
}

/// One `$filter` clause of the forms Graph mail supports and the gateway uses.
#[derive(Debug)]
pub(crate) struct Clause {
    pub prop: String,
    op: &'static str,
    value: FilterValue,
}

#[derive(Debug)]
enum FilterValue {
    Time(i64),
    Bool(bool),
    Str(String),
}

impl Clause {
    pub(crate) fn op(&self) -> &'static str {
        self.op
    }

    pub(crate) fn matches(&self, m: &Message) -> bool {
        use std::cmp::Ordering;
        let ord = match (&self.value, self.prop.as_str()) {
            (FilterValue::Time(t), "receivedDateTime") => m.received.cmp(t),
            (FilterValue::Time(t), "lastModifiedDateTime") => m.modified.cmp(t),
            (FilterValue::Time(t), "sentDateTime") => m.view.date.unwrap_or(m.received).cmp(t),
            (FilterValue::Time(t), "createdDateTime") => m.created.cmp(t),
            (FilterValue::Bool(b), "isRead") => m.is_read.cmp(b),
            (FilterValue::Bool(b), "isDraft") => m.is_draft.cmp(b),
            (FilterValue::Bool(b), "hasAttachments") => has_attachments(m).cmp(b),
            (FilterValue::Str(s), "flag/flagStatus") => m.flag_status.as_str().cmp(s.as_str()),
            (FilterValue::Str(s), "importance") => m.importance.as_str().cmp(s.as_str()),
            _ => return false,
        };
        match self.op {
            "eq" => ord == Ordering::Equal,
            "ne" => ord != Ordering::Equal,
            "gt" => ord == Ordering::Greater,
            "ge" => ord != Ordering::Less,
            "lt" => ord == Ordering::Less,
            "le" => ord != Ordering::Greater,
            _ => false,
        }
    }
}

/// Parses `clause and clause …`. Forms outside this subset answer 501 naming them, so a
/// gap is visible rather than silently wrong.
pub(crate) fn parse_filter(f: &str) -> Result<Vec<Clause>, GraphError> {
    let lower = f.to_ascii_lowercase();
    if lower.contains(" or ") || lower.contains("not ") || f.contains('(') {
        return Err(GraphError::not_implemented(&format!(
            "$filter '{f}' (only clauses joined by 'and')"
        )));
    }
    let mut out = Vec::new();
    let mut rest = f.trim();
    loop {
        let (clause, tail) = match rest.find(" and ") {
            Some(i) => (&rest[..i], Some(&rest[i + 5..])),
            None => (rest, None),
        };
        let parts: Vec<&str> = clause.split_whitespace().collect();
        let [prop, op, value] = parts.as_slice() else {
            return Err(GraphError::bad_request(format!(
                "Invalid filter clause '{clause}'."
            )));
        };
        let op: &'static str = match op.to_ascii_lowercase().as_str() {
            "eq" => "eq",
            "ne" => "ne",
            "gt" => "gt",
            "ge" => "ge",
            "lt" => "lt",
            "le" => "le",
            other => {
                return Err(GraphError::bad_request(format!(
                    "Invalid filter operator '{other}'."
                )))
            }
        };
        let value = match *prop {
            "receivedDateTime" | "lastModifiedDateTime" | "sentDateTime" | "createdDateTime" => {
                let t = chrono::DateTime::parse_from_rfc3339(value.trim_matches('\''))
                    .map_err(|_| {
                        GraphError::bad_request(format!(
                            "The DateTimeOffset text '{value}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?'."
                        ))
                    })?;
                FilterValue::Time(t.timestamp())
            }
            "isRead" | "isDraft" | "hasAttachments" => match *value {
                "true" => FilterValue::Bool(true),
                "false" => FilterValue::Bool(false),
                _ => {
                    return Err(GraphError::bad_request(format!(
                        "Invalid boolean '{value}'."
                    )))
                }
            },
            "flag/flagStatus" | "importance" => {
                let v = value
                    .strip_prefix('\'')
                    .and_then(|v| v.strip_suffix('\''))
                    .ok_or_else(|| GraphError::bad_request(format!("Invalid string '{value}'.")))?;
                FilterValue::Str(v.to_string())
            }
            other => {
                return Err(GraphError::not_implemented(&format!(
                    "$filter on '{other}'"
                )))
            }
        };
        out.push(Clause {
            prop: prop.to_string(),
            op,
            value,
        });
        match tail {
            Some(t) => rest = t.trim(),
            None => break,
        }
    }
    Ok(out)
}
