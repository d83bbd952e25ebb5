//! The lecture's toy problems, defined exactly so their lessons are testable.

use crate::error::Result;
use crate::mdp::{Outcome, TabularMdp};
use ndarray::array;

fn end(next: u32, reward: f64) -> Vec<Outcome> {
    vec![Outcome {
        prob: 1.0,
        next,
        reward,
        terminated: true,
    }]
}

fn go(next: u32) -> Vec<Outcome> {
    vec![Outcome {
        prob: 1.0,
        next,
        reward: 0.0,
        terminated: false,
    }]
}

/// `ThreeState-v0`: S0 --a0--> S1, S0 --a1--> S2 (reward 0); both actions in
/// S1 end the episode with +1, both in S2 with −10. States 3 ("won") and 4
/// ("lost") are where episodes end. The behaviour plays 50/50 in S0 and only
/// a0 in S1 and S2, so (S1,a1) and (S2,a1) never appear in its data.
pub fn three_state() -> Result<TabularMdp> {
    let (won, lost) = (3, 4);
    let table = vec![
        vec![go(1), go(2)],
        vec![end(won, 1.0), end(won, 1.0)],
        vec![end(lost, -10.0), end(lost, -10.0)],
        vec![end(won, 0.0), end(won, 0.0)],
        vec![end(lost, 0.0), end(lost, 0.0)],
    ];
    let behavior = array![[0.5, 0.5], [1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]];
    TabularMdp::new(
        "ThreeState-v0",
        table,
        vec![1.0, 0.0, 0.0, 0.0, 0.0],
        Some(10),
    )?
    .with_goals([won as usize])
    .with_behavior(behavior)
}

/// `ImitationTrap-v0`: one decision; a0 ends with +1, a1 with −10, and the
/// behaviour plays 50/50, so BC's return is −4.5 while offline RL gets +1.
pub fn imitation_trap() -> Result<TabularMdp> {
    let (won, lost) = (1, 2);
    let table = vec![
        vec![end(won, 1.0), end(lost, -10.0)],
        vec![end(won, 0.0), end(won, 0.0)],
        vec![end(lost, 0.0), end(lost, 0.0)],
    ];
    let behavior = array![[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]];
    TabularMdp::new("ImitationTrap-v0", table, vec![1.0, 0.0, 0.0], Some(1))?
        .with_goals([won as usize])
        .with_behavior(behavior)
}

/// Success probability of each arm of `Bandit-v0` (reward 1, else 0).
pub const BANDIT_ARMS: [f64; 5] = [0.5, 0.6, 0.7, 0.8, 0.3];
/// Its behaviour: arms 0 and 1 well covered, 2 and the best arm 3 thinly,
/// the worst arm 4 never.
pub const BANDIT_BEHAVIOR: [f64; 5] = [0.45, 0.45, 0.09, 0.01, 0.0];

/// `Bandit-v0`: one decision (horizon 1), five Bernoulli arms
/// ([`BANDIT_ARMS`]); state 1 is where the episode ends. The ATAC example:
/// the best arm is barely in the data and one arm is missing, so relative
/// pessimism must never do worse than the behaviour (J = 0.566).
pub fn bandit() -> Result<TabularMdp> {
    let arms = BANDIT_ARMS
        .iter()
        .map(|&p| {
            vec![
                Outcome {
                    prob: p,
                    next: 1,
                    reward: 1.0,
                    terminated: true,
                },
                Outcome {
                    prob: 1.0 - p,
                    next: 1,
                    reward: 0.0,
                    terminated: true,
                },
            ]
        })
        .collect();
    let done = (0..BANDIT_ARMS.len()).map(|_| end(1, 0.0)).collect();
    let n = BANDIT_ARMS.len();
    let mut behavior = ndarray::Array2::from_elem((2, n), 1.0 / n as f64);
    behavior
        .row_mut(0)
        .assign(&ndarray::Array1::from(BANDIT_BEHAVIOR.to_vec()));
    TabularMdp::new("Bandit-v0", vec![arms, done], vec![1.0, 0.0], Some(1))?.with_behavior(behavior)
}

/// The reward for giving up at the start of a chain.
pub const CHAIN_SMALL_REWARD: f64 = 0.1;

/// `Chain-vN`: N states in a row, start at 0; action 0 moves left, 1 right
/// (deterministic). Left at state 0 ends the episode with +0.1; reaching
/// state N−1 ends it with +1. The small sure reward tempts a learner whose
/// data never reaches the far end; time limit 4N.
pub fn chain(n: usize) -> Result<TabularMdp> {
    let last = n - 1;
    let table = (0..n)
        .map(|s| {
            if s == last {
                return vec![end(s as u32, 0.0), end(s as u32, 0.0)];
            }
            let left = if s == 0 {
                end(0, CHAIN_SMALL_REWARD)
            } else {
                go(s as u32 - 1)
            };
            let right = if s + 1 == last {
                end(last as u32, 1.0)
            } else {
                go(s as u32 + 1)
            };
            vec![left, right]
        })
        .collect();
    let mut initial = vec![0.0; n];
    initial[0] = 1.0;
    Ok(
        TabularMdp::new(format!("Chain-v{n}"), table, initial, Some(4 * n))?
            .with_goals([last])
            .with_grid(crate::mdp::GridLayout {
                rows: 1,
                cols: n,
                cells: (0..n)
                    .map(|s| match s {
                        0 => 'S',
                        s if s == last => 'G',
                        _ => 'F',
                    })
                    .collect(),
                action_arrows: vec!['←', '→'],
            }),
    )
}
