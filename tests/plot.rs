//! `plot::` end to end through the real binary: every figure writes an SVG that parses and
//! holds drawn shapes and the labels it was given, a PNG of the requested size with real
//! content, and data files that read back as the input; bad input is an error that names the
//! argument and leaves no file behind.
use emoscope_sdk::io::npy;
use std::collections::HashSet;
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

fn expect_error(dir: &Path, script: &str, needles: &[&str]) {
    let o = run_script(dir, script);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "expected failure, stderr: {e}");
    assert!(!e.contains("panicked"), "must not panic: {e}");
    for n in needles {
        assert!(e.contains(n), "missing '{n}' in: {e}");
    }
}

/// What the SVG holds: the number of drawn shapes and every text.
struct Svg {
    shapes: usize,
    texts: Vec<String>,
    width: String,
}

fn svg(p: &Path) -> Svg {
    let text = std::fs::read_to_string(p).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", p.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{}", p.display());
    let shapes = root
        .descendants()
        .filter(|n| {
            matches!(
                n.tag_name().name(),
                "rect" | "circle" | "path" | "polygon" | "polyline" | "line"
            )
        })
        .count();
    let texts = root
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or("").to_string())
        .collect();
    Svg {
        shapes,
        texts,
        width: root.attribute("width").unwrap_or("").to_string(),
    }
}

impl Svg {
    fn has(&self, label: &str) -> bool {
        self.texts.iter().any(|t| t.contains(label))
    }
    fn assert_labels(&self, what: &str, labels: &[&str]) {
        for l in labels {
            assert!(
                self.has(l),
                "{what}: no text '{l}' in the SVG; texts: {:?}",
                self.texts
            );
        }
    }
}

/// (width, height, distinct colours) of a PNG.
fn png_info(p: &Path) -> (u32, u32, usize) {
    let f = std::io::BufReader::new(std::fs::File::open(p).unwrap());
    let mut reader = png::Decoder::new(f).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let colours: HashSet<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    (info.width, info.height, colours.len())
}

fn csv(p: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn f(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{a} != {b}");
}

fn ret(out: &Path, name: &str) -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("returned.json")).unwrap()).unwrap();
    all[name].clone()
}

/// The paths a figure call returned, checked to exist and to be `<base>.svg` etc.
fn files(out: &Path, name: &str) -> (PathBuf, PathBuf, Vec<PathBuf>) {
    let r = ret(out, name);
    let p = |v: &serde_json::Value| PathBuf::from(v.as_str().unwrap());
    let (s, g) = (p(&r["svg"]), p(&r["png"]));
    assert_eq!(s, out.join(format!("{name}.svg")));
    assert_eq!(g, out.join(format!("{name}.png")));
    let data: Vec<PathBuf> = r["data_files"].as_array().unwrap().iter().map(p).collect();
    assert_eq!(p(&r["data"]), data[0]);
    for x in [&s, &g].into_iter().chain(&data) {
        assert!(x.exists(), "{} missing", x.display());
    }
    (s, g, data)
}

/// The SVG and PNG of a figure: shapes drawn, labels present, size and real content.
fn check_picture(out: &Path, name: &str, min_shapes: usize, labels: &[&str], size: (u32, u32)) {
    let (s, g, _) = files(out, name);
    let doc = svg(&s);
    assert!(
        doc.shapes >= min_shapes,
        "{name}: {} shapes in the SVG, expected at least {min_shapes}",
        doc.shapes
    );
    assert_eq!(doc.width, size.0.to_string(), "{name}: SVG width");
    doc.assert_labels(name, labels);
    let (w, h, colours) = png_info(&g);
    assert_eq!((w, h), size, "{name}: PNG size");
    assert!(colours >= 8, "{name}: the PNG has only {colours} colours");
}

const FIGURES: &str = r#"
let r = #{};
// scatter: 6 points in 3 groups, one with a NaN coordinate.
r.scatter = plot::scatter([[0.0, 1.0], [1.5, -2.0], [2.0, 0.25], [3.0, 3.0], [0.0 / 0.0, 1.0], [-1.0, 0.5]],
    out + "/scatter.svg", #{groups: ["joy", "fear", "joy", "awe", "fear", "joy"], title: "t-SNE map",
    xlabel: "t-SNE 1", ylabel: "t-SNE 2", width: 800, height: 600});
// heatmap: 3 × 4 correlations with a NaN cell.
r.heatmap = plot::heatmap([[0.5, -0.25, 0.0, 0.75], [-0.9, 0.125, 0.0 / 0.0, 0.3], [0.1, 0.2, 0.3, -0.4]],
    out + "/heatmap", #{rows: ["C1", "C2", "C3"], cols: ["Amusement", "Awe", "Fear", "valence"],
    title: "Component × term", annotate: true});
