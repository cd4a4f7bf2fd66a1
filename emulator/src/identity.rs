//! The identity platform's token endpoint (`POST /{tenant}/oauth2/v2.0/token`, client
//! credentials grant) and validation of the access tokens it issues. Owns the token format
//! (an HMAC-signed JWT-shaped string carrying tenant, app, roles and expiry) and the
//! identity platform's error bodies.
//!
//! Docs:
//! - <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>
//!   (request parameters: client_id, scope, client_secret, grant_type=client_credentials;
//!   secret in the body or as HTTP Basic; success body token_type/expires_in/ext_expires_in/
//!   access_token; error body error/error_description/error_codes/timestamp/trace_id/
//!   correlation_id).
//! - <https://learn.microsoft.com/entra/identity-platform/reference-error-codes> (error body
//!   shape with `error_uri`, description "AADSTSnnnn: …\r\nTrace ID: …\r\nCorrelation ID:
//!   …\r\nTimestamp: yyyy-mm-dd hh:mm:ssZ", and the AADSTS codes used below).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::config::TenantConfig;

type HmacSha256 = Hmac<Sha256>;

/// What a valid token says.
#[derive(Clone, Debug)]
pub(crate) struct TokenClaims {
    pub tenant_id: String,
    pub app_id: String,
    pub roles: Vec<String>,
    pub exp: i64,
    pub iat: i64,
}

/// Why a bearer token was refused (Graph answers 401 InvalidAuthenticationToken).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenError {
    Missing,
    Malformed,
    BadSignature,
    Expired,
}

impl TokenError {
    /// Messages as Graph sends them. "Access token is empty." and "Access token validation
    /// failure." appear verbatim in Graph responses quoted in
    /// <https://github.com/microsoftgraph/msgraph-sample-reactspa/issues/54> and
    /// <https://github.com/microsoftgraph/console-java-connect-sample/issues/1>; the
    /// reference pages do not list the messages.
    pub fn message(&self) -> &'static str {
        match self {
            TokenError::Missing => "Access token is empty.",
            TokenError::Malformed => "IDX14100: JWT is not well formed, there are no dots (.).",
            TokenError::BadSignature => "Access token validation failure. Invalid signature.",
            TokenError::Expired => "Lifetime validation failed, the token is expired.",
        }
    }
}

