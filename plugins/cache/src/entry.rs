//! Cache entries on disk: `<dir>/<name>-<hash>.json` (the value, each tensor replaced by a
//! reference) beside `<dir>/<name>-<hash>.npz` (the tensors), and `cache::get` and `cache::put`,
//! which read and write them.
use crate::hash::value_hash;
use emoscope_sdk::io::{self, npy};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Ctx, Device, Error, Map, Options, Result, Step, Tensor, Value};
use std::path::{Path, PathBuf};

/// The key that marks a tensor reference in an entry's JSON; a cached map may not use it.
const TENSOR_TAG: &str = "$tensor";

/// Replace every tensor by `{"$tensor": "tK"}` and collect the tensors.
fn split_tensors(v: &Value, tensors: &mut Map) -> Result<Value> {
    Ok(match v {
        Value::Tensor(t) => {
            let key = format!("t{}", tensors.len());
            tensors.insert(key.clone(), Value::Tensor(t.to_device(Device::Cpu)?));
            Value::Map([(TENSOR_TAG.to_string(), Value::Str(key))].into())
        }
        Value::List(l) => Value::List(
            l.iter()
                .map(|x| split_tensors(x, tensors))
                .collect::<Result<_>>()?,
        ),
        Value::Map(m) => {
            ensure!(
                !m.contains_key(TENSOR_TAG),
                "a map with the key '{TENSOR_TAG}' cannot be cached (the key is reserved)"
            );
            Value::Map(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), split_tensors(x, tensors)?)))
                    .collect::<Result<_>>()?,
            )
        }
        Value::Float(f) if !f.is_finite() => {
            // JSON has no NaN or infinity: keep the float as a 0-d tensor instead.
            return split_tensors(&Value::Tensor(Tensor::scalar_f64(*f)), tensors)
                .map(|t| Value::Map([("$float".to_string(), t)].into()));
        }
        Value::Object(o) => bail!(
            "a {} cannot be cached (only numbers, strings, tensors, lists and maps)",
            o.type_name()
        ),
        other => other.clone(),
    })
}

/// Put the tensors of the entry's `.npz` back where `split_tensors` left references.
fn join_tensors(v: Value, tensors: &Map, entry: &Path) -> Result<Value> {
    Ok(match v {
        Value::Map(mut m) => {
            if m.len() == 1 {
                if let Some(Value::Str(k)) = m.get(TENSOR_TAG) {
                    return match tensors.get(k) {
                        Some(t) => Ok(t.clone()),
                        None => bail!(
                            "{}: the cache entry refers to tensor '{k}', which its .npz lacks (delete the entry to recompute)",
                            entry.display()
                        ),
                    };
                }
                if let Some(f) = m.remove("$float") {
                    let t = join_tensors(f, tensors, entry)?.to_tensor("cached float")?;
                    return Ok(Value::Float(
                        t.to_vec_f64()?.first().copied().unwrap_or(f64::NAN),
                    ));
                }
            }
            Value::Map(
                m.into_iter()
                    .map(|(k, x)| Ok((k, join_tensors(x, tensors, entry)?)))
                    .collect::<Result<_>>()?,
            )
        }
        Value::List(l) => Value::List(
            l.into_iter()
                .map(|x| join_tensors(x, tensors, entry))
                .collect::<Result<_>>()?,
        ),
        other => other,
    })
}

/// A name is part of a file name: refuse anything that could leave the cache directory.
fn check_name(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'),
        "cache name '{name}' must be non-empty and use only letters, digits, '_', '-' and '.' (it names a file)"
    );
    Ok(())
}

/// The JSON and npz files of the entry for `name` and `key`, and the hash naming them.
fn entry_paths(dir: &Path, name: &str, key: &Value) -> Result<(PathBuf, PathBuf, String)> {
    check_name(name)?;
    let hash = value_hash(&Value::List(vec![Value::Str(name.into()), key.clone()]))?;
    let stem = format!("{name}-{hash}");
    Ok((
        dir.join(format!("{stem}.json")),
        dir.join(format!("{stem}.npz")),
        hash,
    ))
}

/// The cached value for `name` and `key`, or None when there is no complete entry.
pub fn get(dir: &Path, name: &str, key: &Value) -> Result<Option<Value>> {
    let (json, npz, _) = entry_paths(dir, name, key)?;
    read_entry(&json, &npz)
}

/// The entry whose files are `json` and `npz`, or None when it is not complete.
fn read_entry(json: &Path, npz: &Path) -> Result<Option<Value>> {
    if !json.exists() {
        return Ok(None);
    }
    let skeleton = io::load(json)?;
    let tensors = if npz.exists() {
        npy::read_npz(npz)?
    } else {
        Map::new()
    };
    join_tensors(skeleton, &tensors, json).map(Some)
}

/// Store `value` for `name` and `key`; returns the entry's JSON path.
pub fn put(dir: &Path, name: &str, key: &Value, value: &Value) -> Result<PathBuf> {
    let (json, npz, _) = entry_paths(dir, name, key)?;
    let mut tensors = Map::new();
    let skeleton = split_tensors(value, &mut tensors)?;
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::msg(format!(
            "cannot create cache directory {}: {e}",
            dir.display()
        ))
    })?;
    if !tensors.is_empty() {
        npy::write_npz(&tensors, &npz)?;
    }
    io::save(&skeleton, &json)?;
    Ok(json)
}

