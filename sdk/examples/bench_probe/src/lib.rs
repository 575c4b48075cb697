//! The overhead benchmark's probe (bench/plugin_overhead.rs): a call that does nothing, and
//! sums that read a host tensor in chunks, so the bench can time the crossing alone. The tests
//! use it too, for reads across many chunks and the host's linear algebra.
use emoscope_guest::*;

struct Probe;

fn sum(args: &[Value], f32: bool) -> Result<Value, String> {
    let x = tensor_arg(args, 0, "sum")?;
    let n = x.numel();
    let step = host::max_chunk().max(1);
    let mut total = 0f64;
    let mut off = 0;
    while off < n {
        let len = step.min(n - off);
        if f32 {
            total += x.read_f32(off, len)?.iter().map(|&v| v as f64).sum::<f64>();
        } else {
            total += x.read_f64(off, len)?.iter().sum::<f64>();
        }
        off += len;
    }
    Ok(Value::Float(total))
}

impl Plugin for Probe {
    fn describe() -> PluginInfo {
        info(
            "probe",
            "0.1.0",
            "The plugin overhead benchmark's probe",
            vec![
                spec("noop", "Returns 0 and does nothing else.").returns("0"),
                spec(
                    "sum",
                    "Sum of all elements, read as f64 in the host's chunks.",
                )
                .param("x", "tensor", "any shape")
                .returns("float"),
                spec(
                    "sum_f32",
                    "Sum of all elements, read as f32 in the host's chunks.",
                )
                .param("x", "tensor", "any shape")
                .returns("float"),
                spec("host_matmul", "a @ b, computed by the host (host::matmul).")
                    .param("a", "tensor", "m × k")
                    .param("b", "tensor", "k × n")
                    .returns("m × n tensor"),
                spec(
                    "host_rsm",
                    "The Pearson RSM of x's rows, computed by the host (host::rsm).",
                )
                .param("x", "tensor", "items × features")
                .returns("n × n tensor"),
            ],
        )
    }

    fn call(name: String, args: Vec<Value>, _options: String) -> Result<Value, String> {
        match name.as_str() {
            "noop" => Ok(Value::Int(0)),
            "sum" => sum(&args, false),
            "sum_f32" => sum(&args, true),
            "host_matmul" => host::matmul(
                tensor_arg(&args, 0, "host_matmul")?,
                tensor_arg(&args, 1, "host_matmul")?,
            )
            .map(Value::Tensor),
            "host_rsm" => {
                host::rsm(tensor_arg(&args, 0, "host_rsm")?, "pearson").map(Value::Tensor)
            }
            other => Err(format!("probe has no function '{other}'")),
        }
    }
}

export_plugin!(Probe);
