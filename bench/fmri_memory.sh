#!/usr/bin/env bash
# Peak resident memory of fmri::load, align, zscore, roi_table and save_map on a study-sized
# dataset (2,180 stimuli × 50,000 voxels, f32: 0.44 GB), for two emoscope binaries side by side
# (issue 16: datasets as tensor handles instead of copies).
#
#   1. writes the dataset with numpy: data.npz (data, coords on a 50 × 50 × z grid, ten
#      roi_<name> flag vectors; np.savez, uncompressed), rows.txt (the label of each row, in a
#      shuffled order), stimuli.txt (the study's order) and values.npy (one f32 per voxel);
#   2. runs bench/fmri_memory.rhai once per stage and binary under /usr/bin/time, stage N doing
#      stages 1..N (0: the binary starting and doing nothing; 1: load; 2: + align, a reorder;
#      3: + zscore; 4: + roi_table and save_map), and reads "Maximum resident set size";
#   3. runs stages 2-4 again under a monitor that resets the process's peak counter (writes 5
#      to /proc/PID/clear_refs) once fmri::load has returned (the script writes loaded.json) and
#      reads VmHWM every millisecond: the peak of the steps after the load, whose own transient
#      (io::npy::read_npz holds a member's bytes beside the parsed array) would hide them;
#   4. prints a table: each stage's peak RSS, and the peak as a multiple of the matrix, for
#      BEFORE and AFTER.
#
# Usage: bench/fmri_memory.sh                               (defaults below)
#        STIMULI=200 VOXELS=5000 bench/fmri_memory.sh       (a quick smoke run)
# Variables: STIMULI [2180] VOXELS [50000] SEED [1]
#            AFTER [the release binary, built here unless given] BEFORE [unset: AFTER only]
#            PYTHON [~/.cache/emoscope/torch-venv/bin/python, else python3] (needs numpy)
#            OUT_DIR (keep outputs there; otherwise a temporary directory, removed unless KEEP=1)
# A libtorch build needs LD_LIBRARY_PATH to find libtorch (source /tmp/torchenv.sh or the like).
# Exit: 0 done (AFTER's peak after the load, all steps run, less its start, is under 2.1× the
# matrix: two matrices, the floor for a step that changes the data), 1 it is not,
# 2 setup or a run failed.
set -eEuo pipefail
die() { printf 'fmri_memory: %s\n' "$*" >&2; exit 2; }
say() { printf '[fmri_memory] %s\n' "$*" >&2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

STIMULI=${STIMULI:-2180}
VOXELS=${VOXELS:-50000}
SEED=${SEED:-1}
KEEP=${KEEP:-0}
for v in STIMULI VOXELS SEED; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
if [[ -z ${PYTHON:-} ]]; then
    PYTHON=$HOME/.cache/emoscope/torch-venv/bin/python
    [[ -x $PYTHON ]] || PYTHON=python3
fi
"$PYTHON" -c 'import numpy' 2>/dev/null || die "$PYTHON cannot import numpy (set PYTHON)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is needed: apt-get install time"

if [[ -z ${AFTER:-} ]]; then
    say "building the release binary"
    (cd "$ROOT" && cargo build --release -p emoscope --quiet) || die "cargo build failed"
    AFTER=${CARGO_TARGET_DIR:-$ROOT/target}/release/emoscope
fi
BINARIES=()
[[ -n ${BEFORE:-} ]] && BINARIES+=(before)
BINARIES+=(after)
for b in "${BINARIES[@]}"; do
    bin=${b^^}
    [[ -x ${!bin} ]] || die "$bin binary not executable: ${!bin}"
done

if [[ -n ${OUT_DIR:-} ]]; then WORK=$OUT_DIR; mkdir -p "$WORK"; KEEP=1; else WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmri_memory.XXXXXX"); fi
cleanup() { local rc=$?; if [[ $KEEP == 1 || $rc -eq 2 ]]; then say "outputs in $WORK"; else rm -rf -- "$WORK"; fi; }
trap cleanup EXIT
trap 'exit 2' ERR

say "machine: $(nproc) cores, $(grep -m1 -i '^model name' /proc/cpuinfo | sed 's/^[^:]*:[[:space:]]*//'), $(free -g | awk '/^Mem:/{print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
say "writing a $STIMULI × $VOXELS f32 dataset to $WORK"
"$PYTHON" - "$WORK" "$STIMULI" "$VOXELS" "$SEED" <<'PY'
import sys, numpy as np
work, n, v, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(seed)
grid = (50, 50, -(-v // 2500))
coords = np.stack(np.unravel_index(np.arange(v), grid), axis=1).astype(np.int64)
members = {"data": rng.standard_normal((n, v), dtype=np.float32), "coords": coords}
for r, block in enumerate(np.array_split(np.arange(v), 10)):
    flags = np.zeros(v, dtype=np.uint8)
    flags[block] = 1
    members[f"roi_r{r}"] = flags
np.savez(f"{work}/data.npz", **members)
names = [f"stim_{i:05d}.mp4" for i in range(n)]
with open(f"{work}/stimuli.txt", "w") as f:
    f.write("\n".join(names) + "\n")
with open(f"{work}/rows.txt", "w") as f:
    f.write("\n".join(names[i] for i in rng.permutation(n)) + "\n")
np.save(f"{work}/values.npy", rng.standard_normal(v, dtype=np.float32))
PY
MATRIX=$((STIMULI * VOXELS * 4))
say "the matrix: $MATRIX bytes"

cat >"$WORK/monitor.py" <<'PY'
# Run a command; once MARKER exists, reset its peak RSS counter; print the peak (bytes) seen
# after the reset, from VmHWM polled every millisecond until it exits.
import os, subprocess, sys, time
marker, cmd = sys.argv[1], sys.argv[2:]
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
reset, peak = False, 0
while p.poll() is None:
    try:
        if not reset and os.path.exists(marker):
            with open(f"/proc/{p.pid}/clear_refs", "w") as f:
                f.write("5")
            reset = True
        if reset:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
    except (FileNotFoundError, ProcessLookupError):
        pass
    time.sleep(0.001)
if p.returncode != 0 or not reset:
    sys.exit(f"monitor: exit {p.returncode}, reset {reset}")
print(peak)
PY

declare -A PEAK SECS STEPS
for b in "${BINARIES[@]}"; do
    bin=${b^^}
    for stage in 0 1 2 3 4; do
        log=$WORK/$b.$stage.time
        /usr/bin/time -v -o "$log" "${!bin}" run "$ROOT/bench/fmri_memory.rhai" --quiet \
            --out "$WORK/out-$b-$stage" --set "dir=$WORK" --set "stage=$stage" ||
            die "$b, stage $stage failed (see $log)"
        PEAK[$b.$stage]=$(awk -F': ' '/Maximum resident set size/{print $2 * 1024}' "$log")
        SECS[$b.$stage]=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$log")
        say "$b stage $stage: peak ${PEAK[$b.$stage]} bytes, ${SECS[$b.$stage]}"
        if ((stage >= 2)); then
            o=$WORK/steps-$b-$stage
            STEPS[$b.$stage]=$("$PYTHON" "$WORK/monitor.py" "$o/loaded.json" "${!bin}" run \
                "$ROOT/bench/fmri_memory.rhai" --quiet --out "$o" --set "dir=$WORK" \
                --set "stage=$stage") || die "$b, stage $stage failed under the monitor"
            say "$b stage $stage: peak after the load ${STEPS[$b.$stage]} bytes"
        fi
    done
done

STAGES=("0 start, nothing else" "1 load" "2 + align (reorder)" "3 + zscore" "4 + roi_table, save_map")
printf '\n| stage |'; for b in "${BINARIES[@]}"; do printf ' %s peak RSS | ÷ matrix | (peak − start) ÷ matrix | after the load: peak | (− start) ÷ matrix |' "$b"; done; printf '\n|---|'
for b in "${BINARIES[@]}"; do printf -- '---|---|---|---|---|'; done; printf '\n'
for stage in 0 1 2 3 4; do
    printf '| %s |' "${STAGES[$stage]}"
    for b in "${BINARIES[@]}"; do
        awk -v p="${PEAK[$b.$stage]}" -v z="${PEAK[$b.0]}" -v m="$MATRIX" -v s="${STEPS[$b.$stage]:-}" \
            'BEGIN { printf " %.0f MB | %.2f× | %.2f× |", p / 1e6, p / m, (p - z) / m
                     if (s == "") printf " | |"; else printf " %.0f MB | %.2f× |", s / 1e6, (s - z) / m }'
    done
    printf '\n'
done
printf '\nmatrix: %s × %s f32 = %.0f MB; %s\n' "$STIMULI" "$VOXELS" "$(awk -v m="$MATRIX" 'BEGIN{print m/1e6}')" "$(date -u +%F)"
# A step that changes the data holds two matrices (its argument, which the script still holds,
# and its result); 0.1× leaves room for code paged in, thread stacks and per-voxel vectors, not
# for a third copy.
awk -v s="${STEPS[after.4]}" -v z="${PEAK[after.0]}" -v m="$MATRIX" 'BEGIN { exit !(s - z < 2.1 * m) }' ||
    { say "AFTER's peak after the load is not under 2.1× the matrix"; exit 1; }
