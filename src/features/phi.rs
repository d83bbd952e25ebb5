//! [`Phi`]: φ(s,a) as the linear learners read it, row s·|A| + a, in one
//! of two layouts:
//! - every pair of a tabular environment, dense (small: at most
//!   [`super::MAX_ENTRIES`] entries), with the runs of each row's nonzeros;
//! - the sample states of a dataset of observations
//!   ([`crate::data::samples`]): each state's ψ(s) computed once and kept
//!   by its nonzeros ([`StateFeatures`]), the action applied on the fly
//!   (blocks or shared, as [`super::FeatureSpec`]'s `actions`). A million
//!   states × 3 actions as dense rows of 1536 features would be 37 GB; as
//!   8 tile indices a state they are 32 MB, and Φθ, Φᵀy and the Gram
//!   matrix cost O(nonzeros), not O(rows × features).

use super::Actions;
use ndarray::{Array2, ArrayView1, ArrayView2};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// φ(s,a) for every pair, row s·|A| + a (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct Phi {
    n_actions: usize,
    rows: Rows,
}

#[derive(Debug, Clone, PartialEq)]
enum Rows {
    /// Every row dense, and the same rows by their nonzeros for the
    /// learners' per-iteration products: a one-hot row is one run of one
    /// column, a tile-coded row one run per tiling, a row of an action
    /// block covers one block.
    Pairs { matrix: Array2<f64>, runs: Runs },
    /// Each state's ψ(s); the row of (s, a) is never stored.
    States {
        psi: StateFeatures,
        actions: Actions,
    },
}

/// ψ(s) of many states, by their nonzeros: what a dataset of observations
/// needs computed once.
#[derive(Debug, Clone, PartialEq)]
pub struct StateFeatures {
    /// Features per state: the columns ψ spans.
    width: usize,
    entries: Entries,
}

#[derive(Debug, Clone, PartialEq)]
enum Entries {
    /// Binary features, `k` ones a state at `columns[s·k..(s + 1)·k]`
    /// (tile coding: one tile per tiling; a hashed collision repeats a
    /// column, which then counts twice, as in [`super::TileCoder::dense`]).
    Ones { k: usize, columns: Vec<u32> },
    /// Every column's value, ψ(s) = `values[s·width..(s + 1)·width]`
    /// (RBF, polynomial and Fourier features are nonzero almost everywhere).
    Dense { values: Vec<f64> },
}

impl StateFeatures {
    /// Binary features: `k` active columns a state (of `width`), row after row.
    pub(super) fn ones(width: usize, k: usize, columns: Vec<u32>) -> Self {
        assert!(
            k > 0 && columns.len().is_multiple_of(k),
            "k columns a state"
        );
        assert!(
            columns.iter().all(|&c| (c as usize) < width),
            "columns < width"
        );
        StateFeatures {
            width,
            entries: Entries::Ones { k, columns },
        }
    }

    /// Dense features: states × width.
    pub(super) fn dense(psi: Array2<f64>) -> Self {
        let width = psi.ncols();
        StateFeatures {
            width,
            entries: Entries::Dense {
                // Row after row: ndarray iterates in logical order.
                values: psi.into_iter().collect(),
            },
        }
    }

    pub fn n_states(&self) -> usize {
        match &self.entries {
            Entries::Ones { k, columns } => columns.len() / k,
            Entries::Dense { values } => values.len() / self.width.max(1),
        }
    }

    /// Features per state.
    pub fn width(&self) -> usize {
        self.width
    }

    /// State s's entries: (its columns, its values); one of them is empty
    /// (binary features have no values, dense ones no columns).
    fn entries(&self, s: usize) -> (&[u32], &[f64]) {
        match &self.entries {
            Entries::Ones { k, columns } => (&columns[s * k..(s + 1) * k], &[]),
            Entries::Dense { values } => (&[], &values[s * self.width..(s + 1) * self.width]),
        }
    }

