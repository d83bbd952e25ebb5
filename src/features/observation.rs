//! Features of a continuous environment's observations, for the
//! sample-based form of a dataset of observations
//! ([`crate::data::samples`]), whose states are the observations
//! themselves: ψ(o) is computed once per sample state and kept by its
//! nonzeros ([`StateFeatures`]).
//!
//! The spec is the same `features` table as for a tabular environment, and
//! a kind means the same thing: each observation component is scaled to
//! [0, 1] by its range ([`Description::feature_bounds`]: the documented
//! bounds; CartPole's velocities, which Gymnasium leaves unbounded, the
//! ranges stated in `env/cart_pole.rs`), clamped there, and these scaled
//! components are the coordinates the kinds read:
//! - `tile` (Sutton & Barto §9.5.4, [`TileCoder`]): `tilings` grids of
//!   `tiles` per component, tiling t displaced by (1, 3, 5, …)·t/tilings of
//!   a tile along the components (the book's asymmetric displacement),
//!   hashed into `size` slots when the tilings hold more tiles; `tilings =
//!   1` is the one-hot code of a grid's cells, the discretised observation;
//! - `rbf`: Gaussian bumps on a grid of `centres` per component, `width`
//!   in scaled units (the grid's spacing is 1/(centres − 1));
//! - `poly`: the monomials of the scaled components up to `degree`;
//! - `fourier`: cos(π c·x) for every c ∈ {0, …, `order`}^d, (order + 1)^d
//!   features: MountainCar's 2 components at order 3 are 16, Acrobot's 6
//!   are 4096 (× 3 actions, refused: more than [`super::MAX_DIM`]).
//!
//! Kinds that need a table of states are refused, each with why: `onehot`
//! (one feature per state; use `tile` with `tilings = 1`), `rbf` with
//! `centres = "kmeans"` (it clusters every state of the environment),
//! `random` (projections of a state's one-hot code), `grid` (the distance
//! to a grid world's goal) and `env` (an MDP's own features).
//!
//! Actions as for a tabular environment: `"blocks"` (default), φ(o,a) =
//! e_a ⊗ ψ(o), or `"shared"`, φ(o,a) = [ψ(o); e_a].

use super::phi::{PsiRow, StateFeatures};
use super::{
    Actions, FeatureSpec, MAX_ENTRIES, Phi, TileCoder, basis, coordinate_width, number, pair_dim,
    text,
};
use crate::env::Description;
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2};

/// A spec's features of one environment's observations.
#[derive(Debug, Clone)]
pub struct ObservationFeatures {
    env: &'static str,
    label: String,
    kind: Kind,
    /// Per component: its low end and 1 / (high − low).
    scale: Vec<(f64, f64)>,
    actions: Actions,
    n_actions: usize,
    /// Features per observation.
    width: usize,
}

#[derive(Debug, Clone)]
enum Kind {
    Tile(TileCoder),
    Rbf { centres: usize, width: f64 },
    Poly { degree: usize },
    Fourier { order: usize },
}

impl FeatureSpec {
    /// The features of `env`'s observations this spec asks for; an error
    /// names a kind that needs a table of states, or the key that makes
    /// them wider than [`super::MAX_DIM`] per pair. A tabular spec has none.
    pub fn observations(&self, env: &'static Description) -> Result<ObservationFeatures> {
        let Some(p) = &self.0 else {
            return Err(Error::Invalid(format!(
                "{}: a continuous environment needs features (`features = {{ kind = \"tile\" }}`, \
                 \"rbf\", \"poly\" or \"fourier\"): its states are not a table",
                env.id
            )));
        };
        let refuse = |why: String| {
            Error::Invalid(format!(
                "features {} on {}'s observations: {why}",
                self.label(),
                env.id
            ))
        };
        let kind = text(p, "kind");
        let why_not = match kind.as_str() {
            "onehot" => Some(
                "`onehot` is one feature per state of a table; \
                 `kind = \"tile\", tilings = 1` is the one-hot code of a grid's cells",
            ),
            "rbf" if text(p, "centres") == "kmeans" => Some(
                "k-means centres cluster every state of a tabular environment; \
                 use a grid of `centres` per component",
            ),
            "random" => Some("`random` projects a state's one-hot code, which needs a table"),
            "grid" => Some("`grid` measures the distance to a grid world's goal"),
            "env" => Some("`env` is an MDP's own features (Baird-v0, TwoState-v0)"),
            _ => None,
        };
        if let Some(why) = why_not {
            return Err(refuse(format!(
                "{why}; observations take `tile`, `rbf`, `poly` or `fourier`"
            )));
        }
        let d = env.feature_bounds.len();
        let (width, set_by) = coordinate_width(p, &kind, d);
        let n_actions = env.actions.len();
        pair_dim(p, width, &set_by, n_actions).map_err(refuse)?;
        let int = |key: &str| number(p, key) as usize;
        let kind = match kind.as_str() {
            "tile" => Kind::Tile(TileCoder::new(d, int("tilings"), int("tiles"), int("size"))),
            "rbf" => Kind::Rbf {
                centres: int("centres"),
                width: number(p, "width"),
            },
            "poly" => Kind::Poly {
                degree: int("degree"),
            },
            "fourier" => Kind::Fourier {
                order: int("order"),
            },
            other => unreachable!("kind `{other}` was refused"),
        };
        Ok(ObservationFeatures {
            env: env.id,
            label: self.label(),
            kind,
            scale: env
                .feature_bounds
                .iter()
                .map(|&(lo, hi)| (lo, 1.0 / (hi - lo)))
                .collect(),
            actions: match text(p, "actions").as_str() {
                "shared" => Actions::Shared,
                _ => Actions::Blocks,
            },
            n_actions,
            width: width.expect("pair_dim checked it"),
        })
    }
}

