//! Odd-one-out judges ("Methods: triplet odd-one-out task"): the study's simulated humans, who
//! keep the most similar pair by their 34 category or 14 dimension ratings (Human-category,
//! Human-dimension); the rule it applies to non-generative models' feature vectors (the item with
//! the greatest mean distance to the other two is odd); and a stochastic observer that follows the
//! SPoSE choice model, for simulations and noise-ceiling studies.
//!
//! Every judge returns triplets in the SPoSE convention: the kept pair in the order shown, then
//! the odd one out. The language-model judges (`llm.rs`: captions to a language model, videos to
//! a vision-language model, over OpenAI-compatible servers) write an append-only store that
//! `collect.rs` reads back in the same format.
mod collect;
pub mod embed;
pub mod llm;
mod rules;

use emoscope_sdk::triplets::{self as trip};
use emoscope_sdk::{bail, ensure, options};
use emoscope_sdk::{Ctx, FnSpec, Map, Plugin, PluginInfo, Result, Ty, Value};
use serde::Deserialize;

pub use rules::{from_embedding, from_features, Metric, Rule};

pub struct Judge;

pub fn plugin() -> Judge {
    Judge
}

fn cosine() -> String {
    "cosine".into()
}
fn max_pair() -> String {
    "max_pair".into()
}
fn one() -> f64 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureOpt {
    #[serde(default = "cosine")]
    similarity: String,
    #[serde(default = "max_pair")]
    rule: String,
    n_items: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbeddingOpt {
    #[serde(default = "one")]
    temperature: f64,
    seed: Option<u64>,
    n_items: Option<usize>,
}

fn features(v: &Value, what: &str, n_items: Option<usize>) -> Result<ndarray::ArcArray2<f64>> {
    let x = v.to_tensor(what)?.matrix::<f64>(what)?;
    if let Some(n) = n_items {
        ensure!(
            x.nrows() == n,
            "{what} has {} rows but n_items is {n}: one row per item is expected",
            x.nrows()
        );
    }
    if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!("{what}, row {r}, column {c}: {v} is not a finite number");
    }
    Ok(x)
}

const ENDPOINTS_DOC: &str = "#{url, model, concurrency, api_key_env} or a list of them: url is the server's OpenAI-compatible base (http://host:8000/v1), model the name it serves, concurrency the requests in flight on it (default 4), api_key_env the environment variable holding its key (read at start; never logged or stored)";

fn collect_opts(f: FnSpec, default_store: &str, template: &str) -> FnSpec {
    f.opt("endpoints", Ty::Any, "required", ENDPOINTS_DOC)
        .opt("template", Ty::Str, "\"study\"", template)
        .opt("repeats", Ty::Int, "1", "ask each triplet this many times (independent draws of order and captions; noise ceiling)")
        .opt("seed", Ty::Int, "run seed", "ChaCha8 seed of every trial's order and caption draws (a function of the seed and the trial only) and of the retry jitter")
        .opt("store", Ty::Str, default_store, "the JSONL store: one record per trial, appended; a rerun skips trials recorded as parsed or unparsed and asks failed ones again")
        .opt("shuffle", Ty::Bool, "true", "show the three items in a random order per trial (recorded), so positional bias can be measured and undone; false shows them as given")
        .opt("timeout", Ty::Float, "120", "seconds for one request (connect, send, generate, receive)")
        .opt("connect_timeout", Ty::Float, "10", "seconds to connect")
        .opt("max_retries", Ty::Int, "5", "retries of a request after connection errors, timeouts, 429, 5xx or a malformed answer (other 4xx fail at once)")
        .opt("backoff", Ty::Float, "1.0", "first retry delay in seconds, doubled per retry up to 60 s, with jitter; a 429's Retry-After (seconds) pauses its endpoint")
        .opt("budget_requests", Ty::Int, "none", "stop cleanly after this many requests (retries count)")
        .opt("budget_tokens", Ty::Int, "none", "stop cleanly once prompt + completion tokens (from the servers' usage) reach this")
        .opt("temperature", Ty::Float, "server default", "sampling temperature")
        .opt("max_tokens", Ty::Int, "server default", "longest answer in tokens (the prompt asks for descriptions and a reason: leave room)")
        .opt("system", Ty::Str, "none", "a system message sent before the prompt (the study sent none)")
}

