//! Owns the JSON shapes the gateway reads from Graph, named as in the v1.0 schema
//! (`shared/graph/v1.0-Prod.csdl`: mailFolder, message, followupFlag,
//! singleValueLegacyExtendedProperty), with only the fields it selects. A field Graph may leave
//! out is an `Option`, so that absent is not taken for false or empty: a delta item that
//! updates an item carries "at least the properties that have been updated"
//! (https://learn.microsoft.com/en-us/graph/delta-query-overview), and is merged into what is
//! known ([`MailFolder::merge`], and the hub's message states).

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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailFolder {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
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

impl MailFolder {
    /// Takes the properties `update` carries (a delta item), keeping the others.
    pub fn merge(&mut self, update: MailFolder) {
        fn take<T>(known: &mut Option<T>, update: Option<T>) {
            if update.is_some() {
                *known = update;
            }
        }
        take(&mut self.display_name, update.display_name);
        take(&mut self.parent_folder_id, update.parent_folder_id);
        take(&mut self.child_folder_count, update.child_folder_count);
        take(&mut self.total_item_count, update.total_item_count);
        take(&mut self.unread_item_count, update.unread_item_count);
        take(&mut self.is_hidden, update.is_hidden);
    }

    /// Whether it names everything the folder tree needs of a folder it does not know yet: its
    /// name and where it is.
    pub fn is_placed(&self) -> bool {
        self.display_name.is_some() && self.parent_folder_id.is_some()
    }
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

/// A message as Graph gave it: whole (a GET, a PATCH answer, a new item of a delta round), or
/// only what changed (an updated item of a delta round).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSummary {
    pub id: String,
    #[serde(default)]
    pub received_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub is_read: Option<bool>,
    #[serde(default)]
    pub is_draft: Option<bool>,
    #[serde(default)]
    pub flag: Option<FollowupFlag>,
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    #[serde(default)]
    pub has_attachments: Option<bool>,
    /// Present when expanded (PR_LAST_VERB_EXECUTED): an empty list says the message has none.
    #[serde(default)]
    pub single_value_extended_properties: Option<Vec<ExtendedProperty>>,
}

impl FollowupFlag {
    pub fn is_flagged(&self) -> bool {
        self.flag_status
            .as_deref()
            .is_some_and(|status| status.eq_ignore_ascii_case("flagged"))
    }
}

impl MessageSummary {
    /// Whether it carries every property the gateway selects and expands ([`MESSAGE_SELECT`]
    /// and PR_LAST_VERB_EXECUTED).
    pub fn is_whole(&self) -> bool {
        self.received_date_time.is_some()
            && self.is_read.is_some()
            && self.is_draft.is_some()
            && self.flag.is_some()
            && self.categories.is_some()
            && self.has_attachments.is_some()
            && self.single_value_extended_properties.is_some()
    }

    /// PR_LAST_VERB_EXECUTED: `None` when the item does not say, `Some(None)` when the message
    /// has none.
    pub fn last_verb(&self) -> Option<Option<i64>> {
        self.single_value_extended_properties.as_ref().map(|props| {
            props
                .iter()
                .find(|p| p.id.eq_ignore_ascii_case(LAST_VERB_PROPERTY))
                .and_then(|p| p.value.as_deref())
                .and_then(|v| v.trim().parse().ok())
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_item_with_only_its_counts_keeps_its_name_and_place() {
        let mut known: MailFolder = serde_json::from_value(serde_json::json!({
            "id": "f", "displayName": "Projects", "parentFolderId": "root",
            "childFolderCount": 1, "totalItemCount": 5, "unreadItemCount": 2, "isHidden": false,
        }))
        .unwrap();
        let counts: MailFolder =
            serde_json::from_value(serde_json::json!({"id": "f", "unreadItemCount": 1})).unwrap();
        assert!(!counts.is_placed());
        known.merge(counts);
        assert_eq!(known.display_name.as_deref(), Some("Projects"));
        assert_eq!(known.parent_folder_id.as_deref(), Some("root"));
        assert_eq!(known.unread_item_count, Some(1));
        assert_eq!(known.total_item_count, Some(5));
    }
}
