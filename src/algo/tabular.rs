//! What every tabular learner shares, so that an algorithm's file holds only
//! its own update:
//! - [`Tabular`]: the Q table (with its terminal row), the iteration counter
//!   and exact checkpoints, around an algorithm's [`Rule`];
//! - [`Backup`]: the empirical Bellman backup r̂(s,a) + γ Σ p̂(s'|s,a) v(s')
//!   over the compiled dataset, O(observed pairs + distinct successors) a sweep;
//! - reductions over a state's actions: [`max_per_state`], [`expected`],
//!   [`tilt`] (π ∝ π̂_β exp(f/T), [`tilted`] for every state) and [`soft_value`];
//! - [`QInit`]: where the values of pairs the data never shows come from;
//! - for the kernels: [`by_row_len`] (a kernel compiled per action count)
//!   and [`same_bits`] (a row unchanged since a pure function last read it).

use super::act::Act;
use super::{Algorithm, Key, ParamReader, StepReport, TrainData};
use crate::data::{EmpiricalMdp, ObservedPair};
use crate::error::{Error, Result};
use crate::mdp::{Policy, solve};
use ndarray::{Array2, ArrayView2, s};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;

/// One algorithm's update on a Q table; [`Tabular`] does the rest.
pub trait Rule: Send {
    /// One iteration on `q` (states + 1 rows: the last is the all-zero row
    /// terminal transitions lead to, and stays zero). `iteration` counts
    /// from 0. Returns the loss the algorithm's doc names.
    fn step(&mut self, q: &mut Array2<f64>, iteration: u64) -> f64;
    /// The policy the algorithm acts by, given its current Q (without the
    /// terminal row). Called at evaluation points only.
    fn policy(&self, q: ArrayView2<f64>) -> Policy;
    /// How the rule acts at a state from Q and π̂_β there, given its
    /// current Q (without the terminal row): its policy off the data's
    /// states ([`super::act`]). Greedy unless the rule says otherwise.
    fn act(&self, _q: ArrayView2<f64>) -> Act {
        Act::Greedy
    }
    /// The Q the learner reports (its q_est, the metrics on the data, the
    /// dashboard), from the Q it steps: that Q itself unless the rule's
    /// estimate is a bound on it (PEVI's, [`super::vi_lcb::Pevi`]).
    fn estimate(&self, q: Array2<f64>) -> Array2<f64> {
        q
    }
    /// State of the rule beyond Q and the iteration, for checkpoints.
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Restores what [`Rule::save`] wrote.
    fn load(&mut self, _state: &serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// A tabular learner: a [`Rule`] stepping a Q table.
pub struct Tabular<R> {
    rule: R,
    /// f(s, a), plus the all-zero terminal row.
    q: Array2<f64>,
    iteration: u64,
}

impl<R: Rule + 'static> Tabular<R> {
    /// A learner starting from `init` (states × actions).
    pub fn boxed(rule: R, init: &Array2<f64>) -> Box<dyn Algorithm> {
        let (ns, na) = init.dim();
        let mut q = Array2::zeros((ns + 1, na));
        q.slice_mut(s![..ns, ..]).assign(init);
        Box::new(Tabular {
            rule,
            q,
            iteration: 0,
        })
    }
}

impl<R> Tabular<R> {
    fn table(&self) -> ArrayView2<'_, f64> {
        self.q.slice(s![..self.q.nrows() - 1, ..])
    }
}

impl<R: Rule> Algorithm for Tabular<R> {
    fn step(&mut self) -> Result<StepReport> {
        let loss = self.rule.step(&mut self.q, self.iteration);
        self.iteration += 1;
        Ok(StepReport { loss })
    }

    fn q(&self) -> Array2<f64> {
        self.rule.estimate(self.table().to_owned())
    }

    fn policy(&self) -> Policy {
        self.rule.policy(self.table())
    }

