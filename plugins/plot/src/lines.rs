//! `plot::lines`: series over a shared x (accuracy against dimensionality, reduction curves).
use crate::args::{finite_opt, vector_arg};
use crate::data::{num, Csv};
use crate::figure::{emit, Figure, Size};
use crate::scatter::padded_range;
use crate::style::{self, DrawResult, Marker, Style, MID};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Ctx, Options, Result, Step, Value};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Lines over a shared x (accuracy against dimensionality, the reduction curve: Extended Data Fig.
/// 1a, Fig. 7f), one per series with a legend; NaN leaves a gap. Writes <path>.csv: x, then one
/// column per series.
#[derive(Options, Step)]
#[step(
    name = "lines",
    param(x: Tensor = "x values (list or 1-D tensor)"),
    param(series: Map = "#{name: values}, each as long as x (drawn in key order)"),
    param(path: Str = "output path without extension"),
    returns = crate::figure::RETURNS,
    section = "Results: dimensionality and reduction",
    example = "plot::lines([5, 10, 20, 30, 50], #{MLLM: acc_mllm, LLM: acc_llm}, out + \"/ed1a\", #{xlabel: \"dimensions\", ylabel: \"held-out accuracy\", hline: 1.0 / 3.0, hline_label: \"chance\"});"
)]
pub struct Lines {
    /// x-axis label
    #[opt(default = "")]
    pub xlabel: String,
    /// y-axis label
    #[opt(default = "")]
    pub ylabel: String,
    /// figure title
    #[opt(default = "")]
    pub title: String,
    /// a dot at each point
    #[opt(default = true)]
    pub markers: bool,
    /// logarithmic x axis (x must be > 0)
    #[opt(default = false)]
    pub log_x: bool,
    /// a dashed horizontal reference line (chance level)
    pub hline: Option<f64>,
    /// its legend entry
    #[opt(default = "")]
    pub hline_label: String,
    /// the canvas
    #[opt(flatten)]
    pub size: Size,
}

struct LinesFigure {
    x: Vec<f64>,
    series: Vec<(String, Vec<f64>)>,
    title: String,
    xlabel: String,
    ylabel: String,
    markers: bool,
    log_x: bool,
    hline: Option<f64>,
    hline_label: String,
    xr: (f64, f64),
    yr: (f64, f64),
}

impl step::Step for Lines {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let size = self.size.canvas()?;
        let x = vector_arg(&args[0], "x")?;
        let n = x.len();
        ensure!(n > 0, "x is empty");
        let Value::Map(m) = &args[1] else {
            bail!(
                "series must be a map #{{name: values}}, got {}",
                args[1].type_name()
            )
        };
        ensure!(
            !m.is_empty(),
            "series is an empty map: give at least one #{{name: values}}"
        );
        let mut series = Vec::with_capacity(m.len());
        for (name, v) in m {
            let y = vector_arg(v, &format!("series '{name}'"))?;
            ensure!(
                y.len() == n,
                "series '{name}' has {} values but x has {n}: every series needs one value per x",
                y.len()
            );
            series.push((name.clone(), y));
        }
        let log_x = self.log_x;
        if log_x {
            if let Some(i) = x.iter().position(|&v| v.is_finite() && v <= 0.0) {
                bail!(
                    "x[{i}] is {}: a logarithmic x axis (log_x: true) needs every x > 0",
                    x[i]
                );
            }
        }
        let hline = finite_opt(self.hline, "hline")?;
        let xs = x.iter().copied().filter(|v| v.is_finite());
        let xr = if log_x {
            let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            ensure!(lo <= hi, "x has no finite value");
            if hi / lo < 1.0 + 1e-9 {
                (lo / 2.0, hi * 2.0)
            } else {
                let f = (hi / lo).powf(0.04);
                (lo / f, hi * f)
            }
        } else {
            padded_range(xs).ok_or_else(|| emoscope_sdk::Error::msg("x has no finite value"))?
        };
        let ys = series
            .iter()
            .flat_map(|(_, y)| {
                y.iter()
                    .enumerate()
                    .filter(|(i, _)| x[*i].is_finite())
                    .map(|(_, v)| *v)
            })
            .chain(hline);
        let yr = padded_range(ys).ok_or_else(|| {
            emoscope_sdk::Error::msg("series: no point has both x and y finite (all NaN)")
        })?;

        let mut header = vec!["x".to_string()];
        header.extend(series.iter().map(|(n, _)| n.clone()));
        let mut csv = Csv::new(&header);
        for i in 0..n {
            let mut row = vec![num(x[i])];
            row.extend(series.iter().map(|(_, y)| num(y[i])));
            csv.row(&row);
        }
        let title = self.title;
        let fig = LinesFigure {
            x,
            series,
            title: title.clone(),
            xlabel: self.xlabel,
            ylabel: self.ylabel,
            markers: self.markers,
            log_x,
            hline,
            hline_label: self.hline_label,
            xr,
            yr,
        };
        emit(
            ctx,
            &args[2],
            &fig,
            size,
            &title,
            vec![(".csv", csv.bytes())],
        )
    }
}

