//! The dashboard's key vocabulary: the commands, what a binding declares
//! (keys, help text, the footer's short form), the global table, and
//! `--keys` parsing. Each pane declares its own table in its file under
//! [`pane`](super::pane), with whether each command is available now; the
//! dispatch, the footer and the help are generated from those tables, so
//! the three cannot disagree.

use crossterm::event::KeyCode::Char as K;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Which part of the screen has the keyboard: one of the three panes of the
/// main screen (its border is bold; `z` zooms it), or the run detail while
/// it is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Runs,
    Chart,
    Scores,
    Detail,
}

impl Pane {
    /// The next pane of the main screen, in `Tab` order.
    pub fn next(self) -> Pane {
        match self {
            Pane::Runs => Pane::Chart,
            Pane::Chart => Pane::Scores,
            Pane::Scores | Pane::Detail => Pane::Runs,
        }
    }
}

/// Everything a key can ask of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    Help,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    Detail,
    Back,
    NextPane,
    PreviousPane,
    Zoom,
    PauseResume,
    Cancel,
    Rerun,
    StartWaiting,
    Filter,
    SortNext,
    SortReverse,
    Group,
    Mark,
    ClearMarks,
    CursorLeft,
    CursorRight,
    LessSmoothing,
    MoreSmoothing,
    Scale,
    XAxis,
    ColourBy,
    PerSize,
    Export,
    /// The detail's heatmap: max_a Q, or the overestimation max_a Q − V^π.
    Overestimation,
    /// The detail's landscape: the next / previous pair of observation
    /// components (continuous runs of more than two).
    NextPair,
    PreviousPair,
}

/// One key binding of one pane.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [KeyCode],
    /// How the help names the keys.
    pub keys_text: &'static str,
    pub command: Command,
    pub help: &'static str,
    /// The footer's short form, for the keys the footer shows: in table
    /// order, as many as the width allows.
    pub footer: Option<&'static str>,
    /// The help screen's section (the pane's name).
    pub section: &'static str,
}

pub(crate) const fn bind(
    keys: &'static [KeyCode],
    keys_text: &'static str,
    command: Command,
    help: &'static str,
    footer: Option<&'static str>,
    section: &'static str,
) -> Binding {
    Binding {
        keys,
        keys_text,
        command,
        help,
        footer,
        section,
    }
}

/// Keys every pane offers.
#[rustfmt::skip]
pub const GENERAL: &[Binding] = &[
    bind(&[K('q')], "q / Ctrl-C", Command::Quit, "quit (running runs checkpoint and resume next time)", Some("q quit"), "general"),
    bind(&[K('?')], "?", Command::Help, "this help (↑↓ scroll, any other key closes)", Some("? help"), "general"),
    bind(&[KeyCode::Tab], "Tab", Command::NextPane, "next pane: runs, chart, scores", Some("Tab pane"), "general"),
    bind(&[KeyCode::BackTab], "Shift-Tab", Command::PreviousPane, "previous pane", None, "general"),
    bind(&[K('z')], "z", Command::Zoom, "zoom the focused pane to the whole screen", Some("z zoom"), "general"),
    bind(&[KeyCode::Enter], "Enter", Command::Detail, "run detail: config, Q/policy heatmap, log, error", Some("⏎ detail"), "general"),
    bind(&[KeyCode::Esc], "Esc", Command::Back, "back: close detail or zoom, clear filter, hide cursor", None, "general"),
];

/// Parses `--keys` text: characters as they are, and `<enter>`, `<tab>`,
/// `<esc>`, `<space>`, `<up>`, `<down>`, `<left>`, `<right>`, `<bs>`,
/// `<home>`, `<end>`, `<pgup>`, `<pgdn>`, `<backtab>` in angle brackets.
pub fn parse_keys(text: &str) -> Result<Vec<KeyEvent>, String> {
    let mut keys = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' && chars.peek().is_some_and(char::is_ascii_alphabetic) {
            let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
            let code = match name.to_ascii_lowercase().as_str() {
                "enter" | "cr" => KeyCode::Enter,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "esc" => KeyCode::Esc,
                "space" => KeyCode::Char(' '),
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "bs" | "backspace" => KeyCode::Backspace,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" => KeyCode::PageUp,
                "pgdn" => KeyCode::PageDown,
                "lt" => KeyCode::Char('<'),
                other => {
                    return Err(format!(
                        "unknown key <{other}>; valid: <enter> <tab> <backtab> <esc> <space> <up> <down> <left> <right> <bs> <home> <end> <pgup> <pgdn> <lt>"
                    ));
                }
            };
            keys.push(KeyEvent::new(code, KeyModifiers::NONE));
        } else {
            keys.push(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }
    Ok(keys)
}
