//! emoscope-native: the C ABI of native plugins (`sdk/include/emoscope_plugin.h`, mirrored here
//! type for type) and [`export_native_plugin!`], which turns a Rust type implementing
//! [`NativePlugin`] into such a library. The host loads the same types, so the two sides cannot
//! drift apart.
//!
//! ```ignore
//! use emoscope_native::*;
//! struct Mine;
//! impl NativePlugin for Mine {
//!     fn describe() -> Info {
//!         info("mine", "0.1.0", "What it does", vec![
//!             spec("scale", "Multiply a tensor by a factor.")
//!                 .param("x", "tensor", "input")
//!                 .opt("factor", "float", "1.0", "the multiplier"),
//!         ])
//!     }
//!     fn call(host: &Host, function: &str, args: &Args, options: &Options, out: &mut Output)
//!         -> Result<serde_json::Value, String> { ... }
//! }
//! export_native_plugin!(Mine);
//! ```
//! Build it as a `cdylib`; put the library and a `plugin.toml` (`kind = "native"`,
//! `interface = "1"`) in one folder; `emoscope plugin install` that folder.
use serde_json::{json, Map, Value};
use std::any::Any;
use std::ffi::{c_char, c_void, CStr, CString};

pub use serde_json;

/// `EMOSCOPE_PLUGIN_ABI_VERSION`.
pub const ABI_VERSION: u32 = 1;

// ---- The ABI (emoscope_plugin.h) -------------------------------------------------------------

pub const KDL_CPU: i32 = 1;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDevice {
    pub device_type: i32,
    pub device_id: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDataType {
    pub code: u8,
    pub bits: u8,
    pub lanes: u16,
}

#[repr(C)]
#[derive(Debug)]
pub struct DLTensor {
    pub data: *mut c_void,
    pub device: DLDevice,
    pub ndim: i32,
    pub dtype: DLDataType,
    pub shape: *mut i64,
    pub strides: *mut i64,
    pub byte_offset: u64,
}

#[repr(C)]
#[derive(Debug)]
pub struct DLManagedTensor {
    pub dl_tensor: DLTensor,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
pub struct HostApi {
    pub ctx: *mut c_void,
    pub log: unsafe extern "C" fn(*mut c_void, i32, *const c_char),
    pub progress: unsafe extern "C" fn(*mut c_void, u64, u64),
    pub cancelled: unsafe extern "C" fn(*mut c_void) -> i32,
}

#[repr(C)]
#[derive(Debug)]
pub struct RawOutput {
    pub json: *mut c_char,
    pub error: *mut c_char,
    pub tensors: *mut *mut DLManagedTensor,
    pub n_tensors: u64,
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            json: std::ptr::null_mut(),
            error: std::ptr::null_mut(),
            tensors: std::ptr::null_mut(),
            n_tensors: 0,
        }
    }
}

pub type CallFn = unsafe extern "C" fn(
    *const HostApi,
    *const c_char,
    *const c_char,
    *const c_char,
    *const *mut DLManagedTensor,
    u64,
    *mut RawOutput,
) -> i32;

#[repr(C)]
pub struct Api {
    pub abi_version: u32,
    pub describe: unsafe extern "C" fn() -> *mut c_char,
    pub call: CallFn,
    pub free: unsafe extern "C" fn(*mut c_void),
}

/// The exported symbols' names (NUL-terminated, for `dlsym`).
pub const SYMBOL_ABI_VERSION: &[u8] = b"emoscope_plugin_abi_version\0";
pub const SYMBOL_ENTRY: &[u8] = b"emoscope_plugin_entry\0";

// ---- Tensors -------------------------------------------------------------------------------

/// The element types that cross the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
    I64,
    U8,
    Bool,
}

