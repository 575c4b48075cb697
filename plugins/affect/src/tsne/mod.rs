//! Exact 2-D t-SNE of the stimuli (rows of X), and sklearn's trustworthiness of an embedding.
//!
//! Why hand-written rather than a crate: the one maintained Rust t-SNE, `bhtsne` (0.7), sums
//! the Q normaliser with a rayon `par_iter().sum()`, whose float reduction order depends on
//! work stealing (so results vary with the thread count), draws its random initialisation from
//! the thread-local RNG (no seed), panics on bad input, and pulls in FFT crates. The study's
//! sizes (a few thousand stimuli) allow exact t-SNE, O(n²) per iteration, which is short code:
//! this file follows scikit-learn's `TSNE(method="exact")` step by step (perplexity binary
//! search, symmetrised P, early exaggeration for 250 iterations with momentum 0.5, then 0.8,
//! delta-bar-delta gains, learning rate "auto", convergence checks every 50 iterations), with
//! every sum taken in a fixed order so the result is the same on any number of threads.
//!
//! The PCA of the initialisation is in [`pca`], trustworthiness (how faithful a map is) in
//! [`trust`]; this module keeps the t-SNE itself and the `affect::tsne` step.
mod pca;
mod trust;

pub use pca::{jacobi_eigen, pca_scores};
pub use trust::{trustworthiness, Trustworthiness};

use crate::script::{ensure_finite, positional, x_matrix};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::step::{self, StepSpec};
use emoscope_sdk::{bail, ensure, vmap, Choice, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::{Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

/// numpy's `np.finfo(np.double).eps`, sklearn's MACHINE_EPSILON floor on P.
const MACHINE_EPSILON: f64 = f64::EPSILON;
/// sklearn's `_EXPLORATION_MAX_ITER`: iterations run with early exaggeration and momentum 0.5.
pub const EXPLORATION_ITER: usize = 250;
/// sklearn's `_N_ITER_CHECK`: the error and gradient norm are checked every this many iterations.
const N_ITER_CHECK: usize = 50;
/// sklearn's defaults `n_iter_without_progress` and `min_grad_norm`.
const N_ITER_WITHOUT_PROGRESS: usize = 300;
const MIN_GRAD_NORM: f64 = 1e-7;
/// Exact t-SNE keeps P as an n × n f64 matrix: refuse sizes whose P would not fit comfortably.
pub const MAX_POINTS: usize = 10_000;

/// How the 2-D coordinates start.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// the first two principal components of X scaled to standard deviation 1e-4
    /// (scikit-learn's and openTSNE's default; deterministic: the seed is not used)
    Pca,
    /// N(0, 1e-4²) from the seed (ChaCha8; scikit-learn's init="random")
    Random,
}

/// The parameters of [`tsne`] (the `affect::tsne` options, the seed resolved).
#[derive(Clone, Debug)]
pub struct Config {
    /// Effective number of neighbours; below the number of stimuli.
    pub perplexity: f64,
    /// Total iterations, the 250 of early exaggeration included (sklearn's `max_iter`).
    pub iterations: usize,
    /// None: "auto", max(n / early_exaggeration / 4, 50).
    pub learning_rate: Option<f64>,
    /// P is multiplied by this for the first [`EXPLORATION_ITER`] iterations.
    pub early_exaggeration: f64,
    /// How the map starts.
    pub init: Init,
    /// Seed of the random start (unused with [`Init::Pca`]).
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            perplexity: 30.0,
            iterations: 1000,
            learning_rate: None,
            early_exaggeration: 12.0,
            init: Init::Pca,
            seed: 0,
        }
    }
}

/// The result of [`tsne`].
pub struct Output {
    /// n × 2.
    pub coords: Array2<f64>,
    /// KL(P‖Q) of the final coordinates (without exaggeration).
    pub kl_divergence: f64,
    /// Iterations run (fewer than asked when sklearn's convergence checks stop it early).
    pub iterations: usize,
    /// The learning rate used ("auto" resolved).
    pub learning_rate: f64,
}

/// Squared Euclidean distances between rows, n × n (row-major), diagonal 0.
fn sq_distances(x: ArrayView2<f64>) -> Vec<f64> {
    let n = x.nrows();
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut d = vec![0.0; n * n];
    d.par_chunks_mut(n).enumerate().for_each(|(i, out)| {
        let xi = &rows[i];
        for (j, o) in out.iter_mut().enumerate() {
            if j != i {
                *o = xi
                    .iter()
                    .zip(&rows[j])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
            }
        }
    });
    d
}

