//! The runs table pane: one row per visible run (status, progress, the
//! latest J, R, q_est, gap and score), columns dropped by priority when
//! narrow; its keys move the selection, control the selected run, filter,
//! sort and mark. J is the discounted return J(π), what Q estimates; R is
//! one episode's undiscounted return within the time limit, which D4RL's
//! score normalizes. Where the data misses some start state the gap is the
//! one on the start states it visits, marked [`COVERED_MARK`].

use crate::eval::Metrics;
use crate::experiment::{RunId, RunStatus, RunView};
use crate::present::scores::{self, RunResult, ScoreTable};
use crate::tui::app::{Action, App, Fingerprint, Store, sanitize};
use crate::tui::keys::{Binding, Command, Pane, bind};
use crate::tui::view::{estimate, fmt, focused, shorten_middle, status_style, styled};
use crossterm::event::KeyCode;
use crossterm::event::KeyCode::Char as K;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Row, Table};
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The runs table: selection, the selected run's controls, filter and sort.
#[rustfmt::skip]
pub const KEYS: &[Binding] = &[
    bind(&[KeyCode::Up, K('k')], "↑ k", Command::Up, "previous run", None, "runs"),
    bind(&[KeyCode::Down, K('j')], "↓ j", Command::Down, "next run", None, "runs"),
    bind(&[KeyCode::PageUp], "PgUp", Command::PageUp, "ten rows up", None, "runs"),
    bind(&[KeyCode::PageDown], "PgDn", Command::PageDown, "ten rows down", None, "runs"),
    bind(&[KeyCode::Home], "Home", Command::First, "first row", None, "runs"),
    bind(&[KeyCode::End], "End", Command::Last, "last row", None, "runs"),
    bind(&[K(' ')], "space", Command::PauseResume, "pause / resume the selected run", Some("␣ pause"), "runs"),
    bind(&[K('x')], "x", Command::Cancel, "cancel the selected run", Some("x cancel"), "runs"),
    bind(&[K('r')], "r", Command::Rerun, "rerun the selected run from scratch", Some("r rerun"), "runs"),
    bind(&[K('a')], "a", Command::StartWaiting, "start the runs waiting for a start (--no-autostart)", None, "runs"),
    bind(&[K('/')], "/", Command::Filter, "filter: words match spec, env, algo, dataset, status", Some("/ filter"), "runs"),
    bind(&[K('s')], "s", Command::SortNext, "sort by the next column", Some("s sort"), "runs"),
    bind(&[K('S')], "S", Command::SortReverse, "reverse the sort", None, "runs"),
    bind(&[K('g')], "g", Command::Group, "group by spec on / off", None, "runs"),
    bind(&[K('m')], "m", Command::Mark, "mark / unmark the run for the chart", Some("m mark"), "runs"),
    bind(&[K('M')], "M", Command::ClearMarks, "clear the marks", None, "runs"),
];

/// The runs table's sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Spec,
    Env,
    Algo,
    Dataset,
    Seed,
    Status,
    Progress,
    /// The discounted J(π) (`true_return`).
    Return,
    /// One episode's undiscounted return (`episode_return`).
    EpisodeReturn,
    QEst,
    Gap,
    Score,
}

impl SortKey {
    pub const ALL: [SortKey; 12] = [
        SortKey::Spec,
        SortKey::Env,
        SortKey::Algo,
        SortKey::Dataset,
        SortKey::Seed,
        SortKey::Status,
        SortKey::Progress,
        SortKey::Return,
        SortKey::EpisodeReturn,
        SortKey::QEst,
        SortKey::Gap,
        SortKey::Score,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Spec => "spec",
            SortKey::Env => "env",
            SortKey::Algo => "algo",
            SortKey::Dataset => "dataset",
            SortKey::Seed => "seed",
            SortKey::Status => "status",
            SortKey::Progress => "progress",
            SortKey::Return => "J",
            SortKey::EpisodeReturn => "R",
            SortKey::QEst => "q_est",
            SortKey::Gap => "gap",
            SortKey::Score => "score",
        }
    }
}

/// The runs table's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub sort: SortKey,
    pub descending: bool,
    pub group_by_spec: bool,
}

impl Default for Order {
    fn default() -> Self {
        Order {
            sort: SortKey::Spec,
            descending: false,
            group_by_spec: true,
        }
    }
}

impl Order {
    /// Sorts `rows` (indices into the store's runs, ascending) by this
    /// order: by spec first when grouped, then the sort key, then where
    /// the session lists the run ([`Store::place`], as a rank among the
    /// rows). Each run's key is made once, as numbers that order as the
    /// values do (texts by their rank among those present, floats by their
    /// bits, no value last), so a million rows take 20 million comparisons
    /// of 16-byte entries, not of names and labels. [`Order::cmp`] orders
    /// two runs the same way.
    fn sort(self, store: &Store, rows: &mut Vec<usize>) {
        let shown = || rows.iter().map(|&i| &*store.runs[i]);
        let keys: Vec<u64> = match self.sort {
            SortKey::Spec => rows.iter().map(|&i| u64::from(store.spec_of(i))).collect(),
            SortKey::Env => ranks(&shown().map(|r| &*r.config.env).collect::<Vec<_>>()),
            SortKey::Algo => ranks(
                &shown()
                    .map(|r| store.labels(&r.config).algo(&r.config))
                    .collect::<Vec<_>>(),
            ),
            SortKey::Dataset => ranks(&shown().map(dataset_order).collect::<Vec<_>>()),
            SortKey::Seed => shown().map(|r| r.config.seed).collect(),
            // The others are of the run's state (`state_key` is some).
            _ => shown()
                .map(|r| self.state_key(r).unwrap_or_default())
                .collect(),
        };
        let (ranks, by_rank) = store.place_ranks(rows);
        let mut keyed: Vec<(u32, u64, u32)> = rows
            .iter()
            .zip(keys)
            .zip(ranks)
            .map(|((&i, key), rank)| {
                let key = if self.descending { !key } else { key };
                (self.group(store, i), key, rank)
            })
            .collect();
        // Ranks are distinct: no two entries are equal.
        keyed.sort_unstable();
        *rows = keyed
            .into_iter()
            .map(|(.., rank)| by_rank[rank as usize])
            .collect();
    }

