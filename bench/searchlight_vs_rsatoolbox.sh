#!/usr/bin/env bash
# Searchlight RSA side by side: emoscope's rsa::searchlight against rsatoolbox's own pipeline
# (get_volume_searchlight, get_searchlight_RDMs, evaluate_models_searchlight with eval_fixed and
# method "spearman"), on one synthetic subject and its model RSM.
#
#   1. builds the release binary (unless EMOSCOPE is given);
#   2. bench/searchlight_vs_rsatoolbox.rhai writes the subject (STIMULI stimuli, grid GRID) and the
#      model RSM to subject.npz and runs rsa::searchlight over the whole mask, timed in the script;
#   3. bench/searchlight_rsatoolbox.py runs rsatoolbox on CENTRES centres spread over the valid
#      ones (single process, n_jobs=1), timed;
#   4. compares the valid-centre sets and the maps on those centres (gate: max |diff| < 1e-4) and
#      prints per-centre times, their ratio, and whole-brain extrapolations.
#
# Usage: bench/searchlight_vs_rsatoolbox.sh            (defaults below)
#        STIMULI=200 CENTRES=20 bench/searchlight_vs_rsatoolbox.sh   (a quick smoke run)
# Variables: STIMULI [1000] GRID [20,24,20] RADIUS [3] SEED [1] CENTRES [200] THREADS [nproc]
#            PRECISION [f32] WHOLE_BRAIN [50000] (centres of a whole-brain mask, for the
#            extrapolation) EMOSCOPE [target/release/emoscope, built here]
#            PYTHON [~/.cache/emoscope/bench-venv/bin/python] (numpy, scipy, rsatoolbox)
#            OUT_DIR (keep outputs there; otherwise a temporary directory, removed unless KEEP=1)
# Exit: 0 pass, 1 the maps disagree, 2 setup or a step failed.
set -eEuo pipefail
die() { printf 'searchlight_vs_rsatoolbox: %s\n' "$*" >&2; exit 2; }
say() { printf '[searchlight_vs_rsatoolbox] %s\n' "$*" >&2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

STIMULI=${STIMULI:-1000}
GRID=${GRID:-20,24,20}
RADIUS=${RADIUS:-3}
SEED=${SEED:-1}
CENTRES=${CENTRES:-200}
THREADS=${THREADS:-$(nproc)}
PRECISION=${PRECISION:-f32}
WHOLE_BRAIN=${WHOLE_BRAIN:-50000}
KEEP=${KEEP:-0}
PYTHON=${PYTHON:-$HOME/.cache/emoscope/bench-venv/bin/python}
IFS=, read -r GX GY GZ <<<"$GRID"
for v in STIMULI RADIUS SEED CENTRES THREADS WHOLE_BRAIN GX GY GZ; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
[[ -x $PYTHON ]] || die "python not found: $PYTHON (set PYTHON to a python with numpy, scipy and rsatoolbox)"
"$PYTHON" -c 'import rsatoolbox, numpy, scipy' 2>/dev/null ||
    die "$PYTHON cannot import rsatoolbox: $PYTHON -m pip install rsatoolbox"

if [[ -z ${EMOSCOPE:-} ]]; then
    say "building the release binary"
    (cd "$ROOT" && cargo build --release -p emoscope --quiet) || die "cargo build failed"
    EMOSCOPE=$ROOT/target/release/emoscope
fi
[[ -x $EMOSCOPE ]] || die "emoscope binary not executable: $EMOSCOPE"

if [[ -n ${OUT_DIR:-} ]]; then WORK=$OUT_DIR; mkdir -p "$WORK"; KEEP=1; else WORK=$(mktemp -d "${TMPDIR:-/tmp}/searchlight_bench.XXXXXX"); fi
cleanup() { local rc=$?; if [[ $KEEP == 1 || $rc -eq 2 ]]; then say "outputs in $WORK"; else rm -rf -- "$WORK"; fi; }
trap cleanup EXIT
trap 'exit 2' ERR

NPROC=$(nproc)
CPU=$(grep -m1 -i '^model name' /proc/cpuinfo | sed 's/^[^:]*:[[:space:]]*//' || uname -m)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine: $NPROC cores, $CPU; load $LOAD_BEFORE"

say "1/3 emoscope: subject ($STIMULI stimuli, grid $GRID) and rsa::searchlight over the whole mask ($THREADS threads)"
"$EMOSCOPE" run "$ROOT/bench/searchlight_vs_rsatoolbox.rhai" --out "$WORK" --quiet --threads "$THREADS" \
    --set "stimuli=$STIMULI" --set "gx=$GX" --set "gy=$GY" --set "gz=$GZ" --set "seed=$SEED" \
    --set "radius=$RADIUS" --set "precision=$PRECISION" >"$WORK/emoscope.log" 2>&1 ||
    { tail -n 20 "$WORK/emoscope.log" >&2; die "emoscope failed (log: $WORK/emoscope.log)"; }

say "2/3 rsatoolbox on $CENTRES centres (one process)"
"$PYTHON" "$ROOT/bench/searchlight_rsatoolbox.py" --npz "$WORK/subject.npz" --radius "$RADIUS" \
    --centres "$CENTRES" --out "$WORK/rsatoolbox.json" >"$WORK/rsatoolbox.log" 2>&1 ||
    { tail -n 20 "$WORK/rsatoolbox.log" >&2; die "rsatoolbox failed (log: $WORK/rsatoolbox.log)"; }
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

say "3/3 comparison"
WORK=$WORK NPROC=$NPROC CPU=$CPU LOAD_BEFORE=$LOAD_BEFORE LOAD_AFTER=$LOAD_AFTER THREADS=$THREADS \
WHOLE_BRAIN=$WHOLE_BRAIN "$PYTHON" - <<'PY'
import json, os, sys
import numpy as np
E = os.environ
W = E["WORK"]
emo = json.load(open(os.path.join(W, "emoscope.json")))
rt = json.load(open(os.path.join(W, "rsatoolbox.json")))
r = np.load(os.path.join(W, "r.npy"))
ours_valid = sorted(np.flatnonzero(~np.isnan(r)).tolist())
same_centres = ours_valid == rt["valid"]
idx = np.array(rt["centres"])
diff = np.abs(r[idx] - np.array(rt["r"]))
maxdiff = float(np.nanmax(diff)) if len(diff) else float("nan")
nan_mismatch = int(np.isnan(diff).sum())
e_pc = emo["seconds"] / max(emo["centres"], 1)
k = len(rt["centres"])
rt_pc = (rt["seconds"]["rdms"] + rt["seconds"]["evaluate"]) / k
ratio = rt_pc / e_pc
wb = int(E["WHOLE_BRAIN"])
fmt = lambda s: f"{s:,.1f} s" if s < 3600 else f"{s / 3600:,.2f} h"
print()
print("Searchlight RSA: emoscope rsa::searchlight vs rsatoolbox", rt["rsatoolbox"])
print(f"problem: {emo['stimuli']} stimuli, grid {rt['grid']}, {emo['voxels']} voxels, radius {emo['radius']} "
      f"(strict <), threshold 1.0, Pearson RSM per sphere, Spearman vs 1 model; precision {emo['precision']}")
print(f"machine: {E['NPROC']} cores, {E['CPU']}; load {E['LOAD_BEFORE']} before, {E['LOAD_AFTER']} after")
print(f"valid centres: emoscope {emo['centres']}, rsatoolbox {rt['valid_centres']}; same set: {same_centres}")
print(f"sphere sizes on the compared centres: {min(rt['sphere_sizes'])}..{max(rt['sphere_sizes'])}")
print(f"emoscope:   whole mask {emo['seconds']:.2f} s for {emo['centres']} centres ({E['THREADS']} threads) = {1e3 * e_pc:.2f} ms/centre")
print(f"rsatoolbox: {k} centres: RDMs {rt['seconds']['rdms']:.1f} s + evaluation {rt['seconds']['evaluate']:.1f} s "
      f"= {1e3 * rt_pc:.0f} ms/centre (one process); spheres (whole mask) {rt['seconds']['spheres']:.1f} s")
print(f"per-centre ratio rsatoolbox/emoscope: {ratio:.1f}x")
print(f"extrapolated, this mask ({emo['centres']} centres): emoscope {fmt(emo['seconds'])}, rsatoolbox {fmt(rt_pc * emo['centres'])}")
print(f"extrapolated, whole brain ({wb:,} centres, {emo['stimuli']} stimuli, radius {emo['radius']}): "
      f"emoscope {fmt(e_pc * wb)}, rsatoolbox {fmt(rt_pc * wb)}")
print(f"agreement on the {k} centres: max |r_emoscope - r_rsatoolbox| = {maxdiff:.3g}; NaN mismatches {nan_mismatch}")
ok = same_centres and nan_mismatch == 0 and maxdiff < 1e-4
print("gate (same centres, max |diff| < 1e-4):", "pass" if ok else "FAIL")
json.dump(dict(emoscope=emo, rsatoolbox={k_: v for k_, v in rt.items() if k_ != "valid"},
               ratio=ratio, ms_per_centre=dict(emoscope=1e3 * e_pc, rsatoolbox=1e3 * rt_pc),
               max_abs_diff=maxdiff, same_centres=same_centres),
          open(os.path.join(W, "summary.json"), "w"), indent=1)
sys.exit(0 if ok else 1)
PY
