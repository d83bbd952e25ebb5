//! `cql`: conservative Q-learning, CQL(H) (Kumar, Zhou, Tucker & Levine
//! 2020, arXiv:2006.04779), tabular, on the empirical MDP the dataset compiles to. Each
//! iteration holds the target y fixed and descends
//!
//!   L(f) = α Σ_s d(s) [τ log Σ_a exp(f(s,a)/τ) − Σ_a π̂_β(a|s) f(s,a)]
//!        + ½ Σ_{s,a} d(s) π̂_β(a|s) (f(s,a) − y(s,a))²,
//!   y(s,a) = r̂(s,a) + γ Σ_s' p̂(s'|s,a) Σ_a' π(a'|s') f(s',a'),
//!   π(·|s) = softmax(f(s,·)/τ),
//!
//! over the dataset's states (d(s) = n(s)/N) and *every* action of those
//! states, not only the observed pairs. The policy is the regulariser's own
//! μ, the closed-form maximiser of the entropy-regularised push-down term
//! (the paper's Eq. 4), so this is the setting of its Theorem 3.2 (μ = π)
//! and the bound below holds for the policy the run reports; the targets
//! are E_π, not max.
//!
//! Why it is a lower bound: at the inner fixed point f(s,a) = y(s,a) +
//! α(1 − π(a|s)/π̂_β(a|s)) on the data's actions, and every unseen action
//! has gradient α d(s) π(a|s) > 0, so it sinks and π leaves it. Hence
//! E_π f(s,·) = E_π y(s,·) − α(Σ_a π²/π̂_β − 1) ≤ E_π y(s,·) (Cauchy–
//! Schwarz), V̂ ≤ T^π V̂ on the empirical MDP and so V̂ ≤ V^π there; α large
//! enough to cover the sampling error makes it a bound on the true J(π).
//! Unseen actions are not clamped at a floor: with a floor the data's
//! actions would gain up to α·u(1 − u) (u = π's mass on the unseen ones)
//! and the bound would break.
//!
//! The descent is exact and full-batch, one state at a time (the states'
//! rows are independent once y is fixed): the row objective below
//! ([`Row`]) is stated once, with its gradient and curvature, and
//! [`super::newton::step`] minimises it (a Newton step, exact by
//! Sherman–Morrison, safeguarded by a line search and a majoriser, so the
//! inner objective never increases); [`super::settled`] skips the rows
//! whose last step left them alone. At α = 0 the step is f = y on the
//! data's pairs (fqi's sweep, with τ → 0 its max) and leaves unseen pairs
//! alone. [`Cql::descend`] takes the weights (push-down d and Bellman w,
//! [`Weights`]) as an argument, which is how `combo` reuses it with its
//! rollout distribution.
//!
//! `alpha` and `tau` are in the data's value unit U ([`super::scale`]: the
//! spread of the values the data supports, about 0.9 on FrozenLake8x8 and
//! a hundred on Taxi), so a default means the same on every environment:
//! the push-down costs α·U a step, and π's temperature is τ·U. (The
//! rewards' range, the earlier unit, is 1 on FrozenLake, whose values stay
//! far below 1/(1 − γ).) States the data never visits keep their initial
//! values and a uniform π.
//!
//! Keys ([`KEYS`]; the reasons for their defaults): `alpha` (on
//! `experiments/defaults_panel.toml`, of 0.001 … 0.1, 0.02 and 0.03 never
//! fall below the behaviour by more than 2 points; smaller α leaves the
//! behaviour for actions seen a handful of times, larger α only copies it
//! and loses the Total to fqi; the default, the larger of the two, keeps a
//! margin), `tau` (the default keeps π near-greedy; 0.03 and above spread
//! π over actions far apart in value), `inner` (Newton steps per target
//! update: the outer iteration warm-starts from the last f, so one step
//! converges with the targets), `q_init` (as fqi's; the values unseen
//! pairs start from). Loss: the iteration's
//! largest |Δf| over the data's pairs (unseen actions sink without end).
//! The policy puts (vanishing) mass on unseen actions, so the run's
//! `ood_fraction` counts the states that have any.
//!
//! With features (Q = θᵀφ, [`super::linear::Projected`]): each iteration
//! takes the Newton step above on Φθ's rows of the data's states and
//! projects it by least squares onto span(Φ), every action of a data state
//! weighted by the state's share n(s)/N (the data's weights, not the
//! step's curvature, which vanishes on the actions π leaves), from the
//! weights that fit `q_init`. With one action (TwoState-v0) the push-down
//! and the push-up cancel and it diverges as fqi does.
//!
//! On features that generalise across sample states
//! ([`linear::generalises`]: several tilings, RBF, Fourier) that projected
//! Newton step runs away: it sinks an action π prefers but the data does
//! not show by up to the row's spread, which the sinking itself widens,
//! and the least-squares fit of a rare action's block, dominated by those
//! targets on a narrow dataset, chased them (q_est 1e7 on MountainCar
//! 10k, 4e9 on Acrobot). There each iteration is majorise–minimise on the
//! linear objective itself: the majoriser's step f −= g/m per cell
//! ([`newton::majorise`]), m(s,a) = d(s)(π̂_β(a|s) + α/2τ) ≥ the Hessian's
//! diagonal bound (the push-down's is at most c/2), projected with the
//! weights m ([`Cells::Curvature`]), is the minimiser in θ of a quadratic
//! that lies above the objective (its Hessian ΦᵀDΦ is below ΦᵀMΦ), so the
//! objective never rises for fixed targets and the fixed point is the
//! stationarity of the linear objective, whose unseen actions sink by
//! 2τσ a step. The targets take E_π at a next state over the actions the
//! data shows there (σ renormalised on them): a table's unseen actions
//! sink without end, so there π leaves them and its targets read the
//! data's actions only, while θ, which cannot sink one observation's
//! action alone, would otherwise bootstrap from extrapolated values (on
//! CartPole 10k with 2048 slots q_est doubled every 500 iterations, to
//! 2.7e3 after 5,000, against returns of at most 100). The Gram matrix
//! of the fixed m is factored once, so an iteration costs O(N·k). The
//! majoriser's Bellman step is 1/(1 + α/2τ) of Newton's (0.4 at the
//! defaults, a step 0.996 of the way from the fixed point at γ = 0.99:
//! 1,000 iterations to settle), so each iteration first takes an exact
//! step along the states' values, every action of a state moved alike
//! ([`Levels`]: there the push-down and push-up cancel, and what is left
//! is least squares on the Bellman residual, its Gram matrix over ψ
//! factored once): the values then move at fitted-Q iteration's rate, γ
//! an iteration, and settle within the 300 iterations the bundled specs
//! run (docs/scores.md, "converge"). The bound is the linear objective's, not
//! the table's: q_est ≤ J on MountainCar 100k (−73.6 against −70.4), but
//! not where the features pool distant observations (Acrobot, CartPole
//! in 512 hashed slots; docs/scores.md).

