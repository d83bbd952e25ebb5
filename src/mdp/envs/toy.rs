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
