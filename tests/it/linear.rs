//! Linear function approximation against what theory says it does: one-hot
//! features are the table, least-squares FQI multiplies θ by 6γ/5 on
//! TwoState-v0, semi-gradient Q-learning runs away on Baird's star, and the
//! true return stays exact (0 on both counterexamples) while the estimate
//! leaves it behind.

use crate::support::learning::{digest, exact_dataset, params, text, train_data, trained};
use pessimist::algo::{self, ParamValue, Params, TrainData};
use pessimist::data::{self, Dataset, Quality};
use pessimist::features::FeatureSpec;
use pessimist::mdp::{TabularMdp, envs, solve};

fn features(pairs: &[(&str, ParamValue)]) -> FeatureSpec {
    FeatureSpec::read(&params(pairs)).unwrap()
}

fn linear(mdp: &TabularMdp, data: TrainData, spec: &FeatureSpec) -> TrainData {
    let phi = spec.build(mdp, data.seed).unwrap();
    data.with_features(phi)
}

/// Data of `size` transitions of `quality` on `id` (seed 1, γ 0.95), as a
/// table and with one-hot features.
fn table_and_onehot(id: &str, quality: Quality, size: usize) -> (TrainData, TrainData) {
    let mdp = envs::make(id).unwrap();
    let dataset = data::collect(&mdp, quality, size, 1, 0.95).unwrap();
    let table = train_data(&mdp, dataset, 0.95, 1);
    let lin = linear(&mdp, table.clone(), &features(&[("kind", text("onehot"))]));
    (table, lin)
}

fn random_init(scale: f64) -> Params {
    params(&[
        ("q_init", text("random")),
        ("init_scale", ParamValue::Number(scale)),
    ])
}

fn largest_abs(q: &ndarray::Array2<f64>) -> f64 {
    q.iter().fold(0.0, |m: f64, x| m.max(x.abs()))
}

/// With one-hot features, least-squares FQI is tabular FQI: the same Q
/// (to 1e-6) and the same greedy action wherever the table's best action
/// leads the next by more than that, from zero and from random values.
#[test]
fn onehot_least_squares_fqi_is_tabular_fqi() {
    for (id, quality) in [
        ("FrozenLake8x8-v1", Quality::Medium),
        ("CliffWalkingSlippery-v1", Quality::Random),
        ("FrozenLake-v1", Quality::Expert),
    ] {
        let (table, lin) = table_and_onehot(id, quality, 20_000);
        for p in [Params::new(), random_init(2.0)] {
            let a = trained("fqi", &p, &table, 40);
            let b = trained("fqi", &p, &lin, 40);
            let gap = (&a.q() - &b.q())
                .iter()
                .fold(0.0, |m: f64, x| m.max(x.abs()));
            assert!(gap < 1e-6, "{id} {p:?}: |Q_table − Q_linear| = {gap}");
            let (qa, pa, pb) = (a.q(), a.policy(), b.policy());
            for s in 0..table.compiled.n_states {
                let mut row = qa.row(s).to_vec();
                row.sort_by(|x, y| y.total_cmp(x));
                if row[0] - row[1] > 1e-6 {
                    assert_eq!(pa.row(s), pb.row(s), "{id} {p:?} state {s}");
                }
            }
        }
    }
}

/// Both transitions of TwoState-v0 once each (the data its two-step
/// episodes give, exactly).
fn two_state_data(mdp: &TabularMdp, gamma: f64) -> TrainData {
    let mut d = Dataset::new(2, 1);
    d.push(0, 0, 0, 0, 0.0, 1, false, false);
    d.push(0, 1, 1, 0, 0.0, 1, false, true);
    train_data(mdp, d, gamma, 0)
}

/// Tsitsiklis & Van Roy: least-squares FQI's θ is multiplied by exactly
/// 6γ/5 each iteration, so it runs away for γ > 5/6 and dies out below.
#[test]
fn two_state_least_squares_fqi_grows_by_six_gamma_fifths() {
    let mdp = envs::make("TwoState-v0").unwrap();
    let env = features(&[("kind", text("env"))]);
    for gamma in [0.99, 0.9, 0.8] {
        let data = linear(&mdp, two_state_data(&mdp, gamma), &env);
        let mut learner = pessimist::algo::build("fqi", &random_init(1.0), &data).unwrap();
        let mut previous = learner.q()[[0, 0]];
        assert!(previous != 0.0);
        for k in 0..50 {
            learner.step().unwrap();
            let now = learner.q()[[0, 0]];
            let ratio = now / previous;
            assert!(
                (ratio - 6.0 * gamma / 5.0).abs() < 1e-6,
                "γ = {gamma}, iteration {k}: θ multiplied by {ratio}"
            );
            previous = now;
        }
        // Q(1) = 2 Q(0) throughout: the features tie them.
        let q = learner.q();
        assert!((q[[1, 0]] - 2.0 * q[[0, 0]]).abs() <= 1e-9 * q[[1, 0]].abs());
    }
}

