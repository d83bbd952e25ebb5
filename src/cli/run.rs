//! `pessimist run`: headless sweeps. (Issue 4 — experiment helper.)

use super::RunArgs;
use std::process::ExitCode;

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    todo!("experiment helper")
}
