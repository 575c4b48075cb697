//! Checks against constructed cases and independent computations: labels of components that
//! are rating columns, the margin rule by hand, nearest-centroid against a plain leave-one-out
//! that recomputes every centroid from scratch.
use crate::centroid::{argmax_labels, loo_correct, nearest_centroid, Config};
use crate::label::{kept_terms, label_row, Rule, TermKind};
use emoscope_sdk::io::ratings::{Ratings, CATEGORY_NAMES, DIMENSION_NAMES};
use emoscope_sdk::{vmap, Ctx, Map, Plugin, Tensor, Value};
use ndarray::{Array2, ArrayView2, Axis};
use rand::{RngExt, SeedableRng};

type Rng = emoscope_sdk::ctx::Rng;

fn gaussian(rng: &mut Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random::<f64>());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn random_ratings(n: usize, seed: u64) -> Ratings {
    let mut rng = Rng::seed_from_u64(seed);
    Ratings {
        stimuli: (0..n).map(|i| format!("{:04}.mp4", i + 1)).collect(),
        categories: Array2::from_shape_fn((n, 34), |_| rng.random::<f64>()),
        dimensions: Array2::from_shape_fn((n, 14), |_| 1.0 + 8.0 * rng.random::<f64>()),
    }
}

fn zscore(v: ndarray::ArrayView1<f64>) -> ndarray::Array1<f64> {
    let m = v.mean().unwrap();
    let s = v.std(0.0);
    v.mapv(|x| (x - m) / s)
}

