//! OpenAI-compatible endpoints, as scripts describe them:
//! `#{url: "http://gpu1:8000/v1", model: "Qwen/Qwen2.5-7B-Instruct", concurrency: 16,
//! api_key_env: "OPENAI_API_KEY"}` (or a list of such maps).
//!
//! The key is read from the named environment variable when the endpoint is built (a missing
//! variable is an error that names it). It lives in a [`Secret`], whose `Debug` and `Display`
//! print `***`, and is never put in a log line, an error, `run.json` or a store: errors pass
//! through [`Endpoint::redact`] before they leave the client.
use crate::error::{Error, Result};
use crate::value::Value;
use crate::{bail, ensure};
use serde::Deserialize;
use std::fmt;

/// A credential that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret; never shown.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The key itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One server (or one model on a server).
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The base URL as recorded: scheme, host, port and path up to `/v1`; no credentials.
    pub url: String,
    /// The model name sent with each request.
    pub model: String,
    /// Requests this endpoint may have in flight at once (its worker threads).
    pub concurrency: usize,
    /// The environment variable the key came from (recorded; the key is not).
    pub api_key_env: Option<String>,
    /// The API key, read from the environment variable the endpoint names.
    pub api_key: Option<Secret>,
}

fn default_concurrency() -> usize {
    4
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    url: String,
    model: String,
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    api_key_env: Option<String>,
}

impl Endpoint {
    /// Build one endpoint; `api_key` is looked up by the caller (see [`Endpoint::from_value`]).
    pub fn new(
        url: &str,
        model: &str,
        concurrency: usize,
        api_key_env: Option<&str>,
        api_key: Option<Secret>,
    ) -> Result<Endpoint> {
        let url = base_url(url)?;
        ensure!(
            !model.trim().is_empty(),
            "endpoint {url}: model is empty: give the model name the server serves (GET {url}/models lists them)"
        );
        ensure!(
            (1..=4096).contains(&concurrency),
            "endpoint {url}: concurrency must be between 1 and 4096, got {concurrency}"
        );
        Ok(Endpoint {
            url,
            model: model.to_string(),
            concurrency,
            api_key_env: api_key_env.map(str::to_string),
            api_key,
        })
    }

    /// Endpoints from a map or a list of maps with keys `url`, `model`, `concurrency` (default 4)
    /// and `api_key_env` (optional: local servers need no key). Each key is read from its
    /// environment variable now, so a missing variable fails before any work starts.
    pub fn from_value(v: &Value) -> Result<Vec<Endpoint>> {
        Self::from_value_with(v, &|name| std::env::var(name).ok())
    }

    /// As [`Endpoint::from_value`], with the environment given (for tests).
    pub fn from_value_with(
        v: &Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Endpoint>> {
        let items: Vec<&Value> = match v {
            Value::Map(_) => vec![v],
            Value::List(l) => l.iter().collect(),
            other => bail!(
                "endpoints must be a map #{{url, model, concurrency, api_key_env}} or a list of them, got {}",
                other.type_name()
            ),
        };
        ensure!(
            !items.is_empty(),
            "endpoints is an empty list: give at least one #{{url, model}}"
        );
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let which = format!("endpoint {}", i + 1);
            ensure!(
                matches!(item, Value::Map(_)),
                "{which} must be a map #{{url, model, concurrency, api_key_env}}, got {}",
                item.type_name()
            );
            let s: Spec = crate::options::from_value(item).map_err(|e| e.context(&which))?;
            let key = match &s.api_key_env {
                None => None,
                Some(name) => {
                    ensure!(
                        !name.is_empty() && !name.contains('='),
                        "{which}: api_key_env must name an environment variable, got '{name}'"
                    );
                    match env(name) {
                        Some(k) if !k.trim().is_empty() => Some(Secret::new(k.trim())),
                        Some(_) => bail!(
                            "{which}: the environment variable {name} (api_key_env) is empty; set it to the API key"
                        ),
                        None => bail!(
                            "{which}: the environment variable {name} (api_key_env) is not set; export it with the API key, or leave api_key_env out for a server that needs none"
                        ),
                    }
                }
            };
            let e = Endpoint::new(
                &s.url,
                &s.model,
                s.concurrency,
                s.api_key_env.as_deref(),
                key,
            )
            .map_err(|e| e.context(&which))?;
            out.push(e);
        }
        Ok(out)
    }

    /// The chat completions URL.
    pub fn chat_url(&self) -> String {
        format!("{}/chat/completions", self.url)
    }
    /// The embeddings URL.
    pub fn embeddings_url(&self) -> String {
        format!("{}/embeddings", self.url)
    }
    /// The model list URL.
    pub fn models_url(&self) -> String {
        format!("{}/models", self.url)
    }

    /// `text` with the key replaced by `***` (servers sometimes echo what they were sent).
    pub fn redact(&self, text: &str) -> String {
        match &self.api_key {
            Some(k) if k.expose().len() >= 4 => text.replace(k.expose(), "***"),
            _ => text.to_string(),
        }
    }
}

