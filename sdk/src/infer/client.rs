//! A blocking client for OpenAI-compatible servers (vLLM, llama.cpp, Ollama, hosted APIs):
//! `POST {base}/chat/completions` and `POST {base}/embeddings`, JSON in and out.
//!
//! Every failure is classified for the retry loop ([`ErrorKind`]): connection errors, timeouts,
//! 408, 429 and 5xx are transient; a 200 whose body is not a chat completion (bad JSON, no
//! `choices`) is malformed (retried a bounded number of times: it may be a truncated transfer);
//! any other 4xx is fatal (the request itself is wrong). Messages never contain the API key.
use super::endpoint::Endpoint;
use base64::Engine;
use serde_json::{json, Value as Json};
use std::fmt;
use std::time::{Duration, Instant};

/// One part of a message's content.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Plain text.
    Text(String),
    /// `{"type":"image_url","image_url":{"url": ...}}`: an http(s) URL or a data URL.
    ImageUrl(String),
    /// `{"type":"video_url","video_url":{"url": ...}}` (vLLM and other servers with video input).
    VideoUrl(String),
}

impl Part {
    /// A PNG as a base64 data URL.
    pub fn png(bytes: &[u8]) -> Part {
        Part::ImageUrl(data_url("image/png", bytes))
    }
    /// A JPEG as a base64 data URL.
    pub fn jpeg(bytes: &[u8]) -> Part {
        Part::ImageUrl(data_url("image/jpeg", bytes))
    }
    /// An MP4 as a base64 data URL (for `video_url`).
    pub fn mp4(bytes: &[u8]) -> Part {
        Part::VideoUrl(data_url("video/mp4", bytes))
    }

    fn to_json(&self) -> Json {
        match self {
            Part::Text(t) => json!({"type": "text", "text": t}),
            Part::ImageUrl(u) => json!({"type": "image_url", "image_url": {"url": u}}),
            Part::VideoUrl(u) => json!({"type": "video_url", "video_url": {"url": u}}),
        }
    }
}

/// A `data:` URL holding `bytes` of type `mime`, base64-encoded.
pub fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A message's content: a plain string (what every server accepts) or a list of parts.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// One text.
    Text(String),
    /// Text and images, in order.
    Parts(Vec<Part>),
}

#[derive(Clone, Debug, PartialEq)]
/// One chat message.
pub struct Message {
    /// "system", "user" or "assistant".
    pub role: String,
    /// What it says.
    pub content: Content,
}

impl Message {
    /// A user message of text.
    pub fn user(text: impl Into<String>) -> Message {
        Message {
            role: "user".into(),
            content: Content::Text(text.into()),
        }
    }
    /// A user message of several parts (text and images).
    pub fn user_parts(parts: Vec<Part>) -> Message {
        Message {
            role: "user".into(),
            content: Content::Parts(parts),
        }
    }
    /// A system message.
    pub fn system(text: impl Into<String>) -> Message {
        Message {
            role: "system".into(),
            content: Content::Text(text.into()),
        }
    }
}

/// A chat-completions request (the model comes from the endpoint).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatRequest {
    /// The conversation.
    pub messages: Vec<Message>,
    /// Sampling temperature; the endpoint's default when `None`.
    pub temperature: Option<f64>,
    /// The most tokens to generate; the endpoint's default when `None`.
    pub max_tokens: Option<u64>,
    /// Sampling seed, for servers that honour it (vLLM, OpenAI).
    pub seed: Option<u64>,
}

impl ChatRequest {
    /// The request body for `model`, as the chat completions API takes it.
    pub fn to_json(&self, model: &str) -> Json {
        let messages: Vec<Json> = self
            .messages
            .iter()
            .map(|m| {
                let content = match &m.content {
                    Content::Text(t) => Json::String(t.clone()),
                    Content::Parts(p) => Json::Array(p.iter().map(Part::to_json).collect()),
                };
                json!({"role": m.role, "content": content})
            })
            .collect();
        let mut body = json!({"model": model, "messages": messages});
        let o = body.as_object_mut().expect("an object");
        if let Some(t) = self.temperature {
            o.insert("temperature".into(), json!(t));
        }
        if let Some(m) = self.max_tokens {
            o.insert("max_tokens".into(), json!(m));
        }
        if let Some(s) = self.seed {
            o.insert("seed".into(), json!(s));
        }
        body
    }
}

