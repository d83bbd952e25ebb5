//! CSV import/export in the interchange format (docs/cli.md, "Data formats"):
//! `episode,step,state,action,reward,next_state,terminated,truncated`,
//! header required, columns in any order (extra columns are ignored).
//! Booleans are `true`/`false` (also `1`/`0`, `True`/`False` as numpy and
//! pandas write them). Rewards are written in Rust's shortest round-trip
//! form, so export then import is lossless.

use super::{Dataset, MAX_TRANSITIONS};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// The required columns, in the order they are written.
pub const COLUMNS: [&str; 8] = [
    "episode",
    "step",
    "state",
    "action",
    "reward",
    "next_state",
    "terminated",
    "truncated",
];

/// Reads a dataset CSV, checking every cell against the environment's sizes.
pub fn read_csv(path: &Path, n_states: usize, n_actions: usize) -> Result<Dataset> {
    let file = crate::fsio::open_regular(path)
        .map_err(|e| Error::io(format!("cannot open dataset {}", path.display()), e))?;
    read_csv_from(path, file, n_states, n_actions)
}

/// [`read_csv`] from `file`, opened from `path` (which errors name).
pub fn read_csv_from(
    path: &Path,
    file: impl std::io::Read,
    n_states: usize,
    n_actions: usize,
) -> Result<Dataset> {
    // Streamed: a row longer than the limit fails the read instead of
    // growing a record without end; the row count is bounded below.
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(1 << 20)
        .from_reader(crate::fsio::LineLimit::new(file, crate::fsio::LINE));
    let csv_error = |row: u64, column: Option<&str>, message: String| Error::Csv {
        path: path.to_path_buf(),
        row,
        column: column.map(str::to_string),
        message,
    };
    let header = reader
        .byte_headers()
        .map_err(|e| csv_error(0, None, e.to_string()))?
        .clone();
    let mut index = [0usize; 8];
    for (slot, name) in index.iter_mut().zip(COLUMNS) {
        *slot = header
            .iter()
            .position(|h| h.trim_ascii() == name.as_bytes())
            .ok_or_else(|| {
                csv_error(
                    0,
                    Some(name),
                    format!(
                        "missing column `{name}` in the header; required columns: {}",
                        COLUMNS.join(",")
                    ),
                )
            })?;
    }
    let mut data = Dataset::new(n_states, n_actions);
    let mut record = ::csv::ByteRecord::new();
    let mut row = 0u64;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(row + 1, None, e.to_string())),
        }
        row += 1;
        if data.len() == MAX_TRANSITIONS {
            return Err(csv_error(
                row,
                None,
                format!("too many rows; a dataset holds at most {MAX_TRANSITIONS} transitions"),
            ));
        }
        let cell = |c: usize| -> Result<&str> {
            let bytes = record
                .get(index[c])
                .ok_or_else(|| csv_error(row, Some(COLUMNS[c]), "missing cell".to_string()))?;
            std::str::from_utf8(bytes)
                .map(str::trim)
                .map_err(|_| csv_error(row, Some(COLUMNS[c]), "not UTF-8 text".to_string()))
        };
        let integer = |c: usize, limit: Option<usize>| -> Result<u32> {
            let text = cell(c)?;
            let value: u32 = text.parse().map_err(|e: std::num::ParseIntError| {
                let message = match e.kind() {
                    std::num::IntErrorKind::PosOverflow => {
                        format!(
                            "{text} is out of range; the largest allowed is {}",
                            u32::MAX
                        )
                    }
                    _ => format!("`{text}` is not a non-negative integer"),
                };
                csv_error(row, Some(COLUMNS[c]), message)
            })?;
            match limit {
                Some(n) if value as usize >= n => Err(csv_error(
                    row,
                    Some(COLUMNS[c]),
                    format!("{value} is out of range; valid values: 0..={}", n - 1),
                )),
                _ => Ok(value),
            }
        };
        let flag = |c: usize| -> Result<bool> {
            match cell(c)? {
                "true" | "True" | "TRUE" | "1" => Ok(true),
                "false" | "False" | "FALSE" | "0" => Ok(false),
                text => Err(csv_error(
                    row,
                    Some(COLUMNS[c]),
                    format!("`{text}` is not a boolean; valid values: true, false, 1, 0"),
                )),
            }
        };
        let reward_text = cell(4)?;
        let reward: f64 = reward_text.parse().map_err(|_| {
            csv_error(
                row,
                Some("reward"),
                format!("`{reward_text}` is not a number"),
            )
        })?;
        if !reward.is_finite() {
            return Err(csv_error(
                row,
                Some("reward"),
                format!("`{reward_text}` is not a finite number"),
            ));
        }
        data.push(
            integer(0, None)?,
            integer(1, None)?,
            integer(2, Some(n_states))?,
            integer(3, Some(n_actions))?,
            reward,
            integer(5, Some(n_states))?,
            flag(6)?,
            flag(7)?,
        );
    }
    if data.is_empty() {
        return Err(Error::File {
            path: path.to_path_buf(),
            message: "no transitions".into(),
        });
    }
    Ok(data)
}

