//! Feature vectors for the non-generative model judges ("Methods: non-generative model
//! judgements"): a text or image encoder exported to TorchScript (feature `torch`), or an
//! OpenAI-compatible `/embeddings` endpoint. `judge::from_features` turns them into judgements.
//!
//! Items are texts, lists of texts (one list per stimulus, such as a video's 20 captions: the
//! stimulus gets the mean of its texts' vectors), or, for TorchScript only, a tensor whose first
//! axis is the item.
use crate::net::{self, Network};
use emoscope_sdk::infer::{queue, EmbedRequest, Endpoint, Stop};
use emoscope_sdk::step::Step;
use emoscope_sdk::{bail, ensure, Ctx, Error, Options, Result, Tensor, Value};
use ndarray::Array2;

/// Feature vectors from a model, for judge::from_features (the study's non-generative judges:
/// text encoders on captions, CLIP, ResNet, VideoMAE on videos). A TorchScript module exported
/// from Python runs batched through libtorch on the chosen device (feature torch; text goes
/// through the model's own Hugging Face tokenizer.json), or texts go to an OpenAI-compatible
/// /embeddings endpoint with the same concurrency and retries as judge::llm. A stimulus given
/// several texts (a video's 20 captions) gets the mean of their vectors.
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(items: Any = "a list of texts (one per stimulus), a list of text lists (one list per stimulus, averaged), io::captions' map (its caption lists), or, for TorchScript, a float tensor whose first axis is the stimulus"),
    returns = "stimuli × features f32 tensor, row i for items[i]",
    section = "Methods: non-generative model judgements",
    example = "let X = judge::embed(io::captions(\"captions.csv\"), #{torchscript: \"minilm/model.pt\"});\nlet text = judge::from_features(X, all, #{rule: \"mean_distance\"});"
)]
pub struct Embed {
    /// a module saved by torch.jit.save: texts go in as (input_ids, attention_mask) int64 [B, L],
    /// tensors as float32 [B, ...]; it returns [B, D] (see bench/export_minilm.py)
    pub torchscript: Option<String>,
    /// the model's Hugging Face tokenizer.json (texts only)
    #[opt(doc_default = "tokenizer.json beside the model")]
    pub tokenizer: Option<String>,
    /// tokens per text at most, special tokens included (longer texts are cut, as
    /// sentence-transformers' max_seq_length)
    #[opt(default = 256)]
    pub max_length: usize,
    /// cpu, cuda or cuda:N for the TorchScript module
    #[opt(doc_default = "the run's device")]
    pub device: Option<String>,
    /// #{url, model, concurrency, api_key_env} or a list of them: url is the server's
    /// OpenAI-compatible base (http://host:8000/v1), model the name it serves, concurrency the
    /// requests in flight on it (default 4), api_key_env the environment variable holding its key
    /// (read at start; never logged or stored)
    pub endpoint: Option<Value>,
    /// items per forward pass, or texts per /embeddings request
    #[opt(default = 64)]
    pub batch: usize,
    /// endpoint: seconds for one request
    #[opt(default = net::TIMEOUT)]
    pub timeout: f64,
    /// endpoint: seconds to connect
    #[opt(default = net::CONNECT_TIMEOUT)]
    pub connect_timeout: f64,
    /// endpoint: retries of a request after connection errors, 429, 5xx or a malformed answer
    #[opt(default = net::MAX_RETRIES)]
    pub max_retries: u32,
    /// endpoint: first retry delay in seconds (doubled per retry, jittered; Retry-After honoured)
    #[opt(default = net::BACKOFF)]
    pub backoff: f64,
}

impl Step for Embed {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        embed(&args[0], &self, ctx)
    }
}

/// What is embedded: flat texts with the stimulus each belongs to, or a tensor.
enum Items {
    Texts {
        texts: Vec<String>,
        /// `group[k]` is the stimulus of text k; `None` when every text is its own stimulus.
        group: Option<Vec<usize>>,
        n: usize,
    },
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    Tensor(Tensor),
}

