//! π̂_β, the behaviour policy as the data shows it, which bc clones and
//! the policy-constrained learners (bcq, brac, awac, iql, td3bc, atac,
//! fisher-brc, vi-lcb) hold their policies to.
//!
//! On a table, and on sample states whose features partition the
//! observations (one tiling: a grid's cells), it is the count ratio
//! n(s,a)/n(s), uniform where the data never was: the maximum-likelihood
//! estimate. On sample states with overlapping features (several tilings,
//! RBF, Fourier) nearly every observation is its own state, seen once, so
//! the count ratio is one-hot on the action taken there and says nothing
//! about the next observation; π̂_β is then the multinomial logistic
//! regression of the actions on ψ(o) (bc's linear form on a table, here
//! on ψ's nonzeros: [`super::logistic::fit`]), π̂_β(a|o) =
//! softmax_a(w_aᵀψ(o)), which generalises across observations as the
//! critic does and gives π̂_β at any observation off the data too
//! ([`Behavior::at`]). A sample state is one row of the fit, with its
//! counts n(s,·): tile-coded data merge into a few thousand states, so
//! every transition counts at any size. Features that merge nothing
//! (Fourier) are fitted on at most [`MAX_ROWS`] states (every k-th, with
//! all their transitions). The coefficients carry an L2 weight [`L2`].

use super::TrainData;
use super::logistic;
use crate::data::EmpiricalMdp;
use crate::error::{Error, Result};
use crate::features::{Phi, PsiRow};
use crate::mdp::Policy;
use crate::memo::Memo;
use ndarray::Array2;
use std::sync::{Arc, Weak};

/// The L2 weight on the coefficients, against a log-likelihood summed
/// over the fitted transitions: each weight is held towards 0 as by about
/// one transition of evidence, so a tile that a single transition visits
/// does not claim certainty about its action.
pub const L2: f64 = 1.0;

/// The most sample states the regression fits, as many as it fitted
/// transitions before it read counts: a gradient costs O(states ·
/// nonzeros · actions), and tile-coded data never reach it (1M
/// MountainCar transitions merge into about 3,000 states).
pub const MAX_ROWS: usize = 20_000;

/// How many estimates a process keeps: the learners of a sweep share
/// each dataset.
const KEPT: usize = 64;

/// π̂_β on the data's states and off them.
#[derive(Debug, Clone)]
pub struct Behavior {
    /// π̂_β(a|s) at each of the data's (merged) states.
    pub table: Policy,
    /// The logits' weights w_a, one row per action (−∞ for an action
    /// the data never shows), for observations off the data; `None`:
    /// uniform there (a table, or a partition's unvisited cells).
    logits: Option<Array2<f64>>,
}

impl Behavior {
    /// π̂_β(·|o) of an observation off the data's states, by its ψ.
    pub fn at(&self, psi: &PsiRow, out: &mut [f64]) {
        let Some(w) = &self.logits else {
            out.fill(1.0 / out.len() as f64);
            return;
        };
        for (o, w) in out.iter_mut().zip(w.outer_iter()) {
            *o = if w[0] == f64::NEG_INFINITY {
                f64::NEG_INFINITY
            } else {
                psi.dot(w.as_slice().expect("rows are contiguous"))
            };
        }
        softmax(out);
    }
}

/// The data's π̂_β (module doc), once per dataset and features while they
/// live.
pub fn of(data: &TrainData) -> Result<Arc<Behavior>> {
    let Some(phi) = data.phi.as_ref().filter(|phi| phi.state_width().is_some()) else {
        return Ok(Arc::new(counts(data)));
    };
    if phi.is_partition() {
        return Ok(Arc::new(counts(data)));
    }
    static KEPT_ESTIMATES: Kept<Behavior> = Memo::new(KEPT);
    per_dataset(&KEPT_ESTIMATES, data, phi, || {
        regression(phi, data).map_err(|e| e.to_string())
    })
}

/// What a process keeps per dataset and features (weak keys: a dropped
/// dataset's entry matches nothing), or the error computing it gave.
pub(super) type Kept<V> =
    Memo<(Weak<EmpiricalMdp>, Weak<Phi>), std::result::Result<Arc<V>, String>>;

/// `compute` once per dataset and features `phi` while they live, kept
/// in `memo`: every learner of a sweep on one dataset shares it.
pub(super) fn per_dataset<V>(
    memo: &Kept<V>,
    data: &TrainData,
    phi: &Arc<Phi>,
    compute: impl FnOnce() -> std::result::Result<V, String>,
) -> Result<Arc<V>> {
    memo.get_or_compute(
        |(c, p)| {
            c.upgrade().is_some_and(|c| Arc::ptr_eq(&c, &data.compiled))
                && p.upgrade().is_some_and(|p| Arc::ptr_eq(&p, phi))
        },
        || (Arc::downgrade(&data.compiled), Arc::downgrade(phi)),
        || compute().map(Arc::new),
    )
    .map_err(Error::Invalid)
}

fn counts(data: &TrainData) -> Behavior {
    Behavior {
        table: data.compiled.behavior_estimate(),
        logits: None,
    }
}

/// Multinomial logistic regression of the actions on ψ of sample states.
fn regression(phi: &Phi, data: &TrainData) -> Result<Behavior> {
    let c = &data.compiled;
    let (ns, na) = (c.n_states, c.n_actions);
    let width = phi.state_width().expect("φ of sample states");
    let shown: Vec<usize> = (0..na)
        .filter(|&a| c.pairs.iter().any(|p| p.action as usize == a))
        .collect();
    let mut logits = Array2::from_elem((na, width), f64::NEG_INFINITY);
    if shown.len() < 2 {
        // One action or none: nothing to regress.
        for &a in &shown {
            logits.row_mut(a).fill(0.0);
        }
    } else {
        let visited = c.state_count.iter().filter(|&&n| n > 0).count();
        let stride = visited.div_ceil(MAX_ROWS).max(1);
        let mut rows = logistic::Rows::new(width, shown.len());
        let mut n = vec![0.0; shown.len()];
        for pairs in c.pairs.chunk_by(|p, q| p.state == q.state).step_by(stride) {
            phi.psi_each(pairs[0].state as usize, |column, x| rows.entry(column, x));
            n.fill(0.0);
            for p in pairs {
                let k = shown
                    .binary_search(&(p.action as usize))
                    .expect("a shown action");
                n[k] = f64::from(p.count);
            }
            rows.end_row(&n);
        }
        let w = logistic::fit(
            &rows,
            Array2::zeros((width, shown.len())),
            L2,
            "the behaviour estimate",
        )?;
        for (k, &a) in shown.iter().enumerate() {
            logits.row_mut(a).assign(&w.column(k));
        }
    }
    let mut table = Array2::zeros((ns, na));
    for (s, mut row) in table.outer_iter_mut().enumerate() {
        for (o, w) in row.iter_mut().zip(logits.outer_iter()) {
            *o = if w[0] == f64::NEG_INFINITY {
                f64::NEG_INFINITY
            } else {
                phi.psi_dot(s, w.as_slice().expect("rows are contiguous"))
            };
        }
        softmax(row.as_slice_mut().expect("rows are contiguous"));
    }
    Ok(Behavior {
        table,
        logits: Some(logits),
    })
}

/// Logits to probabilities in place (−∞ logits get 0).
fn softmax(x: &mut [f64]) {
    let top = crate::mdp::solve::max_value(&*x);
    let mut total = 0.0;
    for v in x.iter_mut() {
        *v = (*v - top).exp();
        total += *v;
    }
    for v in x.iter_mut() {
        *v /= total;
    }
}
