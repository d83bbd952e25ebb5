//! `.npz` datasets for numpy users, written and read back: one array per
//! CSV column (integers as int64, as numpy defaults to), plus
//! `behavior_policy` when it is known.

use super::csv::COLUMNS;
use super::{Dataset, MAX_TRANSITIONS};
use crate::error::{Error, Result};
use ndarray::{Array, Array1, Array2, ArrayD, ArrayView, Dimension, Ix1, IxDyn};
use ndarray_npy::{NpzWriter, ReadNpyExt, ReadableElement, ViewElement, ViewNpyError, ViewNpyExt};
use std::io::Read;
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
    parse_npy(bytes)
}

/// Reads an array of float64 or float32 (widened, exactly) of any shape,
/// of at most [`crate::fsio::NPY`] bytes: a Q table another library wrote
/// (PyTorch's default is float32). The caller checks the shape against its
/// environment, so that its error can name both.
pub fn read_floats(path: &Path) -> Result<ArrayD<f64>> {
    let bytes = crate::fsio::read_bounded(path, crate::fsio::NPY)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    parse_floats(&bytes).map_err(|message| Error::File {
        path: path.to_path_buf(),
        message,
    })
}

/// [`read_floats`] on bytes already read.
pub fn parse_floats(bytes: &[u8]) -> std::result::Result<ArrayD<f64>, String> {
    let fault = match try_parse_npy::<f64, IxDyn>(bytes) {
        Ok(array) => return Ok(array),
        Err(fault) if fault.holds.is_some() => fault,
        Err(fault) => return Err(fault.message),
    };
    match try_parse_npy::<f32, IxDyn>(bytes) {
        Ok(array) => Ok(array.mapv(f64::from)),
        Err(NpyFault {
            holds: Some(descr), ..
        }) => Err(format!(
            "holds {descr} values; expected float64 ('<f8') or float32 ('<f4')"
        )),
        Err(_) => Err(fault.message),
    }
}

/// Why an npy file was refused, and the element type it holds when that
/// type was the reason (a float32 table is then read again as one).
struct NpyFault {
    message: String,
    holds: Option<String>,
}

impl NpyFault {
    fn corrupt(e: impl std::fmt::Display, holds: Option<String>) -> Self {
        NpyFault {
            message: format!("corrupt npy file: {e}"),
            holds,
        }
    }
}

/// An npy file's array, its header's shape checked against the bytes
/// that follow it before anything is allocated.
fn parse_npy<A, D>(bytes: &[u8]) -> std::result::Result<Array<A, D>, String>
where
    A: ViewElement + ReadableElement + Clone,
    D: Dimension,
{
    try_parse_npy(bytes).map_err(|fault| fault.message)
}

/// [`parse_npy`], telling a wrong element type apart.
fn try_parse_npy<A, D>(bytes: &[u8]) -> std::result::Result<Array<A, D>, NpyFault>
where
    A: ViewElement + ReadableElement + Clone,
    D: Dimension,
{
    let refuse = |message: String| NpyFault {
        message,
        holds: None,
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(refuse(
            "not an npy file (no `\\x93NUMPY` magic string)".into(),
        ));
    }
    // The header's own length, checked before the reader allocates it.
    let (start, header_len) = match bytes[6] {
        1 => (10, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        v => return Err(refuse(format!("unsupported npy format version {v}"))),
    };
    if header_len > bytes.len() - start {
        return Err(refuse(format!(
            "corrupt npy header: it claims {header_len} bytes, the file holds {}",
            bytes.len()
        )));
    }
    // A view checks the shape against the data's length without
    // allocating; only then is the table copied.
    match ArrayView::<A, D>::view_npy(bytes) {
        Ok(view) => Ok(view.to_owned()),
        // Length and type were fine (they are checked first); the buffer
        // is just not aligned for a view: read it instead.
        Err(ViewNpyError::MisalignedData) => {
            Array::<A, D>::read_npy(bytes).map_err(|e| NpyFault::corrupt(e, None))
        }
        Err(e) => {
            let holds = match &e {
                ViewNpyError::WrongDescriptor(descr) => Some(descr.to_string()),
                _ => None,
            };
            Err(NpyFault::corrupt(e, holds))
        }
    }
}

/// An `.npz` archive being written, each array's error naming it.
pub(crate) struct NpzOut<'p> {
    path: &'p Path,
    npz: NpzWriter<std::io::BufWriter<std::fs::File>>,
}

