//! What scripts do with a dataset: align its rows to the study's stimuli, z-score its voxels,
//! and turn per-voxel results into brain volumes and ROI tables.
//!
//! Each operation allocates a new stimuli × voxels matrix only when its values change: aligning
//! to the order the rows already have shares the matrix, and z-scoring reads the f32 data in
//! place (no f64 copy) and writes one new matrix.
use super::dataset::{first_few, Constant, Dataset};
use crate::ensure;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::value::{Map, Value};
use ndarray::{s, Array1, Array2, Array3, ArrayView2, Zip};
use rayon::prelude::*;
use std::collections::HashMap;

impl Dataset {
    /// Rows reordered to `stimuli` by label, repeated rows of a stimulus averaged. Labels not in
    /// `stimuli` are dropped. Runs are kept when every stimulus's rows come from one run. When
    /// `stimuli` is the rows' own order (each label one row, in place) nothing changes, and the
    /// result shares this dataset's matrix.
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
        let order: Vec<&[usize]> = stimuli.iter().map(|s| &rows[s.as_str()][..]).collect();
        let identity =
            order.len() == self.n_stimuli() && order.iter().enumerate().all(|(i, rs)| rs == &[i]);
        if identity {
            return Ok(self.clone());
        }
        let v = self.n_voxels();
        let mut out = Array2::<f32>::zeros((stimuli.len(), v));
        let mut acc = vec![0f64; v];
        let mut runs = Vec::new();
        let mut runs_ok = self.runs.is_some();
        for (i, rs) in order.iter().enumerate() {
            if let [r] = rs {
                // x as f64 / 1 as f32 is x: a single row is copied as it is.
                out.row_mut(i).assign(&self.data.row(*r));
            } else {
                acc.iter_mut().for_each(|a| *a = 0.0);
                for &r in rs.iter() {
                    for (a, x) in acc.iter_mut().zip(self.data.row(r)) {
                        *a += *x as f64;
                    }
                }
                let k = rs.len() as f64;
                for (o, a) in out.row_mut(i).iter_mut().zip(&acc) {
                    *o = (*a / k) as f32;
                }
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
            data: out.into_shared(),
            coords: self.coords.clone(),
            shape: self.shape,
            affine: self.affine.clone(),
            rois: self.rois.clone(),
            stimuli: stimuli.to_vec(),
            runs: if runs_ok { Some(runs) } else { None },
        })
    }

    /// Z-scored per voxel across stimuli (see [`zscore`]): one new matrix, the rest shared.
    pub fn zscore(&self, constant: Constant) -> Result<Dataset> {
        let data = zscore(self.data.view(), constant, &|c| {
            format!("{}: voxel {c} at (i, j, k) = {}", self.name, self.voxel(c))
        })?;
        Ok(Dataset {
            data: data.into_shared(),
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
            vol[self.ijk(c)] = x;
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

/// The per-ROI summary of a per-voxel vector.
#[derive(Default, Debug, Clone)]
pub struct RoiTable {
    /// The ROI names, in the dataset's order.
    pub roi: Vec<String>,
    /// How many voxels each ROI has.
    pub n_voxels: Vec<i64>,
    /// The mean over each ROI's voxels (NaN values left out).
    pub mean: Vec<f64>,
    /// The median over each ROI's voxels (NaN values left out).
    pub median: Vec<f64>,
    /// The largest value in each ROI (NaN values left out).
    pub max: Vec<f64>,
}

impl RoiTable {
    /// `#{columns: ["roi", "n_voxels", "mean", "median", "max"], data: #{...}}`: the table form
    /// `io::load` gives CSVs and `io::save` writes.
    pub fn to_value(&self) -> Value {
        let cols = ["roi", "n_voxels", "mean", "median", "max"];
        let mut data = Map::new();
        data.insert("roi".into(), super::value::strings(&self.roi));
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

/// The element types [`zscore`] reads and writes: the statistics are computed in f64 either
/// way, so an f32 matrix is read as it is rather than widened to an f64 copy first.
pub trait Real: Copy + Send + Sync + Into<f64> + 'static {
    /// The result, narrowed from f64 (a plain `as` cast, as the f64 kernel's caller did).
    fn from_f64(x: f64) -> Self;
    /// Whether the f64 kernel this one replaces got this type through a widening copy (so its
    /// columns had that copy's layout: see [`zscore`]).
    const WIDENED: bool;
}

impl Real for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    const WIDENED: bool = true;
}

impl Real for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    const WIDENED: bool = false;
}

/// Why a column cannot be z-scored (found in parallel, worded in order afterwards).
enum Bad {
    NonFinite(usize),
    Constant(usize, f64),
}

/// A column's mean and population sd, `None` for a constant column set to 0.
type Stats = Option<(f64, f64)>;

/// ndarray's `sum` over a contiguous slice: eight partial sums, then the tail (the order decides
/// the rounding, and results must not change with the kernel).
fn unrolled_sum(mut xs: &[f64]) -> f64 {
    let mut acc = 0.0;
    let mut p = [0.0f64; 8];
    while xs.len() >= 8 {
        for (q, x) in p.iter_mut().zip(&xs[..8]) {
            *q += *x;
        }
        xs = &xs[8..];
    }
    for i in 0..4 {
        acc += p[i] + p[i + 4];
    }
    for x in xs.iter().take(7) {
        acc += *x;
    }
    acc
}

/// Z-score each column across rows (population sd, ddof 0), in f64, into a new matrix of the
/// same element type. A constant column is an error (`name(c)` says which voxel) or becomes 0,
/// by `constant`.
///
/// The numbers are those of the f64 kernel this replaces, bit for bit: a column's sum runs in
/// row order, or, over a column contiguous in memory (in the f64 matrix that kernel saw: an f32
/// input was widened by ndarray's `mapv`, which keeps the strides of data contiguous in memory
/// and lays out the rest in row-major order), eightfold as ndarray's `sum` does.
pub fn zscore<T: Real>(
    a: ArrayView2<T>,
    constant: Constant,
    name: &dyn Fn(usize) -> String,
) -> Result<Array2<T>> {
    let (n, v) = a.dim();
    ensure!(
        n >= 2,
        "z-scoring across stimuli needs at least 2 rows, got {n}"
    );
    let row_stride = if T::WIDENED && a.as_slice_memory_order().is_none() {
        v as isize
    } else {
        a.strides()[0]
    };
    let stats = column_stats(a, constant, row_stride).map_err(|bad| match bad {
        Bad::NonFinite(c) => Error::msg(format!(
            "{} has NaN or infinite values: cannot z-score it",
            name(c)
        )),
        Bad::Constant(c, mean) => Error::msg(format!(
            "{} has the same value ({mean}) for every stimulus: its z-score is undefined; drop it (a tighter mask) or pass constant: \"zero\"",
            name(c)
        )),
    })?;
    let mut out = Array2::<T>::from_elem((n, v), T::from_f64(0.0));
    Zip::from(out.rows_mut())
        .and(a.rows())
        .par_for_each(|mut o, x| {
            for ((o, &x), st) in o.iter_mut().zip(x.iter()).zip(&stats) {
                if let Some((mean, sd)) = *st {
                    *o = T::from_f64((x.into() - mean) / sd);
                }
            }
        });
    Ok(out)
}

/// Each column's statistics, in blocks of columns gathered row by row (a column of a row-major
/// matrix is strided; a block of them is read a cache line at a time). The first bad column,
/// in column order, is the error.
fn column_stats<T: Real>(
    a: ArrayView2<T>,
    constant: Constant,
    row_stride: isize,
) -> std::result::Result<Vec<Stats>, Bad> {
    const BLOCK: usize = 64;
    let (n, v) = a.dim();
    let contiguous = row_stride == 1 || row_stride == -1;
    let blocks: Vec<std::result::Result<Vec<Stats>, Bad>> = (0..v.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let c0 = b * BLOCK;
            let block = a.slice(s![.., c0..(c0 + BLOCK).min(v)]);
            let w = block.ncols();
            let mut cols = vec![0f64; n * w];
            for (r, row) in block.rows().into_iter().enumerate() {
                for (j, &x) in row.iter().enumerate() {
                    cols[j * n + r] = x.into();
                }
            }
            let mut memory_order = Vec::new();
            cols.chunks(n)
                .enumerate()
                .map(|(j, col)| {
                    let sum = if !contiguous {
                        0.0 + col.iter().fold(0.0, |acc, &x| acc + x)
                    } else if row_stride == 1 {
                        unrolled_sum(col)
                    } else {
                        memory_order.clear();
                        memory_order.extend(col.iter().rev());
                        unrolled_sum(&memory_order)
                    };
                    let mean = sum / n as f64;
                    let var = col.iter().map(|&x| (x - mean).powi(2)).sum::<f64>() / n as f64;
                    let sd = var.sqrt();
                    if !sd.is_finite() {
                        return Err(Bad::NonFinite(c0 + j));
                    }
                    if sd <= 1e-12 * (1.0 + mean.abs()) {
                        return match constant {
                            Constant::Error => Err(Bad::Constant(c0 + j, mean)),
                            Constant::Zero => Ok(None),
                        };
                    }
                    Ok(Some((mean, sd)))
                })
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(v);
    for b in blocks {
        out.extend(b?);
    }
    Ok(out)
}

/// The old kernel, kept to check the new one against bit for bit.
#[cfg(test)]
pub(crate) fn zscore_f64_reference(
    a: ArrayView2<f64>,
    constant: Constant,
) -> std::result::Result<Array2<f64>, String> {
    let (n, v) = a.dim();
    let mut out = Array2::<f64>::zeros((n, v));
    for c in 0..v {
        let col = a.column(c);
        let mean = col.sum() / n as f64;
        let var = col.iter().map(|&x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let sd = var.sqrt();
        if !sd.is_finite() {
            return Err(format!("{c} not finite"));
        }
        if sd <= 1e-12 * (1.0 + mean.abs()) {
            match constant {
                Constant::Error => return Err(format!("{c} constant")),
                Constant::Zero => continue,
            }
        }
        for (o, &x) in out.column_mut(c).iter_mut().zip(col.iter()) {
            *o = (x - mean) / sd;
        }
    }
    Ok(out)
}