/// 10,000 transitions of Baird's behaviour, with the star's features.
fn baird_data(gamma: f64) -> TrainData {
    let mdp = envs::make("Baird-v0").unwrap();
    let dataset = data::collect(&mdp, Quality::Behavior, 10_000, 0, gamma).unwrap();
    linear(
        &mdp,
        train_data(&mdp, dataset, gamma, 0),
        &features(&[("kind", text("env"))]),
    )
}

/// Baird's star: semi-gradient Q-learning from random weights multiplies
/// the largest |Q| by a million within 300 epochs of 10k transitions,
/// while every true value is 0; least-squares FQI on the same data fits
/// its 14 pairs exactly and stays bounded.
#[test]
fn baird_semi_gradient_q_learning_diverges_and_least_squares_does_not() {
    let data = baird_data(0.99);
    let sample = params(&[
        ("variant", text("sample")),
        ("lr", ParamValue::Number(0.01)),
        ("q_init", text("random")),
    ]);
    let mut learner = pessimist::algo::build("fqi", &sample, &data).unwrap();
    let start = largest_abs(&learner.q());
    let mut grew_at = None;
    for epoch in 0..300 {
        learner.step().unwrap();
        let now = largest_abs(&learner.q());
        if now >= 1e6 * start {
            grew_at = Some(epoch);
            break;
        }
    }
    assert!(grew_at.is_some(), "|Q| stayed within 1e6 × {start}");
    let fitted = trained("fqi", &random_init(1.0), &data, 300);
    let bound = largest_abs(&fitted.q());
    assert!(bound < 10.0, "least-squares FQI reached |Q| = {bound}");
}

/// A spec's `features` reach the run: its id differs from the tabular
/// run's, a list of representations is an axis, and a key of another kind
/// is an error at the key.
#[test]
fn specs_carry_features_into_runs() {
    use pessimist::experiment::spec;
    let path = std::path::Path::new("experiments/t.toml");
    let head =
        "name = \"t\"\nenv = \"FrozenLake-v1\"\ndataset = { policy = \"random\", size = 100 }\n";
    let parsed = spec::parse(
        path,
        &format!("{head}features = [\"tabular\", {{ kind = \"tile\", tilings = 4 }}]\n[[algo]]\nname = \"fqi\"\n"),
    )
    .unwrap();
    assert_eq!(parsed.runs.len(), 2);
    assert!(parsed.runs[0].features.is_tabular());
    assert_eq!(
        parsed.runs[1].features.label(),
        "tile actions=blocks size=512 tiles=4 tilings=4"
    );
    assert_ne!(parsed.runs[0].id(), parsed.runs[1].id());
    let e = spec::parse(
        path,
        &format!("{head}features = {{ kind = \"poly\", tilings = 4 }}\n[[algo]]\nname = \"fqi\"\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("t.toml:4:") && e.contains("kind = \"tile\""),
        "{e}"
    );
}

/// The online baseline with one-hot features is the tabular learner bit
/// for bit: the same interaction (one seeded stream), and a semi-gradient
/// step along a one-hot φ(s,a) moves exactly its cell.
#[test]
fn onehot_online_is_tabular_online() {
    for id in ["FrozenLake8x8-v1", "CliffWalkingSlippery-v1"] {
        let (table, lin) = table_and_onehot(id, Quality::Random, 20_000);
        let (a, b) = (
            trained("online", &Params::new(), &table, 100),
            trained("online", &Params::new(), &lin, 100),
        );
        assert!(largest_abs(&a.q()) > 0.0, "{id}: online learned nothing");
        assert_eq!(a.q(), b.q(), "{id}");
    }
}

