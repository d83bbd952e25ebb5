//! Multinomial logistic regression without intercept, two ways to one
//! objective, −Σ_i Σ_k n_ik log softmax_k(Wᵀx_i) + (λ/2)‖W‖², minimised
//! by L-BFGS (memory 10, Moré–Thuente line search) until the gradient's
//! norm is below [`GRADIENT_TOLERANCE`] or [`MAX_ITERATIONS`] iterations:
//! - [`multinomial`], linfa-logistic's fit: dense rows, one per
//!   transition (n_ik one-hot). bc's linear form on a table uses it;
//! - [`fit`], the same objective on rows kept by their nonzeros, each
//!   with its count of every class, by argmin's L-BFGS (the solver linfa
//!   runs): a gradient costs O(rows · nonzeros · classes), not
//!   O(transitions · features · classes). π̂_β of sample states uses it:
//!   a state's transitions are one row, 8 tiles are 8 nonzeros of 512
//!   columns (linfa's dense products over 1M tile-coded transitions took
//!   six minutes; issue 24).

use crate::error::{Error, Result};
use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_logistic::{MultiFittedLogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2};

/// L-BFGS stops where the gradient's norm (of the likelihood summed over
/// transitions) is below this, or after [`MAX_ITERATIONS`].
pub const GRADIENT_TOLERANCE: f64 = 1e-3;
pub const MAX_ITERATIONS: u64 = 100;

/// linfa-logistic's fit of dense `records` (one transition a row) to
/// their classes `targets`, from `init` (features × classes), L2 weight
/// `l2`; `what` names the fit in its error.
pub fn multinomial(
    records: Array2<f64>,
    targets: Array1<usize>,
    init: Array2<f64>,
    l2: f64,
    what: &str,
) -> Result<MultiFittedLogisticRegression<f64, usize>> {
    MultiLogisticRegression::default()
        .initial_params(init)
        .alpha(l2)
        .with_intercept(false)
        .max_iterations(MAX_ITERATIONS)
        .gradient_tolerance(GRADIENT_TOLERANCE)
        .fit(&DatasetBase::new(records, targets))
        .map_err(|e| Error::Invalid(format!("{what}: logistic regression: {e}")))
}

/// The rows [`fit`] reads: each x_i by its nonzeros, with its counts n_ik
/// of every class (how many transitions at x_i took class k).
#[derive(Debug, Clone)]
pub struct Rows {
    width: usize,
    classes: usize,
    /// Row i's nonzeros are `columns[starts[i]..starts[i + 1]]`, `values` alike.
    starts: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f64>,
    /// rows × classes.
    counts: Vec<f64>,
}

impl Rows {
    /// No rows yet, of `width` features and `classes` classes.
    pub fn new(width: usize, classes: usize) -> Self {
        Rows {
            width,
            classes,
            starts: vec![0],
            columns: Vec::new(),
            values: Vec::new(),
            counts: Vec::new(),
        }
    }

    /// A nonzero x_ij = `value` of the row being written.
    pub fn entry(&mut self, column: usize, value: f64) {
        assert!(column < self.width, "column < width");
        self.columns.push(column as u32);
        self.values.push(value);
    }

    /// Ends the row being written, with its counts of every class.
    pub fn end_row(&mut self, counts: &[f64]) {
        assert_eq!(counts.len(), self.classes, "one count per class");
        self.counts.extend_from_slice(counts);
        self.starts.push(self.columns.len());
    }

