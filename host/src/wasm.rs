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
use crate::grants::InferenceGrant;
use crate::manifest::{self, Limits, Manifest};
use emoscope_sdk::linalg::Similarity;
use emoscope_sdk::plugin::{OptSpec, ParamSpec};
use emoscope_sdk::{bail, Ctx, Device, Error, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Value};
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

/// The most elements one chunked read returns (8 MiB of f64).
const MAX_CHUNK: u64 = 1 << 20;
/// One epoch tick.
const TICK: Duration = Duration::from_millis(10);
/// What `describe()` may spend at load.
const DESCRIBE_FUEL: u64 = 1_000_000_000;
const DESCRIBE_TIMEOUT_S: f64 = 10.0;

/// A tensor in the host's table. On the CPU engine its flat row-major data is converted to f64
/// once, on the first read; a tensor on a libtorch device (CPU or CUDA) stays there, and each
/// chunk the guest reads is copied to the host on its own, so a large GPU tensor is never
/// mirrored whole in host memory.
pub struct HostTensor {
    t: Tensor,
    flat: OnceLock<std::result::Result<Flat, String>>,
}

/// The data a chunked read slices.
enum Flat {
    Host(ArcArray<f64, IxDyn>),
    /// The tensor viewed as 1-D, on its device.
    Device(Tensor),
}

