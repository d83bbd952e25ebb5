//! Builds what a run trains and is measured with, in one place for every
//! caller (the store's runner and `pessimist train`): the environment, its
//! dataset, the dataset compiled once and shared by the runs that use it
//! ([`datasets`], [`TrainData`]), the learner on it,
//! and the evaluator beside it.

use super::config::{DatasetSource, RunConfig};
use super::dataset_cache::DatasetCache;
use super::datasets::{self, Built, Definition};
use crate::algo::{self, Algorithm, Params, TrainData};
use crate::data::{self, Dataset};
use crate::error::{Error, Result};
use crate::eval::Evaluator;
use crate::features::FeatureSpec;
use crate::mdp::{TabularMdp, envs, solve};
use std::path::Path;
use std::sync::Arc;

/// Where the transitions come from.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// As a run's config says: collected (read from the store's dataset
    /// cache when given and there), or read from a file that must still
    /// hold what the run id hashed.
    Source(&'a DatasetSource, Option<&'a DatasetCache>),
    /// A dataset file (CSV or `.npz`) as it is now (`pessimist train --data`).
    File(&'a Path),
}

/// What to build: a run's config, or the same settings from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    pub env: &'a str,
    pub data: Data<'a>,
    pub algo: &'a str,
    pub params: &'a Params,
    pub gamma: f64,
    pub seed: u64,
    pub features: &'a FeatureSpec,
}

/// A learner ready to step, and what measures it.
pub struct Training {
    pub env: Arc<TabularMdp>,
    pub learner: Box<dyn Algorithm>,
    pub evaluator: Evaluator,
    /// The transitions the learner trains on (for their statistics).
    pub dataset: Arc<Dataset>,
}

impl<'a> Setup<'a> {
    pub fn of(config: &'a RunConfig) -> Self {
        Setup {
            env: &config.env,
            data: Data::Source(&config.dataset, None),
            algo: &config.algo,
            params: &config.params,
            gamma: config.gamma,
            seed: config.seed,
            features: &config.features,
        }
    }

    /// The same, with collected datasets shared through `cache`.
    pub fn with_cache(mut self, cache: &'a DatasetCache) -> Self {
        if let Data::Source(source, _) = self.data {
            self.data = Data::Source(source, Some(cache));
        }
        self
    }

    /// Checks γ and the hyper-parameters before reading any data (a typo
    /// in `--set` should not wait for a large CSV), then builds the rest.
    pub fn build(&self) -> Result<Training> {
        let env = Arc::new(envs::make(self.env)?);
        solve::check_gamma(self.gamma)?;
        algo::resolve_params(self.algo, self.params)?;
        let phi = self.features.build(&env, self.seed)?;
        let built = match self.data {
            Data::Source(source, cache) => {
                let definition = Definition {
                    env: self.env,
                    source,
                    gamma: self.gamma,
                };
                dataset(&env, &definition, cache)?
            }
            Data::File(path) => Arc::new(Built::new(data::read_file(
                path,
                env.n_states(),
                env.n_actions(),
            )?)),
        };
        let data = TrainData::compiled(
            env.clone(),
            built.dataset.clone(),
            built.compiled.clone(),
            self.gamma,
            self.seed,
        )
        .with_features(phi);
        let evaluator = Evaluator::new(env.clone(), self.gamma, data.compiled.clone())?;
        let dataset = data.dataset.clone();
        let learner = algo::build(self.algo, self.params, &data)?;
        Ok(Training {
            env,
            learner,
            evaluator,
            dataset,
        })
    }
}

/// A run's dataset (collected or read), deterministically. A file is
/// hashed as it is read ([`data::read_file_hashed`]) and refused unless
/// it holds what the run id hashed: a run never trains on contents its id
/// does not describe, and a file changed since the spec was read fails
/// the run, which trains once the spec is read again (the dashboard
/// rereads a spec when it is saved). Contents this process already read
/// under that hash are shared without reading the file again: they are
/// exactly what the id describes.
fn dataset(
    env: &TabularMdp,
    definition: &Definition,
    cache: Option<&DatasetCache>,
) -> Result<Arc<Built>> {
    let (source, gamma) = (definition.source, definition.gamma);
    let shape = (env.n_states(), env.n_actions());
    datasets::shared(definition, shape, cache, || match source {
        DatasetSource::Collect { policy, size, seed } => {
            data::collect(env, *policy, *size as usize, *seed, gamma)
        }
        DatasetSource::File { path, sha256 } => {
            let (data, read) = data::read_file_hashed(path, env.n_states(), env.n_actions())?;
            if &read != sha256 {
                return Err(Error::File {
                    path: path.clone(),
                    message: format!(
                        "changed since the spec was read (sha256 {read}, the run expects {sha256}); reload the spec (save it again) to train on the new contents"
                    ),
                });
            }
            Ok(data)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    const HEADER: &str = "episode,step,state,action,reward,next_state,terminated,truncated\n";

    /// The file changes after the spec was read and before the run reads
    /// it: the run fails, naming the file and the hash of what it read,
    /// and trains on nothing its id does not describe.
    #[test]
    fn a_dataset_file_edited_after_the_spec_was_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("f.toml");
        let csv = dir.path().join("d.csv");
        std::fs::write(&csv, format!("{HEADER}0,0,0,0,1,1,true,false\n")).unwrap();
        let text =
            "env = \"ImitationTrap-v0\"\ndataset = { file = \"d.csv\" }\n[[algo]]\nname = \"bc\"\n";
        let config = super::super::spec::parse(&spec, text)
            .unwrap()
            .runs
            .remove(0);
        let edited = format!("{HEADER}0,0,0,1,-10,1,true,false\n");
        std::fs::write(&csv, &edited).unwrap();
        let message = Setup::of(&config).build().err().unwrap().to_string();
        let now = crate::experiment::config::sha256_file(&csv).unwrap();
        assert!(
            message.contains("d.csv")
                && message.contains("changed since the spec was read")
                && message.contains(&format!("sha256 {now}")),
            "{message}"
        );
        // Read again, the spec names the new contents, and the run trains on them.
        let config = super::super::spec::parse(&spec, text)
            .unwrap()
            .runs
            .remove(0);
        let training = Setup::of(&config).build().unwrap();
        assert_eq!(training.dataset.action, [1]);
    }

    /// One read: the hash returned is of the very bytes parsed.
    #[test]
    fn a_dataset_is_hashed_as_it_is_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("d.csv");
        let rows = (0..50_000).fold(String::new(), |mut rows, i| {
            let _ = writeln!(rows, "{i},0,0,{},1,1,true,false", i % 2);
            rows
        });
        std::fs::write(&csv, format!("{HEADER}{rows}")).unwrap();
        let (data, sha) = data::read_file_hashed(&csv, 2, 2).unwrap();
        assert_eq!(data.len(), 50_000);
        assert_eq!(sha, crate::experiment::config::sha256_file(&csv).unwrap());
    }
}
