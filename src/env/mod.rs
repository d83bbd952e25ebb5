//! Environments as a sampler sees them: reset, step, observe, time limit.
//!
//! [`Env`] is what data collection, rollouts and Monte-Carlo evaluation
//! need, and nothing more: tabular MDPs implement it through
//! [`crate::mdp::sample::Tabular`], and the continuous-state classic-control
//! problems here implement it directly. Exact solution needs the whole
//! transition table and so stays with [`crate::mdp::TabularMdp`].
//!
//! - [`mountain_car`], [`cart_pole`], [`acrobot`]: Gymnasium 1.4's
//!   `gymnasium/envs/classic_control/*.py`, step for step in float64;
//!   `tests/it/gymnasium.rs` compares trajectories with Gymnasium's own.
//! - [`Description`]: what `env list`/`env show` print of them, the
//!   documented observation bounds that scale features, and the reference
//!   returns that normalize scores ([`Reference`]).
//! - [`Observation`]: an observation as the numbers a dataset stores
//!   ([`crate::data::observed`]).
//! - [`rollout`]: a given action sequence from a given state, with
//!   Gymnasium's time-limit truncation.
//! - [`monte_carlo`]: a policy's mean return ± standard error over a
//!   seeded set of episodes, on every core.

pub mod acrobot;
pub mod cart_pole;
pub mod monte_carlo;
pub mod mountain_car;

pub use acrobot::Acrobot;
pub use cart_pole::CartPole;
pub use mountain_car::MountainCar;

pub use crate::data::observed::collect::Reference;
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::fmt::Debug;

/// What one step returns; truncation is the caller's, as in Gymnasium,
/// where the `TimeLimit` wrapper adds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub reward: f64,
    pub terminated: bool,
}

/// An episodic environment with finitely many actions.
///
/// The state is a `Copy` value kept by the caller, so one environment
/// serves any number of parallel episodes and a step allocates nothing;
/// `Sync`, so those episodes can run on every core.
pub trait Env: Sync {
    /// Everything the dynamics need (Gymnasium's `env.unwrapped.state`).
    type State: Copy + Debug;
    /// What an agent sees of a state.
    type Obs: Observation;

    fn id(&self) -> &str;
    fn n_actions(&self) -> usize;
    /// Length of an observation as a vector (1 for a tabular state index).
    fn obs_dim(&self) -> usize;
    /// Gymnasium's `max_episode_steps`, if the environment registers one.
    fn time_limit(&self) -> Option<usize>;
    /// Draws a start state from the environment's start distribution.
    fn reset<R: Rng>(&self, rng: &mut R) -> Self::State;
    /// A state given exactly, as text (`x0,x1,...` or a state index), as
    /// setting `env.unwrapped.state` does in Gymnasium.
    fn parse_state(&self, text: &str) -> Result<Self::State>;
    /// Takes `action` (already checked against [`Env::n_actions`]) in `state`.
    fn step<R: Rng>(&self, state: &mut Self::State, action: usize, rng: &mut R) -> Step;
    fn observe(&self, state: &Self::State) -> Self::Obs;
    /// The environment's classical controller, if it has one: a fixed rule
    /// from observation to action that solves it (the baseline a learned
    /// policy should match).
    fn controller(&self, _obs: &Self::Obs) -> Option<usize> {
        None
    }
}

/// An observation as the row of numbers a dataset stores.
pub trait Observation: Copy + Debug + Serialize {
    /// Appends the components (as many as [`Env::obs_dim`]) to `out`.
    fn extend(&self, out: &mut Vec<f64>);
}

impl<const N: usize> Observation for [f64; N]
where
    [f64; N]: Serialize,
{
    #[inline(always)]
    fn extend(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(self);
    }
}

/// A tabular state index, one component.
impl Observation for usize {
    #[inline(always)]
    fn extend(&self, out: &mut Vec<f64>) {
        out.push(*self as f64);
    }
}

/// One episode's observations (the start first), rewards and end flags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trajectory<O> {
    pub observations: Vec<O>,
    pub rewards: Vec<f64>,
    pub terminated: bool,
    pub truncated: bool,
}

/// Plays `actions` from `state`; the episode is truncated when it reaches
/// the time limit, counted from `state`. Actions out of range, or left
/// over after the episode ended, are an error naming their position.
pub fn rollout<E: Env, R: Rng>(
    env: &E,
    state: E::State,
    actions: &[usize],
    rng: &mut R,
) -> Result<Trajectory<E::Obs>> {
    let out = play(env, state, |t, _| actions.get(t).copied(), rng)?;
    let t = out.rewards.len();
    if t < actions.len() {
        return Err(Error::Invalid(format!(
            "the episode ended after step {t}, but {} more action(s) follow",
            actions.len() - t
        )));
    }
    Ok(out)
}

