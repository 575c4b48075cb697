//! The triplet contract shared by every behavioural step: a triplet set is an N×3 integer tensor
//! of 0-based item indices. Sampled (unjudged) triplets list the items in the order shown; judged
//! triplets follow the SPoSE convention: columns 0 and 1 are the pair kept together, column 2 the
//! odd one out.
//!
//! Steps work on `Vec<[u32; 3]>` (12 bytes a triplet, 85 MB for the study's 7.1M) and hand back
//! i64 tensors, the dtype scripts and numpy expect.
use crate::error::Result;
use crate::tensor::Tensor;
use crate::{bail, ensure};

/// One triplet of item indices, SPoSE order: the kept pair, then the odd one out.
pub type Triplet = [u32; 3];

/// Check and convert an N×3 integer tensor. `what` names it in errors; with `n_items`, every
/// index must be below it. A row that repeats an item is an error (no scheme produces one).
pub fn rows(t: &Tensor, what: &str, n_items: Option<usize>) -> Result<Vec<Triplet>> {
    let shape = t.shape();
    ensure!(
        shape.len() == 2 && shape[1] == 3,
        "{what} must be an N×3 tensor of item indices, got shape {shape:?}"
    );
    ensure!(
        !t.dtype().is_float(),
        "{what} must hold integer item indices, got {}",
        t.dtype().name()
    );
    let a = t.to_i64()?;
    let a = a.as_standard_layout();
    let data = a.as_slice().expect("standard layout");
    let mut out = Vec::with_capacity(shape[0]);
    for (r, c) in data.chunks_exact(3).enumerate() {
        out.push(
            check_row(c, n_items)
                .map_err(|m| crate::Error::msg(format!("{what}, row {r}: {m}")))?,
        );
    }
    Ok(out)
}

/// Validate one row of indices; the message says what is wrong (the caller says where).
pub fn check_row(c: &[i64], n_items: Option<usize>) -> std::result::Result<Triplet, String> {
    let mut t = [0u32; 3];
    for (k, &v) in c.iter().enumerate() {
        if v < 0 {
            return Err(format!(
                "index {v} in column {} is negative (indices are 0-based)",
                k + 1
            ));
        }
        if let Some(n) = n_items {
            if v as u64 >= n as u64 {
                return Err(format!(
                    "index {v} in column {} is out of range for {n} items (0-based: 0..={})",
                    k + 1,
                    n.saturating_sub(1)
                ));
            }
        }
        if v > u32::MAX as i64 {
            return Err(format!("index {v} in column {} is too large", k + 1));
        }
        t[k] = v as u32;
    }
    if t[0] == t[1] || t[0] == t[2] || t[1] == t[2] {
        return Err(format!("the triplet {t:?} repeats an item"));
    }
    Ok(t)
}

/// N×3 i64 tensor.
pub fn to_tensor(rows: &[Triplet]) -> Tensor {
    let data: Vec<i64> = rows.iter().flat_map(|t| t.map(i64::from)).collect();
    Tensor::from_vec(data, &[rows.len(), 3]).expect("N×3 matches its data")
}

/// One more than the largest index: the item count the triplets imply.
pub fn implied_items(rows: &[Triplet]) -> usize {
    rows.iter()
        .flat_map(|t| t.iter())
        .max()
        .map_or(0, |&m| m as usize + 1)
}

/// A triplet's items as an order-free key.
pub fn set_key(t: &Triplet) -> u128 {
    let mut s = *t;
    s.sort_unstable();
    (s[0] as u128) << 64 | (s[1] as u128) << 32 | s[2] as u128
}

/// Require `features` (or any per-item table) to have a row for every index used.
pub fn check_items(rows: &[Triplet], n_rows: usize, what: &str) -> Result<()> {
    let need = implied_items(rows);
    if need > n_rows {
        let (r, t) = rows
            .iter()
            .enumerate()
            .find(|(_, t)| t.iter().any(|&i| i as usize >= n_rows))
            .expect("some row exceeds");
        bail!(
            "{what} has {n_rows} rows (items) but triplet row {r} {t:?} refers to item {}: the triplets index {need} items",
            t.iter().max().unwrap()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_checks_shape_range_and_repeats() {
        let t = Tensor::from_vec(vec![0i64, 1, 2, 3, 4, 5], &[2, 3]).unwrap();
        assert_eq!(rows(&t, "t", Some(6)).unwrap(), vec![[0, 1, 2], [3, 4, 5]]);
        let e = rows(&t, "t", Some(5)).unwrap_err().to_string();
        assert!(
            e.contains("row 1") && e.contains("out of range for 5 items"),
            "{e}"
        );
        let bad = Tensor::from_vec(vec![0i64, 1, 1], &[1, 3]).unwrap();
        assert!(rows(&bad, "t", None)
            .unwrap_err()
            .to_string()
            .contains("repeats"));
        let wide = Tensor::from_vec(vec![0i64, 1, 2, 3], &[1, 4]).unwrap();
        assert!(rows(&wide, "t", None)
            .unwrap_err()
            .to_string()
            .contains("N×3"));
        assert_eq!(
            to_tensor(&[[0, 1, 2], [3, 4, 5]]).to_vec_f64().unwrap(),
            vec![0., 1., 2., 3., 4., 5.]
        );
        assert_eq!(set_key(&[3, 1, 2]), set_key(&[2, 3, 1]));
    }
}
