//! Where a learner on a continuous environment fools itself: max_a Q over
//! a grid of two observation components, beside the data's density and
//! the policy's visitation on the same grid (a run's `landscape.json`,
//! drawn by the dashboard's run detail).
//!
//! Why the run records it, rather than the dashboard computing it: the
//! density needs the dataset (up to millions of transitions) and the
//! visitation needs rollouts of the learner's policy, which needs the
//! learner's own policy on the data's sample states; the run holds all of
//! it already. So at each eval point the run computes a [`Landscape`] from
//! the θ it was evaluated with and the observations its Monte-Carlo
//! rollouts acted at ([`Visits`], counted while the judge plays them; no
//! metric reads them), and writes the latest one with each checkpoint.
//! The dashboard only reads a small file, and a run that stored none
//! (older runs, tabular runs) simply shows no landscape.
//!
//! The picture, for every pair (x, y) of observation components (1 pair
//! for MountainCar, 6 for CartPole, 15 for Acrobot), on [`GRID`]×[`GRID`]
//! cells:
//! - the grid spans the environment's feature bounds
//!   ([`Description::feature_bounds`]): features are clamped there, so
//!   outside them Q is constant, and fixed axes make two runs' pictures
//!   comparable and show the regions the data never reaches (the data's
//!   own range would crop exactly those away);
//! - `max_q`: max_a φ(o, a)ᵀθ at each cell's centre, the other components
//!   of o fixed at the data's mean ([`Dim::fixed`]): a slice through where
//!   the data is. φ(o,·)ᵀθ is the learner's Q off the data
//!   ([`super::monte_carlo`]); on a sample state it is the same number for
//!   the linear learners;
//! - `data`: how many of the dataset's observations fall in each cell,
//!   projected onto the pair (the other components summed over);
//! - `visits`: the same for the observations the evaluation's rollouts
//!   acted at (start included, each episode's last observation not).
//!
//! Observations outside the bounds count in the edge cells, as the
//! features clamp them. Cell (ix, iy) is entry `iy·GRID + ix`, iy = 0 the
//! low end of y.
//!
//! Size: 15 pairs × 576 cells × 3 numbers, some 200 KB for Acrobot, 15 KB
//! for MountainCar.

use super::json_float;
use crate::env::{Description, Observation};
use crate::error::{Error, Result};
use crate::features::{ObservationFeatures, Phi};
use crate::mdp::solve;
use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

/// Cells per axis.
pub const GRID: usize = 24;

/// The format's version; a reader refuses others.
pub const VERSION: u32 = 1;

/// One observation component's axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dim {
    pub name: String,
    pub low: f64,
    pub high: f64,
    /// Where slices of other pairs hold this component: the data's mean
    /// (the middle of the bounds without data).
    #[serde(with = "json_float")]
    pub fixed: f64,
}

impl Dim {
    /// The cell `x` falls in, clamped to the grid (as features clamp).
    fn bin(&self, x: f64, grid: usize) -> usize {
        let t = (x - self.low) / (self.high - self.low);
        // NaN casts to 0; the edges take everything beyond them.
        ((t * grid as f64) as usize).min(grid - 1)
    }

    /// The centre of cell `i`.
    pub fn centre(&self, i: usize, grid: usize) -> f64 {
        self.low + (self.high - self.low) * (i as f64 + 0.5) / grid as f64
    }
}

/// One pair of components (x < y) and its three grids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    pub x: usize,
    pub y: usize,
    #[serde(with = "json_float::vec")]
    pub max_q: Vec<f64>,
    pub data: Vec<u64>,
    pub visits: Vec<u64>,
}

/// A run's landscape at one eval point (module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Landscape {
    pub version: u32,
    pub env: String,
    /// The eval point's iteration: θ's, and the visitation's.
    pub iteration: u64,
    pub grid: usize,
    pub dims: Vec<Dim>,
    /// Observations in the data and in the rollouts (each slice's counts
    /// sum to these).
    pub data_total: u64,
    pub visits_total: u64,
    pub slices: Vec<Slice>,
}

