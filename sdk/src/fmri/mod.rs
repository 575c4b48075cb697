//! fMRI primitives: the in-memory dataset (stimuli × voxels with coordinates, affine, ROIs and
//! stimulus labels) and searchlight neighbourhoods.
pub mod dataset;
pub mod sphere;
