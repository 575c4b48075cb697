//! The dataset's behaviour (alignment, z-scoring, NaN policy, loaders, the Value and BData
//! forms) and that reading, writing and unchanged results share the matrix instead of copying it.
use super::dataset::*;
use super::format::affines_close;
use super::ops::zscore_f64_reference;
use crate::io::nifti::Volume;
use crate::tensor::{CpuData, Tensor};
use crate::value::Value;
use ndarray::{arr2, Array2, Array3, Array4, ShapeBuilder};

fn small() -> Dataset {
    // 4 rows, 3 voxels on a 2×2×2 grid.
    Dataset {
        name: "s".into(),
        data: arr2(&[
            [1.0, 2.0, 5.0],
            [3.0, 4.0, 5.0],
            [5.0, 0.0, 5.0],
            [7.0, 1.0, 5.0],
        ])
        .into_shared(),
        coords: arr2(&[[0, 0, 0], [1, 0, 1], [1, 1, 1]]).into_shared(),
        shape: [2, 2, 2],
        affine: Array2::eye(4),
        rois: vec![
            ("A".into(), vec![true, true, false]),
            ("B".into(), vec![false, false, true]),
        ],
        stimuli: vec!["b".into(), "a".into(), "b".into(), "c".into()],
        runs: Some(vec![1, 1, 2, 2]),
    }
}

#[test]
fn align_averages_repeats_in_the_given_order() {
    let d = small();
    let s: Vec<String> = ["c", "b", "a"].iter().map(|x| x.to_string()).collect();
    let a = d.align(&s).unwrap();
    // c = row 3; b = mean of rows 0 and 2; a = row 1.
    assert_eq!(
        a.data,
        arr2(&[[7.0, 1.0, 5.0], [3.0, 1.0, 5.0], [3.0, 4.0, 5.0]])
    );
    assert_eq!(a.stimuli, s);
    assert_eq!(a.runs, None, "b's rows come from runs 1 and 2");
    let one = d.align(&["a".to_string(), "c".to_string()]).unwrap();
    assert_eq!(one.runs, Some(vec![1, 2]));
    let e = d
        .align(&["a".into(), "x".into(), "y".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("2 of the 3 stimuli") && e.contains("'x', 'y'"),
        "{e}"
    );
}

#[test]
fn zscore_gives_mean_0_sd_1_and_names_constant_voxels() {
    let d = small();
    let e = d.zscore(Constant::Error).unwrap_err().to_string();
    assert!(
        e.contains("voxel 2 at (i, j, k) = (1, 1, 1)") && e.contains("constant"),
        "{e}"
    );
    let z = d.zscore(Constant::Zero).unwrap();
    for c in 0..2 {
        let col = z.data.column(c);
        let m: f64 = col.iter().map(|&x| x as f64).sum::<f64>() / 4.0;
        let v: f64 = col.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / 4.0;
        assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5, "{m} {v}");
    }
    assert!(z.data.column(2).iter().all(|&x| x == 0.0));
    // Hand value: column 0 = 1, 3, 5, 7: mean 4, population sd sqrt(5).
    assert!((z.data[[0, 0]] as f64 - (-3.0 / 5f64.sqrt())).abs() < 1e-6);
}

#[test]
fn nan_voxels_are_reported_or_dropped() {
    let mut d = small();
    d.data[[2, 1]] = f32::NAN;
    let e = d
        .clone()
        .check_nan(NanPolicy::Error)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("1 of 3 voxels") && e.contains("(1, 0, 1)") && e.contains("nan: \"drop\""),
        "{e}"
    );
    let dropped = d.check_nan(NanPolicy::Drop).unwrap();
    assert_eq!(dropped, 1);
    assert_eq!(d.n_voxels(), 2);
    assert_eq!(d.coords, arr2(&[[0, 0, 0], [1, 1, 1]]));
    assert_eq!(d.rois[0].1, vec![true, false]);
}

fn vol4(shape: [usize; 4]) -> Volume {
    let a = Array4::<f32>::from_shape_fn(shape, |(i, j, k, t)| {
        1.0 + (i * 100 + j * 10 + k) as f32 + t as f32 * 0.5
    });
    Volume {
        data: Tensor::from_array(a),
        affine: Array2::eye(4),
    }
}

