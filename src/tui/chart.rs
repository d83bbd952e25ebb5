//! The overestimation chart's curves, ready to draw (the heart of the
//! dashboard; [`pane::chart`](super::pane::chart) draws them): q_est and the true return
//! of the charted runs against iterations (or wall time), on a
//! symmetric-log or linear y axis, as [`ChartOptions`] say. ratatui's
//! `Chart` has linear axes only, so values are transformed here and ticks
//! drawn at the decades; each series is cut to the chart's braille
//! resolution (min and max per column) before drawing, so 64 runs of
//! 10,000 points draw in a few hundred points each, and cut again only when
//! a run's history changes ([`Revisions`]).

use crate::eval::Metrics;
use crate::experiment::{RunId, RunStatus, RunView};
use crate::present::Labels;
use crate::present::figure::DIVERGED;
use crate::present::plot::with_noise;
use crate::present::scale::{
    Ema, format_tick, linear_ticks, running_mean, symexp, symlog, symlog_ticks,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// How the overestimation chart is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartOptions {
    /// Exponential moving average weight (TensorBoard's smoothing), 0..0.95.
    pub smoothing: f64,
    pub symlog: bool,
    /// x axis: wall time instead of iterations.
    pub wall_time: bool,
    /// Colour curves by algorithm instead of by dataset size.
    pub colour_by_algo: bool,
    /// The BEAR figure: one panel for return, one for Q, a line per dataset size.
    pub per_size: bool,
    /// Index into the x positions of the cursor, when shown.
    pub cursor: Option<usize>,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            smoothing: 0.0,
            symlog: true,
            wall_time: false,
            colour_by_algo: false,
            per_size: false,
            cursor: None,
        }
    }
}

/// Per run, a number that changes whenever its history does: the key of
/// the chart's cache. A history is shared (`Arc`) and never changes in
/// place while shared, so a new history is a new `Arc`; its address is no
/// key, though: a rerun's fresh history can be allocated where the old one
/// was, with as many points, and the old curve would be drawn again.
#[derive(Debug, Clone, Default)]
pub struct Revisions {
    of: HashMap<RunId, u64>,
    next: u64,
}

impl Revisions {
    /// Takes in the runs that replace `old`: a run keeps its revision while
    /// its history is the same `Arc` (both are alive here, so comparing
    /// them is sound), and gets a new one otherwise. A run with no points
    /// draws no curve and has none: a store of a million runs known from
    /// its index holds no history until a run is shown.
    pub fn update(&mut self, old: &[Arc<RunView>], new: &[Arc<RunView>]) {
        let before: HashMap<RunId, &Arc<Vec<Metrics>>> = old
            .iter()
            .filter(|r| !r.history.is_empty())
            .map(|r| (r.id, &r.history))
            .collect();
        let mut of = HashMap::new();
        for run in new.iter().filter(|r| !r.history.is_empty()) {
            of.insert(run.id, self.revision(run, before.get(&run.id).copied()));
        }
        self.of = of;
    }

    /// Takes in one run that replaces `old` (none: a run new to the
    /// store), the others staying as they are.
    pub fn replace(&mut self, old: Option<&RunView>, new: &RunView) {
        if new.history.is_empty() {
            self.of.remove(&new.id);
        } else {
            let revision = self.revision(new, old.map(|r| &r.history));
            self.of.insert(new.id, revision);
        }
    }

    /// The revision of `run`, whose history was `before`.
    fn revision(&mut self, run: &RunView, before: Option<&Arc<Vec<Metrics>>>) -> u64 {
        let same = before.is_some_and(|h| Arc::ptr_eq(h, &run.history));
        match self.of.get(&run.id) {
            Some(&r) if same => r,
            _ => {
                self.next += 1;
                self.next
            }
        }
    }

    /// The revision of a run's history (`None`: a run never taken in).
    pub fn get(&self, id: &RunId) -> Option<u64> {
        self.of.get(id).copied()
    }
}

/// Which curves a plot shows (the per-dataset-size view splits them in two
/// panels, each scaled to its own values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curves {
    Both,
    Estimate,
    Truth,
}

/// One curve pair: what the learner believes and what its policy gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// Index into the palette (curves of one group share it).
    pub colour: usize,
    /// The curves as drawn (shared with the cache, never copied).
    pub lines: Arc<Cut>,
}

