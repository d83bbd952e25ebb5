//! `pessimist report` (the score table) over a run store, and the
//! selection of runs it shares with `pessimist plot`.

use super::{ReportArgs, ReportBy, ReportFormat, SelectArgs};
use anyhow::bail;
use pessimist::eval::Metrics;
use pessimist::eval::controller::controller_scores;
use pessimist::experiment::dataset_cache::{self, Usage};
use pessimist::experiment::store::{self, LoadedRun, Store};
use pessimist::experiment::{RunConfig, RunId, RunStatus, spec};
use pessimist::present::Labels;
use pessimist::present::ScoreTable;
use pessimist::present::scores::{self, Grouped, RunResult};
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
    let specs = resolve_specs(dir, &select.spec, &runs)?;
    let runs = runs
        .into_iter()
        .map(|run| listed_under_selected_spec(run, &specs))
        .collect::<Vec<_>>();
    let selection = Selection {
        specs: specs.into_iter().map(|s| s.name).collect(),
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
        .map(|r| selection.matches(&r.config, &labels[&*r.config.spec], status(r)))
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

/// A `--spec` value resolved: the spec's name and, where its file was
/// found, the runs it lists.
#[derive(Clone)]
struct SelectedSpec {
    name: String,
    ids: BTreeSet<RunId>,
}

/// A run two specs list is trained once and stored under the spec that
/// stored it first. Selected by the other spec (and not by its own), it is
/// reported under the one selected, as the dashboard lists it under each.
fn listed_under_selected_spec(mut run: LoadedRun, specs: &[SelectedSpec]) -> LoadedRun {
    if !specs.iter().any(|s| *s.name == *run.config.spec) {
        let id = run.config.id();
        if let Some(spec) = specs.iter().find(|s| s.ids.contains(&id)) {
            run.config.spec = spec.name.as_str().into();
        }
    }
    run
}

/// `--spec` values as specs: the spec file beside the store
/// (`experiments/*.toml`) that declares the value as its `name`, with the
/// runs it lists; else a name in the store, for itself; else a spec file,
/// a path or a stem in that directory, for the name it declares and the
/// runs it lists.
fn resolve_specs(
    store: &Path,
    specs: &[String],
    runs: &[LoadedRun],
) -> anyhow::Result<Vec<SelectedSpec>> {
    let names: BTreeSet<&str> = runs.iter().map(|r| &*r.config.spec).collect();
    let experiments = store
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(|p| p.join("experiments")));
    // The spec's own reading: its `name`, or its file stem without one.
    let listed = |file: &Path| -> Result<SelectedSpec, spec::SpecError> {
        let spec = spec::load(file)?;
        Ok(SelectedSpec {
            name: spec.name,
            ids: spec.runs.iter().map(RunConfig::id).collect(),
        })
    };
    // Every spec file beside the store, read once and only when a name is
    // not its own file's stem.
    let all_beside: std::cell::OnceCell<Vec<SelectedSpec>> = std::cell::OnceCell::new();
    let declaring = |name: &str| -> Option<SelectedSpec> {
        let dir = experiments.as_ref()?;
        let beside = dir.join(format!("{name}.toml"));
        if let Some(spec) = beside.is_file().then(|| listed(&beside).ok()).flatten()
            && spec.name == name
        {
            return Some(spec);
        }
        all_beside
            .get_or_init(|| {
                let files = std::fs::read_dir(dir).into_iter().flatten().flatten();
                files
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                    .filter_map(|p| listed(&p).ok())
                    .collect()
            })
            .iter()
            .find(|s| s.name == name)
            .cloned()
    };
    specs
        .iter()
        .map(|spec| {
            if let Some(declared) = declaring(spec) {
                return Ok(declared);
            }
            if names.contains(spec.as_str()) {
                return Ok(SelectedSpec {
                    name: spec.clone(),
                    ids: BTreeSet::new(),
                });
            }
            let beside = experiments.as_ref().map(|e| e.join(format!("{spec}.toml")));
            let candidates = [Some(std::path::PathBuf::from(spec)), beside];
            match candidates.into_iter().flatten().find(|p| p.is_file()) {
                Some(file) => Ok(listed(&file)?),
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

/// A run's eval points, thinned to at most [`store::MAX_POINTS`] and the
/// latest; unreadable ones are reported on stderr and none kept.
pub(super) fn read_history(run: &LoadedRun) -> Vec<Metrics> {
    store::read_metrics(&run.dir).unwrap_or_else(|e| {
        warn_skipped(&e);
        Vec::new()
    })
}

fn warn_skipped(e: &pessimist::Error) {
    eprintln!(
        "warning: skipped the metrics of a run: {}",
        sanitize(&e.to_string())
    );
}

/// One group's score table (a spec's or an environment's runs); a diverged
/// run whose last point has no finite score is scored by an earlier one,
/// so only then are its metrics read.
fn score_table(runs: &[&LoadedRun]) -> ScoreTable {
    let histories: Vec<std::cell::OnceCell<Vec<Metrics>>> = runs
        .iter()
        .map(|_| std::cell::OnceCell::default())
        .collect();
    let mut table = ScoreTable::build(runs.iter().zip(&histories).map(|(r, history)| {
        let summary = r.summary.as_ref();
        let status = status(r);
        RunResult {
            id: r.config.id(),
            config: &r.config,
            status,
            point: scores::scoring_point(status, summary.and_then(|s| s.last.as_ref()), || {
                // Only the point that scores is kept (a thinned history may
                // have dropped it).
                history
                    .get_or_init(|| {
                        store::last_metrics_where(&r.dir, scores::has_result)
                            .unwrap_or_else(|e| {
                                warn_skipped(&e);
                                None
                            })
                            .into_iter()
                            .collect()
                    })
                    .as_slice()
            }),
            behavior: summary
                .and_then(|s| s.dataset_stats.as_ref())
                .and_then(scores::behavior_score),
        }
    }))
    .with_controllers(&controller_scores(scores::controllers_of(
        runs.iter().map(|r| &r.config),
    )));
    let envs: BTreeSet<&str> = runs.iter().map(|r| &*r.config.env).collect();
    if envs.len() == 1 {
        // One environment: naming it on every row says nothing.
        table.drop_environment_names();
    }
    table
}

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let runs = load(&args.runs_dir, &args.select)?;
    // One table per group, each labelled over its own runs, so one spec's
    // keys never show as `key=-` in another's columns; an environment's
    // group is named as the dashboard names it.
    let env_labels = Labels::new(runs.iter().map(|r| &r.config));
    let mut groups: BTreeMap<String, Vec<&LoadedRun>> = BTreeMap::new();
    for r in &runs {
        let group = match args.by {
            ReportBy::Spec => r.config.spec.to_string(),
            ReportBy::Env => env_labels.env(&r.config),
        };
        groups.entry(group).or_default().push(r);
    }
    let tables = Grouped(
        groups
            .into_iter()
            .map(|(group, runs)| (group, score_table(&runs)))
            .collect(),
    );
    let cache = Store::new(&args.runs_dir).dataset_cache().usage();
    match args.format {
        // Names come from files: no escape sequence reaches the terminal.
        ReportFormat::Md => {
            print!("{}", sanitize(&tables.to_markdown()));
            println!("\n{}", cache_line(&cache));
        }
        // Records only: a line of another shape would break CSV readers.
        ReportFormat::Csv => print!("{}", sanitize(&tables.to_csv())),
        ReportFormat::Latex => {
            print!("{}", sanitize(&tables.to_latex()));
            println!("% {}", cache_line(&cache));
        }
        ReportFormat::Json => {
            let mut each = Vec::new();
            for (group, table) in &tables.0 {
                let mut value = serde_json::to_value(table)?;
                if let Some(fields) = value.as_object_mut() {
                    fields.insert("group".into(), group.as_str().into());
                }
                each.push(value);
            }
            let mut value = match each.len() {
                1 => each.remove(0),
                _ => serde_json::json!({ "tables": each }),
            };
            // Which number is which, beside the numbers.
            if let Some(fields) = value.as_object_mut() {
                fields.insert("dataset_cache".into(), serde_json::to_value(cache)?);
                for (key, text) in [
                    ("score", scores::TITLE),
                    ("episode_return", scores::EPISODE_RETURN_TITLE),
                    ("true_return", scores::TRUE_RETURN_TITLE),
                    ("start_coverage", scores::START_COVERAGE_TITLE),
                    ("q_est_covered", scores::Q_EST_COVERED_TITLE),
                    ("true_return_covered", scores::TRUE_RETURN_COVERED_TITLE),
                    ("std", scores::SPREAD),
                    ("below_best", scores::BELOW_BEST),
                    ("se", scores::NOISE),
                    ("controllers", scores::CONTROLLER),
                ] {
                    fields.insert(key.into(), text.into());
                }
            }
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(())
}

/// What the store's dataset cache holds: `dataset cache: 150 entries,
/// 253.1 MiB of 1024.0 MiB`.
fn cache_line(cache: &Usage) -> String {
    let mib = |bytes: u64| bytes as f64 / f64::from(1u32 << 20);
    format!(
        "dataset cache ({}): {} entries, {:.1} MiB of {:.1} MiB",
        dataset_cache::DIR,
        cache.entries,
        mib(cache.bytes),
        mib(cache.limit)
    )
}
