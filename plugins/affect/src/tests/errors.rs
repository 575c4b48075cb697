//! Every step refuses bad input with a message that says what is wrong.
use super::*;

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
    assert!(
        e.to_string().contains("no function named frobnicate"),
        "{e}"
    );
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
        "option 'init': 'umap' is not one of pca (",
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
            vec![xv.clone()],
            vmap! {"communities" => "negative"},
        ),
        "option 'communities': 'negative' is not one of positive (",
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
        "option 'metric': 'euclid' is not one of pearson (",
    );
    has(
        err(
            "compare",
            vec![xv.clone(), xv.clone()],
            vmap! {"method" => "kendall"},
        ),
        "option 'method': 'kendall' is not one of spearman (",
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
