//! The score table pane: the selected run's spec as a table of normalized
//! scores, laid out for the width (datasets as rows, or algorithms when
//! their names do not fit as columns); its keys scroll it by rows and,
//! where not all fit, by columns.

use crate::present::scores::{self, ScoreTable};
use crate::tui::app::{Action, App, sanitize};
use crate::tui::keys::{Binding, Command, Pane, bind};
use crate::tui::view::{focused, shorten_middle, wrap};
use crossterm::event::KeyCode;
use crossterm::event::KeyCode::Char as K;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

/// The score table scrolls: rows, and columns where they do not all fit.
#[rustfmt::skip]
pub const KEYS: &[Binding] = &[
    bind(&[KeyCode::Up, K('k')], "↑ k", Command::Up, "scroll up", Some("↑↓ scroll"), "scores"),
    bind(&[KeyCode::Down, K('j')], "↓ j", Command::Down, "scroll down", None, "scores"),
    bind(&[KeyCode::PageUp], "PgUp", Command::PageUp, "ten rows up", None, "scores"),
    bind(&[KeyCode::PageDown], "PgDn", Command::PageDown, "ten rows down", None, "scores"),
    bind(&[KeyCode::Home], "Home", Command::First, "first row", None, "scores"),
    bind(&[KeyCode::End], "End", Command::Last, "last row", None, "scores"),
    bind(&[KeyCode::Left, K('h')], "← h", Command::CursorLeft, "earlier columns, where they do not all fit", Some("←→ columns"), "scores"),
    bind(&[KeyCode::Right, K('l')], "→ l", Command::CursorRight, "later columns", None, "scores"),
];

/// Where the score table is scrolled to.
#[derive(Debug, Clone, Default)]
pub struct ScoresPane {
    /// First row shown.
    pub offset: usize,
    /// First column shown when not all fit.
    pub column: usize,
}

/// Carries out one command of the score table.
pub fn apply(app: &mut App, command: Command) -> Action {
    // Columns within the wider orientation's; the view stops at the last
    // one that still leaves a window.
    let table = app.runs.score_table(app.store());
    let last_column = table
        .algos
        .len()
        .max(table.datasets.len() + table.controllers.len());
    let pane = &mut app.scores;
    let mut scroll = |step| pane.offset = pane.offset.saturating_add_signed(step);
    match command {
        Command::Up => scroll(-1),
        Command::Down => scroll(1),
        Command::PageUp => scroll(-10),
        Command::PageDown => scroll(10),
        Command::First => scroll(isize::MIN),
        Command::Last => scroll(isize::MAX),
        Command::CursorLeft => pane.column = pane.column.saturating_sub(1),
        Command::CursorRight => pane.column = (pane.column + 1).min(last_column),
        _ => {}
    }
    Action::None
}

/// Draws the score table of the selected run's spec, scrolled, and the
/// legend of its marks in the lines the rows leave free.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let table = &app.runs.score_table(app.store());
    let spec = app
        .selected_run()
        .map(|r| format!("· {} ", sanitize(&r.config.spec)))
        .unwrap_or_default();
    // The longest title that fits: the score is D4RL's, of the episode return.
    let title = |more: &str| {
        let long = format!(" {}, mean ± std over seeds {spec}{more}", scores::TITLE);
        let shorter = scores::SHORT_TITLES.map(|t| format!(" {t} {spec}{more}"));
        std::iter::once(long)
            .chain(shorter)
            .reduce(|fits, next| {
                if fits.chars().count() + 2 <= area.width as usize {
                    fits
                } else {
                    next
                }
            })
            .unwrap_or_default()
    };
    if table.datasets.is_empty() {
        let block = focused(app, Pane::Scores, title(""));
        frame.render_widget(Paragraph::new(" no runs yet").block(block), area);
        return;
    }
    let grid = score_grid(
        table,
        area.width.saturating_sub(2) as usize,
        app.scores.column,
    );
    let rows_shown = area.height.saturating_sub(3) as usize;
    let n = grid.rows.len();
    let offset = app.scores.offset.min(n.saturating_sub(rows_shown.max(1)));
    let mut more = String::new();
    if n > rows_shown {
        more.push_str(&format!(
            "· rows {}–{} of {n} ",
            offset + 1,
            (offset + rows_shown).min(n)
        ));
    }
    if grid.columns.len() < grid.all_columns {
        more.push_str(&format!(
            "· cols {}–{} of {} ←→ ",
            grid.first_column + 1,
            grid.first_column + grid.columns.len(),
            grid.all_columns
        ));
    }
    let block = focused(app, Pane::Scores, title(&more));
    let best = Style::default().add_modifier(Modifier::BOLD);
    let best = if app.screen.no_color {
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
    draw_legend(frame, table, area, rows_shown.saturating_sub(n));
}

