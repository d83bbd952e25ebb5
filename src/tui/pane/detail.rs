//! The run detail: config, latest metrics (and the same on the start
//! states the data visits), the heatmap of max_a Q or of the
//! overestimation max_a Q − V^π on grid maps, states without data hatched,
//! and the log tail. On a continuous run, the landscape instead: max_a Q
//! over a pair of observation components beside the data's density and
//! the policy's visitation ([`crate::eval::landscape`]), cells the data
//! never reaches marked, one pair at a time. It draws what its state
//! holds (environment, Q table, overestimation, landscape), loaded
//! outside drawing: the environment when the detail opens or follows
//! another run, the overestimation when the Q table or policy change,
//! the landscape with the run's other files. Its keys switch the heatmap
//! or the landscape's pair, move to the next run and control the
//! selected one.

use super::runs::{self, RunsPane};
use crate::eval::landscape::{GRID, Landscape, Slice};
use crate::experiment::RunView;
use crate::experiment::store::{self, RunDir};
use crate::mdp::{TabularMdp, solve};
use crate::present::scores;
use crate::tui::app::{Action, App, DetailData, Store, sanitize};
use crate::tui::detail::{Envs, Heatmap};
use crate::tui::keys::{Binding, Command, bind};
use crate::tui::landscape::{self, Cell};
use crate::tui::view::{error_style, estimate, fmt, styled};
use crossterm::event::KeyCode;
use crossterm::event::KeyCode::Char as K;
use ndarray::Array1;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use std::sync::Arc;

/// The run detail: the heatmap's two pictures, and the run's controls.
#[rustfmt::skip]
pub const KEYS: &[Binding] = &[
    bind(&[KeyCode::Up, K('k')], "↑ k", Command::Up, "previous run (the detail follows it)", None, "detail"),
    bind(&[KeyCode::Down, K('j')], "↓ j", Command::Down, "next run (the detail follows it)", None, "detail"),
    bind(&[K('o')], "o", Command::Overestimation, "heatmap: max_a Q / overestimation max_a Q − V^π", Some("o overest."), "detail"),
    bind(&[K('p')], "p", Command::NextPair, "landscape: next pair of observation components", None, "detail"),
    bind(&[K('P')], "P", Command::PreviousPair, "landscape: previous pair of observation components", None, "detail"),
    bind(&[K(' ')], "space", Command::PauseResume, "pause / resume the selected run", Some("␣ pause"), "detail"),
    bind(&[K('x')], "x", Command::Cancel, "cancel the selected run", Some("x cancel"), "detail"),
    bind(&[K('r')], "r", Command::Rerun, "rerun the selected run from scratch", Some("r rerun"), "detail"),
];

/// The run detail's state: whether it is open, and the selected run's
/// files and environment, read and built outside drawing.
#[derive(Debug, Clone, Default)]
pub struct DetailPane {
    pub open: bool,
    /// Log tail of the selected run, filled by the caller.
    pub log_tail: Vec<String>,
    /// Why the selected run's Q table or policy could not be read (a
    /// corrupt or oversized file).
    pub error: Option<String>,
    /// Where the heatmap's Q table and policy came from (set it with
    /// [`App::set_detail_data`], which also computes the overestimation).
    pub data: Option<DetailData>,
    /// The selected run's environment while the detail is open (its grid
    /// lays out the heatmap).
    pub env: Option<Arc<TabularMdp>>,
    /// Per state, max_a Q − V^π of [`DetailPane::data`] (or why there is none).
    pub overestimation: Option<Result<Array1<f64>, String>>,
    /// What the heatmap shows.
    pub heatmap: Heatmap,
    /// Environments the detail has built, by id.
    pub envs: Envs,
    /// The selected continuous run's landscape (or why it cannot be
    /// read); `None` when it has none.
    pub landscape: Option<Result<Landscape, String>>,
    /// Which of the landscape's pairs of components is drawn.
    pub pair: usize,
}

impl DetailPane {
    /// While open: the selected run's environment, built once per id (here,
    /// on a change of state, never while drawing).
    pub(crate) fn follow_selection(&mut self, store: &Store, runs: &RunsPane) {
        let run = runs.selected_run(store);
        let wanted = self
            .open
            .then(|| run.map(|r| r.config.env.clone()))
            .flatten();
        let same = match (&wanted, &self.env) {
            (Some(id), Some(env)) => env.id() == &**id,
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.env = wanted.and_then(|id| self.envs.get(&id));
            self.overestimate(run.map(|r| r.config.gamma));
        }
    }

