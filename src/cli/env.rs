//! `pessimist env list | show | solve | rollout | evaluate`.

use super::EnvCommand;
use anyhow::Context;
use ndarray::{Array1, Array2};
use pessimist::env::monte_carlo::{self, Plan};
use pessimist::env::{self, Description, Env, Visit, control, rollout};
use pessimist::mdp::sample::Tabular;
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
            for d in env::CONTINUOUS {
                println!(
                    "{:<26} continuous: {} (time limit {})",
                    d.id, d.summary, d.time_limit
                );
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
            match env::continuous(&id) {
                Some(d) => show_continuous(d, json)?,
                None => show(&envs::make(&id)?, json),
            }
            Ok(())
        }
        EnvCommand::Solve { id, gamma, json } => solve_env(&envs::make(&id)?, gamma, json),
        EnvCommand::Rollout {
            id,
            start,
            seed,
            actions,
            controller,
            json,
        } => {
            let v = Rollout {
                start: start.as_deref(),
                seed,
                actions: (!controller).then_some(&actions[..]),
                json,
            };
            env::visit_continuous(&id, &v)
                .unwrap_or_else(|| v.visit(&Tabular::new(&envs::make(&id)?)))
        }
        EnvCommand::Evaluate {
            id,
            controller: _,
            episodes,
            seed,
            gamma,
            json,
        } => {
            let v = Evaluate {
                plan: Plan {
                    episodes,
                    seed,
                    gamma,
                },
                json,
            };
            env::visit_continuous(&id, &v)
                .unwrap_or_else(|| v.visit(&Tabular::new(&envs::make(&id)?)))
        }
    }
}

/// `env evaluate --controller` on an environment of any kind.
struct Evaluate {
    plan: Plan,
    json: bool,
}

impl Visit for Evaluate {
    type Out = anyhow::Result<()>;

    fn visit<E: Env>(&self, env: &E) -> anyhow::Result<()> {
        let start = env.reset(&mut monte_carlo::episode_rng(self.plan.seed, 0));
        env::check_controller(env, &start).context("--controller")?;
        let policy = |o: &E::Obs, _: &mut _| env.controller(o).expect("checked above");
        let got = monte_carlo::evaluate(env, policy, self.plan)?;
        if self.json {
            println!("{}", serde_json::to_value(got)?);
        } else {
            let (r, d) = (got.episode_return, got.discounted_return);
            println!("episodes:          {}", r.n);
            println!("episode return:    {:.4} ± {:.4} (se)", r.mean, r.se);
            println!(
                "discounted return: {:.4} ± {:.4} (se, gamma {})",
                d.mean, d.se, self.plan.gamma
            );
        }
        Ok(())
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

/// A continuous-state environment: its state, observation bounds, actions,
/// time limit and start distribution (`--json`: the same as one object).
fn show_continuous(d: &Description, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_value(d)?);
        return Ok(());
    }
    println!("{}: {}", d.id, d.summary);
    println!("  state (--start): {}", d.state.join(", "));
    println!("  observation:");
    // Gymnasium's "unbounded" is float32's largest number.
    let bound = |x: f64| {
        if x.abs() < 1e6 {
            x.to_string()
        } else {
            format!("{x:e}")
        }
    };
    for &(name, low, high) in d.observation {
        println!("    {name:<22} [{}, {}]", bound(low), bound(high));
    }
    println!("  actions:");
    for (a, name) in d.actions.iter().enumerate() {
        println!("    {a}: {name}");
    }
    println!("  time limit: {} steps", d.time_limit);
    println!("  start: {}", d.start);
    let r = d.reference;
    let expert = r
        .expert
        .map_or("none (no classical controller)".into(), |(mean, se)| {
            format!("{mean} ± {se} (the controller)")
        });
    println!(
        "  reference returns ({} episodes, seed {}): random {} ± {}, expert {expert}",
        pessimist::data::observed::collect::REFERENCE_EPISODES,
        pessimist::data::observed::collect::REFERENCE_SEED,
        r.random.0,
        r.random.1
    );
    Ok(())
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

/// `env rollout` on an environment of any kind.
struct Rollout<'a> {
    start: Option<&'a str>,
    seed: Option<u64>,
    /// `None`: the environment's controller chooses.
    actions: Option<&'a [usize]>,
    json: bool,
}

impl Visit for Rollout<'_> {
    type Out = anyhow::Result<()>;

    fn visit<E: Env>(&self, env: &E) -> anyhow::Result<()> {
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed.unwrap_or(0));
        let state = match self.start {
            Some(text) => env
                .parse_state(text)
                .with_context(|| format!("--start {text}"))?,
            None => env.reset(&mut rng),
        };
        let t = match self.actions {
            Some(actions) => rollout(env, state, actions, &mut rng).context("--actions")?,
            None => control(env, state, &mut rng).context("--controller")?,
        };
        if self.json {
            println!("{}", serde_json::to_value(&t)?);
        } else {
            println!("observations:");
            for (i, o) in t.observations.iter().enumerate() {
                println!("  {i:>4}: {o:?}");
            }
            println!("rewards:      {:?}", t.rewards);
            println!("terminated: {}, truncated: {}", t.terminated, t.truncated);
        }
        Ok(())
    }
}

/// A matrix as nested JSON arrays, row by row.
pub fn rows(m: &Array2<f64>) -> Vec<Vec<f64>> {
    m.outer_iter().map(|r| r.to_vec()).collect()
}
