//! Searchlight and ROI RSA on a small synthetic subject, against brute force.
use super::{opts, rsm};
use crate::rsm::upper;
use crate::*;
use emoscope_sdk::stats::spearman;
use emoscope_sdk::step::Choice;
use emoscope_sdk::{Ctx, Map, Tensor, Value};
use ndarray::{Array1, Array2, Array3, Axis};
use rand::{RngExt, SeedableRng};

/// A small random subject: a 7×8×6 grid with a brain-like mask (a hole and a missing corner), Y
/// stimuli × voxels with values exact in f32, and spatially smooth signal.
struct Tiny {
    y: Array2<f64>,
    coords: Array2<i64>,
    mask: Array3<u8>,
}

fn tiny(m: usize, seed: u64) -> Tiny {
    let mut r = emoscope_sdk::ctx::Rng::seed_from_u64(seed);
    let shape = (7, 8, 6);
    let mut mask = Array3::<u8>::from_elem(shape, 1);
    mask[[3, 4, 2]] = 0;
    mask[[0, 0, 0]] = 0;
    mask[[6, 7, 5]] = 0;
    let mut c = Vec::new();
    for i in 0..shape.0 {
        for j in 0..shape.1 {
            for k in 0..shape.2 {
                // the data also holds voxels outside the mask, which no sphere may use
                if mask[[i, j, k]] == 1 || (i + j + k) % 11 == 0 {
                    c.extend([i as i64, j as i64, k as i64]);
                }
            }
        }
    }
    let v = c.len() / 3;
    let coords = Array2::from_shape_vec((v, 3), c).unwrap();
    let latent: Vec<f64> = (0..m * 3).map(|_| r.random::<f64>() - 0.5).collect();
    let y = Array2::from_shape_fn((m, v), |(s, u)| {
        let w = (coords[[u, 0]] as f64 * 0.7).sin() * latent[s * 3]
            + (coords[[u, 1]] as f64 * 0.5).cos() * latent[s * 3 + 1]
            + coords[[u, 2]] as f64 * 0.1 * latent[s * 3 + 2];
        ((w + 0.3 * (r.random::<f64>() - 0.5)) as f32) as f64
    });
    Tiny { y, coords, mask }
}

fn run_sl(t: &Tiny, models: Vec<Tensor>, opts: Map) -> Vec<Value> {
    let ctx = Ctx::detached();
    let v = searchlight_value(
        &Tensor::from_array(t.y.clone()),
        &Tensor::from_array(t.coords.clone()),
        &Tensor::from_array(t.mask.clone()),
        &Value::List(models.into_iter().map(Value::Tensor).collect()),
        &opts,
        &ctx,
    )
    .unwrap();
    v.as_list().unwrap().to_vec()
}

/// Brute force: the sphere by distance over every in-mask data voxel, the RSM by
/// `rsm_matrix` in f64, the comparison by `spearman` of the upper triangles.
fn brute(
    t: &Tiny,
    models: &[Array2<f64>],
    stim: &[usize],
    radius: f64,
    inclusive: bool,
    metric: &str,
) -> (Vec<Vec<f64>>, Vec<i64>) {
    let v = t.coords.nrows();
    let in_mask = |u: usize| {
        t.mask[[
            t.coords[[u, 0]] as usize,
            t.coords[[u, 1]] as usize,
            t.coords[[u, 2]] as usize,
        ]] == 1
    };
    let mut rs = vec![vec![f64::NAN; v]; models.len()];
    let mut sizes = vec![0i64; v];
    let ys = t.y.select(Axis(0), stim);
    for c in 0..v {
        if !in_mask(c) {
            continue;
        }
        let nb: Vec<usize> = (0..v)
            .filter(|&u| {
                let d2: i64 = (0..3)
                    .map(|a| (t.coords[[u, a]] - t.coords[[c, a]]).pow(2))
                    .sum();
                in_mask(u)
                    && ((d2 as f64) < radius * radius
                        || (inclusive && d2 as f64 <= radius * radius))
            })
            .collect();
        sizes[c] = nb.len() as i64;
        if nb.len() < 2 {
            continue;
        }
        let x = ys.select(Axis(1), &nb);
        let neural = rsm_matrix(x.view(), Metric::from_name(metric).unwrap())
            .mapv(|s| (s * searchlight::SNAP).round() / searchlight::SNAP);
        let un = upper(neural.view());
        for (mi, model) in models.iter().enumerate() {
            rs[mi][c] = spearman(&un, &upper(model.view()));
        }
    }
    (rs, sizes)
}

