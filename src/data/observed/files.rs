//! Observation datasets as files (docs/files.md).
//!
//! CSV: the tabular columns with observation vectors for states,
//! `episode,step,obs_0,..,obs_{d-1},action,reward,next_obs_0,..,next_obs_{d-1},terminated,truncated`,
//! read by the tabular reader's driver ([`crate::data::csv::Format`]) with
//! the same rules and errors; numbers are written in Rust's shortest
//! round-trip form, so export then import is lossless.
//!
//! `.npz`: D4RL's array names, `observations` and `next_observations`
//! (N × d float64), `actions` (int64), `rewards` (float64), `terminals`
//! and `timeouts` (bool: terminated, truncated), plus `episode` and
//! `step` (int64) as the tabular archives have them.

use super::ObsDataset;
use crate::data::csv::{
    self, Fields, Format, boolean, column_index, csv_error, integer, real, text,
};
use crate::data::npy::{NpzIn, NpzOut};
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::Path;

/// The CSV columns of observations of `d` numbers, in the order written.
pub fn columns(d: usize) -> Vec<String> {
    let obs = |prefix: &'static str| (0..d).map(move |i| format!("{prefix}_{i}"));
    ["episode".to_string(), "step".to_string()]
        .into_iter()
        .chain(obs("obs"))
        .chain(["action".to_string(), "reward".to_string()])
        .chain(obs("next_obs"))
        .chain(["terminated".to_string(), "truncated".to_string()])
        .collect()
}

/// What a CSV column holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Episode,
    Step,
    Obs(usize),
    Action,
    Reward,
    NextObs(usize),
    Terminated,
    Truncated,
    /// A field no column reads.
    Unread,
}

/// The kind of column `c` of [`columns`]`(d)`.
fn kind(c: usize, d: usize) -> Kind {
    match c {
        0 => Kind::Episode,
        1 => Kind::Step,
        c if c < 2 + d => Kind::Obs(c - 2),
        c if c == 2 + d => Kind::Action,
        c if c == 3 + d => Kind::Reward,
        c if c < 4 + 2 * d => Kind::NextObs(c - 4 - d),
        c if c == 4 + 2 * d => Kind::Terminated,
        c if c == 5 + 2 * d => Kind::Truncated,
        _ => Kind::Unread,
    }
}

/// An observation CSV's columns in its header.
struct ObsLayout<'a> {
    path: &'a Path,
    names: Vec<String>,
    /// The field of each column.
    index: Vec<usize>,
    /// The kind of each field.
    kinds: Vec<Kind>,
    obs_dim: usize,
    n_actions: usize,
}

impl<'a> ObsLayout<'a> {
    fn new(path: &'a Path, header: &[&[u8]], obs_dim: usize, n_actions: usize) -> Result<Self> {
        let named = |prefix: &str| {
            header
                .iter()
                .filter(|h| {
                    h.trim_ascii()
                        .strip_prefix(prefix.as_bytes())
                        .is_some_and(|i| !i.is_empty() && i.iter().all(u8::is_ascii_digit))
                })
                .count()
        };
        for prefix in ["obs_", "next_obs_"] {
            let found = named(prefix);
            if found != obs_dim {
                return Err(csv_error(
                    path,
                    0,
                    None,
                    format!(
                        "the header has {found} `{prefix}*` columns; the environment's observations have {obs_dim} numbers ({prefix}0..{prefix}{})",
                        obs_dim - 1
                    ),
                ));
            }
        }
        let names = columns(obs_dim);
        let index = column_index(path, header, &names)?;
        let mut kinds = vec![Kind::Unread; header.len()];
        for (c, &field) in index.iter().enumerate() {
            kinds[field] = kind(c, obs_dim);
        }
        Ok(ObsLayout {
            path,
            names,
            index,
            kinds,
            obs_dim,
            n_actions,
        })
    }
}

