//! Exactly-solvable tabular MDPs.
//!
//! A [`TabularMdp`] stores Gymnasium's `P[s][a]` table — a list of
//! `(prob, next_state, reward, terminated)` outcomes per state-action pair, in
//! Gymnasium's order — as one flat, sparse array, plus the initial-state
//! distribution and the time limit. Everything the dashboard calls "true"
//! (returns, Q^π, optimal values) is computed from it by [`solve`].

pub mod envs;
pub mod sample;
pub mod solve;

use crate::error::{Error, Result};
use ndarray::{Array2, ArrayD, Ix2};
use serde::{Deserialize, Serialize};

/// A stochastic policy: row `s` holds π(·|s), each row sums to 1.
pub type Policy = Array2<f64>;

/// One possible result of taking an action, as in Gymnasium's `P[s][a]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub prob: f64,
    pub next: u32,
    pub reward: f64,
    /// The episode ends after this transition: no value is bootstrapped.
    pub terminated: bool,
}

/// How the states of a grid-world are laid out, for heatmaps and arrows.
/// State `s` is the cell at row `s / cols`, column `s % cols`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridLayout {
    pub rows: usize,
    pub cols: usize,
    /// The map letter of each cell, row-major (e.g. `S F H G` or `C` for cliff).
    pub cells: Vec<char>,
    /// An arrow glyph per action (e.g. `←↓→↑` for FrozenLake).
    pub action_arrows: Vec<char>,
}

/// A finite MDP with Gymnasium-compatible numbering.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularMdp {
    id: String,
    n_states: usize,
    n_actions: usize,
    /// `offsets[s * n_actions + a]..offsets[s * n_actions + a + 1]` indexes `outcomes`.
    offsets: Vec<u32>,
    outcomes: Vec<Outcome>,
    initial: Vec<f64>,
    /// Gymnasium's `max_episode_steps`, if the environment registers one.
    time_limit: Option<usize>,
    /// States whose arrival counts as success (FrozenLake's goal, Taxi's drop-off, ...).
    goal: Vec<bool>,
    grid: Option<GridLayout>,
    /// The behaviour policy the environment is defined with, if any (the
    /// lecture's toy problems come with the data-collecting policy).
    behavior: Option<Policy>,
    /// Each state's position in a space where nearby states are alike
    /// (states × coordinates in [0, 1]), for the features that generalise:
    /// Taxi's taxi row and column, passenger and destination. Grid worlds
    /// derive theirs from the grid.
    coordinates: Option<Array2<f64>>,
    /// The environment's own classic features φ(s,a) (pairs s·|A| + a ×
    /// features), for `features = { kind = "env" }` (Baird-v0, TwoState-v0).
    features: Option<Array2<f64>>,
}

const PROB_TOLERANCE: f64 = 1e-9;

impl TabularMdp {
    /// Builds and validates an MDP from a `P[s][a]` table.
    ///
    /// Checks that every list of outcomes is non-empty, sums to 1, and points
    /// at existing states, and that `initial` is a distribution over states.
    pub fn new(
        id: impl Into<String>,
        table: Vec<Vec<Vec<Outcome>>>,
        initial: Vec<f64>,
        time_limit: Option<usize>,
    ) -> Result<Self> {
        let id = id.into();
        let n_states = table.len();
        let n_actions = table.first().map_or(0, Vec::len);
        let mut offsets = Vec::with_capacity(n_states * n_actions + 1);
        let mut outcomes = Vec::new();
        offsets.push(0u32);
        for (s, row) in table.into_iter().enumerate() {
            if row.len() != n_actions {
                return Err(Error::InvalidMdp {
                    id,
                    message: format!(
                        "state {s} has {} actions, state 0 has {n_actions}",
                        row.len()
                    ),
                });
            }
            for list in row {
                outcomes.extend(list);
                offsets.push(outcomes.len() as u32);
            }
        }
        Self::from_flat(
            id, n_states, n_actions, offsets, outcomes, initial, time_limit,
        )
    }