/// Normalise a user's URL to the API base: `http://h:8000` -> `http://h:8000/v1`;
/// `http://h:8000/v1/` -> `http://h:8000/v1`; `.../v1/chat/completions` -> `.../v1`.
fn base_url(url: &str) -> Result<String> {
    let u = url.trim();
    let Some((scheme, rest)) = u.split_once("://") else {
        bail!("endpoint url '{u}' has no scheme: write http://host:port/v1 or https://...");
    };
    let scheme = scheme.to_ascii_lowercase();
    ensure!(
        scheme == "http" || scheme == "https",
        "endpoint url '{u}': scheme {scheme} is not supported (http or https)"
    );
    if scheme == "https" && !cfg!(feature = "tls") {
        bail!("endpoint url '{u}': this build has no TLS; rebuild emoscope with the sdk feature `tls`");
    }
    let (authority, path) = match rest.find('/') {
        Some(k) => (&rest[..k], &rest[k..]),
        None => (rest, ""),
    };
    if authority.contains('@') {
        // Do not echo the URL: it carries a credential.
        return Err(Error::msg(
            "an endpoint url carries credentials (user:password@host); put the key in an environment variable and name it with api_key_env",
        ));
    }
    ensure!(!authority.is_empty(), "endpoint url '{u}' has no host");
    ensure!(
        !path.contains('?') && !path.contains('#'),
        "endpoint url '{u}': give the base URL without a query (?...) or fragment"
    );
    let mut path = path.trim_end_matches('/').to_string();
    for tail in ["/chat/completions", "/embeddings"] {
        if let Some(p) = path.strip_suffix(tail) {
            path = p.to_string();
        }
    }
    if path.is_empty() {
        path = "/v1".into();
    }
    Ok(format!("{scheme}://{authority}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Map;

    fn ep(pairs: &[(&str, Value)]) -> Value {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert(k.to_string(), v.clone());
        }
        Value::Map(m)
    }

    #[test]
    fn urls_are_normalised_to_the_api_base() {
        assert_eq!(base_url("http://h:8000").unwrap(), "http://h:8000/v1");
        assert_eq!(base_url("http://h:8000/v1/").unwrap(), "http://h:8000/v1");
        assert_eq!(
            base_url("HTTP://h:8000/v1/chat/completions").unwrap(),
            "http://h:8000/v1"
        );
        assert_eq!(
            base_url("http://h/api/openai/v1").unwrap(),
            "http://h/api/openai/v1"
        );
        assert!(base_url("h:8000")
            .unwrap_err()
            .to_string()
            .contains("scheme"));
        assert!(base_url("ftp://h").is_err());
        let e = base_url("http://user:sk-secret@h/v1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("credentials") && !e.contains("sk-secret"), "{e}");
    }

    #[test]
    fn keys_come_from_the_named_variable_and_never_print() {
        let v = Value::List(vec![
            ep(&[
                ("url", Value::Str("http://a:1/v1".into())),
                ("model", Value::Str("m".into())),
                ("api_key_env", Value::Str("MY_KEY".into())),
            ]),
            ep(&[
                ("url", Value::Str("http://b:2".into())),
                ("model", Value::Str("m".into())),
                ("concurrency", Value::Int(16)),
            ]),
        ]);
        let env = |n: &str| (n == "MY_KEY").then(|| "sk-abcdef".to_string());
        let e = Endpoint::from_value_with(&v, &env).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].api_key.as_ref().unwrap().expose(), "sk-abcdef");
        assert_eq!(e[1].concurrency, 16);
        assert_eq!(e[0].concurrency, 4);
        let shown = format!("{:?} {:?}", e[0], e[1]);
        assert!(!shown.contains("sk-abcdef"), "{shown}");
        assert_eq!(e[0].redact("bad key sk-abcdef"), "bad key ***");

        let none = |_: &str| None;
        let err = Endpoint::from_value_with(&v, &none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("MY_KEY") && err.contains("not set"), "{err}");
    }

    #[test]
    fn bad_endpoint_maps_are_clear_errors() {
        let none = |_: &str| None;
        let typo = ep(&[
            ("url", Value::Str("http://a/v1".into())),
            ("model", Value::Str("m".into())),
            ("concurency", Value::Int(2)),
        ]);
        let e = Endpoint::from_value_with(&typo, &none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("endpoint 1") && e.contains("concurency"), "{e}");
        let no_model = ep(&[("url", Value::Str("http://a/v1".into()))]);
        let e = Endpoint::from_value_with(&no_model, &none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("model"), "{e}");
        let e = Endpoint::from_value_with(&Value::List(vec![]), &none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        let zero = ep(&[
            ("url", Value::Str("http://a/v1".into())),
            ("model", Value::Str("m".into())),
            ("concurrency", Value::Int(0)),
        ]);
        assert!(Endpoint::from_value_with(&zero, &none).is_err());
    }
}
