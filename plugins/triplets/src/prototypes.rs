//! The validation prototypes ("Methods: validation set"): the highest-rated stimuli of each
//! emotion category, whose pairs the validation triplets are built from.
use crate::args::vector;
use emoscope_sdk::step;
use emoscope_sdk::{ensure, vmap, Ctx, Map, Options, Result, Step, Value};

/// The `per_category` highest-rated items of each column (ties: the lower index first).
/// Returns, per category, its chosen items, and the merged list in order of first choice.
pub fn prototypes(
    cat: ndarray::ArrayView2<f64>,
    per_category: usize,
) -> Result<(Vec<Vec<u32>>, Vec<u32>)> {
    let (n, k) = cat.dim();
    ensure!(
        per_category >= 1 && per_category <= n,
        "per_category must be between 1 and the number of items ({n}), got {per_category}"
    );
    let mut per = Vec::with_capacity(k);
    let mut merged = Vec::new();
    for c in 0..k {
        let col = cat.column(c);
        if let Some((i, _)) = col.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            emoscope_sdk::bail!("categories row {i}, column {c}: rating is not a finite number");
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        // Stable sort: equal ratings keep index order.
        order.sort_by(|&a, &b| col[b as usize].total_cmp(&col[a as usize]));
        let top = order[..per_category].to_vec();
        for &t in &top {
            if !merged.contains(&t) {
                merged.push(t);
            }
        }
        per.push(top);
    }
    Ok((per, merged))
}

/// The validation prototypes: the per_category highest-rated items of each category (ties: the lower index), duplicates merged.
#[derive(Options, Step)]
#[step(
    param(categories: Any = "items × categories ratings, or the map io::ratings returns (then stimulus and category names are attached)"),
    returns = "#{indices (in order of first choice), categories (the categories each prototype tops), by_category, stimuli (names, when given a ratings map)}",
    section = "Methods: validation set",
    example = "let p = triplets::prototypes(r, #{per_category: 2});"
)]
pub struct Prototypes {
    /// items chosen per category
    #[opt(default = 2)]
    pub per_category: usize,
}

impl step::Step for Prototypes {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let arg = &args[0];
        let (cat, stimuli, names) = match arg {
            Value::Map(m) => {
                let cat = arg.get("categories")?.to_tensor("categories")?;
                let strings = |k: &str| -> Option<Vec<String>> {
                    m.get(k)?
                        .as_list()?
                        .iter()
                        .map(|v| v.as_str().map(String::from))
                        .collect()
                };
                (cat, strings("stimuli"), strings("category_names"))
            }
            other => (other.to_tensor("categories")?, None, None),
        };
        let cat = cat.matrix::<f64>("categories")?;
        let (per, merged) = prototypes(cat.view(), self.per_category)?;
        let names = names.unwrap_or_else(|| (0..cat.ncols()).map(|c| format!("c{c}")).collect());
        ensure!(
            names.len() == cat.ncols(),
            "category_names has {} names for {} category columns",
            names.len(),
            cat.ncols()
        );
        if let Some(s) = &stimuli {
            ensure!(
                s.len() == cat.nrows(),
                "stimuli has {} names for {} rows of categories",
                s.len(),
                cat.nrows()
            );
        }
        let indices = |v: &[u32]| vector(v.iter().map(|&i| i as i64).collect());
        let chosen_for = |i: u32| -> Value {
            Value::List(
                per.iter()
                    .enumerate()
                    .filter(|(_, top)| top.contains(&i))
                    .map(|(c, _)| Value::Str(names[c].clone()))
                    .collect(),
            )
        };
        let by_category: Map = per
            .iter()
            .enumerate()
            .map(|(c, top)| (names[c].clone(), Value::Tensor(indices(top))))
            .collect();
        let mut out = vmap! {
            "indices" => indices(&merged),
            "categories" => Value::List(merged.iter().map(|&i| chosen_for(i)).collect()),
            "by_category" => Value::Map(by_category),
        };
        if let (Some(s), Value::Map(m)) = (&stimuli, &mut out) {
            let names = merged.iter().map(|&i| Value::Str(s[i as usize].clone()));
            m.insert("stimuli".into(), Value::List(names.collect()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prototypes_take_the_top_rated_and_merge_duplicates() {
        let cat = ndarray::array![[0.9, 0.1], [0.5, 0.8], [0.5, 0.9], [0.1, 0.0]];
        let (per, merged) = prototypes(cat.view(), 2).unwrap();
        // Column 0: 0.9 (item 0), then the tie 0.5 between items 1 and 2 goes to the lower index.
        assert_eq!(per, vec![vec![0, 1], vec![2, 1]]);
        assert_eq!(merged, vec![0, 1, 2]);
    }
}