/// One row of conditional probabilities p(j|i) for the target perplexity: sklearn's
/// `_binary_search_perplexity` (natural-log entropy, precision beta on squared distances,
/// tolerance 1e-5, at most 100 steps, a zero sum replaced by 1e-8).
fn conditional_row(d: &[f64], i: usize, log_perplexity: f64, out: &mut [f64]) {
    let (mut beta, mut beta_min, mut beta_max) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..100 {
        let mut sum_p = 0.0;
        for (j, (o, &dj)) in out.iter_mut().zip(d).enumerate() {
            *o = if j == i { 0.0 } else { (-dj * beta).exp() };
            sum_p += *o;
        }
        if sum_p == 0.0 {
            sum_p = 1e-8;
        }
        let mut sum_dp = 0.0;
        for (o, &dj) in out.iter_mut().zip(d) {
            *o /= sum_p;
            sum_dp += dj * *o;
        }
        let entropy = sum_p.ln() + beta * sum_dp;
        let diff = entropy - log_perplexity;
        if diff.abs() <= 1e-5 {
            break;
        }
        if diff > 0.0 {
            beta_min = beta;
            beta = if beta_max == f64::INFINITY {
                beta * 2.0
            } else {
                (beta + beta_max) / 2.0
            };
        } else {
            beta_max = beta;
            beta = if beta_min == f64::NEG_INFINITY {
                beta / 2.0
            } else {
                (beta + beta_min) / 2.0
            };
        }
    }
}

/// The joint probabilities: conditional rows symmetrised, normalised to sum 1 over the whole
/// matrix, floored at machine epsilon off the diagonal (sklearn's `_joint_probabilities`).
pub fn joint_probabilities(x: ArrayView2<f64>, perplexity: f64) -> Vec<f64> {
    let n = x.nrows();
    let d = sq_distances(x);
    let lp = perplexity.ln();
    let mut c = vec![0.0; n * n];
    c.par_chunks_mut(n)
        .enumerate()
        .for_each(|(i, out)| conditional_row(&d[i * n..(i + 1) * n], i, lp, out));
    let mut p = vec![0.0; n * n];
    p.par_chunks_mut(n).enumerate().for_each(|(i, out)| {
        for (j, o) in out.iter_mut().enumerate() {
            *o = c[i * n + j] + c[j * n + i];
        }
    });
    let row_sums: Vec<f64> = p.par_chunks(n).map(|r| r.iter().sum::<f64>()).collect();
    let total = row_sums.iter().sum::<f64>().max(MACHINE_EPSILON);
    p.par_chunks_mut(n).enumerate().for_each(|(i, out)| {
        for (j, o) in out.iter_mut().enumerate() {
            *o = if i == j {
                0.0
            } else {
                (*o / total).max(MACHINE_EPSILON)
            };
        }
    });
    p
}

/// Per row i: the attractive sum Σ_j p_ij w_ij (y_i − y_j), the repulsive sum
/// Σ_j w_ij² (y_i − y_j), Σ_j w_ij and (when asked) Σ_j p_ij ln w_ij, with w_ij = 1/(1 + |y_i − y_j|²).
struct RowSums {
    attr: [f64; 2],
    rep: [f64; 2],
    z: f64,
    plogw: f64,
}

/// Lanes of the row kernel: each lane accumulates every LANES-th column, and the lanes are
/// added in a fixed tree at the end, so the sums are the same with or without SIMD.
const LANES: usize = 8;

/// One row's sums over all columns j (the diagonal included: there w = 1, p = 0, y_i − y_j = 0,
/// so only Σ w gains exactly 1, which the caller takes off). Written as independent lanes so
/// the compiler can vectorise it without reassociating any sum.
#[inline(always)]
pub(crate) fn row_kernel(xi: f64, yi: f64, yx: &[f64], yy: &[f64], pi: &[f64]) -> [f64; 5] {
    let mut acc = [[0.0f64; LANES]; 5];
    let n = yx.len();
    let full = n / LANES * LANES;
    let step = |acc: &mut [[f64; LANES]; 5], l: usize, xj: f64, yj: f64, pij: f64| {
        let dx = xi - xj;
        let dy = yi - yj;
        let w = 1.0 / (1.0 + dx * dx + dy * dy);
        let pw = pij * w;
        let ww = w * w;
        acc[0][l] += pw * dx;
        acc[1][l] += pw * dy;
        acc[2][l] += ww * dx;
        acc[3][l] += ww * dy;
        acc[4][l] += w;
    };
    for ((cx, cy), cp) in yx[..full]
        .chunks_exact(LANES)
        .zip(yy[..full].chunks_exact(LANES))
        .zip(pi[..full].chunks_exact(LANES))
    {
        let cx: &[f64; LANES] = cx.try_into().unwrap();
        let cy: &[f64; LANES] = cy.try_into().unwrap();
        let cp: &[f64; LANES] = cp.try_into().unwrap();
        for l in 0..LANES {
            step(&mut acc, l, cx[l], cy[l], cp[l]);
        }
    }
    for (l, j) in (full..n).enumerate() {
        step(&mut acc, l, yx[j], yy[j], pi[j]);
    }
    let tree = |a: &[f64; LANES]| ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    [
        tree(&acc[0]),
        tree(&acc[1]),
        tree(&acc[2]),
        tree(&acc[3]),
        tree(&acc[4]),
    ]
}

