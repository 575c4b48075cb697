//! `plot::hist2d`: voxel-wise A against B as a 2-D histogram with the identity line.
use crate::args::voxel_values;
use crate::data::{npy, num, Csv};
use crate::figure::{emit, Figure, Size};
use crate::style::{self, Cmap, DrawResult, Style, MID};
use emoscope_sdk::step;
use emoscope_sdk::{ensure, Ctx, Options, Result, Step, Tensor, Value};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// A voxel-wise A-versus-B comparison (Fig. 2d): a 2-D histogram of the pairs (a[v], b[v]) on a
/// shared square range, log-scaled counts in viridis, the identity line, and the number of pairs
/// and the share above the line in the subtitle. Pairs where either value is NaN or infinite are
/// dropped. Writes <path>.npy (the counts, bins × bins, [i, j] = a-bin i, b-bin j, int64) and
/// <path>.csv (the bin edges: edge_a, edge_b).
#[derive(Options, Step)]
#[step(
    name = "hist2d",
    param(a: Tensor = "model A, one value per voxel (x axis)"),
    param(b: Tensor = "model B, same length (y axis)"),
    param(path: Str = "output path without extension"),
    returns = crate::figure::RETURNS,
    section = "Results: voxel-wise comparison of two models",
    example = "plot::hist2d(mllm.r, llm.r, out + \"/fig2d\", #{xlabel: \"MLLM r\", ylabel: \"LLM r\"});"
)]
pub struct Hist2d {
    /// bins per axis (2 to 1000)
    #[opt(default = 60)]
    pub bins: i64,
    /// x-axis label
    #[opt(default = "A")]
    pub xlabel: String,
    /// y-axis label
    #[opt(default = "B")]
    pub ylabel: String,
    /// figure title
    #[opt(default = "")]
    pub title: String,
    /// the canvas
    #[opt(flatten)]
    pub size: Size,
}

struct Hist2dFigure {
    bins: usize,
    /// counts[i * bins + j]: a in bin i, b in bin j.
    counts: Vec<i64>,
    lo: f64,
    hi: f64,
    max: i64,
    title: String,
    caption: String,
    xlabel: String,
    ylabel: String,
}

impl step::Step for Hist2d {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let size = self.size.canvas()?;
        let a = voxel_values(&args[0], "a")?;
        let b = voxel_values(&args[1], "b")?;
        ensure!(
            a.len() == b.len(),
            "a has {} values but b has {}: compare two maps over the same voxels",
            a.len(),
            b.len()
        );
        let bins = self.bins;
        ensure!(
            (2..=1000).contains(&bins),
            "option bins must be between 2 and 1000, got {bins}"
        );
        let bins = bins as usize;
        let keep: Vec<usize> = (0..a.len())
            .filter(|&i| a[i].is_finite() && b[i].is_finite())
            .collect();
        ensure!(
            !keep.is_empty(),
            "a and b: no pair has both values finite ({} pairs, all with NaN or infinity)",
            a.len()
        );
        let dropped = a.len() - keep.len();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &i in &keep {
            lo = lo.min(a[i]).min(b[i]);
            hi = hi.max(a[i]).max(b[i]);
        }
        if hi - lo <= 1e-12 * (1.0 + lo.abs()) {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        let bin = |x: f64| (((x - lo) / (hi - lo) * bins as f64).floor() as usize).min(bins - 1);
        let mut counts = vec![0i64; bins * bins];
        let mut above = 0usize;
        for &i in &keep {
            counts[bin(a[i]) * bins + bin(b[i])] += 1;
            above += usize::from(b[i] > a[i]);
        }
        let max = counts.iter().copied().max().unwrap_or(1).max(1);
        let (xlabel, ylabel) = (self.xlabel, self.ylabel);
        let mut caption = format!(
            "n = {} pairs; {} > {}: {:.1}%",
            style::fmt_count(keep.len()),
            ylabel,
            xlabel,
            100.0 * above as f64 / keep.len() as f64
        );
        if dropped > 0 {
            caption.push_str(&format!(
                " ({} with NaN dropped)",
                style::fmt_count(dropped)
            ));
        }
        let edges: Vec<f64> = (0..=bins)
            .map(|k| lo + (hi - lo) * k as f64 / bins as f64)
            .collect();
        let mut csv = Csv::new(&["edge_a", "edge_b"]);
        for e in &edges {
            csv.row(&[num(*e), num(*e)]);
        }
        let counts_npy = npy(&Tensor::from_vec(counts.clone(), &[bins, bins])?)?;
        let title = self.title;
        let fig = Hist2dFigure {
            bins,
            counts,
            lo,
            hi,
            max,
            title: title.clone(),
            caption: caption.clone(),
            xlabel,
            ylabel,
        };
        let shown = if title.is_empty() {
            caption
        } else {
            format!("{title} ({caption})")
        };
        emit(
            ctx,
            &args[2],
            &fig,
            size,
            &shown,
            vec![(".npy", counts_npy), (".csv", csv.bytes())],
        )
    }
}

