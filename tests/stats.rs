//! `stats::` end to end through the real binary: `stats::roi_compare` on records built from
//! known numbers, checked against scipy; the voxel-wise comparison, `stats::ttest` and
//! `stats::fdr` likewise; and the errors a researcher meets (no ROI masks, a subject lacking a
//! model, an empty ROI).
//!
//! The reference numbers were produced once with scipy 1.17.1 / numpy 2 (python):
//!
//! ```python
//! rng = np.random.default_rng(6); V = 9   # voxels; STS = 0..3, V1 = 4..7, voxel 8 in neither
//! base = {"MLLM": 0.12, "LLM": 0.08, "Human-category": 0.05}
//! for metric in ["encoding", "searchlight"]: for s in subjects (5): for m in models:
//!     x = np.round(base[m] + (0.03 if metric == "searchlight" else 0) + rng.normal(0, 0.04, V), 4)
//! # unscored voxels: encoding sub-02 MLLM [1], encoding sub-05 LLM [6],
//! # searchlight sub-04 LLM [4:8] (its whole V1)
//! roi mean = np.nanmean(x[roi])  (NaN when every voxel of the ROI is NaN)
//! rows:  scipy.stats.ttest_1samp(means, 0, nan_policy="omit"), per metric, roi, model
//! pairs: scipy.stats.ttest_rel(means_a, means_b, nan_policy="omit"), per metric, roi, a < b
//! q:     scipy.stats.false_discovery_control(p) over the rows (and, apart, the pairs) of a metric
//! ```
use std::path::Path;
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

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Relative closeness; NaN (JSON null) matches only NaN.
fn close(got: &serde_json::Value, want: f64, what: &str) {
    let g = got.as_f64().unwrap_or(f64::NAN);
    assert!(
        (g.is_nan() && want.is_nan()) || (g - want).abs() <= 1e-9 * want.abs().max(1e-12),
        "{what}: got {g}, scipy {want}"
    );
}

