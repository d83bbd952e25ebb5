//! The dashboard's state and what keys do to it: pure logic, no terminal,
//! so every screen and every key is testable (see the snapshot tests).
//!
//! [`App`] holds what the panes share (the store as last read, the focus,
//! the filter, the marks, the footer's message) and one state per pane;
//! each pane's keys, availability, effect and drawing are in its file
//! under [`pane`](super::pane). A key goes to the focused pane first, then
//! to the global table here ([`GENERAL`](super::keys::GENERAL)).

pub use super::detail::DetailData;
pub use super::keys::{Binding, Command, Pane, parse_keys};
pub use super::pane::runs::SortKey;
use super::pane::{self, Owner, chart::ChartPane, detail::DetailPane, help::HelpPane};
pub use super::pane::{BINDINGS, binding};
use super::pane::{runs::Order, runs::RunsPane, scores::ScoresPane};
use crate::experiment::{RunConfig, RunId, RunStatus, RunView, SpecView};
use crate::present::Labels;
use crate::present::labels::Distinct;
use crate::present::select::Filter;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// What a key asks the outside world (the session) to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    Quit,
    Pause(RunId),
    Resume(RunId),
    Cancel(RunId),
    Rerun(RunId),
    StartQueued,
    /// Export the current chart as SVG.
    Export,
}

/// Everything the dashboard shows and how: what the panes share, then one
/// state per pane.
#[derive(Debug, Clone, Default)]
pub struct App {
    /// The session's runs and specs as last read ([`App::update`]).
    store: Store,
    pub screen: Screen,
    /// Changed only here, so the runs pane's rows always follow it.
    filter: FilterInput,
    /// Runs marked for the chart (empty: the selected run's spec).
    marked: Vec<RunId>,
    /// The store's runs that are marked, as indices in store order (a
    /// run two specs list is there twice), found when the marks or the
    /// store change, not on every frame.
    marked_rows: Vec<usize>,
    /// A one-line message for the footer (export result, errors).
    pub message: Option<String>,
    pub runs: RunsPane,
    pub chart: ChartPane,
    pub scores: ScoresPane,
    pub detail: DetailPane,
    pub help: HelpPane,
}

/// The session's runs and specs, and what is derived from them alone.
///
/// A store of a million runs is taken in on every change, so what is
/// derived from it is derived once per spec and reused while the spec's
/// runs are the same: each spec's labels are kept with a [`Fingerprint`]
/// of its runs' ids (an id is a hash of the config, and labels depend on
/// configs alone), and each run's spec is a number, so sorting and
/// grouping compare numbers, not names.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// The session's views, shared with it (a run known from the index
    /// is one allocation, whoever holds it).
    pub runs: Vec<Arc<RunView>>,
    pub specs: Vec<SpecView>,
    /// The names of the runs' specs, sorted; [`Store::spec_of`] indexes it.
    spec_names: Vec<String>,
    /// Per run, its spec's index in `spec_names`.
    spec_of: Vec<u32>,
    /// The runs' environments, as first met, and per run its index there:
    /// counted without reading a million configs again.
    env_names: Vec<Arc<str>>,
    env_of: Vec<u32>,
    /// Per spec (as `spec_names`), the names that tell its runs apart
    /// (what varies among them), and the fingerprint of the ids they
    /// were made from.
    spec_labels: Vec<(u64, Labels)>,
    /// Runs listed by more than one spec (each listed under every one).
    pub shared_runs: usize,
    /// Runs per status (as `RunStatus as usize`), kept with the runs so
    /// the header and the keys' availability do not count a million runs
    /// a frame.
    statuses: [usize; STATUSES],
    /// The runs training (their progress moves without events).
    running: BTreeSet<usize>,
    /// Each run's first index in `runs`, and its others (a run several
    /// specs list): a change of a few runs finds their rows here, or, if
    /// it is one of `runs[sorted_from..base]` (no spec lists them, and
    /// they are sorted by id), by binary search in `unlisted_ids`.
    rows_of: HashMap<RunId, usize>,
    more_rows: HashMap<RunId, Vec<usize>>,
    /// Per spec (as `spec_names`), one of its runs' configs: a run that
    /// joins the spec and reads as it does changes none of its labels.
    first_of_spec: Vec<RunConfig>,
    /// How many runs the store was made with, in the session's order
    /// (the runs of specs, then the others by id from `unlisted_from`);
    /// runs that joined since are after them, each with where the
    /// session would list it ([`Store::place`]).
    base: usize,
    unlisted_from: usize,
    /// Where the runs the store was made with that no spec lists and that
    /// are in order of id start (they end at `base`): the session's order.
    sorted_from: usize,
    /// The ids of `runs[unlisted_from..base]` as numbers, side by side: a binary
    /// search among 100,000 views took a cache miss a step for each run
    /// streamed in (7 µs; here, 8 bytes a step).
    unlisted_ids: Vec<u64>,
    /// The [`Store::place`] of each run that joined since (after `base`).
    joined_places: Vec<u128>,
}

/// Room for `more` entries in `v`, a 16th of its length (at least 64) at
/// a time: the per-run vectors of 100,000 runs, doubled when one run
/// streams in, held 2.4 MB of room for 100,000 more.
pub(crate) fn for_growth<T>(v: &mut Vec<T>, more: usize) {
    if v.capacity() - v.len() < more {
        v.reserve_exact(more.max(v.len() / 16).max(64));
    }
}

/// How many [`RunStatus`]es there are.
const STATUSES: usize = RunStatus::Cancelled as usize + 1;

