//! CSV import/export in the interchange format (docs/cli.md, "Data formats"):
//! `episode,step,state,action,reward,next_state,terminated,truncated`,
//! header required, columns in any order (extra columns are ignored).
//! Booleans are `true`/`false` (also `1`/`0`, `True`/`False` as numpy and
//! pandas write them). Rewards are written in Rust's shortest round-trip
//! form, so export then import is lossless.

use super::{Dataset, MAX_TRANSITIONS};
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::Path;

/// The required columns, in the order they are written.
pub const COLUMNS: [&str; 8] = [
    "episode",
    "step",
    "state",
    "action",
    "reward",
    "next_state",
    "terminated",
    "truncated",
];

/// Reads a dataset CSV, checking every cell against the environment's sizes.
pub fn read_csv(path: &Path, n_states: usize, n_actions: usize) -> Result<Dataset> {
    let file = crate::fsio::open_regular(path)
        .map_err(|e| Error::io(format!("cannot open dataset {}", path.display()), e))?;
    read_csv_from(path, file, n_states, n_actions)
}

/// What one read asks for: the csv crate's buffer, so that both readers
/// below take the file in the same pieces, and a read that fails (a line
/// past [`crate::fsio::LINE`]) stops either at the same row.
pub(crate) const BLOCK: usize = 1 << 20;

/// [`read_csv`] from `file`, opened from `path` (which errors name), in
/// one pass over its bytes (a [`crate::fsio::HashingReader`] hashes what
/// was parsed).
///
/// Plain CSV — a header and rows split by `,` and `\n` alone, no quotes,
/// no `\r`, no blank lines, every row as wide as the header — is split and
/// parsed here, each block's rows on both cores; a cell not in its
/// simplest form (`+3`, ` 3`, an integer of ten digits, a bad value) is
/// read by the same conversion as the csv crate's records, so values and
/// errors are the same. From the first line that is not plain (from the
/// start when the header is not), the csv crate's reader takes the rest of
/// the stream behind a copy of the header, its rows and positions counted
/// from where it took over: the result is what the csv crate alone gives.
pub fn read_csv_from(
    path: &Path,
    file: impl Read,
    n_states: usize,
    n_actions: usize,
) -> Result<Dataset> {
    let layout = |header: &[&[u8]]| Layout::new(path, header, n_states, n_actions);
    read_blocks(path, file, &layout, BLOCK)
}

/// A dataset's CSV rows as the reader's driver sees them: a layout built
/// from the header turns cells into rows of its dataset type, on the fast
/// path or with errors naming the cell. The driver (blocks, both cores,
/// the csv crate's takeover) is the same for every dataset type.
pub(crate) trait Format: Sync {
    type Data: Send;
    /// An empty dataset to parse into.
    fn empty(&self) -> Self::Data;
    fn len(data: &Self::Data) -> usize;
    /// Makes room for `rows` more rows; a hint (when it fails, the rows
    /// grow the columns as they come, and the reader reports the limit).
    fn reserve(data: &mut Self::Data, rows: usize);
    /// Appends `part`'s rows to `data`.
    fn append(data: &mut Self::Data, part: &mut Self::Data);
    /// The header's number of fields.
    fn width(&self) -> usize;
    /// Appends the row of the plain line at the start of `bytes` when
    /// every cell it uses is in its simplest form and valid, and returns
    /// the line's length (without its `\n`); else appends nothing and
    /// returns `None` ([`Format::convert`] decides). One pass over the
    /// line's bytes, read with [`Fields`].
    fn fast(&self, bytes: &[u8], data: &mut Self::Data) -> Option<usize>;
    /// Appends row `row`'s values from its cells (`cell(i)`: field i, if
    /// there), or returns the error naming the first bad cell.
    fn convert<'c>(
        &self,
        row: u64,
        cell: &dyn Fn(usize) -> Option<&'c [u8]>,
        data: &mut Self::Data,
    ) -> Result<()>;
}

