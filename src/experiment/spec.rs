//! Experiment specs: TOML files whose list values expand into a grid of
//! runs (cartesian product × seeds). Everything a run refers to —
//! environment, dataset policy or file, algorithm and hyper-parameters — is
//! checked here, before anything trains, and every error points at the
//! offending place as `file:line:column`.

use super::config::{ConfigBody, DatasetSource, PlannedRun, RunConfig, sha256_file};
use super::pipeline::DEFAULT_ROLLOUTS;
use crate::algo::{self, ParamValue, Params};
use crate::data::{MAX_TRANSITIONS, Quality};
use crate::error::{bounded, did_you_mean};
use crate::features::FeatureSpec;
use crate::mdp::{TabularMdp, envs, solve};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
const TOP_KEYS: [&str; 11] = [
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
    "rollouts",
];
const DATASET_KEYS: [&str; 5] = ["policy", "size", "seed", "file", "epsilon"];
/// Refuse grids that would flood the queue by accident.
pub const MAX_RUNS: u64 = 100_000;
/// Eval points one run may record: each is a line of `metrics.jsonl` of
/// about [`METRICS_LINE_BYTES`], and the dashboard keeps a run's series in
/// memory, so `iterations = 10^18, eval_every = 1` is refused up front.
pub const MAX_EVAL_POINTS: u64 = 100_000;
/// The size of one line of `metrics.jsonl`, roughly, for the cost quoted
/// when [`MAX_EVAL_POINTS`] is passed.
const METRICS_LINE_BYTES: u64 = 320;

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
    load_with(path, &|file| sha256_file(file).map(Some))
}

/// A spec read and checked, its runs not yet listed: the grid's axes.
/// [`Plan::runs`] lists the runs one at a time, so a grid of 100,000 is
/// taken in batches (the dashboard draws meanwhile) and never held twice.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub path: PathBuf,
    envs: Vec<String>,
    gammas: Vec<f64>,
    iterations: Vec<u64>,
    eval_every: Vec<u64>,
    datasets: Vec<DatasetChoice>,
    /// Each algorithm variant's parameters, shared by its runs.
    algos: Vec<(String, Arc<Params>)>,
    features: Vec<FeatureSpec>,
    seeds: Vec<u64>,
    priority: i64,
    /// `rollouts` as the spec gives it; continuous environments' runs
    /// default to [`DEFAULT_ROLLOUTS`], tabular ones have none.
    rollouts: Option<u64>,
}

impl Plan {
    /// The grid's points: its runs, counting twice the points that
    /// resolve to the same run (listed once).
    pub fn points(&self) -> usize {
        self.bodies() * self.seeds.len()
    }

    /// The grid's points without their seeds: a config body each, which
    /// its seeds' runs share.
    fn bodies(&self) -> usize {
        [
            self.envs.len(),
            self.gammas.len(),
            self.iterations.len(),
            self.eval_every.len(),
            self.datasets.len(),
            self.algos.len(),
            self.features.len(),
        ]
        .iter()
        .product()
    }

    /// The body of point `index` of the grid without seeds, in grid order
    /// (environments outermost, then γ, iterations, eval_every, datasets,
    /// algorithms, and features innermost), with its dataset, which a
    /// run's seed completes.
    fn body(&self, index: usize) -> (Arc<ConfigBody>, &DatasetChoice) {
        let mut rest = index;
        let mut digit = |len: usize| {
            let d = rest % len;
            rest /= len;
            d
        };
        let features = &self.features[digit(self.features.len())];
        let (algo, params) = &self.algos[digit(self.algos.len())];
        let dataset = &self.datasets[digit(self.datasets.len())];
        let eval_every = self.eval_every[digit(self.eval_every.len())];
        let iterations = self.iterations[digit(self.iterations.len())];
        let gamma = self.gammas[digit(self.gammas.len())];
        let env = &self.envs[digit(self.envs.len())];
        let body = ConfigBody {
            spec: self.name.as_str().into(),
            env: env.as_str().into(),
            gamma,
            iterations,
            eval_every,
            features: features.clone(),
            algo: algo.as_str().into(),
            params: params.clone(),
            rollouts: crate::env::continuous(env)
                .map(|_| self.rollouts.unwrap_or(DEFAULT_ROLLOUTS)),
            priority: self.priority,
        };
        (Arc::new(body), dataset)
    }

