//! CliffWalking, exactly as Gymnasium builds it
//! (`gymnasium/envs/toy_text/cliffwalking.py`): a 4×12 grid, start 36, goal
//! 47; actions 0 ↑, 1 →, 2 ↓, 3 ←; every step costs −1; stepping into the
//! cliff (row 3, columns 1–10) costs −100 and sends you back to the start
//! without ending the episode. The slippery variant moves in the intended
//! direction or either perpendicular one with 1/3 each. Gymnasium registers
//! no time limit for it.

use crate::error::Result;
use crate::mdp::{GridLayout, Outcome, TabularMdp};

const ROWS: usize = 4;
const COLS: usize = 12;
const START: usize = 36;
const GOAL: usize = 47;

fn is_cliff(row: usize, col: usize) -> bool {
    row == 3 && (1..COLS - 1).contains(&col)
}

pub fn cliff_walking(id: &str, slippery: bool) -> Result<TabularMdp> {
    let moves: [(isize, isize); 4] = [(-1, 0), (0, 1), (1, 0), (0, -1)];
    let mut table = Vec::with_capacity(ROWS * COLS);
    for s in 0..ROWS * COLS {
        let (row, col) = ((s / COLS) as isize, (s % COLS) as isize);
        let actions = (0..4)
            .map(|a| {
                let directions: Vec<usize> = if slippery {
                    vec![(a + 3) % 4, a, (a + 1) % 4]
                } else {
                    vec![a]
                };
                let prob = 1.0 / directions.len() as f64;
                directions
                    .into_iter()
                    .map(|d| {
                        let r = (row + moves[d].0).clamp(0, ROWS as isize - 1) as usize;
                        let c = (col + moves[d].1).clamp(0, COLS as isize - 1) as usize;
                        let next = r * COLS + c;
                        if is_cliff(r, c) {
                            Outcome {
                                prob,
                                next: START as u32,
                                reward: -100.0,
                                terminated: false,
                            }
                        } else {
                            Outcome {
                                prob,
                                next: next as u32,
                                reward: -1.0,
                                terminated: next == GOAL,
                            }
                        }
                    })
                    .collect()
            })
            .collect();
        table.push(actions);
    }
    let mut initial = vec![0.0; ROWS * COLS];
    initial[START] = 1.0;
    let cells = (0..ROWS * COLS)
        .map(|s| match s {
            START => 'S',
            GOAL => 'G',
            s if is_cliff(s / COLS, s % COLS) => 'C',
            _ => '.',
        })
        .collect();
    Ok(TabularMdp::new(id, table, initial, None)?
        .with_goals([GOAL])
        .with_grid(GridLayout {
            rows: ROWS,
            cols: COLS,
            cells,
            action_arrows: vec!['↑', '→', '↓', '←'],
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cliff_returns_to_start_with_minus_100() {
        let mdp = cliff_walking("CliffWalking-v1", false).unwrap();
        let o = mdp.outcomes(START, 1)[0];
        assert_eq!(
            (o.next, o.reward, o.terminated),
            (START as u32, -100.0, false)
        );
        let o = mdp.outcomes(35, 2)[0];
        assert_eq!((o.next, o.reward, o.terminated), (GOAL as u32, -1.0, true));
        let opt = crate::mdp::solve::optimal(&mdp, 0.99).unwrap();
        // 13 steps along the cliff edge: −Σ_{t<13} 0.99^t.
        let want: f64 = -(0..13).map(|t| 0.99f64.powi(t)).sum::<f64>();
        assert!((opt.values.j - want).abs() < 1e-9, "{}", opt.values.j);
    }
}
