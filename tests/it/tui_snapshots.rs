//! Every screen of the dashboard, drawn from deterministic data with
//! ratatui's TestBackend, at 80x24 and 160x48 (insta snapshots).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pessimist::eval::{DatasetStats, Metrics};
use pessimist::experiment::{Progress, RunConfig, RunStatus, RunView, SpecError, SpecView};
use pessimist::tui::app::{App, DetailData};
use pessimist::tui::{headless, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;
use std::sync::Arc;

/// Naive FQI's picture: q_est climbs (more on small data) while the true
/// return stays flat; BC tracks its return.
fn history(algo: &str, size: u64, seed: u64, points: u64) -> Vec<Metrics> {
    (0..points)
        .map(|k| {
            let t = k as f64 / points.max(2) as f64;
            let truth = 0.2 + 0.1 * (seed as f64) / 3.0 + 0.05 * (size as f64).log10() * t;
            let q_est = if algo == "fqi" {
                truth + 10f64.powf(4.0 * t * (6.0 - (size as f64).log10()) / 3.0) - 1.0
            } else {
                truth * (1.0 + 0.02 * t)
            };
            Metrics {
                iteration: k * 20,
                q_est,
                true_return: truth,
                episode_return: 1.5 * truth,
                gap: q_est - truth,
                normalized_score: 100.0 * truth / 0.6,
                wall_time: k as f64 * 0.01,
                ..Default::default()
            }
        })
        .collect()
}

fn run(algo: &str, size: u64, seed: u64, status: RunStatus, points: u64) -> RunView {
    let config = RunConfig::example("FrozenLake8x8-v1", algo, size, seed).with(|c| {
        c.spec = "why-offline-rl-is-hard".into();
        c.iterations = 2000;
        c.eval_every = 20;
    });
    let history = history(algo, size, seed, points);
    RunView {
        id: config.id(),
        status,
        progress: Progress {
            iteration: points * 20,
            total: 2000,
            it_per_sec: 1234.0,
            eta_seconds: 75.0,
        },
        latest: history.last().copied(),
        history: Arc::new(history),
        error: (status == RunStatus::Failed)
            .then(|| "dataset file vanished: \u{1b}[31mno such file".into()),
        owned_here: true,
        coverage: 12.5,
        dataset_stats: Some(Box::new(DatasetStats {
            transitions: size as usize,
            episodes: size as usize / 40,
            behavior_score: Some(33.1),
            data_score: 31.7,
            single_action_share: 0.87,
            mean_actions: 1.2,
            visited_states: 61,
            reachable_states: 62,
            state_coverage: 61.0 / 62.0,
            concentrability: 12.5,
        })),
        behavior: Some(33.1),
        config,
    }
}

fn app() -> App {
    let mut runs = Vec::new();
    for (i, size) in [1_000u64, 10_000, 100_000].into_iter().enumerate() {
        for seed in 0..2 {
            runs.push(run("fqi", size, seed, RunStatus::Done, 101));
            runs.push(run("bc", size, seed, RunStatus::Done, 101));
        }
        runs.push(run(
            "fqi",
            size,
            2,
            [RunStatus::Running, RunStatus::Queued, RunStatus::Failed][i],
            40,
        ));
    }
    let specs = vec![
        SpecView {
            name: "why-offline-rl-is-hard".into(),
            path: PathBuf::from("experiments/why_offline_rl_is_hard.toml"),
            error: None,
            run_ids: runs.iter().map(|r| r.id).collect(),
            loading: None,
        },
        SpecView {
            name: "broken".into(),
            path: PathBuf::from("experiments/broken.toml"),
            error: Some(SpecError {
                path: PathBuf::from("experiments/broken.toml"),
                line: 3,
                column: 1,
                message:
                    "unknown spec key `seedz`, did you mean `seeds`?; valid keys: name, env, ..."
                        .into(),
            }),
            run_ids: Vec::new(),
            loading: None,
        },
    ];
    let mut app = App::default();
    app.screen.no_color = true;
    app.update(runs.into_iter().map(Arc::new).collect(), specs);
    app
}

/// A colourless dashboard showing `runs`, all of the spec `name` at `path`.
fn one_spec(runs: Vec<RunView>, name: &str, path: &str) -> App {
    let specs = vec![SpecView {
        name: name.into(),
        path: PathBuf::from(path),
        error: None,
        run_ids: runs.iter().map(|r| r.id).collect(),
        loading: None,
    }];
    let mut app = App::default();
    app.screen.no_color = true;
    app.update(runs.into_iter().map(Arc::new).collect(), specs);
    app
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let completed = terminal.draw(|f| view::draw(f, app)).unwrap();
    headless::buffer_text(completed.buffer)
}

fn press(app: &mut App, keys: &str) {
    for key in pessimist::tui::app::parse_keys(keys).unwrap() {
        app.handle_key(key);
    }
}

fn both_sizes(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), render(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), render(app, 160, 48));
}

