//! Watches directories for changes: native events (inotify, …) debounced so
//! an editor's save — write to a temp file, rename over the original — is
//! one change, or polling for network file systems where native events do
//! not cross machines.
//!
//! Only changes count (create, modify, remove, rename): the watcher's owner
//! reads the files it is told about, and native back-ends also report those
//! reads (open, close) — passed on, every reload would trigger the next.

use crate::error::{Error, Result};
use notify_debouncer_full::notify::{self, EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// How long events settle before they are delivered.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// How often polling mode scans.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// One directory to watch.
#[derive(Debug, Clone, Copy)]
pub struct WatchDir<'a> {
    pub path: &'a Path,
    pub recursive: bool,
    /// Polling mode only: also hash file contents, for small hand-edited
    /// files (specs) whose two saves may fall within one mtime tick. Large
    /// trees (the store) are compared by mtime, size and inode only.
    pub compare_contents: bool,
}

/// Keeps watching while alive.
pub struct DirWatcher {
    _inner: Box<dyn std::any::Any + Send>,
}

/// Calls `on_change` with the changed paths whenever something under one of
/// `dirs` changes.
pub fn watch(
    dirs: &[WatchDir],
    poll: bool,
    on_change: impl Fn(Vec<PathBuf>) + Send + 'static,
) -> Result<DirWatcher> {
    if poll {
        return Ok(DirWatcher {
            _inner: Box::new(Poller::start(dirs, on_change)?),
        });
    }
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            let mut paths: Vec<PathBuf> = events
                .into_iter()
                .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
                .flat_map(|e| e.event.paths)
                .collect();
            paths.sort();
            paths.dedup();
            if !paths.is_empty() {
                on_change(paths);
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!("watching for changes: {e}");
            }
        }
    };
    let mut debouncer = new_debouncer(DEBOUNCE, None, handler)
        .map_err(|e| Error::Invalid(format!("cannot watch for changes: {e}")))?;
    for dir in dirs {
        let mode = if dir.recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        debouncer
            .watch(dir.path, mode)
            .map_err(|e: notify::Error| {
                Error::Invalid(format!(
                    "cannot watch {} for changes: {e}",
                    dir.path.display()
                ))
            })?;
    }
    Ok(DirWatcher {
        _inner: Box::new(debouncer),
    })
}

/// What a scan remembers of a file. notify's own poller keeps mtimes in
/// whole seconds and no size, so a summary renamed into place within the
/// second of the previous write would go unseen; this one keeps the full
/// mtime, the size and the inode (a rename-over changes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
    contents: Option<u64>,
}

/// The polling thread; it stops when this is dropped.
struct Poller {
    _stop: mpsc::Sender<()>,
}

impl Poller {
    fn start(dirs: &[WatchDir], on_change: impl Fn(Vec<PathBuf>) + Send + 'static) -> Result<Self> {
        for dir in dirs {
            if !dir.path.is_dir() {
                return Err(Error::Invalid(format!(
                    "cannot watch {} for changes: not a directory",
                    dir.path.display()
                )));
            }
        }
        let dirs: Vec<(PathBuf, bool, bool)> = dirs
            .iter()
            .map(|d| (d.path.to_path_buf(), d.recursive, d.compare_contents))
            .collect();
        let (stop, stopped) = mpsc::channel::<()>();
        let mut seen = scan(&dirs);
        std::thread::Builder::new()
            .name("pessimist-poll".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL_INTERVAL)
                {
                    let now = scan(&dirs);
                    let mut changed: Vec<PathBuf> = now
                        .iter()
                        .filter(|(p, f)| seen.get(*p) != Some(f))
                        .map(|(p, _)| p.clone())
                        .chain(seen.keys().filter(|p| !now.contains_key(*p)).cloned())
                        .collect();
                    seen = now;
                    if !changed.is_empty() {
                        changed.sort();
                        on_change(changed);
                    }
                }
            })
            .map_err(|e| Error::io("cannot start the polling thread", e))?;
        Ok(Poller { _stop: stop })
    }
}

/// Every file (and directory) under the watched directories.
fn scan(dirs: &[(PathBuf, bool, bool)]) -> HashMap<PathBuf, Fingerprint> {
    let mut out = HashMap::new();
    for (root, recursive, contents) in dirs {
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue; // removed between two scans
            };
            for entry in entries.filter_map(std::result::Result::ok) {
                let Ok(meta) = entry.metadata() else { continue };
                let path = entry.path();
                if meta.is_dir() && *recursive {
                    pending.push(path.clone());
                }
                let contents = (*contents && meta.is_file())
                    .then(|| crate::fsio::read_bounded(&path, crate::fsio::SPEC).ok())
                    .flatten()
                    .map(|bytes| {
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        bytes.hash(&mut h);
                        h.finish()
                    });
                out.insert(
                    path,
                    Fingerprint {
                        modified: meta.modified().ok(),
                        len: meta.len(),
                        inode: inode(&meta),
                        contents,
                    },
                );
            }
        }
    }
    out
}

/// Which directory sits at `path` now (device and inode), to notice one
/// moved away and replaced by another of the same name: a watch follows
/// the directory it was given, not its name. `None` when nothing is there.
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((device(&meta), inode(&meta)))
}

#[cfg(unix)]
fn device(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::dev(meta)
}

#[cfg(not(unix))]
fn device(_: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}
