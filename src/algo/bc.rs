//! `bc`: behaviour cloning (Pomerleau 1991), tabular form:
//!
//!   π(a|s) = n(s,a) / n(s),   uniform on states the data never visits.
//!
//! BC has no critic of its own; so the dashboard can still compare belief
//! with truth, its Q is what the data says the cloned policy is worth:
//! `fqe` of π, f(s,a) ← r + γ Σ_a' π(a'|s') f(s',a') on the observed pairs,
//! one sweep an iteration (unseen pairs stay 0). The loss is that sweep's
//! largest |ΔQ|. The policy is final from the start. No hyper-parameters.
//!
//! With features, π is multinomial logistic regression on the state part
//! ψ(s) of the features, π(a|s) = softmax_a(w_aᵀψ(s)), fitted once by
//! maximum likelihood on the dataset's (s, a) (linfa-logistic, L-BFGS, no
//! intercept, L2 weight [`L2`] so that an action a state never shows gets a
//! small, finite logit), and Q is least-squares FQE of that π (`fqe`'s
//! linear form). With one-hot features the fit is the count ratio (to
//! 1e-4; a test checks it). ψ(s) is recovered from φ: with `actions =
//! "blocks"` it is any action's block of φ(s,·); with `actions = "shared"`
//! the trunk, φ's columns before the per-action biases; with features of
//! neither layout (an environment's own) it is φ(s,a) of every action,
//! side by side. Actions the dataset never shows anywhere get π = 0 (the
//! regression has no class for them). linfa takes no sample weights, so
//! each pair is repeated by its count; datasets above [`MAX_ROWS`]
//! transitions, or whose rows × ψ would exceed [`MAX_CELLS`] numbers, are
//! fitted on their pairs' counts scaled down to fit and rounded (each
//! observed pair keeps at least one row): the frequencies of well-visited
//! states stay the data's, those of states seen a few times are coarsened
//! by the rounding.
//!
//! On the sample states of a dataset of observations π is the data's
//! π̂_β of [`super::behavior`] (the same objective on ψ of the
//! observations, minimised over ψ's nonzeros by argmin's L-BFGS rather
//! than linfa's dense products, or the count ratio where the features
//! partition them),
//! and off the data bc plays π̂_β(·|o) ([`super::act::Act::Behavior`]).

use super::act::Act;
use super::fqe::Evaluate;
use super::linear::{self, Fitted, Linear, NextValue};
use super::logistic::multinomial;
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::features::Phi;
use crate::mdp::Policy;
use ndarray::{Array1, Array2, s};

pub const NAME: &str = "bc";

/// bc's keys: none.
pub const KEYS: &[Key] = &[];

