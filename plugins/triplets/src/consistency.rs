//! The choice-probability RSM of a validation set and the study's human–model consistency
//! (Eq. 4): the correlation of two judges' RSMs corrected by their split-half reliabilities.
use crate::args::{items, rows, vector};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::stats::pearson;
use emoscope_sdk::step;
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{ensure, vmap, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::collections::HashMap;

/// Kept-together counts and totals for every pair of `items`, from judged triplets.
pub struct PairCounts {
    k: usize,
    slot: HashMap<u32, usize>,
    together: Vec<u32>,
    total: Vec<u32>,
}

impl PairCounts {
    /// Empty counts over `items`, which must be distinct (a repeated item would split its
    /// pairs between two slots).
    pub fn new(items: &[u32]) -> Result<Self> {
        let mut slot = HashMap::new();
        for (s, &i) in items.iter().enumerate() {
            ensure!(slot.insert(i, s).is_none(), "item {i} is listed twice");
        }
        let k = items.len();
        Ok(PairCounts {
            k,
            slot,
            together: vec![0; k * k],
            total: vec![0; k * k],
        })
    }

    fn add(&mut self, t: &Triplet) {
        let s = t.map(|i| self.slot.get(&i).copied());
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            if let (Some(p), Some(q)) = (s[a], s[b]) {
                let (p, q) = (p.min(q), p.max(q));
                self.total[p * self.k + q] += 1;
                if (a, b) == (0, 1) {
                    self.together[p * self.k + q] += 1;
                }
            }
        }
    }

    fn clear(&mut self) {
        self.together.fill(0);
        self.total.fill(0);
    }

    /// Upper triangle (p < q) of the kept-together fractions, NaN where no triplet has the pair.
    fn upper(&self) -> Vec<f64> {
        let k = self.k;
        (0..k)
            .flat_map(|p| (p + 1..k).map(move |q| p * k + q))
            .map(|i| {
                if self.total[i] == 0 {
                    f64::NAN
                } else {
                    self.together[i] as f64 / self.total[i] as f64
                }
            })
            .collect()
    }

    /// The symmetric k × k RSM in the order of the items: 1 on the diagonal, NaN where no
    /// triplet holds the pair.
    pub fn matrix(&self) -> Array2<f64> {
        let k = self.k;
        let up = self.upper();
        let mut m = Array2::from_elem((k, k), 1.0);
        let mut c = 0;
        for p in 0..k {
            for q in p + 1..k {
                m[[p, q]] = up[c];
                m[[q, p]] = up[c];
                c += 1;
            }
        }
        m
    }
}

/// The choice-probability RSM over `items`: for each pair, the fraction of triplets containing
/// both in which they were kept together. The diagonal is 1; a pair no triplet holds is NaN.
pub fn choice_rsm(judged: &[Triplet], items: &[u32]) -> Result<(Array2<f64>, usize)> {
    let mut c = PairCounts::new(items)?;
    judged.iter().for_each(|t| c.add(t));
    let missing = c.upper().iter().filter(|v| v.is_nan()).count();
    Ok((c.matrix(), missing))
}

/// Pearson r over the pairs both vectors observed.
pub fn pearson_finite(a: &[f64], b: &[f64]) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) = a
        .iter()
        .zip(b)
        .filter(|(p, q)| p.is_finite() && q.is_finite())
        .map(|(p, q)| (*p, *q))
        .unzip();
    if x.len() < 3 {
        return f64::NAN;
    }
    pearson(&x, &y)
}

/// A random half of `0..n` (the first ⌊n/2⌋ of a seeded shuffle), as a membership mask.
pub fn half_mask(n: usize, rng: &mut Rng) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..n / 2 {
        let j = rng.random_range(i..n);
        idx.swap(i, j);
    }
    let mut mask = vec![false; n];
    idx[..n / 2].iter().for_each(|&i| mask[i] = true);
    mask
}

