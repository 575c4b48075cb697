//! Searchlight neighbourhoods: the voxels within a radius of each centre.
//!
//! A sphere of radius `r` (in voxels) around a centre `c` holds every grid position `p` with
//! `|p − c| < r` (Euclidean, in voxel units), or `|p − c| ≤ r` when `inclusive`. The strict `<`
//! is rsatoolbox's rule (`rsatoolbox.util.searchlight._get_searchlight_neighbors`:
//! `data[distance < radius]`), so it is the default: the maps then compare voxel for voxel. At
//! radius 3 a full sphere has 93 voxels (`<`) or 123 (`≤`).
//!
//! Neighbourhoods are found through a grid lookup (a 3-D index volume mapping each grid position
//! to the data column holding that voxel), so building them costs O(V · sphere) rather than
//! O(V²). rsatoolbox's centre-validity rule is reported alongside: of the sphere's positions that
//! lie inside the volume, the share inside the mask (`get_volume_searchlight` keeps a centre when
//! `mask[neighbors].mean() >= threshold`, default threshold 1.0).
use crate::error::Result;
use crate::{bail, ensure};
use ndarray::{ArrayView2, ArrayView3};

/// The integer offsets of a sphere, in a fixed order (x, then y, then z, ascending).
#[derive(Clone, Debug)]
pub struct Sphere {
    /// The radius, in voxels.
    pub radius: f64,
    /// Whether positions at exactly `radius` belong to the sphere (`≤`; rsatoolbox uses `<`).
    pub inclusive: bool,
    offsets: Vec<[i64; 3]>,
}

impl Sphere {
    /// The offsets `o` with `|o| < radius` (or `≤` when `inclusive`). The radius must be a
    /// positive finite number.
    pub fn new(radius: f64, inclusive: bool) -> Result<Sphere> {
        ensure!(
            radius.is_finite() && radius > 0.0,
            "the searchlight radius must be a positive number of voxels, got {radius}"
        );
        let r2 = radius * radius;
        let reach = radius.floor() as i64;
        let mut offsets = Vec::new();
        for dx in -reach..=reach {
            for dy in -reach..=reach {
                for dz in -reach..=reach {
                    let d2 = (dx * dx + dy * dy + dz * dz) as f64;
                    if d2 < r2 || (inclusive && d2 == r2) {
                        offsets.push([dx, dy, dz]);
                    }
                }
            }
        }
        Ok(Sphere {
            radius,
            inclusive,
            offsets,
        })
    }

    /// Positions in a full sphere.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether the sphere has no positions (never, for a valid radius: the centre is one).
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The offsets from the centre, in the fixed order.
    pub fn offsets(&self) -> &[[i64; 3]] {
        &self.offsets
    }
}

/// How a sphere around one centre sits in the volume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Sphere positions inside the volume's bounds.
    pub in_volume: usize,
    /// Of those, positions inside the mask.
    pub in_mask: usize,
}

impl Coverage {
    /// rsatoolbox's validity measure: the share of in-volume sphere positions inside the mask.
    pub fn mask_fraction(&self) -> f64 {
        if self.in_volume == 0 {
            0.0
        } else {
            self.in_mask as f64 / self.in_volume as f64
        }
    }
}

const NONE: u32 = u32::MAX;

/// A 3-D index volume: for each grid position, the data column (voxel) found there, restricted
/// to the mask.
#[derive(Clone, Debug)]
pub struct VoxelGrid {
    shape: [usize; 3],
    /// Column of the voxel at each position (C order), `u32::MAX` for none or outside the mask.
    index: Vec<u32>,
    /// Whether each position is inside the mask.
    mask: Vec<bool>,
    coords: Vec<[i64; 3]>,
}

