//! Delta queries: `GET /users/{id}/mailFolders/{id}/messages/delta` and
//! `GET /users/{id}/mailFolders/delta`. Owns the server-side state tokens (`DeltaSession`):
//! an initial round returns every item, paged with `$skiptoken` nextLinks, and ends with a
//! `$deltatoken` deltaLink; a deltaLink returns what changed since, with `@removed` entries.
//!
//! Docs: <https://learn.microsoft.com/graph/api/message-delta> and
//! <https://learn.microsoft.com/graph/delta-query-messages> (per-folder; `$select`;
//! `Prefer: odata.maxpagesize`; `changeType=created|updated|deleted` given in the initial
//! request and encoded into the links; the links are opaque and carry every query option),
//! <https://learn.microsoft.com/graph/api/mailfolder-delta>,
//! <https://learn.microsoft.com/graph/delta-query-overview> (a page never has both links;
//! `@removed` with reason `changed` (item deleted but restorable, or moved out) or
//! `deleted` (permanently); replays and duplicates possible; an expired token answers a
//! 4xx such as syncStateNotFound). For Outlook items an invalid token answers 410 Gone
//! (<https://learn.microsoft.com/answers/questions/649481/http-410-status-error-on-syncing-contacts>);
//! we answer 410 with code `SyncStateNotFound` and the message Graph uses.
//! The default page size (10) is not documented for delta; it is what Graph returns.
//!
//! How an item is represented follows the overview's "Resource representation in the delta
//! query response": items of a first round, and "newly created instances" (created since the
//! token's state; a copy is a new item), in their standard representation; an updated item
//! by "its id with *at least* the properties that have been updated, but additional properties
//! may be included". [`DeltaConfig`] chooses between the least (id, annotations and the
//! properties changed since the token's state; the default) and the whole object, and can
//! replay: "the same change appears in subsequent responses" (overview, "Replays"). Message
//! items carry `@odata.type` and `@odata.etag` as the examples of
//! <https://learn.microsoft.com/graph/delta-query-messages> show (an updated item included);
//! mailFolder items carry no annotation, as in the mailfolder-delta example. A message moved
//! into the folder, or a folder moved, is not newly created: the docs do not say how it comes,
//! and the stricter reading is an update of its parentFolderId (with `$select`, possibly an
//! item with nothing but its id).

use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::odata::{link_with, Query};
use super::{context_user, Ctx, GraphResponse};
use crate::config::{DeltaConfig, UpdatedItems};
use crate::store::{Mailbox, PropertyChanges};

#[derive(Clone, Debug)]
pub(crate) enum DeltaKind {
    Messages { folder_id: String },
    Folders,
}

#[derive(Clone, Debug)]
pub(crate) enum Entry {
    Item(String),
    Removed {
        immutable_id: String,
        rest_id: String,
        reason: &'static str,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct DeltaSession {
    pub kind: DeltaKind,
    /// Changes with a sequence number above this are reported by the deltaLink.
    pub watermark: u64,
    pub epoch: u64,
    pub query: Query,
    /// For a nextLink: the rest of the round.
    pub pending: Option<Pending>,
    /// What the page that issued this token sent (its replays left out), as sent: the
    /// entries a replay sends again.
    pub sent: Vec<Value>,
}

/// The rest of a round that continues with a nextLink.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    entries: Vec<Entry>,
    /// The watermark the round's deltaLink will carry.
    round_watermark: u64,
    /// The state the round reports changes since; `None` in a first round (every item whole).
    since: Option<u64>,
}

fn gone() -> GraphError {
    GraphError::new(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
    )
}

fn mint(mb: &mut Mailbox, session: DeltaSession) -> String {
    mb.delta_counter += 1;
    let token = crate::ids::opaque(
        &[
            mb.user_id.as_bytes(),
            b"delta",
            &mb.delta_counter.to_le_bytes(),
            &fastrand::u64(..).to_le_bytes(),
        ],
        43,
    );
    mb.delta.insert(token.clone(), session);
    token
}

