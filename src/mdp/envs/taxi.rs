//! Taxi, exactly as Gymnasium builds it (`gymnasium/envs/toy_text/taxi.py`,
//! registered as `Taxi-v4`, rain and fickle passenger off): 500 states
//! encoded ((row·5 + col)·5 + passenger)·4 + destination; actions 0 south,
//! 1 north, 2 east, 3 west, 4 pickup, 5 drop-off; −1 a step, −10 for an
//! illegal pickup or drop-off, +20 for delivering (which ends the episode).
//! Starts are uniform over the 300 states with the passenger waiting at a
//! location other than the destination; time limit 200.

use crate::error::Result;
use crate::mdp::{Outcome, TabularMdp};

const MAP: [&str; 7] = [
    "+---------+",
    "|R: | : :G|",
    "| : | : : |",
    "| : : : : |",
    "| | : | : |",
    "|Y| : |B: |",
    "+---------+",
];
const LOCS: [(usize, usize); 4] = [(0, 0), (0, 4), (4, 0), (4, 3)];

pub fn encode(row: usize, col: usize, passenger: usize, destination: usize) -> usize {
    ((row * 5 + col) * 5 + passenger) * 4 + destination
}

/// One dry transition, as `_build_dry_transitions` computes it.
fn transition(
    row: usize,
    col: usize,
    passenger: usize,
    destination: usize,
    action: usize,
) -> Outcome {
    let desc = |r: usize, c: usize| MAP[r].as_bytes()[c];
    let (mut new_row, mut new_col, mut new_passenger) = (row, col, passenger);
    let mut reward = -1.0;
    let mut terminated = false;
    let here = (row, col);
    match action {
        0 => new_row = (row + 1).min(4),
        1 => new_row = row.saturating_sub(1),
        2 if desc(1 + row, 2 * col + 2) == b':' => new_col = (col + 1).min(4),
        3 if desc(1 + row, 2 * col) == b':' => new_col = col.saturating_sub(1),
        4 => {
            if passenger < 4 && here == LOCS[passenger] {
                new_passenger = 4;
            } else {
                reward = -10.0;
            }
        }
        5 => {
            if here == LOCS[destination] && passenger == 4 {
                new_passenger = destination;
                terminated = true;
                reward = 20.0;
            } else if let Some(i) = LOCS
                .iter()
                .position(|&l| l == here)
                .filter(|_| passenger == 4)
            {
                new_passenger = i;
            } else {
                reward = -10.0;
            }
        }
        _ => {}
    }
    Outcome {
        prob: 1.0,
        next: encode(new_row, new_col, new_passenger, destination) as u32,
        reward,
        terminated,
    }
}

pub fn taxi(id: &str) -> Result<TabularMdp> {
    let mut table = vec![Vec::new(); 500];
    let mut initial = vec![0.0; 500];
    let mut goals = Vec::new();
    for row in 0..5 {
        for col in 0..5 {
            for passenger in 0..5 {
                for destination in 0..4 {
                    let s = encode(row, col, passenger, destination);
                    if passenger < 4 && passenger != destination {
                        initial[s] += 1.0;
                    }
                    if passenger == destination {
                        goals.push(s); // delivered
                    }
                    table[s] = (0..6)
                        .map(|a| vec![transition(row, col, passenger, destination, a)])
                        .collect();
                }
            }
        }
    }
    let total: f64 = initial.iter().sum();
    for p in &mut initial {
        *p /= total;
    }
    // Taxi row and column, passenger location (4: in the taxi) and
    // destination, each scaled to [0, 1], for features that generalise.
    let coordinates = ndarray::Array2::from_shape_fn((500, 4), |(s, i)| {
        let (dest, pass, cell) = (s % 4, (s / 4) % 5, s / 20);
        [
            (cell / 5) as f64 / 4.0,
            (cell % 5) as f64 / 4.0,
            pass as f64 / 4.0,
            dest as f64 / 3.0,
        ][i]
    });
    Ok(TabularMdp::new(id, table, initial, Some(200))?
        .with_goals(goals)
        .with_coordinates(coordinates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walls_pickup_and_delivery() {
        let mdp = taxi("Taxi-v4").unwrap();
        // From (0,1) east is blocked by the wall after column 1.
        let s = encode(0, 1, 0, 1);
        assert_eq!(mdp.outcomes(s, 2)[0].next as usize, s);
        // Picking up at R (0,0) puts the passenger in the taxi.
        let o = mdp.outcomes(encode(0, 0, 0, 1), 4)[0];
        assert_eq!((o.next as usize, o.reward), (encode(0, 0, 4, 1), -1.0));
        // Delivering at G (0,4).
        let o = mdp.outcomes(encode(0, 4, 4, 1), 5)[0];
        assert_eq!(
            (o.next as usize, o.reward, o.terminated),
            (encode(0, 4, 1, 1), 20.0, true)
        );
        assert_eq!(mdp.initial().iter().filter(|&&p| p > 0.0).count(), 300);
    }
}