impl Store {
    /// The store of `runs` and `specs`; labels of a spec whose runs are
    /// those of `before` are taken from it.
    fn new(runs: Vec<Arc<RunView>>, specs: Vec<SpecView>, before: &Store) -> Store {
        // One pass over the runs (each a few cache misses away): each
        // spec numbered as first met, with its first run, the fingerprint
        // of its runs' ids and its distinct configs; each run's environment.
        let mut spec_numbers = Numbering::default();
        let mut specs_met: Vec<(usize, Fingerprint, Distinct)> = Vec::new();
        let mut spec_of = Vec::with_capacity(runs.len());
        let mut env_numbers = Numbering::default();
        let mut env_of = Vec::with_capacity(runs.len());
        for (i, run) in runs.iter().enumerate() {
            let (m, new) = spec_numbers.number(&run.config.spec);
            if new {
                specs_met.push((i, Fingerprint::default(), Distinct::default()));
            }
            let (_, key, distinct) = &mut specs_met[m as usize];
            key.add(run.id.number());
            distinct.add(&run.config);
            spec_of.push(m);
            env_of.push(env_numbers.number(&run.config.env).0);
        }
        // Numbered again in the order of their names.
        let mut by_name: Vec<u32> = (0..specs_met.len() as u32).collect();
        by_name.sort_unstable_by_key(|&m| spec_numbers.names[m as usize]);
        let mut rank_of = vec![0; by_name.len()];
        let mut spec_names = Vec::with_capacity(by_name.len());
        let mut spec_labels = Vec::with_capacity(by_name.len());
        let mut first_of_spec = Vec::with_capacity(by_name.len());
        for (rank, &m) in (0..).zip(&by_name) {
            rank_of[m as usize] = rank;
            let spec = spec_numbers.names[m as usize];
            let (first, key, distinct) = &specs_met[m as usize];
            let key = key.finish();
            let labels = match before.spec_index(spec).map(|s| &before.spec_labels[s]) {
                Some((k, labels)) if *k == key => labels.clone(),
                _ => distinct.labels(),
            };
            first_of_spec.push(runs[*first].config.clone());
            spec_names.push(spec.to_string());
            spec_labels.push((key, labels));
        }
        for s in &mut spec_of {
            *s = rank_of[*s as usize];
        }
        // Only a spec lists a run twice (a run of no spec has one row).
        let mut listings: HashMap<RunId, usize> = HashMap::new();
        for &id in specs.iter().flat_map(|s| &s.run_ids) {
            *listings.entry(id).or_default() += 1;
        }
        let shared_runs = listings.values().filter(|&&n| n > 1).count();
        let unlisted = runs.iter().rev();
        let unlisted = unlisted.take_while(|r| !listings.contains_key(&r.id));
        let unlisted_from = runs.len() - unlisted.count();
        // The runs of no spec, by id, are found by binary search; the
        // others (and any out of order) by hash.
        let mut sorted_from = runs.len();
        while sorted_from > unlisted_from
            && (sorted_from == runs.len() || runs[sorted_from - 1].id < runs[sorted_from].id)
        {
            sorted_from -= 1;
        }
        let env_names = env_numbers.names.iter().map(|&e| Arc::from(e)).collect();
        let unlisted_ids = runs[unlisted_from..]
            .iter()
            .map(|r| r.id.number())
            .collect();
        let mut store = Store {
            env_names,
            env_of,
            base: runs.len(),
            runs,
            specs,
            spec_names,
            spec_of,
            spec_labels,
            shared_runs,
            first_of_spec,
            unlisted_from,
            sorted_from,
            unlisted_ids,
            ..Store::default()
        };
        // The runs stay where they are (a second copy of a million views
        // was 400 MB at the peak).
        store.rows_of.reserve(sorted_from);
        for i in 0..store.runs.len() {
            store.index(i);
        }
        store
    }

    /// Adds `run`, of spec `spec` (its index in `spec_names`).
    fn push(&mut self, run: Arc<RunView>, spec: u32) {
        let known = self.env_names.iter().position(|e| *e == run.config.env);
        let env = known.unwrap_or_else(|| {
            self.env_names.push(run.config.env.clone());
            self.env_names.len() - 1
        });
        for_growth(&mut self.env_of, 1);
        for_growth(&mut self.runs, 1);
        for_growth(&mut self.spec_of, 1);
        self.env_of
            .push(u32::try_from(env).expect("fewer than 2³² environments"));
        for_growth(&mut self.joined_places, 1);
        self.joined_places
            .push(Store::joining_place(self.anchor(&run.id), &run.id));
        self.runs.push(run);
        self.spec_of.push(spec);
        self.index(self.runs.len() - 1);
    }

