//! The study's neural alignment end to end on the synthetic world (scripts/examples/brain.rhai
//! at a reduced scale): encoding and searchlight maps are high in the signal ROIs, the model with
//! the truest embedding ranks first, the encoding ranking follows the planted one, and the
//! FDR-significant voxels fall inside the signal ROIs.
use std::path::Path;
use std::process::Command;

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/examples")
        .join(name)
}

#[test]
fn synthetic_world_neural_alignment_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .args(["run"])
        .arg(example("brain.rhai"))
        .arg("--out")
        .arg(&out)
        .args([
            "--quiet",
            "--set",
            "stimuli=240",
            "--set",
            "subjects=4",
            "--set",
            "grid=16",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "brain.rhai failed:\n{stderr}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let truth: Vec<&str> = s["truth_ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(s["best"], truth[0]);
    let enc = |m: &str, k: &str| s["models"][m][k].as_f64().unwrap();
    // Encoding follows the planted ranking (explained variance of the latent space).
    for pair in truth.windows(2) {
        assert!(
            enc(pair[0], "encoding_signal") > enc(pair[1], "encoding_signal"),
            "{} should beat {}: {s}",
            pair[0],
            pair[1]
        );
    }
    let top = truth[0];
    assert!(
        enc(top, "encoding_signal") > enc(top, "encoding_no_signal") + 0.2,
        "{s}"
    );
    assert!(
        enc(top, "searchlight_signal") > enc(top, "searchlight_no_signal"),
        "{s}"
    );
    assert!(enc(top, "fdr_voxels") >= 20.0, "{s}");
    assert!(enc(top, "fdr_inside_signal") > 0.9, "{s}");
    assert!(
        s["voxel_compare"]["fraction_a_better"].as_f64().unwrap() > 0.6,
        "{s}"
    );
    // The brain maps and the group tables are written.
    for f in [
        "maps/sub-01_MLLM_encoding.nii.gz",
        "maps/sub-04_LLM_searchlight.nii.gz",
        "roi_rows.csv",
        "roi_pairs.csv",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let rows = std::fs::read_to_string(out.join("roi_rows.csv")).unwrap();
    assert!(
        rows.lines().count() == 1 + 2 * 4 * 15,
        "one row per metric × model × ROI"
    );
}

#[test]
fn shard_flag_is_the_default_shard_of_every_splitting_step() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.rhai");
    std::fs::write(
        &script,
        r#"
        let X = tensor::randn([60, 3], #{seed: 1});
        let Y = tensor::astype(tensor::randn([60, 600], #{seed: 2}), "f32");
        let e = encoding::ridge_cv(X, Y, #{alphas: [1.0, 10.0]});
        let whole = encoding::ridge_cv(X, Y, #{alphas: [1.0, 10.0], shard: "1/1"});
        io::save(#{shard: e.shard, voxels: e.voxels, r: e.r.to_list(), whole: whole.voxels}, out + "/e.json");
        "#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .arg("run")
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--shard", "2/3"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("e.json")).unwrap()).unwrap();
    // 600 voxels are 3 batches of 256, 256 and 88: shard 2/3 is the second batch.
    assert_eq!(v["shard"], "2/3");
    assert_eq!(v["voxels"], serde_json::json!([256, 512]));
    assert!(v["r"][0].is_null() && v["r"][300].is_f64() && v["r"][599].is_null());
    assert_eq!(
        v["whole"],
        serde_json::json!([0, 600]),
        "an explicit shard wins"
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["shard"], "2/3");
}
