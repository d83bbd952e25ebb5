//! The experiment system: specs → runs → metrics → store. Everything here
//! works without a terminal; `pessimist run` (headless) and the dashboard
//! share it.
//!
//! - [`spec`]: TOML specs expanded into a grid of [`RunConfig`]s, every
//!   error with `file:line:column`;
//! - [`config`]: a run's resolved config and its content-addressed [`RunId`];
//! - [`store`]: the crash-safe on-disk layout of runs ([`RunDir`]);
//! - [`index`]: each spec's append-only index of ended runs, compact
//!   checksummed records derived from the run files;
//! - [`datasets`]: each dataset definition built and compiled once per
//!   process, shared by its runs;
//! - [`dataset_cache`]: the store's cache of collected datasets, shared by
//!   processes and Slurm tasks;
//! - [`pipeline`]: environment → dataset → learner and evaluator, built
//!   once for the runner and `pessimist train`;
//! - [`runner`]: trains one run into the store, resumably;
//! - [`pool`]: background workers with a priority queue and per-run control;
//! - [`watcher`]: debounced or polling directory watching;
//! - [`status`]: a run's life cycle (queued … done, diverged, failed);
//! - [`session`]: specs + store + pool + watcher, the dashboard's model.
//!
//! How runs are named, tabulated and drawn is [`present`](crate::present),
//! one floor up.

pub mod config;
pub mod dataset_cache;
pub mod datasets;
pub mod index;
pub mod pipeline;
pub mod pool;
pub mod runner;
pub mod session;
pub mod spec;
pub mod status;
pub mod store;
pub mod watcher;

pub use config::{ConfigBody, DatasetSource, PlannedRun, RunConfig, RunId};
pub use pool::{Adoption, Pool, PoolEvent, RunHandle};
pub use runner::Progress;
pub use session::{Change, RunView, Session, SessionOptions, SpecView};
pub use spec::{Plan, Spec, SpecError};
pub use status::RunStatus;
pub use store::{RunDir, Store, Summary};
