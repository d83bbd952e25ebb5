//! The documentation as a test (docs/architecture.md, "Runnable
//! documentation"): in the README and every page of docs/, the shell
//! blocks marked `sh runnable` run as written and must succeed, the TOML
//! blocks marked `toml spec` load as specs, every relative link names a
//! file (and a heading) that exists, the README stays a front page
//! whose test command is the one `.ci/run` runs, and docs/algorithms.md's
//! key tables are rendered from the code's.

use pessimist::algo;
use pessimist::experiment::spec;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The info string that marks a shell block to run.
const RUNNABLE: &str = "sh runnable";
/// The info string that marks a TOML block that must load as a spec.
const SPEC: &str = "toml spec";

/// One marked block may take this long (it trains shrunk specs only).
const BLOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// The shrunk copy of `experiments/` the runnable blocks see: the first
/// seed only, at most this many iterations, and an eval point at least
/// this often.
const MAX_ITERATIONS: i64 = 20;
const MAX_EVAL_EVERY: i64 = 10;

/// The README, then every page of docs/ by name.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    let mut pages = vec![root.join("README.md")];
    pages.extend(docs);
    pages
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A page's name for messages: its path in the repository.
fn name(page: &Path) -> String {
    page.strip_prefix(ROOT)
        .unwrap_or(page)
        .display()
        .to_string()
}

/// A fenced code block: its info string, the line of its opening fence
/// (1-based) and its text.
#[derive(Debug)]
struct Block {
    info: String,
    line: usize,
    text: String,
}

/// The opening fence of a block: the number of backticks and the info
/// string (CommonMark: up to three spaces of indentation, three or more
/// backticks, an info string without backticks).
fn fence(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let ticks = rest.len() - rest.trim_start_matches('`').len();
    let info = rest[ticks..].trim();
    (indent <= 3 && ticks >= 3 && !info.contains('`')).then_some((ticks, info))
}

/// Every fenced code block of a markdown page, and every line outside
/// them (with its number), in order.
fn parse(markdown: &str) -> (Vec<Block>, Vec<(usize, &str)>) {
    let mut blocks = Vec::new();
    let mut prose = Vec::new();
    let mut open: Option<(usize, Block)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut open {
            Some((ticks, block)) => {
                let closing = line.trim();
                if closing.len() >= *ticks && closing.chars().all(|c| c == '`') {
                    blocks.push(open.take().unwrap().1);
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                }
            }
            None => match fence(line) {
                Some((ticks, info)) => {
                    let block = Block {
                        info: info.to_string(),
                        line: i + 1,
                        text: String::new(),
                    };
                    open = Some((ticks, block));
                }
                None => prose.push((i + 1, line)),
            },
        }
    }
    assert!(open.is_none(), "a code block is never closed: {open:?}");
    (blocks, prose)
}