/// The values of one curve at the cursor: (label, q_est, true return,
/// its Monte-Carlo standard error or NaN where exact).
pub type Reading = (String, f64, f64, f64);

/// Per dataset label: running means of (x, q_est, true return, its
/// standard error) and a count per iteration (means, not sums: two
/// estimates of 1e308 sum to ∞).
type Sums = (
    String,
    std::collections::BTreeMap<u64, (f64, f64, f64, f64, usize)>,
);

/// Everything needed to draw one chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub series: Vec<Series>,
    pub x_bounds: [f64; 2],
    /// In transformed units.
    pub y_bounds: [f64; 2],
    /// (transformed position, label).
    pub y_ticks: Vec<(f64, String)>,
    pub x_label: &'static str,
    /// The cursor's x, and per series the values (untransformed) there.
    pub cursor: Option<(f64, Vec<Reading>)>,
    /// Legend names of the colour groups, in colour order.
    pub groups: Vec<String>,
}

/// Keeps, per column of `columns` over `x_lo..=x_hi`, the first, lowest,
/// highest and last point (in their order), so the drawn line looks the
/// same as the full series at that resolution.
pub fn decimate(
    points: impl IntoIterator<Item = (f64, f64)>,
    x_lo: f64,
    x_hi: f64,
    columns: usize,
) -> Vec<(f64, f64)> {
    let mut d = Decimator::new(x_lo, x_hi, columns);
    for p in points {
        d.push(p);
    }
    d.finish()
}

/// A kept point and its position in the series.
type Kept = (usize, (f64, f64));

/// Streaming form of [`decimate`]: points go in one at a time, so several
/// series of one history are cut in a single pass, without copies.
struct Decimator {
    x_lo: f64,
    scale: f64,
    columns: usize,
    out: Vec<(f64, f64)>,
    seen: usize,
    /// The current column and its first, lowest, highest and last point
    /// (with their positions, to keep their order).
    bucket: Option<(usize, [Kept; 4])>,
}

impl Decimator {
    fn new(x_lo: f64, x_hi: f64, columns: usize) -> Self {
        let columns = columns.max(1);
        Decimator {
            x_lo,
            scale: columns as f64 / (x_hi - x_lo).max(1e-12),
            columns,
            out: Vec::with_capacity(4 * columns),
            seen: 0,
            bucket: None,
        }
    }

    /// The column of x.
    #[inline]
    fn column(&self, x: f64) -> usize {
        (((x - self.x_lo) * self.scale) as usize).min(self.columns - 1)
    }

    #[inline]
    fn push(&mut self, p: (f64, f64)) {
        self.push_at(self.column(p.0), p);
    }

    /// [`Decimator::push`] with the column known (decimators over the same
    /// x range share it).
    #[inline]
    fn push_at(&mut self, c: usize, p: (f64, f64)) {
        let i = self.seen;
        self.seen += 1;
        match &mut self.bucket {
            Some((current, kept)) if *current == c => {
                if p.1 < kept[1].1.1 {
                    kept[1] = (i, p);
                }
                if p.1 > kept[2].1.1 {
                    kept[2] = (i, p);
                }
                kept[3] = (i, p);
            }
            _ => {
                self.flush();
                self.bucket = Some((c, [(i, p); 4]));
            }
        }
    }

    /// Every point kept so far (the open column's too), in no order.
    fn kept(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.out.iter().copied().chain(
            self.bucket
                .iter()
                .flat_map(|(_, kept)| kept.iter().map(|k| k.1)),
        )
    }

    fn flush(&mut self) {
        if let Some((_, mut kept)) = self.bucket.take() {
            kept.sort_by_key(|k| k.0);
            let mut previous = usize::MAX;
            for (i, p) in kept {
                if i != previous {
                    self.out.push(p);
                    previous = i;
                }
            }
        }
    }

    fn finish(mut self) -> Vec<(f64, f64)> {
        self.flush();
        self.out
    }
}

fn transform(y: f64, symlog_axis: bool) -> f64 {
    if symlog_axis { symlog(y) } else { y }
}

/// Group name of a run for colouring: its dataset or its algorithm.
pub fn group_of(run: &RunView, by_algo: bool, labels: &Labels) -> String {
    if by_algo {
        labels.algo(&run.config)
    } else {
        labels.dataset(&run.config)
    }
}

