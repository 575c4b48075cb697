//! judge::llm and judge::collect_choices against the stand-in server (loopback only).
mod standin;

use emoscope_judge::plugin;
use emoscope_sdk::ctx::NullHost;
use emoscope_sdk::infer::store;
use emoscope_sdk::{CancelToken, Ctx, Device, Map, Plugin, Tensor, Value};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use standin::{Config, Fault, Standin};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct World {
    embedding: Vec<Vec<f64>>,
    captions: Vec<Vec<String>>,
}

fn world(n: usize, seed: u64) -> World {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let embedding = (0..n)
        .map(|_| (0..4).map(|_| r.random::<f64>()).collect())
        .collect();
    let captions = (0..n)
        .map(|i| {
            (0..3)
                .map(|k| format!("Stimulus {i}, caption {k}: a scene."))
                .collect()
        })
        .collect();
    World {
        embedding,
        captions,
    }
}

fn server(w: &World, noise: f64, key: Option<&str>, faults: standin::Schedule) -> Standin {
    let mut captions = HashMap::new();
    for (i, c) in w.captions.iter().enumerate() {
        for s in c {
            captions.insert(s.clone(), i);
        }
    }
    standin::start(Config {
        embedding: w.embedding.clone(),
        noise,
        captions,
        key: key.map(str::to_string),
        model: "standin-1".into(),
        faults,
        delay: Duration::ZERO,
    })
}

fn no_faults() -> standin::Schedule {
    Arc::new(|_, _| Fault::None)
}

fn captions_value(w: &World) -> Value {
    let mut m = Map::new();
    m.insert(
        "ids".into(),
        Value::List(
            (0..w.captions.len())
                .map(|i| Value::Str(format!("{}", i + 1)))
                .collect(),
        ),
    );
    m.insert(
        "captions".into(),
        Value::List(
            w.captions
                .iter()
                .map(|c| Value::List(c.iter().map(|s| Value::Str(s.clone())).collect()))
                .collect(),
        ),
    );
    Value::Map(m)
}

fn triplets(n: usize, m: usize, seed: u64) -> Vec<[i64; 3]> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while out.len() < m {
        let a = r.random_range(0..n as i64);
        let b = r.random_range(0..n as i64);
        let c = r.random_range(0..n as i64);
        if a != b && a != c && b != c && seen.insert([a, b, c]) {
            out.push([a, b, c]);
        }
    }
    out
}

fn tensor(t: &[[i64; 3]]) -> Value {
    Value::Tensor(
        Tensor::from_vec(
            t.iter().flatten().copied().collect::<Vec<i64>>(),
            &[t.len(), 3],
        )
        .unwrap(),
    )
}

fn endpoint(url: &str, concurrency: i64, key_env: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("url".into(), Value::Str(url.into()));
    m.insert("model".into(), Value::Str("standin-1".into()));
    m.insert("concurrency".into(), Value::Int(concurrency));
    if let Some(k) = key_env {
        m.insert("api_key_env".into(), Value::Str(k.into()));
    }
    Value::Map(m)
}

fn opts(store: &Path, endpoints: Value, extra: &[(&str, Value)]) -> Map {
    let mut m = Map::new();
    m.insert("endpoints".into(), endpoints);
    m.insert("store".into(), Value::Str(store.to_string_lossy().into()));
    m.insert("seed".into(), Value::Int(11));
    m.insert("timeout".into(), Value::Float(0.5));
    m.insert("backoff".into(), Value::Float(0.005));
    for (k, v) in extra {
        m.insert(k.to_string(), v.clone());
    }
    m
}

fn ctx_with(cancel: CancelToken, out: &Path) -> Ctx {
    Ctx::new(
        Arc::new(NullHost),
        cancel,
        0,
        Device::Cpu,
        out.to_path_buf(),
        1,
    )
}

fn llm(t: &[[i64; 3]], w: &World, o: Map, ctx: &Ctx) -> emoscope_sdk::Result<Map> {
    let v = plugin().call("llm", &[tensor(t), captions_value(w)], &o, ctx)?;
    Ok(v.as_map().unwrap().clone())
}

fn int(m: &Map, k: &str) -> i64 {
    m.get(k)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{k} missing in {m:?}"))
}

fn records(p: &Path) -> Vec<store::Record> {
    let c = store::read(p).unwrap();
    assert_eq!(c.truncated, 0, "no torn line");
    c.records
}

