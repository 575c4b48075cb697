//! Benchmarks of the tensor kernels, each against a peer run side by side in the same process:
//! - matmul: faer (emoscope's kernel) vs ndarray's matrixmultiply `dot`;
//! - Pearson RSM: emoscope's normalise-then-GEMM vs the direct pairwise loop.
//!
//! Reports ratios (peer time / emoscope time): timings drift on shared machines, ratios hold.
//! Run: `cargo bench -p emoscope --bench tensor_ops`
use emoscope_sdk::linalg::{matmul, similarity_matrix, Similarity};
use emoscope_sdk::stats::pearson;
use ndarray::Array2;
use std::time::Instant;

fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn data(r: usize, c: usize, seed: u64) -> Array2<f64> {
    let mut s = seed;
    Array2::from_shape_fn((r, c), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    })
}

fn main() {
    println!("machine: {} threads (rayon)", rayon::current_num_threads());
    for &(m, k, n) in &[
        (512usize, 512usize, 512usize),
        (2180, 30, 2180),
        (2180, 2180, 30),
    ] {
        let (a, b) = (data(m, k, 1), data(k, n, 2));
        let ours = best_of(5, || matmul(a.view(), b.view()));
        let peer = best_of(5, || a.dot(&b));
        println!(
            "matmul {m}x{k} @ {k}x{n}: faer {:.2} ms, ndarray dot {:.2} ms, ratio {:.2}x",
            ours * 1e3,
            peer * 1e3,
            peer / ours
        );
    }
    for &(n, d) in &[(300usize, 34usize), (1000, 34)] {
        let x = data(n, d, 3);
        let ours = best_of(3, || similarity_matrix(x.view(), Similarity::Pearson));
        let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
        let peer = best_of(1, || {
            let mut s = Array2::<f64>::zeros((n, n));
            for i in 0..n {
                for j in 0..n {
                    s[[i, j]] = pearson(&rows[i], &rows[j]);
                }
            }
            s
        });
        println!(
            "pearson RSM {n}x{d}: GEMM {:.2} ms, pairwise loop {:.2} ms, ratio {:.1}x",
            ours * 1e3,
            peer * 1e3,
            peer / ours
        );
    }
}
