//! `synth::world`: the whole synthetic study as one Value (latent space, ratings, model judges'
//! feature spaces, fMRI subjects) with the ground truth to check recovery against.
use crate::agents::{compressed, LlmView};
use crate::fmri::{self, ROIS};
use crate::latent::{latent, stimulus_names, Space};
use crate::ratings::ratings;
use emoscope_sdk::step;
use emoscope_sdk::{ensure, vmap, Ctx, Map, Options, Result, Step, Tensor, Value};
use ndarray::{Array1, ArrayView2, Axis};

/// Share of the variance of `x` that a linear map of `f` (with intercept) explains: how well
/// a model's feature space can carry the planted signal. Modified Gram-Schmidt: the feature
/// spaces have at most a few dozen columns, so a hand-written orthogonalisation is exact
/// enough and keeps this crate free of a solver dependency.
pub fn explained_variance(x: ArrayView2<f64>, f: ArrayView2<f64>) -> f64 {
    let centre = |a: ArrayView2<f64>| {
        let m = a.mean_axis(Axis(0)).unwrap();
        &a - &m
    };
    let (xc, fc) = (centre(x), centre(f));
    let mut q: Vec<Array1<f64>> = Vec::new();
    for col in fc.axis_iter(Axis(1)) {
        let mut v = col.to_owned();
        for b in &q {
            let p = b.dot(&v);
            v.scaled_add(-p, b);
        }
        let n = v.dot(&v).sqrt();
        if n > 1e-9 * (1.0 + col.dot(&col).sqrt()) {
            q.push(v / n);
        }
    }
    let total: f64 = xc.iter().map(|a| a * a).sum();
    if total == 0.0 {
        return 0.0;
    }
    let mut explained = 0.0;
    for col in xc.axis_iter(Axis(1)) {
        for b in &q {
            let p = b.dot(&col);
            explained += p * p;
        }
    }
    explained / total
}