/// What the marks mean, in the `free` lines the rows leave at the
/// bottom of `area`.
fn draw_legend(frame: &mut Frame, table: &ScoreTable, area: Rect, free: usize) {
    let width = area.width.saturating_sub(2) as usize;
    let legend: Vec<String> = table
        .legend()
        .iter()
        .flat_map(|line| wrap(line, width))
        .collect();
    let shown = legend.len().min(free) as u16;
    if shown > 0 {
        let lines: Vec<ratatui::text::Line> = legend
            .into_iter()
            .take(shown as usize)
            .map(|l| ratatui::text::Line::styled(l, Style::default().add_modifier(Modifier::DIM)))
            .collect();
        let under = Rect {
            x: area.x + 1,
            y: area.y + area.height - 1 - shown,
            width: width as u16,
            height: shown,
        };
        frame.render_widget(Paragraph::new(lines), under);
    }
}

/// The lines the pane needs at `width` to show its whole table and the
/// legend under it: borders, header, rows.
pub fn height(app: &App, width: u16) -> u16 {
    let table = &app.runs.score_table(app.store());
    if table.datasets.is_empty() {
        return 3;
    }
    let inner = width.saturating_sub(2) as usize;
    let rows = score_grid(table, inner, app.scores.column).rows.len();
    let legend: usize = table
        .legend()
        .iter()
        .map(|line| wrap(line, inner).len())
        .sum();
    u16::try_from(rows + legend + 3).unwrap_or(u16::MAX)
}

/// The score table laid out for a width: datasets as rows (the lecture's
/// tables: the behaviour column first, the Total row last), or algorithms
/// as rows when their names do not fit as column headers; `mean ± std`
/// where it fits, the mean alone where not; the marks (`†`, `✗n`, `k/n`)
/// always; where no layout fits whole, the whole columns that fit from
/// the one the user scrolled to (never a cell cut short).
struct ScoreGrid {
    corner: &'static str,
    columns: Vec<String>,
    rows: Vec<GridRow>,
    label_width: usize,
    widths: Vec<usize>,
    /// The first column shown, and how many the table has.
    first_column: usize,
    all_columns: usize,
}

/// A row label, and per column the text and whether it is the best score
/// of its dataset (or the best Total), ties all best.
type GridRow = (String, Vec<(String, bool)>);

fn score_grid(table: &ScoreTable, width: usize, first_column: usize) -> ScoreGrid {
    let fits =
        |g: &ScoreGrid| g.label_width + g.widths.iter().map(|w| w + 1).sum::<usize>() <= width;
    // The environment in the dataset labels when there are several.
    let prefixes: std::collections::BTreeSet<&str> = table
        .datasets
        .iter()
        .zip(&table.short_datasets)
        .map(|(long, short)| long.strip_suffix(short.as_str()).unwrap_or(long))
        .collect();
    let long_labels: &[bool] = if prefixes.len() > 1 {
        &[true]
    } else {
        &[false]
    };
    // Most readable first: full cells, long labels, the lecture's orientation.
    for full in [true, false] {
        for &long in long_labels {
            for transposed in [false, true] {
                let grid = grid_layout(table, transposed, full, long);
                if fits(&grid) {
                    return grid;
                }
            }
        }
    }
    narrowest(table, width, long_labels[0]).window(width, first_column)
}

/// The scores in the lecture's orientation: per dataset row, the
/// behaviour then each algorithm; then the Total row. `full`: mean ± std,
/// else the mean alone.
fn score_matrix(table: &ScoreTable, full: bool) -> Vec<Vec<(String, bool)>> {
    let mut rows: Vec<Vec<(String, bool)>> = (0..table.datasets.len())
        .map(|d| {
            let behaviour = match &table.behavior[d] {
                Some(b) if full => b.text(1),
                Some(b) if b.mean.is_finite() => format!("{:.1}", b.mean),
                _ => "–".to_string(),
            };
            std::iter::once((behaviour, false))
                .chain(table.cells[d].iter().map(|c| match c {
                    Some(c) if full => (c.text(), c.best),
                    Some(c) => (c.short_text(), c.best),
                    None => ("–".to_string(), false),
                }))
                .collect()
        })
        .collect();
    // The classical controllers' rows: the score in the behaviour column.
    rows.extend(table.controllers.iter().map(|c| {
        let score = if full { c.text() } else { c.short_text() };
        std::iter::once((score, false))
            .chain(table.algos.iter().map(|_| (String::new(), false)))
            .collect()
    }));
    let total = |t: &scores::Total| if full { t.text() } else { t.short_text() };
    rows.push(
        std::iter::once((
            table.behavior_total.map_or("–".into(), |t| total(&t)),
            false,
        ))
        .chain(table.total.iter().map(|t| (total(t), t.best)))
        .collect(),
    );
    rows
}

