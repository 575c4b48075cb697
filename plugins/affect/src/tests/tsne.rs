//! t-SNE against scikit-learn's reference values and its own invariants (determinism, the
//! SIMD kernel), the PCA start, trustworthiness against sklearn and the definition.
use super::*;

/// The fixed example the sklearn reference values below were computed on:
/// X[i, j] = sin(1.3 i + 2.1 j) + cos(0.37 i j), 40 × 5; Y = [X0 + 0.5 X3, X1 − 0.3 X2].
fn sklearn_example() -> (Array2<f64>, Array2<f64>) {
    let x = Array2::from_shape_fn((40, 5), |(i, j)| {
        let (i, j) = (i as f64, j as f64);
        (1.3 * i + 2.1 * j).sin() + (0.37 * i * j).cos()
    });
    let y = Array2::from_shape_fn((40, 2), |(i, c)| {
        if c == 0 {
            x[[i, 0]] + 0.5 * x[[i, 3]]
        } else {
            x[[i, 1]] - 0.3 * x[[i, 2]]
        }
    });
    (x, y)
}

#[test]
fn tsne_separates_well_separated_clusters() {
    let centres = vec![
        vec![0.0, 0.0, 0.0, 0.0, 0.0],
        vec![12.0, 0.0, 0.0, 0.0, 0.0],
        vec![0.0, 12.0, 0.0, 12.0, 0.0],
    ];
    let (x, labels) = blobs(&centres, 20, 3);
    let out = call(
        "tsne",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"perplexity" => 10.0, "seed" => 1i64},
    )
    .unwrap();
    let y = mat(&out, "coords");
    assert_eq!(y.dim(), (60, 2));
    assert_eq!(out.get("iterations").unwrap().as_i64(), Some(1000));
    // learning_rate "auto": max(60 / 12 / 4, 50) = 50.
    assert_eq!(out.get("learning_rate").unwrap().as_f64(), Some(50.0));
    // Each point's two nearest neighbours in the map are in its own cluster.
    for i in 0..60 {
        let mut o: Vec<usize> = (0..60).filter(|&j| j != i).collect();
        o.sort_by(|&a, &b| sq(y.row(i), y.row(a)).total_cmp(&sq(y.row(i), y.row(b))));
        for &j in &o[..2] {
            assert_eq!(labels[j], labels[i], "point {i}'s neighbour {j}");
        }
    }
    let t = call(
        "trustworthiness",
        vec![
            Tensor::from_array(x.clone()).into(),
            Tensor::from_array(y.clone()).into(),
        ],
        vmap! {"k" => 5usize},
    )
    .unwrap()
    .as_f64()
    .unwrap();
    assert!(t > 0.9, "trustworthiness {t}");
    // The KL reported is KL(P‖Q) of the returned map, computed here independently.
    let p = crate::tsne::joint_probabilities(x.view(), 10.0);
    let mut z = 0.0;
    for i in 0..60 {
        for j in 0..60 {
            if i != j {
                z += 1.0 / (1.0 + sq(y.row(i), y.row(j)));
            }
        }
    }
    let mut kl = 0.0;
    for i in 0..60 {
        for j in 0..60 {
            if i != j {
                let q = 1.0 / (1.0 + sq(y.row(i), y.row(j))) / z;
                kl += p[i * 60 + j] * (p[i * 60 + j] / q).ln();
            }
        }
    }
    let got = out.get("kl_divergence").unwrap().as_f64().unwrap();
    assert!((got - kl).abs() < 1e-9 * kl.abs().max(1.0), "{got} vs {kl}");
    assert!(kl > 0.0 && kl < 1.0, "KL {kl}");
}

#[test]
fn tsne_joint_probabilities_match_sklearn() {
    // sklearn.manifold._t_sne._joint_probabilities(pairwise_distances(X, squared=True), 10.0, 0)
    // on the fixed example (sklearn casts the distances to float32, hence the tolerance).
    let (x, _) = sklearn_example();
    let p = crate::tsne::joint_probabilities(x.view(), 10.0);
    let n = 40;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs();
    assert!(close(p[1], 0.0005316294795371233), "{}", p[1]);
    assert!(
        close(p[3 * n + 17], 2.1323882994847473e-05),
        "{}",
        p[3 * n + 17]
    );
    assert!(
        close(p[10 * n + 39], 0.0008610067077200994),
        "{}",
        p[10 * n + 39]
    );
    assert!(close(
        p.iter().map(|v| v * v).sum::<f64>(),
        0.003966449586420765
    ));
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    for i in 0..n {
        assert_eq!(p[i * n + i], 0.0);
        for j in 0..n {
            assert_eq!(p[i * n + j], p[j * n + i]);
        }
    }
}

#[test]
fn tsne_is_deterministic_for_a_seed_and_thread_count() {
    let centres = vec![vec![0.0; 4], vec![6.0, 0.0, 0.0, 6.0]];
    let (x, _) = blobs(&centres, 15, 9);
    let cfg = |seed: u64, init: crate::tsne::Init| crate::tsne::Config {
        perplexity: 5.0,
        iterations: 300,
        seed,
        init,
        ..Default::default()
    };
    let run = |threads: usize, c: crate::tsne::Config| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| crate::tsne::tsne(x.view(), &c, &Ctx::detached()))
            .unwrap()
            .coords
    };
    use crate::tsne::Init::{Pca, Random};
    let a = run(1, cfg(1, Random));
    assert_eq!(a, run(1, cfg(1, Random)));
    assert_eq!(a, run(3, cfg(1, Random)));
    assert_ne!(a, run(1, cfg(2, Random)));
    let p = run(1, cfg(1, Pca));
    assert_eq!(p, run(3, cfg(1, Pca)));
    // PCA initialisation does not use the seed.
    assert_eq!(p, run(1, cfg(7, Pca)));
    assert_ne!(p, a);
}

