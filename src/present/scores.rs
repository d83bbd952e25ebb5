//! The score table of the lecture: normalized score per algorithm ×
//! dataset, mean ± std over seeds, best per row marked. Shared by
//! `pessimist report` and the dashboard. The score is D4RL's, of the
//! episode return R (undiscounted, one episode within the time limit);
//! each cell also holds R and the discounted J(π), what Q estimates.

use super::labels::{DatasetKey, Labels};
use crate::eval::Metrics;
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

/// Values over seeds, their mean and sample standard deviation (0 for
/// one seed); NaN values (eval points written before a metric existed)
/// make the mean NaN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stat {
    pub values: Vec<f64>,
    pub mean: f64,
    pub std: f64,
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = if values.len() > 1 {
        (values.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
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

/// Scores of one algorithm on one dataset, and the returns they come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreCell {
    /// D4RL's normalized score of each seed's episode return.
    pub scores: Vec<f64>,
    pub mean: f64,
    /// Sample standard deviation (0 for one seed).
    pub std: f64,
    /// The episode return R (undiscounted, within the time limit).
    pub episode_return: Stat,
    /// The discounted return J(π).
    pub true_return: Stat,
}

impl ScoreCell {
    /// From each seed's final eval point.
    pub fn new(points: &[Metrics]) -> Self {
        let scores: Vec<f64> = points.iter().map(|m| m.normalized_score).collect();
        let (mean, std) = mean_std(&scores);
        ScoreCell {
            scores,
            mean,
            std,
            episode_return: Stat::new(points.iter().map(|m| m.episode_return).collect()),
            true_return: Stat::new(points.iter().map(|m| m.true_return).collect()),
        }
    }

    /// `72.4 ± 3.1`
    pub fn text(&self) -> String {
        format!("{:.1} ± {:.1}", self.mean, self.std)
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
    /// `cells[row][column]`, `None` where no run of that pair has finished.
    pub cells: Vec<Vec<Option<ScoreCell>>>,
}

/// A row's labels and its scores per algorithm.
type Row = (String, String, BTreeMap<String, Vec<Metrics>>);

impl ScoreTable {
    /// Final normalized scores of finished runs (`done`; diverged runs have
    /// no finite score and are left out). Labels tell apart every group of
    /// the runs given, finished or not, so they do not change as runs end;
    /// a run listed twice (one config in two specs) counts once.
    pub fn build<'a>(
        runs: impl IntoIterator<Item = (&'a RunConfig, RunStatus, Option<&'a Metrics>)>,
    ) -> Self {
        let mut seen = BTreeSet::new();
        let runs: Vec<_> = runs
            .into_iter()
            .filter(|(c, _, _)| seen.insert(c.id()))
            .collect();
        let labels = Labels::new(runs.iter().map(|r| r.0));
        let mut groups: BTreeMap<DatasetKey, Row> = BTreeMap::new();
        let mut algos: Vec<String> = Vec::new();
        for (config, status, last) in runs {
            let Some(m) = last.filter(|_| status == RunStatus::Done) else {
                continue;
            };
            if !m.normalized_score.is_finite() {
                continue;
            }
            let algo = labels.algo(config);
            if !algos.contains(&algo) {
                algos.push(algo.clone());
            }
            groups
                .entry(Labels::dataset_key(config))
                .or_insert_with(|| {
                    let data = labels.data(config);
                    (labels.env_data(config), data, BTreeMap::new())
                })
                .2
                .entry(algo)
                .or_default()
                .push(*m);
        }
        algos.sort();
        let mut table = ScoreTable {
            algos,
            ..Default::default()
        };
        for (_, (label, short, by_algo)) in groups {
            table.datasets.push(label);
            table.short_datasets.push(short);
            table.cells.push(
                table
                    .algos
                    .iter()
                    .map(|a| by_algo.get(a).map(|points| ScoreCell::new(points)))
                    .collect(),
            );
        }
        table
    }

    /// The column with the highest mean score in `row`.
    pub fn best_in_row(&self, row: usize) -> Option<usize> {
        self.best_by(row, |c| c.mean)
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

    /// The score table under its title, then the same layout for the
    /// episode return R and the discounted J(π), each with its title.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("## {TITLE}, mean ± std over seeds\n\n");
        out.push_str(&self.markdown_table(|c| (c.mean, c.text())));
        for (title, pick) in [
            (
                EPISODE_RETURN_TITLE,
                (|c: &ScoreCell| &c.episode_return) as fn(&ScoreCell) -> &Stat,
            ),
            (TRUE_RETURN_TITLE, |c: &ScoreCell| &c.true_return),
        ] {
            out.push_str(&format!("\n## {title}, mean ± std over seeds\n\n"));
            out.push_str(&self.markdown_table(|c| (pick(c).mean, pick(c).text(3))));
        }
        out
    }

    /// One markdown table of `value` (the mean that ranks, and the text)
    /// per cell, the best per row in bold.
    fn markdown_table(&self, value: impl Fn(&ScoreCell) -> (f64, String)) -> String {
        let mut out = format!("| dataset | {} |\n", self.algos.join(" | "));
        out.push_str(&format!("|---|{}\n", "---:|".repeat(self.algos.len())));
        for (r, dataset) in self.datasets.iter().enumerate() {
            let best = self.best_by(r, |c| value(c).0);
            let cells: Vec<String> = self.cells[r]
                .iter()
                .enumerate()
                .map(|(c, cell)| match cell {
                    Some(cell) if Some(c) == best => format!("**{}**", value(cell).1),
                    Some(cell) => value(cell).1,
                    None => "–".into(),
                })
                .collect();
            out.push_str(&format!("| {dataset} | {} |\n", cells.join(" | ")));
        }
        out
    }

    /// Long format: one line per (dataset, algorithm).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "dataset",
            "algo",
            "n",
            "mean",
            "std",
            "episode_return_mean",
            "episode_return_std",
            "true_return_mean",
            "true_return_std",
        ]);
        for (r, dataset) in self.datasets.iter().enumerate() {
            for (c, algo) in self.algos.iter().enumerate() {
                if let Some(cell) = &self.cells[r][c] {
                    let _ = w.write_record([
                        dataset.clone(),
                        algo.clone(),
                        cell.scores.len().to_string(),
                        cell.mean.to_string(),
                        cell.std.to_string(),
                        cell.episode_return.mean.to_string(),
                        cell.episode_return.std.to_string(),
                        cell.true_return.mean.to_string(),
                        cell.true_return.std.to_string(),
                    ]);
                }
            }
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
                .map(|((c, s), m)| (c, s, Some(m))),
        );
        assert_eq!(table.algos, vec!["bc", "fqi"]);
        assert_eq!(table.datasets, vec!["ThreeState-v0 medium 10k"]);
        assert_eq!(table.short_datasets, vec!["medium 10k"]);
        let fqi = table.cells[0][1].as_ref().unwrap();
        assert_eq!(fqi.mean, 90.0);
        assert!((fqi.std - 200f64.sqrt()).abs() < 1e-12);
        assert_eq!(table.best_in_row(0), Some(1));
        let md = table.to_markdown();
        assert!(
            md.contains("| ThreeState-v0 medium 10k | 50.0 ± 0.0 | **90.0 ± 14.1** |"),
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
        let table = ScoreTable::build(configs.iter().map(|c| (c, RunStatus::Done, Some(&m))));
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
        }
    }
}
