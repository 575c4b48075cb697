//! `plot::scatter`: a 2-D map of points coloured by group (the t-SNE map).
use crate::args::{data_of, labels_opt, matrix_arg};
use crate::data::{num, Csv};
use crate::figure::{emit, Figure, Size};
use crate::style::{self, DrawResult, Marker, Style, GREY};
use emoscope_sdk::step;
use emoscope_sdk::{ensure, Ctx, Options, Result, Step, Value};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Groups beyond this many (the largest kept) are drawn grey as "other".
const MAX_GROUPS: usize = 12;

/// A 2-D map of points (the t-SNE map of the stimuli), coloured by group with a legend. With more
/// than 12 groups the 12 largest get colours and the rest are grey "other". Points with a NaN
/// coordinate are left out of the picture (not of the data). Writes <path>.svg, <path>.png and
/// <path>.csv (columns x, y, group).
#[derive(Options, Step)]
#[step(
    name = "scatter",
    param(coords: Any = "n × 2 coordinates, or affect::tsne's result (its coords)"),
    param(path: Str = "output path without extension (a .svg/.png suffix is dropped)"),
    returns = crate::figure::RETURNS,
    section = "Results: categorical structure of the embedding (t-SNE map)",
    example = "let t = affect::tsne(X, #{seed: 1});\nplot::scatter(t.coords, out + \"/fig3_tsne\", #{groups: top_category, title: \"t-SNE of the 30-d embedding\"});"
)]
pub struct Scatter {
    /// one label per point (strings or numbers), e.g. each stimulus's top category
    #[opt(ty = List)]
    pub groups: Option<Value>,
    /// figure title
    #[opt(default = "")]
    pub title: String,
    /// x-axis label
    #[opt(default = "dimension 1")]
    pub xlabel: String,
    /// y-axis label
    #[opt(default = "dimension 2")]
    pub ylabel: String,
    /// marker radius in pixels at 1200 × 900
    #[opt(default = 5.0)]
    pub point_size: f64,
    /// the canvas
    #[opt(flatten)]
    pub size: Size,
}

struct ScatterFigure {
    x: Vec<f64>,
    y: Vec<f64>,
    /// Colour class of each point: Some(group rank) or None (grey "other" / no groups).
    class: Vec<Option<usize>>,
    /// Legend: (colour, label), groups first, "other" last.
    legend: Vec<(RGBColor, String)>,
    grouped: bool,
    title: String,
    xlabel: String,
    ylabel: String,
    radius: f64,
    xr: (f64, f64),
    yr: (f64, f64),
}

/// [lo, hi] of the finite values, padded by 5% (±1 around a single value).
pub(crate) fn padded_range(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in v.filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if lo > hi {
        return None;
    }
    if hi - lo <= 1e-12 * (1.0 + lo.abs()) {
        return Some((lo - 1.0, hi + 1.0));
    }
    let pad = 0.05 * (hi - lo);
    Some((lo - pad, hi + pad))
}

impl step::Step for Scatter {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let size = self.size.canvas()?;
        let coords = data_of(
            &args[0],
            "coords",
            "coords",
            "an n × 2 tensor or a map with 'coords' (affect::tsne's result)",
        )?;
        let (n, d, v) = matrix_arg(coords, "coords")?;
        ensure!(
            d == 2,
            "coords must be n × 2 (one row per point), got {n} × {d}"
        );
        ensure!(n > 0, "coords has no rows");
        let groups = labels_opt(&self.groups, "option groups", Some((n, "row of coords")))?;
        let radius = self.point_size;
        ensure!(
            radius.is_finite() && radius > 0.0 && radius <= 50.0,
            "option point_size must be between 0 and 50 pixels, got {radius}"
        );
        let x: Vec<f64> = (0..n).map(|i| v[2 * i]).collect();
        let y: Vec<f64> = (0..n).map(|i| v[2 * i + 1]).collect();
        let ok = |i: usize| x[i].is_finite() && y[i].is_finite();
        ensure!(
            (0..n).any(ok),
            "coords: no point has two finite coordinates (all {n} have NaN or infinity)"
        );
        let xr = padded_range((0..n).filter(|&i| ok(i)).map(|i| x[i])).expect("a finite point");
        let yr = padded_range((0..n).filter(|&i| ok(i)).map(|i| y[i])).expect("a finite point");