    /// Builds and validates an MDP from its table laid out flat, as it is
    /// kept: the outcomes of (s, a) are `outcomes[offsets[i]..offsets[i + 1]]`
    /// with i = s·`n_actions` + a, `n_states · n_actions + 1` offsets (a
    /// large table read from a file never exists as nested lists). Checks
    /// what [`TabularMdp::new`] checks.
    pub fn from_flat(
        id: impl Into<String>,
        n_states: usize,
        n_actions: usize,
        offsets: Vec<u32>,
        outcomes: Vec<Outcome>,
        initial: Vec<f64>,
        time_limit: Option<usize>,
    ) -> Result<Self> {
        let id = id.into();
        let invalid = |message: String| Error::InvalidMdp {
            id: id.clone(),
            message,
        };
        if n_states == 0 {
            return Err(invalid("no states".into()));
        }
        if n_actions == 0 {
            return Err(invalid("no actions".into()));
        }
        assert!(
            offsets.len() == n_states * n_actions + 1
                && offsets[0] == 0
                && offsets.last() == Some(&(outcomes.len() as u32))
                && offsets.windows(2).all(|w| w[0] <= w[1]),
            "a flat table's offsets index its outcomes, n_actions per state"
        );
        if initial.len() != n_states {
            return Err(invalid(format!(
                "initial distribution has {} entries for {n_states} states",
                initial.len()
            )));
        }
        check_distribution(&initial).map_err(|m| invalid(format!("initial distribution {m}")))?;
        let mut probs = Vec::new();
        for (i, w) in offsets.windows(2).enumerate() {
            let (s, a) = (i / n_actions, i % n_actions);
            let list = &outcomes[w[0] as usize..w[1] as usize];
            if list.is_empty() {
                return Err(invalid(format!("P[{s}][{a}] is empty")));
            }
            probs.clear();
            probs.extend(list.iter().map(|o| o.prob));
            check_distribution(&probs).map_err(|m| invalid(format!("P[{s}][{a}] {m}")))?;
            if let Some(o) = list.iter().find(|o| o.next as usize >= n_states) {
                return Err(invalid(format!(
                    "P[{s}][{a}] leads to state {} of {n_states}",
                    o.next
                )));
            }
            if let Some(o) = list.iter().find(|o| !o.reward.is_finite()) {
                return Err(invalid(format!("P[{s}][{a}] has reward {}", o.reward)));
            }
        }
        Ok(TabularMdp {
            id,
            n_states,
            n_actions,
            offsets,
            outcomes,
            initial,
            time_limit,
            goal: vec![false; n_states],
            grid: None,
            behavior: None,
            coordinates: None,
            features: None,
        })
    }

    /// Marks the states whose arrival counts as success (see [`solve::success_probability`]).
    pub fn with_goals(mut self, goals: impl IntoIterator<Item = usize>) -> Self {
        for g in goals {
            self.goal[g] = true;
        }
        self
    }

    /// Attaches the grid layout used to draw heatmaps.
    pub fn with_grid(mut self, grid: GridLayout) -> Self {
        debug_assert_eq!(grid.rows * grid.cols, self.n_states);
        self.grid = Some(grid);
        self
    }

    /// Attaches the environment's documented behaviour policy.
    pub fn with_behavior(mut self, policy: Policy) -> Result<Self> {
        self.check_policy(&policy)?;
        self.behavior = Some(policy);
        Ok(self)
    }

    pub fn behavior(&self) -> Option<&Policy> {
        self.behavior.as_ref()
    }

    /// Attaches each state's coordinates (states × coordinates, in [0, 1]).
    pub fn with_coordinates(mut self, coordinates: Array2<f64>) -> Self {
        debug_assert_eq!(coordinates.nrows(), self.n_states);
        self.coordinates = Some(coordinates);
        self
    }

    pub fn coordinates(&self) -> Option<&Array2<f64>> {
        self.coordinates.as_ref()
    }

    /// Attaches the environment's own features φ(s,a) (pairs × features).
    pub fn with_features(mut self, features: Array2<f64>) -> Self {
        debug_assert_eq!(features.nrows(), self.n_states * self.n_actions);
        self.features = Some(features);
        self
    }

