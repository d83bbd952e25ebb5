//! Reliability of `pessimist run` and the store, through the binary:
//! `kill -9` at random moments, two processes on one store, corrupt or
//! hostile inputs, a read-only store and a full disk. Every test is seeded
//! and bounded in time; the ones that need the CPU take turns.

use crate::support::cli::{snapshot, tree};
use crate::support::files::{status, summary};
use crate::support::skip::skip_or_fail;
use assert_cmd::cargo::cargo_bin;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The machine may have two cores: tests that train for seconds take turns.
static CPU: Mutex<()> = Mutex::new(());

fn cpu() -> std::sync::MutexGuard<'static, ()> {
    CPU.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn pessimist() -> Command {
    Command::new(cargo_bin("pessimist"))
}

/// Runs `cmd` to the end; stdout and stderr as text.
fn output(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("pessimist starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{cmd:?} panicked:\n{stderr}");
    (out, stdout, stderr)
}

/// An error's cause printed once: `cannot x: Permission denied`, not
/// `cannot x: Permission denied: Permission denied`.
fn assert_causes_once(stderr: &str) {
    for line in stderr.lines() {
        assert!(
            line.matches("(os error").count() <= 1,
            "cause repeated: {line}"
        );
    }
}

fn run_specs(specs: &[&Path], store: &Path, jobs: usize) -> (Output, String, String) {
    output(
        pessimist()
            .arg("run")
            .args(specs)
            .arg("--runs")
            .arg(store)
            .args(["--jobs", &jobs.to_string()]),
    )
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// Every run directory of `spec` in `store`, sorted.
fn run_dirs(store: &Path, spec: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(store.join(spec)) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    };
    dirs.sort();
    dirs
}

/// The fields of a metrics line that training determines (not the clock).
const DETERMINISTIC: [&str; 12] = [
    "iteration",
    "q_est",
    "true_return",
    "gap",
    "q_data",
    "q_true_data",
    "normalized_score",
    "success_prob",
    "bellman_error",
    "ood_fraction",
    "kl_behavior",
    "loss",
];

/// The metrics lines of a run, each reduced to its deterministic fields.
fn metrics(dir: &Path) -> Vec<Vec<Value>> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "{}: last line torn", dir.display());
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: line {}: {e}", dir.display(), i + 1));
            DETERMINISTIC.iter().map(|k| v[*k].clone()).collect()
        })
        .collect()
}

/// Asserts the eval points are exactly 0, every, 2·every, …, iterations.
fn assert_iterations(dir: &Path, lines: &[Vec<Value>], every: u64, iterations: u64) {
    let got: Vec<u64> = lines.iter().map(|l| l[0].as_u64().unwrap()).collect();
    let want: Vec<u64> = (0..=iterations).step_by(every as usize).collect();
    assert_eq!(got, want, "{}: eval points", dir.display());
}

