//! A safeguarded Newton step on one state's row (speed, not algorithm):
//! the solver behind cql's and combo's exact full-batch descent.
//!
//! The row objective φ(f) is a soft maximum weighted by c τ (the push-down:
//! its gradient is c τ σ for a distribution σ, its Hessian c (diag σ −
//! σσᵀ), as τ log Σ exp(f/τ)'s is) plus a separable part with curvature
//! w(a) ≥ 0 per action. The algorithm states φ once, as a
//! [`RowObjective`]; [`step`] only minimises it:
//!
//! - the Newton step H⁻¹g, exact by Sherman–Morrison since H = D − c σσᵀ
//!   with D = diag(w + cσ): H⁻¹g = D⁻¹g + c D⁻¹σ (σᵀD⁻¹g) / (1 − c σᵀD⁻¹σ),
//!   the denominator being Σ_a σ(a) w(a)/D(a) > 0 wherever an action has
//!   data;
//! - taken if it decreases φ by a tenth of what its slope promises
//!   (Armijo); else from a length of the row's spread, halving;
//! - else the majoriser's step g / (w + c/2) coordinate-wise (H ⪯
//!   diag(w + c/2): a softmax Jacobian's eigenvalues are ≤ ½), which never
//!   increases φ. So φ never increases.
//!
//! The majoriser alone was measured too slow: its rate on the Bellman part
//! is w/(w + c/2), 0.05 at cql's defaults, and it lowers an unseen action
//! by 2τσ a step, so σ decays like 1/k; CliffWalking had not converged
//! after 1,000 iterations, where Newton converges in a few hundred.

use super::settled::within_rounding;
use super::tabular::row_len;

/// One state's row objective, with its targets and weights fixed: what an
/// algorithm states so that [`step`] can minimise it.
pub trait RowObjective {
    /// c, the soft maximum's weight over its temperature: its Hessian is
    /// c (diag σ − σσᵀ).
    fn coupling(&self) -> f64;
    /// w(a), the separable part's curvature (0 where it has no term).
    fn curvature(&self, a: usize) -> f64;
    /// ∂φ/∂f(a) at f(a) = `x`, where the soft maximum's gradient is `sigma` (σ(a)).
    fn gradient(&self, a: usize, x: f64, sigma: f64) -> f64;
    /// The soft maximum of `f` (its value; σ into `sigma`).
    fn soft(&self, f: &[f64], sigma: &mut [f64]) -> f64;
    /// φ at `f`, given its soft maximum `soft`, and the size of φ's terms
    /// (the sum of their magnitudes, which sets φ's rounding).
    fn value(&self, f: &[f64], soft: f64) -> (f64, f64);
    /// A length for a step along the row after the full one failed: its
    /// spread, a step that far is no longer a leap along a flat direction.
    fn reach(&self, f: &[f64]) -> f64;
}

/// Scratch rows of one state's step: a candidate f, its σ, the Newton direction.
pub struct Scratch {
    candidate: Vec<f64>,
    candidate_sigma: Vec<f64>,
    direction: Vec<f64>,
}

impl Scratch {
    /// Scratch for rows of `n_actions` actions.
    pub fn new(n_actions: usize) -> Self {
        Scratch {
            candidate: vec![0.0; n_actions],
            candidate_sigma: vec![0.0; n_actions],
            direction: vec![0.0; n_actions],
        }
    }
}

/// Newton steps tried (the full one, then from the row's reach, halving
/// each time) before the majoriser's.
const BACKTRACKS: usize = 40;
/// The sufficient decrease a Newton step must make: φ falls by at least
/// this share of what its slope promises (Armijo's rule).
const ARMIJO: f64 = 0.1;