    /// Reads the run's landscape (with its other files, when the detail
    /// opens and when they change); a missing file is no landscape, a
    /// torn or foreign one an error shown in its place.
    pub fn load_landscape(&mut self, dir: Option<&RunDir>) {
        self.landscape = dir.and_then(|dir| match store::read_landscape(dir) {
            Ok(landscape) => landscape.map(Ok),
            Err(e) => Some(Err(e.to_string())),
        });
    }

    /// The landscape's slice the pair keys chose, if there is a landscape.
    fn slice(&self) -> Option<(&Landscape, &Slice)> {
        let Some(Ok(l)) = &self.landscape else {
            return None;
        };
        let n = l.slices.len();
        (n > 0).then(|| (l, &l.slices[self.pair % n]))
    }

    fn overestimate(&mut self, gamma: Option<f64>) {
        self.overestimation = match (&self.env, &self.data, gamma) {
            (Some(mdp), Some(data), Some(gamma)) => {
                Some(crate::tui::detail::overestimation(mdp, gamma, data))
            }
            _ => None,
        };
    }
}

impl App {
    /// Takes in the selected run's Q table and policy (read by the caller
    /// when the detail opens and when the run's files change); the
    /// overestimation is computed here, when they change, not per frame.
    pub fn set_detail_data(&mut self, data: Option<DetailData>) {
        self.follow_selection();
        if data != self.detail.data || self.detail.overestimation.is_none() {
            self.detail.data = data;
            let gamma = self.selected_run().map(|r| r.config.gamma);
            self.detail.overestimate(gamma);
        }
    }
}

/// Whether the detail's `command` does something now; if not, why.
pub fn availability(app: &App, command: Command) -> Result<(), String> {
    match command {
        Command::Overestimation if !app.detail.open => {
            Err("o: the overestimation heatmap is in the run detail (Enter)".into())
        }
        Command::Overestimation => match &app.detail.overestimation {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(format!("no overestimation: {e}")),
            None => Err("no overestimation: the run has no Q table and policy yet, or its environment no table".into()),
        },
        Command::NextPair | Command::PreviousPair => match &app.detail.landscape {
            _ if !app.detail.open => {
                Err("p P: the landscape's pairs are in a continuous run's detail (Enter)".into())
            }
            Some(Ok(l)) if l.slices.len() > 1 => Ok(()),
            Some(Ok(_)) => Err("the landscape has one pair of components".into()),
            Some(Err(e)) => Err(format!("no landscape: {e}")),
            None => Err("no landscape: the run is tabular, or not at a checkpoint yet".into()),
        },
        _ => runs::control_availability(app, command),
    }
}

/// Carries out one available command of the detail: the heatmap's
/// picture here, the run's selection and controls as the runs table does.
pub fn apply(app: &mut App, command: Command) -> Action {
    match command {
        Command::Overestimation => {
            app.detail.heatmap = match app.detail.heatmap {
                Heatmap::MaxQ => Heatmap::Overestimation,
                Heatmap::Overestimation => Heatmap::MaxQ,
            };
            Action::None
        }
        Command::NextPair | Command::PreviousPair => {
            let n = app.detail.slice().map_or(1, |(l, _)| l.slices.len());
            let step = if command == Command::NextPair {
                1
            } else {
                n - 1
            };
            app.detail.pair = (app.detail.pair % n + step) % n;
            Action::None
        }
        _ => runs::apply(app, command),
    }
}

