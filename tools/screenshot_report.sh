#!/usr/bin/env bash
# Render an emoscope HTML report in headless Chromium and cut the page into screen-sized PNGs,
# to look at what a reader sees (the figures inlined, the tables laid out).
# Usage: tools/screenshot_report.sh REPORT.html [OUTDIR] [HEIGHT]
# Needs Debian's chromium (apt-get install -y chromium) and a Python with Pillow ($PYTHON, default
# python3) for the cutting.
set -euo pipefail
report=${1:?usage: tools/screenshot_report.sh REPORT.html [OUTDIR] [HEIGHT]}
outdir=${2:-$(dirname "$report")/screenshots}
height=${3:-20000}
[ -f "$report" ] || { echo "error: $report does not exist" >&2; exit 1; }
command -v chromium > /dev/null || { echo "error: chromium not found (apt-get install -y chromium)" >&2; exit 1; }
mkdir -p "$outdir"
full="$outdir/full.png"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1280,"$height" --screenshot="$full" "file://$(realpath "$report")" 2> /dev/null
"${PYTHON:-python3}" - "$full" "$outdir" <<'PY'
import sys
from PIL import Image
full, outdir = sys.argv[1], sys.argv[2]
im = Image.open(full).convert("RGB")
# Trim the blank tail (the window is taller than most reports).
px = im.load()
w, h = im.size
bottom = h
while bottom > 1 and all(px[x, bottom - 1] == (255, 255, 255) for x in range(0, w, 8)):
    bottom -= 1
im = im.crop((0, 0, w, bottom))
for k, top in enumerate(range(0, bottom, 1600)):
    im.crop((0, top, w, min(top + 1600, bottom))).save(f"{outdir}/page_{k:02d}.png")
print(f"{outdir}: {len(range(0, bottom, 1600))} screenshots of a {w}x{bottom} page")
PY
