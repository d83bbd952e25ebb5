//! The runs table pane: one row per visible run (status, progress, the
//! latest J, R, q_est, gap and score), columns dropped by priority when
//! narrow. J is the discounted return J(π), what Q estimates; R is one
//! episode's undiscounted return within the time limit, which D4RL's score
//! normalizes. Where the data misses some start state the gap is the one on
//! the start states it visits, marked [`COVERED_MARK`].

use super::{estimate, fmt, focused, status_style, styled};
use crate::eval::Metrics;
use crate::experiment::{RunStatus, RunView};
use crate::present::scores;
use crate::tui::app::{App, Pane, SortKey, progress, sanitize};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Row, Table};

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

/// Marks a gap measured on the covered start states only.
const COVERED_MARK: char = 'ᶜ';

/// The gap cell: q_est − J on the start states the data visits when it
/// misses some (an unvisited start holds the learner's convention, not an
/// estimate), marked; `–` marked when it visits none.
fn gap(m: &Metrics) -> String {
    match m.covered_gap() {
        Some(_) if m.start_coverage == 0.0 => format!("–{COVERED_MARK}"),
        Some(g) if g.is_finite() => format!("{}{COVERED_MARK}", fmt(Some(g), 3)),
        Some(g) => estimate(g),
        None => estimate(m.gap),
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

/// The rows around the selected one that the table can show: ratatui
/// scrolls to the selected row within them as it would within all the
/// rows (it shows at most `height` rows ending at the selected one, or
/// the first `height`), and cells, and the columns' widths, come from
/// these only. Making cells for every row cost a second and 600 MB a frame
/// with 100,000 runs. Returns the first row's index and the rows.
fn window<'a>(
    runs: &'a [&'a RunView],
    selected: usize,
    height: usize,
) -> (usize, &'a [&'a RunView]) {
    let first = selected.saturating_sub(height);
    let end = (first + 2 * height + 2).min(runs.len());
    (first, &runs[first.min(end)..end])
}

pub(super) fn draw_runs(frame: &mut Frame, app: &App, area: Rect) {
    let all = app.visible_runs();
    let (first, runs) = window(&all, app.selected, area.height as usize);
    let any_running = all.iter().any(|r| r.status == RunStatus::Running);
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
    let metric =
        |f: fn(&Metrics) -> f64, precision| text(&|r| fmt(r.latest.map(|m| f(&m)), precision));
    let latest =
        |f: fn(&Metrics) -> String| text(&|r| r.latest.map_or_else(|| fmt(None, 3), |m| f(&m)));
    add(
        "spec",
        Some(SortKey::Spec),
        5,
        text(&|r| sanitize(&r.config.spec)),
        None,
    );
    // Several environments: the column that tells their rows apart stays
    // (narrowed below if need be); one environment: the first to go.
    let several_envs = all.iter().any(|r| r.config.env != all[0].config.env);
    add(
        "env",
        Some(SortKey::Env),
        if several_envs { 0 } else { 3 },
        text(&|r| sanitize(&crate::mdp::envs::label(&r.config.env))),
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
        // A column of finished bars says nothing the status does not.
        if any_running { 0 } else { 2 },
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
        "R",
        Some(SortKey::EpisodeReturn),
        1,
        metric(|m| m.episode_return, 3),
        None,
    );
    add(
        "q_est",
        Some(SortKey::QEst),
        0,
        latest(|m| estimate(m.q_est)),
        None,
    );
    add("gap", Some(SortKey::Gap), 1, latest(gap), None);
    add(
        "score",
        Some(SortKey::Score),
        0,
        text(&|r| scores::score_text(r.latest.map(|m| m.normalized_score), 1)),
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
    // Still too wide: the environment's names without their version,
    // shortened in the middle (`Clif…pery`, `Froz…8x8`).
    let over = total(&columns).saturating_sub(room);
    if let Some(env) = columns.iter_mut().find(|c| c.name == "env" && over > 0) {
        let width = env.width.saturating_sub(over).max(ENV_MIN_WIDTH);
        env.cells = runs
            .iter()
            .map(|r| {
                let label = crate::mdp::envs::label(&r.config.env);
                let name = sanitize(crate::mdp::envs::unversioned(&label));
                Cell::from(super::shorten_middle(&name, width))
            })
            .collect();
        env.width = width;
    }
    let shown: Vec<&str> = columns.iter().map(|c| c.name).collect();
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
    // Grouped by spec: a blank line closes each spec's rows.
    let ends_group = |i: usize| {
        app.group_by_spec
            && all
                .get(first + i + 1)
                .is_some_and(|n| n.config.spec != runs[i].config.spec)
    };
    let rows: Vec<Row> = (0..runs.len())
        .map(|i| {
            Row::new(
                cells
                    .iter_mut()
                    .filter_map(Iterator::next)
                    .collect::<Vec<_>>(),
            )
            .bottom_margin(u16::from(ends_group(i)))
        })
        .collect();
    let mut title = format!(
        " runs {}/{}{}{} ",
        all.len(),
        app.runs.len(),
        if app.filter.is_empty() {
            String::new()
        } else {
            format!(" filter \"{}\"", sanitize(&app.filter))
        },
        if app.group_by_spec { " · by spec" } else { "" }
    );
    // Which return is which, where the title has room for it.
    let has = |name| shown.contains(&name);
    let returns = match (has("J"), has("R")) {
        (true, true) => "· J discounted (Q's target), R episode return, score D4RL's of R ",
        (true, false) => "· J discounted return (Q's target), score D4RL's ",
        _ => "",
    };
    let marked = has("gap")
        && all
            .iter()
            .any(|r| r.latest.is_some_and(|m| m.covered_gap().is_some()));
    let covered = if marked {
        format!("· gap{COVERED_MARK} on the start states in the data ")
    } else {
        String::new()
    };
    for legend in [returns, &covered] {
        if title.chars().count() + legend.chars().count() + 2 <= area.width as usize {
            title.push_str(legend);
        }
    }
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
    let mut state =
        ratatui::widgets::TableState::default().with_selected(Some(app.selected - first));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The narrowest the environment column gets.
const ENV_MIN_WIDTH: usize = 9;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_cell_marks_the_covered_gap_and_only_it() {
        let old = Metrics {
            q_est: 3.0,
            gap: 2.5,
            ..Default::default()
        };
        assert_eq!(gap(&old), "2.500");
        let partial = Metrics {
            start_coverage: 0.6,
            q_est_covered: 1.0,
            true_return_covered: 0.75,
            ..old
        };
        assert_eq!(gap(&partial), "0.250ᶜ");
        let full = Metrics {
            start_coverage: 1.0,
            ..partial
        };
        assert_eq!(gap(&full), "2.500");
        let none = Metrics {
            start_coverage: 0.0,
            q_est_covered: f64::NAN,
            true_return_covered: f64::NAN,
            ..old
        };
        assert_eq!(gap(&none), "–ᶜ");
        let diverged = Metrics {
            q_est_covered: f64::INFINITY,
            ..partial
        };
        assert_eq!(gap(&diverged), "diverged");
    }
}