/// Draws the run detail: what the run is and did, its heatmap, its log.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
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
    // The environment was built when the detail opened (never here).
    let grid = app
        .detail
        .env
        .as_deref()
        .filter(|m| m.id() == &*run.config.env)
        .and_then(|m| m.grid());
    // A continuous run's landscape: three panels of up to GRID + 2 columns,
    // leaving the run's lines 40.
    let landscape = crate::env::continuous(&run.config.env).and(app.detail.landscape.as_ref());
    let heatmap_width = match (grid, landscape) {
        (Some(g), _) => (g.cols as u16 * 7 + 2).min(parts[0].width / 2),
        (None, Some(_)) => (3 * (GRID as u16 + 2)).min(parts[0].width.saturating_sub(40)),
        (None, None) => 0,
    };
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Min(20), Constraint::Length(heatmap_width)])
        .split(parts[0]);
    let lines = run_lines(app, run, top[0].width.saturating_sub(2) as usize);
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
    } else if let Some(landscape) = landscape {
        draw_landscape(frame, app, top[1], landscape.as_ref());
    }
    let log: Vec<Line> = app
        .detail
        .log_tail
        .iter()
        .map(|l| Line::from(sanitize(l)))
        .collect();
    frame.render_widget(
        Paragraph::new(log).block(Block::default().borders(Borders::ALL).title(" log.txt ")),
        parts[1],
    );
}

/// The selected run's detail in brief, under a short score table on a wide
/// screen: the numbers behind the chart's curves, without opening the detail.
pub fn draw_run_card(frame: &mut Frame, app: &App, area: Rect) {
    let lines = app.selected_run().map_or_else(
        || vec![Line::from(" no run selected")],
        |run| run_lines(app, run, area.width.saturating_sub(2) as usize),
    );
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" selected run (⏎ detail) "),
        ),
        area,
    );
}

/// What the detail says of a run, in lines of at most `room` characters:
/// status, where it comes from, its latest metrics, its hyper-parameters.
fn run_lines(app: &App, run: &RunView, room: usize) -> Vec<Line<'static>> {
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
    if let Some(e) = &app.detail.error {
        lines.push(Line::from(Span::styled(
            format!("cannot show the Q table: {}", sanitize(e)),
            error_style(app),
        )));
    }
    // Fields break between ` · ` separators, never inside one.
    let mut field = |head: &str, parts: Vec<String>| {
        lines.extend(flow(head, &parts, room).into_iter().map(Line::from));
    };
    field("id", vec![run.id.to_string()]);
    field("spec", vec![sanitize(&c.spec)]);
    field(
        "env",
        vec![
            sanitize(&crate::mdp::envs::label(&c.env)),
            format!("γ {}", c.gamma),
        ],
    );
    let mut dataset = vec![
        sanitize(&c.dataset.label()),
        format!("seed {}", dataset_seed(c)),
    ];
    let stats = match &run.dataset_stats {
        Some(stats) => dataset_parts(stats),
        None if run.coverage.is_nan() => Vec::new(),
        None => vec![format!("concentrability {}", fmt(Some(run.coverage), 2))],
    };
    // On the dataset's line where they fit in two lines; on a narrow
    // screen after the latest metrics, which matter more.
    let with_stats: Vec<String> = dataset.iter().chain(&stats).cloned().collect();
    let stats_later = flow("dataset", &with_stats, room).len() > 2;
    if !stats_later {
        dataset = with_stats;
    }
    field("dataset", dataset);
    field(
        "algo",
        vec![
            sanitize(&c.algo),
            format!("seed {}", c.seed),
            format!("eval every {}", c.eval_every),
        ],
    );
    if let Some(m) = &run.latest {
        for (head, parts) in latest_fields(m, room) {
            field(head, parts);
        }
    }
    if stats_later {
        field("data", stats);
    }
    for (k, v) in c.params.iter() {
        lines.push(Line::from(format!("  {k} = {v}")));
    }
    lines
}

