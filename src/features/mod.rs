//! Representations: Q(s,a) = θᵀφ(s,a). The table is the one-hot case;
//! every other kind shares parameters between pairs, so one update moves
//! many values — which is how function approximation lets Q run away where
//! a table only keeps its initial values.
//!
//! A spec's `features = { kind = "...", ... }` reads into a [`FeatureSpec`]
//! (part of the run id); [`FeatureSpec::build`] gives the matrix [`Phi`] of
//! every state-action pair of a tabular environment, and
//! [`FeatureSpec::observations`] the features of a continuous
//! environment's observations ([`observation`]). What each kind can
//! represent:
//! - `onehot`: any Q (the table, as a linear model);
//! - `tile` (Sutton & Barto §9.5.4): piecewise-constant Q over the state's
//!   coordinates, at the resolution of the tiles; hashed when the tilings
//!   hold more tiles than `size`;
//! - `rbf`: smooth Q over the coordinates (Gaussian bumps on a grid of
//!   `centres` per coordinate, or with `centres = "kmeans"` at `k` centres
//!   that k-means places, see below);
//! - `poly`: polynomials of the coordinates up to `degree` — the optimal Q
//!   of a grid world is not one, so some error always remains;
//! - `fourier` (Konidaris, Osentoski & Thomas 2011): cos(π c·x) for every
//!   c ∈ {0, …, `order`}^k over the k coordinates x: (order + 1)^k
//!   features, smooth and global; the count grows as a power of k, so a
//!   high order on many coordinates is refused past [`MAX_DIM`];
//! - `random`: `dim` Gaussian random projections of the state's one-hot
//!   code (Johnson–Lindenstrauss); exact only when `dim` ≥ the states;
//! - `grid`: a bias, the normalised coordinates and the distance to the
//!   nearest goal — coarse, far from Q*;
//! - `env`: the environment's own classic features (Baird-v0, TwoState-v0),
//!   chosen to break off-policy learning.
//!
//! k-means centres (`centres = "kmeans"`, `k` = 16) cluster the
//! coordinates of every state of the environment, not the dataset's: the
//! features are the representation, fixed before any data, so runs on
//! datasets of every size and quality share them (a figure across sizes
//! then compares the data, not the bases), unseen states keep centres near
//! them (the states the data never visit are where Q extrapolates, and
//! where it should be seen to), and the same features serve evaluation and
//! FQE of any policy. They follow the state layout where a grid cannot
//! (any `k`, Taxi's 4-D cells), and k-means++ draws the start from the
//! run's seed: the same seed, the same centres.
//!
//! Actions (`actions`, except for `env`): `"blocks"` (default) gives each
//! action its own copy of the state features, φ(s,a) = e_a ⊗ ψ(s), so
//! actions share nothing; `"shared"` gives one trunk and a bias per action,
//! φ(s,a) = [ψ(s); e_a], so Q(s,a) = wᵀψ(s) + b_a generalises across
//! actions: the action gaps are the same in every state.

mod basis;
mod coords;
pub mod observation;
mod phi;
mod tile;

pub use coords::state_coordinates;
pub use observation::ObservationFeatures;
pub use phi::{Phi, PsiRow, StateFeatures, StateIndex};
pub use tile::TileCoder;

use crate::error::{Error, Result};
use crate::mdp::TabularMdp;
use crate::params::{ParamReader, ParamValue, Params};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// The `features` kinds a spec may name.
pub const KINDS: [&str; 8] = [
    "onehot", "tile", "rbf", "poly", "fourier", "random", "grid", "env",
];

/// Largest feature dimension a run may ask for (θ and the Gram matrix
/// are dense: 4096² f64s are 128 MiB).
pub const MAX_DIM: usize = 4096;

/// Largest matrix a feature spec may build, in entries (1 GiB of f64s):
/// φ (pairs × features) and every states × features matrix before it. A
/// large environment (an MDP file of a million states) could otherwise
/// ask for more than memory holds within [`MAX_DIM`] features.
pub const MAX_ENTRIES: usize = 1 << 27;

/// A spec's `features` table, resolved: `kind` and every key of that kind
/// with its default. Tabular runs have none (serialised as `"tabular"`,
/// which keeps their run ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Repr", into = "Repr")]
pub struct FeatureSpec(Option<Params>);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Name(String),
    Spec(Params),
}