    fn act(&self) -> Act {
        self.rule.act(self.table())
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::json!({
            "iteration": self.iteration,
            "q": save_table(&self.table().to_owned()),
            "rule": self.rule.save(),
        })
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let ns = self.q.nrows() - 1;
        let q = load_table(&state["q"], (ns, self.q.ncols()))?;
        // Checkpoints of learners without a counter (bc) have none.
        let iteration = match &state["iteration"] {
            serde_json::Value::Null => 0,
            value => value
                .as_u64()
                .ok_or_else(|| Error::Invalid("checkpoint: bad iteration".into()))?,
        };
        self.rule.load(&state["rule"])?;
        self.q.slice_mut(s![..ns, ..]).assign(&q);
        self.iteration = iteration;
        Ok(())
    }
}

/// The compiled dataset flattened for the backup's inner loop.
#[derive(Debug, Clone)]
pub struct Backup {
    n_states: usize,
    n_actions: usize,
    /// The observed pairs in the compiled order.
    pairs: Vec<PairRow>,
    /// Every pair's successors, one pair after the other.
    edges: Vec<Edge>,
    /// The distinct states the backup reads v at (non-terminal successors),
    /// ascending: rules whose v is costly compute it only there.
    read_states: Vec<u32>,
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
        Self::with_rewards(compiled, gamma, |pair| pair.mean_reward)
    }

    /// A backup whose pairs earn `reward(pair)` instead of their mean
    /// reward (a penalised model, as VI-LCB's).
    pub fn with_rewards(
        compiled: &EmpiricalMdp,
        gamma: f64,
        reward: impl Fn(&ObservedPair) -> f64,
    ) -> Self {
        let (ns, na) = (compiled.n_states, compiled.n_actions);
        let mut edges = Vec::with_capacity(compiled.successors.len());
        let mut pairs = Vec::with_capacity(compiled.pairs.len());
        let mut read = vec![false; ns];
        for pair in &compiled.pairs {
            assert!((pair.state as usize) < ns && (pair.action as usize) < na);
            for s in compiled.successors_of(pair) {
                assert!((s.next_state as usize) < ns);
                read[s.next_state as usize] |= !s.terminated;
                edges.push(Edge {
                    weight: if s.terminated { 0.0 } else { gamma * s.prob },
                    state: s.next_state,
                });
            }
            pairs.push(PairRow {
                reward: reward(pair),
                cell: pair.state * na as u32 + pair.action,
                edges_end: u32::try_from(edges.len()).expect("successor count fits u32"),
            });
        }
        let read_states = (0..ns as u32).filter(|&s| read[s as usize]).collect();
        Backup {
            n_states: ns,
            n_actions: na,
            pairs,
            edges,
            read_states,
        }
    }

    /// The states whose v the backup reads.
    pub fn read_states(&self) -> impl Iterator<Item = usize> + '_ {
        self.read_states.iter().map(|&s| s as usize)
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

/// Calls `receiver.method::<N>(args)` with the row length as a constant
/// where it is a bundled environment's action count (N = 4 or 6), else
/// with N = 0 (the kernel reads the length at run time, see [`row_len`]):
/// a kernel written once over slices is then compiled unrolled, without
/// bounds checks, for the common rows, as [`max_per_state`]'s are.
macro_rules! by_row_len {
    ($n:expr, $receiver:ident . $method:ident ( $($arg:expr),* $(,)? )) => {
        match $n {
            4 => $receiver.$method::<4>($($arg),*),
            6 => $receiver.$method::<6>($($arg),*),
            _ => $receiver.$method::<0>($($arg),*),
        }
    };
}
pub(crate) use by_row_len;

/// The row length of a kernel [`by_row_len`] compiled for `N` (`n` when
/// N = 0); re-slicing rows to it lets the compiler drop their bounds checks.
#[inline(always)]
pub const fn row_len<const N: usize>(n: usize) -> usize {
    if N == 0 { n } else { N }
}

/// Whether two rows are the same bit for bit (unlike `==`, which takes −0
/// for 0 and no NaN for itself): a pure function of a row that is the same
/// bit for bit need not be computed again.
#[inline(always)]
pub fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(true, |same, (x, y)| same & (x.to_bits() == y.to_bits()))
}

