//! The chart pane: the overestimation chart drawn from [`chart::prepare`]'s
//! curves (braille lines for q_est, dots for the true discounted return
//! J(π), what Q estimates), its cursor readout and legend; the
//! per-dataset-size view's two panels. Its keys move the cursor and set
//! the smoothing, axes, colours and view, and export the chart.

use crate::experiment::RunView;
use crate::present::plot::NOISE_BAND;
use crate::present::scores;
use crate::tui::app::{Action, App, sanitize};
use crate::tui::chart::{self, ChartData, ChartOptions, Curves, CutCache, Revisions};
use crate::tui::keys::{Binding, Command, Pane, bind};
use crate::tui::view::{PALETTE, colour, fmt, focused};
use crossterm::event::KeyCode;
use crossterm::event::KeyCode::Char as K;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use std::cell::RefCell;
use std::sync::Arc;

/// The overestimation chart: cursor, smoothing, axes, colours, export
/// (`↑↓` move the selected run, as in the runs table: the chart follows it).
#[rustfmt::skip]
pub const KEYS: &[Binding] = &[
    bind(&[KeyCode::Left, K('h')], "← h", Command::CursorLeft, "chart cursor: previous eval point", Some("←→ cursor"), "chart"),
    bind(&[KeyCode::Right, K('l')], "→ l", Command::CursorRight, "chart cursor: next eval point", None, "chart"),
    bind(&[K('[')], "[", Command::LessSmoothing, "less smoothing", None, "chart"),
    bind(&[K(']')], "]", Command::MoreSmoothing, "more smoothing (EMA; the raw curve faint behind)", Some("[] smooth"), "chart"),
    bind(&[K('y')], "y", Command::Scale, "y axis: symlog / linear", Some("y scale"), "chart"),
    bind(&[K('w')], "w", Command::XAxis, "x axis: iterations / wall time", None, "chart"),
    bind(&[K('c')], "c", Command::ColourBy, "colour by dataset / by algorithm", None, "chart"),
    bind(&[K('b')], "b", Command::PerSize, "per-dataset-size view of one algorithm (the BEAR figure)", Some("b per size"), "chart"),
    bind(&[K('m')], "m", Command::Mark, "mark / unmark the run for the chart", None, "chart"),
    bind(&[K('e')], "e", Command::Export, "export the chart as SVG next to the runs", Some("e export"), "chart"),
];

/// The chart's state: how it is drawn, and its curves from earlier frames.
#[derive(Debug, Clone, Default)]
pub struct ChartPane {
    pub options: ChartOptions,
    /// The decimated curves from earlier frames.
    pub cuts: CutCache,
    /// Per run, the revision of its history (the key of the cuts).
    pub revisions: Revisions,
    /// The selected spec's runs the chart draws, as last found.
    candidates: RefCell<Option<Candidates>>,
}

/// The runs of the selected run's spec the chart draws (indices into the
/// store's runs), and what they were found from: a spec of 10,000 runs has
/// its algorithm labels made once per change, not several times a frame.
#[derive(Debug, Clone)]
struct Candidates {
    /// The generation the selected run's spec's rows moved at, the spec,
    /// and its algorithm when only that one is drawn: the runs stay while
    /// the selection moves within them, and while other specs' rows move.
    key: (u64, u32, Option<String>),
    runs: Arc<[usize]>,
}

/// Most runs drawn at once when none are marked (a legend must stay readable).
pub const MAX_CHART_RUNS: usize = 16;

impl App {
    /// The runs the chart draws: the marked ones, else the visible runs of
    /// the selected run's spec and algorithm (of every algorithm when
    /// colouring by algorithm) — at most [`MAX_CHART_RUNS`] of them, so the
    /// legend stays readable, except in the per-dataset-size view, which
    /// averages them all.
    pub fn chart_runs(&self) -> Vec<&RunView> {
        self.chart_selection().0
    }

    /// [`App::chart_runs`], and how many runs it leaves out.
    pub fn chart_selection(&self) -> (Vec<&RunView>, usize) {
        let mut runs = self.chart_candidates();
        let all = runs.len();
        if !self.chart.options.per_size {
            runs.truncate(MAX_CHART_RUNS);
        }
        let hidden = all - runs.len();
        (runs, hidden)
    }