    /// The distinct rows of ψ, bit for bit, in order of first sight: each
    /// state's distinct row, and the features of those rows.
    fn distinct(&self) -> (Vec<u32>, StateFeatures) {
        let mut seen: HashMap<(&[u32], Bits<'_>), u32> = HashMap::new();
        let mut first = Vec::new();
        let of_state = (0..self.n_states())
            .map(|s| {
                let (columns, values) = self.entries(s);
                *seen.entry((columns, Bits(values))).or_insert_with(|| {
                    first.push(s);
                    (first.len() - 1) as u32
                })
            })
            .collect();
        let features = StateFeatures {
            width: self.width,
            entries: match &self.entries {
                Entries::Ones { k, .. } => Entries::Ones {
                    k: *k,
                    columns: first
                        .iter()
                        .flat_map(|&s| self.entries(s).0)
                        .copied()
                        .collect(),
                },
                Entries::Dense { .. } => Entries::Dense {
                    values: first
                        .iter()
                        .flat_map(|&s| self.entries(s).1)
                        .copied()
                        .collect(),
                },
            },
        };
        (of_state, features)
    }

    /// ψ(s)ᵀθ, θ the state's block (at least `width` long).
    #[inline]
    fn dot(&self, s: usize, theta: &[f64]) -> f64 {
        let (columns, values) = self.entries(s);
        row_dot(columns, values, theta)
    }

    /// `out` += y ψ(s), `out` the state's block.
    #[inline]
    fn add_scaled(&self, s: usize, y: f64, out: &mut [f64]) {
        match &self.entries {
            Entries::Ones { k, columns } => {
                for &c in &columns[s * k..(s + 1) * k] {
                    out[c as usize] += y;
                }
            }
            Entries::Dense { values } => {
                let x = &values[s * self.width..(s + 1) * self.width];
                for (o, x) in out.iter_mut().zip(x) {
                    *o += y * x;
                }
            }
        }
    }

    /// Calls `f(column, value)` for each of ψ(s)'s entries, columns in
    /// increasing order for dense features.
    #[inline]
    fn each(&self, s: usize, mut f: impl FnMut(usize, f64)) {
        match &self.entries {
            Entries::Ones { k, columns } => {
                for &c in &columns[s * k..(s + 1) * k] {
                    f(c as usize, 1.0);
                }
            }
            Entries::Dense { values } => {
                let x = &values[s * self.width..(s + 1) * self.width];
                for (c, &x) in x.iter().enumerate().filter(|(_, x)| **x != 0.0) {
                    f(c, x);
                }
            }
        }
    }
}

/// ψᵀθ of one state's entries (binary columns, or dense values; the
/// other empty), θ its block.
#[inline]
fn row_dot(columns: &[u32], values: &[f64], theta: &[f64]) -> f64 {
    if columns.is_empty() {
        dot(values, theta)
    } else {
        columns.iter().map(|&c| theta[c as usize]).sum()
    }
}

/// One observation's ψ, as [`StateFeatures`] keeps a state's: binary
/// columns or dense values (the other empty). Reused from step to step,
/// so a Monte-Carlo rollout allocates nothing once its buffers have grown
/// ([`crate::features::ObservationFeatures::psi_into`]).
#[derive(Debug, Clone, Default)]
pub struct PsiRow {
    pub(super) columns: Vec<u32>,
    pub(super) values: Vec<f64>,
    /// The scaled observation, the coordinates the kinds read.
    pub(super) coords: Vec<f64>,
}

impl PsiRow {
    /// ψ(o)ᵀw, w one weight per state feature.
    #[inline]
    pub fn dot(&self, w: &[f64]) -> f64 {
        row_dot(&self.columns, &self.values, w)
    }

