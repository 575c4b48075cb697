//! Reading datasets: `fmri::load` (one subject's files, by extension) and `fmri::subjects` (a
//! study's subjects from a synthetic world, paths or maps).
use crate::args::{path_arg, string_list, with_dataset};
use emoscope_sdk::fmri::dataset::{labels_from_value, Dataset, NanPolicy, NiftiRois};
use emoscope_sdk::io::{bdata, nifti, npy, table};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Ctx, Error, Options, Result, Step, Value};
use std::path::{Path, PathBuf};

/// Read one subject's fMRI data by extension into a dataset map. NIfTI: a 4-D series (t =
/// stimulus) or a list of 3-D maps stacked as rows, with a mask (non-zero = in; without one,
/// voxels with any non-zero value); voxels in i-j-k order. .npz: members data (stimuli ×
/// voxels), coords (voxels × 3, i j k), optional affine, shape, runs and roi_<name> flags (no
/// grid: the mask's, else the coordinates' extent). .npy: the matrix, with coords. .h5/.hdf5:
/// the Kamitani lab's BData (VoxelData columns, voxel_i/j/k or voxel_x/y/z, 0/1 ROI keys,
/// stimulus_name through its vmap, Run); needs a build with --features hdf5. A voxel with NaN
/// or infinite values is an error unless nan: "drop"; an ROI that was asked for and has no
/// voxels in the mask is an error.
#[derive(Options, Step, Default)]
#[step(
    name = "load",
    param(path: Any = "file path (.nii, .nii.gz, .npz, .npy, .h5, .hdf5), or a list of 3-D NIfTI paths"),
    returns = "a dataset map #{name, data (stimuli × voxels, f32), coords (voxels × 3, i64), rois: #{name: u8 flags}, roi_names, affine (4 × 4), mask (u8, 3-D), grid, stimuli, runs (when known)}",
    section = "Methods: fMRI data",
    example = "let s1 = fmri::load(\"sub-01/bold.nii.gz\", #{mask: \"sub-01/mask.nii.gz\", rois: \"sub-01/rois.nii.gz\", roi_names: \"sub-01/rois.tsv\", stimuli: \"stimuli.txt\"});"
)]
pub struct Load {
    /// a NIfTI mask in the data's space (non-zero = in); for npz/npy/h5 it gives the grid and
    /// affine, and every voxel must lie inside it
    pub mask: Option<String>,
    /// NIfTI only: an ROI label volume path (0 = none), or a map #{name: binary volume path}
    pub rois: Option<Value>,
    /// with a label volume: a TSV (index<TAB>name, like synth's rois.tsv) or a list (label i+1
    /// = i-th name); without names every label n present becomes label_<n>. For npz/h5: a list
    /// that selects and orders the ROIs
    pub roi_names: Option<Value>,
    /// the label of each row, in file order: a list, or a file with one label per line
    /// (repeats allowed); the count must match the rows
    #[opt(doc_default = "row numbers (BData: stimulus_name)")]
    pub stimuli: Option<Value>,
    /// voxels with NaN or infinite values: "error" (names the count and the first voxel) or
    /// "drop" (drops them and logs how many)
    #[opt(default = NanPolicy::Error)]
    pub nan: NanPolicy,
    /// the subject's name
    #[opt(doc_default = "the file name without extension")]
    pub name: Option<String>,
    /// .npy only: the voxel coordinates (voxels × 3, i j k), a .npy path or a tensor
    pub coords: Option<Value>,
}

impl step::Step for Load {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        Ok(load(&args[0], &self, ctx)?.to_value())
    }
}

/// The subjects of a study as dataset maps: from a synth::world value (its subjects, each with
/// stimuli set to the world's stimuli), or from a list of paths (each read as fmri::load does,
/// with default options) and/or dataset maps (checked).
#[derive(Options, Step)]
#[step(
    name = "subjects",
    param(source: Any = "a synth::world(...) value, or a list of paths or dataset maps"),
    returns = "list of dataset maps",
    section = "Methods: fMRI data",
    example = "let subs = fmri::subjects(synth::world(#{subjects: 2}));"
)]
pub struct Subjects {
    /// voxels with NaN or infinite values: "error" or "drop"
    #[opt(default = NanPolicy::Error)]
    pub nan: NanPolicy,
}

impl step::Step for Subjects {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let nan = self.nan;
        match &args[0] {
            Value::Map(m) if m.contains_key("subjects") => {
                let subs = m["subjects"]
                    .as_list()
                    .ok_or_else(|| Error::msg("the world's subjects must be a list"))?;
                let stimuli = m.get("stimuli");
                Ok(Value::List(
                    subs.iter()
                        .map(|s| subject_map(s, stimuli, nan, ctx))
                        .collect::<Result<_>>()?,
                ))
            }
            Value::List(l) => Ok(Value::List(
                l.iter()
                    .map(|s| match s {
                        Value::Str(_) => {
                            let o = Load {
                                nan,
                                ..Load::default()
                            };
                            Ok(load(s, &o, ctx)?.to_value())
                        }
                        other => subject_map(other, None, nan, ctx),
                    })
                    .collect::<Result<_>>()?,
            )),
            other => bail!(
                "fmri::subjects takes a synth::world value (a map with subjects) or a list of paths or dataset maps, got {}",
                other.type_name()
            ),
        }
    }
}

