//! What `stats::roi_compare` compares: the records (one per subject and model), the metrics
//! they hold, and where each subject's ROI masks come from.
use crate::values::{given, is_metric};
use emoscope_sdk::{bail, ensure, Error, Map, Result, Value};

/// Keys of a record that label it rather than hold a metric.
const LABELS: [&str; 3] = ["subject", "model", "rois"];

/// One result: a subject's per-voxel metrics for one model.
pub(super) struct Record<'a> {
    pub subject: String,
    pub model: String,
    pub map: &'a Map,
}

/// The records of one call, and their subjects and models in order of first appearance (the
/// order of the output's rows).
pub(super) struct Records<'a> {
    pub list: Vec<Record<'a>>,
    pub subjects: Vec<String>,
    pub models: Vec<String>,
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

impl<'a> Records<'a> {
    /// The records of `results`, each checked to be labelled with a subject and a model.
    pub fn read(results: &'a Value) -> Result<Self> {
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
                    None => {
                        bail!("results[{i}] has no '{k}' (every record needs subject and model)")
                    }
                }
            };
            records.push(Record {
                subject: label("subject")?,
                model: label("model")?,
                map,
            });
        }
        let mut subjects: Vec<String> = Vec::new();
        let mut models: Vec<String> = Vec::new();
        for r in &records {
            push_unique(&mut subjects, &r.subject);
            push_unique(&mut models, &r.model);
        }
        Ok(Records {
            list: records,
            subjects,
            models,
        })
    }

    /// Refuse two records for one subject and model: which one to average would be a guess.
    pub fn check_unique(&self) -> Result<()> {
        for (i, r) in self.list.iter().enumerate() {
            if let Some(j) = self.list[..i]
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
        Ok(())
    }

    /// The record's subject and model as indices into `subjects` and `models`.
    pub fn cell(&self, r: &Record) -> (usize, usize) {
        let si = self.subjects.iter().position(|s| *s == r.subject);
        let mi = self.models.iter().position(|m| *m == r.model);
        (si.expect("listed"), mi.expect("listed"))
    }

    /// The metrics to compare: the option, or every tensor (or map with `r`) key of the records
    /// other than subject, model and rois, in order of first appearance.
    pub fn metric_names(&self, opt: &Option<Value>) -> Result<Vec<String>> {
        let names: Vec<String> = match given(opt) {
            None => {
                let mut v: Vec<String> = Vec::new();
                for r in &self.list {
                    for (k, val) in r.map {
                        if !LABELS.contains(&k.as_str()) && is_metric(val) {
                            push_unique(&mut v, k);
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
                !LABELS.contains(&n.as_str()),
                "option metrics: '{n}' is a record's label, not a metric"
            );
            ensure!(
                self.list.iter().any(|r| r.map.contains_key(n)),
                "metric '{n}' is in no record (records have keys: {})",
                {
                    let mut keys: Vec<String> = Vec::new();
                    for r in &self.list {
                        r.map.keys().for_each(|k| push_unique(&mut keys, k));
                    }
                    keys.join(", ")
                }
            );
        }
        Ok(names)
    }
}

/// Where the ROI masks of each subject come from.
pub(super) enum RoiSource<'a> {
    /// One `#{name: flags}` for every subject.
    Shared(&'a Map),
    /// `#{subject: #{name: flags}}`.
    PerSubject(&'a Map),
    /// Each record's own `rois`.
    Records,
}

impl<'a> RoiSource<'a> {
    /// The source the `rois` option names: a shared map, a map per subject, or none (each
    /// record's own).
    pub fn of(opt: &'a Option<Value>) -> Result<Self> {
        Ok(match given(opt) {
            None => RoiSource::Records,
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

    /// The ROI masks of record `r`; `whose` names it in errors.
    pub fn rois_of<'r>(&'r self, r: &Record<'r>, whose: &str) -> Result<&'r Map> {
        Ok(match self {
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
        })
    }

    /// How the output's `options.rois` describes the source.
    pub fn describe(&self) -> &'static str {
        match self {
            RoiSource::Shared(_) => "option (shared)",
            RoiSource::PerSubject(_) => "option (per subject)",
            RoiSource::Records => "records",
        }
    }
}
