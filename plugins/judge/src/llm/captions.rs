//! `judge::llm`: a language model judges captions. Each video is replaced by one of its captions,
//! drawn per trial from the trial's own stream, so a trial asked again shows the same captions.
use super::{collect, Asker, Asking, Draws, Servers, Settings, Trial};
use emoscope_sdk::infer::prompts::{self, Template};
use emoscope_sdk::infer::Message;
use emoscope_sdk::step::Step;
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{bail, ensure, Ctx, Error, Options, Result, Value};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Odd-one-out judgements from a language model: each video is replaced by one of its captions
/// drawn at random per trial, the three are shown in a random order, and the study's prompt asks
/// which is noticeably different. Trials go to a list of OpenAI-compatible endpoints (vLLM,
/// llama.cpp, Ollama, hosted APIs) with bounded concurrency, retries and budgets, and are
/// appended to a resumable JSONL store (docs/judges.md).
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(triplets: Tensor = "N × 3 stimulus indices (rows of captions)"),
    param(captions: Map = "#{ids, captions} as io::captions returns (aligned to the stimuli)"),
    returns = "#{done (recorded this run), parsed, unparsed, failed, skipped (already in the store), remaining (not asked: budget), duplicates, requests, prompt_tokens, completion_tokens, seconds, store, stopped (\"completed\" or \"budget: ...\")}; Ctrl-C stops cleanly with every answer received recorded",
    section = "Methods: LLM odd-one-out judgements",
    example = "let s = judge::llm(all, caps, #{endpoints: #{url: \"http://localhost:8000/v1\", model: \"Qwen/Qwen2.5-7B-Instruct\", concurrency: 32}});"
)]
pub struct Llm {
    #[opt(flatten)]
    pub servers: Servers,
    /// "study" (the study's LLM prompt: text 1, then [Video_1: caption], [Video_2: caption],
    /// [Video_3: caption]) or a prompt text with the slots {video_1}, {video_2}, {video_3}, each
    /// replaced by the caption shown at that position
    #[opt(default = "study")]
    pub template: String,
    #[opt(flatten)]
    pub draws: Draws,
    /// the JSONL store: one record per trial, appended; a rerun skips trials recorded as parsed
    /// or unparsed and asks failed ones again
    #[opt(doc_default = "OUT/llm_judgements.jsonl")]
    pub store: Option<String>,
    #[opt(flatten)]
    pub asking: Asking,
}

impl Step for Llm {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let triplets = crate::triplets_arg(&args[0])?;
        let caps = Captions::from_value(&args[1])?;
        emoscope_sdk::triplets::check_items(&triplets, caps.captions.len(), "captions")?;
        let template = match self.template.as_str() {
            "study" => prompts::llm_study(),
            text => text.to_string(),
        };
        let s = Settings::new(
            &self.servers,
            &template,
            &self.draws,
            self.store.as_deref(),
            "llm_judgements.jsonl",
            &self.asking,
            ctx,
        )?;
        let asker = CaptionAsker {
            captions: caps,
            template: s.template.clone(),
            system: self.asking.system.clone(),
        };
        collect(&triplets, Arc::new(asker), s, "judge::llm", ctx)
    }
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
