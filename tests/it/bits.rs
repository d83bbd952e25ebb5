//! Every learner's Q and policy after a few iterations at its defaults, as
//! digests of their bits: a refactor or a speed-up that claims to change no
//! result must leave [`DIGESTS`] as it is; a change meant to move results
//! updates them in its own commit and says why.
//!
//! Tables are hashed bit for bit. Linear learners go through ndarray's
//! matrix products, whose kernels are chosen by the CPU at run time (and
//! may sum in another order on another machine), so their values are
//! hashed rounded to nine significant digits.

use crate::support::learning::{params, text, train_data, trained};
use pessimist::algo::{self, Params, TrainData};
use pessimist::data::{self, Quality};
use pessimist::features::FeatureSpec;
use pessimist::mdp::envs;
use sha2::{Digest, Sha256};

const ITERATIONS: usize = 20;

/// The data: (env, quality, size, linear features).
const DATASETS: [(&str, Quality, usize, bool); 4] = [
    ("FrozenLake8x8-v1", Quality::Medium, 5_000, false),
    ("CliffWalkingSlippery-v1", Quality::Medium, 5_000, false),
    ("Taxi-v4", Quality::Random, 5_000, false),
    ("FrozenLake8x8-v1", Quality::Medium, 5_000, true),
];

fn data(env: &str, quality: Quality, size: usize, linear: bool) -> TrainData {
    let mdp = envs::make(env).unwrap();
    let dataset = data::collect(&mdp, quality, size, 0, 0.95).unwrap();
    let data = train_data(&mdp, dataset, 0.95, 0);
    if !linear {
        return data;
    }
    let onehot = FeatureSpec::read(&params(&[("kind", text("onehot"))])).unwrap();
    let phi = onehot.build(&mdp, 0).unwrap();
    data.with_features(phi)
}

/// The first 16 hex digits of the SHA-256 of Q's and π's values.
fn digest(values: impl Iterator<Item = f64>, linear: bool) -> String {
    let mut hasher = Sha256::new();
    for v in values {
        let v = if linear && v.is_finite() && v != 0.0 {
            format!("{v:.8e}").parse::<f64>().unwrap()
        } else {
            v
        };
        hasher.update(v.to_bits().to_le_bytes());
    }
    pessimist::text::hex(&hasher.finalize()[..8])
}

fn digests() -> Vec<String> {
    let mut out = Vec::new();
    for (env, quality, size, linear) in DATASETS {
        let data = data(env, quality, size, linear);
        for name in algo::names() {
            let learner = trained(name, &Params::new(), &data, ITERATIONS);
            let (q, pi) = (learner.q(), learner.policy());
            let values = q.iter().chain(pi.iter()).copied();
            let kind = if linear { "linear" } else { "table" };
            out.push(format!("{env} {kind} {name} {}", digest(values, linear)));
        }
    }
    out
}

const DIGESTS: &[&str] = &[
    "FrozenLake8x8-v1 table fqi 0c34d72a4deaa0b0",
    "FrozenLake8x8-v1 table bc fd2aa7170eb28e8c",
    "FrozenLake8x8-v1 table bcq cbf0ec4b9f0a64d4",
    "FrozenLake8x8-v1 table brac 4fe394b5027296f6",
    "FrozenLake8x8-v1 table td3bc b8789104da572c85",
    "FrozenLake8x8-v1 table awac 052bef307d76f3a7",
    "FrozenLake8x8-v1 table fisher-brc 533fc849c12ee00e",
    "FrozenLake8x8-v1 table iql 7ae74cb25e5f05d8",
    "FrozenLake8x8-v1 table vi-lcb 9a1e17835c2bed8e",
    "FrozenLake8x8-v1 table atac 525bdabb4f1a073b",
    "FrozenLake8x8-v1 table cql 36ca8487e1840ac9",
    "FrozenLake8x8-v1 table combo 426a94eaf8cb352d",
    "FrozenLake8x8-v1 table fqe fd2aa7170eb28e8c",
    "FrozenLake8x8-v1 table online f1a1fd85d6fc3704",
    "CliffWalkingSlippery-v1 table fqi 6d8a53a26b5c3a46",
    "CliffWalkingSlippery-v1 table bc 8bdf9a4f1068f62b",
    "CliffWalkingSlippery-v1 table bcq 4323cfcb59533515",
    "CliffWalkingSlippery-v1 table brac d9287ea69eef0e0f",
    "CliffWalkingSlippery-v1 table td3bc 4931adb7918f8805",
    "CliffWalkingSlippery-v1 table awac e70f5ebdeba03693",
    "CliffWalkingSlippery-v1 table fisher-brc c1cd11869122c2b7",
    "CliffWalkingSlippery-v1 table iql 6c0eeee5953d628d",
    "CliffWalkingSlippery-v1 table vi-lcb a3e76d1c70d11021",
    "CliffWalkingSlippery-v1 table atac 1649d26fb8b0367b",
    "CliffWalkingSlippery-v1 table cql e331041fc9db0152",
    "CliffWalkingSlippery-v1 table combo e8e5d46df635ca82",
    "CliffWalkingSlippery-v1 table fqe 8bdf9a4f1068f62b",
    "CliffWalkingSlippery-v1 table online 07b3c6b1de93ab00",
    "Taxi-v4 table fqi b3f42ee4fdae5e32",
    "Taxi-v4 table bc 74c62f91049a2c0b",
    "Taxi-v4 table bcq 3e14c2d3fe844668",
    "Taxi-v4 table brac a7810fd2d4444602",
    "Taxi-v4 table td3bc 4b93b077e5e875b5",
    "Taxi-v4 table awac 6f4d676eb04f5407",
    "Taxi-v4 table fisher-brc 79815fdbecf46a9b",
    "Taxi-v4 table iql f8ee1645ce4e3a43",
    "Taxi-v4 table vi-lcb 9dee7fa511ed3e18",
    "Taxi-v4 table atac 007e9fb675788c42",
    "Taxi-v4 table cql 32f499a47920a2bc",
    "Taxi-v4 table combo e2affa5361b2105d",
    "Taxi-v4 table fqe 74c62f91049a2c0b",
    "Taxi-v4 table online 8c6c96df7634f5ff",
    "FrozenLake8x8-v1 linear fqi 49e1219327cbacdd",
    "FrozenLake8x8-v1 linear bc ba2eb3ea4ce0fc7d",
    "FrozenLake8x8-v1 linear bcq 978ddfde4833129d",
    "FrozenLake8x8-v1 linear brac 2d31e5ab6aeb776b",
    "FrozenLake8x8-v1 linear td3bc a5f49c83a08cd4fe",
    "FrozenLake8x8-v1 linear awac 78bc1a1516c675e7",
    "FrozenLake8x8-v1 linear fisher-brc 116199641c94297b",
    "FrozenLake8x8-v1 linear iql f449e25646d64fff",
    "FrozenLake8x8-v1 linear vi-lcb 6cd090511c378cb4",
    "FrozenLake8x8-v1 linear atac 7f7aa6b0e57d493e",
    "FrozenLake8x8-v1 linear cql 0a8a030374f9af01",
    "FrozenLake8x8-v1 linear combo df906bf55b8ff514",
    "FrozenLake8x8-v1 linear fqe ea9d4ed23c7c81f3",
    "FrozenLake8x8-v1 linear online f1a1fd85d6fc3704",
];

#[test]
fn every_learner_gives_the_same_bits() {
    let got = digests();
    assert_eq!(
        got,
        DIGESTS,
        "digests moved; if that is meant, they are now:\n    \"{}\",",
        got.join("\",\n    \"")
    );
}
