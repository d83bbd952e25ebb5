//! `.npz` export for numpy users. (Issue 3 — data helper.)

use super::Dataset;
use crate::error::Result;
use std::path::Path;

/// Writes the dataset's columns as arrays of one `.npz` archive.
pub fn write_npz(path: &Path, data: &Dataset) -> Result<()> {
    let _ = (path, data);
    todo!("data helper")
}
