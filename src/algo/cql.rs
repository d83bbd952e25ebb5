//! `cql`: conservative Q-learning, CQL(H) (Kumar, Zhou, Tucker & Levine
//! 2020), tabular, on the empirical MDP the dataset compiles to. Each
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
//! rows are independent once y is fixed). The state's Hessian is diag(w) +
//! (α d/τ)(diag σ − σσᵀ) (w = d π̂_β, σ = softmax(f/τ)), diagonal plus rank
//! one, so its Newton step is exact by Sherman–Morrison; it is taken when it
//! decreases the inner objective enough (Armijo, with backtracking), and
//! otherwise the majorisation step
//!
//!   f(s,a) ← f(s,a) − ∂L/∂f(s,a) / (w(s,a) + α d(s)/(2τ))
//!
//! (the Hessian is ⪯ diag(w + α d/(2τ)): a softmax Jacobian's eigenvalues
//! are ≤ ½), so the inner objective never increases. The majoriser alone
//! was measured too slow: its rate on the Bellman part is π̂_β/(π̂_β +
//! α/(2τ)), 0.05 at the defaults, and it lowers an unseen action by 2τσ a
//! step, so σ decays like 1/k; CliffWalking had not converged after 1,000
//! iterations, where Newton converges in a few hundred. At α = 0 the step
//! is f = y on the data's pairs (fqi's sweep, with τ → 0 its max) and
//! leaves unseen pairs alone. [`Cql::descend`] takes the weights (push-down
//! d, push-up and Bellman w) as data, which is how `combo` reuses it with
//! its rollout distribution.
//!
//! `alpha` and `tau` are in the data's value unit U ([`super::scale`]: the
//! spread of the values the data supports, about 0.9 on FrozenLake8x8 and
//! a hundred on Taxi), so a default means the same on every environment:
//! the push-down costs α·U a step, and π's temperature is τ·U. (The
//! rewards' range, the earlier unit, is 1 on FrozenLake, whose values stay
//! far below 1/(1 − γ).) States the data never visits keep their initial
//! values and a uniform π.
//!
//! Keys: `alpha` (0.03: on `experiments/defaults_panel.toml`, of 0.001 …
//! 0.1, 0.02 and 0.03 never fall below the behaviour by more than 2
//! points; smaller α leaves the behaviour for actions seen a handful of
//! times, larger α only copies it and loses the Total to fqi; 0.03 keeps a
//! margin, and `combo` shares it), `tau` (0.01: π near-greedy; 0.03 and
//! above spread π over actions far apart in value), `inner`
//! (1, Newton steps per target update: the outer iteration warm-starts from
//! the last f, so one step converges with the targets), `q_init` (as
//! fqi's; the values unseen pairs start from). Loss: the iteration's
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

use super::linear::{self, Cells, Projectable};
use super::scale::value_unit;
use super::tabular::{Backup, QInit, Rule, by_row_len, expected, load_table, row_len, save_table};
use super::{Algorithm, ParamReader, Params, TrainData};
use crate::error::{Error, Result};
use crate::mdp::Policy;
use ndarray::{Array2, ArrayView2};

pub const NAME: &str = "cql";

/// α's default, in the data's value unit (see the keys above).
const DEFAULT_ALPHA: f64 = 0.03;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// α, in units of the rewards' range.
    pub alpha: f64,
    /// τ, in units of the rewards' range.
    pub tau: f64,
    pub inner: u64,
    pub q_init: QInit,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let config = Self::read_from(&mut r, DEFAULT_ALPHA)?;
        Ok((config, r.finish()?))
    }

    /// Reads CQL's keys (`combo` has them too, with α defaulting to its own).
    pub fn read_from(r: &mut ParamReader, default_alpha: f64) -> Result<Self> {
        Ok(Config {
            alpha: r.number("alpha", default_alpha, 0.0, 1e12)?,
            tau: r.number("tau", 0.01, 1e-12, 1e12)?,
            inner: r.integer("inner", 1, 1, 10_000)?,
            q_init: QInit::read(r)?,
        })
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let rule = Cql::new(&config, data);
    linear::or_table(rule, &config.q_init.table(data), Cells::DataStates, data)
}