/// Every (triplet, repeat) of the request appears exactly once with a final status, and nothing
/// else is in the store.
fn assert_exactly_once(recs: &[store::Record], t: &[[i64; 3]], repeats: u32) {
    let mut count: HashMap<([i64; 3], u32), usize> = HashMap::new();
    for r in recs {
        *count.entry(r.key()).or_default() += 1;
    }
    for tr in t {
        for rep in 0..repeats {
            assert_eq!(
                count.get(&(*tr, rep)),
                Some(&1),
                "trial {tr:?} repeat {rep}"
            );
        }
    }
    assert_eq!(count.len(), t.len() * repeats as usize, "no stray trials");
}

#[test]
fn faults_are_retried_and_every_trial_ends_recorded_once() {
    let w = world(12, 1);
    let t = triplets(12, 80, 2);
    // One stimulus is refused for good (400): its trials fail at once, the others go on.
    let refused = "Stimulus 5, caption";
    // The transient faults are scheduled by a count of the requests that reach them, not by the
    // server's request number: which request number carries a refused prompt depends on thread
    // timing, and could otherwise swallow every scheduled sleep.
    let transient = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let faults: standin::Schedule = Arc::new(move |_, prompt: &str| {
        if prompt.contains(refused) {
            return Fault::BadRequest;
        }
        if prompt.contains("Stimulus 7, caption 2") {
            return Fault::NoChoice;
        }
        if prompt.contains("Stimulus 8, caption 1") {
            return Fault::Ambiguous;
        }
        match transient.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 23 {
            3 => Fault::ServerError,
            5 => Fault::RateLimit(0),
            9 => Fault::Truncated,
            14 => Fault::Sleep(Duration::from_millis(800)),
            _ => Fault::None,
        }
    });
    std::env::set_var("EMOSCOPE_TEST_KEY_FAULTS", "sk-test-0123456789");
    let s = server(&w, 0.05, Some("sk-test-0123456789"), faults);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("j.jsonl");
    let ctx = ctx_with(CancelToken::new(), d.path());
    let t0 = Instant::now();
    let sum = llm(
        &t,
        &w,
        opts(
            &p,
            endpoint(&s.url, 8, Some("EMOSCOPE_TEST_KEY_FAULTS")),
            &[("max_retries", Value::Int(8))],
        ),
        &ctx,
    )
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(20));
    let recs = records(&p);
    assert_exactly_once(&recs, &t, 1);
    assert_eq!(int(&sum, "done"), t.len() as i64);
    assert_eq!(int(&sum, "skipped"), 0);
    assert_eq!(
        int(&sum, "parsed") + int(&sum, "unparsed") + int(&sum, "failed"),
        t.len() as i64
    );
    assert_eq!(
        int(&sum, "requests") as u64,
        s.state
            .chat_requests
            .load(std::sync::atomic::Ordering::SeqCst)
    );
    let intended = s.state.intended.lock().unwrap().clone();
    let (mut parsed, mut failed, mut unparsed) = (0, 0, 0);
    for r in &recs {
        let has =
            |k: i64| r.order.contains(&k) && r.prompt.contains(&format!("Stimulus {k}, caption"));
        assert!(r.triplet.iter().all(|&k| has(k)));
        assert_eq!(
            r.prompt_sha256,
            emoscope_sdk::io::sha256_bytes(r.prompt.as_bytes())
        );
        assert_eq!(r.endpoint, s.url);
        if r.prompt.contains(refused) {
            assert_eq!(r.status, store::Status::Failed, "{r:?}");
            assert_eq!(r.attempts, 1, "a 400 is not retried");
            assert!(r.error.as_deref().unwrap().contains("HTTP 400"), "{r:?}");
            failed += 1;
            continue;
        }
        match r.status {
            store::Status::Parsed => {
                parsed += 1;
                assert_eq!(
                    intended.get(&r.prompt).copied().flatten().map(|x| x as i64),
                    r.choice,
                    "the parsed choice is the one the server meant: {r:?}"
                );
                assert!(r.order.contains(&r.choice.unwrap()));
            }
            store::Status::Unparsed => {
                unparsed += 1;
                assert!(r.choice.is_none());
                assert!(
                    r.prompt.contains("Stimulus 7, caption 2")
                        || r.prompt.contains("Stimulus 8, caption 1")
                );
            }
            store::Status::Failed => panic!("only refused trials fail: {r:?}"),
        }
    }
    assert!(
        failed > 0 && unparsed > 0 && parsed > 40,
        "{parsed} {unparsed} {failed}"
    );
    // Faults were met and retried.
    assert!(recs.iter().any(|r| r.attempts > 1));
    let log = s.state.log.lock().unwrap();
    for f in [Fault::ServerError, Fault::RateLimit(0), Fault::Truncated] {
        assert!(log.iter().any(|(_, x)| *x == f), "{f:?} injected");
    }
    assert!(log.iter().any(|(_, x)| matches!(x, Fault::Sleep(_))));
    // The key was sent (no auth failures) but is nowhere in the store.
    assert_eq!(
        s.state
            .auth_failures
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(!text.contains("sk-test-0123456789"));
    assert!(!text.contains("0123456789"));

    // A rerun asks the failed trials again and nothing else.
    let before = s
        .state
        .chat_requests
        .load(std::sync::atomic::Ordering::SeqCst);
    let again = llm(
        &t,
        &w,
        opts(
            &p,
            endpoint(&s.url, 8, Some("EMOSCOPE_TEST_KEY_FAULTS")),
            &[("max_retries", Value::Int(0))],
        ),
        &ctx,
    )
    .unwrap();
    assert_eq!(int(&again, "skipped"), (parsed + unparsed) as i64);
    assert_eq!(int(&again, "done"), failed as i64);
    let after = s
        .state
        .chat_requests
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(after - before, failed as u64);

    // collect_choices: the latest record of each trial; SPoSE rows for the parsed ones.
    let c = plugin()
        .call(
            "collect_choices",
            &[Value::Str(p.to_string_lossy().into())],
            &Map::new(),
            &ctx,
        )
        .unwrap();
    let c = c.as_map().unwrap();
    assert_eq!(int(c, "parsed"), parsed as i64);
    assert_eq!(int(c, "unparsed"), unparsed as i64);
    assert_eq!(int(c, "failed"), failed as i64);
    let tri = c["triplets"].as_tensor().unwrap().to_i64().unwrap();
    assert_eq!(tri.shape(), &[parsed, 3]);
    let contents = store::read(&p).unwrap();
    let latest: Vec<&store::Record> = contents
        .latest()
        .into_iter()
        .filter(|r| r.status == store::Status::Parsed)
        .collect();
    assert_eq!(latest.len(), parsed);
    let shown = c["shown"].as_tensor().unwrap().to_i64().unwrap();
    let mut pos = [0i64; 3];
    for (i, r) in latest.iter().enumerate() {
        let row = [tri[[i, 0]], tri[[i, 1]], tri[[i, 2]]];
        let sh = [shown[[i, 0]], shown[[i, 1]], shown[[i, 2]]];
        assert_eq!(sh, r.order);
        assert_eq!(Some(row[2]), r.choice);
        let kept: Vec<i64> = r
            .triplet
            .iter()
            .copied()
            .filter(|&x| Some(x) != r.choice)
            .collect();
        assert_eq!(&row[..2], &kept[..], "the kept pair in the order given");
        pos[sh.iter().position(|&x| x == row[2]).unwrap()] += 1;
    }
    let positions = c["positions"].as_tensor().unwrap().to_i64().unwrap();
    assert_eq!(positions.iter().copied().collect::<Vec<_>>(), pos.to_vec());
}

