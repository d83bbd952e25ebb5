//! pessimist — offline reinforcement learning on small, exactly-solvable
//! problems, and a terminal dashboard that shows learned Q-values drifting
//! away from the returns their policies really get.
//!
//! Data flows one way: environments ([`env`]: the [`env::Env`] trait and
//! the continuous-state problems; [`mdp`]: tabular MDPs and their exact
//! solution) → datasets ([`data`]) →
//! representations ([`features`]) → learners ([`algo`]) → exact evaluation ([`eval`]) → the experiment
//! system ([`experiment`]: specs, runs, store, workers) → presentation
//! ([`present`]: labels, score table, scales, figure) → the dashboard
//! ([`tui`]). A module imports only from the ones before it; [`error`] and
//! [`params`] (validated hyper-parameters) are shared by all.

pub mod algo;
pub mod data;
pub mod env;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod features;
pub mod fsio;
pub mod mdp;
pub mod memo;
pub mod params;
pub mod present;
pub mod text;
pub mod tui;

pub use error::{Error, Result};