/// (metric, roi, model, n_subjects, mean, t, p, q)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    f64,
    f64,
    f64,
    f64,
);
#[rustfmt::skip]
const ROWS: [Row; 12] = [
    ("encoding", "STS", "MLLM", 5, 0.09891333333333333, 8.106363937215118, 0.001258993133150302, 0.0021698245455560364),
    ("encoding", "STS", "LLM", 5, 0.07687999999999999, 12.677250651218522, 0.0002229702912605639, 0.0006689108737816917),
    ("encoding", "STS", "Human-category", 5, 0.051530000000000006, 7.367881112202362, 0.001808187121296697, 0.0021698245455560364),
    ("encoding", "V1", "MLLM", 5, 0.14046000000000003, 17.603316211639115, 6.116277980222736e-05, 0.0003669766788133641),
    ("encoding", "V1", "LLM", 5, 0.08280833333333334, 7.628932849871714, 0.001585321772902919, 0.0021698245455560364),
    ("encoding", "V1", "Human-category", 5, 0.041985, 4.605456069211342, 0.00998975620917727, 0.00998975620917727),
    ("searchlight", "STS", "MLLM", 5, 0.16288, 39.889007834792736, 2.360048116234632e-06, 1.416028869740779e-05),
    ("searchlight", "STS", "LLM", 5, 0.100065, 11.707194750352711, 0.0003044424621052979, 0.0004566636931579469),
    ("searchlight", "STS", "Human-category", 5, 0.10330999999999999, 9.194802527213984, 0.0007771214743862968, 0.0009325457692635562),
    ("searchlight", "V1", "MLLM", 5, 0.159065, 21.531960617334082, 2.7516786200140657e-05, 8.255035860042197e-05),
    ("searchlight", "V1", "LLM", 4, 0.10553749999999999, 19.575667517593022, 0.00029124337054215566, 0.0004566636931579469),
    ("searchlight", "V1", "Human-category", 5, 0.07486, 8.72118783759537, 0.0009521596887521414, 0.0009521596887521414),
];
/// (metric, roi, model_a, model_b, n_subjects, mean_diff, t, p, q)
type Pair = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
    f64,
    f64,
    f64,
    f64,
);
#[rustfmt::skip]
const PAIRS: [Pair; 12] = [
    ("encoding", "STS", "MLLM", "LLM", 5, 0.022033333333333335, 1.867519138694408, 0.1352186184061798, 0.1352186184061798),
    ("encoding", "STS", "MLLM", "Human-category", 5, 0.04738333333333333, 5.460582533990329, 0.005468136100570438, 0.010936272201140875),
    ("encoding", "STS", "LLM", "Human-category", 5, 0.025349999999999994, 3.996222421705613, 0.016180867296744644, 0.02415633756036956),
    ("encoding", "V1", "MLLM", "LLM", 5, 0.05765166666666666, 12.475349747150684, 0.00023744468663943835, 0.0014246681198366302),
    ("encoding", "V1", "MLLM", "Human-category", 5, 0.09847500000000001, 8.271554740103495, 0.001165808710292332, 0.0034974261308769964),
    ("encoding", "V1", "LLM", "Human-category", 5, 0.04082333333333334, 3.73947341055345, 0.020130281300307966, 0.02415633756036956),
    ("searchlight", "STS", "MLLM", "LLM", 5, 0.062815, 6.776817196378037, 0.002474541571003577, 0.007423624713010731),
    ("searchlight", "STS", "MLLM", "Human-category", 5, 0.05957000000000001, 5.926227582948784, 0.004062451223861564, 0.008124902447723127),
    ("searchlight", "STS", "LLM", "Human-category", 5, -0.0032449999999999922, -0.3405070703557447, 0.7506063706342369, 0.7506063706342369),
    ("searchlight", "V1", "MLLM", "LLM", 4, 0.05993750000000002, 6.314801498658137, 0.0080262118153233, 0.01203931772298495),
    ("searchlight", "V1", "MLLM", "Human-category", 5, 0.08420500000000002, 7.558148528857521, 0.0016422263931896901, 0.007423624713010731),
    ("searchlight", "V1", "LLM", "Human-category", 4, 0.02768749999999999, 2.2874368113837127, 0.10620627117112579, 0.12744752540535093),
];
// ROI means of searchlight / V1 / LLM per subject (sub-04 has no scored V1 voxel)
#[rustfmt::skip]
const SL_V1_LLM: [Option<f64>; 5] = [Some(0.110875), Some(0.1156), Some(0.09074999999999998), None, Some(0.10492499999999999)];
/// [subject, model, encoding map, searchlight map] over 9 voxels (STS: 0-3, V1: 4-7, 8: neither).
#[rustfmt::skip]
const RECORDS: &str = r#"[
    ["sub-01", "MLLM", [0.1621, 0.1911, 0.0179, 0.1145, 0.1605, 0.1741, 0.1462, 0.1799, 0.1316], [0.1142, 0.219, 0.1551, 0.1943, 0.1631, 0.2008, 0.1561, 0.1587, 0.1555]],
    ["sub-01", "LLM", [0.1021, 0.0871, 0.037, 0.0461, 0.0952, 0.0568, 0.1309, 0.1317, 0.152], [0.0817, 0.0871, 0.1041, 0.1053, 0.0707, 0.2043, 0.0707, 0.0978, 0.2078]],
    ["sub-01", "Human-category", [0.049, 0.1053, 0.0138, 0.0173, 0.0533, 0.0613, -0.014, -0.0192, 0.0642], [0.0536, 0.1106, 0.1064, 0.0717, 0.0228, 0.0179, 0.0797, 0.0968, -0.0062]],
    ["sub-02", "MLLM", [0.0855, nan, 0.1358, 0.1323, 0.1283, 0.1558, 0.1139, 0.1634, 0.099], [0.1561, 0.1238, 0.1858, 0.1571, 0.1179, 0.1331, 0.1519, 0.204, 0.272]],
    ["sub-02", "LLM", [0.071, 0.0528, 0.1039, 0.0814, 0.0455, 0.1601, 0.0655, 0.0753, 0.0958], [0.1247, 0.1152, 0.1385, 0.1118, 0.1384, 0.1288, 0.1135, 0.0817, 0.12]],
    ["sub-02", "Human-category", [0.1199, 0.0441, 0.0781, 0.054, -0.0086, 0.0817, 0.0908, 0.0404, 0.0494], [0.1198, 0.0867, 0.1443, 0.1215, 0.0786, 0.1534, 0.039, 0.1308, 0.1583]],
    ["sub-03", "MLLM", [0.0599, 0.0591, 0.1043, 0.145, 0.1012, 0.1317, 0.1587, 0.1238, 0.143], [0.144, 0.1501, 0.1918, 0.2116, 0.1721, 0.1642, 0.1914, 0.1651, 0.1064]],
    ["sub-03", "LLM", [0.1379, 0.0302, 0.1098, 0.0046, 0.0973, 0.0881, 0.0583, 0.0369, 0.0775], [0.1072, 0.1142, 0.0548, 0.1307, 0.0851, 0.1445, 0.0552, 0.0782, 0.0564]],
    ["sub-03", "Human-category", [0.0336, 0.0539, 0.0137, 0.0718, 0.0086, 0.0378, 0.0343, 0.1007, -0.0098], [0.1361, 0.1357, 0.1434, 0.1437, 0.1209, 0.1205, 0.0168, 0.0979, 0.0647]],
    ["sub-04", "MLLM", [0.1034, 0.1673, 0.0937, 0.0704, 0.1313, 0.1084, 0.1534, 0.0832, 0.1276], [0.1419, 0.1056, 0.2073, 0.1611, 0.0953, 0.175, 0.1512, 0.1122, 0.1414]],
    ["sub-04", "LLM", [0.1066, 0.1214, 0.0358, 0.137, 0.044, 0.0195, 0.0418, 0.0862, 0.0671], [0.082, 0.0207, 0.0511, 0.1318, nan, nan, nan, nan, 0.1126]],
    ["sub-04", "Human-category", [0.0676, 0.0698, 0.0627, 0.0398, 0.1226, -0.0386, -0.0194, 0.0297, -0.0002], [0.1076, 0.0463, 0.0376, 0.1256, 0.0827, 0.0648, 0.0504, 0.0537, 0.1434]],
    ["sub-05", "MLLM", [0.0178, 0.0882, 0.09, 0.0221, 0.1543, 0.172, 0.1694, 0.0997, 0.1259], [0.1888, 0.1333, 0.0998, 0.2169, 0.2128, 0.1982, 0.1837, 0.0745, 0.0984]],
    ["sub-05", "LLM", [0.0352, 0.0883, 0.053, 0.0964, 0.0663, 0.1214, nan, 0.1296, 0.0158], [0.1326, 0.0986, 0.1202, 0.089, 0.0837, 0.1321, 0.094, 0.1099, 0.1202]],
    ["sub-05", "Human-category", [-0.0228, 0.0662, 0.0269, 0.0659, 0.062, 0.0572, 0.0868, 0.0723, 0.0689], [0.0893, 0.1263, 0.1347, 0.0253, 0.0692, 0.054, 0.1101, 0.0372, 0.1109]],
]"#;

