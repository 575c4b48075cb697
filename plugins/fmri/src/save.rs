//! Writing a dataset: `fmri::save` (.npz, or BData .h5/.hdf5).
use crate::args::path_arg;
use emoscope_sdk::fmri::Dataset;
use emoscope_sdk::io::{bdata, npy};
use emoscope_sdk::step;
use emoscope_sdk::{bail, Ctx, Options, Result, Step, Value};

/// Write a dataset: .npz (data, coords, affine, shape, runs, roi_<name> flags; npz holds
/// numbers only, so the stimulus labels are not kept) or .h5/.hdf5 (BData, readable by bdpy:
/// VoxelData, voxel_i/j/k, voxel_x/y/z in mm, one 0/1 key per ROI, stimulus_name with its vmap,
/// Run; needs --features hdf5).
#[derive(Options, Step)]
#[step(
    name = "save",
    param(subject: Map = "a dataset map"),
    param(path: Str = ".npz, .h5 or .hdf5 path"),
    returns = "the path written",
    section = "Methods: fMRI data",
    example = "fmri::save(s1, out + \"/sub-01.h5\");"
)]
pub struct Save;

impl step::Step for Save {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let ds = Dataset::from_value(&args[0])?;
        let p = path_arg(&args[1], "path")?;
        match emoscope_sdk::io::extension(&p).as_str() {
            "npz" => npy::write_npz(&ds.to_npz(), &p)?,
            "h5" | "hdf5" => bdata::write_bdata(&ds.to_bdata()?, &p)?,
            other => {
                bail!("fmri::save: cannot write '.{other}': expected .npz or .h5/.hdf5 (BData)")
            }
        }
        ctx.output_file(&p);
        Ok(Value::Str(p.display().to_string()))
    }
}
