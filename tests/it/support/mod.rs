//! What the test modules share.

pub mod cli;
pub mod files;
pub mod hostile;
pub mod learning;
pub mod skip;
pub mod tmux;
