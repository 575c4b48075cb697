//! The behavioural data of the study ("Methods: triplet odd-one-out task"): which triplets are
//! shown (every pair × 3 third items; the validation set over category prototypes; uniform
//! random), how they are split, stored and read in the SPoSE formats, and the statistics of the
//! choices made on them (positional bias, noise ceiling, agreement, the choice-probability RSM and
//! the human–model consistency of Eq. 4).
//!
//! A triplet set is an N×3 i64 tensor (see `emoscope_sdk::triplets`). Each script function is
//! one step, defined beside the code it runs.
mod agreement;
mod args;
mod bias;
mod consistency;
mod files;
mod prototypes;
mod rows;
mod sample;

use emoscope_sdk::step::{step, StepPlugin};

pub use agreement::{agreement, noise_ceiling, Agreement, NoiseCeiling};
pub use bias::{position_counts, positions, PositionBias, PositionCounts};
pub use consistency::{
    choice_rsm, consistency, corrected, ChoiceRsm, Consistency, ConsistencyOptions,
    ConsistencyResult,
};
pub use files::{Load, Save, SaveFormat};
pub use prototypes::{prototypes, Prototypes};
pub use rows::{dedup, split, Dedup, RepeatKey, Split};
pub use sample::{pairs as sample_pairs, random, validation, Random, SamplePairs, Validation};

/// The `triplets` namespace, its functions in the order `:help` lists them.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "triplets",
        env!("CARGO_PKG_VERSION"),
        "Triplet sampling schemes, SPoSE-format I/O, splits and choice statistics",
        vec![
            step::<SamplePairs>(),
            step::<Prototypes>(),
            step::<Validation>(),
            step::<Random>(),
            step::<Split>(),
            step::<Dedup>(),
            step::<Load>(),
            step::<Save>(),
            step::<PositionBias>(),
            step::<NoiseCeiling>(),
            step::<Agreement>(),
            step::<ChoiceRsm>(),
            step::<Consistency>(),
        ],
    )
}
