//! The whole study (scripts/paper.rhai through `emoscope demo`) at a tiny scale: it must finish,
//! recover the synthetic world's answers, and write a report whose every figure exists, is a
//! valid SVG or PNG with real content, and is referenced by the report. A rerun must reuse the
//! cached long steps.
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_emoscope"))
}

const TINY: [&str; 11] = [
    "stimuli=150",
    "latent_dims=10",
    "subjects=2",
    "grid=12",
    "dims=12",
    "lambda=0.02",
    "epochs=40",
    "n_rsa=90",
    "permutations=50",
    "tsne_iterations=300",
    "seed=1",
];

fn demo(out: &Path) -> std::process::Output {
    let mut c = bin();
    c.args(["demo", "--quiet", "--threads", "2", "--out"])
        .arg(out);
    for s in TINY {
        c.args(["--set", s]);
    }
    c.output().unwrap()
}

/// Distinct colours in a decoded PNG (RGB or RGBA, 8-bit).
fn png_colours(path: &Path) -> (u32, u32, usize) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let colours: BTreeSet<&[u8]> = buf[..info.buffer_size()].chunks(step).collect();
    (info.width, info.height, colours.len())
}

#[test]
fn the_study_writes_a_complete_report_and_reuses_its_cache() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("paper");
    let o = demo(&out);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "demo failed:\n{stdout}\n{stderr}");
    let report = out.join("report.html");
    assert!(
        stdout.contains(&format!("report: {}", report.display())),
        "demo must print where the report is: {stdout}"
    );
    let html = std::fs::read_to_string(&report).unwrap();

    // Every figure the run wrote: a valid SVG and PNG with content, referenced by the report.
    let figures = out.join("figures");
    let mut svgs: Vec<_> = std::fs::read_dir(&figures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    svgs.sort();
    let expected = [
        "accuracy_vs_dims",
        "reduction_curve",
        "labels_Human-category",
        "tsne_Human-category",
        "profiles_Human-category",
        "graph_Human-category",
        "roi_encoding",
        "roi_searchlight",
        "voxel_compare",
        "brain_best",
    ];
    for e in expected {
        assert!(
            figures.join(format!("{e}.svg")).exists(),
            "missing figure {e}: have {svgs:?}"
        );
    }
    for svg in &svgs {
        let text = std::fs::read_to_string(svg).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{}: not valid XML: {e}", svg.display()));
        assert_eq!(
            doc.root_element().tag_name().name(),
            "svg",
            "{}",
            svg.display()
        );
        let drawn = doc
            .descendants()
            .filter(|n| {
                matches!(
                    n.tag_name().name(),
                    "rect" | "circle" | "path" | "polyline" | "polygon" | "line"
                )
            })
            .count();
        assert!(
            drawn >= 10,
            "{}: only {drawn} drawn elements",
            svg.display()
        );
        let png = svg.with_extension("png");
        let (w, h, colours) = png_colours(&png);
        assert!(w >= 300 && h >= 200, "{}: {w}×{h}", png.display());
        assert!(colours >= 8, "{}: only {colours} colours", png.display());
        let name = svg.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            html.contains(&format!("data-file=\"figures/{name}\"")),
            "the report does not reference {name}"
        );
        assert!(html.contains(&format!(
            "href=\"figures/{}\"",
            png.file_name().unwrap().to_string_lossy()
        )));
    }
    // Inlined, so the report stands alone.
    assert_eq!(
        html.matches("src=\"data:image/svg+xml;base64,").count(),
        svgs.len()
    );

    // The synthetic world's answers: the truest embedding wins or ties within the noise (the
    // script throws otherwise), and
    // the labels find most planted names.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let check = summary["neural_check"].as_str().unwrap();
    assert!(check == "recovered" || check == "tied", "{summary}");
    assert_ne!(summary["truest"], "Human-dimension", "{summary}");
    let hits = summary["recovered"]["hits"].as_i64().unwrap();
    let total = summary["recovered"]["total"].as_i64().unwrap();
    assert!(
        hits * 2 > total,
        "labels recovered {hits}/{total} planted names"
    );
    assert!(html.contains("(recovered"));

    // A rerun reuses every cached step and gives the same report numbers.
    let cached = std::fs::read_dir(out.join("cache")).unwrap().count();
    assert!(cached >= 8, "only {cached} cache files");
    let o2 = demo(&out);
    assert!(
        o2.status.success(),
        "{}",
        String::from_utf8_lossy(&o2.stderr)
    );
    let summary2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // The cached fits give the same held-out evaluation (the cross-entropy is a parallel sum,
    // so its last bits may differ).
    for (a, b) in summary["fits"]
        .as_array()
        .unwrap()
        .iter()
        .zip(summary2["fits"].as_array().unwrap())
    {
        assert_eq!(a["held-out accuracy"], b["held-out accuracy"]);
        assert_eq!(a["dimensions"], b["dimensions"]);
        let (x, y) = (
            a["cross-entropy"].as_f64().unwrap(),
            b["cross-entropy"].as_f64().unwrap(),
        );
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let calls = run["calls"].as_array().unwrap();
    assert!(
        !calls.iter().any(|c| c["function"] == "spose::fit"
            || c["function"] == "encoding::ridge_cv"
            || c["function"] == "rsa::searchlight"),
        "the rerun recomputed a cached step"
    );
}

#[test]
fn a_bad_setting_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["demo", "--quiet", "--set", "scale=huge", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("scale must be \"demo\" or \"full\""), "{err}");
    assert!(!dir.path().join("report.html").exists());
}
