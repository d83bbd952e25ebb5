//! Figures for papers, as SVG or PNG (plotters): a title, rows of panels
//! (one row per environment, so environments never share an axis), one
//! legend to the right of the panels, and notes under them. The canvas is
//! laid out from what it holds: legend entries wrap at a fixed width and
//! the legend takes the room its entries measure (with the embedded
//! DejaVu Sans, see [`register_fonts`]), so nothing is cut off. What goes
//! in a figure is decided in [`plot`](super::plot); this module only draws.
//! Pure: the figure comes back as bytes, the caller writes them.

use super::scale::{format_tick, linear_ticks, log_ticks, symlog, symlog_ticks};
use crate::error::{Error, Result};
use crate::text::xml_text;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

/// The return panel: the discounted return, what Q estimates.
pub const LEFT_CAPTION: &str = "true discounted return J(π), what Q estimates";
/// The estimate panel.
pub const RIGHT_CAPTION: &str = "Q estimate q_est of J(π)";

/// Ends the label of a curve of diverged runs: the curve stops at their
/// last finite eval point, which is marked `×`.
pub const DIVERGED: &str = " (diverged)";

/// The file formats a figure is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// PNG for a `.png` path (any case), SVG otherwise.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("png") => Format::Png,
            _ => Format::Svg,
        }
    }
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    /// log10; every value on it is positive.
    Log,
    /// sign(v)·log10(1 + |v|/c): linear within ±c, logarithmic beyond.
    Symlog(f64),
}

/// An axis: its name and scale (its range comes from the data).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub desc: String,
    pub scale: Scale,
}

/// A legend entry; its position in [`Figure::legend`] is its colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub label: String,
    /// Drawn dashed: a reference (a flat line), not a curve.
    pub dashed: bool,
}

/// One point of a curve: the mean `y` and its band `lo..=hi` (both `y`
/// when there is no band).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub lo: f64,
    pub hi: f64,
}

/// One curve of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Index into [`Figure::legend`].
    pub entry: usize,
    pub points: Vec<Point>,
    /// Each seed's own line, drawn thin (`--seeds`), or none.
    pub seeds: Vec<Vec<(f64, f64)>>,
    /// Ends in `×`: its runs diverged after the last point.
    pub cross: bool,
}

/// Curves over a shared x and y.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
}

/// A value per cell of a grid (row-major), coloured on a diverging scale
/// centred at 0, with a mark (a map letter, an arrow) in each cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
    pub marks: Vec<String>,
    /// Cells shown without a value (grey, hatched).
    pub hatched: Vec<bool>,
    /// What the colour bar measures.
    pub scale: String,
}

/// Values over two continuous components (a slice of a continuous run's
/// landscape): cells on axes that name the components and span their
/// ranges, cells without data hatched over their colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub x: Extent,
    pub y: Extent,
    pub cols: usize,
    pub rows: usize,
    /// Row-major, row 0 at the low end of y.
    pub values: Vec<f64>,
    pub hatched: Vec<bool>,
    pub colours: Colours,
    /// What the colour bar measures.
    pub scale: String,
}

/// An axis of a [`Field`]: a component's name and range.
#[derive(Debug, Clone, PartialEq)]
pub struct Extent {
    pub name: String,
    pub low: f64,
    pub high: f64,
}

impl Extent {
    /// The axis' name with its range: `position (-1.2 … 0.6)`.
    fn describe(&self) -> String {
        format!(
            "{} ({} … {})",
            self.name,
            format_tick(self.low),
            format_tick(self.high)
        )
    }
}

/// How a [`Field`]'s values are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colours {
    /// Lowest to highest finite value on a symmetric-log scale: a
    /// diverged Q reaches 1e229 beside values near −70.
    Symlog,
    /// Counts on a log scale from 1 to the largest; 0 left white.
    Counts,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Lines(Lines),
    Grid(Grid),
    Field(Field),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub caption: String,
    pub content: Content,
}

/// Panels side by side, under an optional title (the environment).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub title: String,
    pub panels: Vec<Panel>,
}

/// A whole figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub title: String,
    /// Under the title: what the lines and bands are.
    pub subtitle: String,
    pub rows: Vec<Row>,
    pub legend: Vec<Entry>,
    /// Under the panels, one paragraph each (what has no curve).
    pub notes: Vec<String>,
}

/// The family every text is drawn in; registered by [`register_fonts`].
const FONT: &str = "sans-serif";
const TITLE: f64 = 26.0;
const SUBTITLE: f64 = 18.0;
const ROW_TITLE: f64 = 20.0;
const CAPTION: f64 = 18.0;
const TICKS: f64 = 17.0;
const LEGEND: f64 = 18.0;
const NOTE: f64 = 17.0;
/// Around the canvas and between its parts.
const MARGIN: u32 = 16;
/// A curve panel's size by default, and the smallest one `--size` may give.
const PANEL: (u32, u32) = (520, 400);
const MIN_PANEL: (u32, u32) = (220, 160);
/// A grid cell's side by default, and a grid panel's least width.
const CELL: u32 = 64;
/// A field cell's side by default (a landscape is 24 cells a side), and
/// the room its axes' labels take beside and under the cells.
const FIELD_CELL: u32 = 16;
const FIELD_AXES: u32 = 110;
/// Under a grid or field: its colour bar and the bar's labels.
const BAR: u32 = 90;
/// Legend text wraps at this width; the swatch takes this much before it.
const LEGEND_WRAP: u32 = 320;
const SWATCH: u32 = 34;
/// The largest canvas: a PNG of it is 150 MB before encoding.
pub const MAX_PIXELS: u64 = 50_000_000;
pub const MAX_SIDE: u32 = 16_384;

