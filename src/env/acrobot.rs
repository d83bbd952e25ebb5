//! `Acrobot-v1`: Gymnasium 1.4's
//! `gymnasium/envs/classic_control/acrobot.py` (Sutton 1996; the book's
//! dynamics, `book_or_nips = "book"`, torque noise 0), integrated over
//! one step of 0.2 s by Gymnasium's own `rk4` helper, then angles wrapped
//! and velocities bounded, all in float64 in Gymnasium's order of
//! operations: trajectories agree to the bit.

use super::{Description, Env, Reference, Step, parse_vector, uniform};
use crate::error::Result;
use rand::Rng;
use std::f64::consts::PI;

pub const ID: &str = "Acrobot-v1";

const DT: f64 = 0.2;
const LINK_LENGTH_1: f64 = 1.0;
const LINK_MASS_1: f64 = 1.0;
const LINK_MASS_2: f64 = 1.0;
/// Position of each link's centre of mass.
const LINK_COM_POS_1: f64 = 0.5;
const LINK_COM_POS_2: f64 = 0.5;
/// Moment of inertia of both links.
const LINK_MOI: f64 = 1.0;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;
const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];
const G: f64 = 9.8;

pub const DESCRIPTION: Description = Description {
    id: ID,
    summary: "Gymnasium's two-link pendulum: swing the tip above the bar, -1 a step",
    state: &["theta1", "theta2", "dtheta1", "dtheta2"],
    observation: &[
        ("cos theta1", -1.0, 1.0),
        ("sin theta1", -1.0, 1.0),
        ("cos theta2", -1.0, 1.0),
        ("sin theta2", -1.0, 1.0),
        ("dtheta1", -MAX_VEL_1, MAX_VEL_1),
        ("dtheta2", -MAX_VEL_2, MAX_VEL_2),
    ],
    feature_bounds: &[
        (-1.0, 1.0),
        (-1.0, 1.0),
        (-1.0, 1.0),
        (-1.0, 1.0),
        (-MAX_VEL_1, MAX_VEL_1),
        (-MAX_VEL_2, MAX_VEL_2),
    ],
    actions: &["torque -1", "torque 0", "torque +1"],
    time_limit: 500,
    success: super::Success::Terminates,
    start: "all four components uniform in [-0.1, 0.1), rounded to float32 as Gymnasium does",
    reference: REFERENCE,
    controller: Some("energy pumping"),
};

/// Mean returns of uniform play and of the controller over 10 000
/// episodes from seed 0, and `medium`'s ε: measured once by
/// `data::observed::collect::tests::measure_references`.
pub const REFERENCE: Reference = Reference {
    random: (-498.9642, 0.108_653),
    expert: Some((-90.5924, 0.414_654)),
    medium_epsilon: Some(0.8331),
};

/// The acrobot; its state is `[theta1, theta2, dtheta1, dtheta2]` and it
/// observes `[cos θ1, sin θ1, cos θ2, sin θ2, dθ1, dθ2]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acrobot;

/// The state with the torque appended, as `rk4` integrates it (the
/// torque's derivative is 0).
type Augmented = [f64; 5];

/// `_dsdt`, the book's equations of motion.
fn dsdt(s: &Augmented) -> Augmented {
    let (m1, m2, l1) = (LINK_MASS_1, LINK_MASS_2, LINK_LENGTH_1);
    let (lc1, lc2, i1, i2) = (LINK_COM_POS_1, LINK_COM_POS_2, LINK_MOI, LINK_MOI);
    let [theta1, theta2, dtheta1, dtheta2, a] = *s;
    let d1 =
        m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * theta2.cos()) + i2;
    let phi2 = m2 * lc2 * G * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * theta2.sin()
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * theta2.sin()
        + (m1 * lc1 + m2 * l1) * G * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * theta2.sin() - phi2)
        / (m2 * (lc2 * lc2) + i2 - (d2 * d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0]
}

/// `y + h·k`, element by element.
fn axpy(y: &Augmented, h: f64, k: &Augmented) -> Augmented {
    std::array::from_fn(|i| y[i] + h * k[i])
}

