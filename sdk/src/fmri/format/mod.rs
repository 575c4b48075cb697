//! The files a dataset is read from and written to, one module per format: NIfTI volumes
//! ([`nifti`]: read), npz/npy matrices with coordinates ([`npz`]: read and write) and the
//! Kamitani lab's BData ([`bdata`]: read and write; the HDF5 container itself is `io::bdata`).
//!
//! Each one converts between its layout and the in-memory [`Dataset`](super::Dataset); what the
//! formats share (a volume's spatial shape, comparing affines) lives here.
pub mod bdata;
pub mod nifti;
pub mod npz;

use crate::ensure;
use crate::error::Result;
use crate::io::nifti::Volume;
use ndarray::Array2;

/// Whether two affines describe the same space (to within 1e-3 mm: NIfTI headers store f32).
pub(crate) fn affines_close(a: &Array2<f64>, b: &Array2<f64>) -> bool {
    a.dim() == b.dim() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= 1e-3)
}

/// The first three rows of an affine, for messages.
pub(crate) fn fmt_affine(a: &Array2<f64>) -> String {
    let rows: Vec<String> = a
        .outer_iter()
        .take(3)
        .map(|r| {
            format!(
                "[{}]",
                r.iter()
                    .map(|x| format!("{x:.4}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    rows.join(" ")
}

/// The spatial shape of a 3-D or 4-D volume.
pub(crate) fn spatial(v: &Volume, what: &str) -> Result<[usize; 3]> {
    let s = v.data.shape();
    ensure!(
        s.len() == 3 || s.len() == 4,
        "{what} must be a 3-D or 4-D volume, got shape {s:?}"
    );
    Ok([s[0], s[1], s[2]])
}
