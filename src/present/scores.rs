//! The score table of the lecture: normalized score per algorithm ×
//! dataset, mean ± std over seeds, best per row marked, laid out like the
//! TD3+BC and ATAC tables: the behaviour policy's own score first, one
//! column per algorithm, a **Total** row. Shared by `pessimist report` and
//! the dashboard. The score is D4RL's, of the episode return R
//! (undiscounted, one episode within the time limit); each cell also holds
//! R and the discounted J(π), what Q estimates.
//!
//! Every run is counted, so a table never flatters the methods that blow up
//! or crash. The rules, one place for all views:
//! - a `done` run contributes its final score;
//! - a `diverged` run contributes its **last finite score** (the last eval
//!   point whose return or score is finite, [`scoring_point`]), and its
//!   cell is marked `†` (`12.3 ± 4.0†`); the mean includes it. A run that
//!   diverged before any finite eval point has no score: it only counts in
//!   the cell's `diverged` (a cell with nothing else shows `–†`);
//! - `failed` runs have no score and are counted beside the cell: `✗1`;
//! - queued, waiting, running, paused and cancelled runs are not results;
//!   while some run of a cell has not ended, the cell shows its progress,
//!   results so far over its runs (` 3/5`);
//! - the behaviour column is the behaviour policy's own score from each
//!   run's [`DatasetStats`] ([`behavior_score`]), mean ± std over the
//!   row's datasets (one per seed); it is never the best of its row;
//! - the Total row sums each column's row means over the rows where the
//!   column has a score; a column lacking some rows says so (`(2/3 rows)`)
//!   and cannot be the best total;
//! - where every return is the same (Baird-v0, TwoState-v0: all rewards
//!   0) D4RL's score is 0/0 and no score exists
//!   ([`crate::mdp::solve::normalized_score`] is NaN): the cell shows `–`
//!   (markdown), an empty field (CSV) or `null` (JSON), counts the run in
//!   `no_score` and still shows its R and J; such rows are not part of
//!   the Total, so they leave the other rows' ranking alone.

use super::labels::{DatasetKey, Labels};
use crate::eval::{DatasetStats, Metrics};
use crate::experiment::{RunConfig, RunStatus};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the table shows, for titles: the score is D4RL's, of the episode return.
pub const TITLE: &str = "normalized score (D4RL, of the episode return R)";
/// [`TITLE`] for narrower views, then the narrowest.
pub const SHORT_TITLES: [&str; 2] = [
    "normalized score (D4RL, episode return)",
    "normalized score (D4RL, of R)",
];
/// What the episode-return table of `report` shows.
pub const EPISODE_RETURN_TITLE: &str =
    "episode return R (undiscounted, one episode within the time limit)";
/// What the discounted-return table of `report` shows.
pub const TRUE_RETURN_TITLE: &str = "discounted return J(π) (what Q estimates)";
/// What the start-coverage table of `report` shows.
pub const START_COVERAGE_TITLE: &str =
    "start coverage (share of the start distribution on states the data visits)";
/// What the covered-estimate table of `report` shows.
pub const Q_EST_COVERED_TITLE: &str =
    "q_est on the covered start states (elsewhere Q holds a learner's convention)";
/// What the covered-return table of `report` shows.
pub const TRUE_RETURN_COVERED_TITLE: &str = "discounted return J(π) on the covered start states";
/// The behaviour column's header.
pub const BEHAVIOUR: &str = "behaviour";
/// The total row's label.
pub const TOTAL: &str = "Total";
/// Marks a cell with a diverged run.
pub const DIVERGED_MARK: char = '†';
/// Marks, with a count, a cell's failed runs.
pub const FAILED_MARK: char = '✗';

/// One run's score as text, `precision` decimals; `–` where there is none
/// (no eval point yet, or an environment without a score: NaN).
pub fn score_text(score: Option<f64>, precision: usize) -> String {
    match score {
        Some(x) if !x.is_nan() => crate::text::number(x, precision),
        _ => "–".into(),
    }
}

/// The eval point that scores a run: a `diverged` run's last point with a
/// finite episode return or score (`history` is read only then, and only
/// when `last` has neither), any other run's last point. The return, not
/// the score: on an environment without a score (all returns equal) a
/// finite point still gives R and J.
pub fn scoring_point<'a>(
    status: RunStatus,
    last: Option<&'a Metrics>,
    history: impl FnOnce() -> &'a [Metrics],
) -> Option<&'a Metrics> {
    if status != RunStatus::Diverged || last.is_some_and(has_result) {
        return last;
    }
    history().iter().rev().find(|m| has_result(m))
}

/// Whether an eval point gives the run a result: a finite return (its score
/// may not exist) or a finite score.
fn has_result(m: &Metrics) -> bool {
    m.episode_return.is_finite() || m.normalized_score.is_finite()
}

/// The behaviour's score of a dataset: exact where the data records one
/// stationary policy, else (`medium-replay`, `medium-expert`, imported
/// files) the score of its episodes' mean return, as ATAC's table does.
pub fn behavior_score(stats: &DatasetStats) -> Option<f64> {
    stats
        .behavior_score
        .or(Some(stats.data_score))
        .filter(|s| s.is_finite())
}

/// One run as the table counts it.
#[derive(Debug, Clone, Copy)]
pub struct RunResult<'a> {
    pub config: &'a RunConfig,
    pub status: RunStatus,
    /// Its [`scoring_point`].
    pub point: Option<&'a Metrics>,
    /// Its dataset's [`behavior_score`].
    pub behavior: Option<f64>,
}