/// Changes since `watermark` for a kind, removals first.
fn changes(
    mb: &Mailbox,
    kind: &DeltaKind,
    watermark: u64,
    change_type: Option<&str>,
) -> Vec<Entry> {
    let mut out = Vec::new();
    let want = |t: &str| change_type.is_none_or(|c| c.eq_ignore_ascii_case(t));
    match kind {
        DeltaKind::Messages { folder_id } => {
            if want("deleted") {
                for t in mb
                    .tombstones
                    .iter()
                    .filter(|t| &t.folder_id == folder_id && t.seq > watermark)
                {
                    out.push(Entry::Removed {
                        immutable_id: t.immutable_id.clone(),
                        rest_id: t.rest_id.clone(),
                        reason: t.reason,
                    });
                }
            }
            let mut items: Vec<_> = mb
                .messages
                .values()
                .filter(|m| &m.folder_id == folder_id && m.changed_seq > watermark)
                .filter(|m| {
                    if m.created_seq > watermark {
                        want("created")
                    } else {
                        want("updated")
                    }
                })
                .collect();
            items.sort_by_key(|m| m.changed_seq);
            out.extend(
                items
                    .into_iter()
                    .map(|m| Entry::Item(m.immutable_id.clone())),
            );
        }
        DeltaKind::Folders => {
            for (id, seq) in &mb.folder_tombstones {
                if *seq > watermark && want("deleted") {
                    out.push(Entry::Removed {
                        immutable_id: id.clone(),
                        rest_id: id.clone(),
                        reason: "deleted",
                    });
                }
            }
            for f in mb.all_folders_under_root() {
                if f.changed_seq > watermark && want("updated") {
                    out.push(Entry::Item(f.id.clone()));
                }
            }
        }
    }
    out
}

fn initial(mb: &Mailbox, kind: &DeltaKind) -> Vec<Entry> {
    match kind {
        DeltaKind::Messages { folder_id } => mb
            .folder_messages(folder_id)
            .into_iter()
            .map(|m| Entry::Item(m.immutable_id.clone()))
            .collect(),
        DeltaKind::Folders => mb
            .all_folders_under_root()
            .into_iter()
            .map(|f| Entry::Item(f.id.clone()))
            .collect(),
    }
}