/// Split-half reliability of a choice RSM: the two halves' RSMs correlated (Pearson, over the
/// pairs both halves observe), Spearman–Brown corrected to the full set when asked.
fn split_half(
    trials: &[Triplet],
    counts: &mut [PairCounts; 2],
    rng: &mut Rng,
    spearman_brown: bool,
) -> f64 {
    let mask = half_mask(trials.len(), rng);
    counts.iter_mut().for_each(PairCounts::clear);
    for (t, &h) in trials.iter().zip(&mask) {
        counts[usize::from(h)].add(t);
    }
    half_reliability(counts, spearman_brown)
}

/// The correlation of two halves' RSMs (Pearson, over the pairs both observe), stepped up to
/// the full set by Spearman–Brown (2r / (1 + r)) when asked; shared by the estimate and every
/// bootstrap replicate so that both measure reliability the same way.
fn half_reliability(halves: &[PairCounts; 2], spearman_brown: bool) -> f64 {
    let r = pearson_finite(&halves[0].upper(), &halves[1].upper());
    if spearman_brown {
        2.0 * r / (1.0 + r)
    } else {
        r
    }
}

/// One bootstrap replicate. Each set is split into halves first and each half resampled with
/// replacement on its own: resampling the whole set and then splitting would put copies of one
/// trial into both halves and inflate the reliability.
fn boot_replicate(
    sets: [&[Triplet]; 2],
    items: &[u32],
    rng: &mut Rng,
    sb: bool,
) -> Result<Estimate> {
    let mut full = [PairCounts::new(items)?, PairCounts::new(items)?];
    let mut halves = [PairCounts::new(items)?, PairCounts::new(items)?];
    let mut rel = [0.0; 2];
    for (k, s) in sets.iter().enumerate() {
        let mask = half_mask(s.len(), rng);
        let parts: [Vec<usize>; 2] = [
            (0..s.len()).filter(|&i| !mask[i]).collect(),
            (0..s.len()).filter(|&i| mask[i]).collect(),
        ];
        halves.iter_mut().for_each(PairCounts::clear);
        for (h, part) in parts.iter().enumerate() {
            for _ in 0..part.len() {
                let t = &s[part[rng.random_range(0..part.len())]];
                halves[h].add(t);
                full[k].add(t);
            }
        }
        rel[k] = half_reliability(&halves, sb);
    }
    let r = pearson_finite(&full[0].upper(), &full[1].upper());
    Ok(Estimate { r, rel })
}

/// Eq. 4: r(RSM_a, RSM_b) / sqrt(reliability_a × reliability_b).
pub fn corrected(r: f64, rel_a: f64, rel_b: f64) -> f64 {
    if rel_a > 0.0 && rel_b > 0.0 {
        r / (rel_a * rel_b).sqrt()
    } else {
        f64::NAN
    }
}

/// The settings of [`consistency`], with the seed already resolved.
pub struct ConsistencyOptions {
    /// Random split halves averaged for each reliability.
    pub splits: usize,
    /// Bootstrap replicates (0: no interval).
    pub bootstrap: usize,
    /// Confidence level of the interval.
    pub ci: f64,
    /// ChaCha8 seed of the splits and the bootstrap.
    pub seed: u64,
    /// Step the split-half correlations up to the full trial count.
    pub spearman_brown: bool,
}

/// What [`consistency`] estimates: Eq. 4, its parts, and the bootstrap behind its interval.
pub struct ConsistencyResult {
    /// Eq. 4: `r` over the root of the product of the reliabilities.
    pub consistency: f64,
    /// Pearson r of the two full RSMs.
    pub r: f64,
    /// The split-half reliability of each set.
    pub reliability: [f64; 2],
    /// The percentile interval at the requested level.
    pub ci: [f64; 2],
    /// Every bootstrap replicate's corrected value, in replicate order.
    pub boot: Vec<f64>,
}

struct Estimate {
    r: f64,
    rel: [f64; 2],
}