    /// Finds run `i` by its id, and counts its status.
    fn index(&mut self, i: usize) {
        let id = self.runs[i].id;
        if !(self.sorted_from..self.base).contains(&i) {
            match self.rows_of.entry(id) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i);
                }
                std::collections::hash_map::Entry::Occupied(_) => {
                    self.more_rows.entry(id).or_default().push(i);
                }
            }
        }
        self.tally(self.runs[i].status, i, true);
    }

    /// Counts run `i`, of `status`, in (`add`) or out.
    fn tally(&mut self, status: RunStatus, i: usize, add: bool) {
        let n = &mut self.statuses[status as usize];
        if add {
            *n += 1;
        } else {
            *n -= 1;
        }
        if status == RunStatus::Running {
            if add {
                self.running.insert(i);
            } else {
                self.running.remove(&i);
            }
        }
    }

    /// Where the session lists run `i`, as a sort's last key: runs the
    /// store was made with in their order, a run that joined since just
    /// before the first of them it precedes by id (the others are listed
    /// by id), so rows are ordered as on a store made again.
    pub fn place(&self, i: usize) -> u128 {
        match i.checked_sub(self.base) {
            None => (i as u128) << 65 | 1 << 64,
            Some(k) => self.joined_places[k],
        }
    }

    /// Each of `rows`' (ascending indices into `runs`) rank among them by
    /// [`Store::place`], and the rows in that order: the runs the store
    /// was made with are in place order already, so only those that
    /// joined since are sorted, then merged in.
    pub fn place_ranks(&self, rows: &[usize]) -> (Vec<u32>, Vec<usize>) {
        debug_assert!(rows.is_sorted());
        let made = rows.partition_point(|&i| i < self.base);
        let mut joined: Vec<(u128, usize)> = (made..rows.len())
            .map(|k| (self.place(rows[k]), k))
            .collect();
        joined.sort_unstable();
        let mut ranks = vec![0; rows.len()];
        let mut by_rank = Vec::with_capacity(rows.len());
        let mut next = |k: usize| {
            ranks[k] = u32::try_from(by_rank.len()).expect("fewer than 2³² runs");
            by_rank.push(rows[k]);
        };
        let mut joined = joined.into_iter().peekable();
        for (k, &i) in rows[..made].iter().enumerate() {
            let place = self.place(i);
            while let Some((_, j)) = joined.next_if(|&(p, _)| p < place) {
                next(j);
            }
            next(k);
        }
        joined.for_each(|(_, j)| next(j));
        (ranks, by_rank)
    }

    /// The place of run `id` that joined before run `anchor`.
    fn joining_place(anchor: usize, id: &RunId) -> u128 {
        (anchor as u128) << 65 | u128::from(id.number())
    }

    /// The first of the runs the store was made with and no spec lists
    /// that run `id`, joining, precedes by id.
    fn anchor(&self, id: &RunId) -> usize {
        let id = id.number();
        self.unlisted_from + self.unlisted_ids.partition_point(|&u| u < id)
    }

    /// The indices of run `id`'s rows in `runs`.
    fn rows_of(&self, id: &RunId) -> Vec<usize> {
        let more = self.more_rows.get(id).into_iter().flatten();
        let sorted = &self.unlisted_ids[self.sorted_from - self.unlisted_from..];
        let found = sorted.binary_search(&id.number()).ok();
        self.rows_of
            .get(id)
            .into_iter()
            .chain(more)
            .copied()
            .chain(found.map(|k| self.sorted_from + k))
            .collect()
    }

    /// Whether `run`, not in the store, can join it without changing
    /// another run's numbers or labels: its spec is there and it reads as
    /// the spec's runs do ([`Labels::alike`]). Its spec's number is
    /// found when it joins: a spec added meanwhile moves numbers.
    fn joins_alike(&self, run: &RunView) -> bool {
        self.spec_index(&run.config.spec)
            .is_some_and(|s| Labels::alike(&self.first_of_spec[s], &run.config))
    }

    /// Adds the spec of `run`, if the store lacks it, labelled by its
    /// config alone; returns its number. The specs after it in name order
    /// are numbered one more: each run's number is moved (4 bytes a run,
    /// no allocation), where making the store again took a copy of it.
    fn add_spec(&mut self, run: &RunView) -> Option<u32> {
        let (config, mut key) = (&run.config, Fingerprint::default());
        key.add(run.id.number());
        let name = &*config.spec;
        let Err(rank) = self.spec_names.binary_search_by(|s| s.as_str().cmp(name)) else {
            return None;
        };
        let number = u32::try_from(rank).expect("fewer than 2³² specs");
        for spec in &mut self.spec_of {
            *spec += u32::from(*spec >= number);
        }
        self.spec_names.insert(rank, name.to_string());
        self.spec_labels
            .insert(rank, (key.finish(), Labels::new([config])));
        self.first_of_spec.insert(rank, config.clone());
        Some(number)
    }

    /// The runs training.
    pub fn running_ids(&self) -> Vec<RunId> {
        self.running.iter().map(|&i| self.runs[i].id).collect()
    }

    fn spec_index(&self, spec: &str) -> Option<usize> {
        self.spec_names
            .binary_search_by(|s| s.as_str().cmp(spec))
            .ok()
    }

    /// The index of run `i`'s spec among the runs' specs, which are
    /// numbered in the order of their names.
    pub fn spec_of(&self, i: usize) -> u32 {
        self.spec_of[i]
    }

    /// Run `i`'s environment, as a number (below [`Store::env_count`]).
    pub fn env_of(&self, i: usize) -> usize {
        self.env_of[i] as usize
    }

    /// How many environments the runs have.
    pub fn env_count(&self) -> usize {
        self.env_names.len()
    }

    /// The environment numbered `env`.
    pub fn env_name(&self, env: usize) -> &str {
        &self.env_names[env]
    }

    /// How many runs have `status`.
    pub fn count(&self, status: RunStatus) -> usize {
        self.statuses[status as usize]
    }

    /// Puts `view` in run `i`'s place, its status counted.
    fn set(&mut self, i: usize, view: Arc<RunView>) {
        self.tally(self.runs[i].status, i, false);
        self.tally(view.status, i, true);
        self.runs[i] = view;
    }

    /// The labels of a run's spec.
    pub fn labels(&self, config: &RunConfig) -> &Labels {
        static NONE: std::sync::LazyLock<Labels> = std::sync::LazyLock::new(Labels::default);
        self.spec_index(&config.spec)
            .map_or(&NONE, |s| &self.spec_labels[s].1)
    }
}

