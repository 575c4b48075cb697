//! Odd-one-out judges ("Methods: triplet odd-one-out task"): the study's simulated humans, who
//! keep the most similar pair by their 34 category or 14 dimension ratings (Human-category,
//! Human-dimension); the rule it applies to non-generative models' feature vectors (the item with
//! the greatest mean distance to the other two is odd); and a stochastic observer that follows the
//! SPoSE choice model, for simulations and noise-ceiling studies.
//!
//! Every judge returns triplets in the SPoSE convention: the kept pair in the order shown, then
//! the odd one out. The language-model judges live in their own issue and feed the same format.
mod rules;

use emoscope_sdk::triplets::{self as trip};
use emoscope_sdk::{bail, ensure, options};
use emoscope_sdk::{Ctx, FnSpec, Map, Plugin, PluginInfo, Result, Ty, Value};
use serde::Deserialize;

pub use rules::{from_embedding, from_features, Metric, Rule};

pub struct Judge;

pub fn plugin() -> Judge {
    Judge
}

fn cosine() -> String {
    "cosine".into()
}
fn max_pair() -> String {
    "max_pair".into()
}
fn one() -> f64 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureOpt {
    #[serde(default = "cosine")]
    similarity: String,
    #[serde(default = "max_pair")]
    rule: String,
    n_items: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbeddingOpt {
    #[serde(default = "one")]
    temperature: f64,
    seed: Option<u64>,
    n_items: Option<usize>,
}

fn features(v: &Value, what: &str, n_items: Option<usize>) -> Result<ndarray::ArcArray2<f64>> {
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

impl Plugin for Judge {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "judge".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Odd-one-out judges: simulated from ratings, feature similarity, the SPoSE choice model".into(),
            functions: vec![
                FnSpec::new("from_features", "Judge triplets from per-item feature vectors. Rule max_pair keeps the most similar pair (the study's simulated human on 34 category or 14 dimension ratings); rule mean_distance makes odd the item with the greatest mean distance to the other two (the study's rule for CLIP, ResNet, VideoMAE and text-encoder features). Ties go to the lowest stimulus index as the odd one, whatever the order shown.")
                    .param("features", Ty::Tensor, "items × features (row i describes item i)")
                    .param("triplets", Ty::Tensor, "N × 3 triplets in the order shown")
                    .opt("similarity", Ty::Str, "\"cosine\"", "cosine (a zero row is similar to nothing: 0), dot, or euclidean (negative Euclidean distance)")
                    .opt("rule", Ty::Str, "\"max_pair\"", "max_pair or mean_distance (distance = 1 − cosine, −dot, or the Euclidean distance)")
                    .opt("n_items", Ty::Int, "unchecked", "require exactly this many feature rows")
                    .returns("N × 3 i64 triplets in SPoSE order: the kept pair (in the order shown), then the odd one out")
                    .section("Methods: simulated human judgements; non-generative model judgements")
                    .example("let hc = judge::from_features(r.categories, all, #{rule: \"max_pair\"});"),
                FnSpec::new("from_embedding", "A stochastic observer with the SPoSE choice model: the pair (i, j) is kept with probability softmax over the three dot products, divided by the temperature.")
                    .param("embedding", Ty::Tensor, "items × dimensions (a SPoSE embedding)")
                    .param("triplets", Ty::Tensor, "N × 3 triplets in the order shown")
                    .opt("temperature", Ty::Float, "1.0", "scales the dot products before the softmax (1: the SPoSE model itself; → 0: always the most similar pair)")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed, one stream per 65,536 triplets (independent of the thread count)")
                    .opt("n_items", Ty::Int, "unchecked", "require exactly this many embedding rows")
                    .returns("N × 3 i64 triplets in SPoSE order")
                    .section("Methods: SPoSE choice model (simulation, noise ceiling)")
                    .example("let sim = judge::from_embedding(fit.embedding, all, #{seed: 2});"),
            ],
        }
    }

    fn call(&self, function: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match function {
            "from_features" => {
                let o: FeatureOpt = options::parse(opts)?;
                let metric = Metric::parse(&o.similarity)?;
                let rule = Rule::parse(&o.rule)?;
                let x = features(&args[0], "features", o.n_items)?;
                let t = trip::rows(&args[1].to_tensor("triplets")?, "triplets", None)?;
                trip::check_items(&t, x.nrows(), "features")?;
                let j = from_features(x.view(), &t, metric, rule, ctx)?;
                Ok(Value::Tensor(trip::to_tensor(&j)))
            }
            "from_embedding" => {
                let o: EmbeddingOpt = options::parse(opts)?;
                let x = features(&args[0], "embedding", o.n_items)?;
                let t = trip::rows(&args[1].to_tensor("triplets")?, "triplets", None)?;
                trip::check_items(&t, x.nrows(), "embedding")?;
                let j =
                    from_embedding(x.view(), &t, o.temperature, o.seed.unwrap_or(ctx.seed), ctx)?;
                Ok(Value::Tensor(trip::to_tensor(&j)))
            }
            other => bail!("judge has no function '{other}'"),
        }
    }
}
