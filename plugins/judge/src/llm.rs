//! Language-model judges over OpenAI-compatible servers ("Methods: LLM and MLLM odd-one-out
//! judgements"): each trial shows three stimuli in a randomised order (seeded, recorded), asks
//! the study's prompt, and appends one record to a JSONL store; a rerun resumes.
//!
//! A trial is `(triplet, repeat)`. Everything random about it (the order shown, the caption drawn
//! for each video) comes from a ChaCha8 stream seeded by the run's seed and the trial itself, so
//! a trial asked again after a crash gets the same prompt, whatever else changed in the list.
use emoscope_sdk::infer::prompts::{self, Piece, Template};
use emoscope_sdk::infer::{
    parse::parse_choice, queue, store, ChatRequest, Client, Endpoint, ErrorKind, Message, Outcome,
    Part, Policy, Record, Status, Stop,
};
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{bail, ensure, Ctx, Error, Map, Result, Value};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
// Network defaults, shared with `judge::embed`'s endpoint route.
pub(crate) fn d_timeout() -> f64 {
    120.0
}
pub(crate) fn d_connect() -> f64 {
    10.0
}
pub(crate) fn d_retries() -> u32 {
    5
}
pub(crate) fn d_backoff() -> f64 {
    1.0
}

/// The options shared by `judge::llm` and `judge::mllm`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectOpt {
    pub endpoints: Value,
    pub template: Option<String>,
    #[serde(default = "one")]
    pub repeats: u32,
    pub seed: Option<u64>,
    pub store: Option<String>,
    #[serde(default = "d_timeout")]
    pub timeout: f64,
    #[serde(default = "d_connect")]
    pub connect_timeout: f64,
    #[serde(default = "d_retries")]
    pub max_retries: u32,
    #[serde(default = "d_backoff")]
    pub backoff: f64,
    pub budget_requests: Option<u64>,
    pub budget_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    #[serde(default = "yes")]
    pub shuffle: bool,
    pub system: Option<String>,
    /// MLLM only: frames (PNG images, the default) or mp4 (one video_url part per video).
    pub video_as: Option<String>,
    /// MLLM only: frame size in pixels (the study: 256).
    pub frame_size: Option<u32>,
    /// MLLM only: at most this many frames per video.
    pub max_frames: Option<usize>,
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

/// Captions as `io::captions` returns them: `#{ids, captions}`.
pub struct Captions {
    pub ids: Vec<String>,
    pub captions: Vec<Vec<String>>,
}

impl Captions {
    pub fn from_value(v: &Value) -> Result<Captions> {
        let Some(m) = v.as_map() else {
            bail!(
                "captions must be the map io::captions returns (#{{ids, captions}}), got {}",
                v.type_name()
            );
        };
        let list = |k: &str| -> Result<&Vec<Value>> {
            match m.get(k) {
                Some(Value::List(l)) => Ok(l),
                Some(o) => bail!("captions.{k} must be a list, got {}", o.type_name()),
                None => bail!("captions has no '{k}': pass the map io::captions returns"),
            }
        };
        let ids: Vec<String> = list("ids")?
            .iter()
            .map(|v| match v {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                o => format!("{o:?}"),
            })
            .collect();
        let mut captions = Vec::new();
        for (i, c) in list("captions")?.iter().enumerate() {
            let id = ids.get(i).cloned().unwrap_or_else(|| i.to_string());
            let Value::List(l) = c else {
                bail!("captions.captions[{i}] (video {id}) must be a list of strings");
            };
            let caps: Vec<String> = l
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    Error::msg(format!(
                        "captions.captions[{i}] (video {id}) holds a non-string"
                    ))
                })?;
            ensure!(
                caps.iter().any(|c| !c.trim().is_empty()),
                "video {id} (item {i}) has no caption to show"
            );
            captions.push(caps.into_iter().filter(|c| !c.trim().is_empty()).collect());
        }
        ensure!(
            ids.len() == captions.len(),
            "captions has {} ids but {} caption lists",
            ids.len(),
            captions.len()
        );
        Ok(Captions { ids, captions })
    }
}

/// The language-model asker: each video replaced by one of its captions.
pub struct CaptionAsker {
    pub captions: Captions,
    pub template: Template,
    pub system: Option<String>,
}

impl Asker for CaptionAsker {
    fn prompt(&self, order: Triplet, rng: &mut ChaCha8Rng) -> (String, Option<[u32; 3]>) {
        let mut k = [0u32; 3];
        for (p, &s) in order.iter().enumerate() {
            k[p] = rng.random_range(0..self.captions.captions[s as usize].len() as u32);
        }
        let text: [&str; 3] = std::array::from_fn(|p| {
            self.captions.captions[order[p] as usize][k[p] as usize].as_str()
        });
        (self.template.render(text), Some(k))
    }
    fn messages(&self, trial: &Trial) -> std::result::Result<Vec<Message>, String> {
        let mut m = Vec::new();
        if let Some(s) = &self.system {
            m.push(Message::system(s.clone()));
        }
        m.push(Message::user(trial.prompt.clone()));
        Ok(m)
    }
}

