//! `pessimist report` (the score table) and `pessimist plot` (the
//! overestimation figure) over a run store.

use super::{PlotArgs, ReportArgs, ReportFormat};
use anyhow::bail;
use pessimist::experiment::RunStatus;
use pessimist::experiment::figure::{self, Curve};
use pessimist::experiment::report::ScoreTable;
use pessimist::experiment::store::{self, LoadedRun, Store};
use std::path::Path;

/// Every readable run; unreadable ones are reported on stderr and skipped.
fn load(dir: &Path) -> anyhow::Result<Vec<LoadedRun>> {
    if !dir.is_dir() {
        bail!(
            "{}: no such run store (a directory written by `pessimist run`)",
            dir.display()
        );
    }
    let (runs, errors) = Store::new(dir).load_all()?;
    for e in errors {
        eprintln!("warning: skipped a run: {e}");
    }
    Ok(runs)
}

pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    let runs = load(&args.runs_dir)?;
    let table = ScoreTable::build(runs.iter().map(|r| {
        let summary = r.summary.as_ref();
        (
            &r.config,
            summary.map_or(RunStatus::Queued, |s| s.status),
            summary.and_then(|s| s.last.as_ref()),
        )
    }));
    match args.format {
        ReportFormat::Md => print!("{}", table.to_markdown()),
        ReportFormat::Csv => print!("{}", table.to_csv()),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&table)?),
    }
    Ok(())
}

pub fn plot(args: PlotArgs) -> anyhow::Result<()> {
    let runs = load(&args.runs_dir)?;
    let histories: Vec<_> = runs
        .iter()
        .map(|r| {
            store::read_metrics(&r.dir).unwrap_or_else(|e| {
                eprintln!("warning: skipped the metrics of a run: {e}");
                Vec::new()
            })
        })
        .collect();
    let curves: Vec<Curve> = runs
        .iter()
        .zip(&histories)
        .map(|(r, h)| Curve {
            label: format!("{} · {}", r.config.algo_label(), r.config.dataset.label()),
            history: h,
        })
        .collect();
    let envs: std::collections::BTreeSet<&str> =
        runs.iter().map(|r| r.config.env.as_str()).collect();
    let title = format!(
        "Q estimate vs true return — {}",
        envs.into_iter().collect::<Vec<_>>().join(", ")
    );
    figure::write_svg(&curves, &title, &args.out)?;
    eprintln!("wrote {} ({} runs)", args.out.display(), runs.len());
    Ok(())
}