fn estimate(
    sets: [&[Triplet]; 2],
    items: &[u32],
    splits: usize,
    seed: u64,
    stream: u64,
    sb: bool,
) -> Result<Estimate> {
    let mut full = [PairCounts::new(items)?, PairCounts::new(items)?];
    let mut halves = [PairCounts::new(items)?, PairCounts::new(items)?];
    for (c, s) in full.iter_mut().zip(sets) {
        s.iter().for_each(|t| c.add(t));
    }
    let r = pearson_finite(&full[0].upper(), &full[1].upper());
    let mut rel = [0.0; 2];
    for (k, s) in sets.iter().enumerate() {
        let mut rng = Rng::seed_from_u64(seed);
        rng.set_stream(stream * 2 + k as u64);
        rel[k] = (0..splits)
            .map(|_| split_half(s, &mut halves, &mut rng, sb))
            .sum::<f64>()
            / splits as f64;
    }
    Ok(Estimate { r, rel })
}

/// The human–model consistency of two judged validation sets over the same `items`, with a
/// percentile bootstrap (trials resampled with replacement within each set).
pub fn consistency(
    a: &[Triplet],
    b: &[Triplet],
    items: &[u32],
    o: &ConsistencyOptions,
    ctx: &Ctx,
) -> Result<ConsistencyResult> {
    ensure!(o.splits >= 1, "splits must be at least 1");
    ensure!(
        o.ci > 0.0 && o.ci < 1.0,
        "ci must be between 0 and 1, got {}",
        o.ci
    );
    ensure!(
        a.len() >= 4 && b.len() >= 4,
        "consistency needs at least 4 judged triplets in each set"
    );
    let e = estimate([a, b], items, o.splits, o.seed, 0, o.spearman_brown)?;
    for (k, rel) in e.rel.iter().enumerate() {
        if rel.is_nan() || *rel <= 0.0 {
            ctx.warn(&format!(
                "triplets::consistency: the split-half reliability of set {} is {rel:.3}; the corrected value is undefined",
                ["a", "b"][k]
            ));
        }
    }
    let bar = ctx.progress("triplets::consistency bootstrap", o.bootstrap as u64);
    let boot: Vec<f64> = (0..o.bootstrap)
        .into_par_iter()
        .map(|i| -> Result<f64> {
            ctx.check()?;
            let mut rng = Rng::seed_from_u64(o.seed ^ 0x9e37_79b9_7f4a_7c15);
            rng.set_stream(i as u64);
            let be = boot_replicate([a, b], items, &mut rng, o.spearman_brown)?;
            bar.inc(1);
            Ok(corrected(be.r, be.rel[0], be.rel[1]))
        })
        .collect::<Result<_>>()?;
    drop(bar);
    let mut sorted: Vec<f64> = boot.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        // Linear interpolation between order statistics (numpy's default percentile).
        let h = p * (sorted.len() - 1) as f64;
        let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
        sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
    };
    let tail = (1.0 - o.ci) / 2.0;
    Ok(ConsistencyResult {
        consistency: corrected(e.r, e.rel[0], e.rel[1]),
        r: e.r,
        reliability: e.rel,
        ci: [q(tail), q(1.0 - tail)],
        boot,
    })
}

/// The choice-probability RSM: for each pair of items, the fraction of triplets containing both in which they were kept together.
#[derive(Options, Step)]
#[step(
    param(judged: Tensor = "N × 3 judged triplets (SPoSE order)"),
    param(items: Any = "item indices (or the prototypes map)"),
    returns = "k × k f64 tensor in the order of items; 1 on the diagonal, NaN for pairs no triplet holds",
    section = "Methods: human–model consistency"
)]
pub struct ChoiceRsm;