/// Waits until `spec` has `n` runs in `store`, each held by PESSIMIST_TEST_HOLD
/// (running, checkpointed after its first step) by a worker whose name ends
/// with `worker` (`:PID`) if given. Bounded: fails after 300 s.
fn wait_held(store: &Path, spec: &str, n: usize, worker: Option<&str>) {
    let held = |d: &PathBuf| {
        summary(d).is_some_and(|s| {
            s["status"] == "running"
                && s["iterations_done"].as_u64() >= Some(1)
                && worker.is_none_or(|want| s["worker"].as_str().is_some_and(|w| w.ends_with(want)))
        })
    };
    let started = Instant::now();
    loop {
        let dirs = run_dirs(store, spec);
        if dirs.len() == n && dirs.iter().all(held) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{n} runs of {spec} never held: {dirs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

const KILL_SPEC: &str = r#"name = "kill"
env = "FrozenLake8x8-v1"
seeds = [0, 1]
iterations = 8000
eval_every = 50
dataset = { policy = "medium", size = 200_000 }

[[algo]]
name = "fqi"
variant = "sample"
lr = 0.1
"#;

/// `kill -9` at ≥ 20 random moments (while collecting data, training,
/// checkpointing, finishing) of a process that was still running, then to
/// completion: every run's metrics are those of an uninterrupted run, eval
/// point for eval point, and so are its final policy and Q table. When the
/// runs finish before 20 interruptions, a new store starts (a round); every
/// round's store is checked.
#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let _cpu = cpu();
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(&tmp.path().join("kill.toml"), KILL_SPEC);
    let mut stores = vec![tmp.path().join("killed-0")];
    let mut rng = rand_pcg::Pcg64::seed_from_u64(20_240_917);
    let (mut kills, mut interrupted) = (0, 0);
    // The costs (eval seconds) each run's summary showed after each kill.
    let mut costs_seen: BTreeMap<PathBuf, f64> = BTreeMap::new();
    let mut trace = Vec::new();
    // The first two kills are certain to land mid-run, after a checkpoint
    // (the runs hold, checkpointed, while `hold` exists: a test-only switch
    // of the runner), so resuming from a later checkpoint is always tested;
    // the others land where they land. Bounded by a number of kills, not
    // by the clock: a slow machine only makes the test slower.
    let hold = tmp.path().join("hold");
    while interrupted < 20 {
        assert!(
            kills < 300,
            "only {interrupted} interruptions in {kills} kills: {}",
            trace.join(" ")
        );
        let store = stores.last().unwrap().clone();
        let held = kills < 2;
        if held {
            std::fs::write(&hold, "").unwrap();
        }
        let mut child = pessimist()
            .arg("run")
            .arg(&spec)
            .arg("--runs")
            .arg(&store)
            .args(["--jobs", "2"])
            .env("PESSIMIST_TEST_HOLD", &hold)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ms = if held {
            let worker = format!(":{}", child.id());
            wait_held(&store, "kill", 2, Some(&worker));
            0
        } else if rng.random_bool(0.5) {
            // Early: start-up, data, the first second of training.
            rng.random_range(50..=400)
        } else {
            // After one or two checkpoints, if the machine is fast enough.
            rng.random_range(1100..=2000)
        };
        std::thread::sleep(Duration::from_millis(ms));
        let running = child.try_wait().unwrap().is_none();
        assert!(running || !held, "a held child ended");
        let _ = std::fs::remove_file(&hold);
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        interrupted += usize::from(running);
        let dirs = run_dirs(&store, "kill");
        for d in &dirs {
            if let Some(e) = summary(d).and_then(|s| s["eval_seconds"].as_f64()) {
                let seen = costs_seen.entry(d.clone()).or_default();
                *seen = seen.max(e);
            }
        }
        let progress: Vec<u64> = dirs
            .iter()
            .map(|d| {
                summary(d)
                    .and_then(|s| s["iterations_done"].as_u64())
                    .unwrap_or(0)
            })
            .collect();
        trace.push(format!(
            "{ms}ms{}→{progress:?}",
            if running { "" } else { "(ended)" }
        ));
        let done = dirs.len() == 2 && dirs.iter().all(|d| status(d).as_deref() == Some("done"));
        if done && interrupted < 20 {
            stores.push(tmp.path().join(format!("killed-{}", stores.len())));
        }
    }
    let (out, _, stderr) = run_specs(&[&spec], stores.last().unwrap(), 2);
    assert!(
        out.status.success(),
        "completing after {kills} kills:\n{stderr}"
    );

    let clean = tmp.path().join("clean");
    let (out, _, stderr) = run_specs(&[&spec], &clean, 2);
    assert!(out.status.success(), "{stderr}");
    let b = run_dirs(&clean, "kill");
    let names = |v: &[PathBuf]| {
        v.iter()
            .map(|d| d.file_name().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let mut resumed_later = 0;
    for killed in &stores {
        let a = run_dirs(killed, "kill");
        assert_eq!(a.len(), 2);
        assert_eq!(names(&a), names(&b), "run ids");
        for (ka, cb) in a.iter().zip(&b) {
            assert_eq!(status(ka).as_deref(), Some("done"), "{}", ka.display());
            let (ma, mb) = (metrics(ka), metrics(cb));
            assert_iterations(ka, &ma, 50, 8000);
            assert_iterations(cb, &mb, 50, 8000);
            for (la, lb) in ma.iter().zip(&mb) {
                assert_eq!(
                    la,
                    lb,
                    "{}: eval point differs from the uninterrupted run",
                    ka.display()
                );
            }
            for file in ["policy.json", "q.npy"] {
                assert!(
                    std::fs::read(ka.join(file)).unwrap() == std::fs::read(cb.join(file)).unwrap(),
                    "{}: {file} differs from the uninterrupted run",
                    ka.display()
                );
            }
            assert_eq!(summary(ka).unwrap()["iterations_done"], 8000);
            // Costs add up over the resumed pieces (not just the last one):
            // the final eval seconds are at least what any piece had
            // recorded (clock readings, compared with each other only).
            let eval = summary(ka).unwrap()["eval_seconds"].as_f64().unwrap();
            let seen = costs_seen.get(ka).copied().unwrap_or(0.0);
            assert!(
                eval >= seen && eval > 0.0,
                "{}: eval seconds {eval} at the end, {seen} recorded before",
                ka.display()
            );
            let log = log_lines(ka);
            resumed_later += log
                .iter()
                .filter(|l| l.contains(" resumed at iteration ") && !l.contains(" at iteration 0 "))
                .count();
            assert_eq!(
                log.iter()
                    .filter(|l| l.contains(" done at iteration "))
                    .count(),
                1,
                "{}: {log:#?}",
                ka.display()
            );
        }
    }
    // Some kills must have landed after a checkpoint, or resuming was not tested.
    assert!(
        resumed_later >= 2,
        "no run resumed from a later checkpoint in {kills} kills"
    );
    eprintln!(
        "{kills} kills, {interrupted} of running processes, {} round(s) ({}), {resumed_later} resumes past iteration 0, {:.1} s",
        stores.len(),
        trace.join(" "),
        started.elapsed().as_secs_f64()
    );
}

const BOTH_SPEC: &str = r#"name = "both"
env = "FrozenLake8x8-v1"
seeds = [0, 1, 2, 3]
iterations = 600
eval_every = 50
dataset = { policy = "medium", size = 200_000 }

[[algo]]
name = "fqi"
variant = "sample"
lr = 0.1
"#;

/// Two `pessimist run` on the same spec and store at once: both succeed,
/// and each run is trained exactly once, by one of them.
#[test]
fn two_processes_on_one_store_train_each_run_once() {
    let _cpu = cpu();
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(&tmp.path().join("both.toml"), BOTH_SPEC);
    let store = tmp.path().join("runs");
    // Every run holds after its first step while `hold` exists, so each
    // process can hold two runs at most and must leave two to the other,
    // however late it starts; the test lets go once all four hold.
    let hold = write(&tmp.path().join("hold"), "");
    let spawn = || {
        pessimist()
            .arg("run")
            .arg(&spec)
            .arg("--runs")
            .arg(&store)
            .args(["--jobs", "2"])
            .env("PESSIMIST_TEST_HOLD", &hold)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    wait_held(&store, "both", 4, None);
    std::fs::remove_file(&hold).unwrap();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let dirs = run_dirs(&store, "both");
    assert_eq!(dirs.len(), 4);
    // Each process has two workers for four runs: both had to train.
    let workers: std::collections::BTreeSet<String> = dirs
        .iter()
        .map(|d| summary(d).unwrap()["worker"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        workers.len(),
        2,
        "the processes did not share the work: {workers:?}"
    );
    for dir in &dirs {
        assert_eq!(status(dir).as_deref(), Some("done"), "{}", dir.display());
        let log = log_lines(dir);
        let count = |needle: &str| log.iter().filter(|l| l.contains(needle)).count();
        assert_eq!(
            count(" started at iteration 0 "),
            1,
            "{}: {log:#?}",
            dir.display()
        );
        assert_eq!(
            count(" resumed at iteration "),
            0,
            "{}: {log:#?}",
            dir.display()
        );
        assert_eq!(
            count(" done at iteration 600"),
            1,
            "{}: {log:#?}",
            dir.display()
        );
        assert_iterations(dir, &metrics(dir), 50, 600);
    }
}

const SMALL_SPEC: &str = r#"name = "small"
env = "ThreeState-v0"
gamma = 0.9
seeds = [0, 1, 2]
iterations = 50
eval_every = 5
dataset = { policy = "behavior", size = 1_000 }

[[algo]]
name = "fqi"
"#;

fn small_store(tmp: &Path) -> (PathBuf, PathBuf, Vec<PathBuf>) {
    let spec = write(&tmp.join("small.toml"), SMALL_SPEC);
    let store = tmp.join("runs");
    let (out, _, stderr) = run_specs(&[&spec], &store, 2);
    assert!(out.status.success(), "{stderr}");
    let dirs = run_dirs(&store, "small");
    assert_eq!(dirs.len(), 3);
    (spec, store, dirs)
}

/// A torn last metrics line (a writer killed mid-line) is harmless; garbage
/// in the middle is reported with the file's name. Nothing is rewritten.
#[test]
fn torn_or_garbled_metrics_are_reported_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store, dirs) = small_store(tmp.path());
    let torn = dirs[0].join("metrics.jsonl");
    let mut text = std::fs::read_to_string(&torn).unwrap();
    text.push_str(r#"{"iteration":55,"q_est":0.9"#);
    std::fs::write(&torn, &text).unwrap();
    let before = snapshot(&store);

    let (out, stdout, stderr) = output(pessimist().arg("report").arg(&store));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("fqi"), "{stdout}");
    let svg = tmp.path().join("plot.svg");
    let (out, _, stderr) = output(pessimist().arg("plot").arg(&store).arg("--out").arg(&svg));
    assert!(out.status.success(), "{stderr}");
    assert!(svg.is_file());
    // Running the spec again leaves finished runs alone.
    let (out, _, stderr) = run_specs(&[&spec], &store, 2);
    assert!(out.status.success(), "{stderr}");
    assert!(before == snapshot(&store), "the store was rewritten");

    let garbled = dirs[1].join("metrics.jsonl");
    let text = std::fs::read_to_string(&garbled).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(3, "\u{0}\u{0}garbage{");
    std::fs::write(&garbled, lines.join("\n") + "\n").unwrap();
    let before = snapshot(&store);
    let (out, _, stderr) = output(pessimist().arg("plot").arg(&store).arg("--out").arg(&svg));
    let named = stderr.contains(&garbled.display().to_string()) && stderr.contains("line 4");
    assert!(
        named && (!out.status.success() || stderr.contains("warning")),
        "plot with garbage in {}: exit {:?}, stderr:\n{stderr}",
        garbled.display(),
        out.status
    );
    let (out, _, stderr) = output(pessimist().arg("report").arg(&store));
    assert!(out.status.success(), "{stderr}");
    assert!(before == snapshot(&store), "the store was rewritten");
}

/// A truncated summary.json: `report` warns, naming the file, and reports
/// the other runs.
#[test]
fn a_truncated_summary_is_named_and_the_other_runs_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, store, dirs) = small_store(tmp.path());
    let path = dirs[0].join("summary.json");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let before = snapshot(&store);
    let (out, stdout, stderr) = output(
        pessimist()
            .arg("report")
            .arg(&store)
            .args(["--format", "json"]),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains(&path.display().to_string()),
        "{stderr}"
    );
    let table: Value = serde_json::from_str(&stdout).unwrap();
    let scores = table["cells"][0][0]["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 2, "the two intact runs: {stdout}");
    assert!(before == snapshot(&store), "the store was rewritten");
}

/// Broken specs: exit non-zero, `file:line:col` at the right line with the
/// valid choices, and no run directory created.
#[test]
fn broken_specs_say_where_and_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let head = "name = \"bad\"\nenv = \"ThreeState-v0\"\n";
    let tail = "dataset = { policy = \"behavior\", size = 100 }\n\n[[algo]]\nname = \"fqi\"\n";
    let cases: [(&str, String, &str, &[&str]); 5] = [
        (
            "syntax",
            format!("{head}iterations = = 10\n{tail}"),
            ":3:",
            &["expected"],
        ),
        (
            "table",
            format!("{head}[dataset\npolicy = \"behavior\"\n"),
            ":3:",
            &["expected `]`"],
        ),
        (
            "key",
            format!("{head}seedz = [0, 1]\n{tail}"),
            ":3:1:",
            &["`seedz`", "did you mean `seeds`", "valid keys"],
        ),
        (
            "env",
            format!("name = \"bad\"\nenv = \"FrozenLake8x8-v2\"\n{tail}"),
            ":2:7:",
            &[
                "did you mean `FrozenLake8x8-v1`",
                "valid choices",
                "Taxi-v4",
            ],
        ),
        (
            "param",
            format!("{head}{tail}lrr = 0.1\n"),
            ":7:1:",
            &["`lrr`", "did you mean `lr`", "valid keys", "q_init"],
        ),
    ];
    let store = tmp.path().join("runs");
    for (what, text, place, needles) in cases {
        let spec = write(&tmp.path().join(format!("{what}.toml")), &text);
        let (out, _, stderr) = run_specs(&[&spec], &store, 1);
        assert!(!out.status.success(), "{what}: accepted");
        let at = format!("{}{place}", spec.display());
        assert!(stderr.contains(&at), "{what}: no `{at}` in:\n{stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{what}: no `{needle}` in:\n{stderr}"
            );
        }
        assert!(!store.exists(), "{what}: created the store");
    }
}

/// `report` and `plot` on a store that does not exist.
#[test]
fn a_missing_store_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere");
    for args in [vec!["report"], vec!["plot", "--out", "x.svg"]] {
        let (out, _, stderr) = output(
            pessimist()
                .current_dir(tmp.path())
                .args(&args)
                .arg(&missing),
        );
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr.contains(&missing.display().to_string()) && stderr.contains("no such run store"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(tree(tmp.path()), Vec::<PathBuf>::new());
}

/// Names that would leave the store: rejected before anything is written.
#[test]
fn a_spec_cannot_write_outside_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let specs = tmp.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    let body = "env = \"ThreeState-v0\"\niterations = 5\ndataset = { policy = \"behavior\", size = 100 }\n\n[[algo]]\nname = \"fqi\"\n";
    let cases = [
        ("dotdot.toml", "name = \"../evil\"\n", "../evil", ":1:8:"),
        ("slash.toml", "name = \"a/b\"\n", "a/b", ":1:8:"),
        ("bell.toml", "name = \"a\\u0007b\"\n", "a\\u{7}b", ":1:8:"),
        ("dots.toml", "name = \"..\"\n", "`..`", ":1:8:"),
        ("..bad.toml", "", "..bad", ":1:1:"),
        ("...toml", "", "`..`", ":1:1:"),
    ];
    let store = specs.join("runs");
    for (file, name, shown, place) in cases {
        let spec = write(&specs.join(file), &format!("{name}{body}"));
        let (out, _, stderr) = run_specs(&[&spec], &store, 1);
        assert!(!out.status.success(), "{file}: accepted");
        assert!(
            stderr.contains(&format!("{}{place}", spec.display()))
                && stderr.contains(shown)
                && stderr.contains("not a safe directory name"),
            "{file}: {stderr}"
        );
        // The store's default place too: `runs/` beside the spec's directory.
        let (out, _, _) = output(pessimist().arg("run").arg(&spec).current_dir(&specs));
        assert!(!out.status.success(), "{file}: accepted");
    }
    let mut want: Vec<PathBuf> = cases
        .iter()
        .map(|(file, ..)| Path::new("specs").join(file))
        .collect();
    want.push(PathBuf::from("specs"));
    want.sort();
    assert_eq!(tree(tmp.path()), want, "something was written");
}

const ONE_SPEC: &str = r#"name = "one"
env = "ThreeState-v0"
gamma = 0.9
seeds = [0]
iterations = 50
eval_every = 5
dataset = { policy = "behavior", size = 1_000 }

[[algo]]
name = "fqi"
"#;

fn set_mode(dir: &Path, dirs: u32, files: u32) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            set_mode(&path, dirs, files);
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(files)).unwrap();
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dirs)).unwrap();
}

