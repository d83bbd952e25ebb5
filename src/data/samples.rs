//! The sample-based form of a dataset of observations: a continuous
//! environment has no table of states, so the states of its empirical MDP
//! are the dataset's own sample points, each transition's observation and
//! next observation. Consecutive transitions of an episode share one
//! (transition i's next observation is transition i + 1's observation, bit
//! for bit), so N transitions in E episodes give N + E states. Each
//! observed pair (o_i, a_i) then has the single successor o'_i, and
//! [`crate::data::EmpiricalMdp::compile`] of the indexed [`Dataset`] is
//! the empirical MDP every learner reads; the features of the points,
//! computed once ([`crate::features::ObservationFeatures::phi`]), carry
//! what the states have in common. Equal observations elsewhere (two
//! episodes through one point) stay separate states: with the same
//! features they have the same Q, and the least-squares fit weighs them
//! as one state seen twice.
//!
//! Wiring a dataset in is three calls: [`Samples::new`] on its columns,
//! the features of `samples.points`, [`crate::algo::TrainData::samples`].

use super::Dataset;
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2};

/// A dataset of observations, column by column (N transitions; the
/// observations N × d).
#[derive(Debug, Clone, Copy)]
pub struct Transitions<'a> {
    pub obs: ArrayView2<'a, f64>,
    pub action: &'a [u32],
    pub reward: &'a [f64],
    pub next_obs: ArrayView2<'a, f64>,
    pub terminated: &'a [bool],
}

/// The sample states of a dataset of observations and the dataset on them.
#[derive(Debug, Clone)]
pub struct Samples {
    /// The sample states' observations, states × d.
    pub points: Array2<f64>,
    /// The transitions with their observations replaced by the indices of
    /// their sample states; episodes are numbered where one transition's
    /// observation is not the previous one's next observation.
    pub dataset: Dataset,
}

impl Samples {
    /// The sample states of `t`, whose actions are below `n_actions`; an
    /// error names a column of the wrong length or the first bad action.
    pub fn new(t: &Transitions, n_actions: usize) -> Result<Self> {
        let n = t.obs.nrows();
        let d = t.obs.ncols();
        let lengths = [
            ("next observations", t.next_obs.nrows()),
            ("actions", t.action.len()),
            ("rewards", t.reward.len()),
            ("terminated flags", t.terminated.len()),
        ];
        if let Some((what, len)) = lengths.iter().find(|(_, len)| *len != n) {
            return Err(Error::Invalid(format!(
                "{n} observations but {len} {what}: one of each per transition"
            )));
        }
        if t.next_obs.ncols() != d {
            return Err(Error::Invalid(format!(
                "observations of {d} components but next observations of {}",
                t.next_obs.ncols()
            )));
        }
        if let Some(i) = t.action.iter().position(|&a| a as usize >= n_actions) {
            return Err(Error::Invalid(format!(
                "transition {i}: action {} is out of range 0..{n_actions}",
                t.action[i]
            )));
        }
        if n > super::MAX_TRANSITIONS / 2 {
            return Err(Error::Invalid(format!(
                "{n} transitions: at most {} have 32-bit sample states",
                super::MAX_TRANSITIONS / 2
            )));
        }
        let same = |i: usize| {
            i > 0
                && t.obs
                    .row(i)
                    .iter()
                    .zip(t.next_obs.row(i - 1))
                    .all(|(a, b)| a.to_bits() == b.to_bits())
        };
        // Sample states in order of first sight: o_0, o'_0, (o_1 if it is
        // not o'_0), o'_1, …
        let mut points = Vec::with_capacity((n + 1) * d);
        let mut state = Vec::with_capacity(n);
        let mut episode = Vec::with_capacity(n);
        let mut step = Vec::with_capacity(n);
        let (mut episodes, mut t_in) = (0u32, 0u32);
        for i in 0..n {
            if same(i) {
                t_in += 1;
            } else {
                if i > 0 {
                    episodes += 1;
                }
                t_in = 0;
                points.extend(t.obs.row(i).iter());
            }
            state.push((points.len() / d.max(1) - 1) as u32);
            points.extend(t.next_obs.row(i).iter());
            episode.push(episodes);
            step.push(t_in);
        }
        let n_states = points.len() / d.max(1);
        let next_state = state.iter().map(|&s| s + 1).collect();
        let dataset = Dataset {
            n_states,
            n_actions,
            episode,
            step,
            state,
            action: t.action.to_vec(),
            reward: t.reward.to_vec(),
            next_state,
            terminated: t.terminated.to_vec(),
            truncated: vec![false; n],
            behavior: None,
        };
        Ok(Samples {
            points: Array2::from_shape_vec((n_states, d), points).expect("states × d"),
            dataset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Two episodes of two and one transitions: 3 + 2 states, each
    /// transition's next state the one after its state.
    #[test]
    fn consecutive_transitions_share_their_point() {
        let obs = array![[0.0, 1.0], [0.5, 1.5], [9.0, 9.0]];
        let next_obs = array![[0.5, 1.5], [0.7, 1.7], [9.5, 9.5]];
        let t = Transitions {
            obs: obs.view(),
            action: &[0, 1, 1],
            reward: &[-1.0, -1.0, 2.0],
            next_obs: next_obs.view(),
            terminated: &[false, true, false],
        };
        let s = Samples::new(&t, 2).unwrap();
        assert_eq!(
            s.points,
            array![[0.0, 1.0], [0.5, 1.5], [0.7, 1.7], [9.0, 9.0], [9.5, 9.5]]
        );
        let d = &s.dataset;
        assert_eq!((d.n_states, d.n_actions, d.len()), (5, 2, 3));
        assert_eq!(d.state, [0, 1, 3]);
        assert_eq!(d.next_state, [1, 2, 4]);
        assert_eq!(d.episode, [0, 0, 1]);
        assert_eq!(d.step, [0, 1, 0]);
        assert_eq!(d.terminated, [false, true, false]);
        let e = Samples::new(&t, 1).unwrap_err().to_string();
        assert!(
            e.contains("transition 1: action 1 is out of range 0..1"),
            "{e}"
        );
        let short = Transitions {
            reward: &[0.0],
            ..t
        };
        let e = Samples::new(&short, 2).unwrap_err().to_string();
        assert!(e.contains("3 observations but 1 rewards"), "{e}");
    }
}
