//! The dashboard's state and what keys do to it: pure logic, no terminal,
//! so every screen and every key is testable (see the snapshot tests). The
//! keys themselves are declared per pane in [`keys`](super::keys); here is
//! whether each is available now, and what it does.

use super::chart::{ChartOptions, CutCache, Revisions};
pub use super::detail::DetailData;
use super::detail::{Envs, Heatmap};
use super::keys::binding_in;
pub use super::keys::{BINDINGS, Binding, Command, Pane, binding, parse_keys};
use crate::experiment::{RunConfig, RunId, RunStatus, RunView, SpecView};
use crate::mdp::TabularMdp;
use crate::present::Labels;
use crate::present::scores::{self, RunResult, ScoreTable};
use crate::present::select::Filter;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ndarray::Array1;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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
    /// The discounted J(π) (`true_return`).
    Return,
    /// One episode's undiscounted return (`episode_return`).
    EpisodeReturn,
    QEst,
    Gap,
    Score,
}

impl SortKey {
    pub const ALL: [SortKey; 12] = [
        SortKey::Spec,
        SortKey::Env,
        SortKey::Algo,
        SortKey::Dataset,
        SortKey::Seed,
        SortKey::Status,
        SortKey::Progress,
        SortKey::Return,
        SortKey::EpisodeReturn,
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
            SortKey::Return => "J",
            SortKey::EpisodeReturn => "R",
            SortKey::QEst => "q_est",
            SortKey::Gap => "gap",
            SortKey::Score => "score",
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
    /// The focused pane of the main screen (the detail, while open, has the
    /// keyboard: see [`App::focus`]).
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
    /// Runs listed by more than one spec (each listed under every one).
    pub shared_runs: usize,
    pub chart: ChartOptions,
    pub show_help: bool,
    /// First line of the help shown (it scrolls on short terminals).
    pub help_offset: usize,
    pub detail: bool,
    /// The focused pane fills the screen.
    pub zoom: bool,
    /// First row of the score table shown.
    pub score_offset: usize,
    /// First column of the score table shown when not all fit.
    pub score_column: usize,
    /// A finished run `r` was pressed on once (a second `r` reruns it).
    pub confirm_rerun: Option<RunId>,
    /// A one-line message for the footer (export result, errors).
    pub message: Option<String>,
    /// Log tail of the selected run, filled by the caller for the detail view.
    pub log_tail: Vec<String>,
    /// Why the selected run's Q table or policy could not be read (a
    /// corrupt or oversized file), for the detail view.
    pub detail_error: Option<String>,
    /// Where the detail view's Q table and policy came from (set it with
    /// [`App::set_detail_data`], which also computes the overestimation).
    pub detail_data: Option<DetailData>,
    /// The selected run's environment while the detail is open (its grid
    /// lays out the heatmap).
    pub detail_env: Option<Arc<TabularMdp>>,
    /// Per state, max_a Q − V^π of [`App::detail_data`] (or why there is none).
    pub overestimation: Option<Result<Array1<f64>, String>>,
    /// What the detail's heatmap shows.
    pub heatmap: Heatmap,
    /// Environments the detail has built, by id.
    pub envs: Envs,
    pub no_color: bool,
    /// The chart's decimated curves from earlier frames.
    pub cuts: CutCache,
    /// Per run, the revision of its history (the key of [`App::cuts`]).
    pub revisions: Revisions,
    /// Derived once per change of the runs, filter or sort (not per frame):
    /// the runs table's rows, as indices into [`App::runs`].
    pub rows: Vec<usize>,
    /// Derived with [`App::rows`]: each spec's score table over its visible runs.
    pub scores: BTreeMap<String, ScoreTable>,
    /// Per run, the text the filter searches ([`Filter::haystack`]),
    /// derived once per change of the runs (while a filter is set), so
    /// typing only searches; empty until then.
    haystacks: Vec<String>,
    /// The filter was typed since [`App::rows`] were derived: a burst of
    /// keys (a paste) filters once, in [`App::settle`].
    rows_stale: bool,
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
            shared_runs: 0,
            chart: ChartOptions::default(),
            show_help: false,
            help_offset: 0,
            detail: false,
            zoom: false,
            score_offset: 0,
            score_column: 0,
            confirm_rerun: None,
            message: None,
            log_tail: Vec::new(),
            detail_error: None,
            detail_data: None,
            detail_env: None,
            overestimation: None,
            heatmap: Heatmap::default(),
            envs: Envs::default(),
            no_color: false,
            cuts: CutCache::default(),
            revisions: Revisions::default(),
            rows: Vec::new(),
            scores: BTreeMap::new(),
            haystacks: Vec::new(),
            rows_stale: false,
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
        // A run two specs list has a row under each: the row is its spec and id.
        let current = self
            .selected_run()
            .map(|r| (r.config.spec.clone(), r.id.clone()));
        let mut by_spec: BTreeMap<&str, Vec<&RunConfig>> = BTreeMap::new();
        for r in &runs {
            by_spec.entry(&r.config.spec).or_default().push(&r.config);
        }
        self.spec_labels = by_spec
            .into_iter()
            .map(|(spec, configs)| (spec.to_string(), Labels::new(configs)))
            .collect();
        let mut listings: HashMap<&RunId, usize> = HashMap::new();
        for r in &runs {
            *listings.entry(&r.id).or_default() += 1;
        }
        self.shared_runs = listings.values().filter(|&&n| n > 1).count();
        self.revisions.update(&self.runs, &runs);
        self.haystacks.clear();
        self.runs = runs;
        self.specs = specs;
        self.refresh();
        if let Some((spec, id)) = current
            && let Some(i) = self
                .visible_runs()
                .iter()
                .position(|r| r.id == id && r.config.spec == spec)
        {
            self.selected = i;
        }
        self.clamp();
        self.load_detail_env();
    }

