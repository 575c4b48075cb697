//! Tensors elsewhere: on another device, as script values (lists, numbers), compared bit for bit.
use crate::args::{input, scalar_value, tensor, to_list};
use emoscope_sdk::{Device, Value};

steps! {
    /// Move to a device: "cpu", "cuda", "cuda:N" or "torch:cpu" (libtorch's CPU engine). Lossless.
    #[step(
        param(t: Tensor = "input"),
        param(device: Str = "target device"),
        returns = "tensor on that device",
    )]
    ToDevice {} => |_, args, _| {
        let d: Device = args[1].as_str().unwrap_or_default().parse()?;
        input(args)?.to_device(d).map(Value::from)
    };

    /// Whether two tensors have the same shape, dtype and bits (NaN equals NaN).
    #[step(param(a: Tensor = "first"), param(b: Tensor = "second"), returns = "bool")]
    Equal {} => |_, args, _| Ok(tensor(args, 0, "a")?.bit_equal(&tensor(args, 1, "b")?)?.into());
}

steps! {
    #[step(param(t: Tensor = "input"))]
    /// Nested lists of numbers.
    #[step(returns = "list")]
    ToList {} => |_, args, _| to_list(&input(args)?);

    /// The value of a one-element tensor.
    #[step(returns = "number")]
    Item {} => |_, args, _| scalar_value(&input(args)?);
}
