//! Drawing the dashboard from an [`App`]: the frame's layout, header, spec
//! errors and footer here, and the styles the panes share; each pane draws
//! itself (`draw` in its file under [`pane`](super::pane)). Nothing here
//! or there reads files or the clock
//! or computes what the state already holds (rows, score tables, the
//! detail's environment and overestimation), so a given `App` always draws
//! the same frame (the snapshot tests rely on it).

use super::app::{App, Pane, sanitize};
use super::keys;
use super::pane::{Owner, chart, detail, help, runs, scores};
use crate::experiment::RunStatus;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// Colours of the 16-colour palette every terminal has.
pub(crate) const PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::Green,
    Color::Magenta,
    Color::LightBlue,
    Color::LightRed,
    Color::LightGreen,
    Color::LightYellow,
];

/// The footer's entries: the general keys', then the focused pane's short
/// forms, in table order, as many as fit in `width`; each with whether it
/// is available now (an unavailable one is drawn dim).
pub fn footer_items(app: &App, width: usize) -> Vec<(&'static str, bool)> {
    let mut items = Vec::new();
    let mut used = 0;
    let pane = app.focus();
    let focused = pane.keys().iter().map(|b| (Owner::Pane(pane), b));
    let general = keys::GENERAL.iter().map(|b| (Owner::Global, b));
    for (owner, b) in general.chain(focused) {
        let Some(text) = b.footer else { continue };
        let needed = used + 2 + text.chars().count();
        if needed > width {
            break;
        }
        used = needed;
        items.push((text, app.availability_of(owner, b.command).is_ok()));
    }
    items
}

pub(crate) fn colour(app: &App, i: usize) -> Style {
    if app.screen.no_color {
        Style::default()
    } else {
        Style::default().fg(PALETTE[i % PALETTE.len()])
    }
}

pub(crate) fn status_style(app: &App, s: RunStatus) -> Style {
    if app.screen.no_color {
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

pub(crate) fn focused(app: &App, pane: Pane, title: String) -> Block<'static> {
    let block = Block::default().borders(Borders::ALL).title(title);
    if app.screen.pane == pane {
        block.border_style(Style::default().add_modifier(Modifier::BOLD))
    } else if app.screen.no_color {
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
    // And what a spec still waits for ("hashing big.csv 42%").
    let errors: Vec<String> = app
        .store()
        .specs
        .iter()
        .filter_map(|s| {
            let loading = s.loading.as_ref().map(|l| {
                format!(
                    "… {}: {}",
                    sanitize(&s.path.display().to_string()),
                    sanitize(l)
                )
            });
            s.error
                .as_ref()
                .map(|e| format!("✗ {}", sanitize(&e.to_string())))
                .or(loading)
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
    if app.detail.open {
        detail::draw(frame, app, rows[2]);
    } else {
        draw_main(frame, app, rows[2]);
    }
    draw_footer(frame, app, rows[3]);
    if app.help.open {
        help::draw(frame, app, area);
    }
}

/// Splits `text` into lines of at most `width` characters, at spaces where
/// it can.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
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

/// `text` in at most `width` characters: its start and end, `…` between.
pub(crate) fn shorten_middle(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

fn draw_header(frame: &mut Frame, app: &App, area: Rect) {
    let store = app.store();
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
        let n = store.count(status);
        let always = matches!(
            status,
            RunStatus::Running | RunStatus::Queued | RunStatus::Done
        );
        if always || n > 0 {
            states.push(format!("{n} {status}"));
        }
    }
    // Runs per spec; one configuration listed by several specs is one
    // training, said so.
    let shared = match store.shared_runs {
        0 => String::new(),
        n => format!(" ({n} shared by specs, trained once)"),
    };
    let text = format!(
        " pessimist │ {} · {}{shared}: {}",
        plural(store.specs.len(), "spec"),
        plural(store.runs.len(), "run"),
        states.join(", ")
    );
    bar_line(frame, app, area, text, Color::Blue);
}

/// A full-width line in reverse video: the header and the footer.
pub(crate) fn bar_line(frame: &mut Frame, app: &App, area: Rect, text: String, background: Color) {
    let style = styled(
        app,
        Style::default().bg(background).fg(Color::White),
        Style::default().add_modifier(Modifier::REVERSED),
    );
    frame.render_widget(Paragraph::new(text).style(style), area);
}

/// Errors: red, or bold without colour.
pub(crate) fn error_style(app: &App) -> Style {
    styled(
        app,
        Style::default().fg(Color::Red),
        Style::default().add_modifier(Modifier::BOLD),
    )
}

/// `coloured` normally, `mono` under NO_COLOR.
pub(crate) fn styled(app: &App, coloured: Style, mono: Style) -> Style {
    if app.screen.no_color { mono } else { coloured }
}

fn draw_footer(frame: &mut Frame, app: &App, area: Rect) {
    let text = if app.editing_filter() {
        format!(
            " filter: {}▏  (Enter apply, Esc clear)",
            sanitize(app.filter())
        )
    } else if let Some(m) = &app.message {
        format!(" {}", sanitize(m))
    } else {
        let style = styled(
            app,
            Style::default().bg(Color::DarkGray).fg(Color::White),
            Style::default().add_modifier(Modifier::REVERSED),
        );
        let disabled = styled(
            app,
            style.fg(Color::Gray).add_modifier(Modifier::DIM),
            style.add_modifier(Modifier::DIM),
        );
        let mut spans = Vec::new();
        for (text, available) in footer_items(app, area.width as usize) {
            spans.push(Span::styled(
                if spans.is_empty() { " " } else { "  " },
                style,
            ));
            spans.push(Span::styled(text, if available { style } else { disabled }));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)).style(style), area);
        return;
    };
    bar_line(frame, app, area, text, Color::DarkGray);
}

fn draw_main(frame: &mut Frame, app: &App, area: Rect) {
    if app.screen.zoom {
        match app.screen.pane {
            Pane::Runs | Pane::Detail => runs::draw(frame, app, area),
            Pane::Chart => chart::draw(frame, app, area),
            Pane::Scores => scores::draw(frame, app, area),
        }
        return;
    }
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
        .split(area);
    runs::draw(frame, app, parts[0]);
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
    chart::draw(frame, app, bottom[0]);
    // Beside the chart, the score table takes the height it needs and the
    // selected run's numbers the rest (where they get a few lines).
    let needed = scores::height(app, bottom[1].width);
    if wide && needed + RUN_CARD_MIN_HEIGHT <= bottom[1].height {
        let right = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Length(needed), Constraint::Min(0)])
            .split(bottom[1]);
        scores::draw(frame, app, right[0]);
        detail::draw_run_card(frame, app, right[1]);
    } else {
        scores::draw(frame, app, bottom[1]);
    }
}

/// The fewest lines the selected run's card is drawn in.
const RUN_CARD_MIN_HEIGHT: u16 = 6;

/// What the learner believes, or `diverged` where Q overflowed (NaN, ±∞).
pub(crate) fn estimate(v: f64) -> String {
    if v.is_finite() {
        fmt(Some(v), 3)
    } else {
        "diverged".into()
    }
}

pub(crate) fn fmt(v: Option<f64>, precision: usize) -> String {
    match v {
        Some(x) if x.is_finite() && x.abs() >= 1e6 => format!("{x:.2e}"),
        Some(x) if x.is_finite() => format!("{x:.precision$}"),
        Some(x) if x.is_nan() => "nan".into(),
        Some(x) => format!("{x}"),
        None => "-".into(),
    }
}
