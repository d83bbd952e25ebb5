//! The algorithms against theory: exact optima, the lecture's toy problems,
//! and checkpoints that restore bit for bit.

use crate::support::learning::{exact_dataset, params, text, train_data, trained};
use pessimist::algo::{self, Key, ParamValue, Params, TrainData};
use pessimist::data::{self, Quality};
use pessimist::eval::Evaluator;
use pessimist::mdp::{envs, solve};
use pessimist::params::Kind;
use std::sync::Arc;

#[test]
fn fqi_on_the_true_model_converges_to_the_optimum() {
    for id in [
        "ThreeState-v0",
        "ImitationTrap-v0",
        "FrozenLake-v1",
        "CliffWalkingSlippery-v1",
        "Taxi-v4",
        "Chain-v7",
    ] {
        let mdp = envs::make(id).unwrap();
        let gamma = 0.95;
        let data = train_data(&mdp, exact_dataset(&mdp), gamma, 0);
        let learner = trained("fqi", &Params::new(), &data, 2_000);
        let optimum = solve::optimal(&mdp, gamma).unwrap();
        let q = learner.q();
        for s in (0..mdp.n_states()).filter(|&s| !mdp.is_absorbing(s)) {
            for a in 0..mdp.n_actions() {
                let (got, want) = (q[[s, a]], optimum.values.q[[s, a]]);
                assert!(
                    (got - want).abs() < 1e-9,
                    "{id} Q({s},{a}) = {got}, Q* = {want}"
                );
            }
        }
        let j = solve::evaluate_policy(&mdp, &learner.policy(), gamma)
            .unwrap()
            .j;
        assert!((j - optimum.values.j).abs() < 1e-12, "{id}: J = {j}");
    }
}

#[test]
fn imitation_trap_bc_copies_the_mix_and_fqi_finds_the_good_action() {
    let mdp = Arc::new(envs::make("ImitationTrap-v0").unwrap());
    let gamma = 0.9;
    let dataset = data::collect(&mdp, Quality::Behavior, 10_000, 0, gamma).unwrap();
    let data = train_data(&mdp, dataset, gamma, 0);
    let evaluator = Evaluator::new(mdp.clone(), gamma, data.compiled.clone()).unwrap();
    let bc = trained("bc", &Params::new(), &data, 10);
    let m = evaluator.evaluate(&bc.q(), &bc.policy()).unwrap();
    // The cloned mix is 50/50 up to sampling noise: J = 0.5·1 + 0.5·(−10).
    let p_good = bc.policy()[[0, 0]];
    assert!((p_good - 0.5).abs() < 0.03, "π_BC(a0) = {p_good}");
    assert!((m.true_return - (11.0 * p_good - 10.0)).abs() < 1e-12);
    assert!(
        (m.true_return - (-4.5)).abs() < 0.35,
        "BC J = {}",
        m.true_return
    );
    let fqi = trained("fqi", &Params::new(), &data, 10);
    let m = evaluator.evaluate(&fqi.q(), &fqi.policy()).unwrap();
    assert_eq!(m.true_return, 1.0);
    assert_eq!(m.normalized_score, 100.0);
}

