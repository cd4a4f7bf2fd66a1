//! Owns login throttling: how fast logins from one client address, and logins to one Azure
//! application, may reach the identity platform after failures, and the short memory of secrets
//! the identity platform has just refused.
//!
//! Why: every wrong secret that reaches Entra counts against the application, and enough of them
//! get it throttled or locked out for every user of the gateway. So:
//! - a secret the gateway holds a valid token for is never throttled: the messaging server keeps
//!   logging in at once while someone else guesses (the session checks this first);
//! - a secret refused moments ago is refused again without asking (`imap.login_refused_secret_secs`),
//!   remembered by a keyed hash (HMAC under a key made at start), never the secret;
//! - one request at a time per (tenant, application) asks the identity platform about a secret
//!   it holds no token for, so parallel guesses queue instead of arriving together (a burst of
//!   logins with the right secret costs one request: the first fetches the token the others
//!   then find);
//! - after failures, attempts from the same address, and attempts with new secrets for the same
//!   application, are spaced out: each failure doubles the spacing, up to
//!   `imap.login_delay_max_secs`; an attempt that would wait longer than the pre-login time
//!   allows is refused at once with `[UNAVAILABLE]` instead of waiting;
//! - failures are forgotten after a quiet spell, and an address's on its next success.
//!
//! The tables are bounded: entries past their use are pruned, and IPv6 clients are counted by
//! their /64, which is what one host can cheaply vary.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;

use crate::graph::Credentials;

/// Spacing after the first failure; it doubles with each further one.
const FIRST_SPACING: Duration = Duration::from_millis(250);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Entries kept per table before expired ones are pruned.
const PRUNE_AT: usize = 10_000;
/// Entries kept per table at most; past it the oldest half goes (a flood of addresses must not
/// grow memory without bound).
const MAX_ENTRIES: usize = 100_000;

/// The settings of [`LoginThrottle`], from `imap.*`.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    /// The longest spacing between attempts.
    pub max_spacing: Duration,
    /// The longest a login may be made to wait; longer, it is refused.
    pub max_wait: Duration,
    /// How long a refused secret is refused without asking the identity platform.
    pub refused_secret_ttl: Duration,
}

/// What the throttle says about one login attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead after this wait (zero when nothing failed lately).
    After(Duration),
    /// This secret was refused moments ago: refuse it again without asking.
    RefusedRecently,
    /// Too many failures lately: refuse now; a retry makes sense after this long.
    TooMany(Duration),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    /// The earliest time the next attempt may go ahead.
    next_slot: Instant,
}

impl Failures {
    fn spacing(&self, settings: &ThrottleSettings) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let doublings = (self.count - 1).min(20);
        FIRST_SPACING
            .saturating_mul(1 << doublings)
            .min(settings.max_spacing)
    }
}

#[derive(Default)]
struct Tables {
    by_address: HashMap<IpAddr, Failures>,
    by_application: HashMap<ApplicationKey, Failures>,
    refused_secrets: HashMap<[u8; 32], Instant>,
}

pub struct LoginThrottle {
    settings: ThrottleSettings,
    mac_key: ring::hmac::Key,
    tables: Mutex<Tables>,
    /// One identity request at a time per application, for secrets without a token.
    gates: Mutex<HashMap<ApplicationKey, Weak<Gate>>>,
}

/// (tenant, client id), lower-cased.
type ApplicationKey = (String, String);
type Gate = tokio::sync::Mutex<()>;

/// A login's turn to ask the identity platform; others of its application wait until it is
/// dropped.
pub struct Turn {
    _gate: OwnedMutexGuard<()>,
}

