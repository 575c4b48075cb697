//! The look every figure shares: the embedded font, text sizes scaled to the canvas, the
//! palettes (categorical, viridis, blue-white-red, hot), nice tick values and number formatting
//! (re-exported from `numbers`), and the drawing helpers (text with an anchor, colour bars,
//! legends) the figures are built from. Everything here is generic over plotters'
//! `DrawingBackend`, so the SVG and the PNG of a figure come from the same calls.
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::OnceLock;

pub use crate::numbers::{axis_format, fmt_cell, fmt_count, fmt_num, fmt_short, nice_ticks};

/// DejaVu Sans 2.37 (Bitstream Vera licence, see assets/fonts/LICENSE-DejaVu.txt): the PNGs
/// render text with it, so no figure depends on the system's fonts. The SVGs name the generic
/// `sans-serif` family, whose metrics the layout was measured with.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The family name the font is registered under (and the SVGs name).
pub const FAMILY: &str = "sans-serif";

/// Register the embedded font once. Idempotent; an error only if the bytes are not a font.
pub fn ensure_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the embedded DejaVu Sans font could not be loaded".to_string())
    })
    .clone()
}

/// What a draw function returns: plotters' errors (backend or font) boxed.
pub type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Sizes for one canvas: text and strokes scale with the canvas so that a smaller figure keeps
/// the same proportions (1200 × 900 px is the reference: 8 × 6 in at 150 dpi).
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub w: u32,
    pub h: u32,
    pub scale: f64,
}

impl Style {
    pub fn new(w: u32, h: u32) -> Self {
        let scale = (w as f64 / 1200.0).min(h as f64 / 900.0).clamp(0.4, 4.0);
        Style { w, h, scale }
    }
    /// A length in pixels at this scale.
    pub fn px(&self, v: f64) -> i32 {
        (v * self.scale).round().max(1.0) as i32
    }
    pub fn pxf(&self, v: f64) -> f64 {
        v * self.scale
    }
    /// Text of plotters size `size` at 1200 × 900; on smaller canvases text shrinks less than
    /// the rest (to 70% at most), so that it stays readable.
    pub fn font(&self, size: f64) -> TextStyle<'static> {
        (FAMILY, size * self.scale.max(0.7)).into_font().color(&INK)
    }
    /// 12.5 pt at 150 dpi (plotters' sizes are 1.24 × the em).
    pub fn title(&self) -> TextStyle<'static> {
        self.font(32.0)
    }
    /// 10 pt.
    pub fn label(&self) -> TextStyle<'static> {
        self.font(26.0)
    }
    /// 8.5 pt.
    pub fn tick(&self) -> TextStyle<'static> {
        self.font(22.0)
    }
    /// 7.5 pt.
    pub fn small(&self) -> TextStyle<'static> {
        self.font(19.5)
    }
    pub fn stroke(&self, v: f64) -> u32 {
        self.pxf(v).round().max(1.0) as u32
    }
}

/// Near-black for text and axes.
pub const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Grey for "other", masks and guides.
pub const GREY: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);
pub const LIGHT: RGBColor = RGBColor(0xe3, 0xe3, 0xe3);
pub const MID: RGBColor = RGBColor(0x80, 0x80, 0x80);

/// Twelve categorical colours: matplotlib's tab10 without its grey (kept for "other"), then
/// three darker tones from tab20b/c; distinct for the common colour-vision deficiencies in the
/// first few, as tab10 is.
pub const CATEGORICAL: [RGBColor; 12] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x39, 0x3b, 0x79),
    RGBColor(0xe7, 0xba, 0x52),
    RGBColor(0x84, 0x3c, 0x39),
];

pub fn categorical(i: usize) -> RGBColor {
    CATEGORICAL[i % CATEGORICAL.len()]
}

/// matplotlib's viridis at 0, 0.1, ..., 1 (interpolated linearly between).
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// ColorBrewer RdBu (11 classes) reversed: blue (low) – white – red (high).
const BLUE_WHITE_RED: [(u8, u8, u8); 11] = [
    (0x05, 0x30, 0x61),
    (0x21, 0x66, 0xac),
    (0x43, 0x93, 0xc3),
    (0x92, 0xc5, 0xde),
    (0xd1, 0xe5, 0xf0),
    (0xf7, 0xf7, 0xf7),
    (0xfd, 0xdb, 0xc7),
    (0xf4, 0xa5, 0x82),
    (0xd6, 0x60, 0x4d),
    (0xb2, 0x18, 0x2b),
    (0x67, 0x00, 0x1f),
];

