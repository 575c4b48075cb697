//! Tick values and numbers as figures print them: round ticks, as few decimals as a step needs,
//! no "-0", thousands separators. Re-exported by `style`, where the figures look for them.

/// About `target` round tick values (1, 2, 2.5 or 5 × 10^k apart) inside [lo, hi].
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return if lo.is_finite() { vec![lo] } else { vec![] };
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let e = raw.log10().floor() as i32;
    let mag = 10f64.powi(e);
    let m = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|m| m * mag >= raw)
        .unwrap_or(10.0);
    let step = m * mag;
    // k · m · 10^e, dividing by 10^−e for small steps so that 3 × 0.2 is 0.6, not 0.6000000000000001.
    let value = |k: i64| {
        if e >= 0 {
            k as f64 * m * 10f64.powi(e)
        } else {
            k as f64 * m / 10f64.powi(-e)
        }
    };
    let start = (lo / step - 1e-9).ceil() as i64;
    let end = (hi / step + 1e-9).floor() as i64;
    (start..=end).map(value).collect()
}

/// A formatter for the tick labels plotters draws on a linear axis over [lo, hi] with `n`
/// labels: every label with the decimals its step needs (0.40, 0.45, 0.50; 10, 20, 30).
pub fn axis_format(lo: f64, hi: f64, n: usize) -> impl Fn(&f64) -> String {
    use plotters::coord::ranged1d::Ranged;
    use plotters::coord::types::RangedCoordf64;
    let r: RangedCoordf64 = (lo..hi).into();
    let step = r
        .key_points(n)
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let step = if step.is_finite() && step > 0.0 {
        step
    } else {
        (hi - lo).abs().max(1e-12)
    };
    move |x: &f64| fmt_num(*x, step)
}

/// A number for a tick or a cell: as few decimals as the step needs, no "-0".
pub fn fmt_num(x: f64, step: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let decimals = if step > 0.0 && step.is_finite() {
        // (a step of 0.1 computed as 0.0999999 still needs one decimal)
        let e = (step.log10() + 1e-9).floor();
        // 2.5 × 10^e needs one decimal more than 1, 2 or 5 × 10^e.
        let extra = f64::from(u8::from((step / 10f64.powf(e) - 2.5).abs() < 1e-6));
        (extra - e).clamp(0.0, 8.0) as usize
    } else {
        2
    };
    no_negative_zero(format!("{x:.decimals$}"))
}

/// A cell annotation: two decimals.
pub fn fmt_cell(x: f64) -> String {
    if x.is_finite() {
        no_negative_zero(format!("{x:.2}"))
    } else {
        String::new()
    }
}

/// "-0.00" → "0.00".
fn no_negative_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// A compact general number (for captions and annotations).
pub fn fmt_short(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{x:.2e}")
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// An integer with thousands separators.
pub fn fmt_count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let t = nice_ticks(-0.37, 0.37, 4);
        assert!(t.contains(&0.0) && t.iter().all(|x| x.abs() <= 0.37));
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
    }

    #[test]
    fn numbers_format_cleanly() {
        assert_eq!(fmt_num(0.2, 0.2), "0.2");
        assert_eq!(fmt_num(-0.0, 0.1), "0.0");
        assert_eq!(fmt_num(25.0, 5.0), "25");
        assert_eq!(fmt_num(0.25, 0.25), "0.25");
        assert_eq!(fmt_count(1234567), "1,234,567");
    }
}