/// A store made read-only after a first run, and a spec that grew a seed:
/// the new run fails with "cannot ...", the finished one is untouched.
#[test]
fn a_read_only_store_is_reported_and_left_alone() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(&tmp.path().join("one.toml"), ONE_SPEC);
    let store = tmp.path().join("runs");
    let (out, _, stderr) = run_specs(&[&spec], &store, 1);
    assert!(out.status.success(), "{stderr}");
    let finished = run_dirs(&store, "one");
    assert_eq!(finished.len(), 1);
    let before = snapshot(&finished[0]);
    write(&spec, &ONE_SPEC.replace("seeds = [0]", "seeds = [0, 1]"));

    let spec_dir = store.join("one");
    set_mode(&spec_dir, 0o555, 0o444);
    let mut cmd = pessimist();
    cmd.arg("run").arg(&spec).arg("--runs").arg(&store);
    let probe = spec_dir.join("probe");
    let mut read_only = None;
    if std::fs::write(&probe, b"").is_ok() {
        // Root ignores permissions: try again as `nobody`.
        let _ = std::fs::remove_file(&probe);
        set_mode_one(tmp.path(), 0o755);
        cmd.uid(65534).gid(65534);
        let runs_as_nobody = pessimist()
            .arg("--version")
            .uid(65534)
            .gid(65534)
            .output()
            .is_ok_and(|o| o.status.success());
        if !runs_as_nobody {
            // Root without `nobody`: a read-only bind mount binds root too.
            cmd = pessimist();
            cmd.arg("run").arg(&spec).arg("--runs").arg(&store);
            read_only = mount(&["--bind"], &spec_dir, &spec_dir).filter(|_| {
                Command::new("mount")
                    .args(["-o", "remount,bind,ro"])
                    .arg(&spec_dir)
                    .status()
                    .is_ok_and(|s| s.success())
            });
            if read_only.is_none() {
                set_mode(&spec_dir, 0o755, 0o644);
                skip_or_fail(
                    "PESSIMIST_REQUIRE_FS",
                    "writes to a read-only directory succeed (root), `nobody` is not available and a read-only bind mount failed: read-only store not tested",
                );
                return;
            }
        }
    }
    let (out, _, stderr) = output(&mut cmd);
    drop(read_only);
    set_mode(&spec_dir, 0o755, 0o644);
    assert!(
        !out.status.success(),
        "a read-only store was accepted:\n{stderr}"
    );
    assert!(
        stderr.contains("cannot") && stderr.contains(&spec_dir.display().to_string()),
        "{stderr}"
    );
    assert_causes_once(&stderr);
    assert!(
        before == snapshot(&finished[0]),
        "the finished run was rewritten"
    );
    assert_eq!(run_dirs(&store, "one"), finished);
}

