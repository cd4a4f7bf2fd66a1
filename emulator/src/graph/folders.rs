//! mailFolder operations: list the root's children, list childFolders, get by id or
//! well-known name (and, in later steps, create, rename, delete, delta). Owns the mailFolder
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
