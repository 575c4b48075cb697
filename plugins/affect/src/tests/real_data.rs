//! The study's ratings, when the data are present (EMOSCOPE_DATA or ../shared/data): the README's
//! counts and accuracies.
use super::*;

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