/// Numbers names as first met: the last one is checked first (runs come
/// in stretches of one spec or environment), the others found by hash.
#[derive(Debug, Default)]
struct Numbering<'a> {
    names: Vec<&'a str>,
    of: HashMap<&'a str, u32>,
    last: Option<(&'a str, u32)>,
}

impl<'a> Numbering<'a> {
    /// `name`'s number, and whether it is new.
    fn number(&mut self, name: &'a str) -> (u32, bool) {
        if let Some((last, n)) = self.last
            && last == name
        {
            return (n, false);
        }
        let next = u32::try_from(self.names.len()).expect("fewer than 2³² names");
        let n = *self.of.entry(name).or_insert(next);
        if n == next {
            self.names.push(name);
        }
        self.last = Some((name, n));
        (n, n == next)
    }
}

/// A 64-bit fingerprint of a sequence of words, to tell whether what a
/// cached table was built from changed: `FxHash`'s rotate, xor and
/// multiply by an odd constant, fast enough to run over a million runs
/// on every change. Each step is a bijection of the state for a given
/// word, so a change of any one word always changes the result; several
/// changes collide with probability about 2⁻⁶⁴ (it is no defence against
/// an adversary, and needs none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fingerprint(u64);

impl Fingerprint {
    pub fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    pub fn add_bytes(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        self.add(bytes.len() as u64);
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// How the main screen is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    /// The focused pane of the main screen (the detail, while open, has
    /// the keyboard: see [`App::focus`]).
    pub pane: Pane,
    /// The focused pane fills the screen.
    pub zoom: bool,
    pub no_color: bool,
}

impl Default for Screen {
    fn default() -> Self {
        Screen {
            pane: Pane::Runs,
            zoom: false,
            no_color: false,
        }
    }
}

/// The runs filter and its typing.
#[derive(Debug, Clone, Default)]
struct FilterInput {
    text: String,
    /// Typing a filter after `/`.
    editing: bool,
    /// Typed since the rows were derived: a burst of keys (a paste)
    /// filters once, in [`App::settle`].
    typed: bool,
    /// Per run, the text the filter searches ([`Filter::haystack`]),
    /// derived once per change of the runs (while a filter is set), so
    /// typing only searches; empty until then.
    haystacks: Vec<String>,
}

impl FilterInput {
    /// The indices of the runs the filter leaves, in store order.
    fn matching(&mut self, store: &Store) -> Vec<usize> {
        let filter = Filter::new(&self.text);
        if filter.is_empty() {
            return (0..store.runs.len()).collect();
        }
        if self.haystacks.len() != store.runs.len() {
            self.haystacks = store
                .runs
                .iter()
                .map(|r| Filter::haystack(&r.config, store.labels(&r.config), r.status))
                .collect();
        }
        (0..store.runs.len())
            .filter(|&i| filter.matches_text(&self.haystacks[i]))
            .collect()
    }
}

impl App {
    /// Replaces the data, keeping the cursor on the same run.
    pub fn update(&mut self, runs: Vec<Arc<RunView>>, specs: Vec<SpecView>) {
        self.keeping_selection(|app| {
            app.chart.revisions.update(&app.store.runs, &runs);
            app.store = Store::new(runs, specs, &app.store);
        });
    }