fn lerp_table(table: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (table.len() - 1) as f64;
    let i = (x.floor() as usize).min(table.len() - 2);
    let f = x - i as f64;
    let (a, b) = (table[i], table[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A colour map from [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmap {
    Viridis,
    /// Blue – white – red, for signed values with symmetric limits.
    Diverging,
    /// matplotlib's hot between dark red and light yellow (no black, no white), for positive
    /// maps drawn over a grey background.
    Hot,
}

impl Cmap {
    pub fn at(self, t: f64) -> RGBColor {
        match self {
            Cmap::Viridis => lerp_table(&VIRIDIS, t),
            Cmap::Diverging => lerp_table(&BLUE_WHITE_RED, t),
            Cmap::Hot => {
                let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
                let u = 0.18 + 0.72 * t;
                let c = |x: f64| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
                RGBColor(
                    c(u / 0.365079),
                    c((u - 0.365079) / (0.746032 - 0.365079)),
                    c((u - 0.746032) / (1.0 - 0.746032)),
                )
            }
        }
    }
}

/// The same text style in another colour.
pub fn recolour(s: &TextStyle<'static>, c: RGBColor) -> TextStyle<'static> {
    TextStyle {
        font: s.font.clone(),
        color: c.to_backend_color(),
        pos: s.pos,
    }
}

/// Black or white text, whichever reads better on `bg`.
pub fn text_on(bg: RGBColor) -> RGBColor {
    let l = 0.2126 * bg.0 as f64 + 0.7152 * bg.1 as f64 + 0.0722 * bg.2 as f64;
    if l > 140.0 {
        INK
    } else {
        WHITE
    }
}

/// Draw `text` at `(x, y)` (pixels of `area`) with the given anchor, optionally rotated
/// (vertical text reads bottom to top).
pub fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    (x, y): (i32, i32),
    style: &TextStyle<'static>,
    h: HPos,
    v: VPos,
    vertical: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    if s.is_empty() {
        return Ok(());
    }
    let mut st = style.clone().pos(Pos::new(h, v));
    if vertical {
        st = st.transform(FontTransform::Rotate270);
    }
    area.draw_text(s, &st, (x, y))?;
    Ok(())
}

/// The rendered width and height of `text`.
pub fn measure<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle<'static>,
) -> (i32, i32)
where
    DB::ErrorType: 'static,
{
    area.estimate_text_size(s, style)
        .map(|(w, h)| (w as i32, h as i32))
        .unwrap_or((s.chars().count() as i32 * 10, 20))
}

/// The widest of `labels` in `style`.
pub fn widest<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    style: &TextStyle<'static>,
) -> i32
where
    DB::ErrorType: 'static,
{
    labels
        .iter()
        .map(|l| measure(area, l, style).0)
        .max()
        .unwrap_or(0)
}

/// Shorten `s` with an ellipsis until it fits `max_w` pixels.
pub fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle<'static>,
    max_w: i32,
) -> String
where
    DB::ErrorType: 'static,
{
    if measure(area, s, style).0 <= max_w {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    for n in (1..chars.len()).rev() {
        let t: String = chars[..n].iter().collect::<String>() + "…";
        if measure(area, &t, style).0 <= max_w {
            return t;
        }
    }
    "…".into()
}

/// The figure title, centred at the top; returns the height it took (0 without a title).
pub fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    st: &Style,
    title: &str,
) -> Result<i32, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    if title.is_empty() {
        return Ok(st.px(16.0));
    }
    let style = st.title();
    let t = fit(root, title, &style, st.w as i32 - st.px(40.0));
    text(
        root,
        &t,
        (st.w as i32 / 2, st.px(14.0)),
        &style,
        HPos::Center,
        VPos::Top,
        false,
    )?;
    Ok(st.px(14.0) + measure(root, &t, &style).1 + st.px(14.0))
}

/// A one-line caption centred at the bottom; returns the height it takes.
pub fn draw_caption<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    st: &Style,
    caption: &str,
) -> Result<i32, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let cs = st.small();
    let (w, h) = (st.w as i32, st.h as i32);
    text(
        root,
        caption,
        (w / 2, h - st.px(10.0)),
        &cs,
        HPos::Center,
        VPos::Bottom,
        false,
    )?;
    Ok(measure(root, caption, &cs).1 + st.px(20.0))
}

