//! Picking entries: one row or column, rows or columns by index, a slice, the non-zero places.
use crate::args::{indices_arg, input, int, tensor_or_scalar};
use emoscope_sdk::{Result, Tensor, Value};

/// Index `args[1]` (named `what`) along `axis`, dropping the axis.
fn at(args: &[Value], axis: isize, what: &str) -> Result<Value> {
    tensor_or_scalar(input(args)?.index_axis(axis, int(&args[1], what)? as isize)?)
}

/// The entries at the indices `args[1]` along `axis`, in their order.
fn pick(args: &[Value], axis: isize) -> Result<Value> {
    input(args)?
        .select(axis, &indices_arg(&args[1], "indices")?)
        .map(Value::from)
}

/// The positions of the non-zero entries of a vector.
fn nonzero(t: &Tensor) -> Result<Value> {
    let idx: Vec<i64> = (t.vector::<f64>("t")?.iter().enumerate())
        .filter(|(_, x)| **x != 0.0)
        .map(|(i, _)| i as i64)
        .collect();
    let n = idx.len();
    Ok(Tensor::from_vec(idx, &[n])?.into())
}

steps! {
    /// Row i (negative counts from the end); t[i] does the same.
    #[step(
        param(t: Tensor = "input"),
        param(i: Int = "index"),
        returns = "tensor (or a number for 1-D input)",
    )]
    Row {} => |_, args, _| at(args, 0, "i");

    /// Column j of a matrix.
    #[step(param(t: Tensor = "matrix"), param(j: Int = "index"), returns = "1-D tensor")]
    Col {} => |_, args, _| at(args, 1, "j");

    /// Rows picked by index, in order (repeats allowed).
    #[step(
        param(t: Tensor = "input"),
        param(indices: Any = "list of ints or integer tensor"),
        returns = "tensor",
    )]
    Rows {} => |_, args, _| pick(args, 0);

    /// Columns picked by index, in order.
    #[step(
        param(t: Tensor = "matrix"),
        param(indices: Any = "list of ints or integer tensor"),
        returns = "tensor",
    )]
    Cols {} => |_, args, _| pick(args, 1);

    /// Entries start..end along an axis (Python slice rules, negative from the end).
    #[step(
        param(t: Tensor = "input"),
        param(axis: Int = "axis"),
        param(start: Int = "first index"),
        param(end: Int = "one past the last index"),
        returns = "tensor",
    )]
    Slice {} => |_, args, _| {
        let int_at = |i: usize, what: &str| int(&args[i], what).map(|x| x as isize);
        let t = input(args)?;
        t.slice_axis(int_at(1, "axis")?, int_at(2, "start")?, int_at(3, "end")?).map(Value::from)
    };

    /// Indices of the non-zero entries of a 1-D tensor (for example ROI flags), ascending.
    #[step(
        param(t: Tensor = "1-D tensor"),
        returns = "1-D i64 tensor",
        example = "let sts = s.data.cols(tensor::nonzero(s.rois.STS));",
    )]
    Nonzero {} => |_, args, _| nonzero(&input(args)?);
}
