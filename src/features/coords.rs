//! Where each state sits, for features that generalise between nearby
//! states: the environment's own coordinates, else the grid cell, else the
//! state's index along one axis.

use crate::mdp::TabularMdp;
use ndarray::Array2;

/// How many coordinates [`state_coordinates`] gives each state, without
/// building them.
pub fn coordinate_count(mdp: &TabularMdp) -> usize {
    match (mdp.coordinates(), mdp.grid()) {
        (Some(c), _) => c.ncols(),
        (None, Some(_)) => 2,
        (None, None) => 1,
    }
}

/// States × coordinates, each coordinate scaled to [0, 1].
pub fn state_coordinates(mdp: &TabularMdp) -> Array2<f64> {
    if let Some(c) = mdp.coordinates() {
        return c.clone();
    }
    let scale = |i: usize, n: usize| {
        if n > 1 {
            i as f64 / (n - 1) as f64
        } else {
            0.0
        }
    };
    if let Some(grid) = mdp.grid() {
        return Array2::from_shape_fn((mdp.n_states(), 2), |(s, i)| match i {
            0 => scale(s / grid.cols, grid.rows),
            _ => scale(s % grid.cols, grid.cols),
        });
    }
    let n = mdp.n_states();
    Array2::from_shape_fn((n, 1), |(s, _)| scale(s, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdp::envs;

    #[test]
    fn grid_cells_taxi_fields_and_indices() {
        let lake = state_coordinates(&envs::make("FrozenLake8x8-v1").unwrap());
        assert_eq!(lake.row(63).to_vec(), [1.0, 1.0]);
        assert_eq!(lake.row(8 + 7).to_vec(), [1.0 / 7.0, 1.0]);
        let taxi = state_coordinates(&envs::make("Taxi-v4").unwrap());
        let s = ((4 * 5 + 2) * 5 + 4) * 4 + 3; // row 4, column 2, in the taxi, to 3
        assert_eq!(taxi.row(s).to_vec(), [1.0, 0.5, 1.0, 1.0]);
        let three = state_coordinates(&envs::make("ThreeState-v0").unwrap());
        assert_eq!(three.column(0).to_vec(), [0.0, 0.25, 0.5, 0.75, 1.0]);
        for (id, coords) in [
            ("FrozenLake8x8-v1", lake),
            ("Taxi-v4", taxi),
            ("ThreeState-v0", three),
        ] {
            assert_eq!(
                coordinate_count(&envs::make(id).unwrap()),
                coords.ncols(),
                "{id}"
            );
        }
    }
}
