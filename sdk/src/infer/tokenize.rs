//! Text to token ids for TorchScript text encoders, with the model's own Hugging Face
//! `tokenizer.json` read by the `tokenizers` crate (the same Rust code behind Python's
//! `transformers` fast tokenizers, so ids match the model's training exactly).
use crate::error::{Error, Result};
use crate::{bail, ensure};
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationParams};

/// A Hugging Face tokenizer (`tokenizer.json`), padding and truncating to the model's length.
pub struct TextTokenizer {
    inner: Tokenizer,
    max_length: usize,
    pad_id: i64,
    path: PathBuf,
}

impl TextTokenizer {
    /// Read `tokenizer.json`; every text is cut to `max_length` tokens, special tokens included
    /// (sentence-transformers' `max_seq_length`).
    pub fn from_file(path: &Path, max_length: usize) -> Result<TextTokenizer> {
        ensure!(
            max_length >= 2,
            "max_length {max_length}: at least 2 tokens are needed for the special tokens"
        );
        if !path.is_file() {
            bail!(
                "{}: no such tokenizer file (expected the model's Hugging Face tokenizer.json)",
                path.display()
            );
        }
        let mut inner = Tokenizer::from_file(path).map_err(|e| {
            Error::msg(format!(
                "{}: not a Hugging Face tokenizer.json ({e})",
                path.display()
            ))
        })?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| Error::msg(format!("{}: {e}", path.display())))?;
        // Padding is ours, per batch: the file's fixed-length padding would waste compute.
        inner.with_padding(None);
        let pad_id = inner
            .token_to_id("[PAD]")
            .or_else(|| inner.token_to_id("<pad>"))
            .unwrap_or(0) as i64;
        Ok(TextTokenizer {
            inner,
            max_length,
            pad_id,
            path: path.to_path_buf(),
        })
    }

    /// The longest input, in tokens.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The id of the padding token.
    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }

    /// Token ids of one text, with the model's special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        let enc = self.inner.encode(text, true).map_err(|e| {
            Error::msg(format!(
                "{}: cannot tokenize {:?}: {e}",
                self.path.display(),
                text.chars().take(60).collect::<String>()
            ))
        })?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }
}
