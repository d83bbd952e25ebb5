//! The `pessimist` binary: parses the command line and hands over to [`cli`].

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `pessimist ... | head` would make println!
    // panic on the closed pipe; the default action ends the process quietly,
    // as for any Unix filter.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; SIG_DFL is
    // the signal's initial disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => match cli::out::flush() {
            Ok(()) => code,
            Err(e) => cli::out::fail(&e),
        },
        Err(err) => {
            // Errors quote file names and file contents: no escape
            // sequence from them reaches the terminal.
            eprintln!("error: {}", pessimist::text::sanitize(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}
