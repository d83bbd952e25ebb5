//! `fisher-brc`: Fisher-divergence behaviour-regularised critic (Kostrikov,
//! Tompson, Fergus & Nachum 2021, arXiv:2103.08050), discrete tabular
//! analog.
//!
//! The paper parameterises the critic as the behaviour's log-density plus
//! an offset, f(s,a) = log μ(a|s) + O(s,a), and penalises the offset's
//! action-gradient ‖∇_a O(s,a)‖² at a ~ π: O may shift a state's values
//! as a whole but not tilt them away from log μ across actions unless the
//! data pays for it (a Fisher-divergence constraint towards μ). With
//! discrete actions there is no action-gradient; the analog kept here
//! penalises the offset's spread across the actions π takes, which, like the
//! gradient, ignores a per-state constant (so the reward's scale and sign
//! do not bias f):
//!
//!   f(s,a) = α log μ(a|s) + O(s,a),      π(·|s) = softmax(f(s,·) / α) ∝ μ exp(O / α),
//!   O ← argmin_O ½ E_D[(f(s,a) − y)²] + λ E_{s~D, a~π}[(O(s,a) − Ō(s))²],
//!   y = r + γ Σ_a' π(a'|s') f(s',a'),    Ō(s) = Σ_a π(a|s) O(s,a).
//!
//! α is the actor's temperature (π ∝ μ exp(O/α) is the KL-regularised
//! policy at temperature α; the target carries no entropy bonus, whose
//! "stay alive" reward would swamp FrozenLake's goal). One sweep an
//! iteration holds π and Ō at their previous values, which makes the
//! minimisation exact per pair:
//! O(s,a) = (n(s,a)(y − α log μ) + 2λ n(s) π(a|s) Ō(s)) / (n(s,a) + 2λ n(s) π(a|s)),
//! and f moves half way there ([`CRITIC_STEP`]), as a target network trails
//! its critic; the fixed points are the same.
//! λ = 0 fits f to the target (soft policy iteration within the data);
//! λ → ∞ keeps f = α log μ + const, so π → μ (behaviour cloning).
//! μ is π̂_β floored at 10⁻³ (the paper's behaviour model is a density,
//! never zero). Ō is taken at the state's joint minimiser (see
//! [`mean_offset`]): a convex combination of the data's actions' target
//! offsets, which an action the data never shows in a visited state
//! receives as its own offset, so its f sits at least α log(μ(a')/10⁻³)
//! below some seen action a' there. (Holding Ō from the previous sweep, as
//! an earlier version did, let unseen actions outrank every seen one as
//! soon as the values fell: on Taxi and CliffWalking π went off the data.)
//! The actor is the tilt on the data's actions only, π ∝ 1[n(s,a) > 0]
//! exp(f/α), so it never puts mass where log μ = −∞; states the data never
//! visits keep f = α log(1/|A|) and a uniform π.
//!
//! Keys ([`KEYS`]): `alpha` (in the data's value unit, [`super::scale`]),
//! `lambda` (the penalty's weight; the paper's 0.1 let π leave the
//! behaviour on thinly covered states of the 10k datasets of
//! `experiments/defaults_panel.toml`, 5 groups below it, where the
//! default leaves none). Loss: the largest |Δf| of the sweep.
//!
//! With features (Q = θᵀφ, [`super::linear::Projected`]): the offsets'
//! minimiser above on every action of the data's states, projected by
//! least squares with each action weighted by its state's share n(s)/N,
//! from the weights that fit α log μ. The penalty damps each step but does
//! not bound it: on TwoState-v0 it runs away, somewhat slower than fqi.
//! On features that generalise the fit is held
//! ([`linear::Hold::evaluation`]): there the unseen actions' targets, α log
//! 10⁻³ below the seen ones at a sample state seen once, pull the seen
//! actions' weights of the shared tiles down, which the backup compounds
//! over the horizon (−173 on Acrobot ε = 0.3 10k, below f_min = −100).

use super::linear::{self, Cells, Projectable};
use super::scale::value_unit;
use super::tabular::{Backup, Rule, by_row_len, expected, row_len, same_bits, tilt};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::mdp::Policy;
use ndarray::{Array2, ArrayView2};

pub const NAME: &str = "fisher-brc";

