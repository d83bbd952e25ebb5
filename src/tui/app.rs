//! The dashboard's state and its key bindings: pure logic, no terminal, so
//! every screen and every key is testable (see the snapshot tests).

use crate::experiment::{RunConfig, RunId, RunStatus, RunView, SpecView};
use crate::present::Labels;
use crate::present::scores::ScoreTable;
use crossterm::event::KeyCode::Char as K;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;

/// Which pane has the keyboard (its border is bold; `z` zooms it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Runs,
    Chart,
    Scores,
}

impl Pane {
    fn next(self) -> Pane {
        match self {
            Pane::Runs => Pane::Chart,
            Pane::Chart => Pane::Scores,
            Pane::Scores => Pane::Runs,
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
}

/// One key binding. [`BINDINGS`] is the single source of the dispatch, the
/// footer and the help screen (gitui's habit), so they cannot disagree.
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
    /// The help screen's section.
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

#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind(&[K('q')], "q / Ctrl-C", Command::Quit, "quit (running runs checkpoint and resume next time)", Some("q quit"), "general"),
    bind(&[K('?')], "?", Command::Help, "this help (↑↓ scroll, any other key closes)", Some("? help"), "general"),
    bind(&[KeyCode::Tab], "Tab", Command::NextPane, "next pane: runs, chart, scores", Some("Tab pane"), "general"),
    bind(&[KeyCode::BackTab], "Shift-Tab", Command::PreviousPane, "previous pane", None, "general"),
    bind(&[K('z')], "z", Command::Zoom, "zoom the focused pane to the whole screen", Some("z zoom"), "general"),
    bind(&[KeyCode::Enter], "Enter", Command::Detail, "run detail: config, Q/policy heatmap, log, error", Some("⏎ detail"), "general"),
    bind(&[KeyCode::Esc], "Esc", Command::Back, "back: close detail or zoom, clear filter, hide cursor", None, "general"),
    bind(&[KeyCode::Up, K('k')], "↑ k", Command::Up, "previous run (scores pane: scroll up)", None, "runs"),
    bind(&[KeyCode::Down, K('j')], "↓ j", Command::Down, "next run (scores pane: scroll down)", None, "runs"),
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
    bind(&[K('m')], "m", Command::Mark, "mark / unmark the run for the chart", None, "runs"),
    bind(&[K('M')], "M", Command::ClearMarks, "clear the marks", None, "runs"),
    bind(&[KeyCode::Left, K('h')], "← h", Command::CursorLeft, "chart cursor: previous eval point", None, "chart"),
    bind(&[KeyCode::Right, K('l')], "→ l", Command::CursorRight, "chart cursor: next eval point", None, "chart"),
    bind(&[K('[')], "[", Command::LessSmoothing, "less smoothing", None, "chart"),
    bind(&[K(']')], "]", Command::MoreSmoothing, "more smoothing (EMA; the raw curve faint behind)", None, "chart"),
    bind(&[K('y')], "y", Command::Scale, "y axis: symlog / linear", None, "chart"),
    bind(&[K('w')], "w", Command::XAxis, "x axis: iterations / wall time", None, "chart"),
    bind(&[K('c')], "c", Command::ColourBy, "colour by dataset / by algorithm", None, "chart"),
    bind(&[K('b')], "b", Command::PerSize, "per-dataset-size view of one algorithm (the BEAR figure)", None, "chart"),
    bind(&[K('e')], "e", Command::Export, "export the chart as SVG next to the runs", Some("e export"), "chart"),
];

/// The binding of a key, if any.
pub fn binding(code: KeyCode) -> Option<&'static Binding> {
    BINDINGS.iter().find(|b| b.keys.contains(&code))
}

/// The runs table's sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Spec,
    Env,
    Algo,
    Dataset,
    Seed,
    Status,
    Progress,
    Return,
    QEst,
    Gap,
    Score,
}

