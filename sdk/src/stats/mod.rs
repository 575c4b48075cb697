//! Basic statistics the steps share: correlations with tie-aware ranks.
//!
//! Later steps add t-tests, FDR and permutation helpers here.

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
