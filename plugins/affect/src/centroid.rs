//! Leave-one-out nearest-centroid classification of stimuli by their highest-rated category,
//! with a permutation chance level, and the `affect::nearest_centroid` step.
use crate::script::{ensure_finite, ints, names_of, positional, ratings_matrix, x_matrix};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::io::ratings::CATEGORY_NAMES;
use emoscope_sdk::step::{self, StepSpec};
use emoscope_sdk::{ensure, vmap, Ctx, Options, Result, Step, Value};
use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

/// Each row's highest-rated column (ties to the lower column).
pub fn argmax_labels(ratings: ArrayView2<f64>) -> Vec<usize> {
    ratings
        .rows()
        .into_iter()
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Number of stimuli whose true label is among the `k` nearest class centroids, each centroid
/// computed without the held-out stimulus. `labels` are in `0..n_classes`, every class has at
/// least 2 members. Class sums are computed once; the held-out stimulus's own class sum is
/// adjusted by subtracting it, so a pass is O(n · classes · dims). Ranking is by squared
/// Euclidean distance, ties to the lower class index.
pub fn loo_correct(x: ArrayView2<f64>, labels: &[usize], n_classes: usize, k: usize) -> usize {
    let d = x.ncols();
    let mut sums = Array2::<f64>::zeros((n_classes, d));
    let mut counts = vec![0usize; n_classes];
    for (i, &l) in labels.iter().enumerate() {
        counts[l] += 1;
        let mut s = sums.row_mut(l);
        s += &x.row(i);
    }
    let mut dist = vec![0.0f64; n_classes];
    let mut correct = 0;
    for (xi, &l) in x.rows().into_iter().zip(labels) {
        for (c, dc) in dist.iter_mut().enumerate() {
            let s = sums.row(c);
            let mut acc = 0.0;
            if c == l {
                let m = (counts[c] - 1) as f64;
                for j in 0..d {
                    let diff = (s[j] - xi[j]) / m - xi[j];
                    acc += diff * diff;
                }
            } else {
                let m = counts[c] as f64;
                for j in 0..d {
                    let diff = s[j] / m - xi[j];
                    acc += diff * diff;
                }
            }
            *dc = acc;
        }
        let dl = dist[l];
        let closer = dist
            .iter()
            .enumerate()
            .filter(|&(c, &dc)| dc < dl || (dc == dl && c < l))
            .count();
        if closer < k {
            correct += 1;
        }
    }
    correct
}

/// The result of [`nearest_centroid`].
#[derive(Clone, Debug)]
pub struct Output {
    pub accuracy: f64,
    /// Mean accuracy over the permutations (NaN with none).
    pub chance: f64,
    /// (1 + #{permutations with accuracy ≥ observed}) / (1 + permutations) (NaN with none).
    pub p: f64,
    /// Indices of the rows kept.
    pub stimuli: Vec<usize>,
    /// Indices of the columns (categories) kept, ascending.
    pub categories: Vec<usize>,
    /// Stimuli per kept category.
    pub counts: Vec<usize>,
}

/// The parameters of [`nearest_centroid`].
pub struct Config {
    /// Correct when the true category is among the `k` nearest centroids.
    pub k: usize,
    /// Keep categories that are the highest-rated of at least this many stimuli.
    pub min_count: usize,
    /// Label permutations for the chance level (0: none).
    pub permutations: usize,
    /// Seed of the permutations (one ChaCha8 stream each).
    pub seed: u64,
}

/// Leave-one-out nearest-centroid accuracy of X's rows by their highest-rated category, with
/// the permutation chance level and p.
pub fn nearest_centroid(
    x: ArrayView2<f64>,
    ratings: ArrayView2<f64>,
    cfg: &Config,
    ctx: &Ctx,
) -> Result<Output> {
    ensure!(
        x.nrows() == ratings.nrows(),
        "X has {} rows (stimuli) but the category ratings have {}: rows must be the same stimuli in the same order",
        x.nrows(),
        ratings.nrows()
    );
    ensure!(
        ratings.ncols() >= 2,
        "category ratings need at least 2 columns, got {}",
        ratings.ncols()
    );
    ensure!(x.ncols() >= 1, "X has no columns");
    ensure!(cfg.k >= 1, "k must be at least 1, got {}", cfg.k);
    ensure!(
        cfg.min_count >= 2,
        "min_count must be at least 2 (a held-out stimulus's own category needs another member), got {}",
        cfg.min_count
    );
    ensure_finite(x, "X")?;
    ensure_finite(ratings, "category ratings")?;
    let all = argmax_labels(ratings);
    let mut counts = vec![0usize; ratings.ncols()];
    for &l in &all {
        counts[l] += 1;
    }
    let categories: Vec<usize> = (0..counts.len())
        .filter(|&c| counts[c] >= cfg.min_count)
        .collect();
    ensure!(
        categories.len() >= 2,
        "only {} categories have at least min_count = {} stimuli (by highest rating); nearest-centroid needs at least 2: lower min_count",
        categories.len(),
        cfg.min_count
    );
    ensure!(
        cfg.k <= categories.len(),
        "k = {} exceeds the {} categories kept",
        cfg.k,
        categories.len()
    );
    let mut remap = vec![usize::MAX; ratings.ncols()];
    for (i, &c) in categories.iter().enumerate() {
        remap[c] = i;
    }
    let stimuli: Vec<usize> = (0..all.len())
        .filter(|&i| remap[all[i]] != usize::MAX)
        .collect();
    let labels: Vec<usize> = stimuli.iter().map(|&i| remap[all[i]]).collect();
    let xs = x.select(ndarray::Axis(0), &stimuli);
    let n = stimuli.len() as f64;
    let nc = categories.len();
    let accuracy = loo_correct(xs.view(), &labels, nc, cfg.k) as f64 / n;
    let (chance, p) = if cfg.permutations == 0 {
        (f64::NAN, f64::NAN)
    } else {
        let bar = ctx.progress(
            "affect::nearest_centroid permutations",
            cfg.permutations as u64,
        );
        // One ChaCha8 stream per permutation: the result does not depend on the thread count.
        let accs: Result<Vec<f64>> = (0..cfg.permutations)
            .into_par_iter()
            .map(|p| {
                ctx.check()?;
                let mut rng = Rng::seed_from_u64(cfg.seed);
                rng.set_stream(p as u64 + 1);
                let mut perm = labels.clone();
                perm.shuffle(&mut rng);
                let a = loo_correct(xs.view(), &perm, nc, cfg.k) as f64 / n;
                bar.inc(1);
                Ok(a)
            })
            .collect();
        let accs = accs?;
        let chance = accs.iter().sum::<f64>() / accs.len() as f64;
        let ge = accs.iter().filter(|&&a| a >= accuracy).count();
        (chance, (1 + ge) as f64 / (1 + cfg.permutations) as f64)
    };
    let counts = categories.iter().map(|&c| counts[c]).collect();
    Ok(Output {
        accuracy,
        chance,
        p,
        stimuli,
        categories,
        counts,
    })
}

/// Categorical structure of a space: each stimulus is labelled with its highest-rated category
/// (ties to the earlier column); categories with at least `min_count` stimuli are kept, with only
/// their stimuli. Leave-one-out: each kept stimulus is compared with the centroids (in X) of every
/// kept category computed from the other stimuli, by Euclidean distance, and is correct when its
/// own category is among the `k` nearest (distance ties to the earlier category). Chance is the
/// mean accuracy over random permutations of the labels among the kept stimuli (ChaCha8, one stream
/// per permutation, independent of the thread count); p = (1 + #{permutations with accuracy ≥
/// observed}) / (1 + permutations). Each pass is O(stimuli · categories · dims): class sums are
/// computed once and the held-out stimulus is subtracted from its own class.
#[derive(Options, Step)]
#[step(
    name = "nearest_centroid",
    param(X: Tensor = "stimuli × dims (the space)"),
    param(category_ratings: Any = "stimuli × categories tensor, or the io::ratings map (its categories and category_names are used); rows aligned with X"),
    returns = "#{accuracy, chance, p, n_stimuli, n_categories, k, categories: [names (ratings map) or column indices (tensor) kept], counts: [stimuli per kept category], seed}",
    section = "Results: categorical structure (nearest-centroid, 27 categories with ≥ 10 stimuli, top-3 accuracy, 1,000 permutations)",
    example = "let R = io::ratings(\"cowen_keltner_2017_ratings.csv\", #{stimuli: \"stimuli_2180.txt\"});\nlet nc = affect::nearest_centroid(X, R, #{k: 3, min_count: 10, permutations: 1000, seed: 1});\nprint(`${nc.accuracy} vs chance ${nc.chance}`);",
)]
pub struct NearestCentroid {
    /// correct when the true category is among the k nearest centroids
    #[opt(default = 3)]
    pub k: usize,
    /// keep categories that are the highest-rated of at least this many stimuli (≥ 2)
    #[opt(default = 10)]
    pub min_count: usize,
    /// label permutations for chance and p (0: chance and p are NaN)
    #[opt(default = 1000)]
    pub permutations: usize,
    /// seed of the permutations
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for NearestCentroid {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let [x, cat] = positional(args, Self::NAME, ["X", "category_ratings"])?;
        let x = x_matrix(x)?;
        // A ratings map names the kept categories; a bare tensor can only give column indices.
        let (ratings, names) = match cat {
            Value::Map(_) => {
                let m = ratings_matrix(cat, "categories")?;
                let names = names_of(cat, "category_names", &CATEGORY_NAMES, m.ncols())?;
                (m, Some(names))
            }
            other => (
                other
                    .to_tensor("category_ratings")?
                    .matrix::<f64>("category_ratings")?,
                None,
            ),
        };
        let cfg = Config {
            k: self.k,
            min_count: self.min_count,
            permutations: self.permutations,
            seed: self.seed.unwrap_or(ctx.seed),
        };
        let out = nearest_centroid(x.view(), ratings.view(), &cfg, ctx)?;
        let categories: Vec<Value> = out
            .categories
            .iter()
            .map(|&c| match &names {
                Some(n) => Value::Str(n[c].clone()),
                None => Value::from(c),
            })
            .collect();
        Ok(vmap! {
            "accuracy" => out.accuracy,
            "chance" => out.chance,
            "p" => out.p,
            "n_stimuli" => out.stimuli.len(),
            "n_categories" => out.categories.len(),
            "k" => self.k,
            "categories" => categories,
            "counts" => ints(&out.counts),
            "seed" => cfg.seed as i64,
        })
    }
}
