#!/usr/bin/env bash
# The affect plugin side by side with the Python tools the field uses, on the same input:
# affect::graph against networkx (Louvain communities and their modularity, PageRank) and
# affect::tsne against scikit-learn's TSNE (Barnes-Hut and exact) and openTSNE (trustworthiness
# at k = 5 and 10, and time).
#
#   1. builds the release binary (unless EMOSCOPE is given);
#   2. bench/affect_vs_python.rhai writes X.npy (INPUT, by default the SPoSE embedding of the
#      human ratings at /tmp/hc2/human_category_spose.npy, 2,180 × 32, when present; otherwise
#      synth::latent with STIMULI stimuli), runs affect::graph and affect::tsne on it, timed;
#   3. bench/affect_python.py runs networkx, scikit-learn and openTSNE on the same X.npy;
#   4. compares. Gates: the same edges; networkx's modularity of emoscope's partition equals
#      emoscope's (|diff| < 1e-12); PageRank max |diff| < 1e-6; emoscope's trustworthiness equals
#      sklearn.manifold.trustworthiness of emoscope's map (|diff| < 1e-12).
#
# Usage: bench/affect_vs_python.sh
#        INPUT= STIMULI=500 ITERATIONS=300 SKIP_EXACT=1 bench/affect_vs_python.sh   (quick run)
# Variables: INPUT [/tmp/hc2/human_category_spose.npy if present, else synthetic] STIMULI [2180]
#            SEED [0] THRESHOLD [0.2] PERPLEXITY [30] ITERATIONS [1000] THREADS [nproc]
#            SKIP_EXACT [0] (skip sklearn's exact t-SNE, the slowest peer)
#            EMOSCOPE [target/release/emoscope, built here]
#            PYTHON [~/.cache/emoscope/bench-venv/bin/python] (numpy, scikit-learn, networkx;
#            openTSNE optional: $PYTHON -m pip install networkx openTSNE)
#            OUT_DIR (keep outputs there; otherwise a temporary directory, removed unless KEEP=1)
# Exit: 0 pass, 1 a gate failed, 2 setup or a step failed.
set -eEuo pipefail
die() { printf 'affect_vs_python: %s\n' "$*" >&2; exit 2; }
say() { printf '[affect_vs_python] %s\n' "$*" >&2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

DEFAULT_INPUT=/tmp/hc2/human_category_spose.npy
if [[ -z ${INPUT+x} ]]; then
    if [[ -f $DEFAULT_INPUT ]]; then INPUT=$DEFAULT_INPUT; else INPUT=; fi
fi
STIMULI=${STIMULI:-2180}
SEED=${SEED:-0}
THRESHOLD=${THRESHOLD:-0.2}
PERPLEXITY=${PERPLEXITY:-30}
ITERATIONS=${ITERATIONS:-1000}
THREADS=${THREADS:-$(nproc)}
SKIP_EXACT=${SKIP_EXACT:-0}
KEEP=${KEEP:-0}
PYTHON=${PYTHON:-$HOME/.cache/emoscope/bench-venv/bin/python}
for v in STIMULI SEED ITERATIONS THREADS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
for v in THRESHOLD PERPLEXITY; do
    [[ ${!v} =~ ^[0-9]+(\.[0-9]*)?$ ]] || die "$v must be a non-negative number (got '${!v}')"
done
[[ -z $INPUT || -f $INPUT ]] || die "INPUT not found: $INPUT"
[[ -x $PYTHON ]] || die "python not found: $PYTHON (set PYTHON to a python with numpy, scikit-learn, networkx)"
"$PYTHON" -c 'import networkx, sklearn, numpy' 2>/dev/null ||
    die "$PYTHON cannot import networkx and scikit-learn: $PYTHON -m pip install networkx scikit-learn openTSNE"

if [[ -z ${EMOSCOPE:-} ]]; then
    say "building the release binary"
    (cd "$ROOT" && cargo build --release -p emoscope --quiet) || die "cargo build failed"
    EMOSCOPE=$ROOT/target/release/emoscope
fi
[[ -x $EMOSCOPE ]] || die "emoscope binary not executable: $EMOSCOPE"

if [[ -n ${OUT_DIR:-} ]]; then WORK=$OUT_DIR; mkdir -p "$WORK"; KEEP=1; else WORK=$(mktemp -d "${TMPDIR:-/tmp}/affect_bench.XXXXXX"); fi
cleanup() { local rc=$?; if [[ $KEEP == 1 || $rc -eq 2 ]]; then say "outputs in $WORK"; else rm -rf -- "$WORK"; fi; }
trap cleanup EXIT
trap 'exit 2' ERR

NPROC=$(nproc)
CPU=$(grep -m1 -i '^model name' /proc/cpuinfo | sed 's/^[^:]*:[[:space:]]*//' || uname -m)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine: $NPROC cores, $CPU; load $LOAD_BEFORE"
say "input: ${INPUT:-synth::latent ($STIMULI stimuli, seed $SEED)}"

say "1/3 emoscope: affect::graph and affect::tsne ($THREADS threads)"
"$EMOSCOPE" run "$ROOT/bench/affect_vs_python.rhai" --out "$WORK" --quiet --threads "$THREADS" \
    --set "input=$INPUT" --set "stimuli=$STIMULI" --set "seed=$SEED" --set "threshold=$THRESHOLD" \
    --set "perplexity=$PERPLEXITY" --set "iterations=$ITERATIONS" >"$WORK/emoscope.log" 2>&1 ||
    { tail -n 20 "$WORK/emoscope.log" >&2; die "emoscope failed (log: $WORK/emoscope.log)"; }

say "2/3 networkx, scikit-learn, openTSNE ($THREADS threads)"
EXTRA=()
[[ $SKIP_EXACT == 1 ]] && EXTRA+=(--skip-exact)
OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS NUMBA_NUM_THREADS=$THREADS \
    "$PYTHON" "$ROOT/bench/affect_python.py" --work "$WORK" --threshold "$THRESHOLD" --seed "$SEED" \
    --perplexity "$PERPLEXITY" --iterations "$ITERATIONS" --threads "$THREADS" "${EXTRA[@]}" \
    >"$WORK/python.log" 2>&1 ||
    { tail -n 20 "$WORK/python.log" >&2; die "python peers failed (log: $WORK/python.log)"; }
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

say "3/3 comparison"
WORK=$WORK NPROC=$NPROC CPU=$CPU LOAD_BEFORE=$LOAD_BEFORE LOAD_AFTER=$LOAD_AFTER THREADS=$THREADS \
INPUT_NAME=${INPUT:-synth::latent} "$PYTHON" - <<'PY'
import json, os, sys
E = os.environ
W = E["WORK"]
emo = json.load(open(os.path.join(W, "emoscope.json")))
g = json.load(open(os.path.join(W, "graph.json")))
py = json.load(open(os.path.join(W, "python.json")))
pg = py["graph"]
print()
print("affect vs Python peers:", ", ".join(f"{k} {v}" for k, v in py["versions"].items()),
      (", openTSNE " + py["tsne"]["openTSNE"]["version"]) if "openTSNE" in py["tsne"] else "")
print(f"input: {E['INPUT_NAME']}, {emo['stimuli']} stimuli x {emo['components']} components")
print(f"machine: {E['NPROC']} cores, {E['CPU']}; load {E['LOAD_BEFORE']} before, {E['LOAD_AFTER']} after; {E['THREADS']} threads")
print()
print(f"graph (|r| > {g['threshold']}): {pg['nodes']} nodes, {pg['edges']} edges, {pg['isolated']} isolated; "
      f"same nodes {pg['same_nodes']}, same edges {pg['same_edges']}, max |r diff| {pg['max_r_diff']:.2g}")
ms = pg["networkx_modularity_seeds"]
print(f"  Louvain modularity: emoscope {g['modularity']:.6f} ({g['n_communities']} communities, seed {g['seed']}); "
      f"networkx {pg['networkx_modularity']:.6f} ({pg['networkx_communities']} communities, seed {g['seed']}); "
      f"networkx over {ms['n']} seeds {ms['min']:.6f}..{ms['max']:.6f} (mean {ms['mean']:.6f})")
nan = lambda v: v is None or v != v
mod_diff = 0.0 if nan(pg["networkx_modularity_of_ours"]) and nan(g["modularity"]) else abs(pg["networkx_modularity_of_ours"] - g["modularity"])
print(f"  networkx's modularity of emoscope's partition: {pg['networkx_modularity_of_ours']:.12f} (|diff| {mod_diff:.2g}); "
      f"ARI emoscope vs networkx partition {pg['ari_ours_vs_networkx']:.3f}")
print(f"  PageRank max |diff| vs networkx: {pg['pagerank_max_abs_diff']:.2g}")
print(f"  time: emoscope graph (r, edges, Louvain, PageRank) {1e3 * g['seconds']:.2f} ms; "
      f"networkx Louvain {1e3 * pg['seconds']['louvain']:.2f} ms + PageRank {1e3 * pg['seconds']['pagerank']:.2f} ms")
print()
trust_diff = max(abs(emo["trust5"] - py["emoscope_trust_by_sklearn"]["k5"]),
                 abs(emo["trust10"] - py["emoscope_trust_by_sklearn"]["k10"]))
rows = [("emoscope affect::tsne (exact)", emo["seconds"], emo["trust5"], emo["trust10"], emo["kl_divergence"], emo["iterations"])]
for name, label in [("sklearn_exact", "scikit-learn TSNE exact"), ("sklearn_barnes_hut", "scikit-learn TSNE Barnes-Hut"),
                    ("openTSNE", "openTSNE (FFT)")]:
    if name in py["tsne"]:
        r = py["tsne"][name]
        rows.append((label, r["seconds"], r["k5"], r["k10"], r["kl_divergence"], r["iterations"]))
print(f"t-SNE (perplexity 30, init pca, learning rate auto):")
print(f"| | seconds | ratio to emoscope | trustworthiness k=5 | k=10 | KL | iterations |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
for label, s, t5, t10, kl, it in rows:
    print(f"| {label} | {s:.1f} | {s / emo['seconds']:.2f} | {t5:.4f} | {t10:.4f} | {kl:.4f} | {it} |")
print(f"emoscope's trustworthiness vs sklearn.manifold.trustworthiness of emoscope's map: max |diff| {trust_diff:.2g}")
ok = (pg["same_nodes"] and pg["same_edges"] and pg["max_r_diff"] < 1e-12 and mod_diff < 1e-12
      and pg["pagerank_max_abs_diff"] < 1e-6 and trust_diff < 1e-12)
print("gates (same graph, modularity |diff| < 1e-12, PageRank |diff| < 1e-6, trustworthiness |diff| < 1e-12):",
      "pass" if ok else "FAIL")
json.dump(dict(emoscope=emo, graph=g, python=py), open(os.path.join(W, "summary.json"), "w"), indent=1)
sys.exit(0 if ok else 1)
PY