pub struct Cql {
    /// α and τ in value units (times the rewards' range).
    pub alpha: f64,
    pub tau: f64,
    inner: u64,
    n_actions: usize,
    /// The states the data visits.
    pub visited: Vec<usize>,
    /// d(s) = n(s)/N.
    pub data_share: Vec<f64>,
    /// d(s) π̂_β(a|s), row-major: the push-up weights.
    pub up: Vec<f64>,
    /// The push-down term's weight per state (d(s) for CQL).
    pub down: Vec<f64>,
    /// The Bellman term's weight per pair (d(s) π̂_β(a|s) for CQL).
    pub bellman: Vec<f64>,
    backup: Backup,
    v: Vec<f64>,
    /// y on the observed pairs (other cells unused).
    y: Vec<f64>,
    /// σ = softmax(f/τ) of the visited states, row-major (uniform on the
    /// others): π at the iteration's start, then the descent's current σ.
    pub sigma: Vec<f64>,
    /// τ log Σ_a exp(f(s,a)/τ) per state, beside σ.
    soft: Vec<f64>,
    /// What each visited state's last step read and whether it left the row.
    last: LastStep,
    scratch: Scratch,
    /// Whether `sigma` and `soft` are those of the current f: the descent
    /// leaves them so (bit for bit, one softmax of the same row), a
    /// checkpoint's load does not.
    synced: bool,
    /// Whether `last` describes the rows as they are: the descent leaves it
    /// so, a checkpoint restores it, a table replaced from outside (a
    /// projection) does not.
    remembered: bool,
}

/// Each visited state's last step: the inputs of [`State::step`] that can
/// change between iterations (y, the Bellman and push-down weights; α, τ
/// and the push-up weights are fixed by [`Cql::new`]; f, σ and the soft
/// value change only by the step, by a checkpoint's load, which restores
/// this too, or by a projection, after which nothing here is trusted), and
/// whether every step of the last descent left the row as it was (then
/// [`Cql::targets`] keeps its v too). The step is a pure function of its inputs and the row, so a state it left
/// alone, whose inputs are again the same bit for bit, would be left alone
/// again: it is skipped. So is one whose inputs are each within four ulps
/// ([`within_rounding`]) of that step's: the row's fixed point moves with
/// them by about as much, which is the rounding a step is not taken for.
/// The inputs kept are those of the last step taken, so drift cannot add
/// up past that. Without it `combo`, whose rollouts move every weight by
/// an ulp or so each iteration, stepped 285 of 384 Taxi states a time at
/// steady state only to leave 231 of them alone.
struct LastStep {
    y: Vec<f64>,
    w: Vec<f64>,
    down: Vec<f64>,
    left_alone: Vec<bool>,
}

