//! Reading the arguments several steps share: file paths, name lists, and the dataset map a
//! step returns with its own keys replaced.
use emoscope_sdk::fmri::Dataset;
use emoscope_sdk::{bail, Error, Result, Value};
use std::path::PathBuf;

/// A file path argument; `what` names it in the error.
pub(crate) fn path_arg(v: &Value, what: &str) -> Result<PathBuf> {
    match v {
        Value::Str(s) => Ok(PathBuf::from(s)),
        other => bail!(
            "{what} must be a file path (string), got {}",
            other.type_name()
        ),
    }
}

/// A list of strings; `what` names it in the error.
pub(crate) fn string_list(v: &Value, what: &str) -> Result<Vec<String>> {
    let Value::List(l) = v else {
        bail!("{what} must be a list of names, got {}", v.type_name())
    };
    l.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| Error::msg(format!("{what}: entries must be strings")))
        })
        .collect()
}

/// The subject map `m` with the dataset's keys replaced and any other key (a synthetic
/// subject's `signal`, say) kept. Both maps' tensors are handles, so this copies no matrix.
pub(crate) fn with_dataset(m: &Value, ds: &Dataset) -> Value {
    let mut out = m.as_map().cloned().unwrap_or_default();
    ds.write_into(&mut out);
    Value::Map(out)
}
