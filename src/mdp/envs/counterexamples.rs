//! Where off-policy learning with linear features diverges, with the
//! features that make it so (`features = { kind = "env" }`). Every reward
//! is zero, so Q* = Q^π = 0 for every π: any growth of the estimate is the
//! learner's alone, and the true return stays exactly 0.

use crate::error::Result;
use crate::mdp::{Outcome, TabularMdp};
use ndarray::{Array2, array};

fn go(next: u32) -> Outcome {
    Outcome {
        prob: 1.0,
        next,
        reward: 0.0,
        terminated: false,
    }
}

/// `Baird-v0` (Sutton & Barto §11.2, Figure 11.1): six upper states
/// (0–5) and one lower state (6); `dashed` (action 0) jumps to one of the
/// upper states uniformly, `solid` (action 1) to the lower one; reward 0,
/// no end (time limit 100 for collection). The behaviour plays dashed 6/7,
/// solid 1/7. State features: 2e_i + e_7 for upper state i, e_6 + 2e_7
/// for the lower one; φ(s,a) gives each action its own block of them (16
/// features). Semi-gradient off-policy Q-learning diverges from almost
/// any nonzero weights (Sutton & Barto start from (1, …, 1, 10, 1)); 16
/// features fit its 14 pairs exactly, so least-squares FQI does not.
pub fn baird() -> Result<TabularMdp> {
    let dashed: Vec<Outcome> = (0..6)
        .map(|s| Outcome {
            prob: 1.0 / 6.0,
            ..go(s)
        })
        .collect();
    let table = (0..7).map(|_| vec![dashed.clone(), vec![go(6)]]).collect();
    let state = |s: usize| {
        let mut x = [0.0; 8];
        if s < 6 {
            x[s] = 2.0;
            x[7] = 1.0;
        } else {
            x[6] = 1.0;
            x[7] = 2.0;
        }
        x
    };
    let phi = Array2::from_shape_fn((14, 16), |(pair, i)| {
        let (s, a) = (pair / 2, pair % 2);
        if i / 8 == a { state(s)[i % 8] } else { 0.0 }
    });
    let behavior = Array2::from_shape_fn((7, 2), |(_, a)| [6.0 / 7.0, 1.0 / 7.0][a]);
    TabularMdp::new("Baird-v0", table, vec![1.0 / 7.0; 7], Some(100))?
        .with_features(phi)
        .with_behavior(behavior)
}

/// `TwoState-v0` (Tsitsiklis & Van Roy 1997; Sutton & Barto §11.2): one
/// action; state 0 leads to state 1, which leads to itself; reward 0.
/// Episodes start in 0 and are cut after two steps, so data holds both
/// transitions equally often. The one feature is 1 in state 0 and 2 in
/// state 1: least squares fits θ' minimising (θ' − 2γθ)² + (2θ' − 2γθ)²,
/// θ' = (6γ/5) θ, which grows without bound for γ > 5/6.
pub fn two_state() -> Result<TabularMdp> {
    let table = vec![vec![vec![go(1)]], vec![vec![go(1)]]];
    TabularMdp::new("TwoState-v0", table, vec![1.0, 0.0], Some(2))?
        .with_features(array![[1.0], [2.0]])
        .with_behavior(array![[1.0], [1.0]])
}