impl step::Step for ChoiceRsm {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let it = items(&args[1], "items")?;
        let (m, missing) = choice_rsm(&rows(&args[0], "judged")?, &it)?;
        if missing > 0 {
            ctx.warn(&format!(
                "triplets::choice_rsm: {missing} item pairs appear in no triplet (NaN)"
            ));
        }
        Ok(Value::Tensor(Tensor::from_array(m)))
    }
}

/// Human–model consistency (Eq. 4): the Pearson correlation of two choice RSMs divided by the square root of the product of their split-half reliabilities, with a percentile bootstrap confidence interval (trials resampled within each set).
#[derive(Options, Step)]
#[step(
    param(a: Tensor = "judged validation triplets of the first judge (e.g. humans)"),
    param(b: Tensor = "judged validation triplets of the second judge (e.g. a model)"),
    param(items: Any = "the prototypes (indices or the prototypes map)"),
    returns = "#{consistency, r, reliability_a, reliability_b, ci_low, ci_high, bootstrap}",
    section = "Methods: human–model consistency (Eq. 4)",
    example = "let c = triplets::consistency(human, model, protos, #{seed: 1});"
)]
pub struct Consistency {
    /// random split halves averaged for each reliability
    #[opt(default = 10)]
    pub splits: usize,
    /// bootstrap replicates (each with one split; 0: no interval)
    #[opt(default = 1000)]
    pub bootstrap: usize,
    /// confidence level of the interval
    #[opt(default = 0.95)]
    pub ci: f64,
    /// ChaCha8 seed of the splits and the bootstrap
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
    /// step the split-half correlations up to the full trial count (2r / (1 + r))
    #[opt(default = true)]
    pub spearman_brown: bool,
}

