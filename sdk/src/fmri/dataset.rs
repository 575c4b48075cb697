//! The in-memory fMRI dataset: one subject's responses (stimuli × voxels, f32) with the voxel
//! coordinates, the grid and its affine, named ROIs and the stimulus label of every row.
//!
//! Every source (4-D or 3-D NIfTI plus a mask, npz/npy matrices with coordinates, the Kamitani
//! lab's BData HDF5) ends in the same [`Dataset`], and its [`Dataset::to_value`] form is the
//! synthetic world's subject map (`synth::world(...).subjects[i]`), so a synthetic subject is a
//! valid dataset value and every `fmri::` function takes either.
//!
//! Policies a researcher should know (also in `docs/data.md`):
//! - a voxel is in when the mask is non-zero; without a mask, a NIfTI voxel is in when any of its
//!   values is non-zero (NaN counts as non-zero, so NaN voxels are reported, not hidden);
//! - a voxel with any non-finite value (NaN, ±inf) is an error naming the count and the first
//!   voxel, unless `nan: "drop"` drops such voxels (the count is reported);
//! - an ROI asked for by name (a label in the names table, a binary volume, a listed key) with no
//!   voxels inside the mask is an error; ROI columns found automatically in a BData file that
//!   are all zero are skipped with a note;
//! - `align` averages repeated rows of a stimulus (arithmetic mean, in f64);
//! - `zscore` is per voxel across stimuli with the population sd (ddof 0); a constant voxel is an
//!   error naming it unless `Constant::Zero` is asked for (its column becomes 0);
//! - brain maps are written as f32 with NaN outside the mask unless asked for 0.
use crate::error::{Error, Result};
use crate::io::bdata::BData;
use crate::io::nifti::Volume;
use crate::tensor::Tensor;
use crate::value::{Map, Value};
use crate::{bail, ensure};
use ndarray::{Array1, Array2, Array3, ArrayView2, Axis};
use std::collections::HashMap;

/// One subject's fMRI data.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    /// stimuli (rows) × voxels.
    pub data: Array2<f32>,
    /// voxels × 3: the (i, j, k) index of each voxel in the grid.
    pub coords: Array2<i64>,
    /// The grid's size.
    pub shape: [usize; 3],
    /// 4 × 4: voxel indices -> world millimetres.
    pub affine: Array2<f64>,
    /// Named voxel sets, in order: one flag per voxel.
    pub rois: Vec<(String, Vec<bool>)>,
    /// The label of each row.
    pub stimuli: Vec<String>,
    /// The run (session) of each row, when known (BData `Run`, npz `runs`).
    pub runs: Option<Vec<i64>>,
}

/// What to do with voxels holding NaN or infinite values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NanPolicy {
    /// An error naming how many voxels and the first one (the default).
    #[default]
    Error,
    /// Drop those voxels (from the data, the coordinates and every ROI).
    Drop,
}

impl NanPolicy {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(NanPolicy::Error),
            "drop" => Ok(NanPolicy::Drop),
            other => bail!("nan must be \"error\" or \"drop\", got \"{other}\""),
        }
    }
}

/// What `zscore` does with a voxel whose values are all equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Constant {
    /// An error naming the voxel (the default: a constant voxel is usually a masking mistake).
    #[default]
    Error,
    /// Set the column to 0.
    Zero,
}

impl Constant {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(Constant::Error),
            "zero" => Ok(Constant::Zero),
            other => bail!("constant must be \"error\" or \"zero\", got \"{other}\""),
        }
    }
}

/// ROI definitions that come with NIfTI data.
pub enum NiftiRois {
    None,
    /// A label volume (0 = none) and the names of its labels, in order.
    Labels {
        volume: Volume,
        names: Vec<(i64, String)>,
    },
    /// One binary volume (non-zero = in) per ROI.
    Binary(Vec<(String, Volume)>),
}

fn strings(v: &[String]) -> Value {
    Value::List(v.iter().cloned().map(Value::Str).collect())
}

