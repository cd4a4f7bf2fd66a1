//! mailFolder operations: list the root's children, list childFolders, get by id or
//! well-known name, create, rename, delete (delta is in `delta`). Owns the mailFolder
//! JSON shape (CSDL `mailFolder`: id, displayName, parentFolderId, childFolderCount,
//! unreadItemCount, totalItemCount, isHidden).
//!
//! Docs: <https://learn.microsoft.com/graph/api/user-list-mailfolders> (root's children only,
//! hidden folders only with `includeHiddenFolders=true`),
//! <https://learn.microsoft.com/graph/api/mailfolder-list-childfolders>,
//! <https://learn.microsoft.com/graph/api/mailfolder-get> and
//! <https://learn.microsoft.com/graph/api/resources/mailfolder> (well-known names).
//! The default page size of 10 for folder lists is not stated on those pages; Graph's
//! observed behaviour is 10 and we apply it (the stricter reading for a client that must
//! follow nextLink).

use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::{apply_select, context_user, page_size, Ctx, GraphResponse};
use crate::store::{Folder, Lookup, Mailbox};

pub(crate) const FOLDER_PROPS: &[&str] = &[
    "id",
    "displayName",
    "parentFolderId",
    "childFolderCount",
    "unreadItemCount",
    "totalItemCount",
    "isHidden",
];

pub(crate) fn folder_json(mb: &Mailbox, f: &Folder) -> Map<String, Value> {
    let (total, unread) = mb.counts(&f.id);
    let children = mb.children(&f.id, true).len();
    let mut o = Map::new();
    o.insert("id".into(), json!(f.id));
    o.insert("displayName".into(), json!(f.display_name));
    o.insert("parentFolderId".into(), json!(f.parent_id));
    o.insert("childFolderCount".into(), json!(children));
    o.insert("unreadItemCount".into(), json!(unread));
    o.insert("totalItemCount".into(), json!(total));
    o.insert("isHidden".into(), json!(f.hidden));
    o
}

pub(crate) fn lookup<'a>(mb: &'a Mailbox, id: &str) -> Result<&'a Folder, GraphError> {
    match mb.folder(id) {
        Lookup::Found(f) => Ok(f),
        Lookup::Malformed => Err(GraphError::id_malformed()),
        Lookup::NotFound => Err(GraphError::item_not_found()),
    }
}

pub(crate) fn get(ctx: &Ctx<'_>, mb: &Mailbox, id: &str) -> Result<GraphResponse, GraphError> {
    let f = lookup(mb, id)?;
    let mut o = Map::new();
    o.insert(
        "@odata.context".into(),
        json!(format!("{}/mailFolders/$entity", context_user(ctx))),
    );
    let body = apply_select(
        folder_json(mb, f),
        ctx.query.select.as_ref(),
        FOLDER_PROPS,
        "microsoft.graph.mailFolder",
    )?;
    o.extend(body);
    Ok(GraphResponse::json(200, Value::Object(o)))
}