fn set_mode_one(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `mount ARGS SOURCE TARGET`, unmounted when dropped; None if it failed.
fn mount(args: &[&str], source: &Path, target: &Path) -> Option<Mount> {
    Command::new("mount")
        .args(args)
        .arg(source)
        .arg(target)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        .then(|| Mount(target.to_path_buf()))
}

/// Unmounts a mount when the test ends, passed or not.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A store on a 64 KiB tmpfs: a run that fills it fails with the reason,
/// and the run that finished before is intact.
#[test]
fn a_full_disk_fails_the_run_and_keeps_finished_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small-disk");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_mount) = mount(&["-t", "tmpfs", "-o", "size=64k"], Path::new("tmpfs"), &mnt) else {
        skip_or_fail(
            "PESSIMIST_REQUIRE_FS",
            "cannot mount a tmpfs (not root?): full disk not tested",
        );
        return;
    };
    let store = mnt.join("runs");
    let spec = write(&tmp.path().join("one.toml"), ONE_SPEC);
    let (out, _, stderr) = run_specs(&[&spec], &store, 1);
    assert!(out.status.success(), "{stderr}");
    let finished = run_dirs(&store, "one");
    assert_eq!(finished.len(), 1);
    let before = snapshot(&finished[0]);

    // A new run of 4 001 eval points of ~300 bytes: far more than the disk
    // holds.
    let big = ONE_SPEC.replace("iterations = 50", "iterations = [50, 20_000]");
    write(&spec, &big);
    let (out, _, stderr) = run_specs(&[&spec], &store, 1);
    assert!(
        !out.status.success(),
        "a full disk went unnoticed:\n{stderr}"
    );
    assert!(
        stderr.contains("No space left on device") && stderr.contains("cannot"),
        "{stderr}"
    );
    assert_causes_once(&stderr);
    assert!(
        before == snapshot(&finished[0]),
        "the finished run was rewritten"
    );
}

