//! The interactive REPL: the only code in emoscope that knows rustyline.
//!
//! The scope persists between lines (and so do `fn` definitions); an incomplete statement
//! continues on the next line; history is kept in a file; Tab completes namespaces, functions,
//! variables and commands; Ctrl-C cancels the running command, not the session.
use crate::doc;
use crate::script::{self, convert};
use crate::session::Session;
use rhai::{Engine, Scope, AST};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

const COMMANDS: [&str; 6] = [":help", ":plugins", ":time", ":vars", ":quit", ":exit"];

struct ReplHelper {
    functions: Vec<String>,
    namespaces: Vec<String>,
    variables: Rc<RefCell<Vec<String>>>,
}

impl Completer for ReplHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &line[start..pos];
        if word.is_empty() {
            return Ok((pos, vec![]));
        }
        let mut cands: Vec<String> = if word.starts_with(':') && start == 0 {
            COMMANDS.iter().map(|c| c.to_string()).collect()
        } else if word.contains("::") {
            self.functions.clone()
        } else {
            let mut v: Vec<String> = self.namespaces.iter().map(|n| format!("{n}::")).collect();
            v.extend(self.variables.borrow().iter().cloned());
            v
        };
        cands.retain(|c| c.starts_with(word));
        cands.sort();
        cands.dedup();
        Ok((
            start,
            cands
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}
impl Highlighter for ReplHelper {}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Helper for ReplHelper {}

/// Whether brackets are still open (outside strings and comments): the statement continues.
pub fn is_incomplete(src: &str) -> bool {
    if src.trim_start().starts_with(':') {
        return false;
    }
    let mut depth: i64 = 0;
    let mut chars = src.chars().peekable();
    let mut in_str: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = in_str {
            if c == '\\' {
                chars.next();
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '`' => in_str = Some(c),
            '\'' => {
                // a character literal: skip it
                if chars.next() == Some('\\') {
                    chars.next();
                }
                chars.next();
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0 || in_str.is_some()
}

fn history_path() -> PathBuf {
    if let Some(p) = std::env::var_os("EMOSCOPE_HISTORY") {
        return p.into();
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".emoscope_history")
}

struct State {
    engine: Engine,
    scope: Scope<'static>,
    functions: AST,
    session: Arc<Session>,
}

impl State {
    fn eval(&mut self, src: &str) -> Result<rhai::Dynamic, String> {
        let ast = self
            .engine
            .compile_with_scope(&self.scope, src)
            .map_err(|e| script::format_parse_error("<repl>", &e))?;
        let run = self.functions.merge(&ast);
        let r = self
            .engine
            .eval_ast_with_scope::<rhai::Dynamic>(&mut self.scope, &run);
        // fn definitions persist between lines
        self.functions = self.functions.merge(&ast.clone_functions_only());
        r.map_err(|e| {
            if script::is_cancelled(&e) {
                "cancelled (Ctrl-C)".to_string()
            } else {
                script::format_error("<repl>", *e)
            }
        })
    }

    fn show(&self, v: rhai::Dynamic) {
        if !v.is_unit() {
            println!("{}", convert::render(&convert::from_dynamic(&v)));
        }
    }

    fn command(&mut self, line: &str) -> bool {
        let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match cmd {
            ":quit" | ":exit" => return false,
            ":help" => println!("{}", doc::help(&self.session.registry, rest)),
            ":plugins" => print!("{}", crate::plugins_table(&self.session.registry)),
            ":vars" => {
                for (name, _, v) in self.scope.iter() {
                    println!(
                        "{name} = {}",
                        convert::render(&convert::from_dynamic(&v))
                            .lines()
                            .next()
                            .unwrap_or("")
                    );
                }
            }
            ":time" => {
                let t = Instant::now();
                let r = self.eval(rest);
                let secs = t.elapsed().as_secs_f64();
                match r {
                    Ok(v) => self.show(v),
                    Err(e) => eprintln!("{e}"),
                }
                println!("time: {secs:.3} s");
            }
            other => eprintln!("unknown command {other}: try :help"),
        }
        true
    }
}

/// Run the REPL until :quit or Ctrl-D.
pub fn run(session: Arc<Session>) -> Result<(), String> {
    let registry = session.registry.clone();
    let variables = Rc::new(RefCell::new(Vec::new()));
    let helper = ReplHelper {
        functions: registry
            .entries()
            .iter()
            .flat_map(|e| {
                e.info
                    .functions
                    .iter()
                    .map(move |f| format!("{}::{}", e.info.name, f.name))
            })
            .collect(),
        namespaces: registry.namespaces(),
        variables: variables.clone(),
    };
    let mut rl: Editor<ReplHelper, rustyline::history::DefaultHistory> =
        Editor::new().map_err(|e| e.to_string())?;
    rl.set_helper(Some(helper));
    session.install_ctrlc();
    let hist = history_path();
    let _ = rl.load_history(&hist);
    let out = session.settings.out_dir.display().to_string();
    let mut state = State {
        engine: script::engine(session.clone()),
        scope: script::scope_with(&Default::default(), &out),
        functions: AST::empty(),
        session: session.clone(),
    };
    println!(
        "emoscope {} REPL: :help for help, Tab to complete, Ctrl-D to quit",
        crate::VERSION
    );
    loop {
        match rl.readline("emoscope> ") {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line);
                let _ = rl.append_history(&hist);
                session.cancel.reset();
                if line.starts_with(':') {
                    if !state.command(line) {
                        break;
                    }
                } else {
                    match state.eval(line) {
                        Ok(v) => state.show(v),
                        Err(e) => eprintln!("{e}"),
                    }
                }
                *variables.borrow_mut() =
                    state.scope.iter().map(|(n, _, _)| n.to_string()).collect();
            }
            Err(ReadlineError::Interrupted) => {
                println!("(Ctrl-C: type :quit or press Ctrl-D to leave)");
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_incomplete;

    #[test]
    fn multi_line_detection() {
        assert!(is_incomplete("let x = #{a: 1,"));
        assert!(is_incomplete("fn f(x) {"));
        assert!(!is_incomplete("let s = \"{ not a brace\";"));
        assert!(!is_incomplete("let x = [1, 2]; // trailing ( comment"));
        assert!(is_incomplete("let s = `multi"));
        assert!(!is_incomplete(":help tensor::zeros"));
    }
}
