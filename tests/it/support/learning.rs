//! What the algorithm tests share: training data from a dataset, parameter
//! maps, trained learners, and datasets whose empirical MDP is the true one.

use pessimist::algo::{self, Algorithm, ParamValue, Params, TrainData};
use pessimist::data::Dataset;
use pessimist::mdp::TabularMdp;
use std::sync::Arc;

pub fn train_data(mdp: &TabularMdp, dataset: Dataset, gamma: f64, seed: u64) -> TrainData {
    TrainData::new(Arc::new(mdp.clone()), dataset, gamma, seed)
}

pub fn params(pairs: &[(&str, ParamValue)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub fn text(s: &str) -> ParamValue {
    ParamValue::Text(s.to_string())
}

pub fn trained(name: &str, p: &Params, data: &TrainData, iterations: usize) -> Box<dyn Algorithm> {
    let mut learner = algo::build(name, p, data).unwrap();
    for _ in 0..iterations {
        learner.step().unwrap();
    }
    learner
}

/// A dataset whose empirical MDP *is* the true MDP: every outcome of every
/// (s, a) of non-absorbing states appears in proportion to its probability
/// (the built-in envs have probabilities that are multiples of 1/3 or 1/2...).
pub fn exact_dataset(mdp: &TabularMdp) -> Dataset {
    let mut d = Dataset::new(mdp.n_states(), mdp.n_actions());
    let mut episode = 0;
    for s in (0..mdp.n_states()).filter(|&s| !mdp.is_absorbing(s)) {
        for a in 0..mdp.n_actions() {
            for o in mdp.outcomes(s, a) {
                let copies = (o.prob * 12.0).round() as usize;
                assert!((copies as f64 / 12.0 - o.prob).abs() < 1e-12);
                for _ in 0..copies {
                    d.push(
                        episode,
                        0,
                        s as u32,
                        a as u32,
                        o.reward,
                        o.next,
                        o.terminated,
                        !o.terminated,
                    );
                    episode += 1;
                }
            }
        }
    }
    d
}

/// A digest of a learner's Q and π, bit for bit: what a test compares
/// against results recorded from earlier code.
pub fn digest(learner: &dyn Algorithm) -> String {
    digest_values(learner.q().iter().chain(learner.policy().iter()).copied())
}

/// FNV-1a over the bits of `values`.
pub fn digest_values(values: impl Iterator<Item = f64>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for x in values {
        for byte in x.to_bits().to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
