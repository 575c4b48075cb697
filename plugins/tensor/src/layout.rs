//! What a tensor is (shape, element type, length) and how its elements are laid out: converted,
//! reshaped, transposed, joined.
use crate::args::{input, shape_arg};
use emoscope_sdk::{Result, Tensor, Value};

/// The tensors of a `tensors` list argument, each named by its position in errors.
fn parts(args: &[Value]) -> Result<Vec<Tensor>> {
    args[0]
        .as_list()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, v)| v.to_tensor(&format!("tensors[{i}]")))
        .collect()
}

steps! {
    #[step(param(t: Tensor = "input"))]
    /// The shape.
    #[step(returns = "list of ints")]
    Shape {} => |_, args, _| {
        let shape: Vec<Value> = input(args)?.shape().into_iter().map(Value::from).collect();
        Ok(shape.into())
    };

    /// The element type.
    #[step(returns = "string")]
    Dtype {} => |_, args, _| Ok(input(args)?.dtype().to_string().into());

    /// Length of the first axis.
    #[step(returns = "int")]
    Len {} => |_, args, _| Ok(input(args)?.len().into());

    /// Convert the element type.
    #[step(param(dtype: Str = "f32, f64, i64, u8 or bool"), returns = "tensor")]
    Astype {} => |_, args, _| {
        let t = input(args)?;
        Ok(t.astype(args[1].as_str().unwrap_or_default().parse()?).into())
    };

    /// Same elements (row-major), new shape.
    #[step(param(shape: Any = "list of ints"), returns = "tensor")]
    Reshape {} => |_, args, _| {
        input(args)?.reshape(&shape_arg(&args[1], "shape")?).map(Value::from)
    };

    /// Reverse the axes (the matrix transpose). O(1) on the CPU.
    #[step(returns = "tensor")]
    Transpose {} => |_, args, _| input(args)?.transpose().map(Value::from);
}

steps! {
    #[step(param(tensors: List = "list of tensors"), returns = "tensor")]
    /// Join tensors along an existing axis.
    Concat {
        /// axis
        #[opt(default = 0)]
        pub axis: i64,
    } => |s, args, _| Tensor::concat(&parts(args)?, s.axis as isize).map(Value::from);

    /// Join equal-shaped tensors along a new axis.
    Stack {
        /// position of the new axis
        #[opt(default = 0)]
        pub axis: i64,
    } => |s, args, _| Tensor::stack(&parts(args)?, s.axis as isize).map(Value::from);
}
