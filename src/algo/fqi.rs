//! `fqi`: naive off-policy Q-learning / fitted Q iteration (Ernst et al.
//! 2005; Watkins 1989), the baseline that overestimates:
//!
//!   f(s,a) ← r + γ max_a' f(s', a')   on dataset transitions.
//!
//! The max reaches actions the data never shows, whose values are whatever
//! Q started with (`q_init`); pairs the data never shows are never updated,
//! and the greedy policy takes them when their values are the largest.
//!
//! Variants (`variant`), each with its own keys (defaults, ranges and
//! meanings: [`KEYS`]):
//! - `sweep` (default): one iteration applies the empirical Bellman
//!   optimality operator to every observed pair of the compiled dataset at
//!   once. Keys: `q_init`. Loss: the largest |ΔQ| of the sweep (0 at the
//!   fixed point).
//! - `sample`: one iteration is an epoch of tabular Q-learning over the
//!   stored transitions in a fixed seeded order,
//!   f(s,a) ← f(s,a) + α_k (r + γ max_a' f(s',a') − f(s,a)), with
//!   α_k = lr / (1 + lr_decay · k) at epoch k. Keys: `lr`, `lr_decay`,
//!   `q_init`. Loss: the epoch's mean squared TD error.
//!
//! `q_init` is "zero", "optimistic" (r_max / (1 − γ)) or "random"
//! (N(0, init_scale²)).
//!
//! With features (Q = θᵀφ, see [`super::linear`]) the same two variants:
//! `sweep` is least-squares FQI, θ ← argmin_θ Σ_D (θᵀφ(s,a) − y)² with the
//! targets y = r + γ max_a' θ_kᵀφ(s',a') of the previous weights (exact
//! ridge regression on the observed pairs weighted by their counts);
//! `sample` is semi-gradient Q-learning, θ ← θ + α_k δ φ(s,a) per stored
//! transition, δ the TD error. Both diverge where the features let one
//! update raise the values it bootstraps from (TwoState-v0 for the first,
//! Baird-v0 for the second). Loss: the largest |ΔQ| over every pair
//! (`sweep`), the epoch's mean squared TD error (`sample`).

use super::linear::{self, Fitted, Linear, LinearRule, NextValue};
use super::tabular::{
    Backup, INIT_SCALE, Q_INIT, QInit, Rule, Tabular, by_row_len, max_per_state, row_len,
};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::{Error, Result};
use crate::features::Phi;
use crate::mdp::{Policy, solve};
use ndarray::{Array1, Array2, ArrayView2};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;
use std::sync::Arc;

pub const NAME: &str = "fqi";

const VARIANT: Key = Key::choice("variant", "sweep", &["sweep", "sample"])
    .meaning("`sweep`: every observed pair backed up at once; `sample`: an epoch of Q-learning over the stored transitions");
const LR: Key = Key::number("lr", 0.1, 0.0, 1.0)
    .meaning("the first epoch's step size α_0")
    .only_with("variant", "sample");
const LR_DECAY: Key = Key::number("lr_decay", 0.0, 0.0, 1e12)
    .unit("1/epoch")
    .meaning("the step size's decay, α_k = lr / (1 + lr_decay · k) at epoch k")
    .only_with("variant", "sample");