impl Dtype {
    pub fn dl(self) -> DLDataType {
        let (code, bits) = match self {
            Dtype::F32 => (2, 32),
            Dtype::F64 => (2, 64),
            Dtype::I64 => (0, 64),
            Dtype::U8 => (1, 8),
            Dtype::Bool => (6, 8),
        };
        DLDataType {
            code,
            bits,
            lanes: 1,
        }
    }
    pub fn from_dl(t: DLDataType) -> Option<Dtype> {
        Some(match (t.code, t.bits, t.lanes) {
            (2, 32, 1) => Dtype::F32,
            (2, 64, 1) => Dtype::F64,
            (0, 64, 1) => Dtype::I64,
            (1, 8, 1) => Dtype::U8,
            (6, 8, 1) => Dtype::Bool,
            _ => return None,
        })
    }
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::U8 | Dtype::Bool => 1,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
            Dtype::I64 => "i64",
            Dtype::U8 => "u8",
            Dtype::Bool => "bool",
        }
    }
}

struct Holder {
    _shape: Vec<i64>,
    _keep: Box<dyn Any>,
}

unsafe extern "C" fn drop_holder(m: *mut DLManagedTensor) {
    if m.is_null() {
        return;
    }
    // SAFETY: `m` and its manager_ctx were made by `managed` below, and a deleter runs once.
    let m = unsafe { Box::from_raw(m) };
    drop(unsafe { Box::from_raw(m.manager_ctx as *mut Holder) });
}

/// A C-contiguous CPU DLManagedTensor over `data`, which `keep` owns (and keeps alive until the
/// deleter runs). Both sides use it: the host for the tensors it lends, a plugin for its results.
///
/// # Safety
/// `data` must point to `shape`'s product of `dtype` elements, valid as long as `keep` lives.
pub unsafe fn managed(
    data: *mut c_void,
    dtype: Dtype,
    shape: &[usize],
    keep: Box<dyn Any>,
) -> *mut DLManagedTensor {
    let mut shape: Vec<i64> = shape.iter().map(|&s| s as i64).collect();
    let dl = DLTensor {
        data,
        device: DLDevice {
            device_type: KDL_CPU,
            device_id: 0,
        },
        ndim: shape.len() as i32,
        dtype: dtype.dl(),
        shape: shape.as_mut_ptr(),
        strides: std::ptr::null_mut(),
        byte_offset: 0,
    };
    let holder = Box::new(Holder {
        _shape: shape,
        _keep: keep,
    });
    Box::into_raw(Box::new(DLManagedTensor {
        dl_tensor: dl,
        manager_ctx: Box::into_raw(holder) as *mut c_void,
        deleter: Some(drop_holder),
    }))
}

/// A tensor that one side lends the other: shape, dtype and its elements, checked.
#[derive(Clone, Copy)]
pub struct TensorRef<'a> {
    t: &'a DLTensor,
    dtype: Dtype,
}

/// Elements a [`TensorRef`] can be read as.
pub trait Element: Copy + 'static {
    const DTYPE: Dtype;
}
impl Element for f32 {
    const DTYPE: Dtype = Dtype::F32;
}
impl Element for f64 {
    const DTYPE: Dtype = Dtype::F64;
}
impl Element for i64 {
    const DTYPE: Dtype = Dtype::I64;
}
impl Element for u8 {
    const DTYPE: Dtype = Dtype::U8;
}

