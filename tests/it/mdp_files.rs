//! Bring your own MDP: a file written by `scripts/export_mdp.py` from
//! Gymnasium's FrozenLake-v1 (tests/fixtures/mdp/FrozenLake-v1.json,
//! gymnasium 1.4.0) is exactly the built-in FrozenLake-v1.

use pessimist::mdp::{envs, solve};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/mdp/FrozenLake-v1.json"
);

#[test]
fn a_file_written_from_gymnasium_frozen_lake_is_the_builtin() {
    let file = envs::make(&format!("file:{FIXTURE}")).unwrap();
    let builtin = envs::make("FrozenLake-v1").unwrap();
    assert_eq!(file.n_states(), builtin.n_states());
    assert_eq!(file.n_actions(), builtin.n_actions());
    assert_eq!(file.initial(), builtin.initial());
    assert_eq!(file.time_limit(), builtin.time_limit());
    assert_eq!(file.table(), builtin.table());
    let gamma = 0.99;
    let (a, b) = (
        solve::optimal(&file, gamma).unwrap(),
        solve::optimal(&builtin, gamma).unwrap(),
    );
    assert_eq!(a.values.j, b.values.j);
    assert_eq!(a.policy, b.policy);
}

/// `env show --json` writes the same shape, so a built-in round-trips.
#[test]
fn env_show_json_is_an_mdp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taxi.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pessimist"))
        .args(["env", "show", "Taxi-v4", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&path, &out.stdout).unwrap();
    let file = envs::make(&format!("file:{}", path.display())).unwrap();
    let builtin = envs::make("Taxi-v4").unwrap();
    assert_eq!(file.table(), builtin.table());
    assert_eq!(file.initial(), builtin.initial());
    assert_eq!(file.time_limit(), builtin.time_limit());
}