/// Plays the environment's classical controller from `state` until the
/// episode ends; an error if it has none.
pub fn control<E: Env, R: Rng>(
    env: &E,
    state: E::State,
    rng: &mut R,
) -> Result<Trajectory<E::Obs>> {
    check_controller(env, &state)?;
    play(env, state, |_, obs| env.controller(obs), rng)
}

/// An error unless `env` has a classical controller (asked at `state`)
/// and a time limit to end its episodes.
pub fn check_controller<E: Env>(env: &E, state: &E::State) -> Result<()> {
    if env.controller(&env.observe(state)).is_none() || env.time_limit().is_none() {
        return Err(Error::Invalid(format!(
            "{} has no classical controller; {} have one",
            env.id(),
            controlled().join(", ")
        )));
    }
    Ok(())
}

/// The continuous-state environments whose [`Env::controller`] answers,
/// asked at a seeded start: derived from the implementations, so a new
/// controller is listed without a second list to keep.
fn controlled() -> Vec<&'static str> {
    struct HasController;
    impl Visit for HasController {
        type Out = bool;
        fn visit<E: Env>(&self, env: &E) -> bool {
            let start = env.reset(&mut rand_pcg::Pcg64Mcg::seed_from_u64(0));
            env.controller(&env.observe(&start)).is_some()
        }
    }
    CONTINUOUS
        .into_iter()
        .map(|d| d.id)
        .filter(|id| visit_continuous(id, &HasController) == Some(true))
        .collect()
}

/// Steps with the action `next(step, observation)` chooses until the
/// episode ends or `next` has none left.
fn play<E: Env, R: Rng>(
    env: &E,
    mut state: E::State,
    mut next: impl FnMut(usize, &E::Obs) -> Option<usize>,
    rng: &mut R,
) -> Result<Trajectory<E::Obs>> {
    let mut out = Trajectory {
        observations: vec![env.observe(&state)],
        rewards: Vec::new(),
        terminated: false,
        truncated: false,
    };
    let mut t = 0;
    while !(out.terminated || out.truncated) {
        let Some(a) = next(t, &out.observations[t]) else {
            break;
        };
        if a >= env.n_actions() {
            return Err(Error::Invalid(format!(
                "action {a} at position {t} is out of range: {} has actions 0..={}",
                env.id(),
                env.n_actions() - 1
            )));
        }
        let step = env.step(&mut state, a, rng);
        out.observations.push(env.observe(&state));
        out.rewards.push(step.reward);
        out.terminated = step.terminated;
        // Gymnasium's TimeLimit: truncated at the limit even if also terminated.
        out.truncated = env.time_limit() == Some(t + 1);
        t += 1;
    }
    Ok(out)
}

/// A continuous-state environment as `env list` and `env show` describe it,
/// with Gymnasium's documented bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Description {
    pub id: &'static str,
    pub summary: &'static str,
    /// Names of the internal state's components (what `--start` sets).
    pub state: &'static [&'static str],
    /// Each observation component: name, low, high (Gymnasium's
    /// `observation_space`; `f32::MAX` where Gymnasium has it).
    pub observation: &'static [(&'static str, f64, f64)],
    /// Each observation component's range for features, which scale it to
    /// [0, 1] ([`crate::features::observation`]): the documented bounds
    /// where they are finite, a stated range where Gymnasium has none.
    #[serde(skip)]
    pub feature_bounds: &'static [(f64, f64)],
    pub actions: &'static [&'static str],
    pub time_limit: usize,
    /// What an episode that succeeds does (a run's `success_prob`).
    #[serde(skip)]
    pub success: Success,
    pub start: &'static str,
    /// The random and expert returns that normalize scores, and `medium`'s ε.
    pub reference: Reference,
    /// What [`Env::controller`] does, for the score table's row of it.
    #[serde(skip)]
    pub controller: Option<&'static str>,
}

/// When an episode of a continuous environment counts as a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// It terminates: reaching a goal ends the episode (MountainCar's
    /// flag, Acrobot's line).
    Terminates,
    /// It runs to the time limit: termination is failure (CartPole's pole
    /// falling or cart leaving the track).
    Survives,
}

impl Success {
    /// The share of successful episodes, from the share that terminated.
    pub fn share(self, terminated: f64) -> f64 {
        match self {
            Success::Terminates => terminated,
            Success::Survives => 1.0 - terminated,
        }
    }
}

