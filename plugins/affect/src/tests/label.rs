//! Labels: components that are rating columns get those columns' names; the margin rule by hand.
use super::*;
use crate::label::{kept_terms, label_row, Rule, TermKind};
use emoscope_sdk::io::ratings::{CATEGORY_NAMES, DIMENSION_NAMES};

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
