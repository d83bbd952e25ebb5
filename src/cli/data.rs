//! `pessimist data collect`.

use super::DataCommand;
use anyhow::{Context, bail};
use pessimist::data::{self, Quality};
use pessimist::mdp::envs;
use std::time::Instant;

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    let DataCommand::Collect {
        env,
        policy,
        size,
        seed,
        gamma,
        out,
    } = cmd;
    let mdp = envs::make(&env)?;
    let quality = Quality::parse(&policy)?;
    let started = Instant::now();
    let dataset = data::collect(&mdp, quality, size, seed, gamma)?;
    let collected = started.elapsed();
    match out.extension().and_then(|e| e.to_str()) {
        Some("csv") => data::write_csv(&out, &dataset)?,
        Some("npz") => data::write_npz(&out, &dataset)?,
        _ => bail!(
            "{}: unknown output format; valid extensions: .csv, .npz",
            out.display()
        ),
    }
    eprintln!(
        "collected {} transitions in {} episodes of {env} with the {quality} policy (seed {seed}) in {:.3} s -> {}",
        dataset.len(),
        dataset.n_episodes(),
        collected.as_secs_f64(),
        out.display()
    );
    if let Some(behavior) = &dataset.behavior {
        let j = pessimist::mdp::solve::evaluate_policy(&mdp, behavior, gamma)
            .context("evaluating the behaviour policy")?
            .j;
        let opt = pessimist::mdp::solve::optimal(&mdp, gamma)?.values.j;
        let random = pessimist::mdp::solve::evaluate_policy(&mdp, &mdp.uniform_policy(), gamma)?.j;
        eprintln!(
            "behaviour policy: J = {j:.4} (random {random:.4}, optimal {opt:.4}, gamma {gamma}), normalized score {:.1}",
            pessimist::eval::normalized_score(j, random, opt)
        );
    }
    Ok(())
}
