//! The Kamitani lab's BData layout in HDF5, as bdpy (`bdpy.BData.save`) writes it:
//!
//! - `/dataset`: samples × columns, float64 (older files: `/dataSet`);
//! - `/metadata/key`, `/metadata/description`: one string per metadata key (bdpy writes
//!   fixed-length byte strings, h5py `S<n>`; variable-length strings are read too);
//! - `/metadata/value`: keys × columns, float64, NaN where a key says nothing about a column
//!   (older files: `/metaData/...`);
//! - `/vmap/<key>/<number>`: optional value-to-label maps, one scalar string per number (bdpy
//!   names the dataset `str(number)`, e.g. `1` or `1.0`);
//! - `/header/<name>`: optional; emoscope stores the grid's `emoscope_affine` (4 × 4) and
//!   `emoscope_shape` (3) here so its own files round-trip exactly.
//!
//! This module reads and writes that container ([`BData`]); how its columns become an fMRI
//! dataset is [`crate::fmri::dataset::Dataset::from_bdata`]. Reading and writing need the
//! `hdf5` feature (libhdf5); without it they say how to build with it.
use crate::bail;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::value::{Map, Value};
use ndarray::{Array2, ArrayD};
use std::collections::BTreeMap;
#[cfg(not(feature = "hdf5"))]
use std::path::Path;

/// A BData file's contents.
#[derive(Clone, Debug, Default)]
pub struct BData {
    /// samples × columns.
    pub dataset: Array2<f64>,
    /// The metadata keys, in file order.
    pub keys: Vec<String>,
    /// Each key's description.
    pub descriptions: Vec<String>,
    /// keys × columns (NaN: not set).
    pub values: Array2<f64>,
    /// key -> (number, label), as stored under `/vmap`.
    pub vmap: BTreeMap<String, Vec<(f64, String)>>,
    /// The numeric entries of `/header` (string entries are not kept).
    pub header: BTreeMap<String, ArrayD<f64>>,
}

impl BData {
    /// The row of `key` in `values`.
    pub fn key_index(&self, key: &str) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    /// `#{dataset, metadata: #{key, description, value}, vmap: #{key: #{number: label}}}`:
    /// what `io::load` gives for a `.h5` file.
    pub fn to_value(&self) -> Value {
        let strings = |v: &[String]| Value::List(v.iter().cloned().map(Value::Str).collect());
        let mut md = Map::new();
        md.insert("key".into(), strings(&self.keys));
        md.insert("description".into(), strings(&self.descriptions));
        md.insert(
            "value".into(),
            Value::Tensor(Tensor::from_array(self.values.clone())),
        );
        let mut vm = Map::new();
        for (k, entries) in &self.vmap {
            let mut e = Map::new();
            for (x, l) in entries {
                e.insert(number_name(*x), Value::Str(l.clone()));
            }
            vm.insert(k.clone(), Value::Map(e));
        }
        let mut m = Map::new();
        m.insert(
            "dataset".into(),
            Value::Tensor(Tensor::from_array(self.dataset.clone())),
        );
        m.insert("metadata".into(), Value::Map(md));
        m.insert("vmap".into(), Value::Map(vm));
        Value::Map(m)
    }

