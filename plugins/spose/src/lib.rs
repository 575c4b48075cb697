//! SPoSE, sparse positive similarity embedding (Zheng, Mehrer, Hebart et al. 2019), the study's
//! "Methods: learning the affective embedding": a non-negative items × dims matrix X whose dot
//! products explain odd-one-out choices, P(keep i, j | i, j, k) = softmax over the three pairs'
//! x·x, fitted by Adam on the mean cross-entropy plus (λ / n_items) · Σ|X|, then pruned to the
//! dimensions that stay active. Also its evaluation, predicted similarity, reproducibility across
//! seeds, dimensionality, per-stimulus reduction and λ selection.
mod analysis;
mod cpu;
mod device;
mod model;
mod train;

use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, Device, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use serde::Deserialize;
use std::path::PathBuf;

pub use model::{active_dims, evaluate, predict_rsm, prune, Evaluation};
pub use train::{fit, should_stop, Epoch, Fit, FitConfig, Positivity, StepConfig};

pub struct Spose;

pub fn plugin() -> Spose {
    Spose
}

fn d90() -> usize {
    90
}
fn lam() -> f64 {
    0.004
}
fn lr() -> f64 {
    0.001
}
fn b100() -> usize {
    100
}
fn e500() -> usize {
    500
}
fn yes() -> bool {
    true
}
fn w50() -> usize {
    50
}
fn project() -> String {
    "project".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FitOpt {
    pub n_items: Option<usize>,
    #[serde(default = "d90")]
    pub dims: usize,
    #[serde(default = "lam")]
    pub lambda: f64,
    #[serde(default = "lr")]
    pub lr: f64,
    #[serde(default = "b100")]
    pub batch: usize,
    #[serde(default = "e500")]
    pub epochs: usize,
    #[serde(default = "yes")]
    pub early_stop: bool,
    #[serde(default = "w50")]
    pub window: usize,
    pub seed: Option<u64>,
    pub threads: Option<usize>,
    pub device: Option<String>,
    pub checkpoint: Option<String>,
    #[serde(default = "project")]
    pub positivity: String,
    pub test: Option<Tensor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoOpt {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RsmOpt {
    items: Option<Tensor>,
}

pub(crate) fn rows(v: &Value, what: &str, n_items: Option<usize>) -> Result<Vec<Triplet>> {
    trip::rows(&v.to_tensor(what)?, what, n_items)
}

pub(crate) fn embedding(v: &Value, what: &str) -> Result<ndarray::Array2<f64>> {
    let x = v.to_tensor(what)?.matrix::<f64>(what)?;
    if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!("{what}, row {r}, column {c}: {v} is not a finite number");
    }
    Ok(x.to_owned())
}

/// Validate the options once (linfa-style), into the loop's config.
pub(crate) fn fit_config(
    o: &FitOpt,
    train: &[Triplet],
    ctx: &Ctx,
) -> Result<(FitConfig, Device, usize)> {
    let implied = trip::implied_items(train);
    let n_items = o.n_items.unwrap_or(implied);
    ensure!(
        n_items >= implied,
        "n_items is {n_items} but the triplets index item {}: n_items must be larger than every index",
        implied - 1
    );
    ensure!(n_items >= 3, "need at least 3 items, got {n_items}");
    ensure!(o.dims >= 1, "dims must be at least 1, got {}", o.dims);
    ensure!(
        o.lambda >= 0.0 && o.lambda.is_finite(),
        "lambda must be ≥ 0, got {}",
        o.lambda
    );
    ensure!(
        o.lr > 0.0 && o.lr.is_finite(),
        "lr must be positive, got {}",
        o.lr
    );
    ensure!(o.batch >= 1, "batch must be at least 1");
    ensure!(o.epochs >= 1, "epochs must be at least 1");
    ensure!(!train.is_empty(), "no training triplets");
    let positivity = match o.positivity.as_str() {
        "project" => Positivity::Project,
        "penalty" => Positivity::Penalty,
        other => bail!("unknown positivity '{other}': expected project (clamp at 0 after each step) or penalty (the reference's 0.01·Σrelu(−X))"),
    };
    let device = match &o.device {
        Some(d) => d.parse::<Device>()?,
        None => ctx.device,
    };
    let threads = o
        .threads
        .unwrap_or(ctx.threads.max(rayon::current_num_threads()));
    ensure!(threads >= 1, "threads must be at least 1");
    Ok((
        FitConfig {
            n_items,
            dims: o.dims,
            step: StepConfig {
                lambda: o.lambda,
                lr: o.lr,
                positivity,
            },
            batch: o.batch,
            epochs: o.epochs,
            early_stop: o.early_stop,
            window: o.window,
            seed: o.seed.unwrap_or(ctx.seed),
            checkpoint: o.checkpoint.as_ref().map(PathBuf::from),
        },
        device,
        threads,
    ))
}

/// Fit with the engine the device asks for, on `threads` CPU threads.
pub fn run_fit(
    cfg: &FitConfig,
    device: Device,
    threads: usize,
    train: &[Triplet],
    test: &[Triplet],
    ctx: &Ctx,
) -> Result<Fit> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| emoscope_sdk::Error::msg(format!("cannot start {threads} threads: {e}")))?;
    pool.install(|| {
        let make = |x: Vec<f32>,
                    restored: Option<(Vec<f32>, Vec<f32>, u64)>|
         -> Result<Box<dyn train::Engine>> {
            Ok(match device {
                Device::Cpu => {
                    let mut e = cpu::CpuEngine::new(
                        x.clone(),
                        cfg.n_items,
                        cfg.dims,
                        cfg.step.clone(),
                        threads,
                    );
                    if let Some((m, v, step)) = restored {
                        e.restore(x, m, v, step);
                    }
                    Box::new(e)
                }
                other => Box::new(device::DeviceEngine::new(
                    x,
                    restored,
                    cfg.n_items,
                    cfg.dims,
                    cfg.step.clone(),
                    other,
                )?),
            })
        };
        train::fit(cfg, train, test, ctx, &make)
    })
}

