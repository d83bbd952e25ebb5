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
//!
//! How a printed table reads (markdown and LaTeX; the dashboard shows the
//! same cell texts and bold, so a paper and the screen agree):
//! - mean ± the **sample** standard deviation over seeds (n − 1 in the
//!   denominator); a cell of one seed shows its mean alone, there being no
//!   spread to show;
//! - the best of a row is bold, and so is every mean that prints the same
//!   at the table's precision: two cells that read `99.4` are bolded
//!   together, whatever their hidden digits (the Total row likewise);
//! - `↓` marks a cell below its row's best by Welch's t-test over seeds
//!   ([`welch_p`], two-sided, α = [`ALPHA`]); an unmarked cell is not
//!   shown to be worse, which is all a cell or a best of one seed can
//!   claim, so those are not tested;
//! - n is stated under the table, and beside a cell (`(n=2)`) where it
//!   differs from the table's usual n;
//! - where the truth is Monte-Carlo (a continuous environment), `[s]`
//!   after a cell is the mean over its runs of their standard errors:
//!   how much of the ± over seeds is evaluation noise, not the learners'
//!   spread ([`NOISE`]); exact truth has none and shows none;
//! - a continuous environment's classical controller (the lecture's PID
//!   row) is a row of its own under the datasets, its score in the
//!   behaviour column with `[se]`, measured on the runs' start states
//!   and rollout count ([`crate::eval::controller`]); never ranked, not
//!   in the Total. Measuring is evaluation, not presentation: the caller
//!   measures what [`controllers_of`] lists and hands the scores to
//!   [`ScoreTable::with_controllers`].

use super::labels::{DatasetKey, Labels};
use crate::env::Description;
use crate::eval::{ControllerScore, DatasetStats, Metrics};
use crate::experiment::{RunConfig, RunId, RunStatus};
use crate::text::number;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::{BTreeMap, BTreeSet};

/// What the table shows, for titles: the score is D4RL's, of the episode return.
pub const TITLE: &str = "normalized score (D4RL, of the episode return R)";
/// [`TITLE`] for narrower views, then the narrowest.
pub const SHORT_TITLES: [&str; 3] = [
    "normalized score (D4RL, episode return)",
    "normalized score (D4RL, of R)",
    "score (D4RL)",
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
/// Marks a cell below its row's best by Welch's t-test.
pub const BELOW_BEST_MARK: char = '↓';
/// The significance level of that test (two-sided).
pub const ALPHA: f64 = 0.05;
/// What `±` means, for captions and JSON.
pub const SPREAD: &str = "± is the sample standard deviation over seeds (n − 1 in the denominator)";
/// What [`BELOW_BEST_MARK`] means, for captions and JSON.
pub const BELOW_BEST: &str = "↓: below the row's best by Welch's t-test over seeds \
     (two-sided, α = 0.05); not tested where either cell has one seed";
/// What `[s]` means, for captions and JSON.
pub const NOISE: &str = "[s]: Monte-Carlo evaluation noise, the mean of the runs' standard \
     errors of their truth (rollouts from fixed starts); the ± over seeds includes it";
/// What a controller row is, for captions.
pub const CONTROLLER: &str = "controller: the environment's classical controller, not \
     learned, not ranked, not in the Total; its score by Monte-Carlo from the runs' start \
     states and rollouts, [s] its standard error";
/// Decimals of the score table (and of its ties).
const SCORE_DECIMALS: usize = 1;
/// Decimals of the return and coverage tables.
const STAT_DECIMALS: usize = 3;

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
pub fn has_result(m: &Metrics) -> bool {
    m.episode_return.is_finite() || m.normalized_score.is_finite()
}

/// The behaviour's score of a dataset ([`DatasetStats::score`]).
pub fn behavior_score(stats: &DatasetStats) -> Option<f64> {
    stats.score()
}

/// One run as the table counts it.
#[derive(Debug, Clone, Copy)]
pub struct RunResult<'a> {
    /// Its id, which the caller knows (a config's is a hash of its JSON,
    /// too slow to make again for a spec of a million runs).
    pub id: RunId,
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
    /// The mean of the runs' Monte-Carlo standard errors ([`NOISE`]);
    /// `None` where the truth is exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub se: Option<f64>,
}

/// The mean of standard errors, `None` unless there are some and every
/// one is finite (exact truth records none: NaN).
fn mean_se(ses: &[f64]) -> Option<f64> {
    (!ses.is_empty() && ses.iter().all(|s| s.is_finite()))
        .then(|| ses.iter().sum::<f64>() / ses.len() as f64)
}

/// ` [s]` at `decimals`, or nothing without a standard error.
pub fn noise_text(se: Option<f64>, decimals: usize) -> String {
    se.map_or_else(String::new, |s| format!(" [{}]", number(s, decimals)))
}

/// `text ± se` at `decimals` where `se` is a Monte-Carlo standard error
/// (the runs table's `J ± se`), `text` alone where the truth is exact
/// (NaN: none) or there is no value to qualify.
pub fn plus_se(text: String, se: f64, decimals: usize) -> String {
    if se.is_finite() && text != "-" && text != "–" {
        format!("{text} ± {}", number(se, decimals))
    } else {
        text
    }
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
        Self::with_se(values, &[])
    }

    /// With the runs' standard errors `ses` (none or NaN: exact truth).
    pub fn with_se(values: Vec<f64>, ses: &[f64]) -> Self {
        let (mean, std) = mean_std(&values);
        Stat {
            values,
            mean,
            std,
            se: mean_se(ses),
        }
    }

    /// `0.412 ± 0.013` with `precision` decimals, `0.412` for one value,
    /// ` [0.004]` after it where the truth is Monte-Carlo; `–` when
    /// unknown.
    pub fn text(&self, precision: usize) -> String {
        let spread = spread_text(self.mean, self.std, self.values.len(), precision);
        format!("{spread}{}", noise_text(self.se, precision))
    }
}

