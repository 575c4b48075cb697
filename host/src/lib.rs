//! emoscope: the runtime behind the `emoscope` binary.
//!
//! `registry` holds every plugin behind the sdk's `Plugin` trait; `session` is one run's
//! settings, services (progress, logging, cancellation) and provenance; `script` is the Rhai
//! engine (the only code that knows Rhai); `repl` the interactive shell (the only code that
//! knows rustyline); `doc` renders the FnSpecs as markdown.
pub mod doc;
pub mod grants;
pub mod manifest;
#[cfg(feature = "native")]
pub mod native;
pub mod plugin_cmd;
pub mod registry;
pub mod repl;
pub mod script;
pub mod session;
#[cfg(feature = "wasm")]
pub mod wasm;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The quickstart pipeline (a short tour with checks), embedded for the REPL and tests.
pub const QUICKSTART: &str = include_str!("../../scripts/quickstart.rhai");

/// The whole study, embedded so that `emoscope demo` runs anywhere.
pub const PAPER: &str = include_str!("../../scripts/paper.rhai");

/// The `emoscope plugins` table: every plugin with its kind, version, interface version,
/// permissions and where it came from, then what could not be loaded.
pub fn plugins_table(registry: &registry::Registry) -> String {
    // A broken grants file is reported when a plugin that asks is loaded; here it grants nothing.
    let grants = grants::read_all().unwrap_or_default();
    let rows: Vec<[String; 7]> = registry
        .entries()
        .iter()
        .map(|e| {
            let (interface, permissions, from) = match &e.external {
                Some(x) => (
                    x.interface.clone(),
                    if x.permissions.is_empty() {
                        "none".to_string()
                    } else {
                        // What the manifest asks for, and whether the user granted it.
                        let granted = grants
                            .get(&e.info.name)
                            .is_some_and(|g| g.inference.is_some());
                        x.permissions
                            .iter()
                            .map(|p| {
                                if p == "inference" && granted {
                                    format!("{p}(granted)")
                                } else {
                                    format!("{p}(not granted)")
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(",")
                    },
                    x.dir.display().to_string(),
                ),
                None => ("-".into(), "-".into(), e.origin.name().to_string()),
            };
            [
                e.info.name.clone(),
                e.origin.name().to_string(),
                e.info.version.clone(),
                interface,
                permissions,
                e.info.functions.len().to_string(),
                from,
            ]
        })
        .collect();
    let head = [
        "name",
        "kind",
        "version",
        "interface",
        "permissions",
        "functions",
        "from",
    ];
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (k, c) in r.iter().enumerate() {
            w[k] = w[k].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (k, c) in cells.iter().enumerate() {
            if k + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[k]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut s = line(&head.map(String::from));
    for r in &rows {
        s.push_str(&line(r));
    }
    for p in &registry.problems {
        s.push_str(&format!("not loaded: {p}\n"));
    }
    s
}
