//! What every linear learner shares, so that an algorithm's linear form
//! holds only its own update (as [`super::tabular`] does for tables):
//! - [`Linear`]: the weights θ of Q(s,a) = θᵀφ(s,a), the iteration counter
//!   and exact checkpoints, around an algorithm's [`LinearRule`]. Q is read
//!   as the table Φθ, so evaluation, the dashboard, the heatmap and
//!   checkpoints never know which kind of learner they look at;
//! - [`LeastSquares`]: the data-weighted ridge regression onto φ, its Gram
//!   matrix factored once (Cholesky, linfa-linalg, kept as its envelope:
//!   [`Factor`]), so an iteration costs one pass over the observed pairs'
//!   nonzero features and two triangular solves over L's envelope;
//! - [`Fitted`]: fitted iteration by least squares, with the values of the
//!   next states taken greedily (FQI) or under a fixed policy (FQE);
//! - [`Projected`]: every other algorithm's linear form — its tabular
//!   [`Rule`] steps on Φθ as a table and the stepped table is projected
//!   back onto span(Φ) on the algorithm's [`Cells`] ([`or_table`] builds
//!   either form from the same rule);
//! - [`initial_theta`], [`fit_table`]: `q_init` for weights — the
//!   least-squares fit of the tabular initial values, so every `q_init`
//!   means the same Q in both forms (and one-hot features reproduce the
//!   table exactly).

use super::act::Act;
use super::tabular::{
    Backup, QInit, Rule, Tabular, expected, load_table, max_per_state, same_bits, save_table,
};
use super::{Algorithm, StepReport, TrainData};
use crate::error::{Error, Result};
use crate::features::Phi;
use crate::mdp::{Policy, solve};
use linfa_linalg::cholesky::Cholesky;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
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
    /// How the rule acts off the data's states, given its current Q = Φθ
    /// ([`Rule::act`]).
    fn act(&self, _q: ArrayView2<f64>) -> Act {
        Act::Greedy
    }
    /// The Q the learner reports, from Q = Φθ ([`Rule::estimate`]).
    fn estimate(&self, q: Array2<f64>) -> Array2<f64> {
        q
    }
    /// State of the rule beyond θ and the iteration, for checkpoints.
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Restores what [`LinearRule::save`] wrote.
    fn load(&mut self, _state: &serde_json::Value) -> Result<()> {
        Ok(())
    }
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
        self.rule.estimate(self.phi.q(self.theta.view()))
    }

    fn policy(&self) -> Policy {
        self.rule.policy(self.phi.q(self.theta.view()).view())
    }

    fn act(&self) -> Act {
        self.rule.act(self.phi.q(self.theta.view()).view())
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::json!({
            "iteration": self.iteration,
            // Bit for bit, as tables are: a diverging θ holds inf and NaN,
            // which JSON numbers cannot.
            "theta": save_table(&self.theta.clone().insert_axis(Axis(1))),
            "rule": self.rule.save(),
        })
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        let bad = |what: &str| Error::Invalid(format!("checkpoint: {what}"));
        let theta: Vec<f64> = match &state["theta"] {
            // Checkpoints before weights were saved bit for bit.
            numbers @ serde_json::Value::Array(_) => serde_json::from_value(numbers.clone())
                .map_err(|e| bad(&format!("weights: {e}")))?,
            table => {
                load_table(table, (self.theta.len(), 1))?
                    .into_raw_vec_and_offset()
                    .0
            }
        };
        if theta.len() != self.theta.len() {
            return Err(bad(&format!(
                "{} weights for {} features",
                theta.len(),
                self.theta.len()
            )));
        }
        let iteration = state["iteration"]
            .as_u64()
            .ok_or_else(|| bad("no iteration"))?;
        // Checkpoints of rules without state have none.
        self.rule.load(&state["rule"])?;
        self.iteration = iteration;
        self.theta = Array1::from(theta);
        Ok(())
    }

    fn weights(&self) -> Option<ArrayView1<'_, f64>> {
        Some(self.theta.view())
    }
}

