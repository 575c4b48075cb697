//! A synthetic study world with known ground truth (issue 3, in progress): the data the demo,
//! tests and benchmarks run on when no real data is at hand, generated from a planted latent
//! affect space so that every later step can show that it recovers what was planted.
//!
//! `synth::world` puts it together: the latent space (`synth::latent`), human ratings in the
//! real CSV's shapes and scales calibrated to the real file (`synth::ratings`), simulated
//! judges of controlled fidelity (`synth::agents`, `synth::choose`), fMRI subjects (`fmri`),
//! and the ground truth; `synth::write` saves it as NIfTI and npz. Each script function is one
//! step, defined beside the code it runs.
mod agents;
mod calibration;
pub mod fmri;
mod latent;
mod ratings;
mod world;
mod write;

use emoscope_sdk::step::{step, StepPlugin};

pub use agents::{choose, compressed, Agents, Choose, LlmView};
pub use calibration::*;
pub use latent::{latent, latent_names, stimulus_names, Latent, PlantLatent, Space};
pub use ratings::{ratings, Ratings, SimulateRatings};
pub use world::{explained_variance, World};
pub use write::Write;

/// The `synth` namespace, its functions in the order `:help` lists them.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "synth",
        env!("CARGO_PKG_VERSION"),
        "A synthetic study with known ground truth: latent affect space, ratings, simulated judges, fMRI subjects",
        vec![
            step::<World>(),
            step::<Write>(),
            step::<PlantLatent>(),
            step::<SimulateRatings>(),
            step::<Agents>(),
            step::<Choose>(),
        ],
    )
}

#[cfg(test)]
mod tests;
