//! Every learner's Q and policy after a few iterations at its defaults, as
//! digests of their bits ([`digest`]): a refactor or a speed-up that claims to change no
//! result must leave [`DIGESTS`] as it is; a change meant to move results
//! updates them in its own commit and says why.
//!
//! Tables are hashed bit for bit. Linear learners go through ndarray's
//! matrix products, whose kernels are chosen by the CPU at run time (and
//! may sum in another order on another machine), so their values are
//! hashed rounded to nine significant digits.

use crate::support::learning::{digest, digest_values, params, text, train_data, trained};
use pessimist::algo::{self, Params, TrainData};
use pessimist::data::{self, Quality};
use pessimist::features::FeatureSpec;
use pessimist::mdp::envs;

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

/// Linear learners' values rounded to nine significant digits.
fn rounded(values: impl Iterator<Item = f64>) -> impl Iterator<Item = f64> {
    values.map(|v| {
        if v.is_finite() && v != 0.0 {
            format!("{v:.8e}").parse::<f64>().unwrap()
        } else {
            v
        }
    })
}

fn digests() -> Vec<String> {
    let mut out = Vec::new();
    for (env, quality, size, linear) in DATASETS {
        let data = data(env, quality, size, linear);
        for name in algo::names() {
            let learner = trained(name, &Params::new(), &data, ITERATIONS);
            let (kind, digest) = if linear {
                let (q, pi) = (learner.q(), learner.policy());
                (
                    "linear",
                    digest_values(rounded(q.iter().chain(pi.iter()).copied())),
                )
            } else {
                ("table", digest(&*learner))
            };
            out.push(format!("{env} {kind} {name} {digest}"));
        }
    }
    out
}

const DIGESTS: &[&str] = &[
    "FrozenLake8x8-v1 table fqi 48124b6789c9cbe6",
    "FrozenLake8x8-v1 table bc 36d13ff5bca2f19c",
    "FrozenLake8x8-v1 table bcq 4ac360b3c936025e",
    "FrozenLake8x8-v1 table brac 69b58f9b27a37ffc",
    "FrozenLake8x8-v1 table td3bc 9d924f6faa2ad031",
    "FrozenLake8x8-v1 table awac fcbe154321b6a491",
    "FrozenLake8x8-v1 table fisher-brc 4532bdc2eded173d",
    "FrozenLake8x8-v1 table iql 1f0e4b334cddb50f",
    "FrozenLake8x8-v1 table vi-lcb 914b23263a6d4df4",
    "FrozenLake8x8-v1 table atac 0c418a93e5714d9f",
    "FrozenLake8x8-v1 table cql 38c8ad80667cfa73",
    "FrozenLake8x8-v1 table combo cca3da9db6e79cfe",
    "FrozenLake8x8-v1 table fqe 36d13ff5bca2f19c",
    "FrozenLake8x8-v1 table online 7fedb91891097325",
    "CliffWalkingSlippery-v1 table fqi 676fe4f0978a8d43",
    "CliffWalkingSlippery-v1 table bc f890724374ed53d1",
    "CliffWalkingSlippery-v1 table bcq f75df55956fda34c",
    "CliffWalkingSlippery-v1 table brac c3d746fb1afdb4ff",
    "CliffWalkingSlippery-v1 table td3bc e61fb1865f69e5b4",
    "CliffWalkingSlippery-v1 table awac e3a3b7a894f87da0",
    "CliffWalkingSlippery-v1 table fisher-brc 867c72f54b080396",
    "CliffWalkingSlippery-v1 table iql 783165739532d84d",
    "CliffWalkingSlippery-v1 table vi-lcb 064a322a46d27eec",
    "CliffWalkingSlippery-v1 table atac b8aa4bb35c82a4c7",
    "CliffWalkingSlippery-v1 table cql e866a212d9e84b9e",
    "CliffWalkingSlippery-v1 table combo c0b86096f1cb98dc",
    "CliffWalkingSlippery-v1 table fqe f890724374ed53d1",
    "CliffWalkingSlippery-v1 table online 77f9cd52d0299d24",
    "Taxi-v4 table fqi 8c7881120efecb4c",
    "Taxi-v4 table bc c100a0312d319761",
    "Taxi-v4 table bcq 8c30cf66128f7872",
    "Taxi-v4 table brac 54d0030b5f6c8352",
    "Taxi-v4 table td3bc 4f20a0b73554dc69",
    "Taxi-v4 table awac 68b4c87570486be9",
    "Taxi-v4 table fisher-brc 8e8f87ac079c57be",
    "Taxi-v4 table iql c71e77f1e4c9d695",
    "Taxi-v4 table vi-lcb 7e945219060746f4",
    "Taxi-v4 table atac af56f33fdb8814ec",
    "Taxi-v4 table cql 8c5037d86a07900b",
    "Taxi-v4 table combo c45746b9c9763df6",
    "Taxi-v4 table fqe c100a0312d319761",
    "Taxi-v4 table online 7c9740dfd226e53d",
    "FrozenLake8x8-v1 linear fqi ae49ddab7d90f8eb",
    "FrozenLake8x8-v1 linear bc c9dff4fbffbe4f61",
    "FrozenLake8x8-v1 linear bcq 9974a61d79a09c2f",
    "FrozenLake8x8-v1 linear brac ece81fc02a6d6a49",
    "FrozenLake8x8-v1 linear td3bc aa5215397c258627",
    "FrozenLake8x8-v1 linear awac 58f495c193c3521e",
    "FrozenLake8x8-v1 linear fisher-brc 6c34a694d46cd5de",
    "FrozenLake8x8-v1 linear iql bfb5c79e404395d6",
    "FrozenLake8x8-v1 linear vi-lcb 34e0a41e081c7653",
    "FrozenLake8x8-v1 linear atac 96855573b3482671",
    "FrozenLake8x8-v1 linear cql dcd38058ce317ef3",
    "FrozenLake8x8-v1 linear combo f95a3a8c5ab3a628",
    "FrozenLake8x8-v1 linear fqe b9d0f7ffbfa88317",
    "FrozenLake8x8-v1 linear online 7fedb91891097325",
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
