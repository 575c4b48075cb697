//! NIfTI-1 volumes (`.nii`, `.nii.gz`) through the `nifti` crate: 3-D maps, 4-D stimulus
//! series, masks and label volumes, with the voxel-to-world affine.
//!
//! Arrays are indexed `[i, j, k(, t)]` in voxel order, as nibabel shows them.
use crate::error::{Error, Result};
use crate::tensor::{CpuData, DType, Tensor};
use crate::value::{Map, Value};
use crate::{bail, ensure};
use ndarray::Array2;
use nifti::{IntoNdArray, NiftiHeader, NiftiObject, ReaderOptions};
use std::path::Path;

/// A volume and its affine (voxel indices -> world millimetres).
pub struct Volume {
    /// The image, as nibabel's `get_fdata()` orders it.
    pub data: Tensor,
    /// The voxel-to-millimetre affine (sform, else qform).
    pub affine: Array2<f64>,
}

impl Volume {
    /// `#{data, affine}` for scripts.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "shape".into(),
            Value::List(self.data.shape().into_iter().map(Value::from).collect()),
        );
        m.insert("data".into(), Value::Tensor(self.data.clone()));
        m.insert(
            "affine".into(),
            Value::Tensor(Tensor::from_array(self.affine.clone())),
        );
        Value::Map(m)
    }
}

fn nerr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::msg(format!(
        "{}: not a readable NIfTI file: {e}",
        path.display()
    ))
}

/// Read a volume. Integer and byte data come back as i64 (labels, masks), everything else as
/// f32 with the header's scaling applied.
pub fn read_nifti(path: &Path) -> Result<Volume> {
    ensure!(path.exists(), "{}: no such file", path.display());
    let obj = ReaderOptions::new()
        .read_file(path)
        .map_err(|e| nerr(path, e))?;
    let h = obj.header().clone();
    let affine = header_affine(&h);
    let integer = matches!(h.datatype, 2 | 4 | 8 | 256 | 512 | 768 | 1024 | 1280)
        && h.scl_slope.abs() <= 1.0
        && h.scl_inter == 0.0;
    let vol = obj.into_volume();
    let data = if integer && (h.scl_slope == 1.0 || h.scl_slope == 0.0) {
        Tensor::from_array(vol.into_ndarray::<f64>().map_err(|e| nerr(path, e))?).astype(DType::I64)
    } else {
        Tensor::from_array(vol.into_ndarray::<f32>().map_err(|e| nerr(path, e))?)
    };
    Ok(Volume { data, affine })
}

