//! Stimulus profiles: the stimuli that weigh most on each component, and each stimulus's weights
//! across the components (the data behind the study's rose diagrams).
use emoscope_sdk::{ensure, Result};
use ndarray::{Array2, ArrayView2, Axis};

/// Per component (column of X), the `k` stimuli (rows) with the largest weights, descending
/// (ties to the lower row): (indices components × k, weights components × k).
pub fn top_stimuli(x: ArrayView2<f64>, k: usize) -> Result<(Array2<i64>, Array2<f64>)> {
    let (n, d) = x.dim();
    ensure!(
        k >= 1 && k <= n,
        "k must be between 1 and the number of stimuli ({n}), got {k}"
    );
    let mut idx = Array2::<i64>::zeros((d, k));
    let mut w = Array2::<f64>::zeros((d, k));
    for (c, col) in x.axis_iter(Axis(1)).enumerate() {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| col[b].total_cmp(&col[a]).then(a.cmp(&b)));
        for (t, &i) in order[..k].iter().enumerate() {
            idx[[c, t]] = i as i64;
            w[[c, t]] = col[i];
        }
    }
    Ok((idx, w))
}

/// Rows of X for the given stimuli (s × components), indices checked against the row count.
pub fn profiles(x: ArrayView2<f64>, stimuli: &[i64]) -> Result<Array2<f64>> {
    let n = x.nrows();
    let mut rows = Vec::with_capacity(stimuli.len());
    for (p, &s) in stimuli.iter().enumerate() {
        ensure!(
            s >= 0 && (s as u64) < n as u64,
            "stimuli[{p}] = {s} is out of range: X has {n} stimuli (rows), so indices run 0..{} (0-based)",
            n.saturating_sub(1)
        );
        rows.push(s as usize);
    }
    Ok(x.select(Axis(0), &rows))
}
