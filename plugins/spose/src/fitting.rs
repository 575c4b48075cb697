//! `spose::fit`: the options every fitting function shares, their validation into the loop's
//! configuration, and the engine the device asks for.
use crate::train::{self, Fit, FitConfig, Positivity, StepConfig};
use crate::{cpu, device, rows};
use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{ensure, vmap, Ctx, Device, Options, Result, Step, Tensor, Value};
use std::path::PathBuf;

/// The training settings of every function that fits (spose::fit, dimensionality,
/// select_lambda).
#[derive(Options, Debug, Clone)]
pub struct Training {
    /// number of items (rows of the embedding)
    #[opt(doc_default = "largest index + 1")]
    pub n_items: Option<usize>,
    /// Adam learning rate (β = 0.9, 0.999; ε = 1e-8)
    #[opt(default = 0.001)]
    pub lr: f64,
    /// triplets per mini-batch
    #[opt(default = 100)]
    pub batch: usize,
    /// at most this many epochs
    #[opt(default = 500)]
    pub epochs: usize,
    /// stop once a line fitted to the last `window` training losses no longer falls
    #[opt(default = true)]
    pub early_stop: bool,
    /// epochs in the early-stopping window
    #[opt(default = 50)]
    pub window: usize,
    /// initialisation and batch order (one ChaCha8 stream per epoch)
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
    /// CPU threads
    #[opt(doc_default = "all cores")]
    pub threads: Option<usize>,
    /// cpu (the native engine) or torch:cpu / cuda / cuda:N (the libtorch engine; feature torch)
    #[opt(doc_default = "run device")]
    pub device: Option<String>,
    /// an .npz path written after every epoch (atomically) and resumed from when it exists
    pub checkpoint: Option<String>,
    /// how X stays non-negative
    #[opt(default = Positivity::Project)]
    pub positivity: Positivity,
}

/// Validate the options once (linfa-style), into the loop's config.
pub(crate) fn fit_config(
    o: &Training,
    dims: usize,
    lambda: f64,
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
    ensure!(dims >= 1, "dims must be at least 1, got {dims}");
    ensure!(
        lambda >= 0.0 && lambda.is_finite(),
        "lambda must be ≥ 0, got {lambda}"
    );
    ensure!(
        o.lr > 0.0 && o.lr.is_finite(),
        "lr must be positive, got {}",
        o.lr
    );
    ensure!(o.batch >= 1, "batch must be at least 1");
    ensure!(o.epochs >= 1, "epochs must be at least 1");
    ensure!(!train.is_empty(), "no training triplets");
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
            dims,
            step: StepConfig {
                lambda,
                lr: o.lr,
                positivity: o.positivity,
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

/// Fit a SPoSE embedding to judged triplets: Adam on the mean cross-entropy of the choices plus (λ / n_items)·Σ|X|, initialised N(0.1, 0.01²), mini-batches reshuffled every epoch, the reference's early stopping, then pruned to the dimensions whose largest weight exceeds 0.1, sorted by L1 norm.
#[derive(Options, Step)]
#[step(
    name = "fit",
    param(triplets: Tensor = "N × 3 judged triplets, SPoSE order (kept pair, then the odd one out)"),
    returns = "#{embedding (items × kept dims, sorted), full (items × dims), kept (original dims), history #{loss, cross_entropy, test_accuracy, test_cross_entropy, active_dims, seconds}, epochs, stopped_early, resumed_from, seconds, triplets_per_second, test_accuracy, device}",
    section = "Methods: SPoSE embedding",
    example = "let fit = spose::fit(parts.train, #{n_items: 2180, lambda: 0.004, test: parts.test, seed: 1});"
)]
pub struct FitStep {
    /// starting dimensionality
    #[opt(default = 90)]
    pub dims: usize,
    /// L1 strength (the study: 0.0025 model judges, 0.004 Human-category, 0.005 Human-dimension)
    #[opt(default = 0.004)]
    pub lambda: f64,
    #[opt(flatten)]
    pub training: Training,
    /// held-out judged triplets, evaluated after every epoch
    pub test: Option<Tensor>,
}

impl emoscope_sdk::step::Step for FitStep {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let train = rows(&args[0], "triplets", self.training.n_items)?;
        let (cfg, device, threads) =
            fit_config(&self.training, self.dims, self.lambda, &train, ctx)?;
        let test = match &self.test {
            Some(t) => trip::rows(t, "test", Some(cfg.n_items))?,
            None => Vec::new(),
        };
        if let Some(p) = &cfg.checkpoint {
            ctx.output_file(p);
        }
        let f = run_fit(&cfg, device, threads, &train, &test, ctx)?;
        Ok(fit_value(&f, device))
    }
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
