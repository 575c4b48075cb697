//! What crossing into a third-party plugin costs, each against a peer run side by side in the
//! same process (ratios hold where timings drift):
//! - a call that does nothing: a WASM component (fresh sandboxed instance per call) and a native
//!   library, against a call of the builtin `tensor::sum` on a one-element tensor;
//! - reading a tensor: a WASM plugin summing it in the host's chunks (GB/s), and a native one
//!   reading it in place, against the host summing its own buffer in a plain loop;
//! - loading a component: compiling it (uncached) against loading the compiled form from the
//!   on-disk cache.
//!
//! Builds its probes first (sdk/examples/bench_probe for wasm32-wasip2, sdk/examples/native_rsm):
//! `cargo bench -p emoscope --features native --bench plugin_overhead`
use emoscope::manifest::Limits;
use emoscope::native::NativePlugin;
use emoscope::registry::Registry;
use emoscope::wasm::{compile, Inference, WasmPlugin};
use emoscope_sdk::{Ctx, Map, Plugin, Tensor, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo_build(dir: &Path, target_dir: &Path, wasm: bool) {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(["build", "--release", "--quiet"]);
    if wasm {
        c.args(["--target", "wasm32-wasip2"]);
    }
    let s = c
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .expect("cargo");
    assert!(s.success(), "building {} failed", dir.display());
}

/// Median seconds per call over `reps` calls, after a warm-up call.
fn per_call(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn call(p: &dyn Plugin, f: &str, args: &[Value], ctx: &Ctx) -> Value {
    p.call(f, args, &Map::new(), ctx).unwrap()
}

fn main() {
    let wasm_target = root().join("target/wasm-plugins");
    let native_target = root().join("target/native-plugins");
    cargo_build(&root().join("sdk/examples/bench_probe"), &wasm_target, true);
    cargo_build(
        &root().join("sdk/examples/native_rsm"),
        &native_target,
        false,
    );
    let wasm_path = wasm_target.join("wasm32-wasip2/release/bench_probe.wasm");
    let wasm = std::fs::read(&wasm_path).unwrap();
    let cache = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread that reads the environment is started.
    unsafe { std::env::set_var("EMOSCOPE_CACHE", cache.path()) };

    // Loading: compile vs cached.
    let cache_files = || {
        std::fs::read_dir(cache.path().join("wasm"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let mut uncached = f64::INFINITY;
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(cache.path().join("wasm"));
        let s = Instant::now();
        let (_, hit) = compile(&wasm, &wasm_path).unwrap();
        uncached = uncached.min(s.elapsed().as_secs_f64());
        assert!(!hit && cache_files() == 1);
    }
    let mut cached = f64::INFINITY;
    for _ in 0..5 {
        let s = Instant::now();
        let (_, hit) = compile(&wasm, &wasm_path).unwrap();
        cached = cached.min(s.elapsed().as_secs_f64());
        assert!(hit);
    }
    println!(
        "load a component ({} KiB): compile {:.1} ms, from the cache {:.2} ms, ratio {:.0}x",
        wasm.len() / 1024,
        uncached * 1e3,
        cached * 1e3,
        uncached / cached
    );

    let probe =
        WasmPlugin::from_bytes(&wasm, &wasm_path, Limits::default(), Inference::NotAsked).unwrap();
    let native = NativePlugin::open(&native_target.join(format!(
        "release/{}native_rsm{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )))
    .unwrap();
    let registry = Registry::with_builtins();
    let builtin = registry.get("tensor").unwrap().plugin.clone();
    let ctx = Ctx::detached();

    // A call that does nothing.
    let one = [Value::Tensor(Tensor::from_vec(vec![1.0f64], &[1]).unwrap())];
    let b = per_call(2000, || {
        call(&*builtin, "sum", &one, &ctx);
    });
    let w = per_call(2000, || {
        call(&probe, "noop", &[], &ctx);
    });
    let n = per_call(2000, || {
        call(&native, "noop", &[], &ctx);
    });
    println!(
        "a call that does nothing: builtin tensor::sum of 1 element {:.2} µs, WASM noop {:.1} µs ({:.0}x), native noop {:.2} µs ({:.1}x)",
        b * 1e6,
        w * 1e6,
        w / b,
        n * 1e6,
        n / b
    );

    // Reading a tensor.
    for &len in &[1usize << 20, 16 << 20] {
        let v: Vec<f64> = (0..len).map(|i| (i % 1000) as f64 * 1e-3).collect();
        let want: f64 = v.iter().sum();
        let t = Tensor::from_vec(v, &[len]).unwrap();
        let flat = t.to_f64().unwrap();
        let x = [Value::Tensor(t)];
        let gb = (len * 8) as f64 / 1e9;
        let check = |v: Value| {
            let got = v.as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{got} vs {want}"
            );
        };
        let reps = if len > 1 << 20 { 5 } else { 20 };
        // The peer: the host summing its own buffer, a plain loop at memory speed.
        let host = per_call(reps, || {
            check(Value::Float(std::hint::black_box(flat.iter().sum::<f64>())));
        });
        let w64 = per_call(reps, || {
            check(call(&probe, "sum", &x, &ctx));
        });
        let w32 = per_call(reps, || {
            let got = call(&probe, "sum_f32", &x, &ctx).as_f64().unwrap();
            assert!((got - want).abs() <= 1e-3 * want.abs().max(1.0));
        });
        let nat = per_call(reps, || {
            check(call(&native, "sum", &x, &ctx));
        });
        println!(
            "sum {} MiB of f64: the host's own loop {:.2} GB/s; WASM chunked read_f64 {:.2} GB/s ({:.1}x the host's time), read_f32 {:.2} GB/s ({:.1}x); native in place {:.2} GB/s ({:.2}x)",
            len * 8 >> 20,
            gb / host,
            gb / w64,
            w64 / host,
            gb / w32,
            w32 / host,
            gb / nat,
            nat / host
        );
    }
}