impl<'a> TensorRef<'a> {
    /// Check a DLManagedTensor from the other side: a CPU tensor of a known dtype, with a
    /// non-negative shape and strides, and data unless it is empty.
    ///
    /// # Safety
    /// `m` must be null or point to a DLManagedTensor that stays valid for `'a`.
    pub unsafe fn new(m: *const DLManagedTensor) -> Result<TensorRef<'a>, String> {
        let m = unsafe { m.as_ref() }.ok_or("a null tensor")?;
        let t = &m.dl_tensor;
        if t.device.device_type != KDL_CPU {
            return Err(format!(
                "a tensor on device type {} (only CPU tensors, kDLCPU = 1, cross the ABI)",
                t.device.device_type
            ));
        }
        let dtype = Dtype::from_dl(t.dtype).ok_or_else(|| {
            format!(
                "a tensor of DLPack dtype (code {}, bits {}, lanes {}): expected float32/64, int64, uint8 or bool",
                t.dtype.code, t.dtype.bits, t.dtype.lanes
            )
        })?;
        if t.ndim < 0 || (t.ndim > 0 && t.shape.is_null()) {
            return Err(format!("a tensor with ndim {} and no shape", t.ndim));
        }
        let r = TensorRef { t, dtype };
        if r.dims().iter().any(|&d| d < 0) {
            return Err(format!("a tensor with a negative shape {:?}", r.dims()));
        }
        if let Some(s) = r.raw_strides() {
            if s.iter().any(|&x| x < 0) {
                return Err(format!("a tensor with negative strides {s:?}"));
            }
        }
        if r.numel() > 0 && t.data.is_null() {
            return Err("a non-empty tensor with no data".into());
        }
        Ok(r)
    }

    fn dims(&self) -> &'a [i64] {
        if self.t.ndim == 0 {
            return &[];
        }
        // SAFETY: checked non-null in new(); ndim entries by the DLPack contract.
        unsafe { std::slice::from_raw_parts(self.t.shape, self.t.ndim as usize) }
    }

    fn raw_strides(&self) -> Option<&'a [i64]> {
        if self.t.strides.is_null() || self.t.ndim == 0 {
            return None;
        }
        // SAFETY: as for dims().
        Some(unsafe { std::slice::from_raw_parts(self.t.strides, self.t.ndim as usize) })
    }

    pub fn shape(&self) -> Vec<usize> {
        self.dims().iter().map(|&d| d as usize).collect()
    }
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }
    pub fn numel(&self) -> usize {
        self.dims().iter().map(|&d| d as usize).product()
    }

    /// Strides in elements, C-contiguous ones when the tensor gives none.
    pub fn strides(&self) -> Vec<usize> {
        match self.raw_strides() {
            Some(s) => s.iter().map(|&x| x as usize).collect(),
            None => {
                let d = self.shape();
                let mut s = vec![1usize; d.len()];
                for k in (0..d.len().saturating_sub(1)).rev() {
                    s[k] = s[k + 1] * d[k + 1];
                }
                s
            }
        }
    }

    pub fn is_contiguous(&self) -> bool {
        let d = self.shape();
        let s = self.strides();
        let mut want = 1usize;
        for k in (0..d.len()).rev() {
            if d[k] != 1 && s[k] != want {
                return false;
            }
            want *= d[k];
        }
        true
    }

    fn base(&self) -> *const u8 {
        (self.t.data as *const u8).wrapping_add(self.t.byte_offset as usize)
    }

    /// The elements in place, when the tensor is C-contiguous and of type `T` (no copy).
    pub fn as_slice<T: Element>(&self) -> Result<&'a [T], String> {
        if T::DTYPE != self.dtype {
            return Err(format!(
                "a {} tensor was read as {}",
                self.dtype.name(),
                T::DTYPE.name()
            ));
        }
        if !self.is_contiguous() {
            return Err("the tensor is not C-contiguous".into());
        }
        let n = self.numel();
        if n == 0 {
            return Ok(&[]);
        }
        let p = self.base() as *const T;
        if !(p as usize).is_multiple_of(std::mem::align_of::<T>()) {
            return Err("the tensor's data is misaligned".into());
        }
        // SAFETY: the DLPack contract: data + byte_offset holds the elements for the call.
        Ok(unsafe { std::slice::from_raw_parts(p, n) })
    }

    /// Every element in C order as f64, converting from any dtype and following strides.
    pub fn to_f64(&self) -> Vec<f64> {
        match self.dtype {
            Dtype::F32 => self.gather::<f32>().into_iter().map(f64::from).collect(),
            Dtype::F64 => self.gather::<f64>(),
            Dtype::I64 => self.gather::<i64>().into_iter().map(|x| x as f64).collect(),
            Dtype::U8 => self.gather::<u8>().into_iter().map(f64::from).collect(),
            Dtype::Bool => self
                .gather::<u8>()
                .into_iter()
                .map(|x| f64::from(u8::from(x != 0)))
                .collect(),
        }
    }

    /// Every element in C order, in the tensor's own element type `T` (its size must match:
    /// bool reads as u8).
    pub fn gather<T: Copy>(&self) -> Vec<T> {
        assert_eq!(std::mem::size_of::<T>(), self.dtype.size());
        let n = self.numel();
        let mut out = Vec::with_capacity(n);
        if n == 0 {
            return out;
        }
        let shape = self.shape();
        let strides = self.strides();
        let base = self.base() as *const T;
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..n {
            let off: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            // SAFETY: off < the tensor's extent by the DLPack contract; read_unaligned because a
            // foreign producer need not align.
            out.push(unsafe { base.add(off).read_unaligned() });
            for k in (0..shape.len()).rev() {
                idx[k] += 1;
                if idx[k] < shape[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
        out
    }
}

/// A tensor a plugin returns: C-contiguous data it owns.
pub enum Tensor {
    F32(Vec<f32>, Vec<usize>),
    F64(Vec<f64>, Vec<usize>),
    I64(Vec<i64>, Vec<usize>),
    U8(Vec<u8>, Vec<usize>),
    Bool(Vec<bool>, Vec<usize>),
}

impl Tensor {
    fn check(&self) -> Result<(), String> {
        let (n, shape) = match self {
            Tensor::F32(d, s) => (d.len(), s),
            Tensor::F64(d, s) => (d.len(), s),
            Tensor::I64(d, s) => (d.len(), s),
            Tensor::U8(d, s) => (d.len(), s),
            Tensor::Bool(d, s) => (d.len(), s),
        };
        let want: usize = shape.iter().product();
        if n != want {
            return Err(format!(
                "a result tensor of shape {shape:?} needs {want} elements, has {n}"
            ));
        }
        Ok(())
    }

    fn into_managed(self) -> *mut DLManagedTensor {
        fn go<T: 'static>(mut v: Vec<T>, dtype: Dtype, shape: &[usize]) -> *mut DLManagedTensor {
            let p = v.as_mut_ptr() as *mut c_void;
            // SAFETY: the Vec's heap buffer does not move when the Vec is boxed.
            unsafe { managed(p, dtype, shape, Box::new(v)) }
        }
        match self {
            Tensor::F32(d, s) => go(d, Dtype::F32, &s),
            Tensor::F64(d, s) => go(d, Dtype::F64, &s),
            Tensor::I64(d, s) => go(d, Dtype::I64, &s),
            Tensor::U8(d, s) => go(d, Dtype::U8, &s),
            Tensor::Bool(d, s) => go(d, Dtype::Bool, &s),
        }
    }
}

// ---- Plugin-side helpers ---------------------------------------------------------------------

/// The host's services during one call. Usable from any thread.
pub struct Host(*const HostApi);
// SAFETY: the ABI requires the host's functions to be callable from any thread.
unsafe impl Send for Host {}
unsafe impl Sync for Host {}

impl Host {
    fn api(&self) -> Option<&HostApi> {
        // SAFETY: valid for the call, by the ABI.
        unsafe { self.0.as_ref() }
    }
    pub fn log(&self, level: i32, msg: &str) {
        if let (Some(h), Ok(c)) = (self.api(), CString::new(msg.replace('\0', " "))) {
            unsafe { (h.log)(h.ctx, level, c.as_ptr()) }
        }
    }
    pub fn info(&self, msg: &str) {
        self.log(1, msg)
    }
    pub fn progress(&self, done: u64, total: u64) {
        if let Some(h) = self.api() {
            unsafe { (h.progress)(h.ctx, done, total) }
        }
    }
    pub fn cancelled(&self) -> bool {
        self.api()
            .is_some_and(|h| unsafe { (h.cancelled)(h.ctx) } != 0)
    }
}

/// The positional arguments: JSON values, where `{"$tensor": i}` is a tensor.
pub struct Args<'a> {
    items: Vec<Value>,
    tensors: Vec<TensorRef<'a>>,
}