/// `mean ± std` at `decimals`; the mean alone for fewer than two values
/// (one seed has no spread: `± 0.0` would claim one); `–` when unknown.
fn spread_text(mean: f64, std: f64, n: usize, decimals: usize) -> String {
    match n {
        _ if !mean.is_finite() => "–".into(),
        0 | 1 => number(mean, decimals),
        _ => format!("{} ± {}", number(mean, decimals), number(std, decimals)),
    }
}

/// Welch's t-test of two samples' means (unequal variances): the
/// two-sided p-value, from Student's t with the Welch–Satterthwaite
/// degrees of freedom. `None` with fewer than two values on a side or a
/// value that is not finite. Two samples without spread are exactly as
/// far apart as their means say: p is 0 if those differ, 1 if not.
pub fn welch_p(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 2 || b.len() < 2 || !a.iter().chain(b).all(|x| x.is_finite()) {
        return None;
    }
    let ((ma, sa), (mb, sb)) = (mean_std(a), mean_std(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    // Each mean's squared standard error.
    let (ea, eb) = (sa * sa / na, sb * sb / nb);
    let (diff, se2) = (ma - mb, ea + eb);
    if se2 == 0.0 {
        return Some(if diff == 0.0 { 1.0 } else { 0.0 });
    }
    let t = diff / se2.sqrt();
    let df = se2 * se2 / (ea * ea / (na - 1.0) + eb * eb / (nb - 1.0));
    let student = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * student.sf(t.abs())).min(1.0))
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
    /// The mean of the scored runs' Monte-Carlo standard errors of their
    /// score ([`NOISE`]); `None` where the truth is exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub se: Option<f64>,
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
    /// The row's best mean, or equal to it as printed (one decimal).
    pub best: bool,
    /// Welch's two-sided p-value ([`welch_p`]) of the difference from the
    /// row's best cell; `None` for that cell, and where either has fewer
    /// than two scores.
    pub p_best: Option<f64>,
    /// Below the row's best: not `best`, and `p_best` < [`ALPHA`].
    pub below_best: bool,
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
        let of = |metric: fn(&Metrics) -> f64| points.iter().map(metric).collect::<Vec<_>>();
        let scored_ses: Vec<f64> = points
            .iter()
            .filter(|m| !m.normalized_score.is_nan())
            .map(|m| m.normalized_score_se)
            .collect();
        ScoreCell {
            scores,
            mean,
            std,
            se: mean_se(&scored_ses),
            episode_return: Stat::with_se(of(|m| m.episode_return), &of(|m| m.episode_return_se)),
            true_return: Stat::with_se(of(|m| m.true_return), &of(|m| m.true_return_se)),
            start_coverage: stat(|m| m.start_coverage),
            q_est_covered: stat(|m| m.q_est_covered),
            true_return_covered: stat(|m| m.true_return_covered),
            diverged: counts.diverged,
            diverged_unscored: counts.diverged_unscored,
            failed: counts.failed,
            pending: counts.pending,
            runs: counts.runs.max(points.len()),
            no_score: no_score.len(),
            best: false,
            p_best: None,
            below_best: false,
        }
    }

    /// `72.4 ± 3.1` (`72.4` for one seed), its evaluation noise where the
    /// truth is Monte-Carlo (`72.4 ± 3.1 [0.8]`) and the cell's marks
    /// (`72.4 ± 3.1† ✗1`).
    pub fn text(&self) -> String {
        let mean = spread_text(self.mean, self.std, self.scores.len(), SCORE_DECIMALS);
        let noise = noise_text(self.se.filter(|_| self.mean.is_finite()), SCORE_DECIMALS);
        format!("{mean}{noise}{}", self.marks())
    }

    /// The mean alone and the marks, for narrow views (`72.4†`).
    pub fn short_text(&self) -> String {
        let mean = spread_text(self.mean, 0.0, 1, SCORE_DECIMALS);
        format!("{mean}{}", self.marks())
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
    /// The best complete Total, or equal to it as printed.
    pub best: bool,
}

impl Total {
    fn new(means: impl Iterator<Item = (f64, bool)>, of: usize) -> Self {
        let mut total = Total {
            sum: 0.0,
            rows: 0,
            of,
            diverged: false,
            best: false,
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
        let mut out = number(self.sum, SCORE_DECIMALS);
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
    /// A row per continuous environment (and rollout count) of the runs:
    /// its classical controller's score.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub controllers: Vec<ControllerRow>,
}

/// A classical controller's row: its labels as the dataset rows have
/// them, and its Monte-Carlo score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControllerRow {
    /// `MountainCar-v0 controller: energy pumping`.
    pub label: String,
    /// `controller: energy pumping`.
    pub short_label: String,
    #[serde(flatten)]
    pub measured: ControllerScore,
}

impl ControllerRow {
    /// `100.3 [0.4]`: the score and its standard error.
    pub fn text(&self) -> String {
        let m = &self.measured;
        let score = score_text(Some(m.score), SCORE_DECIMALS);
        format!("{score}{}", noise_text(Some(m.score_se), SCORE_DECIMALS))
    }