/// The field of each of `required`'s columns in `header`, or the error
/// naming the first one missing.
pub(crate) fn column_index<S: AsRef<str>>(
    path: &Path,
    header: &[&[u8]],
    required: &[S],
) -> Result<Vec<usize>> {
    required
        .iter()
        .map(|name| {
            let name = name.as_ref();
            header
                .iter()
                .position(|h| h.trim_ascii() == name.as_bytes())
                .ok_or_else(|| {
                    csv_error(
                        path,
                        0,
                        Some(name),
                        format!(
                            "missing column `{name}` in the header; required columns: {}",
                            required
                                .iter()
                                .map(AsRef::as_ref)
                                .collect::<Vec<_>>()
                                .join(",")
                        ),
                    )
                })
        })
        .collect()
}

pub(crate) fn csv_error(path: &Path, row: u64, column: Option<&str>, message: String) -> Error {
    Error::Csv {
        path: path.to_path_buf(),
        row,
        column: column.map(str::to_string),
        message,
    }
}

/// A cell as trimmed text, or why not (the caller names the cell).
pub(crate) fn text(bytes: Option<&[u8]>) -> std::result::Result<&str, String> {
    let bytes = bytes.ok_or_else(|| "missing cell".to_string())?;
    std::str::from_utf8(bytes)
        .map(str::trim)
        .map_err(|_| "not UTF-8 text".to_string())
}

/// A non-negative integer below `limit` (any `u32` without one), or why not.
pub(crate) fn integer(text: &str, limit: Option<usize>) -> std::result::Result<u32, String> {
    let value: u32 = text
        .parse()
        .map_err(|e: std::num::ParseIntError| match e.kind() {
            std::num::IntErrorKind::PosOverflow => {
                format!(
                    "{text} is out of range; the largest allowed is {}",
                    u32::MAX
                )
            }
            _ => format!("`{text}` is not a non-negative integer"),
        })?;
    match limit {
        Some(n) if value as usize >= n => Err(format!(
            "{value} is out of range; valid values: 0..={}",
            n - 1
        )),
        _ => Ok(value),
    }
}

/// A finite number, or why not.
pub(crate) fn real(text: &str) -> std::result::Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !value.is_finite() {
        return Err(format!("`{text}` is not a finite number"));
    }
    Ok(value)
}

/// A boolean, or why not.
pub(crate) fn boolean(text: &str) -> std::result::Result<bool, String> {
    flag(text.as_bytes())
        .ok_or_else(|| format!("`{text}` is not a boolean; valid values: true, false, 1, 0"))
}

/// A finite number in any form `str::parse` takes, on the fast path.
fn fast_real(cell: &[u8]) -> Option<f64> {
    let value: f64 = std::str::from_utf8(cell).ok()?.parse().ok()?;
    value.is_finite().then_some(value)
}

/// `10^k` for the `k` whose power is exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A line read field by field on the fast path, in one pass over its
/// bytes: each read takes one field in its simplest form and the `,` or
/// `\n` after it, or fails (`None`: the line is then read again by
/// [`Format::convert`], which names the bad cell).
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The line's end has been read: its `\n`, or the end of `bytes`.
    ended: bool,
}