/// The counterfactual-query problem: unseen (S1,a1) and (S2,a1) keep their
/// initial values. At zero they are harmless; optimistic or random values
/// make q_est exceed the true return, and a high enough value lures the
/// greedy policy into S2.
#[test]
fn three_state_q_learning_overestimates_with_nonzero_initialisation() {
    let mdp = Arc::new(envs::make("ThreeState-v0").unwrap());
    let gamma = 0.9;
    let dataset = data::collect(&mdp, Quality::Behavior, 2_000, 0, gamma).unwrap();
    let data = train_data(&mdp, dataset, gamma, 0);
    let evaluator = Evaluator::new(mdp.clone(), gamma, data.compiled.clone()).unwrap();
    let sample = |init: &str| {
        let p = params(&[
            ("variant", text("sample")),
            ("q_init", text(init)),
            ("lr", ParamValue::Number(0.5)),
        ]);
        let learner = trained("fqi", &p, &data, 200);
        evaluator.evaluate(&learner.q(), &learner.policy()).unwrap()
    };
    let zero = sample("zero");
    assert!(
        (zero.true_return - 0.9).abs() < 1e-12,
        "zero init J = {}",
        zero.true_return
    );
    assert!(zero.gap.abs() < 1e-6, "zero init gap = {}", zero.gap);
    // Optimistic: the unseen pairs hold r_max / (1 − γ) = 10, so q_est = γ·10.
    let optimistic = sample("optimistic");
    assert!(
        (optimistic.q_est - 9.0).abs() < 1e-6,
        "q_est = {}",
        optimistic.q_est
    );
    assert!(optimistic.gap > 8.0, "gap = {}", optimistic.gap);
    assert!(optimistic.ood_fraction > 0.0);
    // Random values, seed by seed: FQI learns every pair the data shows
    // exactly (its Bellman backup), leaves the unseen (S1,a1) and (S2,a1)
    // at their initial values, and walks into the −10 state exactly when
    // the unseen (S2,a1) extrapolates above what S1 offers (at least +1),
    // believing then that S0 is worth γ·Q(S2,a1) > γ. Both outcomes occur.
    let (s0, s1, s2) = (0, 1, 2);
    let p = params(&[
        ("q_init", text("random")),
        ("init_scale", ParamValue::Number(5.0)),
    ]);
    let (mut lured, mut safe) = (0, 0);
    for seed in 0..20u64 {
        let data = TrainData {
            seed,
            ..data.clone()
        };
        let init = trained("fqi", &p, &data, 0).q();
        let learner = trained("fqi", &p, &data, 50);
        let q = learner.q();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(
            q[[s1, 1]],
            init[[s1, 1]],
            "seed {seed}: unseen (S1,a1) moved"
        );
        assert_eq!(
            q[[s2, 1]],
            init[[s2, 1]],
            "seed {seed}: unseen (S2,a1) moved"
        );
        assert!(
            close(q[[s1, 0]], 1.0),
            "seed {seed}: Q(S1,a0) = {}",
            q[[s1, 0]]
        );
        assert!(
            close(q[[s2, 0]], -10.0),
            "seed {seed}: Q(S2,a0) = {}",
            q[[s2, 0]]
        );
        let v1 = q[[s1, 0]].max(q[[s1, 1]]);
        let v2 = q[[s2, 0]].max(q[[s2, 1]]);
        assert!(close(q[[s0, 0]], gamma * v1), "seed {seed}: Q(S0,a0)");
        assert!(close(q[[s0, 1]], gamma * v2), "seed {seed}: Q(S0,a1)");
        let m = evaluator.evaluate(&q, &learner.policy()).unwrap();
        assert!(close(m.q_est, gamma * v1.max(v2)), "seed {seed}: q_est");
        if init[[s2, 1]] > v1 {
            lured += 1;
            assert!(close(m.true_return, -10.0 * gamma), "seed {seed}: J");
            assert!(m.q_est > gamma, "seed {seed}: q_est = {}", m.q_est);
        } else {
            safe += 1;
            assert!(close(m.true_return, gamma), "seed {seed}: J");
        }
    }
    assert!(
        lured > 0 && safe > 0,
        "{lured} lured, {safe} safe of 20 seeds"
    );
}

#[test]
fn sweep_and_sample_variants_agree_on_deterministic_data() {
    let mdp = envs::make("ThreeState-v0").unwrap();
    let gamma = 0.9;
    let data = train_data(&mdp, exact_dataset(&mdp), gamma, 3);
    let sweep = trained("fqi", &Params::new(), &data, 100);
    let p = params(&[("variant", text("sample")), ("lr", ParamValue::Number(1.0))]);
    let sample = trained("fqi", &p, &data, 100);
    let (a, b) = (sweep.q(), sample.q());
    assert!(
        a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() < 1e-9),
        "{a} vs {b}"
    );
}

#[test]
fn checkpoints_restore_exactly() {
    let mdp = envs::make("ThreeState-v0").unwrap();
    let gamma = 0.9;
    let dataset = data::collect(&mdp, Quality::Random, 500, 1, gamma).unwrap();
    let data = train_data(&mdp, dataset, gamma, 1);
    for (name, p) in [
        (
            "fqi",
            params(&[
                ("variant", text("sample")),
                ("q_init", text("random")),
                ("lr_decay", ParamValue::Number(0.1)),
            ]),
        ),
        ("fqi", Params::new()),
        ("bc", Params::new()),
    ] {
        let mut straight = trained(name, &p, &data, 7);
        let mut resumed = trained(name, &p, &data, 3);
        let state = resumed.save_state();
        let mut fresh = algo::build(name, &p, &data).unwrap();
        fresh.load_state(&state).unwrap();
        resumed = fresh;
        for _ in 3..7 {
            resumed.step().unwrap();
        }
        assert_eq!(straight.q(), resumed.q(), "{name}");
        straight.step().unwrap();
        resumed.step().unwrap();
        assert_eq!(straight.q(), resumed.q(), "{name}");
    }
}

