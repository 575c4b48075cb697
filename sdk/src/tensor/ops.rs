//! Tensor operations on the CPU engine, with a torch fast path where the torch feature has one.
//!
//! Broadcasting follows numpy: shapes are aligned from the right and axes of length 1 stretch.
//! Type promotion follows torch: a float operand decides the result's float width, two integer
//! operands stay integer, and true division of integers gives f64.
use super::{with_cpu, CpuData, DType, Element, Tensor};
use crate::error::{Error, Result};
use crate::{bail, ensure};
use ndarray::{ArcArray, ArrayD, Axis, IxDyn, Slice, Zip};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// An element-wise binary operation.
pub enum BinOp {
    /// a + b
    Add,
    /// a − b
    Sub,
    /// a × b
    Mul,
    /// a ÷ b
    Div,
    /// a to the power b
    Pow,
}

impl BinOp {
    /// The operator as scripts write it.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "**",
        }
    }
    fn apply_f64(self, x: f64, y: f64) -> f64 {
        match self {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            BinOp::Pow => x.powf(y),
        }
    }
    fn apply_f32(self, x: f32, y: f32) -> f32 {
        match self {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            BinOp::Pow => x.powf(y),
        }
    }
    fn apply_i64(self, x: i64, y: i64) -> i64 {
        match self {
            BinOp::Add => x.wrapping_add(y),
            BinOp::Sub => x.wrapping_sub(y),
            BinOp::Mul => x.wrapping_mul(y),
            // Integer division never reaches here: it is promoted to f64 first.
            BinOp::Div => x.checked_div(y).unwrap_or(0),
            BinOp::Pow => {
                if y < 0 {
                    0
                } else {
                    x.wrapping_pow(y.min(u32::MAX as i64) as u32)
                }
            }
        }
    }
}

/// Reductions along an axis, or over everything when the axis is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// The sum.
    Sum,
    /// The mean.
    Mean,
    /// Standard deviation with `ddof` degrees of freedom removed (numpy's default is 0).
    Std {
        /// Delta degrees of freedom: the divisor is n − ddof (numpy's).
        ddof: usize,
    },
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The index of the smallest value (the first, on ties).
    ArgMin,
    /// The index of the largest value (the first, on ties).
    ArgMax,
}

impl Reduce {
    /// The function's name in scripts.
    pub fn name(self) -> &'static str {
        match self {
            Reduce::Sum => "sum",
            Reduce::Mean => "mean",
            Reduce::Std { .. } => "std",
            Reduce::Min => "min",
            Reduce::Max => "max",
            Reduce::ArgMin => "argmin",
            Reduce::ArgMax => "argmax",
        }
    }
}

/// numpy's broadcasting rule; the error names both shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let x = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let y = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = if x == y || y == 1 {
            x
        } else if x == 1 {
            y
        } else {
            bail!("shapes {a:?} and {b:?} cannot be broadcast together (axis {i}: {x} vs {y})")
        };
    }
    Ok(out)
}

pub(crate) fn promote(a: DType, b: DType, op: BinOp) -> DType {
    let float = |d: DType| d.is_float();
    match (a, b) {
        (DType::F64, _) | (_, DType::F64) => DType::F64,
        (DType::F32, _) | (_, DType::F32) => DType::F32,
        _ if op == BinOp::Div => DType::F64,
        _ if float(a) || float(b) => DType::F64,
        _ => DType::I64,
    }
}

fn zip_with<T: Element>(
    a: &ArcArray<T, IxDyn>,
    b: &ArcArray<T, IxDyn>,
    shape: &[usize],
    f: impl Fn(T, T) -> T + Sync + Send,
) -> ArrayD<T> {
    // broadcast() cannot fail here: `shape` came from broadcast_shape of these two shapes.
    let av = a.broadcast(IxDyn(shape)).expect("broadcast shape checked");
    let bv = b.broadcast(IxDyn(shape)).expect("broadcast shape checked");
    Zip::from(&av).and(&bv).par_map_collect(|&x, &y| f(x, y))
}

