//! The integration tests, one binary: one link of the library after an
//! edit instead of one per file. `cargo test --release` runs them all;
//! `cargo test --release --test it fuzz::` one module (the module names are
//! the files').

mod support;

mod algorithms;
mod bits;
mod bundled;
mod cli;
mod continuous;
mod dataset_cache;
mod datasets;
mod docs;
mod figures;
mod fuzz;
mod gymnasium;
mod hostile;
mod index;
mod linear;
mod mdp_files;
mod no_score;
mod pessimism;
mod reliability;
mod samples;
mod session;
mod slurm;
mod tmux_e2e;
mod tmux_hostile;
mod tui_snapshots;
