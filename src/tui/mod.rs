//! The dashboard: a view and a remote control over an
//! [`experiment::Session`](crate::experiment::Session).
//!
//! - [`keys`]: every pane's keys (dispatch, footer and help come from these
//!   tables);
//! - [`app`]: the state, what each key does to it and whether it is
//!   available now; the rows and score tables, derived once per change;
//! - [`chart`]: the chart's options, and histories turned into drawable
//!   curves (cached per run revision);
//! - [`detail`]: the run detail's model: the run's environment and the
//!   per-state overestimation, computed outside drawing;
//! - [`view`]: draws a frame from the state, one module per pane;
//! - [`dashboard`]: keeps the state in step with the session and carries
//!   out what keys ask of it;
//! - [`terminal`]: the real terminal and the event loop;
//! - [`headless`]: frames as text for scripts and tests.
//!
//! Within the dashboard, too, imports point one way: keys, chart and
//! detail → app → view → dashboard → terminal and headless.

pub mod app;
pub mod chart;
pub mod dashboard;
pub mod detail;
pub mod headless;
pub mod keys;
pub mod terminal;
pub mod view;

pub use app::{Action, App};
pub use dashboard::Dashboard;
