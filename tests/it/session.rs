//! The dashboard's model without a terminal: specs are loaded and watched,
//! runs train in the background, runs trained by another process appear.

use crate::support::cli;
use crate::support::files::{self, save, summary};
use pessimist::experiment::{Change, RunId, RunStatus, RunView, Session, SessionOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The idle tests measure the CPU time of the session's threads, so they
/// run alone among the session tests; the others share the process freely.
static CPU: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    CPU.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    CPU.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A directory with `experiments/NAME` holding `text`; returns the spec's path.
fn experiments(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("experiments")).unwrap();
    let spec = dir.path().join("experiments").join(name);
    save(&spec, text);
    (dir, spec)
}

/// The session's view of run `id`.
fn run(session: &Session, id: &RunId) -> Arc<RunView> {
    session.runs().into_iter().find(|r| &r.id == id).unwrap()
}

/// Waits until the session lists `n` runs, all done.
fn wait_all_done(session: &mut Session, n: usize, what: &str) {
    wait_until(session, what, |s| {
        let runs = s.runs();
        runs.len() == n && runs.iter().all(|r| r.status == RunStatus::Done)
    });
}

/// Waits (handling changes) until `ok` holds for the session.
fn wait_until(session: &mut Session, what: &str, ok: impl Fn(&Session) -> bool) {
    let started = Instant::now();
    while !ok(session) {
        assert!(
            started.elapsed() < Duration::from_secs(180),
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
    let (dir, spec) = experiments("trap.toml", TRAP);
    let mut session = Session::open(options(dir.path(), poll)).unwrap();
    assert!(session.watch_error.is_none());
    wait_all_done(&mut session, 2, "two finished runs");
    let run = &session.runs()[0];
    assert_eq!(run.history.len(), 5, "eval points 0, 5, 10, 15, 20");
    assert!(run.owned_here);

    // A grid value added: only the new runs train.
    save(&spec, &TRAP.replace("[0, 1]", "[0, 1, 2]"));
    wait_all_done(&mut session, 3, "the third seed");

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
    let theirs = |s: &Session| -> Vec<Arc<RunView>> {
        s.runs()
            .into_iter()
            .filter(|r| &*r.config.env == "ThreeState-v0")
            .collect()
    };
    wait_until(&mut session, "the other process's runs", |s| {
        let theirs = theirs(s);
        theirs.len() == 2
            && theirs
                .iter()
                .all(|r| r.status == RunStatus::Done && !r.owned_here)
    });
    // Ended elsewhere, they come in from the store's index, as at open;
    // their eval points are read once the dashboard shows them.
    let ids: Vec<RunId> = theirs(&session).iter().map(|r| r.id).collect();
    session.read_shown(&ids);
    assert!(
        theirs(&session).iter().all(|r| r.history.len() == 5),
        "eval points 0, 5, 10, 15, 20"
    );
    session.shutdown();
}

#[test]
fn native_events() {
    let _cpu = shared();
    watch_specs_and_runs(false);
}

#[test]
fn polling() {
    let _cpu = shared();
    watch_specs_and_runs(true);
}

#[test]
fn pause_resume_cancel_and_rerun_single_runs() {
    let _cpu = shared();
    let slow = "env = \"FrozenLake8x8-v1\"\ngamma = 0.99\nseeds = [0, 1]\niterations = 100000\neval_every = 1000\n\
                dataset = { policy = \"random\", size = 100_000 }\n[[algo]]\nname = \"fqi\"\nvariant = \"sample\"\n";
    let (dir, _) = experiments("slow.toml", slow);
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
        .id;
    let queued = runs
        .iter()
        .find(|r| r.status == RunStatus::Queued)
        .unwrap()
        .id;
    let status = |s: &Session, id| run(s, id).status;

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
    let paused_at = run(&session, &running).progress.iteration;
    session.resume(&running);
    wait_until(&mut session, "the resumed run to move on", |s| {
        run(s, &running).progress.iteration > paused_at
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
    let (dir, _) = experiments("trap.toml", TRAP);
    let mut session = Session::open(options(dir.path(), poll)).unwrap();
    wait_all_done(&mut session, 2, "two finished runs");
    // The last writes' events (and the reloads they cause) arrive late on a
    // busy machine, so no single window proves anything; but a session that
    // reloads on its own reads (or works in the background) changes, or
    // burns CPU, in every window. Wanted: one 3 s window, of the first ten,
    // without a change and under 1% of a core (clock ticks of 10 ms).
    let mut windows = Vec::new();
    for _ in 0..10 {
        let quiet = Instant::now();
        let cpu_before = session_cpu_ticks();
        let mut changes = Vec::new();
        while quiet.elapsed() < Duration::from_secs(3) {
            changes.extend(session.wait(Duration::from_millis(200)));
        }
        let used = session_cpu_ticks().saturating_sub(cpu_before);
        if changes.is_empty() && used <= 3 {
            session.shutdown();
            return;
        }
        windows.push(format!("{used} ticks, changes {changes:?}"));
    }
    panic!("an idle session was never quiet for 3 s: {windows:#?}");
}

/// User + system CPU time, in clock ticks, of the threads an idle session
/// could burn it in: this test's thread and those it started (a thread
/// inherits its creator's name), the pool's workers and the watchers.
/// Other test modules share the process: its total would count their work.
fn session_cpu_ticks() -> u64 {
    let own = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let session_thread =
            name == own || name.starts_with("pessimist-") || name.starts_with("notify-rs");
        // A thread that ended between the two reads has no stat: it counts 0.
        if let (true, Ok(stat)) = (
            session_thread,
            std::fs::read_to_string(task.path().join("stat")),
        ) {
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .collect();
            // After the command name: state is field 3, utime 14 and stime 15.
            ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        }
    }
    ticks
}

#[test]
fn idle_session_is_quiet_with_native_events() {
    let _cpu = alone();
    idle_session_reports_nothing(false);
}

#[test]
fn idle_session_is_quiet_when_polling() {
    let _cpu = alone();
    idle_session_reports_nothing(true);
}

/// One run of sample-based FQI (a second or so; tests that need it alive
/// longer hold it with PESSIMIST_TEST_HOLD).
const SLOW: &str = "env = \"FrozenLake8x8-v1\"\ngamma = 0.99\nseeds = [0]\niterations = 6000\neval_every = 100\n\
                    dataset = { policy = \"random\", size = 10_000 }\n[[algo]]\nname = \"fqi\"\nvariant = \"sample\"\n";

fn summary_field(dir: &Path, key: &str) -> Option<u64> {
    summary(dir)?[key].as_u64()
}

/// The run directories of a store (`runs/<spec>/<id>`).
fn run_dirs(runs: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let specs = std::fs::read_dir(runs).into_iter().flatten().flatten();
    // A leading dot is the store's own (`.datasets`, the dataset cache;
    // `.index`), never a spec's name.
    for spec in specs.filter(|e| !e.file_name().to_string_lossy().starts_with('.')) {
        out.extend(
            std::fs::read_dir(spec.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path()),
        );
    }
    out
}

/// A headless worker killed with -9 leaves its run locked by nobody: the
/// dashboard, which lists the run, takes it over and finishes it.
#[test]
fn the_dashboard_resumes_a_run_whose_other_process_died() {
    let _cpu = shared();
    let (dir, spec) = experiments("slow.toml", SLOW);
    let runs = dir.path().join("runs");
    // The child's run holds after its first step, checkpointed, while this
    // file exists (a test-only switch of the runner): it is alive and past
    // its first checkpoint when killed, by construction.
    let hold = dir.path().join("hold");
    std::fs::write(&hold, "").unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pessimist"))
        .args(["run", spec.to_str().unwrap(), "--jobs", "1", "--runs"])
        .arg(&runs)
        .env("PESSIMIST_TEST_HOLD", &hold)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !run_dirs(&runs)
        .iter()
        .any(|d| files::status(d).as_deref() == Some("running"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the child never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut session = Session::open(SessionOptions {
        jobs: 1,
        ..options(dir.path(), false)
    })
    .unwrap();
    wait_until(&mut session, "the run to show as trained elsewhere", |s| {
        let runs = s.runs();
        runs.len() == 1 && runs[0].status == RunStatus::Running && !runs[0].owned_here
    });
    // Killed after its first checkpoint, so the takeover resumes from it.
    let run_dir = session.run_dir(&session.runs()[0].id).unwrap();
    while summary_field(run_dir.path(), "iterations_done").is_none_or(|i| i == 0) {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the child ended while holding its run"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(&hold).unwrap();
    wait_until(&mut session, "the run to be taken over and finished", |s| {
        let run = &s.runs()[0];
        run.owned_here && run.status == RunStatus::Done && run.history.len() == 61
    });
    let log = session.log_tail(&session.runs()[0].id, 10).join("\n");
    assert!(log.contains("resumed at iteration"), "{log}");
    session.shutdown();
}

/// Renaming a spec while its runs wait for a worker: they still finish
/// (the spec's new name lists them; no one paused them).
#[test]
fn a_renamed_spec_keeps_its_queued_runs() {
    let _cpu = shared();
    let (dir, old) = experiments(
        "a.toml",
        &SLOW.replace("[0]", "[0, 1, 2]").replace("6000", "5000"),
    );
    let mut session = Session::open(SessionOptions {
        jobs: 1,
        ..options(dir.path(), false)
    })
    .unwrap();
    assert!(session.runs().iter().any(|r| r.status == RunStatus::Queued));
    std::fs::rename(&old, dir.path().join("experiments/b.toml")).unwrap();
    wait_all_done(&mut session, 3, "every run of the renamed spec to finish");
    assert_eq!(session.specs().len(), 1);
    session.shutdown();
}

/// Two spec files of one name: the second is refused in place (its runs
/// would share the first's store directory and table) and loads when the
/// first is removed.
#[test]
fn a_second_spec_of_the_same_name_is_refused_until_the_name_is_free() {
    let _cpu = shared();
    let named = format!("name = \"shared\"\n{TRAP}");
    let (dir, first) = experiments("a.toml", &named);
    let second = dir.path().join("experiments/b.toml");
    save(&second, &named.replace("gamma = 0.9", "gamma = 0.8"));
    let mut session = Session::open(options(dir.path(), false)).unwrap();
    let specs = session.specs();
    let refused = specs.iter().find(|s| s.path.ends_with("b.toml")).unwrap();
    let error = refused.error.as_ref().expect("b.toml refused").to_string();
    assert!(
        error.contains("the name `shared` is taken by") && error.contains("a.toml"),
        "{error}"
    );
    assert!(refused.run_ids.is_empty());
    assert!(session.runs().iter().all(|r| r.config.gamma == 0.9));
    std::fs::remove_file(&first).unwrap();
    wait_until(&mut session, "b.toml to load once a.toml is gone", |s| {
        let specs = s.specs();
        specs.len() == 1 && specs[0].error.is_none() && specs[0].run_ids.len() == 2
    });
    session.shutdown();
}

/// Two specs listing the same configurations: trained once, listed under
/// each spec (so each spec's rows and score table hold all its runs).
#[test]
fn a_run_two_specs_list_is_trained_once_and_listed_under_each() {
    let _cpu = shared();
    let (dir, _) = experiments("a.toml", &format!("name = \"a\"\n{TRAP}"));
    save(
        &dir.path().join("experiments/b.toml"),
        &format!("name = \"b\"\n{TRAP}"),
    );
    let mut session = Session::open(options(dir.path(), false)).unwrap();
    wait_all_done(&mut session, 4, "the shared runs to finish");
    let runs = session.runs();
    let listed = |spec: &str| -> Vec<RunId> {
        let mut ids: Vec<RunId> = runs
            .iter()
            .filter(|r| &*r.config.spec == spec)
            .map(|r| r.id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(listed("a").len(), 2, "{runs:?}");
    assert_eq!(listed("a"), listed("b"));
    // One training: one run directory per id, under the spec that ran it.
    let stored = run_dirs(&dir.path().join("runs"));
    assert_eq!(stored.len(), 2, "{stored:?}");
    session.shutdown();
}

/// `mv experiments experiments.old; mkdir experiments`: the session
/// watches the new directory (the old watch follows the moved one), drops
/// the specs that went with it and loads the new ones.
#[test]
fn a_replaced_experiments_directory_is_watched_again() {
    let _cpu = shared();
    let (dir, _) = experiments("trap.toml", TRAP);
    let mut session = Session::open(options(dir.path(), false)).unwrap();
    assert_eq!(session.specs().len(), 1);
    let experiments = dir.path().join("experiments");
    std::fs::rename(&experiments, dir.path().join("experiments.old")).unwrap();
    std::fs::create_dir(&experiments).unwrap();
    wait_until(&mut session, "the moved spec to be dropped", |s| {
        s.specs().is_empty()
    });
    save(&experiments.join("other.toml"), &TRAP.replace("0.9", "0.8"));
    wait_until(&mut session, "the spec saved in the new directory", |s| {
        s.specs().len() == 1 && s.specs()[0].name == "other"
    });
    assert!(session.watch_error.is_none(), "{:?}", session.watch_error);
    session.shutdown();
}

/// TRAP's two runs in a session that starts nothing (`--no-autostart`).
fn waiting_session() -> (tempfile::TempDir, PathBuf, Session) {
    let (dir, spec) = experiments("trap.toml", TRAP);
    let session = Session::open(SessionOptions {
        autostart: false,
        ..options(dir.path(), false)
    })
    .unwrap();
    assert!(
        session
            .runs()
            .iter()
            .all(|r| r.status == RunStatus::Waiting)
    );
    (dir, spec, session)
}

/// `pessimist run SPEC` into the store under `root`, as another process.
fn run_elsewhere(spec: &Path, root: &Path) {
    let runs = root.join("runs");
    cli::pessimist(&[
        "run",
        spec.to_str().unwrap(),
        "--runs",
        runs.to_str().unwrap(),
    ]);
}

/// Without autostart runs wait (not "paused"); `start_queued` starts them
/// and leaves what the user paused alone.
#[test]
fn waiting_runs_start_on_request_and_paused_ones_stay_paused() {
    let _cpu = shared();
    let (_dir, _, mut session) = waiting_session();
    let runs = session.runs();
    session.pause(&runs[0].id);
    session.start_queued();
    wait_until(&mut session, "the waiting run to finish", |s| {
        s.runs()[1].status == RunStatus::Done
    });
    assert_eq!(session.runs()[0].status, RunStatus::Paused);
    session.shutdown();
}

/// A dashboard that starts nothing (`--no-autostart`, the Slurm monitor)
/// shows the runs another process trains as they finish (issue 20: it
/// stayed at "2 waiting, 0 done"). The other process's exit and then the
/// session's own view are the synchronisation.
#[test]
fn a_no_autostart_session_shows_runs_another_process_finished() {
    let _cpu = shared();
    let (dir, spec, mut session) = waiting_session();
    run_elsewhere(&spec, dir.path());
    wait_all_done(&mut session, 2, "the other process's runs, done");
    for run in session.runs() {
        assert!(!run.owned_here, "{}", run.id);
        assert!(!run.history.is_empty(), "{}", run.id);
    }
    session.shutdown();
}

/// `pessimist run` trains a run a dashboard paused: a Slurm sweep must not
/// "succeed" with untrained runs.
#[test]
fn headless_runs_train_what_a_dashboard_paused() {
    let _cpu = shared();
    let (dir, spec, mut session) = waiting_session();
    // A paused run's summary says so (as when a dashboard paused it mid-run;
    // a session without autostart writes nothing, so the directory is made here).
    for run in session.runs() {
        let run_dir = session.run_dir(&run.id).unwrap();
        std::fs::create_dir_all(run_dir.path()).unwrap();
        let mut summary = pessimist::experiment::Summary::new(20, "dashboard".into());
        summary.status = RunStatus::Paused;
        pessimist::experiment::store::write_summary(&run_dir, &summary).unwrap();
    }
    session.wait(Duration::from_millis(300));
    session.shutdown();
    run_elsewhere(&spec, dir.path());
    let dirs = run_dirs(&dir.path().join("runs"));
    assert_eq!(dirs.len(), 2);
    for d in dirs {
        assert_eq!(
            files::status(&d).as_deref(),
            Some("done"),
            "{}",
            d.display()
        );
    }
}

/// A store of 500 runs, all ended, is watched with a handful of watches
/// (not one per run directory: inotify's per-user limit would cap the
/// store); a run another process then starts in it is followed live, each
/// eval point as written, to its end, and its directory is no longer
/// watched once it ended. Synchronised on the other process's files and
/// the session's view, not on time.
fn a_run_started_elsewhere_among_ended_runs_is_followed_live(poll: bool) {
    let (dir, spec) = experiments(
        "ended.toml",
        &TRAP.replace(
            "seeds = [0, 1]",
            &format!("seeds = {:?}", (0..500).collect::<Vec<_>>()),
        ),
    );
    let runs = dir.path().join("runs");
    cli::pessimist(&[
        "run",
        spec.to_str().unwrap(),
        "--jobs",
        "2",
        "--runs",
        runs.to_str().unwrap(),
    ]);
    // The store's runs, of no spec the session reads.
    std::fs::remove_file(&spec).unwrap();
    let mut session = Session::open(options(dir.path(), poll)).unwrap();
    assert_eq!(session.runs().len(), 500);
    assert!(session.runs().iter().all(|r| r.status == RunStatus::Done));
    // The experiments directory, the store's root, its index, the spec's
    // directory.
    assert_eq!(session.watched_dirs(), 4);
    assert!(session.watch_error.is_none(), "{:?}", session.watch_error);

    // Another process trains a run of the same spec, held after its first
    // step while `hold` exists.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    save(
        &other.join("ended.toml"),
        &SLOW.replace("iterations = 6000", "iterations = 300"),
    );
    let hold = dir.path().join("hold");
    std::fs::write(&hold, "").unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pessimist"))
        .args([
            "run",
            other.join("ended.toml").to_str().unwrap(),
            "--jobs",
            "1",
            "--runs",
        ])
        .arg(&runs)
        .env("PESSIMIST_TEST_HOLD", &hold)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let live = |s: &Session| {
        s.runs()
            .into_iter()
            .find(|r| &*r.config.env == "FrozenLake8x8-v1")
    };
    wait_until(&mut session, "the other process's run, running", |s| {
        live(s).is_some_and(|r| r.status == RunStatus::Running && !r.history.is_empty())
    });
    assert!(!live(&session).unwrap().owned_here);
    // Its directory is watched while it runs.
    assert_eq!(session.watched_dirs(), 5);
    std::fs::remove_file(&hold).unwrap();
    assert!(child.wait().unwrap().success());
    wait_until(&mut session, "the other process's run, done", |s| {
        live(s).is_some_and(|r| r.status == RunStatus::Done)
    });
    let id = live(&session).unwrap().id;
    session.read_shown(&[id]);
    assert_eq!(
        live(&session).unwrap().history.len(),
        4,
        "eval points 0, 100, 200, 300"
    );
    assert_eq!(session.watched_dirs(), 4);
    session.shutdown();
}

#[test]
fn a_run_started_elsewhere_among_ended_runs_is_followed_live_with_native_events() {
    let _cpu = shared();
    a_run_started_elsewhere_among_ended_runs_is_followed_live(false);
}

#[test]
fn a_run_started_elsewhere_among_ended_runs_is_followed_live_when_polling() {
    let _cpu = shared();
    a_run_started_elsewhere_among_ended_runs_is_followed_live(true);
}
