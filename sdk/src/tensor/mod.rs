//! The Tensor handle: O(1) clones, CPU storage on ndarray `ArcArray`, and, behind the `torch`
//! feature, a libtorch tensor on `cpu` or `cuda:N`.
//!
//! Only this module (and its `torch` submodule) knows tch. Everything else sees `Tensor`,
//! `DType` and `Device`, and reads CPU data through `to_f32`/`to_f64`/`to_i64`, which cost nothing
//! when the data already has that dtype on the CPU.
mod display;
mod kernels;
mod ops;
#[cfg(feature = "torch")]
mod torch;

pub use kernels::Unary;
pub use ops::{broadcast_shape, BinOp, Reduce};

use crate::error::{Error, Result};
use crate::{bail, ensure};
use ndarray::{ArcArray, ArrayD, IxDyn};
use std::fmt;
use std::str::FromStr;

/// Element types a tensor can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean.
    Bool,
}

impl DType {
    /// The name scripts and numpy use (`f32`, `i64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::Bool => "bool",
        }
    }
    /// Whether it is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

impl FromStr for DType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "f32" | "float32" => DType::F32,
            "f64" | "float64" | "float" => DType::F64,
            "i64" | "int64" | "int" => DType::I64,
            "u8" | "uint8" => DType::U8,
            "bool" => DType::Bool,
            other => bail!("unknown dtype '{other}': expected one of f32, f64, i64, u8, bool"),
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a tensor lives. `Torch(Cpu)` is libtorch's CPU device: it exercises the torch engine
/// without a GPU (that is how CI tests the GPU code path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// ndarray storage in host memory (the default engine).
    Cpu,
    /// libtorch on its CPU device.
    TorchCpu,
    /// libtorch on CUDA device N.
    Cuda(usize),
}

impl Device {
    /// Whether the tensor lives in libtorch (its CPU or a GPU).
    pub fn is_torch(self) -> bool {
        !matches!(self, Device::Cpu)
    }

    /// Whether libtorch sees a CUDA device (always false without the torch feature).
    pub fn cuda_available() -> bool {
        #[cfg(feature = "torch")]
        return torch::cuda_available();
        #[cfg(not(feature = "torch"))]
        false
    }
}

impl FromStr for Device {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        Ok(match s {
            "cpu" => Device::Cpu,
            "torch:cpu" => Device::TorchCpu,
            "cuda" | "gpu" => Device::Cuda(0),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Device::Cuda(n),
                _ => bail!("unknown device '{s}': expected cpu, cuda, cuda:N or torch:cpu"),
            },
        })
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::TorchCpu => f.write_str("torch:cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// CPU storage, one variant per dtype. Cloning shares the buffer.
#[derive(Clone, Debug)]
pub enum CpuData {
    /// 32-bit floats.
    F32(ArcArray<f32, IxDyn>),
    /// 64-bit floats.
    F64(ArcArray<f64, IxDyn>),
    /// 64-bit integers.
    I64(ArcArray<i64, IxDyn>),
    /// Bytes.
    U8(ArcArray<u8, IxDyn>),
    /// Booleans.
    Bool(ArcArray<bool, IxDyn>),
}

/// Applies `$body` to the ArcArray inside any CpuData variant.
macro_rules! with_cpu {
    ($data:expr, $a:ident => $body:expr) => {
        match $data {
            CpuData::F32($a) => $body,
            CpuData::F64($a) => $body,
            CpuData::I64($a) => $body,
            CpuData::U8($a) => $body,
            CpuData::Bool($a) => $body,
        }
    };
}
pub(crate) use with_cpu;

impl CpuData {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            CpuData::F32(_) => DType::F32,
            CpuData::F64(_) => DType::F64,
            CpuData::I64(_) => DType::I64,
            CpuData::U8(_) => DType::U8,
            CpuData::Bool(_) => DType::Bool,
        }
    }
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        with_cpu!(self, a => a.shape())
    }
}

#[derive(Clone)]
enum Storage {
    Cpu(CpuData),
    #[cfg(feature = "torch")]
    Torch(std::sync::Arc<torch::Shared>),
}

/// A handle to an n-dimensional array. `clone()` is O(1): handles share storage, and every
/// operation returns a new tensor instead of mutating.
#[derive(Clone)]
pub struct Tensor {
    storage: Storage,
}

// Tensors cross threads (rayon workers, the WASM host's resource table, model pipelines), in
// every build: this fails to compile if a storage variant stops being Send + Sync.
const _: () = {
    fn send_sync<T: Send + Sync>() {}
    let _ = send_sync::<Tensor>;
};

/// Element types with an ndarray storage variant.
pub trait Element: Copy + Send + Sync + 'static {
    /// The dtype of this element type.
    const DTYPE: DType;
    /// Wrap an array of this element type.
    fn wrap(a: ArcArray<Self, IxDyn>) -> CpuData;
    /// Convert any CPU data to this element type (as numpy's `astype`).
    fn cast_from(d: &CpuData) -> ArcArray<Self, IxDyn>;
}

