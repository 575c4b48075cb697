//! Reading script arguments, and tensors back as script values. The host's methods on tensor
//! values use the same readers, so `t.reshape(s)` and `tensor::reshape(t, s)` accept the same
//! arguments and say the same things when they are wrong.
use emoscope_sdk::{bail, ensure, DType, Error, Result, Tensor, Value};

/// Integers from a list; `noun` names the entries in the error (`shape entries`, `indices`).
fn int_list(l: &[Value], what: &str, noun: &str) -> Result<Vec<i64>> {
    l.iter()
        .map(|x| {
            x.as_i64().ok_or_else(|| {
                Error::msg(format!(
                    "{what}: {noun} must be integers, got {}",
                    x.type_name()
                ))
            })
        })
        .collect()
}

/// A shape: an int or a list of ints.
pub fn shape_arg(v: &Value, what: &str) -> Result<Vec<usize>> {
    let dims: Vec<i64> = match v {
        Value::Int(n) => vec![*n],
        Value::List(l) => int_list(l, what, "shape entries")?,
        Value::Tensor(t) => t.to_vec_f64()?.into_iter().map(|x| x as i64).collect(),
        other => bail!(
            "{what} must be an int or a list of ints, got {}",
            other.type_name()
        ),
    };
    dims.into_iter()
        .map(|d| {
            usize::try_from(d).map_err(|_| Error::msg(format!("{what}: negative dimension {d}")))
        })
        .collect()
}

/// Indices: a list of ints or an integer tensor.
pub fn indices_arg(v: &Value, what: &str) -> Result<Vec<i64>> {
    match v {
        Value::Int(i) => Ok(vec![*i]),
        Value::List(l) => int_list(l, what, "indices"),
        Value::Tensor(t) => {
            ensure!(
                !t.dtype().is_float() || t.numel() == 0,
                "{what}: indices must be an integer tensor, got {}",
                t.dtype()
            );
            Ok(t.to_i64()?.iter().copied().collect())
        }
        other => bail!(
            "{what} must be a list of ints or an integer tensor, got {}",
            other.type_name()
        ),
    }
}

/// The error of an argument of the wrong kind; the host checked the FnSpec's types, so this
/// is reached only by values its types let through (a float where an int is needed).
fn expected(v: &Value, what: &str, kind: &str) -> Error {
    Error::msg(format!("{what} must be {kind}, got {}", v.type_name()))
}

/// A number (an int widens).
pub(crate) fn num(v: &Value, what: &str) -> Result<f64> {
    v.as_f64().ok_or_else(|| expected(v, what, "a number"))
}

/// An integer.
pub(crate) fn int(v: &Value, what: &str) -> Result<i64> {
    v.as_i64().ok_or_else(|| expected(v, what, "an integer"))
}

/// Argument `i` as a tensor (nested lists of numbers convert), named `what` in errors.
pub(crate) fn tensor(args: &[Value], i: usize, what: &str) -> Result<Tensor> {
    args[i].to_tensor(what)
}

/// The first argument, which most functions call `t`.
pub(crate) fn input(args: &[Value]) -> Result<Tensor> {
    tensor(args, 0, "t")
}

/// One element as a script value of its dtype's kind, so integer tensors give ints.
fn number(x: f64, dtype: DType) -> Value {
    match dtype {
        DType::Bool => Value::Bool(x != 0.0),
        DType::I64 | DType::U8 => Value::Int(x as i64),
        _ => Value::Float(x),
    }
}

/// A one-element tensor as a script number (int for integer dtypes).
pub fn scalar_value(t: &Tensor) -> Result<Value> {
    Ok(number(t.item()?, t.dtype()))
}

/// A tensor, or the number it holds when it has no axes left (`row` of a vector).
pub(crate) fn tensor_or_scalar(t: Tensor) -> Result<Value> {
    if t.ndim() == 0 {
        scalar_value(&t)
    } else {
        Ok(Value::Tensor(t))
    }
}

/// Nested lists of numbers.
pub fn to_list(t: &Tensor) -> Result<Value> {
    fn rec(a: ndarray::ArrayViewD<f64>, dt: DType) -> Value {
        if a.ndim() == 0 {
            return number(a[[]], dt);
        }
        Value::List(a.outer_iter().map(|r| rec(r, dt)).collect())
    }
    Ok(rec(t.to_f64()?.view(), t.dtype()))
}
