//! The plugin contract: every analysis step, builtin, WASM or native, is a `Plugin`.
//!
//! A plugin describes its functions with `FnSpec`s (parameters, options with defaults, what it
//! returns, the study section it implements). The host checks positional arguments against the
//! spec before calling; the plugin turns its options map into a typed struct with
//! [`crate::options::parse`], which rejects unknown keys and lists the valid ones.
use crate::ctx::Ctx;
use crate::error::Result;
use crate::value::{Map, Value};

/// Argument and option types, as scripts see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Anything.
    Any,
    /// `true` or `false`.
    Bool,
    /// An integer.
    Int,
    /// A number: ints are accepted and widened.
    Float,
    /// A string.
    Str,
    /// A tensor; nested lists of numbers are accepted and converted.
    Tensor,
    /// A list.
    List,
    /// A map.
    Map,
    /// A host object handle (model, dataset).
    Object,
}

impl Ty {
    /// The name shown in docs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Any => "any",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Float => "float",
            Ty::Str => "string",
            Ty::Tensor => "tensor",
            Ty::List => "list",
            Ty::Map => "map",
            Ty::Object => "object",
        }
    }

    /// Whether `v` is acceptable where this type is expected.
    pub fn accepts(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (Ty::Any, _)
                | (Ty::Bool, Value::Bool(_))
                | (Ty::Int, Value::Int(_))
                | (Ty::Float, Value::Int(_) | Value::Float(_))
                | (Ty::Str, Value::Str(_))
                | (Ty::Tensor, Value::Tensor(_) | Value::List(_))
                | (Ty::List, Value::List(_))
                | (Ty::Map, Value::Map(_))
                | (Ty::Object, Value::Object(_))
        )
    }
}

/// One positional parameter.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// The name shown in the signature.
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// What it is.
    pub doc: String,
    /// Optional trailing parameters may be left out.
    pub optional: bool,
}

/// One key of the options map.
#[derive(Clone, Debug)]
pub struct OptSpec {
    /// The key.
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// The default as a script literal (`"0.001"`, `"\"cpu\""`, `"none"`).
    pub default: String,
    /// What it does.
    pub doc: String,
    /// The valid values of a choice-valued option, each with what it does (empty otherwise).
    pub choices: Vec<(String, String)>,
}

/// Documentation and signature of one function.
#[derive(Clone, Debug, Default)]
pub struct FnSpec {
    /// The name in its namespace.
    pub name: String,
    /// What it does.
    pub summary: String,
    /// Positional parameters, in order.
    pub params: Vec<ParamSpec>,
    /// Keys of the options map.
    pub options: Vec<OptSpec>,
    /// What it returns.
    pub returns: String,
    /// The part of the study (paper section) this function implements.
    pub section: String,
    /// A short script example.
    pub example: String,
}

impl FnSpec {
    /// A spec to be filled in by the builder methods (WASM guests and native plugins build specs this way; builtin steps derive theirs).
    pub fn new(name: &str, summary: &str) -> Self {
        FnSpec {
            name: name.into(),
            summary: summary.into(),
            ..Default::default()
        }
    }
    /// Add a positional parameter.
    pub fn param(mut self, name: &str, ty: Ty, doc: &str) -> Self {
        self.params.push(ParamSpec {
            name: name.into(),
            ty,
            doc: doc.into(),
            optional: false,
        });
        self
    }
    /// Add a positional parameter that may be left out.
    pub fn optional_param(mut self, name: &str, ty: Ty, doc: &str) -> Self {
        self.params.push(ParamSpec {
            name: name.into(),
            ty,
            doc: doc.into(),
            optional: true,
        });
        self
    }
    /// Add an option, its default written as a script literal.
    pub fn opt(mut self, name: &str, ty: Ty, default: &str, doc: &str) -> Self {
        self.options.push(OptSpec {
            name: name.into(),
            ty,
            default: default.into(),
            doc: doc.into(),
            choices: Vec::new(),
        });
        self
    }
    /// Say what it returns.
    pub fn returns(mut self, doc: &str) -> Self {
        self.returns = doc.into();
        self
    }
    /// Say which part of the study it implements.
    pub fn section(mut self, s: &str) -> Self {
        self.section = s.into();
        self
    }
    /// Give a script example.
    pub fn example(mut self, s: &str) -> Self {
        self.example = s.into();
        self
    }

    /// How many positional parameters must be given.
    pub fn required_params(&self) -> usize {
        self.params.iter().filter(|p| !p.optional).count()
    }

