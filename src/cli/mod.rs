//! Command-line interface: clap definitions and dispatch, one file per
//! command group. The commands are thin: parse, call the library, print.
//! Their flags and JSON shapes are a stable interface (docs/architecture.md,
//! "Command line"; docs/cli.md documents each).

/// Shadows std's `println!` in every command module: output goes through
/// [`out::write`], so a full disk or a closed pipe is an error message and
/// an exit code, never a panic. (Defined before the modules that use it:
/// `macro_rules!` scope is textual.)
macro_rules! println {
    () => {
        $crate::cli::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Shadows std's `print!` like [`println!`].
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!($($arg)*))
    };
}

/// `--jobs`: a whole number of threads from 1 to [`MAX_JOBS`], refused
/// with the range before a pool tries to start them.
fn jobs_parser() -> impl clap::builder::TypedValueParser<Value = usize> {
    clap::value_parser!(u64)
        .range(1..=MAX_JOBS as u64)
        .map(|n| n as usize)
}

/// The `--jobs` given, or one thread per core.
fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

mod algo;
mod data;
mod env;
pub mod out;
mod plot;
mod report;
mod run;
mod train;
mod tui;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use pessimist::experiment::pool::MAX_JOBS;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "pessimist",
    version,
    about = "Offline RL on exactly-solvable problems: watch Q-values drift from true returns",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no command: open the dashboard.
    #[command(flatten)]
    tui: TuiArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the dashboard on an experiments directory (the default command).
    Tui(TuiArgs),
    /// Run experiment specs headless: results on stdout, progress on stderr.
    Run(RunArgs),
    /// List, inspect, solve and step through environments.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Collect datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// List the algorithms and show each one's keys (default, range, unit, meaning).
    #[command(subcommand)]
    Algo(AlgoCommand),
    /// Train one algorithm on a dataset CSV and evaluate it exactly.
    Train(TrainArgs),
    /// Evaluate a policy file exactly, or a Q table another library learned
    /// (its estimate against the exact return of its policy).
    Eval(EvalArgs),
    /// Score tables of a runs directory: markdown, CSV, JSON or LaTeX.
    ///
    /// One table per spec (`--by spec`, the default) or per environment
    /// (`--by env`), laid out like the lecture's: datasets as rows, the
    /// behaviour's own score first, then one column per algorithm, and a
    /// Total row; then the same layout of the episode return R, the
    /// discounted return J(π), the start coverage, and q_est and J(π) on
    /// the covered start states. Cells are mean ± the sample standard
    /// deviation over seeds (n − 1), the mean alone for one seed; the
    /// best of a row is bold, ties as printed bold together; `↓` marks a
    /// cell below its row's best by Welch's t-test (two-sided, α = 0.05,
    /// not tested with one seed on either side). The caption under each
    /// table states n (and `(n=k)` marks a cell with another n) and what
    /// the marks mean.
    ///
    /// With several groups, markdown puts each under a `# GROUP` heading,
    /// CSV adds a leading `group` column, LaTeX names the group in each
    /// caption, and JSON is `{"tables": [{"group": ..., TABLE}], ...}`;
    /// with one group JSON is the table itself (`{"group", "datasets",
    /// "algos", "cells", "behavior", "total", ...}`).
    Report(ReportArgs),
    /// Figures of a runs directory (SVG or PNG): the BEAR figure,
    /// algorithms compared, a hyper-parameter sweep, or one run's heatmap;
    /// one figure per spec.
    Plot(PlotArgs),
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Experiments directory (specs, *.toml).
    #[arg(default_value = "experiments")]
    pub experiments_dir: PathBuf,
    /// Run store (default: `runs/` beside the experiments directory).
    #[arg(long)]
    pub runs: Option<PathBuf>,
    /// Training threads, 1 to 1024 (default: number of cores).
    #[arg(long, value_parser = jobs_parser())]
    pub jobs: Option<usize>,
    /// Poll the file system instead of using notifications (network file systems).
    #[arg(long)]
    pub poll: bool,
    /// Queue new runs but start them only on a key.
    #[arg(long)]
    pub no_autostart: bool,
    /// Render frames as plain text to stdout instead of opening the terminal UI.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: number of frames to render.
    #[arg(long, default_value_t = 1)]
    pub frames: usize,
    /// With --headless: frame size, WIDTHxHEIGHT.
    #[arg(long, default_value = "120x40")]
    pub size: String,
    /// With --headless: keys to feed before rendering (e.g. "jj<Enter>").
    #[arg(long)]
    pub keys: Option<String>,
    /// With --headless: train the runs that need it while rendering. Without
    /// it the frames show the store as it is and write nothing (the `a` key
    /// in --keys starts the waiting runs too).
    #[arg(long, requires = "headless")]
    pub train: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Spec files (TOML).
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Run store (default: `runs/` beside each spec's directory).
    #[arg(long)]
    pub runs: Option<PathBuf>,
    /// Training threads, 1 to 1024 (default: number of cores).
    #[arg(long, value_parser = jobs_parser())]
    pub jobs: Option<usize>,
    /// Take every N-th run starting at I (0-based): `I/N`. Defaults to
    /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT when set.
    #[arg(long)]
    pub shard: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Train failed runs again, from the start (a sweep otherwise reports
    /// them as they are). Diverged runs are results and are kept.
    #[arg(long)]
    pub retry_failed: bool,
}

#[derive(Debug, Subcommand)]
enum EnvCommand {
    /// List the built-in environments.
    List,
    /// Print an environment's transition table, or a continuous-state
    /// environment's state, observation bounds, actions and start distribution.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Solve an environment exactly (optimal V, Q, J and policy).
    Solve {
        id: String,
        #[arg(long)]
        gamma: f64,
        #[arg(long)]
        json: bool,
    },
    /// Step through an environment with given actions.
    Rollout {
        id: String,
        /// Initial state, exactly: the state index for tabular problems,
        /// the internal state `x0,x1,...` for continuous-state ones (as
        /// Gymnasium's `env.unwrapped.state = ...`).
        #[arg(long, required_unless_present = "seed", allow_hyphen_values = true)]
        start: Option<String>,
        /// Seed for the random initial state (without --start) and the
        /// transitions of stochastic environments (default 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Comma-separated actions.
        #[arg(long, value_delimiter = ',', required_unless_present = "controller")]
        actions: Vec<usize>,
        /// Play the environment's classical controller to the end of the
        /// episode instead (MountainCar-v0: energy pumping; CartPole-v1:
        /// PD on the pole's angle).
        #[arg(long, conflicts_with = "actions")]
        controller: bool,
        #[arg(long)]
        json: bool,
    },
    /// Monte-Carlo returns (mean ± standard error) of a policy from a
    /// seeded set of start states, on every core.
    Evaluate {
        id: String,
        /// The environment's classical controller (the one policy so far).
        #[arg(long, required = true)]
        controller: bool,
        #[arg(long, default_value_t = 1000)]
        episodes: usize,
        /// Seeds episode i's start state and transitions, from (seed, i).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Discount of the discounted return.
        #[arg(long, default_value_t = 0.99)]
        gamma: f64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AlgoCommand {
    /// List the algorithms, each with its keys.
    List,
    /// Print an algorithm's keys: default, range, unit and meaning, and the
    /// choice a key belongs to.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Collect a dataset with a behaviour policy of a given quality.
    Collect {
        #[arg(long)]
        env: String,
        /// random, medium, expert, medium-replay, medium-expert, behavior,
        /// optimal (continuous-state environments: the first five)
        #[arg(long)]
        policy: String,
        /// The coverage knob: play the `optimal` or `medium` policy (on a
        /// continuous-state environment, `expert`: its controller) with
        /// this probability of a uniformly random action.
        #[arg(long)]
        epsilon: Option<f64>,
        /// Number of transitions (at most 2^32 - 1: counts are 32-bit).
        #[arg(long)]
        size: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Discount of the optimal policy and the medium learner (tabular).
        #[arg(long, default_value_t = 0.99)]
        gamma: f64,
        /// Output file (.csv, or .npz for numpy).
        #[arg(short, long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[arg(long)]
    pub env: String,
    #[arg(long)]
    pub algo: String,
    /// Dataset: CSV, or `.npz` as `data collect` writes it.
    #[arg(long)]
    pub data: PathBuf,
    /// Hyper-parameter, KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Linear features instead of a table, KEY=VALUE (repeatable; `kind` first,
    /// e.g. `--features kind=tile --features tilings=8`), as a spec's `features`.
    #[arg(long = "features", value_name = "KEY=VALUE")]
    pub features: Vec<String>,
    #[arg(long, default_value_t = 0.99)]
    pub gamma: f64,
    /// Iterations to run, exactly this many (default: 1000, enough for every
    /// tabular sweep to converge at gamma 0.99 on the built-in environments).
    #[arg(long)]
    pub iterations: Option<u64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Monte-Carlo episodes of the evaluation on a continuous environment
    /// (MountainCar-v0, CartPole-v1, Acrobot-v1; default 100), as a spec's
    /// `rollouts`.
    #[arg(long)]
    pub rollouts: Option<u64>,
    #[arg(long)]
    pub json: bool,
    /// Write the learned policy as `{"policy": [[π(a|s) per a] per s]}`.
    #[arg(long)]
    pub policy_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("evaluated").args(["policy", "q"]).required(true).multiple(true)))]
pub struct EvalArgs {
    #[arg(long)]
    pub env: String,
    /// Policy file `{"policy": [[π(a|s) per a] per s]}`.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// A Q table learned by any library on this environment: `.npy`,
    /// float64 or float32, shape (n_states, n_actions). Its estimate is
    /// compared with the exact return of the policy evaluated: --policy if
    /// given, else the greedy policy of Q (as with --greedy).
    #[arg(long)]
    pub q: Option<PathBuf>,
    /// With --q: evaluate the greedy policy of Q (argmax per state, ties
    /// to the lowest action, as the learners' greedy policies). The default
    /// without --policy.
    #[arg(long, requires = "q", conflicts_with = "policy")]
    pub greedy: bool,
    #[arg(long)]
    pub gamma: f64,
    #[arg(long)]
    pub json: bool,
}

/// Which runs `report` and `plot` show. Each flag may be repeated or take
/// comma-separated values (any of them matches); flags combine with "and".
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Spec, by its file stem (`why_offline_rl_is_hard`, looked up among
    /// the `.toml` files of the experiments directory beside the store) or
    /// its `name` (`why-offline-rl-is-hard`, its directory in the store).
    #[arg(long, value_delimiter = ',')]
    pub spec: Vec<String>,
    /// Environment id, with or without its version (`FrozenLake8x8-v1`, `CliffWalking`).
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
    /// Algorithm (`cql`) or its label with the keys that vary (`cql alpha=1`).
    #[arg(long, value_delimiter = ',')]
    pub algo: Vec<String>,
    /// Dataset label (`medium 10k`) or behaviour (`medium`).
    #[arg(long, value_delimiter = ',')]
    pub dataset: Vec<String>,
    /// Words that must all appear in a run's spec, env, algo, dataset,
    /// status or `seed=N`: the dashboard's `/` filter.
    #[arg(long)]
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run store (a directory written by `pessimist run` or the dashboard).
    pub runs_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// One table per spec or per environment. Labels name only what
    /// varies within a table, so specs are never merged by default.
    #[arg(long, value_enum, default_value_t = ReportBy::Spec)]
    pub by: ReportBy,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    /// Markdown tables, each with its caption's lines under it.
    Md,
    /// One record per dataset and algorithm (and behaviour, Total), with
    /// `best`, `below_best` and Welch's `p_best`.
    Csv,
    /// Every number, with `best`, `below_best` and `p_best` per cell.
    Json,
    /// booktabs tables in `table` floats, captioned, ready to paste
    /// (`\usepackage{booktabs}`).
    Latex,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportBy {
    /// One table per spec (its `name`).
    Spec,
    /// One table per environment, whatever spec its runs come from.
    Env,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Run store (a directory written by `pessimist run` or the dashboard).
    pub runs_dir: PathBuf,
    /// Where figures go: a file (`f.svg`, or `f.png` for a bitmap) when
    /// the selection holds one spec; a directory (created if needed, one
    /// SPEC_NAME.svg per spec) or a pattern with `{spec}`
    /// (`figures/{spec}.png`) when it holds several.
    #[arg(long)]
    pub out: PathBuf,
    /// What a figure shows. `bear`: the return J(π) and its Q estimate
    /// side by side, one line per dataset (for one algorithm; a row per
    /// algorithm otherwise). `overlay`: the same panels, one line per
    /// algorithm (a row per dataset). `sweep`: `--x KEY` on the x axis
    /// against the final score. `heatmap`: one run's max_a Q(s,a) − V^π(s)
    /// per state on its grid (the selection must pick exactly one run).
    /// `landscape`: one continuous run's max_a Q over two observation
    /// components (`--pair`) beside the data's density and the policy's
    /// visitation, from its `landscape.json`. Default: `sweep` with --x, else `bear` when a spec's runs have one
    /// algorithm label and `overlay` otherwise. Each environment gets its
    /// own row of panels.
    #[arg(long, value_enum)]
    pub layout: Option<PlotLayout>,
    /// A swept hyper-parameter (`beta`) on the x axis against the final
    /// `--y`, mean over seeds with a band, one line per algorithm (and
    /// dataset); runs without the key and the behaviour's score are flat
    /// dashed references. A log axis when its values are positive and span
    /// more than a decade (symlog when 0 is among them).
    #[arg(long, value_name = "KEY")]
    pub x: Option<String>,
    /// With `--layout landscape`: the two observation components, by index
    /// or name, e.g. `0,1` or `position,velocity` (default: the first two).
    #[arg(long, value_name = "X,Y")]
    pub pair: Option<String>,
    /// The y of `--x`: `score` (D4RL's normalized score of each run's last
    /// eval point) or `return` (its discounted return J(π)).
    #[arg(long, value_enum, default_value_t = PlotY::Score)]
    pub y: PlotY,
    /// The band around each mean over seeds: `std` (± one sample standard
    /// deviation) or `minmax` (lowest to highest seed). The subtitle says
    /// which.
    #[arg(long, value_enum, default_value_t = PlotBand::Std)]
    pub band: PlotBand,
    /// Each seed as a thin line under the mean, instead of a band
    /// (bear and overlay).
    #[arg(long)]
    pub seeds: bool,
    /// Linear y axes instead of symmetric-log ones (bear and overlay).
    #[arg(long)]
    pub linear: bool,
    /// Canvas size in pixels, WIDTHxHEIGHT (default: sized from the panels
    /// and the legend). Too small for them is an error that gives the
    /// figure's own size.
    #[arg(long, value_name = "WxH", value_parser = plot::parse_size)]
    pub size: Option<(u32, u32)>,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotLayout {
    Bear,
    Overlay,
    Sweep,
    Heatmap,
    Landscape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotY {
    Score,
    Return,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotBand {
    Std,
    Minmax,
}

/// Runs the parsed command; `Ok` carries the exit code (a headless sweep
/// with failed runs exits non-zero without being an error itself).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => tui::run(&cli.tui),
        Some(Command::Tui(args)) => tui::run(&args),
        Some(Command::Run(args)) => run::run(&args),
        Some(Command::Env(cmd)) => env::run(cmd).map(|()| ExitCode::SUCCESS),
        Some(Command::Data(cmd)) => data::run(cmd).map(|()| ExitCode::SUCCESS),
        Some(Command::Algo(cmd)) => algo::run(cmd).map(|()| ExitCode::SUCCESS),
        Some(Command::Train(args)) => train::train(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Eval(args)) => train::eval(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Report(args)) => report::report(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Plot(args)) => plot::plot(&args).map(|()| ExitCode::SUCCESS),
    }
}
