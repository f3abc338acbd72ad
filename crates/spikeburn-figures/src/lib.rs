//! # spikeburn-figures
//!
//! Line charts written as SVG and PNG: the figures of `spikeburn sweep`, `spikeburn diagnose`
//! and `spikeburn plot`. This crate does not depend on burn: a figure is data (points,
//! labels, colours), so plotting compiles apart from the tensor library.
//!
//! A [`Figure`] is one or more [`Chart`] panels side by side; a chart holds [`Series`] of
//! points with optional error bars, on a linear, logarithmic or categorical x axis.
//!
//! Drawing goes through plotters' back ends (`plotters-svg`, `plotters-bitmap`), which need no
//! system library. The layout (axes, ticks, legend) is ours, on top of plotters' drawing
//! primitives: the `plotters` crate itself would bring `num-traits` with its default features,
//! which would rebuild burn with a different feature set. Text is measured and, for PNG,
//! rasterised with `ab_glyph` and a font compiled into the binary (a subset of DejaVu Sans,
//! Latin-1 and Greek, 45 kB; licence in `assets/fonts/LICENSE-DejaVu.txt`), so PNG output does
//! not depend on the fonts installed; SVG files name the font family and leave text rendering
//! to the viewer. PNG files are encoded here (RGB, 8 bits per channel, zlib through `flate2`).
//! Every file is written through [`spikeburn_io::write_bytes_atomically`] (a temporary name,
//! flushed, renamed, the folder flushed).

#![warn(missing_docs)]

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontFamily, FontTransform,
};
use spikeburn_io::write_bytes_atomically;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The font used to measure and draw text (a Latin-1 + Greek subset of DejaVu Sans).
static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-subset.ttf");

/// The font family named in SVG files.
const SVG_FONT_FAMILY: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        // The bytes are compiled in and checked by a test; a failure here is a build defect.
        FontRef::try_from_slice(FONT_BYTES).expect("the embedded font is a valid TrueType file")
    })
}

/// Why a figure could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// Drawing failed.
    #[error("{path}: cannot draw: {message}")]
    Draw {
        /// The file being written.
        path: PathBuf,
        /// The back end's message.
        message: String,
    },
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] spikeburn_io::IoError),
}

/// An image file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// Scalable vector graphics (text rendered by the viewer).
    Svg,
    /// Portable network graphics (RGB, text rendered with the embedded font).
    Png,
}

impl ImageFormat {
    /// Both formats.
    pub const ALL: [ImageFormat; 2] = [ImageFormat::Svg, ImageFormat::Png];

    /// The file extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        }
    }
}

impl std::str::FromStr for ImageFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "svg" => Ok(ImageFormat::Svg),
            "png" => Ok(ImageFormat::Png),
            _ => Err(format!("unknown image format {s:?}, expected svg or png")),
        }
    }
}

/// One point of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Position on the x axis (for a categorical axis: the category's index).
    pub x: f64,
    /// Value.
    pub y: f64,
    /// Half-length of the error bar (e.g. one standard deviation), if any.
    pub err: Option<f64>,
}

/// A line through points, with markers and optional error bars.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry (empty: no entry).
    pub label: String,
    /// The points, drawn in order.
    pub points: Vec<Point>,
    /// Index into the palette.
    pub color: usize,
    /// Dashed line (e.g. training curves beside solid test curves).
    pub dashed: bool,
    /// Dots only, no line (a scatter plot such as a spike raster).
    pub scatter: bool,
}

/// How x values map to the horizontal axis.
#[derive(Clone, Debug, PartialEq)]
pub enum XScale {
    /// Linear.
    Linear,
    /// Base-10 logarithmic (all x must be > 0).
    Log,
    /// Named categories at x = 0, 1, 2, …
    Categories(Vec<String>),
}

/// One panel: axes, title and series.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Title above the panel.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label left of the y axis.
    pub y_label: String,
    /// The x axis.
    pub x_scale: XScale,
    /// Where to put x ticks (e.g. the swept values); `None` = automatic.
    pub x_ticks: Option<Vec<f64>>,
    /// Heading of the legend, if any.
    pub legend_title: Option<String>,
    /// The data.
    pub series: Vec<Series>,
}

/// Panels side by side, written as SVG and/or PNG.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The panels, left to right.
    pub charts: Vec<Chart>,
    /// Size of one panel in pixels (SVG user units).
    pub panel_size: (u32, u32),
}

/// The colours of series, in order (matplotlib's "tab10").
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn rgb(c: (u8, u8, u8)) -> BackendColor {
    BackendColor { alpha: 1.0, rgb: c }
}

