//! `atac`: adversarially trained actor-critic (Cheng, Xie, Jiang & Agarwal,
//! "Adversarially Trained Actor Critic for Offline Reinforcement
//! Learning", ICML 2022, arXiv:2202.02446), relative pessimism, tabular
//! form. The critic is the adversary, the actor a no-regret learner:
//!
//!   f_k = argmin_{f ∈ F} E_D[f(s, π_k) − f(s, a)] + β E_D[(f(s,a) − y(s,a))²],
//!   y(s,a) = r + γ Σ_a' π_k(a'|s') f(s',a')    (held fixed within an iteration),
//!   π_{k+1}(·|s) ∝ π_k(·|s) exp(η_k f_k(s,·) / Δ_k(s)),   η_k = η / √(k+1)   (Hedge; π_0 uniform),
//!
//! where Δ_k(s) is the spread of f_k(s,·) over the actions the data shows in
//! s (so a step means the same at any reward scale; the no-regret
//! guarantee wants losses in a known range; shares Hedge drives below the
//! smallest normal double, 2.2e-308, are set to 0), and F the tables
//! bounded by the returns the rewards allow,
//! [min(0, r_min), max(0, r_max)] / (1 − γ). Per dataset state the critic's
//! objective is n(s)/N · (π_k − π̂_β)·f + β Σ_a n(s,a)/N (f(s,a) − y(s,a))²,
//! so its minimiser is exact and closed-form:
//!
//!   f(s,a) = clip(y(s,a) − (π_k(a|s) − π̂_β(a|s)) / (2β π̂_β(a|s)))   on the data's actions,
//!   f(s,a) = the lower bound                                           on the others, where π_k acts.
//!
//! The critic makes the actor's actions look worse than the data's by as
//! much as the Bellman term allows: β = 0 leaves only the relative term, so
//! f is the bound's top where π_k under-plays the data and its bottom where
//! it over-plays it, and π is pushed to π̂_β (imitation); large β makes f
//! Bellman-consistent and π improves within the data's support. States the
//! data never visits keep f = 0 and a uniform π.
//!
//! The reported policy is the last iterate π_K. The paper's guarantees are
//! for the uniform mixture of π_1..π_K, whose return is the mean of theirs;
//! with the decaying step the iterates settle, so the last one carries the
//! mixture's guarantee. With a constant step it does not: at β = 0 the
//! bang-bang critic flips sign whenever a share crosses π̂_β's, and a
//! constant step kept every share oscillating up to 0.23 away from it (2–6%
//! of the span J* − J(uniform) below bc on medium data). With η_k the last
//! step bounds the distance: every share lies within η_K/4 of π̂_β after K
//! iterations (a step of η_K on the log-odds moves a share by at most
//! η_K/4). The state-wise average of the iterates was measured too: it
//! lags the last iterate at every β > 0 and keeps the early iterates' mass
//! on the actions the data never shows.
//!
//! β is stated in the data's value unit ([`value_unit`], the spread of the
//! data-restricted optimal Q̂*): the critic uses β / unit, so scaling the
//! rewards leaves every policy unchanged. Robust policy improvement, the
//! paper's guarantee for the mixture π̄ as the lecture states it:
//!
//!   J(μ) − J(π̄) ≤ O(1/((1−γ)√N) + β/((1−γ)N))
//!
//! for the behaviour μ and N transitions, so ATAC improves on the
//! behaviour for any β = o(N), up to statistical error. The range this
//! implementation states is β ≤ √N (value units), where the β/N term is no
//! larger than the 1/√N term: β ≤ 100 at N = 10⁴, ≤ 316 at 10⁵. Measured
//! (docs/algorithms.md, `experiments/atac_beta.toml`, tests/it/pessimism.rs): inside it
//! no run fell below the behaviour by more than ε(N, β) = 20 (1/√N + β/N)
//! of the span J* − J(uniform), and the mean of three seeds only where
//! imitation itself does (Taxi at 10k, β ≤ 1); beyond it ATAC does, by up to
//! half the behaviour's score (FrozenLake8x8 at 10k, β = 1000: 23.8
//! against 32.5 on medium data, 38.5 against 75.3 on expert data).
//! The range assumes F holds Q^π: on CartPole's default tiles (4 a
//! dimension) a sample state is a cell whose actions' values read where
//! the controller chose them, and β = 100 commits to each cell's greedy
//! action, below bc at 10k and further at 100k (docs/scores.md).
//!
//! Keys ([`KEYS`]): `beta` (its default: the best total of the
//! calibration panel, inside the range from N = 10⁴ transitions on; below
//! that, β ≤ √N is the safe choice), `eta` (the actor's first step per
//! spread of f). Loss: the
//! largest |Δf| of the iteration.
//!
//! With features (Q = θᵀφ, [`super::linear::Projected`]): the adversary's
//! clipped minimiser above on every action of the data's states, projected
//! by least squares with each action weighted by its state's share n(s)/N;
//! the actor's Hedge step reads the critic before the projection, as in the
//! table. Every fitted value lies in the return range, so θ stays within
//! the projection's norm times that range, whatever it started from: it
//! stays bounded on TwoState-v0 and Baird-v0, where fqi runs away.
//!
//! Off the data's states (continuous observations, [`super::act`]) there
//! is no actor table. The actor is an exponential-weights (mirror-descent)
//! learner, π_K ∝ π_0 Π_k exp(η_k f_k / Δ_k), which on the data's states
//! ends near π̂_β wherever the critic cannot tell its actions apart; the
//! consistent extension to an observation o is that step anchored at
//! π̂_β(·|o) with the final critic:
//!
//!   π(·|o) ∝ π̂_β(·|o) exp(η f(o,·) / U),   f(o,·) = φ(o,·)ᵀθ,
//!
//! η the actor's first step and U the data's value unit (Δ(o) needs the
//! data's actions at o, which no observation off the data has; U is the
//! spread they have on the data's states taken together). Greedy on f, the
//! rule this replaces, played the least-squares fit of a critic that
//! mostly separates the data's action from the others, extrapolated,
//! and fell below bc on narrow data (docs/scores.md).

