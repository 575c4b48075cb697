//! The Rhai engine: the only code in emoscope that knows Rhai.
//!
//! One module per namespace: `tensor` and `io` here, and `plugins` bridging every registered
//! plugin (its FnSpecs drive argument checks, option checks and documentation). Errors carry
//! the script file, line and column, and name the function and option at fault.
pub mod convert;
pub mod plugins;
pub mod tensor;

use crate::session::Session;
use emoscope_sdk::{Object, Value};
use rhai::{Dynamic, Engine, EvalAltResult, ParseError, Position, Scope, AST};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Build an engine wired to a session: types, namespaces, print/debug, Ctrl-C.
pub fn engine(session: Arc<Session>) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_expr_depths(256, 256);
    tensor::register_type(&mut engine);
    engine.register_type_with_name::<Object>("Object");
    engine.register_fn("to_string", |o: &mut Object| format!("{o:?}"));
    engine.register_fn("to_debug", |o: &mut Object| format!("{o:?}"));
    engine.register_get("type_name", |o: &mut Object| o.type_name().to_string());
    engine.register_fn("emoscope_has_torch", || emoscope_sdk::HAS_TORCH);
    plugins::register_all(&mut engine, session.clone());

    let s = session.clone();
    engine.on_print(move |msg| s.print(msg));
    let s = session.clone();
    engine.on_debug(move |msg, _src, pos| s.debug(&format!("{msg} ({})", describe_position(pos))));
    // Pure-script loops stop on Ctrl-C too: the engine polls the token between operations.
    let cancel = session.cancel.clone();
    engine.on_progress(move |_| {
        if cancel.is_cancelled() {
            Some(Dynamic::from("cancelled (Ctrl-C)"))
        } else {
            None
        }
    });
    engine
}

fn describe_position(pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("line {l}, column {c}"),
        (Some(l), None) => format!("line {l}"),
        _ => "unknown position".into(),
    }
}

/// `file:line:col: message` for a runtime error.
pub fn format_error(file: &str, mut e: EvalAltResult) -> String {
    let pos = innermost_position(&e);
    e.clear_position();
    let msg = match &e {
        EvalAltResult::ErrorTerminated(v, _) => format!("{v}"),
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        other => other.to_string(),
    };
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}: {msg}"),
        (Some(l), None) => format!("{file}:{l}: {msg}"),
        _ => format!("{file}: {msg}"),
    }
}

fn innermost_position(err: &EvalAltResult) -> Position {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, pos) => {
            let p = innermost_position(inner);
            if p.is_none() {
                *pos
            } else {
                p
            }
        }
        other => other.position(),
    }
}

pub fn format_parse_error(file: &str, err: &ParseError) -> String {
    let pos = err.position();
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}: syntax error: {}", err.err_type()),
        _ => format!("{file}: syntax error: {}", err.err_type()),
    }
}

/// Whether the error is a cancellation (Ctrl-C).
pub fn is_cancelled(err: &EvalAltResult) -> bool {
    match err {
        EvalAltResult::ErrorTerminated(..) => true,
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => is_cancelled(inner),
        _ => false,
    }
}

/// A scope holding `--set` constants and `out`.
pub fn scope_with(sets: &BTreeMap<String, Value>, out: &str) -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push_constant("out", out.to_string());
    for (k, v) in sets {
        scope.push_constant_dynamic(k.clone(), convert::to_dynamic(v.clone()));
    }
    scope
}

/// Compile and run a whole script.
pub fn run(engine: &Engine, file: &str, text: &str, scope: &mut Scope) -> Result<Dynamic, String> {
    let ast: AST = engine
        .compile_with_scope(scope, text)
        .map_err(|e| format_parse_error(file, &e))?;
    engine
        .eval_ast_with_scope::<Dynamic>(scope, &ast)
        .map_err(|e| format_error(file, *e))
}

/// Parse `--set key=value`: integers, floats and booleans are parsed, anything else is a string.
pub fn parse_set(s: &str) -> Result<(String, Value), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("--set expects key=value, got '{s}'"))?;
    let k = k.trim();
    let valid = !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(format!("--set: '{k}' is not a valid script identifier"));
    }
    if k == "out" {
        return Err("--set: 'out' is reserved: use --out DIR".into());
    }
    let value = if let Ok(i) = v.parse::<i64>() {
        Value::Int(i)
    } else if let Ok(f) = v.parse::<f64>() {
        Value::Float(f)
    } else if v == "true" || v == "false" {
        Value::Bool(v == "true")
    } else {
        Value::Str(v.to_string())
    };
    Ok((k.to_string(), value))
}