/// The index a `{"$tensor": i}` object refers to.
pub fn tensor_index(v: &Value) -> Option<usize> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    o.get("$tensor")?.as_u64().map(|i| i as usize)
}

/// `{"$tensor": i}`.
pub fn tensor_ref(i: usize) -> Value {
    json!({ "$tensor": i })
}

impl<'a> Args<'a> {
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.items.get(i)
    }
    /// Argument `i` as a tensor.
    pub fn tensor(&self, i: usize) -> Result<TensorRef<'a>, String> {
        let v = self
            .items
            .get(i)
            .ok_or_else(|| format!("argument {} is missing", i + 1))?;
        self.as_tensor(v)
            .ok_or_else(|| format!("argument {} must be a tensor, got {v}", i + 1))
    }
    /// A `{"$tensor": i}` value anywhere in the arguments, as a tensor.
    pub fn as_tensor(&self, v: &Value) -> Option<TensorRef<'a>> {
        tensor_index(v).and_then(|k| self.tensors.get(k).copied())
    }
    pub fn f64(&self, i: usize) -> Result<f64, String> {
        self.items
            .get(i)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("argument {} must be a number", i + 1))
    }
    pub fn str(&self, i: usize) -> Result<&str, String> {
        self.items
            .get(i)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("argument {} must be a string", i + 1))
    }
}

