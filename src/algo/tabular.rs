//! The pieces every tabular learner shares: the empirical Bellman backup over
//! the compiled dataset (O(observed pairs + distinct successors) a sweep),
//! the initialisation of Q, and exact checkpoints of a Q table.

use super::{ParamReader, TrainData};
use crate::data::EmpiricalMdp;
use crate::error::{Error, Result};
use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;

/// The compiled dataset flattened for the backup's inner loop.
#[derive(Debug, Clone)]
pub struct Backup {
    n_states: usize,
    n_actions: usize,
    /// Per observed pair: its flat index s·|A| + a.
    pair_cell: Vec<u32>,
    pair_reward: Vec<f64>,
    /// Per observed pair: `successor_start[i]..successor_start[i + 1]`.
    successor_start: Vec<u32>,
    successor_state: Vec<u32>,
    /// γ · p̂(s'|s,a), or 0 where the transition terminated.
    successor_weight: Vec<f64>,
}

impl Backup {
    pub fn new(compiled: &EmpiricalMdp, gamma: f64) -> Self {
        let mut successor_start = Vec::with_capacity(compiled.pairs.len() + 1);
        let (mut successor_state, mut successor_weight) = (Vec::new(), Vec::new());
        successor_start.push(0);
        for pair in &compiled.pairs {
            for s in compiled.successors_of(pair) {
                successor_state.push(s.next_state);
                successor_weight.push(if s.terminated { 0.0 } else { gamma * s.prob });
            }
            successor_start.push(successor_state.len() as u32);
        }
        let (ns, na) = (compiled.n_states, compiled.n_actions);
        assert!(successor_state.iter().all(|&s| (s as usize) < ns));
        assert!(
            compiled
                .pairs
                .iter()
                .all(|p| (p.state as usize) < ns && (p.action as usize) < na)
        );
        Backup {
            n_states: ns,
            n_actions: na,
            pair_cell: compiled
                .pairs
                .iter()
                .map(|p| p.state * compiled.n_actions as u32 + p.action)
                .collect(),
            pair_reward: compiled.pairs.iter().map(|p| p.mean_reward).collect(),
            successor_start,
            successor_state,
            successor_weight,
        }
    }

    /// Writes r̂(s,a) + γ Σ p̂(s'|s,a) v(s') into `q` (states × actions,
    /// row-major) for every observed pair (unseen pairs keep their values)
    /// and returns the largest change.
    pub fn apply(&self, v: &[f64], q: &mut [f64]) -> f64 {
        assert!(v.len() >= self.n_states && q.len() >= self.n_states * self.n_actions);
        let mut change = 0.0f64;
        for i in 0..self.pair_cell.len() {
            let (lo, hi) = (
                self.successor_start[i] as usize,
                self.successor_start[i + 1] as usize,
            );
            let mut value = self.pair_reward[i];
            for j in lo..hi {
                // SAFETY: `new` checked every successor state < n_states <= v.len().
                value += self.successor_weight[j]
                    * unsafe { *v.get_unchecked(self.successor_state[j] as usize) };
            }
            // SAFETY: `new` checked every cell < n_states·n_actions <= q.len().
            let slot = unsafe { q.get_unchecked_mut(self.pair_cell[i] as usize) };
            change = change.max((value - *slot).abs());
            *slot = value;
        }
        change
    }
}

/// max_a q(s, a) per state of a row-major table.
pub fn max_per_state(q: &[f64], n_actions: usize, v: &mut [f64]) {
    for (slot, row) in v.iter_mut().zip(q.chunks_exact(n_actions)) {
        *slot = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    }
}

/// Separates the initialisation's random stream from the run's other uses of its seed.
const INIT_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;

/// The values Q starts from, which unseen pairs keep forever.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QInit {
    Zero,
    /// The largest return the data's rewards allow, r_max / (1 − γ).
    Optimistic,
    /// N(0, init_scale²), spread like an untrained network's outputs.
    Random {
        scale: f64,
    },
}

impl QInit {
    pub const CHOICES: [&'static str; 3] = ["zero", "optimistic", "random"];

    /// Reads `q_init` and `init_scale` (the standard deviation of `random`).
    pub fn read(reader: &mut ParamReader) -> Result<Self> {
        let kind = reader.choice("q_init", "zero", &Self::CHOICES)?;
        let scale = reader.number("init_scale", 1.0, 0.0, 1e12)?;
        Ok(match kind {
            "optimistic" => QInit::Optimistic,
            "random" => QInit::Random { scale },
            _ => QInit::Zero,
        })
    }

    pub fn table(self, data: &TrainData) -> Array2<f64> {
        let shape = (data.compiled.n_states, data.compiled.n_actions);
        match self {
            QInit::Zero => Array2::zeros(shape),
            QInit::Optimistic => {
                let r_max = data.dataset.reward.iter().fold(0.0f64, |m, &r| m.max(r));
                Array2::from_elem(shape, r_max / (1.0 - data.gamma))
            }
            QInit::Random { scale } => {
                let mut rng = Pcg64Mcg::seed_from_u64(data.seed ^ INIT_STREAM);
                let normal = Normal::new(0.0, scale).expect("scale is validated finite and >= 0");
                Array2::from_shape_simple_fn(shape, || normal.sample(&mut rng))
            }
        }
    }
}

/// A Q table as JSON that restores bit for bit (JSON has no NaN or inf).
pub fn save_table(q: &Array2<f64>) -> serde_json::Value {
    serde_json::json!({
        "shape": [q.nrows(), q.ncols()],
        "bits": q.iter().map(|x| x.to_bits()).collect::<Vec<u64>>(),
    })
}

/// Restores what [`save_table`] wrote, checking the shape.
pub fn load_table(value: &serde_json::Value, shape: (usize, usize)) -> Result<Array2<f64>> {
    let bad = |what: &str| Error::Invalid(format!("checkpoint: {what}"));
    let bits: Vec<u64> =
        serde_json::from_value(value["bits"].clone()).map_err(|e| bad(&format!("Q table: {e}")))?;
    if bits.len() != shape.0 * shape.1 {
        return Err(bad(&format!(
            "Q table has {} entries, expected {}x{}",
            bits.len(),
            shape.0,
            shape.1
        )));
    }
    Array2::from_shape_vec(shape, bits.into_iter().map(f64::from_bits).collect())
        .map_err(|e| bad(&e.to_string()))
}
