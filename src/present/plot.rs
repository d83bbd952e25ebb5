//! What goes in a figure: the layouts of `pessimist plot` (and of the
//! dashboard's export), built from runs' configs and histories into a
//! [`Figure`] that [`figure`](super::figure) draws. Environments never
//! share an axis: each gets its own row of panels.
//!
//! - [`curves`], layout `bear` (one algorithm, the BEAR figure: the return
//!   J(π) and its Q estimate side by side, one line per dataset) or
//!   `overlay` (algorithms compared, one line per algorithm, one row per
//!   environment and dataset);
//! - [`sweep`]: a swept hyper-parameter on x against the final score or
//!   J(π), one line per algorithm (and dataset): ATAC's β curve;
//! - [`heatmap`]: one run's max_a Q(s,a) − V^π(s) per state, on the grid;
//! - [`landscape`]: a continuous run's max_a Q over a pair of observation
//!   components, beside the data's density and the policy's visitation.
//!
//! Lines are means over seeds with a band ([`Band`]).

use super::Labels;
use super::figure::{
    Axis, Colours, Content, DIVERGED, Entry, Extent, Field, Figure, Grid, LEFT_CAPTION, Lines,
    Panel, Point, RIGHT_CAPTION, Row, Scale, Series,
};
use super::labels::natural_order;
use super::scale::{Ema, running_mean};
use super::scores::scoring_point;
use crate::error::{Error, Result};
use crate::eval::Metrics;
use crate::eval::landscape::Landscape;
use crate::experiment::{RunConfig, RunStatus};
use crate::mdp::{Policy, TabularMdp, solve};
use crate::params::ParamValue;
use ndarray::Array2;
use std::collections::{BTreeMap, BTreeSet};

/// One run as a figure uses it.
#[derive(Debug, Clone, Copy)]
pub struct RunData<'a> {
    pub config: &'a RunConfig,
    pub status: RunStatus,
    pub history: &'a [Metrics],
    /// Its dataset's behaviour score ([`super::scores::behavior_score`]).
    pub behaviour: Option<f64>,
}

/// What spreads around the mean over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Band {
    /// ± one sample standard deviation.
    #[default]
    Std,
    /// From the lowest seed to the highest.
    MinMax,
    /// No band: each seed as a thin line.
    Seeds,
}

impl Band {
    /// What the subtitle says about the lines, for groups of up to `seeds`.
    fn describe(self, seeds: usize) -> String {
        if seeds <= 1 {
            return "one seed per line".into();
        }
        match self {
            Band::Std => format!("lines: mean over {seeds} seeds; bands: ± one sample std"),
            Band::MinMax => format!("lines: mean over {seeds} seeds; bands: min–max over seeds"),
            Band::Seeds => format!("lines: mean over {seeds} seeds; thin lines: each seed"),
        }
    }
}

/// Which curves figure: the BEAR figure or algorithms compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curves {
    /// One line per dataset, a row per environment (and algorithm).
    Bear,
    /// One line per algorithm, a row per environment (and dataset).
    Overlay,
}

impl Curves {
    /// What a set of runs suggests: the BEAR figure for one algorithm.
    pub fn suggested(runs: &[RunData]) -> Curves {
        let labels = Labels::new(runs.iter().map(|r| r.config));
        let algos: BTreeSet<String> = runs.iter().map(|r| labels.algo(r.config)).collect();
        if algos.len() <= 1 {
            Curves::Bear
        } else {
            Curves::Overlay
        }
    }
}

/// How curves are drawn: `plot`'s flags, or the dashboard chart's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurveOptions {
    pub band: Band,
    /// Symmetric-log y axes (else linear).
    pub symlog: bool,
    /// x is training seconds instead of iterations.
    pub wall_time: bool,
    /// Exponential moving average weight of the curves (0: none).
    pub smoothing: f64,
}

impl Default for CurveOptions {
    fn default() -> Self {
        CurveOptions {
            band: Band::Std,
            symlog: true,
            wall_time: false,
            smoothing: 0.0,
        }
    }
}

