//! `plot::roi_bars`: per-ROI bars across subjects, with subject dots and significance stars.
//!
//! The table is what `stats::roi_compare` returns. Its `rows` hold one (metric, roi, model)
//! each: the mean over subjects, its SEM, `value_<subject>` columns, and a one-sample t-test of
//! the subjects' ROI means against 0 (p, q, significant): that test belongs to one bar, so its
//! stars go above that bar. Its `pairs` hold one (metric, roi, model_a, model_b) each with a
//! paired t-test: that test belongs to two bars of one ROI, so it is drawn as a bracket joining
//! them, starred, when significant.
use crate::args::key_list;
use crate::data::{num, Csv};
use crate::figure::{emit, Figure, Size};
use crate::style::{self, DrawResult, Marker, Style};
use crate::table::{check_len, columns, num_col, row_stars, str_col};
use emoscope_sdk::stats::nanmean;
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Ctx, Options, Result, Step, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Per-ROI bar charts across subjects (Fig. 2a,b): one bar per model in each ROI at the mean over
/// subjects, ±1 SEM, one dot per subject, and significance stars (* q < .05, ** q < .01, *** q <
/// .001; p when the table has no q). Stars above a bar are its one-sample test against 0 (the rows
/// of stats::roi_compare); brackets join two models whose paired test is significant (its pairs).
/// Writes <path>.csv (roi, model, mean, sem, q or p, stars, value_<subject>...) and, when there are
/// significant pairs, <path>_pairs.csv.
#[derive(Options, Step)]
#[step(
    name = "roi_bars",
    param(table: Map = "what stats::roi_compare returns (#{rows, pairs, ...}), its rows alone, or #{roi: [..], model: [..], value_<subject>: [..], ...} (also as io::load reads a saved CSV)"),
    param(path: Str = "output path without extension"),
    returns = crate::figure::RETURNS,
    section = "Results: neural alignment by ROI",
    example = "let table = stats::roi_compare(results, #{rois: s.rois});\nplot::roi_bars(table, out + \"/fig2a\", #{metric: \"encoding\", ylabel: \"prediction accuracy (r)\"});"
)]
pub struct RoiBars {
    /// which metric's rows to draw, when the table has several
    #[opt(doc_default = "the only metric")]
    pub metric: Option<String>,
    /// draw the significant paired comparisons (the table's pairs) as starred brackets; false: only
    /// the stars of each bar
    #[opt(default = true)]
    pub pairs: bool,
    /// figure title
    #[opt(doc_default = "the metric")]
    pub title: Option<String>,
    /// y-axis label
    #[opt(default = "mean over ROI voxels")]
    pub ylabel: String,
    /// the canvas
    #[opt(flatten)]
    pub size: Size,
}

struct Pair {
    roi: usize,
    a: usize,
    b: usize,
    stars: String,
}

struct BarsFigure {
    rois: Vec<String>,
    models: Vec<String>,
    /// [roi][model]: Some((mean, sem, subject values, stars)) when the table has that cell.
    cells: Vec<Vec<Option<Cell>>>,
    pairs: Vec<Pair>,
    title: String,
    ylabel: String,
}

#[derive(Clone)]
struct Cell {
    mean: f64,
    sem: f64,
    values: Vec<f64>,
    stars: String,
}