/// Registers the embedded DejaVu Sans (`assets/fonts`, Bitstream Vera
/// licence) as the `sans-serif` that plotters measures and draws text
/// with: PNGs look the same on every machine, whatever fonts it has, and
/// the legend of an SVG is sized by the same metrics (viewers draw SVG
/// text in their own sans-serif, of similar width).
pub fn register_fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let bytes = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            unreachable!("the embedded font parses");
        }
    });
}

fn font(size: f64) -> FontDesc<'static> {
    register_fonts();
    (FONT, size).into_font()
}

/// The width of `text` in pixels at `size`.
fn width(text: &str, size: f64) -> u32 {
    font(size).box_size(text).map_or(0, |(w, _)| w)
}

fn line_height(size: f64) -> u32 {
    (size * 1.35).ceil() as u32
}

/// `text` (made XML-safe) broken into lines of at most `max` pixels at
/// `size`: between words, and inside a word longer than a line.
fn wrap(text: &str, max: u32, size: f64) -> Vec<String> {
    let text = xml_text(text).replace(['\n', '\r', '\t'], " ");
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let joined = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(&joined, size) <= max {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if width(&line, size) > max && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Ten Tableau colours, then the same darker: 20 before one repeats.
fn colour(k: usize) -> RGBColor {
    const TAB10: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    let RGBColor(r, g, b) = TAB10[k % 10];
    if (k / 10).is_multiple_of(2) {
        RGBColor(r, g, b)
    } else {
        RGBColor(r / 2, g / 2, b / 2)
    }
}

/// An axis with its range, for plotters.
#[derive(Debug, Clone)]
struct Ranging {
    lo: f64,
    hi: f64,
    scale: Scale,
}

impl Ranging {
    fn t(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => v,
            Scale::Log => v.max(f64::MIN_POSITIVE).log10(),
            Scale::Symlog(c) => symlog(v / c),
        }
    }

    /// The range of `values` on `scale`, padded by 5% of its length on the
    /// scale (y), or exactly (x: the data's first and last point).
    fn fit(values: impl Iterator<Item = f64>, scale: Scale, pad: bool) -> Ranging {
        let (lo, hi) = values
            .filter(|v| v.is_finite() && (scale != Scale::Log || *v > 0.0))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let (mut lo, mut hi) = match (lo.is_finite(), scale) {
            (false, Scale::Log) => (1.0, 10.0),
            (false, _) => (0.0, 1.0),
            (true, _) => (lo, hi),
        };
        if hi <= lo {
            // One value: a unit around it (a decade on a log axis).
            (lo, hi) = match scale {
                Scale::Log => (lo / 3.0, hi * 3.0),
                _ => (lo - lo.abs().max(1.0) * 0.5, hi + hi.abs().max(1.0) * 0.5),
            };
        }
        let mut r = Ranging { lo, hi, scale };
        if pad {
            let gap = 0.05 * (r.t(hi) - r.t(lo));
            let back = |t: f64| match scale {
                Scale::Linear => t,
                Scale::Log => 10f64.powf(t),
                Scale::Symlog(c) => c * super::scale::symexp(t),
            };
            // Up to f64::MAX: a mean of 1e308 plus 5% is ∞.
            r.lo = back(r.t(lo) - gap).clamp(f64::MIN, f64::MAX);
            r.hi = back(r.t(hi) + gap).clamp(f64::MIN, f64::MAX);
        }
        r
    }

    fn ticks(&self, most: usize) -> Vec<f64> {
        let most = most.clamp(2, 8);
        let candidates = match self.scale {
            Scale::Linear => return linear_ticks(self.lo, self.hi, most),
            // Within ±2c the scale is nearly linear: linear ticks read better.
            Scale::Symlog(c) if self.lo.abs().max(self.hi.abs()) <= 2.0 * c => {
                return linear_ticks(self.lo, self.hi, most);
            }
            Scale::Log => log_ticks(self.lo, self.hi, most),
            Scale::Symlog(c) => {
                let ticks: Vec<f64> = symlog_ticks(self.lo / c, self.hi / c, most)
                    .into_iter()
                    .map(|t| t * c)
                    .collect();
                // A narrow axis away from 0 (returns from −87 to −68) holds
                // no 1-2-5 multiple of a decade; it is nearly linear there.
                if ticks.len() < 2 {
                    return linear_ticks(self.lo, self.hi, most);
                }
                ticks
            }
        };
        // At least 1/14 of the axis apart, so labels never overlap; 0
        // first, as the tick that matters most.
        let gap = (self.t(self.hi) - self.t(self.lo)) / 14.0;
        let mut kept: Vec<f64> = candidates.iter().copied().filter(|t| *t == 0.0).collect();
        for t in candidates {
            if kept.iter().all(|&k| (self.t(t) - self.t(k)).abs() >= gap) {
                kept.push(t);
            }
        }
        kept.sort_by(f64::total_cmp);
        kept
    }
}

impl Ranged for Ranging {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (a, b) = (self.t(self.lo), self.t(self.hi));
        let t = (self.t(*value) - a) / (b - a).max(1e-300);
        limit.0 + (t.clamp(-1.0, 2.0) * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        self.ticks(hint.max_num_points())
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Ranging {
    fn format(value: &f64) -> String {
        format_tick(*value)
    }
}

/// Where everything goes, in pixels.
struct Plan {
    size: (u32, u32),
    title: Vec<String>,
    subtitle: Vec<String>,
    /// Per row: its title's lines, its top, its panels' height and widths.
    rows: Vec<(Vec<String>, u32, u32, Vec<u32>)>,
    /// The legend: its left, top, column width and rows per column, and
    /// each entry's lines.
    legend: (u32, u32, u32, usize),
    entries: Vec<Vec<String>>,
    notes_top: u32,
    notes: Vec<String>,
}

/// A panel's size by default.
fn natural_width(panel: &Panel) -> u32 {
    match &panel.content {
        Content::Lines(_) => PANEL.0,
        Content::Grid(g) => (g.cols as u32 * CELL + 2 * MARGIN).max(PANEL.0),
        Content::Field(f) => f.cols as u32 * FIELD_CELL + FIELD_AXES + 2 * MARGIN,
    }
}

fn natural_height(row: &Row) -> u32 {
    row.panels
        .iter()
        .map(|p| match &p.content {
            Content::Lines(_) => PANEL.1,
            // Caption, cells, then the colour bar and its labels.
            Content::Grid(g) => g.rows as u32 * CELL + 130,
            // Caption, cells, the x axis, then the colour bar.
            Content::Field(f) => f.rows as u32 * FIELD_CELL + FIELD_AXES + BAR,
        })
        .max()
        .unwrap_or(PANEL.1)
}

fn block_height(lines: &[String], size: f64) -> u32 {
    lines.len() as u32 * line_height(size)
}

/// Lays `figure` out on a canvas of `size`, or on one sized from its
/// contents; too small a canvas for the panels is an error naming the
/// size the figure takes by itself.
fn plan(figure: &Figure, size: Option<(u32, u32)>) -> Result<Plan> {
    let entries: Vec<Vec<String>> = figure
        .legend
        .iter()
        .map(|e| wrap(&e.label, LEGEND_WRAP, LEGEND))
        .collect();
    let entry_height = |lines: &Vec<String>| block_height(lines, LEGEND) + 6;
    let column_width = entries
        .iter()
        .flatten()
        .map(|l| width(l, LEGEND))
        .max()
        .map_or(0, |w| SWATCH + w + MARGIN);
    let legend_height: u32 = entries.iter().map(entry_height).sum();
    let body_width = |rows: &[Row]| {
        rows.iter()
            .map(|r| r.panels.iter().map(natural_width).sum::<u32>())
            .max()
            .unwrap_or(PANEL.0)
    };
    let natural_body = body_width(&figure.rows);
    let (canvas_width, fixed) = match size {
        Some((w, _)) => (w, true),
        None => (
            2 * MARGIN + natural_body + column_width + if column_width > 0 { MARGIN } else { 0 },
            false,
        ),
    };
    let text_width = canvas_width.saturating_sub(2 * MARGIN).max(100);
    let title = wrap(&figure.title, text_width, TITLE);
    let subtitle = if figure.subtitle.is_empty() {
        vec![]
    } else {
        wrap(&figure.subtitle, text_width, SUBTITLE)
    };
    let notes: Vec<String> = figure
        .notes
        .iter()
        .flat_map(|n| wrap(n, text_width, NOTE))
        .collect();
    let header = MARGIN + block_height(&title, TITLE) + block_height(&subtitle, SUBTITLE) + 8;
    let notes_height = block_height(&notes, NOTE);
    let row_titles: Vec<Vec<String>> = figure
        .rows
        .iter()
        .map(|r| {
            if r.title.is_empty() {
                vec![]
            } else {
                wrap(&r.title, text_width, ROW_TITLE)
            }
        })
        .collect();
    let titles_height: u32 = row_titles.iter().map(|t| block_height(t, ROW_TITLE)).sum();
    let natural_rows: Vec<u32> = figure.rows.iter().map(natural_height).collect();
    let natural_height_sum: u32 = natural_rows.iter().sum();
    let (canvas_height, body_height) = match size {
        Some((_, h)) => (
            h,
            h.saturating_sub(header + 4 + notes_height + MARGIN + titles_height),
        ),
        // Unfixed, the height follows from the layout below.
        None => (0, natural_height_sum),
    };
    // The legend fills columns as tall as the body allows.
    let room = if fixed {
        body_height + titles_height
    } else {
        (natural_height_sum + titles_height).max(legend_height)
    };
    let mut per_column = entries.len().max(1);
    if fixed {
        while per_column > 1
            && entries
                .chunks(per_column)
                .any(|c| c.iter().map(entry_height).sum::<u32>() > room)
        {
            per_column -= 1;
        }
    }
    let columns = entries.len().div_ceil(per_column) as u32;
    let legend_width = if column_width > 0 {
        columns * column_width + MARGIN
    } else {
        0
    };
    let body = canvas_width.saturating_sub(2 * MARGIN + legend_width);
    let too_small = || {
        let natural = plan(figure, None).map_or_else(
            |_| String::new(),
            |p| format!(" (this figure takes {}x{} by itself)", p.size.0, p.size.1),
        );
        Error::Invalid(format!(
            "--size {canvas_width}x{canvas_height} is too small for {} row(s) of panels and a \
             legend of {} entries{natural}",
            figure.rows.len(),
            figure.legend.len(),
        ))
    };
    let tallest_entry = entries.iter().map(entry_height).max().unwrap_or(0);
    if tallest_entry > room {
        return Err(too_small());
    }
    let mut rows = Vec::with_capacity(figure.rows.len());
    let mut top = header;
    for ((row, titles), natural_h) in figure.rows.iter().zip(row_titles).zip(&natural_rows) {
        let height = (u64::from(*natural_h) * u64::from(body_height)
            / u64::from(natural_height_sum.max(1))) as u32;
        let naturals: Vec<u32> = row.panels.iter().map(natural_width).collect();
        let scale = f64::from(body) / f64::from(natural_body.max(1));
        let widths: Vec<u32> = naturals
            .iter()
            .map(|w| (f64::from(*w) * scale).floor() as u32)
            .collect();
        if height < MIN_PANEL.1 || widths.iter().any(|w| *w < MIN_PANEL.0) {
            return Err(too_small());
        }
        let title_height = block_height(&titles, ROW_TITLE);
        rows.push((titles, top + title_height, height, widths));
        top += title_height + height;
    }
    let notes_top = header + room.max(top - header) + 4;
    let size = (
        canvas_width,
        if fixed {
            canvas_height
        } else {
            notes_top + notes_height + MARGIN
        },
    );
    if size.0 > MAX_SIDE || size.1 > MAX_SIDE || u64::from(size.0) * u64::from(size.1) > MAX_PIXELS
    {
        return Err(Error::Invalid(format!(
            "the figure would be {}x{} pixels, past the limit of {MAX_SIDE} a side and \
             {MAX_PIXELS} in all: select fewer runs (--env, --algo, --dataset)",
            size.0, size.1
        )));
    }
    Ok(Plan {
        size,
        title,
        subtitle,
        rows,
        legend: (MARGIN + body + MARGIN / 2, header, column_width, per_column),
        entries,
        notes_top,
        notes,
    })
}

/// The size `figure` takes by itself, or `size`, after checking it fits.
pub fn canvas_size(figure: &Figure, size: Option<(u32, u32)>) -> Result<(u32, u32)> {
    Ok(plan(figure, size)?.size)
}

/// `figure` as the bytes of an SVG document or a PNG image, on a canvas
/// of `size` (default: sized from its contents).
pub fn render(figure: &Figure, format: Format, size: Option<(u32, u32)>) -> Result<Vec<u8>> {
    register_fonts();
    let plan = plan(figure, size)?;
    let failed = |e: &dyn std::fmt::Display| Error::Invalid(format!("cannot draw the figure: {e}"));
    match format {
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, plan.size).into_drawing_area();
                draw(&root, figure, &plan).map_err(|e| failed(&e))?;
                root.present().map_err(|e| failed(&e))?;
            }
            Ok(text.into_bytes())
        }
        Format::Png => {
            let (w, h) = plan.size;
            let mut pixels = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, plan.size).into_drawing_area();
                draw(&root, figure, &plan).map_err(|e| failed(&e))?;
                root.present().map_err(|e| failed(&e))?;
            }
            let mut bytes = Vec::new();
            let mut encoder = png::Encoder::new(&mut bytes, w, h);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(|e| failed(&e))?;
            writer.write_image_data(&pixels).map_err(|e| failed(&e))?;
            writer.finish().map_err(|e| failed(&e))?;
            Ok(bytes)
        }
    }
}