    /// Run `i`'s group: its spec when grouped by spec.
    fn group(self, store: &Store, i: usize) -> u32 {
        if self.group_by_spec {
            store.spec_of(i)
        } else {
            0
        }
    }

    /// How store runs `a` and `b` sort ([`Order::sort`]'s order, one pair
    /// at a time): for the binary searches that move a few rows.
    fn cmp(self, store: &Store, a: usize, b: usize) -> Ordering {
        let (ra, rb) = (&store.runs[a], &store.runs[b]);
        let by_key = match self.sort {
            SortKey::Spec => store.spec_of(a).cmp(&store.spec_of(b)),
            SortKey::Env => ra.config.env.cmp(&rb.config.env),
            SortKey::Algo => {
                let algo = |r: &RunView| store.labels(&r.config).algo(&r.config);
                algo(ra).cmp(&algo(rb))
            }
            SortKey::Dataset => dataset_order(ra).cmp(&dataset_order(rb)),
            SortKey::Seed => ra.config.seed.cmp(&rb.config.seed),
            _ => self.state_key(ra).cmp(&self.state_key(rb)),
        };
        let by_key = if self.descending {
            by_key.reverse()
        } else {
            by_key
        };
        self.group(store, a)
            .cmp(&self.group(store, b))
            .then(by_key)
            .then_with(|| store.place(a).cmp(&store.place(b)))
    }
}

impl Order {
    /// A run's sort key when it sorts by the run's state (its status,
    /// progress, latest metrics), not by its config; none otherwise.
    fn state_key(self, r: &RunView) -> Option<u64> {
        let metric = |f: fn(&Metrics) -> f64| Some(f64_key(r.latest.as_ref().map_or(f64::NAN, f)));
        match self.sort {
            SortKey::Status => Some(r.status as u64),
            SortKey::Progress => Some(f64_key(progress(r))),
            SortKey::Return => metric(|m| m.true_return),
            SortKey::EpisodeReturn => metric(|m| m.episode_return),
            SortKey::QEst => metric(|m| m.q_est),
            // As the table shows it: on the covered start states where some are missed.
            SortKey::Gap => metric(|m| m.covered_gap().unwrap_or(m.gap)),
            SortKey::Score => metric(|m| m.normalized_score),
            SortKey::Spec | SortKey::Env | SortKey::Algo | SortKey::Dataset | SortKey::Seed => None,
        }
    }

    /// Whether `new`, a new view of `old`'s run (the same config), sorts
    /// where `old` does.
    pub(crate) fn sorts_alike(self, old: &RunView, new: &RunView) -> bool {
        self.state_key(old) == self.state_key(new)
    }
}

/// Each value's rank among the distinct values, as a sort key.
fn ranks<K: Ord>(values: &[K]) -> Vec<u64> {
    let distinct: std::collections::BTreeSet<&K> = values.iter().collect();
    let rank: BTreeMap<&K, u64> = distinct.into_iter().zip(0..).collect();
    values.iter().map(|v| rank[v]).collect()
}

