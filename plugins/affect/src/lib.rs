//! Affective-space analyses (the study's "What the dimensions mean"): component labels from the
//! rating vectors, the categorical structure of the space, its 2-D map (t-SNE), the graph of
//! components, stimulus profiles, and comparisons between systems.
//!
//! Functions scripts call: `affect::label(X, ratings, #{...})`,
//! `affect::nearest_centroid(X, category_ratings, #{...})`, `affect::tsne(X, #{...})`,
//! `affect::trustworthiness(X, Y, #{...})`, `affect::graph(X, #{...})`,
//! `affect::top_stimuli(X, #{...})`, `affect::profiles(X, stimuli)`, `affect::compare(A, B, #{...})`.
pub mod centroid;
pub mod compare;
pub mod graph;
pub mod label;
pub mod profile;
#[cfg(test)]
mod tests;
pub mod tsne;

use emoscope_sdk::io::ratings::{CATEGORY_NAMES, DIMENSION_NAMES};
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use label::{Rule, TermKind};
use ndarray::{concatenate, ArcArray2, Array1, Axis};
use serde::Deserialize;

pub struct Affect;

pub fn plugin() -> Affect {
    Affect
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelOpt {
    #[serde(default = "d_top")]
    top: usize,
    #[serde(default = "d_margin")]
    margin: f64,
    #[serde(default = "d_threshold")]
    threshold: f64,
}
fn d_top() -> usize {
    3
}
fn d_margin() -> f64 {
    0.1
}
fn d_threshold() -> f64 {
    0.1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CentroidOpt {
    #[serde(default = "d_k")]
    k: usize,
    #[serde(default = "d_min_count")]
    min_count: usize,
    #[serde(default = "d_permutations")]
    permutations: usize,
    seed: Option<u64>,
}
fn d_k() -> usize {
    3
}
fn d_min_count() -> usize {
    10
}
fn d_permutations() -> usize {
    1000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TsneOpt {
    #[serde(default = "d_perplexity")]
    perplexity: f64,
    #[serde(default = "d_iterations")]
    iterations: usize,
    seed: Option<u64>,
    learning_rate: Option<Value>,
    #[serde(default = "d_early_exaggeration")]
    early_exaggeration: f64,
    #[serde(default = "d_init")]
    init: String,
}
fn d_perplexity() -> f64 {
    30.0
}
fn d_iterations() -> usize {
    1000
}
fn d_early_exaggeration() -> f64 {
    12.0
}
fn d_init() -> String {
    "pca".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustOpt {
    #[serde(default = "d_trust_k")]
    k: usize,
}
fn d_trust_k() -> usize {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphOpt {
    #[serde(default = "d_graph_threshold")]
    threshold: f64,
    seed: Option<u64>,
    #[serde(default = "d_resolution")]
    resolution: f64,
    names: Option<Vec<String>>,
    #[serde(default = "d_communities")]
    communities: String,
}
fn d_communities() -> String {
    "positive".into()
}
fn d_graph_threshold() -> f64 {
    0.2
}
fn d_resolution() -> f64 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopOpt {
    #[serde(default = "d_top_k")]
    k: usize,
    names: Option<Vec<String>>,
}
fn d_top_k() -> usize {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareOpt {
    #[serde(default = "d_metric")]
    metric: String,
    #[serde(default = "d_method")]
    method: String,
}
fn d_metric() -> String {
    "pearson".into()
}
fn d_method() -> String {
    "spearman".into()
}

fn arg<'a>(args: &'a [Value], i: usize, name: &str, function: &str) -> Result<&'a Value> {
    match args.get(i) {
        Some(v) => Ok(v),
        None => bail!(
            "affect::{function} needs argument {} ({name}); got {} argument(s)",
            i + 1,
            args.len()
        ),
    }
}

/// A list of strings from a ratings map's `key`, or `default` when the key is absent.
fn names_of(m: &Value, key: &str, default: &[&str], want: usize) -> Result<Vec<String>> {
    let names: Vec<String> = match m.get(key) {
        Ok(v) => {
            let Some(l) = v.as_list() else {
                bail!(
                    "ratings.{key} must be a list of strings, got {}",
                    v.type_name()
                )
            };
            l.iter()
                .enumerate()
                .map(|(i, s)| match s.as_str() {
                    Some(s) => Ok(s.to_string()),
                    None => bail!("ratings.{key}[{i}] must be a string, got {}", s.type_name()),
                })
                .collect::<Result<_>>()?
        }
        Err(_) if default.len() == want => default.iter().map(|s| s.to_string()).collect(),
        Err(_) => (0..want).map(|i| i.to_string()).collect(),
    };
    ensure!(
        names.len() == want,
        "ratings.{key} has {} names but the matrix has {want} columns",
        names.len()
    );
    Ok(names)
}

fn ratings_matrix(m: &Value, key: &str) -> Result<ArcArray2<f64>> {
    let v = m.get(key).map_err(|_| {
        emoscope_sdk::Error::msg(format!(
            "ratings must be the map io::ratings returns (with `{key}`); this map has no `{key}`"
        ))
    })?;
    v.to_tensor(&format!("ratings.{key}"))?
        .matrix::<f64>(&format!("ratings.{key}"))
}

fn x_matrix(v: &Value) -> Result<ArcArray2<f64>> {
    named_matrix(v, "X")
}

/// A stimuli × columns f64 matrix argument, finite, with at least one row and column.
fn named_matrix(v: &Value, what: &str) -> Result<ArcArray2<f64>> {
    let m = v.to_tensor(what)?.matrix::<f64>(what)?;
    ensure!(
        m.nrows() >= 1 && m.ncols() >= 1,
        "{what} is empty (shape {} × {}): it must be stimuli × components",
        m.nrows(),
        m.ncols()
    );
    Ok(m)
}

fn ints(v: &[usize]) -> Value {
    Value::List(v.iter().map(|&i| Value::from(i)).collect())
}

fn floats(v: &[f64]) -> Value {
    Value::List(v.iter().map(|&f| Value::from(f)).collect())
}

fn strs(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| Value::Str(s.clone())).collect())
}

fn do_tsne(x: &Value, o: &TsneOpt, ctx: &Ctx) -> Result<Value> {
    let x = x_matrix(x)?;
    let learning_rate = match &o.learning_rate {
        None => None,
        Some(Value::Str(s)) if s == "auto" => None,
        Some(v @ (Value::Int(_) | Value::Float(_))) => v.as_f64(),
        Some(Value::Str(s)) => bail!("learning_rate must be \"auto\" or a number > 0, got \"{s}\""),
        Some(other) => bail!(
            "learning_rate must be \"auto\" or a number > 0, got {}",
            other.type_name()
        ),
    };
    let init = match o.init.as_str() {
        "pca" => tsne::Init::Pca,
        "random" => tsne::Init::Random,
        other => bail!("init must be \"pca\" or \"random\", got \"{other}\""),
    };
    let cfg = tsne::Config {
        perplexity: o.perplexity,
        iterations: o.iterations,
        learning_rate,
        early_exaggeration: o.early_exaggeration,
        init,
        seed: o.seed.unwrap_or(ctx.seed),
    };
    let out = tsne::tsne(x.view(), &cfg, ctx)?;
    Ok(vmap! {
        "coords" => Tensor::from_array(out.coords),
        "kl_divergence" => out.kl_divergence,
        "iterations" => out.iterations,
        "learning_rate" => out.learning_rate,
        "seed" => cfg.seed as i64,
    })
}

fn do_trustworthiness(x: &Value, y: &Value, o: &TrustOpt) -> Result<Value> {
    let x = x_matrix(x)?;
    let y = named_matrix(y, "Y")?;
    Ok(Value::from(tsne::trustworthiness(x.view(), y.view(), o.k)?))
}

fn check_names(names: &Option<Vec<String>>, want: usize, of: &str, one: &str) -> Result<()> {
    if let Some(n) = names {
        ensure!(
            n.len() == want,
            "names has {} entries but X has {want} {of}: give one name per {one}",
            n.len()
        );
    }
    Ok(())
}

fn do_graph(x: &Value, o: &GraphOpt, ctx: &Ctx) -> Result<Value> {
    let x = x_matrix(x)?;
    ensure!(
        o.threshold.is_finite() && (0.0..1.0).contains(&o.threshold),
        "threshold must be in [0, 1) (an edge needs |r| above it), got {}",
        o.threshold
    );
    ensure!(
        o.resolution.is_finite() && o.resolution > 0.0,
        "resolution must be a number > 0, got {}",
        o.resolution
    );
    ensure!(
        x.nrows() >= 3,
        "need at least 3 stimuli (rows of X) to correlate components, got {}",
        x.nrows()
    );
    check_names(&o.names, x.ncols(), "components (columns)", "component")?;
    label::ensure_finite(x.view(), "X")?;
    let seed = o.seed.unwrap_or(ctx.seed);
    let weights = match o.communities.as_str() {
        "positive" => graph::CommunityWeights::Positive,
        "abs" => graph::CommunityWeights::Abs,
        other => bail!("communities must be \"positive\" or \"abs\", got \"{other}\""),
    };
    let g = graph::component_graph(x.view(), o.threshold, o.resolution, seed, weights)?;
    let all_names: Vec<String> = match &o.names {
        Some(n) => n.clone(),
        None => (1..=x.ncols()).map(|i| i.to_string()).collect(),
    };
    let names: Vec<String> = g.nodes.iter().map(|&c| all_names[c].clone()).collect();
    let n_communities = g.communities.iter().copied().max().map_or(0, |c| c + 1);
    let (source, target, weight): (Vec<usize>, Vec<usize>, Vec<f64>) = g.edges.iter().fold(
        (Vec::new(), Vec::new(), Vec::new()),
        |(mut s, mut t, mut w), &(i, j, r)| {
            s.push(i);
            t.push(j);
            w.push(r);
            (s, t, w)
        },
    );
    Ok(vmap! {
        "nodes" => ints(&g.nodes),
        "names" => strs(&names),
        "isolated" => g.isolated.len(),
        "isolated_nodes" => ints(&g.isolated),
        "edges" => vmap! {"source" => ints(&source), "target" => ints(&target), "weight" => floats(&weight)},
        "communities" => ints(&g.communities),
        "n_communities" => n_communities,
        "modularity" => g.modularity,
        "pagerank" => floats(&g.pagerank),
        "r" => Tensor::from_array(g.r),
        "threshold" => o.threshold,
        "seed" => seed as i64,
    })
}

fn do_top_stimuli(x: &Value, o: &TopOpt) -> Result<Value> {
    let x = x_matrix(x)?;
    check_names(&o.names, x.nrows(), "stimuli (rows)", "stimulus")?;
    label::ensure_finite(x.view(), "X")?;
    let (idx, w) = profile::top_stimuli(x.view(), o.k)?;
    let mut out = vmap! {
        "index" => Tensor::from_array(idx.clone()),
        "weight" => Tensor::from_array(w),
    };
    if let (Some(names), Value::Map(m)) = (&o.names, &mut out) {
        let lists: Vec<Value> = idx
            .rows()
            .into_iter()
            .map(|row| {
                Value::List(
                    row.iter()
                        .map(|&i| Value::Str(names[i as usize].clone()))
                        .collect(),
                )
            })
            .collect();
        m.insert("names".into(), Value::List(lists));
    }
    Ok(out)
}

/// Stimulus indices: one int, a list of ints, or a 1-D integer tensor.
fn stimulus_indices(v: &Value) -> Result<Vec<i64>> {
    let bad = |what: String| {
        emoscope_sdk::Error::msg(format!(
            "stimuli must be a stimulus index (int) or a list of them (0-based rows of X), got {what}"
        ))
    };
    match v {
        Value::Int(i) => Ok(vec![*i]),
        Value::List(l) => l
            .iter()
            .enumerate()
            .map(|(p, e)| match e {
                Value::Int(i) => Ok(*i),
                other => Err(bad(format!("{} at position {p}", other.type_name()))),
            })
            .collect(),
        Value::Tensor(t) if t.ndim() <= 1 && !t.dtype().is_float() => {
            Ok(t.to_vec_f64()?.into_iter().map(|f| f as i64).collect())
        }
        Value::Tensor(t) => Err(bad(format!(
            "a {} tensor of shape {:?}",
            t.dtype().name(),
            t.shape()
        ))),
        other => Err(bad(other.type_name().to_string())),
    }
}

fn do_profiles(x: &Value, stimuli: &Value) -> Result<Value> {
    let x = x_matrix(x)?;
    let idx = stimulus_indices(stimuli)?;
    ensure!(
        !idx.is_empty(),
        "stimuli is empty: give at least one stimulus index"
    );
    let w = profile::profiles(x.view(), &idx)?;
    Ok(vmap! {
        "stimuli" => Value::List(idx.into_iter().map(Value::from).collect()),
        "weights" => Tensor::from_array(w),
    })
}

fn do_compare(a: &Value, b: &Value, o: &CompareOpt) -> Result<Value> {
    let a = named_matrix(a, "A")?;
    let b = named_matrix(b, "B")?;
    let metric = compare::parse_metric(&o.metric)?;
    let method = compare::Method::parse(&o.method)?;
    let out = compare::compare(a.view(), b.view(), metric, method)?;
    let am: Vec<usize> = out.matches.iter().map(|m| m.0).collect();
    let bm: Vec<usize> = out.matches.iter().map(|m| m.1).collect();
    let rm: Vec<f64> = out.matches.iter().map(|m| m.2).collect();
    Ok(vmap! {
        "rsm_r" => out.rsm_r,
        "r" => Tensor::from_array(out.r),
        "matches" => vmap! {"a" => ints(&am), "b" => ints(&bm), "r" => floats(&rm)},
        "mean_matched_r" => out.mean_matched_r,
        "metric" => o.metric.clone(),
        "method" => o.method.clone(),
    })
}

fn do_label(x: &Value, ratings: &Value, o: &LabelOpt) -> Result<Value> {
    ensure!(
        ratings.as_map().is_some(),
        "ratings must be the map io::ratings returns (#{{categories, dimensions, ...}}), got {}",
        ratings.type_name()
    );
    ensure!(o.top >= 1, "top must be at least 1, got {}", o.top);
    ensure!(
        o.margin >= 0.0 && o.margin.is_finite(),
        "margin must be a finite number ≥ 0, got {}",
        o.margin
    );
    ensure!(
        o.threshold.is_finite(),
        "threshold must be finite, got {}",
        o.threshold
    );
    let x = x_matrix(x)?;
    let cats = ratings_matrix(ratings, "categories")?;
    let dims = ratings_matrix(ratings, "dimensions")?;
    let cat_names = names_of(ratings, "category_names", &CATEGORY_NAMES, cats.ncols())?;
    let dim_names = names_of(ratings, "dimension_names", &DIMENSION_NAMES, dims.ncols())?;
    ensure!(
        cats.nrows() == dims.nrows(),
        "ratings.categories has {} rows but ratings.dimensions {}",
        cats.nrows(),
        dims.nrows()
    );
    ensure!(
        x.nrows() == cats.nrows(),
        "X has {} rows (stimuli) but the ratings have {}: rows must be the same stimuli in the same order",
        x.nrows(),
        cats.nrows()
    );
    ensure!(
        x.nrows() >= 3,
        "need at least 3 stimuli to correlate, got {}",
        x.nrows()
    );
    ensure!(x.ncols() >= 1, "X has no components (columns)");
    label::ensure_finite(x.view(), "X")?;
    label::ensure_finite(cats.view(), "ratings.categories")?;
    label::ensure_finite(dims.view(), "ratings.dimensions")?;
    let all = concatenate(Axis(1), &[cats.view(), dims.view()])
        .map_err(|e| emoscope_sdk::Error::msg(e.to_string()))?;
    let r = label::correlations(x.view(), all.view());
    let names: Vec<String> = cat_names.iter().chain(&dim_names).cloned().collect();
    let kinds: Vec<TermKind> = (0..names.len())
        .map(|j| {
            if j < cats.ncols() {
                TermKind::Category
            } else {
                TermKind::Dimension
            }
        })
        .collect();
    let rule = Rule {
        top: o.top,
        margin: o.margin,
        threshold: o.threshold,
    };
    let mut labels = Vec::new();
    let mut terms = Vec::new();
    let mut kinds_out = Vec::new();
    let mut interpretable = Vec::new();
    let mut best = Vec::new();
    for row in r.rows() {
        let row = row.to_vec();
        let l = label::label_row(&row, &names, &kinds, &rule);
        labels.push(Value::Str(l.terms.join(" / ")));
        terms.push(Value::List(
            l.terms.iter().map(|t| Value::Str(t.clone())).collect(),
        ));
        kinds_out.push(Value::Str(l.kind.into()));
        interpretable.push(Value::Bool(l.interpretable));
        best.push(
            row[..cats.ncols()]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max),
        );
    }
    Ok(vmap! {
        "labels" => labels,
        "terms" => terms,
        "kinds" => kinds_out,
        "interpretable" => interpretable,
        "best_category_r" => Tensor::from_array(Array1::from(best)),
        "correlations" => Tensor::from_array(r),
        "term_names" => names.into_iter().map(Value::Str).collect::<Vec<_>>(),
    })
}

fn do_nearest_centroid(x: &Value, cat: &Value, o: &CentroidOpt, ctx: &Ctx) -> Result<Value> {
    let x = x_matrix(x)?;
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
    let cfg = centroid::Config {
        k: o.k,
        min_count: o.min_count,
        permutations: o.permutations,
        seed: o.seed.unwrap_or(ctx.seed),
    };
    let out = centroid::nearest_centroid(x.view(), ratings.view(), &cfg, ctx)?;
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
        "k" => o.k,
        "categories" => categories,
        "counts" => out.counts.into_iter().map(Value::from).collect::<Vec<_>>(),
        "seed" => cfg.seed as i64,
    })
}