macro_rules! element {
    ($t:ty, $variant:ident, $conv:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn wrap(a: ArcArray<Self, IxDyn>) -> CpuData {
                CpuData::$variant(a)
            }
            fn cast_from(d: &CpuData) -> ArcArray<Self, IxDyn> {
                #[allow(clippy::redundant_closure_call)]
                let conv = $conv;
                #[allow(unreachable_patterns)]
                match d {
                    CpuData::$variant(a) => a.clone(),
                    CpuData::F32(a) => a.mapv(|x| conv(x as f64)).into_shared(),
                    CpuData::F64(a) => a.mapv(|x| conv(x)).into_shared(),
                    CpuData::I64(a) => a.mapv(|x| conv(x as f64)).into_shared(),
                    CpuData::U8(a) => a.mapv(|x| conv(x as f64)).into_shared(),
                    CpuData::Bool(a) => a.mapv(|x| conv(if x { 1.0 } else { 0.0 })).into_shared(),
                }
            }
        }
    };
}
element!(f32, F32, |x: f64| x as f32);
element!(f64, F64, |x: f64| x);
element!(i64, I64, |x: f64| x as i64);
element!(u8, U8, |x: f64| x as u8);
element!(bool, Bool, |x: f64| x != 0.0);

impl Tensor {
    /// A tensor over CPU data.
    pub fn from_cpu(data: CpuData) -> Self {
        Tensor {
            storage: Storage::Cpu(data),
        }
    }

    /// Wrap an ndarray of any dimensionality (no copy).
    pub fn from_array<T: Element, D: ndarray::Dimension>(a: ndarray::Array<T, D>) -> Self {
        Self::from_cpu(T::wrap(a.into_dyn().into_shared()))
    }

    /// A tensor sharing `a`'s storage (no copy).
    pub fn from_shared<T: Element>(a: ArcArray<T, IxDyn>) -> Self {
        Self::from_cpu(T::wrap(a))
    }