/// The final value a sweep plots per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// D4RL's normalized score of the last eval point.
    #[default]
    Score,
    /// Its discounted return J(π).
    Return,
}

impl Metric {
    fn of(self, m: &Metrics) -> f64 {
        match self {
            Metric::Score => m.normalized_score,
            Metric::Return => m.true_return,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Metric::Score => "normalized score (D4RL)",
            Metric::Return => "discounted return J(π)",
        }
    }
}

/// The mean of `values` and its band.
fn spread(values: &[f64], band: Band) -> (f64, f64, f64) {
    let mean = values
        .iter()
        .enumerate()
        .fold(0.0, |m, (i, v)| running_mean(m, *v, i + 1));
    match band {
        Band::Std if values.len() > 1 => {
            // Scaled, so values near f64::MAX square without overflow.
            let scale = values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let sum: f64 = values
                .iter()
                .map(|v| (v / scale - mean / scale).powi(2))
                .sum();
            let sd = scale * (sum / (values.len() - 1) as f64).sqrt();
            (
                mean,
                (mean - sd).clamp(f64::MIN, f64::MAX),
                (mean + sd).clamp(f64::MIN, f64::MAX),
            )
        }
        Band::MinMax => (
            mean,
            values.iter().copied().fold(f64::INFINITY, f64::min),
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
        _ => (mean, mean, mean),
    }
}

/// `failed, no curve: fqi · medium 1k (2 runs)` per group of failed runs.
fn failure_notes(runs: &[RunData], labels: &Labels) -> Vec<String> {
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.status == RunStatus::Failed) {
        let label = format!("{} · {}", labels.algo(r.config), labels.dataset(r.config));
        *failures.entry(label).or_default() += 1;
    }
    failures
        .iter()
        .map(|(label, n)| format!("failed, no curve: {label} ({n} run{})", plural(*n)))
        .collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `a · b`, or `a` when `b` is not needed.
fn joined(a: String, b: Option<String>) -> String {
    match b {
        Some(b) => format!("{a} · {b}"),
        None => a,
    }
}

/// A legend entry's index and its runs in one row.
type Group<'r, 'a> = (usize, Vec<&'r RunData<'a>>);

/// Per x value (keyed by its bits): the value and the runs' results there.
type AtX = BTreeMap<u64, (f64, Vec<f64>)>;

/// Groups of runs by (row, legend entry), rows and entries in natural
/// order; the legend and per row the entries it has.
struct Groups<'r, 'a> {
    legend: Vec<String>,
    rows: Vec<(String, Vec<Group<'r, 'a>>)>,
}

impl<'r, 'a> Groups<'r, 'a> {
    fn new(runs: impl Iterator<Item = (String, String, &'r RunData<'a>)>) -> Self {
        let mut by: BTreeMap<String, BTreeMap<String, Vec<&'r RunData<'a>>>> = BTreeMap::new();
        for (row, entry, run) in runs {
            by.entry(row)
                .or_default()
                .entry(entry)
                .or_default()
                .push(run);
        }
        let mut legend: Vec<String> = by
            .values()
            .flat_map(|entries| entries.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        legend.sort_by(|a, b| natural_order(a, b));
        let mut rows: Vec<(String, Vec<Group>)> = by
            .into_iter()
            .map(|(row, entries)| {
                let mut entries: Vec<(usize, Vec<&RunData>)> = entries
                    .into_iter()
                    .map(|(e, runs)| (legend.iter().position(|l| *l == e).unwrap_or(0), runs))
                    .collect();
                entries.sort_by_key(|e| e.0);
                (row, entries)
            })
            .collect();
        rows.sort_by(|a, b| natural_order(&a.0, &b.0));
        Groups { legend, rows }
    }

    /// The most runs in one group: the seeds a line averages.
    fn seeds(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|(_, entries)| entries.iter().map(|e| e.1.len()))
            .max()
            .unwrap_or(0)
    }
}

/// The curve of `value` over a group's eval points with both the return
/// and the estimate finite (so a diverged run's two curves end together),
/// and each seed's own line with `Band::Seeds`.
fn curve(
    runs: &[&RunData],
    (value, se): Values,
    options: CurveOptions,
    cross: bool,
    entry: usize,
) -> Series {
    let usable = |m: &&Metrics| m.true_return.is_finite() && m.q_est.is_finite();
    let x = |m: &Metrics| {
        if options.wall_time {
            m.wall_time
        } else {
            m.iteration as f64
        }
    };
    let mut at: BTreeMap<u64, (f64, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in runs {
        for m in r.history.iter().filter(usable) {
            let p = at.entry(m.iteration).or_default();
            p.1.push(value(m));
            p.2.push(se(m));
            p.0 = running_mean(p.0, x(m), p.1.len());
        }
    }
    let ema = || Ema::new(options.smoothing);
    let (mut y, mut lo, mut hi) = (ema(), ema(), ema());
    let points = at
        .into_values()
        .map(|(x, values, ses)| {
            let (mean, l, h) = spread(&values, options.band);
            let (l, h) = with_noise((mean, l, h), &ses);
            Point {
                x,
                y: y.next(mean),
                lo: lo.next(l),
                hi: hi.next(h),
            }
        })
        .collect();
    let seeds = if options.band == Band::Seeds && runs.len() > 1 {
        runs.iter()
            .map(|r| {
                let mut e = ema();
                r.history
                    .iter()
                    .filter(usable)
                    .map(|m| (x(m), e.next(value(m))))
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    Series {
        entry,
        points,
        seeds,
        cross,
    }
}

/// A curve's metric and its Monte-Carlo standard error (NaN: exact).
type Values = (fn(&Metrics) -> f64, fn(&Metrics) -> f64);

/// How many standard errors a Monte-Carlo truth's band spans each way:
/// a 95% interval of the evaluation alone.
pub const NOISE_BAND: f64 = 1.96;
/// What that band is, for the figure's notes.
const NOISE_NOTE: &str = "J(π) is Monte-Carlo: its band also spans ±1.96 standard errors \
     of the evaluation (the seeds' mean), a 95% interval of the rollouts' noise";

/// The band `(l, h)` around `mean` widened to ±[`NOISE_BAND`] times the
/// mean of `ses` where the truth is Monte-Carlo; unchanged where exact
/// (NaN standard errors). The one rule of J's band, for the exported
/// figure and the dashboard's chart alike.
pub fn with_noise((mean, l, h): (f64, f64, f64), ses: &[f64]) -> (f64, f64) {
    let se = ses.iter().sum::<f64>() / ses.len() as f64;
    if se.is_finite() {
        (l.min(mean - NOISE_BAND * se), h.max(mean + NOISE_BAND * se))
    } else {
        (l, h)
    }
}

/// The BEAR figure or algorithms compared: per row (environment, and the
/// algorithm or dataset that is not on the legend), the return J(π) left
/// and q_est right. Diverged runs form their own line, ended by `×`;
/// failed runs are named in the notes.
pub fn curves(
    spec: &str,
    runs: &[RunData],
    layout: Curves,
    options: CurveOptions,
) -> Result<Figure> {
    let labels = Labels::new(runs.iter().map(|r| r.config));
    let monte_carlo = runs
        .iter()
        .any(|r| r.history.iter().any(|m| m.true_return_se.is_finite()));
    let distinct = |f: &dyn Fn(&RunConfig) -> String| {
        runs.iter().map(|r| f(r.config)).collect::<BTreeSet<_>>()
    };
    let algos = distinct(&|c| labels.algo(c));
    let datas = distinct(&|c| labels.data(c));
    let drawn = runs.iter().filter(|r| r.status != RunStatus::Failed);
    let groups = Groups::new(drawn.map(|r| {
        let c = r.config;
        let (algo, data) = (labels.algo(c), labels.data(c));
        let (row, entry) = match layout {
            Curves::Bear => (
                joined(labels.env(c), (algos.len() > 1).then_some(algo)),
                data,
            ),
            Curves::Overlay => (
                joined(labels.env(c), (datas.len() > 1).then_some(data)),
                algo,
            ),
        };
        let diverged = if r.status == RunStatus::Diverged {
            DIVERGED
        } else {
            ""
        };
        (row, format!("{entry}{diverged}"), r)
    }));
    let x = Axis {
        desc: if options.wall_time {
            "training seconds"
        } else {
            "iteration"
        }
        .into(),
        scale: Scale::Linear,
    };
    let y = |name: &str| Axis {
        desc: if options.symlog {
            format!("{name} (symlog)")
        } else {
            name.to_string()
        },
        scale: if options.symlog {
            Scale::Symlog(1.0)
        } else {
            Scale::Linear
        },
    };
    let rows: Vec<Row> = groups
        .rows
        .iter()
        .map(|(title, entries)| {
            let panel = |caption: &str, name: &str, value: Values| Panel {
                caption: caption.into(),
                content: Content::Lines(Lines {
                    x: x.clone(),
                    y: y(name),
                    series: entries
                        .iter()
                        .map(|(entry, runs)| {
                            let cross = groups.legend[*entry].ends_with(DIVERGED);
                            curve(runs, value, options, cross, *entry)
                        })
                        .collect(),
                }),
            };
            Row {
                title: title.clone(),
                panels: vec![
                    panel(
                        LEFT_CAPTION,
                        "discounted J(π)",
                        (|m| m.true_return, |m| m.true_return_se),
                    ),
                    // What the learner believes has no sampling error.
                    panel(
                        RIGHT_CAPTION,
                        "Q estimate of J(π)",
                        (|m| m.q_est, |_| f64::NAN),
                    ),
                ],
            }
        })
        .collect();
    let no_points = rows
        .iter()
        .flat_map(|r| &r.panels)
        .all(|p| match &p.content {
            Content::Lines(l) => l.series.iter().all(|s| s.points.is_empty()),
            Content::Grid(_) | Content::Field(_) => false,
        });
    if no_points {
        return Err(Error::Invalid(format!(
            "{spec}: no eval points to plot yet"
        )));
    }
    let title = match layout {
        Curves::Bear => format!(
            "{spec} — {}: the return J(π) and its Q estimate per dataset",
            algos.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        Curves::Overlay => {
            format!("{spec} — algorithms compared: the return J(π) and its Q estimate")
        }
    };
    Ok(Figure {
        title,
        subtitle: options.band.describe(groups.seeds()),
        rows,
        legend: groups
            .legend
            .into_iter()
            .map(|label| Entry {
                label,
                dashed: false,
            })
            .collect(),
        notes: failure_notes(runs, &labels)
            .into_iter()
            .chain(monte_carlo.then(|| NOISE_NOTE.to_string()))
            .collect(),
    })
}

/// The keys every selected run's algorithm sets to a number that differs
/// among them: what `--x` may sweep.
pub fn numeric_keys(runs: &[RunData]) -> Vec<String> {
    let mut values: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for r in runs {
        for (k, v) in r.config.params.iter() {
            if let ParamValue::Number(x) = v {
                values.entry(k).or_default().insert(x.to_bits());
            }
        }
    }
    values
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| k.to_string())
        .collect()
}

/// Where x values sit: log when they are positive and span more than a
/// decade, symlog when 0 is among them (β = 0 beside 1…10⁴), else linear.
fn x_scale(xs: &[f64]) -> Scale {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let smallest_positive = xs
        .iter()
        .copied()
        .filter(|x| *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    if lo > 0.0 && hi / lo > 10.0 {
        Scale::Log
    } else if lo == 0.0 && smallest_positive.is_finite() && hi / smallest_positive > 10.0 {
        Scale::Symlog(smallest_positive)
    } else {
        Scale::Linear
    }
}

/// A swept hyper-parameter `key` on x against the final `metric` (mean
/// over seeds, with its band), one line per algorithm and dataset, one
/// panel per environment. Runs without `key` (bc beside atac) are flat
/// dashed references, and so is the behaviour's score.
pub fn sweep(
    spec: &str,
    runs: &[RunData],
    key: &str,
    metric: Metric,
    band: Band,
) -> Result<Figure> {
    // One point per x value: seeds are a band here, never lines of their own.
    let band = if band == Band::Seeds { Band::Std } else { band };
    let mut xs: Vec<Option<f64>> = Vec::with_capacity(runs.len());
    for r in runs {
        xs.push(match r.config.params.get(key) {
            Some(ParamValue::Number(x)) => Some(*x),
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "--x {key}: not a number ({} = {other} in {})",
                    key, r.config.algo
                )));
            }
            None => None,
        });
    }
    if xs.iter().all(Option::is_none) {
        return Err(Error::Invalid(format!(
            "--x {key}: no selected run has `{key}` (numeric keys that vary: {})",
            list(&numeric_keys(runs))
        )));
    }
    // Labelled without the swept key: it is the x axis, not a line.
    let stripped: Vec<RunConfig> = runs
        .iter()
        .map(|r| {
            let mut c = r.config.clone();
            std::sync::Arc::make_mut(&mut c.params).remove(key);
            c
        })
        .collect();
    let labels = Labels::new(&stripped);
    let several_datasets = stripped
        .iter()
        .map(|c| labels.data(c))
        .collect::<BTreeSet<_>>()
        .len()
        > 1;
    let entry = |c: &RunConfig| joined(labels.algo(c), several_datasets.then(|| labels.data(c)));
    let mut notes = failure_notes(runs, &labels);
    let mut missing: BTreeMap<String, usize> = BTreeMap::new();
    // (row, entry) → x → values; references: (row, entry) → values.
    let mut curves: BTreeMap<(String, String), AtX> = BTreeMap::new();
    let mut flat: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut behaviours: BTreeMap<(String, String), BTreeMap<String, f64>> = BTreeMap::new();
    for ((r, c), x) in runs.iter().zip(&stripped).zip(&xs) {
        if r.status == RunStatus::Failed {
            continue;
        }
        let row = labels.env(c);
        let value = scoring_point(r.status, r.history.last(), || r.history)
            .map(|m| metric.of(m))
            .filter(|v| v.is_finite());
        let Some(value) = value else {
            *missing.entry(entry(c)).or_default() += 1;
            continue;
        };
        match x {
            Some(x) => {
                let at = curves
                    .entry((row.clone(), entry(c)))
                    .or_default()
                    .entry(canonical_bits(*x))
                    .or_insert((*x, Vec::new()));
                at.1.push(value);
            }
            None => flat.entry((row.clone(), entry(c))).or_default().push(value),
        }
        if let (Metric::Score, Some(b)) = (metric, r.behaviour) {
            let name = joined("behaviour".into(), several_datasets.then(|| labels.data(c)));
            // One value per dataset (its seed), however many runs share it.
            behaviours
                .entry((row, name))
                .or_default()
                .insert(format!("{:?}", c.dataset), b);
        }
    }
    for (label, n) in missing {
        notes.push(format!(
            "no final {}: {label} ({n} run{})",
            metric.name(),
            plural(n)
        ));
    }
    let all_x: Vec<f64> = curves
        .values()
        .flat_map(|at| at.values().map(|v| v.0))
        .collect();
    if all_x.is_empty() {
        return Err(Error::Invalid(format!(
            "{spec}: no run with `{key}` has a final {} yet",
            metric.name()
        )));
    }
    let (x_lo, x_hi) = all_x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        });
    let flat = flat.into_iter().chain(
        behaviours
            .into_iter()
            .map(|(k, v)| (k, v.into_values().collect())),
    );
    let mut entries: Vec<(String, bool)> = curves
        .keys()
        .map(|k| (k.1.clone(), false))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut references: Vec<(String, bool)> = Vec::new();
    let mut lines: BTreeMap<String, Vec<(String, Vec<Point>, bool)>> = BTreeMap::new();
    for ((row, label), at) in curves {
        let points = at
            .into_values()
            .map(|(x, values)| {
                let (y, lo, hi) = spread(&values, band);
                Point { x, y, lo, hi }
            })
            .collect();
        lines.entry(row).or_default().push((label, points, false));
    }
    for ((row, label), values) in flat {
        // A reference is its mean alone: bands across the whole axis would
        // hide the curves.
        let (y, _, _) = spread(&values, band);
        let points = [x_lo, x_hi].map(|x| Point { x, y, lo: y, hi: y }).to_vec();
        if !references.iter().any(|e| e.0 == label) {
            references.push((label.clone(), true));
        }
        lines.entry(row).or_default().push((label, points, true));
    }
    entries.sort_by(|a, b| natural_order(&a.0, &b.0));
    references.sort_by(|a, b| natural_order(&a.0, &b.0));
    entries.extend(references);
    let mut rows: Vec<Row> = lines
        .into_iter()
        .map(|(title, series)| Row {
            title,
            panels: vec![Panel {
                caption: String::new(),
                content: Content::Lines(Lines {
                    x: Axis {
                        desc: key.to_string(),
                        scale: x_scale(&all_x),
                    },
                    y: Axis {
                        desc: format!("final {}", metric.name()),
                        scale: Scale::Linear,
                    },
                    series: series
                        .into_iter()
                        .map(|(label, points, dashed)| Series {
                            entry: entries
                                .iter()
                                .position(|e| e.0 == label && e.1 == dashed)
                                .unwrap_or(0),
                            points,
                            seeds: Vec::new(),
                            cross: false,
                        })
                        .collect(),
                }),
            }],
        })
        .collect();
    rows.sort_by(|a, b| natural_order(&a.title, &b.title));
    let seeds = runs
        .iter()
        .map(|r| r.config.seed)
        .collect::<BTreeSet<_>>()
        .len();
    Ok(Figure {
        title: format!("{spec} — the final {} against {key}", metric.name()),
        subtitle: format!(
            "{}; dashed: means of the runs without {key} and the behaviour's score",
            band.describe(seeds)
        ),
        rows,
        legend: entries
            .into_iter()
            .map(|(label, dashed)| Entry { label, dashed })
            .collect(),
        notes,
    })
}

