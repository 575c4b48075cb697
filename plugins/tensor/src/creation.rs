//! Making tensors: filled with one value, the identity, ranges, random draws, from lists.
use crate::args::{int, num, shape_arg, tensor};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::{ensure, Ctx, DType, Options, Result, Tensor, Value};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};

/// The element type of a new tensor, for the functions whose default is always f64.
#[derive(Options)]
pub struct NewDtype {
    /// f32, f64, i64, u8 or bool
    #[opt(default = "f64")]
    pub dtype: String,
}

impl NewDtype {
    fn get(&self) -> Result<DType> {
        self.dtype.parse()
    }
}

/// The options of the random draws.
#[derive(Options)]
pub struct Draw {
    /// ChaCha8 seed; without it, draws follow --seed
    #[opt(doc_default = "run seed + draw counter")]
    pub seed: Option<u64>,
    /// f32 or f64
    #[opt(default = "f64")]
    pub dtype: String,
}

/// A tensor of `shape` holding `value` everywhere.
fn filled(shape: &Value, value: f64, dtype: &NewDtype) -> Result<Value> {
    let shape = shape_arg(shape, "shape")?;
    Ok(Tensor::full(&shape, value, dtype.get()?).into())
}

/// numpy.arange: the end alone, start and end, or start, end and step.
fn arange(args: &[Value], dtype: Option<&str>) -> Result<Value> {
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
    let dtype = match dtype {
        Some(d) => d.parse()?,
        None if all_int => DType::I64,
        None => DType::F64,
    };
    Ok(Tensor::from_vec(v, &[n])?.astype(dtype).into())
}

/// numpy.linspace's values (start, end, n), each passed through `f`: the identity for
/// linspace, `base^x` for logspace.
fn spaced(name: &str, args: &[Value], f: impl Fn(f64) -> f64) -> Result<Value> {
    let (a, b) = (num(&args[0], "start")?, num(&args[1], "end")?);
    let n = int(&args[2], "n")?;
    ensure!(n >= 0, "{name}: n must be non-negative, got {n}");
    let n = n as usize;
    let v: Vec<f64> = (0..n)
        .map(|i| {
            if n == 1 {
                a
            } else {
                a + (b - a) * i as f64 / (n - 1) as f64
            }
        })
        .map(f)
        .collect();
    Ok(Tensor::from_vec(v, &[n])?.into())
}

/// Independent draws from `dist`. An unseeded draw takes the run's next draw seed, so a
/// script's draws are reproducible from `--seed` yet differ from one call to the next.
fn draw(
    name: &str,
    shape: &Value,
    o: &Draw,
    ctx: &Ctx,
    dist: impl Distribution<f64>,
) -> Result<Value> {
    let shape = shape_arg(shape, "shape")?;
    let mut rng = Rng::seed_from_u64(o.seed.unwrap_or_else(|| ctx.next_draw_seed()));
    let v: Vec<f64> = dist
        .sample_iter(&mut rng)
        .take(shape.iter().product())
        .collect();
    let dt: DType = o.dtype.parse()?;
    ensure!(dt.is_float(), "{name}: dtype must be f32 or f64, got {dt}");
    Ok(Tensor::from_vec(v, &shape)?.astype(dt).into())
}

steps! {
    #[step(param(shape: Any = "int or list of ints"), returns = "tensor")]
    /// A tensor of zeros.
    #[step(example = "let z = tensor::zeros([2, 3], #{dtype: \"f32\"});")]
    Zeros {
        /// the element type
        #[opt(flatten)]
        pub dtype: NewDtype,
    } => |s, args, _| filled(&args[0], 0.0, &s.dtype);

    /// A tensor of ones.
    Ones {
        /// the element type
        #[opt(flatten)]
        pub dtype: NewDtype,
    } => |s, args, _| filled(&args[0], 1.0, &s.dtype);

    /// A tensor filled with one value.
    #[step(param(value: Float = "fill value"))]
    Full {
        /// the element type
        #[opt(flatten)]
        pub dtype: NewDtype,
    } => |s, args, _| filled(&args[0], num(&args[1], "value")?, &s.dtype);

    /// Uniform random values in [0, 1).
    Rand {
        /// the seed and element type
        #[opt(flatten)]
        pub draw: Draw,
    } => |s, args, ctx| draw("rand", &args[0], &s.draw, ctx, StandardUniform);

    /// Standard normal random values.
    #[step(example = "let X = tensor::randn([100, 8], #{seed: 1});")]
    Randn {
        /// the seed and element type
        #[opt(flatten)]
        pub draw: Draw,
    } => |s, args, ctx| draw("randn", &args[0], &s.draw, ctx, StandardNormal);
}

steps! {
    #[step(returns = "1-D f64 tensor")]
    /// n evenly spaced values from start to end inclusive (numpy.linspace).
    #[step(
        param(start: Float = "first value"),
        param(end: Float = "last value"),
        param(n: Int = "number of values"),
    )]
    Linspace {} => |_, args, _| spaced("linspace", args, |x| x);

    /// n values spaced evenly on a log scale: base^linspace(start, end, n) (numpy.logspace).
    #[step(
        param(start: Float = "first exponent"),
        param(end: Float = "last exponent"),
        param(n: Int = "number of values"),
        section = "Methods: voxel-wise encoding (100 alphas, logspace(-3, 3, 100))",
        example = "let alphas = tensor::logspace(-3.0, 3.0, 100);",
    )]
    Logspace {
        /// base of the exponent
        #[opt(default = 10.0)]
        pub base: f64,
    } => |s, args, _| spaced("logspace", args, |x| s.base.powf(x));
}

steps! {
    /// The identity matrix.
    #[step(param(n: Int = "size"), returns = "n × n tensor")]
    Eye {
        /// the element type
        #[opt(flatten)]
        pub dtype: NewDtype,
    } => |s, args, _| {
        let n = int(&args[0], "n")?.max(0) as usize;
        Ok(Tensor::from_array(ndarray::Array2::<f64>::eye(n)).astype(s.dtype.get()?).into())
    };

    /// Evenly spaced values in [start, end) (numpy.arange): arange(n), arange(start, end) or
    /// arange(start, end, step).
    #[step(
        param(start: Float = "start, or the end when alone"),
        param(end?: Float = "end (exclusive)"),
        param(step?: Float = "step (default 1)"),
        returns = "1-D tensor",
    )]
    Arange {
        /// f32, f64, i64, u8 or bool
        #[opt(doc_default = "i64 for integer arguments, else f64")]
        pub dtype: Option<String>,
    } => |s, args, _| arange(args, s.dtype.as_deref());

    /// A tensor from (nested) lists of numbers.
    #[step(
        name = "from",
        param(data: List = "numbers or equal-length lists"),
        returns = "tensor",
        example = "let t = tensor::from([[1, 2], [3, 4]], #{dtype: \"f32\"});",
    )]
    FromList {
        /// f32, f64, i64, u8 or bool
        #[opt(doc_default = "i64 for all-integer data, bool for all-boolean, else f64")]
        pub dtype: Option<String>,
    } => |s, args, _| {
        let x = tensor(args, 0, "data")?;
        Ok(match s.dtype {
            Some(d) => x.astype(d.parse()?),
            None => x,
        }
        .into())
    };
}