/// The whole table in one layout: `transposed` puts algorithms as rows;
/// `long` names datasets with their environment.
fn grid_layout(table: &ScoreTable, transposed: bool, full: bool, long: bool) -> ScoreGrid {
    let datasets = if long {
        &table.datasets
    } else {
        &table.short_datasets
    };
    let controllers = table.controllers.iter().map(|c| {
        if long {
            c.label.clone()
        } else {
            c.short_label.clone()
        }
    });
    let row_labels: Vec<String> = datasets
        .iter()
        .cloned()
        .chain(controllers)
        .chain([scores::TOTAL.to_string()])
        .collect();
    let column_labels: Vec<String> = std::iter::once(scores::BEHAVIOUR.to_string())
        .chain(table.algos.iter().cloned())
        .collect();
    let matrix = score_matrix(table, full);
    let (corner, columns, rows): (_, Vec<String>, Vec<GridRow>) = if transposed {
        let rows = column_labels
            .into_iter()
            .enumerate()
            .map(|(a, label)| (label, matrix.iter().map(|r| r[a].clone()).collect()))
            .collect();
        ("algorithm", row_labels, rows)
    } else {
        (
            "dataset",
            column_labels,
            row_labels.into_iter().zip(matrix).collect(),
        )
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
        all_columns: columns.len(),
        corner,
        columns,
        rows,
        label_width,
        widths,
        first_column: 0,
    }
}

/// Where nothing fits whole: the narrow cells in the orientation with
/// fewer columns, rows named in full (they tell environments apart) up to
/// half the width.
fn narrowest(table: &ScoreTable, width: usize, long: bool) -> ScoreGrid {
    let (plain, turned) = (
        grid_layout(table, false, false, long),
        grid_layout(table, true, false, long),
    );
    let mut grid = if turned.widths.len() < plain.widths.len() {
        turned
    } else {
        plain
    };
    grid.label_width = grid.label_width.min(width / 2);
    // A label longer than its column loses the middle of its environment
    // and keeps its dataset whole (which tells the rows apart), never the end.
    let cap = grid.label_width;
    for (i, (label, _)) in grid.rows.iter_mut().enumerate() {
        if label.chars().count() <= cap {
            continue;
        }
        let dataset = (grid.corner == "dataset")
            .then(|| table.short_datasets.get(i))
            .flatten()
            .filter(|d| cap > d.chars().count() + 4);
        let shortened =
            match dataset.and_then(|d| label.strip_suffix(d.as_str()).map(|env| (env, d))) {
                Some((env, d)) => format!(
                    "{} {d}",
                    shorten_middle(env.trim_end(), cap - d.chars().count() - 1)
                ),
                None => shorten_middle(label, cap),
            };
        *label = shortened;
    }
    grid
}

