//! The `tensor::` namespace and the Tensor type in scripts: creation, shape and indexing,
//! arithmetic with broadcasting, reductions, sorting, joining, similarity, devices.
//!
//! The namespace functions are a host `Plugin` (documented by FnSpecs like any step); the
//! operators, properties and methods on tensor values are registered on the engine here.
use super::convert::to_dynamic;
use emoscope_sdk::linalg::{similarity_cross, similarity_matrix, Similarity};
use emoscope_sdk::tensor::{BinOp, Reduce};
use emoscope_sdk::{bail, ensure, options};
use emoscope_sdk::{
    Ctx, DType, Device, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value,
};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};
use rhai::{Array, Dynamic, Engine, EvalAltResult};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `tensor::` namespace. Unseeded random draws use the run seed and a per-session counter,
/// so a script is reproducible from `--seed` alone.
#[derive(Default)]
pub struct TensorNs {
    draws: AtomicU64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DTypeOpt {
    dtype: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RandOpt {
    seed: Option<u64>,
    dtype: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SortOpt {
    #[serde(default = "last_axis")]
    axis: i64,
    #[serde(default)]
    descending: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StdOpt {
    #[serde(default)]
    ddof: usize,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JoinOpt {
    #[serde(default)]
    axis: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogspaceOpt {
    #[serde(default = "ten")]
    base: f64,
}

fn last_axis() -> i64 {
    -1
}
fn ten() -> f64 {
    10.0
}

fn dtype_or(o: &Option<String>, d: DType) -> Result<DType> {
    o.as_deref()
        .map(str::parse)
        .transpose()
        .map(|x| x.unwrap_or(d))
}

/// A shape: an int or a list of ints.
pub fn shape_arg(v: &Value, what: &str) -> Result<Vec<usize>> {
    let dims: Vec<i64> = match v {
        Value::Int(n) => vec![*n],
        Value::List(l) => l
            .iter()
            .map(|x| {
                x.as_i64().ok_or_else(|| {
                    emoscope_sdk::Error::msg(format!(
                        "{what}: shape entries must be integers, got {}",
                        x.type_name()
                    ))
                })
            })
            .collect::<Result<_>>()?,
        Value::Tensor(t) => t.to_vec_f64()?.into_iter().map(|x| x as i64).collect(),
        other => bail!(
            "{what} must be an int or a list of ints, got {}",
            other.type_name()
        ),
    };
    dims.into_iter()
        .map(|d| {
            if d < 0 {
                Err(emoscope_sdk::Error::msg(format!(
                    "{what}: negative dimension {d}"
                )))
            } else {
                Ok(d as usize)
            }
        })
        .collect()
}

/// Indices: a list of ints or an integer tensor.
pub fn indices_arg(v: &Value, what: &str) -> Result<Vec<i64>> {
    match v {
        Value::Int(i) => Ok(vec![*i]),
        Value::List(l) => l
            .iter()
            .map(|x| {
                x.as_i64().ok_or_else(|| {
                    emoscope_sdk::Error::msg(format!(
                        "{what}: indices must be integers, got {}",
                        x.type_name()
                    ))
                })
            })
            .collect(),
        Value::Tensor(t) => {
            ensure!(
                !t.dtype().is_float() || t.numel() == 0,
                "{what}: indices must be an integer tensor, got {}",
                t.dtype()
            );
            Ok(t.to_i64()?.iter().copied().collect())
        }
        other => bail!(
            "{what} must be a list of ints or an integer tensor, got {}",
            other.type_name()
        ),
    }
}

fn num(v: &Value, what: &str) -> Result<f64> {
    v.as_f64().ok_or_else(|| {
        emoscope_sdk::Error::msg(format!("{what} must be a number, got {}", v.type_name()))
    })
}

fn int(v: &Value, what: &str) -> Result<i64> {
    v.as_i64().ok_or_else(|| {
        emoscope_sdk::Error::msg(format!("{what} must be an integer, got {}", v.type_name()))
    })
}

fn similarity(args: &[Value], how: Similarity) -> Result<Value> {
    let a = args[0].to_tensor("a")?;
    match args.get(1) {
        None => {
            let x = a.matrix::<f64>("a")?;
            Ok(Value::Tensor(Tensor::from_array(similarity_matrix(
                x.view(),
                how,
            ))))
        }
        Some(b) => {
            let b = b.to_tensor("b")?;
            if a.ndim() == 1 && b.ndim() == 1 {
                let (x, y) = (a.reshape(&[1, a.numel()])?, b.reshape(&[1, b.numel()])?);
                let r = similarity_cross(
                    x.matrix::<f64>("a")?.view(),
                    y.matrix::<f64>("b")?.view(),
                    how,
                )?;
                return Ok(Value::Float(r[[0, 0]]));
            }
            let r = similarity_cross(
                a.matrix::<f64>("a")?.view(),
                b.matrix::<f64>("b")?.view(),
                how,
            )?;
            Ok(Value::Tensor(Tensor::from_array(r)))
        }
    }
}

fn reduce(args: &[Value], op: Reduce) -> Result<Value> {
    let t = args[0].to_tensor("t")?;
    let axis = args.get(1).map(|a| int(a, "axis")).transpose()?;
    let r = t.reduce(op, axis.map(|a| a as isize))?;
    Ok(if axis.is_none() {
        scalar_value(&r)?
    } else {
        Value::Tensor(r)
    })
}

/// A one-element tensor as a script number (int for integer dtypes).
pub fn scalar_value(t: &Tensor) -> Result<Value> {
    let x = t.item()?;
    Ok(match t.dtype() {
        DType::Bool => Value::Bool(x != 0.0),
        DType::I64 | DType::U8 => Value::Int(x as i64),
        _ => Value::Float(x),
    })
}

fn to_list(t: &Tensor) -> Result<Value> {
    fn rec(a: ndarray::ArrayViewD<f64>, dt: DType) -> Value {
        if a.ndim() == 0 {
            let x = a[[]];
            return match dt {
                DType::Bool => Value::Bool(x != 0.0),
                DType::I64 | DType::U8 => Value::Int(x as i64),
                _ => Value::Float(x),
            };
        }
        Value::List(a.outer_iter().map(|r| rec(r, dt)).collect())
    }
    Ok(rec(t.to_f64()?.view(), t.dtype()))
}

fn specs() -> Vec<FnSpec> {
    let dtype_opt = |f: FnSpec, d: &str| f.opt("dtype", Ty::Str, d, "f32, f64, i64, u8 or bool");
    let rand_opts = |f: FnSpec| {
        f.opt(
            "seed",
            Ty::Int,
            "run seed + draw counter",
            "ChaCha8 seed; without it, draws follow --seed",
        )
        .opt("dtype", Ty::Str, "\"f64\"", "f32 or f64")
    };
    let red = |name: &str, what: &str| {
        FnSpec::new(name, what)
            .param("t", Ty::Tensor, "input")
            .optional_param(
                "axis",
                Ty::Int,
                "axis to reduce (negative counts from the end); all elements when left out",
            )
            .returns("a number when reducing everything, else a tensor without that axis")
    };
    let sim = |name: &str, what: &str| {
        FnSpec::new(name, what)
            .param("a", Ty::Tensor, "a matrix (rows are items) or a vector")
            .optional_param("b", Ty::Tensor, "a second matrix or vector")
            .returns("one matrix (rows × rows): the RSM of a; two matrices: a.rows × b.rows; two vectors: a number")
    };
    vec![
        dtype_opt(FnSpec::new("zeros", "A tensor of zeros.").param("shape", Ty::Any, "int or list of ints"), "\"f64\"")
            .returns("tensor")
            .example("let z = tensor::zeros([2, 3], #{dtype: \"f32\"});"),
        dtype_opt(FnSpec::new("ones", "A tensor of ones.").param("shape", Ty::Any, "int or list of ints"), "\"f64\"").returns("tensor"),
        dtype_opt(FnSpec::new("full", "A tensor filled with one value.").param("shape", Ty::Any, "int or list of ints").param("value", Ty::Float, "fill value"), "\"f64\"").returns("tensor"),
        dtype_opt(FnSpec::new("eye", "The identity matrix.").param("n", Ty::Int, "size"), "\"f64\"").returns("n × n tensor"),
        dtype_opt(
            FnSpec::new("arange", "Evenly spaced values in [start, end) (numpy.arange): arange(n), arange(start, end) or arange(start, end, step).")
                .param("start", Ty::Float, "start, or the end when alone")
                .optional_param("end", Ty::Float, "end (exclusive)")
                .optional_param("step", Ty::Float, "step (default 1)"),
            "i64 for integer arguments, else f64",
        )
        .returns("1-D tensor"),
        FnSpec::new("linspace", "n evenly spaced values from start to end inclusive (numpy.linspace).")
            .param("start", Ty::Float, "first value")
            .param("end", Ty::Float, "last value")
            .param("n", Ty::Int, "number of values")
            .returns("1-D f64 tensor"),
        FnSpec::new("logspace", "n values spaced evenly on a log scale: base^linspace(start, end, n) (numpy.logspace).")
            .param("start", Ty::Float, "first exponent")
            .param("end", Ty::Float, "last exponent")
            .param("n", Ty::Int, "number of values")
            .opt("base", Ty::Float, "10.0", "base of the exponent")
            .returns("1-D f64 tensor")
            .section("Methods: voxel-wise encoding (100 alphas, logspace(-3, 3, 100))")
            .example("let alphas = tensor::logspace(-3.0, 3.0, 100);"),
        rand_opts(FnSpec::new("rand", "Uniform random values in [0, 1).").param("shape", Ty::Any, "int or list of ints")).returns("tensor"),
        rand_opts(FnSpec::new("randn", "Standard normal random values.").param("shape", Ty::Any, "int or list of ints"))
            .returns("tensor")
            .example("let X = tensor::randn([100, 8], #{seed: 1});"),
        dtype_opt(FnSpec::new("from", "A tensor from (nested) lists of numbers.").param("data", Ty::List, "numbers or equal-length lists"), "i64 for all-integer data, bool for all-boolean, else f64")
            .returns("tensor")
            .example("let t = tensor::from([[1, 2], [3, 4]], #{dtype: \"f32\"});"),
        FnSpec::new("shape", "The shape.").param("t", Ty::Tensor, "input").returns("list of ints"),
        FnSpec::new("dtype", "The element type.").param("t", Ty::Tensor, "input").returns("string"),
        FnSpec::new("len", "Length of the first axis.").param("t", Ty::Tensor, "input").returns("int"),
        FnSpec::new("astype", "Convert the element type.").param("t", Ty::Tensor, "input").param("dtype", Ty::Str, "f32, f64, i64, u8 or bool").returns("tensor"),
        FnSpec::new("reshape", "Same elements (row-major), new shape.").param("t", Ty::Tensor, "input").param("shape", Ty::Any, "list of ints").returns("tensor"),
        FnSpec::new("transpose", "Reverse the axes (the matrix transpose). O(1) on the CPU.").param("t", Ty::Tensor, "input").returns("tensor"),
        FnSpec::new("matmul", "Matrix product (faer on the CPU, libtorch on torch devices); 1-D operands act as vectors.")
            .param("a", Ty::Tensor, "left")
            .param("b", Ty::Tensor, "right")
            .returns("tensor"),
        red("sum", "Sum of elements."),
        red("mean", "Mean of elements."),
        red("std", "Standard deviation (ddof 0 by default, as numpy).").opt("ddof", Ty::Int, "0", "delta degrees of freedom"),
        red("min", "Minimum (NaN propagates)."),
        red("max", "Maximum (NaN propagates)."),
        red("argmin", "Index of the first minimum."),
        red("argmax", "Index of the first maximum."),
        FnSpec::new("sort", "Sorted values (stable; NaN last).")
            .param("t", Ty::Tensor, "input")
            .opt("axis", Ty::Int, "-1", "axis to sort along")
            .opt("descending", Ty::Bool, "false", "largest first")
            .returns("tensor"),
        FnSpec::new("argsort", "Indices that sort the values (stable; NaN last).")
            .param("t", Ty::Tensor, "input")
            .opt("axis", Ty::Int, "-1", "axis to sort along")
            .opt("descending", Ty::Bool, "false", "largest first")
            .returns("i64 tensor"),
        FnSpec::new("concat", "Join tensors along an existing axis.").param("tensors", Ty::List, "list of tensors").opt("axis", Ty::Int, "0", "axis").returns("tensor"),
        FnSpec::new("stack", "Join equal-shaped tensors along a new axis.").param("tensors", Ty::List, "list of tensors").opt("axis", Ty::Int, "0", "position of the new axis").returns("tensor"),
        FnSpec::new("row", "Row i (negative counts from the end); t[i] does the same.").param("t", Ty::Tensor, "input").param("i", Ty::Int, "index").returns("tensor (or a number for 1-D input)"),
        FnSpec::new("col", "Column j of a matrix.").param("t", Ty::Tensor, "matrix").param("j", Ty::Int, "index").returns("1-D tensor"),
        FnSpec::new("rows", "Rows picked by index, in order (repeats allowed).").param("t", Ty::Tensor, "input").param("indices", Ty::Any, "list of ints or integer tensor").returns("tensor"),
        FnSpec::new("cols", "Columns picked by index, in order.").param("t", Ty::Tensor, "matrix").param("indices", Ty::Any, "list of ints or integer tensor").returns("tensor"),
        FnSpec::new("slice", "Entries start..end along an axis (Python slice rules, negative from the end).")
            .param("t", Ty::Tensor, "input")
            .param("axis", Ty::Int, "axis")
            .param("start", Ty::Int, "first index")
            .param("end", Ty::Int, "one past the last index")
            .returns("tensor"),
        sim("cosine", "Cosine similarity between rows."),
        sim("pearson", "Pearson correlation between rows."),
        sim("spearman", "Spearman correlation between rows (average ranks for ties, as scipy)."),
        FnSpec::new("exp", "Element-wise e^x.").param("t", Ty::Tensor, "input").returns("float tensor"),
        FnSpec::new("log", "Element-wise natural logarithm.").param("t", Ty::Tensor, "input").returns("float tensor"),
        FnSpec::new("sqrt", "Element-wise square root.").param("t", Ty::Tensor, "input").returns("float tensor"),
        FnSpec::new("abs", "Element-wise absolute value.").param("t", Ty::Tensor, "input").returns("float tensor"),
        FnSpec::new("to_device", "Move to a device: \"cpu\", \"cuda\", \"cuda:N\" or \"torch:cpu\" (libtorch's CPU engine). Lossless.")
            .param("t", Ty::Tensor, "input")
            .param("device", Ty::Str, "target device")
            .returns("tensor on that device"),
        FnSpec::new("nonzero", "Indices of the non-zero entries of a 1-D tensor (for example ROI flags), ascending.")
            .param("t", Ty::Tensor, "1-D tensor")
            .returns("1-D i64 tensor")
            .example("let sts = s.data.cols(tensor::nonzero(s.rois.STS));"),
        FnSpec::new("equal", "Whether two tensors have the same shape, dtype and bits (NaN equals NaN).")
            .param("a", Ty::Tensor, "first")
            .param("b", Ty::Tensor, "second")
            .returns("bool"),
        FnSpec::new("to_list", "Nested lists of numbers.").param("t", Ty::Tensor, "input").returns("list"),
        FnSpec::new("item", "The value of a one-element tensor.").param("t", Ty::Tensor, "input").returns("number"),
    ]
}

impl Plugin for TensorNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "tensor".into(),
            version: crate::VERSION.into(),
            description: "Tensors: creation, indexing, arithmetic with broadcasting, reductions, similarity, devices".into(),
            functions: specs(),
        }
    }

    fn call(&self, f: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        let tensor = |i: usize, what: &str| args[i].to_tensor(what);
        let t = |x: Tensor| Ok(Value::Tensor(x));
        match f {
            "zeros" | "ones" | "full" => {
                let o: DTypeOpt = options::parse(opts)?;
                let shape = shape_arg(&args[0], "shape")?;
                let v = match f {
                    "zeros" => 0.0,
                    "ones" => 1.0,
                    _ => num(&args[1], "value")?,
                };
                t(Tensor::full(&shape, v, dtype_or(&o.dtype, DType::F64)?))
            }
            "eye" => {
                let o: DTypeOpt = options::parse(opts)?;
                let n = int(&args[0], "n")?.max(0) as usize;
                t(Tensor::from_array(ndarray::Array2::<f64>::eye(n))
                    .astype(dtype_or(&o.dtype, DType::F64)?))
            }
            "arange" => {
                let o: DTypeOpt = options::parse(opts)?;
                let all_int = args.iter().all(|a| matches!(a, Value::Int(_)));
                let (start, end, step) = match args.len() {
                    1 => (0.0, num(&args[0], "end")?, 1.0),
                    2 => (num(&args[0], "start")?, num(&args[1], "end")?, 1.0),
                    _ => (
                        num(&args[0], "start")?,
                        num(&args[1], "end")?,
                        num(&args[2], "step")?,
                    ),
                };
                ensure!(step != 0.0, "arange: step must not be zero");
                let n = ((end - start) / step).ceil().max(0.0) as usize;
                let v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
                let def = if all_int { DType::I64 } else { DType::F64 };
                t(Tensor::from_vec(v, &[n])?.astype(dtype_or(&o.dtype, def)?))
            }
            "linspace" | "logspace" => {
                let (a, b) = (num(&args[0], "start")?, num(&args[1], "end")?);
                let n = int(&args[2], "n")?;
                ensure!(n >= 0, "{f}: n must be non-negative, got {n}");
                let n = n as usize;
                let lin: Vec<f64> = (0..n)
                    .map(|i| {
                        if n == 1 {
                            a
                        } else {
                            a + (b - a) * i as f64 / (n - 1) as f64
                        }
                    })
                    .collect();
                let v = if f == "logspace" {
                    let o: LogspaceOpt = options::parse(opts)?;
                    lin.into_iter().map(|x| o.base.powf(x)).collect()
                } else {
                    options::parse::<DTypeOpt>(opts)?;
                    lin
                };
                t(Tensor::from_vec(v, &[n])?)
            }
            "rand" | "randn" => {
                let o: RandOpt = options::parse(opts)?;
                let shape = shape_arg(&args[0], "shape")?;
                let seed = o.seed.unwrap_or_else(|| {
                    let k = self.draws.fetch_add(1, Ordering::SeqCst);
                    ctx.seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                });
                let mut rng = emoscope_sdk::ctx::Rng::seed_from_u64(seed);
                let n: usize = shape.iter().product();
                let v: Vec<f64> = if f == "rand" {
                    (0..n).map(|_| StandardUniform.sample(&mut rng)).collect()
                } else {
                    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
                };
                let dt = dtype_or(&o.dtype, DType::F64)?;
                ensure!(dt.is_float(), "{f}: dtype must be f32 or f64, got {dt}");
                t(Tensor::from_vec(v, &shape)?.astype(dt))
            }
            "from" => {
                let o: DTypeOpt = options::parse(opts)?;
                let x = tensor(0, "data")?;
                t(match o.dtype {
                    Some(d) => x.astype(d.parse()?),
                    None => x,
                })
            }
            "shape" => Ok(Value::List(
                tensor(0, "t")?
                    .shape()
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            )),
            "dtype" => Ok(Value::Str(tensor(0, "t")?.dtype().to_string())),
            "len" => Ok(Value::Int(tensor(0, "t")?.len() as i64)),
            "astype" => t(tensor(0, "t")?.astype(args[1].as_str().unwrap_or_default().parse()?)),
            "reshape" => t(tensor(0, "t")?.reshape(&shape_arg(&args[1], "shape")?)?),
            "transpose" => t(tensor(0, "t")?.transpose()?),
            "matmul" => t(tensor(0, "a")?.matmul(&tensor(1, "b")?)?),
            "sum" => reduce(args, Reduce::Sum),
            "mean" => reduce(args, Reduce::Mean),
            "std" => {
                let o: StdOpt = options::parse(opts)?;
                reduce(args, Reduce::Std { ddof: o.ddof })
            }
            "min" => reduce(args, Reduce::Min),
            "max" => reduce(args, Reduce::Max),
            "argmin" => reduce(args, Reduce::ArgMin),
            "argmax" => reduce(args, Reduce::ArgMax),
            "sort" | "argsort" => {
                let o: SortOpt = options::parse(opts)?;
                let x = tensor(0, "t")?;
                t(if f == "sort" {
                    x.sort(o.axis as isize, o.descending)?
                } else {
                    x.argsort(o.axis as isize, o.descending)?
                })
            }
            "concat" | "stack" => {
                let o: JoinOpt = options::parse(opts)?;
                let parts = args[0]
                    .as_list()
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.to_tensor(&format!("tensors[{i}]")))
                    .collect::<Result<Vec<_>>>()?;
                t(if f == "concat" {
                    Tensor::concat(&parts, o.axis as isize)?
                } else {
                    Tensor::stack(&parts, o.axis as isize)?
                })
            }
            "row" => {
                let r = tensor(0, "t")?.index_axis(0, int(&args[1], "i")? as isize)?;
                if r.ndim() == 0 {
                    scalar_value(&r)
                } else {
                    t(r)
                }
            }
            "col" => t(tensor(0, "t")?.index_axis(1, int(&args[1], "j")? as isize)?),
            "rows" => t(tensor(0, "t")?.select(0, &indices_arg(&args[1], "indices")?)?),
            "cols" => t(tensor(0, "t")?.select(1, &indices_arg(&args[1], "indices")?)?),
            "slice" => t(tensor(0, "t")?.slice_axis(
                int(&args[1], "axis")? as isize,
                int(&args[2], "start")? as isize,
                int(&args[3], "end")? as isize,
            )?),
            "cosine" => similarity(args, Similarity::Cosine),
            "pearson" => similarity(args, Similarity::Pearson),
            "spearman" => similarity(args, Similarity::Spearman),
            "exp" => t(tensor(0, "t")?.map_float(f64::exp)?),
            "log" => t(tensor(0, "t")?.map_float(f64::ln)?),
            "sqrt" => t(tensor(0, "t")?.map_float(f64::sqrt)?),
            "abs" => t(tensor(0, "t")?.map_float(f64::abs)?),
            "to_device" => {
                let d: Device = args[1].as_str().unwrap_or_default().parse()?;
                t(tensor(0, "t")?.to_device(d)?)
            }
            "nonzero" => {
                let v = tensor(0, "t")?.vector::<f64>("t")?;
                let idx: Vec<i64> = v
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| **x != 0.0)
                    .map(|(i, _)| i as i64)
                    .collect();
                let n = idx.len();
                t(Tensor::from_vec(idx, &[n])?)
            }
            "equal" => Ok(Value::Bool(tensor(0, "a")?.bit_equal(&tensor(1, "b")?)?)),
            "to_list" => to_list(&tensor(0, "t")?),
            "item" => scalar_value(&tensor(0, "t")?),
            other => bail!("tensor has no function '{other}'"),
        }
    }
}

type RhaiResult<T> = std::result::Result<T, Box<EvalAltResult>>;

fn rr<T>(r: Result<T>) -> RhaiResult<T> {
    r.map_err(|e| e.to_string().into())
}

/// Tensor values in scripts: operators, properties, methods, indexing, printing.
pub fn register_type(engine: &mut Engine) {
    engine.register_type_with_name::<Tensor>("Tensor");
    macro_rules! ops {
        ($sym:literal, $op:expr) => {
            engine.register_fn($sym, |a: Tensor, b: Tensor| rr(a.binary(&b, $op)));
            engine.register_fn($sym, |a: Tensor, b: f64| {
                rr(a.binary_scalar(b, false, $op, false))
            });
            engine.register_fn($sym, |a: f64, b: Tensor| {
                rr(b.binary_scalar(a, false, $op, true))
            });
            engine.register_fn($sym, |a: Tensor, b: i64| {
                rr(a.binary_scalar(b as f64, true, $op, false))
            });
            engine.register_fn($sym, |a: i64, b: Tensor| {
                rr(b.binary_scalar(a as f64, true, $op, true))
            });
        };
    }
    ops!("+", BinOp::Add);
    ops!("-", BinOp::Sub);
    ops!("*", BinOp::Mul);
    ops!("/", BinOp::Div);
    ops!("**", BinOp::Pow);
    engine.register_fn("-", |a: Tensor| rr(a.neg()));

    engine.register_get("shape", |t: &mut Tensor| -> Array {
        t.shape()
            .into_iter()
            .map(|s| Dynamic::from(s as i64))
            .collect()
    });
    engine.register_get("dtype", |t: &mut Tensor| t.dtype().to_string());
    engine.register_get("device", |t: &mut Tensor| t.device().to_string());
    engine.register_get("ndim", |t: &mut Tensor| t.ndim() as i64);
    engine.register_get("len", |t: &mut Tensor| t.len() as i64);
    engine.register_get("numel", |t: &mut Tensor| t.numel() as i64);
    engine.register_get("T", |t: &mut Tensor| rr(t.transpose()));
    engine.register_fn("len", |t: &mut Tensor| t.len() as i64);

    engine.register_indexer_get(|t: &mut Tensor, i: i64| -> RhaiResult<Dynamic> {
        let r = rr(t.index_axis(0, i as isize))?;
        Ok(if r.ndim() == 0 {
            to_dynamic(rr(scalar_value(&r))?)
        } else {
            Dynamic::from(r)
        })
    });

    engine.register_fn("to_device", |t: &mut Tensor, d: &str| {
        rr(d.parse().and_then(|d| t.to_device(d)))
    });
    engine.register_fn("astype", |t: &mut Tensor, d: &str| {
        rr(d.parse().map(|d| t.astype(d)))
    });
    engine.register_fn("item", |t: &mut Tensor| rr(scalar_value(t)).map(to_dynamic));
    engine.register_fn("to_list", |t: &mut Tensor| rr(to_list(t)).map(to_dynamic));
    engine.register_fn("reshape", |t: &mut Tensor, s: Array| {
        let v = super::convert::from_dynamic(&Dynamic::from_array(s));
        rr(shape_arg(&v, "shape").and_then(|s| t.reshape(&s)))
    });
    engine.register_fn("matmul", |a: &mut Tensor, b: Tensor| rr(a.matmul(&b)));
    engine.register_fn("transpose", |t: &mut Tensor| rr(t.transpose()));
    engine.register_fn("row", |t: &mut Tensor, i: i64| {
        rr(t.index_axis(0, i as isize))
    });
    engine.register_fn("col", |t: &mut Tensor, j: i64| {
        rr(t.index_axis(1, j as isize))
    });
    engine.register_fn("rows", |t: &mut Tensor, ix: Dynamic| {
        rr(indices_arg(&super::convert::from_dynamic(&ix), "indices")
            .and_then(|ix| t.select(0, &ix)))
    });
    engine.register_fn("cols", |t: &mut Tensor, ix: Dynamic| {
        rr(indices_arg(&super::convert::from_dynamic(&ix), "indices")
            .and_then(|ix| t.select(1, &ix)))
    });
    engine.register_fn("slice", |t: &mut Tensor, axis: i64, a: i64, b: i64| {
        rr(t.slice_axis(axis as isize, a as isize, b as isize))
    });
    macro_rules! method_reduce {
        ($name:literal, $op:expr) => {
            engine.register_fn($name, |t: &mut Tensor| {
                rr(t.reduce($op, None).and_then(|r| scalar_value(&r))).map(to_dynamic)
            });
            engine.register_fn($name, |t: &mut Tensor, axis: i64| {
                rr(t.reduce($op, Some(axis as isize)))
            });
        };
    }
    engine.register_fn("abs", |t: &mut Tensor| rr(t.map_float(f64::abs)));
    engine.register_fn("exp", |t: &mut Tensor| rr(t.map_float(f64::exp)));
    engine.register_fn("log", |t: &mut Tensor| rr(t.map_float(f64::ln)));
    engine.register_fn("sqrt", |t: &mut Tensor| rr(t.map_float(f64::sqrt)));
    method_reduce!("sum", Reduce::Sum);
    method_reduce!("mean", Reduce::Mean);
    method_reduce!("std", Reduce::Std { ddof: 0 });
    method_reduce!("min", Reduce::Min);
    method_reduce!("max", Reduce::Max);
    method_reduce!("argmin", Reduce::ArgMin);
    method_reduce!("argmax", Reduce::ArgMax);

    engine.register_fn("to_string", |t: &mut Tensor| t.to_string());
    engine.register_fn("to_debug", |t: &mut Tensor| {
        format!("tensor(shape={:?}, dtype={})", t.shape(), t.dtype())
    });
}
