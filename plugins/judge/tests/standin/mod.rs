//! A stand-in OpenAI-compatible server for the judge's tests and the throughput bench: a real
//! HTTP/1.1 server (keep-alive, one thread per connection) on 127.0.0.1:0 that answers
//! `/v1/chat/completions` from a hidden embedding with noise, and injects faults on a schedule.
//!
//! It reads the three captions out of the study's prompt (`[Video_1: ...], [Video_2: ...],
//! [Video_3: ...]`), maps each caption back to its stimulus, keeps the pair with the largest
//! dot product (plus Gaussian noise that is a function of the prompt, so the same prompt always
//! gets the same answer) and answers "Video k is noticeably different from the other two." for
//! the other one. It remembers, per prompt, which stimulus it meant, so a test can check that
//! every parsed choice is the one intended.
#![allow(dead_code)]
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does with one chat request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Answer properly.
    None,
    /// 429 with `Retry-After: secs`.
    RateLimit(u64),
    /// 500.
    ServerError,
    /// Sleep this long, then answer (past the client's timeout).
    Sleep(Duration),
    /// 200 with a JSON body cut in half.
    Truncated,
    /// 200 with an answer that names no video.
    NoChoice,
    /// 200 with an answer that names two videos.
    Ambiguous,
    /// 400 (a request the server rejects: not retried).
    BadRequest,
}

pub type Schedule = Arc<dyn Fn(u64, &str) -> Fault + Send + Sync>;

pub struct Config {
    /// Hidden embedding, one row per stimulus.
    pub embedding: Vec<Vec<f64>>,
    /// Standard deviation of the noise added to each pair's similarity.
    pub noise: f64,
    /// Caption text -> stimulus.
    pub captions: HashMap<String, usize>,
    /// Required bearer key (None: no auth).
    pub key: Option<String>,
    pub model: String,
    /// Fault for request number n (0-based) and its prompt; embedding requests are numbered
    /// apart, with the prompt "embeddings".
    pub faults: Schedule,
    /// Time every answer takes.
    pub delay: Duration,
}

#[derive(Default)]
pub struct State {
    pub chat_requests: AtomicU64,
    pub embed_requests: AtomicU64,
    pub auth_failures: AtomicU64,
    /// Prompt -> the stimulus it meant as odd (None: it answered with no choice).
    pub intended: Mutex<HashMap<String, Option<usize>>>,
    /// (time, fault) of every chat request.
    pub log: Mutex<Vec<(Instant, Fault)>>,
    /// The content of the last request's user message, as JSON.
    pub last_content: Mutex<Option<serde_json::Value>>,
}

pub struct Standin {
    pub url: String,
    pub state: Arc<State>,
}

pub fn start(cfg: Config) -> Standin {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let state = Arc::new(State::default());
    let cfg = Arc::new(cfg);
    let st = state.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { continue };
            let (cfg, st) = (cfg.clone(), st.clone());
            std::thread::spawn(move || {
                let _ = connection(s, &cfg, &st);
            });
        }
    });
    Standin { url, state }
}

/// A URL where nothing listens.
pub fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    format!("http://{a}/v1")
}

fn connection(s: TcpStream, cfg: &Config, st: &State) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut len = 0usize;
        let mut auth = None;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    len = v.trim().parse().unwrap_or(0);
                } else if k == "authorization" {
                    auth = Some(v.trim().to_string());
                }
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        if let Some(k) = &cfg.key {
            if auth.as_deref() != Some(&format!("Bearer {k}")) {
                st.auth_failures.fetch_add(1, Ordering::SeqCst);
                respond(
                    &mut w,
                    401,
                    &[],
                    br#"{"error":{"message":"Incorrect API key provided"}}"#,
                )?;
                continue;
            }
        }
        if method == "GET" && path.ends_with("/models") {
            let b =
                serde_json::json!({"object":"list","data":[{"id": cfg.model, "object":"model"}]});
            respond(&mut w, 200, &[], b.to_string().as_bytes())?;
        } else if method == "POST" && path.ends_with("/chat/completions") {
            chat(&mut w, &body, cfg, st)?;
        } else if method == "POST" && path.ends_with("/embeddings") {
            embeddings(&mut w, &body, cfg, st)?;
        } else {
            respond(
                &mut w,
                404,
                &[],
                br#"{"error":{"message":"no such route"}}"#,
            )?;
        }
    }
}

