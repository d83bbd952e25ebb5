//! Which runs a view shows: the dashboard's `/` filter and the
//! `plot`/`report` selection flags, one matcher for both, so a filter
//! typed in the dashboard selects the same runs on the command line.

use super::Labels;
use crate::experiment::{RunConfig, RunStatus};
use crate::mdp::envs;

/// The `/` filter: every word (case-insensitive) must appear in the run's
/// spec, environment (id or short label), algorithm label, dataset label,
/// status, or `seed=N`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    words: Vec<String>,
}

impl Filter {
    pub fn new(text: &str) -> Self {
        Filter {
            words: text
                .to_lowercase()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether `config` (labelled by `labels`, in `status`) passes.
    pub fn matches(&self, config: &RunConfig, labels: &Labels, status: RunStatus) -> bool {
        self.is_empty() || self.matches_text(&Filter::haystack(config, labels, status))
    }

    /// Whether a [`Filter::haystack`] passes: a view that filters its runs
    /// again and again (each burst typed) derives their haystacks once.
    pub fn matches_text(&self, haystack: &str) -> bool {
        self.words.iter().all(|w| haystack.contains(w.as_str()))
    }

    /// What the words are looked for in, lower case.
    pub fn haystack(config: &RunConfig, labels: &Labels, status: RunStatus) -> String {
        format!(
            "{} {} {} {} {} {} seed={}",
            config.spec,
            config.env,
            envs::label(&config.env),
            labels.algo(config),
            labels.dataset(config),
            status,
            config.seed
        )
        .to_lowercase()
    }
}

/// The selection flags of `plot` and `report`: each list, when not empty,
/// must match (any of its values), and the filter must pass.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Spec names (already resolved from file stems by the caller, which
    /// knows where the specs are).
    pub specs: Vec<String>,
    /// Environment ids, without their version too (`FrozenLake8x8-v1`,
    /// `CliffWalking`), or the short label of a file environment (`file:x.json`).
    pub envs: Vec<String>,
    /// Algorithm names (`cql`) or labels with their varying keys (`cql alpha=1`).
    pub algos: Vec<String>,
    /// Dataset labels without the environment (`medium 10k`), or a
    /// behaviour alone (`medium`).
    pub datasets: Vec<String>,
    pub filter: Filter,
}

impl Selection {
    /// Whether `config` is selected; `labels` are those of the runs the
    /// view would show (the algorithm and dataset labels depend on them).
    pub fn matches(&self, config: &RunConfig, labels: &Labels, status: RunStatus) -> bool {
        let any = |values: &[String], candidates: &[&str]| {
            values.is_empty()
                || values
                    .iter()
                    .any(|v| candidates.iter().any(|c| c.eq_ignore_ascii_case(v.trim())))
        };
        let policy = config.dataset.label();
        let behaviour = policy.split_whitespace().next().unwrap_or_default();
        let env = envs::label(&config.env);
        any(&self.specs, &[&config.spec])
            && any(&self.envs, &[&config.env, &env, envs::unversioned(&env)])
            && any(&self.algos, &[&config.algo, &labels.algo(config)])
            && any(&self.datasets, &[&labels.data(config), &policy, behaviour])
            && self.filter.matches(config, labels, status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::spec;

    fn configs() -> Vec<RunConfig> {
        let text = r#"
name = "panel"
env = ["FrozenLake8x8-v1", "CliffWalking-v1"]
gamma = 0.99
seeds = [0, 1]
iterations = 10
eval_every = 5
dataset = { policy = ["medium", "random"], size = [1_000, 10_000] }
[[algo]]
name = "fqi"
[[algo]]
name = "cql"
alpha = [0.1, 1.0]
"#;
        spec::parse(std::path::Path::new("panel.toml"), text)
            .unwrap()
            .runs
    }

    fn selected(selection: &Selection) -> usize {
        let configs = configs();
        let labels = Labels::new(&configs);
        configs
            .iter()
            .filter(|c| selection.matches(c, &labels, RunStatus::Done))
            .count()
    }

    #[test]
    fn each_flag_narrows_and_values_of_one_flag_add_up() {
        // 2 envs × 2 policies × 2 sizes × 2 seeds × (1 fqi + 2 cql).
        assert_eq!(selected(&Selection::default()), 48);
        let envs = |v: &[&str]| Selection {
            envs: v.iter().map(std::string::ToString::to_string).collect(),
            ..Default::default()
        };
        assert_eq!(selected(&envs(&["FrozenLake8x8-v1"])), 24);
        assert_eq!(selected(&envs(&["cliffwalking"])), 24);
        assert_eq!(selected(&envs(&["CliffWalking", "FrozenLake8x8"])), 48);
        assert_eq!(selected(&envs(&["Taxi-v4"])), 0);
        let algos = |v: &[&str]| Selection {
            algos: v.iter().map(std::string::ToString::to_string).collect(),
            ..Default::default()
        };
        assert_eq!(selected(&algos(&["cql"])), 32);
        assert_eq!(selected(&algos(&["cql alpha=1"])), 16);
        let datasets = |v: &[&str]| Selection {
            datasets: v.iter().map(std::string::ToString::to_string).collect(),
            ..Default::default()
        };
        assert_eq!(selected(&datasets(&["medium"])), 24);
        assert_eq!(selected(&datasets(&["medium 10k"])), 12);
        let both = Selection {
            algos: vec!["fqi".into()],
            datasets: vec!["random 1k".into()],
            filter: Filter::new("FROZEN seed=1"),
            ..Default::default()
        };
        assert_eq!(selected(&both), 1);
    }
}
