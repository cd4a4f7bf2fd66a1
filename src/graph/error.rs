//! Owns the errors of Graph and of the identity platform, parsed from their documented bodies:
//! Graph's `{"error":{"code","message"}}`
//! (https://learn.microsoft.com/en-us/graph/errors) and the identity platform's
//! `{"error","error_description","error_codes"}`
//! (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes).

use serde::Deserialize;

/// Why a token request was refused, in the terms an IMAP client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// AADSTS7000215 (invalid secret) or AADSTS7000222 (expired secret).
    InvalidSecret,
    /// AADSTS700016: no such application in the tenant.
    UnknownApplication,
    /// AADSTS90002 / AADSTS900023: no such tenant, or not a tenant's shape.
    UnknownTenant,
    /// Anything else the identity platform refused, with its AADSTS code.
    Refused(String),
}

impl AuthFailure {
    /// A short reason for the client, never containing what the client sent.
    pub fn reason(&self) -> String {
        match self {
            AuthFailure::InvalidSecret => "invalid or expired client secret".into(),
            AuthFailure::UnknownApplication => "application not found in the tenant".into(),
            AuthFailure::UnknownTenant => "tenant not found".into(),
            AuthFailure::Refused(code) => format!("identity platform refused the login ({code})"),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphError {
    #[error("identity platform: {}", .0.reason())]
    Auth(AuthFailure),
    /// The identity platform or Graph could not be reached or kept failing (5xx, resets,
    /// timeouts, throttling beyond the retry budget).
    #[error("Microsoft Graph unavailable: {0}")]
    Unavailable(String),
    /// Graph answered with an error for this request.
    #[error("Microsoft Graph: {status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// Graph answered 2xx with a body we could not read.
    #[error("Microsoft Graph: unexpected response: {0}")]
    Decode(String),
}

impl GraphError {
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Graph no longer knows a delta token: the folder must be synchronised from scratch.
    /// Outlook answers 410 Gone with `SyncStateNotFound`
    /// (https://learn.microsoft.com/en-us/graph/delta-query-overview speaks of
    /// `syncStateNotFound`, and of `resyncRequired` for other resources).
    pub fn is_sync_state_lost(&self) -> bool {
        match self {
            GraphError::Api { status, code, .. } => {
                *status == 410
                    || ["SyncStateNotFound", "SyncStateInvalid", "resyncRequired"]
                        .iter()
                        .any(|known| code.eq_ignore_ascii_case(known))
            }
            _ => false,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Graph refused for want of permission: 403 `ErrorAccessDenied`, "Access is denied. Check
    /// credentials and try again." when the application lacks the permission a call needs
    /// (https://learn.microsoft.com/en-us/graph/resolve-auth-errors: authorization errors are
    /// mostly 403). Asking again will not help: IMAP's `[NOPERM]`, never `[UNAVAILABLE]`.
    pub fn is_access_denied(&self) -> bool {
        self.status() == Some(403) || self.code() == Some("ErrorAccessDenied")
    }

    /// The mailbox does not exist, has no Exchange Online mailbox, or this application may not
    /// open it (application access policy).
    pub fn is_mailbox_refused(&self) -> bool {
        match self {
            GraphError::Api { status, code, .. } => {
                matches!(*status, 403 | 404)
                    || matches!(
                        code.as_str(),
                        "ErrorInvalidUser"
                            | "MailboxNotEnabledForRESTAPI"
                            | "ErrorAccessDenied"
                            | "ResourceNotFound"
                    )
            }
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphErrorDetail,
}

#[derive(Deserialize)]
struct GraphErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Reads Graph's error body; falls back to the status line when the body is not Graph's shape.
pub fn parse_graph_error(status: u16, body: &[u8]) -> GraphError {
    match serde_json::from_slice::<GraphErrorBody>(body) {
        Ok(parsed) => GraphError::Api {
            status,
            code: parsed.error.code,
            message: truncate(&parsed.error.message, 300),
        },
        Err(_) => GraphError::Api {
            status,
            code: format!("HTTP{status}"),
            message: truncate(&String::from_utf8_lossy(body), 200),
        },
    }
}

#[derive(Deserialize)]
struct TokenErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

/// Reads the identity platform's error body into what the IMAP client will be told.
pub fn parse_token_error(status: u16, body: &[u8]) -> GraphError {
    if status >= 500 || status == 429 {
        return GraphError::Unavailable(format!("identity platform answered {status}"));
    }
    let Ok(parsed) = serde_json::from_slice::<TokenErrorBody>(body) else {
        return GraphError::Unavailable(format!(
            "identity platform answered {status} with an unreadable body"
        ));
    };
    let failure = match parsed.error_codes.first() {
        Some(7000215) | Some(7000222) | Some(7000216) => AuthFailure::InvalidSecret,
        Some(700016) => AuthFailure::UnknownApplication,
        Some(90002) | Some(900023) | Some(90072) => AuthFailure::UnknownTenant,
        Some(code) => AuthFailure::Refused(format!("AADSTS{code}")),
        None => AuthFailure::Refused(parsed.error),
    };
    GraphError::Auth(failure)
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_map_to_failures() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#;
        assert!(matches!(
            parse_token_error(401, body),
            GraphError::Auth(AuthFailure::InvalidSecret)
        ));
        let body = br#"{"error":"invalid_request","error_codes":[90002]}"#;
        assert!(matches!(
            parse_token_error(400, body),
            GraphError::Auth(AuthFailure::UnknownTenant)
        ));
        assert!(matches!(
            parse_token_error(503, b""),
            GraphError::Unavailable(_)
        ));
    }

    #[test]
    fn graph_errors_keep_code() {
        let body = br#"{"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store."}}"#;
        let err = parse_graph_error(404, body);
        assert_eq!(err.code(), Some("ErrorItemNotFound"));
        assert!(err.is_not_found());
        assert_eq!(parse_graph_error(502, b"<html>").code(), Some("HTTP502"));
        let body = br#"{"error":{"code":"ErrorAccessDenied","message":"Access is denied. Check credentials and try again."}}"#;
        assert!(parse_graph_error(403, body).is_access_denied());
        assert!(!parse_graph_error(404, b"").is_access_denied());
    }
}