/// Scratch rows of one state's step: a candidate f, its σ, the Newton direction.
struct Scratch {
    candidate: Vec<f64>,
    candidate_sigma: Vec<f64>,
    direction: Vec<f64>,
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
        Cql {
            alpha: config.alpha * unit,
            tau: config.tau * unit,
            inner: config.inner,
            n_actions: na,
            visited: (0..ns).filter(|&s| c.state_count[s] > 0).collect(),
            down: data_share.clone(),
            data_share,
            bellman: up.clone(),
            up,
            backup: Backup::new(c, data.gamma),
            v: vec![0.0; ns],
            y: vec![0.0; ns * na],
            sigma: vec![1.0 / na as f64; ns * na],
            soft: vec![0.0; ns],
            last: LastStep {
                y: vec![0.0; ns * na],
                w: vec![0.0; ns * na],
                down: vec![0.0; ns],
                left_alone: vec![false; ns],
            },
            scratch: Scratch {
                candidate: vec![0.0; na],
                candidate_sigma: vec![0.0; na],
                direction: vec![0.0; na],
            },
            synced: false,
            remembered: false,
        }
    }

    /// π = softmax(f/τ) on the visited states, and the targets y(s,a) =
    /// r̂ + γ Σ p̂(s'|s,a) E_π f(s',·) on the observed pairs.
    pub fn targets(&mut self, q: &Array2<f64>) {
        let na = self.n_actions;
        let f = q.as_slice().expect("Q is contiguous");
        if !self.synced {
            for &s in &self.visited {
                let cells = s * na..(s + 1) * na;
                self.soft[s] = softmax(&f[cells.clone()], self.tau, &mut self.sigma[cells]);
            }
        }
        for s in self.backup.read_states() {
            // v(s) is that of the row the last targets read where the last
            // descent left the row alone, or never steps it (unvisited).
            let unvisited = self.data_share[s] == 0.0;
            if self.synced && (unvisited || self.last.left_alone[s]) {
                continue;
            }
            let row = &f[s * na..(s + 1) * na];
            self.v[s] = expected(&self.sigma[s * na..(s + 1) * na], row);
        }
        self.backup.apply(&self.v, &mut self.y);
    }

    /// `inner` descent steps on every visited state's row of `q` towards
    /// the targets, with the current weights; returns the largest |Δf|.
    /// Reads σ where [`Cql::targets`] left it.
    pub fn descend(&mut self, q: &mut Array2<f64>) -> f64 {
        by_row_len!(self.n_actions, self.descend_rows(q))
    }

    /// [`Cql::descend`] for rows of [`row_len`]`::<N>` actions.
    fn descend_rows<const N: usize>(&mut self, q: &mut Array2<f64>) -> f64 {
        let na = row_len::<N>(self.n_actions);
        let f = q.as_slice_mut().expect("Q is contiguous");
        let mut largest: f64 = 0.0;
        // The rows are those the last steps left unless a projection
        // replaced them (a checkpoint restores what those steps read).
        let mut trusted = self.remembered;
        for inner in 0..self.inner {
            for &s in &self.visited {
                let cells = s * na..(s + 1) * na;
                let last = &mut self.last;
                let (y, w) = (&self.y[cells.clone()], &self.bellman[cells.clone()]);
                if trusted
                    && last.left_alone[s]
                    && within_rounding(&last.y[cells.clone()], y)
                    && within_rounding(&last.w[cells.clone()], w)
                    && within_rounding(&last.down[s..=s], &self.down[s..=s])
                {
                    continue;
                }
                last.y[cells.clone()].copy_from_slice(y);
                last.w[cells.clone()].copy_from_slice(w);
                last.down[s] = self.down[s];
                let state = State {
                    alpha: self.alpha,
                    tau: self.tau,
                    down: self.down[s],
                    up: &self.up[cells.clone()],
                    w: &self.bellman[cells.clone()],
                    y: &self.y[cells.clone()],
                };
                let change = state.step::<N>(
                    &mut f[cells.clone()],
                    &mut self.sigma[cells],
                    &mut self.soft[s],
                    &mut self.scratch,
                );
                // Left alone by every step of this descent (a state skipped
                // above was).
                last.left_alone[s] = (inner == 0 || last.left_alone[s]) && change.is_none();
                largest = largest.max(change.unwrap_or(0.0));
            }
            trusted = true;
        }
        self.synced = true;
        self.remembered = true;
        largest
    }

    /// softmax(f/τ) on the visited states, uniform on the others.
    pub fn policy_of(&self, q: ArrayView2<f64>) -> Policy {
        let na = self.n_actions;
        let mut pi = Array2::from_elem(q.dim(), 1.0 / na as f64);
        for &s in &self.visited {
            let mut row = pi.row_mut(s);
            let f = q.row(s);
            softmax(
                f.as_slice().expect("row"),
                self.tau,
                row.as_slice_mut().expect("row"),
            );
        }
        pi
    }
}

/// One state's inner objective, with its targets and weights fixed:
///
///   φ(f) = α d τ log Σ_a exp(f(a)/τ) − α Σ_a u(a) f(a) + ½ Σ_a w(a) (f(a) − y(a))²
///
/// (d the push-down weight, u the push-up's, w the Bellman term's; y is
/// read only where w > 0).
struct State<'a> {
    alpha: f64,
    tau: f64,
    down: f64,
    up: &'a [f64],
    w: &'a [f64],
    y: &'a [f64],
}

