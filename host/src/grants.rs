//! What the user grants plugins beyond computing: today, inference through an OpenAI-compatible
//! endpoint. A plugin's manifest can only *ask* (`permissions = ["inference"]`); the grant is the
//! user's own, kept outside every plugin folder so that installing or updating a plugin never
//! grants it anything:
//!
//! ```toml
//! # ~/.config/emoscope/grants.toml (or $EMOSCOPE_CONFIG/grants.toml)
//! [odd_one_out.inference]
//! url = "http://localhost:8000/v1"
//! model = "Qwen/Qwen2.5-7B-Instruct"        # for chat
//! embed_model = "BAAI/bge-small-en-v1.5"    # for embeddings (default: model)
//! api_key_env = "OPENAI_API_KEY"            # optional; the key itself is never stored
//! ```
//!
//! `emoscope plugin grant NAME --url ... --model ...` writes it; `emoscope plugin revoke NAME`
//! removes it.
use emoscope_sdk::infer::Endpoint;
use emoscope_sdk::{bail, ensure, Error, Map, Result, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InferenceGrant {
    pub url: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginGrants {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference: Option<InferenceGrant>,
}

impl InferenceGrant {
    /// The chat endpoint, with its key read from the environment now.
    pub fn chat_endpoint(&self) -> Result<Endpoint> {
        self.endpoint(&self.model)
    }
    /// The embeddings endpoint (`embed_model`, else `model`).
    pub fn embed_endpoint(&self) -> Result<Endpoint> {
        self.endpoint(self.embed_model.as_deref().unwrap_or(&self.model))
    }
    /// Through `Endpoint::from_value`, as judge::llm's endpoints: the same checks of the URL,
    /// the model and the key's variable, and the same messages.
    fn endpoint(&self, model: &str) -> Result<Endpoint> {
        let mut m = Map::new();
        m.insert("url".into(), Value::Str(self.url.clone()));
        m.insert("model".into(), Value::Str(model.to_string()));
        m.insert("concurrency".into(), Value::Int(1));
        if let Some(k) = &self.api_key_env {
            m.insert("api_key_env".into(), Value::Str(k.clone()));
        }
        let mut eps = Endpoint::from_value(&Value::Map(m))?;
        Ok(eps.remove(0))
    }
}

/// `$EMOSCOPE_CONFIG/grants.toml`, else `$XDG_CONFIG_HOME/emoscope/grants.toml`, else
/// `~/.config/emoscope/grants.toml`.
pub fn path() -> Option<PathBuf> {
    std::env::var_os("EMOSCOPE_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CONFIG_HOME").map(|c| PathBuf::from(c).join("emoscope")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/emoscope")))
        .map(|d| d.join("grants.toml"))
}

/// Every grant, by plugin name. A missing file grants nothing; a broken one is an error that
/// names it.
pub fn read_all() -> Result<BTreeMap<String, PluginGrants>> {
    let Some(p) = path() else {
        return Ok(BTreeMap::new());
    };
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => bail!("{}: {e}", p.display()),
    };
    toml::from_str(&text).map_err(|e| {
        Error::msg(format!(
            "{}: not a valid grants file: {}",
            p.display(),
            e.to_string().trim()
        ))
    })
}

/// The inference grant of plugin `name`, if the user gave one.
pub fn inference(name: &str) -> Result<Option<InferenceGrant>> {
    Ok(read_all()?.remove(name).and_then(|g| g.inference))
}

fn write_all(all: &BTreeMap<String, PluginGrants>) -> Result<PathBuf> {
    let Some(p) = path() else {
        bail!("no config folder: set EMOSCOPE_CONFIG or HOME");
    };
    let text = toml::to_string_pretty(all).map_err(|e| Error::msg(e.to_string()))?;
    emoscope_sdk::io::atomic_write(&p, |w| {
        std::io::Write::write_all(w, text.as_bytes())?;
        Ok(())
    })?;
    Ok(p)
}

/// `emoscope plugin grant NAME --url --model [--embed-model] [--api-key-env]`.
pub fn grant(name: &str, g: InferenceGrant) -> Result<PathBuf> {
    ensure!(
        crate::manifest::is_name(name),
        "'{name}' is not a plugin name"
    );
    // Checked now (URL form, model), not at the plugin's first request.
    Endpoint::new(&g.url, &g.model, 1, None, None)?;
    let mut all = read_all()?;
    all.entry(name.to_string()).or_default().inference = Some(g);
    write_all(&all)
}

/// `emoscope plugin revoke NAME`: whether there was anything to revoke.
pub fn revoke(name: &str) -> Result<bool> {
    let mut all = read_all()?;
    let had = all.remove(name).is_some();
    if had {
        write_all(&all)?;
    }
    Ok(had)
}
