//! Top stimuli and profiles read X directly.
use super::*;

#[test]
fn top_stimuli_and_profiles_index_x_directly() {
    let mut rng = Rng::seed_from_u64(5);
    let x = Array2::from_shape_fn((20, 4), |_| rng.random::<f64>());
    let names: Vec<Value> = (0..20).map(|i| Value::from(format!("s{i}"))).collect();
    let out = call(
        "top_stimuli",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"k" => 3usize, "names" => names},
    )
    .unwrap();
    let idx = out.get("index").unwrap().to_tensor("i").unwrap();
    assert_eq!(idx.dtype(), emoscope_sdk::tensor::DType::I64);
    let idx = idx.matrix::<i64>("i").unwrap();
    let w = mat(&out, "weight");
    assert_eq!(idx.dim(), (4, 3));
    let nm = out.get("names").unwrap().as_list().unwrap();
    for c in 0..4 {
        let mut col: Vec<(f64, usize)> = (0..20).map(|i| (x[[i, c]], i)).collect();
        col.sort_by(|a, b| b.0.total_cmp(&a.0));
        for t in 0..3 {
            assert_eq!(idx[[c, t]] as usize, col[t].1);
            assert_eq!(w[[c, t]], x[[col[t].1, c]]);
        }
        assert_eq!(
            strings(&nm[c]),
            (0..3).map(|t| format!("s{}", col[t].1)).collect::<Vec<_>>()
        );
    }
    let out = call(
        "top_stimuli",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {},
    )
    .unwrap();
    assert!(out.get("names").is_err());
    assert_eq!(mat(&out, "weight").dim(), (4, 10));
    // Ties go to the lower row.
    let t = ndarray::array![[1.0], [2.0], [2.0], [0.0]];
    let (i, _) = crate::profile::top_stimuli(t.view(), 3).unwrap();
    assert_eq!(i.row(0).to_vec(), vec![1, 2, 0]);

    let xv: Value = Tensor::from_array(x.clone()).into();
    let p = call(
        "profiles",
        vec![
            xv.clone(),
            Value::List(vec![3i64.into(), 0i64.into(), 19i64.into()]),
        ],
        vmap! {},
    )
    .unwrap();
    assert_eq!(i64s(p.get("stimuli").unwrap()), vec![3, 0, 19]);
    let pw = mat(&p, "weights");
    assert_eq!(pw.row(0), x.row(3));
    assert_eq!(pw.row(1), x.row(0));
    assert_eq!(pw.row(2), x.row(19));
    let p = call("profiles", vec![xv.clone(), 7i64.into()], vmap! {}).unwrap();
    assert_eq!(mat(&p, "weights").row(0), x.row(7));
}
