//! Ridge regression with nested cross-validation and a per-voxel alpha, the CPU engine.
//!
//! The study's settings: 5 outer folds; within each outer training set, a 6-fold inner CV picks
//! each voxel's alpha (from 100 log-spaced values in [1e-3, 1e3]) by validation MSE, exactly as
//! himalaya's `solve_ridge_cv_svd` does (per-fold mean squared error, averaged over the inner
//! folds in f64, ties broken towards the larger alpha by himalaya's `1e-10·log(alpha)` slope);
//! the outer training set is refitted with that alpha and predicts the held-out stimuli; the
//! score is Pearson r between the concatenated out-of-fold predictions and the data.
//!
//! Why it is fast: the design has ~30 columns, so each training set is diagonalised once (thin
//! SVD, X = U S Vᵀ) and every alpha is a diagonal filter d(α) = s/(s²+α). With G = X_val V,
//! B = Uᵀ Y_train and C = Gᵀ Y_val, a voxel's validation error for any alpha is
//! ‖y‖² − 2 Σ d_i C_i B_i + (d⊙B)ᵀ (GᵀG) (d⊙B): p² work per alpha and voxel instead of the
//! n_val × n_train prediction matrices himalaya multiplies (a few hundred times fewer flops).
//! Everything is f64 so that near-ties between neighbouring alphas resolve as they do in
//! himalaya. Voxels go in fixed batches (the same batches whatever the shard), so a shard's
//! voxels get bit-identical results to a whole run.
use crate::folds::{kfold, Split};
use crate::inputs::{alpha_grid, check_alphas, check_data};
use emoscope_sdk::linalg::matmul;
use emoscope_sdk::step::Step;
use emoscope_sdk::tensor::BinOp;
use emoscope_sdk::{ensure, Ctx, DType, Device, Map, Options, Result, Tensor, Value};
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

/// Voxels per batch: big enough for efficient matrix products, small enough that a batch's
/// copies of the data (stimuli × batch, f64) stay a few MB.
pub const BATCH: usize = 256;

pub struct Config {
    pub outer: usize,
    pub inner: usize,
    pub alphas: Vec<f64>,
    pub groups: Option<Vec<i64>>,
    pub weights: bool,
    /// The voxels to fit (a shard); the others come back NaN.
    pub voxels: std::ops::Range<usize>,
}

#[derive(Debug)]
pub struct Output {
    /// Pearson r of the out-of-fold predictions, per voxel.
    pub r: Array1<f64>,
    /// The alpha chosen in each outer fold, outer × voxels.
    pub alphas: Array2<f64>,
    /// Refitted weights per outer fold (outer × features × voxels) in the original units of X,
    /// and the intercepts (outer × voxels).
    pub weights: Option<(Array3<f32>, Array2<f32>)>,
    /// Out-of-fold predictions, stimuli × voxels.
    pub predictions: Array2<f32>,
}

/// A centred training design, diagonalised.
pub struct Basis {
    pub mean: Array1<f64>,
    /// n_train × r
    pub u: Array2<f64>,
    pub s: Vec<f64>,
    /// p × r
    pub v: Array2<f64>,
}

impl Basis {
    pub fn new(x: ArrayView2<f64>, rows: &[usize]) -> Result<Basis> {
        let xt = x.select(Axis(0), rows);
        let mean = xt
            .mean_axis(Axis(0))
            .expect("training rows are never empty");
        let xc = &xt - &mean;
        let (n, p) = xc.dim();
        let m = faer::Mat::<f64>::from_fn(n, p, |i, j| xc[[i, j]]);
        let svd = m.thin_svd().map_err(|e| {
            emoscope_sdk::Error::msg(format!("the SVD of the design did not converge: {e:?}"))
        })?;
        let r = n.min(p);
        let (fu, fv) = (svd.U(), svd.V());
        let sv = svd.S().column_vector();
        let u = Array2::from_shape_fn((n, r), |(i, k)| fu[(i, k)]);
        let v = Array2::from_shape_fn((p, r), |(j, k)| fv[(j, k)]);
        let s = (0..r).map(|k| sv[k]).collect();
        Ok(Basis { mean, u, s, v })
    }

