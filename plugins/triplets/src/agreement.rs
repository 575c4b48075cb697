//! Agreement between judgements of the same triplets: between two judges, and of repeated
//! judgements with their majority (the noise ceiling).
use crate::args::{rows, vector};
use emoscope_sdk::step;
use emoscope_sdk::triplets::{set_key, Triplet};
use emoscope_sdk::{ensure, vmap, Ctx, Options, Result, Step, Value};
use rayon::prelude::*;
use std::collections::HashMap;

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

/// Mean agreement of each judgement with its triplet's majority choice, over repeated judgements of the same triplets (the study: 20 repeats of 2,000 triplets).
#[derive(Options, Step)]
#[step(
    param(repeats: List = "list of N × 3 judged triplet sets over the same triplets (rows matched by item set)"),
    returns = "#{ceiling, per_triplet (majority share), repeats, triplets}",
    section = "Methods: noise ceiling"
)]
pub struct NoiseCeiling;

impl step::Step for NoiseCeiling {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let list = args[0]
            .as_list()
            .ok_or_else(|| emoscope_sdk::Error::msg("repeats must be a list of triplet sets"))?;
        let reps = list
            .iter()
            .enumerate()
            .map(|(k, v)| rows(v, &format!("repeat {k}")))
            .collect::<Result<Vec<_>>>()?;
        let (c, per) = noise_ceiling(&reps)?;
        let n = per.len();
        Ok(vmap! {
            "ceiling" => c,
            "per_triplet" => vector(per),
            "repeats" => reps.len(), "triplets" => n,
        })
    }
}

/// Fraction of triplets on which two judges chose the same odd item (rows matched by item set when they are not aligned).
#[derive(Options, Step)]
#[step(
    param(a: Tensor = "N × 3 judged triplets"),
    param(b: Tensor = "the same triplets judged by another judge"),
    returns = "#{agreement, n}",
    example = "let a = triplets::agreement(hc, hd);"
)]
pub struct Agreement;

impl step::Step for Agreement {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let (a, n) = agreement(&rows(&args[0], "a")?, &rows(&args[1], "b")?)?;
        Ok(vmap! {"agreement" => a, "n" => n})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
