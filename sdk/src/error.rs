//! One error type for the whole sdk and every plugin.
//!
//! Messages are written for researchers: what was wrong, where (file, line, column), and what
//! would be right. Context is prepended as the error travels outwards, so the final message
//! reads from the outermost operation inwards.
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
/// What a step can fail with.
pub enum Error {
    /// The run was cancelled (Ctrl-C) through the `CancelToken`.
    Cancelled,
    /// Anything else, with a human-readable message.
    Msg(String),
}

/// The sdk's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with a message.
    pub fn msg(m: impl Into<String>) -> Self {
        Error::Msg(m.into())
    }
    /// Whether the error is a cancellation (Ctrl-C), not a failure.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled)
    }
    /// Prefix the message with where it happened; cancellation stays cancellation.
    pub fn context(self, ctx: impl fmt::Display) -> Self {
        match self {
            Error::Cancelled => Error::Cancelled,
            Error::Msg(m) => Error::Msg(format!("{ctx}: {m}")),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Cancelled => write!(f, "cancelled"),
            Error::Msg(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Msg(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Msg(e.to_string())
    }
}

/// Attach context to any fallible result.
pub trait ResultExt<T> {
    /// Prefix the error with what was being done.
    fn context(self, ctx: impl fmt::Display) -> Result<T>;
    /// Prefix the error with what was being done, computed only on error.
    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, ctx: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(ctx))
    }
    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(f()))
    }
}

/// `bail!("...")` returns an `Error::Msg` built with `format!`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::Error::Msg(format!($($arg)*))) };
}

/// `ensure!(cond, "...")` bails when the condition is false.
// Written without `!cond`: a negated float comparison (`!(x > 0.0)`) is what clippy's
// neg_cmp_op_on_partial_ord warns about, and every `ensure!(x > 0.0, …)` would expand to one.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if $cond {
        } else {
            $crate::bail!($($arg)*);
        }
    };
}
