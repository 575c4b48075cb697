//! Component labels: Pearson r of each component with every category and dimension rating
//! vector, and the study's rule for naming a component by its best-correlated terms.
use emoscope_sdk::stats::pearson;
use emoscope_sdk::{ensure, Result};
use ndarray::{Array2, ArrayView2};

/// What kind of term a rating column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermKind {
    Category,
    Dimension,
}

/// The labelling rule's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// At most this many terms per component.
    pub top: usize,
    /// A term is kept when its |r| is within `margin` of the previous kept term's |r|.
    pub margin: f64,
    /// A component is interpretable when some |r| exceeds this.
    pub threshold: f64,
}

/// One component's label.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Kept terms, best first: category names as they are, dimension names with `-high` (r ≥ 0)
    /// or `-low` (r < 0).
    pub terms: Vec<String>,
    /// `categorical`, `dimensional` or `mixed`, from the kinds of the kept terms.
    pub kind: &'static str,
    pub interpretable: bool,
}

/// components × terms: Pearson r over stimuli of X's columns with the rating columns
/// (categories then dimensions, concatenated in `ratings`).
pub fn correlations(x: ArrayView2<f64>, ratings: ArrayView2<f64>) -> Array2<f64> {
    let xc: Vec<Vec<f64>> = x.columns().into_iter().map(|c| c.to_vec()).collect();
    let rc: Vec<Vec<f64>> = ratings.columns().into_iter().map(|c| c.to_vec()).collect();
    Array2::from_shape_fn((xc.len(), rc.len()), |(i, j)| pearson(&xc[i], &rc[j]))
}

/// Indices of the kept terms of one row of correlations: the `top` terms by |r| (ties to the
/// lower column); the first is always kept; each next one only while it is within `margin` of
/// the one before it (|r_prev| − |r_next| < margin).
pub fn kept_terms(r: &[f64], rule: &Rule) -> Vec<usize> {
    let mut order: Vec<usize> = (0..r.len()).collect();
    order.sort_by(|&a, &b| r[b].abs().total_cmp(&r[a].abs()).then(a.cmp(&b)));
    order.truncate(rule.top.min(r.len()));
    let mut kept = Vec::new();
    for (i, &t) in order.iter().enumerate() {
        if i > 0 && r[order[i - 1]].abs() - r[t].abs() >= rule.margin {
            break;
        }
        kept.push(t);
    }
    kept
}

/// Label one component from its row of correlations.
pub fn label_row(r: &[f64], names: &[String], kinds: &[TermKind], rule: &Rule) -> Label {
    let kept = kept_terms(r, rule);
    let terms = kept
        .iter()
        .map(|&t| match kinds[t] {
            TermKind::Category => names[t].clone(),
            TermKind::Dimension => {
                format!("{}-{}", names[t], if r[t] >= 0.0 { "high" } else { "low" })
            }
        })
        .collect();
    let has = |k: TermKind| kept.iter().any(|&t| kinds[t] == k);
    let kind = match (has(TermKind::Category), has(TermKind::Dimension)) {
        (true, true) => "mixed",
        (false, true) => "dimensional",
        _ => "categorical",
    };
    let interpretable = r.iter().any(|v| v.abs() > rule.threshold);
    Label {
        terms,
        kind,
        interpretable,
    }
}

/// Check a matrix has only finite values, naming the first offending cell.
pub fn ensure_finite(a: ArrayView2<f64>, what: &str) -> Result<()> {
    if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        ensure!(
            false,
            "{what} has a non-finite value {v} at row {i}, column {j} (0-based): remove or impute it first"
        );
    }
    Ok(())
}