impl<'a> Fields<'a> {
    /// The fields of the line at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Fields {
            bytes,
            at: 0,
            ended: false,
        }
    }

    /// The byte at `at`; `\n` past the end (the last line may lack one).
    #[inline]
    fn byte(&self) -> u8 {
        self.bytes.get(self.at).copied().unwrap_or(b'\n')
    }

    /// Where the next field starts; `None` past the line's end.
    #[inline]
    fn start(&self) -> Option<usize> {
        (!self.ended).then_some(self.at)
    }

    /// Takes the separator after a field: `,`, or the line's end.
    #[inline]
    fn separator(&mut self) -> Option<()> {
        match self.byte() {
            b',' => {}
            b'\n' => self.ended = true,
            _ => return None,
        }
        self.at += 1;
        Some(())
    }

    /// The field from `start` up to its separator, which is taken.
    #[inline]
    fn rest(&mut self, start: usize) -> Option<&'a [u8]> {
        while !matches!(self.byte(), b',' | b'\n') {
            self.at += 1;
        }
        let field = &self.bytes[start..self.at];
        self.separator()?;
        Some(field)
    }

    /// 1 to 9 decimal digits (so no overflow) making less than `bound`.
    #[inline]
    pub(crate) fn integer(&mut self, bound: usize) -> Option<u32> {
        let start = self.start()?;
        let mut value = 0u32;
        loop {
            let digit = self.byte().wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            if self.at - start == 9 {
                return None;
            }
            value = value * 10 + u32::from(digit);
            self.at += 1;
        }
        if self.at == start || value as usize >= bound {
            return None;
        }
        self.separator()?;
        Some(value)
    }

    /// A finite number: a plain decimal read here, any other form by
    /// `str::parse`.
    #[inline]
    pub(crate) fn real(&mut self) -> Option<f64> {
        let start = self.start()?;
        if let Some(value) = self.decimal()
            && self.separator().is_some()
        {
            return Some(value);
        }
        self.at = start;
        fast_real(self.rest(start)?)
    }

    /// `-?d+(.d+)?` of at most 19 digits whose digits make at most 2^53,
    /// with at most 22 after the point: that integer and that power of
    /// ten are exact in an `f64`, so their quotient is correctly rounded,
    /// the value `str::parse` gives (Clinger's fast path).
    #[inline]
    fn decimal(&mut self) -> Option<f64> {
        let negative = self.byte() == b'-';
        self.at += usize::from(negative);
        let first = self.at;
        let mut mantissa = 0u64;
        let mut point = None;
        loop {
            let b = self.byte();
            let digit = b.wrapping_sub(b'0');
            if digit <= 9 {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            } else if b == b'.' && point.is_none() {
                point = Some(self.at);
            } else {
                break;
            }
            self.at += 1;
        }
        let scale = point.map_or(0, |p| self.at - p - 1);
        let digits = self.at - first - usize::from(point.is_some());
        let whole = point.map_or(digits, |p| p - first);
        if whole == 0
            || (point.is_some() && scale == 0)
            || digits > 19
            || scale >= POW10.len()
            || mantissa > 1 << 53
        {
            return None;
        }
        #[allow(clippy::cast_precision_loss)] // exact: at most 2^53
        let value = mantissa as f64 / POW10[scale];
        Some(if negative { -value } else { value })
    }

    /// A boolean as [`flag`] spells it.
    #[inline]
    pub(crate) fn flag(&mut self) -> Option<bool> {
        let start = self.start()?;
        // The spellings written here, without a scan for the separator.
        for (text, value) in [(&b"false"[..], false), (b"true", true)] {
            if self.bytes[start..].starts_with(text) {
                self.at += text.len();
                if self.separator().is_some() {
                    return Some(value);
                }
                self.at = start;
            }
        }
        flag(self.rest(start)?)
    }

    /// Passes over a field no column reads.
    #[inline]
    pub(crate) fn skip(&mut self) -> Option<()> {
        let start = self.start()?;
        self.rest(start).map(drop)
    }

    /// The line's length once its last field is read; `None` while
    /// fields are left (a line wider than the header).
    #[inline]
    pub(crate) fn end(&self) -> Option<usize> {
        self.ended.then(|| self.at - 1)
    }
}

/// The tabular columns' fields in a header.
struct Layout<'a> {
    path: &'a Path,
    /// The field of each column of [`COLUMNS`].
    index: [usize; 8],
    /// The column of each field (8: none).
    columns: Vec<usize>,
    /// The bound of each integer column's values.
    bounds: [usize; 8],
    n_states: usize,
    n_actions: usize,
}

impl<'a> Layout<'a> {
    fn new(path: &'a Path, header: &[&[u8]], n_states: usize, n_actions: usize) -> Result<Self> {
        let index: [usize; 8] = column_index(path, header, &COLUMNS)?
            .try_into()
            .expect("one field per column");
        let mut columns = vec![8; header.len()];
        for (c, &field) in index.iter().enumerate() {
            columns[field] = c;
        }
        let any = u32::MAX as usize + 1;
        Ok(Layout {
            path,
            index,
            columns,
            bounds: [any, any, n_states, n_actions, 0, n_states, 0, 0],
            n_states,
            n_actions,
        })
    }
}

