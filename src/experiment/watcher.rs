//! Watches directories for changes: native events (inotify, …) debounced so
//! an editor's save — write to a temp file, rename over the original — is
//! one change, or polling for network file systems where native events do
//! not cross machines.
//!
//! Each directory is watched alone, not its subdirectories: the owner adds
//! and removes directories as it needs them (the store's live runs), so the
//! watches scale with what changes, not with what is stored. inotify counts
//! watches against a per-user limit (`fs.inotify.max_user_watches`); past
//! it, a directory is polled instead and [`DirWatcher::degraded`] says so.
//!
//! Only changes count (create, modify, remove, rename): the watcher's owner
//! reads the files it is told about, and native back-ends also report those
//! reads (open, close) — passed on, every reload would trigger the next.

use crate::error::{Error, Result};
use notify_debouncer_full::notify::{self, EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant, SystemTime};

/// How long events settle before they are delivered.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// How often polling mode scans, at the most: a scan waits at least
/// [`POLL_SHARE`] times as long as the last one took, so polling a large
/// store takes a bounded share of one core.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// See [`POLL_INTERVAL`].
pub const POLL_SHARE: u32 = 4;

/// One directory to watch (its entries, not its subdirectories' entries).
#[derive(Debug, Clone, Copy)]
pub struct WatchDir<'a> {
    pub path: &'a Path,
    /// Polling only: also hash file contents, for small hand-edited files
    /// (specs) whose two saves may fall within one mtime tick. Large
    /// directories (the store's) are compared by mtime, size and inode.
    pub compare_contents: bool,
}

/// Called with the changed paths. After events were lost (the kernel's
/// queue overflowed), with every watched directory: look at everything.
type OnChange = Arc<dyn Fn(Vec<PathBuf>) + Send + Sync>;

type Native = Debouncer<notify::RecommendedWatcher, RecommendedCache>;

/// Keeps watching while alive; directories are added and removed as the
/// owner needs them.
pub struct DirWatcher {
    /// `None` in polling mode.
    native: Option<Native>,
    /// The natively watched directories (shared with the event handler,
    /// which reports them all when events were lost).
    native_dirs: Arc<Mutex<BTreeSet<PathBuf>>>,
    /// Polls every directory in polling mode, and with native events those
    /// the watch limit left over.
    poller: Poller,
    /// The native watch limit, once it was hit ("the 8192", or "the" where
    /// it cannot be read).
    limit_hit: Option<String>,
    /// Tests only: native watches allowed before the limit is hit.
    #[cfg(test)]
    native_cap: Option<usize>,
}

