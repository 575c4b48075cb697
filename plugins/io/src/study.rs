//! The study's own files: the self-report ratings, the captions and the stimulus lists that
//! restrict and order both.
use crate::files::input_path;
use emoscope_sdk::io::{captions, ratings};
use emoscope_sdk::step;
use emoscope_sdk::{bail, Ctx, Error, Options, Result, Step, Value};
use std::path::Path;

/// The `stimuli` option: none, a stimulus-list file (recorded as an input), or a list of names.
fn stimulus_list(v: &Option<Value>, ctx: &Ctx) -> Result<Option<Vec<String>>> {
    Ok(match v {
        None | Some(Value::Null) => None,
        Some(Value::Str(p)) => {
            ctx.input_file(Path::new(p));
            Some(ratings::read_stimulus_list(Path::new(p))?)
        }
        Some(Value::List(l)) => Some(
            l.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| Error::msg("stimuli: list entries must be strings"))
                })
                .collect::<Result<_>>()?,
        ),
        Some(other) => bail!(
            "stimuli must be a stimulus-list path or a list of names, got {}",
            other.type_name()
        ),
    })
}

/// Read the Cowen & Keltner (2017) ratings CSV: 34 category fractions and 14 dimension means per video.
#[derive(Options, Step)]
#[step(
    name = "ratings",
    param(path: Str = "ratings CSV"),
    returns = "#{stimuli, categories (n × 34), dimensions (n × 14), category_names, dimension_names}",
    section = "Data: stimuli and self-report ratings",
    example = "let r = io::ratings(\"ratings.csv\", #{stimuli: \"stimuli_2180.txt\"});"
)]
pub struct Ratings {
    /// a stimulus-list file (such as stimuli_2180.txt) or a list of file names: restricts and orders the rows
    #[opt(doc_default = "all rows, in file order")]
    pub stimuli: Option<Value>,
}

impl step::Step for Ratings {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let p = input_path(&args[0], ctx)?;
        let list = stimulus_list(&self.stimuli, ctx)?;
        Ok(ratings::read_ratings(&p, list.as_deref())?.to_value())
    }
}

/// Read a captions CSV (video_id,description; UTF-8 with or without BOM), grouped per video.
#[derive(Options, Step)]
#[step(
    name = "captions",
    param(path: Str = "captions CSV"),
    returns = "#{ids, captions}: ids[i] has the list captions[i]",
    section = "Data: captions for the language model"
)]
pub struct Captions {
    /// a stimulus-list file or list of names (0010.mp4 is video id 10): restricts and orders the videos
    #[opt(doc_default = "all videos, in file order")]
    pub stimuli: Option<Value>,
}

impl step::Step for Captions {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let p = input_path(&args[0], ctx)?;
        let c = captions::read_captions(&p)?;
        Ok(match stimulus_list(&self.stimuli, ctx)? {
            Some(list) => c.align(&list)?.to_value(),
            None => c.to_value(),
        })
    }
}

/// Read a stimulus list: one file name per line.
#[derive(Options, Step)]
#[step(name = "stimuli", param(path: Str = "list file"), returns = "list of strings")]
pub struct Stimuli;

impl step::Step for Stimuli {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let p = input_path(&args[0], ctx)?;
        Ok(Value::List(
            ratings::read_stimulus_list(&p)?
                .into_iter()
                .map(Value::Str)
                .collect(),
        ))
    }
}
