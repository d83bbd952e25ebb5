//! `online`: the online baseline (the lecture's online row): an ε-greedy
//! tabular Q-learner (Watkins 1989) that interacts with the environment
//! itself, for as many steps as the dataset holds, so the score table
//! compares offline methods with online learning on the same budget:
//!
//!   a ~ ε-greedy(f(s,·)),  (r, s') ~ P(·|s,a),
//!   f(s,a) ← f(s,a) + lr (r + γ max_a' f(s',a') − f(s,a))   (no bootstrap when s' terminates).
//!
//! The budget of |D| steps is spread evenly over the first
//! `budget_iterations` iterations; later iterations take no step (loss 0).
//! Episodes end on termination or at the time limit (Gymnasium's, or
//! 4 × states steps where it sets none, as the data collector's learners).
//! Each iteration draws from a stream seeded by (seed, iteration), so a
//! resumed run replays exactly. Exploration breaks ties between greedy
//! actions at random; the evaluated policy is greedy (ties to the lowest
//! action). Unvisited pairs keep 0. It never reads the dataset.
//!
//! Keys: `epsilon`, `lr`, `budget_iterations` ([`KEYS`]).
//! Loss: the iteration's mean squared TD error.
//!
//! With features (Q = θᵀφ) it is ε-greedy semi-gradient Q-learning on the
//! same interaction: each step reads f(s,·) = θᵀφ(s,·) and moves θ by
//! lr · δ · φ(s,a), δ the TD error. With one-hot features that is the
//! table's update, bit for bit. Like semi-gradient fqi it can run away
//! where features generalise across the states its exploration visits.

use super::linear::{Linear, LinearRule};
use super::tabular::{Rule, Tabular};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::{Error, Result};
use crate::features::Phi;
use crate::mdp::sample::Sampler;
use crate::mdp::{Policy, solve};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::sync::Arc;

pub const NAME: &str = "online";

const EPSILON: Key = Key::number("epsilon", 0.1, 0.0, 1.0)
    .unit("probability")
    .meaning("the exploration's chance of a uniformly random action");
const LR: Key = Key::number("lr", 0.1, 0.0, 1.0).meaning("Q-learning's step size");
const BUDGET_ITERATIONS: Key = Key::integer("budget_iterations", 100, 1, 1 << 40)
    .unit("iterations")
    .meaning("the iterations the dataset's |D| interaction steps are spread over");

/// online's keys.
pub const KEYS: &[Key] = &[EPSILON, LR, BUDGET_ITERATIONS];

/// Separates the interaction's random stream from the run's other uses of its seed.
const ONLINE_STREAM: u64 = 0x6a09_e667_f3bc_c909;

pub struct Config {
    pub epsilon: f64,
    pub lr: f64,
    pub budget_iterations: u64,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let epsilon = r.number_of(&EPSILON)?;
        let lr = r.number_of(&LR)?;
        let budget_iterations = r.integer_of(&BUDGET_ITERATIONS)?;
        let config = Config {
            epsilon,
            lr,
            budget_iterations,
        };
        Ok((config, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let env = data.tabular_env("the online baseline")?;
    let budget = data.dataset.len() as u64;
    let sampler = Sampler::new(env);
    let state = sampler.reset(&mut Pcg64Mcg::seed_from_u64(data.seed ^ ONLINE_STREAM));
    let rule = Online {
        gamma: data.gamma,
        lr: config.lr,
        epsilon: config.epsilon,
        per_iteration: budget.div_ceil(config.budget_iterations),
        budget,
        time_limit: env.time_limit().unwrap_or(4 * env.n_states()) as u64,
        seed: data.seed,
        sampler,
        position: Position {
            state,
            ..Position::default()
        },
    };
    Ok(match data.phi.clone() {
        Some(phi) => {
            let theta = Array1::zeros(phi.dim());
            Linear::boxed(
                SemiGradient {
                    online: rule,
                    phi: phi.clone(),
                },
                phi,
                theta,
            )
        }
        None => Tabular::boxed(rule, &Array2::zeros((env.n_states(), env.n_actions()))),
    })
}

pub struct Online {
    gamma: f64,
    lr: f64,
    epsilon: f64,
    per_iteration: u64,
    budget: u64,
    time_limit: u64,
    seed: u64,
    sampler: Sampler,
    position: Position,
}

/// Where the interaction stands: what a checkpoint must keep beyond Q.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Position {
    state: usize,
    /// Steps into the current episode.
    episode_step: u64,
    /// Steps taken so far.
    steps: u64,
}

/// What the interaction reads and moves: a table, or weights on features.
trait Values {
    /// f(s, ·): the table's own row, or computed into `buf` (|A| long).
    fn read<'a>(&'a self, s: usize, buf: &'a mut [f64]) -> &'a [f64];
    /// Moves f(s, a) by `step`, as the representation allows.
    fn add(&mut self, s: usize, a: usize, step: f64);
}

impl Values for Array2<f64> {
    fn read<'a>(&'a self, s: usize, buf: &'a mut [f64]) -> &'a [f64] {
        let na = buf.len();
        &self.as_slice().expect("Q is contiguous")[s * na..(s + 1) * na]
    }

