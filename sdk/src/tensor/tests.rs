use super::*;

fn t(v: Vec<f64>, s: &[usize]) -> Tensor {
    Tensor::from_vec(v, s).unwrap()
}

#[test]
fn clone_is_shared_not_copied() {
    let a = t(vec![1.0; 1000], &[10, 100]);
    let b = a.clone();
    let (pa, pb) = (a.to_f64().unwrap().as_ptr(), b.to_f64().unwrap().as_ptr());
    assert_eq!(pa, pb);
}

#[test]
fn broadcasting_matches_explicit_loops() {
    let a = t((0..6).map(|x| x as f64).collect(), &[2, 3]);
    let b = t(vec![10.0, 20.0, 30.0], &[3]);
    let c = t(vec![100.0, 200.0], &[2, 1]);
    let ab = a.binary(&b, BinOp::Add).unwrap().to_vec_f64().unwrap();
    assert_eq!(ab, vec![10.0, 21.0, 32.0, 13.0, 24.0, 35.0]);
    let ac = a.binary(&c, BinOp::Mul).unwrap().to_vec_f64().unwrap();
    assert_eq!(ac, vec![0.0, 100.0, 200.0, 600.0, 800.0, 1000.0]);
}

#[test]
fn shape_mismatch_is_a_clear_error() {
    let a = t(vec![0.0; 6], &[2, 3]);
    let b = t(vec![0.0; 4], &[4]);
    let e = a.binary(&b, BinOp::Add).unwrap_err().to_string();
    assert!(
        e.contains("[2, 3]") && e.contains("[4]") && e.contains("broadcast"),
        "{e}"
    );
    let e = a.matmul(&a).unwrap_err().to_string();
    assert!(e.contains("inner dimensions"), "{e}");
}

#[test]
fn dtype_promotion() {
    let i = t(vec![1.0, 2.0], &[2]).astype(DType::I64);
    let f = t(vec![1.0, 2.0], &[2]).astype(DType::F32);
    assert_eq!(i.binary(&i, BinOp::Add).unwrap().dtype(), DType::I64);
    assert_eq!(i.binary(&i, BinOp::Div).unwrap().dtype(), DType::F64);
    assert_eq!(i.binary(&f, BinOp::Mul).unwrap().dtype(), DType::F32);
    assert_eq!(
        f.binary_scalar(2.5, false, BinOp::Mul, false)
            .unwrap()
            .dtype(),
        DType::F32
    );
    assert_eq!(
        i.binary_scalar(2.5, false, BinOp::Mul, false)
            .unwrap()
            .dtype(),
        DType::F64
    );
    let d = f
        .binary_scalar(1.0, false, BinOp::Sub, true)
        .unwrap()
        .to_vec_f64()
        .unwrap();
    assert_eq!(d, vec![0.0, -1.0]);
}

#[test]
fn matmul_matches_naive_including_vectors() {
    let a = t((0..12).map(|x| x as f64 * 0.5 - 2.0).collect(), &[3, 4]);
    let b = t((0..8).map(|x| (x as f64).sin()).collect(), &[4, 2]);
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.shape(), vec![3, 2]);
    let (a2, b2, c2) = (
        a.matrix::<f64>("a").unwrap(),
        b.matrix::<f64>("b").unwrap(),
        c.matrix::<f64>("c").unwrap(),
    );
    for i in 0..3 {
        for j in 0..2 {
            let want: f64 = (0..4).map(|k| a2[[i, k]] * b2[[k, j]]).sum();
            assert!((c2[[i, j]] - want).abs() < 1e-12);
        }
    }
    let v = t(vec![1.0, 0.0, 0.0, 1.0], &[4]);
    let av = a.matmul(&v).unwrap();
    assert_eq!(av.shape(), vec![3]);
    assert_eq!(
        av.to_vec_f64().unwrap(),
        vec![
            a2[[0, 0]] + a2[[0, 3]],
            a2[[1, 0]] + a2[[1, 3]],
            a2[[2, 0]] + a2[[2, 3]]
        ]
    );
    // A transposed view multiplies correctly (strides, not copies).
    let at = a.transpose().unwrap();
    assert_eq!(at.shape(), vec![4, 3]);
    let g = at.matmul(&a).unwrap().matrix::<f64>("g").unwrap();
    let want: f64 = (0..3).map(|k| a2[[k, 1]] * a2[[k, 2]]).sum();
    assert!((g[[1, 2]] - want).abs() < 1e-12);
}