/// Writes `data` with the header `episode,step,state,action,reward,next_state,terminated,truncated`.
pub fn write_csv(path: &Path, data: &Dataset) -> Result<()> {
    let context = || format!("cannot write dataset {}", path.display());
    let file = std::fs::File::create(path).map_err(|e| Error::io(context(), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let write = |out: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        writeln!(out, "{}", COLUMNS.join(","))?;
        for i in 0..data.len() {
            writeln!(
                out,
                "{},{},{},{},{:?},{},{},{}",
                data.episode[i],
                data.step[i],
                data.state[i],
                data.action[i],
                data.reward[i],
                data.next_state[i],
                data.terminated[i],
                data.truncated[i]
            )?;
        }
        out.flush()
    };
    write(&mut out).map_err(|e| Error::io(context(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dataset() -> impl Strategy<Value = Dataset> {
        prop::collection::vec(
            (
                0u32..50,
                0u32..100,
                0u32..16,
                0u32..4,
                prop::num::f64::NORMAL | prop::num::f64::ZERO,
                0u32..16,
                any::<bool>(),
                any::<bool>(),
            ),
            1..200,
        )
        .prop_map(|rows| {
            let mut d = Dataset::new(16, 4);
            for (e, t, s, a, r, s2, term, trunc) in rows {
                d.push(e, t, s, a, r, s2, term, trunc);
            }
            d
        })
    }

    proptest! {
        #[test]
        fn round_trip_is_lossless(data in dataset()) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("d.csv");
            write_csv(&path, &data).unwrap();
            let back = read_csv(&path, 16, 4).unwrap();
            prop_assert_eq!(back, data);
        }
    }

    fn error_of(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, text).unwrap();
        read_csv(&path, 5, 2).unwrap_err().to_string()
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = error_of("episode,step,state,action,reward,next_state,terminated\n");
        assert!(e.contains("missing column `truncated`"), "{e}");
        let header = "episode,step,state,action,reward,next_state,terminated,truncated\n";
        let e = error_of(&format!(
            "{header}0,0,0,0,0,1,false,false\n0,1,1,x,0,2,false,false\n"
        ));
        assert!(e.contains("row 2, column `action`: `x`"), "{e}");
        let e = error_of(&format!("{header}0,0,0,0,0,5,false,false\n"));
        assert!(
            e.contains("row 1, column `next_state`: 5 is out of range; valid values: 0..=4"),
            "{e}"
        );
        let e = error_of(&format!("{header}0,0,0,0,abc,1,false,false\n"));
        assert!(e.contains("column `reward`"), "{e}");
        let e = error_of(&format!("{header}0,0,0,0,0,1,maybe,false\n"));
        assert!(e.contains("`maybe` is not a boolean"), "{e}");
        let e = error_of(&format!("{header}0,0,0,0,0\n"));
        assert!(e.contains("row 1"), "{e}");
        let e = error_of(&format!("{header}4294967296,0,0,0,0,1,false,false\n"));
        assert!(
            e.contains("row 1, column `episode`: 4294967296 is out of range; the largest allowed is 4294967295"),
            "{e}"
        );
        let e = error_of(&format!("{header}-1,0,0,0,0,1,false,false\n"));
        assert!(e.contains("`-1` is not a non-negative integer"), "{e}");
        let e = error_of(header);
        assert!(e.ends_with("bad.csv: no transitions"), "{e}");
    }
}
