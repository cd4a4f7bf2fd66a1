//! Owns access tokens: the client-credentials grant at
//! `{authority}/{tenant}/oauth2/v2.0/token` with scope `https://graph.microsoft.com/.default`
//! (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow),
//! and the cache that keeps each token until five minutes before it expires.
//!
//! The cache key holds a keyed hash of the secret (HMAC-SHA256 under a key made at start), never
//! the secret: a login with a wrong secret misses the cache and is checked by the identity
//! platform, so it can never ride on a token fetched with the right one. Concurrent logins with
//! the same key share one request.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
        let key = self.key(credentials);
        self.cache
            .try_get_with(key, self.request(credentials))
            .await
            .map(|token| token.value)
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
        tracing::debug!(tenant = %credentials.tenant, client_id = %credentials.client_id, lifetime_secs = lifetime.as_secs(), "token acquired");
        Ok(AccessToken {
            value: Secret::new(parsed.access_token),
            expires_at: started + lifetime,
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
