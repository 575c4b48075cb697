//! `plugin.toml`: what sits beside every third-party plugin (WASM component or native library),
//! and where installed plugins live.
use emoscope_sdk::{bail, ensure, Error, Result, Ty};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The interface version of the WIT world (`sdk/wit/emoscope.wit`'s package version).
pub const WASM_INTERFACE: &str = "0.1.0";
/// The C ABI version of `sdk/include/emoscope_plugin.h`.
pub const NATIVE_ABI: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// "wasm" or "native".
    pub kind: String,
    /// WASM: the WIT package version it was built against; native: the ABI version.
    pub interface: String,
    /// The component or library, relative to the manifest's folder.
    pub file: String,
    /// What the plugin asks for beyond computing: "inference" (the host's model endpoints).
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
}

/// Per-call limits of a WASM plugin (the user may edit them).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// WebAssembly instructions a call may execute (roughly).
    #[serde(default = "d_fuel")]
    pub fuel: u64,
    /// Linear memory a call may use, in MiB.
    #[serde(default = "d_memory")]
    pub memory_mb: u64,
    /// Wall-clock seconds a call may run.
    #[serde(default = "d_timeout")]
    pub timeout_s: f64,
}

fn d_fuel() -> u64 {
    1_000_000_000_000
}
fn d_memory() -> u64 {
    2048
}
fn d_timeout() -> f64 {
    3600.0
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: d_fuel(),
            memory_mb: d_memory(),
            timeout_s: d_timeout(),
        }
    }
}

pub const PERMISSIONS: &[&str] = &["inference"];
const MAX_MEMORY_MB: u64 = 4096;
const MAX_TIMEOUT_S: f64 = 1e7;

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join("plugin.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::msg(format!("{}: {e}", path.display())))?;
        let m: Manifest = toml::from_str(&text).map_err(|e| {
            Error::msg(format!(
                "{}: not a valid plugin manifest: {}",
                path.display(),
                e.to_string().trim()
            ))
        })?;
        ensure!(
            m.kind == "wasm" || m.kind == "native",
            "{}: kind must be \"wasm\" or \"native\", got \"{}\"",
            path.display(),
            m.kind
        );
        ensure!(
            is_name(&m.name),
            "{}: name '{}' must be a script identifier (letters, digits and _, not starting with a digit)",
            path.display(),
            m.name
        );
        if let Some(p) = m
            .permissions
            .iter()
            .find(|p| !PERMISSIONS.contains(&p.as_str()))
        {
            bail!(
                "{}: unknown permission '{p}' (known: {})",
                path.display(),
                PERMISSIONS.join(", ")
            );
        }
        let l = &m.limits;
        ensure!(
            (1..=MAX_MEMORY_MB).contains(&l.memory_mb)
                && l.timeout_s.is_finite()
                && l.timeout_s > 0.0
                && l.timeout_s <= MAX_TIMEOUT_S
                && l.fuel > 0,
            "{}: limits must be fuel > 0, memory_mb in 1..={MAX_MEMORY_MB} (a wasm32 memory is at most 4 GiB), timeout_s in (0, {MAX_TIMEOUT_S}]; got fuel {}, memory_mb {}, timeout_s {}",
            path.display(),
            l.fuel,
            l.memory_mb,
            l.timeout_s
        );
        // The component must sit in the plugin's own folder.
        ensure!(
            !m.file.is_empty()
                && Path::new(&m.file).file_name().and_then(|f| f.to_str()) == Some(m.file.as_str()),
            "{}: file '{}' must be a file name in the plugin's folder, not a path",
            path.display(),
            m.file
        );
        Ok(m)
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let mut text = toml::to_string_pretty(self).map_err(|e| Error::msg(e.to_string()))?;
        // A native library runs unsandboxed: limits would promise what the host cannot enforce.
        if self.kind == "native" {
            if let Some(at) = text.find("\n[limits]") {
                text.truncate(at + 1);
            }
        }
        emoscope_sdk::io::atomic_write(&dir.join("plugin.toml"), |w| {
            std::io::Write::write_all(w, text.as_bytes())?;
            Ok(())
        })
    }
}

/// A type name in a plugin's description (WASM `describe()` or a native library's JSON).
pub fn ty(s: &str, origin: &Path) -> Result<Ty> {
    Ok(match s {
        "any" => Ty::Any,
        "bool" => Ty::Bool,
        "int" => Ty::Int,
        "float" => Ty::Float,
        "string" | "str" => Ty::Str,
        "tensor" => Ty::Tensor,
        "list" => Ty::List,
        "map" => Ty::Map,
        other => bail!(
            "{}: describe() names an unknown type '{other}' (any, bool, int, float, string, tensor, list, map)",
            origin.display()
        ),
    })
}

