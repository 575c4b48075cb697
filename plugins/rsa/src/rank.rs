//! Ranking kernels: the radix sort of f32 similarities the searchlight ranks every sphere's RSM
//! with, the exact Spearman of a sorted neural RSM against pre-ranked models, and Kendall's tau-a
//! by merge-sort counting (Knight's O(n log n) algorithm).

/// An order-preserving map of f32 to u32 (for non-NaN values; −0 and +0 map alike).
#[inline(always)]
pub fn f32_key(x: f32) -> u32 {
    let b = (x + 0.0).to_bits();
    // negative: all bits flipped; positive: the sign bit set (branch-free: signs are random)
    b ^ (((b as i32 >> 31) as u32) | 0x8000_0000)
}

/// The sort's leading digit: the top 11 bits of the key (bits 53..64 of an item).
pub const TOP_SHIFT: u32 = 53;
const TOP: usize = 1 << 11;
/// The two lower digits, sorted within each leading-digit bucket: key bits 0..11 and 11..21.
const LO_SHIFT: [u32; 2] = [32, 43];
const LO_BITS: [u32; 2] = [11, 10];
/// Buckets up to this size are insertion-sorted.
const SMALL: usize = 48;

/// The leading digit of an item (its top 11 key bits).
#[inline(always)]
pub fn top_digit(item: u64) -> usize {
    (item >> TOP_SHIFT) as usize
}

/// Histogram of the leading digit of the items, and the buckets' start offsets.
pub struct TopHistogram(pub [u32; TOP]);

impl TopHistogram {
    pub fn new() -> Self {
        TopHistogram([0; TOP])
    }
    #[inline(always)]
    pub fn add(&mut self, item: u64) {
        // SAFETY: top_digit < 2^11.
        unsafe { *self.0.get_unchecked_mut(top_digit(item)) += 1 };
    }
    /// Exclusive prefix sums: where each bucket starts.
    pub fn offsets(&self) -> [u32; TOP] {
        let mut offs = [0u32; TOP];
        let mut acc = 0u32;
        for (o, &c) in offs.iter_mut().zip(self.0.iter()) {
            *o = acc;
            acc += c;
        }
        offs
    }
}

impl Default for TopHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Places items by their leading digit: `offs` from [`TopHistogram::offsets`], advanced as
/// items land (so calling this in input order gives a stable distribution).
#[inline(always)]
pub fn scatter_top(item: u64, offs: &mut [u32; TOP], dst: &mut [u64]) {
    // SAFETY: offs[d] < dst.len() while the histogram counts every item exactly once, as callers
    // guarantee (a debug assertion checks the index).
    unsafe {
        let o = offs.get_unchecked_mut(top_digit(item));
        debug_assert!((*o as usize) < dst.len());
        *dst.get_unchecked_mut(*o as usize) = item;
        *o += 1;
    }
}

/// Sorts `data`, already distributed by leading digit (bucket by bucket in the order of `h`, as
/// [`scatter_top`] leaves them), by the rest of the key, stably, bucket by bucket: LSD radix
/// passes of 11 and 10 bits that stay in cache, insertion sort for small buckets. `tmp` is
/// scratch of the same length.
pub fn sort_buckets(data: &mut [u64], tmp: &mut [u64], h: &TopHistogram) {
    debug_assert_eq!(data.len(), tmp.len());
    let mut a = 0usize;
    for &c in h.0.iter() {
        let b = a + c as usize;
        let d = &mut data[a..b];
        if d.len() <= SMALL {
            insertion_sort(d);
        } else {
            lsd_low(d, &mut tmp[a..b]);
        }
        a = b;
    }
}

/// Stable insertion sort by key.
fn insertion_sort(d: &mut [u64]) {
    for i in 1..d.len() {
        let it = d[i];
        let key = it >> 32;
        let mut j = i;
        while j > 0 && d[j - 1] >> 32 > key {
            d[j] = d[j - 1];
            j -= 1;
        }
        d[j] = it;
    }
}

