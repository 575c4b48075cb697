//! Many requests (chat completions or embedding batches) over many endpoints.
//!
//! One feeder thread puts jobs on a bounded crossbeam channel; each endpoint runs `concurrency`
//! worker threads that take the next job whenever they are free, so work flows to whichever
//! endpoint has room, and a slow or rate-limited server simply takes less. Answers come back to
//! the calling thread, the only one that calls `on_done` (which writes the store): nothing is
//! ever written from two threads at once.
//!
//! A worker retries a job with exponential backoff and seeded jitter on transient errors
//! (connection, timeout, 408, 5xx), 429 (a Retry-After in seconds pauses the whole endpoint) and
//! malformed answers, up to `max_retries` retries; a fatal error (another 4xx) ends the job at
//! once. Every job that is started ends with exactly one `on_done`, unless the run stops first.
//!
//! Stopping: on cancellation (`ctx.check()`) no new request is sent, backoffs are cut short and
//! answers still in flight are awaited for `grace` (then abandoned: their jobs were never
//! recorded, so a rerun does them). On a budget (requests sent, or prompt + completion tokens
//! from `usage`) no new request is sent and every answer in flight is awaited (it is paid for).
use super::client::{CallError, ChatReply, ChatRequest, Client, Embeddings, ErrorKind};
use super::endpoint::Endpoint;
use crate::ctx::Ctx;
use crate::error::Result;
use crossbeam_channel::{bounded, unbounded, RecvTimeoutError, SendTimeoutError};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How requests are retried and bounded.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Retries after the first attempt (so at most `max_retries + 1` requests per job).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, up to `backoff_max`, times a jitter in [0.5, 1).
    pub backoff: Duration,
    /// The longest wait between retries.
    pub backoff_max: Duration,
    /// A server's Retry-After is honoured up to this long.
    pub retry_after_max: Duration,
    /// Stop once this many requests were sent (retries count).
    pub budget_requests: Option<u64>,
    /// Stop once this many tokens (prompt + completion, from `usage`) were used.
    pub budget_tokens: Option<u64>,
    /// Seeds the jitter (one ChaCha8 stream per worker).
    pub seed: u64,
    /// On cancellation, how long answers in flight are awaited.
    pub grace: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_retries: 5,
            backoff: Duration::from_millis(1000),
            backoff_max: Duration::from_secs(60),
            retry_after_max: Duration::from_secs(600),
            budget_requests: None,
            budget_tokens: None,
            seed: 0,
            grace: Duration::from_secs(1),
        }
    }
}

/// What a job sends: a chat completion or a batch of embeddings.
pub trait Request: Send + Sync + 'static {
    /// What a successful call returns.
    type Reply: Send + 'static;
    /// Make the call once against `ep`.
    fn send(&self, client: &Client, ep: &Endpoint) -> std::result::Result<Self::Reply, CallError>;
    /// (prompt, completion) tokens the reply reports, for the token budget.
    fn tokens(reply: &Self::Reply) -> (u64, u64);
}

impl Request for ChatRequest {
    type Reply = ChatReply;
    fn send(&self, client: &Client, ep: &Endpoint) -> std::result::Result<ChatReply, CallError> {
        client.chat(ep, self)
    }
    fn tokens(r: &ChatReply) -> (u64, u64) {
        (
            r.prompt_tokens.unwrap_or(0),
            r.completion_tokens.unwrap_or(0),
        )
    }
}

/// A batch of texts for `/embeddings`.
pub struct EmbedRequest(pub Vec<String>);

impl Request for EmbedRequest {
    type Reply = Embeddings;
    fn send(&self, client: &Client, ep: &Endpoint) -> std::result::Result<Embeddings, CallError> {
        client.embed(ep, &self.0)
    }
    fn tokens(r: &Embeddings) -> (u64, u64) {
        (r.prompt_tokens.unwrap_or(0), 0)
    }
}

/// How a job ended.
#[derive(Debug)]
pub struct Outcome<R = ChatReply> {
    /// Index of the endpoint that answered (or last tried).
    pub endpoint: usize,
    /// The reply, or the last error (with the attempts in its message).
    pub result: std::result::Result<R, CallError>,
    /// Requests made for this job.
    pub attempts: u32,
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every job was answered or failed for good.
    Completed,
    /// Ctrl-C stopped the run.
    Cancelled,
    /// A budget was reached (which one, in words).
    Budget(String),
}