#[test]
fn nifti_mask_shape_mismatch_and_empty_roi_are_errors() {
    let series = vol4([3, 4, 5, 2]);
    let bad_mask = Volume {
        data: Tensor::from_array(Array3::<u8>::ones((3, 4, 6))),
        affine: Array2::eye(4),
    };
    let e = Dataset::from_nifti("s", &[series], Some(&bad_mask), NiftiRois::None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[3, 4, 6]") && e.contains("[3, 4, 5]"), "{e}");

    let series = vol4([3, 4, 5, 2]);
    let mut m = Array3::<u8>::zeros((3, 4, 5));
    m[[0, 1, 2]] = 1;
    m[[2, 3, 4]] = 1;
    let mask = Volume {
        data: Tensor::from_array(m),
        affine: Array2::eye(4),
    };
    let mut labels = Array3::<i64>::zeros((3, 4, 5));
    labels[[0, 1, 2]] = 1;
    labels[[1, 1, 1]] = 2; // outside the mask
    let rois = NiftiRois::Labels {
        volume: Volume {
            data: Tensor::from_array(labels.clone()),
            affine: Array2::eye(4),
        },
        names: vec![(1, "V1".into()), (2, "FFA".into())],
    };
    let e = Dataset::from_nifti("s", std::slice::from_ref(&series), Some(&mask), rois)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'FFA'") && e.contains("no voxels"), "{e}");
    let rois = NiftiRois::Labels {
        volume: Volume {
            data: Tensor::from_array(labels),
            affine: Array2::eye(4),
        },
        names: vec![(1, "V1".into())],
    };
    let d = Dataset::from_nifti("s", &[series], Some(&mask), rois).unwrap();
    assert_eq!(d.data.dim(), (2, 2));
    assert_eq!(d.coords, arr2(&[[0, 1, 2], [2, 3, 4]]));
    assert_eq!(d.data[[1, 1]], 1.0 + 234.0 + 0.5);
    assert_eq!(d.rois, vec![("V1".to_string(), vec![true, false])]);
    assert_eq!(d.stimuli, vec!["0", "1"]);
}

#[test]
fn value_round_trip_and_volume() {
    let d = small();
    let back = Dataset::from_value(&d.to_value()).unwrap();
    assert_eq!(back.data, d.data);
    assert_eq!(back.coords, d.coords);
    assert_eq!(back.rois, d.rois);
    assert_eq!(back.stimuli, d.stimuli);
    assert_eq!(back.runs, d.runs);
    assert_eq!(back.shape, d.shape);
    let vol = d.to_volume(&[1.0, 2.0, 3.0], f32::NAN).unwrap();
    assert_eq!(vol[[1, 0, 1]], 2.0);
    assert!(vol[[0, 1, 0]].is_nan());
    let e = d.to_volume(&[1.0], 0.0).unwrap_err().to_string();
    assert!(e.contains("1 values for 3 voxels"), "{e}");
    let t = d.roi_table(&[1.0, 3.0, 10.0]).unwrap();
    assert_eq!(t.n_voxels, vec![2, 1]);
    assert_eq!(t.mean, vec![2.0, 10.0]);
    assert_eq!(t.median, vec![2.0, 10.0]);
    assert_eq!(t.max, vec![3.0, 10.0]);
    let mut e = d.clone();
    e.rois.push(("C".into(), vec![false; 3]));
    let msg = e.roi("C").unwrap_err().to_string();
    assert!(msg.contains("'C' has no voxels"), "{msg}");
    let msg = e.roi("Z").unwrap_err().to_string();
    assert!(msg.contains("'A'") && msg.contains("'B'"), "{msg}");
    let msg = e.roi_table(&[0.0; 3]).unwrap_err().to_string();
    assert!(msg.contains("'C'"), "{msg}");
    let mut bad = d.to_value();
    if let Value::Map(m) = &mut bad {
        m.insert("stimuli".into(), Value::List(vec![Value::from("x")]));
    }
    let msg = Dataset::from_value(&bad).unwrap_err().to_string();
    assert!(msg.contains("1 stimulus labels for 4 rows"), "{msg}");
}

#[test]
fn bdata_form_round_trips_and_reads_mm_coordinates() {
    let mut d = small();
    d.affine = arr2(&[
        [-3.0, 0.0, 0.0, 90.0],
        [0.0, 3.0, 0.0, -126.0],
        [0.0, 0.0, 3.0, -72.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);
    let b = d.to_bdata().unwrap();
    assert_eq!(b.columns_of("VoxelData"), vec![0, 1, 2]);
    assert_eq!(b.columns_of("stimulus_name"), vec![3]);
    assert_eq!(b.columns_of("Run"), vec![4]);
    assert_eq!(
        b.vmap["stimulus_name"],
        vec![
            (1.0, "b".to_string()),
            (2.0, "a".to_string()),
            (3.0, "c".to_string())
        ]
    );
    let mut notes = Vec::new();
    let back = Dataset::from_bdata("s", &b, None, None, &mut notes).unwrap();
    assert_eq!(back.data, d.data);
    assert_eq!(back.coords, d.coords);
    assert_eq!(back.affine, d.affine);
    assert_eq!(back.shape, d.shape);
    assert_eq!(back.rois, d.rois);
    assert_eq!(back.stimuli, d.stimuli);
    assert_eq!(back.runs, d.runs);
    assert!(notes.is_empty(), "{notes:?}");

    // Both indices and mm, no header (as bdpy writes): the affine is fitted, given four
    // voxels that are not in one plane; with three it cannot be, which is said.
    let mut both = b.clone();
    both.header.clear();
    let back = Dataset::from_bdata("s", &both, None, None, &mut notes).unwrap();
    assert_eq!(back.affine, Array2::<f64>::eye(4));
    assert_eq!(notes.len(), 1, "{notes:?}");
    notes.clear();
    let mut d4 = d.clone();
    d4.data = arr2(&[
        [1.0, 2.0, 5.0, 0.5],
        [3.0, 4.0, 5.0, 1.5],
        [5.0, 0.0, 5.0, 2.5],
        [7.0, 1.0, 5.0, 3.5],
    ])
    .into_shared();
    d4.coords = arr2(&[[0, 0, 0], [1, 0, 1], [1, 1, 1], [0, 0, 1]]).into_shared();
    d4.rois = vec![("A".into(), vec![true, true, false, false])];
    let mut both = d4.to_bdata().unwrap();
    both.header.clear();
    let back = Dataset::from_bdata("s", &both, None, None, &mut notes).unwrap();
    assert!(
        affines_close(&back.affine, &d.affine)
            && (&back.affine - &d.affine).iter().all(|x| x.abs() < 1e-9),
        "{:?}",
        back.affine
    );
    assert_eq!(back.shape, d.shape, "the coordinates' extent");
    assert!(notes.is_empty(), "{notes:?}");

    // Only mm coordinates and no header: the grid is inferred from the spacing.
    let mut mm = b.clone();
    mm.header.clear();
    for k in ["voxel_i", "voxel_j", "voxel_k"] {
        let r = mm.key_index(k).unwrap();
        mm.keys[r] = format!("old_{k}_unused");
        mm.values.row_mut(r).fill(f64::NAN);
    }
    mm.vmap.clear();
    let back = Dataset::from_bdata("s", &mm, None, Some(&["B".into()]), &mut notes).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    // x decreases with i (affine -3): the inferred grid has +3 mm steps from the minimum.
    assert_eq!(back.coords, arr2(&[[1, 0, 0], [0, 0, 1], [0, 1, 1]]));
    assert_eq!(
        back.stimuli,
        vec!["1", "2", "1", "3"],
        "numbers without a vmap"
    );
    assert_eq!(back.rois.len(), 1);
    let e = Dataset::from_bdata("s", &mm, None, Some(&["V9".into()]), &mut notes)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no ROI 'V9'") && e.contains("'A'"), "{e}");
}

/// The address of a tensor's f32 buffer.
fn f32_ptr(t: &Tensor) -> *const f32 {
    match t.cpu_data().unwrap() {
        CpuData::F32(a) => a.as_ptr(),
        other => panic!("not f32: {:?}", other.dtype()),
    }
}

fn tensor_of(v: &Value, k: &str) -> Tensor {
    v.as_map().unwrap()[k].to_tensor(k).unwrap()
}

#[test]
fn reading_writing_and_unchanged_results_share_the_matrix() {
    let d = small();
    let p = d.data.as_ptr();
    let v = d.to_value();
    assert_eq!(f32_ptr(&tensor_of(&v, "data")), p, "to_value shares");
    let back = Dataset::from_value(&v).unwrap();
    assert_eq!(back.data.as_ptr(), p, "from_value shares");
    assert_eq!(back.coords.as_ptr(), d.coords.as_ptr());
    assert_eq!(f32_ptr(&tensor_of(&Value::Map(d.to_npz()), "data")), p);

    // Aligning to the rows' own order (labels unique) changes nothing.
    let mut u = small();
    u.stimuli = vec!["w".into(), "x".into(), "y".into(), "z".into()];
    let same = u.align(&u.stimuli.clone()).unwrap();
    assert_eq!(same.data.as_ptr(), u.data.as_ptr());
    assert_eq!(same.runs, u.runs);
    assert_eq!(same.stimuli, u.stimuli);
    // A reorder is a change: a new matrix, the old one untouched.
    let order: Vec<String> = ["x", "w", "y", "z"].iter().map(|s| s.to_string()).collect();
    let swapped = u.align(&order).unwrap();
    assert_ne!(swapped.data.as_ptr(), u.data.as_ptr());
    assert_eq!(swapped.data.row(0), u.data.row(1));
    assert_eq!(u.data[[0, 0]], 1.0);
    // The same labels with a repeat are averaged, so the matrix changes even in file order.
    let repeats = d.align(&d.stimuli.clone()).unwrap();
    assert_ne!(repeats.data.as_ptr(), p);
    assert_eq!(repeats.data.row(0).to_vec(), vec![3.0, 1.0, 5.0]);

    // z-scoring writes one new matrix and shares the rest.
    let z = d.zscore(Constant::Zero).unwrap();
    assert_ne!(z.data.as_ptr(), p);
    assert_eq!(z.coords.as_ptr(), d.coords.as_ptr());

    // Keeping every voxel copies nothing.
    let mut all = d.clone();
    all.select_voxels(&[true, true, true]);
    assert_eq!(all.data.as_ptr(), p);
    // Writing through a shared handle copies first: the other dataset keeps its values.
    let mut w = d.clone();
    w.data[[0, 0]] = 100.0;
    assert_eq!(d.data[[0, 0]], 1.0);
}

#[test]
fn a_non_f32_matrix_is_converted_once() {
    let d = small();
    let mut v = d.to_value();
    if let Value::Map(m) = &mut v {
        let wide = Tensor::from_array(d.data.mapv(f64::from));
        m.insert("data".into(), Value::Tensor(wide));
    }
    let back = Dataset::from_value(&v).unwrap();
    assert_eq!(back.data, d.data);
}

/// Deterministic values with repeats, zeros and a wide range, so sums round.
fn noisy(n: usize, v: usize) -> Array2<f64> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    Array2::from_shape_fn((n, v), |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = (state >> 11) as f64 / (1u64 << 53) as f64;
        (x - 0.3) * 10f64.powi((state % 7) as i32 - 3)
    })
}

/// The f32 kernel gives the old kernel's numbers bit for bit: that kernel widened the f32
/// matrix with `mapv` and z-scored the f64 copy, whose column sums run in an order that depends
/// on the copy's layout, so every layout is checked.
#[test]
fn zscore_matches_the_f64_kernel_bit_for_bit_in_every_layout() {
    let same = |a: &Array2<f32>, b: &Array2<f64>| {
        a.dim() == b.dim()
            && a.iter()
                .zip(b.iter())
                .all(|(x, y)| x.to_bits() == (*y as f32).to_bits())
    };
    for (n, v) in [(37, 150), (37, 1), (2, 70), (9, 8)] {
        let wide = noisy(n, v);
        let narrow = wide.mapv(|x| x as f32);
        let name = |c: usize| format!("column {c}");
        // Row-major; column-major (a transposed buffer); a strided slice (not contiguous).
        let col_major = {
            let mut a = Array2::<f32>::zeros((n, v).f());
            a.assign(&narrow);
            a
        };
        let wider = Array2::from_shape_fn((n, 2 * v), |(r, c)| narrow[[r, c / 2]]);
        let strided = wider.slice(ndarray::s![.., ..;2]);
        for a in [narrow.view(), col_major.view(), strided] {
            let got = zscore(a, Constant::Zero, &name).unwrap();
            let want = zscore_f64_reference(a.mapv(f64::from).view(), Constant::Zero).unwrap();
            assert!(
                same(&got, &want),
                "f32 {n} × {v}, strides {:?}",
                a.strides()
            );
        }
        // f64 data is read as it is.
        let col_major64 = {
            let mut a = Array2::<f64>::zeros((n, v).f());
            a.assign(&wide);
            a
        };
        for a in [wide.view(), col_major64.view()] {
            let got = zscore(a, Constant::Zero, &name).unwrap();
            let want = zscore_f64_reference(a, Constant::Zero).unwrap();
            assert!(
                got.iter()
                    .zip(want.iter())
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "f64 {n} × {v}, strides {:?}",
                a.strides()
            );
        }
    }
    // The first bad column, in column order, is the one named.
    let mut a = noisy(5, 200);
    a.column_mut(150).fill(2.0);
    a[[3, 170]] = f64::NAN;
    let e = zscore(a.view(), Constant::Error, &|c| format!("column {c}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("column 150 has the same value (2)"), "{e}");
    let e = zscore(a.view(), Constant::Zero, &|c| format!("column {c}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("column 170 has NaN"), "{e}");
}

#[test]
fn policies_read_their_script_names() {
    use crate::step::Choice;
    assert_eq!(NanPolicy::from_name("drop").unwrap(), NanPolicy::Drop);
    assert_eq!(Constant::from_name("zero").unwrap(), Constant::Zero);
    let e = NanPolicy::from_name("skip").unwrap_err().to_string();
    assert!(
        e.contains("error (names the count") && e.contains("drop ("),
        "{e}"
    );
}