/// A sort key that orders floats as [`f64::total_cmp`] does, NaN (no
/// value yet) last.
fn f64_key(x: f64) -> u64 {
    if x.is_nan() {
        return u64::MAX;
    }
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The runs table's state: the selection, and the rows as derived from
/// the store, the filter and the order ([`App`] derives them on every
/// change of those, through one path, so they cannot go stale).
///
/// Only the selected run's spec's score table is on screen, so a table is
/// built when first asked for, from that spec's rows, and kept with the
/// fingerprint of what it was built from ([`scored`]): a change elsewhere
/// in a store of a million runs rebuilds nothing, and a change in the
/// spec rebuilds its table once.
#[derive(Debug, Clone, Default)]
pub struct RunsPane {
    /// Index into [`App::visible_runs`].
    pub selected: usize,
    /// A finished run `r` was pressed on once (a second `r` reruns it).
    pub confirm_rerun: Option<RunId>,
    order: Order,
    /// The rows, as indices into the store's runs.
    rows: Vec<usize>,
    /// What the table says of all its rows, found as they are derived.
    facts: Facts,
    /// Counts the derivations: what is found from the rows is kept with
    /// the count it was found at (the chart's runs).
    generation: u64,
    /// Counts the changes of rows' runs, moved or shown anew in place: a
    /// score table is checked against its runs after they changed only.
    changes: u64,
    /// Per spec ([`Store::spec_of`]), its rows in the rows' order.
    spec_rows: BTreeMap<u32, SpecRows>,
    /// Score tables by spec name, built when asked for.
    tables: RefCell<HashMap<String, Scored>>,
}

/// A spec's rows, the generation they last moved at, and the change of
/// its runs last seen ([`RunsPane::changes`]): what is found from one
/// spec's rows (the chart's runs, its score table) stays while runs of
/// another stream in.
#[derive(Debug, Clone, Default)]
struct SpecRows {
    rows: Vec<usize>,
    generation: u64,
    changed: u64,
}

/// What the table's columns and title say of all its rows, not only of
/// those on screen: counted as rows come and go, so a frame reads the
/// window's rows alone and a new view of a row's run updates them.
#[derive(Debug, Clone, Default)]
struct Facts {
    /// Rows per environment (several: the env column stays).
    envs: BTreeMap<String, usize>,
    /// Rows whose run is training (the progress, speed and ETA columns),
    /// and whose gap is on the covered start states only (its legend).
    running: usize,
    covered_gap: usize,
}

impl Facts {
    /// The facts of the store's runs `rows`.
    fn of(store: &Store, rows: &[usize]) -> Facts {
        let mut facts = Facts::default();
        let mut per_env = vec![0; store.env_count()];
        for &i in rows {
            facts.count_state(&store.runs[i], true);
            per_env[store.env_of(i)] += 1;
        }
        let envs = per_env.into_iter().enumerate().filter(|&(_, n)| n > 0);
        facts.envs = envs
            .map(|(env, n)| (store.env_name(env).to_string(), n))
            .collect();
        facts
    }

    /// Counts row `r` in (`add`) or out.
    fn count(&mut self, r: &RunView, add: bool) {
        self.count_state(r, add);
        let env = &*r.config.env;
        match self.envs.get_mut(env) {
            Some(n) if add => *n += 1,
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    self.envs.remove(env);
                }
            }
            None if add => {
                self.envs.insert(env.to_string(), 1);
            }
            None => {}
        }
    }

    /// Counts what row `r`'s run state says (not its config) in (`add`) or out.
    fn count_state(&mut self, r: &RunView, add: bool) {
        let step = |n: &mut usize, yes: bool| match (yes, add) {
            (true, true) => *n += 1,
            (true, false) => *n -= 1,
            _ => {}
        };
        step(&mut self.running, r.status == RunStatus::Running);
        let covered = r.latest.is_some_and(|m| m.covered_gap().is_some());
        step(&mut self.covered_gap, covered);
    }

    /// A row's run, `old`, is now `new` (its config the same).
    fn restate(&mut self, old: &RunView, new: &RunView) {
        self.count_state(old, false);
        self.count_state(new, true);
    }

    fn several_envs(&self) -> bool {
        self.envs.len() > 1
    }
}

/// A spec's score table, and the fingerprint of the runs it counts.
#[derive(Debug, Clone)]
struct Scored {
    key: u64,
    /// The change of the spec's runs the key was last checked at.
    checked_at: u64,
    table: Arc<ScoreTable>,
}

/// What a spec's score table is made of, per row: the run's id, status,
/// dataset behaviour score, history length and its latest point's fields
/// the table reads (those the store's index holds).
fn scored<'a>(runs: impl Iterator<Item = &'a RunView>) -> u64 {
    let mut key = Fingerprint::default();
    for r in runs {
        key.add_bytes(r.id.as_str().as_bytes());
        key.add(r.status as u64);
        key.add(r.behavior.map_or(u64::MAX, f64::to_bits));
        key.add(r.history.len() as u64);
        match &r.latest {
            Some(m) => {
                key.add(m.iteration);
                for x in crate::experiment::index::held(m) {
                    key.add(x.to_bits());
                }
            }
            None => key.add(u64::MAX),
        }
    }
    key.finish()
}

impl RunsPane {
    pub fn order(&self) -> Order {
        self.order
    }

