//! The CPU engine: f32, items × dims row-major, one mini-batch at a time.
//!
//! A step has two parts. The data gradient touches only the ≤ 3·batch rows of the batch's items;
//! it is computed sequentially into a dense gradient buffer (whose touched rows are zeroed again
//! afterwards). Adam then updates every weight, because the L1 term gives every weight a gradient
//! every step and Adam's moments move even weights the batch did not touch: skipping them (as
//! "lazy Adam" does) would change the method. That dense pass is the cost of a step (2,180 × 90
//! weights against ~30k flops of data gradient for 100 triplets), so it is written to vectorise
//! (AVX2 when the CPU has it, chosen at run time) and split over the threads by rows.
//!
//! Dimensions that have died stop costing anything: a column that is all zero, under the
//! projection, with no pending positive Adam momentum, receives a zero data gradient (every
//! gradient on column d is a sum of other items' weights on d) and a zero L1 subgradient, so it
//! can never revive. Such columns are swapped to the end and dropped from the loops; the result is
//! bit-identical to updating them.
use crate::model::dot;
use crate::train::{Engine, Positivity, StepConfig};
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{Ctx, Result};

pub struct CpuEngine {
    n: usize,
    /// Columns allocated per row (the starting dims).
    stride: usize,
    /// Live columns: 0..live are updated; the rest are dead and zero.
    live: usize,
    /// Original dimension index of each stored column (columns are swapped as they die).
    pub order: Vec<usize>,
    x: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    g: Vec<f32>,
    touched: Vec<u32>,
    seen: Vec<bool>,
    step: u64,
    cfg: StepConfig,
    threads: usize,
}

#[derive(Clone, Copy)]
struct Adam {
    b1: f32,
    b2: f32,
    step_size: f32,
    inv_sqrt_bc2: f32,
    eps: f32,
    l1: f32,
    pos: f32,
    project: bool,
}

/// Adam on equal-length slices; returns (Σ|x|, Σ relu(−x)) before the update. Written in
/// explicit 8-lane blocks: the sums are reductions, which the compiler only vectorises when the
/// lanes are spelled out (it may not reorder a floating-point sum by itself).
#[inline(always)]
fn adam_flat<const PROJECT: bool>(
    x: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    a: &Adam,
) -> (f32, f32) {
    #[inline(always)]
    fn one<const PROJECT: bool>(x: &mut f32, m: &mut f32, v: &mut f32, g: f32, a: &Adam) {
        let xi = *x;
        // sign(x) with sign(0) = 0, as torch's; the positivity penalty's gradient is −pos below 0.
        let sign = (xi > 0.0) as i32 as f32 - (xi < 0.0) as i32 as f32;
        let neg = (xi < 0.0) as i32 as f32;
        let grad = g + a.l1 * sign - a.pos * neg;
        let mi = a.b1 * *m + (1.0 - a.b1) * grad;
        let vi = a.b2 * *v + (1.0 - a.b2) * grad * grad;
        *m = mi;
        *v = vi;
        let nx = xi - a.step_size * mi / (vi.sqrt() * a.inv_sqrt_bc2 + a.eps);
        *x = if PROJECT { nx.max(0.0) } else { nx };
    }
    let (mut sa, mut sn) = ([0f32; 8], [0f32; 8]);
    let mut xc = x.chunks_exact_mut(8);
    let mut mc = m.chunks_exact_mut(8);
    let mut vc = v.chunks_exact_mut(8);
    let mut gc = g.chunks_exact(8);
    for (((x8, m8), v8), g8) in (&mut xc).zip(&mut mc).zip(&mut vc).zip(&mut gc) {
        for l in 0..8 {
            sa[l] += x8[l].abs();
            sn[l] += (-x8[l]).max(0.0);
            one::<PROJECT>(&mut x8[l], &mut m8[l], &mut v8[l], g8[l], a);
        }
    }
    let (mut ta, mut tn) = (sa.iter().sum::<f32>(), sn.iter().sum::<f32>());
    for (((xi, mi), vi), gi) in xc
        .into_remainder()
        .iter_mut()
        .zip(mc.into_remainder())
        .zip(vc.into_remainder())
        .zip(gc.remainder())
    {
        ta += xi.abs();
        tn += (-*xi).max(0.0);
        one::<PROJECT>(xi, mi, vi, *gi, a);
    }
    (ta, tn)
}