    /// The score alone, for narrow views.
    pub fn short_text(&self) -> String {
        score_text(Some(self.measured.score), SCORE_DECIMALS)
    }
}

/// The controllers a table of runs with `configs` shows, as
/// [`crate::eval::controller::controller_scores`] measures them: one per
/// continuous environment and rollout count, in that order, at the first
/// γ seen of each (J's).
pub fn controllers_of<'a>(
    configs: impl IntoIterator<Item = &'a RunConfig>,
) -> Vec<(&'static Description, usize, f64)> {
    let mut wanted: BTreeMap<(&str, u64), (&'static Description, f64)> = BTreeMap::new();
    for c in configs {
        if let Some(d) = crate::env::continuous(&c.env) {
            let rollouts = c
                .rollouts
                .unwrap_or(crate::experiment::pipeline::DEFAULT_ROLLOUTS);
            wanted.entry((d.id, rollouts)).or_insert((d, c.gamma));
        }
    }
    wanted
        .into_iter()
        .map(|((_, rollouts), (d, gamma))| {
            (d, usize::try_from(rollouts).unwrap_or(usize::MAX), gamma)
        })
        .collect()
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
        let runs: Vec<_> = runs.into_iter().filter(|r| seen.insert(r.id)).collect();
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
                    counts.pending += 1;
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
        table.rank();
        table
    }

    /// With a row for each controller score in `measured` (those of
    /// [`controllers_of`] the runs, in its order), under the datasets.
    pub fn with_controllers(mut self, measured: &[ControllerScore]) -> Self {
        let envs: BTreeSet<&str> = measured.iter().map(|m| m.env).collect();
        self.controllers = measured
            .iter()
            .map(|&score| {
                let mut short_label = format!("controller: {}", score.name);
                if measured.len() > envs.len() {
                    short_label.push_str(&format!(" ({} rollouts)", score.rollouts));
                }
                ControllerRow {
                    label: format!("{} {short_label}", score.env),
                    short_label,
                    measured: score,
                }
            })
            .collect();
        self
    }

    /// Labels every row without its environment: a table of one
    /// environment need not name it on each.
    pub fn drop_environment_names(&mut self) {
        self.datasets.clone_from(&self.short_datasets);
        for c in &mut self.controllers {
            c.label.clone_from(&c.short_label);
        }
    }

    /// Marks the best of each row and of the Total row, ties as printed
    /// together, and tests every other scored cell against its row's best
    /// (the highest mean).
    pub(crate) fn rank(&mut self) {
        for row in &mut self.cells {
            let means: Vec<f64> = row
                .iter()
                .map(|c| c.as_ref().map_or(f64::NAN, |c| c.mean))
                .collect();
            let reference = means
                .iter()
                .enumerate()
                .filter(|(_, m)| m.is_finite())
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            let reference_scores = reference
                .and_then(|r| row[r].as_ref())
                .map(|c| c.scores.clone())
                .unwrap_or_default();
            for ((c, cell), best) in row.iter_mut().enumerate().zip(ties(&means, SCORE_DECIMALS)) {
                if let Some(cell) = cell {
                    cell.best = best;
                    cell.p_best = (Some(c) != reference)
                        .then(|| welch_p(&cell.scores, &reference_scores))
                        .flatten();
                    cell.below_best = !best && cell.p_best.is_some_and(|p| p < ALPHA);
                }
            }
        }
        let sums: Vec<f64> = self
            .total
            .iter()
            .map(|t| if t.complete() { t.sum } else { f64::NAN })
            .collect();
        for (total, best) in self.total.iter_mut().zip(ties(&sums, SCORE_DECIMALS)) {
            total.best = best;
        }
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
        let mut lines = self.marks_legend();
        lines.push(TOTAL_LEGEND.into());
        if !self.controllers.is_empty() {
            lines.push(CONTROLLER.into());
        }
        if self.noisy() {
            lines.push(NOISE.into());
        }
        lines
    }

    /// Whether some cell or row carries Monte-Carlo noise (`[s]`).
    fn noisy(&self) -> bool {
        !self.controllers.is_empty()
            || self
                .cells
                .iter()
                .flatten()
                .flatten()
                .any(|c| c.se.is_some())
    }

    /// [`ScoreTable::legend`] but the Total line.
    fn marks_legend(&self) -> Vec<String> {
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
        lines
    }

    /// The score table, with the behaviour column, the Total row, the
    /// significance marks and the legend of its marks; then the same
    /// layout (no behaviour, no Total) of the episode return R, the
    /// discounted J(π), the start coverage and q_est and J(π) on the
    /// covered start states. The best is bold only where higher is
    /// better: returns, not coverage or belief.
    fn printed(&self) -> Vec<Printed> {
        let scores = self
            .cells
            .iter()
            .zip(&self.behavior)
            .map(|(row, behaviour)| {
                let behaviour = behaviour
                    .as_ref()
                    .map(|b| Shown::of(b, String::new(), false));
                std::iter::once(behaviour)
                    .chain(row.iter().map(|c| {
                        c.as_ref().map(|c| Shown {
                            mean: c.mean,
                            std: c.std,
                            se: c.se,
                            n: c.scores.len(),
                            below_best: c.below_best,
                            marks: c.marks(),
                            bold: c.best,
                        })
                    }))
                    .collect()
            })
            .collect();
        let total = std::iter::once((self.behavior_total.map_or("–".into(), |t| t.text()), false))
            .chain(self.total.iter().map(|t| (t.text(), t.best)))
            .collect();
        let mut lecture = self.lay_out(TITLE, SCORE_DECIMALS, scores, Some(total), true);
        if !self.controllers.is_empty() {
            let blank = (String::new(), false);
            lecture.rows.extend(self.controllers.iter().map(|c| {
                let cells = std::iter::once((c.text(), false))
                    .chain(self.algos.iter().map(|_| blank.clone()));
                (c.label.clone(), cells.collect())
            }));
            lecture.notes.push(CONTROLLER.into());
            if !lecture.notes.iter().any(|n| n == NOISE) {
                lecture.notes.push(NOISE.into());
            }
        }
        let mut tables = vec![lecture];
        type Pick = fn(&ScoreCell) -> &Stat;
        let stats: [(&str, Pick, bool); 5] = [
            (EPISODE_RETURN_TITLE, |c| &c.episode_return, true),
            (TRUE_RETURN_TITLE, |c| &c.true_return, true),
            (START_COVERAGE_TITLE, |c| &c.start_coverage, false),
            (Q_EST_COVERED_TITLE, |c| &c.q_est_covered, false),
            (TRUE_RETURN_COVERED_TITLE, |c| &c.true_return_covered, true),
        ];
        for (title, pick, ranked) in stats {
            // A statistic no run has (start coverage on continuous
            // states, whose starts are never the data's) is no table.
            let measured = self.cells.iter().flatten().flatten();
            if !measured.map(|c| pick(c).mean).any(f64::is_finite) {
                continue;
            }
            let cells = self
                .cells
                .iter()
                .map(|row| {
                    let means: Vec<f64> = row
                        .iter()
                        .map(|c| c.as_ref().map_or(f64::NAN, |c| pick(c).mean))
                        .collect();
                    let best = ties(&means, STAT_DECIMALS);
                    row.iter()
                        .zip(best)
                        .map(|(c, best)| {
                            c.as_ref()
                                .map(|c| Shown::of(pick(c), c.marks(), ranked && best))
                        })
                        .collect()
                })
                .collect();
            tables.push(self.lay_out(title, STAT_DECIMALS, cells, None, ranked));
        }
        tables
    }

    /// The texts of one table: `(n=k)` beside the cells whose n is not
    /// the table's usual one, and the caption's notes. `total` (the Total
    /// row) makes it the lecture's table: a behaviour column first,
    /// significance marks, the legend of the marks.
    fn lay_out(
        &self,
        title: &str,
        decimals: usize,
        cells: Vec<Vec<Option<Shown>>>,
        total: Option<Vec<(String, bool)>>,
        ranked: bool,
    ) -> Printed {
        let lecture = total.is_some();
        let mut ns: BTreeMap<usize, usize> = BTreeMap::new();
        for shown in cells
            .iter()
            .flatten()
            .flatten()
            .filter(|s| s.mean.is_finite())
        {
            *ns.entry(shown.n).or_default() += 1;
        }
        // The commonest n (the larger on a tie).
        let usual = ns.iter().max_by_key(|&(n, k)| (k, n)).map(|(n, _)| *n);
        let noisy = cells.iter().flatten().flatten().any(|s| s.se.is_some());
        let rows = self
            .datasets
            .iter()
            .zip(cells)
            .map(|(label, row)| {
                let texts = row
                    .into_iter()
                    .map(|shown| match shown {
                        None => ("–".into(), false),
                        Some(s) => {
                            let mut text = spread_text(s.mean, s.std, s.n, decimals);
                            if s.mean.is_finite() {
                                text.push_str(&noise_text(s.se, decimals));
                            }
                            if s.below_best {
                                text.push(BELOW_BEST_MARK);
                            }
                            text.push_str(&s.marks);
                            if s.mean.is_finite() && Some(s.n) != usual {
                                text.push_str(&format!(" (n={})", s.n));
                            }
                            (text, s.bold)
                        }
                    })
                    .collect();
                (label.clone(), texts)
            })
            .collect();
        let mut notes: Vec<String> = seeds_note(&ns, usual).into_iter().collect();
        if noisy {
            notes.push(NOISE.into());
        }
        if ranked {
            let behaviour = if lecture {
                "; the behaviour is not ranked"
            } else {
                ""
            };
            notes.push(format!(
                "bold: the row's best mean, with every mean that prints the same{behaviour}"
            ));
        }
        if lecture {
            notes.push(BELOW_BEST.into());
            notes.extend(self.marks_legend());
            notes.push(TOTAL_LEGEND.into());
        }
        let columns = ["dataset"]
            .into_iter()
            .chain(lecture.then_some(BEHAVIOUR))
            .map(String::from)
            .chain(self.algos.iter().cloned())
            .collect();
        Printed {
            title: format!("{title}, mean ± std over seeds"),
            columns,
            rows,
            total,
            notes,
        }
    }

    /// [`ScoreTable::printed`] as markdown: each table under its `##`
    /// title, its caption's notes under it.
    pub fn to_markdown(&self) -> String {
        let tables: Vec<String> = self.printed().iter().map(Printed::markdown).collect();
        tables.join("\n")
    }

    /// [`ScoreTable::printed`] as LaTeX, one booktabs `table` each, its
    /// title and notes as the caption.
    pub fn to_latex(&self) -> String {
        self.latex(None)
    }

    /// [`ScoreTable::to_latex`], the caption naming `group`.
    fn latex(&self, group: Option<&str>) -> String {
        let tables: Vec<String> = self.printed().iter().map(|t| t.latex(group)).collect();
        tables.join("\n")
    }

    /// Long format: one line per (dataset, algorithm) with its counts,
    /// then the behaviour (algo `behaviour`, per dataset) and the Total
    /// row (dataset `Total`: n rows summed, mean the sum), as records.
    pub fn to_csv(&self) -> String {
        csv_of(&[(None, self)])
    }

    /// [`ScoreTable::to_csv`]'s records, after `group` where given;
    /// `noisy` adds the [`CSV_NOISE`] columns.
    fn csv_records(&self, group: Option<&str>, noisy: bool) -> Vec<Vec<String>> {
        let num = |x: f64| {
            if x.is_finite() {
                x.to_string()
            } else {
                String::new()
            }
        };
        let mut records = Vec::new();
        for (r, dataset) in self.datasets.iter().enumerate() {
            if let Some(b) = &self.behavior[r] {
                records.push(vec![
                    dataset.clone(),
                    BEHAVIOUR.into(),
                    b.values.len().to_string(),
                    num(b.mean),
                    num(b.std),
                ]);
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
                        cell.best.to_string(),
                        cell.below_best.to_string(),
                        cell.p_best.map_or_else(String::new, num),
                    ]);
                    if noisy {
                        let se = |s: Option<f64>| s.map_or_else(String::new, num);
                        record.extend([
                            se(cell.se),
                            se(cell.episode_return.se),
                            se(cell.true_return.se),
                        ]);
                    }
                    records.push(record);
                }
            }
        }
        for c in &self.controllers {
            let m = &c.measured;
            let mut record = vec![
                c.label.clone(),
                CONTROLLER_ALGO.into(),
                m.rollouts.to_string(),
                num(m.score),
                String::new(),
                num(m.episode_return.mean),
                String::new(),
                num(m.true_return.mean),
            ];
            record.resize(CSV_HEADER.len(), String::new());
            record.extend([m.score_se, m.episode_return.se, m.true_return.se].map(num));
            records.push(record);
        }
        // Only the algorithms' Totals rank.
        let totals = self
            .behavior_total
            .iter()
            .map(|t| (BEHAVIOUR, t, false))
            .chain(
                self.algos
                    .iter()
                    .zip(&self.total)
                    .map(|(a, t)| (a.as_str(), t, true)),
            );
        for (algo, t, ranks) in totals.filter(|(_, t, _)| t.rows > 0) {
            let mut record = vec![
                TOTAL.to_string(),
                algo.to_string(),
                t.rows.to_string(),
                num(t.sum),
            ];
            if ranks {
                record.resize(CSV_BEST, String::new());
                record.push(t.best.to_string());
            }
            records.push(record);
        }
        let width = CSV_HEADER.len() + if noisy { CSV_NOISE.len() } else { 0 };
        for record in &mut records {
            record.resize(width, String::new());
            if let Some(group) = group {
                record.insert(0, group.to_string());
            }
        }
        records
    }
}

