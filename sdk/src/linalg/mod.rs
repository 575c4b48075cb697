//! Dense kernels shared by the steps: faer-backed matrix products and the similarity matrices
//! (cosine, Pearson, Spearman) that RSA and the judges are built on.
use crate::ensure;
use crate::error::Result;
use crate::stats::rank_average;
use faer::linalg::matmul::matmul as faer_matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2, Axis};

/// Float types faer multiplies.
pub trait Float: faer::traits::ComplexField + Copy + Send + Sync + From<f32> + 'static {}
impl Float for f32 {}
impl Float for f64 {}

fn faer_ref<'a, T>(a: &'a ArrayView2<'_, T>) -> MatRef<'a, T> {
    let s = a.strides();
    // SAFETY: the pointer, extents and element strides all come from a live ndarray view, whose
    // lifetime bounds the returned reference.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), a.nrows(), a.ncols(), s[0], s[1]) }
}

/// `a @ b` for any strides (transposed views included), on all threads.
pub fn matmul<T: Float>(a: ArrayView2<T>, b: ArrayView2<T>) -> Array2<T> {
    let (m, n) = (a.nrows(), b.ncols());
    let mut out = Array2::<T>::from_elem((m, n), T::from(0.0));
    if m == 0 || n == 0 {
        return out;
    }
    let s = out.strides().to_vec();
    // SAFETY: `out` is an owned, standard-layout array that outlives `dst`.
    let dst = unsafe { MatMut::from_raw_parts_mut(out.as_mut_ptr(), m, n, s[0], s[1]) };
    let par = if m * n * a.ncols() > 64 * 64 * 64 {
        Par::rayon(0)
    } else {
        Par::Seq
    };
    faer_matmul(
        dst,
        Accum::Replace,
        faer_ref(&a),
        faer_ref(&b),
        T::from(1.0),
        par,
    );
    out
}

/// Rows scaled to unit length (zero rows stay zero, so their similarities are 0).
fn unit_rows(x: ArrayView2<f64>) -> Array2<f64> {
    let mut out = x.to_owned();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let norm = row.dot(&row).sqrt();
        if norm > 0.0 {
            row /= norm;
        }
    }
    out
}

fn centred(x: ArrayView2<f64>) -> Array2<f64> {
    let mut out = x.to_owned();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let m = row.mean().unwrap_or(0.0);
        row -= m;
    }
    out
}

/// Each row replaced by its average ranks (1-based; ties share the mean of their ranks).
pub(crate) fn ranked(x: ArrayView2<f64>) -> Array2<f64> {
    let mut out = x.to_owned();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let r = rank_average(&row.to_vec());
        row.assign(&ndarray::Array1::from(r));
    }
    out
}

/// Similarity measures between rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Similarity {
    /// Cosine of the angle between rows.
    Cosine,
    /// Pearson correlation of rows.
    Pearson,
    /// Pearson on average ranks (ties share the mean of their ranks).
    Spearman,
}

impl Similarity {
    /// The name scripts use.
    pub fn name(self) -> &'static str {
        match self {
            Similarity::Cosine => "cosine",
            Similarity::Pearson => "pearson",
            Similarity::Spearman => "spearman",
        }
    }
    fn prepare(self, x: ArrayView2<f64>) -> Array2<f64> {
        match self {
            Similarity::Cosine => unit_rows(x),
            Similarity::Pearson => unit_rows(centred(x).view()),
            Similarity::Spearman => unit_rows(centred(ranked(x).view()).view()),
        }
    }
}

/// Similarity of every row of `a` with every row of `b` (`a.nrows() × b.nrows()`).
/// Rows with zero variance (or zero length, for cosine) get similarity 0.
pub fn similarity_cross(
    a: ArrayView2<f64>,
    b: ArrayView2<f64>,
    how: Similarity,
) -> Result<Array2<f64>> {
    ensure!(
        a.ncols() == b.ncols(),
        "{} similarity needs rows of equal length, got {} and {} columns",
        how.name(),
        a.ncols(),
        b.ncols()
    );
    let (pa, pb) = (how.prepare(a), how.prepare(b));
    Ok(matmul(pa.view(), pb.t()))
}

/// The rows × rows similarity matrix (an RSM), exactly symmetric.
pub fn similarity_matrix(x: ArrayView2<f64>, how: Similarity) -> Array2<f64> {
    let p = how.prepare(x);
    let mut s = matmul(p.view(), p.t());
    let n = s.nrows();
    for i in 0..n {
        for j in 0..i {
            let v = 0.5 * (s[[i, j]] + s[[j, i]]);
            s[[i, j]] = v;
            s[[j, i]] = v;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{pearson, spearman};
    use ndarray::array;

    #[test]
    fn matmul_matches_naive_for_transposed_views() {
        let a = Array2::from_shape_fn((7, 5), |(i, j)| (i * 3 + j) as f64 * 0.37 - 2.0);
        let b = Array2::from_shape_fn((6, 5), |(i, j)| (i + 2 * j) as f64 * -0.11 + 1.0);
        let got = matmul(a.view(), b.t());
        for i in 0..7 {
            for j in 0..6 {
                let want: f64 = (0..5).map(|k| a[[i, k]] * b[[j, k]]).sum();
                assert!(
                    (got[[i, j]] - want).abs() < 1e-12,
                    "({i},{j}): {} vs {want}",
                    got[[i, j]]
                );
            }
        }
    }

    #[test]
    fn similarity_matrices_match_pairwise_statistics() {
        let x = array![
            [1.0, 2.0, 3.0, 4.0],
            [2.0, 1.0, 4.0, 4.0],
            [0.0, -1.0, 5.0, 1.0]
        ];
        let p = similarity_matrix(x.view(), Similarity::Pearson);
        let s = similarity_matrix(x.view(), Similarity::Spearman);
        let c = similarity_matrix(x.view(), Similarity::Cosine);
        for i in 0..3 {
            for j in 0..3 {
                let (xi, xj) = (x.row(i).to_vec(), x.row(j).to_vec());
                assert!((p[[i, j]] - pearson(&xi, &xj)).abs() < 1e-12);
                assert!((s[[i, j]] - spearman(&xi, &xj)).abs() < 1e-12);
                let dot: f64 = xi.iter().zip(&xj).map(|(a, b)| a * b).sum();
                let n = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
                assert!((c[[i, j]] - dot / (n(&xi) * n(&xj))).abs() < 1e-12);
            }
        }
    }
}
