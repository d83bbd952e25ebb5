//! The store's index of ended runs (`runs/.index/<spec>.v3`), as
//! `pessimist run` writes and repairs it: what it holds is what the run
//! files say, and it is derived from them alone.

use crate::support::cli::pessimist;
use pessimist::experiment::index::{self, Index, Row};
use pessimist::experiment::store::{self, RunDir};
use pessimist::experiment::{RunId, RunStatus, RunView, Session, SessionOptions, Store};
use pessimist::tui::app::{App, SortKey};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

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
        let dir = RunDir::new(store.join("quad").join(row.run_id()));
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

/// What the runs and score tables show of a run: comparable, NaN included.
fn shown(run: &RunView) -> String {
    let latest = run.latest.map(|m| index::held(&m).map(f64::to_bits));
    format!(
        "{} {:?} {:?} {}/{} {latest:?} {:?} {:?}",
        run.id,
        run.config,
        run.status,
        run.progress.iteration,
        run.progress.total,
        run.coverage.to_bits(),
        run.behavior.map(f64::to_bits)
    )
}

/// What the dashboard's tables show of `runs`: the runs table's order
/// by each column both ways, and the score table.
fn tables(runs: Vec<Arc<RunView>>) -> Vec<String> {
    let mut app = App::default();
    app.update(runs, Vec::new());
    let mut out = Vec::new();
    for key in SortKey::ALL {
        for descending in [false, true] {
            app.reorder(|o| {
                o.sort = key;
                o.descending = descending;
            });
            let ids: Vec<&str> = app.visible_runs().iter().map(|r| r.id.as_str()).collect();
            out.push(format!("{} {descending}: {}", key.name(), ids.join(" ")));
        }
    }
    out.push(format!("{:?}", app.runs.score_table(app.store())));
    out
}

/// A dashboard's session on a store whose runs no spec lists, its views
/// sorted by id.
fn session_views(root: &Path) -> (Session, Vec<Arc<RunView>>) {
    let session = Session::open(SessionOptions {
        experiments_dir: root.join("experiments"),
        runs_dir: root.join("runs"),
        jobs: 1,
        poll: true,
        autostart: false,
    })
    .unwrap();
    let mut runs = session.runs();
    runs.sort_by_key(|a| a.id);
    (session, runs)
}

/// A dashboard opens the ended runs of a store from its index, without
/// their files, showing what the files would; it reads the files of
/// what it shows (their histories), and opens the same store the same
/// without the index or with its last record torn.
#[test]
fn a_dashboard_shows_ended_runs_from_the_index_as_from_their_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = spec_and_store(tmp.path());
    pessimist(&[
        "run",
        spec.to_str().unwrap(),
        "--runs",
        store.to_str().unwrap(),
    ]);
    let (mut session, indexed) = session_views(tmp.path());
    assert_eq!(indexed.len(), 4);
    assert!(indexed.iter().all(|r| r.status == RunStatus::Done));
    assert!(indexed.iter().all(|r| r.history.is_empty()), "files unread");
    let ids: Vec<RunId> = indexed.iter().map(|r| r.id).collect();
    let shown_view = session.read_shown(&ids[..1]);
    assert_eq!(shown_view.len(), 1);
    assert!(session.read_shown(&ids[..1]).is_empty(), "read once");
    let mut read = session.runs();
    read.sort_by_key(|a| a.id);
    assert_eq!(read[0].history.len(), 5, "eval points 0, 5, 10, 15, 20");
    assert_eq!(
        shown(&shown_view[0]),
        shown(&read[0]),
        "the view read is the session's"
    );
    assert!(read[1..].iter().all(|r| r.history.is_empty()));
    let want: Vec<String> = indexed.iter().map(|r| shown(r)).collect();
    assert_eq!(read.iter().map(|r| shown(r)).collect::<Vec<_>>(), want);
    let want_tables = tables(indexed);
    assert_eq!(tables(read), want_tables);
    session.shutdown();

    let file = index::path(&store, "quad");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 40)
        .unwrap();
    let (session, torn) = session_views(tmp.path());
    assert_eq!(torn.iter().map(|r| shown(r)).collect::<Vec<_>>(), want);
    assert_eq!(torn.iter().filter(|r| !r.history.is_empty()).count(), 1);
    assert_eq!(tables(torn), want_tables);
    session.shutdown();

    std::fs::remove_file(&file).unwrap();
    let (session, from_files) = session_views(tmp.path());
    assert_eq!(
        from_files.iter().map(|r| shown(r)).collect::<Vec<_>>(),
        want
    );
    assert!(from_files.iter().all(|r| r.history.len() == 5));
    assert_eq!(tables(from_files), want_tables);
    session.shutdown();
}
