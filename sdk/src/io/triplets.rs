//! Triplet files: the SPoSE interchange formats (N×3 text and `.npy`, 0-based, columns 0 and 1
//! the pair kept together, column 2 the odd one out) and a compact `.npy` whose dtype is the
//! smallest unsigned integer that holds every index (u2 for the study's 2,180 stimuli: 6 bytes a
//! triplet, 43 MB for 7.1M, against 171 MB as int64).
//!
//! SPoSE's own scripts write text with `np.savetxt`, whose default format is floating point
//! (`1.000000000000000000e+00`), so the text reader accepts integral floats and rejects anything
//! else, naming the line and column.
use crate::error::{Error, Result, ResultExt};
use crate::triplets::{check_row, Triplet};
use crate::{bail, ensure};
use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use std::io::Write;
use std::path::Path;

/// How triplets are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One triplet a line, three space-separated integers.
    Text,
    /// `.npy` of int64, what numpy and PyTorch code expect.
    Npy,
    /// `.npy` of the smallest unsigned integer type that fits.
    Compact,
}

impl Format {
    /// The format named `name`, or the one `path`'s extension implies.
    pub fn parse(name: &str, path: &Path) -> Result<Format> {
        Ok(match name {
            "auto" => match super::extension(path).as_str() {
                "npy" => Format::Npy,
                "txt" | "tsv" | "csv" | "dat" => Format::Text,
                other => bail!(
                    "{}: cannot tell the triplet format from '.{other}': use .txt (text) or .npy, or set format",
                    path.display()
                ),
            },
            "text" => Format::Text,
            "npy" => Format::Npy,
            "compact" => Format::Compact,
            other => bail!("unknown triplet format '{other}': expected auto, text, npy or compact"),
        })
    }
}

/// Read a triplet file (text or any integer/integral-float `.npy`). With `n_items`, indices must
/// be below it.
pub fn read(path: &Path, n_items: Option<usize>) -> Result<Vec<Triplet>> {
    let is_npy = std::fs::File::open(path)
        .and_then(|mut f| {
            let mut magic = [0u8; 6];
            use std::io::Read;
            Ok(f.read(&mut magic)? == 6 && &magic == b"\x93NUMPY")
        })
        .with_context(|| format!("cannot read {}", path.display()))?;
    if is_npy {
        read_npy(path, n_items)
    } else {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {} as text", path.display()))?;
        parse_text(&text, &path.display().to_string(), n_items)
    }
}

fn read_npy(path: &Path, n_items: Option<usize>) -> Result<Vec<Triplet>> {
    let t = super::npy::read_npy(path)?;
    let shape = t.shape();
    ensure!(
        shape.len() == 2 && shape[1] == 3,
        "{}: triplets must be an N×3 array, got shape {shape:?}",
        path.display()
    );
    let values: Vec<i64> = if t.dtype().is_float() {
        let f = t.to_f64()?;
        let f = f.as_standard_layout();
        let mut v = Vec::with_capacity(f.len());
        for (i, &x) in f.iter().enumerate() {
            if x.fract() != 0.0 || !x.is_finite() {
                bail!(
                    "{}: row {}, column {}: {x} is not an integer index",
                    path.display(),
                    i / 3,
                    i % 3 + 1
                );
            }
            v.push(x as i64);
        }
        v
    } else {
        let a = t.to_i64()?;
        let a = a.as_standard_layout();
        a.as_slice().expect("standard layout").to_vec()
    };
    values
        .chunks_exact(3)
        .enumerate()
        .map(|(r, c)| {
            check_row(c, n_items)
                .map_err(|m| Error::msg(format!("{}: row {r}: {m}", path.display())))
        })
        .collect()
}

/// Parse whitespace-, comma- or tab-separated text; blank lines and `#` comments are skipped.
/// Line numbers in errors are 1-based, as editors show them.
pub fn parse_text(text: &str, name: &str, n_items: Option<usize>) -> Result<Vec<Triplet>> {
    let mut out = Vec::with_capacity(text.len() / 12);
    let mut vals = [0i64; 3];
    for (ln, line) in text.lines().enumerate() {
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut n = 0;
        for (col, tok) in line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            if col >= 3 {
                n = col + 1;
                continue;
            }
            vals[col] = parse_index(tok).ok_or_else(|| {
                Error::msg(format!(
                    "{name}:{}: column {}: '{tok}' is not an integer index",
                    ln + 1,
                    col + 1
                ))
            })?;
            n = col + 1;
        }
        ensure!(
            n == 3,
            "{name}:{}: expected 3 columns (two kept together, then the odd one out), found {n}",
            ln + 1
        );
        out.push(
            check_row(&vals, n_items).map_err(|m| Error::msg(format!("{name}:{}: {m}", ln + 1)))?,
        );
    }
    Ok(out)
}

