//! Files by extension: `io::load`, `io::save` and `io::exists`. Every file read or written is
//! recorded in the run's provenance through the context.
use emoscope_sdk::step;
use emoscope_sdk::{bail, Ctx, Options, Result, Step, Value};
use std::path::PathBuf;

/// A path argument (the host has checked it is a string); `what` names it in errors.
pub(crate) fn path_arg(v: &Value, what: &str) -> Result<PathBuf> {
    match v {
        Value::Str(s) => Ok(PathBuf::from(s)),
        other => bail!(
            "{what} must be a file path (string), got {}",
            other.type_name()
        ),
    }
}

/// The path of a file about to be read, recorded as an input of the run.
pub(crate) fn input_path(v: &Value, ctx: &Ctx) -> Result<PathBuf> {
    let p = path_arg(v, "path")?;
    ctx.input_file(&p);
    Ok(p)
}

/// Read a file by extension: .npy (tensor), .npz (map of tensors), .csv/.tsv (#{columns, data}: numeric columns as f64 tensors, others as lists of strings), .json (value), .jsonl (list of values), .nii/.nii.gz (#{data, affine, shape}; data indexed [i, j, k(, t)]), .h5/.hdf5 (a BData file as a dataset map, like fmri::load; needs --features hdf5).
#[derive(Options, Step)]
#[step(
    name = "load",
    param(path: Str = "file path"),
    returns = "tensor, map or list, by format",
    example = "let X = io::load(\"embedding.npy\");"
)]
pub struct Load {
    /// CSV/TSV: whether the first line names the columns (otherwise c0, c1, ...)
    #[opt(default = true)]
    pub header: bool,
}

impl step::Step for Load {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let p = input_path(&args[0], ctx)?;
        let ext = emoscope_sdk::io::extension(&p);
        if !self.header && (ext == "csv" || ext == "tsv") {
            let sep = if ext == "csv" { b',' } else { b'\t' };
            return emoscope_sdk::io::table::read(&p, sep, false);
        }
        emoscope_sdk::io::load(&p)
    }
}

/// Write a value by extension (.npy, .npz, .csv, .tsv, .json, .jsonl, .nii, .nii.gz: a tensor or #{data, affine}; .h5/.hdf5: a dataset map as BData, needs --features hdf5) through a temporary file, so a failure never leaves a partial file.
#[derive(Options, Step)]
#[step(
    name = "save",
    param(value: Any = "tensor, map or list"),
    param(path: Str = "file path (directories are created)"),
    returns = "the path written",
    example = "io::save(X, out + \"/X.npy\");"
)]
pub struct Save;

impl step::Step for Save {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let p = path_arg(&args[1], "path")?;
        emoscope_sdk::io::save(&args[0], &p)?;
        ctx.output_file(&p);
        Ok(Value::Str(p.display().to_string()))
    }
}

/// Whether a file or directory exists.
#[derive(Options, Step)]
#[step(name = "exists", param(path: Str = "path"), returns = "bool")]
pub struct Exists;

impl step::Step for Exists {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        Ok(Value::Bool(path_arg(&args[0], "path")?.exists()))
    }
}
