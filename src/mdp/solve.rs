//! Exact solvers: policy evaluation, optimal values, success probabilities.
//!
//! Policy evaluation solves (I − γP_π)V = r_π exactly. The policy's transition
//! graph is split into strongly connected components (Tarjan), which come out
//! sinks first, so each component is solved once with the values downstream
//! of it already known: a chain of 1-state components costs O(states), and
//! only genuinely cyclic parts pay for elimination — dense for small
//! components, banded in reverse Cuthill–McKee order for larger ones (grid
//! worlds have narrow bands: Taxi's 100-state components have bandwidth
//! ~10, so ~k·b² instead of k³/3 operations). I − γP_π is strictly
//! diagonally dominant for γ < 1, so elimination needs no pivoting, and
//! without pivoting the fill stays inside the band.
//! Optimal values come from Gauss–Seidel value iteration as a warm start,
//! then policy iteration on top of that exact evaluation, so Q* is exact
//! too, not a value-iteration approximation.

use super::{Outcome, Policy, TabularMdp};
use crate::error::{Error, Result};
use ndarray::{Array1, Array2};

/// V, Q and J = Σ_s d0(s) V(s) of one policy (or of the optimum).
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    pub v: Array1<f64>,
    pub q: Array2<f64>,
    pub j: f64,
}

/// The optimal values and a deterministic optimal policy (ties to the lowest action).
#[derive(Debug, Clone, PartialEq)]
pub struct Optimum {
    pub values: Values,
    pub policy: Policy,
}

/// Rejects discount factors outside [0, 1): every value here is a discounted sum.
pub fn check_gamma(gamma: f64) -> Result<()> {
    if (0.0..1.0).contains(&gamma) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "gamma = {gamma}: the discount must be in [0, 1)"
        )))
    }
}

/// Exact Q^π, V^π and J(π) for a stochastic policy.
pub fn evaluate_policy(mdp: &TabularMdp, policy: &Policy, gamma: f64) -> Result<Values> {
    check_gamma(gamma)?;
    mdp.check_policy(policy)?;
    let v = solve_linear(mdp, policy, gamma);
    Ok(values_from_v(mdp, v, gamma))
}

/// V and Q from value iteration, with a guarantee on their error.
#[derive(Debug, Clone, PartialEq)]
pub struct Approximate {
    pub v: Array1<f64>,
    pub q: Array2<f64>,
    /// ‖V − V*‖∞ ≤ bound, hence also ‖Q − Q*‖∞ ≤ γ·bound ≤ bound.
    pub bound: f64,
    pub sweeps: usize,
}

/// Gauss–Seidel value iteration: V(s) ← max_a Σ p (r + γ V(s')) in place,
/// sweeping the states forwards and backwards in turn, so that a value
/// travels the whole length of a chain in one sweep whichever way it
/// flows. Each sweep is a γ-contraction with fixed point V*, so a sweep
/// that changes V by at most δ leaves ‖V − V*‖∞ ≤ γδ / (1 − γ) (the
/// standard ε-optimality stopping rule); it stops once that bound is at
/// most `tolerance`, or after `max_sweeps` sweeps (the bound then says how
/// far it got).
pub fn value_iteration(
    mdp: &TabularMdp,
    gamma: f64,
    tolerance: f64,
    max_sweeps: usize,
) -> Result<Approximate> {
    check_gamma(gamma)?;
    let (ns, na) = (mdp.n_states(), mdp.n_actions());
    let mut v = vec![0.0; ns];
    let mut bound = f64::INFINITY;
    let mut sweeps = 0;
    while sweeps < max_sweeps && bound > tolerance {
        let mut delta = 0.0f64;
        let mut update = |s: usize| {
            let mut best = f64::NEG_INFINITY;
            for a in 0..na {
                best = best.max(backup(mdp, s, a, |t| v[t], gamma));
            }
            delta = delta.max((best - v[s]).abs());
            v[s] = best;
        };
        if sweeps % 2 == 0 {
            (0..ns).for_each(&mut update);
        } else {
            (0..ns).rev().for_each(&mut update);
        }
        sweeps += 1;
        bound = if gamma == 0.0 {
            0.0
        } else {
            gamma * delta / (1.0 - gamma)
        };
    }
    let v = Array1::from(v);
    let q = q_from_v(mdp, &v, gamma);
    Ok(Approximate {
        v,
        q,
        bound,
        sweeps,
    })
}

/// Q*, V*, J* and a greedy optimal policy, exactly: value iteration finds a
/// near-optimal policy cheaply (Howard's policy iteration alone flips one
/// state of a chain per iteration: Chain-v10500 at γ = 0.9999 needed more
/// than 10,000 exact evaluations), then policy iteration with exact
/// evaluation finishes from it in a few iterations, so Q* is exact, not a
/// value-iteration approximation.
pub fn optimal(mdp: &TabularMdp, gamma: f64) -> Result<Optimum> {
    check_gamma(gamma)?;
    // The warm start need not be precise, only close enough that few
    // policies separate it from the optimum.
    let scale = max_abs_reward(mdp) / (1.0 - gamma);
    let start = value_iteration(mdp, gamma, 1e-6 * scale, WARM_START_SWEEPS)?;
    let mut policy = greedy(&start.q);
    // Howard's policy iteration needs at most n(m − 1)⌈log(n/(1 − γ)) /
    // (1 − γ)⌉ iterations (Scherrer 2016, "Improved and generalized upper
    // bounds on the complexity of policy iteration"), and `improve` only
    // switches for a gain above rounding, so values rise strictly and no
    // policy repeats: the bound cannot trigger on a valid MDP.
    let (n, m) = (mdp.n_states() as f64, mdp.n_actions() as f64);
    let horizon = 1.0 / (1.0 - gamma);
    let limit = n * (m - 1.0).max(1.0) * (horizon * (n * horizon).ln().max(1.0)).ceil() + 1.0;
    let mut iterations = 0.0;
    while iterations < limit {
        let values = values_from_v(mdp, solve_linear(mdp, &policy, gamma), gamma);
        let improved = improve(&values.q, &policy);
        if improved == policy {
            return Ok(Optimum { values, policy });
        }
        policy = improved;
        iterations += 1.0;
    }
    Err(Error::Invalid(format!(
        "policy iteration on {} did not settle in {limit} iterations",
        mdp.id()
    )))
}

/// Sweeps of value iteration before policy iteration takes over.
const WARM_START_SWEEPS: usize = 1000;

/// The largest |reward| of any outcome (at least 1e-300, a scale).
fn max_abs_reward(mdp: &TabularMdp) -> f64 {
    (0..mdp.n_states())
        .flat_map(|s| (0..mdp.n_actions()).flat_map(move |a| mdp.outcomes(s, a)))
        .fold(1e-300, |m, o| m.max(o.reward.abs()))
}

/// Probability that an episode started from d0 reaches a goal state within
/// `horizon` steps (Gymnasium's time limit) under `policy`: the expected
/// return within the horizon when arriving at a goal pays 1 and ends the
/// episode (by backward steps, as [`EpisodeScale`] computes returns).
pub fn success_probability(mdp: &TabularMdp, policy: &Policy, horizon: usize) -> Result<f64> {
    mdp.check_policy(policy)?;
    let played = Played::new(mdp, policy);
    let v = finite_horizon(
        mdp.n_states(),
        horizon,
        &Played::fixed(0),
        |s, out| played.success_reads(s, out),
        |s, p: &[[f64; 1]]| [played.backups(s, p, 0)[1]],
    );
    Ok(start_value(mdp, v.iter().map(|x| x[0])))
}

