//! Benjamini–Hochberg false discovery rate.
//!
//! The family is whatever slice the caller passes; NaN p-values (tests that could not be run)
//! stay NaN and are not counted in the family size m.

/// Benjamini–Hochberg adjusted p-values (q-values), as `scipy.stats.false_discovery_control`
/// and statsmodels' `multipletests(method="fdr_bh")`: with the m non-NaN p-values sorted
/// ascending, q₍ᵢ₎ = minⱼ≥ᵢ (m · p₍ⱼ₎ / j), capped at 1 (the step-up makes q monotone in p).
/// Returned in the input's order; NaN p gives NaN q.
pub fn fdr_bh(p: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let m = idx.len() as f64;
    let mut q = vec![f64::NAN; p.len()];
    let mut running = f64::INFINITY;
    for (rank, &i) in idx.iter().enumerate().rev() {
        running = running.min(m * p[i] / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// Which hypotheses Benjamini–Hochberg rejects at false discovery rate `alpha`: q ≤ alpha
/// (statsmodels' convention). NaN p is never rejected.
pub fn fdr_reject(p: &[f64], alpha: f64) -> Vec<bool> {
    fdr_bh(p).into_iter().map(|q| q <= alpha).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference numbers from scipy 1.17.1:
    //   scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.005, 0.2, 0.5, 0.045])
    //   -> [0.035, 0.063, 0.063, 0.035, 0.23333333333333336, 0.5, 0.063]
    //   and for P25 below (a textbook 25-test example):
    //   -> [0.025, 0.1, 0.21, 0.21, 0.21, 0.25, 0.2642857142857143, 0.49107142857142866 (×7),
    //       0.5328125, 0.5328125, 0.5647058823529413, 0.781578947368421, 0.781578947368421,
    //       0.8699999999999999, 0.9071428571428571, 0.986 (×4)]
    const P25: [f64; 25] = [
        0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216, 0.222, 0.251, 0.269,
        0.275, 0.34, 0.341, 0.384, 0.569, 0.594, 0.696, 0.762, 0.94, 0.942, 0.975, 0.986,
    ];

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-12,
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn matches_scipy() {
        let q = fdr_bh(&[0.01, 0.04, 0.03, 0.005, 0.2, 0.5, 0.045]);
        assert_close(
            &q,
            &[0.035, 0.063, 0.063, 0.035, 0.23333333333333336, 0.5, 0.063],
        );
        let mut want = vec![
            0.025,
            0.1,
            0.21000000000000002,
            0.21000000000000002,
            0.21000000000000002,
            0.25,
            0.2642857142857143,
        ];
        want.extend([0.49107142857142866; 7]);
        want.extend([
            0.5328125,
            0.5328125,
            0.5647058823529413,
            0.781578947368421,
            0.781578947368421,
            0.8699999999999999,
            0.9071428571428571,
        ]);
        want.extend([0.986; 4]);
        assert_close(&fdr_bh(&P25), &want);
    }

    #[test]
    fn nan_stays_nan_and_is_not_counted() {
        // With the NaN left out, m is 7 and the answer is scipy's above.
        let q = fdr_bh(&[0.01, f64::NAN, 0.04, 0.03, 0.005, 0.2, 0.5, 0.045]);
        assert_close(
            &q,
            &[
                0.035,
                f64::NAN,
                0.063,
                0.063,
                0.035,
                0.23333333333333336,
                0.5,
                0.063,
            ],
        );
        assert!(fdr_bh(&[]).is_empty());
        assert!(fdr_bh(&[f64::NAN])[0].is_nan());
    }

    #[test]
    fn capped_monotone_and_reject() {
        let q = fdr_bh(&[0.9, 0.8, 0.95]);
        assert!(q.iter().all(|&x| x <= 1.0));
        let p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.5, 0.045];
        let q = fdr_bh(&p);
        for i in 0..p.len() {
            for j in 0..p.len() {
                if p[i] <= p[j] {
                    assert!(q[i] <= q[j]);
                }
            }
        }
        assert_eq!(
            fdr_reject(&p, 0.05),
            vec![true, false, false, true, false, false, false]
        );
        assert_eq!(fdr_reject(&[f64::NAN, 0.001], 0.05), vec![false, true]);
    }
}
