//! The `stats::` namespace: the group statistics of the brain analyses (t-tests across
//! subjects, Benjamini–Hochberg FDR, ROI means and their comparison between models, and the
//! voxel-wise comparison of two models). The numbers come from `emoscope_sdk::stats`; this
//! module turns Values into slices and back, and builds the tables.
//!
//! NaN means "not scored" everywhere: a NaN voxel is left out of an ROI mean, a NaN observation
//! out of a t-test, a NaN p-value out of the FDR family.
use emoscope_sdk::stats::{self, TTest};
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, Error, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use serde::Deserialize;
use std::collections::BTreeMap;

pub struct StatsNs;

/// The plugin, for the host's registry.
pub fn plugin() -> StatsNs {
    StatsNs
}

const SECTION: &str = "Methods: statistics";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TtestOpt {
    #[serde(default)]
    b: Option<Value>,
    #[serde(default)]
    popmean: f64,
    #[serde(default)]
    axis: i64,
    #[serde(default = "two_sided")]
    alternative: String,
}

fn two_sided() -> String {
    "two-sided".into()
}

/// The one-sided p-value from the two-sided one (scipy's `alternative`): for "greater",
/// P(T ≥ t) = p/2 when t > 0 and 1 − p/2 otherwise; "less" mirrors it.
fn sided(mut r: TTest, alternative: &str) -> TTest {
    let up = match alternative {
        "greater" => r.t,
        "less" => -r.t,
        _ => return r,
    };
    if !r.p.is_nan() {
        r.p = if up > 0.0 { r.p / 2.0 } else { 1.0 - r.p / 2.0 };
    }
    r
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FdrOpt {
    #[serde(default = "default_alpha")]
    alpha: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoiCompareOpt {
    #[serde(default)]
    metrics: Option<Value>,
    #[serde(default = "default_test")]
    test: String,
    #[serde(default = "yes")]
    fdr: bool,
    #[serde(default = "default_alpha")]
    alpha: f64,
    #[serde(default)]
    rois: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoxelCompareOpt {
    #[serde(default)]
    mask: Option<Value>,
}

fn default_alpha() -> f64 {
    0.05
}
fn default_test() -> String {
    "paired_t".into()
}
fn yes() -> bool {
    true
}

fn check_alpha(alpha: f64) -> Result<()> {
    ensure!(
        alpha > 0.0 && alpha < 1.0,
        "alpha must be between 0 and 1 (exclusive), got {alpha}"
    );
    Ok(())
}

/// A per-voxel map: a tensor (any shape, flattened), a list of numbers, or a map with an `r`
/// tensor (what encoding and searchlight steps return).
fn voxel_map(v: &Value, what: &str) -> Result<Vec<f64>> {
    match v {
        Value::Map(m) => match m.get("r") {
            Some(r) => voxel_map(r, &format!("{what}.r")),
            None => {
                let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                bail!(
                    "{what} must be a per-voxel tensor or a map with an 'r' tensor; the map has keys: {}",
                    keys.join(", ")
                )
            }
        },
        Value::Tensor(_) | Value::List(_) => v.to_tensor(what)?.to_vec_f64(),
        other => bail!(
            "{what} must be a per-voxel tensor or a map with an 'r' tensor, got {}",
            other.type_name()
        ),
    }
}

/// Whether a record value can be a metric (a tensor, or a map holding an `r` tensor).
fn is_metric(v: &Value) -> bool {
    match v {
        Value::Tensor(_) => true,
        Value::Map(m) => matches!(m.get("r"), Some(Value::Tensor(_))),
        _ => false,
    }
}

/// ROI flags: non-zero means inside.
fn flags(v: &Value, what: &str) -> Result<Vec<bool>> {
    Ok(v.to_tensor(what)?
        .to_vec_f64()?
        .into_iter()
        .map(|x| x != 0.0 && !x.is_nan())
        .collect())
}

/// `#{name: flags}` -> named masks, checking each against the map's length and non-empty.
fn roi_masks(rois: &Map, n_voxels: usize, whose: &str) -> Result<Vec<(String, Vec<bool>)>> {
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
fn roi_mean(map: &[f64], mask: &[bool]) -> (f64, usize) {
    let vals: Vec<f64> = map
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(&x, _)| x)
        .collect();
    stats::nanmean(&vals)
}

fn f64_tensor(v: Vec<f64>, shape: &[usize]) -> Result<Value> {
    Ok(Value::Tensor(Tensor::from_vec(v, shape)?))
}

fn i64_tensor(v: Vec<i64>) -> Result<Value> {
    let n = v.len();
    Ok(Value::Tensor(Tensor::from_vec(v, &[n])?))
}

fn strings(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| Value::Str(s.clone())).collect())
}

fn ttest_value(r: &TTest) -> Value {
    vmap! {
        "t" => r.t, "p" => r.p, "df" => r.df, "mean" => r.mean, "sem" => r.sem, "n" => r.n,
    }
}

fn ttest(a: &Value, opts: &Map) -> Result<Value> {
    let o: TtestOpt = options::parse(opts)?;
    ensure!(
        matches!(o.alternative.as_str(), "two-sided" | "greater" | "less"),
        "unknown alternative '{}': expected two-sided, greater or less",
        o.alternative
    );
    let a = a.to_tensor("a")?;
    let b = match &o.b {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.to_tensor("option b")?),
    };
    if let Some(b) = &b {
        ensure!(
            b.shape() == a.shape(),
            "a has shape {:?} but b has shape {:?}: a paired test needs equal shapes",
            a.shape(),
            b.shape()
        );
    }
    let test = |x: &[f64], y: Option<&[f64]>| -> TTest {
        let r = match y {
            None => stats::ttest_1samp(x, o.popmean),
            Some(y) => {
                let d: Vec<f64> = x.iter().zip(y).map(|(p, q)| p - q).collect();
                stats::ttest_1samp(&d, o.popmean)
            }
        };
        sided(r, &o.alternative)
    };
    let shape = a.shape();
    match shape.len() {
        1 => {
            ensure!(
                o.axis == 0 || o.axis == -1,
                "axis {} is out of range for a 1-D tensor (use 0)",
                o.axis
            );
            let x = a.to_vec_f64()?;
            let y = b.as_ref().map(|b| b.to_vec_f64()).transpose()?;
            Ok(ttest_value(&test(&x, y.as_deref())))
        }
        2 => {
            let axis = match o.axis {
                0 | -2 => 0,
                1 | -1 => 1,
                other => bail!("axis {other} is out of range for a 2-D tensor (use 0 or 1)"),
            };
            let x = a.matrix::<f64>("a")?;
            let y = b.as_ref().map(|b| b.matrix::<f64>("b")).transpose()?;
            let (x, y) = if axis == 0 {
                (x, y)
            } else {
                (
                    x.t().to_owned().into_shared(),
                    y.map(|y| y.t().to_owned().into_shared()),
                )
            };
            let k = x.ncols();
            let mut out: [Vec<f64>; 5] = Default::default();
            let mut ns = Vec::with_capacity(k);
            for j in 0..k {
                let xj: Vec<f64> = x.column(j).to_vec();
                let yj: Option<Vec<f64>> = y.as_ref().map(|y| y.column(j).to_vec());
                let r = test(&xj, yj.as_deref());
                for (col, v) in out.iter_mut().zip([r.t, r.p, r.df, r.mean, r.sem]) {
                    col.push(v);
                }
                ns.push(r.n as i64);
            }
            let [t, p, df, mean, sem] = out;
            Ok(vmap! {
                "t" => f64_tensor(t, &[k])?, "p" => f64_tensor(p, &[k])?,
                "df" => f64_tensor(df, &[k])?, "mean" => f64_tensor(mean, &[k])?,
                "sem" => f64_tensor(sem, &[k])?, "n" => i64_tensor(ns)?,
            })
        }
        _ => bail!(
            "a must be a vector (subjects) or a matrix (subjects × voxels), got shape {shape:?}"
        ),
    }
}

