//! `stats::roi_compare`: group statistics of per-voxel results across subjects, per ROI. The
//! records are read and checked ([`records`]), reduced to each subject's ROI means ([`means`]),
//! then tested across subjects into the `rows` and `pairs` tables ([`tables`]).
mod means;
mod records;
mod tables;

use crate::values::{check_alpha, strings};
use emoscope_sdk::step;
use emoscope_sdk::{vmap, Choice, Ctx, Options, Result, Step, Value};
use means::Means;
use records::{Records, RoiSource};

/// Which tests across subjects `stats::roi_compare` runs.
#[derive(Choice, Clone, Copy, Debug, PartialEq)]
pub enum RoiTest {
    /// one-sample rows and paired model comparisons
    PairedT,
    /// rows only; pairs is empty
    OneSample,
}

/// Group statistics of per-voxel results across subjects, per ROI: each subject's ROI mean (NaN voxels left out), then per (metric, ROI, model) a one-sample t-test against 0 across subjects, and with test "paired_t" per (metric, ROI, model pair) a paired t-test across subjects; Benjamini–Hochberg FDR within each metric (one family for the ROIs × models, one for the ROIs × model pairs). Every subject must have every model of a metric.
#[derive(Options, Step)]
#[step(
    name = "roi_compare",
    param(results: List = "records #{subject, model, rois (optional), <metric>: per-voxel tensor or map with an 'r' tensor, ...}"),
    returns = "#{rows, pairs, subjects, models, rois, metrics, options}. rows (a table: a map of equal-length columns, io::save writes it) has one row per (metric, roi, model): metric, roi, model, mean, sem, n_subjects, t, df, p (one-sample vs 0 across subjects), q, significant, and value_<subject> (that subject's ROI mean). pairs has one row per (metric, roi, model_a, model_b): mean_a, mean_b, mean_diff (a − b), sem_diff, n_subjects, t, df, p (paired), q, significant",
    section = "Methods: statistics",
    example = "let table = stats::roi_compare(results, #{test: \"paired_t\", fdr: true, rois: world.subjects[0].rois});\nio::save(table.rows, out + \"/roi_rows.csv\");\nio::save(table.pairs, out + \"/roi_pairs.csv\");"
)]
pub struct RoiCompare {
    /// metric name or list of names to compare; none: every key holding a tensor (or a map with an r tensor) other than subject, model and rois
    pub metrics: Option<Value>,
    /// "paired_t": one-sample rows and paired model comparisons; "one_sample": rows only (pairs is empty)
    #[opt(default = RoiTest::PairedT)]
    pub test: RoiTest,
    /// add q (Benjamini–Hochberg within each metric) and call significant q ≤ alpha; false: significant is p < alpha and there is no q column
    #[opt(default = true)]
    pub fdr: bool,
    /// significance level / false discovery rate
    #[opt(default = 0.05)]
    pub alpha: f64,
    /// #{roi: flags} for every subject, or #{subject: #{roi: flags}}; takes precedence over the records' rois; none: each record's rois
    #[opt(ty = Map)]
    pub rois: Option<Value>,
}

impl step::Step for RoiCompare {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        check_alpha(self.alpha)?;
        let records = Records::read(&args[0])?;
        let metrics = records.metric_names(&self.metrics)?;
        let source = RoiSource::of(&self.rois)?;
        records.check_unique()?;
        let means = Means::of(&records, &metrics, &source, ctx)?;
        means.check_complete(&records, &metrics)?;
        let paired = self.test == RoiTest::PairedT;
        let (rows, pairs) =
            tables::tables(&records, &metrics, &means, paired, self.fdr, self.alpha);
        Ok(vmap! {
            "rows" => rows.into_value()?,
            "pairs" => pairs.into_value()?,
            "subjects" => strings(&records.subjects),
            "models" => strings(&records.models),
            "rois" => strings(&means.rois),
            "metrics" => strings(&metrics),
            "options" => vmap! {
                "test" => self.test.to_string(), "fdr" => self.fdr, "alpha" => self.alpha,
                "rois" => source.describe(),
            },
        })
    }
}