impl Landscape {
    /// An error naming what does not fit, for a file written by another
    /// version or damaged: the dashboard shows it instead of drawing.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.version != VERSION {
            return Err(format!(
                "landscape version {}, this build reads {VERSION}",
                self.version
            ));
        }
        if !(1..=256).contains(&self.grid) {
            return Err(format!("landscape grid {} is not in 1..=256", self.grid));
        }
        if let Some(d) = self
            .dims
            .iter()
            .find(|d| !(d.low.is_finite() && d.high.is_finite() && d.low < d.high))
        {
            return Err(format!(
                "landscape axis {}: bounds [{}, {}]",
                d.name, d.low, d.high
            ));
        }
        let cells = self.grid * self.grid;
        for (i, s) in self.slices.iter().enumerate() {
            if s.x >= s.y || s.y >= self.dims.len() {
                return Err(format!(
                    "landscape slice {i}: components ({}, {}) of {}",
                    s.x,
                    s.y,
                    self.dims.len()
                ));
            }
            if [s.max_q.len(), s.data.len(), s.visits.len()] != [cells; 3] {
                return Err(format!(
                    "landscape slice {i}: {}, {} and {} cells, expected {cells}",
                    s.max_q.len(),
                    s.data.len(),
                    s.visits.len()
                ));
            }
        }
        Ok(())
    }
}

/// Every pair (x, y), x < y, of `d` components, in order.
pub fn pairs(d: usize) -> Vec<(usize, usize)> {
    (0..d)
        .flat_map(|x| (x + 1..d).map(move |y| (x, y)))
        .collect()
}

/// The axes of `env`'s observations, each fixed at `fixed`.
fn dims(env: &Description, fixed: &[f64]) -> Vec<Dim> {
    env.observation
        .iter()
        .zip(env.feature_bounds)
        .zip(fixed)
        .map(|((&(name, _, _), &(low, high)), &fixed)| Dim {
            name: name.to_string(),
            low,
            high,
            fixed,
        })
        .collect()
}

/// Counts per pair and cell, pair-major: [`pairs`]' order, then the cell;
/// `bins` is a buffer for the observation's cell on each axis.
fn cell_index(
    dims: &[Dim],
    pairs: &[(usize, usize)],
    obs: &[f64],
    bins: &mut Vec<usize>,
    mut each: impl FnMut(usize),
) {
    bins.clear();
    bins.extend(dims.iter().zip(obs).map(|(d, &x)| d.bin(x, GRID)));
    for (p, &(x, y)) in pairs.iter().enumerate() {
        each(p * GRID * GRID + bins[y] * GRID + bins[x]);
    }
}

/// The observations (rows) counted per pair and cell.
fn histogram(dims: &[Dim], pairs: &[(usize, usize)], obs: ArrayView2<f64>) -> Vec<u64> {
    let mut counts = vec![0; pairs.len() * GRID * GRID];
    let (mut row, mut bins) = (Vec::new(), Vec::new());
    for o in obs.rows() {
        row.clear();
        row.extend(o.iter());
        cell_index(dims, pairs, &row, &mut bins, |i| counts[i] += 1);
    }
    counts
}

/// The observations a policy acts at during an evaluation, counted per
/// pair and cell from every thread that plays an episode: each thread
/// counts into its own shard (no cache line shared between cores on
/// every step), and the shards are summed when read, so the counts do not
/// depend on how the episodes were scheduled.
#[derive(Debug)]
pub struct Visits {
    dims: Vec<Dim>,
    pairs: Vec<(usize, usize)>,
    shards: Vec<Shard>,
}

/// One thread's counts, alone on its cache lines: with two threads' locks
/// in one line, counting cost 65 ns a step on MountainCar, apart 35 ns
/// (`cargo bench --bench monte_carlo`, 2 cores at load 6–9).
#[derive(Debug)]
#[repr(align(128))]
struct Shard(Mutex<Vec<u64>>);