/// One safeguarded Newton step on `f` (whose σ and soft maximum are
/// `sigma`, `soft`, both updated); returns the largest |Δf| over the
/// actions with curvature (the data's: the others may sink without end),
/// or `None` where the step was within rounding of the row
/// ([`within_rounding`]) and left it as it was, bit for bit.
///
/// Compiled for rows of [`row_len`]`::<N>` actions.
#[inline(always)]
pub fn step<const N: usize, R: RowObjective>(
    objective: &R,
    f: &mut [f64],
    sigma: &mut [f64],
    soft: &mut f64,
    scratch: &mut Scratch,
) -> Option<f64> {
    let Scratch {
        candidate,
        candidate_sigma,
        direction,
    } = scratch;
    // One length for every row (a constant for N > 0), so the loops
    // below index without checks.
    let n = row_len::<N>(f.len());
    let f = &mut f[..n];
    let (sigma, candidate, candidate_sigma, direction) = (
        &mut sigma[..n],
        &mut candidate[..n],
        &mut candidate_sigma[..n],
        &mut direction[..n],
    );
    let c = objective.coupling();
    // σᵀD⁻¹g and the denominator 1 − c σᵀD⁻¹σ = Σ_a σ(a) w(a)/D(a),
    // summed in that form (the difference cancels when σ sits on unseen
    // actions). Where 1/D(a) is not finite the coordinate has neither
    // gradient nor curvature to speak of and stays: D(a) = 0 (no data,
    // no push-down), or an unseen action whose cσ is so small (σ near
    // 1e-304, before the softmax flushes it) that 1/D overflows; ∞ · 0
    // there made the direction NaN, and the row fell back to the
    // majoriser, whose steps barely move it, at every iteration.
    // One pass for g (into `candidate`) and 1/D (into `candidate_sigma`,
    // 0 where it is not finite), both scratch until the trial steps.
    let (mut sdg, mut denominator) = (0.0, 0.0);
    for a in 0..n {
        let w = objective.curvature(a);
        let d = w + c * sigma[a];
        let g = objective.gradient(a, f[a], sigma[a]);
        let inverse = 1.0 / d;
        let inverse = if inverse.is_finite() { inverse } else { 0.0 };
        sdg += sigma[a] * g * inverse;
        denominator += sigma[a] * w * inverse;
        candidate[a] = g;
        candidate_sigma[a] = inverse;
    }
    if denominator > 0.0 {
        let (before, terms) = objective.value(f, *soft);
        // The Newton direction, and gᵀ direction for the sufficient decrease.
        let shift = c * sdg / denominator;
        let mut slope = 0.0;
        for (a, slot) in direction.iter_mut().enumerate() {
            let g = candidate[a];
            *slot = (g + shift * sigma[a]) * candidate_sigma[a];
            slope += g * *slot;
        }
        let mut t = 1.0;
        for attempt in 0..BACKTRACKS {
            for ((slot, &x), &step) in candidate.iter_mut().zip(f.iter()).zip(&*direction) {
                *slot = x - t * step;
            }
            // A step within rounding of the row on every action (near
            // the fixed point, or a line search shrunk to nothing) is
            // not taken: the row stays as it is, bit for bit, and its
            // exps and φ are not computed.
            if within_rounding(f, candidate) {
                return None;
            }
            let candidate_soft = objective.soft(candidate, candidate_sigma);
            let (after, _) = objective.value(candidate, candidate_soft);
            // Near the optimum the promised decrease drowns in φ's
            // rounding: a step that changes φ by no more than that is
            // accepted, not backtracked forty times. The rounding is
            // that of φ's terms, not of their sum: where they cancel
            // (a terminal pair whose push-down and push-up are equal, φ
            // exactly 0) a floor of φ's own size was 0 and every step
            // went to the majoriser after forty tries.
            let noise = 1e-12 * terms;
            let enough = after <= before - ARMIJO * t * slope;
            if enough || (t * slope <= noise && after <= before + noise) {
                let change = largest_change(objective, f, candidate);
                f.copy_from_slice(candidate);
                sigma.copy_from_slice(candidate_sigma);
                *soft = candidate_soft;
                return Some(change);
            }
            t = if attempt == 0 {
                // Where σ sits on unseen actions φ is nearly flat along
                // them and the full step is enormous: go on from a step
                // no longer than the row's reach.
                let longest = direction.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                (objective.reach(f) / longest).min(0.5)
            } else {
                t / 2.0
            };
        }
    }
    Some(majorise(objective, f, sigma, soft, candidate, |a| {
        objective.curvature(a) + c / 2.0
    }))
}

/// One majoriser step on `f` (σ and the soft maximum updated): f(a) −=
/// g(a)/m(a) wherever the metric m(a) > 0, the others stay. With m(a) ≥
/// w(a) + c/2 (H ⪯ diag(w + c/2)) φ never increases; returns the largest
/// |Δf| over the actions with curvature. `candidate`: scratch of f's length.
#[inline(always)]
pub fn majorise<R: RowObjective>(
    objective: &R,
    f: &mut [f64],
    sigma: &mut [f64],
    soft: &mut f64,
    candidate: &mut [f64],
    metric: impl Fn(usize) -> f64,
) -> f64 {
    for (a, slot) in candidate.iter_mut().enumerate() {
        let d = metric(a);
        *slot = if d > 0.0 {
            f[a] - objective.gradient(a, f[a], sigma[a]) / d
        } else {
            f[a]
        };
    }
    let change = largest_change(objective, f, candidate);
    f.copy_from_slice(candidate);
    *soft = objective.soft(f, sigma);
    change
}

