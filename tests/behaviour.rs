//! End-to-end tests of the behavioural steps (`triplets::`, `judge::`) through the binary:
//! file round trips, judgements, statistics, and the errors bad input gets.
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
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
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

#[test]
fn sample_judge_save_load_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_script(
        dir.path(),
        r#"
        let x = tensor::rand([30, 6], #{seed: 1});
        let all = triplets::sample_pairs(30, #{per_pair: 3, seed: 2});
        let j = judge::from_features(x, all, #{rule: "max_pair"});
        let back = #{};
        for f in ["j.txt", "j.npy"] {
            triplets::save(j, out + "/" + f);
            back[f] = tensor::equal(triplets::load(out + "/" + f, #{n_items: 30}), j);
        }
        triplets::save(j, out + "/c.npy", #{format: "compact"});
        back["compact"] = tensor::equal(triplets::load(out + "/c.npy"), j);
        let parts = triplets::split(j, #{test: 0.1, seed: 3});
        let b = triplets::position_bias(all, j);
        let self_ag = triplets::agreement(j, j).agreement;
        let dup = triplets::dedup(tensor::concat([all, all]));
        let own = triplets::dedup(all);
        io::save(#{n: all.shape[0], back: back, train: parts.train.shape[0], test: parts.test.shape[0],
                   counts: b.counts, self_ag: self_ag, removed: dup.removed, own: own.removed}, out + "/r.json");
        "#,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(dir.path().join("out/r.json"));
    assert_eq!(v["n"], 30 * 29 / 2 * 3);
    for f in ["j.txt", "j.npy", "compact"] {
        assert_eq!(v["back"][f], true, "{f} round trip");
    }
    assert_eq!(
        v["train"].as_i64().unwrap() + v["test"].as_i64().unwrap(),
        1305
    );
    assert_eq!(v["test"], 131, "round(0.1 × 1305)");
    let counts: Vec<i64> = v["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_i64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<i64>(), 1305);
    assert_eq!(v["self_ag"], 1.0);
    // Different pairs can draw the same item set ({0,1} + 5 and {0,5} + 1), so a doubled set
    // loses its copy of every row plus the sample's own repeats.
    assert_eq!(
        v["removed"].as_i64().unwrap(),
        1305 + v["own"].as_i64().unwrap()
    );
    // run.json records the triplet files written.
    let run = json(dir.path().join("out/run.json"));
    let outputs = run["outputs"].to_string();
    assert!(
        outputs.contains("j.txt") && outputs.contains("c.npy"),
        "{outputs}"
    );
}

#[test]
fn bad_triplet_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "range.txt",
            "0 1 2\n3 4 5\n1 2 40\n",
            "range.txt:3: index 40 in column 3 is out of range for 30 items",
        ),
        (
            "float.txt",
            "0 1 2\n3 4.5 5\n",
            "float.txt:2: column 2: '4.5' is not an integer index",
        ),
        (
            "word.txt",
            "0 1 two\n",
            "word.txt:1: column 3: 'two' is not an integer index",
        ),
        ("cols.txt", "0 1 2\n0 1\n", "cols.txt:2: expected 3 columns"),
    ];
    for (name, text, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        expect_error(
            dir.path(),
            &format!(
                "let n = 30;\nlet t = triplets::load({:?}, #{{n_items: n}});",
                p.display().to_string()
            ),
            &["script.rhai:2:", "triplets::load", needle],
        );
    }
    expect_error(
        dir.path(),
        "let x = tensor::rand([10, 4]);\nlet t = triplets::sample_pairs(12, #{seed: 1});\njudge::from_features(x, t);",
        &["script.rhai:3:", "features has 10 rows", "the triplets index 12 items"],
    );
    expect_error(
        dir.path(),
        "judge::from_features(tensor::rand([10, 4]), triplets::random(10, 5), #{n_items: 12});",
        &["features has 10 rows but n_items is 12"],
    );
    expect_error(
        dir.path(),
        "judge::from_features(tensor::rand([10, 4]), triplets::random(10, 5), #{rule: \"closest\"});",
        &["option 'rule': 'closest' is not one of max_pair", "mean_distance"],
    );
    // A failed save leaves no file under the final name.
    expect_error(
        dir.path(),
        "triplets::save(triplets::random(10, 5), out + \"/t.bin\");",
        &["cannot tell the triplet format from '.bin'"],
    );
    assert!(!dir.path().join("out/t.bin").exists());
}

#[test]
fn real_ratings_give_the_study_s_66_prototypes() {
    let d = emoscope_sdk::io::ratings::data_dir();
    if !d.join("cowen_keltner_2017_ratings.csv").exists() {
        eprintln!(
            "SKIPPED: real data not found at {} (set EMOSCOPE_DATA)",
            d.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = run_script(
        dir.path(),
        &format!(
            r#"
            let r = io::ratings({:?}, #{{stimuli: {:?}}});
            let p = triplets::prototypes(r, #{{per_category: 2}});
            let v = triplets::validation(p, 2180, #{{per_pair: 100, seed: 1}});
            let adm = r.category_names.index_of("Admiration");
            io::save(#{{n: p.indices.shape[0], names: p.stimuli, v: v.shape[0],
                       top_adm: p.by_category["Admiration"][0], adm: tensor::argsort(r.categories.cols([adm]), #{{axis: 0, descending: true}})}}, out + "/p.json");
            "#,
            d.join("cowen_keltner_2017_ratings.csv")
                .display()
                .to_string(),
            d.join("stimuli_2180.txt").display().to_string()
        ),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(dir.path().join("out/p.json"));
    // The study: "the two highest-rated videos per category, duplicates merged (66)".
    assert_eq!(v["n"], 66);
    assert_eq!(v["v"], 66 * 65 / 2 * 100);
    // The top Admiration prototype is the argmax of the Admiration column (an independent descending argsort; ties would go to the lower index in both).
    let first = v["adm"][0][0].as_i64().unwrap();
    assert_eq!(v["top_adm"], first);
}

#[test]
fn spose_fits_simulated_choices_and_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
        let X = tensor::rand([40, 4], #{seed: 3}) * 3.0;                // a planted embedding
        let all = triplets::sample_pairs(40, #{per_pair: 3, seed: 1});
        let judged = judge::from_embedding(X, all, #{temperature: 0.3, seed: 2});
        let parts = triplets::split(judged, #{test: 0.1, seed: 1});
        let fit = spose::fit(parts.train, #{n_items: 40, dims: 12, lambda: 0.01, lr: 0.01, epochs: epochs,
                                            early_stop: false, test: parts.test, seed: 1,
                                            checkpoint: out + "/ck.npz"});
        let ev = spose::evaluate(fit.embedding, parts.test);
        let truth = spose::evaluate(X, parts.test);
        let P = spose::predict_rsm(fit.embedding, #{items: [0, 1, 2, 3]});
        io::save(#{dims: fit.embedding.shape[1], acc: ev.accuracy, truth: truth.accuracy,
                   resumed: fit.resumed_from, epochs: fit.epochs, p_shape: P.shape,
                   hist: fit.history.test_accuracy.shape[0]}, out + "/s.json");
    "#;
    std::fs::write(dir.path().join("fit.rhai"), script).unwrap();
    let run = |epochs: i64| {
        Command::new(env!("CARGO_BIN_EXE_emoscope"))
            .arg("run")
            .arg(dir.path().join("fit.rhai"))
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(["--quiet", "--set", &format!("epochs={epochs}")])
            .output()
            .unwrap()
    };
    let o = run(3);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(dir.path().join("out/s.json"));
    assert_eq!(v["resumed"], 0);
    let o = run(6);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(dir.path().join("out/s.json"));
    assert_eq!(v["resumed"], 3, "the second run resumes after epoch 3");
    assert_eq!(v["epochs"], 6);
    assert_eq!(v["hist"], 6);
    assert_eq!(v["p_shape"], serde_json::json!([4, 4]));
    let (acc, truth) = (v["acc"].as_f64().unwrap(), v["truth"].as_f64().unwrap());
    // Six epochs on 522 triplets: well above chance (1/3), not yet at the planted space's level
    // (the unit tests check recovery to the noise ceiling on more data).
    assert!(
        acc > 0.6 && truth > acc - 0.05,
        "held-out accuracy {acc} (planted space: {truth})"
    );
    // The checkpoint is recorded in run.json as an output.
    assert!(json(dir.path().join("out/run.json"))["outputs"]
        .to_string()
        .contains("ck.npz"));
}