const BLACK: (u8, u8, u8) = (0, 0, 0);
const GRID: (u8, u8, u8) = (225, 225, 225);
const WHITE: (u8, u8, u8) = (255, 255, 255);

/// Stroke colour and width.
struct Stroke {
    color: BackendColor,
    width: u32,
}

impl BackendStyle for Stroke {
    fn color(&self) -> BackendColor {
        self.color
    }
    fn stroke_width(&self) -> u32 {
        self.width
    }
}

fn stroke(c: (u8, u8, u8), width: u32) -> Stroke {
    Stroke {
        color: rgb(c),
        width,
    }
}

/// Text of `px` pixels (em size) with an anchor and an optional rotation.
struct Text {
    px: f64,
    anchor: Pos,
    rotate: bool,
}

impl Text {
    fn new(px: f64, h: HPos, v: VPos) -> Self {
        Self {
            px,
            anchor: Pos::new(h, v),
            rotate: false,
        }
    }

    fn scaled(&self) -> ab_glyph::PxScaleFont<&'static FontRef<'static>> {
        let f = font();
        let per_em = f.height_unscaled() / f.units_per_em().unwrap_or(2048.0);
        f.as_scaled(PxScale::from(self.px as f32 * per_em))
    }
}

/// Width of `text` at `px` pixels.
fn text_width(text: &str, px: f64) -> f64 {
    let t = Text::new(px, HPos::Left, VPos::Top);
    layout_width(&t.scaled(), text)
}

fn layout_width(font: &ab_glyph::PxScaleFont<&FontRef>, text: &str) -> f64 {
    let mut width = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            width += font.kern(p, id);
        }
        width += font.h_advance(id);
        prev = Some(id);
    }
    f64::from(width)
}

#[derive(Debug)]
struct NoFontError;

impl std::fmt::Display for NoFontError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("text layout failed")
    }
}

impl std::error::Error for NoFontError {}

impl BackendTextStyle for Text {
    type FontError = NoFontError;

    fn color(&self) -> BackendColor {
        rgb(BLACK)
    }

    /// plotters' SVG back end writes `font-size = size / 1.24`.
    fn size(&self) -> f64 {
        self.px * 1.24
    }

    fn transform(&self) -> FontTransform {
        if self.rotate {
            FontTransform::Rotate270
        } else {
            FontTransform::None
        }
    }

    fn anchor(&self) -> Pos {
        self.anchor
    }

    fn family(&self) -> FontFamily<'_> {
        FontFamily::Name(SVG_FONT_FAMILY)
    }

    fn layout_box(&self, text: &str) -> Result<((i32, i32), (i32, i32)), Self::FontError> {
        let f = self.scaled();
        let w = layout_width(&f, text).ceil() as i32;
        let h = (f.ascent() - f.descent()).ceil() as i32;
        Ok(((0, 0), (w, h)))
    }

    fn draw<E, DrawFunc: FnMut(i32, i32, BackendColor) -> Result<(), E>>(
        &self,
        text: &str,
        pos: BackendCoord,
        mut draw: DrawFunc,
    ) -> Result<Result<(), E>, Self::FontError> {
        let f = self.scaled();
        let baseline = f.ascent();
        let mut x = 0.0f32;
        let mut prev = None;
        let mut result = Ok(());
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                x += f.kern(p, id);
            }
            let glyph = id.with_scale_and_position(f.scale(), ab_glyph::point(x, baseline));
            x += f.h_advance(id);
            prev = Some(id);
            if let Some(outlined) = font().outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                outlined.draw(|gx, gy, coverage| {
                    if result.is_ok() && coverage > 0.02 {
                        let px = pos.0 + bounds.min.x as i32 + gx as i32;
                        let py = pos.1 + bounds.min.y as i32 + gy as i32;
                        result = draw(px, py, rgb(BLACK).mix(f64::from(coverage.min(1.0))));
                    }
                });
            }
        }
        Ok(result)
    }
}

mod chart;
pub use chart::*;

impl Figure {
    /// The whole image size.
    pub fn size(&self) -> (u32, u32) {
        (
            self.panel_size.0 * self.charts.len().max(1) as u32,
            self.panel_size.1,
        )
    }

    fn draw<DB: DrawingBackend>(&self, db: &mut DB) -> DrawResult<DB::ErrorType> {
        let (w, h) = self.size();
        db.draw_rect((0, 0), (w as i32, h as i32), &stroke(WHITE, 1), true)?;
        for (i, chart) in self.charts.iter().enumerate() {
            let area = Rect {
                x: (i as u32 * self.panel_size.0) as i32,
                y: 0,
                w: self.panel_size.0 as i32,
                h: self.panel_size.1 as i32,
            };
            draw_chart(db, chart, area)?;
        }
        db.present()
    }

