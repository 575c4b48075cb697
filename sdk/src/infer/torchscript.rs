//! TorchScript models (feature `torch`): the route for feature models exported from Python
//! (text encoders, CLIP, ResNet, VideoMAE), run batched on libtorch's CPU or a CUDA device.
//!
//! The calling convention, which `bench/export_minilm.py` follows:
//! - a **text encoder** takes `(input_ids, attention_mask)`, both int64 `[B, L]`, right-padded;
//! - any other model takes one float32 tensor `[B, ...]` (images, clips, precomputed features);
//! - either returns one float tensor `[B, D]` (or a tuple whose first element is that): the
//!   pooling and normalisation the model's authors use belong inside the exported module.
use super::tokenize::TextTokenizer;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::tensor::{Device, Tensor};
use crate::{bail, ensure};
use ndarray::Array2;
use std::path::{Path, PathBuf};
use tch::{CModule, IValue, Kind};

/// A TorchScript module exported from Python, run batched on libtorch's CPU or CUDA.
pub struct TorchScript {
    module: CModule,
    device: tch::Device,
    path: PathBuf,
}

fn tch_err(path: &Path, e: tch::TchError) -> Error {
    // libtorch's messages carry a C++ backtrace after the first lines; keep the reason.
    let full = e.to_string();
    let short: Vec<&str> = full
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("frame #"))
        .take(6)
        .collect();
    Error::msg(format!(
        "{}: libtorch: {}",
        path.display(),
        short.join(" | ")
    ))
}

impl TorchScript {
    /// Load a module saved by `torch.jit.save` (or `torch.jit.trace(...).save`) onto `device`
    /// (`cpu` and `torch:cpu` both mean libtorch's CPU).
    pub fn load(path: &Path, device: Device) -> Result<TorchScript> {
        if !path.is_file() {
            bail!(
                "{}: no such TorchScript file (export one with torch.jit.trace(model, example).save(path); see bench/export_minilm.py)",
                path.display()
            );
        }
        let dev = match device {
            Device::Cpu | Device::TorchCpu => tch::Device::Cpu,
            Device::Cuda(n) => {
                let count = tch::Cuda::device_count() as usize;
                ensure!(
                    n < count,
                    "device cuda:{n} is not available: libtorch sees {count} CUDA device(s)"
                );
                tch::Device::Cuda(n)
            }
        };
        let mut module = CModule::load_on_device(path, dev).map_err(|e| {
            let m = tch_err(path, e);
            Error::msg(format!(
                "{m} (is it a TorchScript archive from torch.jit.save, not a state_dict from torch.save?)"
            ))
        })?;
        module.set_eval();
        Ok(TorchScript {
            module,
            device: dev,
            path: path.to_path_buf(),
        })
    }

    /// The `.pt` file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One forward pass; the rows of the `[B, D]` output as f32 on the host.
    fn forward(&self, inputs: &[tch::Tensor], b: usize) -> Result<Array2<f32>> {
        let ivs: Vec<IValue> = inputs
            .iter()
            .map(|t| IValue::Tensor(t.shallow_clone()))
            .collect();
        let out =
            tch::no_grad(|| self.module.forward_is(&ivs)).map_err(|e| tch_err(&self.path, e))?;
        let t = match out {
            IValue::Tensor(t) => t,
            IValue::Tuple(mut v) | IValue::GenericList(mut v) if !v.is_empty() => {
                match v.swap_remove(0) {
                    IValue::Tensor(t) => t,
                    _ => bail!(
                        "{}: the module returned a tuple whose first element is not a tensor; it must return [batch, features]",
                        self.path.display()
                    ),
                }
            }
            _ => bail!(
                "{}: the module returned something other than a tensor; it must return [batch, features]",
                self.path.display()
            ),
        };
        let size = t.size();
        ensure!(
            size.len() == 2 && size[0] as usize == b,
            "{}: the module returned shape {size:?} for a batch of {b}; it must return [batch, features] (pool token or patch outputs inside the exported module)",
            self.path.display()
        );
        let d = size[1] as usize;
        let host = t
            .f_to_kind(Kind::Float)
            .and_then(|t| t.f_to_device(tch::Device::Cpu))
            .and_then(|t| t.f_contiguous())
            .map_err(|e| tch_err(&self.path, e))?;
        let mut v = vec![0f32; b * d];
        host.f_copy_data(&mut v, b * d)
            .map_err(|e| tch_err(&self.path, e))?;
        Array2::from_shape_vec((b, d), v).map_err(|e| Error::msg(e.to_string()))
    }

