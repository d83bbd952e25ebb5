//! The life cycle of a run.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a worker (also: interrupted, resumes from its checkpoint).
    Queued,
    /// Not queued until started (`--no-autostart`, or its spec dropped it).
    Waiting,
    Running,
    /// Paused by the user: it resumes only when asked to.
    Paused,
    Done,
    /// NaN or infinity appeared: a result, with its history kept.
    Diverged,
    Failed,
    Cancelled,
}

impl RunStatus {
    /// Whether the run has reached an end it will not leave by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Done | RunStatus::Diverged | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Waiting => "waiting",
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Done => "done",
            RunStatus::Diverged => "diverged",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