impl<'p> NpzOut<'p> {
    pub(crate) fn create(path: &'p Path) -> Result<Self> {
        let file = std::fs::File::create(path)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        Ok(NpzOut {
            path,
            npz: NpzWriter::new(std::io::BufWriter::new(file)),
        })
    }

    fn failed(&self, message: String) -> Error {
        Error::File {
            path: self.path.to_path_buf(),
            message,
        }
    }

    pub(crate) fn add<S, D>(&mut self, name: &str, array: &ndarray::ArrayBase<S, D>) -> Result<()>
    where
        S: ndarray::Data,
        S::Elem: ndarray_npy::WritableElement,
        D: Dimension,
    {
        self.npz
            .add_array(name, array)
            .map_err(|e| self.failed(format!("writing array `{name}`: {e}")))
    }

    /// An integer column, as int64 (numpy's default).
    pub(crate) fn add_ints(&mut self, name: &str, column: &[u32]) -> Result<()> {
        let ints: Array1<i64> = column.iter().map(|&x| i64::from(x)).collect();
        self.add(name, &ints)
    }

    pub(crate) fn add_vec<A: ndarray_npy::WritableElement + Clone>(
        &mut self,
        name: &str,
        column: &[A],
    ) -> Result<()> {
        self.add(name, &Array1::from(column.to_vec()))
    }

    pub(crate) fn finish(self) -> Result<()> {
        let path = self.path;
        self.npz.finish().map_err(|e| Error::File {
            path: path.to_path_buf(),
            message: format!("finishing the archive: {e}"),
        })?;
        Ok(())
    }
}

/// Writes the dataset's columns as arrays of one `.npz` archive.
pub fn write_npz(path: &Path, data: &Dataset) -> Result<()> {
    let mut npz = NpzOut::create(path)?;
    npz.add_ints("episode", &data.episode)?;
    npz.add_ints("step", &data.step)?;
    npz.add_ints("state", &data.state)?;
    npz.add_ints("action", &data.action)?;
    npz.add_vec("reward", &data.reward)?;
    npz.add_ints("next_state", &data.next_state)?;
    npz.add_vec("terminated", &data.terminated)?;
    npz.add_vec("truncated", &data.truncated)?;
    if let Some(policy) = &data.behavior {
        npz.add("behavior_policy", policy)?;
    }
    npz.finish()
}

/// An `.npz` archive being read: its arrays by name, each read in bounded
/// memory and checked as the CSV reader checks its cells, errors naming
/// the file and the array.
pub(crate) struct NpzIn<'p> {
    path: &'p Path,
    archive: zip::ZipArchive<std::fs::File>,
    /// The arrays a dataset of this kind requires (named when one is missing).
    required: &'static [&'static str],
}

