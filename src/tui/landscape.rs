//! The run detail's landscape of a continuous run, as cells to draw: one
//! slice of a run's `landscape.json` ([`crate::eval::landscape`]) fitted
//! to a panel of any size, each cell with its shade and whether the data
//! reaches it. Drawing turns these into characters and colours.
//!
//! A panel cell covers a block of grid cells (or a grid cell covers
//! several panel cells, when the panel is larger): the block's largest
//! max_a Q (the belief a region holds at its highest), and its summed
//! counts. Shades: Q on a symmetric-log scale (values reach 1e229) from
//! the slice's lowest to its highest finite value; counts on a log scale
//! from 1 to the panel's largest, no shade for none.

use crate::eval::landscape::Slice;
use crate::present::scale::symlog;

/// How many shades a panel uses (the detail's five colours).
pub const SHADES: usize = 5;

/// One panel cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// 0 (lowest) to `SHADES − 1`; `None` for nothing to show (no count,
    /// a Q that is NaN).
    pub shade: Option<usize>,
    /// The data has no observation in the cell's block.
    pub no_data: bool,
}

/// The three panels of one slice, each `cols × rows` cells, row 0 at the
/// top (the high end of y), and the ends of the Q panel's scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Panels {
    pub max_q: Vec<Cell>,
    pub data: Vec<Cell>,
    pub visits: Vec<Cell>,
    pub q_range: (f64, f64),
}

/// The grid cells panel cell `i` of `n` covers on an axis of `grid`:
/// a nonempty range, so every panel cell shows something.
fn block(i: usize, n: usize, grid: usize) -> std::ops::Range<usize> {
    let start = i * grid / n;
    let end = ((i + 1) * grid / n).max(start + 1);
    start..end.min(grid)
}

/// `slice` on `grid`×`grid` cells fitted to panels of `cols × rows`.
pub fn panels(slice: &Slice, grid: usize, cols: usize, rows: usize) -> Panels {
    let (cols, rows) = (cols.max(1), rows.max(1));
    // Per panel cell: the max Q, data count and visit count of its block.
    let mut cells = Vec::with_capacity(cols * rows);
    for r in 0..rows {
        // Row 0 is the top: the high end of y.
        let ys = block(rows - 1 - r, rows, grid);
        for c in 0..cols {
            let xs = block(c, cols, grid);
            let mut q = f64::NAN;
            let (mut data, mut visits) = (0u64, 0u64);
            for iy in ys.clone() {
                for ix in xs.clone() {
                    let i = iy * grid + ix;
                    q = q.max(slice.max_q[i]);
                    data += slice.data[i];
                    visits += slice.visits[i];
                }
            }
            cells.push((q, data, visits));
        }
    }
    let finite = || slice.max_q.iter().copied().filter(|q| q.is_finite());
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let q_shade = |q: f64| -> Option<usize> {
        if q.is_nan() {
            return None;
        }
        let (a, b) = (symlog(lo), symlog(hi));
        let t = if b > a {
            (symlog(q.clamp(lo, hi)) - a) / (b - a)
        } else {
            0.5
        };
        Some(level(t))
    };
    let count_shades = |counts: Vec<u64>| -> Vec<Option<usize>> {
        let top = counts.iter().copied().max().unwrap_or(0);
        counts
            .into_iter()
            .map(|n| {
                (n > 0).then(|| {
                    if top > 1 {
                        level((n as f64).ln() / (top as f64).ln())
                    } else {
                        SHADES - 1
                    }
                })
            })
            .collect()
    };
    let no_data: Vec<bool> = cells.iter().map(|c| c.1 == 0).collect();
    let with = |shades: Vec<Option<usize>>| -> Vec<Cell> {
        shades
            .into_iter()
            .zip(&no_data)
            .map(|(shade, &no_data)| Cell { shade, no_data })
            .collect()
    };
    Panels {
        max_q: with(cells.iter().map(|c| q_shade(c.0)).collect()),
        data: with(count_shades(cells.iter().map(|c| c.1).collect())),
        visits: with(count_shades(cells.iter().map(|c| c.2).collect())),
        q_range: (lo, hi),
    }
}

/// The shade of `t` in [0, 1].
fn level(t: f64) -> usize {
    ((t * (SHADES - 1) as f64).round().max(0.0) as usize).min(SHADES - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(grid: usize, max_q: Vec<f64>, data: Vec<u64>, visits: Vec<u64>) -> Slice {
        assert_eq!(max_q.len(), grid * grid);
        Slice {
            x: 0,
            y: 1,
            max_q,
            data,
            visits,
        }
    }

    /// Blocks split an axis without gaps or overlaps, and a panel larger
    /// than the grid repeats cells.
    #[test]
    fn blocks_tile_the_axis() {
        let covered: Vec<usize> = (0..5).flat_map(|i| block(i, 5, 24)).collect();
        assert_eq!(covered, (0..24).collect::<Vec<_>>());
        assert_eq!(block(0, 48, 24), 0..1);
        assert_eq!(block(1, 48, 24), 0..1);
        assert_eq!(block(47, 48, 24), 23..24);
    }

    /// On a 2×2 grid drawn 1:1: row 0 is the top (high y), Q shades run
    /// on the symmetric-log scale, counts on a log scale, cells without
    /// data are marked in every panel.
    #[test]
    fn shades_and_marks() {
        // Cells (ix, iy): (0,0) (1,0) (0,1) (1,1).
        let s = slice(
            2,
            vec![-100.0, 0.0, 1e10, 1e229],
            vec![0, 10, 1, 0],
            vec![100, 0, 10, 1],
        );
        let p = panels(&s, 2, 2, 2);
        assert_eq!(p.q_range, (-100.0, 1e229));
        let shades = |cells: &[Cell]| cells.iter().map(|c| c.shade).collect::<Vec<_>>();
        // Top row is iy = 1: 1e10, 1e229; bottom row −100, 0.
        assert_eq!(shades(&p.max_q), [Some(0), Some(4), Some(0), Some(0)]);
        assert_eq!(
            p.max_q.iter().map(|c| c.no_data).collect::<Vec<_>>(),
            [false, true, true, false]
        );
        assert_eq!(shades(&p.data), [Some(0), None, None, Some(4)]);
        // Visits 10, 1, 100, 0: ln 10 / ln 100 is half way.
        assert_eq!(shades(&p.visits), [Some(2), Some(0), Some(4), None]);
    }

    /// A smaller panel sums counts and keeps the largest Q of a block; a
    /// NaN Q shows nothing, and a NaN among numbers does not hide them.
    #[test]
    fn blocks_sum_counts_and_keep_the_largest_q() {
        let s = slice(
            2,
            vec![1.0, f64::NAN, 3.0, 2.0],
            vec![0, 0, 0, 5],
            vec![1, 1, 1, 1],
        );
        let p = panels(&s, 2, 1, 1);
        assert_eq!(p.max_q[0].shade, Some(SHADES - 1));
        assert!(!p.max_q[0].no_data);
        let all_nan = slice(1, vec![f64::NAN], vec![0], vec![0]);
        let p = panels(&all_nan, 1, 3, 2);
        assert_eq!(p.max_q.len(), 6);
        assert!(p.max_q.iter().all(|c| c.shade.is_none() && c.no_data));
        assert!(p.visits.iter().all(|c| c.shade.is_none()));
    }
}