fn fdr(p: &Value, opts: &Map) -> Result<Value> {
    let o: FdrOpt = options::parse(opts)?;
    check_alpha(o.alpha)?;
    let t = p.to_tensor("p")?;
    let shape = t.shape();
    let pv = t.to_vec_f64()?;
    if let Some((i, x)) = pv
        .iter()
        .enumerate()
        .find(|(_, x)| !x.is_nan() && !(0.0..=1.0).contains(*x))
    {
        bail!("p[{i}] = {x} is not a p-value (expected 0..1, or NaN for a test not run)");
    }
    let q = stats::fdr_bh(&pv);
    let reject: Vec<bool> = q.iter().map(|&q| q <= o.alpha).collect();
    let n_rejected = reject.iter().filter(|&&r| r).count();
    let m = pv.iter().filter(|x| !x.is_nan()).count();
    Ok(vmap! {
        "q" => f64_tensor(q, &shape)?,
        "reject" => Value::Tensor(Tensor::from_vec(reject, &shape)?),
        "n_rejected" => n_rejected,
        "m" => m,
        "alpha" => o.alpha,
    })
}

fn roi_means(map: &Value, rois: &Value) -> Result<Value> {
    let m = voxel_map(map, "map")?;
    let Some(rois) = rois.as_map() else {
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

/// A table being built: named columns in insertion order.
#[derive(Default)]
struct Table {
    cols: Vec<(String, Col)>,
}

type MakeCol = fn() -> Col;

enum Col {
    Str(Vec<String>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl Table {
    fn col(&mut self, name: &str, make: fn() -> Col) -> &mut Col {
        if let Some(i) = self.cols.iter().position(|(n, _)| n == name) {
            return &mut self.cols[i].1;
        }
        self.cols.push((name.to_string(), make()));
        &mut self.cols.last_mut().expect("just pushed").1
    }
    fn s(&mut self, name: &str, v: &str) {
        if let Col::Str(c) = self.col(name, || Col::Str(vec![])) {
            c.push(v.to_string());
        }
    }
    fn f(&mut self, name: &str, v: f64) {
        if let Col::F64(c) = self.col(name, || Col::F64(vec![])) {
            c.push(v);
        }
    }
    fn i(&mut self, name: &str, v: i64) {
        if let Col::I64(c) = self.col(name, || Col::I64(vec![])) {
            c.push(v);
        }
    }
    fn b(&mut self, name: &str, v: bool) {
        if let Col::Bool(c) = self.col(name, || Col::Bool(vec![])) {
            c.push(v);
        }
    }
    /// Declare the columns of a table that may end up with no rows.
    fn declare(&mut self, cols: &[(&str, MakeCol)]) {
        for (n, make) in cols {
            self.col(n, *make);
        }
    }
    fn into_value(self) -> Result<Value> {
        let mut m = Map::new();
        for (name, c) in self.cols {
            let v = match c {
                Col::Str(v) => Value::List(v.into_iter().map(Value::Str).collect()),
                Col::Bool(v) => Value::List(v.into_iter().map(Value::Bool).collect()),
                Col::F64(v) => {
                    let n = v.len();
                    f64_tensor(v, &[n])?
                }
                Col::I64(v) => i64_tensor(v)?,
            };
            m.insert(name, v);
        }
        Ok(Value::Map(m))
    }
}

/// Where the ROI masks of each subject come from.
enum RoiSource<'a> {
    /// One `#{name: flags}` for every subject.
    Shared(&'a Map),
    /// `#{subject: #{name: flags}}`.
    PerSubject(&'a Map),
    /// Each record's own `rois`.
    Records,
}

fn roi_source(opt: &Option<Value>) -> Result<RoiSource<'_>> {
    Ok(match opt {
        None | Some(Value::Null) => RoiSource::Records,
        Some(Value::Map(m)) => {
            ensure!(!m.is_empty(), "option rois: the map is empty");
            let maps = m.values().filter(|v| matches!(v, Value::Map(_))).count();
            if maps == m.len() {
                RoiSource::PerSubject(m)
            } else if maps == 0 {
                RoiSource::Shared(m)
            } else {
                bail!("option rois must be either #{{roi: flags}} (the same ROIs for every subject) or #{{subject: #{{roi: flags}}}}, not a mix of both")
            }
        }
        Some(other) => bail!("option rois must be a map, got {}", other.type_name()),
    })
}

struct Record<'a> {
    subject: String,
    model: String,
    map: &'a Map,
}

/// The metrics to compare: the option, or every tensor (or map with `r`) key of the records
/// other than subject, model and rois, in order of first appearance.
fn metric_names(opt: &Option<Value>, records: &[Record]) -> Result<Vec<String>> {
    let names: Vec<String> = match opt {
        None | Some(Value::Null) => {
            let mut v: Vec<String> = Vec::new();
            for r in records {
                for (k, val) in r.map {
                    if !matches!(k.as_str(), "subject" | "model" | "rois")
                        && is_metric(val)
                        && !v.contains(k)
                    {
                        v.push(k.clone());
                    }
                }
            }
            ensure!(
                !v.is_empty(),
                "no metric found in the records: a metric is a per-voxel tensor or a map with an 'r' tensor (keys other than subject, model, rois)"
            );
            v
        }
        Some(Value::Str(s)) => vec![s.clone()],
        Some(Value::List(l)) => l
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::msg("option metrics: list entries must be strings"))
            })
            .collect::<Result<_>>()?,
        Some(other) => bail!(
            "option metrics must be a string or a list of strings, got {}",
            other.type_name()
        ),
    };
    ensure!(!names.is_empty(), "option metrics: the list is empty");
    for n in &names {
        ensure!(
            !matches!(n.as_str(), "subject" | "model" | "rois"),
            "option metrics: '{n}' is a record's label, not a metric"
        );
        ensure!(
            records.iter().any(|r| r.map.contains_key(n)),
            "metric '{n}' is in no record (records have keys: {})",
            {
                let mut keys: Vec<&str> = Vec::new();
                for r in records {
                    for k in r.map.keys() {
                        if !keys.contains(&k.as_str()) {
                            keys.push(k);
                        }
                    }
                }
                keys.join(", ")
            }
        );
    }
    Ok(names)
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

fn roi_compare(results: &Value, opts: &Map, ctx: &Ctx) -> Result<Value> {
    let o: RoiCompareOpt = options::parse(opts)?;
    check_alpha(o.alpha)?;
    let paired = match o.test.as_str() {
        "paired_t" => true,
        "one_sample" => false,
        other => bail!("option test must be \"paired_t\" or \"one_sample\", got \"{other}\""),
    };
    let Some(list) = results.as_list() else {
        bail!("results must be a list of records #{{subject, model, <metric>: tensor}}")
    };
    ensure!(!list.is_empty(), "results is an empty list");
    let mut records = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let Some(map) = r.as_map() else {
            bail!(
                "results[{i}] must be a map #{{subject, model, <metric>: tensor}}, got {}",
                r.type_name()
            )
        };
        let label = |k: &str| -> Result<String> {
            match map.get(k) {
                Some(Value::Str(s)) => Ok(s.clone()),
                Some(Value::Int(n)) => Ok(n.to_string()),
                Some(other) => bail!(
                    "results[{i}].{k} must be a string, got {}",
                    other.type_name()
                ),
                None => bail!("results[{i}] has no '{k}' (every record needs subject and model)"),
            }
        };
        records.push(Record {
            subject: label("subject")?,
            model: label("model")?,
            map,
        });
    }
    let metrics = metric_names(&o.metrics, &records)?;
    let source = roi_source(&o.rois)?;
    let mut subjects: Vec<String> = Vec::new();
    let mut models: Vec<String> = Vec::new();
    for r in &records {
        push_unique(&mut subjects, &r.subject);
        push_unique(&mut models, &r.model);
    }
    for (i, r) in records.iter().enumerate() {
        if let Some(j) = records[..i]
            .iter()
            .position(|q| q.subject == r.subject && q.model == r.model)
        {
            bail!(
                "results[{j}] and results[{i}] are both subject '{}', model '{}': one record per subject and model",
                r.subject,
                r.model
            );
        }
    }

    // ROI means: means[metric][(subject, model)] = one value per ROI (in roi_names order).
    let mut roi_names: Option<(Vec<String>, String)> = None;
    let mut means: BTreeMap<&str, BTreeMap<(usize, usize), Vec<f64>>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        ctx.check()?;
        let whose = format!(
            "results[{i}] (subject '{}', model '{}')",
            r.subject, r.model
        );
        let rois: &Map = match &source {
            RoiSource::Shared(m) => m,
            RoiSource::PerSubject(m) => match m.get(&r.subject) {
                Some(Value::Map(x)) => x,
                _ => bail!(
                    "option rois has no ROIs for subject '{}' (it has: {})",
                    r.subject,
                    m.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            },
            RoiSource::Records => match r.map.get("rois") {
                Some(Value::Map(x)) => x,
                Some(other) => bail!(
                    "{whose}: rois must be a map #{{roi: flags per voxel}}, got {}",
                    other.type_name()
                ),
                None => bail!(
                    "{whose} has no ROI masks: put `rois: s.rois` in each record, or pass #{{rois: ...}} (one #{{roi: flags}} for all subjects, or #{{subject: #{{roi: flags}}}})"
                ),
            },
        };
        let names: Vec<String> = rois.keys().cloned().collect();
        match &roi_names {
            None => roi_names = Some((names.clone(), whose.clone())),
            Some((first, first_whose)) => ensure!(
                *first == names,
                "{whose} has ROIs [{}] but {first_whose} has [{}]: every subject needs the same ROIs",
                names.join(", "),
                first.join(", ")
            ),
        }
        let si = subjects
            .iter()
            .position(|s| *s == r.subject)
            .expect("listed");
        let mi = models.iter().position(|m| *m == r.model).expect("listed");
        let mut masks: Option<Vec<(String, Vec<bool>)>> = None;
        for metric in &metrics {
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
            means
                .entry(metric.as_str())
                .or_default()
                .insert((si, mi), vals);
        }
    }
    let roi_names = roi_names.expect("at least one record").0;

    // Every subject needs every model that a metric has.
    let mut missing = Vec::new();
    for metric in &metrics {
        let cells = &means[metric.as_str()];
        for (mi, model) in models.iter().enumerate() {
            if !cells.keys().any(|&(_, m)| m == mi) {
                continue;
            }
            let lacking: Vec<&str> = subjects
                .iter()
                .enumerate()
                .filter(|&(si, _)| !cells.contains_key(&(si, mi)))
                .map(|(_, s)| s.as_str())
                .collect();
            if !lacking.is_empty() {
                missing.push(format!(
                    "metric '{metric}', model '{model}': no result for subject(s) {}",
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

    let mut rows = Table::default();
    let mut pairs = Table::default();
    let subject_col = |s: &str| format!("value_{s}");
    rows.declare(&[
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
    for s in &subjects {
        rows.col(&subject_col(s), || Col::F64(vec![]));
    }
    pairs.declare(&[
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
    let mut row_p: Vec<f64> = Vec::new();
    let mut pair_p: Vec<f64> = Vec::new();
    let mut row_family: Vec<(usize, usize)> = Vec::new();
    let mut pair_family: Vec<(usize, usize)> = Vec::new();
    for metric in &metrics {
        let cells = &means[metric.as_str()];
        let in_metric: Vec<usize> = (0..models.len())
            .filter(|&mi| cells.keys().any(|&(_, m)| m == mi))
            .collect();
        // Subject values of (roi, model), in subjects order.
        let values = |ri: usize, mi: usize| -> Vec<f64> {
            (0..subjects.len()).map(|si| cells[&(si, mi)][ri]).collect()
        };
        let (r0, p0) = (row_p.len(), pair_p.len());
        for (ri, roi) in roi_names.iter().enumerate() {
            for &mi in &in_metric {
                let v = values(ri, mi);
                let t = stats::ttest_1samp(&v, 0.0);
                rows.s("metric", metric);
                rows.s("roi", roi);
                rows.s("model", &models[mi]);
                rows.f("mean", stats::nanmean(&v).0);
                rows.f("sem", t.sem);
                rows.i("n_subjects", t.n as i64);
                rows.f("t", t.t);
                rows.f("df", t.df);
                rows.f("p", t.p);
                for (s, x) in subjects.iter().zip(&v) {
                    rows.f(&subject_col(s), *x);
                }
                row_p.push(t.p);
            }
            if !paired {
                continue;
            }
            for (k, &ma) in in_metric.iter().enumerate() {
                for &mb in &in_metric[k + 1..] {
                    let (a, b) = (values(ri, ma), values(ri, mb));
                    let t = stats::ttest_rel(&a, &b);
                    pairs.s("metric", metric);
                    pairs.s("roi", roi);
                    pairs.s("model_a", &models[ma]);
                    pairs.s("model_b", &models[mb]);
                    pairs.f("mean_a", stats::nanmean(&a).0);
                    pairs.f("mean_b", stats::nanmean(&b).0);
                    pairs.f("mean_diff", t.mean);
                    pairs.f("sem_diff", t.sem);
                    pairs.i("n_subjects", t.n as i64);
                    pairs.f("t", t.t);
                    pairs.f("df", t.df);
                    pairs.f("p", t.p);
                    pair_p.push(t.p);
                }
            }
        }
        row_family.push((r0, row_p.len()));
        pair_family.push((p0, pair_p.len()));
    }
    // FDR families: per metric, the ROIs × models of `rows`, and the ROIs × model pairs of
    // `pairs`.
    let finish = |t: &mut Table, p: &[f64], families: &[(usize, usize)]| {
        if o.fdr {
            let mut q = vec![f64::NAN; p.len()];
            for &(a, b) in families {
                q[a..b].copy_from_slice(&stats::fdr_bh(&p[a..b]));
            }
            t.col("q", || Col::F64(vec![]));
            t.col("significant", || Col::Bool(vec![]));
            for x in q {
                t.f("q", x);
                t.b("significant", x <= o.alpha);
            }
        } else {
            t.col("significant", || Col::Bool(vec![]));
            for &x in p {
                t.b("significant", x < o.alpha);
            }
        }
    };
    finish(&mut rows, &row_p, &row_family);
    finish(&mut pairs, &pair_p, &pair_family);
    Ok(vmap! {
        "rows" => rows.into_value()?,
        "pairs" => pairs.into_value()?,
        "subjects" => strings(&subjects),
        "models" => strings(&models),
        "rois" => strings(&roi_names),
        "metrics" => strings(&metrics),
        "options" => vmap! {
            "test" => o.test.clone(), "fdr" => o.fdr, "alpha" => o.alpha,
            "rois" => match source {
                RoiSource::Shared(_) => "option (shared)",
                RoiSource::PerSubject(_) => "option (per subject)",
                RoiSource::Records => "records",
            },
        },
    })
}

fn voxel_compare(a: &Value, b: &Value, opts: &Map) -> Result<Value> {
    let o: VoxelCompareOpt = options::parse(opts)?;
    let a = voxel_map(a, "a")?;
    let b = voxel_map(b, "b")?;
    ensure!(
        a.len() == b.len(),
        "a has {} voxels but b has {}: compare maps on the same voxel grid",
        a.len(),
        b.len()
    );
    let mask = match &o.mask {
        None | Some(Value::Null) => vec![true; a.len()],
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
        if o.mask.is_some() { " in the mask" } else { "" }
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
    let nr = ratio.len();
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
        "ratio" => f64_tensor(ratio, &[nr])?,
        "ratio_voxels" => i64_tensor(ratio_voxels)?,
    })
}

impl Plugin for StatsNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "stats".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Group statistics: t-tests across subjects, Benjamini–Hochberg FDR, ROI means and their comparison between models, voxel-wise model comparison".into(),
            functions: vec![
                FnSpec::new("ttest", "Student's t-test across subjects, two-tailed (scipy.stats.ttest_1samp, or ttest_rel when b is given): one test for a vector, one per column (voxel) for a subjects × voxels matrix. NaN observations are dropped per test (per pair for the paired test); fewer than 2 left gives NaN.")
                    .param("a", Ty::Tensor, "subjects (vector) or subjects × voxels (matrix)")
                    .opt("b", Ty::Tensor, "none", "the paired condition, same shape as a: tests the mean of a − b")
                    .opt("popmean", Ty::Float, "0.0", "the mean under the null hypothesis (of a, or of a − b)")
                    .opt("axis", Ty::Int, "0", "the axis holding the observations (subjects) of a matrix: 0 tests each column, 1 each row")
                    .opt("alternative", Ty::Str, "\"two-sided\"", "two-sided, greater (mean > popmean) or less, as scipy's alternative")
                    .returns("#{t, p, df, mean, sem, n}: numbers for a vector, tensors over the other axis for a matrix (mean and sem of a, or of a − b; n the observations used)")
                    .section(SECTION)
                    .example("let r = stats::ttest(tensor::from([0.12, 0.08, 0.15, 0.03, 0.10]));\nprint(`t = ${r.t}, p = ${r.p}`);\nlet vox = stats::ttest(mllm_maps, #{b: llm_maps}); // subjects × voxels each"),
                FnSpec::new("fdr", "Benjamini–Hochberg false discovery rate over one family of p-values (scipy.stats.false_discovery_control, statsmodels fdr_bh): adjusted q-values, monotone step-up, capped at 1. NaN p-values (tests not run) stay NaN and are not counted in the family size.")
                    .param("p", Ty::Tensor, "p-values, any shape (one family)")
                    .opt("alpha", Ty::Float, "0.05", "false discovery rate: reject where q ≤ alpha")
                    .returns("#{q (same shape as p), reject (bool tensor), n_rejected, m (p-values counted), alpha}")
                    .section(SECTION)
                    .example("let f = stats::fdr([0.01, 0.04, 0.03, 0.005, 0.2], #{alpha: 0.05});\nprint(f.q);"),
                FnSpec::new("roi_means", "Mean of a per-voxel map over each ROI's voxels, NaN (unscored) voxels left out.")
                    .param("map", Ty::Any, "per-voxel tensor, or a map with an 'r' tensor (an encoding or searchlight result)")
                    .param("rois", Ty::Map, "#{roi: flags per voxel} (non-zero = inside), as a subject's rois")
                    .returns("#{roi: #{mean, n_voxels (voxels averaged), n_roi (voxels in the ROI)}}; mean is NaN when no voxel of the ROI is scored")
                    .section(SECTION)
                    .example("let m = stats::roi_means(e.r, s.rois);\nprint(m.STS.mean);"),
                FnSpec::new("roi_compare", "Group statistics of per-voxel results across subjects, per ROI: each subject's ROI mean (NaN voxels left out), then per (metric, ROI, model) a one-sample t-test against 0 across subjects, and with test \"paired_t\" per (metric, ROI, model pair) a paired t-test across subjects; Benjamini–Hochberg FDR within each metric (one family for the ROIs × models, one for the ROIs × model pairs). Every subject must have every model of a metric.")
                    .param("results", Ty::List, "records #{subject, model, rois (optional), <metric>: per-voxel tensor or map with an 'r' tensor, ...}")
                    .opt("metrics", Ty::Any, "none", "metric name or list of names to compare; none: every key holding a tensor (or a map with an r tensor) other than subject, model and rois")
                    .opt("test", Ty::Str, "\"paired_t\"", "\"paired_t\": one-sample rows and paired model comparisons; \"one_sample\": rows only (pairs is empty)")
                    .opt("fdr", Ty::Bool, "true", "add q (Benjamini–Hochberg within each metric) and call significant q ≤ alpha; false: significant is p < alpha and there is no q column")
                    .opt("alpha", Ty::Float, "0.05", "significance level / false discovery rate")
                    .opt("rois", Ty::Map, "none", "#{roi: flags} for every subject, or #{subject: #{roi: flags}}; takes precedence over the records' rois; none: each record's rois")
                    .returns("#{rows, pairs, subjects, models, rois, metrics, options}. rows (a table: a map of equal-length columns, io::save writes it) has one row per (metric, roi, model): metric, roi, model, mean, sem, n_subjects, t, df, p (one-sample vs 0 across subjects), q, significant, and value_<subject> (that subject's ROI mean). pairs has one row per (metric, roi, model_a, model_b): mean_a, mean_b, mean_diff (a − b), sem_diff, n_subjects, t, df, p (paired), q, significant")
                    .section(SECTION)
                    .example("let table = stats::roi_compare(results, #{test: \"paired_t\", fdr: true, rois: world.subjects[0].rois});\nio::save(table.rows, out + \"/roi_rows.csv\");\nio::save(table.pairs, out + \"/roi_pairs.csv\");"),
                FnSpec::new("voxel_compare", "Voxel-wise comparison of two models' per-voxel maps (the A-vs-B scatter and ratio histogram of the study): over voxels where both are defined (not NaN) and inside the mask, the fraction where A beats B and the distribution of A/B.")
                    .param("a", Ty::Any, "model A: per-voxel tensor, or a map with an 'r' tensor")
                    .param("b", Ty::Any, "model B, on the same voxels")
                    .opt("mask", Ty::Tensor, "all voxels", "flags per voxel (non-zero = include), e.g. an ROI or a reliability mask")
                    .returns("#{fraction_a_better (a > b; ties count as not better), n_a_better, n_ties, n_voxels (both defined), mean_a, mean_b (over those voxels), ratio (A/B where B ≠ 0, in voxel order), ratio_voxels (their voxel indices), ratio_quantiles #{q05, q25, median, q75, q95} (numpy linear)}")
                    .section(SECTION)
                    .example("let c = stats::voxel_compare(mllm.r, llm.r, #{mask: s.rois.STS});\nprint(`MLLM better in ${c.fraction_a_better * 100.0}% of voxels`);"),
            ],
        }
    }

    fn call(&self, f: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match f {
            "ttest" => ttest(&args[0], opts),
            "fdr" => fdr(&args[0], opts),
            "roi_means" => roi_means(&args[0], &args[1]),
            "roi_compare" => roi_compare(&args[0], opts, ctx),
            "voxel_compare" => voxel_compare(&args[0], &args[1], opts),
            other => bail!("stats has no function '{other}'"),
        }
    }
}
