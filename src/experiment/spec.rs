//! Experiment specs: TOML files whose list values expand into a grid of
//! runs (cartesian product × seeds). Everything a run refers to —
//! environment, dataset policy or file, algorithm and hyper-parameters — is
//! checked here, before anything trains, and every error points at the
//! offending place as `file:line:column`.

use super::config::{DatasetSource, RunConfig, sha256_file};
use crate::algo::{self, ParamValue, Params};
use crate::data::Quality;
use crate::error::did_you_mean;
use crate::mdp::{envs, solve};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A spec that cannot run, with the place that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for SpecError {}

/// A parsed spec and the runs it expands into, in grid order.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub path: PathBuf,
    pub runs: Vec<RunConfig>,
}

/// The keys a spec may have at the top level.
const TOP_KEYS: [&str; 10] = [
    "name",
    "env",
    "gamma",
    "seeds",
    "iterations",
    "eval_every",
    "dataset",
    "features",
    "algo",
    "priority",
];
const DATASET_KEYS: [&str; 5] = ["policy", "size", "seed", "file", "epsilon"];
const FEATURE_KINDS: [&str; 1] = ["tabular"];
/// Refuse grids that would flood the queue by accident.
const MAX_RUNS: usize = 100_000;

/// Whether `name` is safe as a directory name in the store: letters,
/// digits, `-`, `_`, `.`, not starting with a dot, at most 100 characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Reads and expands the spec at `path`.
pub fn load(path: &Path) -> Result<Spec, SpecError> {
    let text =
        crate::fsio::read_to_string_bounded(path, crate::fsio::SPEC).map_err(|e| SpecError {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read the spec: {e}"),
        })?;
    parse(path, &text)
}

/// Parses spec `text` as if read from `path` (relative dataset files are
/// resolved beside it).
pub fn parse(path: &Path, text: &str) -> Result<Spec, SpecError> {
    Parser { path, text }.spec()
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
}

type Node<'i> = Spanned<DeValue<'i>>;

/// One grid axis: the values a key takes, each with its place.
type Axis<T> = Vec<(T, Range<usize>)>;

impl<'a> Parser<'a> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SpecError {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    fn spec(&self) -> Result<Spec, SpecError> {
        let root = DeTable::parse(self.text)
            .map_err(|e| self.error(e.span().unwrap_or(0..0), e.message().trim().to_string()))?;
        let table = root.get_ref();
        self.check_keys(table, &TOP_KEYS, "spec")?;
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match get(table, "name") {
            Some(node) => (self.string(node)?, node.span()),
            None => (stem, 0..0),
        };
        if !valid_name(&name.0) {
            return Err(self.error(
                name.1,
                format!(
                    "spec name `{}` is not a safe directory name (letters, digits, `-`, `_`, `.`; no leading dot, no `/`)",
                    name.0.escape_default()
                ),
            ));
        }
        let envs = self.axis(self.required(table, "env", 0..0)?, |n| self.env(n))?;
        let gammas = self.optional_axis(table, "gamma", 0.99, |n| {
            let g = self.number(n)?;
            solve::check_gamma(g).map_err(|e| self.error(n.span(), e.to_string()))?;
            Ok(g)
        })?;
        let seeds = self.optional_axis(table, "seeds", 0, |n| self.count(n, 0))?;
        let iterations = self.optional_axis(table, "iterations", 1000, |n| self.count(n, 1))?;
        let eval_every = self.optional_axis(table, "eval_every", 10, |n| self.count(n, 1))?;
        let priority = match get(table, "priority") {
            Some(n) => self.integer(n)?,
            None => 0,
        };
        let datasets = self.datasets(table)?;
        if let Some(features) = get(table, "features") {
            let t = self.table(features)?;
            self.check_keys(t, &["kind"], "features")?;
            if let Some(kind) = get(t, "kind") {
                let k = self.string(kind)?;
                if !FEATURE_KINDS.contains(&k.as_str()) {
                    return Err(self.error(
                        kind.span(),
                        format!(
                            "unknown feature kind `{k}`; valid choices: {} (linear features are not built yet)",
                            FEATURE_KINDS.join(", ")
                        ),
                    ));
                }
            }
        }
        let algos = self.algos(self.required(table, "algo", 0..0)?)?;

