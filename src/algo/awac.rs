//! `awac`: advantage-weighted actor-critic (Nair, Dalal, Gupta & Levine
//! 2020, arXiv:2006.09359), tabular form. The critic evaluates the current policy,
//!
//!   f(s,a) ← r + γ E_{a'~π} f(s',a')   on the observed pairs,
//!
//! and the actor is the weighted maximum-likelihood fit on dataset actions,
//! max_π E_{(s,a)~D}[log π(a|s) exp(A(s,a)/λ)] with A = f − E_π f, whose
//! tabular solution is
//!
//!   π(a|s) ∝ π̂_β(a|s) exp(A(s,a) / λ) = π̂_β(a|s) exp(f(s,a) / λ) / Z(s).
//!
//! The baseline E_π f cancels in the normalisation, so in a table AWAC is
//! exactly BRAC's policy variant with α = λ (a test checks it); with
//! function approximation they differ in how the actor is fitted. Actions
//! the data never shows in a visited state get no mass; states the data
//! never visits have a uniform π̂_β.
//!
//! Keys ([`KEYS`]): `lambda` (the temperature in the data's value unit,
//! [`super::scale`], as `brac`'s α; chosen on
//! `experiments/defaults_panel.toml`; the paper's λ = 1 is in the
//! absolute units of its tasks' rewards), `q_init` (as `fqi`). Loss: the
//! sweep's largest |ΔQ|.
//!
//! With features (Q = θᵀφ): as `brac`'s policy variant, least-squares
//! evaluation of the tilted π on the observed pairs, v(s') clipped to the
//! returns the rewards allow; off the data's states its actor is `brac`'s,
//! the tilt on clip(Q) − U·u.

use super::brac::{Brac, Penalty};
use super::linear::{self, Cells};
use super::tabular::{INIT_SCALE, Q_INIT, QInit};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;

pub const NAME: &str = "awac";

const LAMBDA: Key = Key::number("lambda", 0.03, 1e-9, 1e12)
    .unit("U")
    .meaning("the advantage weights' temperature, as brac's α");

/// awac's keys.
pub const KEYS: &[Key] = &[LAMBDA, Q_INIT, INIT_SCALE];

pub struct Config {
    pub lambda: f64,
    pub q_init: QInit,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let lambda = r.number_of(&LAMBDA)?;
        let q_init = QInit::read(&mut r)?;
        Ok((Config { lambda, q_init }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let init = config.q_init.table(data);
    let rule = Brac::new(data, config.lambda, Penalty::Policy);
    linear::or_table(rule, &init, Cells::Observed, data)
}
