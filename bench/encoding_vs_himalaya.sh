#!/usr/bin/env bash
# Voxel-wise encoding side by side: emoscope's encoding::ridge_cv against himalaya's RidgeCV
# (NumPy backend, float64), same data, same folds (5 outer / 6 inner contiguous KFold), same 100
# alphas in [1e-3, 1e3]. Reports the agreement (per-voxel alphas, max |Δr|) and the speed ratio.
#
# himalaya multiplies (alphas × n_val × n_train) prediction matrices with the data, so its cost
# per voxel is hundreds of times emoscope's; it runs on the first HV voxels and its time is
# compared per voxel with emoscope's run on the same voxels (and on all V, the study's scale).
#
# Usage: bench/encoding_vs_himalaya.sh                      # 2,180 stimuli, 50,000 voxels, HV 500
#        N=300 V=2000 HV=200 bench/encoding_vs_himalaya.sh   # a quick run
# Variables: N [2180]  V [50000]  HV [500]  EMOSCOPE [target/release/emoscope]
#            PYTHON [$HOME/.cache/emoscope/bench-venv/bin/python] (pip install himalaya scikit-learn)
#            OUT_DIR [a temporary directory]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2180}; V=${V:-50000}; HV=${HV:-500}
EMOSCOPE=${EMOSCOPE:-target/release/emoscope}
PYTHON=${PYTHON:-$HOME/.cache/emoscope/bench-venv/bin/python}
OUT=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$OUT"
[ -x "$EMOSCOPE" ] || cargo build --release --quiet
"$PYTHON" -c 'import himalaya, sklearn' 2>/dev/null || {
    echo "needs himalaya and scikit-learn: $PYTHON -m pip install himalaya scikit-learn" >&2; exit 2; }

"$EMOSCOPE" run bench/encoding_vs_himalaya.rhai --quiet --out "$OUT" \
    --set n_stimuli=$N --set voxels=$V --set himalaya_voxels=$HV
OMP_NUM_THREADS=${THREADS:-$(nproc)} "$PYTHON" bench/encoding_himalaya.py "$OUT/X.npy" "$OUT/Y.npy" "$OUT" "$HV"

"$PYTHON" - "$OUT" <<'PY'
import json, sys, platform, os
import numpy as np
out = sys.argv[1]
e = json.load(open(f"{out}/emoscope.json")); h = json.load(open(f"{out}/himalaya.json"))
re_, rh = np.load(f"{out}/emoscope_r.npy"), np.load(f"{out}/himalaya_r.npy")
ae, ah = np.load(f"{out}/emoscope_alphas.npy"), np.load(f"{out}/himalaya_alphas.npy")
same = np.isclose(ae, ah, rtol=1e-12).mean()
hv = h["voxels"]
per_h = h["seconds"] / hv
per_e_sub = e["seconds_subset"] / hv
per_e_all = e["seconds_all"] / e["voxels"]
print(f"stimuli {e['stimuli']}, 30 features, 100 alphas, 5 outer x 6 inner folds")
print(f"agreement on {hv} voxels: alphas identical in {same:.4%} of (fold, voxel); max |r diff| {np.abs(re_ - rh).max():.2e}")
print(f"himalaya {h['himalaya']} (numpy {h['numpy']}): {hv} voxels in {h['seconds']:.1f} s = {per_h*1e3:.1f} ms/voxel")
print(f"emoscope: {hv} voxels in {e['seconds_subset']:.2f} s = {per_e_sub*1e3:.3f} ms/voxel; "
      f"{e['voxels']} voxels in {e['seconds_all']:.1f} s = {per_e_all*1e3:.3f} ms/voxel")
print(f"speed ratio per voxel: {per_h/per_e_sub:.0f}x on the same {hv} voxels, {per_h/per_e_all:.0f}x against the {e['voxels']}-voxel run")
print(f"himalaya extrapolated to {e['voxels']} voxels: {per_h*e['voxels']/60:.0f} min; emoscope measured: {e['seconds_all']:.0f} s")
print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
PY