/// Values over seeds, their mean and sample standard deviation (0 for
/// one seed, NaN for none); NaN values (eval points written before a
/// metric existed) make both NaN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stat {
    pub values: Vec<f64>,
    pub mean: f64,
    pub std: f64,
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = match values.len() {
        0 => f64::NAN,
        1 if mean.is_nan() => f64::NAN,
        1 => 0.0,
        _ => (values.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    };
    (mean, std)
}

impl Stat {
    pub fn new(values: Vec<f64>) -> Self {
        let (mean, std) = mean_std(&values);
        Stat { values, mean, std }
    }

    /// `0.412 ± 0.013` with `precision` decimals; `–` when unknown.
    pub fn text(&self, precision: usize) -> String {
        if self.mean.is_finite() {
            format!("{:.precision$} ± {:.precision$}", self.mean, self.std)
        } else {
            "–".into()
        }
    }
}

/// Scores of one algorithm on one dataset, the returns they come from, and
/// how many of the pair's runs diverged, failed or have not ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreCell {
    /// D4RL's normalized score of each scored run's episode return (done
    /// runs' final, diverged runs' last finite); runs of an environment
    /// without a score are not in it (see `no_score`).
    pub scores: Vec<f64>,
    /// NaN (`null` in JSON, `–` in text) when no run has a score.
    pub mean: f64,
    /// Sample standard deviation (0 for one seed).
    pub std: f64,
    /// The episode return R (undiscounted, within the time limit).
    pub episode_return: Stat,
    /// The discounted return J(π).
    pub true_return: Stat,
    /// The share of the start distribution the data visits.
    pub start_coverage: Stat,
    /// q_est and J(π) over the covered start states only.
    pub q_est_covered: Stat,
    pub true_return_covered: Stat,
    /// Runs that diverged, scored by their last finite eval point...
    pub diverged: usize,
    /// ...except these, which diverged before any finite one (no score).
    pub diverged_unscored: usize,
    /// Runs that failed (an error; no score).
    pub failed: usize,
    /// Runs not ended yet: queued, waiting, running or paused.
    pub pending: usize,
    /// Every run of the pair, whatever its status.
    pub runs: usize,
    /// Runs with a return but no score: their environment has none
    /// (R_best = R_random, so D4RL's score is 0/0).
    pub no_score: usize,
}

impl ScoreCell {
    /// From each seed's final eval point, every run done.
    pub fn new(points: &[Metrics]) -> Self {
        Self::counted(points, Counts::default())
    }

    fn counted(points: &[Metrics], counts: Counts) -> Self {
        let (scores, no_score): (Vec<f64>, Vec<f64>) = points
            .iter()
            .map(|m| m.normalized_score)
            .partition(|s| !s.is_nan());
        let (mean, std) = mean_std(&scores);
        let stat = |metric: fn(&Metrics) -> f64| Stat::new(points.iter().map(metric).collect());
        ScoreCell {
            scores,
            mean,
            std,
            episode_return: stat(|m| m.episode_return),
            true_return: stat(|m| m.true_return),
            start_coverage: stat(|m| m.start_coverage),
            q_est_covered: stat(|m| m.q_est_covered),
            true_return_covered: stat(|m| m.true_return_covered),
            diverged: counts.diverged,
            diverged_unscored: counts.diverged_unscored,
            failed: counts.failed,
            pending: counts.pending,
            runs: counts.runs.max(points.len()),
            no_score: no_score.len(),
        }
    }

    /// `72.4 ± 3.1` and the cell's marks (`72.4 ± 3.1† ✗1`).
    pub fn text(&self) -> String {
        let mean = Stat {
            values: Vec::new(),
            mean: self.mean,
            std: self.std,
        };
        format!("{}{}", mean.text(1), self.marks())
    }

    /// The mean alone and the marks, for narrow views (`72.4†`).
    pub fn short_text(&self) -> String {
        if self.mean.is_finite() {
            format!("{:.1}{}", self.mean, self.marks())
        } else {
            format!("–{}", self.marks())
        }
    }

    /// `†` if a run diverged, ` ✗n` for n failed runs, ` k/n` while some
    /// of the n runs have not ended (k have).
    pub fn marks(&self) -> String {
        let mut out = String::new();
        if self.diverged > 0 {
            out.push(DIVERGED_MARK);
        }
        if self.failed > 0 {
            out.push_str(&format!(" {FAILED_MARK}{}", self.failed));
        }
        if self.pending > 0 {
            out.push_str(&format!(" {}/{}", self.runs - self.pending, self.runs));
        }
        out
    }
}

/// How a cell's runs ended, beside its scored points.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    diverged: usize,
    diverged_unscored: usize,
    failed: usize,
    pending: usize,
    runs: usize,
    no_score: usize,
}

/// A column's Total: the sum of its row means over the rows where it has
/// a score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Total {
    pub sum: f64,
    /// Rows summed...
    pub rows: usize,
    /// ...of the table's rows.
    pub of: usize,
    /// Some summed cell holds a diverged run's score.
    pub diverged: bool,
}

impl Total {
    fn new(means: impl Iterator<Item = (f64, bool)>, of: usize) -> Self {
        let mut total = Total {
            sum: 0.0,
            rows: 0,
            of,
            diverged: false,
        };
        for (mean, diverged) in means.filter(|(m, _)| m.is_finite()) {
            total.sum += mean;
            total.rows += 1;
            total.diverged |= diverged;
        }
        total
    }

    /// Whether every row is summed (else it is not ranked).
    pub fn complete(&self) -> bool {
        self.rows == self.of && self.of > 0
    }