fn call(f: &str, args: Vec<Value>, opts: Value) -> emoscope_sdk::Result<Value> {
    let opts: Map = opts.as_map().cloned().unwrap_or_default();
    crate::plugin().call(f, &args, &opts, &Ctx::detached())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_list()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn label_names_components_that_are_rating_columns() {
    let n = 2000;
    let r = random_ratings(n, 1);
    let mut rng = Rng::seed_from_u64(2);
    let amusement = r.categories.column(3).to_owned();
    let neg_valence = r.dimensions.column(13).mapv(|x| -x);
    let mixed = zscore(r.categories.column(19)) + zscore(r.dimensions.column(1));
    let noise = ndarray::Array1::from_shape_fn(n, |_| gaussian(&mut rng));
    let x = ndarray::stack(
        Axis(1),
        &[
            amusement.view(),
            neg_valence.view(),
            mixed.view(),
            noise.view(),
        ],
    )
    .unwrap();
    let out = call(
        "label",
        vec![Tensor::from_array(x).into(), r.to_value()],
        vmap! {},
    )
    .unwrap();
    let labels = strings(out.get("labels").unwrap());
    assert_eq!(labels[0], "Amusement");
    assert_eq!(labels[1], "valence-low");
    let mut t2: Vec<String> = labels[2].split(" / ").map(String::from).collect();
    t2.sort();
    assert_eq!(t2, vec!["Fear".to_string(), "arousal-high".to_string()]);
    assert_eq!(
        strings(out.get("kinds").unwrap())[..3],
        ["categorical", "dimensional", "mixed"]
    );
    let interp: Vec<bool> = out
        .get("interpretable")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .map(|b| matches!(b, Value::Bool(true)))
        .collect();
    assert_eq!(interp, vec![true, true, true, false]);
    let terms = out.get("terms").unwrap().as_list().unwrap();
    assert_eq!(strings(&terms[0]), vec!["Amusement"]);
    let c = out.get("correlations").unwrap().to_tensor("c").unwrap();
    assert_eq!(c.shape(), vec![4, 48]);
    let c = c.matrix::<f64>("c").unwrap();
    assert!((c[[0, 3]] - 1.0).abs() < 1e-12);
    assert!((c[[1, 34 + 13]] + 1.0).abs() < 1e-12);
    let best = out
        .get("best_category_r")
        .unwrap()
        .to_tensor("b")
        .unwrap()
        .to_vec_f64()
        .unwrap();
    assert!((best[0] - 1.0).abs() < 1e-12);
    assert!(best[3] < 0.1);
    let names = strings(out.get("term_names").unwrap());
    assert_eq!(names.len(), 48);
    assert_eq!(names[0], CATEGORY_NAMES[0]);
    assert_eq!(names[34], DIMENSION_NAMES[0]);
}

#[test]
fn margin_rule_chains_from_each_kept_term() {
    let rule = Rule {
        top: 3,
        margin: 0.1,
        threshold: 0.1,
    };
    // Clear winner: 0.6 beats 0.45 by 0.15.
    assert_eq!(kept_terms(&[0.6, 0.45, 0.44, 0.0], &rule), vec![0]);
    // Second within margin of first; third 0.15 below the second.
    assert_eq!(kept_terms(&[0.5, 0.45, 0.3, 0.0], &rule), vec![0, 1]);
    // Sorted by |r|, signs ignored; the chain: 0.5 → 0.45 (0.05) → 0.38 (0.07).
    assert_eq!(kept_terms(&[0.5, -0.45, 0.3, 0.38], &rule), vec![0, 1, 3]);
    // The third is 0.15 below the first but within margin of the second: kept.
    assert_eq!(kept_terms(&[0.35, 0.42, 0.5], &rule), vec![2, 1, 0]);
    // top caps the count.
    let two = Rule { top: 2, ..rule };
    assert_eq!(kept_terms(&[0.5, 0.49, 0.48], &two), vec![0, 1]);
    // Ties in |r| go to the earlier term.
    assert_eq!(kept_terms(&[0.2, -0.5, 0.5], &rule), vec![1, 2]);

    let names: Vec<String> = ["Awe", "Fear", "valence", "arousal"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let kinds = [
        TermKind::Category,
        TermKind::Category,
        TermKind::Dimension,
        TermKind::Dimension,
    ];
    let l = label_row(&[0.05, 0.3, -0.35, 0.32], &names, &kinds, &rule);
    assert_eq!(l.terms, vec!["valence-low", "arousal-high", "Fear"]);
    assert_eq!(l.kind, "mixed");
    assert!(l.interpretable);
    let l = label_row(&[0.05, 0.02, -0.09, 0.01], &names, &kinds, &rule);
    assert_eq!(l.terms, vec!["valence-low", "Awe", "Fear"]);
    assert_eq!(l.kind, "mixed");
    assert!(!l.interpretable);
    let l = label_row(&[0.6, 0.55, 0.1, 0.0], &names, &kinds, &rule);
    assert_eq!(l.terms, vec!["Awe", "Fear"]);
    assert_eq!(l.kind, "categorical");
}

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

#[test]
fn errors_say_what_is_wrong() {
    let r = random_ratings(50, 4);
    let x = Tensor::from_array(Array2::<f64>::zeros((49, 3)));
    let e = call("label", vec![x.clone().into(), r.to_value()], vmap! {}).unwrap_err();
    assert!(e.to_string().contains("49 rows"), "{e}");
    let e = call(
        "nearest_centroid",
        vec![x.into(), r.to_value()],
        vmap! {"permutations" => 0usize},
    )
    .unwrap_err();
    assert!(e.to_string().contains("49 rows"), "{e}");

    let x: Value = Tensor::from_array(r.categories.clone()).into();
    let e = call(
        "nearest_centroid",
        vec![x.clone(), r.to_value()],
        vmap! {"min_count" => 40usize},
    )
    .unwrap_err();
    assert!(e.to_string().contains("at least 2"), "{e}");
    let e = call(
        "nearest_centroid",
        vec![x.clone(), r.to_value()],
        vmap! {"k" => 0usize, "min_count" => 2usize},
    )
    .unwrap_err();
    assert!(e.to_string().contains("k must be at least 1"), "{e}");
    let e = call(
        "nearest_centroid",
        vec![x.clone(), r.to_value()],
        vmap! {"min_count" => 1usize},
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("min_count must be at least 2"),
        "{e}"
    );
    let e = call(
        "nearest_centroid",
        vec![x.clone(), r.to_value()],
        vmap! {"permutation" => 10usize},
    )
    .unwrap_err();
    assert!(e.to_string().contains("permutation"), "{e}");
    let e = call("label", vec![x.clone(), x.clone()], vmap! {}).unwrap_err();
    assert!(e.to_string().contains("io::ratings"), "{e}");
    let e = call("label", vec![x.clone()], vmap! {}).unwrap_err();
    assert!(e.to_string().contains("ratings"), "{e}");
    let e = call("frobnicate", vec![], vmap! {}).unwrap_err();
    assert!(e.to_string().contains("no function 'frobnicate'"), "{e}");
    let mut bad = r.categories.clone();
    bad[[3, 2]] = f64::NAN;
    let e = call(
        "nearest_centroid",
        vec![Tensor::from_array(bad).into(), r.to_value()],
        vmap! {"min_count" => 2usize},
    )
    .unwrap_err();
    assert!(e.to_string().contains("row 3, column 2"), "{e}");
}

fn real_data() -> Option<std::path::PathBuf> {
    let d = match std::env::var_os("EMOSCOPE_DATA") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if d.join("cowen_keltner_2017_ratings.csv").exists() && d.join("stimuli_2180.txt").exists() {
        Some(d)
    } else {
        eprintln!(
            "SKIPPED: real data not found at {} (set EMOSCOPE_DATA)",
            d.display()
        );
        None
    }
}

fn real_ratings(d: &std::path::Path) -> Ratings {
    use emoscope_sdk::io::ratings::{read_ratings, read_stimulus_list};
    let stimuli = read_stimulus_list(&d.join("stimuli_2180.txt")).unwrap();
    read_ratings(&d.join("cowen_keltner_2017_ratings.csv"), Some(&stimuli)).unwrap()
}

/// The README's counts: highest-rated category, ≥ 10 stimuli → 27 categories, 2,166 stimuli.
#[test]
fn real_ratings_keep_27_categories_and_2166_stimuli() {
    let Some(d) = real_data() else { return };
    let r = real_ratings(&d);
    assert_eq!(r.categories.nrows(), 2180);
    let x: Value = Tensor::from_array(r.categories.clone()).into();
    let out = call(
        "nearest_centroid",
        vec![x, r.to_value()],
        vmap! {"permutations" => 0usize},
    )
    .unwrap();
    assert_eq!(out.get("n_categories").unwrap().as_i64(), Some(27));
    assert_eq!(out.get("n_stimuli").unwrap().as_i64(), Some(2166));
}

/// The ratings themselves as the space, with the study's 1,000 permutations (slow in debug):
/// `cargo test -p emoscope-affect -- --ignored --nocapture`.
#[test]
fn real_ratings_accuracy_and_labels() {
    // The ratings themselves as the space: categories separate almost perfectly (0.9806 with
    // 1,000 permutations, seed 1), dimensions far less (0.4575); both far above chance.
    let Some(d) = real_data() else { return };
    let r = real_ratings(&d);
    let run = |x: &ndarray::Array2<f64>| {
        let x: Value = Tensor::from_array(x.clone()).into();
        let out = call(
            "nearest_centroid",
            vec![x, r.to_value()],
            vmap! {"permutations" => 200usize, "seed" => 1i64},
        )
        .unwrap();
        let f = |k: &str| out.get(k).unwrap().as_f64().unwrap();
        (f("accuracy"), f("chance"), f("p"))
    };
    let (acc, chance, p) = run(&r.categories);
    assert!(
        (acc - 0.9806).abs() < 5e-4 && chance < 0.1 && p == 1.0 / 201.0,
        "{acc} {chance} {p}"
    );
    let (acc, chance, _) = run(&r.dimensions);
    assert!(
        (acc - 0.4575).abs() < 5e-4 && chance < 0.1,
        "{acc} {chance}"
    );
    let x: Value = Tensor::from_array(r.dimensions.clone()).into();
    let l = call("label", vec![x, r.to_value()], vmap! {}).unwrap();
    // A dimension rating column correlates perfectly with its own term.
    let labels = strings(l.get("labels").unwrap());
    assert!(
        labels.iter().any(|s| s.contains("valence-high")),
        "{labels:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// t-SNE, trustworthiness, the component graph, stimulus profiles, comparisons.

use crate::graph::{louvain, modularity, pagerank, WGraph};

fn f64s(v: &Value) -> Vec<f64> {
    v.as_list()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn i64s(v: &Value) -> Vec<i64> {
    v.as_list()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn mat(v: &Value, what: &str) -> Array2<f64> {
    v.get(what)
        .unwrap()
        .to_tensor(what)
        .unwrap()
        .matrix::<f64>(what)
        .unwrap()
        .to_owned()
}

/// `per` points around each of `centres`, N(0, 1) in every dimension.
fn blobs(centres: &[Vec<f64>], per: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut rng = Rng::seed_from_u64(seed);
    let d = centres[0].len();
    let n = centres.len() * per;
    let labels: Vec<usize> = (0..n).map(|i| i / per).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| centres[labels[i]][j] + gaussian(&mut rng));
    (x, labels)
}

fn sq(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

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

/// Two 5-cliques {0..4}, {5..9} with unit weights, joined by the edge 4–5.
fn two_cliques() -> WGraph {
    let mut e = Vec::new();
    for base in [0, 5] {
        for i in 0..5 {
            for j in i + 1..5 {
                e.push((base + i, base + j, 1.0));
            }
        }
    }
    e.push((4, 5, 1.0));
    WGraph::from_edges(10, &e)
}

#[test]
fn louvain_finds_two_cliques_and_modularity_is_newmans() {
    let g = two_cliques();
    // m = 21; each clique: 10 edges inside, degree sum 21: Q = 2 (10/21 − (21/42)²).
    let halves = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
    let q = modularity(&g, &halves, 1.0);
    assert!((q - (20.0 / 21.0 - 0.5)).abs() < 1e-15, "{q}");
    // Everything in one community: 21/21 − 1 = 0; singletons: −Σ (d/42)².
    assert!(modularity(&g, &[0; 10], 1.0).abs() < 1e-15);
    let single: Vec<usize> = (0..10).collect();
    let degs = [4.0, 4.0, 4.0, 4.0, 5.0, 5.0, 4.0, 4.0, 4.0, 4.0];
    let want: f64 = -degs.iter().map(|d: &f64| (d / 42.0).powi(2)).sum::<f64>();
    assert!((modularity(&g, &single, 1.0) - want).abs() < 1e-15);
    // Resolution 2 doubles the penalty: 20/21 − 2 · 0.5.
    assert!((modularity(&g, &halves, 2.0) - (20.0 / 21.0 - 1.0)).abs() < 1e-15);
    for seed in 0..10 {
        let c = louvain(&g, 1.0, 1e-7, seed);
        let (a, b) = (c[0], c[5]);
        assert_ne!(a, b, "seed {seed}: {c:?}");
        assert!(
            c[..5].iter().all(|&v| v == a) && c[5..].iter().all(|&v| v == b),
            "seed {seed}: {c:?}"
        );
        assert_eq!(c[0], 0, "numbered by first appearance");
    }
    // A weighted ring of 4 triangles: Louvain finds the triangles (the best partition).
    let mut e = Vec::new();
    for t in 0..4 {
        let b = 3 * t;
        e.extend([(b, b + 1, 2.0), (b + 1, b + 2, 2.0), (b, b + 2, 2.0)]);
        e.push((b + 2, (b + 3) % 12, 0.5));
    }
    let ring = WGraph::from_edges(12, &e);
    for seed in 0..5 {
        let c = louvain(&ring, 1.0, 1e-7, seed);
        assert_eq!(c, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], "seed {seed}");
    }
}

/// Solve A x = b by Gaussian elimination with partial pivoting.
fn solve(mut a: Array2<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[[i, c]].abs().total_cmp(&a[[j, c]].abs()))
            .unwrap();
        for k in 0..n {
            a.swap([c, k], [p, k]);
        }
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[[r, c]] / a[[c, c]];
            for k in c..n {
                a[[r, k]] -= f * a[[c, k]];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[[r, k]] * x[k]).sum();
        x[r] = (b[r] - s) / a[[r, r]];
    }
    x
}

#[test]
fn pagerank_matches_a_dense_linear_solve() {
    // Weighted graph with a dangling node (5: no edges).
    let edges = [
        (0, 1, 0.9),
        (0, 2, 0.3),
        (1, 2, 0.5),
        (2, 3, 0.7),
        (3, 4, 0.25),
        (1, 4, 0.4),
    ];
    let g = WGraph::from_edges(6, &edges);
    let n = 6;
    let alpha = 0.85;
    // Row-stochastic transition matrix; a dangling row jumps uniformly.
    let mut w = Array2::<f64>::zeros((n, n));
    for &(u, v, x) in &edges {
        w[[u, v]] += x;
        w[[v, u]] += x;
    }
    for u in 0..n {
        let s: f64 = w.row(u).sum();
        if s == 0.0 {
            w.row_mut(u).fill(1.0 / n as f64);
        } else {
            w.row_mut(u).mapv_inplace(|v| v / s);
        }
    }
    // x = α Wᵀ x + (1 − α)/n  ⇔  (I − α Wᵀ) x = (1 − α)/n.
    let a = Array2::<f64>::eye(n) - w.t().mapv(|v| alpha * v);
    let want = solve(a, vec![(1.0 - alpha) / n as f64; n]);
    let tight = pagerank(&g, alpha, 1e-15, 10_000).unwrap();
    let default = pagerank(&g, alpha, 1e-6, 100).unwrap();
    for i in 0..n {
        assert!(
            (tight[i] - want[i]).abs() < 1e-12,
            "{i}: {} vs {}",
            tight[i],
            want[i]
        );
        assert!((default[i] - want[i]).abs() < 1e-5, "{i}");
    }
    assert!((tight.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!((default.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // Symmetric graph, no weights differing: a regular graph gives the uniform vector.
    let ring = WGraph::from_edges(4, &[(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (3, 0, 1.0)]);
    for v in pagerank(&ring, alpha, 1e-6, 100).unwrap() {
        assert!((v - 0.25).abs() < 1e-15);
    }
    // Not converging in max_iter is an error.
    let e = pagerank(&g, alpha, 1e-300, 3).unwrap_err();
    assert!(e.to_string().contains("did not converge"), "{e}");
}

/// Columns 0-2 track latent a, 3-5 latent b, 6 is independent noise.
fn grouped_components(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::seed_from_u64(seed);
    let lat: Vec<(f64, f64)> = (0..n)
        .map(|_| (gaussian(&mut rng), gaussian(&mut rng)))
        .collect();
    Array2::from_shape_fn((n, 7), |(i, j)| {
        let e = 0.4 * gaussian(&mut rng);
        match j {
            0..=2 => lat[i].0 + e,
            3..=5 => lat[i].1 + e,
            _ => gaussian(&mut rng),
        }
    })
}

#[test]
fn graph_groups_correlated_components_and_removes_isolated_ones() {
    let mut x = grouped_components(300, 21);
    // Component 4 anti-correlates with its group: one of it with |r| weights, alone by default.
    x.column_mut(4).mapv_inplace(|v| -v);
    let names: Vec<Value> = ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .map(|s| Value::from(*s))
        .collect();
    let out = call(
        "graph",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"threshold" => 0.5, "seed" => 3i64, "names" => names.clone(), "communities" => "abs"},
    )
    .unwrap();
    let positive = call(
        "graph",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"threshold" => 0.5, "seed" => 3i64, "names" => names},
    )
    .unwrap();
    assert_eq!(
        i64s(positive.get("communities").unwrap()),
        vec![0, 0, 0, 1, 2, 1]
    );
    assert_eq!(
        i64s(out.get("nodes").unwrap()),
        i64s(positive.get("nodes").unwrap())
    );
    assert_eq!(
        f64s(out.get("pagerank").unwrap()),
        f64s(positive.get("pagerank").unwrap())
    );
    assert_eq!(i64s(out.get("nodes").unwrap()), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(
        strings(out.get("names").unwrap()),
        vec!["a", "b", "c", "d", "e", "f"]
    );
    assert_eq!(out.get("isolated").unwrap().as_i64(), Some(1));
    assert_eq!(i64s(out.get("isolated_nodes").unwrap()), vec![6]);
    assert_eq!(
        i64s(out.get("communities").unwrap()),
        vec![0, 0, 0, 1, 1, 1]
    );
    assert_eq!(out.get("n_communities").unwrap().as_i64(), Some(2));
    let r = mat(&out, "r");
    assert_eq!(r.dim(), (7, 7));
    let edges = out.get("edges").unwrap();
    let (s, t, w) = (
        i64s(edges.get("source").unwrap()),
        i64s(edges.get("target").unwrap()),
        f64s(edges.get("weight").unwrap()),
    );
    // Exactly the pairs within a group: 3 + 3 edges, source < target, weight = signed r.
    assert_eq!(s, vec![0, 0, 1, 3, 3, 4]);
    assert_eq!(t, vec![1, 2, 2, 4, 5, 5]);
    for k in 0..6 {
        let (i, j) = (s[k] as usize, t[k] as usize);
        let want = emoscope_sdk::stats::pearson(&x.column(i).to_vec(), &x.column(j).to_vec());
        assert!((w[k] - want).abs() < 1e-12 && (r[[i, j]] - want).abs() < 1e-12);
    }
    assert!(w[3] < 0.0 && w[4] > 0.0 && w[5] < 0.0, "{w:?}");
    // Modularity from the |r|-weighted graph, by hand: two disjoint triangles.
    let (g1, g2): (f64, f64) = (
        w[..3].iter().map(|v| v.abs()).sum(),
        w[3..].iter().map(|v| v.abs()).sum(),
    );
    let m = g1 + g2;
    let want = g1 / m - (g1 / m).powi(2) + g2 / m - (g2 / m).powi(2);
    let q = out.get("modularity").unwrap().as_f64().unwrap();
    assert!((q - want).abs() < 1e-12, "{q} vs {want}");
    let pr = f64s(out.get("pagerank").unwrap());
    assert_eq!(pr.len(), 6);
    assert!((pr.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // Default names are "1".."d"; a threshold above every |r| leaves no nodes.
    let out = call(
        "graph",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"threshold" => 0.5},
    )
    .unwrap();
    assert_eq!(
        strings(out.get("names").unwrap()),
        vec!["1", "2", "3", "4", "5", "6"]
    );
    let out = call(
        "graph",
        vec![Tensor::from_array(x).into()],
        vmap! {"threshold" => 0.99},
    )
    .unwrap();
    assert_eq!(out.get("isolated").unwrap().as_i64(), Some(7));
    assert!(i64s(out.get("nodes").unwrap()).is_empty());
    assert_eq!(out.get("n_communities").unwrap().as_i64(), Some(0));
    assert!(out.get("modularity").unwrap().as_f64().unwrap().is_nan());
}

#[test]
fn top_stimuli_and_profiles_index_x_directly() {
    let mut rng = Rng::seed_from_u64(5);
    let x = Array2::from_shape_fn((20, 4), |_| rng.random::<f64>());
    let names: Vec<Value> = (0..20).map(|i| Value::from(format!("s{i}"))).collect();
    let out = call(
        "top_stimuli",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"k" => 3usize, "names" => names},
    )
    .unwrap();
    let idx = out.get("index").unwrap().to_tensor("i").unwrap();
    assert_eq!(idx.dtype(), emoscope_sdk::tensor::DType::I64);
    let idx = idx.matrix::<i64>("i").unwrap();
    let w = mat(&out, "weight");
    assert_eq!(idx.dim(), (4, 3));
    let nm = out.get("names").unwrap().as_list().unwrap();
    for c in 0..4 {
        let mut col: Vec<(f64, usize)> = (0..20).map(|i| (x[[i, c]], i)).collect();
        col.sort_by(|a, b| b.0.total_cmp(&a.0));
        for t in 0..3 {
            assert_eq!(idx[[c, t]] as usize, col[t].1);
            assert_eq!(w[[c, t]], x[[col[t].1, c]]);
        }
        assert_eq!(
            strings(&nm[c]),
            (0..3).map(|t| format!("s{}", col[t].1)).collect::<Vec<_>>()
        );
    }
    let out = call(
        "top_stimuli",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {},
    )
    .unwrap();
    assert!(out.get("names").is_err());
    assert_eq!(mat(&out, "weight").dim(), (4, 10));
    // Ties go to the lower row.
    let t = ndarray::array![[1.0], [2.0], [2.0], [0.0]];
    let (i, _) = crate::profile::top_stimuli(t.view(), 3).unwrap();
    assert_eq!(i.row(0).to_vec(), vec![1, 2, 0]);

    let xv: Value = Tensor::from_array(x.clone()).into();
    let p = call(
        "profiles",
        vec![
            xv.clone(),
            Value::List(vec![3i64.into(), 0i64.into(), 19i64.into()]),
        ],
        vmap! {},
    )
    .unwrap();
    assert_eq!(i64s(p.get("stimuli").unwrap()), vec![3, 0, 19]);
    let pw = mat(&p, "weights");
    assert_eq!(pw.row(0), x.row(3));
    assert_eq!(pw.row(1), x.row(0));
    assert_eq!(pw.row(2), x.row(19));
    let p = call("profiles", vec![xv.clone(), 7i64.into()], vmap! {}).unwrap();
    assert_eq!(mat(&p, "weights").row(0), x.row(7));
}

#[test]
fn hungarian_maximises_the_summed_r() {
    let mut rng = Rng::seed_from_u64(8);
    for (m, n) in [(4, 6), (6, 4), (5, 5)] {
        let r = Array2::from_shape_fn((m, n), |_| 2.0 * rng.random::<f64>() - 1.0);
        let got = crate::compare::hungarian_max(r.view());
        assert_eq!(got.len(), m.min(n));
        let total: f64 = got.iter().map(|&(i, j)| r[[i, j]]).sum();
        // Brute force over every injective assignment of the smaller side.
        fn best(r: &Array2<f64>, i: usize, used: &mut Vec<bool>, t: bool) -> f64 {
            let (m, n) = if t { (r.ncols(), r.nrows()) } else { r.dim() };
            if i == m {
                return 0.0;
            }
            let mut b = f64::NEG_INFINITY;
            for j in 0..n {
                if !used[j] {
                    used[j] = true;
                    let v = if t { r[[j, i]] } else { r[[i, j]] };
                    b = b.max(v + best(r, i + 1, used, t));
                    used[j] = false;
                }
            }
            b
        }
        let t = m > n;
        let want = best(&r, 0, &mut vec![false; m.max(n)], t);
        assert!((total - want).abs() < 1e-8, "{m}×{n}: {total} vs {want}");
        let mut a: Vec<usize> = got.iter().map(|p| p.0).collect();
        let mut b: Vec<usize> = got.iter().map(|p| p.1).collect();
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        b.sort();
        b.dedup();
        a.dedup();
        assert_eq!(b.len(), m.min(n));
    }
}

#[test]
fn compare_recovers_a_permutation_of_components() {
    let mut rng = Rng::seed_from_u64(31);
    let a = Array2::from_shape_fn((80, 5), |_| gaussian(&mut rng));
    let perm = [3usize, 0, 4, 1, 2]; // B's column k is A's column perm[k]
    let b = Array2::from_shape_fn((80, 6), |(i, k)| {
        if k < 5 {
            a[[i, perm[k]]] + 0.05 * gaussian(&mut rng)
        } else {
            gaussian(&mut rng)
        }
    });
    let (av, bv): (Value, Value) = (
        Tensor::from_array(a.clone()).into(),
        Tensor::from_array(b.clone()).into(),
    );
    let out = call("compare", vec![av.clone(), bv.clone()], vmap! {}).unwrap();
    let m = out.get("matches").unwrap();
    assert_eq!(i64s(m.get("a").unwrap()), vec![0, 1, 2, 3, 4]);
    // A's column j is B's column k with perm[k] = j.
    let want: Vec<i64> = (0..5)
        .map(|j| perm.iter().position(|&p| p == j).unwrap() as i64)
        .collect();
    assert_eq!(i64s(m.get("b").unwrap()), want);
    assert!(f64s(m.get("r").unwrap()).iter().all(|&r| r > 0.99));
    assert!(out.get("mean_matched_r").unwrap().as_f64().unwrap() > 0.99);
    let r = mat(&out, "r");
    assert_eq!(r.dim(), (5, 6));
    assert!(
        (r[[0, 1]] - emoscope_sdk::stats::pearson(&a.column(0).to_vec(), &b.column(1).to_vec()))
            .abs()
            < 1e-12
    );
    let rsm = out.get("rsm_r").unwrap().as_f64().unwrap();
    assert!(rsm > 0.5 && rsm < 1.0, "{rsm}");
    // B first: more components than A; matches are ordered by B's (now "a") components.
    let out = call(
        "compare",
        vec![bv, av.clone()],
        vmap! {"metric" => "cosine", "method" => "pearson"},
    )
    .unwrap();
    let m = out.get("matches").unwrap();
    assert_eq!(i64s(m.get("a").unwrap()), vec![0, 1, 2, 3, 4]);
    assert_eq!(
        i64s(m.get("b").unwrap()),
        perm.iter().map(|&p| p as i64).collect::<Vec<_>>()
    );
    // Identical systems: the RSMs agree perfectly, every component matches itself.
    for (metric, method) in [("pearson", "spearman"), ("cosine", "pearson")] {
        let out = call(
            "compare",
            vec![av.clone(), av.clone()],
            vmap! {"metric" => metric, "method" => method},
        )
        .unwrap();
        assert!((out.get("rsm_r").unwrap().as_f64().unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(
            i64s(out.get("matches").unwrap().get("b").unwrap()),
            vec![0, 1, 2, 3, 4]
        );
        assert!((out.get("mean_matched_r").unwrap().as_f64().unwrap() - 1.0).abs() < 1e-12);
    }
    // rsm_r is the Spearman r of the Pearson RSMs' upper triangles, by hand.
    let rs = |x: &Array2<f64>| {
        let mut v = Vec::new();
        for i in 0..80 {
            for j in i + 1..80 {
                v.push(emoscope_sdk::stats::pearson(
                    &x.row(i).to_vec(),
                    &x.row(j).to_vec(),
                ));
            }
        }
        v
    };
    let want = emoscope_sdk::stats::spearman(&rs(&a), &rs(&b));
    assert!((rsm - want).abs() < 1e-9, "{rsm} vs {want}");
}

#[test]
fn new_functions_reject_bad_input_clearly() {
    let mut rng = Rng::seed_from_u64(2);
    let x = Array2::from_shape_fn((20, 4), |_| gaussian(&mut rng));
    let xv: Value = Tensor::from_array(x.clone()).into();
    let mut bad = x.clone();
    bad[[2, 1]] = f64::NAN;
    let badv: Value = Tensor::from_array(bad).into();
    let err = |f: &str, args: Vec<Value>, opts: Value| call(f, args, opts).unwrap_err().to_string();
    let has = |e: String, s: &str| assert!(e.contains(s), "expected '{s}' in: {e}");

    // t-SNE.
    has(
        err("tsne", vec![badv.clone()], vmap! {"perplexity" => 5.0}),
        "row 2, column 1",
    );
    has(
        err("tsne", vec![xv.clone()], vmap! {}),
        "perplexity must be",
    );
    has(
        err(
            "tsne",
            vec![xv.clone()],
            vmap! {"perplexity" => 5.0, "iterations" => 100usize},
        ),
        "at least 250",
    );
    has(
        err(
            "tsne",
            vec![xv.clone()],
            vmap! {"perplexity" => 5.0, "learning_rate" => "fast"},
        ),
        "\"auto\" or a number",
    );
    has(
        err(
            "tsne",
            vec![xv.clone()],
            vmap! {"perplexity" => 5.0, "learning_rate" => -1.0},
        ),
        "learning_rate",
    );
    has(
        err(
            "tsne",
            vec![xv.clone()],
            vmap! {"perplexity" => 5.0, "init" => "umap"},
        ),
        "init must be",
    );
    has(
        err(
            "tsne",
            vec![xv.clone()],
            vmap! {"perplexity" => 5.0, "early_exaggeration" => 0.5},
        ),
        "early_exaggeration",
    );
    has(
        err(
            "tsne",
            vec![xv.clone()],
            vmap! {"perplexity" => 5.0, "perplexty" => 5.0},
        ),
        "perplexty",
    );
    has(
        err(
            "tsne",
            vec![Tensor::from_array(Array2::<f64>::ones((10, 3))).into()],
            vmap! {"perplexity" => 3.0},
        ),
        "all identical",
    );
    has(err("tsne", vec![], vmap! {}), "needs argument 1 (X)");

    // Trustworthiness.
    let y: Value = Tensor::from_array(Array2::<f64>::zeros((19, 2))).into();
    has(err("trustworthiness", vec![xv.clone(), y], vmap! {}), "19");
    has(
        err(
            "trustworthiness",
            vec![xv.clone(), xv.clone()],
            vmap! {"k" => 10usize},
        ),
        "below half",
    );
    has(
        err(
            "trustworthiness",
            vec![xv.clone(), xv.clone()],
            vmap! {"k" => 0usize},
        ),
        "k must be at least 1",
    );
    has(
        err("trustworthiness", vec![xv.clone(), badv.clone()], vmap! {}),
        "Y has a non-finite",
    );

    // Graph.
    has(
        err("graph", vec![xv.clone()], vmap! {"threshold" => 1.0}),
        "threshold must be in [0, 1)",
    );
    has(
        err("graph", vec![xv.clone()], vmap! {"threshold" => -0.1}),
        "threshold must be in [0, 1)",
    );
    has(
        err("graph", vec![xv.clone()], vmap! {"resolution" => 0.0}),
        "resolution",
    );
    has(err("graph", vec![badv.clone()], vmap! {}), "non-finite");
    has(
        err(
            "graph",
            vec![xv.clone()],
            vmap! {"names" => vec![Value::from("a")]},
        ),
        "names has 1 entries but X has 4",
    );
    has(
        err(
            "graph",
            vec![Tensor::from_array(Array2::<f64>::zeros((2, 3))).into()],
            vmap! {},
        ),
        "at least 3 stimuli",
    );

    // Profiles.
    has(
        err("top_stimuli", vec![xv.clone()], vmap! {"k" => 21usize}),
        "k must be between 1 and the number of stimuli (20)",
    );
    has(
        err("top_stimuli", vec![xv.clone()], vmap! {"k" => 0usize}),
        "k must be between",
    );
    has(
        err(
            "top_stimuli",
            vec![xv.clone()],
            vmap! {"names" => vec![Value::from("a")]},
        ),
        "names has 1 entries but X has 20",
    );
    has(
        err("top_stimuli", vec![badv.clone()], vmap! {}),
        "non-finite",
    );
    has(
        err("profiles", vec![xv.clone(), 20i64.into()], vmap! {}),
        "stimuli[0] = 20 is out of range",
    );
    has(
        err(
            "profiles",
            vec![xv.clone(), Value::List(vec![1i64.into(), (-1i64).into()])],
            vmap! {},
        ),
        "stimuli[1] = -1 is out of range",
    );
    has(
        err(
            "profiles",
            vec![xv.clone(), Value::List(vec![1.5.into()])],
            vmap! {},
        ),
        "float at position 0",
    );
    has(
        err("profiles", vec![xv.clone(), Value::List(vec![])], vmap! {}),
        "stimuli is empty",
    );
    has(
        err("profiles", vec![xv.clone(), "a".into()], vmap! {}),
        "got string",
    );

    // Compare.
    let b19: Value = Tensor::from_array(Array2::<f64>::zeros((19, 4))).into();
    has(
        err("compare", vec![xv.clone(), b19], vmap! {}),
        "A has 20 rows (stimuli) but B has 19",
    );
    has(
        err("compare", vec![xv.clone(), badv.clone()], vmap! {}),
        "B has a non-finite value",
    );
    has(
        err(
            "compare",
            vec![xv.clone(), xv.clone()],
            vmap! {"metric" => "euclid"},
        ),
        "metric must be",
    );
    has(
        err(
            "compare",
            vec![xv.clone(), xv.clone()],
            vmap! {"method" => "kendall"},
        ),
        "method must be",
    );
    let one: Value = Tensor::from_array(x.column(0).to_owned().insert_axis(Axis(1))).into();
    has(
        err("compare", vec![one.clone(), xv.clone()], vmap! {}),
        "use metric \"cosine\"",
    );
    assert!(call(
        "compare",
        vec![one, xv.clone()],
        vmap! {"metric" => "cosine"}
    )
    .is_ok());
    has(err("compare", vec![Value::from(1.0), xv], vmap! {}), "A");
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
