//! Model-inference primitives: what a judge needs to ask language models over the network.
//!
//! - [`endpoint`]: OpenAI-compatible endpoints from a script's `#{url, model, concurrency,
//!   api_key_env}` maps; keys read from the environment, never shown;
//! - [`client`]: a blocking HTTP client for `/chat/completions` (text, image and video parts)
//!   and `/embeddings`, with timeouts and errors classified for retrying;
//! - [`queue`]: many requests over many endpoints (per-endpoint worker threads on one crossbeam
//!   queue), retries with seeded exponential backoff, Retry-After, budgets, cancellation,
//!   progress;
//! - [`store`]: the append-only JSONL store of judgements (resumable, crash-tolerant; it lives in
//!   `io::trials`, since only `io` parses files);
//! - [`parse`]: the study's answer pattern, "Video N is noticeably different";
//! - [`prompts`]: the study's prompts, verbatim, and user templates with `{video_N}` slots;
//! - [`torchscript`] and [`tokenize`] (feature `torch`): feature models exported from Python,
//!   run batched through libtorch, with the model's own Hugging Face tokenizer for text.
pub mod client;
pub mod endpoint;
pub mod parse;
pub mod prompts;
pub mod queue;
pub use crate::io::trials as store;
#[cfg(feature = "torch")]
pub mod tokenize;
#[cfg(feature = "torch")]
pub mod torchscript;
pub mod video;

pub use client::{CallError, ChatReply, ChatRequest, Client, Content, ErrorKind, Message, Part};
pub use endpoint::Endpoint;
pub use queue::{EmbedRequest, Outcome, Policy, Request, RunStats, Stop};
pub use store::{Record, Status, Store};
