//! One evaluation point, as stored in `metrics.jsonl` (one JSON object a line).

use serde::{Deserialize, Deserializer, Serialize};

/// Everything recorded at one `eval_every` point of a run. Field names are
/// the metric names of DESIGN.md ("Evaluation"); scripts read them.
///
/// JSON has no NaN or infinity: non-finite values are written as `null` and
/// read back as NaN (an unbounded KL, a diverged estimate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub iteration: u64,
    /// What the learner believes: E_{s0}[Σ_a π(a|s0) f(s0, a)].
    #[serde(deserialize_with = "nullable")]
    pub q_est: f64,
    /// J(π), exact.
    #[serde(deserialize_with = "nullable")]
    pub true_return: f64,
    /// q_est − true_return: the overestimation.
    #[serde(deserialize_with = "nullable")]
    pub gap: f64,
    /// Mean f(s, a) over dataset transitions.
    #[serde(deserialize_with = "nullable")]
    pub q_data: f64,
    /// Mean Q^π(s, a) over the same transitions.
    #[serde(deserialize_with = "nullable")]
    pub q_true_data: f64,
    /// 100 · (J(π) − J(random)) / (J(π*) − J(random)).
    #[serde(deserialize_with = "nullable")]
    pub normalized_score: f64,
    /// Probability of reaching a goal within the Gymnasium time limit.
    #[serde(deserialize_with = "nullable")]
    pub success_prob: f64,
    /// Mean squared Bellman residual (f − B^π f)² over dataset pairs (empirical B^π).
    #[serde(deserialize_with = "nullable")]
    pub bellman_error: f64,
    /// Share of dataset states where π puts mass on actions never seen there.
    #[serde(deserialize_with = "nullable")]
    pub ood_fraction: f64,
    /// E_{s~D} KL(π(·|s) ‖ π̂_β(·|s)); infinite when π leaves the support.
    #[serde(deserialize_with = "nullable")]
    pub kl_behavior: f64,
    /// The algorithm's own loss at this iteration.
    #[serde(deserialize_with = "nullable")]
    pub loss: f64,
    /// Seconds of training so far (evaluation excluded).
    #[serde(deserialize_with = "nullable")]
    pub wall_time: f64,
    /// Iterations per second over the last eval interval.
    #[serde(deserialize_with = "nullable")]
    pub it_per_sec: f64,
}

fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_survive_a_json_round_trip_as_nan() {
        let m = Metrics {
            iteration: 3,
            q_est: 1e300,
            kl_behavior: f64::INFINITY,
            ..Default::default()
        };
        let line = serde_json::to_string(&m).unwrap();
        assert!(line.contains("\"kl_behavior\":null"), "{line}");
        let back: Metrics = serde_json::from_str(&line).unwrap();
        assert_eq!(back.q_est, 1e300);
        assert!(back.kl_behavior.is_nan());
        assert_eq!(back.iteration, 3);
    }
}
