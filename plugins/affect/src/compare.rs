//! Comparing two systems' embeddings of the same stimuli: their representational similarity
//! matrices, the correlation of every component of one with every component of the other, and
//! the one-to-one matching of components that maximises the summed correlation; the
//! `affect::compare` step.
use crate::script::{ensure_finite, floats, ints, matrix, positional};
use emoscope_sdk::linalg::{similarity_matrix, Similarity};
use emoscope_sdk::stats::{pearson, spearman};
use emoscope_sdk::step::{self, Choice as _, StepSpec};
use emoscope_sdk::{ensure, vmap, Choice, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::{Array2, ArrayView2};
use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

/// How the RSMs are correlated.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Spearman's rank correlation
    Spearman,
    /// Pearson's r
    Pearson,
}

/// The similarity of two stimuli in one system's RSM: a choice of its own rather than the sdk's
/// `Similarity`, because only these two are offered to scripts here.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Pearson r of the two stimuli's components (needs ≥ 2 components)
    Pearson,
    /// cosine of the two stimuli's component vectors
    Cosine,
}

impl Metric {
    /// The sdk's similarity this metric computes.
    pub fn similarity(self) -> Similarity {
        match self {
            Metric::Pearson => Similarity::Pearson,
            Metric::Cosine => Similarity::Cosine,
        }
    }
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

/// The result of [`compare`].
pub struct Output {
    /// Correlation of the two RSMs over their strict upper triangles.
    pub rsm_r: f64,
    /// da × db.
    pub r: Array2<f64>,
    /// (a, b, r), ordered by a.
    pub matches: Vec<(usize, usize, f64)>,
    /// Mean r over the matches.
    pub mean_matched_r: f64,
}

/// Compare two systems' embeddings of the same stimuli: RSM agreement, component correlations
/// and the matching that maximises the summed r.
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
    ensure_finite(a, "A")?;
    ensure_finite(b, "B")?;
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

/// Compare two systems' embeddings of the same stimuli (rows aligned; component counts may differ).
/// rsm_r: the correlation (`method`) between the two stimulus × stimulus similarity matrices
/// (`metric`) over the strict upper triangle. r: Pearson r over stimuli between every component of
/// A and every component of B. matches: the one-to-one pairing of min(components) components that
/// maximises the summed r (Hungarian algorithm, Kuhn–Munkres on r scaled by 1e9 and rounded),
/// ordered by A's component.
#[derive(Options, Step)]
#[step(
    name = "compare",
    param(A: Tensor = "stimuli × components of the first system"),
    param(B: Tensor = "stimuli × components of the second system (same stimuli, same order)"),
    returns = "#{rsm_r, r (components of A × components of B f64), matches: #{a: [int], b: [int], r: [float]}, mean_matched_r, metric, method}",
    section = "Results: comparing systems (human and model affective spaces: RSM agreement and matched components)",
    example = "let C = affect::compare(X_human, X_model, #{metric: \"pearson\", method: \"spearman\"});\nprint(`RSM r ${C.rsm_r}, mean matched r ${C.mean_matched_r}`);",
)]
pub struct Compare {
    /// RSM similarity: "pearson" (needs ≥ 2 components) or "cosine"
    #[opt(default = Metric::Pearson)]
    pub metric: Metric,
    /// RSM comparison: "spearman" or "pearson"
    #[opt(default = Method::Spearman)]
    pub method: Method,
}

impl step::Step for Compare {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let [a, b] = positional(args, Self::NAME, ["A", "B"])?;
        let a = matrix(a, "A")?;
        let b = matrix(b, "B")?;
        let out = compare(a.view(), b.view(), self.metric.similarity(), self.method)?;
        let am: Vec<usize> = out.matches.iter().map(|m| m.0).collect();
        let bm: Vec<usize> = out.matches.iter().map(|m| m.1).collect();
        let rm: Vec<f64> = out.matches.iter().map(|m| m.2).collect();
        Ok(vmap! {
            "rsm_r" => out.rsm_r,
            "r" => Tensor::from_array(out.r),
            "matches" => vmap! {"a" => ints(&am), "b" => ints(&bm), "r" => floats(&rm)},
            "mean_matched_r" => out.mean_matched_r,
            "metric" => self.metric.name(),
            "method" => self.method.name(),
        })
    }
}