/// Σ_a π(a) f(a): one state's value under a policy.
#[inline(always)]
pub fn expected(pi: &[f64], f: &[f64]) -> f64 {
    pi.iter().zip(f).map(|(p, x)| p * x).sum()
}

/// π(a) ∝ b(a) exp(f(a) / temperature) into `out`: the closed-form
/// maximiser of E_π f − temperature · KL(π ‖ b). Actions b never takes
/// get no mass; temperature = ∞ gives b, temperature → 0 the best action
/// of b's support.
#[inline(always)]
pub fn tilt(b: &[f64], f: &[f64], temperature: f64, out: &mut [f64]) {
    tilt_exponents(b, f, temperature, out);
    tilt_weigh(b, out);
    tilt_normalise(out);
}

/// [`tilt`]'s first step: (f(a) − max over b's support) / temperature into
/// `out`, in a pass of its own that the compiler vectorises (the next one
/// calls libm and branches on the support). A caller tilting many rows
/// can take each step over every row in turn (atac does), so that the
/// rows' exps are independent calls in one stream.
#[inline(always)]
pub fn tilt_exponents(b: &[f64], f: &[f64], temperature: f64, out: &mut [f64]) {
    let top = support_max(b, f);
    for (o, &x) in out.iter_mut().zip(f) {
        *o = (x - top) / temperature;
    }
}

/// [`tilt`]'s second step: the exponents in `out` become b(a) exp(·).
#[inline(always)]
pub fn tilt_weigh(b: &[f64], out: &mut [f64]) {
    for (o, &p) in out.iter_mut().zip(b) {
        *o = if p > 0.0 { p * exp_or_zero(*o) } else { 0.0 };
    }
}

/// [`tilt`]'s last step: the weights in `out` divided by their sum.
#[inline(always)]
pub fn tilt_normalise(out: &mut [f64]) {
    let total: f64 = out.iter().fold(0.0, |sum, &o| sum + o);
    for o in out.iter_mut() {
        *o /= total;
    }
}

/// [`tilt`] of every state: π(a|s) ∝ b(a|s) exp(f(s,a) / temperature).
pub fn tilted(b: &Policy, f: ArrayView2<f64>, temperature: f64) -> Policy {
    let mut pi = Array2::zeros(f.dim());
    for ((b, f), mut out) in b.outer_iter().zip(f.outer_iter()).zip(pi.outer_iter_mut()) {
        tilt(
            b.to_slice().expect("rows are contiguous"),
            f.to_slice().expect("rows are contiguous"),
            temperature,
            out.as_slice_mut().expect("rows are contiguous"),
        );
    }
    pi
}

/// temperature · log Σ_a b(a) exp(f(a) / temperature) = max_π E_π f −
/// temperature · KL(π ‖ b), the value of [`tilt`]'s policy with its penalty.
pub fn soft_value(b: &[f64], f: &[f64], temperature: f64) -> f64 {
    let top = support_max(b, f);
    let sum: f64 = b
        .iter()
        .zip(f)
        .filter(|(p, _)| **p > 0.0)
        .map(|(p, x)| p * exp_or_zero((x - top) / temperature))
        .sum();
    top + temperature * sum.ln()
}

/// exp(z) for z ≤ 0, flushed to 0 below −700 without calling exp: libm
/// takes a slow path on underflow, and a cold temperature underflows most
/// actions of a state. The top action's z is 0, whose exp is 1 exactly.
#[inline]
fn exp_or_zero(z: f64) -> f64 {
    if z < -700.0 {
        0.0
    } else if z == 0.0 {
        1.0
    } else {
        z.exp()
    }
}

/// max f over the actions b takes (subtracted before exponentiating).
#[inline(always)]
fn support_max(b: &[f64], f: &[f64]) -> f64 {
    b.iter()
        .zip(f)
        .filter(|(p, _)| **p > 0.0)
        .fold(f64::NEG_INFINITY, |m, (_, &x)| m.max(x))
}