    /// Takes in new views of a few runs (`views`, by id; each stays listed
    /// under the specs it was, and a run new to the store joins it under
    /// its config's spec), keeping the cursor on the same run: the other
    /// runs, the specs and their labels are the same, so a change costs
    /// what its runs do, not what the store's million do.
    ///
    /// Rows whose run sorts where it did (and, under a settled filter, is
    /// still matched) stay; the others are taken out and put back where
    /// a binary search in the order puts them; a run of a spec the store
    /// lacks adds the spec (its labels its config's). Only a run that
    /// would change its spec's labels makes the store and the rows again.
    pub fn replace(&mut self, views: &[Arc<RunView>]) {
        let mut changed: Vec<(usize, Arc<RunView>)> = Vec::new();
        let mut joining: Vec<Arc<RunView>> = Vec::new();
        let mut relabels = false;
        for view in views {
            let rows = self.store.rows_of(&view.id);
            if rows.is_empty() {
                if self.store.joins_alike(view) {
                    joining.push(view.clone());
                } else if let Some(spec) = self.store.add_spec(view) {
                    self.runs.spec_added(spec);
                    joining.push(view.clone());
                } else {
                    relabels = true;
                }
            }
            for i in rows {
                // The view itself, unless the row's config reads otherwise
                // (a run listed under another spec keeps its row's).
                let config = &self.store.runs[i].config;
                let view = if *config == view.config {
                    view.clone()
                } else {
                    Arc::new(RunView {
                        config: config.clone(),
                        ..(**view).clone()
                    })
                };
                changed.push((i, view));
            }
        }
        if relabels || self.filter.typed {
            self.keeping_selection(|app| {
                let mut before = std::mem::take(&mut app.store);
                for (i, view) in changed {
                    app.chart.revisions.replace(Some(&before.runs[i]), &view);
                    before.runs[i] = view;
                }
                // In the session's order, as the store made again from it.
                let mut placed: Vec<(u128, Arc<RunView>)> = Vec::with_capacity(before.runs.len());
                for view in views.iter().filter(|v| before.rows_of(&v.id).is_empty()) {
                    app.chart.revisions.replace(None, view);
                    placed.push((
                        Store::joining_place(before.anchor(&view.id), &view.id),
                        view.clone(),
                    ));
                }
                let places: Vec<u128> = (0..before.runs.len()).map(|i| before.place(i)).collect();
                placed.extend(places.into_iter().zip(std::mem::take(&mut before.runs)));
                placed.sort_unstable_by_key(|(place, _)| *place);
                let runs = placed.into_iter().map(|(_, run)| run).collect();
                let specs = std::mem::take(&mut before.specs);
                app.store = Store::new(runs, specs, &before);
            });
            return;
        }
        let filter = Filter::new(&self.filter.text);
        if filter.is_empty() {
            // Made again when a filter is set.
            self.filter.haystacks.clear();
        }
        let order = self.runs.order();
        let selected = self.runs.selected_index();
        // Settled, a set filter's haystacks are there.
        let haystack = |store: &Store, view: &RunView| {
            Filter::haystack(&view.config, store.labels(&view.config), view.status)
        };
        let (mut leaving, mut entering) = (Vec::new(), Vec::new());
        for (i, view) in &changed {
            let old = &self.store.runs[*i];
            let was = filter.is_empty() || filter.matches_text(&self.filter.haystacks[*i]);
            let is = filter.is_empty() || {
                let text = haystack(&self.store, view);
                let is = filter.matches_text(&text);
                self.filter.haystacks[*i] = text;
                is
            };
            let moves = !order.sorts_alike(old, view);
            if was && is && !moves {
                self.runs.restate(self.store.spec_of(*i), old, view);
            }
            if was && (moves || !is) {
                leaving.push(*i);
            }
            if is && (moves || !was) {
                entering.push(*i);
            }
        }
        self.runs.take_out(&self.store, &leaving);
        for (i, view) in changed {
            self.chart
                .revisions
                .replace(Some(&self.store.runs[i]), &view);
            self.store.set(i, view);
        }
        for view in joining {
            let spec = self
                .store
                .spec_index(&view.config.spec)
                .expect("added above");
            let spec = u32::try_from(spec).expect("fewer than 2³² specs");
            let i = self.store.runs.len();
            if !filter.is_empty() {
                self.filter.haystacks.push(haystack(&self.store, &view));
            }
            if filter.is_empty() || filter.matches_text(&self.filter.haystacks[i]) {
                entering.push(i);
            }
            if self.marked.contains(&view.id) {
                self.marked_rows.push(i);
            }
            self.chart.revisions.replace(None, &view);
            self.store.push(view, spec);
        }
        self.runs.put_in(&self.store, entering);
        if let Some(row) = selected.and_then(|i| self.runs.position(&self.store, i)) {
            self.runs.selected = row;
        }
        self.follow_selection();
    }

    /// Changes the store through `change`, then derives the rows again
    /// with the cursor on the run it was on.
    fn keeping_selection(&mut self, change: impl FnOnce(&mut App)) {
        // A run two specs list has a row under each: the row is its spec and id.
        let current = self.selected_run().map(|r| (r.config.spec.clone(), r.id));
        change(self);
        self.find_marked();
        self.filter.haystacks.clear();
        self.derive(self.runs.order());
        if let Some((spec, id)) = current
            && let Some(i) = (0..self.runs.row_count()).position(|i| {
                self.runs
                    .row(&self.store, i)
                    .is_some_and(|r| r.id == id && r.config.spec == spec)
            })
        {
            self.runs.selected = i;
        }
        self.follow_selection();
    }

    /// The one path to the runs pane's rows (and the score tables over
    /// them): from the store, the filter and `order`, together.
    fn derive(&mut self, order: Order) {
        self.filter.typed = false;
        let matching = self.filter.matching(&self.store);
        self.runs.derive(&self.store, matching, order);
    }

    /// Keeps the detail on the selected run (its environment built here).
    pub(crate) fn follow_selection(&mut self) {
        self.detail.follow_selection(&self.store, &self.runs);
    }

    /// Changes the runs table's order; the rows follow.
    pub fn reorder(&mut self, change: impl FnOnce(&mut Order)) {
        let mut order = self.runs.order();
        change(&mut order);
        self.derive(order);
    }

    /// Sets the filter; the rows follow.
    pub fn set_filter(&mut self, text: &str) {
        text.clone_into(&mut self.filter.text);
        self.derive(self.runs.order());
    }

