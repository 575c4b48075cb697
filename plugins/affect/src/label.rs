//! Component labels: Pearson r of each component with every category and dimension rating
//! vector, the study's rule for naming a component by its best-correlated terms, and the
//! `affect::label` step.
use crate::script::{ensure_finite, names_of, positional, ratings_matrix, strs, x_matrix};
use emoscope_sdk::io::ratings::{CATEGORY_NAMES, DIMENSION_NAMES};
use emoscope_sdk::stats::pearson;
use emoscope_sdk::step::{self, StepSpec};
use emoscope_sdk::{ensure, vmap, Ctx, Options, Result, Step, Tensor, Value};
use ndarray::{concatenate, Array1, Array2, ArrayView2, Axis};

/// What kind of term a rating column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermKind {
    /// One of the 34 categories: named as it is.
    Category,
    /// One of the 14 dimensions: named with the sign of r (`-high`, `-low`).
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
pub struct ComponentLabel {
    /// Kept terms, best first: category names as they are, dimension names with `-high` (r ≥ 0)
    /// or `-low` (r < 0).
    pub terms: Vec<String>,
    /// `categorical`, `dimensional` or `mixed`, from the kinds of the kept terms.
    pub kind: &'static str,
    /// Some |r| exceeds the rule's threshold.
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
pub fn label_row(r: &[f64], names: &[String], kinds: &[TermKind], rule: &Rule) -> ComponentLabel {
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
    ComponentLabel {
        terms,
        kind,
        interpretable,
    }
}

/// Name each component of an embedding by the rating vectors it correlates with: Pearson r over
/// stimuli of every component with each of the 34 category and 14 dimension ratings. The candidate
/// terms are the `top` largest by |r| (ties to the earlier term); the first is always kept, and
/// each next one only while it is within `margin` of the term before it (|r_prev| − |r_next| <
/// margin), so a term that clearly beats the runner-up stands alone. Dimension terms carry the sign
/// of r (`valence-high`, `valence-low`); category terms are named as they are. A component is
/// interpretable when some |r| exceeds `threshold`; its kind is categorical, dimensional or mixed
/// by the kinds of its kept terms. Labels and kinds are given for every component; filter by
/// `interpretable`.
#[derive(Options, Step)]
#[step(
    name = "label",
    param(X: Tensor = "stimuli × components (the embedding)"),
    param(ratings: Map = "the map io::ratings returns: #{categories (stimuli × 34), dimensions (stimuli × 14), category_names, dimension_names, stimuli}, rows aligned with X"),
    returns = "#{labels: [string per component, terms joined by \" / \"], terms: [[string]], kinds: [\"categorical\" | \"dimensional\" | \"mixed\"], interpretable: [bool], best_category_r (components f64: max r over the categories), correlations (components × 48 f64: categories then dimensions), term_names: [34 categories then 14 dimensions]}",
    section = "Results: what the dimensions mean (labelling components by their correlations with the category and dimension ratings)",
    example = "let R = io::ratings(\"cowen_keltner_2017_ratings.csv\", #{stimuli: \"stimuli_2180.txt\"});\nlet L = affect::label(X, R, #{top: 3, margin: 0.1, threshold: 0.1});\nprint(L.labels);",
)]
pub struct Label {
    /// at most this many terms per component
    #[opt(default = 3)]
    pub top: usize,
    /// a further term is kept while its |r| is within this of the previous term's
    #[opt(default = 0.1)]
    pub margin: f64,
    /// a component is interpretable when some |r| exceeds this
    #[opt(default = 0.1)]
    pub threshold: f64,
}

impl step::Step for Label {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let [x, ratings] = positional(args, Self::NAME, ["X", "ratings"])?;
        ensure!(
            ratings.as_map().is_some(),
            "ratings must be the map io::ratings returns (#{{categories, dimensions, ...}}), got {}",
            ratings.type_name()
        );
        ensure!(self.top >= 1, "top must be at least 1, got {}", self.top);
        ensure!(
            self.margin >= 0.0 && self.margin.is_finite(),
            "margin must be a finite number ≥ 0, got {}",
            self.margin
        );
        ensure!(
            self.threshold.is_finite(),
            "threshold must be finite, got {}",
            self.threshold
        );
        let x = x_matrix(x)?;
        let cats = ratings_matrix(ratings, "categories")?;
        let dims = ratings_matrix(ratings, "dimensions")?;
        let cat_names = names_of(ratings, "category_names", &CATEGORY_NAMES, cats.ncols())?;
        let dim_names = names_of(ratings, "dimension_names", &DIMENSION_NAMES, dims.ncols())?;
        ensure!(
            cats.nrows() == dims.nrows(),
            "ratings.categories has {} rows but ratings.dimensions {}",
            cats.nrows(),
            dims.nrows()
        );
        ensure!(
            x.nrows() == cats.nrows(),
            "X has {} rows (stimuli) but the ratings have {}: rows must be the same stimuli in the same order",
            x.nrows(),
            cats.nrows()
        );
        ensure!(
            x.nrows() >= 3,
            "need at least 3 stimuli to correlate, got {}",
            x.nrows()
        );
        ensure!(x.ncols() >= 1, "X has no components (columns)");
        ensure_finite(x.view(), "X")?;
        ensure_finite(cats.view(), "ratings.categories")?;
        ensure_finite(dims.view(), "ratings.dimensions")?;
        let all = concatenate(Axis(1), &[cats.view(), dims.view()])
            .map_err(|e| emoscope_sdk::Error::msg(e.to_string()))?;
        let r = correlations(x.view(), all.view());
        let names: Vec<String> = cat_names.iter().chain(&dim_names).cloned().collect();
        let kinds: Vec<TermKind> = (0..names.len())
            .map(|j| {
                if j < cats.ncols() {
                    TermKind::Category
                } else {
                    TermKind::Dimension
                }
            })
            .collect();
        let rule = Rule {
            top: self.top,
            margin: self.margin,
            threshold: self.threshold,
        };
        let mut labels = Vec::new();
        let mut terms = Vec::new();
        let mut kinds_out = Vec::new();
        let mut interpretable = Vec::new();
        let mut best = Vec::new();
        for row in r.rows() {
            let row = row.to_vec();
            let l = label_row(&row, &names, &kinds, &rule);
            labels.push(Value::Str(l.terms.join(" / ")));
            terms.push(strs(&l.terms));
            kinds_out.push(Value::Str(l.kind.into()));
            interpretable.push(Value::Bool(l.interpretable));
            best.push(
                row[..cats.ncols()]
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max),
            );
        }
        Ok(vmap! {
            "labels" => labels,
            "terms" => terms,
            "kinds" => kinds_out,
            "interpretable" => interpretable,
            "best_category_r" => Tensor::from_array(Array1::from(best)),
            "correlations" => Tensor::from_array(r),
            "term_names" => names.into_iter().map(Value::Str).collect::<Vec<_>>(),
        })
    }
}
