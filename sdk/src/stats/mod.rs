//! Statistics the steps share:
//!
//! - [`corr`]: tie-aware ranks, Pearson, Spearman, least-squares lines (`linregress`);
//! - [`ttest`]: one-sample and paired Student's t-tests, two-tailed, NaN dropped per test;
//! - [`fdr`]: Benjamini–Hochberg adjusted p-values;
//! - [`describe`]: NaN-ignoring means and numpy-style quantiles.
//!
//! Every function here answers as scipy does for the same input (the tests say which call),
//! and none panics on NaN or too few observations: it returns NaN.
pub mod corr;
pub mod describe;
pub mod fdr;
pub mod ttest;

pub use corr::{linregress, pearson, rank_average, spearman, Line};
pub use describe::{nanmean, quantile};
pub use fdr::{fdr_bh, fdr_reject};
pub use ttest::{t_pvalue, ttest_1samp, ttest_rel, TTest};