impl Format for Layout<'_> {
    type Data = Dataset;

    fn empty(&self) -> Dataset {
        Dataset::new(self.n_states, self.n_actions)
    }

    fn len(data: &Dataset) -> usize {
        data.len()
    }

    fn reserve(data: &mut Dataset, rows: usize) {
        let _ = data.try_reserve(rows);
    }

    fn append(data: &mut Dataset, part: &mut Dataset) {
        data.append(part);
    }

    fn width(&self) -> usize {
        self.columns.len()
    }

    fn convert<'c>(
        &self,
        row: u64,
        cell: &dyn Fn(usize) -> Option<&'c [u8]>,
        data: &mut Dataset,
    ) -> Result<()> {
        let at = |c: usize, message: String| csv_error(self.path, row, Some(COLUMNS[c]), message);
        let text = |c: usize| text(cell(self.index[c])).map_err(|m| at(c, m));
        let integer = |c: usize, limit| integer(text(c)?, limit).map_err(|m| at(c, m));
        let reward = real(text(4)?).map_err(|m| at(4, m))?;
        let boolean = |c: usize| boolean(text(c)?).map_err(|m| at(c, m));
        data.push(
            integer(0, None)?,
            integer(1, None)?,
            integer(2, Some(self.n_states))?,
            integer(3, Some(self.n_actions))?,
            reward,
            integer(5, Some(self.n_states))?,
            boolean(6)?,
            boolean(7)?,
        );
        Ok(())
    }

    #[inline]
    fn fast(&self, bytes: &[u8], data: &mut Dataset) -> Option<usize> {
        let mut fields = Fields::new(bytes);
        let (mut ints, mut reward, mut flags) = ([0u32; 8], 0.0, [false; 8]);
        for &c in &self.columns {
            match c {
                4 => reward = fields.real()?,
                6 | 7 => flags[c] = fields.flag()?,
                8 => fields.skip()?,
                _ => ints[c] = fields.integer(self.bounds[c])?,
            }
        }
        let len = fields.end()?;
        let [e, t, s, a, _, s2, _, _] = ints;
        data.push(e, t, s, a, reward, s2, flags[6], flags[7]);
        Some(len)
    }
}

pub(crate) fn flag(text: &[u8]) -> Option<bool> {
    match text {
        b"true" | b"True" | b"TRUE" | b"1" => Some(true),
        b"false" | b"False" | b"FALSE" | b"0" => Some(false),
        _ => None,
    }
}

/// Where the csv crate's reader took over: the data rows, the lines and
/// the bytes of the file before the stream it reads (which starts with a
/// copy of the header line, at line 1 and byte 0).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Offset {
    rows: u64,
    lines: u64,
    bytes: u64,
}

/// [`read_csv_from`] with reads of `block` bytes (tests use small ones).
pub(crate) fn read_blocks<L: Format>(
    path: &Path,
    file: impl Read,
    make: &impl Fn(&[&[u8]]) -> Result<L>,
    block: usize,
) -> Result<L::Data> {
    let mut input = crate::fsio::LineLimit::new(file, crate::fsio::LINE);
    let read_error =
        |row: u64, e: std::io::Error| csv_error(path, row, None, ::csv::Error::from(e).to_string());
    let mut buf = Vec::with_capacity(2 * block);
    let header_end = loop {
        if let Some(end) = memchr::memchr(b'\n', &buf) {
            break Some(end);
        }
        if read_block(&mut input, &mut buf, block).map_err(|e| read_error(0, e))? == 0 {
            break None;
        }
    };
    // The header: a plain line, else the csv crate reads everything.
    let header_end = match header_end {
        Some(end) if end > 0 && plain(&buf[..end]) && !buf.starts_with("\u{feff}".as_bytes()) => {
            end + 1
        }
        _ => {
            let stream = std::io::Cursor::new(buf).chain(input);
            return read_records(path, stream, block, Offset::default(), make, None);
        }
    };
    let fields: Vec<&[u8]> = buf[..header_end - 1].split(|&b| b == b',').collect();
    let layout = make(&fields)?;
    let mut data = layout.empty();
    let header = buf[..header_end].to_vec();
    // buf[start..] is not parsed yet; `base` is buf[0]'s offset in the file.
    let (mut start, mut base, mut end_of_file) = (header_end, 0u64, false);
    loop {
        let end = if end_of_file {
            buf.len()
        } else {
            memchr::memrchr(b'\n', &buf[start..]).map_or(start, |i| start + i + 1)
        };
        if let Some(stop) = parse_lines(&layout, &buf[start..end], &mut data)? {
            // Not plain from buf[start + stop]: the csv crate reads the rest.
            let rest = std::io::Cursor::new(buf.split_off(start + stop));
            let offset = Offset {
                rows: L::len(&data) as u64,
                lines: L::len(&data) as u64,
                bytes: base + (start + stop) as u64 - header.len() as u64,
            };
            let stream = std::io::Cursor::new(header).chain(rest).chain(input);
            return read_records(path, stream, block, offset, make, Some(data));
        }
        if end_of_file {
            break;
        }
        buf.drain(..end);
        (start, base) = (0, base + end as u64);
        if read_block(&mut input, &mut buf, block)
            .map_err(|e| read_error(L::len(&data) as u64 + 1, e))?
            == 0
        {
            end_of_file = true;
        }
    }
    finish::<L>(path, data)
}