/// Least-squares FQE with features that can represent Q^π (random
/// projections of the 16 states onto 16 dimensions, per-action blocks:
/// full rank almost surely, so any Q) on data whose empirical MDP is the
/// true one converges to the exact Q^π on every pair the data shows.
#[test]
fn linear_fqe_converges_to_the_exact_value_when_features_can_represent_it() {
    let mdp = envs::make("FrozenLake-v1").unwrap();
    let gamma = 0.9;
    let data = train_data(&mdp, exact_dataset(&mdp), gamma, 3);
    let data = linear(
        &mdp,
        data,
        &features(&[("kind", text("random")), ("dim", ParamValue::Number(16.0))]),
    );
    for target in ["uniform", "optimal"] {
        let learner = trained("fqe", &params(&[("target", text(target))]), &data, 400);
        let exact = solve::evaluate_policy(&mdp, &learner.policy(), gamma)
            .unwrap()
            .q;
        let q = learner.q();
        let mut worst: f64 = 0.0;
        for s in (0..mdp.n_states()).filter(|&s| !mdp.is_absorbing(s)) {
            for a in 0..mdp.n_actions() {
                worst = worst.max((q[[s, a]] - exact[[s, a]]).abs());
            }
        }
        assert!(worst < 1e-6, "{target}: |Q − Q^π| up to {worst}");
    }
    // Coarse features cannot: the grid's five numbers per action leave an error.
    let coarse = linear(
        &mdp,
        train_data(&mdp, exact_dataset(&mdp), gamma, 3),
        &features(&[("kind", text("grid"))]),
    );
    let learner = trained("fqe", &params(&[("target", text("uniform"))]), &coarse, 400);
    let exact = solve::evaluate_policy(&mdp, &learner.policy(), gamma)
        .unwrap()
        .q;
    let error = (&learner.q() - &exact)
        .iter()
        .fold(0.0, |m: f64, x| m.max(x.abs()));
    assert!(error > 1e-3, "grid features fit Q^uniform to {error}");
}

/// The action a deterministic policy's row takes.
fn greedy_action(row: ndarray::ArrayView1<f64>) -> Option<usize> {
    row.iter().position(|&p| p == 1.0)
}

/// Every offline learner beside fqi and fqe (checked on their own above),
/// from the library's list, so each new one is checked as it lands; and
/// whether each takes `q_init`. `online` has its own test below.
fn other_linear_forms() -> Vec<(&'static str, bool)> {
    algo::names()
        .into_iter()
        .filter(|name| !["fqi", "fqe", "online"].contains(name))
        .map(|name| (name, algo::resolve_params(name, &random_init(1.0)).is_ok()))
        .collect()
}

/// The largest |x − y| over two tables.
fn largest_gap(a: &ndarray::Array2<f64>, b: &ndarray::Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0, |m: f64, x| m.max(x.abs()))
}

/// Every algorithm but `online` (and `fqi`, `fqe`, `bc`, checked on their
/// own) with one-hot features is its tabular form: the projection of each
/// iteration is exact, so Q agrees to 1e-6 after 30 iterations, from zero
/// and from random values where the algorithm has `q_init`, and the
/// policies agree to 1e-4 per probability (a temperature of 0.01 turns
/// 1e-6 in Q into 1e-4 in π), except where greedy policies break a tie
/// of Q differently.
#[test]
fn onehot_projected_iteration_is_the_tabular_algorithm() {
    let random = random_init(2.0);
    for (id, quality) in [
        ("FrozenLake8x8-v1", Quality::Medium),
        ("CliffWalkingSlippery-v1", Quality::Random),
    ] {
        let (table, lin) = table_and_onehot(id, quality, 20_000);
        for (name, has_init) in other_linear_forms()
            .into_iter()
            .filter(|(name, _)| *name != "bc")
        {
            let inits = if has_init {
                vec![Params::new(), random.clone()]
            } else {
                vec![Params::new()]
            };
            for p in inits {
                let a = trained(name, &p, &table, 30);
                let b = trained(name, &p, &lin, 30);
                let (pa, mut qa, mut qb) = (a.policy(), a.q(), b.q());
                if name == "cql" || name == "combo" {
                    // Unseen actions π has left (σ < 1e-12) sink by τ a
                    // step while cql's Armijo test accepts a decrease of
                    // order σ; once it is below rounding, whether one more
                    // step is taken is rounding's choice, on either side.
                    for ((s, act), x) in qa.indexed_iter_mut() {
                        if table.compiled.count(s, act) == 0 && pa[[s, act]] < 1e-12 {
                            *x = 0.0;
                            qb[[s, act]] = 0.0;
                        }
                    }
                }
                let gap = largest_gap(&qa, &qb);
                let scale = largest_abs(&a.q());
                assert!(
                    gap < 1e-6,
                    "{name} on {id} {p:?}: |Q_table − Q_linear| = {gap} (|Q| up to {scale})"
                );
                // Greedy policies may break a tie of Q either way.
                let pb = b.policy();
                for s in 0..table.compiled.n_states {
                    let pi_gap = (&pa.row(s) - &pb.row(s))
                        .iter()
                        .fold(0.0, |m: f64, x| m.max(x.abs()));
                    let (x, y) = (greedy_action(pa.row(s)), greedy_action(pb.row(s)));
                    if let (Some(x), Some(y)) = (x, y)
                        && (qa[[s, x]] - qa[[s, y]]).abs() <= 1e-6
                    {
                        continue;
                    }
                    assert!(pi_gap < 1e-4, "{name} on {id} {p:?}: |Δπ({s})| = {pi_gap}");
                }
            }
        }
    }
}

