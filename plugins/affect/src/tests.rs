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