#[test]
fn searchlight_matches_brute_force() {
    let t = tiny(24, 11);
    let m1 = rsm(21, 24).matrix::<f64>("m").unwrap().to_owned();
    // a model with many ties
    let m2 = m1.mapv(|x| (x * 4.0).round());
    let models = vec![m1.clone(), m2.clone()];
    for (metric, radius, inclusive) in [
        ("pearson", 3.0, false),
        ("pearson", 2.0, true),
        ("cosine", 2.5, false),
        ("spearman", 2.0, false),
        ("euclidean", 2.0, false),
    ] {
        let out = run_sl(
            &t,
            vec![
                Tensor::from_array(m1.clone()),
                Tensor::from_array(m2.clone()),
            ],
            opts(&[
                ("radius", Value::Float(radius)),
                ("inclusive", Value::Bool(inclusive)),
                ("threshold", Value::Float(0.0)),
                ("metric", Value::from(metric)),
                ("precision", Value::from("f64")),
            ]),
        );
        let all: Vec<usize> = (0..24).collect();
        let (want, sizes) = brute(&t, &models, &all, radius, inclusive, metric);
        assert_eq!(out.len(), 2);
        for (mi, map) in out.iter().enumerate() {
            let r = map
                .get("r")
                .unwrap()
                .to_tensor("r")
                .unwrap()
                .to_f64()
                .unwrap();
            let n = map
                .get("n_voxels")
                .unwrap()
                .to_tensor("n")
                .unwrap()
                .to_i64()
                .unwrap();
            assert_eq!(n.iter().copied().collect::<Vec<_>>(), sizes, "{metric}");
            let mut scored = 0;
            for c in 0..r.len() {
                if want[mi][c].is_nan() {
                    assert!(r[c].is_nan(), "{metric}: voxel {c} should not be scored");
                } else {
                    scored += 1;
                    // (the spearman metric's similarities are discrete: equal values must tie
                    // on both sides, hence the same 2^-32 snapping as the engine's)
                    let tol = 1e-9;
                    assert!(
                        (r[c] - want[mi][c]).abs() < tol,
                        "{metric} r={radius} model {mi} voxel {c}: {} vs {}",
                        r[c],
                        want[mi][c]
                    );
                }
            }
            assert!(scored > 200, "{scored}");
        }
    }
}

#[test]
fn f32_default_is_close_to_the_exact_map() {
    let t = tiny(60, 17);
    let m = || vec![rsm(27, 60)];
    let o = |p: &str| {
        opts(&[
            ("radius", Value::Float(3.0)),
            ("threshold", Value::Float(0.0)),
            ("precision", Value::from(p)),
        ])
    };
    let (a, b) = (run_sl(&t, m(), o("f32")), run_sl(&t, m(), o("f64")));
    let (x, y) = (
        a[0].get("r")
            .unwrap()
            .to_tensor("r")
            .unwrap()
            .to_f64()
            .unwrap(),
        b[0].get("r")
            .unwrap()
            .to_tensor("r")
            .unwrap()
            .to_f64()
            .unwrap(),
    );
    for (p, q) in x.iter().zip(y.iter()) {
        assert_eq!(p.is_nan(), q.is_nan());
        if !p.is_nan() {
            assert!((p - q).abs() < 1e-4, "{p} vs {q}");
        }
    }
}