/// Decimated curves of each run from earlier frames, reused while the
/// run's history (its [`Revisions`] number), the chart's width and x range and the options are the
/// same: redrawing (a key, a resize, progress of other runs) then costs only
/// the drawing.
#[derive(Debug, Clone, Default)]
pub struct CutCache(RefCell<HashMap<RunId, (CutKey, Arc<Cut>)>>);

/// What a cached cut depends on.
#[derive(Debug, Clone, PartialEq)]
struct CutKey {
    revision: u64,
    symlog: bool,
    columns: usize,
    x_hi: u64,
    smoothing: u64,
    wall: bool,
}

/// The smallest 1, 2 or 5 × 10^k at or above `x`.
fn nice_ceiling(x: f64) -> f64 {
    // Wall times of quick runs are fractions of a second.
    let magnitude = 10f64.powf(x.max(1e-3).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&v| v >= x)
        .unwrap_or(10.0 * magnitude)
}

/// Where the x axis ends: at the data's last point once every run has
/// ended (a 400-iteration run is not drawn on an axis to 500); while one
/// may still train, at its last planned iteration (on wall time, the
/// next round number past the data), so the axis and the cached cuts
/// hold still while it grows.
fn x_end(runs: &[&RunView], x_data: f64, wall: bool) -> f64 {
    let live = runs.iter().filter(|r| !r.status.is_final());
    let end = if wall {
        if live.count() > 0 {
            nice_ceiling(x_data)
        } else {
            x_data
        }
    } else {
        live.map(|r| r.config.iterations as f64)
            .fold(x_data, f64::max)
    };
    if end > 0.0 { end } else { 1.0 }
}

/// Builds the chart of `runs` for a plot `columns` braille dots wide,
/// reusing the cached cuts of histories that did not change.
/// With `per_size`, curves are averaged per dataset (seeds and runs alike).
pub fn prepare(
    runs: &[&RunView],
    options: &ChartOptions,
    columns: usize,
    cuts: (&CutCache, &Revisions),
    which: Curves,
) -> ChartData {
    let wall = options.wall_time;
    let labels = &Labels::new(runs.iter().map(|r| &r.config));
    let curves = if options.per_size {
        averaged_curves(runs, labels, wall)
    } else {
        run_curves(runs, labels, options.colour_by_algo)
    };
    let mut groups: Vec<String> = Vec::new();
    for c in &curves {
        if !groups.contains(&c.group) {
            groups.push(c.group.clone());
        }
    }
    let x_data = curves
        .iter()
        .map(|c| match &c.points {
            // Histories grow in x: their last point is their largest.
            Points::Run(history) => history.last().map_or(0.0, |m| point(m, wall).0),
            Points::Averaged(points) => points.iter().map(|p| p.0).fold(0.0f64, f64::max),
        })
        .fold(0.0f64, f64::max);
    let x_bounds = [0.0, x_end(runs, x_data, wall)];
    let mut series = Vec::with_capacity(curves.len());
    let (mut y_lo, mut y_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for curve in &curves {
        let cut = cached_cut(curve, x_bounds, columns, options, cuts);
        for (shown, range) in [
            (which != Curves::Truth, cut.estimate_range),
            (which != Curves::Estimate, cut.truth_range),
        ] {
            if shown {
                y_lo = y_lo.min(range.0);
                y_hi = y_hi.max(range.1);
            }
        }
        series.push(Series {
            label: curve.label.clone(),
            colour: groups.iter().position(|g| *g == curve.group).unwrap_or(0),
            lines: cut,
        });
    }
    let (y_bounds, y_ticks) = y_axis(y_lo, y_hi, options.symlog);
    ChartData {
        series,
        x_bounds,
        y_bounds,
        y_ticks,
        x_label: if wall { "seconds" } else { "iteration" },
        cursor: options.cursor.and_then(|i| readings(&curves, i, wall)),
        groups,
    }
}

/// The per-dataset-size view's curves: per dataset (and algorithm, when
/// several), the mean over its runs at each iteration.
fn averaged_curves<'a>(runs: &[&'a RunView], labels: &Labels, wall: bool) -> Vec<Curve<'a>> {
    // One algorithm is the BEAR figure; several get their name on each line.
    let one_algo = runs
        .windows(2)
        .all(|w| labels.algo(&w[0].config) == labels.algo(&w[1].config));
    let mut groups: Vec<Sums> = Vec::new();
    for run in runs {
        let name = if one_algo {
            labels.dataset(&run.config)
        } else {
            format!(
                "{} · {}",
                labels.algo(&run.config),
                labels.dataset(&run.config)
            )
        };
        let slot = if let Some(i) = groups.iter().position(|g| g.0 == name) {
            i
        } else {
            groups.push((name, std::collections::BTreeMap::default()));
            groups.len() - 1
        };
        for m in run.history.iter() {
            let (x, q, j, se) = point(m, wall);
            let p = groups[slot]
                .1
                .entry(m.iteration)
                .or_insert((0.0, 0.0, 0.0, 0.0, 0));
            p.4 += 1;
            p.0 = running_mean(p.0, x, p.4);
            p.1 = running_mean(p.1, q, p.4);
            p.2 = running_mean(p.2, j, p.4);
            // The seeds' mean standard error, as the exported figure's band.
            p.3 = running_mean(p.3, se, p.4);
        }
    }
    groups
        .into_iter()
        .map(|(name, sums)| Curve {
            id: None,
            label: name.clone(),
            group: name,
            points: Points::Averaged(
                sums.into_values()
                    .map(|(x, q, j, se, _)| (x, q, j, se))
                    .collect(),
            ),
        })
        .collect()
}

