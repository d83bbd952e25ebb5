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
    ///
    /// One pass over the transitions counts pairs, sums rewards (in dataset
    /// order) and counts each distinct (s, a, s', terminated) in a small hash
    /// table; only those distinct keys are then sorted. The cost is
    /// O(transitions + distinct keys · log), with memory for the distinct
    /// keys only. Counts are `u32`: collection and the CSV reader keep
    /// datasets within [`MAX_TRANSITIONS`](super::MAX_TRANSITIONS).
    pub fn compile(data: &Dataset) -> Self {
        let (ns, na) = (data.n_states, data.n_actions);
        let n = data.len();
        assert!(
            n <= super::MAX_TRANSITIONS,
            "{n} transitions overflow the 32-bit counts"
        );
        let mut pair_count = vec![0u32; ns * na];
        let mut reward_sum = vec![0.0f64; ns * na];
        // (s·|A| + a)·2|S| + 2s' + terminated: ordered as (s, a, s', terminated).
        let width = 2 * ns as u64;
        assert!(
            ((ns * na) as u64).checked_mul(width).is_some(),
            "{ns} states x {na} actions is too large to compile"
        );
        let mut counts = KeyCounts::new();
        let columns = data.state[..n]
            .iter()
            .zip(&data.action[..n])
            .zip(&data.reward[..n])
            .zip(&data.next_state[..n])
            .zip(&data.terminated[..n]);
        for ((((&s, &a), &r), &next), &term) in columns {
            let k = s as usize * na + a as usize;
            pair_count[k] += 1;
            reward_sum[k] += r;
            counts.add(k as u64 * width + 2 * u64::from(next) + u64::from(term));
        }
        let keys = counts.into_sorted();
        let mut pairs = Vec::new();
        let mut successors: Vec<Successor> = Vec::with_capacity(keys.len());
        let mut pair_index = vec![UNSEEN; ns * na];
        let mut state_count = vec![0u32; ns];
        let mut i = 0;
        while i < keys.len() {
            let k = (keys[i].0 / width) as usize;
            let n = pair_count[k];
            let start = successors.len() as u32;
            while i < keys.len() && (keys[i].0 / width) as usize == k {
                let (key, c) = keys[i];
                let successor = key % width;
                successors.push(Successor {
                    next_state: (successor / 2) as u32,
                    terminated: successor % 2 == 1,
                    count: c,
                    prob: f64::from(c) / f64::from(n),
                });
                i += 1;
            }
            pair_index[k] = pairs.len() as u32;
            state_count[k / na] += n;
            pairs.push(ObservedPair {
                state: (k / na) as u32,
                action: (k % na) as u32,
                count: n,
                mean_reward: reward_sum[k] / f64::from(n),
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
            n_transitions: n,
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
                    pi[[s, a]] = f64::from(self.count(s, a)) / f64::from(n);
                }
            }
        }
        pi
    }
}

/// Counts of `u64` keys in an open-addressing hash table (linear probing,
/// Fibonacci hashing, at most a quarter full so nearly every lookup hits on
/// its first probe). Sized by the number of distinct keys, not of additions.
struct KeyCounts {
    /// `EMPTY` marks a free slot; no real key reaches it (see `compile`).
    keys: Vec<u64>,
    counts: Vec<u32>,
    /// log2 of the capacity.
    bits: u32,
    len: usize,
}

impl KeyCounts {
    const EMPTY: u64 = u64::MAX;

    fn new() -> Self {
        let bits = 10;
        KeyCounts {
            keys: vec![Self::EMPTY; 1 << bits],
            counts: vec![0; 1 << bits],
            bits,
            len: 0,
        }
    }

