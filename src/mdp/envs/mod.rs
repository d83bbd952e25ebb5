//! Built-in environments, by Gymnasium-compatible id.

mod cliff_walking;
mod counterexamples;
mod file;
mod frozen_lake;
mod taxi;
mod toy;

pub use file::{MAX_EPISODE_STEPS, from_json};
pub use frozen_lake::{BUNDLED_MAPS, parse_map};
pub use toy::{BANDIT_ARMS, BANDIT_BEHAVIOR};

use super::TabularMdp;
use crate::error::{Error, Result, did_you_mean};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// One entry of `pessimist env list`.
#[derive(Debug, Clone)]
pub struct EnvInfo {
    pub id: String,
    pub summary: String,
}

fn info(id: &str, summary: &str) -> EnvInfo {
    EnvInfo {
        id: id.into(),
        summary: summary.into(),
    }
}

/// Every built-in tabular environment (the `Chain-vN` family listed by one
/// example; `map:PATH` loads any map file).
pub fn list() -> Vec<EnvInfo> {
    let mut envs = vec![
        info(
            "FrozenLake-v1",
            "Gymnasium's 4x4 slippery lake: reach G, avoid the holes (time limit 100)",
        ),
        info(
            "FrozenLake8x8-v1",
            "Gymnasium's 8x8 slippery lake (time limit 200)",
        ),
        info(
            "CliffWalking-v1",
            "Gymnasium's 4x12 cliff: -1 a step, -100 and back to start for the cliff",
        ),
        info(
            "CliffWalkingSlippery-v1",
            "CliffWalking where each move slips sideways with probability 2/3",
        ),
        info(
            "Taxi-v4",
            "Gymnasium's taxi: 500 states, pick up and deliver the passenger (time limit 200)",
        ),
        info(
            "ThreeState-v0",
            "the lecture's counterfactual-query MDP: S1 pays +1, S2 pays -10, (S1,a1) and (S2,a1) unseen",
        ),
        info(
            "ImitationTrap-v0",
            "one decision: a0 pays +1, a1 pays -10; behaviour plays 50/50, BC copies the mix",
        ),
        info(
            "Bandit-v0",
            "five Bernoulli arms, horizon 1; the behaviour barely covers the best arm and never plays one",
        ),
        info(
            "Baird-v0",
            "Baird's star (7 states, reward 0): off-policy linear Q-learning diverges with its features",
        ),
        info(
            "TwoState-v0",
            "Tsitsiklis & Van Roy: features 1 and 2, least-squares FQI multiplies θ by 6γ/5",
        ),
        info(
            "Chain-v10",
            "Chain-vN: N states in a row, +0.1 for giving up at the start, +1 at the far end",
        ),
    ];
    for (stem, _) in BUNDLED_MAPS {
        envs.push(EnvInfo {
            id: format!("FrozenLake-{stem}"),
            summary: format!("slippery lake on assets/maps/{stem}.txt"),
        });
    }
    envs
}

/// [`make`]`(id)`, one table per process for a built-in id (a pure
/// function of it): a sweep's runs share it instead of building Taxi's
/// every run, and the memos keyed by an MDP find it by pointer. An id that
/// reads a file (`map:`, `file:`) is read again, so that a changed file is
/// still refused.
pub fn shared(id: &str) -> Result<std::sync::Arc<TabularMdp>> {
    use std::sync::Arc;
    static KEPT: crate::memo::Memo<String, Arc<TabularMdp>> = crate::memo::Memo::new(16);
    if id.contains(':') {
        return make(id).map(Arc::new);
    }
    if let Some(mdp) = KEPT.get(|k| k == id) {
        return Ok(mdp);
    }
    let made = Arc::new(make(id)?);
    Ok(KEPT.get_or_compute(|k| k == id, || id.to_string(), || made))
}