/// Weighted ridge regression onto φ towards a prior θ₀ and towards the
/// weights θ_c of a constant Q = c, of targets clamped into [lo, hi]:
/// θ = (ΦᵀWΦ + (λ + μ)I)⁻¹ (ΦᵀW clamp(y, lo, hi) + λθ₀ + μθ_c), with the
/// factor of the left side computed once (μ = 0 and [lo, hi] = ℝ but for
/// a critic that evaluates, [`Hold`]).
pub struct LeastSquares {
    phi: Arc<Phi>,
    /// The fitted rows (pair indices s·|A| + a) and their weights.
    rows: Vec<(usize, f64)>,
    factor: Factor,
    ridge: f64,
    bounds: (f64, f64),
    /// μθ_c, empty where μ = 0.
    pull: Vec<f64>,
}

impl LeastSquares {
    /// Fits the pairs `rows` with weights (s·|A| + a, w), held by `hold`.
    pub fn new(phi: Arc<Phi>, rows: Vec<(usize, f64)>, hold: Hold) -> Result<Self> {
        let (factor, ridge) = factor_gram(phi.gram_upper(&rows), hold.shrink, "least squares")?;
        let pull = if hold.shrink > 0.0 {
            let constant = Array2::from_elem((phi.n_states(), phi.n_actions()), hold.centre);
            fit_table(&constant, &phi)?
                .mapv(|t| hold.shrink * t)
                .to_vec()
        } else {
            Vec::new()
        };
        Ok(LeastSquares {
            phi,
            rows,
            factor,
            ridge,
            bounds: hold.bounds,
            pull,
        })
    }

    /// θ fitting `target(row)` on the rows, held towards `prior` where
    /// they say nothing, into `theta` (one weight per feature).
    pub fn fit(&self, target: impl Fn(usize) -> f64, prior: &[f64], theta: &mut [f64]) {
        for (t, p) in theta.iter_mut().zip(prior) {
            *t = self.ridge * p;
        }
        for (t, c) in theta.iter_mut().zip(&self.pull) {
            *t += c;
        }
        let (lo, hi) = self.bounds;
        for &(row, w) in &self.rows {
            self.phi
                .add_scaled(row, w * target(row).clamp(lo, hi), theta);
        }
        self.factor.solve(theta);
    }
}