    /// `412.3`, `412.3†`, `301.0 (2/3 rows)`; `–` with no row.
    pub fn text(&self) -> String {
        self.text_with(" rows")
    }

    /// [`Total::text`] for narrow views: `301.0 (2/3)`.
    pub fn short_text(&self) -> String {
        self.text_with("")
    }

    fn text_with(&self, rows: &str) -> String {
        if self.rows == 0 {
            return "–".into();
        }
        let mut out = format!("{:.1}", self.sum);
        if self.diverged {
            out.push(DIVERGED_MARK);
        }
        if !self.complete() {
            out.push_str(&format!(" ({}/{}{rows})", self.rows, self.of));
        }
        out
    }
}

/// Rows are dataset groups, columns algorithm groups, both labelled by
/// [`Labels`]: runs differing only in their seed share a cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScoreTable {
    /// `env` + [`Labels::data`], the environment always named.
    pub datasets: Vec<String>,
    /// The same rows without the environment (`medium 10k`), for narrow
    /// views or when all rows share one environment.
    pub short_datasets: Vec<String>,
    pub algos: Vec<String>,
    /// `cells[row][column]`, `None` where the pair has no run.
    pub cells: Vec<Vec<Option<ScoreCell>>>,
    /// The behaviour's score per row, over the row's datasets (one per
    /// seed); `None` where no run of the row has its dataset's statistics.
    pub behavior: Vec<Option<Stat>>,
    /// The Total row, per column of `algos`.
    pub total: Vec<Total>,
    /// The behaviour column's Total.
    pub behavior_total: Option<Total>,
}

/// A row's labels, its runs per algorithm, and its behaviour's score per seed.
type Row<'a> = (
    String,
    String,
    BTreeMap<String, (Vec<Metrics>, Counts)>,
    BTreeMap<u64, f64>,
);

