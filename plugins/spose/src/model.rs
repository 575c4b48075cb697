//! The SPoSE model itself, shared by both engines and the analyses: the choice probabilities,
//! initialisation, pruning, held-out evaluation and the model's predicted similarity.
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{ensure, vmap, Ctx, Result, Tensor, Value};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

/// A dimension is active (kept when pruning) if its largest weight over items exceeds this.
pub const ACTIVE_THRESHOLD: f64 = 0.1;

/// The reference's initialisation: every weight drawn from N(0.1, 0.01²).
pub fn init(n_items: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::seed_from_u64(seed);
    let normal = Normal::new(0.1f32, 0.01).expect("valid normal");
    (0..n_items * dims)
        .map(|_| normal.sample(&mut rng))
        .collect()
}

#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Four partial sums: lets the compiler use independent SIMD accumulators.
    let mut s = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            s[l] += x[l] * y[l];
        }
    }
    let mut t = (s[0] + s[4]) + (s[1] + s[5]) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (x, y) in ra.iter().zip(rb) {
        t += x * y;
    }
    t
}

/// Log-probabilities of keeping each pair of a triplet (i, j, k), in the order
/// [keep (i, j), keep (i, k), keep (j, k)], from the three dot products.
#[inline]
pub fn log_probs(s_ij: f64, s_ik: f64, s_jk: f64) -> [f64; 3] {
    let m = s_ij.max(s_ik).max(s_jk);
    let z = ((s_ij - m).exp() + (s_ik - m).exp() + (s_jk - m).exp()).ln() + m;
    [s_ij - z, s_ik - z, s_jk - z]
}

/// Dimensions whose largest weight exceeds the threshold, sorted by L1 norm, descending.
pub fn active_dims(x: ArrayView2<f64>) -> Vec<usize> {
    let mut keep: Vec<(usize, f64)> = (0..x.ncols())
        .filter(|&d| x.column(d).iter().any(|&v| v > ACTIVE_THRESHOLD))
        .map(|d| (d, x.column(d).iter().map(|v| v.abs()).sum()))
        .collect();
    keep.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    keep.into_iter().map(|(d, _)| d).collect()
}

/// The pruned embedding: active dimensions only, sorted by L1 norm (the reference's output).
pub fn prune(x: ArrayView2<f64>) -> Array2<f64> {
    let keep = active_dims(x);
    Array2::from_shape_fn((x.nrows(), keep.len()), |(i, c)| x[[i, keep[c]]])
}

/// Held-out performance of an embedding on judged triplets.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The most similar pair by dot product is the observed pair; ties count as wrong.
    pub accuracy: f64,
    pub accuracy_ci: [f64; 2],
    /// Mean −log P(observed pair).
    pub cross_entropy: f64,
    pub cross_entropy_ci: [f64; 2],
    pub n: usize,
}

