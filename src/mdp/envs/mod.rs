//! Built-in environments, by Gymnasium-compatible id.

mod cliff_walking;
mod frozen_lake;
mod taxi;
mod toy;

pub use frozen_lake::{BUNDLED_MAPS, parse_map};
pub use toy::{BANDIT_ARMS, BANDIT_BEHAVIOR};

use super::TabularMdp;
use crate::error::{Error, Result, did_you_mean};
use std::path::Path;

/// One entry of `pessimist env list`.
#[derive(Debug, Clone)]
pub struct EnvInfo {
    pub id: String,
    pub summary: String,
}

fn info(id: &str, summary: &str) -> EnvInfo {
    EnvInfo {
        id: id.into(),
        summary: summary.into(),
    }
}

/// Every built-in tabular environment (the `Chain-vN` family listed by one
/// example; `map:PATH` loads any map file).
pub fn list() -> Vec<EnvInfo> {
    let mut envs = vec![
        info(
            "FrozenLake-v1",
            "Gymnasium's 4x4 slippery lake: reach G, avoid the holes (time limit 100)",
        ),
        info(
            "FrozenLake8x8-v1",
            "Gymnasium's 8x8 slippery lake (time limit 200)",
        ),
        info(
            "CliffWalking-v1",
            "Gymnasium's 4x12 cliff: -1 a step, -100 and back to start for the cliff",
        ),
        info(
            "CliffWalkingSlippery-v1",
            "CliffWalking where each move slips sideways with probability 2/3",
        ),
        info(
            "Taxi-v4",
            "Gymnasium's taxi: 500 states, pick up and deliver the passenger (time limit 200)",
        ),
        info(
            "ThreeState-v0",
            "the lecture's counterfactual-query MDP: S1 pays +1, S2 pays -10, (S1,a1) and (S2,a1) unseen",
        ),
        info(
            "ImitationTrap-v0",
            "one decision: a0 pays +1, a1 pays -10; behaviour plays 50/50, BC copies the mix",
        ),
        info(
            "Bandit-v0",
            "five Bernoulli arms, horizon 1; the behaviour barely covers the best arm and never plays one",
        ),
        info(
            "Chain-v10",
            "Chain-vN: N states in a row, +0.1 for giving up at the start, +1 at the far end",
        ),
    ];
    for (stem, _) in BUNDLED_MAPS {
        envs.push(EnvInfo {
            id: format!("FrozenLake-{stem}"),
            summary: format!("slippery lake on assets/maps/{stem}.txt"),
        });
    }
    envs
}

/// Builds the environment registered under `id`.
pub fn make(id: &str) -> Result<TabularMdp> {
    match id {
        "FrozenLake-v1" => frozen_lake::frozen_lake(id, frozen_lake::MAP_4X4, 100),
        "FrozenLake8x8-v1" => frozen_lake::frozen_lake(id, frozen_lake::MAP_8X8, 200),
        "CliffWalking-v1" => cliff_walking::cliff_walking(id, false),
        "CliffWalkingSlippery-v1" => cliff_walking::cliff_walking(id, true),
        "Taxi-v4" => taxi::taxi(id),
        "ThreeState-v0" => toy::three_state(),
        "ImitationTrap-v0" => toy::imitation_trap(),
        "Bandit-v0" => toy::bandit(),
        _ => {
            if let Some(n) = id.strip_prefix("Chain-v") {
                return match n.parse::<usize>() {
                    Ok(n) if (2..=100_000).contains(&n) => toy::chain(n),
                    _ => Err(Error::Invalid(format!(
                        "`{id}`: the chain length N in Chain-vN must be a whole number from 2 to 100000"
                    ))),
                };
            }
            if let Some(path) = id.strip_prefix("map:") {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::io(format!("cannot read map {path}"), e))?;
                return frozen_lake::from_map(id, Path::new(path), &text);
            }
            if let Some((_, text)) = id
                .strip_prefix("FrozenLake-")
                .and_then(|stem| BUNDLED_MAPS.iter().find(|(s, _)| *s == stem))
            {
                return frozen_lake::from_map(id, Path::new(id), text);
            }
            let ids: Vec<String> = list().into_iter().map(|e| e.id).collect();
            Err(Error::UnknownEnv {
                id: id.to_string(),
                hint: did_you_mean(id, ids.iter().map(String::as_str)),
                choices: format!("{}, Chain-vN, map:PATH", ids.join(", ")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdp::solve;

    #[test]
    fn every_builtin_is_a_valid_mdp_with_distributions_per_pair() {
        for e in list() {
            let mdp = make(&e.id).unwrap();
            for s in 0..mdp.n_states() {
                for a in 0..mdp.n_actions() {
                    let total: f64 = mdp.outcomes(s, a).iter().map(|o| o.prob).sum();
                    assert!(
                        (total - 1.0).abs() < 1e-12,
                        "{} P[{s}][{a}] sums to {total}",
                        e.id
                    );
                }
            }
            let d0: f64 = mdp.initial().iter().sum();
            assert!((d0 - 1.0).abs() < 1e-12, "{}", e.id);
        }
    }

    #[test]
    fn chain_optimum_walks_to_the_far_end() {
        let mdp = make("Chain-v5").unwrap();
        let opt = solve::optimal(&mdp, 0.9).unwrap();
        // Four steps right, the last paying 1: 0.9³ = 0.729 > 0.1.
        assert!((opt.values.j - 0.729).abs() < 1e-12);
        let greedy_right = (0..4).all(|s| opt.policy[[s, 1]] == 1.0);
        assert!(greedy_right);
        let short = solve::optimal(&mdp, 0.3).unwrap();
        assert!(
            (short.values.j - 0.1).abs() < 1e-12,
            "myopic agents give up"
        );
    }

    #[test]
    fn bandit_behaviour_misses_one_arm_and_barely_plays_the_best() {
        let mdp = make("Bandit-v0").unwrap();
        let b = mdp.behavior().unwrap();
        assert_eq!(b[[0, 4]], 0.0);
        let j = solve::evaluate_policy(&mdp, b, 0.99).unwrap().j;
        assert!((j - 0.566).abs() < 1e-12);
        assert!((solve::optimal(&mdp, 0.99).unwrap().values.j - 0.8).abs() < 1e-12);
    }

    #[test]
    fn unknown_ids_suggest_the_closest() {
        let e = make("FrozenLake-v2").unwrap_err().to_string();
        assert!(e.contains("did you mean `FrozenLake-v1`"), "{e}");
        assert!(
            make("Chain-vx")
                .unwrap_err()
                .to_string()
                .contains("Chain-vN")
        );
        assert!(make("map:/nonexistent.txt").is_err());
    }
}