/// A completed chat request.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatReply {
    /// The first choice's message content (empty when the server sent `null`).
    pub text: String,
    /// Why generation stopped, as the endpoint says.
    pub finish_reason: Option<String>,
    /// Tokens in the prompt, when reported.
    pub prompt_tokens: Option<u64>,
    /// Tokens generated, when reported.
    pub completion_tokens: Option<u64>,
    /// Time from request to reply.
    pub latency: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// Why a call failed, which decides whether it is retried.
pub enum ErrorKind {
    /// Connection refused/reset, timeouts, 408, 5xx: try again after a backoff.
    Transient,
    /// 429: try again after the server's Retry-After (or a backoff).
    RateLimited,
    /// A 2xx whose body is not what the protocol says: a bounded number of retries.
    Malformed,
    /// Any other 4xx, or a request that cannot be built: do not retry.
    Fatal,
}

/// A failed call, classified.
#[derive(Clone, Debug, PartialEq)]
pub struct CallError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// How long the server asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl CallError {
    fn new(kind: ErrorKind, message: String) -> Self {
        CallError {
            kind,
            message,
            status: None,
            retry_after: None,
        }
    }
    /// Whether trying again may succeed (timeouts, rate limits, server errors).
    pub fn is_retryable(&self) -> bool {
        self.kind != ErrorKind::Fatal
    }
}

/// Largest response body read (a chat answer is a few KB; an embedding batch a few MB).
const MAX_BODY: u64 = 64 << 20;

/// The HTTP client: one connection pool shared by every worker thread.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// The time allowed for one request.
    pub timeout: Duration,
}