/// The first few items of a list, for error messages: `a, b, c, … (12 in all)`.
pub fn first_few(items: &[String], n: usize) -> String {
    let mut s = items
        .iter()
        .take(n)
        .map(|x| format!("'{x}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > n {
        s.push_str(&format!(", … ({} in all)", items.len()));
    }
    s
}

/// Row-number labels (`"0"`, `"1"`, ...) for data without stimulus names.
pub fn row_labels(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

fn affines_close(a: &Array2<f64>, b: &Array2<f64>) -> bool {
    a.dim() == b.dim() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= 1e-3)
}

fn fmt_affine(a: &Array2<f64>) -> String {
    let rows: Vec<String> = a
        .outer_iter()
        .take(3)
        .map(|r| {
            format!(
                "[{}]",
                r.iter()
                    .map(|x| format!("{x:.4}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    rows.join(" ")
}

/// The spatial shape of a 3-D or 4-D volume.
fn spatial(v: &Volume, what: &str) -> Result<[usize; 3]> {
    let s = v.data.shape();
    ensure!(
        s.len() == 3 || s.len() == 4,
        "{what} must be a 3-D or 4-D volume, got shape {s:?}"
    );
    Ok([s[0], s[1], s[2]])
}

impl Dataset {
    pub fn n_stimuli(&self) -> usize {
        self.data.nrows()
    }
    pub fn n_voxels(&self) -> usize {
        self.data.ncols()
    }

    /// `(i, j, k)` of voxel `c`, for messages.
    pub fn voxel(&self, c: usize) -> String {
        format!(
            "({}, {}, {})",
            self.coords[[c, 0]],
            self.coords[[c, 1]],
            self.coords[[c, 2]]
        )
    }

    /// Check that the parts agree with each other. Empty ROIs are allowed here (a synthetic
    /// subject on a small grid may have some); the file loaders and `roi` refuse them.
    pub fn validate(&self) -> Result<()> {
        let (n, v) = self.data.dim();
        let who = &self.name;
        ensure!(
            self.coords.dim() == (v, 3),
            "{who}: coords must be voxels × 3 = {v} × 3 (one row per data column), got {:?}",
            self.coords.dim()
        );
        ensure!(
            self.affine.dim() == (4, 4),
            "{who}: the affine must be 4 × 4, got {:?}",
            self.affine.dim()
        );
        ensure!(
            self.stimuli.len() == n,
            "{who}: {} stimulus labels for {n} rows of data: give one label per row",
            self.stimuli.len()
        );
        if let Some(r) = &self.runs {
            ensure!(
                r.len() == n,
                "{who}: {} run numbers for {n} rows of data",
                r.len()
            );
        }
        let mut seen = HashMap::new();
        for c in 0..v {
            let ijk = [
                self.coords[[c, 0]],
                self.coords[[c, 1]],
                self.coords[[c, 2]],
            ];
            for (&x, &size) in ijk.iter().zip(&self.shape) {
                ensure!(
                    x >= 0 && (x as usize) < size,
                    "{who}: voxel {c} at {} lies outside the grid {:?}",
                    self.voxel(c),
                    self.shape
                );
            }
            if let Some(first) = seen.insert(ijk, c) {
                bail!(
                    "{who}: voxels {first} and {c} have the same coordinates {}",
                    self.voxel(c)
                );
            }
        }
        let mut names = HashMap::new();
        for (r, (name, flags)) in self.rois.iter().enumerate() {
            ensure!(
                flags.len() == v,
                "{who}: ROI '{name}' has {} flags for {v} voxels",
                flags.len()
            );
            ensure!(
                names.insert(name.clone(), r).is_none(),
                "{who}: ROI '{name}' is defined twice"
            );
        }
        Ok(())
    }

    /// The 3-D in-brain mask (1 at every voxel of the dataset).
    pub fn mask(&self) -> Array3<u8> {
        let mut m = Array3::<u8>::zeros(self.shape);
        for c in 0..self.n_voxels() {
            m[[
                self.coords[[c, 0]] as usize,
                self.coords[[c, 1]] as usize,
                self.coords[[c, 2]] as usize,
            ]] = 1;
        }
        m
    }

    pub fn roi_names(&self) -> Vec<String> {
        self.rois.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The flags of one ROI; an unknown or empty ROI is an error listing the known names.
    pub fn roi(&self, name: &str) -> Result<&[bool]> {
        let Some((_, flags)) = self.rois.iter().find(|(n, _)| n == name) else {
            bail!(
                "{}: no ROI named '{name}'; known ROIs: {}",
                self.name,
                if self.rois.is_empty() {
                    "none (load with rois or roi_names)".to_string()
                } else {
                    first_few(&self.roi_names(), 200)
                }
            )
        };
        ensure!(
            flags.iter().any(|&f| f),
            "{}: ROI '{name}' has no voxels",
            self.name
        );
        Ok(flags)
    }

    /// Keep only the voxels flagged in `keep` (data, coordinates and ROIs).
    pub fn select_voxels(&mut self, keep: &[bool]) {
        let idx: Vec<usize> = (0..keep.len()).filter(|&c| keep[c]).collect();
        self.data = self.data.select(Axis(1), &idx);
        self.coords = self.coords.select(Axis(0), &idx);
        for (_, flags) in self.rois.iter_mut() {
            *flags = idx.iter().map(|&c| flags[c]).collect();
        }
    }

    /// Voxels with a NaN or infinite value in any row.
    pub fn nonfinite_voxels(&self) -> Vec<usize> {
        let v = self.n_voxels();
        let mut bad = vec![false; v];
        for row in self.data.outer_iter() {
            for (c, x) in row.iter().enumerate() {
                if !x.is_finite() {
                    bad[c] = true;
                }
            }
        }
        (0..v).filter(|&c| bad[c]).collect()
    }

    /// Apply the NaN policy; returns how many voxels were dropped.
    pub fn check_nan(&mut self, policy: NanPolicy) -> Result<usize> {
        let bad = self.nonfinite_voxels();
        if bad.is_empty() {
            return Ok(0);
        }
        match policy {
            NanPolicy::Error => {
                let c = bad[0];
                let row = (0..self.n_stimuli())
                    .find(|&r| !self.data[[r, c]].is_finite())
                    .unwrap_or(0);
                bail!(
                    "{}: {} of {} voxels have NaN or infinite values (the first is voxel {} at (i, j, k) = {}, row {row} '{}'); pass nan: \"drop\" to drop them, or fix the mask",
                    self.name,
                    bad.len(),
                    self.n_voxels(),
                    c,
                    self.voxel(c),
                    self.stimuli.get(row).map(String::as_str).unwrap_or("")
                )
            }
            NanPolicy::Drop => {
                let mut keep = vec![true; self.n_voxels()];
                for &c in &bad {
                    keep[c] = false;
                }
                self.select_voxels(&keep);
                ensure!(
                    self.n_voxels() > 0,
                    "{}: every voxel has NaN or infinite values",
                    self.name
                );
                Ok(bad.len())
            }
        }
    }

    /// Refuse ROIs without voxels (used by the file loaders, where an ROI was asked for).
    pub fn check_rois_nonempty(&self, hint: &str) -> Result<()> {
        let empty: Vec<String> = self
            .rois
            .iter()
            .filter(|(_, f)| !f.iter().any(|&x| x))
            .map(|(n, _)| n.clone())
            .collect();
        ensure!(
            empty.is_empty(),
            "{}: {} ROI(s) have no voxels inside the mask: {}{hint}",
            self.name,
            empty.len(),
            first_few(&empty, 5)
        );
        Ok(())
    }

    /// Set the stimulus labels of the rows (their count must match).
    pub fn set_stimuli(&mut self, labels: Vec<String>) -> Result<()> {
        ensure!(
            labels.len() == self.n_stimuli(),
            "{}: {} stimulus labels given for {} rows of data (one label per row, in file order)",
            self.name,
            labels.len(),
            self.n_stimuli()
        );
        self.stimuli = labels;
        Ok(())
    }

    /// Keep and order the ROIs by name; an unknown name is an error listing the known ones.
    pub fn select_rois(&mut self, names: &[String]) -> Result<()> {
        let mut out = Vec::new();
        for n in names {
            match self.rois.iter().find(|(m, _)| m == n) {
                Some(r) => out.push(r.clone()),
                None => bail!(
                    "{}: no ROI named '{n}'; known ROIs: {}",
                    self.name,
                    first_few(&self.roi_names(), 200)
                ),
            }
        }
        self.rois = out;
        Ok(())
    }

    // ---- constructors -------------------------------------------------------------------

    /// From NIfTI volumes: 4-D series (t = stimulus) and/or 3-D maps (one stimulus each),
    /// stacked in order, a mask (non-zero = in; without one, voxels with any non-zero value),
    /// and ROIs. Labels default to row numbers.
    pub fn from_nifti(
        name: &str,
        series: &[Volume],
        mask: Option<&Volume>,
        rois: NiftiRois,
    ) -> Result<Dataset> {
        ensure!(!series.is_empty(), "{name}: no NIfTI volumes given");
        let shape = spatial(&series[0], "the fMRI data")?;
        let affine = series[0].affine.clone();
        let mut arrays = Vec::new();
        for (i, v) in series.iter().enumerate() {
            let s = spatial(v, "the fMRI data")?;
            ensure!(
                s == shape,
                "{name}: volume {i} has the spatial shape {s:?}, volume 0 has {shape:?}"
            );
            ensure!(
                affines_close(&v.affine, &affine),
                "{name}: volume {i} has another affine ({}) than volume 0 ({})",
                fmt_affine(&v.affine),
                fmt_affine(&affine)
            );
            let a = v.data.to_f32()?;
            let t = if a.ndim() == 4 { a.shape()[3] } else { 1 };
            arrays.push((a, t));
        }
        let n: usize = arrays.iter().map(|(_, t)| t).sum();
        ensure!(n > 0, "{name}: the series has no volumes (t = 0)");

        let inside: Array3<bool> = match mask {
            Some(m) => {
                let ms = m.data.shape();
                ensure!(
                    ms.len() == 3 || (ms.len() == 4 && ms[3] == 1),
                    "{name}: the mask must be a 3-D volume, got shape {ms:?}"
                );
                let s = [ms[0], ms[1], ms[2]];
                ensure!(
                    s == shape,
                    "{name}: the mask's shape {s:?} differs from the data's spatial shape {shape:?}: use a mask in the same space (same grid) as the data"
                );
                ensure!(
                    affines_close(&m.affine, &affine),
                    "{name}: the mask's affine ({}) differs from the data's ({}): use a mask in the same space as the data",
                    fmt_affine(&m.affine),
                    fmt_affine(&affine)
                );
                let md = m.data.to_f64()?;
                let md = md.to_shape(shape).map_err(|e| Error::msg(e.to_string()))?;
                md.mapv(|x| x != 0.0)
            }
            None => {
                let mut any = Array3::<bool>::from_elem(shape, false);
                for (a, t) in &arrays {
                    let a4 = a
                        .to_shape((shape[0], shape[1], shape[2], *t))
                        .map_err(|e| Error::msg(e.to_string()))?;
                    for ((i, j, k, _), x) in a4.indexed_iter() {
                        if *x != 0.0 {
                            any[[i, j, k]] = true;
                        }
                    }
                }
                any
            }
        };
        // Voxels in i-j-k (C) order, as nibabel's `np.nonzero(mask)` gives them.
        let mut coords = Vec::new();
        for ((i, j, k), &m) in inside.indexed_iter() {
            if m {
                coords.push([i, j, k]);
            }
        }
        let v = coords.len();
        ensure!(v > 0, "{name}: the mask has no voxels");
        let mut data = Array2::<f32>::zeros((n, v));
        let mut row = 0;
        for (a, t) in &arrays {
            let a4 = a
                .to_shape((shape[0], shape[1], shape[2], *t))
                .map_err(|e| Error::msg(e.to_string()))?;
            for s in 0..*t {
                for (c, ijk) in coords.iter().enumerate() {
                    data[[row + s, c]] = a4[[ijk[0], ijk[1], ijk[2], s]];
                }
            }
            row += t;
        }
        let coords = Array2::from_shape_fn((v, 3), |(c, d)| coords[c][d] as i64);
        let mut ds = Dataset {
            name: name.to_string(),
            data,
            coords,
            shape,
            affine,
            rois: Vec::new(),
            stimuli: row_labels(n),
            runs: None,
        };
        ds.rois = ds.nifti_rois(rois)?;
        ds.check_rois_nonempty(
            ": check the ROI volume is in the same space as the mask, or leave those names out",
        )?;
        ds.validate()?;
        Ok(ds)
    }

    fn nifti_rois(&self, rois: NiftiRois) -> Result<Vec<(String, Vec<bool>)>> {
        let at = |vol: &Volume, what: &str| -> Result<Vec<f64>> {
            let s = spatial(vol, what)?;
            ensure!(
                s == self.shape && vol.data.ndim() == 3,
                "{}: {what} has shape {:?}, the data's spatial shape is {:?}",
                self.name,
                vol.data.shape(),
                self.shape
            );
            ensure!(
                affines_close(&vol.affine, &self.affine),
                "{}: {what} has another affine ({}) than the data ({})",
                self.name,
                fmt_affine(&vol.affine),
                fmt_affine(&self.affine)
            );
            let a = vol.data.to_f64()?;
            Ok((0..self.n_voxels())
                .map(|c| {
                    a[[
                        self.coords[[c, 0]] as usize,
                        self.coords[[c, 1]] as usize,
                        self.coords[[c, 2]] as usize,
                    ]]
                })
                .collect())
        };
        Ok(match rois {
            NiftiRois::None => Vec::new(),
            NiftiRois::Labels { volume, names } => {
                let labels = at(&volume, "the ROI label volume")?;
                names
                    .into_iter()
                    .map(|(l, n)| (n, labels.iter().map(|&x| x == l as f64).collect()))
                    .collect()
            }
            NiftiRois::Binary(list) => list
                .into_iter()
                .map(|(n, vol)| {
                    let vals = at(&vol, &format!("the ROI volume '{n}'"))?;
                    Ok((n, vals.iter().map(|&x| x != 0.0).collect()))
                })
                .collect::<Result<_>>()?,
        })
    }

    /// From npz members: `data` (stimuli × voxels), `coords` (voxels × 3), optional `affine`
    /// (4 × 4), `shape` (3 ints), `runs`, and `roi_<name>` flags. `grid` (from a mask) gives
    /// the shape and affine when the file has none; otherwise the shape is the coordinates'
    /// extent and the affine the identity.
    pub fn from_npz(name: &str, m: &Map, grid: Option<&Volume>) -> Result<Dataset> {
        let get = |k: &str| -> Result<Tensor> {
            m.get(k)
                .ok_or_else(|| {
                    Error::msg(format!(
                        "{name}: the npz has no '{k}' member (it has {}); an fMRI npz holds data (stimuli × voxels) and coords (voxels × 3)",
                        first_few(&m.keys().cloned().collect::<Vec<_>>(), 20)
                    ))
                })?
                .to_tensor(k)
        };
        let data = get("data")?;
        let coords = get("coords")?;
        let mut rois = Vec::new();
        for (k, v) in m {
            if let Some(r) = k.strip_prefix("roi_") {
                let t = v.to_tensor(k)?.to_f64()?;
                rois.push((r.to_string(), t.iter().map(|&x| x != 0.0).collect()));
            }
        }
        let runs = match m.get("runs") {
            Some(r) => Some(r.to_tensor("runs")?.to_i64()?.iter().copied().collect()),
            None => None,
        };
        let affine = match m.get("affine") {
            Some(a) => Some(a.to_tensor("affine")?.matrix::<f64>("affine")?.to_owned()),
            None => None,
        };
        let shape = match m.get("shape") {
            Some(s) => {
                let s: Vec<i64> = s.to_tensor("shape")?.to_i64()?.iter().copied().collect();
                ensure!(
                    s.len() == 3 && s.iter().all(|&x| x > 0),
                    "{name}: shape must hold three positive sizes, got {s:?}"
                );
                Some([s[0] as usize, s[1] as usize, s[2] as usize])
            }
            None => None,
        };
        Self::from_matrix(name, &data, &coords, shape, affine, rois, runs, grid)
    }

    /// From a matrix and coordinates (npy); see [`Dataset::from_npz`] for the grid.
    #[allow(clippy::too_many_arguments)]
    pub fn from_matrix(
        name: &str,
        data: &Tensor,
        coords: &Tensor,
        shape: Option<[usize; 3]>,
        affine: Option<Array2<f64>>,
        rois: Vec<(String, Vec<bool>)>,
        runs: Option<Vec<i64>>,
        grid: Option<&Volume>,
    ) -> Result<Dataset> {
        let data = data
            .matrix::<f32>("data (stimuli × voxels)")
            .map_err(|e| e.context(name))?
            .to_owned();
        let coords = coords
            .matrix::<i64>("coords (voxels × 3)")
            .map_err(|e| e.context(name))?
            .to_owned();
        ensure!(
            coords.ncols() == 3 && coords.nrows() == data.ncols(),
            "{name}: coords must be voxels × 3 = {} × 3 (one row per data column), got {:?}",
            data.ncols(),
            coords.dim()
        );
        let extent = || {
            let mut s = [1usize; 3];
            for row in coords.outer_iter() {
                for d in 0..3 {
                    s[d] = s[d].max(row[d].max(0) as usize + 1);
                }
            }
            s
        };
        let (shape, affine) = match grid {
            Some(g) => {
                let gs = spatial(g, "the mask")?;
                if let Some(s) = shape {
                    ensure!(
                        s == gs,
                        "{name}: the mask's shape {gs:?} differs from the data's shape {s:?}"
                    );
                }
                if let Some(a) = &affine {
                    ensure!(
                        affines_close(a, &g.affine),
                        "{name}: the mask's affine ({}) differs from the data's ({})",
                        fmt_affine(&g.affine),
                        fmt_affine(a)
                    );
                }
                (gs, g.affine.clone())
            }
            None => (
                shape.unwrap_or_else(extent),
                affine.unwrap_or_else(|| Array2::eye(4)),
            ),
        };
        let n = data.nrows();
        let ds = Dataset {
            name: name.to_string(),
            data,
            coords,
            shape,
            affine,
            rois,
            stimuli: row_labels(n),
            runs,
        };
        ds.validate()?;
        if let Some(g) = grid {
            // Every voxel must be inside the mask.
            let m = g.data.to_f64()?;
            for c in 0..ds.n_voxels() {
                let ijk = [
                    ds.coords[[c, 0]] as usize,
                    ds.coords[[c, 1]] as usize,
                    ds.coords[[c, 2]] as usize,
                ];
                let x = if m.ndim() == 4 {
                    m[[ijk[0], ijk[1], ijk[2], 0]]
                } else {
                    m[[ijk[0], ijk[1], ijk[2]]]
                };
                ensure!(
                    x != 0.0,
                    "{name}: voxel {c} at (i, j, k) = {} lies outside the mask",
                    ds.voxel(c)
                );
            }
        }
        Ok(ds)
    }

    // ---- Value form ---------------------------------------------------------------------

    /// The subject map: `#{name, data, coords, rois, roi_names, affine, mask, grid, stimuli,
    /// runs?}` (the synthetic world's subject keys plus the labels).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        self.write_into(&mut m);
        Value::Map(m)
    }

    /// Write this dataset's keys into an existing map (other keys are kept).
    pub fn write_into(&self, m: &mut Map) {
        let mut rois = Map::new();
        for (n, f) in &self.rois {
            rois.insert(
                n.clone(),
                Value::Tensor(Tensor::from_array(Array1::from_iter(
                    f.iter().map(|&x| u8::from(x)),
                ))),
            );
        }
        m.insert("name".into(), Value::Str(self.name.clone()));
        m.insert(
            "data".into(),
            Value::Tensor(Tensor::from_array(self.data.clone())),
        );
        m.insert(
            "coords".into(),
            Value::Tensor(Tensor::from_array(self.coords.clone())),
        );
        m.insert("rois".into(), Value::Map(rois));
        m.insert("roi_names".into(), strings(&self.roi_names()));
        m.insert(
            "affine".into(),
            Value::Tensor(Tensor::from_array(self.affine.clone())),
        );
        m.insert(
            "mask".into(),
            Value::Tensor(Tensor::from_array(self.mask())),
        );
        m.insert(
            "grid".into(),
            Value::List(self.shape.iter().map(|&g| Value::from(g)).collect()),
        );
        m.insert("stimuli".into(), strings(&self.stimuli));
        match &self.runs {
            Some(r) => {
                m.insert(
                    "runs".into(),
                    Value::Tensor(Tensor::from_array(Array1::from(r.clone()))),
                );
            }
            None => {
                m.remove("runs");
            }
        }
    }

    /// Read a subject map (see [`Dataset::to_value`]). `stimuli` may be absent (labels are then
    /// row numbers); the grid comes from `grid`, else the mask's shape, else the coordinates'
    /// extent; the affine defaults to the identity.
    pub fn from_value(v: &Value) -> Result<Dataset> {
        let Value::Map(m) = v else {
            bail!(
                "an fMRI dataset is a map #{{name, data, coords, rois, roi_names, affine, mask, grid, stimuli}} (such as a synth::world subject or fmri::load's result), got {}",
                v.type_name()
            )
        };
        let name = match m.get("name") {
            Some(Value::Str(s)) => s.clone(),
            _ => "subject".to_string(),
        };
        let need = |k: &str| -> Result<&Value> {
            m.get(k).ok_or_else(|| {
                Error::msg(format!(
                    "{name}: the dataset map has no '{k}' (keys: {})",
                    m.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })
        };
        let data = need("data")?
            .to_tensor("data")?
            .matrix::<f32>("data (stimuli × voxels)")
            .map_err(|e| e.context(&name))?
            .to_owned();
        let coords = need("coords")?
            .to_tensor("coords")?
            .matrix::<i64>("coords (voxels × 3)")
            .map_err(|e| e.context(&name))?
            .to_owned();
        let mask = match m.get("mask") {
            Some(Value::Null) | None => None,
            Some(x) => Some(x.to_tensor("mask")?),
        };
        let shape = match m.get("grid") {
            Some(Value::List(g)) => {
                let g: Vec<i64> = g.iter().filter_map(Value::as_i64).collect();
                ensure!(
                    g.len() == 3 && g.iter().all(|&x| x > 0),
                    "{name}: grid must be three positive sizes [x, y, z]"
                );
                [g[0] as usize, g[1] as usize, g[2] as usize]
            }
            Some(Value::Tensor(t)) => {
                let g: Vec<i64> = t.to_i64()?.iter().copied().collect();
                ensure!(
                    g.len() == 3 && g.iter().all(|&x| x > 0),
                    "{name}: grid must be three positive sizes [x, y, z]"
                );
                [g[0] as usize, g[1] as usize, g[2] as usize]
            }
            _ => match &mask {
                Some(t) if t.ndim() == 3 => {
                    let s = t.shape();
                    [s[0], s[1], s[2]]
                }
                _ => {
                    let mut s = [1usize; 3];
                    for row in coords.outer_iter() {
                        for d in 0..3 {
                            s[d] = s[d].max(row[d].max(0) as usize + 1);
                        }
                    }
                    s
                }
            },
        };
        let affine = match m.get("affine") {
            Some(Value::Null) | None => Array2::eye(4),
            Some(a) => a
                .to_tensor("affine")?
                .matrix::<f64>("affine")
                .map_err(|e| e.context(&name))?
                .to_owned(),
        };
        let n = data.nrows();
        let stimuli = match m.get("stimuli") {
            Some(Value::Null) | None => row_labels(n),
            Some(x) => labels_from_value(x, "stimuli")?,
        };
        let runs = match m.get("runs") {
            Some(Value::Null) | None => None,
            Some(r) => Some(r.to_tensor("runs")?.to_i64()?.iter().copied().collect()),
        };
        let mut rois = Vec::new();
        if let Some(r) = m.get("rois") {
            let Value::Map(rm) = r else {
                bail!(
                    "{name}: rois must be a map #{{name: flags per voxel}}, got {}",
                    r.type_name()
                )
            };
            let order: Vec<String> = match m.get("roi_names") {
                Some(Value::List(l)) => {
                    let mut o: Vec<String> = l
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .filter(|x| rm.contains_key(x))
                        .collect();
                    for k in rm.keys() {
                        if !o.contains(k) {
                            o.push(k.clone());
                        }
                    }
                    o
                }
                _ => rm.keys().cloned().collect(),
            };
            for k in order {
                let t = rm[&k].to_tensor(&format!("rois.{k}"))?.to_f64()?;
                rois.push((k, t.iter().map(|&x| x != 0.0).collect()));
            }
        }
        let ds = Dataset {
            name,
            data,
            coords,
            shape,
            affine,
            rois,
            stimuli,
            runs,
        };
        ds.validate()?;
        if let Some(t) = mask {
            let s = t.shape();
            ensure!(
                s == ds.shape.to_vec(),
                "{}: the mask's shape {s:?} differs from the grid {:?}",
                ds.name,
                ds.shape
            );
            let mk = t.to_f64()?;
            let inside = mk.iter().filter(|&&x| x != 0.0).count();
            ensure!(
                inside == ds.n_voxels(),
                "{}: the mask has {inside} voxels, the data {}: they must describe the same voxels",
                ds.name,
                ds.n_voxels()
            );
            for c in 0..ds.n_voxels() {
                ensure!(
                    mk[[
                        ds.coords[[c, 0]] as usize,
                        ds.coords[[c, 1]] as usize,
                        ds.coords[[c, 2]] as usize
                    ]] != 0.0,
                    "{}: voxel {c} at {} lies outside the mask",
                    ds.name,
                    ds.voxel(c)
                );
            }
        }
        Ok(ds)
    }

    // ---- operations ---------------------------------------------------------------------

    /// Rows reordered to `stimuli` by label, repeated rows of a stimulus averaged. Labels not in
    /// `stimuli` are dropped. Runs are kept when every stimulus's rows come from one run.
    pub fn align(&self, stimuli: &[String]) -> Result<Dataset> {
        let mut rows: HashMap<&str, Vec<usize>> = HashMap::new();
        for (r, s) in self.stimuli.iter().enumerate() {
            rows.entry(s.as_str()).or_default().push(r);
        }
        let missing: Vec<String> = stimuli
            .iter()
            .filter(|s| !rows.contains_key(s.as_str()))
            .cloned()
            .collect();
        ensure!(
            missing.is_empty(),
            "{}: {} of the {} stimuli have no rows in the data: {} (the data's labels look like {})",
            self.name,
            missing.len(),
            stimuli.len(),
            first_few(&missing, 5),
            first_few(&self.stimuli, 3)
        );
        let v = self.n_voxels();
        let mut out = Array2::<f32>::zeros((stimuli.len(), v));
        let mut acc = vec![0f64; v];
        let mut runs = Vec::new();
        let mut runs_ok = self.runs.is_some();
        for (i, s) in stimuli.iter().enumerate() {
            let rs = &rows[s.as_str()];
            acc.iter_mut().for_each(|a| *a = 0.0);
            for &r in rs {
                for (a, x) in acc.iter_mut().zip(self.data.row(r)) {
                    *a += *x as f64;
                }
            }
            let k = rs.len() as f64;
            for (o, a) in out.row_mut(i).iter_mut().zip(&acc) {
                *o = (*a / k) as f32;
            }
            if let Some(run) = &self.runs {
                let first = run[rs[0]];
                if rs.iter().all(|&r| run[r] == first) {
                    runs.push(first);
                } else {
                    runs_ok = false;
                }
            }
        }
        Ok(Dataset {
            name: self.name.clone(),
            data: out,
            coords: self.coords.clone(),
            shape: self.shape,
            affine: self.affine.clone(),
            rois: self.rois.clone(),
            stimuli: stimuli.to_vec(),
            runs: if runs_ok { Some(runs) } else { None },
        })
    }

    /// Z-scored per voxel across stimuli (see [`zscore`]).
    pub fn zscore(&self, constant: Constant) -> Result<Dataset> {
        let coords = self.coords.view();
        let a = self.data.mapv(f64::from);
        let data = zscore(a.view(), constant, &|c| {
            format!(
                "{}: voxel {c} at (i, j, k) = ({}, {}, {})",
                self.name,
                coords[[c, 0]],
                coords[[c, 1]],
                coords[[c, 2]]
            )
        })?;
        Ok(Dataset {
            data: data.mapv(|x| x as f32),
            ..self.clone()
        })
    }

    /// A per-voxel vector as a 3-D volume on the dataset's grid: `outside` (NaN or 0) where
    /// there is no voxel.
    pub fn to_volume(&self, values: &[f32], outside: f32) -> Result<Array3<f32>> {
        ensure!(
            values.len() == self.n_voxels(),
            "{}: {} values for {} voxels: a brain map needs one value per voxel (data column)",
            self.name,
            values.len(),
            self.n_voxels()
        );
        let mut vol = Array3::<f32>::from_elem(self.shape, outside);
        for (c, &x) in values.iter().enumerate() {
            vol[[
                self.coords[[c, 0]] as usize,
                self.coords[[c, 1]] as usize,
                self.coords[[c, 2]] as usize,
            ]] = x;
        }
        Ok(vol)
    }

    /// Per ROI: the number of voxels and the mean, median and max of `values` over them (NaN
    /// values are left out; an ROI whose values are all NaN gets NaN). An empty ROI is an error.
    pub fn roi_table(&self, values: &[f64]) -> Result<RoiTable> {
        ensure!(
            values.len() == self.n_voxels(),
            "{}: {} values for {} voxels: give one value per voxel",
            self.name,
            values.len(),
            self.n_voxels()
        );
        ensure!(
            !self.rois.is_empty(),
            "{}: the dataset has no ROIs (load it with rois or roi_names)",
            self.name
        );
        self.check_rois_nonempty("")?;
        let mut t = RoiTable::default();
        for (name, flags) in &self.rois {
            let mut xs: Vec<f64> = values
                .iter()
                .zip(flags)
                .filter(|(x, &f)| f && !x.is_nan())
                .map(|(&x, _)| x)
                .collect();
            t.roi.push(name.clone());
            t.n_voxels.push(flags.iter().filter(|&&f| f).count() as i64);
            if xs.is_empty() {
                t.mean.push(f64::NAN);
                t.median.push(f64::NAN);
                t.max.push(f64::NAN);
                continue;
            }
            xs.sort_by(f64::total_cmp);
            let k = xs.len();
            t.mean.push(xs.iter().sum::<f64>() / k as f64);
            t.median.push(if k % 2 == 1 {
                xs[k / 2]
            } else {
                (xs[k / 2 - 1] + xs[k / 2]) / 2.0
            });
            t.max.push(xs[k - 1]);
        }
        Ok(t)
    }
}

/// BData metadata keys that are not ROI flags.
pub const BDATA_KNOWN_KEYS: [&str; 9] = [
    "VoxelData",
    "voxel_x",
    "voxel_y",
    "voxel_z",
    "voxel_i",
    "voxel_j",
    "voxel_k",
    "stimulus_name",
    "Run",
];

fn bdata_number(x: f64) -> String {
    crate::io::bdata::number_name(x)
}

/// Solve a 4 × 4 linear system (Gaussian elimination with partial pivoting): the inverse of
/// an affine, applied to world coordinates.
fn invert4(a: &Array2<f64>) -> Result<Array2<f64>> {
    let mut m = Array2::<f64>::zeros((4, 8));
    for i in 0..4 {
        for j in 0..4 {
            m[[i, j]] = a[[i, j]];
        }
        m[[i, 4 + i]] = 1.0;
    }
    for col in 0..4 {
        let p = (col..4)
            .max_by(|&x, &y| m[[x, col]].abs().total_cmp(&m[[y, col]].abs()))
            .unwrap_or(col);
        ensure!(
            m[[p, col]].abs() > 1e-12,
            "the affine is singular: cannot convert millimetres to voxel indices"
        );
        for j in 0..8 {
            m.swap([col, j], [p, j]);
        }
        let d = m[[col, col]];
        for j in 0..8 {
            m[[col, j]] /= d;
        }
        for r in 0..4 {
            if r != col {
                let f = m[[r, col]];
                for j in 0..8 {
                    m[[r, j]] -= f * m[[col, j]];
                }
            }
        }
    }
    Ok(m.slice(ndarray::s![.., 4..]).to_owned())
}

/// The affine with `xyz = A · [i j k 1]` for every voxel (least squares), when it fits to
/// within 1e-3 mm.
fn fit_affine(coords: &Array2<i64>, xyz: &[Vec<f64>; 3]) -> Option<Array2<f64>> {
    let v = coords.nrows();
    let mut m = Array2::<f64>::zeros((4, 4));
    let mut b = Array2::<f64>::zeros((4, 3));
    for c in 0..v {
        let p = [
            coords[[c, 0]] as f64,
            coords[[c, 1]] as f64,
            coords[[c, 2]] as f64,
            1.0,
        ];
        for r in 0..4 {
            for q in 0..4 {
                m[[r, q]] += p[r] * p[q];
            }
            for d in 0..3 {
                b[[r, d]] += p[r] * xyz[d][c];
            }
        }
    }
    let inv = invert4(&m).ok()?;
    let sol = inv.dot(&b); // 4 × 3: column d holds row d of the affine
    let mut a = Array2::<f64>::eye(4);
    for d in 0..3 {
        for q in 0..4 {
            // Snap away the solver's rounding noise (1e-14 where the affine has 0).
            a[[d, q]] = ((sol[[q, d]] * 1e9).round() / 1e9) + 0.0;
        }
    }
    for c in 0..v {
        for d in 0..3 {
            let f: f64 = (0..3)
                .map(|q| a[[d, q]] * coords[[c, q]] as f64)
                .sum::<f64>()
                + a[[d, 3]];
            if (f - xyz[d][c]).abs() > 1e-3 {
                return None;
            }
        }
    }
    Some(a)
}

impl Dataset {
    /// From a BData container: the voxels are the columns where `VoxelData` is 1; their
    /// (i, j, k) come from `voxel_i/j/k` (0-based indices; the affine is then the mask's, else
    /// the header's, else fitted to `voxel_x/y/z` when the file has them (bdpy writes both),
    /// else the identity) or else from `voxel_x/y/z` (millimetres), converted with the affine of `grid` (a mask in the same space), else the
    /// file's `emoscope_affine` header, else a grid inferred from the coordinates (voxel size
    /// the smallest spacing between distinct values along each axis, origin at the minimum,
    /// no rotation). ROI flags are the other keys whose values over the voxel columns are all
    /// 0 or 1 (`rois` keeps and orders a subset; an unknown or empty one is an error; found
    /// ROIs that are all 0 are skipped with a note). Labels come from the `stimulus_name`
    /// column through its vmap (numbers when there is none), runs from `Run`.
    pub fn from_bdata(
        name: &str,
        b: &BData,
        grid: Option<&Volume>,
        rois: Option<&[String]>,
        notes: &mut Vec<String>,
    ) -> Result<Dataset> {
        let vox = b.columns_of("VoxelData");
        ensure!(
            !vox.is_empty(),
            "{name}: the BData file has no voxel columns (metadata 'VoxelData' = 1); its keys: {}",
            first_few(&b.keys, 30)
        );
        let data = b.dataset.select(Axis(1), &vox).mapv(|x| x as f32);
        let per_voxel = |key: &str| -> Option<Vec<f64>> {
            b.key_index(key)
                .map(|r| vox.iter().map(|&c| b.values[[r, c]]).collect())
        };
        let header_affine = match b.header.get("emoscope_affine") {
            Some(a) if a.shape() == [4, 4] => Some(
                a.clone()
                    .into_dimensionality::<ndarray::Ix2>()
                    .map_err(|e| Error::msg(e.to_string()))?,
            ),
            _ => None,
        };
        let header_shape = match b.header.get("emoscope_shape") {
            Some(s) if s.len() == 3 && s.iter().all(|&x| x >= 1.0) => {
                Some([s[[0]] as usize, s[[1]] as usize, s[[2]] as usize])
            }
            _ => None,
        };
        let v = vox.len();
        let mut coords = Array2::<i64>::zeros((v, 3));
        let mut affine = grid
            .map(|g| g.affine.clone())
            .or(header_affine.clone())
            .unwrap_or_else(|| Array2::eye(4));
        let mut inferred = false;
        if let (Some(i), Some(j), Some(k)) = (
            per_voxel("voxel_i"),
            per_voxel("voxel_j"),
            per_voxel("voxel_k"),
        ) {
            for (d, col) in [i, j, k].iter().enumerate() {
                for (c, &x) in col.iter().enumerate() {
                    ensure!(
                        x.is_finite() && x >= 0.0 && x.fract() == 0.0,
                        "{name}: voxel_{} of voxel {c} is {x}: voxel indices must be whole numbers ≥ 0",
                        ["i", "j", "k"][d]
                    );
                    coords[[c, d]] = x as i64;
                }
            }
            // bdpy writes voxel_x/y/z beside voxel_i/j/k (xyz = affine · ijk): without a mask
            // or a header affine, recover the affine from them.
            if grid.is_none() && header_affine.is_none() {
                if let (Some(x), Some(y), Some(z)) = (
                    per_voxel("voxel_x"),
                    per_voxel("voxel_y"),
                    per_voxel("voxel_z"),
                ) {
                    match fit_affine(&coords, &[x, y, z]) {
                        Some(a) => affine = a,
                        None => notes.push(format!(
                            "{name}: voxel_x/y/z do not follow one affine of voxel_i/j/k; the affine is the identity (pass mask to set it)"
                        )),
                    }
                }
            }
        } else if let (Some(x), Some(y), Some(z)) = (
            per_voxel("voxel_x"),
            per_voxel("voxel_y"),
            per_voxel("voxel_z"),
        ) {
            let xyz = [x, y, z];
            for (d, col) in xyz.iter().enumerate() {
                if let Some(c) = col.iter().position(|x| !x.is_finite()) {
                    bail!(
                        "{name}: voxel_{} of voxel {c} is not a number",
                        ["x", "y", "z"][d]
                    );
                }
            }
            if grid.is_none() && header_affine.is_none() {
                inferred = true;
                affine = Array2::eye(4);
                for (d, col) in xyz.iter().enumerate() {
                    let mut u = col.clone();
                    u.sort_by(f64::total_cmp);
                    u.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
                    let step = u
                        .windows(2)
                        .map(|w| w[1] - w[0])
                        .fold(f64::INFINITY, f64::min);
                    affine[[d, d]] = if step.is_finite() { step } else { 1.0 };
                    affine[[d, 3]] = u[0];
                }
            }
            let inv = invert4(&affine)?;
            for c in 0..v {
                let p = [xyz[0][c], xyz[1][c], xyz[2][c], 1.0];
                for d in 0..3 {
                    let f: f64 = (0..4).map(|j| inv[[d, j]] * p[j]).sum();
                    let r = f.round();
                    ensure!(
                        (f - r).abs() < 0.05 && r >= 0.0,
                        "{name}: voxel {c} at ({}, {}, {}) mm does not fall on the grid of the affine ({}): index {f:.3}; pass mask (a NIfTI in the same space) to give the grid",
                        p[0], p[1], p[2], fmt_affine(&affine)
                    );
                    coords[[c, d]] = r as i64;
                }
            }
        } else {
            bail!(
                "{name}: the BData file has no voxel coordinates: it needs voxel_i/j/k (indices) or voxel_x/y/z (mm) metadata; its keys: {}",
                first_few(&b.keys, 30)
            );
        }
        if inferred {
            notes.push(format!(
                "{name}: the grid was inferred from voxel_x/y/z: voxel size {:?} mm, origin {:?} mm (pass mask to use a NIfTI's grid)",
                [affine[[0, 0]], affine[[1, 1]], affine[[2, 2]]],
                [affine[[0, 3]], affine[[1, 3]], affine[[2, 3]]]
            ));
        }
        let extent = || {
            let mut s = [1usize; 3];
            for row in coords.outer_iter() {
                for d in 0..3 {
                    s[d] = s[d].max(row[d] as usize + 1);
                }
            }
            s
        };
        let shape = match grid {
            Some(g) => spatial(g, "the mask")?,
            None => header_shape.unwrap_or_else(extent),
        };

        // ROIs: 0/1 over every voxel column.
        let candidates: Vec<(String, Vec<bool>)> = b
            .keys
            .iter()
            .enumerate()
            .filter(|(_, k)| !BDATA_KNOWN_KEYS.contains(&k.as_str()))
            .filter_map(|(r, k)| {
                let vals: Vec<f64> = vox.iter().map(|&c| b.values[[r, c]]).collect();
                vals.iter()
                    .all(|&x| x == 0.0 || x == 1.0)
                    .then(|| (k.clone(), vals.iter().map(|&x| x == 1.0).collect()))
            })
            .collect();
        let rois = match rois {
            Some(names) => {
                let mut out = Vec::new();
                for n in names {
                    match candidates.iter().find(|(k, _)| k == n) {
                        Some(r) => out.push(r.clone()),
                        None => bail!(
                            "{name}: no ROI '{n}' in the BData file (ROI keys are 0/1 over the voxel columns); its ROIs: {}",
                            first_few(&candidates.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), 200)
                        ),
                    }
                }
                out
            }
            None => {
                let (keep, empty): (Vec<_>, Vec<_>) = candidates
                    .into_iter()
                    .partition(|(_, f)| f.iter().any(|&x| x));
                if !empty.is_empty() {
                    notes.push(format!(
                        "{name}: skipped {} ROI column(s) without voxels: {}",
                        empty.len(),
                        first_few(&empty.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), 5)
                    ));
                }
                keep
            }
        };

        let n = data.nrows();
        let single = |key: &str| -> Result<Option<Vec<f64>>> {
            let cols = b.columns_of(key);
            match cols.len() {
                0 => Ok(None),
                1 => Ok(Some(b.dataset.column(cols[0]).to_vec())),
                k => bail!("{name}: '{key}' marks {k} columns; expected one"),
            }
        };
        let stimuli = match single("stimulus_name")? {
            None => row_labels(n),
            Some(vals) => match b.vmap.get("stimulus_name") {
                Some(map) => vals
                    .iter()
                    .enumerate()
                    .map(|(r, &x)| {
                        map.iter()
                            .find(|(k, _)| *k == x || (k - x).abs() <= 1e-9 * x.abs().max(1.0))
                            .map(|(_, l)| l.clone())
                            .ok_or_else(|| {
                                Error::msg(format!(
                                    "{name}: sample {r} has stimulus_name {} which the vmap does not label",
                                    bdata_number(x)
                                ))
                            })
                    })
                    .collect::<Result<_>>()?,
                None => vals.iter().map(|&x| bdata_number(x)).collect(),
            },
        };
        let runs = match single("Run")? {
            None => None,
            Some(vals) => Some(
                vals.iter()
                    .enumerate()
                    .map(|(r, &x)| {
                        ensure!(
                            x.is_finite() && x.fract() == 0.0,
                            "{name}: sample {r} has Run {x}: runs must be whole numbers"
                        );
                        Ok(x as i64)
                    })
                    .collect::<Result<_>>()?,
            ),
        };
        let ds = Dataset {
            name: name.to_string(),
            data,
            coords,
            shape,
            affine,
            rois,
            stimuli,
            runs,
        };
        ds.validate()?;
        ds.check_rois_nonempty("")?;
        Ok(ds)
    }

    /// The BData form: voxel columns (`VoxelData`, `voxel_i/j/k`, `voxel_x/y/z` in mm through
    /// the affine, one 0/1 key per ROI), then a `stimulus_name` column (codes 1, 2, ... in
    /// order of first appearance, labelled by the vmap), then `Run` when known; the affine and
    /// grid go to `/header/emoscope_affine` and `/header/emoscope_shape`.
    pub fn to_bdata(&self) -> Result<BData> {
        self.validate()?;
        for (r, _) in &self.rois {
            ensure!(
                !BDATA_KNOWN_KEYS.contains(&r.as_str()),
                "{}: an ROI named '{r}' would clash with the BData key of that name",
                self.name
            );
        }
        let (n, v) = self.data.dim();
        let label_col = v;
        let run_col = self.runs.as_ref().map(|_| v + 1);
        let cols = v + 1 + usize::from(self.runs.is_some());
        let mut codes: Vec<(f64, String)> = Vec::new();
        let mut code_of: HashMap<&str, f64> = HashMap::new();
        let mut dataset = Array2::<f64>::zeros((n, cols));
        for r in 0..n {
            for c in 0..v {
                dataset[[r, c]] = self.data[[r, c]] as f64;
            }
            let s = self.stimuli[r].as_str();
            let code = *code_of.entry(s).or_insert_with(|| {
                let x = (codes.len() + 1) as f64;
                codes.push((x, s.to_string()));
                x
            });
            dataset[[r, label_col]] = code;
            if let (Some(rc), Some(runs)) = (run_col, &self.runs) {
                dataset[[r, rc]] = runs[r] as f64;
            }
        }
        let mut keys = Vec::new();
        let mut descriptions = Vec::new();
        let mut rows: Vec<Vec<f64>> = Vec::new();
        let mut push = |k: &str, d: &str, vals: Vec<f64>| {
            keys.push(k.to_string());
            descriptions.push(d.to_string());
            rows.push(vals);
        };
        let voxel_row = |f: &dyn Fn(usize) -> f64| -> Vec<f64> {
            (0..cols)
                .map(|c| if c < v { f(c) } else { f64::NAN })
                .collect()
        };
        push("VoxelData", "Attribute: VoxelData = 1", voxel_row(&|_| 1.0));
        for (d, a) in ["i", "j", "k"].iter().enumerate() {
            push(
                &format!("voxel_{a}"),
                &format!("Voxel index along the grid's axis {} (0-based)", d + 1),
                voxel_row(&|c| self.coords[[c, d]] as f64),
            );
        }
        for (d, a) in ["x", "y", "z"].iter().enumerate() {
            push(
                &format!("voxel_{a}"),
                &format!("Voxel {a} coordinate (mm)"),
                voxel_row(&|c| {
                    (0..3)
                        .map(|e| self.affine[[d, e]] * self.coords[[c, e]] as f64)
                        .sum::<f64>()
                        + self.affine[[d, 3]]
                }),
            );
        }
        for (name, flags) in &self.rois {
            push(
                name,
                &format!("1 = ROI {name}"),
                voxel_row(&|c| f64::from(u8::from(flags[c]))),
            );
        }
        let marker = |col: usize| -> Vec<f64> {
            (0..cols)
                .map(|c| if c == col { 1.0 } else { f64::NAN })
                .collect()
        };
        push(
            "stimulus_name",
            "Attribute: stimulus_name = 1",
            marker(label_col),
        );
        if let Some(rc) = run_col {
            push("Run", "Attribute: Run = 1", marker(rc));
        }
        let values = Array2::from_shape_fn((rows.len(), cols), |(k, c)| rows[k][c]);
        let mut header = std::collections::BTreeMap::new();
        header.insert(
            "emoscope_affine".to_string(),
            self.affine.clone().into_dyn(),
        );
        header.insert(
            "emoscope_shape".to_string(),
            Array1::from_iter(self.shape.iter().map(|&s| s as f64)).into_dyn(),
        );
        let mut vmap = std::collections::BTreeMap::new();
        vmap.insert("stimulus_name".to_string(), codes);
        Ok(BData {
            dataset,
            keys,
            descriptions,
            values,
            vmap,
            header,
        })
    }
}

/// The per-ROI summary of a per-voxel vector.
#[derive(Default, Debug, Clone)]
pub struct RoiTable {
    pub roi: Vec<String>,
    pub n_voxels: Vec<i64>,
    pub mean: Vec<f64>,
    pub median: Vec<f64>,
    pub max: Vec<f64>,
}

impl RoiTable {
    /// `#{columns: ["roi", "n_voxels", "mean", "median", "max"], data: #{...}}`: the table form
    /// `io::load` gives CSVs and `io::save` writes.
    pub fn to_value(&self) -> Value {
        let cols = ["roi", "n_voxels", "mean", "median", "max"];
        let mut data = Map::new();
        data.insert("roi".into(), strings(&self.roi));
        data.insert(
            "n_voxels".into(),
            Value::Tensor(Tensor::from_array(Array1::from(self.n_voxels.clone()))),
        );
        for (k, v) in [
            ("mean", &self.mean),
            ("median", &self.median),
            ("max", &self.max),
        ] {
            data.insert(
                k.into(),
                Value::Tensor(Tensor::from_array(Array1::from(v.clone()))),
            );
        }
        let mut m = Map::new();
        m.insert(
            "columns".into(),
            Value::List(cols.iter().map(|&c| Value::from(c)).collect()),
        );
        m.insert("data".into(), Value::Map(data));
        Value::Map(m)
    }
}

/// Z-score each column across rows (population sd, ddof 0), in f64. A constant column is an
/// error (`name(c)` says which voxel) or becomes 0, by `constant`.
pub fn zscore(
    a: ArrayView2<f64>,
    constant: Constant,
    name: &dyn Fn(usize) -> String,
) -> Result<Array2<f64>> {
    let (n, v) = a.dim();
    ensure!(
        n >= 2,
        "z-scoring across stimuli needs at least 2 rows, got {n}"
    );
    let mut out = Array2::<f64>::zeros((n, v));
    for c in 0..v {
        let col = a.column(c);
        let mean = col.sum() / n as f64;
        let var = col.iter().map(|&x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let sd = var.sqrt();
        if !sd.is_finite() {
            bail!("{} has NaN or infinite values: cannot z-score it", name(c));
        }
        if sd <= 1e-12 * (1.0 + mean.abs()) {
            match constant {
                Constant::Error => bail!(
                    "{} has the same value ({mean}) for every stimulus: its z-score is undefined; drop it (a tighter mask) or pass constant: \"zero\"",
                    name(c)
                ),
                Constant::Zero => continue,
            }
        }
        for (o, &x) in out.column_mut(c).iter_mut().zip(col.iter()) {
            *o = (x - mean) / sd;
        }
    }
    Ok(out)
}

/// Stimulus labels from a list of strings (numbers are written out).
pub fn labels_from_value(v: &Value, what: &str) -> Result<Vec<String>> {
    match v {
        Value::List(l) => l
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::Str(s) => Ok(s.clone()),
                Value::Int(n) => Ok(n.to_string()),
                Value::Float(f) => Ok(f.to_string()),
                other => bail!("{what}[{i}] must be a string, got {}", other.type_name()),
            })
            .collect(),
        Value::Tensor(t) => Ok(t
            .to_f64()?
            .iter()
            .map(|x| {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    format!("{}", *x as i64)
                } else {
                    x.to_string()
                }
            })
            .collect()),
        other => bail!("{what} must be a list of names, got {}", other.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, Array4};

    fn small() -> Dataset {
        // 4 rows, 3 voxels on a 2×2×2 grid.
        Dataset {
            name: "s".into(),
            data: arr2(&[
                [1.0, 2.0, 5.0],
                [3.0, 4.0, 5.0],
                [5.0, 0.0, 5.0],
                [7.0, 1.0, 5.0],
            ]),
            coords: arr2(&[[0, 0, 0], [1, 0, 1], [1, 1, 1]]),
            shape: [2, 2, 2],
            affine: Array2::eye(4),
            rois: vec![
                ("A".into(), vec![true, true, false]),
                ("B".into(), vec![false, false, true]),
            ],
            stimuli: vec!["b".into(), "a".into(), "b".into(), "c".into()],
            runs: Some(vec![1, 1, 2, 2]),
        }
    }

    #[test]
    fn align_averages_repeats_in_the_given_order() {
        let d = small();
        let s: Vec<String> = ["c", "b", "a"].iter().map(|x| x.to_string()).collect();
        let a = d.align(&s).unwrap();
        // c = row 3; b = mean of rows 0 and 2; a = row 1.
        assert_eq!(
            a.data,
            arr2(&[[7.0, 1.0, 5.0], [3.0, 1.0, 5.0], [3.0, 4.0, 5.0]])
        );
        assert_eq!(a.stimuli, s);
        assert_eq!(a.runs, None, "b's rows come from runs 1 and 2");
        let one = d.align(&["a".to_string(), "c".to_string()]).unwrap();
        assert_eq!(one.runs, Some(vec![1, 2]));
        let e = d
            .align(&["a".into(), "x".into(), "y".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2 of the 3 stimuli") && e.contains("'x', 'y'"),
            "{e}"
        );
    }

    #[test]
    fn zscore_gives_mean_0_sd_1_and_names_constant_voxels() {
        let d = small();
        let e = d.zscore(Constant::Error).unwrap_err().to_string();
        assert!(
            e.contains("voxel 2 at (i, j, k) = (1, 1, 1)") && e.contains("constant"),
            "{e}"
        );
        let z = d.zscore(Constant::Zero).unwrap();
        for c in 0..2 {
            let col = z.data.column(c);
            let m: f64 = col.iter().map(|&x| x as f64).sum::<f64>() / 4.0;
            let v: f64 = col.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / 4.0;
            assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5, "{m} {v}");
        }
        assert!(z.data.column(2).iter().all(|&x| x == 0.0));
        // Hand value: column 0 = 1, 3, 5, 7: mean 4, population sd sqrt(5).
        assert!((z.data[[0, 0]] as f64 - (-3.0 / 5f64.sqrt())).abs() < 1e-6);
    }

    #[test]
    fn nan_voxels_are_reported_or_dropped() {
        let mut d = small();
        d.data[[2, 1]] = f32::NAN;
        let e = d
            .clone()
            .check_nan(NanPolicy::Error)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1 of 3 voxels") && e.contains("(1, 0, 1)") && e.contains("nan: \"drop\""),
            "{e}"
        );
        let dropped = d.check_nan(NanPolicy::Drop).unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(d.n_voxels(), 2);
        assert_eq!(d.coords, arr2(&[[0, 0, 0], [1, 1, 1]]));
        assert_eq!(d.rois[0].1, vec![true, false]);
    }

    fn vol4(shape: [usize; 4]) -> Volume {
        let a = Array4::<f32>::from_shape_fn(shape, |(i, j, k, t)| {
            1.0 + (i * 100 + j * 10 + k) as f32 + t as f32 * 0.5
        });
        Volume {
            data: Tensor::from_array(a),
            affine: Array2::eye(4),
        }
    }

    #[test]
    fn nifti_mask_shape_mismatch_and_empty_roi_are_errors() {
        let series = vol4([3, 4, 5, 2]);
        let bad_mask = Volume {
            data: Tensor::from_array(Array3::<u8>::ones((3, 4, 6))),
            affine: Array2::eye(4),
        };
        let e = Dataset::from_nifti("s", &[series], Some(&bad_mask), NiftiRois::None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[3, 4, 6]") && e.contains("[3, 4, 5]"), "{e}");

        let series = vol4([3, 4, 5, 2]);
        let mut m = Array3::<u8>::zeros((3, 4, 5));
        m[[0, 1, 2]] = 1;
        m[[2, 3, 4]] = 1;
        let mask = Volume {
            data: Tensor::from_array(m),
            affine: Array2::eye(4),
        };
        let mut labels = Array3::<i64>::zeros((3, 4, 5));
        labels[[0, 1, 2]] = 1;
        labels[[1, 1, 1]] = 2; // outside the mask
        let rois = NiftiRois::Labels {
            volume: Volume {
                data: Tensor::from_array(labels.clone()),
                affine: Array2::eye(4),
            },
            names: vec![(1, "V1".into()), (2, "FFA".into())],
        };
        let e = Dataset::from_nifti("s", std::slice::from_ref(&series), Some(&mask), rois)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'FFA'") && e.contains("no voxels"), "{e}");
        let rois = NiftiRois::Labels {
            volume: Volume {
                data: Tensor::from_array(labels),
                affine: Array2::eye(4),
            },
            names: vec![(1, "V1".into())],
        };
        let d = Dataset::from_nifti("s", &[series], Some(&mask), rois).unwrap();
        assert_eq!(d.data.dim(), (2, 2));
        assert_eq!(d.coords, arr2(&[[0, 1, 2], [2, 3, 4]]));
        assert_eq!(d.data[[1, 1]], 1.0 + 234.0 + 0.5);
        assert_eq!(d.rois, vec![("V1".to_string(), vec![true, false])]);
        assert_eq!(d.stimuli, vec!["0", "1"]);
    }

    #[test]
    fn value_round_trip_and_volume() {
        let d = small();
        let back = Dataset::from_value(&d.to_value()).unwrap();
        assert_eq!(back.data, d.data);
        assert_eq!(back.coords, d.coords);
        assert_eq!(back.rois, d.rois);
        assert_eq!(back.stimuli, d.stimuli);
        assert_eq!(back.runs, d.runs);
        assert_eq!(back.shape, d.shape);
        let vol = d.to_volume(&[1.0, 2.0, 3.0], f32::NAN).unwrap();
        assert_eq!(vol[[1, 0, 1]], 2.0);
        assert!(vol[[0, 1, 0]].is_nan());
        let e = d.to_volume(&[1.0], 0.0).unwrap_err().to_string();
        assert!(e.contains("1 values for 3 voxels"), "{e}");
        let t = d.roi_table(&[1.0, 3.0, 10.0]).unwrap();
        assert_eq!(t.n_voxels, vec![2, 1]);
        assert_eq!(t.mean, vec![2.0, 10.0]);
        assert_eq!(t.median, vec![2.0, 10.0]);
        assert_eq!(t.max, vec![3.0, 10.0]);
        let mut e = d.clone();
        e.rois.push(("C".into(), vec![false; 3]));
        let msg = e.roi("C").unwrap_err().to_string();
        assert!(msg.contains("'C' has no voxels"), "{msg}");
        let msg = e.roi("Z").unwrap_err().to_string();
        assert!(msg.contains("'A'") && msg.contains("'B'"), "{msg}");
        let msg = e.roi_table(&[0.0; 3]).unwrap_err().to_string();
        assert!(msg.contains("'C'"), "{msg}");
        let mut bad = d.to_value();
        if let Value::Map(m) = &mut bad {
            m.insert("stimuli".into(), Value::List(vec![Value::from("x")]));
        }
        let msg = Dataset::from_value(&bad).unwrap_err().to_string();
        assert!(msg.contains("1 stimulus labels for 4 rows"), "{msg}");
    }

    #[test]
    fn bdata_form_round_trips_and_reads_mm_coordinates() {
        let mut d = small();
        d.affine = arr2(&[
            [-3.0, 0.0, 0.0, 90.0],
            [0.0, 3.0, 0.0, -126.0],
            [0.0, 0.0, 3.0, -72.0],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        let b = d.to_bdata().unwrap();
        assert_eq!(b.columns_of("VoxelData"), vec![0, 1, 2]);
        assert_eq!(b.columns_of("stimulus_name"), vec![3]);
        assert_eq!(b.columns_of("Run"), vec![4]);
        assert_eq!(
            b.vmap["stimulus_name"],
            vec![
                (1.0, "b".to_string()),
                (2.0, "a".to_string()),
                (3.0, "c".to_string())
            ]
        );
        let mut notes = Vec::new();
        let back = Dataset::from_bdata("s", &b, None, None, &mut notes).unwrap();
        assert_eq!(back.data, d.data);
        assert_eq!(back.coords, d.coords);
        assert_eq!(back.affine, d.affine);
        assert_eq!(back.shape, d.shape);
        assert_eq!(back.rois, d.rois);
        assert_eq!(back.stimuli, d.stimuli);
        assert_eq!(back.runs, d.runs);
        assert!(notes.is_empty(), "{notes:?}");

        // Both indices and mm, no header (as bdpy writes): the affine is fitted, given four
        // voxels that are not in one plane; with three it cannot be, which is said.
        let mut both = b.clone();
        both.header.clear();
        let back = Dataset::from_bdata("s", &both, None, None, &mut notes).unwrap();
        assert_eq!(back.affine, Array2::<f64>::eye(4));
        assert_eq!(notes.len(), 1, "{notes:?}");
        notes.clear();
        let mut d4 = d.clone();
        d4.data = arr2(&[
            [1.0, 2.0, 5.0, 0.5],
            [3.0, 4.0, 5.0, 1.5],
            [5.0, 0.0, 5.0, 2.5],
            [7.0, 1.0, 5.0, 3.5],
        ]);
        d4.coords = arr2(&[[0, 0, 0], [1, 0, 1], [1, 1, 1], [0, 0, 1]]);
        d4.rois = vec![("A".into(), vec![true, true, false, false])];
        let mut both = d4.to_bdata().unwrap();
        both.header.clear();
        let back = Dataset::from_bdata("s", &both, None, None, &mut notes).unwrap();
        assert!(
            affines_close(&back.affine, &d.affine)
                && (&back.affine - &d.affine).iter().all(|x| x.abs() < 1e-9),
            "{:?}",
            back.affine
        );
        assert_eq!(back.shape, d.shape, "the coordinates' extent");
        assert!(notes.is_empty(), "{notes:?}");

        // Only mm coordinates and no header: the grid is inferred from the spacing.
        let mut mm = b.clone();
        mm.header.clear();
        for k in ["voxel_i", "voxel_j", "voxel_k"] {
            let r = mm.key_index(k).unwrap();
            mm.keys[r] = format!("old_{k}_unused");
            mm.values.row_mut(r).fill(f64::NAN);
        }
        mm.vmap.clear();
        let back = Dataset::from_bdata("s", &mm, None, Some(&["B".into()]), &mut notes).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        // x decreases with i (affine -3): the inferred grid has +3 mm steps from the minimum.
        assert_eq!(back.coords, arr2(&[[1, 0, 0], [0, 0, 1], [0, 1, 1]]));
        assert_eq!(
            back.stimuli,
            vec!["1", "2", "1", "3"],
            "numbers without a vmap"
        );
        assert_eq!(back.rois.len(), 1);
        let e = Dataset::from_bdata("s", &mm, None, Some(&["V9".into()]), &mut notes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no ROI 'V9'") && e.contains("'A'"), "{e}");
    }
}