impl Plugin for Affect {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "affect".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Affective-space analyses: component labels, categorical structure, t-SNE maps, the component graph, stimulus profiles, comparisons between systems".into(),
            functions: vec![
                FnSpec::new("label", "Name each component of an embedding by the rating vectors it correlates with: Pearson r over stimuli of every component with each of the 34 category and 14 dimension ratings. The candidate terms are the `top` largest by |r| (ties to the earlier term); the first is always kept, and each next one only while it is within `margin` of the term before it (|r_prev| − |r_next| < margin), so a term that clearly beats the runner-up stands alone. Dimension terms carry the sign of r (`valence-high`, `valence-low`); category terms are named as they are. A component is interpretable when some |r| exceeds `threshold`; its kind is categorical, dimensional or mixed by the kinds of its kept terms. Labels and kinds are given for every component; filter by `interpretable`.")
                    .param("X", Ty::Tensor, "stimuli × components (the embedding)")
                    .param("ratings", Ty::Map, "the map io::ratings returns: #{categories (stimuli × 34), dimensions (stimuli × 14), category_names, dimension_names, stimuli}, rows aligned with X")
                    .opt("top", Ty::Int, "3", "at most this many terms per component")
                    .opt("margin", Ty::Float, "0.1", "a further term is kept while its |r| is within this of the previous term's")
                    .opt("threshold", Ty::Float, "0.1", "a component is interpretable when some |r| exceeds this")
                    .returns("#{labels: [string per component, terms joined by \" / \"], terms: [[string]], kinds: [\"categorical\" | \"dimensional\" | \"mixed\"], interpretable: [bool], best_category_r (components f64: max r over the categories), correlations (components × 48 f64: categories then dimensions), term_names: [34 categories then 14 dimensions]}")
                    .section("Results: what the dimensions mean (labelling components by their correlations with the category and dimension ratings)")
                    .example("let R = io::ratings(\"cowen_keltner_2017_ratings.csv\", #{stimuli: \"stimuli_2180.txt\"});\nlet L = affect::label(X, R, #{top: 3, margin: 0.1, threshold: 0.1});\nprint(L.labels);"),
                FnSpec::new("nearest_centroid", "Categorical structure of a space: each stimulus is labelled with its highest-rated category (ties to the earlier column); categories with at least `min_count` stimuli are kept, with only their stimuli. Leave-one-out: each kept stimulus is compared with the centroids (in X) of every kept category computed from the other stimuli, by Euclidean distance, and is correct when its own category is among the `k` nearest (distance ties to the earlier category). Chance is the mean accuracy over random permutations of the labels among the kept stimuli (ChaCha8, one stream per permutation, independent of the thread count); p = (1 + #{permutations with accuracy ≥ observed}) / (1 + permutations). Each pass is O(stimuli · categories · dims): class sums are computed once and the held-out stimulus is subtracted from its own class.")
                    .param("X", Ty::Tensor, "stimuli × dims (the space)")
                    .param("category_ratings", Ty::Any, "stimuli × categories tensor, or the io::ratings map (its categories and category_names are used); rows aligned with X")
                    .opt("k", Ty::Int, "3", "correct when the true category is among the k nearest centroids")
                    .opt("min_count", Ty::Int, "10", "keep categories that are the highest-rated of at least this many stimuli (≥ 2)")
                    .opt("permutations", Ty::Int, "1000", "label permutations for chance and p (0: chance and p are NaN)")
                    .opt("seed", Ty::Int, "run seed", "seed of the permutations")
                    .returns("#{accuracy, chance, p, n_stimuli, n_categories, k, categories: [names (ratings map) or column indices (tensor) kept], counts: [stimuli per kept category], seed}")
                    .section("Results: categorical structure (nearest-centroid, 27 categories with ≥ 10 stimuli, top-3 accuracy, 1,000 permutations)")
                    .example("let R = io::ratings(\"cowen_keltner_2017_ratings.csv\", #{stimuli: \"stimuli_2180.txt\"});\nlet nc = affect::nearest_centroid(X, R, #{k: 3, min_count: 10, permutations: 1000, seed: 1});\nprint(`${nc.accuracy} vs chance ${nc.chance}`);"),
                FnSpec::new("tsne", "A 2-D map of the stimuli (rows of X): exact t-SNE following scikit-learn's TSNE(method=\"exact\") step by step. Conditional probabilities by a binary search on each row's Gaussian precision to the target perplexity (squared Euclidean distances, natural-log entropy, tolerance 1e-5), symmetrised and normalised to sum 1 (floored at machine epsilon); Student-t (1 degree of freedom) similarities in 2-D; gradient descent with early exaggeration for the first 250 iterations (momentum 0.5), then momentum 0.8, delta-bar-delta gains (+0.2 / ×0.8, min 0.01), and scikit-learn's convergence checks every 50 iterations (stop after 300 without progress, or at gradient norm ≤ 1e-7). O(n²) memory and time per iteration (at most 10,000 stimuli); every sum is taken in a fixed order, so the result is the same for a seed on any number of threads.")
                    .param("X", Ty::Tensor, "stimuli × dims (the embedding)")
                    .opt("perplexity", Ty::Float, "30.0", "effective number of neighbours; must be below the number of stimuli")
                    .opt("iterations", Ty::Int, "1000", "total iterations (scikit-learn's max_iter), at least 250")
                    .opt("seed", Ty::Int, "run seed", "seed of the random initialisation (ChaCha8); unused with init \"pca\"")
                    .opt("learning_rate", Ty::Any, "\"auto\"", "\"auto\" = max(stimuli / early_exaggeration / 4, 50), as scikit-learn, or a number > 0")
                    .opt("early_exaggeration", Ty::Float, "12.0", "P is multiplied by this for the first 250 iterations")
                    .opt("init", Ty::Str, "\"pca\"", "\"pca\": the first two principal components scaled to standard deviation 1e-4 (scikit-learn's and openTSNE's default; deterministic); \"random\": N(0, 1e-4²) from the seed")
                    .returns("#{coords (stimuli × 2 f64), kl_divergence (KL(P‖Q) of the final map), iterations (run), learning_rate (used), seed}")
                    .section("Results: the map of the affective space (t-SNE of the stimuli, coloured by their top-rated category)")
                    .example("let m = affect::tsne(X, #{perplexity: 30.0, iterations: 1000, seed: 0});\nprint(affect::trustworthiness(X, m.coords, #{k: 5}));"),
                FnSpec::new("trustworthiness", "How well a low-dimensional map keeps each stimulus's neighbours: scikit-learn's sklearn.manifold.trustworthiness with Euclidean distances. T = 1 − 2 / (n k (2n − 3k − 1)) Σ_i Σ_{j among i's k nearest in Y} max(0, r(i, j) − k), where r(i, j) is j's rank (1 = nearest) among i's neighbours in X. 1 when every map neighbour is a true neighbour. Distance ties go to the lower stimulus index.")
                    .param("X", Ty::Tensor, "stimuli × dims (the original space)")
                    .param("Y", Ty::Tensor, "stimuli × dims (the map, e.g. affect::tsne(X).coords)")
                    .opt("k", Ty::Int, "5", "neighbours; below half the number of stimuli")
                    .returns("float in (-∞, 1] (≈ 0.5 for a random map, 1 for a perfect one)")
                    .section("Results: the map of the affective space (how faithful the 2-D map is)")
                    .example("let t5 = affect::trustworthiness(X, m.coords, #{k: 5});"),
                FnSpec::new("graph", "The graph of components (columns of X): two components are joined when |Pearson r| of their stimulus weights (over rows) exceeds `threshold`; the edge carries r. Components without an edge are removed and counted. Louvain communities (networkx's algorithm: local moving with the node order shuffled by the seed, then aggregation, until a level adds ≤ 1e-7 modularity) (modularity is ill-defined with negative weights, so by default communities form on the positive edges only, components that rise together; communities: \"abs\" binds by |r|) and PageRank (damping 0.85, tolerance 1e-6 per node, at most 100 iterations, networkx's power iteration, weighted by |r|); `modularity` is Newman's, at `resolution`, on the community weights.")
                    .param("X", Ty::Tensor, "stimuli × components (the embedding)")
                    .opt("threshold", Ty::Float, "0.2", "edge when |r| > threshold; in [0, 1)")
                    .opt("seed", Ty::Int, "run seed", "seed of Louvain's node order (ChaCha8)")
                    .opt("resolution", Ty::Float, "1.0", "Louvain / modularity resolution γ (> 1: smaller communities)")
                    .opt("names", Ty::List, "none", "one name per component (default \"1\"..\"d\")")
                    .opt("communities", Ty::Str, "\"positive\"", "edges Louvain and modularity use: \"positive\" (r > threshold) or \"abs\" (every edge, by |r|)")
                    .returns("#{nodes: [int] (component indices kept, 0-based, ascending), names: [string] aligned with nodes, isolated: int, isolated_nodes: [int], edges: #{source: [int], target: [int], weight: [float r]} (component indices, source < target), communities: [int] aligned with nodes (0-based, numbered by first appearance), n_communities, modularity, pagerank: [float] aligned with nodes (sums to 1), r (components × components f64), threshold, seed}")
                    .section("Results: how the dimensions relate (the component graph, its communities and central components)")
                    .example("let G = affect::graph(X, #{threshold: 0.2, seed: 0});\nprint(`${G.n_communities} communities, modularity ${G.modularity}, ${G.isolated} isolated`);"),
                FnSpec::new("top_stimuli", "For every component (column of X), the `k` stimuli (rows) with the largest weights, in descending order (ties to the lower row): the stimuli that define a component.")
                    .param("X", Ty::Tensor, "stimuli × components")
                    .opt("k", Ty::Int, "10", "stimuli per component, 1..stimuli")
                    .opt("names", Ty::List, "none", "one name per stimulus (e.g. io::ratings(...).stimuli); adds `names`")
                    .returns("#{index (components × k i64, 0-based rows), weight (components × k f64), names: [[string]] per component (only with the names option)}")
                    .section("Results: what the dimensions mean (the top stimuli of each component)")
                    .example("let T = affect::top_stimuli(X, #{k: 10, names: R.stimuli});\nprint(T.names[0]);"),
                FnSpec::new("profiles", "Each chosen stimulus's weights on every component (rows of X): the data behind the study's rose diagrams.")
                    .param("X", Ty::Tensor, "stimuli × components")
                    .param("stimuli", Ty::Any, "a stimulus index or a list of them (0-based rows of X)")
                    .returns("#{stimuli: [int], weights (stimuli chosen × components f64)}")
                    .section("Results: what the dimensions mean (rose diagrams of single stimuli)")
                    .example("let P = affect::profiles(X, [0, 17, 512]);\nprint(P.weights);"),
                FnSpec::new("compare", "Compare two systems' embeddings of the same stimuli (rows aligned; component counts may differ). rsm_r: the correlation (`method`) between the two stimulus × stimulus similarity matrices (`metric`) over the strict upper triangle. r: Pearson r over stimuli between every component of A and every component of B. matches: the one-to-one pairing of min(components) components that maximises the summed r (Hungarian algorithm, Kuhn–Munkres on r scaled by 1e9 and rounded), ordered by A's component.")
                    .param("A", Ty::Tensor, "stimuli × components of the first system")
                    .param("B", Ty::Tensor, "stimuli × components of the second system (same stimuli, same order)")
                    .opt("metric", Ty::Str, "\"pearson\"", "RSM similarity: \"pearson\" (needs ≥ 2 components) or \"cosine\"")
                    .opt("method", Ty::Str, "\"spearman\"", "RSM comparison: \"spearman\" or \"pearson\"")
                    .returns("#{rsm_r, r (components of A × components of B f64), matches: #{a: [int], b: [int], r: [float]}, mean_matched_r, metric, method}")
                    .section("Results: comparing systems (human and model affective spaces: RSM agreement and matched components)")
                    .example("let C = affect::compare(X_human, X_model, #{metric: \"pearson\", method: \"spearman\"});\nprint(`RSM r ${C.rsm_r}, mean matched r ${C.mean_matched_r}`);"),
            ],
        }
    }

    fn call(&self, function: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match function {
            "label" => {
                let o: LabelOpt = options::parse(opts)?;
                do_label(
                    arg(args, 0, "X", function)?,
                    arg(args, 1, "ratings", function)?,
                    &o,
                )
            }
            "nearest_centroid" => {
                let o: CentroidOpt = options::parse(opts)?;
                do_nearest_centroid(
                    arg(args, 0, "X", function)?,
                    arg(args, 1, "category_ratings", function)?,
                    &o,
                    ctx,
                )
            }
            "tsne" => {
                let o: TsneOpt = options::parse(opts)?;
                do_tsne(arg(args, 0, "X", function)?, &o, ctx)
            }
            "trustworthiness" => {
                let o: TrustOpt = options::parse(opts)?;
                do_trustworthiness(
                    arg(args, 0, "X", function)?,
                    arg(args, 1, "Y", function)?,
                    &o,
                )
            }
            "graph" => {
                let o: GraphOpt = options::parse(opts)?;
                do_graph(arg(args, 0, "X", function)?, &o, ctx)
            }
            "top_stimuli" => {
                let o: TopOpt = options::parse(opts)?;
                do_top_stimuli(arg(args, 0, "X", function)?, &o)
            }
            "profiles" => {
                ensure!(
                    opts.is_empty(),
                    "affect::profiles takes no options, got {}",
                    opts.keys().cloned().collect::<Vec<_>>().join(", ")
                );
                do_profiles(
                    arg(args, 0, "X", function)?,
                    arg(args, 1, "stimuli", function)?,
                )
            }
            "compare" => {
                let o: CompareOpt = options::parse(opts)?;
                do_compare(
                    arg(args, 0, "A", function)?,
                    arg(args, 1, "B", function)?,
                    &o,
                )
            }
            other => bail!("affect has no function '{other}'"),
        }
    }
}
