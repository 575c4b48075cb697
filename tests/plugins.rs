//! Third-party WASM plugins end to end, through the real binary: docs/plugins.md's steps
//! (scaffold, build, install, call from a script and the REPL), the example plugins against
//! independent computations, and the sandbox against hostile plugins.
//!
//! Building a component needs the wasm32-wasip2 target; without it these tests print SKIPPED and
//! pass, unless `EMOSCOPE_REQUIRE_WASM=1` (CI installs the target and sets it).
#![cfg(feature = "wasm")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn wasm_ready(test: &str) -> bool {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output();
    let ok = sysroot.ok().is_some_and(|o| {
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        Path::new(&s).join("lib/rustlib/wasm32-wasip2").is_dir()
    });
    if !ok {
        assert!(
            std::env::var("EMOSCOPE_REQUIRE_WASM").as_deref() != Ok("1"),
            "EMOSCOPE_REQUIRE_WASM=1 but the wasm32-wasip2 target is missing (rustup target add wasm32-wasip2)"
        );
        eprintln!("SKIPPED {test}: no wasm32-wasip2 target (rustup target add wasm32-wasip2)");
    }
    ok
}

/// One target folder for every guest build, so their dependencies compile once.
fn guest_target() -> PathBuf {
    root().join("target/wasm-plugins")
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emoscope"));
    c.env("CARGO_TARGET_DIR", guest_target());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `emoscope plugin build` for an example, installed into `plugins` (builds are serialised:
/// cargo would wait on the shared target's lock anyway).
fn build_and_install(example: &str, plugins: &Path, cache: &Path) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _g = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("sdk/examples").join(example);
    let o = bin()
        .args(["plugin", "build"])
        .arg(&dir)
        .env("EMOSCOPE_CACHE", cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "build {example}: {}", text(&o));
    let o = bin()
        .args(["plugin", "install"])
        .arg(dir.join("dist"))
        .env("EMOSCOPE_PLUGIN_PATH", plugins)
        .output()
        .unwrap();
    assert!(o.status.success(), "install {example}: {}", text(&o));
    let line = String::from_utf8_lossy(&o.stdout).trim().to_string();
    PathBuf::from(line.trim_start_matches("installed "))
}

fn run(script: &str, plugins: &Path, cache: &Path, out: &Path) -> Output {
    let f = out.join("script.rhai");
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(&f, script).unwrap();
    bin()
        .arg("run")
        .arg(&f)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .env("EMOSCOPE_PLUGIN_PATH", plugins)
        .env("EMOSCOPE_CACHE", cache)
        .output()
        .unwrap()
}

#[test]
fn the_guide_scaffold_build_install_call_from_script_and_repl() {
    if !wasm_ready("the_guide_scaffold_build_install_call_from_script_and_repl") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (plugins, cache) = (tmp.path().join("plugins"), tmp.path().join("cache"));
    // 1. Scaffold.
    let o = bin()
        .args(["plugin", "new", "demo"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(tmp.path().join("demo/src/lib.rs").is_file());
    let o = bin()
        .args(["plugin", "new", "demo"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        !o.status.success() && text(&o).contains("already exists"),
        "{}",
        text(&o)
    );
    // 3. Build and install.
    let o = bin()
        .args(["plugin", "build", "demo"])
        .current_dir(tmp.path())
        .env("EMOSCOPE_CACHE", &cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let m = std::fs::read_to_string(tmp.path().join("demo/dist/plugin.toml")).unwrap();
    assert!(
        m.contains("interface = \"0.1.0\"") && m.contains("kind = \"wasm\""),
        "{m}"
    );
    let o = bin()
        .args(["plugin", "install", "demo"])
        .current_dir(tmp.path())
        .env("EMOSCOPE_PLUGIN_PATH", &plugins)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(plugins.join("demo/plugin.toml").is_file());
    let o = bin()
        .arg("plugins")
        .env("EMOSCOPE_PLUGIN_PATH", &plugins)
        .env("EMOSCOPE_CACHE", &cache)
        .output()
        .unwrap();
    let t = text(&o);
    let row = t
        .lines()
        .find(|l| l.starts_with("demo "))
        .unwrap_or_else(|| panic!("{t}"));
    for needle in [
        "wasm",
        "0.1.0",
        "none",
        &plugins.join("demo").display().to_string(),
    ] {
        assert!(row.contains(needle), "{needle} not in {row}");
    }
    // Its documentation, from describe(), like a builtin's.
    let o = bin()
        .args(["doc", "demo"])
        .env("EMOSCOPE_PLUGIN_PATH", &plugins)
        .env("EMOSCOPE_CACHE", &cache)
        .output()
        .unwrap();
    assert!(
        text(&o).contains("Multiply a tensor by a factor") && text(&o).contains("factor"),
        "{}",
        text(&o)
    );
    // 4. Use it from a script: the result is x × factor, computed here independently.
    let o = run(
        r#"
        let x = tensor::randn([300, 7], #{seed: 4});
        let y = demo::scale(x, #{factor: 2.5});
        if y.shape != [300, 7] { throw `shape ${y.shape}`; }
        let d = tensor::max(tensor::abs(y - x * 2.5));
        if d > 1e-12 { throw `max difference ${d}`; }
        let caught = false;
        try { demo::scale(x, #{factr: 2.0}); } catch (e) { caught = `${e}`.contains("unknown option 'factr'"); }
        if !caught { throw "an unknown option must be an error"; }
        print("scaled ok");
        "#,
        &plugins,
        &cache,
        &tmp.path().join("out"),
    );
    assert!(
        o.status.success() && text(&o).contains("scaled ok"),
        "{}",
        text(&o)
    );
    // The compiled component was cached on the first load.
    let cached = std::fs::read_dir(cache.join("wasm")).unwrap().count();
    assert!(cached >= 1);

    // ... and from the REPL.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emoscope"));
    cmd.arg("repl")
        .env("EMOSCOPE_PLUGIN_PATH", &plugins)
        .env("EMOSCOPE_CACHE", &cache)
        .env("EMOSCOPE_HISTORY", tmp.path().join("history"))
        .env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    p.exp_string("emoscope> ").unwrap();
    p.send_line("tensor::sum(demo::scale(tensor::ones([4, 5]), #{factor: 3.0}))")
        .unwrap();
    p.exp_string("60").unwrap();
    p.send_line(":quit").unwrap();
}

#[test]
fn the_example_judge_equals_judge_from_features() {
    if !wasm_ready("the_example_judge_equals_judge_from_features") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (plugins, cache) = (tmp.path().join("plugins"), tmp.path().join("cache"));
    build_and_install("odd_one_out_judge", &plugins, &cache);
    build_and_install("cityblock_rsm", &plugins, &cache);
    let out = tmp.path().join("out");
    let o = run(
        r#"
        let X = tensor::randn([60, 8], #{seed: 2});
        let T = triplets::random(60, 5000, #{seed: 3});
        let a = odd_one_out::judge(X, T);
        let b = judge::from_features(X, T, #{rule: "mean_distance"});
        if !tensor::equal(a, b) { throw "the plugin's judgements differ from judge::from_features"; }
        let R = cityblock::rsm(X);
        io::save(X, out + "/X.npy");
        io::save(R, out + "/R.npy");
        let c = rsa::compare(R, rsa::rsm(X, #{metric: "pearson"}));
        print(`judge ok; cityblock vs pearson RSM r = ${c.r}`);
        "#,
        &plugins,
        &cache,
        &out,
    );
    assert!(
        o.status.success() && text(&o).contains("judge ok"),
        "{}",
        text(&o)
    );
    // The city-block RSM against a computation here.
    let x: ndarray::Array2<f64> = ndarray_npy::read_npy(out.join("X.npy")).unwrap();
    let r: ndarray::Array2<f64> = ndarray_npy::read_npy(out.join("R.npy")).unwrap();
    for i in 0..60 {
        for j in 0..60 {
            let l1: f64 = (0..8).map(|k| (x[[i, k]] - x[[j, k]]).abs()).sum();
            assert!(
                (r[[i, j]] + l1).abs() < 1e-9,
                "({i}, {j}): {} vs {}",
                r[[i, j]],
                -l1
            );
        }
    }
}

fn set_limits(dir: &Path, fuel: u64, memory_mb: u64, timeout_s: f64) {
    let p = dir.join("plugin.toml");
    let m = std::fs::read_to_string(&p).unwrap();
    let head = m.split("[limits]").next().unwrap();
    std::fs::write(
        &p,
        format!(
            "{head}[limits]\nfuel = {fuel}\nmemory_mb = {memory_mb}\ntimeout_s = {timeout_s}\n"
        ),
    )
    .unwrap();
}

#[test]
fn hostile_plugins_are_contained_and_the_host_goes_on() {
    if !wasm_ready("hostile_plugins_are_contained_and_the_host_goes_on") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (plugins, cache) = (tmp.path().join("plugins"), tmp.path().join("cache"));
    let dir = build_and_install("hostile", &plugins, &cache);
    set_limits(&dir, 3_000_000_000, 64, 60.0);
    let script = r#"
        for f in ["spin", "bomb", "read_file", "read_env", "trap"] {
            try {
                call_fn(f);
                print(`${f}: returned`);
            } catch (e) {
                print(`${f}: ${e}`);
            }
        }
        print(`ok: ${hostile::ok()}`);
        fn call_fn(f) {
            switch f {
                "spin" => hostile::spin(),
                "bomb" => hostile::bomb(),
                "read_file" => hostile::read_file(),
                "read_env" => hostile::read_env(),
                "trap" => hostile::trap(),
            }
        }
    "#;
    let o = run(script, &plugins, &cache, &tmp.path().join("out"));
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let line = |f: &str| {
        t.lines()
            .find(|l| l.starts_with(&format!("{f}: ")))
            .unwrap_or_else(|| panic!("no line for {f}: {t}"))
            .to_string()
    };
    assert!(line("spin").contains("ran out of fuel"), "{t}");
    assert!(line("bomb").contains("hit its memory cap (64 MiB"), "{t}");
    assert!(line("read_file").contains("cannot open /etc/passwd"), "{t}");
    assert!(line("read_env").contains("cannot read HOME"), "{t}");
    assert!(
        line("trap").contains("trapped") && line("trap").contains("a deliberate panic"),
        "{t}"
    );
    assert!(line("ok").contains("42"), "{t}");

    // A wall-clock limit stops a loop that fuel alone would let run for minutes.
    set_limits(&dir, u64::MAX / 2, 64, 1.0);
    let o = run(
        "try { hostile::spin(); } catch (e) { print(`spin: ${e}`); } print(`ok: ${hostile::ok()}`);",
        &plugins,
        &cache,
        &tmp.path().join("out2"),
    );
    let t = text(&o);
    assert!(
        t.contains("ran past its time limit (1 s") && t.contains("ok: 42"),
        "{t}"
    );
}

#[test]
fn bad_components_and_other_interface_versions_are_refused() {
    if !wasm_ready("bad_components_and_other_interface_versions_are_refused") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (plugins, cache) = (tmp.path().join("plugins"), tmp.path().join("cache"));
    let good = build_and_install("cityblock_rsm", &plugins, &cache);
    let wasm = std::fs::read(good.join("cityblock.wasm")).unwrap();
    let manifest = std::fs::read_to_string(good.join("plugin.toml")).unwrap();
    let variant = |name: &str, bytes: &[u8], manifest: String| {
        let d = plugins.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cityblock.wasm"), bytes).unwrap();
        std::fs::write(
            d.join("plugin.toml"),
            manifest.replace("name = \"cityblock\"", &format!("name = \"{name}\"")),
        )
        .unwrap();
    };
    variant("garbage", b"this is not wasm", manifest.clone());
    variant("core", b"\0asm\x01\0\0\0", manifest.clone());
    variant(
        "newer_manifest",
        &wasm,
        manifest.replace("interface = \"0.1.0\"", "interface = \"0.2.0\""),
    );
    // The same component, its imports renamed to interface 0.2.0 (same length, so still valid).
    let mut patched = wasm.clone();
    let (from, to) = (
        b"emoscope:plugin/types@0.1.0",
        b"emoscope:plugin/types@0.2.0",
    );
    let mut n = 0;
    for i in 0..patched.len().saturating_sub(from.len()) {
        if &patched[i..i + from.len()] == from {
            patched[i..i + to.len()].copy_from_slice(to);
            n += 1;
        }
    }
    assert!(n > 0);
    variant("newer_component", &patched, manifest.clone());
    let o = bin()
        .arg("plugins")
        .env("EMOSCOPE_PLUGIN_PATH", &plugins)
        .env("EMOSCOPE_CACHE", &cache)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.lines().any(|l| l.starts_with("cityblock ")), "{t}");
    assert!(
        t.contains("garbage") && t.contains("not a valid WASM component"),
        "{t}"
    );
    assert!(
        t.contains("a core WebAssembly module, not a component"),
        "{t}"
    );
    assert!(
        t.contains("built for interface emoscope:plugin@0.2.0, but this emoscope speaks @0.1.0"),
        "{t}"
    );
    assert_eq!(t.matches("emoscope:plugin@0.2.0").count(), 2, "{t}");
    // A plugin whose name a builtin has is skipped and reported, the builtin kept.
    let d = plugins.join("zz_rsa");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("cityblock.wasm"), &wasm).unwrap();
    std::fs::write(
        d.join("plugin.toml"),
        manifest.replace("name = \"cityblock\"", "name = \"rsa\""),
    )
    .unwrap();
    let o = bin()
        .arg("plugins")
        .env("EMOSCOPE_PLUGIN_PATH", &plugins)
        .env("EMOSCOPE_CACHE", &cache)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(
        t.contains("plugin 'rsa' is not loaded: the name is taken by the builtin plugin"),
        "{t}"
    );
    // A run still works beside the broken plugins, which are warnings.
    let o = run(
        "print(rsa::rsm(tensor::eye(3)).shape);",
        &plugins,
        &cache,
        &tmp.path().join("out"),
    );
    assert!(
        o.status.success() && text(&o).contains("warning:"),
        "{}",
        text(&o)
    );
}

/// A loopback OpenAI-compatible server: `/embeddings` answers each text (numbers separated by
/// spaces) with those numbers, `/chat/completions` echoes the last message. It records the
/// model each request named.
/// The requests a loopback server received: (path, body).
type Received = std::sync::Arc<Mutex<Vec<(String, String)>>>;

fn loopback_server() -> (String, Received) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let j: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let model = j["model"].as_str().unwrap_or("").to_string();
            log.lock().unwrap().push((path.clone(), model.clone()));
            let answer = if path.ends_with("/embeddings") {
                let data: Vec<serde_json::Value> = j["input"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let v: Vec<f64> = t
                            .as_str()
                            .unwrap_or("")
                            .split_whitespace()
                            .map(|x| x.parse().unwrap())
                            .collect();
                        serde_json::json!({"object": "embedding", "index": i, "embedding": v})
                    })
                    .collect();
                serde_json::json!({"object": "list", "data": data, "model": model})
            } else {
                let q = j["messages"][0]["content"].as_str().unwrap_or("");
                serde_json::json!({"choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": format!("echo: {q}")}}]})
            };
            let b = answer.to_string();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn inference_reaches_a_plugin_only_when_asked_for_and_granted() {
    if !wasm_ready("inference_reaches_a_plugin_only_when_asked_for_and_granted") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (plugins, cache) = (tmp.path().join("plugins"), tmp.path().join("cache"));
    let config = tmp.path().join("config");
    build_and_install("odd_one_out_judge", &plugins, &cache);
    build_and_install("hostile", &plugins, &cache);
    let (url, seen) = loopback_server();
    // Items whose features are small integers (exact in the f32 an embedding arrives as), and
    // their "captions": the same numbers as text, which the server embeds as themselves.
    let (n, d) = (24usize, 5usize);
    let mut s = 11u64;
    let x = ndarray::Array2::from_shape_fn((n, d), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) % 11) as f64 - 5.0
    });
    let texts: Vec<String> = x
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .map(|v| format!("{v}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    ndarray_npy::write_npy(out.join("X.npy"), &x).unwrap();
    std::fs::write(
        out.join("texts.json"),
        serde_json::to_string(&texts).unwrap(),
    )
    .unwrap();
    let with_config = |c: &mut Command| {
        c.env("EMOSCOPE_CONFIG", &config)
            .env("EMOSCOPE_PLUGIN_PATH", &plugins)
            .env("EMOSCOPE_CACHE", &cache);
    };
    let plugins_row = |name: &str| {
        let mut c = bin();
        with_config(c.arg("plugins"));
        let t = text(&c.output().unwrap());
        t.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{t}"))
            .to_string()
    };
    let script = |body: &str| {
        let f = out.join("s.rhai");
        std::fs::write(&f, body).unwrap();
        let mut c = bin();
        c.arg("run").arg(&f).arg("--out").arg(&out).arg("--quiet");
        with_config(&mut c);
        text(&c.output().unwrap())
    };
    let judge = r#"
        let X = io::load(out + "/X.npy");
        let texts = io::load(out + "/texts.json");
        let T = triplets::random(24, 3000, #{seed: 8});
        let a = odd_one_out::embed_judge(texts, T);
        let b = judge::from_features(X, T, #{rule: "mean_distance"});
        if !tensor::equal(a, b) { throw "embed_judge differs from judge::from_features on the same features"; }
        print(`embed_judge ok; ${odd_one_out::ask("is this granted?")}`);
    "#;

    // Asked for but not granted: a clear refusal naming the command that grants it.
    assert!(
        plugins_row("odd_one_out").contains("inference(not granted)"),
        "{}",
        plugins_row("odd_one_out")
    );
    let t = script(judge);
    assert!(
        t.contains("inference is not granted; the user grants it with `emoscope plugin grant odd_one_out --url URL --model MODEL`"),
        "{t}"
    );
    assert!(seen.lock().unwrap().is_empty(), "no request before a grant");

    // Granted: embeddings and chat reach the loopback server, with the models granted.
    for name in ["odd_one_out", "hostile"] {
        let mut c = bin();
        c.args([
            "plugin",
            "grant",
            name,
            "--url",
            &url,
            "--model",
            "chat-m",
            "--embed-model",
            "embed-m",
        ]);
        with_config(&mut c);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    assert!(config.join("grants.toml").is_file());
    assert!(plugins_row("odd_one_out").contains("inference(granted)"));
    let t = script(judge);
    assert!(t.contains("embed_judge ok; echo: is this granted?"), "{t}");
    {
        let seen = seen.lock().unwrap();
        assert!(
            seen.contains(&("/v1/embeddings".into(), "embed-m".into())),
            "{seen:?}"
        );
        assert!(
            seen.contains(&("/v1/chat/completions".into(), "chat-m".into())),
            "{seen:?}"
        );
    }
    // A grant does not reach a plugin whose manifest did not ask.
    let before = seen.lock().unwrap().len();
    let t = script(r#"try { hostile::infer(); } catch (e) { print(`refused: ${e}`); }"#);
    assert!(
        t.contains("refused:") && t.contains("inference was not asked for"),
        "{t}"
    );
    assert_eq!(seen.lock().unwrap().len(), before);

    // Revoked: refused again.
    let mut c = bin();
    c.args(["plugin", "revoke", "odd_one_out"]);
    with_config(&mut c);
    assert!(c.output().unwrap().status.success());
    let t = script(judge);
    assert!(t.contains("inference is not granted"), "{t}");
}

#[test]
fn reads_across_many_chunks_and_the_hosts_linear_algebra_match_the_host() {
    if !wasm_ready("reads_across_many_chunks_and_the_hosts_linear_algebra_match_the_host") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (plugins, cache) = (tmp.path().join("plugins"), tmp.path().join("cache"));
    build_and_install("bench_probe", &plugins, &cache);
    // 2.5 chunks of 2^20 elements, so reads cross chunk boundaries and end on a partial one;
    // integers below 2^24 are exact in f32, and their sum (below 2^53) in f64.
    let o = run(
        r#"
        let n = 2621440;
        let x = tensor::arange(n);
        let want = tensor::sum(x);
        let a = probe::sum(x);
        let b = probe::sum_f32(x);
        if a != want || b != want { throw `sums: ${a} ${b} vs ${want}`; }
        let f = x.astype("f32");
        if probe::sum(f) != want { throw "f32 tensor read as f64"; }
        let A = tensor::randn([30, 12], #{seed: 1});
        let B = tensor::randn([12, 9], #{seed: 2});
        let d = tensor::max(tensor::abs(probe::host_matmul(A, B) - tensor::matmul(A, B)));
        if d > 1e-12 { throw `matmul differs by ${d}`; }
        let d = tensor::max(tensor::abs(probe::host_rsm(A) - rsa::rsm(A, #{metric: "pearson"})));
        if d > 1e-12 { throw `rsm differs by ${d}`; }
        let caught = "";
        try { probe::host_matmul(A, A); } catch (e) { caught = `${e}`; }
        print(`chunks ok; a bad matmul: ${caught}`);
        "#,
        &plugins,
        &cache,
        &tmp.path().join("out"),
    );
    let t = text(&o);
    assert!(o.status.success() && t.contains("chunks ok"), "{t}");
    assert!(t.contains("a bad matmul: probe::host_matmul:"), "{t}");
}

/// In a torch build a plugin reads tensors that live on a libtorch device, chunk by chunk, the
/// host's linear algebra runs there, and results come back on that device, equal to the CPU
/// engine's. `torch:cpu` is libtorch's CPU device: the same code path as CUDA.
#[cfg(feature = "torch")]
#[test]
fn a_plugin_on_libtorch_tensors_matches_the_cpu_engine_and_returns_on_their_device() {
    if !wasm_ready(
        "a_plugin_on_libtorch_tensors_matches_the_cpu_engine_and_returns_on_their_device",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (plugins, cache) = (tmp.path().join("plugins"), tmp.path().join("cache"));
    build_and_install("cityblock_rsm", &plugins, &cache);
    build_and_install("bench_probe", &plugins, &cache);
    let o = run(
        r#"
        fn same(a, b, what) {
            let d = tensor::max(tensor::abs(a.to_device("cpu") - b.to_device("cpu")));
            if d > 1e-12 { throw `${what}: libtorch and the CPU engine differ by ${d}`; }
        }
        fn on(t, dev, what) {
            if t.device != dev { throw `${what} came back on ${t.device}, not ${dev}`; }
        }
        let A = tensor::randn([40, 12], #{seed: 1});
        let T = A.to_device("torch:cpu");
        if T.device != "torch:cpu" { throw `to_device gave ${T.device}`; }

        // The example plugin reads the libtorch tensor in chunks and builds its result on the host.
        let c = cityblock::rsm(A);
        let ct = cityblock::rsm(T);
        on(c, "cpu", "cityblock::rsm of a CPU tensor");
        on(ct, "torch:cpu", "cityblock::rsm of a libtorch tensor");
        same(ct, c, "cityblock::rsm");

        // Reads across 2.5 chunks of a libtorch tensor, as f64 and f32.
        let x = tensor::arange(2621440).to_device("torch:cpu");
        let want = tensor::sum(tensor::arange(2621440));
        if probe::sum(x) != want || probe::sum_f32(x) != want { throw "chunked reads of a libtorch tensor"; }
        if probe::sum(x.astype("f32")) != want { throw "an f32 libtorch tensor read as f64"; }

        // host::matmul and host::rsm on the tensor's device.
        let B = tensor::randn([12, 9], #{seed: 2});
        let m = probe::host_matmul(T, B.to_device("torch:cpu"));
        on(m, "torch:cpu", "host::matmul");
        same(m, tensor::matmul(A, B), "host::matmul");
        let r = probe::host_rsm(T);
        on(r, "torch:cpu", "host::rsm");
        same(r, rsa::rsm(A, #{metric: "pearson"}), "host::rsm");
        // A constant row has no variance: its similarities are 0 on both engines, never NaN.
        let Z = tensor::concat([A, tensor::ones([1, 12])], #{axis: 0});
        same(probe::host_rsm(Z.to_device("torch:cpu")), probe::host_rsm(Z), "host::rsm with a constant row");
        print("torch ok");
        "#,
        &plugins,
        &cache,
        &tmp.path().join("out"),
    );
    let t = text(&o);
    assert!(o.status.success() && t.contains("torch ok"), "{t}");
}
