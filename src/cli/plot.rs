//! `pessimist plot`: figures of a run store, one per spec, in the layouts
//! of [`pessimist::present::plot`], written as SVG or PNG.

use super::report::{load, read_history, status};
use super::{PlotArgs, PlotBand, PlotLayout, PlotY};
use anyhow::{Context, bail};
use pessimist::eval::Metrics;
use pessimist::eval::landscape::Landscape;
use pessimist::experiment::RunStatus;
use pessimist::experiment::store::{self, LoadedRun};
use pessimist::present::figure::{self, Figure, Format, MAX_SIDE};
use pessimist::present::plot::{self, Band, CurveOptions, Curves, Metric, RunData};
use pessimist::present::scores;
use pessimist::text::sanitize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `--size WxH`, each side 64 to [`MAX_SIDE`] pixels.
pub fn parse_size(text: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .with_context(|| format!("--size `{text}`: expected WIDTHxHEIGHT, e.g. 1600x900"))?;
    let side = |s: &str, name: &str| -> anyhow::Result<u32> {
        let v: u32 = s
            .trim()
            .parse()
            .with_context(|| format!("--size `{text}`: bad {name}"))?;
        if !(64..=MAX_SIDE).contains(&v) {
            bail!("--size `{text}`: each side from 64 to {MAX_SIDE} pixels");
        }
        Ok(v)
    };
    Ok((side(w, "width")?, side(h, "height")?))
}

pub fn plot(args: &PlotArgs) -> anyhow::Result<()> {
    let layout = match (args.layout, &args.x) {
        (None | Some(PlotLayout::Sweep), Some(_)) => Some(PlotLayout::Sweep),
        (Some(PlotLayout::Sweep), None) => {
            bail!("--layout sweep needs --x KEY, the hyper-parameter on the x axis (e.g. --x beta)")
        }
        (Some(other), Some(_)) => bail!(
            "--x goes with --layout sweep, not --layout {}",
            format!("{other:?}").to_lowercase()
        ),
        (layout, None) => layout,
    };
    if args.pair.is_some() && layout != Some(PlotLayout::Landscape) {
        bail!("--pair goes with --layout landscape: the two observation components it draws");
    }
    let runs = load(&args.runs_dir, &args.select)?;
    match layout {
        Some(PlotLayout::Heatmap) => return heatmap(args, &runs),
        Some(PlotLayout::Landscape) => return landscape(args, &runs),
        _ => {}
    }
    let band = match (args.seeds, args.band) {
        (true, _) => Band::Seeds,
        (false, PlotBand::Std) => Band::Std,
        (false, PlotBand::Minmax) => Band::MinMax,
    };
    let mut by_spec: BTreeMap<&str, Vec<&LoadedRun>> = BTreeMap::new();
    for r in &runs {
        by_spec.entry(&r.config.spec).or_default().push(r);
    }
    let specs: Vec<&str> = by_spec.keys().copied().collect();
    let paths = targets(&args.out, &specs)?;
    for ((spec, runs), path) in by_spec.iter().zip(paths) {
        // Failed runs have no curve: their metrics are not read.
        let histories: Vec<Vec<Metrics>> = runs
            .iter()
            .map(|r| {
                if status(r) == RunStatus::Failed {
                    Vec::new()
                } else {
                    read_history(r)
                }
            })
            .collect();
        let data: Vec<RunData> = runs
            .iter()
            .zip(&histories)
            .map(|(r, history)| run_data(r, history))
            .collect();
        let figure = if let (Some(PlotLayout::Sweep), Some(key)) = (layout, &args.x) {
            let metric = match args.y {
                PlotY::Score => Metric::Score,
                PlotY::Return => Metric::Return,
            };
            plot::sweep(spec, &data, key, metric, band)?
        } else {
            let curves = match layout {
                Some(PlotLayout::Bear) => Curves::Bear,
                Some(PlotLayout::Overlay) => Curves::Overlay,
                _ => Curves::suggested(&data),
            };
            let options = CurveOptions {
                band,
                symlog: !args.linear,
                ..Default::default()
            };
            plot::curves(spec, &data, curves, options)?
        };
        write(&figure, &path, args.size, runs.len())?;
    }
    Ok(())
}

fn run_data<'a>(run: &'a LoadedRun, history: &'a [Metrics]) -> RunData<'a> {
    RunData {
        config: &run.config,
        status: status(run),
        history,
        behaviour: run
            .summary
            .as_ref()
            .and_then(|s| s.dataset_stats.as_ref())
            .and_then(scores::behavior_score),
    }
}

/// The one run the selection picks, for a `layout` that draws one.
fn one_run<'a>(runs: &'a [LoadedRun], layout: &str) -> anyhow::Result<&'a LoadedRun> {
    let [run] = runs else {
        bail!(
            "--layout {layout} draws one run, and the selection picks {}: narrow it with \
             --spec, --env, --algo, --dataset or --filter (e.g. --filter seed=0)",
            runs.len()
        );
    };
    Ok(run)
}

