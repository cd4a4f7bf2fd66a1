//! Owns reading a message's attachments: the list (ids, names, types, kinds, without their
//! contents) and one attachment's raw contents, by which an exact record (`crate::exact`) is
//! made at APPEND and rebuilt at FETCH; and whether messages that left a folder still exist
//! (moved elsewhere, keeping their record) or are gone (their record goes).
//!
//! Pages: <https://learn.microsoft.com/en-us/graph/api/message-list-attachments> and
//! <https://learn.microsoft.com/en-us/graph/api/attachment-get> ("Get the raw contents of a
//! file or item attachment": append `/$value`; a file attachment's bytes come as they are, an
//! item attachment's as MIME).

use bytes::Bytes;
use serde::Deserialize;

use super::client::{encode, MailboxGraph, RequestSpec};
use super::GraphError;
use crate::exact::ListedAttachment;

/// One attachment as listed with `$select` (the `@odata.type` comes with every derived type).
#[derive(Deserialize)]
struct AttachmentItem {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "contentType", default)]
    content_type: Option<String>,
    #[serde(rename = "@odata.type", default)]
    odata_type: Option<String>,
}

impl MailboxGraph {
    fn attachments_url(&self, message_id: &str) -> String {
        format!(
            "{}/messages/{}/attachments",
            self.user_path(),
            encode(message_id)
        )
    }

    /// The message's attachments without their contents.
    pub async fn list_attachments(
        &self,
        message_id: &str,
    ) -> Result<Vec<ListedAttachment>, GraphError> {
        let url = format!(
            "{}?$select=id,name,contentType",
            self.attachments_url(message_id)
        );
        let items: Vec<AttachmentItem> = self.list_all(url).await?;
        Ok(items
            .into_iter()
            .map(|item| ListedAttachment {
                is_file: item
                    .odata_type
                    .as_deref()
                    .is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.fileAttachment")),
                id: item.id,
                name: item.name.unwrap_or_default(),
                content_type: item.content_type.unwrap_or_default(),
            })
            .collect())
    }

    /// Whether each message is gone from the mailbox (Graph answers not found), in the order
    /// asked, through `$batch`; any other answer counts as still there.
    pub async fn messages_gone(&self, ids: &[&str]) -> Result<Vec<bool>, GraphError> {
        let base = self.relative_user_path();
        let urls = ids
            .iter()
            .map(|id| format!("{base}/messages/{}?$select=id", encode(id)))
            .collect();
        Ok(self
            .batch_get(urls)
            .await?
            .into_iter()
            .map(|answer| answer.is_err_and(|err| err.is_not_found()))
            .collect())
    }

    /// One attachment's raw contents.
    pub async fn attachment_value(
        &self,
        message_id: &str,
        attachment_id: &str,
    ) -> Result<Bytes, GraphError> {
        let url = format!(
            "{}/{}/$value",
            self.attachments_url(message_id),
            encode(attachment_id)
        );
        let (_, body) = self.execute(RequestSpec::get(url)).await?;
        Ok(body)
    }

    /// Deletes an attachment, as an Outlook user does (tests).
    #[cfg(test)]
    pub async fn delete_attachment(
        &self,
        message_id: &str,
        attachment_id: &str,
    ) -> Result<(), GraphError> {
        let url = format!(
            "{}/{}",
            self.attachments_url(message_id),
            encode(attachment_id)
        );
        self.execute(RequestSpec {
            method: reqwest::Method::DELETE,
            url,
            json: None,
            text: None,
            extra_prefer: None,
            idempotent: true,
        })
        .await?;
        Ok(())
    }
}
