//! `CartPole-v1`: Gymnasium 1.4's
//! `gymnasium/envs/classic_control/cartpole.py` (Barto, Sutton & Anderson
//! 1983), its default explicit Euler integrator, in float64 with
//! Gymnasium's order of operations.

use super::{Description, Env, Reference, Step, parse_vector, uniform};
use crate::error::Result;
use rand::Rng;
use std::f64::consts::PI;

pub const ID: &str = "CartPole-v1";

const GRAVITY: f64 = 9.8;
const MASSCART: f64 = 1.0;
const MASSPOLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASSPOLE + MASSCART;
/// Half the pole's length.
const LENGTH: f64 = 0.5;
const POLEMASS_LENGTH: f64 = MASSPOLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
/// Seconds between state updates.
const TAU: f64 = 0.02;
/// 12 degrees, as Gymnasium computes it (`12 * 2 * math.pi / 360`).
const THETA_THRESHOLD_RADIANS: f64 = 12.0 * 2.0 * PI / 360.0;
const X_THRESHOLD: f64 = 2.4;
/// `np.finfo(np.float32).max`, Gymnasium's bound on the velocities.
const UNBOUNDED: f64 = f32::MAX as f64;

/// The velocities' ranges for features, ±these (Gymnasium bounds them by
/// float32's largest value only, which would put every observation in one
/// tile): what the controller's episodes span with any share of uniformly
/// random actions (at most 3.4 m/s and 2.8 rad/s over 300 episodes at
/// each ε of 0, 0.1, 0.3, 0.6 and 1), rounded up. Features clamp
/// faster observations to the ends.
pub const CART_VELOCITY: f64 = 4.0;
/// See [`CART_VELOCITY`].
pub const POLE_VELOCITY: f64 = 3.5;

pub const DESCRIPTION: Description = Description {
    id: ID,
    summary: "Gymnasium's pole on a cart: +1 a step until |angle| > 12° or |x| > 2.4",
    state: &[
        "cart position",
        "cart velocity",
        "pole angle",
        "pole angular velocity",
    ],
    observation: &[
        ("cart position", -2.0 * X_THRESHOLD, 2.0 * X_THRESHOLD),
        ("cart velocity", -UNBOUNDED, UNBOUNDED),
        (
            "pole angle",
            -2.0 * THETA_THRESHOLD_RADIANS,
            2.0 * THETA_THRESHOLD_RADIANS,
        ),
        ("pole angular velocity", -UNBOUNDED, UNBOUNDED),
    ],
    feature_bounds: &[
        (-2.0 * X_THRESHOLD, 2.0 * X_THRESHOLD),
        (-CART_VELOCITY, CART_VELOCITY),
        (
            -2.0 * THETA_THRESHOLD_RADIANS,
            2.0 * THETA_THRESHOLD_RADIANS,
        ),
        (-POLE_VELOCITY, POLE_VELOCITY),
    ],
    actions: &["push left", "push right"],
    time_limit: 500,
    success: super::Success::Survives,
    start: "all four components uniform in [-0.05, 0.05)",
    reference: REFERENCE,
    controller: Some("PD on the pole"),
};

/// Mean returns of uniform play and of the controller over 10 000
/// episodes from seed 0, and `medium`'s ε: measured once by
/// `data::observed::collect::tests::measure_references`.
pub const REFERENCE: Reference = Reference {
    random: (22.1704, 0.117_139),
    expert: Some((500.0, 0.0)),
    medium_epsilon: Some(0.4657),
};

/// The cart and pole; observes its physical state.
#[derive(Debug, Clone, Copy, Default)]
pub struct CartPole;

/// `(x, x_dot, theta, theta_dot)` and whether the episode has already
/// terminated: Gymnasium's `steps_beyond_terminated`, which makes every
/// step after the terminating one pay 0 instead of 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    pub x: [f64; 4],
    pub terminated_before: bool,
}

impl Env for CartPole {
    type State = State;
    type Obs = [f64; 4];

    fn id(&self) -> &str {
        ID
    }
    fn n_actions(&self) -> usize {
        2
    }
    fn obs_dim(&self) -> usize {
        4
    }
    fn time_limit(&self) -> Option<usize> {
        Some(DESCRIPTION.time_limit)
    }

    /// `reset`: `uniform(-0.05, 0.05, size=(4,))`.
    fn reset<R: Rng>(&self, rng: &mut R) -> State {
        State {
            x: std::array::from_fn(|_| uniform(rng, -0.05, 0.05)),
            terminated_before: false,
        }
    }

