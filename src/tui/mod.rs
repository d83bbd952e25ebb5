//! The dashboard: a view and a remote control over an
//! [`experiment::Session`](crate::experiment::Session). [`app`] holds the
//! state and key bindings, [`chart`] turns histories into drawable curves,
//! [`view`] draws a frame; [`dashboard`] keeps the state in step with the
//! session and carries out what keys ask of it; [`terminal`] owns the real
//! terminal and the event loop, and [`headless`] renders frames as text for
//! scripts and tests.

pub mod app;
pub mod chart;
pub mod dashboard;
pub mod headless;
pub mod terminal;
pub mod view;

pub use app::{Action, App};
pub use dashboard::Dashboard;