#[test]
fn stopping_midway_and_rerunning_loses_and_duplicates_nothing() {
    let w = world(15, 3);
    let t = triplets(15, 120, 4);
    let s = standin::start(Config {
        delay: Duration::from_millis(10),
        ..config(&w)
    });
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("j.jsonl");
    let ctx = ctx_with(CancelToken::new(), d.path());

    // 1. A request budget stops cleanly.
    let sum = llm(
        &t,
        &w,
        opts(
            &p,
            endpoint(&s.url, 4, None),
            &[("budget_requests", Value::Int(30))],
        ),
        &ctx,
    )
    .unwrap();
    assert!(
        sum["stopped"]
            .as_str()
            .unwrap()
            .contains("budget_requests 30"),
        "{sum:?}"
    );
    assert_eq!(int(&sum, "requests"), 30);
    assert_eq!(int(&sum, "done"), 30);
    assert_eq!(int(&sum, "remaining"), 90);
    assert_eq!(records(&p).len(), 30);

    // 2. Cancellation (Ctrl-C) stops within the grace period; what was answered is recorded.
    let cancel = CancelToken::new();
    let ctx2 = ctx_with(cancel.clone(), d.path());
    let p2 = p.clone();
    let watcher = std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if std::fs::read_to_string(&p2).map_or(0, |s| s.lines().count()) >= 60 {
                cancel.cancel();
                return Instant::now();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("the collection never reached 60 records");
    });
    let err = llm(&t, &w, opts(&p, endpoint(&s.url, 2, None), &[]), &ctx2).unwrap_err();
    let stopped = Instant::now();
    let cancelled_at = watcher.join().unwrap();
    assert!(err.is_cancelled(), "{err}");
    assert!(stopped - cancelled_at < Duration::from_millis(1500));
    let n = records(&p).len();
    assert!((60..120).contains(&n), "{n}");

    // 3. A rerun completes it: every trial once, none lost, none twice.
    let sum = llm(&t, &w, opts(&p, endpoint(&s.url, 4, None), &[]), &ctx).unwrap();
    assert_eq!(int(&sum, "skipped"), n as i64);
    assert_eq!(int(&sum, "done"), (120 - n) as i64);
    assert_eq!(sum["stopped"].as_str(), Some("completed"));
    assert_exactly_once(&records(&p), &t, 1);

    // 4. A crash mid-write leaves a torn line: the next run repairs it and asks that trial.
    let mut text = std::fs::read(&p).unwrap();
    let keep = text.len();
    text.extend_from_slice(br#"{"triplet":[1,2,3],"order":[3,"#);
    std::fs::write(&p, &text).unwrap();
    let sum = llm(&t, &w, opts(&p, endpoint(&s.url, 4, None), &[]), &ctx).unwrap();
    assert_eq!(int(&sum, "done"), 0);
    assert_eq!(std::fs::read(&p).unwrap().len(), keep);
}