impl DirWatcher {
    /// A watcher of nothing yet: natively, or by polling every
    /// [`POLL_INTERVAL`] (or slower on a large store).
    pub fn new(
        poll: bool,
        on_change: impl Fn(Vec<PathBuf>) + Send + Sync + 'static,
    ) -> Result<Self> {
        let on_change: OnChange = Arc::new(on_change);
        let native_dirs = Arc::new(Mutex::new(BTreeSet::new()));
        let native = if poll {
            None
        } else {
            let (report, dirs) = (on_change.clone(), native_dirs.clone());
            let handler = move |result: DebounceEventResult| match result {
                Ok(events) => {
                    let mut paths: Vec<PathBuf> = if events.iter().any(|e| e.need_rescan()) {
                        lock(&dirs).iter().cloned().collect()
                    } else {
                        events
                            .into_iter()
                            .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
                            .flat_map(|e| e.event.paths)
                            .collect()
                    };
                    paths.sort();
                    paths.dedup();
                    if !paths.is_empty() {
                        report(paths);
                    }
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!("watching for changes: {e}");
                    }
                }
            };
            Some(
                new_debouncer(DEBOUNCE, None, handler)
                    .map_err(|e| Error::Invalid(format!("cannot watch for changes: {e}")))?,
            )
        };
        Ok(DirWatcher {
            native,
            native_dirs,
            poller: Poller::start(on_change)?,
            limit_hit: None,
            #[cfg(test)]
            native_cap: None,
        })
    }

    /// Watches `dir` (again: nothing happens). What is in it already is
    /// not reported: the caller reads it after this returns, and whatever
    /// changes from then on is reported.
    pub fn add(&mut self, dir: WatchDir) -> Result<()> {
        if self.contains(dir.path) {
            return Ok(());
        }
        let Some(native) = &mut self.native else {
            return self.poller.add(dir);
        };
        #[cfg(test)]
        let capped = self
            .native_cap
            .is_some_and(|cap| lock(&self.native_dirs).len() >= cap);
        #[cfg(not(test))]
        let capped = false;
        let watched = if capped {
            Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))
        } else {
            native.watch(dir.path, RecursiveMode::NonRecursive)
        };
        match watched {
            Ok(()) => {
                lock(&self.native_dirs).insert(dir.path.to_path_buf());
                Ok(())
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                self.limit_hit = Some(
                    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
                        .map_or_else(|_| "the".into(), |n| format!("the {}", n.trim())),
                );
                self.poller.add(dir)
            }
            Err(e) => Err(Error::Invalid(format!(
                "cannot watch {} for changes: {e}",
                dir.path.display()
            ))),
        }
    }

    /// Stops watching `dir` (not watched: nothing happens).
    pub fn remove(&mut self, dir: &Path) {
        if lock(&self.native_dirs).remove(dir) {
            if let Some(native) = &mut self.native {
                // Already gone when the directory was removed.
                let _ = native.unwatch(dir);
            }
        } else {
            self.poller.remove(dir);
        }
    }

    pub fn contains(&self, dir: &Path) -> bool {
        lock(&self.native_dirs).contains(dir) || self.poller.contains(dir)
    }

    /// How many directories are watched, natively or by polling.
    pub fn len(&self) -> usize {
        lock(&self.native_dirs).len() + self.poller.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Once the native watch limit was hit, that it was and how many
    /// directories are polled instead (the dashboard shows it).
    pub fn degraded(&self) -> Option<String> {
        let limit = self.limit_hit.as_ref()?;
        Some(format!(
            "{limit} native watches this user may hold (fs.inotify.max_user_watches) are \
             taken: {} directories are polled instead",
            self.poller.len()
        ))
    }

    /// Tests only: hit the watch limit after `cap` native watches.
    #[cfg(test)]
    fn cap_native(&mut self, cap: usize) {
        self.native_cap = Some(cap);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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

/// A polled directory: whether its files' contents are compared, and what
/// its last scan saw.
struct Polled {
    compare_contents: bool,
    seen: HashMap<PathBuf, Fingerprint>,
}

/// The polling thread, scanning the directories added; it stops when
/// this is dropped.
struct Poller {
    dirs: Arc<Mutex<HashMap<PathBuf, Polled>>>,
    _stop: mpsc::Sender<()>,
}

impl Poller {
    fn start(on_change: OnChange) -> Result<Self> {
        let dirs: Arc<Mutex<HashMap<PathBuf, Polled>>> = Arc::default();
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = dirs.clone();
        let mut wait = POLL_INTERVAL;
        std::thread::Builder::new()
            .name("pessimist-poll".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    let started = Instant::now();
                    // Scanned unlocked, so adding a directory never waits
                    // for a scan of the others.
                    let todo: Vec<(PathBuf, bool)> = lock(&shared)
                        .iter()
                        .map(|(path, p)| (path.clone(), p.compare_contents))
                        .collect();
                    let mut changed = Vec::new();
                    for (path, compare_contents) in todo {
                        let now = scan(&path, compare_contents);
                        let mut dirs = lock(&shared);
                        // Removed meanwhile.
                        let Some(polled) = dirs.get_mut(&path) else {
                            continue;
                        };
                        let seen = &polled.seen;
                        changed.extend(
                            now.iter()
                                .filter(|(p, f)| seen.get(*p) != Some(f))
                                .map(|(p, _)| p.clone())
                                .chain(seen.keys().filter(|p| !now.contains_key(*p)).cloned()),
                        );
                        polled.seen = now;
                    }
                    if !changed.is_empty() {
                        changed.sort();
                        on_change(changed);
                    }
                    wait = POLL_INTERVAL.max(started.elapsed() * POLL_SHARE);
                }
            })
            .map_err(|e| Error::io("cannot start the polling thread", e))?;
        Ok(Poller { dirs, _stop: stop })
    }

    /// Polls `dir` from now on: what is in it now is what later scans
    /// compare with.
    fn add(&self, dir: WatchDir) -> Result<()> {
        if !dir.path.is_dir() {
            return Err(Error::Invalid(format!(
                "cannot watch {} for changes: not a directory",
                dir.path.display()
            )));
        }
        let seen = scan(dir.path, dir.compare_contents);
        lock(&self.dirs).insert(
            dir.path.to_path_buf(),
            Polled {
                compare_contents: dir.compare_contents,
                seen,
            },
        );
        Ok(())
    }

    fn remove(&self, dir: &Path) {
        lock(&self.dirs).remove(dir);
    }

    fn contains(&self, dir: &Path) -> bool {
        lock(&self.dirs).contains_key(dir)
    }

    fn len(&self) -> usize {
        lock(&self.dirs).len()
    }
}