/// Resolved settings of one collection.
pub struct Settings {
    pub endpoints: Vec<Endpoint>,
    pub template: Template,
    pub repeats: u32,
    pub seed: u64,
    pub store: PathBuf,
    pub policy: Policy,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub shuffle: bool,
}

impl Settings {
    pub fn from_opts(
        o: &CollectOpt,
        default_template: String,
        default_store: &str,
        ctx: &Ctx,
    ) -> Result<Settings> {
        let endpoints = Endpoint::from_value(&o.endpoints)?;
        let template = match o.template.as_deref() {
            None | Some("study") => Template::parse(&default_template)?,
            Some(t) => Template::parse(t)?,
        };
        ensure!(
            o.repeats >= 1,
            "repeats must be at least 1, got {}",
            o.repeats
        );
        ensure!(
            o.timeout.is_finite() && o.timeout > 0.0,
            "timeout must be a positive number of seconds, got {}",
            o.timeout
        );
        ensure!(
            o.connect_timeout.is_finite() && o.connect_timeout > 0.0,
            "connect_timeout must be a positive number of seconds, got {}",
            o.connect_timeout
        );
        ensure!(
            o.backoff.is_finite() && o.backoff >= 0.0,
            "backoff must be a non-negative number of seconds, got {}",
            o.backoff
        );
        ensure!(
            o.max_retries <= 100,
            "max_retries is at most 100, got {}",
            o.max_retries
        );
        if let Some(t) = o.temperature {
            ensure!(
                t.is_finite() && t >= 0.0,
                "temperature must be >= 0, got {t}"
            );
        }
        if let Some(b) = o.budget_requests {
            ensure!(
                b > 0,
                "budget_requests must be positive (leave it out for no budget)"
            );
        }
        if let Some(b) = o.budget_tokens {
            ensure!(
                b > 0,
                "budget_tokens must be positive (leave it out for no budget)"
            );
        }
        let seed = o.seed.unwrap_or(ctx.seed);
        let store = match &o.store {
            Some(s) => PathBuf::from(s),
            None => ctx.out_path(default_store),
        };
        Ok(Settings {
            endpoints,
            template,
            repeats: o.repeats,
            seed,
            store,
            policy: Policy {
                max_retries: o.max_retries,
                backoff: Duration::from_secs_f64(o.backoff),
                backoff_max: Duration::from_secs_f64(60f64.max(o.backoff)),
                budget_requests: o.budget_requests,
                budget_tokens: o.budget_tokens,
                seed,
                ..Policy::default()
            },
            timeout: Duration::from_secs_f64(o.timeout),
            connect_timeout: Duration::from_secs_f64(o.connect_timeout),
            temperature: o.temperature,
            max_tokens: o.max_tokens,
            shuffle: o.shuffle,
        })
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
    let client = Client::new(s.timeout, s.connect_timeout, workers);
    let mut summary = Map::new();
    let (mut parsed, mut unparsed, mut failed, mut written) = (0u64, 0u64, 0u64, 0u64);
    let mut cut = 0u64;
    let mut stats = None;
    if total > 0 {
        preflight(&client, &s.endpoints, ctx)?;
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

/// `judge::llm(triplets, captions, opts)`.
pub fn llm(triplets: &[Triplet], captions: &Value, o: &CollectOpt, ctx: &Ctx) -> Result<Value> {
    for (k, v) in [
        ("video_as", o.video_as.is_some()),
        ("frame_size", o.frame_size.is_some()),
        ("max_frames", o.max_frames.is_some()),
    ] {
        ensure!(
            !v,
            "option {k} is for judge::mllm (videos), not judge::llm (captions)"
        );
    }
    let caps = Captions::from_value(captions)?;
    emoscope_sdk::triplets::check_items(triplets, caps.captions.len(), "captions")?;
    let s = Settings::from_opts(o, prompts::llm_study(), "llm_judgements.jsonl", ctx)?;
    let asker = CaptionAsker {
        captions: caps,
        template: s.template.clone(),
        system: o.system.clone(),
    };
    collect(triplets, Arc::new(asker), s, "judge::llm", ctx)
}

/// How videos are sent to a vision-language model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoAs {
    /// Sampled frames (Eq. 1 rate, 256×256), one `image_url` PNG part each.
    Frames,
    /// One `video_url` part with the re-encoded clip (servers with video input, e.g. vLLM).
    Mp4,
}

/// The vision-language asker: the videos themselves, interleaved with the text.
pub struct VideoAsker {
    pub files: Vec<PathBuf>,
    pub template: Template,
    pub system: Option<String>,
    pub video_as: VideoAs,
    pub frames: emoscope_sdk::infer::video::FrameOpts,
    /// Encoded parts per video, computed once (most videos appear in many trials).
    cache: std::sync::Mutex<HashMap<u32, Arc<Vec<Part>>>>,
}

impl VideoAsker {
    fn parts(&self, item: u32) -> std::result::Result<Arc<Vec<Part>>, String> {
        if let Some(p) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&item)
        {
            return Ok(p.clone());
        }
        let path = &self.files[item as usize];
        let parts = match self.video_as {
            VideoAs::Frames => emoscope_sdk::infer::video::sample_frames(path, &self.frames)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|f| Part::png(&f.png))
                .collect(),
            VideoAs::Mp4 => vec![Part::mp4(
                &emoscope_sdk::infer::video::encode_video_mp4(path, &self.frames)
                    .map_err(|e| e.to_string())?,
            )],
        };
        let parts = Arc::new(parts);
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        // Bound the cache (2,180 videos of ~10 frames stay well under a GB; beyond, drop it).
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(item, parts.clone());
        Ok(parts)
    }
}

