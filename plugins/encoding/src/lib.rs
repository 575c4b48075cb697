//! Voxel-wise encoding (the study's "Encoding analysis"): ridge regression from an embedding
//! (stimuli × ~30) to every voxel, 5-fold outer CV, a 6-fold inner CV choosing each voxel's
//! alpha from 100 log-spaced values in [1e-3, 1e3], scored by Pearson r on held-out stimuli;
//! and the leave-one-stimulus-out accuracy the study used to pick the 1,000 best-predicted
//! stimuli for searchlight RSA.
//!
//! Functions scripts call: `encoding::ridge_cv(X, Y, #{...})`, `encoding::loo_stimulus_accuracy(X,
//! Y, #{...})`, `encoding::merge(parts)`.
pub mod folds;
pub mod loo;
pub mod ridge;
#[cfg(test)]
mod tests;

use emoscope_sdk::shard::Shard;
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, Device, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use ndarray::{ArrayD, Axis};
use serde::Deserialize;

pub struct Encoding;

pub fn plugin() -> Encoding {
    Encoding
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RidgeOpt {
    #[serde(default = "d_outer")]
    outer: usize,
    #[serde(default = "d_inner")]
    inner: usize,
    alphas: Option<Tensor>,
    groups: Option<Tensor>,
    #[serde(default)]
    weights: bool,
    #[serde(default)]
    predictions: bool,
    device: Option<String>,
    shard: Option<String>,
}
fn d_outer() -> usize {
    5
}
fn d_inner() -> usize {
    6
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LooOpt {
    alphas: Option<Tensor>,
    alpha: Option<Tensor>,
}

/// The study's grid: 100 log-spaced values in [1e-3, 1e3].
pub fn default_alphas() -> Vec<f64> {
    (0..100)
        .map(|i| 10f64.powf(-3.0 + 6.0 * i as f64 / 99.0))
        .collect()
}

fn alphas_opt(t: &Option<Tensor>) -> Result<Vec<f64>> {
    Ok(match t {
        None => default_alphas(),
        Some(t) => {
            ensure!(
                t.ndim() <= 1,
                "alphas must be a vector, got shape {:?}",
                t.shape()
            );
            t.to_vec_f64()?
        }
    })
}

/// `"K/N"` (1-based K) → the voxel range of shard K when the voxels' batches are split into
/// N contiguous parts. Shards cut at batch boundaries, so every voxel is computed in the same
/// batch as in a whole run and merged shards equal a whole run bit for bit.
pub fn shard_range(
    shard: Option<&str>,
    voxels: usize,
    size: usize,
) -> Result<(std::ops::Range<usize>, String)> {
    let s = match shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::WHOLE,
    };
    let b = s.range(voxels.div_ceil(size));
    Ok((
        (b.start * size).min(voxels)..(b.end * size).min(voxels),
        s.to_string(),
    ))
}

fn ridge_value(
    o: &ridge::Output,
    range: &std::ops::Range<usize>,
    shard: &str,
    opt: &RidgeOpt,
    n_alphas: usize,
) -> Value {
    let mut m = vmap! {
        "r" => Tensor::from_array(o.r.clone()),
        "alphas" => Tensor::from_array(o.alphas.clone()),
        "shard" => shard.to_string(),
        "voxels" => Value::List(vec![Value::from(range.start), Value::from(range.end)]),
        "outer" => opt.outer,
        "inner" => opt.inner,
        "n_alphas" => n_alphas,
    };
    if let (Value::Map(m), Some((w, b))) = (&mut m, &o.weights) {
        m.insert(
            "weights".into(),
            Value::Tensor(Tensor::from_array(w.clone())),
        );
        m.insert(
            "intercepts".into(),
            Value::Tensor(Tensor::from_array(b.clone())),
        );
    }
    if let (Value::Map(m), true) = (&mut m, opt.predictions) {
        m.insert(
            "predictions".into(),
            Value::Tensor(Tensor::from_array(o.predictions.clone())),
        );
    }
    m
}

/// Merge shard outputs of `ridge_cv` into the whole-run result: every voxel must come from
/// exactly one shard.
fn merge(parts: &[Value]) -> Result<Value> {
    ensure!(!parts.is_empty(), "merge needs at least one shard output");
    let range_of = |p: &Value, i: usize| -> Result<(usize, usize)> {
        let v = p.get("voxels").map_err(|_| {
            emoscope_sdk::Error::msg(format!(
                "part {i} is not an encoding::ridge_cv result (no `voxels`)"
            ))
        })?;
        let l = v.as_list().unwrap_or_default();
        match (
            l.first().and_then(Value::as_i64),
            l.get(1).and_then(Value::as_i64),
        ) {
            (Some(a), Some(b)) if 0 <= a && a <= b => Ok((a as usize, b as usize)),
            _ => bail!("part {i}: `voxels` must be [start, end]"),
        }
    };
    let mut ranges: Vec<(usize, usize, usize)> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let (a, b) = range_of(p, i)?;
        ranges.push((a, b, i));
    }
    ranges.sort();
    let nv = parts[0].get("r")?.to_tensor("r")?.len();
    let mut at = 0;
    for &(a, b, i) in &ranges {
        ensure!(
            a <= at,
            "shards leave voxels {at}..{a} uncovered (missing shard before part {i})"
        );
        ensure!(a >= at, "part {i} (voxels {a}..{b}) overlaps another shard");
        at = b;
    }
    ensure!(
        at == nv,
        "shards cover voxels 0..{at} of {nv}: a shard is missing"
    );
    let mut out = parts[ranges[0].2].as_map().cloned().unwrap_or_default();
    for key in ["r", "alphas", "weights", "intercepts", "predictions"] {
        let Ok(first) = parts[0].get(key) else {
            continue;
        };
        let first = first.to_tensor(key)?;
        let mut whole: ArrayD<f64> = first.to_f64()?.to_owned();
        let axis = whole.ndim() - 1;
        for &(a, b, i) in &ranges {
            let t = parts[i].get(key)?.to_tensor(key)?.to_f64()?;
            ensure!(
                t.shape() == whole.shape(),
                "part {i}: `{key}` has shape {:?}, part 0 {:?}",
                t.shape(),
                whole.shape()
            );
            whole
                .slice_axis_mut(Axis(axis), (a..b).into())
                .assign(&t.slice_axis(Axis(axis), (a..b).into()));
        }
        let t = Tensor::from_array(whole).astype(first.dtype());
        out.insert(key.into(), Value::Tensor(t));
    }
    out.insert("shard".into(), Value::Str("merged".into()));
    out.insert(
        "voxels".into(),
        Value::List(vec![Value::from(0usize), Value::from(nv)]),
    );
    Ok(Value::Map(out))
}

