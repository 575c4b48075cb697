//! Nearest-centroid against a plain leave-one-out that recomputes every centroid from scratch,
//! its chance level and permutations, and the step with a ratings map or a tensor.
use super::*;
use crate::centroid::{argmax_labels, loo_correct, nearest_centroid, Config};

/// Leave-one-out written plainly: every centroid recomputed from scratch without the held-out
/// stimulus, classes ranked by distance (ties to the lower class).
fn brute_force(x: ArrayView2<f64>, labels: &[usize], nc: usize, k: usize) -> usize {
    let n = x.nrows();
    let mut correct = 0;
    for i in 0..n {
        let mut dists = Vec::new();
        for c in 0..nc {
            let members: Vec<usize> = (0..n).filter(|&j| j != i && labels[j] == c).collect();
            let centroid = x.select(Axis(0), &members).mean_axis(Axis(0)).unwrap();
            let d: f64 = (&centroid - &x.row(i)).mapv(|v| v * v).sum().sqrt();
            dists.push((d, c));
        }
        dists.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        if dists[..k].iter().any(|&(_, c)| c == labels[i]) {
            correct += 1;
        }
    }
    correct
}

#[test]
fn nearest_centroid_matches_brute_force_leave_one_out() {
    for seed in 0..6u64 {
        let mut rng = Rng::seed_from_u64(100 + seed);
        let (n, nc, d) = (80, 6, 4);
        let ratings = Array2::from_shape_fn((n, nc), |_| rng.random::<f64>());
        // X carries some of the ratings' signal plus noise.
        let x = Array2::from_shape_fn((n, d), |(i, j)| ratings[[i, j]] + 0.3 * gaussian(&mut rng));
        for k in 1..=3 {
            let cfg = Config {
                k,
                min_count: 10,
                permutations: 0,
                seed: 0,
            };
            let out = nearest_centroid(x.view(), ratings.view(), &cfg, &Ctx::detached()).unwrap();
            let all = argmax_labels(ratings.view());
            let mut remap = vec![usize::MAX; nc];
            for (i, &c) in out.categories.iter().enumerate() {
                remap[c] = i;
            }
            let labels: Vec<usize> = out.stimuli.iter().map(|&i| remap[all[i]]).collect();
            let xs = x.select(Axis(0), &out.stimuli);
            let want = brute_force(xs.view(), &labels, out.categories.len(), k);
            assert_eq!(
                out.accuracy,
                want as f64 / out.stimuli.len() as f64,
                "seed {seed} k {k}"
            );
            assert_eq!(
                loo_correct(xs.view(), &labels, out.categories.len(), k),
                want
            );
            // Kept stimuli are exactly those whose category has ≥ min_count.
            for (c, &cnt) in out.categories.iter().zip(&out.counts) {
                assert!(cnt >= 10);
                assert_eq!(all.iter().filter(|&&l| l == *c).count(), cnt);
            }
            assert_eq!(out.counts.iter().sum::<usize>(), out.stimuli.len());
        }
    }
}

#[test]
fn argmax_ties_go_to_the_lower_column() {
    let r = ndarray::array![[0.2, 0.5, 0.5], [0.7, 0.7, 0.1], [0.0, 0.0, 0.0]];
    assert_eq!(argmax_labels(r.view()), vec![1, 0, 0]);
}

#[test]
fn chance_is_near_k_over_categories_for_random_x() {
    let mut rng = Rng::seed_from_u64(7);
    let (n, nc, d) = (300, 5, 3);
    let ratings = Array2::from_shape_fn((n, nc), |_| rng.random::<f64>());
    let x = Array2::from_shape_fn((n, d), |_| gaussian(&mut rng));
    for k in [1, 2] {
        let cfg = Config {
            k,
            min_count: 10,
            permutations: 200,
            seed: 3,
        };
        let out = nearest_centroid(x.view(), ratings.view(), &cfg, &Ctx::detached()).unwrap();
        let expect = k as f64 / out.categories.len() as f64;
        assert_eq!(out.categories.len(), 5);
        assert!(
            (out.chance - expect).abs() < 0.05,
            "k {k}: chance {} vs {expect}",
            out.chance
        );
        assert!((out.accuracy - expect).abs() < 0.1);
        assert!(out.p > 0.01 && out.p <= 1.0, "p {}", out.p);
    }
}

#[test]
fn permutations_do_not_depend_on_thread_count_and_signal_is_significant() {
    let mut rng = Rng::seed_from_u64(11);
    let (n, nc) = (120, 4);
    let ratings = Array2::from_shape_fn((n, nc), |_| rng.random::<f64>());
    let x = Array2::from_shape_fn((n, nc), |(i, j)| ratings[[i, j]] + 0.1 * gaussian(&mut rng));
    let cfg = Config {
        k: 1,
        min_count: 10,
        permutations: 100,
        seed: 5,
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| nearest_centroid(x.view(), ratings.view(), &cfg, &Ctx::detached()))
            .unwrap()
    };
    let (a, b) = (run(1), run(3));
    assert_eq!(a.chance, b.chance);
    assert_eq!(a.p, b.p);
    assert!(a.accuracy > 0.6, "accuracy {}", a.accuracy);
    assert!((a.p - 1.0 / 101.0).abs() < 1e-12, "p {}", a.p);
    let c = nearest_centroid(
        x.view(),
        ratings.view(),
        &Config { seed: 6, ..cfg },
        &Ctx::detached(),
    )
    .unwrap();
    assert_ne!(a.chance, c.chance);
}

#[test]
fn nearest_centroid_through_the_plugin_with_a_ratings_map() {
    let r = random_ratings(400, 3);
    // Make three categories dominate so the others fall below min_count.
    let mut r = r;
    for i in 0..400 {
        r.categories[[i, [0, 5, 9][i % 3]]] += 1.0;
    }
    let x = Tensor::from_array(r.categories.clone());
    let out = call(
        "nearest_centroid",
        vec![x.clone().into(), r.to_value()],
        vmap! {"k" => 1usize, "permutations" => 10usize, "seed" => 1i64},
    )
    .unwrap();
    assert_eq!(
        strings(out.get("categories").unwrap()),
        vec!["Admiration", "Anxiety", "Calmness"]
    );
    assert_eq!(out.get("n_stimuli").unwrap().as_i64(), Some(400));
    assert_eq!(out.get("n_categories").unwrap().as_i64(), Some(3));
    assert_eq!(out.get("accuracy").unwrap().as_f64(), Some(1.0));
    // The same through a plain tensor: indices instead of names.
    let t = call(
        "nearest_centroid",
        vec![x.into(), Tensor::from_array(r.categories.clone()).into()],
        vmap! {"k" => 1usize, "permutations" => 10usize, "seed" => 1i64},
    )
    .unwrap();
    let idx: Vec<i64> = t
        .get("categories")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(idx, vec![0, 5, 9]);
    assert_eq!(
        t.get("chance").unwrap().as_f64(),
        out.get("chance").unwrap().as_f64()
    );
}
