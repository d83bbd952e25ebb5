//! Drawing the dashboard from an [`App`]: header, spec errors, runs table,
//! overestimation chart, score table, footer; the run detail and the help
//! overlay. Nothing here reads files or the clock, so a given `App` always
//! draws the same frame (the snapshot tests rely on it).

use super::app::{App, BINDINGS, Pane, SortKey, progress, sanitize};
use super::chart::{self, ChartData, Curves};
use crate::experiment::{RunStatus, RunView};
use crate::mdp::solve;
use crate::present::scores::ScoreTable;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

/// Colours of the 16-colour palette every terminal has.
const PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::Green,
    Color::Magenta,
    Color::LightBlue,
    Color::LightRed,
    Color::LightGreen,
    Color::LightYellow,
];

/// What the help says beside the keys.
const NOTES: [(&str, &str); 5] = [
    (
        "chart",
        "solid = Q estimate (q_est), dots = true return J(π)",
    ),
    ("", "the gap between them is the overestimation"),
    (
        "scores",
        "normalized score, mean ± std over seeds; best bold",
    ),
    (
        "status",
        "queued running paused waiting done diverged failed cancelled",
    ),
    ("NO_COLOR", "set it for a monochrome dashboard"),
];

/// The footer: the bindings' short forms, in table order, as many as fit.
pub fn footer_text(width: usize) -> String {
    let mut text = String::new();
    for item in BINDINGS.iter().filter_map(|b| b.footer) {
        let needed = text.chars().count() + 2 + item.chars().count();
        if needed > width {
            break;
        }
        text.push_str("  ");
        text.push_str(item);
    }
    text.split_off(1)
}

/// The help screen's lines: every binding by section, then the notes.
pub fn help_lines() -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut section = "";
    for b in BINDINGS {
        if b.section != section {
            section = b.section;
            lines.push((format!("— {section}"), String::new()));
        }
        lines.push((b.keys_text.to_string(), b.help.to_string()));
    }
    lines.push((String::new(), String::new()));
    lines.extend(NOTES.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    lines
}

fn colour(app: &App, i: usize) -> Style {
    if app.no_color {
        Style::default()
    } else {
        Style::default().fg(PALETTE[i % PALETTE.len()])
    }
}

fn status_style(app: &App, s: RunStatus) -> Style {
    if app.no_color {
        return match s {
            RunStatus::Failed | RunStatus::Diverged => {
                Style::default().add_modifier(Modifier::BOLD)
            }
            _ => Style::default(),
        };
    }
    Style::default().fg(match s {
        RunStatus::Queued | RunStatus::Waiting => Color::Gray,
        RunStatus::Running => Color::Cyan,
        RunStatus::Paused => Color::Yellow,
        RunStatus::Done => Color::Green,
        RunStatus::Diverged => Color::Magenta,
        RunStatus::Failed => Color::Red,
        RunStatus::Cancelled => Color::DarkGray,
    })
}

fn focused(app: &App, pane: Pane, title: String) -> Block<'static> {
    let block = Block::default().borders(Borders::ALL).title(title);
    if app.pane == pane {
        block.border_style(Style::default().add_modifier(Modifier::BOLD))
    } else if app.no_color {
        block
    } else {
        block.border_style(Style::default().fg(Color::DarkGray))
    }
}

/// Draws one frame.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    // Spec errors in full (wrapped), up to a few rows; the rest counted.
    let budget = if area.height >= 40 { 6 } else { 3 };
    let errors: Vec<String> = app
        .specs
        .iter()
        .filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| format!("✗ {}", sanitize(&e.to_string())))
        })
        .collect();
    let mut error_lines: Vec<String> = errors
        .iter()
        .flat_map(|e| wrap(e, area.width as usize))
        .collect();
    if error_lines.len() > budget {
        let hidden = error_lines.len() - (budget - 1);
        error_lines.truncate(budget - 1);
        error_lines.push(format!("… {hidden} more lines of spec errors"));
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(error_lines.len() as u16),
            Constraint::Min(6),
            Constraint::Length(1),
        ])
        .split(area);
    draw_header(frame, app, rows[0]);
    if !error_lines.is_empty() {
        let style = error_style(app);
        let lines: Vec<Line> = error_lines
            .into_iter()
            .map(|e| Line::from(Span::styled(e, style)))
            .collect();
        frame.render_widget(Paragraph::new(lines), rows[1]);
    }
    if app.detail {
        draw_detail(frame, app, rows[2]);
    } else {
        draw_main(frame, app, rows[2]);
    }
    draw_footer(frame, app, rows[3]);
    if app.show_help {
        draw_help(frame, app, area);
    }
}

