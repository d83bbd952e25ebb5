//! `pessimist train` and `pessimist eval`.

use super::{EvalArgs, TrainArgs};

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let _ = args;
    todo!("lead")
}

pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let _ = args;
    todo!("lead")
}