        let (class, legend) = match &groups {
            None => (vec![None; n], vec![]),
            Some(g) => {
                // Group sizes, largest first; ties in order of first appearance.
                let mut names: Vec<(String, usize, usize)> = Vec::new();
                for (i, l) in g.iter().enumerate() {
                    match names.iter_mut().find(|(m, _, _)| m == l) {
                        Some(e) => e.1 += 1,
                        None => names.push((l.clone(), 1, i)),
                    }
                }
                names.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
                let kept = names.len().min(MAX_GROUPS);
                let class = g
                    .iter()
                    .map(|l| names[..kept].iter().position(|(m, _, _)| m == l))
                    .collect();
                let mut legend: Vec<(RGBColor, String)> = names[..kept]
                    .iter()
                    .enumerate()
                    .map(|(k, (m, c, _))| (style::categorical(k), format!("{m} ({c})")))
                    .collect();
                if names.len() > kept {
                    let rest: usize = names[kept..].iter().map(|e| e.1).sum();
                    legend.push((
                        GREY,
                        format!("other: {} groups ({rest})", names.len() - kept),
                    ));
                }
                (class, legend)
            }
        };

        let mut csv = Csv::new(&["x", "y", "group"]);
        for i in 0..n {
            let g = groups.as_ref().map(|g| g[i].as_str()).unwrap_or("");
            csv.row(&[num(x[i]), num(y[i]), g.to_string()]);
        }
        let title = self.title;
        let fig = ScatterFigure {
            x,
            y,
            class,
            legend,
            grouped: groups.is_some(),
            title: title.clone(),
            xlabel: self.xlabel,
            ylabel: self.ylabel,
            radius,
            xr,
            yr,
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

impl Figure for ScatterFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let top = style::draw_title(root, st, &self.title)?;
        let labels: Vec<String> = self.legend.iter().map(|(_, l)| l.clone()).collect();
        let legend_w = if self.grouped {
            style::legend_box(root, st, &labels, "", st.w as i32 * 2 / 5)
        } else {
            0
        };
        let (plot, side) = root.split_horizontally(st.w as i32 - legend_w);
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(top)
            .margin_left(st.px(16.0))
            .margin_right(st.px(24.0))
            .margin_bottom(st.px(16.0))
            .x_label_area_size(st.px(70.0))
            .y_label_area_size(st.px(96.0))
            .build_cartesian_2d(self.xr.0..self.xr.1, self.yr.0..self.yr.1)?;
        let fmt_x = style::axis_format(self.xr.0, self.xr.1, 6);
        let fmt_y = style::axis_format(self.yr.0, self.yr.1, 6);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .x_desc(self.xlabel.as_str())
            .y_desc(self.ylabel.as_str())
            .label_style(st.tick())
            .axis_desc_style(st.label())
            .axis_style(style::INK.stroke_width(st.stroke(1.5)))
            .draw()?;
        let r = st.pxf(self.radius).max(1.0) as i32;
        let n = self.x.len();
        let finite = |i: &usize| self.x[*i].is_finite() && self.y[*i].is_finite();
        // "Other" first, then the groups from the largest down, so small groups stay visible.
        let mut order: Vec<usize> = (0..n).filter(finite).collect();
        order.sort_by_key(|&i| match self.class[i] {
            None => 0,
            Some(k) => MAX_GROUPS + 1 - k,
        });
        chart.draw_series(order.iter().map(|&i| {
            let c = match self.class[i] {
                Some(k) => style::categorical(k),
                None if self.grouped => GREY,
                None => style::categorical(0),
            };
            Circle::new((self.x[i], self.y[i]), r, c.mix(0.85).filled())
        }))?;
        if self.grouped {
            let entries: Vec<(RGBColor, String, Marker)> = self
                .legend
                .iter()
                .map(|(c, l)| {
                    let l = style::fit(&side, l, &st.small(), style::legend_room(st, legend_w));
                    (*c, l, Marker::Dot)
                })
                .collect();
            style::legend(
                &side,
                st,
                (style::legend_x(st), top + st.px(8.0)),
                &entries,
                "",
            )?;
        }
        Ok(())
    }
}