    /// `(X[rows] − mean) V`: other stimuli in this basis.
    pub fn project(&self, x: ArrayView2<f64>, rows: &[usize]) -> Array2<f64> {
        let xr = &x.select(Axis(0), rows) - &self.mean;
        matmul(xr.view(), self.v.view())
    }

    /// The ridge filter d(α)_k = s_k / (s_k² + α).
    pub fn filter(&self, alpha: f64) -> Array1<f64> {
        self.s.iter().map(|&s| s / (s * s + alpha)).collect()
    }
}

struct Inner {
    train: Tensor,
    val: Tensor,
    /// Uᵀ of the inner training design (r × n_train), on the device.
    ut: Tensor,
    /// X_val in the training basis, transposed (r × n_val), on the device.
    gt: Tensor,
    /// The score of every alpha as one linear map of per-voxel statistics (see `scores`):
    /// coefficients of the products B_i B_j (i ≤ j), of C_i B_i, and of ‖y‖².
    e_quad: Tensor,
    e_lin: Tensor,
    e_yy: Tensor,
}

struct Outer {
    train: Vec<usize>,
    test: Vec<usize>,
    train_t: Tensor,
    basis: Basis,
    ut: Tensor,
    g_test: Tensor,
    inner: Vec<Inner>,
}

fn global(split: &Split, items: &[usize]) -> (Vec<usize>, Vec<usize>) {
    (
        split.train.iter().map(|&p| items[p]).collect(),
        split.test.iter().map(|&p| items[p]).collect(),
    )
}

fn index(rows: &[usize], device: Device) -> Result<Tensor> {
    Tensor::from_vec(
        rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
        &[rows.len()],
    )?
    .to_device(device)
}

fn on(a: Array2<f64>, device: Device) -> Result<Tensor> {
    Tensor::from_array(a).to_device(device)
}

/// Pairs i ≤ j of r basis directions, as two index vectors.
fn pairs(r: usize) -> (Vec<usize>, Vec<usize>) {
    let mut a = Vec::with_capacity(r * (r + 1) / 2);
    let mut b = Vec::with_capacity(r * (r + 1) / 2);
    for i in 0..r {
        for j in i..r {
            a.push(i);
            b.push(j);
        }
    }
    (a, b)
}

/// The inner-CV score of alpha a for a voxel is
///   −(1/K) Σ_folds ‖y − G D_a B‖² / n_val
/// = −(1/K) Σ_folds [‖y‖² − 2 Σ_i d_ai C_i B_i + Σ_{i≤j} c_ij d_ai d_aj H_ij B_i B_j] / n_val
/// with B = Uᵀ y_train, C = Gᵀ y_val, H = GᵀG, c_ij = 2 for i < j else 1. The coefficients
/// depend only on the design, so every alpha's score is one matrix product with per-voxel
/// statistics: one GEMM for all alphas and a batch of voxels.
fn inner_coefficients(
    b: &Basis,
    g: &Array2<f64>,
    alphas: &[f64],
    scale: f64,
) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
    let h = matmul(g.t(), g.view());
    let r = b.s.len();
    let (pi, pj) = pairs(r);
    let mut e_quad = Array2::<f64>::zeros((alphas.len(), pi.len()));
    let mut e_lin = Array2::<f64>::zeros((alphas.len(), r));
    for (a, &alpha) in alphas.iter().enumerate() {
        let d = b.filter(alpha);
        for (q, (&i, &j)) in pi.iter().zip(&pj).enumerate() {
            let c = if i == j { 1.0 } else { 2.0 };
            e_quad[[a, q]] = -scale * c * d[i] * d[j] * h[[i, j]];
        }
        for i in 0..r {
            e_lin[[a, i]] = 2.0 * scale * d[i];
        }
    }
    let e_yy = Array2::from_elem((alphas.len(), 1), -scale);
    (e_quad, e_lin, e_yy)
}

