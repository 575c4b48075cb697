//! The judging rules. For up to `MATRIX_MAX` items the item × item similarities are computed once
//! (38 MB for 2,180 items) and each judgement is three lookups; beyond that they are computed
//! per triplet. Either way s(a, b) == s(b, a) exactly, so a judgement never depends on the order
//! shown except through the documented tie rule.
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::step::Step;
use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{bail, ensure, Choice, Ctx, Options, Result, Value};
use ndarray::{ArcArray2, Array2, ArrayView1, ArrayView2};
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

const MATRIX_MAX: usize = 16_384;
const CHUNK: usize = 1 << 16;

/// How similar two feature vectors are.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// cosine similarity; a zero row is similar to nothing (0)
    Cosine,
    /// dot product
    Dot,
    /// negative Euclidean distance
    Euclidean,
}

impl Metric {
    /// The distance the mean_distance rule averages: a decreasing function of the similarity.
    fn distance(self, s: f64) -> f64 {
        match self {
            Metric::Cosine => 1.0 - s,
            Metric::Dot | Metric::Euclidean => -s,
        }
    }
}

/// Which item of a triplet a feature-vector judge calls odd.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// the most similar pair stays; the item it leaves out is odd
    MaxPair,
    /// the item with the greatest mean distance to the other two is odd
    MeanDistance,
}

struct Similarity<'a> {
    x: ArrayView2<'a, f64>,
    norms: Vec<f64>,
    metric: Metric,
    matrix: Option<Array2<f64>>,
}

fn dot(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(p, q)| p * q).sum()
}

impl<'a> Similarity<'a> {
    fn new(x: ArrayView2<'a, f64>, metric: Metric, ctx: &Ctx) -> Result<Self> {
        let norms: Vec<f64> = x.outer_iter().map(|r| dot(r, r).sqrt()).collect();
        if metric == Metric::Cosine {
            let zero = norms.iter().filter(|&&v| v == 0.0).count();
            if zero > 0 {
                ctx.warn(&format!(
                    "judge: {zero} feature rows are all zero; under cosine they are similar to nothing (0)"
                ));
            }
        }
        let mut s = Similarity {
            x,
            norms,
            metric,
            matrix: None,
        };
        let n = x.nrows();
        if n <= MATRIX_MAX {
            let mut m = Array2::<f64>::zeros((n, n));
            m.axis_iter_mut(ndarray::Axis(0))
                .into_par_iter()
                .enumerate()
                .for_each(|(i, mut row)| {
                    for j in 0..n {
                        row[j] = s.direct(i, j);
                    }
                });
            ctx.check()?;
            s.matrix = Some(m);
        }
        Ok(s)
    }

    fn direct(&self, a: usize, b: usize) -> f64 {
        let (p, q) = (self.x.row(a), self.x.row(b));
        match self.metric {
            Metric::Dot => dot(p, q),
            Metric::Cosine => {
                let d = self.norms[a] * self.norms[b];
                if d == 0.0 {
                    0.0
                } else {
                    dot(p, q) / d
                }
            }
            Metric::Euclidean => -p
                .iter()
                .zip(q.iter())
                .map(|(u, v)| (u - v) * (u - v))
                .sum::<f64>()
                .sqrt(),
        }
    }

    #[inline]
    fn get(&self, a: u32, b: u32) -> f64 {
        match &self.matrix {
            Some(m) => m[[a as usize, b as usize]],
            None => self.direct(a as usize, b as usize),
        }
    }
}

/// The odd position (0, 1, 2) given a score per candidate odd position, higher = more odd;
/// ties go to the candidate with the lowest item index.
#[inline]
fn pick_odd(t: &Triplet, odd_score: [f64; 3]) -> usize {
    let mut best = 0;
    for k in 1..3 {
        if odd_score[k] > odd_score[best] || (odd_score[k] == odd_score[best] && t[k] < t[best]) {
            best = k;
        }
    }
    best
}

/// Reorder a shown triplet to SPoSE order, with position `odd` last.
#[inline]
fn spose(t: &Triplet, odd: usize) -> Triplet {
    match odd {
        0 => [t[1], t[2], t[0]],
        1 => [t[0], t[2], t[1]],
        _ => *t,
    }
}