impl Figure for LinesFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let top = style::draw_title(root, st, &self.title)?;
        let mut entries: Vec<(RGBColor, String, Marker)> = self
            .series
            .iter()
            .enumerate()
            .map(|(k, (name, _))| (style::categorical(k), name.clone(), Marker::Line))
            .collect();
        if self.hline.is_some() && !self.hline_label.is_empty() {
            entries.push((MID, self.hline_label.clone(), Marker::Line));
        }
        let show_legend = entries.len() > 1;
        let legend_w = if show_legend {
            let labels: Vec<String> = entries.iter().map(|e| e.1.clone()).collect();
            style::legend_box(root, st, &labels, "", st.w as i32 * 2 / 5)
        } else {
            0
        };
        let (plot, side) = root.split_horizontally(st.w as i32 - legend_w);
        let mut b = ChartBuilder::on(&plot);
        b.margin_top(top)
            .margin_left(st.px(16.0))
            .margin_right(st.px(28.0))
            .margin_bottom(st.px(16.0))
            .x_label_area_size(st.px(70.0))
            .y_label_area_size(st.px(100.0));
        let y = self.yr.0..self.yr.1;
        if self.log_x {
            let mut chart = b.build_cartesian_2d((self.xr.0..self.xr.1).log_scale(), y)?;
            self.body(root, &mut chart, st)?;
        } else {
            let mut chart = b.build_cartesian_2d(self.xr.0..self.xr.1, y)?;
            self.body(root, &mut chart, st)?;
        }
        if show_legend {
            let entries: Vec<(RGBColor, String, Marker)> = entries
                .into_iter()
                .map(|(c, l, m)| {
                    (
                        c,
                        style::fit(&side, &l, &st.small(), style::legend_room(st, legend_w)),
                        m,
                    )
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

/// Log-axis ticks in [lo, hi]: 1, 2, 5 × 10^k, or only powers of ten over many decades.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mults: &[f64] = if k1 - k0 <= 3 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut out = Vec::new();
    for k in k0..=k1 {
        for m in mults {
            let v = m * 10f64.powi(k);
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
    }
    out
}

impl LinesFigure {
    fn body<DB: DrawingBackend, X>(
        &self,
        root: &DrawingArea<DB, Shift>,
        chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
        st: &Style,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let fmt_x = style::axis_format(self.xr.0, self.xr.1, 7);
        let fmt_y = style::axis_format(self.yr.0, self.yr.1, 7);
        {
            let mut mesh = chart.configure_mesh();
            mesh.light_line_style(TRANSPARENT)
                .bold_line_style(style::LIGHT.stroke_width(1))
                .y_labels(7)
                .y_label_formatter(&fmt_y)
                .x_desc(self.xlabel.as_str())
                .y_desc(self.ylabel.as_str())
                .label_style(st.tick())
                .axis_desc_style(st.label())
                .axis_style(style::INK.stroke_width(st.stroke(1.5)));
            if self.log_x {
                // plotters' log axis labels only the powers of ten: ticks drawn below instead.
                mesh.x_labels(0)
                    .x_label_formatter(&|_| String::new())
                    .disable_x_mesh();
            } else {
                mesh.x_labels(7).x_label_formatter(&fmt_x);
            }
            mesh.draw()?;
        }
        if self.log_x {
            let ticks = log_ticks(self.xr.0, self.xr.1);
            let ts = st.tick();
            for &t in &ticks {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(t, self.yr.0), (t, self.yr.1)],
                    style::LIGHT.stroke_width(1),
                )))?;
                let (x, y) = chart.backend_coord(&(t, self.yr.0));
                root.draw(&PathElement::new(
                    vec![(x, y), (x, y + st.px(6.0))],
                    style::INK.stroke_width(st.stroke(1.5)),
                ))?;
                let label = style::fmt_short(t);
                let label = label.strip_suffix(".00").unwrap_or(&label);
                style::text(
                    root,
                    label,
                    (x, y + st.px(10.0)),
                    &ts,
                    HPos::Center,
                    VPos::Top,
                    false,
                )?;
            }
        }
        if let Some(h) = self.hline {
            let (a, b) = (self.xr.0, self.xr.1);
            chart.draw_series(std::iter::once(DashedPathElement::new(
                vec![(a, h), (b, h)],
                st.px(10.0),
                st.px(7.0),
                MID.stroke_width(st.stroke(2.0)),
            )))?;
        }
        let r = st.px(5.0);
        for (k, (_, y)) in self.series.iter().enumerate() {
            let c = style::categorical(k);
            // Runs of consecutive finite points; NaN leaves a gap.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![vec![]];
            for (xi, yi) in self.x.iter().zip(y) {
                if xi.is_finite() && yi.is_finite() {
                    runs.last_mut().expect("a run").push((*xi, *yi));
                } else if !runs.last().expect("a run").is_empty() {
                    runs.push(vec![]);
                }
            }
            for run in &runs {
                if run.len() > 1 {
                    chart.draw_series(std::iter::once(PathElement::new(
                        run.clone(),
                        c.stroke_width(st.stroke(2.5)),
                    )))?;
                }
                if self.markers || run.len() == 1 {
                    chart.draw_series(run.iter().map(|&p| Circle::new(p, r, c.filled())))?;
                }
            }
        }
        Ok(())
    }
}