fn normalize_axis(axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    ensure!(
        axis >= -n && axis < n,
        "axis {axis} is out of range for a tensor with {ndim} dimension(s)"
    );
    Ok(if axis < 0 {
        (axis + n) as usize
    } else {
        axis as usize
    })
}

fn normalize_index(i: isize, len: usize, axis: usize) -> Result<usize> {
    let n = len as isize;
    ensure!(
        i >= -n && i < n,
        "index {i} is out of range for axis {axis} of length {len}"
    );
    Ok(if i < 0 { (i + n) as usize } else { i as usize })
}

impl Tensor {
    /// Element-wise `self op other` with broadcasting.
    pub fn binary(&self, other: &Tensor, op: BinOp) -> Result<Tensor> {
        let shape = broadcast_shape(&self.shape(), &other.shape())
            .map_err(|e| e.context(format!("tensor {}", op.symbol())))?;
        #[cfg(feature = "torch")]
        if self.device().is_torch() || other.device().is_torch() {
            return super::torch::binary(self, other, op);
        }
        let dt = promote(self.dtype(), other.dtype(), op);
        let (a, b) = (self.cpu_data()?, other.cpu_data()?);
        Ok(match dt {
            DType::F32 => Tensor::from_array(zip_with(
                &f32::cast_from(&a),
                &f32::cast_from(&b),
                &shape,
                |x, y| op.apply_f32(x, y),
            )),
            DType::I64 => Tensor::from_array(zip_with(
                &i64::cast_from(&a),
                &i64::cast_from(&b),
                &shape,
                |x, y| op.apply_i64(x, y),
            )),
            _ => Tensor::from_array(zip_with(
                &f64::cast_from(&a),
                &f64::cast_from(&b),
                &shape,
                |x, y| op.apply_f64(x, y),
            )),
        })
    }

    /// `self op scalar` (or `scalar op self` when `scalar_left`). A float scalar keeps a float
    /// tensor's width, as numpy and torch do; it turns an integer tensor into f64.
    pub fn binary_scalar(
        &self,
        s: f64,
        s_is_int: bool,
        op: BinOp,
        scalar_left: bool,
    ) -> Result<Tensor> {
        let dt = self.dtype();
        // A float tensor on libtorch takes the scalar directly: no 0-d tensor copied to the device.
        #[cfg(feature = "torch")]
        if let (Some(t), true) = (self.torch(), dt.is_float()) {
            if let Some(r) = super::torch::binary_scalar(&t, s, op, scalar_left) {
                return r;
            }
        }
        let scalar = if dt.is_float() {
            Tensor::full(&[], s, dt)
        } else if s_is_int {
            Tensor::full(&[], s, DType::I64)
        } else {
            Tensor::scalar_f64(s)
        };
        let scalar = scalar.to_device(self.device())?;
        if scalar_left {
            scalar.binary(self, op)
        } else {
            self.binary(&scalar, op)
        }
    }

    /// Element-wise float function (exp, log, sqrt, abs, ...). Integer input gives f64.
    pub fn map_float(&self, f: fn(f64) -> f64) -> Result<Tensor> {
        let d = self.cpu_data()?;
        let out = match d {
            CpuData::F32(a) => Tensor::from_array(a.mapv(|x| f(x as f64) as f32)),
            other => Tensor::from_array(f64::cast_from(&other).mapv(f)),
        };
        out.to_device(self.device())
    }

    /// −x, element-wise.
    pub fn neg(&self) -> Result<Tensor> {
        self.binary_scalar(-1.0, true, BinOp::Mul, false)
    }

