//! CSV import/export in DESIGN.md's interchange format. (Issue 3 — data helper.)

use super::Dataset;
use crate::error::Result;
use std::path::Path;

/// Reads a dataset CSV, checking every cell against the environment's sizes.
pub fn read_csv(path: &Path, n_states: usize, n_actions: usize) -> Result<Dataset> {
    let _ = (path, n_states, n_actions);
    todo!("data helper")
}

/// Writes `data` with the header `episode,step,state,action,reward,next_state,terminated,truncated`.
pub fn write_csv(path: &Path, data: &Dataset) -> Result<()> {
    let _ = (path, data);
    todo!("data helper")
}