fn strings(v: impl IntoIterator<Item = String>) -> Value {
    Value::List(v.into_iter().map(Value::Str).collect())
}
/// A complete synthetic study with known ground truth: latent space, ratings, model judges' feature spaces, fMRI subjects and the truth to check recovery against.
#[derive(Options, Step)]
#[step(
    returns = "#{stimuli, latent: #{X, names, dominant}, ratings (as io::ratings), agents: #{vlm, llm}, subjects: [#{name, data (stimuli × voxels f32), coords (voxels × 3), rois: #{name: u8 flags}, roi_names, roi_index, signal, grid, affine, mask}], truth: #{X, signal_rois, no_signal_rois, reliability, model_r2, model_ranking}}",
    section = "The whole study at demo or full scale (ground truth)",
    example = "let w = synth::world(#{stimuli: 300, subjects: 2, seed: 1});"
)]
pub struct World {
    /// stimuli and latent_dims
    #[opt(flatten)]
    pub space: Space,
    /// number of fMRI subjects
    #[opt(default = 5)]
    pub subjects: usize,
    /// voxel grid (3 mm voxels); [40, 48, 40] gives ~40k brain voxels
    #[opt(default = vec![20, 24, 20])]
    pub grid: Vec<usize>,
    /// fraction of stimuli with a second latent component
    #[opt(default = 0.3)]
    pub blend: f64,
    /// groups
    #[opt(flatten)]
    pub view: LlmView,
    /// scales every ROI's signal amplitude
    #[opt(default = 1.0)]
    pub snr: f64,
    /// ChaCha8 seed: the same seed gives bit-identical data
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for World {
    fn run(self, _args: &[Value], ctx: &Ctx) -> Result<Value> {
        let Space {
            stimuli,
            latent_dims,
        } = self.space;
        ensure!(stimuli >= 10, "stimuli must be at least 10, got {stimuli}");
        ensure!(latent_dims >= 1, "latent_dims must be at least 1");
        ensure!(
            self.grid.len() == 3,
            "grid must have three sizes [x, y, z], got {:?}",
            self.grid
        );
        ensure!(self.snr >= 0.0, "snr must be non-negative");
        let grid = [self.grid[0], self.grid[1], self.grid[2]];
        let seed = self.seed.unwrap_or(ctx.seed);
        let l = latent(stimuli, latent_dims, self.blend, seed);
        let r = ratings(l.x.view(), (9, 17), seed.wrapping_add(1))?;
        let llm = compressed(l.x.view(), self.view.groups, seed.wrapping_add(2));
        let rel = fmri::reliability(stimuli, seed);

        let mut model_r2 = Map::new();
        let models: [(&str, ArrayView2<f64>); 4] = [
            ("MLLM", l.x.view()),
            ("LLM", llm.view()),
            ("Human-category", r.categories.view()),
            ("Human-dimension", r.dimensions.view()),
        ];
        let mut ranked: Vec<(String, f64)> = models
            .iter()
            .map(|(n, f)| (n.to_string(), explained_variance(l.x.view(), *f)))
            .collect();
        for (n, v) in &ranked {
            model_r2.insert(n.clone(), Value::Float(*v));
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));

        let bar = ctx.progress("synth::world subjects", self.subjects as u64);
        let mut subjects = Vec::new();
        for s in 0..self.subjects {
            let sub = fmri::subject(l.x.view(), grid, s, &rel, self.snr, seed, ctx)?;
            subjects.push(subject_value(&sub));
            bar.inc(1);
        }
        let rois_with_signal = |signal: bool| {
            let rois = ROIS.iter().filter(|r| (r.signal > 0.0) == signal);
            strings(rois.map(|r| r.name.to_string()))
        };
        Ok(vmap! {
            "stimuli" => stimulus_names(stimuli),
            "seed" => seed as i64,
            "latent" => l.to_value(),
            "ratings" => r.to_value(),
            "agents" => vmap! {
                "vlm" => Tensor::from_array(l.x.clone()),
                "llm" => Tensor::from_array(llm),
            },
            "subjects" => subjects,
            "truth" => vmap! {
                "X" => Tensor::from_array(l.x),
                "signal_rois" => rois_with_signal(true),
                "no_signal_rois" => rois_with_signal(false),
                "reliability" => Tensor::from_array(Array1::from(rel)),
                "model_r2" => Value::Map(model_r2),
                "model_ranking" => strings(ranked.into_iter().map(|(n, _)| n)),
            },
        })
    }
}

fn subject_value(s: &fmri::Subject) -> Value {
    let v = s.roi.len();
    let mut rois = Map::new();
    for (r, def) in ROIS.iter().enumerate() {
        let flags: Vec<u8> = s.roi.iter().map(|&x| u8::from(x == r as i64)).collect();
        rois.insert(
            def.name.to_string(),
            Value::Tensor(Tensor::from_array(Array1::from(flags))),
        );
    }
    let mut mask = ndarray::Array3::<u8>::zeros((s.grid[0], s.grid[1], s.grid[2]));
    for c in 0..v {
        mask[[
            s.coords[[c, 0]] as usize,
            s.coords[[c, 1]] as usize,
            s.coords[[c, 2]] as usize,
        ]] = 1;
    }
    vmap! {
        "name" => s.name.clone(),
        "data" => Tensor::from_array(s.data.clone()),
        "coords" => Tensor::from_array(s.coords.clone()),
        "rois" => rois,
        "roi_names" => strings(ROIS.iter().map(|r| r.name.to_string())),
        "roi_index" => Tensor::from_array(Array1::from(s.roi.clone())),
        "signal" => Tensor::from_array(Array1::from(s.signal.clone())),
        "grid" => Value::List(s.grid.iter().map(|&g| Value::from(g)).collect()),
        "affine" => Tensor::from_array(s.affine.clone()),
        "mask" => Tensor::from_array(mask),
    }
}