/// The Cholesky factor L of G + λI, G = Σ w x xᵀ over the weighted rows
/// (d features each), λ = [`RIDGE`] × G's mean diagonal; and λ. `what`
/// names the fit in the error a singular G gives.
pub fn ridge_factor<'a>(
    d: usize,
    rows: impl IntoIterator<Item = (ArrayView1<'a, f64>, f64)>,
    what: &str,
) -> Result<(Factor, f64)> {
    let mut gram = Array2::<f64>::zeros((d, d));
    for (x, w) in rows {
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
    factor_gram(gram, 0.0, what)
}

/// [`ridge_factor`] of a Gram matrix given by its upper triangle, with
/// `shrink` added to the diagonal besides λ.
pub fn factor_gram(mut gram: Array2<f64>, shrink: f64, what: &str) -> Result<(Factor, f64)> {
    let d = gram.nrows();
    for i in 0..d {
        for j in 0..i {
            gram[[i, j]] = gram[[j, i]];
        }
    }
    let mean_diagonal = gram.diag().sum() / d as f64;
    let ridge = RIDGE * mean_diagonal.max(f64::MIN_POSITIVE);
    gram.diag_mut()
        .iter_mut()
        .for_each(|g| *g += ridge + shrink);
    // SPEED: G's independent diagonal blocks (features in action blocks
    // give one a action) factored one by one: the same L, which Cholesky
    // never fills between them, at Σ b³/3 instead of d³/3 (0.13 GFlop
    // instead of 1.2 for 3 blocks of 512).
    let mut l = Array2::<f64>::zeros((d, d));
    for (start, end) in diagonal_blocks(&gram) {
        let block = gram
            .slice(s![start..end, start..end])
            .cholesky()
            .map_err(|e| {
                Error::Invalid(format!(
                    "{what}: the Gram matrix (rows {start}..{end}): {e}"
                ))
            })?;
        l.slice_mut(s![start..end, start..end]).assign(&block);
    }
    Ok((Factor::new(l.view()), ridge))
}

/// The ranges of rows of a symmetric matrix whose diagonal blocks are
/// independent: no nonzero joins a row of one to a column of another.
fn diagonal_blocks(g: &Array2<f64>) -> Vec<(usize, usize)> {
    let d = g.nrows();
    let (mut blocks, mut start, mut reach) = (Vec::new(), 0, 0);
    for i in 0..d {
        // The last column row i reaches, and the block's furthest so far.
        let row = g.row(i);
        let last = (i..d).rev().find(|&j| row[j] != 0.0).unwrap_or(i);
        reach = reach.max(last);
        if reach == i {
            blocks.push((start, i + 1));
            start = i + 1;
        }
    }
    blocks
}

/// A lower-triangular Cholesky factor L, each row kept from its first
/// nonzero column to the diagonal (its envelope, which the factorisation
/// never fills beyond: the envelope of G). Both triangular solves then
/// stream L's rows contiguously and skip its zeros, which is most of L
/// when φ's features are local (one-hot or tile-coded features in action
/// blocks factor to a diagonal or block-diagonal L); for dense features
/// it is the dense triangle. The arithmetic is the dense solves' without
/// their products with L's zeros.
pub struct Factor {
    /// Row i holds L[i, first[i]..=i] at `values[start[i]..start[i + 1]]`.
    first: Vec<usize>,
    start: Vec<usize>,
    values: Vec<f64>,
}

impl Factor {
    /// The envelope of the lower triangle of `l`.
    fn new(l: ArrayView2<f64>) -> Self {
        let d = l.nrows();
        let (mut first, mut start, mut values) = (Vec::with_capacity(d), vec![0], Vec::new());
        for (i, row) in l.rows().into_iter().enumerate() {
            let row = &row.as_slice().expect("a standard layout factor")[..=i];
            let j = row.iter().position(|&x| x != 0.0).unwrap_or(i);
            first.push(j);
            values.extend_from_slice(&row[j..]);
            start.push(values.len());
        }
        Factor {
            first,
            start,
            values,
        }
    }

    /// Row i's envelope: (its first column, L[i, first..=i]).
    fn row(&self, i: usize) -> (usize, &[f64]) {
        (
            self.first[i],
            &self.values[self.start[i]..self.start[i + 1]],
        )
    }

    /// Solves LLᵀ x = b in place: L y = b row by row (y_i = (b_i −
    /// Σ_j L_ij y_j) / L_ii), then Lᵀ x = y by L's rows from the last
    /// (x_i = y_i / L_ii, then y_j −= L_ij x_i), each over the row's
    /// envelope.
    pub fn solve(&self, b: &mut [f64]) {
        let d = self.first.len();
        assert_eq!(b.len(), d, "one right-hand side per row of L");
        for i in 0..d {
            let (j, row) = self.row(i);
            let (diagonal, row) = row.split_last().expect("the diagonal");
            let known: f64 = row.iter().zip(&b[j..i]).map(|(x, y)| x * y).sum();
            b[i] = (b[i] - known) / diagonal;
        }
        for i in (0..d).rev() {
            let (j, row) = self.row(i);
            let (diagonal, row) = row.split_last().expect("the diagonal");
            let x = b[i] / diagonal;
            b[i] = x;
            for (y, l) in b[j..i].iter_mut().zip(row) {
                *y -= x * l;
            }
        }
    }
}

/// Solves LLᵀ X = B in place, B with one column per right-hand side.
pub fn solve_factored(factor: &Factor, rhs: &mut Array2<f64>) {
    let mut b = Vec::with_capacity(rhs.nrows());
    for mut column in rhs.columns_mut() {
        b.clear();
        b.extend(column.iter());
        factor.solve(&mut b);
        column.assign(&ArrayView1::from(&b[..]));
    }
}

/// The weights whose Q is closest (least squares over every pair) to the
/// table `q_init` gives a tabular learner.
pub fn initial_theta(init: QInit, phi: &Arc<Phi>, data: &TrainData) -> Result<Array1<f64>> {
    fit_table(&init.table(data), phi)
}

/// How [`Fitted`] values the next state.
pub enum NextValue {
    /// max_a' θᵀφ(s',a'), and the greedy policy (FQI).
    Greedy,
    /// Σ_a' π(a'|s') θᵀφ(s',a') for a fixed π, which is also the policy
    /// (FQE), with π's rule off the data's states.
    Of(Policy, Act),
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
    /// Φθ (states × actions) of the weights in `q_of`, Φθ of the next
    /// weights, and the next weights: kept between iterations so that an
    /// iteration allocates nothing, and Φθ of the weights an iteration
    /// ends with is the next one's (a pass over every pair, the largest
    /// cost of an iteration on sample states, done once).
    q: Vec<f64>,
    q_of: Vec<f64>,
    q_next: Vec<f64>,
    theta: Vec<f64>,
}

impl Fitted {
    pub fn new(phi: Arc<Phi>, data: &TrainData, next: NextValue) -> Result<Self> {
        let (ns, na) = (data.compiled.n_states, data.compiled.n_actions);
        let d = phi.dim();
        let hold = match next {
            NextValue::Greedy => Hold::NONE,
            NextValue::Of(..) => Hold::evaluation(data),
        };
        Ok(Fitted {
            fit: LeastSquares::new(phi.clone(), Cells::Observed.rows(data), hold)?,
            phi,
            backup: Backup::new(&data.compiled, data.gamma),
            next,
            v: vec![0.0; ns + 1],
            y: vec![0.0; (ns + 1) * na],
            q: vec![0.0; ns * na],
            q_of: Vec::new(),
            q_next: vec![0.0; ns * na],
            theta: vec![0.0; d],
        })
    }
}

impl LinearRule for Fitted {
    fn step(&mut self, theta: &mut Array1<f64>, _iteration: u64) -> f64 {
        let theta = theta.as_slice_mut().expect("θ is contiguous");
        // SPEED: the last iteration's Φθ_{k+1}, unless θ was replaced
        // since (a checkpoint restored).
        if !same_bits(&self.q_of, theta) {
            self.phi.q_into(theta, &mut self.q);
        }
        let na = self.phi.n_actions();
        match &self.next {
            // v's last entry, the terminal row's, stays 0.
            NextValue::Greedy => max_per_state(&self.q, na, &mut self.v),
            NextValue::Of(pi, _) => {
                // Only where the backup reads v, as fqe's tabular sweep does.
                for s in self.backup.read_states() {
                    self.v[s] = expected(
                        pi.row(s).to_slice().expect("row"),
                        &self.q[s * na..(s + 1) * na],
                    );
                }
            }
        }
        self.backup.apply(&self.v, &mut self.y);
        self.fit.fit(|row| self.y[row], theta, &mut self.theta);
        theta.copy_from_slice(&self.theta);
        self.phi.q_into(theta, &mut self.q_next);
        std::mem::swap(&mut self.q, &mut self.q_next);
        self.q_of.clear();
        self.q_of.extend_from_slice(theta);
        self.q
            .iter()
            .zip(&self.q_next)
            .fold(0.0, |m: f64, (after, before)| m.max((after - before).abs()))
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        match &self.next {
            NextValue::Greedy => solve::greedy(&q.to_owned()),
            NextValue::Of(pi, _) => pi.clone(),
        }
    }

    fn act(&self, _q: ArrayView2<f64>) -> Act {
        match &self.next {
            NextValue::Greedy => Act::Greedy,
            NextValue::Of(_, act) => *act,
        }
    }
}

/// A tabular [`Rule`] that can step a table it did not write itself: the
/// [`Projected`] learner rebuilds the table from θ before every step, so
/// whatever a rule caches about "its" table must be dropped then.
pub trait Projectable: Rule {
    /// Whether the rule's critic evaluates a policy held to the data
    /// (td3bc, fisher-brc): its fit is then held ([`Hold::evaluation`]).
    const EVALUATES: bool = false;

    /// The table was replaced since the last step (by a projection).
    fn replaced(&mut self) {}
}

/// Whether `data`'s features generalise across sample states: features
/// of observations that do not partition them (several tilings, RBF,
/// Fourier), where nearly every observation is its own state seen once,
/// with one action. There a rule's step on one state's row moves θ for
/// its neighbours too, which a table's step never does; the rules whose
/// step reaches the actions the data does not show there take their
/// feature-space form (cql and combo, td3bc's actor).
pub fn generalises(data: &TrainData) -> bool {
    data.phi
        .as_ref()
        .is_some_and(|phi| phi.state_width().is_some() && !phi.is_partition())
}

/// How a least-squares fit is held beyond the ridge towards the previous
/// weights ([`RIDGE`], which moves no fixed point).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hold {
    /// μ, the ridge towards the weights of Q = `centre` (in the rows'
    /// weights).
    shrink: f64,
    centre: f64,
    /// The range the targets are clamped into.
    bounds: (f64, f64),
}

