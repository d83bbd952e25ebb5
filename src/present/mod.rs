//! Presentation: how runs are named, tabulated and drawn for people. Pure
//! functions of configs and metrics, shared by the command line (`report`,
//! `plot`, `run`'s summary) and the dashboard; nothing here trains, stores
//! or watches (that is [`experiment`](crate::experiment)), so the
//! experiment system stays usable without any of it.
//!
//! - [`labels`]: short labels that tell groups of runs apart (only what
//!   differs among them is named);
//! - [`scores`]: the lecture's score table, algorithm × dataset, mean ± std
//!   over seeds, the behaviour's score first and a Total row, every run
//!   counted (diverged `†`, failed `✗n`), ties bold together, Welch's
//!   test against each row's best, as markdown, LaTeX, CSV or JSON;
//! - [`scale`]: the symmetric-log scale, its ticks and the smoothing of
//!   curves, shared by the chart and the figure;
//! - [`plot`]: what a figure shows (the BEAR figure, algorithms compared,
//!   a hyper-parameter sweep, one run's heatmap), from runs' histories;
//! - [`figure`]: drawing it as SVG or PNG, legend outside the data;
//! - [`select`]: which runs a view shows (the dashboard's `/` filter and
//!   the command line's selection flags).

pub mod figure;
pub mod labels;
pub mod plot;
pub mod scale;
pub mod scores;
pub mod select;

pub use labels::Labels;
pub use scores::ScoreTable;