fn items(v: &Value) -> Result<Items> {
    let list = match v {
        Value::Tensor(t) => return Ok(Items::Tensor(t.clone())),
        // io::captions' result: its per-video caption lists.
        Value::Map(m) if m.contains_key("captions") => return items(&m["captions"]),
        Value::List(l) => l,
        Value::Str(_) => bail!("items must be a list of texts, not one text: wrap it as [text]"),
        other => bail!(
            "items must be a list of texts, a list of text lists (one per stimulus), io::captions' map, or a tensor; got {}",
            other.type_name()
        ),
    };
    ensure!(!list.is_empty(), "items is empty: nothing to embed");
    if list.iter().all(|x| matches!(x, Value::Str(_))) {
        let texts: Vec<String> = list
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_string())
            .collect();
        let n = texts.len();
        return Ok(Items::Texts {
            texts,
            group: None,
            n,
        });
    }
    let mut texts = Vec::new();
    let mut group = Vec::new();
    for (i, x) in list.iter().enumerate() {
        let Some(inner) = x.as_list() else {
            bail!(
                "items[{i}] is a {}: items must be all texts, or all lists of texts (one list per stimulus)",
                x.type_name()
            );
        };
        ensure!(
            !inner.is_empty(),
            "items[{i}] is an empty list: every stimulus needs at least one text"
        );
        for (j, t) in inner.iter().enumerate() {
            let Some(s) = t.as_str() else {
                bail!("items[{i}][{j}] is a {}, not a text", t.type_name());
            };
            texts.push(s.to_string());
            group.push(i);
        }
    }
    Ok(Items::Texts {
        texts,
        group: Some(group),
        n: list.len(),
    })
}

/// Mean of each stimulus' text vectors.
fn pool(x: Array2<f32>, group: Option<&[usize]>, n: usize) -> Array2<f32> {
    let Some(group) = group else { return x };
    let mut out = Array2::<f64>::zeros((n, x.ncols()));
    let mut count = vec![0usize; n];
    for (row, &g) in x.rows().into_iter().zip(group) {
        count[g] += 1;
        out.row_mut(g).zip_mut_with(&row, |o, &v| *o += v as f64);
    }
    for (mut r, c) in out.rows_mut().into_iter().zip(count) {
        r /= c as f64;
    }
    out.mapv(|v| v as f32)
}

/// The features of `v`'s items by the model `o` names (see [`Embed`]).
pub fn embed(v: &Value, o: &Embed, ctx: &Ctx) -> Result<Value> {
    ensure!(o.batch >= 1, "batch must be at least 1, got {}", o.batch);
    let items = items(v)?;
    let x = match (&o.endpoint, &o.torchscript) {
        (Some(_), Some(_)) => bail!("give one of endpoint or torchscript, not both"),
        (None, None) => bail!(
            "judge::embed needs a model: #{{torchscript: \"model.pt\"}} (a module exported from Python) or #{{endpoint: #{{url, model}}}} (an OpenAI-compatible /embeddings server)"
        ),
        (Some(ep), None) => {
            for (k, what) in [(&o.tokenizer, "tokenizer"), (&o.device, "device")] {
                ensure!(k.is_none(), "{what} applies to torchscript models, not to an endpoint");
            }
            let Items::Texts { texts, group, n } = items else {
                bail!("an embeddings endpoint takes texts; a tensor of items needs a torchscript model");
            };
            pool(by_endpoint(ep, &texts, o, ctx)?, group.as_deref(), n)
        }
        (None, Some(path)) => by_torchscript(path, items, o, ctx)?,
    };
    if let Some(((r, c), _)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!("the model gave a non-finite value at item {r}, feature {c}");
    }
    Ok(Value::Tensor(Tensor::from_array(x)))
}

#[cfg(feature = "torch")]
fn by_torchscript(path: &str, items: Items, o: &Embed, ctx: &Ctx) -> Result<Array2<f32>> {
    use emoscope_sdk::infer::tokenize::TextTokenizer;
    use emoscope_sdk::infer::torchscript::TorchScript;
    use std::path::{Path, PathBuf};
    let device = match &o.device {
        Some(d) => d.parse()?,
        None => ctx.device,
    };
    let path = Path::new(path);
    let model = TorchScript::load(path, device)?;
    ctx.input_file(path);
    match items {
        Items::Tensor(t) => {
            ensure!(
                o.tokenizer.is_none(),
                "tokenizer applies to texts; the items are a tensor"
            );
            model.embed_tensor(&t, o.batch, ctx)
        }
        Items::Texts { texts, group, n } => {
            let tok_path = match &o.tokenizer {
                Some(t) => PathBuf::from(t),
                None => path.with_file_name("tokenizer.json"),
            };
            let tok = TextTokenizer::from_file(&tok_path, o.max_length).map_err(|e| {
                if o.tokenizer.is_none() {
                    e.context("texts need the model's tokenizer: give #{tokenizer: \"tokenizer.json\"} or put tokenizer.json beside the model")
                } else {
                    e
                }
            })?;
            ctx.input_file(&tok_path);
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let x = model.embed_texts(&tok, &refs, o.batch, ctx)?;
            Ok(pool(x, group.as_deref(), n))
        }
    }
}

