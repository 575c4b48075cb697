use super::*;
use crate::latent::category_order;
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::{Ctx, Map, Plugin, Value};
use ndarray::{Array2, Axis};
use rand::{RngExt, SeedableRng};

fn near_int(x: f64) -> bool {
    (x - x.round()).abs() < 1e-9
}

#[test]
fn latent_is_sparse_nonnegative_with_one_dominant_component() {
    let l = latent(500, 30, 0.3, 1);
    assert_eq!(l.x.dim(), (500, 30));
    assert!(l.x.iter().all(|&v| v >= 0.0));
    let nonzero = l.x.iter().filter(|&&v| v > 0.0).count() as f64 / l.x.len() as f64;
    assert!(nonzero < 0.12, "not sparse: {nonzero}");
    let mut blends = 0;
    for (i, row) in l.x.outer_iter().enumerate() {
        let argmax = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(argmax, l.dominant[i]);
        assert!(row[argmax] >= 0.6);
        blends += usize::from(row.iter().filter(|&&v| v >= 0.6 * 0.2).count() >= 2);
    }
    let frac = blends as f64 / 500.0;
    assert!((0.2..0.45).contains(&frac), "blend fraction {frac}");
    assert_eq!(latent_names(36)[35], format!("{}_2", latent_names(2)[1]));
}

