//! The behavioural data of the study ("Methods: triplet odd-one-out task"): which triplets are
//! shown (every pair × 3 third items; the validation set over category prototypes; uniform
//! random), how they are split, stored and read in the SPoSE formats, and the statistics of the
//! choices made on them (positional bias, noise ceiling, agreement, the choice-probability RSM and
//! the human–model consistency of Eq. 4).
//!
//! A triplet set is an N×3 i64 tensor (see `emoscope_sdk::triplets`).
mod sample;
mod stats;

use emoscope_sdk::io::triplets::{self as tio, Format};
use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use serde::Deserialize;
use std::path::PathBuf;

pub use sample::{pairs as sample_pairs, prototypes, random, validation};
pub use stats::{agreement, choice_rsm, consistency, corrected, noise_ceiling, ConsistencyOptions};

pub struct Triplets;

pub fn plugin() -> Triplets {
    Triplets
}

fn three() -> usize {
    3
}
fn hundred() -> usize {
    100
}
fn two() -> usize {
    2
}
fn yes() -> bool {
    true
}
fn auto() -> String {
    "auto".into()
}
fn set() -> String {
    "set".into()
}
fn tenth() -> f64 {
    0.1
}
fn ten() -> usize {
    10
}
fn thousand() -> usize {
    1000
}
fn ninety_five() -> f64 {
    0.95
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairsOpt {
    #[serde(default = "three")]
    per_pair: usize,
    seed: Option<u64>,
    #[serde(default = "yes")]
    shuffle: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationOpt {
    #[serde(default = "hundred")]
    per_pair: usize,
    seed: Option<u64>,
    #[serde(default = "yes")]
    shuffle: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtoOpt {
    #[serde(default = "two")]
    per_category: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedOpt {
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitOpt {
    #[serde(default = "tenth")]
    test: f64,
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DedupOpt {
    #[serde(default = "set")]
    by: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadOpt {
    n_items: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveOpt {
    #[serde(default = "auto")]
    format: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyOpt {
    #[serde(default = "ten")]
    splits: usize,
    #[serde(default = "thousand")]
    bootstrap: usize,
    #[serde(default = "ninety_five")]
    ci: f64,
    seed: Option<u64>,
    #[serde(default = "yes")]
    spearman_brown: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoOpt {}

fn count(v: &Value, what: &str) -> Result<usize> {
    match v.as_i64() {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => bail!(
            "{what} must be a non-negative integer, got {}",
            v.type_name()
        ),
    }
}

fn rows(v: &Value, what: &str) -> Result<Vec<Triplet>> {
    trip::rows(&v.to_tensor(what)?, what, None)
}

/// Item indices from a tensor, a list, or the map `triplets::prototypes` returns.
fn items(v: &Value, what: &str) -> Result<Vec<u32>> {
    let v = match v {
        Value::Map(m) if m.contains_key("indices") => &m["indices"],
        other => other,
    };
    let t = v.to_tensor(what)?;
    ensure!(
        !t.dtype().is_float(),
        "{what} must be integer item indices, got {}",
        t.dtype().name()
    );
    ensure!(
        t.ndim() == 1,
        "{what} must be a 1-D list of item indices, got shape {:?}",
        t.shape()
    );
    t.to_i64()?
        .iter()
        .map(|&i| {
            ensure!(
                i >= 0 && i <= u32::MAX as i64,
                "{what}: {i} is not a valid item index"
            );
            Ok(i as u32)
        })
        .collect()
}

fn path(v: &Value, what: &str) -> Result<PathBuf> {
    match v.as_str() {
        Some(s) => Ok(PathBuf::from(s)),
        None => bail!("{what} must be a file path (string), got {}", v.type_name()),
    }
}

fn index_tensor(idx: &[usize]) -> Tensor {
    Tensor::from_vec(
        idx.iter().map(|&i| i as i64).collect::<Vec<_>>(),
        &[idx.len()],
    )
    .expect("1-D")
}

fn pick(rows: &[Triplet], idx: &[usize]) -> Tensor {
    trip::to_tensor(&idx.iter().map(|&i| rows[i]).collect::<Vec<_>>())
}

fn prototypes_value(arg: &Value, per_category: usize) -> Result<Value> {
    let (cat, stimuli, names) = match arg {
        Value::Map(m) => {
            let cat = arg.get("categories")?.to_tensor("categories")?;
            let strings = |k: &str| -> Option<Vec<String>> {
                m.get(k)?
                    .as_list()?
                    .iter()
                    .map(|v| v.as_str().map(String::from))
                    .collect()
            };
            (cat, strings("stimuli"), strings("category_names"))
        }
        other => (other.to_tensor("categories")?, None, None),
    };
    let cat = cat.matrix::<f64>("categories")?;
    let (per, merged) = sample::prototypes(cat.view(), per_category)?;
    let names = names.unwrap_or_else(|| (0..cat.ncols()).map(|c| format!("c{c}")).collect());
    ensure!(
        names.len() == cat.ncols(),
        "category_names has {} names for {} category columns",
        names.len(),
        cat.ncols()
    );
    if let Some(s) = &stimuli {
        ensure!(
            s.len() == cat.nrows(),
            "stimuli has {} names for {} rows of categories",
            s.len(),
            cat.nrows()
        );
    }
    let chosen_for = |i: u32| -> Value {
        Value::List(
            per.iter()
                .enumerate()
                .filter(|(_, top)| top.contains(&i))
                .map(|(c, _)| Value::Str(names[c].clone()))
                .collect(),
        )
    };
    let by_category: Map = per
        .iter()
        .enumerate()
        .map(|(c, top)| {
            let t = Tensor::from_vec(
                top.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                &[top.len()],
            )
            .expect("1-D");
            (names[c].clone(), Value::Tensor(t))
        })
        .collect();
    let mut out = vmap! {
        "indices" => Value::Tensor(Tensor::from_vec(merged.iter().map(|&i| i as i64).collect::<Vec<_>>(), &[merged.len()]).expect("1-D")),
        "categories" => Value::List(merged.iter().map(|&i| chosen_for(i)).collect()),
        "by_category" => Value::Map(by_category),
    };
    if let (Some(s), Value::Map(m)) = (&stimuli, &mut out) {
        m.insert(
            "stimuli".into(),
            Value::List(
                merged
                    .iter()
                    .map(|&i| Value::Str(s[i as usize].clone()))
                    .collect(),
            ),
        );
    }
    Ok(out)
}

impl Plugin for Triplets {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "triplets".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Triplet sampling schemes, SPoSE-format I/O, splits and choice statistics".into(),
            functions: vec![
                FnSpec::new("sample_pairs", "The study's main scheme: every unordered pair of n items, each completed with per_pair distinct third items drawn at random from the other n − 2. For n = 2,180 and per_pair = 3: 7,125,330 triplets.")
                    .param("n", Ty::Int, "number of items (stimuli)")
                    .opt("per_pair", Ty::Int, "3", "distinct third items per pair")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed (one stream per first item: independent of the thread count)")
                    .opt("shuffle", Ty::Bool, "true", "shuffle the order shown within each triplet, so no position holds the pair or the third item")
                    .returns("N × 3 i64 tensor in the order shown; rows in pair order, per_pair consecutive rows per pair")
                    .section("Methods: triplet sampling")
                    .example("let all = triplets::sample_pairs(2180, #{per_pair: 3, seed: 1});"),
                FnSpec::new("prototypes", "The validation prototypes: the per_category highest-rated items of each category (ties: the lower index), duplicates merged.")
                    .param("categories", Ty::Any, "items × categories ratings, or the map io::ratings returns (then stimulus and category names are attached)")
                    .opt("per_category", Ty::Int, "2", "items chosen per category")
                    .returns("#{indices (in order of first choice), categories (the categories each prototype tops), by_category, stimuli (names, when given a ratings map)}")
                    .section("Methods: validation set")
                    .example("let p = triplets::prototypes(r, #{per_category: 2});"),
                FnSpec::new("validation", "Every pair of prototypes, each completed with per_pair distinct other stimuli drawn from all n: 66 prototypes × 100 gives 2,145 × 100 = 214,500 triplets.")
                    .param("prototypes", Ty::Any, "item indices (tensor or list) or the map triplets::prototypes returns")
                    .param("n", Ty::Int, "number of items the third items come from")
                    .opt("per_pair", Ty::Int, "100", "distinct third items per prototype pair")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed, one stream per pair")
                    .opt("shuffle", Ty::Bool, "true", "shuffle the order shown within each triplet")
                    .returns("N × 3 i64 tensor, per_pair consecutive rows per prototype pair")
                    .section("Methods: validation set")
                    .example("let v = triplets::validation(p, 2180, #{per_pair: 100, seed: 1});"),
                FnSpec::new("random", "m triplets of three distinct items drawn uniformly from n.")
                    .param("n", Ty::Int, "number of items")
                    .param("m", Ty::Int, "number of triplets")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed, one stream per 65,536 rows")
                    .returns("m × 3 i64 tensor"),
                FnSpec::new("split", "A seeded random train/test split of the rows; each part keeps the original row order.")
                    .param("t", Ty::Tensor, "N × 3 triplets")
                    .opt("test", Ty::Float, "0.1", "fraction of rows held out, strictly between 0 and 1")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed")
                    .returns("#{train, test, train_index, test_index}")
                    .section("Methods: SPoSE training (90/10 split)")
                    .example("let parts = triplets::split(all, #{test: 0.1, seed: 1});"),
                FnSpec::new("dedup", "Drop repeated triplets, keeping each first occurrence.")
                    .param("t", Ty::Tensor, "N × 3 triplets")
                    .opt("by", Ty::Str, "\"set\"", "\"set\": the same three items in any order repeat; \"row\": only identical rows (the same judgement) repeat")
                    .returns("#{triplets, index (rows kept), removed}"),
                FnSpec::new("load", "Read triplets in the SPoSE formats: text (N lines of three integers; whitespace or commas; integral floats as np.savetxt writes them) or .npy of any integer or integral float type. Checks every row and names the offending line.")
                    .param("path", Ty::Str, "triplet file")
                    .opt("n_items", Ty::Int, "unchecked", "every index must be below this")
                    .returns("N × 3 i64 tensor")
                    .section("Data: triplets (SPoSE convention, 0-based)")
                    .example("let t = triplets::load(\"train_90.txt\", #{n_items: 2180});"),
                FnSpec::new("save", "Write triplets through a temporary file: SPoSE text, int64 .npy, or compact .npy (the smallest unsigned integer type that fits; u2 for 2,180 items).")
                    .param("t", Ty::Tensor, "N × 3 triplets")
                    .param("path", Ty::Str, "destination")
                    .opt("format", Ty::Str, "\"auto\"", "auto (by extension: .txt/.csv/.tsv text, .npy int64), text, npy or compact")
                    .returns("the path written")
                    .example("triplets::save(judged, out + \"/human_category.txt\");"),
                FnSpec::new("position_bias", "How often each shown position held the odd one out, with a chi-square test against uniform (df = 2, p = exp(−χ²/2)).")
                    .param("shown", Ty::Tensor, "N × 3 triplets in the order shown, or an N-vector of chosen positions (0, 1, 2)")
                    .optional_param("judged", Ty::Tensor, "N × 3 judgements of the same rows, in SPoSE order")
                    .returns("#{counts, fractions, chi2, df, p, n}")
                    .section("Results: positional bias of prompts")
                    .example("let b = triplets::position_bias(all, judged);"),
                FnSpec::new("noise_ceiling", "Mean agreement of each judgement with its triplet's majority choice, over repeated judgements of the same triplets (the study: 20 repeats of 2,000 triplets).")
                    .param("repeats", Ty::List, "list of N × 3 judged triplet sets over the same triplets (rows matched by item set)")
                    .returns("#{ceiling, per_triplet (majority share), repeats, triplets}")
                    .section("Methods: noise ceiling"),
                FnSpec::new("agreement", "Fraction of triplets on which two judges chose the same odd item (rows matched by item set when they are not aligned).")
                    .param("a", Ty::Tensor, "N × 3 judged triplets")
                    .param("b", Ty::Tensor, "the same triplets judged by another judge")
                    .returns("#{agreement, n}")
                    .example("let a = triplets::agreement(hc, hd);"),
                FnSpec::new("choice_rsm", "The choice-probability RSM: for each pair of items, the fraction of triplets containing both in which they were kept together.")
                    .param("judged", Ty::Tensor, "N × 3 judged triplets (SPoSE order)")
                    .param("items", Ty::Any, "item indices (or the prototypes map)")
                    .returns("k × k f64 tensor in the order of items; 1 on the diagonal, NaN for pairs no triplet holds")
                    .section("Methods: human–model consistency"),
                FnSpec::new("consistency", "Human–model consistency (Eq. 4): the Pearson correlation of two choice RSMs divided by the square root of the product of their split-half reliabilities, with a percentile bootstrap confidence interval (trials resampled within each set).")
                    .param("a", Ty::Tensor, "judged validation triplets of the first judge (e.g. humans)")
                    .param("b", Ty::Tensor, "judged validation triplets of the second judge (e.g. a model)")
                    .param("items", Ty::Any, "the prototypes (indices or the prototypes map)")
                    .opt("splits", Ty::Int, "10", "random split halves averaged for each reliability")
                    .opt("bootstrap", Ty::Int, "1000", "bootstrap replicates (each with one split; 0: no interval)")
                    .opt("ci", Ty::Float, "0.95", "confidence level of the interval")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed of the splits and the bootstrap")
                    .opt("spearman_brown", Ty::Bool, "true", "step the split-half correlations up to the full trial count (2r / (1 + r))")
                    .returns("#{consistency, r, reliability_a, reliability_b, ci_low, ci_high, bootstrap}")
                    .section("Methods: human–model consistency (Eq. 4)")
                    .example("let c = triplets::consistency(human, model, protos, #{seed: 1});"),
            ],
        }
    }

    fn call(&self, function: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match function {
            "sample_pairs" => {
                let o: PairsOpt = options::parse(opts)?;
                let n = count(&args[0], "n")?;
                let t = sample::pairs(n, o.per_pair, o.seed.unwrap_or(ctx.seed), o.shuffle, ctx)?;
                Ok(Value::Tensor(trip::to_tensor(&t)))
            }
            "prototypes" => {
                let o: ProtoOpt = options::parse(opts)?;
                prototypes_value(&args[0], o.per_category)
            }
            "validation" => {
                let o: ValidationOpt = options::parse(opts)?;
                let p = items(&args[0], "prototypes")?;
                let n = count(&args[1], "n")?;
                let t =
                    sample::validation(&p, n, o.per_pair, o.seed.unwrap_or(ctx.seed), o.shuffle)?;
                Ok(Value::Tensor(trip::to_tensor(&t)))
            }
            "random" => {
                let o: SeedOpt = options::parse(opts)?;
                let t = sample::random(
                    count(&args[0], "n")?,
                    count(&args[1], "m")?,
                    o.seed.unwrap_or(ctx.seed),
                )?;
                Ok(Value::Tensor(trip::to_tensor(&t)))
            }
            "split" => {
                let o: SplitOpt = options::parse(opts)?;
                let t = rows(&args[0], "t")?;
                let (train, test) = sample::split(t.len(), o.test, o.seed.unwrap_or(ctx.seed))?;
                Ok(vmap! {
                    "train" => pick(&t, &train), "test" => pick(&t, &test),
                    "train_index" => index_tensor(&train), "test_index" => index_tensor(&test),
                })
            }
            "dedup" => {
                let o: DedupOpt = options::parse(opts)?;
                let by_set = match o.by.as_str() {
                    "set" => true,
                    "row" => false,
                    other => bail!("unknown dedup key '{other}': expected set or row"),
                };
                let t = rows(&args[0], "t")?;
                let keep = sample::dedup(&t, by_set);
                Ok(
                    vmap! {"triplets" => pick(&t, &keep), "index" => index_tensor(&keep), "removed" => t.len() - keep.len()},
                )
            }
            "load" => {
                let o: LoadOpt = options::parse(opts)?;
                let p = path(&args[0], "path")?;
                let t = tio::read(&p, o.n_items)?;
                ctx.input_file(&p);
                Ok(Value::Tensor(trip::to_tensor(&t)))
            }
            "save" => {
                let o: SaveOpt = options::parse(opts)?;
                let t = rows(&args[0], "t")?;
                let p = path(&args[1], "path")?;
                tio::write(&t, &p, Format::parse(&o.format, &p)?)?;
                ctx.output_file(&p);
                Ok(Value::Str(p.display().to_string()))
            }
            "position_bias" => {
                let _: NoOpt = options::parse(opts)?;
                let b = match args.get(1) {
                    Some(j) if !matches!(j, Value::Null) => {
                        let (s, j) = (rows(&args[0], "shown")?, rows(j, "judged")?);
                        let counts = stats::position_counts(stats::positions(&s, &j)?);
                        counts?
                    }
                    _ => {
                        let p = args[0].to_tensor("positions")?;
                        ensure!(p.ndim() == 1 && !p.dtype().is_float(), "with one argument, position_bias takes an N-vector of chosen positions (0, 1, 2); to compare shown and judged triplets pass both");
                        let p = p.to_i64()?;
                        stats::position_counts(p.iter().enumerate().map(|(i, &x)| {
                            ensure!(
                                (0..3).contains(&x),
                                "position {i} is {x}: positions are 0, 1 or 2"
                            );
                            Ok(x as usize)
                        }))?
                    }
                };
                let n: u64 = b.counts.iter().sum();
                let counts =
                    Tensor::from_vec(b.counts.iter().map(|&c| c as i64).collect::<Vec<_>>(), &[3])
                        .expect("3");
                let fr = Tensor::from_vec(
                    b.counts
                        .iter()
                        .map(|&c| c as f64 / n as f64)
                        .collect::<Vec<_>>(),
                    &[3],
                )
                .expect("3");
                Ok(
                    vmap! {"counts" => counts, "fractions" => fr, "chi2" => b.chi2, "df" => 2i64, "p" => b.p, "n" => n as i64},
                )
            }
            "noise_ceiling" => {
                let _: NoOpt = options::parse(opts)?;
                let list = args[0].as_list().expect("checked list");
                let reps = list
                    .iter()
                    .enumerate()
                    .map(|(k, v)| rows(v, &format!("repeat {k}")))
                    .collect::<Result<Vec<_>>>()?;
                let (c, per) = stats::noise_ceiling(&reps)?;
                let n = per.len();
                Ok(vmap! {
                    "ceiling" => c,
                    "per_triplet" => Tensor::from_vec(per, &[n]).expect("1-D"),
                    "repeats" => reps.len(), "triplets" => n,
                })
            }
            "agreement" => {
                let _: NoOpt = options::parse(opts)?;
                let (a, n) = stats::agreement(&rows(&args[0], "a")?, &rows(&args[1], "b")?)?;
                Ok(vmap! {"agreement" => a, "n" => n})
            }
            "choice_rsm" => {
                let _: NoOpt = options::parse(opts)?;
                let it = items(&args[1], "items")?;
                let (m, missing) = stats::choice_rsm(&rows(&args[0], "judged")?, &it)?;
                if missing > 0 {
                    ctx.warn(&format!(
                        "triplets::choice_rsm: {missing} item pairs appear in no triplet (NaN)"
                    ));
                }
                Ok(Value::Tensor(Tensor::from_array(m)))
            }
            "consistency" => {
                let o: ConsistencyOpt = options::parse(opts)?;
                let it = items(&args[2], "items")?;
                let c = stats::consistency(
                    &rows(&args[0], "a")?,
                    &rows(&args[1], "b")?,
                    &it,
                    &ConsistencyOptions {
                        splits: o.splits,
                        bootstrap: o.bootstrap,
                        ci: o.ci,
                        seed: o.seed.unwrap_or(ctx.seed),
                        spearman_brown: o.spearman_brown,
                    },
                    ctx,
                )?;
                let nb = c.boot.len();
                Ok(vmap! {
                    "consistency" => c.consistency, "r" => c.r,
                    "reliability_a" => c.reliability[0], "reliability_b" => c.reliability[1],
                    "ci_low" => c.ci[0], "ci_high" => c.ci[1],
                    "bootstrap" => Tensor::from_vec(c.boot, &[nb]).expect("1-D"),
                })
            }
            other => bail!("triplets has no function '{other}'"),
        }
    }
}