    /// ψ(o)ᵀMψ(o), M one row and column per state feature.
    pub fn quadratic(&self, m: ArrayView2<f64>) -> f64 {
        row_quadratic(&self.columns, &self.values, m)
    }
}

/// Σ w x xᵀ over the weighted `rows` (r, w), d × d, each row x's nonzeros
/// (column, value) pushed by `entries_of(r, out)`: O(nonzeros²) a row,
/// each cell summed in the rows' order; only its upper triangle (j ≥ i,
/// the rest left 0) where `upper`. Every ordered pair of entries is
/// added, so a repeated column (a hashed tile collision) gives its
/// square, as its dense row would.
fn weighted_gram(
    d: usize,
    rows: &[(usize, f64)],
    upper: bool,
    entries_of: impl Fn(usize, &mut Vec<(usize, f64)>),
) -> Array2<f64> {
    let mut gram = Array2::<f64>::zeros((d, d));
    let g = gram.as_slice_mut().expect("a fresh matrix");
    let mut entries = Vec::new();
    for &(row, w) in rows {
        entries.clear();
        entries_of(row, &mut entries);
        for &(i, xi) in &entries {
            let wx = w * xi;
            for &(j, xj) in &entries {
                if !upper || j >= i {
                    g[i * d + j] += wx * xj;
                }
            }
        }
    }
    gram
}

/// ψᵀMψ of one state's entries (as [`row_dot`]): O(k²) for k binary
/// columns (a repeated column counts twice, as its dense value 2 would),
/// O(width²) for dense values.
#[inline]
fn row_quadratic(columns: &[u32], values: &[f64], m: ArrayView2<f64>) -> f64 {
    if columns.is_empty() {
        values
            .iter()
            .zip(m.rows())
            .filter(|(x, _)| **x != 0.0)
            .map(|(x, row)| x * dot(values, row.as_slice().expect("a standard layout matrix")))
            .sum()
    } else {
        columns
            .iter()
            .map(|&i| {
                columns
                    .iter()
                    .map(|&j| m[[i as usize, j as usize]])
                    .sum::<f64>()
            })
            .sum()
    }
}

/// Which state of a [`Phi`] of sample states has given features: a
/// hash of each state's entries (bit for bit) to the state, checked
/// against the state's own entries on a hit, so a lookup is one hash and
/// one comparison ([`Phi::state_of`]).
#[derive(Debug, Clone)]
pub struct StateIndex {
    hasher: std::hash::RandomState,
    first: HashMap<u64, u32>,
}

impl StateIndex {
    fn key(&self, columns: &[u32], values: &[f64]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((columns, Bits(values)))
    }
}

/// Values compared and hashed bit for bit.
#[derive(Debug, Clone, Copy)]
struct Bits<'a>(&'a [f64]);

impl PartialEq for Bits<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for Bits<'_> {}

impl Hash for Bits<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for x in self.0 {
            x.to_bits().hash(state);
        }
    }
}

/// A matrix's nonzeros as runs of consecutive columns, row after row:
/// Φθ and Φᵀy cost O(nonzeros), and a dense stretch stays a contiguous
/// dot product.
#[derive(Debug, Clone, PartialEq)]
struct Runs {
    /// Row r's runs are `spans[row_start[r]..row_start[r + 1]]`.
    row_start: Vec<usize>,
    spans: Vec<Run>,
    /// Every run's values, in order.
    values: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    /// Its first column.
    column: u32,
    /// Its values are `values[start..start + len]`.
    start: u32,
    len: u32,
}

impl Runs {
    fn new(matrix: ArrayView2<f64>) -> Self {
        let (mut row_start, mut runs, mut values) = (vec![0], Vec::<Run>::new(), Vec::new());
        // u32 offsets: φ holds at most MAX_ENTRIES entries.
        let index = |i: usize| u32::try_from(i).expect("φ's entries fit u32");
        for row in matrix.rows() {
            let first = runs.len();
            for (j, &x) in row.iter().enumerate().filter(|(_, x)| **x != 0.0) {
                match runs[first..].last_mut() {
                    Some(run) if (run.column + run.len) as usize == j => run.len += 1,
                    _ => runs.push(Run {
                        column: index(j),
                        start: index(values.len()),
                        len: 1,
                    }),
                }
                values.push(x);
            }
            row_start.push(runs.len());
        }
        Runs {
            row_start,
            spans: runs,
            values,
        }
    }

    /// Row `row`'s runs: (first column, values).
    #[inline]
    fn row(&self, row: usize) -> impl Iterator<Item = (usize, &[f64])> {
        self.spans[self.row_start[row]..self.row_start[row + 1]]
            .iter()
            .map(|run| {
                let start = run.start as usize;
                (
                    run.column as usize,
                    &self.values[start..start + run.len as usize],
                )
            })
    }
}

