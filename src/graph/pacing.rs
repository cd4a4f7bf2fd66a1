//! Owns the gateway's pacing of Graph traffic: it spends Outlook's limits instead of running
//! into them. Per application and mailbox, Outlook allows 10,000 requests in 10 minutes, 150 MB
//! uploaded (PATCH, POST, PUT) in 5 minutes and 4 requests at once
//! (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits), and "requests
//! in a batch are evaluated individually against the applicable throttling limits"
//! (https://learn.microsoft.com/graph/json-batching, "Batch size limitations"), so a `$batch`
//! costs one request per request in it. Past a limit Graph answers 429 with a `Retry-After`,
//! and "all requests accrue against your usage limits", the refused ones too
//! (https://learn.microsoft.com/graph/throttling, "Best practices to handle throttling"): a
//! client that runs into the limit stays throttled as long as it keeps trying.
//!
//! So every request first passes its [`MailboxBudget`]:
//! - slots of requests in flight (`graph.max_concurrency_per_mailbox`); a `$batch` holds as
//!   many as Graph runs of it at once, up to four ("Microsoft Graph sends the Outlook service
//!   up to four individual requests from the batch at a time", throttling-limits);
//! - token buckets for the mailbox's requests and uploaded bytes: a quiet mailbox spends its
//!   burst at once, then the rest of the window's budget comes at an even rate. The rate is
//!   `(budget − burst) / (window + a second)`, so no window of Graph's ever sees more than the
//!   budget, even with the time a request takes to arrive. Requests wait for their turn; none
//!   is refused for want of budget;
//! - the application's bucket over all its mailboxes (`pacing.application_requests_per_sec`).
//!   It is taken while the mailbox's slots are held, so each mailbox has at most its few slots'
//!   worth of turns queued at any time: busy mailboxes take turns and share the rate fairly;
//! - a pause after Graph answered 429: the mailbox's other requests wait out the `Retry-After`
//!   too instead of adding refused requests to its count; one that would have to wait longer
//!   than `graph.max_retry_after_secs` fails at once, as the request that got the 429 does.
//!
//! How much of the mailbox's request budget is left (its tightness) tells the hub to poll
//! IDLE folders less often and to share synchronisation rounds more widely.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::GraphError;
use crate::config::{GraphConfig, PacingConfig};
use crate::metrics::{PacingBudget, METRICS};

/// Graph runs up to this many requests of one `$batch` at once against the mailbox
/// (throttling-limits, Outlook service limits).
const BATCH_PARALLELISM: u32 = 4;

/// Added to each window when its rate is worked out: requests reach Graph a little after they
/// leave, and some later than others.
const ARRIVAL_MARGIN: Duration = Duration::from_secs(1);

/// What one HTTP request costs against the limits.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Requests as Outlook counts them: one, or the number of requests in a `$batch`.
    pub requests: u32,
    /// Bytes of the request body.
    pub upload_bytes: u64,
}

impl Cost {
    pub fn one(upload_bytes: u64) -> Cost {
        Cost {
            requests: 1,
            upload_bytes,
        }
    }
}

/// A token bucket kept as the moment it would be full again: no timer, and a reservation for
/// a moment in the future is as simple as one for now.
#[derive(Debug)]
struct TokenBucket {
    capacity: f64,
    per_sec: f64,
    full_at: Instant,
}

