//! Outlook's throttling, per (application, mailbox): concurrent requests, requests per
//! window, bytes uploaded per window. Owns `Throttle` and the `Permit` a request holds while
//! it is in flight (dropping it frees the concurrency slot).
//!
//! Docs: <https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits> —
//! per app ID and mailbox: 10,000 API requests in a 10-minute period, 4 concurrent
//! requests, 150 MB upload (PATCH, POST, PUT) in a 5-minute period; 429 with Retry-After
//! (<https://learn.microsoft.com/graph/throttling>). The body is the throttling page's sample
//! by default, or Outlook's own naming the limit met (`ThrottleLimits::body`): for
//! concurrency "Application is over its MailboxConcurrency limit." (quoted in
//! <https://learn.microsoft.com/answers/questions/734143/mailboxconcurrency-limit-throttling-exception>)
//! with the code `ApplicationThrottled`.
//!
//! Refused requests count too (`ThrottleLimits::count_refused`, on by default): "Avoid
//! immediate retries, because all requests accrue against your usage limits", and "Microsoft
//! Graph continues to log resource usage while a client is being throttled"
//! (<https://learn.microsoft.com/graph/throttling>, "Best practices to handle throttling"). The
//! page does not say how much a refused request weighs; counting it as one request is the
//! least convenient reading, so it is the default. `$batch` sub-requests come here one by one
//! (<https://learn.microsoft.com/graph/json-batching>: "Requests in a batch are evaluated
//! individually against the applicable throttling limits and if any request exceeds the
//! limits, it fails with a status of `429`").

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{ThrottleBody, ThrottleLimits};
use crate::graph::errors::GraphError;
use crate::stats::Stats;

#[derive(Default)]
struct Bucket {
    in_flight: u32,
    requests: VecDeque<Instant>,
    uploads: VecDeque<(Instant, u64)>,
}

#[derive(Default)]
pub(crate) struct Throttle {
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

/// Held while a request is in flight.
pub(crate) struct Permit {
    throttle: Arc<Throttle>,
    stats: Arc<Stats>,
    key: (String, String),
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut b = self
            .throttle
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = b.get_mut(&self.key) {
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
        }
        self.stats.leave(&self.key.1);
    }
}

/// A 429 for the limit `outlook_message` names, with the body `limits.body` asks for.
fn throttled(limits: &ThrottleLimits, outlook_message: &str, retry_after: f64) -> GraphError {
    let ra = if retry_after.fract() == 0.0 {
        format!("{}", retry_after as u64)
    } else {
        format!("{retry_after:.3}")
    };
    let error = match limits.body {
        ThrottleBody::Documented => {
            GraphError::new(429, "TooManyRequests", "Please retry again later.")
                .with_inner("code", "429")
                .with_inner("message", "Please retry after")
                .with_inner("status", "429")
        }
        ThrottleBody::Outlook => GraphError::new(429, "ApplicationThrottled", outlook_message),
    };
    error.with_header("Retry-After", ra)
}

/// Whether a refused request is added to the window: when they count, up to a bound, so a
/// client hammering away cannot grow it without end.
fn counts_refused(bucket: &Bucket, limits: &ThrottleLimits) -> bool {
    limits.count_refused && bucket.requests.len() < (limits.max_requests as usize).saturating_mul(4)
}

/// Seconds until `at + window`, rounded up to the millisecond and at least one.
fn seconds_until(at: Instant, window: Duration, now: Instant) -> f64 {
    let wait = window
        .saturating_sub(now.duration_since(at))
        .as_secs_f64()
        .max(0.001);
    (wait * 1000.0).ceil() / 1000.0
}

impl Throttle {
    pub fn reset(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Admits a request of `upload` body bytes, or answers 429.
    pub fn admit(
        self: &Arc<Self>,
        stats: &Arc<Stats>,
        limits: &ThrottleLimits,
        app: &str,
        mailbox: &str,
        upload: u64,
    ) -> Result<Permit, GraphError> {
        let now = Instant::now();
        let key = (app.to_ascii_lowercase(), mailbox.to_string());
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = map.entry(key.clone()).or_default();
        while b
            .requests
            .front()
            .is_some_and(|t| now.duration_since(*t) >= limits.request_window)
        {
            b.requests.pop_front();
        }
        while b
            .uploads
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= limits.upload_window)
        {
            b.uploads.pop_front();
        }
        if limits.enabled {
            let refusal = if b.in_flight >= limits.max_concurrent {
                // A slot frees as soon as one request finishes; Graph asks for about a second.
                Some(throttled(
                    limits,
                    "Application is over its MailboxConcurrency limit.",
                    1.0,
                ))
            } else if b.requests.len() as u64 >= limits.max_requests as u64 {
                // A retry may go once enough of the window's requests have left it that fewer
                // than the limit remain, this refused one included when it counts.
                let counted = usize::from(counts_refused(b, limits));
                let excess = b.requests.len() + counted - limits.max_requests as usize;
                let leaves = b.requests.get(excess).copied().unwrap_or(now);
                Some(throttled(
                    limits,
                    "Application is over its MailboxRequests limit.",
                    seconds_until(leaves, limits.request_window, now),
                ))
            } else {
                let used: u64 = b.uploads.iter().map(|(_, n)| n).sum();
                (upload > 0 && used + upload > limits.max_upload_bytes).then(|| {
                    let oldest = b.uploads.front().map(|(t, _)| *t).unwrap_or(now);
                    throttled(
                        limits,
                        "Application is over its MailboxUploadSize limit.",
                        seconds_until(oldest, limits.upload_window, now),
                    )
                })
            };
            if let Some(refusal) = refusal {
                if counts_refused(b, limits) {
                    b.requests.push_back(now);
                }
                return Err(refusal);
            }
        }
        b.in_flight += 1;
        b.requests.push_back(now);
        if upload > 0 {
            b.uploads.push_back((now, upload));
            stats.uploaded(upload);
        }
        stats.enter(mailbox);
        Ok(Permit {
            throttle: Arc::clone(self),
            stats: Arc::clone(stats),
            key,
        })
    }
}
