//! The `plot::` namespace: the study's figures, drawn with plotters.
//!
//! Every figure is one type implementing [`Figure`], whose `draw` is generic over plotters'
//! `DrawingBackend` and is called twice, once on the SVG backend and once on an RGB buffer, so
//! the picture in the SVG and the PNG is the same drawing of the same numbers. Beside them the
//! data the figure shows is written (`.csv`, or `.npy` for big matrices). Nothing touches the
//! disk until all of a figure is rendered in memory; then every file goes to a temporary name
//! and is renamed into place, so bad input or a failure never leaves a partial figure.
//!
//! Paths are used as given, as `io::save` does (scripts write `out + "/fig2a"`); a trailing
//! `.svg` or `.png` is dropped.
mod backend;
mod bars;
mod brain;
mod graph;
mod heatmap;
mod hist2d;
mod lines;
mod rose;
mod scatter;
mod style;

use emoscope_sdk::{bail, ensure, vmap};
use emoscope_sdk::{Ctx, Error, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
pub(crate) use style::{DrawResult, Style};

pub struct PlotNs;

/// The plugin, for the host's registry.
pub fn plugin() -> PlotNs {
    PlotNs
}

/// One figure: drawn by the same code on every backend.
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// The default canvas: 8 × 6 in at 150 dpi.
pub(crate) const DEFAULT_SIZE: (u32, u32) = (1200, 900);
/// 150 dots per inch, in pixels per metre (the PNG pHYs chunk).
const PX_PER_METRE: u32 = 5906;

/// The canvas from the `width`/`height` options.
pub(crate) fn canvas(width: Option<i64>, height: Option<i64>) -> Result<(u32, u32)> {
    let check = |v: Option<i64>, default: u32, what: &str| -> Result<u32> {
        match v {
            None => Ok(default),
            Some(x) if (200..=8000).contains(&x) => Ok(x as u32),
            Some(x) => bail!("option {what} must be between 200 and 8000 pixels, got {x}"),
        }
    };
    Ok((
        check(width, DEFAULT_SIZE.0, "width")?,
        check(height, DEFAULT_SIZE.1, "height")?,
    ))
}

/// Render a figure to an SVG document and PNG bytes, in memory.
fn render(fig: &impl Figure, (w, h): (u32, u32)) -> Result<(String, Vec<u8>)> {
    style::ensure_font().map_err(Error::msg)?;
    let st = Style::new(w, h);
    let run = || -> std::result::Result<(String, Vec<u8>), String> {
        let mut svg = String::new();
        {
            let root = backend::Fixed {
                inner: SVGBackend::with_string(&mut svg, (w, h)),
                bitmap: false,
            }
            .into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            fig.draw(&root, &st).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
        }
        let mut rgb = vec![255u8; w as usize * h as usize * 3];
        {
            let root = backend::Fixed {
                inner: BitMapBackend::with_buffer(&mut rgb, (w, h)),
                bitmap: true,
            }
            .into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            fig.draw(&root, &st).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok((svg, encode_png(&rgb, w, h).map_err(|e| e.to_string())?))
    };
    // plotters is not supposed to panic on the inputs checked before drawing; should it, the
    // script gets an error instead of a crash.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(x)) => Ok(x),
        Ok(Err(e)) => bail!("drawing failed: {e}"),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            bail!("drawing failed (plotters panicked: {msg})")
        }
    }
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: PX_PER_METRE,
            yppu: PX_PER_METRE,
            unit: png::Unit::Meter,
        }));
        let mut wr = enc.write_header()?;
        wr.write_image_data(rgb)?;
        wr.finish()?;
    }
    Ok(out)
}

/// `path` without a trailing `.svg`/`.png`: the stem every file of the figure shares.
fn base_path(v: &Value) -> Result<String> {
    let Value::Str(s) = v else {
        bail!(
            "path must be a file path without extension (string), got {}",
            v.type_name()
        )
    };
    let mut s = s.trim_end().to_string();
    let lower = s.to_lowercase();
    if lower.ends_with(".svg") || lower.ends_with(".png") {
        s.truncate(s.len() - 4);
    }
    ensure!(
        !s.is_empty() && !s.ends_with('/') && !s.ends_with(std::path::MAIN_SEPARATOR),
        "path must name a file (without extension), got \"{s}\""
    );
    Ok(s)
}