    /// The inverse of [`BData::to_value`] (`io::save` of a `.h5` file).
    pub fn from_value(v: &Value) -> Result<BData> {
        let list = |v: &Value, what: &str| -> Result<Vec<String>> {
            v.as_list()
                .ok_or_else(|| Error::msg(format!("{what} must be a list of strings")))?
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| Error::msg(format!("{what} must be a list of strings")))
                })
                .collect()
        };
        let dataset = v
            .get("dataset")?
            .to_tensor("dataset")?
            .matrix::<f64>("dataset")?
            .to_owned();
        let md = v.get("metadata")?;
        let keys = list(md.get("key")?, "metadata.key")?;
        let descriptions = match md.as_map().and_then(|m| m.get("description")) {
            Some(d) => list(d, "metadata.description")?,
            None => vec![String::new(); keys.len()],
        };
        let values = md
            .get("value")?
            .to_tensor("metadata.value")?
            .matrix::<f64>("metadata.value")?
            .to_owned();
        let mut vmap = BTreeMap::new();
        if let Some(Value::Map(vm)) = v.as_map().and_then(|m| m.get("vmap")) {
            for (k, e) in vm {
                let Value::Map(e) = e else {
                    bail!("vmap.{k} must be a map #{{number: label}}")
                };
                let mut entries = Vec::new();
                for (num, l) in e {
                    let x: f64 = num
                        .parse()
                        .map_err(|_| Error::msg(format!("vmap.{k}: '{num}' is not a number")))?;
                    let l = l
                        .as_str()
                        .ok_or_else(|| Error::msg(format!("vmap.{k}.{num} must be a string")))?;
                    entries.push((x, l.to_string()));
                }
                entries.sort_by(|a, b| a.0.total_cmp(&b.0));
                vmap.insert(k.clone(), entries);
            }
        }
        Ok(BData {
            dataset,
            keys,
            descriptions,
            values,
            vmap,
            header: BTreeMap::new(),
        })
    }

    /// The columns where `key`'s value is 1 (bdpy's `select(key)`).
    pub fn columns_of(&self, key: &str) -> Vec<usize> {
        match self.key_index(key) {
            Some(r) => (0..self.values.ncols())
                .filter(|&c| self.values[[r, c]] == 1.0)
                .collect(),
            None => Vec::new(),
        }
    }
}

/// How a vmap number is named in the file: `1` for whole numbers, else the shortest decimal.
pub fn number_name(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(not(feature = "hdf5"))]
/// Read a BData HDF5 file (needs the `hdf5` feature).
pub fn read_bdata(path: &Path) -> Result<BData> {
    bail!(
        "{}: reading HDF5 (BData) files needs emoscope built with the hdf5 feature: `cargo build --release --features hdf5` (needs libhdf5, e.g. `apt-get install libhdf5-dev`)",
        path.display()
    )
}

#[cfg(not(feature = "hdf5"))]
/// Write a BData HDF5 file (needs the `hdf5` feature).
pub fn write_bdata(_b: &BData, path: &Path) -> Result<()> {
    bail!(
        "{}: writing HDF5 (BData) files needs emoscope built with the hdf5 feature: `cargo build --release --features hdf5` (needs libhdf5, e.g. `apt-get install libhdf5-dev`)",
        path.display()
    )
}

#[cfg(feature = "hdf5")]
pub use imp::{read_bdata, write_bdata};

#[cfg(feature = "hdf5")]
mod imp {
    use super::BData;
    use crate::error::{Error, Result};
    use crate::{bail, ensure};
    use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
    use ndarray::{Array1, Array2};
    use std::path::Path;

    fn herr(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
        Error::msg(format!("{}: {what}: {e}", path.display()))
    }

    /// Fixed-length strings are read into the smallest of these capacities that holds them.
    macro_rules! by_capacity {
        ($n:expr, $f:ident) => {
            match $n {
                0..=16 => $f!(16),
                17..=64 => $f!(64),
                65..=256 => $f!(256),
                257..=1024 => $f!(1024),
                1025..=4096 => $f!(4096),
                4097..=16384 => $f!(16384),
                n => bail!("strings of {n} bytes are longer than the 16384 emoscope reads"),
            }
        };
    }

