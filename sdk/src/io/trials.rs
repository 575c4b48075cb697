//! The append-only JSONL store of judgements: one [`Record`] per line, written whole in one
//! `write` and flushed per line, `fsync`ed at least once a second and when closed.
//!
//! A trial is identified by `(triplet, repeat)`. Reopening a store reads what it holds: trials
//! recorded as parsed or unparsed are done; failed ones are tried again (the later record wins).
//! A truncated last line (a crash in the middle of a write) is cut off and reported; any other
//! line that is not a record is an error that names the line, since it means the file was edited
//! or written by two runs at once. One writer per store: the caller owns the [`Store`].
use crate::error::{Error, Result, ResultExt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
/// How a trial ended.
pub enum Status {
    /// The answer named one shown video.
    Parsed,
    /// The server answered, but the answer named no video, or several.
    Unparsed,
    /// No usable answer after the retries (or a fatal HTTP error).
    Failed,
}

impl Status {
    /// The name written in the store.
    pub fn name(self) -> &'static str {
        match self {
            Status::Parsed => "parsed",
            Status::Unparsed => "unparsed",
            Status::Failed => "failed",
        }
    }
    /// Whether a rerun leaves this trial alone.
    pub fn is_final(self) -> bool {
        self != Status::Failed
    }
}

/// One trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The three stimulus indices as given.
    pub triplet: [i64; 3],
    /// The stimulus indices in the order shown (position 1, 2, 3).
    pub order: [i64; 3],
    /// Which repeat of the triplet this is.
    pub repeat: u32,
    /// The judge's model name.
    pub model: String,
    /// The endpoint's base URL (never credentials).
    pub endpoint: String,
    /// sha256 of `prompt`.
    pub prompt_sha256: String,
    /// The request text (videos as `<video k>` placeholders).
    pub prompt: String,
    /// The model's raw answer (null when failed).
    pub answer: Option<String>,
    /// The stimulus index the answer names as odd (null unless parsed).
    pub choice: Option<i64>,
    /// How the trial ended.
    pub status: Status,
    /// Why it failed (failed trials only).
    pub error: Option<String>,
    /// Seconds of the last request (0 when none completed).
    pub latency_s: f64,
    /// Prompt tokens, when reported.
    pub prompt_tokens: Option<u64>,
    /// Generated tokens, when reported.
    pub completion_tokens: Option<u64>,
    /// Why generation stopped ("stop"; "length" when max_tokens cut the answer short).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Requests made for this trial (1 without retries).
    #[serde(default)]
    pub attempts: u32,
    /// Which of each video's captions was shown, in the order shown (language-model judges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions: Option<[u32; 3]>,
    /// sha256 of the template the prompt came from.
    #[serde(default)]
    pub template_sha256: String,
    /// Unix time (seconds) when the record was written.
    #[serde(default)]
    pub time: f64,
}

impl Record {
    /// The trial's identity: its triplet and repeat.
    pub fn key(&self) -> ([i64; 3], u32) {
        (self.triplet, self.repeat)
    }
}

/// What an existing store holds.
#[derive(Debug, Default)]
pub struct Contents {
    /// The records read, in file order.
    pub records: Vec<Record>,
    /// Bytes of a truncated last line (0 when the file ended cleanly).
    pub truncated: usize,
}

impl Contents {
    /// The latest record of each trial, in order of each trial's first appearance.
    pub fn latest(&self) -> Vec<&Record> {
        let mut index: HashMap<([i64; 3], u32), usize> = HashMap::new();
        let mut out: Vec<&Record> = Vec::new();
        for r in &self.records {
            match index.get(&r.key()) {
                Some(&k) => out[k] = r,
                None => {
                    index.insert(r.key(), out.len());
                    out.push(r);
                }
            }
        }
        out
    }
}

/// Read a store without changing it. A missing file is an empty store.
pub fn read(path: &Path) -> Result<Contents> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(e) => return Err(Error::from(e).context(format!("cannot read {}", path.display()))),
    };
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |k| k + 1);
    let mut out = Contents::default();
    for (i, line) in bytes[..end].split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let r: Record = serde_json::from_slice(line).map_err(|e| {
            Error::msg(format!(
                "{}:{}: not a judgement record ({e}); was the store edited, or written by two runs at once? Move the line away to go on",
                path.display(),
                i + 1
            ))
        })?;
        out.records.push(r);
    }
    let tail = &bytes[end..];
    if !tail.iter().all(u8::is_ascii_whitespace) {
        // A last line without its newline: whole (a crash between the record and its newline
        // cannot happen, since both go in one write) or cut short. Either way it is not trusted.
        out.truncated = tail.len();
    }
    Ok(out)
}