    fn chart_candidates(&self) -> Vec<&RunView> {
        if !self.marked().is_empty() {
            return self.marked_runs().collect();
        }
        let Some(selected) = self.runs.selected_index() else {
            return Vec::new();
        };
        // One algorithm, coloured by dataset (the BEAR figure), unless the
        // colours tell algorithms apart.
        let one_algo = self.chart.options.per_size || !self.chart.options.colour_by_algo;
        let store = self.store();
        let config = &store.runs[selected].config;
        let algo = one_algo.then(|| self.labels(config).algo(config));
        let spec = store.spec_of(selected);
        let key = (self.runs.selected_spec_generation(store), spec, algo);
        let mut kept = self.chart.candidates.borrow_mut();
        let runs = match &*kept {
            Some(c) if c.key == key => c.runs.clone(),
            _ => {
                let algo = &key.2;
                let runs: Arc<[usize]> = self
                    .runs
                    .selected_spec_rows(store)
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let config = &store.runs[i].config;
                        algo.as_ref()
                            .is_none_or(|a| *a == self.labels(config).algo(config))
                    })
                    .collect();
                *kept = Some(Candidates {
                    key,
                    runs: runs.clone(),
                });
                runs
            }
        };
        runs.iter().map(|&i| &*store.runs[i]).collect()
    }
}

/// Whether the chart's `command` does something now; if not, why.
pub fn availability(app: &App, command: Command) -> Result<(), String> {
    let smoothing = app.chart.options.smoothing;
    match command {
        Command::CursorLeft | Command::CursorRight | Command::Export
            if app.chart_runs().iter().all(|r| r.history.is_empty()) =>
        {
            Err("the chart has no eval points yet".into())
        }
        Command::LessSmoothing if smoothing <= 0.0 => Err("smoothing is already off".into()),
        Command::MoreSmoothing if smoothing >= 0.95 => {
            Err("smoothing is already at its most".into())
        }
        Command::Mark => super::runs::availability(app, command),
        _ => Ok(()),
    }
}

/// Carries out one available command of the chart.
pub fn apply(app: &mut App, command: Command) -> Action {
    let options = &mut app.chart.options;
    match command {
        Command::CursorLeft => move_cursor(app, -1),
        Command::CursorRight => move_cursor(app, 1),
        Command::ColourBy => options.colour_by_algo = !options.colour_by_algo,
        Command::Scale => options.symlog = !options.symlog,
        Command::XAxis => options.wall_time = !options.wall_time,
        Command::PerSize => options.per_size = !options.per_size,
        // In hundredths, so steps of 0.1 land on 0 (not 2.8e-17, shown as 0.0).
        Command::LessSmoothing => {
            options.smoothing = ((options.smoothing - 0.1).max(0.0) * 100.0).round() / 100.0;
        }
        Command::MoreSmoothing => {
            options.smoothing = ((options.smoothing + 0.1).min(0.95) * 100.0).round() / 100.0;
        }
        Command::Mark => app.toggle_mark(),
        Command::Export => return Action::Export,
        _ => {}
    }
    Action::None
}

/// Moves the chart's cursor over the eval points of the charted runs.
fn move_cursor(app: &mut App, step: isize) {
    let points = app
        .chart_runs()
        .iter()
        .map(|r| r.history.len())
        .max()
        .unwrap_or(0);
    if points == 0 {
        return;
    }
    let at = match app.chart.options.cursor {
        None => points as isize - 1,
        Some(c) => c as isize + step,
    };
    app.chart.options.cursor = Some(at.clamp(0, points as isize - 1) as usize);
}

/// Marks where a run's estimate diverged (NaN or ±∞ followed), as the
/// SVG figure does.
pub const DIVERGED_MARK: &str = "×";

