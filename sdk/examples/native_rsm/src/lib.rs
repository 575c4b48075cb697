//! An example native plugin written in Rust: Pearson RSMs at native speed, reading the host's
//! tensor in place (no copy) and returning the n × n matrix as a tensor.
//!
//! `pearson` is the same measure as `rsa::rsm(x, #{metric: "pearson"})`, computed here by
//! centring and normalising each row once and taking dot products, in parallel chunks of rows
//! across the threads the machine has.
use emoscope_native::serde_json::{json, Value};
use emoscope_native::*;

struct NativeRsm;

/// Rows centred and scaled to unit norm; a constant row is an error (its correlation is undefined).
fn normalised_rows(x: &TensorRef, n: usize, d: usize) -> Result<Vec<f64>, String> {
    let mut z = match x.as_slice::<f64>() {
        Ok(s) => s.to_vec(),
        Err(_) => x.to_f64(),
    };
    for (i, row) in z.chunks_mut(d).enumerate().take(n) {
        let mean = row.iter().sum::<f64>() / d as f64;
        row.iter_mut().for_each(|v| *v -= mean);
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(format!(
                "pearson: row {i} is constant or not finite, so its correlation is undefined"
            ));
        }
        row.iter_mut().for_each(|v| *v /= norm);
    }
    Ok(z)
}

fn pearson(host: &Host, args: &Args, options: &Options, out: &mut Output) -> Result<Value, String> {
    options.check(&[])?;
    let x = args.tensor(0)?;
    let s = x.shape();
    if s.len() != 2 || s[1] < 2 {
        return Err(format!(
            "pearson: x must be items × features with at least 2 features, got shape {s:?}"
        ));
    }
    let (n, d) = (s[0], s[1]);
    let z = normalised_rows(&x, n, d)?;
    let mut r = vec![0f64; n * n];
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.max(1));
    let rows_per = n.div_ceil(threads.max(1)).max(1);
    let done = std::sync::atomic::AtomicU64::new(0);
    let stopped = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        for (c, block) in r.chunks_mut(rows_per * n.max(1)).enumerate() {
            let (z, done, stopped) = (&z, &done, &stopped);
            sc.spawn(move || {
                for (k, row) in block.chunks_mut(n).enumerate() {
                    if host.cancelled() {
                        stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    let i = c * rows_per + k;
                    let zi = &z[i * d..(i + 1) * d];
                    for (j, v) in row.iter_mut().enumerate() {
                        let zj = &z[j * d..(j + 1) * d];
                        *v = zi.iter().zip(zj).map(|(a, b)| a * b).sum();
                    }
                    row[i] = 1.0;
                    let so_far = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    host.progress(so_far, n as u64);
                }
            });
        }
    });
    if stopped.load(std::sync::atomic::Ordering::Relaxed) {
        return Err("cancelled".into());
    }
    // Exact symmetry, as the other RSMs have.
    for i in 0..n {
        for j in 0..i {
            r[j * n + i] = r[i * n + j];
        }
    }
    Ok(out.tensor(Tensor::F64(r, vec![n, n])))
}

fn scale(args: &Args, options: &Options, out: &mut Output) -> Result<Value, String> {
    options.check(&["factor"])?;
    let factor = options.f64("factor", 1.0)?;
    let x = args.tensor(0)?;
    let v: Vec<f64> = match x.as_slice::<f64>() {
        Ok(s) => s.iter().map(|v| v * factor).collect(),
        Err(_) => x.to_f64().into_iter().map(|v| v * factor).collect(),
    };
    Ok(out.tensor(Tensor::F64(v, x.shape())))
}

/// `v` with each tensor replaced by a description of it. (A `{"$tensor": i}` in a result means
/// the result's own tensor i, so input references must not be echoed back.)
fn describe_tensors(args: &Args, v: &Value) -> Value {
    if let Some(t) = args.as_tensor(v) {
        return json!(format!("{} tensor {:?}", t.dtype().name(), t.shape()));
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| describe_tensors(args, x)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), describe_tensors(args, x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl NativePlugin for NativeRsm {
    fn describe() -> Info {
        info(
            "native_rsm",
            "0.1.0",
            "An example native plugin: Pearson RSMs at native speed",
            vec![
                spec("pearson", "Pearson correlation between every pair of rows.")
                    .param("x", "tensor", "items × features (at least 2 features; no constant row)")
                    .returns("n × n f64 matrix, 1 on the diagonal, exactly symmetric")
                    .section("Representational similarity analysis")
                    .example("let r = rsa::compare(native_rsm::pearson(X), rsa::rsm(Y));"),
                spec("scale", "Multiply every element by a factor.")
                    .param("x", "tensor", "any shape")
                    .opt("factor", "float", "1.0", "the multiplier")
                    .returns("an f64 tensor of x's shape"),
                spec("explain", "What the plugin received: a tensor's dtype and shape, or the value with each tensor in it described.")
                    .param("x", "any", "anything")
                    .returns("a map"),
                spec("noop", "Returns 0 and does nothing else (the cost of a call).")
                    .returns("0"),
                spec("sum", "Sum of all elements, read in place.")
                    .param("x", "tensor", "any shape")
                    .returns("float"),
                spec("panic_test", "Panics on purpose, to show that the host survives a plugin panic.")
                    .returns("never returns"),
            ],
        )
    }

    fn call(
        host: &Host,
        function: &str,
        args: &Args,
        options: &Options,
        out: &mut Output,
    ) -> Result<Value, String> {
        match function {
            "pearson" => pearson(host, args, options, out),
            "scale" => scale(args, options, out),
            "explain" => {
                let v = args.get(0).cloned().unwrap_or(Value::Null);
                Ok(match args.as_tensor(&v) {
                    Some(t) => {
                        json!({"kind": "tensor", "shape": t.shape(), "dtype": t.dtype().name()})
                    }
                    None => json!({"kind": "json", "value": describe_tensors(args, &v)}),
                })
            }
            "noop" => Ok(json!(0)),
            "sum" => {
                let x = args.tensor(0)?;
                Ok(json!(match x.as_slice::<f64>() {
                    Ok(s) => s.iter().sum::<f64>(),
                    Err(_) => x.to_f64().iter().sum::<f64>(),
                }))
            }
            "panic_test" => panic!("native_rsm panicked on purpose"),
            other => Err(format!("native_rsm has no function '{other}'")),
        }
    }
}

export_native_plugin!(NativeRsm);
