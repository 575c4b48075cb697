//! Every plugin, builtin or host namespace (later WASM and native too), behind one `Plugin`
//! interface. A script cannot tell which kind it calls.
use emoscope_sdk::{FnSpec, Plugin, PluginInfo};
use std::sync::Arc;

/// Where a plugin came from, as `emoscope plugins` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A namespace the host itself provides (`tensor::`, `io::`).
    Host,
    /// A crate under `plugins/`, compiled in.
    Builtin,
}

impl Origin {
    pub fn name(&self) -> &'static str {
        match self {
            Origin::Host => "host",
            Origin::Builtin => "builtin",
        }
    }
}

pub struct Entry {
    pub plugin: Arc<dyn Plugin>,
    pub info: PluginInfo,
    pub origin: Origin,
}

#[derive(Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    /// The host namespaces plus every builtin plugin.
    pub fn with_builtins() -> Self {
        let mut r = Registry::default();
        r.add(
            Arc::new(crate::script::tensor::TensorNs::default()),
            Origin::Host,
        );
        r.add(Arc::new(crate::script::io::IoNs), Origin::Host);
        r.add(Arc::new(crate::script::fmri::FmriNs), Origin::Host);
        r.add(Arc::new(crate::script::stats::StatsNs), Origin::Host);
        r.add(Arc::new(crate::script::plot::PlotNs), Origin::Host);
        r.add(Arc::new(crate::script::cache::CacheNs), Origin::Host);
        r.add(Arc::new(crate::script::report::ReportNs), Origin::Host);
        r.add(Arc::new(emoscope_rsa::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_synth::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_triplets::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_judge::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_spose::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_encoding::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_affect::plugin()), Origin::Builtin);
        r
    }

    pub fn add(&mut self, plugin: Arc<dyn Plugin>, origin: Origin) {
        let info = plugin.info();
        // A later plugin of the same name replaces the earlier one (a user's override).
        self.entries.retain(|e| e.info.name != info.name);
        self.entries.push(Entry {
            plugin,
            info,
            origin,
        });
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.info.name == name)
    }

    /// `ns::fn` -> its spec.
    pub fn spec(&self, qualified: &str) -> Option<(&Entry, &FnSpec)> {
        let (ns, f) = qualified.split_once("::")?;
        let e = self.get(ns)?;
        Some((e, e.info.function(f)?))
    }

    pub fn namespaces(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.info.name.clone()).collect()
    }
}