/// Every continuous-state environment, in `env list` order.
pub const CONTINUOUS: [&Description; 3] = [
    &mountain_car::DESCRIPTION,
    &cart_pole::DESCRIPTION,
    &acrobot::DESCRIPTION,
];

/// The description of continuous-state environment `id`, if it is one.
pub fn continuous(id: &str) -> Option<&'static Description> {
    CONTINUOUS.into_iter().find(|d| d.id == id)
}

/// Something to do with an environment of any type: the one place where
/// an id turns into a concrete [`Env`].
pub trait Visit {
    type Out;
    fn visit<E: Env>(&self, env: &E) -> Self::Out;
}

/// Runs `visitor` on continuous-state environment `id`; `None` if `id` is
/// not one (it may still be a tabular id).
pub fn visit_continuous<V: Visit>(id: &str, visitor: &V) -> Option<V::Out> {
    match id {
        mountain_car::ID => Some(visitor.visit(&MountainCar)),
        cart_pole::ID => Some(visitor.visit(&CartPole)),
        acrobot::ID => Some(visitor.visit(&Acrobot)),
        _ => None,
    }
}

/// `low + (high − low)·u` with `u` uniform in [0, 1): numpy's
/// `Generator.uniform`, the same distribution drawn from the project's
/// PCG instead of numpy's bit generator, so the numbers differ.
fn uniform<R: Rng>(rng: &mut R, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.random::<f64>()
}

/// A state vector from `x0,x1,...`, exactly `N` finite numbers (the
/// caller names where the text came from).
fn parse_vector<const N: usize>(d: &Description, text: &str) -> Result<[f64; N]> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() != N {
        return Err(Error::Invalid(format!(
            "{} has a state of {N} numbers ({}), got {}",
            d.id,
            d.state.join(", "),
            parts.len()
        )));
    }
    let mut out = [0.0; N];
    for (i, (slot, part)) in out.iter_mut().zip(parts).enumerate() {
        *slot = part
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "`{part}` (number {} of the state, {}) is not a finite number",
                    i + 1,
                    d.state[i]
                ))
            })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    #[test]
    fn state_vectors_are_checked() {
        let d = &mountain_car::DESCRIPTION;
        assert_eq!(parse_vector::<2>(d, "-0.5, 0").unwrap(), [-0.5, 0.0]);
        let e = parse_vector::<2>(d, "1,2,3").unwrap_err().to_string();
        assert!(
            e.contains("state of 2 numbers (position, velocity), got 3"),
            "{e}"
        );
        let e = parse_vector::<2>(d, "1,nan").unwrap_err().to_string();
        assert!(e.contains("number 2 of the state, velocity"), "{e}");
        assert!(parse_vector::<2>(d, "1,x").is_err());
    }

    #[test]
    fn rollout_checks_actions_and_truncates() {
        let mut rng = Pcg64Mcg::seed_from_u64(0);
        let start = MountainCar.parse_state("-0.5,0").unwrap();
        let e = rollout(&MountainCar, start, &[1, 3], &mut rng).unwrap_err();
        assert!(e.to_string().contains("action 3 at position 1"), "{e}");
        // Standing still at the bottom never reaches the goal: 200 steps
        // truncate, and a 201st action is refused.
        let t = rollout(&MountainCar, start, &[1; 200], &mut rng).unwrap();
        assert_eq!((t.terminated, t.truncated), (false, true));
        assert_eq!(t.observations.len(), 201);
        let e = rollout(&MountainCar, start, &[1; 201], &mut rng).unwrap_err();
        assert!(e.to_string().contains("ended after step 200"), "{e}");
    }

    #[test]
    fn continuous_ids_are_listed_and_visited() {
        struct Limit;
        impl Visit for Limit {
            type Out = (usize, Option<usize>);
            fn visit<E: Env>(&self, env: &E) -> Self::Out {
                (env.n_actions(), env.time_limit())
            }
        }
        let got: Vec<_> = CONTINUOUS
            .iter()
            .map(|d| visit_continuous(d.id, &Limit).unwrap())
            .collect();
        assert_eq!(got, [(3, Some(200)), (2, Some(500)), (3, Some(500))]);
        for d in CONTINUOUS {
            assert_eq!(continuous(d.id), Some(d));
            assert_eq!(d.actions.len(), visit_continuous(d.id, &Limit).unwrap().0);
        }
        assert!(visit_continuous("FrozenLake-v1", &Limit).is_none());
    }
}
