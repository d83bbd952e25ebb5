//! A run's resolved configuration and its content-addressed id.

use crate::algo::Params;
use crate::data::Quality;
use crate::features::FeatureSpec;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// Where a run's dataset comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum DatasetSource {
    /// Collected by a behaviour policy of the given quality, seeded.
    Collect {
        policy: Quality,
        size: u64,
        seed: u64,
    },
    /// Imported from a CSV file. The run id hashes its contents and file
    /// name, not its path: the same spec read as `f.toml`, `./f.toml` or
    /// `/abs/f.toml` names the same runs, and editing the file re-runs what
    /// trained on it. `path` is canonical (absolute), for reading. Shared:
    /// a run's source is a few words, no allocation of its own.
    File { path: Arc<Path>, sha256: Arc<str> },
}

/// The part of a dataset source that determines the result.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum HashedDataset<'a> {
    Collect {
        source: &'static str,
        policy: &'a Quality,
        /// [`Quality::definition`]: a store never mixes two meanings of a name.
        definition: u32,
        size: u64,
        seed: u64,
    },
    File {
        source: &'static str,
        name: String,
        sha256: &'a str,
    },
}

impl DatasetSource {
    /// What the run id hashes of the source on environment `env`: a
    /// continuous environment's qualities are versioned by the observation
    /// collector's [`crate::data::observed::collect::DEFINITION`].
    pub(super) fn hashed(&self, env: &str) -> HashedDataset<'_> {
        match self {
            DatasetSource::Collect { policy, size, seed } => HashedDataset::Collect {
                source: "collect",
                policy,
                definition: if crate::env::continuous(env).is_some() {
                    crate::data::observed::collect::DEFINITION
                } else {
                    policy.definition()
                },
                size: *size,
                seed: *seed,
            },
            DatasetSource::File { path, sha256 } => HashedDataset::File {
                source: "file",
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sha256,
            },
        }
    }
}

/// The hex SHA-256 of a dataset file's contents, streamed (only regular
/// files within [`crate::fsio::DATASET`] are read: see [`crate::fsio`]).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    sha256_file_with(path, |_, _| true)
}

/// [`sha256_file`], telling `progress` the bytes hashed and the file's
/// length after each MiB; it returns `false` to stop (an `Interrupted`
/// error).
pub fn sha256_file_with(
    path: &Path,
    mut progress: impl FnMut(u64, u64) -> bool,
) -> std::io::Result<String> {
    use std::io::Read;
    let file = crate::fsio::open_bounded(path, crate::fsio::DATASET)?;
    let len = file.metadata()?.len();
    let mut reader = crate::fsio::HashingReader::new(file);
    let mut chunk = vec![0; 1 << 20];
    while reader.read(&mut chunk)? > 0 {
        if !progress(reader.bytes_read(), len) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "hashing stopped",
            ));
        }
    }
    reader.finish()
}

impl DatasetSource {
    /// Short label for tables: `medium 10k` or the file name.
    pub fn label(&self) -> String {
        match self {
            DatasetSource::Collect { policy, size, .. } => {
                format!("{policy} {}", human_size(*size))
            }
            DatasetSource::File { path, .. } => path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            ),
        }
    }

    /// The dataset's size when known from the config (collected data).
    pub fn size(&self) -> Option<u64> {
        match self {
            DatasetSource::Collect { size, .. } => Some(*size),
            DatasetSource::File { .. } => None,
        }
    }
}

/// `1000` → `1k`, `1000000` → `1M`.
pub fn human_size(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Everything one run trains with, defaults filled in: inline what the
/// seeds of a grid point (or the runs of an index template) vary, behind
/// a shared `Arc` the rest, which reads through `Deref` and is copied on
/// its first write (`DerefMut`), so a store of a million runs holds a
/// few words a run. Its JSON (`config.json`, index templates) is flat,
/// as it was before the body was shared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Flat", into = "Flat")]
pub struct RunConfig {
    shared: Arc<ConfigBody>,
    pub seed: u64,
    pub dataset: DatasetSource,
}

/// What a run's config shares with the other seeds of its grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigBody {
    /// The spec the run belongs to (its directory in the store; not hashed).
    pub spec: Arc<str>,
    pub env: Arc<str>,
    pub gamma: f64,
    pub iterations: u64,
    pub eval_every: u64,
    /// Q's representation: a table, or linear features (hashed: a
    /// table's `"tabular"` keeps the ids runs had before features).
    pub features: FeatureSpec,
    pub algo: Arc<str>,
    /// Resolved hyper-parameters (every default present), so the id names
    /// every value the run trained with. Shared by an algorithm variant's
    /// grid points.
    pub params: Arc<Params>,
    /// Monte-Carlo episodes an eval point, on a continuous environment
    /// (hashed there); `None` on a tabular one, whose truth is exact.
    pub rollouts: Option<u64>,
    /// Queue priority, larger first (not hashed: it changes when, not what).
    pub priority: i64,
}

