//! Fits end to end: recovery of a planted embedding, resumption, cancellation, bad input.
use super::*;
use crate::model::log_probs;
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::{Ctx, Device, Map, Plugin, Tensor};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use std::path::PathBuf;

/// A planted sparse non-negative embedding: each item loads on one or two of `k` dimensions.
fn planted(n: usize, k: usize, seed: u64) -> Array2<f64> {
    let mut r = Rng::seed_from_u64(seed);
    let mut x = Array2::<f64>::zeros((n, k));
    for i in 0..n {
        x[[i, i % k]] = 1.5 + r.random::<f64>();
        if r.random::<f64>() < 0.4 {
            x[[i, r.random_range(0..k)]] += 0.8 * r.random::<f64>();
        }
    }
    x
}

/// Triplets whose choices follow the SPoSE model of `x`, in SPoSE order.
fn simulate(x: &Array2<f64>, m: usize, seed: u64) -> Vec<Triplet> {
    let n = x.nrows() as u32;
    let mut r = Rng::seed_from_u64(seed);
    (0..m)
        .map(|_| {
            let a = r.random_range(0..n);
            let b = loop {
                let v = r.random_range(0..n);
                if v != a {
                    break v;
                }
            };
            let c = loop {
                let v = r.random_range(0..n);
                if v != a && v != b {
                    break v;
                }
            };
            let d = |p: u32, q: u32| x.row(p as usize).dot(&x.row(q as usize));
            let lp = log_probs(d(a, b), d(a, c), d(b, c));
            let u = r.random::<f64>();
            if u < lp[0].exp() {
                [a, b, c]
            } else if u < lp[0].exp() + lp[1].exp() {
                [a, c, b]
            } else {
                [b, c, a]
            }
        })
        .collect()
}

fn cfg(n: usize, dims: usize, epochs: usize, checkpoint: Option<PathBuf>) -> FitConfig {
    FitConfig {
        n_items: n,
        dims,
        step: StepConfig {
            lambda: 0.01,
            lr: 0.01,
            positivity: Positivity::Project,
        },
        batch: 100,
        epochs,
        early_stop: false,
        window: 50,
        seed: 7,
        checkpoint,
    }
}

#[test]
fn recovers_a_planted_embedding_to_the_noise_ceiling() {
    let truth = planted(40, 4, 1);
    let train = simulate(&truth, 24_000, 2);
    let test = simulate(&truth, 4_000, 3);
    let ctx = Ctx::detached();
    let f = run_fit(&cfg(40, 12, 40, None), Device::Cpu, 2, &train, &test, &ctx).unwrap();
    // Every planted dimension is matched by a learned one at r > 0.9.
    for k in 0..4 {
        let t: Vec<f64> = truth.column(k).to_vec();
        let best = (0..f.embedding.ncols())
            .map(|d| emoscope_sdk::stats::pearson(&t, &f.embedding.column(d).to_vec()))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(best > 0.9, "planted dimension {k}: best match r = {best}");
    }
    // Held-out accuracy close to the planted model's own (the noise ceiling of these choices).
    let ceiling = evaluate(truth.view(), &test, &ctx).unwrap().accuracy;
    let got = evaluate(f.embedding.view(), &test, &ctx).unwrap().accuracy;
    assert!(got > ceiling - 0.02, "accuracy {got} vs ceiling {ceiling}");
    assert!(
        f.embedding.iter().all(|&v| v >= 0.0),
        "projection keeps X non-negative"
    );
    assert!(
        f.kept.len() >= 4 && f.kept.len() < 12,
        "pruned to {} dims",
        f.kept.len()
    );
    // The history shows learning.
    assert!(f.history.last().unwrap().loss < f.history[0].loss);
}

#[test]
fn a_resumed_fit_equals_an_uninterrupted_one() {
    let truth = planted(20, 3, 4);
    let train = simulate(&truth, 3_000, 5);
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.npz");
    let ctx = Ctx::detached();
    let whole = run_fit(&cfg(20, 6, 4, None), Device::Cpu, 1, &train, &[], &ctx).unwrap();
    let first = run_fit(
        &cfg(20, 6, 2, Some(ck.clone())),
        Device::Cpu,
        1,
        &train,
        &[],
        &ctx,
    )
    .unwrap();
    assert_eq!(first.history.len(), 2);
    let resumed = run_fit(
        &cfg(20, 6, 4, Some(ck.clone())),
        Device::Cpu,
        1,
        &train,
        &[],
        &ctx,
    )
    .unwrap();
    assert_eq!(resumed.resumed_from, 2);
    assert_eq!(resumed.history.len(), 4);
    assert_eq!(
        resumed.full, whole.full,
        "resuming must not change the result"
    );
    // Another fit's checkpoint is refused, not silently mixed in.
    let mut other = cfg(20, 6, 4, Some(ck));
    other.step.lambda = 0.02;
    let e = run_fit(&other, Device::Cpu, 1, &train, &[], &ctx)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("made by another fit") && e.contains("lambda=0.01"),
        "{e}"
    );
}

