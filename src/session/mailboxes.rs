//! Owns the authenticated-state commands that change the mailbox: APPEND (RFC 3501 6.3.11,
//! APPENDUID of RFC 4315), CREATE, DELETE and RENAME with RFC 3501's rules for INBOX and the
//! hierarchy, and SUBSCRIBE / UNSUBSCRIBE (kept in the uid store; LSUB reads them).

use chrono::Utc;
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::mailbox::Mailbox;

use super::write::FlagSet;
use super::{folder_named, mailbox_name, Refusal};
use crate::graph::GraphError;
use crate::hub::{normalise_inbox, AppendError, HubError, MailboxHub};

/// A folder the client names as a destination (APPEND, COPY, MOVE): `NO [TRYCREATE]` when it
/// does not exist (RFC 3501 6.3.11, 6.4.7).
pub(super) async fn destination(
    hub: &MailboxHub,
    mailbox: &Mailbox<'_>,
) -> Result<crate::hub::Folder, Refusal> {
    folder_named(hub, mailbox).await.map_err(|refusal| {
        if refusal.code == Some("NONEXISTENT") {
            Refusal::no("TRYCREATE", "no such folder; CREATE it first")
        } else {
            refusal
        }
    })
}

/// APPEND of one message.
pub(super) async fn append(
    hub: &MailboxHub,
    mailbox: &Mailbox<'_>,
    flags: &[Flag<'_>],
    date: Option<&DateTime>,
    message: &LiteralOrLiteral8<'_>,
) -> Result<String, Refusal> {
    let folder = destination(hub, mailbox).await?;
    let flags = FlagSet::parse(flags)?.into_flags();
    let bytes: &[u8] = match message {
        LiteralOrLiteral8::Literal(literal) => literal.data(),
        LiteralOrLiteral8::Literal8(literal) => literal.data.as_ref(),
    };
    let internal_date = date.map(|d| d.as_ref().with_timezone(&Utc));
    let (uid_validity, uid) = hub
        .append(&folder.id, bytes, &flags, internal_date)
        .await
        .map_err(|err| match err {
            AppendError::Unappendable(refused) => Refusal::no(
                refused.code,
                format!("the message was not appended: {}", refused.reason),
            ),
            // Graph refused the message itself: sending it again would not help.
            AppendError::Hub(HubError::Graph(GraphError::Api {
                status: 400 | 413, ..
            })) => {
                tracing::warn!(mailbox = %hub.mailbox(), error = %err, "APPEND refused by Graph");
                Refusal::no(
                    "CANNOT",
                    format!("Exchange refused the message (nothing was kept): {err}"),
                )
            }
            // Denied (403) is no temporary condition.
            AppendError::Hub(err @ HubError::Graph(GraphError::Api { status: 403, .. })) => {
                Refusal::from_hub(err)
            }
            err => {
                tracing::warn!(mailbox = %hub.mailbox(), error = %err, "APPEND failed");
                Refusal::no(
                    "UNAVAILABLE",
                    format!("the message was not appended (nothing was kept): {err}"),
                )
            }
        })?;
    Ok(format!("[APPENDUID {uid_validity} {uid}] APPEND completed"))
}

/// The full name a client gives to CREATE or RENAME: modified UTF-7 decoded, INBOX spelled
/// so, a trailing delimiter dropped (RFC 3501 6.3.3); empty levels refused.
fn new_name(mailbox: &Mailbox<'_>) -> Result<String, Refusal> {
    let name = normalise_inbox(mailbox_name(mailbox)?.trim_end_matches('/'));
    if name.is_empty() || name.split('/').any(str::is_empty) {
        return Err(Refusal::bad(
            "folder names need a non-empty name at every level",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Refusal::bad("folder names cannot hold control characters"));
    }
    Ok(name)
}

fn refused_by_graph(err: HubError, what: &str) -> Refusal {
    match &err {
        HubError::Graph(GraphError::Api { status: 409, .. }) => {
            Refusal::no("ALREADYEXISTS", "a folder of that name exists")
        }
        HubError::Graph(GraphError::Api { status: 400, .. }) => Refusal::no(
            "CANNOT",
            format!("Exchange refused to {what} the folder: {err}"),
        ),
        _ => Refusal::from_hub(err),
    }
}

/// CREATE, with any missing folder above it.
pub(super) async fn create(hub: &MailboxHub, mailbox: &Mailbox<'_>) -> Result<String, Refusal> {
    let name = new_name(mailbox)?;
    let tree = hub.folders(true).await.map_err(Refusal::from_hub)?;
    if tree.find(&name).is_some() {
        return Err(Refusal::no("ALREADYEXISTS", "that folder exists"));
    }
    hub.create_folder(&name)
        .await
        .map_err(|err| refused_by_graph(err, "create"))?;
    // CREATE does not subscribe (RFC 3501 6.3.3, and Dovecot): what it made, parents made along
    // the way included, stays out of LSUB until SUBSCRIBE. Folders made elsewhere (Outlook)
    // count as subscribed until UNSUBSCRIBE.
    let mut made = String::new();
    for level in name.split('/') {
        if !made.is_empty() {
            made.push('/');
        }
        made.push_str(level);
        if tree.find(&made).is_none() {
            if let Err(err) = hub.set_subscription(&made, false).await {
                tracing::warn!(mailbox = %hub.mailbox(), error = %err, "could not record a new folder as unsubscribed");
            }
        }
    }
    Ok("CREATE completed".into())
}

/// DELETE of a folder without subfolders (Graph would delete them too); INBOX and the
/// well-known folders stay.
pub(super) async fn delete(hub: &MailboxHub, mailbox: &Mailbox<'_>) -> Result<String, Refusal> {
    let folder = folder_named(hub, mailbox).await?;
    if folder.name == "INBOX" || folder.well_known.is_some() {
        return Err(Refusal::no(
            "CANNOT",
            "INBOX and the special folders cannot be deleted",
        ));
    }
    if folder.has_children {
        return Err(Refusal::no(
            "INUSE",
            "the folder has subfolders: delete them first",
        ));
    }
    hub.delete_folder(&folder)
        .await
        .map_err(|err| refused_by_graph(err, "delete"))?;
    Ok("DELETE completed".into())
}

/// RENAME, also to another place in the hierarchy (missing parents are created). The folder
/// keeps its Graph id, so UIDVALIDITY and UIDs stay.
pub(super) async fn rename(
    hub: &MailboxHub,
    from: &Mailbox<'_>,
    to: &Mailbox<'_>,
) -> Result<String, Refusal> {
    let folder = folder_named(hub, from).await?;
    let target = new_name(to)?;
    if folder.name == "INBOX" {
        return rename_inbox(hub, &folder, &target).await;
    }
    if folder.well_known.is_some() {
        return Err(Refusal::no(
            "CANNOT",
            "the special folders cannot be renamed",
        ));
    }
    if target == folder.name {
        return Err(Refusal::no("ALREADYEXISTS", "that is the folder's name"));
    }
    if target.starts_with(&format!("{}/", folder.name)) {
        return Err(Refusal::no("CANNOT", "a folder cannot move under itself"));
    }
    let tree = hub.folders(true).await.map_err(Refusal::from_hub)?;
    if tree.find(&target).is_some() {
        return Err(Refusal::no(
            "ALREADYEXISTS",
            "a folder of the new name exists",
        ));
    }
    hub.rename_folder(&folder, &target)
        .await
        .map_err(|err| refused_by_graph(err, "rename"))?;
    Ok("RENAME completed".into())
}

/// RENAME of INBOX (RFC 3501 6.3.5): every message of INBOX moves into a new folder of the
/// new name, and INBOX stays, empty.
async fn rename_inbox(
    hub: &MailboxHub,
    inbox: &crate::hub::Folder,
    target: &str,
) -> Result<String, Refusal> {
    let tree = hub.folders(true).await.map_err(Refusal::from_hub)?;
    if target == "INBOX" || tree.find(target).is_some() {
        return Err(Refusal::no(
            "ALREADYEXISTS",
            "a folder of the new name exists",
        ));
    }
    hub.create_folder(target)
        .await
        .map_err(|err| refused_by_graph(err, "create"))?;
    let created = hub
        .folders(false)
        .await
        .map_err(Refusal::from_hub)?
        .find(target)
        .cloned()
        .ok_or_else(|| Refusal::no("UNAVAILABLE", "the new folder did not appear"))?;
    let snapshot = hub
        .folder_snapshot(&inbox.id)
        .await
        .map_err(Refusal::from_hub)?;
    if snapshot.messages.is_empty() {
        return Ok("RENAME completed: INBOX was empty".into());
    }
    let moved = hub
        .transfer(&inbox.id, &created.id, &snapshot.messages, true)
        .await
        .map_err(Refusal::from_hub)?;
    let failed = moved.results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        return Err(Refusal::no(
            "UNAVAILABLE",
            format!(
                "{failed} of {} messages could not be moved and are still in INBOX",
                snapshot.messages.len()
            ),
        ));
    }
    Ok("RENAME completed: INBOX's messages moved".into())
}

/// SUBSCRIBE (`true`) or UNSUBSCRIBE (`false`) of any name (RFC 3501 6.3.6 allows names that
/// do not exist).
pub(super) async fn subscribe(
    hub: &MailboxHub,
    mailbox: &Mailbox<'_>,
    subscribed: bool,
) -> Result<String, Refusal> {
    let name = normalise_inbox(mailbox_name(mailbox)?.trim_end_matches('/'));
    if name.is_empty() {
        return Err(Refusal::bad("empty folder name"));
    }
    hub.set_subscription(&name, subscribed)
        .await
        .map_err(Refusal::from_hub)?;
    Ok(if subscribed {
        "SUBSCRIBE completed"
    } else {
        "UNSUBSCRIBE completed"
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(name: &str) -> Mailbox<'static> {
        Mailbox::try_from(name.to_string()).unwrap()
    }

    #[test]
    fn new_names_follow_the_rules() {
        assert_eq!(
            new_name(&mailbox("Projects/2026/")).unwrap(),
            "Projects/2026"
        );
        assert_eq!(new_name(&mailbox("inbox/Sub")).unwrap(), "INBOX/Sub");
        assert_eq!(new_name(&mailbox("Caf&AOk-")).unwrap(), "Café");
        assert!(new_name(&mailbox("a//b")).is_err());
    }

    /// A name that is not canonical modified UTF-7 is BAD in every command (they all decode
    /// through `mailbox_name`), whether it is a second spelling of a folder or no spelling.
    #[test]
    fn names_outside_canonical_modified_utf7_are_bad() {
        for name in [
            "&AAA",
            "&Jjo",
            "&AGE-",
            "Caf&AOk-&AOk-",
            "Caf&AOkA6Q-x&AGE-",
            "Café",
        ] {
            let refusal = mailbox_name(&mailbox(name)).unwrap_err();
            assert!(refusal.bad, "{name:?} was not BAD");
            assert!(new_name(&mailbox(name)).unwrap_err().bad, "{name:?}");
        }
        assert_eq!(mailbox_name(&mailbox("Caf&AOkA6Q-")).unwrap(), "Caféé");
        assert_eq!(mailbox_name(&mailbox("A&-B")).unwrap(), "A&B");
    }
}