impl step::Step for RoiBars {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let size = self.size.canvas()?;
        let table = &args[0];
        let (rows, pairs_tab) = match table.as_map().and_then(|m| m.get("rows")) {
            Some(r @ Value::Map(_)) => (
                columns(r, "table.rows")?,
                match table.as_map().and_then(|m| m.get("pairs")) {
                    Some(p @ Value::Map(_)) => Some(columns(p, "table.pairs")?),
                    _ => None,
                },
            ),
            _ => (columns(table, "table")?, None),
        };
        let what = "table.rows";
        let roi = str_col(rows, "roi", what)?.ok_or_else(|| {
        emoscope_sdk::Error::msg(format!(
            "table needs a 'roi' column (the rows of stats::roi_compare, or #{{roi, model, value_<subject>}}); it has: {}",
            key_list(rows)
        ))
    })?;
        let n = roi.len();
        ensure!(n > 0, "table has no rows");
        check_len(rows, n, what)?;
        let model = str_col(rows, "model", what)?.unwrap_or_else(|| vec!["value".into(); n]);
        // Which rows: those of the chosen metric.
        let metric_col = str_col(rows, "metric", what)?;
        let metric: Option<String> = match (&metric_col, &self.metric) {
            (Some(col), chosen) => {
                let mut all: Vec<&str> = Vec::new();
                for m in col {
                    if !all.contains(&m.as_str()) {
                        all.push(m);
                    }
                }
                match chosen {
                    Some(c) => {
                        ensure!(
                            all.contains(&c.as_str()),
                            "option metric: the table has no metric '{c}' (it has: {})",
                            all.join(", ")
                        );
                        Some(c.clone())
                    }
                    None if all.len() == 1 => Some(all[0].to_string()),
                    None => bail!(
                        "the table has several metrics ({}): choose one with #{{metric: \"{}\"}}",
                        all.join(", "),
                        all[0]
                    ),
                }
            }
            (None, Some(c)) => bail!("option metric '{c}': the table has no 'metric' column"),
            (None, None) => None,
        };
        let keep: Vec<usize> = (0..n)
            .filter(|&i| match (&metric, &metric_col) {
                (Some(m), Some(col)) => &col[i] == m,
                _ => true,
            })
            .collect();
        let subjects: Vec<String> = rows
            .keys()
            .filter(|k| k.starts_with("value_"))
            .cloned()
            .collect();
        let mut subj_vals: Vec<Vec<f64>> = Vec::with_capacity(subjects.len());
        for s in &subjects {
            subj_vals.push(num_col(rows, s, what)?.expect("listed column"));
        }
        let mean_col = num_col(rows, "mean", what)?;
        let sem_col = num_col(rows, "sem", what)?;
        ensure!(
        mean_col.is_some() || !subjects.is_empty(),
        "table needs a 'mean' column or value_<subject> columns (one value per subject), it has: {}",
        key_list(rows)
    );
        let (bar_stars, row_test) = row_stars(rows, n, what)?;

