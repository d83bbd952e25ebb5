//! Files as a careless or hostile user writes them (issue 12): no file can
//! hang, exhaust, crash or spoof the command line or the dashboard.
//! Devices, FIFOs and links to them are refused by name; a corrupt `q.npy`
//! is an error in the detail; escape sequences from spec values, file names
//! and store JSON never reach the terminal raw; SVG output stays valid XML;
//! a `map:` file is hashed into the run id and resolved beside its spec.
//! The tmux tests (keys drawn late, panics off the main thread) are in
//! `tests/it/tmux_hostile.rs`.

use crate::support::hostile::{TRAP, mkfifo, npy};
use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A hang is a failure, not a stuck test run: generous, never a margin a
/// passing run comes near (these commands take well under a second).
const HANG: Duration = Duration::from_secs(120);

fn pessimist() -> Command {
    let mut command = Command::cargo_bin("pessimist").unwrap();
    command.timeout(HANG);
    command
}

/// Runs `command`; returns (success, stdout, stderr).
fn output(command: &mut Command) -> (bool, String, String) {
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// No escape sequence, bell or other control character but line breaks.
fn assert_no_controls(what: &str, text: &str) {
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what} holds a control character:\n{text:?}"
    );
}

/// An experiments directory with `specs` (name, text) and its store beside it.
fn experiments(specs: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    for (name, text) in specs {
        std::fs::write(experiments.join(name), text).unwrap();
    }
    (dir, experiments)
}

fn headless(experiments: &Path, keys: &str) -> (bool, String, String) {
    output(pessimist().args([
        "tui",
        experiments.to_str().unwrap(),
        "--headless",
        "--no-autostart",
        "--frames",
        "1",
        "--size",
        "160x48",
        "--keys",
        keys,
    ]))
}

#[test]
fn a_map_on_dev_zero_is_refused_by_run_and_shown_by_the_dashboard() {
    let spec = TRAP.replace("ImitationTrap-v0", "map:/dev/zero");
    let (_dir, experiments) = experiments(&[("zero.toml", &spec)]);
    let (ok, _, stderr) = output(pessimist().args(["run"]).arg(experiments.join("zero.toml")));
    assert!(!ok);
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("not a regular file"),
        "{stderr}"
    );
    let (ok, screen, stderr) = headless(&experiments, "");
    assert!(ok, "{stderr}");
    assert!(screen.contains("not a regular file"), "{screen}");
}

#[test]
fn train_refuses_dev_zero_and_a_fifo_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("data.csv");
    mkfifo(&fifo);
    for data in [Path::new("/dev/zero"), &fifo] {
        let (ok, _, stderr) = output(pessimist().args([
            "train",
            "--env",
            "ImitationTrap-v0",
            "--algo",
            "bc",
            "--data",
            data.to_str().unwrap(),
        ]));
        assert!(!ok);
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
}

#[test]
fn a_fifo_dataset_fails_its_spec_without_hanging_run_or_the_dashboard() {
    let spec = TRAP.replace(
        "{ policy = \"behavior\", size = 200 }",
        "{ file = \"fifo.csv\" }",
    );
    let (_dir, experiments) = experiments(&[("fifo.toml", &spec), ("trap.toml", TRAP)]);
    mkfifo(&experiments.join("fifo.csv"));
    let (ok, _, stderr) = output(pessimist().args(["run"]).arg(experiments.join("fifo.toml")));
    assert!(!ok);
    assert!(stderr.contains("FIFO"), "{stderr}");
    // The dashboard starts, shows the error in place and the other spec.
    let (ok, screen, stderr) = headless(&experiments, "");
    assert!(ok, "{stderr}");
    assert!(screen.contains("FIFO"), "{screen}");
    assert!(screen.contains("ImitationTrap-v0"), "{screen}");
}