    /// The objective at `w` (features × classes, row-major) and, if asked,
    /// its gradient into `grad`.
    fn objective(&self, w: &[f64], l2: f64, mut grad: Option<&mut [f64]>) -> f64 {
        let k = self.classes;
        let mut loss = 0.5 * l2 * w.iter().map(|x| x * x).sum::<f64>();
        if let Some(g) = grad.as_deref_mut() {
            for (g, w) in g.iter_mut().zip(w) {
                *g = l2 * w;
            }
        }
        let mut z = vec![0.0; k];
        for (i, n) in self.counts.chunks_exact(k).enumerate() {
            let entries = self.starts[i]..self.starts[i + 1];
            let entries = || {
                self.columns[entries.clone()]
                    .iter()
                    .zip(&self.values[entries.clone()])
            };
            z.fill(0.0);
            for (&c, &x) in entries() {
                for (z, w) in z.iter_mut().zip(&w[c as usize * k..(c as usize + 1) * k]) {
                    *z += x * w;
                }
            }
            let top = crate::mdp::solve::max_value(&z);
            let log_total = top + z.iter().map(|z| (z - top).exp()).sum::<f64>().ln();
            loss -= n
                .iter()
                .zip(&z)
                .map(|(n, z)| n * (z - log_total))
                .sum::<f64>();
            if let Some(g) = grad.as_deref_mut() {
                // ∂/∂z_k = N_i softmax_k(z) − n_ik, z's entries reused.
                let total: f64 = n.iter().sum();
                for (z, n) in z.iter_mut().zip(n) {
                    *z = total * (*z - log_total).exp() - n;
                }
                for (&c, &x) in entries() {
                    for (g, z) in g[c as usize * k..(c as usize + 1) * k].iter_mut().zip(&z) {
                        *g += x * z;
                    }
                }
            }
        }
        loss
    }
}

/// The objective of the module doc on `rows`, λ = `l2`, as argmin reads it.
struct Problem<'a> {
    rows: &'a Rows,
    l2: f64,
}

impl CostFunction for Problem<'_> {
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, w: &Array1<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.rows.objective(contiguous(w), self.l2, None))
    }
}

impl Gradient for Problem<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(&self, w: &Array1<f64>) -> std::result::Result<Array1<f64>, argmin::core::Error> {
        let mut grad = Array1::zeros(w.len());
        let g = grad.as_slice_mut().expect("a fresh vector");
        self.rows.objective(contiguous(w), self.l2, Some(g));
        Ok(grad)
    }
}

fn contiguous(w: &Array1<f64>) -> &[f64] {
    w.as_slice().expect("argmin's vectors are contiguous")
}