    /// The figure as SVG text.
    pub fn to_svg(&self) -> Result<String, String> {
        let mut text = String::new();
        {
            let mut db = plotters_svg::SVGBackend::with_string(&mut text, self.size());
            self.draw(&mut db).map_err(|e| e.to_string())?;
        }
        Ok(text)
    }

    /// The figure as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, String> {
        let (w, h) = self.size();
        let mut pixels = vec![255u8; w as usize * h as usize * 3];
        {
            let mut db = plotters_bitmap::BitMapBackend::with_buffer(&mut pixels, (w, h));
            self.draw(&mut db).map_err(|e| e.to_string())?;
        }
        encode_png(w, h, &pixels).map_err(|e| e.to_string())
    }

    /// Writes `stem.svg` and/or `stem.png` (atomically); returns the files written.
    pub fn write(&self, stem: &Path, formats: &[ImageFormat]) -> Result<Vec<PathBuf>, FigureError> {
        let mut written = Vec::new();
        for format in formats {
            let path = with_extension(stem, format.extension());
            let bytes = match format {
                ImageFormat::Svg => self.to_svg().map(String::into_bytes),
                ImageFormat::Png => self.to_png(),
            }
            .map_err(|message| FigureError::Draw {
                path: path.clone(),
                message,
            })?;
            write_bytes_atomically(&path, &bytes)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// `stem` with `.ext` appended (unlike `Path::with_extension`, keeps dots inside the stem).
pub fn with_extension(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_os_string();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Encodes 8-bit RGB `pixels` (row-major, `3·w·h` bytes) as a PNG file.
pub fn encode_png(w: u32, h: u32, pixels: &[u8]) -> std::io::Result<Vec<u8>> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let row = w as usize * 3;
    if pixels.len() != row * h as usize {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "pixel buffer size does not match the image size",
        ));
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    // 8 bits per channel, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let mut filtered = vec![0u8; row + 1];
    for r in pixels.chunks_exact(row) {
        // Filter type 1 ("Sub"): each byte minus the byte 3 to its left; compresses the large
        // flat areas of a chart well.
        filtered[0] = 1;
        for i in 0..row {
            let left = if i >= 3 { r[i - 3] } else { 0 };
            filtered[i + 1] = r[i].wrapping_sub(left);
        }
        z.write_all(&filtered)?;
    }
    chunk(&mut out, b"IDAT", &z.finish()?);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Figure {
        let series = |label: &str, color, dashed| Series {
            scatter: false,
            label: label.into(),
            points: vec![
                Point {
                    x: 1.0,
                    y: 0.5,
                    err: Some(0.05),
                },
                Point {
                    x: 10.0,
                    y: 0.8,
                    err: None,
                },
                Point {
                    x: 100.0,
                    y: 0.7,
                    err: Some(0.1),
                },
            ],
            color,
            dashed,
        };
        Figure {
            charts: vec![Chart {
                title: "accuracy vs slope".into(),
                x_label: "slope".into(),
                y_label: "test accuracy (%)".into(),
                x_scale: XScale::Log,
                x_ticks: Some(vec![1.0, 10.0, 100.0]),
                legend_title: Some("surrogate".into()),
                series: vec![series("atan α", 0, false), series("sigmoid", 1, true)],
            }],
            panel_size: (400, 300),
        }
    }

    #[test]
    fn the_embedded_font_loads_and_measures() {
        assert!(text_width("accuracy", 12.0) > 30.0);
        assert!(text_width("αβθ±", 12.0) > 10.0);
    }

    #[test]
    fn svg_and_png_are_written() {
        let fig = sample();
        let svg = fig.to_svg().expect("svg");
        assert!(svg.starts_with("<svg") && svg.contains("accuracy vs slope"));
        let png = fig.to_png().expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: the size.
        assert_eq!(&png[16..24], &[0, 0, 1, 144, 0, 0, 1, 44]);
        assert!(png.len() > 2000);
    }

    #[test]
    fn tick_helpers() {
        let ticks: Vec<String> = nice_ticks(0.0, 1.0, 5)
            .into_iter()
            .map(format_number)
            .collect();
        assert_eq!(ticks, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        assert_eq!(format_number(25.0), "25");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(5e-4), "5e-4");
        assert_eq!(format_number(0.001), "0.001");
        assert_eq!(format_number(2.5e-4), "2.5e-4");
        assert_eq!(format_number(1e-5), "1e-5");
    }
}
