//! The device kernels an optimiser written against `Tensor` needs (gathering and scattering rows,
//! element-wise functions, row sums), each with a libtorch path that stays on the tensor's device
//! and a CPU path. Steps that train on a GPU (SPoSE's torch engine) are written once against
//! these, so only this module knows how they run on libtorch.
use super::{with_cpu, CpuData, DType, Tensor};
use crate::error::Result;
use crate::{bail, ensure};
use ndarray::{ArrayD, Axis, IxDyn};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// An element-wise function a device kernel applies.
pub enum Unary {
    /// e^x
    Exp,
    /// ln x
    Ln,
    /// √x
    Sqrt,
    /// |x|
    Abs,
    /// −1, 0 or 1 (sign(0) = 0, as torch's).
    Sign,
    /// max(x, 0).
    Relu,
}

impl Unary {
    fn apply(self, x: f64) -> f64 {
        match self {
            Unary::Exp => x.exp(),
            Unary::Ln => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Abs => x.abs(),
            Unary::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Unary::Relu => x.max(0.0),
        }
    }
}

fn index_vec(idx: &Tensor, len: usize) -> Result<Vec<usize>> {
    ensure!(
        idx.ndim() == 1,
        "an index must be 1-D, got shape {:?}",
        idx.shape()
    );
    idx.to_i64()?
        .iter()
        .map(|&i| {
            ensure!(
                i >= 0 && (i as usize) < len,
                "index {i} is out of range for {len} rows"
            );
            Ok(i as usize)
        })
        .collect()
}

#[cfg(feature = "torch")]
fn torch_index(idx: &Tensor, device: crate::Device) -> Result<tch::Tensor> {
    let i = idx.to_device(device)?;
    Ok(i.torch()
        .expect("on a torch device")
        .to_kind(tch::Kind::Int64))
}

impl Tensor {
    /// An element-wise function; float tensors keep their width, integers become f64.
    pub fn unary(&self, op: Unary) -> Result<Tensor> {
        #[cfg(feature = "torch")]
        if let Some(t) = self.torch() {
            let t = if self.dtype().is_float() {
                t.shallow_clone()
            } else {
                t.to_kind(tch::Kind::Double)
            };
            let r = match op {
                Unary::Exp => t.f_exp(),
                Unary::Ln => t.f_log(),
                Unary::Sqrt => t.f_sqrt(),
                Unary::Abs => t.f_abs(),
                Unary::Sign => t.f_sign(),
                Unary::Relu => t.f_relu(),
            }
            .map_err(|e| crate::Error::msg(e.to_string()))?;
            return Ok(Tensor::from_torch(r));
        }
        Ok(match self.cpu_data()? {
            CpuData::F32(a) => Tensor::from_array(a.mapv(|x| op.apply(x as f64) as f32)),
            other => Tensor::from_array(f64::cast_from_data(&other).mapv(|x| op.apply(x))),
        })
    }

    /// Rows picked by a 1-D integer index tensor (repeats allowed), on the tensor's device.
    pub fn index_select0(&self, idx: &Tensor) -> Result<Tensor> {
        ensure!(
            self.ndim() >= 1,
            "cannot select rows of a 0-dimensional tensor"
        );
        #[cfg(feature = "torch")]
        if let Some(t) = self.torch() {
            let i = torch_index(idx, self.device())?;
            let r = t
                .f_index_select(0, &i)
                .map_err(|e| crate::Error::msg(e.to_string()))?;
            return Ok(Tensor::from_torch(r));
        }
        let ix = index_vec(idx, self.shape()[0])?;
        let d = self.cpu_data()?;
        Ok(with_cpu!(d, a => Tensor::from_array(a.select(Axis(0), &ix))))
    }