/// The same kernel compiled for AVX2 (no FMA, so every operation rounds exactly as the baseline
/// build's: the results are bit-identical, only faster).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(crate) fn row_kernel_avx2(xi: f64, yi: f64, yx: &[f64], yy: &[f64], pi: &[f64]) -> [f64; 5] {
    row_kernel(xi, yi, yx, yy, pi)
}

pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn row_sums(p: &[f64], y: &[[f64; 2]], with_log: bool) -> Vec<RowSums> {
    let n = y.len();
    let yx: Vec<f64> = y.iter().map(|v| v[0]).collect();
    let yy: Vec<f64> = y.iter().map(|v| v[1]).collect();
    let avx2 = has_avx2();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let pi = &p[i * n..(i + 1) * n];
            let (xi, yi) = (yx[i], yy[i]);
            #[cfg(target_arch = "x86_64")]
            let s = if avx2 {
                // SAFETY: `avx2` is only true when the CPU has AVX2.
                unsafe { row_kernel_avx2(xi, yi, &yx, &yy, pi) }
            } else {
                row_kernel(xi, yi, &yx, &yy, pi)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let s = {
                let _ = avx2;
                row_kernel(xi, yi, &yx, &yy, pi)
            };
            let mut plogw = 0.0;
            if with_log {
                for (j, &pij) in pi.iter().enumerate() {
                    if j != i {
                        let (dx, dy) = (xi - yx[j], yi - yy[j]);
                        plogw += pij * (1.0 / (1.0 + dx * dx + dy * dy)).ln();
                    }
                }
            }
            RowSums {
                attr: [s[0], s[1]],
                rep: [s[2], s[3]],
                z: s[4] - 1.0,
                plogw,
            }
        })
        .collect()
}

/// KL(P‖Q) and the gradient (n × 2, row-major into `grad`) for P scaled by `exaggeration`
/// (P itself sums to 1). The gradient is sklearn's exact one,
/// 4 Σ_j (e·p_ij − q_ij) w_ij (y_i − y_j) with q_ij = w_ij / Z; the KL (only when `with_kl`)
/// is Σ e·p ln(e·p / q) = e (Σ p ln p + ln e − Σ p ln w + ln Z). sklearn floors q at machine
/// epsilon; that only matters when some q < 2.2e-16, which the study's sizes never reach.
fn kl_and_gradient(
    p: &[f64],
    plogp: f64,
    y: &[[f64; 2]],
    exaggeration: f64,
    with_kl: bool,
    grad: &mut [[f64; 2]],
) -> f64 {
    let sums = row_sums(p, y, with_kl);
    let z: f64 = sums.iter().map(|s| s.z).sum();
    let zinv = 1.0 / z;
    for (g, s) in grad.iter_mut().zip(&sums) {
        g[0] = 4.0 * (exaggeration * s.attr[0] - s.rep[0] * zinv);
        g[1] = 4.0 * (exaggeration * s.attr[1] - s.rep[1] * zinv);
    }
    if with_kl {
        let plogw: f64 = sums.iter().map(|s| s.plogw).sum();
        exaggeration * (plogp + exaggeration.ln() - plogw + z.ln())
    } else {
        f64::NAN
    }
}