type Drawn<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn text_style(size: f64) -> TextStyle<'static> {
    font(size).color(&BLACK)
}

/// Lines of text from (x, y) down.
fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[String],
    size: f64,
    (x, y): (u32, u32),
) -> Drawn<DB> {
    let style = text_style(size);
    for (k, line) in lines.iter().enumerate() {
        let top = y + k as u32 * line_height(size);
        area.draw_text(line, &style, (x as i32, top as i32))?;
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
    plan: &Plan,
) -> Drawn<DB> {
    root.fill(&WHITE)?;
    draw_lines(root, &plan.title, TITLE, (MARGIN, MARGIN))?;
    let below_title = MARGIN + block_height(&plan.title, TITLE);
    draw_lines(root, &plan.subtitle, SUBTITLE, (MARGIN, below_title))?;
    for ((titles, top, height, widths), row) in plan.rows.iter().zip(&figure.rows) {
        let title_height = block_height(titles, ROW_TITLE);
        draw_lines(root, titles, ROW_TITLE, (MARGIN, top - title_height))?;
        let mut left = MARGIN;
        for (panel, w) in row.panels.iter().zip(widths) {
            let area = root.clone().shrink((left, *top), (*w, *height));
            match &panel.content {
                Content::Lines(lines) => {
                    draw_lines_panel(&area, &panel.caption, lines, &figure.legend)?;
                }
                Content::Grid(grid) => draw_grid(&area, &panel.caption, grid)?,
                Content::Field(field) => draw_field(&area, &panel.caption, field)?,
            }
            left += w;
        }
    }
    draw_legend(root, figure, plan)?;
    draw_lines(root, &plan.notes, NOTE, (MARGIN, plan.notes_top))
}

fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
    plan: &Plan,
) -> Drawn<DB> {
    let (left, top, column_width, per_column) = plan.legend;
    for (column, chunk) in plan.entries.chunks(per_column).enumerate() {
        let x = left + column as u32 * column_width;
        let mut y = top;
        for (k, lines) in chunk.iter().enumerate() {
            let index = column * per_column + k;
            let c = colour(index);
            let mid = (y + line_height(LEGEND) / 2) as i32;
            let (x0, x1) = (x as i32 + 2, (x + SWATCH) as i32 - 8);
            let style = c.stroke_width(3);
            if figure.legend[index].dashed {
                for start in (x0..x1).step_by(9) {
                    root.draw(&PathElement::new(
                        vec![(start, mid), ((start + 5).min(x1), mid)],
                        style,
                    ))?;
                }
            } else {
                root.draw(&PathElement::new(vec![(x0, mid), (x1, mid)], style))?;
            }
            draw_lines(root, lines, LEGEND, (x + SWATCH, y))?;
            y += block_height(lines, LEGEND) + 6;
        }
    }
    Ok(())
}

