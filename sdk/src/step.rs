//! The step contract: one Rust item defines one script function.
//!
//! A step is a struct of its options that derives [`Options`] and [`Step`](trait@Step) (the derive
//! macros of `emoscope-derive`) and implements [`Step::run`]:
//!
//! ```
//! use emoscope_sdk::step::{self, Step};
//! use emoscope_sdk::{Choice, Ctx, Options, Result, Value};
//!
//! /// How to round.
//! #[derive(Choice, Clone, Copy, Debug, PartialEq)]
//! pub enum Rounding {
//!     /// to the nearest integer
//!     Nearest,
//!     /// towards zero
//!     #[choice(name = "toward-zero")]
//!     TowardZero,
//! }
//!
//! /// Scale a number.
//! #[derive(Options, emoscope_sdk::Step)]
//! #[step(param(x: Float = "the number"), returns = "the scaled number", section = "none")]
//! pub struct Scale {
//!     /// the factor
//!     #[opt(default = 2.0)]
//!     pub by: f64,
//!     /// rounding of the result
//!     #[opt(default = Rounding::Nearest)]
//!     pub round: Rounding,
//! }
//!
//! impl Step for Scale {
//!     fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
//!         let x = args[0].as_f64().unwrap_or(0.0) * self.by;
//!         Ok(Value::Float(match self.round {
//!             Rounding::Nearest => x.round(),
//!             Rounding::TowardZero => x.trunc(),
//!         }))
//!     }
//! }
//!
//! let plugin = step::StepPlugin::new("demo", "0.1.0", "a demo", vec![step::step::<Scale>()]);
//! let spec = &emoscope_sdk::Plugin::info(&plugin).functions[0];
//! assert_eq!(spec.signature("demo"), "demo::scale(x, #{by: 2.0, round: \"nearest\"})");
//! ```
//!
//! The derive reads the summary from the struct's doc comment, each option's documentation from
//! its field's doc comment and its default from `#[opt(default = …)]`, so the documentation, the
//! signature and the parser cannot disagree. A plugin's functions are a list of [`step`]s and
//! [`StepPlugin`] dispatches on that list, so a listed function always has an implementation.
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::plugin::{FnSpec, OptSpec, Plugin, PluginInfo, Ty};
use crate::tensor::Tensor;
use crate::value::{Map, Value};
use serde::de::DeserializeOwned;

/// The options of a step, or a group of options several steps share (`#[opt(flatten)]`).
/// Derived with `#[derive(Options)]`.
pub trait Options: Sized {
    /// Each option's documentation, type and default.
    fn specs() -> Vec<OptSpec>;
    /// The option names, in order.
    fn keys(out: &mut Vec<&'static str>);
    /// Read the options this struct knows from `map`, leaving any other key alone.
    fn take(map: &Map) -> Result<Self>;
    /// Read an options map, refusing keys no option has (naming the valid ones).
    fn parse(map: &Map) -> Result<Self> {
        let mut keys = Vec::new();
        Self::keys(&mut keys);
        if let Some(bad) = map.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(Error::msg(if keys.is_empty() {
                format!("unknown option '{bad}': this function takes no options")
            } else {
                format!("unknown option '{bad}'; valid options: {}", keys.join(", "))
            }));
        }
        Self::take(map)
    }
}

/// The name and documentation of a script function. Derived with `#[derive(Step)]`.
pub trait StepSpec {
    /// The function's name in its namespace.
    const NAME: &'static str;
    /// Its documentation and signature.
    fn spec() -> FnSpec;
}

/// A script function: its options (the struct itself), its documentation, and how it runs.
pub trait Step: StepSpec + Options {
    /// Run with the positional arguments (checked against the spec's parameters by the host:
    /// their count and types) and the run's context.
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value>;
}

/// How an option's type reads to scripts, and its valid values when it is a choice.
pub trait OptionType {
    /// The script type.
    fn ty() -> Ty;
    /// The valid values and what each does, for a choice-valued option.
    fn choices() -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }
}