/// Every entry of `dir`. A subdirectory is known by its inode, which
/// listing the directory gives without a `stat` (a store's spec directory
/// holds a million run directories); a file by its metadata too.
fn scan(dir: &Path, compare_contents: bool) -> HashMap<PathBuf, Fingerprint> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new(); // removed: its entries are reported gone
    };
    let mut out = HashMap::new();
    for entry in entries.filter_map(std::result::Result::ok) {
        let path = entry.path();
        let fingerprint = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            Fingerprint {
                modified: None,
                len: 0,
                inode: entry_inode(&entry),
                contents: None,
            }
        } else {
            let Ok(meta) = entry.metadata() else { continue };
            let contents = (compare_contents && meta.is_file())
                .then(|| crate::fsio::read_bounded(&path, crate::fsio::SPEC).ok())
                .flatten()
                .map(|bytes| {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    bytes.hash(&mut h);
                    h.finish()
                });
            Fingerprint {
                modified: meta.modified().ok(),
                len: meta.len(),
                inode: crate::fsio::device_and_inode(&meta).1,
                contents,
            }
        };
        out.insert(path, fingerprint);
    }
    out
}

/// Which directory sits at `path` now (device and inode), to notice one
/// moved away and replaced by another of the same name: a watch follows
/// the directory it was given, not its name. `None` when nothing is there.
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some(crate::fsio::device_and_inode(&meta))
}

#[cfg(unix)]
fn entry_inode(entry: &std::fs::DirEntry) -> u64 {
    std::os::unix::fs::DirEntryExt::ino(entry)
}

#[cfg(not(unix))]
fn entry_inode(_: &std::fs::DirEntry) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the native watch limit a directory is polled instead, its
    /// changes still reported, and the watcher says why. Synchronised on
    /// the reported paths, not on time.
    #[test]
    fn past_the_watch_limit_a_directory_is_polled_and_said() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for d in [&a, &b] {
            std::fs::create_dir(d).unwrap();
        }
        let (tx, rx) = mpsc::channel();
        let mut watcher = DirWatcher::new(false, move |paths| {
            let _ = tx.send(paths);
        })
        .unwrap();
        watcher.cap_native(1);
        for d in [&a, &b] {
            watcher
                .add(WatchDir {
                    path: d,
                    compare_contents: false,
                })
                .unwrap();
        }
        assert_eq!(watcher.len(), 2);
        let why = watcher.degraded().unwrap();
        assert!(
            why.contains("max_user_watches") && why.contains("1 directories are polled"),
            "{why}"
        );
        for d in [&a, &b] {
            let file = d.join("summary.json");
            std::fs::write(&file, "{}").unwrap();
            while !rx.recv().unwrap().contains(&file) {}
        }
        watcher.remove(&b);
        assert_eq!(watcher.len(), 1);
        assert!(
            watcher
                .degraded()
                .unwrap()
                .contains("0 directories are polled")
        );
    }
}