/// Update a block of whole rows, live columns only.
#[inline(always)]
fn adam_rows(
    x: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    stride: usize,
    live: usize,
    a: Adam,
    flat: impl Fn(&mut [f32], &mut [f32], &mut [f32], &[f32], &Adam) -> (f32, f32),
) -> (f64, f64) {
    let run = |x: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]| flat(x, m, v, g, &a);
    if live == stride {
        let (ta, tn) = run(x, m, v, g);
        return (ta as f64, tn as f64);
    }
    let (mut ta, mut tn) = (0f64, 0f64);
    for (((xr, mr), vr), gr) in x
        .chunks_exact_mut(stride)
        .zip(m.chunks_exact_mut(stride))
        .zip(v.chunks_exact_mut(stride))
        .zip(g.chunks_exact(stride))
    {
        let (ra, rn) = run(
            &mut xr[..live],
            &mut mr[..live],
            &mut vr[..live],
            &gr[..live],
        );
        ta += ra as f64;
        tn += rn as f64;
    }
    (ta, tn)
}

/// The portable kernel: exact IEEE division and square root.
fn adam_exact(x: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], a: &Adam) -> (f32, f32) {
    if a.project {
        adam_flat::<true>(x, m, v, g, a)
    } else {
        adam_flat::<false>(x, m, v, g, a)
    }
}

/// The AVX2 kernel. Division and square root share one slow unit and bound the exact kernel;
/// here 1/(√v·c + ε) comes from the hardware reciprocal square root and reciprocal estimates,
/// each refined by one Newton step (relative error ~1e-7, the size of f32 rounding), at a
/// fraction of the cost. The tail (< 8 weights) uses the exact formula.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn adam_avx2(x: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], a: &Adam) -> (f32, f32) {
    use std::arch::x86_64::*;
    let n = x.len().min(m.len()).min(v.len()).min(g.len());
    let blocks = n / 8;
    let set = _mm256_set1_ps;
    let (zero, one, half, three_halves, two) = (set(0.0), set(1.0), set(0.5), set(1.5), set(2.0));
    let (b1, omb1, b2, omb2) = (set(a.b1), set(1.0 - a.b1), set(a.b2), set(1.0 - a.b2));
    let (step, c, eps, l1, pos, tiny) = (set(a.step_size), set(a.inv_sqrt_bc2), set(a.eps), set(a.l1), set(a.pos), set(1e-30));
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let (mut sa, mut sn) = (zero, zero);
    for b in 0..blocks {
        let o = b * 8;
        // SAFETY: o + 8 <= n, the length of every slice.
        unsafe {
            let px = x.as_mut_ptr().add(o);
            let pm = m.as_mut_ptr().add(o);
            let pv = v.as_mut_ptr().add(o);
            let xv = _mm256_loadu_ps(px);
            let gv = _mm256_loadu_ps(g.as_ptr().add(o));
            sa = _mm256_add_ps(sa, _mm256_and_ps(xv, abs_mask));
            sn = _mm256_add_ps(sn, _mm256_max_ps(_mm256_sub_ps(zero, xv), zero));
            let gt = _mm256_and_ps(_mm256_cmp_ps(xv, zero, _CMP_GT_OQ), one);
            let lt = _mm256_and_ps(_mm256_cmp_ps(xv, zero, _CMP_LT_OQ), one);
            let sign = _mm256_sub_ps(gt, lt);
            let grad = _mm256_sub_ps(_mm256_fmadd_ps(l1, sign, gv), _mm256_mul_ps(pos, lt));
            let mv = _mm256_fmadd_ps(b1, _mm256_loadu_ps(pm), _mm256_mul_ps(omb1, grad));
            let vv = _mm256_fmadd_ps(b2, _mm256_loadu_ps(pv), _mm256_mul_ps(omb2, _mm256_mul_ps(grad, grad)));
            _mm256_storeu_ps(pm, mv);
            _mm256_storeu_ps(pv, vv);
            // √v = v · rsqrt(v), with one Newton step on rsqrt: r ← r (1.5 − 0.5 v r²).
            let vc = _mm256_max_ps(vv, tiny);
            let r0 = _mm256_rsqrt_ps(vc);
            let r = _mm256_mul_ps(r0, _mm256_fnmadd_ps(_mm256_mul_ps(half, vc), _mm256_mul_ps(r0, r0), three_halves));
            let denom = _mm256_fmadd_ps(_mm256_mul_ps(vv, r), c, eps);
            // 1/denom with one Newton step: q ← q (2 − d q).
            let q0 = _mm256_rcp_ps(denom);
            let q = _mm256_mul_ps(q0, _mm256_fnmadd_ps(denom, q0, two));
            let mut nx = _mm256_fnmadd_ps(_mm256_mul_ps(step, mv), q, xv);
            if a.project {
                nx = _mm256_max_ps(nx, zero);
            }
            _mm256_storeu_ps(px, nx);
        }
    }
    let mut lanes = [0f32; 8];
    // SAFETY: an 8-lane store into an 8-element array.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sa) };
    let mut ta: f32 = lanes.iter().sum();
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sn) };
    let mut tn: f32 = lanes.iter().sum();
    let t = blocks * 8;
    let (ra, rn) = adam_exact(&mut x[t..n], &mut m[t..n], &mut v[t..n], &g[t..n], a);
    ta += ra;
    tn += rn;
    (ta, tn)
}

