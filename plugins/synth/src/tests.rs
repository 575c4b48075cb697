use super::*;

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
    let means = column_means(r.categories.view());
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
    let mut rng = ChaCha::seed_from_u64(3);
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