use super::linear::{self, Cells, Factor, Projectable};
use super::newton::{self, RowObjective, Scratch};
use super::scale::value_unit;
use super::settled::Settled;
use super::tabular::{
    Backup, INIT_SCALE, Q_INIT, QInit, Rule, by_row_len, expected, load_table, row_len, save_table,
};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::features::Phi;
use crate::mdp::Policy;
use ndarray::{Array2, ArrayView2};
use std::sync::Arc;

pub const NAME: &str = "cql";

/// α; its default's reasons are in the module doc.
pub const ALPHA: Key = Key::number("alpha", 0.03, 0.0, 1e12)
    .unit("U")
    .meaning("the push-down's weight, what a step costs f beyond the data: 0 is fqi's fixed point");
pub const TAU: Key = Key::number("tau", 0.01, 1e-12, 1e12)
    .unit("U")
    .meaning("π's temperature, π = softmax(f / τ)");
pub const INNER: Key = Key::integer("inner", 1, 1, 10_000)
    .unit("Newton steps")
    .meaning("steps on the objective per target update");

/// cql's keys.
pub const KEYS: &[Key] = &[ALPHA, TAU, INNER, Q_INIT, INIT_SCALE];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// α, in the data's value unit.
    pub alpha: f64,
    /// τ, in the data's value unit.
    pub tau: f64,
    pub inner: u64,
    pub q_init: QInit,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let config = Self::read_from(&mut r, &ALPHA)?;
        Ok((config, r.finish()?))
    }

    /// Reads CQL's keys with `alpha` as its row (`combo` has them too,
    /// with its own α row).
    pub fn read_from(r: &mut ParamReader, alpha: &Key) -> Result<Self> {
        Ok(Config {
            alpha: r.number_of(alpha)?,
            tau: r.number_of(&TAU)?,
            inner: r.integer_of(&INNER)?,
            q_init: QInit::read(r)?,
        })
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let rule = Cql::new(&config, data);
    let cells = rule.cells();
    linear::or_table(rule, &config.q_init.table(data), cells, data)
}