    fn read_strings(ds: &hdf5::Dataset, path: &Path, what: &str) -> Result<Vec<String>> {
        let td = ds
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| herr(path, what, e))?;
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(match td {
            TypeDescriptor::VarLenUnicode => ds
                .read_raw::<VarLenUnicode>()
                .map_err(|e| herr(path, what, e))?
                .iter()
                .map(|s| lossy(s.as_bytes()))
                .collect(),
            TypeDescriptor::VarLenAscii => ds
                .read_raw::<VarLenAscii>()
                .map_err(|e| herr(path, what, e))?
                .iter()
                .map(|s| lossy(s.as_bytes()))
                .collect(),
            TypeDescriptor::FixedAscii(n) => {
                macro_rules! go {
                    ($cap:expr) => {
                        ds.read_raw::<FixedAscii<$cap>>()
                            .map_err(|e| herr(path, what, e))?
                            .iter()
                            .map(|s| lossy(s.as_bytes()).trim_end().to_string())
                            .collect()
                    };
                }
                by_capacity!(n, go)
            }
            TypeDescriptor::FixedUnicode(n) => {
                macro_rules! go {
                    ($cap:expr) => {
                        ds.read_raw::<FixedUnicode<$cap>>()
                            .map_err(|e| herr(path, what, e))?
                            .iter()
                            .map(|s| lossy(s.as_bytes()).trim_end().to_string())
                            .collect()
                    };
                }
                by_capacity!(n, go)
            }
            other => bail!(
                "{}: {what} should hold strings, found {other}",
                path.display()
            ),
        })
    }

    fn member<'a>(
        f: &hdf5::Group,
        names: &'a [&'a str],
        path: &Path,
    ) -> Result<(hdf5::Dataset, &'a str)> {
        for n in names {
            if f.link_exists(n) {
                return Ok((f.dataset(n).map_err(|e| herr(path, n, e))?, n));
            }
        }
        bail!(
            "{}: not a BData file: it has no {} (members: {})",
            path.display(),
            names.join(" or "),
            f.member_names().unwrap_or_default().join(", ")
        )
    }

    /// Read a BData HDF5 file as bdpy lays it out.
    pub fn read_bdata(path: &Path) -> Result<BData> {
        ensure!(path.exists(), "{}: no such file", path.display());
        let f = hdf5::File::open(path).map_err(|e| herr(path, "not a readable HDF5 file", e))?;
        let (ds, dname) = member(&f, &["dataset", "dataSet"], path)?;
        let shape = ds.shape();
        ensure!(
            shape.len() == 2,
            "{}: /{dname} must be a 2-D matrix (samples × columns), got shape {shape:?}",
            path.display()
        );
        let dataset: Array2<f64> = ds.read_2d::<f64>().map_err(|e| herr(path, dname, e))?;
        let md_name = if f.link_exists("metadata") {
            "metadata"
        } else if f.link_exists("metaData") {
            "metaData"
        } else {
            bail!(
                "{}: not a BData file: it has no /metadata group (members: {})",
                path.display(),
                f.member_names().unwrap_or_default().join(", ")
            )
        };
        let md = f.group(md_name).map_err(|e| herr(path, md_name, e))?;
        let (kds, _) = member(&md, &["key"], path)?;
        let keys = read_strings(&kds, path, "/metadata/key")?;
        let descriptions = if md.link_exists("description") {
            let d = md
                .dataset("description")
                .map_err(|e| herr(path, "description", e))?;
            read_strings(&d, path, "/metadata/description")?
        } else {
            vec![String::new(); keys.len()]
        };
        let (vds, _) = member(&md, &["value"], path)?;
        let vshape = vds.shape();
        let values: Array2<f64> = match vshape.len() {
            2 => vds
                .read_2d::<f64>()
                .map_err(|e| herr(path, "/metadata/value", e))?,
            1 if keys.len() == 1 => {
                let v = vds
                    .read_1d::<f64>()
                    .map_err(|e| herr(path, "/metadata/value", e))?;
                let n = v.len();
                v.into_shape_with_order((1, n))
                    .map_err(|e| Error::msg(e.to_string()))?
            }
            _ => bail!(
                "{}: /metadata/value must be keys × columns, got shape {vshape:?}",
                path.display()
            ),
        };
        ensure!(
            values.nrows() == keys.len(),
            "{}: /metadata/value has {} rows for {} keys",
            path.display(),
            values.nrows(),
            keys.len()
        );
        ensure!(
            values.ncols() == dataset.ncols(),
            "{}: /metadata/value has {} columns, /{dname} has {}",
            path.display(),
            values.ncols(),
            dataset.ncols()
        );
        let mut b = BData {
            dataset,
            keys,
            descriptions,
            values,
            ..Default::default()
        };
        if f.link_exists("vmap") {
            let g = f.group("vmap").map_err(|e| herr(path, "vmap", e))?;
            for key in g.member_names().map_err(|e| herr(path, "vmap", e))? {
                let kg = g.group(&key).map_err(|e| herr(path, "vmap", e))?;
                let mut entries = Vec::new();
                for num in kg.member_names().map_err(|e| herr(path, "vmap", e))? {
                    let x: f64 = num.trim().parse().map_err(|_| {
                        Error::msg(format!(
                            "{}: /vmap/{key}/{num}: the name should be a number",
                            path.display()
                        ))
                    })?;
                    let d = kg.dataset(&num).map_err(|e| herr(path, "vmap", e))?;
                    let label = read_strings(&d, path, &format!("/vmap/{key}/{num}"))?;
                    ensure!(
                        label.len() == 1,
                        "{}: /vmap/{key}/{num} should hold one string",
                        path.display()
                    );
                    entries.push((x, label.into_iter().next().unwrap_or_default()));
                }
                entries.sort_by(|a, b| a.0.total_cmp(&b.0));
                b.vmap.insert(key, entries);
            }
        }
        if f.link_exists("header") {
            let g = f.group("header").map_err(|e| herr(path, "header", e))?;
            for name in g.member_names().map_err(|e| herr(path, "header", e))? {
                let Ok(d) = g.dataset(&name) else { continue };
                let numeric = matches!(
                    d.dtype().and_then(|t| t.to_descriptor()),
                    Ok(TypeDescriptor::Float(_))
                        | Ok(TypeDescriptor::Integer(_))
                        | Ok(TypeDescriptor::Unsigned(_))
                );
                if numeric {
                    if let Ok(a) = d.read_dyn::<f64>() {
                        b.header.insert(name, a);
                    }
                }
            }
        }
        Ok(b)
    }

    fn h<T>(r: hdf5::Result<T>) -> Result<T> {
        r.map_err(|e| Error::msg(e.to_string()))
    }

    fn write_strings(g: &hdf5::Group, name: &str, items: &[String]) -> Result<()> {
        let n = items.iter().map(String::len).max().unwrap_or(1).max(1);
        macro_rules! go {
            ($cap:expr) => {{
                // bdpy stores UTF-8 bytes in fixed-length byte strings (h5py `S<n>`).
                let a: Array1<FixedAscii<$cap>> = items
                    .iter()
                    .map(|s| unsafe { FixedAscii::<$cap>::from_ascii_unchecked(s.as_bytes()) })
                    .collect();
                h(g.new_dataset_builder().with_data(&a).create(name))?;
            }};
        }
        by_capacity!(n, go);
        Ok(())
    }

    fn write_scalar_string(g: &hdf5::Group, name: &str, s: &str) -> Result<()> {
        let n = s.len().max(1);
        macro_rules! go {
            ($cap:expr) => {{
                let a = ndarray::arr0(unsafe {
                    FixedAscii::<$cap>::from_ascii_unchecked(s.as_bytes())
                });
                h(g.new_dataset_builder().with_data(&a).create(name))?;
            }};
        }
        by_capacity!(n, go);
        Ok(())
    }

    fn write_all(b: &BData, tmp: &Path) -> Result<()> {
        let f = h(hdf5::File::create(tmp))?;
        h(f.new_dataset_builder()
            .with_data(&b.dataset)
            .create("dataset"))?;
        let md = h(f.create_group("metadata"))?;
        write_strings(&md, "key", &b.keys)?;
        write_strings(&md, "description", &b.descriptions)?;
        h(md.new_dataset_builder()
            .with_data(&b.values)
            .create("value"))?;
        let hd = h(f.create_group("header"))?;
        for (k, a) in &b.header {
            h(hd.new_dataset_builder().with_data(a).create(k.as_str()))?;
        }
        let vm = h(f.create_group("vmap"))?;
        for (key, entries) in &b.vmap {
            let g = h(vm.create_group(key))?;
            for (x, label) in entries {
                write_scalar_string(&g, &super::number_name(*x), label)?;
            }
        }
        h(f.flush())?;
        Ok(())
    }

    /// Write `b` in bdpy's layout, through a temporary file renamed on success.
    pub fn write_bdata(b: &BData, path: &Path) -> Result<()> {
        ensure!(
            b.values.dim() == (b.keys.len(), b.dataset.ncols()),
            "BData: metadata values must be keys × columns = {} × {}, got {:?}",
            b.keys.len(),
            b.dataset.ncols(),
            b.values.dim()
        );
        ensure!(
            b.descriptions.len() == b.keys.len(),
            "BData: {} descriptions for {} keys",
            b.descriptions.len(),
            b.keys.len()
        );
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        match write_all(b, &tmp) {
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
}

#[cfg(all(test, feature = "hdf5"))]
mod tests {
    use super::*;
    use hdf5::types::VarLenUnicode;
    use ndarray::{arr2, Array1};

    #[test]
    fn write_then_read_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.h5");
        let mut vmap = BTreeMap::new();
        vmap.insert(
            "stimulus_name".to_string(),
            vec![
                (1.0, "0001.mp4".to_string()),
                (2.5, "película.mp4".to_string()),
            ],
        );
        let b = BData {
            dataset: arr2(&[[0.1, 1.0], [f64::MIN_POSITIVE, 2.5]]),
            keys: vec!["VoxelData".into(), "stimulus_name".into()],
            descriptions: vec!["Attribute: VoxelData = 1".into(), "".into()],
            values: arr2(&[[1.0, f64::NAN], [f64::NAN, 1.0]]),
            vmap,
            header: BTreeMap::new(),
        };
        write_bdata(&b, &p).unwrap();
        let r = read_bdata(&p).unwrap();
        assert_eq!(r.dataset, b.dataset);
        assert_eq!(r.keys, b.keys);
        assert_eq!(r.descriptions, b.descriptions);
        assert_eq!(r.values[[0, 0]], 1.0);
        assert!(r.values[[0, 1]].is_nan());
        assert_eq!(r.vmap, b.vmap);
        let e = read_bdata(&dir.path().join("none.h5"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
    }

    /// Files written by other tools: the old `dataSet`/`metaData` names, variable-length
    /// strings, vmap entries named like Python floats (`1.0`).
    #[test]
    fn reads_old_names_and_variable_length_strings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.h5");
        {
            let f = hdf5::File::create(&p).unwrap();
            f.new_dataset_builder()
                .with_data(&arr2(&[[3.0f32, 7.0]]))
                .create("dataSet")
                .unwrap();
            let md = f.create_group("metaData").unwrap();
            let keys: Array1<VarLenUnicode> = ["VoxelData", "stimulus_name"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
            md.new_dataset_builder()
                .with_data(&keys)
                .create("key")
                .unwrap();
            md.new_dataset_builder()
                .with_data(&arr2(&[[1.0, f64::NAN], [f64::NAN, 1.0]]))
                .create("value")
                .unwrap();
            let g = f
                .create_group("vmap")
                .unwrap()
                .create_group("stimulus_name")
                .unwrap();
            let label: VarLenUnicode = "a.jpg".parse().unwrap();
            g.new_dataset_builder()
                .with_data(&ndarray::arr0(label))
                .create("7.0")
                .unwrap();
        }
        let r = read_bdata(&p).unwrap();
        assert_eq!(r.keys, vec!["VoxelData", "stimulus_name"]);
        assert_eq!(r.descriptions, vec!["", ""]);
        assert_eq!(r.dataset, arr2(&[[3.0, 7.0]]));
        assert_eq!(r.vmap["stimulus_name"], vec![(7.0, "a.jpg".to_string())]);
    }
}
