//! `bc`: behaviour cloning (Pomerleau 1991), tabular form:
//! π(a|s) = n(s,a) / n(s), uniform on states the data never visits.
//!
//! BC has no critic of its own; so the dashboard can still compare belief
//! with truth, its Q is what the data says the cloned policy is worth:
//! each iteration applies one sweep of the empirical Bellman evaluation
//! operator of π (fitted Q evaluation on the compiled dataset, unseen pairs
//! at 0); its loss is that sweep's largest |ΔQ|. The policy is final after
//! the first iteration. No hyper-parameters.

use super::tabular::{Backup, load_table, save_table};
use super::{Algorithm, ParamReader, Params, StepReport, TrainData};
use crate::error::Result;
use crate::mdp::{Policy, solve};
use ndarray::Array2;

pub const NAME: &str = "bc";

pub fn read(params: &Params) -> Result<Params> {
    ParamReader::new(NAME, params).finish()
}

pub struct Bc {
    policy: Policy,
    q: Array2<f64>,
    backup: Backup,
}

pub fn build(params: &Params, data: TrainData) -> Result<Box<dyn Algorithm>> {
    read(params)?;
    Ok(Box::new(Bc::new(&data)))
}

impl Bc {
    pub fn new(data: &TrainData) -> Self {
        let c = &data.compiled;
        Bc {
            policy: c.behavior_estimate(),
            q: Array2::zeros((c.n_states, c.n_actions)),
            backup: Backup::new(c, data.gamma),
        }
    }
}

impl Algorithm for Bc {
    fn step(&mut self) -> Result<StepReport> {
        let v = solve::state_values(&self.q, &self.policy);
        let q = self.q.as_slice_mut().expect("Q is contiguous");
        let loss = self.backup.apply(&v, q);
        Ok(StepReport { loss })
    }

    fn q(&self) -> Array2<f64> {
        self.q.clone()
    }

    fn policy(&self) -> Policy {
        self.policy.clone()
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::json!({ "q": save_table(&self.q) })
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        self.q = load_table(&state["q"], self.q.dim())?;
        Ok(())
    }
}