/// The cache directory, shared by cache::get and cache::put so that a pair given the same
/// options meets at the same entries.
#[derive(Options)]
pub struct CacheDir {
    /// cache directory
    #[opt(doc_default = "OUT/cache")]
    pub dir: Option<PathBuf>,
}

impl CacheDir {
    /// The directory, the run's `OUT/cache` unless the script chose one.
    fn resolve(&self, ctx: &Ctx) -> PathBuf {
        match &self.dir {
            Some(d) => d.clone(),
            None => ctx.out_path("cache"),
        }
    }
}

/// The step name argument (the host has checked it is a string).
fn name_arg(v: &Value) -> Result<&str> {
    match v {
        Value::Str(s) => Ok(s),
        other => bail!("name must be a string, got {}", other.type_name()),
    }
}

/// The cached result of step `name` for these inputs, or () when there is none (the first run, or any input changed). Use with cache::put; scripts/paper.rhai wraps the pair in a `cached(name, key, || step(...))` helper.
#[derive(Options, Step)]
#[step(
    name = "get",
    param(name: Str = "the step's name (letters, digits, _ - .)"),
    param(key: Any = "everything the result depends on: input tensors, settings, seeds (tensors are hashed by content)"),
    returns = "the cached value, or ()",
    section = "Pipelines: caching long steps",
    example = "let fit = cache::get(\"spose\", #{triplets: T, dims: 90});\nif fit == () { fit = spose::fit(T, #{dims: 90}); cache::put(\"spose\", #{triplets: T, dims: 90}, fit); }"
)]
pub struct Get {
    #[opt(flatten)]
    pub dir: CacheDir,
}

impl step::Step for Get {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let name = name_arg(&args[0])?;
        let (json, npz, hash) = entry_paths(&self.dir.resolve(ctx), name, &args[1])?;
        match read_entry(&json, &npz)? {
            Some(v) => {
                ctx.info(&format!("cache: reusing {name} ({hash})"));
                Ok(v)
            }
            None => Ok(Value::Null),
        }
    }
}

/// Store a step's result under its name and inputs (tensors exactly, in an .npz beside a JSON skeleton; written through temporary files, the JSON last, so a crash never leaves an entry that reads as complete).
#[derive(Options, Step)]
#[step(
    name = "put",
    param(name: Str = "the step's name"),
    param(key: Any = "the same key as for cache::get"),
    param(value: Any = "the result: numbers, strings, tensors, lists and maps"),
    returns = "the value, unchanged",
    section = "Pipelines: caching long steps"
)]
pub struct Put {
    #[opt(flatten)]
    pub dir: CacheDir,
}

impl step::Step for Put {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let path = put(
            &self.dir.resolve(ctx),
            name_arg(&args[0])?,
            &args[1],
            &args[2],
        )?;
        ctx.output_file(&path);
        Ok(args[2].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        let x = Tensor::from_vec(vec![1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0], &[2, 3]).unwrap();
        let idx = Tensor::from_vec(vec![3i64, 1, 2], &[3]).unwrap();
        let mut m = Map::new();
        m.insert("X".into(), Value::Tensor(x));
        m.insert("idx".into(), Value::Tensor(idx));
        m.insert("nan".into(), Value::Float(f64::NAN));
        m.insert(
            "history".into(),
            Value::List(vec![
                Value::Int(1),
                Value::Float(0.5),
                Value::Str("a".into()),
            ]),
        );
        Value::Map(m)
    }

    #[test]
    fn round_trip_keeps_dtypes_shapes_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let key = Value::Str("k".into());
        assert!(get(dir.path(), "step", &key).unwrap().is_none());
        put(dir.path(), "step", &key, &sample()).unwrap();
        let back = get(dir.path(), "step", &key).unwrap().unwrap();
        let m = back.as_map().unwrap();
        let x = m["X"].to_tensor("X").unwrap();
        assert_eq!(x.dtype().name(), "f32");
        assert_eq!(x.shape(), vec![2, 3]);
        assert_eq!(
            x.to_vec_f64().unwrap(),
            vec![1.5, -2.0, 3.25, 0.0, 7.0, 8.0]
        );
        let idx = m["idx"].to_tensor("idx").unwrap();
        assert_eq!(idx.dtype().name(), "i64");
        assert!(matches!(m["nan"], Value::Float(f) if f.is_nan()));
        assert_eq!(
            value_hash(&m["history"]).unwrap(),
            value_hash(&sample().as_map().unwrap()["history"]).unwrap()
        );
        // Another key is another entry.
        assert!(get(dir.path(), "step", &Value::Str("other".into()))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_missing_npz_or_bad_name_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let key = Value::Int(1);
        let json = put(dir.path(), "s", &key, &sample()).unwrap();
        std::fs::remove_file(json.with_extension("npz")).unwrap();
        let err = get(dir.path(), "s", &key).unwrap_err().to_string();
        assert!(err.contains("lacks"), "{err}");
        let err = put(dir.path(), "../evil", &key, &Value::Int(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be non-empty"), "{err}");
    }
}