    /// Recomputes what is derived from the runs, the filter and the sort:
    /// the rows and the score tables (call it after changing those fields
    /// by hand; [`App::update`] and the keys do).
    pub fn refresh(&mut self) {
        self.rows_stale = false;
        let filter = Filter::new(&self.filter);
        // Derived once per change of the runs, and only while a filter is
        // set: with none, no run's text is needed.
        if !filter.is_empty() && self.haystacks.len() != self.runs.len() {
            self.haystacks = self
                .runs
                .iter()
                .map(|r| Filter::haystack(&r.config, self.labels(&r.config), r.status))
                .collect();
        }
        let mut rows: Vec<usize> = (0..self.runs.len())
            .filter(|&i| filter.is_empty() || filter.matches_text(&self.haystacks[i]))
            .collect();
        rows.sort_by(|&a, &b| self.order(&self.runs[a], &self.runs[b]));
        self.rows = rows;
        let mut by_spec: BTreeMap<&str, Vec<&RunView>> = BTreeMap::new();
        for &i in &self.rows {
            let run = &self.runs[i];
            by_spec.entry(&run.config.spec).or_default().push(run);
        }
        self.scores = by_spec
            .into_iter()
            .map(|(spec, runs)| {
                let table = ScoreTable::build(runs.into_iter().map(|r| RunResult {
                    config: &r.config,
                    status: r.status,
                    point: scores::scoring_point(r.status, r.latest.as_ref(), || &r.history),
                    behavior: r.dataset_stats.as_ref().and_then(scores::behavior_score),
                }));
                (spec.to_string(), table)
            })
            .collect();
        self.clamp();
    }

    /// Derives the rows if the filter changed since; returns whether it had.
    pub fn settle(&mut self) -> bool {
        if !self.rows_stale {
            return false;
        }
        self.refresh();
        self.load_detail_env();
        true
    }

    /// The labels of a run's spec.
    pub fn labels(&self, config: &RunConfig) -> &Labels {
        static NONE: std::sync::LazyLock<Labels> = std::sync::LazyLock::new(Labels::default);
        self.spec_labels.get(&config.spec).unwrap_or(&NONE)
    }

    /// The score table of the selected run's spec (its visible runs).
    pub fn score_table(&self) -> &ScoreTable {
        static NONE: std::sync::LazyLock<ScoreTable> =
            std::sync::LazyLock::new(|| ScoreTable::build(std::iter::empty()));
        self.selected_run()
            .and_then(|r| self.scores.get(&r.config.spec))
            .unwrap_or(&NONE)
    }

