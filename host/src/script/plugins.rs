//! The bridge from scripts to plugins: `ns::fn(positional..., #{options})`.
//!
//! Every registered plugin (host namespaces included) becomes a static Rhai module. Before a
//! plugin runs, its FnSpec checks the argument count, each argument's type and the option
//! keys, so errors read the same for every plugin; the plugin then parses its options into
//! its typed struct. Each call is timed for `run.json`.
use super::convert::{from_dynamic, to_dynamic};
use crate::registry::Entry;
use crate::session::Session;
use emoscope_sdk::{FnSpec, Map, Plugin, Ty, Value};
use rhai::{Dynamic, Engine, EvalAltResult, Module, NativeCallContext, Position};
use std::sync::Arc;
use std::time::Instant;

type RhaiResult = Result<Dynamic, Box<EvalAltResult>>;

fn runtime(msg: String, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(msg.into(), pos))
}

/// Split positional arguments from the trailing options map and check both against the spec.
pub fn check_call(
    ns: &str,
    spec: &FnSpec,
    mut args: Vec<Value>,
) -> Result<(Vec<Value>, Map), String> {
    let name = format!("{ns}::{}", spec.name);
    let n_params = spec.params.len();
    let last_is_map = matches!(args.last(), Some(Value::Map(_)));
    let takes_options = if args.len() > n_params {
        true
    } else {
        // A map in a positional slot that does not expect one is the options map.
        last_is_map
            && !spec.options.is_empty()
            && !matches!(spec.params[args.len() - 1].ty, Ty::Map | Ty::Any)
    };
    let options = if takes_options {
        match args.pop() {
            Some(Value::Map(m)) => m,
            Some(other) => {
                return Err(format!(
                    "{name}: too many arguments: expected at most {n_params} positional argument(s) and an options map, but the last argument is {}",
                    other.type_name()
                ))
            }
            None => Map::new(),
        }
    } else {
        Map::new()
    };
    let required = spec.required_params();
    if args.len() < required || args.len() > n_params {
        let names: Vec<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
        return Err(format!(
            "{name}: expected {} positional argument(s) ({}), got {}; usage: {}",
            if required == n_params {
                required.to_string()
            } else {
                format!("{required} to {n_params}")
            },
            names.join(", "),
            args.len(),
            spec.signature(ns)
        ));
    }
    for (i, (a, p)) in args.iter().zip(&spec.params).enumerate() {
        if !p.ty.accepts(a) {
            return Err(format!(
                "{name}: argument {} ({}) must be {}, got {}",
                i + 1,
                p.name,
                p.ty.name(),
                a.type_name()
            ));
        }
    }
    for key in options.keys() {
        if !spec.options.iter().any(|o| &o.name == key) {
            let valid: Vec<&str> = spec.options.iter().map(|o| o.name.as_str()).collect();
            return Err(if valid.is_empty() {
                format!("{name}: unknown option '{key}': this function takes no options")
            } else {
                format!(
                    "{name}: unknown option '{key}'; valid options: {}",
                    valid.join(", ")
                )
            });
        }
    }
    for o in &spec.options {
        if let Some(v) = options.get(&o.name) {
            if !matches!(v, Value::Null) && !o.ty.accepts(v) {
                return Err(format!(
                    "{name}: option '{}' must be {}, got {}",
                    o.name,
                    o.ty.name(),
                    v.type_name()
                ));
            }
            if let Some(msg) = emoscope_sdk::step::check_choice(o, v) {
                return Err(format!("{name}: {msg}"));
            }
        }
    }
    Ok((args, options))
}

fn call(
    session: &Session,
    plugin: &Arc<dyn Plugin>,
    ns: &str,
    spec: &FnSpec,
    args: Vec<Dynamic>,
    pos: Position,
) -> RhaiResult {
    let name = format!("{ns}::{}", spec.name);
    let values: Vec<Value> = args.iter().map(from_dynamic).collect();
    let (args, options) = check_call(ns, spec, values).map_err(|m| runtime(m, pos))?;
    let ctx = session.ctx();
    let start = Instant::now();
    let result = plugin.call(&spec.name, &args, &options, &ctx);
    let secs = start.elapsed().as_secs_f64();
    match result {
        Ok(v) => {
            session.record_call(&name, secs, "ok");
            Ok(to_dynamic(v))
        }
        Err(e) if e.is_cancelled() => {
            session.record_call(&name, secs, "cancelled");
            Err(Box::new(EvalAltResult::ErrorTerminated(
                Dynamic::from(format!("{name}: cancelled (Ctrl-C)")),
                pos,
            )))
        }
        Err(e) => {
            session.record_call(&name, secs, "error");
            Err(runtime(format!("{name}: {e}"), pos))
        }
    }
}

/// Rhai functions have fixed arity: register every arity up to six, each forwarding to the same
/// checked call, so a wrong argument count gets the FnSpec's usage line, not "function not found".
fn register_fn(
    module: &mut Module,
    session: Arc<Session>,
    plugin: Arc<dyn Plugin>,
    ns: String,
    spec: FnSpec,
) {
    let fn_name = spec.name.clone();
    let handler = Arc::new(move |ctx: &NativeCallContext, args: Vec<Dynamic>| {
        call(&session, &plugin, &ns, &spec, args, ctx.call_position())
    });
    macro_rules! arity {
        ($($a:ident),*) => {{
            let h = handler.clone();
            module.set_native_fn(fn_name.as_str(), move |ctx: NativeCallContext, $($a: Dynamic),*| -> RhaiResult { h(&ctx, vec![$($a),*]) });
        }};
    }
    for n in 0..=6 {
        match n {
            0 => arity!(),
            1 => arity!(a),
            2 => arity!(a, b),
            3 => arity!(a, b, c),
            4 => arity!(a, b, c, d),
            5 => arity!(a, b, c, d, e),
            _ => arity!(a, b, c, d, e, f),
        }
    }
}

pub fn register_all(engine: &mut Engine, session: Arc<Session>) {
    let entries: Vec<(String, Arc<dyn Plugin>, Vec<FnSpec>)> = session
        .registry
        .entries()
        .iter()
        .map(|e: &Entry| {
            (
                e.info.name.clone(),
                e.plugin.clone(),
                e.info.functions.clone(),
            )
        })
        .collect();
    for (ns, plugin, specs) in entries {
        let mut module = Module::new();
        for spec in specs {
            register_fn(
                &mut module,
                session.clone(),
                plugin.clone(),
                ns.clone(),
                spec,
            );
        }
        engine.register_static_module(ns.as_str(), module.into());
    }
}
