//! The Tensor type in scripts: operators with broadcasting, properties, methods, indexing,
//! printing. The `tensor::` namespace functions are the emoscope-tensor plugin.
use super::convert::to_dynamic;
use emoscope_sdk::tensor::{BinOp, Reduce};
use emoscope_sdk::{Result, Tensor};
use emoscope_tensor::{indices_arg, scalar_value, shape_arg, to_list};
use rhai::{Array, Dynamic, Engine, EvalAltResult};

type RhaiResult<T> = std::result::Result<T, Box<EvalAltResult>>;

fn rr<T>(r: Result<T>) -> RhaiResult<T> {
    r.map_err(|e| e.to_string().into())
}

/// Tensor values in scripts: operators, properties, methods, indexing, printing.
pub fn register_type(engine: &mut Engine) {
    engine.register_type_with_name::<Tensor>("Tensor");
    macro_rules! ops {
        ($sym:literal, $op:expr) => {
            engine.register_fn($sym, |a: Tensor, b: Tensor| rr(a.binary(&b, $op)));
            engine.register_fn($sym, |a: Tensor, b: f64| {
                rr(a.binary_scalar(b, false, $op, false))
            });
            engine.register_fn($sym, |a: f64, b: Tensor| {
                rr(b.binary_scalar(a, false, $op, true))
            });
            engine.register_fn($sym, |a: Tensor, b: i64| {
                rr(a.binary_scalar(b as f64, true, $op, false))
            });
            engine.register_fn($sym, |a: i64, b: Tensor| {
                rr(b.binary_scalar(a as f64, true, $op, true))
            });
        };
    }
    ops!("+", BinOp::Add);
    ops!("-", BinOp::Sub);
    ops!("*", BinOp::Mul);
    ops!("/", BinOp::Div);
    ops!("**", BinOp::Pow);
    engine.register_fn("-", |a: Tensor| rr(a.neg()));

    engine.register_get("shape", |t: &mut Tensor| -> Array {
        t.shape()
            .into_iter()
            .map(|s| Dynamic::from(s as i64))
            .collect()
    });
    engine.register_get("dtype", |t: &mut Tensor| t.dtype().to_string());
    engine.register_get("device", |t: &mut Tensor| t.device().to_string());
    engine.register_get("ndim", |t: &mut Tensor| t.ndim() as i64);
    engine.register_get("len", |t: &mut Tensor| t.len() as i64);
    engine.register_get("numel", |t: &mut Tensor| t.numel() as i64);
    engine.register_get("T", |t: &mut Tensor| rr(t.transpose()));
    engine.register_fn("len", |t: &mut Tensor| t.len() as i64);

    engine.register_indexer_get(|t: &mut Tensor, i: i64| -> RhaiResult<Dynamic> {
        let r = rr(t.index_axis(0, i as isize))?;
        Ok(if r.ndim() == 0 {
            to_dynamic(rr(scalar_value(&r))?)
        } else {
            Dynamic::from(r)
        })
    });

    engine.register_fn("to_device", |t: &mut Tensor, d: &str| {
        rr(d.parse().and_then(|d| t.to_device(d)))
    });
    engine.register_fn("astype", |t: &mut Tensor, d: &str| {
        rr(d.parse().map(|d| t.astype(d)))
    });
    engine.register_fn("item", |t: &mut Tensor| rr(scalar_value(t)).map(to_dynamic));
    engine.register_fn("to_list", |t: &mut Tensor| rr(to_list(t)).map(to_dynamic));
    engine.register_fn("reshape", |t: &mut Tensor, s: Array| {
        let v = super::convert::from_dynamic(&Dynamic::from_array(s));
        rr(shape_arg(&v, "shape").and_then(|s| t.reshape(&s)))
    });
    engine.register_fn("matmul", |a: &mut Tensor, b: Tensor| rr(a.matmul(&b)));
    engine.register_fn("transpose", |t: &mut Tensor| rr(t.transpose()));
    engine.register_fn("row", |t: &mut Tensor, i: i64| {
        rr(t.index_axis(0, i as isize))
    });
    engine.register_fn("col", |t: &mut Tensor, j: i64| {
        rr(t.index_axis(1, j as isize))
    });
    engine.register_fn("rows", |t: &mut Tensor, ix: Dynamic| {
        rr(indices_arg(&super::convert::from_dynamic(&ix), "indices")
            .and_then(|ix| t.select(0, &ix)))
    });
    engine.register_fn("cols", |t: &mut Tensor, ix: Dynamic| {
        rr(indices_arg(&super::convert::from_dynamic(&ix), "indices")
            .and_then(|ix| t.select(1, &ix)))
    });
    engine.register_fn("slice", |t: &mut Tensor, axis: i64, a: i64, b: i64| {
        rr(t.slice_axis(axis as isize, a as isize, b as isize))
    });
    macro_rules! method_reduce {
        ($name:literal, $op:expr) => {
            engine.register_fn($name, |t: &mut Tensor| {
                rr(t.reduce($op, None).and_then(|r| scalar_value(&r))).map(to_dynamic)
            });
            engine.register_fn($name, |t: &mut Tensor, axis: i64| {
                rr(t.reduce($op, Some(axis as isize)))
            });
        };
    }
    engine.register_fn("abs", |t: &mut Tensor| rr(t.map_float(f64::abs)));
    engine.register_fn("exp", |t: &mut Tensor| rr(t.map_float(f64::exp)));
    engine.register_fn("log", |t: &mut Tensor| rr(t.map_float(f64::ln)));
    engine.register_fn("sqrt", |t: &mut Tensor| rr(t.map_float(f64::sqrt)));
    method_reduce!("sum", Reduce::Sum);
    method_reduce!("mean", Reduce::Mean);
    method_reduce!("std", Reduce::Std { ddof: 0 });
    method_reduce!("min", Reduce::Min);
    method_reduce!("max", Reduce::Max);
    method_reduce!("argmin", Reduce::ArgMin);
    method_reduce!("argmax", Reduce::ArgMax);

    engine.register_fn("to_string", |t: &mut Tensor| t.to_string());
    engine.register_fn("to_debug", |t: &mut Tensor| {
        format!("tensor(shape={:?}, dtype={})", t.shape(), t.dtype())
    });
}
