//! Owns the requests that change a mailbox: message PATCHes, the `move`/`copy` actions,
//! DELETE and `permanentDelete` (batched, twenty to a `$batch`), message creation (from JSON,
//! or from MIME as a draft), attachments (inline under 3 MB, upload sessions above), and
//! folder creation, renaming, moving and deletion. Everything goes through
//! [`MailboxGraph::execute`] or [`MailboxGraph::batch`], so the limiter, retries and token
//! refresh of `client` apply; nothing here knows IMAP.
//!
//! Pages: <https://learn.microsoft.com/en-us/graph/api/message-update>,
//! <https://learn.microsoft.com/en-us/graph/api/message-move>,
//! <https://learn.microsoft.com/en-us/graph/api/message-copy>,
//! <https://learn.microsoft.com/en-us/graph/api/message-delete>,
//! <https://learn.microsoft.com/en-us/graph/api/message-permanentdelete>,
//! <https://learn.microsoft.com/en-us/graph/api/mailfolder-post-messages>,
//! <https://learn.microsoft.com/en-us/graph/api/message-post-attachments>,
//! <https://learn.microsoft.com/en-us/graph/api/attachment-createuploadsession>,
//! <https://learn.microsoft.com/en-us/graph/api/user-post-mailfolders>,
//! <https://learn.microsoft.com/en-us/graph/api/mailfolder-update>,
//! <https://learn.microsoft.com/en-us/graph/api/mailfolder-move>,
//! <https://learn.microsoft.com/en-us/graph/api/mailfolder-delete>.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{decode_answers, encode, BatchRequest, MailboxGraph, RequestSpec};
use super::model::{MailFolder, MessageSummary};
use super::GraphError;

/// Largest attachment sent inside a JSON request; larger ones go through an upload session
/// (https://learn.microsoft.com/en-us/graph/outlook-large-attachments: 3 MB to 150 MB).
pub const INLINE_ATTACHMENT_LIMIT: usize = 3 * 1024 * 1024;
/// Bytes per PUT of an upload session (each must be under 4 MB).
const UPLOAD_CHUNK: usize = 3 * 1024 * 1024;

/// What to do with many messages at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageAction {
    /// `DELETE`: recoverable by an administrator.
    Delete,
    /// `POST …/permanentDelete`.
    PermanentDelete,
    /// `POST …/move` to the folder (id or well-known name).
    Move(String),
    /// `POST …/copy` to the folder (id or well-known name).
    Copy(String),
}

/// One file to attach to a message.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub name: String,
    pub content_type: String,
    pub content_id: Option<String>,
    pub is_inline: bool,
    pub bytes: Bytes,
}

impl NewAttachment {
    /// The `#microsoft.graph.fileAttachment` JSON with its bytes in base64.
    pub fn to_json(&self) -> Value {
        use base64::Engine;
        let mut value = json!({
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": self.name,
            "contentType": self.content_type,
            "isInline": self.is_inline,
            "contentBytes": base64::engine::general_purpose::STANDARD.encode(&self.bytes),
        });
        if let Some(id) = &self.content_id {
            value["contentId"] = json!(id);
        }
        value
    }
}

impl MailboxGraph {
    /// PATCHes many messages, each with its own JSON, through `$batch`; each answer is the
    /// message as Graph holds it afterwards.
    pub async fn patch_messages(
        &self,
        patches: Vec<(String, Value)>,
    ) -> Result<Vec<Result<MessageSummary, GraphError>>, GraphError> {
        let base = self.relative_user_path();
        let requests = patches
            .into_iter()
            .map(|(id, body)| BatchRequest {
                method: "PATCH",
                url: format!("{base}/messages/{}", encode(&id)),
                body: Some(body),
            })
            .collect();
        Ok(decode_answers(self.batch(requests, true).await?, "PATCH"))
    }

    /// Applies one action to many messages through `$batch`. Each answer is the id of the
    /// resulting message for `Move` and `Copy` (from the 201 body), `None` otherwise.
    pub async fn message_actions(
        &self,
        ids: &[&str],
        action: &MessageAction,
    ) -> Result<Vec<Result<Option<String>, GraphError>>, GraphError> {
        let base = self.relative_user_path();
        let requests: Vec<BatchRequest> = ids
            .iter()
            .map(|id| {
                let url = format!("{base}/messages/{}", encode(id));
                match action {
                    MessageAction::Delete => BatchRequest {
                        method: "DELETE",
                        url,
                        body: None,
                    },
                    MessageAction::PermanentDelete => BatchRequest {
                        method: "POST",
                        url: format!("{url}/permanentDelete"),
                        body: None,
                    },
                    MessageAction::Move(destination) => BatchRequest {
                        method: "POST",
                        url: format!("{url}/move"),
                        body: Some(json!({ "destinationId": destination })),
                    },
                    MessageAction::Copy(destination) => BatchRequest {
                        method: "POST",
                        url: format!("{url}/copy"),
                        body: Some(json!({ "destinationId": destination })),
                    },
                }
            })
            .collect();
        // A copy sent twice makes two copies; everything else may be repeated.
        let idempotent = !matches!(action, MessageAction::Copy(_));
        let answers = self.batch(requests, idempotent).await?;
        Ok(answers
            .into_iter()
            .map(|answer| {
                let body = answer?;
                Ok(body.get("id").and_then(Value::as_str).map(str::to_string))
            })
            .collect())
    }

