//! Student's t-tests, two-tailed, as `scipy.stats.ttest_1samp` and `ttest_rel` with
//! `nan_policy="omit"`: NaN observations are dropped per test (for the paired test, every pair
//! with a NaN on either side), and fewer than two observations left give NaN, never a panic.
use statrs::distribution::{ContinuousCDF, StudentsT};

/// One t-test's result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TTest {
    /// t statistic: (mean − popmean) / sem. ±inf when every observation is equal and differs
    /// from `popmean`; NaN when it equals it (as scipy).
    pub t: f64,
    /// Two-tailed p-value from Student's t with `df` degrees of freedom.
    pub p: f64,
    /// Degrees of freedom, n − 1.
    pub df: f64,
    /// Mean of the observations (of the differences a − b for the paired test).
    pub mean: f64,
    /// Standard error of that mean: sample standard deviation (ddof 1) / √n.
    pub sem: f64,
    /// Observations used after dropping NaN.
    pub n: usize,
}

impl TTest {
    /// The result when there is nothing to test: every field NaN except `n`.
    pub fn nan(n: usize) -> TTest {
        TTest {
            t: f64::NAN,
            p: f64::NAN,
            df: f64::NAN,
            mean: f64::NAN,
            sem: f64::NAN,
            n,
        }
    }
}

/// Two-tailed p-value of a t statistic with `df` degrees of freedom (NaN for NaN input or
/// `df` ≤ 0; 0 for infinite t).
pub fn t_pvalue(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) => (2.0 * d.sf(t.abs())).min(1.0),
        Err(_) => f64::NAN,
    }
}

/// One-sample t-test of the mean of `x` against `popmean` (scipy's `ttest_1samp`, two-sided,
/// `nan_policy="omit"`). NaN entries of `x` are dropped; n < 2 gives [`TTest::nan`].
pub fn ttest_1samp(x: &[f64], popmean: f64) -> TTest {
    let v: Vec<f64> = x.iter().copied().filter(|a| !a.is_nan()).collect();
    let n = v.len();
    if n < 2 {
        let mut r = TTest::nan(n);
        if n == 1 {
            r.mean = v[0];
        }
        return r;
    }
    let nf = n as f64;
    let mean = v.iter().sum::<f64>() / nf;
    let ss: f64 = v.iter().map(|a| (a - mean) * (a - mean)).sum();
    let sem = (ss / (nf - 1.0)).sqrt() / nf.sqrt();
    let d = mean - popmean;
    // 0/0 is NaN and d/0 is ±inf, as scipy.
    let t = d / sem;
    let df = nf - 1.0;
    TTest {
        t,
        p: t_pvalue(t, df),
        df,
        mean,
        sem,
        n,
    }
}