fn judge_all(
    triplets: &[Triplet],
    ctx: &Ctx,
    label: &str,
    f: impl Fn(usize, &[Triplet], &mut [Triplet]) + Sync,
) -> Result<Vec<Triplet>> {
    let mut out = vec![[0u32; 3]; triplets.len()];
    let bar = ctx.progress(label, triplets.len() as u64);
    out.par_chunks_mut(CHUNK)
        .zip(triplets.par_chunks(CHUNK))
        .enumerate()
        .try_for_each(|(c, (o, t))| -> Result<()> {
            ctx.check()?;
            f(c, t, o);
            bar.inc(t.len() as u64);
            Ok(())
        })?;
    drop(bar);
    Ok(out)
}

/// Deterministic judgements from feature vectors.
pub fn from_features(
    x: ArrayView2<f64>,
    triplets: &[Triplet],
    metric: Metric,
    rule: Rule,
    ctx: &Ctx,
) -> Result<Vec<Triplet>> {
    let s = Similarity::new(x, metric, ctx)?;
    judge_all(triplets, ctx, "judge::from_features", |_, ts, out| {
        for (t, o) in ts.iter().zip(out) {
            // Pair similarities, indexed by the position left out (the candidate odd one).
            let sim = [s.get(t[1], t[2]), s.get(t[0], t[2]), s.get(t[0], t[1])];
            let odd_score = match rule {
                // The most similar pair stays: the odd one is the position its pair leaves out.
                Rule::MaxPair => sim,
                Rule::MeanDistance => {
                    let d = sim.map(|v| metric.distance(v));
                    // Mean distance of position k to the two others.
                    [
                        (d[2] + d[1]) / 2.0,
                        (d[2] + d[0]) / 2.0,
                        (d[1] + d[0]) / 2.0,
                    ]
                }
            };
            *o = spose(t, pick_odd(t, odd_score));
        }
    })
}

/// The SPoSE choice model as an observer: P(keep the pair leaving out k) ∝ exp(s_pair / T).
pub fn from_embedding(
    x: ArrayView2<f64>,
    triplets: &[Triplet],
    temperature: f64,
    seed: u64,
    ctx: &Ctx,
) -> Result<Vec<Triplet>> {
    ensure!(
        temperature > 0.0 && temperature.is_finite(),
        "temperature must be positive, got {temperature}"
    );
    let dotp = |a: u32, b: u32| dot(x.row(a as usize), x.row(b as usize));
    judge_all(triplets, ctx, "judge::from_embedding", |c, ts, out| {
        let mut rng = Rng::seed_from_u64(seed);
        rng.set_stream(c as u64);
        for (t, o) in ts.iter().zip(out) {
            let s = [dotp(t[1], t[2]), dotp(t[0], t[2]), dotp(t[0], t[1])];
            let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let w = s.map(|v| ((v - m) / temperature).exp());
            let mut u = rng.random::<f64>() * (w[0] + w[1] + w[2]);
            let mut odd = 2;
            for (k, wk) in w.iter().enumerate() {
                if u < *wk {
                    odd = k;
                    break;
                }
                u -= wk;
            }
            *o = spose(t, odd);
        }
    })
}

/// Per-item vectors from a script value, one finite row per item (and exactly `n_items` rows
/// when the script asks for that check).
fn features(v: &Value, what: &str, n_items: Option<usize>) -> Result<ArcArray2<f64>> {
    let x = v.to_tensor(what)?.matrix::<f64>(what)?;
    if let Some(n) = n_items {
        ensure!(
            x.nrows() == n,
            "{what} has {} rows but n_items is {n}: one row per item is expected",
            x.nrows()
        );
    }
    if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!("{what}, row {r}, column {c}: {v} is not a finite number");
    }
    Ok(x)
}

