//! Owns the JSON shapes the gateway reads from Graph, named as in the v1.0 schema
//! (`shared/graph/v1.0-Prod.csdl`: mailFolder, message, followupFlag,
//! singleValueLegacyExtendedProperty), with only the fields it selects.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The `$select` list matching [`MailFolder`].
pub const FOLDER_SELECT: &str =
    "id,displayName,parentFolderId,childFolderCount,totalItemCount,unreadItemCount,isHidden";

/// The `$select` list matching [`MessageSummary`].
pub const MESSAGE_SELECT: &str =
    "id,receivedDateTime,isRead,isDraft,flag,categories,hasAttachments";

/// PR_LAST_VERB_EXECUTED, which holds \Answered (102 reply, 103 reply-all) and $Forwarded (104).
/// Graph normalises the id to this spelling in answers.
pub const LAST_VERB_PROPERTY: &str = "Integer 0x1081";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailFolder {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub parent_folder_id: Option<String>,
    #[serde(default)]
    pub child_folder_count: Option<u32>,
    #[serde(default)]
    pub total_item_count: Option<u32>,
    #[serde(default)]
    pub unread_item_count: Option<u32>,
    #[serde(default)]
    pub is_hidden: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowupFlag {
    #[serde(default)]
    pub flag_status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExtendedProperty {
    pub id: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSummary {
    pub id: String,
    #[serde(default)]
    pub received_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub is_read: bool,
    #[serde(default)]
    pub is_draft: bool,
    #[serde(default)]
    pub flag: Option<FollowupFlag>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub has_attachments: bool,
    #[serde(default)]
    pub single_value_extended_properties: Vec<ExtendedProperty>,
}

impl MessageSummary {
    pub fn is_flagged(&self) -> bool {
        self.flag
            .as_ref()
            .and_then(|flag| flag.flag_status.as_deref())
            .is_some_and(|status| status.eq_ignore_ascii_case("flagged"))
    }

    /// PR_LAST_VERB_EXECUTED, when present.
    pub fn last_verb(&self) -> Option<i64> {
        self.single_value_extended_properties
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(LAST_VERB_PROPERTY))
            .and_then(|p| p.value.as_deref())
            .and_then(|v| v.trim().parse().ok())
    }
}

/// One page of a collection.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// One page of a delta round: entries are items or `{"id", "@removed": {"reason"}}`; the last
/// page carries the deltaLink instead of a nextLink
/// (https://learn.microsoft.com/en-us/graph/delta-query-overview).
#[derive(Debug, Deserialize)]
pub struct DeltaPage {
    pub value: Vec<serde_json::Value>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    pub delta_link: Option<String>,
}

/// What one delta round said: each item named once, by its last entry in the round.
#[derive(Debug, Clone)]
pub struct DeltaRound<T> {
    /// New or changed items (every item, in a first round).
    pub changed: Vec<T>,
    /// Ids of items that went (deleted, or moved out of the folder).
    pub removed: Vec<String>,
    /// Where the next round starts.
    pub delta_link: String,
}

/// One answer inside a `$batch` response.
#[derive(Debug, Deserialize)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: std::collections::HashMap<String, serde_json::Value>,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

impl BatchResponse {
    /// A header of this answer, by case-insensitive name, when it is a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Deserialize)]
pub struct BatchResponses {
    pub responses: Vec<BatchResponse>,
}

/// The identity platform's successful token answer.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}