fn parse_index(tok: &str) -> Option<i64> {
    if let Ok(v) = tok.parse::<i64>() {
        return Some(v);
    }
    let f: f64 = tok.parse().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// Write triplets through a temporary file.
pub fn write(rows: &[Triplet], path: &Path, format: Format) -> Result<()> {
    match format {
        Format::Text => super::atomic_write(path, |w| {
            for t in rows {
                writeln!(w, "{} {} {}", t[0], t[1], t[2])?;
            }
            Ok(())
        }),
        Format::Npy => {
            let a = Array2::from_shape_fn((rows.len(), 3), |(r, c)| rows[r][c] as i64);
            write_array(&a, path)
        }
        Format::Compact => {
            let max = rows
                .iter()
                .flat_map(|t| t.iter())
                .copied()
                .max()
                .unwrap_or(0);
            let shape = (rows.len(), 3);
            if max <= u8::MAX as u32 {
                write_array(
                    &Array2::from_shape_fn(shape, |(r, c)| rows[r][c] as u8),
                    path,
                )
            } else if max <= u16::MAX as u32 {
                write_array(
                    &Array2::from_shape_fn(shape, |(r, c)| rows[r][c] as u16),
                    path,
                )
            } else {
                write_array(&Array2::from_shape_fn(shape, |(r, c)| rows[r][c]), path)
            }
        }
    }
}

fn write_array<T: ndarray_npy::WritableElement>(a: &Array2<T>, path: &Path) -> Result<()> {
    super::atomic_write(path, |w| {
        a.write_npy(w)
            .map_err(|e| Error::msg(format!("cannot encode .npy: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<Triplet> = vec![[0, 1, 2], [2179, 5, 17], [300, 299, 1]];
        for (name, fmt) in [
            ("t.txt", Format::Text),
            ("t.npy", Format::Npy),
            ("c.npy", Format::Compact),
        ] {
            let p = dir.path().join(name);
            write(&rows, &p, fmt).unwrap();
            assert_eq!(read(&p, Some(2180)).unwrap(), rows, "{name}");
        }
        // The compact file is u2 (2 bytes an index) for these indices.
        let c = std::fs::read(dir.path().join("c.npy")).unwrap();
        assert!(String::from_utf8_lossy(&c[..80]).contains("'<u2'"));
        // Small index sets shrink to one byte.
        let p = dir.path().join("u1.npy");
        write(&[[0, 1, 2]], &p, Format::Compact).unwrap();
        assert!(String::from_utf8_lossy(&std::fs::read(&p).unwrap()[..80]).contains("'|u1'"));
    }

    #[test]
    fn text_accepts_numpy_savetxt_floats_and_names_bad_lines() {
        let t = "# header\n0.000000000000000000e+00 1.000000000000000000e+00 2.000000000000000000e+00\n3,4,5\n";
        assert_eq!(
            parse_text(t, "x", Some(6)).unwrap(),
            vec![[0, 1, 2], [3, 4, 5]]
        );
        let e = parse_text("0 1 2\n0 1 2.5\n", "f.txt", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.txt:2: column 3: '2.5' is not an integer index"),
            "{e}"
        );
        let e = parse_text("0 1 2\n\n0 1\n", "f.txt", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.txt:3: expected 3 columns") && e.contains("found 2"),
            "{e}"
        );
        let e = parse_text("0 1 2 3\n", "f.txt", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("found 4"), "{e}");
        let e = parse_text("0 1 2\n4 9 1\n", "f.txt", Some(9))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.txt:2: index 9 in column 2 is out of range for 9 items"),
            "{e}"
        );
        let e = parse_text("0 -1 2\n", "f.txt", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("negative"), "{e}");
    }

    #[test]
    fn npy_with_wrong_columns_or_fractions_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.npy");
        let t = crate::Tensor::from_vec(vec![0i64, 1, 2, 3], &[2, 2]).unwrap();
        crate::io::npy::write_npy(&t, &p).unwrap();
        assert!(read(&p, None).unwrap_err().to_string().contains("N×3"));
        let f = crate::Tensor::from_vec(vec![0.0f64, 1.0, 2.5], &[1, 3]).unwrap();
        crate::io::npy::write_npy(&f, &p).unwrap();
        let e = read(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("row 0, column 3: 2.5 is not an integer index"),
            "{e}"
        );
    }
}