/// The options map; [`Options::check`] rejects keys the function does not know.
pub struct Options(pub Map<String, Value>);

impl Options {
    pub fn check(&self, known: &[&str]) -> Result<(), String> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "unknown option '{k}' (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )),
            None => Ok(()),
        }
    }
    pub fn f64(&self, key: &str, default: f64) -> Result<f64, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| format!("option '{key}' must be a number, got {v}")),
        }
    }
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("option '{key}' must be true or false, got {v}")),
        }
    }
    pub fn str<'s>(&'s self, key: &str, default: &'s str) -> Result<&'s str, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_str()
                .ok_or_else(|| format!("option '{key}' must be a string, got {v}")),
        }
    }
}

/// Where a call puts the tensors it returns.
#[derive(Default)]
pub struct Output {
    tensors: Vec<Tensor>,
}

impl Output {
    /// Return `t`: the JSON value to put where the tensor belongs in the result.
    pub fn tensor(&mut self, t: Tensor) -> Value {
        self.tensors.push(t);
        tensor_ref(self.tensors.len() - 1)
    }
}

/// One parameter, option or function, as `describe()` reports them.
#[derive(Clone, Debug, Default)]
pub struct FnSpec {
    name: String,
    summary: String,
    params: Vec<Value>,
    options: Vec<Value>,
    returns: String,
    section: String,
    example: String,
}

/// A function's documentation; `ty` is any, bool, int, float, string, tensor, list or map.
pub fn spec(name: &str, summary: &str) -> FnSpec {
    FnSpec {
        name: name.into(),
        summary: summary.into(),
        ..Default::default()
    }
}

impl FnSpec {
    pub fn param(mut self, name: &str, ty: &str, doc: &str) -> Self {
        self.params
            .push(json!({"name": name, "type": ty, "doc": doc, "optional": false}));
        self
    }
    pub fn optional_param(mut self, name: &str, ty: &str, doc: &str) -> Self {
        self.params
            .push(json!({"name": name, "type": ty, "doc": doc, "optional": true}));
        self
    }
    pub fn opt(mut self, name: &str, ty: &str, default: &str, doc: &str) -> Self {
        self.options
            .push(json!({"name": name, "type": ty, "default": default, "doc": doc}));
        self
    }
    pub fn returns(mut self, doc: &str) -> Self {
        self.returns = doc.into();
        self
    }
    pub fn section(mut self, s: &str) -> Self {
        self.section = s.into();
        self
    }
    pub fn example(mut self, s: &str) -> Self {
        self.example = s.into();
        self
    }
    fn to_json(&self) -> Value {
        json!({"name": self.name, "summary": self.summary, "params": self.params,
               "options": self.options, "returns": self.returns, "section": self.section,
               "example": self.example})
    }
}

/// A plugin's description.
pub struct Info(Value);

