//! Runs on continuous environments: a spec trains on the sample-based
//! form of observation data and records Monte-Carlo truth with its
//! standard error (src/eval/monte_carlo.rs).

use assert_cmd::Command;
use pessimist::algo::Params;
use pessimist::data::Quality;
use pessimist::env::monte_carlo::{self, Plan, TileGreedy};
use pessimist::env::{MountainCar, acrobot, cart_pole, mountain_car};
use pessimist::eval::Metrics;
use pessimist::eval::monte_carlo::START_SEED;
use pessimist::experiment::DatasetSource;
use pessimist::experiment::pipeline::{Data, Setup, Training};
use pessimist::experiment::store::{self, RunDir};
use pessimist::features::FeatureSpec;
use pessimist::present::scores;
use std::path::Path;

const SPEC: &str = r#"
env = "MountainCar-v0"
iterations = 100
eval_every = 50
rollouts = 50
features = { kind = "tile", tilings = 8, tiles = 8, size = 4096 }
dataset = { policy = "expert", epsilon = 0.3, size = 20000, seed = 0 }
[[algo]]
name = "fqi"
"#;

/// The metrics of every run in `store`.
fn metrics_in(store: &Path) -> Vec<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for path in crate::support::cli::tree(store) {
        if path.ends_with("metrics.jsonl") {
            let text = std::fs::read_to_string(store.join(path)).unwrap();
            out.push(
                text.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn a_mountaincar_spec_runs_end_to_end_with_error_bars() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("mc.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let store = dir.path().join("runs");
    let out = Command::cargo_bin("pessimist")
        .unwrap()
        .arg("run")
        .arg(&spec)
        .arg("--runs")
        .arg(&store)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The results table: J and the score with their standard errors.
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(table.matches(" ± ").count(), 2, "{table}");
    assert!(table.contains("± se: the standard error"), "{table}");
    let runs = metrics_in(&store);
    assert_eq!(runs.len(), 1);
    let lines = &runs[0];
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in lines {
        let j = line["true_return"].as_f64().unwrap();
        let se = line["true_return_se"].as_f64().unwrap();
        assert!(j.is_finite() && se.is_finite() && se >= 0.0, "{line}");
        assert!(line["episode_return_se"].as_f64().is_some(), "{line}");
        // Q^π at the data's pairs is unknown without rollouts from each.
        assert!(line["q_true_data"].is_null(), "{line}");
    }
    let last = lines.last().unwrap();
    assert!(last["true_return_se"].as_f64().unwrap() > 0.0, "{last}");
    // The landscape of the last eval point: every count there, and
    // readers tolerate it missing or torn.
    let path = crate::support::cli::tree(&store)
        .into_iter()
        .find(|p| p.ends_with("landscape.json"))
        .expect("a continuous run writes landscape.json");
    let run = RunDir::new(store.join(&path).parent().unwrap());
    let l = store::read_landscape(&run).unwrap().unwrap();
    assert_eq!(
        (l.iteration, l.data_total, l.slices.len()),
        (100, 20_000, 1)
    );
    let s = &l.slices[0];
    assert_eq!(s.data.iter().sum::<u64>(), 20_000);
    assert_eq!(s.visits.iter().sum::<u64>(), l.visits_total);
    // 50 rollouts of at most 200 steps each.
    assert!(
        (50..=50 * 200).contains(&l.visits_total),
        "{}",
        l.visits_total
    );
    plots_the_landscape(&store, dir.path());
    let bytes = std::fs::read(store.join(&path)).unwrap();
    assert!(bytes.len() < 64 << 10, "{} bytes", bytes.len());
    std::fs::write(store.join(&path), &bytes[..bytes.len() / 2]).unwrap();
    let e = store::read_landscape(&run).unwrap_err().to_string();
    assert!(
        e.contains("landscape.json") && e.contains("corrupt JSON"),
        "{e}"
    );
    let e = plot_landscape(&store, dir.path(), &[]).unwrap_err();
    assert!(
        e.contains("landscape.json") && e.contains("corrupt JSON"),
        "{e}"
    );
    std::fs::remove_file(store.join(&path)).unwrap();
    assert!(store::read_landscape(&run).unwrap().is_none());
    let e = plot_landscape(&store, dir.path(), &[]).unwrap_err();
    assert!(e.contains("landscape.json: no such file"), "{e}");
    report_carries_error_bars_and_the_controller(&store);
    // One seed has no spread over seeds: the one band is J's ±1.96 se.
    let svg = dir.path().join("fig.svg");
    Command::cargo_bin("pessimist")
        .unwrap()
        .arg("plot")
        .arg(&store)
        .arg("--out")
        .arg(&svg)
        .assert()
        .success();
    let svg = std::fs::read_to_string(svg).unwrap();
    assert_eq!(svg.matches("<polygon").count(), 1, "{svg}");
}

/// `plot --layout landscape` of the store's one run with `args`: the
/// SVG's text, or the error on stderr.
fn plot_landscape(store: &Path, dir: &Path, args: &[&str]) -> Result<String, String> {
    let svg = dir.join("landscape.svg");
    let out = Command::cargo_bin("pessimist")
        .unwrap()
        .args(["plot", "--layout", "landscape", "--out"])
        .arg(&svg)
        .arg(store)
        .args(args)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(std::fs::read_to_string(svg).unwrap())
    } else {
        Err(String::from_utf8(out.stderr).unwrap())
    }
}

/// The landscape's figure: three panels of 24 × 24 cells (one rect each,
/// besides the canvas and three colour bars of 48), the axes named with
/// their components and ranges, cells without data hatched; a pair that
/// is not one is refused naming the components.
fn plots_the_landscape(store: &Path, dir: &Path) {
    let svg = plot_landscape(store, dir, &[]).unwrap();
    assert_eq!(svg.matches("<rect").count(), 3 * 24 * 24 + 3 * 48 + 1);
    for label in [
        "position (-1.2 … 0.6)",
        "velocity (-0.07 … 0.07)",
        "max_a Q (symlog)",
    ] {
        assert_eq!(
            svg.matches(label).count(),
            if label.starts_with("max") { 1 } else { 3 },
            "{label}"
        );
    }
    // The same pair by name.
    assert_eq!(
        plot_landscape(store, dir, &["--pair", "velocity,position"]).unwrap(),
        svg
    );
    let e = plot_landscape(store, dir, &["--pair", "0,speed"]).unwrap_err();
    assert!(
        e.contains("no component `speed`") && e.contains("0 position, 1 velocity"),
        "{e}"
    );
}

/// `report` on that store: the se columns with values > 0, the
/// behaviour's score of the data, and the controller's row near 100
/// (the reference expert is the same controller, from other starts).
fn report_carries_error_bars_and_the_controller(store: &Path) {
    let report = |format: &str| {
        let out = Command::cargo_bin("pessimist")
            .unwrap()
            .args(["report", "--format", format])
            .arg(store)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = report("csv");
    let mut lines = csv.lines().map(|l| l.split(',').collect::<Vec<_>>());
    let header = lines.next().unwrap();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let records: Vec<Vec<&str>> = lines.collect();
    let of = |algo: &str| records.iter().find(|r| r[column("algo")] == algo).unwrap();
    let number = |r: &Vec<&str>, name: &str| r[column(name)].parse::<f64>().unwrap();
    let fqi = of("fqi");
    for name in ["se", "episode_return_se", "true_return_se"] {
        assert!(number(fqi, name) > 0.0, "{name}: {csv}");
    }
    // ε = 0.3 is a little less noise than `medium`'s 0.34 (score 33).
    let behaviour = number(of("behaviour"), "mean");
    assert!((33.0..60.0).contains(&behaviour), "{csv}");
    let controller = of("controller");
    assert_eq!(controller[column("n")], "50", "the runs' rollouts: {csv}");
    let (score, se) = (number(controller, "mean"), number(controller, "se"));
    assert!(se > 0.0 && (score - 100.0).abs() < 4.0 * se + 1.0, "{csv}");
    let md = report("md");
    assert!(md.contains("| controller: energy pumping | "), "{md}");
    assert!(md.contains(scores::NOISE), "{md}");
}

fn tiles() -> FeatureSpec {
    FeatureSpec::tile(8, 8, 4096).unwrap()
}

const ROLLOUTS: u64 = 64;
const GAMMA: f64 = 0.99;

/// `algo` on 20,000 expert transitions with ε = 0.3, `iterations` steps.
pub(crate) fn trained(algo: &str, iterations: usize) -> Training {
    trained_on(mountain_car::ID, algo, 0.3, 20_000, &tiles(), iterations)
}

/// `algo` at its defaults on `size` expert transitions of `env` with ε =
/// `epsilon`, on `features`, `iterations` steps.
fn trained_on(
    env: &'static str,
    algo: &str,
    epsilon: f64,
    size: u64,
    features: &FeatureSpec,
    iterations: usize,
) -> Training {
    let source = DatasetSource::Collect {
        policy: Quality::Expert.with_epsilon(epsilon).unwrap(),
        size,
        seed: 0,
    };
    let params = pessimist::algo::resolve_params(algo, &Params::new()).unwrap();
    let mut training = Setup {
        env,
        data: Data::Source(&source, None),
        algo,
        params: &params,
        gamma: GAMMA,
        seed: 0,
        features,
        rollouts: Some(ROLLOUTS),
    }
    .build()
    .unwrap();
    for _ in 0..iterations {
        training.learner.step().unwrap();
    }
    training
}

pub(crate) fn evaluate(training: &Training) -> Metrics {
    let learner = &training.learner;
    training
        .judge
        .evaluate(
            &learner.q(),
            &learner.policy(),
            learner.weights(),
            learner.act(),
        )
        .unwrap()
}

/// On narrow data (ε = 0.05, 10k transitions, tile coding at its
/// default 512 slots, where the projected Newton step ran away to 1e7 for
/// cql and the critic of td3bc to 1e228), the feature-space forms stay
/// within the returns the rewards allow, [−100, 0], and no worse than
/// fqi's greedy policy, which never reaches the goal (J = −86.6).
#[test]
fn pessimists_stay_bounded_on_narrow_tiles() {
    let narrow = FeatureSpec::tile(8, 8, 512).unwrap();
    for (algo, iterations) in [("cql", 1_000), ("combo", 1_000), ("td3bc", 300)] {
        let m = evaluate(&trained_on(
            mountain_car::ID,
            algo,
            0.05,
            10_000,
            &narrow,
            iterations,
        ));
        let (q, j) = (m.q_est, m.true_return);
        assert!((-100.0..=0.0).contains(&q), "{algo}: q_est {q}");
        assert!(j > -86.0, "{algo}: J {j}");
    }
}

/// cql and combo on features that generalise settle within the 300
/// iterations the bundled specs run: their step on the states' values
/// moves the Bellman residual whole, where the majoriser's alone moved
/// 0.4 of it (combo less) and q_est at 300 iterations read −51 (cql) and
/// −14 (combo) against −72 and −43 at 1,000 on this data. Each q_est at
/// 300 iterations is within 1.5 of its value at 1,000.
#[test]
fn pessimists_on_narrow_tiles_settle_in_300_iterations() {
    let narrow = FeatureSpec::tile(8, 8, 512).unwrap();
    for algo in ["cql", "combo"] {
        let mut training = trained_on(mountain_car::ID, algo, 0.05, 10_000, &narrow, 300);
        let early = evaluate(&training).q_est;
        for _ in 300..1_000 {
            training.learner.step().unwrap();
        }
        let late = evaluate(&training).q_est;
        assert!(
            (early - late).abs() < 1.5,
            "{algo}: q_est {early} at 300, {late} at 1,000"
        );
    }
}

/// combo on features that generalise resumes from a checkpoint bit for
/// bit: the weights its step on the states' values last factored come
/// back with the model buffer.
#[test]
fn combo_on_tiles_resumes_bit_for_bit() {
    let mut straight = trained("combo", 40);
    let state = serde_json::to_string(&straight.learner.save_state()).unwrap();
    let mut resumed = trained("combo", 0);
    resumed
        .learner
        .load_state(&serde_json::from_str(&state).unwrap())
        .unwrap();
    for _ in 0..40 {
        straight.learner.step().unwrap();
        resumed.learner.step().unwrap();
    }
    assert_eq!(straight.learner.q(), resumed.learner.q());
}

/// Off the data's sample states a policy-constrained learner acts by its
/// own rule on Q(o,·) = φ(o,·)ᵀθ and π̂_β(·|o), and it must not fall below
/// bc, which plays π̂_β(·|o) itself. On narrow Acrobot data (ε = 0.05, 10k
/// transitions, 512 slots; seed 0) atac greedy on its critic scored 0 and
/// brac, awac and iql tilted on the extrapolated Q 16–20, against bc's 58;
/// atac's anchored step and the tilt on Q − β·u score 59–79 (docs/scores.md).
/// Each must be within three standard errors of bc's score.
#[test]
fn policy_constrained_learners_are_not_below_bc_off_the_data() {
    let narrow = FeatureSpec::tile(8, 8, 512).unwrap();
    let run = |algo| evaluate(&trained_on(acrobot::ID, algo, 0.05, 10_000, &narrow, 300));
    let bc = run("bc");
    for algo in ["atac", "brac", "awac", "iql"] {
        assert_not_below_bc(algo, &run(algo), &bc);
    }
}

/// `m`'s normalized score is within three standard errors of bc's or above.
fn assert_not_below_bc(algo: &str, m: &Metrics, bc: &Metrics) {
    let margin = 3.0 * m.normalized_score_se.hypot(bc.normalized_score_se);
    assert!(
        m.normalized_score >= bc.normalized_score - margin,
        "{algo}: {} ± {} against bc's {} ± {}",
        m.normalized_score,
        m.normalized_score_se,
        bc.normalized_score,
        bc.normalized_score_se
    );
}

/// Where the old rules collapsed, seed 0, the default 8 tilings of 4
/// tiles, ε = 0.05:
/// - CartPole, 10k transitions: the controller's pole never falls, every
///   observed pair's data-restricted optimum is 1/(1 − γ), and their
///   spread, the old value unit, was 9e-13; every temperature and penalty
///   in it went to 0 and brac, awac, iql, atac and fisher-brc scored 0–26
///   against bc's 95 (83–97 in H = f_max − f_min);
/// - Acrobot, 1k transitions: the projected fit ran away (q_est 800) and
///   so did θ's extrapolation off the data (2e3): brac, awac and iql
///   scored 0 against bc's 74 (71–73 with v(s') and the tilt's Q clipped
///   to the returns the rewards allow). docs/scores.md.
///
/// Each must reach three quarters of bc's score.
#[test]
fn tilted_learners_hold_where_the_old_rules_collapsed() {
    let tiles = FeatureSpec::tile(8, 4, 512).unwrap();
    let cases: [(&'static str, u64, &[&str]); 2] = [
        (
            cart_pole::ID,
            10_000,
            &["brac", "awac", "iql", "atac", "fisher-brc"],
        ),
        (acrobot::ID, 1_000, &["brac", "awac", "iql"]),
    ];
    for (env, size, learners) in cases {
        let score =
            |algo| evaluate(&trained_on(env, algo, 0.05, size, &tiles, 300)).normalized_score;
        let bc = score("bc");
        for &algo in learners {
            let x = score(algo);
            assert!(x >= 0.75 * bc, "{env} {size}: {algo} {x} against bc's {bc}");
        }
    }
}

/// At the default features (8 tilings of 4 tiles, 512 slots) on Acrobot
/// 1k (ε = 0.05, seed 0) the evaluating critics' plain least squares ran
/// away: bc's estimate of π̂_β to −9e169 and td3bc's critic with it, td3bc
/// then scoring 0 against bc's 74. Held (`linear::Hold::evaluation`), both
/// estimates lie in the returns' range [−100, 0] (td3bc's, Q − U·u off the
/// data, no lower than the return floor, which is a lower bound too), and
/// td3bc, whose actor
/// also prices the data's uncertainty off its states, is within three
/// standard errors of bc or above. bc's estimate is near its truth: held
/// towards 0 (f_max here) it read −30 against J = −78, 48 above; held
/// towards the data's Monte-Carlo return it reads about 13 above, the part
/// the data cannot show (π̂_β drifts off the expert's states, FQE sees
/// the expert's).
#[test]
fn evaluating_critics_stay_in_the_return_range_on_few_transitions() {
    let default = FeatureSpec::tile(8, 4, 512).unwrap();
    let run = |algo| evaluate(&trained_on(acrobot::ID, algo, 0.05, 1_000, &default, 300));
    let (bc, td3bc) = (run("bc"), run("td3bc"));
    for (algo, m) in [("bc", &bc), ("td3bc", &td3bc)] {
        assert!(
            (-100.0..=0.0).contains(&m.q_est),
            "{algo}: q_est {}",
            m.q_est
        );
    }
    assert_not_below_bc("td3bc", &td3bc, &bc);
    assert!(
        (bc.q_est - bc.true_return).abs() < 25.0,
        "bc: q_est {} against J {}",
        bc.q_est,
        bc.true_return
    );
}

/// fisher-brc's unseen actions' targets sit α log 10⁻³ below the seen
/// ones; through the shared tiles they pulled the seen actions' values
/// down, compounding over the horizon, and its estimate on Acrobot ε = 0.3
/// 10k sank to −157 below f_min = −100. Its targets held in the range, the
/// estimate stays there.
#[test]
fn fisher_brc_stays_above_the_return_floor() {
    let default = FeatureSpec::tile(8, 4, 512).unwrap();
    let m = evaluate(&trained_on(
        acrobot::ID,
        "fisher-brc",
        0.3,
        10_000,
        &default,
        300,
    ));
    assert!((-100.0..=0.0).contains(&m.q_est), "q_est {}", m.q_est);
}

/// vi-lcb (PEVI) on the default features (8 tilings of 4 tiles, 512
/// hashed slots an action), where the regression cannot tell the actions
/// apart: greedy on its lower bound it scored 40 on CartPole's narrow
/// 100k (seed 0) against bc's 98, and on Acrobot's 1k its q_est read the
/// regression at a sample start state, 130 above f_max = 0. It must be
/// within three standard errors of bc, and its estimate within the
/// returns the rewards allow (docs/scores.md).
#[test]
fn vi_lcb_is_not_below_bc_and_reports_its_bound_on_hashed_tiles() {
    let default = FeatureSpec::tile(8, 4, 512).unwrap();
    let run = |algo| {
        evaluate(&trained_on(
            cart_pole::ID,
            algo,
            0.05,
            100_000,
            &default,
            300,
        ))
    };
    let (bc, pevi) = (run("bc"), run("vi-lcb"));
    assert_not_below_bc("vi-lcb", &pevi, &bc);
    let m = evaluate(&trained_on(
        acrobot::ID,
        "vi-lcb",
        0.05,
        1_000,
        &default,
        300,
    ));
    assert!(
        (-100.0..=0.0).contains(&m.q_est),
        "Acrobot 1k: q_est {}",
        m.q_est
    );
}

/// fqi's policy is greedy on Q everywhere, on the data's sample states and
/// off them: its Monte-Carlo truth is that of the greedy tile-coded policy
/// of its weights, played independently, bit for bit.
#[test]
fn fqi_truth_is_the_greedy_policy_of_its_weights() {
    let training = trained("fqi", 100);
    let m = evaluate(&training);
    let theta = training.learner.weights().unwrap().to_vec();
    let greedy = TileGreedy::new(&mountain_car::DESCRIPTION, 8, 8, theta).unwrap();
    let plan = Plan {
        episodes: ROLLOUTS as usize,
        seed: START_SEED,
        gamma: GAMMA,
    };
    let independent =
        monte_carlo::evaluate(&MountainCar, |o: &[f64; 2], _| greedy.act(o), plan).unwrap();
    assert_eq!(m.true_return, independent.discounted_return.mean);
    assert_eq!(m.true_return_se, independent.discounted_return.se);
    assert_eq!(m.episode_return, independent.episode_return.mean);
    assert_eq!(m.episode_return_se, independent.episode_return.se);
    assert!(m.true_return_se > 0.0, "{m:?}");
}

/// Rollouts on one thread or several give the same metrics, bit for bit.
#[test]
fn metrics_do_not_depend_on_the_thread_count() {
    let training = trained("cql", 20);
    let learner = &training.learner;
    let (q, policy) = (learner.q(), learner.policy());
    let (theta, act) = (learner.weights().unwrap().to_owned(), learner.act());
    let judge = &training.judge;
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                judge
                    .evaluate(&q, &policy, Some(theta.view()), act)
                    .unwrap()
            })
    };
    let one = on(1);
    assert_eq!(one, on(2));
    assert_eq!(one, on(5));
    assert!(one.true_return.is_finite() && one.true_return_se >= 0.0);
}

/// Bad input names the key and the valid choices.
#[test]
fn bad_continuous_specs_are_refused_in_place() {
    let parse = |text: &str| {
        pessimist::experiment::spec::parse(Path::new("s.toml"), text)
            .err()
            .map(|e| e.to_string())
    };
    let e = parse(&SPEC.replace("rollouts = 50", "rollouts = 0")).unwrap();
    assert!(
        e.contains("s.toml:5:12: rollouts = 0") && e.contains("at least 2"),
        "{e}"
    );
    let e = parse(
        "env = \"FrozenLake-v1\"\nrollouts = 10\ndataset = { policy = \"random\", size = 100 }\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    assert!(
        e.contains("`rollouts` applies to continuous environments (MountainCar-v0, CartPole-v1, Acrobot-v1)")
            && e.contains("FrozenLake-v1 is tabular"),
        "{e}"
    );
    let e = parse(&SPEC.replace(
        "features = { kind = \"tile\", tilings = 8, tiles = 8, size = 4096 }\n",
        "",
    ))
    .unwrap();
    assert!(
        e.contains("s.toml:2:7") && e.contains("needs features"),
        "{e}"
    );
    let e =
        parse(&SPEC.replace("policy = \"expert\", epsilon = 0.3", "policy = \"optimal\"")).unwrap();
    assert!(
        e.contains("no exact optimal policy") && e.contains("`expert` with an epsilon"),
        "{e}"
    );
    // bc builds on sample states (its π̂_β from the features).
    let source = DatasetSource::Collect {
        policy: Quality::Expert,
        size: 1000,
        seed: 0,
    };
    let params = pessimist::algo::resolve_params("bc", &Params::new()).unwrap();
    let e = Setup {
        env: mountain_car::ID,
        data: Data::Source(&source, None),
        algo: "bc",
        params: &params,
        gamma: GAMMA,
        seed: 0,
        features: &tiles(),
        rollouts: None,
    }
    .build();
    assert!(e.is_ok(), "bc on sample states");
}

/// Tabular runs keep their ids: `rollouts` is not hashed for them.
#[test]
fn tabular_specs_name_no_rollouts() {
    let spec = pessimist::experiment::spec::parse(
        Path::new("s.toml"),
        "env = \"FrozenLake-v1\"\ndataset = { policy = \"random\", size = 100 }\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    assert_eq!(spec.runs[0].rollouts, None);
    let spec = pessimist::experiment::spec::parse(Path::new("s.toml"), SPEC).unwrap();
    assert_eq!(spec.runs[0].rollouts, Some(50));
}

/// With one-hot features of a grid's cells (one tiling), an observation
/// in a cell the data visits has that cell's features, so the rollouts
/// play the learner's own policy row there, and greedy on θ in the cells
/// it never visits: the truth equals that policy played independently.
#[test]
fn on_grid_cells_the_rollouts_play_the_learners_own_rows() {
    use pessimist::algo::TrainData;
    use pessimist::data::Samples;
    use pessimist::data::observed::collect::collect_obs;
    use pessimist::eval::MonteCarlo;
    use pessimist::features::TileCoder;
    use pessimist::mdp::sample::PolicySampler;
    const TILES: usize = 6;
    let (data, _) = collect_obs(
        &MountainCar,
        Quality::Expert.with_epsilon(0.3).unwrap(),
        5000,
        1,
    )
    .unwrap();
    let samples = Samples::new(&data.transitions(), 3).unwrap();
    let spec = FeatureSpec::tile(1, TILES, 4096).unwrap();
    let features = spec.observations(&mountain_car::DESCRIPTION).unwrap();
    let coder = TileCoder::new(2, 1, TILES, usize::MAX);
    let cell = |o: &[f64]| {
        let view = ndarray::ArrayView2::from_shape((1, 2), o).unwrap();
        let x = features.coordinates(view).unwrap();
        let mut out = [0u32];
        coder.active_one(x.row(0).as_slice().unwrap(), &mut out);
        out[0] as usize
    };
    // Merged states are numbered by their cells' first sight.
    let mut state_of_cell = vec![None; coder.slots()];
    let mut states = 0;
    for point in samples.points.rows() {
        let c = cell(point.as_slice().unwrap());
        if state_of_cell[c].is_none() {
            state_of_cell[c] = Some(states);
            states += 1;
        }
    }
    let phi = features.phi(samples.points.view()).unwrap();
    let train = TrainData::samples(samples, phi, GAMMA, 0).unwrap();
    assert_eq!(train.compiled.n_states, states);
    for algo in ["vi-lcb", "cql"] {
        let params = pessimist::algo::resolve_params(algo, &Params::new()).unwrap();
        let mut learner = pessimist::algo::build(algo, &params, &train).unwrap();
        for _ in 0..30 {
            learner.step().unwrap();
        }
        let judge = MonteCarlo::new(
            &mountain_car::DESCRIPTION,
            features.clone(),
            &train,
            ROLLOUTS as usize,
        )
        .unwrap();
        let (q, policy) = (learner.q(), learner.policy());
        let theta = learner.weights().unwrap().to_vec();
        let m = judge
            .evaluate(&q, &policy, learner.weights(), learner.act())
            .unwrap();
        let sampler = PolicySampler::new(&policy);
        let width = coder.slots();
        let plan = Plan {
            episodes: ROLLOUTS as usize,
            seed: START_SEED,
            gamma: GAMMA,
        };
        let own_rows = |o: &[f64; 2], rng: &mut rand_pcg::Pcg64Mcg| {
            let c = cell(o);
            match state_of_cell[c] {
                Some(s) => sampler.action(s, rng),
                None => pessimist::mdp::solve::argmax((0..3).map(|a| theta[a * width + c])),
            }
        };
        let independent = monte_carlo::evaluate(&MountainCar, own_rows, plan).unwrap();
        assert_eq!(m.true_return, independent.discounted_return.mean, "{algo}");
        assert_eq!(m.episode_return, independent.episode_return.mean, "{algo}");
    }
}

/// π̂_β from overlapping tiles is the behaviour: on 20,000 transitions of
/// the controller with ε = 0.3, π_β(·|o) = 0.7 e_{controller(o)} + 0.1
/// per action, and the regression's π̂_β(·|o) at the data's observations
/// is within 0.25 of it in L1 on average and puts most mass on the
/// controller's action at 90% of them (the misses lie on the controller's
/// switching line, v = 0, which tiles blur).
#[test]
fn the_behaviour_estimate_from_tiles_is_the_behaviour() {
    use pessimist::algo::TrainData;
    use pessimist::data::Samples;
    use pessimist::data::observed::collect::collect_obs;
    use pessimist::env::Env;
    use pessimist::features::PsiRow;
    let (data, _) = collect_obs(
        &MountainCar,
        Quality::Expert.with_epsilon(0.3).unwrap(),
        20_000,
        2,
    )
    .unwrap();
    let samples = Samples::new(&data.transitions(), 3).unwrap();
    let points = samples.points.clone();
    let features = tiles().observations(&mountain_car::DESCRIPTION).unwrap();
    let phi = features.phi(points.view()).unwrap();
    let train = TrainData::samples(samples, phi, GAMMA, 0).unwrap();
    let model = train.behavior().unwrap();
    let (mut psi, mut estimate) = (PsiRow::default(), [0.0; 3]);
    let (mut l1, mut agree) = (0.0, 0);
    for o in points.rows() {
        let o = [o[0], o[1]];
        features.psi_into(&o, &mut psi);
        model.at(&psi, &mut estimate);
        let controller = MountainCar.controller(&o).unwrap();
        l1 += (0..3)
            .map(|a| (estimate[a] - if a == controller { 0.8 } else { 0.1 }).abs())
            .sum::<f64>();
        agree += usize::from(pessimist::mdp::solve::argmax(estimate.iter().copied()) == controller);
    }
    let n = points.nrows() as f64;
    assert!(l1 / n < 0.25, "mean L1 error {}", l1 / n);
    assert!(agree as f64 / n > 0.9, "{agree} of {n}");
}