/// Stable LSD radix sort of one bucket by key bits 0..21 (both histograms in one read), result
/// in `d`; passes whose digit is the same for every item are skipped.
fn lsd_low(d: &mut [u64], tmp: &mut [u64]) {
    let n = d.len();
    let mut h0 = [0u32; 1 << 11];
    let mut h1 = [0u32; 1 << 10];
    for &it in d.iter() {
        // SAFETY: the masked digits index within the arrays.
        unsafe {
            *h0.get_unchecked_mut(((it >> LO_SHIFT[0]) & 0x7FF) as usize) += 1;
            *h1.get_unchecked_mut(((it >> LO_SHIFT[1]) & 0x3FF) as usize) += 1;
        }
    }
    let need0 = !h0.iter().any(|&c| c as usize == n);
    let need1 = !h1.iter().any(|&c| c as usize == n);
    fn pass(src: &[u64], dst: &mut [u64], hist: &[u32], shift: u32, bits: u32) {
        let mut offs = [0u32; 1 << 11];
        let mut acc = 0u32;
        for (o, &c) in offs.iter_mut().zip(hist.iter()) {
            *o = acc;
            acc += c;
        }
        let mask = (1u64 << bits) - 1;
        for &it in src {
            // SAFETY: offs[digit] < n: the histogram counts every item exactly once.
            unsafe {
                let o = offs.get_unchecked_mut(((it >> shift) & mask) as usize);
                *dst.get_unchecked_mut(*o as usize) = it;
                *o += 1;
            }
        }
    }
    match (need0, need1) {
        (true, true) => {
            pass(d, tmp, &h0, LO_SHIFT[0], LO_BITS[0]);
            pass(tmp, d, &h1, LO_SHIFT[1], LO_BITS[1]);
        }
        (true, false) => {
            pass(d, tmp, &h0, LO_SHIFT[0], LO_BITS[0]);
            d.copy_from_slice(tmp);
        }
        (false, true) => {
            pass(d, tmp, &h1, LO_SHIFT[1], LO_BITS[1]);
            d.copy_from_slice(tmp);
        }
        (false, false) => {}
    }
}

/// Stable radix sort of `items` by their upper 32 bits (the key; the lower 32 bits carry a
/// payload), using `buf` as scratch: one pass by the leading 11 bits, then each bucket in cache.
#[cfg(test)]
pub fn radix_sort_keys(items: &mut Vec<u64>, buf: &mut Vec<u64>) {
    let n = items.len();
    buf.resize(n, 0);
    let mut h = TopHistogram::new();
    items.iter().for_each(|&it| h.add(it));
    let mut offs = h.offsets();
    for &it in items.iter() {
        scatter_top(it, &mut offs, buf);
    }
    sort_buckets(buf, items, &h);
    std::mem::swap(items, buf);
}

/// Models ranked once: for each model, twice its centred, tie-averaged ranks (integers, exact),
/// interleaved pair by pair, and each model's sum of squared centred ranks.
pub struct RankedModels {
    pub n_models: usize,
    pub n_pairs: usize,
    /// `twice[k * n_models + m]` = 2 · (rank_m(k) − (n_pairs + 1) / 2).
    pub twice: Vec<i32>,
    pub ss: Vec<f64>,
}

impl RankedModels {
    /// From the upper triangles of the models (each of length n_pairs).
    pub fn new(uppers: &[Vec<f64>]) -> RankedModels {
        let n_models = uppers.len();
        let n_pairs = uppers.first().map_or(0, Vec::len);
        let mut twice = vec![0i32; n_models * n_pairs];
        let mut ss = Vec::with_capacity(n_models);
        for (m, u) in uppers.iter().enumerate() {
            let r = emoscope_sdk::stats::rank_average(u);
            let mut s = 0.0;
            for (k, &rk) in r.iter().enumerate() {
                // 2·rank is an integer (ties share a half-integer average), as is n_pairs + 1.
                let t = (2.0 * rk) as i64 - (n_pairs as i64 + 1);
                twice[k * n_models + m] = t as i32;
                s += (t as f64) * (t as f64) / 4.0;
            }
            ss.push(s);
        }
        RankedModels {
            n_models,
            n_pairs,
            twice,
            ss,
        }
    }
}

