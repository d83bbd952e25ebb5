//! The smooth and the coarse state features: radial basis functions,
//! polynomials, random projections and the grid worlds' hand-made ones.

use super::coords::state_coordinates;
use crate::error::{Error, Result};
use crate::mdp::TabularMdp;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

/// Gaussian bumps exp(−‖x − c‖² / 2w²) on a grid of `centres` per
/// coordinate over [0, 1]^k.
pub fn rbf(states: ArrayView2<f64>, centres: usize, width: f64) -> Array2<f64> {
    let k = states.ncols();
    let count = centres.pow(k as u32);
    let at = |i: usize| {
        if centres > 1 {
            i as f64 / (centres - 1) as f64
        } else {
            0.5
        }
    };
    Array2::from_shape_fn((states.nrows(), count), |(s, c)| {
        let mut rest = c;
        let mut d2 = 0.0;
        for d in (0..k).rev() {
            let x = states[[s, d]] - at(rest % centres);
            rest /= centres;
            d2 += x * x;
        }
        (-d2 / (2.0 * width * width)).exp()
    })
}

/// Gaussian bumps exp(−‖x − c‖² / 2w²) at the rows of `centres`.
pub fn rbf_at(states: ArrayView2<f64>, centres: ArrayView2<f64>, width: f64) -> Array2<f64> {
    Array2::from_shape_fn((states.nrows(), centres.nrows()), |(s, c)| {
        (-squared_distance(states.row(s), centres.row(c)) / (2.0 * width * width)).exp()
    })
}

fn squared_distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// `k` centres for [`rbf_at`] by k-means (linfa-clustering's Lloyd
/// iterations) over `points`, started from k-means++ (D² sampling) drawn
/// with `seed`: the same seed gives the same centres. Errors when there are
/// fewer distinct points than centres.
pub fn kmeans_centres(points: ArrayView2<f64>, k: usize, seed: u64) -> Result<Array2<f64>> {
    use linfa::DatasetBase;
    use linfa::traits::Fit;
    use linfa_clustering::{KMeans, KMeansInit};
    let n = points.nrows();
    let mut distinct: Vec<Vec<u64>> = points
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|x| x.to_bits()).collect())
        .collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < k {
        return Err(Error::Invalid(format!(
            "features kind `rbf`, centres = \"kmeans\": k = {k} centres for {} distinct states",
            distinct.len()
        )));
    }
    // k-means++: the first centre uniformly, each next one with probability
    // proportional to its squared distance to the nearest centre so far.
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0xCE47_2E55);
    let d2 = squared_distance;
    let mut chosen = vec![rng.random_range(0..n)];
    let mut nearest: Vec<f64> = (0..n)
        .map(|i| d2(points.row(i), points.row(chosen[0])))
        .collect();
    while chosen.len() < k {
        let total: f64 = nearest.iter().sum();
        let mut pick = rng.random::<f64>() * total;
        let next = (0..n)
            .find(|&i| {
                pick -= nearest[i];
                nearest[i] > 0.0 && pick <= 0.0
            })
            .unwrap_or_else(|| {
                (0..n)
                    .rev()
                    .find(|&i| nearest[i] > 0.0)
                    .expect("k ≤ distinct")
            });
        chosen.push(next);
        for (i, m) in nearest.iter_mut().enumerate() {
            *m = m.min(d2(points.row(i), points.row(next)));
        }
    }
    let init = points.select(Axis(0), &chosen);
    let model = KMeans::params(k)
        .init_method(KMeansInit::Precomputed(init))
        .n_runs(1)
        .max_n_iterations(300)
        .tolerance(1e-9)
        .fit(&DatasetBase::from(points.to_owned()))
        .map_err(|e| Error::Invalid(format!("features kind `rbf`, k-means: {e}")))?;
    Ok(model.centroids().clone())
}

/// The Fourier basis of order n (Konidaris, Osentoski & Thomas 2011,
/// "Value Function Approximation in Reinforcement Learning using the
/// Fourier Basis"): cos(π c·x) for every c ∈ {0, …, n}^k, x the k
/// coordinates in [0, 1]; c = 0 is the constant. Column c is c's digits
/// in base n + 1, the last coordinate's fastest (as [`rbf`]'s centres).
pub fn fourier(states: ArrayView2<f64>, order: usize) -> Array2<f64> {
    let k = states.ncols();
    let base = order + 1;
    let count = base.pow(k as u32);
    Array2::from_shape_fn((states.nrows(), count), |(s, c)| {
        let mut rest = c;
        let mut dot = 0.0;
        for d in (0..k).rev() {
            dot += (rest % base) as f64 * states[[s, d]];
            rest /= base;
        }
        (std::f64::consts::PI * dot).cos()
    })
}

