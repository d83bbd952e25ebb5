//! The bundled experiments: each one loads, and the score table holds what
//! its header promises (every learning algorithm × five qualities × three
//! environments × five seeds).

use pessimist::experiment::spec;
use std::collections::BTreeSet;
use std::path::Path;

fn bundled() -> Vec<std::path::PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/experiments"));
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_bundled_experiment_loads() {
    let paths = bundled();
    assert!(paths.len() >= 6, "{paths:?}");
    for path in paths {
        let spec = spec::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!spec.runs.is_empty(), "{}: no runs", path.display());
    }
}

#[test]
fn the_score_table_covers_every_learner_quality_environment_and_seed() {
    let spec =
        spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/score_table.toml"))
            .unwrap();
    let algos: BTreeSet<&str> = spec.runs.iter().map(|r| r.algo.as_str()).collect();
    let learners: BTreeSet<&str> = pessimist::algo::names()
        .into_iter()
        .filter(|n| *n != "fqe")
        .collect();
    assert_eq!(
        algos, learners,
        "fqe evaluates a policy; every other algorithm learns one"
    );
    let envs: BTreeSet<&str> = spec.runs.iter().map(|r| r.env.as_str()).collect();
    assert_eq!(
        envs,
        BTreeSet::from(["CliffWalkingSlippery-v1", "FrozenLake8x8-v1", "Taxi-v4"])
    );
    assert_eq!(spec.runs.len(), learners.len() * 5 * 3 * 5);
}