/// The expected undiscounted return of one episode started from d0 and cut
/// after `horizon` steps (Gymnasium's time limit), exactly: `horizon`
/// backward steps V_{k+1}(s) = Σ_a π(a|s) Σ p (r + V_k(s')), V(s') = 0 after
/// termination. D4RL's score is of this return.
pub fn episode_return(mdp: &TabularMdp, policy: &Policy, horizon: usize) -> Result<f64> {
    mdp.check_policy(policy)?;
    let played = Played::new(mdp, policy);
    let v = finite_horizon(
        mdp.n_states(),
        horizon,
        &Played::fixed(0),
        |s, out| played.return_reads(s, out),
        |s, v: &[[f64; 1]]| [played.backups(s, v, 0)[0]],
    );
    Ok(start_value(mdp, v.iter().map(|x| x[0])))
}

/// [`episode_return`] and [`success_probability`] over one horizon, in one
/// recursion: each state's actions and outcomes are read once for both.
/// The same numbers, bit for bit, as the two calls (each value is the same
/// function of the same successors' values, and a state recomputed when
/// only the other value moved gets its value again).
pub fn episode_return_and_success(
    mdp: &TabularMdp,
    policy: &Policy,
    horizon: usize,
) -> Result<(f64, f64)> {
    mdp.check_policy(policy)?;
    let played = Played::new(mdp, policy);
    let v = finite_horizon(
        mdp.n_states(),
        horizon,
        &Played::fixed(1),
        |s, out| {
            played.return_reads(s, out);
            played.success_reads(s, out);
        },
        |s, v: &[[f64; 2]]| played.backups(s, v, 1),
    );
    Ok((
        start_value(mdp, v.iter().map(|x| x[0])),
        start_value(mdp, v.iter().map(|x| x[1])),
    ))
}

/// The actions a policy plays in each state (π(a|s) ≠ 0) with their
/// probabilities and outcomes, laid out flat once: a finite-horizon
/// recursion backs every state up at every step, and then reads one array
/// in order (no lookup of (s, a)'s outcomes, no goal table, no branch on
/// how an outcome ends) and skips the actions π never takes. SPEED only:
/// each backup is the same arithmetic in the same order as [`backup`] over
/// `mdp.outcomes(s, a)`.
struct Played {
    n: usize,
    /// State s's actions are `actions[start[s]..start[s + 1]]`.
    start: Vec<usize>,
    /// π(a|s) and (s, a)'s outcomes, `outcomes[from..to]`.
    actions: Vec<(f64, u32, u32)>,
    outcomes: Vec<Step>,
}

/// One outcome of a played action, with where the two backups read the
/// value after it: the next state's, or a fixed row past the states
/// ([`Played::fixed`]) holding the 0 after termination and the 1 of
/// arriving at a goal, so that the backups read the same numbers without
/// testing how the outcome ends.
#[derive(Clone, Copy)]
struct Step {
    prob: f64,
    reward: f64,
    /// Where the return backup reads V: the next state, or 0 after termination.
    value_at: u32,
    /// Where the success backup reads P: 1 at a goal, 0 after termination,
    /// else the next state.
    success_at: u32,
}

impl Played {
    fn new(mdp: &TabularMdp, policy: &Policy) -> Self {
        let n = mdp.n_states();
        let (zero, one) = (n as u32, n as u32 + 1);
        let mut played = Played {
            n,
            start: Vec::with_capacity(n + 1),
            actions: Vec::new(),
            outcomes: Vec::new(),
        };
        played.start.push(0);
        for (s, row) in policy.rows().into_iter().enumerate() {
            for (a, &p) in row.iter().enumerate().filter(|&(_, &p)| p != 0.0) {
                let from = played.outcomes.len() as u32;
                played.outcomes.extend(mdp.outcomes(s, a).iter().map(|o| {
                    let value_at = if o.terminated { zero } else { o.next };
                    Step {
                        prob: o.prob,
                        reward: o.reward,
                        value_at,
                        success_at: if mdp.is_goal(o.next as usize) {
                            one
                        } else {
                            value_at
                        },
                    }
                }));
                played.actions.push((p, from, played.outcomes.len() as u32));
            }
            played.start.push(played.actions.len());
        }
        played
    }

    /// The rows past the states that [`Step`] points to: 0, then 1 in
    /// column `success` (0 elsewhere), a V of `K` columns.
    fn fixed<const K: usize>(success: usize) -> [[f64; K]; 2] {
        let mut one = [0.0; K];
        one[success] = 1.0;
        [[0.0; K], one]
    }

    /// π(a|s) and the outcomes of each action π plays in s.
    #[inline]
    fn of(&self, s: usize) -> impl Iterator<Item = (f64, &[Step])> {
        self.actions[self.start[s]..self.start[s + 1]]
            .iter()
            .map(|&(p, from, to)| (p, &self.outcomes[from as usize..to as usize]))
    }

    /// Where [`Played::backups`] reads V: non-terminal successors.
    fn return_reads(&self, s: usize, out: &mut Vec<usize>) {
        for (_, steps) in self.of(s) {
            out.extend(
                steps
                    .iter()
                    .map(|o| o.value_at as usize)
                    .filter(|&t| t < self.n),
            );
        }
    }

    /// Where [`Played::backups`] reads P: non-terminal, non-goal
    /// successors.
    fn success_reads(&self, s: usize, out: &mut Vec<usize>) {
        for (_, steps) in self.of(s) {
            out.extend(
                steps
                    .iter()
                    .map(|o| o.success_at as usize)
                    .filter(|&t| t < self.n),
            );
        }
    }

    /// The return backup Σ_a π(a|s) Σ p (r + V(s')), V(s') = 0 after
    /// termination, of column 0 of `v` (the arithmetic of [`expected`],
    /// summed as `Iterator::sum`), and the success backup Σ_a π(a|s) Σ p ·
    /// (1 at a goal, 0 after termination, else P(s')) of column `success`,
    /// in one pass over the outcomes (SPEED: two passes cost a quarter
    /// more). A caller of one drops the other, which is then not computed.
    #[inline]
    fn backups<const K: usize>(&self, s: usize, v: &[[f64; K]], success: usize) -> [f64; 2] {
        let start = sum_start();
        let (mut value, mut reach) = (start, 0.0);
        for (pa, steps) in self.of(s) {
            let (mut r, mut p) = (start, start);
            for o in steps {
                r += o.prob * (o.reward + 1.0 * v[o.value_at as usize][0]);
                p += o.prob * v[o.success_at as usize][success];
            }
            value += pa * r;
            reach += pa * p;
        }
        [value, reach]
    }
}

/// Where `Iterator::sum` of f64 starts (−0.0): a sum written as a loop
/// starts there too, so that a sum of zeros keeps its sign.
fn sum_start() -> f64 {
    std::iter::empty::<f64>().sum()
}

