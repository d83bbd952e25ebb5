//! `pessimist report` (the score table) over a run store, and the
//! selection of runs it shares with `pessimist plot`.

use super::{ReportArgs, ReportFormat, SelectArgs};
use anyhow::{Context, bail};
use pessimist::eval::Metrics;
use pessimist::experiment::RunStatus;
use pessimist::experiment::store::{self, LoadedRun, Store};
use pessimist::present::Labels;
use pessimist::present::ScoreTable;
use pessimist::present::scores::{self, RunResult};
use pessimist::present::select::{Filter, Selection};
use pessimist::text::sanitize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every readable run that `select` picks, once (one config in two specs
/// is one run); unreadable ones are reported on stderr and skipped.
pub(super) fn load(dir: &Path, select: &SelectArgs) -> anyhow::Result<Vec<LoadedRun>> {
    if !dir.is_dir() {
        bail!(
            "{}: no such run store (a directory written by `pessimist run`)",
            dir.display()
        );
    }
    let (runs, errors) = Store::new(dir).load_all()?;
    for e in errors {
        eprintln!("warning: skipped a run: {}", sanitize(&e.to_string()));
    }
    if runs.is_empty() {
        bail!("no runs in {}", dir.display());
    }
    let mut seen = BTreeSet::new();
    let runs: Vec<LoadedRun> = runs
        .into_iter()
        .filter(|r| seen.insert(r.config.id()))
        .collect();
    let selection = Selection {
        specs: spec_names(dir, &select.spec, &runs)?,
        envs: select.env.clone(),
        algos: select.algo.clone(),
        datasets: select.dataset.clone(),
        filter: Filter::new(select.filter.as_deref().unwrap_or_default()),
    };
    // Labels as the dashboard shows them: per spec.
    let mut by_spec: BTreeMap<&str, Vec<&LoadedRun>> = BTreeMap::new();
    for r in &runs {
        by_spec.entry(&r.config.spec).or_default().push(r);
    }
    let labels: BTreeMap<&str, Labels> = by_spec
        .iter()
        .map(|(spec, runs)| (*spec, Labels::new(runs.iter().map(|r| &r.config))))
        .collect();
    let keep: Vec<bool> = runs
        .iter()
        .map(|r| selection.matches(&r.config, &labels[r.config.spec.as_str()], status(r)))
        .collect();
    let picked: Vec<LoadedRun> = runs
        .into_iter()
        .zip(keep)
        .filter_map(|(r, keep)| keep.then_some(r))
        .collect();
    if picked.is_empty() {
        bail!("no run in {} matches the selection", dir.display());
    }
    Ok(picked)
}

/// A run's status as its summary says (queued without one).
pub(super) fn status(run: &LoadedRun) -> RunStatus {
    run.summary.as_ref().map_or(RunStatus::Queued, |s| s.status)
}

/// `--spec` values as spec names: a name in the store stands for itself;
/// otherwise a spec file (a path, or a stem in the experiments directory
/// beside the store) stands for the `name` it declares.
fn spec_names(store: &Path, specs: &[String], runs: &[LoadedRun]) -> anyhow::Result<Vec<String>> {
    let names: BTreeSet<&str> = runs.iter().map(|r| r.config.spec.as_str()).collect();
    let experiments = store
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(|p| p.join("experiments")));
    specs
        .iter()
        .map(|spec| {
            if names.contains(spec.as_str()) {
                return Ok(spec.clone());
            }
            let candidates = [
                Some(std::path::PathBuf::from(spec)),
                experiments.as_ref().map(|e| e.join(format!("{spec}.toml"))),
            ];
            match candidates.into_iter().flatten().find(|p| p.is_file()) {
                Some(file) => declared_name(&file),
                None => bail!(
                    "--spec {spec}: no such spec in {} (specs there: {}; a spec file's stem \
                     works when the file is in the experiments directory beside the store)",
                    store.display(),
                    names.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            }
        })
        .collect()
}

/// The `name` a spec file declares.
fn declared_name(file: &Path) -> anyhow::Result<String> {
    let text = pessimist::fsio::read_to_string_bounded(file, pessimist::fsio::SPEC)
        .with_context(|| format!("reading {}", file.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not a spec", file.display()))?;
    match table.get("name") {
        Some(toml::Value::String(name)) => Ok(name.clone()),
        _ => bail!("{}: the spec has no `name`", file.display()),
    }
}

/// A run's eval points; unreadable ones are reported on stderr and none kept.
pub(super) fn read_history(run: &LoadedRun) -> Vec<Metrics> {
    store::read_metrics(&run.dir).unwrap_or_else(|e| {
        eprintln!(
            "warning: skipped the metrics of a run: {}",
            sanitize(&e.to_string())
        );
        Vec::new()
    })
}

pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    let runs = load(&args.runs_dir, &args.select)?;
    // A diverged run whose last point has no finite score is scored by
    // an earlier one: only its metrics are read.
    let histories: Vec<std::cell::OnceCell<Vec<Metrics>>> =
        runs.iter().map(|_| Default::default()).collect();
    let mut table = ScoreTable::build(runs.iter().zip(&histories).map(|(r, history)| {
        let summary = r.summary.as_ref();
        let status = status(r);
        RunResult {
            config: &r.config,
            status,
            point: scores::scoring_point(status, summary.and_then(|s| s.last.as_ref()), || {
                history.get_or_init(|| read_history(r)).as_slice()
            }),
            behavior: summary
                .and_then(|s| s.dataset_stats.as_ref())
                .and_then(scores::behavior_score),
        }
    }));
    let envs: BTreeSet<&str> = runs.iter().map(|r| r.config.env.as_str()).collect();
    if envs.len() == 1 {
        // One environment: naming it on every row says nothing.
        table.datasets = table.short_datasets.clone();
    }
    match args.format {
        // Names come from files: no escape sequence reaches the terminal.
        ReportFormat::Md => print!("{}", sanitize(&table.to_markdown())),
        ReportFormat::Csv => print!("{}", sanitize(&table.to_csv())),
        ReportFormat::Json => {
            // Which number is which, beside the numbers.
            let mut value = serde_json::to_value(&table)?;
            if let Some(fields) = value.as_object_mut() {
                fields.insert("score".into(), scores::TITLE.into());
                fields.insert("episode_return".into(), scores::EPISODE_RETURN_TITLE.into());
                fields.insert("true_return".into(), scores::TRUE_RETURN_TITLE.into());
                fields.insert("start_coverage".into(), scores::START_COVERAGE_TITLE.into());
                fields.insert("q_est_covered".into(), scores::Q_EST_COVERED_TITLE.into());
                fields.insert(
                    "true_return_covered".into(),
                    scores::TRUE_RETURN_COVERED_TITLE.into(),
                );
            }
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(())
}
