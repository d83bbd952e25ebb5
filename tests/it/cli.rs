//! The command line as scripts use it: flags, JSON shapes, exit codes and
//! error messages (docs/cli.md; docs/architecture.md "Command line").

use crate::support::cli::{snapshot, tree};
use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn pessimist() -> Command {
    Command::cargo_bin("pessimist").unwrap()
}

fn json_of(args: &[&str]) -> Value {
    json_from(pessimist().args(args))
}

/// The JSON a successful command prints.
fn json_from(command: &mut Command) -> Value {
    let out = command.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{command:?}: not JSON ({e})"))
}

/// `pessimist train --env ENV --algo ALGO --data DATA`.
fn train(env: &str, algo: &str, data: &str) -> Command {
    let mut command = pessimist();
    command.args(["train", "--env", env, "--algo", algo, "--data", data]);
    command
}

/// `pessimist run SPECS --runs STORE`.
fn run_into(
    store: impl AsRef<std::ffi::OsStr>,
    specs: impl IntoIterator<Item = impl AsRef<std::ffi::OsStr>>,
) -> Command {
    let mut command = pessimist();
    command.arg("run").args(specs).arg("--runs").arg(store);
    command
}

/// Runs `command`, which must fail and say each of `says` on stderr;
/// returns its stderr.
fn fails_saying(command: &mut Command, says: &[&str]) -> String {
    let out = command.assert().failure().get_output().stderr.clone();
    let stderr = String::from_utf8_lossy(&out).into_owned();
    for text in says {
        assert!(stderr.contains(text), "stderr lacks `{text}`:\n{stderr}");
    }
    stderr
}

fn collect(dir: &Path, env: &str, policy: &str, size: usize, seed: u64) -> String {
    collect_as(dir, env, policy, size, seed, "csv")
}

/// [`collect`] to a file of the format `extension` names (csv, npz).
fn collect_as(
    dir: &Path,
    env: &str,
    policy: &str,
    size: usize,
    seed: u64,
    extension: &str,
) -> String {
    let path = dir.join(format!("{env}-{policy}-{size}-{seed}.{extension}"));
    let path = path.to_str().unwrap().to_string();
    pessimist()
        .args(["data", "collect", "--env", env, "--policy", policy])
        .args([
            "--size",
            &size.to_string(),
            "--seed",
            &seed.to_string(),
            "-o",
            &path,
        ])
        .assert()
        .success();
    path
}