    /// Matrix product of 2-D (or 1-D, treated as row/column vectors) tensors.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (sa, sb) = (self.shape(), other.shape());
        ensure!(
            (1..=2).contains(&sa.len()) && (1..=2).contains(&sb.len()),
            "matmul needs 1-D or 2-D tensors, got shapes {sa:?} and {sb:?}"
        );
        let k_a = *sa.last().unwrap();
        let k_b = sb[0];
        ensure!(
            k_a == k_b,
            "matmul: inner dimensions differ: {sa:?} @ {sb:?} ({k_a} vs {k_b}); the columns of the left must equal the rows of the right"
        );
        #[cfg(feature = "torch")]
        if self.device().is_torch() || other.device().is_torch() {
            return super::torch::matmul(self, other);
        }
        let a2 = if sa.len() == 1 {
            self.reshape(&[1, sa[0]])?
        } else {
            self.clone()
        };
        let b2 = if sb.len() == 1 {
            other.reshape(&[sb[0], 1])?
        } else {
            other.clone()
        };
        let both_f32 = self.dtype() == DType::F32 && other.dtype() == DType::F32;
        let out = if both_f32 {
            let (a, b) = (
                a2.matrix::<f32>("left operand")?,
                b2.matrix::<f32>("right operand")?,
            );
            Tensor::from_array(crate::linalg::matmul(a.view(), b.view()))
        } else {
            let (a, b) = (
                a2.matrix::<f64>("left operand")?,
                b2.matrix::<f64>("right operand")?,
            );
            Tensor::from_array(crate::linalg::matmul(a.view(), b.view()))
        };
        let mut shape = Vec::new();
        if sa.len() == 2 {
            shape.push(sa[0]);
        }
        if sb.len() == 2 {
            shape.push(sb[1]);
        }
        let out = out.reshape(&shape)?;
        Ok(
            if self.dtype() == DType::I64 && other.dtype() == DType::I64 {
                out.astype(DType::I64)
            } else {
                out
            },
        )
    }

    /// Reverse the axes (for a matrix: the transpose). O(1) on the CPU: only strides change.
    pub fn transpose(&self) -> Result<Tensor> {
        #[cfg(feature = "torch")]
        if let Some(t) = self.torch() {
            let n = t.dim() as i64;
            let perm: Vec<i64> = (0..n).rev().collect();
            return Ok(Tensor::from_torch(t.permute(perm.as_slice())));
        }
        let d = self.cpu_data()?;
        Ok(with_cpu!(d, a => Tensor::from_shared(a.reversed_axes())))
    }

    /// The same elements in another shape (numpy's C order).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        ensure!(
            n == self.numel(),
            "cannot reshape a tensor of shape {:?} ({} elements) to {:?} ({} elements)",
            self.shape(),
            self.numel(),
            shape,
            n
        );
        let d = self.cpu_data()?;
        let out = with_cpu!(d, a => {
            let v: Vec<_> = a.iter().copied().collect();
            Tensor::from_array(ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| Error::msg(e.to_string()))?)
        });
        out.to_device(self.device())
    }

    /// Reduce along `axis` (negative counts from the end), or over all elements when `None`.
    pub fn reduce(&self, op: Reduce, axis: Option<isize>) -> Result<Tensor> {
        let shape = self.shape();
        let axis = axis.map(|a| normalize_axis(a, shape.len())).transpose()?;
        let empty = match axis {
            Some(ax) => shape[ax] == 0,
            None => self.numel() == 0,
        };
        if empty && !matches!(op, Reduce::Sum) {
            bail!(
                "{} of an empty tensor (shape {shape:?}) is undefined",
                op.name()
            );
        }
        let dt = self.dtype();
        let data = self.cpu_data()?;
        let flat = |a: &ArcArray<f64, IxDyn>| -> ArcArray<f64, IxDyn> {
            match axis {
                Some(_) => a.clone(),
                None => a
                    .iter()
                    .copied()
                    .collect::<ndarray::Array1<f64>>()
                    .into_dyn()
                    .into_shared(),
            }
        };
        let ax = Axis(axis.unwrap_or(0));
        let reduced = |f: &dyn Fn(ndarray::ArrayView1<f64>) -> f64| -> ArrayD<f64> {
            let a = flat(&f64::cast_from(&data));
            a.map_axis(ax, f)
        };
        let out = match op {
            Reduce::Sum if dt == DType::I64 || dt == DType::U8 || dt == DType::Bool => {
                let a = i64::cast_from(&data);
                let a = match axis {
                    Some(_) => a,
                    None => a
                        .iter()
                        .copied()
                        .collect::<ndarray::Array1<i64>>()
                        .into_dyn()
                        .into_shared(),
                };
                Tensor::from_array(
                    a.map_axis(ax, |l| l.iter().fold(0i64, |s, &x| s.wrapping_add(x))),
                )
            }
            Reduce::Sum => Tensor::from_array(reduced(&|l| l.sum())).astype(dt),
            Reduce::Mean => {
                Tensor::from_array(reduced(&|l| l.sum() / l.len() as f64)).astype(float_of(dt))
            }
            Reduce::Std { ddof } => {
                let t = Tensor::from_array(reduced(&|l| {
                    let n = l.len() as f64;
                    let m = l.sum() / n;
                    (l.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - ddof as f64)).sqrt()
                }));
                t.astype(float_of(dt))
            }
            Reduce::Min => {
                Tensor::from_array(reduced(&|l| l.iter().copied().fold(f64::INFINITY, nan_min)))
                    .astype(dt)
            }
            Reduce::Max => Tensor::from_array(reduced(&|l| {
                l.iter().copied().fold(f64::NEG_INFINITY, nan_max)
            }))
            .astype(dt),
            Reduce::ArgMin => {
                Tensor::from_array(reduced(&|l| arg_best(l, |x, best| x < best) as f64))
                    .astype(DType::I64)
            }
            Reduce::ArgMax => {
                Tensor::from_array(reduced(&|l| arg_best(l, |x, best| x > best) as f64))
                    .astype(DType::I64)
            }
        };
        out.to_device(self.device())
    }

    /// Sorted values along `axis` (NaN last), ascending unless `descending`.
    pub fn sort(&self, axis: isize, descending: bool) -> Result<Tensor> {
        let idx = self.argsort(axis, descending)?;
        let ax = normalize_axis(axis, self.ndim().max(1))?;
        let idx = idx.to_i64()?;
        let d = self.cpu_data()?;
        let out = with_cpu!(d, a => {
            let mut out = a.to_owned();
            for (mut o, (src, ix)) in out.lanes_mut(Axis(ax)).into_iter().zip(a.lanes(Axis(ax)).into_iter().zip(idx.lanes(Axis(ax)))) {
                for (slot, &k) in o.iter_mut().zip(ix.iter()) {
                    *slot = src[k as usize];
                }
            }
            Tensor::from_array(out)
        });
        out.to_device(self.device())
    }

    /// Indices that sort along `axis` (stable; NaN last).
    pub fn argsort(&self, axis: isize, descending: bool) -> Result<Tensor> {
        ensure!(
            self.ndim() >= 1,
            "argsort needs a tensor with at least one dimension"
        );
        let ax = normalize_axis(axis, self.ndim())?;
        let a = self.to_f64()?;
        let mut out = ArrayD::<i64>::zeros(IxDyn(&self.shape()));
        for (mut o, lane) in out.lanes_mut(Axis(ax)).into_iter().zip(a.lanes(Axis(ax))) {
            let mut ix: Vec<usize> = (0..lane.len()).collect();
            ix.sort_by(|&i, &j| {
                let (x, y) = (lane[i], lane[j]);
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if descending => y.total_cmp(&x),
                    _ => x.total_cmp(&y),
                }
            });
            for (slot, i) in o.iter_mut().zip(ix) {
                *slot = i as i64;
            }
        }
        Tensor::from_array(out).to_device(self.device())
    }

    /// Join tensors along an existing axis.
    pub fn concat(parts: &[Tensor], axis: isize) -> Result<Tensor> {
        join(parts, axis, false)
    }

    /// Join tensors along a new axis.
    pub fn stack(parts: &[Tensor], axis: isize) -> Result<Tensor> {
        join(parts, axis, true)
    }

    /// The sub-tensor at index `i` of `axis` (that axis removed).
    pub fn index_axis(&self, axis: isize, i: isize) -> Result<Tensor> {
        ensure!(self.ndim() >= 1, "cannot index a 0-dimensional tensor");
        let ax = normalize_axis(axis, self.ndim())?;
        let i = normalize_index(i, self.shape()[ax], ax)?;
        let d = self.cpu_data()?;
        let out =
            with_cpu!(d, a => Tensor::from_shared(a.index_axis_move(Axis(ax), i).into_shared()));
        out.to_device(self.device())
    }

    /// Rows (or entries along `axis`) picked by index, in the given order; repeats allowed.
    pub fn select(&self, axis: isize, indices: &[i64]) -> Result<Tensor> {
        ensure!(
            self.ndim() >= 1,
            "cannot select from a 0-dimensional tensor"
        );
        let ax = normalize_axis(axis, self.ndim())?;
        let len = self.shape()[ax];
        let ix = indices
            .iter()
            .map(|&i| normalize_index(i as isize, len, ax))
            .collect::<Result<Vec<_>>>()?;
        let d = self.cpu_data()?;
        let out = with_cpu!(d, a => Tensor::from_array(a.select(Axis(ax), &ix)));
        out.to_device(self.device())
    }

    /// Entries `start..end` along `axis` (negative values count from the end; clamped like Python).
    pub fn slice_axis(&self, axis: isize, start: isize, end: isize) -> Result<Tensor> {
        ensure!(self.ndim() >= 1, "cannot slice a 0-dimensional tensor");
        let ax = normalize_axis(axis, self.ndim())?;
        let len = self.shape()[ax] as isize;
        let clamp = |v: isize| if v < 0 { (v + len).max(0) } else { v.min(len) };
        let (s, e) = (clamp(start), clamp(end).max(clamp(start)));
        let d = self.cpu_data()?;
        let out = with_cpu!(d, a => {
            let mut a = a.clone();
            a.slice_axis_inplace(Axis(ax), Slice::from(s..e));
            Tensor::from_shared(a)
        });
        out.to_device(self.device())
    }
}