impl Hold {
    /// Neither: the plain fit.
    pub const NONE: Hold = Hold {
        shrink: 0.0,
        centre: 0.0,
        bounds: (f64::NEG_INFINITY, f64::INFINITY),
    };

    /// The hold of a critic that evaluates a policy held to the data
    /// (fqe's and so bc's π, td3bc's actor, fisher-brc's) on features that
    /// [`generalise`](generalises); [`Hold::NONE`] on a table's or a
    /// partition's features, whose fit is the table's. There a few hundred
    /// transitions on hashed tiles make the plain fit no contraction even
    /// of π̂_β's own backup: bc's estimate ran away to 9e169 on Acrobot 1k
    /// and td3bc's critic with it (the value at a next state reads weights
    /// no data pins down), and fisher-brc's sank to −173 on Acrobot 10k,
    /// below f_min = −100 (its unseen actions' targets, α log 10⁻³ below
    /// the seen ones, leak into the seen actions' weights through the
    /// shared tiles and compound over the horizon). Two holds, each the
    /// textbook one:
    /// - the targets truncated to the returns the rewards allow,
    ///   [`TrainData::return_bounds`] (the truncation of fitted value
    ///   iteration, Munos & Szepesvári 2008), where the truth lies, so no
    ///   fixed point a table reaches moves;
    /// - a ridge of one transition's weight, 1/N, on every feature (PEVI's
    ///   λ = 1 in counts, as [`super::support`]'s) towards the weights of
    ///   the constant Q = Ĵ_β, the mean discounted return of the data's
    ///   episodes ([`TrainData::episode_return`]; the middle of the return
    ///   range without a whole episode): bounded targets bound the fit on
    ///   the data's pairs but not its weights, and with the ridge of 10⁻⁹
    ///   alone a start state's sum of tiles no transition shares read
    ///   −817 (bc) or +79 (td3bc) from targets in [−100, 0]. It pulls a
    ///   tile seen k times by about 1/(k + 1) a backup, which the backup
    ///   compounds into a shorter horizon: towards 0, as it first pulled,
    ///   that was f_max on Acrobot and MountainCar and bc's estimate read
    ///   −30 against J = −78 on Acrobot 1k. Ĵ_β is what the data says a
    ///   start is worth, and moves with the rewards as the truth does.
    ///
    /// fqi is left to diverge, as the figures show it.
    pub fn evaluation(data: &TrainData) -> Hold {
        if generalises(data) {
            let bounds = data.return_bounds();
            Hold {
                shrink: 1.0 / data.compiled.n_transitions.max(1) as f64,
                centre: data.episode_return().unwrap_or(0.5 * (bounds.0 + bounds.1)),
                bounds,
            }
        } else {
            Hold::NONE
        }
    }
}

