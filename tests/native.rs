//! Native (C ABI) plugins end to end, through the real binary (feature `native`): the Rust
//! example built by `emoscope plugin build` and the C example built with cc, checked against
//! independent computations; a panic and an error that leave the host usable; and libraries that
//! must be refused: another ABI version (before any call into them), no version symbol, not a
//! library at all.
#![cfg(feature = "native")]

use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bin(plugins: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emoscope"));
    // Native examples build in their own folder, so their dependencies compile once.
    c.env("CARGO_TARGET_DIR", root().join("target/native-plugins"))
        .env("EMOSCOPE_PLUGIN_PATH", plugins);
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Compile `sdk/examples/native_c/scale.c` into `dir` with `plugin.toml` beside it.
fn build_c(dir: &Path, defines: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let src = root().join("sdk/examples/native_c");
    let o = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-O2", "-Wall"])
        .args(defines)
        .arg("-I")
        .arg(root().join("sdk/include"))
        .arg(src.join("scale.c"))
        .arg("-o")
        .arg(dir.join("libcscale.so"))
        .output()
        .expect("a C compiler (cc) is needed for the native plugin tests");
    assert!(o.status.success(), "cc: {}", text(&o));
    std::fs::copy(src.join("plugin.toml"), dir.join("plugin.toml")).unwrap();
}

fn install(plugins: &Path, dir: &Path) {
    let o = bin(plugins)
        .args(["plugin", "install"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "install {}: {}",
        dir.display(),
        text(&o)
    );
}

fn run(plugins: &Path, out: &Path, script: &str) -> Output {
    std::fs::create_dir_all(out).unwrap();
    let f = out.join("script.rhai");
    std::fs::write(&f, script).unwrap();
    bin(plugins)
        .arg("run")
        .arg(&f)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .output()
        .unwrap()
}

/// Pearson correlation of rows, the textbook way.
fn pearson(x: &Array2<f64>) -> Array2<f64> {
    let (n, d) = x.dim();
    let mut r = Array2::zeros((n, n));
    for i in 0..n {
        for j in 0..n {
            let (a, b) = (x.row(i), x.row(j));
            let (ma, mb) = (a.sum() / d as f64, b.sum() / d as f64);
            let cov: f64 = a.iter().zip(b).map(|(p, q)| (p - ma) * (q - mb)).sum();
            let va: f64 = a.iter().map(|p| (p - ma).powi(2)).sum();
            let vb: f64 = b.iter().map(|q| (q - mb).powi(2)).sum();
            r[[i, j]] = cov / (va * vb).sqrt();
        }
    }
    r
}

#[test]
fn the_native_examples_build_install_and_agree_with_independent_computations() {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    // The Rust example, through `emoscope plugin build` (kind = "native" in its Cargo.toml).
    let ex = root().join("sdk/examples/native_rsm");
    let o = bin(&plugins)
        .args(["plugin", "build"])
        .arg(&ex)
        .output()
        .unwrap();
    assert!(o.status.success(), "build: {}", text(&o));
    let m = std::fs::read_to_string(ex.join("dist/plugin.toml")).unwrap();
    assert!(
        m.contains("kind = \"native\"") && m.contains("interface = \"1\"") && !m.contains("fuel"),
        "{m}"
    );
    install(&plugins, &ex.join("dist"));
    // The C example, built with the header alone.
    let c = tmp.path().join("cscale");
    build_c(&c, &[]);
    install(&plugins, &c);

    let o = bin(&plugins).arg("plugins").output().unwrap();
    let t = text(&o);
    for name in ["native_rsm", "cscale"] {
        let row = t
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not listed: {t}"));
        assert!(
            row.contains("native")
                && row.contains(" 1 ")
                && row.contains(&*plugins.to_string_lossy()),
            "{row}"
        );
    }
    assert!(!t.contains("warning"), "{t}");

    let out = tmp.path().join("out");
    let o = run(
        &plugins,
        &out,
        r#"
        let x = tensor::randn([40, 9], #{seed: 7});
        io::save(x, `${out}/x.npy`);
        io::save(native_rsm::pearson(x), `${out}/r.npy`);
        io::save(native_rsm::pearson(x.astype("f32")), `${out}/r32.npy`);
        io::save(cscale::scale(x, #{factor: -1.5}), `${out}/s.npy`);
        io::save(cscale::scale(x.astype("f32"), #{factor: 3.0}), `${out}/s32.npy`);
        let e = native_rsm::explain(#{a: [1, 2], t: x});
        if e.kind != "json" || e.value.t != "f64 tensor [40, 9]" || e.value.a != [1, 2] { throw `explain: ${e}`; }
        let e = native_rsm::explain(x.astype("f32"));
        if e.dtype != "f32" || e.shape != [40, 9] { throw `explain: ${e}`; }
        let caught = "";
        try { native_rsm::panic_test(); } catch (err) { caught = `${err}`; }
        print(`panic: ${caught}`);
        try { native_rsm::pearson(tensor::zeros([3, 4])); } catch (err) { print(`error: ${err}`); }
        try { native_rsm::scale(x, #{factr: 2.0}); } catch (err) { print(`option: ${err}`); }
        try { cscale::scale("text"); } catch (err) { print(`c error: ${err}`); }
        // The host is still fine after all of that.
        let y = native_rsm::scale(x, #{factor: 2.0});
        print(`after: ${tensor::max(tensor::abs(y - x * 2.0))}`);
        "#,
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("panic: native_rsm::panic_test: panicked: native_rsm panicked on purpose"),
        "{t}"
    );
    assert!(
        t.contains("error: native_rsm::pearson: pearson: row 0 is constant"),
        "{t}"
    );
    assert!(
        t.contains("option: native_rsm::scale: unknown option 'factr'"),
        "{t}"
    );
    assert!(t.contains("c error: cscale::scale:"), "{t}");
    assert!(t.contains("after: 0"), "{t}");

    let x: Array2<f64> = ndarray_npy::read_npy(out.join("x.npy")).unwrap();
    let want = pearson(&x);
    let r: Array2<f64> = ndarray_npy::read_npy(out.join("r.npy")).unwrap();
    let diff = (&r - &want).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
    assert!(diff < 1e-12, "pearson differs by {diff}");
    assert_eq!(r, r.t(), "exactly symmetric");
    let r32: Array2<f64> = ndarray_npy::read_npy(out.join("r32.npy")).unwrap();
    let diff = (&r32 - &want).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
    assert!(diff < 1e-5, "pearson of f32 input differs by {diff}");
    let s: Array2<f64> = ndarray_npy::read_npy(out.join("s.npy")).unwrap();
    assert_eq!(s, x.mapv(|v| v * -1.5));
    let s32: Array2<f64> = ndarray_npy::read_npy(out.join("s32.npy")).unwrap();
    assert_eq!(s32, x.mapv(|v| f64::from(v as f32) * 3.0));
}

#[test]
fn libraries_of_another_abi_or_none_are_refused_before_any_call() {
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    // ABI 2 in the library, 1 in the manifest: the version symbol refuses it. Its
    // emoscope_plugin_entry() aborts the process if called, so a host that asked for the table
    // before checking would not survive to print the refusal.
    let v2 = tmp.path().join("v2");
    build_c(&v2, &["-DEMOSCOPE_PLUGIN_ABI_VERSION=2u"]);
    install(&plugins, &v2);
    let o = bin(&plugins).arg("plugins").output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("built for native plugin ABI 2, but this emoscope speaks ABI 1"),
        "{t}"
    );
    assert!(!t.contains("called despite"), "{t}");
    assert!(!t.lines().any(|l| l.starts_with("cscale ")), "{t}");

    // A manifest that declares ABI 2 is refused without opening the library.
    let m2 = tmp.path().join("m2");
    build_c(&m2, &[]);
    let toml = std::fs::read_to_string(m2.join("plugin.toml")).unwrap();
    std::fs::write(
        m2.join("plugin.toml"),
        toml.replace("interface = \"1\"", "interface = \"2\"")
            .replace("name = \"cscale\"", "name = \"cscale_m2\""),
    )
    .unwrap();
    // A library with no version symbol, and a file that is no library at all.
    let none = tmp.path().join("none");
    std::fs::create_dir_all(&none).unwrap();
    std::fs::write(
        none.join("empty.c"),
        "int emoscope_unrelated(void) { return 0; }\n",
    )
    .unwrap();
    let o = Command::new("cc")
        .args(["-shared", "-fPIC"])
        .arg(none.join("empty.c"))
        .arg("-o")
        .arg(none.join("libnone.so"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(
        none.join("plugin.toml"),
        "name = \"none\"\nversion = \"0.1.0\"\nkind = \"native\"\ninterface = \"1\"\nfile = \"libnone.so\"\n",
    )
    .unwrap();
    let junk = tmp.path().join("junk");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("libjunk.so"), b"this is not an ELF file").unwrap();
    std::fs::write(
        junk.join("plugin.toml"),
        "name = \"junk\"\nversion = \"0.1.0\"\nkind = \"native\"\ninterface = \"1\"\nfile = \"libjunk.so\"\n",
    )
    .unwrap();
    for d in [&m2, &none, &junk] {
        install(&plugins, d);
    }
    let o = bin(&plugins).arg("plugins").output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for needle in [
        "plugin 'cscale_m2' was built for native plugin ABI 2, but this emoscope speaks ABI 1",
        "not an emoscope native plugin: it exports no emoscope_plugin_abi_version()",
        "libjunk.so: cannot load the library",
    ] {
        assert!(t.contains(needle), "{needle} not in {t}");
    }
    // Scripts still run, with the refusals as warnings.
    let o = run(
        &plugins,
        &tmp.path().join("out"),
        "print(`sum ${tensor::sum(tensor::ones([3]))}`);",
    );
    assert!(
        o.status.success() && text(&o).contains("sum 3"),
        "{}",
        text(&o)
    );
}
