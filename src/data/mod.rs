//! Offline datasets: transitions with episode boundaries, the behaviour
//! policy that collected them, and their compiled empirical MDP.
//!
//! A [`Dataset`] is a struct of arrays (one column per CSV field) so that
//! collection, CSV I/O and compilation stream through memory. Tabular
//! learners never loop over raw transitions more than once: they read the
//! [`EmpiricalMdp`] built by [`EmpiricalMdp::compile`].

/// The [`Columns`] of a dataset struct, which has fields of their names.
macro_rules! columns {
    ($data:expr) => {
        Columns {
            episode: &mut $data.episode,
            step: &mut $data.step,
            action: &mut $data.action,
            reward: &mut $data.reward,
            terminated: &mut $data.terminated,
            truncated: &mut $data.truncated,
        }
    };
}

pub mod collect;
pub mod csv;
pub mod empirical;
pub mod npy;
pub mod observed;
pub mod samples;

pub use collect::{Provenance, collect, collect_with_policy, collect_with_provenance};
pub use csv::{read_csv, write_csv};
pub use empirical::{EmpiricalMdp, ObservedPair, Successor};
pub use npy::{read_npz, write_npz};
pub use observed::ObsDataset;
pub use samples::{Samples, Transitions};

/// Whether a dataset file is an `.npz` archive (by its extension; CSV otherwise).
pub fn is_npz(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// Reads a dataset file: `.npz` by its extension, CSV otherwise.
pub fn read_file(
    path: &std::path::Path,
    n_states: usize,
    n_actions: usize,
) -> crate::error::Result<Dataset> {
    if is_npz(path) {
        read_npz(path, n_states, n_actions)
    } else {
        read_csv(path, n_states, n_actions)
    }
}

/// Reads a dataset file as [`read_file`] does, and returns with it the
/// hex SHA-256 of the file: a CSV is hashed as it is parsed (one read, so
/// the hash describes exactly the transitions returned, however the file
/// changes meanwhile); an `.npz` archive, read by seeking, is hashed again
/// after it is parsed (a change before or while it was parsed shows,
/// unless the file is changed back before the hash).
pub fn read_file_hashed(
    path: &std::path::Path,
    n_states: usize,
    n_actions: usize,
) -> crate::error::Result<(Dataset, String)> {
    read_hashed(
        path,
        |path| read_npz(path, n_states, n_actions),
        |path, input| csv::read_csv_from(path, input, n_states, n_actions),
    )
}

/// A dataset file read once by `npz` or `csv` (by its extension) and the
/// hex SHA-256 of the bytes read, for tabular and observation datasets
/// alike.
pub(crate) fn read_hashed<T>(
    path: &std::path::Path,
    npz: impl FnOnce(&std::path::Path) -> crate::error::Result<T>,
    csv: impl FnOnce(
        &std::path::Path,
        &mut crate::fsio::HashingReader<std::fs::File>,
    ) -> crate::error::Result<T>,
) -> crate::error::Result<(T, String)> {
    let cannot = |e| crate::error::Error::io(format!("cannot read dataset {}", path.display()), e);
    if is_npz(path) {
        crate::fsio::open_bounded(path, crate::fsio::DATASET).map_err(cannot)?;
        let data = npz(path)?;
        let file = crate::fsio::open_regular(path).map_err(cannot)?;
        return Ok((
            data,
            crate::fsio::HashingReader::new(file)
                .finish()
                .map_err(cannot)?,
        ));
    }
    let file = crate::fsio::open_bounded(path, crate::fsio::DATASET).map_err(cannot)?;
    let mut input = crate::fsio::HashingReader::new(file);
    let data = csv(path, &mut input)?;
    Ok((data, input.finish().map_err(cannot)?))
}

use crate::mdp::Policy;
use serde::{Deserialize, Serialize};

/// The most transitions a dataset may hold: episode ids, steps, the
/// empirical MDP's counts and its pair and successor offsets are `u32`.
pub const MAX_TRANSITIONS: usize = u32::MAX as usize;

/// Memory of one transition across the columns.
const BYTES_PER_TRANSITION: usize = 5 * size_of::<u32>() + size_of::<f64>() + 2;

/// D4RL's dataset quality names (see [`collect()`] for what each means), plus
/// the coverage knob: a greedy policy played ε-greedily with a chosen ε.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
    /// `policy = "optimal" | "medium", epsilon = ε`: that greedy policy
    /// with probability ε replaced by a uniformly random action, so a
    /// user slides from narrow (ε = 0) to uniform (ε = 1) data.
    EpsilonGreedy {
        policy: Greedy,
        epsilon: f64,
    },
}

