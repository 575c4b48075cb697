//! One run (or REPL session): its settings, the services plugins reach through `Ctx`
//! (progress bars, logging, cancellation), and the provenance that becomes `run.json`.
use crate::registry::Registry;
use emoscope_sdk::ctx::{HostServices, Level, Progress, RNG_ALGORITHM};
use emoscope_sdk::io::{atomic_write, sha256_file};
use emoscope_sdk::{CancelToken, Ctx, Device, Result, Value};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Settings {
    pub seed: u64,
    pub device: Device,
    pub threads: usize,
    pub out_dir: PathBuf,
    pub quiet: bool,
    /// `--shard K/N`: the default shard of steps that split their work.
    pub shard: Option<String>,
    /// Append log lines to this file (a `run` writes `OUT/emoscope.log`).
    pub log_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 0,
            device: Device::Cpu,
            threads: rayon::current_num_threads(),
            out_dir: PathBuf::from("."),
            quiet: false,
            shard: None,
            log_file: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct CallRecord {
    pub function: String,
    pub seconds: f64,
    pub status: String,
}

#[derive(Default)]
struct Provenance {
    inputs: BTreeMap<PathBuf, String>,
    outputs: BTreeMap<PathBuf, String>,
    calls: Vec<CallRecord>,
}

struct Services {
    quiet: bool,
    bars: Option<MultiProgress>,
    log: Mutex<Option<std::fs::File>>,
    provenance: Mutex<Provenance>,
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn set_message(&self, msg: &str) {
        self.0.set_message(msg.to_string());
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

struct Hidden;
impl Progress for Hidden {
    fn inc(&self, _n: u64) {}
}

impl Services {
    fn write_log(&self, tag: &str, msg: &str) {
        if let Some(f) = self.log.lock().unwrap().as_mut() {
            let _ = writeln!(f, "[{tag}] {msg}");
        }
    }
}

impl HostServices for Services {
    fn log(&self, level: Level, msg: &str) {
        let tag = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
        };
        self.write_log(tag, msg);
        let show = match level {
            Level::Warn => true,
            Level::Info => !self.quiet,
            Level::Debug => false,
        };
        if show {
            let line = if level == Level::Warn {
                format!("warning: {msg}")
            } else {
                msg.to_string()
            };
            match &self.bars {
                Some(b) => {
                    let _ = b.println(line);
                }
                None => eprintln!("{line}"),
            }
        }
    }

    fn progress(&self, label: &str, total: u64) -> Box<dyn Progress> {
        match &self.bars {
            Some(m) => {
                let pb = m.add(ProgressBar::new(total));
                pb.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})",
                    )
                    .expect("static template")
                    .progress_chars("=> "),
                );
                pb.set_message(label.to_string());
                Box::new(Bar(pb))
            }
            None => Box::new(Hidden),
        }
    }

    fn input_file(&self, path: &Path) {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut p = self.provenance.lock().unwrap();
        p.inputs
            .entry(key)
            .or_insert_with(|| sha256_file(path).unwrap_or_else(|e| format!("unreadable: {e}")));
    }

    fn output_file(&self, path: &Path) {
        let sha = sha256_file(path).unwrap_or_default();
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.provenance.lock().unwrap().outputs.insert(key, sha);
    }
}

/// A run's state, shared by the engine, the REPL and every plugin call.
pub struct Session {
    pub settings: Settings,
    pub cancel: CancelToken,
    pub registry: Arc<Registry>,
    services: Arc<Services>,
    /// Unseeded random draws so far (Ctx::next_draw_seed), shared by the session's calls.
    draws: Arc<std::sync::atomic::AtomicU64>,
    started: Instant,
    started_unix: u64,
}

