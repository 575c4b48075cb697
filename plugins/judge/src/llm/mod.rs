//! Language-model judges over OpenAI-compatible servers ("Methods: LLM and MLLM odd-one-out
//! judgements"): each trial shows three stimuli in a randomised order (seeded, recorded), asks
//! the study's prompt, and appends one record to a JSONL store; a rerun resumes.
//!
//! A trial is `(triplet, repeat)`. Everything random about it (the order shown, the caption drawn
//! for each video) comes from a ChaCha8 stream seeded by the run's seed and the trial itself, so
//! a trial asked again after a crash gets the same prompt, whatever else changed in the list.
//!
//! `captions.rs` has `judge::llm` (captions to a language model), `video.rs` `judge::mllm`
//! (videos to a vision-language model); both collect through [`collect`] with the options
//! defined here.
mod captions;
mod video;

pub use captions::{CaptionAsker, Captions, Llm};
pub use video::{video_files, Mllm, VideoAs, VideoAsker};

use crate::net::{self, Network};
use emoscope_sdk::infer::prompts::Template;
use emoscope_sdk::infer::{
    parse::parse_choice, queue, store, ChatRequest, Endpoint, Message, Outcome, Policy, Record,
    Status, Stop,
};
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{bail, ensure, Ctx, Error, Map, Options, Result, Value};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Where `judge::llm` and `judge::mllm` send their trials.
#[derive(Options)]
pub struct Servers {
    /// #{url, model, concurrency, api_key_env} or a list of them: url is the server's
    /// OpenAI-compatible base (http://host:8000/v1), model the name it serves, concurrency the
    /// requests in flight on it (default 4), api_key_env the environment variable holding its key
    /// (read at start; never logged or stored)
    #[opt(doc_default = "required")]
    pub endpoints: Option<Value>,
}

/// How often `judge::llm` and `judge::mllm` ask each triplet, and the seed of what each trial
/// draws.
#[derive(Options)]
pub struct Draws {
    /// ask each triplet this many times (independent draws of order and captions; noise ceiling)
    #[opt(default = 1)]
    pub repeats: u32,
    /// ChaCha8 seed of every trial's order and caption draws (a function of the seed and the trial
    /// only) and of the retry jitter
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

/// How `judge::llm` and `judge::mllm` ask: the order shown, the network and its retries, the
/// budgets and the sampling.
#[derive(Options)]
pub struct Asking {
    /// show the three items in a random order per trial (recorded), so positional bias can be
    /// measured and undone; false shows them as given
    #[opt(default = true)]
    pub shuffle: bool,
    /// seconds for one request (connect, send, generate, receive)
    #[opt(default = net::TIMEOUT)]
    pub timeout: f64,
    /// seconds to connect
    #[opt(default = net::CONNECT_TIMEOUT)]
    pub connect_timeout: f64,
    /// retries of a request after connection errors, timeouts, 429, 5xx or a malformed answer
    /// (other 4xx fail at once)
    #[opt(default = net::MAX_RETRIES)]
    pub max_retries: u32,
    /// first retry delay in seconds, doubled per retry up to 60 s, with jitter; a 429's
    /// Retry-After (seconds) pauses its endpoint
    #[opt(default = net::BACKOFF)]
    pub backoff: f64,
    /// stop cleanly after this many requests (retries count)
    pub budget_requests: Option<u64>,
    /// stop cleanly once prompt + completion tokens (from the servers' usage) reach this
    pub budget_tokens: Option<u64>,
    /// sampling temperature
    #[opt(doc_default = "server default")]
    pub temperature: Option<f64>,
    /// longest answer in tokens (the prompt asks for descriptions and a reason: leave room)
    #[opt(doc_default = "server default")]
    pub max_tokens: Option<u64>,
    /// a system message sent before the prompt (the study sent none)
    pub system: Option<String>,
}

/// One trial, with its prompt.
pub struct Trial {
    pub triplet: Triplet,
    pub repeat: u32,
    /// Stimulus indices in the order shown.
    pub order: Triplet,
    /// Caption index shown for each position (LLM).
    pub captions: Option<[u32; 3]>,
    /// The request text (for an MLLM, with `<video k>` where the videos go).
    pub prompt: String,
}

/// How a trial becomes a prompt and a request: captions (LLM) or videos (MLLM).
pub trait Asker: Send + Sync + 'static {
    /// The prompt text, and the caption indices when there are captions.
    fn prompt(&self, order: Triplet, rng: &mut ChaCha8Rng) -> (String, Option<[u32; 3]>);
    /// The messages of the request (may fail: a video that cannot be decoded).
    fn messages(&self, trial: &Trial) -> std::result::Result<Vec<Message>, String>;
}

