//! One text model for both backends.
//!
//! plotters' SVG backend writes a text of size `s` as `font-size = s / 1.24`, an em of
//! `s / 1.24` px. Its ab_glyph renderer (the PNG, and every text measurement) reads `s` as the
//! font's ascent-to-descent height instead, which for DejaVu Sans (2384 of 2048 units per em) is
//! an em of `s / 1.164`: PNG text 6.5% larger than the SVG's, and layouts measured for the PNG.
//! It also puts glyphs about a fifth of an em above where the SVG anchors them. [`Fixed`] wraps
//! a backend so that text is measured (both backends) and drawn (bitmap) at the SVG's em, with
//! the anchor where the SVG puts it: the baseline 0.76 em below a `Top` anchor, digits and
//! capitals centred on a `Center` anchor, the baseline a quarter em above a `Bottom` anchor.
use plotters::prelude::*;
use plotters::style::text_anchor::VPos;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// DejaVu Sans: (ascent − descent) / units per em = (1901 + 483) / 2048.
const HEIGHT_PER_EM: f64 = 2384.0 / 2048.0;
/// plotters' SVG backend: font-size = size / SVG_SIZE.
const SVG_SIZE: f64 = 1.24;

/// The em (px) of a text of plotters size `s`, as the SVG shows it.
fn em(s: f64) -> f64 {
    s / SVG_SIZE
}

/// The same text at the SVG's em, for plotters' ab_glyph renderer.
fn em_style<S: BackendTextStyle>(style: &S) -> TextStyle<'_> {
    TextStyle {
        font: FontDesc::new(
            style.family(),
            em(style.size()) * HEIGHT_PER_EM,
            style.style(),
        )
        .transform(style.transform()),
        color: style.color(),
        pos: style.anchor(),
    }
}

/// A backend whose text follows the SVG model (see the module documentation).
pub struct Fixed<B> {
    pub inner: B,
    /// Whether `inner` rasterises text itself (the bitmap) rather than naming a font (the SVG).
    pub bitmap: bool,
}

impl<B: DrawingBackend> DrawingBackend for Fixed<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        if !self.bitmap {
            return self.inner.draw_text(text, style, pos);
        }
        // ab_glyph puts the baseline at half the (scaled) size below the layout box's top, and
        // the box is size / 1.24 tall; move it to where the SVG has it.
        let e = em(style.size());
        let k = HEIGHT_PER_EM * e;
        let baseline_now = match style.anchor().v_pos {
            VPos::Top => k / 2.0,
            VPos::Center => k / 2.0 - k / 1.24 / 2.0,
            VPos::Bottom => k / 2.0 - k / 1.24,
        };
        // DejaVu's digits and capitals are 0.73 em tall.
        let baseline_want = match style.anchor().v_pos {
            VPos::Top => 0.76 * e,
            VPos::Center => 0.365 * e,
            VPos::Bottom => -0.25 * e,
        };
        let d = (baseline_want - baseline_now).round() as i32;
        let (dx, dy) = style.transform().transform(0, d);
        self.inner
            .draw_text(text, &em_style(style), (pos.0 + dx, pos.1 + dy))
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        self.inner.estimate_text_size(text, &em_style(style))
    }
}
