//! Switchable faults: added latency (fixed plus jitter), error rates per route (429, 500,
//! 503, 504), connection resets mid-response, slow bodies, early token expiry and delta
//! token invalidation. Owns `Faults`; every random choice comes from one seeded RNG so a
//! test replaying the same requests sees the same faults. Set from `EmulatorConfig.faults`
//! and at run time with `POST /_emulator/faults` (JSON `FaultConfig`), cleared with
//! `DELETE /_emulator/faults`.

use std::sync::Mutex;
use std::time::Duration;

use crate::config::FaultConfig;
use crate::graph::errors::GraphError;
use crate::seed::Rng;

struct State {
    config: FaultConfig,
    rng: Rng,
    /// Delta tokens minted before this epoch are invalid.
    delta_epoch: u64,
}

pub(crate) struct Faults {
    state: Mutex<State>,
}

/// What to do with one response body.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BodyFault {
    pub reset: bool,
    pub bytes_per_sec: u64,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Faults {
        let rng = Rng::new(config.seed);
        Faults {
            state: Mutex::new(State {
                config,
                rng,
                delta_epoch: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, config: FaultConfig) {
        let mut s = self.lock();
        if config.invalidate_delta_tokens {
            s.delta_epoch += 1;
        }
        s.rng = Rng::new(config.seed);
        s.config = config;
    }

    pub fn clear(&self) {
        let mut s = self.lock();
        s.config = FaultConfig::default();
        s.rng = Rng::new(0);
    }

    pub fn config(&self) -> FaultConfig {
        self.lock().config.clone()
    }

    pub fn delta_epoch(&self) -> u64 {
        self.lock().delta_epoch
    }

    pub fn token_early_expiry(&self) -> Option<u64> {
        self.lock().config.token_early_expiry_secs
    }

    /// Latency to add and an error to answer instead, for a route template.
    pub fn roll(&self, template: &str) -> (Duration, Option<GraphError>) {
        let mut s = self.lock();
        let c = s.config.clone();
        let jitter = if c.jitter_ms > 0 {
            s.rng.below(c.jitter_ms + 1)
        } else {
            0
        };
        let delay = Duration::from_millis(c.latency_ms + jitter);
        for rule in &c.errors {
            if !template.starts_with(&rule.route) && !template_matches(template, &rule.route) {
                continue;
            }
            if rule.probability > 0.0 && s.rng.f64() < rule.probability {
                let e = match rule.status {
                    429 => GraphError::new(
                        429,
                        "TooManyRequests",
                        "Too many requests (injected by the emulator).",
                    ),
                    503 => GraphError::new(
                        503,
                        "ServiceNotAvailable",
                        "Service unavailable (injected by the emulator).",
                    ),
                    504 => GraphError::new(
                        504,
                        "GatewayTimeout",
                        "Gateway timeout (injected by the emulator).",
                    ),
                    s => GraphError::new(
                        s,
                        "InternalServerError",
                        "Internal server error (injected by the emulator).",
                    ),
                };
                let e = match (rule.status, rule.retry_after) {
                    (429 | 503, Some(ra)) => e.with_header("Retry-After", format_secs(ra)),
                    (429 | 503, None) => e.with_header("Retry-After", "1"),
                    _ => e,
                };
                return (delay, Some(e));
            }
        }
        (delay, None)
    }

    pub fn body_fault(&self) -> BodyFault {
        let mut s = self.lock();
        let reset = s.config.reset_probability > 0.0 && {
            let p = s.config.reset_probability;
            s.rng.f64() < p
        };
        BodyFault {
            reset,
            bytes_per_sec: s.config.slow_body_bytes_per_sec,
        }
    }
}

/// A rule route may omit the method ("/users/{id}/messages") or be "*".
fn template_matches(template: &str, rule: &str) -> bool {
    rule == "*"
        || template
            .split_once(' ')
            .is_some_and(|(_, path)| path.starts_with(rule))
}

pub(crate) fn format_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}
