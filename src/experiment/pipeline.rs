//! Builds what a run trains and is measured with, in one place for every
//! caller (the store's runner and `pessimist train`): the environment, its
//! dataset, the dataset compiled once and shared by the runs that use it
//! ([`datasets`], [`TrainData`]), the learner on it,
//! and the evaluator beside it: exact on a tabular environment,
//! Monte-Carlo on a continuous one ([`Judge`]), the one place the two
//! part ways.

use super::config::{DatasetSource, RunConfig};
use super::dataset_cache::DatasetCache;
use super::datasets::{self, Built, Definition};
use crate::algo::{self, Algorithm, Params, TrainData};
use crate::data::{self, Dataset, Samples};
use crate::env::{self, Description};
use crate::error::{Error, Result};
use crate::eval::landscape::Survey;
use crate::eval::{Evaluator, Judge, MonteCarlo};
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
    /// Monte-Carlo episodes an eval point on a continuous environment
    /// (`None`: [`DEFAULT_ROLLOUTS`]); refused on a tabular one.
    pub rollouts: Option<u64>,
}

/// Monte-Carlo episodes an eval point when a spec does not say: the
/// standard error of MountainCar's and CartPole's returns is then a few
/// percent of the expert's, at a few milliseconds an eval point
/// (docs/architecture.md, "Evaluation").
pub const DEFAULT_ROLLOUTS: u64 = 100;

/// A learner ready to step, and what measures it.
pub struct Training {
    pub learner: Box<dyn Algorithm>,
    pub judge: Judge,
    /// The transitions the learner trains on (for their statistics): the
    /// sample-based dataset on a continuous environment.
    pub dataset: Arc<Dataset>,
    /// On a continuous environment, what draws the run's landscape at each
    /// eval point (the judge counts its visits).
    pub survey: Option<Survey>,
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
            rollouts: config.rollouts,
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
    /// in `--set` should not wait for a large CSV), then builds the rest:
    /// the exact evaluator's data on a tabular environment, the
    /// sample-based form and Monte-Carlo truth on a continuous one.
    pub fn build(&self) -> Result<Training> {
        solve::check_gamma(self.gamma)?;
        algo::resolve_params(self.algo, self.params)?;
        let (data, judge, survey) = if let Some(description) = env::continuous(self.env) {
            self.continuous(description)?
        } else {
            let (data, judge) = self.tabular()?;
            (data, judge, None)
        };
        let dataset = data.dataset.clone();
        let learner = algo::build(self.algo, self.params, &data)?;
        Ok(Training {
            learner,
            judge,
            dataset,
            survey,
        })
    }

    fn tabular(&self) -> Result<(TrainData, Judge)> {
        let env = envs::shared(self.env)?;
        if let Some(rollouts) = self.rollouts {
            return Err(Error::Invalid(format!(
                "rollouts = {rollouts}: {} is tabular, its truth is exact; `rollouts` applies to {}",
                self.env,
                continuous_ids()
            )));
        }
        let phi = self.features.build(&env, self.seed)?;
        let built = match self.data {
            Data::Source(source, cache) => {
                self.shared(source, (env.n_states(), env.n_actions()), cache, || {
                    table(&env, source, self.gamma)
                })?
            }
            Data::File(path) => Arc::new(Built::new(data::read_file(
                path,
                env.n_states(),
                env.n_actions(),
            )?)),
        };
        let Built::Table { dataset, compiled } = &*built else {
            unreachable!("a tabular environment's definition builds a table")
        };
        let data = TrainData::compiled(
            env.clone(),
            dataset.clone(),
            compiled.clone(),
            self.gamma,
            self.seed,
        )
        .with_features(phi);
        let judge = Judge::Exact(Evaluator::new(env, self.gamma, data.compiled.clone())?);
        Ok((data, judge))
    }

