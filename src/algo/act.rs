//! How a learner acts at one state, from its values Q(s,·) and the
//! behaviour estimate π̂_β(·|s) there: one rule per learner, used on the
//! data's states (its `policy()`) and at any observation off them
//! ([`crate::eval::monte_carlo::policy_at`]), where Q(o,·) = φ(o,·)ᵀθ and
//! π̂_β(·|o) comes from the features ([`super::behavior`]). Without it a
//! policy-constrained learner would be greedy on θ everywhere the data
//! never was, its constraint dropped exactly where it matters.

use super::tabular::tilt;
use crate::mdp::{Policy, solve};
use ndarray::{Array2, ArrayView2};

/// β of the tilted learners' penalty β·u off the data, in the data's value
/// unit U per unit of width u ([`Act::tilted`]): one unit of value per unit
/// of width, so that where no data of action a shares o's features (u =
/// |ψ(o)|, √8 for 8 tilings) the penalty outweighs any value the rewards
/// allow (Q is clipped to that range first), and where n transitions do
/// (u ≈ 1/√n) it shrinks with them. Chosen on the continuous panel of
/// docs/scores.md.
pub const WIDTH_PRICE: f64 = 1.0;

/// A learner's rule for one state's action probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    /// Greedy on Q, ties to the lowest action (fqi, cql, combo;
    /// fisher-brc off the data, whose actor is a table of its own).
    Greedy,
    /// π̂_β itself (bc, fqe of π̂_β).
    Behavior,
    /// Every action alike (fqe of the uniform policy).
    Uniform,
    /// Greedy over A_τ = {a : π̂_β(a) ≥ τ max_b π̂_β(b)} (bcq).
    Admitted { tau: f64 },
    /// π ∝ π̂_β exp((Q − β·u) / temperature) (brac, awac, iql; atac off
    /// the data, its actor's step anchored at π̂_β), u the data's
    /// uncertainty ([`super::support`]) where β > 0: off the data π̂_β(a|o)
    /// alone does not hold the tilt where θ extrapolates Q(o,a) upwards,
    /// and β·u prices that extrapolation ([`Act::tilted`]). Its row reads
    /// Q as clip(Q, range) − β·u, range the returns the rewards allow:
    /// [`Act::bound`] makes it.
    Tilted {
        temperature: f64,
        beta: f64,
        range: (f64, f64),
    },
    /// π = Proj_simplex(π̂_β + λ (Q − β·u) / 2) (td3bc's actor; λ = 0 is
    /// π̂_β), u the data's uncertainty where β > 0, as for [`Act::Tilted`]:
    /// its row reads Q as Q − β·u.
    Regularized { lambda: f64, beta: f64 },
    /// The lower bound L = Q − β·u clipped to [floor, ceiling], u the
    /// data's uncertainty ([`super::support`]) (vi-lcb on features of
    /// observations, PEVI): every action whose interval [L, L + 2β·u]
    /// lies wholly below the best L is eliminated, and π̂_β plays the
    /// others, renormalised ([`Act::row`]). Its row reads Q as the bound:
    /// [`Act::bound`] makes it.
    Lower { beta: f64, floor: f64, ceiling: f64 },
}

