//! The library's error type: every variant says *what* is wrong and *where*,
//! so the command line can print it as-is and a failing run can store it.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "unknown environment `{}`{hint}; valid choices: {choices}",
        bounded(id)
    )]
    UnknownEnv {
        id: String,
        hint: String,
        choices: String,
    },
    #[error(
        "unknown algorithm `{}`{hint}; valid choices: {choices}",
        bounded(name)
    )]
    UnknownAlgo {
        name: String,
        hint: String,
        choices: String,
    },
    #[error("{algo}: unknown hyper-parameter `{}`{hint}; {valid}", bounded(key))]
    UnknownParam {
        algo: String,
        key: String,
        hint: String,
        /// "valid keys: a, b", or that the algorithm takes none.
        valid: String,
    },
    #[error(
        "{algo}: hyper-parameter `{key}` is used only with {owner}, which this configuration does not choose; its keys: {keys}"
    )]
    ParamNotUsed {
        algo: String,
        key: String,
        /// The choice that would use it, e.g. `variant = "sample"`.
        owner: String,
        /// The keys this configuration uses.
        keys: String,
    },
    #[error("{algo}: hyper-parameter `{key}` = {}: {reason}", bounded(value))]
    InvalidParam {
        algo: String,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{path}: row {row}{column}: {message}", path = path.display(), column = column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    Csv {
        path: PathBuf,
        /// 1-based data row (the header is row 0).
        row: u64,
        column: Option<String>,
        message: String,
    },
    #[error("{path}: {message}", path = path.display())]
    File { path: PathBuf, message: String },
    #[error("invalid MDP `{id}`: {message}")]
    InvalidMdp { id: String, message: String },
    #[error("{0}")]
    Invalid(String),
    /// The cause is part of the message and deliberately not a `source()`:
    /// error chains (`{:#}`) would print it twice.
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
}

impl Error {
    /// An I/O error with the path or operation it happened in.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            cause: source,
        }
    }
}

/// The most of a user-given name an error quotes, in bytes.
pub const QUOTE_LIMIT: usize = 200;

/// `name` as an error quotes it: in full up to [`QUOTE_LIMIT`] bytes, else
/// its start and its length, `…(N bytes)` (a 50 MB name is not echoed).
pub fn bounded(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= QUOTE_LIMIT {
        return name.into();
    }
    let mut end = QUOTE_LIMIT;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &name[..end], name.len()).into()
}

/// Names longer than this get no suggestion: the edit distance costs
/// O(|got| · |choice|) per choice, and nothing that long is a typo.
const SUGGEST_LIMIT: usize = 64;

/// "; did you mean `x`?" when one of `choices` is close to `got`, else "".
pub fn did_you_mean<'a>(got: &str, choices: impl IntoIterator<Item = &'a str>) -> String {
    if got.len() > SUGGEST_LIMIT {
        return String::new();
    }
    let got_l = got.to_ascii_lowercase();
    choices
        .into_iter()
        .map(|c| (edit_distance(&got_l, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("alpah", ["alpha", "beta"]),
            " (did you mean `alpha`?)"
        );
        assert_eq!(did_you_mean("zzzzzz", ["alpha", "beta"]), "");
        assert_eq!(did_you_mean(&"alpha".repeat(1000), ["alpha"]), "");
    }

    #[test]
    fn errors_quote_a_bounded_prefix_of_names() {
        assert_eq!(bounded("fqi"), "fqi");
        let long = "é".repeat(1_000_000);
        let quoted = bounded(&long);
        assert!(quoted.len() < QUOTE_LIMIT + 30, "{}", quoted.len());
        assert!(quoted.ends_with("…(2000000 bytes)"), "{quoted}");
        let e = Error::UnknownEnv {
            id: long.clone(),
            hint: String::new(),
            choices: "a, b".into(),
        };
        assert!(e.to_string().len() < 300);
    }
}