#[test]
fn a_token_budget_stops_cleanly_and_the_rerun_completes() {
    let w = world(10, 19);
    let t = triplets(10, 40, 20);
    let s = standin::start(config(&w));
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("b.jsonl");
    let ctx = ctx_with(CancelToken::new(), d.path());
    // The stand-in reports about 500 prompt tokens a request.
    let sum = llm(
        &t,
        &w,
        opts(
            &p,
            endpoint(&s.url, 1, None),
            &[("budget_tokens", Value::Int(2000))],
        ),
        &ctx,
    )
    .unwrap();
    assert!(
        sum["stopped"]
            .as_str()
            .unwrap()
            .contains("budget_tokens 2000"),
        "{sum:?}"
    );
    let used = int(&sum, "prompt_tokens") + int(&sum, "completion_tokens");
    let recs = records(&p);
    let done = int(&sum, "done");
    assert_eq!(recs.len() as i64, done);
    let per: Vec<i64> = recs
        .iter()
        .map(|r| (r.prompt_tokens.unwrap() + r.completion_tokens.unwrap()) as i64)
        .collect();
    assert_eq!(per.iter().sum::<i64>(), used);
    // One request at a time: the budget was not reached before the last one was sent, and it
    // was reached after it.
    assert!(used >= 2000 && used - per[per.len() - 1] < 2000, "{per:?}");
    assert!(done > 1 && done < 40, "{done}");
    let sum = llm(&t, &w, opts(&p, endpoint(&s.url, 4, None), &[]), &ctx).unwrap();
    assert_eq!(int(&sum, "done"), 40 - done);
    assert_exactly_once(&records(&p), &t, 1);
}

fn config(w: &World) -> Config {
    let mut captions = HashMap::new();
    for (i, c) in w.captions.iter().enumerate() {
        for s in c {
            captions.insert(s.clone(), i);
        }
    }
    Config {
        embedding: w.embedding.clone(),
        noise: 0.0,
        captions,
        key: None,
        model: "standin-1".into(),
        faults: no_faults(),
        delay: Duration::ZERO,
    }
}

/// Chi-square of three position counts against uniform.
fn chi2(c: &[i64]) -> f64 {
    let n: i64 = c.iter().sum();
    let e = n as f64 / 3.0;
    c.iter().map(|&x| (x as f64 - e).powi(2) / e).sum()
}