/// Write every file through a temporary name in its directory, then rename them all: a failure
/// before the renames leaves nothing behind.
fn commit(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let mut staged: Vec<(PathBuf, &PathBuf)> = Vec::new();
    let cleanup = |staged: &[(PathBuf, &PathBuf)]| {
        for (t, _) in staged {
            let _ = std::fs::remove_file(t);
        }
    };
    for (path, bytes) in files {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            cleanup(&staged);
            bail!("cannot write {}: {e}", path.display());
        }
        staged.push((tmp, path));
    }
    for (i, (tmp, path)) in staged.iter().enumerate() {
        if let Err(e) = std::fs::rename(tmp, path) {
            cleanup(&staged[i..]);
            bail!("cannot move the finished file to {}: {e}", path.display());
        }
    }
    Ok(())
}

/// One data file: a suffix added to the figure's stem (".csv", "_edges.csv", ".npy") and bytes.
pub(crate) type DataFile = (&'static str, Vec<u8>);

/// Render, write `<path>.svg`, `<path>.png` and the data files, record them in run.json, and
/// return `#{svg, png, data, data_files, title}`.
pub(crate) fn emit(
    ctx: &Ctx,
    path: &Value,
    fig: &impl Figure,
    size: (u32, u32),
    title: &str,
    data: Vec<DataFile>,
) -> Result<Value> {
    let base = base_path(path)?;
    ctx.check()?;
    let (svg, png) = render(fig, size)?;
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (PathBuf::from(format!("{base}.svg")), svg.into_bytes()),
        (PathBuf::from(format!("{base}.png")), png),
    ];
    for (suffix, bytes) in data {
        files.push((PathBuf::from(format!("{base}{suffix}")), bytes));
    }
    ctx.check()?;
    commit(&files)?;
    for (p, _) in &files {
        ctx.output_file(p);
    }
    let s = |p: &Path| Value::Str(p.display().to_string());
    Ok(vmap! {
        "svg" => s(&files[0].0),
        "png" => s(&files[1].0),
        "data" => files.get(2).map(|f| s(&f.0)).unwrap_or(Value::Null),
        "data_files" => Value::List(files[2..].iter().map(|f| s(&f.0)).collect()),
        "title" => title.to_string(),
    })
}

// ---- argument helpers ----------------------------------------------------------------------

/// A 2-D numeric argument as (rows, cols, row-major values).
pub(crate) fn matrix_arg(v: &Value, what: &str) -> Result<(usize, usize, Vec<f64>)> {
    let t = v.to_tensor(what)?;
    let shape = t.shape();
    ensure!(
        shape.len() == 2,
        "{what} must be a 2-D tensor (rows × columns), got shape {shape:?}"
    );
    Ok((shape[0], shape[1], t.to_vec_f64()?))
}

/// A 1-D numeric argument (a tensor or a list of numbers).
pub(crate) fn vector_arg(v: &Value, what: &str) -> Result<Vec<f64>> {
    let t = v.to_tensor(what)?;
    let shape = t.shape();
    ensure!(
        shape.len() == 1,
        "{what} must be a 1-D tensor or a list of numbers, got shape {shape:?}"
    );
    t.to_vec_f64()
}

/// A list of labels (strings; numbers are written out) of length `n` when given.
/// `per` says what each label belongs to ("row of coords").
pub(crate) fn labels_opt(
    v: &Option<Value>,
    what: &str,
    n: Option<(usize, &str)>,
) -> Result<Option<Vec<String>>> {
    let l = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => labels(v, what)?,
    };
    if let Some((n, per)) = n {
        ensure!(
            l.len() == n,
            "{what} has {} labels but {n} are needed (one per {per})",
            l.len()
        );
    }
    Ok(Some(l))
}