/// Builds the tabular environment registered under `id`. A
/// continuous-state id ([`crate::env::CONTINUOUS`]) is refused with an
/// error that says what it works with, not as unknown.
pub fn make(id: &str) -> Result<TabularMdp> {
    match id {
        "FrozenLake-v1" => frozen_lake::frozen_lake(id, frozen_lake::MAP_4X4, 100),
        "FrozenLake8x8-v1" => frozen_lake::frozen_lake(id, frozen_lake::MAP_8X8, 200),
        "CliffWalking-v1" => cliff_walking::cliff_walking(id, false),
        "CliffWalkingSlippery-v1" => cliff_walking::cliff_walking(id, true),
        "Taxi-v4" => taxi::taxi(id),
        "ThreeState-v0" => toy::three_state(),
        "ImitationTrap-v0" => toy::imitation_trap(),
        "Bandit-v0" => toy::bandit(),
        "Baird-v0" => counterexamples::baird(),
        "TwoState-v0" => counterexamples::two_state(),
        _ => {
            if let Some(n) = id.strip_prefix("Chain-v") {
                return match n.parse::<usize>() {
                    Ok(n) if (2..=100_000).contains(&n) => toy::chain(n),
                    _ => Err(Error::Invalid(format!(
                        "`{id}`: the chain length N in Chain-vN must be a whole number from 2 to 100000"
                    ))),
                };
            }
            if let Some(rest) = id.strip_prefix("map:") {
                let (path, text) = read_pinned(rest, "map")?;
                return frozen_lake::from_map(id, Path::new(path), &text);
            }
            if let Some(rest) = id.strip_prefix("file:") {
                let (_, text) = read_pinned(rest, "MDP file")?;
                return file::from_json(id, &text);
            }
            if let Some((_, text)) = id
                .strip_prefix("FrozenLake-")
                .and_then(|stem| BUNDLED_MAPS.iter().find(|(s, _)| *s == stem))
            {
                return frozen_lake::from_map(id, Path::new(id), text);
            }
            if crate::env::continuous(id).is_some() {
                return Err(Error::Invalid(format!(
                    "{id} is a continuous-state environment: training on it is not \
                     supported yet; it works with `env rollout`"
                )));
            }
            let ids: Vec<String> = list()
                .into_iter()
                .map(|e| e.id)
                .chain(crate::env::CONTINUOUS.iter().map(|d| d.id.to_string()))
                .collect();
            Err(Error::UnknownEnv {
                id: id.to_string(),
                hint: did_you_mean(id, ids.iter().map(String::as_str)),
                choices: format!("{}, Chain-vN, map:PATH, file:PATH", ids.join(", ")),
            })
        }
    }
}

/// The first 16 hex digits of the SHA-256 of a file's contents: what pins a
/// `file:`/`map:` environment in a run's config.
pub fn content_hash(bytes: &[u8]) -> String {
    crate::text::hex(&Sha256::digest(bytes)[..8])
}

/// `PATH` or `PATH#HASH` (see [`pin`]) → (PATH, HASH).
fn split_pin(rest: &str) -> (&str, Option<&str>) {
    match rest.rsplit_once('#') {
        Some((path, hash))
            if hash.len() == 16
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
        {
            (path, Some(hash))
        }
        _ => (rest, None),
    }
}

/// Reads the file of a `file:`/`map:` id, checking a pinned hash.
fn read_pinned<'a>(rest: &'a str, what: &str) -> Result<(&'a str, String)> {
    let limit = if what == "map" {
        crate::fsio::MAP
    } else {
        crate::fsio::MDP_FILE
    };
    let (path, pinned) = split_pin(rest);
    let bytes = crate::fsio::read_bounded(Path::new(path), limit)
        .map_err(|e| Error::io(format!("cannot read {what} {path}"), e))?;
    if let Some(pinned) = pinned {
        let now = content_hash(&bytes);
        if now != pinned {
            return Err(Error::File {
                path: PathBuf::from(path),
                message: format!(
                    "the {what} changed since the spec was read (contents {now}, the run expects {pinned}); save the spec again to train on the new contents"
                ),
            });
        }
    }
    let text = String::from_utf8(bytes).map_err(|_| Error::File {
        path: PathBuf::from(path),
        message: format!("the {what} is not UTF-8 text"),
    })?;
    Ok((path, text))
}

/// Pins a `file:PATH` or `map:PATH` id to its file as a spec names it: a
/// relative PATH is resolved against `base` (the spec's directory), made
/// canonical, and the contents' hash appended (`file:/abs/x.json#HASH`), so
/// the run id changes when the file does and a run refuses a file edited
/// since. Other ids are returned unchanged.
pub fn pin(id: &str, base: &Path) -> Result<String> {
    let Some((prefix, rest)) = ["file:", "map:"]
        .iter()
        .find_map(|p| id.strip_prefix(p).map(|rest| (*p, rest)))
    else {
        return Ok(id.to_string());
    };
    let (path, _) = split_pin(rest);
    let joined = base.join(path);
    let canonical = joined
        .canonicalize()
        .map_err(|e| Error::io(format!("cannot read {}", joined.display()), e))?;
    let limit = if prefix == "map:" {
        crate::fsio::MAP
    } else {
        crate::fsio::MDP_FILE
    };
    let bytes = crate::fsio::read_bounded(&canonical, limit)
        .map_err(|e| Error::io(format!("cannot read {}", canonical.display()), e))?;
    Ok(format!(
        "{prefix}{}#{}",
        canonical.display(),
        content_hash(&bytes)
    ))
}

/// What a run id hashes of an environment id: a pinned file's name and
/// contents, not its directory (as for dataset files), so the same spec
/// read from anywhere names the same runs.
pub fn hashed_id(id: &str) -> Cow<'_, str> {
    for prefix in ["file:", "map:"] {
        if let Some(rest) = id.strip_prefix(prefix)
            && let (path, Some(hash)) = split_pin(rest)
        {
            let name = Path::new(path)
                .file_name()
                .map_or(Cow::Borrowed(path), |n| n.to_string_lossy());
            return Cow::Owned(format!("{prefix}{name}#{hash}"));
        }
    }
    Cow::Borrowed(id)
}