    /// The runs in grid order (seeds innermost, sharing their point's
    /// body), each with its id (hashed once, here). Distinct grid points
    /// can resolve to the same run (a key only another variant uses):
    /// each run is listed once.
    pub fn runs(&self) -> impl Iterator<Item = PlannedRun> + '_ {
        let mut seen = std::collections::HashSet::new();
        (0..self.bodies())
            .flat_map(move |point| {
                let (body, dataset) = self.body(point);
                self.seeds
                    .iter()
                    .map(move |&seed| RunConfig::new(body.clone(), seed, dataset.resolve(seed)))
            })
            .filter_map(move |config| {
                let run = PlannedRun::from(config);
                seen.insert(run.id).then_some(run)
            })
    }

    /// Every run at once.
    pub fn spec(&self) -> Spec {
        Spec {
            name: self.name.clone(),
            path: self.path.clone(),
            runs: self
                .runs()
                .map(|r| Arc::unwrap_or_clone(r.config))
                .collect(),
        }
    }
}

/// How a spec's dataset files are hashed: the hex SHA-256 of a file, or
/// `None` when it is being hashed elsewhere (the dashboard hashes a large
/// file in the background, and reads the spec again when it is done).
pub type Digest<'a> = &'a dyn Fn(&Path) -> std::io::Result<Option<String>>;

/// [`load`], hashing dataset files with `digest`; a file it has no hash
/// for yet makes the spec an error that says it is being hashed.
pub fn load_with(path: &Path, digest: Digest) -> Result<Spec, SpecError> {
    plan_with(path, digest).map(|plan| plan.spec())
}

/// Reads and checks the spec at `path` as [`load_with`] does, without
/// listing its runs.
pub fn plan_with(path: &Path, digest: Digest) -> Result<Plan, SpecError> {
    let text =
        crate::fsio::read_to_string_bounded(path, crate::fsio::SPEC).map_err(|e| SpecError {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read the spec: {e}"),
        })?;
    Parser {
        path,
        text: &text,
        digest,
    }
    .plan()
}

/// Parses spec `text` as if read from `path` (relative dataset files are
/// resolved beside it).
pub fn parse(path: &Path, text: &str) -> Result<Spec, SpecError> {
    Parser {
        path,
        text,
        digest: &|file| sha256_file(file).map(Some),
    }
    .plan()
    .map(|plan| plan.spec())
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    digest: Digest<'a>,
}

type Node<'i> = Spanned<DeValue<'i>>;

/// One grid axis: the values a key takes, each with its place.
type Axis<T> = Vec<(T, Range<usize>)>;

/// An axis's values, their places no longer needed.
fn values<T>(axis: Axis<T>) -> Vec<T> {
    axis.into_iter().map(|(v, _)| v).collect()
}