/// The largest |Δf| over the actions with curvature (the data's): unseen
/// actions sink without end (by about τ a step), so they would keep the
/// loss at τ.
pub fn largest_change<R: RowObjective>(objective: &R, a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .enumerate()
        .filter(|&(i, _)| objective.curvature(i) > 0.0)
        .map(|(_, (x, y))| (x - y).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// φ(f) = c τ log Σ exp(f/τ) + ½ Σ w (f − y)², with its softmax.
    struct Toy {
        c: f64,
        tau: f64,
        w: Vec<f64>,
        y: Vec<f64>,
    }

    impl RowObjective for Toy {
        fn coupling(&self) -> f64 {
            self.c
        }
        fn curvature(&self, a: usize) -> f64 {
            self.w[a]
        }
        fn gradient(&self, a: usize, x: f64, sigma: f64) -> f64 {
            self.c * self.tau * sigma + self.w[a] * (x - self.y[a])
        }
        fn soft(&self, f: &[f64], sigma: &mut [f64]) -> f64 {
            let top = f.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
            let total: f64 = f.iter().map(|x| ((x - top) / self.tau).exp()).sum();
            for (s, x) in sigma.iter_mut().zip(f) {
                *s = ((x - top) / self.tau).exp() / total;
            }
            top + self.tau * total.ln()
        }
        fn value(&self, f: &[f64], soft: f64) -> (f64, f64) {
            let squares: f64 = (0..f.len())
                .map(|a| 0.5 * self.w[a] * (f[a] - self.y[a]).powi(2))
                .sum();
            let value = self.c * self.tau * soft + squares;
            (value, (self.c * self.tau * soft).abs() + squares)
        }
        fn reach(&self, f: &[f64]) -> f64 {
            let all = f.iter().chain(&self.y);
            all.clone().fold(f64::MIN, |m, &x| m.max(x)) - all.fold(f64::MAX, |m, &x| m.min(x))
        }
    }

    fn descend(toy: &Toy, f: &mut [f64], steps: usize) -> Vec<f64> {
        let mut sigma = vec![0.0; f.len()];
        let mut soft = toy.soft(f, &mut sigma);
        let mut values = vec![toy.value(f, soft).0];
        let mut scratch = Scratch::new(f.len());
        for _ in 0..steps {
            step::<0, _>(toy, f, &mut sigma, &mut soft, &mut scratch);
            values.push(toy.value(f, soft).0);
        }
        values
    }

    /// A row of four actions, the third unseen, and where it starts.
    fn three_seen_one_unseen() -> (Toy, [f64; 4]) {
        let toy = Toy {
            c: 3.0,
            tau: 0.05,
            w: vec![0.4, 0.1, 0.0, 0.2],
            y: vec![1.0, 0.5, 0.0, -1.0],
        };
        (toy, [0.0, 2.0, 5.0, 0.0])
    }

    /// The majoriser's step alone (the feature-space form's) never climbs
    /// either, and reaches the same stationary point on the data's actions.
    #[test]
    fn the_majoriser_never_climbs_and_reaches_the_minimiser() {
        let (toy, mut f) = three_seen_one_unseen();
        let mut sigma = [0.0; 4];
        let mut soft = toy.soft(&f, &mut sigma);
        let mut candidate = [0.0; 4];
        let mut before = toy.value(&f, soft).0;
        for _ in 0..20_000 {
            majorise(&toy, &mut f, &mut sigma, &mut soft, &mut candidate, |a| {
                toy.w[a] + toy.c / 2.0
            });
            let after = toy.value(&f, soft).0;
            assert!(after <= before + 1e-12 * before.abs(), "{before} → {after}");
            before = after;
        }
        // The unseen action's share decays like 1/2k (it sinks by 2τσ a
        // step), and the data's gradients with it.
        for a in [0, 1, 3] {
            let g = toy.gradient(a, f[a], sigma[a]);
            assert!(g.abs() < 1e-4, "∂φ/∂f({a}) = {g}");
        }
        assert!(sigma[2] < 1e-4 && f[2] < f[0].max(f[1]), "{f:?}");
    }

    /// With no push-down the objective is a quadratic, which Newton
    /// minimises in one step: f = y where there is data, and unseen
    /// actions stay.
    #[test]
    fn without_a_push_down_one_step_is_the_targets() {
        let toy = Toy {
            c: 0.0,
            tau: 0.1,
            w: vec![0.5, 0.25, 0.0],
            y: vec![1.0, -3.0, 0.0],
        };
        let mut f = [0.0, 0.0, 7.0];
        descend(&toy, &mut f, 1);
        assert_eq!(f, [1.0, -3.0, 7.0]);
    }

    /// φ never increases, and the descent reaches φ's stationary point:
    /// the gradient vanishes on the data's actions, and the unseen action
    /// sinks.
    #[test]
    fn the_descent_never_climbs_and_reaches_the_minimiser() {
        let (toy, mut f) = three_seen_one_unseen();
        let values = descend(&toy, &mut f, 300);
        for pair in values.windows(2) {
            assert!(pair[1] <= pair[0] + 1e-12 * pair[0].abs(), "{pair:?}");
        }
        let mut sigma = [0.0; 4];
        toy.soft(&f, &mut sigma);
        for a in [0, 1, 3] {
            let g = toy.gradient(a, f[a], sigma[a]);
            assert!(g.abs() < 1e-9, "∂φ/∂f({a}) = {g}");
        }
        assert!(f[2] < f[0] && f[2] < f[1] && f[2] < f[3], "{f:?}");
    }
}