/// Spearman correlations of a sorted neural upper triangle (items sorted by key, payload = pair
/// index) with every model: exact integer sums of 2·rank × 2·centred model rank, tie-aware
/// (equal keys share their average rank), then divided by the norms. A zero-variance side gives 0.
///
/// With `exact` (the f64 value of each pair, by pair index), equal keys only tie when their exact
/// values are equal: runs of equal keys must then be sorted by `exact` (see [`refine`]).
pub fn spearman_sorted(
    sorted: &[u64],
    exact: Option<&[f64]>,
    models: &RankedModels,
    out: &mut [f64],
) {
    let n = sorted.len();
    let nm = models.n_models;
    let mut total = vec![0i128; nm];
    let mut block = vec![0i64; nm];
    let mut tie_sum: i128 = 0; // Σ (t³ − t) over tie groups
    let mut pos = 0usize;
    let mut since_flush = 0usize;
    while pos < n {
        let key = sorted[pos] >> 32;
        let mut end = pos + 1;
        match exact {
            None => {
                while end < n && sorted[end] >> 32 == key {
                    end += 1;
                }
            }
            Some(ev) => {
                let x = ev[(sorted[pos] & 0xFFFF_FFFF) as usize];
                while end < n
                    && sorted[end] >> 32 == key
                    && ev[(sorted[end] & 0xFFFF_FFFF) as usize] == x
                {
                    end += 1;
                }
            }
        }
        // Positions pos..end share 2·rank = pos + end + 1 (1-based average rank × 2).
        let r2 = (pos + end + 1) as i64;
        for &it in &sorted[pos..end] {
            let k = (it & 0xFFFF_FFFF) as usize;
            let row = &models.twice[k * nm..k * nm + nm];
            for (b, &t) in block.iter_mut().zip(row) {
                *b += r2 * t as i64;
            }
        }
        let t = (end - pos) as i128;
        if t > 1 {
            tie_sum += t * t * t - t;
        }
        since_flush += end - pos;
        if since_flush >= 2048 {
            for (tot, b) in total.iter_mut().zip(block.iter_mut()) {
                *tot += *b as i128;
                *b = 0;
            }
            since_flush = 0;
        }
        pos = end;
    }
    for (tot, b) in total.iter_mut().zip(block.iter()) {
        *tot += *b as i128;
    }
    let nn = n as i128;
    // Σ (rank − mean)² = (n³ − n − Σ(t³ − t)) / 12.
    let sx = (nn * nn * nn - nn - tie_sum) as f64 / 12.0;
    for m in 0..nm {
        let sm = models.ss[m];
        out[m] = if sx <= 0.0 || sm <= 0.0 {
            0.0
        } else {
            (total[m] as f64 / 4.0) / (sx * sm).sqrt()
        };
    }
}

/// [`spearman_sorted`] for a single model whose 2·(centred rank) is each item's payload (the
/// lower 32 bits, as i32) instead of the pair index: the same exact sums, read sequentially.
pub fn spearman_sorted_single(sorted: &[u64], models: &RankedModels, out: &mut [f64]) {
    debug_assert_eq!(models.n_models, 1);
    let n = sorted.len();
    let mut total: i128 = 0;
    let mut block: i64 = 0;
    let mut tie_sum: i128 = 0;
    let mut pos = 0usize;
    let mut since_flush = 0usize;
    while pos < n {
        let key = sorted[pos] >> 32;
        let mut end = pos + 1;
        while end < n && sorted[end] >> 32 == key {
            end += 1;
        }
        let r2 = (pos + end + 1) as i64;
        let mut t_sum = 0i64;
        for &it in &sorted[pos..end] {
            t_sum += it as u32 as i32 as i64;
        }
        block += r2 * t_sum;
        let t = (end - pos) as i128;
        if t > 1 {
            tie_sum += t * t * t - t;
        }
        since_flush += end - pos;
        if since_flush >= 2048 {
            total += block as i128;
            block = 0;
            since_flush = 0;
        }
        pos = end;
    }
    total += block as i128;
    let nn = n as i128;
    let sx = (nn * nn * nn - nn - tie_sum) as f64 / 12.0;
    let sm = models.ss[0];
    out[0] = if sx <= 0.0 || sm <= 0.0 {
        0.0
    } else {
        (total as f64 / 4.0) / (sx * sm).sqrt()
    };
}

