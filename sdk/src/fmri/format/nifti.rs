//! NIfTI volumes -> a dataset: 4-D series (t = stimulus) and/or 3-D maps, a mask, and ROIs as a
//! label volume or binary volumes. Voxels come in i-j-k (C) order, as nibabel's
//! `np.nonzero(mask)` gives them. (Brain maps go the other way through
//! [`Dataset::to_volume`] and `io::nifti::write_nifti`.)
use super::{affines_close, fmt_affine, spatial};
use crate::ensure;
use crate::error::{Error, Result};
use crate::fmri::dataset::{nonzero, row_labels, Dataset};
use crate::io::nifti::Volume;
use ndarray::{Array2, Array3};

/// ROI definitions that come with NIfTI data.
pub enum NiftiRois {
    /// No ROIs.
    None,
    /// A label volume (0 = none) and the names of its labels, in order.
    Labels {
        /// The label of each grid position.
        volume: Volume,
        /// `(label, ROI name)`, in the order the ROIs are listed.
        names: Vec<(i64, String)>,
    },
    /// One binary volume (non-zero = in) per ROI.
    Binary(Vec<(String, Volume)>),
}

impl Dataset {
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
                Array3::from_shape_vec(shape, nonzero(&m.data)?)
                    .map_err(|e| Error::msg(e.to_string()))?
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
            data: data.into_shared(),
            coords: coords.into_shared(),
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

    /// The ROI flags of the dataset's voxels from NIfTI ROI volumes on its grid.
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
                    let [i, j, k] = self.ijk(c);
                    a[[i, j, k]]
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
}