#[derive(Clone, Debug)]
/// What a queue run did.
pub struct RunStats {
    /// Why it stopped.
    pub stop: Stop,
    /// Jobs that ended (with a reply or a final error).
    pub done: u64,
    /// Of those, the ones that ended with an error.
    pub failed: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Prompt tokens, summed over replies that report them.
    pub prompt_tokens: u64,
    /// Generated tokens, summed over replies that report them.
    pub completion_tokens: u64,
    /// Jobs whose request was still in flight when the grace period ran out.
    pub abandoned: usize,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

struct Shared {
    stop: AtomicBool,
    budget_hit: Mutex<Option<String>>,
    requests: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    in_flight: AtomicUsize,
    paused_until: Vec<Mutex<Option<Instant>>>,
}

impl Shared {
    fn tokens(&self) -> u64 {
        self.prompt_tokens.load(Ordering::SeqCst) + self.completion_tokens.load(Ordering::SeqCst)
    }
    fn hit_budget(&self, why: String) {
        let mut b = self.budget_hit.lock().unwrap_or_else(|e| e.into_inner());
        if b.is_none() {
            *b = Some(why);
        }
        self.stop.store(true, Ordering::SeqCst);
    }
    /// Reserve one request under the budgets; false when a budget is spent.
    fn reserve(&self, policy: &Policy) -> bool {
        if let Some(cap) = policy.budget_tokens {
            if self.tokens() >= cap {
                self.hit_budget(format!("budget_tokens {cap} reached"));
                return false;
            }
        }
        match policy.budget_requests {
            None => {
                self.requests.fetch_add(1, Ordering::SeqCst);
                true
            }
            Some(cap) => {
                let ok = self
                    .requests
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n < cap).then_some(n + 1)
                    })
                    .is_ok();
                if !ok {
                    self.hit_budget(format!("budget_requests {cap} reached"));
                }
                ok
            }
        }
    }
}

/// Sleep `d` in short slices; false if the run was stopped meanwhile.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

/// Backoff before retry `k` (0 = the first retry).
pub fn backoff_delay(policy: &Policy, k: u32, rng: &mut ChaCha8Rng) -> Duration {
    let base = policy.backoff.as_secs_f64() * 2f64.powi(k.min(30) as i32);
    let capped = base.min(policy.backoff_max.as_secs_f64());
    let jitter: f64 = 0.5 + 0.5 * rng.random::<f64>();
    Duration::from_secs_f64(capped * jitter)
}

/// One job, with its retries. `None` when the run stopped before it ended.
fn attempt<Q: Request>(
    client: &Client,
    endpoints: &[Endpoint],
    e: usize,
    req: &Q,
    policy: &Policy,
    shared: &Shared,
    rng: &mut ChaCha8Rng,
) -> Option<Outcome<Q::Reply>> {
    let ep = &endpoints[e];
    let mut attempts = 0u32;
    loop {
        // Wait out the endpoint's Retry-After pause.
        let pause = *shared.paused_until[e]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(until) = pause {
            let now = Instant::now();
            if until > now && !sleep_unless_stopped(until - now, &shared.stop) {
                return None;
            }
        }
        if shared.stop.load(Ordering::SeqCst) || !shared.reserve(policy) {
            return None;
        }
        attempts += 1;
        match req.send(client, ep) {
            Ok(reply) => {
                let (p, c) = Q::tokens(&reply);
                shared.prompt_tokens.fetch_add(p, Ordering::SeqCst);
                shared.completion_tokens.fetch_add(c, Ordering::SeqCst);
                return Some(Outcome {
                    endpoint: e,
                    result: Ok(reply),
                    attempts,
                });
            }
            Err(err) => {
                if err.kind == ErrorKind::Fatal || attempts > policy.max_retries {
                    let mut err = err;
                    if attempts > 1 {
                        err.message = format!("{} (after {attempts} attempts)", err.message);
                    }
                    return Some(Outcome {
                        endpoint: e,
                        result: Err(err),
                        attempts,
                    });
                }
                let mut delay = backoff_delay(policy, attempts - 1, rng);
                if err.kind == ErrorKind::RateLimited {
                    if let Some(ra) = err.retry_after {
                        let ra = ra.min(policy.retry_after_max);
                        let until = Instant::now() + ra;
                        let mut p = shared.paused_until[e]
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        if p.is_none_or(|t| t < until) {
                            *p = Some(until);
                        }
                        delay = delay.min(ra);
                    }
                }
                if !sleep_unless_stopped(delay, &shared.stop) {
                    return None;
                }
            }
        }
    }
}

