//! RSA within regions of interest: one neural RSM per ROI, each compared with a model RSM.
use crate::compare::{compare, Method};
use crate::rsm::{rsm_matrix, Metric};
use crate::stimuli::{model_over, stimulus_indices};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, vmap, Ctx, Map, Options, Result, Step, Tensor, Value};
use ndarray::Axis;

/// RSA within each ROI: the neural RSM of the ROI's voxel patterns over the stimuli, compared
/// with a model RSM.
#[derive(Options, Step)]
#[step(
    name = "roi",
    param(Y: Tensor = "stimuli × voxels responses"),
    param(rois: Map = "ROI name → voxel flags (one u8/bool per voxel, non-zero = in the ROI), e.g. a synth subject's rois"),
    param(model_rsm: Tensor = "model RSM over the selected stimuli, or over all rows of Y (then the selected rows and columns are used)"),
    returns = "map ROI name → #{r, n_voxels}; an ROI with no voxels is an error naming it",
    section = "Results: ROI analysis (RSA within the study's ROIs)",
    example = "let s = w.subjects[0];\nlet res = rsa::roi(s.data, s.rois, rsa::rsm(w.truth.X), #{method: \"spearman\"});\nprint(res.STS.r);"
)]
pub struct Roi {
    /// i64 row indices of Y to analyse (e.g. rsa::select_reliable)
    #[opt(doc_default = "all rows")]
    pub stimuli: Option<Tensor>,
    /// neural RSM: pearson, cosine, spearman or euclidean (as rsa::rsm)
    #[opt(default = Metric::Pearson)]
    pub metric: Metric,
    /// comparison: spearman, pearson or kendall (as rsa::compare)
    #[opt(default = Method::Spearman)]
    pub method: Method,
}

impl step::Step for Roi {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        // The host checks the type before a script's call; a Rust caller of `Plugin::call` may not.
        let Some(rois) = args[1].as_map() else {
            bail!(
                "rois must be a map of ROI name → voxel flags, got {}",
                args[1].type_name()
            );
        };
        roi(
            &args[0].to_tensor("Y")?,
            rois,
            &args[2].to_tensor("model_rsm")?,
            self.stimuli.as_ref(),
            self.metric,
            self.method,
            ctx,
        )
    }
}

/// RSA within each ROI: map name → #{r, n_voxels}.
pub fn roi(
    y: &Tensor,
    rois: &Map,
    model: &Tensor,
    stimuli: Option<&Tensor>,
    metric: Metric,
    method: Method,
    ctx: &Ctx,
) -> Result<Value> {
    let y = y.matrix::<f64>("Y")?;
    let stim = stimulus_indices(stimuli, y.nrows())?;
    ensure!(
        stim.len() >= 3,
        "ROI RSA needs at least 3 stimuli, got {}",
        stim.len()
    );
    let model = Tensor::from_array(model_over(model, "model RSM", y.nrows(), &stim)?);
    ensure!(
        !rois.is_empty(),
        "rois is empty: give a map of ROI name → voxel flags"
    );
    let ys = y.select(Axis(0), &stim);
    let mut out = Map::new();
    for (name, flags) in rois {
        ctx.check()?;
        let f = flags.to_tensor(&format!("rois.{name}"))?;
        ensure!(
            f.ndim() == 1 && f.len() == y.ncols(),
            "rois.{name} must be one flag per voxel ({} voxels, the columns of Y), got shape {:?}",
            y.ncols(),
            f.shape()
        );
        let vox: Vec<usize> = f
            .to_f64()?
            .iter()
            .enumerate()
            .filter(|(_, &x)| x != 0.0)
            .map(|(i, _)| i)
            .collect();
        ensure!(
            !vox.is_empty(),
            "ROI '{name}' has no voxels (every flag is 0): remove it or fix its flags"
        );
        let x = ys.select(Axis(1), &vox);
        let neural = Tensor::from_array(rsm_matrix(x.view(), metric));
        let (r, _, _) = compare(&neural, &model, method, 0, 0, ctx)?;
        out.insert(name.clone(), vmap! {"r" => r, "n_voxels" => vox.len()});
    }
    Ok(Value::Map(out))
}