    /// `self` with `src`'s rows added at the rows `idx` names (repeats accumulate).
    pub fn index_add0(&self, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
        ensure!(
            self.ndim() >= 1
                && src.ndim() == self.ndim()
                && src.shape()[1..] == self.shape()[1..]
                && src.shape()[0] == idx.numel(),
            "index_add: {} source rows of shape {:?} cannot be added into a tensor of shape {:?}",
            idx.numel(),
            src.shape(),
            self.shape()
        );
        #[cfg(feature = "torch")]
        if let Some(t) = self.torch() {
            let i = torch_index(idx, self.device())?;
            let s = src.to_device(self.device())?;
            let s = s.torch().expect("on a torch device").to_kind(t.kind());
            let r = t
                .f_index_add(0, &i, &s)
                .map_err(|e| crate::Error::msg(e.to_string()))?;
            return Ok(Tensor::from_torch(r));
        }
        let ix = index_vec(idx, self.shape()[0])?;
        fn add_rows<T: super::Element + Copy + std::ops::AddAssign>(
            into: &Tensor,
            ix: &[usize],
            src: &Tensor,
        ) -> Result<Tensor> {
            let mut out = into.to_array::<T>()?.to_owned();
            let s = src.to_array::<T>()?;
            for (k, &r) in ix.iter().enumerate() {
                out.index_axis_mut(Axis(0), r)
                    .zip_mut_with(&s.index_axis(Axis(0), k), |o, v| *o += *v);
            }
            Ok(Tensor::from_array(out))
        }
        match self.dtype() {
            DType::F32 => add_rows::<f32>(self, &ix, &src.astype(DType::F32)),
            DType::F64 => add_rows::<f64>(self, &ix, &src.astype(DType::F64)),
            dt => bail!("index_add needs a float tensor, got {}", dt.name()),
        }
    }

    /// Sum over one axis, on the tensor's device (that axis removed).
    pub fn sum_axis(&self, axis: usize) -> Result<Tensor> {
        ensure!(
            axis < self.ndim(),
            "axis {axis} is out of range for {} dimensions",
            self.ndim()
        );
        #[cfg(feature = "torch")]
        if let Some(t) = self.torch() {
            let r = t
                .f_sum_dim_intlist(&[axis as i64][..], false, t.kind())
                .map_err(|e| crate::Error::msg(e.to_string()))?;
            return Ok(Tensor::from_torch(r));
        }
        let d = self.cpu_data()?;
        Ok(match d {
            CpuData::F32(a) => Tensor::from_array(a.sum_axis(Axis(axis))),
            other => Tensor::from_array(f64::cast_from_data(&other).sum_axis(Axis(axis))),
        })
    }

    /// The same data viewed with another shape, on the tensor's device.
    pub fn view_as(&self, shape: &[usize]) -> Result<Tensor> {
        #[cfg(feature = "torch")]
        if let Some(t) = self.torch() {
            ensure!(
                shape.iter().product::<usize>() == self.numel(),
                "cannot view {:?} as {shape:?}",
                self.shape()
            );
            let s: Vec<i64> = shape.iter().map(|&v| v as i64).collect();
            return Ok(Tensor::from_torch(t.reshape(s.as_slice())));
        }
        self.reshape(shape)
    }

    /// The rows × rows similarity matrix (an RSM) of a 2-D tensor, in f64, on the tensor's
    /// device: `linalg::similarity_matrix` on the CPU engine, one matrix product on libtorch.
    /// Spearman ranks each row on the CPU first (ties share their mean rank), then correlates
    /// the ranks on the device.
    pub fn row_similarity(&self, how: crate::linalg::Similarity) -> Result<Tensor> {
        ensure!(
            self.ndim() == 2,
            "a similarity matrix needs a 2-D tensor (rows × features), got shape {:?}",
            self.shape()
        );
        #[cfg(feature = "torch")]
        if let Some(t) = self.torch() {
            use crate::linalg::Similarity;
            return match how {
                Similarity::Cosine => super::torch::unit_row_gram(&t, false),
                Similarity::Pearson => super::torch::unit_row_gram(&t, true),
                Similarity::Spearman => {
                    let ranks = crate::linalg::ranked(self.matrix::<f64>("x")?.view());
                    Tensor::from_array(ranks)
                        .to_device(self.device())?
                        .row_similarity(Similarity::Pearson)
                }
            };
        }
        let x = self.matrix::<f64>("x")?;
        Ok(Tensor::from_array(crate::linalg::similarity_matrix(
            x.view(),
            how,
        )))
    }