impl RunConfig {
    /// A run of `shared`'s grid point with these seeds.
    pub fn new(shared: Arc<ConfigBody>, seed: u64, dataset: DatasetSource) -> RunConfig {
        RunConfig {
            shared,
            seed,
            dataset,
        }
    }

    /// This config changed by `change`: how tests, benchmarks and examples
    /// adjust [`RunConfig::example`] in an expression.
    #[must_use]
    pub fn with(mut self, change: impl FnOnce(&mut RunConfig)) -> RunConfig {
        change(&mut self);
        self
    }
}

impl std::ops::Deref for RunConfig {
    type Target = ConfigBody;
    fn deref(&self) -> &ConfigBody {
        &self.shared
    }
}

/// Copy-on-write: the other runs sharing the body keep theirs.
impl std::ops::DerefMut for RunConfig {
    fn deref_mut(&mut self) -> &mut ConfigBody {
        Arc::make_mut(&mut self.shared)
    }
}

/// A config as its JSON has it, fields in this order (the stores' files
/// and index templates, read and written as before the body was shared;
/// named so, serde's errors read as before).
#[derive(Serialize, Deserialize)]
#[serde(rename = "RunConfig")]
struct Flat {
    spec: Arc<str>,
    env: Arc<str>,
    gamma: f64,
    seed: u64,
    iterations: u64,
    eval_every: u64,
    dataset: DatasetSource,
    features: FeatureSpec,
    algo: Arc<str>,
    params: Arc<Params>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rollouts: Option<u64>,
    #[serde(default)]
    priority: i64,
}

impl From<Flat> for RunConfig {
    fn from(f: Flat) -> RunConfig {
        let shared = ConfigBody {
            spec: f.spec,
            env: f.env,
            gamma: f.gamma,
            iterations: f.iterations,
            eval_every: f.eval_every,
            features: f.features,
            algo: f.algo,
            params: f.params,
            rollouts: f.rollouts,
            priority: f.priority,
        };
        RunConfig::new(Arc::new(shared), f.seed, f.dataset)
    }
}

impl From<RunConfig> for Flat {
    fn from(c: RunConfig) -> Flat {
        let RunConfig {
            shared,
            seed,
            dataset,
        } = c;
        let b = Arc::unwrap_or_clone(shared);
        Flat {
            spec: b.spec,
            env: b.env,
            gamma: b.gamma,
            seed,
            iterations: b.iterations,
            eval_every: b.eval_every,
            dataset,
            features: b.features,
            algo: b.algo,
            params: b.params,
            rollouts: b.rollouts,
            priority: b.priority,
        }
    }
}

/// The version of what a run computes beyond its config, hashed into run
/// ids. 2: metrics carry `episode_return` and D4RL's `normalized_score` on
/// it (it was on the discounted J), and collection cuts episodes at
/// [`crate::mdp::TabularMdp::horizon`] where Gymnasium sets no time limit.
pub const PIPELINE_VERSION: u32 = 2;

/// The part of a config that determines the result.
#[derive(Serialize)]
struct Trained<'a> {
    pipeline: u32,
    /// A `file:`/`map:` environment by its file's name and contents.
    env: std::borrow::Cow<'a, str>,
    gamma: f64,
    seed: u64,
    iterations: u64,
    eval_every: u64,
    dataset: HashedDataset<'a>,
    features: &'a FeatureSpec,
    algo: &'a str,
    params: &'a Params,
    /// Absent for a tabular environment, so its ids stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    rollouts: Option<u64>,
}

impl RunConfig {
    pub fn id(&self) -> RunId {
        let trained = Trained {
            pipeline: PIPELINE_VERSION,
            env: crate::mdp::envs::hashed_id(&self.env),
            gamma: self.gamma,
            seed: self.seed,
            iterations: self.iterations,
            eval_every: self.eval_every,
            dataset: self.dataset.hashed(&self.env),
            features: &self.features,
            algo: &self.algo,
            params: &self.params,
            rollouts: self.rollouts,
        };
        // Struct fields serialize in declaration order and params is a
        // BTreeMap, so the JSON (and the hash) is canonical.
        let json = serde_json::to_vec(&trained).expect("configs serialize");
        let digest = Sha256::digest(&json);
        RunId::from_bytes(digest[..8].try_into().expect("8 bytes"))
    }
}