/// Which cells a projected iteration fits, and with which weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cells {
    /// The pairs the data shows, each weighted by its count (n(s,a)/N):
    /// the cells a backup on the empirical MDP writes.
    Observed,
    /// Every action of every state the data visits, each weighted by the
    /// state's share n(s)/N: the cells of rules whose objective reaches
    /// the actions the data does not show (a push-down, an adversary).
    DataStates,
    /// Every action of every state the data visits, weighted by
    /// (n(s,a) + c·n(s))/N: the curvature of the majoriser of cql's
    /// objective, d(s)(π̂_β(a|s) + c) with c = α/2τ (the push-down's
    /// Hessian is at most half its weight over τ), so that projecting the
    /// majoriser's table step is the majoriser's step in θ ([`super::cql`]).
    Curvature(f64),
}

impl Cells {
    /// The fitted rows (s·|A| + a) and their weights.
    pub fn rows(self, data: &TrainData) -> Vec<(usize, f64)> {
        let c = &data.compiled;
        let na = c.n_actions;
        let n = c.n_transitions.max(1) as f64;
        match self {
            Cells::Observed => c
                .pairs
                .iter()
                .map(|p| {
                    (
                        p.state as usize * na + p.action as usize,
                        f64::from(p.count) / n,
                    )
                })
                .collect(),
            Cells::DataStates => (0..c.n_states)
                .filter(|&s| c.state_count[s] > 0)
                .flat_map(|s| {
                    let w = f64::from(c.state_count[s]) / n;
                    (0..na).map(move |a| (s * na + a, w))
                })
                .collect(),
            Cells::Curvature(c_floor) => (0..c.n_states)
                .filter(|&s| c.state_count[s] > 0)
                .flat_map(|s| {
                    let floor = c_floor * f64::from(c.state_count[s]);
                    (0..na).map(move |a| (s * na + a, (f64::from(c.count(s, a)) + floor) / n))
                })
                .collect(),
        }
    }
}