impl<'p> NpzIn<'p> {
    pub(crate) fn open(path: &'p Path, required: &'static [&'static str]) -> Result<Self> {
        let file = crate::fsio::open_regular(path)
            .map_err(|e| Error::io(format!("cannot open dataset {}", path.display()), e))?;
        let failed = |message| Error::File {
            path: path.to_path_buf(),
            message,
        };
        let archive =
            zip::ZipArchive::new(file).map_err(|e| failed(format!("not an npz archive: {e}")))?;
        Ok(NpzIn {
            path,
            archive,
            required,
        })
    }

    pub(crate) fn failed(&self, message: String) -> Error {
        Error::File {
            path: self.path.to_path_buf(),
            message,
        }
    }

    /// An array's bytes, at most what the largest dataset's column of
    /// `width` numbers a row takes.
    pub(crate) fn entry(&mut self, name: &str, width: usize) -> Result<Option<Vec<u8>>> {
        let path = self.path;
        let failed = |message| Error::File {
            path: path.to_path_buf(),
            message,
        };
        let mut file = match self.archive.by_name(&format!("{name}.npy")) {
            Ok(file) => file,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(failed(format!("array `{name}`: {e}"))),
        };
        let limit = (MAX_TRANSITIONS as u64 * 8).saturating_mul(width as u64) + (1 << 16);
        let mut bytes = Vec::new();
        file.by_ref()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| failed(format!("array `{name}`: {e}")))?;
        if bytes.len() as u64 > limit {
            return Err(failed(format!("array `{name}` is larger than any dataset")));
        }
        Ok(Some(bytes))
    }

    /// A required array's bytes.
    fn column(&mut self, name: &str, width: usize) -> Result<Vec<u8>> {
        let bytes = self.entry(name, width)?;
        bytes.ok_or_else(|| {
            self.failed(format!(
                "missing array `{name}`; required arrays: {}",
                self.required.join(",")
            ))
        })
    }

    /// A required 1-D array of int64 or int32, each value in 0..`limit`
    /// (any `u32` without one).
    pub(crate) fn integers(&mut self, name: &str, limit: Option<usize>) -> Result<Vec<u32>> {
        let bytes = self.column(name, 1)?;
        let values = values::<i64>(name, &bytes)
            .or_else(|e| {
                values::<i32>(name, &bytes)
                    .map(|v| v.into_iter().map(i64::from).collect())
                    .map_err(|_| e)
            })
            .map_err(|e| self.failed(e))?;
        let max = limit.map_or(i64::from(u32::MAX), |n| n as i64 - 1);
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                u32::try_from(v)
                    .ok()
                    .filter(|&x| i64::from(x) <= max)
                    .ok_or_else(|| {
                        self.failed(format!(
                            "array `{name}`, entry {i}: {v} is out of range; valid values: 0..={max}"
                        ))
                    })
            })
            .collect()
    }

    /// A required 1-D array of booleans.
    pub(crate) fn flags(&mut self, name: &str) -> Result<Vec<bool>> {
        let bytes = self.column(name, 1)?;
        values(name, &bytes).map_err(|e| self.failed(e))
    }

    /// A required array of finite float64 numbers: 1-D (`width` None) or
    /// N × `width`, as one row-major column.
    pub(crate) fn reals(&mut self, name: &str, width: Option<usize>) -> Result<Vec<f64>> {
        let bytes = self.column(name, width.unwrap_or(1))?;
        let numbers = match width {
            None => values(name, &bytes),
            Some(width) => parse_npy::<f64, ndarray::Ix2>(&bytes)
                .map_err(|e| format!("array `{name}`: {e}"))
                .and_then(|a| {
                    if a.ncols() == width {
                        Ok(a.into_iter().collect())
                    } else {
                        Err(format!(
                            "array `{name}` is {:?}; expected {width} numbers a row",
                            a.dim()
                        ))
                    }
                }),
        }
        .map_err(|e| self.failed(e))?;
        if let Some(i) = numbers.iter().position(|r: &f64| !r.is_finite()) {
            return Err(self.failed(format!(
                "array `{name}`, entry {}: {} is not a finite number",
                i / width.unwrap_or(1),
                numbers[i]
            )));
        }
        Ok(numbers)
    }

    /// An error unless every array holds `n` rows (`lengths`: name and
    /// rows), `n` is at least one and at most [`MAX_TRANSITIONS`].
    pub(crate) fn check_rows(
        &self,
        first: &str,
        n: usize,
        lengths: &[(&str, usize)],
    ) -> Result<()> {
        if let Some(&(name, len)) = lengths.iter().find(|&&(_, len)| len != n) {
            return Err(self.failed(format!(
                "array `{name}` holds {len} values, `{first}` {n}: every array holds one per transition"
            )));
        }
        if n == 0 {
            return Err(self.failed("no transitions".into()));
        }
        if n > MAX_TRANSITIONS {
            return Err(self.failed(format!(
                "{n} transitions; a dataset holds at most {MAX_TRANSITIONS}"
            )));
        }
        Ok(())
    }
}