    /// Sorts the runs the filter leaves (`matching`) by `order`, and
    /// groups them by spec for the score tables; called by [`App`] only.
    pub(crate) fn derive(&mut self, store: &Store, mut matching: Vec<usize>, order: Order) {
        order.sort(store, &mut matching);
        self.order = order;
        self.rows = matching;
        self.generation += 1;
        self.changes += 1;
        self.facts = Facts::of(store, &self.rows);
        self.spec_rows.clear();
        // A stretch of rows of one spec at a time (all of a spec's, grouped).
        for stretch in self
            .rows
            .chunk_by(|&a, &b| store.spec_of(a) == store.spec_of(b))
        {
            let spec = store.spec_of(stretch[0]);
            let spec_rows = self.spec_rows.entry(spec).or_default();
            spec_rows.rows.extend(stretch);
            spec_rows.generation = self.generation;
            spec_rows.changed = self.changes;
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// A row's run, `old`, of spec `spec`, has a new view, `new`, that
    /// sorts alike ([`Order::sorts_alike`]): the rows stay, what is said
    /// of them follows.
    pub(crate) fn restate(&mut self, spec: u32, old: &RunView, new: &RunView) {
        self.facts.restate(old, new);
        self.changes += 1;
        if let Some(spec_rows) = self.spec_rows.get_mut(&spec) {
            spec_rows.changed = self.changes;
        }
    }

    /// Takes the rows of store runs `leaving` out, before their runs
    /// change: each is found by a binary search in the order, and the
    /// rows after the first are moved once (a change costs k·log N
    /// comparisons and a move of indices, not a sort of the store).
    pub(crate) fn take_out(&mut self, store: &Store, leaving: &[usize]) {
        if leaving.is_empty() {
            return;
        }
        let order = self.order;
        let find = |list: &[usize], i: usize| {
            list.binary_search_by(|&r| order.cmp(store, r, i))
                .expect("a row is where its order puts it")
        };
        let mut by_spec: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for &i in leaving {
            self.facts.count(&store.runs[i], false);
            by_spec.entry(store.spec_of(i)).or_default().push(i);
        }
        let at = leaving.iter().map(|&i| find(&self.rows, i)).collect();
        remove_at(&mut self.rows, at);
        for (&spec, leaving) in &by_spec {
            let spec_rows = self
                .spec_rows
                .get_mut(&spec)
                .expect("a row's spec has rows");
            let at = leaving.iter().map(|&i| find(&spec_rows.rows, i)).collect();
            remove_at(&mut spec_rows.rows, at);
            if spec_rows.rows.is_empty() {
                self.spec_rows.remove(&spec);
            }
        }
        self.moved(by_spec.into_keys());
    }

    /// Puts rows for store runs `entering` in where the order puts them,
    /// after their runs changed or joined the store ([`RunsPane::take_out`]'s
    /// other half).
    pub(crate) fn put_in(&mut self, store: &Store, mut entering: Vec<usize>) {
        if entering.is_empty() {
            return;
        }
        let order = self.order;
        entering.sort_unstable_by(|&a, &b| order.cmp(store, a, b));
        let mut by_spec: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for &i in &entering {
            self.facts.count(&store.runs[i], true);
            by_spec.entry(store.spec_of(i)).or_default().push(i);
        }
        let cmp = |a: usize, b: usize| order.cmp(store, a, b);
        insert_sorted(&mut self.rows, &entering, cmp);
        for (&spec, entering) in &by_spec {
            insert_sorted(
                &mut self.spec_rows.entry(spec).or_default().rows,
                entering,
                cmp,
            );
        }
        self.moved(by_spec.into_keys());
    }

    /// Spec `spec` was added to the store ([`Store::spec_of`]): the specs
    /// numbered from it on are one more, and what is kept by number (the
    /// chart's runs) is found again: they move to this generation, so a
    /// spec now numbered as another was is never taken for it.
    pub(crate) fn spec_added(&mut self, spec: u32) {
        self.generation += 1;
        let later = self.spec_rows.split_off(&spec);
        self.spec_rows
            .extend(later.into_iter().map(|(s, mut rows)| {
                rows.generation = self.generation;
                (s + 1, rows)
            }));
    }

    /// The rows moved, those of `specs` among them: what is kept of them
    /// is found again.
    fn moved(&mut self, specs: impl Iterator<Item = u32>) {
        self.generation += 1;
        self.changes += 1;
        for spec in specs {
            if let Some(spec_rows) = self.spec_rows.get_mut(&spec) {
                spec_rows.generation = self.generation;
                spec_rows.changed = self.changes;
            }
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// The row of store run `i`, if it has one.
    pub(crate) fn position(&self, store: &Store, i: usize) -> Option<usize> {
        let order = self.order;
        self.rows.binary_search_by(|&r| order.cmp(store, r, i)).ok()
    }

    /// Every row's run, in order: a vector as long as the store (a frame
    /// reads [`RunsPane::row`]s of its window instead).
    pub fn rows<'a>(&self, store: &'a Store) -> Vec<&'a RunView> {
        self.rows.iter().map(|&i| &*store.runs[i]).collect()
    }

    /// How many rows there are.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// Row `i`'s run.
    pub fn row<'a>(&self, store: &'a Store, i: usize) -> Option<&'a RunView> {
        self.rows.get(i).map(|&i| &*store.runs[i])
    }