/// The open store: appends records.
pub struct Store {
    path: PathBuf,
    file: File,
    last_sync: Instant,
    unsynced: usize,
}

impl Store {
    /// Open (creating it and its directory if needed) for appending; a truncated last line is
    /// cut off first. Returns the store and what it already held.
    pub fn open(path: &Path) -> Result<(Store, Contents)> {
        if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d)
                .with_context(|| format!("cannot create directory {}", d.display()))?;
        }
        let contents = read(path)?;
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the store {} for appending", path.display()))?;
        if contents.truncated > 0 {
            let len = file.metadata()?.len();
            file.set_len(len - contents.truncated as u64)
                .with_context(|| format!("cannot repair {}", path.display()))?;
            file.sync_all()?;
        }
        Ok((
            Store {
                path: path.to_path_buf(),
                file,
                last_sync: Instant::now(),
                unsynced: 0,
            },
            contents,
        ))
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as one line, in one write.
    pub fn append(&mut self, r: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(r)?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .with_context(|| format!("cannot append to {}", self.path.display()))?;
        self.unsynced += 1;
        if self.last_sync.elapsed() >= Duration::from_secs(1) {
            self.sync()?;
        }
        Ok(())
    }

    /// fsync what was appended.
    pub fn sync(&mut self) -> Result<()> {
        if self.unsynced > 0 {
            self.file
                .sync_data()
                .with_context(|| format!("cannot sync {}", self.path.display()))?;
            self.unsynced = 0;
        }
        self.last_sync = Instant::now();
        Ok(())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: [i64; 3], repeat: u32, status: Status) -> Record {
        Record {
            triplet: t,
            order: [t[2], t[0], t[1]],
            repeat,
            model: "m".into(),
            endpoint: "http://h/v1".into(),
            prompt_sha256: "0".into(),
            prompt: "p".into(),
            answer: Some("Video 1 is noticeably different".into()),
            choice: (status == Status::Parsed).then_some(t[2]),
            status,
            error: None,
            latency_s: 0.1,
            prompt_tokens: Some(3),
            completion_tokens: Some(4),
            finish_reason: Some("stop".into()),
            attempts: 1,
            captions: Some([0, 1, 2]),
            template_sha256: "t".into(),
            time: 0.0,
        }
    }

    #[test]
    fn appends_reopens_and_repairs_a_torn_last_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/store.jsonl");
        {
            let (mut s, c) = Store::open(&p).unwrap();
            assert!(c.records.is_empty());
            s.append(&rec([0, 1, 2], 0, Status::Failed)).unwrap();
            s.append(&rec([0, 1, 2], 0, Status::Parsed)).unwrap();
            s.append(&rec([3, 4, 5], 1, Status::Unparsed)).unwrap();
        }
        // A crash in the middle of the next write.
        let good = std::fs::read(&p).unwrap();
        let mut torn = good.clone();
        torn.extend_from_slice(br#"{"triplet":[6,7,8],"order":[6,"#);
        std::fs::write(&p, &torn).unwrap();
        let c = read(&p).unwrap();
        assert_eq!(c.records.len(), 3);
        assert!(c.truncated > 0);
        let latest = c.latest();
        assert_eq!(latest.len(), 2);
        assert_eq!(latest[0].status, Status::Parsed);
        let (mut s, c) = Store::open(&p).unwrap();
        assert_eq!(c.records.len(), 3);
        assert_eq!(std::fs::read(&p).unwrap(), good, "the torn line is cut off");
        s.append(&rec([6, 7, 8], 0, Status::Parsed)).unwrap();
        drop(s);
        let c = read(&p).unwrap();
        assert_eq!((c.records.len(), c.truncated), (4, 0));
        assert_eq!(c.records[3], rec([6, 7, 8], 0, Status::Parsed));
    }

    #[test]
    fn a_bad_middle_line_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.jsonl");
        let mut text = serde_json::to_string(&rec([0, 1, 2], 0, Status::Parsed)).unwrap();
        text.push_str("\nnot json\n");
        std::fs::write(&p, text).unwrap();
        let e = Store::open(&p).err().unwrap().to_string();
        assert!(e.contains("s.jsonl:2:"), "{e}");
    }
}
