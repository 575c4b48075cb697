//! emoscope-guest: what an emoscope WASM plugin depends on.
//!
//! A plugin is a `cdylib` crate built for `wasm32-wasip2` (a component, directly). It implements
//! [`Plugin`] (two functions: `describe` and `call`) and exports it:
//!
//! ```ignore
//! use emoscope_guest::*;
//! struct Mine;
//! impl Plugin for Mine {
//!     fn describe() -> PluginInfo {
//!         info("mine", "0.1.0", "What it does", vec![
//!             spec("scale", "Multiply a tensor by a factor.")
//!                 .param("x", "tensor", "input")
//!                 .opt("factor", "float", "1.0", "the multiplier")
//!                 .returns("a tensor of x's shape"),
//!         ])
//!     }
//!     fn call(name: String, args: Vec<Value>, options: String) -> Result<Value, String> { ... }
//! }
//! export_plugin!(Mine);
//! ```
//!
//! Tensors stay in the host: read them with [`read_chunks`] (or [`read_all`] for small ones) and
//! build results with [`TensorBuilder`]. The host runs each call with a fuel budget, a memory cap
//! and no files, network or environment.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "export_plugin",
        default_bindings_module: "emoscope_guest::bindings",
    });
}

pub use bindings::emoscope::plugin::host::{self, Level};
pub use bindings::emoscope::plugin::inference;
pub use bindings::emoscope::plugin::types::{
    Dtype, FnSpec, Leaf, OptSpec, ParamSpec, PluginInfo, Tensor, TensorBuilder, Value,
};
pub use bindings::export_plugin;
pub use bindings::Guest as Plugin;

/// The interface version this crate was built against (the WIT package version).
pub const INTERFACE_VERSION: &str = "0.1.0";

/// A plugin's description.
pub fn info(name: &str, version: &str, description: &str, functions: Vec<FnSpec>) -> PluginInfo {
    PluginInfo {
        name: name.into(),
        version: version.into(),
        description: description.into(),
        functions,
    }
}

/// A function's documentation; add parameters and options with [`SpecExt`].
pub fn spec(name: &str, summary: &str) -> FnSpec {
    FnSpec {
        name: name.into(),
        summary: summary.into(),
        params: vec![],
        options: vec![],
        returns: String::new(),
        section: String::new(),
        example: String::new(),
    }
}

/// Builder methods for [`FnSpec`]; `ty` is any, bool, int, float, string, tensor, list or map.
pub trait SpecExt {
    fn param(self, name: &str, ty: &str, doc: &str) -> Self;
    fn optional_param(self, name: &str, ty: &str, doc: &str) -> Self;
    fn opt(self, name: &str, ty: &str, default: &str, doc: &str) -> Self;
    fn returns(self, doc: &str) -> Self;
    fn section(self, s: &str) -> Self;
    fn example(self, s: &str) -> Self;
}

impl SpecExt for FnSpec {
    fn param(mut self, name: &str, ty: &str, doc: &str) -> Self {
        self.params.push(ParamSpec {
            name: name.into(),
            ty: ty.into(),
            doc: doc.into(),
            optional: false,
        });
        self
    }
    fn optional_param(mut self, name: &str, ty: &str, doc: &str) -> Self {
        self.params.push(ParamSpec {
            name: name.into(),
            ty: ty.into(),
            doc: doc.into(),
            optional: true,
        });
        self
    }
    fn opt(mut self, name: &str, ty: &str, default: &str, doc: &str) -> Self {
        self.options.push(OptSpec {
            name: name.into(),
            ty: ty.into(),
            default: default.into(),
            doc: doc.into(),
        });
        self
    }
    fn returns(mut self, doc: &str) -> Self {
        self.returns = doc.into();
        self
    }
    fn section(mut self, s: &str) -> Self {
        self.section = s.into();
        self
    }
    fn example(mut self, s: &str) -> Self {
        self.example = s.into();
        self
    }
}

/// Read a tensor chunk by chunk (as f64), calling `f(offset, chunk)`; checks for cancellation
/// and reports progress between chunks.
pub fn read_chunks(
    t: &Tensor,
    mut f: impl FnMut(u64, &[f64]) -> Result<(), String>,
) -> Result<(), String> {
    let n = t.numel();
    let step = host::max_chunk().max(1);
    let mut off = 0;
    while off < n {
        if host::cancelled() {
            return Err("cancelled".into());
        }
        let chunk = t.read_f64(off, step.min(n - off))?;
        if chunk.is_empty() {
            return Err(format!("the host returned no data at element {off} of {n}"));
        }
        f(off, &chunk)?;
        off += chunk.len() as u64;
        host::progress(off, n);
    }
    Ok(())
}

/// The whole tensor as f64 (for small tensors; large ones are better read with [`read_chunks`]).
pub fn read_all(t: &Tensor) -> Result<Vec<f64>, String> {
    let mut out = Vec::with_capacity(t.numel() as usize);
    read_chunks(t, |_, c| {
        out.extend_from_slice(c);
        Ok(())
    })?;
    Ok(out)
}

/// A tensor argument, or an error naming the function and position.
pub fn tensor_arg<'a>(args: &'a [Value], i: usize, func: &str) -> Result<&'a Tensor, String> {
    match args.get(i) {
        Some(Value::Tensor(t)) => Ok(t),
        Some(_) => Err(format!("{func}: argument {} must be a tensor", i + 1)),
        None => Err(format!("{func}: argument {} (a tensor) is missing", i + 1)),
    }
}

/// The options map a call received, with typed getters that name the option in errors.
pub struct Options(serde_json::Map<String, serde_json::Value>);

impl Options {
    /// Parse the options JSON; keys outside `allowed` are an error listing the valid ones.
    pub fn parse(json: &str, allowed: &[&str]) -> Result<Options, String> {
        let v: serde_json::Value = if json.trim().is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_str(json).map_err(|e| format!("options are not valid JSON: {e}"))?
        };
        let serde_json::Value::Object(m) = v else {
            return Err("options must be a map".into());
        };
        if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "unknown option '{k}' (valid: {})",
                allowed.join(", ")
            ));
        }
        Ok(Options(m))
    }

    pub fn f64(&self, key: &str, default: f64) -> Result<f64, String> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| format!("option {key} must be a number, got {v}")),
        }
    }

    pub fn int(&self, key: &str, default: i64) -> Result<i64, String> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| format!("option {key} must be an integer, got {v}")),
        }
    }

    pub fn str(&self, key: &str, default: &str) -> Result<String, String> {
        match self.0.get(key) {
            None => Ok(default.to_string()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("option {key} must be a string, got {v}")),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("option {key} must be true or false, got {v}")),
        }
    }
}
