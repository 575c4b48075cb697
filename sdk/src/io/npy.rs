//! numpy `.npy` and `.npz` (f32, f64, i64, u8, bool; other integer types read as i64).
//!
//! The data itself goes through ndarray-npy; we read the header first so that one call can
//! return whichever dtype the file holds, and so that a truncated file is reported with how
//! many bytes were expected.
use crate::error::{Error, Result, ResultExt};
use crate::tensor::{CpuData, Tensor};
use crate::value::{Map, Value};
use crate::{bail, ensure};
use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::io::{Cursor, Read, Write};
use std::path::Path;

struct Header {
    descr: String,
    shape: Vec<usize>,
    data_offset: usize,
}

fn parse_header(b: &[u8]) -> Result<Header> {
    ensure!(
        b.len() >= 10 && &b[..6] == b"\x93NUMPY",
        "not a .npy file (missing the \\x93NUMPY magic)"
    );
    let major = b[6];
    let (len, start) = match major {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 => {
            ensure!(b.len() >= 12, "truncated .npy header");
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
        v => bail!("unsupported .npy format version {v}"),
    };
    ensure!(
        b.len() >= start + len,
        "truncated .npy header: {} bytes, header says {}",
        b.len(),
        start + len
    );
    let h = std::str::from_utf8(&b[start..start + len])
        .map_err(|_| Error::msg("the .npy header is not text"))?;
    let field = |key: &str| -> Result<&str> {
        let i = h
            .find(&format!("'{key}'"))
            .ok_or_else(|| Error::msg(format!("the .npy header has no '{key}'")))?;
        Ok(h[i + key.len() + 2..]
            .trim_start()
            .trim_start_matches(':')
            .trim_start())
    };
    let d = field("descr")?;
    let descr = d
        .trim_start_matches('\'')
        .split('\'')
        .next()
        .unwrap_or("")
        .to_string();
    let s = field("shape")?;
    let inner = s.trim_start_matches('(').split(')').next().unwrap_or("");
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse::<usize>()
                .map_err(|_| Error::msg(format!("bad shape entry '{x}' in the .npy header")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Header {
        descr,
        shape,
        data_offset: start + len,
    })
}

fn item_size(descr: &str) -> Result<usize> {
    let code = descr.trim_start_matches(['<', '>', '|', '=']);
    Ok(match code {
        "f4" | "i4" | "u4" => 4,
        "f8" | "i8" | "u8" => 8,
        "i2" | "u2" => 2,
        "u1" | "i1" | "b1" => 1,
        other => bail!(
            "unsupported dtype '{other}': expected a float (f4, f8), an integer (i1..i8, u1..u8) or bool"
        ),
    })
}

/// Parse `.npy` bytes; `name` is used in error messages.
pub fn npy_from_bytes(bytes: &[u8], name: &str) -> Result<Tensor> {
    let h = parse_header(bytes).context(name)?;
    let size = item_size(&h.descr).context(name)?;
    let n: usize = h.shape.iter().product();
    let have = bytes.len() - h.data_offset;
    ensure!(
        have >= n * size,
        "{name}: truncated .npy file: shape {:?} of '{}' needs {} data bytes, found {have}",
        h.shape,
        h.descr,
        n * size
    );
    let c = Cursor::new(bytes);
    let code = h.descr.trim_start_matches(['<', '>', '|', '=']);
    let bad = |e: ndarray_npy::ReadNpyError| Error::msg(format!("{name}: invalid .npy data: {e}"));
    Ok(match code {
        "f4" => Tensor::from_array(ArrayD::<f32>::read_npy(c).map_err(bad)?),
        "f8" => Tensor::from_array(ArrayD::<f64>::read_npy(c).map_err(bad)?),
        "i8" => Tensor::from_array(ArrayD::<i64>::read_npy(c).map_err(bad)?),
        "i4" => Tensor::from_array(ArrayD::<i32>::read_npy(c).map_err(bad)?.mapv(i64::from)),
        "u1" => Tensor::from_array(ArrayD::<u8>::read_npy(c).map_err(bad)?),
        // Integer types the Tensor has no dtype for widen to i64 (compact triplet files are u2).
        "i1" => Tensor::from_array(ArrayD::<i8>::read_npy(c).map_err(bad)?.mapv(i64::from)),
        "i2" => Tensor::from_array(ArrayD::<i16>::read_npy(c).map_err(bad)?.mapv(i64::from)),
        "u2" => Tensor::from_array(ArrayD::<u16>::read_npy(c).map_err(bad)?.mapv(i64::from)),
        "u4" => Tensor::from_array(ArrayD::<u32>::read_npy(c).map_err(bad)?.mapv(i64::from)),
        "u8" => {
            let a = ArrayD::<u64>::read_npy(c).map_err(bad)?;
            ensure!(
                a.iter().all(|&v| v <= i64::MAX as u64),
                "{name}: uint64 values above the int64 range"
            );
            Tensor::from_array(a.mapv(|v| v as i64))
        }
        _ => Tensor::from_array(ArrayD::<bool>::read_npy(c).map_err(bad)?),
    })
}

/// The bytes of an `.npy` file holding `t`.
pub fn npy_to_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let err = |e: ndarray_npy::WriteNpyError| Error::msg(format!("cannot encode .npy: {e}"));
    match t.cpu_data()? {
        CpuData::F32(a) => a.as_standard_layout().write_npy(&mut out).map_err(err)?,
        CpuData::F64(a) => a.as_standard_layout().write_npy(&mut out).map_err(err)?,
        CpuData::I64(a) => a.as_standard_layout().write_npy(&mut out).map_err(err)?,
        CpuData::U8(a) => a.as_standard_layout().write_npy(&mut out).map_err(err)?,
        CpuData::Bool(a) => a.as_standard_layout().write_npy(&mut out).map_err(err)?,
    }
    Ok(out)
}

/// Read an `.npy` file.
pub fn read_npy(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    npy_from_bytes(&bytes, &path.display().to_string())
}

/// Write an `.npy` file, atomically.
pub fn write_npy(t: &Tensor, path: &Path) -> Result<()> {
    let bytes = npy_to_bytes(t)?;
    super::atomic_write(path, |w| Ok(w.write_all(&bytes)?))
}

/// An `.npz` archive as a map from array name (without `.npy`) to tensor.
pub fn read_npz(path: &Path) -> Result<Map> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| {
        Error::msg(format!(
            "{}: not a valid .npz (zip) file: {e}",
            path.display()
        ))
    })?;
    let mut out = Map::new();
    for i in 0..z.len() {
        let mut entry = z
            .by_index(i)
            .map_err(|e| Error::msg(format!("{}: {e}", path.display())))?;
        let name = entry.name().to_string();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("{}: reading member {name}", path.display()))?;
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        out.insert(
            key,
            Value::Tensor(npy_from_bytes(
                &bytes,
                &format!("{}[{name}]", path.display()),
            )?),
        );
    }
    Ok(out)
}

