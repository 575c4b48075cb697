//! What ridge and leave-one-out accept: the checks of the embedding, the fMRI data and the
//! alphas that both make before any work, and the alpha grid of their `alphas` option.
use emoscope_sdk::{bail, ensure, Result, Tensor};
use ndarray::ArrayView2;

/// The embedding and the fMRI data must describe the same stimuli, with finite values: ridge
/// and leave-one-out both check this before any work.
pub(crate) fn check_data(x: ArrayView2<f64>, y: ArrayView2<f32>) -> Result<()> {
    ensure!(
        x.nrows() == y.nrows(),
        "the embedding has {} stimuli (rows) but the fMRI data has {}: align them first (fmri::align)",
        x.nrows(),
        y.nrows()
    );
    if let Some(((i, j), _)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!("the embedding has a non-finite value at stimulus {i}, feature {j}");
    }
    if let Some(((i, v), val)) = y.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!(
            "the fMRI data has {val} at stimulus {i}, voxel {v}: drop or impute non-finite voxels first (fmri::load with nan: \"drop\")"
        );
    }
    Ok(())
}

/// Ridge needs positive, finite penalties (zero would make the filter blow up on a
/// rank-deficient design).
pub(crate) fn check_alphas(alphas: &[f64]) -> Result<()> {
    ensure!(!alphas.is_empty(), "alphas is empty");
    if let Some(a) = alphas.iter().find(|a| !(a.is_finite() && **a > 0.0)) {
        bail!("alphas must be positive and finite, got {a}");
    }
    Ok(())
}

/// The study's grid: 100 log-spaced values in [1e-3, 1e3].
pub fn default_alphas() -> Vec<f64> {
    (0..100)
        .map(|i| 10f64.powf(-3.0 + 6.0 * i as f64 / 99.0))
        .collect()
}

/// The `alphas` option of `ridge_cv` and `loo_stimulus_accuracy`: a vector, else the study's
/// grid.
pub(crate) fn alpha_grid(t: &Option<Tensor>) -> Result<Vec<f64>> {
    Ok(match t {
        None => default_alphas(),
        Some(t) => {
            ensure!(
                t.ndim() <= 1,
                "alphas must be a vector, got shape {:?}",
                t.shape()
            );
            t.to_vec_f64()?
        }
    })
}