impl Format for ObsLayout<'_> {
    type Data = ObsDataset;

    fn empty(&self) -> ObsDataset {
        ObsDataset::new(self.obs_dim, self.n_actions)
    }

    fn len(data: &ObsDataset) -> usize {
        data.len()
    }

    fn reserve(data: &mut ObsDataset, rows: usize) {
        let _ = data.try_reserve(rows);
    }

    fn append(data: &mut ObsDataset, part: &mut ObsDataset) {
        data.append(part);
    }

    fn width(&self) -> usize {
        self.kinds.len()
    }

    fn convert<'c>(
        &self,
        row: u64,
        cell: &dyn Fn(usize) -> Option<&'c [u8]>,
        data: &mut ObsDataset,
    ) -> Result<()> {
        let d = self.obs_dim;
        let at =
            |c: usize, message: String| csv_error(self.path, row, Some(&self.names[c]), message);
        let text = |c: usize| text(cell(self.index[c])).map_err(|m| at(c, m));
        let integer = |c: usize, limit| integer(text(c)?, limit).map_err(|m| at(c, m));
        let real = |c: usize| real(text(c)?).map_err(|m| at(c, m));
        let boolean = |c: usize| boolean(text(c)?).map_err(|m| at(c, m));
        let episode = integer(0, None)?;
        let step = integer(1, None)?;
        let obs = (2..2 + d).map(real).collect::<Result<Vec<f64>>>()?;
        let action = integer(2 + d, Some(self.n_actions))?;
        let reward = real(3 + d)?;
        let next = (4 + d..4 + 2 * d).map(real).collect::<Result<Vec<f64>>>()?;
        let terminated = boolean(4 + 2 * d)?;
        let truncated = boolean(5 + 2 * d)?;
        data.obs.extend_from_slice(&obs);
        data.next_obs.extend_from_slice(&next);
        data.columns()
            .push(episode, step, action, reward, terminated, truncated);
        Ok(())
    }

    #[inline]
    fn fast(&self, bytes: &[u8], data: &mut ObsDataset) -> Option<usize> {
        let (n, d) = (data.len(), self.obs_dim);
        data.obs.resize((n + 1) * d, 0.0);
        data.next_obs.resize((n + 1) * d, 0.0);
        let (mut ints, mut reward, mut flags) = ([0u32; 3], 0.0, [false; 2]);
        let mut fields = Fields::new(bytes);
        let any = u32::MAX as usize + 1;
        let mut parse = || -> Option<usize> {
            for &kind in &self.kinds {
                match kind {
                    Kind::Episode => ints[0] = fields.integer(any)?,
                    Kind::Step => ints[1] = fields.integer(any)?,
                    Kind::Obs(i) => data.obs[n * d + i] = fields.real()?,
                    Kind::Action => ints[2] = fields.integer(self.n_actions)?,
                    Kind::Reward => reward = fields.real()?,
                    Kind::NextObs(i) => data.next_obs[n * d + i] = fields.real()?,
                    Kind::Terminated => flags[0] = fields.flag()?,
                    Kind::Truncated => flags[1] = fields.flag()?,
                    Kind::Unread => fields.skip()?,
                }
            }
            fields.end()
        };
        let Some(len) = parse() else {
            data.obs.truncate(n * d);
            data.next_obs.truncate(n * d);
            return None;
        };
        let [episode, step, action] = ints;
        data.columns()
            .push(episode, step, action, reward, flags[0], flags[1]);
        Some(len)
    }
}

/// Reads an observation dataset CSV for an environment whose observations
/// have `obs_dim` numbers and which has `n_actions` actions, checking
/// every cell.
pub fn read_obs_csv(path: &Path, obs_dim: usize, n_actions: usize) -> Result<ObsDataset> {
    let file = crate::fsio::open_regular(path)
        .map_err(|e| Error::io(format!("cannot open dataset {}", path.display()), e))?;
    read_obs_csv_from(path, file, obs_dim, n_actions)
}

/// [`read_obs_csv`] from `file`, opened from `path` (which errors name).
pub fn read_obs_csv_from(
    path: &Path,
    file: impl Read,
    obs_dim: usize,
    n_actions: usize,
) -> Result<ObsDataset> {
    let layout = |header: &[&[u8]]| ObsLayout::new(path, header, obs_dim, n_actions);
    csv::read_blocks(path, file, &layout, csv::BLOCK)
}

