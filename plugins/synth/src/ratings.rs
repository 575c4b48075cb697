//! Human self-report ratings generated from a latent space ("Methods: stimuli and self-report
//! ratings", simulated), in the real CSV's shapes and scales and calibrated to the real file.
use crate::latent::{category_order, ints, stimulus_names};
use crate::{CATEGORY_BASE_RATES, DIMENSION_FROM_CATEGORIES, DIMENSION_RESIDUAL_SD};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::io::ratings::{CATEGORY_NAMES, DIMENSION_NAMES};
use emoscope_sdk::step;
use emoscope_sdk::{ensure, vmap, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::{Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_distr::{Binomial, Distribution, StandardNormal};

/// Component -> category loadings (k × 34): the named category fully, plus one related
/// category at 0.3.
fn loadings(k: usize) -> Array2<f64> {
    let order = category_order();
    let mut a = Array2::zeros((k, 34));
    for i in 0..k {
        a[[i, order[i % 34]]] = 1.0;
        a[[i, order[(i * 7 + 3) % 34]]] += 0.3;
    }
    a
}

/// Ratings generated from a latent space, in the real file's shapes and scales.
pub struct Ratings {
    /// Fraction of each stimulus's raters who chose each category (n × 34).
    pub categories: Array2<f64>,
    /// Mean 1-9 rating of each dimension (n × 14).
    pub dimensions: Array2<f64>,
    /// The expected (noise-free) category fractions.
    pub expected: Array2<f64>,
    /// Raters of each stimulus's categories.
    pub category_raters: Vec<usize>,
    /// Raters of each stimulus's dimensions, drawn separately from the category raters.
    pub dimension_raters: Vec<usize>,
}

impl Ratings {
    /// The map `io::ratings` returns, plus the noise-free fractions and rater counts.
    pub fn to_value(&self) -> Value {
        let names = |v: &[&str]| {
            v.iter()
                .map(|s| Value::Str(s.to_string()))
                .collect::<Vec<_>>()
        };
        vmap! {
            "stimuli" => stimulus_names(self.categories.nrows()),
            "categories" => Tensor::from_array(self.categories.clone()),
            "dimensions" => Tensor::from_array(self.dimensions.clone()),
            "expected" => Tensor::from_array(self.expected.clone()),
            "category_names" => names(&CATEGORY_NAMES),
            "dimension_names" => names(&DIMENSION_NAMES),
            "category_raters" => ints(&self.category_raters),
            "dimension_raters" => ints(&self.dimension_raters),
        }
    }
}

/// Ratings of the stimuli of latent space `x` by `raters.0..=raters.1` raters each (a uniform
/// draw per stimulus), from one ChaCha8 stream seeded with `seed`.
pub fn ratings(x: ArrayView2<f64>, raters: (usize, usize), seed: u64) -> Result<Ratings> {
    let (n, k) = x.dim();
    ensure!(
        raters.0 >= 1 && raters.0 <= raters.1,
        "raters: need 1 <= min <= max, got {}..{}",
        raters.0,
        raters.1
    );
    ensure!(
        x.iter().all(|v| *v >= 0.0 && v.is_finite()),
        "the latent matrix must be finite and non-negative"
    );
    let drive = x.dot(&loadings(k));
    // A quarter of each category's base rate is a floor every stimulus has; the rest follows the
    // latent drive, scaled so that the category's mean matches the real base rate.
    let mut expected = Array2::zeros((n, 34));
    for c in 0..34 {
        let base = CATEGORY_BASE_RATES[c];
        let m = drive.column(c).mean().unwrap_or(0.0);
        let s = if m > 0.0 { 0.75 * base / m } else { 0.0 };
        let floor = if m > 0.0 { 0.25 * base } else { base };
        for i in 0..n {
            expected[[i, c]] = (floor + s * drive[[i, c]]).clamp(0.0, 0.95);
        }
    }
    let mut categories = Array2::zeros((n, 34));
    let mut dimensions = Array2::zeros((n, 14));
    let mut category_raters = Vec::with_capacity(n);
    let mut dimension_raters = Vec::with_capacity(n);
    let mut rng = Rng::seed_from_u64(seed);
    for i in 0..n {
        let r = rng.random_range(raters.0..=raters.1);
        category_raters.push(r);
        for c in 0..34 {
            let chose = Binomial::new(r as u64, expected[[i, c]])
                .map_err(|e| emoscope_sdk::Error::msg(e.to_string()))?
                .sample(&mut rng);
            categories[[i, c]] = chose as f64 / r as f64;
        }
        let rd = rng.random_range(raters.0..=raters.1);
        dimension_raters.push(rd);
        for d in 0..14 {
            let mut mu = DIMENSION_FROM_CATEGORIES[0][d];
            for c in 0..34 {
                // The map was fitted on observed fractions, so it is applied to observed ones.
                mu += categories[[i, c]] * DIMENSION_FROM_CATEGORIES[1 + c][d];
            }
            // Half the real residual variance is stimulus-specific, half rater noise.
            let resid = DIMENSION_RESIDUAL_SD[d];
            let item: f64 = rng.sample::<f64, _>(StandardNormal) * resid * 0.5f64.sqrt();
            let rater_sd = resid * (0.5 * rd as f64).sqrt();
            let mut sum = 0.0;
            for _ in 0..rd {
                let z: f64 = rng.sample(StandardNormal);
                sum += (mu + item + rater_sd * z).round().clamp(1.0, 9.0);
            }
            dimensions[[i, d]] = sum / rd as f64;
        }
    }
    Ok(Ratings {
        categories,
        dimensions,
        expected,
        category_raters,
        dimension_raters,
    })
}

/// Human ratings generated from a latent space in the real CSV's shapes and scales: 34 category fractions of 9-17 raters, 14 dimension means of 1-9 ratings, calibrated to the real file's base rates and dimension-category relations.
#[derive(Options, Step)]
#[step(
    name = "ratings",
    param(X: Tensor = "latent space (stimuli × components, non-negative)"),
    returns = "the map io::ratings returns (stimuli, categories, dimensions, category_names, dimension_names) plus expected (noise-free fractions), category_raters, dimension_raters",
    section = "Methods: stimuli and self-report ratings (simulated)"
)]
pub struct SimulateRatings {
    /// fewest raters of a video
    #[opt(default = 9)]
    pub raters_min: usize,
    /// most raters of a video
    #[opt(default = 17)]
    pub raters_max: usize,
    /// ChaCha8 seed
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for SimulateRatings {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
        let raters = (self.raters_min, self.raters_max);
        Ok(ratings(x.view(), raters, self.seed.unwrap_or(ctx.seed))?.to_value())
    }
}
