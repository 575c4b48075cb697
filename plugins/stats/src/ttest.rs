//! `stats::ttest`: Student's t-test across subjects, one per vector or one per column (voxel)
//! of a subjects × voxels matrix, optionally paired and one-sided.
use crate::values::{f64_tensor, given, i64_tensor};
use emoscope_sdk::stats::{self, TTest};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, vmap, Choice, Ctx, Options, Result, Step, Value};

/// The alternative hypothesis, as scipy's `alternative`.
#[derive(Choice, Clone, Copy, Debug, PartialEq)]
pub enum Alternative {
    /// the mean differs from popmean, in either direction
    #[choice(name = "two-sided")]
    TwoSided,
    /// the mean is greater than popmean
    Greater,
    /// the mean is less than popmean
    Less,
}

impl Alternative {
    /// The one-sided p-value from the two-sided one (scipy's `alternative`): for greater,
    /// P(T ≥ t) = p/2 when t > 0 and 1 − p/2 otherwise; less mirrors it.
    fn sided(self, mut r: TTest) -> TTest {
        let up = match self {
            Alternative::Greater => r.t,
            Alternative::Less => -r.t,
            Alternative::TwoSided => return r,
        };
        if !r.p.is_nan() {
            r.p = if up > 0.0 { r.p / 2.0 } else { 1.0 - r.p / 2.0 };
        }
        r
    }
}

/// Student's t-test across subjects, two-tailed (scipy.stats.ttest_1samp, or ttest_rel when b is given): one test for a vector, one per column (voxel) for a subjects × voxels matrix. NaN observations are dropped per test (per pair for the paired test); fewer than 2 left gives NaN.
#[derive(Options, Step)]
#[step(
    name = "ttest",
    param(a: Tensor = "subjects (vector) or subjects × voxels (matrix)"),
    returns = "#{t, p, df, mean, sem, n}: numbers for a vector, tensors over the other axis for a matrix (mean and sem of a, or of a − b; n the observations used)",
    section = "Methods: statistics",
    example = "let r = stats::ttest(tensor::from([0.12, 0.08, 0.15, 0.03, 0.10]));\nprint(`t = ${r.t}, p = ${r.p}`);\nlet vox = stats::ttest(mllm_maps, #{b: llm_maps}); // subjects × voxels each"
)]
pub struct Ttest {
    /// the paired condition, same shape as a: tests the mean of a − b
    #[opt(ty = Tensor)]
    pub b: Option<Value>,
    /// the mean under the null hypothesis (of a, or of a − b)
    #[opt(default = 0.0)]
    pub popmean: f64,
    /// the axis holding the observations (subjects) of a matrix: 0 tests each column, 1 each row
    #[opt(default = 0)]
    pub axis: i64,
    /// two-sided, greater (mean > popmean) or less, as scipy's alternative
    #[opt(default = Alternative::TwoSided)]
    pub alternative: Alternative,
}

fn ttest_value(r: &TTest) -> Value {
    vmap! {
        "t" => r.t, "p" => r.p, "df" => r.df, "mean" => r.mean, "sem" => r.sem, "n" => r.n,
    }
}

impl Ttest {
    /// One test of the observations `x` (or of the differences `x − y`).
    fn test(&self, x: &[f64], y: Option<&[f64]>) -> TTest {
        let r = match y {
            None => stats::ttest_1samp(x, self.popmean),
            Some(y) => {
                let d: Vec<f64> = x.iter().zip(y).map(|(p, q)| p - q).collect();
                stats::ttest_1samp(&d, self.popmean)
            }
        };
        self.alternative.sided(r)
    }
}

impl step::Step for Ttest {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let a = args[0].to_tensor("a")?;
        let b = given(&self.b)
            .map(|v| v.to_tensor("option b"))
            .transpose()?;
        if let Some(b) = &b {
            ensure!(
                b.shape() == a.shape(),
                "a has shape {:?} but b has shape {:?}: a paired test needs equal shapes",
                a.shape(),
                b.shape()
            );
        }
        let shape = a.shape();
        match shape.len() {
            1 => {
                ensure!(
                    self.axis == 0 || self.axis == -1,
                    "axis {} is out of range for a 1-D tensor (use 0)",
                    self.axis
                );
                let x = a.to_vec_f64()?;
                let y = b.as_ref().map(|b| b.to_vec_f64()).transpose()?;
                Ok(ttest_value(&self.test(&x, y.as_deref())))
            }
            2 => {
                let axis = match self.axis {
                    0 | -2 => 0,
                    1 | -1 => 1,
                    other => bail!("axis {other} is out of range for a 2-D tensor (use 0 or 1)"),
                };
                let x = a.matrix::<f64>("a")?;
                let y = b.as_ref().map(|b| b.matrix::<f64>("b")).transpose()?;
                let (x, y) = if axis == 0 {
                    (x, y)
                } else {
                    (
                        x.t().to_owned().into_shared(),
                        y.map(|y| y.t().to_owned().into_shared()),
                    )
                };
                let k = x.ncols();
                let mut out: [Vec<f64>; 5] = Default::default();
                let mut ns = Vec::with_capacity(k);
                for j in 0..k {
                    let xj: Vec<f64> = x.column(j).to_vec();
                    let yj: Option<Vec<f64>> = y.as_ref().map(|y| y.column(j).to_vec());
                    let r = self.test(&xj, yj.as_deref());
                    for (col, v) in out.iter_mut().zip([r.t, r.p, r.df, r.mean, r.sem]) {
                        col.push(v);
                    }
                    ns.push(r.n as i64);
                }
                let [t, p, df, mean, sem] = out;
                Ok(vmap! {
                    "t" => f64_tensor(t, &[k])?, "p" => f64_tensor(p, &[k])?,
                    "df" => f64_tensor(df, &[k])?, "mean" => f64_tensor(mean, &[k])?,
                    "sem" => f64_tensor(sem, &[k])?, "n" => i64_tensor(ns)?,
                })
            }
            _ => bail!(
                "a must be a vector (subjects) or a matrix (subjects × voxels), got shape {shape:?}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emoscope_sdk::step::Options as _;
    use emoscope_sdk::Tensor;

    #[test]
    fn one_sided_p_values_halve_towards_the_alternative() {
        let x = Value::Tensor(Tensor::from_vec(vec![0.12, -0.08, 0.15, 0.03, 0.10], &[5]).unwrap());
        let p = |alt: &str| {
            let o = Ttest::parse(vmap! {"alternative" => alt}.as_map().unwrap()).unwrap();
            let r = step::Step::run(o, std::slice::from_ref(&x), &Ctx::detached()).unwrap();
            r.as_map().unwrap()["p"].as_f64().unwrap()
        };
        let two = p("two-sided");
        assert!((p("greater") - two / 2.0).abs() < 1e-15);
        assert!((p("less") - (1.0 - two / 2.0)).abs() < 1e-15);
        let err = Ttest::parse(vmap! {"alternative" => "bigger"}.as_map().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("option 'alternative': 'bigger' is not one of two-sided"),
            "{err}"
        );
    }
}