#[test]
fn randomised_order_flattens_the_positional_distribution() {
    let w = world(20, 5);
    // Triplets whose odd one (by the noiseless hidden embedding) is always given last: shown as
    // given, the last position would win every time.
    let mut t = Vec::new();
    for tr in triplets(20, 600, 6) {
        let odd = standin::intended_odd(&w.embedding, 0.0, tr.map(|x| x as usize), "") as i64;
        let mut r: Vec<i64> = tr.iter().copied().filter(|&x| x != odd).collect();
        r.push(odd);
        let r = [r[0], r[1], r[2]];
        if !t.contains(&r) {
            t.push(r);
        }
        if t.len() == 300 {
            break;
        }
    }
    let s = standin::start(config(&w));
    let d = tempfile::tempdir().unwrap();
    let ctx = ctx_with(CancelToken::new(), d.path());
    let positions = |store: &Path| -> Vec<i64> {
        let c = plugin()
            .call(
                "collect_choices",
                &[Value::Str(store.to_string_lossy().into())],
                &Map::new(),
                &ctx,
            )
            .unwrap();
        let c = c.as_map().unwrap();
        assert_eq!(int(c, "parsed"), t.len() as i64);
        c["positions"]
            .as_tensor()
            .unwrap()
            .to_i64()
            .unwrap()
            .iter()
            .copied()
            .collect()
    };

    let fixed = d.path().join("fixed.jsonl");
    llm(
        &t,
        &w,
        opts(
            &fixed,
            endpoint(&s.url, 8, None),
            &[("shuffle", Value::Bool(false))],
        ),
        &ctx,
    )
    .unwrap();
    let pf = positions(&fixed);
    assert_eq!(
        pf,
        vec![0, 0, t.len() as i64],
        "shown as given, the odd one is always last"
    );
    assert!(records(&fixed).iter().all(|r| r.order == r.triplet));

    let shuffled = d.path().join("shuffled.jsonl");
    llm(
        &t,
        &w,
        opts(&shuffled, endpoint(&s.url, 8, None), &[]),
        &ctx,
    )
    .unwrap();
    let ps = positions(&shuffled);
    // df = 2: chi-square < 13.8 has p > 0.001.
    assert!(chi2(&ps) < 13.8, "positions {ps:?}, chi2 {}", chi2(&ps));
    let moved = records(&shuffled)
        .iter()
        .filter(|r| r.order != r.triplet)
        .count();
    assert!(moved > t.len() * 3 / 4, "{moved}");
    // The same seed gives the same orders and captions.
    let again = d.path().join("again.jsonl");
    llm(&t, &w, opts(&again, endpoint(&s.url, 3, None), &[]), &ctx).unwrap();
    let key = |p: &Path| -> HashMap<[i64; 3], (String, [i64; 3])> {
        records(p)
            .into_iter()
            .map(|r| (r.triplet, (r.prompt, r.order)))
            .collect()
    };
    assert_eq!(key(&shuffled), key(&again));
}

#[test]
fn repeats_ask_each_triplet_n_times_with_fresh_draws() {
    let w = world(10, 7);
    let t = triplets(10, 20, 8);
    let s = standin::start(Config {
        noise: 0.3,
        ..config(&w)
    });
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r.jsonl");
    let ctx = ctx_with(CancelToken::new(), d.path());
    let sum = llm(
        &t,
        &w,
        opts(&p, endpoint(&s.url, 4, None), &[("repeats", Value::Int(4))]),
        &ctx,
    )
    .unwrap();
    assert_eq!(int(&sum, "done"), 80);
    let recs = records(&p);
    assert_exactly_once(&recs, &t, 4);
    let distinct: HashSet<&str> = recs.iter().map(|r| r.prompt.as_str()).collect();
    assert!(
        distinct.len() > 60,
        "draws differ across repeats: {}",
        distinct.len()
    );
    let c = plugin()
        .call(
            "collect_choices",
            &[Value::Str(p.to_string_lossy().into())],
            &Map::new(),
            &ctx,
        )
        .unwrap();
    let Value::List(by) = &c.as_map().unwrap()["by_repeat"] else {
        panic!()
    };
    assert_eq!(by.len(), 4);
    assert!(by.iter().all(|x| x.as_tensor().unwrap().shape() == [20, 3]));
}

#[test]
fn retry_after_pauses_the_endpoint() {
    let w = world(6, 9);
    let t = triplets(6, 2, 10);
    let s = standin::start(Config {
        faults: Arc::new(|n, _| {
            if n == 0 {
                Fault::RateLimit(1)
            } else {
                Fault::None
            }
        }),
        ..config(&w)
    });
    let d = tempfile::tempdir().unwrap();
    let ctx = ctx_with(CancelToken::new(), d.path());
    llm(
        &t,
        &w,
        opts(&d.path().join("s.jsonl"), endpoint(&s.url, 1, None), &[]),
        &ctx,
    )
    .unwrap();
    let log = s.state.log.lock().unwrap();
    assert_eq!(log.len(), 3);
    let gap = log[1].0 - log[0].0;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 honoured, waited {gap:?}"
    );
}