fn adam_dispatch(x: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], stride: usize, live: usize, a: Adam) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") && std::env::var_os("EMOSCOPE_EXACT_ADAM").is_none() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return adam_rows(x, m, v, g, stride, live, a, |x, m, v, g, a| unsafe { adam_avx2(x, m, v, g, a) });
    }
    adam_rows(x, m, v, g, stride, live, a, adam_exact)
}

fn adam_params(c: &StepConfig, n: usize, step: u64) -> Adam {
    let t = step as i32;
    let (b1, b2) = (0.9f64, 0.999f64);
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    Adam {
        b1: b1 as f32,
        b2: b2 as f32,
        step_size: (c.lr / bc1) as f32,
        inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
        eps: 1e-8,
        l1: (c.lambda / n as f64) as f32,
        pos: if c.positivity == Positivity::Penalty {
            0.01
        } else {
            0.0
        },
        project: c.positivity == Positivity::Project,
    }
}

/// Accumulate the gradient of the batch's mean cross-entropy into `g` (rows of the batch's items,
/// live columns only) and list the rows touched; returns the batch's summed cross-entropy.
fn data_gradient(
    x: &[f32],
    g: &mut [f32],
    stride: usize,
    live: usize,
    batch: &[Triplet],
    seen: &mut [bool],
    touched: &mut Vec<u32>,
) -> f64 {
    let s = stride;
    let scale = 1.0 / batch.len() as f32;
    let mut ce = 0f64;
    for t in batch {
        let (i, j, k) = (t[0] as usize, t[1] as usize, t[2] as usize);
        for r in [i, j, k] {
            if !seen[r] {
                seen[r] = true;
                touched.push(r as u32);
            }
        }
        let (xi, xj, xk) = (
            &x[i * s..i * s + live],
            &x[j * s..j * s + live],
            &x[k * s..k * s + live],
        );
        let (s_ij, s_ik, s_jk) = (dot(xi, xj), dot(xi, xk), dot(xj, xk));
        let mx = s_ij.max(s_ik).max(s_jk);
        let (e_ij, e_ik, e_jk) = ((s_ij - mx).exp(), (s_ik - mx).exp(), (s_jk - mx).exp());
        let z = e_ij + e_ik + e_jk;
        ce -= ((e_ij / z) as f64).ln();
        // d CE / d s for the three pairs, for the batch mean.
        let (a, b, c) = ((e_ij / z - 1.0) * scale, e_ik / z * scale, e_jk / z * scale);
        let [gi, gj, gk] = g
            .get_disjoint_mut([
                i * s..i * s + live,
                j * s..j * s + live,
                k * s..k * s + live,
            ])
            .expect("a triplet's items are distinct");
        for d in 0..live {
            let (vi, vj, vk) = (xi[d], xj[d], xk[d]);
            gi[d] += a * vj + b * vk;
            gj[d] += a * vi + c * vk;
            gk[d] += b * vi + c * vj;
        }
    }
    ce
}