/// The greedy policies the coverage knob adds noise to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Greedy {
    /// The optimal policy (ties to the lowest action).
    Optimal,
    /// The `medium` learner's greedy policy.
    Medium,
    /// A continuous-state environment's classical controller (it has no
    /// exact optimal policy; see [`observed::collect`]).
    Expert,
}

impl Quality {
    /// The named qualities (the coverage knob is `optimal`/`medium` with an ε).
    pub const ALL: [Quality; 6] = [
        Quality::Random,
        Quality::Medium,
        Quality::Expert,
        Quality::MediumReplay,
        Quality::MediumExpert,
        Quality::Behavior,
    ];

    /// The name a spec and `--policy` use, with the ε of the coverage knob.
    pub fn name(self) -> String {
        match self {
            Quality::Random => "random".into(),
            Quality::Medium => "medium".into(),
            Quality::Expert => "expert".into(),
            Quality::MediumReplay => "medium-replay".into(),
            Quality::MediumExpert => "medium-expert".into(),
            Quality::Behavior => "behavior".into(),
            Quality::EpsilonGreedy { policy, epsilon } => {
                let base = match policy {
                    Greedy::Optimal => "optimal",
                    Greedy::Medium => "medium",
                    Greedy::Expert => "expert",
                };
                format!("{base} ε={epsilon}")
            }
        }
    }

    /// The version of the quality's definition, hashed into run ids so a
    /// store never mixes two meanings of one name. 2: `medium` and
    /// `expert` became single near-deterministic policies (they were
    /// optimal/uniform mixtures calibrated on the discounted return), and
    /// `medium-replay` one learner's buffer (it was several learners').
    pub fn definition(self) -> u32 {
        match self {
            Quality::Random | Quality::Behavior | Quality::EpsilonGreedy { .. } => 1,
            Quality::Medium | Quality::Expert | Quality::MediumReplay | Quality::MediumExpert => 2,
        }
    }

    /// Parses a quality name, with the valid choices in the error;
    /// `optimal` is the optimal policy itself (ε = 0 of the coverage knob).
    pub fn parse(name: &str) -> crate::Result<Self> {
        if name == "optimal" {
            return Ok(Quality::EpsilonGreedy {
                policy: Greedy::Optimal,
                epsilon: 0.0,
            });
        }
        Quality::ALL
            .into_iter()
            .find(|q| q.name() == name)
            .ok_or_else(|| {
                let mut names: Vec<String> = Quality::ALL.iter().map(|q| q.name()).collect();
                names.push("optimal".into());
                crate::Error::Invalid(format!(
                    "unknown dataset policy `{name}`{}; valid choices: {}",
                    crate::error::did_you_mean(name, names.iter().map(String::as_str)),
                    names.join(", ")
                ))
            })
    }

    /// The coverage knob: `optimal` or `medium` played ε-greedily, or on
    /// a continuous-state environment `expert` (its controller).
    pub fn with_epsilon(self, epsilon: f64) -> crate::Result<Self> {
        if !(0.0..=1.0).contains(&epsilon) {
            return Err(crate::Error::Invalid(format!(
                "epsilon {epsilon} is not a probability (0 to 1)"
            )));
        }
        let policy = match self {
            Quality::Medium
            | Quality::EpsilonGreedy {
                policy: Greedy::Medium,
                ..
            } => Greedy::Medium,
            Quality::EpsilonGreedy {
                policy: Greedy::Optimal,
                ..
            } => Greedy::Optimal,
            Quality::Expert
            | Quality::EpsilonGreedy {
                policy: Greedy::Expert,
                ..
            } => Greedy::Expert,
            other => {
                return Err(crate::Error::Invalid(format!(
                    "epsilon applies to the `optimal`, `medium` and (on continuous-state environments) `expert` policies, not `{other}`"
                )));
            }
        };
        Ok(Quality::EpsilonGreedy { policy, epsilon })
    }
}