/// Judge triplets from per-item feature vectors. Rule max_pair keeps the most similar pair (the
/// study's simulated human on 34 category or 14 dimension ratings); rule mean_distance makes odd
/// the item with the greatest mean distance to the other two (the study's rule for CLIP, ResNet,
/// VideoMAE and text-encoder features). Ties go to the lowest stimulus index as the odd one,
/// whatever the order shown.
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(features: Tensor = "items × features (row i describes item i)"),
    param(triplets: Tensor = "N × 3 triplets in the order shown"),
    returns = "N × 3 i64 triplets in SPoSE order: the kept pair (in the order shown), then the odd one out",
    section = "Methods: simulated human judgements; non-generative model judgements",
    example = "let hc = judge::from_features(r.categories, all, #{rule: \"max_pair\"});"
)]
pub struct FromFeatures {
    /// cosine (a zero row is similar to nothing: 0), dot, or euclidean (negative Euclidean
    /// distance)
    #[opt(default = Metric::Cosine)]
    pub similarity: Metric,
    /// max_pair or mean_distance (distance = 1 − cosine, −dot, or the Euclidean distance)
    #[opt(default = Rule::MaxPair)]
    pub rule: Rule,
    /// require exactly this many feature rows
    #[opt(doc_default = "unchecked")]
    pub n_items: Option<usize>,
}

impl Step for FromFeatures {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let x = features(&args[0], "features", self.n_items)?;
        let t = crate::triplets_arg(&args[1])?;
        trip::check_items(&t, x.nrows(), "features")?;
        let j = from_features(x.view(), &t, self.similarity, self.rule, ctx)?;
        Ok(Value::Tensor(trip::to_tensor(&j)))
    }
}

/// A stochastic observer with the SPoSE choice model: the pair (i, j) is kept with probability
/// softmax over the three dot products, divided by the temperature.
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(embedding: Tensor = "items × dimensions (a SPoSE embedding)"),
    param(triplets: Tensor = "N × 3 triplets in the order shown"),
    returns = "N × 3 i64 triplets in SPoSE order",
    section = "Methods: SPoSE choice model (simulation, noise ceiling)",
    example = "let sim = judge::from_embedding(fit.embedding, all, #{seed: 2});"
)]
pub struct FromEmbedding {
    /// scales the dot products before the softmax (1: the SPoSE model itself; → 0: always the
    /// most similar pair)
    #[opt(default = 1.0)]
    pub temperature: f64,
    /// ChaCha8 seed, one stream per 65,536 triplets (independent of the thread count)
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
    /// require exactly this many embedding rows
    #[opt(doc_default = "unchecked")]
    pub n_items: Option<usize>,
}

