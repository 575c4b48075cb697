//! The CPU engine: f32, items × dims row-major, one mini-batch at a time.
//!
//! Adam updates every weight at every step: the L1 term gives every weight a gradient and Adam's
//! moments keep moving weights the batch did not touch, so skipping them (as "lazy Adam" does)
//! would change the method. But between two batches that contain an item, its row's updates
//! depend on nothing but the row itself (its weights, moments and the L1 term). So each row is
//! brought up to date only when it is needed, replaying every step it missed, in order, with
//! exactly the arithmetic a dense pass would apply: the weights are bit-identical to updating all
//! of X at every step, while each row is read from memory once per touch instead of once per step
//! (the dense pass was bound by memory bandwidth: 3 MB of X and its moments every 100 triplets).
//!
//! A step: bring the batch's rows up to date (split over the threads, rows are disjoint), compute
//! the batch's data gradient into those rows (one thread), and leave that gradient pending for
//! the row's next replay. At the end of an epoch every row is brought up to date. The per-step
//! Σ|X| the reference's loss reports is accumulated during the replays.
//!
//! Dimensions that have died stop costing anything: a column that is all zero, under the
//! projection, with no positive Adam momentum, receives a zero data gradient (every gradient on
//! column d is a sum of other items' weights on d) and a zero L1 subgradient, so it can never
//! revive. Such columns are swapped to the end and dropped from the loops (bit-identical too).
use crate::model::dot;
use crate::train::{Engine, Positivity, StepConfig};
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{Ctx, Result};
use std::sync::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{Acquire, Release},
};

/// An epoch's loss sums (Σ|x| and Σrelu(−x) terms) and each worker's per-step sums.
type EpochSums = (f64, f64, Vec<(Vec<f64>, Vec<f64>)>);

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
    /// Pending data gradients (rows with `pending` set), applied at the row's next step.
    g: Vec<f32>,
    /// Steps applied to each row so far.
    at: Vec<u64>,
    pending: Vec<bool>,
    /// Steps taken (batches seen) so far.
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
    let (step, c, eps, l1, pos, tiny) = (
        set(a.step_size),
        set(a.inv_sqrt_bc2),
        set(a.eps),
        set(a.l1),
        set(a.pos),
        set(1e-30),
    );
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
            let vv = _mm256_fmadd_ps(
                b2,
                _mm256_loadu_ps(pv),
                _mm256_mul_ps(omb2, _mm256_mul_ps(grad, grad)),
            );
            _mm256_storeu_ps(pm, mv);
            _mm256_storeu_ps(pv, vv);
            // √v = v · rsqrt(v), with one Newton step on rsqrt: r ← r (1.5 − 0.5 v r²).
            let vc = _mm256_max_ps(vv, tiny);
            let r0 = _mm256_rsqrt_ps(vc);
            let r = _mm256_mul_ps(
                r0,
                _mm256_fnmadd_ps(_mm256_mul_ps(half, vc), _mm256_mul_ps(r0, r0), three_halves),
            );
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

/// One row, one step. AVX2 + FMA when the CPU has them (chosen once, at engine creation).
#[inline(always)]
fn row_kernel(
    avx2: bool,
    x: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    a: &Adam,
) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is only true when the CPU has AVX2 and FMA.
        return unsafe { adam_avx2(x, m, v, g, a) };
    }
    let _ = avx2;
    adam_exact(x, m, v, g, a)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::env::var_os("EMOSCOPE_EXACT_ADAM").is_none();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Raw views of the engine's per-row state for one epoch. Rows are the unit of ownership: in a
/// replay phase each thread touches only its own rows, in the data phase only the main thread
/// runs; the team's phase counter separates the phases.
#[derive(Clone, Copy)]
struct Rows {
    x: *mut f32,
    m: *mut f32,
    v: *mut f32,
    g: *mut f32,
    at: *mut u64,
    pending: *mut bool,
    stride: usize,
    live: usize,
}
// SAFETY: shared between the team's threads under the phase protocol described above.
unsafe impl Send for Rows {}
unsafe impl Sync for Rows {}

/// Per-epoch constants: Adam's step size and bias correction for each step of the epoch.
struct Schedule {
    base: u64,
    adam: Vec<Adam>,
}

