//! Choice statistics: positional bias, noise ceiling, agreement between judges, the
//! choice-probability RSM of a validation set, and the study's human–model consistency (Eq. 4).
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::stats::pearson;
use emoscope_sdk::triplets::{set_key, Triplet};
use emoscope_sdk::{bail, ensure, Ctx, Result};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::collections::HashMap;

/// Counts of the odd item's shown position (0, 1, 2), and the chi-square test against uniform.
pub struct PositionBias {
    pub counts: [u64; 3],
    pub chi2: f64,
    /// With 2 degrees of freedom the chi-square survival function is exactly exp(−χ²/2).
    pub p: f64,
}

pub fn position_counts(positions: impl Iterator<Item = Result<usize>>) -> Result<PositionBias> {
    let mut counts = [0u64; 3];
    for p in positions {
        counts[p?] += 1;
    }
    let n: u64 = counts.iter().sum();
    ensure!(n > 0, "no choices to count");
    let e = n as f64 / 3.0;
    let chi2 = counts
        .iter()
        .map(|&o| (o as f64 - e).powi(2) / e)
        .sum::<f64>();
    Ok(PositionBias {
        counts,
        chi2,
        p: (-chi2 / 2.0).exp(),
    })
}

/// The shown position of each judged triplet's odd item.
pub fn positions<'a>(
    shown: &'a [Triplet],
    judged: &'a [Triplet],
) -> Result<impl Iterator<Item = Result<usize>> + 'a> {
    ensure!(
        shown.len() == judged.len(),
        "shown has {} triplets but judged has {}: pass the triplets as shown and their judgements, row for row",
        shown.len(),
        judged.len()
    );
    Ok(shown.iter().zip(judged).enumerate().map(|(r, (s, j))| {
        if set_key(s) != set_key(j) {
            bail!("row {r}: shown {s:?} and judged {j:?} are different triplets");
        }
        Ok(s.iter().position(|&x| x == j[2]).expect("same set"))
    }))
}

/// Row-align `b` to `a`: directly when each row holds the same items, else by item set.
/// Returns, for each row of `a`, the row of `b` with the same triplet.
fn align(a: &[Triplet], b: &[Triplet]) -> Result<Vec<usize>> {
    if a.len() == b.len() && a.par_iter().zip(b).all(|(x, y)| set_key(x) == set_key(y)) {
        return Ok((0..a.len()).collect());
    }
    let index: HashMap<u128, usize> = b.iter().enumerate().map(|(r, t)| (set_key(t), r)).collect();
    a.iter()
        .enumerate()
        .map(|(r, t)| {
            index.get(&set_key(t)).copied().ok_or_else(|| {
                emoscope_sdk::Error::msg(format!(
                    "row {r} of the first set, {t:?}, is not among the second set's triplets"
                ))
            })
        })
        .collect()
}

/// Fraction of shared triplets on which two judges chose the same odd item.
pub fn agreement(a: &[Triplet], b: &[Triplet]) -> Result<(f64, usize)> {
    ensure!(!a.is_empty(), "agreement needs at least one triplet");
    let map = align(a, b)?;
    let same = a
        .par_iter()
        .zip(&map)
        .filter(|(t, &r)| t[2] == b[r][2])
        .count();
    Ok((same as f64 / a.len() as f64, a.len()))
}

