//! The store's dataset cache, `runs/.datasets/`: each collected dataset
//! written once, by whichever process built it first, and read by every
//! other process and Slurm task that trains on the same definition, so
//! the medium learner and the collection run once per store, not once per
//! process.
//!
//! An entry is named by the SHA-256 of its definition (the same parts the
//! run id hashes: pipeline version, environment, γ, quality with its
//! definition version, size and seed) and holds:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `PSMDSET\0` |
//! | 4 | format version ([`FORMAT`]), little-endian like every number below |
//! | 4 + k | the definition's JSON, its length first |
//! | 8 · 3 + 1 | states, actions, transitions n, behaviour policy present (0/1) |
//! | 4 · n each | episode, step, state, action, next state (`u32`) |
//! | 8 · n | reward (`f64`, its bits) |
//! | n each | terminated, truncated (0/1) |
//! | 8 · S · A | the behaviour policy, when present |
//! | 32 | SHA-256 of everything before it |
//!
//! The compiled empirical MDP is not stored: compiling is hundreds of
//! millions of transitions a second, reading it back would not be faster.
//!
//! Written atomically (a temp file created exclusively, then renamed), so
//! a reader sees a whole entry or none, and two processes building one
//! definition both leave a valid entry (the same bits: collection is a
//! pure function of the definition). Verified on every read: the
//! checksum, the definition, the shape and every index's range; an entry
//! that fails is deleted and the dataset built again, a link or anything
//! but a regular file at an entry's name is refused, neither read nor
//! written through. Deleting the directory, or any entry, is always safe.
//! The directory holds at most [`LIMIT`] bytes: after each write the least
//! recently used entries (by modification time, which a read refreshes)
//! are deleted until the rest fit.
//!
//! Datasets read from a file (`dataset = { file = ... }`) are not cached:
//! they are files already, and the run reads them whole anyway to check
//! their hash.

use crate::data::Dataset;
use crate::fsio::{self, Limit};
use crate::mdp::Policy;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The cache's directory in a store.
pub const DIR: &str = ".datasets";
/// What an entry's name ends with.
const SUFFIX: &str = ".dataset";
/// What a temp file's name holds, before its writer renames it.
const TEMP: &str = ".tmp-";
/// The version of the entry layout above; an entry of another version is
/// refused like a corrupt one (and rebuilt).
pub const FORMAT: u32 = 1;
const MAGIC: &[u8; 8] = b"PSMDSET\0";
/// The most bytes the cache keeps (1 GiB: a thousand 30k-transition
/// datasets, or thirty of a million transitions).
pub const LIMIT: u64 = 1 << 30;
/// A temp file older than this was left by a writer that died.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The cache of one store.
#[derive(Debug, Clone)]
pub struct DatasetCache {
    dir: PathBuf,
    limit: u64,
}

/// How many entries the cache holds and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub entries: u64,
    pub bytes: u64,
    /// The most bytes the cache keeps.
    pub limit: u64,
}

impl DatasetCache {
    /// The cache in `store`'s [`DIR`], bounded by [`LIMIT`].
    pub fn of_store(store: &Path) -> Self {
        Self::with_limit(store.join(DIR), LIMIT)
    }

    /// A cache in `dir` that keeps at most `limit` bytes.
    pub fn with_limit(dir: PathBuf, limit: u64) -> Self {
        DatasetCache { dir, limit }
    }

    /// Where the entry of `key` (a definition's canonical JSON) lives.
    pub fn path_of(&self, key: &str) -> PathBuf {
        let digest = Sha256::digest(key.as_bytes());
        let name = crate::text::hex(&digest);
        self.dir.join(name + SUFFIX)
    }

