//! `.npz` export for numpy users: one array per CSV column (integers as
//! int64, as numpy defaults to), plus `behavior_policy` when it is known.

use super::Dataset;
use crate::error::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2};
use ndarray_npy::{NpzWriter, ReadNpyExt, ViewNpyError, ViewNpyExt};
use std::path::Path;

/// Reads a 2-D `f64` table (a run's `q.npy`) of at most
/// [`crate::fsio::NPY`] bytes. The header's shape is checked against the
/// bytes that follow it before anything is allocated: a header claiming
/// 100000×100000 over a few bytes of data is an error, not an 80 GB
/// allocation.
pub fn read_q_table(path: &Path) -> Result<Array2<f64>> {
    let bytes = crate::fsio::read_bounded(path, crate::fsio::NPY)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    parse_q_table(&bytes).map_err(|message| Error::File {
        path: path.to_path_buf(),
        message,
    })
}

/// [`read_q_table`] on bytes already read.
pub fn parse_q_table(bytes: &[u8]) -> std::result::Result<Array2<f64>, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an npy file (no `\\x93NUMPY` magic string)".into());
    }
    // The header's own length, checked before the reader allocates it.
    let (start, header_len) = match bytes[6] {
        1 => (10, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        v => return Err(format!("unsupported npy format version {v}")),
    };
    if header_len > bytes.len() - start {
        return Err(format!(
            "corrupt npy header: it claims {header_len} bytes, the file holds {}",
            bytes.len()
        ));
    }
    // A view checks the shape against the data's length without
    // allocating; only then is the table copied.
    match ArrayView2::<f64>::view_npy(bytes) {
        Ok(view) => Ok(view.to_owned()),
        // Length and type were fine (they are checked first); the buffer
        // is just not 8-aligned for a view: read it instead.
        Err(ViewNpyError::MisalignedData) => {
            Array2::<f64>::read_npy(bytes).map_err(|e| format!("corrupt npy file: {e}"))
        }
        Err(e) => Err(format!("corrupt npy file: {e}")),
    }
}

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

    /// A version 1.0 npy file with header `dict` and `data`.
    fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn a_header_claiming_a_huge_table_is_an_error_not_an_allocation() {
        let q = Array2::from_shape_fn((3, 2), |(s, a)| (s * 2 + a) as f64);
        let mut bytes = Vec::new();
        ndarray_npy::WriteNpyExt::write_npy(&q, &mut bytes).unwrap();
        assert_eq!(parse_q_table(&bytes).unwrap(), q);
        let data: Vec<u8> = q.iter().flat_map(|x| x.to_le_bytes()).collect();
        let same = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
            &data,
        );
        assert_eq!(parse_q_table(&same).unwrap(), q);
        let corrupt = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }",
            &data,
        );
        let err = parse_q_table(&corrupt).unwrap_err();
        assert!(err.contains("corrupt npy"), "{err}");
        assert!(parse_q_table(b"\x93NUMPY\x02\x00\xff\xff\xff\xff").is_err());
        assert!(parse_q_table(b"garbage").is_err());
    }

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
