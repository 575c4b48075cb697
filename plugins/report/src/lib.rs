//! The `report::` namespace: one self-contained HTML file that reads like a results section.
//!
//! A script builds the report as a list of blocks (headings, paragraphs, tables, figures, rows
//! of blocks side by side) from the values its steps returned; `report::write` renders them.
//! Figures are inlined (SVG, else PNG, as base64 data URIs) so the file can be mailed or
//! archived alone, and each still names its files (`data-svg`, links to the PNG and the data)
//! so a reader can find the numbers behind every picture.
mod blocks;
mod format;
mod table;
mod write;

pub use write::WriteReport;

use emoscope_sdk::step::{step, StepPlugin};

/// The plugin, for the host's registry.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "report",
        env!("CARGO_PKG_VERSION"),
        "A self-contained HTML report from tables and figures",
        vec![step::<WriteReport>()],
    )
}