impl ScoreGrid {
    /// The whole columns that fit in `width` from `first_column` on.
    fn window(mut self, width: usize, first_column: usize) -> ScoreGrid {
        let first = first_column.min(self.widths.len().saturating_sub(1));
        let room = width.saturating_sub(self.label_width);
        let mut used = 0;
        let shown = self.widths[first..]
            .iter()
            .take_while(|w| {
                used += *w + 1;
                used <= room
            })
            .count()
            .max(1);
        let window = first..first + shown;
        self.columns = self.columns[window.clone()].to_vec();
        self.widths = self.widths[window.clone()].to_vec();
        for row in &mut self.rows {
            row.1 = row.1[window.clone()].to_vec();
        }
        self.first_column = first;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::scores::{ScoreCell, Stat, Total};

    fn table() -> ScoreTable {
        let cell = |mean: f64| {
            Some(ScoreCell::new(&[crate::eval::Metrics {
                normalized_score: mean,
                ..Default::default()
            }]))
        };
        let total = |sum: f64, rows: usize| Total {
            sum,
            rows,
            of: 2,
            diverged: false,
            best: false,
        };
        let mut diverged = cell(80.0).unwrap();
        diverged.diverged = 1;
        diverged.failed = 2;
        diverged.runs = 3;
        let mut table = ScoreTable {
            datasets: vec!["Chain-v5 medium 1k".into(), "Chain-v5 medium 1M".into()],
            short_datasets: vec!["medium 1k".into(), "medium 1M".into()],
            algos: vec![
                "fqi q_init=optimistic".into(),
                "fqi q_init=random".into(),
                "fqi q_init=zero".into(),
            ],
            cells: vec![
                // 30.04 prints as 30.0: a tie as the reader sees it.
                vec![cell(10.0), cell(30.04), cell(30.0)],
                vec![cell(90.0), None, Some(diverged)],
            ],
            behavior: vec![Some(Stat::new(vec![40.0, 50.0])), None],
            total: vec![total(110.04, 2), total(20.0, 1), total(110.0, 2)],
            behavior_total: Some(total(45.0, 1)),
            controllers: Vec::new(),
        };
        table.rank();
        table
    }

    #[test]
    fn score_grid_keeps_the_lecture_layout_where_it_fits() {
        let grid = score_grid(&table(), 120, 0);
        assert_eq!(grid.corner, "dataset");
        assert_eq!(grid.columns[0], "behaviour");
        assert_eq!(grid.columns.len(), 4);
        // One environment: its name would tell no row apart.
        assert_eq!(grid.rows[0].0, "medium 1k");
        assert_eq!(grid.rows[0].1[0], ("45.0 ± 7.1".to_string(), false));
        // One seed: the mean alone, no `± 0.0`; ties as printed bold together.
        assert_eq!(grid.rows[0].1[1], ("10.0".to_string(), false));
        assert_eq!(grid.rows[0].1[2], ("30.0".to_string(), true));
        assert_eq!(grid.rows[0].1[3], ("30.0".to_string(), true));
        assert_eq!(grid.rows[1].1[2], ("–".to_string(), false));
        assert_eq!(grid.rows[1].1[1], ("90.0".to_string(), true));
        // The marks: diverged and failed runs.
        assert_eq!(grid.rows[1].1[3], ("80.0† ✗2".to_string(), false));
        // The Total row, its best (over complete columns) highlighted, ties too.
        assert_eq!(grid.rows[2].0, "Total");
        assert_eq!(grid.rows[2].1[0], ("45.0 (1/2 rows)".to_string(), false));
        assert_eq!(grid.rows[2].1[1], ("110.0".to_string(), true));
        assert_eq!(grid.rows[2].1[2], ("20.0 (1/2 rows)".to_string(), false));
        assert_eq!(grid.rows[2].1[3], ("110.0".to_string(), true));
    }

    #[test]
    fn score_grid_turns_long_algorithm_names_into_rows() {
        let grid = score_grid(&table(), 60, 0);
        assert_eq!(grid.corner, "algorithm");
        assert_eq!(grid.columns, vec!["medium 1k", "medium 1M", "Total"]);
        assert_eq!(grid.rows[0].0, "behaviour");
        assert_eq!(grid.rows[3].0, "fqi q_init=zero");
        // The best of each dataset stays marked, now down a column.
        assert!(grid.rows[3].1[0].1 && grid.rows[1].1[1].1 && grid.rows[3].1[2].1);
        // Narrow: the mean alone, the marks kept.
        assert_eq!(grid.rows[3].1[1].0, "80.0† ✗2");
        let width = grid.label_width + grid.widths.iter().map(|w| w + 1).sum::<usize>();
        assert!(width <= 60, "{width}");
    }

    #[test]
    fn long_dataset_labels_keep_the_dataset_and_shorten_the_environment() {
        let mut table = table();
        table.short_datasets = vec!["medium-expert 10k".into(), "medium 1M".into()];
        table.datasets = vec![
            "CliffWalkingSlippery-v1 medium-expert 10k".into(),
            "FrozenLake8x8-v1 medium 1M".into(),
        ];
        // One algorithm: datasets stay the rows however narrow.
        table.algos.truncate(1);
        table.total.truncate(1);
        for row in &mut table.cells {
            row.truncate(1);
        }
        let labels = |width| {
            let grid = score_grid(&table, width, 0);
            assert_eq!(grid.corner, "dataset");
            grid.rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()
        };
        // Room for the dataset and a few letters of the environment.
        assert_eq!(
            labels(56),
            [
                "Cliff…y-v1 medium-expert 10k",
                "FrozenLake8x8-v1 medium 1M",
                "Total"
            ]
        );
        // Less: the environment where the dataset leaves it room, else the
        // label's start and end.
        assert_eq!(
            labels(40),
            ["CliffWalki…xpert 10k", "Froze…8-v1 medium 1M", "Total"]
        );
    }
}
