//! The planted latent affect space ("Results: categorical structure with graded blends"): sparse,
//! non-negative stimuli × components, named after the real emotion categories, that every later
//! step of a synthetic study is generated from and checked against.
use crate::CATEGORY_BASE_RATES;
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::io::ratings::CATEGORY_NAMES;
use emoscope_sdk::step;
use emoscope_sdk::{ensure, vmap, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::{Array1, Array2};
use rand::{RngExt, SeedableRng};

/// Categories ordered by their real base rate, most frequent first: latent component k is
/// named after, and mainly drives, category `category_order()[k % 34]`.
pub(crate) fn category_order() -> Vec<usize> {
    let mut o: Vec<usize> = (0..34).collect();
    o.sort_by(|&a, &b| CATEGORY_BASE_RATES[b].total_cmp(&CATEGORY_BASE_RATES[a]));
    o
}

/// The names of `k` latent components.
pub fn latent_names(k: usize) -> Vec<String> {
    let order = category_order();
    (0..k)
        .map(|i| {
            let base = CATEGORY_NAMES[order[i % 34]]
                .to_lowercase()
                .replace(' ', "_");
            if i < 34 {
                base
            } else {
                format!("{base}_{}", i / 34 + 1)
            }
        })
        .collect()
}

/// The planted latent space: stimuli × k, sparse and non-negative. Each stimulus has one
/// dominant component (drawn with the real categories' base rates); a fraction `blend` also
/// carry a second one, and a few weak traces make the blends graded.
pub struct Latent {
    /// Stimuli × components loadings.
    pub x: Array2<f64>,
    /// Each stimulus's dominant component.
    pub dominant: Vec<usize>,
}

/// Plant `n` stimuli in `k` components with a fraction `blend` of two-component blends, from one
/// ChaCha8 stream seeded with `seed`.
pub fn latent(n: usize, k: usize, blend: f64, seed: u64) -> Latent {
    let order = category_order();
    let weights: Vec<f64> = (0..k).map(|i| CATEGORY_BASE_RATES[order[i % 34]]).collect();
    let total: f64 = weights.iter().sum();
    let mut rng = Rng::seed_from_u64(seed);
    let mut x = Array2::zeros((n, k));
    let mut dominant = Vec::with_capacity(n);
    for i in 0..n {
        let mut u = rng.random::<f64>() * total;
        let mut d = k - 1;
        for (j, w) in weights.iter().enumerate() {
            if u < *w {
                d = j;
                break;
            }
            u -= w;
        }
        let w = 0.6 + 0.4 * rng.random::<f64>();
        x[[i, d]] = w;
        if k > 1 && rng.random::<f64>() < blend {
            let mut e = rng.random_range(0..k - 1);
            if e >= d {
                e += 1;
            }
            x[[i, e]] = w * (0.2 + 0.5 * rng.random::<f64>());
        }
        for j in 0..k {
            if x[[i, j]] == 0.0 && rng.random::<f64>() < 0.03 {
                x[[i, j]] = 0.15 * rng.random::<f64>();
            }
        }
        dominant.push(d);
    }
    Latent { x, dominant }
}

impl Latent {
    /// The map `synth::latent` returns: the loadings `X`, the component names and `dominant`.
    pub fn to_value(&self) -> Value {
        vmap! {
            "X" => Tensor::from_array(self.x.clone()),
            "names" => latent_names(self.x.ncols()).into_iter().map(Value::Str).collect::<Vec<_>>(),
            "dominant" => ints(&self.dominant),
        }
    }
}

/// Synthetic stimulus names, `synth_0001.mp4` on.
pub fn stimulus_names(n: usize) -> Value {
    Value::List(
        (1..=n)
            .map(|i| Value::Str(format!("synth_{i:04}.mp4")))
            .collect(),
    )
}

/// Counts and indices as an i64 tensor, the integer type scripts use.
pub(crate) fn ints(v: &[usize]) -> Tensor {
    Tensor::from_array(Array1::from(
        v.iter().map(|&x| x as i64).collect::<Vec<_>>(),
    ))
}

/// The size of the planted space: `synth::world` and `synth::latent` both take it, with the same
/// defaults, so a world and a bare latent space of one script line up.
#[derive(Options)]
pub struct Space {
    /// number of stimuli (the study: 2180)
    #[opt(default = 300)]
    pub stimuli: usize,
    /// number of latent components
    #[opt(default = 30)]
    pub latent_dims: usize,
}

/// The planted latent affect space: sparse, non-negative stimuli × components; one dominant component per stimulus (drawn with the real categories' base rates), graded blends for some.
#[derive(Options, Step)]
#[step(
    name = "latent",
    returns = "#{X (stimuli × latent_dims f64), names, dominant (i64 per stimulus)}",
    section = "Results: categorical structure with graded blends (ground truth)",
    example = "let L = synth::latent(#{stimuli: 300, latent_dims: 30, seed: 1});"
)]
pub struct PlantLatent {
    /// stimuli and latent_dims
    #[opt(flatten)]
    pub space: Space,
    /// fraction of stimuli with a second component
    #[opt(default = 0.3)]
    pub blend: f64,
    /// ChaCha8 seed
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for PlantLatent {
    fn run(self, _args: &[Value], ctx: &Ctx) -> Result<Value> {
        let Space {
            stimuli,
            latent_dims,
        } = self.space;
        ensure!(
            stimuli >= 1 && latent_dims >= 1,
            "stimuli and latent_dims must be at least 1"
        );
        ensure!(
            (0.0..=1.0).contains(&self.blend),
            "blend must be in [0, 1], got {}",
            self.blend
        );
        let seed = self.seed.unwrap_or(ctx.seed);
        Ok(latent(stimuli, latent_dims, self.blend, seed).to_value())
    }
}