    fn parse_state(&self, text: &str) -> Result<State> {
        Ok(State {
            x: parse_vector(&DESCRIPTION, text)?,
            terminated_before: false,
        })
    }

    /// `step` with `kinematics_integrator = "euler"`: positions move with
    /// the old velocities (see Florian 2005 for the equations).
    fn step<R: Rng>(&self, state: &mut State, action: usize, _: &mut R) -> Step {
        let [mut x, mut x_dot, mut theta, mut theta_dot] = state.x;
        let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
        let (costheta, sintheta) = (theta.cos(), theta.sin());
        let temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS));
        let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
        x += TAU * x_dot;
        x_dot += TAU * xacc;
        theta += TAU * theta_dot;
        theta_dot += TAU * thetaacc;
        state.x = [x, x_dot, theta, theta_dot];
        // `x < -x_threshold or x > x_threshold or theta < ... or theta > ...`
        let terminated = !(-X_THRESHOLD..=X_THRESHOLD).contains(&x)
            || !(-THETA_THRESHOLD_RADIANS..=THETA_THRESHOLD_RADIANS).contains(&theta);
        // 1 for every step up to and including the terminating one.
        let reward = if terminated && state.terminated_before {
            0.0
        } else {
            1.0
        };
        state.terminated_before |= terminated;
        Step { reward, terminated }
    }

    fn observe(&self, state: &State) -> [f64; 4] {
        state.x
    }

    /// A PD controller on the pole: push right when θ + 0.5·θ̇ > 0, the
    /// way the pole is falling or about to; it balances for all 500 steps
    /// from Gymnasium's starts.
    fn controller(&self, obs: &[f64; 4]) -> Option<usize> {
        Some(usize::from(obs[2] + 0.5 * obs[3] > 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    /// The velocities' feature ranges hold what episodes span: the
    /// controller's, ε-noisy ones and uniformly random ones (episodes end
    /// at |angle| > 12° or |x| > 2.4, which bounds how fast they get).
    #[test]
    fn episodes_stay_in_the_feature_ranges() {
        use rand::Rng;
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        for epsilon in [0.0, 0.1, 0.3, 0.6, 1.0] {
            let mut top = [0.0f64; 2];
            for _ in 0..300 {
                let mut state = CartPole.reset(&mut rng);
                for _ in 0..DESCRIPTION.time_limit {
                    let obs = CartPole.observe(&state);
                    top[0] = top[0].max(obs[1].abs());
                    top[1] = top[1].max(obs[3].abs());
                    let a = if rng.random::<f64>() < epsilon {
                        rng.random_range(0..2)
                    } else {
                        CartPole.controller(&obs).unwrap()
                    };
                    if CartPole.step(&mut state, a, &mut rng).terminated {
                        top[0] = top[0].max(CartPole.observe(&state)[1].abs());
                        top[1] = top[1].max(CartPole.observe(&state)[3].abs());
                        break;
                    }
                }
            }
            assert!(
                top[0] <= CART_VELOCITY && top[1] <= POLE_VELOCITY,
                "{epsilon}: {top:?}"
            );
        }
    }

    /// Seeded starts stay in Gymnasium's [-0.05, 0.05)^4 and fill it: each
    /// component's mean is near 0 and its variance near 0.1²/12.
    #[test]
    fn starts_are_uniform_on_gymnasiums_box() {
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        let n = 20_000.0;
        let starts: Vec<State> = (0..20_000).map(|_| CartPole.reset(&mut rng)).collect();
        for i in 0..4 {
            let xs: Vec<f64> = starts.iter().map(|s| s.x[i]).collect();
            assert!(xs.iter().all(|x| (-0.05..0.05).contains(x)));
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| x * x).sum::<f64>() / n;
            let sd = (0.01_f64 / 12.0).sqrt();
            assert!(
                mean.abs() < 5.0 * sd / n.sqrt(),
                "component {i}: mean {mean}"
            );
            assert!(
                (var / (0.01 / 12.0) - 1.0).abs() < 0.05,
                "component {i}: {var}"
            );
        }
    }

    /// The threshold Gymnasium computes is 12° to the bit.
    #[test]
    fn thresholds_are_gymnasiums() {
        assert_eq!(THETA_THRESHOLD_RADIANS, 0.209_439_510_239_319_53);
        assert_eq!(TOTAL_MASS, 1.1);
    }
}
