//! Whole-brain searchlight RSA as scripts call it: the options and inputs checked and resolved
//! into the engine's [`Params`] (`engine.rs`), the engine's output as script maps, and the merge
//! of sharded runs (`merge.rs`).
mod engine;
mod merge;

pub use engine::{parse_shard, run, shard_range, ModelMap, Output, Params, Precision, SNAP};
pub use merge::{merge, Merge};

use crate::rank::RankedModels;
use crate::rsm::{upper, Metric};
use crate::stimuli::{model_over, stimulus_indices};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, vmap, Ctx, Device, Map, Options, Result, Step, Tensor, Value};
use ndarray::Axis;

/// The study section of the searchlight and of its merge.
pub(crate) const SECTION: &str = "Methods: searchlight RSA (radius 3 voxels, Spearman between neural and model RSMs, on the 1,000 most reliably predicted stimuli)";

/// Whole-brain searchlight RSA: for every centre voxel of the mask, the RSM of the patterns in
/// a sphere around it, Spearman-correlated with each model RSM. Each model's upper triangle is
/// ranked once; each sphere's neural RSM is one f32 GEMM and one radix sort; centres run in
/// parallel.
#[derive(Options, Step)]
#[step(
    name = "searchlight",
    param(Y: Tensor = "stimuli × voxels responses"),
    param(coords: Tensor = "voxels × 3 integer grid positions (i, j, k) of Y's columns"),
    param(mask: Tensor = "3-D mask volume (u8/bool) on the grid of coords: centres are the voxels inside it, spheres keep only voxels inside it"),
    param(model_rsms: Any = "a list of model RSMs (each over the selected stimuli, or over all rows of Y); a single tensor counts as a list of one"),
    returns = "list, one map per model: #{r: (voxels,) f64 Spearman r, NaN where no centre was scored (outside the mask, the shard, or below threshold/min_voxels); n_voxels: (voxels,) i64 sphere sizes (0 outside the mask); shard: #{index, count, start, end} (voxel range [start, end)); centres: number scored}",
    section = SECTION,
    example = "let s = w.subjects[0];\nlet maps = rsa::searchlight(s.data, s.coords, s.mask, [rsa::rsm(w.truth.X)], #{radius: 3});\nlet r = maps[0].r;"
)]
pub struct Searchlight {
    /// sphere radius in voxels: positions at Euclidean distance < radius (rsatoolbox's rule;
    /// radius 3 = 93 voxels)
    #[opt(default = 3.0)]
    pub radius: f64,
    /// use <= radius instead (radius 3 = 123 voxels)
    #[opt(default = false)]
    pub inclusive: bool,
    /// rsatoolbox's centre validity: the share of the sphere's in-volume positions inside the
    /// mask must be >= threshold (1.0: whole spheres only)
    #[opt(default = 1.0)]
    pub threshold: f64,
    /// minimum number of data voxels in a sphere for its centre to be scored
    #[opt(default = 2)]
    pub min_voxels: usize,
    /// i64 row indices of Y to use (e.g. rsa::select_reliable(acc, 1000))
    #[opt(doc_default = "all rows")]
    pub stimuli: Option<Tensor>,
    /// neural RSM across the sphere's voxels: pearson, cosine, spearman or euclidean (negative
    /// distance)
    #[opt(default = Metric::Pearson)]
    pub metric: Metric,
    /// f32: each sphere's RSM by an f32 GEMM, ranked by its f32 values (fastest; similarities
    /// closer than f32 rounding, ~1e-7, may swap ranks: r changes by ~1e-6 at 1,000 stimuli);
    /// f64: an f64 GEMM ranked in exact f64 order (radix sort on f32 keys, equal keys resolved
    /// by the f64 values snapped to 2^-32), about 2x slower
    #[opt(default = Precision::F32)]
    pub precision: Precision,
    /// cpu, or torch:cpu / cuda / cuda:N to compute the sphere RSMs with libtorch (feature
    /// torch); ranking stays on the CPU
    #[opt(doc_default = "run device")]
    pub device: Option<String>,
    /// "K/N": score only the K-th (1-based) of N contiguous voxel ranges; merge the N results
    /// with rsa::merge
    // No value default: a script that leaves it out gets the run's --shard, else the whole range.
    #[opt(doc_default = "\"1/1\"")]
    pub shard: Option<String>,
}

impl step::Step for Searchlight {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        self.compute(
            &args[0].to_tensor("Y")?,
            &args[1].to_tensor("coords")?,
            &args[2].to_tensor("mask")?,
            &args[3],
            ctx,
        )
    }
}

/// Searchlight RSA with its options given as a script's options map (parsed and checked as
/// `rsa::searchlight` parses them): a list with one map per model.
pub fn searchlight_value(
    y: &Tensor,
    coords: &Tensor,
    mask: &Tensor,
    models: &Value,
    opts: &Map,
    ctx: &Ctx,
) -> Result<Value> {
    <Searchlight as step::Options>::parse(opts)?.compute(y, coords, mask, models, ctx)
}

impl Searchlight {
    /// Check the inputs, run the engine and shape its output as the script result.
    pub fn compute(
        self,
        y: &Tensor,
        coords: &Tensor,
        mask: &Tensor,
        models: &Value,
        ctx: &Ctx,
    ) -> Result<Value> {
        let shard_text = self
            .shard
            .or_else(|| ctx.shard.clone())
            .unwrap_or_else(|| "1/1".into());
        let shard = parse_shard(&shard_text)?;
        let device = match &self.device {
            Some(d) => d.parse::<Device>()?,
            None => ctx.device,
        };
        let yy = y.matrix::<f32>("Y")?;
        let stim = stimulus_indices(self.stimuli.as_ref(), yy.nrows())?;
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
        let params = Params {
            radius: self.radius,
            inclusive: self.inclusive,
            threshold: self.threshold,
            min_voxels: self.min_voxels,
            metric: self.metric,
            precision: self.precision,
            device,
            shard,
        };
        let out = run(
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
}

/// Every model RSM over the selected stimuli, its upper triangle ranked once for all spheres.
fn ranked_models(list: &[Value], n_rows: usize, stim: &[usize]) -> Result<RankedModels> {
    ensure!(
        !list.is_empty(),
        "model_rsms is empty: give at least one model RSM"
    );
    let mut uppers = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let what = format!("model_rsms[{i}]");
        let t = v.to_tensor(&what)?;
        uppers.push(upper(model_over(&t, &what, n_rows, stim)?.view()));
    }
    Ok(RankedModels::new(&uppers))
}

/// The `shard` entry of a result map: which shard of how many, and its voxel range.
fn shard_value(k: usize, n: usize, start: usize, end: usize) -> Value {
    vmap! {"index" => k, "count" => n, "start" => start, "end" => end}
}
