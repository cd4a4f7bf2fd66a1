//! Owns access tokens: the client-credentials grant at
//! `{authority}/{tenant}/oauth2/v2.0/token` with scope `https://graph.microsoft.com/.default`
//! (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow),
//! the cache that keeps each token until five minutes before it expires, and what each token's
//! `roles` claim says the application may do with mail ([`MailAccess`]), kept beside it.
//!
//! The cache key holds a keyed hash of the secret (HMAC-SHA256 under a key made at start), never
//! the secret: a login with a wrong secret misses the cache and is checked by the identity
//! platform, so it can never ride on a token fetched with the right one. Concurrent logins with
//! the same key share one request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use moka::future::Cache;
use moka::Expiry;

use super::error::{parse_token_error, GraphError};
use super::model::TokenResponse;
use crate::login::{ClientId, Tenant};
use crate::secret::Secret;

/// How long before its expiry a cached token is dropped.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What a login proved: which application of which tenant, with which secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub tenant: Tenant,
    pub client_id: ClientId,
    pub secret: Secret,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    tenant: String,
    client_id: String,
    secret_mac: [u8; 32],
}

#[derive(Clone)]
struct AccessToken {
    value: Secret,
    expires_at: Instant,
    access: MailAccess,
}

/// What an access token's `roles` claim says the application may do with mail.
///
/// An app-only token (client-credentials grant) carries the application permissions an
/// administrator granted in its `roles` claim; access tokens are JWTs, header, payload and
/// signature separated by periods, each base64url; a claim is present only if it has a value
/// (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference,
/// "roles"; https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow,
/// application permissions). The gateway only reads the payload to learn the roles; it does not
/// check the signature, which is Graph's to check: nothing here grants access, it only spares
/// Graph writes it would refuse.
///
/// The gateway refuses a write itself only when the token positively says the application may
/// read mail but not write it. Anything less certain is [`MailAccess::Unknown`] and writes go to
/// Graph, which decides (its 403 becomes `NO [NOPERM]`): a token we cannot read, one without a
/// `roles` claim, or one with no mail permission at all. That is what an operator expects of a
/// tenant that grants mail access in Exchange Online instead (RBAC for Applications: those
/// grants are not Entra permissions and are not in the token,
/// https://learn.microsoft.com/en-us/exchange/permissions-exo/application-rbac), and keeps
/// working whatever Microsoft changes in a token's format, which clients are not to depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailAccess {
    /// `Mail.ReadWrite` is granted.
    ReadWrite,
    /// A permission to read mail (`Mail.Read`, `Mail.ReadBasic`, `Mail.ReadBasic.All`) is
    /// granted, `Mail.ReadWrite` is not.
    ReadOnly,
    /// The token says nothing about mail that the gateway can read.
    Unknown,
}

impl MailAccess {
    /// Reads the `roles` claim of an access token's payload. Never fails: what cannot be read
    /// is [`MailAccess::Unknown`]. The token itself never reaches a log or an error.
    pub fn of_token(token: &str) -> MailAccess {
        let Some(roles) = token_roles(token) else {
            return MailAccess::Unknown;
        };
        let granted = |name: &str| roles.iter().any(|role| role.eq_ignore_ascii_case(name));
        if granted("Mail.ReadWrite") {
            MailAccess::ReadWrite
        } else if ["Mail.Read", "Mail.ReadBasic", "Mail.ReadBasic.All"]
            .iter()
            .any(|name| granted(name))
        {
            MailAccess::ReadOnly
        } else {
            MailAccess::Unknown
        }
    }

    /// Whether writes may be sent to Graph (refused by the gateway only when read-only).
    pub fn may_write(self) -> bool {
        self != MailAccess::ReadOnly
    }
}

/// The `roles` claim of an access token's payload (the application permissions granted), or
/// `None` when the token has no readable payload or no such claim. The signature is not checked:
/// Graph does that; the gateway only reads what the token says it may do.
pub fn token_roles(token: &str) -> Option<Vec<String>> {
    let mut parts = token.split('.');
    // A signed JWT has three parts; an encrypted one (five) has no readable payload.
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let json = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    #[derive(serde::Deserialize)]
    struct Claims {
        #[serde(default)]
        roles: Option<Vec<String>>,
    }
    serde_json::from_slice::<Claims>(&json).ok()?.roles
}

struct UntilNearExpiry;

impl Expiry<TokenKey, AccessToken> for UntilNearExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        token: &AccessToken,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(
            token
                .expires_at
                .saturating_duration_since(created_at)
                .saturating_sub(EXPIRY_MARGIN),
        )
    }
}

#[derive(Clone)]
pub struct TokenCache {
    http: reqwest::Client,
    authority: String,
    mac_key: Arc<ring::hmac::Key>,
    cache: Cache<TokenKey, AccessToken>,
}

impl TokenCache {
    pub fn new(http: reqwest::Client, authority: &str) -> TokenCache {
        let rng = ring::rand::SystemRandom::new();
        let mac_key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .expect("the operating system's random source works");
        TokenCache {
            http,
            authority: authority.trim_end_matches('/').to_string(),
            mac_key: Arc::new(mac_key),
            cache: Cache::builder()
                .max_capacity(10_000)
                .expire_after(UntilNearExpiry)
                .build(),
        }
    }