/// A trial's own random stream: a function of the seed and the trial only.
pub fn trial_rng(seed: u64, t: Triplet, repeat: u32) -> ChaCha8Rng {
    let mut h = seed ^ 0x5851_F42D_4C95_7F2D;
    for x in [t[0] as u64, t[1] as u64, t[2] as u64, repeat as u64] {
        h = splitmix(h ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
    ChaCha8Rng::seed_from_u64(h)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The order shown: a uniform permutation of the triplet, or the triplet as given.
pub fn shown_order(t: Triplet, shuffle: bool, rng: &mut ChaCha8Rng) -> Triplet {
    let mut o = t;
    if shuffle {
        for i in (1..3).rev() {
            let j = rng.random_range(0..=i);
            o.swap(i, j);
        }
    }
    o
}

/// Resolved settings of one collection.
pub struct Settings {
    pub endpoints: Vec<Endpoint>,
    pub template: Template,
    pub repeats: u32,
    pub seed: u64,
    pub store: PathBuf,
    pub policy: Policy,
    pub network: Network,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub shuffle: bool,
}

impl Settings {
    /// Check a collection's options and resolve them: `template` is the prompt text (a step's
    /// named templates already replaced), `store` the store option, else `default_store` in the
    /// run's output directory.
    pub fn new(
        servers: &Servers,
        template: &str,
        draws: &Draws,
        store: Option<&str>,
        default_store: &str,
        o: &Asking,
        ctx: &Ctx,
    ) -> Result<Settings> {
        let Some(endpoints) = &servers.endpoints else {
            bail!("endpoints is required: #{{url, model}} of an OpenAI-compatible server, or a list of them");
        };
        let endpoints = Endpoint::from_value(endpoints)?;
        let template = Template::parse(template)?;
        ensure!(
            draws.repeats >= 1,
            "repeats must be at least 1, got {}",
            draws.repeats
        );
        let network = Network {
            timeout: o.timeout,
            connect_timeout: o.connect_timeout,
            max_retries: o.max_retries,
            backoff: o.backoff,
        };
        network.check()?;
        if let Some(t) = o.temperature {
            ensure!(
                t.is_finite() && t >= 0.0,
                "temperature must be >= 0, got {t}"
            );
        }
        for (b, what) in [
            (o.budget_requests, "budget_requests"),
            (o.budget_tokens, "budget_tokens"),
        ] {
            ensure!(
                b != Some(0),
                "{what} must be positive (leave it out for no budget)"
            );
        }
        let seed = draws.seed.unwrap_or(ctx.seed);
        Ok(Settings {
            endpoints,
            template,
            repeats: draws.repeats,
            seed,
            store: store.map_or_else(|| ctx.out_path(default_store), PathBuf::from),
            policy: Policy {
                budget_requests: o.budget_requests,
                budget_tokens: o.budget_tokens,
                ..network.policy(seed)
            },
            network,
            temperature: o.temperature,
            max_tokens: o.max_tokens,
            shuffle: o.shuffle,
        })
    }
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Run one collection: resume from the store, ask every trial not yet answered, append records.
pub fn collect(
    triplets: &[Triplet],
    asker: Arc<dyn Asker>,
    s: Settings,
    label: &str,
    ctx: &Ctx,
) -> Result<Value> {
    let t0 = Instant::now();
    let (mut st, contents) = store::Store::open(&s.store)?;
    if contents.truncated > 0 {
        ctx.warn(&format!(
            "{}: cut off a truncated last line ({} bytes; a crash in the middle of a write); its trial is asked again",
            s.store.display(),
            contents.truncated
        ));
    }
    let tsha = s.template.sha256();
    if let Some(r) = contents
        .records
        .iter()
        .find(|r| !r.template_sha256.is_empty() && r.template_sha256 != tsha)
    {
        bail!(
            "{} holds trials asked with another template (sha256 {}, now {}); use a new store for a new template",
            s.store.display(),
            r.template_sha256,
            tsha
        );
    }
    let done: HashSet<([i64; 3], u32)> = contents
        .latest()
        .into_iter()
        .filter(|r| r.status.is_final())
        .map(|r| r.key())
        .collect();
    drop(contents);

    // Trials to ask: each distinct triplet (as given) × repeat, minus those already answered.
    let mut seen = HashSet::new();
    let mut duplicates = 0u64;
    let mut skipped = 0u64;
    let mut todo: Vec<(Triplet, u32)> = Vec::new();
    for &t in triplets {
        if !seen.insert(t) {
            duplicates += 1;
            continue;
        }
        for r in 0..s.repeats {
            if done.contains(&(t.map(i64::from), r)) {
                skipped += 1;
            } else {
                todo.push((t, r));
            }
        }
    }
    if duplicates > 0 {
        ctx.warn(&format!(
            "{duplicates} triplet rows repeat an earlier row and are asked once (use repeats: N to ask a triplet N times)"
        ));
    }
    let total = todo.len() as u64;
    let workers: usize = s.endpoints.iter().map(|e| e.concurrency).sum();
    let client = s.network.client(&s.endpoints);
    let mut summary = Map::new();
    let (mut parsed, mut unparsed, mut failed, mut written) = (0u64, 0u64, 0u64, 0u64);
    let mut cut = 0u64;
    let mut stats = None;
    if total > 0 {
        net::preflight(&client, &s.endpoints, ctx)?;
        ctx.info(&format!(
            "{label}: {total} trials to ask ({skipped} already in {}), {} endpoint(s), {workers} requests in flight",
            s.store.display(),
            s.endpoints.len()
        ));
        let (seed, shuffle) = (s.seed, s.shuffle);
        let a = asker.clone();
        let jobs = todo.into_iter().map(move |(t, r)| {
            let mut rng = trial_rng(seed, t, r);
            let order = shown_order(t, shuffle, &mut rng);
            let (prompt, captions) = a.prompt(order, &mut rng);
            Trial {
                triplet: t,
                repeat: r,
                order,
                captions,
                prompt,
            }
        });
        let (temperature, max_tokens) = (s.temperature, s.max_tokens);
        let a = asker.clone();
        let make = move |t: &Trial| -> std::result::Result<ChatRequest, String> {
            Ok(ChatRequest {
                messages: a.messages(t)?,
                temperature,
                max_tokens,
                seed: None,
            })
        };
        let endpoints = s.endpoints.clone();
        let mut warned_usage = s.policy.budget_tokens.is_none();
        let on_done = |t: Trial, o: Outcome| -> Result<()> {
            if let (false, Ok(r)) = (warned_usage, &o.result) {
                if r.prompt_tokens.is_none() && r.completion_tokens.is_none() {
                    warned_usage = true;
                    ctx.warn(&format!(
                        "{} sends no token usage: budget_tokens cannot be enforced on it (use budget_requests)",
                        endpoints[o.endpoint].url
                    ));
                }
            }
            let rec = record(&t, &o, &endpoints, &tsha);
            if rec.status == Status::Unparsed && rec.finish_reason.as_deref() == Some("length") {
                cut += 1;
            }
            match rec.status {
                Status::Parsed => parsed += 1,
                Status::Unparsed => unparsed += 1,
                Status::Failed => failed += 1,
            }
            written += 1;
            st.append(&rec)
        };
        let run = queue::run(
            &client,
            &s.endpoints,
            &s.policy,
            ctx,
            label,
            total,
            jobs,
            make,
            on_done,
        )?;
        st.sync()?;
        stats = Some(run);
    }
    drop(st);
    if cut > 0 {
        ctx.warn(&format!(
            "{label}: {cut} unparsed answers were cut short by max_tokens (finish_reason \"length\"); raise max_tokens and rerun on a new store"
        ));
    }
    if written > 0 {
        // Recorded once the store is final for this run (its sha256 goes into run.json).
        ctx.output_file(&s.store);
    }
    let stop = stats.as_ref().map_or(Stop::Completed, |r| r.stop.clone());
    let int = |v: u64| Value::Int(v as i64);
    summary.insert("done".into(), int(written));
    summary.insert("parsed".into(), int(parsed));
    summary.insert("unparsed".into(), int(unparsed));
    summary.insert("failed".into(), int(failed));
    summary.insert("skipped".into(), int(skipped));
    summary.insert("remaining".into(), int(total - written));
    summary.insert("duplicates".into(), int(duplicates));
    summary.insert(
        "requests".into(),
        int(stats.as_ref().map_or(0, |r| r.requests)),
    );
    summary.insert(
        "prompt_tokens".into(),
        int(stats.as_ref().map_or(0, |r| r.prompt_tokens)),
    );
    summary.insert(
        "completion_tokens".into(),
        int(stats.as_ref().map_or(0, |r| r.completion_tokens)),
    );
    summary.insert("seconds".into(), Value::Float(t0.elapsed().as_secs_f64()));
    summary.insert(
        "store".into(),
        Value::Str(s.store.to_string_lossy().into_owned()),
    );
    summary.insert(
        "stopped".into(),
        Value::Str(match &stop {
            Stop::Completed => "completed".into(),
            Stop::Cancelled => "cancelled".into(),
            Stop::Budget(b) => format!("budget: {b}"),
        }),
    );
    ctx.info(&format!(
        "{label}: {written} recorded ({parsed} parsed, {unparsed} unparsed, {failed} failed), {skipped} already done, {} left; {}",
        total - written,
        match &stop {
            Stop::Completed => "completed".to_string(),
            Stop::Cancelled => "cancelled".to_string(),
            Stop::Budget(b) => format!("stopped: {b}"),
        }
    ));
    if stop == Stop::Cancelled {
        return Err(Error::Cancelled);
    }
    Ok(Value::Map(summary))
}

fn record(t: &Trial, o: &Outcome, endpoints: &[Endpoint], tsha: &str) -> Record {
    let ep = &endpoints[o.endpoint];
    let (answer, choice, status, error, latency, pt, ct) = match &o.result {
        Ok(r) => {
            let pos = parse_choice(&r.text);
            (
                Some(r.text.clone()),
                pos.map(|p| t.order[p] as i64),
                if pos.is_some() {
                    Status::Parsed
                } else {
                    Status::Unparsed
                },
                None,
                r.latency.as_secs_f64(),
                r.prompt_tokens,
                r.completion_tokens,
            )
        }
        Err(e) => (
            None,
            None,
            Status::Failed,
            Some(e.message.clone()),
            0.0,
            None,
            None,
        ),
    };
    Record {
        triplet: t.triplet.map(i64::from),
        order: t.order.map(i64::from),
        repeat: t.repeat,
        model: ep.model.clone(),
        endpoint: ep.url.clone(),
        prompt_sha256: emoscope_sdk::io::sha256_bytes(t.prompt.as_bytes()),
        prompt: t.prompt.clone(),
        answer,
        choice,
        status,
        error,
        latency_s: latency,
        prompt_tokens: pt,
        completion_tokens: ct,
        finish_reason: o.result.as_ref().ok().and_then(|r| r.finish_reason.clone()),
        attempts: o.attempts,
        captions: t.captions,
        template_sha256: tsha.to_string(),
        time: now_unix(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn trial_streams_depend_on_the_trial_only() {
        let a: u64 = trial_rng(1, [1, 2, 3], 0).random();
        assert_eq!(a, trial_rng(1, [1, 2, 3], 0).random::<u64>());
        assert_ne!(a, trial_rng(1, [1, 2, 3], 1).random::<u64>());
        assert_ne!(a, trial_rng(1, [2, 1, 3], 0).random::<u64>());
        assert_ne!(a, trial_rng(2, [1, 2, 3], 0).random::<u64>());
    }

    #[test]
    fn shown_orders_are_uniform_permutations() {
        let mut counts: HashMap<Triplet, u32> = HashMap::new();
        for r in 0..6000 {
            let mut rng = trial_rng(7, [10, 20, 30], r);
            let o = shown_order([10, 20, 30], true, &mut rng);
            let mut s = o;
            s.sort();
            assert_eq!(s, [10, 20, 30]);
            *counts.entry(o).or_default() += 1;
        }
        assert_eq!(counts.len(), 6);
        assert!(
            counts.values().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
        let mut rng = trial_rng(7, [10, 20, 30], 0);
        assert_eq!(shown_order([10, 20, 30], false, &mut rng), [10, 20, 30]);
    }

    #[test]
    fn llm_takes_no_video_options_and_needs_endpoints() {
        use emoscope_sdk::step::Options as _;
        let o: Map = [("video_as".to_string(), Value::Str("mp4".into()))]
            .into_iter()
            .collect();
        let e = Llm::parse(&o).err().unwrap().to_string();
        assert!(e.contains("unknown option 'video_as'"), "{e}");
        let m = Mllm::parse(&o).unwrap();
        assert_eq!((m.video_as, m.frame_size), (VideoAs::Mp4, 256));
        let e = Settings::new(
            &m.servers,
            "{video_1} {video_2} {video_3}",
            &m.draws,
            None,
            "s.jsonl",
            &m.asking,
            &Ctx::detached(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("endpoints is required"), "{e}");
    }
}
