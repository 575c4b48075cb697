//! Which stimuli an analysis runs on: the study's selection of the reliably predicted stimuli,
//! and the checks that map a selection onto Y's rows and onto model RSMs.
use crate::rsm::square;
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::{Array2, Axis};

/// The n stimuli whose responses the encoding model predicts best (per-stimulus leave-one-out
/// accuracy), as the study selected them for RSA.
#[derive(Options, Step)]
#[step(
    name = "select_reliable",
    param(accuracy: Tensor = "per-stimulus accuracy (a vector; NaN = not available, never selected)"),
    param(n: Int = "how many stimuli to keep (the study: 1,000)"),
    returns = "i64 indices of the n highest accuracies, in ascending stimulus order (equal accuracies at the cut: lower index first); n above the number of non-NaN accuracies is an error",
    section = "Methods: searchlight RSA (the 1,000 most reliably predicted stimuli)",
    example = "let keep = rsa::select_reliable(acc, 1000);\nlet maps = rsa::searchlight(Y, C, M, [S], #{stimuli: keep});"
)]
pub struct SelectReliable;

impl step::Step for SelectReliable {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let n = args[1]
            .as_i64()
            .ok_or_else(|| emoscope_sdk::Error::msg("n must be an integer"))?;
        Ok(Value::Tensor(select_reliable(
            &args[0].to_tensor("accuracy")?,
            n,
        )?))
    }
}

/// The indices (ascending) of the `n` stimuli with the highest accuracy; NaN is never chosen,
/// equal accuracies at the cut go to the lower index.
pub fn select_reliable(accuracy: &Tensor, n: i64) -> Result<Tensor> {
    ensure!(
        accuracy.ndim() == 1,
        "accuracy must be a vector (one value per stimulus), got shape {:?}",
        accuracy.shape()
    );
    let a = accuracy.to_f64()?;
    let mut valid: Vec<usize> = (0..a.len()).filter(|&i| !a[i].is_nan()).collect();
    ensure!(n >= 1, "n must be at least 1, got {n}");
    ensure!(
        n as usize <= valid.len(),
        "cannot select {n} stimuli: only {} of {} have a (non-NaN) accuracy",
        valid.len(),
        a.len()
    );
    valid.sort_by(|&i, &j| a[j].total_cmp(&a[i]).then(i.cmp(&j)));
    let mut pick: Vec<i64> = valid[..n as usize].iter().map(|&i| i as i64).collect();
    pick.sort_unstable();
    Tensor::from_vec(pick, &[n as usize])
}

/// Stimulus indices (rows of Y) from an optional 1-D integer tensor: in range, no repeats.
pub(crate) fn stimulus_indices(t: Option<&Tensor>, n_rows: usize) -> Result<Vec<usize>> {
    let Some(t) = t else {
        return Ok((0..n_rows).collect());
    };
    ensure!(
        t.ndim() == 1,
        "stimuli must be a 1-D tensor of row indices, got shape {:?}",
        t.shape()
    );
    ensure!(
        !t.dtype().is_float(),
        "stimuli must be integer row indices (e.g. from rsa::select_reliable), got {}",
        t.dtype()
    );
    let mut seen = vec![false; n_rows];
    t.to_i64()?
        .iter()
        .map(|&i| {
            ensure!(
                i >= 0 && (i as usize) < n_rows,
                "stimulus index {i} is out of range for {n_rows} stimuli (rows of Y)"
            );
            ensure!(
                !seen[i as usize],
                "stimulus index {i} is repeated in stimuli"
            );
            seen[i as usize] = true;
            Ok(i as usize)
        })
        .collect()
}

/// A model RSM over the selected stimuli: either already that size, or the full-size RSM (one
/// row per row of Y) from which the selected rows and columns are taken.
pub(crate) fn model_over(
    t: &Tensor,
    what: &str,
    n_rows: usize,
    stim: &[usize],
) -> Result<Array2<f64>> {
    let m = square(t, what)?;
    let n = m.nrows();
    let out = if n == stim.len() {
        m.to_owned()
    } else if n == n_rows {
        m.select(Axis(0), stim).select(Axis(1), stim)
    } else {
        bail!(
            "{what} is {n}×{n}, but the analysis has {} selected stimuli of {n_rows}: give an RSM over the selected stimuli or over all {n_rows}",
            stim.len()
        )
    };
    if let Some(((i, j), x)) = out.indexed_iter().find(|(_, x)| !x.is_finite()) {
        bail!("{what} has a non-finite value {x} at [{i}, {j}] (of the selected stimuli)");
    }
    Ok(out)
}