impl HostTensor {
    fn new(t: Tensor) -> Self {
        HostTensor {
            t,
            flat: OnceLock::new(),
        }
    }
    fn flat(&self) -> std::result::Result<&Flat, String> {
        self.flat
            .get_or_init(|| {
                if self.t.device().is_torch() {
                    return Ok(Flat::Device(
                        self.t.view_as(&[self.t.numel()]).map_err(|e| e.to_string())?,
                    ));
                }
                let a = self.t.to_f64().map_err(|e| e.to_string())?;
                Ok(Flat::Host(if a.is_standard_layout() {
                    a
                } else {
                    a.as_standard_layout().to_owned().into_shared()
                }))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A tensor being written in chunks.
pub struct Builder {
    shape: Vec<usize>,
    dtype: types::Dtype,
    data: Vec<f64>,
}

/// What one call's store holds.
struct State {
    table: ResourceTable,
    wasi: WasiCtx,
    limits: StoreLimits,
    memory_hit: bool,
    ctx: Ctx,
    plugin: String,
    progress: Option<Box<dyn emoscope_sdk::ctx::Progress>>,
    progress_done: u64,
    inference: Inference,
    /// Where the call's tensor results go: the device of its tensor arguments.
    device: Device,
    /// Bytes of host tensors and builders this call created, charged to the memory cap too.
    host_bytes: u64,
    host_cap: u64,
}

impl State {
    /// Charge `n` f64 elements of host memory to the call; over the cap, the call traps.
    fn charge(&mut self, n: usize) -> wasmtime::Result<()> {
        self.host_bytes = self.host_bytes.saturating_add(8 * n as u64);
        if self.host_bytes > self.host_cap {
            self.memory_hit = true;
            wasmtime::bail!(
                "host tensors of {} MiB exceed the memory cap",
                self.host_bytes >> 20
            );
        }
        Ok(())
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Remembers that a memory growth was refused, so the trap it causes (a Rust guest aborts on
/// allocation failure) is reported as the memory cap, not as a bug.
impl wasmtime::ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        if !ok {
            self.memory_hit = true;
        }
        Ok(ok)
    }
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }
    fn instances(&self) -> usize {
        self.limits.instances()
    }
    fn tables(&self) -> usize {
        self.limits.tables()
    }
    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

fn dims(shape: &[u64]) -> std::result::Result<Vec<usize>, String> {
    let d: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
    let n = d
        .iter()
        .try_fold(1usize, |a, &s| a.checked_mul(s))
        .ok_or("the shape's element count overflows")?;
    if n > (1usize << 34) {
        return Err(format!("shape {shape:?} has {n} elements: too many"));
    }
    Ok(d)
}

impl types::Host for State {}

impl types::HostTensor for State {
    fn shape(&mut self, t: Resource<HostTensor>) -> wasmtime::Result<Vec<u64>> {
        Ok(self
            .table
            .get(&t)?
            .t
            .shape()
            .iter()
            .map(|&d| d as u64)
            .collect())
    }
    fn dtype(&mut self, t: Resource<HostTensor>) -> wasmtime::Result<types::Dtype> {
        use emoscope_sdk::DType;
        Ok(match self.table.get(&t)?.t.dtype() {
            DType::F32 => types::Dtype::F32,
            DType::F64 => types::Dtype::F64,
            DType::I64 => types::Dtype::S64,
            DType::U8 => types::Dtype::U8,
            DType::Bool => types::Dtype::Bool,
        })
    }
    fn numel(&mut self, t: Resource<HostTensor>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&t)?.t.shape().iter().product::<usize>() as u64)
    }
    fn read_f64(
        &mut self,
        t: Resource<HostTensor>,
        offset: u64,
        len: u64,
    ) -> wasmtime::Result<std::result::Result<Vec<f64>, String>> {
        let h = self.table.get(&t)?;
        Ok(read(h, offset, len))
    }
    fn read_f32(
        &mut self,
        t: Resource<HostTensor>,
        offset: u64,
        len: u64,
    ) -> wasmtime::Result<std::result::Result<Vec<f32>, String>> {
        let h = self.table.get(&t)?;
        Ok(read(h, offset, len).map(|s| s.into_iter().map(|v| v as f32).collect()))
    }
    fn from_f64(
        &mut self,
        shape: Vec<u64>,
        data: Vec<f64>,
    ) -> wasmtime::Result<std::result::Result<Resource<HostTensor>, String>> {
        let t = dims(&shape)
            .and_then(|d| Tensor::from_vec(data, &d).map_err(|e| format!("tensor.from-f64: {e}")));
        match t {
            Ok(t) => Ok(Ok(self.table.push(HostTensor::new(t))?)),
            Err(e) => Ok(Err(e)),
        }
    }
    fn drop(&mut self, t: Resource<HostTensor>) -> wasmtime::Result<()> {
        self.table.delete(t)?;
        Ok(())
    }
}

/// Elements `offset..offset + len` (at most `MAX_CHUNK`, clipped at the end) in row-major order.
fn read(h: &HostTensor, offset: u64, len: u64) -> std::result::Result<Vec<f64>, String> {
    let n = h.t.numel() as u64;
    if offset > n {
        return Err(format!("read at element {offset}, but the tensor has {n}"));
    }
    let (start, end) = (offset as usize, (offset + len.min(MAX_CHUNK).min(n - offset)) as usize);
    match h.flat()? {
        Flat::Host(a) => Ok(a.as_slice().expect("standard layout")[start..end].to_vec()),
        Flat::Device(t) => t
            .narrow0(start, end)
            .and_then(|c| c.to_vec_f64())
            .map_err(|e| e.to_string()),
    }
}

impl types::HostTensorBuilder for State {
    fn new(&mut self, shape: Vec<u64>, dtype: types::Dtype) -> wasmtime::Result<Resource<Builder>> {
        // An impossible shape traps the call: the guest asked for something no tensor can be.
        let d = dims(&shape).map_err(|e| wasmtime::format_err!("tensor-builder: {e}"))?;
        let n = d.iter().product();
        self.charge(n)?;
        Ok(self.table.push(Builder {
            shape: d,
            dtype,
            data: vec![0.0; n],
        })?)
    }
    fn write_f64(
        &mut self,
        b: Resource<Builder>,
        offset: u64,
        data: Vec<f64>,
    ) -> wasmtime::Result<std::result::Result<(), String>> {
        let b = self.table.get_mut(&b)?;
        Ok(write(b, offset, data.len()).map(|r| b.data[r].copy_from_slice(&data)))
    }
    fn write_f32(
        &mut self,
        b: Resource<Builder>,
        offset: u64,
        data: Vec<f32>,
    ) -> wasmtime::Result<std::result::Result<(), String>> {
        let b = self.table.get_mut(&b)?;
        Ok(write(b, offset, data.len()).map(|r| {
            for (o, &v) in b.data[r].iter_mut().zip(&data) {
                *o = v as f64;
            }
        }))
    }
    fn finish(&mut self, b: Resource<Builder>) -> wasmtime::Result<Resource<HostTensor>> {
        let b = self.table.delete(b)?;
        let t = Tensor::from_vec(b.data, &b.shape).map_err(|e| wasmtime::format_err!("{e}"))?;
        let t = match b.dtype {
            types::Dtype::F32 => t.astype(emoscope_sdk::DType::F32),
            types::Dtype::S64 => t.astype(emoscope_sdk::DType::I64),
            types::Dtype::U8 => t.astype(emoscope_sdk::DType::U8),
            types::Dtype::Bool => t.astype(emoscope_sdk::DType::Bool),
            types::Dtype::F64 => t,
        };
        Ok(self.table.push(HostTensor::new(t))?)
    }
    fn drop(&mut self, b: Resource<Builder>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

fn write(
    b: &Builder,
    offset: u64,
    len: usize,
) -> std::result::Result<std::ops::Range<usize>, String> {
    let n = b.data.len();
    let start = offset as usize;
    if offset > n as u64 || start + len > n {
        return Err(format!(
            "write of {len} elements at {offset} does not fit a tensor of {n}"
        ));
    }
    Ok(start..start + len)
}

impl host::Host for State {
    fn log(&mut self, level: host::Level, msg: String) -> wasmtime::Result<()> {
        let msg = format!("{}: {msg}", self.plugin);
        match level {
            host::Level::Debug => self.ctx.debug(&msg),
            host::Level::Info => self.ctx.info(&msg),
            host::Level::Warn => self.ctx.warn(&msg),
        }
        Ok(())
    }
    fn progress(&mut self, done: u64, total: u64) -> wasmtime::Result<()> {
        if self.progress.is_none() && total > 0 {
            self.progress = Some(self.ctx.progress(&self.plugin, total));
        }
        if let Some(p) = &self.progress {
            p.inc(done.saturating_sub(self.progress_done));
        }
        self.progress_done = self.progress_done.max(done);
        Ok(())
    }
    fn cancelled(&mut self) -> wasmtime::Result<bool> {
        Ok(self.ctx.cancel.is_cancelled())
    }
    fn max_chunk(&mut self) -> wasmtime::Result<u64> {
        Ok(MAX_CHUNK)
    }
    fn matmul(
        &mut self,
        a: Resource<HostTensor>,
        b: Resource<HostTensor>,
    ) -> wasmtime::Result<std::result::Result<Resource<HostTensor>, String>> {
        let (ta, tb) = (&self.table.get(&a)?.t, &self.table.get(&b)?.t);
        let (sa, sb) = (ta.shape(), tb.shape());
        if sa.len() == 2 && sb.len() == 2 {
            self.charge(sa[0].saturating_mul(sb[1]))?;
        }
        let r = self.table.get(&a)?.t.matmul(&self.table.get(&b)?.t);
        match r {
            Ok(t) => Ok(Ok(self.table.push(HostTensor::new(t))?)),
            Err(e) => Ok(Err(format!("matmul: {e}"))),
        }
    }
    fn rsm(
        &mut self,
        x: Resource<HostTensor>,
        metric: String,
    ) -> wasmtime::Result<std::result::Result<Resource<HostTensor>, String>> {
        let how = match metric.as_str() {
            "cosine" => Similarity::Cosine,
            "pearson" => Similarity::Pearson,
            "spearman" => Similarity::Spearman,
            other => {
                return Ok(Err(format!(
                    "rsm: unknown metric '{other}' (cosine, pearson, spearman)"
                )))
            }
        };
        let rows = self.table.get(&x)?.t.shape().first().copied().unwrap_or(0);
        self.charge(rows.saturating_mul(rows))?;
        // On the tensor's device: a libtorch tensor's RSM is one matrix product there.
        match self.table.get(&x)?.t.row_similarity(how) {
            Ok(t) => Ok(Ok(self.table.push(HostTensor::new(t))?)),
            Err(e) => Ok(Err(format!("rsm: {e}"))),
        }
    }
}

/// Inference for a plugin: asked for in its manifest, granted by the user (crate::grants).
#[derive(Clone, Debug, Default)]
pub enum Inference {
    #[default]
    NotAsked,
    NotGranted,
    Granted(Arc<InferenceGrant>),
}

impl Inference {
    /// From the manifest's permissions and the user's grants.
    pub fn for_manifest(m: &Manifest) -> Result<Inference> {
        if !m.permissions.iter().any(|p| p == "inference") {
            return Ok(Inference::NotAsked);
        }
        Ok(match crate::grants::inference(&m.name)? {
            Some(g) => Inference::Granted(Arc::new(g)),
            None => Inference::NotGranted,
        })
    }
}

/// One HTTP client for every plugin's inference requests.
fn client() -> &'static emoscope_sdk::infer::Client {
    static C: OnceLock<emoscope_sdk::infer::Client> = OnceLock::new();
    C.get_or_init(|| {
        emoscope_sdk::infer::Client::new(Duration::from_secs(300), Duration::from_secs(10), 4)
    })
}

/// A few tries for a transient failure or a rate limit (honouring Retry-After), as judge::llm
/// does for whole collections; anything else goes straight back to the plugin.
fn with_retries<T>(
    ctx: &Ctx,
    mut f: impl FnMut() -> std::result::Result<T, emoscope_sdk::infer::CallError>,
) -> std::result::Result<T, String> {
    let mut wait = Duration::from_millis(250);
    for attempt in 1.. {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < 4 => {
                let pause = e.retry_after.unwrap_or(wait).min(Duration::from_secs(10));
                let until = Instant::now() + pause;
                while Instant::now() < until {
                    if ctx.cancel.is_cancelled() {
                        return Err("cancelled".into());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                wait *= 2;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    unreachable!()
}

impl inference::Host for State {
    fn embed(
        &mut self,
        texts: Vec<String>,
    ) -> wasmtime::Result<std::result::Result<Resource<HostTensor>, String>> {
        let Inference::Granted(g) = self.inference.clone() else {
            return Ok(Err(self.no_inference()));
        };
        let ep = match g.embed_endpoint() {
            Ok(ep) => ep,
            Err(e) => return Ok(Err(format!("{}: inference: {e}", self.plugin))),
        };
        self.ctx.debug(&format!(
            "{}: embedding {} texts with {} at {}",
            self.plugin,
            texts.len(),
            ep.model,
            ep.url
        ));
        let ctx = self.ctx.clone();
        let e = match with_retries(&ctx, || client().embed(&ep, &texts)) {
            Ok(e) => e,
            Err(e) => return Ok(Err(format!("{}: inference: {e}", self.plugin))),
        };
        let n = e.vectors.len();
        let d = e.vectors.first().map_or(0, Vec::len);
        if e.vectors.iter().any(|v| v.len() != d) {
            return Ok(Err(format!(
                "{}: inference: the server returned embeddings of different lengths",
                self.plugin
            )));
        }
        self.charge(n * d)?;
        let data: Vec<f32> = e.vectors.into_iter().flatten().collect();
        match Tensor::from_vec(data, &[n, d]) {
            Ok(t) => Ok(Ok(self.table.push(HostTensor::new(t))?)),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    fn chat(&mut self, prompt: String) -> wasmtime::Result<std::result::Result<String, String>> {
        let Inference::Granted(g) = self.inference.clone() else {
            return Ok(Err(self.no_inference()));
        };
        let ep = match g.chat_endpoint() {
            Ok(ep) => ep,
            Err(e) => return Ok(Err(format!("{}: inference: {e}", self.plugin))),
        };
        let req = emoscope_sdk::infer::ChatRequest {
            messages: vec![emoscope_sdk::infer::Message::user(prompt)],
            ..Default::default()
        };
        let ctx = self.ctx.clone();
        Ok(with_retries(&ctx, || client().chat(&ep, &req))
            .map(|r| r.text)
            .map_err(|e| format!("{}: inference: {e}", self.plugin)))
    }
}

impl State {
    fn no_inference(&self) -> String {
        match self.inference {
            Inference::NotGranted => format!(
                "{p}: inference is not granted; the user grants it with `emoscope plugin grant {p} --url URL --model MODEL`",
                p = self.plugin
            ),
            _ => format!(
                "{}: inference was not asked for (the plugin's manifest must list permissions = [\"inference\"])",
                self.plugin
            ),
        }
    }
}

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

/// Compile `wasm`, or load it from the on-disk cache. Returns the component and whether the
/// cache answered.
pub fn compile(wasm: &[u8], origin: &Path) -> Result<(Component, bool)> {
    if wasm.len() >= 8 && wasm[..4] == *b"\0asm" && wasm[4..8] == [1, 0, 0, 0] {
        bail!(
            "{}: a core WebAssembly module, not a component (build with --target wasm32-wasip2, or componentise a wasip1 build with wit-component)",
            origin.display()
        );
    }
    let key = cache_key(wasm);
    let cached = manifest::cache_dir().map(|d| d.join(format!("{key}.cwasm")));
    if let Some(p) = &cached {
        if p.is_file() {
            // SAFETY: the file was written by `Component::serialize` into emoscope's own cache
            // (never a file a plugin ships); wasmtime checks its version and settings and
            // refuses a mismatch, in which case we recompile.
            if let Ok(c) = unsafe { Component::deserialize_file(engine(), p) } {
                // The modification time records use, for eviction.
                let _ = std::fs::File::options()
                    .append(true)
                    .open(p)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                return Ok((c, true));
            }
        }
    }
    let c = Component::new(engine(), wasm).map_err(|e| {
        Error::msg(format!(
            "{}: not a valid WASM component: {}",
            origin.display(),
            e.root_cause()
        ))
    })?;
    if let (Some(p), Ok(bytes)) = (&cached, c.serialize()) {
        // A cache that cannot be written only costs the next start a compile.
        let _ = emoscope_sdk::io::atomic_write(p, |w| {
            std::io::Write::write_all(w, &bytes)?;
            Ok(())
        });
        if let Some(dir) = p.parent() {
            evict(dir, CACHE_BYTES);
        }
    }
    Ok((c, false))
}

/// The compiled-component cache is kept under this size (a component compiles to ~1-10 MB).
const CACHE_BYTES: u64 = 1 << 30;

/// Remove the least recently used compiled components until `dir` holds at most `cap` bytes.
fn evict(dir: &Path, cap: u64) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((m.modified().ok()?, m.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    for (_, len, path) in files {
        if total <= cap {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

fn cache_key(wasm: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine().precompile_compatibility_hash().hash(&mut h);
    let sha = Sha256::digest(wasm);
    let hex: String = sha.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{hex}-wasmtime48-{:016x}", h.finish())
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
        let raw = p.run(&ctx, Device::Cpu, "describe", |plugin, store| {
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
        device: Device,
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
                device,
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

fn leaf_in(v: &Value, table: &mut ResourceTable, at: &str) -> Result<types::Leaf> {
    Ok(match v {
        Value::Null => types::Leaf::Null,
        Value::Bool(b) => types::Leaf::Boolean(*b),
        Value::Int(i) => types::Leaf::Int(*i),
        Value::Float(f) => types::Leaf::Float(*f),
        Value::Str(s) => types::Leaf::Str(s.clone()),
        Value::Tensor(t) => types::Leaf::Tensor(push(table, t)?),
        Value::List(_) | Value::Map(_) => types::Leaf::Json(plain_json(v, at)?),
        Value::Object(_) => bail!("{at}: a host object cannot be passed to a WASM plugin"),
    })
}

fn plain_json(v: &Value, at: &str) -> Result<String> {
    fn has_tensor(v: &Value) -> bool {
        match v {
            Value::Tensor(_) | Value::Object(_) => true,
            Value::List(l) => l.iter().any(has_tensor),
            Value::Map(m) => m.values().any(has_tensor),
            _ => false,
        }
    }
    if has_tensor(v) {
        bail!("{at}: tensors nested deeper than one list or map level cannot be passed to a WASM plugin");
    }
    Ok(v.to_json()?.to_string())
}

fn push(table: &mut ResourceTable, t: &Tensor) -> Result<Resource<HostTensor>> {
    table
        .push(HostTensor::new(t.clone()))
        .map_err(|e| Error::msg(e.to_string()))
}

fn value_in(v: &Value, table: &mut ResourceTable, at: &str) -> Result<types::Value> {
    Ok(match v {
        Value::List(l) => types::Value::List(
            l.iter()
                .enumerate()
                .map(|(i, x)| leaf_in(x, table, &format!("{at}[{i}]")))
                .collect::<Result<_>>()?,
        ),
        Value::Map(m) => types::Value::Map(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), leaf_in(x, table, &format!("{at}.{k}"))?)))
                .collect::<Result<_>>()?,
        ),
        other => match leaf_in(other, table, at)? {
            types::Leaf::Null => types::Value::Null,
            types::Leaf::Boolean(b) => types::Value::Boolean(b),
            types::Leaf::Int(i) => types::Value::Int(i),
            types::Leaf::Float(f) => types::Value::Float(f),
            types::Leaf::Str(s) => types::Value::Str(s),
            types::Leaf::Tensor(t) => types::Value::Tensor(t),
            types::Leaf::Json(j) => types::Value::Json(j),
        },
    })
}

/// A tensor the plugin returns, moved to the call's device (a plugin builds its results on the
/// host; the caller gets them where its inputs were).
fn take(table: &mut ResourceTable, t: Resource<HostTensor>, device: Device) -> Result<Value> {
    let h = table
        .delete(t)
        .map_err(|e| Error::msg(format!("the plugin returned a bad tensor handle: {e}")))?;
    Ok(Value::Tensor(h.t.to_device(device)?))
}

fn json_out(s: &str) -> Result<Value> {
    let j: serde_json::Value = serde_json::from_str(s)
        .map_err(|e| Error::msg(format!("the plugin returned invalid JSON: {e}")))?;
    Ok(Value::from_json(&j))
}

fn leaf_out(l: types::Leaf, table: &mut ResourceTable, device: Device) -> Result<Value> {
    Ok(match l {
        types::Leaf::Null => Value::Null,
        types::Leaf::Boolean(b) => Value::Bool(b),
        types::Leaf::Int(i) => Value::Int(i),
        types::Leaf::Float(f) => Value::Float(f),
        types::Leaf::Str(s) => Value::Str(s),
        types::Leaf::Tensor(t) => take(table, t, device)?,
        types::Leaf::Json(j) => json_out(&j)?,
    })
}

fn value_out(v: types::Value, table: &mut ResourceTable, device: Device) -> Result<Value> {
    Ok(match v {
        types::Value::Null => Value::Null,
        types::Value::Boolean(b) => Value::Bool(b),
        types::Value::Int(i) => Value::Int(i),
        types::Value::Float(f) => Value::Float(f),
        types::Value::Str(s) => Value::Str(s),
        types::Value::Tensor(t) => take(table, t, device)?,
        types::Value::Json(j) => json_out(&j)?,
        types::Value::List(l) => Value::List(
            l.into_iter()
                .map(|x| leaf_out(x, table, device))
                .collect::<Result<_>>()?,
        ),
        types::Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, x)| Ok((k, leaf_out(x, table, device)?)))
                .collect::<Result<Map>>()?,
        ),
    })
}

impl Plugin for WasmPlugin {
    fn info(&self) -> PluginInfo {
        self.info.clone()
    }

    fn call(&self, function: &str, args: &[Value], options: &Map, ctx: &Ctx) -> Result<Value> {
        let opts = Value::Map(options.clone()).to_json()?.to_string();
        let device = call_device(args, ctx);
        let result = self.run(ctx, device, function, |plugin, store| {
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

/// The device a call's tensor results go to: that of its first tensor argument on a libtorch
/// device (CPU or CUDA), else the CPU engine when it has tensor arguments there, else the run's
/// `--device`.
fn call_device(args: &[Value], ctx: &Ctx) -> Device {
    fn tensors<'a>(v: &'a Value, out: &mut Vec<&'a Tensor>) {
        match v {
            Value::Tensor(t) => out.push(t),
            Value::List(l) => l.iter().for_each(|x| tensors(x, out)),
            Value::Map(m) => m.values().for_each(|x| tensors(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    args.iter().for_each(|a| tensors(a, &mut all));
    if all.is_empty() {
        return ctx.device;
    }
    all.iter()
        .map(|t| t.device())
        .find(|d| d.is_torch())
        .unwrap_or(Device::Cpu)
}

/// An error that is the plugin's answer (or a value that could not cross), not a trap.
struct ConvErr(Error);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_keeps_the_most_recently_used_components_under_the_cap() {
        let d = tempfile::tempdir().unwrap();
        let t0 = std::time::SystemTime::now();
        for (i, age) in [(0, 30u64), (1, 10), (2, 20)] {
            let p = d.path().join(format!("c{i}.cwasm"));
            std::fs::write(&p, vec![0u8; 100]).unwrap();
            std::fs::File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t0 - Duration::from_secs(age))
                .unwrap();
        }
        std::fs::write(d.path().join("other.txt"), vec![0u8; 500]).unwrap();
        evict(d.path(), 200);
        let left = |n: &str| d.path().join(n).exists();
        // The oldest (c0) goes; the two used last stay; other files are not the cache's.
        assert!(!left("c0.cwasm") && left("c1.cwasm") && left("c2.cwasm") && left("other.txt"));
        evict(d.path(), 100);
        assert!(left("c1.cwasm") && !left("c2.cwasm"));
    }
}