fn eta(secs: f64) -> String {
    if !secs.is_finite() {
        return "?".into();
    }
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Run `jobs` (`total` of them, for progress) against `endpoints`. `make` builds a job's request
/// (on a worker thread; an error there ends the job as failed, with no request sent); `on_done` receives each ended job on the calling thread, in the order
/// they end. An error from `on_done` stops the run and is returned.
#[allow(clippy::too_many_arguments)]
pub fn run<T, I, Q, M, F>(
    client: &Client,
    endpoints: &[Endpoint],
    policy: &Policy,
    ctx: &Ctx,
    label: &str,
    total: u64,
    jobs: I,
    make: M,
    mut on_done: F,
) -> Result<RunStats>
where
    T: Send + 'static,
    I: Iterator<Item = T> + Send + 'static,
    Q: Request,
    M: Fn(&T) -> std::result::Result<Q, String> + Send + Sync + 'static,
    F: FnMut(T, Outcome<Q::Reply>) -> Result<()>,
{
    let t0 = Instant::now();
    let workers: usize = endpoints.iter().map(|e| e.concurrency).sum();
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        budget_hit: Mutex::new(None),
        requests: AtomicU64::new(0),
        prompt_tokens: AtomicU64::new(0),
        completion_tokens: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        paused_until: endpoints.iter().map(|_| Mutex::new(None)).collect(),
    });
    let (job_tx, job_rx) = bounded::<T>(workers.max(1));
    let (res_tx, res_rx) = unbounded::<(T, Outcome<Q::Reply>)>();

    // Threads are detached, not scoped: on cancellation the run returns after the grace period
    // even if a request is still waiting on a slow server; that worker ends at its timeout and
    // its answer is dropped (the channel is closed), never written.
    {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("infer-feed".into())
            .spawn(move || {
                for mut job in jobs {
                    loop {
                        if shared.stop.load(Ordering::SeqCst) {
                            return;
                        }
                        match job_tx.send_timeout(job, Duration::from_millis(50)) {
                            Ok(()) => break,
                            Err(SendTimeoutError::Timeout(j)) => job = j,
                            Err(SendTimeoutError::Disconnected(_)) => return,
                        }
                    }
                }
            })
            .map_err(|e| crate::Error::msg(format!("cannot start the feeder thread: {e}")))?;
    }
    let make = Arc::new(make);
    let endpoints_arc: Arc<Vec<Endpoint>> = Arc::new(endpoints.to_vec());
    let mut w = 0u64;
    for (e, ep) in endpoints.iter().enumerate() {
        for _ in 0..ep.concurrency {
            let (job_rx, res_tx) = (job_rx.clone(), res_tx.clone());
            let (sh, make, client, eps) = (
                shared.clone(),
                make.clone(),
                client.clone(),
                endpoints_arc.clone(),
            );
            let policy = policy.clone();
            let mut rng = ChaCha8Rng::seed_from_u64(policy.seed ^ 0x9E37_79B9_7F4A_7C15);
            rng.set_stream(w);
            w += 1;
            std::thread::Builder::new()
                .name(format!("infer-{e}"))
                .spawn(move || {
                    let shared = sh;
                    while let Ok(job) = job_rx.recv() {
                        if shared.stop.load(Ordering::SeqCst) {
                            break;
                        }
                        shared.in_flight.fetch_add(1, Ordering::SeqCst);
                        let out = match make(&job) {
                            Ok(req) => attempt(&client, &eps, e, &req, &policy, &shared, &mut rng),
                            Err(m) => Some(Outcome {
                                endpoint: e,
                                result: Err(CallError {
                                    kind: ErrorKind::Fatal,
                                    message: format!("cannot build the request: {m}"),
                                    status: None,
                                    retry_after: None,
                                }),
                                attempts: 0,
                            }),
                        };
                        let sent = match out {
                            Some(o) => res_tx.send((job, o)).is_ok(),
                            None => false,
                        };
                        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                        if !sent {
                            break;
                        }
                    }
                })
                .map_err(|err| {
                    shared.stop.store(true, Ordering::SeqCst);
                    crate::Error::msg(format!("cannot start worker thread: {err}"))
                })?;
        }
    }
    drop(res_tx);
    drop(job_rx);

    let bar = ctx.progress(label, total);
    let mut stats = RunStats {
        stop: Stop::Completed,
        done: 0,
        failed: 0,
        requests: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        abandoned: 0,
        elapsed: Duration::ZERO,
    };
    let mut cancelled_at: Option<Instant> = None;
    let mut last_msg = Instant::now();
    let mut error = None;
    loop {
        match res_rx.recv_timeout(Duration::from_millis(50)) {
            Ok((job, outcome)) => {
                stats.done += 1;
                if outcome.result.is_err() {
                    stats.failed += 1;
                }
                if let Err(e) = on_done(job, outcome) {
                    shared.stop.store(true, Ordering::SeqCst);
                    error = Some(e);
                    break;
                }
                bar.inc(1);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if cancelled_at.is_none() && ctx.check().is_err() {
            shared.stop.store(true, Ordering::SeqCst);
            cancelled_at = Some(Instant::now());
        }
        if let Some(c) = cancelled_at {
            if c.elapsed() > policy.grace {
                stats.abandoned = shared.in_flight.load(Ordering::SeqCst);
                break;
            }
        }
        if last_msg.elapsed() >= Duration::from_millis(500) {
            last_msg = Instant::now();
            let secs = t0.elapsed().as_secs_f64();
            let rps = shared.requests.load(Ordering::SeqCst) as f64 / secs.max(1e-9);
            let rate = stats.done as f64 / secs.max(1e-9);
            let left = total.saturating_sub(stats.done) as f64;
            bar.set_message(&format!(
                "{} done, {} failed, {rps:.1} req/s, ETA {}",
                stats.done,
                stats.failed,
                if rate > 0.0 {
                    eta(left / rate)
                } else {
                    "?".into()
                }
            ));
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    stats.requests = shared.requests.load(Ordering::SeqCst);
    stats.prompt_tokens = shared.prompt_tokens.load(Ordering::SeqCst);
    stats.completion_tokens = shared.completion_tokens.load(Ordering::SeqCst);
    stats.elapsed = t0.elapsed();
    if let Some(e) = error {
        return Err(e);
    }
    let budget = shared
        .budget_hit
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    stats.stop = if cancelled_at.is_some() {
        Stop::Cancelled
    } else if let Some(b) = budget {
        Stop::Budget(b)
    } else {
        Stop::Completed
    };
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_reproducibly() {
        let p = Policy {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            ..Default::default()
        };
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let mut b = ChaCha8Rng::seed_from_u64(1);
        for k in 0..6 {
            let d = backoff_delay(&p, k, &mut a);
            assert_eq!(d, backoff_delay(&p, k, &mut b));
            let full = (100.0 * 2f64.powi(k as i32)).min(500.0);
            let ms = d.as_secs_f64() * 1000.0;
            assert!(ms >= 0.5 * full - 1e-6 && ms < full, "{k}: {ms} of {full}");
        }
    }

    #[test]
    fn request_budget_is_never_exceeded() {
        let s = Shared {
            stop: AtomicBool::new(false),
            budget_hit: Mutex::new(None),
            requests: AtomicU64::new(0),
            prompt_tokens: AtomicU64::new(0),
            completion_tokens: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            paused_until: vec![],
        };
        let p = Policy {
            budget_requests: Some(3),
            ..Default::default()
        };
        let ok = (0..5).filter(|_| s.reserve(&p)).count();
        assert_eq!(ok, 3);
        assert!(s.stop.load(Ordering::SeqCst));
        assert!(s
            .budget_hit
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .contains("budget_requests 3"));
    }

    #[test]
    fn eta_reads_well() {
        assert_eq!(eta(5.2), "5s");
        assert_eq!(eta(125.0), "2m05s");
        assert_eq!(eta(7300.0), "2h01m");
    }
}
