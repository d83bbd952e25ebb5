//! `vi-lcb`: value iteration with lower confidence bounds (Rashidinejad,
//! Zhu, Ma, Jiao & Russell 2021, arXiv:2103.12021), model-based
//! pessimism on the empirical MDP the dataset compiles to:
//!
//!   f(s,a) ← max(r̂(s,a) − b(s,a) + γ Σ_s' p̂(s'|s,a) V(s'), f_min)   for n(s,a) > 0,
//!   b(s,a) = c · ΔV · √(log(|S||A| / δ) / n(s,a)),
//!   V(s)   = max over the actions the data shows in s of f(s,a)   (f_min where it shows none),
//!
//! one sweep an iteration. The penalty is the paper's Hoeffding bonus: the
//! value range ΔV times the confidence width of n(s,a) samples, so thinly
//! covered pairs lose most. The paper's ΔV is the bound (r_max − r_min) /
//! (1 − γ), a hundredfold too wide at γ = 0.99 on FrozenLake, whose values
//! stay below 1; ΔV here is the data's value unit ([`super::scale`]): the
//! spread of the unpenalised optimal values over the observed pairs (value
//! iteration on the empirical MDP restricted to the data's actions, at
//! build time), so the bonus scales with the rewards, and vanishes on
//! reward-free data (TwoState-v0, Baird-v0). f_min = min(0, r_min) /
//! (1 − γ), the lowest return the rewards allow, bounds f below (the
//! paper's clipping at 0 for rewards in [0, 1]); r_min and r_max are the
//! dataset's reward range.
//!
//! Actions the data never shows in a state are excluded, not estimated:
//! they hold f_min and the policy, greedy over the data's actions, never
//! takes them; where the penalty leaves every one of its actions at f_min
//! (it cannot tell them apart), it plays the data's own frequencies π̂_β,
//! imitation where the bound says nothing; between equal values above the
//! floor it takes the action the data shows most often. States the data
//! never visits are worth f_min and get a uniform policy. As n(s,a) grows
//! the penalty vanishes and f approaches
//! the optimum of the empirical MDP restricted to the data's support, so
//! with data that covers the optimal policy J(π) approaches J*.
//!
//! Keys ([`KEYS`]): `c` (the bonus's constant; the theory's constants are
//! loose), `delta` (the confidence level). Loss: the sweep's largest
//! |ΔQ|. c's default is the smallest value of the panel's grid (0.01 … 0.3,
//! `experiments/defaults_panel.toml` and a poor narrow family of our own)
//! at which q_est ≤ J(π) on every 10k dataset of FrozenLake and
//! CliffWalking (0 of 36 runs overestimate; 1 at c = 0.12, 3 at 0.1, 28
//! at the old 0.01); the price is paid on large data, where a smaller
//! bonus reaches further (the panel's Total 2145 at 0.15 against 2212 at
//! 0.1; fqi's is 2062). On Taxi's 10k medium data every c ≥ 0.05 floors
//! the values and it imitates (24 against the behaviour's 35, as bc: the
//! data misses 60% of the reachable states, where imitation plays uniform).
//!
//! On overlapping features of observations it is PEVI ([`Pevi`]): the
//! penalty Γ(o,a) = β · u(o,a), u the data's elliptical width
//! ([`super::support`]), every action backed up, with
//!
//!   β = c · H · √(log det(Λ/λ) + 2 log(1/δ)),
//!
//! - the radius is the self-normalised bound of a least-squares fit with
//!   these widths (Abbasi-Yadkori, Pál & Szepesvári 2011, Thm 2): the
//!   information the data holds about the weights, log det(Λ/λ), where the
//!   count form has log(|S||A|/δ). With one-hot features it is
//!   Σ log(1 + n(s,a)/λ); it grows with the features' dimension, as PEVI's
//!   d·H does (its covering argument adds a further √d, left out). The
//!   count form's √log(d_φ/δ) = 3.2 on 512 slots × 3 actions let the
//!   bound leave the floor on a few episodes' regression of hashed tiles,
//!   and its greedy fell below π̂_β (Acrobot 1k: 45 ± 35 against bc's 80;
//!   CartPole 100k: 50 against 98). On the default features (8 tilings of 4 tiles, 512 slots an action)
//!   the radius is 10–19 at 1k transitions, 23–42 at 10k, 64–87 at
//!   100k (CartPole … Acrobot).
//! - its unit H is the return range the rewards allow, f_max − f_min
//!   (PEVI's horizon), not the data's value spread: on data whose reward
//!   is constant and never ends (CartPole's controller: +1 a step, the
//!   pole never falls) every observed pair's restricted optimum is
//!   1/(1 − γ), the spread is 0 or, where one sample state is a dead end,
//!   99, and the penalty vanished or not by that accident. Pessimism there
//!   must come from what the data does not show (the falls), which the
//!   spread cannot see; H can, and it scales with the rewards as the
//!   spread does.
//! - it acts by [`Act::Lower`]: the actions whose interval [L, L + 2Γ]
//!   (L = Q − Γ clipped to [f_min, f_max]) lies wholly below the best L
//!   are eliminated, and π̂_β plays the rest; greedy on L alone is greedy
//!   on the regression's bias wherever the intervals overlap. Its backup
//!   values that same policy, V = Σ_a π(a|s) L(s,a): under PEVI's event
//!   L ≤ r + γPV, so V ≤ T^π V and V ≤ V^π, a lower bound on the policy it
//!   plays, not on the greedy one it does not.
//! - its estimate is L on the data's states as off them
//!   ([`Rule::estimate`]): q_est read the regression Φθ where a start
//!   state is a sample state, 130 and 5,405 above f_max = 0 on Acrobot 1k.
//!
//! On the default features (512 hashed slots) the bound stays at the
//! floor from 1k to 100k transitions on all three environments: it plays
//! π̂_β, as bc, and its q_est is f_min (docs/scores.md).
//!
//! With features (Q = θᵀφ, [`super::linear::Projected`]): the penalised,
//! floored backup on the observed pairs (weighted by their counts),
//! projected by least squares; it starts from the weights that fit f_min.
//! The clip is a floor only: it stops the values falling, not rising, so
//! from weights above the floor it runs away where fqi does (TwoState-v0
//! from positive weights); from its own start, f_min = 0 there, it stays.

