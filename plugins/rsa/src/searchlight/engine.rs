//! Searchlight RSA: for every centre voxel, the neural RSM of the sphere's voxel patterns over the
//! selected stimuli, compared by Spearman with every model RSM in one pass over the spheres.
//!
//! The cost is the neural RSM, so that is all a sphere pays for:
//! - the patterns (stimuli × sphere voxels, f32, each stimulus centred and scaled to unit length
//!   for Pearson) go through one triangular f32 GEMM (faer), computing only the strict lower
//!   triangle, which column by column is the RSM's upper triangle row by row;
//! - the M(M − 1)/2 similarities are ranked by a radix sort of their f32 keys with the pair
//!   index as payload (or, with a single model in f32, that model's rank): the Gram matrix is read
//!   twice, once for the histogram of the leading 11 key bits and once to place each item straight
//!   into its bucket, then every bucket is sorted in cache by the lower 21 bits (LSD passes of 11
//!   and 10 bits; insertion sort for small buckets);
//! - every model's upper triangle was ranked once, tie-aware, centred and doubled to integers, so
//!   Spearman is an exact integer sum over the sorted order (equal keys share their average rank;
//!   the tie correction of the neural norm is exact too) divided by the two norms.
//!
//! Centres run in parallel (rayon, one scratch per worker), each one checks for Ctrl-C and ticks
//! the progress bar. With `device` on libtorch the RSM products run there (one GEMM per centre,
//! through the sdk's `Tensor::matmul`), the ranking on the CPU threads.
use crate::rank::{
    f32_key, refine, scatter_top, sort_buckets, spearman_sorted, spearman_sorted_single,
    RankedModels, TopHistogram,
};
use crate::rsm::Metric;
use emoscope_sdk::fmri::sphere::{Sphere, VoxelGrid};
use emoscope_sdk::shard::Shard;
use emoscope_sdk::{ensure, Choice, Ctx, Device, Result, Tensor};
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2, ArrayView3};
use rayon::prelude::*;

/// The settings of one searchlight run, checked and resolved from the step's options.
pub struct Params {
    pub radius: f64,
    pub inclusive: bool,
    pub threshold: f64,
    pub min_voxels: usize,
    pub metric: Metric,
    pub precision: Precision,
    pub device: Device,
    /// (K, N), 1-based K.
    pub shard: (usize, usize),
}

/// One model's map.
pub struct ModelMap {
    pub r: Vec<f64>,
}

/// One run's maps (one per model) over every voxel, and the voxel range its shard scored.
pub struct Output {
    pub maps: Vec<ModelMap>,
    pub n_voxels: Vec<i64>,
    pub start: usize,
    pub end: usize,
    pub centres: usize,
}

/// The voxel range [start, end) of shard K of N over V voxels.
pub fn shard_range(k: usize, n: usize, v: usize) -> (usize, usize) {
    let r = Shard { k, n }.range(v);
    (r.start, r.end)
}

/// Parse "K/N" (1-based K).
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let s = Shard::parse(s)?;
    Ok((s.k, s.n))
}

/// Per-worker buffers.
struct Scratch {
    p64: Vec<f64>,
    p: Vec<f32>,
    s: Vec<f32>,
    s64: Vec<f64>,
    exact: Vec<f64>,
    items: Vec<u64>,
    buf: Vec<u64>,
    half_norms: Vec<f64>,
    acc: Vec<f64>,
    acc2: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    row: Vec<f64>,
}

impl Scratch {
    fn new(m: usize, precision: Precision) -> Scratch {
        let pairs = m * (m - 1) / 2;
        let f64s = precision == Precision::F64;
        Scratch {
            p64: Vec::new(),
            p: Vec::new(),
            s: if f64s { Vec::new() } else { vec![0.0; m * m] },
            s64: if f64s { vec![0.0; m * m] } else { Vec::new() },
            exact: if f64s { vec![0.0; pairs] } else { Vec::new() },
            items: Vec::with_capacity(pairs),
            buf: Vec::with_capacity(pairs),
            half_norms: vec![0.0; m],
            acc: vec![0.0; m],
            acc2: vec![0.0; m],
            lo: vec![0.0; m],
            hi: vec![0.0; m],
            row: Vec::new(),
        }
    }
}

