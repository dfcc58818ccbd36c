#!/usr/bin/env bash
# One GPU check, at most 8 minutes on one GPU: the CUDA tests, realtime.py per extractor family on
# the GPU, the dense heads' GPU milliseconds and the training benchmark, then one table headed by
# the GPU's name. Run from the repository root:
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]        (PYTHON=/path/to/python to choose the interpreter)
#
# Every part has its own time limit (140 + 140 + 75 + 90 s: under 7.5 minutes); a part that runs out or fails is
# reported in the table as such and the others still run. Without a GPU it says so and exits 0
# (nothing may depend on having one). Results: OUT_DIR (default a temporary folder) holds each
# part's log and JSON and table.md, the table printed at the end.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${1:-$(mktemp -d -t avl_gpu_check.XXXXXX)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA GPU visible to torch; nothing measured"
    exit 0
fi
"$PY" -c 'import torch; print(torch.cuda.get_device_name(0))' > "$OUT/gpu_name.txt"
echo "gpu_check on $(cat "$OUT/gpu_name.txt"), results in $OUT"

part() {  # part NAME SECONDS COMMAND...: run with a time limit, keep its log and exit status
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    echo "$rc $((SECONDS - t0))" > "$OUT/$name.status"
    echo "  $name: exit $rc after $((SECONDS - t0)) s (limit $limit s)"
}

# 1. the tests that need CUDA: every test file with a CUDA skip marker, its CUDA tests only
cuda_tests=$(grep -rl --include='test_*.py' 'skipif(not torch.cuda.is_available()' tests | sort | tr '\n' ' ')
if [ -n "$cuda_tests" ]; then
    part cuda_tests 140 "$PY" -m pytest -q -p no:cacheprovider -k cuda -m 'not slow' \
        --junitxml="$OUT/cuda_tests.xml" $cuda_tests
else
    echo "5 0" > "$OUT/cuda_tests.status"
fi

# 2. extraction speed per extractor family on the GPU (CLIP/CLAP rows only where open_clip and
#    laion_clap are installed; realtime.py says when they are skipped)
part realtime 140 "$PY" benchmarks/realtime.py --gpu --gpu-only --seconds 30 --heavy-seconds 4 \
    --no-breakdown --json "$OUT/realtime.json"

# 3. the dense heads: milliseconds of one paper-size forward on the GPU (no CPU timing)
part heads 75 "$PY" benchmarks/heads.py --no-cpu-time --segment-heads '' --json "$OUT/heads.json"

# 4. training: steps per second and data-wait share at the paper size, fp32 and bf16
part train_speed 90 "$PY" benchmarks/train_speed.py --device cuda --size paper --precision fp32,bf16 \
    --steps 10 --json "$OUT/train_speed.json"

"$PY" - "$OUT" <<'EOF' | tee "$OUT/table.md"
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path

out = Path(sys.argv[1])
def status(name):
    rc, secs = (out / f"{name}.status").read_text().split()
    return ("ok" if rc == "0" else "TIME LIMIT" if rc in ("124", "137") else f"exit {rc}") + f", {secs} s"
def rows(name):
    p = out / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else []

print(f"GPU: {(out / 'gpu_name.txt').read_text().strip()}\n")
print("| part | measure | value | status |")
print("|---|---|---|---|")
xml = out / "cuda_tests.xml"
if xml.is_file():
    s = ET.parse(xml).getroot()
    s = s if s.tag == "testsuite" else s.find("testsuite")
    n, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
    print(f"| CUDA tests | passed / failed / errors / skipped | {n - f - e - k} / {f} / {e} / {k} | {status('cuda_tests')} |")
else:
    print(f"| CUDA tests | - | - | {status('cuda_tests')} |")
for r in rows("realtime"):
    if r.get("device") == "cuda":
        print(f"| realtime.py --gpu | {r['family']}: x real time ({r['video_s']:.0f} s video) | {r['x_realtime']:.2f} | {status('realtime')} |")
if not any(r.get("device") == "cuda" for r in rows("realtime")):
    print(f"| realtime.py --gpu | - | - | {status('realtime')} |")
heads = [r for r in rows("heads") if r.get("gpu_ms") is not None]
for r in heads:
    print(f"| heads.py | {r['head']} {r['setting']} (T {r['T']}): GPU ms per forward | {r['gpu_ms']:.2f} | {status('heads')} |")
if not heads:
    print(f"| heads.py | - | - | {status('heads')} |")
for r in rows("train_speed"):
    print(f"| train_speed.py | {r['head']} {r['size']} {r['precision']} batch {r['batch_size']}: steps/s (data wait) "
          f"| {r['steps_per_s']:.2f} ({100 * r['data_wait_share']:.1f} %) | {status('train_speed')} |")
if not rows("train_speed"):
    print(f"| train_speed.py | - | - | {status('train_speed')} |")
EOF