#[test]
fn main_screen() {
    both_sizes("main", &app());
}

/// The runs table's header row at `width` columns.
fn runs_header(app: &App, width: u16) -> Vec<String> {
    let text = render(app, width, 24);
    let line = text.lines().find(|l| l.contains("status")).unwrap();
    line.trim_matches(|c| c == '│' || c == ' ')
        .split_whitespace()
        .map(|w| w.trim_end_matches(['▲', '▼']).to_string())
        .collect()
}

#[test]
fn the_episode_return_column_goes_before_j_on_narrow_screens() {
    let app = app();
    let at_80 = runs_header(&app, 80);
    assert!(at_80.ends_with(&["J", "R", "q_est", "gap", "score"].map(String::from)));
    let at_66 = runs_header(&app, 66);
    assert!(
        at_66.ends_with(&["J", "q_est", "score"].map(String::from)),
        "{at_66:?}"
    );
}

#[test]
fn help_overlay() {
    let mut app = app();
    press(&mut app, "?");
    both_sizes("help", &app);
}

#[test]
fn filter_sort_and_cursor() {
    let mut app = app();
    press(&mut app, "/bc 10k<enter>");
    assert!(app.visible_runs().iter().all(|r| &*r.config.algo == "bc"));
    assert_eq!(app.visible_runs().len(), 2);
    // Eleven presses from `spec`: sorted by score, descending.
    press(&mut app, "<esc>sssssssssssS<left><left>");
    both_sizes("sorted_with_cursor", &app);
}

#[test]
fn per_dataset_size_view_smoothed_linear() {
    let mut app = app();
    press(&mut app, "b]]]y");
    both_sizes("per_size", &app);
}

/// A Monte-Carlo truth (standard errors recorded; the values are made
/// up, wide enough to see): J's ± 1.96 se band shaded under the curves,
/// named in the legend.
#[test]
fn monte_carlo_chart_draws_the_band() {
    let runs = (0..2)
        .map(|seed| {
            let mut r = run("bc", 10_000, seed, RunStatus::Done, 101);
            let mut history = (*r.history).clone();
            for m in &mut history {
                m.true_return_se = 0.04 * (1.0 + seed as f64);
                m.normalized_score_se = 2.5;
            }
            r.latest = history.last().copied();
            r.history = Arc::new(history);
            r
        })
        .collect();
    let mut app = one_spec(runs, "mc", "experiments/mc.toml");
    // The chart zoomed: room for the band and the legend.
    press(&mut app, "<tab>z");
    let text = render(&app, 80, 24);
    assert!(text.contains("⢕ J ± 1.96 se"), "{text}");
    insta::assert_snapshot!("monte_carlo_band_80x24", text);
}

