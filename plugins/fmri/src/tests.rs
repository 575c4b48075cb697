//! The migration kept what scripts see, and the namespace passes datasets as handles.
use crate::plugin;
use emoscope_sdk::tensor::CpuData;
use emoscope_sdk::{vmap, Ctx, FnSpec, Map, Plugin, Tensor, Ty, Value};
use ndarray::{arr2, Array2};

/// The function list as it was before the step contract (the text scripts and
/// docs/reference.md see): the derived specs must say the same.
fn old_specs() -> Vec<FnSpec> {
    const SECTION: &str = "Methods: fMRI data";
    vec![
        FnSpec::new("load", "Read one subject's fMRI data by extension into a dataset map. NIfTI: a 4-D series (t = stimulus) or a list of 3-D maps stacked as rows, with a mask (non-zero = in; without one, voxels with any non-zero value); voxels in i-j-k order. .npz: members data (stimuli × voxels), coords (voxels × 3, i j k), optional affine, shape, runs and roi_<name> flags (no grid: the mask's, else the coordinates' extent). .npy: the matrix, with coords. .h5/.hdf5: the Kamitani lab's BData (VoxelData columns, voxel_i/j/k or voxel_x/y/z, 0/1 ROI keys, stimulus_name through its vmap, Run); needs a build with --features hdf5. A voxel with NaN or infinite values is an error unless nan: \"drop\"; an ROI that was asked for and has no voxels in the mask is an error.")
            .param("path", Ty::Any, "file path (.nii, .nii.gz, .npz, .npy, .h5, .hdf5), or a list of 3-D NIfTI paths")
            .opt("mask", Ty::Str, "none", "a NIfTI mask in the data's space (non-zero = in); for npz/npy/h5 it gives the grid and affine, and every voxel must lie inside it")
            .opt("rois", Ty::Any, "none", "NIfTI only: an ROI label volume path (0 = none), or a map #{name: binary volume path}")
            .opt("roi_names", Ty::Any, "none", "with a label volume: a TSV (index<TAB>name, like synth's rois.tsv) or a list (label i+1 = i-th name); without names every label n present becomes label_<n>. For npz/h5: a list that selects and orders the ROIs")
            .opt("stimuli", Ty::Any, "row numbers (BData: stimulus_name)", "the label of each row, in file order: a list, or a file with one label per line (repeats allowed); the count must match the rows")
            .opt("nan", Ty::Str, "\"error\"", "voxels with NaN or infinite values: \"error\" (names the count and the first voxel) or \"drop\" (drops them and logs how many)")
            .opt("name", Ty::Str, "the file name without extension", "the subject's name")
            .opt("coords", Ty::Any, "none", ".npy only: the voxel coordinates (voxels × 3, i j k), a .npy path or a tensor")
            .returns("a dataset map #{name, data (stimuli × voxels, f32), coords (voxels × 3, i64), rois: #{name: u8 flags}, roi_names, affine (4 × 4), mask (u8, 3-D), grid, stimuli, runs (when known)}")
            .section(SECTION)
            .example("let s1 = fmri::load(\"sub-01/bold.nii.gz\", #{mask: \"sub-01/mask.nii.gz\", rois: \"sub-01/rois.nii.gz\", roi_names: \"sub-01/rois.tsv\", stimuli: \"stimuli.txt\"});"),
        FnSpec::new("subjects", "The subjects of a study as dataset maps: from a synth::world value (its subjects, each with stimuli set to the world's stimuli), or from a list of paths (each read as fmri::load does, with default options) and/or dataset maps (checked).")
            .param("source", Ty::Any, "a synth::world(...) value, or a list of paths or dataset maps")
            .opt("nan", Ty::Str, "\"error\"", "voxels with NaN or infinite values: \"error\" or \"drop\"")
            .returns("list of dataset maps")
            .section(SECTION)
            .example("let subs = fmri::subjects(synth::world(#{subjects: 2}));"),
        FnSpec::new("align", "Reorder a subject's rows to the study's stimulus order by label, averaging the repeated rows of a stimulus; labels not in the list are dropped. Every listed stimulus must have a row (the error names the missing ones). Runs are kept when each stimulus's rows come from one run.")
            .param("subject", Ty::Map, "a dataset map")
            .param("stimuli", Ty::Any, "a list of stimulus names or a stimulus-list file (one name per line)")
            .returns("the subject map with data (one row per listed stimulus), stimuli and runs replaced")
            .section(SECTION)
            .example("let s1 = fmri::align(s1, \"stimuli_2180.txt\");"),
        FnSpec::new("zscore", "Z-score each voxel (column) across stimuli: subtract the mean, divide by the population standard deviation (ddof 0). A constant voxel is an error naming it unless constant: \"zero\".")
            .param("x", Ty::Any, "a stimuli × voxels tensor, or a dataset map")
            .opt("constant", Ty::Str, "\"error\"", "a voxel whose values are all equal: \"error\" or \"zero\" (its column becomes 0)")
            .returns("the same kind as given: a tensor (same dtype), or the subject map with data replaced")
            .section(SECTION)
            .example("let s1 = fmri::zscore(s1);"),
        FnSpec::new("save_map", "Write a per-voxel vector (such as encoding accuracy) as a 3-D NIfTI brain map on the subject's grid with its affine (f32, written atomically).")
            .param("values", Ty::Tensor, "one value per voxel (the dataset's column order)")
            .param("subject", Ty::Map, "the dataset map the values belong to")
            .param("path", Ty::Str, ".nii or .nii.gz path (directories are created)")
            .opt("outside", Ty::Str, "\"nan\"", "the value outside the mask: \"nan\" (no data) or \"zero\"")
            .returns("the path written")
            .section(SECTION)
            .example("fmri::save_map(r, s1, out + \"/accuracy_sub-01.nii.gz\");"),
        FnSpec::new("roi_table", "Summarise a per-voxel vector per ROI: the number of voxels and the mean, median and max (NaN values left out; an ROI whose values are all NaN gets NaN). An ROI without voxels is an error.")
            .param("values", Ty::Tensor, "one value per voxel")
            .param("subject", Ty::Map, "the dataset map (its rois)")
            .opt("path", Ty::Str, "none", "also write the table: .csv or .tsv")
            .returns("#{columns: [\"roi\", \"n_voxels\", \"mean\", \"median\", \"max\"], data: #{roi: [...], n_voxels, mean, median, max}}")
            .section(SECTION)
            .example("let t = fmri::roi_table(r, s1, #{path: out + \"/roi_accuracy.csv\"});"),
        FnSpec::new("save", "Write a dataset: .npz (data, coords, affine, shape, runs, roi_<name> flags; npz holds numbers only, so the stimulus labels are not kept) or .h5/.hdf5 (BData, readable by bdpy: VoxelData, voxel_i/j/k, voxel_x/y/z in mm, one 0/1 key per ROI, stimulus_name with its vmap, Run; needs --features hdf5).")
            .param("subject", Ty::Map, "a dataset map")
            .param("path", Ty::Str, ".npz, .h5 or .hdf5 path")
            .returns("the path written")
            .section(SECTION)
            .example("fmri::save(s1, out + \"/sub-01.h5\");"),
        FnSpec::new("roi", "One ROI's voxel flags. An unknown name is an error listing the known ROIs; an ROI without voxels is an error.")
            .param("subject", Ty::Map, "a dataset map")
            .param("name", Ty::Str, "the ROI's name")
            .returns("u8 tensor, one flag per voxel")
            .section(SECTION)
            .example("let v1 = fmri::roi(s1, \"visual_cortex\");"),
    ]
}