    fn key(&self, credentials: &Credentials) -> TokenKey {
        let tag = ring::hmac::sign(&self.mac_key, credentials.secret.expose().as_bytes());
        let mut secret_mac = [0u8; 32];
        secret_mac.copy_from_slice(tag.as_ref());
        TokenKey {
            tenant: credentials.tenant.as_str().to_string(),
            client_id: credentials.client_id.as_str().to_string(),
            secret_mac,
        }
    }

    /// A valid token for these credentials, from the cache or from the identity platform.
    pub async fn token(&self, credentials: &Credentials) -> Result<Secret, GraphError> {
        self.access_token(credentials)
            .await
            .map(|token| token.value)
    }

    /// What the application may do with mail, from the roles of the token these credentials
    /// hold (fetched first if none is cached).
    pub async fn mail_access(&self, credentials: &Credentials) -> Result<MailAccess, GraphError> {
        self.access_token(credentials)
            .await
            .map(|token| token.access)
    }

    async fn access_token(&self, credentials: &Credentials) -> Result<AccessToken, GraphError> {
        let key = self.key(credentials);
        self.cache
            .try_get_with(key, self.request(credentials))
            .await
            .map_err(|err: Arc<GraphError>| (*err).clone())
    }

    /// Whether a valid token for exactly these credentials (this secret) is cached: a login
    /// with them needs no request to the identity platform.
    pub fn holds(&self, credentials: &Credentials) -> bool {
        self.cache.contains_key(&self.key(credentials))
    }

    /// Forgets the cached token (after Graph answered 401 with it).
    pub async fn invalidate(&self, credentials: &Credentials) {
        self.cache.invalidate(&self.key(credentials)).await;
    }

    async fn request(&self, credentials: &Credentials) -> Result<AccessToken, GraphError> {
        let tenant = percent_encoding::utf8_percent_encode(
            credentials.tenant.as_str(),
            percent_encoding::NON_ALPHANUMERIC,
        );
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.authority);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.secret.expose()),
            ("scope", "https://graph.microsoft.com/.default"),
        ];
        let started = Instant::now();
        let response = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|err| GraphError::Unavailable(describe_transport_error(&err)))?;
        let status = response.status().as_u16();
        crate::metrics::METRICS.token_answer(status);
        let body = response
            .bytes()
            .await
            .map_err(|err| GraphError::Unavailable(describe_transport_error(&err)))?;
        if !(200..300).contains(&status) {
            let err = parse_token_error(status, &body);
            tracing::info!(tenant = %credentials.tenant, client_id = %credentials.client_id, status, error = %err, "token request refused");
            return Err(err);
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| GraphError::Decode("token response is not JSON".into()))?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3599));
        let access = MailAccess::of_token(&parsed.access_token);
        tracing::debug!(tenant = %credentials.tenant, client_id = %credentials.client_id, lifetime_secs = lifetime.as_secs(), mail_access = ?access, "token acquired");
        Ok(AccessToken {
            value: Secret::new(parsed.access_token),
            expires_at: started + lifetime,
            access,
        })
    }
}

/// A transport error's description without its URL (which is harmless here, but query strings
/// elsewhere may not be).
pub fn describe_transport_error(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "response body broken"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with_payload(payload: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(payload.as_bytes())
        )
    }

    #[test]
    fn roles_say_what_the_application_may_do() {
        let read_write = token_with_payload(
            r#"{"aud":"https://graph.microsoft.com","roles":["Mail.Send","Mail.ReadWrite"]}"#,
        );
        assert_eq!(MailAccess::of_token(&read_write), MailAccess::ReadWrite);
        let read_only = token_with_payload(r#"{"roles":["Mail.Read","Mail.Send"]}"#);
        assert_eq!(MailAccess::of_token(&read_only), MailAccess::ReadOnly);
        assert!(!MailAccess::ReadOnly.may_write());
        let basic = token_with_payload(r#"{"roles":["mail.readbasic.all"]}"#);
        assert_eq!(MailAccess::of_token(&basic), MailAccess::ReadOnly);
        // Padding, which some encoders leave on, is tolerated.
        let padded = format!(
            "h.{}.s",
            base64::engine::general_purpose::URL_SAFE.encode(br#"{"roles":["Mail.Read"]}"#)
        );
        assert!(padded.contains("=."));
        assert_eq!(MailAccess::of_token(&padded), MailAccess::ReadOnly);
    }

    #[test]
    fn tokens_that_say_nothing_about_mail_leave_it_to_graph() {
        let no_roles = token_with_payload(r#"{"aud":"https://graph.microsoft.com","tid":"t"}"#);
        assert_eq!(MailAccess::of_token(&no_roles), MailAccess::Unknown);
        let other_roles = token_with_payload(r#"{"roles":["User.Read.All"]}"#);
        assert_eq!(MailAccess::of_token(&other_roles), MailAccess::Unknown);
        let roles_not_a_list = token_with_payload(r#"{"roles":"Mail.Read"}"#);
        assert_eq!(MailAccess::of_token(&roles_not_a_list), MailAccess::Unknown);
        for malformed in [
            "",
            "opaque-token",
            "a.b",
            "a.!!!.c",
            "a.b.c.d.e",
            &format!("x.{}.y", URL_SAFE_NO_PAD.encode(b"not json")),
        ] {
            assert_eq!(MailAccess::of_token(malformed), MailAccess::Unknown);
        }
        assert!(MailAccess::Unknown.may_write());
    }
}
