//! numpy-like printing: shape, dtype and device, then the values with long axes elided.
use super::{DType, Tensor};
use std::fmt;

const EDGE: usize = 3;
const MAX_FULL: usize = 10;

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = self.shape();
        let dt = self.dtype();
        let data = match self.to_f64() {
            Ok(d) => d,
            Err(e) => return write!(f, "<tensor: {e}>"),
        };
        let fmt_one = |x: f64| -> String {
            match dt {
                DType::Bool => (x != 0.0).to_string(),
                DType::I64 | DType::U8 => format!("{}", x as i64),
                _ if x.is_nan() => "nan".into(),
                _ if x.is_infinite() => {
                    if x > 0.0 {
                        "inf".into()
                    } else {
                        "-inf".into()
                    }
                }
                _ if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-4) => format!("{x:.4e}"),
                _ => format!("{x:.4}"),
            }
        };
        let mut body = String::new();
        render(&data.view(), 0, &fmt_one, &mut body);
        let dev = self.device();
        let dev = if dev == super::Device::Cpu {
            String::new()
        } else {
            format!(", device={dev}")
        };
        write!(f, "tensor({body}, shape={shape:?}, dtype={dt}{dev})")
    }
}

fn render(
    a: &ndarray::ArrayViewD<f64>,
    depth: usize,
    one: &dyn Fn(f64) -> String,
    out: &mut String,
) {
    if a.ndim() == 0 {
        out.push_str(&one(a[[]]));
        return;
    }
    let n = a.shape()[0];
    let idx: Vec<Option<usize>> = if n > MAX_FULL {
        (0..EDGE)
            .map(Some)
            .chain([None])
            .chain((n - EDGE..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    out.push('[');
    let sep = if a.ndim() > 1 {
        format!(",\n{}", " ".repeat(depth + 8))
    } else {
        ", ".to_string()
    };
    for (k, i) in idx.iter().enumerate() {
        if k > 0 {
            out.push_str(&sep);
        }
        match i {
            Some(i) => render(&a.index_axis(ndarray::Axis(0), *i), depth + 1, one, out),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}