/// The latest metrics, as fields of the run's lines: J, q_est and the gap,
/// the same on the start states the data visits, then R, the score and
/// the rest.
fn latest_fields(m: &crate::eval::Metrics, room: usize) -> Vec<(&'static str, Vec<String>)> {
    // Which return is which, where there is room (`?` says it too).
    let (discounted, episode, d4rl) = if room >= 60 {
        (" (discounted)", " (episode return)", " (D4RL, of R)")
    } else {
        ("", "", "")
    };
    let mut fields = vec![(
        "latest",
        vec![
            format!("J {}{discounted}", fmt(Some(m.true_return), 3)),
            format!("q_est {}", estimate(m.q_est)),
            // No gap to a Q that overflowed.
            format!(
                "gap {}",
                estimate(if m.q_est.is_finite() { m.gap } else { m.q_est })
            ),
        ],
    )];
    // The same on the start states the data visits; unknown for eval
    // points written before it was recorded.
    if !m.start_coverage.is_nan() {
        let in_data = if room >= 60 { " in the data" } else { "" };
        let mut parts = vec![format!(
            "start states {}{in_data}",
            crate::text::percent(m.start_coverage)
        )];
        if let Some(gap) = m.covered_gap() {
            parts.extend([
                format!("J {}", fmt(Some(m.true_return_covered), 3)),
                format!("q_est {}", fmt(Some(m.q_est_covered), 3)),
                format!("gap {}", fmt(Some(gap), 3)),
            ]);
        }
        fields.push(("covered", parts));
    }
    fields.push((
        "",
        vec![
            format!("R {}{episode}", fmt(Some(m.episode_return), 3)),
            format!(
                "score {}{d4rl}",
                scores::score_text(Some(m.normalized_score), 1)
            ),
            format!("success {}", fmt(Some(m.success_prob), 3)),
        ],
    ));
    fields.push((
        "",
        vec![
            format!("ood {}", fmt(Some(m.ood_fraction), 3)),
            format!("KL {}", fmt(Some(m.kl_behavior), 3)),
            format!("bellman {}", fmt(Some(m.bellman_error), 4)),
        ],
    ));
    fields
}

/// `head` in a 10-wide column, then `parts` joined by ` · `, broken into
/// lines of at most `width` characters between parts (a part longer than
/// a line gets a line of its own, which the paragraph then wraps).
fn flow(head: &str, parts: &[String], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = format!("{head:<9} ");
    let mut empty = true;
    for part in parts {
        let sep = if empty { "" } else { " · " };
        let needed = line.chars().count() + sep.chars().count() + part.chars().count();
        if !empty && needed > width {
            lines.push(std::mem::replace(&mut line, format!("{:<9} ", "")));
            line.push_str(part);
        } else {
            line.push_str(sep);
            line.push_str(part);
        }
        empty = false;
    }
    lines.push(line);
    lines
}

/// The dataset's statistics as the detail names them: the behaviour's
/// score (or the data's own, for mixtures), its action support, state
/// coverage and concentrability.
fn dataset_parts(s: &crate::eval::DatasetStats) -> Vec<String> {
    let mut parts = Vec::new();
    match s.behavior_score {
        Some(score) => parts.push(format!(
            "behaviour score {}",
            scores::score_text(Some(score), 1)
        )),
        None if s.data_score.is_finite() => {
            parts.push(format!("data score {}", fmt(Some(s.data_score), 1)));
        }
        None => {}
    }
    parts.extend([
        format!(
            "one action in {}% of states",
            fmt(Some(100.0 * s.single_action_share), 0)
        ),
        format!("{} actions/state", fmt(Some(s.mean_actions), 1)),
    ]);
    // A continuous environment has no table of states to cover.
    if s.reachable_states > 0 {
        parts.extend([
            format!("states {}/{}", s.visited_states, s.reachable_states),
            format!("concentrability {}", fmt(Some(s.concentrability), 1)),
        ]);
    }
    parts
}

fn dataset_seed(c: &crate::experiment::RunConfig) -> String {
    match &c.dataset {
        crate::experiment::DatasetSource::Collect { seed, .. } => seed.to_string(),
        crate::experiment::DatasetSource::File { sha256, .. } => {
            format!("file {}", &sha256[..8.min(sha256.len())])
        }
    }
}

/// Hatches the heatmap's cells of states the data never acts in.
const NO_DATA: &str = "░";

/// The heatmaps' shades, low to high.
const SHADES: [Color; landscape::SHADES] = [
    Color::Blue,
    Color::Cyan,
    Color::Green,
    Color::Yellow,
    Color::Red,
];

