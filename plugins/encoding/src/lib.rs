//! Voxel-wise encoding (the study's "Encoding analysis"): ridge regression from an embedding to
//! every voxel, 5-fold outer CV, a 6-fold inner CV choosing each voxel's alpha, scored by Pearson r.
use emoscope_sdk::{bail, Ctx, Map, Plugin, PluginInfo, Result, Value};

pub struct Encoding;

pub fn plugin() -> Encoding {
    Encoding
}

impl Plugin for Encoding {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "encoding".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Voxel-wise encoding: ridge with nested CV and per-voxel alpha".into(),
            functions: vec![],
        }
    }

    fn call(&self, function: &str, _args: &[Value], _opts: &Map, _ctx: &Ctx) -> Result<Value> {
        bail!("encoding has no function '{function}'")
    }
}