#[test]
fn the_specs_are_those_scripts_saw_before() {
    let new = plugin().info().functions;
    let old = old_specs();
    assert_eq!(new.len(), old.len());
    for (n, o) in new.iter().zip(&old) {
        assert_eq!(n.signature("fmri"), o.signature("fmri"));
        // Everything but the choices, which only the new specs list.
        let mut n = n.clone();
        for opt in &mut n.options {
            opt.choices.clear();
        }
        assert_eq!(format!("{n:?}"), format!("{o:?}"), "{}", o.name);
    }
    let zscore = &new[3].options[0];
    let names: Vec<&str> = zscore.choices.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["error", "zero"]);
}

fn map(v: Value) -> Map {
    v.as_map().unwrap().clone()
}

fn call(f: &str, args: &[Value], options: Value) -> emoscope_sdk::Result<Value> {
    plugin().call(f, args, &map(options), &Ctx::detached())
}

fn subject() -> Value {
    vmap! {
        "name" => "s",
        "data" => Tensor::from_array(arr2(&[[1.0f32, 2.0], [3.0, 5.0], [4.0, 1.0]])),
        "coords" => Tensor::from_array(arr2(&[[0i64, 0, 0], [1, 0, 0]])),
        "stimuli" => Value::List(vec!["a".into(), "b".into(), "c".into()]),
        "rois" => vmap! {"A" => Tensor::from_array(ndarray::arr1(&[1u8, 0]))},
        "signal" => Tensor::from_array(ndarray::arr1(&[0.5f64, 0.25])),
    }
}

