//! A third party's analysis step: a representational similarity matrix under another metric,
//! the negative city-block (L1) distance between rows, for `rsa::compare` to use like any RSM.
//! It reads the input in chunks and writes the n × n result through a tensor builder.
use emoscope_guest::*;

struct Cityblock;

fn rsm(args: &[Value], options: &str) -> Result<Value, String> {
    let o = Options::parse(options, &["scale"])?;
    let scale = o.bool("scale", false)?;
    let x = tensor_arg(args, 0, "rsm")?;
    let s = x.shape();
    if s.len() != 2 {
        return Err(format!("rsm: x must be items × features, got shape {s:?}"));
    }
    let (n, d) = (s[0] as usize, s[1] as usize);
    let mut data = vec![0f64; n * d];
    read_chunks(x, |off, c| {
        data[off as usize..off as usize + c.len()].copy_from_slice(c);
        Ok(())
    })?;
    let out = TensorBuilder::new(&[n as u64, n as u64], Dtype::F64);
    let mut row = vec![0f64; n];
    for i in 0..n {
        if host::cancelled() {
            return Err("cancelled".into());
        }
        for (j, r) in row.iter_mut().enumerate() {
            let l1: f64 = (0..d)
                .map(|k| (data[i * d + k] - data[j * d + k]).abs())
                .sum();
            *r = -if scale { l1 / d as f64 } else { l1 };
        }
        out.write_f64((i * n) as u64, &row)?;
        host::progress(i as u64 + 1, n as u64);
    }
    Ok(Value::Tensor(TensorBuilder::finish(out)))
}

impl Plugin for Cityblock {
    fn describe() -> PluginInfo {
        info(
            "cityblock",
            "0.1.0",
            "An example analysis step: RSMs from the negative city-block (L1) distance",
            vec![spec(
                "rsm",
                "Row-by-row similarity as the negative city-block distance.",
            )
            .param("x", "tensor", "items × features")
            .opt(
                "scale",
                "bool",
                "false",
                "divide the distance by the number of features",
            )
            .returns(
                "n × n f64 similarity matrix (0 on the diagonal, more negative = less similar)",
            )
            .example("let r = rsa::compare(cityblock::rsm(X), rsa::rsm(Y));")],
        )
    }

    fn call(name: String, args: Vec<Value>, options: String) -> Result<Value, String> {
        match name.as_str() {
            "rsm" => rsm(&args, &options),
            other => Err(format!("cityblock has no function '{other}'")),
        }
    }
}

export_plugin!(Cityblock);
