//! The device engine: the same step as the CPU engine (the batch's data gradient, then Adam on
//! every weight with the L1 term and the chosen positivity), written against the sdk's device
//! kernels so it runs wherever the tensors live: libtorch's CPU device (how CI tests it) or a GPU.
//! Losses accumulate on the device and are read once per epoch, so a step never waits for the GPU.
use crate::train::{Engine, Positivity, StepConfig};
use emoscope_sdk::tensor::{BinOp, Unary};
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{Ctx, DType, Device, Result, Tensor};

pub struct DeviceEngine {
    x: Tensor,
    m: Tensor,
    v: Tensor,
    zero: Tensor,
    n: usize,
    d: usize,
    step: u64,
    cfg: StepConfig,
    device: Device,
}

fn mul(a: &Tensor, s: f64) -> Result<Tensor> {
    a.binary_scalar(s, false, BinOp::Mul, false)
}
fn add_s(a: &Tensor, s: f64) -> Result<Tensor> {
    a.binary_scalar(s, false, BinOp::Add, false)
}
fn op(a: &Tensor, b: &Tensor, o: BinOp) -> Result<Tensor> {
    a.binary(b, o)
}

impl DeviceEngine {
    pub fn new(
        x: Vec<f32>,
        restored: Option<(Vec<f32>, Vec<f32>, u64)>,
        n: usize,
        d: usize,
        cfg: StepConfig,
        device: Device,
    ) -> Result<Self> {
        let put =
            |v: Vec<f32>| -> Result<Tensor> { Tensor::from_vec(v, &[n, d])?.to_device(device) };
        let (m, v, step) = match restored {
            Some((m, v, step)) => (put(m)?, put(v)?, step),
            None => (put(vec![0.0; n * d])?, put(vec![0.0; n * d])?, 0),
        };
        Ok(DeviceEngine {
            x: put(x)?,
            m,
            v,
            zero: Tensor::zeros(&[n, d], DType::F32).to_device(device)?,
            n,
            d,
            step,
            cfg,
            device,
        })
    }

    /// One step on the batch given by the index tensors; returns the batch's (mean cross-entropy,
    /// penalty) as 0-d tensors on the device.
    fn step(&mut self, i: &Tensor, j: &Tensor, k: &Tensor) -> Result<(Tensor, Tensor)> {
        let b = i.numel();
        let (xi, xj, xk) = (
            self.x.index_select0(i)?,
            self.x.index_select0(j)?,
            self.x.index_select0(k)?,
        );
        let dot = |p: &Tensor, q: &Tensor| op(p, q, BinOp::Mul)?.sum_axis(1);
        let (s_ij, s_ik, s_jk) = (dot(&xi, &xj)?, dot(&xi, &xk)?, dot(&xj, &xk)?);
        // The row maximum without a stack: max(a, b) = b + relu(a − b).
        let max2 =
            |p: &Tensor, q: &Tensor| op(q, &op(p, q, BinOp::Sub)?.unary(Unary::Relu)?, BinOp::Add);
        let mx = max2(&max2(&s_ij, &s_ik)?, &s_jk)?;
        let e = |s: &Tensor| op(s, &mx, BinOp::Sub)?.unary(Unary::Exp);
        let (e_ij, e_ik, e_jk) = (e(&s_ij)?, e(&s_ik)?, e(&s_jk)?);
        let z = op(&op(&e_ij, &e_ik, BinOp::Add)?, &e_jk, BinOp::Add)?;
        let (p_ij, p_ik, p_jk) = (
            op(&e_ij, &z, BinOp::Div)?,
            op(&e_ik, &z, BinOp::Div)?,
            op(&e_jk, &z, BinOp::Div)?,
        );
        let ce = mul(&p_ij.unary(Unary::Ln)?.sum_axis(0)?, -1.0 / b as f64)?;
        let col = |t: Tensor| mul(&t, 1.0 / b as f64)?.view_as(&[b, 1]);
        let (a, bb, c) = (col(add_s(&p_ij, -1.0)?)?, col(p_ik)?, col(p_jk)?);
        let lin = |u: &Tensor, p: &Tensor, w: &Tensor, q: &Tensor| {
            op(&op(u, p, BinOp::Mul)?, &op(w, q, BinOp::Mul)?, BinOp::Add)
        };
        let gi = lin(&a, &xj, &bb, &xk)?;
        let gj = lin(&a, &xi, &c, &xk)?;
        let gk = lin(&bb, &xi, &c, &xj)?;
        let g = self
            .zero
            .index_add0(i, &gi)?
            .index_add0(j, &gj)?
            .index_add0(k, &gk)?;

        let l1 = self.cfg.lambda / self.n as f64;
        let pos = if self.cfg.positivity == Positivity::Penalty {
            0.01
        } else {
            0.0
        };
        let sign = self.x.unary(Unary::Sign)?;
        let total = |t: &Tensor| t.sum_axis(1)?.sum_axis(0);
        let mut penalty = mul(&total(&self.x.unary(Unary::Abs)?)?, l1)?;
        let mut grad = op(&g, &mul(&sign, l1)?, BinOp::Add)?;
        if pos > 0.0 {
            let below = mul(&sign, -1.0)?.unary(Unary::Relu)?;
            grad = op(&grad, &mul(&below, pos)?, BinOp::Sub)?;
            penalty = op(
                &penalty,
                &mul(&total(&mul(&self.x, -1.0)?.unary(Unary::Relu)?)?, pos)?,
                BinOp::Add,
            )?;
        }
        // torch.optim.Adam, step by step.
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let (bc1, bc2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        self.m = op(&mul(&self.m, b1)?, &mul(&grad, 1.0 - b1)?, BinOp::Add)?;
        self.v = op(
            &mul(&self.v, b2)?,
            &mul(&op(&grad, &grad, BinOp::Mul)?, 1.0 - b2)?,
            BinOp::Add,
        )?;
        let denom = add_s(&mul(&self.v.unary(Unary::Sqrt)?, 1.0 / bc2.sqrt())?, eps)?;
        let upd = mul(&op(&self.m, &denom, BinOp::Div)?, self.cfg.lr / bc1)?;
        self.x = op(&self.x, &upd, BinOp::Sub)?;
        if self.cfg.positivity == Positivity::Project {
            self.x = self.x.unary(Unary::Relu)?;
        }
        Ok((ce, penalty))
    }
}

impl Engine for DeviceEngine {
    fn run_epoch(&mut self, triplets: &[Triplet], batch: usize, ctx: &Ctx) -> Result<(f64, f64)> {
        let col = |c: usize| -> Result<Tensor> {
            let v: Vec<i64> = triplets.iter().map(|t| t[c] as i64).collect();
            Tensor::from_vec(v, &[triplets.len()])?.to_device(self.device)
        };
        let (ci, cj, ck) = (col(0)?, col(1)?, col(2)?);
        let mut ce_acc: Option<Tensor> = None;
        let mut pen_acc: Option<Tensor> = None;
        let mut batches = 0usize;
        let mut lo = 0;
        while lo < triplets.len() {
            if batches.is_multiple_of(256) {
                ctx.check()?;
            }
            let hi = (lo + batch).min(triplets.len());
            let (ce, pen) = self.step(
                &ci.narrow0(lo, hi)?,
                &cj.narrow0(lo, hi)?,
                &ck.narrow0(lo, hi)?,
            )?;
            ce_acc = Some(match ce_acc {
                Some(a) => op(&a, &ce, BinOp::Add)?,
                None => ce,
            });
            pen_acc = Some(match pen_acc {
                Some(a) => op(&a, &pen, BinOp::Add)?,
                None => pen,
            });
            batches += 1;
            lo = hi;
        }
        let read = |t: Option<Tensor>| -> Result<f64> { t.map_or(Ok(0.0), |t| t.item()) };
        let (ce, pen) = (read(ce_acc)?, read(pen_acc)?);
        let nb = batches.max(1) as f64;
        Ok(((ce + pen) / nb, ce / nb))
    }

