//! The sampling schemes of the triplets shown ("Methods: triplet sampling", "Methods: validation
//! set"): every pair × a few third items, every prototype pair × many, or uniform. Each draws
//! from ChaCha8 streams keyed by a block of work (a first item, a pair, a chunk of rows), so a
//! seed gives the same triplets whatever the thread count.
use crate::args::{count, items};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::step;
use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{ensure, Ctx, Options, Result, Step, Value};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::collections::HashSet;

fn stream(seed: u64, id: u64) -> Rng {
    let mut r = Rng::seed_from_u64(seed);
    r.set_stream(id);
    r
}

/// `k` distinct items from `0..n`, none in `exclude`.
fn distinct_thirds(rng: &mut Rng, n: u32, exclude: [u32; 2], k: usize, out: &mut Vec<u32>) {
    out.clear();
    while out.len() < k {
        let c = rng.random_range(0..n);
        if c != exclude[0] && c != exclude[1] && !out.contains(&c) {
            out.push(c);
        }
    }
}

/// The order shown: shuffled so that no position carries the pair or the third item.
fn shown(rng: &mut Rng, mut t: Triplet, shuffle: bool) -> Triplet {
    if shuffle {
        t.shuffle(rng);
    }
    t
}

/// Every unordered pair of `n` items, each completed with `per_pair` distinct third items drawn
/// uniformly from the other n − 2. Rows come in pair order ((0,1), (0,2), …, (n−2,n−1)),
/// `per_pair` consecutive rows per pair.
pub fn pairs(
    n: usize,
    per_pair: usize,
    seed: u64,
    shuffle: bool,
    ctx: &Ctx,
) -> Result<Vec<Triplet>> {
    ensure!(n >= 3, "sample_pairs needs at least 3 items, got {n}");
    ensure!(per_pair >= 1, "per_pair must be at least 1");
    ensure!(
        per_pair <= n - 2,
        "per_pair = {per_pair} distinct third items need at least {} items, got {n}",
        per_pair + 2
    );
    ensure!(n <= u32::MAX as usize, "too many items: {n}");
    let total = n * (n - 1) / 2 * per_pair;
    let mut out = vec![[0u32; 3]; total];
    // Split the output into one slice per first item i (its pairs (i, j>i)), filled in parallel.
    let mut slices = Vec::with_capacity(n);
    let mut rest = out.as_mut_slice();
    for i in 0..n - 1 {
        let (head, tail) = rest.split_at_mut((n - 1 - i) * per_pair);
        slices.push((i, head));
        rest = tail;
    }
    let bar = ctx.progress("triplets::sample_pairs", (n - 1) as u64);
    slices
        .into_par_iter()
        .try_for_each(|(i, slice)| -> Result<()> {
            ctx.check()?;
            let mut rng = stream(seed, i as u64);
            let mut thirds = Vec::with_capacity(per_pair);
            for (jj, block) in slice.chunks_exact_mut(per_pair).enumerate() {
                let j = (i + 1 + jj) as u32;
                distinct_thirds(&mut rng, n as u32, [i as u32, j], per_pair, &mut thirds);
                for (row, &k) in block.iter_mut().zip(&thirds) {
                    *row = shown(&mut rng, [i as u32, j, k], shuffle);
                }
            }
            bar.inc(1);
            Ok(())
        })?;
    drop(bar);
    Ok(out)
}