/// Projected iteration: the linear form of a tabular [`Rule`]. Each
/// iteration reads Q = Φθ as a table (with the terminal zero row), lets the
/// rule take its own step on it, and projects the stepped table back onto
/// span(Φ) by the weighted least squares of [`LeastSquares`] on the rule's
/// [`Cells`] (the Gram matrix factored once; the ridge pulls towards the
/// previous θ, so directions the data never sees keep their weights):
///
///   θ_{k+1} = argmin_θ Σ_cells w(s,a) (θᵀφ(s,a) − T_alg(Φθ_k)(s,a))².
///
/// For a rule that backs up the observed pairs (bcq, brac, awac, iql,
/// td3bc's critic, vi-lcb, fqe) this is exactly least-squares fitted-Q
/// iteration with the algorithm's own target. For a rule that descends a
/// per-state objective over every action of a data state (cql, combo, the
/// adversary of atac, fisher-brc's offsets) it projects the rule's
/// full-batch second-order step (an exact minimiser, or cql's safeguarded
/// Newton step) with the data's weights: each action of a data state counts
/// as much as the state does. Not Gauss–Newton's curvature weights: CQL's
/// curvature on an action π leaves vanishes with π's mass there, so a
/// curvature-weighted projection would stop the sinking of unseen actions
/// that the table performs, and it would refactor the Gram matrix every
/// iteration.
///
/// Why a projected second-order step and not Adam on the linear objective:
/// with one-hot features Φ is the identity on the fitted cells, the
/// projection is exact, and every linear form reproduces its tabular Q to
/// rounding (a test checks 1e-6 for each algorithm), which no finite number
/// of first-order steps does; and the same full-batch step needs no step
/// size, seed or schedule. The rule's own state (an actor, π̂_β, caches)
/// stays inside the rule and is stepped on the unprojected table, as the
/// tabular form steps it; checkpoints save θ, the iteration and the rule's
/// state ([`Rule::save`]).
pub struct Projected<R> {
    rule: R,
    phi: Arc<Phi>,
    fit: LeastSquares,
    /// Φθ as the rule sees it: states + 1 rows (the last stays zero).
    table: Array2<f64>,
    /// The first of the two fits.
    first: Vec<f64>,
}

impl<R: Projectable> LinearRule for Projected<R> {
    fn step(&mut self, theta: &mut Array1<f64>, iteration: u64) -> f64 {
        let theta = theta.as_slice_mut().expect("θ is contiguous");
        let table = self.table.as_slice_mut().expect("a standard layout table");
        self.phi.q_into(theta, table);
        self.rule.replaced();
        let loss = self.rule.step(&mut self.table, iteration);
        let cells = self.table.as_slice().expect("a standard layout table");
        // Twice: the second fit, pulled towards the first, removes the
        // ridge's pull on cells whose weight is a small share of the mean
        // (a pair seen once in 20,000), which the bang-bang critic of atac
        // would otherwise show at 10⁻⁶; unseen directions keep θ_k in both.
        self.fit.fit(|row| cells[row], theta, &mut self.first);
        self.fit.fit(|row| cells[row], &self.first, theta);
        loss
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        self.rule.policy(q)
    }

