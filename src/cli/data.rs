//! `pessimist data ...`

use super::DataCommand;

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    let _ = cmd;
    todo!("lead")
}