use super::act::Act;
use super::linear::{self, Cells, Projectable};
use super::scale::value_spread;
use super::support::Support;
use super::tabular::{Backup, Rule, expected};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::mdp::Policy;
use ndarray::{Array2, ArrayView2};
use std::sync::Arc;

pub const NAME: &str = "vi-lcb";

const C: Key = Key::number("c", 0.15, 0.0, 1e12).unit("U").meaning(
    "the bonus's constant, b = c · U · √(log(|S||A| / δ) / n(s,a)); on features of \
         observations Γ = c · H · √(log det(Λ/λ) + 2 log(1/δ)) · u(o,a)",
);
const DELTA: Key = Key::number("delta", 0.05, 1e-12, 1.0)
    .unit("probability")
    .meaning("the bonus's confidence level δ");

/// vi-lcb's keys.
pub const KEYS: &[Key] = &[C, DELTA];

pub struct Config {
    pub c: f64,
    pub delta: f64,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let c = r.number_of(&C)?;
        let delta = r.number_of(&DELTA)?;
        Ok((Config { c, delta }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let c = &data.compiled;
    let (ns, na) = (c.n_states, c.n_actions);
    let (floor, ceiling) = data.return_bounds();
    let init = Array2::from_elem((ns, na), floor);
    if data.phi.as_ref().is_some_and(|phi| !phi.is_partition())
        && let Some(support) = super::support::of(data)?
    {
        // PEVI's H, not the data's value spread, and the data's
        // information, not a count's log term (module doc).
        let radius = (support.log_det + 2.0 * config.delta.recip().ln()).sqrt();
        let beta = config.c * (ceiling - floor) * radius;
        let rule = Pevi {
            floor,
            ceiling,
            beta,
            support,
            behavior: data.behavior()?.table.clone(),
            backup: Backup::new(c, data.gamma),
            v: vec![floor; ns],
            bound: Vec::new(),
            pi: Vec::new(),
        };
        return linear::or_table(rule, &init, Cells::Observed, data);
    }
    let seen: Vec<Vec<usize>> = (0..ns)
        .map(|s| {
            let mut actions: Vec<usize> = (0..na).filter(|&a| c.count(s, a) > 0).collect();
            // Most frequent first: ties go to the behaviour's favourite.
            actions.sort_by_key(|&a| std::cmp::Reverse(c.count(s, a)));
            actions
        })
        .collect();
    let range = value_spread(data);
    let log_term = ((ns * na) as f64 / config.delta).ln().max(0.0);
    let rule = ViLcb {
        floor,
        seen,
        behavior: c.behavior_estimate(),
        backup: Backup::with_rewards(c, data.gamma, |pair| {
            pair.mean_reward - config.c * range * (log_term / f64::from(pair.count)).sqrt()
        }),
        v: vec![floor; ns],
    };
    linear::or_table(rule, &init, Cells::Observed, data)
}

pub struct ViLcb {
    /// f_min, the lowest return the rewards allow.
    floor: f64,
    /// The actions the data shows in each state.
    seen: Vec<Vec<usize>>,
    /// π̂_β: played where the penalty leaves every data action at the floor.
    behavior: Policy,
    backup: Backup,
    v: Vec<f64>,
}

impl Rule for ViLcb {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        for s in self.backup.read_states() {
            self.v[s] = self
                .best(s, q.row(s).to_slice().expect("row"))
                .map_or(self.floor, |(_, x)| x);
        }
        let na = q.ncols();
        let cells = q.as_slice_mut().expect("Q is contiguous");
        let largest = self.backup.apply(&self.v, cells);
        for (s, actions) in self.seen.iter().enumerate() {
            for &a in actions {
                let x = &mut cells[s * na + a];
                *x = x.max(self.floor);
            }
        }
        largest
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        let mut pi = self.behavior.clone();
        for (s, mut row) in pi.outer_iter_mut().enumerate() {
            match self.best(s, q.row(s).to_slice().expect("row")) {
                Some((a, x)) if x > self.floor => {
                    row.fill(0.0);
                    row[a] = 1.0;
                }
                _ => {}
            }
        }
        pi
    }
}

impl ViLcb {
    /// The best action the data shows in `s`, and its value; ties go to
    /// the action the data shows most often.
    fn best(&self, s: usize, f: &[f64]) -> Option<(usize, f64)> {
        self.seen[s].iter().fold(None, |best, &a| match best {
            Some((_, x)) if x >= f[a] => best,
            _ => Some((a, f[a])),
        })
    }
}

impl Projectable for ViLcb {}

/// vi-lcb on features of observations: PEVI (module doc).
pub struct Pevi {
    /// f_min and f_max, the lowest and highest returns the rewards allow.
    floor: f64,
    ceiling: f64,
    /// β = c · (f_max − f_min) · √(log(d / δ)), Γ's scale.
    beta: f64,
    /// u(s,a) at every sample state (Γ = β·u).
    support: Arc<Support>,
    /// π̂_β: played on the actions the bound does not eliminate.
    behavior: Policy,
    backup: Backup,
    v: Vec<f64>,
    /// One state's bound and policy, reused from state to state.
    bound: Vec<f64>,
    pi: Vec<f64>,
}

impl Pevi {
    fn act(&self) -> Act {
        Act::Lower {
            beta: self.beta,
            floor: self.floor,
            ceiling: self.ceiling,
        }
    }

