//! What evaluation knows of an MDP at a γ whatever the data: the optimal
//! policy's occupancy, the random policy's return, D4RL's episode scale,
//! and the exact truth of every policy evaluated lately. A sweep evaluates
//! thousands of runs on a few (environment, γ) pairs, and their learners
//! often reach the same policy bit for bit (the greedy policy of an
//! all-zero table at iteration 0, the optimal policy on good data): each is
//! solved once per process, not once per run and eval point. Every value
//! is a pure function of (MDP, γ, π), so sharing changes no number.

use super::PolicyTruth;
use crate::error::Result;
use crate::mdp::solve::{self, EpisodeScale};
use crate::mdp::{Policy, TabularMdp};
use ndarray::Array2;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// How many (MDP, γ) pairs a process keeps: a sweep has a few; past this,
/// the oldest is dropped.
const KEPT_REFERENCES: usize = 16;
/// How many bytes of policies each pair's memo keeps (with their values,
/// about three times as much): 16 MiB is 700 Taxi policies, 60 000 on
/// FrozenLake8x8. Past this the oldest are dropped.
const KEPT_POLICY_BYTES: usize = 16 << 20;

/// One (MDP, γ)'s reference values and its memo of policy truths.
pub struct Reference {
    /// J of the uniform random policy.
    pub random_return: f64,
    /// The episode returns that score 0 and 100.
    pub scale: EpisodeScale,
    /// d^{π*}(s,a), the optimal policy's discounted occupancy: the
    /// numerator of every dataset's concentrability.
    pub optimal_occupancy: Array2<f64>,
    memo: Mutex<Memo>,
}

/// Truths by a hash of the policy's bits, the full policy compared on a
/// hit; the oldest dropped first.
#[derive(Default)]
struct Memo {
    truths: HashMap<u64, Vec<(Policy, Arc<PolicyTruth>)>>,
    order: VecDeque<u64>,
    bytes: usize,
}

fn policy_hash(policy: &Policy) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    policy.dim().hash(&mut h);
    policy.iter().for_each(|x| x.to_bits().hash(&mut h));
    h.finish()
}

fn same_bits(a: &Policy, b: &Policy) -> bool {
    a.dim() == b.dim() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

impl Reference {
    fn new(mdp: &TabularMdp, gamma: f64) -> Result<Self> {
        let optimal = solve::optimal(mdp, gamma)?.policy;
        Ok(Reference {
            optimal_occupancy: solve::occupancy(mdp, &optimal, gamma)?,
            random_return: solve::evaluate_policy(mdp, &mdp.uniform_policy(), gamma)?.j,
            scale: EpisodeScale::new(mdp)?,
            memo: Mutex::default(),
        })
    }

    /// The reference of `mdp` at `gamma`, shared with every evaluator of
    /// an equal MDP (compared whole, so an edited MDP file is another).
    pub fn of(mdp: &Arc<TabularMdp>, gamma: f64) -> Result<Arc<Reference>> {
        type Kept = Vec<(Arc<TabularMdp>, u64, Arc<Reference>)>;
        static KEPT: OnceLock<Mutex<Kept>> = OnceLock::new();
        let kept = KEPT.get_or_init(Mutex::default);
        let found = |list: &Kept| {
            list.iter()
                .find(|(m, g, _)| *g == gamma.to_bits() && (Arc::ptr_eq(m, mdp) || **m == **mdp))
                .map(|(_, _, r)| r.clone())
        };
        if let Some(r) = found(&kept.lock().unwrap_or_else(PoisonError::into_inner)) {
            return Ok(r);
        }
        // Computed unlocked: two threads may both solve a new MDP once.
        let made = Arc::new(Reference::new(mdp, gamma)?);
        let mut list = kept.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = found(&list) {
            return Ok(r);
        }
        if list.len() == KEPT_REFERENCES {
            list.remove(0);
        }
        list.push((mdp.clone(), gamma.to_bits(), made.clone()));
        Ok(made)
    }

    /// The truth of `policy`, from the memo or computed by `compute`.
    pub(super) fn truth(
        &self,
        policy: &Policy,
        compute: impl FnOnce() -> Result<PolicyTruth>,
    ) -> Result<Arc<PolicyTruth>> {
        let hash = policy_hash(policy);
        let lock = || self.memo.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = lock().truths.get(&hash)
            && let Some((_, truth)) = list.iter().find(|(p, _)| same_bits(p, policy))
        {
            return Ok(truth.clone());
        }
        let truth = Arc::new(compute()?);
        let size = policy.len() * size_of::<f64>();
        let mut memo = lock();
        memo.truths
            .entry(hash)
            .or_default()
            .push((policy.clone(), truth.clone()));
        memo.order.push_back(hash);
        memo.bytes += size;
        while memo.bytes > KEPT_POLICY_BYTES
            && let Some(oldest) = memo.order.pop_front()
        {
            let Some(list) = memo.truths.get_mut(&oldest) else {
                continue;
            };
            // Entries of one hash are pushed and popped in order.
            let (dropped, _) = list.remove(0);
            if list.is_empty() {
                memo.truths.remove(&oldest);
            }
            memo.bytes -= dropped.len() * size_of::<f64>();
        }
        Ok(truth)
    }
}
