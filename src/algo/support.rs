//! The data's support as a linear model on features of observations sees
//! it: how uncertain a least-squares fit on the data is at (o, a),
//!
//!   u(o,a) = √(ψ(o)ᵀ Λ_a⁻¹ ψ(o)),   Λ_a = Σ_{data with action a} ψψᵀ + λI,
//!
//! the elliptical width of PEVI (Jin, Yang & Wang 2021, "Is Pessimism
//! Provably Efficient for Offline RL?", Alg. 2), whose penalty is β·u. With
//! φ(o,a) = ψ(o) in action a's block, Λ = Σ φφᵀ + λI is block-diagonal:
//! one d_ψ × d_ψ Gram matrix per action, inverted once per dataset (by
//! Cholesky) and kept while the dataset lives, as π̂_β is
//! ([`super::behavior`]). The width is that of each action's own data
//! whichever layout the critic uses (`actions = "shared"` included).
//!
//! It is the count penalty's linear form: with one-hot features of a
//! partition (a grid's cells, one tiling) Λ_a is diagonal with n(s,a) + λ,
//! so u(s,a) = 1/√(n(s,a) + λ); with overlapping features it pools the
//! data of every observation sharing features with o, so it shrinks as
//! 1/√N with the data where a count of a sample state, seen once, never
//! does. Off the data it is large where no data of action a shares o's
//! features (1/√λ · |ψ(o)| with none at all).
//!
//! Cost: the Gram matrices O(N·k²) for k nonzero features a state, the
//! inverses O(|A|·d_ψ³), the widths at every sample state O(N·|A|·k²)
//! (k² look-ups in Λ_a⁻¹ for tile coding; d_ψ² for dense features), and
//! u at one observation off the data O(|A|·k²).

use super::TrainData;
use super::behavior::{Kept, per_dataset};
use crate::data::EmpiricalMdp;
use crate::error::Result;
use crate::features::{Phi, PsiRow};
use crate::memo::Memo;
use linfa_linalg::cholesky::InverseCInplace;
use ndarray::Array2;
use std::sync::Arc;

/// λ, the ridge of Λ_a: the prior weight of one transition of evidence
/// (a binary feature's square is 1), as PEVI's λ = 1; where the data
/// never shows action a near o, u(o,a) = |ψ(o)|/√λ.
pub const LAMBDA: f64 = 1.0;

/// How many supports a process keeps: the learners of a sweep share each
/// dataset.
const KEPT: usize = 64;

/// u(o,a) on the data's sample states and off them (module doc).
#[derive(Debug)]
pub struct Support {
    /// Λ_a⁻¹, one d_ψ × d_ψ matrix per action.
    inverse: Vec<Array2<f64>>,
    /// u(s,a) at every (merged) sample state, states × actions.
    pub width: Array2<f64>,
    /// log det(Λ/λ) = Σ_a log det(Λ_a/λ): the information the data
    /// holds about the weights, which sizes the confidence radius of a
    /// least-squares fit with these widths (Abbasi-Yadkori, Pál &
    /// Szepesvári 2011, Thm 2): 0 without data, and with one-hot features
    /// Σ log(1 + n(s,a)/λ), the count penalty's log term summed.
    pub log_det: f64,
}

impl Support {
    /// u(o,·) of an observation by its ψ, one entry per action, into `out`.
    pub fn at(&self, psi: &PsiRow, out: &mut [f64]) {
        for (o, inverse) in out.iter_mut().zip(&self.inverse) {
            *o = psi.quadratic(inverse.view()).max(0.0).sqrt();
        }
    }
}

/// The data's support, once per dataset and features while they live;
/// `None` without features of observations (a table, or features of a
/// tabular environment's pairs), where the counts n(s,a) are the support.
pub fn of(data: &TrainData) -> Result<Option<Arc<Support>>> {
    let Some(phi) = data.phi.as_ref().filter(|phi| phi.state_width().is_some()) else {
        return Ok(None);
    };
    static KEPT_SUPPORTS: Kept<Support> = Memo::new(KEPT);
    per_dataset(&KEPT_SUPPORTS, data, phi, || build(phi, &data.compiled)).map(Some)
}

