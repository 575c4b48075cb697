//! The training loop, written once for both engines: epochs of reshuffled mini-batches, held-out
//! evaluation, the reference's early stopping, checkpoints and resumption, then pruning.
use crate::model::{self, Evaluation};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{bail, ensure, Ctx, Map, Result, Tensor, Value};
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How X stays non-negative. `project`, emoscope's default, keeps it exactly non-negative with
/// exact zeros.
#[derive(emoscope_sdk::Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Positivity {
    /// clamp X at 0 after each step
    Project,
    /// the reference's 0.01·Σrelu(−X)
    Penalty,
}

/// What a single optimisation step needs.
#[derive(Clone, Debug)]
pub struct StepConfig {
    pub lambda: f64,
    pub lr: f64,
    pub positivity: Positivity,
}

#[derive(Clone, Debug)]
pub struct FitConfig {
    pub n_items: usize,
    pub dims: usize,
    pub step: StepConfig,
    pub batch: usize,
    pub epochs: usize,
    pub early_stop: bool,
    pub window: usize,
    pub seed: u64,
    pub checkpoint: Option<PathBuf>,
}

/// One engine's view of the optimisation: run an epoch over the given (already shuffled)
/// triplets and expose the state for evaluation and checkpoints.
pub trait Engine {
    /// Returns the epoch's mean training loss (cross-entropy plus penalties) and mean cross-entropy.
    fn run_epoch(&mut self, triplets: &[Triplet], batch: usize, ctx: &Ctx) -> Result<(f64, f64)>;
    /// Weights, items × dims row-major, in the original dimension order.
    fn weights(&self) -> Vec<f32>;
    /// (weights, Adam m, Adam v, step) for a checkpoint.
    fn state(&self) -> (Vec<f32>, Vec<f32>, Vec<f32>, u64);
    /// Dimensions still updated (the rest have died).
    fn live_dims(&self) -> usize;
}

#[derive(Clone, Debug, Default)]
pub struct Epoch {
    pub loss: f64,
    pub cross_entropy: f64,
    pub test_accuracy: f64,
    pub test_cross_entropy: f64,
    pub active_dims: usize,
    pub seconds: f64,
}

#[derive(Debug)]
pub struct Fit {
    pub embedding: Array2<f64>,
    pub full: Array2<f64>,
    pub kept: Vec<usize>,
    pub history: Vec<Epoch>,
    pub stopped_early: bool,
    pub resumed_from: usize,
    pub seconds: f64,
    pub train_triplets: usize,
}

const FIELDS: [&str; 6] = [
    "loss",
    "cross_entropy",
    "test_accuracy",
    "test_cross_entropy",
    "active_dims",
    "seconds",
];

impl Epoch {
    fn to_row(&self) -> [f64; 6] {
        [
            self.loss,
            self.cross_entropy,
            self.test_accuracy,
            self.test_cross_entropy,
            self.active_dims as f64,
            self.seconds,
        ]
    }
    fn from_row(r: &[f64]) -> Epoch {
        Epoch {
            loss: r[0],
            cross_entropy: r[1],
            test_accuracy: r[2],
            test_cross_entropy: r[3],
            active_dims: r[4] as usize,
            seconds: r[5],
        }
    }
}

/// The reference's early stopping: regress the last `window` training losses on 0..window
/// (scipy's linregress) and stop when the loss is rising or no longer significantly falling:
/// slope > 0 or the slope's two-sided p > 0.1.
pub fn should_stop(losses: &[f64], window: usize) -> bool {
    if window < 3 || losses.len() <= window {
        return false;
    }
    let y = &losses[losses.len() - window..];
    let x: Vec<f64> = (0..window).map(|i| i as f64).collect();
    let line = emoscope_sdk::stats::linregress(&x, y);
    // A NaN p (a flat window) counts as no longer falling, as in the reference.
    line.slope > 0.0
        || !matches!(
            line.p.partial_cmp(&0.1),
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
        )
}

fn to_matrix(w: &[f32], n: usize, d: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, d), |(i, c)| w[i * d + c] as f64)
}