    /// Build from a flat vector and a shape.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let n: usize = shape.iter().product();
        ensure!(
            n == data.len(),
            "cannot shape {} values as {:?} ({} values needed)",
            data.len(),
            shape,
            n
        );
        let a =
            ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| Error::msg(e.to_string()))?;
        Ok(Self::from_array(a))
    }

    /// A 0-d f64 tensor.
    pub fn scalar_f64(x: f64) -> Self {
        Self::from_array(ndarray::arr0(x))
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize], dtype: DType) -> Self {
        match dtype {
            DType::F32 => Self::from_array(ArrayD::<f32>::zeros(IxDyn(shape))),
            DType::F64 => Self::from_array(ArrayD::<f64>::zeros(IxDyn(shape))),
            DType::I64 => Self::from_array(ArrayD::<i64>::zeros(IxDyn(shape))),
            DType::U8 => Self::from_array(ArrayD::<u8>::zeros(IxDyn(shape))),
            DType::Bool => Self::from_array(ArrayD::<bool>::from_elem(IxDyn(shape), false)),
        }
    }

    /// A tensor filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Self {
        Self::from_array(ArrayD::<f64>::from_elem(IxDyn(shape), value)).astype(dtype)
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        match &self.storage {
            Storage::Cpu(d) => d.shape().to_vec(),
            #[cfg(feature = "torch")]
            Storage::Torch(t) => t.with(|t| t.size().iter().map(|&s| s as usize).collect()),
        }
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }

    /// Length of the first axis (1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape().first().copied().unwrap_or(1)
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.numel() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match &self.storage {
            Storage::Cpu(d) => d.dtype(),
            #[cfg(feature = "torch")]
            Storage::Torch(t) => t.with(torch::dtype_of),
        }
    }

    /// Where it lives.
    pub fn device(&self) -> Device {
        match &self.storage {
            Storage::Cpu(_) => Device::Cpu,
            #[cfg(feature = "torch")]
            Storage::Torch(t) => t.with(torch::device_of),
        }
    }

    /// Move to a device. CPU <-> torch conversions are lossless for every dtype.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if self.device() == device {
            return Ok(self.clone());
        }
        match device {
            Device::Cpu => self.cpu_data().map(Tensor::from_cpu),
            #[cfg(feature = "torch")]
            _ => torch::to_torch(self, device),
            #[cfg(not(feature = "torch"))]
            _ => bail!(
                "device '{device}' needs the torch engine: rebuild emoscope with `--features torch`"
            ),
        }
    }

    /// The CPU data of this tensor, copied from the device if necessary.
    pub fn cpu_data(&self) -> Result<CpuData> {
        match &self.storage {
            Storage::Cpu(d) => Ok(d.clone()),
            #[cfg(feature = "torch")]
            Storage::Torch(t) => torch::to_cpu_data(&t.get()),
        }
    }

    /// The data as `T` on the CPU: free when it already is, a converting copy otherwise.
    pub fn to_array<T: Element>(&self) -> Result<ArcArray<T, IxDyn>> {
        Ok(T::cast_from(&self.cpu_data()?))
    }

    /// The values as f32, on the CPU (no copy when they already are).
    pub fn to_f32(&self) -> Result<ArcArray<f32, IxDyn>> {
        self.to_array::<f32>()
    }
    /// The values as f64, on the CPU (no copy when they already are).
    pub fn to_f64(&self) -> Result<ArcArray<f64, IxDyn>> {
        self.to_array::<f64>()
    }
    /// The values as i64, on the CPU (no copy when they already are).
    pub fn to_i64(&self) -> Result<ArcArray<i64, IxDyn>> {
        self.to_array::<i64>()
    }

    /// A 2-D view as `T`, with an error naming `what` when the tensor is not a matrix.
    pub fn matrix<T: Element>(&self, what: &str) -> Result<ndarray::ArcArray2<T>> {
        let shape = self.shape();
        ensure!(
            shape.len() == 2,
            "{what} must be a 2-D tensor (rows × columns), got shape {shape:?}"
        );
        self.to_array::<T>()?
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|e| Error::msg(e.to_string()))
    }

    /// A 1-D view as `T`, with an error naming `what` otherwise.
    pub fn vector<T: Element>(&self, what: &str) -> Result<ndarray::ArcArray1<T>> {
        let shape = self.shape();
        ensure!(
            shape.len() == 1,
            "{what} must be a 1-D tensor, got shape {shape:?}"
        );
        self.to_array::<T>()?
            .into_dimensionality::<ndarray::Ix1>()
            .map_err(|e| Error::msg(e.to_string()))
    }

    /// Convert the element type (CPU result; torch tensors convert on their device).
    pub fn astype(&self, dtype: DType) -> Tensor {
        if self.dtype() == dtype {
            return self.clone();
        }
        #[cfg(feature = "torch")]
        if let Storage::Torch(t) = &self.storage {
            return torch::astype(&t.get(), dtype);
        }
        // One arm without `torch`, two with it.
        #[allow(clippy::infallible_destructuring_match)]
        let d = match &self.storage {
            Storage::Cpu(d) => d,
            #[cfg(feature = "torch")]
            Storage::Torch(_) => unreachable!("handled above"),
        };
        Tensor::from_cpu(match dtype {
            DType::F32 => CpuData::F32(f32::cast_from(d)),
            DType::F64 => CpuData::F64(f64::cast_from(d)),
            DType::I64 => CpuData::I64(i64::cast_from(d)),
            DType::U8 => CpuData::U8(u8::cast_from(d)),
            DType::Bool => CpuData::Bool(bool::cast_from(d)),
        })
    }

    /// All elements as f64, in row-major order.
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        Ok(self.to_f64()?.iter().copied().collect())
    }

    /// The single value of a tensor with one element.
    pub fn item(&self) -> Result<f64> {
        ensure!(
            self.numel() == 1,
            "item() needs a tensor with exactly one element, got shape {:?}",
            self.shape()
        );
        Ok(self.to_vec_f64()?[0])
    }

    /// The libtorch tensor (a new reference to the same storage), if the data lives there.
    #[cfg(feature = "torch")]
    pub(crate) fn torch(&self) -> Option<tch::Tensor> {
        match &self.storage {
            Storage::Torch(t) => Some(t.get()),
            Storage::Cpu(_) => None,
        }
    }

    #[cfg(feature = "torch")]
    pub(crate) fn from_torch(t: tch::Tensor) -> Tensor {
        Tensor {
            storage: Storage::Torch(std::sync::Arc::new(torch::Shared::new(t))),
        }
    }

    /// Exact equality of shape, dtype and every element (NaN equals NaN bitwise).
    pub fn bit_equal(&self, other: &Tensor) -> Result<bool> {
        if self.shape() != other.shape() || self.dtype() != other.dtype() {
            return Ok(false);
        }
        Ok(match (self.cpu_data()?, other.cpu_data()?) {
            (CpuData::F32(a), CpuData::F32(b)) => a
                .iter()
                .zip(b.iter())
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            (CpuData::F64(a), CpuData::F64(b)) => a
                .iter()
                .zip(b.iter())
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            (CpuData::I64(a), CpuData::I64(b)) => a == b,
            (CpuData::U8(a), CpuData::U8(b)) => a == b,
            (CpuData::Bool(a), CpuData::Bool(b)) => a == b,
            _ => false,
        })
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, dtype={}, device={})",
            self.shape(),
            self.dtype(),
            self.device()
        )
    }
}

#[cfg(test)]
mod tests;
