//! A synthetic study world with known ground truth (issue 3, in progress): the data the demo,
//! tests and benchmarks run on when no real data is at hand, generated from a planted latent
//! affect space so that every later step can show that it recovers what was planted.
//!
//! `synth::world` puts it together: the latent space (`synth::latent`), human ratings in the
//! real CSV's shapes and scales calibrated to the real file (`synth::ratings`), simulated
//! judges of controlled fidelity (`synth::agents`, `synth::choose`), fMRI subjects (`fmri`),
//! and the ground truth; `synth::write` saves it as NIfTI and npz.
mod calibration;
pub mod fmri;
mod world;

pub use calibration::*;
use emoscope_sdk::io::ratings::{CATEGORY_NAMES, DIMENSION_NAMES};
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, FnSpec, Map, Plugin, PluginInfo, Result, Tensor, Ty, Value};
use ndarray::{Array1, Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_distr::{Binomial, Distribution, StandardNormal};
use rayon::prelude::*;
use serde::Deserialize;

type ChaCha = emoscope_sdk::ctx::Rng;

pub struct Synth;

pub fn plugin() -> Synth {
    Synth
}

/// Categories ordered by their real base rate, most frequent first: latent component k is
/// named after, and mainly drives, category `CATEGORY_ORDER[k % 34]`.
fn category_order() -> Vec<usize> {
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
    pub x: Array2<f64>,
    pub dominant: Vec<usize>,
}

pub fn latent(n: usize, k: usize, blend: f64, seed: u64) -> Latent {
    let order = category_order();
    let weights: Vec<f64> = (0..k).map(|i| CATEGORY_BASE_RATES[order[i % 34]]).collect();
    let total: f64 = weights.iter().sum();
    let mut rng = ChaCha::seed_from_u64(seed);
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
    pub category_raters: Vec<usize>,
    pub dimension_raters: Vec<usize>,
}

impl Latent {
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
    let mut rng = ChaCha::seed_from_u64(seed);
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

/// The feature spaces of the simulated model judges: the vision-language model sees the full
/// latent space; the language-only model sees `groups` coarser components, each the sum of a
/// fixed random subset of the latent components (an abstract, compressed view).
pub fn compressed(x: ArrayView2<f64>, groups: usize, seed: u64) -> Array2<f64> {
    let k = x.ncols();
    let mut rng = ChaCha::seed_from_u64(seed);
    let mut p = Array2::zeros((k, groups.max(1)));
    for j in 0..k {
        let g = if j < groups {
            j
        } else {
            rng.random_range(0..groups.max(1))
        };
        p[[j, g]] = 1.0;
    }
    x.dot(&p)
}

fn cosine(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    let (na, nb) = (a.dot(&a).sqrt(), b.dot(&b).sqrt());
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        a.dot(&b) / (na * nb)
    }
}

/// An agent's odd-one-out answers: for each triplet it keeps a pair with probability
/// softmax(cosine similarity / temperature) over the three pairs. Returns the triplets in SPoSE
/// order (the kept pair first, the odd one out last). One ChaCha8 stream per triplet, so the
/// answers do not depend on the thread count; another seed gives another draw (repeat queries).
pub fn choose(
    features: ArrayView2<f64>,
    triplets: ArrayView2<i64>,
    temperature: f64,
    seed: u64,
    ctx: &Ctx,
) -> Result<Array2<i64>> {
    ensure!(
        temperature > 0.0,
        "temperature must be positive, got {temperature}"
    );
    ensure!(
        triplets.ncols() == 3,
        "triplets must be N × 3, got {} columns",
        triplets.ncols()
    );
    let n = features.nrows() as i64;
    if let Some(bad) = triplets.iter().find(|&&v| v < 0 || v >= n) {
        bail!("triplet index {bad} is out of range for {n} items");
    }
    let rows: Vec<[i64; 3]> = triplets
        .outer_iter()
        .into_par_iter()
        .enumerate()
        .map(|(t, row)| {
            if t % 65536 == 0 {
                ctx.check()?;
            }
            let (a, b, c) = (row[0], row[1], row[2]);
            let f = |i: i64| features.row(i as usize);
            let s = [cosine(f(a), f(b)), cosine(f(a), f(c)), cosine(f(b), f(c))];
            let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = s.iter().map(|v| ((v - m) / temperature).exp()).collect();
            let mut rng = ChaCha::seed_from_u64(seed);
            rng.set_stream(t as u64);
            let mut u = rng.random::<f64>() * w.iter().sum::<f64>();
            let mut pick = 2;
            for (j, wj) in w.iter().enumerate() {
                if u < *wj {
                    pick = j;
                    break;
                }
                u -= wj;
            }
            Ok(match pick {
                0 => [a, b, c],
                1 => [a, c, b],
                _ => [b, c, a],
            })
        })
        .collect::<Result<_>>()?;
    let flat: Vec<i64> = rows.into_iter().flatten().collect();
    Array2::from_shape_vec((triplets.nrows(), 3), flat)
        .map_err(|e| emoscope_sdk::Error::msg(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatentOpt {
    #[serde(default = "default_n")]
    stimuli: usize,
    #[serde(default = "default_k")]
    latent_dims: usize,
    #[serde(default = "default_blend")]
    blend: f64,
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatingsOpt {
    #[serde(default = "default_raters_min")]
    raters_min: usize,
    #[serde(default = "default_raters_max")]
    raters_max: usize,
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentsOpt {
    #[serde(default = "default_groups")]
    groups: usize,
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChooseOpt {
    #[serde(default = "default_temperature")]
    temperature: f64,
    seed: Option<u64>,
}

fn default_n() -> usize {
    300
}
fn default_k() -> usize {
    30
}
fn default_blend() -> f64 {
    0.3
}
fn default_raters_min() -> usize {
    9
}
fn default_raters_max() -> usize {
    17
}
fn default_groups() -> usize {
    8
}
fn default_temperature() -> f64 {
    0.1
}

pub(crate) fn ints(v: &[usize]) -> Tensor {
    Tensor::from_array(Array1::from(
        v.iter().map(|&x| x as i64).collect::<Vec<_>>(),
    ))
}

impl Plugin for Synth {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "synth".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A synthetic study with known ground truth: latent affect space, ratings, simulated judges, fMRI subjects".into(),
            functions: vec![
                FnSpec::new("world", "A complete synthetic study with known ground truth: latent space, ratings, model judges' feature spaces, fMRI subjects and the truth to check recovery against.")
                    .opt("stimuli", Ty::Int, "300", "number of stimuli (the study: 2180)")
                    .opt("latent_dims", Ty::Int, "30", "number of latent components")
                    .opt("subjects", Ty::Int, "5", "number of fMRI subjects")
                    .opt("grid", Ty::List, "[20, 24, 20]", "voxel grid (3 mm voxels); [40, 48, 40] gives ~40k brain voxels")
                    .opt("blend", Ty::Float, "0.3", "fraction of stimuli with a second latent component")
                    .opt("groups", Ty::Int, "8", "components of the compressed (language-model) view")
                    .opt("snr", Ty::Float, "1.0", "scales every ROI's signal amplitude")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed: the same seed gives bit-identical data")
                    .returns("#{stimuli, latent: #{X, names, dominant}, ratings (as io::ratings), agents: #{vlm, llm}, subjects: [#{name, data (stimuli × voxels f32), coords (voxels × 3), rois: #{name: u8 flags}, roi_names, roi_index, signal, grid, affine, mask}], truth: #{X, signal_rois, no_signal_rois, reliability, model_r2, model_ranking}}")
                    .section("The whole study at demo or full scale (ground truth)")
                    .example("let w = synth::world(#{stimuli: 300, subjects: 2, seed: 1});"),
                FnSpec::new("write", "Write a world to a directory: per subject sub-NN/bold.nii.gz (4-D stimulus series), mask.nii.gz, rois.nii.gz (labels) with rois.tsv, and sub-NN.npz (BData-like matrix, coordinates, ROI flags); world.npz holds latent space, ratings and model features.")
                    .param("world", Ty::Map, "what synth::world returned")
                    .param("dir", Ty::Str, "output directory")
                    .opt("nifti", Ty::Bool, "true", "write the NIfTI volumes")
                    .returns("list of the files written"),
                FnSpec::new("latent", "The planted latent affect space: sparse, non-negative stimuli × components; one dominant component per stimulus (drawn with the real categories' base rates), graded blends for some.")
                    .opt("stimuli", Ty::Int, "300", "number of stimuli (the study: 2180)")
                    .opt("latent_dims", Ty::Int, "30", "number of latent components")
                    .opt("blend", Ty::Float, "0.3", "fraction of stimuli with a second component")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed")
                    .returns("#{X (stimuli × latent_dims f64), names, dominant (i64 per stimulus)}")
                    .section("Results: categorical structure with graded blends (ground truth)")
                    .example("let L = synth::latent(#{stimuli: 300, latent_dims: 30, seed: 1});"),
                FnSpec::new("ratings", "Human ratings generated from a latent space in the real CSV's shapes and scales: 34 category fractions of 9-17 raters, 14 dimension means of 1-9 ratings, calibrated to the real file's base rates and dimension-category relations.")
                    .param("X", Ty::Tensor, "latent space (stimuli × components, non-negative)")
                    .opt("raters_min", Ty::Int, "9", "fewest raters of a video")
                    .opt("raters_max", Ty::Int, "17", "most raters of a video")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed")
                    .returns("the map io::ratings returns (stimuli, categories, dimensions, category_names, dimension_names) plus expected (noise-free fractions), category_raters, dimension_raters")
                    .section("Methods: stimuli and self-report ratings (simulated)"),
                FnSpec::new("agents", "Feature spaces of the simulated model judges: vlm sees the full latent space, llm a compressed one (components summed into a few abstract groups).")
                    .param("X", Ty::Tensor, "latent space")
                    .opt("groups", Ty::Int, "8", "components of the compressed (language-model) view")
                    .opt("seed", Ty::Int, "run seed", "seed of the grouping")
                    .returns("#{vlm, llm}: stimuli × features tensors")
                    .section("Methods: MLLM and LLM judges (simulated)"),
                FnSpec::new("choose", "An agent's odd-one-out answers: softmax over the three pairs' cosine similarities divided by the temperature; noisy, with a finite noise ceiling.")
                    .param("features", Ty::Tensor, "the agent's stimuli × features")
                    .param("triplets", Ty::Tensor, "N × 3 stimulus indices (0-based)")
                    .opt("temperature", Ty::Float, "0.1", "lower is closer to the noise-free choice")
                    .opt("seed", Ty::Int, "run seed", "ChaCha8 seed, one stream per triplet; another seed is another query")
                    .returns("N × 3 i64 triplets in SPoSE order: the kept pair, then the odd one out")
                    .section("Methods: triplet odd-one-out task (simulated judges)"),
            ],
        }
    }

    fn call(&self, f: &str, args: &[Value], opts: &Map, ctx: &Ctx) -> Result<Value> {
        match f {
            "world" => world::world(opts, ctx),
            "write" => world::write(&args[0], &args[1], opts, ctx),
            "latent" => {
                let o: LatentOpt = options::parse(opts)?;
                ensure!(
                    o.stimuli >= 1 && o.latent_dims >= 1,
                    "stimuli and latent_dims must be at least 1"
                );
                ensure!(
                    (0.0..=1.0).contains(&o.blend),
                    "blend must be in [0, 1], got {}",
                    o.blend
                );
                Ok(latent(
                    o.stimuli,
                    o.latent_dims,
                    o.blend,
                    o.seed.unwrap_or(ctx.seed),
                )
                .to_value())
            }
            "ratings" => {
                let o: RatingsOpt = options::parse(opts)?;
                let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
                Ok(ratings(
                    x.view(),
                    (o.raters_min, o.raters_max),
                    o.seed.unwrap_or(ctx.seed),
                )?
                .to_value())
            }
            "agents" => {
                let o: AgentsOpt = options::parse(opts)?;
                ensure!(o.groups >= 1, "groups must be at least 1");
                let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
                Ok(vmap! {
                    "vlm" => Tensor::from_array(x.to_owned()),
                    "llm" => Tensor::from_array(compressed(x.view(), o.groups, o.seed.unwrap_or(ctx.seed))),
                })
            }
            "choose" => {
                let o: ChooseOpt = options::parse(opts)?;
                let x = args[0].to_tensor("features")?.matrix::<f64>("features")?;
                let t = args[1].to_tensor("triplets")?.matrix::<i64>("triplets")?;
                Ok(Value::Tensor(Tensor::from_array(choose(
                    x.view(),
                    t.view(),
                    o.temperature,
                    o.seed.unwrap_or(ctx.seed),
                    ctx,
                )?)))
            }
            other => bail!("synth has no function '{other}'"),
        }
    }
}

#[cfg(test)]
mod tests;