impl State<'_> {
    /// φ at `f` (a row: the weights are cut to its length), given τ log Σ exp(f/τ).
    #[inline(always)]
    fn objective(&self, f: &[f64], soft: f64) -> f64 {
        let n = f.len();
        let (up, w, y) = (&self.up[..n], &self.w[..n], &self.y[..n]);
        let mut value = self.alpha * self.down * soft;
        for a in 0..n {
            value -= self.alpha * up[a] * f[a];
            if w[a] > 0.0 {
                value += 0.5 * w[a] * (f[a] - y[a]) * (f[a] - y[a]);
            }
        }
        value
    }

    /// One safeguarded Newton step on `f` (whose σ and soft value are
    /// `sigma`, `soft`, both updated); returns the largest |Δf| over the
    /// data's actions, or `None` where the step was within rounding of the
    /// row ([`within_rounding`]) and left it as it was, bit for bit.
    ///
    /// φ's Hessian is D − c σσᵀ with D = diag(w + cσ), c = α d/τ, so the
    /// Newton step H⁻¹g is D⁻¹g + c D⁻¹σ (σᵀD⁻¹g) / (1 − c σᵀD⁻¹σ)
    /// (Sherman–Morrison; the denominator is Σ_a σ(a) w(a)/(w(a) + cσ(a)) > 0
    /// wherever the data shows an action). It is exact on the Bellman term
    /// and moves an unseen action down by about τ a step once its σ is
    /// small, so that σ shrinks geometrically. The step is taken only if it
    /// decreases φ by a tenth of what its slope promises (Armijo); else
    /// from a length of the row's spread, halving; else the majoriser's,
    /// g / (w + c/2) coordinate-wise (H ⪯ diag(w + c/2): a softmax
    /// Jacobian's eigenvalues are ≤ ½), which never increases φ. So φ
    /// never increases.
    ///
    /// Compiled for rows of [`row_len`]`::<N>` actions.
    #[inline(always)]
    fn step<const N: usize>(
        &self,
        f: &mut [f64],
        sigma: &mut [f64],
        soft: &mut f64,
        scratch: &mut Scratch,
    ) -> Option<f64> {
        let Scratch {
            candidate,
            candidate_sigma,
            direction,
        } = scratch;
        // One length for every row (a constant for N > 0), so the loops
        // below index without checks.
        let n = row_len::<N>(f.len());
        let f = &mut f[..n];
        let (sigma, candidate, candidate_sigma, direction) = (
            &mut sigma[..n],
            &mut candidate[..n],
            &mut candidate_sigma[..n],
            &mut direction[..n],
        );
        let (w, y, up) = (&self.w[..n], &self.y[..n], &self.up[..n]);
        let push = self.alpha * self.down;
        let c = push / self.tau;
        let gradient = |a: usize, x: f64| {
            let bellman = if w[a] > 0.0 { w[a] * (x - y[a]) } else { 0.0 };
            push * sigma[a] - self.alpha * up[a] + bellman
        };
        // σᵀD⁻¹g and the denominator 1 − c σᵀD⁻¹σ = Σ_a σ(a) w(a)/D(a),
        // summed in that form (the difference cancels when σ sits on unseen
        // actions). Where 1/D(a) is not finite the coordinate has neither
        // gradient nor curvature to speak of and stays: D(a) = 0 (no data,
        // no push-down), or an unseen action whose cσ is so small (σ near
        // 1e-304, before the softmax flushes it) that 1/D overflows; ∞ · 0
        // there made the direction NaN, and the row fell back to the
        // majoriser, whose steps barely move it, at every iteration.
        // One pass for g (into `candidate`), 1/D (into `candidate_sigma`,
        // 0 where it is not finite), both scratch until the trial steps,
        // φ(f) (summed in `objective`'s order) and the size of φ's terms.
        let (mut sdg, mut denominator) = (0.0, 0.0);
        let mut before = push * *soft;
        let mut terms = before.abs();
        for a in 0..n {
            let x = f[a];
            let d = w[a] + c * sigma[a];
            let g = gradient(a, x);
            let inverse = 1.0 / d;
            let inverse = if inverse.is_finite() { inverse } else { 0.0 };
            sdg += sigma[a] * g * inverse;
            denominator += sigma[a] * w[a] * inverse;
            candidate[a] = g;
            candidate_sigma[a] = inverse;
            let pull = self.alpha * up[a] * x;
            before -= pull;
            terms += pull.abs();
            if w[a] > 0.0 {
                let square = 0.5 * w[a] * (x - y[a]) * (x - y[a]);
                before += square;
                terms += square;
            }
        }
        if denominator > 0.0 {
            // The Newton direction, and gᵀ direction for the sufficient decrease.
            let shift = c * sdg / denominator;
            let mut slope = 0.0;
            for (a, slot) in direction.iter_mut().enumerate() {
                let g = candidate[a];
                *slot = (g + shift * sigma[a]) * candidate_sigma[a];
                slope += g * *slot;
            }
            let mut t = 1.0;
            for attempt in 0..BACKTRACKS {
                for ((slot, &x), &step) in candidate.iter_mut().zip(f.iter()).zip(&*direction) {
                    *slot = x - t * step;
                }
                // A step within rounding of the row on every action (near
                // the fixed point, or a line search shrunk to nothing) is
                // not taken: the row stays as it is, bit for bit, and its
                // exps and φ are not computed.
                if within_rounding(f, candidate) {
                    return None;
                }
                let candidate_soft = softmax(candidate, self.tau, candidate_sigma);
                let after = self.objective(candidate, candidate_soft);
                // Near the optimum the promised decrease drowns in φ's
                // rounding: a step that changes φ by no more than that is
                // accepted, not backtracked forty times. The rounding is
                // that of φ's terms, not of their sum: where they cancel
                // (a terminal pair whose push-down and push-up are equal, φ
                // exactly 0) a floor of φ's own size was 0 and every step
                // went to the majoriser after forty tries.
                let noise = 1e-12 * terms;
                let enough = after <= before - ARMIJO * t * slope;
                if enough || (t * slope <= noise && after <= before + noise) {
                    let change = largest_seen_change(f, candidate, w);
                    f.copy_from_slice(candidate);
                    sigma.copy_from_slice(candidate_sigma);
                    *soft = candidate_soft;
                    return Some(change);
                }
                t = if attempt == 0 {
                    // Where σ sits on unseen actions φ is nearly flat along
                    // them and the full step is enormous: go on from a step
                    // no longer than the row's spread (f and y) plus 30τ.
                    let spread = row_spread(f, y, w) + 30.0 * self.tau;
                    let longest = direction.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                    (spread / longest).min(0.5)
                } else {
                    t / 2.0
                };
            }
        }
        for (a, slot) in candidate.iter_mut().enumerate() {
            let d = w[a] + c / 2.0;
            *slot = if d > 0.0 {
                f[a] - gradient(a, f[a]) / d
            } else {
                f[a]
            };
        }
        let change = largest_seen_change(f, candidate, w);
        f.copy_from_slice(candidate);
        *soft = softmax(f, self.tau, sigma);
        Some(change)
    }
}

