//! Preparing a subject's responses for the models: `fmri::align` (rows to the study's stimulus
//! order) and `fmri::zscore` (each voxel across stimuli).
use crate::args::with_dataset;
use emoscope_sdk::fmri::dataset::{labels_from_value, zscore, Constant, Dataset};
use emoscope_sdk::io::ratings;
use emoscope_sdk::step;
use emoscope_sdk::{bail, Ctx, DType, Options, Result, Step, Tensor, Value};
use std::path::Path;

/// Reorder a subject's rows to the study's stimulus order by label, averaging the repeated
/// rows of a stimulus; labels not in the list are dropped. Every listed stimulus must have a
/// row (the error names the missing ones). Runs are kept when each stimulus's rows come from
/// one run.
#[derive(Options, Step)]
#[step(
    name = "align",
    param(subject: Map = "a dataset map"),
    param(stimuli: Any = "a list of stimulus names or a stimulus-list file (one name per line)"),
    returns = "the subject map with data (one row per listed stimulus), stimuli and runs replaced",
    section = "Methods: fMRI data",
    example = "let s1 = fmri::align(s1, \"stimuli_2180.txt\");"
)]
pub struct Align;

impl step::Step for Align {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let ds = Dataset::from_value(&args[0])?;
        let order = stimulus_order(&args[1], ctx)?;
        Ok(with_dataset(&args[0], &ds.align(&order)?))
    }
}

/// The study's stimulus order: a list of names or a stimulus-list file (no repeats).
fn stimulus_order(v: &Value, ctx: &Ctx) -> Result<Vec<String>> {
    match v {
        Value::Str(p) => {
            ctx.input_file(Path::new(p));
            ratings::read_stimulus_list(Path::new(p))
        }
        Value::List(_) | Value::Tensor(_) => labels_from_value(v, "stimuli"),
        other => bail!(
            "stimuli must be a list of names or a stimulus-list file, got {}",
            other.type_name()
        ),
    }
}

/// Z-score each voxel (column) across stimuli: subtract the mean, divide by the population
/// standard deviation (ddof 0). A constant voxel is an error naming it unless constant: "zero".
#[derive(Options, Step)]
#[step(
    name = "zscore",
    param(x: Any = "a stimuli × voxels tensor, or a dataset map"),
    returns = "the same kind as given: a tensor (same dtype), or the subject map with data replaced",
    section = "Methods: fMRI data",
    example = "let s1 = fmri::zscore(s1);"
)]
pub struct Zscore {
    /// a voxel whose values are all equal: "error" or "zero" (its column becomes 0)
    #[opt(default = Constant::Error)]
    pub constant: Constant,
}

impl step::Step for Zscore {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        match &args[0] {
            Value::Map(_) => {
                let ds = Dataset::from_value(&args[0])?;
                Ok(with_dataset(&args[0], &ds.zscore(self.constant)?))
            }
            v @ (Value::Tensor(_) | Value::List(_)) => {
                let t = match v {
                    Value::Tensor(t) => t.clone(),
                    _ => emoscope_sdk::value::tensor_from_nested(v)?,
                };
                Ok(Value::Tensor(zscore_tensor(&t, self.constant)?))
            }
            other => bail!(
                "fmri::zscore takes a stimuli × voxels tensor or a dataset map, got {}",
                other.type_name()
            ),
        }
    }
}

/// A float tensor keeps its dtype (f32 is read as it is, not widened to an f64 copy); any
/// other dtype gives f64.
fn zscore_tensor(t: &Tensor, constant: Constant) -> Result<Tensor> {
    let what = "x (stimuli × voxels)";
    let name = |c: usize| format!("column {c}");
    Ok(match t.dtype() {
        DType::F32 => Tensor::from_array(zscore(t.matrix::<f32>(what)?.view(), constant, &name)?),
        _ => Tensor::from_array(zscore(t.matrix::<f64>(what)?.view(), constant, &name)?),
    })
}
