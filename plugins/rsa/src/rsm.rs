//! Representational similarity matrices: the similarity of every pair of stimuli, and the
//! upper-triangle view that every comparison of RSMs works on.
use emoscope_sdk::linalg::{similarity_matrix, Similarity};
use emoscope_sdk::step;
use emoscope_sdk::{ensure, Choice, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::{ArcArray2, Array2, ArrayView2};
use rayon::prelude::*;

/// How the similarity of two stimuli's patterns is measured, for `rsa::rsm`, `rsa::roi` and the
/// searchlight's sphere RSMs alike, so that a neural RSM is the same whichever step builds it.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Pearson correlation of the two patterns
    Pearson,
    /// cosine of the angle between the two patterns
    Cosine,
    /// Pearson correlation of the patterns' average ranks (ties share their mean rank)
    Spearman,
    /// the negative Euclidean distance, so larger is more similar
    Euclidean,
}

/// Similarity of every pair of rows (stimuli) of a feature matrix: a representational
/// similarity matrix.
#[derive(Options, Step)]
#[step(
    name = "rsm",
    param(X: Tensor = "stimuli × features"),
    returns = "stimuli × stimuli f64 tensor, symmetric; ones on the diagonal for non-constant rows (pearson, cosine, spearman), zeros for euclidean",
    section = "Methods: representational similarity analysis",
    example = "let S = rsa::rsm(tensor::randn([20, 5], #{seed: 1}), #{metric: \"euclidean\"});"
)]
pub struct Rsm {
    /// pearson, cosine, spearman (average ranks for ties) or euclidean (the negative Euclidean
    /// distance, so larger is more similar)
    #[opt(default = Metric::Pearson)]
    pub metric: Metric,
}

impl step::Step for Rsm {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
        Ok(Value::Tensor(Tensor::from_array(rsm_matrix(
            x.view(),
            self.metric,
        ))))
    }
}

/// The stimuli × stimuli similarity matrix of the rows of `x`: pearson, cosine, spearman (the
/// sdk's `similarity_matrix`) or euclidean (−‖xᵢ − xⱼ‖, computed from the differences).
pub fn rsm_matrix(x: ArrayView2<f64>, metric: Metric) -> Array2<f64> {
    match metric {
        Metric::Pearson => similarity_matrix(x, Similarity::Pearson),
        Metric::Cosine => similarity_matrix(x, Similarity::Cosine),
        Metric::Spearman => similarity_matrix(x, Similarity::Spearman),
        Metric::Euclidean => {
            let n = x.nrows();
            let rows: Vec<Vec<f64>> = (0..n)
                .into_par_iter()
                .map(|i| {
                    (0..n)
                        .map(|j| {
                            let d: f64 = x
                                .row(i)
                                .iter()
                                .zip(x.row(j))
                                .map(|(a, b)| (a - b) * (a - b))
                                .sum();
                            -d.sqrt()
                        })
                        .collect()
                })
                .collect();
            Array2::from_shape_fn((n, n), |(i, j)| rows[i.min(j)][i.max(j)])
        }
    }
}

/// Upper triangle (i < j) of a square matrix, row by row: the pairs an RSM comparison uses
/// (the diagonal is constant and the lower triangle repeats the upper).
pub(crate) fn upper(m: ArrayView2<f64>) -> Vec<f64> {
    let n = m.nrows();
    (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| m[[i, j]])
        .collect()
}

/// A tensor that must be an RSM, as a square matrix; `what` names it in the error.
pub(crate) fn square(t: &Tensor, what: &str) -> Result<ArcArray2<f64>> {
    let m = t.matrix::<f64>(what)?;
    ensure!(
        m.nrows() == m.ncols(),
        "{what} must be square (an RSM), got {}×{}",
        m.nrows(),
        m.ncols()
    );
    Ok(m)
}