fn float_of(dt: DType) -> DType {
    if dt == DType::F32 {
        DType::F32
    } else {
        DType::F64
    }
}

// min/max propagate NaN, as numpy's do.
fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Index of the first best element; a NaN wins at once, as in numpy.
fn arg_best(l: ndarray::ArrayView1<f64>, better: impl Fn(f64, f64) -> bool) -> usize {
    let mut best = 0;
    for (i, &x) in l.iter().enumerate() {
        if x.is_nan() {
            return i;
        }
        if better(x, l[best]) {
            best = i;
        }
    }
    best
}

fn join(parts: &[Tensor], axis: isize, new_axis: bool) -> Result<Tensor> {
    let what = if new_axis { "stack" } else { "concat" };
    ensure!(!parts.is_empty(), "{what} needs at least one tensor");
    let ndim = parts[0].ndim() + usize::from(new_axis);
    let ax = normalize_axis(axis, ndim)?;
    let first = parts[0].shape();
    for (i, p) in parts.iter().enumerate() {
        let s = p.shape();
        let ok = if new_axis {
            s == first
        } else {
            s.len() == first.len()
                && s.iter()
                    .zip(&first)
                    .enumerate()
                    .all(|(k, (x, y))| k == ax || x == y)
        };
        ensure!(
            ok,
            "{what}: tensor {i} has shape {s:?}, incompatible with tensor 0's shape {first:?} along axis {ax}"
        );
    }
    let dt = parts.iter().skip(1).fold(parts[0].dtype(), |d, p| {
        if d == p.dtype() {
            d
        } else {
            promote(d, p.dtype(), BinOp::Add)
        }
    });
    macro_rules! go {
        ($t:ty) => {{
            let arrays = parts
                .iter()
                .map(|p| p.to_array::<$t>())
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
            let r = if new_axis {
                ndarray::stack(Axis(ax), &views)
            } else {
                ndarray::concatenate(Axis(ax), &views)
            };
            Tensor::from_array(r.map_err(|e| Error::msg(format!("{what}: {e}")))?)
        }};
    }
    Ok(match dt {
        DType::F32 => go!(f32),
        DType::F64 => go!(f64),
        DType::I64 => go!(i64),
        DType::U8 => go!(u8),
        DType::Bool => go!(bool),
    })
}