    fn weights(&self) -> Vec<f32> {
        self.x
            .to_array::<f32>()
            .map(|a| a.iter().copied().collect())
            .unwrap_or_default()
    }

    fn state(&self) -> (Vec<f32>, Vec<f32>, Vec<f32>, u64) {
        let flat = |t: &Tensor| {
            t.to_array::<f32>()
                .map(|a| a.iter().copied().collect())
                .unwrap_or_default()
        };
        (flat(&self.x), flat(&self.m), flat(&self.v), self.step)
    }

    fn live_dims(&self) -> usize {
        self.d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuEngine;
    use crate::model;

    /// The two engines implement the same step: after an epoch of small batches from the same
    /// start they hold the same weights up to f32 rounding.
    fn engines_agree(device: Device, positivity: Positivity) {
        let (n, d) = (12usize, 5usize);
        let cfg = StepConfig {
            lambda: 0.05,
            lr: 0.01,
            positivity,
        };
        let x0 = model::init(n, d, 3);
        let trip: Vec<Triplet> = (0..300u32)
            .map(|r| [r % 12, (r * 7 + 1) % 12, (r * 5 + 3) % 12])
            .filter(|t| t[0] != t[1] && t[0] != t[2] && t[1] != t[2])
            .collect();
        let ctx = Ctx::detached();
        let mut cpu = CpuEngine::new(x0.clone(), n, d, cfg.clone(), 1);
        let mut dev = DeviceEngine::new(x0, None, n, d, cfg, device).unwrap();
        let (lc, cc) = cpu.run_epoch(&trip, 10, &ctx).unwrap();
        let (ld, cd) = dev.run_epoch(&trip, 10, &ctx).unwrap();
        assert!(
            (lc - ld).abs() < 1e-4 * lc.abs().max(1.0),
            "loss {lc} vs {ld}"
        );
        assert!((cc - cd).abs() < 1e-4, "cross-entropy {cc} vs {cd}");
        let (wc, wd) = (cpu.weights(), dev.weights());
        let max = wc
            .iter()
            .zip(&wd)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-4, "weights differ by {max}");
        // The weights moved: the test would catch an engine that did nothing.
        assert!(wc
            .iter()
            .zip(&model::init(n, d, 3))
            .any(|(a, b)| (a - b).abs() > 1e-3));
    }

    #[test]
    fn device_engine_matches_the_cpu_engine_on_cpu_tensors() {
        engines_agree(Device::Cpu, Positivity::Project);
        engines_agree(Device::Cpu, Positivity::Penalty);
    }

    #[cfg(feature = "torch")]
    #[test]
    fn device_engine_matches_the_cpu_engine_on_libtorch() {
        engines_agree(Device::TorchCpu, Positivity::Project);
        engines_agree(Device::TorchCpu, Positivity::Penalty);
    }
}