/// Feature sizes are refused from the spec's numbers (issue 20): 64 RBF
/// centres on each of Taxi's 4 coordinates would be a 67 GB matrix, whose
/// allocation aborted every process that read the spec.
#[test]
fn a_spec_asking_for_67_gb_of_features_is_refused_where_it_is_written() {
    let spec = TRAP.replace("ImitationTrap-v0", "Taxi-v4").replace(
        "[[algo]]\nname = \"bc\"",
        "features = { kind = \"rbf\", centres = 64 }\n[[algo]]\nname = \"fqi\"",
    );
    let (_dir, experiments) = experiments(&[("huge.toml", &spec), ("trap.toml", TRAP)]);
    let out = pessimist()
        .args(["run"])
        .arg(experiments.join("huge.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("huge.toml:")
            && stderr.contains("`centres` = 64 per coordinate")
            && stderr.contains("more than the 4096 allowed"),
        "{stderr}"
    );
    // The dashboard shows the error in place and the other spec.
    let (ok, screen, stderr) = headless(&experiments, "");
    assert!(ok, "{stderr}");
    assert!(screen.contains("more than the 4096"), "{screen}");
    assert!(screen.contains("ImitationTrap-v0"), "{screen}");
}

/// Every file a run writes, in its run directory.
const RUN_FILES: [&str; 8] = [
    "config.json",
    "metrics.jsonl",
    "summary.json",
    "checkpoint.json",
    "policy.json",
    "q.npy",
    "log.txt",
    "lock",
];

/// The run directory `trap.toml` trains into, relative to the store.
fn trap_run_dir() -> PathBuf {
    let (dir, experiments) = experiments(&[("trap.toml", TRAP)]);
    let run = trained(&experiments);
    run.strip_prefix(dir.path().join("runs"))
        .unwrap()
        .to_path_buf()
}

/// On a shared store anyone who can write to `runs/` could plant a link
/// at a run's file and have another user's worker overwrite the link's
/// target (issue 20): a link at every path a run writes, and a run
/// directory that is a link, are refused by name and nothing outside the
/// store changes.
#[cfg(unix)]
#[test]
fn the_store_never_writes_through_a_link() {
    let run = trap_run_dir();
    for name in RUN_FILES.iter().copied().chain(["(run directory)"]) {
        let (dir, experiments) = experiments(&[("trap.toml", TRAP)]);
        let run_dir = dir.path().join("runs").join(&run);
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let target = outside.join("precious");
        std::fs::write(&target, "precious").unwrap();
        // As errors name it: the store's path, then the file's.
        let named = Path::new("runs").join(&run);
        let named = if name == "(run directory)" {
            std::fs::create_dir_all(run_dir.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&outside, &run_dir).unwrap();
            named
        } else {
            std::fs::create_dir_all(&run_dir).unwrap();
            std::os::unix::fs::symlink(&target, run_dir.join(name)).unwrap();
            named.join(name)
        };
        let (ok, stdout, stderr) =
            output(pessimist().args(["run"]).arg(experiments.join("trap.toml")));
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "precious",
            "{name}: written through the link"
        );
        let entries: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        assert_eq!(entries.len(), 1, "{name}: files created through the link");
        assert!(!ok, "{name}: {stdout}\n{stderr}");
        assert!(
            stderr.contains(named.to_str().unwrap()) && stderr.contains("symbolic link"),
            "{name}: {stderr}"
        );
    }
}

/// A FIFO where a run writes its log or takes its lock fails the run by
/// name instead of blocking its opener forever (issue 20). The command's
/// exit is the synchronisation; the timeout only turns a hang into a failure.
#[cfg(unix)]
#[test]
fn a_fifo_in_a_run_directory_fails_the_run_without_blocking() {
    let run = trap_run_dir();
    for name in ["log.txt", "lock", "metrics.jsonl"] {
        let (dir, experiments) = experiments(&[("trap.toml", TRAP)]);
        let run_dir = dir.path().join("runs").join(&run);
        std::fs::create_dir_all(&run_dir).unwrap();
        mkfifo(&run_dir.join(name));
        let (ok, _, stderr) = output(pessimist().args(["run"]).arg(experiments.join("trap.toml")));
        assert!(!ok, "{name}");
        assert!(
            stderr.contains(Path::new("runs").join(&run).join(name).to_str().unwrap())
                && stderr.contains("FIFO"),
            "{name}: {stderr}"
        );
    }
}

/// A store with one finished ImitationTrap run; returns its run directory.
fn trained(experiments: &Path) -> PathBuf {
    let (ok, _, stderr) = output(pessimist().args(["run"]).arg(experiments.join("trap.toml")));
    assert!(ok, "{stderr}");
    let spec_dir = experiments.parent().unwrap().join("runs").join("trap");
    std::fs::read_dir(&spec_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("config.json").is_file())
        .expect("a run directory")
}

#[test]
fn metrics_linked_to_dev_zero_are_an_error_for_plot_and_the_dashboard() {
    let (_dir, experiments) = experiments(&[("trap.toml", TRAP)]);
    let run = trained(&experiments);
    let metrics = run.join("metrics.jsonl");
    std::fs::remove_file(&metrics).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &metrics).unwrap();
    let runs = experiments.parent().unwrap().join("runs");
    let svg = experiments.parent().unwrap().join("f.svg");
    let (_, _, stderr) = output(pessimist().arg("plot").arg(&runs).arg("--out").arg(&svg));
    assert!(stderr.contains("not a regular file"), "{stderr}");
    let (_, _, stderr) = output(pessimist().args(["report"]).arg(&runs));
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (ok, screen, stderr) = headless(&experiments, "<enter>");
    assert!(ok, "{stderr}");
    assert!(screen.contains("ImitationTrap-v0"), "{screen}");
}