/// Separates the initialisation's random stream from the run's other uses of its seed.
const INIT_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;

/// The values Q starts from, which unseen pairs keep unless the algorithm
/// says otherwise.
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

/// `q_init`, a key of every learner that starts Q somewhere; its table
/// lists it, and [`INIT_SCALE`], beside its own keys.
pub const Q_INIT: Key = Key::choice("q_init", "zero", &["zero", "optimistic", "random"]).meaning(
    "the values Q starts from, which unseen pairs keep: 0, r_max / (1 − γ), or N(0, init_scale²)",
);

/// `init_scale`, the spread of `q_init = "random"`.
pub const INIT_SCALE: Key = Key::number("init_scale", 1.0, 0.0, 1e12)
    .unit("absolute")
    .meaning(
        "the standard deviation of the random initial values, like an untrained network's outputs",
    )
    .only_with("q_init", "random");

impl QInit {
    /// Reads [`Q_INIT`] and, for `random` only, [`INIT_SCALE`].
    pub fn read(reader: &mut ParamReader) -> Result<Self> {
        Ok(match reader.choice_of(&Q_INIT)? {
            "random" => QInit::Random {
                scale: reader.number_of(&INIT_SCALE)?,
            },
            other => {
                reader.not_chosen(&[INIT_SCALE]);
                if other == "optimistic" {
                    QInit::Optimistic
                } else {
                    QInit::Zero
                }
            }
        })
    }

    pub fn table(self, data: &TrainData) -> Array2<f64> {
        let shape = (data.compiled.n_states, data.compiled.n_actions);
        match self {
            QInit::Zero => Array2::zeros(shape),
            QInit::Optimistic => Array2::from_elem(shape, data.return_bounds().1),
            QInit::Random { scale } => {
                let mut rng = Pcg64Mcg::seed_from_u64(data.seed ^ INIT_STREAM);
                let normal = Normal::new(0.0, scale).expect("scale is validated finite and >= 0");
                Array2::from_shape_simple_fn(shape, || normal.sample(&mut rng))
            }
        }
    }
}

/// A table as JSON that restores bit for bit (JSON has no NaN or inf).
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
        serde_json::from_value(value["bits"].clone()).map_err(|e| bad(&format!("table: {e}")))?;
    if bits.len() != shape.0 * shape.1 {
        return Err(bad(&format!(
            "table has {} entries, expected {}x{}",
            bits.len(),
            shape.0,
            shape.1
        )));
    }
    Array2::from_shape_vec(shape, bits.into_iter().map(f64::from_bits).collect())
        .map_err(|e| bad(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilt_and_soft_value_are_the_kl_regularised_optimum() {
        let (b, f) = ([0.5, 0.0, 0.5], [1.0, 100.0, 3.0]);
        let mut pi = [0.0; 3];
        tilt(&b, &f, 2.0, &mut pi);
        // π ∝ b exp(f/2) on b's support; the unseen action gets nothing.
        let (w0, w2) = (0.5 * 0.5f64.exp(), 0.5 * 1.5f64.exp());
        assert!((pi[0] - w0 / (w0 + w2)).abs() < 1e-12 && pi[1] == 0.0);
        // Its value minus 2·KL(π‖b) equals the closed form.
        let kl: f64 = (0..3)
            .filter(|&a| pi[a] > 0.0)
            .map(|a| pi[a] * (pi[a] / b[a]).ln())
            .sum();
        let direct = expected(&pi, &f) - 2.0 * kl;
        assert!((soft_value(&b, &f, 2.0) - direct).abs() < 1e-12);
        // Temperature → 0: the best action of the support; → ∞: b itself.
        tilt(&b, &f, 1e-3, &mut pi);
        assert_eq!(pi, [0.0, 0.0, 1.0]);
        tilt(&b, &f, 1e9, &mut pi);
        assert!((pi[0] - 0.5).abs() < 1e-6 && (pi[2] - 0.5).abs() < 1e-6);
    }
}
