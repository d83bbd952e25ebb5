//! Bounded reads of files that users, other machines or attackers write:
//! every file the library reads goes through here, so no file can hang a
//! reader, exhaust memory or make it allocate what its header claims.
//!
//! Two rules, for every kind of file:
//! - **Only regular files are read.** A FIFO blocks `open(2)` until a
//!   writer appears (the dashboard's start-up hung on a FIFO dataset), and
//!   a device such as `/dev/zero` never ends. [`open_regular`] checks the
//!   metadata (following symlinks: a link to a regular file is fine, a link
//!   to `/dev/zero` is not) before opening, then opens with `O_NONBLOCK` and
//!   checks the opened file again, so a file swapped for a FIFO in between
//!   cannot block either.
//! - **Every kind has a bound** ([`Limit`]), checked against the file's size
//!   before anything is read and enforced while reading (a file can grow
//!   while it is read). Files that can legitimately be large (dataset CSVs,
//!   `metrics.jsonl`) are streamed instead, with a bound on one line
//!   ([`LineLimit`]) and on the rows a reader keeps.
//!
//!
//! Writes go through here too, for the store's sake: on a shared store
//! (the Slurm setup) anyone who can write to `runs/` could plant a link
//! at a run's `metrics.jsonl` and have another user's worker truncate the
//! link's target. [`open_for_writing`] never follows a link at the last
//! component (`O_NOFOLLOW`) and never opens anything but a regular file,
//! without blocking on a FIFO; [`create_new`] makes temp files
//! exclusively; [`check_real_dir`] refuses a directory replaced by a link.
//!
//! Errors are `std::io::Error`s whose message names what is wrong (the
//! caller adds the path), so callers keep their own error context.

use std::fs::File;
use std::io::{BufRead, ErrorKind, Read};
use std::path::Path;

/// The most bytes one kind of file may hold, and its name for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u64,
    pub what: &'static str,
}

/// An experiment spec (TOML): hand-written, a few KiB; 1 MiB leaves room
/// for long generated grids.
pub const SPEC: Limit = Limit {
    bytes: 1 << 20,
    what: "spec",
};
/// A grid map (`map:PATH`): one letter per cell; 1 MiB is a 1000×1000 map.
pub const MAP: Limit = Limit {
    bytes: 1 << 20,
    what: "map",
};
/// An MDP file (`file:PATH`, Gymnasium's `P` as JSON): Taxi's whole table
/// is about 200 KiB; 64 MiB allows tables a hundred times larger.
pub const MDP_FILE: Limit = Limit {
    bytes: 64 << 20,
    what: "MDP file",
};
/// A run's `config.json`, `summary.json` or `checkpoint.json`, or a policy
/// file: JSON the store writes itself, kilobytes to a few MiB for large
/// tables (a checkpoint holds the learner's state).
pub const JSON: Limit = Limit {
    bytes: 64 << 20,
    what: "JSON file",
};
/// A run's `q.npy`: the Q table, 8 bytes per (state, action); 64 MiB is
/// eight million pairs. The header's shape is checked against the file's
/// size before any table is allocated ([`crate::experiment::store::read_q`]).
pub const NPY: Limit = Limit {
    bytes: 64 << 20,
    what: "npy file",
};
/// A dataset file (CSV or `.npz`) a spec names or `train --data` reads:
/// it is hashed into run ids and then parsed, at a few hundred MB/s, and
/// 16 GiB is about 400 million transitions, some 12 GB once read. A larger
/// file is refused from its length, before a byte is read.
pub const DATASET: Limit = Limit {
    bytes: 16 << 30,
    what: "dataset file",
};
/// How much of a run's `log.txt` the detail reads, from its end.
pub const LOG_TAIL: u64 = 64 << 10;
/// The longest line of a streamed file (a dataset CSV row, a
/// `metrics.jsonl` line): real ones are under 1 KiB.
pub const LINE: Limit = Limit {
    bytes: 1 << 20,
    what: "line",
};

/// A reader that hashes (SHA-256) every byte read through it, so a file
/// can be parsed and hashed in one read: what was hashed is what was
/// parsed, however the file changes meanwhile.
pub struct HashingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
    read: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: sha2::Digest::new(),
            read: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Reads what is left, then the hex SHA-256 of every byte read.
    pub fn finish(mut self) -> std::io::Result<String> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok(crate::text::hex(&sha2::Digest::finalize(self.hasher)))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Opens a regular file ([`open_regular`]) of at most `limit` bytes by
/// its length, for a reader that streams it.
pub fn open_bounded(path: &Path, limit: Limit) -> std::io::Result<File> {
    let file = open_regular(path)?;
    if file.metadata()?.len() > limit.bytes {
        return Err(too_large(limit));
    }
    Ok(file)
}

/// `1 MiB`, `64 KiB`, `12 B`.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

fn too_large(limit: Limit) -> std::io::Error {
    std::io::Error::new(
        ErrorKind::InvalidData,
        format!(
            "larger than the {} limit for a {}",
            human_bytes(limit.bytes),
            limit.what
        ),
    )
}

