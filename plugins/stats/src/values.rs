//! Script values in and out: per-voxel maps and ROI flags read from what the encoding and
//! searchlight steps return, and result tensors built back. Shared by every step of the crate
//! so that a map or a mask is accepted (and refused) the same way everywhere.
use emoscope_sdk::{bail, ensure, Result, Tensor, Value};

/// Refuse a significance level outside (0, 1) before any test runs, so a typo such as
/// `alpha: 5` does not silently call everything significant.
pub(crate) fn check_alpha(alpha: f64) -> Result<()> {
    ensure!(
        alpha > 0.0 && alpha < 1.0,
        "alpha must be between 0 and 1 (exclusive), got {alpha}"
    );
    Ok(())
}

/// A per-voxel map: a tensor (any shape, flattened), a list of numbers, or a map with an `r`
/// tensor (what encoding and searchlight steps return).
pub(crate) fn voxel_map(v: &Value, what: &str) -> Result<Vec<f64>> {
    match v {
        Value::Map(m) => match m.get("r") {
            Some(r) => voxel_map(r, &format!("{what}.r")),
            None => {
                let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                bail!(
                    "{what} must be a per-voxel tensor or a map with an 'r' tensor; the map has keys: {}",
                    keys.join(", ")
                )
            }
        },
        Value::Tensor(_) | Value::List(_) => v.to_tensor(what)?.to_vec_f64(),
        other => bail!(
            "{what} must be a per-voxel tensor or a map with an 'r' tensor, got {}",
            other.type_name()
        ),
    }
}

/// Whether a record value can be a metric (a tensor, or a map holding an `r` tensor).
pub(crate) fn is_metric(v: &Value) -> bool {
    match v {
        Value::Tensor(_) => true,
        Value::Map(m) => matches!(m.get("r"), Some(Value::Tensor(_))),
        _ => false,
    }
}

/// ROI flags: non-zero means inside.
pub(crate) fn flags(v: &Value, what: &str) -> Result<Vec<bool>> {
    Ok(v.to_tensor(what)?
        .to_vec_f64()?
        .into_iter()
        .map(|x| x != 0.0 && !x.is_nan())
        .collect())
}

/// An optional option given as `()` reads as not given: scripts write `#{mask: ()}` to mean
/// "no mask", and serde keeps it as `Some(Null)`.
pub(crate) fn given(v: &Option<Value>) -> Option<&Value> {
    v.as_ref().filter(|v| !matches!(v, Value::Null))
}

pub(crate) fn f64_tensor(v: Vec<f64>, shape: &[usize]) -> Result<Value> {
    Ok(Value::Tensor(Tensor::from_vec(v, shape)?))
}

/// A vector, its length as its shape.
pub(crate) fn f64_vector(v: Vec<f64>) -> Result<Value> {
    let n = v.len();
    f64_tensor(v, &[n])
}

pub(crate) fn i64_tensor(v: Vec<i64>) -> Result<Value> {
    let n = v.len();
    Ok(Value::Tensor(Tensor::from_vec(v, &[n])?))
}

pub(crate) fn strings(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| Value::Str(s.clone())).collect())
}