/// Write a map of tensors as an `.npz` archive (deflate-compressed, like `np.savez_compressed`).
pub fn write_npz(m: &Map, path: &Path) -> Result<()> {
    let mut members = Vec::new();
    for (k, v) in m {
        let t = v.to_tensor(&format!("npz member '{k}'"))?;
        members.push((format!("{k}.npy"), npy_to_bytes(&t)?));
    }
    super::atomic_write(path, |w| {
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in &members {
            z.start_file(name.as_str(), opts)
                .map_err(|e| Error::msg(e.to_string()))?;
            z.write_all(bytes)?;
        }
        let buf = z
            .finish()
            .map_err(|e| Error::msg(e.to_string()))?
            .into_inner();
        Ok(w.write_all(&buf)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    #[test]
    fn npy_round_trips_every_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let base =
            Tensor::from_vec(vec![1.5f64, -2.0, 3.25, 0.0, 1e-30, f64::NAN], &[2, 3]).unwrap();
        for dt in [DType::F32, DType::F64, DType::I64, DType::U8, DType::Bool] {
            let t = base.astype(dt);
            let p = dir.path().join(format!("x_{dt}.npy"));
            write_npy(&t, &p).unwrap();
            let back = read_npy(&p).unwrap();
            assert!(back.bit_equal(&t).unwrap(), "{dt}");
        }
    }

    #[test]
    fn reads_a_numpy_written_header() {
        // Bytes as numpy 1.x writes np.array([[1, 2]], dtype='<i8').
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }";
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&1i64.to_le_bytes());
        b.extend_from_slice(&2i64.to_le_bytes());
        let t = npy_from_bytes(&b, "t.npy").unwrap();
        assert_eq!(t.shape(), vec![1, 2]);
        assert_eq!(t.dtype(), DType::I64);
        assert_eq!(t.to_vec_f64().unwrap(), vec![1.0, 2.0]);
    }

    #[test]
    fn truncated_npy_is_a_clear_error() {
        let t = Tensor::from_vec((0..100).map(|x| x as f32).collect(), &[10, 10]).unwrap();
        let bytes = npy_to_bytes(&t).unwrap();
        let e = npy_from_bytes(&bytes[..bytes.len() - 17], "cut.npy")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cut.npy") && e.contains("truncated") && e.contains("400 data bytes"),
            "{e}"
        );
        let e = npy_from_bytes(&bytes[..5], "cut.npy")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a .npy file"), "{e}");
    }

    #[test]
    fn npz_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npz");
        let mut m = Map::new();
        m.insert(
            "x".into(),
            Value::Tensor(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap()),
        );
        m.insert(
            "idx".into(),
            Value::Tensor(Tensor::from_vec(vec![3i64, 4, 5], &[3]).unwrap()),
        );
        write_npz(&m, &p).unwrap();
        let back = read_npz(&p).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back["x"]
            .as_tensor()
            .unwrap()
            .bit_equal(m["x"].as_tensor().unwrap())
            .unwrap());
        assert!(back["idx"]
            .as_tensor()
            .unwrap()
            .bit_equal(m["idx"].as_tensor().unwrap())
            .unwrap());
    }
}