fn draw_lines_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    lines: &Lines,
    legend: &[Entry],
) -> Drawn<DB> {
    let points = || lines.series.iter().flat_map(|s| &s.points);
    let seeds = || lines.series.iter().flat_map(|s| s.seeds.iter().flatten());
    let x = Ranging::fit(
        points().map(|p| p.x).chain(seeds().map(|p| p.0)),
        lines.x.scale,
        false,
    );
    let y = Ranging::fit(
        points()
            .flat_map(|p| [p.lo, p.hi, p.y])
            .chain(seeds().map(|p| p.1)),
        lines.y.scale,
        true,
    );
    // Room for the widest tick label and the axis name beside them.
    let y_labels = y
        .ticks(8)
        .iter()
        .map(|t| width(&format_tick(*t), TICKS))
        .max()
        .unwrap_or(0)
        + line_height(TICKS)
        + 14;
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(10)
        .x_label_area_size(line_height(TICKS) * 2 + 12)
        .y_label_area_size(y_labels);
    if !caption.is_empty() {
        builder.caption(xml_text(caption), font(CAPTION));
    }
    let mut chart = builder.build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(xml_text(&lines.x.desc))
        .y_desc(xml_text(&lines.y.desc))
        .label_style(font(TICKS))
        .axis_desc_style(font(TICKS + 1.0))
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.08))
        .draw()?;
    for s in &lines.series {
        let c = colour(s.entry);
        if s.points.iter().any(|p| p.lo != p.y || p.hi != p.y) {
            let outline: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (p.x, p.hi))
                .chain(s.points.iter().rev().map(|p| (p.x, p.lo)))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(outline, c.mix(0.18).filled())))?;
        }
        for seed in &s.seeds {
            chart.draw_series(LineSeries::new(
                seed.iter().copied(),
                c.mix(0.6).stroke_width(1),
            ))?;
        }
        let mean = s.points.iter().map(|p| (p.x, p.y));
        if legend.get(s.entry).is_some_and(|e| e.dashed) {
            chart.draw_series(DashedLineSeries::new(mean, 8, 5, c.stroke_width(2)))?;
        } else {
            chart.draw_series(LineSeries::new(mean, c.stroke_width(2)))?;
        }
        if let [only] = s.points.as_slice() {
            chart.draw_series(std::iter::once(Circle::new(
                (only.x, only.y),
                4,
                c.filled(),
            )))?;
        }
        // Where diverged runs stop: their last finite point.
        if let Some(end) = s.points.last().filter(|_| s.cross) {
            chart.draw_series(std::iter::once(Cross::new(
                (end.x, end.y),
                6,
                c.stroke_width(3),
            )))?;
        }
    }
    Ok(())
}