/// The voxel-to-world affine, by the NIfTI-1 rules: the sform when its code is set, else the
/// qform (quaternion), else the voxel sizes alone. Written out here because the crate's own
/// version needs nalgebra, a large dependency for sixteen numbers.
pub fn header_affine(h: &NiftiHeader) -> Array2<f64> {
    let mut a = Array2::<f64>::eye(4);
    if h.sform_code != 0 {
        for (i, row) in [h.srow_x, h.srow_y, h.srow_z].iter().enumerate() {
            for j in 0..4 {
                a[[i, j]] = row[j] as f64;
            }
        }
    } else if h.qform_code != 0 {
        let (b, c, d) = (h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
        let aa = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let r = [
            [
                aa * aa + b * b - c * c - d * d,
                2.0 * (b * c - aa * d),
                2.0 * (b * d + aa * c),
            ],
            [
                2.0 * (b * c + aa * d),
                aa * aa + c * c - b * b - d * d,
                2.0 * (c * d - aa * b),
            ],
            [
                2.0 * (b * d - aa * c),
                2.0 * (c * d + aa * b),
                aa * aa + d * d - b * b - c * c,
            ],
        ];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let zoom = [
            h.pixdim[1] as f64,
            h.pixdim[2] as f64,
            h.pixdim[3] as f64 * qfac,
        ];
        for i in 0..3 {
            for j in 0..3 {
                a[[i, j]] = r[i][j] * zoom[j];
            }
        }
        a[[0, 3]] = h.quatern_x as f64;
        a[[1, 3]] = h.quatern_y as f64;
        a[[2, 3]] = h.quatern_z as f64;
    } else {
        for i in 0..3 {
            a[[i, i]] = h.pixdim[i + 1] as f64;
        }
    }
    a
}

/// Write a 3-D or 4-D tensor with an affine (written as the sform, code 1 "scanner").
/// f64 stays f64, other floats f32, bool/u8 u8, i64 i32 (labels; values must fit).
pub fn write_nifti(data: &Tensor, affine: &Array2<f64>, path: &Path) -> Result<()> {
    let shape = data.shape();
    ensure!(
        (1..=7).contains(&shape.len()),
        "NIfTI holds 1 to 7 dimensions, got shape {shape:?}"
    );
    ensure!(
        affine.dim() == (4, 4),
        "the affine must be 4 × 4, got {:?}",
        affine.dim()
    );
    let mut h = NiftiHeader {
        sform_code: 1,
        qform_code: 0,
        ..NiftiHeader::default()
    };
    h.srow_x = [
        affine[[0, 0]] as f32,
        affine[[0, 1]] as f32,
        affine[[0, 2]] as f32,
        affine[[0, 3]] as f32,
    ];
    h.srow_y = [
        affine[[1, 0]] as f32,
        affine[[1, 1]] as f32,
        affine[[1, 2]] as f32,
        affine[[1, 3]] as f32,
    ];
    h.srow_z = [
        affine[[2, 0]] as f32,
        affine[[2, 1]] as f32,
        affine[[2, 2]] as f32,
        affine[[2, 3]] as f32,
    ];
    for (d, p) in h.pixdim.iter_mut().enumerate().skip(1).take(3) {
        let col = affine.column(d - 1);
        *p = (col[0] * col[0] + col[1] * col[1] + col[2] * col[2]).sqrt() as f32;
    }
    h.xyzt_units = 2; // millimetres
    h.descrip = b"emoscope".to_vec();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let lower = name.to_lowercase();
    ensure!(
        lower.ends_with(".nii") || lower.ends_with(".nii.gz"),
        "{}: NIfTI files end in .nii or .nii.gz",
        path.display()
    );
    let suffix = if lower.ends_with(".nii.gz") {
        ".nii.gz"
    } else {
        ".nii"
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // The nifti writer takes a path, so atomicity comes from writing a temporary name with the
    // same suffix and renaming it.
    // (The crate rewrites everything after the first dot of the stem, so the name has none.)
    let stem = name[..name.len() - suffix.len()].replace('.', "_");
    let tmp = dir.join(format!("_tmp_{}_{stem}{suffix}", std::process::id()));
    let opts = nifti::writer::WriterOptions::new(&tmp).reference_header(&h);
    let res = match data.cpu_data()? {
        CpuData::F64(a) => opts.write_nifti(&a.as_standard_layout()),
        CpuData::F32(a) => opts.write_nifti(&a.as_standard_layout()),
        CpuData::U8(a) => opts.write_nifti(&a.as_standard_layout()),
        CpuData::Bool(a) => opts.write_nifti(&a.mapv(u8::from)),
        CpuData::I64(a) => {
            if a.iter()
                .any(|&v| v < i32::MIN as i64 || v > i32::MAX as i64)
            {
                bail!(
                    "{}: integer values beyond the 32-bit range cannot be written",
                    path.display()
                );
            }
            opts.write_nifti(&a.mapv(|v| v as i32))
        }
    };
    match res {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| {
            Error::msg(format!(
                "cannot move the finished file to {}: {e}",
                path.display()
            ))
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            bail!("writing {}: {e}", path.display())
        }
    }
}

/// `io::save` of a map `#{data, affine}` (the affine defaults to the identity).
pub fn save_value(v: &Value, path: &Path) -> Result<()> {
    let (data, affine) = match v {
        Value::Tensor(t) => (t.clone(), Array2::eye(4)),
        Value::Map(m) => {
            let data = m
                .get("data")
                .ok_or_else(|| Error::msg("a NIfTI map needs a 'data' tensor"))?
                .to_tensor("data")?;
            let affine = match m.get("affine") {
                Some(a) => a.to_tensor("affine")?.matrix::<f64>("affine")?.to_owned(),
                None => Array2::eye(4),
            };
            (data, affine)
        }
        other => bail!(
            "saving {}: NIfTI holds a tensor or #{{data, affine}}, got {}",
            path.display(),
            other.type_name()
        ),
    };
    write_nifti(&data, &affine, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_values_and_affine() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.nii.gz");
        let data: Vec<f32> = (0..4 * 5 * 6 * 3).map(|x| (x as f32).sin()).collect();
        let t = Tensor::from_vec(data, &[4, 5, 6, 3]).unwrap();
        let affine = ndarray::arr2(&[
            [-3.0, 0.0, 0.0, 90.0],
            [0.0, 3.0, 0.0, -126.0],
            [0.0, 0.0, 3.0, -72.0],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        write_nifti(&t, &affine, &p).unwrap();
        let v = read_nifti(&p).unwrap();
        assert!(v.data.bit_equal(&t).unwrap(), "values survive exactly");
        assert_eq!(v.affine, affine);
        let labels = Tensor::from_vec((0..60i64).map(|x| x % 7).collect(), &[3, 4, 5]).unwrap();
        let q = dir.path().join("labels.nii");
        write_nifti(&labels, &affine, &q).unwrap();
        assert!(read_nifti(&q).unwrap().data.bit_equal(&labels).unwrap());
    }

    #[test]
    fn real_nifti_files_load() {
        let d = super::super::ratings::data_dir().join("nifti");
        let p = d.join("nitime_fmri1.nii.gz");
        if !p.exists() {
            eprintln!("SKIPPED: {} not found (set EMOSCOPE_DATA)", p.display());
            return;
        }
        let v = read_nifti(&p).unwrap();
        assert_eq!(v.data.shape(), vec![10, 10, 18, 40]);
        let e = read_nifti(&d.join("missing.nii"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
    }
}
