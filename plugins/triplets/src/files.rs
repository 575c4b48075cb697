//! Triplet files in the SPoSE formats ("Data: triplets (SPoSE convention, 0-based)"): reading
//! and writing through `emoscope_sdk::io::triplets`, recorded as the run's inputs and outputs.
use crate::args::{path, rows};
use emoscope_sdk::io::triplets::{self as tio, Format};
use emoscope_sdk::step;
use emoscope_sdk::triplets as trip;
use emoscope_sdk::{Choice, Ctx, Options, Result, Step, Value};
use std::path::Path;

/// Read triplets in the SPoSE formats: text (N lines of three integers; whitespace or commas; integral floats as np.savetxt writes them) or .npy of any integer or integral float type. Checks every row and names the offending line.
#[derive(Options, Step)]
#[step(
    param(path: Str = "triplet file"),
    returns = "N × 3 i64 tensor",
    section = "Data: triplets (SPoSE convention, 0-based)",
    example = "let t = triplets::load(\"train_90.txt\", #{n_items: 2180});"
)]
pub struct Load {
    /// every index must be below this
    #[opt(doc_default = "unchecked")]
    pub n_items: Option<usize>,
}

impl step::Step for Load {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let p = path(&args[0], "path")?;
        let t = tio::read(&p, self.n_items)?;
        ctx.input_file(&p);
        Ok(Value::Tensor(trip::to_tensor(&t)))
    }
}

/// How `triplets::save` writes.
#[derive(Choice, Clone, Copy, Debug, PartialEq)]
pub enum SaveFormat {
    /// by extension: .txt/.csv/.tsv/.dat text, .npy int64
    Auto,
    /// SPoSE text, one triplet a line
    Text,
    /// int64 .npy, what numpy and PyTorch code expect
    Npy,
    /// .npy of the smallest unsigned integer type that fits: u2 for 2,180 items
    Compact,
}

impl SaveFormat {
    /// The file format for `path`; `auto` reads its extension and refuses one it cannot place.
    pub fn resolve(self, path: &Path) -> Result<Format> {
        Ok(match self {
            SaveFormat::Auto => Format::parse("auto", path)?,
            SaveFormat::Text => Format::Text,
            SaveFormat::Npy => Format::Npy,
            SaveFormat::Compact => Format::Compact,
        })
    }
}

/// Write triplets through a temporary file: SPoSE text, int64 .npy, or compact .npy (the smallest unsigned integer type that fits; u2 for 2,180 items).
#[derive(Options, Step)]
#[step(
    param(t: Tensor = "N × 3 triplets"),
    param(path: Str = "destination"),
    returns = "the path written",
    example = "triplets::save(judged, out + \"/human_category.txt\");"
)]
pub struct Save {
    /// auto (by extension: .txt/.csv/.tsv text, .npy int64), text, npy or compact
    #[opt(default = SaveFormat::Auto)]
    pub format: SaveFormat,
}

impl step::Step for Save {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let t = rows(&args[0], "t")?;
        let p = path(&args[1], "path")?;
        tio::write(&t, &p, self.format.resolve(&p)?)?;
        ctx.output_file(&p);
        Ok(Value::Str(p.display().to_string()))
    }
}