/// Arithmetic of the sphere RSMs.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 GEMM and f32 keys: fastest; pairs closer than f32 rounding may swap ranks.
    F32,
    /// f64 GEMM; sorted by f32 keys, then runs of equal keys by their exact f64 values: the rank
    /// order of an f64 computation.
    F64,
}

/// The prepared patterns of one sphere, column-major M × v in `sc.p64` (and `sc.p` in f32):
/// Pearson centres each stimulus's pattern across the sphere's voxels and scales it to unit
/// length; cosine only scales; Spearman ranks each pattern first; Euclidean centres each voxel
/// across stimuli (a shift that leaves distances unchanged and keeps the Gram matrix well
/// conditioned) and keeps the halved squared norms for the keys. A constant pattern becomes zeros
/// (similarity 0).
fn prepare(
    yt: ArrayView2<f32>,
    nb: &[u32],
    metric: Metric,
    precision: Precision,
    sc: &mut Scratch,
) {
    let m = yt.ncols();
    let v = nb.len();
    sc.p64.resize(m * v, 0.0);
    for (c, &vox) in nb.iter().enumerate() {
        let src = yt.row(vox as usize);
        let src = src.as_slice().expect("rows are contiguous");
        for (d, &x) in sc.p64[c * m..(c + 1) * m].iter_mut().zip(src) {
            *d = x as f64;
        }
    }
    let p = &mut sc.p64;
    if metric == Metric::Spearman {
        // Rank each stimulus's v values (tie-aware), in place.
        for s in 0..m {
            sc.row.clear();
            sc.row.extend((0..v).map(|c| p[c * m + s]));
            let r = emoscope_sdk::stats::rank_average(&sc.row);
            for (c, rk) in r.into_iter().enumerate() {
                p[c * m + s] = rk;
            }
        }
    }
    if metric == Metric::Euclidean {
        for c in 0..v {
            let col = &mut p[c * m..(c + 1) * m];
            let mean = col.iter().sum::<f64>() / m as f64;
            col.iter_mut().for_each(|x| *x -= mean);
        }
        sc.half_norms.iter_mut().for_each(|a| *a = 0.0);
        for c in 0..v {
            for (a, &x) in sc.half_norms.iter_mut().zip(&p[c * m..(c + 1) * m]) {
                *a += 0.5 * x * x;
            }
        }
    } else {
        let centre = matches!(metric, Metric::Pearson | Metric::Spearman);
        sc.acc.iter_mut().for_each(|a| *a = 0.0);
        sc.lo.iter_mut().for_each(|a| *a = f64::INFINITY);
        sc.hi.iter_mut().for_each(|a| *a = f64::NEG_INFINITY);
        for c in 0..v {
            let col = &p[c * m..(c + 1) * m];
            for (s, &x) in col.iter().enumerate() {
                sc.acc[s] += x;
                sc.lo[s] = sc.lo[s].min(x);
                sc.hi[s] = sc.hi[s].max(x);
            }
        }
        for s in 0..m {
            sc.acc[s] = if centre { sc.acc[s] / v as f64 } else { 0.0 };
            sc.acc2[s] = 0.0;
        }
        for c in 0..v {
            let col = &p[c * m..(c + 1) * m];
            for (s, &x) in col.iter().enumerate() {
                let d = x - sc.acc[s];
                sc.acc2[s] += d * d;
            }
        }
        for s in 0..m {
            let constant = centre && sc.lo[s] == sc.hi[s];
            // scale 0 turns a constant pattern into zeros
            sc.acc2[s] = if constant || sc.acc2[s] == 0.0 {
                0.0
            } else {
                1.0 / sc.acc2[s].sqrt()
            };
        }
        for c in 0..v {
            let col = &mut p[c * m..(c + 1) * m];
            for (s, x) in col.iter_mut().enumerate() {
                *x = (*x - sc.acc[s]) * sc.acc2[s];
            }
        }
    }
    if precision == Precision::F32 {
        sc.p.clear();
        sc.p.extend(sc.p64.iter().map(|&x| x as f32));
    }
}

