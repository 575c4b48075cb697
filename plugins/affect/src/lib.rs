//! Affective-space analyses (the study's "What the dimensions mean"): component labels from the
//! rating vectors, the categorical structure of the space, its 2-D map (t-SNE), the graph of
//! components, stimulus profiles, and comparisons between systems.
//!
//! Functions scripts call: `affect::label(X, ratings, #{...})`,
//! `affect::nearest_centroid(X, category_ratings, #{...})`, `affect::tsne(X, #{...})`,
//! `affect::trustworthiness(X, Y, #{...})`, `affect::graph(X, #{...})`,
//! `affect::top_stimuli(X, #{...})`, `affect::profiles(X, stimuli)`, `affect::compare(A, B, #{...})`.
//! Each is one step (`emoscope_sdk::step`) defined beside the analysis it runs.
pub mod centroid;
pub mod compare;
pub mod graph;
pub mod label;
pub mod profile;
mod script;
#[cfg(test)]
mod tests;
pub mod tsne;

pub use centroid::NearestCentroid;
pub use compare::Compare;
pub use graph::Graph;
pub use label::Label;
pub use profile::{Profiles, TopStimuli};
pub use tsne::{Trustworthiness, Tsne};

use emoscope_sdk::step::{step, StepPlugin};

/// The `affect` namespace: its steps, in the order the docs list them.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "affect",
        env!("CARGO_PKG_VERSION"),
        "Affective-space analyses: component labels, categorical structure, t-SNE maps, the component graph, stimulus profiles, comparisons between systems",
        vec![
            step::<Label>(),
            step::<NearestCentroid>(),
            step::<Tsne>(),
            step::<Trustworthiness>(),
            step::<Graph>(),
            step::<TopStimuli>(),
            step::<Profiles>(),
            step::<Compare>(),
        ],
    )
}
