//! What the study asks of fitted embeddings: how reproducible the dimensions are across seeds,
//! how accuracy grows with dimensionality, how many dimensions each stimulus needs, and which λ
//! predicts held-out choices best.
use crate::fitting::{fit_config, run_fit, Training};
use crate::model::evaluate;
use crate::rows;
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::stats::pearson;
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{ensure, vmap, Options, Step};
use emoscope_sdk::{Ctx, Result, Tensor, Value};
use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

fn f64_list(v: &Value, what: &str) -> Result<Vec<f64>> {
    let t = v.to_tensor(what)?;
    ensure!(
        t.ndim() == 1 && t.numel() >= 1,
        "{what} must be a non-empty list of numbers"
    );
    t.to_vec_f64()
}

fn corr_cols(a: ArrayView2<f64>, ca: usize, b: ArrayView2<f64>, cb: usize, items: &[usize]) -> f64 {
    let x: Vec<f64> = items.iter().map(|&i| a[[i, ca]]).collect();
    let y: Vec<f64> = items.iter().map(|&i| b[[i, cb]]).collect();
    let r = pearson(&x, &y);
    if r.is_finite() {
        r
    } else {
        0.0
    }
}

fn best_match(a: ArrayView2<f64>, d: usize, b: ArrayView2<f64>, items: &[usize]) -> (usize, f64) {
    (0..b.ncols())
        .map(|e| (e, corr_cols(a, d, b, e, items)))
        .fold(
            (0, f64::NEG_INFINITY),
            |best, c| if c.1 > best.1 { c } else { best },
        )
}

/// The Fisher-z mean of correlations, back-transformed.
fn fisher_mean(rs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = rs.fold((0.0, 0usize), |(s, n), r| {
        (s + r.clamp(-0.999_999, 0.999_999).atanh(), n + 1)
    });
    (sum / n as f64).tanh()
}

/// For each dimension d of each run a, the Fisher-z mean over the other runs b of score(a, d, b).
fn per_dim(
    runs: &[Array2<f64>],
    score: impl Fn(usize, usize, usize) -> f64 + Sync,
) -> Vec<Vec<f64>> {
    (0..runs.len())
        .into_par_iter()
        .map(|a| {
            (0..runs[a].ncols())
                .map(|d| fisher_mean((0..runs.len()).filter(|&b| b != a).map(|b| score(a, d, b))))
                .collect()
        })
        .collect()
}

/// Each run's dimensions matched in the other runs.
pub struct Reproducibility {
    pub per_dimension: Vec<Vec<f64>>,
    pub heldout: Vec<Vec<f64>>,
    pub threshold: f64,
}

pub fn reproducibility(
    runs: &[Array2<f64>],
    split: f64,
    threshold: f64,
    seed: u64,
) -> Result<Reproducibility> {
    ensure!(
        runs.len() >= 2,
        "reproducibility needs at least 2 runs, got {}",
        runs.len()
    );
    let n = runs[0].nrows();
    for (r, x) in runs.iter().enumerate() {
        ensure!(
            x.nrows() == n,
            "run {r} has {} items, run 0 has {n}",
            x.nrows()
        );
        ensure!(x.ncols() >= 1, "run {r} has no dimensions");
    }
    ensure!(
        split > 0.0 && split < 1.0,
        "split must be between 0 and 1, got {split}"
    );
    let all: Vec<usize> = (0..n).collect();
    let mut perm = all.clone();
    perm.shuffle(&mut Rng::seed_from_u64(seed));
    let n_fit = ((split * n as f64).round() as usize).clamp(3, n.saturating_sub(3).max(3));
    let (fit_items, held) = perm.split_at(n_fit.min(n));
    ensure!(
        held.len() >= 3,
        "too few items ({n}) to hold out 20% for the reference's reproducibility"
    );
    let per_dimension = per_dim(runs, |a, d, b| {
        best_match(runs[a].view(), d, runs[b].view(), &all).1
    });
    let heldout = per_dim(runs, |a, d, b| {
        let (e, _) = best_match(runs[a].view(), d, runs[b].view(), fit_items);
        corr_cols(runs[a].view(), d, runs[b].view(), e, held)
    });
    Ok(Reproducibility {
        per_dimension,
        heldout,
        threshold,
    })
}