/// `sub-01.nii.gz` -> `sub-01`.
fn stem(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "subject".into());
    let ext = emoscope_sdk::io::extension(p);
    if !ext.is_empty() && name.to_lowercase().ends_with(&format!(".{ext}")) {
        name[..name.len() - ext.len() - 1].to_string()
    } else {
        name
    }
}

/// A NIfTI volume, recorded as an input of the run.
fn read_volume(p: &Path, ctx: &Ctx) -> Result<nifti::Volume> {
    ctx.input_file(p);
    nifti::read_nifti(p)
}

/// Row labels: a list, or a file with one label per line (repeats allowed).
fn row_labels(v: &Value, ctx: &Ctx) -> Result<Vec<String>> {
    match v {
        Value::Str(p) => {
            let p = Path::new(p);
            ctx.input_file(p);
            let t = table::read_table(p, b'\t', false)?;
            Ok(t.rows
                .into_iter()
                .filter_map(|r| r.into_iter().next())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect())
        }
        other => labels_from_value(other, "stimuli"),
    }
}

/// ROI names of a label volume: a TSV `index<TAB>name` (a header line is skipped) or a list
/// (label i+1 is the i-th name).
fn label_names(v: &Value, ctx: &Ctx) -> Result<Vec<(i64, String)>> {
    match v {
        Value::Str(p) => {
            let p = Path::new(p);
            ctx.input_file(p);
            let t = table::read_table(p, b'\t', false)?;
            let mut out = Vec::new();
            for (r, row) in t.rows.iter().enumerate() {
                ensure!(
                    row.len() >= 2,
                    "{}:{}: an ROI names table has two columns, index<TAB>name",
                    p.display(),
                    t.lines[r]
                );
                match row[0].trim().parse::<i64>() {
                    Ok(i) => out.push((i, row[1].trim().to_string())),
                    Err(_) if r == 0 => continue, // header
                    Err(_) => bail!(
                        "{}:{}: '{}' is not an integer label",
                        p.display(),
                        t.lines[r],
                        row[0]
                    ),
                }
            }
            Ok(out)
        }
        Value::List(_) => Ok(string_list(v, "roi_names")?
            .into_iter()
            .enumerate()
            .map(|(i, n)| (i as i64 + 1, n))
            .collect()),
        other => bail!(
            "roi_names must be a TSV path (index<TAB>name) or a list of names, got {}",
            other.type_name()
        ),
    }
}

/// Apply the NaN policy and report dropped voxels.
fn finish(mut ds: Dataset, nan: NanPolicy, ctx: &Ctx) -> Result<Dataset> {
    let dropped = ds.check_nan(nan)?;
    if dropped > 0 {
        ctx.warn(&format!(
            "{}: dropped {dropped} voxels with NaN or infinite values ({} left)",
            ds.name,
            ds.n_voxels()
        ));
    }
    Ok(ds)
}

/// The ROIs of NIfTI data from the `rois` and `roi_names` options.
fn nifti_rois(o: &Load, ctx: &Ctx) -> Result<NiftiRois> {
    Ok(match (&o.rois, &o.roi_names) {
        (None, None) => NiftiRois::None,
        (None, Some(_)) => bail!(
            "fmri::load: roi_names names the labels of an ROI volume: give it with rois: \"rois.nii.gz\""
        ),
        (Some(Value::Str(p)), names) => {
            let volume = read_volume(Path::new(p), ctx)?;
            let names = match names {
                Some(n) => label_names(n, ctx)?,
                None => {
                    // Every label present, named label_<n>.
                    let mut ls: Vec<i64> = volume
                        .data
                        .to_f64()?
                        .iter()
                        .filter(|&&x| x != 0.0 && x.fract() == 0.0)
                        .map(|&x| x as i64)
                        .collect();
                    ls.sort_unstable();
                    ls.dedup();
                    ls.into_iter().map(|l| (l, format!("label_{l}"))).collect()
                }
            };
            NiftiRois::Labels { volume, names }
        }
        (Some(Value::Map(m)), None) => NiftiRois::Binary(
            m.iter()
                .map(|(n, p)| {
                    let path = path_arg(p, &format!("rois.{n}"))?;
                    Ok((n.clone(), read_volume(&path, ctx)?))
                })
                .collect::<Result<_>>()?,
        ),
        (Some(Value::Map(_)), Some(_)) => bail!(
            "fmri::load: roi_names goes with a label volume; with a map of binary ROI volumes the map's keys are the names"
        ),
        (Some(other), _) => bail!(
            "fmri::load: rois must be a label volume path or a map #{{name: binary volume path}}, got {}",
            other.type_name()
        ),
    })
}