pub fn info(name: &str, version: &str, description: &str, functions: Vec<FnSpec>) -> Info {
    Info(
        json!({"name": name, "version": version, "description": description,
                "functions": functions.iter().map(FnSpec::to_json).collect::<Vec<_>>()}),
    )
}

/// What a native plugin written in Rust implements; [`export_native_plugin!`] does the rest.
pub trait NativePlugin {
    fn describe() -> Info;
    /// A panic here is caught and becomes the call's error.
    fn call(
        host: &Host,
        function: &str,
        args: &Args,
        options: &Options,
        out: &mut Output,
    ) -> Result<Value, String>;
}

// ---- Memory handed across the ABI ------------------------------------------------------------

// Every string and array a plugin returns carries its length in a header, so one `free(ptr)` in
// the function table can release any of them (the C ABI has no length to pass back).
const HEADER: usize = 16;

/// A copy of `bytes` that [`free_shim`] releases.
pub fn alloc_bytes(bytes: &[u8]) -> *mut u8 {
    let size = HEADER + bytes.len();
    let layout = std::alloc::Layout::from_size_align(size, HEADER).expect("layout");
    // SAFETY: size > 0; the header holds the size for free_shim.
    unsafe {
        let p = std::alloc::alloc(layout);
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        (p as *mut usize).write(size);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(HEADER), bytes.len());
        p.add(HEADER)
    }
}

/// A NUL-terminated copy of `s` (interior NULs become spaces).
pub fn alloc_str(s: &str) -> *mut c_char {
    let mut b = s.replace('\0', " ").into_bytes();
    b.push(0);
    alloc_bytes(&b) as *mut c_char
}

/// The table's `free`.
///
/// # Safety
/// `p` is null or came from [`alloc_bytes`] and was not freed yet.
pub unsafe extern "C" fn free_shim(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    unsafe {
        let base = (p as *mut u8).sub(HEADER);
        let size = (base as *const usize).read();
        std::alloc::dealloc(
            base,
            std::alloc::Layout::from_size_align_unchecked(size, HEADER),
        );
    }
}