/// The weights of the objective's terms that a descent reads: CQL's are
/// the data's ([`Cql::data_weights`]), `combo` mixes in its rollouts'.
#[derive(Debug, Clone, Default)]
pub struct Weights {
    /// The push-down term's weight per state (d(s) for CQL).
    pub down: Vec<f64>,
    /// The Bellman term's weight per pair, row-major (d(s) π̂_β(a|s) for CQL).
    pub bellman: Vec<f64>,
}

pub struct Cql {
    /// α and τ in value units (times the rewards' range).
    alpha: f64,
    tau: f64,
    inner: u64,
    n_actions: usize,
    /// The states the data visits.
    visited: Vec<usize>,
    /// d(s) = n(s)/N.
    data_share: Vec<f64>,
    /// d(s) π̂_β(a|s), row-major: the push-up weights.
    up: Vec<f64>,
    /// CQL's own weights, the data's (taken out while a descent reads them).
    own: Weights,
    backup: Backup,
    v: Vec<f64>,
    /// y on the observed pairs (other cells unused).
    y: Vec<f64>,
    /// σ, the push-down's maximiser ([`push_down`]), of the visited states,
    /// row-major (uniform on the others): π at the iteration's start, then
    /// the descent's current σ.
    sigma: Vec<f64>,
    /// The push-down's soft maximum per state, beside σ.
    soft: Vec<f64>,
    /// What each visited state's last step read (y, the Bellman and
    /// push-down weights: α, τ and the push-up weights are fixed by
    /// [`Cql::new`]) and whether it left the row.
    settled: Settled,
    scratch: Scratch,
    /// The feature-space form (module doc): each step is the majoriser's,
    /// whose curvature per cell is d(s)(π̂_β(a|s) + `floor`), floor = α/2τ;
    /// `None` for the table's Newton step.
    floor: Option<f64>,
    /// The feature-space form's step on the states' values, before the
    /// majoriser's (`Some` with `floor`).
    levels: Option<Levels>,
    /// A row's candidate, for the majoriser's step, and the row before the
    /// iteration's steps.
    candidate: Vec<f64>,
    before: Vec<f64>,
    /// Whether `sigma` and `soft` are those of the current f: the descent
    /// leaves them so (bit for bit, one softmax of the same row), a
    /// checkpoint's load or a projection does not.
    synced: bool,
}

impl Cql {
    pub fn new(config: &Config, data: &TrainData) -> Self {
        let c = &data.compiled;
        let (ns, na) = (c.n_states, c.n_actions);
        let unit = value_unit(data);
        let n = c.n_transitions.max(1) as f64;
        let data_share: Vec<f64> = c.state_count.iter().map(|&k| f64::from(k) / n).collect();
        let up: Vec<f64> = (0..ns * na)
            .map(|cell| f64::from(c.count(cell / na, cell % na)) / n)
            .collect();
        let visited: Vec<usize> = (0..ns).filter(|&s| c.state_count[s] > 0).collect();
        let floor = linear::generalises(data).then_some(config.alpha / (2.0 * config.tau));
        let levels = match (floor, &data.phi) {
            (Some(_), Some(phi)) => Some(Levels::new(phi.clone(), &up, na)),
            _ => None,
        };
        Cql {
            alpha: config.alpha * unit,
            tau: config.tau * unit,
            inner: config.inner,
            n_actions: na,
            visited,
            own: Weights {
                down: data_share.clone(),
                bellman: up.clone(),
            },
            data_share,
            up,
            backup: Backup::new(c, data.gamma),
            v: vec![0.0; ns],
            y: vec![0.0; ns * na],
            sigma: vec![1.0 / na as f64; ns * na],
            soft: vec![0.0; ns],
            settled: Settled::new(NAME, ns, &[("y", na), ("w", na), ("down", 1)]),
            scratch: Scratch::new(na),
            floor,
            levels,
            candidate: vec![0.0; na],
            before: vec![0.0; na],
            synced: false,
        }
    }

    /// The cells the linear form fits: with the majoriser's step, its
    /// curvature; with the table's Newton step, the data's state shares.
    pub fn cells(&self) -> Cells {
        self.floor.map_or(Cells::DataStates, Cells::Curvature)
    }