thread_local! {
    /// The observation as numbers, and its cell on each axis.
    static BUFFERS: RefCell<(Vec<f64>, Vec<usize>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl Visits {
    fn new(dims: Vec<Dim>) -> Self {
        let pairs = pairs(dims.len());
        let cells = pairs.len() * GRID * GRID;
        let shards = (0..rayon::current_num_threads().max(1))
            .map(|_| Shard(Mutex::new(vec![0; cells])))
            .collect();
        Visits {
            dims,
            pairs,
            shards,
        }
    }

    fn shard(&self, i: usize) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.shards[i % self.shards.len()]
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one observation.
    pub fn record<O: Observation>(&self, obs: &O) {
        BUFFERS.with_borrow_mut(|(row, bins)| {
            row.clear();
            obs.extend(row);
            let mut counts = self.shard(rayon::current_thread_index().unwrap_or(0));
            cell_index(&self.dims, &self.pairs, row, bins, |i| counts[i] += 1);
        });
    }

    /// Forgets every count (before an evaluation).
    pub fn clear(&self) {
        for i in 0..self.shards.len() {
            self.shard(i).fill(0);
        }
    }

    fn counts(&self) -> Vec<u64> {
        let mut total = self.shard(0).clone();
        for i in 1..self.shards.len() {
            for (t, c) in total.iter_mut().zip(self.shard(i).iter()) {
                *t += c;
            }
        }
        total
    }
}

/// What a continuous run needs to draw its landscape at each eval point:
/// the features θ weighs, the data's counts (computed once) and the
/// visits the judge counts ([`crate::eval::MonteCarlo::record_visits`]).
#[derive(Debug)]
pub struct Survey {
    env: &'static Description,
    dims: Vec<Dim>,
    pairs: Vec<(usize, usize)>,
    /// φ of every slice's cell centres, in `pairs`' order: the grid is
    /// fixed, so each eval point only multiplies by its θ.
    slice_phi: Vec<Phi>,
    data: Vec<u64>,
    data_total: u64,
    visits: Arc<Visits>,
}

impl Survey {
    /// For learners with `features` of `env`'s observations, trained on
    /// the observations `obs` (rows).
    pub fn new(
        env: &'static Description,
        features: &ObservationFeatures,
        obs: ArrayView2<f64>,
    ) -> Result<Self> {
        let n = obs.nrows();
        let fixed: Vec<f64> = env
            .feature_bounds
            .iter()
            .enumerate()
            .map(|(c, &(low, high))| {
                if n == 0 {
                    f64::midpoint(low, high)
                } else {
                    obs.column(c).sum() / n as f64
                }
            })
            .collect();
        let dims = dims(env, &fixed);
        let pairs = pairs(dims.len());
        let data = histogram(&dims, &pairs, obs);
        let slice_phi = pairs
            .iter()
            .map(|&(x, y)| features.phi(slice_points(&dims, x, y).view()))
            .collect::<Result<_>>()?;
        Ok(Survey {
            env,
            visits: Arc::new(Visits::new(dims.clone())),
            dims,
            pairs,
            slice_phi,
            data,
            data_total: n as u64,
        })
    }

    /// The counter the judge fills while it plays.
    pub fn visits(&self) -> Arc<Visits> {
        self.visits.clone()
    }

    /// The landscape of weights `theta` at `iteration`, with the visits
    /// of the evaluation just played.
    pub fn landscape(&self, iteration: u64, theta: ArrayView1<f64>) -> Result<Landscape> {
        let cells = GRID * GRID;
        let visits = self.visits.counts();
        let visits_total = visits[..cells.min(visits.len())].iter().sum();
        let slices = self
            .pairs
            .iter()
            .zip(&self.slice_phi)
            .enumerate()
            .map(|(p, (&(x, y), phi))| {
                let part = p * cells..(p + 1) * cells;
                Ok(Slice {
                    x,
                    y,
                    max_q: self.max_q(phi, theta)?,
                    data: self.data[part.clone()].to_vec(),
                    visits: visits[part].to_vec(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Landscape {
            version: VERSION,
            env: self.env.id.to_string(),
            iteration,
            grid: GRID,
            dims: self.dims.clone(),
            data_total: self.data_total,
            visits_total,
            slices,
        })
    }

    /// max_a φ(o, a)ᵀθ at every cell centre of a slice, from its `phi`.
    fn max_q(&self, phi: &Phi, theta: ArrayView1<f64>) -> Result<Vec<f64>> {
        if phi.dim() != theta.len() {
            return Err(Error::Invalid(format!(
                "{}: θ has {} weights, the features {}",
                self.env.id,
                theta.len(),
                phi.dim()
            )));
        }
        Ok(solve::row_maxima(&phi.q(theta)).to_vec())
    }
}

/// The cell centres of slice (x, y), one observation a row in cell order,
/// the other components at their fixed values.
pub fn slice_points(dims: &[Dim], x: usize, y: usize) -> Array2<f64> {
    Array2::from_shape_fn((GRID * GRID, dims.len()), |(cell, c)| {
        if c == x {
            dims[c].centre(cell % GRID, GRID)
        } else if c == y {
            dims[c].centre(cell / GRID, GRID)
        } else {
            dims[c].fixed
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{acrobot, mountain_car};
    use crate::features::FeatureSpec;
    use crate::params::{ParamValue, Params};
    use ndarray::{Array1, array};

    fn tiles(env: &'static Description) -> ObservationFeatures {
        let params: Params = [
            ("kind".to_string(), ParamValue::Text("tile".into())),
            ("tiles".to_string(), ParamValue::Number(8.0)),
        ]
        .into_iter()
        .collect();
        FeatureSpec::read(&params)
            .unwrap()
            .observations(env)
            .unwrap()
    }

    #[test]
    fn pairs_cover_every_two_components_once() {
        assert_eq!(pairs(2), [(0, 1)]);
        assert_eq!(pairs(4).len(), 6);
        assert_eq!(pairs(6).len(), 15);
        assert_eq!(pairs(3), [(0, 1), (0, 2), (1, 2)]);
    }

    /// The data's counts sum to the observations in every slice, fall in
    /// the cells the bounds say, and values beyond the bounds count at the
    /// edges; the fixed values are the data's means.
    #[test]
    fn data_counts_are_the_observations_binned() {
        let d = &mountain_car::DESCRIPTION;
        // Position −1.2…0.6 in 24 cells of 0.075; velocity ±0.07 in cells of 7/1200.
        let obs = array![
            [-1.2, -0.07],
            [0.6, 0.07],
            [-0.5, 0.0],
            [-0.5, 0.001],
            [9.0, -1.0]
        ];
        let survey = Survey::new(d, &tiles(d), obs.view()).unwrap();
        let l = survey.landscape(0, Array1::zeros(1536).view()).unwrap();
        l.check().unwrap();
        assert_eq!((l.data_total, l.slices.len()), (5, 1));
        let s = &l.slices[0];
        assert_eq!(s.data.iter().sum::<u64>(), 5);
        let at = |ix: usize, iy: usize| s.data[iy * GRID + ix];
        assert_eq!(at(0, 0), 1);
        assert_eq!(at(23, 23), 1);
        // −0.5 is cell 9 (0.7/0.075 = 9.33); velocities 0 and 0.001 both cell 12.
        assert_eq!(at(9, 12), 2);
        assert_eq!(at(23, 0), 1);
        assert!((l.dims[0].fixed - (-1.2 + 0.6 - 1.0 + 9.0) / 5.0).abs() < 1e-12);
        assert_eq!(l.dims[1].name, "velocity");
        assert_eq!(s.max_q, vec![0.0; GRID * GRID]);
        assert_eq!(l.visits_total, 0);
    }

    /// The grid's max_a Q is φ(o, ·)ᵀθ at the cell centres, computed here
    /// from the tile coder's dense features and θ, independently of the
    /// survey's path; on Acrobot, slices hold the other components at the
    /// data's mean.
    #[test]
    fn max_q_is_the_linear_q_at_the_cell_centres() {
        for d in [&mountain_car::DESCRIPTION, &acrobot::DESCRIPTION] {
            let features = tiles(d);
            let dim = features.width() * d.actions.len();
            let theta = Array1::from_iter((0..dim).map(|i| ((i * 7919) % 1000) as f64 - 500.0));
            let n = d.feature_bounds.len();
            let obs = Array2::from_shape_fn((3, n), |(i, c)| {
                let (lo, hi) = d.feature_bounds[c];
                lo + (hi - lo) * (0.2 + 0.3 * i as f64)
            });
            let survey = Survey::new(d, &features, obs.view()).unwrap();
            let l = survey.landscape(7, theta.view()).unwrap();
            l.check().unwrap();
            assert_eq!(l.slices.len(), pairs(n).len());
            let slice = l.slices.last().unwrap();
            let (x, y) = (slice.x, slice.y);
            for (ix, iy) in [(0, 0), (3, 17), (23, 23), (12, 5)] {
                let mut o: Vec<f64> = l.dims.iter().map(|d| d.fixed).collect();
                o[x] = l.dims[x].centre(ix, GRID);
                o[y] = l.dims[y].centre(iy, GRID);
                let coords = features
                    .coordinates(Array2::from_shape_vec((1, n), o).unwrap().view())
                    .unwrap();
                let dense =
                    crate::features::TileCoder::new(n, 8, 8, features.width()).dense(coords.view());
                let want = (0..d.actions.len())
                    .map(|a| {
                        (0..features.width())
                            .map(|c| dense[[0, c]] * theta[a * features.width() + c])
                            .sum::<f64>()
                    })
                    .fold(f64::NEG_INFINITY, f64::max);
                assert_eq!(slice.max_q[iy * GRID + ix], want, "{} ({ix}, {iy})", d.id);
            }
            assert_eq!(l.dims[2 % n].fixed, obs.column(2 % n).mean().unwrap());
        }
    }

    /// Visits counted while a policy plays sum, in every slice, to the
    /// steps Monte-Carlo evaluation reports, and clear to zero.
    #[test]
    fn visits_total_the_steps_played() {
        use crate::env::MountainCar;
        use crate::env::monte_carlo::{Plan, evaluate};
        let d = &mountain_car::DESCRIPTION;
        let survey = Survey::new(d, &tiles(d), Array2::zeros((0, 2)).view()).unwrap();
        let visits = survey.visits();
        let plan = Plan {
            episodes: 20,
            seed: 3,
            gamma: 0.99,
        };
        let played = evaluate(
            &MountainCar,
            |obs, _| {
                visits.record(obs);
                usize::from(obs[1] >= 0.0) * 2
            },
            plan,
        )
        .unwrap();
        let l = survey.landscape(0, Array1::zeros(1536).view()).unwrap();
        assert_eq!(l.visits_total, played.steps);
        assert_eq!(l.slices[0].visits.iter().sum::<u64>(), played.steps);
        assert_eq!(l.data_total, 0);
        visits.clear();
        let l = survey.landscape(0, Array1::zeros(1536).view()).unwrap();
        assert_eq!(l.visits_total, 0);
    }

    /// A file of another shape is refused with what does not fit.
    #[test]
    fn damaged_landscapes_are_named() {
        let d = &mountain_car::DESCRIPTION;
        let survey = Survey::new(d, &tiles(d), Array2::zeros((0, 2)).view()).unwrap();
        let good = survey.landscape(0, Array1::zeros(1536).view()).unwrap();
        let mut bad = good.clone();
        bad.slices[0].data.pop();
        assert!(bad.check().unwrap_err().contains("575"));
        let mut bad = good.clone();
        bad.slices[0].y = 5;
        assert!(bad.check().unwrap_err().contains("components (0, 5)"));
        let mut bad = good.clone();
        bad.grid = 0;
        assert!(bad.check().is_err());
        let mut bad = good;
        bad.slices[0].max_q[0] = f64::INFINITY;
        bad.slices[0].max_q[1] = f64::NAN;
        let text = serde_json::to_string(&bad).unwrap();
        let back: Landscape = serde_json::from_str(&text).unwrap();
        assert_eq!(back.slices[0].max_q[0], f64::INFINITY);
        assert!(back.slices[0].max_q[1].is_nan());
    }
}