// roi_bars: what stats::roi_compare returns for 4 subjects, 2 ROIs, 2 models.
let records = [];
let flags = #{STS: [1, 1, 0, 0], V1: [0, 0, 1, 1]};
let shift = [0.0, 0.01, -0.01, 0.02];
for s in 0..4 {
    records.push(#{subject: `sub-0${s + 1}`, model: "MLLM", rois: flags,
        encoding: tensor::from([0.30 + shift[s], 0.32 + shift[s], 0.20 + shift[s], 0.22 + shift[s]])});
    records.push(#{subject: `sub-0${s + 1}`, model: "LLM", rois: flags,
        encoding: tensor::from([0.10 + shift[s] * 2.0, 0.12 + shift[s], 0.15 - shift[s], 0.16 + shift[s]])});
}
let table = stats::roi_compare(records);
io::save(table.rows, out + "/table_rows.json");
r.bars = plot::roi_bars(table, out + "/bars", #{ylabel: "prediction accuracy (r)"});
r.bars_nopairs = plot::roi_bars(table, out + "/bars_nopairs", #{pairs: false, width: 600, height: 450});
r.bars_simple = plot::roi_bars(#{roi: ["STS", "STS", "V1", "V1"], model: ["A", "B", "A", "B"],
    value_s1: [0.1, 0.2, 0.3, 0.4], value_s2: [0.2, 0.1, 0.5, 0.2]}, out + "/bars_simple", #{title: "simple"});
// hist2d: 500 pairs plus two with NaN.
let a = tensor::randn([502], #{seed: 1});
let b = a * 0.5 + tensor::randn([502], #{seed: 2}) * 0.5;
let al = a.to_list(); al[0] = 0.0 / 0.0;
let bl = b.to_list(); bl[1] = 0.0 / 0.0;
r.hist2d = plot::hist2d(al, bl, out + "/hist2d", #{xlabel: "MLLM r", ylabel: "LLM r", bins: 20});
// rose: 3 stimuli × 6 components.
r.rose = plot::rose([[0.9, 0.0, 0.3, 0.0, 0.1, 0.0], [0.0, 1.2, 0.0, 0.4, 0.0, 0.2], [0.2, 0.2, 0.2, 0.2, 0.8, 0.0 / 0.0]],
    out + "/rose", #{names: ["amusement", "awe", "fear", "joy", "calm", "anger"],
    titles: ["clip 0001", "clip 0002", "clip 0003"], top: 3});
// graph: the map affect::graph returns.
let g = #{nodes: [0, 2, 3, 5, 7], names: ["amusement", "fear", "horror", "calm", "awe"], isolated: 1,
    edges: #{source: [0, 2, 2, 5, 0], target: [7, 3, 5, 7, 2], weight: [0.6, 0.8, -0.3, 0.4, 0.2]},
    communities: [0, 1, 1, 0, 0], pagerank: [0.3, 0.25, 0.2, 0.1, 0.15], modularity: 0.31};
r.graph = plot::graph(g, out + "/graph", #{title: "Component graph", seed: 4});
// lines: two series over dimensionality, one with a gap.
r.lines = plot::lines([5, 10, 20, 30], #{MLLM: [0.5, 0.55, 0.6, 0.62], LLM: [0.45, 0.0 / 0.0, 0.52, 0.55]},
    out + "/lines", #{xlabel: "dimensions", ylabel: "held-out accuracy", title: "Accuracy", hline: 0.3333, hline_label: "chance"});
r.lines_log = plot::lines(tensor::from([1.0, 10.0, 100.0]), #{r: [0.1, 0.2, 0.3]}, out + "/lines_log", #{log_x: true});
// brain: a small synthetic subject.
let w = synth::world(#{stimuli: 10, subjects: 1, grid: [10, 12, 10], seed: 3});
let s = fmri::subjects(w)[0];
let v = tensor::randn([s.coords.shape[0]], #{seed: 5}) * 0.2;
io::save(v, out + "/brain_in.npy");
io::save(s.coords, out + "/brain_coords.npy");
r.brain = plot::brain(v, s, out + "/brain", #{threshold: 0.1, title: "encoding r", label: "r", slices: 6});
r.brain_div = plot::brain(#{r: v}, s, out + "/brain_div", #{cmap: "diverging", axis: "x", slices: 4});
// The results of affect::tsne and affect::profiles are accepted as they are.
r.scatter_map = plot::scatter(#{coords: tensor::from([[0.0, 1.0], [1.0, 2.0], [2.0, 0.5]]), seed: 1}, out + "/scatter_map");
r.rose_map = plot::rose(#{stimuli: [4, 9], weights: tensor::from([[0.5, 0.1, 0.0], [0.0, 0.3, 0.7]])}, out + "/rose_map");
io::save(r, out + "/returned.json");
"#;

#[test]
fn every_figure_writes_svg_png_and_data_that_agree() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_script(dir.path(), FIGURES);
    assert!(o.status.success(), "script failed: {}", stderr(&o));
    let out = dir.path().join("out");
    let big = (1200, 900);

    // scatter
    check_picture(
        &out,
        "scatter",
        20,
        &[
            "t-SNE map",
            "t-SNE 1",
            "t-SNE 2",
            "joy (3)",
            "fear (2)",
            "awe (1)",
        ],
        (800, 600),
    );
    let c = csv(&out.join("scatter.csv"));
    assert_eq!(c[0], ["x", "y", "group"]);
    assert_eq!(c.len(), 7);
    assert_eq!(
        (f(&c[2][0]), f(&c[2][1]), c[2][2].as_str()),
        (1.5, -2.0, "fear")
    );
    assert_eq!(c[5][0], "NaN");
    assert_eq!(ret(&out, "scatter")["title"], "t-SNE map");

    // heatmap
    check_picture(
        &out,
        "heatmap",
        12,
        &[
            "Component × term",
            "C1",
            "C3",
            "Amusement",
            "valence",
            "0.75",
            "-0.90",
        ],
        big,
    );
    let c = csv(&out.join("heatmap.csv"));
    assert_eq!(c[0], ["row", "Amusement", "Awe", "Fear", "valence"]);
    assert_eq!(c[2][0], "C2");
    assert_eq!(f(&c[2][1]), -0.9);
    assert_eq!(f(&c[1][2]), -0.25);
    assert_eq!(c[2][3], "NaN");

    // roi_bars: bars per ROI and model, subject dots, stars from the table's tests.
    check_picture(
        &out,
        "bars",
        12,
        &[
            "encoding",
            "prediction accuracy (r)",
            "STS",
            "V1",
            "MLLM",
            "LLM",
            "*",
        ],
        big,
    );
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("table_rows.json")).unwrap())
            .unwrap();
    let c = csv(&out.join("bars.csv"));
    assert_eq!(&c[0][..6], ["roi", "model", "mean", "sem", "q", "stars"]);
    assert_eq!(
        &c[0][6..],
        [
            "value_sub-01",
            "value_sub-02",
            "value_sub-03",
            "value_sub-04"
        ]
    );
    assert_eq!(c.len(), 5);
    for (i, row) in c[1..].iter().enumerate() {
        assert_eq!(row[0], rows["roi"][i].as_str().unwrap());
        assert_eq!(row[1], rows["model"][i].as_str().unwrap());
        // (serde_json's parser may be one ulp off the shortest text the CSV holds)
        close(f(&row[2]), rows["mean"][i].as_f64().unwrap());
        close(f(&row[4]), rows["q"][i].as_f64().unwrap());
        close(f(&row[6]), rows["value_sub-01"][i].as_f64().unwrap());
        let q = rows["q"][i].as_f64().unwrap();
        let want = if q < 0.001 {
            "***"
        } else if q < 0.01 {
            "**"
        } else if q < 0.05 {
            "*"
        } else {
            ""
        };
        assert_eq!(row[5], want, "stars of row {i} (q = {q})");
    }
    // MLLM beats LLM in both ROIs: brackets with stars, listed in the pairs file.
    let (_, _, data) = files(&out, "bars");
    assert_eq!(data[1], out.join("bars_pairs.csv"));
    let p = csv(&data[1]);
    assert_eq!(p[0][..3], ["roi", "model_a", "model_b"]);
    assert!(p.len() >= 2 && p[1][5].starts_with('*'), "{p:?}");
    check_picture(
        &out,
        "bars_simple",
        8,
        &["simple", "STS", "V1", "A", "B"],
        big,
    );
    let c = csv(&out.join("bars_simple.csv"));
    assert_eq!(
        c[0],
        ["roi", "model", "mean", "sem", "stars", "value_s1", "value_s2"]
    );
    assert!((f(&c[1][2]) - 0.15).abs() < 1e-12);

    // hist2d: counts of the finite pairs, shared edges.
    check_picture(
        &out,
        "hist2d",
        20,
        &["MLLM r", "LLM r", "n = 500 pairs", "2 with NaN dropped"],
        big,
    );
    let (_, _, data) = files(&out, "hist2d");
    assert_eq!(data[0], out.join("hist2d.npy"));
    let counts = npy::read_npy(&data[0]).unwrap();
    assert_eq!(counts.shape(), vec![20, 20]);
    assert_eq!(counts.to_vec_f64().unwrap().iter().sum::<f64>(), 500.0);
    let e = csv(&data[1]);
    assert_eq!(e[0], ["edge_a", "edge_b"]);
    assert_eq!(e.len(), 22);
    assert!(ret(&out, "hist2d")["title"]
        .as_str()
        .unwrap()
        .contains("n = 500"));

    // rose
    check_picture(
        &out,
        "rose",
        10,
        &["clip 0001", "clip 0003", "amusement", "awe", "calm"],
        big,
    );
    let c = csv(&out.join("rose.csv"));
    assert_eq!(
        c[0],
        [
            "stimulus",
            "amusement",
            "awe",
            "fear",
            "joy",
            "calm",
            "anger"
        ]
    );
    assert_eq!(c[2][0], "clip 0002");
    assert_eq!(f(&c[2][2]), 1.2);
    assert_eq!(c[3][6], "NaN");

    // graph: nodes with their layout, edges by component index.
    check_picture(
        &out,
        "graph",
        15,
        &[
            "Component graph",
            "amusement",
            "horror",
            "awe",
            "modularity Q = 0.310",
        ],
        big,
    );
    let (_, _, data) = files(&out, "graph");
    assert_eq!(data[1], out.join("graph_edges.csv"));
    let n = csv(&data[0]);
    assert_eq!(n[0], ["node", "name", "community", "pagerank", "x", "y"]);
    assert_eq!(n[2][..4], ["2", "fear", "1", "0.25"]);
    for row in &n[1..] {
        assert!(f(&row[4]).abs() <= 1.0 + 1e-9 && f(&row[5]).abs() <= 1.0 + 1e-9);
    }
    let e = csv(&data[1]);
    assert_eq!(
        e[0],
        ["source", "target", "source_name", "target_name", "weight"]
    );
    assert_eq!(e[3], ["2", "5", "fear", "calm", "-0.3"]);

    // lines
    check_picture(
        &out,
        "lines",
        8,
        &[
            "Accuracy",
            "dimensions",
            "held-out accuracy",
            "MLLM",
            "LLM",
            "chance",
        ],
        big,
    );
    let c = csv(&out.join("lines.csv"));
    assert_eq!(c[0], ["x", "LLM", "MLLM"]);
    assert_eq!(c[2], ["10", "NaN", "0.55"]);
    check_picture(&out, "lines_log", 4, &["10", "100"], big);

    // brain: the values and their voxels.
    check_picture(
        &out,
        "brain",
        30,
        &["encoding r", "z = ", "value ≥ 0.10"],
        big,
    );
    check_picture(&out, "brain_div", 30, &["x = "], big);
    let (_, _, data) = files(&out, "brain");
    let v = npy::read_npy(&out.join("brain_in.npy"))
        .unwrap()
        .to_vec_f64()
        .unwrap();
    let back = npy::read_npy(&data[0]).unwrap().to_vec_f64().unwrap();
    assert_eq!(back, v);
    let coords = npy::read_npy(&out.join("brain_coords.npy"))
        .unwrap()
        .to_vec_f64()
        .unwrap();
    let c = csv(&data[1]);
    assert_eq!(c[0], ["i", "j", "k", "value"]);
    assert_eq!(c.len(), v.len() + 1);
    for k in [0, v.len() / 2, v.len() - 1] {
        let row = &c[k + 1];
        assert_eq!(
            [f(&row[0]), f(&row[1]), f(&row[2])],
            [coords[3 * k], coords[3 * k + 1], coords[3 * k + 2]]
        );
        assert_eq!(f(&row[3]), v[k]);
    }

    check_picture(&out, "scatter_map", 3, &["dimension 1"], big);
    check_picture(&out, "rose_map", 3, &["stimulus 4", "stimulus 9"], big);

    // Nothing half-written is left behind.
    let tmp: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
    // Every figure file is recorded in run.json.
    let run = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(
        run.contains("hist2d.npy") && run.contains("graph_edges.csv") && run.contains("rose.png")
    );
}

#[test]
fn bad_input_names_the_argument_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &[&str])] = &[
        (
            r#"plot::scatter([[1.0, 2.0, 3.0]], out + "/f");"#,
            &["plot::scatter", "coords must be n × 2", "1 × 3"],
        ),
        (
            r#"plot::scatter([[1.0, 2.0], [3.0, 4.0]], out + "/f", #{groups: ["a"]});"#,
            &["option groups has 1 labels but 2 are needed"],
        ),
        (
            r#"plot::scatter([[1.0, 2.0]], out + "/f", #{colour: "red"});"#,
            &["unknown option 'colour'", "groups"],
        ),
        (
            r#"plot::heatmap([1.0, 2.0], out + "/f");"#,
            &["matrix must be a 2-D tensor", "[2]"],
        ),
        (
            r#"plot::heatmap([[1.0, 2.0]], out + "/f", #{cols: ["a"]});"#,
            &["option cols has 1 labels but 2 are needed"],
        ),
        (
            r#"plot::heatmap([[1.0, 2.0]], out + "/f", #{vmin: 1.0, vmax: 0.0});"#,
            &["vmin < vmax"],
        ),
        (
            r#"plot::roi_bars(#{mean: [1.0]}, out + "/f");"#,
            &["needs a 'roi' column"],
        ),
        (
            r#"plot::roi_bars(#{rows: #{metric: ["a", "b"], roi: ["x", "x"], model: ["m", "m"], mean: [1.0, 2.0]}}, out + "/f");"#,
            &["several metrics (a, b)", "metric"],
        ),
        (
            r#"plot::hist2d([1.0, 2.0], [1.0], out + "/f");"#,
            &["a has 2 values but b has 1"],
        ),
        (
            r#"plot::hist2d([0.0 / 0.0], [1.0], out + "/f");"#,
            &["no pair has both values finite"],
        ),
        (
            r#"plot::hist2d([1.0, 2.0], [1.0, 2.0], out + "/f", #{bins: 1});"#,
            &["option bins must be between 2 and 1000"],
        ),
        (
            r#"plot::rose([[1.0, -0.5]], out + "/f");"#,
            &["weights[0, 1] is -0.5", "non-negative"],
        ),
        (
            r#"plot::rose([[1.0, 0.5]], out + "/f", #{names: ["a", "b", "c"]});"#,
            &["option names has 3 labels but 2"],
        ),
        (
            r#"plot::graph(#{nodes: [0, 1], edges: #{source: [0], target: [5], weight: [0.5]}}, out + "/f");"#,
            &["g.edges.target[0] = 5 is not in g.nodes"],
        ),
        (
            r#"plot::graph(#{nodes: [0, 1], names: ["a"]}, out + "/f");"#,
            &["g.names has 1 entries but g.nodes has 2"],
        ),
        (
            r#"plot::graph(#{edges: #{}}, out + "/f");"#,
            &["g has no 'nodes'"],
        ),
        (
            r#"plot::lines([1, 2, 3], #{a: [1.0, 2.0]}, out + "/f");"#,
            &["series 'a' has 2 values but x has 3"],
        ),
        (
            r#"plot::lines([0, 1], #{a: [1.0, 2.0]}, out + "/f", #{log_x: true});"#,
            &["x[0] is 0", "log_x"],
        ),
        (
            r#"plot::lines([0, 1], [1.0, 2.0], out + "/f");"#,
            &["argument 2 (series) must be map"],
        ),
        (
            r#"let w = synth::world(#{stimuli: 10, subjects: 1, grid: [8, 8, 8], seed: 1});
            plot::brain([1.0, 2.0], fmri::subjects(w)[0], out + "/f");"#,
            &["values has 2 entries but the dataset has", "voxels"],
        ),
        (
            r#"plot::brain([1.0], #{coords: [[0, 0, 0]]}, out + "/f", #{axis: "w"});"#,
            &["option 'axis': 'w' is not one of x (sagittal), y (coronal), z (axial)"],
        ),
        (
            r#"plot::brain([1.0], #{data: [[1.0]]}, out + "/f");"#,
            &["dataset has no 'coords'"],
        ),
        (
            r#"plot::scatter([[1.0, 2.0]], out + "/");"#,
            &["path must name a file"],
        ),
        (
            r#"plot::scatter([[1.0, 2.0]], out + "/f", #{width: 10});"#,
            &["option width must be between 200 and 8000"],
        ),
    ];
    for (script, needles) in cases {
        expect_error(d, script, needles);
        let out = d.join("out");
        let left: Vec<_> = std::fs::read_dir(&out)
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("f") || n.contains(".tmp-"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "{script}: files left after an error: {left:?}"
        );
    }
}