fn plan(x: ArrayView2<f64>, cfg: &Config, device: Device) -> Result<Vec<Outer>> {
    let all: Vec<usize> = (0..x.nrows()).collect();
    let groups = cfg.groups.as_deref();
    let mut out = Vec::new();
    for split in kfold(&all, cfg.outer, groups, "outer CV")? {
        let (train, test) = global(&split, &all);
        let basis = Basis::new(x, &train)?;
        let g_test = on(basis.project(x, &test), device)?;
        let mut inner = Vec::new();
        let k = cfg.inner as f64;
        for isplit in kfold(&train, cfg.inner, groups, "inner CV")? {
            let (itrain, ival) = global(&isplit, &train);
            let b = Basis::new(x, &itrain)?;
            let g = b.project(x, &ival);
            let (e_quad, e_lin, e_yy) =
                inner_coefficients(&b, &g, &cfg.alphas, 1.0 / (k * ival.len() as f64));
            inner.push(Inner {
                train: index(&itrain, device)?,
                val: index(&ival, device)?,
                ut: on(b.u.t().to_owned(), device)?,
                gt: on(g.t().to_owned(), device)?,
                e_quad: on(e_quad, device)?,
                e_lin: on(e_lin, device)?,
                e_yy: on(e_yy, device)?,
            });
        }
        out.push(Outer {
            train_t: index(&train, device)?,
            ut: on(basis.u.t().to_owned(), device)?,
            train,
            test,
            basis,
            g_test,
            inner,
        });
    }
    Ok(out)
}

/// Rows of `y` minus their mean, and the mean (a row vector), on the device.
fn centred(y: &Tensor, rows: &Tensor, n: usize) -> Result<(Tensor, Tensor)> {
    let yr = y.index_select0(rows)?;
    let m = yr
        .sum_axis(0)?
        .binary_scalar(n as f64, false, BinOp::Div, false)?;
    Ok((yr.binary(&m, BinOp::Sub)?, m))
}

fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.binary(b, BinOp::Mul)
}

/// Per alpha and voxel, the inner-CV score plus himalaya's tie slope (alphas × voxels, CPU).
fn scores(yb: &Tensor, o: &Outer, alphas: &[f64], pi: &Tensor, pj: &Tensor) -> Result<Array2<f64>> {
    let mut total: Option<Tensor> = None;
    for f in &o.inner {
        let (ya, ma) = centred(yb, &f.train, f.train.len())?;
        let bm = f.ut.matmul(&ya)?; // r × bv
        let yv = yb.index_select0(&f.val)?.binary(&ma, BinOp::Sub)?;
        let yy = mul(&yv, &yv)?.sum_axis(0)?;
        let c = f.gt.matmul(&yv)?; // r × bv
        let quad = mul(&bm.index_select0(pi)?, &bm.index_select0(pj)?)?;
        let bv = yy.len();
        let part = f
            .e_quad
            .matmul(&quad)?
            .binary(&f.e_lin.matmul(&mul(&c, &bm)?)?, BinOp::Add)?
            .binary(&f.e_yy.matmul(&yy.view_as(&[1, bv])?)?, BinOp::Add)?;
        total = Some(match total {
            None => part,
            Some(t) => t.binary(&part, BinOp::Add)?,
        });
    }
    let total = total.expect("at least two inner folds");
    let mut s = total
        .to_device(Device::Cpu)?
        .matrix::<f64>("scores")?
        .to_owned();
    for (a, &alpha) in alphas.iter().enumerate() {
        s.row_mut(a).mapv_inplace(|v| v + alpha.ln() * 1e-10);
    }
    Ok(s)
}

/// The first maximum of each column (himalaya's argmax).
fn best(scores: ArrayView2<f64>) -> Vec<usize> {
    (0..scores.ncols())
        .map(|v| {
            let col = scores.column(v);
            let mut b = 0;
            for a in 1..col.len() {
                if col[a] > col[b] {
                    b = a;
                }
            }
            b
        })
        .collect()
}

