//! Cross-validation folds: contiguous blocks in stimulus order, like scikit-learn's unshuffled
//! `KFold` (which himalaya uses when `cv` is an integer), optionally over groups so that a run's
//! (or a repeated stimulus's) rows never straddle training and test.
use emoscope_sdk::{ensure, Result};

/// One split: positions into the list that was split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// The sizes `KFold` gives: the first `n % k` folds get one extra item.
fn fold_sizes(n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|f| n / k + usize::from(f < n % k)).collect()
}

/// `k` contiguous folds over `items` (positions `0..items.len()`), grouping by `groups[item]`
/// when given: the distinct groups in order of first appearance are split like `KFold`, and
/// every item follows its group.
pub fn kfold(items: &[usize], k: usize, groups: Option<&[i64]>, what: &str) -> Result<Vec<Split>> {
    let n = items.len();
    ensure!(k >= 2, "{what}: needs at least 2 folds, got {k}");
    // Unit u of the split holds the positions `units[u]`.
    let units: Vec<Vec<usize>> = match groups {
        None => (0..n).map(|p| vec![p]).collect(),
        Some(g) => {
            let mut order: Vec<i64> = Vec::new();
            let mut members: std::collections::HashMap<i64, Vec<usize>> = Default::default();
            for (p, &item) in items.iter().enumerate() {
                let label = g[item];
                members
                    .entry(label)
                    .or_insert_with(|| {
                        order.push(label);
                        Vec::new()
                    })
                    .push(p);
            }
            order
                .into_iter()
                .map(|l| members.remove(&l).unwrap_or_default())
                .collect()
        }
    };
    ensure!(
        units.len() >= k,
        "{what}: {k} folds need at least {k} {}, got {}",
        if groups.is_some() {
            "groups"
        } else {
            "stimuli"
        },
        units.len()
    );
    let mut out = Vec::with_capacity(k);
    let mut start = 0;
    for size in fold_sizes(units.len(), k) {
        let in_test = start..start + size;
        let mut test: Vec<usize> = units[in_test.clone()].iter().flatten().copied().collect();
        let mut train: Vec<usize> = units
            .iter()
            .enumerate()
            .filter(|(u, _)| !in_test.contains(u))
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        test.sort_unstable();
        train.sort_unstable();
        ensure!(
            train.len() >= 2 && !test.is_empty(),
            "{what}: a fold left {} training and {} test stimuli; use fewer folds",
            train.len(),
            test.len()
        );
        out.push(Split { train, test });
        start += size;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_folds_match_sklearn_kfold() {
        // sklearn.model_selection.KFold(3).split(range(10)) tests: [0..4), [4..7), [7..10).
        let items: Vec<usize> = (0..10).collect();
        let f = kfold(&items, 3, None, "t").unwrap();
        assert_eq!(f[0].test, vec![0, 1, 2, 3]);
        assert_eq!(f[1].test, vec![4, 5, 6]);
        assert_eq!(f[2].test, vec![7, 8, 9]);
        assert_eq!(f[1].train, vec![0, 1, 2, 3, 7, 8, 9]);
    }

    #[test]
    fn groups_stay_together() {
        let items: Vec<usize> = (0..8).collect();
        let groups = [5, 5, 1, 1, 5, 9, 9, 2];
        let f = kfold(&items, 2, Some(&groups), "t").unwrap();
        // Groups in order of appearance: 5, 1, 9, 2 -> folds {5, 1} and {9, 2}.
        assert_eq!(f[0].test, vec![0, 1, 2, 3, 4]);
        assert_eq!(f[1].test, vec![5, 6, 7]);
        let e = kfold(&items, 5, Some(&groups), "outer CV").unwrap_err();
        assert!(
            e.to_string()
                .contains("5 folds need at least 5 groups, got 4"),
            "{e}"
        );
    }
}