/// D4RL's normalized score: 100 · (R − R_random) / (R_best − R_random).
/// Where random play is already the best (R_best = R_random up to a tiny
/// relative tolerance: Baird-v0 and TwoState-v0, whose rewards are all 0)
/// the score is 0/0 and none exists: NaN, which files write as `null` and
/// every view shows as `–`, never a number.
pub fn normalized_score(r: f64, random: f64, best: f64) -> f64 {
    let span = best - random;
    if span.abs() <= 1e-12 * (1.0 + best.abs().max(random.abs())) {
        f64::NAN
    } else {
        100.0 * (r - random) / span
    }
}

/// The scale of D4RL's score on one MDP: episodes of [`TabularMdp::horizon`]
/// steps, the uniform policy's episode return (score 0) and the best any
/// policy gets within the horizon (score 100).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodeScale {
    pub horizon: usize,
    pub random: f64,
    pub best: f64,
}

impl EpisodeScale {
    pub fn new(mdp: &TabularMdp) -> Result<Self> {
        let horizon = mdp.horizon();
        Ok(EpisodeScale {
            horizon,
            random: episode_return(mdp, &mdp.uniform_policy(), horizon)?,
            best: max_episode_return(mdp, horizon),
        })
    }

    /// The episode return of `policy` within the horizon.
    pub fn episode_return(&self, mdp: &TabularMdp, policy: &Policy) -> Result<f64> {
        episode_return(mdp, policy, self.horizon)
    }

    /// D4RL's normalized score of an episode return.
    pub fn score(&self, episode_return: f64) -> f64 {
        normalized_score(episode_return, self.random, self.best)
    }
}

/// The best expected undiscounted return any policy (possibly
/// time-dependent) gets within `horizon` steps, by backward induction:
/// V_{k+1}(s) = max_a Σ p (r + V_k(s')). The 100 of D4RL's score.
pub fn max_episode_return(mdp: &TabularMdp, horizon: usize) -> f64 {
    let reads = |s: usize, out: &mut Vec<usize>| {
        for a in 0..mdp.n_actions() {
            out.extend(non_terminal_successors(mdp, s, a));
        }
    };
    let value = |s: usize, v: &[[f64; 1]]| {
        [(0..mdp.n_actions())
            .map(|a| backup(mdp, s, a, |t| v[t][0], 1.0))
            .fold(f64::NEG_INFINITY, f64::max)]
    };
    let v = finite_horizon(mdp.n_states(), horizon, &[], reads, value);
    start_value(mdp, v.iter().map(|x| x[0]))
}

fn non_terminal_successors(mdp: &TabularMdp, s: usize, a: usize) -> impl Iterator<Item = usize> {
    mdp.outcomes(s, a)
        .iter()
        .filter(|o| !o.terminated)
        .map(|o| o.next as usize)
}

/// Σ_s d0(s) V(s).
fn start_value(mdp: &TabularMdp, v: impl Iterator<Item = f64>) -> f64 {
    mdp.initial().iter().zip(v).map(|(d, x)| d * x).sum()
}

/// [`finite_horizon`] recomputes every state at the next step once at
/// least one state in this many moved at the last.
const EVERY_STATE_SHARE: usize = 4;

/// V_horizon of the finite-horizon recursion V_0 = 0, V_{k+1}(s) =
/// `backup`(s, V_k), where `backup`(s, ·) reads V only at the states
/// `reads`(s) lists and at rows past the `n` states that hold `fixed`;
/// V(s) is `K` values, which recursions over the same graph share (a
/// state moves when any of them does).
///
/// V_{k+1}(s) depends only on V_k at those successors, so after a step
/// that moved few values only the predecessors of those states are
/// recomputed: a long deterministic chain costs O(horizon + states) rather
/// than O(horizon · states), and the loop ends once nothing changes. After
/// a step that moved many (a stochastic policy moves them all), every state
/// is recomputed, which costs less than finding their predecessors.
fn finite_horizon<const K: usize>(
    n: usize,
    horizon: usize,
    fixed: &[[f64; K]],
    reads: impl Fn(usize, &mut Vec<usize>),
    backup: impl Fn(usize, &[[f64; K]]) -> [f64; K],
) -> Vec<[f64; K]> {
    let mut v = vec![[0.0; K]; n];
    v.extend_from_slice(fixed);
    // A step over every state writes here, then swaps: no list of moves.
    let mut next = v.clone();
    // Built at the first step that moved few states: a stochastic policy
    // moves them all at every step and never needs it.
    let mut predecessors: Option<Predecessors> = None;
    let mut changed: Vec<(usize, [f64; K])> = Vec::new();
    let mut candidates: Vec<usize> = Vec::new();
    let mut queued = vec![false; n];
    // The first step reads every state.
    let mut every = true;
    for _ in 0..horizon {
        // Every new value from the previous step's V, then applied at once.
        // A state none of whose successors moved gets its value again, bit
        // for bit, and keeps it: both ways give the same V.
        let full = every;
        let moved = if full {
            let mut moved = 0;
            for (s, new) in next[..n].iter_mut().enumerate() {
                let x = backup(s, &v);
                // An equal value (0.0 for −0.0) keeps the old bits.
                *new = if x == v[s] { v[s] } else { x };
                moved += usize::from(x != v[s]);
            }
            std::mem::swap(&mut v, &mut next);
            moved
        } else {
            changed.clear();
            changed.extend(
                candidates
                    .iter()
                    .filter_map(|&s| Some((s, backup(s, &v))).filter(|&(s, x)| x != v[s])),
            );
            for &(t, x) in &changed {
                v[t] = x;
            }
            changed.len()
        };
        if moved == 0 {
            break;
        }
        every = moved * EVERY_STATE_SHARE >= n;
        if every {
            continue;
        }
        let predecessors = predecessors.get_or_insert_with(|| Predecessors::new(n, &reads));
        candidates.clear();
        let mut queue = |t: usize| {
            for &s in predecessors.of(t) {
                if !queued[s] {
                    queued[s] = true;
                    candidates.push(s);
                }
            }
        };
        if full {
            // What moved is where the two buffers differ.
            (0..n).filter(|&t| v[t] != next[t]).for_each(&mut queue);
        } else {
            for &(t, _) in &changed {
                queue(t);
            }
        }
        for &s in &candidates {
            queued[s] = false;
        }
    }
    v.truncate(n);
    v
}

/// Who reads each state's value (CSR, duplicates harmless).
struct Predecessors {
    start: Vec<usize>,
    of: Vec<usize>,
}

impl Predecessors {
    fn new(n: usize, reads: impl Fn(usize, &mut Vec<usize>)) -> Self {
        let mut successors = Vec::new();
        let mut from = Vec::with_capacity(n + 1);
        from.push(0);
        for s in 0..n {
            reads(s, &mut successors);
            from.push(successors.len());
        }
        let mut start = vec![0usize; n + 1];
        for &t in &successors {
            start[t + 1] += 1;
        }
        for t in 0..n {
            start[t + 1] += start[t];
        }
        let mut fill = start[..n].to_vec();
        let mut of = vec![0usize; successors.len()];
        for s in 0..n {
            for &t in &successors[from[s]..from[s + 1]] {
                of[fill[t]] = s;
                fill[t] += 1;
            }
        }
        Predecessors { start, of }
    }