/// Rewards of 1e308 on a self-loop: FQI's values overflow to infinity
/// within two sweeps, and to NaN where +inf and −inf meet. Both runs end
/// `diverged` (not `failed`) with their history kept up to that point.
#[test]
fn overflowing_values_end_as_diverged_with_their_history() {
    let tmp = tempfile::tempdir().unwrap();
    let header = "episode,step,state,action,reward,next_state,terminated,truncated\n";
    write(
        &tmp.path().join("inf.csv"),
        &format!("{header}0,0,0,0,1e308,0,false,false\n0,1,0,0,1e308,0,false,true\n"),
    );
    // State 3's values go to −inf, state 0's to +inf; (2, 0) leads to both.
    let mut nan = format!(
        "{header}0,0,0,0,1e308,0,false,true\n1,0,2,0,0,0,false,true\n2,0,2,0,0,3,false,true\n"
    );
    for a in 0..4 {
        nan.push_str(&format!("{},0,3,{a},-1e308,3,false,true\n", 3 + a));
    }
    write(&tmp.path().join("nan.csv"), &nan);
    let spec = write(
        &tmp.path().join("boom.toml"),
        "env = \"FrozenLake-v1\"\ngamma = 0.99\niterations = 50\neval_every = 10\n\
         dataset = { file = [\"inf.csv\", \"nan.csv\"] }\n[[algo]]\nname = \"fqi\"\n",
    );
    let store = tmp.path().join("runs");
    let (out, _, stderr) = run_specs(&[&spec], &store, 1);
    assert!(out.status.success(), "{stderr}");
    let dirs = run_dirs(&store, "boom");
    assert_eq!(dirs.len(), 2);
    for dir in dirs {
        assert_eq!(
            status(&dir).as_deref(),
            Some("diverged"),
            "{}",
            dir.display()
        );
        let lines = metrics(&dir);
        assert_iterations(&dir, &lines, 10, 10);
        let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        // Infinities are written as "inf"/"-inf", NaN as null.
        assert!(
            last["q_est"].is_null() || last["q_est"].as_str().is_some_and(|s| s.ends_with("inf")),
            "a non-finite q_est: {last}"
        );
        assert!(
            log_lines(&dir)
                .iter()
                .any(|l| l.contains("diverged at iteration 10"))
        );
    }
}