/// What a non-regular file is, for the error that refuses it.
fn kind_name(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Refuses a file of type `file_type`; `verb` is what only regular files are.
fn refuse_as(file_type: std::fs::FileType, verb: &str) -> std::io::Error {
    std::io::Error::new(
        ErrorKind::InvalidInput,
        format!(
            "not a regular file ({}); only regular files are {verb}",
            kind_name(file_type)
        ),
    )
}

fn refuse(file_type: std::fs::FileType) -> std::io::Error {
    refuse_as(file_type, "read")
}

/// Opens with `options` and `flags` added to `O_NONBLOCK` (a FIFO must not
/// block the opener), refuses anything that is not a regular file once
/// open (`verb` for the error), then clears `O_NONBLOCK` again.
fn open_checked(
    path: &Path,
    mut options: std::fs::OpenOptions,
    flags: i32,
    verb: &str,
) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | flags);
    }
    #[cfg(not(unix))]
    let _ = flags;
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse_as(meta.file_type(), verb));
    }
    #[cfg(unix)]
    {
        // Regular files ignore O_NONBLOCK; cleared anyway, for clarity.
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a descriptor this function owns.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    Ok(file)
}

/// Which file `meta` is: its device and inode (0 and 0 where the
/// platform has none), to tell a file replaced under the same name.
#[cfg(unix)]
pub fn device_and_inode(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
pub fn device_and_inode(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(unix)]
const NO_FOLLOW: i32 = libc::O_NOFOLLOW;
#[cfg(not(unix))]
const NO_FOLLOW: i32 = 0;

/// Opens `path` for writing as `options` say (append, create, …), never
/// through a symbolic link and only if it is (or becomes) a regular file:
/// whatever sits at `path` is checked before the open, for an error that
/// says what it is, and the open itself refuses a link swapped in since.
pub fn open_for_writing(path: &Path, options: &std::fs::OpenOptions) -> std::io::Result<File> {
    check_writable(path)?;
    open_checked(path, options.clone(), NO_FOLLOW, "written").map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return std::io::Error::new(
                ErrorKind::InvalidInput,
                "a symbolic link; links are never written through",
            );
        }
        e
    })
}

/// Refuses whatever sits at `path` unless it is a regular file (or
/// nothing), saying what it is, without opening it: a link is not
/// followed, a FIFO not opened.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => Err(refuse_as(meta.file_type(), "written")),
        _ => Ok(()),
    }
}

/// Creates `path` for writing, failing if anything (a link included) is
/// already there: for temp files, whose names are unique.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    open_for_writing(
        path,
        std::fs::OpenOptions::new().write(true).create_new(true),
    )
}

/// Refuses `dir` unless it is a real directory, not a link to one: a run
/// directory replaced by a link would take the store's writes elsewhere.
pub fn check_real_dir(dir: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "not a directory ({}); the store writes only into its own directories",
                kind_name(meta.file_type())
            ),
        ))
    }
}

/// Opens `path` for reading if it is a regular file (symlinks followed),
/// without ever blocking on a FIFO; anything else is an error saying what
/// it is. A missing file is `ErrorKind::NotFound`, as from `File::open`.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(refuse(meta.file_type()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Swapped for a FIFO since the check: the open must not block.
    open_checked(path, options, 0, "read")
}

/// Reads all of `file` (opened by [`open_regular`]) if it holds at most
/// `limit` bytes, checking the size first and again while reading.
pub fn read_file_bounded(file: File, limit: Limit) -> std::io::Result<Vec<u8>> {
    let len = file.metadata()?.len();
    if len > limit.bytes {
        return Err(too_large(limit));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit.bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(too_large(limit)); // grew while read
    }
    Ok(bytes)
}

/// Reads the regular file at `path` if it holds at most `limit` bytes.
pub fn read_bounded(path: &Path, limit: Limit) -> std::io::Result<Vec<u8>> {
    read_file_bounded(open_regular(path)?, limit)
}

/// [`read_bounded`], as UTF-8 text.
pub fn read_to_string_bounded(path: &Path, limit: Limit) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|_| {
        std::io::Error::new(
            ErrorKind::InvalidData,
            format!("the {} is not UTF-8 text", limit.what),
        )
    })
}