/// A diverging colour for t in [−1, 1]: blue below 0, white at 0, red above.
fn diverging(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (end, s) = if t < 0.0 {
        ((33.0, 102.0, 172.0), -t)
    } else {
        ((178.0, 24.0, 43.0), t)
    };
    let mix = |e: f64| (255.0 + (e - 255.0) * s).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

fn draw_grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    grid: &Grid,
) -> Drawn<DB> {
    let (w, h) = area.dim_in_pixel();
    let caption_height = line_height(CAPTION) + 8;
    area.draw_text(
        &xml_text(caption),
        &text_style(CAPTION).pos(Pos::new(HPos::Center, VPos::Top)),
        (w as i32 / 2, 4),
    )?;
    let bar = 90;
    let cell = ((w.saturating_sub(2 * MARGIN)) / grid.cols.max(1) as u32)
        .min(h.saturating_sub(caption_height + bar) / grid.rows.max(1) as u32)
        .max(2);
    let left = (w - cell * grid.cols as u32) / 2;
    let top = caption_height;
    let reach = grid
        .values
        .iter()
        .zip(&grid.hatched)
        .filter(|(v, hatched)| v.is_finite() && !**hatched)
        .fold(0.0f64, |m, (v, _)| m.max(v.abs()));
    let reach = if reach > 0.0 { reach } else { 1.0 };
    let labelled = cell >= 34;
    for r in 0..grid.rows {
        for c in 0..grid.cols {
            let s = r * grid.cols + c;
            let (x0, y0) = (
                (left + c as u32 * cell) as i32,
                (top + r as u32 * cell) as i32,
            );
            let (x1, y1) = (x0 + cell as i32, y0 + cell as i32);
            let value = grid.values.get(s).copied().unwrap_or(f64::NAN);
            let hatched = grid.hatched.get(s).copied().unwrap_or(false);
            let fill = if hatched {
                RGBColor(215, 215, 215)
            } else {
                diverging(value / reach)
            };
            area.draw(&Rectangle::new([(x0, y0), (x1, y1)], fill.filled()))?;
            area.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(1)))?;
            if hatched {
                for k in (0..cell as i32).step_by(8) {
                    let style = RGBColor(160, 160, 160).stroke_width(1);
                    area.draw(&PathElement::new(vec![(x0 + k, y1), (x1, y0 + k)], style))?;
                    area.draw(&PathElement::new(vec![(x0, y1 - k), (x1 - k, y0)], style))?;
                }
            }
            if labelled {
                let ink = if !hatched && (value / reach).abs() > 0.6 {
                    WHITE
                } else {
                    BLACK
                };
                let centred = |size| {
                    font(size)
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center))
                };
                let mark = grid.marks.get(s).map_or("", String::as_str);
                let cx = x0 + cell as i32 / 2;
                if hatched || !value.is_finite() {
                    area.draw_text(&xml_text(mark), &centred(16.0), (cx, y0 + cell as i32 / 2))?;
                } else {
                    area.draw_text(&xml_text(mark), &centred(16.0), (cx, y0 + cell as i32 / 3))?;
                    let number = format_tick((value * 100.0).round() / 100.0);
                    area.draw_text(&number, &centred(13.0), (cx, y0 + 2 * cell as i32 / 3))?;
                }
            }
        }
    }
    // The colour bar: −reach … 0 … +reach.
    let bar_top = (top + grid.rows as u32 * cell + 14) as i32;
    let labels = [(0.0, -reach), (0.5, 0.0), (1.0, reach)].map(|(t, v)| (t, format_tick(v)));
    draw_colour_bar(area, bar_top, (&diverging, -1.0, 2.0), &labels, &grid.scale)
}

