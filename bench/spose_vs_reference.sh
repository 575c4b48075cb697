#!/usr/bin/env bash
# SPoSE side by side: emoscope's spose::fit against the reference PyTorch training loop
# (bench/spose_reference.py, a faithful re-implementation of ViCCo-Group/SPoSE; notes in
# bench/spose_reference.md), on the same triplets, the same settings, the same evaluation.
#
#   1. emoscope generates the problem (default: the first N_STIM = 300 stimuli of the real
#      ratings, every pair × PER_PAIR = 3 third items, judged Human-category = max_pair on the 34
#      category ratings, seeded 90/10 split) and saves train_90.npy / test_10.npy (int64, SPoSE
#      order, 0-based), the reference's --triplets-dir convention;
#   2. the reference trains on them (fixed EPOCHS, no early stopping) and writes results.json and
#      weights_sorted.npy (pruned: dims with max > 0.1, sorted by L1, |.|);
#   3. emoscope fits twice with the same settings: positivity "penalty" (the reference's soft
#      0.01·Σrelu(−X)) and "project" (emoscope's default, clamp at 0);
#   4. every final pruned embedding is scored the same way, by spose::evaluate on the test split
#      (the reference's own accuracy figures are reported too);
#   5. a table: held-out accuracy, difference from the reference in percentage points, kept dims,
#      triplets per second, wall times, throughput ratio emoscope/reference, machine and date.
#
# Exit status: 0 = done and every gated emoscope variant reached the reference's accuracy minus
# TOL_PP points; 1 = an accuracy gate failed; 2 = bad setup or a step failed.
#
# Usage (from anywhere; relative paths in the variables are taken from the current directory):
#   bench/spose_vs_reference.sh                          # the full default problem
#   N_STIM=30 EPOCHS=2 bench/spose_vs_reference.sh       # a few-second smoke run
#
# Variables (defaults in brackets):
#   problem   N_STIM [300]  PER_PAIR [3]  TEST_FRAC [0.1]  SAMPLE_SEED [1]  SPLIT_SEED [1]
#             RATINGS [../shared/data/cowen_keltner_2017_ratings.csv, from the repo root]
#             STIMULI [../shared/data/stimuli_2180.txt, from the repo root]
#             TRIPLETS_DIR: use DIR/train_90.npy and DIR/test_10.npy (or .txt) instead of
#               generating; N_ITEMS [largest index + 1] then sets the number of items
#   training  DIMS [90]  LAMBDA [0.004]  LR [0.001]  BATCH [100]  EPOCHS [20]  THREADS [2]
#             SEED [42] (both: the reference's default seed; the RNGs differ anyway)
#   gate      TOL_PP [0.5]  GATE [both]: both | penalty | project | none
#   tools     EMOSCOPE [target/release/emoscope, from the repo root]
#             PYTHON [$HOME/.cache/emoscope/torch-venv/bin/python] (needs numpy and torch)
#   output    OUT_DIR: keep everything there (triplets, logs, JSON, embeddings, summary.json);
#             otherwise a temporary directory under ${TMPDIR:-/tmp}, removed at the end unless
#             KEEP=1 or a step failed.  VERBOSE=1 streams the reference's per-epoch lines.
#
# Timing is only meaningful on an otherwise idle machine: the reference's OpenMP threads slow
# down 10-20x when another process holds a core (bench/spose_reference.md). The script prints
# the load average before and after.
set -eEuo pipefail