#[test]
fn env_list_names_every_gymnasium_and_lecture_environment() {
    let out = pessimist().args(["env", "list"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for id in [
        "FrozenLake-v1",
        "FrozenLake8x8-v1",
        "CliffWalking-v1",
        "CliffWalkingSlippery-v1",
        "Taxi-v4",
        "ThreeState-v0",
        "ImitationTrap-v0",
        "Bandit-v0",
        "Chain-v",
    ] {
        assert!(text.contains(id), "`env list` lacks {id}:\n{text}");
    }
}

#[test]
fn env_show_json_has_the_documented_shape() {
    let v = json_of(&["env", "show", "FrozenLake-v1", "--json"]);
    assert_eq!(v["id"], "FrozenLake-v1");
    assert_eq!(v["n_states"], 16);
    assert_eq!(v["n_actions"], 4);
    let d0: Vec<f64> = serde_json::from_value(v["initial_state_distribution"].clone()).unwrap();
    assert_eq!(d0.len(), 16);
    assert_eq!(d0[0], 1.0);
    // Slippery: each move from the start lists three outcomes of 1/3.
    let p = &v["P"][0][1];
    assert_eq!(p.as_array().unwrap().len(), 3);
    for outcome in p.as_array().unwrap() {
        let o = outcome.as_array().unwrap();
        assert_eq!(o.len(), 4, "[prob, next_state, reward, terminated]");
        assert!((o[0].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!(o[3].is_boolean());
    }
}

#[test]
fn env_solve_json_gives_the_known_optimum() {
    let v = json_of(&["env", "solve", "ThreeState-v0", "--gamma", "0.9", "--json"]);
    assert!((v["J"].as_f64().unwrap() - 0.9).abs() < 1e-12);
    assert_eq!(v["policy"][0], serde_json::json!([1.0, 0.0]));
    assert!((v["Q"][0][1].as_f64().unwrap() + 9.0).abs() < 1e-12);
    assert_eq!(v["V"].as_array().unwrap().len(), 5);
}

#[test]
fn env_rollout_follows_the_given_actions() {
    let v = json_of(&[
        "env",
        "rollout",
        "ThreeState-v0",
        "--start",
        "0",
        "--actions",
        "1,0",
        "--json",
    ]);
    assert_eq!(v["observations"], serde_json::json!([0, 2, 4]));
    assert_eq!(v["rewards"], serde_json::json!([0.0, -10.0]));
    assert_eq!(v["terminated"], true);
    assert_eq!(v["truncated"], false);
    fails_saying(
        pessimist().args([
            "env",
            "rollout",
            "ThreeState-v0",
            "--start",
            "0",
            "--actions",
            "1,0,0",
        ]),
        &["episode ended"],
    );
}

#[test]
fn env_rollout_truncates_at_the_time_limit() {
    let v = json_of(&[
        "env",
        "rollout",
        "CliffWalking-v1",
        "--start",
        "36",
        "--actions",
        "0,0,0",
        "--json",
    ]);
    assert_eq!(v["observations"], serde_json::json!([36, 24, 12, 0]));
    assert_eq!(v["terminated"], false);
    // Chain-v5 allows 4·5 = 20 steps; right then left forever never ends
    // the episode, so the time limit truncates it.
    let actions = ["1,0"; 10].join(",");
    let v = json_of(&[
        "env",
        "rollout",
        "Chain-v5",
        "--start",
        "0",
        "--actions",
        &actions,
        "--json",
    ]);
    assert_eq!(v["rewards"].as_array().unwrap().len(), 20);
    assert_eq!(
        (v["truncated"].as_bool(), v["terminated"].as_bool()),
        (Some(true), Some(false))
    );
    // As Gymnasium's TimeLimit: a step that reaches the limit is truncated
    // even if it also terminates (ImitationTrap's limit is its one step).
    let v = json_of(&[
        "env",
        "rollout",
        "ImitationTrap-v0",
        "--start",
        "0",
        "--actions",
        "0",
        "--json",
    ]);
    assert_eq!(
        (v["truncated"].as_bool(), v["terminated"].as_bool()),
        (Some(true), Some(true))
    );
    let too_many = format!("{actions},1");
    fails_saying(
        pessimist().args([
            "env",
            "rollout",
            "Chain-v5",
            "--start",
            "0",
            "--actions",
            &too_many,
        ]),
        &["20"],
    );
}

#[test]
fn collect_train_eval_round_trip_on_the_imitation_trap() {
    let dir = tempfile::tempdir().unwrap();
    let csv = collect(dir.path(), "ImitationTrap-v0", "behavior", 2000, 7);
    let header = std::fs::read_to_string(&csv).unwrap();
    assert!(
        header.starts_with("episode,step,state,action,reward,next_state,terminated,truncated\n")
    );

    // BC copies the 50/50 mix: J near -4.5. FQI picks a0: J = 1.
    let bc = json_from(train("ImitationTrap-v0", "bc", &csv).arg("--json"));
    let j_bc = bc["true_return"].as_f64().unwrap();
    assert!(
        (j_bc + 4.5).abs() < 0.6,
        "BC's return {j_bc} is not the behaviour's mix"
    );
    let policy_path = dir.path().join("fqi.json");
    let fqi = json_from(
        train("ImitationTrap-v0", "fqi", &csv)
            .arg("--json")
            .arg("--policy-out")
            .arg(&policy_path),
    );
    assert!((fqi["true_return"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert!((fqi["normalized_score"].as_f64().unwrap() - 100.0).abs() < 1e-9);
    for key in [
        "policy",
        "q",
        "q_est",
        "true_return",
        "start_coverage",
        "q_est_covered",
        "true_return_covered",
        "normalized_score",
        "iterations",
        "seconds",
    ] {
        assert!(!fqi[key].is_null(), "train --json lacks {key}");
    }
    // The written policy evaluates to the same return.
    let e = json_of(&[
        "eval",
        "--env",
        "ImitationTrap-v0",
        "--policy",
        policy_path.to_str().unwrap(),
        "--gamma",
        "0.99",
        "--json",
    ]);
    assert!((e["true_return"].as_f64().unwrap() - 1.0).abs() < 1e-12);
}

/// `data collect -o x.npz` reads back: `train` on it gives what `train` on
/// the same data as CSV gives, to the last bit.
#[test]
fn an_npz_dataset_trains_as_its_csv_does() {
    let dir = tempfile::tempdir().unwrap();
    let (env, policy, size, seed) = ("FrozenLake-v1", "medium", 3000, 4);
    let csv = collect_as(dir.path(), env, policy, size, seed, "csv");
    let npz = collect_as(dir.path(), env, policy, size, seed, "npz");
    for algo in ["fqi", "cql"] {
        let trained = |data: &str| {
            let mut out = json_from(train(env, algo, data).arg("--json"));
            out["seconds"] = Value::Null; // the clock's, not the data's
            out
        };
        assert_eq!(trained(&npz), trained(&csv), "{algo}");
    }
}

/// `train --json` gives the start coverage and the covered metrics,
/// checked against the CSV it read and the exact V^π of the policy it
/// printed: 300 random Taxi transitions act in few of the 300 start states.
#[test]
fn train_json_reports_start_coverage_and_the_covered_metrics() {
    use pessimist::mdp::{envs, solve};
    let dir = tempfile::tempdir().unwrap();
    let csv = collect(dir.path(), "Taxi-v4", "random", 300, 0);
    let out = json_from(train("Taxi-v4", "fqi", &csv).args(["--iterations", "50", "--json"]));
    let mdp = envs::make("Taxi-v4").unwrap();
    let data = pessimist::data::read_csv(Path::new(&csv), mdp.n_states(), mdp.n_actions()).unwrap();
    let d0 = mdp.initial();
    let mut covered: Vec<usize> = data.state.iter().map(|&s| s as usize).collect();
    covered.sort_unstable();
    covered.dedup();
    covered.retain(|&s| d0[s] > 0.0);
    let mass: f64 = covered.iter().map(|&s| d0[s]).sum();
    assert!(0.0 < mass && mass < 0.5, "{mass}");
    let number = |key: &str| out[key].as_f64().unwrap_or_else(|| panic!("no {key}"));
    let close = |got: f64, want: f64| (got - want).abs() <= 1e-9 * (1.0 + want.abs());
    assert!(close(number("start_coverage"), mass), "{mass}");
    let policy = ndarray::Array2::from_shape_fn((mdp.n_states(), mdp.n_actions()), |(s, a)| {
        out["policy"][s][a].as_f64().unwrap()
    });
    let v = solve::evaluate_policy(&mdp, &policy, 0.99).unwrap().v;
    let j: f64 = covered.iter().map(|&s| d0[s] * v[s]).sum::<f64>() / mass;
    assert!(close(number("true_return_covered"), j), "{j}");
    // fqi leaves the states it never saw at 0: all of q_est is theirs.
    assert!(close(number("q_est"), mass * number("q_est_covered")));
}

/// Medium data is narrow (one noisy policy scoring ~31): fqi still learns
/// far better than the behaviour, though not the optimum.
#[test]
fn fqi_on_a_medium_frozenlake8x8_dataset_scores_far_above_medium() {
    let dir = tempfile::tempdir().unwrap();
    let csv = collect(dir.path(), "FrozenLake8x8-v1", "medium", 100_000, 0);
    let v = json_from(train("FrozenLake8x8-v1", "fqi", &csv).arg("--json"));
    let score = v["normalized_score"].as_f64().unwrap();
    assert!(score >= 75.0, "normalized score {score}");
}

#[test]
fn bad_input_gets_an_error_that_says_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "episode,step,state,action,reward,next_state,terminated,truncated\n\
         0,0,0,1,0,2,false,false\n\
         0,1,2,zero,-10,4,true,false\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    fails_saying(
        &mut train("ThreeState-v0", "fqi", bad),
        &["row 2", "action"],
    );

    let out_of_range = dir.path().join("range.csv");
    std::fs::write(
        &out_of_range,
        "episode,step,state,action,reward,next_state,terminated,truncated\n0,0,9,0,0,1,false,false\n",
    )
    .unwrap();
    fails_saying(
        &mut train("ThreeState-v0", "fqi", out_of_range.to_str().unwrap()),
        &["row 1", "0..=4"],
    );
    fails_saying(
        pessimist().args(["env", "show", "FrozenLake-v2"]),
        &["did you mean `FrozenLake-v1`", "valid choices"],
    );

    let csv = collect(dir.path(), "ThreeState-v0", "behavior", 100, 0);
    fails_saying(
        &mut train("ThreeState-v0", "cql2", &csv),
        &["unknown algorithm `cql2`", "fqi"],
    );
    fails_saying(
        train("ThreeState-v0", "fqi", &csv).args(["--set", "q_inti=random"]),
        &["`q_inti`", "q_init"],
    );
    fails_saying(
        pessimist()
            .args([
                "data",
                "collect",
                "--env",
                "ThreeState-v0",
                "--policy",
                "meduim",
                "--size",
                "10",
                "-o",
            ])
            .arg(dir.path().join("x.csv")),
        &["did you mean `medium`"],
    );

    // Sizes past the 32-bit counts, and unknown output formats, are
    // rejected before any collection.
    let collect_args = [
        "data",
        "collect",
        "--env",
        "Taxi-v4",
        "--policy",
        "medium-replay",
    ];
    let huge = fails_saying(
        pessimist()
            .args(collect_args)
            .args(["--size", "18446744073709551615", "-o"])
            .arg(dir.path().join("huge.csv")),
        &["at most 4294967295 transitions"],
    );
    assert!(!huge.contains("panicked"), "{huge}");
    fails_saying(
        pessimist()
            .args(collect_args)
            .args(["--size", "4000000000", "-o"])
            .arg(dir.path().join("x.txt"))
            // A hang guard only (collecting 4e9 transitions first would
            // take minutes): generous, so a busy machine cannot trip it.
            .timeout(std::time::Duration::from_secs(120)),
        &["x.txt: unknown output format; valid extensions: .csv, .npz"],
    );

    let header_only = dir.path().join("empty.csv");
    std::fs::write(
        &header_only,
        "episode,step,state,action,reward,next_state,terminated,truncated\n",
    )
    .unwrap();
    fails_saying(
        &mut train("ThreeState-v0", "fqi", header_only.to_str().unwrap()),
        &["empty.csv: no transitions"],
    );
    fails_saying(
        train("ThreeState-v0", "bc", &csv).args(["--set", "alpha=1"]),
        &["bc: unknown hyper-parameter `alpha`; bc takes no hyper-parameters"],
    );
}

/// A closed pipe (`pessimist ... | head -c 100`) ends the process quietly
/// instead of a panic with a backtrace. The pipe's reading end is closed
/// before the process starts, so its first write fails, however fast it is.
#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pessimist"))
        .args(["env", "show", "Taxi-v4", "--json"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.status.success());
}

#[test]
fn eval_rejects_a_policy_of_the_wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    let eval_fails_with = |content: &str, message: &str| {
        std::fs::write(&path, content).unwrap();
        fails_saying(
            pessimist()
                .args([
                    "eval",
                    "--env",
                    "ThreeState-v0",
                    "--gamma",
                    "0.9",
                    "--policy",
                ])
                .arg(&path),
            &[message],
        );
    };
    eval_fails_with(
        r#"{"policy": [[1.0, 0.0], [0.5, 0.5]]}"#,
        "5 states x 2 actions",
    );
    eval_fails_with("{\"policy\": [[1.0, 0.0],\n oops]}", "p.json:2:");
}

/// A JSON matrix (`[[...] per row]`) as an array.
fn matrix(v: &Value) -> ndarray::Array2<f64> {
    let rows = v.as_array().unwrap();
    let width = rows[0].as_array().unwrap().len();
    ndarray::Array2::from_shape_fn((rows.len(), width), |(i, j)| rows[i][j].as_f64().unwrap())
}

/// `pessimist eval --env ENV --gamma 0.99 --q Q --json` and `more`.
fn eval_q(env: &str, q: &Path, more: &[&str]) -> Value {
    json_from(
        pessimist()
            .args(["eval", "--env", env, "--gamma", "0.99", "--json", "--q"])
            .arg(q)
            .args(more),
    )
}

/// `eval --q` on Q^π itself (what `eval --policy` prints) finds no gap,
/// and on Q^π + 7.5 a gap of 7.5 at the start and in every state; q_est is
/// checked against Σ_s d0(s) Σ_a π(a|s) Q(s,a) worked out here, and a
/// float32 copy of the table reads as the same numbers to float32 precision.
#[test]
fn eval_q_gives_the_gap_of_an_exact_and_of_a_shifted_q() {
    use pessimist::mdp::envs;
    let dir = tempfile::tempdir().unwrap();
    let env = "FrozenLake-v1";
    let mdp = envs::make(env).unwrap();
    // Stochastic on purpose: 0.7 on action s mod 4, 0.1 on each other.
    let pi = ndarray::Array2::from_shape_fn((16, 4), |(s, a)| if a == s % 4 { 0.7 } else { 0.1 });
    let policy = dir.path().join("policy.json");
    let policy_json =
        serde_json::json!({ "policy": pi.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>() });
    std::fs::write(&policy, policy_json.to_string()).unwrap();
    let policy = policy.to_str().unwrap();
    let exact = json_of(&[
        "eval", "--env", env, "--gamma", "0.99", "--json", "--policy", policy,
    ]);
    let q_pi = matrix(&exact["Q"]);
    let j = exact["true_return"].as_f64().unwrap();
    let start_value = |q: &ndarray::Array2<f64>| -> f64 {
        (0..16)
            .map(|s| mdp.initial()[s] * (0..4).map(|a| pi[[s, a]] * q[[s, a]]).sum::<f64>())
            .sum()
    };
    let write = |name: &str, q: &ndarray::Array2<f64>| {
        let path = dir.path().join(name);
        ndarray_npy::write_npy(&path, q).unwrap();
        path
    };
    for (shift, name) in [(0.0, "q.npy"), (7.5, "shifted.npy")] {
        let q = &q_pi + shift;
        let out = eval_q(env, &write(name, &q), &["--policy", policy]);
        let number = |key: &str| out[key].as_f64().unwrap_or_else(|| panic!("no {key}"));
        assert!((number("q_est") - start_value(&q)).abs() < 1e-9, "{out}");
        assert!((number("q_est") - (j + shift)).abs() < 1e-9, "{out}");
        assert!(
            (number("gap") - shift).abs() < 1e-9,
            "{name}: gap {}",
            number("gap")
        );
        assert_eq!(number("true_return"), j);
        let by_state = out["gap_by_state"].as_array().unwrap();
        assert_eq!(by_state.len(), 16);
        for (s, gap) in by_state.iter().enumerate() {
            let gap = gap.as_f64().unwrap();
            assert!((gap - shift).abs() < 1e-9, "{name}: state {s} gap {gap}");
        }
        for key in [
            "normalized_score",
            "episode_return",
            "V",
            "Q",
            "optimal_return",
            "policy",
        ] {
            assert!(!out[key].is_null(), "eval --q --json lacks {key}");
        }
        assert_eq!(out["Q"], exact["Q"], "Q is Q^π, not the table read");
    }
    let single = write("q32.npy", &q_pi.mapv(|x| f64::from(x as f32)));
    let narrow = dir.path().join("narrow.npy");
    ndarray_npy::write_npy(&narrow, &q_pi.mapv(|x| x as f32)).unwrap();
    let (wide, narrow) = (
        eval_q(env, &single, &["--policy", policy]),
        eval_q(env, &narrow, &["--policy", policy]),
    );
    assert_eq!(wide["q_est"], narrow["q_est"]);
    assert!(narrow["gap"].as_f64().unwrap().abs() < 1e-6);
}

/// The greedy policy of Q* (from `env solve`) is optimal: `eval --q`
/// gives solve's J, its policy (ties to the lowest action, as solve's),
/// and, with or without `--greedy`, the same numbers. CliffWalking's
/// optimal policy is also the best within the time limit (score 100);
/// FrozenLake's discounted optimum is not quite (its score is solve's
/// policy's, below 100).
#[test]
fn eval_greedy_on_q_star_gets_the_optimum() {
    let dir = tempfile::tempdir().unwrap();
    for (env, score) in [("CliffWalking-v1", Some(100.0)), ("FrozenLake-v1", None)] {
        let solved = json_of(&["env", "solve", env, "--gamma", "0.99", "--json"]);
        let q = dir.path().join(format!("{env}.npy"));
        ndarray_npy::write_npy(&q, &matrix(&solved["Q"])).unwrap();
        let greedy = eval_q(env, &q, &["--greedy"]);
        assert_eq!(eval_q(env, &q, &[]), greedy, "greedy is the default");
        let j = solved["J"].as_f64().unwrap();
        assert!(
            (greedy["true_return"].as_f64().unwrap() - j).abs() < 1e-12,
            "{env}"
        );
        assert!(greedy["gap"].as_f64().unwrap().abs() < 1e-9, "{env}");
        assert_eq!(greedy["policy"], solved["policy"], "{env}");
        let got = greedy["normalized_score"].as_f64().unwrap();
        let want = score.unwrap_or_else(|| {
            let policy = dir.path().join("solved.json");
            let text = serde_json::json!({ "policy": solved["policy"] }).to_string();
            std::fs::write(&policy, text).unwrap();
            let by_policy = json_of(&[
                "eval",
                "--env",
                env,
                "--gamma",
                "0.99",
                "--json",
                "--policy",
                policy.to_str().unwrap(),
            ]);
            by_policy["normalized_score"].as_f64().unwrap()
        });
        assert!(
            (got - want).abs() < 1e-9 && got > 99.0,
            "{env}: score {got}"
        );
    }
}

/// A Q table `eval --q` cannot use is refused, naming the file and what
/// was expected: the wrong shape (both shapes), a NaN, integers, and a
/// policy that is no distribution beside it.
#[test]
fn eval_q_refuses_a_table_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let eval = |q: &Path| {
        let mut command = pessimist();
        command
            .args(["eval", "--env", "FrozenLake-v1", "--gamma", "0.99", "--q"])
            .arg(q);
        command
    };
    let flat = dir.path().join("flat.npy");
    ndarray_npy::write_npy(&flat, &ndarray::Array1::<f64>::zeros(64)).unwrap();
    fails_saying(&mut eval(&flat), &["flat.npy", "(64,)", "(16, 4)"]);
    let wide = dir.path().join("wide.npy");
    ndarray_npy::write_npy(&wide, &ndarray::Array2::<f64>::zeros((4, 16))).unwrap();
    fails_saying(&mut eval(&wide), &["wide.npy", "(4, 16)", "(16, 4)"]);
    let mut q = ndarray::Array2::<f64>::zeros((16, 4));
    q[[3, 1]] = f64::NAN;
    let nan = dir.path().join("nan.npy");
    ndarray_npy::write_npy(&nan, &q).unwrap();
    fails_saying(&mut eval(&nan), &["nan.npy", "Q[3, 1] is NaN"]);
    let ints = dir.path().join("ints.npy");
    ndarray_npy::write_npy(&ints, &ndarray::Array2::<i64>::zeros((16, 4))).unwrap();
    fails_saying(
        &mut eval(&ints),
        &["ints.npy", "'<i8'", "float64", "float32"],
    );
    let good = dir.path().join("good.npy");
    ndarray_npy::write_npy(&good, &ndarray::Array2::<f64>::zeros((16, 4))).unwrap();
    let policy = dir.path().join("p.json");
    std::fs::write(
        &policy,
        serde_json::json!({ "policy": vec![[0.5, 0.6, 0.0, 0.0]; 16] }).to_string(),
    )
    .unwrap();
    fails_saying(
        eval(&good).arg("--policy").arg(&policy),
        &["p.json", "sums to 1.1"],
    );
    std::fs::write(
        &policy,
        serde_json::json!({ "policy": vec![[1.0, 0.0]; 16] }).to_string(),
    )
    .unwrap();
    fails_saying(
        eval(&good).arg("--policy").arg(&policy),
        &["p.json", "16 states x 4 actions"],
    );
    fails_saying(
        pessimist().args([
            "eval",
            "--env",
            "FrozenLake-v1",
            "--gamma",
            "0.99",
            "--greedy",
        ]),
        &["--q"],
    );
}

/// `data collect` says where every quality's data came from, and its statistics.
#[test]
fn data_collect_reports_the_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let report = |policy: &str| {
        let out = pessimist()
            .args([
                "data",
                "collect",
                "--env",
                "FrozenLake-v1",
                "--policy",
                policy,
            ])
            .args(["--size", "20000", "-o"])
            .arg(dir.path().join(format!("{policy}.csv")))
            .assert()
            .success()
            .get_output()
            .stderr
            .clone();
        String::from_utf8(out).unwrap()
    };
    let medium = report("medium");
    assert!(
        medium.contains("behaviour: score ")
            && medium.contains("epsilon 0.05")
            && medium.contains("reached the target"),
        "{medium}"
    );
    let expert = report("expert");
    assert!(expert.contains("behaviour: score 72.4 "), "{expert}");
    let both = report("medium-expert");
    assert!(
        both.contains("medium half: score") && both.contains("expert half: score"),
        "{both}"
    );
    let replay = report("medium-replay");
    assert!(
        replay.contains("replay buffer of an online Q-learner") && replay.contains("requested"),
        "{replay}"
    );
    for text in [&medium, &expert, &both, &replay] {
        assert!(
            text.contains("concentrability of the optimal policy: ")
                && text.contains("state coverage: ")
                && text.contains("action support: "),
            "{text}"
        );
    }
}

/// `data collect` on a continuous-state environment writes observation
/// columns (CSV) or D4RL's arrays (npz), the same bits for the same seed,
/// reports the behaviour and the normalized score, and refuses what has
/// no meaning there.
#[test]
fn data_collect_writes_observations_of_continuous_environments() {
    let dir = tempfile::tempdir().unwrap();
    let collect = |env: &str, policy: &[&str], file: &str| {
        let mut command = pessimist();
        command
            .args(["data", "collect", "--env", env, "--policy"])
            .args(policy)
            .args(["--size", "3000", "--seed", "5", "-o"])
            .arg(dir.path().join(file));
        command
    };
    let stderr = |command: &mut Command| {
        let out = command.assert().success().get_output().stderr.clone();
        String::from_utf8(out).unwrap()
    };
    let expert = stderr(&mut collect("MountainCar-v0", &["expert"], "a.csv"));
    assert!(
        expert.contains("collected 3000 transitions")
            && expert.contains("behaviour: the controller with epsilon 0.05")
            && expert.contains("R_random -200 (uniform play), R_expert -119.4127 (the controller), each over 10000 episodes from seed 0")
            && expert.contains("complete episodes, score 9"),
        "{expert}"
    );
    stderr(&mut collect("MountainCar-v0", &["expert"], "b.csv"));
    let a = std::fs::read_to_string(dir.path().join("a.csv")).unwrap();
    assert_eq!(
        a,
        std::fs::read_to_string(dir.path().join("b.csv")).unwrap()
    );
    assert_eq!(a.lines().count(), 3001);
    assert!(a.starts_with(
        "episode,step,obs_0,obs_1,action,reward,next_obs_0,next_obs_1,terminated,truncated\n0,0,"
    ));
    let knob = stderr(&mut collect(
        "CartPole-v1",
        &["expert", "--epsilon", "0.2"],
        "c.npz",
    ));
    assert!(knob.contains("the controller with epsilon 0.2"), "{knob}");
    let npz = std::fs::read(dir.path().join("c.npz")).unwrap();
    for name in [
        "observations.npy",
        "next_observations.npy",
        "terminals.npy",
        "timeouts.npy",
    ] {
        assert!(
            npz.windows(name.len()).any(|w| w == name.as_bytes()),
            "{name}"
        );
    }
    for (policy, says) in [
        ("medium", "the controller with epsilon 0.3403"),
        ("medium-replay", "falling linearly from 1 to 0.3403"),
        (
            "medium-expert",
            "(first 1500 transitions), then the controller with epsilon 0.05",
        ),
        ("random", "uniformly random actions"),
    ] {
        let text = stderr(&mut collect("MountainCar-v0", &[policy], "d.csv"));
        assert!(text.contains(says), "{policy}: {text}");
    }
    let swing = stderr(&mut collect("Acrobot-v1", &["medium"], "e.csv"));
    assert!(
        swing.contains("the controller with epsilon 0.8331")
            && swing.contains("R_expert -90.5924 (the controller)"),
        "{swing}"
    );
    fails_saying(
        &mut collect("MountainCar-v0", &["optimal"], "f.csv"),
        &[
            "MountainCar-v0 has no exact optimal policy",
            "`expert` with an epsilon",
        ],
    );
    fails_saying(
        &mut collect("FrozenLake-v1", &["expert", "--epsilon", "0.1"], "f.csv"),
        &["use `optimal` with an epsilon"],
    );
}

/// What `pessimist report STORE --format FORMAT` prints.
fn report_of(store: &Path, format: &str) -> String {
    let out = pessimist()
        .arg("report")
        .arg(store)
        .args(["--format", format])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// A finished sweep of the imitation trap (bc and fqi, two seeds) in a
/// temporary store: the store, `run --json`'s output, and the table a
/// plain `run` prints on stdout (results there, so `run ... > out.txt`
/// holds them; progress and logs on stderr).
fn trap_sweep() -> (tempfile::TempDir, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("experiments").join("trap.toml");
    std::fs::create_dir_all(spec.parent().unwrap()).unwrap();
    std::fs::write(
        &spec,
        "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0, 1]\niterations = 20\neval_every = 10\ndataset = { policy = \"random\", size = 200 }\n[[algo]]\nname = \"bc\"\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    let out = run_into(dir.path().join("runs"), [&spec])
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .clone();
    let json = serde_json::from_slice(&out.stdout).unwrap();
    // Again without --json: the finished runs are reused, and the table
    // goes to stdout, none of it to stderr.
    let out = run_into(dir.path().join("runs"), [&spec])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("q_est") && !stderr.contains("J: discounted"),
        "{stderr}"
    );
    (dir, json, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn run_and_report_show_the_episode_return_beside_the_discounted_one() {
    let (dir, runs, table) = trap_sweep();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for run in runs {
        // One decision: the episode return is the immediate reward, and
        // the discounted J equals it; the score is D4RL's of it.
        let (j, r) = (
            run["true_return"].as_f64().unwrap(),
            run["episode_return"].as_f64().unwrap(),
        );
        assert!((j - r).abs() < 1e-9, "{run}");
        let score = run["normalized_score"].as_f64().unwrap();
        assert!((score - 100.0 * (r + 4.5) / 5.5).abs() < 1e-6, "{run}");
        // The data acts in the one start state: the covered metrics are the plain ones.
        assert_eq!(run["start_coverage"], 1.0, "{run}");
        assert_eq!(run["q_est_covered"], run["q_est"], "{run}");
        assert_eq!(run["true_return_covered"], run["true_return"], "{run}");
        // summary.json keeps the dataset's statistics.
        let summary: Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(run["dir"].as_str().unwrap()).join("summary.json"))
                .unwrap(),
        )
        .unwrap();
        let stats = &summary["dataset_stats"];
        assert_eq!(stats["transitions"], 200, "{summary}");
        assert_eq!(stats["visited_states"], 1, "{summary}");
        assert_eq!(stats["single_action_share"], 0.0, "{summary}");
        assert_eq!(stats["mean_actions"], 2.0, "{summary}");
        // The uniform behaviour scores 0 by definition.
        assert!(stats["behavior_score"].as_f64().unwrap().abs() < 1e-9);
        // Only the end of the episode is never acted in.
        let unvisited = summary["unvisited_states"].as_array().unwrap();
        assert!(
            !unvisited.is_empty() && !unvisited.contains(&0.into()),
            "{summary}"
        );
    }
    let header = table.lines().find(|l| l.starts_with("run ")).unwrap();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert!(
        columns.ends_with(&["starts", "q_est", "J", "R", "score"]),
        "{table}"
    );
    assert!(table.contains(" 100% "), "{table}");
    assert!(
        table.contains("J: discounted return") && table.contains("D4RL"),
        "{table}"
    );

    let store = dir.path().join("runs");
    let report = |format: &str| report_of(&store, format);
    let md = report("md");
    for title in [
        "## normalized score (D4RL, of the episode return R)",
        "## episode return R (undiscounted",
        "## discounted return J(π) (what Q estimates)",
        "## start coverage (share of the start distribution on states the data visits)",
        "## q_est on the covered start states",
        "## discounted return J(π) on the covered start states",
    ] {
        assert!(md.contains(title), "md lacks {title}:\n{md}");
    }
    let csv = report("csv");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "dataset",
            "algo",
            "n",
            "mean",
            "std",
            "episode_return_mean",
            "episode_return_std",
            "true_return_mean",
            "true_return_std",
            "start_coverage_mean",
            "start_coverage_std",
            "q_est_covered_mean",
            "q_est_covered_std",
            "true_return_covered_mean",
            "true_return_covered_std",
            "diverged",
            "failed",
            "runs",
            "best",
            "below_best",
            "p_best"
        ]
    );
    let json: Value = serde_json::from_str(&report("json")).unwrap();
    assert!(json["score"].as_str().unwrap().contains("D4RL"), "{json}");
    let cell = &json["cells"][0][0];
    let mean_r = cell["episode_return"]["mean"].as_f64().unwrap();
    let rs: Vec<f64> = runs
        .iter()
        .filter(|r| r["algo"] == json["algos"][0])
        .map(|r| r["episode_return"].as_f64().unwrap())
        .collect();
    assert!(
        (mean_r - rs.iter().sum::<f64>() / rs.len() as f64).abs() < 1e-9,
        "{json}"
    );
    assert_eq!(cell["true_return"]["values"].as_array().unwrap().len(), 2);
    assert_eq!(cell["start_coverage"]["mean"], 1.0, "{json}");
    assert!(
        json["start_coverage"]
            .as_str()
            .unwrap()
            .contains("start distribution")
    );

    // The dashboard's run detail reads the statistics from the store.
    let frame = detail_frame(&dir.path().join("experiments"), &store);
    assert!(
        frame.contains(
            "behaviour score 0.0 · one action in 0% of states · 2.0 actions/state · states 1/1"
        ),
        "{frame}"
    );
    assert!(frame.contains("(D4RL, of R)"), "{frame}");
}

/// The dashboard's first frame (120x30, headless) with the first run's
/// detail open, read from `store`.
fn detail_frame(experiments: &Path, store: &Path) -> String {
    let out = pessimist()
        .arg("tui")
        .arg(experiments)
        .arg("--runs")
        .arg(store)
        .args(["--headless", "--frames", "1", "--size", "120x30"])
        .args(["--keys", "<enter>"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// 20 random FrozenLake transitions leave most of the lake unvisited: the
/// run's summary lists those states and the dashboard's heatmap, reading
/// it from the store, hatches them.
#[test]
fn the_detail_hatches_the_states_the_data_never_visits() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    std::fs::write(
        experiments.join("lake.toml"),
        "env = \"FrozenLake-v1\"\ngamma = 0.9\niterations = 10\neval_every = 10\n\
         dataset = { policy = \"random\", size = 20 }\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    let store = dir.path().join("runs");
    let runs = json_from(run_into(&store, [experiments.join("lake.toml")]).arg("--json"));
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(runs[0]["dir"].as_str().unwrap()).join("summary.json"))
            .unwrap(),
    )
    .unwrap();
    // The start state is visited; the goal, at least, never acted in.
    let unvisited = summary["unvisited_states"].as_array().unwrap();
    assert!(unvisited.contains(&15.into()) && !unvisited.contains(&0.into()));
    let frame = detail_frame(&experiments, &store);
    assert!(frame.contains("░ never in the data"), "{frame}");
}

/// A store with a diverged run (rewards of 1e308 on a self-loop), a failed
/// one (a state out of range) and finished ones: `report` counts them all,
/// in every format, with the behaviour column and the Total row; `plot`
/// draws the diverged curves and names the failed runs.
#[test]
fn report_and_plot_count_diverged_and_failed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let header = "episode,step,state,action,reward,next_state,terminated,truncated\n";
    std::fs::write(
        dir.path().join("inf.csv"),
        format!("{header}0,0,0,0,1e308,0,false,false\n0,1,0,0,1e308,0,false,true\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.csv"),
        format!("{header}0,0,99,0,0,4,false,true\n"),
    )
    .unwrap();
    let boom = dir.path().join("boom.toml");
    std::fs::write(
        &boom,
        "env = \"FrozenLake-v1\"\ngamma = 0.99\niterations = 30\neval_every = 10\n\
         dataset = { file = [\"inf.csv\", \"bad.csv\"] }\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    let fine = dir.path().join("fine.toml");
    std::fs::write(
        &fine,
        "env = \"FrozenLake-v1\"\ngamma = 0.99\nseeds = [0, 1]\niterations = 30\neval_every = 10\n\
         dataset = { policy = \"medium\", size = 500 }\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    let store = dir.path().join("runs");
    // A failed run makes `run` exit non-zero; the store is what matters.
    run_into(&store, [&boom, &fine]).assert().failure();
    // Both specs are FrozenLake-v1: one table, as an environment's.
    let report = |format: &str| {
        let out = pessimist()
            .arg("report")
            .arg(&store)
            .args(["--by", "env", "--format", format])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };

    let md = report("md");
    let row = |label: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap_or_else(|| panic!("no row {label}:\n{md}"))
            .to_string()
    };
    assert!(md.contains("| dataset | behaviour | fqi |"), "{md}");
    // The diverged run is scored by its last finite eval point, marked.
    // One seed: the mean alone, its n beside it (the usual n is 2).
    assert!(row("inf.csv").ends_with("† (n=1)** |"), "{md}");
    assert!(row("bad.csv").ends_with("| – | – ✗1 |"), "{md}");
    // Medium data records one policy: its exact score is the behaviour's.
    let medium = row("medium 500");
    let cells: Vec<&str> = medium.split(" | ").collect();
    assert!(cells[1].contains(" ± "), "{medium}");
    assert!(row("**Total**").contains("(2/3 rows)"), "{md}");
    for footnote in [
        "† diverged (Q hit NaN/∞), scored by its last finite eval point (1 of 4 runs)",
        "✗n: n runs failed, no score (1 of 4 runs)",
        "Total: sum of the row means",
    ] {
        assert!(md.contains(footnote), "md lacks {footnote:?}:\n{md}");
    }

    let csv = report("csv");
    assert!(csv.contains("\ninf.csv,fqi,1,"), "{csv}");
    assert!(
        csv.contains(",1,0,1,true,false,\n"),
        "diverged 1, failed 0, runs 1, the best of its row: {csv}"
    );
    assert!(
        csv.contains("\nbad.csv,fqi,0,,,,,,,,,,,,,0,1,1,false,false,\n"),
        "{csv}"
    );
    assert!(csv.contains("\nmedium 500,behaviour,2,"), "{csv}");
    assert!(csv.contains("\nTotal,fqi,2,"), "{csv}");

    let json: Value = serde_json::from_str(&report("json")).unwrap();
    let datasets: Vec<&str> = json["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(datasets, ["medium 500", "bad.csv", "inf.csv"], "{json}");
    let cell = |d: usize| &json["cells"][d + 1][0];
    assert_eq!(
        (cell(0)["failed"].clone(), cell(0)["diverged"].clone()),
        (1.into(), 0.into())
    );
    assert_eq!(
        (cell(1)["failed"].clone(), cell(1)["diverged"].clone()),
        (0.into(), 1.into())
    );
    assert_eq!(cell(1)["scores"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(
        json["cells"][0][0]["scores"].as_array().unwrap().len(),
        2,
        "{json}"
    );
    assert!(
        json["behavior"][1].is_null() && json["behavior"][0]["mean"].is_f64(),
        "{json}"
    );
    assert_eq!(json["total"][0]["rows"], 2, "{json}");

    // Two specs: a figure each in the directory --out.
    let figures = dir.path().join("figures");
    let out = pessimist()
        .arg("plot")
        .arg(&store)
        .arg("--out")
        .arg(&figures)
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    assert!(
        stderr.contains("failed, no curve: fqi · bad.csv (1 run)"),
        "{stderr}"
    );
    assert!(figures.join("fine.svg").is_file());
    let svg = std::fs::read_to_string(figures.join("boom.svg")).unwrap();
    assert!(
        svg.contains("(diverged)") && svg.contains("failed, no curve"),
        "{svg}"
    );
}

/// `--spec` takes a spec's file stem or its `name`, the other flags narrow
/// within it, and a selection that matches nothing is an error that names
/// the specs there are.
#[test]
fn report_selects_specs_by_file_stem_or_name_and_runs_by_algo() {
    let dir = two_spec_store();
    let store = dir.path().join("runs");
    let store = store.to_str().unwrap();
    let runs_in = |select: &[&str]| -> usize {
        let json = json_of(&[&["report", store, "--format", "json"], select].concat());
        json["cells"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap())
            .map(|cell| cell["scores"].as_array().map_or(0, Vec::len))
            .sum()
    };
    assert_eq!(runs_in(&["--spec", "second_file"]), 1);
    assert_eq!(runs_in(&["--spec", "second-name"]), 1);
    assert_eq!(runs_in(&["--spec", "trap"]), 4);
    // A spec file's path, its name the file's stem (it declares none).
    let trap = dir.path().join("experiments").join("trap.toml");
    assert_eq!(runs_in(&["--spec", trap.to_str().unwrap()]), 4);
    assert_eq!(runs_in(&["--spec", "trap", "--algo", "fqi"]), 2);
    assert_eq!(runs_in(&["--spec", "trap", "--filter", "BC seed=1"]), 1);
    fails_saying(
        pessimist().args(["report", store, "--spec", "nope"]),
        &["specs there: second-name, trap"],
    );
}

/// A spec that lists a run another spec stored (trained once, stored
/// once, under the other) reports it under its own name, as the dashboard
/// lists it, selected by file stem or by its `name`; the storing spec
/// still reports it too.
#[test]
fn report_selects_a_spec_by_every_run_it_lists_even_one_stored_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    let head = "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0, 1]\niterations = 20\neval_every = 10\ndataset = { policy = \"random\", size = 200 }\n[[algo]]\nname = \"bc\"\n";
    let trap = experiments.join("trap.toml");
    std::fs::write(&trap, format!("{head}[[algo]]\nname = \"fqi\"\n")).unwrap();
    // trap's two bc runs, and two of its own.
    let shared = experiments.join("shared_file.toml");
    let text = format!("name = \"shared-name\"\n{head}[[algo]]\nname = \"bcq\"\n");
    std::fs::write(&shared, text).unwrap();
    let store = dir.path().join("runs");
    run_into(&store, [&trap, &shared]).assert().success();
    let stored = |spec: &str| std::fs::read_dir(store.join(spec)).unwrap().count();
    assert_eq!(
        (stored("trap"), stored("shared-name")),
        (4, 2),
        "trained once"
    );
    let store = store.to_str().unwrap();
    // (group, runs) of each table.
    let tables = |select: &[&str]| -> Vec<(String, usize)> {
        let json = json_of(&[&["report", store, "--format", "json"], select].concat());
        let tables = json["tables"].as_array().cloned().unwrap_or(vec![json]);
        tables
            .iter()
            .map(|t| {
                let cells = t["cells"].as_array().unwrap().iter();
                let runs = cells
                    .flat_map(|row| row.as_array().unwrap())
                    .map(|cell| cell["scores"].as_array().map_or(0, Vec::len))
                    .sum();
                (t["group"].as_str().unwrap().to_string(), runs)
            })
            .collect()
    };
    let shared = vec![("shared-name".to_string(), 4)];
    assert_eq!(tables(&["--spec", "shared_file"]), shared);
    assert_eq!(tables(&["--spec", "shared-name"]), shared);
    assert_eq!(tables(&["--spec", "trap"]), vec![("trap".to_string(), 4)]);
    // Selected by both, a run is reported once, under the spec that stored it.
    assert_eq!(
        tables(&["--spec", "shared-name,trap"]),
        vec![("shared-name".to_string(), 2), ("trap".to_string(), 4)]
    );
}

/// `run` refuses two spec files of one name (they would share a store
/// directory), and takes one file named twice as one spec.
#[test]
fn run_refuses_two_specs_of_one_name() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "name = \"same\"\nenv = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0]\niterations = 10\neval_every = 5\ndataset = { policy = \"random\", size = 100 }\n[[algo]]\nname = \"bc\"\n";
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::fs::write(&a, spec).unwrap();
    std::fs::write(&b, spec).unwrap();
    let runs = dir.path().join("runs");
    fails_saying(
        &mut run_into(&runs, [&a, &b]),
        &["b.toml: the name `same` is taken by", "a.toml"],
    );
    assert!(!runs.exists(), "nothing trained");
    run_into(&runs, [&a, &a]).assert().success();
}

/// [`trap_sweep`]'s store with a second spec beside `trap`: file
/// `second_file.toml`, name `second-name`, fqi alone on other data, seed 0.
fn two_spec_store() -> tempfile::TempDir {
    let (dir, _, _) = trap_sweep();
    let second = dir.path().join("experiments").join("second_file.toml");
    std::fs::write(
        &second,
        "name = \"second-name\"\nenv = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0]\niterations = 20\neval_every = 10\ndataset = { policy = \"random\", size = 100 }\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    run_into(dir.path().join("runs"), [&second])
        .assert()
        .success();
    dir
}

/// Two specs make two tables, each labelled on its own (`--by spec`, the
/// default): markdown under `# spec` headings, CSV with a `group` column,
/// JSON as `{"tables": [...]}`, LaTeX naming the spec in its captions.
/// One spec, or one environment (`--by env`), is one table as before.
#[test]
fn report_prints_one_table_per_spec() {
    let dir = two_spec_store();
    let store = dir.path().join("runs");
    let store = store.to_str().unwrap();
    let printed = |args: &[&str]| {
        let out = pessimist()
            .args([&["report", store], args].concat())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let tables = |md: &str| md.matches("## normalized score").count();
    let md = printed(&["--format", "md"]);
    assert_eq!(tables(&md), 2, "{md}");
    assert!(
        md.starts_with("# second-name\n\n## normalized score"),
        "{md}"
    );
    assert!(md.contains("\n# trap\n\n## normalized score"), "{md}");
    // Each spec's labels name only what varies in it.
    assert!(md.contains("| dataset | behaviour | fqi |"), "{md}");
    assert!(md.contains("| dataset | behaviour | bc | fqi |"), "{md}");
    let one = printed(&["--format", "md", "--spec", "trap"]);
    assert_eq!(tables(&one), 1, "{one}");
    assert!(one.starts_with("## normalized score"), "{one}");
    assert_eq!(tables(&printed(&["--by", "env"])), 1);

    let json = json_of(&["report", store, "--format", "json"]);
    let groups: Vec<&str> = json["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"))
        .iter()
        .map(|t| t["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["second-name", "trap"]);
    assert!(
        json["tables"][1]["cells"][0][0]["best"].is_boolean(),
        "{json}"
    );
    let json = json_of(&["report", store, "--format", "json", "--spec", "trap"]);
    assert_eq!(json["group"], "trap", "{json}");
    assert_eq!(json["algos"], serde_json::json!(["bc", "fqi"]), "{json}");

    let csv = printed(&["--format", "csv"]);
    assert!(csv.starts_with("group,dataset,algo,n,mean,std,"), "{csv}");
    assert!(
        csv.contains("\nsecond-name,") && csv.contains("\ntrap,"),
        "{csv}"
    );
    let latex = printed(&["--format", "latex"]);
    assert_eq!(
        latex.matches("\\caption{trap: normalized score").count(),
        1,
        "{latex}"
    );
    assert_eq!(latex.matches("\\toprule").count(), 12, "{latex}");
}

/// `> /dev/full`: every command that prints says it cannot write, with a
/// non-zero exit, instead of panicking (exit 101).
#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let (dir, _, _) = trap_sweep();
    let runs = dir.path().join("runs");
    let runs = runs.to_str().unwrap();
    let cases: [&[&str]; 5] = [
        &["report", runs],
        &["report", runs, "--format", "json"],
        &["env", "list"],
        &["env", "show", "Taxi-v4", "--json"],
        &["env", "solve", "FrozenLake-v1", "--gamma", "0.9"],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pessimist"))
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: cannot write to standard output: No space left on device")
                && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

/// `report` and `plot` read a store whose `runs/<spec>` is a symlink to
/// a directory elsewhere (a shared disk, a big volume).
#[test]
fn report_and_plot_follow_a_symlinked_spec_directory() {
    let (dir, runs, _) = trap_sweep();
    let store = dir.path().join("runs");
    let report = || json_of(&["report", store.to_str().unwrap(), "--format", "json"]);
    let plot = |name: &str| {
        let svg = dir.path().join(name);
        pessimist()
            .arg("plot")
            .arg(&store)
            .arg("--out")
            .arg(&svg)
            .assert()
            .success();
        std::fs::read(&svg).unwrap()
    };
    let (table, figure) = (report(), plot("before.svg"));
    assert_eq!(runs.as_array().unwrap().len(), 4);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::rename(store.join("trap"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, store.join("trap")).unwrap();
    assert_eq!(report(), table);
    assert!(plot("after.svg") == figure, "the figure changed");
}

/// `--size 65535x65535` is refused with the limit, not an abort.
/// `tui --headless` shows the store as it is and writes nothing to it, not
/// even for the runs a spec lists that nobody trained; `--train` trains
/// them, and leaves each run done, or stopped at a checkpoint it resumes
/// from at the next call, never half-written.
#[test]
fn headless_frames_leave_the_store_as_it_is_unless_asked_to_train() {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    let store = dir.path().join("runs");
    std::fs::write(
        experiments.join("trap.toml"),
        "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0, 1]\niterations = 20\neval_every = 10\n\
         dataset = { policy = \"random\", size = 200 }\n[[algo]]\nname = \"bc\"\n",
    )
    .unwrap();
    run_into(&store, [experiments.join("trap.toml")])
        .assert()
        .success();
    std::fs::write(
        experiments.join("lake.toml"),
        "env = \"FrozenLake-v1\"\ngamma = 0.9\nseeds = [0, 1, 2]\niterations = 300\neval_every = 10\n\
         dataset = { policy = \"medium\", size = 2000 }\n[[algo]]\nname = \"fqi\"\nvariant = \"sample\"\n",
    )
    .unwrap();
    let headless = |train: bool| {
        let mut command = pessimist();
        command
            .arg("tui")
            .arg(&experiments)
            .arg("--runs")
            .arg(&store)
            .args(["--headless", "--frames", "3", "--size", "120x30"]);
        if train {
            command.arg("--train");
        }
        let out = command.assert().success().get_output().stdout.clone();
        String::from_utf8(out).unwrap()
    };
    let (paths, files) = (tree(&store), snapshot(&store));
    let frames = headless(false);
    assert_eq!(tree(&store), paths, "{frames}");
    assert!(snapshot(&store) == files, "a file of the store changed");
    assert!(frames.contains("2 specs · 5 runs"), "{frames}");

    // Trains, a call at a time, until every run of the new spec is done.
    let statuses = || -> Vec<Option<String>> {
        let spec = store.join("lake");
        let Ok(entries) = std::fs::read_dir(&spec) else {
            return Vec::new();
        };
        entries
            .map(|e| {
                let summary = std::fs::read(e.unwrap().path().join("summary.json")).ok()?;
                let summary: Value = serde_json::from_slice(&summary).unwrap();
                Some(summary["status"].as_str().unwrap().to_string())
            })
            .collect()
    };
    for call in 0.. {
        assert!(call < 200, "the runs never finished: {:?}", statuses());
        headless(true);
        let now = statuses();
        for status in &now {
            assert!(
                matches!(status.as_deref(), None | Some("done" | "queued")),
                "a run left {status:?}"
            );
        }
        if now.len() == 3 && now.iter().all(|s| s.as_deref() == Some("done")) {
            break;
        }
    }
}

#[test]
fn a_huge_headless_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fails_saying(
        pessimist()
            .arg("tui")
            .arg(dir.path())
            .args(["--headless", "--size", "65535x65535"]),
        &["--size `65535x65535`: at most 1000x1000"],
    );
}

/// Spec mistakes that used to pass or fail late are refused when the spec
/// is read, saying which key: `algo = []`, duplicate seeds, a dataset
/// larger than a dataset can be, and a run of 10^18 eval points.
#[test]
fn specs_that_make_no_runs_or_too_much_are_refused_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let base = "env = \"ImitationTrap-v0\"\n";
    let data = "dataset = { policy = \"random\", size = 100 }\n";
    let fqi = "[[algo]]\nname = \"fqi\"\n";
    let cases = [
        (
            format!("{base}{data}algo = []\n"),
            "`algo` is an empty list",
        ),
        (
            format!("{base}seeds = []\n{data}{fqi}"),
            "`seeds` is an empty list",
        ),
        (
            format!("{base}seeds = [1, 1, 1]\n{data}{fqi}"),
            "seed 1 is listed twice",
        ),
        (
            format!("{base}dataset = {{ policy = \"random\", size = 4294967296 }}\n{fqi}"),
            "at most 4294967295 transitions",
        ),
        (
            format!("{base}iterations = 1_000_000_000_000_000_000\neval_every = 1\n{data}{fqi}"),
            "records 1000000000000000001 eval points per run",
        ),
    ];
    for (text, says) in cases {
        let spec = dir.path().join("s.toml");
        std::fs::write(&spec, &text).unwrap();
        fails_saying(
            &mut run_into(dir.path().join("runs"), [&spec]),
            &["s.toml:", says],
        );
        assert!(!dir.path().join("runs").exists(), "{text}");
    }
}

/// `--jobs` is bounded before a pool starts threads (issue 20): 100000
/// panicked spawning them, 2^64 − 1 overflowed an allocation.
#[test]
fn jobs_out_of_range_are_refused_with_the_range() {
    for jobs in ["0", "100000", "18446744073709551615"] {
        for command in [&["run", "spec.toml"][..], &["tui", "--headless"][..]] {
            let stderr = fails_saying(
                pessimist().args(command).args(["--jobs", jobs]),
                &["--jobs"],
            );
            assert!(stderr.contains("1..=1024"), "{jobs}: {stderr}");
            assert!(!stderr.contains("panicked"), "{jobs}: {stderr}");
        }
    }
}

/// Continuous-state environments: `env rollout` from a given state follows
/// Gymnasium's recorded trajectory (the observations are MountainCar's
/// float64 states, to the bit), `--seed` starts inside Gymnasium's start
/// distribution, and bad input, or a command that needs a table, says what
/// is wrong.
#[test]
fn env_rollout_of_continuous_environments() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/gymnasium/classic_control.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let case = &fixture["cases"][0];
    assert_eq!(case["id"], "MountainCar-v0");
    let actions: Vec<String> = case["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let v = json_of(&[
        "env",
        "rollout",
        "MountainCar-v0",
        "--start=-0.5,0",
        "--actions",
        &actions.join(","),
        "--json",
    ]);
    let observations = v["observations"].as_array().unwrap();
    assert_eq!(observations[0], serde_json::json!([-0.5, 0.0]));
    assert_eq!(observations[1..], case["states"].as_array().unwrap()[..]);
    assert_eq!(
        (v["terminated"].as_bool(), v["truncated"].as_bool()),
        (Some(true), Some(false))
    );

    let v = json_of(&[
        "env",
        "rollout",
        "Acrobot-v1",
        "--seed",
        "4",
        "--actions",
        "0,1,2",
        "--json",
    ]);
    let start: Vec<f64> = serde_json::from_value(v["observations"][0].clone()).unwrap();
    assert_eq!(start.len(), 6);
    // cos θ ≥ cos 0.1 and |dθ| < 0.1 for θ, dθ uniform in [-0.1, 0.1).
    assert!(
        start[0] >= 0.1_f64.cos() && start[2] >= 0.1_f64.cos(),
        "{start:?}"
    );
    assert!(start[4].abs() < 0.1 && start[5].abs() < 0.1, "{start:?}");
    assert_eq!(v["rewards"], serde_json::json!([-1.0, -1.0, -1.0]));

    fails_saying(
        pessimist().args([
            "env",
            "rollout",
            "CartPole-v1",
            "--start=0,0,0",
            "--actions",
            "1",
        ]),
        &["--start", "CartPole-v1 has a state of 4 numbers", "got 3"],
    );
    fails_saying(
        pessimist().args([
            "env",
            "rollout",
            "CartPole-v1",
            "--seed",
            "0",
            "--actions",
            "1,2",
        ]),
        &["action 2 at position 1", "0..=1"],
    );
    // Training on one needs features of its observations.
    let continuous = "MountainCar-v0: a continuous environment needs features";
    fails_saying(
        &mut train("MountainCar-v0", "fqi", "none.csv"),
        &[continuous],
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("car.toml");
    std::fs::write(
        &spec,
        "env = \"MountainCar-v0\"\ngamma = 0.99\niterations = 30\n\
         dataset = { policy = \"medium\", size = 500 }\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    fails_saying(
        &mut run_into(dir.path().join("runs"), [&spec]),
        &[continuous, "car.toml"],
    );

    let list = pessimist()
        .args(["env", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list = String::from_utf8(list).unwrap();
    for id in ["MountainCar-v0", "CartPole-v1", "Acrobot-v1"] {
        assert!(
            list.lines()
                .any(|l| l.starts_with(id) && l.contains("continuous")),
            "{list}"
        );
    }
    let v = json_of(&[
        "env",
        "rollout",
        "MountainCar-v0",
        "--seed",
        "1",
        "--controller",
        "--json",
    ]);
    assert_eq!(
        (v["terminated"].as_bool(), v["truncated"].as_bool()),
        (Some(true), Some(false))
    );
    fails_saying(
        pessimist().args([
            "env",
            "rollout",
            "FrozenLake-v1",
            "--seed",
            "1",
            "--controller",
        ]),
        &["--controller", "FrozenLake-v1 has no classical controller"],
    );
    let show = json_of(&["env", "show", "Acrobot-v1", "--json"]);
    assert_eq!(show["time_limit"], 500);
    assert_eq!(show["actions"].as_array().unwrap().len(), 3);
    assert_eq!(show["observation"][5][2], 9.0 * std::f64::consts::PI);
}

/// `env evaluate --controller`: CartPole's PD controller balances every
/// seeded episode (se 0, discounted return (1 − γ^500)/(1 − γ)); the JSON
/// is the documented shape; no controller, or too few episodes, is an error.
#[test]
fn env_evaluate_plays_the_controller_from_seeded_starts() {
    let v = json_of(&[
        "env",
        "evaluate",
        "CartPole-v1",
        "--controller",
        "--episodes",
        "50",
        "--gamma",
        "0.9",
        "--json",
    ]);
    let (r, d) = (&v["episode_return"], &v["discounted_return"]);
    assert_eq!(
        (r["mean"].as_f64(), r["se"].as_f64()),
        (Some(500.0), Some(0.0))
    );
    assert_eq!(
        (r["n"].as_u64(), v["steps"].as_u64()),
        (Some(50), Some(25_000))
    );
    let exact = (1.0 - 0.9_f64.powi(500)) / (1.0 - 0.9);
    assert!((d["mean"].as_f64().unwrap() - exact).abs() < 1e-9, "{d}");

    fails_saying(
        pessimist().args(["env", "evaluate", "FrozenLake-v1", "--controller"]),
        &["--controller", "FrozenLake-v1 has no classical controller"],
    );
    fails_saying(
        pessimist().args([
            "env",
            "evaluate",
            "MountainCar-v0",
            "--controller",
            "--episodes",
            "1",
        ]),
        &["episodes = 1", "at least 2"],
    );
}

/// `algo show` prints every key of an algorithm's table, a key of a
/// non-default choice after the choice that owns it, and `--json` the
/// same rows with their ranges; `algo list` names every algorithm.
#[test]
fn algo_show_prints_each_key_with_its_default_range_unit_and_owner() {
    let out = pessimist().args(["algo", "show", "fqi"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows[0],
        ["key", "default", "range", "unit", "meaning"],
        "{text}"
    );
    let names: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    assert_eq!(
        names,
        ["variant", "lr", "lr_decay", "q_init", "init_scale"],
        "{text}"
    );
    assert_eq!(rows[2][..4], ["lr", "0.1", "[0, 1]", "—"], "{text}");
    assert!(
        rows[2][4].starts_with("only with variant = \"sample\": "),
        "{text}"
    );
    assert_eq!(
        rows[1][..3],
        ["variant", "sweep", "sweep | sample"],
        "{text}"
    );

    let json = json_of(&["algo", "show", "fqi", "--json"]);
    let lr = &json["keys"][1];
    assert_eq!(json["name"], "fqi");
    assert_eq!(
        (
            &lr["name"],
            &lr["kind"],
            &lr["default"],
            &lr["min"],
            &lr["max"]
        ),
        (
            &"lr".into(),
            &"number".into(),
            &0.1.into(),
            &0.0.into(),
            &1.0.into()
        )
    );
    assert_eq!(
        lr["only_with"],
        serde_json::json!({"key": "variant", "choice": "sample"})
    );
    assert_eq!(
        json["keys"][0]["choices"],
        serde_json::json!(["sweep", "sample"])
    );
    assert_eq!(json["keys"][0]["only_with"], Value::Null);
    // combo's α is cql's key at combo's own default.
    let combo = json_of(&["algo", "show", "combo", "--json"]);
    assert_eq!(
        (&combo["keys"][0]["name"], &combo["keys"][0]["default"]),
        (&"alpha".into(), &0.05.into())
    );

    let out = pessimist().args(["algo", "list"]).assert().success();
    let list = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let listed: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, pessimist::algo::names(), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("bc ") && l.ends_with("(no keys)")),
        "{list}"
    );

    fails_saying(
        pessimist().args(["algo", "show", "fq"]),
        &["unknown algorithm `fq`", "did you mean `fqi`"],
    );
}
