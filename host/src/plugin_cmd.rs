//! `emoscope plugin new | build | install`: from a scaffold to an installed plugin (a WASM
//! component, or a native library from a crate that says `kind = "native"`).
use crate::manifest::{self, Limits, Manifest};
use emoscope_sdk::{bail, ensure, Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_CARGO: &str = include_str!("../../sdk/guest/Cargo.toml");
const GUEST_LIB: &str = include_str!("../../sdk/guest/src/lib.rs");
const WIT: &str = include_str!("../../sdk/wit/emoscope.wit");

fn write(path: &Path, text: &str) -> Result<()> {
    emoscope_sdk::io::atomic_write(path, |w| {
        std::io::Write::write_all(w, text.as_bytes())?;
        Ok(())
    })
}

/// `emoscope plugin new NAME`: a WASM plugin crate in `./NAME` whose template already works:
/// `NAME::scale(tensor, #{factor})` reads the tensor in chunks and returns it times `factor`.
/// The guest crate and the WIT world are copied in (`.emoscope/`), so the plugin builds
/// anywhere with cargo and the wasm32-wasip2 target.
pub fn new(name: &str, parent: &Path) -> Result<PathBuf> {
    ensure!(
        manifest::is_name(name),
        "plugin name '{name}' must be a script identifier: letters, digits and _, not starting with a digit"
    );
    let dir = parent.join(name);
    ensure!(
        !dir.exists(),
        "{} already exists; choose another name or remove it",
        dir.display()
    );
    // The vendored guest is a member of the plugin's workspace, not a workspace of its own.
    let guest_cargo = GUEST_CARGO.replace(
        "# Built for wasm32-wasip2 by each plugin, not by the emoscope workspace.\n[workspace]\n",
        "",
    );
    write(&dir.join(".emoscope/guest/Cargo.toml"), &guest_cargo)?;
    write(&dir.join(".emoscope/guest/src/lib.rs"), GUEST_LIB)?;
    write(&dir.join(".emoscope/wit/emoscope.wit"), WIT)?;
    write(
        &dir.join("Cargo.toml"),
        &format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
emoscope-guest = {{ path = ".emoscope/guest" }}

# What the plugin asks for beyond computing (copied into plugin.toml): [] or ["inference"].
[package.metadata.emoscope]
permissions = []

[profile.release]
opt-level = "s"
strip = true

[workspace]
"#
        ),
    )?;
    write(&dir.join("src/lib.rs"), &template(name))?;
    write(&dir.join(".gitignore"), "/target\n/dist\n")?;
    Ok(dir)
}

fn template(name: &str) -> String {
    format!(
        r#"//! The `{name}` emoscope plugin. Build and install it with
//!     emoscope plugin build {name} && emoscope plugin install {name}
//! then call it from any script or the REPL: `{name}::scale(x, #{{factor: 2.0}})`.
use emoscope_guest::*;

struct Component;

/// Multiply a tensor by `factor`, reading it in chunks and writing the result through a builder.
fn scale(args: &[Value], options: &str) -> Result<Value, String> {{
    let o = Options::parse(options, &["factor"])?;
    let factor = o.f64("factor", 1.0)?;
    let x = tensor_arg(args, 0, "scale")?;
    let out = TensorBuilder::new(&x.shape(), Dtype::F64);
    read_chunks(x, |offset, chunk| {{
        let scaled: Vec<f64> = chunk.iter().map(|v| v * factor).collect();
        out.write_f64(offset, &scaled)
    }})?;
    Ok(Value::Tensor(TensorBuilder::finish(out)))
}}

impl Plugin for Component {{
    fn describe() -> PluginInfo {{
        info(
            "{name}",
            env!("CARGO_PKG_VERSION"),
            "A new emoscope plugin",
            vec![spec("scale", "Multiply a tensor by a factor (read in chunks).")
                .param("x", "tensor", "any tensor")
                .opt("factor", "float", "1.0", "the multiplier")
                .returns("an f64 tensor of x's shape")
                .example("let y = {name}::scale(x, #{{factor: 2.0}});")],
        )
    }}

    fn call(name: String, args: Vec<Value>, options: String) -> Result<Value, String> {{
        match name.as_str() {{
            "scale" => scale(&args, &options),
            other => Err(format!("{name} has no function '{{other}}'")),
        }}
    }}
}}

export_plugin!(Component);
"#
    )
}