    /// CQL's own weights: push-down d(s), Bellman weight d(s) π̂_β(a|s).
    pub fn data_weights(&self) -> Weights {
        self.own.clone()
    }

    /// The states the data visits.
    pub fn visited(&self) -> &[usize] {
        &self.visited
    }

    /// d(s) = n(s)/N.
    pub fn data_share(&self) -> &[f64] {
        &self.data_share
    }

    /// d(s) π̂_β(a|s), row-major.
    pub fn up(&self) -> &[f64] {
        &self.up
    }

    /// π on the visited states (uniform on the others), row-major, as the
    /// last [`Cql::targets`] or descent left it.
    pub fn sigma(&self) -> &[f64] {
        &self.sigma
    }

    /// π = σ on the visited states, and the targets y(s,a) = r̂ + γ Σ
    /// p̂(s'|s,a) E_π f(s',·) on the observed pairs.
    pub fn targets(&mut self, q: &Array2<f64>) {
        let na = self.n_actions;
        let f = q.as_slice().expect("Q is contiguous");
        if !self.synced {
            for &s in &self.visited {
                let cells = s * na..(s + 1) * na;
                let (row, up) = (&f[cells.clone()], &self.up[cells.clone()]);
                self.soft[s] = push_down(row, up, self.tau, &mut self.sigma[cells]);
            }
        }
        for s in self.backup.read_states() {
            // SPEED: v(s) is that of the row the last targets read where
            // the last descent left the row alone, or never steps it
            // (unvisited).
            let unvisited = self.data_share[s] == 0.0;
            if self.synced && (unvisited || self.settled.left_alone(s)) {
                continue;
            }
            // ALGO LOGIC: v(s) = E_π f(s,·); in the feature-space form
            // over the actions the data shows at s (module doc).
            let cells = s * na..(s + 1) * na;
            let row = &f[cells.clone()];
            self.v[s] = match self.floor {
                Some(_) if !unvisited => shown_value(row, &self.up[cells], self.tau),
                _ => expected(&self.sigma[cells], row),
            };
        }
        // ALGO LOGIC: y = r̂ + γ P̂ v.
        self.backup.apply(&self.v, &mut self.y);
    }

    /// `inner` descent steps on every visited state's row of `q` towards
    /// the targets, with `weights`; returns the largest |Δf|. Reads σ
    /// where [`Cql::targets`] left it.
    pub fn descend(&mut self, q: &mut Array2<f64>, weights: &Weights) -> f64 {
        by_row_len!(self.n_actions, self.descend_rows(q, weights))
    }

    /// [`Cql::descend`] for rows of [`row_len`]`::<N>` actions.
    fn descend_rows<const N: usize>(&mut self, q: &mut Array2<f64>, weights: &Weights) -> f64 {
        let na = row_len::<N>(self.n_actions);
        let f = q.as_slice_mut().expect("Q is contiguous");
        let mut largest: f64 = 0.0;
        let stretch = self.stretch(weights);
        for inner in 0..self.inner {
            if let Some(levels) = &mut self.levels {
                levels.solve(f, &self.y, weights, self.alpha, &self.visited, na);
            }
            for &s in &self.visited {
                let cells = s * na..(s + 1) * na;
                let (y, w) = (&self.y[cells.clone()], &weights.bellman[cells.clone()]);
                let inputs: [&[f64]; 3] = [y, w, &weights.down[s..=s]];
                // SPEED: a row its last step left alone, with inputs within
                // rounding of that step's, is skipped ([`super::settled`]).
                if self.settled.skips(s, &inputs) {
                    continue;
                }
                self.settled.record(s, &inputs);
                // ALGO LOGIC: one descent step on the state's row objective.
                let row = Row {
                    alpha: self.alpha,
                    tau: self.tau,
                    down: weights.down[s],
                    up: &self.up[cells.clone()],
                    w,
                    y,
                };
                let change = match self.floor {
                    None => newton::step::<N, _>(
                        &row,
                        &mut f[cells.clone()],
                        &mut self.sigma[cells],
                        &mut self.soft[s],
                        &mut self.scratch,
                    ),
                    // The state's value step, then the majoriser's with the
                    // data's curvature, stretched to cover the weights'; σ
                    // is that of the shifted row (a softmax of f + δ is f's).
                    Some(floor) => {
                        let (up, d) = (&self.up[cells.clone()], self.data_share[s]);
                        let delta = self.levels.as_ref().map_or(0.0, |l| l.delta[s]);
                        let f = &mut f[cells.clone()];
                        self.before.copy_from_slice(f);
                        for x in f.iter_mut() {
                            *x += delta;
                        }
                        newton::majorise(
                            &row,
                            f,
                            &mut self.sigma[cells],
                            &mut self.soft[s],
                            &mut self.candidate,
                            |a| stretch * (up[a] + floor * d),
                        );
                        Some(newton::largest_change(&row, &self.before, f))
                    }
                };
                self.settled.note(s, inner == 0, change.is_none());
                largest = largest.max(change.unwrap_or(0.0));
            }
            self.settled.passed();
        }
        self.synced = true;
        largest
    }

