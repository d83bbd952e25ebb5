//! Bring your own MDP: a JSON file in the shape of Gymnasium's
//! `env.unwrapped.P`, so any toy-text environment (and any small problem a
//! researcher has) loads as a [`TabularMdp`]. `scripts/export_mdp.py`
//! writes one from a Gymnasium environment; `pessimist env show --json`
//! writes one from a built-in environment.
//!
//! ```json
//! {"n_states": 2, "n_actions": 1,
//!  "initial_state_distribution": [1.0, 0.0],
//!  "P": [[[[1.0, 1, 0.5, false]]], [[[1.0, 1, 0.0, true]]]],
//!  "max_episode_steps": 100}
//! ```
//!
//! `P[s][a]` lists `[probability, next_state, reward, terminated]`
//! outcomes; `max_episode_steps` (Gymnasium's time limit) may be null or
//! absent, and is at most [`MAX_EPISODE_STEPS`]; `id` and
//! `gymnasium_version` are informational. A reward of
//! `null` (how JSON spells NaN) is rejected with the place that has it.

use crate::error::{Error, Result};

/// The longest time limit a file may set. Every eval point computes the
/// episode return exactly, by one backward step per time step, so a limit
/// of 10¹² would never finish; 100,000 covers every Gymnasium registration
/// (the longest toy-text limit is 200) with room for long chains.
pub const MAX_EPISODE_STEPS: usize = 100_000;
use crate::mdp::{Outcome, TabularMdp};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// Everything but the table, read first: the table is then read straight
/// into its flat form knowing its sizes, so a 64 MiB file costs about its
/// size again, not a tree of JSON values twenty times larger.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    n_states: usize,
    n_actions: usize,
    initial_state_distribution: Vec<f64>,
    #[serde(rename = "P")]
    _p: IgnoredAny,
    #[serde(default)]
    max_episode_steps: Option<usize>,
    /// Informational, as is `gymnasium_version`.
    #[serde(default, rename = "id")]
    _id: Option<String>,
    #[serde(default, rename = "gymnasium_version")]
    _gymnasium_version: Option<String>,
}

/// Parses and validates an MDP file's `text`; `id` names it in errors
/// (`file:PATH`). Every error says which state, action or outcome is wrong.
pub fn from_json(id: &str, text: &str) -> Result<TabularMdp> {
    let invalid = |message: String| Error::InvalidMdp {
        id: id.to_string(),
        message,
    };
    let file: Header = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let (ns, na) = (file.n_states, file.n_actions);
    if file.initial_state_distribution.len() != ns {
        return Err(invalid(format!(
            "initial_state_distribution has {} entries, n_states is {ns}",
            file.initial_state_distribution.len()
        )));
    }
    match file.max_episode_steps {
        Some(0) => return Err(invalid("max_episode_steps is 0".into())),
        Some(t) if t > MAX_EPISODE_STEPS => {
            return Err(invalid(format!(
                "max_episode_steps is {t}, more than the {MAX_EPISODE_STEPS} allowed"
            )));
        }
        _ => {}
    }
    // At least one outcome per pair; an outcome takes at least 9 bytes of
    // text and a pair 2, so the header's sizes cannot reserve more than
    // the text could fill.
    let pairs = ns.saturating_mul(na);
    let mut offsets = Vec::with_capacity(pairs.min(text.len() / 2) + 1);
    offsets.push(0);
    let mut table = Table {
        n_states: ns,
        n_actions: na,
        offsets,
        outcomes: Vec::with_capacity(pairs.min(text.len() / 9)),
    };
    de::Deserializer::deserialize_map(
        &mut serde_json::Deserializer::from_str(text),
        TableOf(&mut table),
    )
    .map_err(|e| invalid(e.to_string()))?;
    TabularMdp::from_flat(
        id,
        ns,
        na,
        table.offsets,
        table.outcomes,
        file.initial_state_distribution,
        file.max_episode_steps,
    )
}

/// `P`, flat: what [`TabularMdp::from_flat`] takes.
struct Table {
    n_states: usize,
    n_actions: usize,
    offsets: Vec<u32>,
    outcomes: Vec<Outcome>,
}

/// The file's object, reading only `P` (the header was checked).
struct TableOf<'a>(&'a mut Table);

impl<'de> Visitor<'de> for TableOf<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an MDP object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> std::result::Result<(), M::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
            if key == "P" {
                map.next_value_seed(States(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `P`: one list of actions per state.
struct States<'a>(&'a mut Table);

impl<'de> DeserializeSeed<'de> for States<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for States<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("P, a list of states")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let ns = self.0.n_states;
        let mut s = 0;
        while s < ns && seq.next_element_seed(Actions(&mut *self.0, s))?.is_some() {
            s += 1;
        }
        let mut states = s;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            states += 1;
        }
        if states != ns {
            return Err(de::Error::custom(format!(
                "P has {states} states, n_states is {ns}"
            )));
        }
        Ok(())
    }
}