impl Figure for Hist2dFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = (st.w as i32, st.h as i32);
        let mut top = style::draw_title(root, st, &self.title)?;
        if self.title.is_empty() {
            top = st.px(12.0);
        }
        let cs = st.font(22.0);
        style::text(
            root,
            &self.caption,
            (w / 2, top),
            &cs,
            HPos::Center,
            VPos::Top,
            false,
        )?;
        top += style::measure(root, &self.caption, &cs).1 + st.px(14.0);

        let lmax = (self.max as f64).log10();
        let pos = |c: f64| if lmax > 0.0 { c.log10() / lmax } else { 1.0 };
        let mut ticks: Vec<(f64, String)> = Vec::new();
        // 1, 2, 5, 10, ... over few decades; powers of ten over many.
        let mults: &[i64] = if self.max < 1000 { &[1, 2, 5] } else { &[1] };
        let mut p = 1i64;
        'outer: while p <= self.max {
            for &m in mults {
                let v = p * m;
                if v > self.max {
                    break 'outer;
                }
                ticks.push((pos(v as f64), style::fmt_count(v as usize)));
            }
            p = match p.checked_mul(10) {
                Some(x) => x,
                None => break,
            };
        }
        if lmax <= 0.0 {
            ticks = vec![(1.0, "1".into())];
        }
        let bar = st.px(26.0);
        let cbar_w = style::colour_bar_width(root, st, bar, &ticks, "count (log scale)");
        let (xa, ya) = (st.px(72.0), st.px(100.0));
        let m = st.px(20.0);
        let side = (h - top - xa - m).min(w - ya - cbar_w - 4 * m).max(50);
        let area_w = ya + side + m;
        let left = ((w - area_w - cbar_w - m) / 2).max(0);
        let area = root.clone().shrink((left, top), (area_w, side + xa));
        let mut chart = ChartBuilder::on(&area)
            .margin_right(m)
            .x_label_area_size(xa)
            .y_label_area_size(ya)
            .build_cartesian_2d(self.lo..self.hi, self.lo..self.hi)?;
        let fmt = style::axis_format(self.lo, self.hi, 7);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(7)
            .y_labels(7)
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .x_desc(self.xlabel.as_str())
            .y_desc(self.ylabel.as_str())
            .label_style(st.tick())
            .axis_desc_style(st.label())
            .axis_style(style::INK.stroke_width(st.stroke(1.5)))
            .draw()?;
        let width = (self.hi - self.lo) / self.bins as f64;
        let edge = |k: usize| self.lo + width * k as f64;
        chart.draw_series(
            (0..self.bins * self.bins)
                .filter(|&k| self.counts[k] > 0)
                .map(|k| {
                    let (i, j) = (k / self.bins, k % self.bins);
                    let c = Cmap::Viridis.at(pos(self.counts[k] as f64));
                    Rectangle::new([(edge(i), edge(j)), (edge(i + 1), edge(j + 1))], c.filled())
                }),
        )?;
        chart.draw_series(std::iter::once(DashedPathElement::new(
            vec![(self.lo, self.lo), (self.hi, self.hi)],
            st.px(10.0),
            st.px(7.0),
            MID.stroke_width(st.stroke(2.0)),
        )))?;
        let (px0, py0) = chart.backend_coord(&(self.lo, self.hi));
        let (_, py1) = chart.backend_coord(&(self.lo, self.lo));
        let _ = px0;
        style::colour_bar(
            root,
            st,
            (left + area_w + m, py0, py1),
            bar,
            &|t| Cmap::Viridis.at(t),
            &ticks,
            0.0,
            1.0,
            "count (log scale)",
        )?;
        Ok(())
    }
}
