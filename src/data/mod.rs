//! Offline datasets: transitions with episode boundaries, the behaviour
//! policy that collected them, and their compiled empirical MDP.
//!
//! A [`Dataset`] is a struct of arrays (one column per CSV field) so that
//! collection, CSV I/O and compilation stream through memory. Tabular
//! learners never loop over raw transitions more than once: they read the
//! [`EmpiricalMdp`] built by [`EmpiricalMdp::compile`].

pub mod collect;
pub mod csv;
pub mod empirical;
pub mod npy;

pub use collect::{Calibration, collect, collect_calibrated, collect_with_policy};
pub use csv::{read_csv, write_csv};
pub use empirical::{EmpiricalMdp, ObservedPair, Successor};
pub use npy::write_npz;

use crate::mdp::Policy;
use serde::{Deserialize, Serialize};

/// The most transitions a dataset may hold: episode ids, steps, the
/// empirical MDP's counts and its pair and successor offsets are `u32`.
pub const MAX_TRANSITIONS: usize = u32::MAX as usize;

/// Memory of one transition across the columns.
const BYTES_PER_TRANSITION: usize = 5 * size_of::<u32>() + size_of::<f64>() + 2;

/// D4RL's dataset quality names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quality {
    Random,
    Medium,
    Expert,
    MediumReplay,
    MediumExpert,
    /// The environment's own documented behaviour policy (the lecture's toy
    /// problems define one: see [`crate::mdp::TabularMdp::behavior`]).
    Behavior,
}

impl Quality {
    pub const ALL: [Quality; 6] = [
        Quality::Random,
        Quality::Medium,
        Quality::Expert,
        Quality::MediumReplay,
        Quality::MediumExpert,
        Quality::Behavior,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Quality::Random => "random",
            Quality::Medium => "medium",
            Quality::Expert => "expert",
            Quality::MediumReplay => "medium-replay",
            Quality::MediumExpert => "medium-expert",
            Quality::Behavior => "behavior",
        }
    }

    /// Parses a quality name, with the valid choices in the error.
    pub fn parse(name: &str) -> crate::Result<Self> {
        Quality::ALL
            .into_iter()
            .find(|q| q.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Quality::ALL.iter().map(|q| q.name()).collect();
                crate::Error::Invalid(format!(
                    "unknown dataset policy `{name}`{}; valid choices: {}",
                    crate::error::did_you_mean(name, names.iter().copied()),
                    names.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Quality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Transitions of a tabular environment, as columns.
///
/// Row `i` is the transition (`state[i]`, `action[i]`) → (`reward[i]`,
/// `next_state[i]`) at step `step[i]` of episode `episode[i]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub n_states: usize,
    pub n_actions: usize,
    pub episode: Vec<u32>,
    pub step: Vec<u32>,
    pub state: Vec<u32>,
    pub action: Vec<u32>,
    pub reward: Vec<f64>,
    pub next_state: Vec<u32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    /// The policy that collected the data, when known (π_β); the learners
    /// never read it, property checks and metrics do.
    pub behavior: Option<Policy>,
}

impl Dataset {
    /// An empty dataset for an environment of the given size.
    pub fn new(n_states: usize, n_actions: usize) -> Self {
        Dataset {
            n_states,
            n_actions,
            ..Default::default()
        }
    }

    /// Reserves room for `additional` more transitions in every column; an
    /// error, not an abort, when the total would pass [`MAX_TRANSITIONS`] or
    /// the memory is not there.
    pub fn try_reserve(&mut self, additional: usize) -> crate::Result<()> {
        let total = self.len().saturating_add(additional);
        if total > MAX_TRANSITIONS {
            return Err(crate::Error::Invalid(format!(
                "{total} transitions: a dataset holds at most {MAX_TRANSITIONS} (its counts are 32-bit)"
            )));
        }
        let fail = |e: std::collections::TryReserveError| {
            crate::Error::Invalid(format!(
                "cannot allocate memory for {total} transitions ({} bytes each): {e}",
                BYTES_PER_TRANSITION
            ))
        };
        self.episode.try_reserve(additional).map_err(fail)?;
        self.step.try_reserve(additional).map_err(fail)?;
        self.state.try_reserve(additional).map_err(fail)?;
        self.action.try_reserve(additional).map_err(fail)?;
        self.reward.try_reserve(additional).map_err(fail)?;
        self.next_state.try_reserve(additional).map_err(fail)?;
        self.terminated.try_reserve(additional).map_err(fail)?;
        self.truncated.try_reserve(additional).map_err(fail)
    }

    pub fn len(&self) -> usize {
        self.state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// Number of episodes (distinct, consecutive episode ids).
    pub fn n_episodes(&self) -> usize {
        let mut n = 0;
        let mut last = None;
        for &e in &self.episode {
            if last != Some(e) {
                n += 1;
                last = Some(e);
            }
        }
        n
    }

    /// Appends one transition (inlined: it is the inner loop of collection
    /// and CSV import).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        episode: u32,
        step: u32,
        state: u32,
        action: u32,
        reward: f64,
        next_state: u32,
        terminated: bool,
        truncated: bool,
    ) {
        self.episode.push(episode);
        self.step.push(step);
        self.state.push(state);
        self.action.push(action);
        self.reward.push(reward);
        self.next_state.push(next_state);
        self.terminated.push(terminated);
        self.truncated.push(truncated);
    }
}
