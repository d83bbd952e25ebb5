//! The dashboard: a view and a remote control over an
//! [`experiment::Session`](crate::experiment::Session).
//!
//! - [`keys`]: the key vocabulary (commands, bindings, the global table);
//! - [`app`]: the state the panes share, the global keys, and the dispatch
//!   of a key to the focused pane; the rows and score tables, derived
//!   through one path on every change of what they follow;
//! - [`pane`]: one file per pane (runs, chart, scores, detail, help), each
//!   with its state, its keys and their availability, what they do, and
//!   its drawing (gitui's components);
//! - [`chart`]: the chart's options, and histories turned into drawable
//!   curves (cached per run revision);
//! - [`detail`]: the run detail's model: the run's environment and the
//!   per-state overestimation, computed outside drawing;
//! - [`landscape`]: a continuous run's landscape fitted to panels of
//!   shaded cells, for the detail;
//! - [`view`]: draws a frame from the state: layout, header, footer, and
//!   the styles the panes share;
//! - [`dashboard`]: keeps the state in step with the session and carries
//!   out what keys ask of it;
//! - [`terminal`]: the real terminal and the event loop;
//! - [`headless`]: frames as text for scripts and tests.
//!
//! Within the dashboard, imports point one way but for the panes and the
//! app, which are one layer: keys, chart and detail → app and panes →
//! view → dashboard → terminal and headless (a pane's drawing uses the
//! view's shared styles).

pub mod app;
pub mod chart;
pub mod dashboard;
pub mod detail;
pub mod headless;
pub mod keys;
pub mod landscape;
pub mod pane;
pub mod terminal;
pub mod view;

pub use app::{Action, App};
pub use dashboard::Dashboard;
