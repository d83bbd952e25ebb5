//! The dataset compiled into an empirical MDP: per observed (s, a) its count,
//! mean reward and successor counts. Sweep-style learners cost
//! O(observed pairs + distinct successors), whatever the dataset's size.

use super::Dataset;
use crate::mdp::Policy;
use ndarray::Array2;

/// Marks an (s, a) never seen in the data in [`EmpiricalMdp::pair_index`].
pub const UNSEEN: u32 = u32::MAX;

/// One observed state-action pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObservedPair {
    pub state: u32,
    pub action: u32,
    /// n(s, a).
    pub count: u32,
    pub mean_reward: f64,
    /// Range of this pair's successors in [`EmpiricalMdp::successors`].
    pub successors_start: u32,
    pub successors_end: u32,
}

/// One observed successor of a pair; `(next_state, terminated)` is unique per pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Successor {
    pub next_state: u32,
    pub terminated: bool,
    pub count: u32,
    /// count / n(s, a).
    pub prob: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmpiricalMdp {
    pub n_states: usize,
    pub n_actions: usize,
    /// Observed pairs, sorted by (state, action).
    pub pairs: Vec<ObservedPair>,
    pub successors: Vec<Successor>,
    /// `pair_index[s * n_actions + a]` is the index into `pairs`, or [`UNSEEN`].
    pub pair_index: Vec<u32>,
    /// n(s) = Σ_a n(s, a).
    pub state_count: Vec<u32>,
    /// Number of transitions compiled.
    pub n_transitions: usize,
}

impl EmpiricalMdp {
    /// Counts every (s, a, s', terminated) of the dataset.
    pub fn compile(data: &Dataset) -> Self {
        let (ns, na) = (data.n_states, data.n_actions);
        let mut pair_count = vec![0u32; ns * na];
        let mut reward_sum = vec![0.0f64; ns * na];
        for i in 0..data.len() {
            let k = data.state[i] as usize * na + data.action[i] as usize;
            pair_count[k] += 1;
            reward_sum[k] += data.reward[i];
        }
        // Successor counts, keyed per pair; a sort keeps this O(n log n)
        // without a hash map per pair.
        let mut keys: Vec<(u32, u32, bool)> = (0..data.len())
            .map(|i| {
                (
                    data.state[i] * na as u32 + data.action[i],
                    data.next_state[i],
                    data.terminated[i],
                )
            })
            .collect();
        keys.sort_unstable();
        let mut pairs = Vec::new();
        let mut successors: Vec<Successor> = Vec::new();
        let mut pair_index = vec![UNSEEN; ns * na];
        let mut state_count = vec![0u32; ns];
        let mut i = 0;
        while i < keys.len() {
            let k = keys[i].0 as usize;
            let n = pair_count[k];
            let start = successors.len() as u32;
            let end = i + n as usize;
            while i < end {
                let (_, next, term) = keys[i];
                let mut c = 0;
                while i < end && keys[i].1 == next && keys[i].2 == term {
                    c += 1;
                    i += 1;
                }
                successors.push(Successor {
                    next_state: next,
                    terminated: term,
                    count: c,
                    prob: c as f64 / n as f64,
                });
            }
            pair_index[k] = pairs.len() as u32;
            state_count[k / na] += n;
            pairs.push(ObservedPair {
                state: (k / na) as u32,
                action: (k % na) as u32,
                count: n,
                mean_reward: reward_sum[k] / n as f64,
                successors_start: start,
                successors_end: successors.len() as u32,
            });
        }
        EmpiricalMdp {
            n_states: ns,
            n_actions: na,
            pairs,
            successors,
            pair_index,
            state_count,
            n_transitions: data.len(),
        }
    }

    /// The observed pair (s, a), if the data contains it.
    #[inline]
    pub fn pair(&self, s: usize, a: usize) -> Option<&ObservedPair> {
        match self.pair_index[s * self.n_actions + a] {
            UNSEEN => None,
            i => Some(&self.pairs[i as usize]),
        }
    }

    /// n(s, a), 0 when unseen.
    pub fn count(&self, s: usize, a: usize) -> u32 {
        self.pair(s, a).map_or(0, |p| p.count)
    }

    #[inline]
    pub fn successors_of(&self, pair: &ObservedPair) -> &[Successor] {
        &self.successors[pair.successors_start as usize..pair.successors_end as usize]
    }

    /// π̂_β(a|s) = n(s, a) / n(s); uniform on states the data never visits.
    pub fn behavior_estimate(&self) -> Policy {
        let mut pi =
            Array2::from_elem((self.n_states, self.n_actions), 1.0 / self.n_actions as f64);
        for (s, &n) in self.state_count.iter().enumerate() {
            if n > 0 {
                for a in 0..self.n_actions {
                    pi[[s, a]] = self.count(s, a) as f64 / n as f64;
                }
            }
        }
        pi
    }
}