impl SortKey {
    pub const ALL: [SortKey; 11] = [
        SortKey::Spec,
        SortKey::Env,
        SortKey::Algo,
        SortKey::Dataset,
        SortKey::Seed,
        SortKey::Status,
        SortKey::Progress,
        SortKey::Return,
        SortKey::QEst,
        SortKey::Gap,
        SortKey::Score,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Spec => "spec",
            SortKey::Env => "env",
            SortKey::Algo => "algo",
            SortKey::Dataset => "dataset",
            SortKey::Seed => "seed",
            SortKey::Status => "status",
            SortKey::Progress => "progress",
            SortKey::Return => "return",
            SortKey::QEst => "q_est",
            SortKey::Gap => "gap",
            SortKey::Score => "score",
        }
    }
}

/// How the overestimation chart is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartOptions {
    /// Exponential moving average weight (TensorBoard's smoothing), 0..0.95.
    pub smoothing: f64,
    pub symlog: bool,
    /// x axis: wall time instead of iterations.
    pub wall_time: bool,
    /// Colour curves by algorithm instead of by dataset size.
    pub colour_by_algo: bool,
    /// The BEAR figure: one panel for return, one for Q, a line per dataset size.
    pub per_size: bool,
    /// Index into the x positions of the cursor, when shown.
    pub cursor: Option<usize>,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            smoothing: 0.0,
            symlog: true,
            wall_time: false,
            colour_by_algo: false,
            per_size: false,
            cursor: None,
        }
    }
}

/// What a key asks the outside world (the session) to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    Quit,
    Pause(RunId),
    Resume(RunId),
    Cancel(RunId),
    Rerun(RunId),
    StartQueued,
    /// Export the current chart as SVG.
    Export,
}

/// Everything the dashboard shows and how.
#[derive(Debug, Clone)]
pub struct App {
    pub runs: Vec<RunView>,
    pub specs: Vec<SpecView>,
    /// Per spec, the names that tell its runs apart (what varies among them).
    pub spec_labels: BTreeMap<String, Labels>,
    pub pane: Pane,
    /// Index into [`App::visible_runs`].
    pub selected: usize,
    pub sort: SortKey,
    pub descending: bool,
    pub group_by_spec: bool,
    pub filter: String,
    /// Typing a filter after `/`.
    pub editing_filter: bool,
    /// Runs marked for the chart (empty: the selected run's spec).
    pub marked: Vec<RunId>,
    pub chart: ChartOptions,
    pub show_help: bool,
    /// First line of the help shown (it scrolls on short terminals).
    pub help_offset: usize,
    pub detail: bool,
    /// The focused pane fills the screen.
    pub zoom: bool,
    /// First row of the score table shown.
    pub score_offset: usize,
    /// A finished run `r` was pressed on once (a second `r` reruns it).
    pub confirm_rerun: Option<RunId>,
    /// A one-line message for the footer (export result, errors).
    pub message: Option<String>,
    /// Log tail of the selected run, filled by the caller for the detail view.
    pub log_tail: Vec<String>,
    /// Where the detail view's Q table and policy came from.
    pub detail_data: Option<DetailData>,
    pub no_color: bool,
    /// The chart's decimated curves from earlier frames.
    pub cuts: super::chart::CutCache,
}

/// The selected run's learned Q table and policy, for the heatmap.
#[derive(Debug, Clone)]
pub struct DetailData {
    pub q: ndarray::Array2<f64>,
    pub policy: ndarray::Array2<f64>,
}

impl Default for App {
    fn default() -> Self {
        App {
            runs: Vec::new(),
            specs: Vec::new(),
            spec_labels: BTreeMap::new(),
            pane: Pane::Runs,
            selected: 0,
            sort: SortKey::Spec,
            descending: false,
            group_by_spec: true,
            filter: String::new(),
            editing_filter: false,
            marked: Vec::new(),
            chart: ChartOptions::default(),
            show_help: false,
            help_offset: 0,
            detail: false,
            zoom: false,
            score_offset: 0,
            confirm_rerun: None,
            message: None,
            log_tail: Vec::new(),
            detail_data: None,
            no_color: false,
            cuts: Default::default(),
        }
    }
}

