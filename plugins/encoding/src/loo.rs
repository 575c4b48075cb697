//! Leave-one-stimulus-out encoding accuracy (the study's selection of reliably predicted
//! stimuli for RSA): for each stimulus, ridge trained on all the others predicts its voxel
//! pattern, scored by Pearson r across voxels.
//!
//! Closed form instead of n refits: ridge with an unpenalised intercept is a linear smoother
//! ŷ = H y with H = 11ᵀ/n + U diag(s²/(s²+α)) Uᵀ (U, s from the SVD of the centred design), and
//! for any such penalised least-squares fit the leave-one-out residual is e_i / (1 − h_ii)
//! exactly. Each voxel's alpha is the one with the smallest leave-one-out MSE over the grid
//! (ties to the larger alpha, as in `ridge_cv`), unless fixed alphas are given.
use crate::inputs::{alpha_grid, check_alphas, check_data};
use crate::ridge::{Basis, BATCH};
use emoscope_sdk::linalg::matmul;
use emoscope_sdk::step::Step;
use emoscope_sdk::{ensure, Ctx, Options, Result, Tensor, Value};
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// How each voxel's alpha is set.
pub enum Alphas {
    /// Choose per voxel from this grid.
    Grid(Vec<f64>),
    /// One alpha per voxel.
    PerVoxel(Vec<f64>),
}

/// The accuracies, and the alphas behind them.
pub struct Output {
    /// Per stimulus: Pearson r across voxels of its predicted and measured pattern.
    pub accuracy: Array1<f64>,
    /// Per voxel: the alpha used.
    pub alphas: Array1<f64>,
}

/// Per-stimulus sums over voxels of p, y, p², y², p·y.
type Sums = Array2<f64>;

fn batch(
    x_basis: &Basis,
    y: ArrayView2<f32>,
    alphas: &Alphas,
    cols: std::ops::Range<usize>,
) -> (Sums, Vec<f64>) {
    let n = y.nrows();
    let bv = cols.len();
    let mut yc = Array2::<f64>::zeros((n, bv));
    for i in 0..n {
        yc.row_mut(i)
            .iter_mut()
            .zip(y.slice(s![i, cols.clone()]))
            .for_each(|(d, &v)| *d = v as f64);
    }
    let mean = yc.mean_axis(Axis(0)).expect("n > 0");
    yc -= &mean;
    let cb = matmul(x_basis.u.t(), yc.view()); // r × bv
    let u2 = x_basis.u.mapv(|a| a * a);
    // At one alpha: the fitted values (n × bv, a GEMM) and 1 / (1 − h_ii) per stimulus. The
    // residual (y_i − ŷ_i) / (1 − h_ii) is formed on the fly, row by row (contiguous).
    let fit = |alpha: f64| -> (Array2<f64>, Vec<f64>) {
        let f: Array1<f64> = x_basis.s.iter().map(|&s| s * s / (s * s + alpha)).collect();
        let lev = u2.dot(&f) + 1.0 / n as f64;
        let fitted = matmul(
            x_basis.u.view(),
            (&cb * &f.view().insert_axis(Axis(1))).view(),
        );
        (fitted, lev.iter().map(|h| 1.0 / (1.0 - h)).collect())
    };
    // Copy the residuals of the voxels flagged in `take` into `e`.
    let keep = |e: &mut Array2<f64>, fitted: &Array2<f64>, inv: &[f64], take: &[bool]| {
        for (i, &w) in inv.iter().enumerate() {
            let (yr, fr, mut er) = (yc.row(i), fitted.row(i), e.row_mut(i));
            for v in (0..bv).filter(|&v| take[v]) {
                er[v] = (yr[v] - fr[v]) * w;
            }
        }
    };
    let (e, used) = match alphas {
        Alphas::PerVoxel(a) => {
            let a = &a[cols.clone()];
            let mut e = Array2::<f64>::zeros((n, bv));
            let mut distinct: Vec<f64> = a.to_vec();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            for alpha in distinct {
                let (fitted, inv) = fit(alpha);
                let take: Vec<bool> = a.iter().map(|&x| x == alpha).collect();
                keep(&mut e, &fitted, &inv, &take);
            }
            (e, a.to_vec())
        }
        Alphas::Grid(grid) => {
            let mut best_e = Array2::<f64>::zeros((n, bv));
            let mut best = vec![f64::NEG_INFINITY; bv];
            let mut used = vec![grid[0]; bv];
            let mut sse = vec![0.0; bv];
            for &alpha in grid {
                let (fitted, inv) = fit(alpha);
                sse.iter_mut().for_each(|x| *x = 0.0);
                for (i, &w) in inv.iter().enumerate() {
                    let (yr, fr) = (yc.row(i), fitted.row(i));
                    for v in 0..bv {
                        let e = (yr[v] - fr[v]) * w;
                        sse[v] += e * e;
                    }
                }
                let mut take = vec![false; bv];
                for v in 0..bv {
                    let score = -sse[v] / n as f64 + alpha.ln() * 1e-10;
                    if score > best[v] {
                        best[v] = score;
                        used[v] = alpha;
                        take[v] = true;
                    }
                }
                if take.iter().any(|&t| t) {
                    keep(&mut best_e, &fitted, &inv, &take);
                }
            }
            (best_e, used)
        }
    };
    // Prediction of y_i without stimulus i: y_i − loo residual_i.
    let mut sums = Sums::zeros((n, 5));
    for i in 0..n {
        let mut acc = [0.0; 5];
        for v in 0..bv {
            let yv = y[[i, cols.start + v]] as f64;
            let p = yv - e[[i, v]];
            acc[0] += p;
            acc[1] += yv;
            acc[2] += p * p;
            acc[3] += yv * yv;
            acc[4] += p * yv;
        }
        sums.row_mut(i).assign(&Array1::from(acc.to_vec()));
    }
    (sums, used)
}

