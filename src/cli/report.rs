//! `pessimist report` and `pessimist plot`. (Issue 4 — experiment helper.)

use super::{PlotArgs, ReportArgs};

pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    let _ = args;
    todo!("experiment helper")
}

pub fn plot(args: PlotArgs) -> anyhow::Result<()> {
    let _ = args;
    todo!("experiment helper")
}