/// What a checkpoint must agree with to be resumed.
fn fingerprint(cfg: &FitConfig, train: &[Triplet]) -> String {
    let mut bytes = Vec::with_capacity(train.len() * 12);
    for t in train {
        for v in t {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    format!(
        "n_items={} dims={} lambda={} lr={} batch={} seed={} positivity={:?} triplets={} sha256={}",
        cfg.n_items,
        cfg.dims,
        cfg.step.lambda,
        cfg.step.lr,
        cfg.batch,
        cfg.seed,
        cfg.step.positivity,
        train.len(),
        emoscope_sdk::io::sha256_bytes(&bytes)
    )
}

struct Checkpoint {
    x: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    step: u64,
    history: Vec<Epoch>,
}

fn f32_tensor(v: Vec<f32>, n: usize, d: usize) -> Value {
    Value::Tensor(Tensor::from_vec(v, &[n, d]).expect("n × d"))
}

fn save_checkpoint(
    path: &Path,
    fp: &str,
    cfg: &FitConfig,
    engine: &dyn Engine,
    history: &[Epoch],
) -> Result<()> {
    let (x, m, v, step) = engine.state();
    let (n, d) = (cfg.n_items, cfg.dims);
    let hist: Vec<f64> = history.iter().flat_map(|e| e.to_row()).collect();
    let mut map = Map::new();
    map.insert("x".into(), f32_tensor(x, n, d));
    map.insert("adam_m".into(), f32_tensor(m, n, d));
    map.insert("adam_v".into(), f32_tensor(v, n, d));
    map.insert(
        "step".into(),
        Value::Tensor(Tensor::from_vec(vec![step as i64], &[1])?),
    );
    map.insert(
        "history".into(),
        Value::Tensor(Tensor::from_vec(hist, &[history.len(), FIELDS.len()])?),
    );
    map.insert(
        "fingerprint".into(),
        Value::Tensor(Tensor::from_vec(fp.as_bytes().to_vec(), &[fp.len()])?),
    );
    emoscope_sdk::io::npy::write_npz(&map, path)
}

fn load_checkpoint(path: &Path, fp: &str, cfg: &FitConfig) -> Result<Checkpoint> {
    let m = emoscope_sdk::io::npy::read_npz(path)?;
    let get = |k: &str| -> Result<Tensor> {
        m.get(k)
            .and_then(|v| v.as_tensor().cloned())
            .ok_or_else(|| {
                emoscope_sdk::Error::msg(format!(
                    "{}: not a spose checkpoint (no '{k}')",
                    path.display()
                ))
            })
    };
    let stored = String::from_utf8(
        get("fingerprint")?
            .to_array::<u8>()?
            .iter()
            .copied()
            .collect(),
    )
    .map_err(|_| emoscope_sdk::Error::msg("checkpoint fingerprint is not text"))?;
    if stored != fp {
        bail!(
            "{}: the checkpoint was made by another fit:\n  checkpoint: {stored}\n  this fit:   {fp}\ndelete it or give another checkpoint path",
            path.display()
        );
    }
    let flat = |k: &str| -> Result<Vec<f32>> {
        let t = get(k)?;
        ensure!(
            t.shape() == [cfg.n_items, cfg.dims],
            "{}: '{k}' has shape {:?}",
            path.display(),
            t.shape()
        );
        Ok(t.to_array::<f32>()?.iter().copied().collect())
    };
    let hist = get("history")?.to_f64()?;
    let history = hist
        .as_standard_layout()
        .as_slice()
        .expect("standard")
        .chunks_exact(FIELDS.len())
        .map(Epoch::from_row)
        .collect();
    Ok(Checkpoint {
        x: flat("x")?,
        m: flat("adam_m")?,
        v: flat("adam_v")?,
        step: get("step")?.item()? as u64,
        history,
    })
}

/// Builds an engine from the initial weights, or from a checkpoint's weights, Adam moments and step.
pub type MakeEngine<'a> =
    dyn Fn(Vec<f32>, Option<(Vec<f32>, Vec<f32>, u64)>) -> Result<Box<dyn Engine>> + 'a;

/// Train. `make_engine(initial weights, restored state)` builds the engine.
pub fn fit(
    cfg: &FitConfig,
    train: &[Triplet],
    test: &[Triplet],
    ctx: &Ctx,
    make_engine: &MakeEngine<'_>,
) -> Result<Fit> {
    let started = Instant::now();
    let fp = fingerprint(cfg, train);
    let (mut engine, mut history) = match &cfg.checkpoint {
        Some(p) if p.exists() => {
            let c = load_checkpoint(p, &fp, cfg)?;
            ctx.info(&format!(
                "spose::fit: resuming from {} after epoch {}",
                p.display(),
                c.history.len()
            ));
            (make_engine(c.x, Some((c.m, c.v, c.step)))?, c.history)
        }
        _ => (
            make_engine(model::init(cfg.n_items, cfg.dims, cfg.seed), None)?,
            Vec::new(),
        ),
    };
    let resumed_from = history.len();
    let mut order: Vec<Triplet> = train.to_vec();
    let bar = ctx.progress("spose::fit epochs", cfg.epochs as u64);
    bar.inc(resumed_from as u64);
    let mut stopped_early = cfg.early_stop
        && should_stop(
            &history.iter().map(|e| e.loss).collect::<Vec<_>>(),
            cfg.window,
        );
    let mut epoch = resumed_from;
    while epoch < cfg.epochs && !stopped_early {
        let t0 = Instant::now();
        // Each epoch's order comes from its own stream: a resumed fit sees the same batches.
        let mut rng = Rng::seed_from_u64(cfg.seed);
        rng.set_stream(epoch as u64 + 1);
        order.copy_from_slice(train);
        order.shuffle(&mut rng);
        let (loss, ce) = engine.run_epoch(&order, cfg.batch, ctx)?;
        if !loss.is_finite() {
            bail!(
                "spose::fit diverged in epoch {} (loss {loss}); lower lr",
                epoch + 1
            );
        }
        let full = to_matrix(&engine.weights(), cfg.n_items, cfg.dims);
        let ev = if test.is_empty() {
            None
        } else {
            Some(model::evaluate(full.view(), test, ctx)?)
        };
        history.push(Epoch {
            loss,
            cross_entropy: ce,
            test_accuracy: ev.as_ref().map_or(f64::NAN, |e: &Evaluation| e.accuracy),
            test_cross_entropy: ev.as_ref().map_or(f64::NAN, |e| e.cross_entropy),
            active_dims: model::active_dims(full.view()).len(),
            seconds: t0.elapsed().as_secs_f64(),
        });
        epoch += 1;
        let last = history.last().expect("pushed");
        bar.set_message(&format!(
            "loss {:.4}, held-out accuracy {:.4}, {} dims",
            last.loss, last.test_accuracy, last.active_dims
        ));
        ctx.debug(&format!(
            "spose::fit epoch {epoch}: loss {:.5} ce {:.5} test acc {:.4} dims {} live {} ({:.1} s)",
            last.loss, last.cross_entropy, last.test_accuracy, last.active_dims, engine.live_dims(), last.seconds
        ));
        bar.inc(1);
        if let Some(p) = &cfg.checkpoint {
            save_checkpoint(p, &fp, cfg, engine.as_ref(), &history)?;
        }
        stopped_early = cfg.early_stop
            && should_stop(
                &history.iter().map(|e| e.loss).collect::<Vec<_>>(),
                cfg.window,
            );
    }
    drop(bar);
    let full = to_matrix(&engine.weights(), cfg.n_items, cfg.dims);
    let kept = model::active_dims(full.view());
    Ok(Fit {
        embedding: model::prune(full.view()),
        full,
        kept,
        history,
        stopped_early,
        resumed_from,
        seconds: started.elapsed().as_secs_f64(),
        train_triplets: train.len(),
    })
}

pub fn history_value(h: &[Epoch]) -> Value {
    let col = |f: fn(&Epoch) -> f64| {
        Value::Tensor(
            Tensor::from_vec(h.iter().map(f).collect::<Vec<f64>>(), &[h.len()]).expect("1-D"),
        )
    };
    let mut m = Map::new();
    m.insert("loss".into(), col(|e| e.loss));
    m.insert("cross_entropy".into(), col(|e| e.cross_entropy));
    m.insert("test_accuracy".into(), col(|e| e.test_accuracy));
    m.insert("test_cross_entropy".into(), col(|e| e.test_cross_entropy));
    m.insert(
        "active_dims".into(),
        Value::Tensor(
            Tensor::from_vec(
                h.iter().map(|e| e.active_dims as i64).collect::<Vec<_>>(),
                &[h.len()],
            )
            .expect("1-D"),
        ),
    );
    m.insert("seconds".into(), col(|e| e.seconds));
    Value::Map(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_stopping_follows_the_slope() {
        let falling: Vec<f64> = (0..10).map(|i| 1.0 / (i + 1) as f64).collect();
        assert!(!should_stop(&falling, 5));
        let rising: Vec<f64> = (0..10).map(|i| i as f64).collect();
        assert!(should_stop(&rising, 5));
        // Falling but noisy: the slope is negative yet not significant (p > 0.1).
        let noisy = [1.0, 0.5, 1.2, 0.4, 1.1, 0.45, 1.0];
        assert!(should_stop(&noisy, 6));
        // Like the reference, the first check comes after window + 1 epochs.
        assert!(!should_stop(&rising[..5], 5), "needs window + 1 epochs");
        assert!(should_stop(&rising[..6], 5));
    }
}
