//! The principal components t-SNE starts from (init "pca"): a deterministic block power
//! iteration, so the initial map does not depend on a LAPACK build or the thread count.
use emoscope_sdk::ctx::Rng;
use ndarray::{Array2, ArrayView2, Axis};
use rand::{RngExt, SeedableRng};

/// The top `k` principal-component scores of X (n × k), by block power iteration on the
/// covariance applied through X (X_cᵀ X_c V, block of k + 4 vectors), Rayleigh–Ritz on the block
/// each step, a fixed start and single-threaded products, so it is deterministic and works for
/// any number of columns. Signs as sklearn's PCA (`svd_flip` on the loadings): each component's
/// largest-|loading| entry is positive. A component with a zero eigenvalue (rank-deficient X)
/// gives a zero column.
pub fn pca_scores(x: ArrayView2<f64>, k: usize) -> Array2<f64> {
    let (n, d) = x.dim();
    let mean = x.mean_axis(Axis(0)).unwrap();
    let xc = &x - &mean;
    let b = (k + 4).min(d).min(n);
    let mut rng = Rng::seed_from_u64(0x7473_6e65);
    let mut v = Array2::from_shape_fn((d, b), |_| rng.random::<f64>() - 0.5);
    orthonormalise(&mut v);
    // One step: W = C V, then the Ritz pairs of the block (eigenvalues descending).
    let step = |v: &Array2<f64>| {
        let w = xc.t().dot(&xc.dot(v));
        let (ev, evec) = jacobi_eigen(v.t().dot(&w));
        let mut order: Vec<usize> = (0..b).collect();
        order.sort_by(|&i, &j| ev[j].total_cmp(&ev[i]).then(i.cmp(&j)));
        let vals: Vec<f64> = order.iter().map(|&i| ev[i]).collect();
        let rot = evec.select(Axis(1), &order);
        (vals, w.dot(&rot), v.dot(&rot))
    };
    let mut prev = vec![f64::INFINITY; b];
    for it in 0..500 {
        let (vals, mut w, _) = step(&v);
        orthonormalise(&mut w);
        v = w;
        let top = vals.first().copied().unwrap_or(0.0).abs();
        let done = (0..k.min(b)).all(|i| (vals[i] - prev[i]).abs() <= 1e-13 * top);
        prev = vals;
        if it >= 5 && done {
            break;
        }
    }
    let (vals, _, comps) = step(&v);
    let mut out = Array2::<f64>::zeros((n, k));
    for c in 0..k.min(b) {
        if vals[c] <= 1e-12 * vals[0].abs() {
            continue;
        }
        let mut col = comps.column(c).to_owned();
        let mut big = 0;
        for i in 0..d {
            if col[i].abs() > col[big].abs() {
                big = i;
            }
        }
        if col[big] < 0.0 {
            col.mapv_inplace(|v| -v);
        }
        out.column_mut(c).assign(&xc.dot(&col));
    }
    out
}

/// Modified Gram–Schmidt on the columns (a column that vanishes is left zero).
fn orthonormalise(v: &mut Array2<f64>) {
    for c in 0..v.ncols() {
        for p in 0..c {
            let dot = v.column(c).dot(&v.column(p));
            let pc = v.column(p).to_owned();
            v.column_mut(c).scaled_add(-dot, &pc);
        }
        let norm = v.column(c).dot(&v.column(c)).sqrt();
        if norm > 1e-300 {
            v.column_mut(c).mapv_inplace(|x| x / norm);
        } else {
            v.column_mut(c).fill(0.0);
        }
    }
}

/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations:
/// (eigenvalues, eigenvectors as columns).
pub fn jacobi_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let m = a.nrows();
    // Symmetrise against rounding in the product that built it.
    for i in 0..m {
        for j in 0..i {
            let s = 0.5 * (a[[i, j]] + a[[j, i]]);
            a[[i, j]] = s;
            a[[j, i]] = s;
        }
    }
    let mut v = Array2::<f64>::eye(m);
    for _sweep in 0..100 {
        let off: f64 = (0..m)
            .flat_map(|i| (0..m).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum();
        let scale: f64 = (0..m).map(|i| a[[i, i]] * a[[i, i]]).sum::<f64>();
        if off <= 1e-30 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..m {
            for q in p + 1..m {
                let apq = a[[p, q]];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..m {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..m {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..m {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..m).map(|i| a[[i, i]]).collect(), v)
}