fn err_of(r: emoscope_sdk::Result<Map>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let w = world(6, 11);
    let t = triplets(6, 5, 12);
    let d = tempfile::tempdir().unwrap();
    let ctx = ctx_with(CancelToken::new(), d.path());
    let p = d.path().join("s.jsonl");

    let e = err_of(llm(
        &t,
        &w,
        opts(&p, endpoint(&standin::dead_url(), 2, None), &[]),
        &ctx,
    ));
    assert!(e.contains("unreachable") && e.contains("refused"), "{e}");

    let e = err_of(llm(
        &t,
        &w,
        opts(
            &p,
            endpoint(
                "http://127.0.0.1:9/v1",
                2,
                Some("EMOSCOPE_TEST_NO_SUCH_VAR"),
            ),
            &[],
        ),
        &ctx,
    ));
    assert!(
        e.contains("EMOSCOPE_TEST_NO_SUCH_VAR") && e.contains("not set"),
        "{e}"
    );

    let s = standin::start(Config {
        key: Some("sk-right".into()),
        ..config(&w)
    });
    std::env::set_var("EMOSCOPE_TEST_KEY_WRONG", "sk-wrong-abcdef");
    let e = err_of(llm(
        &t,
        &w,
        opts(
            &p,
            endpoint(&s.url, 2, Some("EMOSCOPE_TEST_KEY_WRONG")),
            &[],
        ),
        &ctx,
    ));
    assert!(e.contains("refused the key") && e.contains("401"), "{e}");
    assert!(!e.contains("sk-wrong-abcdef"), "{e}");

    let s = standin::start(config(&w));
    let ep = || endpoint(&s.url, 2, None);
    let e = err_of(llm(
        &t,
        &w,
        opts(
            &p,
            ep(),
            &[("template", Value::Str("Which of these is odd?".into()))],
        ),
        &ctx,
    ));
    assert!(e.contains("{video_1}") && e.contains("template"), "{e}");
    let e = err_of(llm(
        &t,
        &w,
        opts(&p, ep(), &[("tempreature", Value::Float(0.0))]),
        &ctx,
    ));
    assert!(e.contains("tempreature"), "{e}");
    let e = err_of(llm(&[[0, 1, 9]], &w, opts(&p, ep(), &[]), &ctx));
    assert!(e.contains("9"), "{e}");
    let e = err_of(llm(
        &t,
        &w,
        opts(&p, ep(), &[("timeout", Value::Float(0.0))]),
        &ctx,
    ));
    assert!(e.contains("timeout"), "{e}");
    assert!(
        !p.exists() || records(&p).is_empty(),
        "nothing asked on a bad configuration"
    );

    // A store written with one template refuses another.
    llm(&t, &w, opts(&p, ep(), &[]), &ctx).unwrap();
    let e = err_of(llm(
        &t,
        &w,
        opts(
            &p,
            ep(),
            &[(
                "template",
                Value::Str("Odd one? {video_1} / {video_2} / {video_3}".into()),
            )],
        ),
        &ctx,
    ));
    assert!(e.contains("another template"), "{e}");
}

#[test]
fn a_custom_template_fills_its_slots_in_the_order_shown() {
    let w = world(8, 13);
    let t = triplets(8, 10, 14);
    let s = standin::start(config(&w));
    let d = tempfile::tempdir().unwrap();
    let ctx = ctx_with(CancelToken::new(), d.path());
    let p = d.path().join("c.jsonl");
    // The stand-in reads the study's bracket format, so keep it, with another preamble.
    let tpl = "Which is odd? Answer \"Video N is noticeably different\".\n[Video_1: {video_1}], [Video_2: {video_2}], [Video_3: {video_3}]";
    let sum = llm(
        &t,
        &w,
        opts(
            &p,
            endpoint(&s.url, 2, None),
            &[("template", Value::Str(tpl.into()))],
        ),
        &ctx,
    )
    .unwrap();
    assert_eq!(int(&sum, "parsed"), 10);
    for r in records(&p) {
        assert!(r.prompt.starts_with("Which is odd?"));
        let caps = standin::captions_of(&r.prompt).unwrap();
        for (k, c) in caps.iter().enumerate() {
            assert_eq!(
                c,
                &format!(
                    "Stimulus {}, caption {}: a scene.",
                    r.order[k],
                    r.captions.unwrap()[k]
                )
            );
        }
    }
}

