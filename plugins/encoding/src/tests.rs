//! Checks against independent computations: ridge by its normal equations (Gaussian
//! elimination, no SVD), nested CV written out loop by loop, leave-one-out by n real refits.
use crate::folds::kfold;
use crate::loo::{loo_accuracy, Alphas};
use crate::ridge::{ridge_cv, Config};
use emoscope_sdk::stats::pearson;
use emoscope_sdk::{Ctx, Device};
use ndarray::{Array1, Array2, Axis};
use rand::{RngExt, SeedableRng};

fn gaussian(rng: &mut emoscope_sdk::ctx::Rng) -> f64 {
    // Box-Muller: enough for test data.
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random::<f64>());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// X (n × p) and Y (n × v): the first half of the voxels carry a linear signal of X.
fn data(n: usize, p: usize, v: usize, seed: u64) -> (Array2<f64>, Array2<f32>) {
    let mut rng = emoscope_sdk::ctx::Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| gaussian(&mut rng));
    let w = Array2::from_shape_fn(
        (p, v),
        |(_, j)| if j < v / 2 { gaussian(&mut rng) } else { 0.0 },
    );
    let sig = x.dot(&w);
    let y = Array2::from_shape_fn((n, v), |(i, j)| {
        (sig[[i, j]] + 1.5 * gaussian(&mut rng) + 3.0) as f32
    });
    (x, y)
}

/// Solve A w = b by Gaussian elimination with partial pivoting.
fn solve(mut a: Array2<f64>, mut b: Array1<f64>) -> Array1<f64> {
    let n = b.len();
    for c in 0..n {
        let piv = (c..n)
            .max_by(|&i, &j| a[[i, c]].abs().total_cmp(&a[[j, c]].abs()))
            .unwrap();
        for k in 0..n {
            a.swap([c, k], [piv, k]);
        }
        b.swap(c, piv);
        for r in c + 1..n {
            let f = a[[r, c]] / a[[c, c]];
            for k in c..n {
                a[[r, k]] -= f * a[[c, k]];
            }
            b[r] -= f * b[c];
        }
    }
    let mut w = Array1::zeros(n);
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| a[[c, k]] * w[k]).sum();
        w[c] = (b[c] - s) / a[[c, c]];
    }
    w
}

/// Ridge with an unpenalised intercept fitted on `train`, predicting `test`.
fn ridge_predict(
    x: &Array2<f64>,
    y: &[f64],
    train: &[usize],
    test: &[usize],
    alpha: f64,
) -> Vec<f64> {
    let xt = x.select(Axis(0), train);
    let mx = xt.mean_axis(Axis(0)).unwrap();
    let xc = &xt - &mx;
    let my = train.iter().map(|&i| y[i]).sum::<f64>() / train.len() as f64;
    let yc: Array1<f64> = train.iter().map(|&i| y[i] - my).collect();
    let mut a = xc.t().dot(&xc);
    for k in 0..a.nrows() {
        a[[k, k]] += alpha;
    }
    let w = solve(a, xc.t().dot(&yc));
    test.iter()
        .map(|&i| (&x.row(i) - &mx).dot(&w) + my)
        .collect()
}

fn config(alphas: Vec<f64>, v: usize) -> Config {
    Config {
        outer: 5,
        inner: 6,
        alphas,
        groups: None,
        weights: true,
        voxels: 0..v,
    }
}

