//! The run detail's model: the selected run's environment (built once per
//! id, when the detail opens, never while drawing: a `map:` id reads its
//! file), its learned Q table and policy, the states its data never acts
//! in, and the per-state overestimation max_a f(s,a) − V^π(s) computed
//! from them when they change. The heatmap draws what is here.

use crate::mdp::TabularMdp;
use ndarray::{Array1, Array2};
use std::collections::HashMap;
use std::sync::Arc;

/// The selected run's learned Q table and policy, for the heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailData {
    pub q: Array2<f64>,
    pub policy: Array2<f64>,
    /// The states the data never acts in (from the run's summary; none
    /// known for runs stored before it was recorded): the heatmap marks
    /// them, as their Q is the learner's convention for unseen states.
    pub unvisited: Vec<usize>,
}

/// What the detail's heatmap shows per state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Heatmap {
    /// What the learner believes: max_a f(s,a).
    #[default]
    MaxQ,
    /// Where it fools itself: max_a f(s,a) − V^π(s), V^π exact.
    Overestimation,
}

/// Environments by id, each built on first use and kept (the detail asks
/// again on every selection).
#[derive(Debug, Clone, Default)]
pub struct Envs(HashMap<String, Option<Arc<TabularMdp>>>);

impl Envs {
    /// The environment `id` names, if it builds (a missing map file, or an
    /// environment without a table, has none).
    pub fn get(&mut self, id: &str) -> Option<Arc<TabularMdp>> {
        self.0
            .entry(id.to_string())
            .or_insert_with(|| crate::mdp::envs::make(id).ok().map(Arc::new))
            .clone()
    }
}

/// Per state, max_a f(s,a) − V^π(s) ([`crate::eval::overestimation`]).
pub fn overestimation(
    mdp: &TabularMdp,
    gamma: f64,
    data: &DetailData,
) -> Result<Array1<f64>, String> {
    crate::eval::overestimation(mdp, gamma, &data.q, &data.policy).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdp::solve;

    #[test]
    fn overestimation_is_the_learned_max_minus_the_true_value() {
        let mdp = crate::mdp::envs::make("ImitationTrap-v0").unwrap();
        // Believes a1 is worth 5; a1 really ends with −10.
        let q = Array2::from_shape_fn((mdp.n_states(), mdp.n_actions()), |(_, a)| {
            [1.0, 5.0][a.min(1)]
        });
        let policy = solve::greedy(&q);
        let truth = solve::evaluate_policy(&mdp, &policy, 0.9).unwrap();
        let data = DetailData {
            q,
            policy,
            unvisited: Vec::new(),
        };
        let over = overestimation(&mdp, 0.9, &data).unwrap();
        assert_eq!(over.len(), mdp.n_states());
        assert!((over[0] - (5.0 - truth.v[0])).abs() < 1e-9, "{over}");
        assert!(over[0] > 14.0, "{over}");
    }
}
