//! The resource table's entries: host tensors (read by the guest in chunks, from the CPU or a
//! libtorch device) and the builders a guest writes its results through.
use super::*;

/// A tensor in the host's table. On the CPU engine its flat row-major data is converted to f64
/// once, on the first read; a tensor on a libtorch device (CPU or CUDA) stays there, and each
/// chunk the guest reads is copied to the host on its own, so a large GPU tensor is never
/// mirrored whole in host memory.
pub struct HostTensor {
    pub(super) t: Tensor,
    flat: OnceLock<std::result::Result<Flat, String>>,
}

/// The data a chunked read slices.
enum Flat {
    Host(ArcArray<f64, IxDyn>),
    /// The tensor viewed as 1-D, on its device.
    Device(Tensor),
}

impl HostTensor {
    pub(super) fn new(t: Tensor) -> Self {
        HostTensor {
            t,
            flat: OnceLock::new(),
        }
    }
    fn flat(&self) -> std::result::Result<&Flat, String> {
        self.flat
            .get_or_init(|| {
                if self.t.device().is_torch() {
                    return Ok(Flat::Device(
                        self.t
                            .view_as(&[self.t.numel()])
                            .map_err(|e| e.to_string())?,
                    ));
                }
                let a = self.t.to_f64().map_err(|e| e.to_string())?;
                Ok(Flat::Host(if a.is_standard_layout() {
                    a
                } else {
                    a.as_standard_layout().to_owned().into_shared()
                }))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A tensor being written in chunks.
pub struct Builder {
    shape: Vec<usize>,
    dtype: types::Dtype,
    data: Vec<f64>,
}

fn dims(shape: &[u64]) -> std::result::Result<Vec<usize>, String> {
    let d: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
    let n = d
        .iter()
        .try_fold(1usize, |a, &s| a.checked_mul(s))
        .ok_or("the shape's element count overflows")?;
    if n > (1usize << 34) {
        return Err(format!("shape {shape:?} has {n} elements: too many"));
    }
    Ok(d)
}

impl types::Host for State {}

impl types::HostTensor for State {
    fn shape(&mut self, t: Resource<HostTensor>) -> wasmtime::Result<Vec<u64>> {
        Ok(self
            .table
            .get(&t)?
            .t
            .shape()
            .iter()
            .map(|&d| d as u64)
            .collect())
    }
    fn dtype(&mut self, t: Resource<HostTensor>) -> wasmtime::Result<types::Dtype> {
        use emoscope_sdk::DType;
        Ok(match self.table.get(&t)?.t.dtype() {
            DType::F32 => types::Dtype::F32,
            DType::F64 => types::Dtype::F64,
            DType::I64 => types::Dtype::S64,
            DType::U8 => types::Dtype::U8,
            DType::Bool => types::Dtype::Bool,
        })
    }
    fn numel(&mut self, t: Resource<HostTensor>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&t)?.t.shape().iter().product::<usize>() as u64)
    }
    fn read_f64(
        &mut self,
        t: Resource<HostTensor>,
        offset: u64,
        len: u64,
    ) -> wasmtime::Result<std::result::Result<Vec<f64>, String>> {
        let h = self.table.get(&t)?;
        Ok(read(h, offset, len))
    }
    fn read_f32(
        &mut self,
        t: Resource<HostTensor>,
        offset: u64,
        len: u64,
    ) -> wasmtime::Result<std::result::Result<Vec<f32>, String>> {
        let h = self.table.get(&t)?;
        Ok(read(h, offset, len).map(|s| s.into_iter().map(|v| v as f32).collect()))
    }
    fn from_f64(
        &mut self,
        shape: Vec<u64>,
        data: Vec<f64>,
    ) -> wasmtime::Result<std::result::Result<Resource<HostTensor>, String>> {
        let t = dims(&shape)
            .and_then(|d| Tensor::from_vec(data, &d).map_err(|e| format!("tensor.from-f64: {e}")));
        match t {
            Ok(t) => Ok(Ok(self.table.push(HostTensor::new(t))?)),
            Err(e) => Ok(Err(e)),
        }
    }
    fn drop(&mut self, t: Resource<HostTensor>) -> wasmtime::Result<()> {
        self.table.delete(t)?;
        Ok(())
    }
}

/// Elements `offset..offset + len` (at most `MAX_CHUNK`, clipped at the end) in row-major order.
fn read(h: &HostTensor, offset: u64, len: u64) -> std::result::Result<Vec<f64>, String> {
    let n = h.t.numel() as u64;
    if offset > n {
        return Err(format!("read at element {offset}, but the tensor has {n}"));
    }
    let (start, end) = (
        offset as usize,
        (offset + len.min(MAX_CHUNK).min(n - offset)) as usize,
    );
    match h.flat()? {
        Flat::Host(a) => Ok(a.as_slice().expect("standard layout")[start..end].to_vec()),
        Flat::Device(t) => t
            .narrow0(start, end)
            .and_then(|c| c.to_vec_f64())
            .map_err(|e| e.to_string()),
    }
}

impl types::HostTensorBuilder for State {
    fn new(&mut self, shape: Vec<u64>, dtype: types::Dtype) -> wasmtime::Result<Resource<Builder>> {
        // An impossible shape traps the call: the guest asked for something no tensor can be.
        let d = dims(&shape).map_err(|e| wasmtime::format_err!("tensor-builder: {e}"))?;
        let n = d.iter().product();
        self.charge(n)?;
        Ok(self.table.push(Builder {
            shape: d,
            dtype,
            data: vec![0.0; n],
        })?)
    }
    fn write_f64(
        &mut self,
        b: Resource<Builder>,
        offset: u64,
        data: Vec<f64>,
    ) -> wasmtime::Result<std::result::Result<(), String>> {
        let b = self.table.get_mut(&b)?;
        Ok(write(b, offset, data.len()).map(|r| b.data[r].copy_from_slice(&data)))
    }
    fn write_f32(
        &mut self,
        b: Resource<Builder>,
        offset: u64,
        data: Vec<f32>,
    ) -> wasmtime::Result<std::result::Result<(), String>> {
        let b = self.table.get_mut(&b)?;
        Ok(write(b, offset, data.len()).map(|r| {
            for (o, &v) in b.data[r].iter_mut().zip(&data) {
                *o = v as f64;
            }
        }))
    }
    fn finish(&mut self, b: Resource<Builder>) -> wasmtime::Result<Resource<HostTensor>> {
        let b = self.table.delete(b)?;
        let t = Tensor::from_vec(b.data, &b.shape).map_err(|e| wasmtime::format_err!("{e}"))?;
        let t = match b.dtype {
            types::Dtype::F32 => t.astype(emoscope_sdk::DType::F32),
            types::Dtype::S64 => t.astype(emoscope_sdk::DType::I64),
            types::Dtype::U8 => t.astype(emoscope_sdk::DType::U8),
            types::Dtype::Bool => t.astype(emoscope_sdk::DType::Bool),
            types::Dtype::F64 => t,
        };
        Ok(self.table.push(HostTensor::new(t))?)
    }
    fn drop(&mut self, b: Resource<Builder>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

fn write(
    b: &Builder,
    offset: u64,
    len: usize,
) -> std::result::Result<std::ops::Range<usize>, String> {
    let n = b.data.len();
    let start = offset as usize;
    if offset > n as u64 || start + len > n {
        return Err(format!(
            "write of {len} elements at {offset} does not fit a tensor of {n}"
        ));
    }
    Ok(start..start + len)
}
