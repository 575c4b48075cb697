//! What every figure shares: the [`Figure`] trait, the canvas size options, rendering to SVG and
//! PNG in memory, and writing a figure's files all or nothing.
use crate::backend;
use crate::data::DataFile;
use crate::style::{self, DrawResult, Style};
use emoscope_sdk::{bail, ensure, vmap, Ctx, Error, Options, Result, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What every figure returns.
pub(crate) const RETURNS: &str = "#{svg, png, data, data_files, title}: the paths written (data is the main data file, data_files all of them) and the title drawn";

/// One figure: drawn by the same code on every backend.
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// The default canvas: 8 × 6 in at 150 dpi.
const DEFAULT_SIZE: (u32, u32) = (1200, 900);
/// 150 dots per inch, in pixels per metre (the PNG pHYs chunk).
const PX_PER_METRE: u32 = 5906;

/// The canvas options every `plot::` function takes (after its own).
#[derive(Options, Debug)]
pub struct Size {
    /// canvas width in pixels (the PNG is 150 dpi: 1200 px = 8 in); text scales with the canvas
    #[opt(default = DEFAULT_SIZE.0 as i64)]
    pub width: i64,
    /// canvas height in pixels
    #[opt(default = DEFAULT_SIZE.1 as i64)]
    pub height: i64,
}

impl Size {
    /// The canvas in pixels. Checked before any work, so a bad size fails fast; the bounds keep
    /// text legible and the PNG buffer (3 bytes a pixel) reasonable.
    pub(crate) fn canvas(&self) -> Result<(u32, u32)> {
        let check = |x: i64, what: &str| -> Result<u32> {
            ensure!(
                (200..=8000).contains(&x),
                "option {what} must be between 200 and 8000 pixels, got {x}"
            );
            Ok(x as u32)
        };
        Ok((check(self.width, "width")?, check(self.height, "height")?))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use emoscope_sdk::step::Options as _;

    #[test]
    fn path_extension_is_dropped() {
        assert_eq!(base_path(&Value::from("a/fig.svg")).unwrap(), "a/fig");
        assert_eq!(base_path(&Value::from("a/fig.PNG")).unwrap(), "a/fig");
        assert_eq!(base_path(&Value::from("a/fig")).unwrap(), "a/fig");
        assert!(base_path(&Value::from("a/")).is_err());
        assert!(base_path(&Value::Int(3)).is_err());
    }

    #[test]
    fn size_defaults_and_bounds() {
        let size = |m: emoscope_sdk::Map| Size::parse(&m).unwrap().canvas();
        assert_eq!(size(Default::default()).unwrap(), DEFAULT_SIZE);
        let small = vmap! {"width" => 10i64};
        let e = size(small.as_map().unwrap().clone()).unwrap_err();
        assert!(e
            .to_string()
            .contains("option width must be between 200 and 8000"));
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