impl Client {
    /// `timeout`: the whole request (connect, send, wait, receive); `connect_timeout`: TCP and
    /// TLS set-up alone. `max_idle`: connections kept open for reuse (the total concurrency).
    pub fn new(timeout: Duration, connect_timeout: Duration, max_idle: usize) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(connect_timeout.min(timeout)))
            .max_idle_connections(max_idle.max(1))
            .max_idle_connections_per_host(max_idle.max(1))
            .user_agent(format!("emoscope/{}", crate::VERSION))
            .build()
            .into();
        Client { agent, timeout }
    }

    /// POST JSON, returning the status, the Retry-After header and the body.
    fn post(
        &self,
        ep: &Endpoint,
        url: &str,
        body: &Json,
    ) -> Result<(u16, Option<Duration>, String), CallError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            CallError::new(ErrorKind::Fatal, format!("cannot encode the request: {e}"))
        })?;
        let mut req = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        if let Some(k) = &ep.api_key {
            req = req.header("Authorization", &format!("Bearer {}", k.expose()));
        }
        let mut resp = req
            .send(&bytes[..])
            .map_err(|e| transport_error(ep, url, e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let text = match resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
        {
            Ok(t) => t,
            Err(e) => {
                // A body cut short on a 2xx is a malformed answer (the server did answer);
                // otherwise, as a timeout, a transport failure.
                let kind = match &e {
                    ureq::Error::Timeout(_) => ErrorKind::Transient,
                    _ if (200..300).contains(&status) => ErrorKind::Malformed,
                    _ => ErrorKind::Transient,
                };
                return Err(CallError {
                    kind,
                    message: ep.redact(&format!(
                        "{url}: HTTP {status}, reading the answer failed: {e}"
                    )),
                    status: Some(status),
                    retry_after,
                });
            }
        };
        Ok((status, retry_after, text))
    }

    fn check_status(
        ep: &Endpoint,
        url: &str,
        status: u16,
        retry_after: Option<Duration>,
        body: &str,
    ) -> Result<(), CallError> {
        if (200..300).contains(&status) {
            return Ok(());
        }
        let snippet = server_message(body);
        let kind = match status {
            429 => ErrorKind::RateLimited,
            408 | 500..=599 => ErrorKind::Transient,
            _ => ErrorKind::Fatal,
        };
        let hint = match status {
            401 | 403 => " (check the API key in the variable named by api_key_env)",
            404 => " (check the url, which should end in /v1, and the model name)",
            _ => "",
        };
        Err(CallError {
            kind,
            message: ep.redact(&format!("{url}: HTTP {status}{hint}: {snippet}")),
            status: Some(status),
            retry_after,
        })
    }

    /// One chat completion.
    pub fn chat(&self, ep: &Endpoint, req: &ChatRequest) -> Result<ChatReply, CallError> {
        let url = ep.chat_url();
        let t0 = Instant::now();
        let (status, retry_after, body) = self.post(ep, &url, &req.to_json(&ep.model))?;
        Self::check_status(ep, &url, status, retry_after, &body)?;
        let latency = t0.elapsed();
        parse_chat(&body, latency)
            .map_err(|m| CallError::new(ErrorKind::Malformed, ep.redact(&format!("{url}: {m}"))))
    }

    /// `GET {base}/models`: the model names the server serves. Used before a collection to
    /// fail early on an unreachable server or a rejected key.
    pub fn models(&self, ep: &Endpoint) -> Result<Vec<String>, CallError> {
        let url = ep.models_url();
        let mut req = self.agent.get(&url);
        if let Some(k) = &ep.api_key {
            req = req.header("Authorization", &format!("Bearer {}", k.expose()));
        }
        let mut resp = req.call().map_err(|e| transport_error(ep, &url, e))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .unwrap_or_default();
        Self::check_status(ep, &url, status, None, &body)?;
        let j: Json = serde_json::from_str(&body).map_err(|e| {
            CallError::new(
                ErrorKind::Malformed,
                format!("{url}: not a model list ({e})"),
            )
        })?;
        Ok(j.get("data")
            .and_then(Json::as_array)
            .map(|d| {
                d.iter()
                    .filter_map(|m| m.get("id").and_then(Json::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Embeddings of `inputs`, in input order.
    pub fn embed(&self, ep: &Endpoint, inputs: &[String]) -> Result<Embeddings, CallError> {
        let url = ep.embeddings_url();
        let body = json!({"model": ep.model, "input": inputs});
        let (status, retry_after, text) = self.post(ep, &url, &body)?;
        Self::check_status(ep, &url, status, retry_after, &text)?;
        parse_embeddings(&text, inputs.len())
            .map_err(|m| CallError::new(ErrorKind::Malformed, ep.redact(&format!("{url}: {m}"))))
    }
}

fn transport_error(ep: &Endpoint, url: &str, e: ureq::Error) -> CallError {
    let kind = match &e {
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::RequireHttpsOnly(_) => {
            ErrorKind::Fatal
        }
        _ => ErrorKind::Transient,
    };
    let what = match &e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is the server running?)".to_string()
        }
        other => other.to_string(),
    };
    CallError::new(kind, ep.redact(&format!("{url}: {what}")))
}

/// The server's own error message, shortened.
fn server_message(body: &str) -> String {
    let msg = serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|j| {
            j.pointer("/error/message")
                .or_else(|| j.get("error"))
                .or_else(|| j.get("message"))
                .or_else(|| j.get("detail"))
                .map(|m| match m {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                })
        })
        .unwrap_or_else(|| body.trim().to_string());
    shorten(&msg, 300)
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

fn parse_chat(body: &str, latency: Duration) -> Result<ChatReply, String> {
    let j: Json = serde_json::from_str(body).map_err(|e| {
        format!(
            "the answer is not valid JSON ({e}): {}",
            shorten(body.trim(), 120)
        )
    })?;
    let choices = j.get("choices").and_then(Json::as_array).ok_or_else(|| {
        format!(
            "the answer has no 'choices' list: {}",
            shorten(&j.to_string(), 120)
        )
    })?;
    let first = choices
        .first()
        .ok_or_else(|| "the answer's 'choices' list is empty".to_string())?;
    let message = first
        .get("message")
        .ok_or_else(|| "the first choice has no 'message'".to_string())?;
    let text = match message.get("content") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        // Some servers answer with a list of parts.
        Some(Json::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Json::as_str))
            .collect::<Vec<_>>()
            .join(""),
        Some(other) => return Err(format!("the message content is not text: {other}")),
    };
    let usage = j.get("usage");
    let tok = |k: &str| usage.and_then(|u| u.get(k)).and_then(Json::as_u64);
    Ok(ChatReply {
        text,
        finish_reason: first
            .get("finish_reason")
            .and_then(Json::as_str)
            .map(str::to_string),
        prompt_tokens: tok("prompt_tokens"),
        completion_tokens: tok("completion_tokens"),
        latency,
    })
}

/// Embedding vectors in input order.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    /// One vector per input, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens in the inputs, when reported.
    pub prompt_tokens: Option<u64>,
}