/// Splits `text` into lines of at most `width` characters, at spaces where
/// it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > width {
        let cut = rest[..=width]
            .iter()
            .rposition(|c| *c == ' ')
            .filter(|&i| i > width / 2)
            .unwrap_or(width);
        lines.push(
            rest[..cut]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string(),
        );
        rest.drain(..cut);
        while rest.first() == Some(&' ') {
            rest.remove(0);
        }
    }
    lines.push(rest.into_iter().collect());
    lines
}

fn draw_header(frame: &mut Frame, app: &App, area: Rect) {
    let count = |s: RunStatus| app.runs.iter().filter(|r| r.status == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    // Running, queued and done always; the other states when they occur.
    let mut states = Vec::new();
    for status in [
        RunStatus::Running,
        RunStatus::Queued,
        RunStatus::Waiting,
        RunStatus::Paused,
        RunStatus::Done,
        RunStatus::Failed,
        RunStatus::Diverged,
        RunStatus::Cancelled,
    ] {
        let n = count(status);
        let always = matches!(
            status,
            RunStatus::Running | RunStatus::Queued | RunStatus::Done
        );
        if always || n > 0 {
            states.push(format!("{n} {status}"));
        }
    }
    let text = format!(
        " pessimist │ {} · {}: {}",
        plural(app.specs.len(), "spec"),
        plural(app.runs.len(), "run"),
        states.join(", ")
    );
    bar_line(frame, app, area, text, Color::Blue);
}

/// A full-width line in reverse video: the header and the footer.
fn bar_line(frame: &mut Frame, app: &App, area: Rect, text: String, background: Color) {
    let style = styled(
        app,
        Style::default().bg(background).fg(Color::White),
        Style::default().add_modifier(Modifier::REVERSED),
    );
    frame.render_widget(Paragraph::new(text).style(style), area);
}

/// Errors: red, or bold without colour.
fn error_style(app: &App) -> Style {
    styled(
        app,
        Style::default().fg(Color::Red),
        Style::default().add_modifier(Modifier::BOLD),
    )
}

/// `coloured` normally, `mono` under NO_COLOR.
fn styled(app: &App, coloured: Style, mono: Style) -> Style {
    if app.no_color { mono } else { coloured }
}

fn draw_footer(frame: &mut Frame, app: &App, area: Rect) {
    let text = if app.editing_filter {
        format!(
            " filter: {}▏  (Enter apply, Esc clear)",
            sanitize(&app.filter)
        )
    } else if let Some(m) = &app.message {
        format!(" {}", sanitize(m))
    } else {
        footer_text(area.width as usize)
    };
    bar_line(frame, app, area, text, Color::DarkGray);
}

fn draw_main(frame: &mut Frame, app: &App, area: Rect) {
    if app.zoom {
        match app.pane {
            Pane::Runs => draw_runs(frame, app, area),
            Pane::Chart => draw_chart(frame, app, area),
            Pane::Scores => draw_scores(frame, app, area),
        }
        return;
    }
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
        .split(area);
    draw_runs(frame, app, parts[0]);
    let wide = area.width >= 120;
    let bottom = Layout::default()
        .direction(if wide {
            Direction::Horizontal
        } else {
            Direction::Vertical
        })
        .constraints(if wide {
            [Constraint::Percentage(64), Constraint::Percentage(36)]
        } else {
            [Constraint::Percentage(65), Constraint::Percentage(35)]
        })
        .split(parts[1]);
    draw_chart(frame, app, bottom[0]);
    draw_scores(frame, app, bottom[1]);
}

fn fmt(v: Option<f64>, precision: usize) -> String {
    match v {
        Some(x) if x.is_finite() && x.abs() >= 1e6 => format!("{x:.2e}"),
        Some(x) if x.is_finite() => format!("{x:.precision$}"),
        Some(x) if x.is_nan() => "nan".into(),
        Some(x) => format!("{x}"),
        None => "-".into(),
    }
}

fn bar(fraction: f64, width: usize) -> String {
    let filled = (fraction.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

fn eta(seconds: f64) -> String {
    if !(seconds.is_finite() && seconds > 0.0) {
        return "-".into();
    }
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// A column of the runs table: its header, sort key, and each row's cell.
struct Column<'a> {
    name: &'static str,
    key: Option<SortKey>,
    /// Dropped first when the table is too narrow: higher goes first.
    optional: u8,
    cells: Vec<Cell<'a>>,
    width: usize,
}

fn draw_runs(frame: &mut Frame, app: &App, area: Rect) {
    let runs = app.visible_runs();
    let any_running = runs.iter().any(|r| r.status == RunStatus::Running);
    let mut columns: Vec<Column> = Vec::new();
    let mut add = |name, key, optional, texts: Vec<String>, styles: Option<Vec<Style>>| {
        let width = texts
            .iter()
            .map(|t| t.chars().count())
            .chain([name_width(name, key, app)])
            .max()
            .unwrap_or(1);
        let cells = match styles {
            Some(styles) => texts
                .into_iter()
                .zip(styles)
                .map(|(t, st)| Cell::from(t).style(st))
                .collect(),
            None => texts.into_iter().map(Cell::from).collect(),
        };
        columns.push(Column {
            name,
            key,
            optional,
            cells,
            width,
        });
    };
    let text = |f: &dyn Fn(&RunView) -> String| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
    let metric = |f: fn(&crate::eval::Metrics) -> f64, precision| {
        text(&|r| fmt(r.latest.map(|m| f(&m)), precision))
    };
    add(
        "spec",
        Some(SortKey::Spec),
        5,
        text(&|r| sanitize(&r.config.spec)),
        None,
    );
    add(
        "env",
        Some(SortKey::Env),
        3,
        text(&|r| sanitize(&r.config.env)),
        None,
    );
    add(
        "algo",
        Some(SortKey::Algo),
        0,
        text(&|r| {
            let marked = if app.marked.contains(&r.id) {
                "● "
            } else {
                ""
            };
            format!(
                "{marked}{}",
                sanitize(&app.labels(&r.config).algo(&r.config))
            )
        }),
        None,
    );
    add(
        "dataset",
        Some(SortKey::Dataset),
        0,
        text(&|r| sanitize(&app.labels(&r.config).data(&r.config))),
        None,
    );
    add(
        "seed",
        Some(SortKey::Seed),
        0,
        text(&|r| r.config.seed.to_string()),
        None,
    );
    add(
        "status",
        Some(SortKey::Status),
        0,
        text(&|r| {
            // `*`: trained by another process.
            let elsewhere = if r.owned_here || r.status.is_final() {
                ""
            } else {
                "*"
            };
            format!("{}{elsewhere}", r.status)
        }),
        Some(runs.iter().map(|r| status_style(app, r.status)).collect()),
    );
    add(
        "progress",
        Some(SortKey::Progress),
        0,
        text(&|r| format!("{} {:>3.0}%", bar(progress(r), 5), progress(r) * 100.0)),
        None,
    );
    if any_running {
        let running = |r: &RunView| r.status == RunStatus::Running;
        add(
            "it/s",
            None,
            2,
            text(&|r| {
                if running(r) {
                    fmt(Some(r.progress.it_per_sec), 0)
                } else {
                    "-".into()
                }
            }),
            None,
        );
        add(
            "ETA",
            None,
            2,
            text(&|r| {
                if running(r) {
                    eta(r.progress.eta_seconds)
                } else {
                    "-".into()
                }
            }),
            None,
        );
    }
    add(
        "J",
        Some(SortKey::Return),
        0,
        metric(|m| m.true_return, 3),
        None,
    );
    add(
        "q_est",
        Some(SortKey::QEst),
        0,
        metric(|m| m.q_est, 3),
        None,
    );
    add("gap", Some(SortKey::Gap), 1, metric(|m| m.gap, 3), None);
    add(
        "score",
        Some(SortKey::Score),
        0,
        metric(|m| m.normalized_score, 1),
        None,
    );
    // Drop optional columns, most optional first, until the rest fits
    // (the algo column takes what is left, so its labels show whole).
    let room = area.width.saturating_sub(2) as usize;
    let total = |cols: &[Column]| cols.iter().map(|c| c.width + 1).sum::<usize>();
    for level in (1..=5).rev() {
        if total(&columns) <= room {
            break;
        }
        columns.retain(|c| c.optional != level);
    }
    let header: Vec<String> = columns
        .iter()
        .map(|c| format!("{}{}", c.name, sort_mark(c.key, app)))
        .collect();
    let squeezed = total(&columns) > room;
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| {
            if c.name == "algo" && squeezed {
                Constraint::Min(c.width.min(8) as u16)
            } else {
                Constraint::Length(c.width as u16)
            }
        })
        .collect();
    let mut cells: Vec<std::vec::IntoIter<Cell>> =
        columns.into_iter().map(|c| c.cells.into_iter()).collect();
    let rows: Vec<Row> = (0..runs.len())
        .map(|_| {
            Row::new(
                cells
                    .iter_mut()
                    .filter_map(Iterator::next)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let title = format!(
        " runs {}/{}{}{} ",
        runs.len(),
        app.runs.len(),
        if app.filter.is_empty() {
            String::new()
        } else {
            format!(" filter \"{}\"", sanitize(&app.filter))
        },
        if app.group_by_spec { " · by spec" } else { "" }
    );
    let highlight = styled(
        app,
        Style::default()
            .bg(Color::DarkGray)
            .add_modifier(Modifier::BOLD),
        Style::default().add_modifier(Modifier::REVERSED),
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(focused(app, Pane::Runs, title))
        .row_highlight_style(highlight)
        .column_spacing(1);
    let mut state = ratatui::widgets::TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// ▲ or ▼ on the column the table is sorted by.
fn sort_mark(key: Option<SortKey>, app: &App) -> &'static str {
    match key {
        Some(k) if k == app.sort && app.descending => "▼",
        Some(k) if k == app.sort => "▲",
        _ => "",
    }
}

fn name_width(name: &str, key: Option<SortKey>, app: &App) -> usize {
    name.len() + sort_mark(key, app).chars().count()
}

fn draw_chart(frame: &mut Frame, app: &App, area: Rect) {
    let (runs, hidden) = app.chart_selection();
    let title = format!(
        " {}q_est (solid) vs true return (dots){}{}{}{} ",
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
            format!(" · smooth {:.1}", app.chart.smoothing)
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
            (halves[0], Curves::Truth, "return J(π)"),
            (halves[1], Curves::Estimate, "Q estimate"),
        ] {
            let data = chart::prepare(&runs, &app.chart, columns / 2, &app.cuts, which);
            draw_curves(frame, app, &data, half, which, title);
            groups = data.groups;
        }
        if let Some(row) = legend {
            draw_legend(frame, app, &groups, row);
        }
        return;
    }
    let data = chart::prepare(&runs, &app.chart, columns, &app.cuts, Curves::Both);
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
                    Span::raw(format!("  {} / {}", fmt(Some(*q), 3), fmt(Some(*j), 3))),
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
                spans.push(Span::raw(format!(
                    "{}/{}",
                    fmt(Some(*q), 2),
                    fmt(Some(*j), 2)
                )));
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), row);
        }
        (_, _, Some(row)) => draw_legend(frame, app, &data.groups, row),
        _ => {}
    }
}

/// The colour groups' names, one line.
fn draw_legend(frame: &mut Frame, app: &App, groups: &[String], area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    spans.extend(
        groups
            .iter()
            .enumerate()
            .map(|(i, g)| Span::styled(format!("■ {} ", sanitize(g)), colour(app, i))),
    );
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_curves(
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
        let row = plot.y + (fraction * plot.height.saturating_sub(1) as f64).round() as u16;
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
    let half = (x_lo + x_hi) / 2.0;
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

fn draw_scores(frame: &mut Frame, app: &App, area: Rect) {
    let table = &app.score_table();
    let spec = app
        .selected_run()
        .map(|r| format!("· {} ", sanitize(&r.config.spec)))
        .unwrap_or_default();
    let title = format!(" normalized score, mean ± std over seeds {spec}");
    if table.datasets.is_empty() {
        let block = focused(app, Pane::Scores, title);
        frame.render_widget(Paragraph::new(" no finished runs yet").block(block), area);
        return;
    }
    let grid = score_grid(table, area.width.saturating_sub(2) as usize);
    let rows_shown = area.height.saturating_sub(3) as usize;
    let n = grid.rows.len();
    let offset = app.score_offset.min(n.saturating_sub(rows_shown.max(1)));
    let more = if n > rows_shown {
        format!(
            "· rows {}–{} of {n} ",
            offset + 1,
            (offset + rows_shown).min(n)
        )
    } else {
        String::new()
    };
    let block = focused(app, Pane::Scores, format!("{title}{more}"));
    let best = Style::default().add_modifier(Modifier::BOLD);
    let best = if app.no_color {
        best
    } else {
        best.fg(Color::Green)
    };
    let rows: Vec<Row> = grid
        .rows
        .iter()
        .map(|(label, cells)| {
            let mut row = vec![Cell::from(sanitize(label))];
            row.extend(cells.iter().map(|(text, is_best)| {
                Cell::from(text.clone()).style(if *is_best { best } else { Style::default() })
            }));
            Row::new(row)
        })
        .collect();
    let header: Vec<String> = std::iter::once(grid.corner.to_string())
        .chain(grid.columns.iter().map(|c| sanitize(c)))
        .collect();
    let widths = std::iter::once(Constraint::Length(grid.label_width as u16))
        .chain(grid.widths.iter().map(|w| Constraint::Length(*w as u16)));
    let mut state = ratatui::widgets::TableState::default().with_offset(offset);
    frame.render_stateful_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
            .block(block),
        area,
        &mut state,
    );
}

/// The score table laid out for a width: datasets as rows (the lecture's
/// tables), or algorithms as rows when their names do not fit as column
/// headers; `mean ± std` where it fits, the mean alone where not.
struct ScoreGrid {
    corner: &'static str,
    columns: Vec<String>,
    rows: Vec<GridRow>,
    label_width: usize,
    widths: Vec<usize>,
}

/// A row label, and per column the text and whether it is the best score
/// of its dataset.
type GridRow = (String, Vec<(String, bool)>);

fn score_grid(table: &ScoreTable, width: usize) -> ScoreGrid {
    let text = |c: &Option<crate::present::scores::ScoreCell>, full: bool| match c {
        Some(c) if full => c.text(),
        Some(c) => format!("{:.1}", c.mean),
        None => "–".to_string(),
    };
    let layout = |transposed: bool, full: bool, long: bool| {
        let datasets = if long {
            &table.datasets
        } else {
            &table.short_datasets
        };
        let best: Vec<Option<usize>> = (0..table.datasets.len())
            .map(|d| table.best_in_row(d))
            .collect();
        let cell = |d: usize, a: usize| (text(&table.cells[d][a], full), best[d] == Some(a));
        let (corner, columns, rows): (_, Vec<String>, Vec<GridRow>) = if transposed {
            let rows = table
                .algos
                .iter()
                .enumerate()
                .map(|(a, algo)| {
                    let cells = (0..datasets.len()).map(|d| cell(d, a)).collect();
                    (algo.clone(), cells)
                })
                .collect();
            ("algorithm", datasets.clone(), rows)
        } else {
            let rows = datasets
                .iter()
                .enumerate()
                .map(|(d, label)| {
                    let cells = (0..table.algos.len()).map(|a| cell(d, a)).collect();
                    (label.clone(), cells)
                })
                .collect();
            ("dataset", table.algos.clone(), rows)
        };
        let count = |s: &str| s.chars().count();
        let label_width = rows
            .iter()
            .map(|r| count(&r.0))
            .chain([count(corner)])
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(j, c)| {
                rows.iter()
                    .map(|r| count(&r.1[j].0))
                    .chain([count(c)])
                    .max()
                    .unwrap_or(1)
            })
            .collect();
        ScoreGrid {
            corner,
            columns,
            rows,
            label_width,
            widths,
        }
    };
    let fits =
        |g: &ScoreGrid| g.label_width + g.widths.iter().map(|w| w + 1).sum::<usize>() <= width;
    // The environment in the dataset labels only when it tells rows apart.
    let prefixes: std::collections::BTreeSet<&str> = table
        .datasets
        .iter()
        .zip(&table.short_datasets)
        .map(|(long, short)| long.strip_suffix(short.as_str()).unwrap_or(long))
        .collect();
    let long_labels: &[bool] = if prefixes.len() > 1 {
        &[true, false]
    } else {
        &[false]
    };
    // Most readable first: full cells, long labels, the lecture's orientation.
    for full in [true, false] {
        for &long in long_labels {
            for transposed in [false, true] {
                let grid = layout(transposed, full, long);
                if fits(&grid) {
                    return grid;
                }
            }
        }
    }
    // Nothing fits whole: the narrowest columns, cut at the edge.
    let mut grid = layout(false, false, false);
    grid.label_width = grid.label_width.min(width / 3);
    grid
}

fn draw_detail(frame: &mut Frame, app: &App, area: Rect) {
    let Some(run) = app.selected_run() else {
        frame.render_widget(
            Paragraph::new(" no run selected").block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(65), Constraint::Percentage(35)])
        .split(area);
    // The heatmap takes what its grid needs (up to half), the config the rest.
    let mdp = crate::mdp::envs::make(&run.config.env).ok();
    let grid = mdp.as_ref().and_then(|m| m.grid());
    let heatmap_width = grid.map_or(0, |g| (g.cols as u16 * 7 + 2).min(parts[0].width / 2));
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Min(20), Constraint::Length(heatmap_width)])
        .split(parts[0]);
    let c = &run.config;
    let mut lines = Vec::new();
    lines.push(Line::from(format!(
        "status    {}{} · it {}/{}",
        run.status,
        if run.owned_here {
            ""
        } else {
            " (another process)"
        },
        run.progress.iteration,
        c.iterations,
    )));
    if let Some(e) = &run.error {
        let style = error_style(app);
        lines.push(Line::from(Span::styled(
            format!("error: {}", sanitize(e)),
            style,
        )));
    }
    lines.extend([
        Line::from(format!("id        {}", run.id)),
        Line::from(format!("spec      {}", sanitize(&c.spec))),
        Line::from(format!("env       {} · γ {}", sanitize(&c.env), c.gamma)),
        Line::from(format!(
            "dataset   {} · seed {}",
            sanitize(&c.dataset.label()),
            dataset_seed(c)
        )),
        Line::from(format!(
            "algo      {} · seed {} · eval every {}",
            sanitize(&c.algo),
            c.seed,
            c.eval_every
        )),
    ]);
    if let Some(m) = &run.latest {
        for line in [
            format!(
                "latest    J {} · q_est {} · gap {}",
                fmt(Some(m.true_return), 3),
                fmt(Some(m.q_est), 3),
                fmt(Some(m.gap), 3)
            ),
            format!(
                "          score {} · success {}",
                fmt(Some(m.normalized_score), 1),
                fmt(Some(m.success_prob), 3)
            ),
            format!(
                "          ood {} · KL {} · bellman {}",
                fmt(Some(m.ood_fraction), 3),
                fmt(Some(m.kl_behavior), 3),
                fmt(Some(m.bellman_error), 4)
            ),
        ] {
            lines.push(Line::from(line));
        }
    }
    if let Some(cov) = run.coverage {
        lines.push(Line::from(format!("coverage  {}", fmt(Some(cov), 2))));
    }
    for (k, v) in &c.params {
        lines.push(Line::from(format!("  {k} = {v}")));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" run (Esc back) "),
        ),
        top[0],
    );
    if let Some(grid) = grid {
        draw_heatmap(frame, app, top[1], grid);
    }
    let log: Vec<Line> = app
        .log_tail
        .iter()
        .map(|l| Line::from(sanitize(l)))
        .collect();
    frame.render_widget(
        Paragraph::new(log).block(Block::default().borders(Borders::ALL).title(" log.txt ")),
        parts[1],
    );
}