#[test]
fn same_seed_is_bit_identical_and_seeds_differ() {
    let (a, b, c) = (
        latent(100, 10, 0.3, 5),
        latent(100, 10, 0.3, 5),
        latent(100, 10, 0.3, 6),
    );
    assert!(a
        .x
        .iter()
        .zip(b.x.iter())
        .all(|(x, y)| x.to_bits() == y.to_bits()));
    assert!(a.x != c.x);
    let (ra, rb) = (
        ratings(a.x.view(), (9, 17), 2).unwrap(),
        ratings(b.x.view(), (9, 17), 2).unwrap(),
    );
    assert!(ra
        .dimensions
        .iter()
        .zip(rb.dimensions.iter())
        .all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn ratings_lie_in_the_real_value_sets() {
    let l = latent(400, 30, 0.3, 3);
    let r = ratings(l.x.view(), (9, 17), 4).unwrap();
    assert_eq!(r.categories.dim(), (400, 34));
    assert_eq!(r.dimensions.dim(), (400, 14));
    for i in 0..400 {
        let (rc, rd) = (r.category_raters[i] as f64, r.dimension_raters[i] as f64);
        assert!((9.0..=17.0).contains(&rc) && (9.0..=17.0).contains(&rd));
        for &v in r.categories.row(i) {
            assert!(
                (0.0..=1.0).contains(&v) && near_int(v * rc),
                "category fraction {v} with {rc} raters"
            );
        }
        for &v in r.dimensions.row(i) {
            assert!(
                (1.0..=9.0).contains(&v) && near_int(v * rd),
                "dimension mean {v} with {rd} raters"
            );
        }
    }
}

#[test]
fn ratings_follow_the_planted_structure_and_real_base_rates() {
    let l = latent(2180, 30, 0.3, 7);
    let r = ratings(l.x.view(), (9, 17), 8).unwrap();
    let order = category_order();
    // The dominant component's category is the most chosen one far above chance.
    let hits = (0..2180)
        .filter(|&i| {
            let row = r.categories.row(i);
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            best == order[l.dominant[i] % 34]
        })
        .count() as f64
        / 2180.0;
    assert!(
        hits > 0.5,
        "dominant category recovered for {hits} of stimuli"
    );
    // Per-category base rates track the real ones (independently recomputed means).
    let means = r.categories.mean_axis(Axis(0)).unwrap();
    let real: Vec<f64> = CATEGORY_BASE_RATES.to_vec();
    let r_means = emoscope_sdk::stats::pearson(&means.to_vec(), &real);
    assert!(r_means > 0.9, "base-rate profile correlation {r_means}");
    let zero =
        r.categories.iter().filter(|&&v| v == 0.0).count() as f64 / r.categories.len() as f64;
    assert!(
        (zero - CATEGORY_ZERO_FRACTION).abs() < 0.1,
        "zero fraction {zero} vs real {CATEGORY_ZERO_FRACTION}"
    );
}

#[test]
fn agent_agreement_with_truth_rises_as_temperature_falls() {
    let l = latent(200, 20, 0.3, 11);
    let ctx = Ctx::detached();
    let mut rng = Rng::seed_from_u64(3);
    let mut t = Array2::<i64>::zeros((4000, 3));
    for mut row in t.outer_iter_mut() {
        let a = rng.random_range(0..200i64);
        let mut b = rng.random_range(0..200i64);
        while b == a {
            b = rng.random_range(0..200i64);
        }
        let mut c = rng.random_range(0..200i64);
        while c == a || c == b {
            c = rng.random_range(0..200i64);
        }
        row.assign(&ndarray::arr1(&[a, b, c]));
    }
    // The noise-free truth: the odd one out of the most similar pair, by an independent loop.
    let cos = |i: i64, j: i64| {
        let (x, y) = (l.x.row(i as usize), l.x.row(j as usize));
        x.dot(&y) / (x.dot(&x).sqrt() * y.dot(&y).sqrt())
    };
    // Only triplets with a clear answer count: with sparse categories many triplets have three
    // near-zero similarities, where no judge can agree beyond chance.
    let truth: Vec<Option<i64>> = t
        .outer_iter()
        .map(|r| {
            let mut s = [
                (cos(r[0], r[1]), r[2]),
                (cos(r[0], r[2]), r[1]),
                (cos(r[1], r[2]), r[0]),
            ];
            s.sort_by(|a, b| b.0.total_cmp(&a.0));
            (s[0].0 - s[1].0 > 0.2).then_some(s[0].1)
        })
        .collect();
    let decisive = truth.iter().flatten().count() as f64;
    assert!(decisive > 500.0, "{decisive} decisive triplets");
    let agree = |c: &Array2<i64>| {
        c.column(2)
            .iter()
            .zip(&truth)
            .filter(|(a, b)| Some(**a) == **b)
            .count() as f64
            / decisive
    };
    let agreement =
        |temp: f64, seed: u64| agree(&choose(l.x.view(), t.view(), temp, seed, &ctx).unwrap());
    let (hot, warm, cold) = (agreement(1.0, 1), agreement(0.1, 1), agreement(0.01, 1));
    assert!(
        hot < warm && warm < cold,
        "agreement {hot} -> {warm} -> {cold}"
    );
    assert!(hot < 0.6 && cold > 0.85, "{hot} {cold}");
    // Repeat queries vary, and the compressed agent agrees less than the full one.
    let a = choose(l.x.view(), t.view(), 0.1, 1, &ctx).unwrap();
    let b = choose(l.x.view(), t.view(), 0.1, 2, &ctx).unwrap();
    let same = a
        .outer_iter()
        .zip(b.outer_iter())
        .filter(|(x, y)| x == y)
        .count();
    assert!(same < 4000 && same > 2000, "repeat agreement {same}");
    let llm = compressed(l.x.view(), 4, 1);
    let c = choose(llm.view(), t.view(), 0.01, 1, &ctx).unwrap();
    let llm_agree = agree(&c);
    assert!(llm_agree < cold, "compressed {llm_agree} vs full {cold}");
}

#[test]
fn choose_rejects_bad_triplets() {
    let l = latent(10, 3, 0.3, 1);
    let t = ndarray::arr2(&[[0i64, 1, 10]]);
    let e = choose(l.x.view(), t.view(), 0.1, 1, &Ctx::detached())
        .unwrap_err()
        .to_string();
    assert!(e.contains("out of range"), "{e}");
}

fn small_world(seed: u64, subjects: i64, stimuli: i64, grid: [i64; 3]) -> Value {
    let mut o = Map::new();
    o.insert("stimuli".into(), Value::Int(stimuli));
    o.insert("subjects".into(), Value::Int(subjects));
    o.insert(
        "grid".into(),
        Value::List(grid.iter().map(|&g| Value::Int(g)).collect()),
    );
    o.insert("seed".into(), Value::Int(seed as i64));
    plugin().call("world", &[], &o, &Ctx::detached()).unwrap()
}

/// Solve (A + lambda I) X = B by Gauss-Jordan elimination (test-only, small systems).
fn ridge_solve(a: &Array2<f64>, b: &Array2<f64>, lambda: f64) -> Array2<f64> {
    let n = a.nrows();
    let mut m = a.clone();
    for i in 0..n {
        m[[i, i]] += lambda;
    }
    let mut x = b.clone();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| m[[i, col]].abs().total_cmp(&m[[j, col]].abs()))
            .unwrap();
        for j in 0..n {
            m.swap([col, j], [piv, j]);
        }
        for j in 0..x.ncols() {
            x.swap([col, j], [piv, j]);
        }
        let d = m[[col, col]];
        for j in 0..n {
            m[[col, j]] /= d;
        }
        for j in 0..x.ncols() {
            x[[col, j]] /= d;
        }
        for i in 0..n {
            if i != col {
                let f = m[[i, col]];
                if f != 0.0 {
                    for j in 0..n {
                        m[[i, j]] -= f * m[[col, j]];
                    }
                    for j in 0..x.ncols() {
                        x[[i, j]] -= f * x[[col, j]];
                    }
                }
            }
        }
    }
    x
}