    /// Derives the rows if the filter was typed since; returns whether it was.
    pub fn settle(&mut self) -> bool {
        if !self.filter.typed {
            return false;
        }
        self.derive(self.runs.order());
        self.follow_selection();
        true
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The filter as typed.
    pub fn filter(&self) -> &str {
        &self.filter.text
    }

    /// Whether the filter is being typed (the footer shows it).
    pub fn editing_filter(&self) -> bool {
        self.filter.editing
    }

    /// Starts typing the filter (`/`).
    pub fn edit_filter(&mut self) {
        self.filter.editing = true;
    }

    /// The labels of a run's spec.
    pub fn labels(&self, config: &RunConfig) -> &Labels {
        self.store.labels(config)
    }

    /// The runs table's rows: filtered, then sorted (by spec first when
    /// grouped); derived once per change, read here.
    pub fn visible_runs(&self) -> Vec<&RunView> {
        self.runs.rows(&self.store)
    }

    pub fn selected_run(&self) -> Option<&RunView> {
        self.runs.selected_run(&self.store)
    }

    /// Which pane has the keyboard: the detail while it is open, else the
    /// focused pane of the main screen.
    pub fn focus(&self) -> Pane {
        if self.detail.open {
            Pane::Detail
        } else {
            self.screen.pane
        }
    }

    /// Marks or unmarks the selected run for the chart.
    pub fn toggle_mark(&mut self) {
        if let Some(id) = self.selected_run().map(|r| r.id) {
            match self.marked.iter().position(|m| *m == id) {
                Some(i) => {
                    self.marked.remove(i);
                }
                None => self.marked.push(id),
            }
            self.find_marked();
        }
    }

    /// Marks `ids` for the chart, and only them.
    pub fn set_marks(&mut self, ids: Vec<RunId>) {
        self.marked = ids;
        self.find_marked();
    }

    pub fn clear_marks(&mut self) {
        self.set_marks(Vec::new());
    }

    /// The runs marked for the chart.
    pub fn marked(&self) -> &[RunId] {
        &self.marked
    }

    /// The marked runs, in store order.
    pub fn marked_runs(&self) -> impl Iterator<Item = &RunView> {
        self.marked_rows.iter().map(|&i| &*self.store.runs[i])
    }

    fn find_marked(&mut self) {
        self.marked_rows.clear();
        if !self.marked.is_empty() {
            let runs = self.store.runs.iter().enumerate();
            let marked = runs.filter(|(_, r)| self.marked.contains(&r.id));
            self.marked_rows.extend(marked.map(|(i, _)| i));
        }
    }

    /// Whether the global `command` does something now; if not, why.
    fn availability(&self, command: Command) -> Result<(), String> {
        match command {
            // Enter closes an open detail even when its run is gone.
            Command::Detail if !self.detail.open && self.selected_run().is_none() => {
                Err("no run selected".to_string())
            }
            _ => Ok(()),
        }
    }

    /// Carries out one available global command.
    fn apply(&mut self, command: Command) -> Action {
        match command {
            Command::Quit => return Action::Quit,
            Command::Help => self.help.show(),
            Command::Detail => self.detail.open = !self.detail.open,
            Command::Back => {
                if self.detail.open {
                    self.detail.open = false;
                } else if self.screen.zoom {
                    self.screen.zoom = false;
                } else if !self.filter.text.is_empty() {
                    self.set_filter("");
                } else {
                    self.chart.options.cursor = None;
                }
            }
            Command::NextPane => self.screen.pane = self.screen.pane.next(),
            Command::PreviousPane => self.screen.pane = self.screen.pane.next().next(),
            Command::Zoom => self.screen.zoom = !self.screen.zoom,
            _ => {}
        }
        Action::None
    }

    /// Whether `command`, as `owner` offers it, does something now; if
    /// not, why (the footer shows it disabled, and pressing its key says so).
    pub fn availability_of(&self, owner: Owner, command: Command) -> Result<(), String> {
        match owner {
            Owner::Global => self.availability(command),
            Owner::Pane(pane) => pane::availability(self, pane, command),
        }
    }

    /// A key typed into the filter: the rows follow when typing ends (Enter
    /// or Esc), or at [`App::settle`] after a burst.
    fn type_filter(&mut self, code: KeyCode) {
        match code {
            KeyCode::Enter => self.filter.editing = false,
            KeyCode::Esc => {
                self.filter.editing = false;
                self.filter.text.clear();
            }
            KeyCode::Backspace => {
                self.filter.text.pop();
            }
            KeyCode::Char(c) if !c.is_control() => self.filter.text.push(c),
            _ => {}
        }
        self.runs.selected = 0;
        self.filter.typed = true;
        if !self.filter.editing {
            // Done typing: the rows follow now, not at the next key.
            self.settle();
        }
    }

    /// Applies one key; returns what the session should do.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if self.filter.editing {
            self.type_filter(key.code);
            return Action::None;
        }
        // Any other key acts on the rows the filter leaves.
        self.settle();
        if self.help.open {
            self.help.key(key.code);
            return Action::None;
        }
        self.message = None;
        let found = pane::binding_in(self.focus(), key.code);
        if found.map(|(_, b)| b.command) != Some(Command::Rerun) {
            self.runs.confirm_rerun = None;
        }
        let Some((owner, binding)) = found else {
            return Action::None;
        };
        if let Err(why) = self.availability_of(owner, binding.command) {
            self.message = Some(why);
            return Action::None;
        }
        let action = match owner {
            Owner::Global => self.apply(binding.command),
            Owner::Pane(pane) => pane::apply(self, pane, binding.command),
        };
        self.follow_selection();
        action
    }
}

