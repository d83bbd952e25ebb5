//! One evaluation point, as stored in `metrics.jsonl` (one JSON object a line).

use super::json_float;
use serde::{Deserialize, Serialize};

/// Everything recorded at one `eval_every` point of a run. Field names are
/// the metric names of DESIGN.md ("Evaluation"); scripts read them.
///
/// JSON has no NaN or infinity: ±∞ are written as `"inf"`/`"-inf"` (an
/// unbounded KL stays infinite) and NaN as `null` (see [`json_float`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
    /// D4RL's score: 100 · (R(π) − R(uniform)) / (R_best − R(uniform)) on
    /// `episode_return`, R_best the best return within the time limit.
    #[serde(with = "json_float")]
    pub normalized_score: f64,
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
}
