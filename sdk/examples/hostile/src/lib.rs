//! A plugin that misbehaves on purpose, one way per function, so the tests can show that the
//! sandbox contains each: the call ends in a clear error and the host goes on.
use emoscope_guest::*;

struct Hostile;

impl Plugin for Hostile {
    fn describe() -> PluginInfo {
        let f = |n: &str, s: &str| spec(n, s).returns("never returns normally");
        info(
            "hostile",
            "0.1.0",
            "Misbehaves on purpose (sandbox tests)",
            vec![
                f("spin", "An infinite loop."),
                f("bomb", "Allocates memory until none is left."),
                f("read_file", "Opens /etc/passwd."),
                f("read_env", "Reads the HOME environment variable."),
                f("trap", "Panics (an unreachable trap)."),
                f(
                    "infer",
                    "Asks the host's model endpoint, without asking for the permission.",
                ),
                spec("ok", "Returns 42: the plugin still works after the others.").returns("42"),
            ],
        )
    }

    fn call(name: String, _args: Vec<Value>, _options: String) -> Result<Value, String> {
        match name.as_str() {
            "spin" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "bomb" => {
                let mut keep: Vec<Vec<u8>> = Vec::new();
                loop {
                    keep.push(vec![1u8; 16 << 20]);
                    std::hint::black_box(&keep);
                }
            }
            "read_file" => std::fs::read_to_string("/etc/passwd")
                .map(|s| Value::Str(s))
                .map_err(|e| format!("cannot open /etc/passwd: {e}")),
            "read_env" => std::env::var("HOME")
                .map(Value::Str)
                .map_err(|e| format!("cannot read HOME: {e}")),
            "trap" => panic!("a deliberate panic"),
            "infer" => inference::chat("hello").map(Value::Str),
            "ok" => Ok(Value::Int(42)),
            other => Err(format!("hostile has no function '{other}'")),
        }
    }
}

export_plugin!(Hostile);
