//! The score table pane: the selected run's spec as a table of normalized
//! scores, laid out for the width (datasets as rows, or algorithms when
//! their names do not fit as columns).

use super::focused;
use crate::present::scores::{self, ScoreTable};
use crate::tui::app::{App, Pane, sanitize};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

pub(super) fn draw_scores(frame: &mut Frame, app: &App, area: Rect) {
    let table = &app.score_table();
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
    let block = focused(app, Pane::Scores, title(&more));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::scores::ScoreCell;

    fn table() -> ScoreTable {
        let cell = |mean: f64| {
            Some(ScoreCell::new(&[crate::eval::Metrics {
                normalized_score: mean,
                ..Default::default()
            }]))
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
