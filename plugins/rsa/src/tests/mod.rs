//! The crate's tests: RSMs, their comparison and the choice of stimuli here, with the plugin's
//! script surface; the searchlight and ROI analyses on a small synthetic subject in
//! `searchlight.rs`.
use super::*;
use crate::rsm::upper;
use emoscope_sdk::linalg::{similarity_matrix, Similarity};
use emoscope_sdk::stats::spearman;
use emoscope_sdk::step::Choice;
use emoscope_sdk::{Ctx, Map, Tensor, Value};
use rand::{RngExt, SeedableRng};

mod searchlight;

/// A random n × n Pearson RSM (of n random 4-feature patterns).
fn rsm(seed: u64, n: usize) -> Tensor {
    let mut r = emoscope_sdk::ctx::Rng::seed_from_u64(seed);
    let x: Vec<f64> = (0..n * 4).map(|_| r.random::<f64>()).collect();
    let x = Tensor::from_vec(x, &[n, 4])
        .unwrap()
        .matrix::<f64>("x")
        .unwrap();
    Tensor::from_array(similarity_matrix(x.view(), Similarity::Pearson))
}

#[test]
fn compare_equals_spearman_of_upper_triangles() {
    let (a, b) = (rsm(1, 12), rsm(2, 12));
    let ctx = Ctx::detached();
    let (r, p, n) = compare(&a, &b, Method::Spearman, 0, 0, &ctx).unwrap();
    let ua = upper(a.matrix::<f64>("a").unwrap().view());
    let ub = upper(b.matrix::<f64>("b").unwrap().view());
    assert_eq!(n, 66);
    assert!((r - spearman(&ua, &ub)).abs() < 1e-12);
    assert!(p.is_nan());
}

#[test]
fn compare_kendall_is_tau_a_of_the_upper_triangles() {
    let ctx = Ctx::detached();
    // With ties: round one RSM to a few levels.
    let a = rsm(5, 14);
    let b = Tensor::from_array(
        rsm(6, 14)
            .matrix::<f64>("b")
            .unwrap()
            .mapv(|x| (x * 3.0).round()),
    );
    let (r, _, n) = compare(&a, &b, Method::Kendall, 0, 0, &ctx).unwrap();
    let ua = upper(a.matrix::<f64>("a").unwrap().view());
    let ub = upper(b.matrix::<f64>("b").unwrap().view());
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            let sa = (ua[i] - ua[j]).partial_cmp(&0.0).unwrap() as i64;
            let sb = (ub[i] - ub[j]).partial_cmp(&0.0).unwrap() as i64;
            s += sa * sb;
        }
    }
    let want = s as f64 / (n * (n - 1) / 2) as f64;
    assert!((r - want).abs() < 1e-12, "{r} vs {want}");
    let (_, p, _) = compare(&a, &a, Method::Kendall, 99, 1, &ctx).unwrap();
    assert!((p - 0.01).abs() < 1e-12);
    assert!(Method::from_name("tau").is_err());
}

#[test]
fn mantel_test_detects_identity_and_not_noise() {
    let ctx = Ctx::detached();
    let a = rsm(3, 15);
    let (r, p, _) = compare(&a, &a, Method::Spearman, 199, 7, &ctx).unwrap();
    assert!((r - 1.0).abs() < 1e-12);
    assert!(
        (p - 1.0 / 200.0).abs() < 1e-12,
        "identity beats every permutation: p = {p}"
    );
    let (_, p2, _) = compare(&a, &rsm(4, 15), Method::Spearman, 199, 7, &ctx).unwrap();
    assert!(
        p2 > 0.01,
        "unrelated RSMs should not be significant: p = {p2}"
    );
    // Reproducible for a seed, whatever the thread scheduling.
    let (_, p3, _) = compare(&a, &rsm(4, 15), Method::Spearman, 199, 7, &ctx).unwrap();
    assert_eq!(p2, p3);
}