/// Pearson r between two f32 columns (`stats::pearson`: 0 when either is constant).
fn pearson_cols(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f64 {
    let f = |c: ArrayView1<f32>| c.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    emoscope_sdk::stats::pearson(&f(a), &f(b))
}

struct BatchOut {
    start: usize,
    r: Vec<f64>,
    alphas: Array2<f64>,
    pred: Array2<f32>,
    weights: Option<(Array3<f32>, Array2<f32>)>,
}

#[allow(clippy::too_many_arguments)]
fn batch(
    y: ArrayView2<f32>,
    yt_dev: &Tensor,
    plan: &[Outer],
    cfg: &Config,
    cols: std::ops::Range<usize>,
    device: Device,
    pi: &Tensor,
    pj: &Tensor,
) -> Result<BatchOut> {
    let (n, bv) = (y.nrows(), cols.len());
    let p = plan[0].basis.v.nrows();
    // stimuli × batch, f64, on the device.
    let yb = yt_dev
        .narrow0(cols.start, cols.end)?
        .transpose()?
        .astype(DType::F64);
    let mut pred = Array2::<f32>::zeros((n, bv));
    let mut chosen = Array2::<f64>::zeros((plan.len(), bv));
    let mut weights = cfg.weights.then(|| {
        (
            Array3::<f32>::zeros((plan.len(), p, bv)),
            Array2::<f32>::zeros((plan.len(), bv)),
        )
    });
    for (fi, o) in plan.iter().enumerate() {
        let sc = scores(&yb, o, &cfg.alphas, pi, pj)?;
        let pick = best(sc.view());
        let (yt, mt) = centred(&yb, &o.train_t, o.train.len())?;
        let mut w =
            o.ut.matmul(&yt)?
                .to_device(Device::Cpu)?
                .matrix::<f64>("weights")?
                .to_owned();
        let mt = mt
            .to_device(Device::Cpu)?
            .vector::<f64>("means")?
            .to_owned();
        for v in 0..bv {
            let alpha = cfg.alphas[pick[v]];
            chosen[[fi, v]] = alpha;
            let d = o.basis.filter(alpha);
            w.column_mut(v)
                .iter_mut()
                .zip(&d)
                .for_each(|(a, d)| *a *= d);
        }
        let ps = o
            .g_test
            .matmul(&on(w.clone(), device)?)?
            .to_device(Device::Cpu)?
            .matrix::<f64>("predictions")?
            .to_owned();
        for (i, &row) in o.test.iter().enumerate() {
            for v in 0..bv {
                pred[[row, v]] = (ps[[i, v]] + mt[v]) as f32;
            }
        }
        if let Some((wt, b0)) = weights.as_mut() {
            // Back to the original units: β = V w, intercept = mean_y − mean_x·β.
            let beta = matmul(o.basis.v.view(), w.view());
            let icpt = &mt - &o.basis.mean.dot(&beta);
            wt.slice_mut(s![fi, .., ..])
                .assign(&beta.mapv(|a| a as f32));
            b0.row_mut(fi).assign(&icpt.mapv(|a| a as f32));
        }
    }
    let r = (0..bv)
        .map(|v| pearson_cols(pred.column(v), y.column(cols.start + v)))
        .collect();
    Ok(BatchOut {
        start: cols.start,
        r,
        alphas: chosen,
        pred,
        weights,
    })
}

/// Check the inputs before any work: shapes, finite values, alphas, groups.
pub fn validate(x: ArrayView2<f64>, y: ArrayView2<f32>, cfg: &Config) -> Result<()> {
    check_data(x, y)?;
    ensure!(x.ncols() >= 1, "the embedding has no features (columns)");
    check_alphas(&cfg.alphas)?;
    if let Some(g) = &cfg.groups {
        ensure!(
            g.len() == x.nrows(),
            "groups has {} labels but there are {} stimuli",
            g.len(),
            x.nrows()
        );
    }
    ensure!(
        cfg.voxels.end <= y.ncols(),
        "voxel range {:?} is outside the data's {} voxels",
        cfg.voxels,
        y.ncols()
    );
    Ok(())
}

/// Lets rayon threads share the batch closure of the CPU engine. `Tensor` is not `Sync` in a
/// torch build because a libtorch tensor is not; on `Device::Cpu` every tensor the closure
/// reaches is ndarray `ArcArray` storage, which is. Only built for that device.
struct CpuOnly<'a, T>(&'a T);
// SAFETY: constructed only when every captured tensor lives on `Device::Cpu` (see above).
unsafe impl<T> Sync for CpuOnly<'_, T> {}
impl<'a, T> CpuOnly<'a, T> {
    /// A method, not a field access, so closures capture the wrapper and not the reference.
    fn get(&self) -> &'a T {
        self.0
    }
}