/// Appends one read of at most `block` bytes to `buf`; its length.
fn read_block(input: &mut impl Read, buf: &mut Vec<u8>, block: usize) -> std::io::Result<usize> {
    let filled = buf.len();
    buf.resize(filled + block, 0);
    let n = input.read(&mut buf[filled..]);
    buf.truncate(filled + *n.as_ref().unwrap_or(&0));
    n
}

/// No byte the csv crate treats specially beyond `,` and `\n`.
fn plain(line: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\r', line).is_none()
}

/// Parses the lines of `bytes` (the last one may lack its `\n` at the end
/// of the file) into `data`, in two halves on both cores. `Some(at)`: the
/// line at byte `at` and those after it are not plain (or would pass
/// [`MAX_TRANSITIONS`]), the lines before it are in `data`.
fn parse_lines<L: Format>(layout: &L, bytes: &[u8], data: &mut L::Data) -> Result<Option<usize>> {
    // Up to the first line holding a quote or a carriage return.
    let (bytes, special) = match memchr::memchr2(b'"', b'\r', bytes) {
        Some(at) => {
            let line = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
            (&bytes[..line], Some(line))
        }
        None => (bytes, None),
    };
    let middle = memchr::memchr(b'\n', &bytes[bytes.len() / 2..])
        .map_or(bytes.len(), |i| bytes.len() / 2 + i + 1);
    let (first, second) = bytes.split_at(middle);
    // The first half is parsed into `data` itself, the second into a
    // part appended after it: one copy of half the rows, and the columns
    // reserved once for the block's lines (the last may lack its `\n`).
    let lines = |half: &[u8]| memchr::memchr_iter(b'\n', half).count() + 1;
    let (first_lines, second_lines) = (lines(first), lines(second));
    L::reserve(data, first_lines + second_lines);
    let second_row = L::len(data) + first_lines - 1;
    let (a, (mut part, b)) = rayon::join(
        || parse_part(layout, first, 0, data),
        || {
            let mut part = layout.empty();
            L::reserve(&mut part, second_lines);
            let stop = parse_part(layout, second, second_row, &mut part);
            (part, stop)
        },
    );
    if let Some(stop) = a {
        return stop.map(Some);
    }
    L::append(data, &mut part);
    match b {
        Some(stop) => stop.map(|at| Some(middle + at)),
        None => Ok(special),
    }
}

/// Appends the rows of `bytes` (plain but for blank lines and widths) to
/// `data`, the first being row `rows_before + L::len(data)` (from 0), and
/// says where they stopped: `Ok(at)` at a line the csv crate must read,
/// or the first bad cell's error.
fn parse_part<L: Format>(
    layout: &L,
    bytes: &[u8],
    rows_before: usize,
    data: &mut L::Data,
) -> Option<Result<usize>> {
    let mut at = 0;
    while at < bytes.len() {
        let row = rows_before + L::len(data);
        // Blank lines, rows of another width and the row past the limit
        // are the csv crate's to read and report.
        if bytes[at] == b'\n' || row == MAX_TRANSITIONS {
            return Some(Ok(at));
        }
        if let Some(len) = layout.fast(&bytes[at..], data) {
            at += len + 1;
            continue;
        }
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        let cells: Vec<&[u8]> = bytes[at..end].split(|&b| b == b',').collect();
        if cells.len() != layout.width() {
            return Some(Ok(at));
        }
        if let Err(e) = layout.convert(row as u64 + 1, &|i| cells.get(i).copied(), data) {
            return Some(Err(e));
        }
        at = end + 1;
    }
    None
}

