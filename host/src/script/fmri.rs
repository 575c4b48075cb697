//! The `fmri::` namespace.
use emoscope_sdk::bail;
use emoscope_sdk::{Ctx, Map, Plugin, PluginInfo, Result, Value};

pub struct FmriNs;

impl Plugin for FmriNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "fmri".into(),
            version: crate::VERSION.into(),
            description: "fmri".into(),
            functions: vec![],
        }
    }

    fn call(&self, f: &str, _args: &[Value], _opts: &Map, _ctx: &Ctx) -> Result<Value> {
        bail!("fmri has no function '{f}'")
    }
}