        let mut runs = Vec::new();
        for (env, _) in &envs {
            for (gamma, _) in &gammas {
                for (iters, _) in &iterations {
                    for (every, _) in &eval_every {
                        for dataset in &datasets {
                            for (algo, params) in &algos {
                                for (seed, _) in &seeds {
                                    if runs.len() >= MAX_RUNS {
                                        return Err(self.error(
                                            0..0,
                                            format!(
                                                "the grid expands to more than {MAX_RUNS} runs"
                                            ),
                                        ));
                                    }
                                    runs.push(RunConfig {
                                        spec: name.0.clone(),
                                        env: env.clone(),
                                        gamma: *gamma,
                                        seed: *seed,
                                        iterations: *iters,
                                        eval_every: *every,
                                        dataset: dataset.resolve(*seed),
                                        features: "tabular".into(),
                                        algo: algo.clone(),
                                        params: params.clone(),
                                        priority,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(Spec {
            name: name.0,
            path: self.path.to_path_buf(),
            runs,
        })
    }

    /// An environment id, or `{ file = "my_mdp.json" }` for `file:PATH`. A
    /// `file:`/`map:` path is resolved against the spec's directory and
    /// pinned to the file's contents ([`envs::pin`]), so the run id changes
    /// when the file does.
    fn env(&self, node: &Node) -> Result<String, SpecError> {
        let id = match node.get_ref() {
            DeValue::Table(t) => {
                self.check_keys(t, &["file"], "env")?;
                let file = self.required(t, "file", node.span())?;
                format!("file:{}", self.string(file)?)
            }
            _ => self.string(node)?,
        };
        let base = self.path.parent().unwrap_or(Path::new("."));
        let pinned = envs::pin(&id, base).map_err(|e| self.error(node.span(), e.to_string()))?;
        envs::make(&pinned).map_err(|e| self.error(node.span(), e.to_string()))?;
        Ok(pinned)
    }

    /// Rejects keys outside `valid`, suggesting the closest.
    fn check_keys(&self, table: &DeTable, valid: &[&str], what: &str) -> Result<(), SpecError> {
        for (key, _) in table.iter() {
            if !valid.contains(&key.get_ref().as_ref()) {
                return Err(self.error(
                    key.span(),
                    format!(
                        "unknown {what} key `{}`{}; valid keys: {}",
                        key.get_ref(),
                        did_you_mean(key.get_ref(), valid.iter().copied()),
                        valid.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn required<'t, 'i>(
        &self,
        table: &'t DeTable<'i>,
        key: &str,
        at: Range<usize>,
    ) -> Result<&'t Node<'i>, SpecError> {
        get(table, key).ok_or_else(|| self.error(at, format!("missing required key `{key}`")))
    }

    /// A value or a list of values (a grid axis).
    fn axis<T>(
        &self,
        node: &Node,
        mut one: impl FnMut(&Node) -> Result<T, SpecError>,
    ) -> Result<Axis<T>, SpecError> {
        match node.get_ref() {
            DeValue::Array(items) => {
                if items.is_empty() {
                    return Err(self.error(node.span(), "an empty list expands to no runs"));
                }
                items.iter().map(|n| Ok((one(n)?, n.span()))).collect()
            }
            _ => Ok(vec![(one(node)?, node.span())]),
        }
    }

    fn optional_axis<T>(
        &self,
        table: &DeTable,
        key: &str,
        default: T,
        one: impl FnMut(&Node) -> Result<T, SpecError>,
    ) -> Result<Axis<T>, SpecError> {
        match get(table, key) {
            Some(node) => self.axis(node, one),
            None => Ok(vec![(default, 0..0)]),
        }
    }

    fn datasets(&self, table: &DeTable) -> Result<Vec<DatasetChoice>, SpecError> {
        let node = self.required(table, "dataset", 0..0)?;
        let t = self.table(node)?;
        self.check_keys(t, &DATASET_KEYS, "dataset")?;
        let seed = match get(t, "seed") {
            Some(n) => Some(self.count(n, 0)?),
            None => None,
        };
        if let Some(file) = get(t, "file") {
            if let Some((key, _)) = t.iter().find(|(k, _)| {
                matches!(k.get_ref().as_ref(), "policy" | "size" | "seed" | "epsilon")
            }) {
                return Err(self.error(
                    key.span(),
                    format!(
                        "`{}` does not apply to a dataset read from `file`",
                        key.get_ref()
                    ),
                ));
            }
            return self
                .axis(file, |n| {
                    let relative = self.string(n)?;
                    let joined = self.path.parent().unwrap_or(Path::new(".")).join(&relative);
                    let cannot = |e: std::io::Error| {
                        self.error(
                            n.span(),
                            format!("cannot read dataset file {}: {e}", joined.display()),
                        )
                    };
                    // Canonical, so the config reads the same from any working directory.
                    let path = joined.canonicalize().map_err(cannot)?;
                    let sha256 = sha256_file(&path).map_err(cannot)?;
                    Ok(DatasetChoice::File { path, sha256 })
                })
                .map(|axis| axis.into_iter().map(|(d, _)| d).collect());
        }
        let policies = self.axis(self.required(t, "policy", node.span())?, |n| {
            let name = self.string(n)?;
            Quality::parse(&name).map_err(|e| self.error(n.span(), e.to_string()))
        })?;
        let sizes = self.axis(self.required(t, "size", node.span())?, |n| self.count(n, 1))?;
        // The coverage knob: every policy with every ε.
        let epsilons = match get(t, "epsilon") {
            Some(n) => self
                .axis(n, |n| {
                    let e = self.number(n)?;
                    if !(0.0..=1.0).contains(&e) {
                        return Err(self.error(
                            n.span(),
                            format!("epsilon {e} is not a probability (0 to 1)"),
                        ));
                    }
                    Ok(e)
                })?
                .into_iter()
                .map(|(e, span)| (Some(e), span))
                .collect(),
            None => vec![(None, node.span())],
        };
        let mut out = Vec::new();
        for (policy, policy_span) in &policies {
            for (epsilon, _) in &epsilons {
                let policy = match epsilon {
                    Some(e) => policy
                        .with_epsilon(*e)
                        .map_err(|e| self.error(policy_span.clone(), e.to_string()))?,
                    None => *policy,
                };
                for (size, _) in &sizes {
                    out.push(DatasetChoice::Collect {
                        policy,
                        size: *size,
                        seed,
                    });
                }
            }
        }
        Ok(out)
    }

    /// `[[algo]]` tables: each a name plus hyper-parameters, list values
    /// expanding into a grid; every combination is resolved (defaults
    /// filled in, unknown keys rejected) here.
    fn algos(&self, node: &Node) -> Result<Vec<(String, Params)>, SpecError> {
        let entries: Vec<&Node> = match node.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            DeValue::Table(_) => vec![node],
            other => {
                return Err(self.error(
                    node.span(),
                    format!(
                        "`algo` must be a table ([[algo]]), not {}",
                        other.type_str()
                    ),
                ));
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let table = self.table(entry)?;
            let name_node = self.required(table, "name", entry.span())?;
            let name = self.string(name_node)?;
            algo::resolve_params(&name, &Params::new())
                .or_else(|e| match e {
                    crate::Error::UnknownAlgo { .. } => Err(e),
                    _ => Ok(Params::new()),
                })
                .map_err(|e| self.error(name_node.span(), e.to_string()))?;
            // Grid over the keys whose value is a list.
            let mut grid: Vec<(Params, Vec<Range<usize>>)> = vec![(Params::new(), Vec::new())];
            for (key, value) in table.iter().filter(|(k, _)| k.get_ref() != "name") {
                let values = self.axis(value, |n| self.param(n))?;
                grid = grid
                    .into_iter()
                    .flat_map(|(params, spans)| {
                        values.iter().map(move |(v, span)| {
                            let mut p = params.clone();
                            p.insert(key.get_ref().to_string(), v.clone());
                            let mut s = spans.clone();
                            s.push(span.clone());
                            (p, s)
                        })
                    })
                    .collect();
            }
            // The keys in the order their values' spans were collected.
            let keys: Vec<_> = table
                .iter()
                .map(|(k, _)| k)
                .filter(|k| k.get_ref() != "name")
                .collect();
            // Keys no grid point uses, with the first point's complaint.
            let mut unused = std::collections::BTreeMap::<String, Params>::new();
            let mut used = std::collections::BTreeSet::<String>::new();
            for (params, spans) in grid {
                let (resolved, dropped) =
                    algo::resolve_grid_point(&name, &params).map_err(|e| {
                        let (key, at_key) = match &e {
                            crate::Error::UnknownParam { key, .. } => (Some(key), true),
                            crate::Error::InvalidParam { key, .. } => (Some(key), false),
                            _ => (None, false),
                        };
                        // An unknown key points at the key, a bad value at the
                        // value itself (the list element, in a list).
                        let span = key
                            .and_then(|key| keys.iter().position(|k| k.get_ref() == key))
                            .map(|i| {
                                if at_key {
                                    keys[i].span()
                                } else {
                                    spans[i].clone()
                                }
                            })
                            .unwrap_or(entry.span());
                        self.error(span, e.to_string())
                    })?;
                for key in dropped {
                    unused.entry(key).or_insert_with(|| params.clone());
                }
                used.extend(resolved.keys().cloned());
                out.push((name.clone(), resolved));
            }
            if let Some((key, params)) = unused.into_iter().find(|(k, _)| !used.contains(k)) {
                let message = algo::resolve_params(&name, &params)
                    .err()
                    .map_or_else(|| format!("`{key}` is not used"), |e| e.to_string());
                let span = keys
                    .iter()
                    .find(|k| k.get_ref() == &key)
                    .map_or(entry.span(), |k| k.span());
                return Err(self.error(span, message));
            }
        }
        Ok(out)
    }

    fn param(&self, node: &Node) -> Result<ParamValue, SpecError> {
        match node.get_ref() {
            DeValue::Boolean(b) => Ok(ParamValue::Bool(*b)),
            DeValue::String(s) => Ok(ParamValue::Text(s.to_string())),
            DeValue::Integer(_) | DeValue::Float(_) => Ok(ParamValue::Number(self.number(node)?)),
            other => Err(self.error(
                node.span(),
                format!(
                    "a hyper-parameter is a number, a boolean or a string, not {}",
                    other.type_str()
                ),
            )),
        }
    }

    fn table<'t, 'i>(&self, node: &'t Node<'i>) -> Result<&'t DeTable<'i>, SpecError> {
        node.get_ref().as_table().ok_or_else(|| {
            self.error(
                node.span(),
                format!("expected a table, found {}", node.get_ref().type_str()),
            )
        })
    }

    fn string(&self, node: &Node) -> Result<String, SpecError> {
        node.get_ref().as_str().map(str::to_string).ok_or_else(|| {
            self.error(
                node.span(),
                format!("expected a string, found {}", node.get_ref().type_str()),
            )
        })
    }

    fn integer(&self, node: &Node) -> Result<i64, SpecError> {
        match node.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| self.error(node.span(), "integer out of range")),
            other => Err(self.error(
                node.span(),
                format!("expected an integer, found {}", other.type_str()),
            )),
        }
    }

    /// A non-negative integer of at least `min`.
    fn count(&self, node: &Node, min: u64) -> Result<u64, SpecError> {
        let i = self.integer(node)?;
        u64::try_from(i).ok().filter(|&n| n >= min).ok_or_else(|| {
            self.error(
                node.span(),
                format!("expected an integer >= {min}, found {i}"),
            )
        })
    }

    fn number(&self, node: &Node) -> Result<f64, SpecError> {
        let x = match node.get_ref() {
            DeValue::Integer(_) => self.integer(node)? as f64,
            DeValue::Float(f) => match f.as_str() {
                "inf" | "+inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" | "+nan" | "-nan" => f64::NAN,
                s => s
                    .replace('_', "")
                    .parse()
                    .map_err(|_| self.error(node.span(), "invalid number"))?,
            },
            other => {
                return Err(self.error(
                    node.span(),
                    format!("expected a number, found {}", other.type_str()),
                ));
            }
        };
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.error(node.span(), "expected a finite number"))
        }
    }
}

fn get<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<&'t Node<'i>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)
}

/// A dataset grid point before the run's seed is known.
#[derive(Debug, Clone)]
enum DatasetChoice {
    Collect {
        policy: Quality,
        size: u64,
        /// Fixed dataset seed, or `None`: each run seed collects its own data.
        seed: Option<u64>,
    },
    File {
        path: PathBuf,
        sha256: String,
    },
}

impl DatasetChoice {
    fn resolve(&self, run_seed: u64) -> DatasetSource {
        match self {
            DatasetChoice::Collect { policy, size, seed } => DatasetSource::Collect {
                policy: *policy,
                size: *size,
                seed: seed.unwrap_or(run_seed),
            },
            DatasetChoice::File { path, sha256 } => DatasetSource::File {
                path: path.clone(),
                sha256: sha256.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE_SPEC: &str =
        "env = \"ImitationTrap-v0\"\ndataset = { file = \"d.csv\" }\n[[algo]]\nname = \"fqi\"\n";

    fn ids(spec: &Spec) -> Vec<String> {
        spec.runs.iter().map(|r| r.id().0).collect()
    }

    /// The dashboard reloads a spec by an absolute path, `pessimist run`
    /// by whatever the user typed: both must name the same runs.
    #[test]
    fn file_datasets_give_the_same_ids_whatever_the_path_to_the_spec() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("experiments");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(
            sub.join("d.csv"),
            "episode,step,state,action,reward,next_state,terminated,truncated\n",
        )
        .unwrap();
        let direct = parse(&sub.join("f.toml"), FILE_SPEC).unwrap();
        let dotted = parse(
            &dir.path().join("experiments/./../experiments/f.toml"),
            FILE_SPEC,
        )
        .unwrap();
        assert_eq!(ids(&direct), ids(&dotted));
        let DatasetSource::File { path, .. } = &direct.runs[0].dataset else {
            panic!("a file dataset");
        };
        assert!(
            path.is_absolute() && path.ends_with("experiments/d.csv"),
            "{}",
            path.display()
        );
        // The same file elsewhere is the same data; other contents are not.
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::copy(sub.join("d.csv"), other.join("d.csv")).unwrap();
        assert_eq!(
            ids(&direct),
            ids(&parse(&other.join("f.toml"), FILE_SPEC).unwrap())
        );
        std::fs::write(other.join("d.csv"), "episode,step\n").unwrap();
        assert_ne!(
            ids(&direct),
            ids(&parse(&other.join("f.toml"), FILE_SPEC).unwrap())
        );
    }

    /// `env = { file = ... }` and `map:` paths are read beside the spec and
    /// pinned to their contents: the same file anywhere names the same
    /// runs, an edit names new ones.
    #[test]
    fn env_files_resolve_beside_the_spec_and_hash_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        let mdp = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mdp/FrozenLake-v1.json"
        );
        std::fs::copy(mdp, dir.path().join("FrozenLake-v1.json")).unwrap();
        std::fs::write(dir.path().join("lake.txt"), "SF\nHG\n").unwrap();
        let spec = |env: &str| {
            format!(
                "env = {env}\ndataset = {{ policy = \"random\", size = 10 }}\n[[algo]]\nname = \"fqi\"\n"
            )
        };
        let file = parse(
            &dir.path().join("s.toml"),
            &spec("{ file = \"FrozenLake-v1.json\" }"),
        )
        .unwrap();
        assert!(
            file.runs[0].env.starts_with("file:/"),
            "{}",
            file.runs[0].env
        );
        let cli = format!("\"file:{mdp}\"");
        assert_eq!(
            ids(&file),
            ids(&parse(Path::new("elsewhere/s.toml"), &spec(&cli)).unwrap())
        );
        let map = parse(&dir.path().join("s.toml"), &spec("\"map:lake.txt\"")).unwrap();
        std::fs::write(dir.path().join("lake.txt"), "SH\nFG\n").unwrap();
        let edited = parse(&dir.path().join("s.toml"), &spec("\"map:lake.txt\"")).unwrap();
        assert_ne!(ids(&map), ids(&edited));
        let e = parse(&dir.path().join("s.toml"), &spec("{ path = \"x\" }")).unwrap_err();
        assert!(e.message.contains("unknown env key `path`"), "{e}");
        let e = parse(
            &dir.path().join("s.toml"),
            &spec("{ file = \"none.json\" }"),
        )
        .unwrap_err();
        assert!(e.message.contains("none.json"), "{e}");
    }

    /// The coverage knob expands like any grid axis and is checked in place.
    #[test]
    fn epsilon_slides_the_optimal_and_medium_policies() {
        let spec = |dataset: &str| {
            format!("env = \"FrozenLake-v1\"\ndataset = {dataset}\n[[algo]]\nname = \"fqi\"\n")
        };
        let grid = parse(
            Path::new("s.toml"),
            &spec("{ policy = [\"optimal\", \"medium\"], epsilon = [0.0, 0.3], size = 100 }"),
        )
        .unwrap();
        let labels: Vec<String> = grid.runs.iter().map(|r| r.dataset.label()).collect();
        assert_eq!(
            labels,
            [
                "optimal ε=0 100",
                "optimal ε=0.3 100",
                "medium ε=0 100",
                "medium ε=0.3 100"
            ]
        );
        let e = parse(
            Path::new("s.toml"),
            &spec("{ policy = \"random\", epsilon = 0.3, size = 100 }"),
        )
        .unwrap_err();
        assert!(e.message.contains("epsilon applies to"), "{e}");
        assert_eq!((e.line, e.column), (2, 22), "{e}");
        let e = parse(
            Path::new("s.toml"),
            &spec("{ policy = \"optimal\", epsilon = [0.1, 2.0], size = 100 }"),
        )
        .unwrap_err();
        assert!(e.message.contains("not a probability"), "{e}");
        assert_eq!((e.line, e.column), (2, 49), "{e}");
    }

    #[test]
    fn a_bad_value_in_a_list_points_at_the_element() {
        let text = "env = \"ThreeState-v0\"\ndataset = { policy = \"medium\", size = 100 }\n[[algo]]\nname = \"fqi\"\nq_init = [\"zero\", \"bogus\"]\n";
        let e = parse(Path::new("s.toml"), text).unwrap_err();
        assert_eq!((e.line, e.column), (5, 19), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
    }
}
