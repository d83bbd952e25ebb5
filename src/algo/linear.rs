//! What every linear learner shares, so that an algorithm's linear form
//! holds only its own update (as [`super::tabular`] does for tables):
//! - [`Linear`]: the weights θ of Q(s,a) = θᵀφ(s,a), the iteration counter
//!   and exact checkpoints, around an algorithm's [`LinearRule`]. Q is read
//!   as the table Φθ, so evaluation, the dashboard, the heatmap and
//!   checkpoints never know which kind of learner they look at;
//! - [`LeastSquares`]: the data-weighted ridge regression onto φ, its Gram
//!   matrix factored once (Cholesky, linfa-linalg), so an iteration costs
//!   one pass over the observed pairs and two triangular solves;
//! - [`Fitted`]: fitted iteration by least squares, with the values of the
//!   next states taken greedily (FQI) or under a fixed policy (FQE);
//! - [`initial_theta`]: `q_init` for weights — the least-squares fit of the
//!   tabular initial values, so every `q_init` means the same Q in both
//!   forms (and one-hot features reproduce the table exactly).

use super::tabular::{Backup, QInit, expected, max_per_state};
use super::{Algorithm, StepReport, TrainData};
use crate::error::{Error, Result};
use crate::features::Phi;
use crate::mdp::{Policy, solve};
use linfa_linalg::cholesky::Cholesky;
use linfa_linalg::triangular::{SolveTriangularInplace, UPLO};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use std::sync::Arc;

/// Ridge added to a Gram matrix, relative to its mean diagonal: enough to
/// factor a rank-deficient Φ (more features than pairs the data shows),
/// too little to change a well-posed fit. It pulls towards the previous
/// weights, not towards 0, so directions the data never sees keep their
/// values, as a table's unseen pairs keep theirs.
pub const RIDGE: f64 = 1e-9;

/// One algorithm's update on the weights; [`Linear`] does the rest.
pub trait LinearRule: Send {
    /// One iteration on θ. `iteration` counts from 0. Returns the loss the
    /// algorithm's doc names.
    fn step(&mut self, theta: &mut Array1<f64>, iteration: u64) -> f64;
    /// The policy the algorithm acts by, given its current Q = Φθ.
    fn policy(&self, q: ArrayView2<f64>) -> Policy;
}

/// A linear learner: a [`LinearRule`] stepping θ.
pub struct Linear<R> {
    rule: R,
    phi: Arc<Phi>,
    theta: Array1<f64>,
    iteration: u64,
}

impl<R: LinearRule + 'static> Linear<R> {
    pub fn boxed(rule: R, phi: Arc<Phi>, theta: Array1<f64>) -> Box<dyn Algorithm> {
        Box::new(Linear {
            rule,
            phi,
            theta,
            iteration: 0,
        })
    }
}

impl<R: LinearRule> Algorithm for Linear<R> {
    fn step(&mut self) -> Result<StepReport> {
        let loss = self.rule.step(&mut self.theta, self.iteration);
        self.iteration += 1;
        Ok(StepReport { loss })
    }

    fn q(&self) -> Array2<f64> {
        self.phi.q(self.theta.view())
    }

    fn policy(&self) -> Policy {
        self.rule.policy(self.q().view())
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::json!({
            "iteration": self.iteration,
            "theta": self.theta.to_vec(),
        })
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let bad = |what: &str| Error::Invalid(format!("checkpoint: {what}"));
        let theta: Vec<f64> = serde_json::from_value(state["theta"].clone())
            .map_err(|e| bad(&format!("weights: {e}")))?;
        if theta.len() != self.theta.len() {
            return Err(bad(&format!(
                "{} weights for {} features",
                theta.len(),
                self.theta.len()
            )));
        }
        self.iteration = state["iteration"]
            .as_u64()
            .ok_or_else(|| bad("no iteration"))?;
        self.theta = Array1::from(theta);
        Ok(())
    }
}

/// Weighted ridge regression onto φ towards a prior θ₀:
/// θ = (ΦᵀWΦ + λI)⁻¹ (ΦᵀW y + λθ₀), with the factor of the left side
/// computed once.
pub struct LeastSquares {
    phi: Arc<Phi>,
    /// The fitted rows (pair indices s·|A| + a) and their weights.
    rows: Vec<(usize, f64)>,
    /// L with LLᵀ = ΦᵀWΦ + λI.
    factor: Array2<f64>,
    ridge: f64,
}

impl LeastSquares {
    /// Fits the pairs `rows` with weights (s·|A| + a, w).
    pub fn new(phi: Arc<Phi>, rows: Vec<(usize, f64)>) -> Result<Self> {
        let d = phi.dim();
        let m = phi.matrix();
        let mut gram = Array2::<f64>::zeros((d, d));
        for &(row, w) in &rows {
            let x = m.row(row);
            // Rank-one update of the upper triangle; mirrored below.
            for i in 0..d {
                let wx = w * x[i];
                if wx != 0.0 {
                    for j in i..d {
                        gram[[i, j]] += wx * x[j];
                    }
                }
            }
        }
        for i in 0..d {
            for j in 0..i {
                gram[[i, j]] = gram[[j, i]];
            }
        }
        let mean_diagonal = gram.diag().sum() / d as f64;
        let ridge = RIDGE * mean_diagonal.max(f64::MIN_POSITIVE);
        gram.diag_mut().iter_mut().for_each(|g| *g += ridge);
        let factor = gram
            .cholesky()
            .map_err(|e| Error::Invalid(format!("least squares: the Gram matrix: {e}")))?;
        Ok(LeastSquares {
            phi,
            rows,
            factor,
            ridge,
        })
    }

