//! `plot::heatmap`: a labelled matrix with a colour bar (component × term correlations).
use super::style::{self, Cmap, LIGHT};
use super::{emit, finite_opt, labels_opt, matrix_arg, num, Csv, DrawResult, Figure, Style};
use emoscope_sdk::{ensure, options, Ctx, Map, Result, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::Deserialize;

/// Every cell is a shape in the SVG: past this many the figure is not worth drawing cell by cell.
const MAX_CELLS: usize = 250_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Opt {
    rows: Option<Value>,
    cols: Option<Value>,
    title: Option<String>,
    diverging: Option<bool>,
    vmin: Option<f64>,
    vmax: Option<f64>,
    annotate: Option<bool>,
    label: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
}

pub(super) struct Heatmap {
    pub r: usize,
    pub c: usize,
    pub v: Vec<f64>,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub title: String,
    pub cmap: Cmap,
    pub lo: f64,
    pub hi: f64,
    pub annotate: bool,
    pub label: String,
}

/// Colour limits: the options, else symmetric ±max|x| (diverging) or [min, max].
pub(super) fn limits(
    v: &[f64],
    diverging: bool,
    vmin: Option<f64>,
    vmax: Option<f64>,
    what: &str,
) -> Result<(f64, f64)> {
    let finite = v.iter().copied().filter(|x| x.is_finite());
    let (lo, hi) = if diverging {
        let m = finite.fold(0.0f64, |a, x| a.max(x.abs()));
        let m = if m > 0.0 { m } else { 1.0 };
        match (vmin, vmax) {
            (Some(a), Some(b)) => (a, b),
            (Some(a), None) => (a, -a),
            (None, Some(b)) => (-b, b),
            (None, None) => (-m, m),
        }
    } else {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for x in finite {
            lo = lo.min(x);
            hi = hi.max(x);
        }
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        } else if hi - lo <= 1e-12 * (1.0 + lo.abs()) {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        (vmin.unwrap_or(lo), vmax.unwrap_or(hi))
    };
    ensure!(
        lo < hi,
        "{what}: the colour limits must satisfy vmin < vmax, got vmin = {lo}, vmax = {hi}"
    );
    Ok((lo, hi))
}

pub fn call(args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
    let o: Opt = options::parse(opts)?;
    let size = super::canvas(o.width, o.height)?;
    let (r, c, v) = matrix_arg(&args[0], "matrix")?;
    ensure!(r > 0 && c > 0, "matrix is empty ({r} × {c})");
    ensure!(
        r * c <= MAX_CELLS,
        "matrix is {r} × {c} = {} cells; a heatmap draws each cell, at most {MAX_CELLS}: plot a block of it, or aggregate",
        r * c
    );
    let rows = labels_opt(&o.rows, "option rows", Some((r, "row of matrix")))?
        .unwrap_or_else(|| (0..r).map(|i| i.to_string()).collect());
    let cols = labels_opt(&o.cols, "option cols", Some((c, "column of matrix")))?
        .unwrap_or_else(|| (0..c).map(|i| i.to_string()).collect());
    let diverging = o.diverging.unwrap_or(true);
    let (lo, hi) = limits(
        &v,
        diverging,
        finite_opt(o.vmin, "vmin")?,
        finite_opt(o.vmax, "vmax")?,
        "matrix",
    )?;
    let mut header = vec!["row".to_string()];
    header.extend(cols.iter().cloned());
    let mut csv = Csv::new(&header);
    for i in 0..r {
        let mut row = vec![rows[i].clone()];
        row.extend(v[i * c..(i + 1) * c].iter().map(|&x| num(x)));
        csv.row(&row);
    }
    let title = o.title.unwrap_or_default();
    let fig = Heatmap {
        r,
        c,
        v,
        rows,
        cols,
        title: title.clone(),
        cmap: if diverging {
            Cmap::Diverging
        } else {
            Cmap::Viridis
        },
        lo,
        hi,
        annotate: o.annotate.unwrap_or(false),
        label: o
            .label
            .unwrap_or_else(|| if diverging { "r" } else { "value" }.into()),
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

impl Heatmap {
    fn colour(&self, x: f64) -> RGBColor {
        if x.is_finite() {
            self.cmap.at((x - self.lo) / (self.hi - self.lo))
        } else {
            LIGHT
        }
    }
}

impl Figure for Heatmap {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let top = style::draw_title(root, st, &self.title)?;
        let (w, h) = (st.w as i32, st.h as i32);
        let pad = st.px(16.0);
        let ticks: Vec<(f64, String)> = {
            let t = style::nice_ticks(self.lo, self.hi, 8);
            let step = t.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(1.0);
            t.into_iter()
                .map(|x| (x, style::fmt_num(x, step)))
                .collect()
        };
        let bar = st.px(26.0);
        let cbar_w = style::colour_bar_width(root, st, bar, &ticks, &self.label);
        // Two passes: the label font follows the cell size, which follows the labels' room.
        let mut font = 22.0;
        let mut layout = (0, 0, 0, 0, false, font);
        for _ in 0..2 {
            let ls = st.font(font);
            let row_w = style::widest(root, &self.rows, &ls).min(w * 3 / 10);
            let avail_w = w - pad - row_w - pad - pad - cbar_w - pad;
            let cell_w = avail_w / self.c as i32;
            let col_w = style::widest(root, &self.cols, &ls);
            let vertical = col_w > cell_w - st.px(4.0);
            let col_h = if vertical {
                col_w.min(h * 3 / 10)
            } else {
                style::measure(root, "Ag", &ls).1
            };
            let avail_h = h - top - pad - col_h - pad;
            let cell_h = avail_h / self.r as i32;
            layout = (row_w, col_h, cell_w.max(1), cell_h.max(1), vertical, font);
            let fits = (cell_h as f64 / st.scale * 0.8).min(if vertical {
                cell_w as f64 / st.scale * 0.8
            } else {
                22.0
            });
            font = fits.clamp(8.0, 22.0);
        }
        let (row_w, col_h, cw, ch, vertical, font) = layout;
        let ls = st.font(font);
        let x0 = pad + row_w + pad;
        let y0 = top;
        let (x1, y1) = (x0 + cw * self.c as i32, y0 + ch * self.r as i32);
        for i in 0..self.r {
            for j in 0..self.c {
                let (a, b) = (x0 + cw * j as i32, y0 + ch * i as i32);
                root.draw(&Rectangle::new(
                    [(a, b), (a + cw, b + ch)],
                    self.colour(self.v[i * self.c + j]).filled(),
                ))?;
            }
        }
        root.draw(&Rectangle::new(
            [(x0, y0), (x1, y1)],
            style::INK.stroke_width(1),
        ))?;
        // Labels, skipped when they would be unreadably small.
        let readable = font * st.scale >= 6.0;
        if readable {
            for (i, l) in self.rows.iter().enumerate() {
                let l = style::fit(root, l, &ls, row_w);
                let y = y0 + ch * i as i32 + ch / 2;
                style::text(
                    root,
                    &l,
                    (x0 - st.px(8.0), y),
                    &ls,
                    HPos::Right,
                    VPos::Center,
                    false,
                )?;
            }
            for (j, l) in self.cols.iter().enumerate() {
                let x = x0 + cw * j as i32 + cw / 2;
                if vertical {
                    let l = style::fit(root, l, &ls, col_h);
                    style::text(
                        root,
                        &l,
                        (x, y1 + st.px(8.0)),
                        &ls,
                        HPos::Right,
                        VPos::Center,
                        true,
                    )?;
                } else {
                    style::text(
                        root,
                        l,
                        (x, y1 + st.px(8.0)),
                        &ls,
                        HPos::Center,
                        VPos::Top,
                        false,
                    )?;
                }
            }
        }
        if self.annotate {
            let size = (ch as f64 / st.scale * 0.45)
                .min(cw as f64 / st.scale / 3.2)
                .min(18.0);
            if size * st.scale >= 6.0 {
                let fs = st.font(size);
                for i in 0..self.r {
                    for j in 0..self.c {
                        let x = self.v[i * self.c + j];
                        let t = style::fmt_cell(x);
                        let fs = style::recolour(&fs, style::text_on(self.colour(x)));
                        let p = (x0 + cw * j as i32 + cw / 2, y0 + ch * i as i32 + ch / 2);
                        style::text(root, &t, p, &fs, HPos::Center, VPos::Center, false)?;
                    }
                }
            }
        }
        let cmap = self.cmap;
        style::colour_bar(
            root,
            st,
            (w - cbar_w - pad, y0, y1),
            bar,
            &move |t| cmap.at(t),
            &ticks,
            self.lo,
            self.hi,
            &self.label,
        )?;
        Ok(())
    }
}