/// Voxels per batch on a device: the CPU engine works in cache-sized batches spread over
/// threads; libtorch wants large batches.
pub fn batch_size(device: Device) -> usize {
    if device.is_torch() {
        4096
    } else {
        BATCH
    }
}

/// Nested-CV ridge for every voxel of `cfg.voxels`, on `device` (the CPU engine, or libtorch).
pub fn ridge_cv(
    x: ArrayView2<f64>,
    y: ArrayView2<f32>,
    cfg: &Config,
    device: Device,
    ctx: &Ctx,
) -> Result<Output> {
    validate(x, y, cfg)?;
    ensure!(
        !device.is_torch() || emoscope_sdk::HAS_TORCH,
        "device {device} needs emoscope built with --features torch"
    );
    let plan = plan(x, cfg, device)?;
    let (n, nv) = y.dim();
    let p = x.ncols();
    let r = plan[0].basis.s.len();
    let (pi, pj) = pairs(r);
    let (pi, pj) = (index(&pi, device)?, index(&pj, device)?);
    // voxels × stimuli, so a batch of voxels is a block of rows on any device.
    let yt_dev =
        Tensor::from_shared(y.t().to_owned().into_dyn().into_shared()).to_device(device)?;
    // Batches start at multiples of the batch size in the whole data, so shards cut the same
    // batches as a whole run.
    let size = batch_size(device);
    let first = cfg.voxels.start / size;
    let last = cfg.voxels.end.div_ceil(size);
    let ranges: Vec<std::ops::Range<usize>> = (first..last)
        .map(|b| (b * size).max(cfg.voxels.start)..((b + 1) * size).min(cfg.voxels.end))
        .filter(|r| !r.is_empty())
        .collect();
    let bar = ctx.progress("encoding::ridge_cv voxels", cfg.voxels.len() as u64);
    let run = |cols: std::ops::Range<usize>| -> Result<BatchOut> {
        ctx.check()?;
        let len = cols.len() as u64;
        let out = batch(y, &yt_dev, &plan, cfg, cols, device, &pi, &pj)?;
        bar.inc(len);
        Ok(out)
    };
    let parts: Result<Vec<BatchOut>> = if device.is_torch() {
        // libtorch parallelises each product itself.
        ranges.into_iter().map(run).collect()
    } else {
        let shared = CpuOnly(&run);
        ranges.into_par_iter().map(|c| (shared.get())(c)).collect()
    };
    let mut r = Array1::from_elem(nv, f64::NAN);
    let mut alphas = Array2::from_elem((cfg.outer, nv), f64::NAN);
    let mut predictions = Array2::from_elem((n, nv), f32::NAN);
    let mut weights = cfg.weights.then(|| {
        (
            Array3::from_elem((cfg.outer, p, nv), f32::NAN),
            Array2::from_elem((cfg.outer, nv), f32::NAN),
        )
    });
    for b in parts? {
        let cols = b.start..b.start + b.r.len();
        r.slice_mut(s![cols.clone()]).assign(&Array1::from(b.r));
        alphas.slice_mut(s![.., cols.clone()]).assign(&b.alphas);
        predictions.slice_mut(s![.., cols.clone()]).assign(&b.pred);
        if let (Some((w, i)), Some((bw, bi))) = (weights.as_mut(), b.weights) {
            w.slice_mut(s![.., .., cols.clone()]).assign(&bw);
            i.slice_mut(s![.., cols.clone()]).assign(&bi);
        }
    }
    Ok(Output {
        r,
        alphas,
        weights,
        predictions,
    })
}