/// Σ x_i y_i with four running sums, so a long run is not one chain of
/// dependent additions.
#[inline]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let (xs, x_rest) = x.as_chunks::<4>();
    let (ys, y_rest) = y[..x.len()].as_chunks::<4>();
    let mut sums = [0.0; 4];
    for (a, b) in xs.iter().zip(ys) {
        for k in 0..4 {
            sums[k] += a[k] * b[k];
        }
    }
    let rest: f64 = x_rest.iter().zip(y_rest).map(|(a, b)| a * b).sum();
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + rest
}

impl Phi {
    /// Every pair's row s·|A| + a of a tabular environment, dense.
    pub fn new(matrix: Array2<f64>, n_actions: usize) -> Self {
        // Row-major, so learners read a pair's features as one slice.
        let matrix = if matrix.is_standard_layout() {
            matrix
        } else {
            matrix.as_standard_layout().into_owned()
        };
        let runs = Runs::new(matrix.view());
        Phi {
            n_actions,
            rows: Rows::Pairs { matrix, runs },
        }
    }

    /// The pairs of states with features `psi`, the action applied as
    /// `actions` says (φ(s,a) = e_a ⊗ ψ(s), or [ψ(s); e_a]).
    pub(super) fn of_states(psi: StateFeatures, n_actions: usize, actions: Actions) -> Self {
        Phi {
            n_actions,
            rows: Rows::States { psi, actions },
        }
    }

    /// φ with states of equal features merged: each state's merged state
    /// (in order of first sight) and φ of the merged states. A dense φ of
    /// a tabular environment's pairs is kept as it is.
    pub fn merge_equal_states(self) -> (Vec<u32>, Phi) {
        match self.rows {
            Rows::States { psi, actions } => {
                let (of_state, psi) = psi.distinct();
                (of_state, Phi::of_states(psi, self.n_actions, actions))
            }
            Rows::Pairs { .. } => ((0..self.n_states() as u32).collect(), self),
        }
    }

    /// The dense features of row s·|A| + a, contiguous: for learners of a
    /// tabular environment only (the online baseline), whose φ has them.
    pub fn row(&self, row: usize) -> &[f64] {
        let d = self.dim();
        let Rows::Pairs { matrix, .. } = &self.rows else {
            panic!("φ of sample states keeps no dense rows");
        };
        let all = matrix.as_slice().expect("a standard layout matrix");
        &all[row * d..(row + 1) * d]
    }

    /// The column where row s·|A| + a's copy of ψ(s) starts, and the
    /// shared layout's action column: (state, offset, bias column).
    #[inline]
    fn split(&self, row: usize, width: usize, actions: Actions) -> (usize, usize, Option<usize>) {
        let (s, a) = (row / self.n_actions, row % self.n_actions);
        match actions {
            Actions::Blocks => (s, a * width, None),
            Actions::Shared => (s, 0, Some(width + a)),
        }
    }

    /// θᵀφ of row s·|A| + a, over the row's nonzeros.
    #[inline]
    pub fn dot(&self, row: usize, theta: &[f64]) -> f64 {
        match &self.rows {
            Rows::Pairs { runs, .. } => runs
                .row(row)
                .map(|(column, x)| dot(x, &theta[column..]))
                .sum(),
            Rows::States { psi, actions } => {
                let (s, offset, bias) = self.split(row, psi.width, *actions);
                psi.dot(s, &theta[offset..]) + bias.map_or(0.0, |b| theta[b])
            }
        }
    }

    /// `out` += y φ(row), over the row's nonzeros.
    #[inline]
    pub fn add_scaled(&self, row: usize, y: f64, out: &mut [f64]) {
        match &self.rows {
            Rows::Pairs { runs, .. } => {
                for (column, x) in runs.row(row) {
                    for (o, x) in out[column..column + x.len()].iter_mut().zip(x) {
                        *o += y * x;
                    }
                }
            }
            Rows::States { psi, actions } => {
                let (s, offset, bias) = self.split(row, psi.width, *actions);
                psi.add_scaled(s, y, &mut out[offset..]);
                if let Some(b) = bias {
                    out[b] += y;
                }
            }
        }
    }