/// Top-k truncation of one row: indices of its components by value, descending.
fn order_desc(row: &[f64]) -> Vec<usize> {
    let mut o: Vec<usize> = (0..row.len()).collect();
    o.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    o
}

pub fn reduction(
    x: ArrayView2<f64>,
    triplets: &[Triplet],
    levels: &[f64],
    ctx: &Ctx,
) -> Result<(Vec<Vec<i64>>, Vec<f64>)> {
    let (n, d) = x.dim();
    let mut by_item: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (r, t) in triplets.iter().enumerate() {
        for &i in t {
            by_item[i as usize].push(r as u32);
        }
    }
    let correct = |t: &Triplet, item: usize, row: &[f64]| -> bool {
        let v = |i: u32| -> Vec<f64> {
            if i as usize == item {
                row.to_vec()
            } else {
                x.row(i as usize).to_vec()
            }
        };
        let (a, b, c) = (v(t[0]), v(t[1]), v(t[2]));
        let dp = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(u, w)| u * w).sum::<f64>();
        let (s01, s02, s12) = (dp(&a, &b), dp(&a, &c), dp(&b, &c));
        s01 > s02 && s01 > s12
    };
    let bar = ctx.progress("spose::reduction", n as u64);
    let out: Vec<(Vec<i64>, f64)> = (0..n)
        .into_par_iter()
        .map(|i| -> Result<(Vec<i64>, f64)> {
            ctx.check()?;
            let ts = &by_item[i];
            bar.inc(1);
            if ts.is_empty() {
                return Ok((vec![-1; levels.len()], f64::NAN));
            }
            let full_row: Vec<f64> = x.row(i).to_vec();
            let acc = |row: &[f64]| {
                ts.iter()
                    .filter(|&&r| correct(&triplets[r as usize], i, row))
                    .count() as f64
                    / ts.len() as f64
            };
            let full = acc(&full_row);
            let order = order_desc(&full_row);
            let mut ks = vec![-1i64; levels.len()];
            if full > 0.0 {
                let mut row = vec![0.0; d];
                for k in 1..=d {
                    row[order[k - 1]] = full_row[order[k - 1]];
                    let a = acc(&row);
                    for (l, lev) in levels.iter().enumerate() {
                        if ks[l] < 0 && a >= lev * full {
                            ks[l] = k as i64;
                        }
                    }
                    if ks.iter().all(|&k| k > 0) {
                        break;
                    }
                }
            }
            Ok((ks, full))
        })
        .collect::<Result<_>>()?;
    Ok(out.into_iter().unzip())
}

fn list_of_lists(v: &[Vec<f64>]) -> Value {
    Value::List(
        v.iter()
            .map(|r| Value::Tensor(Tensor::from_vec(r.clone(), &[r.len()]).expect("1-D")))
            .collect(),
    )
}

