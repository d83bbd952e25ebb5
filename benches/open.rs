//! The dashboard on a store of a million ended runs (issue 21): the
//! first frame < 2 s with < 500 MB resident, measured once as a user
//! opening it sees it (the store's index files written once under
//! `target/`).

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent};
use pessimist::experiment::{Session, SessionOptions};
use pessimist::tui::{app::App, dashboard::Dashboard, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Instant;

mod big_store;

/// The frames measured after the first.
const FRAMES: usize = 21;
use big_store::{big_index, big_store_runs, rss_mb};

/// The dashboard's first frame on the big store (its runs of no current
/// spec, from their indexes): the session opened and loaded, the rows and
/// score tables derived, one frame drawn at 160x48; measured once, with
/// this process's resident memory (the peak includes a session opened
/// alone before, to show where the time goes), as a user opening it
/// would see.
fn first_frame(_: &mut Criterion) {
    let runs = big_store_runs();
    let root = big_index(runs);
    let experiments = tempfile::tempdir().unwrap();
    let options = SessionOptions {
        experiments_dir: experiments.path().to_path_buf(),
        runs_dir: root.clone(),
        jobs: 1,
        poll: false,
        autostart: false,
    };
    // Where the time goes: the session alone (the indexes read, a run
    // entry each), then its views of the runs, which the dashboard takes.
    let started = Instant::now();
    let session = Session::start(options.clone()).unwrap();
    let opened = started.elapsed().as_secs_f64();
    let (alone, _) = rss_mb();
    let views = session.runs();
    let (resident, _) = rss_mb();
    eprintln!(
        "session on {runs} indexed runs: {opened:.2} s to open, {:.2} s for its {} views; \
         resident {alone:.0} MB, {resident:.0} MB with the views",
        started.elapsed().as_secs_f64() - opened,
        views.len()
    );
    // The dashboard's part alone, on those views: the store, the rows
    // and score tables made, one frame drawn (wall and this thread's CPU,
    // which a loaded machine inflates less).
    let (started, cpu) = (Instant::now(), thread_cpu_ms());
    let mut app = App::default();
    app.update(views, session.specs());
    let derived = (started.elapsed().as_secs_f64(), thread_cpu_ms() - cpu);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|f| view::draw(f, &app)).unwrap();
    eprintln!(
        "the dashboard's part on those views: {:.2} s to make its store and rows ({:.2} s CPU), \
         {:.2} s with the first frame ({:.2} s CPU)",
        derived.0,
        derived.1 / 1e3,
        started.elapsed().as_secs_f64(),
        (thread_cpu_ms() - cpu) / 1e3
    );
    drop(app);
    session.shutdown();

    let (before, _) = rss_mb();
    let started = Instant::now();
    let dashboard = Dashboard::open(options, false).unwrap();
    // No spec to load: the runs are all there, as the first frame draws them.
    assert!(!dashboard.session.loading());
    let opened = started.elapsed().as_secs_f64();
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|f| view::draw(f, &dashboard.app)).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(dashboard.app.store().runs.len() as u64, runs);
    let (after, peak) = rss_mb();
    eprintln!(
        "first frame on {runs} indexed runs: {seconds:.2} s ({opened:.2} s to open and derive); \
         resident {before:.0} MB before, {after:.0} MB after, peak {peak:.0} MB"
    );
    // The next frames, the selection moving down a row before each (as
    // a user scrolling sees them): each reads the rows on screen only.
    let mut dashboard = dashboard;
    // Wall time, and this thread's CPU time (what a loaded machine does
    // not inflate).
    let mut frames: Vec<(f64, f64)> = (0..FRAMES)
        .map(|_| {
            let (started, cpu) = (Instant::now(), thread_cpu_ms());
            dashboard.key(KeyEvent::from(KeyCode::Down));
            terminal.draw(|f| view::draw(f, &dashboard.app)).unwrap();
            (started.elapsed().as_secs_f64() * 1e3, thread_cpu_ms() - cpu)
        })
        .collect();
    let mut cpu: Vec<f64> = frames.iter().map(|f| f.1).collect();
    frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    cpu.sort_by(f64::total_cmp);
    eprintln!(
        "next {FRAMES} frames (a key, then a frame): median {:.2} ms, worst {:.2} ms; \
         CPU median {:.2} ms, worst {:.2} ms",
        frames[FRAMES / 2].0,
        frames[FRAMES - 1].0,
        cpu[FRAMES / 2],
        cpu[FRAMES - 1]
    );
    dashboard.session.shutdown();
}

/// This thread's CPU time, in ms.
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

criterion_group!(benches, first_frame);
criterion_main!(benches);