impl TokenBucket {
    fn new(capacity: f64, per_sec: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            capacity,
            per_sec,
            full_at: now,
        }
    }

    /// The bucket that spends `budget` per `window` at most in any window: `burst` at once,
    /// the rest evenly.
    fn for_window(budget: f64, burst: f64, window: Duration, now: Instant) -> TokenBucket {
        let per_sec = (budget - burst).max(1.0) / (window + ARRIVAL_MARGIN).as_secs_f64();
        TokenBucket::new(burst, per_sec, now)
    }

    /// The earliest moment, not before `earliest`, at which `cost` tokens are there (a cost
    /// above the capacity waits for a full bucket and leaves it in debt).
    fn ready_at(&self, cost: f64, earliest: Instant) -> Instant {
        let need = cost.min(self.capacity);
        let lead = Duration::from_secs_f64((self.capacity - need) / self.per_sec);
        match self.full_at.checked_sub(lead) {
            Some(ready) => ready.max(earliest),
            None => earliest,
        }
    }

    /// Takes `cost` tokens at `at` (not before [`ready_at`](Self::ready_at) said).
    fn take(&mut self, cost: f64, at: Instant) {
        self.full_at = self.full_at.max(at) + Duration::from_secs_f64(cost / self.per_sec);
    }

    /// Whether the bucket is full at `now`: one made afresh would be the same.
    fn is_full(&self, now: Instant) -> bool {
        self.full_at <= now
    }

    /// Tokens there at `now`, as a share of the capacity: 1 full, 0 or below spent.
    fn level(&self, now: Instant) -> f64 {
        let missing = self.full_at.saturating_duration_since(now).as_secs_f64() * self.per_sec;
        1.0 - missing / self.capacity.max(1.0)
    }
}

/// The buckets of one mailbox, and until when Graph asked it to wait.
#[derive(Debug)]
struct MailboxBuckets {
    requests: TokenBucket,
    upload: TokenBucket,
    paused_until: Option<Instant>,
}

type ApplicationBucket = Mutex<TokenBucket>;

/// One (application, mailbox)'s share of Graph: its slots in flight and, when pacing is on,
/// its buckets and its application's. Shared by every handle of the mailbox.
pub struct MailboxBudget {
    in_flight: Semaphore,
    max_in_flight: u32,
    /// `None` when pacing is off.
    buckets: Option<Mutex<MailboxBuckets>>,
    application: Option<Arc<ApplicationBucket>>,
    max_retry_after: Duration,
}

impl MailboxBudget {
    /// Waits until a request of this cost may go, and returns the slots it holds while in
    /// flight. Fails without sending only when Graph asked the mailbox to wait longer than
    /// the gateway waits, or when the gateway is stopping.
    pub async fn admit(&self, cost: Cost) -> Result<SemaphorePermit<'_>, GraphError> {
        let slots = cost
            .requests
            .clamp(1, BATCH_PARALLELISM.min(self.max_in_flight));
        let permit = self
            .in_flight
            .acquire_many(slots)
            .await
            .map_err(|_| GraphError::Unavailable("shutting down".into()))?;
        let Some(buckets) = &self.buckets else {
            METRICS.graph_counted_requests(cost.requests);
            return Ok(permit);
        };
        let now = Instant::now();
        let (at, budget) = {
            let mut buckets = lock(buckets);
            let requests = cost.requests as f64;
            let mut at = now;
            let mut budget = None;
            if let Some(until) = buckets.paused_until {
                if until.saturating_duration_since(now) > self.max_retry_after {
                    return Err(GraphError::Unavailable(format!(
                        "throttled for {:.1} s: Graph asked to wait",
                        until.saturating_duration_since(now).as_secs_f64()
                    )));
                }
                later(&mut at, &mut budget, until, PacingBudget::RetryAfter);
            }
            let ready = buckets.requests.ready_at(requests, now);
            later(&mut at, &mut budget, ready, PacingBudget::MailboxRequests);
            if cost.upload_bytes > 0 {
                let ready = buckets.upload.ready_at(cost.upload_bytes as f64, now);
                later(&mut at, &mut budget, ready, PacingBudget::MailboxUpload);
            }
            // The application's bucket under the mailbox's lock: both are taken at one moment.
            let mut application = self.application.as_deref().map(lock);
            if let Some(application) = &application {
                let ready = application.ready_at(requests, at);
                later(&mut at, &mut budget, ready, PacingBudget::Application);
            }
            buckets.requests.take(requests, at);
            if cost.upload_bytes > 0 {
                buckets.upload.take(cost.upload_bytes as f64, at);
            }
            if let Some(application) = application.as_mut() {
                application.take(requests, at);
            }
            (at, budget)
        };
        METRICS.graph_counted_requests(cost.requests);
        if let Some(budget) = budget {
            let wait = at.saturating_duration_since(now);
            METRICS.pacing_wait(budget, wait);
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        }
        Ok(permit)
    }

    /// Graph answered 429 and asked to wait this long: the mailbox's next requests wait too.
    pub fn throttled(&self, retry_after: Duration) {
        if let Some(buckets) = &self.buckets {
            let until = Instant::now() + retry_after;
            let mut buckets = lock(buckets);
            buckets.paused_until = Some(buckets.paused_until.map_or(until, |u| u.max(until)));
        }
    }

    /// Whether nothing would change if this budget were made afresh: no request in flight or
    /// paused, and its buckets full again.
    fn is_fresh(&self, now: Instant) -> bool {
        if self.in_flight.available_permits() < self.max_in_flight as usize {
            return false;
        }
        self.buckets.as_ref().is_none_or(|buckets| {
            let buckets = lock(buckets);
            buckets.requests.is_full(now)
                && buckets.upload.is_full(now)
                && buckets.paused_until.is_none_or(|until| until <= now)
        })
    }

    /// How tight the mailbox's request budget is now: 0 with the burst untouched, 1 with it
    /// spent (or while Graph asked the mailbox to wait). Always 0 when pacing is off.
    pub fn tightness(&self) -> f64 {
        let Some(buckets) = &self.buckets else {
            return 0.0;
        };
        let now = Instant::now();
        let buckets = lock(buckets);
        if buckets.paused_until.is_some_and(|until| until > now) {
            return 1.0;
        }
        (1.0 - buckets.requests.level(now)).clamp(0.0, 1.0)
    }
}