impl Rows {
    /// Replay row `r` up to step `to`: every missed step, the pending data gradient in the first.
    /// Adds the row's Σ|x| and Σrelu(−x) before each step to `abs[s]`, `neg[s]` (s from the
    /// epoch's first step).
    ///
    /// SAFETY: the caller owns row `r` for the current phase.
    // The hot kernel takes its row's state as separate slices, so it borrows no struct.
    #[allow(clippy::too_many_arguments)]
    unsafe fn replay(
        &self,
        r: usize,
        to: u64,
        sched: &Schedule,
        avx2: bool,
        zeros: &[f32],
        abs: &mut [f64],
        neg: &mut [f64],
    ) {
        unsafe {
            let at = &mut *self.at.add(r);
            if *at >= to {
                return;
            }
            let o = r * self.stride;
            let l = self.live;
            let x = std::slice::from_raw_parts_mut(self.x.add(o), l);
            let m = std::slice::from_raw_parts_mut(self.m.add(o), l);
            let v = std::slice::from_raw_parts_mut(self.v.add(o), l);
            let g = std::slice::from_raw_parts_mut(self.g.add(o), l);
            let pending = &mut *self.pending.add(r);
            for s in *at + 1..=to {
                let k = (s - sched.base - 1) as usize;
                let grad: &[f32] = if *pending { g } else { &zeros[..l] };
                let (a, n) = row_kernel(avx2, x, m, v, grad, &sched.adam[k]);
                abs[k] += a as f64;
                neg[k] += n as f64;
                if *pending {
                    g.fill(0.0);
                    *pending = false;
                }
            }
            *at = to;
        }
    }
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
/// live columns only); returns the batch's summed cross-entropy.
fn data_gradient_rows(
    x: &[f32],
    g: &mut [f32],
    stride: usize,
    live: usize,
    batch: &[Triplet],
) -> f64 {
    let s = stride;
    let scale = 1.0 / batch.len() as f32;
    let mut ce = 0f64;
    for t in batch {
        let (i, j, k) = (t[0] as usize, t[1] as usize, t[2] as usize);
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
            at: vec![0; n],
            pending: vec![false; n],
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
        self.at = vec![step; self.n];
        self.order = (0..self.stride).collect();
        self.live = self.stride;
        // Columns that died before the checkpoint stay out of the loops from the first epoch.
        self.retire_dead_columns();
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
        let (n, s, live) = (self.n, self.stride, self.live);
        let nb = triplets.len().div_ceil(batch);
        let base = self.step;
        let sched = Schedule {
            base,
            adam: (1..=nb as u64)
                .map(|k| adam_params(&self.cfg, n, base + k))
                .collect(),
        };
        let avx2 = has_avx2();
        let zeros = vec![0f32; live];
        let team = if n >= 64 {
            self.threads.min(n / 32).max(1)
        } else {
            1
        };
        let rows = Rows {
            x: self.x.as_mut_ptr(),
            m: self.m.as_mut_ptr(),
            v: self.v.as_mut_ptr(),
            g: self.g.as_mut_ptr(),
            at: self.at.as_mut_ptr(),
            pending: self.pending.as_mut_ptr(),
            stride: s,
            live,
        };
        const EXIT: u64 = u64::MAX;
        // phase = 2·b + 1 asks the team to replay batch b's rows; EXIT ends the epoch after the
        // final replay of every row (phase EXIT − 1).
        let phase = AtomicU64::new(0);
        let done = AtomicUsize::new(0);
        // The rows to replay in the current phase, and the step to bring them to.
        let work: std::sync::Mutex<(Vec<u32>, u64)> = std::sync::Mutex::new((Vec::new(), 0));
        let (sched, zeros, work, phase_ref, done_ref) = (&sched, &zeros, &work, &phase, &done);
        let results = std::thread::scope(|scope| -> Result<EpochSums> {
            let mut handles = Vec::new();
            for w in 1..team {
                handles.push(scope.spawn(move || {
                    let (mut abs, mut neg) = (vec![0f64; nb], vec![0f64; nb]);
                    let mut last = 0;
                    loop {
                        spin_until(|| phase_ref.load(Acquire) != last);
                        last = phase_ref.load(Acquire);
                        if last == EXIT {
                            break;
                        }
                        let (list, to) = {
                            let g = work.lock().expect("work list");
                            (
                                g.0.iter()
                                    .skip(w)
                                    .step_by(team)
                                    .copied()
                                    .collect::<Vec<u32>>(),
                                g.1,
                            )
                        };
                        for r in list {
                            // SAFETY: row r is this worker's in this phase (rows are dealt round-robin).
                            unsafe {
                                rows.replay(r as usize, to, sched, avx2, zeros, &mut abs, &mut neg)
                            };
                        }
                        done_ref.fetch_add(1, Release);
                    }
                    (abs, neg)
                }));
            }
            let (mut abs, mut neg) = (vec![0f64; nb], vec![0f64; nb]);
            let mut phase_no = 0u64;
            // Run one replay phase over `list` to step `to`, this thread taking its share.
            let mut replay_phase =
                |list: Vec<u32>, to: u64, abs: &mut Vec<f64>, neg: &mut Vec<f64>| {
                    let mine: Vec<u32> = list.iter().step_by(team).copied().collect();
                    if team > 1 {
                        *work.lock().expect("work list") = (list, to);
                        done_ref.store(0, Release);
                        phase_no += 2;
                        phase_ref.store(phase_no - 1, Release);
                    }
                    for r in mine {
                        // SAFETY: row r is this thread's in this phase.
                        unsafe { rows.replay(r as usize, to, sched, avx2, zeros, abs, neg) };
                    }
                    if team > 1 {
                        spin_until(|| done_ref.load(Acquire) == team - 1);
                    }
                };
            let mut run = || -> Result<(f64, f64)> {
                let mut ce_sum = 0f64;
                let mut seen = vec![false; n];
                for (b, chunk) in triplets.chunks(batch).enumerate() {
                    if b % 512 == 0 {
                        ctx.check()?;
                    }
                    let mut list = Vec::with_capacity(3 * chunk.len());
                    for t in chunk {
                        for &r in t {
                            if !seen[r as usize] {
                                seen[r as usize] = true;
                                list.push(r);
                            }
                        }
                    }
                    list.iter().for_each(|&r| seen[r as usize] = false);
                    let to = base + b as u64;
                    replay_phase(list.clone(), to, &mut abs, &mut neg);
                    // Data phase: only this thread runs.
                    // SAFETY: the team waits for the next phase; these rows are up to date.
                    let (x, g) = unsafe {
                        (
                            std::slice::from_raw_parts(rows.x, n * s),
                            std::slice::from_raw_parts_mut(rows.g, n * s),
                        )
                    };
                    ce_sum += data_gradient_rows(x, g, s, live, chunk) / chunk.len() as f64;
                    for &r in &list {
                        // SAFETY: as above.
                        unsafe { *rows.pending.add(r as usize) = true };
                    }
                }
                // Bring every row to the epoch's last step.
                replay_phase(
                    (0..n as u32).collect(),
                    base + nb as u64,
                    &mut abs,
                    &mut neg,
                );
                Ok((ce_sum, 0.0))
            };
            let r = run();
            phase.store(EXIT, Release);
            let parts: Vec<(Vec<f64>, Vec<f64>)> = handles
                .into_iter()
                .map(|h| h.join().expect("worker"))
                .collect();
            let (ce_sum, _) = r?;
            let mut all = parts;
            all.push((abs, neg));
            Ok((ce_sum, 0.0, all))
        });
        let (ce_sum, _, parts) = results?;
        self.step = base + nb as u64;
        let l1 = self.cfg.lambda / n as f64;
        let pos = if self.cfg.positivity == Positivity::Penalty {
            0.01
        } else {
            0.0
        };
        let mut penalty = 0f64;
        for k in 0..nb {
            let (a, ng): (f64, f64) = parts
                .iter()
                .map(|(a, ng)| (a[k], ng[k]))
                .fold((0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1));
            penalty += l1 * a + pos * ng;
        }
        self.retire_dead_columns();
        let nbf = nb.max(1) as f64;
        Ok(((ce_sum + penalty) / nbf, ce_sum / nbf))
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