const SUMMARY_DOC: &str = "#{done (recorded this run), parsed, unparsed, failed, skipped (already in the store), remaining (not asked: budget), duplicates, requests, prompt_tokens, completion_tokens, seconds, store, stopped (\"completed\" or \"budget: ...\")}; Ctrl-C stops cleanly with every answer received recorded";

impl Plugin for Judge {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "judge".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Odd-one-out judges: simulated from ratings, feature similarity, the SPoSE choice model, language and vision-language models over OpenAI-compatible servers".into(),
            functions: vec![
                FnSpec::new("from_features", "Judge triplets from per-item feature vectors. Rule max_pair keeps the most similar pair (the study's simulated human on 34 category or 14 dimension ratings); rule mean_distance makes odd the item with the greatest mean distance to the other two (the study's rule for CLIP, ResNet, VideoMAE and text-encoder features). Ties go to the lowest stimulus index as the odd one, whatever the order shown.")
                    .param("features", Ty::Tensor, "items × features (row i describes item i)")
                    .param("triplets", Ty::Tensor, "N × 3 triplets in the order shown")
                    .opt("similarity", Ty::Str, "\"cosine\"", "cosine (a zero row is similar to nothing: 0), dot, or euclidean (negative Euclidean distance)")
                    .opt("rule", Ty::Str, "\"max_pair\"", "max_pair or mean_distance (distance = 1 − cosine, −dot, or the Euclidean distance)")
                    .opt("n_items", Ty::Int, "unchecked", "require exactly this many feature rows")
                    .returns("N × 3 i64 triplets in SPoSE order: the kept pair (in the order shown), then the odd one out")
                    .section("Methods: simulated human judgements; non-generative model judgements")
                    .example("let hc = judge::from_features(r.categories, all, #{rule: \"max_pair\"});"),
                FnSpec::new("from_embedding", "A stochastic observer with the SPoSE choice model: the pair (i, j) is kept with probability softmax over the three dot products, divided by the temperature.")
                    .param("embedding", Ty::Tensor, "items × dimensions (a SPoSE embedding)")
                    .param("triplets", Ty::Tensor, "N × 3 triplets in the order shown")
                    .opt("temperature", Ty::Float, "1.0", "scales the dot products before the softmax (1: the SPoSE model itself; → 0: always the most similar pair)")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed, one stream per 65,536 triplets (independent of the thread count)")
                    .opt("n_items", Ty::Int, "unchecked", "require exactly this many embedding rows")
                    .returns("N × 3 i64 triplets in SPoSE order")
                    .section("Methods: SPoSE choice model (simulation, noise ceiling)")
                    .example("let sim = judge::from_embedding(fit.embedding, all, #{seed: 2});"),
                collect_opts(FnSpec::new("llm", "Odd-one-out judgements from a language model: each video is replaced by one of its captions drawn at random per trial, the three are shown in a random order, and the study's prompt asks which is noticeably different. Trials go to a list of OpenAI-compatible endpoints (vLLM, llama.cpp, Ollama, hosted APIs) with bounded concurrency, retries and budgets, and are appended to a resumable JSONL store (docs/judges.md)."), "OUT/llm_judgements.jsonl", "\"study\" (the study's LLM prompt: text 1, then [Video_1: caption], [Video_2: caption], [Video_3: caption]) or a prompt text with the slots {video_1}, {video_2}, {video_3}, each replaced by the caption shown at that position")
                    .param("triplets", Ty::Tensor, "N × 3 stimulus indices (rows of captions)")
                    .param("captions", Ty::Map, "#{ids, captions} as io::captions returns (aligned to the stimuli)")
                    .returns(SUMMARY_DOC)
                    .section("Methods: LLM odd-one-out judgements")
                    .example("let s = judge::llm(all, caps, #{endpoints: #{url: \"http://localhost:8000/v1\", model: \"Qwen/Qwen2.5-7B-Instruct\", concurrency: 32}});"),
                collect_opts(FnSpec::new("mllm", "Odd-one-out judgements from a vision-language model: the study's interleaved prompt (text 1, the three videos, text 2), each video sent as frames sampled at the study's duration-dependent rate and resized to 256×256 (PNG image parts; needs ffmpeg), or as one re-encoded mp4 video part. Same endpoints, store, resuming and budgets as judge::llm."), "OUT/mllm_judgements.jsonl", "\"study\" (the interleaved prompt), \"early\" (all videos first: the template that showed positional bias) or a prompt text with the slots {video_1}, {video_2}, {video_3} where the videos go")
                    .param("triplets", Ty::Tensor, "N × 3 stimulus indices")
                    .param("videos", Ty::Any, "a directory of videos (every .mp4, sorted by name, is one stimulus), or #{dir, files} with the file names in stimulus order (e.g. the ratings' stimuli)")
                    .opt("video_as", Ty::Str, "\"frames\"", "frames (image_url PNG parts) or mp4 (one video_url part per video, for servers with video input)")
                    .opt("frame_size", Ty::Int, "256", "frame width and height in pixels")
                    .opt("max_frames", Ty::Int, "none", "at most this many frames per video, spread evenly")
                    .returns(SUMMARY_DOC)
                    .section("Methods: MLLM odd-one-out judgements")
                    .example("let s = judge::mllm(all, #{dir: \"videos\", files: r.stimuli}, #{endpoints: #{url: \"http://gpu:8000/v1\", model: \"Qwen/Qwen2.5-VL-7B-Instruct\"}});"),
                FnSpec::new("embed", "Feature vectors from a model, for judge::from_features (the study's non-generative judges: text encoders on captions, CLIP, ResNet, VideoMAE on videos). A TorchScript module exported from Python runs batched through libtorch on the chosen device (feature torch; text goes through the model's own Hugging Face tokenizer.json), or texts go to an OpenAI-compatible /embeddings endpoint with the same concurrency and retries as judge::llm. A stimulus given several texts (a video's 20 captions) gets the mean of their vectors.")
                    .param("items", Ty::Any, "a list of texts (one per stimulus), a list of text lists (one list per stimulus, averaged), io::captions' map (its caption lists), or, for TorchScript, a float tensor whose first axis is the stimulus")
                    .opt("torchscript", Ty::Str, "none", "a module saved by torch.jit.save: texts go in as (input_ids, attention_mask) int64 [B, L], tensors as float32 [B, ...]; it returns [B, D] (see bench/export_minilm.py)")
                    .opt("tokenizer", Ty::Str, "tokenizer.json beside the model", "the model's Hugging Face tokenizer.json (texts only)")
                    .opt("max_length", Ty::Int, "256", "tokens per text at most, special tokens included (longer texts are cut, as sentence-transformers' max_seq_length)")
                    .opt("device", Ty::Str, "the run's device", "cpu, cuda or cuda:N for the TorchScript module")
                    .opt("endpoint", Ty::Any, "none", ENDPOINTS_DOC)
                    .opt("batch", Ty::Int, "64", "items per forward pass, or texts per /embeddings request")
                    .opt("timeout", Ty::Float, "120", "endpoint: seconds for one request")
                    .opt("connect_timeout", Ty::Float, "10", "endpoint: seconds to connect")
                    .opt("max_retries", Ty::Int, "5", "endpoint: retries of a request after connection errors, 429, 5xx or a malformed answer")
                    .opt("backoff", Ty::Float, "1.0", "endpoint: first retry delay in seconds (doubled per retry, jittered; Retry-After honoured)")
                    .returns("stimuli × features f32 tensor, row i for items[i]")
                    .section("Methods: non-generative model judgements")
                    .example("let X = judge::embed(io::captions(\"captions.csv\"), #{torchscript: \"minilm/model.pt\"});\nlet text = judge::from_features(X, all, #{rule: \"mean_distance\"});"),
                FnSpec::new("collect_choices", "Read a judgement store back: the latest record of each trial counts; parsed trials become SPoSE triplets.")
                    .param("store", Ty::Str, "the JSONL store judge::llm or judge::mllm wrote")
                    .returns("#{triplets (N × 3 i64 SPoSE order: the two not chosen in the order given, then the odd one; parsed trials only), shown (N × 3 in the order shown), position (N: the shown position chosen, 0-2), repeat (N), by_repeat (one triplet set per repeat, for triplets::noise_ceiling), positions (3 counts: how often each shown position was chosen), parsed, unparsed, failed, models}")
                    .section("Methods: LLM and MLLM odd-one-out judgements")
                    .example("let c = judge::collect_choices(\"out/llm_judgements.jsonl\"); print(triplets::position_bias(c.shown, c.triplets));"),
            ],
        }
    }

    fn call(&self, function: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match function {
            "from_features" => {
                let o: FeatureOpt = options::parse(opts)?;
                let metric = Metric::parse(&o.similarity)?;
                let rule = Rule::parse(&o.rule)?;
                let x = features(&args[0], "features", o.n_items)?;
                let t = trip::rows(&args[1].to_tensor("triplets")?, "triplets", None)?;
                trip::check_items(&t, x.nrows(), "features")?;
                let j = from_features(x.view(), &t, metric, rule, ctx)?;
                Ok(Value::Tensor(trip::to_tensor(&j)))
            }
            "from_embedding" => {
                let o: EmbeddingOpt = options::parse(opts)?;
                let x = features(&args[0], "embedding", o.n_items)?;
                let t = trip::rows(&args[1].to_tensor("triplets")?, "triplets", None)?;
                trip::check_items(&t, x.nrows(), "embedding")?;
                let j =
                    from_embedding(x.view(), &t, o.temperature, o.seed.unwrap_or(ctx.seed), ctx)?;
                Ok(Value::Tensor(trip::to_tensor(&j)))
            }
            "llm" => {
                let o: llm::CollectOpt = options::parse(opts)?;
                let t = trip::rows(&args[0].to_tensor("triplets")?, "triplets", None)?;
                llm::llm(&t, &args[1], &o, ctx)
            }
            "mllm" => {
                let mut o: llm::CollectOpt = options::parse(opts)?;
                let t = trip::rows(&args[0].to_tensor("triplets")?, "triplets", None)?;
                let (dir, names) = match &args[1] {
                    Value::Str(d) => (std::path::PathBuf::from(d), None),
                    Value::Map(m) => {
                        let Some(Value::Str(d)) = m.get("dir") else {
                            bail!(
                                "videos must be a directory or #{{dir, files}} with dir a string"
                            );
                        };
                        let files = match m.get("files") {
                            None => None,
                            Some(Value::List(l)) => Some(
                                l.iter()
                                    .map(|v| v.as_str().map(str::to_string))
                                    .collect::<Option<Vec<_>>>()
                                    .ok_or_else(|| {
                                        emoscope_sdk::Error::msg(
                                            "videos.files must be a list of file names",
                                        )
                                    })?,
                            ),
                            Some(o) => bail!(
                                "videos.files must be a list of file names, got {}",
                                o.type_name()
                            ),
                        };
                        if let Some(k) = m.keys().find(|k| *k != "dir" && *k != "files") {
                            bail!("videos has an unknown key '{k}' (dir, files)");
                        }
                        (std::path::PathBuf::from(d), files)
                    }
                    o => bail!(
                        "videos must be a directory or #{{dir, files}}, got {}",
                        o.type_name()
                    ),
                };
                if o.template.as_deref() == Some("early") {
                    o.template = Some(emoscope_sdk::infer::prompts::mllm_early());
                }
                llm::mllm(&t, &dir, names.as_deref(), &o, ctx)
            }
            "embed" => {
                let o: embed::EmbedOpt = options::parse(opts)?;
                embed::embed(&args[0], &o, ctx)
            }
            "collect_choices" => {
                let Some(p) = args[0].as_str() else {
                    bail!("store must be a path");
                };
                collect::collect_choices(std::path::Path::new(p), ctx)
            }
            other => bail!("judge has no function '{other}'"),
        }
    }
}