/// W minimising the module doc's objective on `rows` from `init`
/// (features × classes), L2 weight `l2`, as [`multinomial`] does on the
/// rows repeated by their counts; `what` names the fit in its error.
pub fn fit(rows: &Rows, init: Array2<f64>, l2: f64, what: &str) -> Result<Array2<f64>> {
    let shape = (rows.width, rows.classes);
    assert_eq!(init.dim(), shape, "init is features × classes");
    let error =
        |e: argmin::core::Error| Error::Invalid(format!("{what}: logistic regression: {e}"));
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(GRADIENT_TOLERANCE)
        .map_err(error)?;
    let init = Array1::from_iter(init);
    let result = Executor::new(Problem { rows, l2 }, solver)
        .configure(|state| state.param(init.clone()).max_iters(MAX_ITERATIONS))
        .run()
        .map_err(error)?;
    let w = result.state.best_param.unwrap_or(init);
    if w.iter().any(|w| !w.is_finite()) {
        return Err(Error::Invalid(format!(
            "{what}: logistic regression: the weights are not finite"
        )));
    }
    Ok(Array2::from_shape_vec(shape, w.to_vec()).expect("features × classes weights"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::TrainData;
    use crate::data::observed::collect::collect_obs;
    use crate::data::{Quality, Samples};
    use crate::env::{MountainCar, mountain_car};
    use crate::features::FeatureSpec;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    /// linfa's W and [`fit`]'s on the same transitions from 0, L2 weight
    /// `l2`, and the objective of [`Rows`] at each.
    fn both(
        records: &Array2<f64>,
        targets: &Array1<usize>,
        rows: &Rows,
        l2: f64,
    ) -> [(Array2<f64>, f64); 2] {
        let init = Array2::zeros((rows.width, rows.classes));
        let linfa = multinomial(records.clone(), targets.clone(), init.clone(), l2, "linfa")
            .unwrap()
            .params()
            .to_owned();
        let ours = fit(rows, init, l2, "sparse").unwrap();
        [linfa, ours].map(|w| {
            let f = rows.objective(w.as_slice().unwrap(), l2, None);
            (w, f)
        })
    }

    fn norm<'a>(w: impl IntoIterator<Item = &'a f64>) -> f64 {
        w.into_iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    /// A dense problem: 200 rows of 5 Gaussian features, 3 classes drawn
    /// from a softmax of them.
    #[test]
    fn dense_rows_fit_as_linfa_does() {
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        let (n, d, k) = (200, 5, 3);
        let records = Array2::from_shape_simple_fn((n, d), || rng.random::<f64>() * 2.0 - 1.0);
        let targets = Array1::from_shape_fn(n, |i| {
            let r = records.row(i);
            let z = [r[0] + r[1], r[2] - r[0], 0.5 * r[3]];
            let total: f64 = z.iter().map(|z| z.exp()).sum();
            let mut u = rng.random::<f64>() * total;
            z.iter()
                .position(|z| {
                    u -= z.exp();
                    u <= 0.0
                })
                .unwrap_or(k - 1)
        });
        let mut rows = Rows::new(d, k);
        for (x, &t) in records.rows().into_iter().zip(&targets) {
            for (c, &x) in x.iter().enumerate() {
                rows.entry(c, x);
            }
            rows.end_row(&std::array::from_fn::<f64, 3, _>(|j| f64::from(j == t)));
        }
        // One row per transition: the path linfa takes, to rounding, to
        // where the gradient's norm is below the tolerance (linfa's W is
        // stationary for [`Rows`]' gradient: the objectives are one).
        let [(linfa, _), (ours, _)] = both(&records, &targets, &rows, 1.0);
        assert!(norm(&linfa) > 1.0, "a fit that moved: {}", norm(&linfa));
        for w in [&linfa, &ours] {
            let mut g = vec![0.0; w.len()];
            rows.objective(w.as_slice().unwrap(), 1.0, Some(&mut g));
            assert!(norm(&g) < GRADIENT_TOLERANCE, "|gradient| {}", norm(&g));
        }
        let d = norm(&(&linfa - &ours));
        assert!(d < 1e-9, "|W_linfa − W| = {d}");
    }

    /// A sparse one: 3,000 MountainCar transitions (its controller with
    /// ε = 0.3) with 8 tilings of 8×8 hashed into 512 slots, each merged
    /// sample state one row with its counts of the 3 actions, against
    /// linfa on every transition's dense ψ. The two minimise the same
    /// function from the same start; the paths part by rounding (a state's
    /// transitions summed at once).
    #[test]
    fn tile_coded_states_with_counts_fit_as_linfa_on_transitions() {
        let quality = Quality::Expert.with_epsilon(0.3).unwrap();
        let (data, _) = collect_obs(&MountainCar, quality, 3_000, 0).unwrap();
        let samples = Samples::new(&data.transitions(), 3).unwrap();
        let features = FeatureSpec::tile(8, 8, 512)
            .unwrap()
            .observations(&mountain_car::DESCRIPTION)
            .unwrap();
        let phi = features.phi(samples.points.view()).unwrap();
        let data = TrainData::samples(samples, phi, 0.99, 0).unwrap();
        let (c, phi) = (&data.compiled, data.phi.as_ref().unwrap());
        let width = phi.state_width().unwrap();
        let mut rows = Rows::new(width, 3);
        for pairs in c.pairs.chunk_by(|p, q| p.state == q.state) {
            phi.psi_each(pairs[0].state as usize, |col, x| rows.entry(col, x));
            let mut n = [0.0; 3];
            for p in pairs {
                n[p.action as usize] = f64::from(p.count);
            }
            rows.end_row(&n);
        }
        assert!(rows.starts.len() - 1 < c.n_transitions / 2, "states merge");
        let mut records = Array2::zeros((c.n_transitions, width));
        let mut targets = Array1::zeros(c.n_transitions);
        let mut at = 0;
        for p in &c.pairs {
            for _ in 0..p.count {
                let row = records.row_mut(at);
                phi.add_psi(p.state as usize, row.into_slice().unwrap());
                targets[at] = p.action as usize;
                at += 1;
            }
        }
        // Both stop at their 100 iterations here, short of the gradient
        // tolerance, in a flat valley: the same objective to 1e-8, the
        // same weights to 2e-3.
        let [(linfa, f_linfa), (ours, f_ours)] = both(&records, &targets, &rows, 1.0);
        let rise = (f_ours - f_linfa).abs() / f_linfa.abs();
        assert!(rise < 1e-8, "objectives {f_ours} and {f_linfa}");
        let gap = norm(&(&linfa - &ours)) / norm(&linfa);
        assert!(gap < 2e-3, "relative |W_linfa − W| = {gap}");
    }
}
