//! Hyper-parameters: plain spec keys read into each algorithm's validated
//! parameter struct (linfa's "params, check, fit" habit). Reading records the
//! resolved value of every key, defaults included, so a run's config — and
//! so its id — names every value it trained with.

use crate::error::{Error, Result, did_you_mean};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A hyper-parameter value as written in a spec or on `--set KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Number(x) => write!(f, "{x}"),
            ParamValue::Text(s) => write!(f, "\"{s}\""),
        }
    }
}

impl ParamValue {
    /// Parses `--set` text: a number or boolean when it reads as one, else text.
    pub fn parse(text: &str) -> Self {
        if let Ok(b) = text.parse::<bool>() {
            ParamValue::Bool(b)
        } else if let Ok(x) = text.parse::<f64>() {
            ParamValue::Number(x)
        } else {
            ParamValue::Text(text.to_string())
        }
    }
}

/// Hyper-parameters by key, in a canonical (sorted) order.
pub type Params = BTreeMap<String, ParamValue>;

/// Reads typed values out of [`Params`], remembering which keys exist.
///
/// A key belongs to the choice that uses it (`lr` to fqi's `sample`
/// variant, `init_scale` to `q_init = "random"`): an algorithm reads it only
/// under that choice and names it with [`ParamReader::owned_by`] otherwise,
/// so a key the run would ignore is an error rather than a second run id
/// for the same training.
pub struct ParamReader<'a> {
    algo: &'static str,
    given: &'a Params,
    resolved: Params,
    /// Keys this configuration does not use, with the choice that would.
    elsewhere: Vec<(&'static str, String)>,
}

impl<'a> ParamReader<'a> {
    pub fn new(algo: &'static str, given: &'a Params) -> Self {
        ParamReader {
            algo,
            given,
            resolved: Params::new(),
            elsewhere: Vec::new(),
        }
    }

    /// Declares that `keys` are used only under `owner` (e.g.
    /// `variant = "sample"`), which this configuration did not choose.
    pub fn owned_by(&mut self, keys: &[&'static str], owner: &str) {
        self.elsewhere
            .extend(keys.iter().map(|&k| (k, owner.to_string())));
    }

    fn invalid(&self, key: &str, value: &ParamValue, reason: impl Into<String>) -> Error {
        Error::InvalidParam {
            algo: self.algo.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// A real number in `[min, max]`.
    pub fn number(&mut self, key: &'static str, default: f64, min: f64, max: f64) -> Result<f64> {
        let value = self
            .given
            .get(key)
            .cloned()
            .unwrap_or(ParamValue::Number(default));
        let x = match value {
            ParamValue::Number(x) => x,
            ref other => return Err(self.invalid(key, other, "expected a number")),
        };
        if !(x.is_finite() && x >= min && x <= max) {
            return Err(self.invalid(key, &value, format!("must be in [{min}, {max}]")));
        }
        self.resolved.insert(key.to_string(), value);
        Ok(x)
    }

    /// A whole number in `[min, max]`.
    pub fn integer(&mut self, key: &'static str, default: u64, min: u64, max: u64) -> Result<u64> {
        let x = self.number(key, default as f64, min as f64, max as f64)?;
        if x.fract() != 0.0 {
            return Err(self.invalid(key, &ParamValue::Number(x), "must be a whole number"));
        }
        Ok(x as u64)
    }

    /// A boolean flag.
    pub fn flag(&mut self, key: &'static str, default: bool) -> Result<bool> {
        let value = self
            .given
            .get(key)
            .cloned()
            .unwrap_or(ParamValue::Bool(default));
        match value {
            ParamValue::Bool(b) => {
                self.resolved.insert(key.to_string(), value);
                Ok(b)
            }
            other => Err(self.invalid(key, &other, "expected true or false")),
        }
    }

    /// One of a fixed set of names.
    pub fn choice(
        &mut self,
        key: &'static str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str> {
        let value = self
            .given
            .get(key)
            .cloned()
            .unwrap_or_else(|| ParamValue::Text(default.to_string()));
        let found = match &value {
            ParamValue::Text(s) => choices.iter().find(|c| **c == s).copied(),
            _ => None,
        };
        if let Some(c) = found {
            self.resolved.insert(key.to_string(), value);
            Ok(c)
        } else {
            let got = match &value {
                ParamValue::Text(s) => s.clone(),
                other => other.to_string(),
            };
            Err(self.invalid(
                key,
                &value,
                format!(
                    "valid choices: {}{}",
                    choices.join(", "),
                    did_you_mean(&got, choices.iter().copied())
                ),
            ))
        }
    }

    /// Rejects keys nobody read, naming the valid ones; returns the resolved
    /// parameters (every key with its value or default).
    pub fn finish(self) -> Result<Params> {
        if let Some((key, owner)) = self
            .elsewhere
            .iter()
            .find(|(k, _)| self.given.contains_key(*k) && !self.resolved.contains_key(*k))
        {
            let keys: Vec<&str> = self.resolved.keys().map(String::as_str).collect();
            return Err(Error::ParamNotUsed {
                algo: self.algo.to_string(),
                key: key.to_string(),
                owner: owner.clone(),
                keys: keys.join(", "),
            });
        }
        if let Some(key) = self.given.keys().find(|k| !self.resolved.contains_key(*k)) {
            return Err(Error::UnknownParam {
                algo: self.algo.to_string(),
                key: key.clone(),
                hint: did_you_mean(
                    key,
                    self.resolved
                        .keys()
                        .map(String::as_str)
                        .chain(self.elsewhere.iter().map(|(k, _)| *k)),
                ),
                valid: if self.resolved.is_empty() {
                    format!("{} takes no hyper-parameters", self.algo)
                } else {
                    let keys: Vec<&str> = self.resolved.keys().map(String::as_str).collect();
                    let others: Vec<String> = self
                        .elsewhere
                        .iter()
                        .map(|(k, owner)| format!("{k} with {owner}"))
                        .collect();
                    let others = if others.is_empty() {
                        String::new()
                    } else {
                        format!(" (and {})", others.join(", "))
                    };
                    format!("valid keys: {}{others}", keys.join(", "))
                },
            });
        }
        Ok(self.resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, ParamValue)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn fills_defaults_and_rejects_unknown_keys() {
        let p = given(&[("alpah", ParamValue::Number(1.0))]);
        let mut r = ParamReader::new("cql", &p);
        assert_eq!(r.number("alpha", 0.5, 0.0, 1e6).unwrap(), 0.5);
        let err = r.finish().unwrap_err().to_string();
        assert!(err.contains("`alpah`"), "{err}");
        assert!(err.contains("did you mean `alpha`"), "{err}");
        assert!(err.contains("valid keys: alpha"), "{err}");
    }

    #[test]
    fn rejects_out_of_range_and_wrong_types() {
        let p = given(&[
            ("alpha", ParamValue::Number(-1.0)),
            ("init", ParamValue::Text("huge".into())),
        ]);
        let mut r = ParamReader::new("fqi", &p);
        let err = r.number("alpha", 0.5, 0.0, 1.0).unwrap_err().to_string();
        assert!(err.contains("must be in [0, 1]"), "{err}");
        let err = r
            .choice("init", "zero", &["zero", "random"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("valid choices: zero, random"), "{err}");
    }

    #[test]
    fn a_key_of_another_choice_names_its_owner_and_the_keys_in_use() {
        let p = given(&[("lr", ParamValue::Number(0.5))]);
        let mut r = ParamReader::new("fqi", &p);
        r.choice("variant", "sweep", &["sweep", "sample"]).unwrap();
        r.owned_by(&["lr"], "variant = \"sample\"");
        let err = r.finish().unwrap_err().to_string();
        assert!(err.contains("`lr` is used only"), "{err}");
        assert!(err.contains("used only with variant = \"sample\""), "{err}");
        assert!(err.contains("its keys: variant"), "{err}");
    }
}
