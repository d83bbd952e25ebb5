//! The store's dataset cache end to end: `pessimist run` fills it, a later
//! process trains from it to the same results, a damaged entry is rebuilt
//! to the same bytes, two processes filling it at once both succeed, and
//! `report` counts it.

use crate::support::cli::{pessimist, printed};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Two learners on one medium dataset (the learner behind it is the
/// costly part the cache saves), named `name`.
fn spec(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nenv = \"FrozenLake-v1\"\ngamma = 0.9\nseeds = [4]\niterations = 30\n\
             eval_every = 10\ndataset = {{ policy = \"medium\", size = 3000 }}\n\
             [[algo]]\nname = \"fqi\"\n[[algo]]\nname = \"cql\"\n"
        ),
    )
    .unwrap();
    path
}

fn run(store: &Path, spec: &Path) -> String {
    printed(&pessimist(&[
        "run",
        spec.to_str().unwrap(),
        "--runs",
        store.to_str().unwrap(),
    ]))
}

fn report(store: &Path, format: &str) -> String {
    let out = pessimist(&["report", store.to_str().unwrap(), "--format", format]);
    String::from_utf8(out.stdout).unwrap()
}

/// The one entry in the store's cache.
fn entry(store: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(store.join(".datasets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().unwrap()
}

/// A store in a temporary directory with the spec `cached` trained into
/// it (and its dataset cached): the directory, the spec and the store.
fn trained() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "cached");
    let store = dir.path().join("runs");
    run(&store, &spec);
    (dir, spec, store)
}

/// Trains `spec` into `store` again from scratch, its runs deleted and the
/// cache kept, and checks that the results are those of `expected`.
fn rerun(store: &Path, spec: &Path, expected: &str) -> String {
    std::fs::remove_dir_all(store.join("cached")).unwrap();
    let said = run(store, spec);
    assert_eq!(report(store, "csv"), expected);
    said
}

#[test]
fn a_cached_dataset_trains_to_the_same_results_and_a_damaged_entry_is_rebuilt() {
    let (dir, spec, store) = trained();
    let expected = report(&store, "csv");
    let path = entry(&store);
    let bytes = std::fs::read(&path).unwrap();

    // Read from the cache: the same results, the entry kept as it was.
    let said = rerun(&store, &spec, &expected);
    assert!(!said.contains("dataset cache"), "{said}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // Truncated, a byte flipped, another definition's entry: each refused,
    // said, and rebuilt to the same bytes.
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 1;
    let other_store = dir.path().join("other");
    let other_spec = dir.path().join("other.toml");
    std::fs::write(
        &other_spec,
        std::fs::read_to_string(&spec)
            .unwrap()
            .replace("size = 3000", "size = 2000")
            .replace("\"cached\"", "\"other\""),
    )
    .unwrap();
    run(&other_store, &other_spec);
    let foreign = std::fs::read(entry(&other_store)).unwrap();
    for (damage, why) in [
        (&bytes[..bytes.len() - 7], "checksum mismatch"),
        (&flipped[..], "checksum mismatch"),
        (&foreign[..], "holds another definition"),
    ] {
        std::fs::write(&path, damage).unwrap();
        let said = rerun(&store, &spec, &expected);
        assert!(said.contains("refused") && said.contains(why), "{said}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    // Deleting the cache is safe: rebuilt, the same results.
    std::fs::remove_dir_all(store.join(".datasets")).unwrap();
    rerun(&store, &spec, &expected);
    assert_eq!(std::fs::read(entry(&store)).unwrap(), bytes);
}

#[cfg(unix)]
#[test]
fn a_link_planted_at_an_entry_is_not_written_through() {
    let (dir, spec, store) = trained();
    let expected = report(&store, "csv");
    let path = entry(&store);
    let outside = dir.path().join("outside");
    std::fs::write(&outside, "keep").unwrap();
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    let said = rerun(&store, &spec, &expected);
    assert!(said.contains("not a regular file"), "{said}");
    assert!(path.is_symlink());
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
}

#[test]
fn two_processes_filling_the_cache_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    // Two specs, so two sets of runs, on one dataset definition.
    let specs = [spec(dir.path(), "first"), spec(dir.path(), "second")];
    let alone = dir.path().join("alone");
    run(&alone, &specs[0]);
    let bytes = std::fs::read(entry(&alone)).unwrap();
    let store = dir.path().join("runs");
    let running: Vec<_> = specs
        .iter()
        .map(|spec| {
            Command::new(env!("CARGO_BIN_EXE_pessimist"))
                .args(["run", spec.to_str().unwrap(), "--runs"])
                .arg(&store)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in running {
        assert!(child.wait().unwrap().success());
    }
    // One entry, whole, whichever rename came last.
    assert_eq!(std::fs::read(entry(&store)).unwrap(), bytes);
    for name in ["first", "second"] {
        let runs = std::fs::read_dir(store.join(name)).unwrap().count();
        assert_eq!(runs, 2, "{name}");
    }
    assert_eq!(report(&store, "csv"), report(&alone, "csv"));
}

#[test]
fn report_counts_the_cache() {
    let (_dir, _, store) = trained();
    let bytes = std::fs::metadata(entry(&store)).unwrap().len();
    let md = report(&store, "md");
    assert!(md.contains("dataset cache (.datasets): 1 entries"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&report(&store, "json")).unwrap();
    assert_eq!(json["dataset_cache"]["entries"], 1);
    assert_eq!(json["dataset_cache"]["bytes"], bytes);
    // CSV stays records only.
    assert!(!report(&store, "csv").contains("dataset cache"));
    // The cache is not a spec.
    assert!(!md.contains("# .datasets"));
}