/// The voxel coordinates of a `.npy` matrix (the `coords` option).
fn npy_coords(coords: &Option<Value>, ctx: &Ctx) -> Result<emoscope_sdk::Tensor> {
    match coords {
        Some(Value::Str(p)) => {
            ctx.input_file(Path::new(p));
            npy::read_npy(Path::new(p))
        }
        Some(Value::Tensor(t)) => Ok(t.clone()),
        Some(v @ Value::List(_)) => emoscope_sdk::value::tensor_from_nested(v),
        _ => bail!(
            "fmri::load: a .npy matrix needs its voxel coordinates: coords: \"coords.npy\" (voxels × 3, i j k)"
        ),
    }
}

/// `fmri::load`: one subject's files into a dataset.
fn load(path: &Value, o: &Load, ctx: &Ctx) -> Result<Dataset> {
    let paths: Vec<PathBuf> = match path {
        Value::List(l) => l
            .iter()
            .map(|p| path_arg(p, "each path"))
            .collect::<Result<_>>()?,
        other => vec![path_arg(other, "path")?],
    };
    ensure!(!paths.is_empty(), "fmri::load: no paths given");
    let first = &paths[0];
    let ext = emoscope_sdk::io::extension(first);
    let name = o.name.clone().unwrap_or_else(|| stem(first));
    let mask = match &o.mask {
        Some(m) => Some(read_volume(Path::new(m), ctx)?),
        None => None,
    };
    let not_here = |opt: &str, what: &str| -> Result<()> {
        bail!("fmri::load: the {opt} option applies to {what}, not to .{ext} files")
    };
    if paths.len() > 1 {
        ensure!(
            paths
                .iter()
                .all(|p| matches!(emoscope_sdk::io::extension(p).as_str(), "nii" | "nii.gz")),
            "fmri::load: a list of paths must be NIfTI volumes (.nii/.nii.gz), stacked as rows"
        );
    }
    if o.coords.is_some() && ext != "npy" {
        not_here("coords", ".npy matrices")?;
    }
    let mut ds = match ext.as_str() {
        "nii" | "nii.gz" => {
            let vols = paths
                .iter()
                .map(|p| read_volume(p, ctx))
                .collect::<Result<Vec<_>>>()?;
            let rois = nifti_rois(o, ctx)?;
            Dataset::from_nifti(&name, &vols, mask.as_ref(), rois)?
        }
        "npz" | "npy" | "h5" | "hdf5" => {
            if o.rois.is_some() {
                not_here(
                    "rois",
                    "NIfTI data (npz/npy/h5 carry their ROIs; select them with roi_names)",
                )?;
            }
            ctx.input_file(first);
            let select = match &o.roi_names {
                Some(v) => Some(string_list(v, "roi_names")?),
                None => None,
            };
            let mut ds = match ext.as_str() {
                "npz" => Dataset::from_npz(&name, &npy::read_npz(first)?, mask.as_ref())?,
                "npy" => {
                    let data = npy::read_npy(first)?;
                    let coords = npy_coords(&o.coords, ctx)?;
                    Dataset::from_matrix(
                        &name,
                        &data,
                        &coords,
                        None,
                        None,
                        Vec::new(),
                        None,
                        mask.as_ref(),
                    )?
                }
                _ => {
                    let b = bdata::read_bdata(first)?;
                    let mut notes = Vec::new();
                    let ds = Dataset::from_bdata(
                        &name,
                        &b,
                        mask.as_ref(),
                        select.as_deref(),
                        &mut notes,
                    )?;
                    for n in notes {
                        ctx.warn(&n);
                    }
                    ds
                }
            };
            if let Some(sel) = &select {
                ds.select_rois(sel)?;
                ds.check_rois_nonempty("")?;
            }
            ds
        }
        other => bail!(
            "fmri::load: cannot read '.{other}' files: expected .nii/.nii.gz (with mask), .npz, .npy (with coords) or .h5/.hdf5 (BData)"
        ),
    };
    if let Some(s) = &o.stimuli {
        ds.set_stimuli(row_labels(s, ctx)?)?;
    }
    finish(ds, o.nan, ctx)
}

/// A subject map, checked; NaN voxels handled by `nan`. Extra keys (such as a synthetic
/// subject's `signal`) are kept unless voxels were dropped.
fn subject_map(v: &Value, stimuli: Option<&Value>, nan: NanPolicy, ctx: &Ctx) -> Result<Value> {
    let Value::Map(m) = v else {
        bail!(
            "a subject must be a dataset map or a path, got {}",
            v.type_name()
        )
    };
    let mut m = m.clone();
    if let Some(s) = stimuli {
        if !m.contains_key("stimuli") {
            m.insert("stimuli".into(), s.clone());
        }
    }
    let m = Value::Map(m);
    let ds = Dataset::from_value(&m)?;
    let before = ds.n_voxels();
    let ds = finish(ds, nan, ctx)?;
    if ds.n_voxels() != before {
        return Ok(ds.to_value());
    }
    Ok(with_dataset(&m, &ds))
}