/// Writes `data` with the header of [`columns`]. Rows are formatted in
/// blocks on every core (shortest round-trip floats are most of the
/// cost) and written in order.
pub fn write_obs_csv(path: &Path, data: &ObsDataset) -> Result<()> {
    use rayon::prelude::*;
    const ROWS: usize = 1 << 14;
    let context = || format!("cannot write dataset {}", path.display());
    let file = std::fs::File::create(path).map_err(|e| Error::io(context(), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let d = data.obs_dim;
    let rows = |range: std::ops::Range<usize>| -> Vec<u8> {
        let mut text = Vec::with_capacity(range.len() * (24 * (2 * d + 1) + 24));
        for i in range {
            // Writing to a Vec cannot fail.
            let _ = write!(text, "{},{}", data.episode[i], data.step[i]);
            for x in &data.obs[i * d..(i + 1) * d] {
                let _ = write!(text, ",{x:?}");
            }
            let _ = write!(text, ",{},{:?}", data.action[i], data.reward[i]);
            for x in &data.next_obs[i * d..(i + 1) * d] {
                let _ = write!(text, ",{x:?}");
            }
            let _ = writeln!(text, ",{},{}", data.terminated[i], data.truncated[i]);
        }
        text
    };
    let mut write = || -> std::io::Result<()> {
        writeln!(out, "{}", columns(d).join(","))?;
        // A few blocks a core at a time, so memory stays bounded.
        let batch = ROWS * 4 * rayon::current_num_threads();
        for start in (0..data.len()).step_by(batch) {
            let end = (start + batch).min(data.len());
            let blocks: Vec<Vec<u8>> = (start..end)
                .step_by(ROWS)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|from| rows(from..(from + ROWS).min(end)))
                .collect();
            for block in blocks {
                out.write_all(&block)?;
            }
        }
        out.flush()
    };
    write().map_err(|e| Error::io(context(), e))
}

/// The arrays of an observation `.npz`.
pub const ARRAYS: [&str; 8] = [
    "episode",
    "step",
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminals",
    "timeouts",
];

/// Writes `data` as the arrays [`ARRAYS`] of one `.npz` archive.
pub fn write_obs_npz(path: &Path, data: &ObsDataset) -> Result<()> {
    let mut npz = NpzOut::create(path)?;
    npz.add_ints("episode", &data.episode)?;
    npz.add_ints("step", &data.step)?;
    npz.add("observations", &data.observations())?;
    npz.add_ints("actions", &data.action)?;
    npz.add_vec("rewards", &data.reward)?;
    npz.add("next_observations", &data.next_observations())?;
    npz.add_vec("terminals", &data.terminated)?;
    npz.add_vec("timeouts", &data.truncated)?;
    npz.finish()
}

/// Reads an observation `.npz` (the arrays [`write_obs_npz`] writes, as
/// numpy's `np.savez` writes them too), every value checked as the CSV
/// reader checks its cells.
pub fn read_obs_npz(path: &Path, obs_dim: usize, n_actions: usize) -> Result<ObsDataset> {
    let mut npz = NpzIn::open(path, &ARRAYS)?;
    let mut data = ObsDataset::new(obs_dim, n_actions);
    data.episode = npz.integers("episode", None)?;
    data.step = npz.integers("step", None)?;
    data.obs = npz.reals("observations", Some(obs_dim))?;
    data.action = npz.integers("actions", Some(n_actions))?;
    data.reward = npz.reals("rewards", None)?;
    data.next_obs = npz.reals("next_observations", Some(obs_dim))?;
    data.terminated = npz.flags("terminals")?;
    data.truncated = npz.flags("timeouts")?;
    npz.check_rows(
        "episode",
        data.episode.len(),
        &[
            ("step", data.step.len()),
            ("observations", data.obs.len() / obs_dim),
            ("actions", data.action.len()),
            ("rewards", data.reward.len()),
            ("next_observations", data.next_obs.len() / obs_dim),
            ("terminals", data.terminated.len()),
            ("timeouts", data.truncated.len()),
        ],
    )?;
    Ok(data)
}

/// [`read_obs_file`] and the hex SHA-256 of the bytes read (as
/// [`crate::data::read_file_hashed`] for tabular datasets).
pub fn read_obs_file_hashed(
    path: &Path,
    obs_dim: usize,
    n_actions: usize,
) -> Result<(ObsDataset, String)> {
    crate::data::read_hashed(
        path,
        |path| read_obs_npz(path, obs_dim, n_actions),
        |path, input| read_obs_csv_from(path, input, obs_dim, n_actions),
    )
}

/// Reads an observation dataset file: `.npz` by its extension, CSV otherwise.
pub fn read_obs_file(path: &Path, obs_dim: usize, n_actions: usize) -> Result<ObsDataset> {
    if crate::data::is_npz(path) {
        read_obs_npz(path, obs_dim, n_actions)
    } else {
        read_obs_csv(path, obs_dim, n_actions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dataset(d: usize) -> impl Strategy<Value = ObsDataset> {
        let number = prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO;
        let row = (
            (0u32..50, 0u32..300, 0u32..3, number),
            prop::collection::vec(number, 2 * d),
            (any::<bool>(), any::<bool>()),
        );
        prop::collection::vec(row, 1..100).prop_map(move |rows| {
            let mut data = ObsDataset::new(d, 3);
            for ((e, t, a, r), obs, (term, trunc)) in rows {
                data.obs.extend_from_slice(&obs[..d]);
                data.next_obs.extend_from_slice(&obs[d..]);
                data.columns().push(e, t, a, r, term, trunc);
            }
            data
        })
    }

    proptest! {
        /// CSV and npz give back every bit, for observations of 1 to 6 numbers.
        #[test]
        fn round_trips_are_lossless(data in (1usize..7).prop_flat_map(dataset)) {
            let dir = tempfile::tempdir().unwrap();
            let (csv, npz) = (dir.path().join("d.csv"), dir.path().join("d.npz"));
            write_obs_csv(&csv, &data).unwrap();
            prop_assert_eq!(&read_obs_file(&csv, data.obs_dim, 3).unwrap(), &data);
            write_obs_npz(&npz, &data).unwrap();
            prop_assert_eq!(&read_obs_file(&npz, data.obs_dim, 3).unwrap(), &data);
        }
    }

    /// Rows as files may write them, or not quite (d = 2, 3 actions).
    fn text() -> impl Strategy<Value = Vec<u8>> {
        let header = prop_oneof![
            8 => Just(columns(2).join(",")),
            1 => Just(format!("{},extra", columns(2).join(","))),
            1 => Just(columns(2).iter().rev().cloned().collect::<Vec<_>>().join(",")),
            1 => Just(columns(3).join(",")),
            1 => Just(format!("\"episode\",{}", columns(2)[1..].join(","))),
        ];
        let odd = prop::sample::select(
            &[
                "+1",
                " 2",
                "",
                "x",
                "3",
                "-1",
                "1e3",
                "inf",
                "NaN",
                "-0.5",
                "True",
                "\"1\"",
                "1\r",
                "-0.0",
                "1e-7",
                "9007199254740993",
                "1.2.3",
                "-",
                "falsey",
            ][..],
        );
        let row = (
            (0u32..3, 0u32..9, 0u32..3, -2.0f64..2.0),
            (-1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0),
            (any::<bool>(), any::<bool>()),
            prop::collection::vec((0usize..11, odd), 0..2),
        )
            .prop_map(|((e, t, a, r), (x0, x1, y0, y1), (term, trunc), changes)| {
                let mut cells = vec![
                    e.to_string(),
                    t.to_string(),
                    format!("{x0:?}"),
                    format!("{x1:?}"),
                    a.to_string(),
                    format!("{r:?}"),
                    format!("{y0:?}"),
                    format!("{y1:?}"),
                    term.to_string(),
                    trunc.to_string(),
                ];
                for (i, text) in changes {
                    match i {
                        10 => cells.push(text.to_string()),
                        _ => cells[i] = text.to_string(),
                    }
                }
                cells.join(",")
            });
        (header, prop::collection::vec(row, 0..30)).prop_map(|(header, rows)| {
            let mut text = header + "\n";
            text += &rows.join("\n");
            text.into_bytes()
        })
    }

    proptest! {
        /// As for tabular CSV: the fast path and the csv crate alone read
        /// the same dataset or fail with the same error.
        #[test]
        fn reads_what_the_csv_crate_reads(text in text(), block in 1usize..200) {
            let path = Path::new("o.csv");
            let make = |header: &[&[u8]]| ObsLayout::new(path, header, 2, 3);
            let fast = csv::read_blocks(path, &text[..], &make, block).map_err(|e| e.to_string());
            let alone = csv::read_by_crate(path, &text[..], &make, block).map_err(|e| e.to_string());
            prop_assert_eq!(fast, alone, "{}", String::from_utf8_lossy(&text));
        }
    }

    fn error_of(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, text).unwrap();
        read_obs_csv(&path, 2, 3).unwrap_err().to_string()
    }

    #[test]
    fn errors_say_what_and_where() {
        let header = columns(2).join(",");
        assert_eq!(
            header,
            "episode,step,obs_0,obs_1,action,reward,next_obs_0,next_obs_1,terminated,truncated"
        );
        let e = error_of(&format!("{}\n", columns(3).join(",")));
        assert!(
            e.contains("the header has 3 `obs_*` columns; the environment's observations have 2 numbers (obs_0..obs_1)"),
            "{e}"
        );
        let e = error_of(&format!("{}\n", header.replace("next_obs_1", "next_obs_2")));
        assert!(e.contains("missing column `next_obs_1`"), "{e}");
        let e = error_of(&format!("{header}\n0,0,0.5,0,3,-1,0.5,0,false,false\n"));
        assert!(
            e.contains("row 1, column `action`: 3 is out of range; valid values: 0..=2"),
            "{e}"
        );
        let e = error_of(&format!(
            "{header}\n0,0,0.5,0,1,-1,0.5,0,false,false\n0,1,0.5,NaN,1,-1,0.5,0,false,false\n"
        ));
        assert!(
            e.contains("row 2, column `obs_1`: `NaN` is not a finite number"),
            "{e}"
        );
        let e = error_of(&format!("{header}\n0,0,0.5,0,1,-1,x,0,false,false\n"));
        assert!(
            e.contains("column `next_obs_0`: `x` is not a number"),
            "{e}"
        );
        let e = error_of(&format!("{header}\n0,0,0.5,0,1,-1,0,inf,false,false\n"));
        assert!(e.contains("column `next_obs_1`"), "{e}");
        let e = error_of(&format!("{header}\n"));
        assert!(e.ends_with("bad.csv: no transitions"), "{e}");
    }

    /// A D4RL-style archive numpy would write: wrong widths, lengths and
    /// values are named.
    #[test]
    fn npz_errors_name_the_array() {
        let mut data = ObsDataset::new(2, 3);
        data.push(0, 0, &[0.5, 0.0], 2, -1.0, &[0.6, 0.1], false, true);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        write_obs_npz(&path, &data).unwrap();
        let e = read_obs_npz(&path, 3, 3).unwrap_err().to_string();
        assert!(
            e.contains("array `observations` is (1, 2); expected 3 numbers a row"),
            "{e}"
        );
        let e = read_obs_npz(&path, 2, 2).unwrap_err().to_string();
        assert!(
            e.contains("array `actions`, entry 0: 2 is out of range"),
            "{e}"
        );
        data.obs[1] = f64::NAN;
        write_obs_npz(&path, &data).unwrap();
        let e = read_obs_npz(&path, 2, 3).unwrap_err().to_string();
        assert!(
            e.contains("array `observations`, entry 0: NaN is not a finite number"),
            "{e}"
        );
        let mut npz = NpzOut::create(&path).unwrap();
        npz.add("observations", &data.observations()).unwrap();
        npz.finish().unwrap();
        let e = read_obs_npz(&path, 2, 3).unwrap_err().to_string();
        assert!(
            e.contains("missing array `episode`; required arrays: episode,step,observations"),
            "{e}"
        );
    }
}
