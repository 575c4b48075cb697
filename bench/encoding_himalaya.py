#!/usr/bin/env python3
"""The peer of encoding::ridge_cv: himalaya's RidgeCV (NumPy backend, float64) in the study's
nested scheme, with the same folds and alphas as emoscope: 5 contiguous outer folds
(scikit-learn's unshuffled KFold); in each outer training set RidgeCV(alphas, cv=KFold(6),
fit_intercept=True) picks a per-voxel alpha by inner validation MSE, refits, and predicts the
held-out stimuli; r is Pearson between the concatenated out-of-fold predictions and the data.

Usage: encoding_himalaya.py X.npy Y.npy OUT_DIR [N_VOXELS]
Writes OUT_DIR/himalaya_r.npy, OUT_DIR/himalaya_alphas.npy (outer × voxels) and
OUT_DIR/himalaya.json (seconds, voxels, versions).
"""
import json
import sys
import time

import numpy as np
import himalaya
from himalaya.backend import set_backend
from himalaya.ridge import RidgeCV
from sklearn.model_selection import KFold

x_path, y_path, out = sys.argv[1:4]
X = np.load(x_path).astype(np.float64)
Y = np.load(y_path)
if len(sys.argv) > 4:
    Y = Y[:, : int(sys.argv[4])]
Y = Y.astype(np.float64)
set_backend("numpy")
alphas = np.logspace(-3, 3, 100)
n, v = Y.shape

t0 = time.perf_counter()
pred = np.zeros_like(Y)
chosen = np.zeros((5, v))
for f, (train, test) in enumerate(KFold(5).split(X)):
    model = RidgeCV(
        alphas=alphas,
        cv=KFold(6),
        fit_intercept=True,
        # Bounded memory: himalaya multiplies alphas × n_val × n_train matrices.
        solver_params=dict(n_alphas_batch=20, n_targets_batch=1000, progress_bar=False)
        if "progress_bar" in RidgeCV().__init__.__code__.co_varnames
        else dict(n_alphas_batch=20, n_targets_batch=1000),
    )
    model.fit(X[train], Y[train])
    pred[test] = model.predict(X[test])
    chosen[f] = np.asarray(model.best_alphas_)
pc = pred - pred.mean(0)
yc = Y - Y.mean(0)
r = (pc * yc).sum(0) / np.sqrt((pc**2).sum(0) * (yc**2).sum(0))
seconds = time.perf_counter() - t0

np.save(f"{out}/himalaya_r.npy", r)
np.save(f"{out}/himalaya_alphas.npy", chosen)
with open(f"{out}/himalaya.json", "w") as fh:
    json.dump({"seconds": seconds, "stimuli": n, "voxels": v, "features": X.shape[1],
               "himalaya": himalaya.__version__, "numpy": np.__version__}, fh)
print(f"himalaya: {v} voxels in {seconds:.1f} s")