/// Sort each run of equal keys by the exact f64 values (`exact[pair index]`): keys are the f32
/// roundings of the values, a monotone map, so the result is the exact f64 order.
pub fn refine(sorted: &mut [u64], exact: &[f64]) {
    let n = sorted.len();
    let mut pos = 0;
    while pos < n {
        let key = sorted[pos] >> 32;
        let mut end = pos + 1;
        while end < n && sorted[end] >> 32 == key {
            end += 1;
        }
        if end - pos > 1 {
            sorted[pos..end].sort_unstable_by(|a, b| {
                let (x, y) = (
                    exact[(a & 0xFFFF_FFFF) as usize],
                    exact[(b & 0xFFFF_FFFF) as usize],
                );
                (x + 0.0).total_cmp(&(y + 0.0)).then(a.cmp(b))
            });
        }
        pos = end;
    }
}

/// Kendall's tau-a, (concordant − discordant) / (n(n − 1)/2), by sorting and merge-sort counting
/// of discordant pairs: O(n log n), exact (integer counts). NaN below 2 items.
pub fn kendall_tau_a(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "kendall: inputs of different length");
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    // −0 and +0 are equal: normalise them so the total order agrees with ==
    let x: Vec<f64> = x.iter().map(|&v| v + 0.0).collect();
    let y: Vec<f64> = y.iter().map(|&v| v + 0.0).collect();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]).then(y[i].total_cmp(&y[j])));
    let pairs = |t: u64| t * (t.saturating_sub(1)) / 2;
    let (mut tx, mut txy) = (0u64, 0u64);
    let (mut rx, mut rxy) = (1u64, 1u64);
    for w in idx.windows(2) {
        let (a, b) = (w[0], w[1]);
        if x[a] == x[b] {
            rx += 1;
            if y[a] == y[b] {
                rxy += 1;
            } else {
                txy += pairs(rxy);
                rxy = 1;
            }
        } else {
            tx += pairs(rx);
            txy += pairs(rxy);
            rx = 1;
            rxy = 1;
        }
    }
    tx += pairs(rx);
    txy += pairs(rxy);
    let mut ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
    let mut buf = vec![0.0; n];
    let discordant = merge_count(&mut ys, &mut buf);
    let mut ty = 0u64;
    let mut ry = 1u64;
    for w in ys.windows(2) {
        if w[0] == w[1] {
            ry += 1;
        } else {
            ty += pairs(ry);
            ry = 1;
        }
    }
    ty += pairs(ry);
    let n0 = pairs(n as u64);
    let diff = n0 as i128 - tx as i128 - ty as i128 + txy as i128 - 2 * discordant as i128;
    diff as f64 / n0 as f64
}

/// Sort `v` ascending (bottom-up merge sort), returning the number of pairs i < j with
/// v[i] > v[j] (strictly).
fn merge_count(v: &mut [f64], buf: &mut [f64]) -> u64 {
    let n = v.len();
    let mut swaps = 0u64;
    let mut width = 1;
    while width < n {
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j, mut k) = (lo, mid, lo);
            while i < mid && j < hi {
                if v[j].total_cmp(&v[i]).is_lt() {
                    buf[k] = v[j];
                    swaps += (mid - i) as u64;
                    j += 1;
                } else {
                    buf[k] = v[i];
                    i += 1;
                }
                k += 1;
            }
            buf[k..k + mid - i].copy_from_slice(&v[i..mid]);
            k += mid - i;
            buf[k..k + hi - j].copy_from_slice(&v[j..hi]);
            v[lo..hi].copy_from_slice(&buf[lo..hi]);
            lo = hi;
        }
        width *= 2;
    }
    swaps
}

#[cfg(test)]
mod tests {
    use super::*;
    use emoscope_sdk::stats::spearman;
    use rand::{RngExt, SeedableRng};

    fn brute_tau_a(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len();
        let mut s = 0i64;
        for i in 0..n {
            for j in i + 1..n {
                let a = (x[i] - x[j]).partial_cmp(&0.0).unwrap() as i64;
                let b = (y[i] - y[j]).partial_cmp(&0.0).unwrap() as i64;
                s += a * b;
            }
        }
        s as f64 / (n * (n - 1) / 2) as f64
    }

