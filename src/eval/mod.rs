//! The numbers the dashboard plots: what the learner believes (q_est) against
//! what its policy really gets (true_return, exact on tabular problems).

mod metrics;

pub use metrics::Metrics;