impl Asker for VideoAsker {
    fn prompt(&self, order: Triplet, _rng: &mut ChaCha8Rng) -> (String, Option<[u32; 3]>) {
        let names: [String; 3] = std::array::from_fn(|p| {
            let f = &self.files[order[p] as usize];
            format!(
                "<video {}: {}>",
                p + 1,
                f.file_name().map_or_else(
                    || f.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            )
        });
        (
            self.template.render([&names[0], &names[1], &names[2]]),
            None,
        )
    }
    fn messages(&self, trial: &Trial) -> std::result::Result<Vec<Message>, String> {
        let mut parts = Vec::new();
        for piece in &self.template.pieces {
            match piece {
                // The line breaks around a slot only lay the template out: each text input is
                // sent as the Methods give it.
                Piece::Text(t) => {
                    let t = t.trim_matches('\n');
                    if !t.trim().is_empty() {
                        parts.push(Part::Text(t.to_string()));
                    }
                }
                Piece::Slot(p) => parts.extend(self.parts(trial.order[*p])?.iter().cloned()),
            }
        }
        let mut m = Vec::new();
        if let Some(s) = &self.system {
            m.push(Message::system(s.clone()));
        }
        m.push(Message::user_parts(parts));
        Ok(m)
    }
}

/// The video files of `dir` in stimulus order: `videos` is a list of file names (the ratings'
/// `stimuli`), or, when absent, every `.mp4` in `dir` sorted by name.
pub fn video_files(dir: &Path, names: Option<&[String]>) -> Result<Vec<PathBuf>> {
    ensure!(
        dir.is_dir(),
        "{} is not a directory of videos",
        dir.display()
    );
    let files: Vec<PathBuf> = match names {
        Some(n) => n.iter().map(|f| dir.join(f)).collect(),
        None => {
            let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| Error::msg(format!("cannot list {}: {e}", dir.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("mp4")))
                .collect();
            v.sort();
            v
        }
    };
    ensure!(!files.is_empty(), "no videos found in {}", dir.display());
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        bail!("video {} does not exist", missing.display());
    }
    Ok(files)
}

/// `judge::mllm(triplets, videos_dir, opts)`.
pub fn mllm(
    triplets: &[Triplet],
    dir: &Path,
    names: Option<&[String]>,
    o: &CollectOpt,
    ctx: &Ctx,
) -> Result<Value> {
    let files = video_files(dir, names)?;
    emoscope_sdk::triplets::check_items(triplets, files.len(), "videos")?;
    let s = Settings::from_opts(o, prompts::mllm_study(), "mllm_judgements.jsonl", ctx)?;
    let video_as = match o.video_as.as_deref().unwrap_or("frames") {
        "frames" => VideoAs::Frames,
        "mp4" => VideoAs::Mp4,
        other => bail!("video_as must be \"frames\" (PNG image parts) or \"mp4\" (video_url parts), got \"{other}\""),
    };
    let mut frames = emoscope_sdk::infer::video::FrameOpts::default();
    if let Some(sz) = o.frame_size {
        frames.size = sz;
    }
    frames.max_frames = o.max_frames;
    let asker = VideoAsker {
        files,
        template: s.template.clone(),
        system: o.system.clone(),
        video_as,
        frames,
        cache: Default::default(),
    };
    collect(triplets, Arc::new(asker), s, "judge::mllm", ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
