//! What the command-line tests share: running the built binary.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Command, Output};

/// Runs `pessimist ARGS`, which must succeed (else its stderr is shown).
pub fn pessimist(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pessimist"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pessimist {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Everything a run printed, stdout then stderr.
pub fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