/// The table's `describe`.
///
/// # Safety
/// None beyond the ABI's: it takes no arguments (unsafe only to fit the table's type).
pub unsafe extern "C" fn describe_shim<P: NativePlugin>() -> *mut c_char {
    match std::panic::catch_unwind(|| P::describe().0.to_string()) {
        Ok(s) => alloc_str(&s),
        Err(_) => std::ptr::null_mut(),
    }
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// The table's `call`.
///
/// # Safety
/// The pointers follow emoscope_plugin.h's contract for `call`.
pub unsafe extern "C" fn call_shim<P: NativePlugin>(
    host: *const HostApi,
    function: *const c_char,
    args_json: *const c_char,
    options_json: *const c_char,
    tensors: *const *mut DLManagedTensor,
    n_tensors: u64,
    out: *mut RawOutput,
) -> i32 {
    let Some(out) = (unsafe { out.as_mut() }) else {
        return 3;
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<_, String> {
        let text = |p: *const c_char, what: &str| -> Result<String, String> {
            if p.is_null() {
                return Err(format!("the host passed no {what}"));
            }
            Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        };
        let function = text(function, "function name")?;
        let items: Vec<Value> = serde_json::from_str(&text(args_json, "arguments")?)
            .map_err(|e| format!("arguments are not a JSON array: {e}"))?;
        let options: Map<String, Value> = serde_json::from_str(&text(options_json, "options")?)
            .map_err(|e| format!("options are not a JSON object: {e}"))?;
        let ptrs: &[*mut DLManagedTensor] = if n_tensors == 0 || tensors.is_null() {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(tensors, n_tensors as usize) }
        };
        let tensors = ptrs
            .iter()
            .enumerate()
            .map(|(i, &p)| unsafe { TensorRef::new(p) }.map_err(|e| format!("tensor {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let args = Args { items, tensors };
        let mut output = Output::default();
        let v = P::call(
            &Host(host),
            &function,
            &args,
            &Options(options),
            &mut output,
        )?;
        for t in &output.tensors {
            t.check()?;
        }
        Ok((v, output.tensors))
    }));
    match r {
        Ok(Ok((v, ts))) => {
            out.json = alloc_str(&v.to_string());
            let ptrs: Vec<*mut DLManagedTensor> =
                ts.into_iter().map(Tensor::into_managed).collect();
            let bytes: Vec<u8> = ptrs
                .iter()
                .flat_map(|p| (*p as usize).to_ne_bytes())
                .collect();
            out.n_tensors = ptrs.len() as u64;
            out.tensors = alloc_bytes(&bytes) as *mut *mut DLManagedTensor;
            0
        }
        Ok(Err(msg)) => {
            out.error = alloc_str(&msg);
            1
        }
        Err(p) => {
            out.error = alloc_str(&format!("panicked: {}", panic_message(&*p)));
            2
        }
    }
}

/// Export `$t` (a [`NativePlugin`]) as an emoscope native plugin: the ABI-version symbol and
/// the function table.
#[macro_export]
macro_rules! export_native_plugin {
    ($t:ty) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn emoscope_plugin_abi_version() -> u32 {
            $crate::ABI_VERSION
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn emoscope_plugin_entry() -> *const $crate::Api {
            static API: $crate::Api = $crate::Api {
                abi_version: $crate::ABI_VERSION,
                describe: $crate::describe_shim::<$t>,
                call: $crate::call_shim::<$t>,
                free: $crate::free_shim,
            };
            &API
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_reads_follow_the_strides() {
        // A 2×3 C-ordered buffer read as its 3×2 transpose through strides.
        let mut data: Vec<f64> = (0..6).map(f64::from).collect();
        let mut shape = vec![3i64, 2];
        let mut strides = vec![1i64, 3];
        let m = DLManagedTensor {
            dl_tensor: DLTensor {
                data: data.as_mut_ptr() as *mut c_void,
                device: DLDevice {
                    device_type: KDL_CPU,
                    device_id: 0,
                },
                ndim: 2,
                dtype: Dtype::F64.dl(),
                shape: shape.as_mut_ptr(),
                strides: strides.as_mut_ptr(),
                byte_offset: 0,
            },
            manager_ctx: std::ptr::null_mut(),
            deleter: None,
        };
        let t = unsafe { TensorRef::new(&m) }.unwrap();
        assert!(!t.is_contiguous());
        assert!(t.as_slice::<f64>().is_err());
        assert_eq!(t.to_f64(), vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn bad_tensors_are_refused_with_the_reason() {
        let mut shape = vec![-1i64];
        let mut m = DLManagedTensor {
            dl_tensor: DLTensor {
                data: std::ptr::null_mut(),
                device: DLDevice {
                    device_type: 2,
                    device_id: 0,
                },
                ndim: 1,
                dtype: Dtype::F32.dl(),
                shape: shape.as_mut_ptr(),
                strides: std::ptr::null_mut(),
                byte_offset: 0,
            },
            manager_ctx: std::ptr::null_mut(),
            deleter: None,
        };
        let e = |m: &DLManagedTensor| unsafe { TensorRef::new(m) }.err().unwrap();
        assert!(e(&m).contains("device type 2"));
        m.dl_tensor.device.device_type = KDL_CPU;
        assert!(e(&m).contains("negative shape"));
        shape[0] = 4;
        assert!(e(&m).contains("no data"));
        m.dl_tensor.dtype.lanes = 4;
        assert!(e(&m).contains("lanes 4"));
    }

    #[test]
    fn memory_handed_out_round_trips_through_free() {
        let p = alloc_str("hello");
        assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), "hello");
        unsafe { free_shim(p as *mut c_void) };
        let t = Tensor::F32(vec![1.0, 2.0, 3.0, 4.0], vec![2, 2]).into_managed();
        let r = unsafe { TensorRef::new(t) }.unwrap();
        assert_eq!(r.shape(), vec![2, 2]);
        assert_eq!(r.as_slice::<f32>().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
        unsafe { ((*t).deleter.unwrap())(t) };
    }
}