impl Session {
    pub fn new(settings: Settings, registry: Arc<Registry>) -> Result<Self> {
        let bars = (!settings.quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let log = match &settings.log_file {
            Some(p) => {
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d)?;
                }
                Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)?,
                )
            }
            None => None,
        };
        Ok(Session {
            cancel: CancelToken::new(),
            registry,
            services: Arc::new(Services {
                quiet: settings.quiet,
                bars,
                log: Mutex::new(log),
                provenance: Mutex::default(),
            }),
            draws: Arc::default(),
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            settings,
        })
    }

    /// Ctrl-C cancels the running work through the CancelToken; a second Ctrl-C before it
    /// stops exits at once. (The REPL calls this after creating its editor, whose own SIGINT
    /// handler would otherwise replace this one.)
    pub fn install_ctrlc(&self) {
        let cancel = self.cancel.clone();
        let _ = ctrlc::set_handler(move || {
            if cancel.is_cancelled() {
                eprintln!("\ninterrupted twice: exiting");
                std::process::exit(130);
            }
            cancel.cancel();
        });
    }

    pub fn ctx(&self) -> Ctx {
        let mut ctx = Ctx::new(
            self.services.clone(),
            self.cancel.clone(),
            self.settings.seed,
            self.settings.device,
            self.settings.out_dir.clone(),
            self.settings.threads,
        );
        ctx.shard = self.settings.shard.clone();
        ctx.draws = self.draws.clone();
        ctx
    }

    /// A script's `print`: standard output, and the log file.
    pub fn print(&self, msg: &str) {
        self.services.write_log("print", msg);
        match &self.services.bars {
            Some(b) => {
                let _ = b.println(msg);
            }
            None => println!("{msg}"),
        }
    }

    /// A script's `debug`: the log file, and stderr unless quiet.
    pub fn debug(&self, msg: &str) {
        self.services.write_log("debug", msg);
        if !self.settings.quiet {
            eprintln!("{msg}");
        }
    }

    pub fn record_call(&self, function: &str, seconds: f64, status: &str) {
        self.services
            .provenance
            .lock()
            .unwrap()
            .calls
            .push(CallRecord {
                function: function.into(),
                seconds,
                status: status.into(),
            });
    }

    /// Write `OUT/run.json`: versions, script and hash, `--set` values, seed, device, threads,
    /// inputs with hashes, outputs, and the wall time of every plugin call.
    pub fn write_run_json(
        &self,
        script: Option<(&str, &str)>,
        sets: &BTreeMap<String, Value>,
        status: &str,
        error: Option<&str>,
    ) -> Result<PathBuf> {
        let p = self.services.provenance.lock().unwrap();
        let plugins: Vec<serde_json::Value> = self
            .registry
            .entries()
            .iter()
            .map(|e| {
                let mut j = serde_json::json!({"name": e.info.name, "version": e.info.version, "origin": e.origin.name()});
                if let Some(x) = &e.external {
                    j["path"] = x.dir.display().to_string().into();
                    j["interface"] = x.interface.clone().into();
                }
                j
            })
            .collect();
        let files = |m: &BTreeMap<PathBuf, String>| -> Vec<serde_json::Value> {
            m.iter()
                .map(|(k, v)| serde_json::json!({"path": k.display().to_string(), "sha256": v}))
                .collect()
        };
        let set: serde_json::Map<String, serde_json::Value> = sets
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json().unwrap_or(serde_json::Value::Null)))
            .collect();
        let json = serde_json::json!({
            "emoscope_version": crate::VERSION,
            "sdk_version": emoscope_sdk::VERSION,
            "torch": emoscope_sdk::HAS_TORCH,
            "plugins": plugins,
            "script": script.map(|(path, _)| path),
            "script_sha256": script.map(|(_, text)| emoscope_sdk::io::sha256_bytes(text.as_bytes())),
            "set": set,
            "seed": self.settings.seed,
            "shard": self.settings.shard,
            "rng": RNG_ALGORITHM,
            "device": self.settings.device.to_string(),
            "threads": self.settings.threads,
            "out_dir": self.settings.out_dir.display().to_string(),
            "inputs": files(&p.inputs),
            "outputs": files(&p.outputs),
            "calls": p.calls.iter().map(|c| serde_json::json!({"function": c.function, "seconds": c.seconds, "status": c.status})).collect::<Vec<_>>(),
            "started_unix": self.started_unix,
            "wall_seconds": self.started.elapsed().as_secs_f64(),
            "status": status,
            "error": error,
        });
        let path = self.settings.out_dir.join("run.json");
        atomic_write(&path, |w| {
            serde_json::to_writer_pretty(&mut *w, &json)?;
            Ok(w.write_all(b"\n")?)
        })?;
        Ok(path)
    }
}
