//! The docs stay true: the reference is regenerated and compared, and every example in the
//! scripting tour runs.
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn reference_md_is_in_sync_with_the_fnspecs() {
    let o = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .arg("doc")
        .output()
        .unwrap();
    assert!(o.status.success());
    let generated = String::from_utf8(o.stdout).unwrap();
    let on_disk = std::fs::read_to_string(root().join("docs/reference.md")).unwrap_or_default();
    assert!(
        generated == on_disk,
        "docs/reference.md is stale: regenerate it with `cargo run -q -- doc > docs/reference.md`"
    );
}

/// The ```rhai blocks of docs/scripting.md, run in order as one script.
#[test]
fn scripting_tour_examples_run() {
    let md = std::fs::read_to_string(root().join("docs/scripting.md")).unwrap();
    let mut script = String::new();
    let mut inside = false;
    let mut blocks = 0;
    for line in md.lines() {
        if line.trim_start().starts_with("```rhai") {
            inside = true;
            blocks += 1;
            continue;
        }
        if inside && line.trim_start().starts_with("```") {
            inside = false;
            continue;
        }
        if inside {
            script.push_str(line);
            script.push('\n');
        }
    }
    assert!(blocks >= 5, "the tour should have examples, found {blocks}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tour.rhai");
    std::fs::write(&file, &script).unwrap();
    let data = std::env::var("EMOSCOPE_DATA")
        .unwrap_or_else(|_| root().join("../shared/data").display().to_string());
    let o = Command::new(env!("CARGO_BIN_EXE_emoscope"))
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--set")
        .arg(format!("data={data}"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tour failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The cargo commands of README.md's ```sh blocks, joined across `\` continuations, comments cut.
fn readme_cargo_commands(md: &str) -> Vec<String> {
    let mut cmds = Vec::new();
    let (mut inside, mut line) = (false, String::new());
    for l in md.lines() {
        if l.trim_start().starts_with("```") {
            inside = l.trim() == "```sh";
            continue;
        }
        if !inside {
            continue;
        }
        let l = l.split(" # ").next().unwrap_or("").trim_end();
        line.push_str(l.trim_end_matches('\\').trim());
        if l.ends_with('\\') {
            line.push(' ');
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        // `VAR=value cargo ...`: the program is the first word that is not an assignment.
        if words.iter().find(|w| !w.contains('=')) == Some(&"cargo") {
            cmds.push(words.join(" "));
        }
        line.clear();
    }
    cmds
}

/// Every cargo line the README shows is one CI runs as written (.ci/run), so that a documented
/// build cannot stop compiling unnoticed; and every `--features` the README names exists.
#[test]
fn readme_cargo_lines_are_run_by_ci_as_written() {
    let md = std::fs::read_to_string(root().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let ci_lines: Vec<String> = ci
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let cmds = readme_cargo_commands(&md);
    for want in ["cargo run --release -- demo", "cargo test"] {
        assert!(
            cmds.iter().any(|c| c == want),
            "the README lost `{want}`: {cmds:?}"
        );
    }
    assert!(
        cmds.iter().any(|c| c.contains("emoscope/torch")),
        "no GPU build line: {cmds:?}"
    );
    // The demo is run by a test (the debug build of the same code), not by CI as a second
    // release build: the GPU line compiles these crates in release with one feature more.
    let report = std::fs::read_to_string(root().join("tests/report.rs")).unwrap();
    assert!(
        report.contains(r#"c.args(["demo","#),
        "tests/report.rs no longer runs the demo"
    );
    for c in cmds.iter().filter(|c| *c != "cargo run --release -- demo") {
        assert!(
            ci_lines.iter().any(|l| l == c),
            "README.md shows `{c}`, but .ci/run does not run it as written"
        );
    }

    // Features named anywhere in the README (`--features a,b/c`) exist in the workspace.
    let mut features = std::collections::BTreeSet::new();
    for m in ["host", "sdk"] {
        let t: toml::Table =
            toml::from_str(&std::fs::read_to_string(root().join(m).join("Cargo.toml")).unwrap())
                .unwrap();
        let name = t["package"]["name"].as_str().unwrap().to_string();
        for f in t["features"].as_table().unwrap().keys() {
            features.insert(format!("{name}/{f}"));
            if name == "emoscope" {
                features.insert(f.clone());
            }
        }
    }
    let mut named = 0;
    for (i, _) in md.match_indices("--features ") {
        let list = md[i + 11..]
            .split(|c: char| c.is_whitespace() || c == '`' || c == ')')
            .next()
            .unwrap();
        for f in list.split(',') {
            named += 1;
            assert!(
                features.contains(f),
                "README.md names feature `{f}`, which no crate has ({features:?})"
            );
        }
    }
    assert!(
        named >= 4,
        "expected the README to name its features, found {named}"
    );
}
