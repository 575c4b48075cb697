//! emoscope-sdk: what every emoscope plugin programs against.
//!
//! - [`Value`]: what crosses between scripts, the host and plugins;
//! - [`Tensor`]: an O(1)-clone handle over ndarray (or, with `torch`, libtorch) storage;
//! - [`Plugin`], [`FnSpec`]: the contract of an analysis step and its documentation;
//! - [`Ctx`]: progress, cancellation, seeded RNG, device, output directory, logging;
//! - [`io`]: npy/npz, CSV/TSV, JSON/JSONL and the study's ratings and captions readers;
//! - [`stats`], [`linalg`]: the numeric kernels steps share.
#![warn(missing_docs)]

pub mod ctx;
pub mod error;
pub mod fmri;
pub mod infer;
pub mod io;
pub mod linalg;
pub mod options;
pub mod plugin;
pub mod shard;
pub mod stats;
pub mod step;
pub mod tensor;
pub mod triplets;
pub mod value;

pub use ctx::{CancelToken, Ctx, Level, Progress};
pub use emoscope_derive::{Choice, Options, Step};
pub use error::{Error, Result, ResultExt};
pub use plugin::{FnSpec, OptSpec, ParamSpec, Plugin, PluginInfo, Ty};
pub use tensor::{DType, Device, Tensor};
pub use value::{Map, Object, Value};

// The derive macros name this crate by its path; this lets the sdk use them too.
extern crate self as emoscope_sdk;
#[doc(hidden)]
pub use serde as __serde;

/// The sdk version, which plugins record in their provenance.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether this build has the libtorch engine.
pub const HAS_TORCH: bool = cfg!(feature = "torch");