/// fqi's keys.
pub const KEYS: &[Key] = &[VARIANT, LR, LR_DECAY, Q_INIT, INIT_SCALE];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Variant {
    Sweep,
    Sample { lr: f64, lr_decay: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub variant: Variant,
    pub q_init: QInit,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let variant = if r.choice_of(&VARIANT)? == "sample" {
            Variant::Sample {
                lr: r.number_of(&LR)?,
                lr_decay: r.number_of(&LR_DECAY)?,
            }
        } else {
            r.not_chosen(&[LR, LR_DECAY]);
            Variant::Sweep
        };
        let q_init = QInit::read(&mut r)?;
        Ok((Config { variant, q_init }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    if let Some(phi) = data.phi.clone() {
        let theta = linear::initial_theta(config.q_init, &phi, data)?;
        return Ok(match config.variant {
            Variant::Sweep => Linear::boxed(
                Fitted::new(phi.clone(), data, NextValue::Greedy)?,
                phi,
                theta,
            ),
            Variant::Sample { lr, lr_decay } => Linear::boxed(
                SemiGradient {
                    phi: phi.clone(),
                    sample: Sample::new(data, lr, lr_decay)?,
                },
                phi,
                theta,
            ),
        });
    }
    let init = config.q_init.table(data);
    Ok(match config.variant {
        Variant::Sweep => Tabular::boxed(Sweep::new(data), &init),
        Variant::Sample { lr, lr_decay } => Tabular::boxed(Sample::new(data, lr, lr_decay)?, &init),
    })
}

/// The `sweep` variant.
pub struct Sweep {
    backup: Backup,
    /// V(s) = max_a f(s, a), reused between sweeps.
    v: Vec<f64>,
}

impl Rule for Sweep {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        let n_actions = q.ncols();
        let q = q.as_slice_mut().expect("Q is contiguous");
        max_per_state(q, n_actions, &mut self.v);
        self.backup.apply(&self.v, q)
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        solve::greedy(&q.to_owned())
    }
}

impl Sweep {
    pub fn new(data: &TrainData) -> Self {
        Sweep {
            backup: Backup::new(&data.compiled, data.gamma),
            v: vec![0.0; data.compiled.n_states + 1],
        }
    }
}

/// The `sample` variant with features: semi-gradient Q-learning.
pub struct SemiGradient {
    phi: Arc<Phi>,
    sample: Sample,
}

impl LinearRule for SemiGradient {
    fn step(&mut self, theta: &mut Array1<f64>, iteration: u64) -> f64 {
        let s = &self.sample;
        let lr = s.lr / (1.0 + s.lr_decay * iteration as f64);
        let na = self.phi.n_actions();
        let terminal = self.phi.n_states() * na;
        let theta = theta.as_slice_mut().expect("θ is contiguous");
        let mut squared = 0.0;
        for t in &s.transitions {
            let next = t.next_row as usize;
            let best = if next == terminal {
                0.0
            } else {
                (next..next + na)
                    .map(|row| self.phi.dot(row, theta))
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            let cell = t.cell as usize;
            // ALGO LOGIC: the semi-gradient step θ ← θ + α_k δ φ(s,a),
            // over φ(s,a)'s nonzeros.
            let td = t.td_error(s.gamma, best, self.phi.dot(cell, theta));
            self.phi.add_scaled(cell, lr * td, theta);
            squared += td * td;
        }
        squared / s.transitions.len().max(1) as f64
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        solve::greedy(&q.to_owned())
    }
}

/// The `sample` variant.
pub struct Sample {
    gamma: f64,
    lr: f64,
    lr_decay: f64,
    transitions: Vec<Transition>,
}

impl Rule for Sample {
    fn step(&mut self, q: &mut Array2<f64>, iteration: u64) -> f64 {
        let lr = self.lr / (1.0 + self.lr_decay * iteration as f64);
        let n_actions = q.ncols();
        let q = q.as_slice_mut().expect("Q is contiguous");
        let squared = by_row_len!(n_actions, self.epoch(q, n_actions, lr));
        squared / self.transitions.len().max(1) as f64
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        solve::greedy(&q.to_owned())
    }
}

/// One stored transition, packed for the Q-learning loop.
#[derive(Debug, Clone, Copy)]
struct Transition {
    /// s·|A| + a.
    cell: u32,
    /// s'·|A| of the successor's row, or the all-zero terminal row when the
    /// transition terminated (so the loop has no branch).
    next_row: u32,
    reward: f64,
}

impl Transition {
    /// Q-learning's TD error δ = r + γ max_a' f(s',a') − f(s,a), given the
    /// successor's best value and the pair's current one: the one place
    /// both forms of the `sample` variant state it.
    #[inline(always)]
    fn td_error(&self, gamma: f64, best: f64, current: f64) -> f64 {
        self.reward + gamma * best - current
    }
}

impl Sample {
    pub fn new(data: &TrainData, lr: f64, lr_decay: f64) -> Result<Self> {
        check_ranges(data)?;
        let d = &data.dataset;
        let (ns, na) = (data.compiled.n_states, data.compiled.n_actions);
        let mut order: Vec<usize> = (0..d.len()).collect();
        order.shuffle(&mut Pcg64Mcg::seed_from_u64(data.seed));
        let transitions = order
            .into_iter()
            .map(|i| Transition {
                cell: d.state[i] * na as u32 + d.action[i],
                next_row: if d.terminated[i] {
                    ns as u32
                } else {
                    d.next_state[i]
                } * na as u32,
                reward: d.reward[i],
            })
            .collect();
        Ok(Sample {
            gamma: data.gamma,
            lr,
            lr_decay,
            transitions,
        })
    }
}

/// Checks that every transition indexes the table, so the learning loops
/// may skip bounds checks.
fn check_ranges(data: &TrainData) -> Result<()> {
    let d = &data.dataset;
    let (ns, na) = (data.compiled.n_states, data.compiled.n_actions);
    let bad = (0..d.len()).find(|&i| {
        d.state[i] as usize >= ns || d.next_state[i] as usize >= ns || d.action[i] as usize >= na
    });
    match bad {
        Some(i) => Err(Error::Invalid(format!(
            "dataset transition {i} is outside the environment's {ns} states x {na} actions"
        ))),
        None => Ok(()),
    }
}

impl Sample {
    /// One epoch of tabular Q-learning over the stored transitions, for
    /// rows of [`row_len`]`::<N>` actions. Returns the sum of squared TD
    /// errors.
    fn epoch<const N: usize>(&self, q: &mut [f64], n_actions: usize, lr: f64) -> f64 {
        let n = row_len::<N>(n_actions);
        debug_assert!(
            self.transitions
                .iter()
                .all(|t| (t.cell as usize) < q.len() && t.next_row as usize + n <= q.len())
        );
        let mut squared = 0.0;
        for t in &self.transitions {
            let next = t.next_row as usize;
            // SPEED: unchecked reads. SAFETY: `Sample::new` checked every
            // state and action against the table's shape, and `q` is that
            // table plus the terminal row.
            let (best, current) = unsafe {
                let row = q.get_unchecked(next..next + n);
                (solve::max_value(row), *q.get_unchecked(t.cell as usize))
            };
            // ALGO LOGIC: f(s,a) ← f(s,a) + α_k δ.
            let td = t.td_error(self.gamma, best, current);
            // SAFETY: as above.
            unsafe { *q.get_unchecked_mut(t.cell as usize) += lr * td };
            squared += td * td;
        }
        squared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The epoch is plain Q-learning, in the stored order, bit for bit, at
    /// every row length it is compiled for (and at run-time lengths).
    #[test]
    fn an_epoch_is_plain_q_learning_bit_for_bit() {
        for na in [2, 3, 4, 6] {
            let ns = 7;
            let transitions: Vec<Transition> = (0..200u32)
                .map(|i| Transition {
                    cell: (i * 37) % (ns * na) as u32,
                    // Every fifth transition terminates (the zero row).
                    next_row: if i % 5 == 0 {
                        ns
                    } else {
                        (i * 11) as usize % ns
                    } as u32
                        * na as u32,
                    reward: f64::from(i % 9) / 7.0 - 0.5,
                })
                .collect();
            let sample = Sample {
                gamma: 0.93,
                lr: 0.3,
                lr_decay: 0.0,
                transitions,
            };
            let start: Vec<f64> = (0..(ns + 1) * na)
                .map(|c| {
                    if c < ns * na {
                        (c as f64 * 0.37).sin()
                    } else {
                        0.0
                    }
                })
                .collect();
            let mut q = start.clone();
            let squared = by_row_len!(na, sample.epoch(&mut q, na, 0.3));
            let (mut want, mut want_squared) = (start, 0.0);
            for t in &sample.transitions {
                let next = t.next_row as usize;
                let best = want[next + 1..next + na]
                    .iter()
                    .fold(want[next], |m, &x| m.max(x));
                let slot = &mut want[t.cell as usize];
                let td = t.reward + 0.93 * best - *slot;
                *slot += 0.3 * td;
                want_squared += td * td;
            }
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&q), bits(&want), "{na} actions");
            assert_eq!(squared.to_bits(), want_squared.to_bits(), "{na} actions");
        }
    }
}
