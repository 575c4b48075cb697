//! `synth::world` and `synth::write`: the whole synthetic study as one Value, and on disk.
use crate::fmri::{self, ROIS};
use crate::{compressed, latent, ratings};
use emoscope_sdk::{bail, ensure, options, vmap};
use emoscope_sdk::{Ctx, Map, Result, Tensor, Value};
use ndarray::{Array1, ArrayView2, Axis};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldOpt {
    #[serde(default = "d_stimuli")]
    stimuli: usize,
    #[serde(default = "d_latent")]
    latent_dims: usize,
    #[serde(default = "d_subjects")]
    subjects: usize,
    #[serde(default = "d_grid")]
    grid: Vec<usize>,
    #[serde(default = "d_blend")]
    blend: f64,
    #[serde(default = "d_groups")]
    groups: usize,
    #[serde(default = "d_snr")]
    snr: f64,
    seed: Option<u64>,
}
fn d_stimuli() -> usize {
    300
}
fn d_latent() -> usize {
    30
}
fn d_subjects() -> usize {
    5
}
fn d_grid() -> Vec<usize> {
    vec![20, 24, 20]
}
fn d_blend() -> f64 {
    0.3
}
fn d_groups() -> usize {
    8
}
fn d_snr() -> f64 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteOpt {
    #[serde(default = "yes")]
    nifti: bool,
}
fn yes() -> bool {
    true
}

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

pub fn world(opts: &Map, ctx: &Ctx) -> Result<Value> {
    let o: WorldOpt = options::parse(opts)?;
    ensure!(
        o.stimuli >= 10,
        "stimuli must be at least 10, got {}",
        o.stimuli
    );
    ensure!(o.latent_dims >= 1, "latent_dims must be at least 1");
    ensure!(
        o.grid.len() == 3,
        "grid must have three sizes [x, y, z], got {:?}",
        o.grid
    );
    ensure!(o.snr >= 0.0, "snr must be non-negative");
    let grid = [o.grid[0], o.grid[1], o.grid[2]];
    let seed = o.seed.unwrap_or(ctx.seed);
    let l = latent(o.stimuli, o.latent_dims, o.blend, seed);
    let r = ratings(l.x.view(), (9, 17), seed.wrapping_add(1))?;
    let llm = compressed(l.x.view(), o.groups, seed.wrapping_add(2));
    let rel = fmri::reliability(o.stimuli, seed);

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

    let bar = ctx.progress("synth::world subjects", o.subjects as u64);
    let mut subjects = Vec::new();
    for s in 0..o.subjects {
        let sub = fmri::subject(l.x.view(), grid, s, &rel, o.snr, seed, ctx)?;
        subjects.push(subject_value(&sub));
        bar.inc(1);
    }
    let signal_rois: Vec<String> = ROIS
        .iter()
        .filter(|r| r.signal > 0.0)
        .map(|r| r.name.to_string())
        .collect();
    let no_signal: Vec<String> = ROIS
        .iter()
        .filter(|r| r.signal == 0.0)
        .map(|r| r.name.to_string())
        .collect();
    Ok(vmap! {
        "stimuli" => crate::stimulus_names(o.stimuli),
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
            "signal_rois" => strings(signal_rois),
            "no_signal_rois" => strings(no_signal),
            "reliability" => Tensor::from_array(Array1::from(rel)),
            "model_r2" => Value::Map(model_r2),
            "model_ranking" => strings(ranked.into_iter().map(|(n, _)| n)),
        },
    })
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

pub fn write(world: &Value, dir: &Value, opts: &Map, ctx: &Ctx) -> Result<Value> {
    let o: WriteOpt = options::parse(opts)?;
    let Some(dir) = dir.as_str() else {
        bail!("dir must be a path")
    };
    let dir = Path::new(dir);
    let mut written = Vec::new();
    let mut record = |p: &Path| {
        ctx.output_file(p);
        written.push(Value::Str(p.display().to_string()));
    };
    let subjects = world
        .get("subjects")?
        .as_list()
        .ok_or_else(|| emoscope_sdk::Error::msg("world.subjects must be a list"))?;
    for s in subjects {
        ctx.check()?;
        let name = s.get("name")?.as_str().unwrap_or("sub").to_string();
        let data = s.get("data")?.to_tensor("data")?.matrix::<f32>("data")?;
        let coords = s
            .get("coords")?
            .to_tensor("coords")?
            .matrix::<i64>("coords")?;
        let affine = s
            .get("affine")?
            .to_tensor("affine")?
            .matrix::<f64>("affine")?
            .to_owned();
        let mask = s.get("mask")?.to_tensor("mask")?;
        let roi_index = s
            .get("roi_index")?
            .to_tensor("roi_index")?
            .vector::<i64>("roi_index")?;
        let g = mask.shape();
        let sub_dir = dir.join(&name);
        if o.nifti {
            let (n, v) = data.dim();
            let mut bold = ndarray::Array4::<f32>::zeros((g[0], g[1], g[2], n));
            let mut labels = ndarray::Array3::<i64>::zeros((g[0], g[1], g[2]));
            for c in 0..v {
                let (i, j, k) = (
                    coords[[c, 0]] as usize,
                    coords[[c, 1]] as usize,
                    coords[[c, 2]] as usize,
                );
                bold.slice_mut(ndarray::s![i, j, k, ..])
                    .assign(&data.column(c));
                labels[[i, j, k]] = roi_index[c] + 1;
            }
            let p = sub_dir.join("bold.nii.gz");
            emoscope_sdk::io::nifti::write_nifti(&Tensor::from_array(bold), &affine, &p)?;
            record(&p);
            let p = sub_dir.join("mask.nii.gz");
            emoscope_sdk::io::nifti::write_nifti(&mask, &affine, &p)?;
            record(&p);
            let p = sub_dir.join("rois.nii.gz");
            emoscope_sdk::io::nifti::write_nifti(&Tensor::from_array(labels), &affine, &p)?;
            record(&p);
            let p = sub_dir.join("rois.tsv");
            let mut tsv = String::from("index\tname\n");
            for (r, def) in ROIS.iter().enumerate() {
                tsv.push_str(&format!("{}\t{}\n", r + 1, def.name));
            }
            emoscope_sdk::io::atomic_write(&p, |w| {
                Ok(std::io::Write::write_all(w, tsv.as_bytes())?)
            })?;
            record(&p);
        }
        let mut m = Map::new();
        for key in ["data", "coords", "signal", "roi_index", "affine"] {
            m.insert(key.to_string(), s.get(key)?.clone());
        }
        if let Value::Map(rois) = s.get("rois")? {
            for (k, v) in rois {
                m.insert(format!("roi_{k}"), v.clone());
            }
        }
        let p = dir.join(format!("{name}.npz"));
        emoscope_sdk::io::npy::write_npz(&m, &p)?;
        record(&p);
    }
    let mut m = Map::new();
    m.insert("latent".into(), world.get("latent")?.get("X")?.clone());
    m.insert(
        "categories".into(),
        world.get("ratings")?.get("categories")?.clone(),
    );
    m.insert(
        "dimensions".into(),
        world.get("ratings")?.get("dimensions")?.clone(),
    );
    m.insert("vlm".into(), world.get("agents")?.get("vlm")?.clone());
    m.insert("llm".into(), world.get("agents")?.get("llm")?.clone());
    let p = dir.join("world.npz");
    emoscope_sdk::io::npy::write_npz(&m, &p)?;
    record(&p);
    Ok(Value::List(written))
}