    fn continuous(&self, d: &'static Description) -> Result<(TrainData, Judge, Option<Survey>)> {
        let features = self.features.observations(d)?;
        let shape = (d.observation.len(), d.actions.len());
        let rollouts = self.rollouts.unwrap_or(DEFAULT_ROLLOUTS);
        let built = match self.data {
            // Kept in this process only (see [`Built::Observations`]).
            Data::Source(source, _) => {
                self.shared(source, shape, None, || observations(d, source))?
            }
            Data::File(path) => Arc::new(Built::Observations(Arc::new(
                data::observed::read_obs_file(path, shape.0, shape.1)?,
            ))),
        };
        let Built::Observations(observed) = &*built else {
            unreachable!("a continuous environment's definition builds observations")
        };
        let transitions = observed.transitions();
        let samples = Samples::new(&transitions, shape.1)?;
        let phi = features.phi(samples.points.view())?;
        let data = TrainData::samples(samples, phi, self.gamma, self.seed)?;
        let rollouts = usize::try_from(rollouts).unwrap_or(usize::MAX);
        let survey = Survey::new(d, &features, transitions.obs)?;
        let mut judge = MonteCarlo::new(d, features, &data, rollouts)?;
        judge.record_visits(survey.visits());
        Ok((data, Judge::MonteCarlo(Box::new(judge)), Some(survey)))
    }

    /// The dataset of `source` on this environment, built once per process
    /// ([`datasets::shared`]).
    fn shared(
        &self,
        source: &DatasetSource,
        shape: (usize, usize),
        cache: Option<&DatasetCache>,
        build: impl FnOnce() -> Result<Built>,
    ) -> Result<Arc<Built>> {
        let definition = Definition {
            env: self.env,
            source,
            gamma: self.gamma,
        };
        datasets::shared(&definition, shape, cache, build)
    }
}

/// The continuous environments' ids, for errors.
fn continuous_ids() -> String {
    env::CONTINUOUS.map(|d| d.id).join(", ")
}

/// A tabular run's dataset (collected or read), deterministically. A file
/// is hashed as it is read ([`data::read_file_hashed`]) and refused unless
/// it holds what the run id hashed: a run never trains on contents its id
/// does not describe, and a file changed since the spec was read fails
/// the run, which trains once the spec is read again (the dashboard
/// rereads a spec when it is saved). Contents this process already read
/// under that hash are shared without reading the file again: they are
/// exactly what the id describes.
fn table(env: &TabularMdp, source: &DatasetSource, gamma: f64) -> Result<Built> {
    let dataset = match source {
        DatasetSource::Collect { policy, size, seed } => {
            data::collect(env, *policy, *size as usize, *seed, gamma)?
        }
        DatasetSource::File { path, sha256 } => {
            let (data, read) = data::read_file_hashed(path, env.n_states(), env.n_actions())?;
            unchanged(path, &read, sha256)?;
            data
        }
    };
    Ok(Built::new(dataset))
}

/// A continuous run's observations, as [`table`] builds a tabular run's.
fn observations(d: &Description, source: &DatasetSource) -> Result<Built> {
    let observed = match source {
        DatasetSource::Collect { policy, size, seed } => {
            data::observed::collect_id(d.id, *policy, *size as usize, *seed)
                .expect("a continuous environment")?
                .0
        }
        DatasetSource::File { path, sha256 } => {
            let (data, read) =
                data::observed::read_obs_file_hashed(path, d.observation.len(), d.actions.len())?;
            unchanged(path, &read, sha256)?;
            data
        }
    };
    Ok(Built::Observations(Arc::new(observed)))
}

/// An error unless the file read (hash `read`) is what the run id hashed.
fn unchanged(path: &Path, read: &str, sha256: &str) -> Result<()> {
    if read == sha256 {
        return Ok(());
    }
    Err(Error::File {
        path: path.to_path_buf(),
        message: format!(
            "changed since the spec was read (sha256 {read}, the run expects {sha256}); reload the spec (save it again) to train on the new contents"
        ),
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
