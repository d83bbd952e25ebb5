//! The overestimation figure as SVG (plotters): the "why offline RL is
//! hard" picture. Left panel: the true return J(π) of the learned policy;
//! right panel: the learner's own estimate q_est. Both on a symmetric-log
//! y axis, one colour per curve (algorithm · dataset), seeds averaged.

use crate::error::{Error, Result};
use crate::eval::Metrics;
use crate::scale::{format_tick, symlog, symlog_ticks};
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// One run's history and the curve it belongs to.
pub struct Curve<'a> {
    /// Runs with the same label are averaged (seeds).
    pub label: String,
    pub history: &'a [Metrics],
}

/// A y axis in data units drawn on the symlog scale, ticked at 0 and ±10^k.
#[derive(Debug, Clone)]
struct SymlogAxis {
    lo: f64,
    hi: f64,
}

impl Ranged for SymlogAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (a, b) = (symlog(self.lo), symlog(self.hi));
        let t = (symlog(*value) - a) / (b - a).max(1e-12);
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Keep ticks at least 1/12 of the axis apart, so labels never overlap.
        let gap = (symlog(self.hi) - symlog(self.lo)) / 12.0;
        let mut kept: Vec<f64> = Vec::new();
        for t in symlog_ticks(self.lo, self.hi, hint.max_num_points().max(2)) {
            if kept.last().is_none_or(|&k| symlog(t) - symlog(k) >= gap) {
                kept.push(t);
            }
        }
        kept
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for SymlogAxis {
    fn format(value: &f64) -> String {
        format_tick(*value)
    }
}

const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// (iteration, mean true return, mean q_est) per eval point of each label.
fn averaged(curves: &[Curve]) -> BTreeMap<String, Vec<(f64, f64, f64)>> {
    let mut sums: BTreeMap<String, BTreeMap<u64, (f64, f64, usize)>> = BTreeMap::new();
    for c in curves {
        let points = sums.entry(c.label.clone()).or_default();
        for m in c
            .history
            .iter()
            .filter(|m| m.true_return.is_finite() && m.q_est.is_finite())
        {
            let p = points.entry(m.iteration).or_insert((0.0, 0.0, 0));
            p.0 += m.true_return;
            p.1 += m.q_est;
            p.2 += 1;
        }
    }
    sums.into_iter()
        .map(|(label, points)| {
            let line = points
                .into_iter()
                .map(|(i, (j, q, n))| (i as f64, j / n as f64, q / n as f64))
                .collect();
            (label, line)
        })
        .collect()
}

/// Writes the two-panel figure to `path` (SVG).
pub fn write_svg(curves: &[Curve], title: &str, path: &Path) -> Result<()> {
    let lines = averaged(curves);
    if lines.values().all(Vec::is_empty) {
        return Err(Error::Invalid("no eval points to plot yet".into()));
    }
    let failed = |e: &dyn std::fmt::Display| Error::File {
        path: path.to_path_buf(),
        message: format!("cannot draw the figure: {e}"),
    };
    let x_max = lines.values().flatten().map(|p| p.0).fold(1.0f64, f64::max);
    let root = SVGBackend::new(path, (1280, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| failed(&e))?;
    let panels = root.split_evenly((1, 2));
    for (panel, (name, pick)) in panels
        .iter()
        .zip([("true return J(π)", 1usize), ("Q estimate q_est", 2usize)])
    {
        let value = |p: &(f64, f64, f64)| if pick == 1 { p.1 } else { p.2 };
        let (lo, hi) = lines
            .values()
            .flatten()
            .map(value)
            .fold((0.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
        let pad = |y: f64| y + y.signum() * y.abs() * 0.15;
        let axis = SymlogAxis {
            lo: pad(lo),
            hi: pad(hi),
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(name, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, axis)
            .map_err(|e| failed(&e))?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .x_label_formatter(&|x| format_tick(*x))
            .y_desc(if pick == 1 {
                "return (symlog)"
            } else {
                "Q (symlog)"
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| failed(&e))?;
        for (k, (label, points)) in lines.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, value(p))),
                    colour.stroke_width(2),
                ))
                .map_err(|e| failed(&e))?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| failed(&e))?;
    }
    root.present().map_err(|e| failed(&e))?;
    Ok(())
}