/// `pessimist ARGS...` with its address space limited to `kib` KiB
/// (`ulimit -v`): a command that tries to hold more fails instead of
/// swapping the machine to a halt.
fn within_memory(kib: u64, args: &[&std::ffi::OsStr]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$@\""))
        .arg("sh")
        .arg(cargo_bin("pessimist"))
        .args(args);
    cmd
}

/// A spec of three lists (1,000 × 1,000 × 100 values) is refused from the
/// lengths alone, naming the lists and the product, under a 1 GB address
/// space: expanding it first (the old way) needed tens of gigabytes.
#[test]
fn a_grid_past_the_run_limit_is_refused_before_it_is_expanded() {
    let tmp = tempfile::tempdir().unwrap();
    let list = |n: usize| {
        let values: Vec<String> = (0..n)
            .map(|i| format!("{:.4}", i as f64 / n as f64))
            .collect();
        format!("[{}]", values.join(", "))
    };
    let spec = write(
        &tmp.path().join("huge.toml"),
        &format!(
            "env = \"FrozenLake-v1\"\ndataset = {{ policy = \"random\", size = 100 }}\n[[algo]]\nname = \"fqi\"\nvariant = \"sample\"\nq_init = \"random\"\nlr = {}\nlr_decay = {}\ninit_scale = {}\n",
            list(1000),
            list(1000),
            list(100)
        ),
    );
    let store = tmp.path().join("runs");
    let (out, _, stderr) = output(&mut within_memory(
        1_000_000,
        &[
            "run".as_ref(),
            spec.as_os_str(),
            "--runs".as_ref(),
            store.as_os_str(),
        ],
    ));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for text in [
        "huge.toml",
        "100000000 runs",
        "limit of 100000",
        "[[algo]] fqi: `init_scale` (100) × `lr` (1000) × `lr_decay` (1000)",
    ] {
        assert!(stderr.contains(text), "stderr lacks `{text}`:\n{stderr}");
    }
    assert!(!store.exists(), "nothing is created");

    // The dashboard loads every spec: it shows this one's error beside
    // the good spec's runs, and goes on.
    let experiments = tmp.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    std::fs::rename(&spec, experiments.join("huge.toml")).unwrap();
    write(&experiments.join("small.toml"), SMALL_SPEC);
    let (out, frame, stderr) = output(&mut within_memory(
        4_000_000,
        &[
            "tui".as_ref(),
            experiments.as_os_str(),
            "--runs".as_ref(),
            store.as_os_str(),
            "--headless".as_ref(),
            "--no-autostart".as_ref(),
            "--size".as_ref(),
            "200x30".as_ref(),
        ],
    ));
    assert!(out.status.success(), "{stderr}");
    assert!(
        frame.contains("huge.toml:1:1: the grid expands to 100000000 runs"),
        "{frame}"
    );
    assert!(frame.contains("3 runs"), "{frame}");
}

