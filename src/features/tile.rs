//! Tile coding (Sutton & Barto §9.5.4): `tilings` grids of `tiles` per
//! coordinate over [0, 1]^k, each shifted by an asymmetric displacement
//! (1, 3, 5, …)/tilings of a tile, so a state activates one tile per
//! tiling. When the tilings hold more tiles than `size`, tiles are hashed
//! into `size` slots (collisions share a weight: coarser, never wrong; a
//! tile number too large for 32 bits wraps before hashing, which is one
//! more collision).

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// A tile coder for states with `dims` coordinates.
#[derive(Debug, Clone)]
pub struct TileCoder {
    dims: usize,
    tilings: usize,
    tiles: usize,
    /// Tiles per tiling: (tiles + 1)^dims (one extra to cover the shift).
    per_tiling: usize,
    /// Slots: every tile, or `size` when hashing.
    slots: usize,
    hashed: bool,
    /// Tiling t's displacement along coordinate d, (2d + 1)·t mod T, at
    /// `d·T + t`.
    shifts: Vec<u32>,
}

impl TileCoder {
    pub fn new(dims: usize, tilings: usize, tiles: usize, size: usize) -> Self {
        let per_tiling = (tiles + 1).checked_pow(dims as u32).unwrap_or(usize::MAX);
        let total = per_tiling.saturating_mul(tilings);
        let shifts = (0..dims)
            .flat_map(|d| (0..tilings).map(move |t| ((2 * d + 1) * t % tilings) as u32))
            .collect();
        TileCoder {
            dims,
            tilings,
            tiles,
            per_tiling,
            slots: total.min(size),
            hashed: total > size,
            shifts,
        }
    }

    /// Features per state.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The active slot of each tiling for each state (states × tilings),
    /// from coordinates in [0, 1] (states × dims).
    ///
    /// Tiling t's displacement along coordinate d is k/T of a tile with the
    /// integer k = (2d + 1)·t mod T, so its tile is ⌊(⌊v·n·T⌋ + k) / T⌋:
    /// one float conversion per coordinate, then integer steps per tiling
    /// (a shift when T is a power of two).
    pub fn active(&self, states: ArrayView2<f64>) -> Array2<u32> {
        assert_eq!(states.ncols(), self.dims, "coordinates per state");
        let (n, tilings) = (states.nrows(), self.tilings);
        let states = states.as_standard_layout();
        let coords = states.as_slice().expect("standard layout");
        let mut out = vec![0u32; n * tilings];
        // Blocks of states, in parallel: each writes only its own rows.
        const BLOCK: usize = 4096;
        out.par_chunks_mut(BLOCK * tilings)
            .zip(coords.par_chunks(BLOCK * self.dims))
            .for_each(|(out, coords)| self.encode(coords, out));
        Array2::from_shape_vec((n, tilings), out).expect("states × tilings")
    }

    /// The active slot of each tiling for one state's coordinates in
    /// [0, 1], into `out` (one per tiling), allocating nothing.
    pub fn active_one(&self, coords: &[f64], out: &mut [u32]) {
        assert_eq!(coords.len(), self.dims, "coordinates per state");
        out.fill(0);
        self.encode(coords, out);
    }

    pub fn tilings(&self) -> usize {
        self.tilings
    }

    /// [`TileCoder::active`] for one block of states, into `out` (zeros).
    fn encode(&self, coords: &[f64], out: &mut [u32]) {
        let shifts = &self.shifts;
        let tilings = self.tilings;
        let fine = (self.tiles * tilings) as f64;
        let stride = (self.tiles + 1) as u32;
        let (top, t_bits) = (self.tiles as u32, tilings.trailing_zeros());
        let power_of_two = tilings.is_power_of_two();
        for (x, slots) in coords
            .chunks_exact(self.dims)
            .zip(out.chunks_exact_mut(tilings))
        {
            for (d, &v) in x.iter().enumerate() {
                let q = (v.clamp(0.0, 1.0) * fine) as u32;
                let shifts = &shifts[d * tilings..(d + 1) * tilings];
                if power_of_two {
                    for (slot, &k) in slots.iter_mut().zip(shifts) {
                        let i = ((q + k) >> t_bits).min(top);
                        *slot = slot.wrapping_mul(stride).wrapping_add(i);
                    }
                } else {
                    for (slot, &k) in slots.iter_mut().zip(shifts) {
                        let i = ((q + k) / tilings as u32).min(top);
                        *slot = slot.wrapping_mul(stride).wrapping_add(i);
                    }
                }
            }
            if self.hashed {
                for (t, slot) in slots.iter_mut().enumerate() {
                    *slot = hash(t, *slot as usize, self.slots);
                }
            } else {
                for (t, slot) in slots.iter_mut().enumerate() {
                    *slot += (t * self.per_tiling) as u32;
                }
            }
        }
    }

    /// The binary feature matrix (states × slots), 1 on each active slot.
    pub fn dense(&self, states: ArrayView2<f64>) -> Array2<f64> {
        let active = self.active(states);
        let mut out = Array2::zeros((states.nrows(), self.slots));
        for (row, slots) in out.outer_iter_mut().zip(active.outer_iter()) {
            let mut row = row;
            for &slot in slots {
                row[slot as usize] += 1.0;
            }
        }
        out
    }
}

/// Fibonacci hashing of (tiling, tile) into `slots`.
fn hash(tiling: usize, tile: usize, slots: usize) -> u32 {
    let key = (tiling as u64) << 40 ^ tile as u64;
    let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((mixed >> 32) % slots as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn one_tile_per_tiling_and_nearby_states_share_tiles() {
        let coder = TileCoder::new(2, 8, 4, 10_000);
        assert_eq!(coder.slots(), 8 * 25);
        let states = array![[0.10, 0.10], [0.12, 0.11], [0.9, 0.9]];
        let dense = coder.dense(states.view());
        for row in dense.outer_iter() {
            assert_eq!(row.sum(), 8.0);
        }
        let shared = |a: usize, b: usize| dense.row(a).dot(&dense.row(b));
        assert!(shared(0, 1) >= 6.0, "{}", shared(0, 1));
        assert_eq!(shared(0, 2), 0.0);
    }

    #[test]
    fn hashing_keeps_every_slot_in_range() {
        let coder = TileCoder::new(4, 8, 4, 64);
        assert_eq!(coder.slots(), 64);
        let states = Array2::from_shape_fn((500, 4), |(s, d)| ((s * (d + 3)) % 17) as f64 / 16.0);
        let active = coder.active(states.view());
        assert!(active.iter().all(|&s| s < 64));
        // Different states still get different codes.
        assert_ne!(active.row(0), active.row(1));
    }
}