impl Act {
    /// π(·|s) into `out`, from Q(s,·) `q`, the data's uncertainty
    /// u(s,·) `width` (read only by [`Act::Lower`]; empty for the rest)
    /// and π̂_β(·|s) `behavior`.
    ///
    /// [`Act::Lower`]: greedy on the bound alone is greedy on a
    /// regression's bias wherever the bounds of two actions overlap (on
    /// hashed tiles that cannot tell the actions apart, CartPole and
    /// Acrobot 100k scored 3–53 against π̂_β's 91–98, docs/scores.md).
    /// So it eliminates only the actions the data shows to be worse,
    /// those whose upper bound min(L + 2β·u, ceiling) is below the best
    /// L, and between the rest it defers to the behaviour, as action
    /// elimination (Even-Dar, Mannor & Mansour 2006) and SPIBB (Laroche,
    /// Trichelair & Tachet des Combes 2019) do. With every bound at the
    /// floor nothing is eliminated and it is π̂_β; once the intervals
    /// separate it is greedy. Where the bound is at the floor, L + 2β·u
    /// exceeds Q + β·u: fewer actions are eliminated, never more. Where
    /// π̂_β gives the survivors no mass, greedy on L.
    pub fn row(self, q: &[f64], width: &[f64], behavior: &[f64], out: &mut [f64]) {
        match self {
            Act::Greedy => one_hot(solve::argmax(q.iter().copied()), out),
            Act::Behavior => out.copy_from_slice(behavior),
            Act::Uniform => out.fill(1.0 / out.len() as f64),
            Act::Admitted { tau } => {
                let top = solve::max_value(behavior);
                let admitted = q
                    .iter()
                    .zip(behavior)
                    .map(|(&x, &p)| if p >= tau * top { x } else { f64::NEG_INFINITY });
                one_hot(solve::argmax(admitted), out);
            }
            Act::Tilted { temperature, .. } => tilt(behavior, q, temperature, out),
            Act::Lower { beta, ceiling, .. } => {
                assert_eq!(width.len(), q.len(), "the bound's rule reads u(s,·)");
                let best = solve::max_value(q);
                let mut mass = 0.0;
                for (((o, &x), &u), &p) in out.iter_mut().zip(q).zip(width).zip(behavior) {
                    *o = if (x + 2.0 * beta * u).min(ceiling) >= best {
                        p
                    } else {
                        0.0
                    };
                    mass += *o;
                }
                if mass > 0.0 {
                    for o in out.iter_mut() {
                        *o /= mass;
                    }
                } else {
                    one_hot(solve::argmax(q.iter().copied()), out);
                }
            }
            Act::Regularized { lambda, .. } => {
                if lambda == 0.0 {
                    out.copy_from_slice(behavior);
                    return;
                }
                for ((o, p), x) in out.iter_mut().zip(behavior).zip(q) {
                    *o = p + lambda * x / 2.0;
                }
                project_to_simplex(out);
            }
        }
    }

    /// The tilt of a learner whose temperature and value unit U are
    /// these: π ∝ π̂_β exp((clip(Q, range) − β·u) / temperature) with β =
    /// [`WIDTH_PRICE`] · U, range the returns the rewards allow.
    pub fn tilted(temperature: f64, unit: f64, range: (f64, f64)) -> Act {
        Act::Tilted {
            temperature,
            beta: WIDTH_PRICE * unit,
            range,
        }
    }

    /// Whether the rule reads the data's uncertainty u(o,·) ([`Act::bound`]).
    pub fn reads_support(self) -> bool {
        match self {
            Act::Lower { .. } => true,
            Act::Tilted { beta, .. } | Act::Regularized { beta, .. } => beta > 0.0,
            _ => false,
        }
    }

    /// Q(o,·) into what the rule acts on, from the uncertainty `width`
    /// u(o,·): the lower bound Q − β·u clipped to [floor, ceiling] for
    /// [`Act::Lower`],
    /// clip(Q, range) − β·u for a penalised [`Act::Tilted`] (θ's
    /// extrapolation off the data is not bounded by the rewards, and
    /// unclipped it outran any penalty: 2e3 on Acrobot 1k, where returns
    /// lie in [−100, 0]), Q − β·u for a penalised [`Act::Regularized`],
    /// which is also what the learner believes of o; Q itself otherwise.
    pub fn bound(self, q: &mut [f64], width: &[f64]) {
        match self {
            Act::Lower {
                beta,
                floor,
                ceiling,
            } => {
                for (x, u) in q.iter_mut().zip(width) {
                    *x = (*x - beta * u).max(floor).min(ceiling);
                }
            }
            Act::Tilted {
                beta,
                range: (lo, hi),
                ..
            } if beta > 0.0 => {
                for (x, u) in q.iter_mut().zip(width) {
                    *x = x.clamp(lo, hi) - beta * u;
                }
            }
            Act::Regularized { beta, .. } if beta > 0.0 => {
                for (x, u) in q.iter_mut().zip(width) {
                    *x -= beta * u;
                }
            }
            _ => {}
        }
    }

