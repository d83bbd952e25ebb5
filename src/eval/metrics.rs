//! One evaluation point, as stored in `metrics.jsonl` (one JSON object a line).

use super::json_float;
use serde::{Deserialize, Serialize};

/// Everything recorded at one `eval_every` point of a run. Field names are
/// the metric names of docs/architecture.md ("Evaluation"); scripts read them.
///
/// JSON has no NaN or infinity: ±∞ are written as `"inf"`/`"-inf"` (an
/// unbounded KL stays infinite) and NaN as `null` (see [`json_float`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Metrics {
    pub iteration: u64,
    /// What the learner believes: E_{s0}[Σ_a π(a|s0) f(s0, a)].
    #[serde(with = "json_float")]
    pub q_est: f64,
    /// J(π), the discounted return, exact: what Q estimates.
    #[serde(with = "json_float")]
    pub true_return: f64,
    /// q_est − true_return: the overestimation.
    #[serde(with = "json_float")]
    pub gap: f64,
    /// Share of the start distribution on states the data acts in. At an
    /// unvisited start q_est holds the learner's convention for unseen
    /// states (0, a floor), not an estimate. NaN (`null`) where unknown:
    /// lines written before it existed.
    #[serde(with = "json_float", default = "json_float::nan")]
    pub start_coverage: f64,
    /// q_est over the covered start states only (d0 renormalised on them);
    /// NaN when none is covered.
    #[serde(with = "json_float", default = "json_float::nan")]
    pub q_est_covered: f64,
    /// J(π) over the same start states: E_{s0 ~ d0 | covered}[V^π(s0)].
    #[serde(with = "json_float", default = "json_float::nan")]
    pub true_return_covered: f64,
    /// The standard error of `true_return` where it is a Monte-Carlo
    /// mean (a continuous environment); absent (NaN) where it is exact.
    #[serde(
        with = "json_float",
        default = "json_float::nan",
        skip_serializing_if = "json_float::is_nan"
    )]
    pub true_return_se: f64,
    /// Mean f(s, a) over dataset transitions.
    #[serde(with = "json_float")]
    pub q_data: f64,
    /// Mean Q^π(s, a) over the same transitions.
    #[serde(with = "json_float")]
    pub q_true_data: f64,
    /// The expected undiscounted return of one episode within the time
    /// limit ([`crate::mdp::TabularMdp::horizon`]), exact: what D4RL scores.
    /// NaN (`null`) in lines written before it existed.
    #[serde(with = "json_float", default = "json_float::nan")]
    pub episode_return: f64,
    /// The standard error of `episode_return`, as `true_return_se`.
    #[serde(
        with = "json_float",
        default = "json_float::nan",
        skip_serializing_if = "json_float::is_nan"
    )]
    pub episode_return_se: f64,
    /// D4RL's score: 100 · (R(π) − R(uniform)) / (R_best − R(uniform)) on
    /// `episode_return`, R_best the best return within the time limit.
    #[serde(with = "json_float")]
    pub normalized_score: f64,
    /// The standard error of `normalized_score`, as `true_return_se`.
    #[serde(
        with = "json_float",
        default = "json_float::nan",
        skip_serializing_if = "json_float::is_nan"
    )]
    pub normalized_score_se: f64,
    /// Probability of reaching a goal within the Gymnasium time limit.
    #[serde(with = "json_float")]
    pub success_prob: f64,
    /// Mean squared Bellman residual (f − B^π f)² over dataset pairs (empirical B^π).
    #[serde(with = "json_float")]
    pub bellman_error: f64,
    /// Share of dataset states where π puts mass on actions never seen there.
    #[serde(with = "json_float")]
    pub ood_fraction: f64,
    /// E_{s~D} KL(π(·|s) ‖ π̂_β(·|s)); infinite when π leaves the support.
    #[serde(with = "json_float")]
    pub kl_behavior: f64,
    /// The algorithm's own loss at this iteration.
    #[serde(with = "json_float")]
    pub loss: f64,
    /// Seconds of training so far (evaluation excluded).
    #[serde(with = "json_float")]
    pub wall_time: f64,
    /// Iterations per second over the last eval interval.
    #[serde(with = "json_float")]
    pub it_per_sec: f64,
}

