//! The `fmri::` namespace: fMRI datasets (stimuli × voxels with coordinates, affine, ROIs and
//! labels) loaded from NIfTI, npz/npy or BData HDF5, aligned to the study's stimuli, z-scored,
//! and written back as brain maps and ROI tables. Every file read or written is recorded in
//! `run.json`.
//!
//! A dataset is a map (see `emoscope_sdk::fmri::dataset::Dataset::to_value`); a synthetic
//! world's subject is one, so every function takes either.
use emoscope_sdk::fmri::dataset::{
    labels_from_value, zscore, Constant, Dataset, NanPolicy, NiftiRois,
};
use emoscope_sdk::io::{bdata, nifti, npy, ratings, table};
use emoscope_sdk::{bail, ensure, options};
use emoscope_sdk::{Ctx, Error, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub struct FmriNs;

/// The plugin, for the host's registry.
pub fn plugin() -> FmriNs {
    FmriNs
}

const SECTION: &str = "Methods: fMRI data";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LoadOpt {
    mask: Option<String>,
    rois: Option<Value>,
    roi_names: Option<Value>,
    stimuli: Option<Value>,
    nan: Option<String>,
    name: Option<String>,
    coords: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SubjectsOpt {
    nan: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoOpt {}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ZOpt {
    constant: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MapOpt {
    outside: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TableOpt {
    path: Option<String>,
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

fn string_list(v: &Value, what: &str) -> Result<Vec<String>> {
    let Value::List(l) = v else {
        bail!("{what} must be a list of names, got {}", v.type_name())
    };
    l.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| Error::msg(format!("{what}: entries must be strings")))
        })
        .collect()
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

fn nan_policy(s: &Option<String>) -> Result<NanPolicy> {
    NanPolicy::parse(s.as_deref().unwrap_or("error"))
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

fn load(path: &Value, o: &LoadOpt, ctx: &Ctx) -> Result<Dataset> {
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
            let rois = match (&o.rois, &o.roi_names) {
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
                        .map(|(n, p)| Ok((n.clone(), read_volume(&path_arg(p, &format!("rois.{n}"))?, ctx)?)))
                        .collect::<Result<_>>()?,
                ),
                (Some(Value::Map(_)), Some(_)) => bail!(
                    "fmri::load: roi_names goes with a label volume; with a map of binary ROI volumes the map's keys are the names"
                ),
                (Some(other), _) => bail!(
                    "fmri::load: rois must be a label volume path or a map #{{name: binary volume path}}, got {}",
                    other.type_name()
                ),
            };
            Dataset::from_nifti(&name, &vols, mask.as_ref(), rois)?
        }
        "npz" | "npy" | "h5" | "hdf5" => {
            if o.rois.is_some() {
                not_here("rois", "NIfTI data (npz/npy/h5 carry their ROIs; select them with roi_names)")?;
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
                    let coords = match &o.coords {
                        Some(Value::Str(p)) => {
                            ctx.input_file(Path::new(p));
                            npy::read_npy(Path::new(p))?
                        }
                        Some(Value::Tensor(t)) => t.clone(),
                        Some(v @ Value::List(_)) => emoscope_sdk::value::tensor_from_nested(v)?,
                        _ => bail!(
                            "fmri::load: a .npy matrix needs its voxel coordinates: coords: \"coords.npy\" (voxels × 3, i j k)"
                        ),
                    };
                    Dataset::from_matrix(&name, &data, &coords, None, None, Vec::new(), None, mask.as_ref())?
                }
                _ => {
                    let b = bdata::read_bdata(first)?;
                    let mut notes = Vec::new();
                    let ds = Dataset::from_bdata(&name, &b, mask.as_ref(), select.as_deref(), &mut notes)?;
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
    finish(ds, nan_policy(&o.nan)?, ctx)
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
    let mut ds = Dataset::from_value(&Value::Map(m.clone()))?;
    let before = ds.n_voxels();
    ds = finish(ds, nan, ctx)?;
    if ds.n_voxels() != before {
        return Ok(ds.to_value());
    }
    ds.write_into(&mut m);
    Ok(Value::Map(m))
}

fn with_dataset(m: &Value, ds: &Dataset) -> Value {
    let mut out = m.as_map().cloned().unwrap_or_default();
    ds.write_into(&mut out);
    Value::Map(out)
}

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

impl Plugin for FmriNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "fmri".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "fMRI data: NIfTI, npz/npy and BData HDF5 datasets (stimuli × voxels with coordinates, affine, ROIs and labels), alignment to the study's stimuli, z-scoring, brain maps and ROI tables".into(),
            functions: vec![
                FnSpec::new("load", "Read one subject's fMRI data by extension into a dataset map. NIfTI: a 4-D series (t = stimulus) or a list of 3-D maps stacked as rows, with a mask (non-zero = in; without one, voxels with any non-zero value); voxels in i-j-k order. .npz: members data (stimuli × voxels), coords (voxels × 3, i j k), optional affine, shape, runs and roi_<name> flags (no grid: the mask's, else the coordinates' extent). .npy: the matrix, with coords. .h5/.hdf5: the Kamitani lab's BData (VoxelData columns, voxel_i/j/k or voxel_x/y/z, 0/1 ROI keys, stimulus_name through its vmap, Run); needs a build with --features hdf5. A voxel with NaN or infinite values is an error unless nan: \"drop\"; an ROI that was asked for and has no voxels in the mask is an error.")
                    .param("path", Ty::Any, "file path (.nii, .nii.gz, .npz, .npy, .h5, .hdf5), or a list of 3-D NIfTI paths")
                    .opt("mask", Ty::Str, "none", "a NIfTI mask in the data's space (non-zero = in); for npz/npy/h5 it gives the grid and affine, and every voxel must lie inside it")
                    .opt("rois", Ty::Any, "none", "NIfTI only: an ROI label volume path (0 = none), or a map #{name: binary volume path}")
                    .opt("roi_names", Ty::Any, "none", "with a label volume: a TSV (index<TAB>name, like synth's rois.tsv) or a list (label i+1 = i-th name); without names every label n present becomes label_<n>. For npz/h5: a list that selects and orders the ROIs")
                    .opt("stimuli", Ty::Any, "row numbers (BData: stimulus_name)", "the label of each row, in file order: a list, or a file with one label per line (repeats allowed); the count must match the rows")
                    .opt("nan", Ty::Str, "\"error\"", "voxels with NaN or infinite values: \"error\" (names the count and the first voxel) or \"drop\" (drops them and logs how many)")
                    .opt("name", Ty::Str, "the file name without extension", "the subject's name")
                    .opt("coords", Ty::Any, "none", ".npy only: the voxel coordinates (voxels × 3, i j k), a .npy path or a tensor")
                    .returns("a dataset map #{name, data (stimuli × voxels, f32), coords (voxels × 3, i64), rois: #{name: u8 flags}, roi_names, affine (4 × 4), mask (u8, 3-D), grid, stimuli, runs (when known)}")
                    .section(SECTION)
                    .example("let s1 = fmri::load(\"sub-01/bold.nii.gz\", #{mask: \"sub-01/mask.nii.gz\", rois: \"sub-01/rois.nii.gz\", roi_names: \"sub-01/rois.tsv\", stimuli: \"stimuli.txt\"});"),
                FnSpec::new("subjects", "The subjects of a study as dataset maps: from a synth::world value (its subjects, each with stimuli set to the world's stimuli), or from a list of paths (each read as fmri::load does, with default options) and/or dataset maps (checked).")
                    .param("source", Ty::Any, "a synth::world(...) value, or a list of paths or dataset maps")
                    .opt("nan", Ty::Str, "\"error\"", "voxels with NaN or infinite values: \"error\" or \"drop\"")
                    .returns("list of dataset maps")
                    .section(SECTION)
                    .example("let subs = fmri::subjects(synth::world(#{subjects: 2}));"),
                FnSpec::new("align", "Reorder a subject's rows to the study's stimulus order by label, averaging the repeated rows of a stimulus; labels not in the list are dropped. Every listed stimulus must have a row (the error names the missing ones). Runs are kept when each stimulus's rows come from one run.")
                    .param("subject", Ty::Map, "a dataset map")
                    .param("stimuli", Ty::Any, "a list of stimulus names or a stimulus-list file (one name per line)")
                    .returns("the subject map with data (one row per listed stimulus), stimuli and runs replaced")
                    .section(SECTION)
                    .example("let s1 = fmri::align(s1, \"stimuli_2180.txt\");"),
                FnSpec::new("zscore", "Z-score each voxel (column) across stimuli: subtract the mean, divide by the population standard deviation (ddof 0). A constant voxel is an error naming it unless constant: \"zero\".")
                    .param("x", Ty::Any, "a stimuli × voxels tensor, or a dataset map")
                    .opt("constant", Ty::Str, "\"error\"", "a voxel whose values are all equal: \"error\" or \"zero\" (its column becomes 0)")
                    .returns("the same kind as given: a tensor (same dtype), or the subject map with data replaced")
                    .section(SECTION)
                    .example("let s1 = fmri::zscore(s1);"),
                FnSpec::new("save_map", "Write a per-voxel vector (such as encoding accuracy) as a 3-D NIfTI brain map on the subject's grid with its affine (f32, written atomically).")
                    .param("values", Ty::Tensor, "one value per voxel (the dataset's column order)")
                    .param("subject", Ty::Map, "the dataset map the values belong to")
                    .param("path", Ty::Str, ".nii or .nii.gz path (directories are created)")
                    .opt("outside", Ty::Str, "\"nan\"", "the value outside the mask: \"nan\" (no data) or \"zero\"")
                    .returns("the path written")
                    .section(SECTION)
                    .example("fmri::save_map(r, s1, out + \"/accuracy_sub-01.nii.gz\");"),
                FnSpec::new("roi_table", "Summarise a per-voxel vector per ROI: the number of voxels and the mean, median and max (NaN values left out; an ROI whose values are all NaN gets NaN). An ROI without voxels is an error.")
                    .param("values", Ty::Tensor, "one value per voxel")
                    .param("subject", Ty::Map, "the dataset map (its rois)")
                    .opt("path", Ty::Str, "none", "also write the table: .csv or .tsv")
                    .returns("#{columns: [\"roi\", \"n_voxels\", \"mean\", \"median\", \"max\"], data: #{roi: [...], n_voxels, mean, median, max}}")
                    .section(SECTION)
                    .example("let t = fmri::roi_table(r, s1, #{path: out + \"/roi_accuracy.csv\"});"),
                FnSpec::new("save", "Write a dataset: .npz (data, coords, affine, shape, runs, roi_<name> flags; npz holds numbers only, so the stimulus labels are not kept) or .h5/.hdf5 (BData, readable by bdpy: VoxelData, voxel_i/j/k, voxel_x/y/z in mm, one 0/1 key per ROI, stimulus_name with its vmap, Run; needs --features hdf5).")
                    .param("subject", Ty::Map, "a dataset map")
                    .param("path", Ty::Str, ".npz, .h5 or .hdf5 path")
                    .returns("the path written")
                    .section(SECTION)
                    .example("fmri::save(s1, out + \"/sub-01.h5\");"),
                FnSpec::new("roi", "One ROI's voxel flags. An unknown name is an error listing the known ROIs; an ROI without voxels is an error.")
                    .param("subject", Ty::Map, "a dataset map")
                    .param("name", Ty::Str, "the ROI's name")
                    .returns("u8 tensor, one flag per voxel")
                    .section(SECTION)
                    .example("let v1 = fmri::roi(s1, \"visual_cortex\");"),
            ],
        }
    }

    fn call(&self, f: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match f {
            "load" => {
                let o: LoadOpt = options::parse(opts)?;
                Ok(load(&args[0], &o, ctx)?.to_value())
            }
            "subjects" => {
                let o: SubjectsOpt = options::parse(opts)?;
                let nan = nan_policy(&o.nan)?;
                match &args[0] {
                    Value::Map(m) if m.contains_key("subjects") => {
                        let subs = m["subjects"].as_list().ok_or_else(|| {
                            Error::msg("the world's subjects must be a list")
                        })?;
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
                                    let o = LoadOpt {
                                        nan: o.nan.clone(),
                                        ..Default::default()
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
            "align" => {
                let _: NoOpt = options::parse(opts)?;
                let ds = Dataset::from_value(&args[0])?;
                let order = stimulus_order(&args[1], ctx)?;
                Ok(with_dataset(&args[0], &ds.align(&order)?))
            }
            "zscore" => {
                let o: ZOpt = options::parse(opts)?;
                let constant = Constant::parse(o.constant.as_deref().unwrap_or("error"))?;
                match &args[0] {
                    Value::Map(_) => {
                        let ds = Dataset::from_value(&args[0])?;
                        Ok(with_dataset(&args[0], &ds.zscore(constant)?))
                    }
                    v @ (Value::Tensor(_) | Value::List(_)) => {
                        let t = match v {
                            Value::Tensor(t) => t.clone(),
                            _ => emoscope_sdk::value::tensor_from_nested(v)?,
                        };
                        let a = t.matrix::<f64>("x (stimuli × voxels)")?;
                        let z = zscore(a.view(), constant, &|c| format!("column {c}"))?;
                        let out = Tensor::from_array(z);
                        Ok(Value::Tensor(if t.dtype().is_float() {
                            out.astype(t.dtype())
                        } else {
                            out
                        }))
                    }
                    other => bail!(
                        "fmri::zscore takes a stimuli × voxels tensor or a dataset map, got {}",
                        other.type_name()
                    ),
                }
            }
            "save_map" => {
                let o: MapOpt = options::parse(opts)?;
                let outside = match o.outside.as_deref().unwrap_or("nan") {
                    "nan" => f32::NAN,
                    "zero" => 0.0,
                    other => bail!("outside must be \"nan\" or \"zero\", got \"{other}\""),
                };
                let values = values_arg(&args[0])?;
                let ds = Dataset::from_value(&args[1])?;
                let p = path_arg(&args[2], "path")?;
                let vals: Vec<f32> = values.to_f32()?.iter().copied().collect();
                let vol = ds.to_volume(&vals, outside)?;
                nifti::write_nifti(&Tensor::from_array(vol), &ds.affine, &p)?;
                ctx.output_file(&p);
                Ok(Value::Str(p.display().to_string()))
            }
            "roi_table" => {
                let o: TableOpt = options::parse(opts)?;
                let values = values_arg(&args[0])?;
                let ds = Dataset::from_value(&args[1])?;
                let t = ds.roi_table(&values.to_vec_f64()?)?.to_value();
                if let Some(p) = &o.path {
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
            "save" => {
                let _: NoOpt = options::parse(opts)?;
                let ds = Dataset::from_value(&args[0])?;
                let p = path_arg(&args[1], "path")?;
                match emoscope_sdk::io::extension(&p).as_str() {
                    "npz" => {
                        let mut m = Map::new();
                        m.insert(
                            "data".into(),
                            Value::Tensor(Tensor::from_array(ds.data.clone())),
                        );
                        m.insert(
                            "coords".into(),
                            Value::Tensor(Tensor::from_array(ds.coords.clone())),
                        );
                        m.insert(
                            "affine".into(),
                            Value::Tensor(Tensor::from_array(ds.affine.clone())),
                        );
                        m.insert(
                            "shape".into(),
                            Value::Tensor(Tensor::from_array(ndarray::Array1::from_iter(
                                ds.shape.iter().map(|&s| s as i64),
                            ))),
                        );
                        if let Some(r) = &ds.runs {
                            m.insert(
                                "runs".into(),
                                Value::Tensor(Tensor::from_array(ndarray::Array1::from(r.clone()))),
                            );
                        }
                        for (n, flags) in &ds.rois {
                            m.insert(
                                format!("roi_{n}"),
                                Value::Tensor(Tensor::from_array(ndarray::Array1::from_iter(
                                    flags.iter().map(|&x| u8::from(x)),
                                ))),
                            );
                        }
                        npy::write_npz(&m, &p)?;
                    }
                    "h5" | "hdf5" => bdata::write_bdata(&ds.to_bdata()?, &p)?,
                    other => bail!(
                        "fmri::save: cannot write '.{other}': expected .npz or .h5/.hdf5 (BData)"
                    ),
                }
                ctx.output_file(&p);
                Ok(Value::Str(p.display().to_string()))
            }
            "roi" => {
                let _: NoOpt = options::parse(opts)?;
                let ds = Dataset::from_value(&args[0])?;
                let Some(name) = args[1].as_str() else {
                    bail!("name must be a string")
                };
                let flags = ds.roi(name)?;
                Ok(Value::Tensor(Tensor::from_array(
                    ndarray::Array1::from_iter(flags.iter().map(|&x| u8::from(x))),
                )))
            }
            other => bail!("fmri has no function '{other}'"),
        }
    }
}
