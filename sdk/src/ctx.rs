//! `Ctx`: what the host hands to every plugin call.
//!
//! Progress reporting, cancellation, a seeded RNG, the device, the output directory, logging and
//! provenance all go through here, so a plugin never touches the terminal, signals or globals.
use crate::error::{Error, Result};
use crate::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The RNG every step uses: ChaCha8 (rand_chacha), which gives the same stream for the same seed
/// on every platform and every build, unlike `rand`'s `StdRng`, whose algorithm may change.
pub type Rng = ChaCha8Rng;
/// The name recorded in `run.json`.
pub const RNG_ALGORITHM: &str = "ChaCha8 (rand_chacha 0.10)";

/// Cooperative cancellation. Ctrl-C sets it; long loops call [`CancelToken::check`] often
/// enough (at least every ~100 ms of work) that a run stops within a second.
#[derive(Clone, Default, Debug)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Ask every loop that checks this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Clear a cancellation, so the next command of a REPL session runs.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// `Err(Error::Cancelled)` once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// How important a log message is.
pub enum Level {
    /// Only in the log file.
    Debug,
    /// Shown unless quiet.
    Info,
    /// Shown always, marked as a warning.
    Warn,
}

/// One progress bar. Dropping it finishes it.
pub trait Progress: Send + Sync {
    /// Advance by `n` units of work.
    fn inc(&self, n: u64);
    /// Show what is being worked on.
    fn set_message(&self, _msg: &str) {}
}

/// The services a host provides; a test can use [`NullHost`].
pub trait HostServices: Send + Sync {
    /// Write a message to the log (and the terminal, by level).
    fn log(&self, level: Level, msg: &str);
    /// A progress bar of `total` units, labelled.
    fn progress(&self, label: &str, total: u64) -> Box<dyn Progress>;
    /// Record a file the step read (its sha256 goes into `run.json`).
    fn input_file(&self, _path: &Path) {}
    /// Record a file the step wrote (listed in `run.json`).
    fn output_file(&self, _path: &Path) {}
}

/// A host that logs to stderr and shows no progress.
pub struct NullHost;

struct NoProgress;
impl Progress for NoProgress {
    fn inc(&self, _n: u64) {}
}

impl HostServices for NullHost {
    fn log(&self, level: Level, msg: &str) {
        if level != Level::Debug {
            eprintln!("{msg}");
        }
    }
    fn progress(&self, _label: &str, _total: u64) -> Box<dyn Progress> {
        Box::new(NoProgress)
    }
}

/// The context of one call.
#[derive(Clone)]
pub struct Ctx {
    /// Ctrl-C: long loops check it.
    pub cancel: CancelToken,
    /// The run's seed (`--seed`), used when a step is not given its own.
    pub seed: u64,
    /// The default device (`--device`); steps may override it with a `device` option.
    pub device: Device,
    /// Where outputs go (`--out`).
    pub out_dir: PathBuf,
    /// Worker threads (`--threads`), already applied to rayon's global pool.
    pub threads: usize,
    /// The run's shard (`--shard K/N`): the default of steps that split their work (voxels,
    /// searchlight centres) for a job array.
    pub shard: Option<String>,
    /// How many unseeded random draws the run has made: the host shares one counter across a
    /// session's calls, so each unseeded draw gets its own stream and a script is reproducible
    /// from `--seed` alone.
    pub draws: Arc<AtomicU64>,
    host: Arc<dyn HostServices>,
}

impl Ctx {
    /// A context over a host's services.
    pub fn new(
        host: Arc<dyn HostServices>,
        cancel: CancelToken,
        seed: u64,
        device: Device,
        out_dir: PathBuf,
        threads: usize,
    ) -> Self {
        Ctx {
            cancel,
            seed,
            device,
            out_dir,
            threads,
            shard: None,
            draws: Arc::new(AtomicU64::new(0)),
            host,
        }
    }

    /// A context for tests and library use: no progress, stderr logging, seed 0, CPU.
    pub fn detached() -> Self {
        Self::new(
            Arc::new(NullHost),
            CancelToken::new(),
            0,
            Device::Cpu,
            PathBuf::from("."),
            1,
        )
    }

    /// The seed of the next unseeded draw: the run's seed, moved along by the run's draw count.
    pub fn next_draw_seed(&self) -> u64 {
        let k = self.draws.fetch_add(1, Ordering::SeqCst);
        self.seed
            .wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// A ChaCha8 RNG seeded with `seed`, or the run's seed when `None`.
    pub fn rng(&self, seed: Option<u64>) -> Rng {
        Rng::seed_from_u64(seed.unwrap_or(self.seed))
    }

    /// `Err(Error::Cancelled)` once the run is cancelled.
    pub fn check(&self) -> Result<()> {
        self.cancel.check()
    }

    /// Log at info level.
    pub fn info(&self, msg: &str) {
        self.host.log(Level::Info, msg);
    }
    /// Log a warning.
    pub fn warn(&self, msg: &str) {
        self.host.log(Level::Warn, msg);
    }
    /// Log at debug level (the log file only).
    pub fn debug(&self, msg: &str) {
        self.host.log(Level::Debug, msg);
    }

    /// A progress bar of `total` units.
    pub fn progress(&self, label: &str, total: u64) -> Box<dyn Progress> {
        self.host.progress(label, total)
    }

    /// Record a file the step read (its sha256 goes into `run.json`).
    pub fn input_file(&self, path: &Path) {
        self.host.input_file(path)
    }

    /// Record a file the step wrote (listed in `run.json`).
    pub fn output_file(&self, path: &Path) {
        self.host.output_file(path)
    }

    /// A path under the output directory.
    pub fn out_path(&self, name: &str) -> PathBuf {
        self.out_dir.join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn rng_is_reproducible_chacha8() {
        let ctx = Ctx::detached();
        let a: Vec<u32> = (0..4)
            .map({
                let mut r = ctx.rng(Some(7));
                move |_| r.random()
            })
            .collect();
        let b: Vec<u32> = (0..4)
            .map({
                let mut r = ctx.rng(Some(7));
                move |_| r.random()
            })
            .collect();
        let c: Vec<u32> = (0..4)
            .map({
                let mut r = ctx.rng(Some(8));
                move |_| r.random()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn cancel_token_reports_cancellation() {
        let t = CancelToken::new();
        assert!(t.check().is_ok());
        t.clone().cancel();
        assert_eq!(t.check(), Err(Error::Cancelled));
    }
}