fn fit_value(f: &Fit, device: Device) -> Value {
    let epochs = f.history.len();
    let last = f.history.last().cloned().unwrap_or_default();
    let tps = (f.train_triplets * (epochs - f.resumed_from)) as f64 / f.seconds.max(1e-9);
    vmap! {
        "embedding" => Tensor::from_array(f.embedding.clone()),
        "full" => Tensor::from_array(f.full.clone()),
        "kept" => Tensor::from_vec(f.kept.iter().map(|&d| d as i64).collect::<Vec<_>>(), &[f.kept.len()]).expect("1-D"),
        "history" => train::history_value(&f.history),
        "epochs" => epochs,
        "stopped_early" => f.stopped_early,
        "resumed_from" => f.resumed_from,
        "seconds" => f.seconds,
        "triplets_per_second" => tps,
        "test_accuracy" => last.test_accuracy,
        "device" => device.to_string(),
    }
}

fn eval_value(e: &Evaluation) -> Value {
    vmap! {
        "accuracy" => e.accuracy,
        "accuracy_ci" => Tensor::from_vec(e.accuracy_ci.to_vec(), &[2]).expect("2"),
        "cross_entropy" => e.cross_entropy,
        "cross_entropy_ci" => Tensor::from_vec(e.cross_entropy_ci.to_vec(), &[2]).expect("2"),
        "n" => e.n,
    }
}

/// spose::fit's documentation (its options are shared by the functions that fit).
pub(crate) fn fit_spec() -> FnSpec {
    FnSpec::new("fit", "Fit a SPoSE embedding to judged triplets: Adam on the mean cross-entropy of the choices plus (λ / n_items)·Σ|X|, initialised N(0.1, 0.01²), mini-batches reshuffled every epoch, the reference's early stopping, then pruned to the dimensions whose largest weight exceeds 0.1, sorted by L1 norm.")
                .param("triplets", Ty::Tensor, "N × 3 judged triplets, SPoSE order (kept pair, then the odd one out)")
                .opt("n_items", Ty::Int, "largest index + 1", "number of items (rows of the embedding)")
                .opt("dims", Ty::Int, "90", "starting dimensionality")
                .opt("lambda", Ty::Float, "0.004", "L1 strength (the study: 0.0025 model judges, 0.004 Human-category, 0.005 Human-dimension)")
                .opt("lr", Ty::Float, "0.001", "Adam learning rate (β = 0.9, 0.999; ε = 1e-8)")
                .opt("batch", Ty::Int, "100", "triplets per mini-batch")
                .opt("epochs", Ty::Int, "500", "at most this many epochs")
                .opt("early_stop", Ty::Bool, "true", "stop once a line fitted to the last `window` training losses no longer falls")
                .opt("window", Ty::Int, "50", "epochs in the early-stopping window")
                .opt("seed", Ty::Int, "run seed", "initialisation and batch order (one ChaCha8 stream per epoch)")
                .opt("threads", Ty::Int, "all cores", "CPU threads")
                .opt("device", Ty::Str, "run device", "cpu (the native engine) or torch:cpu / cuda / cuda:N (the libtorch engine; feature torch)")
                .opt("checkpoint", Ty::Str, "none", "an .npz path written after every epoch (atomically) and resumed from when it exists")
                .opt("positivity", Ty::Str, "\"project\"", "project (clamp X at 0 after each step) or penalty (the reference's 0.01·Σrelu(−X))")
                .opt("test", Ty::Tensor, "none", "held-out judged triplets, evaluated after every epoch")
                .returns("#{embedding (items × kept dims, sorted), full (items × dims), kept (original dims), history #{loss, cross_entropy, test_accuracy, test_cross_entropy, active_dims, seconds}, epochs, stopped_early, resumed_from, seconds, triplets_per_second, test_accuracy, device}")
                .section("Methods: SPoSE embedding")
                .example("let fit = spose::fit(parts.train, #{n_items: 2180, lambda: 0.004, test: parts.test, seed: 1});")
}

