#!/usr/bin/env python3
"""The rsatoolbox side of bench/searchlight_vs_rsatoolbox.sh.

Reads the subject written by bench/searchlight_vs_rsatoolbox.rhai (subject.npz: data stimuli x
voxels, coords voxels x 3, mask 3-D, model stimuli x stimuli RSM), and runs rsatoolbox's own
searchlight pipeline, as its documentation shows it:

  1. rsatoolbox.util.searchlight.get_volume_searchlight(mask, radius, threshold=1.0): centres and
     spheres over the whole mask (timed);
  2. get_searchlight_RDMs(data_2d, centres, neighbours, events, method='correlation') on a subset
     of the centres (evenly spaced over the valid ones; timed);
  3. evaluate_models_searchlight(rdms, ModelFixed(model RDM), eval_fixed, method='spearman') on
     the same subset (timed).

The model RDM is -(model RSM) (upper triangle, rsatoolbox's vector order): Spearman of RDM vs RDM
equals Spearman of RSM vs RSM because both sides are flipped (correlation distance 1 - r against
-S), so emoscope's map and rsatoolbox's must agree. (1 - S would not do: it rounds distinct
near-zero model similarities to equal dissimilarities, and the model's ties would change.)

Writes a JSON with timings, the chosen centres (as emoscope voxel indices), rsatoolbox's r on
them, and the set of valid centres (as emoscope voxel indices).
"""
import argparse
import json
import sys
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--npz", required=True)
    ap.add_argument("--radius", type=float, default=3.0)
    ap.add_argument("--centres", type=int, default=200)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    import rsatoolbox
    from rsatoolbox.inference import eval_fixed
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.util.searchlight import (evaluate_models_searchlight,
                                             get_searchlight_RDMs,
                                             get_volume_searchlight)

    z = np.load(a.npz)
    data, coords, mask, model = z["data"], z["coords"], z["mask"], z["model"]
    n_stim, n_vox = data.shape
    shape = mask.shape
    # rsatoolbox indexes the data by flat volume index: a full-volume matrix, zeros outside
    vol_index = np.ravel_multi_index(coords.T, shape)
    data_2d = np.zeros((n_stim, int(np.prod(shape))))
    data_2d[:, vol_index] = data
    to_voxel = {int(p): v for v, p in enumerate(vol_index)}

    radius = int(a.radius) if float(a.radius).is_integer() else a.radius
    t0 = time.perf_counter()
    centers, neighbors = get_volume_searchlight(mask, radius=radius, threshold=1.0)
    t_spheres = time.perf_counter() - t0
    valid = sorted(to_voxel[int(c)] for c in centers)

    k = min(a.centres, len(centers))
    pick = np.unique(np.linspace(0, len(centers) - 1, k).round().astype(int))
    sub_c = centers[pick]
    sub_n = [neighbors[i] for i in pick]
    events = np.arange(n_stim)

    t0 = time.perf_counter()
    sl_rdms = get_searchlight_RDMs(data_2d, sub_c, sub_n, events, method="correlation")
    t_rdms = time.perf_counter() - t0

    iu = np.triu_indices(n_stim, 1)
    # -RSM, not 1 - RSM: negation is exact, so the model's ties are exactly those of the RSM
    # (1 - S rounds distinct near-zero similarities to equal values, and the ranks change)
    model_rdm = RDMs(-model[iu][None, :], dissimilarity_measure="-RSM")
    fixed = ModelFixed("model", model_rdm)
    t0 = time.perf_counter()
    results = evaluate_models_searchlight(sl_rdms, fixed, eval_fixed, method="spearman", n_jobs=1)
    t_eval = time.perf_counter() - t0
    r = [float(np.asarray(res.evaluations).ravel()[0]) for res in results]

    out = dict(
        rsatoolbox=rsatoolbox.__version__ if hasattr(rsatoolbox, "__version__") else "?",
        numpy=np.__version__,
        python=sys.version.split()[0],
        stimuli=n_stim,
        voxels=n_vox,
        grid=list(shape),
        radius=a.radius,
        valid_centres=len(centers),
        sphere_sizes=[int(len(n)) for n in sub_n],
        centres=[to_voxel[int(c)] for c in sub_c],
        r=r,
        seconds=dict(spheres=t_spheres, rdms=t_rdms, evaluate=t_eval),
        valid=valid,
    )
    with open(a.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
