//! Where every reward is 0 (Baird-v0, TwoState-v0) random play is already
//! the best, so D4RL's normalized score is 0/0: no score exists, and every
//! output says so (null in JSON, `–` in text, an empty CSV field), never
//! 100.

use crate::support::cli::{pessimist, printed};
use serde_json::Value;
use std::path::Path;

#[test]
fn zero_reward_environments_have_no_score_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("baird.csv");
    let data = data.to_str().unwrap();
    let collected = pessimist(&[
        "data", "collect", "--env", "Baird-v0", "--policy", "behavior", "--size", "500", "-o", data,
    ]);
    assert!(
        printed(&collected).contains("behaviour: score – "),
        "{}",
        printed(&collected)
    );
    let train = [
        "train", "--env", "Baird-v0", "--algo", "fqi", "--data", data,
    ];
    let policy = dir.path().join("policy.json");
    let json: Value = serde_json::from_slice(
        &pessimist(
            &[
                &train[..],
                &["--features", "kind=env", "--iterations", "5", "--json"],
                &["--policy-out", policy.to_str().unwrap()],
            ]
            .concat(),
        )
        .stdout,
    )
    .unwrap();
    assert!(json["normalized_score"].is_null(), "{json}");
    assert_eq!(json["episode_return"], 0.0);
    let shown = printed(&pessimist(&[&train[..], &["--iterations", "5"]].concat()));
    assert!(shown.contains("normalized_score            –"), "{shown}");
    let eval = [
        "eval",
        "--env",
        "Baird-v0",
        "--policy",
        policy.to_str().unwrap(),
        "--gamma",
        "0.99",
    ];
    let json: Value =
        serde_json::from_slice(&pessimist(&[&eval[..], &["--json"]].concat()).stdout).unwrap();
    assert!(json["normalized_score"].is_null(), "{json}");

    // A headless sweep, then the report in every format.
    let spec = dir.path().join("zero.toml");
    std::fs::write(
        &spec,
        "name = \"zero\"\nenv = [\"Baird-v0\", \"TwoState-v0\"]\nseeds = [0, 1]\n\
         iterations = 20\neval_every = 10\nfeatures = { kind = \"env\" }\n\
         dataset = { policy = \"behavior\", size = 200 }\n[[algo]]\nname = \"fqi\"\n",
    )
    .unwrap();
    let runs = dir.path().join("runs");
    let runs = runs.to_str().unwrap();
    let out = pessimist(&["run", spec.to_str().unwrap(), "--runs", runs, "--json"]);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = summary.as_array().unwrap_or_else(|| panic!("{summary}"));
    assert_eq!(listed.len(), 4);
    for run in listed {
        assert!(run["normalized_score"].is_null(), "{run}");
        assert_eq!(run["episode_return"], 0.0, "{run}");
        let metrics =
            std::fs::read_to_string(Path::new(run["dir"].as_str().unwrap()).join("metrics.jsonl"))
                .unwrap();
        assert!(metrics.contains("\"normalized_score\":null"), "{metrics}");
    }
    assert!(!printed(&out).contains("100.0"), "{}", printed(&out));
    let md = printed(&pessimist(&["report", runs, "--format", "md"]));
    assert!(md.contains("| Baird-v0 behavior 200 | – | – |"), "{md}");
    assert!(!md.contains("100.0"), "{md}");
    let csv = printed(&pessimist(&["report", runs, "--format", "csv"]));
    assert!(
        // Every start state in the data: coverage 1, the covered returns 0 too.
        csv.contains("Baird-v0 behavior 200,fqi,0,,,0,0,0,0,1,0,0,0,0,0,0,0,2"),
        "{csv}"
    );
    let json: Value =
        serde_json::from_slice(&pessimist(&["report", runs, "--format", "json"]).stdout).unwrap();
    let rows = json["cells"].as_array().unwrap_or_else(|| panic!("{json}"));
    assert_eq!(rows.len(), 2, "{json}");
    for cell in rows.iter().filter_map(|row| row.get(0)) {
        assert!(cell["mean"].is_null(), "{cell}");
        assert_eq!(cell["no_score"], 2, "{cell}");
    }
}