/// Mean agreement of each judgement with its triplet's majority choice, over repeats of the same
/// triplets. Also returns, per triplet, the majority's share.
pub fn noise_ceiling(repeats: &[Vec<Triplet>]) -> Result<(f64, Vec<f64>)> {
    ensure!(
        repeats.len() >= 2,
        "the noise ceiling needs at least 2 repeats, got {}",
        repeats.len()
    );
    let first = &repeats[0];
    let maps = repeats[1..]
        .iter()
        .enumerate()
        .map(|(k, r)| {
            ensure!(
                r.len() == first.len(),
                "repeat {} has {} triplets, repeat 0 has {}",
                k + 1,
                r.len(),
                first.len()
            );
            align(first, r).map_err(|e| e.context(format!("repeat {}", k + 1)))
        })
        .collect::<Result<Vec<_>>>()?;
    let share: Vec<f64> = (0..first.len())
        .into_par_iter()
        .map(|row| {
            let mut odd = vec![first[row][2]];
            odd.extend(maps.iter().zip(&repeats[1..]).map(|(m, r)| r[m[row]][2]));
            let best = odd
                .iter()
                .map(|x| odd.iter().filter(|y| *y == x).count())
                .max()
                .unwrap();
            best as f64 / odd.len() as f64
        })
        .collect();
    let mean = share.iter().sum::<f64>() / share.len().max(1) as f64;
    Ok((mean, share))
}

/// Kept-together counts and totals for every pair of `items`, from judged triplets.
pub struct PairCounts {
    k: usize,
    slot: HashMap<u32, usize>,
    together: Vec<u32>,
    total: Vec<u32>,
}

impl PairCounts {
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
    let r = pearson_finite(&counts[0].upper(), &counts[1].upper());
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
        let r = pearson_finite(&halves[0].upper(), &halves[1].upper());
        rel[k] = if sb { 2.0 * r / (1.0 + r) } else { r };
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

pub struct ConsistencyOptions {
    pub splits: usize,
    pub bootstrap: usize,
    pub ci: f64,
    pub seed: u64,
    pub spearman_brown: bool,
}

pub struct Consistency {
    pub consistency: f64,
    pub r: f64,
    pub reliability: [f64; 2],
    pub ci: [f64; 2],
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
) -> Result<Consistency> {
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
        if !(*rel > 0.0) {
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
    Ok(Consistency {
        consistency: corrected(e.r, e.rel[0], e.rel[1]),
        r: e.r,
        reliability: e.rel,
        ci: [q(tail), q(1.0 - tail)],
        boot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_bias_chi_square_matches_hand_computation() {
        // counts 50, 30, 20 of 100: chi2 = (16.67² + 3.33² + 13.33²)/33.33 = 14.0
        let pos = [0usize; 50]
            .into_iter()
            .chain([1; 30])
            .chain([2; 20])
            .map(Ok);
        let b = position_counts(pos).unwrap();
        assert_eq!(b.counts, [50, 30, 20]);
        assert!((b.chi2 - 14.0).abs() < 1e-9, "{}", b.chi2);
        assert!((b.p - (-7.0f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn positions_find_the_odd_item_where_it_was_shown() {
        let shown = [[4, 5, 6], [1, 2, 3]];
        let judged = [[5, 6, 4], [1, 2, 3]];
        let p: Vec<usize> = positions(&shown, &judged)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(p, vec![0, 2]);
        let bad = [[5, 6, 7], [1, 2, 3]];
        let e = positions(&shown, &bad)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 0"), "{e}");
    }

    #[test]
    fn agreement_aligns_rows_by_item_set() {
        let a = [[0, 1, 2], [3, 4, 5], [6, 7, 8]];
        let b = [[7, 8, 6], [0, 2, 1], [4, 3, 5]];
        let (ag, n) = agreement(&a, &b).unwrap();
        assert_eq!(n, 3);
        assert!((ag - 1.0 / 3.0).abs() < 1e-12);
        assert!(agreement(&a, &[[0, 1, 9]]).is_err());
    }

    #[test]
    fn noise_ceiling_is_the_mean_majority_share() {
        let reps = vec![
            vec![[0, 1, 2], [3, 4, 5]],
            vec![[0, 1, 2], [3, 5, 4]],
            vec![[0, 2, 1], [5, 4, 3]],
            vec![[0, 1, 2], [3, 4, 5]],
        ];
        let (c, per) = noise_ceiling(&reps).unwrap();
        assert_eq!(per, vec![0.75, 0.5]);
        assert!((c - 0.625).abs() < 1e-12);
    }

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
