//! End-to-end tests of the `fmri::` namespace through the real `emoscope` binary: real NIfTI
//! files, a synthetic world written to disk and read back, brain maps, ROI tables, the errors
//! bad inputs give, and (feature `hdf5`) the BData round trip.
use emoscope_sdk::io::{nifti, npy};
use emoscope_sdk::{Tensor, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run_script(dir: &Path, text: &str) -> Output {
    let script = dir.join("script.rhai");
    std::fs::write(&script, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .arg("run")
        .arg(&script)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--quiet")
        .arg("--set")
        .arg(format!(
            "data={}",
            emoscope_sdk::io::ratings::data_dir().display()
        ))
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(dir: &Path, text: &str) -> PathBuf {
    let o = run_script(dir, text);
    assert!(o.status.success(), "script failed: {}", stderr(&o));
    dir.join("out")
}

fn expect_error(dir: &Path, script: &str, needles: &[&str]) {
    let o = run_script(dir, script);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "expected failure, stderr: {e}");
    assert!(!e.contains("panicked"), "must not panic: {e}");
    for n in needles {
        assert!(e.contains(n), "missing '{n}' in: {e}");
    }
}

fn json(p: PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn npy(p: PathBuf) -> Tensor {
    npy::read_npy(&p).unwrap()
}

fn npz(p: PathBuf) -> emoscope_sdk::Map {
    npy::read_npz(&p).unwrap()
}

fn tensor(v: &Value) -> &Tensor {
    v.as_tensor().unwrap()
}

/// The two real NIfTI files load with nibabel's shape and affine (values from nibabel 5,
/// `img.affine`, recorded here) and voxels in i-j-k order.
#[test]
fn real_nifti_files_load_with_nibabel_s_shape_and_affine() {
    let d = emoscope_sdk::io::ratings::data_dir().join("nifti");
    if !d.join("nitime_fmri1.nii.gz").exists() {
        eprintln!(
            "SKIPPED: {} not found (set EMOSCOPE_DATA to the shared data directory)",
            d.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = ok(
        dir.path(),
        r#"
        let a = fmri::load(data + "/nifti/nitime_fmri1.nii.gz");
        let b = fmri::load(data + "/nifti/nibabel_example4d.nii.gz");
        io::save(#{a: a.data.shape, a_grid: a.grid, b: b.data.shape, b_grid: b.grid,
                   a_name: a.name, a_stim: a.stimuli[39]}, out + "/shapes.json");
        io::save(a.affine, out + "/a_affine.npy");
        io::save(b.affine, out + "/b_affine.npy");
        io::save(a.data, out + "/a.npy");
        io::save(a.coords, out + "/a_coords.npy");
        io::save(b.data, out + "/b.npy");
        "#,
    );
    let s = json(out.join("shapes.json"));
    // nitime: 10 × 10 × 18, 40 volumes, every voxel non-zero; nibabel: 128 × 96 × 24 × 2 with
    // 114,865 voxels non-zero in some volume (nibabel: (d != 0).any(axis=3).sum()).
    assert_eq!(s["a"], serde_json::json!([40, 1800]));
    assert_eq!(s["a_grid"], serde_json::json!([10, 10, 18]));
    assert_eq!(s["b"], serde_json::json!([2, 114865]));
    assert_eq!(s["b_grid"], serde_json::json!([128, 96, 24]));
    assert_eq!(s["a_name"], "nitime_fmri1");
    assert_eq!(s["a_stim"], "39", "row-number labels");
    let nib_a = [
        [
            -2.0833280086517334,
            -0.004364801105111837,
            -0.0019200218375772238,
            96.9955062866211,
        ],
        [
            0.000812872196547687,
            0.4246859848499298,
            -2.2517049312591553,
            -30.810714721679688,
        ],
        [
            -0.004627675749361515,
            2.039583206176758,
            0.4688502550125122,
            -71.39714813232422,
        ],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let nib_b = [
        [
            -2.0,
            6.714715653593746e-19,
            9.081024511081715e-18,
            117.8551025390625,
        ],
        [
            -6.714715653593746e-19,
            1.9737114906311035,
            -0.35552823543548584,
            -35.72294235229492,
        ],
        [
            8.25548088896093e-18,
            0.3232076168060303,
            2.171081781387329,
            -7.248798370361328,
        ],
        [0.0, 0.0, 0.0, 1.0],
    ];
    for (file, want) in [("a_affine.npy", nib_a), ("b_affine.npy", nib_b)] {
        let got = npy(out.join(file)).to_f64().unwrap();
        for i in 0..4 {
            for j in 0..4 {
                assert!(
                    (got[[i, j]] - want[i][j]).abs() < 1e-6,
                    "{file}[{i},{j}] = {} vs nibabel {}",
                    got[[i, j]],
                    want[i][j]
                );
            }
        }
    }
    let a = npy(out.join("a.npy")).to_f64().unwrap();
    let coords = npy(out.join("a_coords.npy")).to_i64().unwrap();
    // Voxel (1, 2, 3) is column 1·180 + 2·18 + 3 = 219; nibabel: d[1, 2, 3, 0] = 575.
    assert_eq!(
        (coords[[219, 0]], coords[[219, 1]], coords[[219, 2]]),
        (1, 2, 3)
    );
    assert_eq!(a[[0, 219]], 575.0);
    assert_eq!(a.sum(), 49828854.0, "nibabel: d.sum()");
    assert_eq!(npy(out.join("b.npy")).to_f64().unwrap().sum(), 101985356.0);
}

const WORLD: &str = r#"
    let w = synth::world(#{stimuli: 12, subjects: 1, seed: 3});
    synth::write(w, out + "/world");
    let s = fmri::subjects(w)[0];
    let sub = out + "/world/sub-01";
"#;

/// A synthetic world written with synth::write loads back (NIfTI and npz) equal to the
/// in-memory subject; maps and ROI tables come out on the subject's grid.
#[test]
fn synth_world_round_trips_through_nifti_and_npz() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"{WORLD}
        let n = fmri::load(sub + "/bold.nii.gz", #{{mask: sub + "/mask.nii.gz", rois: sub + "/rois.nii.gz",
            roi_names: sub + "/rois.tsv", stimuli: w.stimuli, name: "sub-01"}});
        let z = fmri::load(out + "/world/sub-01.npz", #{{mask: sub + "/mask.nii.gz", roi_names: s.roi_names,
            stimuli: w.stimuli}});
        fmri::save(s, out + "/saved.npz");
        let r = fmri::load(out + "/saved.npz", #{{roi_names: s.roi_names, stimuli: w.stimuli, name: "sub-01"}});
        for k in ["data", "coords", "affine", "mask"] {{
            io::save(s[k], out + "/s_" + k + ".npy");
            io::save(n[k], out + "/n_" + k + ".npy");
            io::save(z[k], out + "/z_" + k + ".npy");
            io::save(r[k], out + "/r_" + k + ".npy");
        }}
        io::save(s.rois, out + "/s_rois.npz");
        io::save(n.rois, out + "/n_rois.npz");
        io::save(z.rois, out + "/z_rois.npz");
        io::save(r.rois, out + "/r_rois.npz");
        io::save(#{{s: [s.name, s.grid, s.roi_names, s.stimuli], n: [n.name, n.grid, n.roi_names, n.stimuli],
                   z: [z.name, z.grid, z.roi_names, z.stimuli], r: [r.name, r.grid, r.roi_names, r.stimuli]}}, out + "/meta.json");
        fmri::save_map(s.signal, s, out + "/signal.nii.gz");
        fmri::save_map(s.signal, s, out + "/signal0.nii", #{{outside: "zero"}});
        let t = fmri::roi_table(s.signal, s, #{{path: out + "/roi.csv"}});
        io::save(t.data, out + "/roi_table.json");
        io::save(fmri::roi(s, "TPJ"), out + "/tpj.npy");
        let a = fmri::align(s, [w.stimuli[3], w.stimuli[1]]);
        io::save(a.data, out + "/aligned.npy");
        let zs = fmri::zscore(s);
        io::save(zs.data, out + "/zscored.npy");
        io::save(fmri::zscore(s.data), out + "/zscored_tensor.npy");
        "#
    );
    let out = ok(dir.path(), &script);
    let meta = json(out.join("meta.json"));
    assert_eq!(
        meta["s"], meta["n"],
        "NIfTI: name, grid, ROI names and order, stimuli"
    );
    assert_eq!(meta["s"][0], "sub-01");
    assert_eq!(meta["s"][1], meta["z"][1], "npz: the grid from the mask");
    assert_eq!(meta["s"][2], meta["z"][2], "npz: ROIs ordered by roi_names");
    assert_eq!(meta["s"][3], meta["z"][3]);
    assert_eq!(meta["z"][0], "sub-01", "the name defaults to the file stem");
    for k in ["data", "coords", "affine", "mask"] {
        let s = npy(out.join(format!("s_{k}.npy")));
        for src in ["n", "z", "r"] {
            let t = npy(out.join(format!("{src}_{k}.npy")));
            assert!(s.bit_equal(&t).unwrap(), "{src}.{k} equals the subject's");
        }
    }
    let s_rois = npz(out.join("s_rois.npz"));
    assert_eq!(s_rois.len(), 15);
    for src in ["n", "z", "r"] {
        let r = npz(out.join(format!("{src}_rois.npz")));
        assert_eq!(r.len(), s_rois.len());
        for (k, v) in &s_rois {
            assert!(
                tensor(v).bit_equal(tensor(&r[k])).unwrap(),
                "{src}: ROI {k} flags"
            );
        }
    }

    // Brain maps: the subject's values at its voxels, NaN (or 0) elsewhere, its affine.
    let signal = npz(out.join("world/sub-01.npz"))["signal"]
        .to_tensor("signal")
        .unwrap()
        .to_f64()
        .unwrap();
    let coords = npy(out.join("s_coords.npy")).to_i64().unwrap();
    let affine = npy(out.join("s_affine.npy")).to_f64().unwrap();
    for (file, outside_nan) in [("signal.nii.gz", true), ("signal0.nii", false)] {
        let m = nifti::read_nifti(&out.join(file)).unwrap();
        assert_eq!(m.affine, affine.clone().into_dimensionality().unwrap());
        let v = m.data.to_f64().unwrap();
        let mut inside = ndarray::ArrayD::<bool>::from_elem(v.shape(), false);
        for c in 0..signal.len() {
            let ijk = [
                coords[[c, 0]] as usize,
                coords[[c, 1]] as usize,
                coords[[c, 2]] as usize,
            ];
            assert_eq!(v[[ijk[0], ijk[1], ijk[2]]], signal[[c]] as f32 as f64);
            inside[[ijk[0], ijk[1], ijk[2]]] = true;
        }
        let outside: Vec<f64> = v
            .iter()
            .zip(inside.iter())
            .filter(|(_, &i)| !i)
            .map(|(&x, _)| x)
            .collect();
        assert!(!outside.is_empty());
        assert!(
            outside
                .iter()
                .all(|&x| if outside_nan { x.is_nan() } else { x == 0.0 }),
            "{file}: NaN or 0 outside the mask"
        );
    }
    // ROI table: TPJ's count matches its flags, mean/median/max by hand.
    let t = json(out.join("roi_table.json"));
    let names = t["roi"].as_array().unwrap();
    let i = names.iter().position(|n| n == "TPJ").unwrap();
    let tpj = npy(out.join("tpj.npy")).to_f64().unwrap();
    let mut xs: Vec<f64> = (0..tpj.len())
        .filter(|&c| tpj[[c]] == 1.0)
        .map(|c| signal[[c]])
        .collect();
    assert_eq!(t["n_voxels"][i], xs.len());
    xs.sort_by(f64::total_cmp);
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    assert!((t["mean"][i].as_f64().unwrap() - mean).abs() < 1e-9);
    assert_eq!(t["max"][i].as_f64().unwrap(), *xs.last().unwrap());
    let csv = std::fs::read_to_string(out.join("roi.csv")).unwrap();
    assert!(csv.starts_with("roi,n_voxels,mean,median,max\n"), "{csv}");
    assert_eq!(csv.lines().count(), 16);

    // align: rows 3 and 1 in that order; zscore: mean 0, sd 1 per voxel, map and tensor agree.
    let data = npy(out.join("s_data.npy")).to_f64().unwrap();
    let a = npy(out.join("aligned.npy")).to_f64().unwrap();
    assert_eq!(a.shape(), &[2, data.shape()[1]]);
    assert_eq!(
        a.index_axis(ndarray::Axis(0), 0),
        data.index_axis(ndarray::Axis(0), 3)
    );
    assert_eq!(
        a.index_axis(ndarray::Axis(0), 1),
        data.index_axis(ndarray::Axis(0), 1)
    );
    let z = npy(out.join("zscored.npy"));
    assert!(z.bit_equal(&npy(out.join("zscored_tensor.npy"))).unwrap());
    let z = z.to_f64().unwrap();
    for c in [0, 17, z.shape()[1] - 1] {
        let col: Vec<f64> = (0..12).map(|r| z[[r, c]]).collect();
        let m = col.iter().sum::<f64>() / 12.0;
        let v = col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 12.0;
        assert!(
            m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5,
            "voxel {c}: {m} {v}"
        );
    }
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A mask on another grid.
    expect_error(
        d,
        &format!(
            r#"{WORLD}
            io::save(#{{data: tensor::zeros([5, 6, 7], #{{dtype: "u8"}}), affine: s.affine}}, out + "/m.nii.gz");
            fmri::load(sub + "/bold.nii.gz", #{{mask: out + "/m.nii.gz"}});"#
        ),
        &[
            "mask's shape [5, 6, 7]",
            "data's spatial shape [20, 24, 20]",
        ],
    );
    // Aligning to stimuli the data lacks.
    expect_error(
        d,
        &format!(r#"{WORLD} fmri::align(s, [w.stimuli[0], "ghost_1.mp4", "ghost_2.mp4"]);"#),
        &[
            "2 of the 3 stimuli have no rows",
            "'ghost_1.mp4', 'ghost_2.mp4'",
        ],
    );
    // An ROI named in the names table with no voxels.
    expect_error(
        d,
        &format!(
            r#"{WORLD}
            let names = s.roi_names; names.push("amygdala_extra");
            fmri::load(sub + "/bold.nii.gz", #{{mask: sub + "/mask.nii.gz", rois: sub + "/rois.nii.gz", roi_names: names}});"#
        ),
        &["'amygdala_extra'", "no voxels inside the mask"],
    );
    // An unknown ROI lists the known ones.
    expect_error(
        d,
        &format!(r#"{WORLD} fmri::roi(s, "V9");"#),
        &["no ROI named 'V9'", "'visual_cortex'"],
    );
    // Stimulus labels that do not match the rows.
    expect_error(
        d,
        &format!(
            r#"{WORLD} fmri::load(sub + "/bold.nii.gz", #{{mask: sub + "/mask.nii.gz", stimuli: ["a", "b"]}});"#
        ),
        &["2 stimulus labels given for 12 rows"],
    );
    // A typo in an option is an error, not a silent default.
    expect_error(
        d,
        &format!(r#"{WORLD} fmri::load(sub + "/bold.nii.gz", #{{maks: sub + "/mask.nii.gz"}});"#),
        &["maks"],
    );
    // NaN voxels: an error naming the count and the first voxel, or dropped on request.
    let nan_npz = r#"
        let nan = 0.0 / 0.0;
        io::save(#{data: tensor::from([[1.0, nan, 2.0], [3.0, 4.0, 5.0]]),
                   coords: tensor::from([[0, 0, 0], [1, 2, 3], [2, 2, 2]])}, out + "/nan.npz");
    "#;
    expect_error(
        d,
        &format!(r#"{nan_npz} fmri::load(out + "/nan.npz");"#),
        &["1 of 3 voxels have NaN", "(1, 2, 3)", "nan: \"drop\""],
    );
    let out = ok(
        d,
        &format!(
            r#"{nan_npz} let x = fmri::load(out + "/nan.npz", #{{nan: "drop"}});
            io::save(#{{shape: x.data.shape, grid: x.grid}}, out + "/dropped.json");"#
        ),
    );
    let j = json(out.join("dropped.json"));
    assert_eq!(j["shape"], serde_json::json!([2, 2]));
    assert_eq!(
        j["grid"],
        serde_json::json!([3, 3, 4]),
        "the coordinates' extent"
    );
    // A constant voxel cannot be z-scored unless asked.
    expect_error(
        d,
        "fmri::zscore(tensor::from([[1.0, 2.0], [1.0, 3.0]]));",
        &["column 0", "same value", "constant: \"zero\""],
    );
    #[cfg(not(feature = "hdf5"))]
    expect_error(
        d,
        &format!(r#"{WORLD} fmri::save(s, out + "/s.h5");"#),
        &["--features hdf5"],
    );
}

/// BData: a subject saved as HDF5 in bdpy's layout loads back exactly.
#[cfg(feature = "hdf5")]
#[test]
fn bdata_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"{WORLD}
        s.runs = tensor::from([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
        let st = s.stimuli; st[5] = st[0]; s.stimuli = st;
        fmri::save(s, out + "/s.h5");
        let b = fmri::load(out + "/s.h5", #{{name: "sub-01"}});
        for k in ["data", "coords", "affine", "mask", "runs"] {{
            io::save(s[k], out + "/s_" + k + ".npy");
            io::save(b[k], out + "/b_" + k + ".npy");
        }}
        io::save(s.rois, out + "/s_rois.npz");
        io::save(b.rois, out + "/b_rois.npz");
        io::save(#{{s: [s.name, s.grid, s.roi_names, s.stimuli], b: [b.name, b.grid, b.roi_names, b.stimuli]}}, out + "/meta.json");
        let raw = io::load(out + "/s.h5");
        io::save(#{{keys: raw.metadata.key, vmap: raw.vmap.stimulus_name, shape: raw.dataset.shape}}, out + "/raw.json");
        let v1 = fmri::load(out + "/s.h5", #{{roi_names: ["TPJ", "visual_cortex"]}});
        io::save(v1.roi_names, out + "/selected.json");
        "#
    );
    let out = ok(dir.path(), &script);
    for k in ["data", "coords", "affine", "mask"] {
        let s = npy(out.join(format!("s_{k}.npy")));
        let b = npy(out.join(format!("b_{k}.npy")));
        assert!(s.bit_equal(&b).unwrap(), "{k} survives exactly");
    }
    let runs = npy(out.join("b_runs.npy")).to_i64().unwrap();
    assert_eq!(
        runs.iter().copied().collect::<Vec<_>>(),
        vec![1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    );
    let (s, b) = (npz(out.join("s_rois.npz")), npz(out.join("b_rois.npz")));
    assert_eq!(s.len(), b.len());
    for (k, v) in &s {
        assert!(tensor(v).bit_equal(tensor(&b[k])).unwrap(), "ROI {k}");
    }
    let meta = json(out.join("meta.json"));
    assert_eq!(
        meta["s"], meta["b"],
        "name, grid, ROI order, labels (with a repeat)"
    );
    let raw = json(out.join("raw.json"));
    let keys: Vec<&str> = raw["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for k in [
        "VoxelData",
        "voxel_i",
        "voxel_x",
        "visual_cortex",
        "stimulus_name",
        "Run",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert_eq!(
        raw["vmap"].as_object().unwrap().len(),
        11,
        "11 distinct labels"
    );
    assert_eq!(raw["vmap"]["1"], meta["s"][3][0]);
    assert_eq!(
        json(out.join("selected.json")),
        serde_json::json!(["TPJ", "visual_cortex"])
    );
}