impl step::Step for Consistency {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let it = items(&args[2], "items")?;
        let c = consistency(
            &rows(&args[0], "a")?,
            &rows(&args[1], "b")?,
            &it,
            &ConsistencyOptions {
                splits: self.splits,
                bootstrap: self.bootstrap,
                ci: self.ci,
                seed: self.seed.unwrap_or(ctx.seed),
                spearman_brown: self.spearman_brown,
            },
            ctx,
        )?;
        Ok(vmap! {
            "consistency" => c.consistency, "r" => c.r,
            "reliability_a" => c.reliability[0], "reliability_b" => c.reliability[1],
            "ci_low" => c.ci[0], "ci_high" => c.ci[1],
            "bootstrap" => vector(c.boot),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_rsm_counts_pairs_kept_together() {
        // Items 0, 1, 2 of interest; 9 is another stimulus.
        let judged = [[0, 1, 9], [0, 9, 1], [1, 2, 0], [0, 1, 2]];
        let (m, missing) = choice_rsm(&judged, &[0, 1, 2]).unwrap();
        assert_eq!(missing, 0);
        // (0,1): in all 4 triplets, together in rows 0 and 3 -> 0.5
        assert!((m[[0, 1]] - 0.5).abs() < 1e-12 && (m[[1, 0]] - 0.5).abs() < 1e-12);
        // (1,2): rows 2, 3; together in row 2 -> 0.5; (0,2): rows 2, 3, together in none -> 0
        assert!((m[[1, 2]] - 0.5).abs() < 1e-12);
        assert_eq!(m[[0, 2]], 0.0);
        assert_eq!(m[[2, 2]], 1.0);
    }

    /// Eq. 4 computed independently: naive RSMs by scanning every triplet for each pair,
    /// Pearson by its textbook formula, Spearman–Brown, then the division.
    #[test]
    fn consistency_matches_an_independent_computation() {
        let items = [0u32, 1, 2, 3, 4];
        let mut rng = Rng::seed_from_u64(11);
        let make = |rng: &mut Rng, noise: f64| -> Vec<Triplet> {
            (0..600)
                .map(|_| {
                    let mut t = [0u32; 3];
                    t[0] = rng.random_range(0..5);
                    t[1] = loop {
                        let v = rng.random_range(0..8);
                        if v != t[0] {
                            break v;
                        }
                    };
                    t[2] = loop {
                        let v = rng.random_range(0..8);
                        if v != t[0] && v != t[1] {
                            break v;
                        }
                    };
                    // A "true" similarity: items close in index are kept together.
                    let mut d =
                        |x: u32, y: u32| (x as f64 - y as f64).abs() + noise * rng.random::<f64>();
                    let (d01, d02, d12) = (d(t[0], t[1]), d(t[0], t[2]), d(t[1], t[2]));
                    if d01 <= d02 && d01 <= d12 {
                        t
                    } else if d02 <= d12 {
                        [t[0], t[2], t[1]]
                    } else {
                        [t[1], t[2], t[0]]
                    }
                })
                .collect()
        };
        let a = make(&mut rng, 2.0);
        let b = make(&mut rng, 4.0);
        let o = ConsistencyOptions {
            splits: 3,
            bootstrap: 50,
            ci: 0.9,
            seed: 5,
            spearman_brown: true,
        };
        let got = consistency(&a, &b, &items, &o, &Ctx::detached()).unwrap();

        fn naive_rsm(trials: &[Triplet], items: &[u32]) -> Vec<f64> {
            let mut v = vec![];
            for p in 0..items.len() {
                for q in p + 1..items.len() {
                    let (x, y) = (items[p], items[q]);
                    let with: Vec<&Triplet> = trials
                        .iter()
                        .filter(|t| t.contains(&x) && t.contains(&y))
                        .collect();
                    let kept = with.iter().filter(|t| t[2] != x && t[2] != y).count();
                    v.push(if with.is_empty() {
                        f64::NAN
                    } else {
                        kept as f64 / with.len() as f64
                    });
                }
            }
            v
        }
        fn r(x: &[f64], y: &[f64]) -> f64 {
            let pairs: Vec<(f64, f64)> = x
                .iter()
                .zip(y)
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(a, b)| (*a, *b))
                .collect();
            let n = pairs.len() as f64;
            let (mx, my) = (
                pairs.iter().map(|p| p.0).sum::<f64>() / n,
                pairs.iter().map(|p| p.1).sum::<f64>() / n,
            );
            let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
            let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
            let syy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
            sxy / (sxx * syy).sqrt()
        }
        let rel = |trials: &[Triplet], k: u64| -> f64 {
            let mut rng = Rng::seed_from_u64(5);
            rng.set_stream(k);
            let mut s = 0.0;
            for _ in 0..3 {
                let mask = half_mask(trials.len(), &mut rng);
                let h1: Vec<Triplet> = trials
                    .iter()
                    .zip(&mask)
                    .filter(|(_, m)| **m)
                    .map(|(t, _)| *t)
                    .collect();
                let h2: Vec<Triplet> = trials
                    .iter()
                    .zip(&mask)
                    .filter(|(_, m)| !**m)
                    .map(|(t, _)| *t)
                    .collect();
                let rh = r(&naive_rsm(&h1, &items), &naive_rsm(&h2, &items));
                s += 2.0 * rh / (1.0 + rh);
            }
            s / 3.0
        };
        let (ra, rb) = (rel(&a, 0), rel(&b, 1));
        let rab = r(&naive_rsm(&a, &items), &naive_rsm(&b, &items));
        let want = rab / (ra * rb).sqrt();
        assert!((got.r - rab).abs() < 1e-12, "{} vs {rab}", got.r);
        assert!((got.reliability[0] - ra).abs() < 1e-12 && (got.reliability[1] - rb).abs() < 1e-12);
        assert!(
            (got.consistency - want).abs() < 1e-12,
            "{} vs {want}",
            got.consistency
        );
        assert!(got.ci[0] <= got.ci[1] && got.boot.len() == 50);
        // A judge is perfectly consistent with itself once corrected, within sampling error.
        let selfc = consistency(&a, &a, &items, &o, &Ctx::detached()).unwrap();
        assert!((selfc.r - 1.0).abs() < 1e-12);
    }
}