/// Leave-one-stimulus-out accuracy of every stimulus, with the alphas chosen or given per voxel.
pub fn loo_accuracy(
    x: ArrayView2<f64>,
    y: ArrayView2<f32>,
    alphas: &Alphas,
    ctx: &Ctx,
) -> Result<Output> {
    check_data(x, y)?;
    let (n, nv) = y.dim();
    ensure!(n >= 3, "leave-one-out needs at least 3 stimuli, got {n}");
    ensure!(
        nv >= 2,
        "per-stimulus accuracy is a correlation across voxels: needs at least 2 voxels, got {nv}"
    );
    match alphas {
        Alphas::Grid(g) => check_alphas(g)?,
        Alphas::PerVoxel(a) => {
            ensure!(
                a.len() == nv,
                "alpha has {} values but the data has {nv} voxels",
                a.len()
            );
            check_alphas(a)?;
        }
    }
    let rows: Vec<usize> = (0..n).collect();
    let basis = Basis::new(x, &rows)?;
    let ranges: Vec<std::ops::Range<usize>> = (0..nv.div_ceil(BATCH))
        .map(|b| b * BATCH..((b + 1) * BATCH).min(nv))
        .collect();
    let bar = ctx.progress("encoding::loo_stimulus_accuracy voxels", nv as u64);
    let parts: Result<Vec<(usize, Sums, Vec<f64>)>> = ranges
        .into_par_iter()
        .map(|cols| {
            ctx.check()?;
            let start = cols.start;
            let len = cols.len() as u64;
            let (s, a) = batch(&basis, y, alphas, cols);
            bar.inc(len);
            Ok((start, s, a))
        })
        .collect();
    let mut total = Sums::zeros((n, 5));
    let mut used = Array1::<f64>::zeros(nv);
    for (start, s, a) in parts? {
        total += &s;
        used.slice_mut(s![start..start + a.len()])
            .assign(&Array1::from(a));
    }
    let m = nv as f64;
    let accuracy = total
        .axis_iter(Axis(0))
        .map(|t| {
            let cov = t[4] - t[0] * t[1] / m;
            let vp = t[2] - t[0] * t[0] / m;
            let vy = t[3] - t[1] * t[1] / m;
            if vp <= 0.0 || vy <= 0.0 {
                0.0
            } else {
                cov / (vp * vy).sqrt()
            }
        })
        .collect();
    Ok(Output {
        accuracy,
        alphas: used,
    })
}

/// For each stimulus, ridge trained on all the others predicts its voxel pattern; the accuracy is
/// Pearson r across voxels between predicted and measured patterns. Uses the exact closed-form
/// leave-one-out of ridge (residual / (1 − leverage)), not n refits. Each voxel's alpha minimises
/// its leave-one-out MSE over the grid unless `alpha` fixes it.
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(X: Tensor = "stimuli × features"),
    param(Y: Tensor = "stimuli × voxels"),
    returns = "stimuli f64 tensor of accuracies (feed it to rsa::select_reliable)",
    section = "Methods: searchlight RSA (stimuli selected by leave-one-out encoding accuracy)",
    example = "let acc = encoding::loo_stimulus_accuracy(X, Y);\nlet keep = rsa::select_reliable(acc, 1000);"
)]
pub struct LooStimulusAccuracy {
    /// grid for the per-voxel alpha
    #[opt(doc_default = "tensor::logspace(-3.0, 3.0, 100)")]
    pub alphas: Option<Tensor>,
    /// fixed alpha: a number, or one per voxel (e.g. a ridge_cv result's alphas averaged over
    /// folds)
    pub alpha: Option<Tensor>,
}

impl Step for LooStimulusAccuracy {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
        let y = args[1].to_tensor("Y")?.matrix::<f32>("Y")?;
        let alphas = match &self.alpha {
            // One number fixes every voxel's alpha.
            Some(a) if a.numel() == 1 => Alphas::PerVoxel(vec![a.to_vec_f64()?[0]; y.ncols()]),
            Some(a) => Alphas::PerVoxel(a.to_vec_f64()?),
            None => Alphas::Grid(alpha_grid(&self.alphas)?),
        };
        let out = loo_accuracy(x.view(), y.view(), &alphas, ctx)?;
        Ok(Value::Tensor(Tensor::from_array(out.accuracy)))
    }
}