/// A long spec name is shortened in the middle to 24 columns, so the
/// spec column stays beside the wider `J ± se` on a 150-column screen.
#[test]
fn a_long_spec_name_keeps_its_column_beside_j_plus_se() {
    let mut r = run("fisher-brc", 10_000, 0, RunStatus::Done, 11);
    r.config.spec = "why-offline-rl-is-hard-mountaincar".into();
    r.config.env = "MountainCar-v0".into();
    let mut history = (*r.history).clone();
    for m in &mut history {
        (m.true_return, m.true_return_se) = (-70.655, 0.26);
        (m.normalized_score, m.normalized_score_se) = (96.1, 1.4);
        (m.episode_return, m.q_est) = (-122.54, -75.805);
    }
    r.latest = history.last().copied();
    r.history = Arc::new(history);
    let app = one_spec(
        vec![r],
        "why-offline-rl-is-hard-mountaincar",
        "experiments/m.toml",
    );
    let header = runs_header(&app, 150);
    assert_eq!(
        header.first().map(String::as_str),
        Some("spec"),
        "{header:?}"
    );
    let text = render(&app, 150, 40);
    assert!(
        text.contains("│why-offline-…mountaincar MountainCar-v0 ")
            && text.contains("-70.655 ± 0.260"),
        "{text}"
    );
}

#[test]
fn zoomed_score_table_scrolls() {
    let mut app = app();
    press(&mut app, "<tab><tab>z<down>");
    assert_eq!(app.scores.offset, 1);
    both_sizes("zoomed_scores", &app);
}

#[test]
fn run_detail_with_heatmap_and_sanitized_error() {
    let mut app = app();
    // The failed run (sizes 100k, seed 2) is the last row of its group.
    let failed = app
        .visible_runs()
        .iter()
        .position(|r| r.status == RunStatus::Failed)
        .unwrap();
    app.runs.selected = failed;
    press(&mut app, "<enter>");
    let n = 64;
    let q = ndarray::Array2::from_shape_fn((n, 4), |(s, a)| (s as f64) / 64.0 + a as f64 * 0.01);
    let policy = pessimist::mdp::solve::greedy(&q);
    app.detail.data = Some(DetailData {
        q,
        policy,
        unvisited: Vec::new(),
    });
    app.detail.log_tail = vec![
        "1.000 started at iteration 0".into(),
        "2.000 failed: \u{1b}]0;pwned\u{7}".into(),
    ];
    let text = render(&app, 160, 48);
    assert!(
        !text.contains('\u{1b}'),
        "escape sequences reach the terminal"
    );
    both_sizes("detail", &app);
}

#[test]
fn keys_map_to_session_actions() {
    use pessimist::tui::Action;
    let mut app = app();
    let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let running = app
        .visible_runs()
        .iter()
        .position(|r| r.status == RunStatus::Running)
        .unwrap();
    app.runs.selected = running;
    let id = app.selected_run().unwrap().id;
    assert_eq!(app.handle_key(key(' ')), Action::Pause(id));
    assert_eq!(app.handle_key(key('x')), Action::Cancel(id));
    assert_eq!(app.handle_key(key('r')), Action::Rerun(id));
    // A finished run is rerun only on a second `r`.
    app.runs.selected = 0;
    let done = app.selected_run().unwrap().id;
    assert_eq!(app.handle_key(key('r')), Action::None);
    assert!(app.message.as_ref().unwrap().contains("r again"));
    assert_eq!(app.handle_key(key('r')), Action::Rerun(done));
    assert_eq!(app.handle_key(key('r')), Action::None);
    assert_eq!(app.handle_key(key('j')), Action::None);
    assert_eq!(app.handle_key(key('k')), Action::None);
    assert_eq!(
        app.handle_key(key('r')),
        Action::None,
        "confirmation expires"
    );
    assert_eq!(app.handle_key(key('e')), Action::Export);
    assert_eq!(app.handle_key(key('q')), Action::Quit);
    // Every binding is reachable, and no key is bound twice.
    for (i, b) in pessimist::tui::app::BINDINGS.iter().enumerate() {
        for code in b.keys {
            let first = pessimist::tui::app::binding(*code).unwrap();
            assert_eq!(
                first.command, b.command,
                "{code:?} is bound twice (entry {i})"
            );
        }
    }
    assert!(pessimist::tui::app::parse_keys("<nope>").is_err());
}