/// A copy of the bundled `experiments/` in `dir`, every spec shrunk (the
/// first seed, at most [`MAX_ITERATIONS`], an eval point at least every
/// [`MAX_EVAL_EVERY`]); other files are copied as they are.
fn shrunk_experiments(dir: &Path) {
    let from = Path::new(ROOT).join("experiments");
    let to = dir.join("experiments");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.extension().is_some_and(|x| x == "toml") {
            std::fs::write(&target, shrink(&read(&path))).unwrap();
        } else if path.is_file() {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A spec with its first seed only and its iterations and eval interval
/// capped (top-level keys, values or lists, as a spec has them).
fn shrink(text: &str) -> String {
    use toml::Value;
    fn cap(value: &mut Value, most: i64) {
        match value {
            Value::Integer(n) => *n = (*n).min(most),
            Value::Array(list) => {
                for v in list.iter_mut() {
                    cap(v, most);
                }
                list.dedup();
            }
            _ => {}
        }
    }
    let mut table: toml::Table = text.parse().unwrap();
    if let Some(Value::Array(seeds)) = table.get_mut("seeds") {
        seeds.truncate(1);
    }
    for (key, most) in [
        ("iterations", MAX_ITERATIONS),
        ("eval_every", MAX_EVAL_EVERY),
    ] {
        if let Some(value) = table.get_mut(key) {
            cap(value, most);
        }
    }
    toml::to_string(&table).unwrap()
}

/// The PATH the blocks run with: the directory of the binary under test
/// first, so `pessimist` is that binary.
fn path_with_binary() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_pessimist"));
    let mut dirs = vec![bin.parent().unwrap().to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap()
}

/// Runs one block with bash in `dir`; panics with what it printed if it
/// fails or outlasts [`BLOCK_TIMEOUT`].
fn run_block(page: &Path, block: &Block, dir: &Path, logs: &Path) {
    let stdout = logs.join(format!("{}.stdout", block.line));
    let stderr = logs.join(format!("{}.stderr", block.line));
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{}", block.text))
        .current_dir(dir)
        .env("PATH", path_with_binary())
        // Nothing of the test's own environment changes what runs: no
        // Slurm array shards the sweep, no test switch holds a run.
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .env_remove("SLURM_ARRAY_TASK_MIN")
        .env_remove("SLURM_ARRAY_TASK_MAX")
        .env_remove("SLURM_ARRAY_TASK_STEP")
        .env_remove("PESSIMIST_TEST_HOLD")
        .env_remove("PESSIMIST_TEST_PANIC")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap())
        // Its own process group, so that a timeout ends every process
        // the block started.
        .process_group(0)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > BLOCK_TIMEOUT {
            // SAFETY: signals the process group this test created.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if status.is_some_and(|s| s.success()) {
        return;
    }
    let tail = |path: &Path| {
        let text = read(path);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    panic!(
        "{}:{}: a runnable block {}:\n{}\n--- stdout (end)\n{}\n--- stderr (end)\n{}",
        name(page),
        block.line,
        match status {
            Some(status) => format!("failed ({status})"),
            None => format!("ran longer than {BLOCK_TIMEOUT:?}"),
        },
        block.text,
        tail(&stdout),
        tail(&stderr),
    );
}

/// Every `sh runnable` block of every page runs, as written, in order,
/// in one fresh directory per page holding the shrunk `experiments/`.
#[test]
fn runnable_blocks_run_as_written() {
    let mut ran = Vec::new();
    for page in pages() {
        let (blocks, _) = parse(&read(&page));
        let runnable: Vec<&Block> = blocks.iter().filter(|b| b.info == RUNNABLE).collect();
        if runnable.is_empty() {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        shrunk_experiments(dir.path());
        for block in runnable {
            run_block(&page, block, dir.path(), logs.path());
            ran.push(block.text.clone());
        }
    }
    // The commands a reader tries first are among those that run.
    for command in [
        "pessimist env list",
        "pessimist env solve",
        "pessimist data collect",
        "pessimist train",
        "pessimist eval",
        "pessimist run",
        "pessimist report",
        "pessimist plot",
        "pessimist tui --headless",
    ] {
        assert!(
            ran.iter().any(|text| text.contains(command)),
            "no runnable block runs `{command}`"
        );
    }
}

/// The shrunk copy changes only seeds, iterations and eval intervals.
#[test]
fn shrinking_keeps_a_spec_and_caps_its_cost() {
    let shrunk = shrink(
        "env = [\"Taxi-v4\", \"FrozenLake-v1\"]\nseeds = [3, 4]\niterations = [5, 300, 500]\n\
         eval_every = 50\n[[algo]]\nname = \"fqi\"\n",
    );
    let table: toml::Table = shrunk.parse().unwrap();
    assert_eq!(table["env"].as_array().unwrap().len(), 2);
    assert_eq!(
        table["seeds"].as_array().unwrap(),
        &[toml::Value::Integer(3)]
    );
    assert_eq!(
        table["iterations"].as_array().unwrap(),
        &[toml::Value::Integer(5), toml::Value::Integer(20)]
    );
    assert_eq!(table["eval_every"].as_integer(), Some(10));
    assert_eq!(table["algo"].as_array().unwrap().len(), 1);
    let dir = tempfile::tempdir().unwrap();
    shrunk_experiments(dir.path());
    for entry in std::fs::read_dir(dir.path().join("experiments")).unwrap() {
        let path = entry.unwrap().path();
        let spec = spec::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let seeds: std::collections::BTreeSet<u64> = spec.runs.iter().map(|r| r.seed).collect();
        assert_eq!(seeds.len(), 1, "{}", path.display());
        assert!(
            spec.runs
                .iter()
                .all(|r| r.iterations <= 20 && r.eval_every <= 10),
            "{}",
            path.display()
        );
    }
}

/// Every `toml spec` block loads as a spec, as the dashboard reads one.
#[test]
fn spec_blocks_load() {
    let mut loaded = 0;
    for page in pages() {
        let (blocks, _) = parse(&read(&page));
        for block in blocks.iter().filter(|b| b.info == SPEC) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("example.toml");
            std::fs::write(&path, &block.text).unwrap();
            let spec =
                spec::load(&path).unwrap_or_else(|e| panic!("{}:{}: {e}", name(&page), block.line));
            assert!(!spec.runs.is_empty(), "{}:{}", name(&page), block.line);
            loaded += 1;
        }
    }
    assert!(loaded > 0, "no `{SPEC}` block");
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, everything
/// but letters, digits, `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings (a repeated one gets `-1`, `-2`, …).
fn anchors(markdown: &str) -> Vec<String> {
    let (_, prose) = parse(markdown);
    let mut out: Vec<String> = Vec::new();
    for (_, line) in prose {
        let hashes = line.len() - line.trim_start_matches('#').len();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = anchor(line[hashes..].trim().trim_end_matches('#').trim());
        let seen = out
            .iter()
            .filter(|a| {
                **a == base
                    || a.strip_prefix(&format!("{base}-"))
                        .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .count();
        out.push(if seen == 0 {
            base
        } else {
            format!("{base}-{seen}")
        });
    }
    out
}

/// A line without its inline code spans (which may hold `](`).
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let delimiter = "`".repeat(ticks);
        let after = &rest[start + ticks..];
        if let Some(end) = after.find(&delimiter) {
            rest = &after[end + ticks..];
        } else {
            rest = after;
            out.push_str(&delimiter);
        }
    }
    out.push_str(rest);
    out
}

/// The targets of a page's inline links and images, with their lines.
fn links(markdown: &str) -> Vec<(usize, String)> {
    let (_, prose) = parse(markdown);
    let mut out = Vec::new();
    for (number, line) in prose {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((number, target.to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// Every relative link of every page names a file that exists, and its
/// `#fragment` a heading of that page.
#[test]
fn relative_links_resolve() {
    let mut checked = 0;
    for page in pages() {
        for (line, target) in links(&read(&page)) {
            let at = format!("{}:{line}: `{target}`", name(&page));
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            assert!(file.exists(), "{at}: no such file");
            if let Some(fragment) = fragment {
                assert!(
                    file.extension().is_some_and(|x| x == "md"),
                    "{at}: a fragment of a file that is not markdown"
                );
                let anchors = anchors(&read(&file));
                assert!(
                    anchors.iter().any(|a| a == fragment),
                    "{at}: no heading `#{fragment}`; the page has {anchors:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
}

/// The README is a front page: short, linking every page of docs/, and
/// its test command is exactly the one CI runs.
#[test]
fn the_readme_is_a_front_page() {
    let root = Path::new(ROOT);
    let readme = read(&root.join("README.md"));
    let chars = readme.chars().count();
    assert!(
        chars <= 10_000,
        "README.md has {chars} characters; at most 10,000"
    );
    let targets: Vec<String> = links(&readme).into_iter().map(|(_, t)| t).collect();
    for page in pages().iter().skip(1) {
        let link = format!("docs/{}", page.file_name().unwrap().to_str().unwrap());
        assert!(
            targets
                .iter()
                .any(|t| t.split('#').next() == Some(link.as_str())),
            "README.md does not link {link}"
        );
    }
    // "The two commands": the test command, as the README gives it.
    let (blocks, _) = parse(&readme);
    let given: Vec<&str> = blocks
        .iter()
        .flat_map(|b| b.text.lines())
        .filter(|l| l.starts_with("cargo test"))
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(given.len(), 1, "one test command in the README: {given:?}");
    let ci = read(&root.join(".ci/run"));
    let run: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cargo test"))
        .collect();
    assert_eq!(run, given, ".ci/run must run the README's test command");
}

/// docs/dashboard.md's `s` row names the columns in the order the key
/// cycles through them, from the first back to the first.
#[test]
fn the_sort_key_cycle_is_documented_in_its_order() {
    use pessimist::tui::app::SortKey;
    let page = read(&Path::new(ROOT).join("docs/dashboard.md"));
    let row = page
        .lines()
        .find(|l| l.starts_with("| `s` |"))
        .expect("docs/dashboard.md has no `s` row");
    let cycle = row.split_once(": ").map_or("", |(_, c)| c);
    let names: Vec<&str> = cycle
        .split(", ")
        .map(|n| n.trim_end_matches(" |").trim_end_matches(" (the start)"))
        .map(|n| {
            n.strip_prefix("then ")
                .map_or(n, |n| n.trim_end_matches(" again"))
        })
        .collect();
    let mut expected: Vec<&str> = SortKey::ALL.iter().map(|k| k.name()).collect();
    expected.push(SortKey::ALL[0].name());
    assert_eq!(names, expected, "{row}");
}

/// Where docs/algorithms.md's generated key tables begin and end.
const KEYS_BEGIN: &str = "<!-- generated from each algorithm's KEYS by algo::keys_markdown(); \
                          PESSIMIST_REGENERATE_DOCS=1 cargo test --release --test it docs:: \
                          rewrites it -->\n";
const KEYS_END: &str = "<!-- end of the generated key tables -->";

/// docs/algorithms.md's key tables are the code's: every key, default,
/// range, unit and meaning rendered from the tables `Config::read` reads
/// through. With `PESSIMIST_REGENERATE_DOCS=1` the test writes them
/// instead.
#[test]
fn the_algorithm_key_tables_are_the_codes() {
    let path = Path::new(ROOT).join("docs/algorithms.md");
    let page = read(&path);
    let (start, end) = match (page.find(KEYS_BEGIN), page.find(KEYS_END)) {
        (Some(start), Some(end)) if start < end => (start + KEYS_BEGIN.len(), end),
        _ => panic!("docs/algorithms.md: no `{KEYS_BEGIN}` … `{KEYS_END}` section"),
    };
    let generated = format!("\n{}\n", algo::keys_markdown());
    if std::env::var_os("PESSIMIST_REGENERATE_DOCS").is_some_and(|v| v == "1") {
        let page = format!("{}{generated}{}", &page[..start], &page[end..]);
        std::fs::write(&path, page).unwrap();
    } else {
        assert!(
            page[start..end] == generated,
            "docs/algorithms.md's key tables differ from the code's KEYS; \
             regenerate them with PESSIMIST_REGENERATE_DOCS=1 cargo test --release \
             --test it docs::the_algorithm_key_tables\n--- committed\n{}\n--- code\n{generated}",
            &page[start..end]
        );
    }
}