impl Parser<'_> {
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

    fn plan(&self) -> Result<Plan, SpecError> {
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
                    bounded(&name.0).escape_default()
                ),
            ));
        }
        // Before anything is built or expanded: O(spec) time and memory.
        self.check_grid_size(table)?;
        let envs = self.axis(self.required(table, "env", 0..0)?, |n| self.env(n))?;
        let gammas = self.optional_axis(table, "gamma", 0.99, |n| {
            let g = self.number(n)?;
            solve::check_gamma(g).map_err(|e| self.error(n.span(), e.to_string()))?;
            Ok(g)
        })?;
        let seeds = self.optional_axis(table, "seeds", 0, |n| self.count(n, 0))?;
        // The same seed twice would list the same runs twice.
        for (i, (seed, span)) in seeds.iter().enumerate() {
            if seeds[..i].iter().any(|(s, _)| s == seed) {
                return Err(self.error(
                    span.clone(),
                    format!("seed {seed} is listed twice in `seeds`"),
                ));
            }
        }
        let iterations = self.optional_axis(table, "iterations", 1000, |n| self.count(n, 1))?;
        let eval_every = self.optional_axis(table, "eval_every", 10, |n| self.count(n, 1))?;
        for (iters, iters_span) in &iterations {
            for (every, every_span) in &eval_every {
                let points = eval_points(*iters, *every);
                if points > MAX_EVAL_POINTS {
                    let span = if every_span.is_empty() {
                        iters_span
                    } else {
                        every_span
                    };
                    return Err(self.error(
                        span.clone(),
                        format!(
                            "iterations = {iters} with eval_every = {every} records {points} eval points per run (about {} of metrics.jsonl each); at most {MAX_EVAL_POINTS}: set eval_every to at least {}",
                            human_bytes(points as f64 * METRICS_LINE_BYTES as f64),
                            iters.div_ceil(MAX_EVAL_POINTS - 2)
                        ),
                    ));
                }
            }
        }
        let priority = match get(table, "priority") {
            Some(n) => self.integer(n)?,
            None => 0,
        };
        let datasets = self.datasets(table)?;
        let features = self.optional_axis(table, "features", FeatureSpec::tabular(), |n| {
            self.features(n)
        })?;
        // Every feature matrix fits before any run builds one, and a
        // continuous environment has features of its observations.
        for (features, span) in &features {
            for ((_, env), env_span) in &envs {
                let checked = match env {
                    Shape::Table(mdp) => features.check_size(mdp).map(drop),
                    Shape::Continuous(d) => features.observations(d).map(drop),
                };
                let at = if span.is_empty() { env_span } else { span };
                checked.map_err(|e| self.error(at.clone(), e.to_string()))?;
            }
        }
        let rollouts = self.rollouts(table, &envs)?;
        for ((_, env), _) in &envs {
            if let Shape::Continuous(d) = env {
                for (choice, span) in &datasets {
                    if let DatasetChoice::Collect { policy, .. } = choice {
                        crate::data::observed::collect::check_quality(d, *policy)
                            .map_err(|e| self.error(span.clone(), e.to_string()))?;
                    }
                }
            }
        }
        let algos = self.algos(self.required(table, "algo", 0..0)?)?;

        Ok(Plan {
            name: name.0,
            path: self.path.to_path_buf(),
            envs: values(envs).into_iter().map(|(id, _)| id).collect(),
            gammas: values(gammas),
            iterations: values(iterations),
            eval_every: values(eval_every),
            datasets: values(datasets),
            algos: algos
                .into_iter()
                .map(|(name, params)| (name, params.into()))
                .collect(),
            features: values(features),
            seeds: values(seeds),
            priority,
            rollouts,
        })
    }

    /// `rollouts`: at least 2 (a standard error needs two episodes), and
    /// only where the truth is Monte-Carlo.
    fn rollouts(
        &self,
        table: &DeTable,
        envs: &Axis<(String, Shape)>,
    ) -> Result<Option<u64>, SpecError> {
        let Some(node) = get(table, "rollouts") else {
            return Ok(None);
        };
        let i = self.integer(node)?;
        let rollouts = u64::try_from(i).ok().filter(|&n| n >= 2).ok_or_else(|| {
            self.error(
                node.span(),
                format!(
                    "rollouts = {i}: Monte-Carlo episodes an eval point, at least 2 (a standard error needs two)"
                ),
            )
        })?;
        if let Some(((id, _), _)) = envs.iter().find(|((_, e), _)| matches!(e, Shape::Table(_))) {
            return Err(self.error(
                node.span(),
                format!(
                    "`rollouts` applies to continuous environments ({}), whose truth is Monte-Carlo; {id} is tabular, its truth is exact",
                    crate::env::CONTINUOUS.map(|d| d.id).join(", ")
                ),
            ));
        }
        Ok(Some(rollouts))
    }

    /// Rejects a grid of more than [`MAX_RUNS`] runs, or of none, from the
    /// lengths of its lists alone, before anything is built or expanded:
    /// time and memory are O(spec), and the product saturates instead of
    /// wrapping, whatever the number and lengths of the lists.
    fn check_grid_size(&self, table: &DeTable) -> Result<(), SpecError> {
        let mut runs: u64 = 1;
        // The lists of more than one value, `name (length)`, for the error.
        let mut factors: Vec<String> = Vec::new();
        let multiply = |runs: &mut u64, factors: &mut Vec<String>, what: String, len: u64| {
            *runs = runs.saturating_mul(len);
            if len > 1 {
                factors.push(format!("{what} ({len})"));
            }
        };
        for key in [
            "env",
            "gamma",
            "seeds",
            "iterations",
            "eval_every",
            "features",
        ] {
            let len = self.list_len(get(table, key), key)?;
            multiply(&mut runs, &mut factors, format!("`{key}`"), len);
        }
        if let Some(DeValue::Table(t)) = get(table, "dataset").map(Spanned::get_ref) {
            let keys: &[&str] = if get(t, "file").is_some() {
                &["file"]
            } else {
                &["policy", "epsilon", "size"]
            };
            for key in keys {
                let what = format!("dataset.{key}");
                let len = self.list_len(get(t, key), &what)?;
                multiply(&mut runs, &mut factors, format!("`{what}`"), len);
            }
        }
        let entries: Vec<&Node> = match get(table, "algo").map(|n| (n, n.get_ref())) {
            Some((_, DeValue::Array(items))) => items.iter().collect(),
            Some((node, DeValue::Table(_))) => vec![node],
            _ => Vec::new(),
        };
        if let Some(node) = get(table, "algo")
            && entries.is_empty()
            && node.get_ref().as_array().is_some()
        {
            return Err(self.error(
                node.span(),
                "`algo` is an empty list: it expands to no runs (add an [[algo]] table)",
            ));
        }
        // Each [[algo]] table is a grid of its own; the tables add up.
        let mut algo_runs: u64 = 0;
        let mut algo_factors = Vec::new();
        for entry in &entries {
            let Some(t) = entry.get_ref().as_table() else {
                continue; // not a table: `algos` says so
            };
            let name = get(t, "name")
                .and_then(|n| n.get_ref().as_str())
                .unwrap_or("?");
            let mut one: u64 = 1;
            let mut lists = Vec::new();
            for (key, value) in t.iter().filter(|(k, _)| k.get_ref() != "name") {
                let what = format!("[[algo]] {} `{}`", bounded(name), bounded(key.get_ref()));
                let len = self.list_len(Some(value), &what)?;
                multiply(
                    &mut one,
                    &mut lists,
                    format!("`{}`", bounded(key.get_ref())),
                    len,
                );
            }
            algo_runs = algo_runs.saturating_add(one);
            algo_factors.push(if lists.is_empty() {
                format!("[[algo]] {}: 1", bounded(name))
            } else {
                format!("[[algo]] {}: {}", bounded(name), lists.join(" × "))
            });
        }
        if algo_runs > 1 {
            factors.push(if entries.len() == 1 {
                algo_factors.remove(0)
            } else {
                format!("({})", algo_factors.join(" + "))
            });
        }
        runs = runs.saturating_mul(algo_runs.max(1));
        if runs > MAX_RUNS {
            let count = if runs == u64::MAX {
                format!("at least {runs}")
            } else {
                runs.to_string()
            };
            return Err(self.error(
                0..0,
                format!(
                    "the grid expands to {count} runs, more than the limit of {MAX_RUNS}: {}",
                    factors.join(" × ")
                ),
            ));
        }
        Ok(())
    }

    /// How many values `node` gives a grid axis: a list's length (an
    /// empty list is an error naming `what`), else one.
    fn list_len(&self, node: Option<&Node>, what: &str) -> Result<u64, SpecError> {
        match node.map(|n| (n, n.get_ref())) {
            Some((node, DeValue::Array(items))) if items.is_empty() => Err(self.error(
                node.span(),
                format!("`{what}` is an empty list: it expands to no runs"),
            )),
            Some((_, DeValue::Array(items))) => Ok(items.len() as u64),
            _ => Ok(1),
        }
    }

    /// An environment id, or `{ file = "my_mdp.json" }` for `file:PATH`. A
    /// `file:`/`map:` path is resolved against the spec's directory and
    /// pinned to the file's contents ([`envs::pin`]), so the run id changes
    /// when the file does. The environment comes along for the checks
    /// that need its shape.
    fn env(&self, node: &Node) -> Result<(String, Shape), SpecError> {
        let id = match node.get_ref() {
            DeValue::Table(t) => {
                self.check_keys(t, &["file"], "env")?;
                let file = self.required(t, "file", node.span())?;
                format!("file:{}", self.string(file)?)
            }
            _ => self.string(node)?,
        };
        if let Some(d) = crate::env::continuous(&id) {
            return Ok((id, Shape::Continuous(d)));
        }
        let base = self.path.parent().unwrap_or(Path::new("."));
        let pinned = envs::pin(&id, base).map_err(|e| self.error(node.span(), e.to_string()))?;
        let mdp = envs::make(&pinned).map_err(|e| self.error(node.span(), e.to_string()))?;
        Ok((pinned, Shape::Table(Box::new(mdp))))
    }

    /// `"tabular"`, or a `features` table of scalar keys (see
    /// [`FeatureSpec::read`]); errors point at the key they are about.
    fn features(&self, node: &Node) -> Result<FeatureSpec, SpecError> {
        let table = match node.get_ref() {
            DeValue::String(s) if s == "tabular" => return Ok(FeatureSpec::tabular()),
            DeValue::Table(t) => t,
            _ => {
                return Err(self.error(
                    node.span(),
                    "`features` must be a table such as { kind = \"tile\" }, or \"tabular\"",
                ));
            }
        };
        let mut params = Params::new();
        for (key, value) in table {
            params.insert(key.get_ref().to_string(), self.param(value)?);
        }
        FeatureSpec::read(&params).map_err(|e| {
            let key = match &e {
                crate::Error::UnknownParam { key, .. }
                | crate::Error::InvalidParam { key, .. }
                | crate::Error::ParamNotUsed { key, .. } => Some(key.as_str()),
                _ => None,
            };
            let span = table
                .iter()
                .find(|(k, _)| Some(k.get_ref().as_ref()) == key)
                .map_or(node.span(), |(k, v)| match e {
                    crate::Error::InvalidParam { .. } => v.span(),
                    _ => k.span(),
                });
            self.error(span, e.to_string())
        })
    }

    /// Rejects keys outside `valid`, suggesting the closest.
    fn check_keys(&self, table: &DeTable, valid: &[&str], what: &str) -> Result<(), SpecError> {
        for (key, _) in table {
            if !valid.contains(&key.get_ref().as_ref()) {
                return Err(self.error(
                    key.span(),
                    format!(
                        "unknown {what} key `{}`{}; valid keys: {}",
                        bounded(key.get_ref()),
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

    fn datasets(&self, table: &DeTable) -> Result<Axis<DatasetChoice>, SpecError> {
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
            return self.axis(file, |n| {
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
                match (self.digest)(&path).map_err(cannot)? {
                    Some(sha256) => Ok(DatasetChoice::File {
                        path: path.into(),
                        sha256: sha256.into(),
                    }),
                    None => Err(self.error(
                        n.span(),
                        format!("dataset file {} is being hashed", path.display()),
                    )),
                }
            });
        }
        let policies = self.axis(self.required(t, "policy", node.span())?, |n| {
            let name = self.string(n)?;
            Quality::parse(&name).map_err(|e| self.error(n.span(), e.to_string()))
        })?;
        let sizes = self.axis(self.required(t, "size", node.span())?, |n| {
            let size = self.count(n, 1)?;
            if size > MAX_TRANSITIONS as u64 {
                return Err(self.error(
                    n.span(),
                    format!(
                        "dataset size {size}: a dataset holds at most {MAX_TRANSITIONS} transitions (counts are 32-bit)"
                    ),
                ));
            }
            Ok(size)
        })?;
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
                    out.push((
                        DatasetChoice::Collect {
                            policy,
                            size: *size,
                            seed,
                        },
                        policy_span.clone(),
                    ));
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

/// Eval points of a run: iterations 0, every, 2·every, … and the last.
pub fn eval_points(iterations: u64, every: u64) -> u64 {
    let every = every.max(1);
    (iterations / every)
        .saturating_add(1)
        .saturating_add(u64::from(!iterations.is_multiple_of(every)))
}

/// `12.3 MB`, `4.5 TB`: a size for an error message.
fn human_bytes(bytes: f64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB", "ZB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes:.0} bytes")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// An environment as the spec's checks need it: a table's shape, or a
/// continuous environment's description.
enum Shape {
    Table(Box<TabularMdp>),
    Continuous(&'static crate::env::Description),
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
        path: Arc<Path>,
        sha256: Arc<str>,
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
    use std::fmt::Write as _;

    const FILE_SPEC: &str =
        "env = \"ImitationTrap-v0\"\ndataset = { file = \"d.csv\" }\n[[algo]]\nname = \"fqi\"\n";

    fn ids(spec: &Spec) -> Vec<String> {
        spec.runs.iter().map(|r| r.id().to_string()).collect()
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

    const FQI: &str = "env = \"ImitationTrap-v0\"\ndataset = { policy = \"random\", size = 100 }\n";

    /// Seventy lists of two values: 2^70 runs, counted without wrapping
    /// and without expanding anything.
    #[test]
    fn a_grid_product_saturates_instead_of_wrapping() {
        let keys = (0..70).fold(String::new(), |mut keys, i| {
            let _ = writeln!(keys, "k{i} = [1, 2]");
            keys
        });
        let text = format!("{FQI}[[algo]]\nname = \"fqi\"\n{keys}");
        let e = parse(Path::new("s.toml"), &text).unwrap_err();
        assert!(
            e.message
                .contains("the grid expands to at least 18446744073709551615 runs"),
            "{e}"
        );
        // Tables add up; a product that wraps to a small number (2^64 here)
        // must not pass.
        let keys = (0..32).fold(String::new(), |mut keys, i| {
            let _ = writeln!(keys, "k{i} = [1, 2, 3, 4]");
            keys
        });
        let text = format!("{FQI}seeds = [0, 1]\n[[algo]]\nname = \"fqi\"\n{keys}");
        assert!(parse(Path::new("s.toml"), &text).is_err());
        let text = format!(
            "{FQI}seeds = [0, 1, 2]\n[[algo]]\nname = \"bc\"\n[[algo]]\nname = \"fqi\"\nq_init = [{}]\n",
            vec!["\"zero\""; 40_000].join(", ")
        );
        let e = parse(Path::new("s.toml"), &text).unwrap_err();
        assert!(
            e.message.contains(
                "120003 runs, more than the limit of 100000: `seeds` (3) × ([[algo]] bc: 1 + [[algo]] fqi: `q_init` (40000))"
            ),
            "{e}"
        );
    }

    /// The seeds of a grid point share its config's body: one a point.
    #[test]
    fn the_seeds_of_a_grid_point_share_its_body() {
        let text =
            format!("{FQI}gamma = [0.9, 0.99]\nseeds = [0, 1, 2]\n[[algo]]\nname = \"fqi\"\n");
        let runs = parse(Path::new("s.toml"), &text).unwrap().runs;
        assert_eq!(runs.len(), 6);
        let bodies: std::collections::HashSet<*const ConfigBody> =
            runs.iter().map(|r| &raw const **r).collect();
        assert_eq!(bodies.len(), 2);
    }

    /// Grid points that resolve to the same run name it once.
    #[test]
    fn equal_grid_points_are_one_run() {
        let text = "env = \"ImitationTrap-v0\"\ndataset = { policy = \"random\", size = [100, 100] }\n[[algo]]\nname = \"fqi\"\n";
        assert_eq!(parse(Path::new("s.toml"), text).unwrap().runs.len(), 1);
    }

    /// A 20 MB environment name or key is rejected with a bounded quote.
    #[test]
    fn huge_names_are_quoted_in_part() {
        let name = "x".repeat(20_000_000);
        let text = format!(
            "env = \"{name}\"\ndataset = {{ policy = \"random\", size = 100 }}\n[[algo]]\nname = \"fqi\"\n"
        );
        let e = parse(Path::new("s.toml"), &text).unwrap_err();
        assert!(e.message.len() < 1000, "{}", e.message.len());
        assert!(e.message.contains("…(20000000 bytes)"), "{}", e.message);
        let text = format!("{FQI}{name} = 1\n[[algo]]\nname = \"fqi\"\n");
        let e = parse(Path::new("s.toml"), &text).unwrap_err();
        assert!(e.message.len() < 1000, "{}", e.message.len());
        let text = format!("{FQI}[[algo]]\nname = \"{name}\"\n");
        let e = parse(Path::new("s.toml"), &text).unwrap_err();
        assert!(e.message.len() < 1000, "{}", e.message.len());
    }

    #[test]
    fn eval_points_count_the_first_and_the_last() {
        assert_eq!(eval_points(50, 5), 11);
        assert_eq!(eval_points(52, 5), 12);
        assert_eq!(eval_points(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn a_bad_value_in_a_list_points_at_the_element() {
        let text = "env = \"ThreeState-v0\"\ndataset = { policy = \"medium\", size = 100 }\n[[algo]]\nname = \"fqi\"\nq_init = [\"zero\", \"bogus\"]\n";
        let e = parse(Path::new("s.toml"), text).unwrap_err();
        assert_eq!((e.line, e.column), (5, 19), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
    }
}
