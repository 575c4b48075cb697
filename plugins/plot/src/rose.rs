//! `plot::rose`: polar bar diagrams of stimulus profiles, one small panel per stimulus.
use crate::args::{data_of, labels, labels_opt, matrix_arg};
use crate::data::{num, Csv};
use crate::figure::{emit, Figure, Size};
use crate::style::{self, DrawResult, Style, LIGHT};
use emoscope_sdk::step;
use emoscope_sdk::{ensure, Ctx, Options, Result, Step, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::f64::consts::PI;

const MAX_PANELS: usize = 36;

/// Rose (polar bar) diagrams of stimulus profiles (Fig. 5a): one panel per row of weights; each
/// component is a wedge at a fixed angle (clockwise from 12 o'clock) with radius proportional to
/// its weight, on a radial scale shared by all panels; the top components of each stimulus are
/// named. Weights must be ≥ 0 (NaN is drawn as 0). Writes <path>.csv: a first column of stimulus
/// titles, then one column per component.
#[derive(Options, Step)]
#[step(
    name = "rose",
    param(weights: Any = "stimuli × components, non-negative (at most 36 rows), or affect::profiles' result #{stimuli, weights}"),
    param(path: Str = "output path without extension"),
    returns = crate::figure::RETURNS,
    section = "Results: stimulus profiles",
    example = "let p = affect::profiles(X, [0, 5, 9]);\nplot::rose(p, out + \"/fig5a\", #{names: lab.labels, titles: [\"0001\", \"0006\", \"0010\"]});"
)]
pub struct Rose {
    /// component names
    #[opt(ty = List, doc_default = "\"0\", \"1\", ...")]
    pub names: Option<Value>,
    /// one panel title per row (default: the row, or the stimulus index of a profiles result)
    #[opt(ty = List, doc_default = "\"stimulus <i>\"")]
    pub titles: Option<Value>,
    /// how many of each stimulus's largest components to name (0: none)
    #[opt(default = 8)]
    pub top: i64,
    /// figure title
    #[opt(default = "")]
    pub title: String,
    /// panels per row
    #[opt(doc_default = "about √rows")]
    pub columns: Option<i64>,
    /// the canvas
    #[opt(flatten)]
    pub size: Size,
}

struct RoseFigure {
    s: usize,
    d: usize,
    w: Vec<f64>,
    names: Vec<String>,
    titles: Vec<String>,
    top: usize,
    wmax: f64,
    columns: Option<usize>,
    title: String,
}

/// Panels per row for `n` panels in a `w` × `h` box: the count that makes panels largest.
pub(crate) fn best_columns(n: usize, w: f64, h: f64, aspect: f64) -> usize {
    (1..=n.max(1))
        .max_by(|&a, &b| {
            let size = |c: usize| {
                let r = n.div_ceil(c);
                (w / c as f64 / aspect).min(h / r as f64)
            };
            size(a).total_cmp(&size(b)).then(b.cmp(&a))
        })
        .unwrap_or(1)
}

impl step::Step for Rose {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let size = self.size.canvas()?;
        let weights = data_of(
            &args[0],
            "weights",
            "weights",
            "a stimuli × components tensor or a map with 'weights' (affect::profiles' result)",
        )?;
        let stimuli = args[0].as_map().and_then(|m| m.get("stimuli"));
        let (s, d, w) = matrix_arg(weights, "weights")?;
        ensure!(s > 0, "weights has no rows (stimuli)");
        ensure!(
        s <= MAX_PANELS,
        "weights has {s} rows: one panel per row, at most {MAX_PANELS}; select the stimuli to show (X.rows([...]))"
    );
        ensure!(
            d >= 2,
            "weights needs at least 2 columns (components), got {d}"
        );
        for (k, &x) in w.iter().enumerate() {
            ensure!(
            x.is_nan() || (x.is_finite() && x >= 0.0),
            "weights[{}, {}] is {x}: a rose diagram needs non-negative finite weights (as SPoSE's are)",
            k / d,
            k % d
        );
        }
        let names = labels_opt(&self.names, "option names", Some((d, "column of weights")))?
            .unwrap_or_else(|| (0..d).map(|i| i.to_string()).collect());
        let titles = match labels_opt(&self.titles, "option titles", Some((s, "row of weights")))? {
            Some(t) => t,
            None => match stimuli.map(|v| labels(v, "weights.stimuli")).transpose()? {
                Some(ids) if ids.len() == s => {
                    ids.iter().map(|i| format!("stimulus {i}")).collect()
                }
                _ => (0..s).map(|i| format!("stimulus {i}")).collect(),
            },
        };
        let top = self.top;
        ensure!(top >= 0, "option top must be ≥ 0, got {top}");
        let columns = match self.columns {
            None => None,
            Some(c) if c >= 1 && c as usize <= s => Some(c as usize),
            Some(c) => {
                emoscope_sdk::bail!("option columns must be between 1 and {s} (the rows), got {c}")
            }
        };
        let wmax = w
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max);
        let mut header = vec!["stimulus".to_string()];
        header.extend(names.iter().cloned());
        let mut csv = Csv::new(&header);
        for i in 0..s {
            let mut row = vec![titles[i].clone()];
            row.extend(w[i * d..(i + 1) * d].iter().map(|&x| num(x)));
            csv.row(&row);
        }
        let title = self.title;
        let fig = RoseFigure {
            s,
            d,
            w,
            names,
            titles,
            top: top as usize,
            wmax: if wmax > 0.0 { wmax } else { 1.0 },
            columns,
            title: title.clone(),
        };
        emit(
            ctx,
            &args[1],
            &fig,
            size,
            &title,
            vec![(".csv", csv.bytes())],
        )
    }
}