/// Stability of the dimensions across runs (seeds), two ways. The study's: for each dimension, its best match (Pearson r) in each other run, Fisher z, averaged, back-transformed. The reference's: match on a random 80% of items, correlate on the held-out 20%, and count the dimensions with r above the threshold.
#[derive(Options, Step)]
#[step(
    name = "reproducibility",
    param(runs: List = "embeddings (items × dims) of the same items from different seeds"),
    returns = "#{per_dimension (list per run: mean best-match r, Fisher-averaged), mean, heldout_r (list per run), fraction_reproducible, per_run_fraction}",
    section = "Results: reproducibility of the dimensions",
    example = "let rep = spose::reproducibility([fit1.embedding, fit2.embedding, fit3.embedding]);"
)]
pub struct ReproducibilityStep {
    /// fraction of items used for matching (the reference's way)
    #[opt(default = 0.8)]
    pub split: f64,
    /// held-out r that counts as reproduced
    #[opt(default = 0.8)]
    pub threshold: f64,
    /// the item split
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl emoscope_sdk::step::Step for ReproducibilityStep {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let runs = args[0]
            .as_list()
            .expect("checked list")
            .iter()
            .enumerate()
            .map(|(r, v)| crate::embedding(v, &format!("run {r}")))
            .collect::<Result<Vec<_>>>()?;
        let r = reproducibility(
            &runs,
            self.split,
            self.threshold,
            self.seed.unwrap_or(ctx.seed),
        )?;
        let all: Vec<f64> = r.per_dimension.iter().flatten().copied().collect();
        let held: Vec<f64> = r.heldout.iter().flatten().copied().collect();
        let per_run: Vec<f64> = r
            .heldout
            .iter()
            .map(|h| h.iter().filter(|&&v| v > r.threshold).count() as f64 / h.len() as f64)
            .collect();
        let nr = per_run.len();
        Ok(vmap! {
            "per_dimension" => list_of_lists(&r.per_dimension),
            "mean" => fisher_mean(all.iter().copied()),
            "heldout_r" => list_of_lists(&r.heldout),
            "fraction_reproducible" => held.iter().filter(|&&v| v > r.threshold).count() as f64 / held.len() as f64,
            "per_run_fraction" => Tensor::from_vec(per_run, &[nr]).expect("1-D"),
        })
    }
}

/// Held-out accuracy against the starting dimensionality: one fit per entry of dims_list, evaluated on test triplets (the option test, else a seeded 10% of the triplets).
#[derive(Options, Step)]
#[step(
    name = "dimensionality",
    param(triplets: Tensor = "N × 3 judged triplets"),
    param(dims_list: List = "starting dimensionalities to try, e.g. [5, 10, 20, 40, 90]"),
    returns = "#{dims, accuracy, cross_entropy, kept (active dims after pruning), saturates_at (smallest dims within 0.5 points of the best accuracy)}",
    section = "Results: dimensionality"
)]
pub struct Dimensionality {
    /// as in spose::fit: L1 strength
    #[opt(default = 0.004)]
    pub lambda: f64,
    #[opt(flatten)]
    pub training: Training,
    /// held-out judged triplets to evaluate every fit on
    #[opt(doc_default = "a seeded 10% of the triplets")]
    pub test: Option<Tensor>,
}

impl emoscope_sdk::step::Step for Dimensionality {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let all = rows(&args[0], "triplets", self.training.n_items)?;
        let dims_list: Vec<usize> = f64_list(&args[1], "dims_list")?
            .into_iter()
            .map(|d| {
                ensure!(
                    d >= 1.0 && d.fract() == 0.0,
                    "dims_list entries must be positive integers, got {d}"
                );
                Ok(d as usize)
            })
            .collect::<Result<_>>()?;
        let (train, test) = match &self.test {
            Some(t) => (all.clone(), emoscope_sdk::triplets::rows(t, "test", None)?),
            None => holdout(&all, 0.1, self.training.seed.unwrap_or(ctx.seed)),
        };
        let (mut acc, mut ce, mut kept) = (vec![], vec![], vec![]);
        for &d in &dims_list {
            let (cfg, device, threads) = fit_config(&self.training, d, self.lambda, &train, ctx)?;
            let f = run_fit(&cfg, device, threads, &train, &[], ctx)?;
            let ev = evaluate(f.embedding.view(), &test, ctx)?;
            ctx.info(&format!(
                "spose::dimensionality: {d} dims -> {} kept, held-out accuracy {:.4}",
                f.kept.len(),
                ev.accuracy
            ));
            acc.push(ev.accuracy);
            ce.push(ev.cross_entropy);
            kept.push(f.kept.len() as i64);
        }
        let best = acc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sat = dims_list
            .iter()
            .zip(&acc)
            .find(|(_, a)| **a >= best - 0.005)
            .map(|(d, _)| *d as i64)
            .unwrap_or(-1);
        let k = dims_list.len();
        Ok(vmap! {
            "dims" => Tensor::from_vec(dims_list.iter().map(|&d| d as i64).collect::<Vec<_>>(), &[k])?,
            "accuracy" => Tensor::from_vec(acc, &[k])?,
            "cross_entropy" => Tensor::from_vec(ce, &[k])?,
            "kept" => Tensor::from_vec(kept, &[k])?,
            "saturates_at" => sat,
        })
    }
}

