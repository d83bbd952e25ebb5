//! The skip memory of a row-wise descent (speed, not algorithm): which
//! states' rows the last descent left alone, and what their steps read.
//!
//! A row's step is a pure function of the row and of inputs that can change
//! between iterations (for cql: its targets y, the Bellman weights w and
//! the push-down weight d). A state whose last step left its row alone, bit
//! for bit, and whose inputs are again each within four ulps
//! ([`within_rounding`]) of those that step read, would be left alone
//! again: [`Settled::skips`] says so and the descent skips it. The row's
//! fixed point moves with such inputs by about as much, which is the
//! rounding a step is not taken for. The inputs kept are those of the last
//! step taken, so drift cannot add up past that. Without it `combo`, whose
//! rollouts move every weight by an ulp or so each iteration, stepped 285
//! of 384 Taxi states a time at steady state only to leave 231 of them
//! alone.
//!
//! The memory goes into checkpoints ([`Settled::save`]): a resumed run
//! skips the rows the uninterrupted one would (inputs within rounding of
//! those read, not equal, so stepping them anew could differ).

use super::tabular::{load_table, save_table};
use crate::error::{Error, Result};
use ndarray::Array2;

/// What each state's last step read, and whether every step of the last
/// descent left its row as it was.
pub struct Settled {
    /// Each input's name (its checkpoint key), width per state and values,
    /// states × width, row-major.
    inputs: Vec<Input>,
    left_alone: Vec<bool>,
    /// Whether the memory describes the rows as they are: a descent leaves
    /// it so (from its first pass on), a checkpoint restores it, a row
    /// replaced from outside (a projection) does not.
    trusted: bool,
    /// The checkpoint's name for this memory, for its errors.
    owner: &'static str,
}

struct Input {
    name: &'static str,
    width: usize,
    values: Vec<f64>,
}

impl Settled {
    /// An empty memory for `n_states` states whose steps read the inputs
    /// `inputs` (name and width per state, in the order [`Settled::skips`]
    /// and [`Settled::record`] take them).
    pub fn new(owner: &'static str, n_states: usize, inputs: &[(&'static str, usize)]) -> Self {
        Settled {
            inputs: inputs
                .iter()
                .map(|&(name, width)| Input {
                    name,
                    width,
                    values: vec![0.0; n_states * width],
                })
                .collect(),
            left_alone: vec![false; n_states],
            trusted: false,
            owner,
        }
    }

    /// Whether state `s` may be skipped: its last step left the row alone
    /// and each of `inputs` is within rounding of what that step read.
    ///
    /// SPEED: `K` inputs of widths the caller's slices fix (a kernel's
    /// [`super::tabular::row_len`]), so the comparisons unroll; with the
    /// widths read from `self` they ran as loops of unknown length, and
    /// about half of combo's descent (which skips most rows) went to them.
    #[inline(always)]
    pub fn skips<const K: usize>(&self, s: usize, inputs: &[&[f64]; K]) -> bool {
        if !(self.trusted && self.left_alone[s]) {
            return false;
        }
        // A loop, not `all`: rustc left `all`'s `try_fold` out of line, and
        // the widths with it.
        for (i, now) in inputs.iter().enumerate() {
            let kept = &self.inputs[i].values[self.start(i, s, now.len())..];
            if !within_rounding(&kept[..now.len()], now) {
                return false;
            }
        }
        true
    }

    /// Keeps `inputs` as what state `s`'s step reads.
    #[inline(always)]
    pub fn record<const K: usize>(&mut self, s: usize, inputs: &[&[f64]; K]) {
        for (i, now) in inputs.iter().enumerate() {
            let start = self.start(i, s, now.len());
            self.inputs[i].values[start..][..now.len()].copy_from_slice(now);
        }
    }

    /// Where state `s`'s values of input `i` start, given as `width` wide
    /// (its declared width; the caller's length is the one the compiler knows).
    #[inline(always)]
    fn start(&self, i: usize, s: usize, width: usize) -> usize {
        let kept = &self.inputs[i];
        assert_eq!(kept.width, width, "{}'s {} width", self.owner, kept.name);
        s * width
    }

    /// Notes whether state `s`'s step left its row alone; on a descent's
    /// later passes a row counts as left alone only if every pass left it.
    #[inline(always)]
    pub fn note(&mut self, s: usize, first_pass: bool, left_alone: bool) {
        self.left_alone[s] = (first_pass || self.left_alone[s]) && left_alone;
    }

    /// Whether the last descent left state `s`'s row alone.
    pub fn left_alone(&self, s: usize) -> bool {
        self.left_alone[s]
    }

    /// A pass of the descent is done: the memory describes the rows.
    pub fn passed(&mut self) {
        self.trusted = true;
    }

    /// The rows were replaced from outside: nothing here is trusted.
    pub fn forget(&mut self) {
        self.trusted = false;
    }

    /// The memory for a checkpoint (`null` while it is not trusted).
    pub fn save(&self) -> serde_json::Value {
        if !self.trusted {
            return serde_json::Value::Null;
        }
        let mut state = serde_json::Map::new();
        for input in &self.inputs {
            let rows = input.values.len() / input.width;
            let table = Array2::from_shape_vec((rows, input.width), input.values.clone());
            state.insert(input.name.into(), save_table(&table.expect("rows")));
        }
        state.insert("left_alone".into(), self.left_alone.clone().into());
        serde_json::Value::Object(state)
    }

    /// Restores what [`Settled::save`] wrote; `null` (saved before the
    /// first descent) restores nothing, and every row is stepped.
    pub fn load(&mut self, state: &serde_json::Value) -> Result<()> {
        self.forget();
        if state.is_null() {
            return Ok(());
        }
        let ns = self.left_alone.len();
        let left_alone: Vec<bool> = serde_json::from_value(state["left_alone"].clone())
            .ok()
            .filter(|v: &Vec<bool>| v.len() == ns)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "checkpoint: {}'s memory: left_alone is not {ns} booleans",
                    self.owner
                ))
            })?;
        for input in &mut self.inputs {
            input.values = load_table(&state[input.name], (ns, input.width))?
                .into_raw_vec_and_offset()
                .0;
        }
        self.left_alone = left_alone;
        self.trusted = true;
        Ok(())
    }
}