#[test]
fn the_client_speaks_embeddings_too() {
    let w = world(3, 15);
    let s = standin::start(config(&w));
    let ep = emoscope_sdk::infer::Endpoint::new(&s.url, "standin-1", 1, None, None).unwrap();
    let c = emoscope_sdk::infer::Client::new(Duration::from_secs(2), Duration::from_secs(1), 1);
    let e = c
        .embed(&ep, &["ab".to_string(), "abcd".to_string()])
        .unwrap();
    assert_eq!(e.vectors, vec![vec![2.0, 1.0], vec![4.0, 1.0]]);
    assert_eq!(c.models(&ep).unwrap(), vec!["standin-1".to_string()]);
}

fn embed(items: Value, o: &[(&str, Value)]) -> emoscope_sdk::Result<Value> {
    let m: Map = o.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    plugin().call("embed", &[items], &m, &Ctx::detached())
}

#[test]
fn judge_embed_averages_each_videos_captions_through_retries() {
    let w = world(12, 16);
    // The first request fails with a 500, the third is cut short, the fifth is rate limited.
    let faults: standin::Schedule = Arc::new(|n, _| match n {
        0 => Fault::ServerError,
        2 => Fault::Truncated,
        4 => Fault::RateLimit(0),
        _ => Fault::None,
    });
    let s = server(&w, 0.0, None, faults);
    let o = [
        ("endpoint", endpoint(&s.url, 1, None)),
        ("batch", Value::Int(5)),
        ("timeout", Value::Float(2.0)),
        ("backoff", Value::Float(0.005)),
    ];
    let x = embed(captions_value(&w), &o).unwrap();
    let x = x.to_tensor("x").unwrap().matrix::<f64>("x").unwrap();
    assert_eq!(x.dim(), (12, 4));
    for (i, row) in w.embedding.iter().enumerate() {
        for (k, v) in row.iter().enumerate() {
            assert!(
                (x[[i, k]] - v).abs() < 1e-6,
                "row {i}, feature {k}: {} vs {v}",
                x[[i, k]]
            );
        }
    }
    // 36 captions in batches of 5: 8 batches plus the 3 faults retried.
    assert_eq!(
        s.state
            .embed_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        11
    );

    // Judgements from the embedded features are the ones the hidden embedding gives.
    let t = tensor(&triplets(12, 200, 3));
    let hidden = Value::Tensor(Tensor::from_vec(w.embedding.concat(), &[12, 4]).unwrap());
    let mut fo = Map::new();
    fo.insert("rule".into(), Value::Str("mean_distance".into()));
    let ctx = Ctx::detached();
    let a = plugin()
        .call(
            "from_features",
            &[Value::Tensor(Tensor::from_array(x.to_owned())), t.clone()],
            &fo,
            &ctx,
        )
        .unwrap();
    let b = plugin()
        .call("from_features", &[hidden, t], &fo, &ctx)
        .unwrap();
    assert_eq!(
        a.to_tensor("a").unwrap().to_i64().unwrap(),
        b.to_tensor("b").unwrap().to_i64().unwrap()
    );
}

