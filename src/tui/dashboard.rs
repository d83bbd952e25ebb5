//! The dashboard's controller: keeps the [`App`] in step with the
//! [`Session`] and turns key presses into session calls. Shared by the
//! terminal loop and the headless renderer.

use super::app::{Action, App, DetailData};
use crate::experiment::{Change, RunId, Session, SessionOptions, store};
use crate::present::figure::{self, Format};
use crate::present::plot::{self, Band, CurveOptions, Curves, RunData};
use crossterm::event::KeyEvent;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// While a spec loads, how often the runs are re-read: every batch of its
/// runs is a change, and re-reading 100,000 runs costs a tenth of a second.
const LOADING_REFRESH: Duration = Duration::from_millis(250);

pub struct Dashboard {
    pub app: App,
    pub session: Session,
    /// What changed in the session since the runs were last taken in.
    stale: Stale,
    refreshed: Instant,
}

/// What of the session the dashboard has not taken in yet.
#[derive(Debug, Default)]
enum Stale {
    #[default]
    Nothing,
    /// These runs: their views alone are taken in.
    Runs(BTreeSet<RunId>),
    /// The specs: every run is taken in again.
    All,
}

impl Dashboard {
    /// Opens the session and draws what it has: the specs load in the
    /// background ([`Session::start`]), and [`Dashboard::sync`] takes them in.
    pub fn open(options: SessionOptions, no_color: bool) -> crate::Result<Self> {
        let session = Session::start(options)?;
        let mut app = App::default();
        app.screen.no_color = no_color;
        if let Some(e) = &session.watch_error {
            app.message = Some(format!("live updates off: {e}"));
        }
        let mut dashboard = Dashboard {
            app,
            session,
            stale: Stale::Nothing,
            refreshed: Instant::now(),
        };
        dashboard.refresh();
        Ok(dashboard)
    }

    /// Takes in what changed in the session; returns whether the state
    /// changed (while a spec loads, at most every [`LOADING_REFRESH`]).
    pub fn sync(&mut self) -> bool {
        let changes = self.session.poll();
        self.take_in(changes)
    }

    /// Takes in `changes`, what the session's poll returned: the views of
    /// the runs that changed, or every run when the specs did; returns
    /// whether the state changed.
    pub fn take_in(&mut self, changes: Vec<Change>) -> bool {
        for change in changes {
            match (change, &mut self.stale) {
                (Change::Specs, stale) => {
                    if let Some(e) = &self.session.watch_error {
                        self.app.message = Some(format!("live updates off: {e}"));
                    }
                    *stale = Stale::All;
                }
                (Change::Runs(_), Stale::All) => {}
                (Change::Runs(ids), Stale::Runs(stale)) => stale.extend(ids),
                (Change::Runs(ids), stale) => *stale = Stale::Runs(ids.into_iter().collect()),
            }
        }
        if matches!(self.stale, Stale::Nothing)
            || (self.session.loading() && self.refreshed.elapsed() < LOADING_REFRESH)
        {
            return false;
        }
        match std::mem::take(&mut self.stale) {
            Stale::Runs(ids) => {
                let ids: Vec<RunId> = ids.into_iter().collect();
                self.app.replace(&self.session.views(&ids));
                self.show();
                self.refreshed = Instant::now();
            }
            _ => self.refresh(),
        }
        true
    }

    /// Takes in every spec still loading.
    pub fn finish_loading(&mut self) {
        self.session.finish_loading();
        self.refresh();
    }

    /// Re-reads every run (progress of running runs moves without events).
    pub fn refresh(&mut self) {
        self.app.update(self.session.runs(), self.session.specs());
        self.show();
        self.stale = Stale::Nothing;
        self.refreshed = Instant::now();
    }

    /// Takes in the runs training again: their progress moves without
    /// events.
    pub fn progress(&mut self) {
        let running = self.app.store().running_ids();
        self.app.replace(&self.session.views(&running));
        self.show();
    }

    /// Whether some run of this process is training (so progress moves).
    pub fn busy(&self) -> bool {
        self.app
            .store()
            .count(crate::experiment::RunStatus::Running)
            > 0
    }

