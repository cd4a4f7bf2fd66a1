//! Owns what a session refuses because the application may only read mail (its token's
//! roles grant reading and not `Mail.ReadWrite`, see [`crate::graph::MailAccess`]): every
//! command that would change the mailbox answers `NO [NOPERM]` (RFC 5530 3: the access
//! control system does not permit the operation) before any Graph request, and SELECT opens
//! folders read-only. SUBSCRIBE and UNSUBSCRIBE stay allowed: they change the gateway's uid
//! store, not the mailbox (as Dovecot keeps subscriptions whatever a folder's ACL allows).

use imap_codec::imap_types::command::CommandBody;

use super::Refusal;

/// Whether `body` would change the mailbox. Commands of the selected state count only when a
/// folder is selected (otherwise they are BAD, whatever the application may do).
pub(super) fn changes_mailbox(body: &CommandBody<'_>, selected: bool) -> bool {
    match body {
        CommandBody::Append { .. }
        | CommandBody::Create { .. }
        | CommandBody::Delete { .. }
        | CommandBody::Rename { .. } => true,
        CommandBody::Store { .. }
        | CommandBody::Expunge
        | CommandBody::ExpungeUid { .. }
        | CommandBody::Copy { .. }
        | CommandBody::Move { .. } => selected,
        _ => false,
    }
}

/// The answer to a command that would change the mailbox of a read-only application.
pub(super) fn no_permission(command: &str) -> Refusal {
    Refusal::no(
        "NOPERM",
        format!(
            "{command} needs the application permission Mail.ReadWrite; this application may \
             only read mail"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphError;
    use crate::hub::HubError;

    fn graph_error(status: u16, code: &str) -> HubError {
        HubError::Graph(GraphError::Api {
            status,
            code: code.into(),
            message: "Access is denied. Check credentials and try again.".into(),
        })
    }

    #[test]
    fn graph_denying_access_is_noperm_never_unavailable() {
        let denied = Refusal::from_hub(graph_error(403, "ErrorAccessDenied"));
        assert_eq!(denied.code, Some("NOPERM"));
        let partly = Refusal::partly_done(
            "1 of 2 copied".into(),
            Some(&graph_error(403, "ErrorAccessDenied")),
        );
        assert_eq!(partly.code, Some("NOPERM"));
        let unavailable = HubError::Graph(GraphError::Unavailable("503".into()));
        assert_eq!(
            Refusal::partly_done("".into(), Some(&unavailable)).code,
            None
        );
        assert_eq!(Refusal::from_hub(unavailable).code, Some("UNAVAILABLE"));
        assert_eq!(no_permission("STORE").code, Some("NOPERM"));
    }
}
