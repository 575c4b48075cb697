//! Throughput of the judgement collection (`judge::llm`) against the stand-in server.
//!
//! `cargo bench -p emoscope-judge --bench infer_throughput [-- TRIALS IN_FLIGHT]`
//!
//! The stand-in (plugins/judge/tests/standin) runs in a child process (this binary with
//! `--serve`), so the CPU time measured here (utime + stime from /proc/self/stat) is the
//! client's alone: prompt rendering, JSON, HTTP, parsing, the store (fsync once a second).
//! The peer is a bare keep-alive HTTP/1.1 loop with the same number of threads that sends the
//! same bodies and reads the answers without looking at them: the loopback ceiling of this
//! server on this machine.
#[path = "../plugins/judge/tests/standin/mod.rs"]
mod standin;

use emoscope_sdk::ctx::NullHost;
use emoscope_sdk::{CancelToken, Ctx, Device, Map, Plugin, Tensor, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ITEMS: usize = 200;

fn caption(i: usize, k: usize) -> String {
    format!("Stimulus {i}, caption {k}: a person reacts to something that happens in the scene, and the camera follows them.")
}

fn embedding() -> Vec<Vec<f64>> {
    (0..ITEMS)
        .map(|i| {
            (0..8)
                .map(|d| (((i * 31 + d * 17) % 23) as f64) / 23.0)
                .collect()
        })
        .collect()
}

fn serve() {
    let mut captions = HashMap::new();
    for i in 0..ITEMS {
        for k in 0..20 {
            captions.insert(caption(i, k), i);
        }
    }
    let s = standin::start(standin::Config {
        embedding: embedding(),
        noise: 0.1,
        captions,
        key: None,
        model: "standin-1".into(),
        faults: Arc::new(|_, _| standin::Fault::None),
        delay: Duration::ZERO,
    });
    println!("{}", s.url);
    std::io::stdout().flush().unwrap();
    // Serve until the parent closes our stdin.
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
}

/// (user + system) CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    let ticks = |i: usize| {
        f.get(i - 3)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0 // USER_HZ is 100 on Linux
}

fn triplets(n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n * 3);
    let mut x: u64 = 42;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % ITEMS as u64) as i64
    };
    while out.len() < n * 3 {
        let (a, b, c) = (next(), next(), next());
        if a != b && a != c && b != c {
            out.extend([a, b, c]);
        }
    }
    out
}

/// The peer: bare HTTP/1.1 keep-alive requests, `threads` at a time.
fn raw_loop(url: &str, bodies: &[String], threads: usize) -> f64 {
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bodies = Arc::new(bodies.to_vec());
    let t0 = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let (addr, next, bodies) = (addr.clone(), next.clone(), bodies.clone());
            std::thread::spawn(move || {
                let s = TcpStream::connect(&addr).unwrap();
                s.set_nodelay(true).unwrap();
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= bodies.len() {
                        return;
                    }
                    let b = &bodies[i];
                    write!(w, "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()).unwrap();
                    let mut len = 0;
                    loop {
                        let mut line = String::new();
                        r.read_line(&mut line).unwrap();
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    bodies.len() as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        return serve();
    }
    let nums: Vec<usize> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    let trials = nums.first().copied().unwrap_or(20_000);
    let in_flight = nums.get(1).copied().unwrap_or(64);

    let mut child = std::process::Command::new(&args[0])
        .arg("--serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the stand-in");
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();

    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::new(
        Arc::new(NullHost),
        CancelToken::new(),
        1,
        Device::Cpu,
        dir.path().to_path_buf(),
        1,
    );
    let mut caps = Map::new();
    caps.insert(
        "ids".into(),
        Value::List((0..ITEMS).map(|i| Value::Str(i.to_string())).collect()),
    );
    caps.insert(
        "captions".into(),
        Value::List(
            (0..ITEMS)
                .map(|i| Value::List((0..20).map(|k| Value::Str(caption(i, k))).collect()))
                .collect(),
        ),
    );
    let t = Value::Tensor(Tensor::from_vec(triplets(trials), &[trials, 3]).unwrap());
    let mut ep = Map::new();
    ep.insert("url".into(), Value::Str(url.clone()));
    ep.insert("model".into(), Value::Str("standin-1".into()));
    ep.insert("concurrency".into(), Value::Int(in_flight as i64));
    let store = dir.path().join("bench.jsonl");
    let mut o = Map::new();
    o.insert("endpoints".into(), Value::Map(ep));
    o.insert("store".into(), Value::Str(store.to_string_lossy().into()));

    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let sum = emoscope_judge::plugin()
        .call("llm", &[t, Value::Map(caps)], &o, &ctx)
        .expect("collection");
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let sum = sum.as_map().unwrap();
    let done = sum["done"].as_i64().unwrap() as f64;
    let requests = sum["requests"].as_i64().unwrap() as f64;
    let parsed = sum["parsed"].as_i64().unwrap();

    // The peer sends the very prompts the collection sent.
    let bodies: Vec<String> = emoscope_sdk::infer::store::read(&store)
        .unwrap()
        .records
        .iter()
        .map(|r| serde_json::json!({"model": "standin-1", "messages": [{"role": "user", "content": r.prompt}]}).to_string())
        .collect();
    let raw = raw_loop(&url, &bodies, in_flight);
    drop(child.stdin.take());
    let _ = child.wait();

    println!("judge::llm against the stand-in: {trials} trials, {in_flight} in flight");
    println!(
        "  emoscope: {:.0} requests/s ({done} recorded, {parsed} parsed, {requests} requests, {wall:.2} s)",
        requests / wall
    );
    println!(
        "  client CPU: {:.0} µs per request ({cpu:.2} s user+sys)",
        cpu / requests * 1e6
    );
    println!("  peer (bare keep-alive HTTP loop, same prompts): {raw:.0} requests/s");
    println!("  ratio emoscope / peer: {:.2}", requests / wall / raw);
}