/// No hyper-parameters: reading only rejects keys.
pub struct Config;

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        Ok((Config, ParamReader::new(NAME, params).finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    Config::read(params)?;
    let Some(phi) = data.phi.clone() else {
        return Ok(Evaluate::boxed(data, data.compiled.behavior_estimate()));
    };
    let policy = if phi.matrix().is_some() {
        clone_behavior(&state_features(&phi), data)?
    } else {
        data.behavior()?.table.clone()
    };
    let theta = Array1::zeros(phi.dim());
    let rule = Fitted::new(phi.clone(), data, NextValue::Of(policy, Act::Behavior))?;
    Ok(Linear::boxed(rule, phi, theta))
}

/// The L2 weight on the logistic regression's coefficients, against a
/// log-likelihood summed over transitions: an action a state shows in none
/// of its n(s) transitions gets π ≈ L2 · ln(n(s)/L2) / n(s) there.
pub const L2: f64 = 1e-6;

/// The floor under a count ratio before its log, for the initial fit.
const LOG_FLOOR: f64 = 1e-6;

/// The most rows the logistic regression fits (see the module doc).
pub const MAX_ROWS: usize = 200_000;

/// The most numbers in the regression's design matrix (256 MiB of f64):
/// wide features fit fewer rows.
pub const MAX_CELLS: usize = 1 << 25;

/// ψ(s), states × state features, recovered from φ (see the module doc).
pub fn state_features(phi: &Phi) -> Array2<f64> {
    let m = phi.matrix().expect("bc::build checked for dense rows");
    let (na, ns) = (phi.n_actions(), phi.n_states());
    let row = |s: usize, a: usize| m.row(s * na + a);
    let d = phi.dim();
    let blocks = d.is_multiple_of(na) && {
        let w = d / na;
        (0..ns).all(|s| {
            (0..na).all(|a| {
                let r = row(s, a);
                r.iter().enumerate().all(|(i, &x)| i / w == a || x == 0.0)
                    && r.slice(s![a * w..(a + 1) * w]) == row(s, 0).slice(s![..w])
            })
        })
    };
    if blocks {
        let w = d / na;
        return Array2::from_shape_fn((ns, w), |(s, i)| row(s, 0)[i]);
    }
    let shared = d > na && {
        let w = d - na;
        (0..ns).all(|s| {
            (0..na).all(|a| {
                let r = row(s, a);
                r.slice(s![..w]) == row(s, 0).slice(s![..w])
                    && (0..na).all(|b| r[w + b] == if a == b { 1.0 } else { 0.0 })
            })
        })
    };
    if shared {
        return m.slice(s![..;na, ..d - na]).to_owned();
    }
    Array2::from_shape_fn((ns, d * na), |(s, i)| row(s, i / d)[i % d])
}

/// Multinomial logistic regression of the dataset's actions on ψ(s).
fn clone_behavior(psi: &Array2<f64>, data: &TrainData) -> Result<Policy> {
    let c = &data.compiled;
    let (ns, na) = (c.n_states, c.n_actions);
    let shown: Vec<usize> = (0..na)
        .filter(|&a| c.pairs.iter().any(|p| p.action as usize == a))
        .collect();
    match shown[..] {
        [] => return Ok(Array2::from_elem((ns, na), 1.0 / na as f64)),
        [only] => {
            return Ok(Array2::from_shape_fn((ns, na), |(_, a)| {
                f64::from(a == only)
            }));
        }
        _ => {}
    }
    // Each pair's count, scaled down to at most `max_rows` rows in all.
    let max_rows = (MAX_CELLS / psi.ncols().max(1)).min(MAX_ROWS);
    let scale = (max_rows as f64 / c.n_transitions.max(1) as f64).min(1.0);
    let copies: Vec<usize> = c
        .pairs
        .iter()
        .map(|p| ((f64::from(p.count) * scale).round() as usize).max(1))
        .collect();
    let rows: usize = copies.iter().sum();
    let mut records = Array2::zeros((rows, psi.ncols()));
    let mut targets = Array1::zeros(rows);
    let mut at = 0;
    for (p, &k) in c.pairs.iter().zip(&copies) {
        for _ in 0..k {
            records.row_mut(at).assign(&psi.row(p.state as usize));
            targets[at] = p.action as usize;
            at += 1;
        }
    }
    let init = log_ratio_fit(psi, data, &shown)?;
    let model = multinomial(records, targets, init, L2, "bc")?;
    let probabilities = model.predict_probabilities(psi);
    let mut pi = Array2::zeros((ns, na));
    for (k, &a) in model.classes().iter().enumerate() {
        pi.column_mut(a).assign(&probabilities.column(k));
    }
    Ok(pi)
}

/// W₀ = argmin_W Σ_s n(s) ‖Wᵀψ(s) − log max(π̂_β(·|s), 10⁻⁶)‖² + λ‖W‖²
/// over the classes `shown`: the logistic regression's starting point.
fn log_ratio_fit(psi: &Array2<f64>, data: &TrainData, shown: &[usize]) -> Result<Array2<f64>> {
    let c = &data.compiled;
    let d = psi.ncols();
    let behavior = c.behavior_estimate();
    let visited = || c.state_count.iter().enumerate().filter(|(_, n)| **n > 0);
    let (factor, _) = linear::ridge_factor(
        d,
        visited().map(|(s, &n)| (psi.row(s), f64::from(n))),
        "bc: the state features",
    )?;
    let mut rhs = Array2::<f64>::zeros((d, shown.len()));
    for (s, &n) in visited() {
        let (x, n) = (psi.row(s), f64::from(n));
        for i in (0..d).filter(|&i| x[i] != 0.0) {
            for (k, &a) in shown.iter().enumerate() {
                rhs[[i, k]] += n * x[i] * behavior[[s, a]].max(LOG_FLOOR).ln();
            }
        }
    }
    linear::solve_factored(&factor, &mut rhs);
    Ok(rhs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// ψ comes back from either layout, and side by side from others.
    #[test]
    fn state_features_are_recovered_from_phi() {
        let psi = array![[1.0, 2.0], [3.0, 0.0], [0.5, -1.0]];
        let blocks = Array2::from_shape_fn((6, 4), |(row, i)| {
            let (s, a) = (row / 2, row % 2);
            if i / 2 == a { psi[[s, i % 2]] } else { 0.0 }
        });
        assert_eq!(state_features(&Phi::new(blocks, 2)), psi);
        let shared = Array2::from_shape_fn((6, 4), |(row, i)| {
            let (s, a) = (row / 2, row % 2);
            if i < 2 {
                psi[[s, i]]
            } else {
                f64::from(i - 2 == a)
            }
        });
        assert_eq!(state_features(&Phi::new(shared, 2)), psi);
        // Baird-like: neither layout, so every action's φ side by side.
        let other = array![[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]];
        assert_eq!(
            state_features(&Phi::new(other, 2)),
            array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
        );
    }
}