die() { printf 'spose_vs_reference: %s\n' "$*" >&2; exit 2; }
say() { printf '[spose_vs_reference] %s\n' "$*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# a user-given path relative to the caller's directory; defaults are relative to the repo root
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

# ---------------------------------------------------------------- settings -------------------
N_STIM=${N_STIM:-300}
PER_PAIR=${PER_PAIR:-3}
TEST_FRAC=${TEST_FRAC:-0.1}
SAMPLE_SEED=${SAMPLE_SEED:-1}
SPLIT_SEED=${SPLIT_SEED:-1}
DIMS=${DIMS:-90}
LAMBDA=${LAMBDA:-0.004}
LR=${LR:-0.001}
BATCH=${BATCH:-100}
EPOCHS=${EPOCHS:-20}
THREADS=${THREADS:-2}
SEED=${SEED:-42}
TOL_PP=${TOL_PP:-0.5}
GATE=${GATE:-both}
KEEP=${KEEP:-0}
VERBOSE=${VERBOSE:-0}

if [[ -n ${RATINGS:-} ]]; then RATINGS=$(abs "$RATINGS"); else RATINGS=$ROOT/../shared/data/cowen_keltner_2017_ratings.csv; fi
if [[ -n ${STIMULI:-} ]]; then STIMULI=$(abs "$STIMULI"); else STIMULI=$ROOT/../shared/data/stimuli_2180.txt; fi
if [[ -n ${EMOSCOPE:-} ]]; then
    case $EMOSCOPE in */*) EMOSCOPE=$(abs "$EMOSCOPE") ;; *) EMOSCOPE=$(command -v "$EMOSCOPE" || true) ;; esac
else
    EMOSCOPE=$ROOT/target/release/emoscope
fi
PYTHON=${PYTHON:-$HOME/.cache/emoscope/torch-venv/bin/python}
case $PYTHON in */*) PYTHON=$(abs "$PYTHON") ;; *) PYTHON=$(command -v "$PYTHON" || printf '%s' "$PYTHON") ;; esac
RHAI=$ROOT/bench/spose_vs_reference.rhai
REFERENCE=$ROOT/bench/spose_reference.py

is_int() { [[ $1 =~ ^[0-9]+$ ]]; }
is_num() { [[ $1 =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; }
for v in N_STIM PER_PAIR SAMPLE_SEED SPLIT_SEED DIMS BATCH EPOCHS THREADS SEED; do
    is_int "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
done
for v in TEST_FRAC LAMBDA LR TOL_PP; do
    is_num "${!v}" || die "$v must be a number (got '${!v}')"
done
(( EPOCHS >= 1 && BATCH >= 1 && DIMS >= 1 && THREADS >= 1 )) || die "EPOCHS, BATCH, DIMS and THREADS must be >= 1"
case $GATE in both | penalty | project | none) ;; *) die "GATE must be both, penalty, project or none (got '$GATE')" ;; esac
# --set parses integers as integers: keep the float parameters floats in the script
float() { case $1 in *[.eE]*) printf '%s\n' "$1" ;; *) printf '%s.0\n' "$1" ;; esac; }

# ---------------------------------------------------------------- preflight ------------------
[[ -f $RHAI ]] || die "missing $RHAI"
[[ -f $REFERENCE ]] || die "missing $REFERENCE"
[[ -n $EMOSCOPE && -x $EMOSCOPE ]] ||
    die "emoscope binary not found or not executable: '${EMOSCOPE}'. Build it (cargo build --release) or set EMOSCOPE=/path/to/emoscope"
[[ -x $PYTHON ]] ||
    die "python not found: '$PYTHON'. Set PYTHON to a python with numpy and torch, e.g.
  python3 -m venv ~/.cache/emoscope/torch-venv && ~/.cache/emoscope/torch-venv/bin/pip install numpy torch --index-url https://download.pytorch.org/whl/cpu"
if ! PY_VERSIONS=$("$PYTHON" -c 'import sys, numpy, torch; print(f"python {sys.version.split()[0]}, numpy {numpy.__version__}, torch {torch.__version__}")' 2>&1); then
    die "$PYTHON cannot import numpy and torch (the reference needs both):