/// How many dimensions each stimulus needs: keep only its k largest components (the others of that stimulus set to 0) and find the smallest k whose accuracy on the triplets containing it reaches each level of the full model's.
#[derive(Options, Step)]
#[step(
    name = "reduction",
    param(X: Tensor = "items × dims embedding"),
    param(triplets: Tensor = "N × 3 judged (held-out) triplets"),
    returns = "#{levels, k (items × levels; −1 where a stimulus is in no triplet or its full accuracy is 0), mean_k (per level, over stimuli with a k), full_accuracy (per stimulus)}",
    section = "Results: dimensions needed per stimulus"
)]
pub struct Reduction {
    /// fractions of the full accuracy
    #[opt(default = vec![0.95, 0.99])]
    pub levels: Vec<f64>,
}

impl emoscope_sdk::step::Step for Reduction {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let levels = self.levels;
        ensure!(
            !levels.is_empty() && levels.iter().all(|l| *l > 0.0 && *l <= 1.0),
            "levels must be fractions in (0, 1]"
        );
        let x = crate::embedding(&args[0], "X")?;
        let t = rows(&args[1], "triplets", Some(x.nrows()))?;
        let (ks, full) = reduction(x.view(), &t, &levels, ctx)?;
        let n = ks.len();
        let means: Vec<f64> = (0..levels.len())
            .map(|l| {
                let v: Vec<f64> = ks
                    .iter()
                    .filter(|k| k[l] > 0)
                    .map(|k| k[l] as f64)
                    .collect();
                v.iter().sum::<f64>() / v.len().max(1) as f64
            })
            .collect();
        let nl = levels.len();
        Ok(vmap! {
            "levels" => Tensor::from_vec(levels, &[nl])?,
            "k" => Tensor::from_vec(ks.into_iter().flatten().collect::<Vec<_>>(), &[n, nl])?,
            "mean_k" => Tensor::from_vec(means, &[nl])?,
            "full_accuracy" => Tensor::from_vec(full, &[n])?,
        })
    }
}

/// Choose λ by cross-validated cross-entropy: for each λ, k folds over the triplets (and optionally several seeds), fit on k − 1 folds, score the held-out fold.
#[derive(Options, Step)]
#[step(
    name = "select_lambda",
    param(triplets: Tensor = "N × 3 judged triplets"),
    param(lambdas: List = "candidate λ values"),
    returns = "#{lambdas, cross_entropy (mean per λ), sd, accuracy, best}",
    section = "Methods: choice of λ"
)]
pub struct SelectLambda {
    /// as in spose::fit: starting dimensionality
    #[opt(default = 90)]
    pub dims: usize,
    #[opt(flatten)]
    pub training: Training,
    /// cross-validation folds
    #[opt(default = 5)]
    pub folds: usize,
    /// fits per fold with different seeds
    #[opt(default = 1)]
    pub seeds: usize,
}

