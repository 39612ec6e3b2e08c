#!/usr/bin/env bash
# One check of a CUDA machine for docs/performance.md, in <= 10 minutes on one GPU:
#
#   bash scripts/gpu_check.sh                         # on a CUDA machine, from the repository root
#   bash scripts/gpu_check.sh --device cpu --quick    # the same steps on a CPU at small sizes (tests/test_gpu_check.py)
#
# 1. the machine: torch, CUDA, the GPU;
# 2. the tests that need CUDA: bf16 autocast keeps norm statistics in fp32 on CUDA, SyncBatchNorm
#    under DDP in one CUDA process (on a CPU they are skipped, and the script says so);
# 3. scripts/benchmark.py at the papers' sizes with the defaults' paths (--compile auto: the paper presets'
#    training compiles, stylize compiles as for a 100-image folder): a CycleGAN iteration at 256 px
#    (batch 1), a style step at 256 px (batch 4), stylize at 1024 px, JSON into the output folder;
# 4. a short `experiment=cyclegan_paper` run (compiled, bf16 on the GPU) on the embedded data;
# 5. a summary table to paste into docs/performance.md ("GPU").
#
# Options: --device cuda|cpu (default cuda), --quick (64 px training, 128 px stylize, 4 training steps:
# for checking the script itself), --out DIR (default logs/gpu_check/<time>).
# Exit status: 0 when every step ran; 1 when one failed (the others still run; the table says which).
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
QUICK=0
OUT="logs/gpu_check/$(date +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in
  cuda|cuda:*|cpu) ;;
  *) echo "gpu_check: --device takes cuda, cuda:N or cpu, got $DEVICE" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
PYTHON="${PYTHON:-python}"
# --quick checks the script, not the machine: small sizes and no compiling (the CPU compile paths
# have tests of their own: tests/test_speed.py).
if [ "$QUICK" = 1 ]; then
  TRAIN_SIZE=64; STYLIZE_SIZE=128; STEPS=4; QUICK_BENCHMARK=(--no-compile --repeats 1); QUICK_RUN=(speed.compile=false)
else
  TRAIN_SIZE=256; STYLIZE_SIZE=1024; STEPS=40; QUICK_BENCHMARK=(--repeats 3); QUICK_RUN=()
fi
FAILED=()

echo "== 1/5 machine"
if ! "$PYTHON" - "$DEVICE" <<'EOF' | tee "$OUT/machine.txt"
import sys

import torch

device = sys.argv[1]
print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}, CUDA available: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    for index in range(torch.cuda.device_count()):
        print(f"cuda:{index}: {torch.cuda.get_device_name(index)}, capability {torch.cuda.get_device_capability(index)}")
if device.startswith("cuda") and not torch.cuda.is_available():
    sys.exit(f"gpu_check: --device {device}, but torch sees no CUDA device here. Run on a GPU machine, or --device cpu.")
EOF
then
  exit 2  # no CUDA where CUDA was asked for: nothing else would mean anything
fi

echo "== 2/5 tests that need CUDA"
if [ "$DEVICE" = cpu ]; then
  echo "(on a CPU these are skipped: they need CUDA; pytest lists them as skipped below)"
fi
"$PYTHON" -m pytest -q -p no:cacheprovider -rs -m "integration or not integration" tests/test_speed.py tests/test_distributed.py \
  -k "cuda or sync_batch_norm_trains_in_one_cuda_process" 2>&1 | tee "$OUT/cuda_tests.txt"
[ "${PIPESTATUS[0]}" = 0 ] || FAILED+=("cuda tests")

echo "== 3/5 benchmark (training ${TRAIN_SIZE} px, stylize ${STYLIZE_SIZE} px)"
"$PYTHON" scripts/benchmark.py --device "$DEVICE" --workloads cyclegan style stylize_style stylize_cyclegan \
  --size "$TRAIN_SIZE" --stylize-sizes "$STYLIZE_SIZE" "${QUICK_BENCHMARK[@]}" --json "$OUT/benchmark.json" 2>&1 \
  | tee "$OUT/benchmark.txt"
[ "${PIPESTATUS[0]}" = 0 ] || FAILED+=("benchmark")

echo "== 4/5 experiment=cyclegan_paper (ngf 64, 9 blocks), ${STEPS} optimizer steps on the embedded data"
ACCELERATOR=gpu
[ "$DEVICE" = cpu ] && ACCELERATOR=cpu
RUN_STARTED=$(date +%s)
"$PYTHON" train.py experiment=cyclegan_paper data=embedded_cyclegan data.image_size="$TRAIN_SIZE" \
  data.load_size="$TRAIN_SIZE" model.generator.ngf=64 model.generator.n_blocks=9 \
  trainer.accelerator="$ACCELERATOR" trainer.max_steps="$STEPS" trainer.max_epochs=-1 \
  trainer.limit_val_batches=2 trainer.enable_progress_bar=false "${QUICK_RUN[@]}" \
  paths.log_dir="$OUT/logs" paths.checkpoint_dir="$OUT/checkpoints" 2>&1 | tail -n 5 | tee "$OUT/run.txt"
[ "${PIPESTATUS[0]}" = 0 ] || FAILED+=("cyclegan_paper run")
RUN_SECONDS=$(( $(date +%s) - RUN_STARTED ))

echo "== 5/5 summary (paste into docs/performance.md)"
"$PYTHON" - "$OUT" "$RUN_SECONDS" "${FAILED[*]:-}" <<'EOF' | tee "$OUT/summary.md"
import json
import sys
from pathlib import Path

out, run_seconds, failed = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
print(f"Machine: {(out / 'machine.txt').read_text().strip().splitlines()[-1]}")
tests = (out / "cuda_tests.txt").read_text().strip().splitlines()
print(f"CUDA tests: {tests[-1] if tests else 'no output'}")
print()
print("| workload | size | batch | path | precision | median | speed-up | peak mem | max / mean gray-level diff |")
print("|---|---|---|---|---|---|---|---|---|")
benchmark = out / "benchmark.json"
rows = json.loads(benchmark.read_text())["rows"] if benchmark.is_file() else []
for r in rows:
    quality = f"{r['max_gray_diff']:.1f} / {r['mean_gray_diff']:.2f}" if "max_gray_diff" in r else "-"
    print(f"| {r['workload']} | {r['size']} | {r['batch']} | {r['path']} | {r['precision']} | "
          f"{r['median_ms']:.1f} ms | {r['speedup']:.2f}x | {r['peak_mem_mib']:.0f} MiB | {quality} |")
results = sorted((out / "logs").glob("runs/*_cyclegan-*/result.json"))
status = json.loads(results[-1].read_text())["status"] if results else "no result.json"
print()
print(f"cyclegan_paper short run: {status}, {run_seconds} s wall (including start-up and compiling)")
print(f"Failed steps: {failed or 'none'}")
EOF

if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "gpu_check: failed: ${FAILED[*]} (outputs in $OUT)" >&2
  exit 1
fi
echo "gpu_check: done; outputs in $OUT"
