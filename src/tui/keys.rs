//! The dashboard's keys, declared per pane (gitui's components): each pane
//! lists the commands it offers, with the keys, the help text and the
//! footer's short form. These tables are the single source of the
//! dispatch, the footer (the focused pane's keys) and the help screen (all
//! of them), so the three cannot disagree; whether a command is available
//! right now is the state's business ([`App::availability`](super::App::availability)).

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

    /// The commands this pane offers (besides the [`GENERAL`] ones).
    pub fn keys(self) -> &'static [Binding] {
        match self {
            Pane::Runs => RUNS,
            Pane::Chart => CHART,
            Pane::Scores => SCORES,
            Pane::Detail => DETAIL,
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

const fn bind(
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

/// The runs table: selection, the selected run's controls, filter and sort.
#[rustfmt::skip]
pub const RUNS: &[Binding] = &[
    bind(&[KeyCode::Up, K('k')], "↑ k", Command::Up, "previous run", None, "runs"),
    bind(&[KeyCode::Down, K('j')], "↓ j", Command::Down, "next run", None, "runs"),
    bind(&[KeyCode::PageUp], "PgUp", Command::PageUp, "ten rows up", None, "runs"),
    bind(&[KeyCode::PageDown], "PgDn", Command::PageDown, "ten rows down", None, "runs"),
    bind(&[KeyCode::Home], "Home", Command::First, "first row", None, "runs"),
    bind(&[KeyCode::End], "End", Command::Last, "last row", None, "runs"),
    bind(&[K(' ')], "space", Command::PauseResume, "pause / resume the selected run", Some("␣ pause"), "runs"),
    bind(&[K('x')], "x", Command::Cancel, "cancel the selected run", Some("x cancel"), "runs"),
    bind(&[K('r')], "r", Command::Rerun, "rerun the selected run from scratch", Some("r rerun"), "runs"),
    bind(&[K('a')], "a", Command::StartWaiting, "start the runs waiting for a start (--no-autostart)", None, "runs"),
    bind(&[K('/')], "/", Command::Filter, "filter: words match spec, env, algo, dataset, status", Some("/ filter"), "runs"),
    bind(&[K('s')], "s", Command::SortNext, "sort by the next column", Some("s sort"), "runs"),
    bind(&[K('S')], "S", Command::SortReverse, "reverse the sort", None, "runs"),
    bind(&[K('g')], "g", Command::Group, "group by spec on / off", None, "runs"),
    bind(&[K('m')], "m", Command::Mark, "mark / unmark the run for the chart", Some("m mark"), "runs"),
    bind(&[K('M')], "M", Command::ClearMarks, "clear the marks", None, "runs"),
];

/// The overestimation chart: cursor, smoothing, axes, colours, export
/// (`↑↓` move the selected run, as in the runs table: the chart follows it).
#[rustfmt::skip]
pub const CHART: &[Binding] = &[
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

/// The score table scrolls: rows, and columns where they do not all fit.
#[rustfmt::skip]
pub const SCORES: &[Binding] = &[
    bind(&[KeyCode::Up, K('k')], "↑ k", Command::Up, "scroll up", Some("↑↓ scroll"), "scores"),
    bind(&[KeyCode::Down, K('j')], "↓ j", Command::Down, "scroll down", None, "scores"),
    bind(&[KeyCode::PageUp], "PgUp", Command::PageUp, "ten rows up", None, "scores"),
    bind(&[KeyCode::PageDown], "PgDn", Command::PageDown, "ten rows down", None, "scores"),
    bind(&[KeyCode::Home], "Home", Command::First, "first row", None, "scores"),
    bind(&[KeyCode::End], "End", Command::Last, "last row", None, "scores"),
    bind(&[KeyCode::Left, K('h')], "← h", Command::CursorLeft, "earlier columns, where they do not all fit", Some("←→ columns"), "scores"),
    bind(&[KeyCode::Right, K('l')], "→ l", Command::CursorRight, "later columns", None, "scores"),
];

/// The run detail: the heatmap's two pictures, and the run's controls.
#[rustfmt::skip]
pub const DETAIL: &[Binding] = &[
    bind(&[KeyCode::Up, K('k')], "↑ k", Command::Up, "previous run (the detail follows it)", None, "detail"),
    bind(&[KeyCode::Down, K('j')], "↓ j", Command::Down, "next run (the detail follows it)", None, "detail"),
    bind(&[K('o')], "o", Command::Overestimation, "heatmap: max_a Q / overestimation max_a Q − V^π", Some("o overest."), "detail"),
    bind(&[K(' ')], "space", Command::PauseResume, "pause / resume the selected run", Some("␣ pause"), "detail"),
    bind(&[K('x')], "x", Command::Cancel, "cancel the selected run", Some("x cancel"), "detail"),
    bind(&[K('r')], "r", Command::Rerun, "rerun the selected run from scratch", Some("r rerun"), "detail"),
];

/// Every pane's table, in the help's order (general first).
pub const PANES: [&[Binding]; 5] = [GENERAL, RUNS, CHART, SCORES, DETAIL];

/// Every binding of every pane, in the help's order. A key means one
/// command wherever it is bound (`↑` is "up" in every pane; what up moves
/// depends on the pane).
pub static BINDINGS: std::sync::LazyLock<Vec<Binding>> =
    std::sync::LazyLock::new(|| PANES.iter().flat_map(|t| t.iter().copied()).collect());

/// The binding of a key in `pane`: the pane's own first, then the general
/// ones, then any other pane's (every key works from every pane, as the
/// docs/dashboard.md lists them; the focused pane only decides what it means).
pub fn binding_in(pane: Pane, code: KeyCode) -> Option<&'static Binding> {
    let find = |table: &'static [Binding]| table.iter().find(|b| b.keys.contains(&code));
    find(pane.keys())
        .or_else(|| find(GENERAL))
        .or_else(|| PANES.iter().find_map(|t| find(t)))
}

/// The binding of a key, in whatever pane.
pub fn binding(code: KeyCode) -> Option<&'static Binding> {
    BINDINGS.iter().find(|b| b.keys.contains(&code))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pane_binds_each_key_once_and_a_key_means_one_command_everywhere() {
        for table in PANES {
            for (i, b) in table.iter().enumerate() {
                for code in b.keys {
                    let first = table.iter().position(|o| o.keys.contains(code));
                    assert_eq!(first, Some(i), "{code:?} bound twice in {}", b.section);
                    assert_eq!(binding(*code).unwrap().command, b.command, "{code:?}");
                }
            }
        }
    }

    #[test]
    fn the_focused_pane_decides_what_a_key_means() {
        assert_eq!(
            binding_in(Pane::Scores, KeyCode::Up).unwrap().section,
            "scores"
        );
        assert_eq!(binding_in(Pane::Runs, KeyCode::Up).unwrap().section, "runs");
        // Chart keys work from the runs table too.
        assert_eq!(
            binding_in(Pane::Runs, K('y')).unwrap().command,
            Command::Scale
        );
        assert_eq!(binding_in(Pane::Detail, K('o')).unwrap().section, "detail");
        assert!(binding_in(Pane::Runs, K('Q')).is_none());
    }
}