pub fn evaluate(x: ArrayView2<f64>, triplets: &[Triplet], ctx: &Ctx) -> Result<Evaluation> {
    ensure!(!triplets.is_empty(), "no triplets to evaluate");
    let x = x.as_standard_layout();
    let d = x.ncols();
    let data = x.as_slice().expect("standard layout");
    let row = |i: u32| &data[i as usize * d..(i as usize + 1) * d];
    let dot64 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    ctx.check()?;
    let (correct, ce, ce2) = triplets
        .par_iter()
        .map(|t| {
            let (a, b, c) = (row(t[0]), row(t[1]), row(t[2]));
            let (s_ij, s_ik, s_jk) = (dot64(a, b), dot64(a, c), dot64(b, c));
            let lp = log_probs(s_ij, s_ik, s_jk)[0];
            (usize::from(s_ij > s_ik && s_ij > s_jk), -lp, lp * lp)
        })
        .reduce(|| (0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    let n = triplets.len() as f64;
    let acc = correct as f64 / n;
    // Normal-approximation 95% intervals: binomial for accuracy, the mean's SE for the loss.
    let se_acc = (acc * (1.0 - acc) / n).sqrt();
    let mean = ce / n;
    let sd = ((ce2 / n - mean * mean).max(0.0) * n / (n - 1.0).max(1.0)).sqrt();
    let se_ce = sd / n.sqrt();
    Ok(Evaluation {
        accuracy: acc,
        accuracy_ci: [acc - 1.96 * se_acc, acc + 1.96 * se_acc],
        cross_entropy: mean,
        cross_entropy_ci: [mean - 1.96 * se_ce, mean + 1.96 * se_ce],
        n: triplets.len(),
    })
}

/// The model's choice-probability similarity of items a and b among `items`: the probability
/// that they are kept together, averaged over every third item k of the whole set.
/// O(|items|² · n): computed from the full n × n dot-product matrix, row by row.
pub fn predict_rsm(x: ArrayView2<f64>, items: &[usize], ctx: &Ctx) -> Result<Array2<f64>> {
    let n = x.nrows();
    let s = emoscope_sdk::linalg::matmul(x, x.t());
    let k = items.len();
    let bar = ctx.progress("spose::predict_rsm", k as u64);
    let rows: Vec<Vec<f64>> = (0..k)
        .into_par_iter()
        .map(|p| -> Result<Vec<f64>> {
            ctx.check()?;
            let a = items[p];
            let mut out = vec![1.0; k];
            // Per pair (a, b): mean over k ≠ a, b of exp(s_ab) / (exp(s_ab) + exp(s_ak) + exp(s_bk)).
            for q in p + 1..k {
                let b = items[q];
                let sab = s[[a, b]];
                let mut acc = 0.0;
                for c in 0..n {
                    if c == a || c == b {
                        continue;
                    }
                    let (sac, sbc) = (s[[a, c]], s[[b, c]]);
                    let m = sab.max(sac).max(sbc);
                    let (ea, eb, ec) = ((sab - m).exp(), (sac - m).exp(), (sbc - m).exp());
                    acc += ea / (ea + eb + ec);
                }
                out[q] = acc / (n - 2) as f64;
            }
            bar.inc(1);
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut m = Array2::from_elem((k, k), 1.0);
    for p in 0..k {
        for q in p + 1..k {
            m[[p, q]] = rows[p][q];
            m[[q, p]] = rows[p][q];
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn log_probs_are_a_softmax() {
        let lp = log_probs(1.0, 0.0, 0.5);
        let z = 1f64.exp() + 1.0 + 0.5f64.exp();
        assert!((lp[0] - (1f64.exp() / z).ln()).abs() < 1e-12);
        assert!((lp.iter().map(|v| v.exp()).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn prune_keeps_active_dims_by_l1() {
        let x = array![[0.05, 0.5, 0.2], [0.05, 0.0, 0.3], [0.0, 0.0, 0.3]];
        // dim 0 never exceeds 0.1: dropped; dim 2 (L1 0.8) before dim 1 (0.5).
        assert_eq!(active_dims(x.view()), vec![2, 1]);
        assert_eq!(prune(x.view()).column(0).to_vec(), vec![0.2, 0.3, 0.3]);
    }

    #[test]
    fn evaluation_by_hand() {
        // Items 0 and 1 alike, 2 apart.
        let x = array![[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let t = [[0, 1, 2], [0, 2, 1]];
        let e = evaluate(x.view(), &t, &Ctx::detached()).unwrap();
        assert_eq!(e.accuracy, 0.5);
        // Row 0: s = (1, 0, 0): −log(e/(e+2)); row 1: s_02 = 0, others (1, 0): −log(1/(e+2)).
        let e1 = 1f64.exp();
        let want = (-(e1 / (e1 + 2.0)).ln() - (1.0 / (e1 + 2.0)).ln()) / 2.0;
        assert!((e.cross_entropy - want).abs() < 1e-12);
        // A tie is wrong: identical items.
        let tie = array![[1.0], [1.0], [1.0]];
        assert_eq!(
            evaluate(tie.view(), &[[0, 1, 2]], &Ctx::detached())
                .unwrap()
                .accuracy,
            0.0
        );
    }

    #[test]
    fn predicted_rsm_matches_a_direct_sum() {
        let x = array![[1.0, 0.2], [0.9, 0.1], [0.0, 1.0], [0.3, 0.3]];
        let m = predict_rsm(x.view(), &[0, 1, 2, 3], &Ctx::detached()).unwrap();
        let d = |a: usize, b: usize| x.row(a).dot(&x.row(b));
        let p01 = [2usize, 3]
            .iter()
            .map(|&k| d(0, 1).exp() / (d(0, 1).exp() + d(0, k).exp() + d(1, k).exp()))
            .sum::<f64>()
            / 2.0;
        assert!((m[[0, 1]] - p01).abs() < 1e-12 && (m[[1, 0]] - p01).abs() < 1e-12);
        assert_eq!(m[[2, 2]], 1.0);
        let sub = predict_rsm(x.view(), &[1, 0], &Ctx::detached()).unwrap();
        assert!((sub[[0, 1]] - p01).abs() < 1e-12);
    }
}

/// Held-out performance: accuracy (the most similar pair by dot product is the observed one; ties count as wrong) and mean cross-entropy, each with a 95% interval.
#[derive(emoscope_sdk::Options, emoscope_sdk::Step)]
#[step(
    name = "evaluate",
    param(X: Tensor = "items × dims embedding"),
    param(triplets: Tensor = "N × 3 judged held-out triplets"),
    returns = "#{accuracy, accuracy_ci, cross_entropy, cross_entropy_ci, n}",
    section = "Methods: SPoSE embedding (held-out accuracy)",
    example = "let ev = spose::evaluate(fit.embedding, parts.test);"
)]
pub struct Evaluate {}

impl emoscope_sdk::step::Step for Evaluate {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let x = crate::embedding(&args[0], "X")?;
        let t = crate::rows(&args[1], "triplets", Some(x.nrows()))?;
        let e = evaluate(x.view(), &t, ctx)?;
        Ok(vmap! {
            "accuracy" => e.accuracy,
            "accuracy_ci" => Tensor::from_vec(e.accuracy_ci.to_vec(), &[2])?,
            "cross_entropy" => e.cross_entropy,
            "cross_entropy_ci" => Tensor::from_vec(e.cross_entropy_ci.to_vec(), &[2])?,
            "n" => e.n,
        })
    }
}

/// The model's choice-probability similarity: for each pair of items, the probability that they are kept together, averaged over every other item of the set as the third.
#[derive(emoscope_sdk::Options, emoscope_sdk::Step)]
#[step(
    name = "predict_rsm",
    param(X: Tensor = "items × dims embedding"),
    returns = "k × k f64 tensor, 1 on the diagonal",
    section = "Methods: human–model consistency (predicted RSM)",
    example = "let P = spose::predict_rsm(fit.embedding, #{items: protos.indices});"
)]
pub struct PredictRsm {
    /// restrict the rows and columns to these items (the third items still range over all); e.g. the validation prototypes
    #[opt(doc_default = "all items")]
    pub items: Option<Tensor>,
}

impl emoscope_sdk::step::Step for PredictRsm {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let x = crate::embedding(&args[0], "X")?;
        let items: Vec<usize> = match &self.items {
            Some(t) => t
                .to_i64()?
                .iter()
                .map(|&i| {
                    ensure!(
                        i >= 0 && (i as usize) < x.nrows(),
                        "items: {i} is out of range for {} items",
                        x.nrows()
                    );
                    Ok(i as usize)
                })
                .collect::<Result<_>>()?,
            None => (0..x.nrows()).collect(),
        };
        ensure!(x.nrows() >= 3, "predict_rsm needs at least 3 items");
        Ok(Value::Tensor(Tensor::from_array(predict_rsm(
            x.view(),
            &items,
            ctx,
        )?)))
    }
}
