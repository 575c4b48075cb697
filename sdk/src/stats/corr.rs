//! Correlations with tie-aware ranks, and least-squares lines with scipy's `linregress`
//! p-value (Student's t from `statrs`).
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A least-squares line `y = intercept + slope · x`, as `scipy.stats.linregress` reports it.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// The fitted slope.
    pub slope: f64,
    /// The fitted intercept.
    pub intercept: f64,
    /// Pearson r of x and y.
    pub r: f64,
    /// Two-sided p-value of the slope against 0 (t with n − 2 degrees of freedom).
    pub p: f64,
    /// The slope's standard error.
    pub stderr: f64,
}

/// Least squares of y on x; NaN p and stderr with fewer than 3 points.
pub fn linregress(x: &[f64], y: &[f64]) -> Line {
    assert_eq!(x.len(), y.len(), "linregress: inputs of different length");
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let slope = sxy / sxx;
    let r = if syy == 0.0 {
        0.0
    } else {
        (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
    };
    let df = n - 2.0;
    let (p, stderr) = if df < 1.0 {
        (f64::NAN, f64::NAN)
    } else if r.abs() == 1.0 {
        (0.0, 0.0)
    } else {
        let t = r * (df / ((1.0 - r) * (1.0 + r))).sqrt();
        let dist = StudentsT::new(0.0, 1.0, df).expect("df > 0");
        (
            2.0 * dist.sf(t.abs()),
            (((1.0 - r * r) * syy / sxx) / df).sqrt(),
        )
    };
    Line {
        slope,
        intercept: my - slope * mx,
        r,
        p,
        stderr,
    }
}

/// Ranks starting at 1, ties sharing the average of the ranks they span (as scipy's
/// `rankdata(method="average")`). NaN ranks last.
pub fn rank_average(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation; 0 when either input has zero variance, NaN when lengths are < 2.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "pearson: inputs of different length");
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

/// Spearman correlation: Pearson on average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&rank_average(x), &rank_average(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linregress_matches_scipy() {
        // By hand: sxx = 10, sxy = 9.7, syy = 9.5.
        let l = linregress(&[0.0, 1.0, 2.0, 3.0, 4.0], &[1.0, 2.1, 2.9, 4.2, 4.8]);
        assert!((l.slope - 0.97).abs() < 1e-12 && (l.intercept - 1.06).abs() < 1e-12);
        let r = 9.7 / 95f64.sqrt();
        assert!((l.r - r).abs() < 1e-12, "{}", l.r);
        // Student's t with 3 df has a closed-form CDF: 1/2 + (t/(√3(1 + t²/3)) + atan(t/√3))/π.
        let t = r * (3.0 / (1.0 - r * r)).sqrt();
        let cdf = 0.5
            + (t / (3f64.sqrt() * (1.0 + t * t / 3.0)) + (t / 3f64.sqrt()).atan())
                / std::f64::consts::PI;
        assert!(
            (l.p - 2.0 * (1.0 - cdf)).abs() < 1e-10,
            "{} vs {}",
            l.p,
            2.0 * (1.0 - cdf)
        );
    }

    #[test]
    fn ranks_average_ties_like_scipy() {
        // scipy.stats.rankdata([10, 20, 20, 5, 20]) == [2, 4, 4, 1, 4]
        assert_eq!(
            rank_average(&[10.0, 20.0, 20.0, 5.0, 20.0]),
            vec![2.0, 4.0, 4.0, 1.0, 4.0]
        );
    }

    #[test]
    fn spearman_known_values() {
        // Monotone but non-linear: Spearman 1, Pearson below 1.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 4.0, 9.0, 16.0, 100.0];
        assert!((spearman(&x, &y) - 1.0).abs() < 1e-12);
        assert!(pearson(&x, &y) < 0.95);
        // scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]).correlation == 0.9486832980505138
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]);
        assert!((r - 0.9486832980505138).abs() < 1e-12, "{r}");
    }
}