    fn of(&self, t: usize) -> &[usize] {
        &self.of[self.start[t]..self.start[t + 1]]
    }
}

/// The normalized discounted occupancy d^π(s, a) = (1 − γ) Σ_t γ^t
/// P(s_t = s, a_t = a), propagated until the remaining discounted mass is
/// below 1e-12 (episodes that end stop contributing, so rows may sum to
/// less than 1 on episodic problems). Each step visits only the states
/// that hold mass, so a long chain costs O(its length), not O(length²).
pub fn occupancy(mdp: &TabularMdp, policy: &Policy, gamma: f64) -> Result<Array2<f64>> {
    check_gamma(gamma)?;
    mdp.check_policy(policy)?;
    let (ns, na) = (mdp.n_states(), mdp.n_actions());
    let mut d = Array2::zeros((ns, na));
    let mut p: Vec<f64> = mdp.initial().to_vec();
    let mut next = vec![0.0; ns];
    let mut active: Vec<usize> = (0..ns).filter(|&s| p[s] > 0.0).collect();
    let mut reached = Vec::new();
    let mut weight = 1.0 - gamma;
    while weight * active.iter().map(|&s| p[s]).sum::<f64>() > 1e-12 {
        reached.clear();
        for &s in &active {
            for a in 0..na {
                let mass = p[s] * policy[[s, a]];
                if mass == 0.0 {
                    continue;
                }
                d[[s, a]] += weight * mass;
                for o in mdp.outcomes(s, a).iter().filter(|o| !o.terminated) {
                    let added = mass * o.prob;
                    let t = o.next as usize;
                    // Only positive additions, so each state is listed once.
                    if added > 0.0 {
                        if next[t] == 0.0 {
                            reached.push(t);
                        }
                        next[t] += added;
                    }
                }
            }
        }
        for &s in &active {
            p[s] = 0.0;
        }
        std::mem::swap(&mut p, &mut next);
        std::mem::swap(&mut active, &mut reached);
        weight *= gamma;
    }
    Ok(d)
}

/// V(s) = Σ_a π(a|s) q(s, a): what a Q table says a policy is worth.
pub fn state_values(q: &Array2<f64>, policy: &Policy) -> Vec<f64> {
    q.outer_iter()
        .zip(policy.outer_iter())
        .map(|(row, pi)| row.iter().zip(pi).map(|(x, p)| x * p).sum())
        .collect()
}

/// Deterministic greedy policy of `q` (ties to the lowest action index).
pub fn greedy(q: &Array2<f64>) -> Policy {
    let mut pi = Array2::zeros(q.dim());
    for (s, row) in q.outer_iter().enumerate() {
        pi[[s, argmax(row.iter().copied())]] = 1.0;
    }
    pi
}

/// The largest value (−∞ for none; NaNs are skipped, as `f64::max` does).
pub fn max_value<'a>(values: impl IntoIterator<Item = &'a f64>) -> f64 {
    values.into_iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x))
}

/// max_a q(s, a) for every state s.
pub fn row_maxima(q: &Array2<f64>) -> Array1<f64> {
    Array1::from_iter(q.outer_iter().map(max_value))
}

/// Index of the largest value; the first one on ties.
pub fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, x) in values.enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best.0
}

/// Σ p (r + γ V(s')) over the outcomes of (s, a), V(s') = 0 after termination.
#[inline]
fn backup(mdp: &TabularMdp, s: usize, a: usize, v: impl Fn(usize) -> f64, gamma: f64) -> f64 {
    expected(mdp.outcomes(s, a).iter(), v, gamma)
}

/// Σ p (r + γ V(s')) over `outcomes`, V(s') = 0 after termination.
#[inline]
fn expected<'a>(
    outcomes: impl Iterator<Item = &'a Outcome>,
    v: impl Fn(usize) -> f64,
    gamma: f64,
) -> f64 {
    outcomes
        .map(|o| {
            let future = if o.terminated {
                0.0
            } else {
                v(o.next as usize)
            };
            o.prob * (o.reward + gamma * future)
        })
        .sum()
}

/// Q(s,a) = Σ p (r + γ V(s')) with V(s') = 0 after termination.
pub fn q_from_v(mdp: &TabularMdp, v: &Array1<f64>, gamma: f64) -> Array2<f64> {
    let (ns, na) = (mdp.n_states(), mdp.n_actions());
    let v = v.to_vec();
    let mut q = Array2::zeros((ns, na));
    let cells = q.as_slice_mut().expect("a new array is contiguous");
    for s in 0..ns {
        for a in 0..na {
            cells[s * na + a] = backup(mdp, s, a, |t| v[t], gamma);
        }
    }
    q
}

fn values_from_v(mdp: &TabularMdp, v: Array1<f64>, gamma: f64) -> Values {
    let q = q_from_v(mdp, &v, gamma);
    let j = mdp.initial().iter().zip(v.iter()).map(|(d, x)| d * x).sum();
    Values { v, q, j }
}

/// Keeps the current action unless another is better by more than rounding.
fn improve(q: &Array2<f64>, current: &Policy) -> Policy {
    let mut pi = Array2::zeros(q.dim());
    for (s, row) in q.outer_iter().enumerate() {
        let now = argmax(current.row(s).iter().copied());
        let best = argmax(row.iter().copied());
        let tol = 1e-12 * (1.0 + row[now].abs());
        let choice = if row[best] > row[now] + tol {
            best
        } else {
            now
        };
        pi[[s, choice]] = 1.0;
    }
    pi
}

/// The policy's one-step model: r_π(s) and the γ-weighted, non-terminal
/// successor weights m(s, t) = γ Σ_a π(a|s) Σ_{o: next = t, not terminated} p.
struct PolicyModel {
    reward: Vec<f64>,
    /// CSR rows of (successor, weight), merged per successor.
    offsets: Vec<usize>,
    edges: Vec<(u32, f64)>,
}

impl PolicyModel {
    fn new(mdp: &TabularMdp, policy: &Policy, gamma: f64) -> Self {
        let n = mdp.n_states();
        let mut reward = vec![0.0; n];
        let mut offsets = Vec::with_capacity(n + 1);
        let mut edges: Vec<(u32, f64)> = Vec::new();
        offsets.push(0);
        for (s, r) in reward.iter_mut().enumerate() {
            let start = edges.len();
            for a in 0..mdp.n_actions() {
                let pa = policy[[s, a]];
                if pa == 0.0 {
                    continue;
                }
                for o in mdp.outcomes(s, a) {
                    *r += pa * o.prob * o.reward;
                    if o.terminated || o.prob == 0.0 {
                        continue;
                    }
                    let w = gamma * pa * o.prob;
                    match edges[start..].iter_mut().find(|(t, _)| *t == o.next) {
                        Some(e) => e.1 += w,
                        None => edges.push((o.next, w)),
                    }
                }
            }
            offsets.push(edges.len());
        }
        PolicyModel {
            reward,
            offsets,
            edges,
        }
    }

    fn row(&self, s: usize) -> &[(u32, f64)] {
        &self.edges[self.offsets[s]..self.offsets[s + 1]]
    }
}

/// Components up to this size are solved by dense elimination; larger ones
/// by banded elimination in a Cuthill–McKee order when that is cheaper.
const DENSE_MAX: usize = 16;