fn cmp_f64(a: f64, b: f64) -> std::cmp::Ordering {
    // NaN (no value yet) sorts last.
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.total_cmp(&b),
    }
}

fn latest(run: &RunView, f: impl Fn(&crate::eval::Metrics) -> f64) -> f64 {
    run.latest.as_ref().map_or(f64::NAN, f)
}

impl App {
    /// Replaces the data, keeping the cursor on the same run.
    pub fn update(&mut self, runs: Vec<RunView>, specs: Vec<SpecView>) {
        let current = self.selected_run().map(|r| r.id.clone());
        let mut by_spec: BTreeMap<&str, Vec<&RunConfig>> = BTreeMap::new();
        for r in &runs {
            by_spec.entry(&r.config.spec).or_default().push(&r.config);
        }
        self.spec_labels = by_spec
            .into_iter()
            .map(|(spec, configs)| (spec.to_string(), Labels::new(configs)))
            .collect();
        self.runs = runs;
        self.specs = specs;
        if let Some(id) = current
            && let Some(i) = self.visible_runs().iter().position(|r| r.id == id)
        {
            self.selected = i;
        }
        self.clamp();
    }

    /// The labels of a run's spec.
    pub fn labels(&self, config: &RunConfig) -> &Labels {
        static NONE: std::sync::LazyLock<Labels> = std::sync::LazyLock::new(Labels::default);
        self.spec_labels.get(&config.spec).unwrap_or(&NONE)
    }

    /// The score table of the selected run's spec (its visible runs).
    pub fn score_table(&self) -> ScoreTable {
        let spec = self.selected_run().map(|r| r.config.spec.clone());
        ScoreTable::build(
            self.visible_runs()
                .into_iter()
                .filter(|r| Some(&r.config.spec) == spec.as_ref())
                .map(|r| (&*r.config, r.status, r.latest.as_ref())),
        )
    }

    fn clamp(&mut self) {
        let n = self.visible_runs().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// Whether `run` passes the filter: every word must appear in its spec,
    /// env, algo, dataset or status.
    fn matches(&self, run: &RunView) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let haystack = format!(
            "{} {} {} {} {} seed={}",
            run.config.spec,
            run.config.env,
            self.labels(&run.config).algo(&run.config),
            self.labels(&run.config).dataset(&run.config),
            run.status,
            run.config.seed
        )
        .to_lowercase();
        self.filter
            .to_lowercase()
            .split_whitespace()
            .all(|w| haystack.contains(w))
    }

    /// The runs table's rows: filtered, then sorted (by spec first when grouped).
    pub fn visible_runs(&self) -> Vec<&RunView> {
        let mut rows: Vec<&RunView> = self.runs.iter().filter(|r| self.matches(r)).collect();
        let key = self.sort;
        rows.sort_by(|a, b| {
            let group = if self.group_by_spec {
                a.config.spec.cmp(&b.config.spec)
            } else {
                std::cmp::Ordering::Equal
            };
            let order = match key {
                SortKey::Spec => a.config.spec.cmp(&b.config.spec),
                SortKey::Env => a.config.env.cmp(&b.config.env),
                SortKey::Algo => self
                    .labels(&a.config)
                    .algo(&a.config)
                    .cmp(&self.labels(&b.config).algo(&b.config)),
                SortKey::Dataset => dataset_order(a).cmp(&dataset_order(b)),
                SortKey::Seed => a.config.seed.cmp(&b.config.seed),
                SortKey::Status => a.status.cmp(&b.status),
                SortKey::Progress => cmp_f64(progress(a), progress(b)),
                SortKey::Return => {
                    cmp_f64(latest(a, |m| m.true_return), latest(b, |m| m.true_return))
                }
                SortKey::QEst => cmp_f64(latest(a, |m| m.q_est), latest(b, |m| m.q_est)),
                SortKey::Gap => cmp_f64(latest(a, |m| m.gap), latest(b, |m| m.gap)),
                SortKey::Score => cmp_f64(
                    latest(a, |m| m.normalized_score),
                    latest(b, |m| m.normalized_score),
                ),
            };
            let order = if self.descending {
                order.reverse()
            } else {
                order
            };
            group.then(order)
        });
        rows
    }