    pub fn selected_run<'a>(&self, store: &'a Store) -> Option<&'a RunView> {
        self.row(store, self.selected)
    }

    /// The selected run's index in the store's runs.
    pub fn selected_index(&self) -> Option<usize> {
        self.rows.get(self.selected).copied()
    }

    /// How many times the rows moved.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The rows of the selected run's spec, in the rows' order, as
    /// indices into the store's runs.
    pub fn selected_spec_rows(&self, store: &Store) -> &[usize] {
        self.selected_spec(store).map_or(&[], |s| &s.rows)
    }

    /// The generation the selected run's spec's rows last moved at.
    pub fn selected_spec_generation(&self, store: &Store) -> u64 {
        self.selected_spec(store).map_or(0, |s| s.generation)
    }

    fn selected_spec(&self, store: &Store) -> Option<&SpecRows> {
        let &i = self.rows.get(self.selected)?;
        Some(&self.spec_rows[&store.spec_of(i)])
    }

    /// The score table of the selected run's spec (its visible runs).
    pub fn score_table(&self, store: &Store) -> Arc<ScoreTable> {
        static NONE: std::sync::LazyLock<Arc<ScoreTable>> =
            std::sync::LazyLock::new(|| Arc::new(ScoreTable::build(std::iter::empty())));
        let (Some(&i), Some(spec_rows)) = (self.rows.get(self.selected), self.selected_spec(store))
        else {
            return NONE.clone();
        };
        let spec = &*store.runs[i].config.spec;
        let mut tables = self.tables.borrow_mut();
        if let Some(scored) = tables.get(spec)
            && scored.checked_at == spec_rows.changed
        {
            return scored.table.clone();
        }
        let runs = || {
            self.selected_spec_rows(store)
                .iter()
                .map(|&i| &*store.runs[i])
        };
        let key = scored(runs());
        if let Some(scored) = tables.get_mut(spec)
            && scored.key == key
        {
            scored.checked_at = spec_rows.changed;
            return scored.table.clone();
        }
        let controllers = crate::eval::controller::controller_scores(scores::controllers_of(
            runs().map(|r| &r.config),
        ));
        let table = Arc::new(
            ScoreTable::build(runs().map(|r| RunResult {
                id: r.id,
                config: &r.config,
                status: r.status,
                point: scores::scoring_point(r.status, r.latest.as_ref(), || &r.history),
                behavior: r.behavior,
            }))
            .with_controllers(&controllers),
        );
        tables.insert(
            spec.to_string(),
            Scored {
                key,
                checked_at: spec_rows.changed,
                table: table.clone(),
            },
        );
        table
    }

    /// Moves the selection by `step` rows, within the rows.
    pub fn step(&mut self, step: isize) {
        let moved = self.selected.saturating_add_signed(step);
        self.selected = moved.min(self.rows.len().saturating_sub(1));
    }
}

/// Removes the entries at positions `at` (distinct, in any order) from
/// `list`, moving each entry after the first position once.
fn remove_at(list: &mut Vec<usize>, mut at: Vec<usize>) {
    at.sort_unstable();
    let Some(&first) = at.first() else { return };
    let mut write = first;
    for (k, &p) in at.iter().enumerate() {
        let end = at.get(k + 1).copied().unwrap_or(list.len());
        list.copy_within(p + 1..end, write);
        write += end - p - 1;
    }
    list.truncate(write);
}

/// Inserts `new` (sorted by `cmp`, none of it in `list`) into `list`
/// (sorted by `cmp`), each where a binary search puts it, moving each
/// entry after the first insertion once.
fn insert_sorted(list: &mut Vec<usize>, new: &[usize], cmp: impl Fn(usize, usize) -> Ordering) {
    let at: Vec<usize> = new
        .iter()
        .map(|&i| list.partition_point(|&r| cmp(r, i) == Ordering::Less))
        .collect();
    let mut end = list.len();
    crate::tui::app::for_growth(list, new.len());
    list.resize(end + new.len(), 0);
    // From the back: the entries in [p, end) move past the k + 1 new ones before them.
    for (k, (&i, &p)) in new.iter().zip(&at).enumerate().rev() {
        list.copy_within(p..end, p + k + 1);
        list[p + k] = i;
        end = p;
    }
}

/// Whether the runs table's `command` does something now; if not, why.
pub fn availability(app: &App, command: Command) -> Result<(), String> {
    match command {
        Command::StartWaiting if app.store().count(RunStatus::Waiting) == 0 => {
            Err("no run is waiting for a start".into())
        }
        Command::ClearMarks if app.marked().is_empty() => Err("no run is marked".into()),
        Command::Mark if app.selected_run().is_none() => Err(NO_RUN.into()),
        _ => control_availability(app, command),
    }
}

const NO_RUN: &str = "no run selected";

/// Whether a control of the selected run (pause, cancel, rerun: the runs
/// table's and the detail's) does something now.
pub fn control_availability(app: &App, command: Command) -> Result<(), String> {
    let status = app.selected_run().map(|r| r.status);
    let verb = match command {
        Command::PauseResume => "pause",
        Command::Cancel => "cancel",
        Command::Rerun => "rerun",
        _ => return Ok(()),
    };
    match status {
        None => Err(NO_RUN.into()),
        Some(s) if s.is_final() && command != Command::Rerun => {
            Err(format!("the run is {s}: nothing to {verb}"))
        }
        Some(_) => Ok(()),
    }
}

/// Carries out one available command of the runs table.
pub fn apply(app: &mut App, command: Command) -> Action {
    match command {
        Command::Up => app.runs.step(-1),
        Command::Down => app.runs.step(1),
        Command::PageUp => app.runs.step(-10),
        Command::PageDown => app.runs.step(10),
        Command::First => app.runs.step(isize::MIN),
        Command::Last => app.runs.step(isize::MAX),
        Command::Filter => app.edit_filter(),
        Command::SortNext => app.reorder(|o| {
            let i = SortKey::ALL.iter().position(|k| *k == o.sort).unwrap_or(0);
            o.sort = SortKey::ALL[(i + 1) % SortKey::ALL.len()];
        }),
        Command::SortReverse => app.reorder(|o| o.descending = !o.descending),
        Command::Group => app.reorder(|o| o.group_by_spec = !o.group_by_spec),
        Command::Mark => app.toggle_mark(),
        Command::ClearMarks => app.clear_marks(),
        Command::StartWaiting => return Action::StartQueued,
        _ => return control(app, command),
    }
    Action::None
}