/// A colour bar from `top` down, centred in `area`: 48 swatches of
/// `colour(t)`, t from `start` over `length`; `labels` under it at their
/// fraction of its width, and what it measures under them.
fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    top: i32,
    (colour, start, length): (&dyn Fn(f64) -> RGBColor, f64, f64),
    labels: &[(f64, String)],
    scale: &str,
) -> Drawn<DB> {
    let (w, _) = area.dim_in_pixel();
    let bar_width = (w.saturating_sub(2 * MARGIN)).min(360) as i32;
    let bar_left = (w as i32 - bar_width) / 2;
    let steps = 48;
    for k in 0..steps {
        let t = start + length * (f64::from(k) + 0.5) / f64::from(steps);
        let x0 = bar_left + k * bar_width / steps;
        let x1 = bar_left + (k + 1) * bar_width / steps;
        area.draw(&Rectangle::new(
            [(x0, top), (x1, top + 12)],
            colour(t).filled(),
        ))?;
    }
    let style = font(TICKS)
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (t, label) in labels {
        let x = bar_left + (t * f64::from(bar_width)) as i32;
        area.draw_text(label, &style, (x, top + 16))?;
    }
    area.draw_text(
        &xml_text(scale),
        &style,
        (w as i32 / 2, top + 18 + line_height(TICKS) as i32),
    )
}

