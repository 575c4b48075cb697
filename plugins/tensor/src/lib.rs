//! The `tensor::` namespace: creation, shape and indexing, reductions, sorting, joining,
//! similarity, devices. The operators, properties and methods on tensor values are the host's
//! (they are Rhai), and use this crate's argument readers.
//!
//! Each script function is a step (see `emoscope_sdk::step`) in the module of what it does;
//! they are written with the `steps!` macro, which shares the parameters of families such as the
//! reductions.
#[macro_use]
mod macros;
mod args;
mod convert;
mod creation;
mod index;
mod layout;
mod math;
mod reduce;
mod similarity;
#[cfg(test)]
mod tests;

pub use args::{indices_arg, scalar_value, shape_arg, to_list};

use emoscope_sdk::step::{step, StepPlugin};

/// The plugin, for the host's registry. Unseeded random draws use the run seed and a per-run
/// counter, so a script is reproducible from `--seed` alone.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "tensor",
        env!("CARGO_PKG_VERSION"),
        "Tensors: creation, indexing, arithmetic with broadcasting, reductions, similarity, devices",
        vec![
            step::<creation::Zeros>(),
            step::<creation::Ones>(),
            step::<creation::Full>(),
            step::<creation::Eye>(),
            step::<creation::Arange>(),
            step::<creation::Linspace>(),
            step::<creation::Logspace>(),
            step::<creation::Rand>(),
            step::<creation::Randn>(),
            step::<creation::FromList>(),
            step::<layout::Shape>(),
            step::<layout::Dtype>(),
            step::<layout::Len>(),
            step::<layout::Astype>(),
            step::<layout::Reshape>(),
            step::<layout::Transpose>(),
            step::<math::Matmul>(),
            step::<reduce::Sum>(),
            step::<reduce::Mean>(),
            step::<reduce::Std>(),
            step::<reduce::Min>(),
            step::<reduce::Max>(),
            step::<reduce::Argmin>(),
            step::<reduce::Argmax>(),
            step::<reduce::Sort>(),
            step::<reduce::Argsort>(),
            step::<layout::Concat>(),
            step::<layout::Stack>(),
            step::<index::Row>(),
            step::<index::Col>(),
            step::<index::Rows>(),
            step::<index::Cols>(),
            step::<index::Slice>(),
            step::<similarity::Cosine>(),
            step::<similarity::Pearson>(),
            step::<similarity::Spearman>(),
            step::<math::Exp>(),
            step::<math::Log>(),
            step::<math::Sqrt>(),
            step::<math::Abs>(),
            step::<convert::ToDevice>(),
            step::<index::Nonzero>(),
            step::<convert::Equal>(),
            step::<convert::ToList>(),
            step::<convert::Item>(),
        ],
    )
}
