//! The blocks of a report (headings, paragraphs, tables, figures, rows side by side) rendered
//! to HTML, figures inlined as data URIs.
use crate::format::{cell, esc};
use crate::table::{str_list, table_rows};
use base64::Engine as _;
use emoscope_sdk::{bail, ensure, Ctx, Map, Result, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The string at `key` of a block, if any; `at` names the block in errors.
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

/// The page body as it is rendered, with what the page's head and footer need: the contents
/// bar (one entry per h2) and the figure and table counts.
pub(crate) struct Renderer<'a> {
    base: &'a Path,
    pub(crate) html: String,
    pub(crate) toc: Vec<(String, String)>,
    pub(crate) figures: usize,
    pub(crate) tables: usize,
    ctx: &'a Ctx,
}

impl<'a> Renderer<'a> {
    /// An empty body for a report written in `base`, whose figures are recorded as inputs of
    /// the run in `ctx`.
    pub(crate) fn new(base: &'a Path, ctx: &'a Ctx) -> Self {
        Renderer {
            base,
            html: String::new(),
            toc: Vec::new(),
            figures: 0,
            tables: 0,
            ctx,
        }
    }

    /// Render one block, recursing into rows; `at` names it in errors (`blocks[2].row[1]`).
    pub(crate) fn block(&mut self, b: &Value, at: &str) -> Result<()> {
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

    /// A figure: a plot:: result or an image path, inlined, with links to its files.
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
