//! What the hostile-input tests share (`hostile.rs`, `tmux_hostile.rs`,
//! `fuzz.rs`): hand-made npy files and FIFOs, a small spec, and driving
//! the dashboard in tmux while synchronising on the captured screen.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A one-run ImitationTrap spec that trains in milliseconds.
pub const TRAP: &str = "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0]\niterations = 20\n\
                        eval_every = 5\ndataset = { policy = \"behavior\", size = 200 }\n\
                        [[algo]]\nname = \"bc\"\n";

/// An npy file (format 1.0) with header `dict` over `data`, padded as
/// numpy pads it: for headers that lie about their data.
pub fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

pub fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("running tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until the screen satisfies `ok`, or fails with the last screen
/// (the 60 s limit only turns a hang into a failure).
pub fn wait_for(session: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let s = tmux(&["capture-pane", "-p", "-t", session]);
        if ok(&s) {
            return s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            panic!("timed out waiting for {what}; screen:\n{s}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A detached 120×40 tmux session running `command`; killed when dropped.
pub struct Session(pub String);

impl Session {
    pub fn start(name: &str, command: &str) -> Session {
        tmux(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            command,
        ]);
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

/// Whether tmux can run here; it must where PESSIMIST_REQUIRE_TMUX is set.
pub fn have_tmux() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("PESSIMIST_REQUIRE_TMUX").is_none(),
        "tmux is required (PESSIMIST_REQUIRE_TMUX is set) but not installed"
    );
    eprintln!("skipped: tmux is not installed");
    false
}