use super::act::Act;
use super::linear::{self, Cells, Projectable};
use super::scale::value_unit;
use super::tabular::{
    Backup, Rule, by_row_len, expected, load_table, row_len, save_table, tilt_exponents,
    tilt_normalise, tilt_weigh,
};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::mdp::Policy;
use ndarray::{Array2, ArrayView2};

pub const NAME: &str = "atac";

const BETA: Key = Key::number("beta", 100.0, 0.0, 1e12)
    .unit("1/U")
    .meaning("the Bellman term's weight against relative pessimism: 0 imitates; robust improvement is stated for β ≤ √N");
const ETA: Key = Key::number("eta", 1.0, 1e-9, 1e12)
    .meaning("the actor's first Hedge step per spread of f, η_k = η / √(k+1)");

/// atac's keys.
pub const KEYS: &[Key] = &[BETA, ETA];

pub struct Config {
    pub beta: f64,
    pub eta: f64,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let beta = r.number_of(&BETA)?;
        let eta = r.number_of(&ETA)?;
        Ok((Config { beta, eta }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let c = &data.compiled;
    let (ns, na) = (c.n_states, c.n_actions);
    let unit = value_unit(data);
    let rule = Atac {
        beta: config.beta / unit,
        eta: config.eta,
        off_data: Act::Tilted {
            temperature: unit / config.eta,
            beta: 0.0,
            range: data.return_bounds(),
        },
        bounds: data.return_bounds(),
        behavior: c.behavior_estimate(),
        visited: (0..ns).filter(|&s| c.state_count[s] > 0).collect(),
        backup: Backup::new(c, data.gamma),
        v: vec![0.0; ns],
        pi: Array2::from_elem((ns, na), 1.0 / na as f64),
        y: vec![0.0; ns * na],
        old: vec![0.0; ns * na],
        moving: Vec::with_capacity(ns),
    };
    linear::or_table(rule, &Array2::zeros((ns, na)), Cells::DataStates, data)
}

pub struct Atac {
    /// β in the rewards' units: the key's β over the data's value unit.
    beta: f64,
    /// The first Hedge step η (the k-th is η/√k).
    eta: f64,
    /// The rule off the data's states: the step η anchored at π̂_β, per
    /// value unit (module doc).
    off_data: Act,
    /// F's range: the lowest and highest returns the rewards allow.
    bounds: (f64, f64),
    behavior: Policy,
    visited: Vec<usize>,
    backup: Backup,
    v: Vec<f64>,
    /// The actor, π_k.
    pi: Array2<f64>,
    /// The targets y on the observed pairs (other cells unused).
    y: Vec<f64>,
    /// Scratch for the actor step: π_k, row-major, and the states Hedge moves.
    old: Vec<f64>,
    moving: Vec<usize>,
}

impl Rule for Atac {
    fn step(&mut self, q: &mut Array2<f64>, iteration: u64) -> f64 {
        // Hedge's anytime no-regret step, η_k = η/√k for the k-th step
        // (k = iteration + 1): a function of the counter the checkpoint
        // already carries, so a resumed run takes the same steps.
        let eta = self.eta / (iteration as f64 + 1.0).sqrt();
        by_row_len!(q.ncols(), self.iterate(q, eta))
    }

    fn policy(&self, _q: ArrayView2<f64>) -> Policy {
        self.pi.clone()
    }

    fn act(&self, _q: ArrayView2<f64>) -> Act {
        self.off_data
    }

    fn save(&self) -> serde_json::Value {
        save_table(&self.pi)
    }

    fn load(&mut self, state: &serde_json::Value) -> Result<()> {
        self.pi = load_table(state, self.pi.dim())?;
        Ok(())
    }
}

impl Projectable for Atac {}

impl Atac {
    /// One iteration (critic, then actor, whose Hedge step is `eta`) for
    /// rows of [`row_len`]`::<N>` actions.
    fn iterate<const N: usize>(&mut self, q: &mut Array2<f64>, eta: f64) -> f64 {
        let na = row_len::<N>(q.ncols());
        let cells = q.as_slice_mut().expect("Q is contiguous");
        let pi = self.pi.as_slice_mut().expect("π is contiguous");
        let behavior = self.behavior.as_slice().expect("π̂_β is contiguous");
        // ALGO LOGIC: v(s') = E_{π_k} f(s',·), y = r + γ P̂ v.
        for s in self.backup.read_states() {
            let row = s * na..(s + 1) * na;
            self.v[s] = expected(&pi[row.clone()][..na], &cells[row][..na]);
        }
        let mut largest: f64 = 0.0;
        // y on the observed pairs, then the adversary's minimiser in place.
        self.backup.apply(&self.v, &mut self.y);
        let (lo, hi) = self.bounds;
        for &s in &self.visited {
            // The row's own maximum change (max is exact in any order): one
            // chain of comparisons across every state would serialise it.
            let mut row_largest: f64 = 0.0;
            let row = s * na..(s + 1) * na;
            let f = &mut cells[row.clone()][..na];
            let y = &self.y[row.clone()][..na];
            let b = &behavior[row.clone()][..na];
            let pi = &mut pi[row][..na];
            // ALGO LOGIC: the critic, the adversary's clipped minimiser.
            for a in 0..na {
                let (p, b, before) = (pi[a], b[a], f[a]);
                let shift = p - b;
                // SPEED: computed for every action and then chosen, so that
                // the division does not wait on the branches below.
                let minimiser = (y[a] - shift / (2.0 * self.beta * b)).clamp(lo, hi);
                f[a] = if b == 0.0 {
                    if p > 0.0 { lo } else { before }
                } else if self.beta == 0.0 {
                    if shift > 0.0 {
                        lo
                    } else if shift < 0.0 {
                        hi
                    } else {
                        y[a]
                    }
                } else {
                    minimiser
                };
                row_largest = row_largest.max((f[a] - before).abs());
            }
            largest = largest.max(row_largest);
        }
        // ALGO LOGIC: the actor, Hedge's step π ∝ π_k exp(η_k f / Δ), on f.
        // SPEED: in passes of its own: each state's critic is a chain of
        // divisions its Hedge step waits for, and one pass of critics keeps
        // many states' divisions in flight at once.
        let old = &mut self.old;
        self.moving.clear();
        for &s in &self.visited {
            let row = s * na..(s + 1) * na;
            let f = &cells[row.clone()][..na];
            let b = &behavior[row.clone()][..na];
            let pi = &mut pi[row.clone()][..na];
            // SPEED: Hedge keeps a one-hot π_k where its action's value is finite
            // (that action's weight is exp(0) = 1 of a total of 1, the
            // others have none), bit for bit: no exps for it.
            let (mut support, mut mass, mut at) = (0, 0.0, 0);
            for (a, &p) in pi.iter().enumerate() {
                if p != 0.0 {
                    (support, mass, at) = (support + 1, p, a);
                }
            }
            if support == 1 && mass == 1.0 && f[at].is_finite() {
                continue;
            }
            // Hedge on the state's values scaled to the spread over the
            // data's actions, so that a step means the same at any reward
            // scale (and the bang-bang critic of β = 0 cannot overshoot).
            let (mut top, mut bottom) = (f64::NEG_INFINITY, f64::INFINITY);
            for a in 0..na {
                if b[a] > 0.0 {
                    top = top.max(f[a]);
                    bottom = bottom.min(f[a]);
                }
            }
            let old = &mut old[row][..na];
            old.copy_from_slice(pi);
            let temperature = (top - bottom).max(f64::MIN_POSITIVE) / eta;
            tilt_exponents(old, f, temperature, pi);
            self.moving.push(s);
        }
        // SPEED: [`tilt`]'s other two steps, each over every state Hedge moves: the
        // exps, the iteration's slowest part, then come one after the other,
        // none waiting on its state's critic and exponents.
        for &s in &self.moving {
            let row = s * na..(s + 1) * na;
            tilt_weigh(&old[row.clone()][..na], &mut pi[row][..na]);
        }
        for &s in &self.moving {
            let pi = &mut pi[s * na..(s + 1) * na][..na];
            tilt_normalise(pi);
            // ALGO LOGIC (numerics, and speed): weights Hedge has driven
            // below the smallest normal number are dropped: no policy acts
            // on a 1e-308 share, and subnormal arithmetic takes the
            // processor's slow path (200 such entries of Taxi medium's π,
            // stuck at 5e-324, a rounding fixed point, cost a third of
            // every iteration). An action dropped cannot come back, where
            // at 5e-324 it needed ~700 iterations as the best to regain
            // any mass.
            for p in pi.iter_mut() {
                if *p < f64::MIN_POSITIVE {
                    *p = 0.0;
                }
            }
        }
        largest
    }
}
