//! The libtorch engine (feature `torch`): conversions and the kernels that run on the device.
//! Operations without a kernel here run on the CPU engine and move back to the tensor's device.
use super::ops::{promote, BinOp};
use super::{CpuData, DType, Device, Tensor};
use crate::bail;
use crate::error::{Error, Result};
use ndarray::{ArrayD, IxDyn};
use tch::{Kind, Tensor as TchTensor};

/// A libtorch tensor that threads can share. tch's `Tensor` is `Send` but not `Sync`: through a
/// `&Tensor` one can take a `shallow_clone` and mutate the storage in place. So the handle sits
/// behind a mutex, held only to read its metadata or take a shallow clone (a new reference to the
/// same storage, which libtorch counts atomically), and every operation works on its own clone. `Mutex<T: Send>` is
/// `Sync`, which makes the sdk's `Tensor` `Send + Sync` with libtorch storage too, without an
/// `unsafe impl`. The sdk never mutates a tensor in place: every operation returns a new one.
pub(super) struct Shared(std::sync::Mutex<TchTensor>);

impl Shared {
    pub(super) fn new(t: TchTensor) -> Self {
        Shared(std::sync::Mutex::new(t))
    }
    /// `f` on the handle itself, under the lock: for metadata (shape, kind, device), which
    /// needs no new handle.
    pub(super) fn with<R>(&self, f: impl FnOnce(&TchTensor) -> R) -> R {
        f(&self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
    /// A new handle to the same storage, for an operation to work on.
    pub(super) fn get(&self) -> TchTensor {
        self.with(TchTensor::shallow_clone)
    }
}

fn err(e: tch::TchError) -> Error {
    Error::msg(format!("libtorch: {e}"))
}

fn kind_of(d: DType) -> Kind {
    match d {
        DType::F32 => Kind::Float,
        DType::F64 => Kind::Double,
        DType::I64 => Kind::Int64,
        DType::U8 => Kind::Uint8,
        DType::Bool => Kind::Bool,
    }
}

pub(super) fn dtype_of(t: &TchTensor) -> DType {
    match t.kind() {
        Kind::Float => DType::F32,
        Kind::Double => DType::F64,
        Kind::Uint8 => DType::U8,
        Kind::Bool => DType::Bool,
        // Every tensor we create has one of the five kinds above; other integer kinds read as i64.
        _ => DType::I64,
    }
}

pub(super) fn device_of(t: &TchTensor) -> Device {
    match t.device() {
        tch::Device::Cuda(n) => Device::Cuda(n),
        _ => Device::TorchCpu,
    }
}

fn tch_device(d: Device) -> Result<tch::Device> {
    Ok(match d {
        Device::TorchCpu => tch::Device::Cpu,
        Device::Cuda(n) => {
            let count = tch::Cuda::device_count() as usize;
            if n >= count {
                bail!("device cuda:{n} is not available: libtorch sees {count} CUDA device(s)");
            }
            tch::Device::Cuda(n)
        }
        Device::Cpu => bail!("internal: the ndarray CPU engine is not a torch device"),
    })
}

fn from_slice_shaped<T: tch::kind::Element>(v: &[T], shape: &[i64]) -> Result<TchTensor> {
    TchTensor::f_from_slice(v)
        .and_then(|t| t.f_reshape(shape))
        .map_err(err)
}

pub(super) fn to_torch(t: &Tensor, device: Device) -> Result<Tensor> {
    let dev = tch_device(device)?;
    if let Some(tt) = t.torch() {
        return Ok(Tensor::from_torch(tt.f_to_device(dev).map_err(err)?));
    }
    let shape: Vec<i64> = t.shape().iter().map(|&s| s as i64).collect();
    let host = match t.cpu_data()? {
        CpuData::F32(a) => from_slice_shaped(&a.iter().copied().collect::<Vec<_>>(), &shape)?,
        CpuData::F64(a) => from_slice_shaped(&a.iter().copied().collect::<Vec<_>>(), &shape)?,
        CpuData::I64(a) => from_slice_shaped(&a.iter().copied().collect::<Vec<_>>(), &shape)?,
        CpuData::U8(a) => from_slice_shaped(&a.iter().copied().collect::<Vec<_>>(), &shape)?,
        CpuData::Bool(a) => from_slice_shaped(&a.iter().copied().collect::<Vec<_>>(), &shape)?,
    };
    Ok(Tensor::from_torch(host.f_to_device(dev).map_err(err)?))
}

pub(super) fn to_cpu_data(t: &TchTensor) -> Result<CpuData> {
    let shape: Vec<usize> = t.size().iter().map(|&s| s as usize).collect();
    let flat = t
        .f_to_device(tch::Device::Cpu)
        .and_then(|x| x.f_contiguous())
        .and_then(|x| x.f_reshape([-1]))
        .map_err(err)?;
    fn arr<T: tch::kind::Element + super::Element>(
        flat: &TchTensor,
        shape: &[usize],
    ) -> Result<CpuData> {
        let v = Vec::<T>::try_from(flat).map_err(err)?;
        let a = ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| Error::msg(e.to_string()))?;
        Ok(T::wrap(a.into_shared()))
    }
    match dtype_of(t) {
        DType::F32 => arr::<f32>(&flat, &shape),
        DType::F64 => arr::<f64>(&flat, &shape),
        DType::U8 => arr::<u8>(&flat, &shape),
        DType::Bool => arr::<bool>(&flat, &shape),
        DType::I64 => arr::<i64>(&flat.f_to_kind(Kind::Int64).map_err(err)?, &shape),
    }
}

pub(super) fn astype(t: &TchTensor, dtype: DType) -> Tensor {
    Tensor::from_torch(t.to_kind(kind_of(dtype)))
}

/// Both operands on the torch device of the first torch operand, with the CPU engine's dtype.
fn operands(a: &Tensor, b: &Tensor, dt: DType) -> Result<(TchTensor, TchTensor)> {
    let dev = if a.device().is_torch() {
        a.device()
    } else {
        b.device()
    };
    let get = |x: &Tensor| -> Result<TchTensor> {
        let x = x.to_device(dev)?;
        let t = x.torch().expect("moved to a torch device");
        t.f_to_kind(kind_of(dt)).map_err(err)
    };
    Ok((get(a)?, get(b)?))
}

pub(super) fn binary(a: &Tensor, b: &Tensor, op: BinOp) -> Result<Tensor> {
    let dt = promote(a.dtype(), b.dtype(), op);
    let (x, y) = operands(a, b, dt)?;
    let r = match op {
        BinOp::Add => x.f_add(&y),
        BinOp::Sub => x.f_sub(&y),
        BinOp::Mul => x.f_mul(&y),
        BinOp::Div => x.f_div(&y),
        BinOp::Pow => x.f_pow(&y),
    }
    .map_err(err)?;
    Ok(Tensor::from_torch(r))
}

/// `t op s` (or `s op t`) for a float tensor; None where there is no scalar kernel (powers).
pub(super) fn binary_scalar(
    t: &TchTensor,
    s: f64,
    op: BinOp,
    scalar_left: bool,
) -> Option<Result<Tensor>> {
    let r = match (op, scalar_left) {
        (BinOp::Add, _) => t.f_add_scalar(s),
        (BinOp::Mul, _) => t.f_mul_scalar(s),
        (BinOp::Sub, false) => t.f_sub_scalar(s),
        (BinOp::Sub, true) => t.f_neg().and_then(|n| n.f_add_scalar(s)),
        (BinOp::Div, false) => t.f_div_scalar(s),
        (BinOp::Div, true) => t.f_reciprocal().and_then(|r| r.f_mul_scalar(s)),
        (BinOp::Pow, _) => return None,
    };
    Some(r.map(Tensor::from_torch).map_err(err))
}

pub(super) fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dt = promote(a.dtype(), b.dtype(), BinOp::Mul);
    let dt = if dt == DType::I64 { DType::F64 } else { dt };
    let (x, y) = operands(a, b, dt)?;
    let r = x.f_matmul(&y).map_err(err)?;
    let r = Tensor::from_torch(r);
    Ok(if a.dtype() == DType::I64 && b.dtype() == DType::I64 {
        r.astype(DType::I64)
    } else {
        r
    })
}

