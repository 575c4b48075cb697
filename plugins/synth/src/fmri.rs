//! Synthetic fMRI subjects: a brain-shaped mask on a voxel grid, named ROIs like the study's,
//! and responses that encode the planted latent space through smooth spatial tuning that
//! differs by ROI, with ROI-dependent signal strength (some ROIs carry none), shared and
//! independent noise, and reliability that varies across stimuli.
use emoscope_sdk::ctx::Rng as ChaCha;
use emoscope_sdk::{ensure, Ctx, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// An ROI: a centre in normalised brain coordinates (x left-right, y posterior-anterior,
/// z inferior-superior, each in [-1, 1]), a radius, whether it is mirrored in both
/// hemispheres, and the strength of its affective signal (0: none).
pub struct RoiDef {
    pub name: &'static str,
    pub centre: [f64; 3],
    pub radius: f64,
    pub bilateral: bool,
    pub signal: f64,
}

/// The study's regions (visual, temporo-parietal, medial, prefrontal, limbic, subcortical).
pub const ROIS: [RoiDef; 15] = [
    RoiDef {
        name: "visual_cortex",
        centre: [0.0, -0.85, 0.05],
        radius: 0.3,
        bilateral: false,
        signal: 0.5,
    },
    RoiDef {
        name: "MST",
        centre: [0.6, -0.55, 0.0],
        radius: 0.17,
        bilateral: true,
        signal: 0.6,
    },
    RoiDef {
        name: "TPJ",
        centre: [0.7, -0.35, 0.35],
        radius: 0.2,
        bilateral: true,
        signal: 0.9,
    },
    RoiDef {
        name: "IPL",
        centre: [0.55, -0.45, 0.62],
        radius: 0.2,
        bilateral: true,
        signal: 0.6,
    },
    RoiDef {
        name: "precuneus",
        centre: [0.0, -0.55, 0.6],
        radius: 0.22,
        bilateral: false,
        signal: 0.7,
    },
    RoiDef {
        name: "STS",
        centre: [0.8, -0.05, -0.1],
        radius: 0.2,
        bilateral: true,
        signal: 1.0,
    },
    RoiDef {
        name: "MTC",
        centre: [0.6, 0.05, -0.45],
        radius: 0.18,
        bilateral: true,
        signal: 0.4,
    },
    RoiDef {
        name: "insula",
        centre: [0.5, 0.15, 0.05],
        radius: 0.15,
        bilateral: true,
        signal: 0.6,
    },
    RoiDef {
        name: "mPFC",
        centre: [0.0, 0.8, 0.2],
        radius: 0.22,
        bilateral: false,
        signal: 0.7,
    },
    RoiDef {
        name: "lPFC",
        centre: [0.55, 0.6, 0.35],
        radius: 0.2,
        bilateral: true,
        signal: 0.3,
    },
    RoiDef {
        name: "cingulate",
        centre: [0.0, 0.2, 0.45],
        radius: 0.2,
        bilateral: false,
        signal: 0.5,
    },
    RoiDef {
        name: "amygdala",
        centre: [0.35, 0.15, -0.45],
        radius: 0.11,
        bilateral: true,
        signal: 0.5,
    },
    RoiDef {
        name: "hippocampus",
        centre: [0.35, -0.2, -0.4],
        radius: 0.12,
        bilateral: true,
        signal: 0.0,
    },
    RoiDef {
        name: "thalamus",
        centre: [0.0, -0.1, 0.0],
        radius: 0.15,
        bilateral: false,
        signal: 0.0,
    },
    RoiDef {
        name: "cerebellum",
        centre: [0.0, -0.7, -0.7],
        radius: 0.3,
        bilateral: false,
        signal: 0.0,
    },
];

/// One subject's data in the BData-like layout: stimuli × voxels, voxel coordinates, ROI flags.
pub struct Subject {
    pub name: String,
    /// stimuli × voxels.
    pub data: Array2<f32>,
    /// voxels × 3 (i, j, k) grid indices.
    pub coords: Array2<i64>,
    /// ROI index (into `ROIS`) of each voxel, or -1 outside every ROI.
    pub roi: Vec<i64>,
    /// The true signal amplitude of each voxel (0 where it carries none).
    pub signal: Vec<f32>,
    pub grid: [usize; 3],
    pub affine: Array2<f64>,
}

/// Voxel size in millimetres.
pub const VOXEL_MM: f64 = 3.0;

fn normalised(g: [usize; 3], i: usize, j: usize, k: usize) -> [f64; 3] {
    // The brain fills 90% of each axis of the grid.
    let f = |v: usize, n: usize| ((v as f64 + 0.5) / n as f64 * 2.0 - 1.0) / 0.9;
    [f(i, g[0]), f(j, g[1]), f(k, g[2])]
}

/// The voxels inside the brain-shaped mask (an ellipsoid with a flattened base, plus the
/// cerebellum below it), in i-j-k order.
pub fn mask_voxels(grid: [usize; 3]) -> Vec<[usize; 3]> {
    let mut out = Vec::new();
    for i in 0..grid[0] {
        for j in 0..grid[1] {
            for k in 0..grid[2] {
                let p = normalised(grid, i, j, k);
                let inside = p[0] * p[0] + p[1] * p[1] + p[2] * p[2] <= 1.0 && p[2] > -0.75;
                let cb = ROIS[14].centre;
                let d2 = (p[0] / 1.6).powi(2) + (p[1] - cb[1]).powi(2) + (p[2] - cb[2]).powi(2);
                if inside || d2 <= ROIS[14].radius.powi(2) {
                    out.push([i, j, k]);
                }
            }
        }
    }
    out
}

fn roi_of(p: [f64; 3]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (r, def) in ROIS.iter().enumerate() {
        let xs: &[f64] = if def.bilateral {
            &[def.centre[0], -def.centre[0]]
        } else {
            &[def.centre[0]]
        };
        for &x in xs {
            // The cerebellum is wide: its x extent is stretched.
            let sx = if def.name == "cerebellum" { 1.6 } else { 1.0 };
            let d = (((p[0] - x) / sx).powi(2)
                + (p[1] - def.centre[1]).powi(2)
                + (p[2] - def.centre[2]).powi(2))
            .sqrt()
                / def.radius;
            if d <= 1.0 && best.is_none_or(|(_, bd)| d < bd) {
                best = Some((r, d));
            }
        }
    }
    best.map(|(r, _)| r)
}

/// The world affine: 3 mm isotropic voxels, RAS, the grid centred on the origin.
pub fn affine(grid: [usize; 3]) -> Array2<f64> {
    let mut a = Array2::eye(4);
    for d in 0..3 {
        a[[d, d]] = VOXEL_MM;
        a[[d, 3]] = -VOXEL_MM * (grid[d] as f64 - 1.0) / 2.0;
    }
    a
}

/// Generate one subject. `x` is the latent space (stimuli × k); `reliability` the per-stimulus
/// noise scale shared by all subjects; `snr` scales every ROI's signal.
pub fn subject(
    x: ArrayView2<f64>,
    grid: [usize; 3],
    index: usize,
    reliability: &[f64],
    snr: f64,
    seed: u64,
    ctx: &Ctx,
) -> Result<Subject> {
    let (n, k) = x.dim();
    ensure!(
        grid.iter().all(|&g| g >= 4),
        "grid must be at least 4 voxels along each axis, got {grid:?}"
    );
    let vox = mask_voxels(grid);
    let v = vox.len();
    let mut rng = ChaCha::seed_from_u64(seed);
    rng.set_stream(1000 + index as u64);

    // Latent features standardised per component, so every component can drive voxels.
    let mut xz = x.to_owned();
    for mut col in xz.axis_iter_mut(Axis(1)) {
        let m = col.mean().unwrap_or(0.0);
        let s = col.std(0.0);
        col.mapv_inplace(|a| if s > 0.0 { (a - m) / s } else { 0.0 });
    }

    // Tuning: each ROI prefers a subset of components; within it, Gaussian blobs (about two
    // voxels wide) give each voxel a smoothly varying weight vector. The preferred subsets are
    // the same for every subject (a shared functional layout); the blobs are the subject's own.
    let mut layout = ChaCha::seed_from_u64(seed);
    layout.set_stream(999);
    let preferred: Vec<Vec<usize>> = ROIS
        .iter()
        .map(|_| {
            let mut idx: Vec<usize> = (0..k).collect();
            for i in (1..k).rev() {
                idx.swap(i, layout.random_range(0..=i));
            }
            idx.truncate((k / 3).max(1));
            idx
        })
        .collect();
    let sigma = 2.0 / grid.iter().copied().max().unwrap_or(1) as f64 * 2.0;
    let blobs: Vec<Vec<([f64; 3], Array1<f64>)>> = ROIS
        .iter()
        .enumerate()
        .map(|(r, def)| {
            (0..8)
                .map(|_| {
                    let side = if def.bilateral && rng.random::<f64>() < 0.5 {
                        -1.0
                    } else {
                        1.0
                    };
                    let c = [
                        side * def.centre[0] + def.radius * (rng.random::<f64>() * 2.0 - 1.0),
                        def.centre[1] + def.radius * (rng.random::<f64>() * 2.0 - 1.0),
                        def.centre[2] + def.radius * (rng.random::<f64>() * 2.0 - 1.0),
                    ];
                    let mut u = Array1::zeros(k);
                    for &d in &preferred[r] {
                        u[d] = rng.sample::<f64, _>(StandardNormal);
                    }
                    (c, u)
                })
                .collect()
        })
        .collect();
    let mut w = Array2::<f64>::zeros((k, v));
    let mut roi = vec![-1i64; v];
    let mut signal = vec![0f32; v];
    for (c, ijk) in vox.iter().enumerate() {
        let p = normalised(grid, ijk[0], ijk[1], ijk[2]);
        let Some(r) = roi_of(p) else { continue };
        roi[c] = r as i64;
        if ROIS[r].signal == 0.0 {
            continue;
        }
        let mut wv = Array1::<f64>::zeros(k);
        for (bc, u) in &blobs[r] {
            let d2 = (p[0] - bc[0]).powi(2) + (p[1] - bc[1]).powi(2) + (p[2] - bc[2]).powi(2);
            wv.scaled_add((-d2 / (2.0 * sigma * sigma)).exp(), u);
        }
        let norm = wv.dot(&wv).sqrt();
        if norm > 0.0 {
            let amp = ROIS[r].signal * snr;
            wv *= amp / norm;
            signal[c] = amp as f32;
        }
        w.column_mut(c).assign(&wv);
    }
    ctx.check()?;

    // Signal, then shared noise (three global fluctuation patterns), then independent noise
    // scaled by each stimulus's reliability; one ChaCha8 stream per stimulus row.
    let signal_part = emoscope_sdk::linalg::matmul(xz.view(), w.view());
    let shared_g: Array2<f64> =
        Array2::from_shape_fn((n, 3), |_| rng.sample::<f64, _>(StandardNormal));
    let shared_h: Array2<f64> =
        Array2::from_shape_fn((3, v), |_| 0.3 * rng.sample::<f64, _>(StandardNormal));
    let shared = emoscope_sdk::linalg::matmul(shared_g.view(), shared_h.view());
    let mut data = Array2::<f32>::zeros((n, v));
    data.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .try_for_each(|(i, mut row)| {
            if i % 64 == 0 {
                ctx.check()?;
            }
            let mut r = ChaCha::seed_from_u64(seed);
            r.set_stream(((index as u64 + 1) << 32) | i as u64);
            for c in 0..v {
                let e: f64 = r.sample(StandardNormal);
                row[c] = (signal_part[[i, c]] + shared[[i, c]] + reliability[i] * e) as f32;
            }
            Ok::<(), emoscope_sdk::Error>(())
        })?;
    let coords = Array2::from_shape_fn((v, 3), |(c, d)| vox[c][d] as i64);
    Ok(Subject {
        name: format!("sub-{:02}", index + 1),
        data,
        coords,
        roi,
        signal,
        grid,
        affine: affine(grid),
    })
}

/// Per-stimulus noise scales shared across subjects (0.6 to 1.8: some videos evoke more
/// consistent responses than others).
pub fn reliability(n: usize, seed: u64) -> Vec<f64> {
    let mut r = ChaCha::seed_from_u64(seed);
    r.set_stream(777);
    (0..n).map(|_| 0.6 + 1.2 * r.random::<f64>()).collect()
}
