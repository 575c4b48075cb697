//! `plot::heatmap`: a labelled matrix with a colour bar (component × term correlations).
use crate::args::{finite_opt, labels_opt, matrix_arg};
use crate::data::{num, Csv};
use crate::figure::{emit, Figure, Size};
use crate::style::{self, Cmap, DrawResult, Style, LIGHT};
use emoscope_sdk::step;
use emoscope_sdk::{ensure, Ctx, Options, Result, Step, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Every cell is a shape in the SVG: past this many the figure is not worth drawing cell by cell.
const MAX_CELLS: usize = 250_000;

/// A matrix as coloured cells with row and column labels and a colour bar (the component × term
/// correlations of Fig. 4). Diverging: blue-white-red with symmetric limits ±max|x|; otherwise
/// viridis from min to max. NaN cells are light grey. Writes <path>.csv: a header of the column
/// names and a first column of row names.
#[derive(Options, Step)]
#[step(
    name = "heatmap",
    param(matrix: Tensor = "rows × columns"),
    param(path: Str = "output path without extension"),
    returns = crate::figure::RETURNS,
    section = "Results: what the components mean (component × rating correlations)",
    example = "let lab = affect::label(X, ratings);\nplot::heatmap(lab.correlations, out + \"/fig4\", #{rows: lab.labels, cols: lab.term_names, title: \"Component–rating correlations\"});"
)]
pub struct Heatmap {
    /// row labels
    #[opt(ty = List, doc_default = "0, 1, ...")]
    rows: Option<Value>,
    /// column labels
    #[opt(ty = List, doc_default = "0, 1, ...")]
    cols: Option<Value>,
    /// figure title
    #[opt(default = "")]
    title: String,
    /// blue-white-red centred on 0 (for correlations); false: viridis
    #[opt(default = true)]
    diverging: bool,
    /// lower colour limit
    #[opt(doc_default = "-max|x| (diverging) or min")]
    vmin: Option<f64>,
    /// upper colour limit
    #[opt(doc_default = "max|x| (diverging) or max")]
    vmax: Option<f64>,
    /// write each cell's value in it
    #[opt(default = false)]
    annotate: bool,
    /// colour-bar label
    #[opt(doc_default = "\"r\" (diverging) or \"value\"")]
    label: Option<String>,
    /// the canvas
    #[opt(flatten)]
    size: Size,
}

struct HeatmapFigure {
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

/// max|x| over the finite values, the half-width of symmetric colour limits; 1 when every value
/// is 0 (or none is finite), so the limits never collapse.
pub(crate) fn abs_max(values: impl Iterator<Item = f64>) -> f64 {
    let m = values
        .filter(|x| x.is_finite())
        .fold(0.0f64, |a, x| a.max(x.abs()));
    if m > 0.0 {
        m
    } else {
        1.0
    }
}

/// Colour limits: the options, else symmetric ±max|x| (diverging) or [min, max].
fn limits(
    v: &[f64],
    diverging: bool,
    vmin: Option<f64>,
    vmax: Option<f64>,
    what: &str,
) -> Result<(f64, f64)> {
    let finite = v.iter().copied().filter(|x| x.is_finite());
    let (lo, hi) = if diverging {
        let m = abs_max(finite);
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

impl step::Step for Heatmap {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let size = self.size.canvas()?;
        let (r, c, v) = matrix_arg(&args[0], "matrix")?;
        ensure!(r > 0 && c > 0, "matrix is empty ({r} × {c})");
        ensure!(
        r * c <= MAX_CELLS,
        "matrix is {r} × {c} = {} cells; a heatmap draws each cell, at most {MAX_CELLS}: plot a block of it, or aggregate",
        r * c
    );
        let rows = labels_opt(&self.rows, "option rows", Some((r, "row of matrix")))?
            .unwrap_or_else(|| (0..r).map(|i| i.to_string()).collect());
        let cols = labels_opt(&self.cols, "option cols", Some((c, "column of matrix")))?
            .unwrap_or_else(|| (0..c).map(|i| i.to_string()).collect());
        let diverging = self.diverging;
        let (lo, hi) = limits(
            &v,
            diverging,
            finite_opt(self.vmin, "vmin")?,
            finite_opt(self.vmax, "vmax")?,
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
        let title = self.title;
        let fig = HeatmapFigure {
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
            annotate: self.annotate,
            label: self
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
}

impl HeatmapFigure {
    fn colour(&self, x: f64) -> RGBColor {
        if x.is_finite() {
            self.cmap.at((x - self.lo) / (self.hi - self.lo))
        } else {
            LIGHT
        }
    }
}

impl Figure for HeatmapFigure {
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
