//! The first stage of `stats::roi_compare`: each record's ROI means, per metric, and the check
//! that every subject has every model a metric is compared on.
use super::records::{Records, RoiSource};
use crate::roi::{roi_masks, roi_mean};
use crate::values::voxel_map;
use emoscope_sdk::{ensure, Ctx, Result};
use std::collections::BTreeMap;

/// The ROI means of every record.
pub(super) struct Means<'m> {
    /// The ROI names, the same for every subject.
    pub rois: Vec<String>,
    /// `cells[metric][(subject, model)]`: one mean per ROI, in `rois` order.
    pub cells: BTreeMap<&'m str, BTreeMap<(usize, usize), Vec<f64>>>,
}

impl<'m> Means<'m> {
    /// Each record's ROI means (NaN voxels left out) for each metric it holds.
    pub fn of(
        records: &Records,
        metrics: &'m [String],
        source: &RoiSource,
        ctx: &Ctx,
    ) -> Result<Self> {
        let mut roi_names: Option<(Vec<String>, String)> = None;
        let mut cells: BTreeMap<&str, BTreeMap<(usize, usize), Vec<f64>>> = BTreeMap::new();
        for (i, r) in records.list.iter().enumerate() {
            ctx.check()?;
            let whose = format!(
                "results[{i}] (subject '{}', model '{}')",
                r.subject, r.model
            );
            let rois = source.rois_of(r, &whose)?;
            let names: Vec<String> = rois.keys().cloned().collect();
            match &roi_names {
                None => roi_names = Some((names, whose.clone())),
                Some((first, first_whose)) => ensure!(
                    *first == names,
                    "{whose} has ROIs [{}] but {first_whose} has [{}]: every subject needs the same ROIs",
                    names.join(", "),
                    first.join(", ")
                ),
            }
            let cell = records.cell(r);
            // Metrics of one record usually share a voxel grid: build its masks once.
            let mut masks: Option<Vec<(String, Vec<bool>)>> = None;
            for metric in metrics {
                let Some(v) = r.map.get(metric) else { continue };
                let map = voxel_map(v, &format!("{whose}.{metric}"))?;
                if masks.as_ref().is_none_or(|m| m[0].1.len() != map.len()) {
                    masks = Some(roi_masks(rois, map.len(), &format!("{whose}.{metric}"))?);
                }
                let vals: Vec<f64> = masks
                    .as_ref()
                    .expect("set above")
                    .iter()
                    .map(|(_, mask)| roi_mean(&map, mask).0)
                    .collect();
                cells.entry(metric.as_str()).or_default().insert(cell, vals);
            }
        }
        Ok(Means {
            rois: roi_names.expect("at least one record").0,
            cells,
        })
    }

    /// The models that have a result for `metric`, as indices into `records.models`.
    pub fn models_of(&self, metric: &str, records: &Records) -> Vec<usize> {
        let cells = &self.cells[metric];
        (0..records.models.len())
            .filter(|&mi| cells.keys().any(|&(_, m)| m == mi))
            .collect()
    }

    /// Refuse a subject without a model that a metric has: the tests across subjects are paired,
    /// and silently dropping the subject would change the sample.
    pub fn check_complete(&self, records: &Records, metrics: &[String]) -> Result<()> {
        let mut missing = Vec::new();
        for metric in metrics {
            let cells = &self.cells[metric.as_str()];
            for mi in self.models_of(metric, records) {
                let lacking: Vec<&str> = records
                    .subjects
                    .iter()
                    .enumerate()
                    .filter(|&(si, _)| !cells.contains_key(&(si, mi)))
                    .map(|(_, s)| s.as_str())
                    .collect();
                if !lacking.is_empty() {
                    missing.push(format!(
                        "metric '{metric}', model '{}': no result for subject(s) {}",
                        records.models[mi],
                        lacking.join(", ")
                    ));
                }
            }
        }
        ensure!(
            missing.is_empty(),
            "every subject needs a result for every model it is compared on; missing: {}",
            missing.join("; ")
        );
        Ok(())
    }

    /// The subjects' means of ROI `ri` under model `mi` for `metric`, in subjects order.
    pub fn values(&self, metric: &str, ri: usize, mi: usize, n_subjects: usize) -> Vec<f64> {
        let cells = &self.cells[metric];
        (0..n_subjects).map(|si| cells[&(si, mi)][ri]).collect()
    }
}
