//! The `report::` namespace: one self-contained HTML file that reads like a results section.
//!
//! A script builds the report as a list of blocks (headings, paragraphs, tables, figures, rows
//! of blocks side by side) from the values its steps returned; `report::write` renders them.
//! Figures are inlined (SVG, else PNG, as base64 data URIs) so the file can be mailed or
//! archived alone, and each still names its files (`data-svg`, links to the PNG and the data)
//! so a reader can find the numbers behind every picture.
use base64::Engine as _;
use emoscope_sdk::{bail, ensure, options};
use emoscope_sdk::{Ctx, FnSpec, Map, Plugin, PluginInfo, Result, Ty, Value};
use serde::Deserialize;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

pub struct ReportNs;

/// The plugin, for the host's registry.
pub fn plugin() -> ReportNs {
    ReportNs
}

const SECTION: &str = "Pipelines: the HTML report";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteOpt {
    #[serde(default = "default_title")]
    title: String,
    #[serde(default)]
    subtitle: Option<String>,
}

fn default_title() -> String {
    "emoscope report".into()
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Numbers as a results section prints them: 4 significant digits, small p-values in
/// scientific notation, integers as integers.
fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "–".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        format!("{x:.3e}")
    } else {
        let digits = (4 - 1 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.digits$}")
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => fmt_num(*f),
        Value::Str(s) => esc(s),
        Value::Tensor(t) if t.numel() == 1 => t
            .to_vec_f64()
            .ok()
            .and_then(|v| v.first().copied())
            .map(fmt_num)
            .unwrap_or_default(),
        Value::Tensor(t) => esc(&format!("tensor {:?}", t.shape())),
        Value::List(l) if l.len() <= 6 => l.iter().map(cell).collect::<Vec<_>>().join(", "),
        Value::List(l) => format!("list of {}", l.len()),
        Value::Map(m) => format!("map of {}", m.len()),
        Value::Object(o) => esc(o.type_name()),
    }
}

/// A column of a table: a list, or a 1-D tensor.
fn column(v: &Value, name: &str) -> Result<Vec<Value>> {
    Ok(match v {
        Value::List(l) => l.clone(),
        Value::Tensor(t) if t.ndim() <= 1 => {
            let int = matches!(
                t.dtype(),
                emoscope_sdk::DType::I64 | emoscope_sdk::DType::U8
            );
            t.to_vec_f64()?
                .into_iter()
                .map(|x| {
                    if int {
                        Value::Int(x as i64)
                    } else {
                        Value::Float(x)
                    }
                })
                .collect()
        }
        other => bail!(
            "table column '{name}' must be a list or a 1-D tensor, got {}",
            other.type_name()
        ),
    })
}

