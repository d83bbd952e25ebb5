//! `bc`: behaviour cloning (Pomerleau 1991), tabular form:
//!
//!   π(a|s) = n(s,a) / n(s),   uniform on states the data never visits.
//!
//! BC has no critic of its own; so the dashboard can still compare belief
//! with truth, its Q is what the data says the cloned policy is worth:
//! `fqe` of π, f(s,a) ← r + γ Σ_a' π(a'|s') f(s',a') on the observed pairs,
//! one sweep an iteration (unseen pairs stay 0). The loss is that sweep's
//! largest |ΔQ|. The policy is final from the start. No hyper-parameters.

use super::fqe::Evaluate;
use super::{Algorithm, ParamReader, Params, TrainData};
use crate::error::Result;

pub const NAME: &str = "bc";

/// No hyper-parameters: reading only rejects keys.
pub struct Config;

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        Ok((Config, ParamReader::new(NAME, params).finish()?))
    }
}

pub fn build(params: &Params, data: TrainData) -> Result<Box<dyn Algorithm>> {
    Config::read(params)?;
    Ok(Evaluate::boxed(&data, data.compiled.behavior_estimate()))
}