/// Reads a dataset `.npz`: the arrays [`write_npz`] writes, as numpy's
/// `np.savez` writes them too (integers int64 or int32, rewards float64,
/// flags bool; stored, not compressed), every value checked as the CSV
/// reader checks its cells. `behavior_policy`, when there, comes back as
/// the dataset's behaviour policy.
pub fn read_npz(path: &Path, n_states: usize, n_actions: usize) -> Result<Dataset> {
    let mut npz = NpzIn::open(path, &COLUMNS)?;
    let mut data = Dataset::new(n_states, n_actions);
    data.episode = npz.integers("episode", None)?;
    data.step = npz.integers("step", None)?;
    data.state = npz.integers("state", Some(n_states))?;
    data.action = npz.integers("action", Some(n_actions))?;
    // Checked finite after the lengths: a length error is named first.
    let reward_bytes = npz.column("reward", 1)?;
    data.reward = values("reward", &reward_bytes).map_err(|e| npz.failed(e))?;
    data.next_state = npz.integers("next_state", Some(n_states))?;
    data.terminated = npz.flags("terminated")?;
    data.truncated = npz.flags("truncated")?;
    let n = data.episode.len();
    npz.check_rows(
        "episode",
        n,
        &[
            ("step", data.step.len()),
            ("state", data.state.len()),
            ("action", data.action.len()),
            ("reward", data.reward.len()),
            ("next_state", data.next_state.len()),
            ("terminated", data.terminated.len()),
            ("truncated", data.truncated.len()),
        ],
    )?;
    if let Some(i) = data.reward.iter().position(|r| !r.is_finite()) {
        return Err(npz.failed(format!(
            "array `reward`, entry {i}: {} is not a finite number",
            data.reward[i]
        )));
    }
    if let Some(bytes) = npz.entry("behavior_policy", 1)? {
        let policy = parse_npy::<f64, _>(&bytes)
            .map_err(|e| npz.failed(format!("array `behavior_policy`: {e}")))?;
        if policy.dim() != (n_states, n_actions) {
            return Err(npz.failed(format!(
                "array `behavior_policy` is {:?}, the environment has {n_states} states and {n_actions} actions",
                policy.dim()
            )));
        }
        data.behavior = Some(policy);
    }
    Ok(data)
}

/// The values of the 1-D array `name` of an npz, from its npy bytes.
fn values<A>(name: &str, bytes: &[u8]) -> std::result::Result<Vec<A>, String>
where
    A: ViewElement + ReadableElement + Clone,
{
    parse_npy::<A, Ix1>(bytes)
        .map(|a| a.to_vec())
        .map_err(|e| format!("array `{name}`: {e}"))
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

    #[test]
    fn an_npz_reads_back_as_written_and_is_checked_as_a_csv_is() {
        let mut data = Dataset::new(3, 2);
        data.push(0, 0, 0, 1, -10.0, 2, true, false);
        data.push(1, 0, 2, 0, 1.5, 1, false, true);
        data.behavior = Some(Array2::from_elem((3, 2), 0.5));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        write_npz(&path, &data).unwrap();
        assert_eq!(read_npz(&path, 3, 2).unwrap(), data);
        // State 2 is out of range in a two-state environment.
        let err = read_npz(&path, 2, 2).unwrap_err().to_string();
        assert!(
            err.contains("d.npz") && err.contains("array `state`, entry 1: 2 is out of range"),
            "{err}"
        );
        std::fs::write(&path, b"not a zip").unwrap();
        let err = read_npz(&path, 3, 2).unwrap_err().to_string();
        assert!(err.contains("not an npz archive"), "{err}");
    }
}
