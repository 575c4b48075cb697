//! Descriptive statistics that ignore NaN.

/// Mean of the non-NaN values and how many there were; NaN when there are none.
pub fn nanmean(x: &[f64]) -> (f64, usize) {
    let (s, n) = x
        .iter()
        .filter(|a| !a.is_nan())
        .fold((0.0, 0usize), |(s, n), a| (s + a, n + 1));
    (if n == 0 { f64::NAN } else { s / n as f64 }, n)
}

/// The `q`-quantile (0 ≤ q ≤ 1) of the non-NaN values with linear interpolation between order
/// statistics (numpy's default `method="linear"`, as `np.nanquantile`). NaN when no value is
/// left or q is outside [0, 1].
pub fn quantile(x: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = x.iter().copied().filter(|a| !a.is_nan()).collect();
    if v.is_empty() || !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let h = q * (v.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy() {
        // numpy 2: np.nanquantile([3, 1, nan, 4, 1, 5, 9, 2, 6], [0.05, 0.25, 0.5, 0.75, 0.95])
        //   -> [1.0, 1.75, 3.5, 5.25, 7.949999999999998]
        let x = [3.0, 1.0, f64::NAN, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let want = [1.0, 1.75, 3.5, 5.25, 7.949999999999998];
        for (q, w) in [0.05, 0.25, 0.5, 0.75, 0.95].iter().zip(want) {
            assert!(
                (quantile(&x, *q) - w).abs() < 1e-12,
                "{q}: {}",
                quantile(&x, *q)
            );
        }
        assert!(quantile(&[], 0.5).is_nan() && quantile(&[f64::NAN], 0.5).is_nan());
        assert_eq!(quantile(&[7.0], 0.95), 7.0);
    }

    #[test]
    fn nanmean_skips_nan() {
        assert_eq!(nanmean(&[1.0, f64::NAN, 3.0]), (2.0, 2));
        let (m, n) = nanmean(&[f64::NAN]);
        assert!(m.is_nan() && n == 0);
    }
}