        let mut rois: Vec<String> = Vec::new();
        let mut models: Vec<String> = Vec::new();
        for &i in &keep {
            if !rois.contains(&roi[i]) {
                rois.push(roi[i].clone());
            }
            if !models.contains(&model[i]) {
                models.push(model[i].clone());
            }
        }
        let mut cells: Vec<Vec<Option<Cell>>> = vec![vec![None; models.len()]; rois.len()];
        let mut source_row: Vec<Vec<Option<usize>>> = vec![vec![None; models.len()]; rois.len()];
        for &i in &keep {
            let ri = rois.iter().position(|r| r == &roi[i]).expect("listed roi");
            let mi = models
                .iter()
                .position(|m| m == &model[i])
                .expect("listed model");
            ensure!(
                cells[ri][mi].is_none(),
                "table has two rows for ROI '{}', model '{}'{}: one row per ROI and model",
                roi[i],
                model[i],
                metric
                    .as_ref()
                    .map(|m| format!(" (metric '{m}')"))
                    .unwrap_or_default()
            );
            let values: Vec<f64> = subj_vals.iter().map(|c| c[i]).collect();
            let (m, k) = nanmean(&values);
            let mean = mean_col.as_ref().map_or(m, |c| c[i]);
            let sem = match &sem_col {
                Some(c) => c[i],
                None if k >= 2 => {
                    let fin: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
                    let var = fin.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1) as f64;
                    (var / k as f64).sqrt()
                }
                None => f64::NAN,
            };
            cells[ri][mi] = Some(Cell {
                mean,
                sem,
                values,
                stars: bar_stars[i].clone(),
            });
            source_row[ri][mi] = Some(i);
        }

        // Significant pairs of the same metric.
        let mut pairs = Vec::new();
        let mut pair_csv: Option<Csv> = None;
        if let Some(p) = pairs_tab.filter(|_| self.pairs) {
            let what = "table.pairs";
            if let (Some(pr), Some(ma), Some(mb)) = (
                str_col(p, "roi", what)?,
                str_col(p, "model_a", what)?,
                str_col(p, "model_b", what)?,
            ) {
                check_len(p, pr.len(), what)?;
                let pm = str_col(p, "metric", what)?;
                let (pstars, ptest) = row_stars(p, pr.len(), what)?;
                let diff = num_col(p, "mean_diff", what)?;
                for i in 0..pr.len() {
                    if let (Some(m), Some(col)) = (&metric, &pm) {
                        if &col[i] != m {
                            continue;
                        }
                    }
                    if pstars[i].is_empty() {
                        continue;
                    }
                    let (Some(r), Some(a), Some(b)) = (
                        rois.iter().position(|x| x == &pr[i]),
                        models.iter().position(|x| x == &ma[i]),
                        models.iter().position(|x| x == &mb[i]),
                    ) else {
                        continue;
                    };
                    let csv = pair_csv.get_or_insert_with(|| {
                        let t = ptest.as_ref().map_or("p", |t| t.0);
                        Csv::new(&["roi", "model_a", "model_b", "mean_diff", t, "stars"])
                    });
                    csv.row(&[
                        pr[i].clone(),
                        ma[i].clone(),
                        mb[i].clone(),
                        diff.as_ref().map_or(String::new(), |d| num(d[i])),
                        ptest.as_ref().map_or(String::new(), |t| num(t.1[i])),
                        pstars[i].clone(),
                    ]);
                    pairs.push(Pair {
                        roi: r,
                        a: a.min(b),
                        b: a.max(b),
                        stars: pstars[i].clone(),
                    });
                }
            }
        }

        let mut header: Vec<String> = ["roi", "model", "mean", "sem"].map(String::from).to_vec();
        if let Some((t, _)) = &row_test {
            header.push(t.to_string());
        }
        header.push("stars".into());
        header.extend(subjects.iter().cloned());
        let mut csv = Csv::new(&header);
        for (ri, r) in rois.iter().enumerate() {
            for (mi, m) in models.iter().enumerate() {
                let (Some(c), Some(i)) = (&cells[ri][mi], source_row[ri][mi]) else {
                    continue;
                };
                let mut row = vec![r.clone(), m.clone(), num(c.mean), num(c.sem)];
                if let Some((_, t)) = &row_test {
                    row.push(num(t[i]));
                }
                row.push(c.stars.clone());
                row.extend(c.values.iter().map(|&x| num(x)));
                csv.row(&row);
            }
        }
        let ok = cells
            .iter()
            .flatten()
            .flatten()
            .any(|c| c.mean.is_finite() || c.values.iter().any(|x| x.is_finite()));
        ensure!(
            ok,
            "table: every mean and subject value is NaN; nothing to draw"
        );

        let title = self.title.or(metric).unwrap_or_default();
        let fig = BarsFigure {
            rois,
            models,
            cells,
            pairs,
            title: title.clone(),
            ylabel: self.ylabel,
        };
        let mut data = vec![(".csv", csv.bytes())];
        if let Some(p) = pair_csv {
            data.push(("_pairs.csv", p.bytes()));
        }
        emit(ctx, &args[1], &fig, size, &title, data)
    }
}

impl BarsFigure {
    /// Centre of model `m`'s bar in ROI `r`, and the bar width (data units).
    fn slot(&self, r: usize, m: usize) -> (f64, f64) {
        let bw = 0.8 / self.models.len() as f64;
        (r as f64 - 0.4 + (m as f64 + 0.5) * bw, bw)
    }