/// What the Total row means.
const TOTAL_LEGEND: &str = "Total: sum of the row means; (k/n rows): only k scored, not ranked";

/// The CSV columns, `group` before them when several groups are printed.
const CSV_HEADER: [&str; 21] = [
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
    "best",
    "below_best",
    "p_best",
];
/// The columns after [`CSV_HEADER`] where some truth is Monte-Carlo: each
/// cell's mean standard errors ([`NOISE`]), a controller's own.
const CSV_NOISE: [&str; 3] = ["se", "episode_return_se", "true_return_se"];
/// The `algo` of a controller's CSV record (n is its rollouts).
const CONTROLLER_ALGO: &str = "controller";
/// The `best` column, which the Total records fill too.
const CSV_BEST: usize = 18;

/// Which of `values` print as the highest finite one does at `decimals`:
/// the best, and every tie as a reader sees it.
fn ties(values: &[f64], decimals: usize) -> Vec<bool> {
    let top = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .max_by(f64::total_cmp)
        .map(|v| number(v, decimals));
    values
        .iter()
        .map(|v| v.is_finite() && top.as_deref() == Some(number(*v, decimals).as_str()))
        .collect()
}

/// The caption's n (`n = 3 seeds per cell`; where cells differ, the range
/// and the usual n, the others marked `(n=k)`) and what `±` is; `None`
/// with no value in the table. `ns` counts the cells of each n.
fn seeds_note(ns: &BTreeMap<usize, usize>, usual: Option<usize>) -> Option<String> {
    let (lo, hi) = (*ns.keys().next()?, *ns.keys().next_back()?);
    let n = if lo == hi {
        format!("n = {lo} seed{} per cell", if lo == 1 { "" } else { "s" })
    } else {
        format!(
            "n = {lo}–{hi} seeds per cell ({} where not marked (n=k))",
            usual?
        )
    };
    Some(match (lo, hi) {
        (_, 1) => format!("{n}: the mean alone, no spread"),
        (1, _) => format!("{n}; {SPREAD}; a cell of one seed shows its mean alone"),
        _ => format!("{n}; {SPREAD}"),
    })
}