/// A short label for tables: `file:NAME` for a file, the id otherwise.
pub fn label(id: &str) -> Cow<'_, str> {
    for prefix in ["file:", "map:"] {
        if let Some(rest) = id.strip_prefix(prefix) {
            let (path, _) = split_pin(rest);
            if let Some(name) = Path::new(path).file_name() {
                return Cow::Owned(format!("{prefix}{}", name.to_string_lossy()));
            }
        }
    }
    Cow::Borrowed(id)
}

/// `name` without Gymnasium's version suffix: `CliffWalking-v1` →
/// `CliffWalking`; a name without one is itself.
pub fn unversioned(name: &str) -> &str {
    name.rsplit_once("-v")
        .filter(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
        .map_or(name, |(base, _)| base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdp::solve;

    #[test]
    fn a_builtin_is_shared_and_a_file_is_read_again() {
        let a = shared("Taxi-v4").unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &shared("Taxi-v4").unwrap()));
        assert!(*a == make("Taxi-v4").unwrap());
        assert!(shared("Chain-v1").is_err());
        let dir = tempfile::tempdir().unwrap();
        let map = dir.path().join("lake.txt");
        std::fs::write(&map, "SF\nHG\n").unwrap();
        let id = format!("map:{}", map.display());
        let first = shared(&id).unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &shared(&id).unwrap()));
        std::fs::write(&map, "SH\nFG\n").unwrap();
        assert!(*first != *shared(&id).unwrap(), "the edited map is read");
    }

    #[test]
    fn every_builtin_is_a_valid_mdp_with_distributions_per_pair() {
        for e in list() {
            let mdp = make(&e.id).unwrap();
            for s in 0..mdp.n_states() {
                for a in 0..mdp.n_actions() {
                    let total: f64 = mdp.outcomes(s, a).iter().map(|o| o.prob).sum();
                    assert!(
                        (total - 1.0).abs() < 1e-12,
                        "{} P[{s}][{a}] sums to {total}",
                        e.id
                    );
                }
            }
            let d0: f64 = mdp.initial().iter().sum();
            assert!((d0 - 1.0).abs() < 1e-12, "{}", e.id);
        }
    }

    #[test]
    fn chain_optimum_walks_to_the_far_end() {
        let mdp = make("Chain-v5").unwrap();
        let opt = solve::optimal(&mdp, 0.9).unwrap();
        // Four steps right, the last paying 1: 0.9³ = 0.729 > 0.1.
        assert!((opt.values.j - 0.729).abs() < 1e-12);
        let greedy_right = (0..4).all(|s| opt.policy[[s, 1]] == 1.0);
        assert!(greedy_right);
        let short = solve::optimal(&mdp, 0.3).unwrap();
        assert!(
            (short.values.j - 0.1).abs() < 1e-12,
            "myopic agents give up"
        );
    }

    #[test]
    fn bandit_behaviour_misses_one_arm_and_barely_plays_the_best() {
        let mdp = make("Bandit-v0").unwrap();
        let b = mdp.behavior().unwrap();
        assert_eq!(b[[0, 4]], 0.0);
        let j = solve::evaluate_policy(&mdp, b, 0.99).unwrap().j;
        assert!((j - 0.566).abs() < 1e-12);
        assert!((solve::optimal(&mdp, 0.99).unwrap().values.j - 0.8).abs() < 1e-12);
    }

    #[test]
    fn unknown_ids_suggest_the_closest() {
        let e = make("FrozenLake-v2").unwrap_err().to_string();
        assert!(e.contains("did you mean `FrozenLake-v1`"), "{e}");
        assert!(
            make("Chain-vx")
                .unwrap_err()
                .to_string()
                .contains("Chain-vN")
        );
        assert!(make("map:/nonexistent.txt").is_err());
        assert!(make("file:/nonexistent.json").is_err());
    }

    /// A pinned file loads while its contents match and is refused after
    /// an edit; the hashed id keeps the name and contents, not the directory.
    #[test]
    fn pinned_files_hash_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lake.txt");
        std::fs::write(&path, "SF\nHG\n").unwrap();
        let pinned = pin("map:lake.txt", dir.path()).unwrap();
        assert!(
            pinned.starts_with("map:/") && pinned.contains("lake.txt#"),
            "{pinned}"
        );
        make(&pinned).unwrap();
        let hashed = hashed_id(&pinned).into_owned();
        assert!(hashed.starts_with("map:lake.txt#"), "{hashed}");
        assert_eq!(label(&pinned), "map:lake.txt");
        std::fs::write(&path, "SH\nFG\n").unwrap();
        let e = make(&pinned).unwrap_err().to_string();
        assert!(e.contains("changed since the spec was read"), "{e}");
        let again = pin("map:lake.txt", dir.path()).unwrap();
        assert_ne!(hashed_id(&again), hashed);
        make(&again).unwrap();
        assert_eq!(pin("Taxi-v4", dir.path()).unwrap(), "Taxi-v4");
        assert_eq!(hashed_id("Taxi-v4"), "Taxi-v4");
    }
}