/// The last `max` bytes (at most) of the regular file at `path`, starting
/// after a line break when it had to cut.
pub fn read_tail(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut file = open_regular(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    if start > 0 {
        let cut = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.drain(..cut);
    }
    Ok(bytes)
}

/// A reader that fails once a line grows past `limit` bytes, so a parser
/// that buffers a line (a CSV record, a JSON line) never holds more.
pub struct LineLimit<R> {
    inner: R,
    limit: Limit,
    /// Bytes since the last line break.
    run: u64,
}

impl<R> LineLimit<R> {
    pub fn new(inner: R, limit: Limit) -> Self {
        LineLimit {
            inner,
            limit,
            run: 0,
        }
    }

    fn account(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let longest = if bytes.len() as u64 <= self.limit.bytes {
            // A line wholly inside a read no longer than the limit is within
            // it: only the line continuing across reads needs counting, so
            // two short scans do (the reads of a CSV reader are 1 MiB).
            match bytes.iter().position(|&b| b == b'\n') {
                None => {
                    self.run += bytes.len() as u64;
                    self.run
                }
                Some(first) => {
                    let continued = self.run + first as u64;
                    let last = bytes.iter().rposition(|&b| b == b'\n').unwrap_or(first);
                    self.run = (bytes.len() - last - 1) as u64;
                    continued.max(self.run)
                }
            }
        } else {
            let mut lines = bytes.split(|&b| b == b'\n');
            // The first piece continues the line before this read.
            self.run += lines.next().map_or(0, <[u8]>::len) as u64;
            let mut longest = self.run;
            for line in lines {
                self.run = line.len() as u64;
                longest = longest.max(self.run);
            }
            longest
        };
        if longest > self.limit.bytes {
            return Err(too_large(self.limit));
        }
        Ok(())
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.account(&buf[..n])?;
        Ok(n)
    }
}

/// Reads one line (with its `\n`) into `line` from `reader`, failing when
/// it holds more than `limit` bytes before its line break instead of
/// buffering a line without end; returns the bytes read (0 at the end).
pub fn read_line_bounded(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit: Limit,
) -> std::io::Result<usize> {
    let start = line.len();
    let n = reader
        .by_ref()
        .take(limit.bytes + 1)
        .read_until(b'\n', line)?;
    // Past the limit without a line break: `limit` bytes, then more.
    if n as u64 > limit.bytes && line[start..].last() != Some(&b'\n') {
        return Err(too_large(limit));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused_before_reading() {
        let err = read_bounded(Path::new("/dev/zero"), SPEC).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = read_bounded(dir.path(), SPEC).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: a valid C string.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let err = read_bounded(&fifo, SPEC).unwrap_err();
            assert!(err.to_string().contains("FIFO"), "{err}");
            let link = dir.path().join("zero");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            assert!(read_bounded(&link, SPEC).is_err());
            let file = dir.path().join("ok.txt");
            std::fs::write(&file, "hello").unwrap();
            let link = dir.path().join("ok-link");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert_eq!(read_bounded(&link, SPEC).unwrap(), b"hello");
        }
        let missing = read_bounded(&dir.path().join("missing"), SPEC).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }

    #[cfg(unix)]
    #[test]
    fn writes_refuse_links_fifos_and_linked_directories() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let append = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .clone();
        let err = open_for_writing(&link, &append).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(create_new(&link).is_err());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = open_for_writing(&fifo, &append).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        let file = dir.path().join("file");
        open_for_writing(&file, &append).unwrap();
        assert!(create_new(&file).is_err(), "exclusive");
        check_real_dir(dir.path()).unwrap();
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(dir.path(), &linked).unwrap();
        let err = check_real_dir(&linked).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    #[test]
    fn files_past_their_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 11]).unwrap();
        let tiny = Limit {
            bytes: 10,
            what: "test file",
        };
        let err = read_bounded(&path, tiny).unwrap_err();
        assert_eq!(
            err.to_string(),
            "larger than the 10 B limit for a test file"
        );
        std::fs::write(&path, vec![b'x'; 10]).unwrap();
        assert_eq!(read_bounded(&path, tiny).unwrap().len(), 10);
        assert_eq!(human_bytes(SPEC.bytes), "1 MiB");
    }

    #[test]
    fn lines_past_their_limit_fail_the_reader() {
        let limit = Limit {
            bytes: 4,
            what: "line",
        };
        let mut ok = LineLimit::new(&b"abcd\nefgh\n"[..], limit);
        let mut out = Vec::new();
        ok.read_to_end(&mut out).unwrap();
        let mut long = LineLimit::new(&b"ab\nabcde\n"[..], limit);
        assert!(long.read_to_end(&mut Vec::new()).is_err());
        // Reads shorter than the limit, lines across them.
        struct Chunks<'a>(&'a [u8]);
        impl Read for Chunks<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(3).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut ok = LineLimit::new(Chunks(b"ab\nabcd\nab\ncd\n"), limit);
        ok.read_to_end(&mut Vec::new()).unwrap();
        let mut long = LineLimit::new(Chunks(b"ab\nabcde\n"), limit);
        assert!(long.read_to_end(&mut Vec::new()).is_err());
        let mut long = LineLimit::new(Chunks(b"abcde"), limit);
        assert!(long.read_to_end(&mut Vec::new()).is_err());
        let mut reader = &b"abcd\nabcdef\n"[..];
        let mut line = Vec::new();
        assert_eq!(read_line_bounded(&mut reader, &mut line, limit).unwrap(), 5);
        line.clear();
        assert!(read_line_bounded(&mut reader, &mut line, limit).is_err());
    }

    #[test]
    fn a_tail_starts_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        assert_eq!(read_tail(&path, 8).unwrap(), b"three\n");
        assert_eq!(read_tail(&path, 100).unwrap(), b"one\ntwo\nthree\n");
    }
}
