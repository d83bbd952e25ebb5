//! `pessimist train` and `pessimist eval`.

use super::env::rows;
use super::{EvalArgs, TrainArgs};
use anyhow::{Context, anyhow};
use ndarray::Array2;
use pessimist::algo::{ParamValue, Params};
use pessimist::experiment::pipeline::{Data, Setup, Training};
use pessimist::features::FeatureSpec;
use pessimist::mdp::{Policy, TabularMdp, envs, solve};
use pessimist::present::scores::score_text;
use pessimist::text::number;
use serde::Deserialize;
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Iterations when `--iterations` is not given: enough for every tabular
/// sweep to converge at γ = 0.99 on the built-in environments.
const DEFAULT_ITERATIONS: u64 = 1000;

pub fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let params = parse_sets("--set", &args.set)?;
    let features = if args.features.is_empty() {
        FeatureSpec::tabular()
    } else {
        FeatureSpec::read(&parse_sets("--features", &args.features)?)?
    };
    let Training {
        mut learner, judge, ..
    } = Setup {
        env: &args.env,
        data: Data::File(&args.data),
        algo: &args.algo,
        params: &params,
        gamma: args.gamma,
        seed: args.seed,
        features: &features,
        rollouts: args.rollouts,
    }
    .build()?;
    let iterations = args.iterations.unwrap_or(DEFAULT_ITERATIONS);
    for i in 0..iterations {
        learner
            .step()
            .with_context(|| format!("{} iteration {i}", args.algo))?;
    }
    let (q, policy) = (learner.q(), learner.policy());
    let m = judge.evaluate(&q, &policy, learner.weights(), learner.act())?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.policy_out {
        write_policy(path, &policy)?;
    }
    if args.json {
        let mut out = json!({
            "policy": rows(&policy),
            "q": rows(&q),
            "q_est": m.q_est,
            "true_return": m.true_return,
            "start_coverage": m.start_coverage,
            "q_est_covered": m.q_est_covered,
            "true_return_covered": m.true_return_covered,
            "episode_return": m.episode_return,
            "normalized_score": m.normalized_score,
            "iterations": iterations,
            "seconds": seconds,
        });
        // Monte-Carlo truth says how sure it is; exact truth has no such keys.
        for (key, se) in [
            ("true_return_se", m.true_return_se),
            ("episode_return_se", m.episode_return_se),
            ("normalized_score_se", m.normalized_score_se),
        ] {
            if let (Some(fields), Some(se)) = (out.as_object_mut(), finite(se)) {
                fields.insert(key.into(), json!(se));
            }
        }
        println!("{out}");
    } else {
        println!(
            "{} on {} ({} iterations, {seconds:.3} s)",
            args.algo, args.env, iterations
        );
        println!("  q_est            {:>12}", number(m.q_est, 4));
        println!(
            "  true_return      {:>12}{}",
            number(m.true_return, 4),
            plus_minus(m.true_return_se)
        );
        println!("  gap              {:>12}", number(m.gap, 4));
        // Unknown (NaN) where the truth is Monte-Carlo: starts are not states.
        if !m.start_coverage.is_nan() {
            println!("  start_coverage   {:>12.4}", m.start_coverage);
        }
        // Unvisited start states hold the learner's convention, not an estimate.
        if let Some(gap) = m.covered_gap() {
            println!(
                "  on the covered start states: q_est {} · true_return {} · gap {}",
                number(m.q_est_covered, 4),
                number(m.true_return_covered, 4),
                number(gap, 4)
            );
        }
        println!(
            "  episode_return   {:>12}{}",
            number(m.episode_return, 4),
            plus_minus(m.episode_return_se)
        );
        println!(
            "  normalized_score {:>12}{}",
            score_text(Some(m.normalized_score), 1),
            plus_minus(m.normalized_score_se)
        );
        println!("  success_prob     {:>12.4}", m.success_prob);
        println!("  ood_fraction     {:>12.4}", m.ood_fraction);
    }
    Ok(())
}

/// A metric's standard error, `None` (JSON `null`) where it is exact.
fn finite(se: f64) -> Option<f64> {
    (!se.is_nan()).then_some(se)
}

/// ` ± se` after a Monte-Carlo metric; nothing after an exact one.
fn plus_minus(se: f64) -> String {
    finite(se).map_or_else(String::new, |se| format!(" ± {}", number(se, 4)))
}

/// How many states the text output lists by their gap.
const GAPS_SHOWN: usize = 5;

pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let mdp = envs::make(&args.env)?;
    let q = args
        .q
        .as_deref()
        .map(|path| read_q(&mdp, path))
        .transpose()?;
    let policy = match (&args.policy, &q) {
        (Some(path), _) => {
            let policy = read_policy(path)?;
            mdp.check_policy(&policy)
                .with_context(|| format!("{}", path.display()))?;
            policy
        }
        (None, Some(q)) => solve::greedy(q),
        // clap requires one of them.
        (None, None) => return Err(anyhow!("eval needs --policy FILE or --q FILE")),
    };
    let values = solve::evaluate_policy(&mdp, &policy, args.gamma)?;
    let optimum = solve::optimal(&mdp, args.gamma)?.values.j;
    let random = solve::evaluate_policy(&mdp, &mdp.uniform_policy(), args.gamma)?.j;
    let scale = solve::EpisodeScale::new(&mdp)?;
    let episode_return = scale.episode_return(&mdp, &policy)?;
    let score = scale.score(episode_return);
    let success = mdp
        .time_limit()
        .map(|h| solve::success_probability(&mdp, &policy, h))
        .transpose()?;
    // What Q believes against the truth, defined as for a run's eval points.
    let estimate = q.as_ref().map(|q| {
        let (q_est, believed) = pessimist::eval::q_est(&mdp, q, &policy);
        let by_state: Vec<f64> = believed.iter().zip(&values.v).map(|(b, v)| b - v).collect();
        (q_est, by_state)
    });
    if args.json {
        let mut out = json!({
            "true_return": values.j,
            "episode_return": episode_return,
            "normalized_score": score,
            "optimal_return": optimum,
            "random_return": random,
            "best_episode_return": scale.best,
            "random_episode_return": scale.random,
            "horizon": scale.horizon,
            "success_prob": success,
            "V": values.v.to_vec(),
            "Q": rows(&values.q),
        });
        if let (Some(fields), Some((q_est, by_state))) = (out.as_object_mut(), &estimate) {
            fields.insert("q_est".into(), json!(q_est));
            fields.insert("gap".into(), json!(q_est - values.j));
            fields.insert("gap_by_state".into(), json!(by_state));
            fields.insert("policy".into(), json!(rows(&policy)));
        }
        println!("{out}");
    } else {
        println!("{} at gamma = {}", mdp.id(), args.gamma);
        if let (Some(path), Some((q_est, _))) = (&args.q, &estimate) {
            match &args.policy {
                Some(file) => println!("  policy {}, Q {}", file.display(), path.display()),
                None => println!("  policy greedy in Q {}", path.display()),
            }
            println!("  q_est            {:>12}", number(*q_est, 6));
        }
        println!("  true_return      {:>12.6}", values.j);
        if let Some((q_est, _)) = &estimate {
            println!("  gap              {:>12}", number(q_est - values.j, 6));
        }
        println!("  optimal_return   {:>12.6}", optimum);
        println!("  random_return    {:>12.6}", random);
        println!(
            "  episode_return   {episode_return:>12.6}  (undiscounted, {} steps; best {:.6}, random {:.6})",
            scale.horizon, scale.best, scale.random
        );
        println!("  normalized_score {:>12}", score_text(Some(score), 1));
        if let Some(p) = success {
            println!("  success_prob     {p:>12.4}");
        }
        if let Some((_, by_state)) = &estimate {
            let largest: Vec<String> = largest_gaps(by_state, GAPS_SHOWN)
                .into_iter()
                .map(|(s, gap)| format!("state {s} {}", number(gap, 4)))
                .collect();
            println!(
                "  largest gaps, Σ_a π(a|s) Q(s,a) − V^π(s): {}",
                largest.join(", ")
            );
        }
    }
    Ok(())
}

/// The `count` states whose gap is largest in size, largest first.
fn largest_gaps(by_state: &[f64], count: usize) -> Vec<(usize, f64)> {
    let mut gaps: Vec<(usize, f64)> = by_state.iter().copied().enumerate().collect();
    gaps.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
    gaps.truncate(count);
    gaps
}

/// `--q`: a Q table of `mdp`'s shape, every entry finite.
fn read_q(mdp: &TabularMdp, path: &Path) -> anyhow::Result<Array2<f64>> {
    let q = pessimist::data::npy::read_floats(path)?;
    mdp.q_table(q)
        .with_context(|| format!("{}", path.display()))
}

/// `--set KEY=VALUE` pairs; a repeated key is an error, not a silent override.
/// `flag` KEY=VALUE options as parameters.
fn parse_sets(flag: &str, sets: &[String]) -> anyhow::Result<Params> {
    let mut params = Params::new();
    for set in sets {
        let (key, value) = set
            .split_once('=')
            .ok_or_else(|| anyhow!("{flag} {set}: expected KEY=VALUE"))?;
        let key = key.trim();
        if params
            .insert(key.to_string(), ParamValue::parse(value.trim()))
            .is_some()
        {
            return Err(anyhow!("{flag} {set}: `{key}` is set twice"));
        }
    }
    Ok(params)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policy: Vec<Vec<f64>>,
}

fn read_policy(path: &Path) -> anyhow::Result<Policy> {
    let text = pessimist::fsio::read_to_string_bounded(path, pessimist::fsio::JSON)
        .with_context(|| format!("reading {}", path.display()))?;
    let file: PolicyFile = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{}:{}:{}: {e} (expected {{\"policy\": [[pi(a|s) per a] per s]}})",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let n_states = file.policy.len();
    let n_actions = file.policy.first().map_or(0, Vec::len);
    if let Some((s, row)) = file
        .policy
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != n_actions)
    {
        return Err(anyhow!(
            "{}: policy row {s} has {} entries, row 0 has {n_actions}",
            path.display(),
            row.len()
        ));
    }
    Policy::from_shape_vec((n_states, n_actions), file.policy.concat())
        .with_context(|| format!("{}: policy shape", path.display()))
}

fn write_policy(path: &Path, policy: &Policy) -> anyhow::Result<()> {
    let text = json!({ "policy": rows(policy) }).to_string();
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