impl TryFrom<Repr> for FeatureSpec {
    type Error = String;
    fn try_from(repr: Repr) -> std::result::Result<Self, String> {
        match repr {
            Repr::Name(name) if name == "tabular" => Ok(FeatureSpec(None)),
            Repr::Name(name) => Err(format!(
                "features: expected \"tabular\" or a table, got `{name}`"
            )),
            Repr::Spec(params) => FeatureSpec::read(&params).map_err(|e| e.to_string()),
        }
    }
}

impl From<FeatureSpec> for Repr {
    fn from(spec: FeatureSpec) -> Repr {
        match spec.0 {
            None => Repr::Name("tabular".into()),
            Some(params) => Repr::Spec(params),
        }
    }
}

/// How φ(s,a) combines the state's features with the action.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Actions {
    Blocks,
    Shared,
}

impl FeatureSpec {
    /// No features: the learner keeps a table.
    pub fn tabular() -> Self {
        FeatureSpec(None)
    }

    /// Validates a `features` table and fills in its defaults.
    pub fn read(given: &Params) -> Result<Self> {
        let mut r = ParamReader::new("features", given);
        let kind = r.choice("kind", "onehot", &KINDS)?;
        read_kind(&mut r, given, kind)?;
        Ok(FeatureSpec(Some(r.finish()?)))
    }