/// Carries out a control of the selected run (the runs table's and the
/// detail's).
pub fn control(app: &mut App, command: Command) -> Action {
    let Some((id, status)) = app.selected_run().map(|r| (r.id, r.status)) else {
        return Action::None;
    };
    match command {
        Command::PauseResume => match status {
            RunStatus::Running | RunStatus::Queued => Action::Pause(id),
            RunStatus::Paused | RunStatus::Waiting => Action::Resume(id),
            _ => Action::None,
        },
        Command::Cancel => Action::Cancel(id),
        // A finished run's results are thrown away: ask once more.
        Command::Rerun if !status.is_final() || app.runs.confirm_rerun.as_ref() == Some(&id) => {
            app.runs.confirm_rerun = None;
            Action::Rerun(id)
        }
        Command::Rerun => {
            app.message = Some(format!(
                "r again reruns {id} from scratch, discarding its results"
            ));
            app.runs.confirm_rerun = Some(id);
            Action::None
        }
        _ => Action::None,
    }
}

/// Fraction of iterations done.
pub fn progress(run: &RunView) -> f64 {
    if run.status == RunStatus::Done {
        return 1.0;
    }
    let p = run.progress;
    if p.total == 0 {
        0.0
    } else {
        p.iteration as f64 / p.total as f64
    }
}

fn dataset_order(run: &RunView) -> (String, u64) {
    match &run.config.dataset {
        crate::experiment::DatasetSource::Collect { policy, size, .. } => {
            (policy.name().clone(), *size)
        }
        crate::experiment::DatasetSource::File { path, .. } => (path.display().to_string(), 0),
    }
}

fn bar(fraction: f64, width: usize) -> String {
    let filled = (fraction.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

fn eta(seconds: f64) -> String {
    if !(seconds.is_finite() && seconds > 0.0) {
        return "-".into();
    }
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Marks a gap measured on the covered start states only.
const COVERED_MARK: char = 'ᶜ';

/// The gap cell: q_est − J on the start states the data visits when it
/// misses some (an unvisited start holds the learner's convention, not an
/// estimate), marked; `–` marked when it visits none.
fn gap(m: &Metrics) -> String {
    match m.covered_gap() {
        Some(_) if m.start_coverage == 0.0 => format!("–{COVERED_MARK}"),
        Some(g) if g.is_finite() => format!("{}{COVERED_MARK}", fmt(Some(g), 3)),
        Some(g) => estimate(g),
        None => estimate(m.gap),
    }
}

/// A column of the runs table: its header, sort key, and each row's cell.
struct Column<'a> {
    name: &'static str,
    key: Option<SortKey>,
    /// Dropped first when the table is too narrow: higher goes first.
    optional: u8,
    cells: Vec<Cell<'a>>,
    width: usize,
}

/// The rows around the selected one that the table can show: ratatui
/// scrolls to the selected row within them as it would within all the
/// rows (it shows at most `height` rows ending at the selected one, or
/// the first `height`), and cells, and the columns' widths, come from
/// these only, as does what is said of all rows ([`Facts`]). Making cells
/// for every row cost a second and 600 MB a frame with 100,000 runs, and
/// listing every row 200 ms with a million. Returns the first row's index
/// and the rows.
fn window(app: &App, height: usize) -> (usize, Vec<&RunView>) {
    let first = app.runs.selected.saturating_sub(height);
    let end = (first + 2 * height + 2).min(app.runs.row_count());
    let rows = (first..end).filter_map(|i| app.runs.row(app.store(), i));
    (first, rows.collect())
}

/// Draws the runs table: the rows around the selected one, the columns
/// that fit, the title with its legends.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let (first, runs) = window(app, area.height as usize);
    let runs = &runs[..];
    let mut columns = Columns {
        app,
        runs,
        list: Vec::new(),
    };
    columns.identity();
    columns.progress();
    columns.metrics();
    let room = area.width.saturating_sub(2) as usize;
    let columns = fit(columns.list, runs, room);
    let shown: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let header: Vec<String> = columns
        .iter()
        .map(|c| format!("{}{}", c.name, sort_mark(c.key, app)))
        .collect();
    let squeezed = total_width(&columns) > room;
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| {
            if c.name == "algo" && squeezed {
                Constraint::Min(c.width.min(8) as u16)
            } else {
                Constraint::Length(c.width as u16)
            }
        })
        .collect();
    let rows = table_rows(app, first, runs, columns);
    let title = title(app, &shown, area.width as usize);
    let highlight = styled(
        app,
        Style::default()
            .bg(Color::DarkGray)
            .add_modifier(Modifier::BOLD),
        Style::default().add_modifier(Modifier::REVERSED),
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(focused(app, Pane::Runs, title))
        .row_highlight_style(highlight)
        .column_spacing(1);
    let mut state =
        ratatui::widgets::TableState::default().with_selected(Some(app.runs.selected - first));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The table's columns as they are built, over the rows in the window.
struct Columns<'a> {
    app: &'a App,
    runs: &'a [&'a RunView],
    list: Vec<Column<'a>>,
}