    #[test]
    fn kendall_matches_brute_force_with_and_without_ties() {
        let mut r = emoscope_sdk::ctx::Rng::seed_from_u64(5);
        for (n, levels) in [
            (2usize, 0u32),
            (7, 3),
            (50, 0),
            (200, 5),
            (333, 40),
            (64, 1),
        ] {
            let draw = |r: &mut emoscope_sdk::ctx::Rng| -> f64 {
                if levels == 0 {
                    r.random::<f64>()
                } else {
                    r.random_range(0..levels) as f64
                }
            };
            let x: Vec<f64> = (0..n).map(|_| draw(&mut r)).collect();
            let y: Vec<f64> = (0..n).map(|_| draw(&mut r)).collect();
            let (got, want) = (kendall_tau_a(&x, &y), brute_tau_a(&x, &y));
            assert!((got - want).abs() < 1e-12, "n {n}: {got} vs {want}");
        }
        // scipy.stats.kendalltau([1,2,3,4,5],[3,4,1,2,5]) with variant "a"-like counting:
        // C = 6, D = 4 → tau-a = 0.2.
        let t = kendall_tau_a(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 4.0, 1.0, 2.0, 5.0]);
        assert!((t - 0.2).abs() < 1e-15, "{t}");
    }

    #[test]
    fn radix_sort_sorts_and_spearman_is_exact() {
        let mut r = emoscope_sdk::ctx::Rng::seed_from_u64(9);
        for ties in [false, true] {
            let n = 5000;
            let vals: Vec<f32> = (0..n)
                .map(|_| {
                    if ties {
                        (r.random_range(0..40) as f32 - 20.0) / 7.0
                    } else {
                        r.random::<f32>() * 2.0 - 1.0
                    }
                })
                .collect();
            let mut items: Vec<u64> = vals
                .iter()
                .enumerate()
                .map(|(k, &v)| ((f32_key(v) as u64) << 32) | k as u64)
                .collect();
            let mut want = items.clone();
            want.sort_by_key(|&it| it >> 32); // stable, as the radix sort
            let mut buf = Vec::new();
            radix_sort_keys(&mut items, &mut buf);
            assert_eq!(items, want);
            for w in items.windows(2) {
                let (a, b) = (
                    vals[(w[0] & 0xFFFF_FFFF) as usize],
                    vals[(w[1] & 0xFFFF_FFFF) as usize],
                );
                assert!(a <= b);
            }
            let m1: Vec<f64> = (0..n).map(|_| r.random::<f64>()).collect();
            let m2: Vec<f64> = (0..n).map(|_| r.random_range(0..9) as f64).collect();
            let models = RankedModels::new(&[m1.clone(), m2.clone()]);
            let mut out = [0.0; 2];
            spearman_sorted(&items, None, &models, &mut out);
            let v64: Vec<f64> = vals.iter().map(|&v| v as f64).collect();
            for (j, m) in [&m1, &m2].into_iter().enumerate() {
                let one = RankedModels::new(std::slice::from_ref(m));
                let mut ranked: Vec<u64> = items
                    .iter()
                    .map(|&it| {
                        let t = one.twice[(it & 0xFFFF_FFFF) as usize];
                        (it & !0xFFFF_FFFF) | t as u32 as u64
                    })
                    .collect();
                ranked.sort_by_key(|&it| it >> 32);
                let mut single = [0.0];
                spearman_sorted_single(&ranked, &one, &mut single);
                assert_eq!(
                    single[0].to_bits(),
                    out[j].to_bits(),
                    "{single:?} vs {out:?}"
                );
            }
            assert!((out[0] - spearman(&v64, &m1)).abs() < 1e-12, "{out:?}");
            assert!((out[1] - spearman(&v64, &m2)).abs() < 1e-12, "{out:?}");
        }
    }

    #[test]
    fn keys_order_like_floats() {
        let v = [-1.0f32, -0.5, -0.0, 0.0, 1e-30, 0.25, 1.0];
        for w in v.windows(2) {
            assert!(f32_key(w[0]) <= f32_key(w[1]));
        }
        assert_eq!(f32_key(-0.0), f32_key(0.0));
    }
}
