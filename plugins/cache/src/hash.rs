//! The content hash that files a cache entry, and `cache::key`, which shows it to scripts.
use emoscope_sdk::step;
use emoscope_sdk::{bail, Ctx, DType, Device, Options, Result, Step, Tensor, Value};
use sha2::{Digest, Sha256};

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

/// The hash cache::get and cache::put file an entry under: 16 hex digits of SHA-256 over the value's contents (tensors by dtype, shape and elements).
#[derive(Options, Step)]
#[step(
    name = "key",
    param(value: Any = "any value without objects"),
    returns = "string",
    section = "Pipelines: caching long steps",
    example = "print(cache::key(#{X: X, lambda: 0.004}));"
)]
pub struct Key;

impl step::Step for Key {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        Ok(Value::Str(value_hash(&args[0])?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