/// The strict lower triangle of P Pᵀ (column-major M × M), on this thread.
fn gram_cpu(m: usize, v: usize, precision: Precision, sc: &mut Scratch) {
    fn tri<T: faer::traits::ComplexField + Copy + From<f32>>(
        p: &[T],
        s: &mut [T],
        m: usize,
        v: usize,
    ) {
        // SAFETY: `p` holds m·v values column-major and `s` m·m; both outlive the views.
        let pm = unsafe { MatRef::<T>::from_raw_parts(p.as_ptr(), m, v, 1, m as isize) };
        let dst = unsafe { MatMut::<T>::from_raw_parts_mut(s.as_mut_ptr(), m, m, 1, m as isize) };
        tri_matmul(
            dst,
            BlockStructure::StrictTriangularLower,
            Accum::Replace,
            pm,
            BlockStructure::Rectangular,
            pm.transpose(),
            BlockStructure::Rectangular,
            T::from(1.0f32),
            Par::Seq,
        );
    }
    match precision {
        Precision::F32 => tri(&sc.p, &mut sc.s, m, v),
        Precision::F64 => tri(&sc.p64, &mut sc.s64, m, v),
    }
}

/// The f64 path's tie grid (2^32: values within ~2.3e-10 are equal).
pub const SNAP: f64 = 4294967296.0;

/// A sphere's similarities: pair (i, j), i < j, at `[i·m + j]`.
enum Gram<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// Calls `f(k, value)` for every pair k (row-major over the upper triangle) with its f32
/// similarity (for Euclidean, a·b − |a|²/2 − |b|²/2).
#[inline(always)]
fn for_each_f32(s: &[f32], m: usize, euclid: Option<&[f64]>, mut f: impl FnMut(usize, f32)) {
    let mut k = 0usize;
    for i in 0..m {
        let row = &s[i * m + i + 1..(i + 1) * m];
        match euclid {
            None => {
                for &x in row {
                    f(k, x);
                    k += 1;
                }
            }
            Some(hn) => {
                for (j, &x) in row.iter().enumerate() {
                    // −|a − b|²/2 = a·b − |a|²/2 − |b|²/2: the order of −|a − b|
                    f(k, (x as f64 - hn[i] - hn[i + 1 + j]) as f32);
                    k += 1;
                }
            }
        }
    }
}

/// Rank the upper triangle of the Gram matrix (plus the Euclidean norm terms) and correlate it
/// with every model. The similarities are read twice (the histogram of the sort's leading digit,
/// then each item goes straight to its bucket), the buckets are sorted in cache; with a single
/// model (f32) the item's payload is that model's rank instead of the pair index, so the
/// Spearman sums read sequentially.
#[allow(clippy::too_many_arguments)]
fn rank_and_score(
    g: Gram,
    m: usize,
    euclid: Option<&[f64]>,
    models: &RankedModels,
    items: &mut Vec<u64>,
    buf: &mut Vec<u64>,
    exact: &mut [f64],
    out: &mut [f64],
) {
    let n = m * (m - 1) / 2;
    items.resize(n, 0);
    buf.resize(n, 0);
    let key = |x: f32| (f32_key(x) as u64) << 32;
    let mut h = TopHistogram::new();
    let single = models.n_models == 1 && matches!(g, Gram::F32(_));
    match g {
        Gram::F32(s) => {
            for_each_f32(s, m, euclid, |_, x| h.add(key(x)));
            let mut offs = h.offsets();
            if single {
                let twice = &models.twice[..n];
                for_each_f32(s, m, euclid, |k, x| {
                    scatter_top(key(x) | twice[k] as u32 as u64, &mut offs, buf)
                });
            } else {
                for_each_f32(s, m, euclid, |k, x| {
                    scatter_top(key(x) | k as u64, &mut offs, buf)
                });
            }
        }
        Gram::F64(s) => {
            let mut k = 0usize;
            for i in 0..m {
                let row = &s[i * m + i + 1..(i + 1) * m];
                for (j, &x) in row.iter().enumerate() {
                    let val = match euclid {
                        None => x,
                        Some(hn) => x - hn[i] - hn[i + 1 + j],
                    };
                    // snapped to multiples of 2^-32: similarities that are mathematically equal
                    // (discrete Spearman values, constant patterns) tie whatever the rounding
                    let val = (val * SNAP).round() / SNAP;
                    exact[k] = val;
                    h.add(key(val as f32));
                    k += 1;
                }
            }
            let mut offs = h.offsets();
            for (k, &val) in exact[..n].iter().enumerate() {
                scatter_top(key(val as f32) | k as u64, &mut offs, buf);
            }
        }
    }
    sort_buckets(buf, items, &h);
    std::mem::swap(items, buf);
    match g {
        Gram::F32(_) if single => spearman_sorted_single(items, models, out),
        Gram::F32(_) => spearman_sorted(items, None, models, out),
        Gram::F64(_) => {
            refine(items, exact);
            spearman_sorted(items, Some(exact), models, out)
        }
    }
}