/// Per cell of a grid environment: max_a Q, or the overestimation
/// max_a Q − V^π (`o`), with the policy's arrow; states the data never
/// acts in hatched with [`NO_DATA`] (their Q is a convention).
fn draw_heatmap(frame: &mut Frame, app: &App, area: Rect, grid: &crate::mdp::GridLayout) {
    let over = app.detail.heatmap == Heatmap::Overestimation;
    let block = Block::default().borders(Borders::ALL).title(if over {
        " max_a Q − V^π and action "
    } else {
        " max_a Q and greedy action "
    });
    let Some(data) = &app.detail.data else {
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
    let max_q;
    let values = if over {
        match &app.detail.overestimation {
            Some(Ok(values)) => values,
            Some(Err(e)) => {
                let text = format!(" no overestimation: {}", sanitize(e));
                frame.render_widget(
                    Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
                    area,
                );
                return;
            }
            None => {
                frame.render_widget(
                    Paragraph::new(" overestimation not computed yet").block(block),
                    area,
                );
                return;
            }
        }
    } else {
        max_q = solve::row_maxima(&data.q);
        &max_q
    };
    let lines = heatmap_lines(app, data, values, grid, area.width);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The heatmap's grid, a line per row: per state its greedy action (or the
/// hatch of a state never in the data) and, where wide enough, its value,
/// shaded from blue to red; then the shades' range and the hatch's meaning.
fn heatmap_lines(
    app: &App,
    data: &DetailData,
    values: &Array1<f64>,
    grid: &crate::mdp::GridLayout,
    width: u16,
) -> Vec<Line<'static>> {
    let mut unvisited = vec![false; values.len()];
    for &s in data.unvisited.iter().filter(|&&s| s < values.len()) {
        unvisited[s] = true;
    }
    // The colours span the states in the data: elsewhere a value is the
    // learner's convention (a floor of −1000, say), which would wash them out.
    let (lo, hi) = values
        .iter()
        .zip(&unvisited)
        .filter(|(v, out)| v.is_finite() && !**out)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (&v, _)| {
            (lo.min(v), hi.max(v))
        });
    let shades = SHADES;
    let cell_width = ((width.saturating_sub(2)) as usize / grid.cols.max(1)).clamp(2, 7);
    let mut lines = Vec::new();
    let mut hatched = false;
    for r in 0..grid.rows {
        let mut spans = Vec::new();
        for c in 0..grid.cols {
            let s = r * grid.cols + c;
            let letter = grid.cells[s];
            let best = crate::mdp::solve::argmax(data.policy.row(s).iter().copied());
            let terminal = matches!(letter, 'H' | 'C' | 'G');
            // Never in the data: hatched instead of the arrow, no shade.
            let no_data = unvisited[s] && !terminal;
            hatched |= no_data;
            let text = match letter {
                'H' | 'C' => letter.to_string(),
                'G' => "G".into(),
                _ if no_data => NO_DATA.to_string(),
                _ => format!("{}", grid.action_arrows.get(best).copied().unwrap_or('?')),
            };
            let text = if cell_width >= 6 && !terminal {
                format!(
                    "{text}{}",
                    crate::present::scale::format_tick((values[s] * 100.0).round() / 100.0)
                )
            } else {
                text
            };
            if no_data {
                let style = styled(app, Style::default().fg(Color::DarkGray), Style::default());
                let text = format!("{text:^cell_width$}").replace(' ', NO_DATA);
                spans.push(Span::styled(text, style));
                continue;
            }
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
    if hatched {
        lines.push(Line::from(format!(" {NO_DATA} never in the data")));
    }
    lines
}

/// A continuous run's landscape (module doc): max_a Q, the data's density
/// and the policy's visitation over one pair of observation components,
/// then the axes and the scale.
fn draw_landscape(
    frame: &mut Frame,
    app: &App,
    area: Rect,
    landscape: Result<&Landscape, &String>,
) {
    let block = |title: &'static str| Block::default().borders(Borders::ALL).title(title);
    let slice = match landscape {
        Err(e) => {
            let text = format!(" cannot read the landscape: {}", sanitize(e));
            frame.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(block(" landscape ")),
                area,
            );
            return;
        }
        Ok(_) => app.detail.slice(),
    };
    let Some((l, slice)) = slice else {
        frame.render_widget(
            Paragraph::new(" no pairs").block(block(" landscape ")),
            area,
        );
        return;
    };
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(3), Constraint::Length(3)])
        .split(area);
    let columns = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Ratio(1, 3); 3])
        .split(rows[0]);
    let inner = |r: Rect| {
        (
            r.width.saturating_sub(2) as usize,
            r.height.saturating_sub(2) as usize,
        )
    };
    // Never more cells than the grid has (a cell drawn twice would look
    // like two).
    let cols = columns
        .iter()
        .map(|&r| inner(r).0)
        .min()
        .unwrap_or(0)
        .min(l.grid);
    let height = inner(columns[0]).1.min(l.grid);
    let panels = landscape::panels(slice, l.grid, cols, height);
    for ((title, cells), &rect) in [
        (" max_a Q ", &panels.max_q),
        (" data ", &panels.data),
        (" visits ", &panels.visits),
    ]
    .into_iter()
    .zip(columns.iter())
    {
        let lines: Vec<Line> = cells
            .chunks(cols.max(1))
            .map(|row| Line::from(row.iter().map(|&c| cell_span(app, c)).collect::<Vec<_>>()))
            .collect();
        frame.render_widget(Paragraph::new(lines).block(block(title)), rect);
    }
    let axis = |i: usize| {
        let d = &l.dims[i.min(l.dims.len() - 1)];
        format!(
            "{} {}…{}",
            sanitize(&d.name),
            crate::present::scale::format_tick(d.low),
            crate::present::scale::format_tick(d.high)
        )
    };
    let (lo, hi) = panels.q_range;
    let (low, high) = if app.screen.no_color {
        ("0", "4")
    } else {
        ("blue", "red")
    };
    let mut last = format!(
        " it {} · data {} · visits {}",
        l.iteration, l.data_total, l.visits_total
    );
    if l.slices.len() > 1 {
        last.push_str(&format!(
            " · pair {}/{} (p P), the others at the data's mean",
            app.detail.pair % l.slices.len() + 1,
            l.slices.len()
        ));
    }
    let legend = vec![
        Line::from(format!(" x {} · y {}", axis(slice.x), axis(slice.y))),
        Line::from(format!(
            " Q {low} {} … {high} {} (symlog) · {NO_DATA} no data",
            fmt(Some(lo), 2),
            fmt(Some(hi), 2)
        )),
        Line::from(last),
    ];
    frame.render_widget(Paragraph::new(legend), rows[1]);
}

