//! The Cowen & Keltner (2017) ratings CSV: `Filename`, 34 emotion categories (fractions of
//! raters, 0-1, alphabetical), 14 affective dimensions (means of 1-9 ratings), then 600
//! free-response terms, which the study does not use.
use super::table::{parse_number, read_table};
use crate::error::{Result, ResultExt};
use crate::tensor::Tensor;
use crate::value::{Map, Value};
use crate::{bail, ensure};
use ndarray::Array2;
use std::collections::HashMap;
use std::path::Path;

/// The 34 emotion categories of the ratings, in the file's column order.
pub const CATEGORY_NAMES: [&str; 34] = [
    "Admiration",
    "Adoration",
    "Aesthetic Appreciation",
    "Amusement",
    "Anger",
    "Anxiety",
    "Awe",
    "Awkwardness",
    "Boredom",
    "Calmness",
    "Confusion",
    "Contempt",
    "Craving",
    "Disappointment",
    "Disgust",
    "Empathic Pain",
    "Entrancement",
    "Envy",
    "Excitement",
    "Fear",
    "Guilt",
    "Horror",
    "Interest",
    "Joy",
    "Nostalgia",
    "Pride",
    "Relief",
    "Romance",
    "Sadness",
    "Satisfaction",
    "Sexual Desire",
    "Surprise",
    "Sympathy",
    "Triumph",
];

/// The 14 affective dimensions of the ratings, in the file's column order.
pub const DIMENSION_NAMES: [&str; 14] = [
    "approach",
    "arousal",
    "attention",
    "certainty",
    "commitment",
    "control",
    "dominance",
    "effort",
    "fairness",
    "identity",
    "obstruction",
    "safety",
    "upswing",
    "valence",
];

/// The ratings of a set of stimuli, rows in stimulus order.
pub struct Ratings {
    /// Stimulus ids, in file order.
    pub stimuli: Vec<String>,
    /// stimuli × 34, fractions in [0, 1].
    pub categories: Array2<f64>,
    /// stimuli × 14, means in [1, 9].
    pub dimensions: Array2<f64>,
}

impl Ratings {
    /// `#{stimuli, categories, dimensions, ...}` for scripts.
    pub fn to_value(&self) -> Value {
        let names = |v: &[&str]| Value::List(v.iter().map(|s| Value::Str(s.to_string())).collect());
        let mut m = Map::new();
        m.insert(
            "stimuli".into(),
            Value::List(self.stimuli.iter().map(|s| Value::Str(s.clone())).collect()),
        );
        m.insert(
            "categories".into(),
            Value::Tensor(Tensor::from_array(self.categories.clone())),
        );
        m.insert(
            "dimensions".into(),
            Value::Tensor(Tensor::from_array(self.dimensions.clone())),
        );
        m.insert("category_names".into(), names(&CATEGORY_NAMES));
        m.insert("dimension_names".into(), names(&DIMENSION_NAMES));
        Value::Map(m)
    }
}

