//! Odd-one-out judges ("Methods: triplet odd-one-out task"): the study's simulated humans, who
//! keep the most similar pair by their 34 category or 14 dimension ratings (Human-category,
//! Human-dimension); the rule it applies to non-generative models' feature vectors (the item with
//! the greatest mean distance to the other two is odd); and a stochastic observer that follows the
//! SPoSE choice model, for simulations and noise-ceiling studies.
//!
//! Every judge returns triplets in the SPoSE convention: the kept pair in the order shown, then
//! the odd one out. The language-model judges (`llm`: captions to a language model, videos to
//! a vision-language model, over OpenAI-compatible servers) write an append-only store that
//! `collect.rs` reads back in the same format; `embed.rs` gives the feature vectors of the
//! non-generative model judges.
mod collect;
pub mod embed;
pub mod llm;
mod net;
mod rules;

use emoscope_sdk::step::{step, StepPlugin};
use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{Result, Value};

pub use rules::{from_embedding, from_features, Metric, Rule};

/// The `judge::` namespace.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "judge",
        env!("CARGO_PKG_VERSION"),
        "Odd-one-out judges: simulated from ratings, feature similarity, the SPoSE choice model, language and vision-language models over OpenAI-compatible servers",
        vec![
            step::<rules::FromFeatures>(),
            step::<rules::FromEmbedding>(),
            step::<llm::Llm>(),
            step::<llm::Mllm>(),
            step::<embed::Embed>(),
            step::<collect::CollectChoices>(),
        ],
    )
}

/// The `triplets` argument every judging step takes: N × 3 stimulus indices in the order shown.
pub(crate) fn triplets_arg(v: &Value) -> Result<Vec<Triplet>> {
    trip::rows(&v.to_tensor("triplets")?, "triplets", None)
}