/// How a cyclic component is eliminated.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    /// Dense up to `DENSE_MAX` states (or when the band would be as wide),
    /// banded above.
    Auto,
    /// Banded for every cyclic component (tests compare it with dense).
    #[cfg(test)]
    Banded,
    /// Dense for every component, the reference.
    #[cfg(test)]
    Dense,
}

/// Solves (I − M) V = r_π component by component, sinks first.
fn solve_linear(mdp: &TabularMdp, policy: &Policy, gamma: f64) -> Array1<f64> {
    solve_linear_with(mdp, policy, gamma, Method::Auto)
}

fn solve_linear_with(mdp: &TabularMdp, policy: &Policy, gamma: f64, method: Method) -> Array1<f64> {
    let model = PolicyModel::new(mdp, policy, gamma);
    let n = mdp.n_states();
    let mut v = vec![0.0; n];
    let components = Components::new(&model, n);
    let mut work = Workspace::new(n);
    for component in components.iter() {
        if let [s] = *component {
            let mut rhs = model.reward[s];
            let mut diag = 1.0;
            for &(t, w) in model.row(s) {
                if t as usize == s {
                    diag -= w;
                } else {
                    rhs += w * v[t as usize];
                }
            }
            v[s] = rhs / diag;
            continue;
        }
        let banded = match method {
            Method::Auto => component.len() > DENSE_MAX,
            #[cfg(test)]
            Method::Banded => true,
            #[cfg(test)]
            Method::Dense => false,
        };
        if !(banded && work.solve_banded(&model, component, &mut v, method == Method::Auto)) {
            work.solve_dense(&model, component, &mut v);
        }
    }
    Array1::from(v)
}

/// Buffers reused from one component to the next.
struct Workspace {
    /// Index of each state within the current component, `usize::MAX` outside.
    local: Vec<usize>,
    matrix: Vec<f64>,
    rhs: Vec<f64>,
    /// Banded path: the component's states in elimination order, their
    /// undirected adjacency (CSR) and degrees.
    order: Vec<usize>,
    adjacency_start: Vec<usize>,
    adjacency: Vec<usize>,
    degree: Vec<usize>,
}

impl Workspace {
    fn new(n: usize) -> Self {
        Workspace {
            local: vec![usize::MAX; n],
            matrix: Vec::new(),
            rhs: Vec::new(),
            order: Vec::new(),
            adjacency_start: Vec::new(),
            adjacency: Vec::new(),
            degree: Vec::new(),
        }
    }

    /// Dense elimination of the component's block, with the values
    /// downstream of it already in `v`.
    fn solve_dense(&mut self, model: &PolicyModel, component: &[usize], v: &mut [f64]) {
        let k = component.len();
        for (i, &s) in component.iter().enumerate() {
            self.local[s] = i;
        }
        let (a, b) = (&mut self.matrix, &mut self.rhs);
        a.clear();
        a.resize(k * k, 0.0);
        b.clear();
        b.resize(k, 0.0);
        for (i, &s) in component.iter().enumerate() {
            a[i * k + i] = 1.0;
            b[i] = model.reward[s];
            for &(t, w) in model.row(s) {
                let t = t as usize;
                match self.local[t] {
                    j if j != usize::MAX => a[i * k + j] -= w,
                    _ => b[i] += w * v[t],
                }
            }
        }
        eliminate(a, b, k);
        for (i, &s) in component.iter().enumerate() {
            v[s] = b[i];
            self.local[s] = usize::MAX;
        }
    }

    /// Banded elimination of the component's block in reverse Cuthill–McKee
    /// order (a breadth-first order keeps every edge between nearby
    /// positions, so elimination fills in only within the band). With
    /// `only_if_cheaper`, gives up (returning false, nothing written) when
    /// the band would cost as much as dense elimination.
    fn solve_banded(
        &mut self,
        model: &PolicyModel,
        component: &[usize],
        v: &mut [f64],
        only_if_cheaper: bool,
    ) -> bool {
        let k = component.len();
        for (i, &s) in component.iter().enumerate() {
            self.local[s] = i;
        }
        self.cuthill_mckee(model, component);
        // `local` now maps each state to its position in `order`.
        let (mut lower, mut upper) = (0, 0);
        for &s in component {
            let i = self.local[s];
            for &(t, _) in model.row(s) {
                let j = self.local[t as usize];
                if j != usize::MAX {
                    lower = lower.max(i.saturating_sub(j));
                    upper = upper.max(j.saturating_sub(i));
                }
            }
        }
        if only_if_cheaper && 3 * lower * upper >= k * k {
            for &s in component {
                self.local[s] = usize::MAX;
            }
            return false;
        }
        // Row i holds columns i − lower ..= i + upper.
        let width = lower + upper + 1;
        let (a, b) = (&mut self.matrix, &mut self.rhs);
        a.clear();
        a.resize(k * width, 0.0);
        b.clear();
        b.resize(k, 0.0);
        for &s in component {
            let i = self.local[s];
            a[i * width + lower] = 1.0;
            b[i] = model.reward[s];
            for &(t, w) in model.row(s) {
                let t = t as usize;
                match self.local[t] {
                    j if j != usize::MAX => a[i * width + lower + j - i] -= w,
                    _ => b[i] += w * v[t],
                }
            }
        }
        eliminate_banded(a, b, k, lower, upper);
        for &s in component {
            v[s] = b[self.local[s]];
            self.local[s] = usize::MAX;
        }
        true
    }

    /// Orders the component breadth-first from a low-degree state,
    /// neighbours by increasing degree, then reversed (RCM), and sets
    /// `local[s]` to each state's position. Expects `local` to hold the
    /// component's indices.
    fn cuthill_mckee(&mut self, model: &PolicyModel, component: &[usize]) {
        let k = component.len();
        // Undirected adjacency within the component (duplicates harmless).
        self.degree.clear();
        self.degree.resize(k, 0);
        for (i, &s) in component.iter().enumerate() {
            for &(t, _) in model.row(s) {
                let j = self.local[t as usize];
                if j != usize::MAX && j != i {
                    self.degree[i] += 1;
                    self.degree[j] += 1;
                }
            }
        }
        self.adjacency_start.clear();
        self.adjacency_start.push(0);
        let mut total = 0;
        for &d in &self.degree {
            total += d;
            self.adjacency_start.push(total);
        }
        self.adjacency.clear();
        self.adjacency.resize(total, 0);
        let mut fill = self.adjacency_start[..k].to_vec();
        for (i, &s) in component.iter().enumerate() {
            for &(t, _) in model.row(s) {
                let j = self.local[t as usize];
                if j != usize::MAX && j != i {
                    self.adjacency[fill[i]] = j;
                    fill[i] += 1;
                    self.adjacency[fill[j]] = i;
                    fill[j] += 1;
                }
            }
        }
        let degree = &self.degree;
        for i in 0..k {
            let (lo, hi) = (self.adjacency_start[i], self.adjacency_start[i + 1]);
            self.adjacency[lo..hi].sort_unstable_by_key(|&j| (degree[j], j));
        }
        // Breadth-first from the lowest-degree state, then once more from
        // the last state reached (a pseudo-peripheral start narrows the band).
        let first = (0..k).min_by_key(|&i| (degree[i], i)).unwrap_or(0);
        self.breadth_first(first);
        let far = *self.order.last().expect("components are non-empty");
        self.breadth_first(far);
        self.order.reverse();
        for (position, &i) in self.order.iter().enumerate() {
            self.local[component[i]] = position;
        }
    }

