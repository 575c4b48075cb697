//! Comparing two systems' embeddings of the same stimuli: their representational similarity
//! matrices, the correlation of every component of one with every component of the other, and
//! the one-to-one matching of components that maximises the summed correlation.
use emoscope_sdk::linalg::{similarity_matrix, Similarity};
use emoscope_sdk::stats::{pearson, spearman};
use emoscope_sdk::{bail, ensure, Result};
use ndarray::{Array2, ArrayView2};
use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

/// How the RSMs are correlated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Spearman,
    Pearson,
}

impl Method {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "spearman" => Method::Spearman,
            "pearson" => Method::Pearson,
            other => bail!("method must be \"spearman\" or \"pearson\", got \"{other}\""),
        })
    }
}

pub fn parse_metric(s: &str) -> Result<Similarity> {
    Ok(match s {
        "pearson" => Similarity::Pearson,
        "cosine" => Similarity::Cosine,
        other => bail!(
            "metric must be \"pearson\" or \"cosine\" (the RSM's similarity), got \"{other}\""
        ),
    })
}

/// The strict upper triangle of a square matrix, row by row.
pub fn upper_triangle(s: ArrayView2<f64>) -> Vec<f64> {
    let n = s.nrows();
    let mut v = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            v.push(s[[i, j]]);
        }
    }
    v
}

/// Correlation of the two stimulus RSMs over their strict upper triangles.
pub fn rsm_correlation(
    a: ArrayView2<f64>,
    b: ArrayView2<f64>,
    metric: Similarity,
    method: Method,
) -> f64 {
    let sa = upper_triangle(similarity_matrix(a, metric).view());
    let sb = upper_triangle(similarity_matrix(b, metric).view());
    match method {
        Method::Spearman => spearman(&sa, &sb),
        Method::Pearson => pearson(&sa, &sb),
    }
}

/// The one-to-one matching of rows to columns of `r` (min(rows, cols) pairs) that maximises
/// Σ r, by the Hungarian algorithm (`pathfinding`'s Kuhn–Munkres, which needs integer weights:
/// r is scaled by 1e9 and rounded, so matchings within ~1e-9 of each other in summed r may be
/// told apart arbitrarily). Returns (row, column) pairs ordered by row.
pub fn hungarian_max(r: ArrayView2<f64>) -> Vec<(usize, usize)> {
    let (m, n) = r.dim();
    if m == 0 || n == 0 {
        return Vec::new();
    }
    let scaled = |v: f64| (v * 1e9).round() as i64;
    if m <= n {
        let w = Matrix::from_fn(m, n, |(i, j)| scaled(r[[i, j]]));
        let (_, assign) = kuhn_munkres(&w);
        assign.into_iter().enumerate().collect()
    } else {
        let w = Matrix::from_fn(n, m, |(j, i)| scaled(r[[i, j]]));
        let (_, assign) = kuhn_munkres(&w);
        let mut pairs: Vec<(usize, usize)> = assign
            .into_iter()
            .enumerate()
            .map(|(j, i)| (i, j))
            .collect();
        pairs.sort();
        pairs
    }
}

pub struct Output {
    pub rsm_r: f64,
    /// da × db.
    pub r: Array2<f64>,
    /// (a, b, r), ordered by a.
    pub matches: Vec<(usize, usize, f64)>,
    pub mean_matched_r: f64,
}

pub fn compare(
    a: ArrayView2<f64>,
    b: ArrayView2<f64>,
    metric: Similarity,
    method: Method,
) -> Result<Output> {
    ensure!(
        a.nrows() == b.nrows(),
        "A has {} rows (stimuli) but B has {}: both must hold the same stimuli in the same order",
        a.nrows(),
        b.nrows()
    );
    ensure!(
        a.nrows() >= 3,
        "need at least 3 stimuli (rows) to compare, got {}",
        a.nrows()
    );
    ensure!(
        a.ncols() >= 1 && b.ncols() >= 1,
        "A and B need at least one component (column) each, got {} and {}",
        a.ncols(),
        b.ncols()
    );
    if metric == Similarity::Pearson {
        ensure!(
            a.ncols() >= 2 && b.ncols() >= 2,
            "metric \"pearson\" correlates each stimulus's components, so it needs at least 2 components per system (A has {}, B has {}): use metric \"cosine\"",
            a.ncols(),
            b.ncols()
        );
    }
    crate::label::ensure_finite(a, "A")?;
    crate::label::ensure_finite(b, "B")?;
    let rsm_r = rsm_correlation(a, b, metric, method);
    let r = crate::label::correlations(a, b);
    let matches: Vec<(usize, usize, f64)> = hungarian_max(r.view())
        .into_iter()
        .map(|(i, j)| (i, j, r[[i, j]]))
        .collect();
    let mean_matched_r = matches.iter().map(|m| m.2).sum::<f64>() / matches.len() as f64;
    Ok(Output {
        rsm_r,
        r,
        matches,
        mean_matched_r,
    })
}