fn dataset_seed(c: &crate::experiment::RunConfig) -> String {
    match &c.dataset {
        crate::experiment::DatasetSource::Collect { seed, .. } => seed.to_string(),
        crate::experiment::DatasetSource::File { sha256, .. } => {
            format!("file {}", &sha256[..8.min(sha256.len())])
        }
    }
}

/// max_a Q per cell with the policy's arrow, on grid environments.
fn draw_heatmap(frame: &mut Frame, app: &App, area: Rect, grid: &crate::mdp::GridLayout) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" max_a Q and greedy action ");
    let Some(data) = &app.detail_data else {
        frame.render_widget(Paragraph::new(" no Q table yet").block(block), area);
        return;
    };
    if data.q.nrows() != grid.rows * grid.cols {
        frame.render_widget(
            Paragraph::new(" Q table does not fit the grid").block(block),
            area,
        );
        return;
    }
    let values = solve::row_maxima(&data.q);
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let shades = [
        Color::Blue,
        Color::Cyan,
        Color::Green,
        Color::Yellow,
        Color::Red,
    ];
    let cell_width = ((area.width.saturating_sub(2)) as usize / grid.cols.max(1)).clamp(2, 7);
    let mut lines = Vec::new();
    for r in 0..grid.rows {
        let mut spans = Vec::new();
        for c in 0..grid.cols {
            let s = r * grid.cols + c;
            let letter = grid.cells[s];
            let best = crate::mdp::solve::argmax(data.policy.row(s).iter().copied());
            let text = match letter {
                'H' | 'C' => letter.to_string(),
                'G' => "G".into(),
                _ => format!("{}", grid.action_arrows.get(best).copied().unwrap_or('?')),
            };
            let text = if cell_width >= 6 && !matches!(letter, 'H' | 'C' | 'G') {
                format!(
                    "{text}{}",
                    crate::present::scale::format_tick((values[s] * 100.0).round() / 100.0)
                )
            } else {
                text
            };
            let t = if hi > lo {
                (values[s] - lo) / (hi - lo)
            } else {
                0.5
            };
            let shade =
                shades[((t * (shades.len() - 1) as f64).round() as usize).min(shades.len() - 1)];
            let style = styled(
                app,
                Style::default().fg(Color::Black).bg(shade),
                Style::default(),
            );
            spans.push(Span::styled(format!("{text:^cell_width$}"), style));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(format!(
        " blue {} … red {}",
        fmt(Some(lo), 2),
        fmt(Some(hi), 2)
    )));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_help(frame: &mut Frame, app: &App, area: Rect) {
    let lines = help_lines();
    let width = area.width.min(78);
    let height = area.height.min(lines.len() as u16 + 2);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let shown = height.saturating_sub(2) as usize;
    let offset = app.help_offset.min(lines.len().saturating_sub(shown));
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let text: Vec<Line> = lines
        .into_iter()
        .skip(offset)
        .map(|(k, v)| Line::from(vec![Span::styled(format!(" {k:<12}"), bold), Span::raw(v)]))
        .collect();
    let title = if shown < text.len() + offset {
        " keys (↑↓ scroll, any other key closes) "
    } else {
        " keys (any key closes) "
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(title)),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::scores::ScoreCell;

    fn table() -> ScoreTable {
        let cell = |mean: f64| {
            Some(ScoreCell {
                scores: vec![mean],
                mean,
                std: 0.0,
            })
        };
        ScoreTable {
            datasets: vec!["Chain-v5 medium 1k".into(), "Chain-v5 medium 1M".into()],
            short_datasets: vec!["medium 1k".into(), "medium 1M".into()],
            algos: vec![
                "fqi q_init=optimistic".into(),
                "fqi q_init=random".into(),
                "fqi q_init=zero".into(),
            ],
            cells: vec![
                vec![cell(10.0), cell(20.0), cell(30.0)],
                vec![cell(90.0), None, cell(80.0)],
            ],
        }
    }

    #[test]
    fn score_grid_keeps_the_lecture_layout_where_it_fits() {
        let grid = score_grid(&table(), 120);
        assert_eq!(grid.corner, "dataset");
        assert_eq!(grid.columns.len(), 3);
        // One environment: its name would tell no row apart.
        assert_eq!(grid.rows[0].0, "medium 1k");
        assert_eq!(grid.rows[0].1[2], ("30.0 ± 0.0".to_string(), true));
        assert_eq!(grid.rows[1].1[1], ("–".to_string(), false));
        assert_eq!(grid.rows[1].1[0], ("90.0 ± 0.0".to_string(), true));
    }

    #[test]
    fn score_grid_turns_long_algorithm_names_into_rows() {
        let grid = score_grid(&table(), 50);
        assert_eq!(grid.corner, "algorithm");
        assert_eq!(grid.columns, vec!["medium 1k", "medium 1M"]);
        assert_eq!(grid.rows[2].0, "fqi q_init=zero");
        // The best of each dataset stays marked, now down a column.
        assert!(grid.rows[2].1[0].1 && grid.rows[0].1[1].1);
        let width = grid.label_width + grid.widths.iter().map(|w| w + 1).sum::<usize>();
        assert!(width <= 50, "{width}");
    }
}
