//! ROI masks and ROI means, and `stats::roi_means`, the single-map use of them that
//! `stats::roi_compare` repeats per subject, model and metric.
use crate::values::{flags, voxel_map};
use emoscope_sdk::stats;
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, vmap, Ctx, Map, Options, Result, Step, Value};

/// `#{name: flags}` -> named masks, checking each against the map's length and non-empty.
pub(crate) fn roi_masks(
    rois: &Map,
    n_voxels: usize,
    whose: &str,
) -> Result<Vec<(String, Vec<bool>)>> {
    ensure!(!rois.is_empty(), "{whose}: the ROI map is empty");
    let mut out = Vec::with_capacity(rois.len());
    for (name, v) in rois {
        let f = flags(v, &format!("{whose}: ROI '{name}'"))?;
        ensure!(
            f.len() == n_voxels,
            "{whose}: ROI '{name}' has {} flags but the map has {n_voxels} voxels",
            f.len()
        );
        ensure!(
            f.iter().any(|&x| x),
            "{whose}: ROI '{name}' is empty (no voxel flagged)"
        );
        out.push((name.clone(), f));
    }
    Ok(out)
}

/// Mean of the map over the ROI's voxels, NaN voxels left out; and how many were used.
pub(crate) fn roi_mean(map: &[f64], mask: &[bool]) -> (f64, usize) {
    let vals: Vec<f64> = map
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(&x, _)| x)
        .collect();
    stats::nanmean(&vals)
}

/// Mean of a per-voxel map over each ROI's voxels, NaN (unscored) voxels left out.
#[derive(Options, Step)]
#[step(
    name = "roi_means",
    param(map: Any = "per-voxel tensor, or a map with an 'r' tensor (an encoding or searchlight result)"),
    param(rois: Map = "#{roi: flags per voxel} (non-zero = inside), as a subject's rois"),
    returns = "#{roi: #{mean, n_voxels (voxels averaged), n_roi (voxels in the ROI)}}; mean is NaN when no voxel of the ROI is scored",
    section = "Methods: statistics",
    example = "let m = stats::roi_means(e.r, s.rois);\nprint(m.STS.mean);"
)]
pub struct RoiMeans;

impl step::Step for RoiMeans {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let m = voxel_map(&args[0], "map")?;
        let Some(rois) = args[1].as_map() else {
            bail!("rois must be a map of ROI name -> flags per voxel")
        };
        let mut out = Map::new();
        for (name, mask) in roi_masks(rois, m.len(), "rois")? {
            let (mean, n) = roi_mean(&m, &mask);
            out.insert(
                name,
                vmap! {
                    "mean" => mean,
                    "n_voxels" => n,
                    "n_roi" => mask.iter().filter(|&&x| x).count(),
                },
            );
        }
        Ok(Value::Map(out))
    }
}
