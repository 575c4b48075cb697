//! emoscope: the runtime behind the `emoscope` binary.
//!
//! `registry` holds every plugin behind the sdk's `Plugin` trait; `session` is one run's
//! settings, services (progress, logging, cancellation) and provenance; `script` is the Rhai
//! engine (the only code that knows Rhai); `repl` the interactive shell (the only code that
//! knows rustyline); `doc` renders the FnSpecs as markdown.
pub mod doc;
pub mod registry;
pub mod repl;
pub mod script;
pub mod session;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The quickstart pipeline (a short tour with checks), embedded for the REPL and tests.
pub const QUICKSTART: &str = include_str!("../../scripts/quickstart.rhai");

/// The whole study, embedded so that `emoscope demo` runs anywhere.
pub const PAPER: &str = include_str!("../../scripts/paper.rhai");

/// The `emoscope plugins` table: name, version, origin, function count.
pub fn plugins_table(registry: &registry::Registry) -> String {
    let mut s = format!(
        "{:<10} {:<9} {:<8} {:>9}  {}\n",
        "name", "version", "origin", "functions", "description"
    );
    for e in registry.entries() {
        s.push_str(&format!(
            "{:<10} {:<9} {:<8} {:>9}  {}\n",
            e.info.name,
            e.info.version,
            e.origin.name(),
            e.info.functions.len(),
            e.info.description
        ));
    }
    s
}
