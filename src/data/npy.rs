//! `.npz` export for numpy users: one array per CSV column (integers as
//! int64, as numpy defaults to), plus `behavior_policy` when it is known.

use super::Dataset;
use crate::error::{Error, Result};
use ndarray::Array1;
use ndarray_npy::NpzWriter;
use std::path::Path;

/// Writes the dataset's columns as arrays of one `.npz` archive.
pub fn write_npz(path: &Path, data: &Dataset) -> Result<()> {
    let failed = |message: String| Error::File {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::create(path)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    let mut npz = NpzWriter::new(std::io::BufWriter::new(file));
    let ints = |column: &[u32]| {
        column
            .iter()
            .map(|&x| i64::from(x))
            .collect::<Array1<i64>>()
    };
    let add = |name: &str, result: std::result::Result<(), ndarray_npy::WriteNpzError>| {
        result.map_err(|e| failed(format!("writing array `{name}`: {e}")))
    };
    add("episode", npz.add_array("episode", &ints(&data.episode)))?;
    add("step", npz.add_array("step", &ints(&data.step)))?;
    add("state", npz.add_array("state", &ints(&data.state)))?;
    add("action", npz.add_array("action", &ints(&data.action)))?;
    add(
        "reward",
        npz.add_array("reward", &Array1::from(data.reward.clone())),
    )?;
    add(
        "next_state",
        npz.add_array("next_state", &ints(&data.next_state)),
    )?;
    add(
        "terminated",
        npz.add_array("terminated", &Array1::from(data.terminated.clone())),
    )?;
    add(
        "truncated",
        npz.add_array("truncated", &Array1::from(data.truncated.clone())),
    )?;
    if let Some(policy) = &data.behavior {
        add("behavior_policy", npz.add_array("behavior_policy", policy))?;
    }
    npz.finish()
        .map_err(|e| failed(format!("finishing the archive: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray_npy::NpzReader;

    #[test]
    fn columns_read_back_with_numpy_types() {
        let mut data = Dataset::new(3, 2);
        data.push(0, 0, 0, 1, -10.0, 2, true, false);
        data.push(1, 0, 0, 0, 1.5, 1, false, true);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        write_npz(&path, &data).unwrap();
        let mut npz = NpzReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let reward: Array1<f64> = npz.by_name("reward").unwrap();
        let action: Array1<i64> = npz.by_name("action").unwrap();
        let terminated: Array1<bool> = npz.by_name("terminated").unwrap();
        assert_eq!(reward.to_vec(), vec![-10.0, 1.5]);
        assert_eq!(action.to_vec(), vec![1, 0]);
        assert_eq!(terminated.to_vec(), vec![true, false]);
    }
}
