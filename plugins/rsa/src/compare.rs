//! The comparison of two RSMs: the correlation of their upper triangles, and its Mantel
//! permutation test.
use crate::rank::kendall_tau_a;
use crate::rsm::{square, upper};
use emoscope_sdk::stats::{pearson, rank_average};
use emoscope_sdk::step;
use emoscope_sdk::{ensure, vmap, Choice, Ctx, Options, Result, Step, Tensor, Value};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

/// How two RSMs' upper triangles are correlated.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Pearson correlation of the tie-aware average ranks
    Spearman,
    /// Pearson correlation of the values
    Pearson,
    /// Kendall's tau-a: (concordant − discordant) / pairs
    Kendall,
}

/// Correlate the upper triangles of two RSMs, with an optional Mantel test that permutes the
/// stimuli of the second.
#[derive(Options, Step)]
#[step(
    name = "compare",
    param(a: Tensor = "first RSM (n × n)"),
    param(b: Tensor = "second RSM (n × n)"),
    returns = "#{r, p, n_pairs, permutations}; p = (1 + #{r_perm >= r}) / (1 + permutations), NaN without permutations",
    section = "Methods: searchlight RSA (Spearman comparison of neural and model RSMs)",
    example = "let c = rsa::compare(S1, S2, #{method: \"kendall\", permutations: 1000, seed: 1});"
)]
pub struct Compare {
    /// spearman (tie-aware average ranks), pearson, or kendall (Kendall's tau-a: (concordant −
    /// discordant) / pairs, O(n log n) merge-sort count)
    #[opt(default = Method::Spearman)]
    pub method: Method,
    /// number of stimulus permutations for the p-value (0: none)
    #[opt(default = 0)]
    pub permutations: usize,
    /// seed of the permutations (ChaCha8, one stream per permutation)
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for Compare {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let (a, b) = (args[0].to_tensor("a")?, args[1].to_tensor("b")?);
        let seed = self.seed.unwrap_or(ctx.seed);
        let (r, p, n) = compare(&a, &b, self.method, self.permutations, seed, ctx)?;
        Ok(vmap! {"r" => r, "p" => p, "n_pairs" => n, "permutations" => self.permutations})
    }
}

/// The RSM correlation, its Mantel permutation p-value (NaN without permutations) and the
/// number of pairs it was computed on.
pub fn compare(
    a: &Tensor,
    b: &Tensor,
    method: Method,
    permutations: usize,
    seed: u64,
    ctx: &Ctx,
) -> Result<(f64, f64, usize)> {
    let (ma, mb) = (square(a, "first RSM")?, square(b, "second RSM")?);
    ensure!(
        ma.nrows() == mb.nrows(),
        "the RSMs differ in size: {}×{} vs {}×{}",
        ma.nrows(),
        ma.nrows(),
        mb.nrows(),
        mb.nrows()
    );
    let n = ma.nrows();
    ensure!(n >= 3, "RSMs need at least 3 items, got {n}");
    let prep = |v: Vec<f64>| {
        if method == Method::Spearman {
            rank_average(&v)
        } else {
            v
        }
    };
    let stat = |x: &[f64], y: &[f64]| {
        if method == Method::Kendall {
            kendall_tau_a(x, y)
        } else {
            pearson(x, y)
        }
    };
    let ua = prep(upper(ma.view()));
    // Ranking b once and permuting the ranks equals ranking each permuted b.
    let rb = {
        let ub = prep(upper(mb.view()));
        let mut full = ndarray::Array2::<f64>::zeros((n, n));
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                full[[i, j]] = ub[k];
                full[[j, i]] = ub[k];
                k += 1;
            }
        }
        full
    };
    let gather = |perm: &[usize]| -> Vec<f64> {
        let mut v = Vec::with_capacity(ua.len());
        for i in 0..n {
            for j in i + 1..n {
                v.push(rb[[perm[i], perm[j]]]);
            }
        }
        v
    };
    let identity: Vec<usize> = (0..n).collect();
    let r = stat(&ua, &gather(&identity));
    if permutations == 0 {
        return Ok((r, f64::NAN, ua.len()));
    }
    let bar = ctx.progress("rsa::compare permutations", permutations as u64);
    // One ChaCha8 stream per permutation: the result does not depend on the thread count.
    let exceed: Result<Vec<bool>> = (0..permutations)
        .into_par_iter()
        .map(|p| {
            ctx.check()?;
            let mut rng = emoscope_sdk::ctx::Rng::seed_from_u64(seed);
            rng.set_stream(p as u64 + 1);
            let mut perm = identity.clone();
            perm.shuffle(&mut rng);
            let rp = stat(&ua, &gather(&perm));
            bar.inc(1);
            Ok(rp >= r)
        })
        .collect();
    let count = exceed?.into_iter().filter(|&x| x).count();
    Ok((r, (1 + count) as f64 / (1 + permutations) as f64, ua.len()))
}
