//! Script values into a call's arguments (tensors as handles in its table) and its results
//! back (tensors moved to the call's device).
use super::*;

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

pub(super) fn push(table: &mut ResourceTable, t: &Tensor) -> Result<Resource<HostTensor>> {
    table
        .push(HostTensor::new(t.clone()))
        .map_err(|e| Error::msg(e.to_string()))
}

pub(super) fn value_in(v: &Value, table: &mut ResourceTable, at: &str) -> Result<types::Value> {
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

pub(super) fn value_out(
    v: types::Value,
    table: &mut ResourceTable,
    device: Device,
) -> Result<Value> {
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