/// Whether `b` equals `a` bit for bit or lies within four units in the
/// last place of it on every entry. A Newton step that short is the
/// gradient's rounding at the fixed point, not progress: taken, it kept
/// rows dithering by an ulp at every iteration, and with them the targets
/// of every row that reads them, so rows were never left alone and skipped
/// (at 40,000 iterations on Taxi medium 207 of 384 states still stepped; 35
/// do without such steps, and by 10,000 iterations Q no longer changes).
#[inline(always)]
pub fn within_rounding(a: &[f64], b: &[f64]) -> bool {
    // A loop, not `all`, for the reason in [`Settled::skips`].
    for (&x, &y) in a.iter().zip(b) {
        let close = x.to_bits() == y.to_bits() || (x - y).abs() <= ROUNDING * x.abs();
        if !close {
            return false;
        }
    }
    true
}

/// Four units in the last place, relative: 2⁻⁵⁰.
const ROUNDING: f64 = 1.0 / (1u64 << 50) as f64;

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Settled {
        Settled::new("test", 3, &[("y", 2), ("down", 1)])
    }

    #[test]
    fn a_row_left_alone_is_skipped_while_its_inputs_stay_within_rounding() {
        let mut m = memory();
        let (y, down) = ([1.0, -2.0], [0.25]);
        assert!(
            !m.skips(1, &[&y, &down]),
            "nothing is trusted before a pass"
        );
        m.record(1, &[&y, &down]);
        m.note(1, true, true);
        m.passed();
        assert!(m.skips(1, &[&y, &down]));
        let nudged = [f64::from_bits(1.0f64.to_bits() + 4), -2.0];
        assert!(m.skips(1, &[&nudged, &down]), "four ulps is rounding");
        let moved = [f64::from_bits(1.0f64.to_bits() + 8), -2.0];
        assert!(!m.skips(1, &[&moved, &down]), "eight ulps is not");
        assert!(!m.skips(1, &[&y, &[0.5]]));
        m.note(1, false, false);
        assert!(!m.skips(1, &[&y, &down]), "a later pass moved the row");
        m.forget();
        m.note(1, true, true);
        assert!(!m.skips(1, &[&y, &down]), "a replaced table is not trusted");
    }

    #[test]
    fn the_memory_round_trips_through_a_checkpoint() {
        let mut m = memory();
        assert!(m.save().is_null());
        m.record(2, &[&[0.1, 0.3], &[1e-300]]);
        m.note(2, true, true);
        m.passed();
        let mut restored = memory();
        restored.load(&m.save()).unwrap();
        assert!(restored.skips(2, &[&[0.1, 0.3], &[1e-300]]));
        assert!(!restored.skips(0, &[&[0.0, 0.0], &[0.0]]));
        let mut broken = m.save();
        broken["left_alone"] = serde_json::json!([true]);
        let refused = memory().load(&broken).unwrap_err().to_string();
        assert!(refused.contains("test's memory"), "{refused}");
    }
}