impl std::fmt::Display for Quality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
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
        let total = check_total(self.len(), additional)?;
        let fail = reserve_error(total, BYTES_PER_TRANSITION);
        self.state.try_reserve(additional).map_err(fail)?;
        self.next_state.try_reserve(additional).map_err(fail)?;
        self.columns().try_reserve(additional).map_err(fail)
    }

    /// The columns every dataset has.
    fn columns(&mut self) -> Columns<'_> {
        columns!(self)
    }

    /// Appends the rows of `other`.
    fn append(&mut self, other: &mut Dataset) {
        self.state.extend_from_slice(&other.state);
        self.next_state.extend_from_slice(&other.next_state);
        self.columns().append(&other.columns());
    }

    pub fn len(&self) -> usize {
        self.state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// Number of episodes (distinct, consecutive episode ids).
    pub fn n_episodes(&self) -> usize {
        count_episodes(&self.episode)
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
        self.state.push(state);
        self.next_state.push(next_state);
        self.columns()
            .push(episode, step, action, reward, terminated, truncated);
    }
}

/// The columns a tabular [`Dataset`] and an [`ObsDataset`] share,
/// borrowed: one place that grows them together.
struct Columns<'a> {
    episode: &'a mut Vec<u32>,
    step: &'a mut Vec<u32>,
    action: &'a mut Vec<u32>,
    reward: &'a mut Vec<f64>,
    terminated: &'a mut Vec<bool>,
    truncated: &'a mut Vec<bool>,
}

impl Columns<'_> {
    fn try_reserve(self, additional: usize) -> Result<(), std::collections::TryReserveError> {
        self.episode.try_reserve(additional)?;
        self.step.try_reserve(additional)?;
        self.action.try_reserve(additional)?;
        self.reward.try_reserve(additional)?;
        self.terminated.try_reserve(additional)?;
        self.truncated.try_reserve(additional)
    }

    #[inline(always)]
    fn push(
        self,
        episode: u32,
        step: u32,
        action: u32,
        reward: f64,
        terminated: bool,
        truncated: bool,
    ) {
        self.episode.push(episode);
        self.step.push(step);
        self.action.push(action);
        self.reward.push(reward);
        self.terminated.push(terminated);
        self.truncated.push(truncated);
    }

    fn append(self, other: &Columns<'_>) {
        self.episode.extend_from_slice(other.episode);
        self.step.extend_from_slice(other.step);
        self.action.extend_from_slice(other.action);
        self.reward.extend_from_slice(other.reward);
        self.terminated.extend_from_slice(other.terminated);
        self.truncated.extend_from_slice(other.truncated);
    }
}

/// Number of episodes in an episode column (distinct, consecutive ids).
fn count_episodes(episode: &[u32]) -> usize {
    let mut n = 0;
    let mut last = None;
    for &e in episode {
        if last != Some(e) {
            n += 1;
            last = Some(e);
        }
    }
    n
}

/// `len + additional`, or the error when a dataset cannot hold that many.
fn check_total(len: usize, additional: usize) -> crate::Result<usize> {
    let total = len.saturating_add(additional);
    if total > MAX_TRANSITIONS {
        return Err(crate::Error::Invalid(format!(
            "{total} transitions: a dataset holds at most {MAX_TRANSITIONS} (its counts are 32-bit)"
        )));
    }
    Ok(total)
}

/// The error of a failed reservation of `total` transitions of `bytes` each.
fn reserve_error(
    total: usize,
    bytes: usize,
) -> impl Fn(std::collections::TryReserveError) -> crate::Error + Copy {
    move |e| {
        crate::Error::Invalid(format!(
            "cannot allocate memory for {total} transitions ({bytes} bytes each): {e}"
        ))
    }
}
