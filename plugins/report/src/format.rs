//! How values read in the report: HTML-escaped text and numbers printed as a results section
//! prints them.
use emoscope_sdk::Value;

/// `s` with the characters HTML gives meaning to escaped, so script text never becomes markup.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Numbers as a results section prints them: 4 significant digits, small p-values in
/// scientific notation, integers as integers.
pub(crate) fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "–".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        format!("{x:.3e}")
    } else {
        let digits = (4 - 1 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.digits$}")
    }
}

/// A table cell or key-value entry: numbers via [`fmt_num`], containers summarised by size.
pub(crate) fn cell(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => fmt_num(*f),
        Value::Str(s) => esc(s),
        Value::Tensor(t) if t.numel() == 1 => t
            .to_vec_f64()
            .ok()
            .and_then(|v| v.first().copied())
            .map(fmt_num)
            .unwrap_or_default(),
        Value::Tensor(t) => esc(&format!("tensor {:?}", t.shape())),
        Value::List(l) if l.len() <= 6 => l.iter().map(cell).collect::<Vec<_>>().join(", "),
        Value::List(l) => format!("list of {}", l.len()),
        Value::Map(m) => format!("map of {}", m.len()),
        Value::Object(o) => esc(o.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_a_results_section() {
        assert_eq!(fmt_num(0.98576), "0.9858");
        assert_eq!(fmt_num(12.3456), "12.35");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.00001234), "1.234e-5");
        assert_eq!(fmt_num(f64::NAN), "–");
    }
}
