//! The `io::` namespace: `io::load`/`io::save` by extension, and the study's readers.
//! Every file read or written is recorded (with its sha256) in `run.json`.
use emoscope_sdk::io::{captions, ratings};
use emoscope_sdk::{bail, options};
use emoscope_sdk::{Ctx, FnSpec, Map, Plugin, PluginInfo, Result, Ty, Value};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub struct IoNs;

/// The plugin, for the host's registry.
pub fn plugin() -> IoNs {
    IoNs
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StimuliOpt {
    /// A stimulus-list file or a list of names.
    stimuli: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LoadOpt {
    #[serde(default = "yes")]
    header: bool,
}

fn yes() -> bool {
    true
}

fn path_arg(v: &Value, what: &str) -> Result<PathBuf> {
    match v {
        Value::Str(s) => Ok(PathBuf::from(s)),
        other => bail!(
            "{what} must be a file path (string), got {}",
            other.type_name()
        ),
    }
}

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
                    x.as_str().map(str::to_string).ok_or_else(|| {
                        emoscope_sdk::Error::msg("stimuli: list entries must be strings")
                    })
                })
                .collect::<Result<_>>()?,
        ),
        Some(other) => bail!(
            "stimuli must be a stimulus-list path or a list of names, got {}",
            other.type_name()
        ),
    })
}

impl Plugin for IoNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "io".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Files: npy/npz, CSV/TSV, JSON/JSONL, NIfTI, and the study's ratings and captions".into(),
            functions: vec![
                FnSpec::new("load", "Read a file by extension: .npy (tensor), .npz (map of tensors), .csv/.tsv (#{columns, data}: numeric columns as f64 tensors, others as lists of strings), .json (value), .jsonl (list of values), .nii/.nii.gz (#{data, affine, shape}; data indexed [i, j, k(, t)]), .h5/.hdf5 (a BData file as a dataset map, like fmri::load; needs --features hdf5).")
                    .param("path", Ty::Str, "file path")
                    .opt("header", Ty::Bool, "true", "CSV/TSV: whether the first line names the columns (otherwise c0, c1, ...)")
                    .returns("tensor, map or list, by format")
                    .example("let X = io::load(\"embedding.npy\");"),
                FnSpec::new("save", "Write a value by extension (.npy, .npz, .csv, .tsv, .json, .jsonl, .nii, .nii.gz: a tensor or #{data, affine}; .h5/.hdf5: a dataset map as BData, needs --features hdf5) through a temporary file, so a failure never leaves a partial file.")
                    .param("value", Ty::Any, "tensor, map or list")
                    .param("path", Ty::Str, "file path (directories are created)")
                    .returns("the path written")
                    .example("io::save(X, out + \"/X.npy\");"),
                FnSpec::new("ratings", "Read the Cowen & Keltner (2017) ratings CSV: 34 category fractions and 14 dimension means per video.")
                    .param("path", Ty::Str, "ratings CSV")
                    .opt("stimuli", Ty::Any, "all rows, in file order", "a stimulus-list file (such as stimuli_2180.txt) or a list of file names: restricts and orders the rows")
                    .returns("#{stimuli, categories (n × 34), dimensions (n × 14), category_names, dimension_names}")
                    .section("Data: stimuli and self-report ratings")
                    .example("let r = io::ratings(\"ratings.csv\", #{stimuli: \"stimuli_2180.txt\"});"),
                FnSpec::new("captions", "Read a captions CSV (video_id,description; UTF-8 with or without BOM), grouped per video.")
                    .param("path", Ty::Str, "captions CSV")
                    .opt("stimuli", Ty::Any, "all videos, in file order", "a stimulus-list file or list of names (0010.mp4 is video id 10): restricts and orders the videos")
                    .returns("#{ids, captions}: ids[i] has the list captions[i]")
                    .section("Data: captions for the language model"),
                FnSpec::new("exists", "Whether a file or directory exists.").param("path", Ty::Str, "path").returns("bool"),
                FnSpec::new("stimuli", "Read a stimulus list: one file name per line.")
                    .param("path", Ty::Str, "list file")
                    .returns("list of strings"),
            ],
        }
    }

    fn call(&self, f: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match f {
            "load" => {
                let o: LoadOpt = options::parse(opts)?;
                let p = path_arg(&args[0], "path")?;
                ctx.input_file(&p);
                let ext = emoscope_sdk::io::extension(&p);
                if !o.header && (ext == "csv" || ext == "tsv") {
                    return emoscope_sdk::io::table::read(
                        &p,
                        if ext == "csv" { b',' } else { b'\t' },
                        false,
                    );
                }
                emoscope_sdk::io::load(&p)
            }
            "save" => {
                let p = path_arg(&args[1], "path")?;
                emoscope_sdk::io::save(&args[0], &p)?;
                ctx.output_file(&p);
                Ok(Value::Str(p.display().to_string()))
            }
            "ratings" => {
                let o: StimuliOpt = options::parse(opts)?;
                let p = path_arg(&args[0], "path")?;
                ctx.input_file(&p);
                let list = stimulus_list(&o.stimuli, ctx)?;
                Ok(ratings::read_ratings(&p, list.as_deref())?.to_value())
            }
            "captions" => {
                let o: StimuliOpt = options::parse(opts)?;
                let p = path_arg(&args[0], "path")?;
                ctx.input_file(&p);
                let c = captions::read_captions(&p)?;
                Ok(match stimulus_list(&o.stimuli, ctx)? {
                    Some(list) => c.align(&list)?.to_value(),
                    None => c.to_value(),
                })
            }
            "exists" => Ok(Value::Bool(path_arg(&args[0], "path")?.exists())),
            "stimuli" => {
                let p = path_arg(&args[0], "path")?;
                ctx.input_file(&p);
                Ok(Value::List(
                    ratings::read_stimulus_list(&p)?
                        .into_iter()
                        .map(Value::Str)
                        .collect(),
                ))
            }
            other => bail!("io has no function '{other}'"),
        }
    }
}