#[cfg(not(feature = "torch"))]
fn by_torchscript(_: &str, _: Items, _: &Embed, _: &Ctx) -> Result<Array2<f32>> {
    bail!("TorchScript models need emoscope built with the torch feature (cargo build --release --features torch, with libtorch; docs/judges.md)")
}

fn by_endpoint(ep: &Value, texts: &[String], o: &Embed, ctx: &Ctx) -> Result<Array2<f32>> {
    let endpoints = Endpoint::from_value(ep)?;
    let network = Network {
        timeout: o.timeout,
        connect_timeout: o.connect_timeout,
        max_retries: o.max_retries,
        backoff: o.backoff,
    };
    network.check()?;
    let client = network.client(&endpoints);
    net::preflight(&client, &endpoints, ctx)?;
    let policy = network.policy(ctx.seed);
    let chunks: Vec<(usize, Vec<String>)> = texts
        .chunks(o.batch)
        .enumerate()
        .map(|(k, c)| (k * o.batch, c.to_vec()))
        .collect();
    let n_batches = chunks.len();
    let mut rows: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    let mut failed: Vec<(usize, usize, String)> = Vec::new();
    let stats = queue::run(
        &client,
        &endpoints,
        &policy,
        ctx,
        "embed",
        n_batches as u64,
        chunks.into_iter(),
        |(_, c): &(usize, Vec<String>)| Ok(EmbedRequest(c.clone())),
        |(start, c), out| {
            match out.result {
                Ok(e) => {
                    for (k, v) in e.vectors.into_iter().enumerate() {
                        rows[start + k] = Some(v);
                    }
                }
                Err(e) => failed.push((start, start + c.len(), e.message)),
            }
            Ok(())
        },
    )?;
    match stats.stop {
        Stop::Cancelled => return Err(Error::Cancelled),
        Stop::Budget(b) => bail!("embedding stopped: {b}"),
        Stop::Completed => {}
    }
    if let Some((a, b, why)) = failed.first() {
        bail!(
            "{} of {n_batches} embedding batches failed after retries (the others were answered); the first, items {a}..{b}: {why}",
            failed.len()
        );
    }
    let d = rows[0].as_ref().map_or(0, Vec::len);
    ensure!(d > 0, "the endpoint returned empty embedding vectors");
    let mut x = Array2::<f32>::zeros((texts.len(), d));
    for (i, r) in rows.into_iter().enumerate() {
        let r = r.ok_or_else(|| Error::msg(format!("item {i} was never embedded")))?;
        ensure!(
            r.len() == d,
            "the endpoint returned vectors of different lengths: item 0 has {d}, item {i} has {}",
            r.len()
        );
        x.row_mut(i).assign(&ndarray::ArrayView1::from(&r));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_averages_each_stimulus_texts() {
        let x =
            Array2::from_shape_vec((4, 2), vec![1.0, 0.0, 3.0, 2.0, 5.0, 5.0, 0.0, 1.0]).unwrap();
        let p = pool(x, Some(&[0, 0, 1, 2]), 3);
        assert_eq!(
            p,
            Array2::from_shape_vec((3, 2), vec![2.0, 1.0, 5.0, 5.0, 0.0, 1.0]).unwrap()
        );
    }

    #[test]
    fn items_are_texts_or_text_lists() {
        let t = |s: &str| Value::Str(s.into());
        match items(&Value::List(vec![
            Value::List(vec![t("a"), t("b")]),
            Value::List(vec![t("c")]),
        ]))
        .unwrap()
        {
            Items::Texts { texts, group, n } => {
                assert_eq!(texts, ["a", "b", "c"]);
                assert_eq!(group.unwrap(), [0, 0, 1]);
                assert_eq!(n, 2);
            }
            Items::Tensor(_) => panic!("texts expected"),
        }
        let e = items(&Value::List(vec![
            Value::List(vec![t("a")]),
            Value::List(vec![]),
        ]))
        .err()
        .unwrap();
        assert!(e.to_string().contains("items[1] is an empty list"), "{e}");
        let e = items(&Value::List(vec![t("a"), Value::Int(3)]))
            .err()
            .unwrap();
        assert!(e.to_string().contains("items[0] is a string"), "{e}");
    }
}
