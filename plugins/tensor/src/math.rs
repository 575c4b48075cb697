//! Arithmetic beyond the operators: the matrix product and element-wise functions.
use crate::args::{input, tensor};
use emoscope_sdk::{Result, Value};

/// `f` applied to every element, as floats.
fn map(args: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    input(args)?.map_float(f).map(Value::from)
}

steps! {
    /// Matrix product (faer on the CPU, libtorch on torch devices); 1-D operands act as vectors.
    #[step(param(a: Tensor = "left"), param(b: Tensor = "right"), returns = "tensor")]
    Matmul {} => |_, args, _| {
        tensor(args, 0, "a")?.matmul(&tensor(args, 1, "b")?).map(Value::from)
    };
}

steps! {
    #[step(param(t: Tensor = "input"), returns = "float tensor")]
    /// Element-wise e^x.
    Exp {} => |_, args, _| map(args, f64::exp);

    /// Element-wise natural logarithm.
    Log {} => |_, args, _| map(args, f64::ln);

    /// Element-wise square root.
    Sqrt {} => |_, args, _| map(args, f64::sqrt);

    /// Element-wise absolute value.
    Abs {} => |_, args, _| map(args, f64::abs);
}