impl Columns<'_> {
    fn add(
        &mut self,
        (name, key, optional): (&'static str, Option<SortKey>, u8),
        texts: Vec<String>,
        styles: Option<Vec<Style>>,
    ) {
        let width = texts
            .iter()
            .map(|t| t.chars().count())
            .chain([name_width(name, key, self.app)])
            .max()
            .unwrap_or(1);
        let cells = match styles {
            Some(styles) => texts
                .into_iter()
                .zip(styles)
                .map(|(t, st)| Cell::from(t).style(st))
                .collect(),
            None => texts.into_iter().map(Cell::from).collect(),
        };
        self.list.push(Column {
            name,
            key,
            optional,
            cells,
            width,
        });
    }

    fn text(&self, f: impl Fn(&RunView) -> String) -> Vec<String> {
        self.runs.iter().map(|r| f(r)).collect()
    }

    fn metric(&self, f: fn(&Metrics) -> f64, precision: usize) -> Vec<String> {
        self.text(|r| fmt(r.latest.map(|m| f(&m)), precision))
    }

    fn latest(&self, f: fn(&Metrics) -> String) -> Vec<String> {
        self.text(|r| r.latest.map_or_else(|| fmt(None, 3), |m| f(&m)))
    }

    /// Which run a row is: spec, environment, algorithm, dataset, seed.
    fn identity(&mut self) {
        let app = self.app;
        // At most 24 wide, so a 150-column screen holds it beside `J ± se`.
        let spec = self.text(|r| shorten_middle(&sanitize(&r.config.spec), 24));
        self.add(("spec", Some(SortKey::Spec), 5), spec, None);
        // Several environments: the column that tells their rows apart stays
        // (narrowed by `fit` if need be); one environment: the first to go.
        let env = self.text(|r| sanitize(&crate::mdp::envs::label(&r.config.env)));
        let optional = if app.runs.facts.several_envs() { 0 } else { 3 };
        self.add(("env", Some(SortKey::Env), optional), env, None);
        let algo = self.text(|r| {
            let marked = if app.marked().contains(&r.id) {
                "● "
            } else {
                ""
            };
            format!(
                "{marked}{}",
                sanitize(&app.labels(&r.config).algo(&r.config))
            )
        });
        self.add(("algo", Some(SortKey::Algo), 0), algo, None);
        let dataset = self.text(|r| sanitize(&app.labels(&r.config).data(&r.config)));
        self.add(("dataset", Some(SortKey::Dataset), 0), dataset, None);
        let seed = self.text(|r| r.config.seed.to_string());
        self.add(("seed", Some(SortKey::Seed), 0), seed, None);
    }

    /// Where a run is: status, progress, and while some run trains, its
    /// speed and time left.
    fn progress(&mut self) {
        let any_running = self.app.runs.facts.running > 0;
        let status = self.text(|r| {
            // `*`: trained by another process.
            let elsewhere = if r.owned_here || r.status.is_final() {
                ""
            } else {
                "*"
            };
            format!("{}{elsewhere}", r.status)
        });
        let styles = self
            .runs
            .iter()
            .map(|r| status_style(self.app, r.status))
            .collect();
        self.add(("status", Some(SortKey::Status), 0), status, Some(styles));
        let bars = self.text(|r| format!("{} {:>3.0}%", bar(progress(r), 5), progress(r) * 100.0));
        // A column of finished bars says nothing the status does not.
        let optional = if any_running { 0 } else { 2 };
        self.add(("progress", Some(SortKey::Progress), optional), bars, None);
        if !any_running {
            return;
        }
        let running = |r: &RunView, f: &dyn Fn(&RunView) -> String| {
            if r.status == RunStatus::Running {
                f(r)
            } else {
                "-".into()
            }
        };
        let speed = self.text(|r| running(r, &|r| fmt(Some(r.progress.it_per_sec), 0)));
        self.add(("it/s", None, 2), speed, None);
        let left = self.text(|r| running(r, &|r| eta(r.progress.eta_seconds)));
        self.add(("ETA", None, 2), left, None);
    }

    /// What a run has learned, at its latest eval: J, R, q_est, gap, score.
    fn metrics(&mut self) {
        let se = |r: &RunView, f: fn(&Metrics) -> f64| r.latest.map_or(f64::NAN, |m| f(&m));
        let j = self.text(|r| {
            let j = fmt(r.latest.map(|m| m.true_return), 3);
            scores::plus_se(j, se(r, |m| m.true_return_se), 3)
        });
        self.add(("J", Some(SortKey::Return), 0), j, None);
        let r = self.metric(|m| m.episode_return, 3);
        self.add(("R", Some(SortKey::EpisodeReturn), 1), r, None);
        let q = self.latest(|m| estimate(m.q_est));
        self.add(("q_est", Some(SortKey::QEst), 0), q, None);
        let g = self.latest(gap);
        self.add(("gap", Some(SortKey::Gap), 1), g, None);
        let score = self.text(|r| {
            let score = scores::score_text(r.latest.map(|m| m.normalized_score), 1);
            scores::plus_se(score, se(r, |m| m.normalized_score_se), 1)
        });
        self.add(("score", Some(SortKey::Score), 0), score, None);
    }
}

/// The columns' width with their spacing.
fn total_width(columns: &[Column]) -> usize {
    columns.iter().map(|c| c.width + 1).sum()
}

