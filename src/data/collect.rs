//! Behaviour policies and seeded collection. (Issue 3 — data helper.)

use super::{Dataset, Quality};
use crate::error::Result;
use crate::mdp::TabularMdp;

/// Collects `size` transitions with the behaviour policy named by `quality`
/// (calibrated with discount `gamma`), deterministically from `seed`.
/// Episodes are truncated at the environment's time limit; the last episode
/// is cut (truncated) when `size` is reached.
pub fn collect(
    mdp: &TabularMdp,
    quality: Quality,
    size: usize,
    seed: u64,
    gamma: f64,
) -> Result<Dataset> {
    let _ = (mdp, quality, size, seed, gamma);
    todo!("data helper")
}