/// Every pair of the given items, each completed with `per_pair` distinct third items from the
/// other n − 2 stimuli (prototypes included).
pub fn validation(
    items: &[u32],
    n: usize,
    per_pair: usize,
    seed: u64,
    shuffle: bool,
) -> Result<Vec<Triplet>> {
    ensure!(
        items.len() >= 2,
        "validation needs at least 2 prototypes, got {}",
        items.len()
    );
    let mut seen = HashSet::new();
    for &p in items {
        ensure!(
            (p as usize) < n,
            "prototype {p} is out of range for {n} items"
        );
        ensure!(seen.insert(p), "prototype {p} is listed twice");
    }
    ensure!(
        per_pair >= 1 && per_pair <= n - 2,
        "per_pair must be between 1 and n − 2 = {}, got {per_pair}",
        n - 2
    );
    let pairs: Vec<(u32, u32)> = (0..items.len())
        .flat_map(|a| (a + 1..items.len()).map(move |b| (a, b)))
        .map(|(a, b)| (items[a], items[b]))
        .collect();
    Ok(pairs
        .par_iter()
        .enumerate()
        .flat_map_iter(|(p, &(a, b))| {
            let mut rng = stream(seed, p as u64);
            let mut thirds = Vec::with_capacity(per_pair);
            distinct_thirds(&mut rng, n as u32, [a, b], per_pair, &mut thirds);
            thirds
                .into_iter()
                .map(|k| shown(&mut rng, [a, b, k], shuffle))
                .collect::<Vec<_>>()
        })
        .collect())
}

const CHUNK: usize = 1 << 16;

/// `m` triplets of 3 distinct items drawn uniformly from `0..n` (with replacement across rows).
pub fn random(n: usize, m: usize, seed: u64) -> Result<Vec<Triplet>> {
    ensure!(n >= 3, "random triplets need at least 3 items, got {n}");
    let mut out = vec![[0u32; 3]; m];
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            let mut rng = stream(seed, c as u64);
            for row in chunk {
                let a = rng.random_range(0..n as u32);
                let mut b = rng.random_range(0..n as u32 - 1);
                if b >= a {
                    b += 1;
                }
                let c = loop {
                    let c = rng.random_range(0..n as u32);
                    if c != a && c != b {
                        break c;
                    }
                };
                *row = [a, b, c];
            }
        });
    Ok(out)
}

/// The study's main scheme: every unordered pair of n items, each completed with per_pair distinct third items drawn at random from the other n − 2. For n = 2,180 and per_pair = 3: 7,125,330 triplets.
#[derive(Options, Step)]
#[step(
    param(n: Int = "number of items (stimuli)"),
    returns = "N × 3 i64 tensor in the order shown; rows in pair order, per_pair consecutive rows per pair",
    section = "Methods: triplet sampling",
    example = "let all = triplets::sample_pairs(2180, #{per_pair: 3, seed: 1});"
)]
pub struct SamplePairs {
    /// distinct third items per pair
    #[opt(default = 3)]
    pub per_pair: usize,
    /// ChaCha8 seed (one stream per first item: independent of the thread count)
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
    /// shuffle the order shown within each triplet, so no position holds the pair or the third item
    #[opt(default = true)]
    pub shuffle: bool,
}

impl step::Step for SamplePairs {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let n = count(&args[0], "n")?;
        let t = pairs(
            n,
            self.per_pair,
            self.seed.unwrap_or(ctx.seed),
            self.shuffle,
            ctx,
        )?;
        Ok(Value::Tensor(trip::to_tensor(&t)))
    }
}

/// Every pair of prototypes, each completed with per_pair distinct other stimuli drawn from all n: 66 prototypes × 100 gives 2,145 × 100 = 214,500 triplets.
#[derive(Options, Step)]
#[step(
    param(prototypes: Any = "item indices (tensor or list) or the map triplets::prototypes returns"),
    param(n: Int = "number of items the third items come from"),
    returns = "N × 3 i64 tensor, per_pair consecutive rows per prototype pair",
    section = "Methods: validation set",
    example = "let v = triplets::validation(p, 2180, #{per_pair: 100, seed: 1});"
)]
pub struct Validation {
    /// distinct third items per prototype pair
    #[opt(default = 100)]
    pub per_pair: usize,
    /// ChaCha8 seed, one stream per pair
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
    /// shuffle the order shown within each triplet
    #[opt(default = true)]
    pub shuffle: bool,
}

impl step::Step for Validation {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let p = items(&args[0], "prototypes")?;
        let n = count(&args[1], "n")?;
        let seed = self.seed.unwrap_or(ctx.seed);
        let t = validation(&p, n, self.per_pair, seed, self.shuffle)?;
        Ok(Value::Tensor(trip::to_tensor(&t)))
    }
}