fn device_of(opt: &Option<String>, ctx: &Ctx) -> Result<Device> {
    Ok(match opt {
        Some(d) => d.parse()?,
        None => ctx.device,
    })
}

impl Plugin for Encoding {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "encoding".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Voxel-wise encoding: ridge with nested CV and per-voxel alpha, leave-one-stimulus-out accuracy".into(),
            functions: vec![
                FnSpec::new("ridge_cv", "Ridge from an embedding to every voxel with nested cross-validation: outer folds score held-out stimuli; within each outer training set an inner CV picks each voxel's alpha by validation MSE (himalaya's rule: MSE per inner fold averaged over folds, ties to the larger alpha). X and Y are centred with each training fold's means, so the intercept is not penalised. Folds are contiguous blocks in stimulus order (scikit-learn's unshuffled KFold) unless groups keep stimuli together. The score is Pearson r between the concatenated out-of-fold predictions and the data.")
                    .param("X", Ty::Tensor, "stimuli × features (the embedding)")
                    .param("Y", Ty::Tensor, "stimuli × voxels (fMRI responses, rows aligned with X)")
                    .opt("outer", Ty::Int, "5", "outer folds (scoring)")
                    .opt("inner", Ty::Int, "6", "inner folds (alpha selection, within each outer training set)")
                    .opt("alphas", Ty::Tensor, "tensor::logspace(-3.0, 3.0, 100)", "the alpha grid")
                    .opt("groups", Ty::Tensor, "none", "a label per stimulus (run, or repeated stimulus): a group never straddles training and test, at both levels")
                    .opt("weights", Ty::Bool, "false", "also return each outer fold's refitted weights (outer × features × voxels, in X's units) and intercepts (outer × voxels)")
                    .opt("predictions", Ty::Bool, "false", "also return the out-of-fold predictions (stimuli × voxels)")
                    .opt("device", Ty::Str, "run device", "cpu, or torch:cpu / cuda / cuda:N for the libtorch engine (feature torch)")
                    .opt("shard", Ty::Str, "\"1/1\"", "\"K/N\": fit only shard K of N contiguous voxel ranges (a job array); encoding::merge joins the parts into exactly the whole-run result")
                    .returns("#{r (voxels f64; NaN outside the shard), alphas (outer × voxels), shard, voxels: [start, end], outer, inner, n_alphas, weights?, intercepts?, predictions?}")
                    .section("Methods: encoding analysis (ridge, 5-fold outer / 6-fold inner CV, 100 alphas in [1e-3, 1e3])")
                    .example("let e = encoding::ridge_cv(X, Y, #{outer: 5, inner: 6, alphas: tensor::logspace(-3.0, 3.0, 100)});"),
                FnSpec::new("loo_stimulus_accuracy", "For each stimulus, ridge trained on all the others predicts its voxel pattern; the accuracy is Pearson r across voxels between predicted and measured patterns. Uses the exact closed-form leave-one-out of ridge (residual / (1 − leverage)), not n refits. Each voxel's alpha minimises its leave-one-out MSE over the grid unless `alpha` fixes it.")
                    .param("X", Ty::Tensor, "stimuli × features")
                    .param("Y", Ty::Tensor, "stimuli × voxels")
                    .opt("alphas", Ty::Tensor, "tensor::logspace(-3.0, 3.0, 100)", "grid for the per-voxel alpha")
                    .opt("alpha", Ty::Tensor, "none", "fixed alpha: a number, or one per voxel (e.g. a ridge_cv result's alphas averaged over folds)")
                    .returns("stimuli f64 tensor of accuracies (feed it to rsa::select_reliable)")
                    .section("Methods: searchlight RSA (stimuli selected by leave-one-out encoding accuracy)")
                    .example("let acc = encoding::loo_stimulus_accuracy(X, Y);\nlet keep = rsa::select_reliable(acc, 1000);"),
                FnSpec::new("merge", "Join the outputs of sharded ridge_cv runs (same data, shard \"1/N\" .. \"N/N\") into the whole-run result; every voxel must come from exactly one shard.")
                    .param("parts", Ty::List, "ridge_cv results")
                    .returns("the ridge_cv result of the whole run")
                    .example("let e = encoding::merge([encoding::ridge_cv(X, Y, #{shard: \"1/2\"}), encoding::ridge_cv(X, Y, #{shard: \"2/2\"})]);"),
            ],
        }
    }

    fn call(&self, function: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match function {
            "ridge_cv" => {
                let o: RidgeOpt = options::parse(opts)?;
                let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
                let y = args[1].to_tensor("Y")?.matrix::<f32>("Y")?;
                let alphas = alphas_opt(&o.alphas)?;
                let groups = match &o.groups {
                    Some(g) => Some(
                        g.astype(emoscope_sdk::DType::I64)
                            .vector::<i64>("groups")?
                            .to_vec(),
                    ),
                    None => None,
                };
                let device = device_of(&o.device, ctx)?;
                let shard = o.shard.clone().or_else(|| ctx.shard.clone());
                let (range, shard) =
                    shard_range(shard.as_deref(), y.ncols(), ridge::batch_size(device))?;
                let cfg = ridge::Config {
                    outer: o.outer,
                    inner: o.inner,
                    alphas,
                    groups,
                    weights: o.weights,
                    voxels: range.clone(),
                };
                let out = ridge::ridge_cv(x.view(), y.view(), &cfg, device, ctx)?;
                Ok(ridge_value(&out, &range, &shard, &o, cfg.alphas.len()))
            }
            "loo_stimulus_accuracy" => {
                let o: LooOpt = options::parse(opts)?;
                let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
                let y = args[1].to_tensor("Y")?.matrix::<f32>("Y")?;
                let alphas = match &o.alpha {
                    Some(a) if a.numel() == 1 => {
                        loo::Alphas::PerVoxel(vec![a.to_vec_f64()?[0]; y.ncols()])
                    }
                    Some(a) => loo::Alphas::PerVoxel(a.to_vec_f64()?),
                    None => loo::Alphas::Grid(alphas_opt(&o.alphas)?),
                };
                let out = loo::loo_accuracy(x.view(), y.view(), &alphas, ctx)?;
                Ok(Value::Tensor(Tensor::from_array(out.accuracy)))
            }
            "merge" => {
                let Some(parts) = args[0].as_list() else {
                    bail!("parts must be a list of ridge_cv results")
                };
                merge(parts)
            }
            other => bail!("encoding has no function '{other}'"),
        }
    }
}