    /// Applies a key; returns `true` when the dashboard should quit. A key
    /// typed into the filter only edits it: call [`Dashboard::settle`] after
    /// a burst of keys, before drawing.
    pub fn key(&mut self, key: KeyEvent) -> bool {
        let typing = self.app.editing_filter();
        let action = self.app.handle_key(key);
        if typing && matches!(action, Action::None) {
            return false;
        }
        match action {
            Action::Quit => return true,
            // The session is as it was: only what the dashboard shows
            // changed, so the store (a million runs) is not taken again.
            Action::None => {
                self.show();
                return false;
            }
            Action::Pause(id) => self.session.pause(&id),
            Action::Resume(id) => self.session.resume(&id),
            Action::Cancel(id) => self.session.cancel(&id),
            Action::Rerun(id) => self.session.rerun(&id),
            Action::StartQueued => self.session.start_queued(),
            Action::Export => self.app.message = Some(self.export()),
        }
        self.refresh();
        false
    }

    /// Filters once after the keys of a burst (a paste into the filter).
    pub fn settle(&mut self) {
        if self.app.settle() {
            self.show();
        }
    }

    /// Reads what the dashboard shows now: the files of the runs shown
    /// and the detail's.
    fn show(&mut self) {
        self.read_shown();
        self.refresh_detail();
    }

    /// Runs known from the index alone read their files once shown: the
    /// chart draws their histories, the detail their summary.
    fn read_shown(&mut self) {
        let shown: Vec<_> = self
            .app
            .chart_runs()
            .into_iter()
            .chain(self.app.selected_run())
            .map(|r| r.id)
            .collect();
        let read = self.session.read_shown(&shown);
        if !read.is_empty() {
            self.app.replace(&read);
        }
    }

    /// Loads the log tail, Q table, policy and unvisited states of the
    /// selected run while the detail view is open (on every change the
    /// session reports, so a rewritten q.npy or policy.json shows).
    fn refresh_detail(&mut self) {
        if !self.app.detail.open {
            self.app.detail.error = None;
            self.app.detail.load_landscape(None);
            self.app.set_detail_data(None);
            return;
        }
        let selected = self.app.selected_run();
        let Some(dir) = selected.and_then(|run| self.session.run_dir(&run.id)) else {
            return;
        };
        self.app.detail.log_tail = store::log_tail(&dir, 12);
        self.app.detail.load_landscape(Some(&dir));
        // Missing files are a run still training; anything else (a corrupt
        // or oversized q.npy) is shown in the detail, never a crash.
        let missing = |e: &crate::Error| match e {
            crate::Error::File { message, .. } => message == "missing",
            crate::Error::Io { cause, .. } => cause.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        };
        let unvisited = || {
            store::read_summary(&dir)
                .ok()
                .flatten()
                .and_then(|s| s.unvisited_states)
                .unwrap_or_default()
        };
        let (data, error) = match (store::read_q(&dir), store::read_policy(&dir)) {
            (Ok(q), Ok(policy)) => (
                Some(DetailData {
                    q,
                    policy,
                    unvisited: unvisited(),
                }),
                None,
            ),
            (Err(e), _) | (_, Err(e)) if !missing(&e) => (None, Some(e.to_string())),
            _ => (None, None),
        };
        self.app.detail.error = error;
        // The overestimation is recomputed only when these changed.
        self.app.set_detail_data(data);
    }

    /// Writes the chart as it is on screen (its runs, scale, x axis and
    /// smoothing; the BEAR figure when the per-dataset-size view is on,
    /// algorithms compared otherwise) as an SVG figure next to the runs.
    fn export(&self) -> String {
        let app = &self.app;
        let runs = app.chart_runs();
        let Some(first) = runs.first() else {
            return "nothing to export: no runs in the chart".into();
        };
        let data: Vec<RunData> = runs
            .iter()
            .map(|r| RunData {
                config: &r.config,
                status: r.status,
                history: &r.history,
                behaviour: None,
            })
            .collect();
        let layout = if app.chart.options.per_size {
            Curves::Bear
        } else {
            Curves::Overlay
        };
        let options = CurveOptions {
            band: Band::Std,
            symlog: app.chart.options.symlog,
            wall_time: app.chart.options.wall_time,
            smoothing: app.chart.options.smoothing,
        };
        let dir = self.session.options().runs_dir.join(&*first.config.spec);
        let path = dir.join(format!("figure-{}.svg", store::now() as u64));
        let written = plot::curves(&first.config.spec, &data, layout, options)
            .and_then(|f| figure::render(&f, Format::Svg, None))
            .and_then(|bytes| {
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                crate::fsio::open_for_writing(&path, &options)
                    .and_then(|mut file| std::io::Write::write_all(&mut file, &bytes))
                    .map_err(|cause| crate::Error::io(path.display().to_string(), cause))
            });
        match written {
            Ok(()) => format!("exported {}", path.display()),
            Err(e) => format!("export failed: {e}"),
        }
    }
}