/// m triplets of three distinct items drawn uniformly from n.
#[derive(Options, Step)]
#[step(
    param(n: Int = "number of items"),
    param(m: Int = "number of triplets"),
    returns = "m × 3 i64 tensor"
)]
pub struct Random {
    /// ChaCha8 seed, one stream per 65,536 rows
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for Random {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let (n, m) = (count(&args[0], "n")?, count(&args[1], "m")?);
        let t = random(n, m, self.seed.unwrap_or(ctx.seed))?;
        Ok(Value::Tensor(trip::to_tensor(&t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn pairs_meet_every_sampling_invariant() {
        let (n, per) = (23usize, 3usize);
        let t = pairs(n, per, 5, true, &Ctx::detached()).unwrap();
        assert_eq!(t.len(), n * (n - 1) / 2 * per);
        let mut base: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        let (mut p, mut third_last) = (0, 0);
        for i in 0..n as u32 {
            for j in i + 1..n as u32 {
                for row in &t[p * per..(p + 1) * per] {
                    assert!(
                        row[0] != row[1] && row[0] != row[2] && row[1] != row[2],
                        "{row:?}"
                    );
                    assert!(
                        row.contains(&i) && row.contains(&j),
                        "row {row:?} of pair ({i},{j})"
                    );
                    let third = *row.iter().find(|&&x| x != i && x != j).unwrap();
                    third_last += usize::from(row[2] == third);
                    base.entry((i, j)).or_default().push(third);
                }
                p += 1;
            }
        }
        assert_eq!(base.len(), n * (n - 1) / 2);
        for (pair, thirds) in &base {
            assert_eq!(thirds.len(), per, "pair {pair:?}");
            let distinct: HashSet<_> = thirds.iter().collect();
            assert_eq!(
                distinct.len(),
                per,
                "the third items of {pair:?} repeat: {thirds:?}"
            );
        }
        // Shown positions are shuffled: the third item is last in about a third of the rows.
        let frac = third_last as f64 / t.len() as f64;
        assert!(
            (frac - 1.0 / 3.0).abs() < 0.08,
            "third item last in {frac} of rows"
        );
        // Deterministic for a seed, different across seeds.
        assert_eq!(t, pairs(n, per, 5, true, &Ctx::detached()).unwrap());
        assert_ne!(t, pairs(n, per, 6, true, &Ctx::detached()).unwrap());
    }

    #[test]
    fn study_count_for_2180_items() {
        // The formula the study quotes: C(2180, 2) × 3 = 7,125,330.
        assert_eq!(2180 * 2179 / 2 * 3, 7_125_330);
        assert!(pairs(4, 3, 1, true, &Ctx::detached()).is_err());
        assert_eq!(pairs(5, 3, 1, false, &Ctx::detached()).unwrap().len(), 30);
    }

    #[test]
    fn validation_covers_every_prototype_pair_with_distinct_thirds() {
        let protos = [3u32, 8, 1, 12];
        let t = validation(&protos, 40, 10, 2, true).unwrap();
        assert_eq!(t.len(), 6 * 10);
        for (b, block) in t.chunks(10).enumerate() {
            let thirds: HashSet<u32> = block
                .iter()
                .map(|r| {
                    let others: Vec<_> = r.iter().filter(|x| protos.contains(x)).collect();
                    assert!(others.len() >= 2, "block {b}: {r:?}");
                    r[0] ^ r[1] ^ r[2]
                })
                .collect();
            assert_eq!(thirds.len(), 10, "block {b} repeats a third item");
        }
        assert!(validation(&[1, 1], 10, 2, 0, true).is_err());
    }

    #[test]
    fn random_draws_three_distinct_items() {
        let t = random(10, 5000, 3).unwrap();
        assert!(t
            .iter()
            .all(|r| r[0] != r[1] && r[0] != r[2] && r[1] != r[2] && r.iter().all(|&x| x < 10)));
    }
}