/// The columns that fit in `room`: optional ones dropped, most optional
/// first, until the rest fits (the algo column takes what is left, so its
/// labels show whole); still too wide, the environment's names without
/// their version, shortened in the middle (`Clif…pery`, `Froz…8x8`).
fn fit<'a>(mut columns: Vec<Column<'a>>, runs: &[&RunView], room: usize) -> Vec<Column<'a>> {
    for level in (1..=5).rev() {
        if total_width(&columns) <= room {
            break;
        }
        columns.retain(|c| c.optional != level);
    }
    let over = total_width(&columns).saturating_sub(room);
    if let Some(env) = columns.iter_mut().find(|c| c.name == "env" && over > 0) {
        let width = env.width.saturating_sub(over).max(ENV_MIN_WIDTH);
        env.cells = runs
            .iter()
            .map(|r| {
                let label = crate::mdp::envs::label(&r.config.env);
                let name = sanitize(crate::mdp::envs::unversioned(&label));
                Cell::from(shorten_middle(&name, width))
            })
            .collect();
        env.width = width;
    }
    columns
}

/// The window's rows from the columns' cells; grouped by spec, a blank
/// line closes each spec's rows.
fn table_rows<'a>(
    app: &App,
    first: usize,
    runs: &[&RunView],
    columns: Vec<Column<'a>>,
) -> Vec<Row<'a>> {
    let mut cells: Vec<std::vec::IntoIter<Cell>> =
        columns.into_iter().map(|c| c.cells.into_iter()).collect();
    let ends_group = |i: usize| {
        app.runs.order().group_by_spec
            && app
                .runs
                .row(app.store(), first + i + 1)
                .is_some_and(|n| n.config.spec != runs[i].config.spec)
    };
    (0..runs.len())
        .map(|i| {
            Row::new(
                cells
                    .iter_mut()
                    .filter_map(Iterator::next)
                    .collect::<Vec<_>>(),
            )
            .bottom_margin(u16::from(ends_group(i)))
        })
        .collect()
}

/// The title: rows shown of all, the filter, the grouping, and which
/// return is which where there is room.
fn title(app: &App, shown: &[&str], width: usize) -> String {
    let filter = app.filter();
    let mut title = format!(
        " runs {}/{}{}{} ",
        app.runs.row_count(),
        app.store().runs.len(),
        if filter.is_empty() {
            String::new()
        } else {
            format!(" filter \"{}\"", sanitize(filter))
        },
        if app.runs.order().group_by_spec {
            " · by spec"
        } else {
            ""
        }
    );
    let has = |name| shown.contains(&name);
    let returns = match (has("J"), has("R")) {
        (true, true) => "· J discounted (Q's target), R episode return, score D4RL's of R ",
        (true, false) => "· J discounted return (Q's target), score D4RL's ",
        _ => "",
    };
    let covered = if has("gap") && app.runs.facts.covered_gap > 0 {
        format!("· gap{COVERED_MARK} on the start states in the data ")
    } else {
        String::new()
    };
    for legend in [returns, &covered] {
        if title.chars().count() + legend.chars().count() + 2 <= width {
            title.push_str(legend);
        }
    }
    title
}

/// The narrowest the environment column gets.
const ENV_MIN_WIDTH: usize = 9;

/// ▲ or ▼ on the column the table is sorted by.
fn sort_mark(key: Option<SortKey>, app: &App) -> &'static str {
    let order = app.runs.order();
    match key {
        Some(k) if k == order.sort && order.descending => "▼",
        Some(k) if k == order.sort => "▲",
        _ => "",
    }
}

fn name_width(name: &str, key: Option<SortKey>, app: &App) -> usize {
    name.len() + sort_mark(key, app).chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows taken out and put in, a few at a time, are the rows a sort
    /// of what is left would give.
    #[test]
    fn rows_taken_out_and_put_in_stay_sorted() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let cmp = |a: usize, b: usize| (a % 7, a).cmp(&(b % 7, b));
        let mut list: Vec<usize> = (0..40).step_by(3).collect();
        list.sort_by(|&a, &b| cmp(a, b));
        for _ in 0..200 {
            let mut at: Vec<usize> = (0..list.len()).filter(|_| rng.random_bool(0.2)).collect();
            at.reverse();
            let mut expected: Vec<usize> = list.clone();
            for &p in &at {
                expected.remove(p);
            }
            remove_at(&mut list, at);
            assert_eq!(list, expected);
            let mut new: Vec<usize> = (0..60)
                .filter(|i| !list.contains(i) && rng.random_bool(0.1))
                .collect();
            new.sort_by(|&a, &b| cmp(a, b));
            insert_sorted(&mut list, &new, cmp);
            expected.extend(new);
            expected.sort_by(|&a, &b| cmp(a, b));
            assert_eq!(list, expected);
        }
    }

    #[test]
    fn the_gap_cell_marks_the_covered_gap_and_only_it() {
        let old = Metrics {
            q_est: 3.0,
            gap: 2.5,
            ..Default::default()
        };
        assert_eq!(gap(&old), "2.500");
        let partial = Metrics {
            start_coverage: 0.6,
            q_est_covered: 1.0,
            true_return_covered: 0.75,
            ..old
        };
        assert_eq!(gap(&partial), "0.250ᶜ");
        let full = Metrics {
            start_coverage: 1.0,
            ..partial
        };
        assert_eq!(gap(&full), "2.500");
        let none = Metrics {
            start_coverage: 0.0,
            q_est_covered: f64::NAN,
            true_return_covered: f64::NAN,
            ..old
        };
        assert_eq!(gap(&none), "–ᶜ");
        let diverged = Metrics {
            q_est_covered: f64::INFINITY,
            ..partial
        };
        assert_eq!(gap(&diverged), "diverged");
    }
}