/// The package name, permissions and kind ("wasm", or "native" for a trusted C-ABI library)
/// from a plugin crate's Cargo.toml (`[package.metadata.emoscope]`).
fn crate_info(dir: &Path) -> Result<(String, Vec<String>, String)> {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::msg(format!(
            "{}: {e} (is {} a plugin crate?)",
            path.display(),
            dir.display()
        ))
    })?;
    let t: toml::Table = toml::from_str(&text)
        .map_err(|e| Error::msg(format!("{}: {}", path.display(), e.to_string().trim())))?;
    let pkg = t
        .get("package")
        .and_then(|p| p.as_table())
        .ok_or_else(|| Error::msg(format!("{}: no [package] section", path.display())))?;
    let name = pkg
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| Error::msg(format!("{}: no package name", path.display())))?
        .to_string();
    let permissions = pkg
        .get("metadata")
        .and_then(|m| m.get("emoscope"))
        .and_then(|m| m.get("permissions"))
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let kind = pkg
        .get("metadata")
        .and_then(|m| m.get("emoscope"))
        .and_then(|m| m.get("kind"))
        .and_then(|k| k.as_str())
        .unwrap_or("wasm")
        .to_string();
    ensure!(
        kind == "wasm" || kind == "native",
        "{}: [package.metadata.emoscope] kind must be \"wasm\" or \"native\", got \"{kind}\"",
        path.display()
    );
    Ok((name, permissions, kind))
}

/// `emoscope plugin build DIR`: `cargo build --release --target wasm32-wasip2`, then the
/// component and its `plugin.toml` in `DIR/dist/`. Returns that folder.
pub fn build(dir: &Path) -> Result<PathBuf> {
    let (crate_name, permissions, kind) = crate_info(dir)?;
    if kind == "native" {
        return build_native(dir, &crate_name);
    }
    cargo_build(
        dir,
        &["--target", "wasm32-wasip2"],
        " (if the target is missing: rustup target add wasm32-wasip2)",
    )?;
    let built = built(
        dir,
        "wasm32-wasip2/release",
        &format!("{}.wasm", crate_name.replace('-', "_")),
    )?;
    let wasm = std::fs::read(&built)?;
    let (name, version) = describe(&wasm, &built)?;
    let file = format!("{name}.wasm");
    write_dist(
        dir,
        &wasm,
        Manifest {
            name,
            version,
            kind: "wasm".into(),
            interface: manifest::WASM_INTERFACE.into(),
            file,
            permissions,
            limits: Limits::default(),
        },
    )
}

/// `cargo build --release` in `dir` with `extra` arguments; `hint` follows a failure.
fn cargo_build(dir: &Path, extra: &[&str], hint: &str) -> Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release"])
        .args(extra)
        .current_dir(dir)
        .status()
        .map_err(|e| Error::msg(format!("cannot run cargo: {e}")))?;
    ensure!(
        status.success(),
        "cargo build --release {} failed in {}{hint}",
        extra.join(" "),
        dir.display()
    );
    Ok(())
}

/// Where cargo put `file` (under `CARGO_TARGET_DIR` or `dir/target`, then `sub`).
fn built(dir: &Path, sub: &str, file: &str) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let p = target.join(sub).join(file);
    ensure!(
        p.is_file(),
        "cargo succeeded but {} is missing (is the crate a cdylib?)",
        p.display()
    );
    Ok(p)
}