    fn clamp(&mut self) {
        let n = self.rows.len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// The runs table's order: by spec first when grouped, then the sort key.
    fn order(&self, a: &RunView, b: &RunView) -> std::cmp::Ordering {
        let group = if self.group_by_spec {
            a.config.spec.cmp(&b.config.spec)
        } else {
            std::cmp::Ordering::Equal
        };
        let order = match self.sort {
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
            SortKey::Return => cmp_f64(latest(a, |m| m.true_return), latest(b, |m| m.true_return)),
            SortKey::EpisodeReturn => cmp_f64(
                latest(a, |m| m.episode_return),
                latest(b, |m| m.episode_return),
            ),
            SortKey::QEst => cmp_f64(latest(a, |m| m.q_est), latest(b, |m| m.q_est)),
            // As the table shows it: on the covered start states where some are missed.
            SortKey::Gap => {
                let shown = |m: &crate::eval::Metrics| m.covered_gap().unwrap_or(m.gap);
                cmp_f64(latest(a, shown), latest(b, shown))
            }
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
    }

    /// The runs table's rows: filtered, then sorted (by spec first when
    /// grouped); computed by [`App::refresh`], read here.
    pub fn visible_runs(&self) -> Vec<&RunView> {
        self.rows.iter().map(|&i| &self.runs[i]).collect()
    }

    pub fn selected_run(&self) -> Option<&RunView> {
        self.rows.get(self.selected).map(|&i| &self.runs[i])
    }

    /// Which pane has the keyboard: the detail while it is open, else the
    /// focused pane of the main screen.
    pub fn focus(&self) -> Pane {
        if self.detail { Pane::Detail } else { self.pane }
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

    /// Whether `command` does something now; if not, why (the footer shows
    /// it disabled, and pressing its key says so).
    pub fn availability(&self, command: Command) -> Result<(), String> {
        let run = self.selected_run();
        let status = run.map(|r| r.status);
        let no_run = || Err("no run selected".to_string());
        match command {
            // Enter closes an open detail even when its run is gone.
            Command::Detail if !self.detail && run.is_none() => no_run(),
            Command::Mark | Command::Rerun if run.is_none() => no_run(),
            Command::PauseResume => match status {
                None => no_run(),
                Some(s) if s.is_final() => Err(format!("the run is {s}: nothing to pause")),
                Some(_) => Ok(()),
            },
            Command::Cancel => match status {
                None => no_run(),
                Some(s) if s.is_final() => Err(format!("the run is {s}: nothing to cancel")),
                Some(_) => Ok(()),
            },
            Command::StartWaiting if !self.runs.iter().any(|r| r.status == RunStatus::Waiting) => {
                Err("no run is waiting for a start".into())
            }
            Command::ClearMarks if self.marked.is_empty() => Err("no run is marked".into()),
            // In the score table they scroll its columns.
            Command::CursorLeft | Command::CursorRight if self.focus() == Pane::Scores => Ok(()),
            Command::CursorLeft | Command::CursorRight | Command::Export
                if self.chart_runs().iter().all(|r| r.history.is_empty()) =>
            {
                Err("the chart has no eval points yet".into())
            }
            Command::LessSmoothing if self.chart.smoothing <= 0.0 => {
                Err("smoothing is already off".into())
            }
            Command::MoreSmoothing if self.chart.smoothing >= 0.95 => {
                Err("smoothing is already at its most".into())
            }
            Command::Overestimation if !self.detail => {
                Err("o: the overestimation heatmap is in the run detail (Enter)".into())
            }
            Command::Overestimation => match &self.overestimation {
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => Err(format!("no overestimation: {e}")),
                None => Err("no overestimation: the run has no Q table and policy yet, or its environment no table".into()),
            },
            _ => Ok(()),
        }
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
            self.rows_stale = true;
            if !self.editing_filter {
                // Done typing: the rows follow now, not at the next key.
                self.settle();
            }
            return Action::None;
        }
        // Any other key acts on the rows the filter leaves.
        self.settle();
        if self.show_help {
            // The help scrolls with the arrows; any other key closes it.
            match key.code {
                KeyCode::Up | KeyCode::Char('k') => {
                    self.help_offset = self.help_offset.saturating_sub(1);
                }
                KeyCode::Down | KeyCode::Char('j') => self.help_offset += 1,
                _ => self.show_help = false,
            }
            return Action::None;
        }
        self.message = None;
        let command = binding_in(self.focus(), key.code).map(|b| b.command);
        if command != Some(Command::Rerun) {
            self.confirm_rerun = None;
        }
        let Some(command) = command else {
            return Action::None;
        };
        if let Err(why) = self.availability(command) {
            self.message = Some(why);
            return Action::None;
        }
        let rows_before = (
            self.filter.clone(),
            self.sort,
            self.descending,
            self.group_by_spec,
        );
        let action = self.apply(command);
        if rows_before
            != (
                self.filter.clone(),
                self.sort,
                self.descending,
                self.group_by_spec,
            )
        {
            self.refresh();
        }
        self.load_detail_env();
        action
    }

    /// Carries out one available command.
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
                } else {
                    self.chart.cursor = None;
                }
            }
            Command::NextPane => self.pane = self.pane.next(),
            Command::PreviousPane => self.pane = self.pane.next().next(),
            Command::Zoom => self.zoom = !self.zoom,
            Command::CursorLeft if self.focus() == Pane::Scores => {
                self.score_column = self.score_column.saturating_sub(1);
            }
            // Within the wider orientation's columns; the view stops at
            // the last one that still leaves a window.
            Command::CursorRight if self.focus() == Pane::Scores => {
                let table = self.score_table();
                let columns = table.algos.len().max(table.datasets.len()) + 1;
                self.score_column = (self.score_column + 1).min(columns - 1);
            }
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
            // In hundredths, so steps of 0.1 land on 0 (not 2.8e-17, shown as 0.0).
            Command::LessSmoothing => {
                self.chart.smoothing =
                    ((self.chart.smoothing - 0.1).max(0.0) * 100.0).round() / 100.0;
            }
            Command::MoreSmoothing => {
                self.chart.smoothing =
                    ((self.chart.smoothing + 0.1).min(0.95) * 100.0).round() / 100.0;
            }
            Command::Overestimation => {
                self.heatmap = match self.heatmap {
                    Heatmap::MaxQ => Heatmap::Overestimation,
                    Heatmap::Overestimation => Heatmap::MaxQ,
                }
            }
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
                if let Some((id, _)) = selected {
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
    /// other panes move the selected run (the chart and the detail follow it).
    fn scroll(&mut self, step: isize) {
        let runs = self.rows.len();
        let (position, len) = match self.focus() {
            Pane::Scores => (&mut self.score_offset, usize::MAX),
            Pane::Runs | Pane::Chart | Pane::Detail => (&mut self.selected, runs),
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

    /// While the detail is open: the selected run's environment, built
    /// once per id (here, on a change of state, never while drawing).
    fn load_detail_env(&mut self) {
        let wanted = self
            .detail
            .then(|| self.selected_run().map(|r| r.config.env.clone()))
            .flatten();
        let same = match (&wanted, &self.detail_env) {
            (Some(id), Some(env)) => env.id() == id,
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.detail_env = wanted.and_then(|id| self.envs.get(&id));
            self.overestimation = None;
            self.compute_overestimation();
        }
    }

    /// Takes in the selected run's Q table and policy (read by the caller
    /// when the detail opens and when the run's files change); the
    /// overestimation is computed here, when they change, not per frame.
    pub fn set_detail_data(&mut self, data: Option<DetailData>) {
        self.load_detail_env();
        if data != self.detail_data || self.overestimation.is_none() {
            self.detail_data = data;
            self.compute_overestimation();
        }
    }

    fn compute_overestimation(&mut self) {
        let gamma = self.selected_run().map(|r| r.config.gamma);
        self.overestimation = match (&self.detail_env, &self.detail_data, gamma) {
            (Some(mdp), Some(data), Some(gamma)) => {
                Some(super::detail::overestimation(mdp, gamma, data))
            }
            _ => None,
        };
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
            (policy.name().clone(), *size)
        }
        crate::experiment::DatasetSource::File { path, .. } => (path.display().to_string(), 0),
    }
}

/// Shared with every text output of the command line ([`crate::text`]).
pub use crate::text::sanitize;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::chart::tests::run_view;

    fn press(app: &mut App, keys: &str) -> Action {
        let mut last = Action::None;
        for key in parse_keys(keys).unwrap() {
            last = app.handle_key(key);
        }
        last
    }

    #[test]
    fn a_key_that_does_nothing_now_says_why() {
        let mut app = App::default();
        app.update(vec![run_view("FrozenLake-v1", 1.0, 3)], Vec::new());
        assert_eq!(press(&mut app, "x"), Action::None);
        assert!(app.message.as_ref().unwrap().contains("nothing to cancel"));
        assert_eq!(press(&mut app, "["), Action::None);
        assert!(app.message.as_ref().unwrap().contains("smoothing"));
        press(&mut app, "o");
        assert!(app.message.as_ref().unwrap().contains("run detail"));
        assert_eq!(app.heatmap, Heatmap::MaxQ);
    }

    /// Smoothing up and back down lands on zero exactly: off, not a title
    /// reading `smooth 0.0` (0.1 + 0.1 − 0.1 − 0.1 is 2.8e-17 in floats).
    #[test]
    fn smoothing_steps_return_to_off() {
        let mut app = App::default();
        app.update(vec![run_view("FrozenLake-v1", 1.0, 3)], Vec::new());
        press(&mut app, "]]]]]]]]]]]");
        assert_eq!(app.chart.smoothing, 0.95);
        press(&mut app, "[[[[[[[[[[");
        assert_eq!(app.chart.smoothing, 0.0);
        assert!(app.availability(Command::LessSmoothing).is_err());
    }

    /// A paste into the filter is filtered once, when the burst settles
    /// or Enter/Esc ends it, not once per character.
    #[test]
    fn a_burst_typed_into_the_filter_filters_once() {
        let mut app = App::default();
        let runs = ["FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"]
            .map(|env| run_view(env, 1.0, 3))
            .to_vec();
        app.update(runs, Vec::new());
        assert_eq!(app.rows.len(), 3);
        press(&mut app, "/taxi");
        assert_eq!(app.rows.len(), 3, "filtered before the burst ended");
        assert!(app.settle());
        assert_eq!(app.rows.len(), 1);
        assert!(!app.settle(), "nothing left to derive");
        press(&mut app, "<esc>");
        assert_eq!(
            app.rows.len(),
            3,
            "Esc clears the filter and ends the burst"
        );
        press(&mut app, "/frozen");
        assert_eq!(app.rows.len(), 3);
        press(&mut app, "<enter>");
        assert_eq!(app.rows.len(), 1, "Enter ends the burst");
    }

    #[test]
    fn the_detail_builds_its_environment_once_and_the_overestimation_on_new_data() {
        let mut app = App::default();
        app.update(vec![run_view("FrozenLake-v1", 1.0, 3)], Vec::new());
        assert!(
            app.detail_env.is_none(),
            "nothing built before the detail opens"
        );
        press(&mut app, "<enter>");
        let env = app.detail_env.clone().expect("built when the detail opens");
        assert_eq!(env.id(), "FrozenLake-v1");
        press(&mut app, "o");
        assert!(app.message.as_ref().unwrap().contains("no overestimation"));
        // Believes every state is worth 1; no state is, under its policy.
        let q = ndarray::Array2::from_elem((16, 4), 1.0);
        let policy = crate::mdp::solve::greedy(&q);
        app.set_detail_data(Some(DetailData {
            q,
            policy,
            unvisited: Vec::new(),
        }));
        let over = app.overestimation.clone().unwrap().unwrap();
        assert_eq!(over.len(), 16);
        assert!(over.iter().all(|&o| o > 0.0), "{over}");
        press(&mut app, "o");
        assert_eq!(app.heatmap, Heatmap::Overestimation);
        assert_eq!(app.availability(Command::Overestimation), Ok(()));
        // Another key or the same data again: the environment is the one built.
        press(&mut app, "<down>");
        assert!(Arc::ptr_eq(&env, app.detail_env.as_ref().unwrap()));
    }
}
