//! Watches directories for changes: native events (inotify, …) debounced so
//! an editor's save — write to a temp file, rename over the original — is
//! one change, or polling for network file systems where native events do
//! not cross machines.

use crate::error::{Error, Result};
use notify_debouncer_full::notify::{self, PollWatcher, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, FileIdCache, NoCache, new_debouncer, new_debouncer_opt,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long events settle before they are delivered.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// How often polling mode scans.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Keeps watching while alive.
pub struct DirWatcher {
    _debouncer: Box<dyn std::any::Any + Send>,
}

/// Calls `on_change` with the changed paths whenever something under one of
/// `dirs` (each watched recursively or not) changes.
pub fn watch(
    dirs: &[(&Path, bool)],
    poll: bool,
    on_change: impl Fn(Vec<PathBuf>) + Send + 'static,
) -> Result<DirWatcher> {
    let handler = move |result: DebounceEventResult| {
        if let Ok(events) = result {
            let mut paths: Vec<PathBuf> = events.into_iter().flat_map(|e| e.event.paths).collect();
            paths.sort();
            paths.dedup();
            if !paths.is_empty() {
                on_change(paths);
            }
        }
    };
    let failed = |e: notify::Error| Error::Invalid(format!("cannot watch for changes: {e}"));
    if poll {
        // The poller compares modification times in whole seconds: two saves
        // within a second would look like one unless contents are compared.
        let config = notify::Config::default()
            .with_poll_interval(POLL_INTERVAL)
            .with_compare_contents(true);
        let d =
            new_debouncer_opt::<_, PollWatcher, NoCache>(DEBOUNCE, None, handler, NoCache, config)
                .map_err(failed)?;
        attach(d, dirs)
    } else {
        attach(
            new_debouncer(DEBOUNCE, None, handler).map_err(failed)?,
            dirs,
        )
    }
}

fn attach<W, C>(mut debouncer: Debouncer<W, C>, dirs: &[(&Path, bool)]) -> Result<DirWatcher>
where
    W: notify::Watcher + Send + 'static,
    C: FileIdCache + Send + 'static,
{
    for (dir, recursive) in dirs {
        let mode = if *recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        debouncer.watch(dir, mode).map_err(|e| {
            Error::Invalid(format!("cannot watch {} for changes: {e}", dir.display()))
        })?;
    }
    Ok(DirWatcher {
        _debouncer: Box::new(debouncer),
    })
}
