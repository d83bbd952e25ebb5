//! The classical controller of a continuous environment as a baseline
//! beside offline RL (the lecture's PID row): its score by Monte-Carlo
//! on the start states and rollout count the runs are evaluated with
//! ([`super::monte_carlo::START_SEED`]), so that a run and the controller
//! are measured on the same episodes' starts. Pure in (environment,
//! rollouts, γ) and computed once per process for each.

use crate::env::monte_carlo::{self as mc, Estimate, Plan};
use crate::env::{self, Description, Env, Visit};
use crate::error::{Error, Result};
use crate::memo::Memo;
use serde::Serialize;

/// The controller's returns and score on one environment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ControllerScore {
    pub env: &'static str,
    /// What the controller does (`energy pumping`).
    pub name: &'static str,
    pub rollouts: usize,
    /// The undiscounted episode return, what D4RL scores.
    pub episode_return: Estimate,
    /// The discounted J at the runs' γ.
    pub true_return: Estimate,
    /// D4RL's score of the mean episode return and its standard error.
    pub score: f64,
    pub score_se: f64,
}

/// (environment, rollouts, γ's bits) → its score; a store has a few.
static KEPT: Memo<(&'static str, usize, u64), std::result::Result<ControllerScore, String>> =
    Memo::new(16);

/// The controller's score on `env` from the runs' `rollouts` starts at
/// `gamma`; `None` where the environment has no controller (every
/// tabular one).
pub fn controller_score(
    env: &'static Description,
    rollouts: usize,
    gamma: f64,
) -> Option<Result<ControllerScore>> {
    let name = env.controller?;
    let key = (env.id, rollouts, gamma.to_bits());
    let measured = KEPT.get_or_compute(
        |k| *k == key,
        || key,
        || {
            let plan = Plan {
                episodes: rollouts,
                seed: super::monte_carlo::START_SEED,
                gamma,
            };
            env::visit_continuous(env.id, &Play(plan))
                .ok_or_else(|| Error::Invalid(format!("{} is not continuous", env.id)))
                .flatten()
                .map(|played| ControllerScore {
                    env: env.id,
                    name,
                    rollouts,
                    episode_return: played.episode_return,
                    true_return: played.discounted_return,
                    score: env
                        .reference
                        .score(played.episode_return.mean)
                        .unwrap_or(f64::NAN),
                    score_se: env.reference.score_se(played.episode_return.se),
                })
                .map_err(|e| e.to_string())
        },
    );
    Some(measured.map_err(Error::Invalid))
}

/// The scores of the controllers `wanted` (environment, rollouts, γ), as
/// [`crate::present::scores::controllers_of`] lists a table's: those that
/// exist and can be measured (a rollout count below 2 cannot, which no
/// run has), in order.
pub fn controller_scores(
    wanted: impl IntoIterator<Item = (&'static Description, usize, f64)>,
) -> Vec<ControllerScore> {
    wanted
        .into_iter()
        .filter_map(|(env, rollouts, gamma)| controller_score(env, rollouts, gamma)?.ok())
        .collect()
}

/// Plays the controller by the plan.
struct Play(Plan);

impl Visit for Play {
    type Out = Result<mc::Evaluation>;

    fn visit<E: Env>(&self, env: &E) -> Self::Out {
        mc::evaluate(
            env,
            |obs, _| {
                env.controller(obs)
                    .expect("the environment has a controller")
            },
            self.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{acrobot, cart_pole, mountain_car};

    /// Near 100 by construction (the reference expert is the same
    /// controller, from other starts): within 4 standard errors of both.
    #[test]
    fn controllers_score_about_100_on_the_runs_starts() {
        for d in [
            &mountain_car::DESCRIPTION,
            &cart_pole::DESCRIPTION,
            &acrobot::DESCRIPTION,
        ] {
            let c = controller_score(d, 1000, 0.99).unwrap().unwrap();
            let expert_se = d.reference.score_se(d.reference.expert.unwrap().1);
            let se = c.score_se.hypot(expert_se);
            assert!(
                (c.score - 100.0).abs() <= 4.0 * se + 1e-9,
                "{}: {c:?}",
                d.id
            );
            assert_eq!((c.env, c.rollouts), (d.id, 1000));
            assert!(c.true_return.se >= 0.0 && c.episode_return.n == 1000);
            // Memoized: the same value, bit for bit.
            assert_eq!(controller_score(d, 1000, 0.99).unwrap().unwrap(), c);
        }
    }

    #[test]
    fn an_environment_without_a_controller_has_no_row() {
        let mut d = mountain_car::DESCRIPTION;
        d.controller = None;
        assert!(controller_score(Box::leak(Box::new(d)), 100, 0.99).is_none());
    }
}