/// One printed cell before it is text: a mean ± std over n values, its
/// marks, and whether it is bold.
struct Shown {
    mean: f64,
    std: f64,
    /// Evaluation noise ([`NOISE`]).
    se: Option<f64>,
    n: usize,
    below_best: bool,
    marks: String,
    bold: bool,
}

impl Shown {
    fn of(stat: &Stat, marks: String, bold: bool) -> Self {
        Shown {
            mean: stat.mean,
            std: stat.std,
            se: stat.se,
            n: stat.values.len(),
            below_best: false,
            marks,
            bold,
        }
    }
}

/// One table as printed, whatever the format: the markdown and LaTeX
/// writers lay out the same texts and only mark them up differently.
struct Printed {
    /// `…, mean ± std over seeds`.
    title: String,
    /// The header, `dataset` first.
    columns: Vec<String>,
    /// Per row its label and, per column, the text and whether it is bold.
    rows: Vec<(String, Vec<(String, bool)>)>,
    /// The Total row's cells, set off by a rule.
    total: Option<Vec<(String, bool)>>,
    /// The caption: n, the spread, what bold and the marks mean.
    notes: Vec<String>,
}

impl Printed {
    /// The rows, then the Total row (`true`) labelled `total`.
    fn all_rows<'a>(
        &'a self,
        total: &'a str,
    ) -> impl Iterator<Item = (bool, &'a str, &'a [(String, bool)])> {
        let rows = self
            .rows
            .iter()
            .map(|(l, c)| (false, l.as_str(), c.as_slice()));
        rows.chain(self.total.as_deref().map(|c| (true, total, c)))
    }

    /// `## title`, a pipe table (numbers right-aligned, bold as `**`), and
    /// the notes as lines under it.
    fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n| {} |\n", self.title, self.columns.join(" | "));
        out.push_str(&format!(
            "|---|{}\n",
            "---:|".repeat(self.columns.len() - 1)
        ));
        let total = format!("**{TOTAL}**");
        for (_, label, cells) in self.all_rows(&total) {
            let cells: Vec<String> = cells
                .iter()
                .map(|(text, bold)| {
                    if *bold {
                        format!("**{text}**")
                    } else {
                        text.clone()
                    }
                })
                .collect();
            out.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
        }
        out.push('\n');
        for note in &self.notes {
            out.push_str(&format!("{note}  \n"));
        }
        out
    }

    /// A `table` float holding a booktabs `tabular` (`\toprule`,
    /// `\midrule`, `\bottomrule`: `\usepackage{booktabs}`), the title and
    /// notes as its `\caption`, above the table as papers place them;
    /// every text escaped ([`latex_escape`]) and negative numbers given a
    /// real minus.
    fn latex(&self, group: Option<&str>) -> String {
        let row = |cells: Vec<String>| format!("    {} \\\\\n", cells.join(" & "));
        let cell = |(text, bold): &(String, bool)| {
            let text = latex_escape(&text.replace('-', "−"));
            if *bold {
                format!("\\textbf{{{text}}}")
            } else {
                text
            }
        };
        let mut caption = group.map_or_else(String::new, |g| format!("{g}: "));
        caption.push_str(&self.title);
        for note in &self.notes {
            caption.push_str(&format!(". {note}"));
        }
        let mut out =
            String::from("% needs \\usepackage{booktabs}\n\\begin{table}[ht]\n  \\centering\n");
        out.push_str(&format!("  \\caption{{{}.}}\n", latex_escape(&caption)));
        let columns = "r".repeat(self.columns.len() - 1);
        out.push_str(&format!(
            "  \\begin{{tabular}}{{l{columns}}}\n    \\toprule\n"
        ));
        out.push_str(&row(self.columns.iter().map(|c| latex_escape(c)).collect()));
        out.push_str("    \\midrule\n");
        for (total, label, cells) in self.all_rows(TOTAL) {
            if total {
                out.push_str("    \\midrule\n");
            }
            let cells = std::iter::once(latex_escape(label)).chain(cells.iter().map(cell));
            out.push_str(&row(cells.collect()));
        }
        out.push_str("    \\bottomrule\n  \\end{tabular}\n\\end{table}\n");
        out
    }
}

