//! Reading the table `plot::roi_bars` draws: named columns of one entry per row, as
//! `stats::roi_compare` returns them or `io::load` reads a saved CSV, and the significance
//! stars of their test columns.
use crate::args::labels;
use emoscope_sdk::{bail, ensure, Map, Result, Value};

/// The columns of a table: `#{col: values}`, or `#{columns, data}` as io::load reads a CSV.
pub(crate) fn columns<'a>(v: &'a Value, what: &str) -> Result<&'a Map> {
    let Value::Map(m) = v else {
        bail!(
            "{what} must be a table (a map of columns), got {}",
            v.type_name()
        )
    };
    match (m.get("columns"), m.get("data")) {
        (Some(Value::List(_)), Some(Value::Map(d))) => Ok(d),
        _ => Ok(m),
    }
}

/// A column of labels, when the table has it.
pub(crate) fn str_col(m: &Map, name: &str, what: &str) -> Result<Option<Vec<String>>> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => labels(v, &format!("{what}.{name}")).map(Some),
    }
}

/// A numeric column, when the table has it.
pub(crate) fn num_col(m: &Map, name: &str, what: &str) -> Result<Option<Vec<f64>>> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .to_tensor(&format!("{what}.{name}"))?
            .to_vec_f64()
            .map(Some),
    }
}

fn bool_col(m: &Map, name: &str, what: &str) -> Result<Option<Vec<bool>>> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::List(l)) => l
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::Bool(b) => Ok(*b),
                Value::Int(k) => Ok(*k != 0),
                Value::Str(s) if s == "true" || s == "false" => Ok(s == "true"),
                other => bail!(
                    "{what}.{name}[{i}] must be a bool, got {}",
                    other.type_name()
                ),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(v) => Ok(Some(
            v.to_tensor(&format!("{what}.{name}"))?
                .to_vec_f64()?
                .into_iter()
                .map(|x| x != 0.0 && !x.is_nan())
                .collect(),
        )),
    }
}

/// `*`, `**`, `***` for p (or q) below .05, .01, .001.
fn stars(p: f64) -> &'static str {
    if p < 0.001 {
        "***"
    } else if p < 0.01 {
        "**"
    } else if p < 0.05 {
        "*"
    } else {
        ""
    }
}

/// The test column a table has: ("q" or "p", its values).
pub(crate) type TestColumn = Option<(&'static str, Vec<f64>)>;

/// Significance of each row: the stars of q (or p), gated by `significant` when present.
pub(crate) fn row_stars(m: &Map, n: usize, what: &str) -> Result<(Vec<String>, TestColumn)> {
    let q = num_col(m, "q", what)?;
    let p = num_col(m, "p", what)?;
    let sig = bool_col(m, "significant", what)?;
    let test = match (q, p) {
        (Some(q), _) => Some(("q", q)),
        (None, Some(p)) => Some(("p", p)),
        _ => None,
    };
    let mut out = vec![String::new(); n];
    if let Some((_, v)) = &test {
        for i in 0..n {
            let gate = sig.as_ref().is_none_or(|s| s[i]);
            if gate && !v[i].is_nan() {
                out[i] = stars(v[i]).to_string();
            }
        }
    }
    Ok((out, test))
}

/// Every column (list or 1-D tensor) has one entry per row: a short column would misalign
/// rows silently.
pub(crate) fn check_len(m: &Map, n: usize, what: &str) -> Result<()> {
    for (k, v) in m {
        let len = match v {
            Value::List(l) => l.len(),
            Value::Tensor(t) if t.ndim() == 1 => t.len(),
            _ => continue,
        };
        ensure!(
            len == n,
            "{what}: column '{k}' has {len} entries but 'roi' has {n}: every column needs one per row"
        );
    }
    Ok(())
}