/// Garbage in `summary.json` (the checkpoint intact) and in `config.json`:
/// `run` rebuilds the summary by resuming from the checkpoint, rewrites the
/// config from the spec, and every later `run` and `report` work.
#[test]
fn run_repairs_a_garbage_summary_and_config() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store, dirs) = small_store(tmp.path());
    let config = std::fs::read(dirs[1].join("config.json")).unwrap();
    let last = summary(&dirs[0]).unwrap()["last"].clone();
    let trained = metrics(&dirs[2]);
    std::fs::write(dirs[0].join("summary.json"), "\u{0}garbage{").unwrap();
    std::fs::write(dirs[1].join("config.json"), "not json").unwrap();
    // No checkpoint to resume from either: trained again from the start.
    std::fs::write(dirs[2].join("summary.json"), "{").unwrap();
    std::fs::write(dirs[2].join("checkpoint.json"), "[").unwrap();
    for _ in 0..2 {
        let (out, _, stderr) = run_specs(&[&spec], &store, 2);
        assert!(out.status.success(), "{stderr}");
        for dir in &dirs {
            assert_eq!(status(dir).as_deref(), Some("done"), "{}", dir.display());
        }
    }
    assert_eq!(
        summary(&dirs[0]).unwrap()["last"],
        last,
        "rebuilt, same result"
    );
    assert_eq!(std::fs::read(dirs[1].join("config.json")).unwrap(), config);
    assert!(
        log_lines(&dirs[0])
            .iter()
            .any(|l| l.contains("summary.json: corrupt JSON")),
        "{:?}",
        log_lines(&dirs[0])
    );
    assert_iterations(&dirs[0], &metrics(&dirs[0]), 5, 50);
    assert_eq!(
        metrics(&dirs[2]),
        trained,
        "trained again, to the same result"
    );
    assert!(
        log_lines(&dirs[2])
            .iter()
            .any(|l| l.contains("training again from the start")),
        "{:?}",
        log_lines(&dirs[2])
    );
    let (out, _, stderr) = output(pessimist().arg("report").arg(&store));
    assert!(
        out.status.success() && !stderr.contains("warning"),
        "{stderr}"
    );
}

/// What a power loss can leave of files written without a sync (the
/// config, the summary) or renamed before their directory was synced:
/// empty files. Every reader takes them for absent (`report` skips the run
/// whose config is missing, as it would a deleted one), and `run` rewrites
/// the config, resumes the run whose checkpoint is whole and trains again
/// the one whose checkpoint is empty, to the same results.
#[test]
fn empty_files_left_by_a_power_loss_read_as_absent() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store, dirs) = small_store(tmp.path());
    let config = std::fs::read(dirs[0].join("config.json")).unwrap();
    let last = summary(&dirs[0]).unwrap()["last"].clone();
    let trained = metrics(&dirs[1]);
    for file in ["summary.json", "config.json"] {
        std::fs::write(dirs[0].join(file), "").unwrap();
    }
    for file in ["summary.json", "checkpoint.json"] {
        std::fs::write(dirs[1].join(file), "").unwrap();
    }
    // The run without a config is skipped, as one whose config is missing.
    let (out, _, stderr) = output(pessimist().arg("report").arg(&store));
    assert!(
        out.status.success()
            && stderr.contains("config.json: missing")
            && !stderr.contains("corrupt"),
        "{stderr}"
    );
    let (out, _, stderr) = run_specs(&[&spec], &store, 2);
    assert!(out.status.success(), "{stderr}");
    for dir in &dirs {
        assert_eq!(status(dir).as_deref(), Some("done"), "{}", dir.display());
    }
    let (out, _, stderr) = output(pessimist().arg("report").arg(&store));
    assert!(
        out.status.success() && !stderr.contains("warning"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(dirs[0].join("config.json")).unwrap(), config);
    assert_eq!(summary(&dirs[0]).unwrap()["last"], last, "resumed");
    assert!(
        log_lines(&dirs[0])
            .iter()
            .any(|l| l.contains("resumed at iteration 50")),
        "{:?}",
        log_lines(&dirs[0])
    );
    assert_eq!(metrics(&dirs[1]), trained, "trained again, the same");
    let log = log_lines(&dirs[1]);
    assert!(
        log.iter()
            .filter(|l| l.contains("started at iteration 0"))
            .count()
            == 2
            && !log.iter().any(|l| l.contains("corrupt")),
        "{log:?}"
    );
}

