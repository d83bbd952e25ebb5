//! The chart pane: the overestimation chart drawn from [`chart::prepare`]'s
//! curves (braille lines for q_est, dots for the true discounted return
//! J(π), what Q estimates), its cursor readout and legend; the
//! per-dataset-size view's two panels.

use super::{PALETTE, colour, fmt, focused};
use crate::tui::app::{App, Pane, sanitize};
use crate::tui::chart::{self, ChartData, Curves};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// Marks where a run's estimate diverged (NaN or ±∞ followed), as the
/// SVG figure does.
pub const DIVERGED_MARK: &str = "×";

pub(super) fn draw_chart(frame: &mut Frame, app: &App, area: Rect) {
    let (runs, hidden) = app.chart_selection();
    let title = format!(
        " {}q_est (solid) vs J(π) (dots){}{}{}{} ",
        if area.width >= 100 {
            "overestimation: "
        } else {
            ""
        },
        if app.chart.symlog {
            " · symlog"
        } else {
            " · linear"
        },
        if app.chart.smoothing > 0.0 {
            format!(" · smooth {}", app.chart.smoothing)
        } else {
            String::new()
        },
        if app.chart.per_size {
            " · per dataset size"
        } else {
            ""
        },
        if hidden > 0 {
            format!(
                " · {} of {} runs (m marks)",
                runs.len(),
                runs.len() + hidden
            )
        } else {
            String::new()
        },
    );
    let block = focused(app, Pane::Chart, title);
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
    if app.chart.per_size {
        let halves = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
            .spacing(2)
            .split(plots);
        let mut groups = Vec::new();
        for (half, which, title) in [
            (halves[0], Curves::Truth, "discounted J(π)"),
            (halves[1], Curves::Estimate, "Q estimate"),
        ] {
            let data = chart::prepare(
                &runs,
                &app.chart,
                columns / 2,
                (&app.cuts, &app.revisions),
                which,
            );
            draw_curves(frame, app, &data, half, which, title);
            groups = data.groups;
        }
        if let Some(row) = legend {
            draw_legend(frame, app, &groups, row);
        }
        return;
    }
    let data = chart::prepare(
        &runs,
        &app.chart,
        columns,
        (&app.cuts, &app.revisions),
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
            for (i, (label, q, j)) in values.iter().enumerate().take(shown) {
                let colour_index = data.series.get(i).map_or(i, |s| s.colour);
                lines.push(Line::from(vec![
                    Span::styled(format!(" ■ {}", sanitize(label)), colour(app, colour_index)),
                    Span::raw(format!("  {} / {}", value(*q, 3), value(*j, 3))),
                ]));
            }
            frame.render_widget(Paragraph::new(lines), area);
            if let Some(row) = legend {
                draw_legend(frame, app, &data.groups, row);
            }
        }
        // No room for a readout: the legend row reads the cursor instead.
        (Some((x, values)), None, Some(row)) => {
            let mut spans = vec![Span::raw(format!(
                " {} {}:",
                data.x_label,
                crate::present::scale::format_tick(*x)
            ))];
            for (i, (_, q, j)) in values.iter().enumerate() {
                let colour_index = data.series.get(i).map_or(i, |s| s.colour);
                spans.push(Span::styled(" ■", colour(app, colour_index)));
                spans.push(Span::raw(format!("{}/{}", value(*q, 2), value(*j, 2))));
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), row);
        }
        (_, _, Some(row)) => draw_legend(frame, app, &data.groups, row),
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

/// The colour groups' names, one line.
pub(super) fn draw_legend(frame: &mut Frame, app: &App, groups: &[String], area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    spans.extend(
        groups
            .iter()
            .enumerate()
            .map(|(i, g)| Span::styled(format!("■ {} ", sanitize(g)), colour(app, i))),
    );
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub(super) fn draw_curves(
    frame: &mut Frame,
    app: &App,
    data: &ChartData,
    area: Rect,
    which: Curves,
    title: &str,
) {
    use ratatui::widgets::canvas::{Canvas, Line as Segment, Points};
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
    // y tick labels at their own rows (ratatui's Chart spreads labels evenly).
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
            x: area.x,
            y: row,
            width: label_width - 1,
            height: 1,
        };
        frame.render_widget(
            Paragraph::new(label.clone()).alignment(ratatui::layout::Alignment::Right),
            cell,
        );
    }
    // x labels under the axis: both ends, the middle, and the axis name.
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
    // One canvas per marker, each a single layer: braille lines for the
    // estimates (faint raw curves first), then dots for the true returns.
    let colour_of = |i: usize| {
        if app.no_color {
            Color::Reset
        } else {
            PALETTE[i % PALETTE.len()]
        }
    };
    let faint = if app.no_color {
        Color::Reset
    } else {
        Color::DarkGray
    };
    let polyline = |ctx: &mut ratatui::widgets::canvas::Context, points: &[(f64, f64)], color| {
        ctx.draw(&Polyline { points, color });
    };
    frame.render_widget(
        Canvas::default()
            .marker(Marker::Braille)
            .x_bounds(data.x_bounds)
            .y_bounds(data.y_bounds)
            .paint(|ctx| {
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
            }),
        plot,
    );
    if which != Curves::Estimate {
        frame.render_widget(
            Canvas::default()
                .marker(Marker::Dot)
                .x_bounds(data.x_bounds)
                .y_bounds(data.y_bounds)
                .paint(|ctx| {
                    for s in &data.series {
                        ctx.draw(&Points {
                            coords: &s.lines.truth,
                            color: colour_of(s.colour),
                        });
                    }
                }),
            plot,
        );
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