/// Draws the chart pane: the title, then the curves with their cursor
/// readout and legend (or the per-dataset-size view's two panels).
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let (runs, hidden) = app.chart_selection();
    let block = focused(
        app,
        Pane::Chart,
        title(&app.chart.options, area, runs.len(), hidden),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if runs.iter().all(|r| r.history.is_empty()) {
        frame.render_widget(Paragraph::new(" no eval points yet"), inner);
        return;
    }
    // One legend row under the plots, when there is room for it.
    let (plots, legend) = if inner.height > 5 {
        let parts = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(4), Constraint::Length(1)])
            .split(inner);
        (parts[0], Some(parts[1]))
    } else {
        (inner, None)
    };
    // Decimation keeps up to four points per column: one column per cell
    // gives two per braille dot column, all a line of this width can show.
    let columns = inner.width.max(1) as usize;
    if app.chart.options.per_size {
        draw_per_size(frame, app, &runs, (plots, legend), columns);
        return;
    }
    let data = chart::prepare(
        &runs,
        &app.chart.options,
        columns,
        (&app.chart.cuts, &app.chart.revisions),
        Curves::Both,
    );
    let readout_rows = data.cursor.as_ref().map_or(0, |(_, values)| {
        (values.len() as u16 + 1).min(plots.height / 3)
    });
    let (plot, readout) = if readout_rows >= 2 {
        let parts = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(4), Constraint::Length(readout_rows)])
            .split(plots);
        (parts[0], Some(parts[1]))
    } else {
        (plots, None)
    };
    draw_curves(frame, app, &data, plot, Curves::Both, "");
    draw_cursor_and_legend(frame, app, &data, readout, legend);
}

/// The chart's title: what it shows, how, and how many runs of how many.
fn title(options: &ChartOptions, area: Rect, shown: usize, hidden: usize) -> String {
    format!(
        " {}q_est (solid) vs J(π) (dots){}{}{}{} ",
        if area.width >= 100 {
            "overestimation: "
        } else {
            ""
        },
        if options.symlog {
            " · symlog"
        } else {
            " · linear"
        },
        if options.smoothing > 0.0 {
            format!(" · smooth {}", options.smoothing)
        } else {
            String::new()
        },
        if options.per_size {
            " · per dataset size"
        } else {
            ""
        },
        if hidden > 0 {
            format!(" · {shown} of {} runs (m marks)", shown + hidden)
        } else {
            String::new()
        },
    )
}

/// The per-dataset-size view (the BEAR figure): the true return and the
/// estimate side by side, one line per dataset size, the legend under them.
fn draw_per_size(
    frame: &mut Frame,
    app: &App,
    runs: &[&RunView],
    (plots, legend): (Rect, Option<Rect>),
    columns: usize,
) {
    let halves = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
        .spacing(2)
        .split(plots);
    let mut truth = None;
    for (half, which, title) in [
        (halves[0], Curves::Truth, "discounted J(π)"),
        (halves[1], Curves::Estimate, "Q estimate"),
    ] {
        let data = chart::prepare(
            runs,
            &app.chart.options,
            columns / 2,
            (&app.chart.cuts, &app.chart.revisions),
            which,
        );
        draw_curves(frame, app, &data, half, which, title);
        truth.get_or_insert(data);
    }
    if let (Some(row), Some(truth)) = (legend, truth) {
        draw_legend(frame, app, &truth, row);
    }
}

