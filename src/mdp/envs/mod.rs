//! Built-in environments, by Gymnasium-compatible id.

mod toy;

use super::TabularMdp;
use crate::error::{Error, Result, did_you_mean};

/// One entry of `pessimist env list`.
#[derive(Debug, Clone, Copy)]
pub struct EnvInfo {
    pub id: &'static str,
    pub summary: &'static str,
}

/// Every built-in tabular environment (families such as `Chain-vN` listed by one example).
pub fn list() -> Vec<EnvInfo> {
    vec![
        EnvInfo {
            id: "ThreeState-v0",
            summary: "the lecture's counterfactual-query MDP: S1 pays +1, S2 pays -10, (S1,a1) and (S2,a1) unseen",
        },
        EnvInfo {
            id: "ImitationTrap-v0",
            summary: "one decision: a0 pays +1, a1 pays -10; behaviour plays 50/50, BC copies the mix",
        },
    ]
}

/// Builds the environment registered under `id`.
pub fn make(id: &str) -> Result<TabularMdp> {
    match id {
        "ThreeState-v0" => toy::three_state(),
        "ImitationTrap-v0" => toy::imitation_trap(),
        _ => {
            let ids: Vec<&str> = list().iter().map(|e| e.id).collect();
            Err(Error::UnknownEnv {
                id: id.to_string(),
                hint: did_you_mean(id, ids.iter().copied()),
                choices: ids.join(", "),
            })
        }
    }
}