impl VoxelGrid {
    /// Index the voxels `coords` (voxels × 3, integer grid positions i, j, k) in the volume of
    /// `mask`'s shape. Voxels outside the mask are kept out of every neighbourhood. Errors: a
    /// coordinate outside the volume, two voxels at the same position, a malformed `coords`.
    pub fn new(coords: ArrayView2<i64>, mask: ArrayView3<u8>) -> Result<VoxelGrid> {
        ensure!(
            coords.ncols() == 3,
            "voxel coordinates must be voxels × 3 (i, j, k), got {} columns",
            coords.ncols()
        );
        ensure!(
            coords.nrows() < NONE as usize,
            "too many voxels ({}) for a u32 index",
            coords.nrows()
        );
        let sh = mask.shape();
        let shape = [sh[0], sh[1], sh[2]];
        let n = shape[0] * shape[1] * shape[2];
        let mut index = vec![NONE; n];
        let mut in_mask = vec![false; n];
        // C order over (i, j, k), the mask's own order.
        for ((i, j, k), &m) in mask.indexed_iter() {
            in_mask[(i * shape[1] + j) * shape[2] + k] = m != 0;
        }
        let mut cs = Vec::with_capacity(coords.nrows());
        for (v, row) in coords.rows().into_iter().enumerate() {
            let c = [row[0], row[1], row[2]];
            for a in 0..3 {
                ensure!(
                    c[a] >= 0 && (c[a] as usize) < shape[a],
                    "voxel {v} has coordinate {:?} outside the mask's grid {:?}",
                    c,
                    shape
                );
            }
            let p = (c[0] as usize * shape[1] + c[1] as usize) * shape[2] + c[2] as usize;
            if in_mask[p] {
                if index[p] != NONE {
                    bail!(
                        "voxels {} and {v} share the grid position {:?}: coordinates must be unique",
                        index[p],
                        c
                    );
                }
                index[p] = v as u32;
            }
            cs.push(c);
        }
        Ok(VoxelGrid {
            shape,
            index,
            mask: in_mask,
            coords: cs,
        })
    }

    /// The volume's shape.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of voxels (data columns) indexed, masked or not.
    pub fn n_voxels(&self) -> usize {
        self.coords.len()
    }

    /// The grid position of voxel `v`.
    pub fn coord(&self, v: usize) -> [i64; 3] {
        self.coords[v]
    }

    /// Whether voxel `v` lies in the mask.
    pub fn in_mask(&self, v: usize) -> bool {
        let c = self.coords[v];
        self.mask[self.pos(c)]
    }

    fn pos(&self, c: [i64; 3]) -> usize {
        (c[0] as usize * self.shape[1] + c[1] as usize) * self.shape[2] + c[2] as usize
    }

    /// The voxels (data columns, ascending) of the sphere around `centre`, written to `out`
    /// (cleared first), and how the sphere covers the volume and the mask.
    pub fn neighbours(&self, centre: [i64; 3], sphere: &Sphere, out: &mut Vec<u32>) -> Coverage {
        out.clear();
        let mut cov = Coverage::default();
        for o in sphere.offsets() {
            let p = [centre[0] + o[0], centre[1] + o[1], centre[2] + o[2]];
            if (0..3).any(|a| p[a] < 0 || p[a] as usize >= self.shape[a]) {
                continue;
            }
            cov.in_volume += 1;
            let q = self.pos(p);
            if self.mask[q] {
                cov.in_mask += 1;
                if self.index[q] != NONE {
                    out.push(self.index[q]);
                }
            }
        }
        out.sort_unstable();
        cov
    }
}

/// Every voxel's neighbourhood, in compressed rows: voxel `v`'s neighbours are
/// `voxels[starts[v]..starts[v + 1]]` (empty for a voxel outside the mask).
#[derive(Clone, Debug)]
pub struct Neighbourhoods {
    /// Where each voxel's neighbours start in `voxels` (one entry per voxel, plus the end).
    pub starts: Vec<usize>,
    /// Every voxel's neighbours (data columns, ascending), one run after another.
    pub voxels: Vec<u32>,
    /// How each voxel's sphere covers the volume and the mask.
    pub coverage: Vec<Coverage>,
}

impl Neighbourhoods {
    /// The neighbours of voxel `v`.
    pub fn of(&self, v: usize) -> &[u32] {
        &self.voxels[self.starts[v]..self.starts[v + 1]]
    }
}

