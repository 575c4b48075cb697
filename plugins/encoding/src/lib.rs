//! Voxel-wise encoding (the study's "Encoding analysis"): ridge regression from an embedding
//! (stimuli × ~30) to every voxel, 5-fold outer CV, a 6-fold inner CV choosing each voxel's
//! alpha from 100 log-spaced values in [1e-3, 1e3], scored by Pearson r on held-out stimuli;
//! and the leave-one-stimulus-out accuracy the study used to pick the 1,000 best-predicted
//! stimuli for searchlight RSA.
//!
//! Functions scripts call: `encoding::ridge_cv(X, Y, #{...})`, `encoding::loo_stimulus_accuracy(X,
//! Y, #{...})`, `encoding::merge(parts)`.
pub mod folds;
mod inputs;
pub mod loo;
pub mod ridge;
pub mod shard;
#[cfg(test)]
mod tests;

use emoscope_sdk::step::{step, StepPlugin};

pub use inputs::default_alphas;
pub use shard::shard_range;

/// The `encoding::` namespace.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "encoding",
        env!("CARGO_PKG_VERSION"),
        "Voxel-wise encoding: ridge with nested CV and per-voxel alpha, leave-one-stimulus-out accuracy",
        vec![
            step::<ridge::RidgeCv>(),
            step::<loo::LooStimulusAccuracy>(),
            step::<shard::Merge>(),
        ],
    )
}