impl Plugin for Spose {
    fn info(&self) -> PluginInfo {
        let mut functions = vec![
            fit_spec(),
            FnSpec::new("evaluate", "Held-out performance: accuracy (the most similar pair by dot product is the observed one; ties count as wrong) and mean cross-entropy, each with a 95% interval.")
                .param("X", Ty::Tensor, "items × dims embedding")
                .param("triplets", Ty::Tensor, "N × 3 judged held-out triplets")
                .returns("#{accuracy, accuracy_ci, cross_entropy, cross_entropy_ci, n}")
                .section("Methods: SPoSE embedding (held-out accuracy)")
                .example("let ev = spose::evaluate(fit.embedding, parts.test);"),
            FnSpec::new("predict_rsm", "The model's choice-probability similarity: for each pair of items, the probability that they are kept together, averaged over every other item of the set as the third.")
                .param("X", Ty::Tensor, "items × dims embedding")
                .opt("items", Ty::Tensor, "all items", "restrict the rows and columns to these items (the third items still range over all); e.g. the validation prototypes")
                .returns("k × k f64 tensor, 1 on the diagonal")
                .section("Methods: human–model consistency (predicted RSM)")
                .example("let P = spose::predict_rsm(fit.embedding, #{items: protos.indices});"),
        ];
        functions.extend(analysis::specs());
        PluginInfo {
            name: "spose".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "SPoSE: sparse positive similarity embeddings from odd-one-out triplets"
                .into(),
            functions,
        }
    }

    fn call(&self, function: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match function {
            "fit" => {
                let o: FitOpt = options::parse(opts)?;
                let train = rows(&args[0], "triplets", o.n_items)?;
                let (cfg, device, threads) = fit_config(&o, &train, ctx)?;
                let test = match &o.test {
                    Some(t) => trip::rows(t, "test", Some(cfg.n_items))?,
                    None => Vec::new(),
                };
                if let Some(p) = &cfg.checkpoint {
                    ctx.output_file(p);
                }
                let f = run_fit(&cfg, device, threads, &train, &test, ctx)?;
                Ok(fit_value(&f, device))
            }
            "evaluate" => {
                let _: NoOpt = options::parse(opts)?;
                let x = embedding(&args[0], "X")?;
                let t = rows(&args[1], "triplets", Some(x.nrows()))?;
                Ok(eval_value(&evaluate(x.view(), &t, ctx)?))
            }
            "predict_rsm" => {
                let o: RsmOpt = options::parse(opts)?;
                let x = embedding(&args[0], "X")?;
                let items: Vec<usize> = match &o.items {
                    Some(t) => t
                        .to_i64()?
                        .iter()
                        .map(|&i| {
                            ensure!(
                                i >= 0 && (i as usize) < x.nrows(),
                                "items: {i} is out of range for {} items",
                                x.nrows()
                            );
                            Ok(i as usize)
                        })
                        .collect::<Result<_>>()?,
                    None => (0..x.nrows()).collect(),
                };
                ensure!(x.nrows() >= 3, "predict_rsm needs at least 3 items");
                Ok(Value::Tensor(Tensor::from_array(predict_rsm(
                    x.view(),
                    &items,
                    ctx,
                )?)))
            }
            other => analysis::call(other, args, opts, ctx),
        }
    }
}

#[cfg(test)]
mod tests;
