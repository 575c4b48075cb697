//! What the steps share on the script side: reading their positional arguments (embeddings,
//! the io::ratings map), checking them, and writing index and value lists back.
//!
//! Kept in one place so every step words the same mistake the same way ("X has a non-finite
//! value at row i, column j", "names has n entries but X has m ...").
use emoscope_sdk::{bail, ensure, Error, Result, Value};
use ndarray::{ArcArray2, ArrayView2};

/// The first `N` positional arguments, or an error naming the first missing one. The host
/// checks the count against the spec before a step runs; this keeps a direct call (a test, a
/// Rust caller of `Plugin::call`) from indexing past the end.
pub fn positional<'a, const N: usize>(
    args: &'a [Value],
    function: &str,
    names: [&str; N],
) -> Result<[&'a Value; N]> {
    if let Some((i, name)) = names.iter().enumerate().find(|&(i, _)| i >= args.len()) {
        bail!(
            "affect::{function} needs argument {} ({name}); got {} argument(s)",
            i + 1,
            args.len()
        );
    }
    Ok(std::array::from_fn(|i| &args[i]))
}

/// The embedding argument `X` as a stimuli × components matrix.
pub fn x_matrix(v: &Value) -> Result<ArcArray2<f64>> {
    matrix(v, "X")
}

/// A stimuli × columns f64 matrix argument, with at least one row and column.
pub fn matrix(v: &Value, what: &str) -> Result<ArcArray2<f64>> {
    let m = v.to_tensor(what)?.matrix::<f64>(what)?;
    ensure!(
        m.nrows() >= 1 && m.ncols() >= 1,
        "{what} is empty (shape {} × {}): it must be stimuli × components",
        m.nrows(),
        m.ncols()
    );
    Ok(m)
}

/// Check a matrix has only finite values, naming the first offending cell.
pub fn ensure_finite(a: ArrayView2<f64>, what: &str) -> Result<()> {
    if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!(
            "{what} has a non-finite value {v} at row {i}, column {j} (0-based): remove or impute it first"
        );
    }
    Ok(())
}

/// The matrix under `key` of the map io::ratings returns.
pub fn ratings_matrix(m: &Value, key: &str) -> Result<ArcArray2<f64>> {
    let v = m.get(key).map_err(|_| {
        Error::msg(format!(
            "ratings must be the map io::ratings returns (with `{key}`); this map has no `{key}`"
        ))
    })?;
    v.to_tensor(&format!("ratings.{key}"))?
        .matrix::<f64>(&format!("ratings.{key}"))
}

/// A list of strings from a ratings map's `key`, or `default` when the key is absent (column
/// numbers when `default` does not fit the matrix's `want` columns).
pub fn names_of(m: &Value, key: &str, default: &[&str], want: usize) -> Result<Vec<String>> {
    let names: Vec<String> = match m.get(key) {
        Ok(v) => {
            let Some(l) = v.as_list() else {
                bail!(
                    "ratings.{key} must be a list of strings, got {}",
                    v.type_name()
                )
            };
            l.iter()
                .enumerate()
                .map(|(i, s)| match s.as_str() {
                    Some(s) => Ok(s.to_string()),
                    None => bail!("ratings.{key}[{i}] must be a string, got {}", s.type_name()),
                })
                .collect::<Result<_>>()?
        }
        Err(_) if default.len() == want => default.iter().map(|s| s.to_string()).collect(),
        Err(_) => (0..want).map(|i| i.to_string()).collect(),
    };
    ensure!(
        names.len() == want,
        "ratings.{key} has {} names but the matrix has {want} columns",
        names.len()
    );
    Ok(names)
}

/// Check a `names` option gives one name per `one` (X has `want` of them, its `of`).
pub fn check_names(names: &Option<Vec<String>>, want: usize, of: &str, one: &str) -> Result<()> {
    if let Some(n) = names {
        ensure!(
            n.len() == want,
            "names has {} entries but X has {want} {of}: give one name per {one}",
            n.len()
        );
    }
    Ok(())
}

/// A script list of ints (indices).
pub fn ints(v: &[usize]) -> Value {
    Value::List(v.iter().map(|&i| Value::from(i)).collect())
}

/// A script list of floats.
pub fn floats(v: &[f64]) -> Value {
    Value::List(v.iter().map(|&f| Value::from(f)).collect())
}

/// A script list of strings.
pub fn strs(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| Value::Str(s.clone())).collect())
}