/// A table as header + rows, from a map of equal-length columns (what stats::roi_compare
/// returns in `rows`), a list of maps (one per row), or a matrix tensor.
fn table_rows(v: &Value, order: Option<&[String]>) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
    match v {
        Value::Map(m) => {
            let mut names: Vec<String> = match order {
                Some(o) => o.to_vec(),
                None => m.keys().cloned().collect(),
            };
            names.retain(|n| m.contains_key(n));
            let cols: Vec<Vec<Value>> = names
                .iter()
                .map(|n| column(&m[n], n))
                .collect::<Result<_>>()?;
            let len = cols.first().map_or(0, Vec::len);
            for (n, c) in names.iter().zip(&cols) {
                ensure!(
                    c.len() == len,
                    "table column '{n}' has {} rows but '{}' has {len}",
                    c.len(),
                    names[0]
                );
            }
            let rows = (0..len)
                .map(|i| cols.iter().map(|c| c[i].clone()).collect())
                .collect();
            Ok((names, rows))
        }
        Value::List(l) => {
            let mut names: Vec<String> = Vec::new();
            for (i, r) in l.iter().enumerate() {
                let Some(m) = r.as_map() else {
                    bail!(
                        "table rows must be maps (column → value); row {i} is {}",
                        r.type_name()
                    )
                };
                for k in m.keys() {
                    if !names.contains(k) {
                        names.push(k.clone());
                    }
                }
            }
            if let Some(o) = order {
                names = o.iter().filter(|n| names.contains(n)).cloned().collect();
            }
            let rows = l
                .iter()
                .map(|r| {
                    let m = r.as_map().expect("checked above");
                    names
                        .iter()
                        .map(|n| m.get(n).cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .collect();
            Ok((names, rows))
        }
        Value::Tensor(t) if t.ndim() == 2 => {
            let s = t.shape();
            let x = t.to_vec_f64()?;
            let names = (0..s[1]).map(|j| (j + 1).to_string()).collect();
            let rows = (0..s[0])
                .map(|i| (0..s[1]).map(|j| Value::Float(x[i * s[1] + j])).collect())
                .collect();
            Ok((names, rows))
        }
        other => bail!(
            "a table must be a map of columns, a list of row maps or a matrix, got {}",
            other.type_name()
        ),
    }
}

fn str_list(v: Option<&Value>, what: &str) -> Result<Option<Vec<String>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::List(l)) => l
            .iter()
            .map(|x| match x {
                Value::Str(s) => Ok(s.clone()),
                other => bail!("{what} must be strings, got {}", other.type_name()),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(other) => bail!(
            "{what} must be a list of strings, got {}",
            other.type_name()
        ),
    }
}

fn text_of(m: &Map, key: &str, at: &str) -> Result<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(other) => bail!("{at}: '{key}' must be a string, got {}", other.type_name()),
    }
}

/// `path` relative to the report's folder when it lies below it, else as given.
fn relative(path: &Path, base: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (p, b) = (abs(path), abs(base));
    p.strip_prefix(&b)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

struct Renderer<'a> {
    base: &'a Path,
    html: String,
    toc: Vec<(String, String)>,
    figures: usize,
    tables: usize,
    ctx: &'a Ctx,
}