    /// `name(a, b, #{opt: default, ...})`
    pub fn signature(&self, namespace: &str) -> String {
        let mut parts: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                if p.optional {
                    format!("[{}]", p.name)
                } else {
                    p.name.clone()
                }
            })
            .collect();
        if !self.options.is_empty() {
            let o: Vec<String> = self
                .options
                .iter()
                .map(|o| format!("{}: {}", o.name, o.default))
                .collect();
            parts.push(format!("#{{{}}}", o.join(", ")));
        }
        format!("{namespace}::{}({})", self.name, parts.join(", "))
    }

    /// Markdown documentation, as `emoscope doc` and the REPL's `:help` render it.
    pub fn to_markdown(&self, namespace: &str) -> String {
        let mut s = format!(
            "### `{}::{}`\n\n`{}`\n\n{}\n",
            namespace,
            self.name,
            self.signature(namespace),
            self.summary
        );
        if !self.params.is_empty() {
            s.push_str("\n| parameter | type | |\n|---|---|---|\n");
            for p in &self.params {
                let opt = if p.optional { " (optional)" } else { "" };
                s.push_str(&format!(
                    "| `{}`{opt} | {} | {} |\n",
                    p.name,
                    p.ty.name(),
                    p.doc
                ));
            }
        }
        if !self.options.is_empty() {
            s.push_str("\n| option | type | default | |\n|---|---|---|---|\n");
            for o in &self.options {
                let choices = if o.choices.is_empty() {
                    String::new()
                } else {
                    let each: Vec<String> = o
                        .choices
                        .iter()
                        .map(|(n, d)| format!("`\"{n}\"` ({d})"))
                        .collect();
                    format!("; one of {}", each.join(", "))
                };
                s.push_str(&format!(
                    "| `{}` | {} | `{}` | {}{choices} |\n",
                    o.name,
                    o.ty.name(),
                    o.default,
                    o.doc
                ));
            }
        }
        if !self.returns.is_empty() {
            s.push_str(&format!("\n**Returns:** {}\n", self.returns));
        }
        if !self.section.is_empty() {
            s.push_str(&format!("\n**Study section:** {}\n", self.section));
        }
        if !self.example.is_empty() {
            s.push_str(&format!("\n```rhai\n{}\n```\n", self.example));
        }
        s
    }
}

/// What a plugin says about itself.
#[derive(Clone, Debug)]
pub struct PluginInfo {
    /// The namespace.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line on what it is for.
    pub description: String,
    /// Its functions, in documentation order.
    pub functions: Vec<FnSpec>,
}

impl PluginInfo {
    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&FnSpec> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// An analysis step. Builtin plugins are plain crates exposing `pub fn plugin() -> impl Plugin`.
pub trait Plugin: Send + Sync {
    /// The plugin's name, version and functions.
    fn info(&self) -> PluginInfo;
    /// Call `function` with positional `args` (already checked against the FnSpec by the host)
    /// and the options map (which the plugin parses with [`crate::options::parse`]).
    fn call(&self, function: &str, args: &[Value], options: &Map, ctx: &Ctx) -> Result<Value>;
}

/// Where an out-of-process or sandboxed plugin's tensor results go (a WASM or native plugin
/// builds them on the host): the device of the call's first tensor argument on a libtorch device
/// (CPU or CUDA), else the CPU engine when it has tensor arguments there, else the run's
/// `--device`. So a plugin behaves like a builtin step on the GPU without knowing it exists.
pub fn result_device(args: &[Value], ctx: &Ctx) -> crate::Device {
    fn tensors<'a>(v: &'a Value, out: &mut Vec<&'a crate::Tensor>) {
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
        .unwrap_or(crate::Device::Cpu)
}

#[cfg(test)]
mod result_device_tests {
    use super::*;
    use crate::{Device, Tensor};

    #[test]
    fn results_follow_the_tensor_arguments_else_the_runs_device() {
        let mut ctx = Ctx::detached();
        ctx.device = Device::Cuda(1);
        let t = Value::Tensor(Tensor::scalar_f64(1.0));
        assert_eq!(result_device(&[Value::Int(3)], &ctx), Device::Cuda(1));
        assert_eq!(
            result_device(&[Value::Int(3), t.clone()], &ctx),
            Device::Cpu
        );
        let nested = Value::List(vec![Value::Map(Map::from_iter([("x".to_string(), t)]))]);
        assert_eq!(result_device(&[nested], &ctx), Device::Cpu);
        #[cfg(feature = "torch")]
        {
            let g = Tensor::scalar_f64(1.0).to_device(Device::TorchCpu).unwrap();
            let args = [Value::Tensor(Tensor::scalar_f64(2.0)), Value::Tensor(g)];
            assert_eq!(result_device(&args, &ctx), Device::TorchCpu);
        }
    }
}