    fn act(&self, q: ArrayView2<f64>) -> Act {
        self.rule.act(q)
    }

    fn estimate(&self, q: Array2<f64>) -> Array2<f64> {
        self.rule.estimate(q)
    }

    fn save(&self) -> serde_json::Value {
        self.rule.save()
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<()> {
        self.rule.load(state)
    }
}

/// The learner of a tabular rule starting from the table `init`: the
/// table itself without features, its [`Projected`] form on `cells` with
/// them (from the weights that fit `init` best).
pub fn or_table<R: Projectable + 'static>(
    rule: R,
    init: &Array2<f64>,
    cells: Cells,
    data: &TrainData,
) -> Result<Box<dyn Algorithm>> {
    let Some(phi) = data.phi.clone() else {
        return Ok(Tabular::boxed(rule, init));
    };
    let theta = fit_table(init, &phi)?;
    let (ns, na) = init.dim();
    let projected = Projected {
        fit: LeastSquares::new(
            phi.clone(),
            cells.rows(data),
            if R::EVALUATES {
                Hold::evaluation(data)
            } else {
                Hold::NONE
            },
        )?,
        rule,
        phi: phi.clone(),
        table: Array2::zeros((ns + 1, na)),
        first: vec![0.0; phi.dim()],
    };
    Ok(Linear::boxed(projected, phi, theta))
}

/// The weights whose Q is closest (least squares over every pair) to
/// `table`, refined once so the ridge's pull towards 0 leaves no trace
/// (f_min = −2000 on CliffWalking would otherwise be off by 2·10⁻⁶).
pub fn fit_table(table: &Array2<f64>, phi: &Arc<Phi>) -> Result<Array1<f64>> {
    if table.iter().all(|&x| x == 0.0) {
        return Ok(Array1::zeros(phi.dim()));
    }
    let cells = table.as_slice().expect("a standard layout table");
    let every_pair = (0..cells.len()).map(|row| (row, 1.0)).collect();
    let fit = LeastSquares::new(phi.clone(), every_pair, Hold::NONE)?;
    let (mut first, mut theta) = (vec![0.0; phi.dim()], Array1::zeros(phi.dim()));
    fit.fit(|row| cells[row], &vec![0.0; phi.dim()], &mut first);
    fit.fit(
        |row| cells[row],
        &first,
        theta.as_slice_mut().expect("a fresh vector"),
    );
    Ok(theta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// G x = b for the factor of G + λI, and L keeps only its envelope:
    /// a diagonal, a block diagonal and a dense G with an arrow row.
    #[test]
    fn the_envelope_factor_solves_and_skips_zeros() {
        let blocks = array![
            [4.0, 1.0, 0.0, 0.0, 0.0],
            [1.0, 3.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 2.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 5.0, 2.0],
            [0.0, 0.0, 0.0, 2.0, 6.0],
        ];
        let mut arrow = Array2::<f64>::eye(5) * 4.0;
        arrow.row_mut(4).fill(1.0);
        arrow.column_mut(4).fill(1.0);
        arrow[[4, 4]] = 9.0;
        for (g, stored) in [
            (Array2::<f64>::eye(5) * 2.0, 5),
            (blocks, 1 + 2 + 1 + 1 + 2),
            (arrow, 1 + 1 + 1 + 1 + 5),
        ] {
            // The rows x with G = Σ x xᵀ: G's columns scaled by its factor.
            let l = g.cholesky().unwrap();
            let (factor, ridge) =
                ridge_factor(5, l.columns().into_iter().map(|x| (x, 1.0)), "test").unwrap();
            assert_eq!(factor.values.len(), stored, "{g}");
            let b = array![1.0, -2.0, 3.0, 0.5, 4.0];
            let mut x = b.to_vec();
            factor.solve(&mut x);
            let x = Array1::from(x);
            let residual = &(g.dot(&x) + ridge * &x) - &b;
            assert!(residual.iter().all(|r| r.abs() < 1e-12), "{g}: {residual}");
        }
    }
}
