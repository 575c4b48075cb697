//! WASM component plugins (feature `wasm`): third-party steps in a sandbox, behind the same
//! `Plugin` interface as the builtin ones.
//!
//! - The world is `sdk/wit/emoscope.wit` (`emoscope:plugin@0.1.0`). A component importing
//!   another major version of it is refused before it is instantiated, naming both versions.
//! - Each call gets a fresh `Store`: a fuel budget, a wall-clock deadline (epochs; Ctrl-C stops
//!   it too), a memory cap, and a WASI context that grants nothing (no files, network,
//!   environment or arguments). A trap or limit ends that call with a clear error; the host and
//!   the next call are unaffected, because a trapped store is never reused.
//! - Tensors stay in the host's table; the plugin holds handles and reads chunks.
//! - Compiled components are cached on disk, keyed by the component's sha256 and the engine's
//!   compatibility hash (wasmtime version, target, settings).
//!
//! Here: the bindings, the engine and the plugin's calls. `tensors` serves the resource table
//! (host tensors and builders), `store` a call's state and limits, `host_api` the host functions,
//! `infer` inference under the user's grants, `values` the conversions of arguments and results,
//! `cache` the compiled-component cache.
use crate::grants::InferenceGrant;
use crate::manifest::{self, Limits, Manifest};
use emoscope_sdk::linalg::Similarity;
use emoscope_sdk::plugin::{OptSpec, ParamSpec};
use emoscope_sdk::{
    bail, Ctx, Device, Error, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Value,
};
use ndarray::{ArcArray, IxDyn};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "plugin",
        with: {
            "emoscope:plugin/types.tensor": super::HostTensor,
            "emoscope:plugin/types.tensor-builder": super::Builder,
        },
        imports: { default: trappable },
    });
}
use bindings::emoscope::plugin::{host, inference, types};

mod cache;
mod host_api;
mod infer;
mod store;
mod tensors;
mod values;

pub use cache::compile;
pub use infer::Inference;
use store::State;
pub use tensors::{Builder, HostTensor};
use values::{value_in, value_out};

/// The most elements one chunked read returns (8 MiB of f64).
const MAX_CHUNK: u64 = 1 << 20;
/// One epoch tick.
const TICK: Duration = Duration::from_millis(10);
/// What `describe()` may spend at load.
const DESCRIBE_FUEL: u64 = 1_000_000_000;
const DESCRIBE_TIMEOUT_S: f64 = 10.0;

/// The engine every component runs on: fuel and epochs on, one ticker thread.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut cfg = Config::new();
        cfg.consume_fuel(true).epoch_interruption(true);
        let engine = Engine::new(&cfg).expect("wasmtime engine with fuel and epochs");
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(e) => e.increment_epoch(),
                    None => break,
                }
            })
            .expect("epoch thread");
        engine
    })
}

fn linker() -> Result<Linker<State>> {
    let mut l: Linker<State> = Linker::new(engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut l).map_err(wasm_err)?;
    bindings::Plugin::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s).map_err(wasm_err)?;
    Ok(l)
}

fn wasm_err(e: wasmtime::Error) -> Error {
    Error::msg(format!("{e:#}"))
}

