//! Short labels that tell groups of runs apart. Runs that differ only in
//! their seed form one group (averaged as seeds); every other difference
//! shows in a label, and only the differences: an algorithm reads `fqi
//! q_init=zero` when other fqi runs on display use another `q_init`, and
//! plain `fqi` when they all agree. Used by the score table, `report`,
//! `plot`, and the dashboard.

use crate::algo::ParamValue;
use crate::experiment::{DatasetSource, RunConfig};
use crate::mdp::envs;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// What varies among a set of configs, and so must be named.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// Per algorithm, the hyper-parameters whose value differs among its runs.
    varying: BTreeMap<String, BTreeSet<String>>,
    envs: bool,
    gamma: bool,
    iterations: bool,
    eval_every: bool,
    features: bool,
    /// File names that stand for more than one content.
    ambiguous_files: BTreeSet<String>,
    /// Short environment names ([`envs::label`]) that stand for more than
    /// one environment (two files of one name).
    ambiguous_envs: BTreeSet<String>,
}

/// Orders dataset groups: environment, policy, size, then the settings
/// that distinguish them. Equal keys ⇔ same group (seeds aside).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DatasetKey {
    env: String,
    policy: String,
    size: u64,
    file: String,
    /// γ > 0, whose bits order like its values.
    gamma_bits: u64,
    iterations: u64,
    eval_every: u64,
    features: String,
}

/// Orders labels as people read them: numbers by value, `k` and `M`
/// suffixes included (`medium 1k` < `medium 10k` < `medium 100k` <
/// `medium 1M`), text as text. For curves drawn from labels alone.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    #[derive(PartialEq, PartialOrd)]
    enum Token<'a> {
        Number(f64),
        Text(&'a str),
    }
    fn tokens(s: &str) -> Vec<Token<'_>> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits > 0 {
                let mut value: f64 = rest[..digits].parse().unwrap_or(f64::MAX);
                rest = &rest[digits..];
                // A size suffix ends a word: `1k`, `1M`, not `8x8`.
                let mut chars = rest.chars();
                let scale = match chars.next() {
                    Some('k') => 1e3,
                    Some('M') => 1e6,
                    _ => 1.0,
                };
                if scale > 1.0 && !chars.next().is_some_and(char::is_alphanumeric) {
                    value *= scale;
                    rest = &rest[1..];
                }
                out.push(Token::Number(value));
            } else {
                let len = rest
                    .find(|c: char| c.is_ascii_digit())
                    .unwrap_or(rest.len())
                    .max(c.len_utf8());
                out.push(Token::Text(&rest[..len]));
                rest = &rest[len..];
            }
        }
        out
    }
    let (ta, tb) = (tokens(a), tokens(b));
    for (x, y) in ta.iter().zip(&tb) {
        match x.partial_cmp(y) {
            Some(std::cmp::Ordering::Equal) | None => {}
            Some(order) => return order,
        }
    }
    ta.len().cmp(&tb.len()).then_with(|| a.cmp(b))
}

fn value_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Text(s) => s.clone(),
        other => other.to_string(),
    }
}

fn file_name(source: &DatasetSource) -> Option<(String, &str)> {
    match source {
        DatasetSource::File { path, sha256 } => Some((
            path.file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
            sha256,
        )),
        DatasetSource::Collect { .. } => None,
    }
}

/// Configs less those that read, to [`Labels::new`], as one kept does
/// (every value it reads the same): the seeds of a grid point, and the
/// runs a store's index holds by one template, share one parameter map,
/// so a spec of a million runs is labelled from its few grid points, each
/// config compared with the kept ones of its map alone.
#[derive(Debug, Default)]
pub struct Distinct<'a> {
    kept: Vec<&'a RunConfig>,
    /// Per parameter map (by address), the kept configs that hold it.
    of_map: HashMap<usize, Vec<usize>>,
}