/// One curve per run, labelled by what tells it apart.
fn run_curves<'a>(runs: &[&'a RunView], labels: &Labels, by_algo: bool) -> Vec<Curve<'a>> {
    runs.iter()
        .map(|run| Curve {
            id: Some(run.id),
            label: format!(
                "{} {} s{}{}",
                labels.algo(&run.config),
                labels.dataset(&run.config),
                run.config.seed,
                if run.status == RunStatus::Diverged {
                    DIVERGED
                } else {
                    ""
                }
            ),
            group: group_of(run, by_algo, labels),
            points: Points::Run(&run.history),
        })
        .collect()
}

/// A curve cut to the chart's resolution: a run's from the cache while its
/// history and the chart's geometry are the same, else cut afresh.
fn cached_cut(
    curve: &Curve,
    x_bounds: [f64; 2],
    columns: usize,
    options: &ChartOptions,
    (cache, revisions): (&CutCache, &Revisions),
) -> Arc<Cut> {
    let wall = options.wall_time;
    let history = match &curve.points {
        Points::Run(history) => history,
        Points::Averaged(points) => {
            return Arc::new(cut(points.iter().copied(), x_bounds, columns, options));
        }
    };
    let id = curve.id.as_ref().expect("runs have ids");
    let fresh = || {
        let points = history.iter().map(|m| point(m, wall));
        Arc::new(cut(points, x_bounds, columns, options))
    };
    // A run the revisions never saw: nothing to key it by.
    let Some(revision) = revisions.get(id) else {
        return fresh();
    };
    let key = CutKey {
        revision,
        columns,
        x_hi: x_bounds[1].to_bits(),
        smoothing: options.smoothing.to_bits(),
        wall,
        symlog: options.symlog,
    };
    let mut cache = cache.0.borrow_mut();
    match cache.get(id) {
        Some((k, cut)) if *k == key => cut.clone(),
        _ => {
            let cut = fresh();
            cache.insert(*id, (key, cut.clone()));
            cut
        }
    }
}

/// The y axis over the curves' range `y_lo..y_hi` (zero always in it):
/// its bounds on the chart's scale, padded, and its ticks.
fn y_axis(y_lo: f64, y_hi: f64, symlog: bool) -> ([f64; 2], Vec<(f64, String)>) {
    let (y_lo, y_hi) = if y_lo.is_finite() {
        (y_lo, y_hi)
    } else {
        (0.0, 1.0)
    };
    let (y_lo, y_hi) = (y_lo.min(0.0), y_hi.max(y_lo + 1e-9));
    let (t_lo, t_hi) = (transform(y_lo, symlog), transform(y_hi, symlog));
    let pad = 0.05 * (t_hi - t_lo).max(1e-9);
    let y_bounds = [t_lo - pad, t_hi + pad];
    let y_ticks = if symlog {
        symlog_ticks(symexp(y_bounds[0]), symexp(y_bounds[1]), 7)
    } else {
        linear_ticks(y_bounds[0], y_bounds[1], 6)
    }
    .into_iter()
    .map(|v| (transform(v, symlog), format_tick(v)))
    .collect();
    (y_bounds, y_ticks)
}