/// Raw views of the engine's buffers for one epoch: the data-gradient phase (one thread) and
/// the Adam phase (each thread its own rows) never overlap in time, which the team's phase
/// counter guarantees.
#[derive(Clone, Copy)]
struct Buffers {
    x: *mut f32,
    m: *mut f32,
    v: *mut f32,
    g: *mut f32,
    len: usize,
}
// SAFETY: shared between the team's threads under the phase protocol described above.
unsafe impl Send for Buffers {}
unsafe impl Sync for Buffers {}

impl Buffers {
    /// SAFETY: the caller holds the rows [lo, hi) exclusively for the current phase.
    unsafe fn rows(&self, lo: usize, hi: usize) -> (&mut [f32], &mut [f32], &mut [f32], &[f32]) {
        let len = hi - lo;
        unsafe {
            (
                std::slice::from_raw_parts_mut(self.x.add(lo), len),
                std::slice::from_raw_parts_mut(self.m.add(lo), len),
                std::slice::from_raw_parts_mut(self.v.add(lo), len),
                std::slice::from_raw_parts(self.g.add(lo), len),
            )
        }
    }
}

/// Wait for `cond` spinning (steps are ~100 µs: a sleeping thread's wake-up would cost as much),
/// yielding after a while so an oversubscribed machine still makes progress.
#[inline]
fn spin_until(cond: impl Fn() -> bool) {
    let mut n = 0u32;
    while !cond() {
        if n < 1 << 12 {
            std::hint::spin_loop();
            n += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

impl CpuEngine {
    pub fn new(x: Vec<f32>, n: usize, dims: usize, cfg: StepConfig, threads: usize) -> Self {
        let len = n * dims;
        CpuEngine {
            n,
            stride: dims,
            live: dims,
            order: (0..dims).collect(),
            m: vec![0.0; len],
            v: vec![0.0; len],
            g: vec![0.0; len],
            x,
            touched: Vec::new(),
            seen: vec![false; n],
            step: 0,
            cfg,
            threads: threads.max(1),
        }
    }

    /// Restore Adam's state (from a checkpoint): weights, moments and step in original column order.
    pub fn restore(&mut self, x: Vec<f32>, m: Vec<f32>, v: Vec<f32>, step: u64) {
        self.x = x;
        self.m = m;
        self.v = v;
        self.step = step;
        self.order = (0..self.stride).collect();
        self.live = self.stride;
    }

    /// Swap dead columns (all zero, no positive momentum) out of the live range.
    fn retire_dead_columns(&mut self) {
        if self.cfg.positivity != Positivity::Project {
            return;
        }
        let s = self.stride;
        let mut d = 0;
        while d < self.live {
            let dead = (0..self.n).all(|i| self.x[i * s + d] == 0.0 && self.m[i * s + d] >= 0.0);
            if dead {
                let last = self.live - 1;
                for i in 0..self.n {
                    self.x.swap(i * s + d, i * s + last);
                    self.m.swap(i * s + d, i * s + last);
                    self.v.swap(i * s + d, i * s + last);
                }
                self.order.swap(d, last);
                self.live -= 1;
            } else {
                d += 1;
            }
        }
    }

    fn unpermute(&self, a: &[f32]) -> Vec<f32> {
        let s = self.stride;
        let mut out = vec![0f32; a.len()];
        for i in 0..self.n {
            for (c, &orig) in self.order.iter().enumerate() {
                out[i * s + orig] = a[i * s + c];
            }
        }
        out
    }
}

impl Engine for CpuEngine {
    fn run_epoch(&mut self, triplets: &[Triplet], batch: usize, ctx: &Ctx) -> Result<(f64, f64)> {
        use std::sync::atomic::{
            AtomicU64, AtomicUsize,
            Ordering::{Acquire, Release},
        };
        let (n, s, live) = (self.n, self.stride, self.live);
        let l1 = self.cfg.lambda / n as f64;
        let pos = if self.cfg.positivity == Positivity::Penalty {
            0.01
        } else {
            0.0
        };
        let team = if n >= 64 { self.threads.min(n / 32) } else { 1 };
        let rows_per = n.div_ceil(team);
        let span = |w: usize| ((w * rows_per).min(n) * s, ((w + 1) * rows_per).min(n) * s);
        let buf = Buffers {
            x: self.x.as_mut_ptr(),
            m: self.m.as_mut_ptr(),
            v: self.v.as_mut_ptr(),
            g: self.g.as_mut_ptr(),
            len: self.x.len(),
        };
        const IDLE: u64 = 0;
        const EXIT: u64 = u64::MAX;
        let phase = AtomicU64::new(IDLE);
        let done = AtomicUsize::new(0);
        let sums: Vec<(AtomicU64, AtomicU64)> = (0..team)
            .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
            .collect();
        let cfg = self.cfg.clone();
        let (seen, touched) = (&mut self.seen, &mut self.touched);
        let mut step = self.step;
        let result = std::thread::scope(|scope| -> Result<(f64, f64)> {
            for w in 1..team {
                let (phase, done, sums, cfg) = (&phase, &done, &sums, &cfg);
                scope.spawn(move || {
                    let mut last = IDLE;
                    loop {
                        spin_until(|| phase.load(Acquire) != last);
                        last = phase.load(Acquire);
                        if last == EXIT {
                            break;
                        }
                        let (lo, hi) = span(w);
                        // SAFETY: rows [lo, hi) belong to this worker during the Adam phase.
                        let (x, m, v, g) = unsafe { buf.rows(lo, hi) };
                        let (a, b) = adam_dispatch(x, m, v, g, s, live, adam_params(cfg, n, last));
                        sums[w].0.store(a.to_bits(), Release);
                        sums[w].1.store(b.to_bits(), Release);
                        done.fetch_add(1, Release);
                    }
                });
            }
            let mut run = || -> Result<(f64, f64)> {
                let (mut loss_sum, mut ce_sum, mut batches) = (0f64, 0f64, 0usize);
                for (b, chunk) in triplets.chunks(batch).enumerate() {
                    if b % 512 == 0 {
                        ctx.check()?;
                    }
                    // Data phase: the workers wait, this thread owns every buffer.
                    // SAFETY: no worker holds a slice until `phase` moves on.
                    let ce = {
                        let x = unsafe { std::slice::from_raw_parts(buf.x, buf.len) };
                        let g = unsafe { std::slice::from_raw_parts_mut(buf.g, buf.len) };
                        data_gradient(x, g, s, live, chunk, seen, touched) / chunk.len() as f64
                    };
                    step += 1;
                    done.store(0, Release);
                    phase.store(step, Release);
                    let (lo, hi) = span(0);
                    // SAFETY: rows [lo, hi) are this thread's during the Adam phase.
                    let (x, m, v, g) = unsafe { buf.rows(lo, hi) };
                    let (mut abs_sum, mut neg_sum) =
                        adam_dispatch(x, m, v, g, s, live, adam_params(&cfg, n, step));
                    spin_until(|| done.load(Acquire) == team - 1);
                    for w in 1..team {
                        abs_sum += f64::from_bits(sums[w].0.load(Acquire));
                        neg_sum += f64::from_bits(sums[w].1.load(Acquire));
                    }
                    // SAFETY: the Adam phase is over; this thread owns the buffers again.
                    let g = unsafe { std::slice::from_raw_parts_mut(buf.g, buf.len) };
                    for &r in touched.iter() {
                        let r = r as usize;
                        g[r * s..r * s + live].fill(0.0);
                        seen[r] = false;
                    }
                    touched.clear();
                    // The reference's loss of this batch, with the weights before the step.
                    loss_sum += ce + l1 * abs_sum + pos * neg_sum;
                    ce_sum += ce;
                    batches += 1;
                }
                Ok((
                    loss_sum / batches.max(1) as f64,
                    ce_sum / batches.max(1) as f64,
                ))
            };
            let r = run();
            phase.store(EXIT, Release);
            r
        });
        self.step = step;
        let r = result?;
        self.retire_dead_columns();
        Ok(r)
    }

    fn weights(&self) -> Vec<f32> {
        self.unpermute(&self.x)
    }

    fn state(&self) -> (Vec<f32>, Vec<f32>, Vec<f32>, u64) {
        (
            self.unpermute(&self.x),
            self.unpermute(&self.m),
            self.unpermute(&self.v),
            self.step,
        )
    }

    fn live_dims(&self) -> usize {
        self.live
    }
}