fn parse_embeddings(body: &str, n: usize) -> Result<Embeddings, String> {
    let j: Json =
        serde_json::from_str(body).map_err(|e| format!("the answer is not valid JSON ({e})"))?;
    let data = j
        .get("data")
        .and_then(Json::as_array)
        .ok_or_else(|| "the answer has no 'data' list".to_string())?;
    if data.len() != n {
        return Err(format!("asked for {n} embeddings, got {}", data.len()));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; n];
    for (k, d) in data.iter().enumerate() {
        let idx = d
            .get("index")
            .and_then(Json::as_u64)
            .map(|i| i as usize)
            .unwrap_or(k);
        if idx >= n || out[idx].is_some() {
            return Err(format!("embedding index {idx} is out of range or repeated"));
        }
        let v = d
            .get("embedding")
            .and_then(Json::as_array)
            .ok_or_else(|| format!("embedding {idx} is not a list of numbers"))?;
        let v: Option<Vec<f32>> = v.iter().map(|x| x.as_f64().map(|x| x as f32)).collect();
        out[idx] = Some(v.ok_or_else(|| format!("embedding {idx} holds a non-number"))?);
    }
    let dim = out[0].as_ref().map_or(0, Vec::len);
    let vectors: Vec<Vec<f32>> = out.into_iter().map(|v| v.unwrap_or_default()).collect();
    if vectors.iter().any(|v| v.len() != dim) {
        return Err("embeddings of different lengths".into());
    }
    Ok(Embeddings {
        vectors,
        prompt_tokens: j.pointer("/usage/prompt_tokens").and_then(Json::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_text_image_and_video_parts() {
        let r = ChatRequest {
            messages: vec![Message::user_parts(vec![
                Part::Text("a".into()),
                Part::png(&[1, 2, 3]),
                Part::VideoUrl("http://x/v.mp4".into()),
            ])],
            temperature: Some(0.5),
            max_tokens: None,
            seed: Some(3),
        };
        let j = r.to_json("m");
        assert_eq!(j["model"], "m");
        assert_eq!(
            j["messages"][0]["content"][0],
            json!({"type":"text","text":"a"})
        );
        assert_eq!(
            j["messages"][0]["content"][1],
            json!({"type":"image_url","image_url":{"url":"data:image/png;base64,AQID"}})
        );
        assert_eq!(
            j["messages"][0]["content"][2]["video_url"]["url"],
            "http://x/v.mp4"
        );
        assert_eq!(j["temperature"], 0.5);
        assert!(j.get("max_tokens").is_none());
        assert_eq!(j["seed"], 3);
        let t = ChatRequest {
            messages: vec![Message::user("hi")],
            ..Default::default()
        };
        assert_eq!(t.to_json("m")["messages"][0]["content"], "hi");
    }

    #[test]
    fn chat_answers_are_checked() {
        let ok = r#"{"choices":[{"message":{"role":"assistant","content":"Video 1 is noticeably different"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":7}}"#;
        let r = parse_chat(ok, Duration::ZERO).unwrap();
        assert_eq!(r.text, "Video 1 is noticeably different");
        assert_eq!((r.prompt_tokens, r.completion_tokens), (Some(10), Some(7)));
        assert!(
            parse_chat(r#"{"choices":[{"message":{"content":"x"}"#, Duration::ZERO)
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(parse_chat(r#"{"id":"x"}"#, Duration::ZERO)
            .unwrap_err()
            .contains("choices"));
        assert!(parse_chat(r#"{"choices":[]}"#, Duration::ZERO)
            .unwrap_err()
            .contains("empty"));
    }

    #[test]
    fn embeddings_follow_their_index() {
        let b = r#"{"data":[{"index":1,"embedding":[3,4]},{"index":0,"embedding":[1,2]}],"usage":{"prompt_tokens":4}}"#;
        let e = parse_embeddings(b, 2).unwrap();
        assert_eq!(e.vectors, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
        assert!(parse_embeddings(b, 3).is_err());
    }

    #[test]
    fn server_messages_are_extracted_and_shortened() {
        assert_eq!(
            server_message(r#"{"error":{"message":"model not found"}}"#),
            "model not found"
        );
        assert_eq!(server_message("plain"), "plain");
        assert_eq!(server_message(&"x".repeat(1000)).chars().count(), 301);
    }
}