pub(crate) fn sign(key: &[u8], claims: &TokenClaims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256","kid":"emulator"}"#);
    let payload = json!({
        "aud": "https://graph.microsoft.com",
        "iss": format!("https://sts.windows.net/{}/", claims.tenant_id),
        "tid": claims.tenant_id,
        "appid": claims.app_id,
        "roles": claims.roles,
        "iat": claims.iat,
        "nbf": claims.iat,
        "exp": claims.exp,
        "idtyp": "app",
    });
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    let sig = mac(key, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Validates a bearer token: signature, then lifetime against `now` and `not_valid_after`
/// (an early-expiry fault).
pub(crate) fn verify(key: &[u8], token: &str, now: i64) -> Result<TokenClaims, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| TokenError::Malformed)?;
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let payload: Value = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    let claims = TokenClaims {
        tenant_id: payload["tid"].as_str().unwrap_or("").to_string(),
        app_id: payload["appid"].as_str().unwrap_or("").to_string(),
        roles: payload["roles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(|s| s.to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        exp: payload["exp"].as_i64().unwrap_or(0),
        iat: payload["iat"].as_i64().unwrap_or(0),
    };
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// An identity platform error: HTTP status and body.
pub(crate) struct IdpError {
    pub status: u16,
    pub body: Value,
}

fn idp_error(status: u16, error: &str, code: u32, text: &str) -> IdpError {
    let now = chrono::Utc::now();
    let ts = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let trace = uuid_like();
    let corr = uuid_like();
    IdpError {
        status,
        body: json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
            ),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    }
}

pub(crate) fn uuid_like() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a as u16) & 0x0fff,
        ((b >> 48) as u16 & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A DNS name as the identity platform accepts for a tenant: labels of letters, digits and
/// hyphens, at least one dot.
fn is_dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// The validated outcome of a token request.
pub(crate) struct Issued {
    pub tenant_id: String,
    pub app_id: String,
    pub roles: Vec<String>,
}

/// Checks a client-credentials request. `form` is the decoded body; `basic` the decoded
/// HTTP Basic credentials, if any.
pub(crate) fn check_request(
    tenants: &[TenantConfig],
    tenant: &str,
    form: &[(String, String)],
    basic: Option<(String, String)>,
) -> Result<Issued, IdpError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // Tenant first: the path decides which directory answers.
    let tenant_cfg = if is_guid(tenant) {
        tenants
            .iter()
            .find(|t| t.tenant_id.eq_ignore_ascii_case(tenant))
    } else if is_dns_name(tenant) {
        tenants
            .iter()
            .find(|t| t.domains.iter().any(|d| d.eq_ignore_ascii_case(tenant)))
    } else {
        return Err(idp_error(
            400,
            "invalid_request",
            900023,
            &format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        ));
    };
    let Some(tenant_cfg) = tenant_cfg else {
        return Err(idp_error(
            400,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ));
    };
    let missing = |p: &str| {
        idp_error(
            400,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{p}'."),
        )
    };
    let grant_type = get("grant_type").ok_or_else(|| missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(idp_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ));
    }
    let (client_id, secret) = match (basic, get("client_id"), get("client_secret")) {
        (Some((id, secret)), _, _) => (id, Some(secret)),
        (None, Some(id), secret) => (id.to_string(), secret.map(|s| s.to_string())),
        (None, None, _) => return Err(missing("client_id")),
    };
    let scope = get("scope").ok_or_else(|| missing("scope"))?;
    let app = tenant_cfg
        .apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(&client_id));
    let Some(app) = app else {
        return Err(idp_error(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    };
    let Some(secret) = secret else {
        return Err(idp_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if !constant_time_eq(secret.as_bytes(), app.secret.expose().as_bytes()) {
        return Err(idp_error(
            401,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }
    if app.secret_expired {
        return Err(idp_error(
            401,
            "invalid_client",
            7000222,
            &format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app.",
                app.client_id
            ),
        ));
    }
    // Client credentials need a `/.default` scope of a resource; we only serve Graph.
    let scope_ok = scope.split(' ').filter(|s| !s.is_empty()).all(|s| {
        s.eq_ignore_ascii_case("https://graph.microsoft.com/.default")
            || s.eq_ignore_ascii_case("00000003-0000-0000-c000-000000000000/.default")
    }) && !scope.trim().is_empty();
    if !scope_ok {
        return Err(idp_error(
            400,
            "invalid_scope",
            70011,
            &format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        ));
    }
    Ok(Issued {
        tenant_id: tenant_cfg.tenant_id.clone(),
        app_id: app.client_id.clone(),
        roles: app.roles.clone(),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decodes `Authorization: Basic base64(client_id:secret)` (both parts form-urlencoded as
/// RFC 6749 §2.3.1 requires).
pub(crate) fn parse_basic(header: &str) -> Option<(String, String)> {
    let rest = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let s = String::from_utf8(decoded).ok()?;
    let (id, secret) = s.split_once(':')?;
    let dec = |v: &str| {
        form_urlencoded::parse(format!("x={v}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_forgery() {
        let key = b"k";
        let c = TokenClaims {
            tenant_id: "t".into(),
            app_id: "a".into(),
            roles: vec!["Mail.Read".into()],
            exp: 100,
            iat: 0,
        };
        let t = sign(key, &c);
        assert_eq!(verify(key, &t, 50).map(|c| c.app_id).ok(), Some("a".into()));
        assert_eq!(verify(key, &t, 100).err(), Some(TokenError::Expired));
        assert_eq!(
            verify(b"other", &t, 50).err(),
            Some(TokenError::BadSignature)
        );
        assert_eq!(verify(key, "abc", 50).err(), Some(TokenError::Malformed));
        assert!(is_dns_name("contoso.example"));
        assert!(!is_dns_name("contoso"));
        assert!(is_guid("11111111-2222-3333-4444-555555555555"));
    }
}