/// Gymnasium's `rk4(derivs, y0, [0, dt])`: one classical Runge-Kutta step,
/// with its sums in its order (`k1 + 2*k2 + 2*k3 + k4`).
fn rk4(y0: &Augmented) -> Augmented {
    let dt2 = DT / 2.0;
    let k1 = dsdt(y0);
    let k2 = dsdt(&axpy(y0, dt2, &k1));
    let k3 = dsdt(&axpy(y0, dt2, &k2));
    let k4 = dsdt(&axpy(y0, DT, &k3));
    let sum: Augmented = std::array::from_fn(|i| k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    axpy(y0, DT / 6.0, &sum)
}

/// Gymnasium's `wrap(x, -π, π)`: whole turns added or taken away one at a
/// time, as it does (not a remainder, which rounds differently).
fn wrap(mut x: f64) -> f64 {
    let diff = PI - -PI;
    while x > PI {
        x -= diff;
    }
    while x < -PI {
        x += diff;
    }
    x
}

impl Env for Acrobot {
    type State = [f64; 4];
    type Obs = [f64; 6];

    fn id(&self) -> &str {
        ID
    }
    fn n_actions(&self) -> usize {
        3
    }
    fn obs_dim(&self) -> usize {
        6
    }
    fn time_limit(&self) -> Option<usize> {
        Some(DESCRIPTION.time_limit)
    }

    /// `reset`: `uniform(-0.1, 0.1, size=(4,)).astype(np.float32)`.
    fn reset<R: Rng>(&self, rng: &mut R) -> [f64; 4] {
        std::array::from_fn(|_| f64::from(uniform(rng, -0.1, 0.1) as f32))
    }

    fn parse_state(&self, text: &str) -> Result<[f64; 4]> {
        parse_vector(&DESCRIPTION, text)
    }

    /// `step`: integrate 0.2 s at constant torque, wrap both angles into
    /// [-π, π], bound the velocities; the tip above the bar terminates
    /// with reward 0, every other step pays -1.
    fn step<R: Rng>(&self, state: &mut [f64; 4], action: usize, _: &mut R) -> Step {
        let [t1, t2, v1, v2] = *state;
        let ns = rk4(&[t1, t2, v1, v2, AVAIL_TORQUE[action]]);
        *state = [
            wrap(ns[0]),
            wrap(ns[1]),
            ns[2].clamp(-MAX_VEL_1, MAX_VEL_1),
            ns[3].clamp(-MAX_VEL_2, MAX_VEL_2),
        ];
        let terminated = -state[0].cos() - (state[1] + state[0]).cos() > 1.0;
        Step {
            reward: if terminated { 0.0 } else { -1.0 },
            terminated,
        }
    }

    fn observe(&self, s: &[f64; 4]) -> [f64; 6] {
        [s[0].cos(), s[0].sin(), s[1].cos(), s[1].sin(), s[2], s[3]]
    }

    /// Energy pumping: torque the way the second joint turns. Without
    /// friction the rate of change of the total mechanical energy is the
    /// actuator's power, τ·θ̇2, so τ = sign(θ̇2) raises it as fast as the
    /// unit torque allows, each swing higher until the tip clears the bar.
    /// No constant is tuned; from Gymnasium's first 20 seeded starts it
    /// ends in 65–122 steps (the fixture's episodes).
    fn controller(&self, obs: &[f64; 6]) -> Option<usize> {
        Some(if obs[5] >= 0.0 { 2 } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    /// Seeded starts lie in [-0.1, 0.1]^4 and are float32 numbers, as
    /// Gymnasium's `astype(np.float32)` leaves them.
    #[test]
    fn starts_are_float32_draws_on_gymnasiums_box() {
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        let starts: Vec<[f64; 4]> = (0..10_000).map(|_| Acrobot.reset(&mut rng)).collect();
        for s in &starts {
            for &x in s {
                assert!((-0.1..=0.1).contains(&x) && f64::from(x as f32) == x, "{x}");
            }
        }
        let mean = starts.iter().map(|s| s[3]).sum::<f64>() / 10_000.0;
        assert!(
            mean.abs() < 5.0 * (0.04_f64 / 12.0 / 10_000.0).sqrt(),
            "{mean}"
        );
    }

    #[test]
    fn wrap_adds_whole_turns() {
        assert_eq!(wrap(0.5), 0.5);
        assert_eq!(wrap(PI), PI);
        assert_eq!(wrap(PI + 1.0), PI + 1.0 - 2.0 * PI);
        assert_eq!(wrap(-3.0 * PI - 0.5), -3.0 * PI - 0.5 + 2.0 * PI + 2.0 * PI);
    }
}