/// A stimulus list: one file name per line (blank lines ignored), no duplicates.
pub fn read_stimulus_list(path: &Path) -> Result<Vec<String>> {
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read stimulus list {}", path.display()))?;
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (i, line) in s.lines().enumerate() {
        let name = line.trim().trim_start_matches('\u{feff}');
        if name.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(name.to_string(), i + 1) {
            bail!(
                "{}:{}: stimulus '{name}' is listed twice (first on line {first})",
                path.display(),
                i + 1
            );
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// Read the ratings, restricted to and ordered by `stimuli` when given (otherwise file order).
pub fn read_ratings(path: &Path, stimuli: Option<&[String]>) -> Result<Ratings> {
    let t = read_table(path, b',', true)?;
    ensure!(
        t.header.first().map(String::as_str) == Some("Filename"),
        "{}: the first column must be 'Filename' (Cowen & Keltner layout), found '{}'",
        path.display(),
        t.header.first().cloned().unwrap_or_default()
    );
    ensure!(
        t.header.len() >= 49,
        "{}: expected at least 49 columns (Filename, 34 categories, 14 dimensions), found {}",
        path.display(),
        t.header.len()
    );
    for (k, want) in CATEGORY_NAMES
        .iter()
        .chain(DIMENSION_NAMES.iter())
        .enumerate()
    {
        ensure!(
            t.header[k + 1] == *want,
            "{}: column {} should be '{want}' (Cowen & Keltner layout), found '{}'",
            path.display(),
            k + 2,
            t.header[k + 1]
        );
    }
    let index: HashMap<&str, usize> = t
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r[0].as_str(), i))
        .collect();
    let order: Vec<(String, usize)> = match stimuli {
        Some(list) => {
            let missing: Vec<&str> = list
                .iter()
                .filter(|s| !index.contains_key(s.as_str()))
                .map(String::as_str)
                .collect();
            ensure!(
                missing.is_empty(),
                "{}: {} listed stimuli have no ratings, e.g. {}",
                path.display(),
                missing.len(),
                missing
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            list.iter()
                .map(|s| (s.clone(), index[s.as_str()]))
                .collect()
        }
        None => t
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r[0].clone(), i))
            .collect(),
    };
    let n = order.len();
    let mut categories = Array2::zeros((n, 34));
    let mut dimensions = Array2::zeros((n, 14));
    for (i, (_, row)) in order.iter().enumerate() {
        for j in 0..34 {
            categories[[i, j]] = parse_number(&t, path, *row, 1 + j)?;
        }
        for j in 0..14 {
            dimensions[[i, j]] = parse_number(&t, path, *row, 35 + j)?;
        }
    }
    Ok(Ratings {
        stimuli: order.into_iter().map(|(s, _)| s).collect(),
        categories,
        dimensions,
    })
}

/// Where the real data lives: `$EMOSCOPE_DATA`, else `../shared/data` from the workspace root.
pub fn data_dir() -> std::path::PathBuf {
    match std::env::var_os("EMOSCOPE_DATA") {
        Some(p) => p.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> Option<std::path::PathBuf> {
        let d = data_dir();
        if d.join("cowen_keltner_2017_ratings.csv").exists() {
            Some(d)
        } else {
            eprintln!(
                "SKIPPED: real data not found at {} (set EMOSCOPE_DATA)",
                d.display()
            );
            None
        }
    }

    #[test]
    fn real_ratings_in_study_order() {
        let Some(d) = real() else { return };
        let list = read_stimulus_list(&d.join("stimuli_2180.txt")).unwrap();
        assert_eq!(list.len(), 2180);
        let r = read_ratings(&d.join("cowen_keltner_2017_ratings.csv"), Some(&list)).unwrap();
        assert_eq!(r.categories.dim(), (2180, 34));
        assert_eq!(r.dimensions.dim(), (2180, 14));
        assert_eq!(r.stimuli, list);
        let row = |name: &str| r.stimuli.iter().position(|s| s == name).unwrap();
        let col = |name: &str| CATEGORY_NAMES.iter().position(|s| *s == name).unwrap();
        assert!(r.categories[[row("0010.mp4"), col("Sexual Desire")]] > 0.9);
        assert!((r.categories[[row("0009.mp4"), col("Sadness")]] - 0.67).abs() < 0.01);
        // The duplicates are excluded: 0859.mp4 is not in the study's list.
        assert!(!r.stimuli.iter().any(|s| s == "0859.mp4"));
        // Scales: categories are fractions, dimensions 1-9 means.
        assert!(r.categories.iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert!(r.dimensions.iter().all(|&x| (1.0..=9.0).contains(&x)));
    }

    #[test]
    fn bad_cell_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        let header: Vec<&str> = std::iter::once("Filename")
            .chain(CATEGORY_NAMES)
            .chain(DIMENSION_NAMES)
            .collect();
        let good: Vec<String> = std::iter::once("0001.mp4".to_string())
            .chain((0..48).map(|_| "0.5".to_string()))
            .collect();
        let mut bad = good.clone();
        bad[0] = "0002.mp4".into();
        bad[5] = "n/a".into();
        std::fs::write(
            &p,
            format!(
                "{}\n{}\n{}\n",
                header.join(","),
                good.join(","),
                bad.join(",")
            ),
        )
        .unwrap();
        let e = read_ratings(&p, None).err().unwrap().to_string();
        assert!(
            e.contains("r.csv:3:") && e.contains("'Anger'") && e.contains("'n/a'"),
            "{e}"
        );
        let e = read_ratings(&p, Some(&["0003.mp4".to_string()]))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("0003.mp4"), "{e}");
    }
}