/// The csv crate's reader alone over `stream` in reads of `block` bytes,
/// for tests that compare it with [`read_blocks`].
#[cfg(test)]
pub(crate) fn read_by_crate<L: Format>(
    path: &Path,
    stream: impl Read,
    make: &impl Fn(&[&[u8]]) -> Result<L>,
    block: usize,
) -> Result<L::Data> {
    read_records(path, stream, block, Offset::default(), make, None)
}

/// The csv crate's reader over `stream` (a header, then rows), appending
/// to `data`, rows and positions in errors counted from `offset`.
fn read_records<L: Format>(
    path: &Path,
    stream: impl Read,
    block: usize,
    offset: Offset,
    make: &impl Fn(&[&[u8]]) -> Result<L>,
    data: Option<L::Data>,
) -> Result<L::Data> {
    // Streamed: a row longer than the limit fails the read instead of
    // growing a record without end; the row count is bounded below.
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(block)
        .from_reader(stream);
    let header = reader
        .byte_headers()
        .map_err(|e| csv_error(path, 0, None, e.to_string()))?
        .clone();
    let layout = make(&header.iter().collect::<Vec<_>>())?;
    let mut data = data.unwrap_or_else(|| layout.empty());
    let mut record = ::csv::ByteRecord::new();
    let mut row = offset.rows;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, row + 1, None, message(&e, offset))),
        }
        row += 1;
        if L::len(&data) == MAX_TRANSITIONS {
            return Err(csv_error(
                path,
                row,
                None,
                format!("too many rows; a dataset holds at most {MAX_TRANSITIONS} transitions"),
            ));
        }
        layout.convert(row, &|i| record.get(i), &mut data)?;
    }
    finish::<L>(path, data)
}

/// The csv crate's message for `e`, its position moved by `offset`.
fn message(e: &::csv::Error, offset: Offset) -> String {
    match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            pos: Some(pos),
            expected_len,
            len,
        } if offset != Offset::default() => format!(
            "CSV error: record {} (line: {}, byte: {}): \
             found record with {len} fields, but the previous record has {expected_len} fields",
            pos.record() + offset.rows,
            pos.line() + offset.lines,
            pos.byte() + offset.bytes,
        ),
        _ => e.to_string(),
    }
}

fn finish<L: Format>(path: &Path, data: L::Data) -> Result<L::Data> {
    if L::len(&data) == 0 {
        return Err(Error::File {
            path: path.to_path_buf(),
            message: "no transitions".into(),
        });
    }
    Ok(data)
}

