//! The `cache::` namespace: results of long steps kept on disk under a hash of their inputs, so
//! a rerun after a crash, or after an edit to a late step, does not recompute the early ones.
//!
//! An entry is `<dir>/<name>-<hash>.json` (the value, with each tensor replaced by a reference)
//! plus `<dir>/<name>-<hash>.npz` (the tensors, exact dtype and shape). The npz is written
//! first and the JSON last, each through a temporary file, so an entry whose JSON exists is
//! complete; a crash mid-write leaves at worst an orphan npz that is overwritten next time.
//!
//! The hash covers the step's name and a key the script chooses: every input and setting the
//! result depends on (tensors by content: dtype, shape and every element).
use emoscope_sdk::io::{self, npy};
use emoscope_sdk::{bail, ensure, options, DType, Device};
use emoscope_sdk::{Ctx, Error, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub struct CacheNs;

/// The plugin, for the host's registry.
pub fn plugin() -> CacheNs {
    CacheNs
}

const SECTION: &str = "Pipelines: caching long steps";
const TENSOR_TAG: &str = "$tensor";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheOpt {
    #[serde(default)]
    dir: Option<String>,
}

impl CacheOpt {
    fn dir(&self, ctx: &Ctx) -> PathBuf {
        match &self.dir {
            Some(d) => PathBuf::from(d),
            None => ctx.out_path("cache"),
        }
    }
}

/// A stable hash of a value: type tags, lengths and contents, maps in key order (they are
/// BTreeMaps), floats by their bits, tensors by dtype, shape and elements in row-major order.
pub fn value_hash(v: &Value) -> Result<String> {
    let mut h = Sha256::new();
    feed(&mut h, v)?;
    Ok(h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn feed(h: &mut Sha256, v: &Value) -> Result<()> {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(b) => h.update([b'b', *b as u8]),
        Value::Int(i) => {
            h.update(b"i");
            h.update(i.to_le_bytes());
        }
        Value::Float(f) => {
            h.update(b"f");
            h.update(f.to_bits().to_le_bytes());
        }
        Value::Str(s) => {
            h.update(b"s");
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::List(l) => {
            h.update(b"l");
            h.update((l.len() as u64).to_le_bytes());
            for x in l {
                feed(h, x)?;
            }
        }
        Value::Map(m) => {
            h.update(b"m");
            h.update((m.len() as u64).to_le_bytes());
            for (k, x) in m {
                h.update((k.len() as u64).to_le_bytes());
                h.update(k.as_bytes());
                feed(h, x)?;
            }
        }
        Value::Tensor(t) => feed_tensor(h, t)?,
        Value::Object(o) => bail!(
            "a {} cannot be part of a cache key or a cached value (only numbers, strings, tensors, lists and maps)",
            o.type_name()
        ),
    }
    Ok(())
}

fn feed_tensor(h: &mut Sha256, t: &Tensor) -> Result<()> {
    let t = t.to_device(Device::Cpu)?;
    h.update(b"t");
    h.update(t.dtype().name().as_bytes());
    let shape = t.shape();
    h.update((shape.len() as u64).to_le_bytes());
    for s in &shape {
        h.update((*s as u64).to_le_bytes());
    }
    // Row-major iteration, so a transposed view hashes as its logical contents.
    match t.dtype() {
        DType::F32 => t
            .to_array::<f32>()?
            .iter()
            .for_each(|x| h.update(x.to_bits().to_le_bytes())),
        DType::F64 => t
            .to_array::<f64>()?
            .iter()
            .for_each(|x| h.update(x.to_bits().to_le_bytes())),
        DType::I64 => t
            .to_array::<i64>()?
            .iter()
            .for_each(|x| h.update(x.to_le_bytes())),
        DType::U8 => t.to_array::<u8>()?.iter().for_each(|x| h.update([*x])),
        DType::Bool => t
            .to_array::<bool>()?
            .iter()
            .for_each(|x| h.update([*x as u8])),
    }
    Ok(())
}

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
    if !json.exists() {
        return Ok(None);
    }
    let skeleton = io::load(&json)?;
    let tensors = if npz.exists() {
        npy::read_npz(&npz)?
    } else {
        Map::new()
    };
    join_tensors(skeleton, &tensors, &json).map(Some)
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

impl Plugin for CacheNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "cache".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Results of long steps kept on disk under a hash of their inputs".into(),
            functions: vec![
                FnSpec::new("get", "The cached result of step `name` for these inputs, or () when there is none (the first run, or any input changed). Use with cache::put; scripts/paper.rhai wraps the pair in a `cached(name, key, || step(...))` helper.")
                    .param("name", Ty::Str, "the step's name (letters, digits, _ - .)")
                    .param("key", Ty::Any, "everything the result depends on: input tensors, settings, seeds (tensors are hashed by content)")
                    .opt("dir", Ty::Str, "OUT/cache", "cache directory")
                    .returns("the cached value, or ()")
                    .section(SECTION)
                    .example("let fit = cache::get(\"spose\", #{triplets: T, dims: 90});\nif fit == () { fit = spose::fit(T, #{dims: 90}); cache::put(\"spose\", #{triplets: T, dims: 90}, fit); }"),
                FnSpec::new("put", "Store a step's result under its name and inputs (tensors exactly, in an .npz beside a JSON skeleton; written through temporary files, the JSON last, so a crash never leaves an entry that reads as complete).")
                    .param("name", Ty::Str, "the step's name")
                    .param("key", Ty::Any, "the same key as for cache::get")
                    .param("value", Ty::Any, "the result: numbers, strings, tensors, lists and maps")
                    .opt("dir", Ty::Str, "OUT/cache", "cache directory")
                    .returns("the value, unchanged")
                    .section(SECTION),
                FnSpec::new("key", "The hash cache::get and cache::put file an entry under: 16 hex digits of SHA-256 over the value's contents (tensors by dtype, shape and elements).")
                    .param("value", Ty::Any, "any value without objects")
                    .returns("string")
                    .section(SECTION)
                    .example("print(cache::key(#{X: X, lambda: 0.004}));"),
            ],
        }
    }

    fn call(&self, f: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        let name = || match &args[0] {
            Value::Str(s) => Ok(s.as_str()),
            other => bail!("name must be a string, got {}", other.type_name()),
        };
        match f {
            "get" => {
                let o: CacheOpt = options::parse(opts)?;
                let dir = o.dir(ctx);
                match get(&dir, name()?, &args[1])? {
                    Some(v) => {
                        ctx.info(&format!(
                            "cache: reusing {} ({})",
                            name()?,
                            entry_paths(&dir, name()?, &args[1])?.2
                        ));
                        Ok(v)
                    }
                    None => Ok(Value::Null),
                }
            }
            "put" => {
                let o: CacheOpt = options::parse(opts)?;
                let path = put(&o.dir(ctx), name()?, &args[1], &args[2])?;
                ctx.output_file(&path);
                Ok(args[2].clone())
            }
            "key" => Ok(Value::Str(value_hash(&args[0])?)),
            other => bail!("cache has no function '{other}'"),
        }
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
    fn hash_follows_contents_not_storage() {
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let b = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let c = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.5], &[2, 2]).unwrap();
        let d = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let e = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[4]).unwrap();
        let h = |t: &Tensor| value_hash(&Value::Tensor(t.clone())).unwrap();
        assert_eq!(h(&a), h(&b));
        assert_ne!(h(&a), h(&c), "one element changed");
        assert_ne!(h(&a), h(&d), "dtype changed");
        assert_ne!(h(&a), h(&e), "shape changed");
        // Maps hash by key and value; lists by order.
        let m1 = Value::Map([("a".into(), Value::Int(1)), ("b".into(), Value::Int(2))].into());
        let m2 = Value::Map([("a".into(), Value::Int(2)), ("b".into(), Value::Int(1))].into());
        assert_ne!(value_hash(&m1).unwrap(), value_hash(&m2).unwrap());
        assert_ne!(
            value_hash(&Value::Int(1)).unwrap(),
            value_hash(&Value::Float(1.0)).unwrap()
        );
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
