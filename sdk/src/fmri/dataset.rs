//! The in-memory fMRI dataset.
