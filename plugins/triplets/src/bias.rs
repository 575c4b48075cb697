//! Positional bias: how often each shown position held the odd one out, tested against uniform
//! ("Results: positional bias of prompts").
use crate::args::{rows, vector};
use emoscope_sdk::step;
use emoscope_sdk::triplets::{set_key, Triplet};
use emoscope_sdk::{bail, ensure, vmap, Ctx, Options, Result, Step, Value};

/// Counts of the odd item's shown position (0, 1, 2), and the chi-square test against uniform.
pub struct PositionCounts {
    /// How often the odd item was shown first, second and third.
    pub counts: [u64; 3],
    /// Pearson's chi-square against equal counts.
    pub chi2: f64,
    /// With 2 degrees of freedom the chi-square survival function is exactly exp(−χ²/2).
    pub p: f64,
}

/// Count the positions (each 0, 1 or 2; the first error stops the count) and test them.
pub fn position_counts(positions: impl Iterator<Item = Result<usize>>) -> Result<PositionCounts> {
    let mut counts = [0u64; 3];
    for p in positions {
        counts[p?] += 1;
    }
    let n: u64 = counts.iter().sum();
    ensure!(n > 0, "no choices to count");
    let e = n as f64 / 3.0;
    let chi2 = counts
        .iter()
        .map(|&o| (o as f64 - e).powi(2) / e)
        .sum::<f64>();
    Ok(PositionCounts {
        counts,
        chi2,
        p: (-chi2 / 2.0).exp(),
    })
}

/// The shown position of each judged triplet's odd item.
pub fn positions<'a>(
    shown: &'a [Triplet],
    judged: &'a [Triplet],
) -> Result<impl Iterator<Item = Result<usize>> + 'a> {
    ensure!(
        shown.len() == judged.len(),
        "shown has {} triplets but judged has {}: pass the triplets as shown and their judgements, row for row",
        shown.len(),
        judged.len()
    );
    Ok(shown.iter().zip(judged).enumerate().map(|(r, (s, j))| {
        if set_key(s) != set_key(j) {
            bail!("row {r}: shown {s:?} and judged {j:?} are different triplets");
        }
        Ok(s.iter().position(|&x| x == j[2]).expect("same set"))
    }))
}

/// How often each shown position held the odd one out, with a chi-square test against uniform (df = 2, p = exp(−χ²/2)).
#[derive(Options, Step)]
#[step(
    param(shown: Tensor = "N × 3 triplets in the order shown, or an N-vector of chosen positions (0, 1, 2)"),
    param(judged?: Tensor = "N × 3 judgements of the same rows, in SPoSE order"),
    returns = "#{counts, fractions, chi2, df, p, n}",
    section = "Results: positional bias of prompts",
    example = "let b = triplets::position_bias(all, judged);"
)]
pub struct PositionBias;

impl step::Step for PositionBias {
    fn run(self, args: &[Value], _ctx: &Ctx) -> Result<Value> {
        let b = match args.get(1) {
            Some(j) if !matches!(j, Value::Null) => {
                let (s, j) = (rows(&args[0], "shown")?, rows(j, "judged")?);
                // A statement, not the tail: the iterator borrows s and j, which a tail
                // expression's temporaries would outlive.
                let counts = position_counts(positions(&s, &j)?)?;
                counts
            }
            _ => {
                let p = args[0].to_tensor("positions")?;
                ensure!(p.ndim() == 1 && !p.dtype().is_float(), "with one argument, position_bias takes an N-vector of chosen positions (0, 1, 2); to compare shown and judged triplets pass both");
                let p = p.to_i64()?;
                position_counts(p.iter().enumerate().map(|(i, &x)| {
                    ensure!(
                        (0..3).contains(&x),
                        "position {i} is {x}: positions are 0, 1 or 2"
                    );
                    Ok(x as usize)
                }))?
            }
        };
        let n: u64 = b.counts.iter().sum();
        let counts = vector(b.counts.iter().map(|&c| c as i64).collect());
        let fr = vector(b.counts.iter().map(|&c| c as f64 / n as f64).collect());
        Ok(
            vmap! {"counts" => counts, "fractions" => fr, "chi2" => b.chi2, "df" => 2i64, "p" => b.p, "n" => n as i64},
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_bias_chi_square_matches_hand_computation() {
        // counts 50, 30, 20 of 100: chi2 = (16.67² + 3.33² + 13.33²)/33.33 = 14.0
        let pos = [0usize; 50]
            .into_iter()
            .chain([1; 30])
            .chain([2; 20])
            .map(Ok);
        let b = position_counts(pos).unwrap();
        assert_eq!(b.counts, [50, 30, 20]);
        assert!((b.chi2 - 14.0).abs() < 1e-9, "{}", b.chi2);
        assert!((b.p - (-7.0f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn positions_find_the_odd_item_where_it_was_shown() {
        let shown = [[4, 5, 6], [1, 2, 3]];
        let judged = [[5, 6, 4], [1, 2, 3]];
        let p: Vec<usize> = positions(&shown, &judged)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(p, vec![0, 2]);
        let bad = [[5, 6, 7], [1, 2, 3]];
        let e = positions(&shown, &bad)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 0"), "{e}");
    }
}