/// `P[s]`: one list of outcomes per action.
struct Actions<'a>(&'a mut Table, usize);

impl<'de> DeserializeSeed<'de> for Actions<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Actions<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "P[{}], a list of actions", self.1)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let (table, s) = (self.0, self.1);
        let na = table.n_actions;
        let mut a = 0;
        while a < na
            && seq
                .next_element_seed(Outcomes(&mut *table, s, a))?
                .is_some()
        {
            a += 1;
        }
        let mut actions = a;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            actions += 1;
        }
        if actions != na {
            return Err(de::Error::custom(format!(
                "P[{s}] has {actions} actions, n_actions is {na}"
            )));
        }
        Ok(())
    }
}

/// `P[s][a]`: its outcomes, appended to the table.
struct Outcomes<'a>(&'a mut Table, usize, usize);

impl<'de> DeserializeSeed<'de> for Outcomes<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Outcomes<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "P[{}][{}], a list of outcomes", self.1, self.2)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let (table, s, a) = (self.0, self.1, self.2);
        let mut k = 0;
        // One small value at a time: the shape errors quote it.
        while let Some(v) = seq.next_element::<Value>()? {
            let o = outcome(&v, table.n_states)
                .map_err(|m| de::Error::custom(format!("P[{s}][{a}][{k}] {m}")))?;
            table.outcomes.push(o);
            k += 1;
        }
        let end = u32::try_from(table.outcomes.len())
            .map_err(|_| de::Error::custom("P has more than 2^32 outcomes"))?;
        table.offsets.push(end);
        Ok(())
    }
}

/// One `[probability, next_state, reward, terminated]` entry.
fn outcome(v: &Value, n_states: usize) -> std::result::Result<Outcome, String> {
    let shape = || format!("is {v}, not [probability, next_state, reward, terminated]");
    let items = v.as_array().filter(|a| a.len() == 4).ok_or_else(shape)?;
    let prob = items[0].as_f64().ok_or_else(shape)?;
    let next = items[1]
        .as_u64()
        .filter(|&t| (t as usize) < n_states)
        .ok_or_else(|| format!("leads to state {}, not one of 0..{n_states}", items[1]))?;
    let reward = match &items[2] {
        Value::Null => f64::NAN,
        r => r.as_f64().ok_or_else(shape)?,
    };
    let terminated = match &items[3] {
        Value::Bool(b) => *b,
        Value::Number(n) if n.as_u64() == Some(0) => false,
        Value::Number(n) if n.as_u64() == Some(1) => true,
        _ => return Err(shape()),
    };
    Ok(Outcome {
        prob,
        next: next as u32,
        reward,
        terminated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"{"n_states": 2, "n_actions": 1,
        "initial_state_distribution": [1.0, 0.0],
        "P": [[[[1.0, 1, 0.5, false]]], [[[1.0, 1, 0.0, true]]]],
        "max_episode_steps": 100}"#;

    #[test]
    fn a_small_file_loads() {
        let mdp = from_json("file:two.json", TWO).unwrap();
        assert_eq!((mdp.n_states(), mdp.n_actions()), (2, 1));
        assert_eq!(mdp.time_limit(), Some(100));
        assert_eq!(mdp.outcomes(0, 0)[0].reward, 0.5);
        assert!(mdp.outcomes(1, 0)[0].terminated);
    }

    #[test]
    fn errors_name_the_state_and_action() {
        let error = |from: &str, to: &str| {
            from_json("file:two.json", &TWO.replace(from, to))
                .unwrap_err()
                .to_string()
        };
        let e = error("[[[1.0, 1, 0.5, false]]]", "[[[0.5, 1, 0.5, false]]]");
        assert!(
            e.contains("P[0][0] sums to 0.5") && e.contains("file:two.json"),
            "{e}"
        );
        let e = error("[[[1.0, 1, 0.0, true]]]", "[[[1.0, 2, 0.0, true]]]");
        assert!(e.contains("P[1][0][0] leads to state 2"), "{e}");
        let e = error("0.5, false", "null, false");
        assert!(e.contains("P[0][0] has reward NaN"), "{e}");
        let e = error("[[[1.0, 1, 0.0, true]]]", "[[[1.0, 1, 0.0, true]], []]");
        assert!(e.contains("P[1] has 2 actions, n_actions is 1"), "{e}");
        let e = error("[1.0, 0.0]", "[1.0]");
        assert!(
            e.contains("initial_state_distribution has 1 entries"),
            "{e}"
        );
        let e = error("\"max_episode_steps\"", "\"time_limit\"");
        assert!(e.contains("unknown field `time_limit`"), "{e}");
        let e = error("100}", "1000000000000}");
        assert!(
            e.contains("max_episode_steps is 1000000000000, more than the 100000 allowed"),
            "{e}"
        );
        let e = error("[1.0, 1, 0.5, false]", "[1.0, 1, 0.5]");
        assert!(e.contains("P[0][0][0] is [1.0,1,0.5], not"), "{e}");
    }
}
