//! Searchlight neighbourhoods: the voxels within a radius of each centre.