/// Under the curves: the cursor's readout, one line per curve, and the
/// legend; without room for a readout, the legend row reads the cursor.
fn draw_cursor_and_legend(
    frame: &mut Frame,
    app: &App,
    data: &ChartData,
    readout: Option<Rect>,
    legend: Option<Rect>,
) {
    match (&data.cursor, readout, legend) {
        (Some((x, values)), Some(area), _) => {
            let shown = area.height as usize - 1;
            let more = values.len().saturating_sub(shown);
            let mut lines = vec![Line::from(format!(
                " at {} {}: estimate / true{}",
                data.x_label,
                crate::present::scale::format_tick(*x),
                if more > 0 {
                    format!(" (+{more} more curves)")
                } else {
                    String::new()
                }
            ))];
            for (i, (label, q, j, se)) in values.iter().enumerate().take(shown) {
                let colour_index = data.series.get(i).map_or(i, |s| s.colour);
                let truth = scores::plus_se(value(*j, 3), *se, 3);
                lines.push(Line::from(vec![
                    Span::styled(format!(" ■ {}", sanitize(label)), colour(app, colour_index)),
                    Span::raw(format!("  {} / {truth}", value(*q, 3))),
                ]));
            }
            frame.render_widget(Paragraph::new(lines), area);
            if let Some(row) = legend {
                draw_legend(frame, app, data, row);
            }
        }
        // No room for a readout: the legend row reads the cursor instead.
        (Some((x, values)), None, Some(row)) => {
            let mut spans = vec![Span::raw(format!(
                " {} {}:",
                data.x_label,
                crate::present::scale::format_tick(*x)
            ))];
            for (i, (_, q, j, _)) in values.iter().enumerate() {
                let colour_index = data.series.get(i).map_or(i, |s| s.colour);
                spans.push(Span::styled(" ■", colour(app, colour_index)));
                spans.push(Span::raw(format!("{}/{}", value(*q, 2), value(*j, 2))));
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), row);
        }
        (_, _, Some(row)) => draw_legend(frame, app, data, row),
        _ => {}
    }
}

/// A value of the cursor's readout: NaN or ±∞ (Q overflowed) is `diverged`.
fn value(v: f64, precision: usize) -> String {
    if v.is_finite() {
        fmt(Some(v), precision)
    } else {
        "diverged".into()
    }
}

