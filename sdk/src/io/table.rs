//! CSV and TSV tables.
//!
//! A table loads as `#{columns: [names...], data: #{name: column}}`: numeric columns become f64
//! tensors, others lists of strings. Errors name the file and the line.
use crate::error::{Error, Result, ResultExt};
use crate::tensor::Tensor;
use crate::value::{Map, Value};
use crate::{bail, ensure};
use std::path::Path;

/// A parsed table of strings, with the 1-based file line of each row for error messages.
pub struct Table {
    /// The column names.
    pub header: Vec<String>,
    /// The cells, row by row.
    pub rows: Vec<Vec<String>>,
    /// Each row's line number in the file, for error messages.
    pub lines: Vec<u64>,
}

impl Table {
    /// The index of the column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => Error::msg(format!(
            "{}:{}: malformed row: it has {len} field(s), but the header has {expected_len}",
            path.display(),
            pos.as_ref().map(|p| p.line()).unwrap_or(0)
        )),
        csv::ErrorKind::Utf8 { pos, .. } => Error::msg(format!(
            "{}:{}: the row is not valid UTF-8",
            path.display(),
            pos.as_ref().map(|p| p.line()).unwrap_or(0)
        )),
        _ => Error::msg(format!("{}: {e}", path.display())),
    }
}

/// Read a delimited file (a UTF-8 byte-order mark is skipped). With `header == false` the
/// columns are named `c0`, `c1`, ...
pub fn read_table(path: &Path, delimiter: u8, header: bool) -> Result<Table> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(false)
        .from_reader(body);
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| csv_error(path, e))?;
        lines.push(rec.position().map(|p| p.line()).unwrap_or(0));
        rows.push(rec.iter().map(str::to_string).collect::<Vec<_>>());
    }
    let header = if header {
        ensure!(
            !rows.is_empty(),
            "{}: the file is empty (expected a header line)",
            path.display()
        );
        lines.remove(0);
        rows.remove(0)
    } else {
        (0..rows.first().map_or(0, Vec::len))
            .map(|i| format!("c{i}"))
            .collect()
    };
    Ok(Table {
        header,
        rows,
        lines,
    })
}

/// Parse a numeric cell, naming file, line and column when it is not a number.
pub fn parse_number(t: &Table, path: &Path, row: usize, col: usize) -> Result<f64> {
    let cell = t.rows[row][col].trim();
    cell.parse::<f64>().map_err(|_| {
        Error::msg(format!(
            "{}:{}: column {} ('{}'): expected a number, found '{}'",
            path.display(),
            t.lines[row],
            col + 1,
            t.header[col],
            cell
        ))
    })
}

/// Load a table as a Value (see the module doc).
pub fn read(path: &Path, delimiter: u8, header: bool) -> Result<Value> {
    let t = read_table(path, delimiter, header)?;
    let mut data = Map::new();
    for (j, name) in t.header.iter().enumerate() {
        let nums: Option<Vec<f64>> = t
            .rows
            .iter()
            .map(|r| r[j].trim().parse::<f64>().ok())
            .collect();
        let col = match nums {
            Some(v) if !t.rows.is_empty() => Value::Tensor(Tensor::from_vec(v, &[t.rows.len()])?),
            _ => Value::List(t.rows.iter().map(|r| Value::Str(r[j].clone())).collect()),
        };
        data.insert(name.clone(), col);
    }
    let mut m = Map::new();
    m.insert(
        "columns".into(),
        Value::List(t.header.iter().map(|h| Value::Str(h.clone())).collect()),
    );
    m.insert("data".into(), Value::Map(data));
    Ok(Value::Map(m))
}

/// The cells of a column tensor: integers without a decimal point, floats in full precision.
fn tensor_cells(t: &Tensor) -> Result<Vec<String>> {
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

fn cell(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => format!("<{}>", other.type_name()),
    }
}