    pub fn selected_run(&self) -> Option<&RunView> {
        self.visible_runs().get(self.selected).copied()
    }

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
        if !self.chart.per_size {
            runs.truncate(MAX_CHART_RUNS);
        }
        let hidden = all - runs.len();
        (runs, hidden)
    }

    fn chart_candidates(&self) -> Vec<&RunView> {
        if !self.marked.is_empty() {
            return self
                .runs
                .iter()
                .filter(|r| self.marked.contains(&r.id))
                .collect();
        }
        let Some(selected) = self.selected_run() else {
            return Vec::new();
        };
        // One algorithm, coloured by dataset (the BEAR figure), unless the
        // colours tell algorithms apart.
        let spec = &selected.config.spec;
        let algo = (self.chart.per_size || !self.chart.colour_by_algo)
            .then(|| self.labels(&selected.config).algo(&selected.config));
        self.visible_runs()
            .into_iter()
            .filter(|r| {
                r.config.spec == *spec
                    && algo
                        .as_ref()
                        .is_none_or(|a| *a == self.labels(&r.config).algo(&r.config))
            })
            .collect()
    }

    /// Applies one key; returns what the session should do.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if self.editing_filter {
            match key.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.editing_filter = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) if !c.is_control() => self.filter.push(c),
                _ => {}
            }
            self.selected = 0;
            self.clamp();
            return Action::None;
        }
        if self.show_help {
            // The help scrolls with the arrows; any other key closes it.
            match key.code {
                KeyCode::Up | KeyCode::Char('k') => {
                    self.help_offset = self.help_offset.saturating_sub(1)
                }
                KeyCode::Down | KeyCode::Char('j') => self.help_offset += 1,
                _ => self.show_help = false,
            }
            return Action::None;
        }
        self.message = None;
        let command = binding(key.code).map(|b| b.command);
        if command != Some(Command::Rerun) {
            self.confirm_rerun = None;
        }
        command.map_or(Action::None, |c| self.apply(c))
    }

    /// Carries out one command of [`BINDINGS`].
    fn apply(&mut self, command: Command) -> Action {
        let selected = self.selected_run().map(|r| (r.id.clone(), r.status));
        match command {
            Command::Quit => return Action::Quit,
            Command::Help => {
                self.show_help = true;
                self.help_offset = 0;
            }
            Command::Up => self.scroll(-1),
            Command::Down => self.scroll(1),
            Command::PageUp => self.scroll(-10),
            Command::PageDown => self.scroll(10),
            Command::First => self.scroll(isize::MIN),
            Command::Last => self.scroll(isize::MAX),
            Command::Detail => self.detail = !self.detail,
            Command::Back => {
                if self.detail {
                    self.detail = false;
                } else if self.zoom {
                    self.zoom = false;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    self.clamp();
                } else {
                    self.chart.cursor = None;
                }
            }
            Command::NextPane => self.pane = self.pane.next(),
            Command::PreviousPane => self.pane = self.pane.next().next(),
            Command::Zoom => self.zoom = !self.zoom,
            Command::CursorLeft => self.move_cursor(-1),
            Command::CursorRight => self.move_cursor(1),
            Command::Filter => self.editing_filter = true,
            Command::SortNext => {
                let i = SortKey::ALL
                    .iter()
                    .position(|k| *k == self.sort)
                    .unwrap_or(0);
                self.sort = SortKey::ALL[(i + 1) % SortKey::ALL.len()];
            }
            Command::SortReverse => self.descending = !self.descending,
            Command::Group => self.group_by_spec = !self.group_by_spec,
            Command::Mark => {
                if let Some((id, _)) = selected {
                    match self.marked.iter().position(|m| *m == id) {
                        Some(i) => {
                            self.marked.remove(i);
                        }
                        None => self.marked.push(id),
                    }
                }
            }
            Command::ClearMarks => self.marked.clear(),
            Command::ColourBy => self.chart.colour_by_algo = !self.chart.colour_by_algo,
            Command::Scale => self.chart.symlog = !self.chart.symlog,
            Command::XAxis => self.chart.wall_time = !self.chart.wall_time,
            Command::PerSize => self.chart.per_size = !self.chart.per_size,
            Command::LessSmoothing => self.chart.smoothing = (self.chart.smoothing - 0.1).max(0.0),
            Command::MoreSmoothing => self.chart.smoothing = (self.chart.smoothing + 0.1).min(0.95),
            Command::Export => return Action::Export,
            Command::StartWaiting => return Action::StartQueued,
            Command::PauseResume => {
                if let Some((id, status)) = selected {
                    return match status {
                        RunStatus::Running | RunStatus::Queued => Action::Pause(id),
                        RunStatus::Paused | RunStatus::Waiting => Action::Resume(id),
                        _ => Action::None,
                    };
                }
            }
            Command::Cancel => {
                if let Some((id, status)) = selected
                    && !status.is_final()
                {
                    return Action::Cancel(id);
                }
            }
            Command::Rerun => {
                // A finished run's results are thrown away: ask once more.
                if let Some((id, status)) = selected {
                    if !status.is_final() || self.confirm_rerun.as_ref() == Some(&id) {
                        self.confirm_rerun = None;
                        return Action::Rerun(id);
                    }
                    self.message = Some(format!(
                        "r again reruns {id} from scratch, discarding its results"
                    ));
                    self.confirm_rerun = Some(id);
                    return Action::None;
                }
            }
        }
        Action::None
    }

    /// Moves through the focused pane's rows: the score table scrolls, the
    /// other panes move the selected run (the chart follows it).
    fn scroll(&mut self, step: isize) {
        let runs = self.visible_runs().len();
        let (position, len) = match self.pane {
            Pane::Scores => (&mut self.score_offset, usize::MAX),
            Pane::Runs | Pane::Chart => (&mut self.selected, runs),
        };
        let moved = position.saturating_add_signed(step);
        *position = moved.min(len.saturating_sub(1));
    }

    /// Moves the chart's cursor over the eval points of the charted runs.
    fn move_cursor(&mut self, step: isize) {
        let points = self
            .chart_runs()
            .iter()
            .map(|r| r.history.len())
            .max()
            .unwrap_or(0);
        if points == 0 {
            return;
        }
        let at = match self.chart.cursor {
            None => points as isize - 1,
            Some(c) => c as isize + step,
        };
        self.chart.cursor = Some(at.clamp(0, points as isize - 1) as usize);
    }
}