/// A sequential colour for t in [0, 1] (viridis' ends and middle): dark
/// blue-violet, teal, yellow; readable in grey and by the colour-blind.
fn sequential(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 3] = [
        (68.0, 1.0, 84.0),
        (33.0, 145.0, 140.0),
        (253.0, 231.0, 37.0),
    ];
    // ±∞ (a diverged Q) at the ends; NaN has no colour and is not drawn.
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let (a, b, s) = if t < 0.5 {
        (STOPS[0], STOPS[1], 2.0 * t)
    } else {
        (STOPS[1], STOPS[2], 2.0 * t - 1.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * s).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A count's colour for t in [0, 1] (its log over the largest's): pale
/// to dark blue.
fn counts(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let mix = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    RGBColor(mix(222.0, 8.0), mix(235.0, 48.0), mix(247.0, 107.0))
}

/// A field's colour of each value, and its colour bar's swatches and labels.
struct Palette {
    colour: Box<dyn Fn(f64) -> Option<RGBColor>>,
    swatch: &'static dyn Fn(f64) -> RGBColor,
    labels: Vec<(f64, String)>,
}

impl Palette {
    fn of(field: &Field) -> Palette {
        let finite = || field.values.iter().copied().filter(|v| v.is_finite());
        match field.colours {
            Colours::Symlog => {
                let lo = finite().fold(f64::INFINITY, f64::min);
                let hi = finite().fold(f64::NEG_INFINITY, f64::max);
                let (a, b) = (symlog(lo), symlog(hi));
                // One value (or none): the middle of the scale.
                let t = move |v: f64| {
                    if b > a {
                        (symlog(v) - a) / (b - a)
                    } else {
                        0.5
                    }
                };
                let labels = if lo.is_finite() {
                    let middle = super::scale::symexp(f64::midpoint(a, b));
                    [(0.0, lo), (0.5, middle), (1.0, hi)]
                        .map(|(t, v)| (t, format_tick(round_tick(v))))
                        .to_vec()
                } else {
                    Vec::new()
                };
                Palette {
                    // NaN: no colour (a Q that is not a number).
                    colour: Box::new(move |v| (!v.is_nan()).then(|| sequential(t(v)))),
                    swatch: &sequential,
                    labels,
                }
            }
            Colours::Counts => {
                let top = finite().fold(0.0, f64::max);
                let t = move |v: f64| if top > 1.0 { v.ln() / top.ln() } else { 1.0 };
                let labels = vec![(0.0, "1".to_string()), (1.0, format_tick(top.max(1.0)))];
                Palette {
                    colour: Box::new(move |v| (v > 0.0).then(|| counts(t(v)))),
                    swatch: &counts,
                    labels,
                }
            }
        }
    }
}

/// Three significant digits, for a colour bar's label.
fn round_tick(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(2 - v.abs().log10().floor() as i32);
    if scale.is_finite() && scale > 0.0 {
        (v * scale).round() / scale
    } else {
        v
    }
}