/// The cursor at the `i`th x of the first curve that has one, and each
/// curve's estimate and true return nearest it.
fn readings(curves: &[Curve], i: usize, wall: bool) -> Option<(f64, Vec<Reading>)> {
    let x = curves
        .iter()
        .find_map(|c| c.points.iter(wall).nth(i).map(|p| p.0))?;
    let values = curves
        .iter()
        .filter_map(|c| {
            let p = c
                .points
                .iter(wall)
                .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))?;
            Some((c.label.clone(), p.1, p.2, p.3))
        })
        .collect();
    Some((x, values))
}

/// One curve cut to the chart's resolution: (x, y on the chart's scale),
/// smoothed when asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    pub estimate: Vec<(f64, f64)>,
    pub truth: Vec<(f64, f64)>,
    /// The unsmoothed curves, drawn faint behind smoothed ones (empty
    /// without smoothing).
    pub raw_estimate: Vec<(f64, f64)>,
    pub raw_truth: Vec<(f64, f64)>,
    /// Smallest and largest finite raw value of each curve (data units).
    estimate_range: (f64, f64),
    truth_range: (f64, f64),
    /// Where the estimate diverged: its last finite point (x, y on the
    /// chart's scale) when a NaN or infinite one follows; drawn `×`.
    pub diverged_at: Option<(f64, f64)>,
    /// The true return's band where it is Monte-Carlo, ± 1.96 standard
    /// errors as the exported figure draws it ([`with_noise`]): per
    /// column, (x, lowest, highest) on the chart's scale; empty where the
    /// truth is exact.
    pub band: Vec<(f64, f64, f64)>,
}

/// Smooths and decimates both curves of one history in a single pass, then
/// puts what is kept on the y scale (decimating first is exact: the scale
/// is monotone, so the extremes are the same).
fn cut(
    points: impl Iterator<Item = (f64, f64, f64, f64)>,
    x_bounds: [f64; 2],
    columns: usize,
    options: &ChartOptions,
) -> Cut {
    let smoothing = options.smoothing;
    let new = || Decimator::new(x_bounds[0], x_bounds[1], columns);
    let (mut estimate, mut truth, mut raw_estimate, mut raw_truth) = (new(), new(), new(), new());
    let smoothed = smoothing > 0.0;
    let (mut ema_q, mut ema_j) = (Ema::new(smoothing), Ema::new(smoothing));
    let (mut ema_low, mut ema_high) = (Ema::new(smoothing), Ema::new(smoothing));
    // Per column of the band: (column, x, lowest, highest), in data units.
    let mut band: Vec<(usize, f64, f64, f64)> = Vec::new();
    // Keeps a finite value (smoothed, its raw value behind); returns it as drawn.
    let keep = |raw: &mut Decimator, line: &mut Decimator, ema: &mut Ema, c, x, v| {
        let drawn = if smoothed {
            raw.push_at(c, (x, v));
            ema.next(v)
        } else {
            v
        };
        line.push_at(c, (x, drawn));
        drawn
    };
    // The last finite estimate as drawn, and whether a non-finite one followed.
    let (mut last_finite, mut diverged) = (None, false);
    for (x, q, j, se) in points {
        let c = estimate.column(x);
        if q.is_finite() {
            let drawn = keep(&mut raw_estimate, &mut estimate, &mut ema_q, c, x, q);
            (last_finite, diverged) = (Some((x, drawn)), false);
        } else {
            diverged = last_finite.is_some();
        }
        if j.is_finite() {
            keep(&mut raw_truth, &mut truth, &mut ema_j, c, x, j);
        }
        if j.is_finite() && se.is_finite() {
            let (low, high) = with_noise((j, j, j), &[se]);
            let (low, high) = (ema_low.next(low), ema_high.next(high));
            match band.last_mut() {
                Some(b) if b.0 == c => (b.2, b.3) = (b.2.min(low), b.3.max(high)),
                _ => band.push((c, x, low, high)),
            }
        }
    }
    // Decimation keeps each column's extremes, so the kept raw points
    // span the same range as all of them.
    let range = |d: &Decimator| {
        d.kept()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, y)| {
                (lo.min(y), hi.max(y))
            })
    };
    let (estimate_range, truth_range) = if smoothed {
        (range(&raw_estimate), range(&raw_truth))
    } else {
        (range(&estimate), range(&truth))
    };
    // The axis holds the band too.
    let truth_range = band
        .iter()
        .fold(truth_range, |(lo, hi), b| (lo.min(b.2), hi.max(b.3)));
    let scaled = |d: Decimator| -> Vec<(f64, f64)> {
        d.finish()
            .into_iter()
            .map(|(x, y)| (x, transform(y, options.symlog)))
            .collect()
    };
    Cut {
        estimate: scaled(estimate),
        truth: scaled(truth),
        raw_estimate: scaled(raw_estimate),
        raw_truth: scaled(raw_truth),
        estimate_range,
        truth_range,
        diverged_at: last_finite
            .filter(|_| diverged)
            .map(|(x, y)| (x, transform(y, options.symlog))),
        band: band
            .into_iter()
            .map(|(_, x, low, high)| {
                (
                    x,
                    transform(low, options.symlog),
                    transform(high, options.symlog),
                )
            })
            .collect(),
    }
}