    #[inline]
    fn slot(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - self.bits)) as usize
    }

    #[inline]
    fn add(&mut self, key: u64) {
        let mask = self.keys.len() - 1;
        let mut i = self.slot(key);
        loop {
            let k = self.keys[i];
            if k == key {
                self.counts[i] += 1;
                return;
            }
            if k == Self::EMPTY {
                break;
            }
            i = (i + 1) & mask;
        }
        self.keys[i] = key;
        self.counts[i] = 1;
        self.len += 1;
        if 4 * self.len > self.keys.len() {
            self.grow();
        }
    }

    #[cold]
    fn grow(&mut self) {
        let keys = std::mem::take(&mut self.keys);
        let counts = std::mem::take(&mut self.counts);
        self.bits += 1;
        self.keys = vec![Self::EMPTY; 1 << self.bits];
        self.counts = vec![0; 1 << self.bits];
        let mask = self.keys.len() - 1;
        for (key, count) in keys.into_iter().zip(counts) {
            if key != Self::EMPTY {
                let mut i = self.slot(key);
                while self.keys[i] != Self::EMPTY {
                    i = (i + 1) & mask;
                }
                self.keys[i] = key;
                self.counts[i] = count;
            }
        }
    }

    /// The (key, count) entries in increasing key order.
    fn into_sorted(self) -> Vec<(u64, u32)> {
        let mut entries: Vec<(u64, u32)> = self
            .keys
            .into_iter()
            .zip(self.counts)
            .filter(|&(key, _)| key != Self::EMPTY)
            .collect();
        entries.sort_unstable_by_key(|&(key, _)| key);
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The previous implementation (sort every transition), as the reference.
    fn compile_by_sorting(data: &Dataset) -> EmpiricalMdp {
        let (ns, na) = (data.n_states, data.n_actions);
        let mut pair_count = vec![0u32; ns * na];
        let mut reward_sum = vec![0.0f64; ns * na];
        for i in 0..data.len() {
            let k = data.state[i] as usize * na + data.action[i] as usize;
            pair_count[k] += 1;
            reward_sum[k] += data.reward[i];
        }
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
                    prob: f64::from(c) / f64::from(n),
                });
            }
            pair_index[k] = pairs.len() as u32;
            state_count[k / na] += n;
            pairs.push(ObservedPair {
                state: (k / na) as u32,
                action: (k % na) as u32,
                count: n,
                mean_reward: reward_sum[k] / f64::from(n),
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

    fn dataset(max_states: u32, max_len: usize) -> impl Strategy<Value = Dataset> {
        (1..=max_states, 1u32..=6).prop_flat_map(move |(ns, na)| {
            prop::collection::vec(
                (0..ns, 0..na, -5.0f64..5.0, 0..ns, any::<bool>()),
                0..max_len,
            )
            .prop_map(move |rows| {
                let mut d = Dataset::new(ns as usize, na as usize);
                for (i, (s, a, r, s2, term)) in rows.into_iter().enumerate() {
                    d.push(0, i as u32, s, a, r, s2, term, false);
                }
                d
            })
        })
    }

    proptest! {
        #[test]
        fn counting_matches_sorting(data in dataset(40, 3000)) {
            prop_assert_eq!(EmpiricalMdp::compile(&data), compile_by_sorting(&data));
        }

        /// Few states, many transitions: long successor lists and repeats.
        #[test]
        fn counting_matches_sorting_on_dense_data(data in dataset(3, 5000)) {
            prop_assert_eq!(EmpiricalMdp::compile(&data), compile_by_sorting(&data));
        }
    }

    #[test]
    fn grows_past_its_first_capacity() {
        // 4000 distinct keys: the table doubles several times.
        let mut d = Dataset::new(2000, 1);
        for s in 0..2000u32 {
            for term in [false, true] {
                d.push(0, 0, s, 0, f64::from(s), (s * 7) % 2000, term, false);
                d.push(0, 0, s, 0, 1.0, (s * 7) % 2000, term, false);
            }
        }
        assert_eq!(EmpiricalMdp::compile(&d), compile_by_sorting(&d));
        assert_eq!(EmpiricalMdp::compile(&d).successors.len(), 4000);
    }
}