fn respond(
    w: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut all = head.into_bytes();
    all.extend_from_slice(body);
    w.write_all(&all)?;
    w.flush()
}

/// The user message's text (a string, or its text parts joined).
fn prompt_of(j: &serde_json::Value) -> String {
    let msgs = j["messages"].as_array().cloned().unwrap_or_default();
    let Some(m) = msgs.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &m["content"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(p) => p
            .iter()
            .filter_map(|x| x["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The three captions of the study's LLM prompt.
pub fn captions_of(prompt: &str) -> Option<[String; 3]> {
    let a = prompt.rfind("[Video_1: ")? + "[Video_1: ".len();
    let b = prompt[a..].find("], [Video_2: ")? + a;
    let c = prompt[b..].find("], [Video_3: ")? + b;
    let end = prompt.rfind(']')?;
    Some([
        prompt[a..b].to_string(),
        prompt[b + "], [Video_2: ".len()..c].to_string(),
        prompt[c + "], [Video_3: ".len()..end].to_string(),
    ])
}

fn hash(s: &str) -> u64 {
    // FNV-1a, then splitmix: a stable, dependency-free hash.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// Three standard normal draws from a hash (Box–Muller).
fn normals(mut h: u64) -> [f64; 3] {
    let mut next = || {
        h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    std::array::from_fn(|_| {
        let (u, v) = (next().max(1e-12), next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    })
}

/// The stimulus the server means as odd among `shown` (stimulus indices in shown order).
pub fn intended_odd(
    cfg_embedding: &[Vec<f64>],
    noise: f64,
    shown: [usize; 3],
    prompt: &str,
) -> usize {
    let dot = |a: usize, b: usize| -> f64 {
        cfg_embedding[a]
            .iter()
            .zip(&cfg_embedding[b])
            .map(|(x, y)| x * y)
            .sum()
    };
    let n = normals(hash(prompt));
    // Pairs (0,1), (0,2), (1,2); the odd one is the item outside the most similar pair.
    let s = [
        dot(shown[0], shown[1]) + noise * n[0],
        dot(shown[0], shown[2]) + noise * n[1],
        dot(shown[1], shown[2]) + noise * n[2],
    ];
    let best = (0..3).fold(0, |b, k| if s[k] > s[b] { k } else { b });
    shown[[2, 1, 0][best]]
}

fn chat(w: &mut TcpStream, body: &[u8], cfg: &Config, st: &State) -> std::io::Result<()> {
    let n = st.chat_requests.fetch_add(1, Ordering::SeqCst);
    let j: serde_json::Value = match serde_json::from_slice(body) {
        Ok(j) => j,
        Err(_) => return respond(w, 400, &[], br#"{"error":{"message":"bad JSON"}}"#),
    };
    if let Some(m) = j["messages"].as_array().and_then(|m| m.last()) {
        *st.last_content.lock().unwrap() = Some(m["content"].clone());
    }
    let prompt = prompt_of(&j);
    let fault = (cfg.faults)(n, &prompt);
    st.log.lock().unwrap().push((Instant::now(), fault.clone()));
    if !cfg.delay.is_zero() {
        std::thread::sleep(cfg.delay);
    }
    let answer = |text: &str| {
        serde_json::json!({
            "id": format!("chatcmpl-{n}"),
            "object": "chat.completion",
            "model": cfg.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt.len() / 4, "completion_tokens": text.len() / 4, "total_tokens": (prompt.len() + text.len()) / 4}
        })
        .to_string()
    };
    match fault {
        Fault::RateLimit(s) => respond(
            w,
            429,
            &[("Retry-After", s.to_string())],
            br#"{"error":{"message":"rate limited"}}"#,
        ),
        Fault::ServerError => respond(w, 500, &[], br#"{"error":{"message":"internal error"}}"#),
        Fault::BadRequest => respond(
            w,
            400,
            &[],
            br#"{"error":{"message":"this request is not accepted"}}"#,
        ),
        Fault::NoChoice => {
            st.intended.lock().unwrap().insert(prompt.clone(), None);
            respond(
                w,
                200,
                &[],
                answer("They all evoke similar feelings; I cannot tell.").as_bytes(),
            )
        }
        Fault::Ambiguous => {
            st.intended.lock().unwrap().insert(prompt.clone(), None);
            respond(
                w,
                200,
                &[],
                answer("Video 1 is noticeably different from the other two. Or Video 2 is noticeably different.").as_bytes(),
            )
        }
        Fault::Truncated | Fault::Sleep(_) | Fault::None => {
            if let Fault::Sleep(d) = fault {
                std::thread::sleep(d);
            }
            let Some(caps) = captions_of(&prompt) else {
                // Not the study's LLM prompt (an MLLM request): answer video 1.
                return respond(
                    w,
                    200,
                    &[],
                    answer("Video 1 is noticeably different from the other two.").as_bytes(),
                );
            };
            let shown: Option<Vec<usize>> =
                caps.iter().map(|c| cfg.captions.get(c).copied()).collect();
            let Some(shown) = shown else {
                return respond(w, 400, &[], br#"{"error":{"message":"unknown caption"}}"#);
            };
            let shown = [shown[0], shown[1], shown[2]];
            let odd = intended_odd(&cfg.embedding, cfg.noise, shown, &prompt);
            let k = shown.iter().position(|&s| s == odd).unwrap() + 1;
            let text = format!(
                "Video 1 evokes one feeling, Video 2 another, Video 3 a third.\n\n**Video {k}** is noticeably different from the other two. The reason is its tone."
            );
            let body = answer(&text);
            if fault == Fault::Truncated {
                respond(w, 200, &[], &body.as_bytes()[..body.len() / 2])
            } else {
                st.intended
                    .lock()
                    .unwrap()
                    .insert(prompt.clone(), Some(odd));
                respond(w, 200, &[], body.as_bytes())
            }
        }
    }
}

/// `/embeddings`: a caption's stimulus row of the hidden embedding (any other text: its length
/// and 1), with the same fault schedule as chat.
fn embeddings(w: &mut TcpStream, body: &[u8], cfg: &Config, st: &State) -> std::io::Result<()> {
    let n = st.embed_requests.fetch_add(1, Ordering::SeqCst);
    let j: serde_json::Value = match serde_json::from_slice(body) {
        Ok(j) => j,
        Err(_) => return respond(w, 400, &[], br#"{"error":{"message":"bad JSON"}}"#),
    };
    let fault = (cfg.faults)(n, "embeddings");
    st.log.lock().unwrap().push((Instant::now(), fault.clone()));
    let inputs = j["input"].as_array().cloned().unwrap_or_default();
    let data: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let text = s.as_str().unwrap_or("");
            let v = match cfg.captions.get(text) {
                Some(&k) => cfg.embedding[k].clone(),
                None => vec![text.len() as f64, 1.0],
            };
            serde_json::json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    let b = serde_json::json!({"object": "list", "data": data, "model": cfg.model,
        "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()}})
    .to_string();
    match fault {
        Fault::RateLimit(s) => respond(
            w,
            429,
            &[("Retry-After", s.to_string())],
            br#"{"error":{"message":"rate limited"}}"#,
        ),
        Fault::ServerError => respond(w, 500, &[], br#"{"error":{"message":"internal error"}}"#),
        Fault::BadRequest => respond(w, 400, &[], br#"{"error":{"message":"input too long"}}"#),
        Fault::Truncated => respond(w, 200, &[], &b.as_bytes()[..b.len() / 2]),
        Fault::Sleep(d) => {
            std::thread::sleep(d);
            respond(w, 200, &[], b.as_bytes())
        }
        Fault::None | Fault::NoChoice | Fault::Ambiguous => respond(w, 200, &[], b.as_bytes()),
    }
}