/// Serves one delta request (initial, nextLink or deltaLink).
pub(crate) fn serve(
    ctx: &Ctx<'_>,
    mb: &mut Mailbox,
    kind: DeltaKind,
    epoch: u64,
    config: &DeltaConfig,
) -> Result<GraphResponse, GraphError> {
    // "The only supported $filter expressions are receivedDateTime ge|gt {value}"; "the only
    // supported $orderby expression is receivedDateTime desc" (message-delta page).
    if let Some(f) = &ctx.query.filter {
        let c = super::messages::parse_filter(f)?;
        let ok = matches!(kind, DeltaKind::Messages { .. })
            && c.len() == 1
            && c[0].prop == "receivedDateTime"
            && matches!(c[0].op(), "ge" | "gt");
        if !ok {
            return Err(GraphError::bad_request(format!(
                "Unsupported $filter on delta: '{f}'. Only receivedDateTime ge|gt is supported."
            )));
        }
    }
    if let Some((p, desc)) = &ctx.query.orderby {
        if p != "receivedDateTime" || !desc || !matches!(kind, DeltaKind::Messages { .. }) {
            return Err(GraphError::bad_request(
                "Unsupported $orderby on delta: only receivedDateTime desc is supported.",
            ));
        }
    }
    let token = ctx
        .query
        .skiptoken
        .clone()
        .or_else(|| ctx.query.deltatoken.clone());
    let (query, entries, round_watermark, since, replayed) = match token {
        Some(t) => {
            let s = mb.delta.get(&t).cloned().ok_or_else(gone)?;
            if s.epoch != epoch {
                return Err(gone());
            }
            let same_kind = match (&s.kind, &kind) {
                (DeltaKind::Messages { folder_id: a }, DeltaKind::Messages { folder_id: b }) => {
                    a == b
                }
                (DeltaKind::Folders, DeltaKind::Folders) => true,
                _ => false,
            };
            if !same_kind {
                return Err(gone());
            }
            let replayed = if config.replay { s.sent } else { Vec::new() };
            match s.pending {
                Some(p) => (s.query, p.entries, p.round_watermark, p.since, replayed),
                None => {
                    let wm = mb.seq;
                    let e = changes(mb, &kind, s.watermark, s.query.change_type.as_deref());
                    (s.query, e, wm, Some(s.watermark), replayed)
                }
            }
        }
        None => {
            if let Some(ct) = &ctx.query.change_type {
                if !["created", "updated", "deleted"]
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(ct))
                {
                    return Err(GraphError::bad_request(format!(
                        "Invalid changeType '{ct}': use created, updated or deleted."
                    )));
                }
            }
            (
                ctx.query.clone(),
                initial(mb, &kind),
                mb.seq,
                None,
                Vec::new(),
            )
        }
    };
    // Apply the round's receivedDateTime filter to items (removals always pass).
    let entries = match &query.filter {
        Some(f) => {
            let clauses = super::messages::parse_filter(f)?;
            entries
                .into_iter()
                .filter(|e| match e {
                    Entry::Item(id) => mb
                        .messages
                        .get(id)
                        .is_some_and(|m| clauses.iter().all(|c| c.matches(m))),
                    Entry::Removed { .. } => true,
                })
                .collect()
        }
        None => entries,
    };
    let (size, applied) = super::page_size(ctx, 10);
    let (page, rest) = if entries.len() > size {
        let mut e = entries;
        let rest = e.split_off(size);
        (e, Some(rest))
    } else {
        (entries, None)
    };
    let sub = Ctx {
        req: ctx.req,
        claims: ctx.claims,
        query: Query {
            skip: 0,
            top: None,
            count: false,
            filter: None,
            orderby: None,
            ..query.clone()
        },
        prefer: ctx.prefer.clone(),
        user_segment: ctx.user_segment.clone(),
    };
    let immutable = ctx.immutable();
    // Only the properties changed since `since`, for an item that existed then.
    let patch = |o: Map<String, Value>, created: u64, changed: &PropertyChanges| match since {
        Some(since) if config.updated_items == UpdatedItems::Changed && created <= since => o
            .into_iter()
            .filter(|(k, _)| {
                k == "id"
                    || k.starts_with('@')
                    || changed.get(k.as_str()).is_some_and(|seq| *seq > since)
            })
            .collect(),
        _ => o,
    };
    let mut value = Vec::new();
    for e in &page {
        match (e, &kind) {
            (Entry::Item(id), DeltaKind::Messages { .. }) => {
                if let Some(m) = mb.messages.get(id) {
                    let mut o = Map::new();
                    o.insert("@odata.type".into(), json!("#microsoft.graph.message"));
                    if let Value::Object(rendered) = super::messages::render(mb, m, &sub)? {
                        o.extend(rendered);
                    }
                    value.push(Value::Object(patch(o, m.created_seq, &m.changed_props)));
                }
            }
            (Entry::Item(id), DeltaKind::Folders) => {
                if let Some(f) = mb.folders.get(id) {
                    let o = super::apply_select(
                        super::folders::folder_json(mb, f),
                        sub.query.select.as_ref(),
                        super::folders::FOLDER_PROPS,
                        "microsoft.graph.mailFolder",
                    )?;
                    value.push(Value::Object(patch(o, f.created_seq, &f.changed_props)));
                }
            }
            (
                Entry::Removed {
                    immutable_id,
                    rest_id,
                    reason,
                },
                k,
            ) => {
                let (ty, id) = match k {
                    DeltaKind::Messages { .. } => (
                        "#microsoft.graph.message",
                        if immutable { immutable_id } else { rest_id },
                    ),
                    DeltaKind::Folders => ("#microsoft.graph.mailFolder", immutable_id),
                };
                value.push(json!({"@odata.type": ty, "id": id, "@removed": {"reason": reason}}));
            }
        }
    }
    let mut out = Map::new();
    let ctx_path = match &kind {
        DeltaKind::Messages { folder_id } => {
            format!(
                "{}/mailFolders('{}')/messages/$delta",
                context_user(ctx),
                folder_id
            )
        }
        DeltaKind::Folders => format!("{}/mailFolders/$delta", context_user(ctx)),
    };
    out.insert("@odata.context".into(), json!(ctx_path));
    let epoch_now = epoch;
    let sent = value.clone();
    let value: Vec<Value> = replayed.into_iter().chain(value).collect();
    match rest {
        Some(rest) => {
            let t = mint(
                mb,
                DeltaSession {
                    kind: kind.clone(),
                    watermark: round_watermark,
                    epoch: epoch_now,
                    query: query.clone(),
                    pending: Some(Pending {
                        entries: rest,
                        round_watermark,
                        since,
                    }),
                    sent,
                },
            );
            out.insert(
                "@odata.nextLink".into(),
                json!(link_with(
                    &ctx.req.base,
                    ctx.path(),
                    &[],
                    &[],
                    &[("$skiptoken", t)]
                )),
            );
        }
        None => {
            let t = mint(
                mb,
                DeltaSession {
                    kind: kind.clone(),
                    watermark: round_watermark,
                    epoch: epoch_now,
                    query: query.clone(),
                    pending: None,
                    sent,
                },
            );
            out.insert(
                "@odata.deltaLink".into(),
                json!(link_with(
                    &ctx.req.base,
                    ctx.path(),
                    &[],
                    &[],
                    &[("$deltatoken", t)]
                )),
            );
        }
    }
    out.insert("value".into(), Value::Array(value));
    let mut resp = GraphResponse::json(200, Value::Object(out));
    if applied {
        super::add_preference(&mut resp, &format!("odata.maxpagesize={size}"));
    }
    Ok(resp)
}
