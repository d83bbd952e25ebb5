//! Driving the dashboard in a real terminal (`tmux_e2e.rs`,
//! `tmux_hostile.rs`): a detached tmux session, its captured screen, and
//! waits that synchronise on what the screen shows. `.ci/run` installs tmux
//! and sets PESSIMIST_REQUIRE_TMUX=1 so these tests cannot be skipped there.

use std::process::Command;
use std::time::{Duration, Instant};

pub fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("running tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

/// Waits until the screen satisfies `ok`, or fails with the last screen
/// (the 180 s limit only turns a hang into a failure).
pub fn wait_for(session: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let s = screen(session);
        if ok(&s) {
            return s;
        }
        assert!(
            started.elapsed() <= Duration::from_secs(180),
            "timed out waiting for {what}; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A detached tmux session of `width`×`height` running `command`; killed when dropped.
pub struct Session(pub String);

impl Session {
    pub fn start(name: &str, (width, height): (u16, u16), command: &str) -> Session {
        let (w, h) = (width.to_string(), height.to_string());
        tmux(&["new-session", "-d", "-s", name, "-x", &w, "-y", &h, command]);
        Session(name.to_string())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

/// Whether tmux can run here; it must where PESSIMIST_REQUIRE_TMUX=1.
pub fn have_tmux() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    crate::support::skip::skip_or_fail("PESSIMIST_REQUIRE_TMUX", "tmux is not installed");
    false
}