/// Shared with every text output of the command line ([`crate::text`]).
pub use crate::text::sanitize;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tui::chart::tests::run_view;
    use crate::tui::detail::Heatmap;
    use std::sync::Arc;

    /// A dashboard of one FrozenLake run with three eval points.
    pub(crate) fn frozen_lake() -> App {
        let mut app = App::default();
        app.update(
            vec![Arc::new(run_view("FrozenLake-v1", 1.0, 3))],
            Vec::new(),
        );
        app
    }

    pub(crate) fn press(app: &mut App, keys: &str) -> Action {
        let mut last = Action::None;
        for key in parse_keys(keys).unwrap() {
            last = app.handle_key(key);
        }
        last
    }

    #[test]
    fn a_key_that_does_nothing_now_says_why() {
        let mut app = frozen_lake();
        assert_eq!(press(&mut app, "x"), Action::None);
        assert!(app.message.as_ref().unwrap().contains("nothing to cancel"));
        assert_eq!(press(&mut app, "["), Action::None);
        assert!(app.message.as_ref().unwrap().contains("smoothing"));
        press(&mut app, "o");
        assert!(app.message.as_ref().unwrap().contains("run detail"));
        assert_eq!(app.detail.heatmap, Heatmap::MaxQ);
    }

    /// A spec's score table is kept while its runs are the same and
    /// built again when one of them changes, as a dashboard opened on
    /// the changed runs builds it.
    #[test]
    fn a_score_table_follows_a_change_of_its_runs() {
        let runs = |score: f64| {
            ["FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"]
                .map(|env| {
                    let mut run = run_view(env, 1.0, 3);
                    run.latest = Some(crate::eval::Metrics {
                        normalized_score: if env == "Taxi-v4" { score } else { 50.0 },
                        ..run.history[2]
                    });
                    Arc::new(run)
                })
                .to_vec()
        };
        let table = |app: &App| format!("{:?}", app.runs.score_table(app.store()));
        let fresh = |score| {
            let mut app = App::default();
            app.update(runs(score), Vec::new());
            table(&app)
        };
        let mut app = App::default();
        app.update(runs(10.0), Vec::new());
        let before = table(&app);
        assert!(Arc::ptr_eq(
            &app.runs.score_table(app.store()),
            &app.runs.score_table(app.store())
        ));
        app.update(runs(10.0), Vec::new());
        assert_eq!(table(&app), before);
        app.update(runs(90.0), Vec::new());
        assert_eq!(table(&app), fresh(90.0));
        assert_ne!(table(&app), before);
    }

    /// New views of a few runs taken in place show as the whole store
    /// taken again would: rows, order, the cursor on the same run, and
    /// the chart's revisions (a run whose history changed is cut again);
    /// sorted by q_est the rows are derived again, by spec they stay.
    #[test]
    fn views_replaced_in_place_show_as_the_store_taken_again() {
        for (sort, derived) in [(SortKey::QEst, true), (SortKey::Spec, false)] {
            replaced_in_place(sort, derived);
        }
    }

    fn replaced_in_place(sort: SortKey, derived: bool) {
        let runs = ["FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"]
            .map(|env| Arc::new(run_view(env, 1.0, 3)))
            .to_vec();
        let mut app = App::default();
        app.update(runs.clone(), Vec::new());
        app.reorder(|o| o.sort = sort);
        press(&mut app, "j");
        let selected = app.selected_run().unwrap().id;
        // The last row's run is read again: a longer history, a higher q_est.
        let last = app.visible_runs()[2].clone();
        let changed = Arc::new(RunView {
            history: run_view(&last.config.env, 9.0, 5).history,
            latest: Some(crate::eval::Metrics {
                q_est: 9.0,
                ..last.history[2]
            }),
            ..last.clone()
        });
        let before = app.chart.revisions.get(&changed.id);
        let mut whole = app.clone();
        let all: Vec<Arc<RunView>> = runs
            .iter()
            .map(|r| {
                if r.id == changed.id {
                    changed.clone()
                } else {
                    r.clone()
                }
            })
            .collect();
        whole.update(all, Vec::new());
        let generation = app.runs.generation();
        app.replace(std::slice::from_ref(&changed));
        assert_eq!(app.runs.generation() != generation, derived);
        let shown = |app: &App| format!("{:?}", app.visible_runs());
        assert_eq!(shown(&app), shown(&whole));
        let table = |app: &App| format!("{:?}", app.runs.score_table(app.store()));
        assert_eq!(table(&app), table(&whole));
        assert_eq!(app.selected_run().unwrap().id, selected);
        assert_eq!(whole.selected_run().unwrap().id, selected);
        assert_ne!(app.chart.revisions.get(&changed.id), before);
    }

    /// Runs changed and joining a few at a time, taken in through
    /// `replace`, show as the whole store taken again (in the session's
    /// order: these runs no spec lists, so by id) would, under every
    /// order, grouped or not, with and without a filter: the same frame
    /// (rows, columns, title, header), the same score table, the cursor
    /// on the same run. Joining runs that read as their spec's move rows,
    /// as does one of a new spec (`aa`, between `a` and `b`: the specs
    /// after it are numbered again, `d`); one that relabels its spec makes
    /// the store again.
    #[test]
    fn changes_taken_in_a_few_at_a_time_show_as_the_store_taken_again() {
        use rand::{Rng, SeedableRng};
        use ratatui::{Terminal, backend::TestBackend};
        let make = spec_run;
        let mut runs: Vec<Arc<RunView>> = (0..8)
            .map(|seed| make("a", "FrozenLake-v1", seed))
            .chain((0..4).map(|seed| make("b", "Taxi-v4", seed)))
            .chain((0..4).map(|seed| make("b", "CliffWalking-v1", seed)))
            .chain((10..12).map(|seed| make("c", "Taxi-v4", seed)))
            .chain([make("d", "Taxi-v4", 9)])
            .chain([make("b", "Taxi-v4", 40), make("aa", "Taxi-v4", 30)])
            .collect();
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        // Half the runs are there at first, the others join (`d`'s and
        // `aa`'s all).
        let joining: Vec<Arc<RunView>> = runs.iter().step_by(2).cloned().collect();
        runs.retain(|r| !joining.iter().any(|j| j.id == r.id));
        runs.sort_by_key(|r| r.id);
        // Each line's text, then the styles (a diff names the line).
        let frame = |app: &App| {
            let mut terminal = Terminal::new(TestBackend::new(140, 40)).unwrap();
            let drawn = terminal.draw(|f| super::super::view::draw(f, app)).unwrap();
            let buffer = drawn.buffer;
            let mut lines: Vec<String> = (0..buffer.area.height)
                .map(|y| {
                    (0..buffer.area.width)
                        .map(|x| buffer[(x, y)].symbol())
                        .collect()
                })
                .collect();
            lines.push(format!(
                "{:?}",
                buffer
                    .content
                    .iter()
                    .map(ratatui::buffer::Cell::style)
                    .collect::<Vec<_>>()
            ));
            lines
        };
        let table = |app: &App| format!("{:?}", app.runs.score_table(app.store()));
        for sort in SortKey::ALL {
            for (descending, group_by_spec, filter) in [
                (false, true, ""),
                (true, false, ""),
                (false, false, "taxi"),
                (true, true, "running"),
            ] {
                let order = Order {
                    sort,
                    descending,
                    group_by_spec,
                };
                let mut known = runs.clone();
                let mut joining = joining.clone();
                let mut app = App::default();
                app.update(known.clone(), Vec::new());
                app.reorder(|o| *o = order);
                app.set_filter(filter);
                app.runs.step(1);
                for _ in 0..12 {
                    let mut views = Vec::new();
                    for _ in 0..rng.random_range(1..=3) {
                        if !joining.is_empty() && rng.random_bool(0.3) {
                            views.push(joining.swap_remove(rng.random_range(0..joining.len())));
                            continue;
                        }
                        let mut run = (*known[rng.random_range(0..known.len())]).clone();
                        run.status = [RunStatus::Running, RunStatus::Done, RunStatus::Failed]
                            [rng.random_range(0..3)];
                        run.latest = Some(crate::eval::Metrics {
                            q_est: f64::from(rng.random_range(0..4_u8)),
                            normalized_score: f64::from(rng.random_range(0..4_u8)),
                            ..Default::default()
                        });
                        if !views.iter().any(|v: &Arc<RunView>| v.id == run.id) {
                            views.push(Arc::new(run));
                        }
                    }
                    let selected = app.selected_run().map(|r| r.id);
                    app.replace(&views);
                    for view in views {
                        match known.iter_mut().find(|r| r.id == view.id) {
                            Some(run) => *run = view,
                            None => known.push(view),
                        }
                    }
                    known.sort_by_key(|r| r.id);
                    let mut whole = App::default();
                    whole.update(known.clone(), Vec::new());
                    whole.reorder(|o| *o = order);
                    whole.set_filter(filter);
                    let ids =
                        |app: &App| app.visible_runs().iter().map(|r| r.id).collect::<Vec<_>>();
                    assert_eq!(ids(&app), ids(&whole), "{order:?} {filter:?}");
                    if let Some(id) = selected.filter(|id| ids(&whole).contains(id)) {
                        assert_eq!(app.selected_run().map(|r| r.id), Some(id));
                    }
                    whole.runs.selected = app.runs.selected;
                    whole.follow_selection();
                    for (a, b) in frame(&app).iter().zip(frame(&whole)) {
                        assert_eq!(*a, b, "{order:?} {filter:?}");
                    }
                    assert_eq!(table(&app), table(&whole));
                    let charted =
                        |app: &App| app.chart_runs().iter().map(|r| r.id).collect::<Vec<_>>();
                    assert_eq!(charted(&app), charted(&whole), "{order:?} {filter:?}");
                }
            }
        }
    }

    /// A run of spec `spec` on `env` with seed `seed`.
    fn spec_run(spec: &str, env: &str, seed: u64) -> Arc<RunView> {
        let mut run = run_view(env, 1.0, 0);
        run.config.spec = spec.into();
        run.config.seed = seed;
        run.id = run.config.id();
        Arc::new(run)
    }

    /// A spec added before others numbers them one more: the chart's runs,
    /// kept with the selected spec's number, are never those of the spec
    /// that had the number before.
    #[test]
    fn the_charts_runs_follow_specs_numbered_again() {
        let mut runs: Vec<Arc<RunView>> = ["a", "c", "d"]
            .iter()
            .flat_map(|spec| (0..2).map(move |seed| spec_run(spec, "FrozenLake-v1", seed)))
            .collect();
        runs.sort_by_key(|r| r.id);
        let mut app = App::default();
        app.update(runs, Vec::new());
        let select = |app: &mut App, spec: &str| {
            app.runs.selected = (0..app.runs.row_count())
                .position(|i| &*app.runs.row(app.store(), i).unwrap().config.spec == spec)
                .unwrap();
            app.follow_selection();
        };
        let charted = |app: &App| -> BTreeSet<String> {
            let runs = app.chart_runs();
            runs.iter().map(|r| r.config.spec.to_string()).collect()
        };
        select(&mut app, "d");
        assert_eq!(charted(&app), BTreeSet::from(["d".to_string()]));
        // `b` joins (another seed: an id ignores the spec): `c` takes the
        // number `d` had.
        app.replace(&[spec_run("b", "FrozenLake-v1", 10)]);
        select(&mut app, "c");
        assert_eq!(charted(&app), BTreeSet::from(["c".to_string()]));
    }

    /// A paste into the filter is filtered once, when the burst settles
    /// or Enter/Esc ends it, not once per character.
    #[test]
    fn a_burst_typed_into_the_filter_filters_once() {
        let mut app = App::default();
        let runs = ["FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"]
            .map(|env| Arc::new(run_view(env, 1.0, 3)))
            .to_vec();
        app.update(runs, Vec::new());
        assert_eq!(app.visible_runs().len(), 3);
        press(&mut app, "/taxi");
        assert_eq!(
            app.visible_runs().len(),
            3,
            "filtered before the burst ended"
        );
        assert!(app.settle());
        assert_eq!(app.visible_runs().len(), 1);
        assert!(!app.settle(), "nothing left to derive");
        press(&mut app, "<esc>");
        assert_eq!(
            app.visible_runs().len(),
            3,
            "Esc clears the filter and ends the burst"
        );
        press(&mut app, "/frozen");
        assert_eq!(app.visible_runs().len(), 3);
        press(&mut app, "<enter>");
        assert_eq!(app.visible_runs().len(), 1, "Enter ends the burst");
    }
}