/// Mean split-half prediction r of the voxels in each ROI, from the latent space.
fn roi_prediction(x: &Array2<f64>, y: &Array2<f64>, roi: &[i64]) -> Vec<f64> {
    let n = x.nrows();
    let (tr, te): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 2 == 0);
    let xt = x.select(Axis(0), &tr);
    let yt = y.select(Axis(0), &tr);
    let (xm, ym) = (
        xt.mean_axis(Axis(0)).unwrap(),
        yt.mean_axis(Axis(0)).unwrap(),
    );
    let (xc, yc) = (&xt - &xm, &yt - &ym);
    let beta = ridge_solve(&xc.t().dot(&xc), &xc.t().dot(&yc), 1.0);
    let pred = (&x.select(Axis(0), &te) - &xm).dot(&beta);
    let obs = y.select(Axis(0), &te);
    let r: Vec<f64> = (0..y.ncols())
        .map(|v| emoscope_sdk::stats::pearson(&pred.column(v).to_vec(), &obs.column(v).to_vec()))
        .collect();
    (0..fmri::ROIS.len())
        .map(|k| {
            let vals: Vec<f64> = r
                .iter()
                .zip(roi)
                .filter(|(_, &g)| g == k as i64)
                .map(|(v, _)| *v)
                .collect();
            if vals.len() < 5 {
                f64::NAN
            } else {
                vals.iter().sum::<f64>() / vals.len() as f64
            }
        })
        .collect()
}

#[test]
fn signal_rois_encode_the_latent_space_and_no_signal_rois_do_not() {
    let w = small_world(3, 1, 240, [24, 28, 24]);
    let x = w
        .get("truth")
        .unwrap()
        .get("X")
        .unwrap()
        .as_tensor()
        .unwrap()
        .matrix::<f64>("X")
        .unwrap()
        .to_owned();
    let s = &w.get("subjects").unwrap().as_list().unwrap()[0];
    let y = s
        .get("data")
        .unwrap()
        .as_tensor()
        .unwrap()
        .matrix::<f64>("data")
        .unwrap()
        .to_owned();
    let roi = s
        .get("roi_index")
        .unwrap()
        .as_tensor()
        .unwrap()
        .to_i64()
        .unwrap()
        .iter()
        .copied()
        .collect::<Vec<_>>();
    assert!(y.ncols() > 5000, "voxels: {}", y.ncols());
    let observed = roi_prediction(&x, &y, &roi);
    // Chance by permutation: the same procedure with the stimulus rows of Y shuffled.
    let mut rng = Rng::seed_from_u64(9);
    let mut null_max = vec![f64::NEG_INFINITY; fmri::ROIS.len()];
    for _ in 0..19 {
        let mut perm: Vec<usize> = (0..240).collect();
        for i in (1..240).rev() {
            perm.swap(i, rng.random_range(0..=i));
        }
        let yp = y.select(Axis(0), &perm);
        for (k, v) in roi_prediction(&x, &yp, &roi).into_iter().enumerate() {
            null_max[k] = null_max[k].max(v);
        }
    }
    for (k, def) in fmri::ROIS.iter().enumerate() {
        if observed[k].is_nan() {
            continue;
        }
        eprintln!(
            "{:<14} signal {:.1}: mean split-half r {:+.3}, permutation max {:+.3}",
            def.name, def.signal, observed[k], null_max[k]
        );
        if def.signal > 0.0 {
            assert!(
                observed[k] > null_max[k],
                "{}: r = {} not above chance {}",
                def.name,
                observed[k],
                null_max[k]
            );
        } else {
            assert!(
                observed[k] <= null_max[k],
                "{}: r = {} above chance {} without signal",
                def.name,
                observed[k],
                null_max[k]
            );
        }
    }
    let tested_no_signal = fmri::ROIS
        .iter()
        .enumerate()
        .filter(|(k, d)| d.signal == 0.0 && !observed[*k].is_nan())
        .count();
    assert!(
        tested_no_signal >= 2,
        "no-signal ROIs tested: {tested_no_signal}"
    );
}

