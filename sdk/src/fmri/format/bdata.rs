//! BData (the Kamitani lab's format, read and written by bdpy) <-> a dataset. The container
//! (the HDF5 file, its metadata table and value maps) is `io::bdata`; this module maps its
//! voxel columns, coordinates, ROI keys, stimulus labels and runs to a [`Dataset`] and back.
use super::fmt_affine;
use super::spatial;
use crate::error::{Error, Result};
use crate::fmri::dataset::{extent, first_few, row_labels, Dataset};
use crate::io::bdata::BData;
use crate::io::nifti::Volume;
use crate::{bail, ensure};
use ndarray::{Array1, Array2};
use std::collections::HashMap;

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

/// A BData number as a label (`1`, not `1.0`).
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
        // Straight to f32: selecting the voxel columns as f64 first would be a second matrix.
        let data = Array2::from_shape_fn((b.dataset.nrows(), vox.len()), |(r, c)| {
            b.dataset[[r, vox[c]]] as f32
        });
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
        let shape = match grid {
            Some(g) => spatial(g, "the mask")?,
            None => header_shape.unwrap_or_else(|| extent(coords.view())),
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
            data: data.into_shared(),
            coords: coords.into_shared(),
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
