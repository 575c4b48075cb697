//! `steps!`, which writes the step structs of this namespace. Most of its functions are a line
//! of code, and several share their parameters and what they return (the reductions, the
//! element-wise maps, the similarities), so writing each as a struct and an `impl Step` by hand
//! would repeat the same dozen lines forty times. The derive stays each function's single
//! definition: the macro only places its attributes and wraps its body in `run`.

/// Define steps: first the `#[step(...)]` every member shares (their common parameters, first,
/// and returns; left out when nothing is shared), then per member its doc comment (the summary),
/// its own `#[step(...)]` (more parameters, returns, section, example, a `name` that is not the
/// struct's in snake case), its struct name, its option fields in braces, and its body as
/// `|self, args, ctx| expression`.
macro_rules! steps {
    (
        #[step $shared:tt]
        $(
            $(#[$attr:ident $($arg:tt)*])*
            $name:ident $fields:tt => |$s:pat_param, $args:pat_param, $ctx:pat_param| $body:expr;
        )*
    ) => {$(
        #[derive(emoscope_sdk::Options, emoscope_sdk::Step)]
        #[step $shared]
        $(#[$attr $($arg)*])*
        pub struct $name $fields

        impl emoscope_sdk::step::Step for $name {
            fn run(
                self,
                $args: &[emoscope_sdk::Value],
                $ctx: &emoscope_sdk::Ctx,
            ) -> emoscope_sdk::Result<emoscope_sdk::Value> {
                let $s = self;
                $body
            }
        }
    )*};
    ($($members:tt)*) => {
        steps! { #[step()] $($members)* }
    };
}