    /// κ ≥ 1, the least factor by which the data's majoriser curvature
    /// d(s)(π̂_β(a|s) + α/2τ) covers that of `weights`, w(s,a) + α d_w(s)/2τ,
    /// on every cell it fits (1 for cql's own weights; combo's rollouts
    /// weigh some states above the data). 1 without the majoriser.
    fn stretch(&self, weights: &Weights) -> f64 {
        let Some(floor) = self.floor else {
            return 1.0;
        };
        let na = self.n_actions;
        let mut kappa: f64 = 1.0;
        for &s in &self.visited {
            for cell in s * na..(s + 1) * na {
                let data = self.up[cell] + floor * self.data_share[s];
                if data > 0.0 {
                    kappa = kappa.max((weights.bellman[cell] + floor * weights.down[s]) / data);
                }
            }
        }
        kappa
    }

    /// π, the push-down's maximiser σ, on the visited states; uniform on the others.
    pub fn policy_of(&self, q: ArrayView2<f64>) -> Policy {
        let na = self.n_actions;
        let mut pi = Array2::from_elem(q.dim(), 1.0 / na as f64);
        for &s in &self.visited {
            let mut row = pi.row_mut(s);
            let f = q.row(s);
            push_down(
                f.as_slice().expect("row"),
                &self.up[s * na..(s + 1) * na],
                self.tau,
                row.as_slice_mut().expect("row"),
            );
        }
        pi
    }

    /// Marks σ and what the last steps read as stale (the table was
    /// replaced from outside).
    pub fn desync(&mut self) {
        self.synced = false;
        self.settled.forget();
    }

    /// What the last steps read, for a checkpoint ([`Settled::save`]).
    pub fn save_memory(&self) -> serde_json::Value {
        self.settled.save()
    }

    /// The feature-space form's step on the states' values, where it has one.
    pub fn levels(&self) -> Option<&Levels> {
        self.levels.as_ref()
    }

    /// The states the data visits and the step on their values, where it has one.
    pub fn visited_levels(&mut self) -> (&[usize], Option<&mut Levels>) {
        (&self.visited, self.levels.as_mut())
    }

    /// Restores what [`Cql::save_memory`] wrote; σ is recomputed from the
    /// restored table.
    pub fn load_memory(&mut self, state: &serde_json::Value) -> Result<()> {
        self.synced = false;
        self.settled.load(state)
    }
}

// ALGO LOGIC: CQL's loss, stated once. A change of penalty edits
// `push_down` (its value and its gradient σ, which is also π); a change of
// the other terms edits `Row`'s `gradient` and `value` together.

/// CQL(H)'s push-down on one state's row: the soft maximum τ log Σ_a
/// exp(f(a)/τ) it charges (the maximum over μ of E_μ f + τ H(μ), the
/// paper's Eq. 4), with its gradient σ = softmax(f/τ), the maximising μ,
/// into `sigma`; σ is also the policy. `_up`, the row's push-up weights
/// d π̂_β(a|s), is the data's policy, which CQL(ρ)'s penalty (a KL to it
/// in place of the entropy) would read.
#[inline(always)]
fn push_down(f: &[f64], _up: &[f64], tau: f64, sigma: &mut [f64]) -> f64 {
    let top = f.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let mut total = 0.0;
    for (o, &x) in sigma.iter_mut().zip(f) {
        let z = (x - top) / tau;
        // SPEED: exp underflows below −745; flushing early skips libm's slow path.
        *o = if z < -700.0 { 0.0 } else { z.exp() };
        total += *o;
    }
    let scale = 1.0 / total;
    for o in sigma.iter_mut() {
        *o *= scale;
    }
    top + tau * total.ln()
}