impl ScoreTable {
    /// Every run given, counted by the rules of the module doc. Labels
    /// tell apart every group of the runs given, finished or not, so they
    /// do not change as runs end; a run listed twice (one config in two
    /// specs) counts once.
    pub fn build<'a>(runs: impl IntoIterator<Item = RunResult<'a>>) -> Self {
        let mut seen = BTreeSet::new();
        let runs: Vec<_> = runs
            .into_iter()
            .filter(|r| seen.insert(r.config.id()))
            .collect();
        let labels = Labels::new(runs.iter().map(|r| r.config));
        let mut groups: BTreeMap<DatasetKey, Row> = BTreeMap::new();
        let mut algos: Vec<String> = Vec::new();
        for run in runs {
            let config = run.config;
            let algo = labels.algo(config);
            if !algos.contains(&algo) {
                algos.push(algo.clone());
            }
            let row = groups
                .entry(Labels::dataset_key(config))
                .or_insert_with(|| {
                    let data = labels.data(config);
                    (
                        labels.env_data(config),
                        data,
                        BTreeMap::new(),
                        BTreeMap::new(),
                    )
                });
            if let Some(b) = run.behavior {
                row.3.insert(config.seed, b);
            }
            let (points, counts) = row.2.entry(algo).or_default();
            counts.runs += 1;
            let scored = run.point.filter(|m| has_result(m));
            match run.status {
                RunStatus::Done => points.extend(scored.copied()),
                RunStatus::Diverged => {
                    counts.diverged += 1;
                    match scored {
                        Some(m) => points.push(*m),
                        None => counts.diverged_unscored += 1,
                    }
                }
                RunStatus::Failed => counts.failed += 1,
                RunStatus::Cancelled => {}
                RunStatus::Queued | RunStatus::Waiting | RunStatus::Running | RunStatus::Paused => {
                    counts.pending += 1
                }
            }
        }
        algos.sort();
        let mut table = ScoreTable {
            algos,
            ..Default::default()
        };
        for (_, (label, short, by_algo, behavior)) in groups {
            table.datasets.push(label);
            table.short_datasets.push(short);
            table
                .behavior
                .push((!behavior.is_empty()).then(|| Stat::new(behavior.into_values().collect())));
            table.cells.push(
                table
                    .algos
                    .iter()
                    .map(|a| {
                        by_algo
                            .get(a)
                            .map(|(points, counts)| ScoreCell::counted(points, *counts))
                    })
                    .collect(),
            );
        }
        // Rows of an environment without a score are not part of a Total.
        let rows = table
            .cells
            .iter()
            .filter(|row| !row.iter().flatten().any(|c| c.no_score > 0))
            .count();
        table.total = (0..table.algos.len())
            .map(|c| {
                Total::new(
                    table
                        .cells
                        .iter()
                        .filter_map(|row| row[c].as_ref())
                        .map(|cell| (cell.mean, cell.diverged > 0)),
                    rows,
                )
            })
            .collect();
        table.behavior_total = (rows > 0).then(|| {
            Total::new(
                table.behavior.iter().flatten().map(|s| (s.mean, false)),
                rows,
            )
        });
        table
    }

    /// The column with the highest mean score in `row`.
    pub fn best_in_row(&self, row: usize) -> Option<usize> {
        self.best_by(row, |c| c.mean)
    }

    /// The column with the highest Total over every row; columns lacking
    /// some rows are not ranked.
    pub fn best_total(&self) -> Option<usize> {
        self.total
            .iter()
            .enumerate()
            .filter(|(_, t)| t.complete() && t.sum.is_finite())
            .max_by(|a, b| a.1.sum.total_cmp(&b.1.sum))
            .map(|(i, _)| i)
    }

    /// The column with the highest finite `value` in `row`.
    fn best_by(&self, row: usize, value: impl Fn(&ScoreCell) -> f64) -> Option<usize> {
        self.cells[row]
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (i, value(c))))
            .filter(|(_, v)| v.is_finite())
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }

    /// The behaviour column's text in `row`.
    pub fn behavior_text(&self, row: usize) -> String {
        self.behavior[row]
            .as_ref()
            .map_or_else(|| "–".into(), |s| s.text(1))
    }

    /// Every cell's runs, summed: (runs, diverged, of them unscored,
    /// failed, not ended).
    fn counts(&self) -> Counts {
        let mut all = Counts::default();
        for cell in self.cells.iter().flatten().flatten() {
            all.runs += cell.runs;
            all.diverged += cell.diverged;
            all.diverged_unscored += cell.diverged_unscored;
            all.failed += cell.failed;
            all.pending += cell.pending;
            all.no_score += cell.no_score;
        }
        all
    }

    /// What the marks in the table mean, one line each, only for the
    /// marks it holds (the Total line always).
    pub fn legend(&self) -> Vec<String> {
        let c = self.counts();
        let mut lines = Vec::new();
        if c.diverged > 0 {
            let none = if c.diverged_unscored > 0 {
                format!(", {} with none: no score", c.diverged_unscored)
            } else {
                String::new()
            };
            lines.push(format!(
                "{DIVERGED_MARK} diverged (Q hit NaN/∞), scored by its last finite eval point \
                 ({} of {} runs{none})",
                c.diverged, c.runs
            ));
        }
        if c.failed > 0 {
            lines.push(format!(
                "{FAILED_MARK}n: n runs failed, no score ({} of {} runs)",
                c.failed, c.runs
            ));
        }
        if c.pending > 0 {
            lines.push(format!(
                "k/n: k of the cell's n runs ended ({} of {} runs not yet)",
                c.pending, c.runs
            ));
        }
        if c.no_score > 0 {
            lines.push(format!(
                "–: no score where every return is the same (all rewards 0: 0/0), \
                 not in the Total ({} of {} runs)",
                c.no_score, c.runs
            ));
        }
        lines.push(format!(
            "{TOTAL}: sum of the row means; (k/n rows): only k scored, not ranked"
        ));
        lines
    }

    /// The score table under its title, with the behaviour column, the
    /// Total row and the legend of its marks; then the same layout (no
    /// behaviour, no Total) for the episode return R, the discounted J(π),
    /// the start coverage and q_est and J(π) on the covered start states,
    /// each with its title. The best is bold only where higher is better:
    /// returns, not coverage or belief.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("## {TITLE}, mean ± std over seeds\n\n");
        out.push_str(&self.markdown_table(true, |c| (c.mean, c.text())));
        out.push('\n');
        for line in self.legend() {
            out.push_str(&format!("{line}  \n"));
        }
        type Pick = fn(&ScoreCell) -> &Stat;
        let tables: [(&str, Pick, bool); 5] = [
            (EPISODE_RETURN_TITLE, |c| &c.episode_return, true),
            (TRUE_RETURN_TITLE, |c| &c.true_return, true),
            (START_COVERAGE_TITLE, |c| &c.start_coverage, false),
            (Q_EST_COVERED_TITLE, |c| &c.q_est_covered, false),
            (TRUE_RETURN_COVERED_TITLE, |c| &c.true_return_covered, true),
        ];
        for (title, pick, ranked) in tables {
            out.push_str(&format!("\n## {title}, mean ± std over seeds\n\n"));
            out.push_str(&self.markdown_table(false, |c| {
                let rank = if ranked { pick(c).mean } else { f64::NAN };
                (rank, format!("{}{}", pick(c).text(3), c.marks()))
            }));
        }
        out
    }

    /// One markdown table of `value` (the mean that ranks, NaN for none,
    /// and the text) per cell, the best per row in bold; `lecture` adds the behaviour
    /// column and the Total row.
    fn markdown_table(&self, lecture: bool, value: impl Fn(&ScoreCell) -> (f64, String)) -> String {
        let bold = |text: String, best: bool| if best { format!("**{text}**") } else { text };
        let behaviour = if lecture {
            format!(" {BEHAVIOUR} |")
        } else {
            String::new()
        };
        let columns = self.algos.len() + usize::from(lecture);
        let mut out = format!("| dataset |{behaviour} {} |\n", self.algos.join(" | "));
        out.push_str(&format!("|---|{}\n", "---:|".repeat(columns)));
        for (r, dataset) in self.datasets.iter().enumerate() {
            let best = self.best_by(r, |c| value(c).0);
            let mut cells: Vec<String> = Vec::new();
            if lecture {
                cells.push(self.behavior_text(r));
            }
            cells.extend(
                self.cells[r]
                    .iter()
                    .enumerate()
                    .map(|(c, cell)| match cell {
                        Some(cell) => bold(value(cell).1, Some(c) == best),
                        None => "–".into(),
                    }),
            );
            out.push_str(&format!("| {dataset} | {} |\n", cells.join(" | ")));
        }
        if lecture {
            let best = self.best_total();
            let cells: Vec<String> =
                std::iter::once(self.behavior_total.map_or_else(|| "–".into(), |t| t.text()))
                    .chain(
                        self.total
                            .iter()
                            .enumerate()
                            .map(|(c, t)| bold(t.text(), Some(c) == best)),
                    )
                    .collect();
            out.push_str(&format!("| **{TOTAL}** | {} |\n", cells.join(" | ")));
        }
        out
    }

    /// Long format: one line per (dataset, algorithm) with its counts,
    /// then the behaviour (algo `behaviour`, per dataset) and the Total
    /// row (dataset `Total`: n rows summed, mean the sum), as records.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = [
            "dataset",
            "algo",
            "n",
            "mean",
            "std",
            "episode_return_mean",
            "episode_return_std",
            "true_return_mean",
            "true_return_std",
            "start_coverage_mean",
            "start_coverage_std",
            "q_est_covered_mean",
            "q_est_covered_std",
            "true_return_covered_mean",
            "true_return_covered_std",
            "diverged",
            "failed",
            "runs",
        ];
        let _ = w.write_record(header);
        let num = |x: f64| {
            if x.is_finite() {
                x.to_string()
            } else {
                String::new()
            }
        };
        for (r, dataset) in self.datasets.iter().enumerate() {
            if let Some(b) = &self.behavior[r] {
                let mut record = vec![
                    dataset.clone(),
                    BEHAVIOUR.into(),
                    b.values.len().to_string(),
                    num(b.mean),
                    num(b.std),
                ];
                record.resize(header.len(), String::new());
                let _ = w.write_record(record);
            }
            for (c, algo) in self.algos.iter().enumerate() {
                if let Some(cell) = &self.cells[r][c] {
                    let mut record = vec![
                        dataset.clone(),
                        algo.clone(),
                        cell.scores.len().to_string(),
                        num(cell.mean),
                        num(cell.std),
                    ];
                    for stat in [
                        &cell.episode_return,
                        &cell.true_return,
                        &cell.start_coverage,
                        &cell.q_est_covered,
                        &cell.true_return_covered,
                    ] {
                        record.extend([num(stat.mean), num(stat.std)]);
                    }
                    record.extend([
                        cell.diverged.to_string(),
                        cell.failed.to_string(),
                        cell.runs.to_string(),
                    ]);
                    let _ = w.write_record(record);
                }
            }
        }
        let totals = self
            .behavior_total
            .iter()
            .map(|t| (BEHAVIOUR, t))
            .chain(self.algos.iter().map(String::as_str).zip(&self.total));
        for (algo, t) in totals.filter(|(_, t)| t.rows > 0) {
            let mut record = vec![
                TOTAL.to_string(),
                algo.to_string(),
                t.rows.to_string(),
                num(t.sum),
            ];
            record.resize(header.len(), String::new());
            let _ = w.write_record(record);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(algo: &str, size: u64, seed: u64) -> RunConfig {
        RunConfig {
            spec: "s".into(),
            gamma: 0.9,
            iterations: 10,
            eval_every: 1,
            ..RunConfig::example("ThreeState-v0", algo, size, seed)
        }
    }

    /// A final eval point whose returns follow from the score.
    fn scored(score: f64) -> Metrics {
        Metrics {
            normalized_score: score,
            episode_return: score / 10.0,
            true_return: score / 200.0,
            ..Default::default()
        }
    }

    /// A run as the table counts it, with no behaviour score.
    fn result<'a>(
        c: &'a RunConfig,
        status: RunStatus,
        point: Option<&'a Metrics>,
    ) -> RunResult<'a> {
        RunResult {
            config: c,
            status,
            point,
            behavior: None,
        }
    }

    #[test]
    fn mean_std_and_best_per_row() {
        let configs = [
            run("fqi", 10_000, 0),
            run("fqi", 10_000, 1),
            run("bc", 10_000, 0),
            run("bc", 1_000, 0),
        ];
        let metrics = [scored(80.0), scored(100.0), scored(50.0), scored(40.0)];
        let statuses = [
            RunStatus::Done,
            RunStatus::Done,
            RunStatus::Done,
            RunStatus::Failed,
        ];
        let table = ScoreTable::build(
            configs
                .iter()
                .zip(statuses)
                .zip(&metrics)
                .map(|((c, s), m)| result(c, s, Some(m))),
        );
        assert_eq!(table.algos, vec!["bc", "fqi"]);
        // The failed run's dataset is a row: it is counted, not dropped.
        assert_eq!(
            table.datasets,
            vec!["ThreeState-v0 medium 1k", "ThreeState-v0 medium 10k"]
        );
        assert_eq!(table.short_datasets, vec!["medium 1k", "medium 10k"]);
        let fqi = table.cells[1][1].as_ref().unwrap();
        assert_eq!(fqi.mean, 90.0);
        assert!((fqi.std - 200f64.sqrt()).abs() < 1e-12);
        assert_eq!(table.best_in_row(1), Some(1));
        let md = table.to_markdown();
        assert!(
            md.contains("| ThreeState-v0 medium 10k | – | 50.0 ± 0.0 | **90.0 ± 14.1** |"),
            "{md}"
        );
        assert!(
            table
                .to_csv()
                .contains("ThreeState-v0 medium 10k,fqi,2,90,")
        );
        // Each cell carries the returns beside the score.
        assert_eq!(fqi.episode_return.values, [8.0, 10.0]);
        assert_eq!(fqi.episode_return.mean, 9.0);
        assert_eq!(fqi.true_return.mean, 0.45);
        assert!(md.starts_with(&format!("## {TITLE}")), "{md}");
        assert!(
            md.contains("| ThreeState-v0 medium 10k | 5.000 ± 0.000 | **9.000 ± 1.414** |"),
            "{md}"
        );
        assert!(md.contains(EPISODE_RETURN_TITLE) && md.contains(TRUE_RETURN_TITLE));
    }

    /// The covered metrics have their own tables (bold only for the
    /// return) and CSV columns beside the returns; old points, without
    /// them, leave those empty.
    #[test]
    fn covered_metrics_have_their_tables_and_columns() {
        let configs = [
            run("fqi", 1_000, 0),
            run("fqi", 1_000, 1),
            run("bc", 1_000, 0),
        ];
        let covered = |coverage, q_est, j| Metrics {
            start_coverage: coverage,
            q_est_covered: q_est,
            true_return_covered: j,
            ..scored(50.0)
        };
        let points = [covered(0.5, 4.0, 1.0), covered(0.7, 6.0, 2.0), scored(40.0)];
        let table = ScoreTable::build(
            configs
                .iter()
                .zip(&points)
                .map(|(c, m)| result(c, RunStatus::Done, Some(m))),
        );
        assert_eq!(table.algos, ["bc", "fqi"]);
        let fqi = table.cells[0][1].as_ref().unwrap();
        assert_eq!(fqi.start_coverage.values, [0.5, 0.7]);
        assert_eq!(
            (fqi.q_est_covered.mean, fqi.true_return_covered.mean),
            (5.0, 1.5)
        );
        let md = table.to_markdown();
        for title in [
            START_COVERAGE_TITLE,
            Q_EST_COVERED_TITLE,
            TRUE_RETURN_COVERED_TITLE,
        ] {
            assert!(md.contains(&format!("## {title}")), "{md}");
        }
        assert!(
            md.contains("| ThreeState-v0 medium 1k | – | 0.600 ± 0.141 |"),
            "{md}"
        );
        assert!(md.contains("| – | 5.000 ± 1.414 |"), "{md}");
        assert!(md.contains("| – | **1.500 ± 0.707** |"), "{md}");
        let csv = table.to_csv();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let column = |name| header.iter().position(|h| *h == name).unwrap();
        let fqi_row: Vec<&str> = csv.lines().nth(2).unwrap().split(',').collect();
        assert_eq!(fqi_row[1], "fqi", "{csv}");
        assert_eq!(fqi_row[column("start_coverage_mean")], "0.6", "{csv}");
        assert_eq!(fqi_row[column("q_est_covered_mean")], "5", "{csv}");
        assert_eq!(fqi_row[column("true_return_covered_mean")], "1.5", "{csv}");
        let bc_row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(bc_row[column("start_coverage_mean")], "", "{csv}");
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["cells"][0][1]["start_coverage"]["mean"], 0.6);
        assert!(json["cells"][0][0]["q_est_covered"]["mean"].is_null());
    }

    #[test]
    fn returns_unknown_in_old_metrics_show_as_a_dash() {
        let old = Metrics {
            episode_return: f64::NAN,
            ..scored(10.0)
        };
        let cell = ScoreCell::new(&[old]);
        assert_eq!(cell.text(), "10.0 ± 0.0");
        assert_eq!(cell.episode_return.text(3), "–");
    }

    /// A diverged run is scored by its last eval point with a finite score,
    /// which counts in the mean; the cell is marked † and the legend says
    /// how many diverged, and how many had no finite point at all.
    #[test]
    fn diverged_runs_count_with_their_last_finite_score() {
        let history = [scored(10.0), scored(30.0), scored(f64::NAN)];
        let never = [scored(f64::INFINITY)];
        // Read only for a diverged run whose last point is not finite.
        let point = scoring_point(RunStatus::Diverged, history.last(), || &history);
        assert_eq!(point.map(|m| m.normalized_score), Some(30.0));
        let done = scored(70.0);
        let scoring = scoring_point(RunStatus::Done, Some(&done), || unreachable!());
        assert!(std::ptr::eq(scoring.unwrap(), &done));
        let configs = [
            run("fqi", 1_000, 0),
            run("fqi", 1_000, 1),
            run("fqi", 1_000, 2),
        ];
        let table = ScoreTable::build([
            result(&configs[0], RunStatus::Done, Some(&done)),
            result(&configs[1], RunStatus::Diverged, point),
            result(
                &configs[2],
                RunStatus::Diverged,
                scoring_point(RunStatus::Diverged, never.last(), || &never),
            ),
        ]);
        let cell = table.cells[0][0].as_ref().unwrap();
        assert_eq!(cell.scores, [70.0, 30.0]);
        assert_eq!(cell.mean, 50.0);
        assert_eq!(
            (cell.diverged, cell.diverged_unscored, cell.runs),
            (2, 1, 3)
        );
        assert_eq!(cell.text(), format!("50.0 ± 28.3{DIVERGED_MARK}"));
        assert_eq!(cell.short_text(), "50.0†");
        let legend = table.legend();
        assert!(
            legend[0].starts_with("† diverged") && legend[0].contains("(2 of 3 runs"),
            "{legend:?}"
        );
        assert!(legend[0].contains("1 with none: no score"), "{legend:?}");
        let md = table.to_markdown();
        assert!(
            md.contains("| ThreeState-v0 medium 1k | – | **50.0 ± 28.3†** |"),
            "{md}"
        );
        assert!(
            md.contains(&legend[0]),
            "the footnote is under the table: {md}"
        );
        // The Total includes it, marked too.
        assert_eq!(table.total[0].text(), "50.0†");
        // Diverged with no finite point and nothing else: a dash, marked.
        let table = ScoreTable::build([result(&configs[2], RunStatus::Diverged, None)]);
        assert_eq!(table.cells[0][0].as_ref().unwrap().text(), "–†");
    }

    /// Where every return is the same (Baird-v0: all rewards 0) no score
    /// exists: the cell says so (`–`, empty CSV field, JSON null) and
    /// still gives R and J, a diverged run there is still marked, and the
    /// row stays out of the Total, so the other rows rank as before.
    #[test]
    fn environments_without_a_score_show_none_and_stay_out_of_the_total() {
        let baird = |seed| RunConfig {
            env: "Baird-v0".into(),
            ..run("fqi", 10_000, seed)
        };
        let (b0, b1, three) = (baird(0), baird(1), run("fqi", 1_000, 0));
        let none = Metrics {
            normalized_score: f64::NAN,
            episode_return: 0.0,
            true_return: 0.0,
            ..Default::default()
        };
        let diverged = [
            none,
            Metrics {
                q_est: f64::NAN,
                ..none
            },
        ];
        let point = scoring_point(RunStatus::Diverged, diverged.last(), || &diverged);
        assert!(point.is_some(), "a finite return is a result");
        let good = scored(60.0);
        let table = ScoreTable::build([
            result(&b0, RunStatus::Done, Some(&none)),
            result(&b1, RunStatus::Diverged, point),
            result(&three, RunStatus::Done, Some(&good)),
        ]);
        let row = table
            .datasets
            .iter()
            .position(|d| d.contains("Baird"))
            .unwrap();
        let cell = table.cells[row][0].as_ref().unwrap();
        assert!(cell.scores.is_empty() && cell.mean.is_nan(), "{cell:?}");
        assert_eq!((cell.no_score, cell.diverged, cell.runs), (2, 1, 2));
        assert_eq!(cell.text(), "–†");
        assert_eq!(cell.episode_return.text(3), "0.000 ± 0.000");
        assert_eq!(cell.true_return.text(3), "0.000 ± 0.000");
        // The Total: the scored row only, complete, so ranked.
        assert_eq!((table.total[0].rows, table.total[0].of), (1, 1));
        assert_eq!(table.total[0].text(), "60.0");
        assert_eq!(table.best_total(), Some(0));
        let md = table.to_markdown();
        assert!(md.contains("| Baird-v0 medium 10k | – | –† |"), "{md}");
        assert!(
            md.contains("–: no score where every return is the same"),
            "{md}"
        );
        assert!(!md.contains("100.0"), "{md}");
        let csv = table.to_csv();
        assert!(
            csv.contains("Baird-v0 medium 10k,fqi,0,,,0,0,0,0,,,,,,,1,0,2"),
            "{csv}"
        );
        let json = serde_json::to_value(&table).unwrap();
        let cell = &json["cells"][row][0];
        assert!(cell["mean"].is_null() && cell["std"].is_null(), "{cell}");
        assert_eq!(cell["no_score"], 2);
        assert_eq!(score_text(Some(f64::NAN), 1), "–");
        assert_eq!(score_text(None, 1), "–");
        assert_eq!(score_text(Some(12.345), 1), "12.3");
    }

    /// Failed runs have no score and are counted beside the cell, in every
    /// format; runs not ended show the cell's progress.
    #[test]
    fn failed_and_pending_runs_are_counted_beside_the_cell() {
        let configs: Vec<RunConfig> = (0..5).map(|seed| run("bc", 1_000, seed)).collect();
        let m = scored(40.0);
        let statuses = [
            RunStatus::Done,
            RunStatus::Failed,
            RunStatus::Running,
            RunStatus::Queued,
            RunStatus::Cancelled,
        ];
        let table = ScoreTable::build(
            configs
                .iter()
                .zip(statuses)
                .map(|(c, s)| result(c, s, Some(&m))),
        );
        let cell = table.cells[0][0].as_ref().unwrap();
        assert_eq!(cell.scores, [40.0], "only the done run scores");
        assert_eq!((cell.failed, cell.pending, cell.runs), (1, 2, 5));
        assert_eq!(cell.text(), format!("40.0 ± 0.0 {FAILED_MARK}1 3/5"));
        let legend = table.legend().join("\n");
        assert!(legend.contains("✗n: n runs failed, no score (1 of 5 runs)"));
        assert!(legend.contains("k/n: k of the cell's n runs ended (2 of 5 runs not yet)"));
        let csv = table.to_csv();
        let header = csv.lines().next().unwrap();
        assert!(header.ends_with(",diverged,failed,runs"), "{csv}");
        assert!(
            csv.contains("medium 1k,bc,1,40,0,4,0,0.2,0,,,,,,,0,1,5\n"),
            "{csv}"
        );
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["cells"][0][0]["failed"], 1);
        assert_eq!(json["cells"][0][0]["diverged"], 0);
        // A failed pair alone: no score, the count.
        let table = ScoreTable::build([result(&configs[1], RunStatus::Failed, None)]);
        assert_eq!(table.cells[0][0].as_ref().unwrap().text(), "– ✗1");
        assert_eq!(table.total[0].text(), "–");
    }

    /// The Total row sums each column's row means where it has a score; a
    /// column lacking rows says how many it sums and is not ranked.
    #[test]
    fn the_total_row_sums_row_means_and_ranks_only_complete_columns() {
        let configs = [
            run("bc", 1_000, 0),
            run("bc", 10_000, 0),
            run("bc", 10_000, 1),
            run("fqi", 1_000, 0),
            run("iql", 1_000, 0),
            run("iql", 10_000, 0),
        ];
        let points = [
            scored(10.0),
            scored(20.0),
            scored(40.0),
            scored(95.0),
            scored(30.0),
            scored(5.0),
        ];
        let table = ScoreTable::build(
            configs
                .iter()
                .zip(&points)
                .map(|(c, m)| result(c, RunStatus::Done, Some(m))),
        );
        assert_eq!(table.algos, ["bc", "fqi", "iql"]);
        let sums: Vec<(f64, usize)> = table.total.iter().map(|t| (t.sum, t.rows)).collect();
        assert_eq!(sums, [(40.0, 2), (95.0, 1), (35.0, 2)]);
        assert_eq!(table.total[1].text(), "95.0 (1/2 rows)");
        assert_eq!(table.total[1].short_text(), "95.0 (1/2)");
        // fqi's 95 covers one row only: bc's 40 is the best total.
        assert_eq!(table.best_total(), Some(0));
        let md = table.to_markdown();
        assert!(
            md.contains("| **Total** | – | **40.0** | 95.0 (1/2 rows) | 35.0 |"),
            "{md}"
        );
        let csv = table.to_csv();
        assert!(csv.contains("\nTotal,bc,2,40,"), "{csv}");
        assert!(csv.contains("\nTotal,fqi,1,95,"), "{csv}");
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["total"][0]["sum"], 40.0);
        assert_eq!(json["total"][1]["rows"], 1);
        assert_eq!(json["total"][1]["of"], 2);
    }

    /// The behaviour's own score: one value per dataset (seed), mean ± std
    /// over them, the data's return where no single policy is recorded;
    /// first column, with a Total, never the best of its row.
    #[test]
    fn the_behaviour_column_comes_first_and_never_ranks() {
        let stats = |behavior: Option<f64>, data: f64| DatasetStats {
            transitions: 10,
            episodes: 1,
            behavior_score: behavior,
            data_score: data,
            single_action_share: 1.0,
            mean_actions: 1.0,
            visited_states: 1,
            reachable_states: 1,
            state_coverage: 1.0,
            concentrability: 1.0,
        };
        assert_eq!(behavior_score(&stats(Some(60.0), 55.0)), Some(60.0));
        assert_eq!(behavior_score(&stats(None, 55.0)), Some(55.0));
        assert_eq!(behavior_score(&stats(None, f64::NAN)), None);
        let configs = [
            run("bc", 1_000, 0),
            run("fqi", 1_000, 0),
            run("bc", 1_000, 1),
            run("fqi", 1_000, 1),
        ];
        let (bc, fqi) = (scored(20.0), scored(10.0));
        // Seed 0's dataset scores 60, seed 1's 80; both algorithms share them.
        let table = ScoreTable::build(configs.iter().map(|c| RunResult {
            behavior: Some(if c.seed == 0 { 60.0 } else { 80.0 }),
            ..result(
                c,
                RunStatus::Done,
                Some(if c.algo == "bc" { &bc } else { &fqi }),
            )
        }));
        let b = table.behavior[0].as_ref().unwrap();
        assert_eq!(b.values, [60.0, 80.0], "one value per dataset");
        assert_eq!(b.mean, 70.0);
        assert_eq!(table.behavior_text(0), "70.0 ± 14.1");
        assert_eq!(table.behavior_total.unwrap().sum, 70.0);
        // Better than every algorithm, yet the best of the row is an algorithm.
        assert_eq!(table.best_in_row(0), Some(0));
        let md = table.to_markdown();
        assert!(md.contains("| dataset | behaviour | bc | fqi |"), "{md}");
        assert!(
            md.contains("| ThreeState-v0 medium 1k | 70.0 ± 14.1 | **20.0 ± 0.0** | 10.0 ± 0.0 |"),
            "{md}"
        );
        assert!(
            md.contains("| **Total** | 70.0 | **20.0** | 10.0 |"),
            "{md}"
        );
        // Only the score table has the behaviour column and the Total row.
        let returns = &md[md.find(EPISODE_RETURN_TITLE).unwrap()..];
        assert!(returns.contains("| dataset | bc | fqi |") && !returns.contains(TOTAL));
        let csv = table.to_csv();
        assert!(
            csv.contains("ThreeState-v0 medium 1k,behaviour,2,70,"),
            "{csv}"
        );
        assert!(csv.contains("Total,behaviour,1,70,"), "{csv}");
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["behavior"][0]["mean"], 70.0);
    }

    /// gamma × iterations × 2 seeds: four groups of two, not one of eight;
    /// the same run listed twice (two specs) counts once.
    #[test]
    fn only_seeds_are_pooled_and_duplicates_count_once() {
        let mut configs = Vec::new();
        for gamma in [0.5, 0.99] {
            for iterations in [1, 50] {
                for seed in [0, 1] {
                    configs.push(RunConfig {
                        gamma,
                        iterations,
                        ..run("fqi", 1_000, seed)
                    });
                }
            }
        }
        let twin = RunConfig {
            spec: "other".into(),
            ..configs[0].clone()
        };
        configs.push(twin);
        let m = scored(10.0);
        let table = ScoreTable::build(configs.iter().map(|c| result(c, RunStatus::Done, Some(&m))));
        assert_eq!(table.algos, vec!["fqi"]);
        assert_eq!(
            table.short_datasets,
            [
                "medium 1k gamma=0.5 iterations=1",
                "medium 1k gamma=0.5 iterations=50",
                "medium 1k gamma=0.99 iterations=1",
                "medium 1k gamma=0.99 iterations=50",
            ]
        );
        for row in &table.cells {
            assert_eq!(row[0].as_ref().unwrap().scores.len(), 2);
            assert_eq!(row[0].as_ref().unwrap().runs, 2);
        }
    }
}