    /// Calls `f(column, value)` for each nonzero of row s·|A| + a.
    #[inline]
    fn each(&self, row: usize, mut f: impl FnMut(usize, f64)) {
        match &self.rows {
            Rows::Pairs { runs, .. } => {
                for (column, x) in runs.row(row) {
                    for (j, &x) in x.iter().enumerate() {
                        f(column + j, x);
                    }
                }
            }
            Rows::States { psi, actions } => {
                let (s, offset, bias) = self.split(row, psi.width, *actions);
                psi.each(s, |c, x| f(offset + c, x));
                if let Some(b) = bias {
                    f(b, 1.0);
                }
            }
        }
    }

    /// The upper triangle of the Gram matrix Σ w φ(row) φ(row)ᵀ over the
    /// weighted rows (the lower triangle left 0): O(nonzeros²) a row.
    /// Each cell sums the rows in the order given.
    pub fn gram_upper(&self, rows: &[(usize, f64)]) -> Array2<f64> {
        weighted_gram(self.dim(), rows, true, |row, out| {
            self.each(row, |c, x| out.push((c, x)));
        })
    }

    /// Features per pair.
    pub fn dim(&self) -> usize {
        match &self.rows {
            Rows::Pairs { matrix, .. } => matrix.ncols(),
            Rows::States {
                psi,
                actions: Actions::Blocks,
            } => psi.width * self.n_actions,
            Rows::States {
                psi,
                actions: Actions::Shared,
            } => psi.width + self.n_actions,
        }
    }

    pub fn n_states(&self) -> usize {
        match &self.rows {
            Rows::Pairs { matrix, .. } => matrix.nrows() / self.n_actions,
            Rows::States { psi, .. } => psi.n_states(),
        }
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    /// The index of the states by their features ([`Phi::state_of`]);
    /// `None` for a tabular environment's dense pairs.
    pub fn state_index(&self) -> Option<StateIndex> {
        let Rows::States { psi, .. } = &self.rows else {
            return None;
        };
        let mut index = StateIndex {
            hasher: std::hash::RandomState::new(),
            first: HashMap::with_capacity(psi.n_states()),
        };
        for s in 0..psi.n_states() {
            let (columns, values) = psi.entries(s);
            let key = index.key(columns, values);
            index.first.entry(key).or_insert(s as u32);
        }
        Some(index)
    }

    /// The state whose features are `row`'s, bit for bit, if there is one.
    /// (Two states of equal 64-bit hashes keep the first: the other's
    /// observations are then read off θ, with probability about
    /// states² / 2⁶⁵.)
    #[inline]
    pub fn state_of(&self, index: &StateIndex, row: &PsiRow) -> Option<usize> {
        let Rows::States { psi, .. } = &self.rows else {
            return None;
        };
        let s = *index.first.get(&index.key(&row.columns, &row.values))? as usize;
        let (columns, values) = psi.entries(s);
        (columns == row.columns.as_slice() && Bits(values) == Bits(&row.values)).then_some(s)
    }

    /// Q(o, ·) = φ(o, ·)ᵀθ of an observation's features `row` into `out`
    /// (one per action), as [`Phi::q_into`] computes a state's.
    #[inline]
    pub fn q_of_row(&self, row: &PsiRow, theta: &[f64], out: &mut [f64]) {
        let Rows::States { psi, actions } = &self.rows else {
            panic!("φ of a table's pairs has no observation rows");
        };
        let (w, columns, values) = (psi.width, &row.columns, &row.values);
        for (a, q) in out[..self.n_actions].iter_mut().enumerate() {
            *q = match actions {
                Actions::Blocks => row_dot(columns, values, &theta[a * w..(a + 1) * w]),
                Actions::Shared => row_dot(columns, values, theta) + theta[w + a],
            };
        }
    }

    /// Features per state, ψ's width, for φ of sample states; `None` for
    /// a tabular environment's dense pairs.
    pub fn state_width(&self) -> Option<usize> {
        match &self.rows {
            Rows::States { psi, .. } => Some(psi.width),
            Rows::Pairs { .. } => None,
        }
    }

    /// Whether every sample state has a single binary feature of its own:
    /// ψ is then the one-hot code of a partition (tile coding with one
    /// tiling, a grid's cells), and a state is a cell.
    pub fn is_partition(&self) -> bool {
        matches!(
            &self.rows,
            Rows::States {
                psi: StateFeatures {
                    entries: Entries::Ones { k: 1, .. },
                    ..
                },
                ..
            }
        )
    }

    /// ψ of the sample states: what the `psi_*` accessors read (φ of
    /// sample states only; a table's pairs keep no ψ).
    fn psi(&self) -> &StateFeatures {
        let Rows::States { psi, .. } = &self.rows else {
            panic!("φ of a table's pairs keeps no ψ");
        };
        psi
    }

    /// `out` += ψ(s), `out` one entry per state feature (φ of sample
    /// states only).
    pub fn add_psi(&self, s: usize, out: &mut [f64]) {
        self.psi().add_scaled(s, 1.0, out);
    }

    /// Calls `f(column, value)` for each of ψ(s)'s nonzeros (φ of sample
    /// states only): what a fit over many states reads in O(nonzeros).
    pub fn psi_each(&self, s: usize, f: impl FnMut(usize, f64)) {
        self.psi().each(s, f);
    }

    /// ψ(s)ᵀMψ(s), M one row and column per state feature (φ of sample
    /// states only).
    pub fn psi_quadratic(&self, s: usize, m: ArrayView2<f64>) -> f64 {
        let (columns, values) = self.psi().entries(s);
        row_quadratic(columns, values, m)
    }

    /// Σ w ψ(s)ψ(s)ᵀ over the weighted states (s, w), width × width: each
    /// row O(nonzeros²) (φ of sample states only).
    pub fn psi_gram(&self, states: &[(usize, f64)]) -> Array2<f64> {
        let psi = self.psi();
        weighted_gram(psi.width, states, false, |s, out| {
            psi.each(s, |c, x| out.push((c, x)));
        })
    }

    /// ψ(s)ᵀw, w one weight per state feature (φ of sample states only).
    pub fn psi_dot(&self, s: usize, w: &[f64]) -> f64 {
        self.psi().dot(s, w)
    }

    /// Every pair's dense features, row s·|A| + a, when φ keeps them (a
    /// tabular environment's); `None` for sample states.
    pub fn matrix(&self) -> Option<ArrayView2<'_, f64>> {
        match &self.rows {
            Rows::Pairs { matrix, .. } => Some(matrix.view()),
            Rows::States { .. } => None,
        }
    }

