//! The dashboard in a real terminal: tmux runs the binary on a temporary
//! experiments directory; the test writes specs, sends keys and reads the
//! screen with capture-pane (helpers in `support::tmux`).

use crate::support::files::save;
use crate::support::tmux::{Session, have_tmux, tmux, wait_for};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Writes a file the way editors save: temp file, then rename.
/// The progress percentage shown on the first `running` row, if any.
fn running_percent(screen: &str) -> Option<u32> {
    let row = screen
        .lines()
        .find(|l| l.starts_with('│') && l.contains(" running "))?;
    let at = row.find('%')?;
    let digits: String = row[..at]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || *c == ' ')
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    digits.trim().parse().ok()
}

/// A temporary directory with `experiments/trap.toml`: behaviour cloning on
/// the imitation trap, for the given seeds (a TOML list).
fn trap_experiments(seeds: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    save(
        &experiments.join("trap.toml"),
        &format!(
            "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = {seeds}\niterations = 20\neval_every = 5\n\
             dataset = {{ policy = \"behavior\", size = 500 }}\n[[algo]]\nname = \"bc\"\n"
        ),
    );
    (dir, experiments)
}

#[test]
fn dashboard_in_tmux_shows_new_runs_progress_errors_and_quits_cleanly() {
    if !have_tmux() {
        return;
    }
    let (dir, experiments) = trap_experiments("[0]");
    let bin = assert_cmd::cargo::cargo_bin("pessimist");
    let name = format!("pessimist-e2e-{}", std::process::id());
    // While `hold` exists, a run stops after its first step (a test-only
    // switch of the runner): the test sees a run in progress, then lets go.
    let hold = dir.path().join("hold");
    let command = format!(
        "cd {} && PESSIMIST_TEST_HOLD={} {} tui experiments --jobs 1; echo DASHBOARD-EXITED $?; \
         echo TTY $(stty -a | tr ' ;' '\\n\\n' | grep -x -e -icanon -e icanon -e -echo -e echo); sleep 30",
        dir.path().display(),
        hold.display(),
        bin.display()
    );
    let _session = Session::start(&name, (120, 40), &command);

    // The header counts the runs as the spec loads: at first none.
    wait_for(&name, "the first spec's run", |s| {
        s.contains("1 spec · 1 run:") && s.contains(" 1 done")
    });

    // A new spec, saved from "another pane": its runs appear and train,
    // and the progress of the running one moves on screen.
    std::fs::write(&hold, "").unwrap();
    save(
        &experiments.join("lake.toml"),
        "name = \"lake\"\nenv = \"FrozenLake8x8-v1\"\ngamma = 0.99\nseeds = [0, 1]\niterations = 5000\n\
         eval_every = 50\ndataset = { policy = \"medium\", size = 200_000 }\n\
         [[algo]]\nname = \"fqi\"\nvariant = \"sample\"\n",
    );
    wait_for(&name, "the new spec's runs", |s| {
        s.contains("3 runs") && s.contains("medium 200k")
    });
    let first = running_percent(&wait_for(&name, "a run in progress", |s| {
        running_percent(s).is_some_and(|p| p < 90)
    }))
    .unwrap();
    std::fs::remove_file(&hold).unwrap();
    // Moved: another percentage on screen, or (on a machine fast enough to
    // finish between two captures) every run done.
    wait_for(&name, "progress to move", |s| {
        running_percent(s).is_some_and(|p| p != first) || s.contains("3 done")
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
    wait_for(&name, "the help", |s| {
        s.contains("┌ keys (") && s.contains("zoom the focused pane")
    });
    tmux(&["send-keys", "-t", &name, "x"]);
    wait_for(&name, "the help to close", |s| !s.contains("┌ keys ("));

    tmux(&["send-keys", "-t", &name, "q"]);
    let s = wait_for(&name, "the dashboard to exit", |s| {
        s.contains("DASHBOARD-EXITED")
    });
    assert!(s.contains("DASHBOARD-EXITED 0"), "{s}");
    assert!(
        !s.contains("pessimist │"),
        "the terminal is restored (alternate screen left): {s}"
    );
    let s = wait_for(&name, "the terminal modes", |s| s.contains("TTY "));
    assert!(
        s.contains("TTY icanon echo"),
        "raw mode left (canonical input and echo back on): {s}"
    );
}

/// A dashboard whose terminal goes away (an SSH connection dropped, a tmux
/// pane killed) exits instead of spinning on the closed terminal, also when
/// it ignores SIGHUP.
#[test]
fn dashboard_exits_when_its_terminal_goes_away() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("experiments")).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("pessimist");
    for (i, ignore_hup) in [false, true].into_iter().enumerate() {
        let name = format!("pessimist-hangup-{}-{i}", std::process::id());
        let pid_file = dir.path().join(format!("pid{i}"));
        let command = format!(
            "cd {} && {} echo $$ > {} && exec {} tui experiments",
            dir.path().display(),
            if ignore_hup { "trap '' HUP &&" } else { "" },
            pid_file.display(),
            bin.display()
        );
        let session = Session::start(&name, (80, 24), &command);
        wait_for(&name, "the dashboard", |s| s.contains("pessimist │"));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let proc_dir = Path::new("/proc").join(pid.trim());
        assert!(proc_dir.exists());
        drop(session);
        let started = Instant::now();
        while proc_dir.exists() && !zombie(&proc_dir) {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the dashboard (pid {}) still runs after its terminal went away",
                pid.trim()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
    })
}