fn gaussian(rng: &mut Rng) -> f64 {
    let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn initial(x: ArrayView2<f64>, cfg: &Config) -> Result<Vec<[f64; 2]>> {
    let n = x.nrows();
    match cfg.init {
        Init::Random => {
            let mut rng = Rng::seed_from_u64(cfg.seed);
            Ok((0..n)
                .map(|_| [1e-4 * gaussian(&mut rng), 1e-4 * gaussian(&mut rng)])
                .collect())
        }
        Init::Pca => {
            let s = pca_scores(x, 2);
            let c0 = s.column(0);
            let sd = c0.std(0.0);
            ensure!(
                sd > 0.0,
                "X's rows are all identical: t-SNE needs stimuli that differ"
            );
            Ok(s.rows()
                .into_iter()
                .map(|r| [r[0] / sd * 1e-4, r[1] / sd * 1e-4])
                .collect())
        }
    }
}

pub fn validate(n: usize, cfg: &Config) -> Result<()> {
    ensure!(
        n >= 3,
        "t-SNE needs at least 3 stimuli (rows of X), got {n}"
    );
    ensure!(
        n <= MAX_POINTS,
        "exact t-SNE keeps an n × n matrix: {n} stimuli would need {:.1} GB; at most {MAX_POINTS} are allowed (subsample the stimuli)",
        (n * n * 8) as f64 / 1e9
    );
    ensure!(
        cfg.perplexity.is_finite() && cfg.perplexity > 0.0 && cfg.perplexity < n as f64,
        "perplexity must be a number > 0 and below the number of stimuli ({n}), got {} (the study used 30)",
        cfg.perplexity
    );
    ensure!(
        cfg.iterations >= EXPLORATION_ITER,
        "iterations must be at least {EXPLORATION_ITER} (the early-exaggeration phase, as in scikit-learn), got {}",
        cfg.iterations
    );
    ensure!(
        cfg.early_exaggeration.is_finite() && cfg.early_exaggeration >= 1.0,
        "early_exaggeration must be a number ≥ 1, got {}",
        cfg.early_exaggeration
    );
    if let Some(lr) = cfg.learning_rate {
        ensure!(
            lr.is_finite() && lr > 0.0,
            "learning_rate must be \"auto\" or a number > 0, got {lr}"
        );
    }
    Ok(())
}

/// Exact t-SNE of the rows of `x` into 2-D (scikit-learn's `TSNE(method="exact")` algorithm).
pub fn tsne(x: ArrayView2<f64>, cfg: &Config, ctx: &Ctx) -> Result<Output> {
    let n = x.nrows();
    validate(n, cfg)?;
    ensure!(x.ncols() >= 1, "X has no columns");
    ensure_finite(x, "X")?;
    let lr = cfg
        .learning_rate
        .unwrap_or_else(|| (n as f64 / cfg.early_exaggeration / 4.0).max(50.0));
    let p = joint_probabilities(x, cfg.perplexity);
    let plogp: f64 = p
        .par_chunks(n)
        .enumerate()
        .map(|(i, r)| {
            r.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &v)| v * v.ln())
                .sum::<f64>()
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    let mut y = initial(x, cfg)?;
    let mut grad = vec![[0.0f64; 2]; n];
    let bar = ctx.progress("affect::tsne iterations", cfg.iterations as u64);
    let mut it = 0usize;
    let mut ran = 0usize;
    // Two calls of sklearn's `_gradient_descent`: update and gains start afresh in each.
    for (phase_end, momentum, exaggeration, patience) in [
        (
            EXPLORATION_ITER,
            0.5,
            cfg.early_exaggeration,
            EXPLORATION_ITER,
        ),
        (cfg.iterations, 0.8, 1.0, N_ITER_WITHOUT_PROGRESS),
    ] {
        let mut update = vec![[0.0f64; 2]; n];
        let mut gains = vec![[1.0f64; 2]; n];
        let (mut best_error, mut best_iter) = (f64::MAX, it);
        while it < phase_end {
            ctx.check()?;
            let check = (it + 1).is_multiple_of(N_ITER_CHECK);
            let error = kl_and_gradient(&p, plogp, &y, exaggeration, check, &mut grad);
            let mut norm2 = 0.0;
            for ((g, u), (gn, yi)) in grad
                .iter_mut()
                .zip(update.iter_mut())
                .zip(gains.iter_mut().zip(y.iter_mut()))
            {
                for c in 0..2 {
                    if u[c] * g[c] < 0.0 {
                        gn[c] += 0.2;
                    } else {
                        gn[c] *= 0.8;
                    }
                    gn[c] = gn[c].max(0.01);
                    g[c] *= gn[c];
                    norm2 += g[c] * g[c];
                    u[c] = momentum * u[c] - lr * g[c];
                    yi[c] += u[c];
                }
            }
            bar.inc(1);
            ran += 1;
            let here = it;
            it += 1;
            if check {
                if !error.is_finite() || y.iter().any(|v| !v[0].is_finite() || !v[1].is_finite()) {
                    bail!(
                        "t-SNE diverged at iteration {it} (KL {error}): lower learning_rate (now {lr})"
                    );
                }
                if error < best_error {
                    best_error = error;
                    best_iter = here;
                } else if here - best_iter > patience {
                    break;
                }
                if norm2.sqrt() <= MIN_GRAD_NORM {
                    break;
                }
            }
        }
        // sklearn's second phase starts at the first's last iteration + 1 (`it` already is).
    }
    let kl = kl_and_gradient(&p, plogp, &y, 1.0, true, &mut grad);
    ensure!(
        kl.is_finite() && y.iter().all(|v| v[0].is_finite() && v[1].is_finite()),
        "t-SNE diverged (KL {kl}): lower learning_rate (now {lr})"
    );
    let coords = Array2::from_shape_fn((n, 2), |(i, c)| y[i][c]);
    Ok(Output {
        coords,
        kl_divergence: kl,
        iterations: ran,
        learning_rate: lr,
    })
}

/// A 2-D map of the stimuli (rows of X): exact t-SNE following scikit-learn's TSNE(method="exact")
/// step by step. Conditional probabilities by a binary search on each row's Gaussian precision to
/// the target perplexity (squared Euclidean distances, natural-log entropy, tolerance 1e-5),
/// symmetrised and normalised to sum 1 (floored at machine epsilon); Student-t (1 degree of
/// freedom) similarities in 2-D; gradient descent with early exaggeration for the first 250
/// iterations (momentum 0.5), then momentum 0.8, delta-bar-delta gains (+0.2 / ×0.8, min 0.01), and
/// scikit-learn's convergence checks every 50 iterations (stop after 300 without progress, or at
/// gradient norm ≤ 1e-7). O(n²) memory and time per iteration (at most 10,000 stimuli); every sum
/// is taken in a fixed order, so the result is the same for a seed on any number of threads.
#[derive(Options, Step)]
#[step(
    name = "tsne",
    param(X: Tensor = "stimuli × dims (the embedding)"),
    returns = "#{coords (stimuli × 2 f64), kl_divergence (KL(P‖Q) of the final map), iterations (run), learning_rate (used), seed}",
    section = "Results: the map of the affective space (t-SNE of the stimuli, coloured by their top-rated category)",
    example = "let m = affect::tsne(X, #{perplexity: 30.0, iterations: 1000, seed: 0});\nprint(affect::trustworthiness(X, m.coords, #{k: 5}));",
)]
pub struct Tsne {
    /// effective number of neighbours; must be below the number of stimuli
    #[opt(default = 30.0)]
    pub perplexity: f64,
    /// total iterations (scikit-learn's max_iter), at least 250
    #[opt(default = 1000)]
    pub iterations: usize,
    /// seed of the random initialisation (ChaCha8); unused with init "pca"
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
    /// "auto" = max(stimuli / early_exaggeration / 4, 50), as scikit-learn, or a number > 0
    #[opt(doc_default = "\"auto\"")]
    pub learning_rate: Option<Value>,
    /// P is multiplied by this for the first 250 iterations
    #[opt(default = 12.0)]
    pub early_exaggeration: f64,
    /// "pca": the first two principal components scaled to standard deviation 1e-4 (scikit-learn's
    /// and openTSNE's default; deterministic); "random": N(0, 1e-4²) from the seed
    #[opt(default = Init::Pca)]
    pub init: Init,
}

impl step::Step for Tsne {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let [x] = positional(args, Self::NAME, ["X"])?;
        let x = x_matrix(x)?;
        // A number or "auto": a Value, since the option takes either.
        let learning_rate = match &self.learning_rate {
            None => None,
            Some(Value::Str(s)) if s == "auto" => None,
            Some(v @ (Value::Int(_) | Value::Float(_))) => v.as_f64(),
            Some(Value::Str(s)) => {
                bail!("learning_rate must be \"auto\" or a number > 0, got \"{s}\"")
            }
            Some(other) => bail!(
                "learning_rate must be \"auto\" or a number > 0, got {}",
                other.type_name()
            ),
        };
        let cfg = Config {
            perplexity: self.perplexity,
            iterations: self.iterations,
            learning_rate,
            early_exaggeration: self.early_exaggeration,
            init: self.init,
            seed: self.seed.unwrap_or(ctx.seed),
        };
        let out = tsne(x.view(), &cfg, ctx)?;
        Ok(vmap! {
            "coords" => Tensor::from_array(out.coords),
            "kl_divergence" => out.kl_divergence,
            "iterations" => out.iterations,
            "learning_rate" => out.learning_rate,
            "seed" => cfg.seed as i64,
        })
    }
}
