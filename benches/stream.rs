//! Runs streamed into a watched store (issue 21): a dashboard open on a
//! store of indexed ended runs, its native watcher on, while another
//! process (standing for other `pessimist run`s, Slurm tasks: this bench
//! run again as the writer) adds 10,000 ended runs in batches, writing
//! their files and index records as `pessimist run` does. Target: frames
//! ≤ 2 ms and the dashboard's resident memory flat within 10%. Measured
//! once, as a user watching it sees it; no timing is asserted.

use criterion::{Criterion, criterion_group, criterion_main};
use pessimist::eval::Metrics;
use pessimist::experiment::store::{self, MetricsWriter, RunDir, Store, Summary};
use pessimist::experiment::{RunStatus, SessionOptions, index};
use pessimist::tui::{dashboard::Dashboard, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;
use std::time::{Duration, Instant};

// Each bench uses part of it.
#[allow(dead_code)]
mod big_store;
use big_store::{big_index, config, rss_mb};

/// Runs in the store before (`PESSIMIST_BENCH_STREAM_BASE`, default
/// 100,000), and streamed in, in batches of [`BATCH`].
const STREAMED: u64 = 10_000;
const BATCH: u64 = 100;
/// The pause between two batches: a batch of Slurm tasks ending.
const BETWEEN: Duration = Duration::from_millis(20);
/// How often the dashboard's loop looks at the session when no key
/// comes (the terminal loop's tick).
const TICK: Duration = Duration::from_millis(100);
/// How long the dashboard may take, after the last run is written, to
/// show them all.
const GIVE_UP: Duration = Duration::from_secs(30);
/// Eval points a streamed run writes.
const POINTS: u64 = 10;
/// Set in the writer's environment: the store it writes the runs into.
const WRITER: &str = "PESSIMIST_BENCH_STREAM_WRITER";

fn base_runs() -> u64 {
    std::env::var("PESSIMIST_BENCH_STREAM_BASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// One run trained elsewhere, its files written in `pessimist run`'s
/// order through the store's own writers: config, lock, log, a running
/// summary, metrics, then the ended summary (which appends the index
/// record).
fn write_run(store: &Store, seed: u64) -> RunDir {
    let config = config("stream", seed);
    let dir = store.prepare(&config).unwrap();
    let _lock = store::try_lock(&dir)
        .unwrap()
        .expect("nobody else trains it");
    store::log(&dir, "started at iteration 0 on slurm:1").unwrap();
    let mut summary = Summary::new(config.iterations, "slurm:1".to_string());
    summary.status = RunStatus::Running;
    store::write_summary(&dir, &summary).unwrap();
    let mut metrics = MetricsWriter::resume(&dir, 0).unwrap();
    let mut last = Metrics::default();
    for k in 1..=POINTS {
        last = Metrics {
            iteration: k * config.iterations / POINTS,
            normalized_score: (seed % 101) as f64 * k as f64 / POINTS as f64,
            ..Metrics::default()
        };
        metrics.append(&last);
    }
    metrics.flush().unwrap();
    metrics.sync().unwrap();
    summary.status = RunStatus::Done;
    summary.iterations_done = config.iterations;
    summary.last = Some(last);
    summary.updated = store::now();
    store::write_summary(&dir, &summary).unwrap();
    dir
}

/// Median, 99th percentile and worst of `ms`, in milliseconds.
fn spread(ms: &mut [f64]) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:.2}, p99 {:.2}, worst {:.2} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// The writer: the streamed runs, in batches, into the store at `runs_dir`.
fn write_runs(runs_dir: &Path, base: u64) {
    let store = Store::new(runs_dir);
    for batch in 0..STREAMED / BATCH {
        // Seeds after the base store's (a run's id ignores its spec).
        for seed in batch * BATCH..(batch + 1) * BATCH {
            write_run(&store, base + seed);
        }
        std::thread::sleep(BETWEEN);
    }
}

fn stream(_: &mut Criterion) {
    let base = base_runs();
    if let Some(runs_dir) = std::env::var_os(WRITER) {
        write_runs(Path::new(&runs_dir), base);
        std::process::exit(0);
    }
    let dir = tempfile::tempdir().unwrap();
    let runs_dir = dir.path().join("runs");
    // A fresh copy of the big store's indexes: the streamed runs are
    // written beside them, never into the shared one.
    std::fs::create_dir_all(runs_dir.join(index::DIR)).unwrap();
    let shared = big_index(base);
    for spec in index::specs(&shared) {
        std::fs::copy(index::path(&shared, &spec), index::path(&runs_dir, &spec)).unwrap();
    }
    let options = SessionOptions {
        experiments_dir: dir.path().join("experiments"),
        runs_dir: runs_dir.clone(),
        jobs: 1,
        poll: false,
        autostart: false,
    };
    let mut dashboard = Dashboard::open(options, false).unwrap();
    assert!(dashboard.session.watch_error.is_none());
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|f| view::draw(f, &dashboard.app)).unwrap();
    assert_eq!(dashboard.app.store().runs.len() as u64, base);
    let (before, _) = rss_mb();

    // Per frame: the session's poll (events taken in, files read), the
    // dashboard taking in what changed (its rows from the changed runs'
    // views), the draw.
    let (mut polls, mut refreshes, mut draws) = (Vec::new(), Vec::new(), Vec::new());
    // The most directories watched at once: live runs, not stored ones.
    let mut watched = dashboard.session.watched_dirs();
    let started = Instant::now();
    // This bench again, as the writer (its memory is not the dashboard's).
    let mut writer = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--bench", "stream"])
        .env(WRITER, &runs_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut written = None;
    let seen = {
        // The streamed runs the dashboard shows as done.
        let done_shown = |dashboard: &Dashboard| {
            let runs = &dashboard.app.store().runs;
            let streamed = runs.iter().filter(|r| &*r.config.spec == "stream");
            (
                runs.len() as u64 - base,
                streamed.filter(|r| r.status == RunStatus::Done).count() as u64,
            )
        };
        let mut written_at = None;
        loop {
            let tick = Instant::now();
            let changes = dashboard.session.poll();
            let polled = tick.elapsed();
            if dashboard.take_in(changes) {
                let refreshed = tick.elapsed();
                terminal.draw(|f| view::draw(f, &dashboard.app)).unwrap();
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                polls.push(ms(polled));
                refreshes.push(ms(refreshed) - ms(polled));
                draws.push(ms(tick.elapsed()) - ms(refreshed));
            }
            watched = watched.max(dashboard.session.watched_dirs());
            if written.is_none() && writer.try_wait().unwrap().is_some() {
                written = Some(started.elapsed());
            }
            if written.is_some() {
                let since = *written_at.get_or_insert_with(Instant::now);
                let (shown, ended) = done_shown(&dashboard);
                if ended == STREAMED {
                    break;
                }
                // Nothing but the watcher brings them: say what it missed.
                if since.elapsed() > GIVE_UP {
                    eprintln!(
                        "after {GIVE_UP:?} more: {shown} of the {STREAMED} streamed runs shown, \
                         {ended} as done"
                    );
                    break;
                }
            }
            std::thread::sleep(TICK.saturating_sub(tick.elapsed()));
        }
        started.elapsed()
    };
    assert!(writer.wait().unwrap().success(), "the writer failed");
    let written = written.unwrap_or_else(|| started.elapsed());
    let (after, peak) = rss_mb();
    let frames = polls.len();
    let mut updates: Vec<f64> = polls.iter().zip(&refreshes).map(|(p, r)| p + r).collect();
    eprintln!(
        "{STREAMED} runs streamed into a watched store of {base}: written in {:.1} s, \
         the loop ended (all seen as done, or gave up) after {:.1} s; {frames} frames",
        written.as_secs_f64(),
        seen.as_secs_f64()
    );
    let per_run = |ms: &[f64]| ms.iter().sum::<f64>() * 1e3 / STREAMED as f64;
    eprintln!(
        "  per run taken in: poll {:.1} µs, refresh {:.1} µs, {:.0} runs a frame",
        per_run(&polls),
        per_run(&refreshes),
        STREAMED as f64 / frames as f64
    );
    eprintln!("  update (poll + refresh): {}", spread(&mut updates));
    eprintln!("    session poll:          {}", spread(&mut polls));
    eprintln!("    dashboard refresh:     {}", spread(&mut refreshes));
    eprintln!("  draw:                    {}", spread(&mut draws));
    eprintln!(
        "  directories watched: at most {watched}, {} at the end",
        dashboard.session.watched_dirs()
    );
    eprintln!(
        "  resident {before:.0} MB before, {after:.0} MB after ({:+.1}%), peak {peak:.0} MB",
        (after / before - 1.0) * 100.0
    );
    dashboard.session.shutdown();
}

criterion_group!(benches, stream);
criterion_main!(benches);
