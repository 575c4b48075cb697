//! Representational similarity analysis (the study's "Searchlight RSA" and model comparison):
//! similarity matrices of stimulus representations, their comparison by rank correlation with a
//! Mantel permutation test, RSA within ROIs, whole-brain searchlight RSA (sharded and merged),
//! and the selection of the reliably predicted stimuli the study ran RSA on.
//!
//! Functions scripts call: `rsa::rsm(X, #{metric})`, `rsa::compare(a, b, #{method, permutations,
//! seed})`, `rsa::roi(Y, rois, model, #{...})`, `rsa::searchlight(Y, coords, mask, models,
//! #{...})`, `rsa::merge(parts)`, `rsa::select_reliable(accuracy, n)`. Methods: `docs/rsa.md`.
//!
//! Each function is one step (its options struct, documentation and `run`) in the module of
//! what it does: `rsm.rs`, `compare.rs`, `roi.rs`, `searchlight/` (with the merge of shards)
//! and `stimuli.rs` (the selection of stimuli).
mod compare;
mod rank;
mod roi;
mod rsm;
pub mod searchlight;
mod stimuli;

pub use compare::{compare, Compare, Method};
pub use rank::kendall_tau_a;
pub use roi::{roi, Roi};
pub use rsm::{rsm_matrix, Metric, Rsm};
pub use searchlight::{merge, searchlight_value, Merge, Searchlight};
pub use stimuli::{select_reliable, SelectReliable};

use emoscope_sdk::step::{step, StepPlugin};

/// The `rsa` plugin: its functions in the order `:help rsa` and the reference list them.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "rsa",
        env!("CARGO_PKG_VERSION"),
        "Representational similarity analysis: RSMs, their rank-correlation comparison, ROI and searchlight RSA",
        vec![
            step::<Rsm>(),
            step::<Compare>(),
            step::<Roi>(),
            step::<Searchlight>(),
            step::<Merge>(),
            step::<SelectReliable>(),
        ],
    )
}

#[cfg(test)]
mod tests;