fn build(phi: &Phi, c: &EmpiricalMdp) -> std::result::Result<Support, String> {
    let (ns, na) = (c.n_states, c.n_actions);
    let mut states: Vec<Vec<(usize, f64)>> = vec![Vec::new(); na];
    for p in &c.pairs {
        states[p.action as usize].push((p.state as usize, f64::from(p.count)));
    }
    let mut log_det = 0.0;
    let inverse = states
        .iter()
        .enumerate()
        .map(|(a, states)| {
            let mut gram = phi.psi_gram(states);
            gram.diag_mut().iter_mut().for_each(|g| *g += LAMBDA);
            // One Cholesky factorisation: the inverse is solved from it,
            // and it is left in `gram`, whose diagonal is then L's.
            let inverse = gram
                .invc_inplace()
                .map_err(|e| format!("the data's support: action {a}'s Gram matrix: {e}"))?;
            log_det += gram
                .diag()
                .iter()
                .map(|l| (l * l / LAMBDA).ln())
                .sum::<f64>();
            Ok(inverse)
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    let mut width = Array2::zeros((ns, na));
    for (s, mut row) in width.outer_iter_mut().enumerate() {
        for (u, inverse) in row.iter_mut().zip(&inverse) {
            *u = phi.psi_quadratic(s, inverse.view()).max(0.0).sqrt();
        }
    }
    Ok(Support {
        inverse,
        width,
        log_det,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::samples::{Samples, Transitions};
    use crate::env::mountain_car;
    use crate::features::FeatureSpec;
    use ndarray::Array2;

    /// `2n` pseudo-random MountainCar observations (a fixed recurrence):
    /// observation i is point 2i, its next observation point 2i + 1.
    fn points(n: usize) -> Vec<[f64; 2]> {
        let mut x = 0.123_f64;
        let mut next = || {
            x = (x * 3.7 + 0.31).fract();
            x
        };
        (0..2 * n)
            .map(|_| [-1.2 + 1.8 * next(), -0.07 + 0.14 * next()])
            .collect()
    }

    fn tiles(tilings: usize, tiles: usize) -> crate::features::ObservationFeatures {
        FeatureSpec::tile(tilings, tiles, 4096)
            .unwrap()
            .observations(&mountain_car::DESCRIPTION)
            .unwrap()
    }

    /// The `n` transitions of [`points`], each repeated `copies` times,
    /// with actions i mod 3: the sample-based data on tile features.
    fn data(n: usize, copies: usize, tilings: usize, tiles_per_side: usize) -> TrainData {
        let points = points(n);
        let rows = n * copies;
        let obs = Array2::from_shape_fn((rows, 2), |(i, j)| points[2 * (i % n)][j]);
        let next_obs = Array2::from_shape_fn((rows, 2), |(i, j)| points[2 * (i % n) + 1][j]);
        let action: Vec<u32> = (0..rows).map(|i| ((i % n) % 3) as u32).collect();
        let t = Transitions {
            obs: obs.view(),
            action: &action,
            reward: &vec![-1.0; rows],
            next_obs: next_obs.view(),
            terminated: &vec![false; rows],
        };
        let samples = Samples::new(&t, 3).unwrap();
        let phi = tiles(tilings, tiles_per_side)
            .phi(samples.points.view())
            .unwrap();
        TrainData::samples(samples, phi, 0.99, 0).unwrap()
    }

    /// One-hot features (one tiling: a grid's cells) reduce PEVI's width
    /// to the count penalty's: u(s,a) = 1/√(n(s,a) + λ) exactly, 1/√λ
    /// where the data never shows a in s; and log det(Λ/λ) to
    /// Σ log(1 + n(s,a)/λ).
    #[test]
    fn one_hot_features_give_the_count_width() {
        let d = data(300, 2, 1, 6);
        let support = of(&d).unwrap().unwrap();
        let c = &d.compiled;
        assert!(c.n_states <= 36 && c.pairs.iter().any(|p| p.count > 2));
        let log_det: f64 = c
            .pairs
            .iter()
            .map(|p| (1.0 + f64::from(p.count) / LAMBDA).ln())
            .sum();
        assert!(
            (support.log_det - log_det).abs() < 1e-9 * log_det,
            "{}",
            support.log_det
        );
        for s in 0..c.n_states {
            for a in 0..3 {
                let n = f64::from(c.count(s, a));
                let want = 1.0 / (n + LAMBDA).sqrt();
                let got = support.width[[s, a]];
                assert!((got - want).abs() < 1e-12, "({s}, {a}): {got} vs {want}");
            }
        }
    }

    /// Replicating the data r times shrinks the width as 1/√r: with
    /// Λ(r) = rG + λI, r·u(r)² = ψᵀ(G + λ/r I)⁻¹ψ grows with r to its
    /// limit, so u(10r)/u(r) is at least 1/√10 and, at the data's pairs
    /// once λ/r is small beside G, within a few percent of it. The widths off the data, at
    /// ψ of a sample state, are its widths on it.
    #[test]
    fn the_width_shrinks_as_one_over_root_n_with_replicated_data() {
        let copies = [1, 10, 100, 1000];
        let widths: Vec<Array2<f64>> = copies
            .iter()
            .map(|&r| of(&data(400, r, 8, 8)).unwrap().unwrap().width.clone())
            .collect();
        let bound = 10f64.sqrt().recip();
        for pair in widths.windows(2) {
            for (small, large) in pair[0].iter().zip(&pair[1]) {
                assert!(large / small >= bound - 1e-12, "{small} → {large}");
            }
        }
        // Where ψ(s) lies in the span of action a's data (the pairs the
        // data shows); elsewhere the part outside it stays at 1/√λ.
        let d = data(400, 1, 8, 8);
        for p in &d.compiled.pairs {
            let (s, a) = (p.state as usize, p.action as usize);
            let ratio = widths[3][[s, a]] / widths[2][[s, a]];
            assert!(ratio <= bound * 1.05, "({s}, {a}): {ratio}");
        }
        let support = of(&d).unwrap().unwrap();
        let mut psi = PsiRow::default();
        let mut u = [0.0; 3];
        tiles(8, 8).psi_into(&points(400)[0], &mut psi);
        support.at(&psi, &mut u);
        assert_eq!(u.as_slice(), support.width.row(0).as_slice().unwrap());
    }
}
