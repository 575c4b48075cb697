//! Affective-space analyses (the study's "What the dimensions mean"): component labels from the
//! rating vectors, and the categorical structure of the space.
//!
//! Functions scripts call: `affect::label(X, ratings, #{...})`,
//! `affect::nearest_centroid(X, category_ratings, #{...})`.
pub mod centroid;
pub mod label;
#[cfg(test)]
mod tests;

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
    v.to_tensor("X")?.matrix::<f64>("X")
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
            description: "Affective-space analyses: component labels, categorical structure".into(),
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
            other => bail!("affect has no function '{other}'"),
        }
    }
}
