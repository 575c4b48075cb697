//! fMRI primitives: the in-memory dataset (stimuli × voxels with coordinates, affine, ROIs and
//! stimulus labels; [`dataset`]), what scripts do with it ([`ops`]: align, z-score, brain maps,
//! ROI tables), its script form ([`value`]), the files it is read from and written to
//! ([`format`]: NIfTI, npz/npy, BData), and searchlight neighbourhoods ([`sphere`]).
pub mod dataset;
pub mod format;
pub mod ops;
pub mod sphere;
pub mod value;

pub use dataset::{Constant, Dataset, NanPolicy};

#[cfg(test)]
mod tests;