#[test]
fn searchlight_selects_stimuli_and_whole_spheres() {
    let t = tiny(30, 12);
    let full = rsm(22, 30).matrix::<f64>("m").unwrap().to_owned();
    let stim = vec![0usize, 2, 3, 5, 8, 9, 10, 14, 15, 20, 21, 25, 29];
    let sub = full.select(Axis(0), &stim).select(Axis(1), &stim);
    let st = Tensor::from_vec(stim.iter().map(|&i| i as i64).collect(), &[stim.len()]).unwrap();
    // the full-size model (subset taken) and the subset model give the same map
    let a = run_sl(
        &t,
        vec![Tensor::from_array(full.clone())],
        opts(&[
            ("stimuli", Value::Tensor(st.clone())),
            ("radius", Value::Float(2.0)),
            ("precision", Value::from("f64")),
        ]),
    );
    let b = run_sl(
        &t,
        vec![Tensor::from_array(sub.clone())],
        opts(&[
            ("stimuli", Value::Tensor(st)),
            ("radius", Value::Float(2.0)),
            ("precision", Value::from("f64")),
        ]),
    );
    let ra = a[0].get("r").unwrap().to_tensor("r").unwrap();
    assert!(ra
        .bit_equal(&b[0].get("r").unwrap().to_tensor("r").unwrap())
        .unwrap());
    let (want, _) = brute(&t, &[sub], &stim, 2.0, false, "pearson");
    let ra = ra.to_f64().unwrap();
    // threshold 1.0 (default): only centres whose whole in-volume sphere lies in the mask
    let sphere = emoscope_sdk::fmri::sphere::Sphere::new(2.0, false).unwrap();
    let mut scored = 0;
    for c in 0..ra.len() {
        let cc = [t.coords[[c, 0]], t.coords[[c, 1]], t.coords[[c, 2]]];
        let inside = |p: [i64; 3]| (0..3).all(|a| p[a] >= 0 && (p[a] as usize) < t.mask.shape()[a]);
        let whole = t.mask[[cc[0] as usize, cc[1] as usize, cc[2] as usize]] == 1
            && sphere.offsets().iter().all(|o| {
                let p = [cc[0] + o[0], cc[1] + o[1], cc[2] + o[2]];
                !inside(p) || t.mask[[p[0] as usize, p[1] as usize, p[2] as usize]] == 1
            });
        assert_eq!(!ra[c].is_nan(), whole, "voxel {c}");
        if whole {
            scored += 1;
            assert!((ra[c] - want[0][c]).abs() < 1e-9);
        }
    }
    assert_eq!(a[0].get("centres").unwrap().as_i64().unwrap(), scored);
}

