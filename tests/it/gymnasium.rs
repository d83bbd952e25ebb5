//! Every Gymnasium-named environment equals Gymnasium itself: the fixtures
//! were dumped from Gymnasium's own `env.unwrapped.P` and classic-control
//! trajectories by `scripts/gymnasium_fixtures.py`, so this test needs no
//! Python.

use pessimist::env::{self, Acrobot, CartPole, Env, MountainCar};
use pessimist::mdp::envs;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Deserialize;

/// One entry of Gymnasium's P[s][a]: (prob, next_state, reward, terminated).
type Entry = (f64, u32, f64, bool);

#[derive(Deserialize)]
struct Fixture {
    id: String,
    gymnasium_version: String,
    n_states: usize,
    n_actions: usize,
    initial_state_distribution: Vec<f64>,
    #[serde(rename = "P")]
    p: Vec<Vec<Vec<Entry>>>,
    max_episode_steps: Option<usize>,
}

fn check(id: &str) {
    let path = format!(
        "{}/tests/fixtures/gymnasium/{id}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture.id, id);
    let mdp = envs::make(id).unwrap();
    let context = format!("{id} vs Gymnasium {}", fixture.gymnasium_version);
    assert_eq!(mdp.n_states(), fixture.n_states, "{context}");
    assert_eq!(mdp.n_actions(), fixture.n_actions, "{context}");
    assert_eq!(
        mdp.time_limit(),
        fixture.max_episode_steps,
        "{context}: time limit"
    );
    assert_eq!(
        mdp.initial(),
        &fixture.initial_state_distribution[..],
        "{context}: d0"
    );
    for (s, row) in fixture.p.iter().enumerate() {
        for (a, expected) in row.iter().enumerate() {
            let got: Vec<Entry> = mdp
                .outcomes(s, a)
                .iter()
                .map(|o| (o.prob, o.next, o.reward, o.terminated))
                .collect();
            assert_eq!(&got, expected, "{context}: P[{s}][{a}]");
        }
    }
}

#[test]
fn frozen_lake_4x4_matches_gymnasium() {
    check("FrozenLake-v1");
}

#[test]
fn frozen_lake_8x8_matches_gymnasium() {
    check("FrozenLake8x8-v1");
}

#[test]
fn cliff_walking_matches_gymnasium() {
    check("CliffWalking-v1");
}

#[test]
fn slippery_cliff_walking_matches_gymnasium() {
    check("CliffWalkingSlippery-v1");
}

#[test]
fn taxi_matches_gymnasium() {
    check("Taxi-v4");
}

/// One classic-control trajectory as Gymnasium played it: after each
/// action, the internal state (float64) and the observation (float32).
#[derive(Deserialize)]
struct Case {
    id: String,
    name: String,
    start: Vec<f64>,
    actions: Vec<usize>,
    states: Vec<Vec<f64>>,
    observations: Vec<Vec<f64>>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

/// A classical controller's episode from one of Gymnasium's seeded starts.
#[derive(Deserialize)]
struct Controlled {
    id: String,
    seed: u64,
    start: Vec<f64>,
    #[serde(rename = "return")]
    total: f64,
    steps: usize,
    terminated: bool,
}

#[derive(Deserialize)]
struct Trajectories {
    gymnasium_version: String,
    cases: Vec<Case>,
    controllers: Vec<Controlled>,
}

fn trajectories() -> Trajectories {
    let path = format!(
        "{}/tests/fixtures/gymnasium/classic_control.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Gymnasium's observation is ours rounded to float32.
fn assert_observes<O: serde::Serialize>(ours: &O, theirs: &[f64], context: &str) {
    let ours: Vec<f64> = serde_json::from_value(serde_json::to_value(ours).unwrap()).unwrap();
    let rounded: Vec<f64> = ours.iter().map(|&x| f64::from(x as f32)).collect();
    assert_eq!(rounded, theirs, "{context}: observation {ours:?}");
}

/// Steps `env` through the case from its start state: every state to
/// 1e-9 (in fact to the bit), every observation, reward and end flag
/// exactly; then the same actions through [`env::rollout`], which must end
/// where Gymnasium's episode ends.
fn replay<E: Env>(env: &E, case: &Case, version: &str, state_of: impl Fn(&E::State) -> Vec<f64>) {
    let start_text = case
        .start
        .iter()
        .map(f64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let start = env.parse_state(&start_text).unwrap();
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let mut state = start;
    assert_observes(&env.observe(&state), &case.observations[0], &case.name);
    for (t, &a) in case.actions.iter().enumerate() {
        let context = format!(
            "{} vs Gymnasium {version}, {}: step {}",
            case.id,
            case.name,
            t + 1
        );
        let step = env.step(&mut state, a, &mut rng);
        let (ours, theirs) = (state_of(&state), &case.states[t]);
        assert_eq!(ours.len(), theirs.len(), "{context}");
        for (x, y) in ours.iter().zip(theirs) {
            assert!(
                (x - y).abs() <= 1e-9,
                "{context}: state {ours:?}, Gymnasium's {theirs:?}"
            );
        }
        assert_observes(&env.observe(&state), &case.observations[t + 1], &context);
        assert_eq!(step.reward, case.rewards[t], "{context}: reward");
        assert_eq!(step.terminated, case.terminated[t], "{context}: terminated");
        assert_eq!(
            env.time_limit() == Some(t + 1),
            case.truncated[t],
            "{context}: truncated"
        );
    }
    let end = (0..case.actions.len())
        .find(|&t| case.terminated[t] || case.truncated[t])
        .unwrap()
        + 1;
    let played = env::rollout(env, start, &case.actions[..end], &mut rng).unwrap();
    assert_eq!(
        (played.terminated, played.truncated),
        (case.terminated[end - 1], case.truncated[end - 1]),
        "{}",
        case.name
    );
    assert_eq!(played.rewards, case.rewards[..end], "{}", case.name);
    if end < case.actions.len() {
        assert!(env::rollout(env, start, &case.actions, &mut rng).is_err());
    }
}

/// `MountainCar-v0`, `CartPole-v1` and `Acrobot-v1` follow Gymnasium's
/// trajectories: goals reached, poles fallen (and CartPole's 0 reward for
/// steps past termination), wrapped angles, and truncation at 200 and 500
/// steps.
#[test]
fn classic_control_trajectories_match_gymnasium() {
    let fixture = trajectories();
    let version = &fixture.gymnasium_version;
    let mut ends = Vec::new();
    for case in &fixture.cases {
        match case.id.as_str() {
            "MountainCar-v0" => replay(&MountainCar, case, version, |s| s.to_vec()),
            "CartPole-v1" => replay(&CartPole, case, version, |s| s.x.to_vec()),
            "Acrobot-v1" => replay(&Acrobot, case, version, |s| s.to_vec()),
            other => panic!("no environment {other}"),
        }
        ends.push((
            case.id.as_str(),
            case.terminated.iter().any(|&t| t),
            case.truncated.iter().any(|&t| t),
        ));
    }
    // Each environment is seen both terminating and truncated.
    for id in ["MountainCar-v0", "CartPole-v1", "Acrobot-v1"] {
        assert!(
            ends.contains(&(id, true, false)),
            "{id}: no terminating case"
        );
        assert!(ends.contains(&(id, false, true)), "{id}: no truncated case");
    }
}

/// The classical controllers (`env rollout --controller`) score what they
/// score in Gymnasium from the same starts: energy pumping reaches
/// MountainCar's goal, the PD controller balances CartPole for 500 steps,
/// energy pumping swings Acrobot's tip above the bar.
#[test]
fn classical_controllers_match_gymnasium() {
    struct Control<'a>(&'a Controlled);
    impl env::Visit for Control<'_> {
        type Out = (f64, usize, bool);
        fn visit<E: Env>(&self, env: &E) -> Self::Out {
            let text = self
                .0
                .start
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let start = env.parse_state(&text).unwrap();
            let t = env::control(env, start, &mut Pcg64Mcg::seed_from_u64(0)).unwrap();
            (t.rewards.iter().sum(), t.rewards.len(), t.terminated)
        }
    }
    let fixture = trajectories();
    for c in &fixture.controllers {
        let got = env::visit_continuous(&c.id, &Control(c)).unwrap();
        assert_eq!(
            got,
            (c.total, c.steps, c.terminated),
            "{} from Gymnasium {}'s seed {} start",
            c.id,
            fixture.gymnasium_version,
            c.seed
        );
    }
    let solved = |id: &str, ok: &dyn Fn(&Controlled) -> bool| {
        fixture.controllers.iter().filter(|c| c.id == id).all(ok)
    };
    assert!(solved("MountainCar-v0", &|c| c.terminated));
    assert!(solved("CartPole-v1", &|c| c.steps == 500 && !c.terminated));
    assert!(solved("Acrobot-v1", &|c| c.terminated));
}
