//! `judge::mllm`: a vision-language model judges the videos themselves, interleaved with the
//! study's text; each video goes as sampled PNG frames or as one re-encoded mp4.
use super::{collect, Asker, Asking, Draws, Servers, Settings, Trial};
use emoscope_sdk::infer::prompts::{self, Piece, Template};
use emoscope_sdk::infer::video::FrameOpts;
use emoscope_sdk::infer::{Message, Part};
use emoscope_sdk::step::Step;
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{bail, ensure, Choice, Ctx, Error, Options, Result, Value};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Odd-one-out judgements from a vision-language model: the study's interleaved prompt (text 1,
/// the three videos, text 2), each video sent as frames sampled at the study's
/// duration-dependent rate and resized to 256×256 (PNG image parts; needs ffmpeg), or as one
/// re-encoded mp4 video part. Same endpoints, store, resuming and budgets as judge::llm.
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(triplets: Tensor = "N × 3 stimulus indices"),
    param(videos: Any = "a directory of videos (every .mp4, sorted by name, is one stimulus), or #{dir, files} with the file names in stimulus order (e.g. the ratings' stimuli)"),
    returns = "#{done (recorded this run), parsed, unparsed, failed, skipped (already in the store), remaining (not asked: budget), duplicates, requests, prompt_tokens, completion_tokens, seconds, store, stopped (\"completed\" or \"budget: ...\")}; Ctrl-C stops cleanly with every answer received recorded",
    section = "Methods: MLLM odd-one-out judgements",
    example = "let s = judge::mllm(all, #{dir: \"videos\", files: r.stimuli}, #{endpoints: #{url: \"http://gpu:8000/v1\", model: \"Qwen/Qwen2.5-VL-7B-Instruct\"}});"
)]
pub struct Mllm {
    #[opt(flatten)]
    pub servers: Servers,
    /// "study" (the interleaved prompt), "early" (all videos first: the template that showed
    /// positional bias) or a prompt text with the slots {video_1}, {video_2}, {video_3} where the
    /// videos go
    #[opt(default = "study")]
    pub template: String,
    #[opt(flatten)]
    pub draws: Draws,
    /// the JSONL store: one record per trial, appended; a rerun skips trials recorded as parsed
    /// or unparsed and asks failed ones again
    #[opt(doc_default = "OUT/mllm_judgements.jsonl")]
    pub store: Option<String>,
    #[opt(flatten)]
    pub asking: Asking,
    /// frames (image_url PNG parts) or mp4 (one video_url part per video, for servers with video
    /// input)
    #[opt(default = VideoAs::Frames)]
    pub video_as: VideoAs,
    /// frame width and height in pixels
    #[opt(default = 256)]
    pub frame_size: u32,
    /// at most this many frames per video, spread evenly
    pub max_frames: Option<usize>,
}

impl Step for Mllm {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let triplets = crate::triplets_arg(&args[0])?;
        let (dir, names) = videos_arg(&args[1])?;
        let files = video_files(&dir, names.as_deref())?;
        emoscope_sdk::triplets::check_items(&triplets, files.len(), "videos")?;
        let template = match self.template.as_str() {
            "study" => prompts::mllm_study(),
            "early" => prompts::mllm_early(),
            text => text.to_string(),
        };
        let s = Settings::new(
            &self.servers,
            &template,
            &self.draws,
            self.store.as_deref(),
            "mllm_judgements.jsonl",
            &self.asking,
            ctx,
        )?;
        let asker = VideoAsker {
            files,
            template: s.template.clone(),
            system: self.asking.system.clone(),
            video_as: self.video_as,
            frames: FrameOpts {
                size: self.frame_size,
                max_frames: self.max_frames,
                ..FrameOpts::default()
            },
            cache: Default::default(),
        };
        collect(&triplets, Arc::new(asker), s, "judge::mllm", ctx)
    }
}

/// The `videos` argument: a directory, or `#{dir, files}` with the file names in stimulus order.
fn videos_arg(v: &Value) -> Result<(PathBuf, Option<Vec<String>>)> {
    let m = match v {
        Value::Str(d) => return Ok((PathBuf::from(d), None)),
        Value::Map(m) => m,
        o => bail!(
            "videos must be a directory or #{{dir, files}}, got {}",
            o.type_name()
        ),
    };
    let Some(Value::Str(d)) = m.get("dir") else {
        bail!("videos must be a directory or #{{dir, files}} with dir a string");
    };
    let files = match m.get("files") {
        None => None,
        Some(Value::List(l)) => Some(
            l.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::msg("videos.files must be a list of file names"))?,
        ),
        Some(o) => bail!(
            "videos.files must be a list of file names, got {}",
            o.type_name()
        ),
    };
    if let Some(k) = m.keys().find(|k| *k != "dir" && *k != "files") {
        bail!("videos has an unknown key '{k}' (dir, files)");
    }
    Ok((PathBuf::from(d), files))
}

/// How videos are sent to a vision-language model.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoAs {
    /// frames sampled at the study's rate, one image_url PNG part each
    Frames,
    /// one video_url part per video with the re-encoded clip, for servers with video input
    Mp4,
}

/// The vision-language asker: the videos themselves, interleaved with the text.
pub struct VideoAsker {
    pub files: Vec<PathBuf>,
    pub template: Template,
    pub system: Option<String>,
    pub video_as: VideoAs,
    pub frames: FrameOpts,
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
