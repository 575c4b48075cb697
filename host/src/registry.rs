//! Every plugin (host namespaces, builtin crates, WASM components, native libraries) behind one
//! `Plugin` interface. A script cannot tell which kind it calls.
use crate::manifest::{self, Manifest};
use emoscope_sdk::{FnSpec, Plugin, PluginInfo};
use std::path::PathBuf;
use std::sync::Arc;

/// Where a plugin came from, as `emoscope plugins` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A crate under `plugins/`, compiled in.
    Builtin,
    /// A WASM component from a plugin folder.
    Wasm,
    /// A native library from a plugin folder.
    Native,
}

impl Origin {
    pub fn name(&self) -> &'static str {
        match self {
            Origin::Builtin => "builtin",
            Origin::Wasm => "wasm",
            Origin::Native => "native",
        }
    }
}

pub struct Entry {
    pub plugin: Arc<dyn Plugin>,
    pub info: PluginInfo,
    pub origin: Origin,
    /// For third-party plugins: the folder, interface version and permissions.
    pub external: Option<External>,
}

#[derive(Clone, Debug)]
pub struct External {
    pub dir: PathBuf,
    pub interface: String,
    pub permissions: Vec<String>,
}

#[derive(Default)]
pub struct Registry {
    entries: Vec<Entry>,
    /// Plugins that could not be loaded, and name clashes: shown by `emoscope plugins` and
    /// warned about at the start of a run.
    pub problems: Vec<String>,
}

impl Registry {
    /// Every builtin plugin (the crates under `plugins/`).
    pub fn with_builtins() -> Self {
        let mut r = Registry::default();
        r.add(Arc::new(emoscope_tensor::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_io::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_fmri::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_stats::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_plot::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_cache::plugin()), Origin::Builtin);
        r.add(Arc::new(emoscope_report::plugin()), Origin::Builtin);
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
        self.entries.retain(|e| e.info.name != info.name);
        self.entries.push(Entry {
            plugin,
            info,
            origin,
            external: None,
        });
    }

    /// The builtins plus every plugin installed in the plugin folders (`EMOSCOPE_PLUGIN_PATH`,
    /// else `~/.local/share/emoscope/plugins`), each a folder holding a `plugin.toml`.
    pub fn with_plugins() -> Self {
        let mut r = Self::with_builtins();
        for dir in manifest::plugin_dirs() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut subs: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                // `.NAME.installing-*` and `.NAME.old-*` are an install in progress.
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .filter(|p| p.join("plugin.toml").is_file())
                .collect();
            subs.sort();
            for d in subs {
                if let Err(e) = r.load_dir(&d) {
                    r.problems.push(e.to_string());
                }
            }
        }
        r
    }

    /// Load the plugin in `dir` (a folder with `plugin.toml`). A name already taken is not
    /// replaced: builtins come first, then plugin folders in order; the clash is reported.
    pub fn load_dir(&mut self, dir: &std::path::Path) -> emoscope_sdk::Result<()> {
        let m = Manifest::read(dir)?;
        if let Some(e) = self.get(&m.name) {
            emoscope_sdk::bail!(
                "{}: plugin '{}' is not loaded: the name is taken by the {} plugin{}",
                dir.display(),
                m.name,
                e.origin.name(),
                e.external
                    .as_ref()
                    .map(|x| format!(" in {}", x.dir.display()))
                    .unwrap_or_default()
            );
        }
        let (plugin, origin): (Arc<dyn Plugin>, Origin) = match m.kind.as_str() {
            "wasm" => (load_wasm(dir, &m)?, Origin::Wasm),
            _ => (load_native(dir, &m)?, Origin::Native),
        };
        let info = plugin.info();
        self.entries.push(Entry {
            plugin,
            info,
            origin,
            external: Some(External {
                dir: dir.to_path_buf(),
                interface: m.interface.clone(),
                permissions: m.permissions.clone(),
            }),
        });
        Ok(())
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

#[cfg(feature = "wasm")]
fn load_wasm(dir: &std::path::Path, m: &Manifest) -> emoscope_sdk::Result<Arc<dyn Plugin>> {
    Ok(Arc::new(crate::wasm::WasmPlugin::load(dir, m)?))
}

#[cfg(not(feature = "wasm"))]
fn load_wasm(dir: &std::path::Path, m: &Manifest) -> emoscope_sdk::Result<Arc<dyn Plugin>> {
    emoscope_sdk::bail!(
        "{}: '{}' is a WASM plugin, but this emoscope was built without the wasm feature",
        dir.display(),
        m.name
    )
}

#[cfg(feature = "native")]
fn load_native(dir: &std::path::Path, m: &Manifest) -> emoscope_sdk::Result<Arc<dyn Plugin>> {
    Ok(Arc::new(crate::native::NativePlugin::load(dir, m)?))
}

#[cfg(not(feature = "native"))]
fn load_native(dir: &std::path::Path, m: &Manifest) -> emoscope_sdk::Result<Arc<dyn Plugin>> {
    emoscope_sdk::bail!(
        "{}: '{}' is a native plugin, but this emoscope was built without the native feature (cargo build --features native)",
        dir.display(),
        m.name
    )
}