/// Rows scaled to unit length (after centring, if asked), then every pair's dot product, on the
/// tensor's device in f64: the CPU engine's `linalg::similarity_matrix` for cosine (`centre`
/// false) and Pearson (`centre` true). Zero rows stay zero, so their similarities are 0, and the
/// result is made exactly symmetric, as on the CPU.
pub(super) fn unit_row_gram(t: &TchTensor, centre: bool) -> Result<Tensor> {
    let run = || -> std::result::Result<TchTensor, tch::TchError> {
        let x = t.f_to_kind(Kind::Double)?;
        let x = if centre {
            let m = x.f_mean_dim(&[1i64][..], true, Kind::Double)?;
            x.f_sub(&m)?
        } else {
            x
        };
        let norm = x
            .f_mul(&x)?
            .f_sum_dim_intlist(&[1i64][..], true, Kind::Double)?
            .f_sqrt()?;
        // Dividing a zero row by 1 instead of 0 keeps it zero, as the CPU engine does.
        let safe = norm.f_add(&norm.f_eq(0.0)?.f_to_kind(Kind::Double)?)?;
        let u = x.f_div(&safe)?;
        let s = u.f_matmul(&u.f_transpose(0, 1)?)?;
        s.f_add(&s.f_transpose(0, 1)?)?.f_mul_scalar(0.5)
    };
    Ok(Tensor::from_torch(run().map_err(err)?))
}

/// Whether libtorch can see a CUDA device (false in CPU-only environments).
pub fn cuda_available() -> bool {
    tch::Cuda::is_available()
}