    /// Tile coding of `tilings` grids of `tiles` per component, hashed
    /// into `size` slots when they hold more (`kind = "tile"`).
    pub fn tile(tilings: usize, tiles: usize, size: usize) -> Result<Self> {
        let number = |x: usize| ParamValue::Number(x as f64);
        let given: Params = [
            ("kind", ParamValue::Text("tile".into())),
            ("tilings", number(tilings)),
            ("tiles", number(tiles)),
            ("size", number(size)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self::read(&given)
    }

    pub fn is_tabular(&self) -> bool {
        self.0.is_none()
    }

    /// `tabular`, or `tile tilings=8 tiles=4 …` (keys in order).
    pub fn label(&self) -> String {
        match &self.0 {
            None => "tabular".into(),
            Some(p) => {
                let kind = text(p, "kind");
                let rest: Vec<String> = p
                    .iter()
                    .filter(|(k, _)| *k != "kind")
                    .map(|(k, v)| match v {
                        ParamValue::Text(s) => format!("{k}={s}"),
                        v => format!("{k}={v}"),
                    })
                    .collect();
                std::iter::once(kind)
                    .chain(rest)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        }
    }

    /// The bytes of the largest matrix [`FeatureSpec::build`] allocates on
    /// `mdp`, from the spec's numbers and the environment's shape alone
    /// (nothing is built, every product is checked), or an error naming
    /// the key when a size passes [`MAX_DIM`] or [`MAX_ENTRIES`], k-means
    /// asks for more centres than states, or `env` features do not exist.
    /// Spec validation calls it, so a spec that cannot fit in memory is
    /// refused where it is written instead of aborting the process that
    /// builds it.
    pub fn check_size(&self, mdp: &TabularMdp) -> Result<usize> {
        let Some(p) = &self.0 else {
            return Ok(0);
        };
        let kind = text(p, "kind");
        let refuse = |why: String| {
            Error::Invalid(format!("features {} on {}: {why}", self.label(), mdp.id()))
        };
        let (ns, na) = (mdp.n_states(), mdp.n_actions());
        if kind == "env" {
            let Some(pairs) = mdp.features() else {
                return Err(refuse(
                    "the environment defines no features of its own (Baird-v0 and TwoState-v0 do)"
                        .into(),
                ));
            };
            return Ok(pairs.len() * size_of::<f64>());
        }
        let int = |key: &str| number(p, key) as usize;
        let k = coords::coordinate_count(mdp);
        // ψ(s)'s width (None past usize), what sets it, and the extra
        // states × columns matrix the kind builds on the way.
        let (width, set_by, scratch) = match kind.as_str() {
            "onehot" => (Some(ns), "one feature per state".to_string(), 0),
            "tile" => {
                let (width, set_by) = coordinate_width(p, "tile", k);
                // The active tiles, states × tilings (u32, half an f64).
                (width, set_by, ns.saturating_mul(int("tilings")).div_ceil(2))
            }
            "rbf" if text(p, "centres") == "kmeans" => {
                if int("k") > ns {
                    return Err(refuse(format!(
                        "`k` = {} centres for {ns} states; at most one centre per state",
                        int("k")
                    )));
                }
                (Some(int("k")), format!("`k` = {}", int("k")), 0)
            }
            "rbf" | "poly" | "fourier" => {
                let (width, set_by) = coordinate_width(p, &kind, k);
                (width, set_by, 0)
            }
            "random" => (Some(int("dim")), format!("`dim` = {}", int("dim")), 0),
            "grid" => (
                Some(k + 2),
                "a bias, the coordinates, the distance".into(),
                0,
            ),
            other => unreachable!("kind `{other}` was validated"),
        };
        let dim = pair_dim(p, width, &set_by, na).map_err(refuse)?;
        let width = width.expect("within MAX_DIM");
        let rows = ns * na;
        let largest = [ns * width, rows.saturating_mul(dim), scratch]
            .into_iter()
            .max()
            .expect("three sizes");
        if largest > MAX_ENTRIES {
            return Err(refuse(format!(
                "{rows} pairs × {dim} features need a matrix of {largest} entries, \
                 more than the {MAX_ENTRIES} (1 GiB) allowed"
            )));
        }
        Ok(largest * size_of::<f64>())
    }

    /// φ for every pair of `mdp`; `None` for a table. `seed` draws the
    /// random projections. Sizes are checked first ([`FeatureSpec::check_size`]).
    pub fn build(&self, mdp: &TabularMdp, seed: u64) -> Result<Option<Phi>> {
        self.check_size(mdp)?;
        let Some(p) = &self.0 else {
            return Ok(None);
        };
        let kind = text(p, "kind");
        let phi = if kind == "env" {
            let pairs = mdp.features().expect("check_size found the features");
            Phi::new(pairs.to_owned(), mdp.n_actions())
        } else {
            let states = state_features(p, &kind, mdp, seed)?;
            let actions = match text(p, "actions").as_str() {
                "shared" => Actions::Shared,
                _ => Actions::Blocks,
            };
            Phi::new(
                per_action(states.view(), mdp.n_actions(), actions),
                mdp.n_actions(),
            )
        };
        Ok(Some(phi))
    }
}

fn text(p: &Params, key: &str) -> String {
    match p.get(key) {
        Some(ParamValue::Text(s)) => s.clone(),
        _ => String::new(),
    }
}

fn number(p: &Params, key: &str) -> f64 {
    match p.get(key) {
        Some(ParamValue::Number(x)) => *x,
        _ => f64::NAN,
    }
}

/// ψ's width for the kinds that read coordinates (`k` of them), None
/// past usize, and what sets it (for the error that refuses it).
fn coordinate_width(p: &Params, kind: &str, k: usize) -> (Option<usize>, String) {
    let int = |key: &str| number(p, key) as usize;
    match kind {
        "tile" => (
            Some(TileCoder::new(k, int("tilings"), int("tiles"), int("size")).slots()),
            format!("`size` = {}", int("size")),
        ),
        "rbf" => (
            int("centres").checked_pow(k as u32),
            format!(
                "`centres` = {} per coordinate, {k} coordinates",
                int("centres")
            ),
        ),
        "poly" => (
            basis::monomial_count(k, int("degree")),
            format!("`degree` = {}, {k} coordinates", int("degree")),
        ),
        "fourier" => (
            (int("order") + 1).checked_pow(k as u32),
            format!(
                "`order` = {}: (order + 1)^{k} for {k} coordinates",
                int("order")
            ),
        ),
        other => unreachable!("kind `{other}` reads no coordinates"),
    }
}

/// Features per pair from ψ's `width` and `actions`, or why not: more
/// than [`MAX_DIM`] (`set_by` says what made ψ that wide).
fn pair_dim(
    p: &Params,
    width: Option<usize>,
    set_by: &str,
    na: usize,
) -> std::result::Result<usize, String> {
    let (dim, per_action) = match text(p, "actions").as_str() {
        "shared" => (width.and_then(|w| w.checked_add(na)), "+"),
        _ => (width.and_then(|w| w.checked_mul(na)), "×"),
    };
    let shown = |n: Option<usize>| n.map_or(format!("more than {}", usize::MAX), |n| n.to_string());
    match dim {
        Some(dim) if dim <= MAX_DIM => Ok(dim),
        _ => Err(format!(
            "{} features per state ({set_by}) {per_action} {na} actions (`actions` = \"{}\") \
             is {} features per pair, more than the {MAX_DIM} allowed",
            shown(width),
            text(p, "actions"),
            shown(dim)
        )),
    }
}

/// Reads the keys of `kind` (the same calls decide the defaults for
/// [`FeatureSpec::read`] and the values for [`state_features`]).
fn read_kind(r: &mut ParamReader, given: &Params, kind: &str) -> Result<()> {
    if kind != "env" {
        r.choice("actions", "blocks", &["blocks", "shared"])?;
    }
    let own = |k: &str| match k {
        "tile" => &["tilings", "tiles", "size"][..],
        "rbf" => &["centres", "width", "k"][..],
        "poly" => &["degree"][..],
        "fourier" => &["order"][..],
        "random" => &["dim"][..],
        _ => &[][..],
    };
    for other in KINDS.iter().filter(|k| **k != kind) {
        r.owned_by(own(other), &format!("kind = \"{other}\""));
    }
    match kind {
        "tile" => {
            r.integer("tilings", 8, 1, 64)?;
            r.integer("tiles", 4, 1, 64)?;
            r.integer("size", 512, 1, MAX_DIM as u64)?;
        }
        "rbf" => {
            // A number of centres per coordinate (a grid), or "kmeans".
            if let Some(ParamValue::Text(_)) = given.get("centres") {
                r.choice("centres", "kmeans", &["kmeans"])
                    .map_err(centres_error)?;
                r.integer("k", 16, 1, MAX_DIM as u64)?;
            } else {
                r.integer("centres", 4, 1, 64).map_err(centres_error)?;
                r.owned_by(&["k"], "centres = \"kmeans\"");
            }
            r.number("width", 0.25, 1e-6, 1e6)?;
        }
        "poly" => {
            r.integer("degree", 2, 1, 8)?;
        }
        "fourier" => {
            r.integer("order", 3, 1, 16)?;
        }
        "random" => {
            r.integer("dim", 16, 1, MAX_DIM as u64)?;
        }
        _ => {}
    }
    Ok(())
}

/// A bad `centres` names both its forms.
fn centres_error(e: Error) -> Error {
    match e {
        Error::InvalidParam {
            algo,
            key,
            value,
            reason,
        } => Error::InvalidParam {
            algo,
            key,
            value,
            reason: {
                // A misspelt name keeps the choice's hint; a bad number its reason.
                let (why, hint) = match reason.strip_prefix("valid choices: kmeans") {
                    Some(hint) => (String::new(), hint.to_string()),
                    None => (format!("{reason}; "), String::new()),
                };
                format!(
                    "{why}valid choices: a whole number of centres per coordinate \
                     (a grid, 1 to 64), or \"kmeans\" (with `k` centres){hint}"
                )
            },
        },
        other => other,
    }
}

/// ψ(s) for every state: states × features.
fn state_features(p: &Params, kind: &str, mdp: &TabularMdp, seed: u64) -> Result<Array2<f64>> {
    let int = |k: &str| number(p, k) as usize;
    Ok(match kind {
        "onehot" => Array2::eye(mdp.n_states()),
        "tile" => {
            let coords = state_coordinates(mdp);
            TileCoder::new(coords.ncols(), int("tilings"), int("tiles"), int("size"))
                .dense(coords.view())
        }
        "rbf" if text(p, "centres") == "kmeans" => {
            let coords = state_coordinates(mdp);
            let centres = basis::kmeans_centres(coords.view(), int("k"), seed)?;
            basis::rbf_at(coords.view(), centres.view(), number(p, "width"))
        }
        "rbf" => basis::rbf(
            state_coordinates(mdp).view(),
            int("centres"),
            number(p, "width"),
        ),
        "poly" => basis::poly(state_coordinates(mdp).view(), int("degree")),
        "fourier" => basis::fourier(state_coordinates(mdp).view(), int("order")),
        "random" => basis::random(mdp.n_states(), int("dim"), seed),
        "grid" => basis::grid(mdp)?,
        other => unreachable!("kind `{other}` was validated"),
    })
}

/// φ(s,a) from ψ(s): pairs (row s·|A| + a) × features.
fn per_action(states: ArrayView2<f64>, n_actions: usize, actions: Actions) -> Array2<f64> {
    let (ns, d) = states.dim();
    let width = match actions {
        Actions::Blocks => d * n_actions,
        Actions::Shared => d + n_actions,
    };
    let mut phi = Array2::zeros((ns * n_actions, width));
    for s in 0..ns {
        for a in 0..n_actions {
            let mut row = phi.row_mut(s * n_actions + a);
            match actions {
                Actions::Blocks => row
                    .slice_mut(ndarray::s![a * d..(a + 1) * d])
                    .assign(&states.row(s)),
                Actions::Shared => {
                    row.slice_mut(ndarray::s![..d]).assign(&states.row(s));
                    row[d + a] = 1.0;
                }
            }
        }
    }
    phi
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdp::envs;

    fn spec(pairs: &[(&str, ParamValue)]) -> Result<FeatureSpec> {
        FeatureSpec::read(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn kind(k: &str) -> (&'static str, ParamValue) {
        ("kind", ParamValue::Text(k.into()))
    }

    #[test]
    fn tabular_serialises_as_before_and_tables_round_trip() {
        assert_eq!(
            serde_json::to_string(&FeatureSpec::tabular()).unwrap(),
            "\"tabular\""
        );
        let tile = spec(&[kind("tile")]).unwrap();
        let json = serde_json::to_string(&tile).unwrap();
        assert_eq!(serde_json::from_str::<FeatureSpec>(&json).unwrap(), tile);
        assert_eq!(
            tile.label(),
            "tile actions=blocks size=512 tiles=4 tilings=8"
        );
        assert!(serde_json::from_str::<FeatureSpec>("\"tile\"").is_err());
    }

    #[test]
    fn keys_belong_to_their_kind() {
        let e = spec(&[kind("poly"), ("tilings", ParamValue::Number(8.0))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("kind = \"tile\""), "{e}");
        let e = spec(&[kind("tiles")]).unwrap_err().to_string();
        assert!(e.contains("valid choices") && e.contains("tile"), "{e}");
    }

    /// One-hot blocks are the table: Φθ reads θ back as states × actions.
    #[test]
    fn onehot_blocks_are_the_table() {
        let mdp = envs::make("FrozenLake-v1").unwrap();
        let phi = spec(&[kind("onehot")])
            .unwrap()
            .build(&mdp, 0)
            .unwrap()
            .unwrap();
        let (ns, na) = (mdp.n_states(), mdp.n_actions());
        assert_eq!(phi.dim(), ns * na);
        // Blocks: θ's block a holds action a's column.
        let theta = ndarray::Array1::from_iter((0..ns * na).map(|i| i as f64));
        let q = phi.q(theta.view());
        for s in 0..ns {
            for a in 0..na {
                assert_eq!(q[[s, a]], (a * ns + s) as f64);
            }
        }
    }

    /// Shared features give every state the same action gaps.
    #[test]
    fn shared_actions_share_the_trunk() {
        let mdp = envs::make("FrozenLake8x8-v1").unwrap();
        let phi = spec(&[kind("rbf"), ("actions", ParamValue::Text("shared".into()))])
            .unwrap()
            .build(&mdp, 0)
            .unwrap()
            .unwrap();
        assert_eq!(phi.dim(), 16 + 4);
        let theta = ndarray::Array1::from_iter((0..phi.dim()).map(|i| (i as f64).sin()));
        let q = phi.q(theta.view());
        for s in 1..mdp.n_states() {
            let gap = |s: usize| q[[s, 3]] - q[[s, 0]];
            assert!((gap(s) - gap(0)).abs() < 1e-12);
        }
    }

    fn kmeans(k: f64) -> FeatureSpec {
        spec(&[
            kind("rbf"),
            ("centres", ParamValue::Text("kmeans".into())),
            ("k", ParamValue::Number(k)),
        ])
        .unwrap()
    }

    /// k-means centres: the run's seed decides them, the same seed gives
    /// the same features, and the key is part of the label (so of run ids).
    #[test]
    fn kmeans_centres_follow_the_seed() {
        let mdp = envs::make("FrozenLake8x8-v1").unwrap();
        let coords = state_coordinates(&mdp);
        let centres = |seed| basis::kmeans_centres(coords.view(), 8, seed).unwrap();
        assert_eq!(centres(3), centres(3));
        assert_ne!(centres(3), centres(4));
        // Each centre is the mean of the states nearest to it, inside the map.
        let c = centres(3);
        assert_eq!(c.dim(), (8, 2));
        assert!(c.iter().all(|x| (0.0..=1.0).contains(x)), "{c}");
        let spec = kmeans(8.0);
        assert_eq!(
            spec.label(),
            "rbf actions=blocks centres=kmeans k=8 width=0.25"
        );
        let phi = |seed| spec.build(&mdp, seed).unwrap().unwrap();
        assert_eq!(phi(0), phi(0));
        assert_ne!(phi(0), phi(1));
        assert_eq!(phi(0).dim(), 8 * 4);
        // Taxi's four coordinates, 500 states.
        let taxi = envs::make("Taxi-v4").unwrap();
        assert_eq!(kmeans(16.0).build(&taxi, 0).unwrap().unwrap().dim(), 16 * 6);
    }

    #[test]
    fn kmeans_keys_are_checked_with_the_valid_choices() {
        let centres = |v: ParamValue| {
            spec(&[kind("rbf"), ("centres", v)])
                .unwrap_err()
                .to_string()
        };
        for e in [
            centres(ParamValue::Text("kmean".into())),
            centres(ParamValue::Number(0.0)),
            centres(ParamValue::Number(2.5)),
        ] {
            assert!(
                e.contains("`centres`")
                    && e.contains("valid choices: a whole number of centres per coordinate")
                    && e.contains("\"kmeans\""),
                "{e}"
            );
        }
        assert!(centres(ParamValue::Text("kmean".into())).contains("did you mean `kmeans`"));
        // `k` only with k-means centres, and not more centres than states.
        let e = spec(&[kind("rbf"), ("k", ParamValue::Number(8.0))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("centres = \"kmeans\""), "{e}");
        let e = kmeans(11.0)
            .build(&envs::make("Chain-v10").unwrap(), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`k` = 11 centres for 10 states"), "{e}");
        // Grid centres keep their label (and run ids).
        assert_eq!(
            spec(&[kind("rbf")]).unwrap().label(),
            "rbf actions=blocks centres=4 width=0.25"
        );
    }

    /// Sizes are refused from the spec's numbers, before anything is
    /// allocated: Taxi's 4 coordinates with 64 centres each would be
    /// 500 × 16,777,216 f64s (67 GB) per state matrix alone.
    #[test]
    fn sizes_are_checked_before_allocation() {
        let taxi = envs::make("Taxi-v4").unwrap();
        let rbf = |centres: f64, actions: &str| {
            spec(&[
                kind("rbf"),
                ("centres", ParamValue::Number(centres)),
                ("actions", ParamValue::Text(actions.into())),
            ])
            .unwrap()
        };
        let e = rbf(64.0, "blocks").build(&taxi, 0).unwrap_err().to_string();
        assert!(
            e.contains("Taxi-v4")
                && e.contains(
                    "16777216 features per state (`centres` = 64 per coordinate, 4 coordinates)"
                )
                && e.contains("more than the 4096 allowed"),
            "{e}"
        );
        // Blocks multiply by the actions, shared adds them.
        assert!(rbf(7.0, "blocks").check_size(&taxi).is_err());
        assert_eq!(
            rbf(7.0, "shared").check_size(&taxi).unwrap(),
            3000 * (2401 + 6) * 8
        );
        let bytes = spec(&[kind("poly"), ("degree", ParamValue::Number(8.0))])
            .unwrap()
            .check_size(&taxi)
            .unwrap();
        assert_eq!(bytes, 3000 * 495 * 6 * 8);
        let e = kmeans(501.0).check_size(&taxi).unwrap_err().to_string();
        assert!(e.contains("`k` = 501 centres for 500 states"), "{e}");
    }

    #[test]
    fn env_kind_needs_the_environments_own_features() {
        let e = spec(&[kind("env")])
            .unwrap()
            .build(&envs::make("Taxi-v4").unwrap(), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Baird-v0"), "{e}");
    }

    #[test]
    fn every_kind_builds_on_every_grid_world() {
        for id in [
            "FrozenLake8x8-v1",
            "CliffWalkingSlippery-v1",
            "Taxi-v4",
            "Chain-v10",
        ] {
            let mdp = envs::make(id).unwrap();
            for k in KINDS.iter().filter(|k| **k != "env") {
                let phi = spec(&[kind(k)]).unwrap().build(&mdp, 0).unwrap().unwrap();
                assert_eq!(phi.n_states(), mdp.n_states(), "{id} {k}");
                assert!(
                    phi.matrix().unwrap().iter().all(|x| x.is_finite()),
                    "{id} {k}"
                );
            }
            let phi = kmeans(8.0).build(&mdp, 0).unwrap().unwrap();
            assert_eq!(phi.n_states(), mdp.n_states(), "{id} k-means");
            assert!(
                phi.matrix().unwrap().iter().all(|x| x.is_finite()),
                "{id} k-means"
            );
        }
    }
}