    /// `{base}/users/{mailbox}/mailFolders/{folder}/messages`, where messages are created.
    fn folder_messages_url(&self, folder_id: &str) -> String {
        format!(
            "{}/mailFolders/{}/messages",
            self.user_path(),
            encode(folder_id)
        )
    }

    /// Creates a message in a folder from Graph's message JSON; returns its id.
    pub async fn create_message(
        &self,
        folder_id: &str,
        message: Value,
    ) -> Result<String, GraphError> {
        let url = self.folder_messages_url(folder_id);
        let (_, body) = self
            .execute(RequestSpec {
                method: Method::POST,
                url,
                json: Some(message),
                text: None,
                extra_prefer: None,
                idempotent: false,
            })
            .await?;
        created_id(&body)
    }

    /// The id of a message created in the folder since `since` with this `internetMessageId`:
    /// how a creation whose answer was lost (a connection reset after Graph acted) is found, so
    /// that it is neither made twice nor left behind.
    pub async fn find_created(
        &self,
        folder_id: &str,
        since: chrono::DateTime<chrono::Utc>,
        internet_message_id: &str,
    ) -> Result<Option<String>, GraphError> {
        Ok(self
            .created_since(folder_id, since)
            .await?
            .into_iter()
            .find(|(_, id)| id.as_deref() == Some(internet_message_id))
            .map(|(id, _)| id))
    }

