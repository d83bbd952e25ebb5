//! The dashboard in a real terminal against hostile input (issue 12):
//! a FIFO dataset does not block start-up or `q`; a pasted filter shows
//! whole; a panic off the main thread restores the terminal. tmux runs the
//! binary; every wait synchronises on the captured screen, never on a
//! wall-clock margin (the 180 s limit only turns a hang into a failure).
//! `.ci/run` sets PESSIMIST_REQUIRE_TMUX=1 so these cannot be skipped there.

use crate::support::hostile::{TRAP, mkfifo};
use crate::support::tmux::{Session, have_tmux, tmux, wait_for};
use std::path::Path;

/// The dashboard on `dir/experiments` in tmux, with `env` set; after it
/// exits the pane shows `DASHBOARD-EXITED <code>` and the terminal modes.
fn dashboard(dir: &Path, name: &str, env: &str) -> Session {
    let bin = assert_cmd::cargo::cargo_bin("pessimist");
    let command = format!(
        "cd {} && {env} {} tui experiments --jobs 1; echo DASHBOARD-EXITED $?; \
         echo TTY $(stty -a | tr ' ;' '\\n\\n' | grep -x -e -icanon -e icanon -e -echo -e echo); sleep 60",
        dir.display(),
        bin.display()
    );
    Session::start(name, (120, 40), &command)
}

fn assert_restored(name: &str) -> String {
    let s = wait_for(name, "the terminal modes", |s| s.contains("TTY "));
    assert!(
        s.contains("TTY icanon echo"),
        "raw mode left (canonical input and echo must be back on): {s}"
    );
    assert!(!s.contains("pessimist │"), "alternate screen left: {s}");
    s
}

#[test]
fn a_fifo_dataset_does_not_block_start_up_and_q_quits() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    let fifo = TRAP.replace(
        "{ policy = \"behavior\", size = 200 }",
        "{ file = \"fifo.csv\" }",
    );
    std::fs::write(experiments.join("fifo.toml"), fifo).unwrap();
    mkfifo(&experiments.join("fifo.csv"));
    let name = format!("pessimist-fifo-{}", std::process::id());
    let _session = dashboard(dir.path(), &name, "");
    wait_for(&name, "the spec error", |s| {
        s.contains("pessimist │") && s.contains("FIFO")
    });
    tmux(&["send-keys", "-t", &name, "q"]);
    let s = wait_for(&name, "the dashboard to exit", |s| {
        s.contains("DASHBOARD-EXITED")
    });
    assert!(s.contains("DASHBOARD-EXITED 0"), "{s}");
    assert_restored(&name);
}

#[test]
fn a_pasted_filter_is_drawn_whole() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    std::fs::write(experiments.join("trap.toml"), TRAP).unwrap();
    let name = format!("pessimist-paste-{}", std::process::id());
    let _session = dashboard(dir.path(), &name, "");
    wait_for(&name, "the run", |s| {
        s.contains("pessimist │") && s.contains(" 1 done")
    });
    // One write to the terminal, as a paste: every key must be drawn
    // without another event arriving after it.
    tmux(&["send-keys", "-t", &name, "-l", "/zz-new"]);
    wait_for(&name, "the whole filter", |s| s.contains("filter: zz-new"));
    // Esc then q in one read would be Alt+q: wait for Esc to be applied.
    tmux(&["send-keys", "-t", &name, "Escape"]);
    wait_for(&name, "the filter to close", |s| !s.contains("filter: "));
    tmux(&["send-keys", "-t", &name, "q"]);
    wait_for(&name, "the dashboard to exit", |s| {
        s.contains("DASHBOARD-EXITED")
    });
    assert_restored(&name);
}

#[test]
fn a_panic_off_the_main_thread_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("experiments")).unwrap();
    let name = format!("pessimist-panic-{}", std::process::id());
    let _session = dashboard(dir.path(), &name, "PESSIMIST_TEST_PANIC=input");
    wait_for(&name, "the dashboard", |s| s.contains("pessimist │"));
    // The input thread panics on this key.
    tmux(&["send-keys", "-t", &name, "j"]);
    let s = wait_for(&name, "the dashboard to exit", |s| {
        s.contains("DASHBOARD-EXITED")
    });
    assert!(s.contains("forced panic in the input thread"), "{s}");
    assert_restored(&name);
}

/// `q`, then SIGTERM, while the only run's worker is deep in a phase with
/// no stopping point: the medium learner on a 150×200 open lake, which
/// trains for minutes (its online learner never reaches the goal and plays
/// its whole budget). Each time the dashboard quits with the run still
/// setting up: its log never says it started (a process that waited for
/// the worker would have let it finish setting up first), and the run is
/// queued again, to resume next time.
#[test]
fn q_and_sigterm_quit_while_a_worker_sets_up_for_minutes() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    let mut lake = vec![vec![b'F'; 200]; 150];
    lake[0][0] = b'S';
    lake[149][199] = b'G';
    let lake: Vec<String> = lake
        .into_iter()
        .map(|row| String::from_utf8(row).unwrap())
        .collect();
    std::fs::write(experiments.join("lake.txt"), lake.join("\n") + "\n").unwrap();
    let spec = TRAP
        .replace("ImitationTrap-v0", "map:lake.txt")
        .replace("\"behavior\"", "\"medium\"");
    std::fs::write(experiments.join("lake.toml"), spec).unwrap();
    let log = || {
        let runs = dir.path().join("runs");
        let logs: Vec<String> = std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|spec| {
                std::fs::read_dir(spec.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .filter_map(|run| std::fs::read_to_string(run.path().join("log.txt")).ok())
            .collect();
        logs.join("\n")
    };
    for (round, quit) in ["q", "SIGTERM"].into_iter().enumerate() {
        let name = format!("pessimist-setup-{round}-{}", std::process::id());
        let _session = dashboard(dir.path(), &name, "");
        wait_for(&name, "the run to be taken by a worker", |s| {
            s.contains("1 running")
        });
        if quit == "q" {
            tmux(&["send-keys", "-t", &name, "q"]);
        } else {
            let shell = tmux(&["list-panes", "-t", &name, "-F", "#{pane_pid}"]);
            let shell = shell.trim();
            let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
                .expect("the pane's shell's children");
            let pid = children
                .split_whitespace()
                .next()
                .expect("the dashboard process");
            let killed = std::process::Command::new("kill")
                .args(["-TERM", pid])
                .status()
                .unwrap();
            assert!(killed.success());
        }
        let s = wait_for(&name, "the dashboard to exit", |s| {
            s.contains("DASHBOARD-EXITED")
        });
        assert!(s.contains("DASHBOARD-EXITED 0"), "{quit}: {s}");
        assert_restored(&name);
        assert!(
            !log().contains("started at iteration"),
            "{quit}: the dashboard waited for the run to set up:\n{}",
            log()
        );
    }
}
