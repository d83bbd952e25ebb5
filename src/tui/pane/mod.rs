//! The dashboard's panes, gitui's components: each file holds one pane's
//! state, the keys it offers (its [`Binding`] table), whether each is
//! available now and why not, what each does, and how the pane is drawn.
//!
//! - [`runs`]: the runs table: selection, the selected run's controls,
//!   filter, sort, marks;
//! - [`chart`]: the overestimation chart: cursor, smoothing, axes, export;
//! - [`scores`]: the score table, scrolled by rows and columns;
//! - [`detail`]: the run detail: config, heatmap, log;
//! - [`help`]: the help overlay, generated from every table.
//!
//! A key goes to the focused pane's table first, then to the global one
//! ([`GENERAL`], carried out by [`App`]), then to any other pane's: every
//! key works from every pane, and the pane that declares it says what it
//! means. The footer (the focused pane's keys) and the help (all of them)
//! are generated from the same tables.

pub mod chart;
pub mod detail;
pub mod help;
pub mod runs;
pub mod scores;

use super::app::{Action, App};
use super::keys::{Binding, Command, GENERAL, Pane};
use crossterm::event::KeyCode;

/// Who carries out a binding: the global table, or a pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Global,
    Pane(Pane),
}

/// The panes in the help's order.
const ORDER: [Pane; 4] = [Pane::Runs, Pane::Chart, Pane::Scores, Pane::Detail];

impl Pane {
    /// The commands this pane offers (besides the [`GENERAL`] ones).
    pub fn keys(self) -> &'static [Binding] {
        match self {
            Pane::Runs => runs::KEYS,
            Pane::Chart => chart::KEYS,
            Pane::Scores => scores::KEYS,
            Pane::Detail => detail::KEYS,
        }
    }
}

/// Every table with its owner, in the help's order (general first).
fn tables() -> impl Iterator<Item = (Owner, &'static [Binding])> {
    std::iter::once((Owner::Global, GENERAL))
        .chain(ORDER.iter().map(|&p| (Owner::Pane(p), p.keys())))
}

/// Every binding of every pane, in the help's order. A key means one
/// command wherever it is bound (`↑` is "up" in every pane; what up moves
/// depends on the pane).
pub static BINDINGS: std::sync::LazyLock<Vec<Binding>> =
    std::sync::LazyLock::new(|| tables().flat_map(|(_, t)| t.iter().copied()).collect());

/// The binding of a key in `pane`, and who carries it out: the pane's own
/// first, then the general ones, then any other pane's (every key works
/// from every pane, as docs/dashboard.md lists them).
pub fn binding_in(pane: Pane, code: KeyCode) -> Option<(Owner, &'static Binding)> {
    let find = |table: &'static [Binding]| table.iter().find(|b| b.keys.contains(&code));
    find(pane.keys())
        .map(|b| (Owner::Pane(pane), b))
        .or_else(|| tables().find_map(|(owner, t)| find(t).map(|b| (owner, b))))
}

/// The binding of a key, in whatever pane.
pub fn binding(code: KeyCode) -> Option<&'static Binding> {
    BINDINGS.iter().find(|b| b.keys.contains(&code))
}

/// Whether `pane`'s `command` does something now; if not, why.
pub fn availability(app: &App, pane: Pane, command: Command) -> Result<(), String> {
    match pane {
        Pane::Runs => runs::availability(app, command),
        Pane::Chart => chart::availability(app, command),
        // The score table's keys only scroll: always available.
        Pane::Scores => Ok(()),
        Pane::Detail => detail::availability(app, command),
    }
}

/// Carries out `pane`'s available `command`.
pub fn apply(app: &mut App, pane: Pane, command: Command) -> Action {
    match pane {
        Pane::Runs => runs::apply(app, command),
        Pane::Chart => chart::apply(app, command),
        Pane::Scores => scores::apply(app, command),
        Pane::Detail => detail::apply(app, command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyCode::Char as K;

    #[test]
    fn a_pane_binds_each_key_once_and_a_key_means_one_command_everywhere() {
        for (_, table) in tables() {
            for (i, b) in table.iter().enumerate() {
                for code in b.keys {
                    let first = table.iter().position(|o| o.keys.contains(code));
                    assert_eq!(first, Some(i), "{code:?} bound twice in {}", b.section);
                    assert_eq!(binding(*code).unwrap().command, b.command, "{code:?}");
                }
            }
        }
    }

    #[test]
    fn the_focused_pane_decides_what_a_key_means() {
        let owner = |pane, code| binding_in(pane, code).unwrap().0;
        assert_eq!(owner(Pane::Scores, KeyCode::Up), Owner::Pane(Pane::Scores));
        assert_eq!(owner(Pane::Runs, KeyCode::Up), Owner::Pane(Pane::Runs));
        assert_eq!(owner(Pane::Chart, KeyCode::Up), Owner::Pane(Pane::Runs));
        // Chart keys work from the runs table too, and the chart carries them out.
        let (chart, b) = binding_in(Pane::Runs, K('y')).unwrap();
        assert_eq!(
            (chart, b.command),
            (Owner::Pane(Pane::Chart), Command::Scale)
        );
        assert_eq!(owner(Pane::Runs, K('q')), Owner::Global);
        assert_eq!(
            binding_in(Pane::Detail, K('o')).unwrap().1.section,
            "detail"
        );
        assert!(binding_in(Pane::Runs, K('Q')).is_none());
    }
}