/// Writes `data` with the header `episode,step,state,action,reward,next_state,terminated,truncated`.
pub fn write_csv(path: &Path, data: &Dataset) -> Result<()> {
    let context = || format!("cannot write dataset {}", path.display());
    let file = std::fs::File::create(path).map_err(|e| Error::io(context(), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let write = |out: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        writeln!(out, "{}", COLUMNS.join(","))?;
        for i in 0..data.len() {
            writeln!(
                out,
                "{},{},{},{},{:?},{},{},{}",
                data.episode[i],
                data.step[i],
                data.state[i],
                data.action[i],
                data.reward[i],
                data.next_state[i],
                data.terminated[i],
                data.truncated[i]
            )?;
        }
        out.flush()
    };
    write(&mut out).map_err(|e| Error::io(context(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dataset() -> impl Strategy<Value = Dataset> {
        prop::collection::vec(
            (
                0u32..50,
                0u32..100,
                0u32..16,
                0u32..4,
                prop::num::f64::NORMAL | prop::num::f64::ZERO,
                0u32..16,
                any::<bool>(),
                any::<bool>(),
            ),
            1..200,
        )
        .prop_map(|rows| {
            let mut d = Dataset::new(16, 4);
            for (e, t, s, a, r, s2, term, trunc) in rows {
                d.push(e, t, s, a, r, s2, term, trunc);
            }
            d
        })
    }

    proptest! {
        #[test]
        fn round_trip_is_lossless(data in dataset()) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("d.csv");
            write_csv(&path, &data).unwrap();
            let back = read_csv(&path, 16, 4).unwrap();
            prop_assert_eq!(back, data);
        }
    }

    /// The reader, and the csv crate's reader alone, on `text` read in
    /// pieces of `block` bytes: the dataset or the error's text.
    fn both(text: &[u8], block: usize) -> [std::result::Result<Dataset, String>; 2] {
        let path = Path::new("d.csv");
        let (ns, na) = (5, 2);
        let make = |header: &[&[u8]]| Layout::new(path, header, ns, na);
        [
            read_blocks(path, text, &make, block),
            read_by_crate(path, text, &make, block),
        ]
        .map(|r| r.map_err(|e| e.to_string()))
    }

    /// Cells as files may write them, or not quite: other spellings,
    /// spaces, quotes, carriage returns, bad and out-of-range values.
    const ODD_CELLS: [&str; 44] = [
        "+1",
        " 2",
        "3 ",
        "",
        "x",
        "007",
        "2",
        "4",
        "5",
        "1234567890",
        "4294967295",
        "4294967296",
        "-1",
        "1e3",
        "-0.5",
        "inf",
        "NaN",
        ".5",
        "5.",
        "True",
        "FALSE",
        "0",
        "1",
        "\"1\"",
        "\"a,b\"",
        "1\r",
        "\u{e9}",
        "2\n",
        // Numbers at the edges of the fast path's own reading.
        "123456789",
        "-0.0",
        "0.1",
        "1e-7",
        "0.30000000000000004",
        "9007199254740993",
        "12345678901234567890",
        "0.0000000000000000000001",
        "0.00000000000000000000001",
        "1.2.3",
        "-",
        "--1",
        "-.5",
        "tru",
        "falsey",
        "true1",
    ];

    fn line() -> impl Strategy<Value = String> {
        let row = (
            (0u32..3, 0u32..40, 0u32..5, 0u32..2),
            (-2.0f64..2.0, 0u32..5, any::<bool>(), any::<bool>()),
        )
            .prop_map(|((e, t, s, a), (r, s2, term, trunc))| {
                [e, t, s, a]
                    .map(|x| x.to_string())
                    .to_vec()
                    .into_iter()
                    .chain([
                        format!("{r:?}"),
                        s2.to_string(),
                        term.to_string(),
                        trunc.to_string(),
                    ])
            });
        let odd = prop::sample::select(&ODD_CELLS[..]);
        let changes = prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec((0usize..9, odd), 1..3),
        ];
        let mutated = (row, changes).prop_map(|(row, changes)| {
            let mut cells: Vec<String> = row.collect();
            for (i, text) in changes {
                match i {
                    8 => cells.push(text.to_string()), // one field too many
                    _ => cells[i] = text.to_string(),
                }
            }
            cells.join(",")
        });
        prop_oneof![
            30 => mutated,
            1 => Just(String::new()),
            1 => Just("0,0,1".to_string()),
            1 => Just("0,0,1,1,0.5,2,\"false\",false".to_string()),
        ]
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        let header = prop_oneof![
            8 => Just(COLUMNS.join(",")),
            1 => Just(format!("\u{feff}{}", COLUMNS.join(","))),
            1 => Just(format!("\"episode\",{}", COLUMNS[1..].join(","))),
            1 => Just(format!("{},{}", COLUMNS.join(","), "extra")),
            1 => Just(format!(" {} ", COLUMNS.join(" , "))),
            1 => Just(format!("\n{}", COLUMNS.join(","))),
            1 => Just(COLUMNS[..7].join(",")),
        ];
        let ending = prop_oneof![8 => Just("\n"), 1 => Just("\r\n")];
        (
            header,
            prop::collection::vec(line(), 0..40),
            ending,
            any::<bool>(),
        )
            .prop_map(|(header, lines, ending, last_ending)| {
                let mut text = header + ending;
                text += &lines.join(ending);
                if last_ending {
                    text += ending;
                }
                text.into_bytes()
            })
    }

    proptest! {
        /// The fast path and the csv crate alone read the same dataset or
        /// fail with the same error, whatever the file and the size of
        /// the reads (so plain lines give way to the csv crate mid-file,
        /// at every position within a read).
        #[test]
        fn reads_what_the_csv_crate_reads(text in text(), block in 1usize..200) {
            let [fast, csv] = both(&text, block);
            prop_assert_eq!(fast, csv, "{}", String::from_utf8_lossy(&text));
        }
    }

    proptest! {
        /// A number cell reads as `str::parse` reads it, to the bit, on
        /// either path (plain decimals read by [`Fields`], other forms by
        /// `str::parse`), and the line ends after it.
        #[test]
        fn reals_read_as_str_parse_reads_them(
            text in "-?[0-9]{0,20}(\\.[0-9]{0,25})?(e-?[0-9]{1,3})?",
        ) {
            let expected = text.parse::<f64>().ok().filter(|x| x.is_finite());
            let line = format!("{text}\n");
            let mut fields = Fields::new(line.as_bytes());
            let read = fields.real();
            prop_assert_eq!(read.map(f64::to_bits), expected.map(f64::to_bits));
            if read.is_some() {
                prop_assert_eq!(fields.end(), Some(text.len()));
            }
        }
    }

    /// Where the csv crate takes over mid-file, its positions are the
    /// file's: a row of the wrong width after a quoted one.
    #[test]
    fn errors_after_the_crate_takes_over_name_the_files_positions() {
        let header = COLUMNS.join(",");
        let text = format!(
            "{header}\n0,0,1,1,0.5,2,false,false\n0,1,2,0,1,3,false,false\n\
             0,2,3,1,0,\"4\",false,false\n0,3,4,1\n"
        );
        for block in [1, 7, 64, 1 << 20] {
            let [fast, csv] = both(text.as_bytes(), block);
            assert_eq!(fast, csv, "block {block}");
            let e = fast.unwrap_err();
            assert!(
                e.contains("row 4: CSV error: record 4 (line: 5, byte: 141)"),
                "{e}"
            );
        }
    }

    fn error_of(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, text).unwrap();
        read_csv(&path, 5, 2).unwrap_err().to_string()
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = error_of("episode,step,state,action,reward,next_state,terminated\n");
        assert!(e.contains("missing column `truncated`"), "{e}");
        let header = "episode,step,state,action,reward,next_state,terminated,truncated\n";
        let e = error_of(&format!(
            "{header}0,0,0,0,0,1,false,false\n0,1,1,x,0,2,false,false\n"
        ));
        assert!(e.contains("row 2, column `action`: `x`"), "{e}");
        let e = error_of(&format!("{header}0,0,0,0,0,5,false,false\n"));
        assert!(
            e.contains("row 1, column `next_state`: 5 is out of range; valid values: 0..=4"),
            "{e}"
        );
        let e = error_of(&format!("{header}0,0,0,0,abc,1,false,false\n"));
        assert!(e.contains("column `reward`"), "{e}");
        let e = error_of(&format!("{header}0,0,0,0,0,1,maybe,false\n"));
        assert!(e.contains("`maybe` is not a boolean"), "{e}");
        let e = error_of(&format!("{header}0,0,0,0,0\n"));
        assert!(e.contains("row 1"), "{e}");
        let e = error_of(&format!("{header}4294967296,0,0,0,0,1,false,false\n"));
        assert!(
            e.contains("row 1, column `episode`: 4294967296 is out of range; the largest allowed is 4294967295"),
            "{e}"
        );
        let e = error_of(&format!("{header}-1,0,0,0,0,1,false,false\n"));
        assert!(e.contains("`-1` is not a non-negative integer"), "{e}");
        let e = error_of(header);
        assert!(e.ends_with("bad.csv: no transitions"), "{e}");
    }
}