/// A list of labels: strings, or numbers written out.
pub(crate) fn labels(v: &Value, what: &str) -> Result<Vec<String>> {
    let label = |x: &Value, i: usize| -> Result<String> {
        Ok(match x {
            Value::Str(s) => s.clone(),
            Value::Int(k) => k.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            other => bail!("{what}[{i}] must be a string, got {}", other.type_name()),
        })
    };
    match v {
        Value::List(l) => l.iter().enumerate().map(|(i, x)| label(x, i)).collect(),
        Value::Tensor(t) => {
            let int = !t.dtype().is_float();
            Ok(t.to_vec_f64()?
                .into_iter()
                .map(|x| {
                    if int {
                        (x as i64).to_string()
                    } else {
                        x.to_string()
                    }
                })
                .collect())
        }
        other => bail!(
            "{what} must be a list of strings, got {}",
            other.type_name()
        ),
    }
}

/// A finite option value, when given.
pub(crate) fn finite_opt(v: Option<f64>, what: &str) -> Result<Option<f64>> {
    if let Some(x) = v {
        ensure!(
            x.is_finite(),
            "option {what} must be a finite number, got {x}"
        );
    }
    Ok(v)
}

// ---- data files ------------------------------------------------------------------------------

/// A CSV built in memory (RFC 4180 quoting; NaN written as `NaN`).
pub(crate) struct Csv {
    buf: String,
}

impl Csv {
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        let mut c = Csv { buf: String::new() };
        c.row(header);
        c
    }
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            let s = cell.as_ref();
            if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
                self.buf.push('"');
                self.buf.push_str(&s.replace('"', "\"\""));
                self.buf.push('"');
            } else {
                self.buf.push_str(s);
            }
        }
        self.buf.push('\n');
    }
    pub fn bytes(self) -> Vec<u8> {
        self.buf.into_bytes()
    }
}

/// A number as a CSV cell: shortest text that reads back to the same f64.
pub(crate) fn num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else {
        x.to_string()
    }
}

/// `.npy` bytes of a tensor.
pub(crate) fn npy(t: &Tensor) -> Result<Vec<u8>> {
    emoscope_sdk::io::npy::npy_to_bytes(t)
}

// ---- the namespace -----------------------------------------------------------------------------

const RETURNS: &str = "#{svg, png, data, data_files, title}: the paths written (data is the main data file, data_files all of them) and the title drawn";

fn size_opts(f: FnSpec) -> FnSpec {
    f.opt(
        "width",
        Ty::Int,
        "1200",
        "canvas width in pixels (the PNG is 150 dpi: 1200 px = 8 in); text scales with the canvas",
    )
    .opt("height", Ty::Int, "900", "canvas height in pixels")
}

