//! Exact solvers: policy evaluation, optimal values, success probabilities.
//!
//! Policy evaluation solves (I − γP_π)V = r_π exactly. The policy's transition
//! graph is split into strongly connected components (Tarjan), which come out
//! sinks first, so each component is solved once with the values downstream
//! of it already known: a chain of 1-state components costs O(states), and
//! only genuinely cyclic parts pay for dense elimination. I − γP_π is strictly
//! diagonally dominant for γ < 1, so elimination needs no pivoting.
//! Optimal values come from policy iteration on top of that exact evaluation,
//! so Q* is exact too, not a value-iteration approximation.

use super::{Policy, TabularMdp};
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

/// Q*, V*, J* and a greedy optimal policy, by policy iteration with exact evaluation.
pub fn optimal(mdp: &TabularMdp, gamma: f64) -> Result<Optimum> {
    check_gamma(gamma)?;
    let mut policy = greedy(&q_from_v(mdp, &Array1::zeros(mdp.n_states()), gamma));
    // Howard's policy iteration terminates in few iterations; the bound only
    // guards against float ties flipping back and forth.
    for _ in 0..10_000 {
        let values = values_from_v(mdp, solve_linear(mdp, &policy, gamma), gamma);
        let improved = improve(&values.q, &policy);
        if improved == policy {
            return Ok(Optimum { values, policy });
        }
        policy = improved;
    }
    Err(Error::Invalid(format!(
        "policy iteration on {} did not settle",
        mdp.id()
    )))
}

/// Probability that an episode started from d0 reaches a goal state within
/// `horizon` steps (Gymnasium's time limit) under `policy`.
pub fn success_probability(mdp: &TabularMdp, policy: &Policy, horizon: usize) -> Result<f64> {
    mdp.check_policy(policy)?;
    let mut p = vec![0.0; mdp.n_states()];
    let mut next = vec![0.0; mdp.n_states()];
    for _ in 0..horizon {
        for (s, slot) in next.iter_mut().enumerate() {
            let mut total = 0.0;
            for a in 0..mdp.n_actions() {
                let pa = policy[[s, a]];
                if pa == 0.0 {
                    continue;
                }
                let reach: f64 = mdp
                    .outcomes(s, a)
                    .iter()
                    .map(|o| {
                        let t = o.next as usize;
                        let after = if mdp.is_goal(t) {
                            1.0
                        } else if o.terminated {
                            0.0
                        } else {
                            p[t]
                        };
                        o.prob * after
                    })
                    .sum();
                total += pa * reach;
            }
            *slot = total;
        }
        std::mem::swap(&mut p, &mut next);
    }
    Ok(mdp.initial().iter().zip(&p).map(|(d, x)| d * x).sum())
}

/// The normalized discounted occupancy d^π(s, a) = (1 − γ) Σ_t γ^t
/// P(s_t = s, a_t = a), propagated until the remaining discounted mass is
/// below 1e-12 (episodes that end stop contributing, so rows may sum to
/// less than 1 on episodic problems).
pub fn occupancy(mdp: &TabularMdp, policy: &Policy, gamma: f64) -> Result<Array2<f64>> {
    check_gamma(gamma)?;
    mdp.check_policy(policy)?;
    let (ns, na) = (mdp.n_states(), mdp.n_actions());
    let mut d = Array2::zeros((ns, na));
    let mut p: Vec<f64> = mdp.initial().to_vec();
    let mut next = vec![0.0; ns];
    let mut weight = 1.0 - gamma;
    while weight * p.iter().sum::<f64>() > 1e-12 {
        next.iter_mut().for_each(|x| *x = 0.0);
        for s in 0..ns {
            if p[s] == 0.0 {
                continue;
            }
            for a in 0..na {
                let mass = p[s] * policy[[s, a]];
                if mass == 0.0 {
                    continue;
                }
                d[[s, a]] += weight * mass;
                for o in mdp.outcomes(s, a).iter().filter(|o| !o.terminated) {
                    next[o.next as usize] += mass * o.prob;
                }
            }
        }
        std::mem::swap(&mut p, &mut next);
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

/// Q(s,a) = Σ p (r + γ V(s')) with V(s') = 0 after termination.
pub fn q_from_v(mdp: &TabularMdp, v: &Array1<f64>, gamma: f64) -> Array2<f64> {
    let mut q = Array2::zeros((mdp.n_states(), mdp.n_actions()));
    for s in 0..mdp.n_states() {
        for a in 0..mdp.n_actions() {
            q[[s, a]] = mdp
                .outcomes(s, a)
                .iter()
                .map(|o| {
                    let future = if o.terminated {
                        0.0
                    } else {
                        v[o.next as usize]
                    };
                    o.prob * (o.reward + gamma * future)
                })
                .sum();
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

/// Solves (I − M) V = r_π component by component, sinks first.
fn solve_linear(mdp: &TabularMdp, policy: &Policy, gamma: f64) -> Array1<f64> {
    let model = PolicyModel::new(mdp, policy, gamma);
    let n = mdp.n_states();
    let mut v = Array1::zeros(n);
    let mut local = vec![usize::MAX; n];
    for component in strongly_connected_components(&model, n) {
        if let [s] = component[..] {
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
        let k = component.len();
        for (i, &s) in component.iter().enumerate() {
            local[s] = i;
        }
        let mut a = vec![0.0; k * k];
        let mut b = vec![0.0; k];
        for (i, &s) in component.iter().enumerate() {
            a[i * k + i] = 1.0;
            b[i] = model.reward[s];
            for &(t, w) in model.row(s) {
                let t = t as usize;
                match local[t] {
                    j if j != usize::MAX => a[i * k + j] -= w,
                    _ => b[i] += w * v[t],
                }
            }
        }
        eliminate(&mut a, &mut b, k);
        for (i, &s) in component.iter().enumerate() {
            v[s] = b[i];
            local[s] = usize::MAX;
        }
    }
    v
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

/// Tarjan's algorithm, iterative; components come out in reverse topological
/// order (every component after all components it can reach).
fn strongly_connected_components(model: &PolicyModel, n: usize) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
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
                let mut component = Vec::new();
                loop {
                    let t = stack.pop().expect("Tarjan stack holds the component");
                    on_stack[t] = false;
                    component.push(t);
                    if t == s {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdp::envs;
    use ndarray::array;

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
