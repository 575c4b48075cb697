//! `Value`: what crosses between scripts, the host and plugins.
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use crate::{bail, ensure};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// An options map, or a script map: ordered by key.
pub type Map = BTreeMap<String, Value>;

/// A host object that cannot be copied into a Value (a loaded model, an open dataset).
/// Scripts pass it around by handle; only code that knows its concrete type can use it.
pub trait HostObject: Any + Send + Sync {
    /// A short type name shown in scripts and errors, e.g. `"fmri.Dataset"`.
    fn type_name(&self) -> &str;
    /// One line shown when the REPL prints the object.
    fn describe(&self) -> String {
        format!("<{}>", self.type_name())
    }
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
}

/// A shared handle to a host object. Cloning shares it.
#[derive(Clone)]
pub struct Object(pub Arc<dyn HostObject>);

impl Object {
    /// Wrap a host object.
    pub fn new(o: impl HostObject) -> Self {
        Object(Arc::new(o))
    }
    /// The object as `T`, when it is one.
    pub fn downcast<T: HostObject>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }
    /// The type name scripts see.
    pub fn type_name(&self) -> &str {
        self.0.type_name()
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.describe())
    }
}

#[derive(Clone, Debug, Default)]
/// What crosses between scripts, the host and plugins.
pub enum Value {
    #[default]
    /// Nothing (Rhai's `()`).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A tensor handle.
    Tensor(Tensor),
    /// A list.
    List(Vec<Value>),
    /// A map.
    Map(Map),
    /// A host object (model, dataset).
    Object(Object),
}

impl Value {
    /// The type name used in error messages and FnSpecs.
    pub fn type_name(&self) -> &str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Tensor(_) => "tensor",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Object(o) => o.type_name(),
        }
    }

    /// The tensor, when it is one.
    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// A tensor, converting a list of numbers (or of equal-length lists) on the way.
    pub fn to_tensor(&self, what: &str) -> Result<Tensor> {
        match self {
            Value::Tensor(t) => Ok(t.clone()),
            Value::List(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                tensor_from_nested(self).map_err(|e| e.context(what))
            }
            other => bail!("{what} must be a tensor, got {}", other.type_name()),
        }
    }

    /// The number (ints widened), when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Tensor(t) if t.numel() == 1 => t.item().ok(),
            _ => None,
        }
    }

    /// The integer, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    /// The string, when it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The map, when it is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The list, when it is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// `map[key]`, with an error listing the keys that exist.
    pub fn get(&self, key: &str) -> Result<&Value> {
        let m = self.as_map().ok_or_else(|| {
            Error::msg(format!(
                "expected a map with key '{key}', got {}",
                self.type_name()
            ))
        })?;
        m.get(key).ok_or_else(|| {
            let keys: Vec<_> = m.keys().map(String::as_str).collect();
            Error::msg(format!(
                "missing key '{key}' (keys present: {})",
                keys.join(", ")
            ))
        })
    }

    /// Plain JSON; tensors become nested lists, objects their description.
    pub fn to_json(&self) -> Result<serde_json::Value> {
        use serde_json::Value as J;
        Ok(match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Tensor(t) => tensor_to_json(t)?,
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect::<Result<_>>()?),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_json()?)))
                    .collect::<Result<_>>()?,
            ),
            Value::Object(o) => J::String(o.0.describe()),
        })
    }

    /// A Value from JSON (numbers without a fraction become ints).
    pub fn from_json(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

fn tensor_to_json(t: &Tensor) -> Result<serde_json::Value> {
    fn rec(a: ndarray::ArrayViewD<f64>, int: bool) -> serde_json::Value {
        if a.ndim() == 0 {
            let x = a[[]];
            return if int {
                serde_json::Value::from(x as i64)
            } else {
                serde_json::Number::from_f64(x)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            };
        }
        serde_json::Value::Array(a.outer_iter().map(|r| rec(r, int)).collect())
    }
    let int = !t.dtype().is_float();
    Ok(rec(t.to_f64()?.view(), int))
}

/// Build a tensor from nested lists of numbers: integers give i64, any float gives f64,
/// booleans give bool. Ragged nesting is an error that names the offending position.
pub fn tensor_from_nested(v: &Value) -> Result<Tensor> {
    let mut shape = Vec::new();
    let mut cur = v;
    while let Value::List(l) = cur {
        shape.push(l.len());
        match l.first() {
            Some(x) => cur = x,
            None => break,
        }
    }
    let mut flat = Vec::new();
    let (mut any_float, mut all_bool) = (false, true);
    fn walk(
        v: &Value,
        depth: usize,
        shape: &[usize],
        path: &mut Vec<usize>,
        out: &mut Vec<f64>,
        any_float: &mut bool,
        all_bool: &mut bool,
    ) -> Result<()> {
        match v {
            Value::List(l) => {
                ensure!(
                    depth < shape.len() && l.len() == shape[depth],
                    "ragged nested list at position {:?}: expected {} elements, got {}",
                    path,
                    shape.get(depth).copied().unwrap_or(0),
                    l.len()
                );
                for (i, x) in l.iter().enumerate() {
                    path.push(i);
                    walk(x, depth + 1, shape, path, out, any_float, all_bool)?;
                    path.pop();
                }
                Ok(())
            }
            _ if depth != shape.len() => bail!(
                "ragged nested list at position {path:?}: expected a list, got {}",
                v.type_name()
            ),
            Value::Int(i) => {
                *all_bool = false;
                out.push(*i as f64);
                Ok(())
            }
            Value::Float(f) => {
                *all_bool = false;
                *any_float = true;
                out.push(*f);
                Ok(())
            }
            Value::Bool(b) => {
                out.push(if *b { 1.0 } else { 0.0 });
                Ok(())
            }
            other => bail!(
                "tensor elements must be numbers, got {} at position {path:?}",
                other.type_name()
            ),
        }
    }
    walk(
        v,
        0,
        &shape,
        &mut Vec::new(),
        &mut flat,
        &mut any_float,
        &mut all_bool,
    )?;
    let t = Tensor::from_vec(flat.clone(), &shape)?;
    Ok(if flat.is_empty() || any_float {
        t
    } else if all_bool {
        t.astype(DType::Bool)
    } else {
        t.astype(DType::I64)
    })
}

macro_rules! from_impl {
    ($t:ty, $v:ident, $conv:expr) => {
        impl From<$t> for Value {
            fn from($v: $t) -> Self {
                $conv
            }
        }
    };
}
from_impl!(bool, x, Value::Bool(x));
from_impl!(i64, x, Value::Int(x));
from_impl!(usize, x, Value::Int(x as i64));
from_impl!(f64, x, Value::Float(x));
from_impl!(String, x, Value::Str(x));
from_impl!(&str, x, Value::Str(x.to_string()));
from_impl!(Tensor, x, Value::Tensor(x));
from_impl!(Map, x, Value::Map(x));
from_impl!(Vec<Value>, x, Value::List(x));
from_impl!(Object, x, Value::Object(x));

/// Build a `Value::Map` from `key => value` pairs.
#[macro_export]
macro_rules! vmap {
    ($($k:expr => $v:expr),* $(,)?) => {{
        let mut m = $crate::value::Map::new();
        $( m.insert($k.to_string(), $crate::Value::from($v)); )*
        $crate::Value::Map(m)
    }};
}