    /// Embed texts with a text encoder: tokenized, batched by similar length (less padding,
    /// as sentence-transformers does), returned in input order.
    pub fn embed_texts(
        &self,
        tok: &TextTokenizer,
        texts: &[&str],
        batch: usize,
        ctx: &Ctx,
    ) -> Result<Array2<f32>> {
        ensure!(batch >= 1, "batch must be at least 1");
        ensure!(!texts.is_empty(), "no texts to embed");
        let ids: Vec<Vec<i64>> = texts.iter().map(|t| tok.encode(t)).collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let bar = ctx.progress(
            &format!("embed {}", file_name(&self.path)),
            texts.len() as u64,
        );
        let mut out: Option<Array2<f32>> = None;
        for chunk in order.chunks(batch) {
            ctx.check()?;
            let len = chunk.iter().map(|&i| ids[i].len()).max().unwrap_or(0);
            let b = chunk.len();
            let mut flat = vec![tok.pad_id(); b * len];
            let mut mask = vec![0i64; b * len];
            for (r, &i) in chunk.iter().enumerate() {
                flat[r * len..r * len + ids[i].len()].copy_from_slice(&ids[i]);
                mask[r * len..r * len + ids[i].len()].fill(1);
            }
            let shape = [b as i64, len as i64];
            let to_dev = |v: &[i64]| {
                tch::Tensor::f_from_slice(v)
                    .and_then(|t| t.f_reshape(shape))
                    .and_then(|t| t.f_to_device(self.device))
                    .map_err(|e| tch_err(&self.path, e))
            };
            let rows = self.forward(&[to_dev(&flat)?, to_dev(&mask)?], b)?;
            let o = out.get_or_insert_with(|| Array2::zeros((texts.len(), rows.ncols())));
            for (r, &i) in chunk.iter().enumerate() {
                o.row_mut(i).assign(&rows.row(r));
            }
            bar.inc(b as u64);
        }
        Ok(out.expect("texts is not empty"))
    }

    /// Embed a float tensor `[N, ...]` batch by batch along its first axis.
    pub fn embed_tensor(&self, x: &Tensor, batch: usize, ctx: &Ctx) -> Result<Array2<f32>> {
        ensure!(batch >= 1, "batch must be at least 1");
        let shape = x.shape();
        ensure!(
            !shape.is_empty() && shape[0] > 0,
            "the items tensor must have a first (item) axis with at least one item, got shape {shape:?}"
        );
        let a = x.to_f32()?;
        let a = a.as_standard_layout();
        let flat = a.as_slice().expect("standard layout is contiguous");
        let n = shape[0];
        let per: usize = shape[1..].iter().product();
        let bar = ctx.progress(&format!("embed {}", file_name(&self.path)), n as u64);
        let mut out: Option<Array2<f32>> = None;
        for start in (0..n).step_by(batch) {
            ctx.check()?;
            let b = batch.min(n - start);
            let mut s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            s[0] = b as i64;
            let t = tch::Tensor::f_from_slice(&flat[start * per..(start + b) * per])
                .and_then(|t| t.f_reshape(&s))
                .and_then(|t| t.f_to_device(self.device))
                .map_err(|e| tch_err(&self.path, e))?;
            let rows = self.forward(&[t], b)?;
            let o = out.get_or_insert_with(|| Array2::zeros((n, rows.ncols())));
            o.slice_mut(ndarray::s![start..start + b, ..]).assign(&rows);
            bar.inc(b as u64);
        }
        Ok(out.expect("n > 0"))
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}
