//! `pessimist data collect`.

use super::DataCommand;
use anyhow::bail;
use pessimist::data::collect::{Behavior, Learner, Provenance};
use pessimist::data::{self, EmpiricalMdp, MAX_TRANSITIONS, Quality};
use pessimist::eval::{DatasetStats, Evaluator};
use pessimist::mdp::envs;
use pessimist::present::scores::score_text;
use std::sync::Arc;
use std::time::Instant;

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    let DataCommand::Collect {
        env,
        policy,
        epsilon,
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
    let mut quality = Quality::parse(&policy)?;
    if let Some(epsilon) = epsilon {
        quality = quality.with_epsilon(epsilon)?;
    }
    let started = Instant::now();
    let (dataset, provenance) = data::collect_with_provenance(&mdp, quality, size, seed, gamma)?;
    let collected = started.elapsed();
    if format == Some("csv") {
        data::write_csv(&out, &dataset)?;
    } else {
        data::write_npz(&out, &dataset)?;
    }
    eprintln!(
        "collected {} transitions in {} episodes of {} with the {quality} policy (seed {seed}) in {:.3} s -> {}",
        dataset.len(),
        dataset.n_episodes(),
        pessimist::text::sanitize(&env),
        collected.as_secs_f64(),
        pessimist::text::sanitize(&out.display().to_string())
    );
    let evaluator = Evaluator::new(mdp, gamma, Arc::new(EmpiricalMdp::compile(&dataset)))?;
    let scale = evaluator.scale;
    eprintln!(
        "score = 100 (R - R_random) / (R_best - R_random) on the undiscounted return R of one {}-step episode: R_random {:.4}, R_best {:.4}",
        scale.horizon, scale.random, scale.best
    );
    let describe = |name: &str, b: &Behavior| {
        let noise = b
            .epsilon
            .map_or(String::new(), |e| format!(", epsilon {e}"));
        format!(
            "{name}: score {} (R {:.4}, discounted J {:.4} at gamma {gamma}){noise}",
            score_text(Some(b.score), 1),
            b.episode_return,
            b.j
        )
    };
    let learned = |l: &Learner| {
        format!(
            "online Q-learner: {} episodes, {} transitions, score {:.1} {} the target {:.1} (a third of the expert's)",
            l.episodes,
            l.transitions,
            l.score,
            if l.reached { "reached" } else { "short of" },
            l.target
        )
    };
    match &provenance {
        Provenance::Stationary(b) => {
            eprintln!("{}", describe("behaviour", b));
            if let Some(l) = &b.learner {
                eprintln!("  its greedy policy comes from an {}", learned(l));
            }
        }
        Provenance::MediumExpert {
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
        Provenance::Replay { learner, requested } => {
            eprintln!("replay buffer of an {}", learned(learner));
            if dataset.len() < *requested {
                eprintln!(
                    "  the buffer up to the stop holds {} transitions, fewer than the {requested} requested: the dataset is the whole buffer",
                    dataset.len()
                );
            } else if learner.reached {
                eprintln!("  the buffer up to the stop, cut at the requested size");
            } else {
                eprintln!(
                    "  the requested size cut the buffer before the learner reached the target"
                );
            }
        }
    }
    print_stats(&evaluator.dataset_stats(&dataset)?);
    Ok(())
}

fn print_stats(s: &DatasetStats) {
    let score = |x: Option<f64>| score_text(x, 1);
    eprintln!(
        "behaviour score {} exact, {} from the returns of the complete ones of its {} episodes",
        score(s.behavior_score),
        score(Some(s.data_score).filter(|x| x.is_finite())),
        s.episodes
    );
    eprintln!(
        "action support: one action only in {:.1}% of visited states, {:.2} distinct actions per visited state",
        100.0 * s.single_action_share,
        s.mean_actions
    );
    eprintln!(
        "state coverage: {} of {} reachable states ({:.1}%)",
        s.visited_states,
        s.reachable_states,
        100.0 * s.state_coverage
    );
    eprintln!(
        "concentrability of the optimal policy: {:.3}",
        s.concentrability
    );
}