/// Text for LaTeX: its special characters escaped (`\ { } $ & % # _ ~ ^`,
/// and `< > |`, which the default font encoding prints as other glyphs),
/// and the symbols the tables use as commands, so the output compiles with
/// plain pdflatex.
pub fn latex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => out.push_str("\\textbackslash{}"),
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            '|' => out.push_str("\\textbar{}"),
            '±' => out.push_str("$\\pm$"),
            '−' => out.push_str("$-$"),
            '–' => out.push_str("--"),
            '—' => out.push_str("---"),
            '†' => out.push_str("\\dag{}"),
            '✗' => out.push_str("$\\times$"),
            '↓' => out.push_str("$^{\\downarrow}$"),
            '∞' => out.push_str("$\\infty$"),
            'π' => out.push_str("$\\pi$"),
            'α' => out.push_str("$\\alpha$"),
            'γ' => out.push_str("$\\gamma$"),
            c => out.push(c),
        }
    }
    out
}

/// The tables of several groups of runs (specs or environments) in one
/// output, each named by its group; one group prints as its table alone,
/// as `report` did before grouping.
pub struct Grouped(pub Vec<(String, ScoreTable)>);

impl Grouped {
    /// Each group's tables under a `# group` heading, above their `##` titles.
    pub fn to_markdown(&self) -> String {
        match self.0.as_slice() {
            [(_, one)] => one.to_markdown(),
            groups => {
                let parts: Vec<String> = groups
                    .iter()
                    .map(|(group, table)| format!("# {group}\n\n{}", table.to_markdown()))
                    .collect();
                parts.join("\n")
            }
        }
    }

    /// Each group's tables, the group named in their captions.
    pub fn to_latex(&self) -> String {
        match self.0.as_slice() {
            [(_, one)] => one.to_latex(),
            groups => {
                let parts: Vec<String> = groups.iter().map(|(g, t)| t.latex(Some(g))).collect();
                parts.join("\n")
            }
        }
    }