/// Lists children of `parent` (the root for `GET /mailFolders`), paged with `$skip`.
pub(crate) fn list_children(
    ctx: &Ctx<'_>,
    mb: &Mailbox,
    parent: &str,
    is_root: bool,
) -> Result<GraphResponse, GraphError> {
    let parent_id = if is_root {
        mb.root_id.clone()
    } else {
        lookup(mb, parent)?.id.clone()
    };
    if ctx.query.filter.is_some() || ctx.query.orderby.is_some() {
        return Err(GraphError::not_implemented(
            "$filter/$orderby on mail folder lists",
        ));
    }
    let all = mb.children(&parent_id, ctx.query.include_hidden);
    let (size, applied) = page_size(ctx, 10);
    let skip = ctx.query.skip;
    let mut value = Vec::new();
    for f in all.iter().skip(skip).take(size) {
        let o = apply_select(
            folder_json(mb, f),
            ctx.query.select.as_ref(),
            FOLDER_PROPS,
            "microsoft.graph.mailFolder",
        )?;
        value.push(Value::Object(o));
    }
    let mut out = Map::new();
    let ctx_suffix = if is_root {
        "/mailFolders".to_string()
    } else {
        format!("/mailFolders('{}')/childFolders", parent_id)
    };
    out.insert(
        "@odata.context".into(),
        json!(format!("{}{}", context_user(ctx), ctx_suffix)),
    );
    if ctx.query.count {
        out.insert("@odata.count".into(), json!(all.len()));
    }
    out.insert("value".into(), Value::Array(value));
    if skip + size < all.len() {
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

/// One folder as Graph answers a create, rename or move: the entity with its `@odata.context`.
fn folder_entity(
    ctx: &Ctx<'_>,
    mb: &Mailbox,
    id: &str,
    status: u16,
) -> Result<GraphResponse, GraphError> {
    let folder = mb.folders.get(id).ok_or_else(GraphError::item_not_found)?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/mailFolders/$entity", context_user(ctx))),
    );
    out.extend(folder_json(mb, folder));
    Ok(GraphResponse::json(status, Value::Object(out)))
}

fn folder_body(ctx: &Ctx<'_>) -> Result<Map<String, Value>, GraphError> {
    super::json_body(ctx.req)
}

/// A folder's displayName is unique among its siblings, compared without regard to case; a
/// create, rename or move that would make two is refused, the whole request and nothing done.
/// Sources: Exchange's code and text, EWS ResponseCode "ErrorFolderExists: This error occurs
/// when an attempt is made to create a folder that has the same name as another folder in the
/// same parent. Duplicate folder names are not allowed."
/// (<https://learn.microsoft.com/exchange/client-developer/web-service-reference/responsecode>),
/// with the message of the CreateFolder error response
/// (<https://learn.microsoft.com/exchange/client-developer/web-service-reference/createfolder-operation>);
/// the status is Graph's 409 Conflict, "the current state conflicts with what the request
/// expects" (<https://learn.microsoft.com/graph/errors>), as reported for duplicate Outlook
/// folders (<https://learn.microsoft.com/answers/questions/1663376/getting-409-conflict-trying-to-create-contact-fold>).
/// The mailFolder create, update and move pages list no error responses, so the status is
/// not documented for mail folders; some clients report 400 with this code, and a client must
/// go by the code.
pub(crate) fn folder_exists() -> GraphError {
    GraphError::new(
        409,
        "ErrorFolderExists",
        "A folder with the specified name already exists.",
    )
}

/// POST /mailFolders (under the root) or /mailFolders/{id}/childFolders → 201.
/// <https://learn.microsoft.com/graph/api/user-post-mailfolders>,
/// <https://learn.microsoft.com/graph/api/mailfolder-post-childfolders>
/// (body: displayName, optional isHidden; isHidden cannot be changed later).
pub(crate) fn create(
    ctx: &Ctx<'_>,
    mb: &mut Mailbox,
    parent: Option<&str>,
) -> Result<GraphResponse, GraphError> {
    let parent_id = match parent {
        Some(p) => lookup(mb, p)?.id.clone(),
        None => mb.root_id.clone(),
    };
    let o = folder_body(ctx)?;
    for k in o.keys() {
        if !matches!(k.as_str(), "displayName" | "isHidden") && !k.starts_with('@') {
            return Err(GraphError::new(
                400,
                "RequestBroker--ParseUri",
                format!("Property '{k}' does not exist or cannot be set on type 'microsoft.graph.mailFolder'."),
            ));
        }
    }
    let name = o
        .get("displayName")
        .and_then(|n| n.as_str())
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| GraphError::bad_request("displayName is required."))?
        .to_string();
    let hidden = o.get("isHidden").and_then(|h| h.as_bool()).unwrap_or(false);
    let id = mb
        .create_folder(&parent_id, &name, hidden)
        .ok_or_else(folder_exists)?;
    folder_entity(ctx, mb, &id, 201)
}

/// PATCH /mailFolders/{id} with displayName → 200.
/// <https://learn.microsoft.com/graph/api/mailfolder-update> (only displayName is writable).
/// Renaming a well-known folder is refused (Exchange does not allow it; the page is silent).
pub(crate) fn rename(
    ctx: &Ctx<'_>,
    mb: &mut Mailbox,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let f = lookup(mb, id)?.clone();
    let o = folder_body(ctx)?;
    for k in o.keys() {
        if k != "displayName" && !k.starts_with('@') {
            return Err(GraphError::invalid_request(format!(
                "The property '{k}' cannot be updated on a mail folder."
            )));
        }
    }
    let name = o
        .get("displayName")
        .and_then(|n| n.as_str())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| GraphError::bad_request("displayName is required."))?;
    if f.well_known.is_some() {
        return Err(GraphError::invalid_request(
            "A distinguished (well-known) folder cannot be renamed.",
        ));
    }
    if mb.folders.values().any(|x| {
        x.id != f.id && x.parent_id == f.parent_id && x.display_name.eq_ignore_ascii_case(&name)
    }) {
        return Err(folder_exists());
    }
    mb.update_folder(&f.id, |x| x.display_name = name);
    folder_entity(ctx, mb, &f.id, 200)
}