const ALPHA: Key = Key::number("alpha", 0.01, 1e-9, 1e12)
    .unit("U")
    .meaning("the actor's temperature, f = α log μ + O");
const LAMBDA: Key = Key::number("lambda", 1.0, 0.0, 1e12)
    .meaning("the weight of the offset's spread across π's actions: 0 fits the target, ∞ imitates");

/// fisher-brc's keys.
pub const KEYS: &[Key] = &[ALPHA, LAMBDA];

/// μ's floor: the smallest behaviour probability the critic's log sees.
const MIN_BEHAVIOR_PROB: f64 = 1e-3;

/// How far f moves towards the sweep's minimiser: half way, as a target
/// network trails its critic. The full step (1) cycles with period two on
/// every environment of `experiments/defaults_panel.toml` (π is a softmax
/// of the last f, and E_π f is no non-expansion at a small α): Taxi medium
/// 10k scored 45.5 and 51.6 on alternate iterations, for ever. Half steps
/// settle: over the panel's Taxi runs, consecutive iterations' scores
/// differ by at most 0.15.
const CRITIC_STEP: f64 = 0.5;

pub struct Config {
    pub alpha: f64,
    pub lambda: f64,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let alpha = r.number_of(&ALPHA)?;
        let lambda = r.number_of(&LAMBDA)?;
        Ok((Config { alpha, lambda }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let c = &data.compiled;
    let alpha = config.alpha * value_unit(data);
    let behavior = c.behavior_estimate();
    let prior = behavior.mapv(|p| alpha * p.max(MIN_BEHAVIOR_PROB).ln());
    let backup = Backup::new(c, data.gamma);
    let mut states: Vec<usize> = (0..c.n_states).filter(|&s| c.state_count[s] > 0).collect();
    let visited = states.clone();
    states.extend(backup.read_states());
    states.sort_unstable();
    states.dedup();
    let rule = FisherBrc {
        alpha,
        lambda: config.lambda,
        counts: Array2::from_shape_fn(prior.dim(), |(s, a)| f64::from(c.count(s, a))),
        prior: prior.clone(),
        visited,
        states,
        backup,
        v: vec![0.0; c.n_states],
        pi: Array2::zeros(prior.dim()),
        before: vec![0.0; (c.n_states + 1) * c.n_actions],
        support: behavior.mapv(|p| if p > 0.0 { 1.0 } else { 0.0 }),
        keep: vec![0.0; c.n_actions],
    };
    linear::or_table(rule, &prior, Cells::DataStates, data)
}

pub struct FisherBrc {
    alpha: f64,
    lambda: f64,
    /// n(s, a).
    counts: Array2<f64>,
    /// α log μ(a|s).
    prior: Array2<f64>,
    /// The states the data visits: where the penalty and the fit act.
    visited: Vec<usize>,
    /// The states whose π a sweep needs: visited ones and successors.
    states: Vec<usize>,
    backup: Backup,
    v: Vec<f64>,
    /// π(·|s) under the critic before the sweep.
    pi: Array2<f64>,
    /// f before the sweep (with the terminal row).
    before: Vec<f64>,
    /// 1 on the data's actions of a visited state (every action of an
    /// unvisited one), 0 elsewhere: the support π is tilted on.
    support: Array2<f64>,
    /// k(a) of the state being fitted (scratch, see [`data_shares`]).
    keep: Vec<f64>,
}

impl Rule for FisherBrc {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        by_row_len!(q.ncols(), self.sweep(q))
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        let mut pi = Array2::zeros(q.dim());
        for ((f, support), mut out) in q
            .outer_iter()
            .zip(self.support.outer_iter())
            .zip(pi.outer_iter_mut())
        {
            tilt(
                support.to_slice().expect("row"),
                f.to_slice().expect("row"),
                self.alpha,
                out.as_slice_mut().expect("row"),
            );
        }
        pi
    }
}

impl Projectable for FisherBrc {
    const EVALUATES: bool = true;
}

/// Ō(s) at the state's joint minimiser, from the targets' offsets t(a) =
/// y(a) − α log μ(a) (in `f` − `prior` on the data's actions). Setting the
/// gradient in each O(a) to zero gives O(a) = k(a) t(a) + (1 − k(a)) Ō on
/// the data's actions, with k(a) = n(a) / (n(a) + w π(a)) and w = 2λ n(s)
/// (`keep`, from [`data_shares`]), and O(a) = Ō on the others (no data
/// term); Σ_a π(a) O(a) = Ō then solves to the mean of the data's targets
/// weighted by π(a) k(a). So Ō is a convex combination of offsets the data
/// supports, and an unseen action never outranks the best seen one (it
/// also pays α log(μ_floor / μ)). The weights never all vanish: π is
/// tilted on the data's actions, and the best of them keeps weight exp(0).
fn mean_offset(f: &[f64], prior: &[f64], pi: &[f64], keep: &[f64]) -> f64 {
    let (mut total, mut weights) = (0.0, 0.0);
    for a in 0..f.len() {
        let weight = pi[a] * keep[a];
        total += weight * (f[a] - prior[a]);
        weights += weight;
    }
    total / weights
}

/// k(a) = n(a) / (n(a) + w π(a)) into `keep`: the share of O(a)'s
/// minimiser its own data holds against the penalty's pull to Ō (0 where
/// the data never takes a). One division per action, shared by Ō and O.
fn data_shares(counts: &[f64], pi: &[f64], w: f64, keep: &mut [f64]) {
    for a in 0..counts.len() {
        keep[a] = if counts[a] > 0.0 {
            counts[a] / (counts[a] + w * pi[a])
        } else {
            0.0
        };
    }
}

impl FisherBrc {
    /// One sweep for rows of [`row_len`]`::<N>` actions.
    fn sweep<const N: usize>(&mut self, q: &mut Array2<f64>) -> f64 {
        let na = row_len::<N>(q.ncols());
        let q = q.as_slice_mut().expect("Q is contiguous");
        let keep = &mut self.keep[..na];
        let (pi, prior, counts, support) = (
            self.pi.as_slice_mut().expect("contiguous"),
            self.prior.as_slice().expect("contiguous"),
            self.counts.as_slice().expect("contiguous"),
            self.support.as_slice().expect("contiguous"),
        );
        for &s in &self.states {
            let row = s * na..(s + 1) * na;
            let (f, pi) = (&q[row.clone()][..na], &mut pi[row.clone()][..na]);
            let support = &support[row.clone()][..na];
            // SPEED: every sweep leaves π(·|s) and v(s) those of `before` (f when
            // they were computed): a row that has not changed since, bit
            // for bit, keeps them and skips its exps. A row never tilted
            // is all zero (a tilted one has mass).
            let before = &self.before[row][..na];
            if same_bits(f, before) && pi.iter().any(|&p| p != 0.0) {
                continue;
            }
            // ALGO LOGIC: the actor π ∝ 1[n(s,a) > 0] exp(f/α), v(s) = E_π f.
            tilt(support, f, self.alpha, pi);
            self.v[s] = expected(pi, f);
        }
        self.before.copy_from_slice(q);
        // ALGO LOGIC: y = r + γ E_π f(s',·) into every observed pair, then
        // the offsets' minimiser, and f half way to it.
        self.backup.apply(&self.v, q);
        let mut largest: f64 = 0.0;
        for &s in &self.visited {
            let row = s * na..(s + 1) * na;
            let (pi, prior, counts) = (
                &pi[row.clone()][..na],
                &prior[row.clone()][..na],
                &counts[row.clone()][..na],
            );
            let (before, q) = (&self.before[row.clone()][..na], &mut q[row][..na]);
            let n_s: f64 = counts.iter().sum();
            data_shares(counts, pi, 2.0 * self.lambda * n_s, keep);
            let mean = mean_offset(q, prior, pi, keep);
            // SPEED: the row's own maximum (max is exact in any order): one chain
            // of comparisons across every state would serialise the sweep.
            let mut row_largest: f64 = 0.0;
            for a in 0..na {
                let offset = keep[a] * (q[a] - prior[a]) + (1.0 - keep[a]) * mean;
                q[a] = before[a] + CRITIC_STEP * (prior[a] + offset - before[a]);
                row_largest = row_largest.max((q[a] - before[a]).abs());
            }
            largest = largest.max(row_largest);
        }
        largest
    }
}