/// Write a 2-D tensor (columns `c0..`), a `#{columns, data}` table, or a map of equal-length
/// columns (in key order).
pub fn write(value: &Value, path: &Path, delimiter: u8) -> Result<()> {
    let (header, cols): (Vec<String>, Vec<Vec<String>>) = match value {
        Value::Tensor(t) => {
            let shape = t.shape();
            let m = match shape.len() {
                1 => t.reshape(&[shape[0], 1])?,
                2 => t.clone(),
                _ => bail!(
                    "saving {}: a CSV holds a 1-D or 2-D tensor, got shape {shape:?}",
                    path.display()
                ),
            };
            let n = m.shape()[1];
            (
                (0..n).map(|j| format!("c{j}")).collect(),
                (0..n)
                    .map(|j| tensor_cells(&m.index_axis(1, j as isize)?))
                    .collect::<Result<_>>()?,
            )
        }
        Value::Map(m) => {
            let (names, data): (Vec<String>, &Map) = match (m.get("columns"), m.get("data")) {
                (Some(Value::List(c)), Some(Value::Map(d))) => (c.iter().map(cell).collect(), d),
                _ => (m.keys().cloned().collect(), m),
            };
            let mut cols = Vec::new();
            for n in &names {
                let col = data.get(n).ok_or_else(|| {
                    Error::msg(format!(
                        "saving {}: no data for column '{n}'",
                        path.display()
                    ))
                })?;
                cols.push(match col {
                    Value::Tensor(t) => tensor_cells(t)?,
                    Value::List(l) => l.iter().map(cell).collect(),
                    other => bail!(
                        "saving {}: column '{n}' must be a tensor or a list, got {}",
                        path.display(),
                        other.type_name()
                    ),
                });
            }
            (names, cols)
        }
        other => bail!(
            "saving {}: a CSV holds a tensor or a table map, got {}",
            path.display(),
            other.type_name()
        ),
    };
    let n = cols.first().map_or(0, Vec::len);
    for (name, c) in header.iter().zip(&cols) {
        ensure!(
            c.len() == n,
            "saving {}: column '{name}' has {} rows, the first column has {n}",
            path.display(),
            c.len()
        );
    }
    super::atomic_write(path, |w| {
        let mut cw = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(w);
        let err = |e: csv::Error| Error::msg(e.to_string());
        cw.write_record(&header).map_err(err)?;
        for i in 0..n {
            cw.write_record(cols.iter().map(|c| c[i].as_str()))
                .map_err(err)?;
        }
        cw.flush()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_row_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, "a,b,c\n1,2,3\n4,5\n").unwrap();
        let e = read(&p, b',', true).unwrap_err().to_string();
        assert!(e.contains("bad.csv:3:"), "{e}");
        assert!(
            e.contains("2 field(s)") && e.contains("header has 3"),
            "{e}"
        );
    }

    #[test]
    fn round_trip_mixed_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tsv");
        std::fs::write(&p, "\u{feff}name\tx\nA\t1.5\nB, with comma\t-2\n").unwrap();
        let v = read(&p, b'\t', true).unwrap();
        let d = v.get("data").unwrap();
        assert_eq!(
            d.get("x")
                .unwrap()
                .as_tensor()
                .unwrap()
                .to_vec_f64()
                .unwrap(),
            vec![1.5, -2.0]
        );
        assert_eq!(
            d.get("name").unwrap().as_list().unwrap()[1].as_str(),
            Some("B, with comma")
        );
        let q = dir.path().join("u.tsv");
        write(&v, &q, b'\t').unwrap();
        let back = read(&q, b'\t', true).unwrap();
        assert_eq!(
            back.get("columns").unwrap().to_json().unwrap(),
            serde_json::json!(["name", "x"])
        );
        assert_eq!(
            back.get("data")
                .unwrap()
                .get("x")
                .unwrap()
                .as_tensor()
                .unwrap()
                .to_vec_f64()
                .unwrap(),
            vec![1.5, -2.0]
        );
    }
}