    pub fn features(&self) -> Option<&Array2<f64>> {
        self.features.as_ref()
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn n_states(&self) -> usize {
        self.n_states
    }
    pub fn n_actions(&self) -> usize {
        self.n_actions
    }
    pub fn initial(&self) -> &[f64] {
        &self.initial
    }
    pub fn time_limit(&self) -> Option<usize> {
        self.time_limit
    }
    /// The length of an episode for scores and online learners: Gymnasium's
    /// time limit, or where none is registered (CliffWalking) four steps
    /// per state, Chain-vN's own rule, which lets a policy cross the state
    /// space several times while one stuck episode cannot go on forever.
    pub fn horizon(&self) -> usize {
        self.time_limit.unwrap_or(4 * self.n_states)
    }
    pub fn is_goal(&self, s: usize) -> bool {
        self.goal[s]
    }
    pub fn grid(&self) -> Option<&GridLayout> {
        self.grid.as_ref()
    }

    /// The outcomes of taking `a` in `s`, in Gymnasium's order.
    #[inline]
    pub fn outcomes(&self, s: usize, a: usize) -> &[Outcome] {
        let i = s * self.n_actions + a;
        &self.outcomes[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// r(s, a) = Σ p · reward.
    pub fn expected_reward(&self, s: usize, a: usize) -> f64 {
        self.outcomes(s, a).iter().map(|o| o.prob * o.reward).sum()
    }

    /// A state every action of which ends the episode in place with no reward
    /// (FrozenLake's holes and goal): it is never acted in.
    pub fn is_absorbing(&self, s: usize) -> bool {
        (0..self.n_actions).all(|a| {
            self.outcomes(s, a)
                .iter()
                .all(|o| o.terminated && o.next as usize == s && o.reward == 0.0)
        })
    }

    /// The table as nested vectors, as Gymnasium's `env.unwrapped.P` prints it.
    pub fn table(&self) -> Vec<Vec<&[Outcome]>> {
        (0..self.n_states)
            .map(|s| (0..self.n_actions).map(|a| self.outcomes(s, a)).collect())
            .collect()
    }

    /// The uniform random policy.
    pub fn uniform_policy(&self) -> Policy {
        Array2::from_elem((self.n_states, self.n_actions), 1.0 / self.n_actions as f64)
    }

    /// `q` as this MDP's Q table: shape (states, actions), every entry
    /// finite. Checked like a policy, for a table another library learned
    /// (its shape and values are whatever that library wrote).
    pub fn q_table(&self, q: ArrayD<f64>) -> Result<Array2<f64>> {
        let wanted = [self.n_states, self.n_actions];
        if q.shape() != wanted {
            return Err(Error::Invalid(format!(
                "Q has shape {}, {} needs {} (states, actions)",
                numpy_shape(q.shape()),
                self.id,
                numpy_shape(&wanted)
            )));
        }
        let q = q
            .into_dimensionality::<Ix2>()
            .expect("a shape of two numbers is two-dimensional");
        if let Some(((s, a), x)) = q.indexed_iter().find(|(_, x)| !x.is_finite()) {
            return Err(Error::Invalid(format!(
                "Q[{s}, {a}] is {x}, not a finite number"
            )));
        }
        Ok(q)
    }

    /// Checks that `policy` has this MDP's shape and that each row is a distribution.
    pub fn check_policy(&self, policy: &Policy) -> Result<()> {
        if policy.dim() != (self.n_states, self.n_actions) {
            return Err(Error::Invalid(format!(
                "policy has shape {:?}, {} needs {} states x {} actions",
                policy.dim(),
                self.id,
                self.n_states,
                self.n_actions
            )));
        }
        for (s, row) in policy.outer_iter().enumerate() {
            let checked = match row.as_slice() {
                Some(slice) => check_distribution(slice),
                None => check_distribution(&row.to_vec()),
            };
            checked.map_err(|m| Error::Invalid(format!("policy row for state {s} {m}")))?;
        }
        Ok(())
    }
}

/// A shape as numpy prints it: `(48,)`, `(48, 4)`.
fn numpy_shape(dims: &[usize]) -> String {
    if let [n] = dims {
        format!("({n},)")
    } else {
        let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
        format!("({})", dims.join(", "))
    }
}

fn check_distribution(p: &[f64]) -> std::result::Result<(), String> {
    if let Some(x) = p.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
        return Err(format!("has entry {x}, not a probability"));
    }
    let sum: f64 = p.iter().sum();
    if (sum - 1.0).abs() > PROB_TOLERANCE * p.len().max(1) as f64 {
        return Err(format!("sums to {sum}, not 1"));
    }
    Ok(())
}
