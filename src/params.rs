//! Hyper-parameters: plain spec keys read into each algorithm's validated
//! parameter struct (linfa's "params, check, fit" habit), through the
//! algorithm's table of [`Key`]s, the one place a default, range, unit and
//! meaning are written. Reading records the resolved value of every key,
//! defaults included, so a run's config — and so its id — names every
//! value it trained with.

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

/// One hyper-parameter of an algorithm: the single statement of its
/// default, range, unit and meaning, which [`ParamReader`] reads through
/// and from which the docs' tables and `pessimist algo show` are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Key {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: Kind,
    /// What the number is measured in ("U" is the data's value unit,
    /// [`crate::algo::scale`]); "—" for a choice or a pure number.
    pub unit: &'static str,
    pub meaning: &'static str,
    /// The choice that uses this key; `None` when every configuration does.
    pub only_with: Option<Owner>,
}

/// A key's type, default and valid values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Kind {
    /// A real number in `[min, max]`.
    Number { default: f64, min: f64, max: f64 },
    /// A whole number in `[min, max]`.
    Integer { default: u64, min: u64, max: u64 },
    /// One of a fixed set of names.
    Choice {
        default: &'static str,
        choices: &'static [&'static str],
    },
}

/// The choice a key belongs to: `key = "choice"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub key: &'static str,
    pub choice: &'static str,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = \"{}\"", self.key, self.choice)
    }
}

impl Key {
    const fn new(name: &'static str, kind: Kind) -> Self {
        Key {
            name,
            kind,
            unit: "—",
            meaning: "",
            only_with: None,
        }
    }

    pub const fn number(name: &'static str, default: f64, min: f64, max: f64) -> Self {
        Self::new(name, Kind::Number { default, min, max })
    }

    pub const fn integer(name: &'static str, default: u64, min: u64, max: u64) -> Self {
        Self::new(name, Kind::Integer { default, min, max })
    }

    pub const fn choice(
        name: &'static str,
        default: &'static str,
        choices: &'static [&'static str],
    ) -> Self {
        Self::new(name, Kind::Choice { default, choices })
    }

    pub const fn unit(self, unit: &'static str) -> Self {
        Key { unit, ..self }
    }

    pub const fn meaning(self, meaning: &'static str) -> Self {
        Key { meaning, ..self }
    }

    /// Marks the key as used only under `key = "choice"`.
    pub const fn only_with(self, key: &'static str, choice: &'static str) -> Self {
        Key {
            only_with: Some(Owner { key, choice }),
            ..self
        }
    }

    /// The same number key with another default (`combo`'s α is `cql`'s
    /// key, range and unit, at its own default).
    ///
    /// # Panics
    /// At compile time, when the key is not a number.
    pub const fn with_default(self, default: f64) -> Self {
        match self.kind {
            Kind::Number { min, max, .. } => Key {
                kind: Kind::Number { default, min, max },
                ..self
            },
            _ => panic!("with_default: not a number key"),
        }
    }

    /// The default as a resolved config holds it.
    pub fn default_value(&self) -> ParamValue {
        match self.kind {
            Kind::Number { default, .. } => ParamValue::Number(default),
            Kind::Integer { default, .. } => ParamValue::Number(default as f64),
            Kind::Choice { default, .. } => ParamValue::Text(default.to_string()),
        }
    }

    /// The default as the tables print it.
    pub fn default_text(&self) -> String {
        match self.kind {
            Kind::Number { default, .. } => short(default),
            Kind::Integer { default, .. } => default.to_string(),
            Kind::Choice { default, .. } => default.to_string(),
        }
    }

    /// The meaning, after the choice that owns the key if one does.
    pub fn description(&self) -> String {
        match self.only_with {
            Some(owner) => format!("only with {owner}: {}", self.meaning),
            None => self.meaning.to_string(),
        }
    }

    /// The valid values, as the tables print them: `[0, 1e12]` or
    /// `sweep | sample`.
    pub fn range(&self) -> String {
        match self.kind {
            Kind::Number { min, max, .. } => format!("[{}, {}]", short(min), short(max)),
            Kind::Integer { min, max, .. } => format!("[{min}, {max}]"),
            Kind::Choice { choices, .. } => choices.join(" | "),
        }
    }
}

