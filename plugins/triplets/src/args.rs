//! Reading the steps' positional arguments: the host has checked their script types, these
//! check what a type cannot say (non-negative counts, integer item indices, N × 3 rows) and
//! name the argument when they refuse.
use emoscope_sdk::tensor::Element;
use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{bail, ensure, Result, Tensor, Value};
use std::path::PathBuf;

/// A count argument (`n`, `m`): an integer that is not negative.
pub fn count(v: &Value, what: &str) -> Result<usize> {
    match v.as_i64() {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => bail!(
            "{what} must be a non-negative integer, got {}",
            v.type_name()
        ),
    }
}

/// The rows of an N × 3 triplet argument.
pub fn rows(v: &Value, what: &str) -> Result<Vec<Triplet>> {
    trip::rows(&v.to_tensor(what)?, what, None)
}

/// Item indices from a tensor, a list, or the map `triplets::prototypes` returns.
pub fn items(v: &Value, what: &str) -> Result<Vec<u32>> {
    let v = match v {
        Value::Map(m) if m.contains_key("indices") => &m["indices"],
        other => other,
    };
    let t = v.to_tensor(what)?;
    ensure!(
        !t.dtype().is_float(),
        "{what} must be integer item indices, got {}",
        t.dtype().name()
    );
    ensure!(
        t.ndim() == 1,
        "{what} must be a 1-D list of item indices, got shape {:?}",
        t.shape()
    );
    t.to_i64()?
        .iter()
        .map(|&i| {
            ensure!(
                i >= 0 && i <= u32::MAX as i64,
                "{what}: {i} is not a valid item index"
            );
            Ok(i as u32)
        })
        .collect()
}

/// A file path argument.
pub fn path(v: &Value, what: &str) -> Result<PathBuf> {
    match v.as_str() {
        Some(s) => Ok(PathBuf::from(s)),
        None => bail!("{what} must be a file path (string), got {}", v.type_name()),
    }
}

/// A 1-D tensor: the shape of every index, count and per-row result the steps return.
pub fn vector<T: Element>(v: Vec<T>) -> Tensor {
    Tensor::from_array(ndarray::Array1::from(v))
}

/// Row indices as an i64 tensor, the index type scripts use.
pub fn index_tensor(idx: &[usize]) -> Tensor {
    vector(idx.iter().map(|&i| i as i64).collect())
}

/// The chosen rows as an N × 3 triplet tensor.
pub fn pick(rows: &[Triplet], idx: &[usize]) -> Tensor {
    trip::to_tensor(&idx.iter().map(|&i| rows[i]).collect::<Vec<_>>())
}