/// The budgets of every mailbox and application the process talks to. A budget outlives the
/// handles that use it until its buckets are full again: a mailbox closed and opened again
/// (its hub let go while idle) must not get a second burst within one of Graph's windows.
pub struct Pacer {
    pacing: Option<PacingConfig>,
    max_in_flight: usize,
    max_retry_after: Duration,
    mailboxes: Mutex<HashMap<String, Arc<MailboxBudget>>>,
    applications: Mutex<HashMap<String, Arc<ApplicationBucket>>>,
}

impl Pacer {
    pub fn new(graph: &GraphConfig, pacing: &PacingConfig) -> Pacer {
        Pacer {
            pacing: pacing.enabled.then(|| pacing.clone()),
            max_in_flight: graph.max_concurrency_per_mailbox,
            max_retry_after: Duration::from_secs(graph.max_retry_after_secs),
            mailboxes: Mutex::new(HashMap::new()),
            applications: Mutex::new(HashMap::new()),
        }
    }

    /// The budget of this application's use of this mailbox, shared by all its handles.
    pub fn mailbox(&self, client_id: &str, mailbox: &str) -> Arc<MailboxBudget> {
        let key = format!(
            "{}/{}",
            client_id.to_ascii_lowercase(),
            mailbox.to_ascii_lowercase()
        );
        let mut mailboxes = lock(&self.mailboxes);
        if let Some(budget) = mailboxes.get(&key) {
            return budget.clone();
        }
        let now = Instant::now();
        // Those no handle holds and a fresh one would equal are let go.
        mailboxes.retain(|_, budget| Arc::strong_count(budget) > 1 || !budget.is_fresh(now));
        let budget = Arc::new(MailboxBudget {
            in_flight: Semaphore::new(self.max_in_flight),
            max_in_flight: self.max_in_flight.min(u32::MAX as usize) as u32,
            buckets: self.pacing.as_ref().map(|pacing| {
                Mutex::new(MailboxBuckets {
                    requests: TokenBucket::for_window(
                        pacing.mailbox_requests as f64,
                        pacing.mailbox_burst as f64,
                        Duration::from_secs(pacing.mailbox_window_secs),
                        now,
                    ),
                    upload: TokenBucket::for_window(
                        pacing.mailbox_upload_bytes as f64,
                        pacing.mailbox_upload_burst_bytes as f64,
                        Duration::from_secs(pacing.mailbox_upload_window_secs),
                        now,
                    ),
                    paused_until: None,
                })
            }),
            application: self.application(client_id, now),
            max_retry_after: self.max_retry_after,
        });
        mailboxes.insert(key, budget.clone());
        budget
    }

