//! The merge of sharded searchlight runs: the shards of one call, each scoring a contiguous
//! voxel range, put back together into exactly the result of a single run.
use super::{shard_range, shard_value};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, vmap, Ctx, Options, Result, Step, Tensor, Value};

/// Merge the results of rsa::searchlight shards ("1/N" .. "N/N") into exactly the result of a
/// single run.
#[derive(Options, Step)]
#[step(
    name = "merge",
    param(parts: List = "the shard results (each a list of maps, one per model), in any order"),
    returns = "the single-run result: list of #{r, n_voxels, shard: #{index: 1, count: 1, start: 0, end: voxels}, centres}; overlapping, missing or mismatched shards are errors",
    section = super::SECTION,
    example = "let parts = [];\nfor k in 1..=4 { parts.push(rsa::searchlight(Y, C, M, [S], #{shard: `${k}/4`})); }\nlet maps = rsa::merge(parts);"
)]
pub struct Merge;

impl step::Step for Merge {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let Some(parts) = args[0].as_list() else {
            bail!(
                "parts must be a list of searchlight results, got {}",
                args[0].type_name()
            );
        };
        merge(parts)
    }
}

/// A non-negative integer entry `key` of a shard result's map `v`; `what` names the map.
fn int_of(v: &Value, key: &str, what: &str) -> Result<usize> {
    let x = v
        .get(key)?
        .as_i64()
        .ok_or_else(|| emoscope_sdk::Error::msg(format!("{what}.{key} must be an integer")))?;
    ensure!(x >= 0, "{what}.{key} must be non-negative, got {x}");
    Ok(x as usize)
}

/// Merge the outputs of `rsa::searchlight` shards (a list of their results) into the result of a
/// single run.
pub fn merge(parts: &[Value]) -> Result<Value> {
    ensure!(
        !parts.is_empty(),
        "merge needs the list of shard results, got an empty list"
    );
    let mut n_models = None;
    let mut count = None;
    let mut n_vox: Option<Tensor> = None;
    let mut by_index: Vec<Option<usize>> = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        let what = format!("parts[{p}]");
        let Some(maps) = part.as_list() else {
            bail!(
                "{what} must be a searchlight result (a list of maps, one per model), got {}",
                part.type_name()
            );
        };
        ensure!(
            !maps.is_empty(),
            "{what} is an empty list: not a searchlight result"
        );
        match n_models {
            None => n_models = Some(maps.len()),
            Some(nm) => ensure!(
                nm == maps.len(),
                "{what} has {} model maps, parts[0] has {nm}: shards must come from the same call",
                maps.len()
            ),
        }
        let sh = maps[0].get("shard")?;
        let (k, n) = (
            int_of(sh, "index", &format!("{what}.shard"))?,
            int_of(sh, "count", &format!("{what}.shard"))?,
        );
        ensure!(
            k >= 1 && k <= n,
            "{what}.shard is {k}/{n}: not a valid shard"
        );
        match count {
            None => {
                count = Some(n);
                by_index = vec![None; n];
            }
            Some(c) => ensure!(
                c == n,
                "{what} is shard {k}/{n} but parts[0] splits into {c}: shards of different splits cannot be merged"
            ),
        }
        if let Some(q) = by_index[k - 1] {
            bail!("parts[{q}] and parts[{p}] are both shard {k}/{n}: overlapping shards");
        }
        by_index[k - 1] = Some(p);
        for (m, map) in maps.iter().enumerate() {
            let nv = map.get("n_voxels")?.to_tensor("n_voxels")?;
            match &n_vox {
                None => n_vox = Some(nv),
                Some(first) => ensure!(
                    first.shape() == nv.shape() && first.bit_equal(&nv)?,
                    "{what}[{m}].n_voxels differs from parts[0]'s: the shards were run on different data or settings"
                ),
            }
        }
    }
    let n = count.unwrap();
    let missing: Vec<String> = (0..n)
        .filter(|&k| by_index[k].is_none())
        .map(|k| format!("{}/{n}", k + 1))
        .collect();
    ensure!(
        missing.is_empty(),
        "missing shards: {} (have {} of {n})",
        missing.join(", "),
        n - missing.len()
    );
    let n_vox = n_vox.unwrap();
    let v = n_vox.len();
    let nm = n_models.unwrap();
    let mut r = vec![vec![f64::NAN; v]; nm];
    let mut centres = 0usize;
    for k in 1..=n {
        let p = by_index[k - 1].unwrap();
        let maps = parts[p].as_list().unwrap();
        let (start, end) = shard_range(k, n, v);
        let sh = maps[0].get("shard")?;
        ensure!(
            int_of(sh, "start", "shard")? == start && int_of(sh, "end", "shard")? == end,
            "parts[{p}] (shard {k}/{n}) covers voxels {}..{}, expected {start}..{end} for {v} voxels",
            int_of(sh, "start", "shard")?,
            int_of(sh, "end", "shard")?
        );
        centres += int_of(&maps[0], "centres", &format!("parts[{p}][0]"))?;
        for (m, map) in maps.iter().enumerate() {
            let rm = map.get("r")?.to_tensor("r")?.to_f64()?;
            ensure!(
                rm.len() == v,
                "parts[{p}][{m}].r has {} values, n_voxels {v}",
                rm.len()
            );
            for i in start..end {
                r[m][i] = rm[i];
            }
        }
    }
    let maps = r
        .into_iter()
        .map(|rm| {
            Ok(vmap! {
                "r" => Tensor::from_vec(rm, &[v])?,
                "n_voxels" => n_vox.clone(),
                "shard" => shard_value(1, 1, 0, v),
                "centres" => centres,
            })
        })
        .collect::<Result<Vec<Value>>>()?;
    Ok(Value::List(maps))
}
