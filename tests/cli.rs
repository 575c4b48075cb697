//! End-to-end tests: scripts through the real `emoscope` binary.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
}

fn run_script(dir: &Path, text: &str, extra: &[&str]) -> Output {
    let script = dir.join("script.rhai");
    std::fs::write(&script, text).unwrap();
    let out = dir.join("out");
    bin()
        .arg("run")
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn data_dir() -> Option<PathBuf> {
    let d = emoscope_sdk::io::ratings::data_dir();
    if d.join("cowen_keltner_2017_ratings.csv").exists() {
        Some(d)
    } else {
        eprintln!(
            "SKIPPED: real data not found at {} (set EMOSCOPE_DATA)",
            d.display()
        );
        None
    }
}

#[test]
fn quickstart_runs_and_writes_outputs_and_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/quickstart.rhai");
    let o = bin()
        .args(["run", script, "--quiet", "--seed", "3", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "quickstart failed: {}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("related model"), "{stdout}");
    assert!(out.join("rsm_brain.npy").exists());
    let judged = std::fs::read_to_string(out.join("human_category.txt")).unwrap();
    assert_eq!(
        judged.lines().count(),
        300 * 299 / 2 * 3,
        "every pair × 3 judged"
    );
    let cmp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("rsa_compare.json")).unwrap())
            .unwrap();
    assert!(cmp["related"]["p"].as_f64().unwrap() < 0.05);
    let syn: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("synthetic_rsa.json")).unwrap())
            .unwrap();
    assert!(
        syn["rois"]["STS"]["full"]["r"].as_f64().unwrap()
            > syn["rois"]["STS"]["compressed"]["r"].as_f64().unwrap()
    );
    assert_eq!(syn["truth_model_ranking"][0], "MLLM");
    assert!(out.join("world/sub-01/bold.nii.gz").exists() && out.join("world/sub-02.npz").exists());
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["status"], "ok");
    assert_eq!(run["seed"], 3);
    assert_eq!(run["script_sha256"].as_str().unwrap().len(), 64);
    assert!(run["rng"].as_str().unwrap().contains("ChaCha8"));
    assert!(run["emoscope_version"].is_string());
    let calls = run["calls"].as_array().unwrap();
    assert!(calls
        .iter()
        .any(|c| c["function"] == "rsa::compare" && c["seconds"].as_f64().unwrap() >= 0.0));
    let plugins = run["plugins"].as_array().unwrap();
    assert!(plugins
        .iter()
        .any(|p| p["name"] == "rsa" && p["origin"] == "builtin"));
    let outputs = run["outputs"].as_array().unwrap();
    assert!(outputs
        .iter()
        .any(|f| f["path"].as_str().unwrap().ends_with("rsm_brain.npy")));
}

#[test]
fn set_values_are_typed_constants_and_inputs_are_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "a,b\n1,2\n3,4\n").unwrap();
    let o = run_script(
        dir.path(),
        r#"
        let t = io::load(path);
        io::save(#{n: type_of(n), x: type_of(x), flag: type_of(flag), name: name, sum: t.data.a.sum()}, out + "/types.json");
        "#,
        &[
            "--set",
            "n=3",
            "--set",
            "x=0.5",
            "--set",
            "flag=true",
            "--set",
            "name=abc",
            "--set",
            &format!("path={}", csv.display()),
            "--seed",
            "9",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("out");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("types.json")).unwrap()).unwrap();
    assert_eq!(v["n"], "i64");
    assert_eq!(v["x"], "f64");
    assert_eq!(v["flag"], "bool");
    assert_eq!(v["name"], "abc");
    assert_eq!(v["sum"], 4.0);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["set"]["n"], 3);
    assert_eq!(run["seed"], 9);
    let inputs = run["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1);
    let sum = Command::new("sha256sum").arg(&csv).output().unwrap();
    let want = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(inputs[0]["sha256"], want);
}

