//! The Hungarian matching against a brute force, and compare on a permuted copy.
use super::*;

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
