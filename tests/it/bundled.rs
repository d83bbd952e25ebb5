//! The bundled experiments: each one loads, the score table holds what
//! its header promises (every learning algorithm × five qualities × two
//! sizes × three environments × five seeds), and the linear figure's spec still shows
//! what its comments say, headless, on its cheapest runs.

use crate::support::cli::pessimist;
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
    let algos: BTreeSet<&str> = spec.runs.iter().map(|r| &*r.algo).collect();
    let learners: BTreeSet<&str> = pessimist::algo::names()
        .into_iter()
        .filter(|n| *n != "fqe")
        .collect();
    assert_eq!(
        algos, learners,
        "fqe evaluates a policy; every other algorithm learns one"
    );
    let envs: BTreeSet<&str> = spec.runs.iter().map(|r| &*r.env).collect();
    assert_eq!(
        envs,
        BTreeSet::from(["CliffWalkingSlippery-v1", "FrozenLake8x8-v1", "Taxi-v4"])
    );
    let sizes: BTreeSet<u64> = spec.runs.iter().filter_map(|r| r.dataset.size()).collect();
    assert_eq!(sizes, BTreeSet::from([10_000, 100_000]));
    assert_eq!(spec.runs.len(), learners.len() * 5 * 2 * 3 * 5);
}

/// `why_offline_rl_is_hard_linear.toml`: least-squares FQI with per-action
/// RBF blocks on medium data of four sizes, FrozenLake8x8 and Taxi. Its
/// comments' claims, checked on its cheapest runs (seed 0, 60 of its 300
/// iterations, through `data collect` and `train` as a user would): q_est
/// climbs past 1e20 (FrozenLake 1k) and 1e10 (Taxi 10k) while J(π) stays
/// low, and Taxi's 1k run, the one said to stay bounded, does.
#[test]
fn the_linear_figure_climbs_where_its_spec_says() {
    let spec = spec::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("experiments/why_offline_rl_is_hard_linear.toml"),
    )
    .unwrap();
    let envs: BTreeSet<&str> = spec.runs.iter().map(|r| &*r.env).collect();
    assert_eq!(envs, BTreeSet::from(["FrozenLake8x8-v1", "Taxi-v4"]));
    let sizes: BTreeSet<u64> = spec.runs.iter().filter_map(|r| r.dataset.size()).collect();
    assert_eq!(sizes, BTreeSet::from([1_000, 10_000, 100_000, 1_000_000]));
    let dir = tempfile::tempdir().unwrap();
    // (env, size, the least q_est it must reach, or at most 0 when bounded)
    for (env, size, climbs) in [
        ("FrozenLake8x8-v1", 1_000, Some(1e20)),
        ("Taxi-v4", 10_000, Some(1e10)),
        ("Taxi-v4", 1_000, None),
    ] {
        let run = spec
            .runs
            .iter()
            .find(|r| &*r.env == env && r.seed == 0 && r.dataset.size() == Some(size))
            .unwrap();
        assert_eq!(
            run.features.label(),
            "rbf actions=blocks centres=4 width=0.25"
        );
        let data = dir.path().join(format!("{env}-{size}.csv"));
        let data = data.to_str().unwrap();
        let size = size.to_string();
        pessimist(&[
            "data", "collect", "--env", env, "--policy", "medium", "--size", &size, "--seed", "0",
            "-o", data,
        ]);
        let label = run.features.label();
        let mut args = vec!["train", "--env", env, "--algo", "fqi", "--data", data];
        let (kind, keys) = label.split_once(' ').unwrap();
        let kind = format!("kind={kind}");
        args.extend(["--features", &kind]);
        for key in keys.split(' ') {
            args.extend(["--features", key]);
        }
        args.extend(["--iterations", "60", "--json"]);
        let out: serde_json::Value = serde_json::from_slice(&pessimist(&args).stdout).unwrap();
        let (q, j) = (
            out["q_est"].as_f64().unwrap(),
            out["true_return"].as_f64().unwrap(),
        );
        match climbs {
            Some(least) => assert!(q > least, "{env} {size}: q_est {q}"),
            None => assert!((-10.0..=0.0).contains(&q), "{env} {size}: q_est {q}"),
        }
        let low = if env == "Taxi-v4" { -99.0 } else { 0.01 };
        assert!(j <= low, "{env} {size}: J {j}");
    }
}
