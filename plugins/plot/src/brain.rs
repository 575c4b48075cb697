//! `plot::brain`: a per-voxel map as a mosaic of slices through the mask.
use crate::args::{finite_opt, key_list, voxel_values};
use crate::data::{npy, num, Csv};
use crate::figure::{emit, Figure, Size};
use crate::heatmap::abs_max;
use crate::rose::best_columns;
use crate::style::{self, Cmap, DrawResult, Style};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Choice, Ctx, Options, Result, Step, Tensor, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// The mask's colour where a voxel is not coloured.
const MASK: RGBColor = RGBColor(0xc4, 0xc4, 0xc4);

/// The axis the slices are cut across.
#[derive(Choice, Clone, Copy, Debug, PartialEq)]
pub enum Axis {
    /// sagittal
    X,
    /// coronal
    Y,
    /// axial
    Z,
}

impl Axis {
    /// The coordinate along the axis, then the two in each slice's plane (u, v).
    fn columns(self) -> (usize, usize, usize) {
        match self {
            Axis::X => (0, 1, 2),
            Axis::Y => (1, 0, 2),
            Axis::Z => (2, 0, 1),
        }
    }

    /// The view a slice across this axis gives, for the caption.
    fn view(self) -> &'static str {
        match self {
            Axis::X => "sagittal",
            Axis::Y => "coronal",
            Axis::Z => "axial",
        }
    }
}

/// The colours of a brain map.
#[derive(Choice, Clone, Copy, Debug, PartialEq)]
pub enum BrainCmap {
    /// hot colours from vmin up, for positive maps (accuracy, r)
    Hot,
    /// blue-white-red with symmetric limits, for signed maps
    Diverging,
}

/// A brain map as a mosaic of slices through the mask: mask voxels grey, voxels past the threshold
/// coloured (hot for positive maps, blue-white-red with symmetric limits for signed ones), with a
/// colour bar. Slices are spread evenly over the mask's extent along the axis. Writes <path>.npy
/// (the values, float64, in voxel order) and <path>.csv (i, j, k, value).
#[derive(Options, Step)]
#[step(
    name = "brain",
    param(values: Any = "one value per voxel of the dataset (NaN = not scored), or a map with an 'r' tensor (an encoding result)"),
    param(dataset: Map = "the fMRI dataset map (synth::world subject, fmri::load): its coords (voxels × 3) and grid are used"),
    param(path: Str = "output path without extension"),
    returns = crate::figure::RETURNS,
    section = "Results: brain maps",
    example = "let e = encoding::ridge_cv(X, s.data, #{});\nplot::brain(e.r, s, out + \"/fig2c\", #{threshold: 0.1, title: \"encoding accuracy (r)\"});"
)]
pub struct Brain {
    /// slice axis: "x" (sagittal), "y" (coronal) or "z" (axial)
    #[opt(default = Axis::Z)]
    pub axis: Axis,
    /// number of slices (at most the mask's extent)
    #[opt(default = 12)]
    pub slices: i64,
    /// colour only values ≥ threshold (hot) or |value| ≥ threshold (diverging)
    #[opt(doc_default = "none (every finite value)")]
    pub threshold: Option<f64>,
    /// "hot" or "diverging"
    #[opt(default = BrainCmap::Hot)]
    pub cmap: BrainCmap,
    /// lower colour limit
    #[opt(doc_default = "threshold or min (hot); -vmax (diverging)")]
    pub vmin: Option<f64>,
    /// upper colour limit
    #[opt(doc_default = "max (hot); max|value| (diverging)")]
    pub vmax: Option<f64>,
    /// figure title
    #[opt(default = "")]
    pub title: String,
    /// colour-bar label
    #[opt(default = "value")]
    pub label: String,
    /// the canvas
    #[opt(flatten)]
    pub size: Size,
}

/// A slice: its index along the axis, and its voxels as (u, v, colour).
type Slice = (i64, Vec<(i64, i64, RGBColor)>);

struct BrainFigure {
    slices: Vec<Slice>,
    axis: Axis,
    /// In-plane bounds: u0..=u1, v0..=v1.
    u: (i64, i64),
    v: (i64, i64),
    cmap: Cmap,
    lo: f64,
    hi: f64,
    title: String,
    caption: String,
    label: String,
}

