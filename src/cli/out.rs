//! Standard output for every command. `println!` panics when stdout
//! fails (`pessimist report runs > /dev/full` exited 101); in `cli/` the
//! `print!`/`println!` macros are shadowed (see `cli/mod.rs`) by ones that
//! come here, so no command can forget: a failed write is a clear error
//! and exit code 1, and a closed pipe (`| head`) ends the process quietly,
//! as it does for any Unix filter.

use std::fmt;
use std::io::{ErrorKind, Write};

/// The exit code of a process that lost its reader: 128 + SIGPIPE, what a
/// shell reports for a filter killed by the signal.
const CLOSED_PIPE: i32 = 141;

/// Writes `args` to stdout, or ends the process (see the module doc).
pub fn write(args: fmt::Arguments) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        fail(&e);
    }
}

/// Flushes stdout (text left by `print!` without a newline) at the end of a
/// command: a failure there is as much an error as one mid-way.
pub fn flush() -> std::io::Result<()> {
    std::io::stdout().lock().flush()
}

/// Ends the process after stdout failed.
pub fn fail(e: &std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(CLOSED_PIPE);
    }
    // Best effort: stderr may be the same broken file.
    let _ = writeln!(
        std::io::stderr(),
        "error: cannot write to standard output: {e}"
    );
    std::process::exit(1);
}