    fn application(&self, client_id: &str, now: Instant) -> Option<Arc<ApplicationBucket>> {
        let pacing = self.pacing.as_ref()?;
        let key = client_id.to_ascii_lowercase();
        let mut applications = lock(&self.applications);
        if let Some(bucket) = applications.get(&key) {
            return Some(bucket.clone());
        }
        applications
            .retain(|_, bucket| Arc::strong_count(bucket) > 1 || !lock(bucket).is_full(now));
        let bucket = Arc::new(Mutex::new(TokenBucket::new(
            pacing.application_burst as f64,
            pacing.application_requests_per_sec as f64,
            now,
        )));
        applications.insert(key, bucket.clone());
        Some(bucket)
    }
}

/// Moves `at` to `ready` when that is later, and notes which budget made it so.
fn later(at: &mut Instant, budget: &mut Option<PacingBudget>, ready: Instant, which: PacingBudget) {
    if ready > *at {
        *at = ready;
        *budget = Some(which);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends as fast as the bucket allows for `span` and returns the moments of the requests.
    fn greedy(bucket: &mut TokenBucket, start: Instant, span: Duration, cost: f64) -> Vec<Instant> {
        let mut sent = Vec::new();
        let mut now = start;
        while now < start + span {
            let at = bucket.ready_at(cost, now);
            bucket.take(cost, at);
            for _ in 0..cost as usize {
                sent.push(at);
            }
            now = at;
        }
        sent
    }

    fn most_in_any_window(sent: &[Instant], window: Duration) -> usize {
        let mut most = 0;
        let mut first = 0;
        for last in 0..sent.len() {
            while sent[last].duration_since(sent[first]) >= window {
                first += 1;
            }
            most = most.max(last - first + 1);
        }
        most
    }

    #[test]
    fn no_window_holds_more_than_the_budget() {
        let window = Duration::from_secs(600);
        for (cost, burst) in [(1.0, 1000.0), (20.0, 1000.0), (7.0, 10.0)] {
            let start = Instant::now();
            let mut bucket = TokenBucket::for_window(10_000.0, burst, window, start);
            let sent = greedy(&mut bucket, start, Duration::from_secs(3600), cost);
            let most = most_in_any_window(&sent, window);
            assert!(most <= 10_000, "cost {cost}: {most} requests in one window");
            // And the budget is used: at least 95% of it in a window.
            assert!(
                most >= 9_500,
                "cost {cost}: only {most} requests in one window"
            );
        }
    }

    #[test]
    fn a_quiet_bucket_gives_its_burst_at_once_then_paces() {
        let start = Instant::now();
        let mut bucket = TokenBucket::for_window(100.0, 20.0, Duration::from_secs(9), start);
        for _ in 0..20 {
            let at = bucket.ready_at(1.0, start);
            assert_eq!(at, start);
            bucket.take(1.0, at);
        }
        // (100 − 20) per (9 + 1) s: one every 125 ms.
        let next = bucket.ready_at(1.0, start);
        let gap = next.duration_since(start).as_secs_f64();
        assert!((gap - 0.125).abs() < 1e-6, "{gap}");
        assert!(bucket.level(start) <= 0.0);
        assert!(bucket.level(start + Duration::from_secs(10)) >= 1.0);
    }

    #[test]
    fn a_cost_above_the_capacity_waits_for_a_full_bucket() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 10.0, start);
        bucket.take(5.0, start);
        let at = bucket.ready_at(25.0, start);
        assert_eq!(at.duration_since(start), Duration::from_millis(500));
        bucket.take(25.0, at);
        // In debt: 2.5 s to refill 25 tokens.
        assert_eq!(
            bucket.ready_at(10.0, at).duration_since(at),
            Duration::from_millis(2500)
        );
    }

    #[tokio::test]
    async fn a_retry_after_longer_than_the_gateway_waits_fails_the_mailbox_at_once() {
        let graph = GraphConfig {
            max_retry_after_secs: 30,
            ..GraphConfig::default()
        };
        let pacer = Pacer::new(&graph, &PacingConfig::default());
        let budget = pacer.mailbox("app", "busy@x");
        let other = pacer.mailbox("app", "quiet@x");
        assert_eq!(budget.tightness(), 0.0);
        budget.throttled(Duration::from_secs(376));
        assert_eq!(budget.tightness(), 1.0);
        match budget.admit(Cost::one(0)).await {
            Err(GraphError::Unavailable(text)) => assert!(text.contains("throttled"), "{text}"),
            Err(err) => panic!("{err}"),
            Ok(_) => panic!("a request went while Graph asked the mailbox to wait 376 s"),
        }
        // Another mailbox of the application is not held back.
        assert!(other.admit(Cost::one(0)).await.is_ok());
        // With pacing off, Graph's word is left to the request that got it.
        let unpaced = Pacer::new(
            &graph,
            &PacingConfig {
                enabled: false,
                ..PacingConfig::default()
            },
        )
        .mailbox("app", "busy@x");
        unpaced.throttled(Duration::from_secs(376));
        assert!(unpaced.admit(Cost::one(0)).await.is_ok());
    }

    #[tokio::test]
    async fn a_mailbox_opened_again_keeps_the_budget_it_spent() {
        let pacer = Pacer::new(&GraphConfig::default(), &PacingConfig::default());
        let budget = pacer.mailbox("App", "X@y");
        drop(
            budget
                .admit(Cost {
                    requests: 900,
                    upload_bytes: 0,
                })
                .await
                .unwrap(),
        );
        let tight = budget.tightness();
        drop(budget);
        // Another mailbox opening prunes only budgets a fresh one would equal.
        drop(pacer.mailbox("app", "other@y"));
        let again = pacer.mailbox("app", "x@y");
        assert!(
            again.tightness() >= tight * 0.99,
            "a second burst was given"
        );
        assert!(tight > 0.8, "{tight}");
    }

    #[tokio::test]
    async fn a_batch_holds_as_many_slots_as_graph_runs_of_it() {
        let pacer = Pacer::new(&GraphConfig::default(), &PacingConfig::default());
        let budget = pacer.mailbox("app", "x@y");
        let batch = budget
            .admit(Cost {
                requests: 20,
                upload_bytes: 0,
            })
            .await
            .unwrap();
        assert_eq!(budget.in_flight.available_permits(), 0);
        drop(batch);
        let single = budget.admit(Cost::one(10)).await.unwrap();
        assert_eq!(budget.in_flight.available_permits(), 3);
        drop(single);
    }

    #[tokio::test]
    async fn mailboxes_share_the_application_rate_in_turns() {
        let graph = GraphConfig::default();
        let pacing = PacingConfig {
            application_requests_per_sec: 50,
            application_burst: 1,
            ..PacingConfig::default()
        };
        let pacer = Arc::new(Pacer::new(&graph, &pacing));
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // A mailbox with eight sessions and one with a single session, for ~1 s.
        for (mailbox, sessions) in [("busy@x", 8), ("quiet@x", 1)] {
            for _ in 0..sessions {
                let pacer = pacer.clone();
                let served = served.clone();
                tasks.push(tokio::spawn(async move {
                    let budget = pacer.mailbox("app", mailbox);
                    for _ in 0..200 {
                        let permit = budget.admit(Cost::one(0)).await.unwrap();
                        lock(&served).push(mailbox);
                        drop(permit);
                        if lock(&served).len() >= 50 {
                            return;
                        }
                    }
                }));
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
        let served = lock(&served);
        let quiet = served.iter().filter(|m| **m == "quiet@x").count();
        // The quiet mailbox never has more than one request waiting, yet it is not starved:
        // with four slots the busy one gets at most four turns to its one.
        assert!(
            quiet * 5 + 10 >= served.len(),
            "{quiet} of {}",
            served.len()
        );
    }
}