$(printf '%s\n' "$PY_VERSIONS" | tail -n 3)
Install them (pip install numpy torch --index-url https://download.pytorch.org/whl/cpu) or set PYTHON"
fi
if [[ -n ${TRIPLETS_DIR:-} ]]; then
    TRIPLETS_DIR=$(abs "$TRIPLETS_DIR")
    [[ -d $TRIPLETS_DIR ]] || die "TRIPLETS_DIR $TRIPLETS_DIR is not a directory"
else
    [[ -f $RATINGS ]] || die "ratings CSV not found: $RATINGS (set RATINGS)"
    [[ -f $STIMULI ]] || die "stimulus list not found: $STIMULI (set STIMULI)"
fi

# ---------------------------------------------------------------- work directory -------------
if [[ -n ${OUT_DIR:-} ]]; then
    WORK=$(abs "$OUT_DIR")
    mkdir -p "$WORK"
    KEEP=1
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/spose_vs_reference.XXXXXX")
fi
cleanup() {
    local rc=$?
    if [[ $KEEP == 1 || $rc -eq 2 ]]; then
        say "outputs kept in $WORK"
    else
        rm -rf -- "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 2' ERR   # a failed step: status 2, outputs kept for inspection

now() { if [[ -n ${EPOCHREALTIME:-} ]]; then printf '%s\n' "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

emoscope_run() {  # emoscope_run LOGNAME --set ...
    local log=$WORK/$1.log
    shift
    if ! "$EMOSCOPE" run "$RHAI" --out "$WORK" --quiet --threads "$THREADS" "$@" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "emoscope failed (log: $log)"
    fi
}

CPU_MODEL=$(grep -m1 -i '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*:[[:space:]]*//' || true)
[[ -n $CPU_MODEL ]] || CPU_MODEL=$(uname -m)
NPROC=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || GIT_REV="$GIT_REV+dirty"
EMOSCOPE_VERSION=$("$EMOSCOPE" --version 2>/dev/null || echo emoscope)
say "machine: $NPROC cores, $CPU_MODEL; load average $LOAD_BEFORE; $DATE"
load1=${LOAD_BEFORE%% *}
if [[ $load1 != '?' ]] && awk -v l="$load1" -v n="$NPROC" 'BEGIN { exit !(l > 0.5 * n) }'; then
    say "warning: load average $load1 on $NPROC cores: timings will not be those of an idle machine"
fi

# ---------------------------------------------------------------- 1. the triplets ------------
if [[ -n ${TRIPLETS_DIR:-} ]]; then
    TRIP=$TRIPLETS_DIR
    ext=npy
    [[ -f $TRIP/train_90.npy ]] || ext=txt
    TRAIN=$TRIP/train_90.$ext
    TEST=$TRIP/test_10.$ext
    [[ -f $TRAIN && -f $TEST ]] || die "TRIPLETS_DIR needs train_90.npy and test_10.npy (or .txt)"
    say "1/5 using the triplets in $TRIP"
    if [[ -z ${N_ITEMS:-} ]]; then
        N_ITEMS=$("$PYTHON" - "$TRAIN" "$TEST" <<'EOF'
import sys, numpy as np
load = lambda p: np.load(p) if p.endswith('.npy') else np.loadtxt(p)
print(int(max(load(p).max() for p in sys.argv[1:])) + 1)
EOF
)
    fi
    is_int "$N_ITEMS" || die "N_ITEMS must be an integer (got '$N_ITEMS')"
    N_STIM=$N_ITEMS
    PROBLEM="triplets from $TRIP, $N_STIM items"
else
    say "1/5 triplets: first $N_STIM stimuli, all pairs x $PER_PAIR, Human-category (max_pair), $TEST_FRAC test"
    emoscope_run prepare --set mode=prepare --set "n_stim=$N_STIM" --set "ratings=$RATINGS" \
        --set "stimuli_list=$STIMULI" --set "per_pair=$PER_PAIR" --set "test_frac=$(float "$TEST_FRAC")" \
        --set "sample_seed=$SAMPLE_SEED" --set "split_seed=$SPLIT_SEED"
    TRIP=$WORK/triplets
    TRAIN=$TRIP/train_90.npy
    TEST=$TRIP/test_10.npy
    PROBLEM="first $N_STIM stimuli of $(basename "$STIMULI"), Human-category (max_pair on the 34 categories), all pairs x $PER_PAIR third items, split seed $SPLIT_SEED"
fi

read -r N_TRAIN N_TEST < <("$PYTHON" - "$TRAIN" "$TEST" <<'EOF'
import sys, numpy as np
load = lambda p: np.load(p) if p.endswith('.npy') else np.loadtxt(p)
print(*(len(load(p).reshape(-1, 3)) for p in sys.argv[1:]))
EOF
) || die "cannot read $TRAIN / $TEST"
(( N_TRAIN >= BATCH )) || die "only $N_TRAIN train triplets, fewer than one batch of $BATCH: raise N_STIM or lower BATCH"
(( N_TEST >= BATCH )) || say "warning: $N_TEST test triplets < BATCH $BATCH: the reference's own test_acc covers no batch (NaN); the same-way accuracy is unaffected"

# ---------------------------------------------------------------- 2. the reference -----------
say "2/5 reference (torch, one-hot batches), $EPOCHS epochs, $THREADS threads"
ref_cmd=("$PYTHON" -u "$REFERENCE" --train "$TRAIN" --test "$TEST" --n-items "$N_STIM"
    --lmbda "$LAMBDA" --embed-dim "$DIMS" --lr "$LR" --batch-size "$BATCH" --epochs "$EPOCHS"
    --seed "$SEED" --threads "$THREADS" --out "$WORK/reference")
t0=$(now)
if [[ $VERBOSE == 1 ]]; then
    "${ref_cmd[@]}" 2>&1 | tee "$WORK/reference.log" >&2 || { tail -n 20 "$WORK/reference.log" >&2; die "the reference failed (log: $WORK/reference.log)"; }
else
    "${ref_cmd[@]}" >"$WORK/reference.log" 2>&1 || { tail -n 20 "$WORK/reference.log" >&2; die "the reference failed (log: $WORK/reference.log)"; }
fi
REF_PROC=$(elapsed "$t0" "$(now)")
[[ -f $WORK/reference/results.json && -f $WORK/reference/weights_sorted.npy ]] ||
    die "the reference wrote no results.json / weights_sorted.npy (log: $WORK/reference.log)"

# ---------------------------------------------------------------- 3. emoscope ---------------
declare -A EMO_PROC
for pos in penalty project; do
    say "3/5 emoscope spose::fit, positivity $pos"
    t0=$(now)
    emoscope_run "emoscope_$pos" --set mode=fit --set "n_stim=$N_STIM" \
        --set "train_file=$TRAIN" --set "test_file=$TEST" \
        --set "dims=$DIMS" --set "lmbda=$(float "$LAMBDA")" --set "lr=$(float "$LR")" --set "batch=$BATCH" \
        --set "epochs=$EPOCHS" --set "seed=$SEED" --set "threads=$THREADS" --set "positivity=$pos"
    EMO_PROC[$pos]=$(elapsed "$t0" "$(now)")
done

# ---------------------------------------------------------------- 4. same-way evaluation ----
say "4/5 scoring the reference's weights_sorted.npy with spose::evaluate"
emoscope_run eval_reference --set mode=eval --set "test_file=$TEST" \
    --set "weights=$WORK/reference/weights_sorted.npy" --set name=reference
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')

# ---------------------------------------------------------------- 5. the table --------------
say "5/5 summary"
status=0
WORK=$WORK GATE=$GATE TOL_PP=$TOL_PP PROBLEM=$PROBLEM NPROC=$NPROC CPU_MODEL=$CPU_MODEL \
DATE=$DATE LOAD_BEFORE=$LOAD_BEFORE LOAD_AFTER=$LOAD_AFTER GIT_REV=$GIT_REV \
EMOSCOPE_VERSION=$EMOSCOPE_VERSION PY_VERSIONS=$PY_VERSIONS REF_PROC=$REF_PROC \
PEN_PROC=${EMO_PROC[penalty]} PRO_PROC=${EMO_PROC[project]} \
SETTINGS="dims $DIMS, lambda $LAMBDA, lr $LR, batch $BATCH, epochs $EPOCHS (fixed, no early stopping), $THREADS threads, seed $SEED" \
"$PYTHON" - <<'EOF' || status=$?
import json, math, os, sys

E = os.environ
W = E['WORK']
load = lambda name: json.load(open(os.path.join(W, name)))
ref = load('reference/results.json')
ref_eval = load('eval_reference.json')['evaluate']
emo = {p: load(f'emoscope_{p}.json') for p in ('penalty', 'project')}
tol, gate = float(E['TOL_PP']), E['GATE']

def acc(ev):
    a = ev.get('accuracy')
    return float('nan') if a is None else float(a)

ref_acc = acc(ref_eval)
# throughput on one footing: triplets trained / training seconds including the per-epoch
# test evaluation (the reference drops the last partial batch of each epoch; counted as run)
ref_tps = ref['triplets_trained'] / ref['wall_seconds']
rows = [('reference (torch)', ref_acc, None, ref['kept_dims'], ref['epochs_run'],
         ref['wall_seconds'], ref_tps, float(E['REF_PROC']))]
for p, proc in (('penalty', E['PEN_PROC']), ('project', E['PRO_PROC'])):
    e = emo[p]
    a = acc(e['evaluate'])
    rows.append((f'emoscope {p}', a, 100 * (a - ref_acc), e['kept_dims'], e['epochs'],
                 e['fit_seconds'], e['triplets_per_second'], float(proc)))

n_train, n_test = ref['n_train'], ref['n_test']
print()
print('SPoSE side by side: emoscope spose::fit vs the reference PyTorch loop (bench/spose_reference.py)')
print(f"problem:  {E['PROBLEM']}; {n_train + n_test:,} triplets, train {n_train:,} / test {n_test:,}")
print(f"settings: {E['SETTINGS']}")
print(f"machine:  {E['NPROC']} cores (nproc), {E['CPU_MODEL']}; load average {E['LOAD_BEFORE']} before, {E['LOAD_AFTER']} after")
print(f"date:     {E['DATE']}; emoscope {E['EMOSCOPE_VERSION'].split()[-1]} (git {E['GIT_REV']}); {E['PY_VERSIONS']}")
print()
hdr = ('', 'held-out acc', 'diff (pp)', 'kept dims', 'epochs', 'fit s', 'triplets/s', 'process s')
fmt = '{:<19} {:>12} {:>10} {:>9} {:>6} {:>9} {:>11} {:>9}'
print(fmt.format(*hdr))
for name, a, d, k, ep, s, tps, proc in rows:
    print(fmt.format(name, 'n/a' if math.isnan(a) else f'{a:.4f}',
                     '-' if d is None else ('n/a' if math.isnan(d) else f'{d:+.2f}'),
                     k, ep, f'{s:.2f}' if s >= 10 else f'{s:.3f}', f'{tps:,.0f}', f'{proc:.2f}'))
print()
print('held-out acc: spose::evaluate on each pruned final embedding (dims with max > 0.1; the '
      "reference's weights_sorted.npy), all test triplets, ties wrong; diff = emoscope - reference.")
print(f"reference's own figures (unpruned W): test_acc {ref['test_acc']:.4f} (its rule: full test "
      f"batches only), test_acc_all {ref['test_acc_all']:.4f}; train-only {ref['triplets_per_s']:,.0f} triplets/s")
print("emoscope's own figures (last epoch, unpruned): " + ', '.join(
    f"{p} {emo[p]['own_test_accuracy']:.4f}" for p in emo))
print('triplets/s = triplets trained / fit seconds, per-epoch test evaluation included (both sides)')
ratios = {p: rows[i + 1][6] / ref_tps for i, p in enumerate(emo)}
print('throughput ratio emoscope/reference: ' + ', '.join(f'{p} {r:.2f}x' for p, r in ratios.items()))

gated = {'both': ['penalty', 'project'], 'none': []}.get(gate, [gate])
# an accuracy that cannot be measured (no dimension kept, on either side) fails the gate too
failed = [p for p in gated
          if not (acc(emo[p]['evaluate']) >= ref_acc - tol / 100)]
why = ' (accuracy n/a: no dimension kept)' if failed and (
    math.isnan(ref_acc) or any(math.isnan(acc(emo[p]['evaluate'])) for p in failed)) else ''
verdict = 'off' if not gated else ('FAIL: ' + ', '.join(failed) + why if failed else 'pass')
print(f"gate (emoscope >= reference - {tol} pp; {gate}): {verdict}")

summary = dict(problem=E['PROBLEM'], settings=E['SETTINGS'], n_train=n_train, n_test=n_test,
               machine=dict(nproc=int(E['NPROC']), cpu=E['CPU_MODEL'], load_before=E['LOAD_BEFORE'],
                            load_after=E['LOAD_AFTER']), date=E['DATE'], git=E['GIT_REV'],
               versions=E['PY_VERSIONS'],
               rows=[dict(zip(('name', 'accuracy', 'diff_pp', 'kept_dims', 'epochs', 'fit_seconds',
                               'triplets_per_second', 'process_seconds'), r)) for r in rows],
               reference_own=dict(test_acc=ref['test_acc'], test_acc_all=ref['test_acc_all'],
                                  train_only_triplets_per_second=ref['triplets_per_s']),
               throughput_ratio=ratios, gate=dict(mode=gate, tol_pp=tol, failed=failed))
with open(os.path.join(W, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=1, default=lambda x: None)
sys.exit(1 if failed else 0)
EOF
case $status in
    0) ;;
    1) say "accuracy gate failed"; exit 1 ;;
    *) die "summary failed (status $status)" ;;
esac
