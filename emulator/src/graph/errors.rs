//! Graph's error responses: `{"error":{"code","message","innerError":{"date","request-id",
//! "client-request-id"}}}` with the HTTP status, per
//! <https://learn.microsoft.com/graph/errors> ("Error resource type": code, message,
//! innerError; innerError carries request-id and date). Owns `GraphError` and its codes.

use axum::http::StatusCode;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Extra headers (WWW-Authenticate, Retry-After).
    pub headers: Vec<(&'static str, String)>,
    /// Extra members of `innerError` (the throttling sample's `code`, `message`, `status`).
    pub inner: Vec<(&'static str, String)>,
}

impl GraphError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> GraphError {
        GraphError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.to_string(),
            message: message.into(),
            headers: Vec::new(),
            inner: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> GraphError {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_inner(mut self, name: &'static str, value: impl Into<String>) -> GraphError {
        self.inner.push((name, value.into()));
        self
    }

    pub fn body(&self, request_id: &str, client_request_id: &str) -> Value {
        let mut inner = json!({
            "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": request_id,
            "client-request-id": client_request_id,
        });
        for (name, value) in &self.inner {
            inner[*name] = json!(value);
        }
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": inner,
        }})
    }

    /// 404 for a message/folder id that is well formed but unknown. The message text is
    /// Exchange's ("The specified object was not found in the store."); the Graph pages do
    /// not list it.
    pub fn item_not_found() -> GraphError {
        GraphError::new(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        )
    }

    /// 400 for an id that is not an id at all. Message as Graph sends it
    /// (<https://github.com/mguessan/davmail/issues/459>, "Id is malformed.").
    pub fn id_malformed() -> GraphError {
        GraphError::new(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    }

    /// Unknown mailbox with application permissions: 404 ErrorInvalidUser, "The requested user
    /// '…' is invalid." (observed responses quoted in
    /// <https://github.com/microsoftgraph/microsoft-graph-docs/issues/4097> and
    /// <https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/5460>; the
    /// reference does not document this code).
    pub fn invalid_user(id: &str) -> GraphError {
        GraphError::new(
            404,
            "ErrorInvalidUser",
            format!("The requested user '{id}' is invalid."),
        )
    }

    /// 403 when the token's roles lack the permission a call needs (e.g. a write without
    /// Mail.ReadWrite): authorization errors are 403
    /// (<https://learn.microsoft.com/graph/resolve-auth-errors>); code and message as Graph
    /// sends them for mail calls, quoted whole (with innerError) in
    /// <https://github.com/microsoftgraph/microsoft-graph-docs/issues/9429> and
    /// <https://github.com/O365/python-o365/issues/855>.
    pub fn access_denied() -> GraphError {
        GraphError::new(
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> GraphError {
        GraphError::new(400, "BadRequest", message)
    }

    pub fn invalid_request(message: impl Into<String>) -> GraphError {
        GraphError::new(400, "ErrorInvalidRequest", message)
    }

    /// A call the emulator does not implement: 501 naming it, so gaps are visible (issue 3).
    pub fn not_implemented(what: &str) -> GraphError {
        GraphError::new(
            501,
            "NotImplemented",
            format!("The imap2graph emulator does not implement {what}."),
        )
    }
}