impl Figure for RoseFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let top = style::draw_title(root, st, &self.title)?;
        let note = format!(
            "radius: weight (outer ring = {}); clockwise from 12 o'clock: components 0–{}",
            style::fmt_short(self.wmax),
            self.d - 1
        );
        let ns = st.small();
        let note_h = style::measure(root, &note, &ns).1 + st.px(16.0);
        let (w, h) = (st.w as f64, (st.h as i32 - top - note_h) as f64);
        let cols = self
            .columns
            .unwrap_or_else(|| best_columns(self.s, w, h, 1.0));
        let rows = self.s.div_ceil(cols);
        let (pw, ph) = (w / cols as f64, h / rows as f64);
        let ts = st.font((ph / st.scale * 0.075).clamp(13.0, 22.0));
        let ls = st.font((ph / st.scale * 0.055).clamp(10.0, 17.0));
        let title_h = style::measure(root, "Ag", &ts).1 as f64 + st.pxf(8.0);
        for i in 0..self.s {
            let (r, c) = (i / cols, i % cols);
            let (x0, y0) = (c as f64 * pw, top as f64 + r as f64 * ph);
            let t = style::fit(root, &self.titles[i], &ts, pw as i32 - st.px(10.0));
            style::text(
                root,
                &t,
                ((x0 + pw / 2.0) as i32, y0 as i32 + st.px(4.0)),
                &ts,
                HPos::Center,
                VPos::Top,
                false,
            )?;
            let cx = x0 + pw / 2.0;
            let cy = y0 + title_h + (ph - title_h) / 2.0;
            // Room for the names outside the largest wedge.
            let label_w = (pw * 0.22).min(st.pxf(110.0));
            let radius =
                ((pw / 2.0 - label_w).min((ph - title_h) / 2.0 - st.pxf(22.0))).max(st.pxf(12.0));
            let at = |rad: f64, th: f64| {
                (
                    (cx + rad * th.sin()).round() as i32,
                    (cy - rad * th.cos()).round() as i32,
                )
            };
            for f in [0.25, 0.5, 0.75, 1.0] {
                root.draw(&Circle::new(
                    at(0.0, 0.0),
                    (radius * f).round() as i32,
                    LIGHT.stroke_width(1),
                ))?;
            }
            let row = &self.w[i * self.d..(i + 1) * self.d];
            let half = PI / self.d as f64 * 0.92;
            for (k, &x) in row.iter().enumerate() {
                let x = if x.is_finite() { x } else { 0.0 };
                if x <= 0.0 {
                    continue;
                }
                let rad = radius * x / self.wmax;
                let th = 2.0 * PI * k as f64 / self.d as f64;
                let steps = 12;
                let mut pts = vec![at(0.0, 0.0)];
                for s in 0..=steps {
                    pts.push(at(rad, th - half + 2.0 * half * s as f64 / steps as f64));
                }
                let col = style::categorical(k);
                root.draw(&Polygon::new(pts.clone(), col.mix(0.85).filled()))?;
                pts.push(at(0.0, 0.0));
                root.draw(&PathElement::new(pts, WHITE.stroke_width(1)))?;
            }
            // Name the largest components.
            // (wedges under 4% of the scale are too small to name)
            let mut order: Vec<usize> = (0..self.d)
                .filter(|&k| row[k].is_finite() && row[k] > 0.04 * self.wmax)
                .collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            for &k in order.iter().take(self.top) {
                let th = 2.0 * PI * k as f64 / self.d as f64;
                let rad = radius * row[k] / self.wmax + st.pxf(6.0);
                let (sx, cy_) = (th.sin(), th.cos());
                let hp = if sx > 0.25 {
                    HPos::Left
                } else if sx < -0.25 {
                    HPos::Right
                } else {
                    HPos::Center
                };
                let vp = if cy_ > 0.25 {
                    VPos::Bottom
                } else if cy_ < -0.25 {
                    VPos::Top
                } else {
                    VPos::Center
                };
                let room = if matches!(hp, HPos::Center) {
                    pw as i32 / 2
                } else {
                    (label_w + radius - rad).max(st.pxf(40.0)) as i32
                };
                let l = style::fit(root, &self.names[k], &ls, room);
                style::text(root, &l, at(rad, th), &ls, hp, vp, false)?;
            }
        }
        style::text(
            root,
            &note,
            (st.w as i32 / 2, st.h as i32 - st.px(10.0)),
            &ns.clone(),
            HPos::Center,
            VPos::Bottom,
            false,
        )?;
        Ok(())
    }
}