impl<'a> Distinct<'a> {
    pub fn add(&mut self, c: &'a RunConfig) {
        let kept = &mut self.kept;
        let same_map = self
            .of_map
            .entry(Arc::as_ptr(&c.params).addr())
            .or_default();
        if !same_map.iter().any(|&k| reads_alike(kept[k], c)) {
            same_map.push(kept.len());
            kept.push(c);
        }
    }

    /// The labels of the configs added.
    pub fn labels(&self) -> Labels {
        Labels::of(&self.kept)
    }
}

/// Whether `a` and `b`, of one parameter map, give [`Labels::new`] the
/// same values (stricter than [`Labels::alike`], whose `0.0 == -0.0`
/// print apart).
fn reads_alike(a: &RunConfig, b: &RunConfig) -> bool {
    a.algo == b.algo
        && a.env == b.env
        && a.gamma.to_bits() == b.gamma.to_bits()
        && a.iterations == b.iterations
        && a.eval_every == b.eval_every
        && ((a.features.is_tabular() && b.features.is_tabular())
            || a.features.label() == b.features.label())
        && file_name(&a.dataset) == file_name(&b.dataset)
}

impl Labels {
    /// Whether `a` and `b` agree on everything [`Labels::new`] reads (they
    /// may differ in seed, spec, priority): adding `b` to configs that
    /// hold `a` changes no label, so a run streamed into a spec of a
    /// million is labelled without labelling the million again.
    pub fn alike(a: &RunConfig, b: &RunConfig) -> bool {
        a.algo == b.algo
            && a.params == b.params
            && a.env == b.env
            && a.gamma.to_bits() == b.gamma.to_bits()
            && a.iterations == b.iterations
            && a.eval_every == b.eval_every
            && a.features == b.features
            && file_name(&a.dataset) == file_name(&b.dataset)
    }

