//! Shards for job arrays: `"K/N"` (1-based K) names the K-th of N contiguous parts of a step's
//! work (voxels, searchlight centres). Every splitting step parses and cuts the same way, so
//! `--shard K/N` means the same thing everywhere and the parts tile the whole exactly.
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// Part `k` of `n` (1-based) of a job split for a job array.
pub struct Shard {
    /// 1-based index.
    pub k: usize,
    /// How many parts.
    pub n: usize,
}

impl Shard {
    /// The whole job.
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    /// Parse `"K/N"`.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            Error::msg(format!(
                "shard must be \"K/N\" with 1 <= K <= N (e.g. \"3/10\"), got '{s}'"
            ))
        };
        let (a, b) = s.split_once('/').ok_or_else(bad)?;
        let k: usize = a.trim().parse().map_err(|_| bad())?;
        let n: usize = b.trim().parse().map_err(|_| bad())?;
        if k < 1 || n < 1 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    /// The units `[(k−1)·units/n, k·units/n)` of this shard: the N ranges tile `0..units`.
    pub fn range(self, units: usize) -> std::ops::Range<usize> {
        (self.k - 1) * units / self.n..self.k * units / self.n
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_tile_the_units() {
        for n in 1..7 {
            let mut at = 0;
            for k in 1..=n {
                let r = Shard { k, n }.range(17);
                assert_eq!(r.start, at);
                at = r.end;
            }
            assert_eq!(at, 17);
        }
        assert_eq!(Shard::parse(" 2/ 5").unwrap(), Shard { k: 2, n: 5 });
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(
                Shard::parse(bad).unwrap_err().to_string().contains("K/N"),
                "{bad}"
            );
        }
    }
}