/// How many columns [`poly`] gives `dims` coordinates: the monomials of
/// total degree ≤ `degree`, C(dims + degree, degree); `None` past usize.
pub fn monomial_count(dims: usize, degree: usize) -> Option<usize> {
    // C(dims + i, i) = C(dims + i − 1, i − 1) · (dims + i) / i, exact at each step.
    (1..=degree).try_fold(1usize, |c, i| {
        Some(c.checked_mul(dims.checked_add(i)?)? / i)
    })
}

/// Every monomial of the coordinates of total degree ≤ `degree`, the
/// constant included.
pub fn poly(states: ArrayView2<f64>, degree: usize) -> Array2<f64> {
    let mut exponents = vec![Vec::new()];
    for _ in 0..states.ncols() {
        exponents = exponents
            .into_iter()
            .flat_map(|e: Vec<usize>| {
                let used: usize = e.iter().sum();
                (0..=degree - used).map(move |p| {
                    let mut e = e.clone();
                    e.push(p);
                    e
                })
            })
            .collect();
    }
    Array2::from_shape_fn((states.nrows(), exponents.len()), |(s, m)| {
        exponents[m]
            .iter()
            .enumerate()
            .map(|(d, &p)| states[[s, d]].powi(p as i32))
            .product()
    })
}

/// `dim` Gaussian random projections of each state's one-hot code, scaled
/// by 1/√dim (so inner products are preserved in expectation).
pub fn random(n_states: usize, dim: usize, seed: u64) -> Array2<f64> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x5EED_F00D);
    let scale = 1.0 / (dim as f64).sqrt();
    Array2::from_shape_simple_fn((n_states, dim), || {
        let z: f64 = StandardNormal.sample(&mut rng);
        z * scale
    })
}

/// A bias, the state's coordinates and its distance to the nearest goal
/// (Euclidean in coordinates, over √k): what a hand-made feature for a
/// grid world would hold.
pub fn grid(mdp: &TabularMdp) -> Result<Array2<f64>> {
    let coords = state_coordinates(mdp);
    let goals: Vec<usize> = (0..mdp.n_states()).filter(|&s| mdp.is_goal(s)).collect();
    if goals.is_empty() {
        return Err(Error::Invalid(format!(
            "features kind `grid`: {} has no goal state to measure distances to",
            mdp.id()
        )));
    }
    let k = coords.ncols();
    Ok(Array2::from_shape_fn(
        (mdp.n_states(), k + 2),
        |(s, i)| match i {
            0 => 1.0,
            i if i <= k => coords[[s, i - 1]],
            _ => {
                goals
                    .iter()
                    .map(|&g| {
                        let d2: f64 = (0..k)
                            .map(|d| (coords[[s, d]] - coords[[g, d]]).powi(2))
                            .sum();
                        d2.sqrt()
                    })
                    .fold(f64::INFINITY, f64::min)
                    / (k as f64).sqrt()
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn poly_holds_every_monomial_once() {
        let x = array![[2.0, 3.0]];
        let p = poly(x.view(), 2);
        // 1, y, y², x, xy, x²
        let mut got = p.row(0).to_vec();
        got.sort_by(f64::total_cmp);
        assert_eq!(got, [1.0, 2.0, 3.0, 4.0, 6.0, 9.0]);
    }

    #[test]
    fn monomials_are_counted_without_building_them() {
        for (dims, degree) in [(1, 1), (2, 2), (4, 8), (3, 0)] {
            let x = Array2::<f64>::zeros((1, dims));
            assert_eq!(
                monomial_count(dims, degree),
                Some(poly(x.view(), degree).ncols())
            );
        }
        assert_eq!(monomial_count(usize::MAX, 2), None);
    }

    #[test]
    fn rbf_peaks_at_its_centres() {
        let x = array![[0.0], [1.0]];
        let f = rbf(x.view(), 3, 0.1);
        assert_eq!(f.row(0).to_vec()[0], 1.0);
        assert_eq!(f.row(1).to_vec()[2], 1.0);
        assert!(f[[0, 2]] < 1e-20);
    }

    #[test]
    fn random_projections_are_seeded() {
        assert_eq!(random(10, 4, 1), random(10, 4, 1));
        assert_ne!(random(10, 4, 1), random(10, 4, 2));
    }
}