/// (x, q_est, true return, its standard error) of one eval point.
fn point(m: &Metrics, wall_time: bool) -> (f64, f64, f64, f64) {
    let x = if wall_time {
        m.wall_time
    } else {
        m.iteration as f64
    };
    (x, m.q_est, m.true_return, m.true_return_se)
}

/// A curve's points: a run's own history (read in place, never copied) or
/// an average over runs.
enum Points<'a> {
    Run(&'a [Metrics]),
    Averaged(Vec<(f64, f64, f64, f64)>),
}

impl Points<'_> {
    fn iter(&self, wall_time: bool) -> Box<dyn Iterator<Item = (f64, f64, f64, f64)> + '_> {
        match self {
            Points::Run(history) => Box::new(history.iter().map(move |m| point(m, wall_time))),
            Points::Averaged(points) => Box::new(points.iter().copied()),
        }
    }
}

/// A curve before drawing.
struct Curve<'a> {
    /// The run, for a curve of one run (the cache key).
    id: Option<RunId>,
    label: String,
    /// Curves of one group share a colour.
    group: String,
    points: Points<'a>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::experiment::{Progress, RunConfig, RunStatus};

    /// A run of `env` whose eval points all read `q`.
    pub(crate) fn run_view(env: &str, q: f64, points: u64) -> RunView {
        let config = RunConfig::example(env, "fqi", 1000, 0).with(|c| {
            c.spec = "s".into();
            c.gamma = 0.9;
            c.iterations = 100;
        });
        let history = (0..points)
            .map(|k| Metrics {
                iteration: k * 10,
                q_est: q,
                true_return: 0.5,
                ..Default::default()
            })
            .collect();
        RunView {
            id: config.id(),
            config,
            status: RunStatus::Done,
            progress: Progress::default(),
            latest: None,
            history: Arc::new(history),
            error: None,
            owned_here: true,
            coverage: f64::NAN,
            dataset_stats: None,
            behavior: None,
        }
    }

    #[test]
    fn a_rerun_history_is_cut_again_though_it_has_as_many_points() {
        let before = Arc::new(run_view("ThreeState-v0", 1.0, 5));
        let mut revisions = Revisions::default();
        revisions.update(&[], std::slice::from_ref(&before));
        let cache = CutCache::default();
        let options = ChartOptions::default();
        let chart = |run: &RunView, revisions: &Revisions| {
            prepare(&[run], &options, 40, (&cache, revisions), Curves::Both)
        };
        let first = chart(&before, &revisions);
        // The same history again (a redraw): the cached cut, not a copy.
        let same = before.clone();
        let mut next = revisions.clone();
        next.update(std::slice::from_ref(&before), std::slice::from_ref(&same));
        assert_eq!(next.get(&same.id), revisions.get(&before.id));
        let again = chart(&same, &next);
        assert!(Arc::ptr_eq(&first.series[0].lines, &again.series[0].lines));
        // A rerun: a new history of as many points, other values.
        let rerun = Arc::new(RunView {
            history: run_view("ThreeState-v0", 100.0, 5).history,
            ..(*before).clone()
        });
        let mut after = next.clone();
        after.update(std::slice::from_ref(&same), std::slice::from_ref(&rerun));
        assert_ne!(after.get(&rerun.id), next.get(&same.id));
        let redrawn = chart(&rerun, &after);
        assert_ne!(first.series[0].lines, redrawn.series[0].lines);
        assert!(redrawn.series[0].lines.estimate_range.1 > 99.0);
    }

    /// A linear learner running away: q_est 1 → 1e300, then ∞ and NaN.
    pub(crate) fn diverging(seed: u64) -> RunView {
        let mut run = run_view("TwoState-v0", 0.0, 0);
        let history: Vec<Metrics> = [1.0, 1e100, 1e200, 1e300, f64::INFINITY, f64::NAN]
            .into_iter()
            .enumerate()
            .map(|(k, q)| Metrics {
                iteration: k as u64 * 10,
                q_est: q,
                true_return: 0.0,
                ..Default::default()
            })
            .collect();
        run.config.seed = seed;
        run.id = run.config.id();
        run.history = Arc::new(history);
        run.status = RunStatus::Diverged;
        run
    }

    /// The symlog axis carries 1e300: finite bounds, round scientific tick
    /// labels up to 1e300, the curve up to its last finite point and a
    /// cross there; seeds averaged near f64::MAX stay finite.
    #[test]
    fn a_run_diverging_past_1e300_keeps_the_chart_whole() {
        let (cache, revisions) = (CutCache::default(), Revisions::default());
        let run = diverging(0);
        for per_size in [false, true] {
            let options = ChartOptions {
                per_size,
                ..Default::default()
            };
            let chart = prepare(&[&run], &options, 60, (&cache, &revisions), Curves::Both);
            assert!(chart.y_bounds.iter().all(|b| b.is_finite()), "{chart:?}");
            let labels: Vec<&str> = chart.y_ticks.iter().map(|t| t.1.as_str()).collect();
            assert!(
                labels.contains(&"1e300") && labels.contains(&"1e100"),
                "{labels:?}"
            );
            assert!(labels.iter().all(|l| l.len() <= 6), "{labels:?}");
            let lines = &chart.series[0].lines;
            assert!(lines.estimate.iter().all(|p| p.1.is_finite()));
            assert_eq!(lines.estimate.len(), 4, "{lines:?}");
            let (x, y) = lines.diverged_at.expect("marked diverged");
            assert_eq!(x, 30.0);
            assert!((y - symlog(1e300)).abs() < 1e-9, "{y}");
            if !per_size {
                assert!(chart.series[0].label.ends_with(DIVERGED));
            }
        }
        // Two seeds at 1.5e308 average to 1.5e308, not ∞.
        let high = |seed| {
            let mut r = diverging(seed);
            Arc::make_mut(&mut r.history)[3].q_est = 1.5e308;
            r
        };
        let (a, b) = (high(0), high(1));
        let options = ChartOptions {
            per_size: true,
            ..Default::default()
        };
        let chart = prepare(&[&a, &b], &options, 60, (&cache, &revisions), Curves::Both);
        let top = chart.series[0].lines.estimate_range.1;
        assert_eq!(top, 1.5e308);
        // A run that never had a finite estimate is not marked.
        let mut nan = run_view("TwoState-v0", f64::NAN, 3);
        nan.status = RunStatus::Diverged;
        let chart = prepare(
            &[&nan],
            &ChartOptions::default(),
            60,
            (&cache, &revisions),
            Curves::Both,
        );
        assert_eq!(chart.series[0].lines.diverged_at, None);
    }

    #[test]
    fn decimation_keeps_extremes_and_ends() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (f64::from(i), f64::from((i * 7919) % 1000)))
            .collect();
        let out = decimate(points.iter().copied(), 0.0, 9_999.0, 50);
        assert!(out.len() <= 200, "{}", out.len());
        assert_eq!(out.first(), points.first());
        assert_eq!(out.last(), points.last());
        let max = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        let min = points.iter().map(|p| p.1).fold(f64::MAX, f64::min);
        assert!(out.iter().any(|p| p.1 == max) && out.iter().any(|p| p.1 == min));
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "x order kept");
        let short = [(0.0, 1.0), (1.0, 2.0)];
        assert_eq!(decimate(short, 0.0, 1.0, 50), short.to_vec());
    }
}