/// Linear off-policy learning running away on TwoState-v0 (every reward
/// 0): one run's q_est climbs 1 → 1e300 and then overflows (∞, NaN), one
/// at γ = 0.8 dies out. The symlog axis is ticked at round decades up to
/// 1e300, the diverged curve ends in `×` at its last finite point, the
/// cursor reads `diverged` past it, and no score exists (`–`), never 100.
#[test]
fn diverged_run_near_1e300() {
    let two_state = |seed: u64, status: RunStatus, q: &dyn Fn(u64) -> f64| {
        let config = RunConfig::example("TwoState-v0", "fqi", 10_000, seed).with(|c| {
            c.spec = "linear_divergence".into();
            c.gamma = if status == RunStatus::Diverged {
                0.99
            } else {
                0.8
            };
            c.iterations = 400;
            c.eval_every = 10;
        });
        let history: Vec<Metrics> = (0..41)
            .map(|k| Metrics {
                iteration: k * 10,
                q_est: q(k),
                true_return: 0.0,
                episode_return: 0.0,
                normalized_score: f64::NAN,
                ..Default::default()
            })
            .collect();
        RunView {
            id: config.id(),
            status,
            progress: Progress {
                iteration: 400,
                total: 400,
                it_per_sec: 1e4,
                eta_seconds: 0.0,
            },
            latest: history.last().copied(),
            history: Arc::new(history),
            error: None,
            owned_here: true,
            coverage: f64::NAN,
            dataset_stats: None,
            behavior: None,
            config,
        }
    };
    let runaway = |k: u64| match k {
        0..=30 => 10f64.powi(k as i32 * 10),
        31..=35 => f64::INFINITY,
        _ => f64::NAN,
    };
    let runs = vec![
        two_state(0, RunStatus::Diverged, &runaway),
        two_state(1, RunStatus::Done, &|k| 0.9f64.powi(k as i32)),
    ];
    let mut app = one_spec(
        runs,
        "linear_divergence",
        "experiments/linear_divergence.toml",
    );
    // The cursor on the last eval point: the diverged run reads `diverged`.
    press(&mut app, "<right>");
    for _ in 0..45 {
        press(&mut app, "<right>");
    }
    let text = render(&app, 160, 48);
    for word in ["1e300", "1e100", "×", "diverged"] {
        assert!(text.contains(word), "{word}:\n{text}");
    }
    for bad in ["inf", "nan", "100.0"] {
        assert!(!text.contains(bad), "{bad}:\n{text}");
    }
    both_sizes("diverged_1e300", &app);
}

