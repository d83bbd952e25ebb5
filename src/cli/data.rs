//! `pessimist data collect`.

use super::DataCommand;
use anyhow::bail;
use pessimist::data::collect::{Behavior, Calibration, Learner};
use pessimist::data::{self, EmpiricalMdp, MAX_TRANSITIONS, Quality};
use pessimist::eval::{Evaluator, normalized_score};
use pessimist::mdp::envs;
use std::sync::Arc;
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
    // Everything the user typed is checked before the (possibly long) collection.
    let format = out.extension().and_then(|e| e.to_str());
    if !matches!(format, Some("csv" | "npz")) {
        bail!(
            "{}: unknown output format; valid extensions: .csv, .npz",
            out.display()
        );
    }
    if size > MAX_TRANSITIONS {
        bail!("--size {size}: a dataset holds at most {MAX_TRANSITIONS} transitions");
    }
    let mdp = Arc::new(envs::make(&env)?);
    let quality = Quality::parse(&policy)?;
    let started = Instant::now();
    let (dataset, calibration) = data::collect_calibrated(&mdp, quality, size, seed, gamma)?;
    let collected = started.elapsed();
    if format == Some("csv") {
        data::write_csv(&out, &dataset)?;
    } else {
        data::write_npz(&out, &dataset)?;
    }
    eprintln!(
        "collected {} transitions in {} episodes of {env} with the {quality} policy (seed {seed}) in {:.3} s -> {}",
        dataset.len(),
        dataset.n_episodes(),
        collected.as_secs_f64(),
        out.display()
    );
    let evaluator = Evaluator::new(mdp, gamma, Arc::new(EmpiricalMdp::compile(&dataset)))?;
    let (random, optimal) = (evaluator.random_return, evaluator.optimum.values.j);
    let score = |j| normalized_score(j, random, optimal);
    eprintln!("returns at gamma {gamma}: random {random:.4}, optimal {optimal:.4}");
    let describe = |name: &str, b: &Behavior| match (b.epsilon, b.target) {
        (Some(epsilon), Some(target)) => format!(
            "{name}: epsilon {epsilon:.6} (uniform share), target J {target:.4} (score {:.1}), achieved J {:.4}, normalized score {:.1}",
            score(target),
            b.j,
            score(b.j)
        ),
        _ => format!("{name}: J {:.4}, normalized score {:.1}", b.j, score(b.j)),
    };
    match &calibration {
        Calibration::Stationary(b) => eprintln!("{}", describe("behaviour", b)),
        Calibration::MediumExpert {
            medium,
            expert,
            medium_transitions,
        } => {
            eprintln!(
                "{} (first {medium_transitions} transitions)",
                describe("medium half", medium)
            );
            eprintln!(
                "{} (last {} transitions)",
                describe("expert half", expert),
                dataset.len() - medium_transitions
            );
        }
        Calibration::Replay(replay) => {
            let reached = replay.learners.iter().filter(|l| l.reached).count();
            eprintln!(
                "replay: {} Q-learners (episodes cut at {} steps), {reached} reached the target J {:.4} (score {:.1})",
                replay.learners.len(),
                replay.horizon,
                replay.target,
                score(replay.target)
            );
            if replay.learners.len() <= 8 {
                for (i, l) in replay.learners.iter().enumerate() {
                    eprintln!(
                        "  learner {i}: {} episodes, {} transitions, final J {:.4} (score {:.1}){}",
                        l.episodes,
                        l.transitions,
                        l.final_j,
                        score(l.final_j),
                        if l.reached { "" } else { ", cut by the size" }
                    );
                }
            } else {
                let range = |f: &dyn Fn(&Learner) -> f64| {
                    let values = replay.learners.iter().map(f);
                    let lo = values.clone().fold(f64::INFINITY, f64::min);
                    (lo, values.fold(f64::NEG_INFINITY, f64::max))
                };
                let (e_lo, e_hi) = range(&|l| l.episodes as f64);
                let (j_lo, j_hi) = range(&|l| l.final_j);
                eprintln!(
                    "  per learner: {e_lo}..{e_hi} episodes, final J {j_lo:.4}..{j_hi:.4} (score {:.1}..{:.1})",
                    score(j_lo),
                    score(j_hi)
                );
            }
        }
    }
    eprintln!(
        "coverage (concentrability of the optimal policy): {:.3}",
        evaluator.coverage()?
    );
    Ok(())
}
