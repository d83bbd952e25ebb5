//! The overestimation figure as SVG (plotters): the "why offline RL is
//! hard" picture. Left panel: the discounted return J(π) of the learned
//! policy, the quantity Q estimates (not the episode return D4RL scores);
//! right panel: the learner's own estimate q_est of it. Both on a symmetric-log
//! (or linear) y axis, one colour per curve (algorithm · dataset), seeds
//! averaged; the dashboard's export passes its chart's settings.

use super::labels::natural_order;
use super::scale::{Ema, format_tick, linear_ticks, running_mean, symlog, symlog_ticks};
use crate::error::{Error, Result};
use crate::eval::Metrics;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// The left panel: the discounted return, what Q estimates.
pub const LEFT_CAPTION: &str = "true discounted return J(π), what Q estimates";
/// The right panel.
pub const RIGHT_CAPTION: &str = "Q estimate q_est of J(π)";

/// Ends the label of a curve of diverged runs: the curve stops at their
/// last finite eval point, which is marked `×`.
pub const DIVERGED: &str = " (diverged)";

/// One run's history and the curve it belongs to.
pub struct Curve<'a> {
    /// Runs with the same label are averaged (seeds).
    pub label: String,
    pub history: &'a [Metrics],
}

/// How the figure is drawn: the plot command's defaults, or the
/// dashboard chart's settings when it exports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FigureOptions {
    /// Symmetric-log y axes (else linear).
    pub symlog: bool,
    /// x is training seconds instead of iterations.
    pub wall_time: bool,
    /// Exponential moving average weight of the curves (0: none).
    pub smoothing: f64,
}

impl Default for FigureOptions {
    fn default() -> Self {
        FigureOptions {
            symlog: true,
            wall_time: false,
            smoothing: 0.0,
        }
    }
}

/// A y axis in data units drawn on the symlog scale, ticked at 0 and
/// ±10^k, or on a linear one.
#[derive(Debug, Clone)]
struct YAxis {
    lo: f64,
    hi: f64,
    symlog: bool,
}

impl YAxis {
    fn scale(&self, y: f64) -> f64 {
        if self.symlog { symlog(y) } else { y }
    }
}

