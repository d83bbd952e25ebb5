//! `pessimist env ...`

use super::EnvCommand;

pub fn run(cmd: EnvCommand) -> anyhow::Result<()> {
    let _ = cmd;
    todo!("lead")
}