    /// (id, internetMessageId) of the messages created in the folder since `since`.
    pub async fn created_since(
        &self,
        folder_id: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(String, Option<String>)>, GraphError> {
        let filter = encode(&format!(
            "createdDateTime ge {}",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        let url = format!(
            "{}/mailFolders/{}/messages?$filter={filter}&$select=id,internetMessageId&$top=1000",
            self.user_path(),
            encode(folder_id)
        );
        let found: Vec<Value> = self.list_all(url).await?;
        Ok(found
            .into_iter()
            .filter_map(|m| {
                let id = m.get("id").and_then(Value::as_str)?.to_string();
                let internet_id = m
                    .get("internetMessageId")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Some((id, internet_id))
            })
            .collect())
    }

    /// The `internetMessageId` of each message (`None` where Graph could not say).
    pub async fn internet_message_ids(
        &self,
        ids: &[&str],
    ) -> Result<Vec<Option<String>>, GraphError> {
        let base = self.relative_user_path();
        let urls = ids
            .iter()
            .map(|id| format!("{base}/messages/{}?$select=internetMessageId", encode(id)))
            .collect();
        Ok(self
            .batch_get(urls)
            .await?
            .into_iter()
            .map(|answer| {
                answer.ok().and_then(|v| {
                    v.get("internetMessageId")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
            })
            .collect())
    }

    /// Creates a draft in a folder from its MIME (sent base64 as `text/plain`, which Graph
    /// always saves as a draft); returns its id and the receivedDateTime its answer gave it.
    pub async fn create_mime_draft(
        &self,
        folder_id: &str,
        mime: &[u8],
    ) -> Result<(String, Option<DateTime<Utc>>), GraphError> {
        use base64::Engine;
        let url = self.folder_messages_url(folder_id);
        let (_, body) = self
            .execute(RequestSpec {
                method: Method::POST,
                url,
                json: None,
                text: Some(base64::engine::general_purpose::STANDARD.encode(mime)),
                extra_prefer: None,
                idempotent: false,
            })
            .await?;
        let received = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|value| {
                value
                    .get("receivedDateTime")
                    .and_then(Value::as_str)
                    .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            })
            .map(|time| time.with_timezone(&Utc));
        Ok((created_id(&body)?, received))
    }

    /// Attaches a file to a message: in one POST under 3 MB, else through an upload session.
    pub async fn add_attachment(
        &self,
        message_id: &str,
        attachment: &NewAttachment,
    ) -> Result<(), GraphError> {
        let url = format!(
            "{}/messages/{}/attachments",
            self.user_path(),
            encode(message_id)
        );
        if attachment.bytes.len() < INLINE_ATTACHMENT_LIMIT {
            self.execute(RequestSpec {
                method: Method::POST,
                url,
                json: Some(attachment.to_json()),
                text: None,
                extra_prefer: None,
                idempotent: false,
            })
            .await?;
            return Ok(());
        }
        let mut item = json!({
            "attachmentType": "file",
            "name": attachment.name,
            "size": attachment.bytes.len(),
            "contentType": attachment.content_type,
            "isInline": attachment.is_inline,
        });
        if let Some(id) = &attachment.content_id {
            item["contentId"] = json!(id);
        }
        let (_, body) = self
            .execute(RequestSpec {
                method: Method::POST,
                url: format!("{url}/createUploadSession"),
                json: Some(json!({ "AttachmentItem": item })),
                text: None,
                extra_prefer: None,
                idempotent: false,
            })
            .await?;
        let session: Value = serde_json::from_slice(&body)
            .map_err(|err| GraphError::Decode(format!("uploadSession: {err}")))?;
        let upload_url = session
            .get("uploadUrl")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| GraphError::Decode("uploadSession without an uploadUrl".into()))?
            .to_string();
        let total = attachment.bytes.len() as u64;
        let mut start = 0usize;
        while start < attachment.bytes.len() {
            let end = (start + UPLOAD_CHUNK).min(attachment.bytes.len());
            self.put_range(
                &upload_url,
                start as u64,
                total,
                attachment.bytes.slice(start..end),
            )
            .await?;
            start = end;
        }
        Ok(())
    }

    /// Deletes one message for good (used to undo a half-made APPEND).
    pub async fn permanent_delete(&self, message_id: &str) -> Result<(), GraphError> {
        let url = format!(
            "{}/messages/{}/permanentDelete",
            self.user_path(),
            encode(message_id)
        );
        match self
            .execute(RequestSpec {
                method: Method::POST,
                url,
                json: None,
                text: None,
                extra_prefer: None,
                idempotent: true,
            })
            .await
        {
            Err(err) if err.is_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Creates a folder under `parent` (the root when `None`).
    pub async fn create_folder(
        &self,
        parent: Option<&str>,
        display_name: &str,
    ) -> Result<MailFolder, GraphError> {
        let url = match parent {
            None => format!("{}/mailFolders", self.user_path()),
            Some(parent) => format!(
                "{}/mailFolders/{}/childFolders",
                self.user_path(),
                encode(parent)
            ),
        };
        let (_, body) = self
            .execute(RequestSpec {
                method: Method::POST,
                url,
                json: Some(json!({ "displayName": display_name })),
                text: None,
                extra_prefer: None,
                idempotent: false,
            })
            .await?;
        serde_json::from_slice(&body)
            .map_err(|err| GraphError::Decode(format!("mailFolder: {err}")))
    }

    /// Changes a folder's display name.
    pub async fn rename_folder(
        &self,
        folder_id: &str,
        display_name: &str,
    ) -> Result<(), GraphError> {
        let url = format!("{}/mailFolders/{}", self.user_path(), encode(folder_id));
        self.execute(RequestSpec {
            method: Method::PATCH,
            url,
            json: Some(json!({ "displayName": display_name })),
            text: None,
            extra_prefer: None,
            idempotent: true,
        })
        .await
        .map(|_| ())
    }

    /// Moves a folder under another (`msgfolderroot` for the top level).
    pub async fn move_folder(&self, folder_id: &str, destination: &str) -> Result<(), GraphError> {
        let url = format!(
            "{}/mailFolders/{}/move",
            self.user_path(),
            encode(folder_id)
        );
        self.execute(RequestSpec {
            method: Method::POST,
            url,
            json: Some(json!({ "destinationId": destination })),
            text: None,
            extra_prefer: None,
            idempotent: true,
        })
        .await
        .map(|_| ())
    }

    /// Deletes a folder (Exchange keeps it in Deleted Items).
    pub async fn delete_folder(&self, folder_id: &str) -> Result<(), GraphError> {
        let url = format!("{}/mailFolders/{}", self.user_path(), encode(folder_id));
        self.execute(RequestSpec {
            method: Method::DELETE,
            url,
            json: None,
            text: None,
            extra_prefer: None,
            idempotent: true,
        })
        .await
        .map(|_| ())
    }
}

/// The `id` of a 201 answer.
fn created_id(body: &[u8]) -> Result<String, GraphError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| GraphError::Decode(format!("created message: {err}")))?;
    value
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| GraphError::Decode("created message without an id".into()))
}