/// vi-lcb on Taxi-like data that misses half the start distribution: the
/// gap column shows the gap on the covered start states, marked `ᶜ`, sorts
/// by it, and the title says what the mark means; a run with every start
/// covered keeps its plain gap. In the detail the covered numbers have
/// their line and the states without data are hatched, the legend says so.
#[test]
fn covered_gap_is_marked_and_states_without_data_are_hatched() {
    let with = |seed: u64, latest: Metrics| {
        let mut r = run("fqi", 10_000, seed, RunStatus::Done, 101);
        r.latest = Some(latest);
        r
    };
    let partial = Metrics {
        q_est: -729.789,
        true_return: -145.005,
        gap: -584.784,
        start_coverage: 0.49,
        q_est_covered: -448.549,
        true_return_covered: -98.642,
        ..Default::default()
    };
    let full = |gap: f64| Metrics {
        q_est: gap - 100.0,
        true_return: -100.0,
        gap,
        start_coverage: 1.0,
        q_est_covered: gap - 100.0,
        true_return_covered: -100.0,
        ..Default::default()
    };
    let runs = vec![with(0, partial), with(1, full(-400.0)), with(2, full(2.0))];
    let mut app = one_spec(
        runs,
        "why-offline-rl-is-hard",
        "experiments/why_offline_rl_is_hard.toml",
    );
    // Ten presses from `spec`: by gap, as shown (−400 < −349.907ᶜ < 2).
    press(&mut app, "ssssssssss");
    let seeds: Vec<u64> = app.visible_runs().iter().map(|r| r.config.seed).collect();
    assert_eq!(seeds, [1, 0, 2]);
    let text = render(&app, 160, 48);
    for shown in [
        "-349.907ᶜ",
        "-400.000 ",
        "2.000 ",
        "gapᶜ on the start states in the data",
    ] {
        assert!(text.contains(shown), "{shown}:\n{text}");
    }
    assert!(!text.contains("-584.784"), "{text}");
    both_sizes("covered_gap", &app);

    app.runs.selected = 1;
    press(&mut app, "<enter>");
    let n = 64;
    let q = ndarray::Array2::from_shape_fn((n, 4), |(s, a)| (s as f64) / 64.0 + a as f64 * 0.01);
    let policy = pessimist::mdp::solve::greedy(&q);
    // The last two rows never visited (the goal and holes are terminal).
    app.set_detail_data(Some(DetailData {
        q,
        policy,
        unvisited: (48..64).collect(),
    }));
    press(&mut app, "o");
    let text = render(&app, 160, 48);
    for shown in [
        "covered   start states 49% in the data · J -98.642 · q_est -448.549 · gap -349.907",
        "░ never in the data",
        "░░",
    ] {
        assert!(text.contains(shown), "{shown}:\n{text}");
    }
    both_sizes("covered_detail", &app);
}

/// The bundled score table's shape: three environments, thirteen columns of
/// algorithms, every run done. At 80x24 the runs table keeps the
/// environment (shortened in the middle), the score table shows whole
/// columns and scrolls sideways (`→`), never cells cut to four characters.
#[test]
fn three_environments_at_both_sizes() {
    let algos = [
        "fqi",
        "bc",
        "bcq",
        "brac",
        "td3bc",
        "awac",
        "fisher-brc",
        "iql",
        "vi-lcb",
        "atac",
        "cql",
        "combo",
    ];
    let mut runs = Vec::new();
    for env in ["FrozenLake8x8-v1", "CliffWalkingSlippery-v1", "Taxi-v4"] {
        for (k, algo) in algos.iter().enumerate() {
            let mut view = run(algo, 10_000, k as u64 % 2, RunStatus::Done, 20);
            let config = RunConfig::example(env, algo, 10_000, k as u64 % 2)
                .with(|c| c.spec = "score_table".into());
            view.id = config.id();
            view.config = config;
            runs.push(view);
        }
    }
    let mut app = one_spec(runs, "score_table", "experiments/score_table.toml");
    both_sizes("three_envs", &app);
    press(&mut app, "<tab><tab>ll");
    let text = render(&app, 80, 24);
    assert!(text.contains("cols 3–"), "{text}");
    insta::assert_snapshot!("three_envs_scores_scrolled_80x24", text);
}

/// Two specs listing one configuration: the header counts each spec's runs
/// and says which are one training; a blank line closes each spec's rows.
#[test]
fn specs_sharing_a_run_are_counted_per_spec_and_kept_apart() {
    let shared = run("fqi", 1_000, 0, RunStatus::Done, 101);
    let own = run("bc", 1_000, 0, RunStatus::Done, 101);
    let mut in_b = shared.clone();
    in_b.config.spec = "b".into();
    let specs = vec![
        SpecView {
            name: "why-offline-rl-is-hard".into(),
            path: PathBuf::from("experiments/a.toml"),
            error: None,
            run_ids: vec![shared.id, own.id],
            loading: None,
        },
        SpecView {
            name: "b".into(),
            path: PathBuf::from("experiments/b.toml"),
            error: None,
            run_ids: vec![shared.id],
            loading: None,
        },
    ];
    let mut app = App::default();
    app.screen.no_color = true;
    let runs = vec![shared, own, in_b];
    app.update(runs.into_iter().map(Arc::new).collect(), specs);
    let text = render(&app, 120, 24);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("2 specs · 3 runs (1 shared by specs, trained once)"),
        "{text}"
    );
    // Spec `b` sorts first; its one row, a blank line, then the other spec's.
    let rows: Vec<&str> = lines[3..7]
        .iter()
        .map(|l| l.trim_matches('│').trim())
        .collect();
    assert!(rows[0].starts_with("b "), "{text}");
    assert_eq!(rows[1], "", "{text}");
    assert!(
        rows[2].starts_with("why-offline") && rows[3].starts_with("why-offline"),
        "{text}"
    );
}