/// A plugin's own description (WASM `describe()`, a native library's JSON) names itself and its
/// functions with script identifiers.
pub fn check_described(info: &emoscope_sdk::PluginInfo, origin: &Path) -> Result<()> {
    let bad = std::iter::once(("plugin", &info.name))
        .chain(info.functions.iter().map(|f| ("function", &f.name)))
        .find(|(_, n)| !is_name(n));
    if let Some((what, n)) = bad {
        bail!(
            "{}: describe() gives the {what} name '{n}', which is not a script identifier",
            origin.display()
        );
    }
    Ok(())
}

pub fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(a) if a.is_ascii_alphabetic() || a == '_')
        && c.all(|a| a.is_ascii_alphanumeric() || a == '_')
}

/// Where installed plugins live: `EMOSCOPE_PLUGIN_PATH` (folders separated by `:`), else
/// `~/.local/share/emoscope/plugins` (or `$XDG_DATA_HOME/emoscope/plugins`).
pub fn plugin_dirs() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("EMOSCOPE_PLUGIN_PATH") {
        return std::env::split_paths(&p)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    data.map(|d| vec![d.join("emoscope/plugins")])
        .unwrap_or_default()
}

/// Where compiled components are cached: `EMOSCOPE_CACHE` or `~/.cache/emoscope`, then `wasm/`.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("EMOSCOPE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("emoscope")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/emoscope")))
        .map(|d| d.join("wasm"))
}

/// Whether a plugin built against `theirs` can run on a host speaking `ours` (semver: the same
/// major; for 0.x, the same minor).
pub fn compatible(ours: &str, theirs: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.trim().split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(ours), parse(theirs)) {
        (Some((a, b)), Some((c, d))) => a == c && (a > 0 || b == d),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn descriptions_must_name_plugin_and_functions_with_identifiers() {
        let mut info = emoscope_sdk::PluginInfo {
            name: "good".into(),
            version: "1".into(),
            description: String::new(),
            functions: vec![emoscope_sdk::FnSpec::new("f_1", "")],
        };
        let o = Path::new("p.wasm");
        assert!(check_described(&info, o).is_ok());
        info.functions
            .push(emoscope_sdk::FnSpec::new("bad-name", ""));
        let e = check_described(&info, o).unwrap_err().to_string();
        assert!(e.contains("function name 'bad-name'"), "{e}");
        info.name = "9lives".into();
        let e = check_described(&info, o).unwrap_err().to_string();
        assert!(e.contains("plugin name '9lives'"), "{e}");
    }

    use super::*;

    #[test]
    fn versions_are_compatible_within_a_major() {
        assert!(compatible("0.1.0", "0.1.7"));
        assert!(!compatible("0.1.0", "0.2.0"));
        assert!(compatible("1.2.0", "1.0.3"));
        assert!(!compatible("1.2.0", "2.0.0"));
        assert!(!compatible("0.1.0", "x"));
    }

    #[test]
    fn manifests_round_trip_and_bad_ones_are_named() {
        let d = tempfile::tempdir().unwrap();
        let m = Manifest {
            name: "demo".into(),
            version: "0.1.0".into(),
            kind: "wasm".into(),
            interface: WASM_INTERFACE.into(),
            file: "demo.wasm".into(),
            permissions: vec![],
            limits: Limits::default(),
        };
        m.write(d.path()).unwrap();
        assert_eq!(Manifest::read(d.path()).unwrap(), m);
        std::fs::write(
            d.path().join("plugin.toml"),
            "name = \"x\"\nkind = \"dll\"\nversion = \"1\"\ninterface = \"1\"\nfile = \"f\"\n",
        )
        .unwrap();
        let e = Manifest::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("kind must be"), "{e}");
        std::fs::write(d.path().join("plugin.toml"), "name = \"x\"\nkind = \"wasm\"\nversion = \"1\"\ninterface = \"1\"\nfile = \"f\"\npermissions = [\"network\"]\n").unwrap();
        let e = Manifest::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("unknown permission 'network'"), "{e}");
        let mut bad = m.clone();
        bad.limits.timeout_s = f64::INFINITY;
        bad.write(d.path()).unwrap_or_else(|_| {
            std::fs::write(d.path().join("plugin.toml"), "name = \"demo\"\nkind = \"wasm\"\nversion = \"1\"\ninterface = \"0.1.0\"\nfile = \"demo.wasm\"\n[limits]\ntimeout_s = inf\n").unwrap()
        });
        let e = Manifest::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("limits must be"), "{e}");
        let mut bad = m.clone();
        bad.file = "../elsewhere.wasm".into();
        bad.write(d.path()).unwrap();
        let e = Manifest::read(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("must be a file name in the plugin's folder"),
            "{e}"
        );
    }
}