/// Run the searchlight. `y` is stimuli × voxels (already restricted to the selected stimuli),
/// `coords` voxels × 3, `mask` the volume, `models` ranked over the selected stimuli's pairs.
pub fn run(
    y: ArrayView2<f32>,
    coords: ArrayView2<i64>,
    mask: ArrayView3<u8>,
    models: &RankedModels,
    p: &Params,
    ctx: &Ctx,
) -> Result<Output> {
    let (m, nvox) = (y.nrows(), y.ncols());
    ensure!(
        coords.nrows() == nvox,
        "coords has {} rows but Y has {nvox} voxels (columns): one coordinate row per voxel",
        coords.nrows()
    );
    ensure!(m >= 3, "searchlight RSA needs at least 3 stimuli, got {m}");
    ensure!(
        models.n_pairs == m * (m - 1) / 2,
        "the model RSMs cover {} pairs, the data {} stimuli ({} pairs)",
        models.n_pairs,
        m,
        m * (m - 1) / 2
    );
    ensure!(
        (0.0..=1.0).contains(&p.threshold),
        "threshold must be in [0, 1] (the share of the sphere inside the mask), got {}",
        p.threshold
    );
    ensure!(
        p.min_voxels >= 2,
        "min_voxels must be at least 2 (a correlation across voxels needs two), got {}",
        p.min_voxels
    );
    let grid = VoxelGrid::new(coords, mask)?;
    let sphere = Sphere::new(p.radius, p.inclusive)?;
    let (start, end) = shard_range(p.shard.0, p.shard.1, nvox);

    // Every voxel's sphere size (cheap), and the centres of this shard with their neighbours.
    let mut n_voxels = vec![0i64; nvox];
    let mut centres: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    let mut flat: Vec<u32> = Vec::new();
    let mut nb = Vec::new();
    let mut used = vec![false; nvox];
    for (v, size) in n_voxels.iter_mut().enumerate() {
        if !grid.in_mask(v) {
            continue;
        }
        let cov = grid.neighbours(grid.coord(v), &sphere, &mut nb);
        *size = nb.len() as i64;
        if v >= start && v < end && nb.len() >= p.min_voxels && cov.mask_fraction() >= p.threshold {
            let a = flat.len();
            flat.extend_from_slice(&nb);
            for &u in &nb {
                used[u as usize] = true;
            }
            centres.push((v, a..flat.len()));
        }
    }
    // Voxel-major f32 copy of the data (each voxel's responses contiguous), only where used.
    let mut yt = Array2::<f32>::zeros((nvox, m));
    for (v, mut row) in yt.outer_iter_mut().enumerate() {
        if !used[v] {
            continue;
        }
        for (s, x) in row.iter_mut().enumerate() {
            let val = y[[s, v]];
            ensure!(
                val.is_finite(),
                "Y[{s}, {v}] is {val}: searchlight data must be finite (mask out bad voxels)"
            );
            *x = val;
        }
    }
    let nm = models.n_models;
    let mut maps: Vec<ModelMap> = (0..nm)
        .map(|_| ModelMap {
            r: vec![f64::NAN; nvox],
        })
        .collect();
    let bar = ctx.progress("rsa::searchlight centres", centres.len() as u64);
    let scores: Vec<(usize, Vec<f64>)> = if p.device.is_torch() {
        device_scores(yt.view(), &flat, &centres, models, p, ctx, &*bar)?
    } else {
        centres
            .par_iter()
            .with_min_len(2)
            .map_init(
                || Scratch::new(m, p.precision),
                |sc, (v, range)| -> Result<(usize, Vec<f64>)> {
                    ctx.check()?;
                    let nb = &flat[range.clone()];
                    prepare(yt.view(), nb, p.metric, p.precision, sc);
                    gram_cpu(m, nb.len(), p.precision, sc);
                    let mut out = vec![0.0; nm];
                    let euclid = (p.metric == Metric::Euclidean).then_some(&sc.half_norms[..]);
                    let g = match p.precision {
                        Precision::F32 => Gram::F32(&sc.s),
                        Precision::F64 => Gram::F64(&sc.s64),
                    };
                    rank_and_score(
                        g,
                        m,
                        euclid,
                        models,
                        &mut sc.items,
                        &mut sc.buf,
                        &mut sc.exact,
                        &mut out,
                    );
                    bar.inc(1);
                    Ok((*v, out))
                },
            )
            .collect::<Result<Vec<_>>>()?
    };
    for (v, rs) in &scores {
        for (map, &r) in maps.iter_mut().zip(rs) {
            map.r[*v] = r;
        }
    }
    Ok(Output {
        maps,
        n_voxels,
        start,
        end,
        centres: centres.len(),
    })
}

