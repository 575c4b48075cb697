//! `stats::voxel_compare`: two models' per-voxel maps compared voxel by voxel (the study's A-vs-B
//! scatter and ratio histogram).
use crate::values::{f64_vector, flags, given, i64_tensor, voxel_map};
use emoscope_sdk::stats;
use emoscope_sdk::step;
use emoscope_sdk::{ensure, vmap, Ctx, Options, Result, Step, Value};

/// Voxel-wise comparison of two models' per-voxel maps (the A-vs-B scatter and ratio histogram of the study): over voxels where both are defined (not NaN) and inside the mask, the fraction where A beats B and the distribution of A/B.
#[derive(Options, Step)]
#[step(
    name = "voxel_compare",
    param(a: Any = "model A: per-voxel tensor, or a map with an 'r' tensor"),
    param(b: Any = "model B, on the same voxels"),
    returns = "#{fraction_a_better (a > b; ties count as not better), n_a_better, n_ties, n_voxels (both defined), mean_a, mean_b (over those voxels), ratio (A/B where B ≠ 0, in voxel order), ratio_voxels (their voxel indices), ratio_quantiles #{q05, q25, median, q75, q95} (numpy linear)}",
    section = "Methods: statistics",
    example = "let c = stats::voxel_compare(mllm.r, llm.r, #{mask: s.rois.STS});\nprint(`MLLM better in ${c.fraction_a_better * 100.0}% of voxels`);"
)]
pub struct VoxelCompare {
    /// flags per voxel (non-zero = include), e.g. an ROI or a reliability mask
    #[opt(ty = Tensor, doc_default = "all voxels")]
    pub mask: Option<Value>,
}

impl step::Step for VoxelCompare {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let a = voxel_map(&args[0], "a")?;
        let b = voxel_map(&args[1], "b")?;
        ensure!(
            a.len() == b.len(),
            "a has {} voxels but b has {}: compare maps on the same voxel grid",
            a.len(),
            b.len()
        );
        let mask = match given(&self.mask) {
            None => vec![true; a.len()],
            Some(m) => {
                let f = flags(m, "option mask")?;
                ensure!(
                    f.len() == a.len(),
                    "option mask has {} flags but the maps have {} voxels",
                    f.len(),
                    a.len()
                );
                f
            }
        };
        let both: Vec<usize> = (0..a.len())
            .filter(|&v| mask[v] && !a[v].is_nan() && !b[v].is_nan())
            .collect();
        ensure!(
            !both.is_empty(),
            "no voxel{} has both maps defined (not NaN)",
            if given(&self.mask).is_some() {
                " in the mask"
            } else {
                ""
            }
        );
        let n = both.len();
        let n_better = both.iter().filter(|&&v| a[v] > b[v]).count();
        let n_ties = both.iter().filter(|&&v| a[v] == b[v]).count();
        let (ratio_voxels, ratio): (Vec<i64>, Vec<f64>) = both
            .iter()
            .filter(|&&v| b[v] != 0.0)
            .map(|&v| (v as i64, a[v] / b[v]))
            .unzip();
        let qs = |q: f64| stats::quantile(&ratio, q);
        let mean = |x: &[f64]| both.iter().map(|&v| x[v]).sum::<f64>() / n as f64;
        Ok(vmap! {
            "fraction_a_better" => n_better as f64 / n as f64,
            "n_a_better" => n_better,
            "n_ties" => n_ties,
            "n_voxels" => n,
            "mean_a" => mean(&a),
            "mean_b" => mean(&b),
            "ratio_quantiles" => vmap! {
                "q05" => qs(0.05), "q25" => qs(0.25), "median" => qs(0.5),
                "q75" => qs(0.75), "q95" => qs(0.95),
            },
            "ratio" => f64_vector(ratio)?,
            "ratio_voxels" => i64_tensor(ratio_voxels)?,
        })
    }
}