#[test]
fn nested_cv_matches_a_loop_by_loop_reference() {
    let (n, p, v) = (97, 4, 9);
    let (x, y) = data(n, p, v, 1);
    let alphas: Vec<f64> = (0..25)
        .map(|i| 10f64.powf(-3.0 + 6.0 * i as f64 / 24.0))
        .collect();
    let out = ridge_cv(
        x.view(),
        y.view(),
        &config(alphas.clone(), v),
        Device::Cpu,
        &Ctx::detached(),
    )
    .unwrap();
    let all: Vec<usize> = (0..n).collect();
    for vox in 0..v {
        let yv: Vec<f64> = y.column(vox).iter().map(|&a| a as f64).collect();
        let mut pred = vec![0.0; n];
        for (fi, f) in kfold(&all, 5, None, "o").unwrap().iter().enumerate() {
            // Inner CV: mean over folds of each fold's MSE; the first best, ties to larger alpha.
            let inner = kfold(&f.train, 6, None, "i").unwrap();
            let mut best = (f64::NEG_INFINITY, 0.0);
            for &alpha in &alphas {
                let mut score = 0.0;
                for s in &inner {
                    let tr: Vec<usize> = s.train.iter().map(|&q| f.train[q]).collect();
                    let va: Vec<usize> = s.test.iter().map(|&q| f.train[q]).collect();
                    let pr = ridge_predict(&x, &yv, &tr, &va, alpha);
                    let mse = va
                        .iter()
                        .zip(&pr)
                        .map(|(&i, p)| (yv[i] - p).powi(2))
                        .sum::<f64>()
                        / va.len() as f64;
                    score -= mse / inner.len() as f64;
                }
                score += alpha.ln() * 1e-10;
                if score > best.0 {
                    best = (score, alpha);
                }
            }
            assert_eq!(
                out.alphas[[fi, vox]],
                best.1,
                "voxel {vox}, fold {fi}: alpha"
            );
            for (i, pv) in f
                .test
                .iter()
                .zip(ridge_predict(&x, &yv, &f.train, &f.test, best.1))
            {
                pred[*i] = pv;
            }
        }
        let want = pearson(&pred, &yv);
        assert!(
            (out.r[vox] - want).abs() < 1e-6,
            "voxel {vox}: r {} vs {want}",
            out.r[vox]
        );
        for (i, &want) in pred.iter().enumerate() {
            assert!((out.predictions[[i, vox]] as f64 - want).abs() < 1e-4);
        }
    }
    // Weights in X's units reproduce the out-of-fold predictions of their fold.
    let (w, b) = out.weights.as_ref().unwrap();
    let f0 = &kfold(&all, 5, None, "o").unwrap()[0];
    for &i in &f0.test {
        let p0: f64 =
            (0..p).map(|k| x[[i, k]] * w[[0, k, 2]] as f64).sum::<f64>() + b[[0, 2]] as f64;
        assert!((p0 - out.predictions[[i, 2]] as f64).abs() < 1e-3);
    }
}

#[test]
fn signal_voxels_are_predicted_and_noise_voxels_are_not() {
    let (x, y) = data(300, 6, 40, 2);
    let out = ridge_cv(
        x.view(),
        y.view(),
        &config(crate::default_alphas(), 40),
        Device::Cpu,
        &Ctx::detached(),
    )
    .unwrap();
    let sig = out.r.slice(ndarray::s![..20]).mean().unwrap();
    let noise = out.r.slice(ndarray::s![20..]).mean().unwrap();
    assert!(sig > 0.6, "signal voxels: mean r {sig}");
    assert!(noise.abs() < 0.1, "noise voxels: mean r {noise}");
    // Noise voxels want heavy regularisation, signal voxels light.
    let a_sig = out.alphas.slice(ndarray::s![.., ..20]).mean().unwrap();
    let a_noise = out.alphas.slice(ndarray::s![.., 20..]).mean().unwrap();
    assert!(
        a_noise > 10.0 * a_sig,
        "alphas: noise {a_noise}, signal {a_sig}"
    );
}