    fn add(&mut self, s: usize, a: usize, step: f64) {
        self[[s, a]] += step;
    }
}

/// θ on φ: f(s,a) = θᵀφ(s,a), and a step at (s,a) moves θ along φ(s,a).
struct Weights<'a> {
    phi: &'a Phi,
    theta: &'a mut Array1<f64>,
}

impl Values for Weights<'_> {
    fn read<'a>(&'a self, s: usize, buf: &'a mut [f64]) -> &'a [f64] {
        let na = buf.len();
        for (a, f) in buf.iter_mut().enumerate() {
            *f = ArrayView1::from(self.phi.row(s * na + a)).dot(self.theta);
        }
        buf
    }

    fn add(&mut self, s: usize, a: usize, step: f64) {
        let x = self.phi.row(s * self.phi.n_actions() + a);
        self.theta
            .iter_mut()
            .zip(x)
            .for_each(|(t, &x)| *t += step * x);
    }
}

impl Online {
    /// One iteration's share of the budget, on `values` (|A| actions).
    fn interact(&mut self, values: &mut impl Values, na: usize, iteration: u64) -> f64 {
        let n = self.per_iteration.min(self.budget - self.position.steps);
        let mut rng = Pcg64Mcg::seed_from_u64(
            self.seed ^ ONLINE_STREAM ^ (iteration + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let mut buf = vec![0.0; na];
        let mut squared = 0.0;
        let p = &mut self.position;
        for _ in 0..n {
            let s = p.state;
            let row = values.read(s, &mut buf);
            let a = if rng.random::<f64>() < self.epsilon {
                rng.random_range(0..na)
            } else {
                greedy_action(ArrayView1::from(row), &mut rng)
            };
            let f = row[a];
            let o = self.sampler.step(s, a, &mut rng);
            let next = o.next as usize;
            let bootstrap = if o.terminated {
                0.0
            } else {
                solve::max_value(ArrayView1::from(values.read(next, &mut buf)))
            };
            let td = o.reward + self.gamma * bootstrap - f;
            values.add(s, a, self.lr * td);
            squared += td * td;
            p.steps += 1;
            p.episode_step += 1;
            if o.terminated || p.episode_step >= self.time_limit {
                p.state = self.sampler.reset(&mut rng);
                p.episode_step = 0;
            } else {
                p.state = next;
            }
        }
        if n == 0 { 0.0 } else { squared / n as f64 }
    }

    fn save(&self) -> serde_json::Value {
        serde_json::to_value(self.position).expect("plain numbers")
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<()> {
        self.position = serde_json::from_value(state.clone())
            .map_err(|e| Error::Invalid(format!("checkpoint: online position: {e}")))?;
        Ok(())
    }
}

impl Rule for Online {
    fn step(&mut self, q: &mut Array2<f64>, iteration: u64) -> f64 {
        let na = q.ncols();
        self.interact(q, na, iteration)
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        solve::greedy(&q.to_owned())
    }

    fn save(&self) -> serde_json::Value {
        Online::save(self)
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<()> {
        Online::load(self, state)
    }
}

/// The linear form: the same interaction, stepping θ.
pub struct SemiGradient {
    online: Online,
    phi: Arc<Phi>,
}

impl LinearRule for SemiGradient {
    fn step(&mut self, theta: &mut Array1<f64>, iteration: u64) -> f64 {
        let na = self.phi.n_actions();
        let mut weights = Weights {
            phi: &self.phi,
            theta,
        };
        self.online.interact(&mut weights, na, iteration)
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        solve::greedy(&q.to_owned())
    }

    fn save(&self) -> serde_json::Value {
        self.online.save()
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<()> {
        self.online.load(state)
    }
}

/// A greedy action, ties broken at random: untried actions (all at 0)
/// are explored rather than always the first.
fn greedy_action(row: ArrayView1<f64>, rng: &mut impl Rng) -> usize {
    let best = solve::max_value(row);
    let ties = row.iter().filter(|&&x| x == best).count();
    let pick = rng.random_range(0..ties.max(1));
    row.iter()
        .enumerate()
        .filter(|(_, x)| **x == best)
        .nth(pick)
        .map_or(0, |(a, _)| a)
}
