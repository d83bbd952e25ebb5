//! `MountainCar-v0`: Gymnasium 1.4's
//! `gymnasium/envs/classic_control/mountain_car.py` (Moore 1990), in float64
//! with Gymnasium's order of operations, so trajectories agree to the bit.

use super::{Description, Env, Reference, Step, parse_vector, uniform};
use crate::error::Result;
use rand::Rng;

pub const ID: &str = "MountainCar-v0";

const MIN_POSITION: f64 = -1.2;
const MAX_POSITION: f64 = 0.6;
const MAX_SPEED: f64 = 0.07;
const GOAL_POSITION: f64 = 0.5;
/// `goal_velocity`, 0 unless `gym.make` is given another.
const GOAL_VELOCITY: f64 = 0.0;
const FORCE: f64 = 0.001;
const GRAVITY: f64 = 0.0025;

pub const DESCRIPTION: Description = Description {
    id: ID,
    summary: "Gymnasium's car in a valley: rock back and forth to reach x >= 0.5, -1 a step",
    state: &["position", "velocity"],
    observation: &[
        ("position", MIN_POSITION, MAX_POSITION),
        ("velocity", -MAX_SPEED, MAX_SPEED),
    ],
    feature_bounds: &[(MIN_POSITION, MAX_POSITION), (-MAX_SPEED, MAX_SPEED)],
    actions: &["accelerate left", "don't accelerate", "accelerate right"],
    time_limit: 200,
    success: super::Success::Terminates,
    start: "position uniform in [-0.6, -0.4), velocity 0",
    reference: REFERENCE,
    controller: Some("energy pumping"),
};

/// Mean returns of uniform play and of the controller over 10 000
/// episodes from seed 0, and `medium`'s ε: measured once by
/// `data::observed::collect::tests::measure_references`.
pub const REFERENCE: Reference = Reference {
    random: (-200.0, 0.0),
    expert: Some((-119.4127, 0.036_648)),
    medium_epsilon: Some(0.3403),
};

/// The car; its state is `[position, velocity]`, which is also what it
/// observes.
#[derive(Debug, Clone, Copy, Default)]
pub struct MountainCar;

impl Env for MountainCar {
    type State = [f64; 2];
    type Obs = [f64; 2];

    fn id(&self) -> &str {
        ID
    }
    fn n_actions(&self) -> usize {
        3
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn time_limit(&self) -> Option<usize> {
        Some(DESCRIPTION.time_limit)
    }

    /// `reset`: `[uniform(-0.6, -0.4), 0]`.
    fn reset<R: Rng>(&self, rng: &mut R) -> [f64; 2] {
        [uniform(rng, -0.6, -0.4), 0.0]
    }

    fn parse_state(&self, text: &str) -> Result<[f64; 2]> {
        parse_vector(&DESCRIPTION, text)
    }

    /// `step`: gravity and the push change the velocity, which is clipped
    /// and moves the car; the left wall stops it (inelastic).
    fn step<R: Rng>(&self, state: &mut [f64; 2], action: usize, _: &mut R) -> Step {
        let [mut position, mut velocity] = *state;
        // `velocity += (action - 1) * force + cos(3 * position) * (-gravity)`:
        // the right-hand side is summed first.
        velocity += (action as f64 - 1.0) * FORCE + (3.0 * position).cos() * (-GRAVITY);
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        position += velocity;
        position = position.clamp(MIN_POSITION, MAX_POSITION);
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        *state = [position, velocity];
        Step {
            reward: -1.0,
            terminated: position >= GOAL_POSITION && velocity >= GOAL_VELOCITY,
        }
    }

    fn observe(&self, state: &[f64; 2]) -> [f64; 2] {
        *state
    }

    /// Energy pumping: push the way the car moves (right when at rest),
    /// so each swing climbs higher; from Gymnasium's first 20 seeded
    /// starts it reaches the goal in 114–124 steps.
    fn controller(&self, obs: &[f64; 2]) -> Option<usize> {
        Some(if obs[1] >= 0.0 { 2 } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    /// Seeded starts cover Gymnasium's support, [-0.6, -0.4) × {0}, evenly.
    #[test]
    fn starts_are_uniform_on_gymnasiums_interval() {
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let n = 20_000;
        let starts: Vec<[f64; 2]> = (0..n).map(|_| MountainCar.reset(&mut rng)).collect();
        let n = f64::from(n);
        assert!(
            starts
                .iter()
                .all(|&[x, v]| (-0.6..-0.4).contains(&x) && v == 0.0)
        );
        let low_half = starts.iter().filter(|s| s[0] < -0.5).count();
        // Binomial(n, 1/2) within 5 standard deviations.
        assert!((low_half as f64 - n / 2.0).abs() < 5.0 * (n / 4.0).sqrt());
    }

    #[test]
    fn the_left_wall_stops_the_car() {
        let mut s = [-1.19, -0.07];
        MountainCar.step(&mut s, 0, &mut Pcg64Mcg::seed_from_u64(0));
        assert_eq!(s, [MIN_POSITION, 0.0]);
    }
}
