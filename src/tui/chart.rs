//! The overestimation chart, the heart of the dashboard: q_est and the true
//! return of the charted runs against iterations (or wall time), on a
//! symmetric-log or linear y axis. ratatui's `Chart` has linear axes only,
//! so values are transformed here and ticks drawn at the decades; each
//! series is cut to the chart's braille resolution (min and max per
//! column) before drawing, so 64 runs of 10,000 points draw in a few
//! hundred points each.

use super::app::ChartOptions;
use crate::experiment::RunView;
use crate::scale::{format_tick, linear_ticks, symexp, symlog, symlog_ticks};

/// One curve pair: what the learner believes and what its policy gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// Index into the palette (curves of one group share it).
    pub colour: usize,
    /// (x, transformed y), decimated, smoothed when asked.
    pub estimate: Vec<(f64, f64)>,
    pub truth: Vec<(f64, f64)>,
    /// The unsmoothed curves, drawn faint behind smoothed ones.
    pub raw_estimate: Vec<(f64, f64)>,
    pub raw_truth: Vec<(f64, f64)>,
}

/// The values of one curve at the cursor: (label, q_est, true return).
pub type Reading = (String, f64, f64);

/// A curve before drawing: its label, colour group, and (x, q_est, true return) points.
type Curve = (String, String, Vec<(f64, f64, f64)>);

/// Per dataset label: sums of (x, q_est, true return) and a count per iteration.
type Sums = (
    String,
    std::collections::BTreeMap<u64, (f64, f64, f64, usize)>,
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

/// Exponential moving average (TensorBoard's smoothing, debiased so the
/// start is not pulled towards zero).
pub fn ema(values: &[f64], weight: f64) -> Vec<f64> {
    if weight <= 0.0 {
        return values.to_vec();
    }
    let mut last = 0.0;
    let mut debias = 1.0;
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return v;
            }
            last = last * weight + (1.0 - weight) * v;
            debias *= weight;
            last / (1.0 - debias)
        })
        .collect()
}

/// Keeps, per column of `columns` over `x_lo..=x_hi`, the first, lowest,
/// highest and last point (in their order), so the drawn line looks the
/// same as the full series at that resolution.
pub fn decimate(points: &[(f64, f64)], x_lo: f64, x_hi: f64, columns: usize) -> Vec<(f64, f64)> {
    if points.len() <= 4 * columns.max(1) {
        return points.to_vec();
    }
    let span = (x_hi - x_lo).max(1e-12);
    let column =
        |x: f64| (((x - x_lo) / span) * columns as f64).clamp(0.0, columns as f64 - 1.0) as usize;
    let mut out = Vec::with_capacity(4 * columns);
    let mut i = 0;
    while i < points.len() {
        let c = column(points[i].0);
        let start = i;
        let (mut lo, mut hi) = (i, i);
        while i < points.len() && column(points[i].0) == c {
            if points[i].1 < points[lo].1 {
                lo = i;
            }
            if points[i].1 > points[hi].1 {
                hi = i;
            }
            i += 1;
        }
        let mut keep = [start, lo, hi, i - 1];
        keep.sort_unstable();
        let mut previous = usize::MAX;
        for k in keep {
            if k != previous {
                out.push(points[k]);
                previous = k;
            }
        }
    }
    out
}

fn transform(y: f64, symlog_axis: bool) -> f64 {
    if symlog_axis { symlog(y) } else { y }
}

/// Group name of a run for colouring: its dataset or its algorithm.
pub fn group_of(run: &RunView, by_algo: bool) -> String {
    if by_algo {
        run.config.algo_label()
    } else {
        run.config.dataset.label()
    }
}