impl step::Step for Brain {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let size = self.size.canvas()?;
        let values = voxel_values(&args[0], "values")?;
        let Value::Map(ds) = &args[1] else {
            bail!(
            "dataset must be an fMRI dataset map (a synth::world subject or fmri::load's result), got {}",
            args[1].type_name()
        )
        };
        let coords = match ds.get("coords") {
            Some(c) => c.to_tensor("dataset.coords")?,
            None => bail!(
                "dataset has no 'coords' (voxels × 3 grid indices); its keys: {}",
                key_list(ds)
            ),
        };
        let shape = coords.shape();
        ensure!(
            shape.len() == 2 && shape[1] == 3,
            "dataset.coords must be voxels × 3 (i, j, k), got shape {shape:?}"
        );
        let nv = shape[0];
        ensure!(nv > 0, "dataset has no voxels");
        ensure!(
        values.len() == nv,
        "values has {} entries but the dataset has {nv} voxels: give one value per voxel (in the dataset's voxel order)",
        values.len()
    );
        let ijk: Vec<i64> = coords.to_vec_f64()?.into_iter().map(|x| x as i64).collect();
        if let Some(k) = ijk.iter().position(|&x| x < 0) {
            bail!(
                "dataset.coords[{}] is negative: coordinates are grid indices ≥ 0",
                k / 3
            );
        }
        if let Some(g) = ds.get("grid") {
            let g = g.to_tensor("dataset.grid")?.to_vec_f64()?;
            ensure!(
                g.len() == 3,
                "dataset.grid must be three sizes [x, y, z], got {} values",
                g.len()
            );
            for v in 0..nv {
                for d in 0..3 {
                    ensure!(
                        (ijk[3 * v + d] as f64) < g[d],
                        "dataset.coords[{v}] = {:?} lies outside the grid {:?}",
                        &ijk[3 * v..3 * v + 3],
                        g
                    );
                }
            }
        }
        let axis = self.axis;
        let (wa, ua, va) = axis.columns();
        let cmap = match self.cmap {
            BrainCmap::Hot => Cmap::Hot,
            BrainCmap::Diverging => Cmap::Diverging,
        };
        let threshold = finite_opt(self.threshold, "threshold")?;
        let (vmin, vmax) = (
            finite_opt(self.vmin, "vmin")?,
            finite_opt(self.vmax, "vmax")?,
        );
        let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let (fmin, fmax) = finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        let (lo, hi) = match cmap {
            Cmap::Diverging => {
                let m = vmax.unwrap_or_else(|| abs_max(finite.iter().copied()));
                (vmin.unwrap_or(-m), m)
            }
            _ => {
                let lo = vmin
                    .or(threshold)
                    .unwrap_or(if finite.is_empty() { 0.0 } else { fmin });
                let hi = vmax.unwrap_or(if finite.is_empty() { 1.0 } else { fmax });
                if hi > lo {
                    (lo, hi)
                } else if vmax.is_none() && vmin.is_none() {
                    (lo, lo + 1.0)
                } else {
                    (lo, hi)
                }
            }
        };
        ensure!(
            lo < hi,
            "the colour limits must satisfy vmin < vmax, got vmin = {lo}, vmax = {hi}"
        );
        let shown = |x: f64| {
            x.is_finite()
                && match (cmap, threshold) {
                    (Cmap::Diverging, Some(t)) => x.abs() >= t,
                    (_, Some(t)) => x >= t,
                    _ => true,
                }
        };
        let n_shown = values.iter().filter(|&&x| shown(x)).count();

        // The slices: spread evenly over the mask's extent along the axis.
        let along: Vec<i64> = (0..nv).map(|v| ijk[3 * v + wa]).collect();
        let (a0, a1) = (
            *along.iter().min().expect("voxels"),
            *along.iter().max().expect("voxels"),
        );
        let extent = (a1 - a0 + 1) as usize;
        let want = self.slices;
        ensure!(
            (1..=200).contains(&want),
            "option slices must be between 1 and 200, got {want}"
        );
        let count = (want as usize).min(extent);
        let picks: Vec<i64> = (0..count)
            .map(|t| {
                a0 + (((t as f64 + 0.5) * extent as f64 / count as f64).floor() as i64)
                    .min(extent as i64 - 1)
            })
            .collect();
        let mut slices: Vec<Slice> = picks.iter().map(|&p| (p, vec![])).collect();
        let (mut u0, mut u1, mut v0, mut v1) = (i64::MAX, i64::MIN, i64::MAX, i64::MIN);
        for v in 0..nv {
            let (uu, vv) = (ijk[3 * v + ua], ijk[3 * v + va]);
            u0 = u0.min(uu);
            u1 = u1.max(uu);
            v0 = v0.min(vv);
            v1 = v1.max(vv);
            if let Ok(s) = picks.binary_search(&along[v]) {
                let x = values[v];
                let c = if shown(x) {
                    cmap.at((x - lo) / (hi - lo))
                } else {
                    MASK
                };
                slices[s].1.push((uu, vv, c));
            }
        }

