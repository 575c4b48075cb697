//! File formats. This module is the only place in emoscope that parses files.
//!
//! Every reader names the file (and line/column where it applies) in its errors; every writer
//! goes through [`atomic_write`], so a failed or cancelled write never leaves a partial file
//! under the final name.
pub mod bdata;
pub mod captions;
pub mod json;
pub mod nifti;
pub mod npy;
pub mod ratings;
pub mod table;
pub mod trials;
pub mod triplets;

use crate::bail;
use crate::error::{Error, Result, ResultExt};
use crate::value::Value;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Write through a temporary file in the same directory, then rename over `path`.
/// On any error the temporary file is removed and `path` is untouched.
pub fn atomic_write(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::msg(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result: Result<()> = (|| {
        let f = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = BufWriter::new(f);
        write(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(())
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move the finished file to {}", path.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.context(format!("writing {}", path.display())))
        }
    }
}

/// Hex sha256 of a file's bytes (recorded in `run.json`).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// The hex sha256 of `b`.
pub fn sha256_bytes(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The lower-case extension, with `.gz` looked through (`x.nii.gz` -> `nii.gz`).
pub fn extension(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    for double in ["nii.gz", "csv.gz"] {
        if name.ends_with(&format!(".{double}")) {
            return double.into();
        }
    }
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// Read any supported file into a Value, by extension.
pub fn load(path: &Path) -> Result<Value> {
    match extension(path).as_str() {
        "npy" => npy::read_npy(path).map(Value::Tensor),
        "npz" => npy::read_npz(path).map(Value::Map),
        "csv" => table::read(path, b',', true),
        "tsv" => table::read(path, b'\t', true),
        "json" => json::read_json(path),
        "jsonl" => json::read_jsonl(path).map(Value::List),
        "nii" | "nii.gz" => nifti::read_nifti(path).map(|v| v.to_value()),
        "h5" | "hdf5" => bdata::read_bdata(path).map(|b| b.to_value()),
        other => bail!(
            "{}: cannot load files with extension '.{other}': expected .npy, .npz, .csv, .tsv, .json, .jsonl, .nii, .nii.gz or .h5 (BData)",
            path.display()
        ),
    }
}

/// Write a Value to a file, by extension.
pub fn save(value: &Value, path: &Path) -> Result<()> {
    match extension(path).as_str() {
        "npy" => match value {
            Value::Tensor(t) => npy::write_npy(t, path),
            other => bail!("saving {}: .npy holds one tensor, got {}", path.display(), other.type_name()),
        },
        "npz" => match value {
            Value::Map(m) => npy::write_npz(m, path),
            Value::Tensor(t) => npy::write_npz(&[("arr_0".to_string(), Value::Tensor(t.clone()))].into_iter().collect(), path),
            other => bail!("saving {}: .npz holds a map of tensors, got {}", path.display(), other.type_name()),
        },
        "csv" => table::write(value, path, b','),
        "tsv" => table::write(value, path, b'\t'),
        "json" => json::write_json(value, path),
        "jsonl" => json::write_jsonl(value, path),
        "nii" | "nii.gz" => nifti::save_value(value, path),
        "h5" | "hdf5" => bdata::write_bdata(&bdata::BData::from_value(value)?, path),
        other => bail!(
            "cannot save {}: unknown extension '.{other}': expected .npy, .npz, .csv, .tsv, .json, .jsonl, .nii, .nii.gz or .h5 (BData)",
            path.display()
        ),
    }
}