/// Whether `b` equals `a` bit for bit or lies within four units in the
/// last place of it on every action. A Newton step that short is the
/// gradient's rounding at the fixed point, not progress: taken, it kept
/// rows dithering by an ulp at every iteration, and with them the targets
/// of every row that reads them, so rows were never left alone and skipped
/// (at 40,000 iterations on Taxi medium 207 of 384 states still stepped; 35
/// do without such steps, and by 10,000 iterations Q no longer changes).
fn within_rounding(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .all(|(&x, &y)| x.to_bits() == y.to_bits() || (x - y).abs() <= ROUNDING * x.abs())
}

/// Four units in the last place, relative: 2⁻⁵⁰.
const ROUNDING: f64 = 1.0 / (1u64 << 50) as f64;

/// The spread of a row's values and its targets: max − min over f and
/// the y of the actions with a Bellman weight.
fn row_spread(f: &[f64], y: &[f64], w: &[f64]) -> f64 {
    let seen = y.iter().zip(w).filter(|(_, w)| **w > 0.0).map(|(y, _)| *y);
    let all = f.iter().copied().chain(seen);
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    hi - lo
}

/// Newton steps tried (the full one, then from the row's spread, halving
/// each time) before the majoriser's.
const BACKTRACKS: usize = 40;
/// The sufficient decrease a Newton step must make: φ falls by at least
/// this share of what its slope promises (Armijo's rule).
const ARMIJO: f64 = 0.1;

