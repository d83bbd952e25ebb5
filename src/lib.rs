//! pessimist — offline reinforcement learning on small, exactly-solvable
//! problems, and a terminal dashboard that shows learned Q-values drifting
//! away from the returns their policies really get.
//!
//! Data flows one way: environments ([`mdp`]) → datasets ([`data`]) →
//! learners ([`algo`]) → exact evaluation ([`eval`]).

pub mod algo;
pub mod data;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod mdp;
pub mod scale;
pub mod tui;

pub use error::{Error, Result};