/// The feature-space form's step along the states' values: every action
/// of a visited state moves by the same δ(s) = ψ(s)ᵀμ, a direction of
/// span(Φ) along which the push-down and the push-up cancel but for
/// combo's weights (τ log Σ exp((f + δ)/τ) = τ log Σ exp(f/τ) + δ), so the
/// objective there is the Bellman term's quadratic, curvature W(s) =
/// Σ_a w(s,a), plus a linear term. μ minimises the quadratic of curvature
/// κ k(s) ≥ W(s) above it, k the weights of the Gram matrix last factored:
/// k = max(W, b), b(s) = Σ_a d(s)π̂_β(a|s) the data's, refactored only when
/// max(W, b) leaves [k/2, 2k] somewhere (never for cql, whose W is b and
/// whose step is exact; for combo's rollouts, when they move). It moves
/// the values by the whole Bellman residual, which the majoriser's step
/// moves by 1/(1 + α/2τ), and it lowers the objective, so the iteration's
/// fixed points are the majoriser's alone.
pub struct Levels {
    phi: Arc<Phi>,
    /// The factor of Σ_s k(s)ψ(s)ψ(s)ᵀ over the visited states (and the
    /// ridge); `None` before the first step.
    factor: Option<Factor>,
    /// k(s) per state.
    factored: Vec<f64>,
    /// b(s) and this step's W(s) per state.
    base: Vec<f64>,
    curvature: Vec<f64>,
    /// The slope Σ_s ψ(s) ∂L/∂δ(s), then μ: one per state feature.
    mu: Vec<f64>,
    /// δ(s) per state (visited states only).
    delta: Vec<f64>,
}

impl Levels {
    fn new(phi: Arc<Phi>, up: &[f64], na: usize) -> Self {
        let base: Vec<f64> = up.chunks_exact(na).map(|row| row.iter().sum()).collect();
        let width = phi.state_width().expect("features of sample states");
        Levels {
            phi,
            factor: None,
            factored: vec![0.0; base.len()],
            curvature: vec![0.0; base.len()],
            delta: vec![0.0; base.len()],
            base,
            mu: vec![0.0; width],
        }
    }

    /// δ of the step from `f` (rows of `na` actions) with targets `y`,
    /// weights `weights` and push-down weight α (the push-up's weights
    /// being b's).
    fn solve(
        &mut self,
        f: &[f64],
        y: &[f64],
        weights: &Weights,
        alpha: f64,
        visited: &[usize],
        na: usize,
    ) {
        self.mu.fill(0.0);
        let mut moved = self.factor.is_none();
        for &s in visited {
            // ALGO LOGIC: ∂L/∂δ(s) = α(d_down(s) − b(s)) + Σ_a w (f − y), and
            // ∂²L/∂δ(s)² = W(s) = Σ_a w.
            let mut slope = alpha * (weights.down[s] - self.base[s]);
            let mut curvature = 0.0;
            for cell in s * na..(s + 1) * na {
                let w = weights.bellman[cell];
                if w > 0.0 {
                    slope += w * (f[cell] - y[cell]);
                    curvature += w;
                }
            }
            self.curvature[s] = curvature;
            let (k, wanted) = (self.factored[s], curvature.max(self.base[s]));
            moved |= !(0.5 * k..=2.0 * k).contains(&wanted);
            let mu = &mut self.mu;
            self.phi.psi_each(s, |j, x| mu[j] += x * slope);
        }
        if moved {
            for &s in visited {
                self.factored[s] = self.curvature[s].max(self.base[s]);
            }
            self.refactor(visited);
        }
        // κ: the least factor by which k covers W.
        let kappa = visited
            .iter()
            .map(|&s| self.curvature[s] / self.factored[s])
            .fold(0.0, f64::max);
        match &self.factor {
            Some(factor) if kappa > 0.0 => {
                factor.solve(&mut self.mu);
                for m in &mut self.mu {
                    *m /= -kappa;
                }
            }
            _ => self.mu.fill(0.0),
        }
        for &s in visited {
            self.delta[s] = self.phi.psi_dot(s, &self.mu);
        }
    }

    /// Factors the Gram matrix of the weights k; `None` where it cannot
    /// (weights no longer finite), which leaves δ = 0.
    fn refactor(&mut self, visited: &[usize]) {
        let states: Vec<(usize, f64)> = visited.iter().map(|&s| (s, self.factored[s])).collect();
        self.factor = linear::factor_gram(self.phi.psi_gram(&states), 0.0, "the states' values")
            .ok()
            .map(|(factor, _)| factor);
    }