#[test]
fn unknown_names_and_keys_list_the_valid_ones() {
    let e = algo::resolve_params("fqj", &Params::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `fqi`") && e.contains("bc"), "{e}");
    let e = algo::resolve_params("fqi", &params(&[("q_inti", text("zero"))]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("q_init"), "{e}");
    let e = algo::resolve_params("fqi", &params(&[("q_init", text("big"))]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("zero, optimistic, random"), "{e}");
    let resolved = algo::resolve_params("fqi", &Params::new()).unwrap();
    assert_eq!(resolved["variant"], text("sweep"));
}

/// The parameters that choose `key`'s owner, if it has one.
fn owner_chosen(key: &Key) -> Params {
    key.only_with
        .map(|o| params(&[(o.key, text(o.choice))]))
        .unwrap_or_default()
}

/// Every algorithm's `KEYS` is what `Config::read` reads: no keys resolve
/// to exactly the keys of the default choices at the table's defaults; a
/// key of another choice is refused, naming it, until that choice is made;
/// every number is refused just outside its range, with the range named;
/// and no choice makes a key the table does not list.
#[test]
fn every_algorithm_reads_exactly_its_key_table() {
    for name in algo::names() {
        let keys = algo::keys(name).unwrap();
        let default_of = |owner: &str| {
            keys.iter()
                .find(|k| k.name == owner)
                .unwrap_or_else(|| panic!("{name}: no key `{owner}` owns a key"))
                .default_value()
        };
        let expected: Params = keys
            .iter()
            .filter(|k| {
                k.only_with
                    .is_none_or(|o| default_of(o.key) == text(o.choice))
            })
            .map(|k| (k.name.to_string(), k.default_value()))
            .collect();
        assert_eq!(
            algo::resolve_params(name, &Params::new()).unwrap(),
            expected,
            "{name}"
        );
        for key in keys {
            let mut given = owner_chosen(key);
            let owner = key.only_with.map(|o| o.to_string());
            given.insert(key.name.to_string(), key.default_value());
            let resolved = algo::resolve_params(name, &given).unwrap();
            assert_eq!(
                resolved[key.name],
                key.default_value(),
                "{name} {}",
                key.name
            );
            if let Some(owner) = owner.filter(|_| !expected.contains_key(key.name)) {
                let alone = params(&[(key.name, key.default_value())]);
                let e = algo::resolve_params(name, &alone).unwrap_err().to_string();
                assert!(
                    e.contains(&format!("used only with {owner}")),
                    "{name}: {e}"
                );
            }
            let (min, max, below, above) = match key.kind {
                Kind::Number { min, max, .. } => (min, max, min.next_down(), max.next_up()),
                Kind::Integer { min, max, .. } => {
                    let (min, max) = (min as f64, max as f64);
                    (min, max, min - 1.0, max + 1.0)
                }
                Kind::Choice { choices, .. } => {
                    given.insert(key.name.to_string(), text("no-such-choice"));
                    let e = algo::resolve_params(name, &given).unwrap_err().to_string();
                    assert!(e.contains(&choices.join(", ")), "{name}: {e}");
                    for choice in choices {
                        given.insert(key.name.to_string(), text(choice));
                        let resolved = algo::resolve_params(name, &given).unwrap();
                        let unlisted: Vec<&String> = resolved
                            .keys()
                            .filter(|k| !keys.iter().any(|key| key.name == k.as_str()))
                            .collect();
                        assert!(unlisted.is_empty(), "{name}: {unlisted:?} not in KEYS");
                    }
                    continue;
                }
            };
            for inside in [min, max] {
                given.insert(key.name.to_string(), ParamValue::Number(inside));
                algo::resolve_params(name, &given).unwrap();
            }
            for outside in [below, above] {
                given.insert(key.name.to_string(), ParamValue::Number(outside));
                let e = algo::resolve_params(name, &given).unwrap_err().to_string();
                let range = format!("must be in [{min}, {max}]");
                assert!(
                    e.contains(&format!("`{}` =", key.name)) && e.contains(&range),
                    "{name}: {e}"
                );
            }
        }
    }
}