/// Equal values, one key: −0.0 is 0.0.
fn canonical_bits(x: f64) -> u64 {
    (x + 0.0).to_bits()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// One run's per-state overestimation max_a Q(s,a) − V^π(s) (V^π exact),
/// on the environment's grid map, or on a near-square grid of state
/// numbers where it has none; each cell marked with the policy's action
/// (map letters for holes, cliffs and goals), states the data never acts
/// in hatched (their Q is the learner's convention, not an estimate).
pub fn heatmap(
    spec: &str,
    run: &RunData,
    mdp: &TabularMdp,
    q: &Array2<f64>,
    policy: &Policy,
    unvisited: &[usize],
) -> Result<Figure> {
    let over = crate::eval::overestimation(mdp, run.config.gamma, q, policy)?;
    let n = mdp.n_states();
    let layout = mdp.grid().filter(|g| g.rows * g.cols == n);
    let (rows, cols) = if let Some(g) = layout {
        (g.rows, g.cols)
    } else {
        let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
        (n.div_ceil(cols), cols)
    };
    let mut values = vec![f64::NAN; rows * cols];
    let mut marks = vec![String::new(); rows * cols];
    let mut hatched = vec![false; rows * cols];
    for s in 0..n {
        let best = solve::argmax(policy.row(s).iter().copied());
        let letter = layout.map(|g| g.cells[s]);
        let terminal = matches!(letter, Some('H' | 'C' | 'G'));
        // A terminal state's value is the learner's convention, not an estimate.
        values[s] = if terminal { f64::NAN } else { over[s] };
        hatched[s] = unvisited.contains(&s) && !terminal;
        marks[s] = match (letter, layout) {
            (Some(l), _) if terminal => l.to_string(),
            (_, Some(g)) => g
                .action_arrows
                .get(best)
                .map_or("?".into(), std::string::ToString::to_string),
            _ => format!("s{s}·a{best}"),
        };
    }
    let c = run.config;
    let labels = Labels::new([c]);
    let last = run.history.last();
    let reading = last.map_or(String::new(), |m| {
        format!(
            "; at iteration {}: J(π) = {}, q_est = {}",
            m.iteration,
            crate::text::number(m.true_return, 3),
            crate::text::number(m.q_est, 3)
        )
    });
    Ok(Figure {
        title: format!(
            "{spec} — where {} overestimates: {} {} seed {}",
            labels.algo(c),
            labels.env(c),
            labels.data(c),
            c.seed
        ),
        subtitle: format!(
            "red: the learned max_a Q(s,a) above the exact value V^π(s) of its own policy; \
             hatched: states the data never acts in{reading}"
        ),
        rows: vec![Row {
            title: String::new(),
            panels: vec![Panel {
                caption: "max_a Q(s,a) − V^π(s) and π's action".into(),
                content: Content::Grid(Grid {
                    rows,
                    cols,
                    values,
                    marks,
                    hatched,
                    scale: "max_a Q(s,a) − V^π(s)".into(),
                }),
            }],
        }],
        legend: Vec::new(),
        notes: Vec::new(),
    })
}

/// A continuous run's landscape ([`crate::eval::landscape`]) on the pair
/// of observation components `(x, y)`: max_a Q on a symmetric-log colour
/// scale, the data's density and the policy's visitation (both on a log
/// scale), side by side on the same axes, cells the data never reaches
/// hatched in all three: where Q is high there, the learner fools itself.
pub fn landscape(
    spec: &str,
    run: &RunData,
    landscape: &Landscape,
    (x, y): (usize, usize),
) -> Result<Figure> {
    let names =
        |(a, b): (usize, usize)| format!("{},{}", landscape.dims[a].name, landscape.dims[b].name);
    let slice = landscape
        .slices
        .iter()
        .find(|s| (s.x, s.y) == (x, y))
        .ok_or_else(|| {
            let pairs: Vec<String> = landscape.slices.iter().map(|s| names((s.x, s.y))).collect();
            Error::Invalid(format!(
                "the landscape of {} has no pair of components ({x}, {y}); it has {}",
                landscape.env,
                pairs.join("; ")
            ))
        })?;
    let extent = |c: usize| {
        let d = &landscape.dims[c];
        Extent {
            name: d.name.clone(),
            low: d.low,
            high: d.high,
        }
    };
    let grid = landscape.grid;
    let hatched: Vec<bool> = slice.data.iter().map(|&n| n == 0).collect();
    let field = |values: Vec<f64>, colours, scale: &str| {
        Content::Field(Field {
            x: extent(x),
            y: extent(y),
            cols: grid,
            rows: grid,
            values,
            hatched: hatched.clone(),
            colours,
            scale: scale.into(),
        })
    };
    let counted = |counts: &[u64]| counts.iter().map(|&n| n as f64).collect();
    let panels = [
        (
            "max_a Q(o, a), what the learner believes".to_string(),
            slice.max_q.clone(),
            Colours::Symlog,
            "max_a Q (symlog)",
        ),
        (
            format!("the data: {} observations", landscape.data_total),
            counted(&slice.data),
            Colours::Counts,
            "observations per cell (log)",
        ),
        (
            format!("the policy's visits: {} steps", landscape.visits_total),
            counted(&slice.visits),
            Colours::Counts,
            "visits per cell (log)",
        ),
    ]
    .into_iter()
    .map(|(caption, values, colours, scale)| Panel {
        caption,
        content: field(values, colours, scale),
    })
    .collect();
    let others: Vec<String> = landscape
        .dims
        .iter()
        .enumerate()
        .filter(|&(c, _)| c != x && c != y)
        .map(|(_, d)| format!("{} = {}", d.name, crate::text::number(d.fixed, 3)))
        .collect();
    let held = if others.is_empty() {
        String::new()
    } else {
        format!(
            "; max_a Q with the other components at the data's mean ({})",
            others.join(", ")
        )
    };
    let c = run.config;
    let labels = Labels::new([c]);
    // The eval point the landscape was drawn at, if the history holds it.
    let reading = run
        .history
        .iter()
        .rfind(|m| m.iteration == landscape.iteration)
        .map_or(String::new(), |m| {
            format!(
                "; J(π) = {}, q_est = {}",
                super::scores::plus_se(crate::text::number(m.true_return, 3), m.true_return_se, 3),
                crate::text::number(m.q_est, 3)
            )
        });
    Ok(Figure {
        title: format!(
            "{spec} — where {} fools itself: {} {} seed {}",
            labels.algo(c),
            labels.env(c),
            labels.data(c),
            c.seed
        ),
        subtitle: format!(
            "{} against {} at iteration {}{reading}; hatched: cells without data{held}",
            landscape.dims[x].name, landscape.dims[y].name, landscape.iteration
        ),
        rows: vec![Row {
            title: String::new(),
            panels,
        }],
        legend: Vec::new(),
        notes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_sample_std_or_min_max_and_survive_huge_values() {
        let (m, lo, hi) = spread(&[1.0, 3.0], Band::Std);
        assert_eq!(m, 2.0);
        assert!((hi - m - 2f64.sqrt()).abs() < 1e-12 && (m - lo - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(spread(&[1.0, 5.0, 3.0], Band::MinMax), (3.0, 1.0, 5.0));
        assert_eq!(spread(&[4.0], Band::Std), (4.0, 4.0, 4.0));
        let (m, lo, hi) = spread(&[1.6e308, -1.7e308, 1.7e308], Band::Std);
        assert!(
            m.is_finite() && lo.is_finite() && hi.is_finite(),
            "{m} {lo} {hi}"
        );
    }

    #[test]
    fn x_scales_follow_the_values() {
        assert_eq!(x_scale(&[1.0, 10.0, 100.0]), Scale::Log);
        assert_eq!(x_scale(&[0.0, 1.0, 10.0, 1e4]), Scale::Symlog(1.0));
        assert_eq!(x_scale(&[0.0, 0.5, 1.0]), Scale::Linear);
        assert_eq!(x_scale(&[1.0, 5.0]), Scale::Linear);
    }

    fn history(q: f64, iterations: u64) -> Vec<Metrics> {
        (0..=iterations / 10)
            .map(|k| Metrics {
                iteration: k * 10,
                q_est: q * k as f64,
                true_return: 0.5,
                normalized_score: 40.0 + q,
                ..Default::default()
            })
            .collect()
    }

    /// Bear: a row per environment, a line per dataset on both panels,
    /// seeds averaged (the band spans them); overlay: a line per algorithm.
    #[test]
    fn curves_split_environments_into_rows_and_average_seeds() {
        let configs: Vec<RunConfig> = ["FrozenLake8x8-v1", "Taxi-v4"]
            .iter()
            .flat_map(|env| {
                [1000, 10_000].into_iter().flat_map(move |size| {
                    (0..2).map(move |seed| RunConfig::example(env, "fqi", size, seed))
                })
            })
            .collect();
        let histories: Vec<Vec<Metrics>> = configs
            .iter()
            .map(|c| history(1.0 + c.seed as f64, 30))
            .collect();
        let runs: Vec<RunData> = configs
            .iter()
            .zip(&histories)
            .map(|(config, h)| RunData {
                config,
                status: RunStatus::Done,
                history: h,
                behaviour: None,
            })
            .collect();
        assert_eq!(Curves::suggested(&runs), Curves::Bear);
        let figure = curves("s", &runs, Curves::Bear, CurveOptions::default()).unwrap();
        assert_eq!(figure.rows.len(), 2);
        assert_eq!(figure.rows[0].title, "FrozenLake8x8-v1");
        let labels: Vec<&str> = figure.legend.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["medium 1k", "medium 10k"]);
        let Content::Lines(q) = &figure.rows[1].panels[1].content else {
            panic!("a curve panel")
        };
        assert_eq!(q.series.len(), 2);
        let last = q.series[0].points.last().unwrap();
        assert_eq!((last.x, last.y), (30.0, 4.5));
        assert!(last.lo < last.y && last.hi > last.y);
        assert!(
            figure.subtitle.contains("mean over 2 seeds"),
            "{}",
            figure.subtitle
        );
        let overlay = curves("s", &runs, Curves::Overlay, CurveOptions::default()).unwrap();
        assert_eq!(overlay.rows.len(), 4);
        assert_eq!(overlay.legend.len(), 1);
        assert_eq!(overlay.rows[1].title, "FrozenLake8x8-v1 · medium 10k");
    }
}