impl Step for FromEmbedding {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let x = features(&args[0], "embedding", self.n_items)?;
        let t = crate::triplets_arg(&args[1])?;
        trip::check_items(&t, x.nrows(), "embedding")?;
        let seed = self.seed.unwrap_or(ctx.seed);
        let j = from_embedding(x.view(), &t, self.temperature, seed, ctx)?;
        Ok(Value::Tensor(trip::to_tensor(&j)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn ctx() -> Ctx {
        Ctx::detached()
    }

    /// Worked by hand: a = (1, 0), b = (0.9, 0.1), c = (0, 1).
    /// cos(a,b) = 0.9/|b| = 0.9939, cos(a,c) = 0, cos(b,c) = 0.1/|b| = 0.1104: a and b stay, c is odd.
    #[test]
    fn hand_computed_judgement_in_every_shown_order() {
        let x = array![[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]];
        let shown = vec![[0, 1, 2], [2, 0, 1], [1, 2, 0]];
        for rule in [Rule::MaxPair, Rule::MeanDistance] {
            for metric in [Metric::Cosine, Metric::Euclidean, Metric::Dot] {
                let j = from_features(x.view(), &shown, metric, rule, &ctx()).unwrap();
                assert_eq!(
                    j,
                    vec![[0, 1, 2], [0, 1, 2], [1, 0, 2]],
                    "{rule:?} {metric:?}"
                );
            }
        }
    }

    #[test]
    fn dot_and_cosine_can_disagree() {
        // b is long: by dot, a·b = 10 beats b·c = 9.5 and a·c = 0.9; by cosine a and c are closest.
        let x = array![[1.0, 0.0], [10.0, 10.0], [0.9, 0.05]];
        let t = vec![[0, 1, 2]];
        assert_eq!(
            from_features(x.view(), &t, Metric::Dot, Rule::MaxPair, &ctx()).unwrap()[0][2],
            2
        );
        assert_eq!(
            from_features(x.view(), &t, Metric::Cosine, Rule::MaxPair, &ctx()).unwrap()[0][2],
            1
        );
    }

    #[test]
    fn ties_go_to_the_lowest_index_whatever_the_order_shown() {
        // Three identical rows: every pair ties; item 3 (the lowest) is odd in every order.
        let x = array![
            [0.0, 0.0],
            [0.0, 0.0],
            [0.0, 0.0],
            [1.0, 1.0],
            [1.0, 1.0],
            [1.0, 1.0]
        ];
        for shown in [[3, 4, 5], [5, 4, 3], [4, 3, 5]] {
            for rule in [Rule::MaxPair, Rule::MeanDistance] {
                let j = from_features(x.view(), &[shown], Metric::Cosine, rule, &ctx()).unwrap();
                assert_eq!(j[0][2], 3, "{shown:?} {rule:?}");
            }
        }
    }

    #[test]
    fn matrix_and_direct_paths_agree() {
        use rand::RngExt;
        let mut r = Rng::seed_from_u64(1);
        let x = Array2::from_shape_fn((40, 5), |_| r.random::<f64>());
        let t: Vec<Triplet> = (0..500)
            .map(|_| {
                let a = r.random_range(0..38u32);
                [a, a + 1, (a + 2 + r.random_range(0..10u32)) % 40]
            })
            .filter(|t| t[2] != t[0] && t[2] != t[1])
            .collect();
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            let s = Similarity::new(x.view(), metric, &ctx()).unwrap();
            for a in 0..40 {
                for b in 0..40 {
                    assert_eq!(s.get(a, b), s.direct(a as usize, b as usize));
                    assert_eq!(s.get(a, b), s.get(b, a));
                }
            }
        }
        let j = from_features(x.view(), &t, Metric::Cosine, Rule::MaxPair, &ctx()).unwrap();
        assert_eq!(j.len(), t.len());
    }

    #[test]
    fn embedding_observer_follows_the_softmax() {
        // Dot products: (0,1) = 2, (0,2) = 0, (1,2) = 0 -> P(2 odd) = e²/(e² + 2) = 0.787.
        let x = array![[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]];
        let t = vec![[0u32, 1, 2]; 40_000];
        let j = from_embedding(x.view(), &t, 1.0, 3, &ctx()).unwrap();
        let p = j.iter().filter(|r| r[2] == 2).count() as f64 / t.len() as f64;
        let want = 2f64.exp() / (2f64.exp() + 2.0);
        assert!((p - want).abs() < 0.01, "{p} vs {want}");
        // Colder observers are more decisive; a seed reproduces.
        let cold = from_embedding(x.view(), &t, 0.1, 3, &ctx()).unwrap();
        assert!(cold.iter().all(|r| r[2] == 2));
        assert_eq!(j, from_embedding(x.view(), &t, 1.0, 3, &ctx()).unwrap());
        assert!(from_embedding(x.view(), &t, 0.0, 3, &ctx()).is_err());
    }

    #[test]
    fn rules_and_similarities_are_choices_named_in_errors() {
        use emoscope_sdk::step::Options as _;
        let o = |k: &str, v: &str| -> emoscope_sdk::Map {
            [(k.to_string(), Value::Str(v.into()))]
                .into_iter()
                .collect()
        };
        let f = FromFeatures::parse(&o("rule", "mean_distance")).unwrap();
        assert_eq!((f.similarity, f.rule), (Metric::Cosine, Rule::MeanDistance));
        let e = FromFeatures::parse(&o("rule", "closest")).err().unwrap();
        let e = e.to_string();
        assert!(
            e.contains("option 'rule'") && e.contains("'closest' is not one of max_pair"),
            "{e}"
        );
        let e = FromFeatures::parse(&o("similarity", "manhattan"))
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("'manhattan' is not one of cosine ("),
            "{e}"
        );
    }
}