/// Whether the screen shows a frame drawn at `width`×`height`: as many
/// rows, and the runs pane's top border ending in its corner at the last
/// column. A frame of another size cropped or padded by tmux does not:
/// its border runs past the edge, or stops short of it.
fn drawn_at(screen: &str, (width, height): (usize, usize)) -> bool {
    let rows: Vec<&str> = screen.lines().collect();
    rows.len() == height
        && rows.iter().any(|row| {
            row.starts_with("┌ runs") && row.ends_with('┐') && row.chars().count() == width
        })
}

/// Resizing the terminal (an SSH user's window, a tmux split) redraws the
/// dashboard at the new size at once, with no key pressed, and a key typed
/// after a resize is not held back: `q` quits with nothing after it.
#[test]
fn dashboard_redraws_on_resize_without_a_key_and_quits_at_once_after() {
    if !have_tmux() {
        return;
    }
    let (dir, _) = trap_experiments("[0, 1]");
    let bin = assert_cmd::cargo::cargo_bin("pessimist");
    let name = format!("pessimist-resize-{}", std::process::id());
    let command = format!(
        "cd {} && {} tui experiments --jobs 1; echo DASHBOARD-EXITED $?; sleep 30",
        dir.path().display(),
        bin.display()
    );
    let _session = Session::start(&name, (160, 48), &command);
    wait_for(&name, "the dashboard at 160x48", |s| {
        drawn_at(s, (160, 48)) && s.contains("2 done")
    });
    let resize = |(width, height): (usize, usize)| {
        let (w, h) = (width.to_string(), height.to_string());
        tmux(&["resize-window", "-t", &name, "-x", &w, "-y", &h]);
        wait_for(&name, &format!("the frame redrawn at {w}x{h}"), |s| {
            drawn_at(s, (width, height))
        });
    };
    // A key between resizes; the help opening and closing shows it was read.
    let keys = || {
        tmux(&["send-keys", "-t", &name, "Down", "?"]);
        wait_for(&name, "the help", |s| s.contains("┌ keys ("));
        tmux(&["send-keys", "-t", &name, "x"]);
        wait_for(&name, "the help to close", |s| !s.contains("┌ keys ("));
    };
    resize((80, 24));
    keys();
    resize((160, 48));
    keys();
    resize((80, 24));
    tmux(&["send-keys", "-t", &name, "q"]);
    let s = wait_for(&name, "the dashboard to quit on `q` alone", |s| {
        s.contains("DASHBOARD-EXITED")
    });
    assert!(s.contains("DASHBOARD-EXITED 0"), "{s}");
}

/// One spec of 100,000 runs, the documented maximum (issue 20: 7.5 s of
/// CPU and 919 MB before the first frame, `q` ignored meanwhile): the
/// dashboard draws while the spec loads, says how far it is, answers keys,
/// and `q` quits while it loads. The loading waits after its first batch
/// while `hold` exists (a test-only switch), so the test sees it mid-load
/// by construction.
#[test]
fn a_spec_of_100000_runs_loads_in_batches_and_q_quits_while_it_loads() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    let seeds: Vec<String> = (0..10_000).map(|s| s.to_string()).collect();
    let sizes: Vec<String> = (1..=10).map(|k| (100 * k).to_string()).collect();
    save(
        &experiments.join("big.toml"),
        &format!(
            "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [{}]\niterations = 20\neval_every = 5\n\
             dataset = {{ policy = \"behavior\", size = [{}] }}\n[[algo]]\nname = \"bc\"\n",
            seeds.join(", "),
            sizes.join(", ")
        ),
    );
    let hold = dir.path().join("hold");
    std::fs::write(&hold, "").unwrap();
    let bin = assert_cmd::cargo::cargo_bin("pessimist");
    let name = format!("pessimist-bigspec-{}", std::process::id());
    let command = format!(
        "cd {} && PESSIMIST_TEST_HOLD={} {} tui experiments --jobs 1 --no-autostart; \
         echo DASHBOARD-EXITED $?; sleep 30",
        dir.path().display(),
        hold.display(),
        bin.display()
    );
    let _session = Session::start(&name, (120, 40), &command);
    let s = wait_for(&name, "the first batch of runs, the rest loading", |s| {
        s.contains("big.toml: loading 10000/100000 runs")
    });
    assert!(s.contains("1 spec · 10000 runs:"), "{s}");
    // Keys are answered while it loads.
    tmux(&["send-keys", "-t", &name, "?"]);
    wait_for(&name, "the help", |s| s.contains("┌ keys ("));
    tmux(&["send-keys", "-t", &name, "x"]);
    wait_for(&name, "the help to close", |s| !s.contains("┌ keys ("));
    tmux(&["send-keys", "-t", &name, "q"]);
    let s = wait_for(&name, "the dashboard to quit while loading", |s| {
        s.contains("DASHBOARD-EXITED")
    });
    assert!(s.contains("DASHBOARD-EXITED 0"), "{s}");
    let log = std::fs::read_to_string(dir.path().join("runs/pessimist.log")).unwrap();
    assert!(
        log.contains("quitting while") && log.contains("big.toml: loading 10000/100000 runs"),
        "{log}"
    );
}
