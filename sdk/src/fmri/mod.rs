//! fMRI primitives: the in-memory dataset (stimuli × voxels with coordinates, affine, ROIs and
//! stimulus labels; `dataset.rs`, read from NIfTI, npz/npy and BData HDF5 through `io`) and
//! searchlight neighbourhoods (`sphere.rs`).
pub mod dataset;
pub mod sphere;

pub use dataset::{Constant, Dataset, NanPolicy};