#[test]
fn world_is_deterministic_and_ranks_models() {
    let (a, b, c) = (
        small_world(5, 2, 60, [12, 14, 12]),
        small_world(5, 2, 60, [12, 14, 12]),
        small_world(6, 2, 60, [12, 14, 12]),
    );
    let data = |w: &Value, s: usize| {
        w.get("subjects").unwrap().as_list().unwrap()[s]
            .get("data")
            .unwrap()
            .as_tensor()
            .unwrap()
            .clone()
    };
    assert!(data(&a, 1).bit_equal(&data(&b, 1)).unwrap());
    assert!(!data(&a, 1).bit_equal(&data(&c, 1)).unwrap());
    assert!(
        !data(&a, 0).bit_equal(&data(&a, 1)).unwrap(),
        "subjects differ"
    );
    let truth = a.get("truth").unwrap();
    let ranking: Vec<&str> = truth
        .get("model_ranking")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ranking[0], "MLLM");
    let r2 = truth.get("model_r2").unwrap();
    assert!((r2.get("MLLM").unwrap().as_f64().unwrap() - 1.0).abs() < 1e-9);
    for m in ["LLM", "Human-category", "Human-dimension"] {
        let v = r2.get(m).unwrap().as_f64().unwrap();
        assert!((0.0..1.0).contains(&v), "{m}: {v}");
    }
}

#[test]
fn written_nifti_loads_back_with_the_same_values_and_affine() {
    let w = small_world(7, 1, 20, [10, 12, 10]);
    let dir = tempfile::tempdir().unwrap();
    let mut o = Map::new();
    o.insert("nifti".into(), Value::Bool(true));
    let files = plugin()
        .call(
            "write",
            &[w.clone(), Value::Str(dir.path().display().to_string())],
            &o,
            &Ctx::detached(),
        )
        .unwrap();
    assert!(files.as_list().unwrap().len() >= 6);
    let s = &w.get("subjects").unwrap().as_list().unwrap()[0];
    let data = s
        .get("data")
        .unwrap()
        .as_tensor()
        .unwrap()
        .matrix::<f32>("d")
        .unwrap();
    let coords = s
        .get("coords")
        .unwrap()
        .as_tensor()
        .unwrap()
        .matrix::<i64>("c")
        .unwrap();
    let affine = s
        .get("affine")
        .unwrap()
        .as_tensor()
        .unwrap()
        .matrix::<f64>("a")
        .unwrap();
    let bold = emoscope_sdk::io::nifti::read_nifti(&dir.path().join("sub-01/bold.nii.gz")).unwrap();
    assert_eq!(bold.affine, affine.to_owned());
    assert_eq!(bold.data.shape(), vec![10, 12, 10, 20]);
    let vol = bold.data.to_f32().unwrap();
    for c in (0..coords.nrows()).step_by(7) {
        for t in 0..20 {
            let (i, j, k) = (
                coords[[c, 0]] as usize,
                coords[[c, 1]] as usize,
                coords[[c, 2]] as usize,
            );
            assert_eq!(vol[[i, j, k, t]].to_bits(), data[[t, c]].to_bits());
        }
    }
    let labels =
        emoscope_sdk::io::nifti::read_nifti(&dir.path().join("sub-01/rois.nii.gz")).unwrap();
    let roi = s
        .get("roi_index")
        .unwrap()
        .as_tensor()
        .unwrap()
        .to_i64()
        .unwrap();
    let lab = labels.data.to_i64().unwrap();
    for c in 0..coords.nrows() {
        assert_eq!(
            lab[[
                coords[[c, 0]] as usize,
                coords[[c, 1]] as usize,
                coords[[c, 2]] as usize
            ]],
            roi[c] + 1
        );
    }
    // The npz holds the BData-like matrix.
    let npz = emoscope_sdk::io::npy::read_npz(&dir.path().join("sub-01.npz")).unwrap();
    assert!(npz["data"]
        .as_tensor()
        .unwrap()
        .bit_equal(s.get("data").unwrap().as_tensor().unwrap())
        .unwrap());
    assert!(npz.contains_key("roi_STS"));
}
