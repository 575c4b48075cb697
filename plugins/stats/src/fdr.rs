//! `stats::fdr`: Benjamini–Hochberg over one family of p-values.
use crate::values::{check_alpha, f64_tensor};
use emoscope_sdk::stats;
use emoscope_sdk::step;
use emoscope_sdk::{bail, vmap, Ctx, Options, Result, Step, Tensor, Value};

/// Benjamini–Hochberg false discovery rate over one family of p-values (scipy.stats.false_discovery_control, statsmodels fdr_bh): adjusted q-values, monotone step-up, capped at 1. NaN p-values (tests not run) stay NaN and are not counted in the family size.
#[derive(Options, Step)]
#[step(
    name = "fdr",
    param(p: Tensor = "p-values, any shape (one family)"),
    returns = "#{q (same shape as p), reject (bool tensor), n_rejected, m (p-values counted), alpha}",
    section = "Methods: statistics",
    example = "let f = stats::fdr([0.01, 0.04, 0.03, 0.005, 0.2], #{alpha: 0.05});\nprint(f.q);"
)]
pub struct Fdr {
    /// false discovery rate: reject where q ≤ alpha
    #[opt(default = 0.05)]
    pub alpha: f64,
}

impl step::Step for Fdr {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        check_alpha(self.alpha)?;
        let t = args[0].to_tensor("p")?;
        let shape = t.shape();
        let pv = t.to_vec_f64()?;
        if let Some((i, x)) = pv
            .iter()
            .enumerate()
            .find(|(_, x)| !x.is_nan() && !(0.0..=1.0).contains(*x))
        {
            bail!("p[{i}] = {x} is not a p-value (expected 0..1, or NaN for a test not run)");
        }
        let q = stats::fdr_bh(&pv);
        let reject: Vec<bool> = q.iter().map(|&q| q <= self.alpha).collect();
        let n_rejected = reject.iter().filter(|&&r| r).count();
        let m = pv.iter().filter(|x| !x.is_nan()).count();
        Ok(vmap! {
            "q" => f64_tensor(q, &shape)?,
            "reject" => Value::Tensor(Tensor::from_vec(reject, &shape)?),
            "n_rejected" => n_rejected,
            "m" => m,
            "alpha" => self.alpha,
        })
    }
}