/// Paired t-test of `a` against `b` (scipy's `ttest_rel`, two-sided, `nan_policy="omit"`): the
/// one-sample test of the differences a − b against 0. A pair with NaN on either side is
/// dropped. `mean` and `sem` describe the differences.
///
/// Panics when `a` and `b` have different lengths (callers check their inputs first).
pub fn ttest_rel(a: &[f64], b: &[f64]) -> TTest {
    assert_eq!(a.len(), b.len(), "ttest_rel: inputs of different length");
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    ttest_1samp(&d, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    // Reference numbers from scipy 1.17.1 (python, in /root/.cache/emoscope/bench-venv):
    //   x = [0.12, 0.08, 0.15, 0.03, 0.10]; b = [0.05, 0.07, 0.09, 0.04, 0.02]
    //   scipy.stats.ttest_1samp(x, 0)    -> 4.764400003060466, 0.00887647236833734, df 4
    //   scipy.stats.ttest_1samp(x, 0.05) -> 2.2829416681331396, 0.084511945778068
    //   scipy.stats.sem(x)               -> 0.020149441679609883
    //   scipy.stats.ttest_1samp([0.12, nan, 0.15, 0.03, 0.10], 0, nan_policy="omit")
    //                                    -> 3.922322702763681, 0.0294798354759634, df 3
    //   scipy.stats.ttest_rel(x, b)      -> 2.370197121529021, 0.07680444321010195, df 4
    //   scipy.stats.ttest_rel([0.12, 0.08, nan, 0.03, 0.10], [0.05, 0.07, 0.09, nan, 0.02],
    //                         nan_policy="omit") -> 2.439977125321674, 0.1348190873025998, df 2
    //   y = [10.01, 10.02, 9.99, 10.00, 10.015, 10.005, 9.995, 10.01]
    //   scipy.stats.ttest_1samp(y, 0)    -> 2786.80919419476, 2.0231279067801209e-22, df 7
    const X: [f64; 5] = [0.12, 0.08, 0.15, 0.03, 0.10];
    const B: [f64; 5] = [0.05, 0.07, 0.09, 0.04, 0.02];

    #[test]
    fn one_sample_matches_scipy() {
        let r = ttest_1samp(&X, 0.0);
        assert!(close(r.t, 4.764400003060466, 1e-12), "{r:?}");
        assert!(close(r.p, 0.00887647236833734, 1e-9), "{r:?}");
        assert_eq!((r.df, r.n), (4.0, 5));
        assert!(close(r.sem, 0.020149441679609883, 1e-12));
        assert!(close(r.mean, 0.096, 1e-12));
        let r = ttest_1samp(&X, 0.05);
        assert!(close(r.t, 2.2829416681331396, 1e-12), "{r:?}");
        assert!(close(r.p, 0.084511945778068, 1e-9), "{r:?}");
    }

    #[test]
    fn nan_is_dropped_per_test() {
        let r = ttest_1samp(&[0.12, f64::NAN, 0.15, 0.03, 0.10], 0.0);
        assert!(close(r.t, 3.922322702763681, 1e-12), "{r:?}");
        assert!(close(r.p, 0.0294798354759634, 1e-9), "{r:?}");
        assert_eq!((r.df, r.n), (3.0, 4));
        let r = ttest_rel(
            &[0.12, 0.08, f64::NAN, 0.03, 0.10],
            &[0.05, 0.07, 0.09, f64::NAN, 0.02],
        );
        assert!(close(r.t, 2.439977125321674, 1e-12), "{r:?}");
        assert!(close(r.p, 0.1348190873025998, 1e-9), "{r:?}");
        assert_eq!((r.df, r.n), (2.0, 3));
    }

    #[test]
    fn paired_matches_scipy() {
        let r = ttest_rel(&X, &B);
        assert!(close(r.t, 2.370197121529021, 1e-12), "{r:?}");
        assert!(close(r.p, 0.07680444321010195, 1e-9), "{r:?}");
        assert!(close(r.mean, 0.042, 1e-12));
        // Swapping the sides flips t and keeps p.
        let s = ttest_rel(&B, &X);
        assert!(close(s.t, -r.t, 1e-14) && close(s.p, r.p, 1e-14));
    }

    #[test]
    fn tiny_p_keeps_its_precision() {
        let y = [10.01, 10.02, 9.99, 10.00, 10.015, 10.005, 9.995, 10.01];
        let r = ttest_1samp(&y, 0.0);
        assert!(close(r.t, 2786.80919419476, 1e-10), "{r:?}");
        assert!(close(r.p, 2.0231279067801209e-22, 1e-6), "{r:?}");
    }

    #[test]
    fn degenerate_inputs_give_nan_or_inf_not_panics() {
        for x in [
            &[][..],
            &[1.0][..],
            &[f64::NAN, 2.0][..],
            &[f64::NAN; 3][..],
        ] {
            let r = ttest_1samp(x, 0.0);
            assert!(
                r.t.is_nan() && r.p.is_nan() && r.df.is_nan(),
                "{x:?}: {r:?}"
            );
        }
        assert_eq!(ttest_1samp(&[1.0], 0.0).mean, 1.0);
        // Constant data: ±inf away from popmean (p 0), NaN at it, as scipy.
        let r = ttest_1samp(&[2.0, 2.0, 2.0], 0.0);
        assert!(r.t == f64::INFINITY && r.p == 0.0, "{r:?}");
        let r = ttest_1samp(&[2.0, 2.0, 2.0], 2.0);
        assert!(r.t.is_nan() && r.p.is_nan(), "{r:?}");
        assert!(ttest_rel(&[1.0], &[2.0]).p.is_nan());
    }
}
