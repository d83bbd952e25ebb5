//! FrozenLake, exactly as Gymnasium builds it
//! (`gymnasium/envs/toy_text/frozen_lake.py`): states row-major, actions
//! 0 ←, 1 ↓, 2 →, 3 ↑; on the slippery lake the intended move and each
//! perpendicular one happen with 1/3 (in the order a−1, a, a+1); reaching
//! G pays 1; G and H end the episode and loop on themselves. Maps in
//! `assets/maps/*.txt` use the same letters.

use crate::error::{Error, Result};
use crate::mdp::{GridLayout, Outcome, TabularMdp};
use std::path::Path;

pub const MAP_4X4: &str = "SFFF\nFHFH\nFFFH\nHFFG\n";
pub const MAP_8X8: &str =
    "SFFFFFFF\nFFFFFFFF\nFFFHFFFF\nFFFFFHFF\nFFFHFFFF\nFHHFFFHF\nFHFFHFHF\nFFFHFFFG\n";

/// The bundled maps of `assets/maps/`, embedded so the binary works anywhere.
pub const BUNDLED_MAPS: [(&str, &str); 2] = [
    ("bridge", include_str!("../../../assets/maps/bridge.txt")),
    (
        "four_rooms",
        include_str!("../../../assets/maps/four_rooms.txt"),
    ),
];

const LETTERS: &str = "SFHG";

/// A parsed map: rows of letters.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeMap {
    pub rows: usize,
    pub cols: usize,
    pub cells: Vec<char>,
}

/// Parses a map; errors name `source`, the line and column.
pub fn parse_map(source: &Path, text: &str) -> Result<LakeMap> {
    let bad = |line: usize, col: usize, message: String| Error::File {
        path: source.to_path_buf(),
        message: format!("line {line}, column {col}: {message}"),
    };
    let mut cells = Vec::new();
    let mut cols = 0;
    let mut rows = 0;
    let mut starts = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let width = line.chars().count();
        if rows == 0 {
            cols = width;
        } else if width != cols {
            return Err(bad(
                i + 1,
                width.min(cols) + 1,
                format!("row has {width} cells, the first row has {cols}"),
            ));
        }
        for (j, c) in line.chars().enumerate() {
            if !LETTERS.contains(c) {
                return Err(bad(
                    i + 1,
                    j + 1,
                    format!(
                        "unknown cell `{}`; valid letters: S (start), F (frozen), H (hole), G (goal)",
                        c.escape_default()
                    ),
                ));
            }
            starts += usize::from(c == 'S');
            cells.push(c);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(bad(1, 1, "empty map".into()));
    }
    if starts != 1 {
        return Err(bad(
            1,
            1,
            format!("a map needs exactly one S, found {starts}"),
        ));
    }
    if !cells.contains(&'G') {
        return Err(bad(1, 1, "a map needs at least one G".into()));
    }
    Ok(LakeMap { rows, cols, cells })
}

/// Builds the slippery lake of `map` with Gymnasium's numbers.
pub fn lake(id: &str, map: &LakeMap, slippery: bool, time_limit: usize) -> Result<TabularMdp> {
    let (nrow, ncol) = (map.rows, map.cols);
    let letter = |r: usize, c: usize| map.cells[r * ncol + c];
    let success_rate = 1.0 / 3.0;
    let fail_rate = (1.0 - success_rate) / 2.0;
    let step = |row: usize, col: usize, a: usize| -> (usize, usize) {
        match a {
            0 => (row, col.saturating_sub(1)),
            1 => ((row + 1).min(nrow - 1), col),
            2 => (row, (col + 1).min(ncol - 1)),
            _ => (row.saturating_sub(1), col),
        }
    };
    let outcome = |prob: f64, row: usize, col: usize, a: usize| {
        let (r, c) = step(row, col, a);
        let l = letter(r, c);
        Outcome {
            prob,
            next: (r * ncol + c) as u32,
            reward: if l == 'G' { 1.0 } else { 0.0 },
            terminated: l == 'G' || l == 'H',
        }
    };
    let mut table = Vec::with_capacity(nrow * ncol);
    for row in 0..nrow {
        for col in 0..ncol {
            let s = (row * ncol + col) as u32;
            let actions = (0..4)
                .map(|a| {
                    if matches!(letter(row, col), 'G' | 'H') {
                        vec![Outcome {
                            prob: 1.0,
                            next: s,
                            reward: 0.0,
                            terminated: true,
                        }]
                    } else if slippery {
                        [(a + 3) % 4, a, (a + 1) % 4]
                            .into_iter()
                            .map(|b| {
                                outcome(if b == a { success_rate } else { fail_rate }, row, col, b)
                            })
                            .collect()
                    } else {
                        vec![outcome(1.0, row, col, a)]
                    }
                })
                .collect();
            table.push(actions);
        }
    }
    let initial = map
        .cells
        .iter()
        .map(|&c| if c == 'S' { 1.0 } else { 0.0 })
        .collect();
    let goals: Vec<usize> = (0..map.cells.len())
        .filter(|&s| map.cells[s] == 'G')
        .collect();
    Ok(TabularMdp::new(id, table, initial, Some(time_limit))?
        .with_goals(goals)
        .with_grid(GridLayout {
            rows: nrow,
            cols: ncol,
            cells: map.cells.clone(),
            action_arrows: vec!['←', '↓', '→', '↑'],
        }))
}

/// `FrozenLake-v1` (4x4) and `FrozenLake8x8-v1`.
pub fn frozen_lake(id: &str, map: &str, time_limit: usize) -> Result<TabularMdp> {
    lake(id, &parse_map(Path::new(id), map)?, true, time_limit)
}

/// A slippery lake from a map: the time limit scales with its area.
pub fn from_map(id: &str, source: &Path, text: &str) -> Result<TabularMdp> {
    let map = parse_map(source, text)?;
    let limit = 4 * map.rows * map.cols;
    lake(id, &map, true, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_and_goal_are_terminal_and_slips_are_thirds() {
        let mdp = frozen_lake("FrozenLake-v1", MAP_4X4, 100).unwrap();
        for s in [5, 7, 11, 12, 15] {
            assert!(mdp.is_absorbing(s), "state {s}");
        }
        // From 14, moving right (2) slips down (1), right (2) or up (3).
        let o = mdp.outcomes(14, 2);
        let nexts: Vec<u32> = o.iter().map(|o| o.next).collect();
        assert_eq!(nexts, vec![14, 15, 10]);
        assert!(o.iter().all(|o| (o.prob - 1.0 / 3.0).abs() < 1e-15));
        assert_eq!((o[1].reward, o[1].terminated), (1.0, true));
        assert!(mdp.is_goal(15));
    }

    #[test]
    fn map_errors_say_where() {
        let e = parse_map(Path::new("m.txt"), "SFF\nFXF\nFFG\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.txt: line 2, column 2: unknown cell `X`"),
            "{e}"
        );
        let e = parse_map(Path::new("m.txt"), "SFF\nFF\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("2 cells"), "{e}");
        let e = parse_map(Path::new("m.txt"), "FFF\nFFG\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("exactly one S"), "{e}");
        let e = parse_map(Path::new("m.txt"), "SFF\nFFF\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least one G"), "{e}");
        for (name, text) in BUNDLED_MAPS {
            parse_map(Path::new(name), text).unwrap();
        }
    }
}
