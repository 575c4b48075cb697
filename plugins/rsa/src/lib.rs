//! Representational similarity analysis (the study's "Searchlight RSA" and model comparison):
//! similarity matrices of stimulus representations, their comparison by rank correlation with a
//! Mantel permutation test, RSA within ROIs, whole-brain searchlight RSA (sharded and merged),
//! and the selection of the reliably predicted stimuli the study ran RSA on.
//!
//! Functions scripts call: `rsa::rsm(X, #{metric})`, `rsa::compare(a, b, #{method, permutations,
//! seed})`, `rsa::roi(Y, rois, model, #{...})`, `rsa::searchlight(Y, coords, mask, models,
//! #{...})`, `rsa::merge(parts)`, `rsa::select_reliable(accuracy, n)`. Methods: `docs/rsa.md`.
mod rank;
pub mod searchlight;

pub use rank::kendall_tau_a;

use emoscope_sdk::linalg::{similarity_matrix, Similarity};
use emoscope_sdk::stats::{pearson, rank_average};
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, Device, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::Deserialize;

pub struct Rsa;

pub fn plugin() -> Rsa {
    Rsa
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RsmOptions {
    #[serde(default = "pearson_name")]
    metric: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareOptions {
    #[serde(default = "spearman_name")]
    method: String,
    #[serde(default)]
    permutations: usize,
    #[serde(default)]
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoiOptions {
    #[serde(default)]
    stimuli: Option<Tensor>,
    #[serde(default = "pearson_name")]
    metric: String,
    #[serde(default = "spearman_name")]
    method: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchlightOptions {
    #[serde(default = "three")]
    radius: f64,
    #[serde(default)]
    stimuli: Option<Tensor>,
    #[serde(default = "two")]
    min_voxels: usize,
    #[serde(default = "one")]
    threshold: f64,
    #[serde(default = "pearson_name")]
    metric: String,
    #[serde(default)]
    inclusive: bool,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    shard: Option<String>,
    #[serde(default = "f32_name")]
    precision: String,
}

fn pearson_name() -> String {
    "pearson".into()
}
fn spearman_name() -> String {
    "spearman".into()
}
fn three() -> f64 {
    3.0
}
fn two() -> usize {
    2
}
fn one() -> f64 {
    1.0
}
fn f32_name() -> String {
    "f32".into()
}
fn whole() -> String {
    "1/1".into()
}

/// The stimuli × stimuli similarity matrix of the rows of `x`: pearson, cosine, spearman (the
/// sdk's `similarity_matrix`) or euclidean (−‖xᵢ − xⱼ‖, computed from the differences).
pub fn rsm_matrix(x: ArrayView2<f64>, metric: &str) -> Result<Array2<f64>> {
    Ok(match metric {
        "pearson" => similarity_matrix(x, Similarity::Pearson),
        "cosine" => similarity_matrix(x, Similarity::Cosine),
        "spearman" => similarity_matrix(x, Similarity::Spearman),
        "euclidean" => {
            let n = x.nrows();
            let rows: Vec<Vec<f64>> = (0..n)
                .into_par_iter()
                .map(|i| {
                    (0..n)
                        .map(|j| {
                            let d: f64 = x
                                .row(i)
                                .iter()
                                .zip(x.row(j))
                                .map(|(a, b)| (a - b) * (a - b))
                                .sum();
                            -d.sqrt()
                        })
                        .collect()
                })
                .collect();
            Array2::from_shape_fn((n, n), |(i, j)| rows[i.min(j)][i.max(j)])
        }
        other => bail!("unknown metric '{other}': expected pearson, cosine, spearman or euclidean"),
    })
}

/// Upper triangle (i < j) of a square matrix, row by row.
fn upper(m: &ndarray::ArcArray2<f64>) -> Vec<f64> {
    upper_view(m.view())
}

fn upper_view(m: ArrayView2<f64>) -> Vec<f64> {
    let n = m.nrows();
    (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| m[[i, j]])
        .collect()
}

fn square(t: &Tensor, what: &str) -> Result<ndarray::ArcArray2<f64>> {
    let m = t.matrix::<f64>(what)?;
    ensure!(
        m.nrows() == m.ncols(),
        "{what} must be square (an RSM), got {}×{}",
        m.nrows(),
        m.ncols()
    );
    Ok(m)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Spearman,
    Pearson,
    Kendall,
}

fn method(name: &str) -> Result<Method> {
    Ok(match name {
        "spearman" => Method::Spearman,
        "pearson" => Method::Pearson,
        "kendall" => Method::Kendall,
        other => bail!("unknown method '{other}': expected spearman, pearson or kendall"),
    })
}

/// The RSM correlation and its Mantel permutation p-value.
pub fn compare(
    a: &Tensor,
    b: &Tensor,
    method_name: &str,
    permutations: usize,
    seed: u64,
    ctx: &Ctx,
) -> Result<(f64, f64, usize)> {
    let (ma, mb) = (square(a, "first RSM")?, square(b, "second RSM")?);
    ensure!(
        ma.nrows() == mb.nrows(),
        "the RSMs differ in size: {}×{} vs {}×{}",
        ma.nrows(),
        ma.nrows(),
        mb.nrows(),
        mb.nrows()
    );
    let n = ma.nrows();
    ensure!(n >= 3, "RSMs need at least 3 items, got {n}");
    let how = method(method_name)?;
    let prep = |v: Vec<f64>| {
        if how == Method::Spearman {
            rank_average(&v)
        } else {
            v
        }
    };
    let stat = |x: &[f64], y: &[f64]| {
        if how == Method::Kendall {
            kendall_tau_a(x, y)
        } else {
            pearson(x, y)
        }
    };
    let ua = prep(upper(&ma));
    // Ranking b once and permuting the ranks equals ranking each permuted b.
    let rb = {
        let ub = prep(upper(&mb));
        let mut full = ndarray::Array2::<f64>::zeros((n, n));
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                full[[i, j]] = ub[k];
                full[[j, i]] = ub[k];
                k += 1;
            }
        }
        full
    };
    let gather = |perm: &[usize]| -> Vec<f64> {
        let mut v = Vec::with_capacity(ua.len());
        for i in 0..n {
            for j in i + 1..n {
                v.push(rb[[perm[i], perm[j]]]);
            }
        }
        v
    };
    let identity: Vec<usize> = (0..n).collect();
    let r = stat(&ua, &gather(&identity));
    if permutations == 0 {
        return Ok((r, f64::NAN, ua.len()));
    }
    let bar = ctx.progress("rsa::compare permutations", permutations as u64);
    // One ChaCha8 stream per permutation: the result does not depend on the thread count.
    let exceed: Result<Vec<bool>> = (0..permutations)
        .into_par_iter()
        .map(|p| {
            ctx.check()?;
            let mut rng = emoscope_sdk::ctx::Rng::seed_from_u64(seed);
            rng.set_stream(p as u64 + 1);
            let mut perm = identity.clone();
            perm.shuffle(&mut rng);
            let rp = stat(&ua, &gather(&perm));
            bar.inc(1);
            Ok(rp >= r)
        })
        .collect();
    let count = exceed?.into_iter().filter(|&x| x).count();
    Ok((r, (1 + count) as f64 / (1 + permutations) as f64, ua.len()))
}

/// Stimulus indices (rows of Y) from an optional 1-D integer tensor: in range, no repeats.
fn stimulus_indices(t: &Option<Tensor>, n_rows: usize) -> Result<Vec<usize>> {
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
fn model_over(t: &Tensor, what: &str, n_rows: usize, stim: &[usize]) -> Result<Array2<f64>> {
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

/// RSA within each ROI: map name → #{r, n_voxels}.
pub fn roi(
    y: &Tensor,
    rois: &Map,
    model: &Tensor,
    o_stimuli: &Option<Tensor>,
    metric: &str,
    method_name: &str,
    ctx: &Ctx,
) -> Result<Value> {
    let y = y.matrix::<f64>("Y")?;
    let stim = stimulus_indices(o_stimuli, y.nrows())?;
    ensure!(
        stim.len() >= 3,
        "ROI RSA needs at least 3 stimuli, got {}",
        stim.len()
    );
    let model = Tensor::from_array(model_over(model, "model RSM", y.nrows(), &stim)?);
    method(method_name)?;
    rsm_matrix(ndarray::Array2::<f64>::zeros((1, 1)).view(), metric)?;
    ensure!(
        !rois.is_empty(),
        "rois is empty: give a map of ROI name → voxel flags"
    );
    let ys = y.select(Axis(0), &stim);
    let mut out = Map::new();
    for (name, flags) in rois {
        ctx.check()?;
        let f = flags.to_tensor(&format!("rois.{name}"))?;
        ensure!(
            f.ndim() == 1 && f.len() == y.ncols(),
            "rois.{name} must be one flag per voxel ({} voxels, the columns of Y), got shape {:?}",
            y.ncols(),
            f.shape()
        );
        let vox: Vec<usize> = f
            .to_f64()?
            .iter()
            .enumerate()
            .filter(|(_, &x)| x != 0.0)
            .map(|(i, _)| i)
            .collect();
        ensure!(
            !vox.is_empty(),
            "ROI '{name}' has no voxels (every flag is 0): remove it or fix its flags"
        );
        let x = ys.select(Axis(1), &vox);
        let neural = Tensor::from_array(rsm_matrix(x.view(), metric)?);
        let (r, _, _) = compare(&neural, &model, method_name, 0, 0, ctx)?;
        out.insert(name.clone(), vmap! {"r" => r, "n_voxels" => vox.len()});
    }
    Ok(Value::Map(out))
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

fn ranked_models(list: &[Value], n_rows: usize, stim: &[usize]) -> Result<rank::RankedModels> {
    ensure!(
        !list.is_empty(),
        "model_rsms is empty: give at least one model RSM"
    );
    let mut uppers = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let what = format!("model_rsms[{i}]");
        let t = v.to_tensor(&what)?;
        uppers.push(upper_view(model_over(&t, &what, n_rows, stim)?.view()));
    }
    Ok(rank::RankedModels::new(&uppers))
}

fn shard_value(k: usize, n: usize, start: usize, end: usize) -> Value {
    vmap! {"index" => k, "count" => n, "start" => start, "end" => end}
}

/// Searchlight RSA (see `searchlight.rs`): a list with one map per model.
pub fn searchlight_value(
    y: &Tensor,
    coords: &Tensor,
    mask: &Tensor,
    models: &Value,
    opts: &Map,
    ctx: &Ctx,
) -> Result<Value> {
    let o: SearchlightOptions = options::parse(opts)?;
    let metric = searchlight::Metric::parse(&o.metric)?;
    let shard_text = o.shard.or_else(|| ctx.shard.clone()).unwrap_or_else(whole);
    let shard = searchlight::parse_shard(&shard_text)?;
    let precision = match o.precision.as_str() {
        "f64" => searchlight::Precision::F64,
        "f32" => searchlight::Precision::F32,
        other => bail!("unknown precision '{other}': expected f64 (exact rank order) or f32 (faster; near-equal similarities may swap ranks)"),
    };
    let device = match &o.device {
        Some(d) => d.parse::<Device>()?,
        None => ctx.device,
    };
    let yy = y.matrix::<f32>("Y")?;
    let stim = stimulus_indices(&o.stimuli, yy.nrows())?;
    let list: Vec<Value> = match models {
        Value::List(l) => l.clone(),
        Value::Tensor(_) => vec![models.clone()],
        other => bail!(
            "model_rsms must be a list of RSM tensors, got {}",
            other.type_name()
        ),
    };
    let ranked = ranked_models(&list, yy.nrows(), &stim)?;
    let ysel = if stim.len() == yy.nrows() {
        yy.to_owned()
    } else {
        yy.select(Axis(0), &stim)
    };
    let coords = coords.matrix::<i64>("coords")?;
    ensure!(
        mask.ndim() == 3,
        "mask must be a 3-D volume (the grid the coordinates index), got shape {:?}",
        mask.shape()
    );
    let mask = mask
        .to_array::<u8>()?
        .into_dimensionality::<ndarray::Ix3>()
        .map_err(|e| emoscope_sdk::Error::msg(format!("mask: {e}")))?;
    let params = searchlight::Params {
        radius: o.radius,
        inclusive: o.inclusive,
        threshold: o.threshold,
        min_voxels: o.min_voxels,
        metric,
        precision,
        device,
        shard,
    };
    let out = searchlight::run(
        ysel.view(),
        coords.view(),
        mask.view(),
        &ranked,
        &params,
        ctx,
    )?;
    let n_vox = Tensor::from_vec(out.n_voxels.clone(), &[out.n_voxels.len()])?;
    let maps = out
        .maps
        .into_iter()
        .map(|m| {
            let len = m.r.len();
            Ok(vmap! {
                "r" => Tensor::from_vec(m.r, &[len])?,
                "n_voxels" => n_vox.clone(),
                "shard" => shard_value(shard.0, shard.1, out.start, out.end),
                "centres" => out.centres,
            })
        })
        .collect::<Result<Vec<Value>>>()?;
    Ok(Value::List(maps))
}

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
        let (start, end) = searchlight::shard_range(k, n, v);
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

const SECTION_SL: &str =
    "Methods: searchlight RSA (radius 3 voxels, Spearman between neural and model RSMs, on the 1,000 most reliably predicted stimuli)";

impl Plugin for Rsa {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "rsa".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Representational similarity analysis: RSMs, their rank-correlation comparison, ROI and searchlight RSA".into(),
            functions: vec![
                FnSpec::new("rsm", "Similarity of every pair of rows (stimuli) of a feature matrix: a representational similarity matrix.")
                    .param("X", Ty::Tensor, "stimuli × features")
                    .opt("metric", Ty::Str, "\"pearson\"", "pearson, cosine, spearman (average ranks for ties) or euclidean (the negative Euclidean distance, so larger is more similar)")
                    .returns("stimuli × stimuli f64 tensor, symmetric; ones on the diagonal for non-constant rows (pearson, cosine, spearman), zeros for euclidean")
                    .section("Methods: representational similarity analysis")
                    .example("let S = rsa::rsm(tensor::randn([20, 5], #{seed: 1}), #{metric: \"euclidean\"});"),
                FnSpec::new("compare", "Correlate the upper triangles of two RSMs, with an optional Mantel test that permutes the stimuli of the second.")
                    .param("a", Ty::Tensor, "first RSM (n × n)")
                    .param("b", Ty::Tensor, "second RSM (n × n)")
                    .opt("method", Ty::Str, "\"spearman\"", "spearman (tie-aware average ranks), pearson, or kendall (Kendall's tau-a: (concordant − discordant) / pairs, O(n log n) merge-sort count)")
                    .opt("permutations", Ty::Int, "0", "number of stimulus permutations for the p-value (0: none)")
                    .opt("seed", Ty::Int, "run seed", "seed of the permutations (ChaCha8, one stream per permutation)")
                    .returns("#{r, p, n_pairs, permutations}; p = (1 + #{r_perm >= r}) / (1 + permutations), NaN without permutations")
                    .section("Methods: searchlight RSA (Spearman comparison of neural and model RSMs)")
                    .example("let c = rsa::compare(S1, S2, #{method: \"kendall\", permutations: 1000, seed: 1});"),
                FnSpec::new("roi", "RSA within each ROI: the neural RSM of the ROI's voxel patterns over the stimuli, compared with a model RSM.")
                    .param("Y", Ty::Tensor, "stimuli × voxels responses")
                    .param("rois", Ty::Map, "ROI name → voxel flags (one u8/bool per voxel, non-zero = in the ROI), e.g. a synth subject's rois")
                    .param("model_rsm", Ty::Tensor, "model RSM over the selected stimuli, or over all rows of Y (then the selected rows and columns are used)")
                    .opt("stimuli", Ty::Tensor, "all rows", "i64 row indices of Y to analyse (e.g. rsa::select_reliable)")
                    .opt("metric", Ty::Str, "\"pearson\"", "neural RSM: pearson, cosine, spearman or euclidean (as rsa::rsm)")
                    .opt("method", Ty::Str, "\"spearman\"", "comparison: spearman, pearson or kendall (as rsa::compare)")
                    .returns("map ROI name → #{r, n_voxels}; an ROI with no voxels is an error naming it")
                    .section("Results: ROI analysis (RSA within the study's ROIs)")
                    .example("let s = w.subjects[0];\nlet res = rsa::roi(s.data, s.rois, rsa::rsm(w.truth.X), #{method: \"spearman\"});\nprint(res.STS.r);"),
                FnSpec::new("searchlight", "Whole-brain searchlight RSA: for every centre voxel of the mask, the RSM of the patterns in a sphere around it, Spearman-correlated with each model RSM. Each model's upper triangle is ranked once; each sphere's neural RSM is one f32 GEMM and one radix sort; centres run in parallel.")
                    .param("Y", Ty::Tensor, "stimuli × voxels responses")
                    .param("coords", Ty::Tensor, "voxels × 3 integer grid positions (i, j, k) of Y's columns")
                    .param("mask", Ty::Tensor, "3-D mask volume (u8/bool) on the grid of coords: centres are the voxels inside it, spheres keep only voxels inside it")
                    .param("model_rsms", Ty::Any, "a list of model RSMs (each over the selected stimuli, or over all rows of Y); a single tensor counts as a list of one")
                    .opt("radius", Ty::Float, "3", "sphere radius in voxels: positions at Euclidean distance < radius (rsatoolbox's rule; radius 3 = 93 voxels)")
                    .opt("inclusive", Ty::Bool, "false", "use <= radius instead (radius 3 = 123 voxels)")
                    .opt("threshold", Ty::Float, "1.0", "rsatoolbox's centre validity: the share of the sphere's in-volume positions inside the mask must be >= threshold (1.0: whole spheres only)")
                    .opt("min_voxels", Ty::Int, "2", "minimum number of data voxels in a sphere for its centre to be scored")
                    .opt("stimuli", Ty::Tensor, "all rows", "i64 row indices of Y to use (e.g. rsa::select_reliable(acc, 1000))")
                    .opt("metric", Ty::Str, "\"pearson\"", "neural RSM across the sphere's voxels: pearson, cosine, spearman or euclidean (negative distance)")
                    .opt("precision", Ty::Str, "\"f32\"", "f32: each sphere's RSM by an f32 GEMM, ranked by its f32 values (fastest; similarities closer than f32 rounding, ~1e-7, may swap ranks: r changes by ~1e-6 at 1,000 stimuli); f64: an f64 GEMM ranked in exact f64 order (radix sort on f32 keys, equal keys resolved by the f64 values snapped to 2^-32), about 2x slower")
                    .opt("device", Ty::Str, "run device", "cpu, or torch:cpu / cuda / cuda:N to compute the sphere RSMs with libtorch (feature torch); ranking stays on the CPU")
                    .opt("shard", Ty::Str, "\"1/1\"", "\"K/N\": score only the K-th (1-based) of N contiguous voxel ranges; merge the N results with rsa::merge")
                    .returns("list, one map per model: #{r: (voxels,) f64 Spearman r, NaN where no centre was scored (outside the mask, the shard, or below threshold/min_voxels); n_voxels: (voxels,) i64 sphere sizes (0 outside the mask); shard: #{index, count, start, end} (voxel range [start, end)); centres: number scored}")
                    .section(SECTION_SL)
                    .example("let s = w.subjects[0];\nlet maps = rsa::searchlight(s.data, s.coords, s.mask, [rsa::rsm(w.truth.X)], #{radius: 3});\nlet r = maps[0].r;"),
                FnSpec::new("merge", "Merge the results of rsa::searchlight shards (\"1/N\" .. \"N/N\") into exactly the result of a single run.")
                    .param("parts", Ty::List, "the shard results (each a list of maps, one per model), in any order")
                    .returns("the single-run result: list of #{r, n_voxels, shard: #{index: 1, count: 1, start: 0, end: voxels}, centres}; overlapping, missing or mismatched shards are errors")
                    .section(SECTION_SL)
                    .example("let parts = [];\nfor k in 1..=4 { parts.push(rsa::searchlight(Y, C, M, [S], #{shard: `${k}/4`})); }\nlet maps = rsa::merge(parts);"),
                FnSpec::new("select_reliable", "The n stimuli whose responses the encoding model predicts best (per-stimulus leave-one-out accuracy), as the study selected them for RSA.")
                    .param("accuracy", Ty::Tensor, "per-stimulus accuracy (a vector; NaN = not available, never selected)")
                    .param("n", Ty::Int, "how many stimuli to keep (the study: 1,000)")
                    .returns("i64 indices of the n highest accuracies, in ascending stimulus order (equal accuracies at the cut: lower index first); n above the number of non-NaN accuracies is an error")
                    .section("Methods: searchlight RSA (the 1,000 most reliably predicted stimuli)")
                    .example("let keep = rsa::select_reliable(acc, 1000);\nlet maps = rsa::searchlight(Y, C, M, [S], #{stimuli: keep});"),
            ],
        }
    }

    fn call(&self, function: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match function {
            "rsm" => {
                let o: RsmOptions = options::parse(opts)?;
                let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
                let s = rsm_matrix(x.view(), &o.metric)?;
                Ok(Value::Tensor(Tensor::from_array(s)))
            }
            "compare" => {
                let o: CompareOptions = options::parse(opts)?;
                let (a, b) = (args[0].to_tensor("a")?, args[1].to_tensor("b")?);
                let (r, p, n) = compare(
                    &a,
                    &b,
                    &o.method,
                    o.permutations,
                    o.seed.unwrap_or(ctx.seed),
                    ctx,
                )?;
                Ok(vmap! {"r" => r, "p" => p, "n_pairs" => n, "permutations" => o.permutations})
            }
            "roi" => {
                let o: RoiOptions = options::parse(opts)?;
                let Some(rois) = args[1].as_map() else {
                    bail!(
                        "rois must be a map of ROI name → voxel flags, got {}",
                        args[1].type_name()
                    );
                };
                roi(
                    &args[0].to_tensor("Y")?,
                    rois,
                    &args[2].to_tensor("model_rsm")?,
                    &o.stimuli,
                    &o.metric,
                    &o.method,
                    ctx,
                )
            }
            "searchlight" => searchlight_value(
                &args[0].to_tensor("Y")?,
                &args[1].to_tensor("coords")?,
                &args[2].to_tensor("mask")?,
                &args[3],
                opts,
                ctx,
            ),
            "merge" => {
                options::parse::<NoOptions>(opts)?;
                let Some(parts) = args[0].as_list() else {
                    bail!(
                        "parts must be a list of searchlight results, got {}",
                        args[0].type_name()
                    );
                };
                merge(parts)
            }
            "select_reliable" => {
                options::parse::<NoOptions>(opts)?;
                let n = args[1]
                    .as_i64()
                    .ok_or_else(|| emoscope_sdk::Error::msg("n must be an integer"))?;
                Ok(Value::Tensor(select_reliable(
                    &args[0].to_tensor("accuracy")?,
                    n,
                )?))
            }
            other => bail!("rsa has no function '{other}'"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoOptions {}

#[cfg(test)]
mod tests;
