//! Value <-> rhai::Dynamic. Tensors and host objects cross as handles (O(1)).
use emoscope_sdk::{Map, Object, Tensor, Value};
use rhai::{Array, Dynamic, ImmutableString};

pub fn to_dynamic(v: Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Int(i) => i.into(),
        Value::Float(f) => f.into(),
        Value::Str(s) => s.into(),
        Value::Tensor(t) => Dynamic::from(t),
        Value::List(l) => Dynamic::from_array(l.into_iter().map(to_dynamic).collect()),
        Value::Map(m) => Dynamic::from_map(
            m.into_iter()
                .map(|(k, v)| (k.into(), to_dynamic(v)))
                .collect(),
        ),
        Value::Object(o) => Dynamic::from(o),
    }
}

pub fn from_dynamic(d: &Dynamic) -> Value {
    if d.is_unit() {
        return Value::Null;
    }
    if let Ok(b) = d.as_bool() {
        return Value::Bool(b);
    }
    if let Ok(i) = d.as_int() {
        return Value::Int(i);
    }
    if let Ok(f) = d.as_float() {
        return Value::Float(f);
    }
    if d.is_string() {
        return Value::Str(d.clone().cast::<ImmutableString>().to_string());
    }
    if let Some(t) = d.read_lock::<Tensor>() {
        return Value::Tensor(t.clone());
    }
    if let Some(a) = d.read_lock::<Array>() {
        return Value::List(a.iter().map(from_dynamic).collect());
    }
    if let Some(m) = d.read_lock::<rhai::Map>() {
        return Value::Map(
            m.iter()
                .map(|(k, v)| (k.to_string(), from_dynamic(v)))
                .collect::<Map>(),
        );
    }
    if let Some(o) = d.read_lock::<Object>() {
        return Value::Object(o.clone());
    }
    if let Ok(c) = d.as_char() {
        return Value::Str(c.to_string());
    }
    Value::Str(d.to_string())
}

/// A short rendering for the REPL and `print` of maps: tensors as their summary line.
pub fn render(v: &Value) -> String {
    fn go(v: &Value, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match v {
            Value::Tensor(t) if indent > 0 => out.push_str(&format!(
                "tensor(shape={:?}, dtype={})",
                t.shape(),
                t.dtype()
            )),
            Value::Tensor(t) => out.push_str(&t.to_string()),
            Value::Map(m) if m.is_empty() => out.push_str("#{}"),
            Value::Map(m) => {
                out.push_str("#{\n");
                for (k, x) in m {
                    out.push_str(&format!("{pad}  {k}: "));
                    go(x, indent + 2, out);
                    out.push_str(",\n");
                }
                out.push_str(&format!("{pad}}}"));
            }
            Value::List(l) if l.len() > 20 => {
                out.push_str(&format!("[{} items: ", l.len()));
                for x in &l[..3] {
                    go(x, indent + 2, out);
                    out.push_str(", ");
                }
                out.push_str("...]");
            }
            Value::List(l) => {
                out.push('[');
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    go(x, indent + 2, out);
                }
                out.push(']');
            }
            Value::Str(s) if indent > 0 => out.push_str(&format!("{s:?}")),
            Value::Str(s) => out.push_str(s),
            Value::Null => out.push_str("()"),
            Value::Bool(b) => out.push_str(&b.to_string()),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&format!("{f}")),
            Value::Object(o) => out.push_str(&format!("{o:?}")),
        }
    }
    let mut s = String::new();
    go(v, 0, &mut s);
    s
}