macro_rules! option_type {
    ($ty:expr => $($t:ty),*) => {$(
        impl OptionType for $t {
            fn ty() -> Ty {
                $ty
            }
        }
    )*};
}
option_type!(Ty::Bool => bool);
option_type!(Ty::Int => i8, i16, i32, i64, u8, u16, u32, u64, usize);
option_type!(Ty::Float => f32, f64);
option_type!(Ty::Str => String, std::path::PathBuf);
option_type!(Ty::Tensor => Tensor);
option_type!(Ty::Any => Value);

impl<T: OptionType> OptionType for Option<T> {
    fn ty() -> Ty {
        T::ty()
    }
    fn choices() -> Vec<(&'static str, &'static str)> {
        T::choices()
    }
}

impl<T> OptionType for std::collections::BTreeMap<String, T> {
    fn ty() -> Ty {
        Ty::Map
    }
}
impl<T> OptionType for std::collections::HashMap<String, T> {
    fn ty() -> Ty {
        Ty::Map
    }
}

impl<T> OptionType for Vec<T> {
    fn ty() -> Ty {
        Ty::List
    }
}

/// A default value written as a script literal, for signatures and docs.
pub trait Literal {
    /// The literal (`0.004`, `"cpu"`, `none`).
    fn literal(&self) -> String;
}

