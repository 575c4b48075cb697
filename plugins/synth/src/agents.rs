//! The simulated judges ("Methods: MLLM and LLM judges", "Methods: triplet odd-one-out task",
//! simulated): the feature spaces the model judges see, and their noisy odd-one-out answers.
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, vmap, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::{Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

/// The feature spaces of the simulated model judges: the vision-language model sees the full
/// latent space; the language-only model sees `groups` coarser components, each the sum of a
/// fixed random subset of the latent components (an abstract, compressed view).
pub fn compressed(x: ArrayView2<f64>, groups: usize, seed: u64) -> Array2<f64> {
    let k = x.ncols();
    let mut rng = Rng::seed_from_u64(seed);
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
            let mut rng = Rng::seed_from_u64(seed);
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

/// How coarse the language model's view is: `synth::world` and `synth::agents` both build it.
#[derive(Options)]
pub struct LlmView {
    /// components of the compressed (language-model) view
    #[opt(default = 8)]
    pub groups: usize,
}

/// Feature spaces of the simulated model judges: vlm sees the full latent space, llm a compressed one (components summed into a few abstract groups).
#[derive(Options, Step)]
#[step(
    param(X: Tensor = "latent space"),
    returns = "#{vlm, llm}: stimuli × features tensors",
    section = "Methods: MLLM and LLM judges (simulated)"
)]
pub struct Agents {
    /// groups
    #[opt(flatten)]
    pub view: LlmView,
    /// seed of the grouping
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for Agents {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let groups = self.view.groups;
        ensure!(groups >= 1, "groups must be at least 1");
        let x = args[0].to_tensor("X")?.matrix::<f64>("X")?;
        let llm = compressed(x.view(), groups, self.seed.unwrap_or(ctx.seed));
        Ok(vmap! {
            "vlm" => Tensor::from_array(x.to_owned()),
            "llm" => Tensor::from_array(llm),
        })
    }
}

/// An agent's odd-one-out answers: softmax over the three pairs' cosine similarities divided by the temperature; noisy, with a finite noise ceiling.
#[derive(Options, Step)]
#[step(
    param(features: Tensor = "the agent's stimuli × features"),
    param(triplets: Tensor = "N × 3 stimulus indices (0-based)"),
    returns = "N × 3 i64 triplets in SPoSE order: the kept pair, then the odd one out",
    section = "Methods: triplet odd-one-out task (simulated judges)"
)]
pub struct Choose {
    /// lower is closer to the noise-free choice
    #[opt(default = 0.1)]
    pub temperature: f64,
    /// ChaCha8 seed, one stream per triplet; another seed is another query
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for Choose {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let x = args[0].to_tensor("features")?.matrix::<f64>("features")?;
        let t = args[1].to_tensor("triplets")?.matrix::<i64>("triplets")?;
        let seed = self.seed.unwrap_or(ctx.seed);
        let answers = choose(x.view(), t.view(), self.temperature, seed, ctx)?;
        Ok(Value::Tensor(Tensor::from_array(answers)))
    }
}
