//! Datasets of vector observations, for the continuous-state environments
//! of [`crate::env`].
//!
//! An [`ObsDataset`] is a [`super::Dataset`] whose state columns are
//! observation vectors: `obs` and `next_obs` hold N × d numbers, row-major
//! and contiguous, so a learner reads them as [`ArrayView2`]s without a
//! copy (features are computed once over those views).
//! - [`collect`]: the D4RL qualities from the environment's classical
//!   controller, with the reference returns that normalize their scores;
//! - [`files`]: CSV (`obs_0..obs_{d-1}`, `next_obs_0..`) and `.npz`
//!   (D4RL's array names).

pub mod collect;
pub mod files;

pub use collect::{ObsProvenance, collect_id, collect_obs};
pub use files::{
    read_obs_csv, read_obs_file, read_obs_file_hashed, read_obs_npz, write_obs_csv, write_obs_npz,
};

use super::Columns;
use crate::env::Observation;
use ndarray::ArrayView2;

/// Transitions of a continuous-state environment, as columns.
///
/// Row `i` is (`obs` row i, `action[i]`) → (`reward[i]`, `next_obs` row i)
/// at step `step[i]` of episode `episode[i]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObsDataset {
    /// The length d of an observation.
    pub obs_dim: usize,
    pub n_actions: usize,
    pub episode: Vec<u32>,
    pub step: Vec<u32>,
    /// N × d, row-major.
    pub obs: Vec<f64>,
    pub action: Vec<u32>,
    pub reward: Vec<f64>,
    /// N × d, row-major.
    pub next_obs: Vec<f64>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
}

impl ObsDataset {
    /// An empty dataset for observations of `obs_dim` numbers.
    pub fn new(obs_dim: usize, n_actions: usize) -> Self {
        ObsDataset {
            obs_dim,
            n_actions,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.action.len()
    }

    pub fn is_empty(&self) -> bool {
        self.action.is_empty()
    }

    /// Number of episodes (distinct, consecutive episode ids).
    pub fn n_episodes(&self) -> usize {
        super::count_episodes(&self.episode)
    }

    /// The observations as an N × d matrix, without a copy.
    pub fn observations(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.len(), self.obs_dim), &self.obs).expect("N × d numbers")
    }

    /// The next observations as an N × d matrix, without a copy.
    pub fn next_observations(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.len(), self.obs_dim), &self.next_obs).expect("N × d numbers")
    }

    /// The columns the sample-based form reads, without a copy.
    pub fn transitions(&self) -> crate::data::Transitions<'_> {
        crate::data::Transitions {
            obs: self.observations(),
            action: &self.action,
            reward: &self.reward,
            next_obs: self.next_observations(),
            terminated: &self.terminated,
        }
    }

    /// Reserves room for `additional` more transitions in every column,
    /// as [`super::Dataset::try_reserve`] does.
    pub fn try_reserve(&mut self, additional: usize) -> crate::Result<()> {
        let d = self.obs_dim;
        let total = super::check_total(self.len(), additional)?;
        let bytes = 2 * d * size_of::<f64>() + super::BYTES_PER_TRANSITION - 2 * size_of::<u32>();
        let fail = super::reserve_error(total, bytes);
        let rows = additional.saturating_mul(d);
        self.obs.try_reserve(rows).map_err(fail)?;
        self.next_obs.try_reserve(rows).map_err(fail)?;
        self.columns().try_reserve(additional).map_err(fail)
    }

    /// The columns every dataset has.
    pub(super) fn columns(&mut self) -> Columns<'_> {
        columns!(self)
    }

    /// Appends one transition (inlined: the inner loop of collection).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn push<O: Observation>(
        &mut self,
        episode: u32,
        step: u32,
        obs: &O,
        action: u32,
        reward: f64,
        next_obs: &O,
        terminated: bool,
        truncated: bool,
    ) {
        obs.extend(&mut self.obs);
        next_obs.extend(&mut self.next_obs);
        self.columns()
            .push(episode, step, action, reward, terminated, truncated);
    }

    /// Appends the rows of `other` (same d).
    fn append(&mut self, other: &mut ObsDataset) {
        self.obs.extend_from_slice(&other.obs);
        self.next_obs.extend_from_slice(&other.next_obs);
        self.columns().append(&other.columns());
    }
}
