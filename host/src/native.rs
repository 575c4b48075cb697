//! Native plugins (feature `native`): shared libraries speaking the C ABI of
//! `sdk/include/emoscope_plugin.h` (types in the `emoscope-native` crate), loaded with libloading.
//!
//! They are trusted: no sandbox, no limits. What the host does guarantee is the order of trust:
//! the ABI-version symbol is read before anything else in the library is touched, and a library
//! of another version is refused. Libraries are never unloaded (a plugin's threads or static
//! destructors could outlive an unload).
use crate::manifest::{self, Manifest};
use emoscope_native as abi;
use emoscope_sdk::ctx::Progress;
use emoscope_sdk::tensor::CpuData;
use emoscope_sdk::{
    bail, Ctx, Error, FnSpec, Map, OptSpec, ParamSpec, Plugin, PluginInfo, Result, Tensor, Value,
};
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct NativePlugin {
    api: &'static abi::Api,
    info: PluginInfo,
    pub path: PathBuf,
}

fn lib_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::msg(format!("{}: {e}", path.display()))
}

impl NativePlugin {
    /// Load the library a manifest names, checking its ABI version first.
    pub fn load(dir: &Path, m: &Manifest) -> Result<NativePlugin> {
        // The manifest is read before the library is even opened.
        if m.interface != abi::ABI_VERSION.to_string() {
            bail!(
                "{}: plugin '{}' was built for native plugin ABI {}, but this emoscope speaks ABI {}; rebuild it against this emoscope's sdk/include/emoscope_plugin.h (or emoscope-native)",
                dir.display(),
                m.name,
                m.interface,
                abi::ABI_VERSION
            );
        }
        let path = dir.join(&m.file);
        if !path.is_file() {
            bail!(
                "{}: plugin '{}' names the library '{}', which is not there",
                dir.display(),
                m.name,
                m.file
            );
        }
        let p = Self::open(&path)?;
        if p.info.name != m.name {
            bail!(
                "{}: the manifest names the plugin '{}' but the library describes itself as '{}'",
                dir.display(),
                m.name,
                p.info.name
            );
        }
        Ok(p)
    }

    /// Open a library: ABI version, then the function table, then `describe()`.
    pub fn open(path: &Path) -> Result<NativePlugin> {
        // SAFETY: loading runs the library's initialisers; native plugins are trusted code, which
        // is why the manifest says `kind = "native"` and the user installed it.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| lib_err(path, format!("cannot load the library: {e}")))?;
        let version: u32 = {
            // SAFETY: the symbol's type is fixed by emoscope_plugin.h.
            let f = unsafe { lib.get::<unsafe extern "C" fn() -> u32>(abi::SYMBOL_ABI_VERSION) }
                .map_err(|_| {
                    lib_err(
                        path,
                        "not an emoscope native plugin: it exports no emoscope_plugin_abi_version()",
                    )
                })?;
            unsafe { f() }
        };
        if version != abi::ABI_VERSION {
            bail!(
                "{}: the library was built for native plugin ABI {version}, but this emoscope speaks ABI {}; rebuild it against this emoscope's sdk/include/emoscope_plugin.h (or emoscope-native)",
                path.display(),
                abi::ABI_VERSION
            );
        }
        let api: &'static abi::Api = {
            let entry =
                unsafe { lib.get::<unsafe extern "C" fn() -> *const abi::Api>(abi::SYMBOL_ENTRY) }
                    .map_err(|_| lib_err(path, "it exports no emoscope_plugin_entry()"))?;
            // SAFETY: the table is static in the library, which is never unloaded (below).
            unsafe { entry().as_ref() }
                .ok_or_else(|| lib_err(path, "emoscope_plugin_entry() returned no table"))?
        };
        if api.abi_version != abi::ABI_VERSION {
            bail!(
                "{}: the function table says ABI {}, the library's symbol says {}",
                path.display(),
                api.abi_version,
                abi::ABI_VERSION
            );
        }
        std::mem::forget(lib);
        let raw = unsafe { (api.describe)() };
        let text =
            take_string(api, raw).ok_or_else(|| lib_err(path, "describe() returned nothing"))?;
        let info = info_from_json(&text, path)?;
        Ok(NativePlugin {
            api,
            info,
            path: path.to_path_buf(),
        })
    }
}

/// Copy a plugin-owned string and give it back to the plugin's `free`.
fn take_string(api: &abi::Api, p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { (api.free)(p as *mut c_void) };
    Some(s)
}

