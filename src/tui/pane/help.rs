//! The help overlay: every pane's keys by pane, generated from the
//! panes' tables ([`BINDINGS`]), then notes on reading the screen. While
//! open it has the keyboard: the arrows scroll it, any other key closes it.

use super::BINDINGS;
use crate::tui::app::App;
use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// Whether the help is open, and how far it is scrolled.
#[derive(Debug, Clone, Default)]
pub struct HelpPane {
    pub open: bool,
    /// First line shown (it scrolls on short terminals).
    pub offset: usize,
}

impl HelpPane {
    /// Opens the help at its top.
    pub fn show(&mut self) {
        self.open = true;
        self.offset = 0;
    }

    /// A key while open: the arrows scroll, any other key closes.
    pub fn key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.offset = self.offset.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.offset += 1,
            _ => self.open = false,
        }
    }
}

/// What the help says beside the keys.
const NOTES: [(&str, &str); 9] = [
    ("runs", "J = discounted return J(π), what Q estimates;"),
    ("", "R = one episode's return within the time limit;"),
    ("", "gapᶜ = q_est − J on the start states the data visits,"),
    (
        "",
        "where it misses some (their Q is a convention, not a guess)",
    ),
    (
        "chart",
        "solid = Q estimate (q_est), dots = discounted J(π)",
    ),
    ("", "the gap between them is the overestimation"),
    (
        "scores",
        "D4RL's normalized score of R, mean ± std; best bold",
    ),
    (
        "status",
        "queued running paused waiting done diverged failed cancelled",
    ),
    ("NO_COLOR", "set it for a monochrome dashboard"),
];

/// The help screen's lines: every pane's bindings by pane, then the notes.
pub fn help_lines() -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut section = "";
    for (i, b) in BINDINGS.iter().enumerate() {
        // A key a later pane offers with the same meaning is said once.
        let said = BINDINGS[..i]
            .iter()
            .any(|o| o.command == b.command && o.help == b.help);
        if said {
            continue;
        }
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

/// Draws the help over the middle of the screen.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
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
    let offset = app.help.offset.min(lines.len().saturating_sub(shown));
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