    /// Rows start..end (a view where the storage allows), on the tensor's device.
    pub fn narrow0(&self, start: usize, end: usize) -> Result<Tensor> {
        ensure!(
            start <= end && end <= self.shape()[0],
            "rows {start}..{end} of {}",
            self.shape()[0]
        );
        #[cfg(feature = "torch")]
        if let Some(t) = self.torch() {
            return Ok(Tensor::from_torch(t.narrow(
                0,
                start as i64,
                (end - start) as i64,
            )));
        }
        self.slice_axis(0, start as isize, end as isize)
    }
}

trait CastData {
    fn cast_from_data(d: &CpuData) -> ArrayD<Self>
    where
        Self: Sized;
}

impl CastData for f64 {
    fn cast_from_data(d: &CpuData) -> ArrayD<f64> {
        match d {
            CpuData::F32(a) => a
                .mapv(f64::from)
                .into_dimensionality::<IxDyn>()
                .expect("dyn"),
            CpuData::F64(a) => a.to_owned(),
            CpuData::I64(a) => a.mapv(|v| v as f64),
            CpuData::U8(a) => a.mapv(f64::from),
            CpuData::Bool(a) => a.mapv(|v| if v { 1.0 } else { 0.0 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_on_the_cpu() {
        let x = Tensor::from_vec(vec![1.0f32, -2.0, 0.0, 4.0, 5.0, -6.0], &[3, 2]).unwrap();
        assert_eq!(
            x.unary(Unary::Sign).unwrap().to_vec_f64().unwrap(),
            vec![1., -1., 0., 1., 1., -1.]
        );
        assert_eq!(
            x.unary(Unary::Relu).unwrap().to_vec_f64().unwrap(),
            vec![1., 0., 0., 4., 5., 0.]
        );
        assert_eq!(x.unary(Unary::Sign).unwrap().dtype(), DType::F32);
        let idx = Tensor::from_vec(vec![2i64, 0, 2], &[3]).unwrap();
        let sel = x.index_select0(&idx).unwrap();
        assert_eq!(sel.to_vec_f64().unwrap(), vec![5., -6., 1., -2., 5., -6.]);
        let z = Tensor::zeros(&[3, 2], DType::F32);
        let added = z.index_add0(&idx, &sel).unwrap();
        assert_eq!(
            added.to_vec_f64().unwrap(),
            vec![1., -2., 0., 0., 10., -12.]
        );
        assert_eq!(
            x.sum_axis(1).unwrap().to_vec_f64().unwrap(),
            vec![-1., 4., -1.]
        );
        assert_eq!(x.narrow0(1, 3).unwrap().shape(), vec![2, 2]);
        assert!(x
            .index_select0(&Tensor::from_vec(vec![3i64], &[1]).unwrap())
            .is_err());
    }

    #[cfg(feature = "torch")]
    #[test]
    fn kernels_agree_on_libtorch() {
        use crate::Device;
        let x = Tensor::from_vec(vec![1.0f32, -2.0, 0.0, 4.0, 5.0, -6.0], &[3, 2]).unwrap();
        let t = x.to_device(Device::TorchCpu).unwrap();
        let idx = Tensor::from_vec(vec![2i64, 0, 2], &[3]).unwrap();
        for op in [Unary::Sign, Unary::Relu, Unary::Abs] {
            assert_eq!(
                t.unary(op).unwrap().to_vec_f64().unwrap(),
                x.unary(op).unwrap().to_vec_f64().unwrap()
            );
        }
        let sel = t.index_select0(&idx).unwrap();
        assert!(sel.device().is_torch());
        let z = Tensor::zeros(&[3, 2], DType::F32)
            .to_device(Device::TorchCpu)
            .unwrap();
        assert_eq!(
            z.index_add0(&idx, &sel).unwrap().to_vec_f64().unwrap(),
            vec![1., -2., 0., 0., 10., -12.]
        );
        assert_eq!(
            t.sum_axis(1).unwrap().to_vec_f64().unwrap(),
            vec![-1., 4., -1.]
        );
        assert_eq!(t.view_as(&[6]).unwrap().shape(), vec![6]);
        assert_eq!(
            t.narrow0(1, 3).unwrap().to_vec_f64().unwrap(),
            vec![0., 4., 5., -6.]
        );
    }

    /// Each similarity from the textbook pairwise statistic, with constant and repeated values
    /// (ties for Spearman) and a constant row, whose similarities must be 0 on both engines.
    fn similarity_input() -> Tensor {
        let mut v: Vec<f64> = (0..42)
            .map(|i| ((i * 7919) % 13) as f64 * 0.5 - 2.0)
            .collect();
        v.extend([3.0; 6]);
        Tensor::from_vec(v, &[8, 6]).unwrap()
    }

    #[test]
    fn row_similarity_matches_pairwise_statistics() {
        use crate::linalg::Similarity;
        use crate::stats::{pearson, spearman};
        let x = similarity_input();
        let m = x.matrix::<f64>("x").unwrap();
        for how in [
            Similarity::Cosine,
            Similarity::Pearson,
            Similarity::Spearman,
        ] {
            let s = x.row_similarity(how).unwrap().matrix::<f64>("s").unwrap();
            for i in 0..7 {
                for j in 0..7 {
                    let (a, b) = (m.row(i).to_vec(), m.row(j).to_vec());
                    let want = match how {
                        Similarity::Pearson => pearson(&a, &b),
                        Similarity::Spearman => spearman(&a, &b),
                        Similarity::Cosine => {
                            let dot: f64 = a.iter().zip(&b).map(|(p, q)| p * q).sum();
                            let na: f64 = a.iter().map(|p| p * p).sum::<f64>().sqrt();
                            let nb: f64 = b.iter().map(|p| p * p).sum::<f64>().sqrt();
                            dot / (na * nb)
                        }
                    };
                    assert!(
                        (s[[i, j]] - want).abs() < 1e-12,
                        "{how:?} ({i},{j}): {} vs {want}",
                        s[[i, j]]
                    );
                }
                // The constant last row has no variance (Pearson, Spearman): similarity 0.
                if how != Similarity::Cosine {
                    assert_eq!(s[[i, 7]], 0.0);
                }
            }
        }
        assert!(Tensor::zeros(&[3], DType::F64)
            .row_similarity(Similarity::Cosine)
            .is_err());
    }

    #[cfg(feature = "torch")]
    #[test]
    fn row_similarity_on_libtorch_matches_the_cpu_engine() {
        use crate::linalg::Similarity;
        use crate::Device;
        let x = similarity_input();
        for dt in [DType::F64, DType::F32] {
            let x = x.astype(dt);
            let t = x.to_device(Device::TorchCpu).unwrap();
            for how in [
                Similarity::Cosine,
                Similarity::Pearson,
                Similarity::Spearman,
            ] {
                let (c, d) = (
                    x.row_similarity(how).unwrap(),
                    t.row_similarity(how).unwrap(),
                );
                assert_eq!(d.device(), Device::TorchCpu, "{how:?} left the device");
                assert_eq!((c.dtype(), d.dtype()), (DType::F64, DType::F64));
                let (c, d) = (c.to_vec_f64().unwrap(), d.to_vec_f64().unwrap());
                let worst = c
                    .iter()
                    .zip(&d)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(worst < 1e-12, "{how:?} {dt:?}: differs by {worst}");
                assert!(
                    d.iter().all(|v| v.is_finite()),
                    "{how:?}: a NaN from the constant row"
                );
            }
        }
    }
}