/// The records of RECORDS, with each subject's ROI flags in the record (`rois_in_record`) or
/// left out, then `body`.
fn script(rois_in_record: bool, body: &str) -> String {
    format!(
        r#"
let nan = 0.0 / 0.0;
let rois = #{{
    STS: tensor::from([1, 1, 1, 1, 0, 0, 0, 0, 0]).astype("u8"),
    V1: tensor::from([0, 0, 0, 0, 1, 1, 1, 1, 0]).astype("u8"),
}};
let results = [];
for d in {RECORDS} {{
    let rec = #{{subject: d[0], model: d[1], encoding: tensor::from(d[2]),
                searchlight: #{{r: tensor::from(d[3]), n_voxels: 9, shard: 0}}}};
    if {rois_in_record} {{ rec.rois = rois; }}
    results.push(rec);
}}
{body}
"#
    )
}

#[test]
fn roi_compare_matches_scipy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_script(
        dir.path(),
        &script(
            true,
            r#"
let table = stats::roi_compare(results, #{test: "paired_t", fdr: true});
io::save(table, out_dir + "/table.json");
io::save(table.rows, out_dir + "/rows.csv");
io::save(table.pairs, out_dir + "/pairs.csv");
// The same ROIs given as an option, shared and per subject, give the same table.
let strip = results.map(|r| { let x = r; x.remove("rois"); x });
let common = stats::roi_compare(strip, #{rois: rois});
let per = #{};
for s in table.subjects { per[s] = rois; }
let each = stats::roi_compare(strip, #{rois: per});
io::save([common, each], out_dir + "/variants.json");
"#,
        )
        .replace("out_dir", &format!("{:?}", out.display().to_string())),
    );
    assert!(o.status.success(), "script failed: {}", stderr(&o));
    let t = read_json(&out.join("table.json"));
    assert_eq!(
        t["subjects"],
        serde_json::json!(["sub-01", "sub-02", "sub-03", "sub-04", "sub-05"])
    );
    assert_eq!(
        t["models"],
        serde_json::json!(["MLLM", "LLM", "Human-category"])
    );
    assert_eq!(t["rois"], serde_json::json!(["STS", "V1"]));
    assert_eq!(t["metrics"], serde_json::json!(["encoding", "searchlight"]));
    let rows = &t["rows"];
    assert_eq!(rows["metric"].as_array().unwrap().len(), ROWS.len());
    for (i, (metric, roi, model, n, mean, tt, p, q)) in ROWS.iter().enumerate() {
        let what = format!("rows[{i}] {metric}/{roi}/{model}");
        assert_eq!(rows["metric"][i], *metric, "{what}");
        assert_eq!(rows["roi"][i], *roi, "{what}");
        assert_eq!(rows["model"][i], *model, "{what}");
        assert_eq!(rows["n_subjects"][i], *n, "{what}");
        close(&rows["mean"][i], *mean, &format!("{what} mean"));
        close(&rows["t"][i], *tt, &format!("{what} t"));
        close(&rows["p"][i], *p, &format!("{what} p"));
        close(&rows["q"][i], *q, &format!("{what} q"));
        close(&rows["df"][i], (*n - 1) as f64, &format!("{what} df"));
        assert_eq!(rows["significant"][i], *q <= 0.05, "{what}");
    }
    // One dot per subject: the subject's ROI mean, NaN where its ROI has no scored voxel.
    let k = ROWS
        .iter()
        .position(|r| (r.0, r.1, r.2) == ("searchlight", "V1", "LLM"))
        .unwrap();
    for (s, want) in SL_V1_LLM.iter().enumerate() {
        let got = &rows[format!("value_sub-0{}", s + 1)][k];
        close(
            got,
            want.unwrap_or(f64::NAN),
            &format!("value_sub-0{}", s + 1),
        );
    }
    let pairs = &t["pairs"];
    assert_eq!(pairs["metric"].as_array().unwrap().len(), PAIRS.len());
    for (i, (metric, roi, a, b, n, diff, tt, p, q)) in PAIRS.iter().enumerate() {
        let what = format!("pairs[{i}] {metric}/{roi}/{a}-{b}");
        assert_eq!(pairs["metric"][i], *metric, "{what}");
        assert_eq!(pairs["roi"][i], *roi, "{what}");
        assert_eq!(pairs["model_a"][i], *a, "{what}");
        assert_eq!(pairs["model_b"][i], *b, "{what}");
        assert_eq!(pairs["n_subjects"][i], *n, "{what}");
        close(&pairs["mean_diff"][i], *diff, &format!("{what} mean_diff"));
        close(&pairs["t"][i], *tt, &format!("{what} t"));
        close(&pairs["p"][i], *p, &format!("{what} p"));
        close(&pairs["q"][i], *q, &format!("{what} q"));
    }
    assert_eq!(t["options"]["test"], "paired_t");
    assert_eq!(t["options"]["fdr"], true);
    // The tables are CSV files with a header and one line per row.
    let csv = std::fs::read_to_string(out.join("rows.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for col in [
        "metric",
        "roi",
        "model",
        "mean",
        "t",
        "p",
        "q",
        "value_sub-03",
    ] {
        assert!(header.split(',').any(|c| c == col), "{col} in {header}");
    }
    assert_eq!(csv.lines().count(), ROWS.len() + 1);
    let csv = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    assert_eq!(csv.lines().count(), PAIRS.len() + 1);
    let v = read_json(&out.join("variants.json"));
    for (i, name) in ["shared", "per subject"].iter().enumerate() {
        assert_eq!(v[i]["rows"], t["rows"], "ROIs from the option ({name})");
        assert_eq!(v[i]["pairs"], t["pairs"], "ROIs from the option ({name})");
    }
}

#[test]
fn roi_compare_one_sample_without_fdr_and_chosen_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_script(
        dir.path(),
        &script(
            true,
            &format!(
                r#"
let t = stats::roi_compare(results, #{{test: "one_sample", fdr: false, metrics: ["searchlight"], alpha: 0.001}});
io::save(t, {:?});
"#,
                out.join("t.json").display().to_string()
            ),
        ),
    );
    assert!(o.status.success(), "script failed: {}", stderr(&o));
    let t = read_json(&out.join("t.json"));
    assert_eq!(t["metrics"], serde_json::json!(["searchlight"]));
    let rows = &t["rows"];
    assert!(rows.get("q").is_none(), "no q column without fdr");
    let want: Vec<_> = ROWS.iter().filter(|r| r.0 == "searchlight").collect();
    assert_eq!(rows["p"].as_array().unwrap().len(), want.len());
    for (i, r) in want.iter().enumerate() {
        close(&rows["p"][i], r.6, "p");
        // Without FDR, significant is p < alpha.
        assert_eq!(rows["significant"][i], r.6 < 0.001, "row {i}");
    }
    assert_eq!(t["pairs"]["p"].as_array().unwrap().len(), 0);
}

#[test]
fn voxel_compare_ttest_and_fdr_match_numpy_and_scipy() {
    // a, b: the encoding maps of sub-05, MLLM and LLM (b[6] unscored). numpy:
    //   both = ~isnan(a) & ~isnan(b) [& STS]; mean(a[both] > b[both]); mean(a[both]);
    //   np.quantile(a[both & b != 0] / b[both & b != 0], [.05, .25, .5, .75, .95])
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run_script(
        dir.path(),
        &format!(
            r#"
let nan = 0.0 / 0.0;
let a = tensor::from([0.0178, 0.0882, 0.09, 0.0221, 0.1543, 0.172, 0.1694, 0.0997, 0.1259]);
let b = tensor::from([0.0352, 0.0883, 0.053, 0.0964, 0.0663, 0.1214, nan, 0.1296, 0.0158]);
let all = stats::voxel_compare(#{{r: a}}, b);
let sts = stats::voxel_compare(a, b, #{{mask: [1, 1, 1, 1, 0, 0, 0, 0, 0]}});
let tt = stats::ttest(tensor::from([[0.12, 0.05], [0.08, 0.07], [0.15, 0.09], [0.03, 0.04], [0.10, 0.02]]));
let x = tensor::from([0.12, 0.08, nan, 0.03, 0.10]);
let y = tensor::from([0.05, 0.07, 0.09, nan, 0.02]);
let rel = stats::ttest(x, #{{b: y}});
let f = stats::fdr([0.01, 0.04, nan, 0.03, 0.005, 0.2, 0.5, 0.045]);
io::save(#{{all: all, sts: sts, tt: tt, rel: rel, f: f}}, {:?});
"#,
            out.join("v.json").display().to_string()
        ),
    );
    assert!(o.status.success(), "script failed: {}", stderr(&o));
    let v = read_json(&out.join("v.json"));
    let all = &v["all"];
    close(&all["fraction_a_better"], 0.5, "fraction");
    assert_eq!(all["n_voxels"], 8);
    close(&all["mean_a"], 0.09625, "mean_a");
    close(&all["mean_b"], 0.07575, "mean_b");
    assert_eq!(
        all["ratio_voxels"],
        serde_json::json!([0, 1, 2, 3, 4, 5, 7, 8])
    );
    for (k, w) in ["q05", "q25", "median", "q75", "q95"].iter().zip([
        0.3260031591852131,
        0.7033880471380471,
        1.207835725520121,
        1.8554099433677682,
        5.993985432537179,
    ]) {
        close(&all["ratio_quantiles"][k], w, k);
    }
    let sts = &v["sts"];
    close(&sts["fraction_a_better"], 0.25, "fraction in STS");
    assert_eq!(sts["n_voxels"], 4);
    close(&sts["mean_a"], 0.054525000000000004, "STS mean_a");
    close(
        &sts["ratio_quantiles"]["median"],
        0.7522746576752806,
        "STS median",
    );
    close(
        &sts["ratio_quantiles"]["q95"],
        1.5932263509904057,
        "STS q95",
    );
    // scipy.stats.ttest_1samp(M, 0) over the columns of M (axis 0):
    //   t = [4.764400003060466, 4.469071798452788], p = [0.00887647236833734, 0.011082591815720666]
    close(&v["tt"]["t"][0], 4.764400003060466, "ttest t[0]");
    close(&v["tt"]["p"][0], 0.00887647236833734, "ttest p[0]");
    close(&v["tt"]["t"][1], 4.469071798452788, "ttest t[1]");
    close(&v["tt"]["p"][1], 0.011082591815720666, "ttest p[1]");
    // scipy.stats.ttest_rel(x, y, nan_policy="omit") -> 2.439977125321674, 0.1348190873025998
    close(&v["rel"]["t"], 2.439977125321674, "ttest_rel t");
    close(&v["rel"]["p"], 0.1348190873025998, "ttest_rel p");
    assert_eq!(v["rel"]["n"], 3);
    // scipy.stats.false_discovery_control on the non-NaN p-values:
    //   [0.035, 0.063, 0.063, 0.035, 0.23333333333333336, 0.5, 0.063]
    let want = [
        0.035,
        0.063,
        f64::NAN,
        0.063,
        0.035,
        0.23333333333333336,
        0.5,
        0.063,
    ];
    for (i, w) in want.iter().enumerate() {
        close(&v["f"]["q"][i], *w, &format!("q[{i}]"));
    }
    assert_eq!(v["f"]["m"], 7);
    assert_eq!(v["f"]["n_rejected"], 2);
}

fn fails_with(body: &str, rois_in_record: bool, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let o = run_script(dir.path(), &script(rois_in_record, body));
    assert!(!o.status.success(), "expected an error for {body}");
    let e = stderr(&o);
    for n in needles {
        assert!(e.contains(n), "error should mention '{n}': {e}");
    }
}

#[test]
fn roi_compare_errors_say_what_is_wrong() {
    // No ROI masks anywhere.
    fails_with(
        "stats::roi_compare(results);",
        false,
        &["stats::roi_compare", "has no ROI masks", "rois"],
    );
    // A subject lacks a model.
    fails_with(
        r#"let r = results.filter(|x| !(x.subject == "sub-03" && x.model == "LLM"));
stats::roi_compare(r);"#,
        true,
        &["sub-03", "'LLM'", "missing"],
    );
    // An empty ROI.
    fails_with(
        r#"stats::roi_compare(results, #{rois: #{STS: rois.STS, PPA: tensor::zeros(9)}});"#,
        false,
        &["ROI 'PPA'", "is empty"],
    );
    // A mask of the wrong length.
    fails_with(
        r#"stats::roi_compare(results, #{rois: #{STS: [1, 1, 0]}});"#,
        false,
        &["ROI 'STS' has 3 flags", "9 voxels"],
    );
    // Per-subject ROIs without one subject.
    fails_with(
        r#"stats::roi_compare(results, #{rois: #{"sub-01": rois}});"#,
        false,
        &["no ROIs for subject 'sub-02'"],
    );
    // A typo'd test, a metric that is not there, two records for one subject and model.
    fails_with(
        r#"stats::roi_compare(results, #{test: "paired"});"#,
        true,
        &["option 'test': 'paired' is not one of paired_t"],
    );
    fails_with(
        r#"stats::roi_compare(results, #{metrics: ["encodng"]});"#,
        true,
        &["metric 'encodng' is in no record", "encoding"],
    );
    fails_with(
        r#"results.push(results[0]); stats::roi_compare(results);"#,
        true,
        &["results[0] and results[15]", "sub-01", "MLLM"],
    );
}

#[test]
fn one_sided_ttests_match_scipy() {
    // scipy.stats.ttest_1samp(x, 0, alternative=...) with scipy 1.17.1.
    let dir = tempfile::tempdir().unwrap();
    let o = run_script(
        dir.path(),
        r#"
        let x = tensor::from([0.12, -0.08, 0.15, 0.03, 0.10]);
        let y = tensor::from([-0.12, -0.08, -0.15, -0.03, 0.01]);
        io::save(#{
            greater: stats::ttest(x, #{alternative: "greater"}).p,
            less: stats::ttest(x, #{alternative: "less"}).p,
            y_greater: stats::ttest(y, #{alternative: "greater"}).p,
        }, out + "/p.json");
        "#,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = read_json(&dir.path().join("out/p.json"));
    close(&v["greater"], 0.09704063466354303, "greater");
    close(&v["less"], 0.9029593653364569, "less");
    close(&v["y_greater"], 0.9681509659067669, "y greater");
    let o = run_script(
        dir.path(),
        "stats::ttest(tensor::from([1.0, 2.0]), #{alternative: \"bigger\"});",
    );
    assert!(
        stderr(&o).contains("option 'alternative': 'bigger' is not one of two-sided"),
        "{}",
        stderr(&o)
    );
}