impl RunConfig {
    /// A run with usual settings, for tests, benchmarks and examples to
    /// adjust: `algo` with its default hyper-parameters on `size` medium
    /// transitions of `env`, the run and its data seeded with `seed`,
    /// γ = 0.99, 1000 iterations evaluated every 10, spec `example`.
    /// Panics if no algorithm is called `algo`.
    pub fn example(env: &str, algo: &str, size: u64, seed: u64) -> RunConfig {
        let shared = ConfigBody {
            spec: "example".into(),
            env: env.into(),
            gamma: 0.99,
            iterations: 1000,
            eval_every: 10,
            features: FeatureSpec::tabular(),
            algo: algo.into(),
            params: Arc::new(
                crate::algo::resolve_params(algo, &Params::new()).expect("a registered algorithm"),
            ),
            rollouts: None,
            priority: 0,
        };
        let dataset = DatasetSource::Collect {
            policy: Quality::Medium,
            size,
            seed,
        };
        RunConfig::new(Arc::new(shared), seed, dataset)
    }
}

/// A run's config with its id, hashed once: listing the 100,000 runs of
/// a large grid hashed each config three times.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    pub id: RunId,
    pub config: Arc<RunConfig>,
}

impl From<RunConfig> for PlannedRun {
    fn from(config: RunConfig) -> Self {
        PlannedRun {
            id: config.id(),
            config: Arc::new(config),
        }
    }
}

/// 16 hex digits of the SHA-256 of a run's canonical config, held inline
/// (lowercase ASCII): a copy is 16 bytes and no allocation, and ids order
/// as their texts do. A store of a million runs keeps, copies, compares
/// and hashes them on every change.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId([u8; 16]);

/// As the texts order, compared as one number: the derived order called
/// `memcmp` for each comparison of the session's map searches.
impl Ord for RunId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        u128::from_be_bytes(self.0).cmp(&u128::from_be_bytes(other.0))
    }
}

impl PartialOrd for RunId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl RunId {
    /// The id of these 8 bytes (a hash's first 8): their hex digits.
    pub fn from_bytes(bytes: [u8; 8]) -> RunId {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0; 16];
        for (pair, b) in text.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
            *pair = [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]];
        }
        RunId(text)
    }

    /// Whether `text` has the shape of a run id (directory names that are not are skipped).
    pub fn parse(text: &str) -> Option<RunId> {
        let text: [u8; 16] = text.as_bytes().try_into().ok()?;
        text.iter()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            .then_some(RunId(text))
    }

    /// The 8 bytes of the id.
    pub fn bytes(&self) -> [u8; 8] {
        let digit = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
        let mut out = [0; 8];
        for (b, pair) in out.iter_mut().zip(self.0.as_chunks::<2>().0) {
            *b = digit(pair[0]) << 4 | digit(pair[1]);
        }
        out
    }

    /// The id as a number, which orders as the ids do (hex digits).
    pub fn number(&self) -> u64 {
        u64::from_be_bytes(self.bytes())
    }

    /// The 16 hex digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ids are ASCII hex digits")
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// As the text it is (`RunId("0123456789abcdef")`).
impl std::fmt::Debug for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RunId").field(&self.as_str()).finish()
    }
}

impl AsRef<std::path::Path> for RunId {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::ParamValue;

    fn config() -> RunConfig {
        RunConfig::example("FrozenLake-v1", "fqi", 1000, 0).with(|c| {
            c.spec = "s".into();
            c.iterations = 100;
        })
    }

    #[test]
    fn id_depends_on_what_is_trained_only() {
        let a = config();
        let mut b = config();
        b.spec = "other".into();
        b.priority = 5;
        assert_eq!(a.id(), b.id());
        b.seed = 1;
        assert_ne!(a.id(), b.id());
        let mut c = config();
        Arc::make_mut(&mut c.params).insert("lr".into(), ParamValue::Number(0.5));
        assert_ne!(a.id(), c.id());
        assert!(RunId::parse(a.id().as_str()).is_some());
    }

