//! Every Gymnasium-named environment equals Gymnasium itself: the fixtures
//! were dumped from Gymnasium's own `env.unwrapped.P` by
//! `scripts/gymnasium_fixtures.py`, so this test needs no Python.

use pessimist::mdp::envs;
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