    /// One header, every group's records, a leading `group` column.
    pub fn to_csv(&self) -> String {
        match self.0.as_slice() {
            [(_, one)] => one.to_csv(),
            groups => csv_of(
                &groups
                    .iter()
                    .map(|(g, t)| (Some(g.as_str()), t))
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

/// The CSV of `tables`, each with its group where given (all or none).
fn csv_of(tables: &[(Option<&str>, &ScoreTable)]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let grouped = tables.iter().any(|(g, _)| g.is_some());
    // Exact truth has no noise columns, so tabular CSV keeps its shape.
    let noisy = tables.iter().any(|(_, t)| t.noisy());
    let noise = CSV_NOISE.iter().filter(|_| noisy).copied();
    let _ = w.write_record(
        grouped
            .then_some("group")
            .into_iter()
            .chain(CSV_HEADER)
            .chain(noise),
    );
    for (group, table) in tables {
        for record in table.csv_records(*group, noisy) {
            let _ = w.write_record(record);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(algo: &str, size: u64, seed: u64) -> RunConfig {
        RunConfig::example("ThreeState-v0", algo, size, seed).with(|c| {
            c.spec = "s".into();
            c.gamma = 0.9;
            c.iterations = 10;
            c.eval_every = 1;
        })
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
            id: c.id(),
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
        assert!(fqi.best && !table.cells[1][0].as_ref().unwrap().best);
        let md = table.to_markdown();
        // bc's one seed: its mean alone, its n beside it (the usual n is 2).
        assert!(
            md.contains("| ThreeState-v0 medium 10k | – | 50.0 (n=1) | **90.0 ± 14.1** |"),
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
            md.contains("| ThreeState-v0 medium 10k | 5.000 (n=1) | **9.000 ± 1.414** |"),
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
        assert_eq!(cell.text(), "10.0");
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
        assert!(std::ptr::eq(scoring.unwrap(), &raw const done));
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
        let baird = |seed| run("fqi", 10_000, seed).with(|c| c.env = "Baird-v0".into());
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
        assert!(table.total[0].best);
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
        assert_eq!(cell.text(), format!("40.0 {FAILED_MARK}1 3/5"));
        let legend = table.legend().join("\n");
        assert!(legend.contains("✗n: n runs failed, no score (1 of 5 runs)"));
        assert!(legend.contains("k/n: k of the cell's n runs ended (2 of 5 runs not yet)"));
        let csv = table.to_csv();
        let header = csv.lines().next().unwrap();
        assert!(
            header.ends_with(",diverged,failed,runs,best,below_best,p_best"),
            "{csv}"
        );
        assert!(
            csv.contains("medium 1k,bc,1,40,0,4,0,0.2,0,,,,,,,0,1,5,true,false,\n"),
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
        let best: Vec<bool> = table.total.iter().map(|t| t.best).collect();
        assert_eq!(best, [true, false, false]);
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
                Some(if &*c.algo == "bc" { &bc } else { &fqi }),
            )
        }));
        let b = table.behavior[0].as_ref().unwrap();
        assert_eq!(b.values, [60.0, 80.0], "one value per dataset");
        assert_eq!(b.mean, 70.0);
        assert_eq!(b.text(1), "70.0 ± 14.1");
        assert_eq!(table.behavior_total.unwrap().sum, 70.0);
        // Better than every algorithm, yet the best of the row is an algorithm.
        assert!(table.cells[0][0].as_ref().unwrap().best);
        let md = table.to_markdown();
        assert!(md.contains("| dataset | behaviour | bc | fqi |"), "{md}");
        assert!(
            // Every seed agrees, so fqi is below bc by any test: ↓.
            md.contains("| ThreeState-v0 medium 1k | 70.0 ± 14.1 | **20.0 ± 0.0** | 10.0 ± 0.0↓ |"),
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
                    configs.push(run("fqi", 1_000, seed).with(|c| {
                        c.gamma = gamma;
                        c.iterations = iterations;
                    }));
                }
            }
        }
        let twin = configs[0].clone().with(|c| c.spec = "other".into());
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

    /// A table for a paper: an exact tie for a row's best, a cell with
    /// fewer seeds than the rest, a row of single seeds (one negative), a
    /// dataset named with LaTeX's special characters, the behaviour's
    /// own score, and a cell significantly below its row's best.
    fn paper_table() -> ScoreTable {
        let file = |seed| {
            run("bc", 0, seed).with(|c| {
                c.dataset = crate::experiment::DatasetSource::File {
                    path: std::path::Path::new("/data/logs_v2 #1 & 50% {a}~^$\\.csv").into(),
                    sha256: "ab".into(),
                }
            })
        };
        let mut runs: Vec<(RunConfig, f64, Option<f64>)> = Vec::new();
        let scores: [(&str, [f64; 3]); 3] = [
            ("bc", [50.0, 52.0, 54.0]),
            ("cql", [60.0, 61.0, 62.0]),
            ("iql", [61.0, 61.0, 61.0]),
        ];
        for (algo, values) in scores {
            for (seed, v) in values.into_iter().enumerate() {
                runs.push((run(algo, 10_000, seed as u64), v, Some(40.0)));
            }
        }
        let scores: [(&str, &[f64]); 3] = [
            ("bc", &[30.0, 35.0]),
            ("cql", &[40.0, 42.0, 44.0]),
            ("iql", &[20.0, 30.0, 45.0]),
        ];
        for (algo, values) in scores {
            for (seed, v) in values.iter().enumerate() {
                let config = file(seed as u64).with(|c| {
                    c.algo = algo.into();
                    c.params = run(algo, 0, 0).params.clone();
                });
                runs.push((config, *v, None));
            }
        }
        for (algo, v) in [("bc", 90.0), ("cql", 95.0), ("iql", -5.25)] {
            runs.push((run(algo, 1_000, 0), v, Some(72.4)));
        }
        let points: Vec<Metrics> = runs.iter().map(|(_, v, _)| scored(*v)).collect();
        let mut table =
            ScoreTable::build(
                runs.iter()
                    .zip(&points)
                    .map(|((c, _, behavior), m)| RunResult {
                        behavior: *behavior,
                        ..result(c, RunStatus::Done, Some(m))
                    }),
            );
        // One environment, so `report` leaves it out of the labels.
        table.datasets = table.short_datasets.clone();
        table
    }

    #[test]
    fn paper_tables_bold_ties_together_and_state_n_and_the_test() {
        let table = paper_table();
        let md = table.to_markdown();
        // cql and iql both average 61 exactly: both bold, neither tested
        // against the other as worse; bc is below them by Welch's test.
        assert!(
            md.contains(
                "| medium 10k | 40.0 ± 0.0 | 52.0 ± 2.0↓ | **61.0 ± 1.0** | **61.0 ± 0.0** |"
            ),
            "{md}"
        );
        let row = table
            .short_datasets
            .iter()
            .position(|d| d == "medium 10k")
            .unwrap();
        let bc = table.cells[row][0].as_ref().unwrap();
        assert!(
            bc.below_best && bc.p_best.is_some_and(|p| p < ALPHA),
            "{bc:?}"
        );
        let cql = table.cells[row][1].as_ref().unwrap();
        assert!(
            cql.best && !cql.below_best && cql.p_best == Some(1.0),
            "{cql:?}"
        );
        // One seed: the mean alone and its n; never tested.
        assert!(
            md.contains("| 90.0 (n=1) | **95.0 (n=1)** | -5.2 (n=1) |"),
            "{md}"
        );
        assert!(
            md.contains(
                "n = 1–3 seeds per cell (3 where not marked (n=k)); ± is the sample \
                 standard deviation over seeds (n − 1 in the denominator); a cell of one seed \
                 shows its mean alone"
            ),
            "{md}"
        );
        assert!(md.contains(BELOW_BEST), "{md}");
        insta::assert_snapshot!("paper_markdown", md);
        let latex = table.to_latex();
        let label =
            r"logs\_v2 \#1 \& 50\% \{a\}\textasciitilde{}\textasciicircum{}\$\textbackslash{}.csv";
        assert!(latex.contains(label), "{latex}");
        assert!(
            latex.contains("\\textbf{61.0 $\\pm$ 1.0} & \\textbf{61.0 $\\pm$ 0.0}"),
            "{latex}"
        );
        assert!(latex.contains("$-$5.2 (n=1)"), "{latex}");
        insta::assert_snapshot!("paper_latex", latex);
        let csv = table.to_csv();
        let bc = csv
            .lines()
            .find(|l| l.starts_with("medium 10k,bc,3,52,2,"))
            .unwrap();
        assert!(bc.contains(",0,0,3,false,true,0.0"), "{csv}");
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["cells"][row][2]["best"], true, "{json}");
    }

    /// Ties are what a reader sees: equal at the printed precision.
    #[test]
    fn ties_are_equal_as_printed() {
        let values = [61.0, 61.04, 60.96, 60.94, f64::NAN, 61.0];
        assert_eq!(ties(&values, 1), [true, true, true, false, false, true]);
        assert_eq!(ties(&values, 2), [false, true, false, false, false, false]);
        assert_eq!(ties(&[f64::NAN], 1), [false]);
    }

    /// Against scipy.stats.ttest_ind(a, b, equal_var=False), checked to
    /// 40 digits with mpmath (the regularized incomplete beta): one case
    /// at whole degrees of freedom, one at fractional ones just below
    /// α, where the normal approximation would say 0.0013.
    #[test]
    fn welch_p_is_students_t_with_welch_degrees_of_freedom() {
        let close = |p: Option<f64>, want: f64| {
            let p = p.unwrap();
            assert!((p - want).abs() < 1e-12 * want.max(1e-3), "{p} vs {want}");
        };
        let (a, b) = ([1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]);
        close(welch_p(&a, &b), 0.001_052_825_793_366_539_3);
        close(welch_p(&b, &a), 0.001_052_825_793_366_539_3);
        let (a, b) = ([27.5, 31.2, 29.8, 30.1, 28.4], [33.0, 35.6, 31.9]);
        close(welch_p(&a, &b), 0.040_153_271_743_833_685);
        close(
            welch_p(&[52.0, 55.0, 49.0], &[40.0, 47.0]),
            0.201_764_901_459_823_63,
        );
        // One value on a side: nothing to test.
        assert_eq!(welch_p(&[1.0], &b), None);
        // No spread on either side: the means alone decide.
        assert_eq!(welch_p(&[2.0, 2.0], &[3.0, 3.0]), Some(0.0));
        assert_eq!(welch_p(&[2.0, 2.0], &[2.0, 2.0]), Some(1.0));
        assert!(BELOW_BEST.contains(&format!("α = {ALPHA}")), "{BELOW_BEST}");
    }

    #[test]
    fn latex_escape_escapes_every_special_character() {
        assert_eq!(
            latex_escape(r"a_b & 50% #1 {x} ~y^z $\ <|> ± – † ↓"),
            r"a\_b \& 50\% \#1 \{x\} \textasciitilde{}y\textasciicircum{}z \$\textbackslash{} \textless{}\textbar{}\textgreater{} $\pm$ -- \dag{} $^{\downarrow}$"
        );
    }

    /// Several groups: each named (markdown headings, a CSV column, LaTeX
    /// captions); one group prints exactly as its table alone.
    #[test]
    fn grouped_tables_name_their_group_and_one_group_prints_alone() {
        let (a, b) = (run("fqi", 1_000, 0), run("bc", 1_000, 0));
        let m = scored(10.0);
        let table = |c| ScoreTable::build([result(c, RunStatus::Done, Some(&m))]);
        let one = Grouped(vec![("a".into(), table(&a))]);
        assert_eq!(one.to_markdown(), table(&a).to_markdown());
        assert_eq!(one.to_csv(), table(&a).to_csv());
        assert_eq!(one.to_latex(), table(&a).to_latex());
        let two = Grouped(vec![("a".into(), table(&a)), ("b_2".into(), table(&b))]);
        let md = two.to_markdown();
        assert!(md.starts_with("# a\n\n## normalized score"), "{md}");
        assert!(md.contains("\n# b_2\n\n## normalized score"), "{md}");
        let csv = two.to_csv();
        assert!(csv.starts_with("group,dataset,algo,n,"), "{csv}");
        assert_eq!(csv.matches("dataset,algo").count(), 1, "{csv}");
        assert!(csv.contains("\na,ThreeState-v0 medium 1k,fqi,1,10,") && csv.contains("\nb_2,"));
        let latex = two.to_latex();
        assert!(
            latex.contains("\\caption{b\\_2: normalized score"),
            "{latex}"
        );
    }
}
