//! A dataset's script form: the subject map `#{name, data, coords, rois, roi_names, affine,
//! mask, grid, stimuli, runs?}`, the synthetic world's subject keys plus the labels.
//!
//! Reading and writing the map share the data and coordinate tensors with the dataset (an f32
//! matrix on the CPU is not copied either way), so passing a 0.44 GB subject through an `fmri::`
//! call costs its small parts (labels, ROI flags, the mask), not its matrix.
use super::dataset::{extent, nonzero, row_labels, Dataset};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::value::{Map, Value};
use crate::{bail, ensure};
use ndarray::{Array1, Array2};

/// A list of strings as a script list.
pub(crate) fn strings(v: &[String]) -> Value {
    Value::List(v.iter().cloned().map(Value::Str).collect())
}

/// Three positive sizes from a `grid` entry.
fn grid_of(g: Vec<i64>, name: &str) -> Result<[usize; 3]> {
    ensure!(
        g.len() == 3 && g.iter().all(|&x| x > 0),
        "{name}: grid must be three positive sizes [x, y, z]"
    );
    Ok([g[0] as usize, g[1] as usize, g[2] as usize])
}

impl Dataset {
    /// The subject map: `#{name, data, coords, rois, roi_names, affine, mask, grid, stimuli,
    /// runs?}` (the synthetic world's subject keys plus the labels). `data` and `coords` share
    /// this dataset's buffers.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        self.write_into(&mut m);
        Value::Map(m)
    }

    /// The data matrix as a tensor handle (no copy).
    pub fn data_tensor(&self) -> Tensor {
        Tensor::from_shared(self.data.clone().into_dyn())
    }

    /// The coordinates as a tensor handle (no copy).
    pub fn coords_tensor(&self) -> Tensor {
        Tensor::from_shared(self.coords.clone().into_dyn())
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
        m.insert("data".into(), Value::Tensor(self.data_tensor()));
        m.insert("coords".into(), Value::Tensor(self.coords_tensor()));
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
    /// extent; the affine defaults to the identity. An f32 `data` and an i64 `coords` on the
    /// CPU are shared, not copied; other dtypes are converted.
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
            .map_err(|e| e.context(&name))?;
        let coords = need("coords")?
            .to_tensor("coords")?
            .matrix::<i64>("coords (voxels × 3)")
            .map_err(|e| e.context(&name))?;
        let mask = match m.get("mask") {
            Some(Value::Null) | None => None,
            Some(x) => Some(x.to_tensor("mask")?),
        };
        let shape = match m.get("grid") {
            Some(Value::List(g)) => grid_of(g.iter().filter_map(Value::as_i64).collect(), &name)?,
            Some(Value::Tensor(t)) => grid_of(t.to_i64()?.iter().copied().collect(), &name)?,
            _ => match &mask {
                Some(t) if t.ndim() == 3 => {
                    let s = t.shape();
                    [s[0], s[1], s[2]]
                }
                _ => extent(coords.view()),
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
                let flags = nonzero(&rm[&k].to_tensor(&format!("rois.{k}"))?)?;
                rois.push((k, flags));
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
            let inside = nonzero(&t)?;
            let count = inside.iter().filter(|&&x| x).count();
            ensure!(
                count == ds.n_voxels(),
                "{}: the mask has {count} voxels, the data {}: they must describe the same voxels",
                ds.name,
                ds.n_voxels()
            );
            for c in 0..ds.n_voxels() {
                let [i, j, k] = ds.ijk(c);
                ensure!(
                    inside[(i * s[1] + j) * s[2] + k],
                    "{}: voxel {c} at {} lies outside the mask",
                    ds.name,
                    ds.voxel(c)
                );
            }
        }
        Ok(ds)
    }
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