/// The heatmap of the one run the selection picks.
fn heatmap(args: &PlotArgs, runs: &[LoadedRun]) -> anyhow::Result<()> {
    let run = one_run(runs, "heatmap")?;
    let c = &run.config;
    let mdp = pessimist::mdp::envs::make(&c.env).with_context(|| {
        format!(
            "--layout heatmap needs a tabular environment, not {}",
            c.env
        )
    })?;
    let q = store::read_q(&run.dir).context("the run's Q table")?;
    let policy = store::read_policy(&run.dir).context("the run's policy")?;
    let unvisited = run
        .summary
        .as_ref()
        .and_then(|s| s.unvisited_states.clone())
        .unwrap_or_default();
    let history = read_history(run);
    let data = run_data(run, &history);
    let figure = plot::heatmap(&c.spec, &data, &mdp, &q, &policy, &unvisited)?;
    let path = targets(&args.out, &[&c.spec])?.remove(0);
    write(&figure, &path, args.size, 1)
}

/// The landscape of the one continuous run the selection picks, on the
/// pair of components `--pair` names.
fn landscape(args: &PlotArgs, runs: &[LoadedRun]) -> anyhow::Result<()> {
    let run = one_run(runs, "landscape")?;
    let landscape = store::read_landscape(&run.dir)?.with_context(|| {
        format!(
            "{}: no such file: the run has no landscape (continuous runs write one at \
             their first checkpoint; tabular runs have --layout heatmap)",
            store::landscape_file(&run.dir).display()
        )
    })?;
    let pair = match &args.pair {
        Some(text) => parse_pair(text, &landscape)?,
        None => landscape
            .slices
            .first()
            .map(|s| (s.x, s.y))
            .context("the landscape has no pair of components")?,
    };
    let history = read_history(run);
    let data = run_data(run, &history);
    let figure = plot::landscape(&run.config.spec, &data, &landscape, pair)?;
    let path = targets(&args.out, &[&run.config.spec])?.remove(0);
    write(&figure, &path, args.size, 1)
}

/// `--pair X,Y`: two distinct components of `landscape`, each an index or
/// a name, as (lower, higher) index.
fn parse_pair(text: &str, landscape: &Landscape) -> anyhow::Result<(usize, usize)> {
    let names: Vec<&str> = landscape.dims.iter().map(|d| d.name.as_str()).collect();
    let valid = || {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let component = |token: &str| -> anyhow::Result<usize> {
        let token = token.trim();
        token
            .parse::<usize>()
            .ok()
            .filter(|&i| i < names.len())
            .or_else(|| names.iter().position(|n| *n == token))
            .with_context(|| {
                format!(
                    "--pair `{}`: no component `{}` of {}; its components: {}",
                    sanitize(text),
                    sanitize(token),
                    landscape.env,
                    valid()
                )
            })
    };
    let (a, b) = text
        .split_once(',')
        .with_context(|| format!("--pair `{}`: expected X,Y, e.g. 0,1", sanitize(text)))?;
    let (a, b) = (component(a)?, component(b)?);
    if a == b {
        bail!("--pair `{}`: two different components", sanitize(text));
    }
    Ok((a.min(b), a.max(b)))
}

/// A spec's name as a file name: what is not a letter, digit, `.`, `-` or
/// `_` becomes `_`.
fn file_name(spec: &str) -> String {
    let name: String = spec
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.trim_matches('.').is_empty() {
        "spec".into()
    } else {
        name
    }
}

/// The file of each spec's figure: `--out` itself for one spec, `{spec}`
/// filled in, or `SPEC.svg` in the directory `--out`.
fn targets(out: &Path, specs: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let text = out.to_string_lossy();
    let extension = |p: &Path| p.extension().map(|e| e.to_string_lossy().to_lowercase());
    let check = |p: &Path| match extension(p).as_deref() {
        Some("svg" | "png") => Ok(()),
        other => bail!(
            "{}: a figure is .svg or .png{}",
            p.display(),
            other.map_or(String::new(), |e| format!(", not .{e}"))
        ),
    };
    if text.contains("{spec}") {
        let paths: Vec<PathBuf> = specs
            .iter()
            .map(|s| PathBuf::from(text.replace("{spec}", &file_name(s))))
            .collect();
        for p in &paths {
            check(p)?;
        }
        return Ok(paths);
    }
    if matches!(extension(out).as_deref(), Some("svg" | "png")) && !out.is_dir() {
        if let [_] = specs {
            return Ok(vec![out.to_path_buf()]);
        }
        bail!(
            "{} specs are selected ({}): --out takes a directory (one SPEC.svg each) or a \
             pattern with {{spec}} (figures/{{spec}}.svg), or pick one with --spec",
            specs.len(),
            sanitize(&specs.join(", "))
        );
    }
    if extension(out).is_some() && !out.is_dir() {
        check(out)?;
    }
    Ok(specs
        .iter()
        .map(|s| out.join(format!("{}.svg", file_name(s))))
        .collect())
}

/// Draws `figure` in the format `path` names and writes it there,
/// creating its directory.
fn write(
    figure: &Figure,
    path: &Path,
    size: Option<(u32, u32)>,
    runs: usize,
) -> anyhow::Result<()> {
    for note in &figure.notes {
        eprintln!("{}", sanitize(note));
    }
    let bytes = figure::render(figure, Format::of(path), size)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    pessimist::fsio::open_for_writing(path, &options)
        .and_then(|mut file| std::io::Write::write_all(&mut file, &bytes))
        .with_context(|| format!("writing {}", path.display()))?;
    let (w, h) = figure::canvas_size(figure, size)?;
    eprintln!(
        "wrote {} ({runs} run{}, {w}x{h})",
        path.display(),
        if runs == 1 { "" } else { "s" }
    );
    Ok(())
}