/// Most runs drawn at once when none are marked (a legend must stay readable).
pub const MAX_CHART_RUNS: usize = 16;

/// Fraction of iterations done.
pub fn progress(run: &RunView) -> f64 {
    if run.status == RunStatus::Done {
        return 1.0;
    }
    let p = run.progress;
    if p.total == 0 {
        0.0
    } else {
        p.iteration as f64 / p.total as f64
    }
}

fn dataset_order(run: &RunView) -> (String, u64) {
    match &run.config.dataset {
        crate::experiment::DatasetSource::Collect { policy, size, .. } => {
            (policy.name().to_string(), *size)
        }
        crate::experiment::DatasetSource::File { path, .. } => (path.display().to_string(), 0),
    }
}

/// Removes escape sequences and control characters from text that comes
/// from files (run names, error messages), so nothing can drive the terminal.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Parses `--keys` text: characters as they are, and `<enter>`, `<tab>`,
/// `<esc>`, `<space>`, `<up>`, `<down>`, `<left>`, `<right>`, `<bs>`,
/// `<home>`, `<end>`, `<pgup>`, `<pgdn>`, `<backtab>` in angle brackets.
pub fn parse_keys(text: &str) -> Result<Vec<KeyEvent>, String> {
    let mut keys = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' && chars.peek().is_some_and(|n| n.is_ascii_alphabetic()) {
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
