//! The pieces every tabular learner shares: the empirical Bellman backup over
//! the compiled dataset (O(observed pairs + distinct successors) a sweep),
//! the initialisation of Q, and exact checkpoints of a Q table.

use super::{ParamReader, TrainData};
use crate::data::EmpiricalMdp;
use crate::error::{Error, Result};
use crate::mdp::solve;
use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;

/// The compiled dataset flattened for the backup's inner loop.
#[derive(Debug, Clone)]
pub struct Backup {
    n_states: usize,
    n_actions: usize,
    /// The observed pairs in the compiled order.
    pairs: Vec<PairRow>,
    /// Every pair's successors, one pair after the other.
    edges: Vec<Edge>,
}

/// One observed pair, packed so the loop reads one stream per array.
#[derive(Debug, Clone, Copy)]
struct PairRow {
    reward: f64,
    /// Its flat index s·|A| + a.
    cell: u32,
    /// Its successors are `edges[previous pair's end..end]`.
    edges_end: u32,
}

#[derive(Debug, Clone, Copy)]
struct Edge {
    /// γ · p̂(s'|s,a), or 0 where the transition terminated.
    weight: f64,
    state: u32,
}

impl Backup {
    pub fn new(compiled: &EmpiricalMdp, gamma: f64) -> Self {
        let (ns, na) = (compiled.n_states, compiled.n_actions);
        let mut edges = Vec::with_capacity(compiled.successors.len());
        let mut pairs = Vec::with_capacity(compiled.pairs.len());
        for pair in &compiled.pairs {
            assert!((pair.state as usize) < ns && (pair.action as usize) < na);
            for s in compiled.successors_of(pair) {
                assert!((s.next_state as usize) < ns);
                edges.push(Edge {
                    weight: if s.terminated { 0.0 } else { gamma * s.prob },
                    state: s.next_state,
                });
            }
            pairs.push(PairRow {
                reward: pair.mean_reward,
                cell: pair.state * na as u32 + pair.action,
                edges_end: u32::try_from(edges.len()).expect("successor count fits u32"),
            });
        }
        Backup {
            n_states: ns,
            n_actions: na,
            pairs,
            edges,
        }
    }

    /// Writes r̂(s,a) + γ Σ p̂(s'|s,a) v(s') into `q` (states × actions,
    /// row-major) for every observed pair (unseen pairs keep their values)
    /// and returns the largest change.
    pub fn apply(&self, v: &[f64], q: &mut [f64]) -> f64 {
        assert!(v.len() >= self.n_states && q.len() >= self.n_states * self.n_actions);
        // Four running maxima: a single one would chain each pair's
        // comparison on the previous pair's.
        let (mut c0, mut c1, mut c2, mut c3) = (0.0, 0.0, 0.0, 0.0);
        let mut start = 0;
        let (chunks, rest) = self.pairs.as_chunks::<4>();
        for [p0, p1, p2, p3] in chunks {
            c0 = larger(c0, self.update(p0, &mut start, v, q));
            c1 = larger(c1, self.update(p1, &mut start, v, q));
            c2 = larger(c2, self.update(p2, &mut start, v, q));
            c3 = larger(c3, self.update(p3, &mut start, v, q));
        }
        for p in rest {
            c0 = larger(c0, self.update(p, &mut start, v, q));
        }
        larger(larger(c0, c1), larger(c2, c3))
    }

    /// Backs up one pair (whose successors begin at `start`, moved past
    /// them) into `q` and returns |change|.
    #[inline(always)]
    fn update(&self, pair: &PairRow, start: &mut usize, v: &[f64], q: &mut [f64]) -> f64 {
        let end = pair.edges_end as usize;
        // SAFETY: `new` made the ends non-decreasing and at most edges.len(),
        // and `start` is the previous pair's end (or 0).
        let edges = unsafe { self.edges.get_unchecked(*start..end) };
        *start = end;
        let mut value = pair.reward;
        for e in edges {
            // SAFETY: `new` checked every successor state < n_states, and
            // `apply` that n_states <= v.len().
            value += e.weight * unsafe { *v.get_unchecked(e.state as usize) };
        }
        // SAFETY: `new` checked every cell < n_states·n_actions, and `apply`
        // that this is <= q.len().
        let slot = unsafe { q.get_unchecked_mut(pair.cell as usize) };
        let delta = (value - *slot).abs();
        *slot = value;
        delta
    }
}

/// max(m, x) that keeps `m` when `x` is NaN, as `f64::max` does (`m` never
/// is), in one instruction.
#[inline(always)]
fn larger(m: f64, x: f64) -> f64 {
    if x > m { x } else { m }
}

/// max_a q(s, a) per state of a row-major table.
pub fn max_per_state(q: &[f64], n_actions: usize, v: &mut [f64]) {
    match n_actions {
        4 => max_rows::<4>(q, v),
        6 => max_rows::<6>(q, v),
        _ => {
            for (slot, row) in v.iter_mut().zip(q.chunks_exact(n_actions)) {
                *slot = solve::max_value(row);
            }
        }
    }
}

/// [`max_per_state`] for a compile-time action count: unrolled, so the
/// rows' independent chains of comparisons overlap.
fn max_rows<const A: usize>(q: &[f64], v: &mut [f64]) {
    for (slot, row) in v.iter_mut().zip(q.as_chunks::<A>().0) {
        *slot = solve::max_value(row);
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
