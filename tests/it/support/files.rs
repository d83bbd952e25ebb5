//! Files the tests write and read back: a spec saved as an editor saves
//! it, and a run's `summary.json`.

use serde_json::Value;
use std::path::Path;

/// Writes `text` to `path` as an editor saves: a temporary file renamed
/// over it, so a watcher never reads half a file.
pub fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A run directory's `summary.json`, if it is there and whole.
pub fn summary(dir: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).ok()?).ok()
}

/// The status a run directory's summary records.
pub fn status(dir: &Path) -> Option<String> {
    summary(dir)?["status"].as_str().map(str::to_string)
}