/// POST /mailFolders/{id}/move with `destinationId` (an id or a well-known name) → 201 with the
/// moved folder. <https://learn.microsoft.com/graph/api/mailfolder-move>. The folder keeps its
/// id and its messages. The page is silent on a few cases; we take Exchange's stricter answers:
/// a well-known folder cannot be moved (ErrorMoveDistinguishedFolder), nor moved into itself or
/// below itself (ErrorMoveCopyFailed), nor beside a sibling of the same name (ErrorFolderExists).
pub(crate) fn move_to(
    ctx: &Ctx<'_>,
    mb: &mut Mailbox,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let f = lookup(mb, id)?.clone();
    let o = folder_body(ctx)?;
    let destination = o
        .get("destinationId")
        .and_then(|d| d.as_str())
        .ok_or_else(|| GraphError::bad_request("destinationId is required."))?;
    let target = if destination.eq_ignore_ascii_case("msgfolderroot") {
        mb.root_id.clone()
    } else {
        lookup(mb, destination)?.id.clone()
    };
    if f.well_known.is_some() {
        return Err(GraphError::new(
            400,
            "ErrorMoveDistinguishedFolder",
            "Distinguished folders cannot be moved.",
        ));
    }
    let mut p = Some(target.clone());
    while let Some(pid) = p {
        if pid == f.id {
            return Err(GraphError::new(
                400,
                "ErrorMoveCopyFailed",
                "A folder cannot be moved into itself or one of its subfolders.",
            ));
        }
        p = mb.folders.get(&pid).and_then(|x| x.parent_id.clone());
    }
    if mb.folders.values().any(|x| {
        x.id != f.id
            && x.parent_id.as_deref() == Some(target.as_str())
            && x.display_name.eq_ignore_ascii_case(&f.display_name)
    }) {
        return Err(folder_exists());
    }
    let old_parent = f.parent_id.clone().unwrap_or_default();
    mb.update_folder(&f.id, |x| x.parent_id = Some(target.clone()));
    mb.touch_folder(&old_parent);
    mb.touch_folder(&target);
    folder_entity(ctx, mb, &f.id, 201)
}

/// DELETE /mailFolders/{id} → 204. <https://learn.microsoft.com/graph/api/mailfolder-delete>
/// does not say where the folder goes; Exchange moves a deleted folder into Deleted Items
/// (and deletes it for good from there), which is what we do. Well-known folders cannot be
/// deleted (ErrorDeleteDistinguishedFolder). The page is silent on a folder of the same name
/// already in Deleted Items; sibling names are unique in Exchange ([`folder_exists`]), so we
/// take the stricter answer and refuse the move as a move would be refused (409
/// ErrorFolderExists), leaving both folders where they are.
pub(crate) fn delete(mb: &mut Mailbox, id: &str) -> Result<GraphResponse, GraphError> {
    let f = lookup(mb, id)?.clone();
    if f.well_known.is_some() {
        return Err(GraphError::new(
            400,
            "ErrorDeleteDistinguishedFolder",
            "Distinguished folders cannot be deleted.",
        ));
    }
    let deleted = mb
        .folder_id_by_well_known("deleteditems")
        .ok_or_else(GraphError::item_not_found)?;
    // Is it already inside Deleted Items?
    let mut p = f.parent_id.clone();
    let mut inside = false;
    while let Some(pid) = p {
        if pid == deleted {
            inside = true;
            break;
        }
        p = mb.folders.get(&pid).and_then(|x| x.parent_id.clone());
    }
    let old_parent = f.parent_id.clone().unwrap_or_default();
    if inside {
        // Remove the subtree and its messages.
        let mut doomed = vec![f.id.clone()];
        let mut i = 0;
        while i < doomed.len() {
            let kids: Vec<String> = mb
                .children(&doomed[i], true)
                .iter()
                .map(|c| c.id.clone())
                .collect();
            doomed.extend(kids);
            i += 1;
        }
        let msgs: Vec<String> = mb
            .messages
            .values()
            .filter(|m| doomed.contains(&m.folder_id))
            .map(|m| m.immutable_id.clone())
            .collect();
        for m in msgs {
            mb.remove_message(&m, "deleted");
        }
        for d in doomed {
            mb.folders.remove(&d);
            let seq = mb.bump();
            mb.folder_tombstones.push((d, seq));
        }
    } else {
        if mb.folders.values().any(|x| {
            x.id != f.id
                && x.parent_id.as_deref() == Some(deleted.as_str())
                && x.display_name.eq_ignore_ascii_case(&f.display_name)
        }) {
            return Err(folder_exists());
        }
        mb.update_folder(&f.id, |x| x.parent_id = Some(deleted.clone()));
        mb.touch_folder(&deleted);
    }
    mb.touch_folder(&old_parent);
    Ok(GraphResponse {
        status: axum::http::StatusCode::NO_CONTENT,
        headers: Vec::new(),
        body: super::RespBody::Empty,
    })
}
