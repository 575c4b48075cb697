//! Per-voxel results back on the brain: `fmri::save_map` (a NIfTI volume on the subject's
//! grid), `fmri::roi_table` (a summary per ROI) and `fmri::roi` (one ROI's voxel flags). None of
//! them changes the subject, so none copies its data matrix.
use crate::args::path_arg;
use emoscope_sdk::fmri::Dataset;
use emoscope_sdk::io::nifti;
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Choice, Ctx, Options, Result, Step, Tensor, Value};
use std::path::Path;

/// What a brain map holds where the subject has no voxel.
#[derive(Choice, Clone, Copy, Debug, PartialEq)]
pub enum Outside {
    /// no data
    Nan,
    /// 0 outside the mask
    Zero,
}

impl Outside {
    /// The value written outside the mask.
    fn value(self) -> f32 {
        match self {
            Outside::Nan => f32::NAN,
            Outside::Zero => 0.0,
        }
    }
}

/// A per-voxel vector: a 1-D tensor (or a 1 × voxels row), or a list of numbers.
fn values_arg(v: &Value) -> Result<Tensor> {
    let t = match v {
        Value::Tensor(t) => t.clone(),
        Value::List(_) => emoscope_sdk::value::tensor_from_nested(v)?,
        other => bail!(
            "values must be a tensor with one value per voxel, got {}",
            other.type_name()
        ),
    };
    let s = t.shape();
    ensure!(
        s.len() == 1 || (s.len() == 2 && s[0] == 1),
        "values must be a 1-D tensor (one value per voxel), got shape {s:?}"
    );
    Ok(t)
}

/// Write a per-voxel vector (such as encoding accuracy) as a 3-D NIfTI brain map on the
/// subject's grid with its affine (f32, written atomically).
#[derive(Options, Step)]
#[step(
    name = "save_map",
    param(values: Tensor = "one value per voxel (the dataset's column order)"),
    param(subject: Map = "the dataset map the values belong to"),
    param(path: Str = ".nii or .nii.gz path (directories are created)"),
    returns = "the path written",
    section = "Methods: fMRI data",
    example = "fmri::save_map(r, s1, out + \"/accuracy_sub-01.nii.gz\");"
)]
pub struct SaveMap {
    /// the value outside the mask: "nan" (no data) or "zero"
    #[opt(default = Outside::Nan)]
    pub outside: Outside,
}

impl step::Step for SaveMap {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let values = values_arg(&args[0])?;
        let ds = Dataset::from_value(&args[1])?;
        let p = path_arg(&args[2], "path")?;
        let vals: Vec<f32> = values.to_f32()?.iter().copied().collect();
        let vol = ds.to_volume(&vals, self.outside.value())?;
        nifti::write_nifti(&Tensor::from_array(vol), &ds.affine, &p)?;
        ctx.output_file(&p);
        Ok(Value::Str(p.display().to_string()))
    }
}

/// Summarise a per-voxel vector per ROI: the number of voxels and the mean, median and max
/// (NaN values left out; an ROI whose values are all NaN gets NaN). An ROI without voxels is an
/// error.
#[derive(Options, Step)]
#[step(
    name = "roi_table",
    param(values: Tensor = "one value per voxel"),
    param(subject: Map = "the dataset map (its rois)"),
    returns = "#{columns: [\"roi\", \"n_voxels\", \"mean\", \"median\", \"max\"], data: #{roi: [...], n_voxels, mean, median, max}}",
    section = "Methods: fMRI data",
    example = "let t = fmri::roi_table(r, s1, #{path: out + \"/roi_accuracy.csv\"});"
)]
pub struct RoiTable {
    /// also write the table: .csv or .tsv
    pub path: Option<String>,
}

impl step::Step for RoiTable {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let values = values_arg(&args[0])?;
        let ds = Dataset::from_value(&args[1])?;
        let t = ds.roi_table(&values.to_vec_f64()?)?.to_value();
        if let Some(p) = &self.path {
            let p = Path::new(p);
            let ext = emoscope_sdk::io::extension(p);
            ensure!(
                ext == "csv" || ext == "tsv",
                "fmri::roi_table: path must end in .csv or .tsv, got {}",
                p.display()
            );
            emoscope_sdk::io::save(&t, p)?;
            ctx.output_file(p);
        }
        Ok(t)
    }
}

/// One ROI's voxel flags. An unknown name is an error listing the known ROIs; an ROI without
/// voxels is an error.
#[derive(Options, Step)]
#[step(
    name = "roi",
    param(subject: Map = "a dataset map"),
    param(name: Str = "the ROI's name"),
    returns = "u8 tensor, one flag per voxel",
    section = "Methods: fMRI data",
    example = "let v1 = fmri::roi(s1, \"visual_cortex\");"
)]
pub struct Roi;

impl step::Step for Roi {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let ds = Dataset::from_value(&args[0])?;
        let Some(name) = args[1].as_str() else {
            bail!("name must be a string")
        };
        let flags = ds.roi(name)?;
        Ok(Value::Tensor(Tensor::from_array(
            ndarray::Array1::from_iter(flags.iter().map(|&x| u8::from(x))),
        )))
    }
}