#[test]
fn thread_count_does_not_change_the_fit() {
    let truth = planted(80, 3, 6);
    let train = simulate(&truth, 2_000, 7);
    let ctx = Ctx::detached();
    let one = run_fit(&cfg(80, 8, 2, None), Device::Cpu, 1, &train, &[], &ctx).unwrap();
    let two = run_fit(&cfg(80, 8, 2, None), Device::Cpu, 2, &train, &[], &ctx).unwrap();
    assert_eq!(one.full, two.full);
}

#[test]
fn cancelling_leaves_the_last_checkpoint_intact() {
    let truth = planted(30, 3, 8);
    let train = simulate(&truth, 20_000, 9);
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck.npz");
    let ctx = Ctx::detached();
    let c2 = ctx.clone();
    let ck2 = ck.clone();
    let h = std::thread::spawn(move || {
        run_fit(
            &cfg(30, 6, 10_000, Some(ck2)),
            Device::Cpu,
            1,
            &train,
            &[],
            &c2,
        )
    });
    let t0 = std::time::Instant::now();
    while !ck.exists() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    ctx.cancel.cancel();
    let e = h.join().unwrap().expect_err("cancelled");
    assert!(e.is_cancelled(), "{e}");
    // The checkpoint still reads back whole, and no temporary file is left behind.
    let m = emoscope_sdk::io::npy::read_npz(&ck).unwrap();
    assert_eq!(m["x"].as_tensor().unwrap().shape(), vec![30, 6]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

fn call(f: &str, args: Vec<Value>, opts: Map) -> Result<Value> {
    plugin().call(f, &args, &opts, &Ctx::detached())
}

fn opts(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn bad_input_is_a_clear_error() {
    let t = Value::Tensor(emoscope_sdk::triplets::to_tensor(&[[0, 1, 2], [3, 4, 5]]));
    let err = |o: Map| call("fit", vec![t.clone()], o).unwrap_err().to_string();
    let e = err(opts(&[("lambda", Value::Float(-0.1))]));
    assert!(e.contains("lambda must be ≥ 0"), "{e}");
    let e = err(opts(&[("dims", Value::Int(0))]));
    assert!(e.contains("dims must be at least 1"), "{e}");
    let e = err(opts(&[("n_items", Value::Int(5))]));
    assert!(
        e.contains("index 5 in column 3 is out of range for 5 items"),
        "{e}"
    );
    let e = err(opts(&[("positivity", Value::Str("soft".into()))]));
    assert!(
        e.contains("option 'positivity': 'soft' is not one of project (clamp X at 0 after each step), penalty"),
        "{e}"
    );
    let x = Value::Tensor(Tensor::from_vec(vec![1.0f64; 8], &[4, 2]).unwrap());
    let e = call("evaluate", vec![x, t.clone()], Map::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("out of range for 4 items"), "{e}");
}

fn small_fit_opts(extra: &[(&str, Value)]) -> Map {
    let mut o = opts(&[
        ("n_items", Value::Int(40)),
        ("lr", Value::Float(0.01)),
        ("epochs", Value::Int(12)),
        ("early_stop", Value::Bool(false)),
        ("seed", Value::Int(1)),
        ("threads", Value::Int(1)),
    ]);
    o.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    o
}

#[test]
fn dimensionality_and_lambda_selection_prefer_what_was_planted() {
    let truth = planted(40, 4, 11);
    let t = Value::Tensor(emoscope_sdk::triplets::to_tensor(&simulate(
        &truth, 6_000, 12,
    )));
    let d = call(
        "dimensionality",
        vec![t.clone(), Value::List(vec![Value::Int(1), Value::Int(8)])],
        small_fit_opts(&[("lambda", Value::Float(0.01))]),
    )
    .unwrap();
    let acc = d
        .get("accuracy")
        .unwrap()
        .as_tensor()
        .unwrap()
        .to_vec_f64()
        .unwrap();
    assert!(
        acc[1] > acc[0] + 0.05,
        "8 dims must beat 1 on a 4-d planted space: {acc:?}"
    );
    assert_eq!(d.get("saturates_at").unwrap().as_i64(), Some(8));
    // A λ so large that it empties the embedding predicts held-out choices worse.
    let s = call(
        "select_lambda",
        vec![t, Value::List(vec![Value::Float(0.01), Value::Float(20.0)])],
        small_fit_opts(&[("folds", Value::Int(2)), ("dims", Value::Int(8))]),
    )
    .unwrap();
    assert_eq!(s.get("best").unwrap().as_f64(), Some(0.01));
    let ce = s
        .get("cross_entropy")
        .unwrap()
        .as_tensor()
        .unwrap()
        .to_vec_f64()
        .unwrap();
    assert!(ce[0] < ce[1], "{ce:?}");
}
