//! The `stats::` namespace: the group statistics of the brain analyses (t-tests across
//! subjects, Benjamini–Hochberg FDR, ROI means and their comparison between models, and the
//! voxel-wise comparison of two models). The numbers come from `emoscope_sdk::stats`; this
//! crate turns Values into slices and back, and builds the tables.
//!
//! NaN means "not scored" everywhere: a NaN voxel is left out of an ROI mean, a NaN observation
//! out of a t-test, a NaN p-value out of the FDR family.
mod fdr;
mod roi;
mod roi_compare;
mod table;
mod ttest;
mod values;
mod voxel_compare;

pub use fdr::Fdr;
pub use roi::RoiMeans;
pub use roi_compare::{RoiCompare, RoiTest};
pub use ttest::{Alternative, Ttest};
pub use voxel_compare::VoxelCompare;

use emoscope_sdk::step::{step, StepPlugin};

/// The plugin, for the host's registry.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "stats",
        env!("CARGO_PKG_VERSION"),
        "Group statistics: t-tests across subjects, Benjamini–Hochberg FDR, ROI means and their comparison between models, voxel-wise model comparison",
        vec![
            step::<Ttest>(),
            step::<Fdr>(),
            step::<RoiMeans>(),
            step::<RoiCompare>(),
            step::<VoxelCompare>(),
        ],
    )
}
