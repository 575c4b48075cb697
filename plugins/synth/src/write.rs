//! `synth::write`: a synthetic world on disk in the formats the real data come in (NIfTI per
//! subject, BData-like npz), so the loaders can be tested on data with known ground truth.
use crate::fmri::ROIS;
use emoscope_sdk::step;
use emoscope_sdk::{bail, Ctx, Map, Options, Result, Step, Tensor, Value};
use std::path::Path;

/// Write a world to a directory: per subject sub-NN/bold.nii.gz (4-D stimulus series), mask.nii.gz, rois.nii.gz (labels) with rois.tsv, and sub-NN.npz (BData-like matrix, coordinates, ROI flags); world.npz holds latent space, ratings and model features.
#[derive(Options, Step)]
#[step(
    param(world: Map = "what synth::world returned"),
    param(dir: Str = "output directory"),
    returns = "list of the files written"
)]
pub struct Write {
    /// write the NIfTI volumes
    #[opt(default = true)]
    pub nifti: bool,
}

impl step::Step for Write {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let (world, dir) = (&args[0], &args[1]);
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
            if self.nifti {
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
}