/// Neighbourhoods of every voxel of `coords` within `radius` (strict `<` unless `inclusive`),
/// among the voxels inside `mask`.
pub fn neighbourhoods(
    coords: ArrayView2<i64>,
    mask: ArrayView3<u8>,
    radius: f64,
    inclusive: bool,
) -> Result<Neighbourhoods> {
    let grid = VoxelGrid::new(coords, mask)?;
    let sphere = Sphere::new(radius, inclusive)?;
    let mut starts = vec![0];
    let mut voxels = Vec::new();
    let mut coverage = Vec::with_capacity(grid.n_voxels());
    let mut buf = Vec::new();
    for v in 0..grid.n_voxels() {
        if grid.in_mask(v) {
            coverage.push(grid.neighbours(grid.coord(v), &sphere, &mut buf));
            voxels.extend_from_slice(&buf);
        } else {
            coverage.push(Coverage::default());
        }
        starts.push(voxels.len());
    }
    Ok(Neighbourhoods {
        starts,
        voxels,
        coverage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Array3};

    fn full_grid(n: usize) -> (Array2<i64>, Array3<u8>) {
        let mut c = Vec::new();
        for i in 0..n {
            for j in 0..n {
                for k in 0..n {
                    c.extend([i as i64, j as i64, k as i64]);
                }
            }
        }
        (
            Array2::from_shape_vec((n * n * n, 3), c).unwrap(),
            Array3::from_elem((n, n, n), 1u8),
        )
    }

    #[test]
    fn sphere_sizes_count_offsets() {
        // Brute force: integer offsets with d² < r² (or ≤) in a cube wide enough.
        for (r, inclusive) in [
            (1.0, false),
            (2.0, false),
            (3.0, false),
            (3.0, true),
            (2.5, false),
        ] {
            let mut n = 0;
            for dx in -4i64..=4 {
                for dy in -4i64..=4 {
                    for dz in -4i64..=4 {
                        let d2 = (dx * dx + dy * dy + dz * dz) as f64;
                        if d2 < r * r || (inclusive && d2 <= r * r) {
                            n += 1;
                        }
                    }
                }
            }
            assert_eq!(Sphere::new(r, inclusive).unwrap().len(), n, "r {r}");
        }
        assert_eq!(Sphere::new(1.0, false).unwrap().len(), 1);
        assert_eq!(Sphere::new(3.0, false).unwrap().len(), 93);
        assert_eq!(Sphere::new(3.0, true).unwrap().len(), 123);
        assert!(Sphere::new(0.0, false).is_err());
    }

    #[test]
    fn neighbourhoods_in_a_full_grid_and_at_its_edge() {
        let (coords, mask) = full_grid(9);
        let nb = neighbourhoods(coords.view(), mask.view(), 3.0, false).unwrap();
        let centre = (4 * 9 + 4) * 9 + 4;
        assert_eq!(nb.of(centre).len(), 93);
        assert_eq!(nb.coverage[centre].in_volume, 93);
        // Brute force over every voxel.
        for v in [0usize, 17, centre, 700] {
            let c = coords.row(v);
            let want: Vec<u32> = (0..coords.nrows())
                .filter(|&u| {
                    let d2: i64 = (0..3).map(|a| (coords[[u, a]] - c[a]).pow(2)).sum();
                    d2 < 9
                })
                .map(|u| u as u32)
                .collect();
            assert_eq!(nb.of(v), &want[..], "voxel {v}");
        }
        // A corner keeps only the octant inside the volume.
        assert_eq!(nb.coverage[0].in_volume, nb.of(0).len());
        assert!(nb.of(0).len() < 93);
    }

    #[test]
    fn mask_restricts_neighbours_and_reports_its_share() {
        let (coords, mut mask) = full_grid(7);
        mask[[3, 3, 4]] = 0;
        let g = VoxelGrid::new(coords.view(), mask.view()).unwrap();
        let s = Sphere::new(2.0, false).unwrap();
        let mut out = Vec::new();
        let cov = g.neighbours([3, 3, 3], &s, &mut out);
        assert_eq!(cov.in_volume, s.len());
        assert_eq!(cov.in_mask, s.len() - 1);
        assert_eq!(out.len(), s.len() - 1);
        assert!(cov.mask_fraction() < 1.0);
        assert!(!g.in_mask((3 * 7 + 3) * 7 + 4));
    }

    #[test]
    fn bad_coordinates_are_errors() {
        let mask = Array3::from_elem((3, 3, 3), 1u8);
        let c = Array2::from_shape_vec((1, 3), vec![0, 3, 0]).unwrap();
        let e = VoxelGrid::new(c.view(), mask.view()).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
        let c = Array2::from_shape_vec((2, 3), vec![1, 1, 1, 1, 1, 1]).unwrap();
        let e = VoxelGrid::new(c.view(), mask.view()).unwrap_err();
        assert!(e.to_string().contains("share"), "{e}");
    }
}