        let npy_bytes = npy(&Tensor::from_vec(values.clone(), &[nv])?)?;
        let mut csv = Csv::new(&["i", "j", "k", "value"]);
        for v in 0..nv {
            csv.row(&[
                ijk[3 * v].to_string(),
                ijk[3 * v + 1].to_string(),
                ijk[3 * v + 2].to_string(),
                num(values[v]),
            ]);
        }
        let view = axis.view();
        let rule = match (cmap, threshold) {
            (Cmap::Diverging, Some(t)) => format!("|value| ≥ {}", style::fmt_short(t)),
            (_, Some(t)) => format!("value ≥ {}", style::fmt_short(t)),
            _ => "finite values".into(),
        };
        let caption = format!(
            "{count} {view} slices ({} = {}–{}); coloured: {rule} ({} of {} voxels)",
            axis,
            picks[0],
            picks[count - 1],
            style::fmt_count(n_shown),
            style::fmt_count(nv)
        );
        let title = self.title;
        let fig = BrainFigure {
            slices,
            axis,
            u: (u0, u1),
            v: (v0, v1),
            cmap,
            lo,
            hi,
            title: title.clone(),
            caption,
            label: self.label,
        };
        emit(
            ctx,
            &args[2],
            &fig,
            size,
            &title,
            vec![(".npy", npy_bytes), (".csv", csv.bytes())],
        )
    }
}

impl Figure for BrainFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let top = style::draw_title(root, st, &self.title)?;
        let (w, h) = (st.w as i32, st.h as i32);
        let cap_h = style::draw_caption(root, st, &self.caption)?;
        let ticks: Vec<(f64, String)> = {
            let t = style::nice_ticks(self.lo, self.hi, 8);
            let step = t.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(1.0);
            t.into_iter()
                .map(|x| (x, style::fmt_num(x, step)))
                .collect()
        };
        let bar = st.px(26.0);
        let cbar_w = style::colour_bar_width(root, st, bar, &ticks, &self.label);
        let pad = st.px(16.0);
        let (bw, bh) = (
            (w - pad - cbar_w - 2 * pad) as f64,
            (h - top - cap_h) as f64,
        );
        let (nu, nv) = (
            (self.u.1 - self.u.0 + 1) as f64,
            (self.v.1 - self.v.0 + 1) as f64,
        );
        let n = self.slices.len();
        let cols = best_columns(n, bw, bh, nu / nv);
        let rows = n.div_ceil(cols);
        let gap = st.pxf(18.0);
        // Each panel: its slice's name, then the slice.
        let ls = st.font(18.0);
        let lab_h = style::measure(root, "z = 0", &ls).1 as f64 + st.pxf(6.0);
        let vox = ((bw / cols as f64 - gap) / nu)
            .min((bh / rows as f64 - gap - lab_h) / nv)
            .max(0.5);
        let (pw, ph) = (nu * vox, nv * vox);
        let (gw, gh) = (cols as f64 * (pw + gap), rows as f64 * (ph + gap + lab_h));
        let x_start = pad as f64 + (bw - gw) / 2.0;
        let y_start = top as f64 + (bh - gh) / 2.0;
        for (s, (at, voxels)) in self.slices.iter().enumerate() {
            let (r, c) = (s / cols, s % cols);
            let x0 = x_start + c as f64 * (pw + gap);
            let y_label = y_start + r as f64 * (ph + gap + lab_h);
            let y0 = y_label + lab_h;
            // Horizontal runs of one colour become one rectangle.
            let mut sorted = voxels.clone();
            sorted.sort_by_key(|&(u, v, _)| (v, u));
            let mut k = 0;
            while k < sorted.len() {
                let (u, v, col) = sorted[k];
                let mut end = u;
                while k + 1 < sorted.len()
                    && sorted[k + 1].1 == v
                    && sorted[k + 1].0 == end + 1
                    && sorted[k + 1].2 == col
                {
                    k += 1;
                    end += 1;
                }
                let xa = x0 + (u - self.u.0) as f64 * vox;
                let xb = x0 + (end - self.u.0 + 1) as f64 * vox;
                let yb = y0 + ph - (v - self.v.0) as f64 * vox;
                let ya = yb - vox;
                root.draw(&Rectangle::new(
                    [
                        (xa.round() as i32, ya.round() as i32),
                        (xb.round() as i32, yb.round() as i32),
                    ],
                    col.filled(),
                ))?;
                k += 1;
            }
            style::text(
                root,
                &format!("{} = {at}", self.axis),
                (x0 as i32, y_label as i32),
                &ls,
                HPos::Left,
                VPos::Top,
                false,
            )?;
        }
        let cb_h = (gh - gap).min(st.pxf(500.0)).max(st.pxf(120.0)).min(bh) as i32;
        let cb_y0 = (y_start + (gh - gap) / 2.0) as i32 - cb_h / 2;
        let cmap = self.cmap;
        style::colour_bar(
            root,
            st,
            (w - cbar_w - pad, cb_y0, cb_y0 + cb_h),
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