macro_rules! literal_display {
    ($($t:ty),*) => {$(
        impl Literal for $t {
            fn literal(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
literal_display!(bool, i8, i16, i32, i64, u8, u16, u32, u64, usize);

impl Literal for f64 {
    fn literal(&self) -> String {
        // Debug keeps the point (`1.0`, not `1`), so the literal reads as a float in Rhai.
        format!("{self:?}")
    }
}
impl Literal for f32 {
    fn literal(&self) -> String {
        format!("{self:?}")
    }
}
impl Literal for String {
    fn literal(&self) -> String {
        format!("{self:?}")
    }
}
impl Literal for std::path::PathBuf {
    fn literal(&self) -> String {
        format!("{:?}", self.display().to_string())
    }
}
impl<T: Literal> Literal for Option<T> {
    fn literal(&self) -> String {
        match self {
            Some(v) => v.literal(),
            None => "none".into(),
        }
    }
}
impl<T: Literal> Literal for Vec<T> {
    fn literal(&self) -> String {
        let items: Vec<String> = self.iter().map(Literal::literal).collect();
        format!("[{}]", items.join(", "))
    }
}
impl Literal for Value {
    fn literal(&self) -> String {
        match self {
            Value::Null => "none".into(),
            other => format!("{other:?}"),
        }
    }
}
impl Literal for Tensor {
    fn literal(&self) -> String {
        format!("tensor {:?}", self.shape())
    }
}
impl Literal for Map {
    fn literal(&self) -> String {
        if self.is_empty() {
            "#{}".into()
        } else {
            format!("{self:?}")
        }
    }
}

/// A choice-valued option: a fieldless enum deriving `Choice`.
pub trait Choice: Copy + 'static {
    /// Each value's script name and what it does, in declaration order.
    const CHOICES: &'static [(&'static str, &'static str)];
    /// The variants, in the same order.
    const ALL: &'static [Self];
    /// This value's script name.
    fn name(&self) -> &'static str;
    /// The value named `s`, or an error listing the valid ones.
    fn from_name(s: &str) -> Result<Self> {
        match Self::CHOICES.iter().position(|(n, _)| *n == s) {
            Some(i) => Ok(Self::ALL[i]),
            None => Err(Error::msg(format!(
                "'{s}' is not one of {}",
                describe_choices(Self::CHOICES)
            ))),
        }
    }
}

/// `a (what a does), b (what b does)`.
pub fn describe_choices(choices: &[(&str, &str)]) -> String {
    choices
        .iter()
        .map(|(n, d)| format!("{n} ({d})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `Deserialize` of a `Choice` enum: a string naming one of its values.
pub fn deserialize_choice<'de, C: Choice, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<C, D::Error> {
    let s = String::deserialize(d)?;
    C::from_name(&s).map_err(serde::de::Error::custom)
}
use serde::Deserialize as _;

/// One option's spec (the derive's output), its type and choices taken from `T`.
pub fn opt_spec<T: OptionType>(name: &str, doc: &str, default: String) -> OptSpec {
    OptSpec {
        name: name.into(),
        ty: T::ty(),
        default,
        doc: doc.into(),
        choices: T::choices()
            .into_iter()
            .map(|(n, d)| (n.to_string(), d.to_string()))
            .collect(),
    }
}

/// One option's value from the script, as its field's type; errors name the option.
pub fn field<T: DeserializeOwned>(value: &Value, key: &str) -> Result<T> {
    crate::options::from_value(value).map_err(|e| Error::msg(format!("option '{key}': {e}")))
}

/// Refuse a value outside an option's choices, before the step runs: `None` when the value is
/// acceptable (or the option is not a choice), else the message naming the valid values.
pub fn check_choice(o: &OptSpec, value: &Value) -> Option<String> {
    if o.choices.is_empty() {
        return None;
    }
    let Value::Str(s) = value else { return None };
    if o.choices.iter().any(|(n, _)| n == s) {
        return None;
    }
    let valid: Vec<(&str, &str)> = o
        .choices
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_str()))
        .collect();
    Some(format!(
        "option '{}': '{s}' is not one of {}",
        o.name,
        describe_choices(&valid)
    ))
}

/// One entry of a plugin's function list: the spec and the call of one [`Step`].
#[derive(Clone, Copy)]
pub struct StepFn {
    /// The function's name.
    pub name: &'static str,
    /// Its documentation.
    pub spec: fn() -> FnSpec,
    /// Parse the options, then run.
    pub call: fn(&[Value], &Map, &Ctx) -> Result<Value>,
}

/// The list entry of step `S`.
pub fn step<S: Step>() -> StepFn {
    StepFn {
        name: S::NAME,
        spec: S::spec,
        call: |args, options, ctx| S::parse(options)?.run(args, ctx),
    }
}

/// A plugin made of steps: its functions are exactly its list, dispatched by name.
pub struct StepPlugin {
    name: String,
    version: String,
    description: String,
    steps: Vec<StepFn>,
}

impl StepPlugin {
    /// A plugin from its list of steps.
    ///
    /// # Panics
    /// When two steps share a name: the list is written in code, so this is a programming error
    /// that every test of the plugin catches.
    pub fn new(name: &str, version: &str, description: &str, steps: Vec<StepFn>) -> Self {
        for (i, s) in steps.iter().enumerate() {
            assert!(
                !steps[..i].iter().any(|t| t.name == s.name),
                "plugin {name}: two steps are named {}",
                s.name
            );
        }
        StepPlugin {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            steps,
        }
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[StepFn] {
        &self.steps
    }
}

impl Plugin for StepPlugin {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            functions: self.steps.iter().map(|s| (s.spec)()).collect(),
        }
    }

    fn call(&self, function: &str, args: &[Value], options: &Map, ctx: &Ctx) -> Result<Value> {
        match self.steps.iter().find(|s| s.name == function) {
            Some(s) => (s.call)(args, options, ctx),
            None => Err(Error::msg(format!(
                "{}: no function named {function}",
                self.name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{vmap, Choice, Options, Step};

    /// What to do.
    #[derive(Choice, Clone, Copy, Debug, PartialEq)]
    enum Mode {
        /// add one
        Up,
        /// subtract one
        #[choice(name = "go-down")]
        GoDown,
    }

    /// Options two steps share.
    #[derive(Options, Debug)]
    struct Shared {
        /// the seed
        #[opt(doc_default = "run seed")]
        seed: Option<u64>,
    }

    /// Move a number.
    ///
    /// Second paragraph.
    #[derive(Options, Step, Debug)]
    #[step(
        name = "shift",
        param(x: Float = "the number"),
        param(y?: Float = "another"),
        returns = "a float",
        section = "nowhere",
        example = "t::shift(1.0)"
    )]
    struct Shift {
        /// how far
        #[opt(default = 2)]
        by: i64,
        /// which way
        #[opt(default = Mode::Up)]
        mode: Mode,
        /// a label
        #[opt(default = "none yet")]
        label: String,
        #[opt(flatten)]
        shared: Shared,
    }

    impl Step for Shift {
        fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
            let x = args[0].as_f64().unwrap_or(f64::NAN);
            let by = self.by as f64;
            Ok(Value::Float(match self.mode {
                Mode::Up => x + by,
                Mode::GoDown => x - by,
            }))
        }
    }

    fn plugin() -> StepPlugin {
        StepPlugin::new("t", "1", "test", vec![step::<Shift>()])
    }

    fn map(v: Value) -> Map {
        v.as_map().unwrap().clone()
    }

    #[test]
    fn the_spec_comes_from_the_item() {
        let spec = Shift::spec();
        assert_eq!(spec.name, "shift");
        assert_eq!(spec.summary, "Move a number.\n\nSecond paragraph.");
        assert_eq!(spec.params.len(), 2);
        assert!(!spec.params[0].optional && spec.params[1].optional);
        assert_eq!(spec.params[1].ty, Ty::Float);
        let names: Vec<&str> = spec.options.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["by", "mode", "label", "seed"]);
        assert_eq!(spec.options[0].default, "2");
        assert_eq!(spec.options[0].ty, Ty::Int);
        assert_eq!(spec.options[1].default, "\"up\"");
        assert_eq!(spec.options[1].ty, Ty::Str);
        assert_eq!(spec.options[1].choices.len(), 2);
        assert_eq!(spec.options[1].choices[1].0, "go-down");
        assert_eq!(spec.options[2].default, "\"none yet\"");
        assert_eq!(spec.options[3].default, "run seed");
        assert_eq!(spec.options[3].doc, "the seed");
        assert_eq!(
            spec.signature("t"),
            "t::shift(x, [y], #{by: 2, mode: \"up\", label: \"none yet\", seed: run seed})"
        );
    }

    #[test]
    fn options_parse_with_defaults_choices_and_flattened_groups() {
        let s = Shift::parse(&Map::new()).unwrap();
        assert_eq!((s.by, s.mode, s.label.as_str()), (2, Mode::Up, "none yet"));
        assert_eq!(s.shared.seed, None);
        let s = Shift::parse(&map(vmap! {"mode" => "go-down", "seed" => 7i64})).unwrap();
        assert_eq!(s.mode, Mode::GoDown);
        assert_eq!(s.shared.seed, Some(7));
        let ctx = Ctx::detached();
        let p = plugin();
        let v = p
            .call(
                "shift",
                &[Value::Float(1.0)],
                &map(vmap! {"by" => 3i64, "mode" => "go-down"}),
                &ctx,
            )
            .unwrap();
        assert_eq!(v.as_f64(), Some(-2.0));
    }

    #[test]
    fn bad_options_are_refused_naming_what_is_valid() {
        let e = Shift::parse(&map(vmap! {"bye" => 1i64}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown option 'bye'; valid options: by, mode, label, seed"),
            "{e}"
        );
        let e = Shift::parse(&map(vmap! {"mode" => "sideways"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("option 'mode'")
                && e.contains("'sideways' is not one of up (add one), go-down (subtract one)"),
            "{e}"
        );
        let e = Shift::parse(&map(vmap! {"by" => "two"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("option 'by'") && e.contains("invalid type"),
            "{e}"
        );
        let spec = Shift::spec();
        assert!(check_choice(&spec.options[1], &Value::Str("up".into())).is_none());
        let msg = check_choice(&spec.options[1], &Value::Str("left".into())).unwrap();
        assert!(
            msg.contains("'left' is not one of up (add one), go-down"),
            "{msg}"
        );
        assert!(check_choice(&spec.options[0], &Value::Str("left".into())).is_none());
    }

    #[test]
    fn dispatch_comes_from_the_list() {
        let p = plugin();
        let info = p.info();
        assert_eq!(info.functions.len(), 1);
        let e = p
            .call("nope", &[], &Map::new(), &Ctx::detached())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no function named nope"), "{e}");
    }

    #[test]
    #[should_panic(expected = "two steps are named shift")]
    fn two_steps_with_one_name_are_refused() {
        StepPlugin::new("t", "1", "test", vec![step::<Shift>(), step::<Shift>()]);
    }
}