    /// Labels for the runs of `configs` (the ones on display).
    pub fn new<'a>(configs: impl IntoIterator<Item = &'a RunConfig>) -> Self {
        let mut distinct = Distinct::default();
        for c in configs {
            distinct.add(c);
        }
        distinct.labels()
    }

    /// Labels for `configs`, none of which reads as another does.
    fn of(configs: &[&RunConfig]) -> Self {
        let differ = |f: &dyn Fn(&RunConfig) -> String| {
            configs.iter().map(|c| f(c)).collect::<BTreeSet<_>>().len() > 1
        };
        let mut params: BTreeMap<&str, BTreeMap<&str, BTreeSet<String>>> = BTreeMap::new();
        for c in configs {
            params.entry(&c.algo).or_default();
        }
        for (algo, keys) in &mut params {
            let runs: Vec<&RunConfig> = configs
                .iter()
                .copied()
                .filter(|c| *c.algo == **algo)
                .collect();
            for c in &runs {
                for k in c.params.keys() {
                    keys.entry(k.as_str()).or_default();
                }
            }
            // A key only some runs have (`init_scale` belongs to
            // q_init = "random") varies only where its values differ: its
            // absence follows from the key that chose otherwise, which is named.
            for (k, values) in keys.iter_mut() {
                values.extend(runs.iter().filter_map(|c| c.params.get(*k).map(value_text)));
            }
        }
        let mut shas: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for c in configs {
            if let Some((name, sha)) = file_name(&c.dataset) {
                shas.entry(name).or_default().insert(sha);
            }
        }
        let mut env_ids: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for c in configs {
            env_ids
                .entry(envs::label(&c.env).into_owned())
                .or_default()
                .insert(&c.env);
        }
        Labels {
            ambiguous_envs: env_ids
                .into_iter()
                .filter(|(_, ids)| ids.len() > 1)
                .map(|(label, _)| label)
                .collect(),
            varying: params
                .into_iter()
                .map(|(algo, keys)| {
                    let varying = keys
                        .into_iter()
                        .filter(|(_, values)| values.len() > 1)
                        .map(|(k, _)| k.to_string())
                        .collect();
                    (algo.to_string(), varying)
                })
                .collect(),
            envs: differ(&|c| c.env.to_string()),
            gamma: differ(&|c| c.gamma.to_string()),
            iterations: differ(&|c| c.iterations.to_string()),
            eval_every: differ(&|c| c.eval_every.to_string()),
            features: differ(&|c| c.features.label()),
            ambiguous_files: shas
                .into_iter()
                .filter(|(_, s)| s.len() > 1)
                .map(|(name, _)| name)
                .collect(),
        }
    }

    /// The algorithm and the hyper-parameters that vary among its runs:
    /// `fqi q_init=random`, or `bc`.
    pub fn algo(&self, c: &RunConfig) -> String {
        let mut label = c.algo.to_string();
        for k in self.varying.get(&*c.algo).into_iter().flatten() {
            let v = c.params.get(k).map_or_else(|| "-".to_string(), value_text);
            label.push_str(&format!(" {k}={v}"));
        }
        label
    }

    /// The environment, short ([`envs::label`]): a pinned
    /// `file:/abs/x.json#HASH` reads `file:x.json`, and `file:x.json#HASH`
    /// when another `x.json` is on display.
    pub fn env(&self, c: &RunConfig) -> String {
        let label = envs::label(&c.env);
        if self.ambiguous_envs.contains(label.as_ref()) {
            envs::hashed_id(&c.env).into_owned()
        } else {
            label.into_owned()
        }
    }

    /// The dataset and the settings that vary: `medium 10k`, with the
    /// environment first when several are shown, and `gamma=0.5` etc. after.
    pub fn dataset(&self, c: &RunConfig) -> String {
        if self.envs {
            self.env_data(c)
        } else {
            self.data(c)
        }
    }

    /// [`Labels::env`] and [`Labels::data`]: the environment always named.
    pub fn env_data(&self, c: &RunConfig) -> String {
        format!("{} {}", self.env(c), self.data(c))
    }

    /// [`Labels::dataset`] without the environment, for narrow views.
    pub fn data(&self, c: &RunConfig) -> String {
        let mut label = c.dataset.label();
        if let Some((name, sha)) = file_name(&c.dataset)
            && self.ambiguous_files.contains(&name)
        {
            label.push_str(&format!("@{}", &sha[..sha.len().min(8)]));
        }
        let mut add = |on: bool, key: &str, value: String| {
            if on {
                label.push_str(&format!(" {key}={value}"));
            }
        };
        add(self.gamma, "gamma", c.gamma.to_string());
        add(self.iterations, "iterations", c.iterations.to_string());
        add(self.eval_every, "eval_every", c.eval_every.to_string());
        add(self.features, "features", c.features.label());
        label
    }

    /// The dataset group of a run, in display order.
    pub fn dataset_key(c: &RunConfig) -> DatasetKey {
        let (policy, size, file) = match &c.dataset {
            DatasetSource::Collect { policy, size, .. } => {
                (policy.name().clone(), *size, String::new())
            }
            DatasetSource::File { path, sha256 } => (
                "~file".to_string(),
                0,
                format!(
                    "{} {sha256}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
            ),
        };
        DatasetKey {
            env: c.env.to_string(),
            policy,
            size,
            file,
            gamma_bits: c.gamma.to_bits(),
            iterations: c.iterations,
            eval_every: c.eval_every,
            features: c.features.label(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::{Params, resolve_params};

    #[test]
    fn natural_order_reads_sizes_as_numbers() {
        let mut labels = vec![
            "fqi · Taxi-v4 medium 1k",
            "fqi · FrozenLake8x8-v1 medium 1M",
            "fqi · FrozenLake8x8-v1 medium 100k",
            "fqi · FrozenLake8x8-v1 medium 10k",
            "fqi · FrozenLake8x8-v1 medium 1k",
            "bc · FrozenLake8x8-v1 medium 1k",
        ];
        labels.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            labels,
            [
                "bc · FrozenLake8x8-v1 medium 1k",
                "fqi · FrozenLake8x8-v1 medium 1k",
                "fqi · FrozenLake8x8-v1 medium 10k",
                "fqi · FrozenLake8x8-v1 medium 100k",
                "fqi · FrozenLake8x8-v1 medium 1M",
                "fqi · Taxi-v4 medium 1k",
            ]
        );
        assert_eq!(
            natural_order("Chain-v9", "Chain-v10"),
            std::cmp::Ordering::Less
        );
        assert_eq!(natural_order("a 1kb", "a 2"), std::cmp::Ordering::Less);
    }
    use crate::data::Quality;

    fn config(algo: &str, set: &[(&str, &str)]) -> RunConfig {
        let mut params = Params::new();
        for (k, v) in set {
            params.insert(k.to_string(), ParamValue::Text(v.to_string()));
        }
        RunConfig::example("ThreeState-v0", algo, 1000, 0).with(|c| {
            c.spec = "s".into();
            c.gamma = 0.9;
            c.iterations = 10;
            c.eval_every = 1;
            c.params = resolve_params(algo, &params).unwrap().into();
        })
    }

    #[test]
    fn algorithms_name_only_the_parameters_that_vary_among_their_runs() {
        let fqi = |q_init| config("fqi", &[("q_init", q_init), ("variant", "sample")]);
        let runs = [
            fqi("zero"),
            fqi("optimistic"),
            fqi("random"),
            config("bc", &[]),
        ];
        let labels = Labels::new(&runs);
        let names: Vec<String> = runs.iter().map(|c| labels.algo(c)).collect();
        assert_eq!(
            names,
            [
                "fqi q_init=zero",
                "fqi q_init=optimistic",
                "fqi q_init=random",
                "bc"
            ]
        );
        // Alone, a non-default setting needs no name.
        assert_eq!(Labels::new(&runs[..1]).algo(&runs[0]), "fqi");
    }

    #[test]
    fn datasets_name_the_environment_and_settings_only_when_they_vary() {
        let a = config("fqi", &[]);
        let labels = Labels::new([&a]);
        assert_eq!(labels.dataset(&a), "medium 1k");
        let b = a.clone().with(|c| {
            c.gamma = 0.5;
            c.iterations = 50;
        });
        let c = a.clone().with(|c| c.env = "ImitationTrap-v0".into());
        let labels = Labels::new([&a, &b, &c]);
        assert_eq!(
            labels.dataset(&a),
            "ThreeState-v0 medium 1k gamma=0.9 iterations=10"
        );
        assert_eq!(
            labels.dataset(&b),
            "ThreeState-v0 medium 1k gamma=0.5 iterations=50"
        );
        assert_eq!(labels.data(&c), "medium 1k gamma=0.9 iterations=10");
        assert_ne!(Labels::dataset_key(&a), Labels::dataset_key(&b));
        // Seeds (of the run and of its data) are one group.
        let seed = a.clone().with(|c| {
            c.seed = 3;
            c.dataset = DatasetSource::Collect {
                policy: Quality::Medium,
                size: 1000,
                seed: 3,
            };
        });
        assert_eq!(Labels::dataset_key(&a), Labels::dataset_key(&seed));
    }

    #[test]
    fn pinned_file_environments_read_short_unless_two_share_a_name() {
        let on = |env: &str| config("fqi", &[]).with(|c| c.env = env.into());
        let a = on("file:/home/me/mdps/x.json#0123456789abcdef");
        let b = on("file:/tmp/other/x.json#fedcba9876543210");
        let c = on("ThreeState-v0");
        let labels = Labels::new([&a, &c]);
        assert_eq!(labels.env(&a), "file:x.json");
        assert_eq!(labels.dataset(&a), "file:x.json medium 1k");
        assert_eq!(labels.env_data(&c), "ThreeState-v0 medium 1k");
        // Two files named x.json: their content hashes tell them apart.
        let labels = Labels::new([&a, &b]);
        assert_eq!(labels.env(&a), "file:x.json#0123456789abcdef");
        assert_eq!(labels.env(&b), "file:x.json#fedcba9876543210");
    }
}