fn info_from_json(text: &str, origin: &Path) -> Result<PluginInfo> {
    let bad = |what: &str| {
        Error::msg(format!(
            "{}: describe() returned {what} (see emoscope_plugin.h for its JSON)",
            origin.display()
        ))
    };
    let j: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(&format!("invalid JSON ({e})")))?;
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let mut functions = Vec::new();
    for f in j["functions"]
        .as_array()
        .ok_or_else(|| bad("no functions list"))?
    {
        let list = |k: &str| f[k].as_array().cloned().unwrap_or_default();
        let mut params = Vec::new();
        for p in list("params") {
            params.push(ParamSpec {
                name: s(&p, "name"),
                ty: manifest::ty(&s(&p, "type"), origin)?,
                doc: s(&p, "doc"),
                optional: p["optional"].as_bool().unwrap_or(false),
            });
        }
        let mut options = Vec::new();
        for o in list("options") {
            options.push(OptSpec {
                name: s(&o, "name"),
                ty: manifest::ty(&s(&o, "type"), origin)?,
                default: s(&o, "default"),
                doc: s(&o, "doc"),
                choices: Vec::new(),
            });
        }
        functions.push(FnSpec {
            name: s(f, "name"),
            summary: s(f, "summary"),
            params,
            options,
            returns: s(f, "returns"),
            section: s(f, "section"),
            example: s(f, "example"),
        });
    }
    let info = PluginInfo {
        name: s(&j, "name"),
        version: s(&j, "version"),
        description: s(&j, "description"),
        functions,
    };
    manifest::check_described(&info, origin)?;
    Ok(info)
}

// ---- One call ----------------------------------------------------------------------------------

/// The host side of `emoscope_host` for one call.
struct CallHost<'a> {
    ctx: &'a Ctx,
    plugin: &'a str,
    progress: Mutex<(Option<Box<dyn Progress>>, u64)>,
}

unsafe extern "C" fn host_log(ctx: *mut c_void, level: i32, msg: *const c_char) {
    let _ = std::panic::catch_unwind(|| {
        let (Some(h), false) = (unsafe { (ctx as *const CallHost).as_ref() }, msg.is_null()) else {
            return;
        };
        let msg = format!(
            "{}: {}",
            h.plugin,
            unsafe { CStr::from_ptr(msg) }.to_string_lossy()
        );
        match level {
            0 => h.ctx.debug(&msg),
            1 => h.ctx.info(&msg),
            _ => h.ctx.warn(&msg),
        }
    });
}

unsafe extern "C" fn host_progress(ctx: *mut c_void, done: u64, total: u64) {
    let _ = std::panic::catch_unwind(|| {
        let Some(h) = (unsafe { (ctx as *const CallHost).as_ref() }) else {
            return;
        };
        let mut g = h.progress.lock().unwrap_or_else(|e| e.into_inner());
        if g.0.is_none() && total > 0 {
            g.0 = Some(h.ctx.progress(h.plugin, total));
        }
        if let Some(p) = &g.0 {
            p.inc(done.saturating_sub(g.1));
        }
        g.1 = g.1.max(done);
    });
}

unsafe extern "C" fn host_cancelled(ctx: *mut c_void) -> i32 {
    unsafe { (ctx as *const CallHost).as_ref() }.is_some_and(|h| h.ctx.cancel.is_cancelled()) as i32
}

/// Values to JSON, tensors lent as DLManagedTensors over the host's own buffers (no copy when
/// they are already C-contiguous).
struct Lent(Vec<*mut abi::DLManagedTensor>);

impl Drop for Lent {
    fn drop(&mut self) {
        for &m in &self.0 {
            if let Some(d) = unsafe { (*m).deleter } {
                unsafe { d(m) }
            }
        }
    }
}

fn lend(t: &Tensor, lent: &mut Lent) -> Result<serde_json::Value> {
    fn go<T: Clone + 'static>(
        a: ndarray::ArcArray<T, ndarray::IxDyn>,
        dtype: abi::Dtype,
    ) -> *mut abi::DLManagedTensor {
        let a = if a.is_standard_layout() {
            a
        } else {
            a.as_standard_layout().into_owned().into_shared()
        };
        let shape = a.shape().to_vec();
        let p = a.as_ptr() as *mut c_void;
        // SAFETY: `a` (kept by the deleter) owns the elements `p` points to, in C order.
        unsafe { abi::managed(p, dtype, &shape, Box::new(a)) }
    }
    let m = match t.cpu_data()? {
        CpuData::F32(a) => go(a, abi::Dtype::F32),
        CpuData::F64(a) => go(a, abi::Dtype::F64),
        CpuData::I64(a) => go(a, abi::Dtype::I64),
        CpuData::U8(a) => go(a, abi::Dtype::U8),
        CpuData::Bool(a) => go(a, abi::Dtype::Bool),
    };
    lent.0.push(m);
    Ok(abi::tensor_ref(lent.0.len() - 1))
}

fn to_json(v: &Value, lent: &mut Lent, at: &str) -> Result<serde_json::Value> {
    use serde_json::Value as J;
    Ok(match v {
        Value::Tensor(t) => lend(t, lent)?,
        Value::List(l) => J::Array(
            l.iter()
                .enumerate()
                .map(|(i, x)| to_json(x, lent, &format!("{at}[{i}]")))
                .collect::<Result<_>>()?,
        ),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), to_json(x, lent, &format!("{at}.{k}"))?)))
                .collect::<Result<_>>()?,
        ),
        Value::Object(_) => bail!("{at}: a host object cannot be passed to a native plugin"),
        plain => plain.to_json()?,
    })
}