#[test]
fn judge_embed_errors_are_clear() {
    let w = world(4, 17);
    let bad: standin::Schedule = Arc::new(|_, _| Fault::BadRequest);
    let s = server(&w, 0.0, None, bad);
    let caps = captions_value(&w);
    let o = [
        ("endpoint", endpoint(&s.url, 2, None)),
        ("batch", Value::Int(4)),
    ];
    let e = embed(caps.clone(), &o).unwrap_err().to_string();
    assert!(
        e.contains("3 of 3 embedding batches failed") && e.contains("input too long"),
        "{e}"
    );

    let e = embed(
        caps.clone(),
        &[("endpoint", endpoint(&standin::dead_url(), 1, None))],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("connection refused") || e.contains("connection failed"),
        "{e}"
    );
    let e = embed(caps.clone(), &[]).unwrap_err().to_string();
    assert!(e.contains("needs a model"), "{e}");
    let e = embed(
        Value::Str("one text".into()),
        &[("torchscript", Value::Str("m.pt".into()))],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("wrap it as [text]"), "{e}");
    let e = embed(
        caps.clone(),
        &[
            ("torchscript", Value::Str("/nonexistent/m.pt".into())),
            ("endpoint", endpoint(&s.url, 1, None)),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not both"), "{e}");
    let e = embed(
        caps,
        &[("torchscript", Value::Str("/nonexistent/m.pt".into()))],
    )
    .unwrap_err()
    .to_string();
    if cfg!(feature = "torch") {
        assert!(
            e.contains("/nonexistent/m.pt: no such TorchScript file"),
            "{e}"
        );
    } else {
        assert!(e.contains("built with the torch feature"), "{e}");
    }
}

/// Whether ffmpeg can be used; without it the test is skipped, unless EMOSCOPE_REQUIRE_FFMPEG=1
/// (CI), as in the sdk's video tests.
fn ffmpeg_ready(test: &str) -> bool {
    let ok = ["ffmpeg", "ffprobe"].iter().all(|p| {
        std::process::Command::new(p)
            .arg("-version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !ok && std::env::var("EMOSCOPE_REQUIRE_FFMPEG").as_deref() != Ok("1") {
        eprintln!("{test}: SKIPPED: ffmpeg/ffprobe not installed (apt-get install ffmpeg)");
        return false;
    }
    assert!(
        ok,
        "ffmpeg and ffprobe are required (EMOSCOPE_REQUIRE_FFMPEG=1): apt-get install ffmpeg"
    );
    true
}

fn clip(dir: &Path, name: &str, colour: &str) -> PathBuf {
    let p = dir.join(name);
    let src = format!("color=c={colour}:size=64x48:rate=10:duration=1");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &src,
        ])
        .args(["-c:v", "mpeg4", "-pix_fmt", "yuv420p", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

#[test]
fn mllm_interleaves_text_and_video_frames() {
    if !ffmpeg_ready("mllm_interleaves_text_and_video_frames") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let vids = d.path().join("videos");
    std::fs::create_dir(&vids).unwrap();
    for (i, c) in ["red", "green", "blue", "white"].iter().enumerate() {
        clip(&vids, &format!("{:04}.mp4", i + 1), c);
    }
    let w = world(4, 17);
    let s = standin::start(config(&w));
    let ctx = ctx_with(CancelToken::new(), d.path());
    let p = d.path().join("m.jsonl");
    let t = [[0i64, 1, 2], [1, 2, 3]];
    let o = opts(
        &p,
        endpoint(&s.url, 2, None),
        &[
            ("max_frames", Value::Int(2)),
            ("frame_size", Value::Int(32)),
        ],
    );
    let sum = plugin()
        .call(
            "mllm",
            &[tensor(&t), Value::Str(vids.to_string_lossy().into())],
            &o,
            &ctx,
        )
        .unwrap();
    assert_eq!(int(sum.as_map().unwrap(), "parsed"), 2);
    // The stand-in answers "Video 1" to any non-caption prompt: the choice is the first shown.
    for r in records(&p) {
        assert_eq!(r.choice, Some(r.order[0]));
        assert!(
            r.prompt
                .contains(&format!("<video 1: {:04}.mp4>", r.order[0] + 1)),
            "{}",
            r.prompt
        );
        assert!(r
            .prompt
            .starts_with(emoscope_sdk::infer::prompts::MLLM_TEXT_1));
    }
    // The last request's parts: text 1, 2 frames × 3 videos, text 2.
    let content = s.state.last_content.lock().unwrap().clone().unwrap();
    let parts = content.as_array().unwrap();
    let kinds: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "text",
            "image_url",
            "image_url",
            "image_url",
            "image_url",
            "image_url",
            "image_url",
            "text"
        ]
    );
    assert!(parts[1]["image_url"]["url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    assert_eq!(
        parts[0]["text"].as_str().unwrap(),
        emoscope_sdk::infer::prompts::MLLM_TEXT_1
    );
    assert_eq!(
        parts[7]["text"].as_str().unwrap(),
        emoscope_sdk::infer::prompts::MLLM_TEXT_2
    );

    // Template "early" puts the videos first; a missing video is a clear error.
    let o = opts(
        &d.path().join("e.jsonl"),
        endpoint(&s.url, 1, None),
        &[
            ("template", Value::Str("early".into())),
            ("max_frames", Value::Int(1)),
        ],
    );
    plugin()
        .call(
            "mllm",
            &[tensor(&t[..1]), Value::Str(vids.to_string_lossy().into())],
            &o,
            &ctx,
        )
        .unwrap();
    let content = s.state.last_content.lock().unwrap().clone().unwrap();
    assert_eq!(content[0]["type"], "image_url");
    let mut m = Map::new();
    m.insert("dir".into(), Value::Str(vids.to_string_lossy().into()));
    m.insert(
        "files".into(),
        Value::List(vec![
            Value::Str("0001.mp4".into()),
            Value::Str("9999.mp4".into()),
        ]),
    );
    let e = plugin()
        .call("mllm", &[tensor(&[[0, 1, 2]]), Value::Map(m)], &o, &ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("9999.mp4"), "{e}");
}