impl Metrics {
    /// The gap the runs table shows: on the covered start states when the
    /// data misses some, so that it measures the critic alone; `None` at
    /// full (or unknown) coverage, where the plain `gap` is that already.
    pub fn covered_gap(&self) -> Option<f64> {
        (self.start_coverage < 1.0).then_some(self.q_est_covered - self.true_return_covered)
    }
}

/// Equal when every number is, NaN equal to NaN: a metric that does not
/// apply (a standard error of exact truth) is NaN in both.
impl PartialEq for Metrics {
    fn eq(&self, other: &Self) -> bool {
        self.iteration == other.iteration
            && self
                .numbers()
                .iter()
                .zip(other.numbers())
                .all(|(a, b)| a == &b || (a.is_nan() && b.is_nan()))
    }
}

impl Metrics {
    /// Every field but the iteration.
    fn numbers(&self) -> [f64; 20] {
        [
            self.q_est,
            self.true_return,
            self.gap,
            self.start_coverage,
            self.q_est_covered,
            self.true_return_covered,
            self.true_return_se,
            self.q_data,
            self.q_true_data,
            self.episode_return,
            self.episode_return_se,
            self.normalized_score,
            self.normalized_score_se,
            self.success_prob,
            self.bellman_error,
            self.ood_fraction,
            self.kl_behavior,
            self.loss,
            self.wall_time,
            self.it_per_sec,
        ]
    }
}

impl Default for Metrics {
    /// Zeros, but coverage unknown (NaN), as in lines written before it,
    /// and no standard errors (exact truth).
    fn default() -> Self {
        Metrics {
            iteration: 0,
            q_est: 0.0,
            true_return: 0.0,
            gap: 0.0,
            start_coverage: f64::NAN,
            q_est_covered: f64::NAN,
            true_return_covered: f64::NAN,
            true_return_se: f64::NAN,
            q_data: 0.0,
            q_true_data: 0.0,
            episode_return: 0.0,
            episode_return_se: f64::NAN,
            normalized_score: 0.0,
            normalized_score_se: f64::NAN,
            success_prob: 0.0,
            bellman_error: 0.0,
            ood_fraction: 0.0,
            kl_behavior: 0.0,
            loss: 0.0,
            wall_time: 0.0,
            it_per_sec: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_survive_a_json_round_trip() {
        let m = Metrics {
            iteration: 3,
            q_est: 1e300,
            kl_behavior: f64::INFINITY,
            ..Default::default()
        };
        let line = serde_json::to_string(&m).unwrap();
        assert!(line.contains("\"kl_behavior\":\"inf\""), "{line}");
        assert!(line.contains("\"loss\":0.0"), "{line}");
        let back: Metrics = serde_json::from_str(&line).unwrap();
        assert_eq!(back.q_est, 1e300);
        assert_eq!(back.kl_behavior, f64::INFINITY);
        assert_eq!(back.iteration, 3);
        let diverged = Metrics {
            q_est: f64::NAN,
            gap: f64::NEG_INFINITY,
            ..Default::default()
        };
        let back: Metrics =
            serde_json::from_str(&serde_json::to_string(&diverged).unwrap()).unwrap();
        assert!(back.q_est.is_nan());
        assert_eq!(back.gap, f64::NEG_INFINITY);
    }

    /// A line written before the coverage metrics loads with them unknown,
    /// and the runs table keeps the plain gap for it.
    #[test]
    fn lines_without_coverage_load_as_unknown() {
        let mut line = serde_json::to_value(Metrics {
            q_est: 2.0,
            gap: 1.5,
            ..Default::default()
        })
        .unwrap();
        for field in ["start_coverage", "q_est_covered", "true_return_covered"] {
            assert!(line[field].is_null(), "{line}");
            line.as_object_mut().unwrap().remove(field);
        }
        let old: Metrics = serde_json::from_value(line).unwrap();
        assert!(old.start_coverage.is_nan() && old.q_est_covered.is_nan());
        assert!(old.true_return_covered.is_nan());
        assert_eq!((old.q_est, old.covered_gap()), (2.0, None));
        let partial = Metrics {
            start_coverage: 0.7,
            q_est_covered: -3.0,
            true_return_covered: -5.0,
            ..old
        };
        assert_eq!(partial.covered_gap(), Some(2.0));
        assert_eq!(
            Metrics {
                start_coverage: 1.0,
                ..partial
            }
            .covered_gap(),
            None
        );
    }
}
