//! Representational similarity analysis (the study's "Searchlight RSA" and model comparison):
//! similarity matrices of stimulus representations, and their comparison by rank correlation
//! with a Mantel permutation test.
//!
//! Functions scripts call: `rsa::rsm(X, #{metric})`, `rsa::compare(a, b, #{method, permutations, seed})`.
use emoscope_sdk::linalg::{similarity_matrix, Similarity};
use emoscope_sdk::stats::{pearson, rank_average};
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::Deserialize;

pub struct Rsa;

pub fn plugin() -> Rsa {
    Rsa
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RsmOptions {
    #[serde(default = "pearson_name")]
    metric: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareOptions {
    #[serde(default = "spearman_name")]
    method: String,
    #[serde(default)]
    permutations: usize,
    #[serde(default)]
    seed: Option<u64>,
}

fn pearson_name() -> String {
    "pearson".into()
}
fn spearman_name() -> String {
    "spearman".into()
}

fn metric(name: &str) -> Result<Similarity> {
    Ok(match name {
        "pearson" => Similarity::Pearson,
        "cosine" => Similarity::Cosine,
        "spearman" => Similarity::Spearman,
        other => bail!("unknown metric '{other}': expected pearson, cosine or spearman"),
    })
}

/// Upper triangle (i < j) of a square matrix, row by row.
fn upper(m: &ndarray::ArcArray2<f64>) -> Vec<f64> {
    let n = m.nrows();
    (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| m[[i, j]])
        .collect()
}

fn square(t: &Tensor, what: &str) -> Result<ndarray::ArcArray2<f64>> {
    let m = t.matrix::<f64>(what)?;
    ensure!(
        m.nrows() == m.ncols(),
        "{what} must be square (an RSM), got {}×{}",
        m.nrows(),
        m.ncols()
    );
    Ok(m)
}

/// The RSM correlation and its Mantel permutation p-value.
pub fn compare(
    a: &Tensor,
    b: &Tensor,
    method: &str,
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
    let spear = match method {
        "spearman" => true,
        "pearson" => false,
        other => bail!("unknown method '{other}': expected spearman or pearson"),
    };
    let prep = |v: Vec<f64>| if spear { rank_average(&v) } else { v };
    let ua = prep(upper(&ma));
    // Ranking b once and permuting the ranks equals ranking each permuted b.
    let rb = {
        let ub = prep(upper(&mb));
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
    let r = pearson(&ua, &gather(&identity));
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
            let rp = pearson(&ua, &gather(&perm));
            bar.inc(1);
            Ok(rp >= r)
        })
        .collect();
    let count = exceed?.into_iter().filter(|&x| x).count();
    Ok((r, (1 + count) as f64 / (1 + permutations) as f64, ua.len()))
}

impl Plugin for Rsa {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "rsa".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Representational similarity analysis: RSMs and their rank-correlation comparison".into(),
            functions: vec![
                FnSpec::new("rsm", "Similarity of every pair of rows (stimuli) of a feature matrix: a representational similarity matrix.")
                    .param("X", Ty::Tensor, "stimuli × features")
                    .opt("metric", Ty::Str, "\"pearson\"", "pearson, cosine or spearman (average ranks for ties)")
                    .returns("stimuli × stimuli f64 tensor, symmetric, ones on the diagonal for non-constant rows")
                    .section("Methods: representational similarity analysis")
                    .example("let S = rsa::rsm(tensor::randn([20, 5], #{seed: 1}), #{metric: \"pearson\"});"),
                FnSpec::new("compare", "Correlate the upper triangles of two RSMs, with an optional Mantel test that permutes the stimuli of the second.")
                    .param("a", Ty::Tensor, "first RSM (n × n)")
                    .param("b", Ty::Tensor, "second RSM (n × n)")
                    .opt("method", Ty::Str, "\"spearman\"", "spearman or pearson")
                    .opt("permutations", Ty::Int, "0", "number of stimulus permutations for the p-value (0: none)")
                    .opt("seed", Ty::Int, "run seed", "seed of the permutations (ChaCha8, one stream per permutation)")
                    .returns("#{r, p, n_pairs, permutations}; p = (1 + #{r_perm >= r}) / (1 + permutations), NaN without permutations")
                    .section("Methods: searchlight RSA (Spearman comparison of neural and model RSMs)")
                    .example("let c = rsa::compare(S1, S2, #{permutations: 1000, seed: 1});"),
            ],
        }
    }

    fn call(&self, function: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match function {
            "rsm" => {
                let o: RsmOptions = options::parse(opts)?;
                let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
                let s = similarity_matrix(x.view(), metric(&o.metric)?);
                Ok(Value::Tensor(Tensor::from_array(s)))
            }
            "compare" => {
                let o: CompareOptions = options::parse(opts)?;
                let (a, b) = (args[0].to_tensor("a")?, args[1].to_tensor("b")?);
                let (r, p, n) = compare(
                    &a,
                    &b,
                    &o.method,
                    o.permutations,
                    o.seed.unwrap_or(ctx.seed),
                    ctx,
                )?;
                Ok(vmap! {"r" => r, "p" => p, "n_pairs" => n, "permutations" => o.permutations})
            }
            other => bail!("rsa has no function '{other}'"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emoscope_sdk::stats::spearman;

    fn rsm(seed: u64, n: usize) -> Tensor {
        use rand::RngExt;
        let mut r = emoscope_sdk::ctx::Rng::seed_from_u64(seed);
        let x: Vec<f64> = (0..n * 4).map(|_| r.random::<f64>()).collect();
        let x = Tensor::from_vec(x, &[n, 4])
            .unwrap()
            .matrix::<f64>("x")
            .unwrap();
        Tensor::from_array(similarity_matrix(x.view(), Similarity::Pearson))
    }

    #[test]
    fn compare_equals_spearman_of_upper_triangles() {
        let (a, b) = (rsm(1, 12), rsm(2, 12));
        let ctx = Ctx::detached();
        let (r, p, n) = compare(&a, &b, "spearman", 0, 0, &ctx).unwrap();
        let ua = upper(&a.matrix::<f64>("a").unwrap());
        let ub = upper(&b.matrix::<f64>("b").unwrap());
        assert_eq!(n, 66);
        assert!((r - spearman(&ua, &ub)).abs() < 1e-12);
        assert!(p.is_nan());
    }

    #[test]
    fn mantel_test_detects_identity_and_not_noise() {
        let ctx = Ctx::detached();
        let a = rsm(3, 15);
        let (r, p, _) = compare(&a, &a, "spearman", 199, 7, &ctx).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
        assert!(
            (p - 1.0 / 200.0).abs() < 1e-12,
            "identity beats every permutation: p = {p}"
        );
        let (_, p2, _) = compare(&a, &rsm(4, 15), "spearman", 199, 7, &ctx).unwrap();
        assert!(
            p2 > 0.01,
            "unrelated RSMs should not be significant: p = {p2}"
        );
        // Reproducible for a seed, whatever the thread scheduling.
        let (_, p3, _) = compare(&a, &rsm(4, 15), "spearman", 199, 7, &ctx).unwrap();
        assert_eq!(p2, p3);
    }

    #[test]
    fn cancellation_stops_the_permutations() {
        let ctx = Ctx::detached();
        ctx.cancel.cancel();
        let a = rsm(3, 15);
        let e = compare(&a, &a, "spearman", 1000, 7, &ctx).unwrap_err();
        assert!(e.is_cancelled());
    }
}