    /// State `s`'s bound L(s,·) into `bound` and π(·|s) into `pi`, from
    /// its row `q` of Q.
    fn decide(&self, s: usize, q: &[f64], bound: &mut [f64], pi: &mut [f64]) {
        let width = self.support.width.row(s);
        let width = width.as_slice().expect("rows are contiguous");
        let act = self.act();
        bound.copy_from_slice(q);
        act.bound(bound, width);
        let behavior = self.behavior.row(s);
        act.row(
            bound,
            width,
            behavior.as_slice().expect("rows are contiguous"),
            pi,
        );
    }
}

impl Rule for Pevi {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        let na = q.ncols();
        let (mut bound, mut pi) = (
            std::mem::take(&mut self.bound),
            std::mem::take(&mut self.pi),
        );
        bound.resize(na, 0.0);
        pi.resize(na, 0.0);
        let cells = q.as_slice_mut().expect("Q is contiguous");
        for s in self.backup.read_states() {
            self.decide(s, &cells[s * na..(s + 1) * na], &mut bound, &mut pi);
            // ALGO LOGIC: the bound of the policy it plays, not of the
            // greedy one: V = Σ π L ≤ T^π V under PEVI's event, so V ≤ V^π.
            self.v[s] = expected(&pi, &bound);
        }
        (self.bound, self.pi) = (bound, pi);
        self.backup.apply(&self.v, cells)
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        let mut pi = Array2::zeros(q.dim());
        let mut bound = vec![0.0; q.ncols()];
        for (s, mut row) in pi.outer_iter_mut().enumerate() {
            let f = q.row(s);
            self.decide(
                s,
                f.as_slice().expect("rows are contiguous"),
                &mut bound,
                row.as_slice_mut().expect("rows are contiguous"),
            );
        }
        pi
    }

    fn act(&self, _q: ArrayView2<f64>) -> Act {
        Pevi::act(self)
    }

    /// PEVI's estimate is the bound, on the data as off it.
    fn estimate(&self, mut q: Array2<f64>) -> Array2<f64> {
        let act = self.act();
        for (row, width) in q.outer_iter_mut().zip(self.support.width.outer_iter()) {
            act.bound(
                row.into_slice().expect("rows are contiguous"),
                width.as_slice().expect("rows are contiguous"),
            );
        }
        q
    }
}

impl Projectable for Pevi {}
