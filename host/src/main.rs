//! The `emoscope` command line: run, repl, plugins, doc, demo.
use clap::{Args, Parser, Subcommand};
use emoscope::registry::Registry;
use emoscope::session::{Session, Settings};
use emoscope::{doc, repl, script};
use emoscope_sdk::{Device, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "emoscope",
    version,
    about = "Machine-behavioural research on emotion: triplets, SPoSE embeddings, brain alignment"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a Rhai script
    Run {
        /// The script file
        script: PathBuf,
        /// A constant for the script: integers, floats and booleans are parsed, anything else is a string
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Start the interactive REPL
    Repl {
        #[command(flatten)]
        opts: RunOpts,
    },
    /// List plugins: name, kind, version, interface version, permissions, where from
    Plugins,
    /// Make, build and install third-party plugins (docs/plugins.md)
    Plugin {
        #[command(subcommand)]
        cmd: PluginCmd,
    },
    /// Print the markdown reference of every namespace (or one)
    Doc { namespace: Option<String> },
    /// Run the whole study at demo scale on the embedded synthetic world (scripts/paper.rhai)
    /// and write its HTML report
    Demo {
        /// A setting for the study script (scale=full, stimuli=..., see scripts/paper.rhai)
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[command(flatten)]
        opts: RunOpts,
    },
}

#[derive(Subcommand)]
enum PluginCmd {
    /// Scaffold a WASM plugin crate in ./NAME (its template function already works)
    New { name: String },
    /// Build a plugin crate: a WASM component (wasm32-wasip2), or a native library when its
    /// Cargo.toml says kind = "native"; DIR/dist/ gets it and plugin.toml
    Build { dir: PathBuf },
    /// Copy a built plugin (a folder with plugin.toml, or a crate with dist/) into the plugin folder
    Install { path: PathBuf },
    /// Let plugin NAME use an OpenAI-compatible endpoint (its manifest must ask for
    /// "inference"); kept in ~/.config/emoscope/grants.toml, never in the plugin's folder
    Grant {
        name: String,
        /// Base URL, e.g. http://localhost:8000/v1
        #[arg(long)]
        url: String,
        /// The model for chat
        #[arg(long)]
        model: String,
        /// The model for embeddings (default: --model)
        #[arg(long)]
        embed_model: Option<String>,
        /// The environment variable holding the API key (the key itself is never stored)
        #[arg(long)]
        api_key_env: Option<String>,
    },
    /// Withdraw what `plugin grant` gave plugin NAME
    Revoke { name: String },
}

/// The builtins plus every installed plugin; what could not be loaded is a warning.
fn registry() -> Arc<Registry> {
    let r = Registry::with_plugins();
    for p in &r.problems {
        eprintln!("warning: {p}");
    }
    Arc::new(r)
}

#[derive(Args, Clone)]
struct RunOpts {
    /// Output directory (the script sees it as the constant `out`)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Default device: cpu, cuda, cuda:N (needs the torch feature)
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Worker threads (default: all cores)
    #[arg(long)]
    threads: Option<usize>,
    /// The run's seed
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No progress bars or info messages
    #[arg(long)]
    quiet: bool,
    /// Run shard K of N (1-based) of every step that splits its work (encoding::ridge_cv voxels,
    /// rsa::searchlight centres) unless a call gives its own `shard`; join the parts with
    /// encoding::merge / rsa::merge. For job arrays: --shard $SLURM_ARRAY_TASK_ID/N
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
}

fn settings(o: &RunOpts, default_out: &str, log: bool) -> Result<Settings, String> {
    let device: Device = o
        .device
        .parse()
        .map_err(|e: emoscope_sdk::Error| e.to_string())?;
    if device.is_torch() && !emoscope_sdk::HAS_TORCH {
        return Err(format!("--device {device} needs the torch engine: this emoscope was built without `--features torch`"));
    }
    if let Some(n) = o.threads {
        if n == 0 {
            return Err("--threads must be at least 1".into());
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    let out_dir = o.out.clone().unwrap_or_else(|| PathBuf::from(default_out));
    Ok(Settings {
        seed: o.seed,
        shard: o.shard.clone(),
        device,
        threads: o.threads.unwrap_or_else(rayon::current_num_threads),
        log_file: log.then(|| out_dir.join("emoscope.log")),
        out_dir,
        quiet: o.quiet,
    })
}

fn run_script(
    file: &str,
    text: &str,
    sets: BTreeMap<String, Value>,
    s: Settings,
) -> Result<ExitCode, String> {
    std::fs::create_dir_all(&s.out_dir).map_err(|e| {
        format!(
            "cannot create output directory {}: {e}",
            s.out_dir.display()
        )
    })?;
    let session = Arc::new(Session::new(s, registry()).map_err(|e| e.to_string())?);
    session.install_ctrlc();
    let engine = script::engine(session.clone());
    let out = session.settings.out_dir.display().to_string();
    let mut scope = script::scope_with(&sets, &out);
    let result = script::run(&engine, file, text, &mut scope);
    let cancelled = session.cancel.is_cancelled();
    let (status, err) = match &result {
        Ok(_) => ("ok", None),
        Err(e) if cancelled => ("cancelled", Some(e.as_str())),
        Err(e) => ("error", Some(e.as_str())),
    };
    let written = session.write_run_json(Some((file, text)), &sets, status, err);
    if let Err(e) = &result {
        eprintln!("error: {e}");
    }
    match written {
        Ok(p) if !session.settings.quiet => eprintln!("provenance: {}", p.display()),
        Ok(_) => {}
        Err(e) => eprintln!("error: could not write run.json: {e}"),
    }
    Ok(match (result, cancelled) {
        (Ok(_), _) => ExitCode::SUCCESS,
        (Err(_), true) => ExitCode::from(130),
        (Err(_), false) => ExitCode::FAILURE,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run { script, set, opts } => (|| {
            let text = std::fs::read_to_string(&script)
                .map_err(|e| format!("cannot read script {}: {e}", script.display()))?;
            let sets = set
                .iter()
                .map(|s| script::parse_set(s))
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            run_script(
                &script.display().to_string(),
                &text,
                sets,
                settings(&opts, "out", true)?,
            )
        })(),
        Cmd::Demo { set, opts } => (|| {
            let sets = set
                .iter()
                .map(|s| script::parse_set(s))
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            // The script prints where its report is.
            run_script(
                "scripts/paper.rhai",
                emoscope::PAPER,
                sets,
                settings(&opts, "emoscope-demo", true)?,
            )
        })(),
        Cmd::Repl { opts } => (|| {
            let session = Arc::new(
                Session::new(settings(&opts, ".", false)?, registry())
                    .map_err(|e| e.to_string())?,
            );
            repl::run(session).map(|_| ExitCode::SUCCESS)
        })(),
        Cmd::Plugins => {
            print!("{}", emoscope::plugins_table(&Registry::with_plugins()));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Plugin { cmd } => {
            use emoscope::plugin_cmd;
            let done = match cmd {
                PluginCmd::New { name } => {
                    plugin_cmd::new(&name, std::path::Path::new(".")).map(|d| {
                        format!(
                            "created {} (build it with: emoscope plugin build {})",
                            d.display(),
                            d.display()
                        )
                    })
                }
                PluginCmd::Build { dir } => plugin_cmd::build(&dir).map(|d| {
                    format!(
                        "built {} (install it with: emoscope plugin install {})",
                        d.display(),
                        d.display()
                    )
                }),
                PluginCmd::Install { path } => {
                    plugin_cmd::install(&path).map(|d| format!("installed {}", d.display()))
                }
                PluginCmd::Grant {
                    name,
                    url,
                    model,
                    embed_model,
                    api_key_env,
                } => emoscope::grants::grant(
                    &name,
                    emoscope::grants::InferenceGrant {
                        url,
                        model,
                        embed_model,
                        api_key_env,
                    },
                )
                .map(|p| format!("granted {name} inference (in {})", p.display())),
                PluginCmd::Revoke { name } => emoscope::grants::revoke(&name).map(|had| {
                    if had {
                        format!("revoked what {name} was granted")
                    } else {
                        format!("{name} had no grants")
                    }
                }),
            };
            done.map(|m| {
                println!("{m}");
                ExitCode::SUCCESS
            })
            .map_err(|e| e.to_string())
        }
        // The whole reference is the builtins' (docs/reference.md); one namespace may be a plugin's.
        Cmd::Doc { namespace } => doc::render(
            &if namespace.is_some() {
                Registry::with_plugins()
            } else {
                Registry::with_builtins()
            },
            namespace.as_deref(),
        )
        .map(|s| {
            print!("{s}");
            ExitCode::SUCCESS
        }),
    };
    r.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}
