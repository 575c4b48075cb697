//! scikit-learn's trustworthiness of a low-dimensional map, and the `affect::trustworthiness`
//! step.
use super::sq_distances;
use crate::script::{ensure_finite, matrix, positional, x_matrix};
use emoscope_sdk::step::{self, StepSpec};
use emoscope_sdk::{ensure, Ctx, Options, Result, Step, Value};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// scikit-learn's `sklearn.manifold.trustworthiness(X, Y, n_neighbors=k)` with Euclidean
/// distances: 1 − 2/(n k (2n − 3k − 1)) Σ_i Σ_{j ∈ N_k^Y(i)} max(0, r(i, j) − k), where r(i, j)
/// is j's rank (1 = nearest) among i's neighbours in X and N_k^Y(i) are i's k nearest in Y
/// (each point excluded from its own neighbours; distance ties to the lower index).
pub fn trustworthiness(x: ArrayView2<f64>, y: ArrayView2<f64>, k: usize) -> Result<f64> {
    let n = x.nrows();
    ensure!(
        y.nrows() == n,
        "X has {n} rows (stimuli) but the embedding Y has {}: rows must be the same stimuli",
        y.nrows()
    );
    ensure!(
        x.ncols() >= 1 && y.ncols() >= 1,
        "X and Y need at least one column each"
    );
    ensure!(k >= 1, "k must be at least 1, got {k}");
    ensure!(
        (k as f64) < n as f64 / 2.0,
        "k ({k}) must be below half the number of stimuli ({} / 2), as in scikit-learn",
        n
    );
    ensure_finite(x, "X")?;
    ensure_finite(y, "Y")?;
    let dx = sq_distances(x);
    let dy = sq_distances(y);
    let penalty: u64 = (0..n)
        .into_par_iter()
        .map(|i| {
            let order = |d: &[f64]| {
                let mut o: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                o.sort_by(|&a, &b| d[a].total_cmp(&d[b]).then(a.cmp(&b)));
                o
            };
            let ox = order(&dx[i * n..(i + 1) * n]);
            let mut rank = vec![0usize; n];
            for (r, &j) in ox.iter().enumerate() {
                rank[j] = r + 1;
            }
            let oy = order(&dy[i * n..(i + 1) * n]);
            oy[..k]
                .iter()
                .map(|&j| rank[j].saturating_sub(k) as u64)
                .sum::<u64>()
        })
        .collect::<Vec<u64>>()
        .iter()
        .sum();
    let (nf, kf) = (n as f64, k as f64);
    Ok(1.0 - penalty as f64 * (2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0))))
}

/// How well a low-dimensional map keeps each stimulus's neighbours: scikit-learn's
/// sklearn.manifold.trustworthiness with Euclidean distances. T = 1 − 2 / (n k (2n − 3k − 1)) Σ_i
/// Σ_{j among i's k nearest in Y} max(0, r(i, j) − k), where r(i, j) is j's rank (1 = nearest)
/// among i's neighbours in X. 1 when every map neighbour is a true neighbour. Distance ties go to
/// the lower stimulus index.
#[derive(Options, Step)]
#[step(
    name = "trustworthiness",
    param(X: Tensor = "stimuli × dims (the original space)"),
    param(Y: Tensor = "stimuli × dims (the map, e.g. affect::tsne(X).coords)"),
    returns = "float in (-∞, 1] (≈ 0.5 for a random map, 1 for a perfect one)",
    section = "Results: the map of the affective space (how faithful the 2-D map is)",
    example = "let t5 = affect::trustworthiness(X, m.coords, #{k: 5});",
)]
pub struct Trustworthiness {
    /// neighbours; below half the number of stimuli
    #[opt(default = 5)]
    pub k: usize,
}

impl step::Step for Trustworthiness {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let [x, y] = positional(args, Self::NAME, ["X", "Y"])?;
        let x = x_matrix(x)?;
        let y = matrix(y, "Y")?;
        Ok(Value::from(trustworthiness(x.view(), y.view(), self.k)?))
    }
}
