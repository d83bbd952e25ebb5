//! The library's error type: every variant says *what* is wrong and *where*,
//! so the command line can print it as-is and a failing run can store it.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown environment `{id}`{hint}; valid choices: {choices}")]
    UnknownEnv {
        id: String,
        hint: String,
        choices: String,
    },
    #[error("unknown algorithm `{name}`{hint}; valid choices: {choices}")]
    UnknownAlgo {
        name: String,
        hint: String,
        choices: String,
    },
    #[error("{algo}: unknown hyper-parameter `{key}`{hint}; {valid}")]
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
    #[error("{algo}: hyper-parameter `{key}` = {value}: {reason}")]
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

/// "; did you mean `x`?" when one of `choices` is close to `got`, else "".
pub fn did_you_mean<'a>(got: &str, choices: impl IntoIterator<Item = &'a str>) -> String {
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
    }
}