    /// The dataset of `key` if the cache holds a valid entry for it, on an
    /// environment of `n_states` × `n_actions`. A missing entry is a miss;
    /// an invalid one is deleted (a link or a non-regular file is left, and
    /// said) and is a miss too.
    pub fn load(&self, key: &str, n_states: usize, n_actions: usize) -> Option<Dataset> {
        let path = self.path_of(key);
        match std::fs::symlink_metadata(&path) {
            Err(_) => return None,
            Ok(meta) if !meta.is_file() => {
                tracing::warn!(
                    "dataset cache: {} is not a regular file; neither read nor replaced",
                    path.display()
                );
                return None;
            }
            Ok(_) => {}
        }
        let limit = Limit {
            bytes: self.limit,
            what: "dataset cache entry",
        };
        let read = fsio::open_regular(&path).and_then(|file| {
            // Refreshed for the LRU order; a store shared read-only is fine without.
            let _ = file.set_modified(SystemTime::now());
            fsio::read_file_bounded(file, limit)
        });
        let refused = match read {
            Ok(bytes) => match decode(&bytes, key, n_states, n_actions) {
                Ok(data) => return Some(data),
                Err(why) => why,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => e.to_string(),
        };
        tracing::warn!(
            "dataset cache: {} refused ({refused}); deleted, the dataset is built again",
            path.display()
        );
        let _ = std::fs::remove_file(&path);
        None
    }

    /// Writes `data` as the entry of `key`, then evicts the least recently
    /// used entries beyond the limit. A failure is said and otherwise
    /// ignored: the cache only saves time.
    pub fn save(&self, key: &str, data: &Dataset) {
        let bytes = encode(key, data);
        if bytes.len() as u64 > self.limit {
            return;
        }
        let path = self.path_of(key);
        if let Err(e) = self.write(&path, &bytes) {
            tracing::warn!("dataset cache: cannot write {}: {e}", path.display());
            return;
        }
        self.evict();
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        fsio::check_real_dir(&self.dir)?;
        // Nothing but a regular file is replaced: a link planted there is
        // refused (rename would not write through it, but its owner hears).
        fsio::check_writable(path)?;
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self.dir.join(format!(
            "{name}{TEMP}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let result = (|| {
            let mut file = fsio::create_new(&tmp)?;
            file.write_all(bytes)?;
            // No fsync: an entry torn by a power loss fails its checksum
            // and is rebuilt, which is cheaper than syncing every build.
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// The entries (regular files named as entries) with their sizes and
    /// modification times; temp files left by dead writers are deleted.
    fn entries(&self) -> Vec<(SystemTime, u64, PathBuf)> {
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let now = SystemTime::now();
        let mut entries = Vec::new();
        for entry in listing.filter_map(std::result::Result::ok) {
            let Ok(meta) = entry.metadata() else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let modified = meta.modified().unwrap_or(now);
            if !meta.is_file() {
                continue;
            }
            if name.contains(TEMP) {
                if now.duration_since(modified).unwrap_or_default() > STALE_TEMP {
                    let _ = std::fs::remove_file(entry.path());
                }
            } else if name.ends_with(SUFFIX) {
                entries.push((modified, meta.len(), entry.path()));
            }
        }
        entries
    }

    /// Deletes the least recently used entries until the rest fit the
    /// limit. Two processes evicting at once may both delete an entry: a
    /// missing entry is a miss, nothing worse.
    fn evict(&self) {
        let mut entries = self.entries();
        let mut total: u64 = entries.iter().map(|(_, bytes, _)| bytes).sum();
        entries.sort();
        for (_, bytes, path) in entries {
            if total <= self.limit {
                break;
            }
            let _ = std::fs::remove_file(path);
            total -= bytes;
        }
    }

    /// The entries the cache holds now and their bytes.
    pub fn usage(&self) -> Usage {
        let entries = self.entries();
        Usage {
            entries: entries.len() as u64,
            bytes: entries.iter().map(|(_, bytes, _)| bytes).sum(),
            limit: self.limit,
        }
    }
}

/// The bytes of the entry of `key` holding `data` (layout in the module doc).
pub fn encode(key: &str, data: &Dataset) -> Vec<u8> {
    let n = data.len();
    let policy = data.behavior.as_ref();
    let mut out =
        Vec::with_capacity(64 + key.len() + n * 30 + policy.map_or(0, |p| p.len() * 8) + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    for x in [data.n_states, data.n_actions, n] {
        out.extend_from_slice(&(x as u64).to_le_bytes());
    }
    out.push(u8::from(policy.is_some()));
    for column in [
        &data.episode,
        &data.step,
        &data.state,
        &data.action,
        &data.next_state,
    ] {
        for x in column {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    for x in &data.reward {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.extend(data.terminated.iter().map(|&b| u8::from(b)));
    out.extend(data.truncated.iter().map(|&b| u8::from(b)));
    if let Some(policy) = policy {
        policy
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// Reads the bytes in order, refusing a read past their end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err("truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// `n` values of `width` bytes each, the length checked before any
    /// allocation.
    fn column<T>(
        &mut self,
        n: usize,
        width: usize,
        parse: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>, String> {
        let bytes = self.take(n.checked_mul(width).ok_or("truncated")?)?;
        Ok(bytes.chunks_exact(width).map(parse).collect())
    }
}

/// The dataset in `bytes` if they are a valid entry of `key` for an
/// environment of `n_states` × `n_actions`; why not otherwise.
pub fn decode(
    bytes: &[u8],
    key: &str,
    n_states: usize,
    n_actions: usize,
) -> Result<Dataset, String> {
    let Some(body_len) = bytes.len().checked_sub(32) else {
        return Err("truncated".into());
    };
    let (body, digest) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != digest {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader(body);
    if r.take(MAGIC.len())? != MAGIC {
        return Err("not a dataset cache entry".into());
    }
    let format = r.u32()?;
    if format != FORMAT {
        return Err(format!("format {format}, this version reads {FORMAT}"));
    }
    let key_len = r.u32()? as usize;
    if r.take(key_len)? != key.as_bytes() {
        return Err("holds another definition".into());
    }
    let (ns, na) = (r.u64()?, r.u64()?);
    if (ns, na) != (n_states as u64, n_actions as u64) {
        return Err(format!(
            "{ns} states × {na} actions, the environment has {n_states} × {n_actions}"
        ));
    }
    let n = usize::try_from(r.u64()?).map_err(|_| "truncated")?;
    let has_policy = match r.take(1)?[0] {
        0 => false,
        1 => true,
        other => return Err(format!("behaviour flag {other}")),
    };
    let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
    let float = |b: &[u8]| f64::from_le_bytes(b.try_into().expect("8 bytes"));
    let mut data = Dataset::new(n_states, n_actions);
    data.episode = r.column(n, 4, word)?;
    data.step = r.column(n, 4, word)?;
    data.state = r.column(n, 4, word)?;
    data.action = r.column(n, 4, word)?;
    data.next_state = r.column(n, 4, word)?;
    data.reward = r.column(n, 8, float)?;
    data.terminated = r.column(n, 1, |b| b[0] == 1)?;
    data.truncated = r.column(n, 1, |b| b[0] == 1)?;
    if has_policy {
        let values = r.column(n_states * n_actions, 8, float)?;
        let policy = Policy::from_shape_vec((n_states, n_actions), values)
            .map_err(|e| format!("behaviour policy: {e}"))?;
        data.behavior = Some(policy);
    }
    if !r.0.is_empty() {
        return Err(format!("{} bytes past the data", r.0.len()));
    }
    // A checksum guards against accidents only: indices are checked too,
    // so no entry can make the compiler index out of range.
    let in_range = |column: &[u32], bound: usize| column.iter().all(|&x| (x as usize) < bound);
    if !(in_range(&data.state, n_states)
        && in_range(&data.next_state, n_states)
        && in_range(&data.action, n_actions))
    {
        return Err("a state or action out of range".into());
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Quality;
    use crate::mdp::envs;

    fn collected() -> Dataset {
        let env = envs::make("FrozenLake-v1").unwrap();
        crate::data::collect(&env, Quality::Medium, 500, 3, 0.99).unwrap()
    }

    #[test]
    fn an_entry_holds_the_same_bits() {
        let data = collected();
        assert!(data.behavior.is_some());
        let bytes = encode("k", &data);
        assert_eq!(decode(&bytes, "k", 16, 4).unwrap(), data);
    }

    #[test]
    fn a_damaged_or_foreign_entry_is_refused() {
        let data = collected();
        let bytes = encode("k", &data);
        let refused = |bytes: &[u8], key: &str, ns: usize| decode(bytes, key, ns, 4).unwrap_err();
        assert_eq!(
            refused(&bytes[..bytes.len() - 1], "k", 16),
            "checksum mismatch"
        );
        assert_eq!(refused(&bytes[..10], "k", 16), "truncated");
        let mut flipped = bytes.clone();
        flipped[100] ^= 1;
        assert_eq!(refused(&flipped, "k", 16), "checksum mismatch");
        assert_eq!(refused(&bytes, "other", 16), "holds another definition");
        assert!(refused(&bytes, "k", 64).contains("16 states"));
        // A valid checksum over an index out of range.
        let mut bad = data.clone();
        bad.state[0] = 16;
        assert_eq!(
            refused(&encode("k", &bad), "k", 16),
            "a state or action out of range"
        );
    }

    #[test]
    fn concurrent_writers_leave_one_valid_entry_and_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let data = &collected();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                // A cache each, as separate processes have.
                let cache = DatasetCache::of_store(dir.path());
                scope.spawn(move || cache.save("k", data));
            }
        });
        let cache = DatasetCache::of_store(dir.path());
        assert_eq!(cache.load("k", 16, 4).as_ref(), Some(data));
        let names: Vec<_> = std::fs::read_dir(dir.path().join(DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert_eq!(cache.usage().entries, 1);
    }

    #[test]
    fn a_corrupt_entry_is_deleted_and_a_missing_one_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DatasetCache::of_store(dir.path());
        assert_eq!(cache.load("k", 16, 4), None);
        cache.save("k", &collected());
        let path = cache.path_of("k");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[60] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.load("k", 16, 4), None);
        assert!(!path.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_an_entry_is_neither_read_nor_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DatasetCache::of_store(dir.path());
        let data = collected();
        // A valid entry elsewhere, linked at the entry's name.
        let outside = dir.path().join("outside");
        std::fs::write(&outside, encode("k", &data)).unwrap();
        std::fs::create_dir(dir.path().join(DIR)).unwrap();
        std::os::unix::fs::symlink(&outside, cache.path_of("k")).unwrap();
        assert_eq!(cache.load("k", 16, 4), None);
        let other = crate::data::collect(
            &envs::make("FrozenLake-v1").unwrap(),
            Quality::Random,
            10,
            0,
            0.99,
        )
        .unwrap();
        cache.save("k", &other);
        assert!(cache.path_of("k").is_symlink());
        assert_eq!(std::fs::read(&outside).unwrap(), encode("k", &data));
        assert_eq!(cache.usage().entries, 0);
    }

    #[test]
    fn the_least_recently_used_entries_go_first_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let data = collected();
        let size = encode("a", &data).len() as u64;
        // Room for two entries.
        let cache = DatasetCache::with_limit(dir.path().join(DIR), 2 * size + 1);
        cache.save("a", &data);
        cache.save("b", &data);
        let ago = |key: &str, seconds| {
            let file = std::fs::File::options()
                .write(true)
                .open(cache.path_of(key))
                .unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(seconds))
                .unwrap();
        };
        ago("a", 200);
        ago("b", 100);
        // Reading `a` makes it the most recently used: `b` goes.
        assert!(cache.load("a", 16, 4).is_some());
        cache.save("c", &data);
        assert!(cache.path_of("a").exists());
        assert!(!cache.path_of("b").exists());
        assert!(cache.path_of("c").exists());
        assert_eq!(
            cache.usage(),
            Usage {
                entries: 2,
                bytes: 2 * size,
                limit: 2 * size + 1
            }
        );
    }
}