/// The libtorch path: each sphere's Gram matrix on the device (the sdk's `Tensor::matmul`), the
/// ranking on the CPU threads, in batches.
fn device_scores(
    yt: ArrayView2<f32>,
    flat: &[u32],
    centres: &[(usize, std::ops::Range<usize>)],
    models: &RankedModels,
    p: &Params,
    ctx: &Ctx,
    bar: &dyn emoscope_sdk::ctx::Progress,
) -> Result<Vec<(usize, Vec<f64>)>> {
    // Without the torch feature (or the device) this fails with the sdk's hint, before any work.
    Tensor::zeros(&[1], emoscope_sdk::DType::F32).to_device(p.device)?;
    let m = yt.ncols();
    let nm = models.n_models;
    let batch = (rayon::current_num_threads() * 2).max(2);
    let mut prep = Scratch::new(m, Precision::F32);
    let mut out = Vec::with_capacity(centres.len());
    for chunk in centres.chunks(batch) {
        let mut grams: Vec<(usize, Vec<f64>, Vec<f64>)> = Vec::with_capacity(chunk.len());
        for (v, range) in chunk {
            ctx.check()?;
            let nb = &flat[range.clone()];
            prepare(yt, nb, p.metric, Precision::F64, &mut prep);
            // column-major M × v is row-major v × M: transpose the handle to get M × v
            let pt = match p.precision {
                Precision::F64 => Tensor::from_vec(prep.p64.clone(), &[nb.len(), m])?,
                Precision::F32 => {
                    let p32: Vec<f32> = prep.p64.iter().map(|&x| x as f32).collect();
                    Tensor::from_vec(p32, &[nb.len(), m])?
                }
            }
            .to_device(p.device)?;
            let g = pt
                .transpose()?
                .matmul(&pt)?
                .to_device(Device::Cpu)?
                .to_f64()?;
            grams.push((*v, g.iter().copied().collect(), prep.half_norms.clone()));
        }
        let scored: Vec<(usize, Vec<f64>)> = grams
            .par_iter()
            .map_init(
                || (Vec::new(), Vec::new(), vec![0.0; m * (m - 1) / 2]),
                |(items, buf, exact), (v, g, hn)| {
                    let mut r = vec![0.0; nm];
                    let euclid = (p.metric == Metric::Euclidean).then_some(&hn[..]);
                    let g32: Vec<f32>;
                    let gram = match p.precision {
                        Precision::F64 => Gram::F64(g),
                        Precision::F32 => {
                            g32 = g.iter().map(|&x| x as f32).collect();
                            Gram::F32(&g32)
                        }
                    };
                    rank_and_score(gram, m, euclid, models, items, buf, exact, &mut r);
                    bar.inc(1);
                    (*v, r)
                },
            )
            .collect();
        out.extend(scored);
    }
    Ok(out)
}