/// The colour groups' names, one line; where J is Monte-Carlo, what its
/// shaded band is.
fn draw_legend(frame: &mut Frame, app: &App, data: &ChartData, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    spans.extend(
        data.groups
            .iter()
            .enumerate()
            .map(|(i, g)| Span::styled(format!("■ {} ", sanitize(g)), colour(app, i))),
    );
    if data.series.iter().any(|s| !s.lines.band.is_empty()) {
        spans.push(Span::raw(format!("{BAND_MARK} J ± {NOISE_BAND} se")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The shading of J's band in the legend: every other braille dot.
const BAND_MARK: &str = "⢕";

/// One plot: its title, the axes with their tick labels, the curves.
fn draw_curves(
    frame: &mut Frame,
    app: &App,
    data: &ChartData,
    area: Rect,
    which: Curves,
    title: &str,
) {
    // Rows: optional title, plot, x labels.
    let title_rows = u16::from(!title.is_empty());
    if area.height < 3 + title_rows || area.width < 12 {
        return;
    }
    if title_rows > 0 {
        frame.render_widget(
            Paragraph::new(format!(" {title}")),
            Rect { height: 1, ..area },
        );
    }
    let label_width = data
        .y_ticks
        .iter()
        .map(|(_, l)| l.chars().count())
        .max()
        .unwrap_or(1) as u16
        + 1;
    let plot_height = area.height - title_rows - 1;
    let frame_area = Rect {
        x: area.x + label_width,
        y: area.y + title_rows,
        width: area.width - label_width,
        height: plot_height,
    };
    let axes = Block::default().borders(Borders::LEFT | Borders::BOTTOM);
    let plot = axes.inner(frame_area);
    frame.render_widget(axes, frame_area);
    draw_y_labels(frame, data, plot, (area.x, label_width));
    draw_x_labels(frame, data, frame_area);
    draw_lines(frame, app, data, plot, which);
}

/// The y tick labels, right-aligned left of the axis (`x` and `width`),
/// each at its own row (ratatui's Chart spreads labels evenly).
fn draw_y_labels(frame: &mut Frame, data: &ChartData, plot: Rect, (x, width): (u16, u16)) {
    let [y_lo, y_hi] = data.y_bounds;
    let mut last_row = None;
    for (t, label) in data.y_ticks.iter().rev() {
        let fraction = (y_hi - t) / (y_hi - y_lo).max(1e-12);
        let row = plot.y + (fraction * f64::from(plot.height.saturating_sub(1))).round() as u16;
        if last_row == Some(row) || row >= plot.y + plot.height {
            continue;
        }
        last_row = Some(row);
        let cell = Rect {
            x,
            y: row,
            width: width - 1,
            height: 1,
        };
        frame.render_widget(
            Paragraph::new(label.clone()).alignment(ratatui::layout::Alignment::Right),
            cell,
        );
    }
}

/// The x labels under the axis (the bottom of `frame_area`): both ends,
/// the middle, and the axis name.
fn draw_x_labels(frame: &mut Frame, data: &ChartData, frame_area: Rect) {
    let x_row = Rect {
        x: frame_area.x,
        y: frame_area.y + frame_area.height,
        width: frame_area.width,
        height: 1,
    };
    let [x_lo, x_hi] = data.x_bounds;
    let half = f64::midpoint(x_lo, x_hi);
    let middle = crate::present::scale::format_tick(if x_hi - x_lo >= 10.0 {
        half.round()
    } else {
        half
    });
    let right = crate::present::scale::format_tick(x_hi);
    let left = crate::present::scale::format_tick(x_lo);
    let width = x_row.width as usize;
    let mut text = vec![' '; width];
    let mut put = |at: usize, label: &str| {
        for (i, c) in label.chars().enumerate() {
            if let Some(slot) = text.get_mut(at + i) {
                *slot = c;
            }
        }
    };
    put(0, &left);
    put((width / 2).saturating_sub(middle.len() / 2), &middle);
    put(width.saturating_sub(right.len()), &right);
    // The axis name between the middle and right labels, if it fits there.
    let middle_end = width / 2 + middle.len().div_ceil(2);
    let name_at = (width * 3 / 4).saturating_sub(data.x_label.len() / 2);
    if name_at > middle_end && name_at + data.x_label.len() < width.saturating_sub(right.len()) {
        put(name_at, data.x_label);
    }
    frame.render_widget(Paragraph::new(text.into_iter().collect::<String>()), x_row);
}

/// The curves, drawn on `plot`: one canvas per marker, each a single
/// layer: braille lines for the estimates (faint raw curves first), then
/// dots for the true returns.
fn draw_lines(frame: &mut Frame, app: &App, data: &ChartData, plot: Rect, which: Curves) {
    use ratatui::widgets::canvas::{Canvas, Context, Line as Segment, Points};
    let [y_lo, y_hi] = data.y_bounds;
    let colour_of = |i: usize| {
        if app.screen.no_color {
            Color::Reset
        } else {
            PALETTE[i % PALETTE.len()]
        }
    };
    let faint = if app.screen.no_color {
        Color::Reset
    } else {
        Color::DarkGray
    };
    let polyline = |ctx: &mut ratatui::widgets::canvas::Context, points: &[(f64, f64)], color| {
        ctx.draw(&Polyline { points, color });
    };
    // One canvas a layer, over the chart's bounds.
    let layer = |frame: &mut Frame, marker, paint: &dyn Fn(&mut Context)| {
        let canvas = Canvas::default()
            .marker(marker)
            .x_bounds(data.x_bounds)
            .y_bounds(data.y_bounds)
            .paint(paint);
        frame.render_widget(canvas, plot);
    };
    // J's band under everything: a cell a line passes through shows the line.
    let banded = data.series.iter().any(|s| !s.lines.band.is_empty());
    if which != Curves::Estimate && banded {
        layer(frame, Marker::Braille, &|ctx| {
            for s in &data.series {
                ctx.draw(&Band {
                    spans: &s.lines.band,
                    color: colour_of(s.colour),
                });
            }
        });
    }
    layer(frame, Marker::Braille, &|ctx| {
        for s in &data.series {
            if which != Curves::Truth {
                polyline(ctx, &s.lines.raw_estimate, faint);
            }
            if which != Curves::Estimate {
                polyline(ctx, &s.lines.raw_truth, faint);
            }
        }
        for s in &data.series {
            if which != Curves::Truth {
                polyline(ctx, &s.lines.estimate, colour_of(s.colour));
            }
        }
        // A diverged estimate ends in a cross at its last finite point.
        for s in data.series.iter().filter(|_| which != Curves::Truth) {
            if let Some((x, y)) = s.lines.diverged_at {
                ctx.print(
                    x,
                    y,
                    Span::styled(DIVERGED_MARK, Style::default().fg(colour_of(s.colour))),
                );
            }
        }
        if let Some((x, _)) = &data.cursor {
            ctx.draw(&Segment {
                x1: *x,
                y1: y_lo,
                x2: *x,
                y2: y_hi,
                color: Color::Reset,
            });
        }
    });
    if which != Curves::Estimate {
        layer(frame, Marker::Dot, &|ctx| {
            for s in &data.series {
                ctx.draw(&Points {
                    coords: &s.lines.truth,
                    color: colour_of(s.colour),
                });
            }
        });
    }
}

/// J's band: per column of the cut (x, lowest, highest), the dots between
/// them painted on every other dot, a checkerboard that reads as a shade
/// and leaves the curves drawn over it legible; columns between two cuts
/// take the band between them.
struct Band<'a> {
    spans: &'a [(f64, f64, f64)],
    color: Color,
}

impl ratatui::widgets::canvas::Shape for Band<'_> {
    fn draw(&self, painter: &mut ratatui::widgets::canvas::Painter) {
        let [y_lo, y_hi] = *painter.bounds().1;
        // (grid column, top row, bottom row) of each span.
        let cells: Vec<(usize, usize, usize)> = self
            .spans
            .iter()
            .filter_map(|&(x, low, high)| {
                let (column, bottom) = painter.get_point(x, low.clamp(y_lo, y_hi))?;
                let (_, top) = painter.get_point(x, high.clamp(y_lo, y_hi))?;
                Some((column, top, bottom))
            })
            .collect();
        let mut shade = |column: usize, top: usize, bottom: usize| {
            for row in top..=bottom {
                if (column + row).is_multiple_of(2) {
                    painter.paint(column, row, self.color);
                }
            }
        };
        for pair in cells.windows(2) {
            let ((c0, t0, b0), (c1, t1, b1)) = (pair[0], pair[1]);
            for column in c0..c1 {
                let along = (column - c0) as f64 / (c1 - c0) as f64;
                let at = |a: usize, b: usize| {
                    (a as f64 + (b as f64 - a as f64) * along).round() as usize
                };
                shade(column, at(t0, t1), at(b0, b1));
            }
        }
        if let Some(&(column, top, bottom)) = cells.last() {
            shade(column, top, bottom);
        }
    }
}

/// A line through many points, each a dot or two apart after decimation:
/// painted by stepping between grid cells (ratatui's `Line` shape clips and
/// rounds every segment on its own, several times slower for long series).
struct Polyline<'a> {
    points: &'a [(f64, f64)],
    color: Color,
}

impl ratatui::widgets::canvas::Shape for Polyline<'_> {
    fn draw(&self, painter: &mut ratatui::widgets::canvas::Painter) {
        let mut previous: Option<(usize, usize)> = None;
        for &(x, y) in self.points {
            let Some((gx, gy)) = painter.get_point(x, y) else {
                previous = None;
                continue;
            };
            if let Some((px, py)) = previous {
                let (dx, dy) = (gx as isize - px as isize, gy as isize - py as isize);
                let steps = dx.abs().max(dy.abs()).max(1);
                for k in 1..=steps {
                    // Integer steps (nearest cell, no float rounding calls):
                    // floor(d·k/steps + 1/2).
                    let along = |d: isize| (2 * d * k + steps).div_euclid(2 * steps);
                    let (ix, iy) = (px as isize + along(dx), py as isize + along(dy));
                    painter.paint(ix as usize, iy as usize, self.color);
                }
            } else {
                painter.paint(gx, gy, self.color);
            }
            previous = Some((gx, gy));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::tests::{frozen_lake, press};

    /// Smoothing up and back down lands on zero exactly: off, not a title
    /// reading `smooth 0.0` (0.1 + 0.1 − 0.1 − 0.1 is 2.8e-17 in floats).
    #[test]
    fn smoothing_steps_return_to_off() {
        let mut app = frozen_lake();
        press(&mut app, "]]]]]]]]]]]");
        assert_eq!(app.chart.options.smoothing, 0.95);
        press(&mut app, "[[[[[[[[[[");
        assert_eq!(app.chart.options.smoothing, 0.0);
        assert!(availability(&app, Command::LessSmoothing).is_err());
    }
}
