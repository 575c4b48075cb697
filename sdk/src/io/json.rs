//! JSON and JSON Lines. JSONL readers report the line of a bad record.
use crate::error::{Error, Result, ResultExt};
use crate::value::Value;
use std::io::Write;
use std::path::Path;

/// Read a JSON file as a Value.
pub fn read_json(path: &Path) -> Result<Value> {
    let s =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let j: serde_json::Value = serde_json::from_str(&s).map_err(|e| {
        Error::msg(format!(
            "{}:{}:{}: invalid JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    Ok(Value::from_json(&j))
}

/// Write a Value as pretty JSON, atomically.
pub fn write_json(v: &Value, path: &Path) -> Result<()> {
    let j = v.to_json()?;
    super::atomic_write(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &j)?;
        Ok(w.write_all(b"\n")?)
    })
}

/// One Value per non-empty line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Value>> {
    let s =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in s.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let j: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            Error::msg(format!(
                "{}:{}:{}: invalid JSON record: {e}",
                path.display(),
                i + 1,
                e.column()
            ))
        })?;
        out.push(Value::from_json(&j));
    }
    Ok(out)
}

/// A list is written one element per line; anything else as a single line.
pub fn write_jsonl(v: &Value, path: &Path) -> Result<()> {
    let items: Vec<serde_json::Value> = match v {
        Value::List(l) => l.iter().map(Value::to_json).collect::<Result<_>>()?,
        other => vec![other.to_json()?],
    };
    super::atomic_write(path, |w| {
        for j in &items {
            serde_json::to_writer(&mut *w, j)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_error_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        std::fs::write(&p, "{\"a\": 1}\n{\"a\": 2,\n").unwrap();
        let e = read_jsonl(&p).unwrap_err().to_string();
        assert!(e.contains("j.jsonl:2:"), "{e}");
    }

    #[test]
    fn json_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.json");
        let v = crate::vmap! {"a" => 1i64, "b" => "x", "c" => vec![Value::Float(0.5)]};
        write_json(&v, &p).unwrap();
        assert_eq!(
            read_json(&p).unwrap().to_json().unwrap(),
            v.to_json().unwrap()
        );
    }
}
