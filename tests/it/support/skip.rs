//! End-to-end tests that need something this machine may lack (tmux, a
//! Slurm cluster, root for mounts): where `require` (an environment
//! variable `.ci/run` sets to 1) is set they fail; elsewhere they skip and
//! say so in `cargo test`'s output.

/// Fails the test when `require` is `1`; otherwise prints one line naming
/// the test and what is `missing`, for the caller to skip (or skip part).
/// The line goes to file descriptor 2 itself: the test harness captures
/// what `eprintln!` writes and shows it only for failing tests, so a skip
/// would read as a pass.
pub fn skip_or_fail(require: &str, missing: &str) {
    assert!(
        std::env::var(require).map_or(true, |v| v != "1"),
        "{require}=1 but {missing}"
    );
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let line = format!("SKIPPED {test}: {missing}\n");
    // SAFETY: writes a valid buffer of its stated length to fd 2.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}
