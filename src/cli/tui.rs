//! `pessimist [tui]`: the dashboard. (Issue 5 — dashboard helper.)

use super::TuiArgs;
use std::process::ExitCode;

pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    todo!("dashboard helper")
}
