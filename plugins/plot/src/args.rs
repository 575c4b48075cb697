//! Reading the figures' arguments and options: matrices, vectors, labels, and the results of
//! other steps (a map holding the data) accepted in place of the data itself.
use emoscope_sdk::{bail, ensure, Map, Result, Value};

/// The keys of a map, for errors that say what a map has instead of what was wanted.
pub(crate) fn key_list(m: &Map) -> String {
    m.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// `v[key]` when `v` is a map (another step's result, e.g. affect::tsne's `#{coords, ...}`),
/// else `v` itself. `expected` finishes the error "`what` must be ...".
pub(crate) fn data_of<'a>(
    v: &'a Value,
    key: &str,
    what: &str,
    expected: &str,
) -> Result<&'a Value> {
    match v {
        Value::Map(m) => match m.get(key) {
            Some(inner) => Ok(inner),
            None => bail!(
                "{what} must be {expected}; the map has keys: {}",
                key_list(m)
            ),
        },
        v => Ok(v),
    }
}

/// A per-voxel argument: a tensor or list, or a map holding an `r` tensor (an encoding result).
pub(crate) fn voxel_values(v: &Value, what: &str) -> Result<Vec<f64>> {
    let r = data_of(
        v,
        "r",
        what,
        "a 1-D tensor (one value per voxel) or a map with an 'r' tensor",
    )?;
    match v {
        Value::Map(_) => vector_arg(r, &format!("{what}.r")),
        _ => vector_arg(r, what),
    }
}

/// A 2-D numeric argument as (rows, cols, row-major values).
pub(crate) fn matrix_arg(v: &Value, what: &str) -> Result<(usize, usize, Vec<f64>)> {
    let t = v.to_tensor(what)?;
    let shape = t.shape();
    ensure!(
        shape.len() == 2,
        "{what} must be a 2-D tensor (rows × columns), got shape {shape:?}"
    );
    Ok((shape[0], shape[1], t.to_vec_f64()?))
}

/// A 1-D numeric argument (a tensor or a list of numbers).
pub(crate) fn vector_arg(v: &Value, what: &str) -> Result<Vec<f64>> {
    let t = v.to_tensor(what)?;
    let shape = t.shape();
    ensure!(
        shape.len() == 1,
        "{what} must be a 1-D tensor or a list of numbers, got shape {shape:?}"
    );
    t.to_vec_f64()
}

/// A list of labels (strings; numbers are written out) of length `n` when given.
/// `per` says what each label belongs to ("row of coords").
pub(crate) fn labels_opt(
    v: &Option<Value>,
    what: &str,
    n: Option<(usize, &str)>,
) -> Result<Option<Vec<String>>> {
    let l = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => labels(v, what)?,
    };
    if let Some((n, per)) = n {
        ensure!(
            l.len() == n,
            "{what} has {} labels but {n} are needed (one per {per})",
            l.len()
        );
    }
    Ok(Some(l))
}

/// A list of labels: strings, or numbers written out.
pub(crate) fn labels(v: &Value, what: &str) -> Result<Vec<String>> {
    let label = |x: &Value, i: usize| -> Result<String> {
        Ok(match x {
            Value::Str(s) => s.clone(),
            Value::Int(k) => k.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            other => bail!("{what}[{i}] must be a string, got {}", other.type_name()),
        })
    };
    match v {
        Value::List(l) => l.iter().enumerate().map(|(i, x)| label(x, i)).collect(),
        Value::Tensor(t) => {
            let int = !t.dtype().is_float();
            Ok(t.to_vec_f64()?
                .into_iter()
                .map(|x| {
                    if int {
                        (x as i64).to_string()
                    } else {
                        x.to_string()
                    }
                })
                .collect())
        }
        other => bail!(
            "{what} must be a list of strings, got {}",
            other.type_name()
        ),
    }
}

/// A finite option value, when given.
pub(crate) fn finite_opt(v: Option<f64>, what: &str) -> Result<Option<f64>> {
    if let Some(x) = v {
        ensure!(
            x.is_finite(),
            "option {what} must be a finite number, got {x}"
        );
    }
    Ok(v)
}