    /// Breadth-first order of the component's local indices from `start`
    /// (the component is strongly connected, so every index is reached).
    fn breadth_first(&mut self, start: usize) {
        let k = self.degree.len();
        let mut seen = vec![false; k];
        self.order.clear();
        self.order.push(start);
        seen[start] = true;
        let mut head = 0;
        while head < self.order.len() {
            let i = self.order[head];
            head += 1;
            for &j in &self.adjacency[self.adjacency_start[i]..self.adjacency_start[i + 1]] {
                if !seen[j] {
                    seen[j] = true;
                    self.order.push(j);
                }
            }
        }
        debug_assert_eq!(self.order.len(), k);
    }
}

/// Gaussian elimination without pivoting of a banded matrix (row i holds
/// columns i − lower ..= i + upper, at offsets 0..width); no pivoting keeps
/// the fill inside the band. Leaves the solution in `b`.
fn eliminate_banded(a: &mut [f64], b: &mut [f64], k: usize, lower: usize, upper: usize) {
    let width = lower + upper + 1;
    for p in 0..k {
        let pivot = a[p * width + lower];
        let last = (p + upper).min(k - 1);
        for r in p + 1..=(p + lower).min(k - 1) {
            // Column p of row r sits at offset lower − (r − p).
            let f = a[r * width + lower - (r - p)] / pivot;
            if f == 0.0 {
                continue;
            }
            let (top, bottom) = a.split_at_mut(r * width);
            // Columns p + 1 ..= last: row p from offset lower + 1, row r
            // from offset lower + 1 − (r − p).
            let prow = &top[p * width + lower + 1..p * width + lower + 1 + (last - p)];
            let start = lower + 1 - (r - p);
            for (x, y) in bottom[start..start + (last - p)].iter_mut().zip(prow) {
                *x -= f * y;
            }
            b[r] -= f * b[p];
        }
    }
    for p in (0..k).rev() {
        let last = (p + upper).min(k - 1);
        let row = &a[p * width + lower..p * width + lower + 1 + (last - p)];
        let mut s = b[p];
        for (c, &x) in row.iter().enumerate().skip(1) {
            s -= x * b[p + c];
        }
        b[p] = s / row[0];
    }
}

/// Gaussian elimination without pivoting (the matrix is strictly diagonally
/// dominant); leaves the solution in `b`.
fn eliminate(a: &mut [f64], b: &mut [f64], k: usize) {
    for p in 0..k {
        let pivot = a[p * k + p];
        for r in p + 1..k {
            let f = a[r * k + p] / pivot;
            if f == 0.0 {
                continue;
            }
            let (top, bottom) = a.split_at_mut(r * k);
            let prow = &top[p * k + p..p * k + k];
            for (x, y) in bottom[p..k].iter_mut().zip(prow) {
                *x -= f * y;
            }
            b[r] -= f * b[p];
        }
    }
    for p in (0..k).rev() {
        let mut s = b[p];
        for c in p + 1..k {
            s -= a[p * k + c] * b[c];
        }
        b[p] = s / a[p * k + p];
    }
}

/// Strongly connected components, stored flat: component `c` is
/// `states[start[c]..start[c + 1]]`.
struct Components {
    states: Vec<usize>,
    start: Vec<usize>,
}