/// Why a login does not get its turn.
#[derive(Debug, PartialEq, Eq)]
pub enum NoTurn {
    /// This secret was refused moments ago: refuse it again without asking.
    RefusedRecently,
    /// Too many failures lately: refuse now; a retry makes sense after this long.
    TooMany(Duration),
}

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> LoginThrottle {
        let rng = ring::rand::SystemRandom::new();
        LoginThrottle {
            settings,
            mac_key: ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
                .expect("the operating system's random source works"),
            tables: Mutex::new(Tables::default()),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for this login's turn to ask the identity platform about a secret the gateway
    /// holds no token for. `known_good` is asked again once the turn comes: a login queued
    /// behind one that fetched the token for the same secret needs no turn after all (`None`).
    pub async fn turn(
        &self,
        address: IpAddr,
        credentials: &Credentials,
        known_good: impl Fn() -> bool,
    ) -> Result<Option<Turn>, NoTurn> {
        if self.refused_recently(credentials) {
            // Only the address's spacing: the identity platform is not asked.
            return match self.admit(address, credentials) {
                Admission::TooMany(wait) => Err(NoTurn::TooMany(wait)),
                Admission::After(wait) => {
                    self.wait(wait).await;
                    Err(NoTurn::RefusedRecently)
                }
                Admission::RefusedRecently => Err(NoTurn::RefusedRecently),
            };
        }
        let gate = self.gate(credentials);
        let gate = tokio::time::timeout(self.settings.max_wait, gate.lock_owned())
            .await
            .map_err(|_| NoTurn::TooMany(self.settings.max_wait))?;
        if known_good() {
            return Ok(None);
        }
        match self.admit(address, credentials) {
            Admission::After(wait) => {
                self.wait(wait).await;
                Ok(Some(Turn { _gate: gate }))
            }
            Admission::RefusedRecently => Err(NoTurn::RefusedRecently),
            Admission::TooMany(wait) => Err(NoTurn::TooMany(wait)),
        }
    }

    async fn wait(&self, wait: Duration) {
        if !wait.is_zero() {
            crate::metrics::METRICS.login_throttled(crate::metrics::LoginThrottle::Delayed);
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "login delayed after recent failures"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn gate(&self, credentials: &Credentials) -> Arc<Gate> {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        if gates.len() >= PRUNE_AT {
            gates.retain(|_, gate| gate.strong_count() > 0);
        }
        let key = application_key(credentials);
        if let Some(gate) = gates.get(&key).and_then(Weak::upgrade) {
            return gate;
        }
        let gate = Arc::new(Gate::new(()));
        gates.insert(key, Arc::downgrade(&gate));
        gate
    }

    fn refused_recently(&self, credentials: &Credentials) -> bool {
        let secret = self.secret_key(credentials);
        let tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables
            .refused_secrets
            .get(&secret)
            .is_some_and(|&until| until > Instant::now())
    }

    /// Decides about an attempt whose secret the gateway holds no token for, and reserves its
    /// place: the caller waits what [`Admission::After`] says, then asks the identity platform.
    fn admit(&self, address: IpAddr, credentials: &Credentials) -> Admission {
        self.admit_at(address, credentials, Instant::now())
    }

    fn admit_at(&self, address: IpAddr, credentials: &Credentials, now: Instant) -> Admission {
        let address = counted_address(address);
        let secret = self.secret_key(credentials);
        let application = application_key(credentials);
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let refused_recently = tables
            .refused_secrets
            .get(&secret)
            .is_some_and(|&until| until > now);
        let address_failures = current(tables.by_address.get(&address), now);
        // A recently refused secret costs the identity platform nothing, so only the address's
        // spacing applies to it.
        let application_failures = if refused_recently {
            None
        } else {
            current(tables.by_application.get(&application), now)
        };
        let slot = [address_failures, application_failures]
            .into_iter()
            .flatten()
            .map(|failures| failures.next_slot.max(now))
            .max()
            .unwrap_or(now);
        let wait = slot - now;
        if wait > self.settings.max_wait {
            return Admission::TooMany(wait);
        }
        // Reserve: whoever comes next from here waits one more spacing.
        for (failures, table) in [
            (address_failures, Table::Address(address)),
            (
                application_failures,
                Table::Application(application.clone()),
            ),
        ] {
            if let Some(mut failures) = failures {
                failures.next_slot = slot + failures.spacing(&self.settings);
                table.put(&mut tables, failures);
            }
        }
        if refused_recently {
            Admission::RefusedRecently
        } else {
            Admission::After(wait)
        }
    }

    /// The identity platform refused these credentials (`definitive`: the secret, application
    /// or tenant is wrong, not a passing fault): count it against the address and the
    /// application, and remember the secret for a while.
    pub fn refused(&self, address: IpAddr, credentials: &Credentials, definitive: bool) {
        let now = Instant::now();
        let secret = self.secret_key(credentials);
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if definitive {
            tables
                .refused_secrets
                .insert(secret, now + self.settings.refused_secret_ttl);
            prune(&mut tables.refused_secrets, |until| *until > now);
        }
        let application = application_key(credentials);
        let failures = count_failure(tables.by_application.get(&application).copied(), now);
        tables.by_application.insert(application, failures);
        prune(&mut tables.by_application, |f| now - f.last < FORGET_AFTER);
        drop(tables);
        self.failed_from(address);
    }

    /// A login from this address failed (any reason the client is to blame for: a malformed
    /// name, a wrong secret, a mailbox it may not open).
    pub fn failed_from(&self, address: IpAddr) {
        let now = Instant::now();
        let address = counted_address(address);
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let failures = count_failure(tables.by_address.get(&address).copied(), now);
        tables.by_address.insert(address, failures);
        prune(&mut tables.by_address, |f| now - f.last < FORGET_AFTER);
    }

    /// A login from this address succeeded: its failures are forgotten.
    pub fn succeeded_from(&self, address: IpAddr) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables.by_address.remove(&counted_address(address));
    }

    fn secret_key(&self, credentials: &Credentials) -> [u8; 32] {
        let mut context = ring::hmac::Context::with_key(&self.mac_key);
        for part in [
            credentials.tenant.as_str(),
            credentials.client_id.as_str(),
            credentials.secret.expose(),
        ] {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(context.sign().as_ref());
        key
    }
}

enum Table {
    Address(IpAddr),
    Application(ApplicationKey),
}

impl Table {
    fn put(self, tables: &mut Tables, failures: Failures) {
        match self {
            Table::Address(key) => {
                tables.by_address.insert(key, failures);
            }
            Table::Application(key) => {
                tables.by_application.insert(key, failures);
            }
        }
    }
}

/// The failures still remembered at `now`.
fn current(failures: Option<&Failures>, now: Instant) -> Option<Failures> {
    failures
        .filter(|failures| now - failures.last < FORGET_AFTER)
        .copied()
}

fn count_failure(previous: Option<Failures>, now: Instant) -> Failures {
    match previous.filter(|failures| now - failures.last < FORGET_AFTER) {
        Some(failures) => Failures {
            count: failures.count.saturating_add(1),
            last: now,
            next_slot: failures.next_slot,
        },
        None => Failures {
            count: 1,
            last: now,
            next_slot: now,
        },
    }
}

fn application_key(credentials: &Credentials) -> ApplicationKey {
    (
        credentials.tenant.as_str().to_ascii_lowercase(),
        credentials.client_id.as_str().to_ascii_lowercase(),
    )
}

/// The address failures are counted under: IPv6 by its /64.
fn counted_address(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
        v4 => v4,
    }
}

/// Drops entries that `keep` rejects once the table is large, and the oldest half if it is
/// still over its bound.
fn prune<K: std::hash::Hash + Eq + Clone, V>(table: &mut HashMap<K, V>, keep: impl Fn(&V) -> bool) {
    if table.len() < PRUNE_AT {
        return;
    }
    table.retain(|_, value| keep(value));
    if table.len() > MAX_ENTRIES {
        let excess: Vec<K> = table.keys().take(table.len() / 2).cloned().collect();
        for key in excess {
            table.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::{ClientId, Tenant};
    use crate::secret::Secret;

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            max_spacing: Duration::from_secs(8),
            max_wait: Duration::from_secs(20),
            refused_secret_ttl: Duration::from_secs(60),
        }
    }

    fn credentials(secret: &str) -> Credentials {
        Credentials {
            tenant: Tenant::parse("contoso.example").unwrap(),
            client_id: ClientId::parse("11111111-2222-3333-4444-555555555555").unwrap(),
            secret: Secret::new(secret),
        }
    }

    const HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 9));

    #[test]
    fn nothing_failed_nothing_waits() {
        let throttle = LoginThrottle::new(settings());
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(
                throttle.admit_at(HOST, &credentials("right"), now),
                Admission::After(Duration::ZERO)
            );
        }
    }

    #[test]
    fn a_refused_secret_is_refused_again_without_asking() {
        let throttle = LoginThrottle::new(settings());
        throttle.refused(HOST, &credentials("wrong"), true);
        let now = Instant::now();
        assert_eq!(
            throttle.admit_at(OTHER, &credentials("wrong"), now),
            Admission::RefusedRecently
        );
        // Another secret is asked about (after the application's spacing).
        assert!(matches!(
            throttle.admit_at(OTHER, &credentials("other"), now),
            Admission::After(_)
        ));
        // Past its time, the identity platform is asked again.
        let later = now + Duration::from_secs(61);
        assert!(matches!(
            throttle.admit_at(OTHER, &credentials("wrong"), later),
            Admission::After(_)
        ));
        // A passing fault is not remembered.
        let throttle = LoginThrottle::new(settings());
        throttle.refused(HOST, &credentials("flaky"), false);
        assert!(matches!(
            throttle.admit_at(OTHER, &credentials("flaky"), Instant::now()),
            Admission::After(_)
        ));
    }

    #[test]
    fn spacing_doubles_per_failure_and_parallel_attempts_queue() {
        let throttle = LoginThrottle::new(settings());
        for _ in 0..3 {
            throttle.refused(HOST, &credentials("wrong"), false);
        }
        // Three failures: a spacing of 1 s per attempt, so parallel attempts line up.
        let now = Instant::now();
        let waits: Vec<Admission> = (0..4)
            .map(|i| throttle.admit_at(OTHER, &credentials(&format!("guess{i}")), now))
            .collect();
        assert_eq!(
            waits,
            vec![
                Admission::After(Duration::ZERO),
                Admission::After(Duration::from_secs(1)),
                Admission::After(Duration::from_secs(2)),
                Admission::After(Duration::from_secs(3)),
            ]
        );
        // Many more failures: the spacing stops at its maximum, and a wait past the longest
        // allowed is refused at once without taking a place.
        for _ in 0..20 {
            throttle.refused(HOST, &credentials("wrong"), false);
        }
        let queued: Vec<Admission> = (0..5)
            .map(|i| throttle.admit_at(OTHER, &credentials(&format!("more{i}")), now))
            .collect();
        assert_eq!(queued[0], Admission::After(Duration::from_secs(4)));
        assert_eq!(queued[1], Admission::After(Duration::from_secs(12)));
        assert_eq!(queued[2], Admission::After(Duration::from_secs(20)));
        assert_eq!(queued[3], Admission::TooMany(Duration::from_secs(28)));
        assert_eq!(queued[4], Admission::TooMany(Duration::from_secs(28)));
    }

    #[test]
    fn an_address_is_spaced_for_any_application_and_forgiven_on_success() {
        let throttle = LoginThrottle::new(settings());
        for _ in 0..2 {
            throttle.failed_from(HOST);
        }
        let now = Instant::now();
        assert_eq!(
            throttle.admit_at(HOST, &credentials("a"), now),
            Admission::After(Duration::ZERO)
        );
        assert_eq!(
            throttle.admit_at(HOST, &credentials("b"), now),
            Admission::After(Duration::from_millis(500))
        );
        // Another address is not held up by this one.
        assert_eq!(
            throttle.admit_at(OTHER, &credentials("c"), now),
            Admission::After(Duration::ZERO)
        );
        throttle.succeeded_from(HOST);
        assert_eq!(
            throttle.admit_at(HOST, &credentials("d"), now),
            Admission::After(Duration::ZERO)
        );
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_spell() {
        let throttle = LoginThrottle::new(settings());
        for _ in 0..10 {
            throttle.failed_from(HOST);
        }
        let later = Instant::now() + FORGET_AFTER + Duration::from_secs(1);
        assert_eq!(
            throttle.admit_at(HOST, &credentials("x"), later),
            Admission::After(Duration::ZERO)
        );
    }

    #[test]
    fn ipv6_hosts_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(counted_address(a), counted_address(b));
        assert_ne!(counted_address(a), counted_address(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(counted_address(mapped), HOST);
    }
}