/// Ridge from an embedding to every voxel with nested cross-validation: outer folds score
/// held-out stimuli; within each outer training set an inner CV picks each voxel's alpha by
/// validation MSE (himalaya's rule: MSE per inner fold averaged over folds, ties to the larger
/// alpha). X and Y are centred with each training fold's means, so the intercept is not
/// penalised. Folds are contiguous blocks in stimulus order (scikit-learn's unshuffled KFold)
/// unless groups keep stimuli together. The score is Pearson r between the concatenated
/// out-of-fold predictions and the data.
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(X: Tensor = "stimuli × features (the embedding)"),
    param(Y: Tensor = "stimuli × voxels (fMRI responses, rows aligned with X)"),
    returns = "#{r (voxels f64; NaN outside the shard), alphas (outer × voxels), shard, voxels: [start, end], outer, inner, n_alphas, weights?, intercepts?, predictions?}",
    section = "Methods: encoding analysis (ridge, 5-fold outer / 6-fold inner CV, 100 alphas in [1e-3, 1e3])",
    example = "let e = encoding::ridge_cv(X, Y, #{outer: 5, inner: 6, alphas: tensor::logspace(-3.0, 3.0, 100)});"
)]
pub struct RidgeCv {
    /// outer folds (scoring)
    #[opt(default = 5)]
    pub outer: usize,
    /// inner folds (alpha selection, within each outer training set)
    #[opt(default = 6)]
    pub inner: usize,
    /// the alpha grid
    #[opt(doc_default = "tensor::logspace(-3.0, 3.0, 100)")]
    pub alphas: Option<Tensor>,
    /// a label per stimulus (run, or repeated stimulus): a group never straddles training and
    /// test, at both levels
    pub groups: Option<Tensor>,
    /// also return each outer fold's refitted weights (outer × features × voxels, in X's units)
    /// and intercepts (outer × voxels)
    #[opt(default = false)]
    pub weights: bool,
    /// also return the out-of-fold predictions (stimuli × voxels)
    #[opt(default = false)]
    pub predictions: bool,
    /// cpu, or torch:cpu / cuda / cuda:N for the libtorch engine (feature torch)
    #[opt(doc_default = "run device")]
    pub device: Option<String>,
    /// "K/N": fit only shard K of N contiguous voxel ranges (a job array); encoding::merge joins
    /// the parts into exactly the whole-run result
    #[opt(doc_default = "\"1/1\"")]
    pub shard: Option<String>,
}

impl Step for RidgeCv {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
        let y = args[1].to_tensor("Y")?.matrix::<f32>("Y")?;
        let groups = match &self.groups {
            Some(g) => Some(g.astype(DType::I64).vector::<i64>("groups")?.to_vec()),
            None => None,
        };
        let device = match &self.device {
            Some(d) => d.parse()?,
            None => ctx.device,
        };
        // Without a shard option, the run's --shard (a job array) applies.
        let shard = self.shard.clone().or_else(|| ctx.shard.clone());
        let (range, shard) = crate::shard_range(shard.as_deref(), y.ncols(), batch_size(device))?;
        let cfg = Config {
            outer: self.outer,
            inner: self.inner,
            alphas: alpha_grid(&self.alphas)?,
            groups,
            weights: self.weights,
            voxels: range.clone(),
        };
        let out = ridge_cv(x.view(), y.view(), &cfg, device, ctx)?;
        let mut m: Map = [
            ("r", Value::from(Tensor::from_array(out.r))),
            ("alphas", Value::from(Tensor::from_array(out.alphas))),
            ("shard", Value::from(shard)),
            (
                "voxels",
                Value::List(vec![Value::from(range.start), Value::from(range.end)]),
            ),
            ("outer", Value::from(self.outer)),
            ("inner", Value::from(self.inner)),
            ("n_alphas", Value::from(cfg.alphas.len())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some((w, b)) = out.weights {
            m.insert("weights".into(), Value::from(Tensor::from_array(w)));
            m.insert("intercepts".into(), Value::from(Tensor::from_array(b)));
        }
        if self.predictions {
            let p = Tensor::from_array(out.predictions);
            m.insert("predictions".into(), Value::from(p));
        }
        Ok(Value::Map(m))
    }
}