#[test]
fn shards_merge_into_the_whole_run_bit_for_bit() {
    let (x, y) = data(80, 3, 700, 3);
    let ctx = Ctx::detached();
    let whole = ridge_cv(
        x.view(),
        y.view(),
        &config(crate::default_alphas(), 700),
        Device::Cpu,
        &ctx,
    )
    .unwrap();
    let mut r = Array1::from_elem(700, f64::NAN);
    for k in 1..=3 {
        let (range, _) =
            crate::shard_range(Some(&format!("{k}/3")), 700, crate::ridge::BATCH).unwrap();
        let mut cfg = config(crate::default_alphas(), 700);
        cfg.voxels = range.clone();
        let part = ridge_cv(x.view(), y.view(), &cfg, Device::Cpu, &ctx).unwrap();
        assert!(part
            .r
            .iter()
            .enumerate()
            .all(|(i, v)| range.contains(&i) != v.is_nan()));
        r.slice_mut(ndarray::s![range.clone()])
            .assign(&part.r.slice(ndarray::s![range]));
    }
    assert!(r
        .iter()
        .zip(&whole.r)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn groups_keep_stimuli_together() {
    let (x, y) = data(60, 3, 4, 4);
    // Stimulus i and i + 30 are repeats: one group.
    let groups: Vec<i64> = (0..60).map(|i| (i % 30) as i64).collect();
    let mut cfg = config(vec![0.1, 1.0, 10.0], 4);
    cfg.groups = Some(groups.clone());
    let out = ridge_cv(x.view(), y.view(), &cfg, Device::Cpu, &Ctx::detached()).unwrap();
    assert!(out.r.iter().all(|r| r.is_finite()));
    let all: Vec<usize> = (0..60).collect();
    for f in kfold(&all, 5, Some(&groups), "o").unwrap() {
        for &t in &f.test {
            assert!(
                f.test.contains(&((t + 30) % 60)),
                "repeat of {t} left the test fold"
            );
        }
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let (x, y) = data(40, 3, 4, 5);
    let ctx = Ctx::detached();
    let cfg = config(vec![1.0], 4);
    let e = ridge_cv(
        x.slice(ndarray::s![..39, ..]),
        y.view(),
        &cfg,
        Device::Cpu,
        &ctx,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("the embedding has 39 stimuli (rows) but the fMRI data has 40"),
        "{e}"
    );
    let mut yn = y.clone();
    yn[[7, 2]] = f32::NAN;
    let e = ridge_cv(x.view(), yn.view(), &cfg, Device::Cpu, &ctx).unwrap_err();
    assert!(e.to_string().contains("NaN at stimulus 7, voxel 2"), "{e}");
    let e = ridge_cv(
        x.view(),
        y.view(),
        &config(vec![1.0, -2.0], 4),
        Device::Cpu,
        &ctx,
    )
    .unwrap_err();
    assert!(e.to_string().contains("positive"), "{e}");
    let e = crate::shard_range(Some("3/2"), 10, 256).unwrap_err();
    assert!(e.to_string().contains("1 <= K <= N"), "{e}");
}

#[test]
fn leave_one_out_matches_real_refits() {
    let (n, p, v) = (40, 3, 12);
    let (x, y) = data(n, p, v, 6);
    let alpha = 2.5;
    let out = loo_accuracy(
        x.view(),
        y.view(),
        &Alphas::PerVoxel(vec![alpha; v]),
        &Ctx::detached(),
    )
    .unwrap();
    for i in 0..n {
        let train: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        let (mut pred, mut meas) = (Vec::new(), Vec::new());
        for vox in 0..v {
            let yv: Vec<f64> = y.column(vox).iter().map(|&a| a as f64).collect();
            pred.push(ridge_predict(&x, &yv, &train, &[i], alpha)[0]);
            meas.push(yv[i]);
        }
        let want = pearson(&pred, &meas);
        assert!(
            (out.accuracy[i] - want).abs() < 1e-6,
            "stimulus {i}: {} vs {want}",
            out.accuracy[i]
        );
    }
    // The grid picks, per voxel, the alpha with the smallest leave-one-out MSE.
    let grid = vec![0.01, 1.0, 100.0];
    let g = loo_accuracy(
        x.view(),
        y.view(),
        &Alphas::Grid(grid.clone()),
        &Ctx::detached(),
    )
    .unwrap();
    for vox in [0, 11] {
        let yv: Vec<f64> = y.column(vox).iter().map(|&a| a as f64).collect();
        let mse = |alpha: f64| -> f64 {
            (0..n)
                .map(|i| {
                    let train: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                    (yv[i] - ridge_predict(&x, &yv, &train, &[i], alpha)[0]).powi(2)
                })
                .sum()
        };
        let want = grid
            .iter()
            .copied()
            .min_by(|a, b| mse(*a).total_cmp(&mse(*b)))
            .unwrap();
        assert_eq!(g.alphas[vox], want, "voxel {vox}");
    }
}

#[cfg(feature = "torch")]
#[test]
fn torch_engine_matches_the_cpu_engine() {
    let (x, y) = data(120, 5, 30, 7);
    let ctx = Ctx::detached();
    let cfg = config(crate::default_alphas(), 30);
    let cpu = ridge_cv(x.view(), y.view(), &cfg, Device::Cpu, &ctx).unwrap();
    let dev = ridge_cv(x.view(), y.view(), &cfg, Device::TorchCpu, &ctx).unwrap();
    assert_eq!(cpu.alphas, dev.alphas);
    for (a, b) in cpu.r.iter().zip(&dev.r) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
}