/// One landscape cell: a block in its shade where the data reaches,
/// hatched in its shade where it does not, blank where there is nothing;
/// without colour the shade's digit instead of the block.
fn cell_span(app: &App, cell: Cell) -> Span<'static> {
    let Some(shade) = cell.shade else {
        return Span::raw(" ");
    };
    if app.screen.no_color {
        let text = if cell.no_data {
            NO_DATA.to_string()
        } else {
            shade.to_string()
        };
        return Span::raw(text);
    }
    let glyph = if cell.no_data { NO_DATA } else { "█" };
    Span::styled(glyph, Style::default().fg(SHADES[shade]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::tests::{frozen_lake, press};

    #[test]
    fn the_detail_builds_its_environment_once_and_the_overestimation_on_new_data() {
        let mut app = frozen_lake();
        assert!(
            app.detail.env.is_none(),
            "nothing built before the detail opens"
        );
        press(&mut app, "<enter>");
        let env = app.detail.env.clone().expect("built when the detail opens");
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
        let over = app.detail.overestimation.clone().unwrap().unwrap();
        assert_eq!(over.len(), 16);
        assert!(over.iter().all(|&o| o > 0.0), "{over}");
        press(&mut app, "o");
        assert_eq!(app.detail.heatmap, Heatmap::Overestimation);
        assert_eq!(availability(&app, Command::Overestimation), Ok(()));
        // Another key or the same data again: the environment is the one built.
        press(&mut app, "<down>");
        assert!(Arc::ptr_eq(&env, app.detail.env.as_ref().unwrap()));
    }

    #[test]
    fn fields_break_between_parts_and_keep_their_column() {
        let parts: Vec<String> = ["J 0.510", "q_est 19.463", "gap 18.953"]
            .map(String::from)
            .into();
        assert_eq!(
            flow("latest", &parts, 80),
            ["latest    J 0.510 · q_est 19.463 · gap 18.953"]
        );
        assert_eq!(
            flow("latest", &parts, 32),
            ["latest    J 0.510 · q_est 19.463", "          gap 18.953"]
        );
        // A part too long for any line still gets one of its own.
        let long = vec!["x".repeat(40), "y".into()];
        assert_eq!(flow("", &long, 20).len(), 2);
    }
}