/// `keys` as a markdown table, one row per key: key, default, range, unit,
/// meaning.
pub fn markdown(keys: &[Key]) -> String {
    let mut out =
        String::from("| key | default | range | unit | meaning |\n|---|---|---|---|---|\n");
    for key in keys {
        let cells = [
            format!("`{}`", key.name),
            key.default_text(),
            key.range(),
            key.unit.to_string(),
            key.description(),
        ];
        let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// A number as a person reads it: `1e12` and `1e-9` rather than their
/// thirteen digits.
fn short(x: f64) -> String {
    if x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// Hyper-parameters by key, in a canonical (sorted) order.
pub type Params = BTreeMap<String, ParamValue>;

/// Reads typed values out of [`Params`], remembering which keys exist.
///
/// A key belongs to the choice that uses it (`lr` to fqi's `sample`
/// variant, `init_scale` to `q_init = "random"`): an algorithm reads it only
/// under that choice and names it with [`ParamReader::not_chosen`] otherwise,
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

    /// Reads a table's number key.
    ///
    /// # Panics
    /// When `key` is not a number (a bug the registry's tests catch).
    pub fn number_of(&mut self, key: &Key) -> Result<f64> {
        match key.kind {
            Kind::Number { default, min, max } => self.number(key.name, default, min, max),
            _ => panic!("`{}` is not a number key", key.name),
        }
    }

    /// Reads a table's whole-number key.
    ///
    /// # Panics
    /// When `key` is not a whole number (a bug the registry's tests catch).
    pub fn integer_of(&mut self, key: &Key) -> Result<u64> {
        match key.kind {
            Kind::Integer { default, min, max } => self.integer(key.name, default, min, max),
            _ => panic!("`{}` is not a whole-number key", key.name),
        }
    }

    /// Reads a table's choice key.
    ///
    /// # Panics
    /// When `key` is not a choice (a bug the registry's tests catch).
    pub fn choice_of(&mut self, key: &Key) -> Result<&'static str> {
        match key.kind {
            Kind::Choice { default, choices } => self.choice(key.name, default, choices),
            _ => panic!("`{}` is not a choice key", key.name),
        }
    }

    /// Declares that `keys`' owning choice was not chosen, so giving them
    /// is an error naming it.
    ///
    /// # Panics
    /// When a key belongs to no choice (a bug the registry's tests catch).
    pub fn not_chosen(&mut self, keys: &[Key]) {
        for key in keys {
            let owner = key
                .only_with
                .unwrap_or_else(|| panic!("`{}` belongs to no choice", key.name));
            self.owned_by(&[key.name], &owner.to_string());
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

    const VARIANT: Key = Key::choice("variant", "sweep", &["sweep", "sample"]).meaning("how");
    const LR: Key = Key::number("lr", 0.1, 0.0, 1e12)
        .meaning("step |size|")
        .only_with("variant", "sample");

    #[test]
    fn a_table_reads_its_defaults_and_renders_as_markdown() {
        let p = given(&[("lr", ParamValue::Number(0.5))]);
        let mut r = ParamReader::new("fqi", &p);
        assert_eq!(r.choice_of(&VARIANT).unwrap(), "sweep");
        r.not_chosen(&[LR]);
        let err = r.finish().unwrap_err().to_string();
        assert!(err.contains("used only with variant = \"sample\""), "{err}");
        assert_eq!(
            markdown(&[VARIANT, LR]),
            "| key | default | range | unit | meaning |\n|---|---|---|---|---|\n\
             | `variant` | sweep | sweep \\| sample | — | how |\n\
             | `lr` | 0.1 | [0, 1e12] | — | only with variant = \"sample\": step \\|size\\| |\n"
        );
        assert_eq!(
            LR.with_default(0.3).default_value(),
            ParamValue::Number(0.3)
        );
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
