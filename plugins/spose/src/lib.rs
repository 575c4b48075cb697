//! SPoSE, sparse positive similarity embedding (Zheng, Mehrer, Hebart et al. 2019), the study's
//! "Methods: learning the affective embedding": a non-negative items × dims matrix X whose dot
//! products explain odd-one-out choices, P(keep i, j | i, j, k) = softmax over the three pairs'
//! x·x, fitted by Adam on the mean cross-entropy plus (λ / n_items) · Σ|X|, then pruned to the
//! dimensions that stay active. Also its evaluation, predicted similarity, reproducibility across
//! seeds, dimensionality, per-stimulus reduction and λ selection.
mod analysis;
mod cpu;
mod device;
mod fitting;
mod model;
mod train;

use emoscope_sdk::step::{step, StepPlugin};
use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{bail, Result, Value};

pub use fitting::{run_fit, Training};
pub use model::{active_dims, evaluate, predict_rsm, prune, Evaluation};
pub use train::{fit, should_stop, Epoch, Fit, FitConfig, Positivity, StepConfig};

/// The `spose::` namespace.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "spose",
        env!("CARGO_PKG_VERSION"),
        "SPoSE: sparse positive similarity embeddings from odd-one-out triplets",
        vec![
            step::<fitting::FitStep>(),
            step::<model::Evaluate>(),
            step::<model::PredictRsm>(),
            step::<analysis::ReproducibilityStep>(),
            step::<analysis::Dimensionality>(),
            step::<analysis::Reduction>(),
            step::<analysis::SelectLambda>(),
        ],
    )
}

pub(crate) fn rows(v: &Value, what: &str, n_items: Option<usize>) -> Result<Vec<Triplet>> {
    trip::rows(&v.to_tensor(what)?, what, n_items)
}

pub(crate) fn embedding(v: &Value, what: &str) -> Result<ndarray::Array2<f64>> {
    let x = v.to_tensor(what)?.matrix::<f64>(what)?;
    if let Some(((r, c), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!("{what}, row {r}, column {c}: {v} is not a finite number");
    }
    Ok(x.to_owned())
}

#[cfg(test)]
mod tests;
