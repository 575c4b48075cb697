//! The in-memory fMRI dataset: one subject's responses (stimuli × voxels, f32) with the voxel
//! coordinates, the grid and its affine, named ROIs and the stimulus label of every row.
//!
//! Every source (4-D or 3-D NIfTI plus a mask, npz/npy matrices with coordinates, the Kamitani
//! lab's BData HDF5; see [`super::format`]) ends in the same [`Dataset`], and its
//! [`Dataset::to_value`] form is the synthetic world's subject map
//! (`synth::world(...).subjects[i]`), so a synthetic subject is a valid dataset value and every
//! `fmri::` function takes either.
//!
//! The matrix is a shared handle, not a copy: at the study's scale (2,180 stimuli × 50,000
//! voxels) it is 0.44 GB, and every `fmri::` call reads its dataset from the script's map and
//! writes one back. [`Dataset::data`] is an `ArcArray2`, the storage a CPU [`Tensor`] holds, so
//! reading the map ([`Dataset::from_value`]), cloning the dataset and writing the map
//! ([`Dataset::to_value`]) share one buffer; only what changes the values (z-scoring, averaging
//! or reordering rows, dropping voxels) allocates a new matrix.
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
use super::format::{affines_close, fmt_affine, spatial};
use crate::error::Result;
use crate::io::nifti::Volume;
use crate::tensor::{CpuData, Tensor};
use crate::{bail, ensure, Choice};
use ndarray::{ArcArray2, Array2, Array3, ArrayView2, Axis};
use std::collections::HashMap;

// The paths other code names (`fmri::dataset::…`) from before the formats, the operations and
// the Value form moved to their own modules.
pub use super::format::bdata::BDATA_KNOWN_KEYS;
pub use super::format::nifti::NiftiRois;
pub use super::ops::{zscore, Real, RoiTable};
pub use super::value::labels_from_value;

/// One subject's fMRI data.
///
/// `data` and `coords` are shared handles (see the module documentation): `clone` is O(1), and
/// writing through one (`data[[r, c]] = x`) copies the buffer first if another handle shares it.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The subject's name, in messages and file names.
    pub name: String,
    /// stimuli (rows) × voxels.
    pub data: ArcArray2<f32>,
    /// voxels × 3: the (i, j, k) index of each voxel in the grid.
    pub coords: ArcArray2<i64>,
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

/// What to do with voxels holding NaN or infinite values (the `nan` option of `fmri::load`).
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NanPolicy {
    /// names the count and the first voxel
    #[default]
    Error,
    /// drops them and logs how many
    Drop,
}

/// What `zscore` does with a voxel whose values are all equal (the `constant` option).
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Constant {
    /// an error naming the voxel (a constant voxel is usually a masking mistake)
    #[default]
    Error,
    /// its column becomes 0
    Zero,
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

/// The smallest grid holding every coordinate (negative ones count as 0; `validate` refuses
/// them), for data that comes without a grid.
pub(crate) fn extent(coords: ArrayView2<i64>) -> [usize; 3] {
    let mut s = [1usize; 3];
    for row in coords.outer_iter() {
        for d in 0..3 {
            s[d] = s[d].max(row[d].max(0) as usize + 1);
        }
    }
    s
}

/// Which elements of a tensor are non-zero (NaN counts), in row-major order, read in the
/// tensor's own dtype: masks and ROI flags are u8, and widening them to f64 first (what
/// `to_f64` does) would copy them at eight times their size to ask the same question.
pub(crate) fn nonzero(t: &Tensor) -> Result<Vec<bool>> {
    Ok(match t.cpu_data()? {
        CpuData::F32(a) => a.iter().map(|&x| x != 0.0).collect(),
        CpuData::F64(a) => a.iter().map(|&x| x != 0.0).collect(),
        CpuData::I64(a) => a.iter().map(|&x| x != 0).collect(),
        CpuData::U8(a) => a.iter().map(|&x| x != 0).collect(),
        CpuData::Bool(a) => a.iter().copied().collect(),
    })
}

impl Dataset {
    /// The number of rows (stimuli).
    pub fn n_stimuli(&self) -> usize {
        self.data.nrows()
    }

    /// The number of columns (voxels).
    pub fn n_voxels(&self) -> usize {
        self.data.ncols()
    }

    /// The grid index of voxel `c`. Only valid after [`Dataset::validate`] (which refuses
    /// negative coordinates).
    pub fn ijk(&self, c: usize) -> [usize; 3] {
        [
            self.coords[[c, 0]] as usize,
            self.coords[[c, 1]] as usize,
            self.coords[[c, 2]] as usize,
        ]
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
            m[self.ijk(c)] = 1;
        }
        m
    }

    /// The ROI names, in order.
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

    /// Keep only the voxels flagged in `keep` (data, coordinates and ROIs). Keeping every voxel
    /// changes nothing and copies nothing.
    pub fn select_voxels(&mut self, keep: &[bool]) {
        if keep.len() == self.n_voxels() && keep.iter().all(|&k| k) {
            return;
        }
        let idx: Vec<usize> = (0..keep.len()).filter(|&c| keep[c]).collect();
        self.data = self.data.select(Axis(1), &idx).into_shared();
        self.coords = self.coords.select(Axis(0), &idx).into_shared();
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

    /// From a matrix and coordinates (an npy matrix, or an npz's members through
    /// [`Dataset::from_npz`]): `shape` and `affine` when the source has them, `rois` and `runs`
    /// likewise. `grid` (a mask) gives the shape and affine (those given must agree with it),
    /// and every voxel must lie inside it; without a grid the shape is the coordinates' extent
    /// and the affine the identity. An f32 matrix on the CPU is shared, not copied.
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
            .map_err(|e| e.context(name))?;
        let coords = coords
            .matrix::<i64>("coords (voxels × 3)")
            .map_err(|e| e.context(name))?;
        ensure!(
            coords.ncols() == 3 && coords.nrows() == data.ncols(),
            "{name}: coords must be voxels × 3 = {} × 3 (one row per data column), got {:?}",
            data.ncols(),
            coords.dim()
        );
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
                shape.unwrap_or_else(|| extent(coords.view())),
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
            // Every voxel must be inside the mask (a 4-D mask's first volume).
            let inside = nonzero(&g.data)?;
            let s = g.data.shape();
            let t = if s.len() == 4 { s[3] } else { 1 };
            for c in 0..ds.n_voxels() {
                let [i, j, k] = ds.ijk(c);
                ensure!(
                    inside[((i * s[1] + j) * s[2] + k) * t],
                    "{name}: voxel {c} at (i, j, k) = {} lies outside the mask",
                    ds.voxel(c)
                );
            }
        }
        Ok(ds)
    }
}