    /// The data-weighted fit of the observed pairs: the pairs of the
    /// compiled dataset, each weighted by its count.
    pub fn on_data(phi: Arc<Phi>, data: &TrainData) -> Result<Self> {
        let na = phi.n_actions();
        let n = data.compiled.n_transitions.max(1) as f64;
        let rows = data
            .compiled
            .pairs
            .iter()
            .map(|p| {
                (
                    p.state as usize * na + p.action as usize,
                    p.count as f64 / n,
                )
            })
            .collect();
        Self::new(phi, rows)
    }

    /// θ fitting `target(row)` on the rows, held towards `prior` where
    /// they say nothing.
    pub fn fit(&self, target: impl Fn(usize) -> f64, prior: ArrayView1<f64>) -> Array1<f64> {
        let m = self.phi.matrix();
        let mut rhs = Array2::<f64>::zeros((self.phi.dim(), 1));
        rhs.column_mut(0).scaled_add(self.ridge, &prior);
        for &(row, w) in &self.rows {
            let y = w * target(row);
            rhs.column_mut(0).scaled_add(y, &m.row(row));
        }
        self.factor
            .solve_triangular_inplace(&mut rhs, UPLO::Lower)
            .expect("a square factor");
        self.factor
            .t()
            .solve_triangular_inplace(&mut rhs, UPLO::Upper)
            .expect("a square factor");
        rhs.column(0).to_owned()
    }
}

/// The weights whose Q is closest (least squares over every pair) to the
/// table `q_init` gives a tabular learner.
pub fn initial_theta(init: QInit, phi: &Arc<Phi>, data: &TrainData) -> Result<Array1<f64>> {
    if init == QInit::Zero {
        return Ok(Array1::zeros(phi.dim()));
    }
    let table = init.table(data);
    let cells = table.as_slice().expect("a standard layout table");
    let every_pair = (0..cells.len()).map(|row| (row, 1.0)).collect();
    let zero = Array1::zeros(phi.dim());
    Ok(LeastSquares::new(phi.clone(), every_pair)?.fit(|row| cells[row], zero.view()))
}

/// The largest |Δ| between two weight vectors' values on every pair.
pub fn largest_change(phi: &Phi, before: ArrayView1<f64>, after: ArrayView1<f64>) -> f64 {
    let delta = &after - &before;
    phi.matrix()
        .dot(&delta)
        .iter()
        .fold(0.0, |m: f64, x| m.max(x.abs()))
}

/// How [`Fitted`] values the next state.
pub enum NextValue {
    /// max_a' θᵀφ(s',a'), and the greedy policy (FQI).
    Greedy,
    /// Σ_a' π(a'|s') θᵀφ(s',a') for a fixed π, which is also the policy (FQE).
    Of(Policy),
}

/// Fitted iteration by least squares: θ ← argmin Σ_D (θᵀφ(s,a) − y)² with
/// y = r + γ V_θ(s') of the previous weights. Loss: the largest |ΔQ| over
/// every pair.
pub struct Fitted {
    phi: Arc<Phi>,
    fit: LeastSquares,
    backup: Backup,
    next: NextValue,
    v: Vec<f64>,
    /// The targets, in the backup's layout (states + 1 rows × actions).
    y: Vec<f64>,
}

impl Fitted {
    pub fn new(phi: Arc<Phi>, data: &TrainData, next: NextValue) -> Result<Self> {
        let (ns, na) = (data.compiled.n_states, data.compiled.n_actions);
        Ok(Fitted {
            fit: LeastSquares::on_data(phi.clone(), data)?,
            phi,
            backup: Backup::new(&data.compiled, data.gamma),
            next,
            v: vec![0.0; ns + 1],
            y: vec![0.0; (ns + 1) * na],
        })
    }
}

impl LinearRule for Fitted {
    fn step(&mut self, theta: &mut Array1<f64>, _iteration: u64) -> f64 {
        let q = self.phi.q(theta.view());
        match &self.next {
            // v's last entry, the terminal row's, stays 0.
            NextValue::Greedy => max_per_state(
                q.as_slice().expect("Φθ is contiguous"),
                q.ncols(),
                &mut self.v,
            ),
            NextValue::Of(pi) => {
                // Only where the backup reads v, as fqe's tabular sweep does.
                for s in self.backup.read_states() {
                    self.v[s] = expected(
                        pi.row(s).to_slice().expect("row"),
                        q.row(s).to_slice().expect("row"),
                    );
                }
            }
        }
        self.backup.apply(&self.v, &mut self.y);
        let next = self.fit.fit(|row| self.y[row], theta.view());
        let change = largest_change(&self.phi, theta.view(), next.view());
        *theta = next;
        change
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        match &self.next {
            NextValue::Greedy => solve::greedy(&q.to_owned()),
            NextValue::Of(pi) => pi.clone(),
        }
    }
}
