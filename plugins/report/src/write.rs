//! `report::write`: the page around the rendered blocks (title, contents bar, style, footer)
//! and the file it is written to.
use crate::blocks::Renderer;
use crate::format::esc;
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Ctx, Error, Options, Result, Step, Value};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The page's style sheet, inlined so the file stands alone.
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
fn render(blocks: &[Value], o: &WriteReport, base: &Path, ctx: &Ctx) -> Result<String> {
    let mut r = Renderer::new(base, ctx);
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

/// Write an HTML report: one file, figures inlined, reading top to bottom like a results section. Each block is a string (a paragraph) or a map with one of: h1/h2/h3 (heading; h2s make the contents bar), p (paragraph), note (highlighted remark), code (preformatted), kv (map shown as a two-column table), table (a map of equal-length columns such as stats::roi_compare's rows, a list of row maps, or a matrix; optional columns: [names] to order them), figure (a plot:: result or an .svg/.png path), row (a list of blocks side by side); tables and figures take an optional caption.
#[derive(Options, Step)]
#[step(
    name = "write",
    param(path: Str = "the .html file to write (through a temporary file)"),
    param(blocks: List = "the report's content, in order"),
    returns = "the path written",
    section = "Pipelines: the HTML report",
    example = "report::write(out + \"/report.html\", [#{h2: \"Behaviour\"}, \"Human-category judges agree.\", #{figure: plot::lines(dims, #{acc: acc}, out + \"/acc\"), caption: \"Accuracy.\"}], #{title: \"Study\"});"
)]
pub struct WriteReport {
    /// page title and heading
    #[opt(default = "emoscope report")]
    pub title: String,
    /// a line under the title
    pub subtitle: Option<String>,
}

impl step::Step for WriteReport {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
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
        std::fs::create_dir_all(&base)
            .map_err(|e| Error::msg(format!("cannot create {}: {e}", base.display())))?;
        let html = render(blocks, &self, &base, ctx)?;
        emoscope_sdk::io::atomic_write(&path, |w| Ok(w.write_all(html.as_bytes())?))?;
        ctx.output_file(&path);
        Ok(Value::Str(path.display().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

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
        let o = WriteReport {
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
