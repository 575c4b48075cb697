//! The `inference` interface: model endpoints a plugin reaches only when its manifest asks and
//! the user granted (crate::grants), with retries.
use super::*;

/// Inference for a plugin: asked for in its manifest, granted by the user (crate::grants).
#[derive(Clone, Debug, Default)]
pub enum Inference {
    #[default]
    NotAsked,
    NotGranted,
    Granted(Arc<InferenceGrant>),
}

impl Inference {
    /// From the manifest's permissions and the user's grants.
    pub fn for_manifest(m: &Manifest) -> Result<Inference> {
        if !m.permissions.iter().any(|p| p == "inference") {
            return Ok(Inference::NotAsked);
        }
        Ok(match crate::grants::inference(&m.name)? {
            Some(g) => Inference::Granted(Arc::new(g)),
            None => Inference::NotGranted,
        })
    }
}

/// One HTTP client for every plugin's inference requests.
fn client() -> &'static emoscope_sdk::infer::Client {
    static C: OnceLock<emoscope_sdk::infer::Client> = OnceLock::new();
    C.get_or_init(|| {
        emoscope_sdk::infer::Client::new(Duration::from_secs(300), Duration::from_secs(10), 4)
    })
}

/// A few tries for a transient failure or a rate limit (honouring Retry-After), as judge::llm
/// does for whole collections; anything else goes straight back to the plugin.
fn with_retries<T>(
    ctx: &Ctx,
    mut f: impl FnMut() -> std::result::Result<T, emoscope_sdk::infer::CallError>,
) -> std::result::Result<T, String> {
    let mut wait = Duration::from_millis(250);
    for attempt in 1.. {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < 4 => {
                let pause = e.retry_after.unwrap_or(wait).min(Duration::from_secs(10));
                let until = Instant::now() + pause;
                while Instant::now() < until {
                    if ctx.cancel.is_cancelled() {
                        return Err("cancelled".into());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                wait *= 2;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    unreachable!()
}

impl inference::Host for State {
    fn embed(
        &mut self,
        texts: Vec<String>,
    ) -> wasmtime::Result<std::result::Result<Resource<HostTensor>, String>> {
        let Inference::Granted(g) = self.inference.clone() else {
            return Ok(Err(self.no_inference()));
        };
        let ep = match g.embed_endpoint() {
            Ok(ep) => ep,
            Err(e) => return Ok(Err(format!("{}: inference: {e}", self.plugin))),
        };
        self.ctx.debug(&format!(
            "{}: embedding {} texts with {} at {}",
            self.plugin,
            texts.len(),
            ep.model,
            ep.url
        ));
        let ctx = self.ctx.clone();
        let e = match with_retries(&ctx, || client().embed(&ep, &texts)) {
            Ok(e) => e,
            Err(e) => return Ok(Err(format!("{}: inference: {e}", self.plugin))),
        };
        let n = e.vectors.len();
        let d = e.vectors.first().map_or(0, Vec::len);
        if e.vectors.iter().any(|v| v.len() != d) {
            return Ok(Err(format!(
                "{}: inference: the server returned embeddings of different lengths",
                self.plugin
            )));
        }
        self.charge(n * d)?;
        let data: Vec<f32> = e.vectors.into_iter().flatten().collect();
        match Tensor::from_vec(data, &[n, d]) {
            Ok(t) => Ok(Ok(self.table.push(HostTensor::new(t))?)),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    fn chat(&mut self, prompt: String) -> wasmtime::Result<std::result::Result<String, String>> {
        let Inference::Granted(g) = self.inference.clone() else {
            return Ok(Err(self.no_inference()));
        };
        let ep = match g.chat_endpoint() {
            Ok(ep) => ep,
            Err(e) => return Ok(Err(format!("{}: inference: {e}", self.plugin))),
        };
        let req = emoscope_sdk::infer::ChatRequest {
            messages: vec![emoscope_sdk::infer::Message::user(prompt)],
            ..Default::default()
        };
        let ctx = self.ctx.clone();
        Ok(with_retries(&ctx, || client().chat(&ep, &req))
            .map(|r| r.text)
            .map_err(|e| format!("{}: inference: {e}", self.plugin)))
    }
}

impl State {
    fn no_inference(&self) -> String {
        match self.inference {
            Inference::NotGranted => format!(
                "{p}: inference is not granted; the user grants it with `emoscope plugin grant {p} --url URL --model MODEL`",
                p = self.plugin
            ),
            _ => format!(
                "{}: inference was not asked for (the plugin's manifest must list permissions = [\"inference\"])",
                self.plugin
            ),
        }
    }
}