/// The largest |Δf| over the actions with a Bellman weight (the data's):
/// unseen actions sink without end (by about τ a step), so they would
/// keep the loss at τ.
fn largest_seen_change(a: &[f64], b: &[f64], w: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .zip(w)
        .filter(|(_, w)| **w > 0.0)
        .map(|((x, y), _)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// σ = softmax(f/τ) into `out`; returns τ log Σ_a exp(f(a)/τ).
#[inline(always)]
fn softmax(f: &[f64], tau: f64, out: &mut [f64]) -> f64 {
    let top = f.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let mut total = 0.0;
    for (o, &x) in out.iter_mut().zip(f) {
        let z = (x - top) / tau;
        // exp underflows below −745; flushing early skips libm's slow path.
        *o = if z < -700.0 { 0.0 } else { z.exp() };
        total += *o;
    }
    let scale = 1.0 / total;
    for o in out.iter_mut() {
        *o *= scale;
    }
    top + tau * total.ln()
}

impl Rule for Cql {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        self.targets(q);
        self.descend(q)
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

impl Cql {
    /// Marks σ and what the last steps read as stale (the table was
    /// replaced from outside).
    pub fn desync(&mut self) {
        self.synced = false;
        self.remembered = false;
    }

    /// What the last steps read, for a checkpoint: a resumed run skips the
    /// rows the uninterrupted one would (inputs within rounding of those
    /// read, not equal, so stepping them anew could differ).
    pub fn save_memory(&self) -> serde_json::Value {
        if !self.remembered {
            return serde_json::Value::Null;
        }
        let table = |v: &[f64], width: usize| {
            save_table(&Array2::from_shape_vec((v.len() / width, width), v.to_vec()).expect("rows"))
        };
        serde_json::json!({
            "y": table(&self.last.y, self.n_actions),
            "w": table(&self.last.w, self.n_actions),
            "down": table(&self.last.down, 1),
            "left_alone": self.last.left_alone,
        })
    }

    /// Restores what [`Cql::save_memory`] wrote; σ is recomputed from the
    /// restored table. Checkpoints without it (saved before the first
    /// descent) restore nothing, and every row is stepped.
    pub fn load_memory(&mut self, state: &serde_json::Value) -> Result<()> {
        self.desync();
        if state.is_null() {
            return Ok(());
        }
        let (ns, na) = (self.last.down.len(), self.n_actions);
        let floats = |key: &str, width: usize| -> Result<Vec<f64>> {
            Ok(load_table(&state[key], (ns, width))?
                .into_raw_vec_and_offset()
                .0)
        };
        let left_alone: Vec<bool> = serde_json::from_value(state["left_alone"].clone())
            .ok()
            .filter(|v: &Vec<bool>| v.len() == ns)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "checkpoint: cql's memory: left_alone is not {ns} booleans"
                ))
            })?;
        self.last = LastStep {
            y: floats("y", na)?,
            w: floats("w", na)?,
            down: floats("down", 1)?,
            left_alone,
        };
        self.remembered = true;
        Ok(())
    }
}

/// σ and the soft values cached beside the table describe the table the
/// last descent left, not its projection.
impl Projectable for Cql {
    fn replaced(&mut self) {
        self.desync();
    }
}
