//! npz members <-> a dataset: `data` (stimuli × voxels), `coords` (voxels × 3, i j k), optional
//! `affine` (4 × 4), `shape` (3 ints), `runs`, and one `roi_<name>` flag vector per ROI. npz
//! holds numbers only, so the stimulus labels are not kept. (A bare `.npy` matrix is read with
//! [`Dataset::from_matrix`].)
use crate::ensure;
use crate::error::{Error, Result};
use crate::fmri::dataset::{first_few, nonzero, Dataset};
use crate::io::nifti::Volume;
use crate::tensor::Tensor;
use crate::value::{Map, Value};
use ndarray::Array1;

impl Dataset {
    /// From npz members: `data` (stimuli × voxels), `coords` (voxels × 3), optional `affine`
    /// (4 × 4), `shape` (3 ints), `runs`, and `roi_<name>` flags. `grid` (from a mask) gives
    /// the shape and affine when the file has none; otherwise the shape is the coordinates'
    /// extent and the affine the identity. An f32 `data` member is shared, not copied.
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
                rois.push((r.to_string(), nonzero(&v.to_tensor(k)?)?));
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

    /// The npz members (see [`Dataset::from_npz`]): `data` and `coords` are this dataset's
    /// buffers, not copies.
    pub fn to_npz(&self) -> Map {
        let mut m = Map::new();
        m.insert("data".into(), Value::Tensor(self.data_tensor()));
        m.insert("coords".into(), Value::Tensor(self.coords_tensor()));
        m.insert(
            "affine".into(),
            Value::Tensor(Tensor::from_array(self.affine.clone())),
        );
        m.insert(
            "shape".into(),
            Value::Tensor(Tensor::from_array(Array1::from_iter(
                self.shape.iter().map(|&s| s as i64),
            ))),
        );
        if let Some(r) = &self.runs {
            m.insert(
                "runs".into(),
                Value::Tensor(Tensor::from_array(Array1::from(r.clone()))),
            );
        }
        for (n, flags) in &self.rois {
            m.insert(
                format!("roi_{n}"),
                Value::Tensor(Tensor::from_array(Array1::from_iter(
                    flags.iter().map(|&x| u8::from(x)),
                ))),
            );
        }
        m
    }
}