/// A regular file where a run's directory should be fails that run (its
/// error printed) and the rest of the sweep trains; the exit is non-zero.
/// (A file in place works as root too, unlike a permission bit.) A run
/// that failed stays failed, until `run --retry-failed` trains it again.
#[test]
fn one_bad_run_directory_fails_one_run_and_failed_runs_can_be_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store, dirs) = small_store(tmp.path());
    for dir in &dirs {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::write(&dirs[0], "in the way").unwrap();
    let (out, _, stderr) = run_specs(&[&spec], &store, 2);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot create run directory {}",
            dirs[0].display()
        )) && stderr.contains("1 run(s) failed"),
        "{stderr}"
    );
    assert_causes_once(&stderr);
    for dir in &dirs[1..] {
        assert_eq!(status(dir).as_deref(), Some("done"), "{}", dir.display());
    }

    // A run on record as failed: reported as failed, retried on request.
    std::fs::remove_file(&dirs[0]).unwrap();
    let (out, _, stderr) = run_specs(&[&spec], &store, 2);
    assert!(out.status.success(), "{stderr}");
    let path = dirs[1].join("summary.json");
    let mut failed = summary(&dirs[1]).unwrap();
    failed["status"] = "failed".into();
    failed["error"] = "a disk error".into();
    std::fs::write(&path, serde_json::to_vec(&failed).unwrap()).unwrap();
    let (out, _, stderr) = run_specs(&[&spec], &store, 2);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("a disk error"), "{stderr}");
    assert_eq!(status(&dirs[1]).as_deref(), Some("failed"));
    let (out, _, stderr) = output(
        pessimist()
            .arg("run")
            .arg(&spec)
            .arg("--runs")
            .arg(&store)
            .arg("--retry-failed"),
    );
    assert!(out.status.success(), "{stderr}");
    for dir in &dirs {
        assert_eq!(status(dir).as_deref(), Some("done"), "{}", dir.display());
    }
    assert_iterations(&dirs[1], &metrics(&dirs[1]), 5, 50);
}

/// A checkpoint knows whose it is: cql's copied into an fqi run's
/// directory (its summary gone, so the run trains again) is not resumed
/// from, and the run trains from the start to exactly the result it had.
#[test]
fn a_checkpoint_of_another_run_is_not_resumed_from() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(
        &tmp.path().join("pair.toml"),
        &SMALL_SPEC
            .replace("\"small\"", "\"pair\"")
            .replace("seeds = [0, 1, 2]", "seeds = [0]")
            .replace("name = \"fqi\"", "name = \"fqi\"\n[[algo]]\nname = \"cql\""),
    );
    let store = tmp.path().join("runs");
    let (out, _, stderr) = run_specs(&[&spec], &store, 2);
    assert!(out.status.success(), "{stderr}");
    let dirs = run_dirs(&store, "pair");
    let algo = |dir: &PathBuf| {
        let config: Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        config["algo"].as_str().unwrap().to_string()
    };
    let fqi = dirs.iter().find(|d| algo(d) == "fqi").unwrap();
    let cql = dirs.iter().find(|d| algo(d) == "cql").unwrap();
    let trained = metrics(fqi);
    let policy = std::fs::read(fqi.join("policy.json")).unwrap();
    std::fs::copy(cql.join("checkpoint.json"), fqi.join("checkpoint.json")).unwrap();
    std::fs::remove_file(fqi.join("summary.json")).unwrap();
    let (out, _, stderr) = run_specs(&[&spec], &store, 2);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(status(fqi).as_deref(), Some("done"));
    assert_eq!(metrics(fqi), trained, "trained again, to the same result");
    assert!(std::fs::read(fqi.join("policy.json")).unwrap() == policy);
    assert!(
        log_lines(fqi)
            .iter()
            .any(|l| l.contains("the checkpoint is cql run") && l.contains("training again")),
        "{:?}",
        log_lines(fqi)
    );
}
