//! The `fmri::` namespace: fMRI datasets (stimuli × voxels with coordinates, affine, ROIs and
//! labels) loaded from NIfTI, npz/npy or BData HDF5, aligned to the study's stimuli, z-scored,
//! and written back as brain maps and ROI tables. Every file read or written is recorded in
//! `run.json`.
//!
//! A dataset is a map (see `emoscope_sdk::fmri::dataset::Dataset::to_value`); a synthetic
//! world's subject is one, so every function takes either. The map's data matrix travels as a
//! tensor handle: a function that does not change it (`align` to the rows' own order, `roi`,
//! `roi_table`, `save_map`, `save`) shares it rather than copying it.
mod args;
mod load;
mod maps;
mod prepare;
mod save;

pub use load::{Load, Subjects};
pub use maps::{Outside, Roi, RoiTable, SaveMap};
pub use prepare::{Align, Zscore};
pub use save::Save;

use emoscope_sdk::step::{step, StepPlugin};

/// The plugin, for the host's registry.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "fmri",
        env!("CARGO_PKG_VERSION"),
        "fMRI data: NIfTI, npz/npy and BData HDF5 datasets (stimuli × voxels with coordinates, affine, ROIs and labels), alignment to the study's stimuli, z-scoring, brain maps and ROI tables",
        vec![
            step::<Load>(),
            step::<Subjects>(),
            step::<Align>(),
            step::<Zscore>(),
            step::<SaveMap>(),
            step::<RoiTable>(),
            step::<Save>(),
            step::<Roi>(),
        ],
    )
}

#[cfg(test)]
mod tests;