    proptest::proptest! {
        /// Ids compare as their numbers do: the dashboard searches numbers.
        #[test]
        fn ids_order_as_their_numbers(a: [u8; 8], b: [u8; 8]) {
            let (a, b) = (RunId::from_bytes(a), RunId::from_bytes(b));
            proptest::prop_assert_eq!(a.cmp(&b), a.number().cmp(&b.number()));
            proptest::prop_assert_eq!(a.cmp(&b), a.as_str().cmp(b.as_str()));
            proptest::prop_assert_eq!(RunId::from_bytes(a.number().to_be_bytes()), a);
        }
    }

    /// The id of [`config`] since D4RL's scores and dataset definitions
    /// (pipeline 2, `medium` definition 2) and since keys belong to their
    /// variant (fqi's sweep resolves to `q_init` and `variant` only): a
    /// store keeps its runs until a definition changes. Pinned so that an
    /// unintended change of the canonical form shows here.
    const KNOWN_ID: &str = "e3f51b2ebe525486";

    #[test]
    fn collected_data_hashes_as_before_and_files_by_name_and_contents() {
        assert_eq!(config().id().as_str(), KNOWN_ID);
        let file = |path: &str, sha: &str| {
            config().with(|c| {
                c.dataset = DatasetSource::File {
                    path: Path::new(path).into(),
                    sha256: sha.into(),
                };
            })
        };
        // The definition of a quality is part of what is hashed.
        let hashed = serde_json::to_string(&config().dataset.hashed("FrozenLake-v1")).unwrap();
        assert!(hashed.contains("\"definition\":2"), "{hashed}");
        let random = |policy| {
            config().with(|c| {
                c.dataset = DatasetSource::Collect {
                    policy,
                    size: 1000,
                    seed: 0,
                };
            })
        };
        let hashed =
            serde_json::to_string(&random(Quality::Random).dataset.hashed("FrozenLake-v1"))
                .unwrap();
        assert!(hashed.contains("\"definition\":1"), "{hashed}");
        // A pinned environment file by name and contents, not directory.
        let env = |id: &str| config().with(|c| c.env = id.into());
        let pinned = env("file:/a/m.json#0123456789abcdef");
        assert_eq!(pinned.id(), env("file:/b/m.json#0123456789abcdef").id());
        assert_ne!(pinned.id(), env("file:/a/m.json#0123456789abcdee").id());
        assert_ne!(pinned.id(), env("file:/a/n.json#0123456789abcdef").id());
        let a = file("/data/d.csv", "ab");
        assert_eq!(a.id(), file("/elsewhere/d.csv", "ab").id());
        assert_ne!(a.id(), file("/data/d.csv", "cd").id());
        assert_ne!(a.id(), file("/data/e.csv", "ab").id());
    }

    /// A config's JSON as stores hold it (written before the body was
    /// shared: an index template of the open bench's store, seeds zeroed).
    const STORED: &str = r#"{"spec":"sweep-000","env":"FrozenLake8x8-v1","gamma":0.99,"seed":0,"iterations":1000,"eval_every":10,"dataset":{"source":"collect","policy":"medium","size":100000,"seed":0},"features":"tabular","algo":"fqi","params":{"q_init":"zero","variant":"sweep"},"priority":0}"#;

    #[test]
    fn json_reads_and_writes_as_before() {
        let stored: RunConfig = serde_json::from_str(STORED).unwrap();
        let made = RunConfig::example("FrozenLake8x8-v1", "fqi", 100_000, 0)
            .with(|c| c.spec = "sweep-000".into());
        assert_eq!(stored, made);
        assert_eq!(serde_json::to_string(&made).unwrap(), STORED);
        let file = made.with(|c| {
            c.dataset = DatasetSource::File {
                path: Path::new("/d/x.csv").into(),
                sha256: "ab".into(),
            };
            c.rollouts = Some(3);
        });
        let json = serde_json::to_string(&file).unwrap();
        assert!(
            json.contains(r#""dataset":{"source":"file","path":"/d/x.csv","sha256":"ab"},"#)
                && json.ends_with(r#""rollouts":3,"priority":0}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<RunConfig>(&json).unwrap(), file);
    }

    #[test]
    fn seeds_share_the_body_until_one_writes_it() {
        let a = config();
        let mut b = a.clone().with(|c| c.seed = 1);
        assert!(
            std::ptr::eq(&raw const *a, &raw const *b),
            "a seed is inline"
        );
        b.gamma = 0.5;
        assert!(
            !std::ptr::eq(&raw const *a, &raw const *b),
            "written, the body is b's own"
        );
        assert_eq!((a.gamma, b.gamma), (0.99, 0.5));
    }
}