/// Builds the chart of `runs` for a plot `columns` braille dots wide.
/// With `per_size`, curves are averaged per dataset (seeds and runs alike).
pub fn prepare(runs: &[&RunView], options: &ChartOptions, columns: usize) -> ChartData {
    let x_of = |m: &crate::eval::Metrics| {
        if options.wall_time {
            m.wall_time
        } else {
            m.iteration as f64
        }
    };
    // (label, colour group, points (x, q_est, true_return))
    let mut curves: Vec<Curve> = Vec::new();
    if options.per_size {
        let mut groups: Vec<Sums> = Vec::new();
        for run in runs {
            let name = run.config.dataset.label();
            let slot = match groups.iter().position(|g| g.0 == name) {
                Some(i) => i,
                None => {
                    groups.push((name, Default::default()));
                    groups.len() - 1
                }
            };
            for m in run.history.iter() {
                let p = groups[slot]
                    .1
                    .entry(m.iteration)
                    .or_insert((0.0, 0.0, 0.0, 0));
                p.0 += x_of(m);
                p.1 += m.q_est;
                p.2 += m.true_return;
                p.3 += 1;
            }
        }
        for (name, points) in groups {
            let points = points
                .into_values()
                .map(|(x, q, j, n)| (x / n as f64, q / n as f64, j / n as f64))
                .collect();
            curves.push((name.clone(), name, points));
        }
    } else {
        for run in runs {
            let label = format!(
                "{} {} s{}",
                run.config.algo_label(),
                run.config.dataset.label(),
                run.config.seed
            );
            let points = run
                .history
                .iter()
                .map(|m| (x_of(m), m.q_est, m.true_return))
                .collect();
            curves.push((label, group_of(run, options.colour_by_algo), points));
        }
    }
    let mut groups: Vec<String> = Vec::new();
    for (_, g, _) in &curves {
        if !groups.contains(g) {
            groups.push(g.clone());
        }
    }
    let finite = |v: f64| v.is_finite();
    let xs = curves.iter().flat_map(|c| c.2.iter().map(|p| p.0));
    let x_hi = xs.fold(0.0f64, f64::max).max(1.0);
    let x_bounds = [0.0, x_hi];
    let mut series = Vec::with_capacity(curves.len());
    let (mut y_lo, mut y_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (label, group, points) in &curves {
        let x: Vec<f64> = points.iter().map(|p| p.0).collect();
        let q: Vec<f64> = points.iter().map(|p| p.1).collect();
        let j: Vec<f64> = points.iter().map(|p| p.2).collect();
        for &v in q.iter().chain(&j).filter(|v| finite(**v)) {
            y_lo = y_lo.min(v);
            y_hi = y_hi.max(v);
        }
        let line = |values: &[f64]| -> Vec<(f64, f64)> {
            let pts: Vec<(f64, f64)> = x
                .iter()
                .zip(values)
                .filter(|(_, v)| v.is_finite())
                .map(|(x, v)| (*x, transform(*v, options.symlog)))
                .collect();
            decimate(&pts, x_bounds[0], x_bounds[1], columns)
        };
        let smoothed = options.smoothing > 0.0;
        series.push(Series {
            label: label.clone(),
            colour: groups.iter().position(|g| g == group).unwrap_or(0),
            estimate: line(&ema(&q, options.smoothing)),
            truth: line(&ema(&j, options.smoothing)),
            raw_estimate: if smoothed { line(&q) } else { Vec::new() },
            raw_truth: if smoothed { line(&j) } else { Vec::new() },
        });
    }
    if !y_lo.is_finite() {
        (y_lo, y_hi) = (0.0, 1.0);
    }
    let (y_lo, y_hi) = (y_lo.min(0.0), y_hi.max(y_lo + 1e-9));
    let (t_lo, t_hi) = (
        transform(y_lo, options.symlog),
        transform(y_hi, options.symlog),
    );
    let pad = 0.05 * (t_hi - t_lo).max(1e-9);
    let y_bounds = [t_lo - pad, t_hi + pad];
    let y_ticks = if options.symlog {
        symlog_ticks(symexp(y_bounds[0]), symexp(y_bounds[1]), 7)
    } else {
        linear_ticks(y_bounds[0], y_bounds[1], 6)
    }
    .into_iter()
    .map(|v| (transform(v, options.symlog), format_tick(v)))
    .collect();
    let cursor = options.cursor.and_then(|i| {
        let x = curves
            .iter()
            .filter_map(|c| c.2.get(i).map(|p| p.0))
            .next()?;
        let values = curves
            .iter()
            .filter_map(|(label, _, points)| {
                let p = points
                    .iter()
                    .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))?;
                Some((label.clone(), p.1, p.2))
            })
            .collect();
        Some((x, values))
    });
    ChartData {
        series,
        x_bounds,
        y_bounds,
        y_ticks,
        x_label: if options.wall_time {
            "seconds"
        } else {
            "iteration"
        },
        cursor,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_extremes_and_ends() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, ((i * 7919) % 1000) as f64))
            .collect();
        let out = decimate(&points, 0.0, 9_999.0, 50);
        assert!(out.len() <= 200, "{}", out.len());
        assert_eq!(out.first(), points.first());
        assert_eq!(out.last(), points.last());
        let max = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        let min = points.iter().map(|p| p.1).fold(f64::MAX, f64::min);
        assert!(out.iter().any(|p| p.1 == max) && out.iter().any(|p| p.1 == min));
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "x order kept");
        let short = [(0.0, 1.0), (1.0, 2.0)];
        assert_eq!(decimate(&short, 0.0, 1.0, 50), short.to_vec());
    }

    #[test]
    fn ema_is_debiased_and_zero_weight_is_identity() {
        assert_eq!(ema(&[1.0, 2.0], 0.0), vec![1.0, 2.0]);
        let s = ema(&[5.0, 5.0, 5.0], 0.9);
        assert!(s.iter().all(|v| (v - 5.0).abs() < 1e-12), "{s:?}");
        let s = ema(&[0.0, 10.0], 0.5);
        assert!((s[1] - 10.0 * 0.5 / 0.75).abs() < 1e-12);
    }
}