fn expect_error(script: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let o = run_script(dir.path(), script, &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "expected failure, stderr: {e}");
    assert!(!e.contains("panicked"), "must not panic: {e}");
    for n in needles {
        assert!(e.contains(n), "missing '{n}' in: {e}");
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/run.json")).unwrap())
            .unwrap();
    assert_eq!(run["status"], "error");
}

#[test]
fn unknown_option_names_position_function_and_valid_options() {
    expect_error(
        "let S = rsa::rsm(tensor::randn([5, 3]));\nlet c = rsa::compare(S, S, #{permutatons: 10});\n",
        &["script.rhai:2:", "rsa::compare", "unknown option 'permutatons'", "valid options: method, permutations, seed"],
    );
}

#[test]
fn wrong_argument_type_is_reported() {
    expect_error(
        "let x = 1;\nrsa::rsm(\"hello\");",
        &[
            "script.rhai:2:",
            "rsa::rsm: argument 1 (X) must be tensor, got string",
        ],
    );
    expect_error(
        "tensor::zeros([2], #{dtype: 3});",
        &["option 'dtype' must be string, got int"],
    );
    expect_error(
        "tensor::linspace(0.0, 1.0);",
        &["tensor::linspace: expected 3 positional argument(s) (start, end, n), got 2"],
    );
}

#[test]
fn shape_mismatch_is_reported_with_position() {
    expect_error(
        "let a = tensor::zeros([2, 3]);\nlet b = tensor::zeros([4]);\nlet c = a + b;",
        &[
            "script.rhai:3:",
            "shapes [2, 3] and [4] cannot be broadcast",
        ],
    );
    expect_error(
        "tensor::matmul(tensor::zeros([2, 3]), tensor::zeros([2, 3]));",
        &["inner dimensions differ"],
    );
}

#[test]
fn malformed_csv_and_truncated_npy_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "a,b\n1,2\n3\n").unwrap();
    expect_error(
        &format!("io::load({:?});", csv.display().to_string()),
        &["bad.csv:3:", "malformed row"],
    );
    let npy = dir.path().join("cut.npy");
    let make = run_script(
        dir.path(),
        &format!(
            "io::save(tensor::ones([50, 50]), {:?});",
            npy.display().to_string()
        ),
        &[],
    );
    assert!(make.status.success(), "{}", stderr(&make));
    let bytes = std::fs::read(&npy).unwrap();
    std::fs::write(&npy, &bytes[..bytes.len() / 2]).unwrap();
    expect_error(
        &format!("io::load({:?});", npy.display().to_string()),
        &["cut.npy", "truncated .npy file"],
    );
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    expect_error(
        "let x = 1;\nlet y = (x + ;\n",
        &["script.rhai:2:", "syntax error"],
    );
}

#[test]
fn plugins_lists_every_namespace() {
    let o = bin().arg("plugins").output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    for needle in ["rsa", "builtin", "tensor", "io", "plot"] {
        assert!(s.contains(needle), "{s}");
    }
}

#[test]
fn real_ratings_through_a_script() {
    let Some(d) = data_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let o = run_script(
        dir.path(),
        &format!(
            r#"
            let r = io::ratings({:?}, #{{stimuli: {:?}}});
            let i10 = r.stimuli.index_of("0010.mp4");
            let i9 = r.stimuli.index_of("0009.mp4");
            let sd = r.category_names.index_of("Sexual Desire");
            let sad = r.category_names.index_of("Sadness");
            io::save(#{{cat: r.categories.shape, dim: r.dimensions.shape, sd10: r.categories[i10][sd], sad9: r.categories[i9][sad]}}, out + "/cells.json");
            "#,
            d.join("cowen_keltner_2017_ratings.csv")
                .display()
                .to_string(),
            d.join("stimuli_2180.txt").display().to_string()
        ),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/cells.json")).unwrap())
            .unwrap();
    assert_eq!(v["cat"], serde_json::json!([2180, 34]));
    assert_eq!(v["dim"], serde_json::json!([2180, 14]));
    assert!(v["sd10"].as_f64().unwrap() > 0.9);
    assert!((v["sad9"].as_f64().unwrap() - 0.67).abs() < 0.01);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/run.json")).unwrap())
            .unwrap();
    assert_eq!(
        run["inputs"].as_array().unwrap().len(),
        2,
        "ratings and stimulus list are both recorded"
    );
}

#[test]
fn ctrl_c_cancels_a_long_call_without_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("long.rhai");
    std::fs::write(
        &script,
        "let S = rsa::rsm(tensor::randn([40, 4], #{seed: 1}));\nlet c = rsa::compare(S, S, #{permutations: 200000000});\nio::save(c, out + \"/c.json\");\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut child = bin()
        .arg("run")
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sent = std::time::Instant::now();
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    assert!(took.as_secs_f64() < 3.0, "cancellation took {took:?}");
    assert_eq!(status.code(), Some(130));
    assert!(
        !out.join("c.json").exists(),
        "no output under its final name"
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["status"], "cancelled");
    assert!(run["calls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["status"] == "cancelled"));
}