#[test]
fn cancellation_stops_the_permutations() {
    let ctx = Ctx::detached();
    ctx.cancel.cancel();
    let a = rsm(3, 15);
    let e = compare(&a, &a, Method::Spearman, 1000, 7, &ctx).unwrap_err();
    assert!(e.is_cancelled());
}

#[test]
fn euclidean_rsm_is_negative_distance() {
    let x = ndarray::array![[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]];
    let s = rsm_matrix(x.view(), Metric::Euclidean);
    assert_eq!(s[[0, 1]], -5.0);
    assert_eq!(s[[1, 0]], -5.0);
    assert!((s[[0, 2]] + 2f64.sqrt()).abs() < 1e-15);
    assert_eq!(s[[1, 1]], 0.0);
    assert!(Metric::from_name("manhattan").is_err());
}

#[test]
fn select_reliable_picks_the_best_in_stimulus_order() {
    let acc = Tensor::from_vec(vec![0.1, f64::NAN, 0.9, 0.5, 0.9, -0.2], &[6]).unwrap();
    let k = select_reliable(&acc, 3).unwrap();
    assert_eq!(k.dtype(), emoscope_sdk::DType::I64);
    assert_eq!(
        k.to_i64().unwrap().iter().copied().collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    // NaN is never picked, even at the bottom
    let k = select_reliable(&acc, 5).unwrap();
    assert_eq!(
        k.to_i64().unwrap().iter().copied().collect::<Vec<_>>(),
        vec![0, 2, 3, 4, 5]
    );
    let e = select_reliable(&acc, 6).unwrap_err().to_string();
    assert!(e.contains("only 5 of 6"), "{e}");
}

/// An options map, as a script's `#{...}`.
fn opts(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// What scripts see of the plugin (names, order, signatures) is what it was before the step
/// contract, except that float defaults now print as floats (`radius: 3.0`).
#[test]
fn the_plugin_lists_its_steps_with_their_signatures() {
    let info = emoscope_sdk::Plugin::info(&plugin());
    let sigs: Vec<String> = info.functions.iter().map(|f| f.signature("rsa")).collect();
    assert_eq!(
        sigs,
        [
            "rsa::rsm(X, #{metric: \"pearson\"})",
            "rsa::compare(a, b, #{method: \"spearman\", permutations: 0, seed: run seed})",
            "rsa::roi(Y, rois, model_rsm, #{stimuli: all rows, metric: \"pearson\", method: \"spearman\"})",
            "rsa::searchlight(Y, coords, mask, model_rsms, #{radius: 3.0, inclusive: false, threshold: 1.0, min_voxels: 2, stimuli: all rows, metric: \"pearson\", precision: \"f32\", device: run device, shard: \"1/1\"})",
            "rsa::merge(parts)",
            "rsa::select_reliable(accuracy, n)",
        ]
    );
    let sl = info.function("searchlight").unwrap();
    let tys: Vec<&str> = sl.options.iter().map(|o| o.ty.name()).collect();
    assert_eq!(
        tys,
        ["float", "bool", "float", "int", "tensor", "string", "string", "string", "string"]
    );
    let precision = &sl.options[6];
    assert_eq!(precision.choices.len(), 2);
    assert_eq!(
        (
            precision.choices[0].0.as_str(),
            precision.choices[1].0.as_str()
        ),
        ("f32", "f64")
    );
}

#[test]
fn a_call_with_an_unknown_choice_names_the_valid_ones() {
    let x = Value::Tensor(rsm(1, 5));
    let opts = opts(&[("method", Value::from("tau"))]);
    let e = emoscope_sdk::Plugin::call(
        &plugin(),
        "compare",
        &[x.clone(), x],
        &opts,
        &Ctx::detached(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("option 'method'")
            && e.contains("'tau' is not one of spearman (")
            && e.contains("kendall ("),
        "{e}"
    );
}
