//! `fqi`: naive off-policy Q-learning / fitted Q iteration,
//! f ← r + γ max_a' f(s', a') on dataset transitions (Ernst et al. 2005;
//! Watkins 1989). The baseline that overestimates: the max reaches actions
//! the data never shows, whose values are whatever Q started with.
//!
//! Variants (`variant`):
//! - `sweep` (default): one iteration applies the empirical Bellman optimality
//!   operator to every observed pair of the compiled dataset at once.
//! - `sample`: one iteration is an epoch of tabular Q-learning over the stored
//!   transitions (in a fixed seeded order) with step size
//!   α_k = lr / (1 + lr_decay · k) at epoch k.
//!
//! The loss each step reports: `sweep`, the largest |ΔQ| over the pairs (0 at
//! the fixed point); `sample`, the mean squared TD error of the epoch.
//!
//! Defaults: variant = "sweep", lr = 0.1, lr_decay = 0, q_init = "zero"
//! (also "optimistic", "random" with init_scale = 1).

use super::tabular::{Backup, QInit, load_table, max_per_state, save_table};
use super::{Algorithm, ParamReader, Params, StepReport, TrainData};
use crate::error::{Error, Result};
use crate::mdp::{Policy, solve};
use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;

pub const NAME: &str = "fqi";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub sample: bool,
    pub lr: f64,
    pub lr_decay: f64,
    pub q_init: QInit,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let variant = r.choice("variant", "sweep", &["sweep", "sample"])?;
        let lr = r.number("lr", 0.1, 0.0, 1.0)?;
        let lr_decay = r.number("lr_decay", 0.0, 0.0, 1e12)?;
        let q_init = QInit::read(&mut r)?;
        let config = Config {
            sample: variant == "sample",
            lr,
            lr_decay,
            q_init,
        };
        Ok((config, r.finish()?))
    }
}

/// One stored transition, packed for the Q-learning loop.
#[derive(Debug, Clone, Copy)]
struct Transition {
    /// s·|A| + a.
    cell: u32,
    /// s'·|A| of the successor's row, or the all-zero row past the table
    /// when the transition terminated (so the loop has no branch).
    next_row: u32,
    reward: f64,
}

pub struct Fqi {
    config: Config,
    gamma: f64,
    n_actions: usize,
    /// Q, plus one trailing all-zero row for terminal successors.
    q: Array2<f64>,
    iteration: u64,
    backup: Option<Backup>,
    /// V(s) = max_a Q(s, a), reused between sweeps.
    v: Vec<f64>,
    transitions: Vec<Transition>,
}

pub fn build(params: &Params, data: TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    Ok(Box::new(Fqi::new(config, &data)?))
}

/// Checks that every transition indexes the table, so the learning loops
/// may skip bounds checks.
pub fn check_ranges(data: &TrainData) -> Result<()> {
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

impl Fqi {
    pub fn new(config: Config, data: &TrainData) -> Result<Self> {
        check_ranges(data)?;
        let (ns, na) = (data.compiled.n_states, data.compiled.n_actions);
        let init = config.q_init.table(data);
        let mut q = Array2::zeros((ns + 1, na));
        q.slice_mut(ndarray::s![..ns, ..]).assign(&init);
        let transitions = if config.sample {
            let d = &data.dataset;
            let mut order: Vec<usize> = (0..d.len()).collect();
            order.shuffle(&mut Pcg64Mcg::seed_from_u64(data.seed));
            order
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
                .collect()
        } else {
            Vec::new()
        };
        Ok(Fqi {
            config,
            gamma: data.gamma,
            n_actions: na,
            q,
            iteration: 0,
            backup: (!config.sample).then(|| Backup::new(&data.compiled, data.gamma)),
            v: vec![0.0; ns + 1],
            transitions,
        })
    }

    fn n_states(&self) -> usize {
        self.q.nrows() - 1
    }

    /// One epoch of Q-learning; returns the mean squared TD error.
    fn epoch(&mut self) -> f64 {
        let lr = self.config.lr / (1.0 + self.config.lr_decay * self.iteration as f64);
        let q = self.q.as_slice_mut().expect("Q is contiguous");
        let squared = match self.n_actions {
            2 => q_learning::<2>(q, &self.transitions, self.gamma, lr),
            4 => q_learning::<4>(q, &self.transitions, self.gamma, lr),
            6 => q_learning::<6>(q, &self.transitions, self.gamma, lr),
            n => q_learning_any(q, &self.transitions, self.gamma, lr, n),
        };
        squared / self.transitions.len().max(1) as f64
    }
}

/// Tabular Q-learning over `transitions`, for a compile-time action count.
/// Returns the sum of squared TD errors.
fn q_learning<const A: usize>(
    q: &mut [f64],
    transitions: &[Transition],
    gamma: f64,
    lr: f64,
) -> f64 {
    debug_assert!(
        transitions
            .iter()
            .all(|t| { (t.cell as usize) < q.len() && t.next_row as usize + A <= q.len() })
    );
    let mut squared = 0.0;
    for t in transitions {
        // SAFETY: `Fqi::new` checked every state and action against the
        // table's shape, and `q` is that table plus the terminal row.
        unsafe {
            let row = q.as_ptr().add(t.next_row as usize);
            let mut best = *row;
            for a in 1..A {
                best = best.max(*row.add(a));
            }
            let slot = q.get_unchecked_mut(t.cell as usize);
            let td = t.reward + gamma * best - *slot;
            *slot += lr * td;
            squared += td * td;
        }
    }
    squared
}

fn q_learning_any(
    q: &mut [f64],
    transitions: &[Transition],
    gamma: f64,
    lr: f64,
    n_actions: usize,
) -> f64 {
    let mut squared = 0.0;
    for t in transitions {
        let next = t.next_row as usize;
        let best = solve::max_value(&q[next..next + n_actions]);
        let slot = &mut q[t.cell as usize];
        let td = t.reward + gamma * best - *slot;
        *slot += lr * td;
        squared += td * td;
    }
    squared
}

impl Algorithm for Fqi {
    fn step(&mut self) -> Result<StepReport> {
        let loss = match &self.backup {
            Some(backup) => {
                let q = self.q.as_slice_mut().expect("Q is contiguous");
                max_per_state(q, self.n_actions, &mut self.v);
                backup.apply(&self.v, q)
            }
            None => self.epoch(),
        };
        self.iteration += 1;
        Ok(StepReport { loss })
    }

    fn q(&self) -> Array2<f64> {
        self.q.slice(ndarray::s![..self.n_states(), ..]).to_owned()
    }

    fn policy(&self) -> Policy {
        solve::greedy(&self.q())
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::json!({ "iteration": self.iteration, "q": save_table(&self.q()) })
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let ns = self.n_states();
        let q = load_table(&state["q"], (ns, self.n_actions))?;
        self.iteration = state["iteration"]
            .as_u64()
            .ok_or_else(|| Error::Invalid("checkpoint: missing iteration".into()))?;
        self.q.slice_mut(ndarray::s![..ns, ..]).assign(&q);
        Ok(())
    }
}
