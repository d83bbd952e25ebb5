//! `pessimist env list | show | solve | rollout`.

use super::EnvCommand;
use anyhow::{Context, bail};
use ndarray::{Array1, Array2};
use pessimist::mdp::sample::Sampler;
use pessimist::mdp::{TabularMdp, envs, solve};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde_json::json;

pub fn run(cmd: EnvCommand) -> anyhow::Result<()> {
    match cmd {
        EnvCommand::List => {
            for info in envs::list() {
                println!("{:<26} {}", info.id, info.summary);
            }
            println!(
                "{:<26} a grid map of FrozenLake letters (S, F, H, G), slippery",
                "map:PATH"
            );
            println!(
                "{:<26} your own MDP: Gymnasium's P table as JSON (scripts/export_mdp.py writes one)",
                "file:PATH"
            );
            Ok(())
        }
        EnvCommand::Show { id, json } => {
            show(&envs::make(&id)?, json);
            Ok(())
        }
        EnvCommand::Solve { id, gamma, json } => solve_env(&envs::make(&id)?, gamma, json),
        EnvCommand::Rollout {
            id,
            start,
            seed,
            actions,
            json,
        } => rollout(&envs::make(&id)?, start.as_deref(), seed, &actions, json),
    }
}

fn show(mdp: &TabularMdp, json: bool) {
    if json {
        let p: Vec<Vec<Vec<serde_json::Value>>> = mdp
            .table()
            .iter()
            .map(|row| {
                row.iter()
                    .map(|list| {
                        list.iter()
                            .map(|o| json!([o.prob, o.next, o.reward, o.terminated]))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let out = json!({
            "id": mdp.id(),
            "n_states": mdp.n_states(),
            "n_actions": mdp.n_actions(),
            "initial_state_distribution": mdp.initial(),
            "P": p,
            "max_episode_steps": mdp.time_limit(),
        });
        println!("{out}");
        return;
    }
    println!(
        "{}: {} states, {} actions, time limit {}",
        mdp.id(),
        mdp.n_states(),
        mdp.n_actions(),
        mdp.time_limit()
            .map_or("none".to_string(), |t| t.to_string())
    );
    if let Some(grid) = mdp.grid() {
        for row in grid.cells.chunks(grid.cols) {
            println!("  {}", row.iter().collect::<String>());
        }
    }
    for s in 0..mdp.n_states() {
        for a in 0..mdp.n_actions() {
            let outcomes: Vec<String> = mdp
                .outcomes(s, a)
                .iter()
                .map(|o| {
                    format!(
                        "({:.4}, {}, {}, {})",
                        o.prob, o.next, o.reward, o.terminated
                    )
                })
                .collect();
            println!("P[{s}][{a}] = [{}]", outcomes.join(", "));
        }
    }
}

fn solve_env(mdp: &TabularMdp, gamma: f64, json: bool) -> anyhow::Result<()> {
    let opt = solve::optimal(mdp, gamma)?;
    let success = mdp
        .time_limit()
        .map(|h| solve::success_probability(mdp, &opt.policy, h))
        .transpose()?;
    if json {
        let out = json!({
            "V": opt.values.v.to_vec(),
            "Q": rows(&opt.values.q),
            "J": opt.values.j,
            "policy": rows(&opt.policy),
        });
        println!("{out}");
        return Ok(());
    }
    println!("{} at gamma = {gamma}", mdp.id());
    println!("J* = {:.6}", opt.values.j);
    if let Some(p) = success {
        println!(
            "success probability within the time limit ({} steps): {p:.4}",
            mdp.time_limit().unwrap_or(0)
        );
    }
    match mdp.grid() {
        Some(grid) => print_grid_solution(grid, &opt.values.v, &opt.policy, mdp),
        None => {
            for s in 0..mdp.n_states() {
                let a = solve::argmax(opt.policy.row(s).iter().copied());
                println!("  state {s:>4}: V* = {:>12.6}  action {a}", opt.values.v[s]);
            }
        }
    }
    Ok(())
}

fn print_grid_solution(
    grid: &pessimist::mdp::GridLayout,
    v: &Array1<f64>,
    policy: &Array2<f64>,
    mdp: &TabularMdp,
) {
    for r in 0..grid.rows {
        let mut values = String::new();
        let mut arrows = String::new();
        for c in 0..grid.cols {
            let s = r * grid.cols + c;
            values.push_str(&format!("{:>9.3}", v[s]));
            let arrow = if mdp.is_absorbing(s) {
                grid.cells[s]
            } else {
                grid.action_arrows[solve::argmax(policy.row(s).iter().copied())]
            };
            arrows.push(arrow);
        }
        println!("  {arrows}  {values}");
    }
}

fn rollout(
    mdp: &TabularMdp,
    start: Option<&str>,
    seed: Option<u64>,
    actions: &[usize],
    json: bool,
) -> anyhow::Result<()> {
    let sampler = Sampler::new(mdp);
    let mut rng = Pcg64Mcg::seed_from_u64(seed.unwrap_or(0));
    let mut state = match start {
        Some(text) => {
            let s: usize = text
                .trim()
                .parse()
                .with_context(|| format!("--start {text}: expected a state index"))?;
            if s >= mdp.n_states() {
                bail!(
                    "--start {s}: {} has states 0..={}",
                    mdp.id(),
                    mdp.n_states() - 1
                );
            }
            s
        }
        None => sampler.reset(&mut rng),
    };
    let mut observations = vec![state];
    let mut rewards = Vec::new();
    let (mut terminated, mut truncated) = (false, false);
    for (t, &a) in actions.iter().enumerate() {
        if terminated || truncated {
            bail!(
                "--actions: the episode ended after step {t}, but {} more action(s) follow",
                actions.len() - t
            );
        }
        if a >= mdp.n_actions() {
            bail!(
                "--actions: action {a} at position {t} is out of range: {} has actions 0..={}",
                mdp.id(),
                mdp.n_actions() - 1
            );
        }
        let o = sampler.step(state, a, &mut rng);
        state = o.next as usize;
        observations.push(state);
        rewards.push(o.reward);
        terminated = o.terminated;
        // Gymnasium's TimeLimit: truncated at the limit even if also terminated.
        truncated = mdp.time_limit() == Some(t + 1);
    }
    if json {
        let out = json!({
            "observations": observations,
            "rewards": rewards,
            "terminated": terminated,
            "truncated": truncated,
        });
        println!("{out}");
    } else {
        println!("observations: {observations:?}");
        println!("rewards:      {rewards:?}");
        println!("terminated: {terminated}, truncated: {truncated}");
    }
    Ok(())
}

/// A matrix as nested JSON arrays, row by row.
pub fn rows(m: &Array2<f64>) -> Vec<Vec<f64>> {
    m.outer_iter().map(|r| r.to_vec()).collect()
}