impl ObservationFeatures {
    /// Features per observation, ψ's width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Nonzeros per observation.
    fn nonzeros(&self) -> usize {
        match &self.kind {
            Kind::Tile(coder) => coder.tilings(),
            _ => self.width,
        }
    }

    /// Observations (rows) scaled to [0, 1] per component and clamped
    /// there; an error names a row of the wrong length or with a number
    /// that is not finite.
    pub fn coordinates(&self, obs: ArrayView2<f64>) -> Result<Array2<f64>> {
        let d = self.scale.len();
        if obs.ncols() != d {
            return Err(Error::Invalid(format!(
                "{}: observations of {} components, expected {d}",
                self.env,
                obs.ncols()
            )));
        }
        if let Some((row, _)) = obs
            .rows()
            .into_iter()
            .enumerate()
            .find(|(_, o)| o.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::Invalid(format!(
                "{}: observation {row} holds a number that is not finite: {}",
                self.env,
                obs.row(row)
            )));
        }
        Ok(Array2::from_shape_fn(obs.dim(), |(i, c)| {
            let (lo, inv) = self.scale[c];
            ((obs[[i, c]] - lo) * inv).clamp(0.0, 1.0)
        }))
    }

    /// ψ of every observation (rows), kept by its nonzeros; an error when
    /// they would pass [`MAX_ENTRIES`].
    pub fn states(&self, obs: ArrayView2<f64>) -> Result<StateFeatures> {
        let entries = obs.nrows().saturating_mul(self.nonzeros());
        if entries > MAX_ENTRIES {
            return Err(Error::Invalid(format!(
                "features {} on {}: {} observations × {} nonzero features each are {entries} \
                 entries, more than the {MAX_ENTRIES} allowed",
                self.label,
                self.env,
                obs.nrows(),
                self.nonzeros()
            )));
        }
        let x = self.coordinates(obs)?;
        Ok(match &self.kind {
            Kind::Tile(coder) => StateFeatures::ones(
                coder.slots(),
                coder.tilings(),
                coder.active(x.view()).into_raw_vec_and_offset().0,
            ),
            Kind::Rbf { centres, width } => {
                StateFeatures::dense(basis::rbf(x.view(), *centres, *width))
            }
            Kind::Poly { degree } => StateFeatures::dense(basis::poly(x.view(), *degree)),
            Kind::Fourier { order } => StateFeatures::dense(basis::fourier(x.view(), *order)),
        })
    }

    /// ψ of one observation into `row`, the same bits as [`Self::states`]
    /// gives its row. Tile coding allocates nothing once `row` has grown;
    /// the dense kinds compute their row through the batch functions.
    /// The observation must have the environment's components, finite
    /// (an environment's own observations do).
    pub fn psi_into(&self, obs: &[f64], row: &mut PsiRow) {
        debug_assert_eq!(obs.len(), self.scale.len());
        row.coords.clear();
        row.coords.extend(
            obs.iter()
                .zip(&self.scale)
                .map(|(&x, &(lo, inv))| ((x - lo) * inv).clamp(0.0, 1.0)),
        );
        row.columns.clear();
        row.values.clear();
        let one = || ArrayView2::from_shape((1, row.coords.len()), &row.coords).expect("1 × d");
        let dense = match &self.kind {
            Kind::Tile(coder) => {
                row.columns.resize(coder.tilings(), 0);
                coder.active_one(&row.coords, &mut row.columns);
                return;
            }
            Kind::Rbf { centres, width } => basis::rbf(one(), *centres, *width),
            Kind::Poly { degree } => basis::poly(one(), *degree),
            Kind::Fourier { order } => basis::fourier(one(), *order),
        };
        row.values.extend(dense.iter());
    }

    /// φ(o, a) of every observation (rows) and action, row o·|A| + a.
    pub fn phi(&self, obs: ArrayView2<f64>) -> Result<Phi> {
        Ok(Phi::of_states(
            self.states(obs)?,
            self.n_actions,
            self.actions,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{acrobot, cart_pole, mountain_car};
    use crate::params::{ParamValue, Params};
    use ndarray::array;

    fn spec(pairs: &[(&str, ParamValue)]) -> FeatureSpec {
        let params: Params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        FeatureSpec::read(&params).unwrap()
    }

    fn kind(k: &str) -> (&'static str, ParamValue) {
        ("kind", ParamValue::Text(k.into()))
    }

    fn num(key: &'static str, x: f64) -> (&'static str, ParamValue) {
        (key, ParamValue::Number(x))
    }

    /// Tile coding of scaled observations is the tile coder's on the
    /// coordinates the bounds give; one row per observation, `tilings`
    /// ones each; 8 tilings of 8×8 on MountainCar hash into 512 slots.
    #[test]
    fn tiles_code_the_scaled_observations() {
        let features = spec(&[kind("tile"), num("tiles", 8.0)])
            .observations(&mountain_car::DESCRIPTION)
            .unwrap();
        assert_eq!(features.width(), 512);
        let obs = array![[-1.2, -0.07], [0.6, 0.07], [-0.3, 0.0], [5.0, -9.0]];
        let x = features.coordinates(obs.view()).unwrap();
        assert_eq!(x, array![[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [1.0, 0.0]]);
        let phi = features.phi(obs.view()).unwrap();
        assert_eq!((phi.n_states(), phi.n_actions(), phi.dim()), (4, 3, 1536));
        let dense = TileCoder::new(2, 8, 8, 512).dense(x.view());
        // θ = column numbers: φ(o, a)ᵀθ sums the active columns of block a.
        let theta = ndarray::Array1::from_iter((0..1536).map(f64::from));
        let q = phi.q(theta.view());
        for o in 0..4 {
            for a in 0..3 {
                let want: f64 = (0..512)
                    .map(|c| dense[[o, c]] * f64::from((a * 512 + c) as u32))
                    .sum();
                assert_eq!(q[[o, a]], want);
            }
        }
    }

    /// Fourier features are cos(π c·x) over c ∈ {0..n}^d, the constant
    /// first; an order too high for the components is refused with the
    /// count.
    #[test]
    fn fourier_features_and_their_cap() {
        let features = spec(&[kind("fourier"), num("order", 2.0)])
            .observations(&mountain_car::DESCRIPTION)
            .unwrap();
        assert_eq!(features.width(), 9);
        let x = array![[0.25, 0.5]];
        let psi = basis::fourier(x.view(), 2);
        // c = (1, 2) is column 1·3 + 2.
        let want = (std::f64::consts::PI * (0.25 + 2.0 * 0.5)).cos();
        assert!((psi[[0, 5]] - want).abs() < 1e-15);
        assert_eq!(psi[[0, 0]], 1.0);
        let e = spec(&[kind("fourier")])
            .observations(&acrobot::DESCRIPTION)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("4096 features per state (`order` = 3: (order + 1)^6 for 6 coordinates)")
                && e.contains("12288 features per pair, more than the 4096 allowed"),
            "{e}"
        );
    }

    /// Kinds that need a table are refused with why and what to use.
    #[test]
    fn table_kinds_are_refused_on_observations() {
        let d = &cart_pole::DESCRIPTION;
        for (k, says) in [
            ("onehot", "tilings = 1"),
            ("random", "one-hot code"),
            ("grid", "goal"),
            ("env", "Baird-v0"),
        ] {
            let e = spec(&[kind(k)]).observations(d).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("CartPole-v1"), "{k}: {e}");
        }
        let kmeans = spec(&[kind("rbf"), ("centres", ParamValue::Text("kmeans".into()))]);
        let e = kmeans.observations(d).unwrap_err().to_string();
        assert!(e.contains("grid of `centres`"), "{e}");
        let e = FeatureSpec::tabular().observations(d).unwrap_err();
        assert!(e.to_string().contains("needs features"), "{e}");
    }

    #[test]
    fn bad_observations_are_named() {
        let features = spec(&[kind("rbf")])
            .observations(&cart_pole::DESCRIPTION)
            .unwrap();
        assert_eq!(features.width(), 256);
        let e = features.coordinates(array![[0.0, 0.0]].view()).unwrap_err();
        assert!(e.to_string().contains("2 components, expected 4"), "{e}");
        let e = features
            .coordinates(array![[0.0; 4], [0.0, f64::NAN, 0.0, 0.0]].view())
            .unwrap_err();
        assert!(e.to_string().contains("observation 1"), "{e}");
    }
}
