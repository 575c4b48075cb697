//! The `cache::` namespace: results of long steps kept on disk under a hash of their inputs, so
//! a rerun after a crash, or after an edit to a late step, does not recompute the early ones.
//!
//! An entry is `<dir>/<name>-<hash>.json` (the value, with each tensor replaced by a reference)
//! plus `<dir>/<name>-<hash>.npz` (the tensors, exact dtype and shape). The npz is written
//! first and the JSON last, each through a temporary file, so an entry whose JSON exists is
//! complete; a crash mid-write leaves at worst an orphan npz that is overwritten next time.
//!
//! The hash covers the step's name and a key the script chooses: every input and setting the
//! result depends on (tensors by content: dtype, shape and every element).
mod entry;
mod hash;

pub use entry::{get, put, CacheDir, Get, Put};
pub use hash::{value_hash, Key};

use emoscope_sdk::step::{step, StepPlugin};

/// The plugin, for the host's registry.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "cache",
        env!("CARGO_PKG_VERSION"),
        "Results of long steps kept on disk under a hash of their inputs",
        vec![step::<Get>(), step::<Put>(), step::<Key>()],
    )
}
