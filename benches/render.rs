//! Rendering one full dashboard frame with 64 runs of 10,000 eval points
//! each (target: at most 2 ms): series are decimated to the chart's
//! resolution before drawing, and the decimated curves are reused while a
//! run's history is unchanged (the "all curves new" case measures the frame
//! after every run has new points). The rows and score tables are derived
//! once per change of state (`App::update`, measured on its own), not per
//! frame, and once per burst of keys typed into the filter.

use criterion::{Criterion, criterion_group, criterion_main};
use pessimist::eval::Metrics;
use pessimist::experiment::{Progress, RunConfig, RunStatus, RunView};
use pessimist::tui::app::App;
use pessimist::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;

/// Shared, as the session's views are.
fn run(i: u64, points: u64) -> Arc<RunView> {
    let size = [1_000u64, 10_000, 100_000, 1_000_000][(i % 4) as usize];
    // The data's seed stays `i`.
    let config = RunConfig::example("FrozenLake8x8-v1", "fqi", size, i).with(|c| {
        c.spec = "bench".into();
        c.seed = i / 4;
        c.iterations = points * 10;
    });
    let history: Vec<Metrics> = (0..points)
        .map(|k| {
            let t = k as f64 / points as f64;
            let wiggle = ((k * 7919 + i * 31) % 97) as f64 / 97.0;
            Metrics {
                iteration: k * 10,
                q_est: 10f64.powf(5.0 * t) * (1.0 + 0.1 * wiggle),
                true_return: 0.3 + 0.05 * wiggle,
                wall_time: t * 60.0,
                ..Default::default()
            }
        })
        .collect();
    Arc::new(RunView {
        id: config.id(),
        status: RunStatus::Running,
        progress: Progress {
            iteration: points * 5,
            total: points * 10,
            it_per_sec: 1e4,
            eta_seconds: 30.0,
        },
        latest: history.last().copied(),
        history: Arc::new(history),
        error: None,
        owned_here: true,
        coverage: f64::NAN,
        dataset_stats: None,
        behavior: None,
        config,
    })
}

fn bench_render(c: &mut Criterion) {
    let runs: Vec<Arc<RunView>> = (0..64).map(|i| run(i, 10_000)).collect();
    let mut app = App::default();
    app.update(runs.clone(), Vec::new());
    app.set_marks(runs.iter().map(|r| r.id).collect());
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    c.bench_function("render frame, 64 runs x 10k points, 160x48", |b| {
        b.iter(|| terminal.draw(|f| view::draw(f, &app)).unwrap().area);
    });
    // Every run's history changed since the last frame: all curves are cut again.
    c.bench_function("render frame, 64 runs x 10k points, all curves new", |b| {
        b.iter_batched_ref(
            || {
                let mut fresh = app.clone();
                fresh.chart.cuts = pessimist::tui::chart::CutCache::default();
                fresh
            },
            |fresh| terminal.draw(|f| view::draw(f, fresh)).unwrap().area,
            criterion::BatchSize::LargeInput,
        );
    });
    // What a change of state costs once (not per frame): the rows sorted,
    // the score tables built, the revisions compared.
    c.bench_function("state change, 64 runs: App::update", |b| {
        b.iter_batched_ref(
            || (app.clone(), runs.clone()),
            |(fresh, runs)| fresh.update(std::mem::take(runs), Vec::new()),
            criterion::BatchSize::LargeInput,
        );
    });
    // A filter typed (or pasted) over a big store: the rows derived once per burst.
    let many: Vec<Arc<RunView>> = (0..100_000).map(|i| run(i, 1)).collect();
    let mut big = App::default();
    big.update(many, Vec::new());
    c.bench_function("filter, 100k runs: App::set_filter", |b| {
        b.iter(|| big.set_filter("frozen medium 10k seed=7"));
    });
    let mut smoothed = app.clone();
    smoothed.chart.options.smoothing = 0.6;
    c.bench_function("render frame, 64 runs x 10k points, smoothed", |b| {
        b.iter(|| terminal.draw(|f| view::draw(f, &smoothed)).unwrap().area);
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench_render
}
criterion_main!(benches);