fn data_ptr(v: &Value) -> *const f32 {
    match v.as_map().unwrap()["data"]
        .as_tensor()
        .unwrap()
        .cpu_data()
        .unwrap()
    {
        CpuData::F32(a) => a.as_ptr(),
        other => panic!("data is {:?}", other.dtype()),
    }
}

#[test]
fn align_to_the_rows_own_order_shares_the_matrix_and_a_reorder_does_not() {
    let s = subject();
    let stimuli = Value::List(vec!["a".into(), "b".into(), "c".into()]);
    let same = call("align", &[s.clone(), stimuli], vmap! {}).unwrap();
    assert_eq!(data_ptr(&same), data_ptr(&s));
    assert!(
        same.as_map().unwrap().contains_key("signal"),
        "other keys are kept"
    );
    let order = Value::List(vec!["c".into(), "a".into()]);
    let moved = call("align", &[s.clone(), order], vmap! {}).unwrap();
    assert_ne!(data_ptr(&moved), data_ptr(&s));
    let d = moved.as_map().unwrap()["data"]
        .as_tensor()
        .unwrap()
        .to_f64()
        .unwrap();
    assert_eq!(
        d.into_dimensionality::<ndarray::Ix2>().unwrap(),
        arr2(&[[4.0, 1.0], [1.0, 2.0]])
    );
}

#[test]
fn zscore_keeps_a_float_dtype_and_agrees_between_map_and_tensor() {
    let s = subject();
    let z = call("zscore", std::slice::from_ref(&s), vmap! {}).unwrap();
    let from_map = z.as_map().unwrap()["data"].as_tensor().unwrap().clone();
    let t = s.as_map().unwrap()["data"].clone();
    let from_tensor = call("zscore", &[t], vmap! {}).unwrap();
    assert!(from_map
        .bit_equal(from_tensor.as_tensor().unwrap())
        .unwrap());
    let wide = Tensor::from_array(Array2::<f64>::from_shape_fn((3, 2), |(r, c)| {
        (r * r + c) as f64
    }));
    let z64 = call("zscore", &[Value::Tensor(wide)], vmap! {}).unwrap();
    assert_eq!(z64.as_tensor().unwrap().dtype(), emoscope_sdk::DType::F64);
    let ints = Tensor::from_array(arr2(&[[1i64, 2], [3, 5]]));
    let zi = call("zscore", &[Value::Tensor(ints)], vmap! {}).unwrap();
    assert_eq!(zi.as_tensor().unwrap().dtype(), emoscope_sdk::DType::F64);
}

#[test]
fn options_are_checked_by_the_contract() {
    let s = subject();
    let e = call(
        "zscore",
        std::slice::from_ref(&s),
        vmap! {"constant" => "maybe"},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("option 'constant'")
            && e.contains("'maybe' is not one of error (")
            && e.contains("zero (its column becomes 0)"),
        "{e}"
    );
    let e = call(
        "align",
        &[s.clone(), Value::List(vec![])],
        vmap! {"x" => 1i64},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unknown option 'x': this function takes no options"),
        "{e}"
    );
    let e = call("load", &["a.npz".into()], vmap! {"maks" => "m.nii"})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown option 'maks'; valid options: mask, rois"),
        "{e}"
    );
    let e = call(
        "save_map",
        &[Value::Null, s, "m.nii".into()],
        vmap! {"outside" => "one"},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("'one' is not one of nan (no data), zero"), "{e}");
}

#[test]
fn roi_table_and_save_map_read_the_subject_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let s = subject();
    let values = s.as_map().unwrap()["signal"].clone();
    let t = call("roi_table", &[values.clone(), s.clone()], vmap! {}).unwrap();
    let data = t.as_map().unwrap()["data"].as_map().unwrap().clone();
    assert_eq!(
        data["mean"].as_tensor().unwrap().to_vec_f64().unwrap(),
        vec![0.5]
    );
    let p = dir.path().join("m.nii");
    let out = call(
        "save_map",
        &[values, s, p.display().to_string().into()],
        vmap! {"outside" => "zero"},
    )
    .unwrap();
    assert_eq!(out.as_str(), Some(p.display().to_string().as_str()));
    let vol = emoscope_sdk::io::nifti::read_nifti(&p).unwrap();
    assert_eq!(vol.data.to_vec_f64().unwrap(), vec![0.5, 0.25]);
}