/// `DIR/dist/` with the built file (named by the manifest) and its `plugin.toml`.
fn write_dist(dir: &Path, bytes: &[u8], m: Manifest) -> Result<PathBuf> {
    let dist = dir.join("dist");
    emoscope_sdk::io::atomic_write(&dist.join(&m.file), |w| {
        std::io::Write::write_all(w, bytes)?;
        Ok(())
    })?;
    m.write(&dist)?;
    Ok(dist)
}

/// A native plugin crate (`kind = "native"`): `cargo build --release` for this machine, then the
/// library and its `plugin.toml` in `DIR/dist/`. Its description is read by loading it, which
/// also checks its ABI version.
fn build_native(dir: &Path, crate_name: &str) -> Result<PathBuf> {
    cargo_build(dir, &[], "")?;
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        crate_name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let built = built(dir, "release", &file)?;
    let (name, version) = describe_native(&built)?;
    write_dist(
        dir,
        &std::fs::read(&built)?,
        Manifest {
            name,
            version,
            kind: "native".into(),
            interface: manifest::NATIVE_ABI.to_string(),
            file,
            permissions: vec![],
            limits: Limits::default(),
        },
    )
}

#[cfg(feature = "native")]
fn describe_native(lib: &Path) -> Result<(String, String)> {
    use emoscope_sdk::Plugin;
    let i = crate::native::NativePlugin::open(lib)?.info();
    Ok((i.name, i.version))
}

#[cfg(not(feature = "native"))]
fn describe_native(_: &Path) -> Result<(String, String)> {
    bail!("this emoscope was built without the native feature (cargo build --features native): it cannot check a native library")
}

#[cfg(feature = "wasm")]
fn describe(wasm: &[u8], origin: &Path) -> Result<(String, String)> {
    use emoscope_sdk::Plugin;
    let p = crate::wasm::WasmPlugin::from_bytes(
        wasm,
        origin,
        Limits::default(),
        crate::wasm::Inference::NotAsked,
    )?;
    let i = p.info();
    Ok((i.name, i.version))
}

#[cfg(not(feature = "wasm"))]
fn describe(_: &[u8], _: &Path) -> Result<(String, String)> {
    bail!("this emoscope was built without the wasm feature: it cannot check the component")
}

/// `emoscope plugin install PATH`: copy a built plugin (a folder with `plugin.toml`, or a
/// plugin crate with `dist/plugin.toml`) into the first plugin folder, replacing an older copy.
pub fn install(path: &Path) -> Result<PathBuf> {
    let src = if path.join("plugin.toml").is_file() {
        path.to_path_buf()
    } else if path.join("dist/plugin.toml").is_file() {
        path.join("dist")
    } else {
        bail!(
            "{}: no plugin.toml here or in dist/ (run `emoscope plugin build {}` first)",
            path.display(),
            path.display()
        );
    };
    let m = Manifest::read(&src)?;
    let file = src.join(&m.file);
    ensure!(
        file.is_file(),
        "{}: the manifest's file {} is missing",
        src.display(),
        file.display()
    );
    let Some(root) = manifest::plugin_dirs().into_iter().next() else {
        bail!("no plugin folder: set EMOSCOPE_PLUGIN_PATH or HOME");
    };
    let dest = root.join(&m.name);
    let tmp = root.join(format!(".{}.installing-{}", m.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)
        .map_err(|e| Error::msg(format!("cannot create {}: {e}", tmp.display())))?;
    let copied = std::fs::copy(&file, tmp.join(&m.file))
        .and_then(|_| std::fs::copy(src.join("plugin.toml"), tmp.join("plugin.toml")));
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&tmp);
        bail!("cannot copy {} into {}: {e}", src.display(), root.display());
    }
    let old = root.join(format!(".{}.old-{}", m.name, std::process::id()));
    if dest.exists() {
        std::fs::rename(&dest, &old)?;
    }
    std::fs::rename(&tmp, &dest)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(dest)
}
