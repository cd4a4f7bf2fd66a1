//! Outlook's throttling, per (application, mailbox): concurrent requests, requests per
//! window, bytes uploaded per window. Owns `Throttle` and the `Permit` a request holds while
//! it is in flight (dropping it frees the concurrency slot).
//!
//! Docs: <https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits> —
//! per app ID and mailbox: 10,000 API requests in a 10-minute period, 4 concurrent
//! requests, 150 MB upload (PATCH, POST, PUT) in a 5-minute period; 429 with Retry-After
//! (<https://learn.microsoft.com/graph/throttling>). The error text for concurrency is the
//! one Graph sends, "Application is over its MailboxConcurrency limit." (quoted in
//! <https://learn.microsoft.com/answers/questions/734143/mailboxconcurrency-limit-throttling-exception>);
//! the pages do not give a code, Graph answers `ApplicationThrottled`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::ThrottleLimits;
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

fn throttled(message: &str, retry_after: f64) -> GraphError {
    let ra = if retry_after.fract() == 0.0 {
        format!("{}", retry_after as u64)
    } else {
        format!("{retry_after:.3}")
    };
    GraphError::new(429, "ApplicationThrottled", message).with_header("Retry-After", ra)
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
            if b.in_flight >= limits.max_concurrent {
                // A slot frees as soon as one request finishes; Graph asks for about a second.
                return Err(throttled(
                    "Application is over its MailboxConcurrency limit.",
                    1.0,
                ));
            }
            if b.requests.len() as u64 >= limits.max_requests as u64 {
                let oldest = b.requests.front().copied().unwrap_or(now);
                let wait = limits
                    .request_window
                    .saturating_sub(now.duration_since(oldest))
                    .as_secs_f64()
                    .max(0.001);
                return Err(throttled(
                    "Application is over its MailboxRequests limit.",
                    (wait * 1000.0).ceil() / 1000.0,
                ));
            }
            let used: u64 = b.uploads.iter().map(|(_, n)| n).sum();
            if upload > 0 && used + upload > limits.max_upload_bytes {
                let oldest = b.uploads.front().map(|(t, _)| *t).unwrap_or(now);
                let wait = limits
                    .upload_window
                    .saturating_sub(now.duration_since(oldest))
                    .as_secs_f64()
                    .max(0.001);
                return Err(throttled(
                    "Application is over its MailboxUploadSize limit.",
                    (wait * 1000.0).ceil() / 1000.0,
                ));
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
