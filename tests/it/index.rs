//! The store's index of ended runs (`runs/.index/<spec>.v3`), as
//! `pessimist run` writes and repairs it: what it holds is what the run
//! files say, and it is derived from them alone.

use crate::support::cli::pessimist;
use pessimist::experiment::Store;
use pessimist::experiment::index::{self, Index, Row};
use pessimist::experiment::store::{self, RunDir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Four runs of an ImitationTrap spec that train in milliseconds.
const SPEC: &str = "name = \"quad\"\nenv = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0, 1]\n\
                    iterations = 20\neval_every = 5\ndataset = { policy = \"behavior\", size = 200 }\n\
                    [[algo]]\nname = \"bc\"\n[[algo]]\nname = \"fqi\"\n";

/// The index's runs, each as it prints, sorted: comparable, NaN included.
fn rows(store: &Path) -> Vec<String> {
    let index = Index::read(&index::path(store, "quad")).unwrap();
    assert_eq!(index.skipped, 0);
    let mut rows: Vec<String> = index.rows().map(|r| format!("{r:?}")).collect();
    rows.sort();
    rows
}

/// What the run files say, as the index would hold it.
fn from_files(store: &Path) -> Vec<String> {
    let mut rows: Vec<String> = Store::new(store)
        .list(Some("quad"))
        .unwrap()
        .iter()
        .map(|run| {
            let (summary, bytes) = store::read_summary_bytes(&run.dir).unwrap().unwrap();
            let config = store::read_config(&run.dir).unwrap();
            format!("{:?}", Row::new(&config, &summary, &bytes))
        })
        .collect();
    rows.sort();
    rows
}

/// [`SPEC`] saved in `dir`, and where its store goes.
fn spec_and_store(dir: &Path) -> (PathBuf, PathBuf) {
    let spec = dir.join("quad.toml");
    std::fs::write(&spec, SPEC).unwrap();
    (spec, dir.join("runs"))
}

#[test]
fn a_sweep_indexes_its_runs_and_rebuilds_a_deleted_index() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = spec_and_store(tmp.path());
    let run = || {
        pessimist(&[
            "run",
            spec.to_str().unwrap(),
            "--runs",
            store.to_str().unwrap(),
        ])
    };
    run();
    let written = rows(&store);
    assert_eq!(written.len(), 4);
    assert_eq!(written, from_files(&store));
    // The index is no spec, and no run.
    assert_eq!(Store::new(&store).list(None).unwrap().len(), 4);
    // Derived, safe to delete: the next sweep writes it again, the same.
    std::fs::remove_file(index::path(&store, "quad")).unwrap();
    run();
    assert_eq!(rows(&store), written);
    // Each config is its template with its seeds.
    let index = Index::read(&index::path(&store, "quad")).unwrap();
    for row in index.rows() {
        let dir = RunDir::new(store.join("quad").join(row.run_id().0));
        assert_eq!(
            index.config(row).unwrap(),
            store::read_config(&dir).unwrap()
        );
    }
}

/// Two processes (two shards of one sweep, as Slurm tasks on one node)
/// append at once: every run reads whole.
#[test]
fn two_processes_appending_at_once_leave_every_run_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = spec_and_store(tmp.path());
    let shards: Vec<_> = ["0/2", "1/2"]
        .iter()
        .map(|shard| {
            Command::new(env!("CARGO_BIN_EXE_pessimist"))
                .args(["run", spec.to_str().unwrap(), "--runs"])
                .arg(&store)
                .args(["--shard", shard, "--jobs", "2"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in shards {
        assert!(child.wait().unwrap().success());
    }
    let rows = rows(&store);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows, from_files(&store));
}
