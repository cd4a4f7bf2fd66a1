//! Request accounting for tests and benchmarks: requests by route template and status,
//! totals, batch sub-requests, peak concurrency per mailbox, throttled responses and bytes
//! uploaded. Owns `Stats`; served as JSON at `GET /_emulator/stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};

#[derive(Default)]
struct Inner {
    total: u64,
    batch_sub_requests: u64,
    by_route: BTreeMap<String, BTreeMap<u16, u64>>,
    in_flight: BTreeMap<String, u32>,
    peak: BTreeMap<String, u32>,
    throttled: u64,
    bytes_uploaded: u64,
    token_requests: BTreeMap<u16, u64>,
    by_mailbox: BTreeMap<String, u64>,
}

#[derive(Default)]
pub(crate) struct Stats {
    inner: Mutex<Inner>,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One Graph request (or batch sub-request) answered with `status`.
    pub fn record(&self, template: &str, status: u16, sub_request: bool) {
        let mut s = self.lock();
        if sub_request {
            s.batch_sub_requests += 1;
        } else {
            s.total += 1;
        }
        *s.by_route
            .entry(template.to_string())
            .or_default()
            .entry(status)
            .or_default() += 1;
        if status == 429 {
            s.throttled += 1;
        }
    }

    /// A request (direct or batch entry) addressed to `mailbox`.
    pub fn record_mailbox(&self, mailbox: &str) {
        *self
            .lock()
            .by_mailbox
            .entry(mailbox.to_string())
            .or_default() += 1;
    }

    pub fn record_token(&self, status: u16) {
        *self.lock().token_requests.entry(status).or_default() += 1;
    }

    pub fn uploaded(&self, bytes: u64) {
        self.lock().bytes_uploaded += bytes;
    }

    pub fn enter(&self, mailbox: &str) {
        let mut s = self.lock();
        let n = {
            let c = s.in_flight.entry(mailbox.to_string()).or_default();
            *c += 1;
            *c
        };
        let p = s.peak.entry(mailbox.to_string()).or_default();
        if n > *p {
            *p = n;
        }
    }

    pub fn leave(&self, mailbox: &str) {
        let mut s = self.lock();
        if let Some(c) = s.in_flight.get_mut(mailbox) {
            *c = c.saturating_sub(1);
        }
    }

    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }

    pub fn to_json(&self) -> Value {
        let s = self.lock();
        let routes: serde_json::Map<String, Value> = s
            .by_route
            .iter()
            .map(|(k, v)| {
                let m: serde_json::Map<String, Value> =
                    v.iter().map(|(st, n)| (st.to_string(), json!(n))).collect();
                (k.clone(), Value::Object(m))
            })
            .collect();
        let by_route_total: serde_json::Map<String, Value> = s
            .by_route
            .iter()
            .map(|(k, v)| (k.clone(), json!(v.values().sum::<u64>())))
            .collect();
        let tokens: serde_json::Map<String, Value> = s
            .token_requests
            .iter()
            .map(|(st, n)| (st.to_string(), json!(n)))
            .collect();
        json!({
            "total": s.total,
            "batchSubRequests": s.batch_sub_requests,
            "routes": routes,
            "routeTotals": by_route_total,
            "peakConcurrency": s.peak,
            "inFlight": s.in_flight,
            "throttled": s.throttled,
            "bytesUploaded": s.bytes_uploaded,
            "tokenRequests": tokens,
            "mailboxRequests": s.by_mailbox,
        })
    }
}