/// Linear bc with one-hot features clones the behaviour as tabular bc
/// does: the logistic regression's π is the count ratio to 1e-4 per
/// probability, with the same most likely action wherever the counts have
/// one, on three datasets.
#[test]
fn onehot_linear_bc_is_tabular_bc() {
    for (id, quality, size) in [
        ("FrozenLake8x8-v1", Quality::Medium, 20_000),
        ("CliffWalkingSlippery-v1", Quality::Random, 20_000),
        ("Taxi-v4", Quality::Medium, 50_000),
    ] {
        let (table, lin) = table_and_onehot(id, quality, size);
        let (a, b) = (
            trained("bc", &Params::new(), &table, 0),
            trained("bc", &Params::new(), &lin, 0),
        );
        let (pa, pb) = (a.policy(), b.policy());
        let gap = largest_gap(&pa, &pb);
        assert!(gap < 1e-4, "{id}: |π_table − π_linear| = {gap}");
        for s in 0..table.compiled.n_states {
            let row = pa.row(s);
            let top = row.iter().fold(0.0f64, |m, &p| m.max(p));
            let leaders: Vec<usize> = (0..row.len()).filter(|&x| row[x] == top).collect();
            if let [leader] = leaders[..] {
                let best = pb.row(s).iter().fold(0.0f64, |m, &p| m.max(p));
                assert_eq!(pb[[s, leader]], best, "{id} state {s}");
            }
        }
    }
}

/// The pessimistic algorithms (with their defaults) started from the
/// weights fqi's `q_init = "random"` draws, put in place through a
/// checkpoint (most have no `q_init`, and from 0, a fixed point of every
/// linear iteration here, nothing could grow).
fn from_random_weights(name: &str, data: &TrainData) -> Box<dyn pessimist::algo::Algorithm> {
    let start = pessimist::algo::build("fqi", &random_init(1.0), data).unwrap();
    let mut learner = pessimist::algo::build(name, &Params::new(), data).unwrap();
    let mut state = learner.save_state();
    state["theta"] = start.save_state()["theta"].clone();
    learner.load_state(&state).unwrap();
    learner
}

/// Baird's star, where semi-gradient Q-learning runs away (the test
/// above): every projected linear form stays below |Q| = 2 (its start is
/// 1.998) for 300 iterations. Not thanks to pessimism: the star's 16
/// features fit its 14 pairs exactly, so each projection is the table's
/// own step, and every tabular rule here is a contraction.
#[test]
fn baird_every_projected_form_stays_bounded() {
    let data = baird_data(0.99);
    for (name, _) in other_linear_forms() {
        let mut learner = from_random_weights(name, &data);
        let mut worst: f64 = 0.0;
        for _ in 0..300 {
            learner.step().unwrap();
            worst = worst.max(largest_abs(&learner.q()));
        }
        assert!(worst < 2.0, "{name} reached |Q| = {worst} on Baird-v0");
    }
}