#[test]
fn pca_scores_are_the_leading_principal_components() {
    // Points on an ellipse in a plane of 4-D, stretched 3:1 along two orthogonal directions,
    // with coefficients that are exactly uncorrelated and centred: the PCs are u and v.
    let (u, v) = ([0.5, 0.5, 0.5, 0.5], [0.5, -0.5, 0.5, -0.5]);
    let coef: Vec<(f64, f64)> = (0..50)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / 50.0;
            (3.0 * t.cos(), t.sin())
        })
        .collect();
    let x = Array2::from_shape_fn((50, 4), |(i, j)| 1.0 + coef[i].0 * u[j] + coef[i].1 * v[j]);
    let s = crate::tsne::pca_scores(x.view(), 2);
    // Scores are the coefficients, signs as svd_flip (the largest loading positive; u's
    // entries tie, and the first, positive, wins).
    for i in 0..50 {
        assert!(
            (s[[i, 0]] - coef[i].0).abs() < 1e-9,
            "{i}: {} vs {}",
            s[[i, 0]],
            coef[i].0
        );
        assert!(
            (s[[i, 1]] - coef[i].1).abs() < 1e-9,
            "{i}: {} vs {}",
            s[[i, 1]],
            coef[i].1
        );
    }
    // Rank 1: the second column is zero.
    let x1 = Array2::from_shape_fn((30, 3), |(i, j)| (i as f64) * (j as f64 + 1.0));
    let s1 = crate::tsne::pca_scores(x1.view(), 2);
    assert!(s1.column(1).iter().all(|&v| v == 0.0));
    assert!(s1.column(0).iter().any(|&v| v.abs() > 1.0));
}

/// Trustworthiness straight from its definition: ranks by counting closer points.
fn trust_brute(x: &Array2<f64>, y: &Array2<f64>, k: usize) -> f64 {
    let n = x.nrows();
    let mut t = 0.0;
    for i in 0..n {
        for j in 0..n {
            if j == i {
                continue;
            }
            let dy = sq(y.row(i), y.row(j));
            let closer_y = (0..n)
                .filter(|&l| l != i && l != j && sq(y.row(i), y.row(l)) < dy)
                .count();
            if closer_y >= k {
                continue;
            }
            let dx = sq(x.row(i), x.row(j));
            let rank = 1
                + (0..n)
                    .filter(|&l| l != i && l != j && sq(x.row(i), x.row(l)) < dx)
                    .count();
            t += (rank as f64 - k as f64).max(0.0);
        }
    }
    let (n, k) = (n as f64, k as f64);
    1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * t
}

#[test]
fn trustworthiness_matches_sklearn_and_the_definition() {
    let (x, y) = sklearn_example();
    // sklearn.manifold.trustworthiness(X, Y, n_neighbors=k).
    for (k, want) in [(5, 0.86671875), (7, 0.8817733990147784)] {
        let got = crate::tsne::trustworthiness(x.view(), y.view(), k).unwrap();
        assert!((got - want).abs() < 1e-12, "k {k}: {got} vs {want}");
        assert!((got - trust_brute(&x, &y, k)).abs() < 1e-12);
    }
    let mut rng = Rng::seed_from_u64(12);
    let a = Array2::from_shape_fn((15, 3), |_| gaussian(&mut rng));
    let b = Array2::from_shape_fn((15, 2), |_| gaussian(&mut rng));
    for k in 1..=7 {
        let got = crate::tsne::trustworthiness(a.view(), b.view(), k).unwrap();
        assert!((got - trust_brute(&a, &b, k)).abs() < 1e-12, "k {k}");
        assert_eq!(
            crate::tsne::trustworthiness(a.view(), a.view(), k).unwrap(),
            1.0
        );
    }
    // A map that keeps the order of distances is perfectly trustworthy.
    assert_eq!(
        crate::tsne::trustworthiness(a.view(), a.mapv(|v| 3.0 * v - 1.0).view(), 4).unwrap(),
        1.0
    );
}

#[test]
fn tsne_row_kernel_is_bit_identical_with_and_without_avx2_and_matches_a_plain_loop() {
    let mut rng = Rng::seed_from_u64(77);
    for n in [1usize, 7, 8, 9, 37] {
        let yx: Vec<f64> = (0..n).map(|_| gaussian(&mut rng)).collect();
        let yy: Vec<f64> = (0..n).map(|_| gaussian(&mut rng)).collect();
        let p: Vec<f64> = (0..n).map(|_| rng.random::<f64>() / n as f64).collect();
        let (xi, yi) = (0.3, -0.2);
        let base = crate::tsne::row_kernel(xi, yi, &yx, &yy, &p);
        #[cfg(target_arch = "x86_64")]
        if crate::tsne::has_avx2() {
            // SAFETY: checked above.
            let v = unsafe { crate::tsne::row_kernel_avx2(xi, yi, &yx, &yy, &p) };
            assert_eq!(base.map(f64::to_bits), v.map(f64::to_bits), "n {n}");
        }
        let mut want = [0.0f64; 5];
        for j in 0..n {
            let (dx, dy) = (xi - yx[j], yi - yy[j]);
            let w = 1.0 / (1.0 + dx * dx + dy * dy);
            want[0] += p[j] * w * dx;
            want[1] += p[j] * w * dy;
            want[2] += w * w * dx;
            want[3] += w * w * dy;
            want[4] += w;
        }
        for k in 0..5 {
            assert!(
                (base[k] - want[k]).abs() < 1e-12,
                "n {n}, sum {k}: {} vs {}",
                base[k],
                want[k]
            );
        }
    }
}
