//! Reductions (sum, mean, std, min, max, argmin, argmax) and sorting.
use crate::args::{input, int, scalar_value};
use emoscope_sdk::tensor::Reduce;
use emoscope_sdk::{Options, Result, Value};

/// Reduce the tensor `args[0]` over the axis `args[1]`, or over everything (to a number) when
/// it is left out.
fn reduce(args: &[Value], op: Reduce) -> Result<Value> {
    let t = input(args)?;
    let axis = args.get(1).map(|a| int(a, "axis")).transpose()?;
    let r = t.reduce(op, axis.map(|a| a as isize))?;
    match axis {
        None => scalar_value(&r),
        Some(_) => Ok(r.into()),
    }
}

/// The options of sort and argsort.
#[derive(Options)]
pub struct SortOpts {
    /// axis to sort along
    #[opt(default = -1)]
    pub axis: i64,
    /// largest first
    #[opt(default = false)]
    pub descending: bool,
}

steps! {
    #[step(
        param(t: Tensor = "input"),
        param(axis?: Int = "axis to reduce (negative counts from the end); all elements when left out"),
        returns = "a number when reducing everything, else a tensor without that axis",
    )]
    /// Sum of elements.
    Sum {} => |_, args, _| reduce(args, Reduce::Sum);

    /// Mean of elements.
    Mean {} => |_, args, _| reduce(args, Reduce::Mean);

    /// Standard deviation (ddof 0 by default, as numpy).
    Std {
        /// delta degrees of freedom
        #[opt(default = 0)]
        pub ddof: usize,
    } => |s, args, _| reduce(args, Reduce::Std { ddof: s.ddof });

    /// Minimum (NaN propagates).
    Min {} => |_, args, _| reduce(args, Reduce::Min);

    /// Maximum (NaN propagates).
    Max {} => |_, args, _| reduce(args, Reduce::Max);

    /// Index of the first minimum.
    Argmin {} => |_, args, _| reduce(args, Reduce::ArgMin);

    /// Index of the first maximum.
    Argmax {} => |_, args, _| reduce(args, Reduce::ArgMax);
}

steps! {
    #[step(param(t: Tensor = "input"))]
    /// Sorted values (stable; NaN last).
    #[step(returns = "tensor")]
    Sort {
        /// where and which way to sort
        #[opt(flatten)]
        pub by: SortOpts,
    } => |s, args, _| input(args)?.sort(s.by.axis as isize, s.by.descending).map(Value::from);

    /// Indices that sort the values (stable; NaN last).
    #[step(returns = "i64 tensor")]
    Argsort {
        /// where and which way to sort
        #[opt(flatten)]
        pub by: SortOpts,
    } => |s, args, _| input(args)?.argsort(s.by.axis as isize, s.by.descending).map(Value::from);
}
