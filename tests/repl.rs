//! Drives the real REPL binary through a pseudo-terminal.
use rexpect::session::PtySession;
use std::process::Command;

fn spawn(history: &std::path::Path) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emoscope"));
    cmd.arg("repl")
        .env("EMOSCOPE_HISTORY", history)
        .env("TERM", "xterm");
    rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn emoscope repl")
}

/// Wait for a fresh prompt (one that follows a newline, not a redraw of the current line):
/// rustyline drops type-ahead when it enters raw mode, so each line waits for its prompt.
fn prompt(p: &mut PtySession) {
    p.exp_regex("\n[^\n]*emoscope> ").expect("a fresh prompt");
}

#[test]
fn repl_scope_completion_help_history_and_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("history");
    let mut p = spawn(&hist);
    p.exp_string("emoscope> ").unwrap();

    // A variable defined on one line is used on the next.
    p.send_line("let x = 41;").unwrap();
    prompt(&mut p);
    p.send_line("x + 1").unwrap();
    p.exp_string("42").unwrap();
    prompt(&mut p);

    // Multi-line input: an open bracket continues the statement.
    p.send_line("let m = #{a: 1,").unwrap();
    p.send_line("b: 2};").unwrap();
    prompt(&mut p);
    p.send_line("m.a * 100 + m.b").unwrap();
    p.exp_string("102").unwrap();
    prompt(&mut p);

    // Tab completion of a namespaced function, then running it: tensors print like numpy.
    p.send("tensor::zer").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("tensor::zeros").unwrap();
    p.send_line("([2, 3])").unwrap();
    p.exp_string("shape=[2, 3], dtype=f64").unwrap();
    prompt(&mut p);

    // :help renders the FnSpec.
    p.send_line(":help rsa::compare").unwrap();
    p.exp_string("Mantel").unwrap();
    p.exp_string("permutations").unwrap();
    prompt(&mut p);

    // Ctrl-C cancels a long call; the session survives with its scope.
    p.send_line("let S = rsa::rsm(tensor::randn([40, 4], #{seed: 1}));")
        .unwrap();
    prompt(&mut p);
    p.send_line("rsa::compare(S, S, #{permutations: 200000000})")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    p.send_control('c').unwrap();
    p.flush().unwrap();
    p.exp_string("cancelled").unwrap();
    prompt(&mut p);
    p.send_line("x * 2").unwrap();
    p.exp_string("82").unwrap();
    prompt(&mut p);

    // Ctrl-C at the prompt does not leave either.
    p.send_control('c').unwrap();
    p.flush().unwrap();
    p.exp_string("Ctrl-D").unwrap();
    prompt(&mut p);
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();

    // History persisted.
    let h = std::fs::read_to_string(&hist).unwrap();
    assert!(h.contains("let x = 41;"), "{h}");
}