impl Renderer<'_> {
    fn block(&mut self, b: &Value, at: &str) -> Result<()> {
        let m = match b {
            Value::Str(s) => {
                let _ = writeln!(self.html, "<p>{}</p>", esc(s));
                return Ok(());
            }
            Value::Null => return Ok(()),
            Value::Map(m) => m,
            other => bail!(
                "{at} must be a string (a paragraph) or a map such as #{{h2: ...}}, #{{table: ...}}, #{{figure: ...}}, got {}",
                other.type_name()
            ),
        };
        let caption = text_of(m, "caption", at)?;
        if let Some(t) = text_of(m, "h1", at)? {
            let _ = writeln!(self.html, "<h1>{}</h1>", esc(&t));
        } else if let Some(t) = text_of(m, "h2", at)? {
            let id = format!("s{}", self.toc.len() + 1);
            let _ = writeln!(self.html, "<h2 id=\"{id}\">{}</h2>", esc(&t));
            self.toc.push((id, t));
        } else if let Some(t) = text_of(m, "h3", at)? {
            let _ = writeln!(self.html, "<h3>{}</h3>", esc(&t));
        } else if let Some(t) = text_of(m, "p", at)? {
            let _ = writeln!(self.html, "<p>{}</p>", esc(&t));
        } else if let Some(t) = text_of(m, "note", at)? {
            let _ = writeln!(self.html, "<p class=\"note\">{}</p>", esc(&t));
        } else if let Some(t) = text_of(m, "code", at)? {
            let _ = writeln!(self.html, "<pre>{}</pre>", esc(&t));
        } else if let Some(v) = m.get("table") {
            let order = str_list(m.get("columns"), &format!("{at}.columns"))?;
            let (names, rows) = table_rows(v, order.as_deref())
                .map_err(|e| emoscope_sdk::Error::msg(format!("{at}: {e}")))?;
            self.tables += 1;
            let _ = write!(self.html, "<figure class=\"table\"><table><thead><tr>");
            for n in &names {
                let _ = write!(self.html, "<th>{}</th>", esc(n));
            }
            let _ = write!(self.html, "</tr></thead><tbody>");
            for r in &rows {
                let _ = write!(self.html, "<tr>");
                for c in r {
                    let class = if matches!(c, Value::Int(_) | Value::Float(_)) {
                        " class=\"n\""
                    } else {
                        ""
                    };
                    let _ = write!(self.html, "<td{class}>{}</td>", cell(c));
                }
                let _ = write!(self.html, "</tr>");
            }
            let _ = write!(self.html, "</tbody></table>");
            if let Some(c) = caption {
                let _ = write!(
                    self.html,
                    "<figcaption><b>Table {}.</b> {}</figcaption>",
                    self.tables,
                    esc(&c)
                );
            }
            let _ = writeln!(self.html, "</figure>");
        } else if let Some(v) = m.get("kv") {
            let Some(kv) = v.as_map() else {
                bail!("{at}.kv must be a map, got {}", v.type_name())
            };
            let _ = write!(self.html, "<table class=\"kv\"><tbody>");
            for (k, v) in kv {
                let _ = write!(
                    self.html,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    esc(k),
                    cell(v)
                );
            }
            let _ = writeln!(self.html, "</tbody></table>");
        } else if let Some(v) = m.get("figure") {
            self.figure(v, caption.as_deref(), at)?;
        } else if let Some(v) = m.get("row") {
            let Some(items) = v.as_list() else {
                bail!("{at}.row must be a list of blocks, got {}", v.type_name())
            };
            let _ = writeln!(self.html, "<div class=\"row\">");
            for (i, b) in items.iter().enumerate() {
                let _ = writeln!(self.html, "<div class=\"col\">");
                self.block(b, &format!("{at}.row[{i}]"))?;
                let _ = writeln!(self.html, "</div>");
            }
            let _ = writeln!(self.html, "</div>");
        } else {
            let keys: Vec<&str> = m.keys().map(String::as_str).collect();
            bail!(
                "{at} has none of the block keys h1, h2, h3, p, note, code, table, kv, figure, row (it has: {})",
                keys.join(", ")
            );
        }
        Ok(())
    }

    fn figure(&mut self, v: &Value, caption: Option<&str>, at: &str) -> Result<()> {
        // A plot:: result (#{svg, png, data, title}) or a path to an .svg/.png.
        let (svg, png, data, title) = match v {
            Value::Str(p) => {
                let p = PathBuf::from(p);
                match emoscope_sdk::io::extension(&p).as_str() {
                    "svg" => (Some(p), None, None, None),
                    "png" => (None, Some(p), None, None),
                    other => bail!("{at}.figure: '{}' is not an .svg or .png file (extension '.{other}')", p.display()),
                }
            }
            Value::Map(m) => (
                text_of(m, "svg", at)?.map(PathBuf::from),
                text_of(m, "png", at)?.map(PathBuf::from),
                text_of(m, "data", at)?.map(PathBuf::from),
                text_of(m, "title", at)?,
            ),
            other => bail!(
                "{at}.figure must be what a plot:: function returns (#{{svg, png, data}}) or a file path, got {}",
                other.type_name()
            ),
        };
        let (file, mime) = match (&svg, &png) {
            (Some(s), _) => (s, "image/svg+xml"),
            (None, Some(p)) => (p, "image/png"),
            (None, None) => bail!("{at}.figure names neither an svg nor a png file"),
        };
        let bytes = std::fs::read(file).map_err(|e| {
            emoscope_sdk::Error::msg(format!("{at}.figure: cannot read {}: {e}", file.display()))
        })?;
        ensure!(
            !bytes.is_empty(),
            "{at}.figure: {} is empty",
            file.display()
        );
        self.ctx.input_file(file);
        self.figures += 1;
        let n = self.figures;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let alt = title
            .clone()
            .or(caption.map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            self.html,
            "<figure id=\"fig{n}\"><img alt=\"{}\" data-file=\"{}\" src=\"data:{mime};base64,{b64}\"/>",
            esc(&alt),
            esc(&relative(file, self.base))
        );
        let mut links = Vec::new();
        for (label, p) in [("SVG", &svg), ("PNG", &png), ("data", &data)] {
            if let Some(p) = p {
                let r = relative(p, self.base);
                links.push(format!("<a href=\"{}\">{label}</a>", esc(&r)));
            }
        }
        let _ = write!(self.html, "<figcaption><b>Figure {n}.</b> ");
        if let Some(c) = caption.or(title.as_deref()) {
            let _ = write!(self.html, "{} ", esc(c));
        }
        let _ = writeln!(
            self.html,
            "<span class=\"files\">[{}]</span></figcaption></figure>",
            links.join(" · ")
        );
        Ok(())
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;padding:0 1.5em;color:#222;line-height:1.5}
h1{font-size:1.8em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.subtitle{color:#666;margin-top:0}nav{background:#f6f6f6;padding:.6em 1em;border-radius:6px}nav a{margin-right:1.2em}
figure{margin:1.2em 0}figure img{max-width:min(100%,860px);height:auto;border:1px solid #eee}.col figure img{max-width:100%}figcaption{font-size:.92em;color:#444}
.files{color:#888;font-size:.9em}.row{display:flex;gap:1.2em;flex-wrap:wrap}.col{flex:1 1 300px;min-width:0}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}th,td{padding:.25em .6em;border-bottom:1px solid #e4e4e4;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}thead th{border-bottom:2px solid #999}figure.table{overflow-x:auto}
table.kv th{font-weight:600;padding-right:1.5em}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto}footer{margin-top:3em;color:#888;font-size:.85em}";

/// Render blocks to a self-contained HTML page.
fn render(blocks: &[Value], o: &WriteOpt, base: &Path, ctx: &Ctx) -> Result<String> {
    let mut r = Renderer {
        base,
        html: String::new(),
        toc: Vec::new(),
        figures: 0,
        tables: 0,
        ctx,
    };
    for (i, b) in blocks.iter().enumerate() {
        r.block(b, &format!("blocks[{i}]"))?;
    }
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"/><title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        esc(&o.title),
        esc(&o.title)
    );
    if let Some(s) = &o.subtitle {
        let _ = writeln!(page, "<p class=\"subtitle\">{}</p>", esc(s));
    }
    if r.toc.len() > 1 {
        let _ = write!(page, "<nav>");
        for (id, t) in &r.toc {
            let _ = write!(page, "<a href=\"#{id}\">{}</a>", esc(t));
        }
        let _ = writeln!(page, "</nav>");
    }
    page.push_str(&r.html);
    let _ = writeln!(
        page,
        "<footer>Written by emoscope {} ({} figures, {} tables). Every figure links the SVG, PNG and data files it was drawn from.</footer></body></html>",
        env!("CARGO_PKG_VERSION"),
        r.figures,
        r.tables
    );
    Ok(page)
}

impl Plugin for ReportNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "report".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A self-contained HTML report from tables and figures".into(),
            functions: vec![FnSpec::new(
                "write",
                "Write an HTML report: one file, figures inlined, reading top to bottom like a results section. Each block is a string (a paragraph) or a map with one of: h1/h2/h3 (heading; h2s make the contents bar), p (paragraph), note (highlighted remark), code (preformatted), kv (map shown as a two-column table), table (a map of equal-length columns such as stats::roi_compare's rows, a list of row maps, or a matrix; optional columns: [names] to order them), figure (a plot:: result or an .svg/.png path), row (a list of blocks side by side); tables and figures take an optional caption.",
            )
            .param("path", Ty::Str, "the .html file to write (through a temporary file)")
            .param("blocks", Ty::List, "the report's content, in order")
            .opt("title", Ty::Str, "\"emoscope report\"", "page title and heading")
            .opt("subtitle", Ty::Str, "none", "a line under the title")
            .returns("the path written")
            .section(SECTION)
            .example("report::write(out + \"/report.html\", [#{h2: \"Behaviour\"}, \"Human-category judges agree.\", #{figure: plot::lines(dims, #{acc: acc}, out + \"/acc\"), caption: \"Accuracy.\"}], #{title: \"Study\"});")],
        }
    }

    fn call(&self, f: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match f {
            "write" => {
                let o: WriteOpt = options::parse(opts)?;
                let Value::Str(path) = &args[0] else {
                    bail!("path must be a string, got {}", args[0].type_name())
                };
                let path = PathBuf::from(path);
                ensure!(
                    matches!(emoscope_sdk::io::extension(&path).as_str(), "html" | "htm"),
                    "report::write: {} must end in .html",
                    path.display()
                );
                let Some(blocks) = args[1].as_list() else {
                    bail!("blocks must be a list, got {}", args[1].type_name())
                };
                let base = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
                std::fs::create_dir_all(&base).map_err(|e| {
                    emoscope_sdk::Error::msg(format!("cannot create {}: {e}", base.display()))
                })?;
                let html = render(blocks, &o, &base, ctx)?;
                emoscope_sdk::io::atomic_write(&path, |w| Ok(w.write_all(html.as_bytes())?))?;
                ctx.output_file(&path);
                Ok(Value::Str(path.display().to_string()))
            }
            other => bail!("report has no function '{other}'"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emoscope_sdk::Tensor;

    #[test]
    fn numbers_print_like_a_results_section() {
        assert_eq!(fmt_num(0.98576), "0.9858");
        assert_eq!(fmt_num(12.3456), "12.35");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.00001234), "1.234e-5");
        assert_eq!(fmt_num(f64::NAN), "–");
    }

    #[test]
    fn tables_from_columns_rows_and_matrices() {
        let cols = Value::Map(
            [
                (
                    "roi".to_string(),
                    Value::List(vec![Value::Str("STS".into()), Value::Str("V1".into())]),
                ),
                (
                    "r".to_string(),
                    Value::Tensor(Tensor::from_vec(vec![0.25f64, 0.5], &[2]).unwrap()),
                ),
            ]
            .into(),
        );
        let (names, rows) = table_rows(&cols, Some(&["roi".into(), "r".into()])).unwrap();
        assert_eq!(names, vec!["roi", "r"]);
        assert_eq!(cell(&rows[1][1]), "0.5000");
        assert_eq!(cell(&rows[1][0]), "V1");
        let bad = Value::Map(
            [
                ("a".to_string(), Value::List(vec![Value::Int(1)])),
                (
                    "b".to_string(),
                    Value::List(vec![Value::Int(1), Value::Int(2)]),
                ),
            ]
            .into(),
        );
        assert!(table_rows(&bad, None)
            .unwrap_err()
            .to_string()
            .contains("has 2 rows"));
    }

    #[test]
    fn report_inlines_figures_escapes_text_and_rejects_unknown_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("f.svg");
        std::fs::write(
            &svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"1\" height=\"1\"/></svg>",
        )
        .unwrap();
        let fig = Value::Map([("svg".to_string(), Value::Str(svg.display().to_string()))].into());
        let blocks = vec![
            Value::Map([("h2".to_string(), Value::Str("Results".into()))].into()),
            Value::Str("a < b & c".into()),
            Value::Map(
                [
                    ("figure".to_string(), fig),
                    ("caption".to_string(), Value::Str("Cap".into())),
                ]
                .into(),
            ),
        ];
        let o = WriteOpt {
            title: "T".into(),
            subtitle: None,
        };
        let ctx = Ctx::detached();
        let html = render(&blocks, &o, dir.path(), &ctx).unwrap();
        assert!(html.contains("a &lt; b &amp; c"));
        assert!(html.contains("data-file=\"f.svg\""), "{html}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&svg).unwrap());
        assert!(html.contains(&b64));
        assert!(html.contains("<b>Figure 1.</b> Cap"));
        let err = render(
            &[Value::Map([("chart".to_string(), Value::Int(1))].into())],
            &o,
            dir.path(),
            &ctx,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("blocks[0] has none of the block keys"),
            "{err}"
        );
        let missing = Value::Map([("figure".to_string(), Value::Str("nope.svg".into()))].into());
        let err = render(&[missing], &o, dir.path(), &ctx)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read nope.svg"), "{err}");
    }
}
