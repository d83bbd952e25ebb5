//! The dashboard in a real terminal: tmux runs the binary on a temporary
//! experiments directory; the test writes specs, sends keys and reads the
//! screen with capture-pane. `.ci/run` installs tmux and sets
//! PESSIMIST_REQUIRE_TMUX=1 so the test cannot be skipped there.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("running tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

/// Waits until the screen satisfies `ok`, or fails with the last screen.
fn wait_for(session: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let s = screen(session);
        if ok(&s) {
            return s;
        }
        if started.elapsed() > Duration::from_secs(30) {
            panic!("timed out waiting for {what}; screen:\n{s}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes a file the way editors save: temp file, then rename.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

#[test]
fn dashboard_in_tmux_shows_new_runs_progress_errors_and_quits_cleanly() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("PESSIMIST_REQUIRE_TMUX").is_none(),
            "tmux is required (PESSIMIST_REQUIRE_TMUX is set) but not installed"
        );
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    save(
        &experiments.join("trap.toml"),
        "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0]\niterations = 20\neval_every = 5\n\
         dataset = { policy = \"behavior\", size = 500 }\n[[algo]]\nname = \"bc\"\n",
    );
    let bin = assert_cmd::cargo::cargo_bin("pessimist");
    let name = format!("pessimist-e2e-{}", std::process::id());
    let _session = Session(name.clone());
    let command = format!(
        "cd {} && {} tui experiments --jobs 1; echo DASHBOARD-EXITED $?; sleep 30",
        dir.path().display(),
        bin.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &name,
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);

    let s = wait_for(&name, "the first spec's run", |s| {
        s.contains("pessimist │") && s.contains("done")
    });
    assert!(s.contains("1 runs"), "{s}");

    // A new spec, saved from "another pane": its runs appear and train.
    save(
        &experiments.join("lake.toml"),
        "name = \"lake\"\nenv = \"FrozenLake8x8-v1\"\ngamma = 0.99\nseeds = [0, 1]\niterations = 300\n\
         eval_every = 10\ndataset = { policy = \"medium\", size = 200_000 }\n\
         [[algo]]\nname = \"fqi\"\nvariant = \"sample\"\n",
    );
    wait_for(&name, "the new spec's runs", |s| {
        s.contains("3 runs") && s.contains("medium 200k")
    });
    let s = wait_for(&name, "the new runs to finish", |s| {
        s.contains("3 done") && s.contains("normalized score")
    });
    assert!(s.contains("medium 200k"), "score table fills in: {s}");
    assert!(s.contains("iteration"), "the chart draws: {s}");

    // A broken spec shows its error in place; the rest keeps going.
    save(
        &experiments.join("broken.toml"),
        "env = \"FrozenLake8x8-v1\"\nseedz = [1]\n",
    );
    let s = wait_for(&name, "the spec error", |s| s.contains("broken.toml:2:1"));
    assert!(s.contains("did you mean `seeds`"), "{s}");

    tmux(&["send-keys", "-t", &name, "?"]);
    wait_for(&name, "the help", |s| s.contains("keys (any key closes)"));
    tmux(&["send-keys", "-t", &name, "x"]);
    wait_for(&name, "the help to close", |s| {
        !s.contains("keys (any key closes)")
    });

    tmux(&["send-keys", "-t", &name, "q"]);
    let s = wait_for(&name, "the dashboard to exit", |s| {
        s.contains("DASHBOARD-EXITED")
    });
    assert!(s.contains("DASHBOARD-EXITED 0"), "{s}");
    assert!(
        !s.contains("pessimist │"),
        "the terminal is restored (alternate screen left): {s}"
    );
}
