//! `pessimist run`: headless sweeps, with progress on stderr (bars on a
//! terminal, plain periodic lines otherwise), the results (a table, or
//! JSON) on stdout at the end, so `> out.txt` holds them, and a non-zero
//! exit when a run failed.

use super::RunArgs;
use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use pessimist::eval::Metrics;
use pessimist::experiment::store::{self, Store};
use pessimist::experiment::{PlannedRun, Pool, RunConfig, RunHandle, RunId, RunStatus, spec};
use pessimist::present::Labels;
use pessimist::present::scores::{plus_se, score_text};
use pessimist::text::{number, percent, sanitize};
use serde_json::json;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `I/N`, or from a Slurm job array: I = (SLURM_ARRAY_TASK_ID −
/// SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP, N = SLURM_ARRAY_TASK_COUNT,
/// so `--array=1-8` and `--array=0-14:2` work as well as `--array=0-7`.
/// `env` reads a variable (the process environment, or a test's).
fn shard(
    arg: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<(usize, usize)>> {
    let (index, count) = if let Some(text) = arg {
        let (i, n) = text
            .split_once('/')
            .with_context(|| format!("--shard `{text}`: expected I/N, e.g. 0/4"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .with_context(|| format!("--shard `{text}`: `{s}` is not a number"))
        };
        (parse(i)?, parse(n)?)
    } else {
        let var = |name: &str, default: Option<usize>| -> anyhow::Result<Option<usize>> {
            match env(name) {
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .with_context(|| format!("{name}=`{v}` is not a number")),
                None => Ok(default),
            }
        };
        let (Some(id), Some(count)) = (
            var("SLURM_ARRAY_TASK_ID", None)?,
            var("SLURM_ARRAY_TASK_COUNT", None)?,
        ) else {
            return Ok(None);
        };
        let min = var("SLURM_ARRAY_TASK_MIN", Some(0))?.unwrap_or(0);
        let step = var("SLURM_ARRAY_TASK_STEP", Some(1))?.unwrap_or(1);
        if id < min || step == 0 || (id - min) % step != 0 {
            bail!("SLURM_ARRAY_TASK_ID={id} is not in the array {min}, {min}+{step}, …");
        }
        ((id - min) / step, count)
    };
    if count == 0 || index >= count {
        bail!("shard {index}/{count}: need 0 <= I < N");
    }
    Ok(Some((index, count)))
}

/// The store beside the first spec's directory (`experiments/../runs`).
fn default_store(specs: &[PathBuf]) -> PathBuf {
    let dir = specs[0].parent().unwrap_or(std::path::Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        dir
    };
    dir.join("..").join("runs")
}

/// Hashes a spec's dataset file, saying on stderr how far a large one is
/// ("hashing big.csv 42%", every 10%): an 8 GB file takes half a minute.
fn hash_with_progress(path: &std::path::Path) -> std::io::Result<Option<String>> {
    let large = std::fs::metadata(path)
        .is_ok_and(|m| m.len() > pessimist::experiment::session::INLINE_HASH_BYTES);
    let name = sanitize(&path.file_name().unwrap_or_default().to_string_lossy());
    let mut shown = 0;
    pessimist::experiment::config::sha256_file_with(path, |done, len| {
        let percent = (done * 100).checked_div(len).unwrap_or(100);
        if large && percent >= shown + 10 {
            shown = percent - percent % 10;
            eprintln!("hashing {name} {shown}%");
        }
        true
    })
    .map(Some)
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    // The library's warnings (a dataset cache entry refused and rebuilt)
    // on stderr, with the progress.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .try_init();
    let mut configs: Vec<RunConfig> = Vec::new();
    let mut errors = Vec::new();
    // A spec's name is its directory in the store: two files of one name
    // would mix their runs and tables (one file named twice is one spec).
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for path in &args.specs {
        match spec::load_with(path, &hash_with_progress) {
            Ok(s) => {
                let file = path.canonicalize().unwrap_or_else(|_| path.clone());
                match names.get(&s.name) {
                    Some(other) if *other != file => errors.push(format!(
                        "{}: the name `{}` is taken by {}: rename one",
                        path.display(),
                        s.name,
                        other.display()
                    )),
                    _ => {
                        names.insert(s.name, file);
                        configs.extend(s.runs);
                    }
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    let shard = shard(args.shard.as_deref(), |name| std::env::var(name).ok())?;
    if let Some((index, count)) = shard {
        configs = configs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % count == index)
            .map(|(_, c)| c)
            .collect();
    }
    let store_dir = args
        .runs
        .clone()
        .unwrap_or_else(|| default_store(&args.specs));
    let store = Store::new(&store_dir);
    let pool = Pool::new(store.clone(), super::jobs_or_cores(args.jobs), None);
    let mut handles: Vec<Arc<RunHandle>> = Vec::new();
    // Two specs (or one named twice) can list the same run: it is one run.
    let mut seen = std::collections::HashSet::new();
    for config in configs {
        let run = PlannedRun::from(config);
        if !seen.insert(run.id) {
            continue;
        }
        // A sweep repairs what a crash or an editor left, finished runs
        // too: a `config.json` that is not the spec's is rewritten. A
        // directory that cannot be made fails its run when it starts, with
        // the reason.
        let _ = store.prepare(&run.config);
        let handle = pool.submit(run, true);
        // A pause is a dashboard's wish, not a result: a sweep trains it.
        pool.resume(&handle.id);
        if args.retry_failed && handle.status() == RunStatus::Failed {
            pool.rerun(&handle.id);
        }
        handles.push(handle);
    }
    let total_iterations = saturating_sum(handles.iter().map(|h| h.config.iterations));
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut bars = terminal.then(|| Bars::new(total_iterations));
    let mut last_line = Instant::now();
    loop {
        let (done, iterations) = tally(&handles);
        let waiting = handles.iter().any(|h| !final_status(h).is_final());
        let message = format!("{done}/{} runs", handles.len());
        match &mut bars {
            Some(bars) => bars.update(&handles, iterations, message),
            None if last_line.elapsed() >= Duration::from_secs(5) || !waiting => {
                eprintln!(
                    "[{:>7.1}s] {message}, {iterations}/{total_iterations} iterations",
                    started.elapsed().as_secs_f64()
                );
                last_line = Instant::now();
            }
            None => {}
        }
        if !waiting {
            break;
        }
        // Runs another process holds: once it lets go (finished or died),
        // resume them here if they did not end.
        for h in handles.iter().filter(|h| h.elsewhere()) {
            pool.adopt(&h.id, true);
        }
        std::thread::sleep(Duration::from_millis(if terminal { 100 } else { 250 }));
    }
    if let Some(bars) = bars {
        bars.clear();
    }
    pool.shutdown();
    // The sweep's runs indexed themselves as they ended; those that ended
    // before (before the index, or with a torn record) are added here. One
    // shard of an array does it, not each of thousands of tasks.
    if shard.is_none_or(|(index, _)| index == 0) {
        repair_indexes(&store, names.keys());
    }
    print_summary(&handles, args.json);
    let failed = handles
        .iter()
        .filter(|h| final_status(h) == RunStatus::Failed)
        .count();
    Ok(if failed > 0 {
        eprintln!("{failed} run(s) failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Repairs the indexes of the specs named: a run whose files cannot be
/// read is named in a warning, and left to the readers that read files.
fn repair_indexes<'a>(store: &Store, specs: impl Iterator<Item = &'a String>) {
    for spec in specs {
        match pessimist::experiment::index::repair(store, spec) {
            Ok(repaired) => {
                for e in repaired.errors {
                    tracing::warn!("not indexed: {e}");
                }
            }
            Err(e) => tracing::warn!("not indexed: {e}"),
        }
    }
}

/// Progress bars on a terminal: the sweep's, and under it one per run
/// training in this process (iterations, it/s, ETA).
struct Bars {
    all: MultiProgress,
    overall: ProgressBar,
    runs: HashMap<RunId, ProgressBar>,
}

impl Bars {
    fn new(total_iterations: u64) -> Self {
        let all = MultiProgress::new();
        let overall = all.add(ProgressBar::new(total_iterations));
        overall.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {percent:>3}% {msg} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Bars {
            all,
            overall,
            runs: HashMap::new(),
        }
    }

    fn update(&mut self, handles: &[Arc<RunHandle>], iterations: u64, message: String) {
        self.overall.set_position(iterations);
        self.overall.set_message(message);
        for h in handles {
            let running = !h.elsewhere() && h.status() == RunStatus::Running;
            match (running, self.runs.get(&h.id)) {
                (true, bar) => {
                    let bar = bar.cloned().unwrap_or_else(|| self.add(h));
                    let p = h.progress();
                    bar.set_position(p.iteration);
                    bar.set_message(format!(
                        "{:.0} it/s, eta {:.0} s",
                        p.it_per_sec, p.eta_seconds
                    ));
                }
                (false, Some(_)) => {
                    if let Some(bar) = self.runs.remove(&h.id) {
                        bar.finish_and_clear();
                        self.all.remove(&bar);
                    }
                }
                (false, None) => {}
            }
        }
    }

    fn add(&mut self, h: &RunHandle) -> ProgressBar {
        let bar = self.all.add(ProgressBar::new(h.config.iterations));
        bar.set_style(
            ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} seed {}", h.id, h.config.seed));
        self.runs.insert(h.id, bar.clone());
        bar
    }

    fn clear(self) {
        for bar in self.runs.values() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
        let _ = self.all.clear();
    }
}

/// A sum of iteration counts that stops at `u64::MAX` instead of wrapping
/// (a spec may ask for 10^18 iterations a run).
fn saturating_sum(values: impl IntoIterator<Item = u64>) -> u64 {
    values.into_iter().fold(0, u64::saturating_add)
}

/// Runs ended and iterations done so far.
fn tally(handles: &[Arc<pessimist::experiment::RunHandle>]) -> (usize, u64) {
    let mut done = 0;
    let mut iterations = 0u64;
    for h in handles {
        let status = final_status(h);
        let run = if status.is_final() {
            done += 1;
            h.config.iterations
        } else {
            h.progress().iteration
        };
        iterations = saturating_sum([iterations, run]);
    }
    (done, iterations)
}

/// The status on record: the store's word for runs trained elsewhere.
fn final_status(h: &pessimist::experiment::RunHandle) -> RunStatus {
    if h.elsewhere() {
        store::read_summary(&h.dir)
            .ok()
            .flatten()
            .map_or(RunStatus::Running, |s| s.status)
    } else {
        h.status()
    }
}

/// Says under the table which number is which.
const RETURNS_LEGEND: &str = "J: discounted return J(π), what q_est estimates; R: return of one episode within the time limit (undiscounted); score: D4RL's normalized score of R; starts: share of the start distribution on states the data visits (q_est and J average over every start)";

/// Under a table with Monte-Carlo runs: what their `± se` is.
const NOISE_LEGEND: &str = "± se: the standard error of a Monte-Carlo truth (J and score from seeded rollouts from fixed start states)";

fn print_summary(handles: &[Arc<pessimist::experiment::RunHandle>], as_json: bool) {
    let labels = Labels::new(handles.iter().map(|h| h.config.as_ref()));
    let rows: Vec<_> = handles
        .iter()
        .map(|h| {
            let summary = store::read_summary(&h.dir).ok().flatten();
            let last = summary.as_ref().and_then(|s| s.last);
            let seconds = summary
                .as_ref()
                .map_or((0.0, 0.0), |s| (s.metrics_seconds, s.total_seconds()));
            // A run that failed to write its summary (disk full, read-only
            // store) has its error only in memory.
            let error = summary.and_then(|s| s.error).or_else(|| h.error());
            (h, final_status(h), last, error, seconds)
        })
        .collect();
    // Errors go to stderr as well, where the terminal shows them when the
    // results went to a file.
    for (h, status, _, error, _) in &rows {
        if *status == RunStatus::Failed {
            let error = error
                .as_deref()
                .map_or("no error recorded".into(), sanitize);
            eprintln!("run {} failed: {error}", h.id);
        }
    }
    if as_json {
        let out: Vec<_> = rows
            .iter()
            .map(
                |(h, status, last, error, (metrics_seconds, total_seconds))| {
                    json!({
                        "id": h.id.as_str(),
                        "spec": h.config.spec,
                        "env": h.config.env,
                        "algo": labels.algo(&h.config),
                        "dataset": labels.dataset(&h.config),
                        "seed": h.config.seed,
                        "status": status.name(),
                        "iterations": last.map(|m| m.iteration),
                        "q_est": last.map(|m| m.q_est),
                        "true_return": last.map(|m| m.true_return),
                        "start_coverage": last.map(|m| m.start_coverage),
                        "q_est_covered": last.map(|m| m.q_est_covered),
                        "true_return_covered": last.map(|m| m.true_return_covered),
                        "episode_return": last.map(|m| m.episode_return),
                        "normalized_score": last.map(|m| m.normalized_score),
                        // NaN (exact truth) is `null`.
                        "true_return_se": last.map(|m| m.true_return_se),
                        "episode_return_se": last.map(|m| m.episode_return_se),
                        "normalized_score_se": last.map(|m| m.normalized_score_se),
                        "dir": h.dir,
                        "error": error,
                        "metrics_seconds": metrics_seconds,
                        "total_seconds": total_seconds,
                    })
                },
            )
            .collect();
        println!("{}", serde_json::Value::Array(out));
        return;
    }
    // In the table, labels tell apart the runs of one spec (a sweep over
    // several specs would otherwise name every setting that differs
    // between them), and the environment has its own column.
    let mut by_spec: HashMap<&str, Vec<&RunConfig>> = HashMap::new();
    for h in handles {
        by_spec.entry(&h.config.spec).or_default().push(&h.config);
    }
    let spec_labels: HashMap<&str, Labels> = by_spec
        .into_iter()
        .map(|(spec, configs)| (spec, Labels::new(configs)))
        .collect();
    let names: Vec<(String, String)> = handles
        .iter()
        .map(|h| {
            let l = &spec_labels[&*h.config.spec];
            (sanitize(&l.algo(&h.config)), sanitize(&l.data(&h.config)))
        })
        .collect();
    let envs: Vec<String> = handles
        .iter()
        .map(|h| sanitize(&spec_labels[&*h.config.spec].env(&h.config)))
        .collect();
    let width = |f: fn(&(String, String)) -> &String, header: &str| {
        names
            .iter()
            .map(|n| f(n).chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let (wa, wd) = (width(|n| &n.0, "algo"), width(|n| &n.1, "dataset"));
    let we = envs
        .iter()
        .map(|e| e.chars().count())
        .max()
        .unwrap_or(0)
        .max(3);
    // J and the score carry their Monte-Carlo standard errors (`± se`,
    // as the dashboard's runs table); their columns widen to hold them.
    let f = |x: Option<f64>, p: usize| x.map_or("-".to_string(), |x| number(x, p));
    let se = |last: &Option<Metrics>, of: fn(&Metrics) -> f64| last.map_or(f64::NAN, |m| of(&m));
    let noisy: Vec<(String, String)> = rows
        .iter()
        .map(|(_, _, last, _, _)| {
            (
                plus_se(
                    f(last.map(|m| m.true_return), 3),
                    se(last, |m| m.true_return_se),
                    3,
                ),
                plus_se(
                    score_text(last.map(|m| m.normalized_score), 1),
                    se(last, |m| m.normalized_score_se),
                    1,
                ),
            )
        })
        .collect();
    let widest = |of: fn(&(String, String)) -> &String, least: usize| {
        noisy
            .iter()
            .map(|n| of(n).chars().count())
            .fold(least, usize::max)
    };
    let (wj, ws) = (widest(|n| &n.0, 10), widest(|n| &n.1, 7));
    println!(
        "{:<16} {:<we$} {:<wa$} {:<wd$} {:>4} {:<9} {:>6} {:>10} {:>wj$} {:>10} {:>ws$}",
        "run", "env", "algo", "dataset", "seed", "status", "starts", "q_est", "J", "R", "score"
    );
    for ((((h, status, last, error, _), (algo, data)), env), (j, score)) in
        rows.iter().zip(&names).zip(&envs).zip(&noisy)
    {
        println!(
            "{:<16} {:<we$} {:<wa$} {:<wd$} {:>4} {:<9} {:>6} {:>10} {:>wj$} {:>10} {:>ws$}",
            h.id,
            env,
            algo,
            data,
            h.config.seed,
            status.name(),
            last.map_or("-".into(), |m| percent(m.start_coverage)),
            f(last.map(|m| m.q_est), 3),
            j,
            f(last.map(|m| m.episode_return), 3),
            score,
        );
        if let Some(e) = error {
            println!("    error: {}", sanitize(e));
        }
    }
    println!("{RETURNS_LEGEND}");
    if rows
        .iter()
        .any(|r| r.2.is_some_and(|m| m.true_return_se.is_finite()))
    {
        println!("{NOISE_LEGEND}");
    }
    // Against each run's whole cost (setup included): training alone can
    // take microseconds (ImitationTrap), which makes any ratio to it huge.
    let (metrics, total) = rows
        .iter()
        .fold((0.0, 0.0), |(m, t), r| (m + r.4.0, t + r.4.1));
    if total > 0.0 {
        eprintln!(
            "writing metrics: {metrics:.4} s of {total:.3} s spent by the runs ({:.2}%)",
            100.0 * metrics / total
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{saturating_sum, shard};

    #[test]
    fn iteration_totals_do_not_wrap() {
        let huge = 9_000_000_000_000_000_000u64;
        assert_eq!(saturating_sum([huge, huge, huge]), u64::MAX);
        assert_eq!(saturating_sum([2, 3]), 5);
    }

    fn slurm(vars: &[(&str, &str)]) -> anyhow::Result<Option<(usize, usize)>> {
        shard(None, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn slurm_arrays_map_to_shards_whatever_their_first_index_and_step() {
        let task = |id: &str, min: &str, step: &str, count: &str| {
            slurm(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_STEP", step),
                ("SLURM_ARRAY_TASK_COUNT", count),
            ])
        };
        // --array=0-3
        assert_eq!(task("3", "0", "1", "4").unwrap(), Some((3, 4)));
        // --array=1-4
        assert_eq!(task("1", "1", "1", "4").unwrap(), Some((0, 4)));
        assert_eq!(task("4", "1", "1", "4").unwrap(), Some((3, 4)));
        // --array=10-16:3 (10, 13, 16)
        assert_eq!(task("16", "10", "3", "3").unwrap(), Some((2, 3)));
        // Without MIN and STEP (old Slurm): the id itself.
        let bare = slurm(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(bare.unwrap(), Some((2, 4)));
        assert!(task("5", "1", "1", "4").is_err(), "past the end");
        assert_eq!(slurm(&[]).unwrap(), None);
        assert_eq!(shard(Some("1/3"), |_| None).unwrap(), Some((1, 3)));
    }
}