    /// [`Act::row`] of every state, for a rule that reads no uncertainty.
    pub fn table(self, behavior: &Policy, q: ArrayView2<f64>) -> Policy {
        table_by(behavior, q, |f, b, out| self.row(f, &[], b, out))
    }
}

/// π(·|s) of every state by `row`, a rule mapping (Q(s,·), π̂_β(·|s)) to
/// π(·|s) ([`Act::row`], or a learner's variation of it).
pub fn table_by(
    behavior: &Policy,
    q: ArrayView2<f64>,
    mut row: impl FnMut(&[f64], &[f64], &mut [f64]),
) -> Policy {
    let mut pi = Array2::zeros(q.dim());
    for ((b, f), mut out) in behavior
        .outer_iter()
        .zip(q.outer_iter())
        .zip(pi.outer_iter_mut())
    {
        row(
            f.to_slice().expect("rows are contiguous"),
            b.to_slice().expect("rows are contiguous"),
            out.as_slice_mut().expect("rows are contiguous"),
        );
    }
    pi
}

fn one_hot(a: usize, out: &mut [f64]) {
    out.fill(0.0);
    out[a] = 1.0;
}

/// The Euclidean projection onto {π ≥ 0, Σ π = 1}, in place (Duchi,
/// Shalev-Shwartz, Singer & Chandra 2008): π = max(y − θ, 0) with θ from the
/// sorted values.
fn project_to_simplex(y: &mut [f64]) {
    // SPEED: a row of a few actions sorts on the stack.
    let (mut stack, mut heap) = ([0.0; 16], Vec::new());
    let sorted = if y.len() <= stack.len() {
        &mut stack[..y.len()]
    } else {
        heap.extend_from_slice(y);
        &mut heap[..]
    };
    sorted.copy_from_slice(y);
    sorted.sort_by(|a, b| b.total_cmp(a));
    let (mut sum, mut theta) = (0.0, 0.0);
    for (j, &u) in sorted.iter().enumerate() {
        sum += u;
        let t = (sum - 1.0) / (j + 1) as f64;
        if u - t > 0.0 {
            theta = t;
        }
    }
    for x in y.iter_mut() {
        *x = (*x - theta).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each rule on one row: the constraint holds, the tilt and the
    /// projection are distributions, and their limits are π̂_β.
    #[test]
    fn each_rule_gives_a_distribution_within_its_constraint() {
        let q = [1.0, 5.0, 2.0];
        let b = [0.6, 0.05, 0.35];
        let mut out = [0.0; 3];
        Act::Greedy.row(&q, &[], &b, &mut out);
        assert_eq!(out, [0.0, 1.0, 0.0]);
        Act::Admitted { tau: 0.3 }.row(&q, &[], &b, &mut out);
        assert_eq!(out, [0.0, 0.0, 1.0], "action 1 is below τ");
        Act::Admitted { tau: 0.0 }.row(&q, &[], &b, &mut out);
        assert_eq!(out, [0.0, 1.0, 0.0]);
        Act::Behavior.row(&q, &[], &b, &mut out);
        assert_eq!(out, b);
        for act in [
            Act::Tilted {
                temperature: 1.0,
                beta: 0.0,
                range: (f64::NEG_INFINITY, f64::INFINITY),
            },
            Act::Regularized {
                lambda: 0.3,
                beta: 0.0,
            },
        ] {
            act.row(&q, &[], &b, &mut out);
            assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{act:?}");
            assert!(out.iter().all(|&p| p >= 0.0), "{act:?}");
        }
        Act::Tilted {
            temperature: 1e12,
            beta: 0.0,
            range: (f64::NEG_INFINITY, f64::INFINITY),
        }
        .row(&q, &[], &b, &mut out);
        assert!(out.iter().zip(b).all(|(p, b)| (p - b).abs() < 1e-9));
        Act::Regularized {
            lambda: 0.0,
            beta: 0.0,
        }
        .row(&q, &[], &b, &mut out);
        assert_eq!(out, b);
        let lower = Act::Lower {
            beta: 2.0,
            floor: -1.0,
            ceiling: 4.0,
        };
        let mut bound = q;
        let width = [0.25, 3.0, 0.0];
        lower.bound(&mut bound, &width);
        assert_eq!(
            bound,
            [0.5, -1.0, 2.0],
            "Q − βu clipped to [floor, ceiling]"
        );
        lower.row(&bound, &[0.2; 3], &b, &mut out);
        assert_eq!(out, [0.0, 0.0, 1.0], "greedy where the intervals separate");
        // Action 0's interval [0.5, 1.5] lies below action 2's bound 2;
        // action 1's [−1, 4] (capped) does not.
        lower.row(&bound, &width, &b, &mut out);
        let want = [0.0, 0.05 / 0.4, 0.35 / 0.4];
        assert!(
            out.iter().zip(want).all(|(p, w)| (p - w).abs() < 1e-12),
            "π̂_β on the actions not eliminated: {out:?}"
        );
        lower.row(&[-1.0; 3], &[0.0; 3], &b, &mut out);
        assert_eq!(out, b, "π̂_β where every bound is at the floor");
        let mut capped = [9.0; 3];
        lower.bound(&mut capped, &[0.0; 3]);
        assert_eq!(capped, [4.0; 3], "never above the ceiling");
        lower.row(
            &[3.0, 2.5, 0.0],
            &[0.0, 0.5, 0.0],
            &[0.0, 0.0, 1.0],
            &mut out,
        );
        assert_eq!(
            out,
            [1.0, 0.0, 0.0],
            "greedy where π̂_β gives the survivors no mass"
        );
        let plain = Act::Tilted {
            temperature: 1.0,
            beta: 0.0,
            range: (0.0, 3.0),
        };
        assert!(lower.reads_support() && !plain.reads_support());
        let mut same = q;
        plain.bound(&mut same, &[0.5, 3.0, 0.0]);
        assert_eq!(same, q, "no penalty at β = 0");
        let priced = Act::Tilted {
            temperature: 1.0,
            beta: 2.0,
            range: (0.0, 3.0),
        };
        assert!(priced.reads_support());
        let mut bound = q;
        priced.bound(&mut bound, &[0.5, 4.0, 0.0]);
        assert_eq!(bound, [0.0, -5.0, 2.0], "clip(Q, range) − βu, no floor");
        priced.row(&bound, &[], &b, &mut out);
        assert!(
            out[1] < b[1],
            "the uncertain action loses its tilt: {out:?}"
        );
    }

    /// The projection is the closest point of the simplex: no other point
    /// of a fine grid is nearer.
    #[test]
    fn projection_is_the_nearest_point_of_the_simplex() {
        for y in [
            [0.3, 0.9, -0.4],
            [5.0, 5.0, 5.0],
            [-1.0, -2.0, 0.2],
            [0.2, 0.3, 0.5],
        ] {
            let mut p = y;
            project_to_simplex(&mut p);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p.iter().all(|&x| x >= 0.0));
            let dist = |q: &[f64]| q.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
            for i in 0..=100 {
                for j in 0..=(100 - i) {
                    let q = [
                        f64::from(i) / 100.0,
                        f64::from(j) / 100.0,
                        f64::from(100 - i - j) / 100.0,
                    ];
                    assert!(dist(&p) <= dist(&q) + 1e-12, "{y:?}: {p:?} vs {q:?}");
                }
            }
        }
    }
}