/// A vertical colour bar in the pixel box (x, y0)–(x + width, y1): `cmap` from `lo` (bottom) to
/// `hi` (top), with `ticks` (value, label) on the right and a vertical `label` beyond them.
#[allow(clippy::too_many_arguments)]
pub fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    st: &Style,
    (x, y0, y1): (i32, i32, i32),
    width: i32,
    color_at: &dyn Fn(f64) -> RGBColor,
    ticks: &[(f64, String)],
    lo: f64,
    hi: f64,
    label: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = (y1 - y0).max(1);
    for k in 0..n {
        // k = 0 is the top row (hi).
        let t = 1.0 - (k as f64 + 0.5) / n as f64;
        area.draw(&Rectangle::new(
            [(x, y0 + k), (x + width, y0 + k + 1)],
            color_at(t).filled(),
        ))?;
    }
    area.draw(&Rectangle::new(
        [(x, y0), (x + width, y1)],
        INK.stroke_width(1),
    ))?;
    let style = st.tick();
    let mut max_w = 0;
    for (v, l) in ticks {
        if hi.is_nan() || lo.is_nan() || hi <= lo {
            break;
        }
        let t = (v - lo) / (hi - lo);
        if !(-1e-9..=1.0 + 1e-9).contains(&t) {
            continue;
        }
        let y = y1 - (t * (y1 - y0) as f64).round() as i32;
        area.draw(&PathElement::new(
            vec![(x + width, y), (x + width + st.px(6.0), y)],
            INK.stroke_width(1),
        ))?;
        text(
            area,
            l,
            (x + width + st.px(12.0), y),
            &style,
            HPos::Left,
            VPos::Center,
            false,
        )?;
        max_w = max_w.max(measure(area, l, &style).0);
    }
    if !label.is_empty() {
        text(
            area,
            label,
            (x + width + st.px(20.0) + max_w, (y0 + y1) / 2),
            &st.label(),
            HPos::Center,
            VPos::Top,
            true,
        )?;
    }
    Ok(())
}

/// How wide a colour bar with these tick labels and axis label is (bar included).
pub fn colour_bar_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    st: &Style,
    bar: i32,
    ticks: &[(f64, String)],
    label: &str,
) -> i32
where
    DB::ErrorType: 'static,
{
    let labels: Vec<String> = ticks.iter().map(|(_, l)| l.clone()).collect();
    let w = widest(area, &labels, &st.tick());
    let lab = if label.is_empty() {
        0
    } else {
        measure(area, label, &st.label()).1 + st.px(8.0)
    };
    bar + st.px(20.0) + w + lab
}

/// One legend entry's marker.
#[derive(Clone, Copy)]
pub enum Marker {
    Dot,
    Square,
    Line,
}

/// A legend box at `(x, y)` (top-left): one row per (colour, label); returns its height.
pub fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    st: &Style,
    (x, y): (i32, i32),
    entries: &[(RGBColor, String, Marker)],
    heading: &str,
) -> Result<i32, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let style = st.small();
    let row = st.px(28.0);
    let mut yy = y;
    if !heading.is_empty() {
        text(
            area,
            heading,
            (x, yy + row / 2),
            &st.font(19.0),
            HPos::Left,
            VPos::Center,
            false,
        )?;
        yy += row;
    }
    for (c, l, m) in entries {
        let cy = yy + row / 2;
        let r = st.px(7.0);
        match m {
            Marker::Dot => {
                area.draw(&Circle::new((x + r, cy), r, c.filled()))?;
            }
            Marker::Square => {
                area.draw(&Rectangle::new(
                    [(x, cy - r), (x + 2 * r, cy + r)],
                    c.filled(),
                ))?;
            }
            Marker::Line => {
                area.draw(&PathElement::new(
                    vec![(x - r, cy), (x + 2 * r, cy)],
                    c.stroke_width(st.stroke(3.0)),
                ))?;
            }
        }
        text(
            area,
            l,
            (x + 2 * r + st.px(10.0), cy),
            &style,
            HPos::Left,
            VPos::Center,
            false,
        )?;
        yy += row;
    }
    Ok(yy - y)
}

/// Left offset + marker + gap + right margin of a legend column, at scale 1.
const LEGEND_PAD: f64 = 8.0 + 14.0 + 10.0 + 16.0;

/// The width of a legend column for `labels` (and a `heading`), at most `cap` pixels.
pub fn legend_box<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    st: &Style,
    labels: &[String],
    heading: &str,
    cap: i32,
) -> i32
where
    DB::ErrorType: 'static,
{
    let w = widest(area, labels, &st.small()).max(measure(area, heading, &st.font(19.0)).0);
    (w + st.px(LEGEND_PAD)).min(cap)
}

/// The room left for a label in a legend column `w` wide (labels are shortened to fit).
pub fn legend_room(st: &Style, w: i32) -> i32 {
    w - st.px(LEGEND_PAD)
}

/// Where a legend column starts, from the left edge of its area.
pub fn legend_x(st: &Style) -> i32 {
    st.px(8.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_maps_span_their_ends() {
        assert_eq!(Cmap::Viridis.at(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(Cmap::Viridis.at(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(Cmap::Diverging.at(0.5), RGBColor(0xf7, 0xf7, 0xf7));
        let lo = Cmap::Hot.at(0.0);
        assert!(lo.0 > 100 && lo.1 == 0 && lo.2 == 0);
    }
}
