//! Row selections of a triplet set: the seeded train/test split ("Methods: SPoSE training (90/10
//! split)") and the removal of repeated triplets.
use crate::args::{index_tensor, pick, rows};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::step;
use emoscope_sdk::triplets::Triplet;
use emoscope_sdk::{ensure, vmap, Choice, Ctx, Options, Result, Step, Value};
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::collections::HashSet;

/// A seeded random split of the rows; each part keeps the original row order.
pub fn split(n_rows: usize, test: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    ensure!(
        test > 0.0 && test < 1.0,
        "test must be a fraction strictly between 0 and 1, got {test}"
    );
    let n_test = (test * n_rows as f64).round() as usize;
    let mut idx: Vec<usize> = (0..n_rows).collect();
    let mut rng = Rng::seed_from_u64(seed);
    // A partial Fisher–Yates: only the test rows need drawing.
    for i in 0..n_test {
        let j = rng.random_range(i..n_rows);
        idx.swap(i, j);
    }
    let mut test_idx = idx[..n_test].to_vec();
    let mut train_idx = idx[n_test..].to_vec();
    test_idx.sort_unstable();
    train_idx.par_sort_unstable();
    Ok((train_idx, test_idx))
}

/// Rows to keep when dropping repeats: the first of each item set (order ignored) or of each
/// exact row.
pub fn dedup(rows: &[Triplet], by: RepeatKey) -> Vec<usize> {
    let mut seen = HashSet::with_capacity(rows.len());
    (0..rows.len())
        .filter(|&r| {
            let t = rows[r];
            let key = match by {
                RepeatKey::Set => emoscope_sdk::triplets::set_key(&t),
                RepeatKey::Row => (t[0] as u128) << 64 | (t[1] as u128) << 32 | t[2] as u128,
            };
            seen.insert(key)
        })
        .collect()
}

/// A seeded random train/test split of the rows; each part keeps the original row order.
#[derive(Options, Step)]
#[step(
    param(t: Tensor = "N × 3 triplets"),
    returns = "#{train, test, train_index, test_index}",
    section = "Methods: SPoSE training (90/10 split)",
    example = "let parts = triplets::split(all, #{test: 0.1, seed: 1});"
)]
pub struct Split {
    /// fraction of rows held out, strictly between 0 and 1
    #[opt(default = 0.1)]
    pub test: f64,
    /// ChaCha8 seed
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
}

impl step::Step for Split {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let t = rows(&args[0], "t")?;
        let (train, test) = split(t.len(), self.test, self.seed.unwrap_or(ctx.seed))?;
        Ok(vmap! {
            "train" => pick(&t, &train), "test" => pick(&t, &test),
            "train_index" => index_tensor(&train), "test_index" => index_tensor(&test),
        })
    }
}

/// When two rows of a triplet set count as repeats.
#[derive(Choice, Clone, Copy, Debug, PartialEq)]
pub enum RepeatKey {
    /// the same three items in any order repeat
    Set,
    /// only identical rows, the same judgement, repeat
    Row,
}

/// Drop repeated triplets, keeping each first occurrence.
#[derive(Options, Step)]
#[step(
    param(t: Tensor = "N × 3 triplets"),
    returns = "#{triplets, index (rows kept), removed}"
)]
pub struct Dedup {
    /// "set": the same three items in any order repeat; "row": only identical rows (the same judgement) repeat
    #[opt(default = RepeatKey::Set)]
    pub by: RepeatKey,
}

impl step::Step for Dedup {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let t = rows(&args[0], "t")?;
        let keep = dedup(&t, self.by);
        Ok(vmap! {
            "triplets" => pick(&t, &keep),
            "index" => index_tensor(&keep),
            "removed" => t.len() - keep.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_row_once_and_dedup_matches_by_set_or_row() {
        let (tr, te) = split(1000, 0.1, 4).unwrap();
        assert_eq!((tr.len(), te.len()), (900, 100));
        let all: HashSet<_> = tr.iter().chain(&te).collect();
        assert_eq!(all.len(), 1000);
        assert!(split(10, 1.0, 0).is_err());
        let rows = vec![[0, 1, 2], [2, 1, 0], [0, 1, 2], [3, 4, 5]];
        assert_eq!(dedup(&rows, RepeatKey::Set), vec![0, 3]);
        assert_eq!(dedup(&rows, RepeatKey::Row), vec![0, 1, 3]);
    }

    #[test]
    fn the_repeat_key_is_read_by_name_and_a_wrong_one_names_the_valid_ones() {
        use emoscope_sdk::step::Options as _;
        let by = |v: &str| Dedup::parse(&[("by".to_string(), Value::from(v))].into());
        assert_eq!(
            Dedup::parse(&Default::default()).unwrap().by,
            RepeatKey::Set
        );
        assert_eq!(by("row").unwrap().by, RepeatKey::Row);
        let e = by("items").err().unwrap().to_string();
        assert!(
            e.contains("option 'by'")
                && e.contains("'items' is not one of set (")
                && e.contains("row ("),
            "{e}"
        );
    }
}
