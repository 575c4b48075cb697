//! Stimulus profiles: the stimuli that weigh most on each component, and each stimulus's weights
//! across the components (the data behind the study's rose diagrams); the `affect::top_stimuli`
//! and `affect::profiles` steps.
use crate::script::{check_names, ensure_finite, positional, x_matrix};
use emoscope_sdk::step::{self, StepSpec};
use emoscope_sdk::{ensure, vmap, Ctx, Error, Options, Result, Step, Tensor, Value};
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

/// For every component (column of X), the `k` stimuli (rows) with the largest weights, in
/// descending order (ties to the lower row): the stimuli that define a component.
#[derive(Options, Step)]
#[step(
    name = "top_stimuli",
    param(X: Tensor = "stimuli × components"),
    returns = "#{index (components × k i64, 0-based rows), weight (components × k f64), names: [[string]] per component (only with the names option)}",
    section = "Results: what the dimensions mean (the top stimuli of each component)",
    example = "let T = affect::top_stimuli(X, #{k: 10, names: R.stimuli});\nprint(T.names[0]);",
)]
pub struct TopStimuli {
    /// stimuli per component, 1..stimuli
    #[opt(default = 10)]
    pub k: usize,
    /// one name per stimulus (e.g. io::ratings(...).stimuli); adds `names`
    pub names: Option<Vec<String>>,
}

impl step::Step for TopStimuli {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let [x] = positional(args, Self::NAME, ["X"])?;
        let x = x_matrix(x)?;
        check_names(&self.names, x.nrows(), "stimuli (rows)", "stimulus")?;
        ensure_finite(x.view(), "X")?;
        let (idx, w) = top_stimuli(x.view(), self.k)?;
        let mut out = vmap! {
            "index" => Tensor::from_array(idx.clone()),
            "weight" => Tensor::from_array(w),
        };
        if let (Some(names), Value::Map(m)) = (&self.names, &mut out) {
            let lists: Vec<Value> = idx
                .rows()
                .into_iter()
                .map(|row| {
                    Value::List(
                        row.iter()
                            .map(|&i| Value::Str(names[i as usize].clone()))
                            .collect(),
                    )
                })
                .collect();
            m.insert("names".into(), Value::List(lists));
        }
        Ok(out)
    }
}

/// Each chosen stimulus's weights on every component (rows of X): the data behind the study's rose
/// diagrams.
#[derive(Options, Step)]
#[step(
    name = "profiles",
    param(X: Tensor = "stimuli × components"),
    param(stimuli: Any = "a stimulus index or a list of them (0-based rows of X)"),
    returns = "#{stimuli: [int], weights (stimuli chosen × components f64)}",
    section = "Results: what the dimensions mean (rose diagrams of single stimuli)",
    example = "let P = affect::profiles(X, [0, 17, 512]);\nprint(P.weights);",
)]
pub struct Profiles;

impl step::Step for Profiles {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let [x, stimuli] = positional(args, Self::NAME, ["X", "stimuli"])?;
        let x = x_matrix(x)?;
        let idx = stimulus_indices(stimuli)?;
        ensure!(
            !idx.is_empty(),
            "stimuli is empty: give at least one stimulus index"
        );
        let w = profiles(x.view(), &idx)?;
        Ok(vmap! {
            "stimuli" => Value::List(idx.into_iter().map(Value::from).collect()),
            "weights" => Tensor::from_array(w),
        })
    }
}

/// Stimulus indices: one int, a list of ints, or a 1-D integer tensor.
fn stimulus_indices(v: &Value) -> Result<Vec<i64>> {
    let bad = |what: String| {
        Error::msg(format!(
            "stimuli must be a stimulus index (int) or a list of them (0-based rows of X), got {what}"
        ))
    };
    match v {
        Value::Int(i) => Ok(vec![*i]),
        Value::List(l) => l
            .iter()
            .enumerate()
            .map(|(p, e)| match e {
                Value::Int(i) => Ok(*i),
                other => Err(bad(format!("{} at position {p}", other.type_name()))),
            })
            .collect(),
        Value::Tensor(t) if t.ndim() <= 1 && !t.dtype().is_float() => {
            Ok(t.to_vec_f64()?.into_iter().map(|f| f as i64).collect())
        }
        Value::Tensor(t) => Err(bad(format!(
            "a {} tensor of shape {:?}",
            t.dtype().name(),
            t.shape()
        ))),
        other => Err(bad(other.type_name().to_string())),
    }
}