#[test]
fn a_q_table_claiming_100000_by_100000_is_an_error_in_the_detail() {
    let (_dir, experiments) = experiments(&[("trap.toml", TRAP)]);
    let run = trained(&experiments);
    // A valid header claiming 80 GB over 16 bytes of data.
    let bytes = npy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }",
        &[0u8; 16],
    );
    std::fs::write(run.join("q.npy"), bytes).unwrap();
    let (ok, screen, stderr) = headless(&experiments, "<enter>");
    assert!(ok, "{stderr}");
    assert!(screen.contains("cannot show the Q table"), "{screen}");
    assert!(screen.contains("corrupt npy"), "{screen}");
}

#[test]
fn escape_sequences_from_specs_never_reach_the_terminal() {
    let spec = TRAP.replace("ImitationTrap-v0", "\\u001b]0;pwned\\u0007");
    let (_dir, experiments) = experiments(&[("osc.toml", &spec)]);
    let (ok, stdout, stderr) = output(pessimist().args(["run"]).arg(experiments.join("osc.toml")));
    assert!(!ok);
    assert!(stderr.contains("pwned"), "{stderr}");
    assert_no_controls("run's stderr", &stderr);
    assert_no_controls("run's stdout", &stdout);
}

#[test]
fn a_dataset_named_with_an_escape_is_shown_sanitised_and_plotted_as_valid_svg() {
    let (dir, experiments) = experiments(&[]);
    let name = "evil\u{1b}]0;pwned\u{7}<&>.csv";
    let data = experiments.join(name);
    let (ok, _, stderr) = output(pessimist().args([
        "data",
        "collect",
        "--env",
        "ImitationTrap-v0",
        "--policy",
        "behavior",
        "--size",
        "200",
        "--seed",
        "0",
        "-o",
        data.to_str().unwrap(),
    ]));
    assert!(ok, "{stderr}");
    assert_no_controls("data collect's stderr", &stderr);
    let spec = TRAP.replace(
        "{ policy = \"behavior\", size = 200 }",
        "{ file = \"evil\\u001b]0;pwned\\u0007<&>.csv\" }",
    );
    std::fs::write(experiments.join("trap.toml"), spec).unwrap();
    let (ok, stdout, stderr) = output(pessimist().args(["run"]).arg(experiments.join("trap.toml")));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("pwned"), "{stdout}");
    assert_no_controls("run's table", &stdout);
    assert_no_controls("run's stderr", &stderr);
    let runs = dir.path().join("runs");
    for format in ["md", "csv"] {
        let (ok, stdout, stderr) =
            output(pessimist().args(["report", "--format", format]).arg(&runs));
        assert!(ok, "{stderr}");
        assert!(stdout.contains("pwned"), "{stdout}");
        assert_no_controls("report", &stdout);
    }
    let svg = dir.path().join("figure.svg");
    let (ok, _, stderr) = output(pessimist().arg("plot").arg(&runs).arg("--out").arg(&svg));
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the figure is valid XML");
    let texts: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(texts.contains("pwned"), "{texts}");
    assert!(texts.contains("<&>"), "{texts}");
    // And in the dashboard: sanitised on screen.
    let (ok, screen, stderr) = headless(&experiments, "");
    assert!(ok, "{stderr}");
    assert!(screen.contains("pwned"), "{screen}");
    assert_no_controls("the dashboard", &screen);
}

/// `run --json`'s run ids.
fn run_ids(spec: &Path, cwd: &Path) -> Vec<String> {
    let (ok, stdout, stderr) = output(
        pessimist()
            .current_dir(cwd)
            .args(["run", "--json"])
            .arg(spec),
    );
    assert!(ok, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn editing_a_map_changes_the_run_id_and_relative_maps_resolve_beside_the_spec() {
    let spec = TRAP
        .replace("ImitationTrap-v0", "map:maps/tiny.txt")
        .replace("behavior", "random");
    let (dir, experiments) = experiments(&[("tiny.toml", &spec)]);
    std::fs::create_dir(experiments.join("maps")).unwrap();
    std::fs::write(experiments.join("maps/tiny.txt"), "SF\nHG\n").unwrap();
    // Run from elsewhere: the map is found beside the spec, not in the cwd.
    let spec_path = experiments.join("tiny.toml");
    let first = run_ids(&spec_path, dir.path());
    let again = run_ids(&spec_path, dir.path());
    assert_eq!(first, again, "an unchanged map names the same runs");
    std::fs::write(experiments.join("maps/tiny.txt"), "SF\nFG\n").unwrap();
    let edited = run_ids(&spec_path, dir.path());
    assert_eq!(first.len(), edited.len());
    assert!(
        first.iter().all(|id| !edited.contains(id)),
        "{first:?} {edited:?}"
    );
}