#[test]
fn shards_merge_into_the_single_run_bit_for_bit() {
    let t = tiny(16, 13);
    let models = || vec![rsm(23, 16), rsm(24, 16)];
    let single = run_sl(
        &t,
        models(),
        opts(&[
            ("radius", Value::Float(2.0)),
            ("threshold", Value::Float(0.5)),
        ]),
    );
    let parts: Vec<Value> = [3, 1, 2]
        .iter()
        .map(|k| {
            Value::List(run_sl(
                &t,
                models(),
                opts(&[
                    ("radius", Value::Float(2.0)),
                    ("threshold", Value::Float(0.5)),
                    ("shard", Value::from(format!("{k}/3"))),
                ]),
            ))
        })
        .collect();
    let merged = merge(&parts).unwrap();
    let merged = merged.as_list().unwrap();
    for (a, b) in single.iter().zip(merged) {
        for key in ["r", "n_voxels"] {
            let (x, y) = (
                a.get(key).unwrap().to_tensor(key).unwrap(),
                b.get(key).unwrap().to_tensor(key).unwrap(),
            );
            assert!(x.bit_equal(&y).unwrap(), "{key}");
        }
        assert_eq!(
            a.get("centres").unwrap().as_i64(),
            b.get("centres").unwrap().as_i64()
        );
        assert_eq!(
            format!("{:?}", a.get("shard").unwrap()),
            format!("{:?}", b.get("shard").unwrap())
        );
    }
    // a shard alone leaves the others' voxels unscored
    let p1 = parts[1].as_list().unwrap()[0]
        .get("r")
        .unwrap()
        .to_tensor("r")
        .unwrap()
        .to_f64()
        .unwrap();
    let v = p1.len();
    assert!(p1.iter().skip(v / 3 + 1).all(|x| x.is_nan()));
    let e = merge(&[parts[0].clone(), parts[0].clone(), parts[1].clone()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("overlapping"), "{e}");
    let e = merge(&[parts[0].clone(), parts[1].clone()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing shards: 2/3"), "{e}");
}

#[test]
fn searchlight_rejects_bad_input() {
    let t = tiny(10, 14);
    let ctx = Ctx::detached();
    let call = |models: Value, o: Map| {
        searchlight_value(
            &Tensor::from_array(t.y.clone()),
            &Tensor::from_array(t.coords.clone()),
            &Tensor::from_array(t.mask.clone()),
            &models,
            &o,
            &ctx,
        )
    };
    let m = Value::List(vec![Value::Tensor(rsm(1, 10))]);
    for (o, want) in [
        (opts(&[("shard", Value::from("4/3"))]), "K/N"),
        (
            opts(&[("metric", Value::from("mahalanobis"))]),
            "'mahalanobis' is not one of",
        ),
        (opts(&[("radius", Value::Float(-1.0))]), "radius"),
        (opts(&[("radiuss", Value::Float(2.0))]), "radiuss"),
        (opts(&[("device", Value::from("tpu"))]), "unknown device"),
    ] {
        let e = call(m.clone(), o).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    let e = call(Value::List(vec![Value::Tensor(rsm(1, 9))]), Map::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("9×9"), "{e}");
    #[cfg(not(feature = "torch"))]
    {
        let e = call(m.clone(), opts(&[("device", Value::from("cuda"))]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("torch"), "{e}");
    }
    ctx.cancel.cancel();
    assert!(call(m, Map::new()).unwrap_err().is_cancelled());
}

#[test]
fn roi_errors_name_the_empty_roi() {
    let t = tiny(10, 15);
    let v = t.coords.nrows();
    let mut rois = Map::new();
    rois.insert(
        "A".into(),
        Value::Tensor(Tensor::from_array(Array1::from_elem(v, 1u8))),
    );
    rois.insert(
        "Empty".into(),
        Value::Tensor(Tensor::from_array(Array1::<u8>::zeros(v))),
    );
    let ctx = Ctx::detached();
    let e = roi(
        &Tensor::from_array(t.y.clone()),
        &rois,
        &rsm(1, 10),
        None,
        Metric::Pearson,
        Method::Spearman,
        &ctx,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("'Empty'"), "{e}");
    rois.remove("Empty");
    let res = roi(
        &Tensor::from_array(t.y.clone()),
        &rois,
        &rsm(1, 10),
        None,
        Metric::Pearson,
        Method::Kendall,
        &ctx,
    )
    .unwrap();
    let neural = rsm_matrix(t.y.view(), Metric::Pearson);
    let (want, _, _) = compare(
        &Tensor::from_array(neural),
        &rsm(1, 10),
        Method::Kendall,
        0,
        0,
        &ctx,
    )
    .unwrap();
    assert_eq!(
        res.get("A").unwrap().get("r").unwrap().as_f64().unwrap(),
        want
    );
}

#[cfg(feature = "torch")]
#[test]
fn torch_device_matches_the_cpu_path() {
    let t = tiny(40, 16);
    let models = || vec![rsm(25, 40), rsm(26, 40)];
    for metric in ["pearson", "euclidean"] {
        let o = |dev: &str| {
            opts(&[
                ("radius", Value::Float(2.0)),
                ("threshold", Value::Float(0.0)),
                ("metric", Value::from(metric)),
                ("device", Value::from(dev)),
            ])
        };
        let cpu = run_sl(&t, models(), o("cpu"));
        let dev = run_sl(&t, models(), o("torch:cpu"));
        for (a, b) in cpu.iter().zip(&dev) {
            let (x, y) = (
                a.get("r")
                    .unwrap()
                    .to_tensor("r")
                    .unwrap()
                    .to_f64()
                    .unwrap(),
                b.get("r")
                    .unwrap()
                    .to_tensor("r")
                    .unwrap()
                    .to_f64()
                    .unwrap(),
            );
            for (p, q) in x.iter().zip(y.iter()) {
                assert_eq!(p.is_nan(), q.is_nan());
                if !p.is_nan() {
                    assert!((p - q).abs() < 1e-6, "{metric}: {p} vs {q}");
                }
            }
        }
    }
}