impl Ranged for YAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (a, b) = (self.scale(self.lo), self.scale(self.hi));
        let t = (self.scale(*value) - a) / (b - a).max(1e-12);
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let most = hint.max_num_points().max(2);
        if !self.symlog {
            return linear_ticks(self.lo, self.hi, most.min(8));
        }
        // Keep ticks at least 1/12 of the axis apart, so labels never overlap.
        let gap = (symlog(self.hi) - symlog(self.lo)) / 12.0;
        let mut kept: Vec<f64> = Vec::new();
        for t in symlog_ticks(self.lo, self.hi, most) {
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

impl ValueFormatter<f64> for YAxis {
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

/// One curve's (x, true return, q_est) points.
type Line = Vec<(f64, f64, f64)>;

/// (x, mean true return, mean q_est) per eval point of each label, x the
/// iteration or the mean training seconds, smoothed as asked.
/// Curves in [`natural_order`] of their labels (`1k` before `10k`).
fn averaged(curves: &[Curve], options: FigureOptions) -> Vec<(String, Line)> {
    type Sums = (f64, f64, f64, usize);
    let mut sums: BTreeMap<String, BTreeMap<u64, Sums>> = BTreeMap::new();
    for c in curves {
        let points = sums.entry(c.label.clone()).or_default();
        for m in c
            .history
            .iter()
            .filter(|m| m.true_return.is_finite() && m.q_est.is_finite())
        {
            let p = points.entry(m.iteration).or_insert((0.0, 0.0, 0.0, 0));
            let x = if options.wall_time {
                m.wall_time
            } else {
                m.iteration as f64
            };
            // Means, not sums: two estimates of 1e308 sum to ∞.
            p.3 += 1;
            p.0 = running_mean(p.0, x, p.3);
            p.1 = running_mean(p.1, m.true_return, p.3);
            p.2 = running_mean(p.2, m.q_est, p.3);
        }
    }
    let mut lines = sums
        .into_iter()
        .map(|(label, points)| {
            let (mut ema_j, mut ema_q) = (Ema::new(options.smoothing), Ema::new(options.smoothing));
            let line = points
                .into_values()
                .map(|(x, j, q, _)| (x, ema_j.next(j), ema_q.next(q)))
                .collect();
            (label, line)
        })
        .collect::<Vec<_>>();
    lines.sort_by(|a, b| natural_order(&a.0, &b.0));
    lines
}

/// Writes the two-panel figure to `path` (SVG).
pub fn write_svg(curves: &[Curve], title: &str, path: &Path, options: FigureOptions) -> Result<()> {
    write_svg_noted(curves, title, path, options, &[])
}

/// [`write_svg`] with `notes` written under the panels, one line each
/// (what has no curve, such as failed runs).
pub fn write_svg_noted(
    curves: &[Curve],
    title: &str,
    path: &Path,
    options: FigureOptions,
    notes: &[String],
) -> Result<()> {
    let lines = averaged(curves, options);
    if lines.iter().all(|(_, points)| points.is_empty()) {
        return Err(Error::Invalid("no eval points to plot yet".into()));
    }
    let failed = |e: &dyn std::fmt::Display| Error::File {
        path: path.to_path_buf(),
        message: format!("cannot draw the figure: {e}"),
    };
    let x_max = lines
        .iter()
        .flat_map(|(_, points)| points)
        .map(|p| p.0)
        .fold(f64::MIN_POSITIVE, f64::max);
    const NOTE_HEIGHT: u32 = 22;
    let height = 520 + NOTE_HEIGHT * notes.len() as u32;
    let root = SVGBackend::new(path, (1280, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let (root, under) = root.split_vertically(520);
    for (k, note) in notes.iter().enumerate() {
        under
            .draw_text(
                &crate::text::xml_text(note),
                &("sans-serif", 16).into_text_style(&under),
                (16, 2 + (NOTE_HEIGHT as usize * k) as i32),
            )
            .map_err(|e| failed(&e))?;
    }
    let root = root
        .titled(&crate::text::xml_text(title), ("sans-serif", 22))
        .map_err(|e| failed(&e))?;
    let panels = root.split_evenly((1, 2));
    for (panel, (name, pick)) in panels
        .iter()
        .zip([(LEFT_CAPTION, 1usize), (RIGHT_CAPTION, 2usize)])
    {
        let value = |p: &(f64, f64, f64)| if pick == 1 { p.1 } else { p.2 };
        let (lo, hi) = lines
            .iter()
            .flat_map(|(_, points)| points)
            .map(value)
            .fold((0.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
        // 15% beyond the extremes, up to f64::MAX (1.6e308 · 1.15 is ∞).
        let pad = |y: f64| (y + y.signum() * y.abs() * 0.15).clamp(f64::MIN, f64::MAX);
        let axis = YAxis {
            lo: pad(lo),
            hi: pad(hi),
            symlog: options.symlog,
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
            .x_desc(if options.wall_time {
                "training seconds"
            } else {
                "iteration"
            })
            .x_label_formatter(&|x| format_tick(*x))
            .y_desc(match (pick, options.symlog) {
                (1, true) => "discounted J(π) (symlog)",
                (1, false) => "discounted J(π)",
                (_, true) => "Q estimate of J(π) (symlog)",
                (_, false) => "Q estimate of J(π)",
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
                .label(crate::text::xml_text(label))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            // Where diverged runs stop: their last finite point.
            if let Some(end) = points.last().filter(|_| label.ends_with(DIVERGED)) {
                chart
                    .draw_series(std::iter::once(Cross::new(
                        (end.0, value(end)),
                        6,
                        colour.stroke_width(3),
                    )))
                    .map_err(|e| failed(&e))?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_left_panel_says_it_is_the_discounted_return_q_estimates() {
        let history: Vec<Metrics> = (0..3)
            .map(|k| Metrics {
                iteration: k,
                true_return: 0.5,
                q_est: 1.0 + k as f64,
                ..Default::default()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.svg");
        let curves = [Curve {
            label: "fqi · medium 1k".into(),
            history: &history,
        }];
        write_svg(&curves, "t", &path, FigureOptions::default()).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for text in [
            "true discounted return J(π), what Q estimates",
            "discounted J(π) (symlog)",
            "Q estimate q_est of J(π)",
        ] {
            assert!(svg.contains(text), "the figure lacks {text:?}");
        }
    }

    /// Seeds near f64::MAX average and pad without overflowing, the axis
    /// is ticked at round decades, and curves come in size order.
    #[test]
    fn estimates_near_the_largest_float_draw_in_size_order() {
        let climbing = |top: f64| -> Vec<Metrics> {
            (0..4)
                .map(|k| Metrics {
                    iteration: k * 10,
                    true_return: 0.0,
                    q_est: if k == 3 {
                        top
                    } else {
                        10f64.powi(100 * k as i32)
                    },
                    ..Default::default()
                })
                .collect()
        };
        let (a, b, small) = (climbing(1.6e308), climbing(1.7e308), climbing(1.0));
        let curves = [
            Curve {
                label: "fqi · medium 10k".into(),
                history: &small,
            },
            Curve {
                label: "fqi · medium 1k".into(),
                history: &a,
            },
            Curve {
                label: "fqi · medium 1k".into(),
                history: &b,
            },
        ];
        let lines = averaged(&curves, FigureOptions::default());
        assert_eq!(lines[0].0, "fqi · medium 1k");
        assert!((lines[0].1[3].2 - 1.65e308).abs() < 1e294, "{lines:?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.svg");
        write_svg(&curves, "t", &path, FigureOptions::default()).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        // Texts stand on their own lines between their tags.
        let texts: Vec<&str> = svg.lines().filter(|l| !l.starts_with('<')).collect();
        assert!(
            texts.contains(&"1e300") && texts.contains(&"1e100"),
            "{texts:?}"
        );
        assert!(!svg.contains("inf") && !svg.contains("NaN"), "{svg}");
        let first = |label: &str| texts.iter().position(|t| *t == label).unwrap();
        assert!(first("fqi · medium 1k") < first("fqi · medium 10k"));
    }

    /// Diverged runs keep their curve, ended by a `×` (drawn 3 px wide,
    /// nothing else is); notes (failed runs) are written under the panels.
    #[test]
    fn diverged_curves_end_in_a_cross_and_notes_are_written() {
        let history: Vec<Metrics> = (0..3)
            .map(|k| Metrics {
                iteration: k,
                true_return: 0.5,
                q_est: if k == 2 { f64::INFINITY } else { 1.0 },
                ..Default::default()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let draw = |label: &str, notes: &[String]| {
            let path = dir.path().join("f.svg");
            let curves = [Curve {
                label: label.into(),
                history: &history,
            }];
            write_svg_noted(&curves, "t", &path, FigureOptions::default(), notes).unwrap();
            std::fs::read_to_string(&path).unwrap()
        };
        let cross = "stroke-width=\"3\"";
        let plain = draw("fqi · medium 1k", &[]);
        assert!(!plain.contains(cross));
        let note = "failed, no curve: bc · medium 1k (1 run)".to_string();
        let diverged = draw(&format!("fqi · medium 1k{DIVERGED}"), &[note]);
        // One cross per panel (two strokes each).
        assert_eq!(diverged.matches(cross).count(), 4, "{diverged}");
        assert!(diverged.contains("(diverged)"));
        assert!(diverged.contains("failed, no curve: bc · medium 1k (1 run)"));
    }
}
