//! Captions CSV (`video_id,description`, UTF-8 with BOM, several captions per video),
//! grouped per video in order of first appearance.
use super::table::read_table;
use crate::error::Result;
use crate::value::{Map, Value};
use crate::{bail, ensure};
use std::path::Path;

/// Captions per stimulus.
pub struct Captions {
    /// Stimulus ids, in file order.
    pub ids: Vec<String>,
    /// Each stimulus's captions.
    pub captions: Vec<Vec<String>>,
}

impl Captions {
    /// `#{ids, captions}` for scripts.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "ids".into(),
            Value::List(self.ids.iter().map(|s| Value::Str(s.clone())).collect()),
        );
        m.insert(
            "captions".into(),
            Value::List(
                self.captions
                    .iter()
                    .map(|c| Value::List(c.iter().map(|s| Value::Str(s.clone())).collect()))
                    .collect(),
            ),
        );
        Value::Map(m)
    }

    /// Reorder to a stimulus list of file names (`0010.mp4` is video id 10).
    pub fn align(&self, stimuli: &[String]) -> Result<Captions> {
        let mut ids = Vec::new();
        let mut caps = Vec::new();
        for s in stimuli {
            let stem = s.split('.').next().unwrap_or(s);
            let id = stem.trim_start_matches('0');
            let Some(k) = self.ids.iter().position(|x| x == id || x == stem) else {
                bail!("no captions for stimulus '{s}' (video id {id})");
            };
            ids.push(self.ids[k].clone());
            caps.push(self.captions[k].clone());
        }
        Ok(Captions {
            ids,
            captions: caps,
        })
    }
}

/// Read a captions CSV (an id column, then one column per caption).
pub fn read_captions(path: &Path) -> Result<Captions> {
    let t = read_table(path, b',', true)?;
    let (Some(id), Some(desc)) = (t.column("video_id"), t.column("description")) else {
        bail!(
            "{}: expected columns 'video_id' and 'description', found {:?}",
            path.display(),
            t.header
        );
    };
    let mut index = std::collections::HashMap::new();
    let mut out = Captions {
        ids: Vec::new(),
        captions: Vec::new(),
    };
    for (i, r) in t.rows.iter().enumerate() {
        let vid = r[id].trim().to_string();
        ensure!(
            !vid.is_empty(),
            "{}:{}: empty video_id",
            path.display(),
            t.lines[i]
        );
        let k = *index.entry(vid.clone()).or_insert_with(|| {
            out.ids.push(vid);
            out.captions.push(Vec::new());
            out.ids.len() - 1
        });
        out.captions[k].push(r[desc].clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_captions_twenty_per_video() {
        let d = super::super::ratings::data_dir();
        let p = d.join("captions_ck20.csv");
        if !p.exists() {
            eprintln!(
                "SKIPPED: real data not found at {} (set EMOSCOPE_DATA)",
                d.display()
            );
            return;
        }
        let c = read_captions(&p).unwrap();
        assert_eq!(c.ids[0], "1", "the BOM must not leak into the first id");
        assert_eq!(c.ids.len(), 2196);
        assert!(c.captions.iter().all(|v| v.len() == 20));
        let a = c.align(&["0010.mp4".to_string()]).unwrap();
        assert_eq!(a.ids, vec!["10".to_string()]);
    }
}