#[test]
fn reductions_along_axes() {
    let a = t(vec![1.0, 5.0, 3.0, 4.0, 2.0, 6.0], &[2, 3]);
    assert_eq!(a.reduce(Reduce::Sum, None).unwrap().item().unwrap(), 21.0);
    assert_eq!(
        a.reduce(Reduce::Sum, Some(0))
            .unwrap()
            .to_vec_f64()
            .unwrap(),
        vec![5.0, 7.0, 9.0]
    );
    assert_eq!(
        a.reduce(Reduce::Mean, Some(-1))
            .unwrap()
            .to_vec_f64()
            .unwrap(),
        vec![3.0, 4.0]
    );
    assert_eq!(
        a.reduce(Reduce::Max, Some(1))
            .unwrap()
            .to_vec_f64()
            .unwrap(),
        vec![5.0, 6.0]
    );
    assert_eq!(
        a.reduce(Reduce::ArgMax, Some(1))
            .unwrap()
            .to_vec_f64()
            .unwrap(),
        vec![1.0, 2.0]
    );
    assert_eq!(a.reduce(Reduce::ArgMin, None).unwrap().item().unwrap(), 0.0);
    let s = a
        .reduce(Reduce::Std { ddof: 0 }, Some(1))
        .unwrap()
        .to_vec_f64()
        .unwrap();
    assert!((s[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
    let e = a.reduce(Reduce::Sum, Some(2)).unwrap_err().to_string();
    assert!(e.contains("axis 2 is out of range"), "{e}");
}

#[test]
fn sort_and_argsort_are_stable() {
    let a = t(vec![3.0, 1.0, 2.0, 1.0], &[4]);
    assert_eq!(
        a.argsort(-1, false).unwrap().to_vec_f64().unwrap(),
        vec![1.0, 3.0, 2.0, 0.0]
    );
    assert_eq!(
        a.argsort(-1, true).unwrap().to_vec_f64().unwrap(),
        vec![0.0, 2.0, 1.0, 3.0]
    );
    assert_eq!(
        a.sort(-1, false).unwrap().to_vec_f64().unwrap(),
        vec![1.0, 1.0, 2.0, 3.0]
    );
}

#[test]
fn indexing_slicing_and_joining() {
    let a = t((0..12).map(|x| x as f64).collect(), &[4, 3]);
    assert_eq!(
        a.index_axis(0, -1).unwrap().to_vec_f64().unwrap(),
        vec![9.0, 10.0, 11.0]
    );
    assert_eq!(
        a.index_axis(1, 0).unwrap().to_vec_f64().unwrap(),
        vec![0.0, 3.0, 6.0, 9.0]
    );
    assert_eq!(
        a.select(0, &[2, 0]).unwrap().to_vec_f64().unwrap(),
        vec![6.0, 7.0, 8.0, 0.0, 1.0, 2.0]
    );
    assert_eq!(a.slice_axis(0, 1, 3).unwrap().shape(), vec![2, 3]);
    assert_eq!(
        a.slice_axis(1, -2, 100).unwrap().to_vec_f64().unwrap()[..2],
        [1.0, 2.0]
    );
    let e = a.index_axis(0, 4).unwrap_err().to_string();
    assert!(
        e.contains("index 4 is out of range for axis 0 of length 4"),
        "{e}"
    );
    let c = Tensor::concat(&[a.clone(), a.clone()], 0).unwrap();
    assert_eq!(c.shape(), vec![8, 3]);
    let s = Tensor::stack(&[a.clone(), a.clone()], 0).unwrap();
    assert_eq!(s.shape(), vec![2, 4, 3]);
    let e = Tensor::concat(&[a.clone(), a.transpose().unwrap()], 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("incompatible"), "{e}");
}

#[test]
fn devices_parse_and_cpu_only_build_refuses_cuda() {
    assert_eq!("cuda:1".parse::<Device>().unwrap(), Device::Cuda(1));
    assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
    assert!("tpu".parse::<Device>().is_err());
    if !crate::HAS_TORCH {
        let e = t(vec![1.0], &[1])
            .to_device(Device::Cuda(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--features torch"), "{e}");
    }
}

#[test]
fn display_is_numpy_like_and_truncated() {
    let a = t((0..100).map(|x| x as f64).collect(), &[100]);
    let s = a.to_string();
    assert!(
        s.contains("...") && s.contains("shape=[100]") && s.contains("dtype=f64"),
        "{s}"
    );
    assert!(
        s.starts_with("tensor([0.0000, 1.0000, 2.0000, ..., 97.0000"),
        "{s}"
    );
}

#[cfg(feature = "torch")]
mod torch_backend {
    use super::*;

    #[test]
    fn round_trip_through_libtorch_is_bit_exact() {
        let base = t(
            vec![1.5, -0.0, f64::NAN, 1e-300, 3.0, f64::INFINITY],
            &[2, 3],
        );
        for dt in [DType::F32, DType::F64, DType::I64, DType::U8, DType::Bool] {
            let x = base.astype(dt);
            let on = x.to_device(Device::TorchCpu).unwrap();
            assert_eq!(on.device(), Device::TorchCpu);
            assert_eq!(on.dtype(), dt);
            let back = on.to_device(Device::Cpu).unwrap();
            assert!(back.bit_equal(&x).unwrap(), "{dt}");
        }
    }

    #[test]
    fn matmul_agrees_across_backends() {
        let a = t(
            (0..64 * 48)
                .map(|x| ((x * 7919) % 1000) as f64 / 500.0 - 1.0)
                .collect(),
            &[64, 48],
        )
        .astype(DType::F32);
        let b = t(
            (0..48 * 32)
                .map(|x| ((x * 104729) % 997) as f64 / 498.5 - 1.0)
                .collect(),
            &[48, 32],
        )
        .astype(DType::F32);
        let cpu = a.matmul(&b).unwrap().to_vec_f64().unwrap();
        let ta = a.to_device(Device::TorchCpu).unwrap();
        let tb = b.to_device(Device::TorchCpu).unwrap();
        let tc = ta.matmul(&tb).unwrap();
        assert_eq!(tc.device(), Device::TorchCpu);
        let gpu = tc.to_device(Device::Cpu).unwrap().to_vec_f64().unwrap();
        let scale = cpu.iter().map(|x| x.abs()).fold(0.0, f64::max);
        for (x, y) in cpu.iter().zip(&gpu) {
            assert!((x - y).abs() <= 1e-6 * scale, "{x} vs {y}");
        }
        let row = tb.transpose().unwrap().index_axis(0, 0).unwrap();
        let sum = ta
            .binary(&row, BinOp::Add)
            .unwrap()
            .to_device(Device::Cpu)
            .unwrap();
        let want = a
            .binary(&row.to_device(Device::Cpu).unwrap(), BinOp::Add)
            .unwrap();
        assert!(
            sum.bit_equal(&want).unwrap(),
            "broadcast add agrees bit for bit"
        );
        let e = ta.binary(&tb, BinOp::Add).unwrap_err().to_string();
        assert!(
            e.contains("cannot be broadcast"),
            "shape errors are ours, before libtorch: {e}"
        );
    }
}
