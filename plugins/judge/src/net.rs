//! What the steps that talk to servers share (`judge::llm`, `judge::mllm`, and `judge::embed`'s
//! endpoint route): their network defaults, the checks of their request and retry settings, the
//! client and retry policy built from them, and a preflight that fails early on an endpoint that
//! cannot be reached or refuses the key, before any trial is asked.
use emoscope_sdk::infer::{Client, Endpoint, ErrorKind, Policy};
use emoscope_sdk::{bail, ensure, Ctx, Result};
use std::time::Duration;

/// Seconds for one request, unless a step's `timeout` says otherwise.
pub(crate) const TIMEOUT: f64 = 120.0;
/// Seconds to connect, unless a step's `connect_timeout` says otherwise.
pub(crate) const CONNECT_TIMEOUT: f64 = 10.0;
/// Retries of a request, unless a step's `max_retries` says otherwise.
pub(crate) const MAX_RETRIES: u32 = 5;
/// The first retry delay in seconds, unless a step's `backoff` says otherwise.
pub(crate) const BACKOFF: f64 = 1.0;

/// The request and retry settings of a step, as its options give them.
pub struct Network {
    /// Seconds for one request.
    pub timeout: f64,
    /// Seconds to connect.
    pub connect_timeout: f64,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first retry delay in seconds, doubled per retry.
    pub backoff: f64,
}

impl Network {
    /// Refuse settings the client cannot honour, before anything is sent.
    pub fn check(&self) -> Result<()> {
        for (x, what) in [
            (self.timeout, "timeout"),
            (self.connect_timeout, "connect_timeout"),
        ] {
            ensure!(
                x.is_finite() && x > 0.0,
                "{what} must be a positive number of seconds, got {x}"
            );
        }
        ensure!(
            self.backoff.is_finite() && self.backoff >= 0.0,
            "backoff must be a non-negative number of seconds, got {}",
            self.backoff
        );
        ensure!(
            self.max_retries <= 100,
            "max_retries is at most 100, got {}",
            self.max_retries
        );
        Ok(())
    }

    /// A client keeping a connection per request in flight on `endpoints`.
    pub fn client(&self, endpoints: &[Endpoint]) -> Client {
        let workers: usize = endpoints.iter().map(|e| e.concurrency).sum();
        Client::new(
            Duration::from_secs_f64(self.timeout),
            Duration::from_secs_f64(self.connect_timeout),
            workers,
        )
    }

    /// The retry policy, without budgets; `seed` seeds the jitter.
    pub fn policy(&self, seed: u64) -> Policy {
        Policy {
            max_retries: self.max_retries,
            backoff: Duration::from_secs_f64(self.backoff),
            // A backoff longer than the usual cap is taken as meant, not cut to it.
            backoff_max: Duration::from_secs_f64(60f64.max(self.backoff)),
            seed,
            ..Policy::default()
        }
    }
}

/// Fail early on an endpoint that cannot be reached or rejects the key.
pub(crate) fn preflight(client: &Client, endpoints: &[Endpoint], ctx: &Ctx) -> Result<()> {
    for (i, ep) in endpoints.iter().enumerate() {
        match client.models(ep) {
            Ok(models) => {
                if !models.is_empty() && !models.iter().any(|m| m == &ep.model) {
                    ctx.warn(&format!(
                        "endpoint {} ({}) does not list the model '{}' (it serves: {}); requests may fail",
                        i + 1,
                        ep.url,
                        ep.model,
                        models.join(", ")
                    ));
                }
            }
            Err(e) if e.status == Some(404) || e.status == Some(405) => {} // no /models route
            Err(e) if e.kind == ErrorKind::Transient && e.status.is_none() => {
                bail!(
                    "endpoint {} ({}) is unreachable: {}",
                    i + 1,
                    ep.url,
                    e.message
                )
            }
            Err(e) if e.status == Some(401) || e.status == Some(403) => {
                bail!(
                    "endpoint {} ({}) refused the key: {}",
                    i + 1,
                    ep.url,
                    e.message
                )
            }
            Err(e) => ctx.warn(&format!(
                "endpoint {} ({}): listing its models failed ({}); going on",
                i + 1,
                ep.url,
                e.message
            )),
        }
    }
    Ok(())
}