/// A result tensor, copied out of the plugin's buffer.
fn copy_out(m: *mut abi::DLManagedTensor) -> std::result::Result<Tensor, String> {
    let r = unsafe { abi::TensorRef::new(m) }?;
    let shape = r.shape();
    let t = match r.dtype() {
        abi::Dtype::F32 => Tensor::from_vec(r.gather::<f32>(), &shape),
        abi::Dtype::F64 => Tensor::from_vec(r.gather::<f64>(), &shape),
        abi::Dtype::I64 => Tensor::from_vec(r.gather::<i64>(), &shape),
        abi::Dtype::U8 => Tensor::from_vec(r.gather::<u8>(), &shape),
        abi::Dtype::Bool => Tensor::from_vec(
            r.gather::<u8>()
                .into_iter()
                .map(|x| x != 0)
                .collect::<Vec<bool>>(),
            &shape,
        ),
    };
    t.map_err(|e| e.to_string())
}

fn from_json(
    j: &serde_json::Value,
    tensors: &[Option<Tensor>],
) -> std::result::Result<Value, String> {
    use serde_json::Value as J;
    if let Some(i) = abi::tensor_index(j) {
        return match tensors.get(i) {
            Some(Some(t)) => Ok(Value::Tensor(t.clone())),
            _ => Err(format!(
                "its result refers to tensor {i}, but it returned {}",
                tensors.len()
            )),
        };
    }
    Ok(match j {
        J::Array(a) => Value::List(
            a.iter()
                .map(|x| from_json(x, tensors))
                .collect::<std::result::Result<_, _>>()?,
        ),
        J::Object(o) => Value::Map(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), from_json(x, tensors)?)))
                .collect::<std::result::Result<Map, String>>()?,
        ),
        plain => Value::from_json(plain),
    })
}

impl Plugin for NativePlugin {
    fn info(&self) -> PluginInfo {
        self.info.clone()
    }

    fn call(&self, function: &str, args: &[Value], options: &Map, ctx: &Ctx) -> Result<Value> {
        let mut lent = Lent(Vec::new());
        let args_json = serde_json::Value::Array(
            args.iter()
                .enumerate()
                .map(|(i, a)| to_json(a, &mut lent, &format!("argument {}", i + 1)))
                .collect::<Result<_>>()?,
        );
        let opts_json = to_json(&Value::Map(options.clone()), &mut lent, "options")?;
        let cstr = |s: String| CString::new(s).map_err(|e| Error::msg(e.to_string()));
        let (f, a, o) = (
            cstr(function.to_string())?,
            cstr(args_json.to_string())?,
            cstr(opts_json.to_string())?,
        );
        let call_host = CallHost {
            ctx,
            plugin: &self.info.name,
            progress: Mutex::new((None, 0)),
        };
        let host = abi::HostApi {
            ctx: &call_host as *const CallHost as *mut c_void,
            log: host_log,
            progress: host_progress,
            cancelled: host_cancelled,
        };
        let mut out = abi::RawOutput::default();
        let rc = unsafe {
            (self.api.call)(
                &host,
                f.as_ptr(),
                a.as_ptr(),
                o.as_ptr(),
                lent.0.as_ptr(),
                lent.0.len() as u64,
                &mut out,
            )
        };
        drop(lent);
        // Everything the plugin handed over is taken back before any error is returned.
        let json = take_string(self.api, out.json);
        let error = take_string(self.api, out.error);
        let ptrs: Vec<*mut abi::DLManagedTensor> = if out.tensors.is_null() {
            Vec::new()
        } else {
            unsafe { std::slice::from_raw_parts(out.tensors, out.n_tensors as usize) }.to_vec()
        };
        let mut tensors: Vec<Option<Tensor>> = Vec::with_capacity(ptrs.len());
        let mut bad = None;
        for (i, &m) in ptrs.iter().enumerate() {
            match copy_out(m) {
                Ok(t) => tensors.push(Some(t)),
                Err(e) => {
                    bad.get_or_insert(format!("result tensor {i}: {e}"));
                    tensors.push(None);
                }
            }
            if let Some(d) = (!m.is_null()).then(|| unsafe { (*m).deleter }).flatten() {
                unsafe { d(m) }
            }
        }
        if !out.tensors.is_null() {
            unsafe { (self.api.free)(out.tensors as *mut c_void) };
        }
        if ctx.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if rc != 0 {
            bail!(
                "{}",
                error.unwrap_or_else(|| format!("failed (code {rc}) and said nothing"))
            );
        }
        if let Some(e) = bad {
            bail!("native plugin {}: {e}", self.info.name);
        }
        let json = json.ok_or_else(|| {
            Error::msg(format!(
                "native plugin {} returned success but no result",
                self.info.name
            ))
        })?;
        let j: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
            Error::msg(format!(
                "native plugin {} returned invalid JSON: {e}",
                self.info.name
            ))
        })?;
        // Results come back on the device of the call's tensor arguments, as a builtin's would.
        let device = emoscope_sdk::plugin::result_device(args, ctx);
        for t in tensors.iter_mut().flatten() {
            *t = t.to_device(device)?;
        }
        from_json(&j, &tensors)
            .map_err(|e| Error::msg(format!("native plugin {}: {e}", self.info.name)))
    }
}