/// A colourless detail of a continuous run whose landscape is `landscape`.
fn continuous_detail(env: &str, landscape: pessimist::eval::landscape::Landscape) -> App {
    let mut r = run("fqi", 2_000, 0, RunStatus::Done, 11);
    r.config.env = env.into();
    r.config.spec = "landscape".into();
    r.dataset_stats = None;
    let mut app = one_spec(vec![r], "landscape", "experiments/landscape.toml");
    press(&mut app, "<enter>");
    app.detail.landscape = Some(Ok(landscape));
    app
}

/// Naive FQI on 20,000 MountainCar transitions after 30 iterations:
/// max_a Q over (position, velocity) beside the data and the visits, cells
/// without data hatched (deterministic: seeded data, learner, rollouts).
#[test]
fn continuous_detail_draws_the_landscape() {
    let training = crate::continuous::trained("fqi", 30);
    crate::continuous::evaluate(&training);
    let survey = training.survey.as_ref().unwrap();
    let theta = training.learner.weights().unwrap();
    let landscape = survey.landscape(30, theta).unwrap();
    assert_eq!(landscape.data_total, 20_000);
    let app = continuous_detail("MountainCar-v0", landscape);
    let text = render(&app, 160, 48);
    assert!(
        text.contains("x position -1.2…0.6 · y velocity -0.07…0.07"),
        "{text}"
    );
    both_sizes("landscape", &app);
}

/// CartPole has six pairs of components: `p` and `P` step through them,
/// the axes follow, and a torn file shows its error in place.
#[test]
fn the_landscape_pair_follows_p_and_shift_p() {
    use pessimist::eval::landscape::Survey;
    let env = pessimist::env::continuous("CartPole-v1").unwrap();
    let features = pessimist::features::FeatureSpec::tile(8, 4, 512)
        .unwrap()
        .observations(env)
        .unwrap();
    let obs = ndarray::Array2::from_shape_fn((10, 4), |(i, c)| 0.01 * (i * (c + 1)) as f64);
    let survey = Survey::new(env, &features, obs.view()).unwrap();
    let theta = ndarray::Array1::zeros(2 * 512);
    let mut app = continuous_detail("CartPole-v1", survey.landscape(0, theta.view()).unwrap());
    let axes = |app: &App| {
        let text = render(app, 160, 48);
        let line = text
            .lines()
            .find(|l| l.contains(" x "))
            .unwrap()
            .to_string();
        (
            line,
            text.contains(&format!("pair {}/6", app.detail.pair + 1)),
        )
    };
    let (line, paired) = axes(&app);
    assert!(
        line.contains("x cart position") && line.contains("y cart velocity") && paired,
        "{line}"
    );
    press(&mut app, "p");
    let (line, paired) = axes(&app);
    assert!(
        line.contains("x cart position") && line.contains("y pole angle") && paired,
        "{line}"
    );
    press(&mut app, "PP");
    let (line, paired) = axes(&app);
    assert_eq!(app.detail.pair, 5);
    assert!(
        line.contains("x pole angle") && line.contains("y pole angular velocity") && paired,
        "{line}"
    );
    app.detail.landscape = Some(Err("landscape.json: corrupt JSON: EOF".into()));
    press(&mut app, "p");
    assert!(
        app.message.as_ref().unwrap().contains("no landscape"),
        "{:?}",
        app.message
    );
    assert!(
        render(&app, 160, 48).contains("cannot read the landscape: landscape.json: corrupt JSON")
    );
}
