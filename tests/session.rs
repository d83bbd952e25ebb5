//! The dashboard's model without a terminal: specs are loaded and watched,
//! runs train in the background, runs trained by another process appear.

use pessimist::experiment::{Change, RunStatus, Session, SessionOptions};
use std::path::Path;
use std::time::{Duration, Instant};

fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Waits (handling changes) until `ok` holds for the session.
fn wait_until(session: &mut Session, what: &str, ok: impl Fn(&Session) -> bool) {
    let started = Instant::now();
    while !ok(session) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        session.wait(Duration::from_millis(100));
    }
}

const TRAP: &str = "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0, 1]\niterations = 20\n\
                    eval_every = 5\ndataset = { policy = \"behavior\", size = 500 }\n[[algo]]\nname = \"fqi\"\n";

fn options(root: &Path, poll: bool) -> SessionOptions {
    SessionOptions {
        experiments_dir: root.join("experiments"),
        runs_dir: root.join("runs"),
        jobs: 2,
        poll,
        autostart: true,
    }
}

fn watch_specs_and_runs(poll: bool) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("experiments")).unwrap();
    save(&dir.path().join("experiments/trap.toml"), TRAP);
    let mut session = Session::open(options(dir.path(), poll)).unwrap();
    assert!(session.watch_error.is_none());
    wait_until(&mut session, "two finished runs", |s| {
        let runs = s.runs();
        runs.len() == 2 && runs.iter().all(|r| r.status == RunStatus::Done)
    });
    let run = &session.runs()[0];
    assert_eq!(run.history.len(), 5, "eval points 0, 5, 10, 15, 20");
    assert!(run.owned_here);

    // A grid value added: only the new runs train.
    save(
        &dir.path().join("experiments/trap.toml"),
        &TRAP.replace("[0, 1]", "[0, 1, 2]"),
    );
    wait_until(&mut session, "the third seed", |s| {
        let runs = s.runs();
        runs.len() == 3 && runs.iter().all(|r| r.status == RunStatus::Done)
    });

    // A broken spec shows its error; the other runs stay.
    save(
        &dir.path().join("experiments/broken.toml"),
        "env = \"Nope-v0\"\n",
    );
    wait_until(&mut session, "the spec error", |s| {
        s.specs().iter().any(|v| v.error.is_some())
    });
    let error = session.specs().into_iter().find_map(|v| v.error).unwrap();
    assert_eq!((error.line, error.column), (1, 7), "{error}");
    assert_eq!(session.runs().len(), 3);

    // Another process trains into the same store: its runs appear.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, TRAP.replace("ImitationTrap-v0", "ThreeState-v0")).unwrap();
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("pessimist"))
        .args([
            "run",
            other.to_str().unwrap(),
            "--runs",
            dir.path().join("runs").to_str().unwrap(),
        ])
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    wait_until(&mut session, "the other process's runs", |s| {
        let theirs: Vec<_> = s
            .runs()
            .into_iter()
            .filter(|r| r.config.env == "ThreeState-v0")
            .collect();
        theirs.len() == 2
            && theirs
                .iter()
                .all(|r| r.status == RunStatus::Done && r.history.len() == 5 && !r.owned_here)
    });
    session.shutdown();
}

#[test]
fn native_events() {
    watch_specs_and_runs(false);
}

#[test]
fn polling() {
    watch_specs_and_runs(true);
}

#[test]
fn pause_resume_cancel_and_rerun_single_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("experiments")).unwrap();
    let slow = "env = \"FrozenLake8x8-v1\"\ngamma = 0.99\nseeds = [0, 1]\niterations = 100000\neval_every = 1000\n\
                dataset = { policy = \"random\", size = 100_000 }\n[[algo]]\nname = \"fqi\"\nvariant = \"sample\"\n";
    save(&dir.path().join("experiments/slow.toml"), slow);
    let mut session = Session::open(SessionOptions {
        jobs: 1,
        ..options(dir.path(), false)
    })
    .unwrap();
    wait_until(&mut session, "a running run", |s| {
        s.runs().iter().any(|r| r.status == RunStatus::Running)
    });
    let runs = session.runs();
    let running = runs
        .iter()
        .find(|r| r.status == RunStatus::Running)
        .unwrap()
        .id
        .clone();
    let queued = runs
        .iter()
        .find(|r| r.status == RunStatus::Queued)
        .unwrap()
        .id
        .clone();
    let status = |s: &Session, id| s.runs().into_iter().find(|r| &r.id == id).unwrap().status;

    session.pause(&running);
    wait_until(&mut session, "the pause", |s| {
        status(s, &running) == RunStatus::Paused
    });
    // The worker is free: the queued run starts.
    wait_until(&mut session, "the queued run to start", |s| {
        status(s, &queued) == RunStatus::Running
    });
    session.cancel(&queued);
    wait_until(&mut session, "the cancel", |s| {
        status(s, &queued) == RunStatus::Cancelled
    });
    let paused_at = session
        .runs()
        .into_iter()
        .find(|r| r.id == running)
        .unwrap()
        .progress
        .iteration;
    session.resume(&running);
    wait_until(&mut session, "the resumed run to move on", |s| {
        s.runs()
            .into_iter()
            .find(|r| r.id == running)
            .unwrap()
            .progress
            .iteration
            > paused_at
    });
    session.rerun(&queued);
    wait_until(&mut session, "the rerun to queue", |s| {
        matches!(status(s, &queued), RunStatus::Queued | RunStatus::Running)
    });
    let changes = session.poll();
    assert!(
        changes
            .iter()
            .all(|c| matches!(c, Change::Runs(_) | Change::Specs))
    );
    session.shutdown();
}

/// An idle dashboard stays idle: reading a run's files to show them must
/// not count as a change (else every reload triggers the next).
fn idle_session_reports_nothing(poll: bool) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("experiments")).unwrap();
    save(&dir.path().join("experiments/trap.toml"), TRAP);
    let mut session = Session::open(options(dir.path(), poll)).unwrap();
    wait_until(&mut session, "two finished runs", |s| {
        let runs = s.runs();
        runs.len() == 2 && runs.iter().all(|r| r.status == RunStatus::Done)
    });
    // Let the last writes' events arrive (and the reloads they cause).
    let started = Instant::now();
    while !session.wait(Duration::from_millis(1200)).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the session never went quiet"
        );
    }
    let quiet = Instant::now();
    let mut changes = Vec::new();
    while quiet.elapsed() < Duration::from_secs(2) {
        changes.extend(session.wait(Duration::from_millis(200)));
    }
    assert!(changes.is_empty(), "an idle session changed: {changes:?}");
    session.shutdown();
}

#[test]
fn idle_session_is_quiet_with_native_events() {
    idle_session_reports_nothing(false);
}

#[test]
fn idle_session_is_quiet_when_polling() {
    idle_session_reports_nothing(true);
}
