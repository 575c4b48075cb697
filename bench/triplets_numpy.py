"""NumPy peer of bench/triplets_judge.rs: triplet sampling (every pair, `per_pair` distinct third
items, positions shuffled) and the cosine max-pair judge, written the straightforward vectorised
way. Times each step best-of-`--reps` and prints one JSON line.

With `--triplets` (emoscope's sample, .npy int) it also checks that sample's invariants and times
the judge on those same triplets; with `--judged` (emoscope's judgement of them) it reports the
fraction of rows on which the two judgements agree.

Run standalone: python bench/triplets_numpy.py X.npy [--triplets T.npy --judged J.npy]
"""
import argparse
import json
import os
import time

import numpy as np


def best_of(reps, f):
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def sample_pairs(n, per_pair, seed):
    """Every pair i < j, each completed with `per_pair` distinct thirds uniform over the other
    n - 2 items, the three positions shuffled per row."""
    rng = np.random.default_rng(seed)
    i, j = np.triu_indices(n, 1)
    p = i.size
    m = n - 2
    # Distinct draws from [0, m): the t-th from [0, m - t), shifted past the earlier ones in
    # ascending order.
    chosen = np.empty((p, per_pair), dtype=np.int64)
    for t in range(per_pair):
        x = rng.integers(0, m - t, size=p)
        if t:
            prev = np.sort(chosen[:, :t], axis=1)
            for c in range(t):
                x += x >= prev[:, c]
        chosen[:, t] = x
    # Map [0, n - 2) onto the items other than i and j (i < j).
    k = chosen.reshape(-1)
    ii = np.repeat(i, per_pair)
    jj = np.repeat(j, per_pair)
    k += k >= ii
    k += k >= jj
    rows = np.stack([ii, jj, k], axis=1)
    perm = np.argsort(rng.random(rows.shape), axis=1)
    return np.take_along_axis(rows, perm, axis=1)


# For each odd position, the SPoSE order (kept pair first, odd one last).
SPOSE = np.array([[1, 2, 0], [0, 2, 1], [0, 1, 2]])


def judge(x, t):
    """Cosine similarity, keep the most similar pair; ties: odd = lowest item index among the
    tied candidates (emoscope's rule)."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    xn = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    s = xn @ xn.T
    a, b, c = t[:, 0], t[:, 1], t[:, 2]
    # Similarity of the pair that leaves out position 0, 1, 2.
    sim = np.stack([s[b, c], s[a, c], s[a, b]], axis=1)
    top = sim.max(axis=1, keepdims=True)
    odd = np.where(sim == top, t, np.iinfo(t.dtype).max).argmin(axis=1)
    return np.take_along_axis(t, SPOSE[odd], axis=1)


def top_gap(x, t):
    """Per row, the gap between the largest and second-largest pair similarity (NumPy's)."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    xn = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    a, b, c = t[:, 0], t[:, 1], t[:, 2]
    sim = np.sort(np.stack([(xn[b] * xn[c]).sum(1), (xn[a] * xn[c]).sum(1),
                            (xn[a] * xn[b]).sum(1)], axis=1), axis=1)
    return sim[:, 2] - sim[:, 1]


def check_sample(t, n, per_pair):
    """Cheap invariants of a pair-order sample; returns a list of failures."""
    bad = []
    want = n * (n - 1) // 2 * per_pair
    if t.shape != (want, 3):
        return [f"shape {t.shape}, expected ({want}, 3)"]
    if t.min() < 0 or t.max() >= n:
        bad.append("index out of range")
    s = np.sort(t, axis=1)
    if not ((s[:, 0] < s[:, 1]) & (s[:, 1] < s[:, 2])).all():
        bad.append("repeated item in a row")
    i, j = np.triu_indices(n, 1)
    ii, jj = np.repeat(i, per_pair), np.repeat(j, per_pair)
    if not ((t == ii[:, None]).any(axis=1) & (t == jj[:, None]).any(axis=1)).all():
        bad.append("rows do not follow pair order")
    else:
        thirds = np.sort((t.sum(axis=1) - ii - jj).reshape(-1, per_pair), axis=1)
        if (thirds[:, 1:] == thirds[:, :-1]).any():
            bad.append("repeated third item within a pair")
    return bad


def blas_name():
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("x", help="item x feature matrix, .npy (float)")
    ap.add_argument("--per-pair", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--triplets", help="emoscope's sample, .npy: checked, then judged")
    ap.add_argument("--judged", help="emoscope's judgement of --triplets, .npy")
    a = ap.parse_args()

    x = np.load(a.x).astype(np.float64)
    n = x.shape[0]
    out = {
        "numpy": np.__version__,
        "blas": blas_name(),
        "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
        "n": n,
        "per_pair": a.per_pair,
    }
    t_sample, own = best_of(a.reps, lambda: sample_pairs(n, a.per_pair, a.seed))
    out["sample"] = t_sample
    out["count"] = int(own.shape[0])
    out["own_sample_failures"] = check_sample(own, n, a.per_pair)
    if a.triplets:
        rust = np.load(a.triplets).astype(np.int64)
        out["rust_sample_failures"] = check_sample(rust, n, a.per_pair)
        tj = rust
    else:
        tj = own
    del own
    t_judge, mine = best_of(a.reps, lambda: judge(x, tj))
    out["judge"] = t_judge
    out["judged_rows"] = int(tj.shape[0])
    if a.judged:
        theirs = np.load(a.judged).astype(np.int64)
        if theirs.shape != mine.shape:
            out["agreement"] = None
            out["agreement_error"] = f"shape {theirs.shape} vs {mine.shape}"
        else:
            same = (theirs == mine).all(axis=1)
            out["agreement"] = float(same.mean())
            out["disagreements"] = int((~same).sum())
            # Disagreements should be near-ties: the largest top-two gap among them.
            out["max_gap_at_disagreement"] = (
                float(top_gap(x, tj[~same]).max()) if (~same).any() else None
            )
            # A judgement is a reordering of its row: same item sets row by row.
            out["rust_judged_is_reordering"] = bool(
                (np.sort(theirs, axis=1) == np.sort(tj, axis=1)).all()
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