impl emoscope_sdk::step::Step for SelectLambda {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let (folds, seeds) = (self.folds, self.seeds);
        ensure!(folds >= 2, "folds must be at least 2, got {folds}");
        ensure!(seeds >= 1, "seeds must be at least 1");
        let all = rows(&args[0], "triplets", self.training.n_items)?;
        ensure!(
            all.len() >= folds,
            "fewer triplets ({}) than folds ({folds})",
            all.len()
        );
        let lambdas = f64_list(&args[1], "lambdas")?;
        let seed = self.training.seed.unwrap_or(ctx.seed);
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.shuffle(&mut Rng::seed_from_u64(seed));
        let n_items = self
            .training
            .n_items
            .unwrap_or(emoscope_sdk::triplets::implied_items(&all));
        let (mut mean, mut sd, mut accs) = (vec![], vec![], vec![]);
        for &lambda in &lambdas {
            let mut scores = vec![];
            let mut acc = vec![];
            for f in 0..folds {
                let (mut tr, mut te) = (vec![], vec![]);
                for (p, &r) in order.iter().enumerate() {
                    if p % folds == f {
                        te.push(all[r])
                    } else {
                        tr.push(all[r])
                    }
                }
                for s in 0..seeds {
                    let mut o = self.training.clone();
                    o.n_items = Some(n_items);
                    o.seed = Some(seed + s as u64);
                    let (cfg, device, threads) = fit_config(&o, self.dims, lambda, &tr, ctx)?;
                    let fit = run_fit(&cfg, device, threads, &tr, &[], ctx)?;
                    let ev = evaluate(fit.full.view(), &te, ctx)?;
                    scores.push(ev.cross_entropy);
                    acc.push(ev.accuracy);
                }
            }
            let m = scores.iter().sum::<f64>() / scores.len() as f64;
            let v = scores.iter().map(|s| (s - m).powi(2)).sum::<f64>()
                / (scores.len() as f64 - 1.0).max(1.0);
            ctx.info(&format!(
                "spose::select_lambda: λ = {lambda}: validation cross-entropy {m:.5}"
            ));
            mean.push(m);
            sd.push(v.sqrt());
            accs.push(acc.iter().sum::<f64>() / acc.len() as f64);
        }
        let best = lambdas[mean
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .expect("at least one λ")];
        let k = lambdas.len();
        Ok(vmap! {
            "lambdas" => Tensor::from_vec(lambdas, &[k])?,
            "cross_entropy" => Tensor::from_vec(mean, &[k])?,
            "sd" => Tensor::from_vec(sd, &[k])?,
            "accuracy" => Tensor::from_vec(accs, &[k])?,
            "best" => best,
        })
    }
}

/// A seeded held-out fraction of the triplets.
fn holdout(all: &[Triplet], frac: f64, seed: u64) -> (Vec<Triplet>, Vec<Triplet>) {
    let mut idx: Vec<usize> = (0..all.len()).collect();
    idx.shuffle(&mut Rng::seed_from_u64(seed));
    let n_test = ((frac * all.len() as f64).round() as usize).max(1);
    let test = idx[..n_test].iter().map(|&i| all[i]).collect();
    let train = idx[n_test..].iter().map(|&i| all[i]).collect();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn identical_runs_are_perfectly_reproducible_and_permutations_do_not_matter() {
        let mut r = Rng::seed_from_u64(1);
        use rand::RngExt;
        let a = Array2::from_shape_fn((50, 4), |_| r.random::<f64>());
        // The same dimensions in another order.
        let b = Array2::from_shape_fn((50, 4), |(i, d)| a[[i, 3 - d]]);
        let rep = reproducibility(&[a.clone(), b], 0.8, 0.8, 3).unwrap();
        for v in rep
            .per_dimension
            .iter()
            .flatten()
            .chain(rep.heldout.iter().flatten())
        {
            assert!(*v > 0.999, "{v}");
        }
        // Against noise, dimensions do not reproduce.
        let c = Array2::from_shape_fn((50, 4), |_| r.random::<f64>());
        let rep = reproducibility(&[a, c], 0.8, 0.8, 3).unwrap();
        assert!(rep.heldout.iter().flatten().all(|&v| v < 0.8));
    }

    #[test]
    fn reduction_finds_the_dimensions_a_stimulus_needs() {
        // Item 0 is told apart from 2 by dim 0 alone; it needs 1 dimension.
        let x = array![[1.0, 0.1], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]];
        let t = [[0, 1, 2], [0, 1, 3], [2, 3, 0]];
        let (ks, full) = reduction(x.view(), &t, &[0.95, 0.99], &Ctx::detached()).unwrap();
        assert_eq!(full[0], 1.0);
        assert_eq!(ks[0], vec![1, 1]);
    }
}
