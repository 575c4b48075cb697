//! Sharded ridge runs (a job array over voxels): which voxels a shard fits, and
//! `encoding::merge`, which joins the shards' outputs into exactly the whole-run result.
use emoscope_sdk::shard::Shard;
use emoscope_sdk::step::Step;
use emoscope_sdk::{bail, ensure, Ctx, Options, Result, Tensor, Value};
use ndarray::{ArrayD, Axis};

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

/// Join the outputs of sharded ridge_cv runs (same data, shard "1/N" .. "N/N") into the
/// whole-run result; every voxel must come from exactly one shard.
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(parts: List = "ridge_cv results"),
    returns = "the ridge_cv result of the whole run",
    example = "let e = encoding::merge([encoding::ridge_cv(X, Y, #{shard: \"1/2\"}), encoding::ridge_cv(X, Y, #{shard: \"2/2\"})]);"
)]
pub struct Merge;

impl Step for Merge {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let Some(parts) = args[0].as_list() else {
            bail!("parts must be a list of ridge_cv results")
        };
        merge(parts)
    }
}

/// Merge shard outputs of `ridge_cv` into the whole-run result: every voxel must come from
/// exactly one shard.
pub fn merge(parts: &[Value]) -> Result<Value> {
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