impl Components {
    /// Tarjan's algorithm, iterative; components come out in reverse
    /// topological order (every component after all components it can reach).
    fn new(model: &PolicyModel, n: usize) -> Self {
        const UNSEEN: usize = usize::MAX;
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut states = Vec::with_capacity(n);
        let mut start = vec![0];
        let mut counter = 0;
        let mut call: Vec<(usize, usize)> = Vec::new();
        for root in 0..n {
            if index[root] != UNSEEN {
                continue;
            }
            call.push((root, 0));
            while let Some(&mut (s, ref mut edge)) = call.last_mut() {
                if *edge == 0 && index[s] == UNSEEN {
                    index[s] = counter;
                    low[s] = counter;
                    counter += 1;
                    stack.push(s);
                    on_stack[s] = true;
                }
                let row = model.row(s);
                if let Some(&(t, _)) = row.get(*edge) {
                    *edge += 1;
                    let t = t as usize;
                    if index[t] == UNSEEN {
                        call.push((t, 0));
                    } else if on_stack[t] {
                        low[s] = low[s].min(index[t]);
                    }
                    continue;
                }
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[s]);
                }
                if low[s] == index[s] {
                    loop {
                        let t = stack.pop().expect("Tarjan stack holds the component");
                        on_stack[t] = false;
                        states.push(t);
                        if t == s {
                            break;
                        }
                    }
                    start.push(states.len());
                }
            }
        }
        Components { states, start }
    }

    fn iter(&self) -> impl Iterator<Item = &[usize]> {
        self.start.windows(2).map(|w| &self.states[w[0]..w[1]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdp::{Outcome, envs};
    use ndarray::array;
    use proptest::prelude::*;

    /// Largest |x − y| relative to the largest |y| (at least 1).
    fn relative_gap(x: &Array1<f64>, y: &Array1<f64>) -> f64 {
        let scale = y.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        x.iter()
            .zip(y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / scale
    }

    /// A random MDP of `n` states and `m` actions: up to four outcomes per
    /// pair, some terminating, and a random stochastic policy.
    fn random_problem() -> impl Strategy<Value = (TabularMdp, Policy, f64)> {
        (2usize..=30, 1usize..=3).prop_flat_map(|(n, m)| {
            let outcome = (
                0..n as u32,
                0.05f64..1.0,
                -1.0f64..1.0,
                prop::bool::weighted(0.1),
            );
            let pair = prop::collection::vec(outcome, 1..=4);
            (
                prop::collection::vec(prop::collection::vec(pair, m), n),
                prop::collection::vec(prop::collection::vec(0.0f64..1.0, m), n),
                0.5f64..0.999,
            )
                .prop_map(move |(table, weights, gamma)| {
                    let table = table
                        .into_iter()
                        .map(|row| {
                            row.into_iter()
                                .map(|list| {
                                    let total: f64 = list.iter().map(|o| o.1).sum();
                                    list.into_iter()
                                        .map(|(next, w, reward, terminated)| Outcome {
                                            prob: w / total,
                                            next,
                                            reward,
                                            terminated,
                                        })
                                        .collect()
                                })
                                .collect()
                        })
                        .collect();
                    let initial = vec![1.0 / n as f64; n];
                    let mdp = TabularMdp::new("random", table, initial, None).unwrap();
                    let mut policy = Policy::zeros((n, m));
                    for (s, row) in weights.iter().enumerate() {
                        let total: f64 = row.iter().map(|w| w + 0.01).sum();
                        for (a, w) in row.iter().enumerate() {
                            policy[[s, a]] = (w + 0.01) / total;
                        }
                    }
                    (mdp, policy, gamma)
                })
        })
    }

    proptest! {
        /// Banded elimination in Cuthill–McKee order (forced for every
        /// cyclic component) and the automatic choice agree with dense
        /// elimination.
        #[test]
        fn banded_matches_dense((mdp, policy, gamma) in random_problem()) {
            let dense = solve_linear_with(&mdp, &policy, gamma, Method::Dense);
            let banded = solve_linear_with(&mdp, &policy, gamma, Method::Banded);
            let auto = solve_linear_with(&mdp, &policy, gamma, Method::Auto);
            prop_assert!(relative_gap(&banded, &dense) < 1e-9, "{banded} vs {dense}");
            prop_assert!(relative_gap(&auto, &dense) < 1e-9, "{auto} vs {dense}");
        }
    }

    /// The Gymnasium problems, whose stochastic policies have cyclic
    /// components large enough for the banded path.
    #[test]
    fn banded_matches_dense_on_gymnasium_problems() {
        for id in ["Taxi-v4", "FrozenLake8x8-v1", "CliffWalking-v1"] {
            let mdp = envs::make(id).unwrap();
            let gamma = 0.99;
            let uniform = mdp.uniform_policy();
            let optimal = optimal(&mdp, gamma).unwrap().policy;
            let mixture = &optimal * 0.9 + &uniform * 0.1;
            for policy in [&uniform, &optimal, &mixture] {
                let dense = solve_linear_with(&mdp, policy, gamma, Method::Dense);
                for method in [Method::Banded, Method::Auto] {
                    let v = solve_linear_with(&mdp, policy, gamma, method);
                    let gap = relative_gap(&v, &dense);
                    assert!(gap < 1e-10, "{id} {method:?}: gap {gap}");
                }
            }
        }
    }

    /// The plain O(horizon · pairs) recursion, the reference for the
    /// incremental one.
    fn dense_success(mdp: &TabularMdp, policy: &Policy, horizon: usize) -> f64 {
        let mut p = vec![0.0; mdp.n_states()];
        for _ in 0..horizon {
            let next: Vec<f64> = (0..mdp.n_states())
                .map(|s| {
                    (0..mdp.n_actions())
                        .map(|a| {
                            let reach: f64 = mdp
                                .outcomes(s, a)
                                .iter()
                                .map(|o| {
                                    let t = o.next as usize;
                                    let after = match (mdp.is_goal(t), o.terminated) {
                                        (true, _) => 1.0,
                                        (false, true) => 0.0,
                                        (false, false) => p[t],
                                    };
                                    o.prob * after
                                })
                                .sum();
                            policy[[s, a]] * reach
                        })
                        .sum()
                })
                .collect();
            p = next;
        }
        mdp.initial().iter().zip(&p).map(|(d, x)| d * x).sum()
    }

    #[test]
    fn incremental_success_probability_matches_the_recursion() {
        for id in [
            "FrozenLake8x8-v1",
            "Taxi-v4",
            "Chain-v30",
            "CliffWalkingSlippery-v1",
        ] {
            let mdp = envs::make(id).unwrap();
            let uniform = mdp.uniform_policy();
            let optimal = optimal(&mdp, 0.99).unwrap().policy;
            let mixture = &optimal * 0.8 + &uniform * 0.2;
            for policy in [&uniform, &optimal, &mixture] {
                for horizon in [0, 1, 7, 100] {
                    let fast = success_probability(&mdp, policy, horizon).unwrap();
                    let slow = dense_success(&mdp, policy, horizon);
                    assert!(
                        (fast - slow).abs() < 1e-12,
                        "{id} h={horizon}: {fast} vs {slow}"
                    );
                }
            }
        }
    }

    /// The uniform policy, an optimal one and their 10% mixture: values that
    /// settle (the incremental steps) and values that move every state at
    /// every step.
    fn settling_and_moving(mdp: &TabularMdp) -> [Policy; 3] {
        let uniform = mdp.uniform_policy();
        let optimal = optimal(mdp, 0.99).unwrap().policy;
        let mixture = &optimal * 0.9 + &uniform * 0.1;
        [uniform, optimal, mixture]
    }

    /// The flat layout changes no bit: the episode return is the plain
    /// recursion over `mdp.outcomes` with [`backup`] at γ = 1, over the
    /// actions π plays, to the last bit.
    #[test]
    fn the_episode_return_is_the_plain_recursion_bit_for_bit() {
        for id in ["FrozenLake8x8-v1", "Taxi-v4", "CliffWalkingSlippery-v1"] {
            let mdp = envs::make(id).unwrap();
            for policy in &settling_and_moving(&mdp) {
                let horizon = mdp.horizon();
                let mut v = vec![0.0; mdp.n_states()];
                for _ in 0..horizon {
                    v = (0..mdp.n_states())
                        .map(|s| {
                            (0..mdp.n_actions())
                                .filter(|&a| policy[[s, a]] != 0.0)
                                .map(|a| policy[[s, a]] * backup(&mdp, s, a, |t| v[t], 1.0))
                                .sum()
                        })
                        .collect();
                }
                let plain = start_value(&mdp, v.into_iter());
                let flat = episode_return(&mdp, policy, horizon).unwrap();
                assert_eq!(flat.to_bits(), plain.to_bits(), "{id}: {flat} vs {plain}");
            }
        }
    }

    /// The joint recursion gives both numbers bit for bit as the separate
    /// ones, on policies that settle (the incremental steps) and on ones
    /// that move every state at every step.
    #[test]
    fn return_and_success_together_equal_them_apart() {
        for id in ["FrozenLake8x8-v1", "Taxi-v4", "CliffWalkingSlippery-v1"] {
            let mdp = envs::make(id).unwrap();
            for policy in &settling_and_moving(&mdp) {
                for horizon in [0, 1, 7, mdp.horizon()] {
                    let (r, p) = episode_return_and_success(&mdp, policy, horizon).unwrap();
                    let apart = (
                        episode_return(&mdp, policy, horizon).unwrap(),
                        success_probability(&mdp, policy, horizon).unwrap(),
                    );
                    assert_eq!(
                        (r.to_bits(), p.to_bits()),
                        (apart.0.to_bits(), apart.1.to_bits()),
                        "{id} h={horizon}: {:?} vs {apart:?}",
                        (r, p)
                    );
                }
            }
        }
    }

    /// Value iteration alone is within its own bound of the exact Q* (from
    /// policy iteration with exact evaluation) on every built-in problem.
    #[test]
    fn value_iteration_is_within_its_bound_of_the_exact_optimum() {
        for e in envs::list() {
            let mdp = envs::make(&e.id).unwrap();
            for gamma in [0.9, 0.99] {
                let exact = optimal(&mdp, gamma).unwrap();
                let vi = value_iteration(&mdp, gamma, 1e-8, 1_000_000).unwrap();
                assert!(vi.bound <= 1e-8, "{}: bound {}", e.id, vi.bound);
                let slack =
                    1e-9 * (1.0 + exact.values.q.iter().fold(0.0f64, |m, x| m.max(x.abs())));
                let gap = (&vi.q - &exact.values.q)
                    .iter()
                    .fold(0.0f64, |m, x| m.max(x.abs()));
                assert!(
                    gap <= vi.bound + slack,
                    "{} gamma {gamma}: {gap} > {}",
                    e.id,
                    vi.bound
                );
                let v_gap = (&vi.v - &exact.values.v)
                    .iter()
                    .fold(0.0f64, |m, x| m.max(x.abs()));
                assert!(
                    v_gap <= vi.bound + slack,
                    "{} gamma {gamma}: V {v_gap}",
                    e.id
                );
            }
        }
    }

    /// Long chains at γ close to 1 settle quickly (Howard's policy
    /// iteration alone flipped one state per iteration and gave up).
    #[test]
    fn long_chains_solve_exactly() {
        let n = 10_500;
        let mdp = envs::make(&format!("Chain-v{n}")).unwrap();
        let gamma = 0.9999;
        let opt = optimal(&mdp, gamma).unwrap();
        // n − 2 steps right, the last one paying 1.
        let expected = gamma.powi(n as i32 - 2);
        assert!((opt.values.j - expected).abs() < 1e-12, "{}", opt.values.j);
        assert!((0..n - 1).all(|s| opt.policy[[s, 1]] == 1.0));
    }

    #[test]
    fn three_state_optimum_is_the_discounted_plus_one() {
        let mdp = envs::make("ThreeState-v0").unwrap();
        let opt = optimal(&mdp, 0.9).unwrap();
        assert!((opt.values.j - 0.9).abs() < 1e-12);
        assert_eq!(opt.policy.row(0).to_vec(), vec![1.0, 0.0]);
        assert!((opt.values.q[[0, 1]] - 0.9 * -10.0).abs() < 1e-12);
    }

    #[test]
    fn behaviour_of_the_imitation_trap_gets_the_mix() {
        let mdp = envs::make("ImitationTrap-v0").unwrap();
        let v = evaluate_policy(&mdp, mdp.behavior().unwrap(), 0.99).unwrap();
        assert!((v.j - -4.5).abs() < 1e-12);
        let p = success_probability(&mdp, &array![[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]], 1).unwrap();
        assert!((p - 0.5).abs() < 1e-12);
    }

    /// Episode returns and the best return within the horizon, worked out
    /// on paper on the toy problems.
    #[test]
    fn episode_returns_match_hand_computed_values() {
        let close = |got: f64, want: f64| assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        for id in ["ThreeState-v0", "ImitationTrap-v0"] {
            // Uniform: ½·(+1) + ½·(−10); best: +1.
            let mdp = envs::make(id).unwrap();
            let scale = EpisodeScale::new(&mdp).unwrap();
            close(scale.random, -4.5);
            close(scale.best, 1.0);
            close(scale.score(1.0), 100.0);
            close(scale.score(-4.5), 0.0);
        }
        // Every reward 0: random play is the best, 0/0, no score at all.
        for id in ["Baird-v0", "TwoState-v0"] {
            let scale = EpisodeScale::new(&envs::make(id).unwrap()).unwrap();
            assert_eq!((scale.random, scale.best), (0.0, 0.0), "{id}");
            assert!(scale.score(0.0).is_nan(), "{id}");
        }
        assert!(normalized_score(1.0, 1.0, 1.0 + 1e-15).is_nan());
        // A tiny span that is not 0/0 still scores.
        close(normalized_score(0.5e-6, 0.0, 1e-6), 50.0);
        // Bandit: the mean arm, the best arm.
        let bandit = EpisodeScale::new(&envs::make("Bandit-v0").unwrap()).unwrap();
        close(bandit.random, 0.58);
        close(bandit.best, 0.8);
        // CliffWalking has no time limit: 4 · 48 steps; the optimum walks 13.
        let cliff = envs::make("CliffWalking-v1").unwrap();
        assert_eq!(cliff.horizon(), 192);
        close(max_episode_return(&cliff, cliff.horizon()), -13.0);
        // Chain-v100 always right: the 99th step pays +1.
        let chain = envs::make("Chain-v100").unwrap();
        let right = Array2::from_shape_fn((100, 2), |(_, a)| a as f64);
        close(episode_return(&chain, &right, 400).unwrap(), 1.0);
        close(episode_return(&chain, &right, 99).unwrap(), 1.0);
        close(episode_return(&chain, &right, 98).unwrap(), 0.0);
        close(max_episode_return(&chain, 50), 0.1);
        // Chain-v3 uniform within 2 steps: ½·0.1, or right then ½·1; a
        // third step adds ¼ (back at the start) · ½·0.1.
        let chain = envs::make("Chain-v3").unwrap();
        let uniform = chain.uniform_policy();
        close(episode_return(&chain, &uniform, 2).unwrap(), 0.05 + 0.25);
        close(
            episode_return(&chain, &uniform, 3).unwrap(),
            0.3 + 0.25 * 0.05,
        );
        // FrozenLake pays 1 at the goal only: the return is the success probability.
        let lake = envs::make("FrozenLake8x8-v1").unwrap();
        let pi = optimal(&lake, 0.99).unwrap().policy;
        let h = lake.horizon();
        close(
            episode_return(&lake, &pi, h).unwrap(),
            success_probability(&lake, &pi, h).unwrap(),
        );
    }

    /// The exact episode return against Monte-Carlo episodes cut at the
    /// time limit, within 5 standard errors.
    #[test]
    fn episode_returns_match_monte_carlo() {
        use crate::mdp::sample::{PolicySampler, Sampler};
        use rand::SeedableRng;
        for id in ["FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1"] {
            let mdp = envs::make(id).unwrap();
            let optimum = optimal(&mdp, 0.99).unwrap().policy;
            let noisy = optimum.mapv(|p| 0.7 * p + 0.3 / mdp.n_actions() as f64);
            let exact = episode_return(&mdp, &noisy, mdp.horizon()).unwrap();
            let (sampler, actions) = (Sampler::new(&mdp), PolicySampler::new(&noisy));
            let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
            let n = 20_000;
            let (mut sum, mut squares) = (0.0, 0.0);
            for _ in 0..n {
                let mut s = sampler.reset(&mut rng);
                let mut total = 0.0;
                for _ in 0..mdp.horizon() {
                    let o = sampler.step(s, actions.action(s, &mut rng), &mut rng);
                    total += o.reward;
                    s = o.next as usize;
                    if o.terminated {
                        break;
                    }
                }
                sum += total;
                squares += total * total;
            }
            let mean = sum / f64::from(n);
            let se = ((squares / f64::from(n) - mean * mean) / f64::from(n)).sqrt();
            assert!(
                (mean - exact).abs() <= 5.0 * se,
                "{id}: Monte-Carlo {mean} ± {se}, exact {exact}"
            );
        }
    }

    #[test]
    fn cyclic_components_are_solved_exactly() {
        // Two states that swap forever with reward 1: V = 1 / (1 - γ).
        let step = |next| {
            vec![crate::mdp::Outcome {
                prob: 1.0,
                next,
                reward: 1.0,
                terminated: false,
            }]
        };
        let mdp = TabularMdp::new(
            "swap",
            vec![vec![step(1)], vec![step(0)]],
            vec![0.5, 0.5],
            None,
        )
        .unwrap();
        let v = evaluate_policy(&mdp, &array![[1.0], [1.0]], 0.5).unwrap();
        assert!((v.j - 2.0).abs() < 1e-12, "{}", v.j);
        assert!(check_gamma(1.0).is_err());
    }
}