impl Plugin for PlotNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "plot".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Figures: SVG + 150-dpi PNG + the data behind them (CSV/npy), drawn by one function per figure so picture and data agree".into(),
            functions: vec![
                size_opts(FnSpec::new("scatter", "A 2-D map of points (the t-SNE map of the stimuli), coloured by group with a legend. With more than 12 groups the 12 largest get colours and the rest are grey \"other\". Points with a NaN coordinate are left out of the picture (not of the data). Writes <path>.svg, <path>.png and <path>.csv (columns x, y, group).")
                    .param("coords", Ty::Any, "n × 2 coordinates, or affect::tsne's result (its coords)")
                    .param("path", Ty::Str, "output path without extension (a .svg/.png suffix is dropped)")
                    .opt("groups", Ty::List, "none", "one label per point (strings or numbers), e.g. each stimulus's top category")
                    .opt("title", Ty::Str, "\"\"", "figure title")
                    .opt("xlabel", Ty::Str, "\"dimension 1\"", "x-axis label")
                    .opt("ylabel", Ty::Str, "\"dimension 2\"", "y-axis label")
                    .opt("point_size", Ty::Float, "5.0", "marker radius in pixels at 1200 × 900"))
                    .returns(RETURNS)
                    .section("Results: categorical structure of the embedding (t-SNE map)")
                    .example("let t = affect::tsne(X, #{seed: 1});\nplot::scatter(t.coords, out + \"/fig3_tsne\", #{groups: top_category, title: \"t-SNE of the 30-d embedding\"});"),
                size_opts(FnSpec::new("heatmap", "A matrix as coloured cells with row and column labels and a colour bar (the component × term correlations of Fig. 4). Diverging: blue-white-red with symmetric limits ±max|x|; otherwise viridis from min to max. NaN cells are light grey. Writes <path>.csv: a header of the column names and a first column of row names.")
                    .param("matrix", Ty::Tensor, "rows × columns")
                    .param("path", Ty::Str, "output path without extension")
                    .opt("rows", Ty::List, "0, 1, ...", "row labels")
                    .opt("cols", Ty::List, "0, 1, ...", "column labels")
                    .opt("title", Ty::Str, "\"\"", "figure title")
                    .opt("diverging", Ty::Bool, "true", "blue-white-red centred on 0 (for correlations); false: viridis")
                    .opt("vmin", Ty::Float, "-max|x| (diverging) or min", "lower colour limit")
                    .opt("vmax", Ty::Float, "max|x| (diverging) or max", "upper colour limit")
                    .opt("annotate", Ty::Bool, "false", "write each cell's value in it")
                    .opt("label", Ty::Str, "\"r\" (diverging) or \"value\"", "colour-bar label"))
                    .returns(RETURNS)
                    .section("Results: what the components mean (component × rating correlations)")
                    .example("let lab = affect::label(X, ratings);\nplot::heatmap(lab.correlations, out + \"/fig4\", #{rows: lab.labels, cols: lab.term_names, title: \"Component–rating correlations\"});"),
                size_opts(FnSpec::new("roi_bars", "Per-ROI bar charts across subjects (Fig. 2a,b): one bar per model in each ROI at the mean over subjects, ±1 SEM, one dot per subject, and significance stars (* q < .05, ** q < .01, *** q < .001; p when the table has no q). Stars above a bar are its one-sample test against 0 (the rows of stats::roi_compare); brackets join two models whose paired test is significant (its pairs). Writes <path>.csv (roi, model, mean, sem, q or p, stars, value_<subject>...) and, when there are significant pairs, <path>_pairs.csv.")
                    .param("table", Ty::Map, "what stats::roi_compare returns (#{rows, pairs, ...}), its rows alone, or #{roi: [..], model: [..], value_<subject>: [..], ...} (also as io::load reads a saved CSV)")
                    .param("path", Ty::Str, "output path without extension")
                    .opt("metric", Ty::Str, "the only metric", "which metric's rows to draw, when the table has several")
                    .opt("pairs", Ty::Bool, "true", "draw the significant paired comparisons (the table's pairs) as starred brackets; false: only the stars of each bar")
                    .opt("title", Ty::Str, "the metric", "figure title")
                    .opt("ylabel", Ty::Str, "\"mean over ROI voxels\"", "y-axis label"))
                    .returns(RETURNS)
                    .section("Results: neural alignment by ROI")
                    .example("let table = stats::roi_compare(results, #{rois: s.rois});\nplot::roi_bars(table, out + \"/fig2a\", #{metric: \"encoding\", ylabel: \"prediction accuracy (r)\"});"),
                size_opts(FnSpec::new("hist2d", "A voxel-wise A-versus-B comparison (Fig. 2d): a 2-D histogram of the pairs (a[v], b[v]) on a shared square range, log-scaled counts in viridis, the identity line, and the number of pairs and the share above the line in the subtitle. Pairs where either value is NaN or infinite are dropped. Writes <path>.npy (the counts, bins × bins, [i, j] = a-bin i, b-bin j, int64) and <path>.csv (the bin edges: edge_a, edge_b).")
                    .param("a", Ty::Tensor, "model A, one value per voxel (x axis)")
                    .param("b", Ty::Tensor, "model B, same length (y axis)")
                    .param("path", Ty::Str, "output path without extension")
                    .opt("bins", Ty::Int, "60", "bins per axis (2 to 1000)")
                    .opt("xlabel", Ty::Str, "\"A\"", "x-axis label")
                    .opt("ylabel", Ty::Str, "\"B\"", "y-axis label")
                    .opt("title", Ty::Str, "\"\"", "figure title"))
                    .returns(RETURNS)
                    .section("Results: voxel-wise comparison of two models")
                    .example("plot::hist2d(mllm.r, llm.r, out + \"/fig2d\", #{xlabel: \"MLLM r\", ylabel: \"LLM r\"});"),
                size_opts(FnSpec::new("rose", "Rose (polar bar) diagrams of stimulus profiles (Fig. 5a): one panel per row of weights; each component is a wedge at a fixed angle (clockwise from 12 o'clock) with radius proportional to its weight, on a radial scale shared by all panels; the top components of each stimulus are named. Weights must be ≥ 0 (NaN is drawn as 0). Writes <path>.csv: a first column of stimulus titles, then one column per component.")
                    .param("weights", Ty::Any, "stimuli × components, non-negative (at most 36 rows), or affect::profiles' result #{stimuli, weights}")
                    .param("path", Ty::Str, "output path without extension")
                    .opt("names", Ty::List, "\"0\", \"1\", ...", "component names")
                    .opt("titles", Ty::List, "\"stimulus <i>\"", "one panel title per row (default: the row, or the stimulus index of a profiles result)")
                    .opt("top", Ty::Int, "8", "how many of each stimulus's largest components to name (0: none)")
                    .opt("title", Ty::Str, "\"\"", "figure title")
                    .opt("columns", Ty::Int, "about √rows", "panels per row"))
                    .returns(RETURNS)
                    .section("Results: stimulus profiles")
                    .example("let p = affect::profiles(X, [0, 5, 9]);\nplot::rose(p, out + \"/fig5a\", #{names: lab.labels, titles: [\"0001\", \"0006\", \"0010\"]});"),
                size_opts(FnSpec::new("graph", "The component graph with its communities (Fig. 7): nodes placed by a seeded Fruchterman–Reingold layout (starting from the communities on a circle), coloured by community, sized by PageRank (area), named; edges as wide as |weight|, red for positive and blue for negative. Writes <path>.csv (node, name, community, pagerank, x, y) and <path>_edges.csv (source, target, source_name, target_name, weight).")
                    .param("g", Ty::Map, "what affect::graph returns: #{nodes, names, edges: #{source, target, weight}, communities, pagerank, modularity, isolated}")
                    .param("path", Ty::Str, "output path without extension")
                    .opt("title", Ty::Str, "\"\"", "figure title")
                    .opt("layout", Ty::Str, "\"force\"", "\"force\" (Fruchterman–Reingold) or \"circle\" (communities in arcs of one circle)")
                    .opt("seed", Ty::Int, "the run's --seed", "seed of the layout's starting jitter"))
                    .returns(RETURNS)
                    .section("Results: the component graph")
                    .example("let g = affect::graph(X, #{names: lab.labels});\nplot::graph(g, out + \"/fig7\", #{title: \"Component graph\"});"),
                size_opts(FnSpec::new("lines", "Lines over a shared x (accuracy against dimensionality, the reduction curve: Extended Data Fig. 1a, Fig. 7f), one per series with a legend; NaN leaves a gap. Writes <path>.csv: x, then one column per series.")
                    .param("x", Ty::Tensor, "x values (list or 1-D tensor)")
                    .param("series", Ty::Map, "#{name: values}, each as long as x (drawn in key order)")
                    .param("path", Ty::Str, "output path without extension")
                    .opt("xlabel", Ty::Str, "\"\"", "x-axis label")
                    .opt("ylabel", Ty::Str, "\"\"", "y-axis label")
                    .opt("title", Ty::Str, "\"\"", "figure title")
                    .opt("markers", Ty::Bool, "true", "a dot at each point")
                    .opt("log_x", Ty::Bool, "false", "logarithmic x axis (x must be > 0)")
                    .opt("hline", Ty::Float, "none", "a dashed horizontal reference line (chance level)")
                    .opt("hline_label", Ty::Str, "\"\"", "its legend entry"))
                    .returns(RETURNS)
                    .section("Results: dimensionality and reduction")
                    .example("plot::lines([5, 10, 20, 30, 50], #{MLLM: acc_mllm, LLM: acc_llm}, out + \"/ed1a\", #{xlabel: \"dimensions\", ylabel: \"held-out accuracy\", hline: 1.0 / 3.0, hline_label: \"chance\"});"),
                size_opts(FnSpec::new("brain", "A brain map as a mosaic of slices through the mask: mask voxels grey, voxels past the threshold coloured (hot for positive maps, blue-white-red with symmetric limits for signed ones), with a colour bar. Slices are spread evenly over the mask's extent along the axis. Writes <path>.npy (the values, float64, in voxel order) and <path>.csv (i, j, k, value).")
                    .param("values", Ty::Any, "one value per voxel of the dataset (NaN = not scored), or a map with an 'r' tensor (an encoding result)")
                    .param("dataset", Ty::Map, "the fMRI dataset map (synth::world subject, fmri::load): its coords (voxels × 3) and grid are used")
                    .param("path", Ty::Str, "output path without extension")
                    .opt("axis", Ty::Str, "\"z\"", "slice axis: \"x\" (sagittal), \"y\" (coronal) or \"z\" (axial)")
                    .opt("slices", Ty::Int, "12", "number of slices (at most the mask's extent)")
                    .opt("threshold", Ty::Float, "none (every finite value)", "colour only values ≥ threshold (hot) or |value| ≥ threshold (diverging)")
                    .opt("cmap", Ty::Str, "\"hot\"", "\"hot\" or \"diverging\"")
                    .opt("vmin", Ty::Float, "threshold or min (hot); -vmax (diverging)", "lower colour limit")
                    .opt("vmax", Ty::Float, "max (hot); max|value| (diverging)", "upper colour limit")
                    .opt("title", Ty::Str, "\"\"", "figure title")
                    .opt("label", Ty::Str, "\"value\"", "colour-bar label"))
                    .returns(RETURNS)
                    .section("Results: brain maps")
                    .example("let e = encoding::ridge_cv(X, s.data, #{});\nplot::brain(e.r, s, out + \"/fig2c\", #{threshold: 0.1, title: \"encoding accuracy (r)\"});"),
            ],
        }
    }

    fn call(&self, f: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match f {
            "scatter" => scatter::call(args, opts, ctx),
            "heatmap" => heatmap::call(args, opts, ctx),
            "roi_bars" => bars::call(args, opts, ctx),
            "hist2d" => hist2d::call(args, opts, ctx),
            "rose" => rose::call(args, opts, ctx),
            "graph" => graph::call(args, opts, ctx),
            "lines" => lines::call(args, opts, ctx),
            "brain" => brain::call(args, opts, ctx),
            other => bail!("plot has no function '{other}'"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_extension_is_dropped() {
        assert_eq!(base_path(&Value::from("a/fig.svg")).unwrap(), "a/fig");
        assert_eq!(base_path(&Value::from("a/fig.PNG")).unwrap(), "a/fig");
        assert_eq!(base_path(&Value::from("a/fig")).unwrap(), "a/fig");
        assert!(base_path(&Value::from("a/")).is_err());
        assert!(base_path(&Value::Int(3)).is_err());
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut c = Csv::new(&["a", "b"]);
        c.row(&["x,y", "say \"hi\""]);
        assert_eq!(
            String::from_utf8(c.bytes()).unwrap(),
            "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n"
        );
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(0.1), "0.1");
    }

    #[test]
    fn commit_leaves_nothing_when_a_write_fails() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.svg");
        // A directory where a file should go makes the rename fail.
        let blocked = dir.path().join("b.png");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"x").unwrap();
        let r = commit(&[(good.clone(), b"1".to_vec()), (blocked, b"2".to_vec())]);
        assert!(r.is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
}
