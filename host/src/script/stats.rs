//! The `stats::` namespace.
use emoscope_sdk::bail;
use emoscope_sdk::{Ctx, Map, Plugin, PluginInfo, Result, Value};

pub struct StatsNs;

impl Plugin for StatsNs {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: "stats".into(),
            version: crate::VERSION.into(),
            description: "stats".into(),
            functions: vec![],
        }
    }

    fn call(&self, f: &str, _args: &[Value], _opts: &Map, _ctx: &Ctx) -> Result<Value> {
        bail!("stats has no function '{f}'")
    }
}