    /// k, for a checkpoint: a resumed run must factor the weights the
    /// uninterrupted one did.
    pub fn save(&self) -> serde_json::Value {
        let k = &self.factored;
        save_table(&Array2::from_shape_vec((k.len(), 1), k.clone()).expect("a column"))
    }

    /// Restores what [`Levels::save`] wrote and factors it.
    pub fn load(&mut self, state: &serde_json::Value, visited: &[usize]) -> Result<()> {
        let k = load_table(state, (self.factored.len(), 1))?;
        self.factored = k.into_raw_vec_and_offset().0;
        self.refactor(visited);
        Ok(())
    }
}

/// E_σ f(s,·) with σ = softmax(f/τ) over the actions the data shows at s
/// (push-up weight > 0; a visited state has one): π's value where every
/// other action has sunk, as a table's do.
fn shown_value(f: &[f64], up: &[f64], tau: f64) -> f64 {
    let shown = || f.iter().zip(up).filter(|(_, u)| **u > 0.0).map(|(x, _)| *x);
    let top = shown().fold(f64::NEG_INFINITY, f64::max);
    let (total, weighted) = shown().fold((0.0, 0.0), |(total, weighted), x| {
        let w = ((x - top) / tau).exp();
        (total + w, weighted + w * x)
    });
    weighted / total
}

/// One state's inner objective, with its targets and weights fixed:
///
///   φ(f) = α d P(f) − α Σ_a u(a) f(a) + ½ Σ_a w(a) (f(a) − y(a))²
///
/// (P the push-down [`push_down`], d its weight, u the push-up's, w the
/// Bellman term's; y is read only where w > 0).
struct Row<'a> {
    alpha: f64,
    tau: f64,
    down: f64,
    up: &'a [f64],
    w: &'a [f64],
    y: &'a [f64],
}

impl RowObjective for Row<'_> {
    #[inline(always)]
    fn coupling(&self) -> f64 {
        self.alpha * self.down / self.tau
    }

    #[inline(always)]
    fn curvature(&self, a: usize) -> f64 {
        self.w[a]
    }

    #[inline(always)]
    fn gradient(&self, a: usize, x: f64, sigma: f64) -> f64 {
        let bellman = if self.w[a] > 0.0 {
            self.w[a] * (x - self.y[a])
        } else {
            0.0
        };
        self.alpha * self.down * sigma - self.alpha * self.up[a] + bellman
    }

    #[inline(always)]
    fn soft(&self, f: &[f64], sigma: &mut [f64]) -> f64 {
        push_down(f, &self.up[..f.len()], self.tau, sigma)
    }

    #[inline(always)]
    fn value(&self, f: &[f64], soft: f64) -> (f64, f64) {
        let n = f.len();
        let (up, w, y) = (&self.up[..n], &self.w[..n], &self.y[..n]);
        let mut value = self.alpha * self.down * soft;
        let mut terms = value.abs();
        for a in 0..n {
            let pull = self.alpha * up[a] * f[a];
            value -= pull;
            terms += pull.abs();
            if w[a] > 0.0 {
                let square = 0.5 * w[a] * (f[a] - y[a]) * (f[a] - y[a]);
                value += square;
                terms += square;
            }
        }
        (value, terms)
    }

    /// The spread of the row's values and its targets (max − min over f
    /// and the y of the actions with a Bellman weight) plus 30τ.
    #[inline(always)]
    fn reach(&self, f: &[f64]) -> f64 {
        let seen = self.y.iter().zip(self.w).filter(|(_, w)| **w > 0.0);
        let all = f.iter().copied().chain(seen.map(|(y, _)| *y));
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        hi - lo + 30.0 * self.tau
    }
}

impl Rule for Cql {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        self.targets(q);
        // The data's weights, out of `self` while the descent borrows it.
        let own = std::mem::take(&mut self.own);
        let change = self.descend(q, &own);
        self.own = own;
        change
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        self.policy_of(q)
    }

    fn save(&self) -> serde_json::Value {
        self.save_memory()
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<()> {
        self.load_memory(state)
    }
}

/// σ and the soft values cached beside the table describe the table the
/// last descent left, not its projection.
impl Projectable for Cql {
    fn replaced(&mut self) {
        self.desync();
    }
}
