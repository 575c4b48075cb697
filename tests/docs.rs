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