fn draw_field<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    field: &Field,
) -> Drawn<DB> {
    let (_, h) = area.dim_in_pixel();
    let (cells_area, bar_area) = area.split_vertically(h.saturating_sub(BAR));
    let axis = |e: &Extent| Ranging {
        lo: e.low,
        hi: e.high,
        scale: Scale::Linear,
    };
    let mut builder = ChartBuilder::on(&cells_area);
    builder
        .margin(10)
        .x_label_area_size(line_height(TICKS) * 2 + 12)
        .y_label_area_size(FIELD_AXES - line_height(TICKS) * 2 - 12);
    if !caption.is_empty() {
        builder.caption(xml_text(caption), font(CAPTION));
    }
    let mut chart = builder.build_cartesian_2d(axis(&field.x), axis(&field.y))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .x_desc(xml_text(&field.x.describe()))
        .y_desc(xml_text(&field.y.describe()))
        .label_style(font(TICKS))
        .axis_desc_style(font(TICKS + 1.0))
        .draw()?;
    let palette = Palette::of(field);
    let (cols, rows) = (field.cols.max(1), field.rows.max(1));
    // The k-th of n edges along an extent: neighbours share theirs
    // exactly, so no gap of a pixel opens between cells.
    let edge = |e: &Extent, k: usize, n: usize| e.low + (e.high - e.low) * k as f64 / n as f64;
    // Corners of cell i: low, high.
    let corners = |i: usize| {
        let (c, r) = (i % cols, i / cols);
        (
            (edge(&field.x, c, cols), edge(&field.y, r, rows)),
            (edge(&field.x, c + 1, cols), edge(&field.y, r + 1, rows)),
        )
    };
    let cells = rows * cols;
    chart.draw_series((0..cells).map(|i| {
        let fill = field
            .values
            .get(i)
            .and_then(|&v| (palette.colour)(v))
            .unwrap_or(WHITE);
        let (low, high) = corners(i);
        Rectangle::new([low, high], fill.filled())
    }))?;
    // Hatched: a diagonal across each cell without data, so that regions
    // without data read as hatched over whatever colour they hold.
    let ink = BLACK.mix(0.45).stroke_width(1);
    chart.draw_series(
        (0..cells)
            .filter(|&i| field.hatched.get(i).copied().unwrap_or(false))
            .map(|i| {
                let (low, high) = corners(i);
                PathElement::new(vec![low, high], ink)
            }),
    )?;
    let bar = (palette.swatch, 0.0, 1.0);
    draw_colour_bar(&bar_area, 8, bar, &palette.labels, &field.scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(entries: usize, label: &str) -> Figure {
        let series = (0..entries)
            .map(|k| Series {
                entry: k,
                points: (0..4)
                    .map(|i| Point {
                        x: f64::from(i) * 100.0,
                        y: k as f64 + f64::from(i),
                        lo: k as f64,
                        hi: k as f64 + 2.0 * f64::from(i),
                    })
                    .collect(),
                seeds: vec![],
                cross: k == 0,
            })
            .collect();
        Figure {
            title: "t".into(),
            subtitle: "s".into(),
            rows: vec![Row {
                title: "FrozenLake8x8-v1".into(),
                panels: vec![Panel {
                    caption: LEFT_CAPTION.into(),
                    content: Content::Lines(Lines {
                        x: Axis {
                            desc: "iteration".into(),
                            scale: Scale::Linear,
                        },
                        y: Axis {
                            desc: "J".into(),
                            scale: Scale::Symlog(1.0),
                        },
                        series,
                    }),
                }],
            }],
            legend: (0..entries)
                .map(|k| Entry {
                    label: format!("{label} {k}"),
                    dashed: k == 1,
                })
                .collect(),
            notes: vec!["a note".into()],
        }
    }

    fn svg(figure: &Figure, size: Option<(u32, u32)>) -> String {
        String::from_utf8(render(figure, Format::Svg, size).unwrap()).unwrap()
    }

    /// x runs from the first to the last point (300, not a round 500),
    /// ticked at round numbers inside; the legend is right of the panels.
    #[test]
    fn the_x_axis_ends_at_the_last_point_and_the_legend_is_outside() {
        let text = svg(&lines(3, "medium"), None);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let texts: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        assert!(
            texts.contains(&"300") && !texts.contains(&"400"),
            "{texts:?}"
        );
        let (w, _) = canvas_size(&lines(3, "medium"), None).unwrap();
        assert_eq!(
            w,
            2 * MARGIN + PANEL.0 + canvas_legend_width(&lines(3, "medium"))
        );
    }

    fn canvas_legend_width(figure: &Figure) -> u32 {
        let widest = figure
            .legend
            .iter()
            .map(|e| width(&e.label, LEGEND))
            .max()
            .unwrap();
        SWATCH + widest + 2 * MARGIN
    }

    /// A 200-character label wraps inside the legend's width; a canvas too
    /// small for the panels says how large the figure is by itself.
    #[test]
    fn long_labels_wrap_and_small_canvases_are_refused() {
        let long = "x".repeat(120) + " " + &"y".repeat(80);
        let wrapped = wrap(&long, LEGEND_WRAP, LEGEND);
        assert!(wrapped.len() >= 3, "{wrapped:?}");
        assert!(wrapped.iter().all(|l| width(l, LEGEND) <= LEGEND_WRAP));
        assert_eq!(wrapped.concat(), long.replace(' ', ""));
        let figure = lines(2, &long);
        let (w, h) = canvas_size(&figure, None).unwrap();
        assert!(
            w < 2 * MARGIN + PANEL.0 + LEGEND_WRAP + SWATCH + 2 * MARGIN + 1,
            "{w}"
        );
        assert!(h > 400, "{h}");
        let e = canvas_size(&figure, Some((300, 200)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("too small") && e.contains(&format!("{w}x{h}")),
            "{e}"
        );
    }

    /// A symlog axis narrower than a decade and away from 0 (MountainCar's
    /// discounted returns) still gets numbered ticks inside it.
    #[test]
    fn a_narrow_symlog_axis_away_from_zero_has_ticks() {
        for (lo, hi) in [(-87.0, -68.0), (68.0, 87.0), (-0.9, -0.7), (1.2e5, 1.5e5)] {
            let axis = Ranging {
                lo,
                hi,
                scale: Scale::Symlog(1.0),
            };
            let ticks = axis.ticks(6);
            assert!(
                ticks.len() >= 2 && ticks.iter().all(|t| (lo..=hi).contains(t)),
                "{lo}..{hi}: {ticks:?}"
            );
        }
    }

    /// Many entries on a short canvas go in several columns.
    #[test]
    fn a_long_legend_takes_columns_on_a_given_canvas() {
        let figure = lines(40, "algo");
        let plan = plan(&figure, Some((1600, 520))).unwrap();
        assert!(plan.legend.3 < 40, "{}", plan.legend.3);
        assert_eq!(plan.size, (1600, 520));
        let png = render(&figure, Format::Png, Some((1600, 520))).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1600);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 520);
    }
}
