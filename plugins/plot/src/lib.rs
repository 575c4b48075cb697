//! The `plot::` namespace: the study's figures, drawn with plotters.
//!
//! Every figure is one type implementing `Figure`, whose `draw` is generic over plotters'
//! `DrawingBackend` and is called twice, once on the SVG backend and once on an RGB buffer, so
//! the picture in the SVG and the PNG is the same drawing of the same numbers. Beside them the
//! data the figure shows is written (`.csv`, or `.npy` for big matrices). Nothing touches the
//! disk until all of a figure is rendered in memory; then every file goes to a temporary name
//! and is renamed into place, so bad input or a failure never leaves a partial figure.
//!
//! Paths are used as given, as `io::save` does (scripts write `out + "/fig2a"`); a trailing
//! `.svg` or `.png` is dropped.
//!
//! Each script function is a step (its options struct, documentation and `run`) in the module of
//! its figure; every one also takes the canvas options of [`Size`].
mod args;
mod backend;
mod bars;
mod brain;
mod data;
mod figure;
mod graph;
mod heatmap;
mod hist2d;
mod lines;
mod numbers;
mod rose;
mod scatter;
mod style;
mod table;

pub use bars::RoiBars;
pub use brain::{Axis, Brain, BrainCmap};
pub use figure::Size;
pub use graph::{Graph, Layout};
pub use heatmap::Heatmap;
pub use hist2d::Hist2d;
pub use lines::Lines;
pub use rose::Rose;
pub use scatter::Scatter;

use emoscope_sdk::step::{step, StepPlugin};

/// The plugin, for the host's registry.
pub fn plugin() -> StepPlugin {
    StepPlugin::new(
        "plot",
        env!("CARGO_PKG_VERSION"),
        "Figures: SVG + 150-dpi PNG + the data behind them (CSV/npy), drawn by one function per figure so picture and data agree",
        vec![
            step::<Scatter>(),
            step::<Heatmap>(),
            step::<RoiBars>(),
            step::<Hist2d>(),
            step::<Rose>(),
            step::<Graph>(),
            step::<Lines>(),
            step::<Brain>(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use emoscope_sdk::Plugin;

    /// Every figure shares one return description (figure::RETURNS) and the size options.
    #[test]
    fn every_figure_returns_the_same_map_and_takes_the_canvas_options() {
        let info = super::plugin().info();
        let names: Vec<&str> = info.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["scatter", "heatmap", "roi_bars", "hist2d", "rose", "graph", "lines", "brain"]
        );
        for f in &info.functions {
            assert_eq!(f.returns, info.functions[0].returns, "{}", f.name);
            let last: Vec<&str> = f
                .options
                .iter()
                .rev()
                .take(2)
                .map(|o| o.name.as_str())
                .collect();
            assert_eq!(last, ["height", "width"], "{}", f.name);
        }
    }

    #[test]
    fn a_choice_outside_its_values_is_refused_naming_them() {
        let ctx = emoscope_sdk::Ctx::detached();
        let opts = emoscope_sdk::vmap! {"layout" => "spiral"};
        let e = super::plugin()
            .call("graph", &[], opts.as_map().unwrap(), &ctx)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "option 'layout': 'spiral' is not one of force (Fruchterman–Reingold), circle"
            ),
            "{e}"
        );
    }
}