/// TwoState-v0 at γ = 0.99, from the same random weights: atac clips every
/// critic value to the return range, here [0, 0], and brac, awac and iql
/// their next-state values, so each projection fits zeros and only the
/// ridge's pull towards the previous weights is left (|Q| below 1e-180
/// after 10 iterations, exactly 0 after 100). Every other pessimist runs
/// away like least-squares FQI (|Q| ≥ 1e6 within 300 iterations;
/// measured: 2.9e6 after 100): with one action, behaviour constraints
/// (bcq, td3bc, bc's clone) admit the only action, CQL's push-down and push-up cancel
/// (τ log Σ exp(f/τ) = f = E_π̂β f), COMBO's rollouts follow the data,
/// fisher-brc's penalty only damps the step (1.6e62 after 1000 iterations
/// against fqi's 6.3e73), and vi-lcb's clip is a floor (0) only: from
/// positive weights its values climb as fqi's.
#[test]
fn two_state_only_the_clipped_stay_bounded() {
    let mdp = envs::make("TwoState-v0").unwrap();
    let data = linear(
        &mdp,
        two_state_data(&mdp, 0.99),
        &features(&[("kind", text("env"))]),
    );
    for (name, _) in other_linear_forms() {
        let mut learner = from_random_weights(name, &data);
        let start = largest_abs(&learner.q());
        assert!(start > 0.01, "{name} starts at |Q| = {start}");
        let mut reached: f64 = 0.0;
        for _ in 0..300 {
            learner.step().unwrap();
            reached = reached.max(largest_abs(&learner.q()));
        }
        if ["atac", "brac", "awac", "iql"].contains(&name) {
            assert_eq!(largest_abs(&learner.q()), 0.0, "{name} on TwoState-v0");
            assert!(reached <= start, "{name} reached |Q| = {reached}");
        } else {
            assert!(reached >= 1e6, "{name} stayed within |Q| = {reached}");
        }
    }
}

/// A projected learner resumes from its checkpoint exactly: θ, the
/// iteration and the rule's own state (atac's actor) come back, and cql's
/// cached softmax is rebuilt from the restored weights.
#[test]
fn projected_learners_resume_from_checkpoints_bit_for_bit() {
    let mdp = envs::make("FrozenLake-v1").unwrap();
    let dataset = data::collect(&mdp, Quality::Medium, 5_000, 2, 0.95).unwrap();
    let data = linear(
        &mdp,
        train_data(&mdp, dataset, 0.95, 2),
        &features(&[("kind", text("rbf"))]),
    );
    for name in ["atac", "cql", "bc", "vi-lcb"] {
        let mut straight = trained(name, &Params::new(), &data, 5);
        let state = serde_json::to_string(&straight.save_state()).unwrap();
        let mut resumed = pessimist::algo::build(name, &Params::new(), &data).unwrap();
        resumed
            .load_state(&serde_json::from_str(&state).unwrap())
            .unwrap();
        for _ in 0..5 {
            straight.step().unwrap();
            resumed.step().unwrap();
        }
        assert_eq!(straight.q(), resumed.q(), "{name}");
        assert_eq!(straight.policy(), resumed.policy(), "{name}");
    }
}

/// A diverged learner's checkpoint restores its inf and NaN weights as
/// they were (JSON numbers cannot hold them).
#[test]
fn diverged_weights_survive_a_checkpoint() {
    let mdp = envs::make("TwoState-v0").unwrap();
    let data = linear(
        &mdp,
        two_state_data(&mdp, 0.99),
        &features(&[("kind", text("env"))]),
    );
    let mut learner = pessimist::algo::build("fqi", &random_init(1e12), &data).unwrap();
    while learner.q()[[0, 0]].is_finite() {
        learner.step().unwrap();
    }
    let state = serde_json::to_string(&learner.save_state()).unwrap();
    let mut resumed = pessimist::algo::build("fqi", &Params::new(), &data).unwrap();
    resumed
        .load_state(&serde_json::from_str(&state).unwrap())
        .unwrap();
    assert_eq!(format!("{:?}", learner.q()), format!("{:?}", resumed.q()));
}

/// combo's linear form with a one-iteration model buffer is combo's linear
/// form as it was before the buffer: Q and π bit for bit (digests recorded
/// from that code).
#[test]
fn linear_combo_with_a_one_iteration_buffer_is_combo_before_the_buffer() {
    let p = params(&[("buffer", ParamValue::Number(1.0))]);
    for (id, quality, want) in [
        ("FrozenLake8x8-v1", Quality::Medium, "69bea7315c61d6e3"),
        (
            "CliffWalkingSlippery-v1",
            Quality::Random,
            "e055a24742743ab4",
        ),
    ] {
        let (_, lin) = table_and_onehot(id, quality, 20_000);
        let got = digest(&*trained("combo", &p, &lin, 100));
        assert_eq!(got, want, "{id} {quality}");
    }
}
