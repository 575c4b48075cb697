//! The second stage of `stats::roi_compare`: the tests across subjects and their tables, `rows`
//! (one-sample, per metric, ROI and model) and `pairs` (paired, per metric, ROI and model
//! pair), with Benjamini–Hochberg q-values per metric.
use super::means::Means;
use super::records::Records;
use crate::table::{Col, MakeCol, Table};
use emoscope_sdk::stats;

/// The column of one subject's ROI means in `rows`.
fn subject_col(s: &str) -> String {
    format!("value_{s}")
}

/// A table with its p-values and, per metric, the range of them that forms one FDR family.
#[derive(Default)]
struct Tested {
    table: Table,
    p: Vec<f64>,
    families: Vec<(usize, usize)>,
}

impl Tested {
    fn new(cols: &[(&str, MakeCol)]) -> Self {
        let mut t = Tested::default();
        t.table.declare(cols);
        t
    }

    /// Close the family that began at p-value `start`.
    fn family(&mut self, start: usize) {
        self.families.push((start, self.p.len()));
    }

    /// Add `q` (Benjamini–Hochberg within each family) and `significant` (q ≤ alpha), or with
    /// `fdr` off only `significant` (p < alpha).
    fn finish(mut self, fdr: bool, alpha: f64) -> Table {
        let t = &mut self.table;
        if fdr {
            let mut q = vec![f64::NAN; self.p.len()];
            for &(a, b) in &self.families {
                q[a..b].copy_from_slice(&stats::fdr_bh(&self.p[a..b]));
            }
            t.col("q", || Col::F64(vec![]));
            t.col("significant", || Col::Bool(vec![]));
            for x in q {
                t.f("q", x);
                t.b("significant", x <= alpha);
            }
        } else {
            t.col("significant", || Col::Bool(vec![]));
            for &x in &self.p {
                t.b("significant", x < alpha);
            }
        }
        self.table
    }
}

/// The `rows` and `pairs` tables (`pairs` without rows unless `paired`).
pub(super) fn tables(
    records: &Records,
    metrics: &[String],
    means: &Means,
    paired: bool,
    fdr: bool,
    alpha: f64,
) -> (Table, Table) {
    let (subjects, models) = (&records.subjects, &records.models);
    let mut rows = Tested::new(&[
        ("metric", || Col::Str(vec![])),
        ("roi", || Col::Str(vec![])),
        ("model", || Col::Str(vec![])),
        ("mean", || Col::F64(vec![])),
        ("sem", || Col::F64(vec![])),
        ("n_subjects", || Col::I64(vec![])),
        ("t", || Col::F64(vec![])),
        ("df", || Col::F64(vec![])),
        ("p", || Col::F64(vec![])),
    ]);
    for s in subjects {
        rows.table.col(&subject_col(s), || Col::F64(vec![]));
    }
    let mut pairs = Tested::new(&[
        ("metric", || Col::Str(vec![])),
        ("roi", || Col::Str(vec![])),
        ("model_a", || Col::Str(vec![])),
        ("model_b", || Col::Str(vec![])),
        ("mean_a", || Col::F64(vec![])),
        ("mean_b", || Col::F64(vec![])),
        ("mean_diff", || Col::F64(vec![])),
        ("sem_diff", || Col::F64(vec![])),
        ("n_subjects", || Col::I64(vec![])),
        ("t", || Col::F64(vec![])),
        ("df", || Col::F64(vec![])),
        ("p", || Col::F64(vec![])),
    ]);
    for metric in metrics {
        let in_metric = means.models_of(metric, records);
        let values = |ri: usize, mi: usize| means.values(metric, ri, mi, subjects.len());
        let (r0, p0) = (rows.p.len(), pairs.p.len());
        for (ri, roi) in means.rois.iter().enumerate() {
            for &mi in &in_metric {
                let v = values(ri, mi);
                let t = stats::ttest_1samp(&v, 0.0);
                let r = &mut rows.table;
                r.s("metric", metric);
                r.s("roi", roi);
                r.s("model", &models[mi]);
                r.f("mean", stats::nanmean(&v).0);
                r.f("sem", t.sem);
                r.i("n_subjects", t.n as i64);
                r.f("t", t.t);
                r.f("df", t.df);
                r.f("p", t.p);
                for (s, x) in subjects.iter().zip(&v) {
                    r.f(&subject_col(s), *x);
                }
                rows.p.push(t.p);
            }
            if !paired {
                continue;
            }
            for (k, &ma) in in_metric.iter().enumerate() {
                for &mb in &in_metric[k + 1..] {
                    let (a, b) = (values(ri, ma), values(ri, mb));
                    let t = stats::ttest_rel(&a, &b);
                    let r = &mut pairs.table;
                    r.s("metric", metric);
                    r.s("roi", roi);
                    r.s("model_a", &models[ma]);
                    r.s("model_b", &models[mb]);
                    r.f("mean_a", stats::nanmean(&a).0);
                    r.f("mean_b", stats::nanmean(&b).0);
                    r.f("mean_diff", t.mean);
                    r.f("sem_diff", t.sem);
                    r.i("n_subjects", t.n as i64);
                    r.f("t", t.t);
                    r.f("df", t.df);
                    r.f("p", t.p);
                    pairs.p.push(t.p);
                }
            }
        }
        // FDR families: per metric, the ROIs × models of `rows`, and the ROIs × model pairs of
        // `pairs`.
        rows.family(r0);
        pairs.family(p0);
    }
    (rows.finish(fdr, alpha), pairs.finish(fdr, alpha))
}