    /// The highest point drawn for a bar (dots, mean + SEM).
    fn bar_top(c: &Cell) -> f64 {
        let mut t = if c.mean.is_finite() {
            c.mean
        } else {
            f64::NEG_INFINITY
        };
        if c.sem.is_finite() && c.mean.is_finite() {
            t = t.max(c.mean + c.sem);
        }
        for v in c.values.iter().filter(|v| v.is_finite()) {
            t = t.max(*v);
        }
        t.max(0.0)
    }
}

impl Figure for BarsFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let top = style::draw_title(root, st, &self.title)?;
        let legend_w = if self.models.len() > 1 {
            style::legend_box(root, st, &self.models, "", st.w as i32 * 3 / 10)
        } else {
            0
        };
        let plot_w = st.w as i32 - legend_w;
        let (plot, side) = root.split_horizontally(plot_w);
        // ROI names: horizontal when they fit their group, else vertical.
        let ls = st.tick();
        let group_px = (plot_w - st.px(150.0)) / self.rois.len().max(1) as i32;
        let widest = style::widest(root, &self.rois, &ls);
        let vertical = widest > group_px - st.px(6.0);
        let x_area = if vertical {
            widest.min(st.h as i32 / 4) + st.px(20.0)
        } else {
            st.px(50.0)
        };

        // The y range: bars, error bars, dots, then stars and stacked brackets above.
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for c in self.cells.iter().flatten().flatten() {
            for v in c.values.iter().chain([&c.mean]).filter(|v| v.is_finite()) {
                lo = lo.min(*v);
                hi = hi.max(*v);
            }
            if c.mean.is_finite() && c.sem.is_finite() {
                lo = lo.min(c.mean - c.sem);
                hi = hi.max(c.mean + c.sem);
            }
        }
        if hi - lo <= 0.0 {
            hi = lo + 1.0;
        }
        let span = hi - lo;
        let plot_px = (st.h as i32 - top - x_area - st.px(30.0)).max(50) as f64;
        let star_h = (st.pxf(30.0) / plot_px) * span * 1.35;
        let step = star_h * 1.1;
        let gap = 0.03 * span;
        // Bracket levels per ROI (narrow pairs first).
        let mut levels: Vec<(usize, f64)> = Vec::new(); // (pair index, y)
        let roi_top: Vec<f64> = self
            .cells
            .iter()
            .map(|row| {
                row.iter()
                    .flatten()
                    .map(|c| Self::bar_top(c) + if c.stars.is_empty() { 0.0 } else { star_h })
                    .fold(0.0, f64::max)
            })
            .collect();
        let mut needed = hi;
        for (r, &top_r) in roi_top.iter().enumerate() {
            let mut mine: Vec<usize> = (0..self.pairs.len())
                .filter(|&k| self.pairs[k].roi == r)
                .collect();
            mine.sort_by_key(|&k| self.pairs[k].b - self.pairs[k].a);
            let mut y = top_r + gap;
            for k in mine {
                levels.push((k, y + gap));
                y += step;
            }
            needed = needed.max(y + gap).max(top_r + gap);
        }
        let y0 = if lo < 0.0 { lo - 0.05 * span } else { 0.0 };
        let y1 = needed + 0.04 * span;

        let mut chart = ChartBuilder::on(&plot)
            .margin_top(top)
            .margin_left(st.px(16.0))
            .margin_right(st.px(24.0))
            .margin_bottom(st.px(10.0))
            .x_label_area_size(x_area)
            .y_label_area_size(st.px(100.0))
            .build_cartesian_2d(-0.5..(self.rois.len() as f64 - 0.5), y0..y1)?;
        let fmt_y = style::axis_format(y0, y1, 7);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(style::LIGHT.stroke_width(1))
            .x_labels(0)
            .y_labels(7)
            .y_label_formatter(&fmt_y)
            .y_desc(self.ylabel.as_str())
            .label_style(st.tick())
            .axis_desc_style(st.label())
            .axis_style(style::INK.stroke_width(st.stroke(1.5)))
            .draw()?;
        if y0 < 0.0 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, 0.0), (self.rois.len() as f64 - 0.5, 0.0)],
                style::MID.stroke_width(1),
            )))?;
        }
        let ns = self
            .cells
            .iter()
            .flatten()
            .flatten()
            .map(|c| c.values.len())
            .max()
            .unwrap_or(0);
        let dot_r = st.px(5.0);
        for (r, row) in self.cells.iter().enumerate() {
            for (m, cell) in row.iter().enumerate() {
                let Some(c) = cell else { continue };
                let (xc, bw) = self.slot(r, m);
                let (a, b) = (xc - bw * 0.42, xc + bw * 0.42);
                let col = style::categorical(m);
                if c.mean.is_finite() {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(a, 0.0), (b, c.mean)],
                        col.mix(0.8).filled(),
                    )))?;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(a, 0.0), (b, c.mean)],
                        col.stroke_width(st.stroke(1.5)),
                    )))?;
                    if c.sem.is_finite() && c.sem > 0.0 {
                        let (e0, e1) = (c.mean - c.sem, c.mean + c.sem);
                        let cap = bw * 0.12;
                        let s = style::INK.stroke_width(st.stroke(2.0));
                        chart.draw_series([
                            PathElement::new(vec![(xc, e0), (xc, e1)], s),
                            PathElement::new(vec![(xc - cap, e0), (xc + cap, e0)], s),
                            PathElement::new(vec![(xc - cap, e1), (xc + cap, e1)], s),
                        ])?;
                    }
                }
                // One dot per subject, spread across the bar's middle.
                for (k, v) in c.values.iter().enumerate() {
                    if !v.is_finite() {
                        continue;
                    }
                    let off = if ns > 1 {
                        -0.25 + 0.5 * k as f64 / (ns - 1) as f64
                    } else {
                        0.0
                    };
                    let p = chart.backend_coord(&(xc + off * bw, *v));
                    root.draw(&Circle::new(p, dot_r, style::INK.mix(0.85).filled()))?;
                    root.draw(&Circle::new(p, dot_r, WHITE.stroke_width(1)))?;
                }
                if !c.stars.is_empty() {
                    let p = chart.backend_coord(&(xc, Self::bar_top(c)));
                    style::text(
                        root,
                        &c.stars,
                        (p.0, p.1 - st.px(4.0)),
                        &st.font(26.0),
                        HPos::Center,
                        VPos::Bottom,
                        false,
                    )?;
                }
            }
        }
        for (k, y) in levels {
            let p = &self.pairs[k];
            let (xa, _) = self.slot(p.roi, p.a);
            let (xb, _) = self.slot(p.roi, p.b);
            let tick = 0.25 * star_h;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(xa, y - tick), (xa, y), (xb, y), (xb, y - tick)],
                style::INK.stroke_width(st.stroke(1.5)),
            )))?;
            let c = chart.backend_coord(&((xa + xb) / 2.0, y));
            style::text(
                root,
                &p.stars,
                (c.0, c.1 - st.px(1.0)),
                &st.font(22.0),
                HPos::Center,
                VPos::Bottom,
                false,
            )?;
        }
        // ROI names under their groups.
        for (r, name) in self.rois.iter().enumerate() {
            let p = chart.backend_coord(&(r as f64, y0));
            if vertical {
                let l = style::fit(root, name, &ls, x_area - st.px(20.0));
                style::text(
                    root,
                    &l,
                    (p.0, p.1 + st.px(10.0)),
                    &ls,
                    HPos::Right,
                    VPos::Center,
                    true,
                )?;
            } else {
                style::text(
                    root,
                    name,
                    (p.0, p.1 + st.px(10.0)),
                    &ls,
                    HPos::Center,
                    VPos::Top,
                    false,
                )?;
            }
        }
        if self.models.len() > 1 {
            let entries: Vec<(RGBColor, String, Marker)> = self
                .models
                .iter()
                .enumerate()
                .map(|(m, l)| {
                    (
                        style::categorical(m),
                        style::fit(&side, l, &st.small(), style::legend_room(st, legend_w)),
                        Marker::Square,
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
