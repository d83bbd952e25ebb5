//! `pessimist data collect`.

use super::DataCommand;
use anyhow::bail;
use pessimist::data::collect::{Behavior, Learner, Provenance};
use pessimist::data::observed::{self, ObsProvenance, collect::Noisy};
use pessimist::data::{self, EmpiricalMdp, MAX_TRANSITIONS, ObsDataset, Quality};
use pessimist::env::Description;
use pessimist::eval::{DatasetStats, Evaluator};
use pessimist::mdp::envs;
use pessimist::present::scores::score_text;
use std::path::Path;
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
    let mut quality = Quality::parse(&policy)?;
    if let Some(epsilon) = epsilon {
        quality = quality.with_epsilon(epsilon)?;
    }
    if let Some(d) = pessimist::env::continuous(&env) {
        return collect_observations(d, quality, size, seed, &out);
    }
    let mdp = Arc::new(envs::make(&env)?);
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

/// `data collect` on a continuous-state environment: observations, and
/// scores normalized by its documented reference returns.
fn collect_observations(
    d: &Description,
    quality: Quality,
    size: usize,
    seed: u64,
    out: &Path,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (dataset, provenance) =
        observed::collect_id(d.id, quality, size, seed).expect("a continuous id")?;
    let collected = started.elapsed();
    if out.extension().is_some_and(|e| e == "csv") {
        observed::write_obs_csv(out, &dataset)?;
    } else {
        observed::write_obs_npz(out, &dataset)?;
    }
    eprintln!(
        "collected {} transitions in {} episodes of {} with the {quality} policy (seed {seed}) in {:.3} s -> {}",
        dataset.len(),
        dataset.n_episodes(),
        d.id,
        collected.as_secs_f64(),
        pessimist::text::sanitize(&out.display().to_string())
    );
    let r = d.reference;
    let noisy = |n: &Noisy| format!("the controller with epsilon {}", n.epsilon);
    match provenance {
        ObsProvenance::Stationary(n) if n.epsilon >= 1.0 => {
            eprintln!("behaviour: uniformly random actions");
        }
        ObsProvenance::Stationary(n) => eprintln!("behaviour: {}", noisy(&n)),
        ObsProvenance::Replay { from, to } => eprintln!(
            "behaviour: the controller with an epsilon falling linearly from {from} to {to} over the dataset"
        ),
        ObsProvenance::MediumExpert {
            medium,
            expert,
            medium_transitions,
        } => eprintln!(
            "behaviour: {} (first {medium_transitions} transitions), then {}",
            noisy(&medium),
            noisy(&expert)
        ),
    }
    let returns = complete_returns(&dataset, d.time_limit);
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    match r.expert {
        Some((expert, _)) => eprintln!(
            "score = 100 (R - R_random) / (R_expert - R_random): R_random {} (uniform play), R_expert {expert} (the controller), each over {} episodes from seed {}",
            r.random.0,
            observed::collect::REFERENCE_EPISODES,
            observed::collect::REFERENCE_SEED
        ),
        None => eprintln!("{} has no expert return to normalize scores by", d.id),
    }
    if returns.is_empty() {
        eprintln!("no complete episode in the data");
    } else {
        eprintln!(
            "data: mean return {mean:.2} over its {} complete episodes, score {}",
            returns.len(),
            score_text(r.score(mean), 1)
        );
    }
    Ok(())
}

/// The returns of the episodes that start at step 0 and end by
/// termination or at the time limit (not cut by the dataset's size).
fn complete_returns(data: &ObsDataset, time_limit: usize) -> Vec<f64> {
    let mut returns = Vec::new();
    let (mut total, mut from_start) = (0.0, false);
    for i in 0..data.len() {
        if data.step[i] == 0 {
            (total, from_start) = (0.0, true);
        }
        total += data.reward[i];
        let at_limit = data.step[i] as usize + 1 == time_limit;
        if from_start && (data.terminated[i] || (data.truncated[i] && at_limit)) {
            returns.push(total);
        }
        if data.terminated[i] || data.truncated[i] {
            from_start = false;
        }
    }
    returns
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