    /// The Q table θᵀφ(s,a): states × actions.
    pub fn q(&self, theta: ArrayView1<f64>) -> Array2<f64> {
        let mut q = Array2::zeros((self.n_states(), self.n_actions));
        self.q_into(
            theta.as_standard_layout().as_slice().expect("contiguous"),
            q.as_slice_mut().expect("a fresh table"),
        );
        q
    }

    /// [`Phi::q`] into `out`, row-major (at least states × actions long).
    pub fn q_into(&self, theta: &[f64], out: &mut [f64]) {
        assert_eq!(theta.len(), self.dim(), "one weight per feature");
        let rows = self.n_states() * self.n_actions;
        let Rows::States { psi, actions } = &self.rows else {
            for (row, q) in out[..rows].iter_mut().enumerate() {
                *q = self.dot(row, theta);
            }
            return;
        };
        // SPEED: state by state, each state's entries read once for all
        // its actions; the same sums as [`Phi::dot`]'s.
        let w = psi.width;
        for (s, q) in out[..rows].chunks_exact_mut(self.n_actions).enumerate() {
            for (a, q) in q.iter_mut().enumerate() {
                *q = match actions {
                    Actions::Blocks => psi.dot(s, &theta[a * w..(a + 1) * w]),
                    Actions::Shared => psi.dot(s, theta) + theta[w + a],
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// States of equal features, binary or dense, merge in order of
    /// first sight; different ones stay apart.
    #[test]
    fn equal_states_merge() {
        let ones = StateFeatures::ones(4, 2, vec![0, 1, 2, 3, 0, 1, 0, 2]);
        let phi = Phi::of_states(ones, 2, Actions::Blocks);
        let (of_state, merged) = phi.merge_equal_states();
        assert_eq!(of_state, [0, 1, 0, 2]);
        assert_eq!(merged.n_states(), 3);
        let theta: Vec<f64> = (0..8).map(f64::from).collect();
        assert_eq!(merged.dot(2 * 2 + 1, &theta), 4.0 + 6.0);
        let dense = StateFeatures::dense(ndarray::array![[1.0, 0.0], [1.0, -0.0], [1.0, 0.0]]);
        let (of_state, merged) = Phi::of_states(dense, 1, Actions::Shared).merge_equal_states();
        assert_eq!(of_state, [0, 1, 0]);
        assert_eq!(merged.dim(), 3);
    }

    proptest! {
        /// Φθ and Φᵀy over the runs of nonzeros are the dense products,
        /// exactly (small integers): rows with zeros anywhere, runs of every
        /// length, empty rows.
        #[test]
        fn products_over_the_nonzeros_are_the_dense_ones(
            (states, d, cells) in (1usize..5, 1usize..10).prop_flat_map(|(states, d)| {
                let cell = prop_oneof![3 => Just(0i8), 2 => -3i8..=3];
                (Just(states), Just(d), prop::collection::vec(cell, states * 2 * d))
            })
        ) {
            let m = Array2::from_shape_fn((states * 2, d), |(i, j)| f64::from(cells[i * d + j]));
            let phi = Phi::new(m.clone(), 2);
            let theta = ndarray::Array1::from_iter((0..d).map(|j| j as f64 - 3.0));
            let q = phi.q(theta.view());
            prop_assert_eq!(q.into_shape_with_order(states * 2).unwrap(), m.dot(&theta));
            let y = ndarray::Array1::from_iter((0..states * 2).map(|i| 2.0 - i as f64));
            let mut sum = vec![0.0; d];
            for (row, &y) in y.iter().enumerate() {
                phi.add_scaled(row, y, &mut sum);
            }
            prop_assert_eq!(ndarray::Array1::from(sum), m.t().dot(&y));
        }

        /// Sample states' φ, binary or dense, in blocks or shared, gives
        /// the products and the Gram matrix of its dense rows (small
        /// integers: exact), repeated binary columns included.
        #[test]
        fn sample_states_are_their_dense_rows(
            (states, width, columns, values, shared) in (1usize..5, 1usize..6)
                .prop_flat_map(|(states, width)| (
                    Just(states),
                    Just(width),
                    prop::collection::vec(0..width as u32, states * 2),
                    prop::collection::vec(-3i8..=3, states * width),
                    any::<bool>(),
                ))
        ) {
            let actions = if shared { Actions::Shared } else { Actions::Blocks };
            let dense_psi = Array2::from_shape_fn((states, width), |(s, c)| {
                f64::from(values[s * width + c])
            });
            let mut ones_psi = Array2::<f64>::zeros((states, width));
            for (i, &c) in columns.iter().enumerate() {
                ones_psi[[i / 2, c as usize]] += 1.0;
            }
            for (sparse, psi) in [
                (StateFeatures::ones(width, 2, columns.clone()), ones_psi),
                (StateFeatures::dense(dense_psi.clone()), dense_psi),
            ] {
                let phi = Phi::of_states(sparse, 3, actions);
                let dense = Phi::new(super::super::per_action(psi.view(), 3, actions), 3);
                prop_assert_eq!(phi.dim(), dense.dim());
                prop_assert_eq!(phi.n_states(), states);
                let theta = ndarray::Array1::from_iter((0..phi.dim()).map(|j| j as f64 - 3.0));
                prop_assert_eq!(phi.q(theta.view()), dense.q(theta.view()));
                let rows: Vec<(usize, f64)> =
                    (0..states * 3).map(|r| (r, (r % 4) as f64)).collect();
                prop_assert_eq!(phi.gram_upper(&rows), dense.gram_upper(&rows));
                let (mut got, mut want) = (vec![0.0; phi.dim()], vec![0.0; phi.dim()]);
                for &(row, y) in &rows {
                    phi.add_scaled(row, y, &mut got);
                    dense.add_scaled(row, y, &mut want);
                }
                prop_assert_eq!(got, want);
            }
        }
    }
}