/// The interface versions of `emoscope:plugin` a component imports.
fn imported_versions(c: &Component) -> Vec<String> {
    let ty = c.component_type();
    let mut v: Vec<String> = ty
        .imports(engine())
        .filter_map(|(name, _)| {
            let rest = name.strip_prefix("emoscope:plugin/")?;
            Some(
                rest.split_once('@')
                    .map_or("(none)", |(_, v)| v)
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A loaded component, callable as a `Plugin`.
pub struct WasmPlugin {
    pre: bindings::PluginPre<State>,
    info: PluginInfo,
    limits: Limits,
    inference: Inference,
    pub path: PathBuf,
    pub cached: bool,
}

impl WasmPlugin {
    /// Load the plugin a manifest describes.
    pub fn load(dir: &Path, m: &Manifest) -> Result<WasmPlugin> {
        if !manifest::compatible(manifest::WASM_INTERFACE, &m.interface) {
            bail!(
                "{}: plugin '{}' was built for interface emoscope:plugin@{}, but this emoscope speaks @{}; rebuild it against emoscope-guest {}",
                dir.display(),
                m.name,
                m.interface,
                manifest::WASM_INTERFACE,
                manifest::WASM_INTERFACE
            );
        }
        let path = dir.join(&m.file);
        let wasm =
            std::fs::read(&path).map_err(|e| Error::msg(format!("{}: {e}", path.display())))?;
        let p = Self::from_bytes(&wasm, &path, m.limits.clone(), Inference::for_manifest(m)?)?;
        if p.info.name != m.name {
            bail!(
                "{}: the manifest names the plugin '{}' but the component describes itself as '{}'",
                dir.display(),
                m.name,
                p.info.name
            );
        }
        Ok(p)
    }

    /// Load a component from its bytes (`origin` names it in errors).
    pub fn from_bytes(
        wasm: &[u8],
        origin: &Path,
        limits: Limits,
        inference: Inference,
    ) -> Result<WasmPlugin> {
        let (component, cached) = compile(wasm, origin)?;
        let versions = imported_versions(&component);
        if let Some(v) = versions
            .iter()
            .find(|v| !manifest::compatible(manifest::WASM_INTERFACE, v))
        {
            bail!(
                "{}: the component was built for interface emoscope:plugin@{v}, but this emoscope speaks @{}; rebuild it against emoscope-guest {}",
                origin.display(),
                manifest::WASM_INTERFACE,
                manifest::WASM_INTERFACE
            );
        }
        let linker = linker()?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(bindings::PluginPre::new)
            .map_err(|e| {
                Error::msg(format!(
                    "{}: the component does not fit the emoscope:plugin world: {}",
                    origin.display(),
                    e.root_cause()
                ))
            })?;
        let mut p = WasmPlugin {
            pre,
            info: PluginInfo {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                functions: vec![],
            },
            limits,
            inference,
            path: origin.to_path_buf(),
            cached,
        };
        // describe() runs at every start: it gets a small budget, whatever the calls get.
        let small = Limits {
            fuel: p.limits.fuel.min(DESCRIBE_FUEL),
            memory_mb: p.limits.memory_mb,
            timeout_s: p.limits.timeout_s.min(DESCRIBE_TIMEOUT_S),
        };
        let full = std::mem::replace(&mut p.limits, small);
        let ctx = Ctx::detached();
        let raw = p.run(&ctx, "describe", |plugin, store| {
            plugin.call_describe(store)
        });
        p.limits = full;
        p.info = info_from(raw?, origin)?;
        Ok(p)
    }

    /// Run `f` in a fresh store with this plugin's limits; traps and limits become errors.
    fn run<R>(
        &self,
        ctx: &Ctx,
        what: &str,
        f: impl FnOnce(&bindings::Plugin, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let name = if self.info.name.is_empty() {
            self.path.display().to_string()
        } else {
            self.info.name.clone()
        };
        // The guest's stderr is kept (bounded) so that a panic's message reaches the user.
        let stderr = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(64 << 10);
        let mut store = Store::new(
            engine(),
            State {
                table: ResourceTable::new(),
                wasi: WasiCtxBuilder::new().stderr(stderr.clone()).build(),
                // Tables and instance counts are bounded too, so that a component cannot grow
                // host memory through them instead of its linear memory.
                limits: StoreLimitsBuilder::new()
                    .memory_size((self.limits.memory_mb as usize) << 20)
                    .table_elements(1 << 20)
                    .instances(1000)
                    .tables(1000)
                    .memories(100)
                    .build(),
                memory_hit: false,
                ctx: ctx.clone(),
                plugin: name.clone(),
                progress: None,
                progress_done: 0,
                inference: self.inference.clone(),
                host_bytes: 0,
                host_cap: self.limits.memory_mb << 20,
            },
        );
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        store.set_fuel(self.limits.fuel).map_err(wasm_err)?;
        let deadline = Instant::now() + Duration::from_secs_f64(self.limits.timeout_s);
        let timed_out = Arc::new(AtomicBool::new(false));
        let flag = timed_out.clone();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |s| {
            if s.data().ctx.cancel.is_cancelled() {
                return Ok(UpdateDeadline::Interrupt);
            }
            if Instant::now() >= deadline {
                flag.store(true, Ordering::SeqCst);
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Continue(1))
        });
        let out = self
            .pre
            .instantiate(&mut store)
            .and_then(|plugin| f(&plugin, &mut store));
        match out {
            Ok(r) => Ok(r),
            Err(e) => {
                if ctx.cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let l = &self.limits;
                let why = match e.downcast_ref::<Trap>() {
                    Some(Trap::OutOfFuel) => format!(
                        "ran out of fuel ({} instructions; raise limits.fuel in its plugin.toml if the work is real)",
                        l.fuel
                    ),
                    Some(Trap::Interrupt) if timed_out.load(Ordering::SeqCst) => format!(
                        "ran past its time limit ({} s; limits.timeout_s in its plugin.toml)",
                        l.timeout_s
                    ),
                    Some(_) if store.data().memory_hit => format!(
                        "hit its memory cap ({} MiB; limits.memory_mb in its plugin.toml)",
                        l.memory_mb
                    ),
                    Some(Trap::StackOverflow) => "overflowed its stack".to_string(),
                    Some(t) => format!("trapped: {t}"),
                    None if store.data().memory_hit => format!(
                        "hit its memory cap ({} MiB; limits.memory_mb in its plugin.toml): {}",
                        l.memory_mb,
                        e.root_cause()
                    ),
                    None => format!("failed: {}", e.root_cause()),
                };
                let printed = String::from_utf8_lossy(&stderr.contents()).to_string();
                let said: Vec<&str> = printed
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with("note: run with"))
                    .collect();
                let said = if said.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; it printed: {}",
                        said[said.len().saturating_sub(3)..].join(" | ")
                    )
                };
                Err(Error::msg(format!("plugin {name} {why} (in {what}){said}")))
            }
        }
    }
}

fn info_from(i: types::PluginInfo, origin: &Path) -> Result<PluginInfo> {
    let mut functions = Vec::new();
    for f in i.functions {
        let mut params = Vec::new();
        for p in f.params {
            params.push(ParamSpec {
                name: p.name,
                ty: manifest::ty(&p.ty, origin)?,
                doc: p.doc,
                optional: p.optional,
            });
        }
        let mut options = Vec::new();
        for o in f.options {
            options.push(OptSpec {
                name: o.name,
                ty: manifest::ty(&o.ty, origin)?,
                default: o.default,
                doc: o.doc,
                choices: Vec::new(),
            });
        }
        functions.push(FnSpec {
            name: f.name,
            summary: f.summary,
            params,
            options,
            returns: f.returns,
            section: f.section,
            example: f.example,
        });
    }
    let info = PluginInfo {
        name: i.name,
        version: i.version,
        description: i.description,
        functions,
    };
    manifest::check_described(&info, origin)?;
    Ok(info)
}

impl Plugin for WasmPlugin {
    fn info(&self) -> PluginInfo {
        self.info.clone()
    }

    fn call(&self, function: &str, args: &[Value], options: &Map, ctx: &Ctx) -> Result<Value> {
        let opts = Value::Map(options.clone()).to_json()?.to_string();
        let device = emoscope_sdk::plugin::result_device(args, ctx);
        let result = self.run(ctx, function, |plugin, store| {
            // Arguments enter the store's table; conversion errors end the call before it starts.
            let table = &mut store.data_mut().table;
            let wargs: Vec<types::Value> = match args
                .iter()
                .enumerate()
                .map(|(i, a)| value_in(a, table, &format!("argument {}", i + 1)))
                .collect::<Result<_>>()
            {
                Ok(v) => v,
                Err(e) => return Ok(Err(ConvErr(e))),
            };
            match plugin.call_call(&mut *store, function, &wargs, &opts)? {
                Ok(v) => Ok(value_out(v, &mut store.data_mut().table, device).map_err(ConvErr)),
                Err(msg) => Ok(Err(ConvErr(Error::msg(msg)))),
            }
        })?;
        // The host prefixes the function's name.
        result.map_err(|ConvErr(e)| e)
    }
}

/// An error that is the plugin's answer (or a value that could not cross), not a trap.
struct ConvErr(Error);
