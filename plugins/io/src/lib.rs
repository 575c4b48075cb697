//! The `io::` namespace: `io::load`/`io::save` by extension, and the study's readers.
//! Every file read or written is recorded (with its sha256) in `run.json`.
mod files;
mod study;

pub use files::{Exists, Load, Save};
pub use study::{Captions, Ratings, Stimuli};

use emoscope_sdk::step::{step, StepPlugin};

/// The plugin, for the host's registry.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "io",
        env!("CARGO_PKG_VERSION"),
        "Files: npy/npz, CSV/TSV, JSON/JSONL, NIfTI, and the study's ratings and captions",
        vec![
            step::<Load>(),
            step::<Save>(),
            step::<Ratings>(),
            step::<Captions>(),
            step::<Exists>(),
            step::<Stimuli>(),
        ],
    )
}
