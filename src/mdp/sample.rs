//! Sampling from a TabularMdp. (Issue 3 — data helper.)

use super::{Outcome, TabularMdp};
use rand::Rng;

/// Draws initial states and transitions.
pub struct Sampler {}

impl Sampler {
    pub fn new(mdp: &TabularMdp) -> Self {
        let _ = mdp;
        todo!("data helper")
    }
    pub fn reset<R: Rng>(&self, rng: &mut R) -> usize {
        let _ = rng;
        todo!("data helper")
    }
    pub fn step<R: Rng>(&self, s: usize, a: usize, rng: &mut R) -> Outcome {
        let _ = (s, a, rng);
        todo!("data helper")
    }
}
