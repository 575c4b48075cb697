//! Tables in the report: what a script may pass as a table (a map of columns, a list of row
//! maps, a matrix), read into a header and rows.
use emoscope_sdk::{bail, ensure, Result, Value};

/// A column of a table: a list, or a 1-D tensor.
fn column(v: &Value, name: &str) -> Result<Vec<Value>> {
    Ok(match v {
        Value::List(l) => l.clone(),
        Value::Tensor(t) if t.ndim() <= 1 => {
            let int = matches!(
                t.dtype(),
                emoscope_sdk::DType::I64 | emoscope_sdk::DType::U8
            );
            t.to_vec_f64()?
                .into_iter()
                .map(|x| {
                    if int {
                        Value::Int(x as i64)
                    } else {
                        Value::Float(x)
                    }
                })
                .collect()
        }
        other => bail!(
            "table column '{name}' must be a list or a 1-D tensor, got {}",
            other.type_name()
        ),
    })
}

/// A table as header + rows, from a map of equal-length columns (what stats::roi_compare
/// returns in `rows`), a list of maps (one per row), or a matrix tensor.
pub(crate) fn table_rows(
    v: &Value,
    order: Option<&[String]>,
) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
    match v {
        Value::Map(m) => {
            let mut names: Vec<String> = match order {
                Some(o) => o.to_vec(),
                None => m.keys().cloned().collect(),
            };
            names.retain(|n| m.contains_key(n));
            let cols: Vec<Vec<Value>> = names
                .iter()
                .map(|n| column(&m[n], n))
                .collect::<Result<_>>()?;
            let len = cols.first().map_or(0, Vec::len);
            for (n, c) in names.iter().zip(&cols) {
                ensure!(
                    c.len() == len,
                    "table column '{n}' has {} rows but '{}' has {len}",
                    c.len(),
                    names[0]
                );
            }
            let rows = (0..len)
                .map(|i| cols.iter().map(|c| c[i].clone()).collect())
                .collect();
            Ok((names, rows))
        }
        Value::List(l) => {
            let mut names: Vec<String> = Vec::new();
            for (i, r) in l.iter().enumerate() {
                let Some(m) = r.as_map() else {
                    bail!(
                        "table rows must be maps (column → value); row {i} is {}",
                        r.type_name()
                    )
                };
                for k in m.keys() {
                    if !names.contains(k) {
                        names.push(k.clone());
                    }
                }
            }
            if let Some(o) = order {
                names = o.iter().filter(|n| names.contains(n)).cloned().collect();
            }
            let rows = l
                .iter()
                .map(|r| {
                    let m = r.as_map().expect("checked above");
                    names
                        .iter()
                        .map(|n| m.get(n).cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .collect();
            Ok((names, rows))
        }
        Value::Tensor(t) if t.ndim() == 2 => {
            let s = t.shape();
            let x = t.to_vec_f64()?;
            let names = (0..s[1]).map(|j| (j + 1).to_string()).collect();
            let rows = (0..s[0])
                .map(|i| (0..s[1]).map(|j| Value::Float(x[i * s[1] + j])).collect())
                .collect();
            Ok((names, rows))
        }
        other => bail!(
            "a table must be a map of columns, a list of row maps or a matrix, got {}",
            other.type_name()
        ),
    }
}

/// An optional list of strings (a table's `columns` order).
pub(crate) fn str_list(v: Option<&Value>, what: &str) -> Result<Option<Vec<String>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::List(l)) => l
            .iter()
            .map(|x| match x {
                Value::Str(s) => Ok(s.clone()),
                other => bail!("{what} must be strings, got {}", other.type_name()),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(other) => bail!(
            "{what} must be a list of strings, got {}",
            other.type_name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::cell;
    use emoscope_sdk::Tensor;

    #[test]
    fn tables_from_columns_rows_and_matrices() {
        let cols = Value::Map(
            [
                (
                    "roi".to_string(),
                    Value::List(vec![Value::Str("STS".into()), Value::Str("V1".into())]),
                ),
                (
                    "r".to_string(),
                    Value::Tensor(Tensor::from_vec(vec![0.25f64, 0.5], &[2]).unwrap()),
                ),
            ]
            .into(),
        );
        let (names, rows) = table_rows(&cols, Some(&["roi".into(), "r".into()])).unwrap();
        assert_eq!(names, vec!["roi", "r"]);
        assert_eq!(cell(&rows[1][1]), "0.5000");
        assert_eq!(cell(&rows[1][0]), "V1");
        let bad = Value::Map(
            [
                ("a".to_string(), Value::List(vec![Value::Int(1)])),
                (
                    "b".to_string(),
                    Value::List(vec![Value::Int(1), Value::Int(2)]),
                ),
            ]
            .into(),
        );
        assert!(table_rows(&bad, None)
            .unwrap_err()
            .to_string()
            .contains("has 2 rows"));
    }
}
