//! `pessimist report` (the score table) and `pessimist plot` (the
//! overestimation figure) over a run store.

use super::{PlotArgs, ReportArgs, ReportFormat};
use anyhow::bail;
use pessimist::experiment::RunStatus;
use pessimist::experiment::store::{self, LoadedRun, Store};
use pessimist::present::Labels;
use pessimist::present::ScoreTable;
use pessimist::present::figure::{self, Curve};
use pessimist::present::scores;
use pessimist::text::sanitize;
use std::collections::BTreeSet;
use std::path::Path;

/// Every readable run, once (one config in two specs is one run);
/// unreadable ones are reported on stderr and skipped.
fn load(dir: &Path) -> anyhow::Result<Vec<LoadedRun>> {
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
    Ok(runs
        .into_iter()
        .filter(|r| seen.insert(r.config.id()))
        .collect())
}

pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    let runs = load(&args.runs_dir)?;
    let mut table = ScoreTable::build(runs.iter().map(|r| {
        let summary = r.summary.as_ref();
        (
            &r.config,
            summary.map_or(RunStatus::Queued, |s| s.status),
            summary.and_then(|s| s.last.as_ref()),
        )
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
            }
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(())
}

pub fn plot(args: PlotArgs) -> anyhow::Result<()> {
    let runs = load(&args.runs_dir)?;
    let histories: Vec<_> = runs
        .iter()
        .map(|r| {
            store::read_metrics(&r.dir).unwrap_or_else(|e| {
                eprintln!(
                    "warning: skipped the metrics of a run: {}",
                    sanitize(&e.to_string())
                );
                Vec::new()
            })
        })
        .collect();
    let labels = Labels::new(runs.iter().map(|r| &r.config));
    let curves: Vec<Curve> = runs
        .iter()
        .zip(&histories)
        .map(|(r, h)| Curve {
            label: format!("{} · {}", labels.algo(&r.config), labels.dataset(&r.config)),
            history: h,
        })
        .collect();
    let envs: BTreeSet<String> = runs.iter().map(|r| labels.env(&r.config)).collect();
    let title = format!(
        "Q estimate vs the discounted return J(π) — {}",
        envs.into_iter().collect::<Vec<_>>().join(", ")
    );
    figure::write_svg(&curves, &title, &args.out, figure::FigureOptions::default())?;
    eprintln!("wrote {} ({} runs)", args.out.display(), runs.len());
    Ok(())
}
