#!/usr/bin/env bash
# The GPU proof: qbtui's training, drawing and LoRA file on one NVIDIA GPU, beside kohya, in one run.
#
#   benchmarks/gpu_check.sh --fetch-wheels      # here (network): the wheels the GPU machine lacks, into .whl/
#   benchmarks/gpu_check.sh --dry-run           # here: checks what it would carry and run, runs nothing heavy
#   benchmarks/gpu_check.sh [--kohya DIR]       # there: the proof itself (no network needed)
#
# The GPU machine has PyTorch, accelerate, transformers, safetensors, peft and pillow; everything
# else qbtui's trainer and draw worker import (diffusers, tomlkit, platformdirs, ...) travels as
# wheels in .whl/ (ignored by git: `echo /.whl/ >> .git/info/exclude`), installed into /tmp/site.
# With `--kohya DIR` (an sd-scripts checkout carried beside the repo, never committed) kohya's fast
# command runs on the same GPU after qbtui's, and its missing packages travel in .whl/ too.
#
# It prints, within about 8 minutes on an H100: the fast and standard presets on CUDA (precision
# chosen, SDPA kernel, start to first step, steady s/step, peak GPU memory), one 512 px drawing of
# 20 steps, and the loader check of the LoRA written there. Exit 0 only if every part passed.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=.whl
KOHYA=""
MODE=run
# the GPU image's python is 3.12; these are the packages it lacks (KINDS.md's list)
QBTUI_WHEELS=(diffusers tomlkit platformdirs pillow-heif watchdog)
KOHYA_WHEELS=(toml voluptuous imagesize)
PY_VERSION=3.12

usage() { echo "usage: benchmarks/gpu_check.sh [--dry-run | --fetch-wheels] [--wheels DIR] [--kohya DIR]"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) MODE=dry ;;
    --fetch-wheels) MODE=fetch ;;
    --wheels) WHEELS="${2:?--wheels needs a folder}"; shift ;;
    --kohya) KOHYA="${2:?--kohya needs an sd-scripts folder}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu_check: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

have_wheel() {  # a wheel of package $1 in $WHEELS (names normalised as pip saves them: - becomes _)
  local name="${1//-/_}"
  compgen -G "$WHEELS/${name}-*.whl" >/dev/null || compgen -G "$WHEELS/${1}-*.whl" >/dev/null
}

wanted_wheels() {
  printf '%s\n' "${QBTUI_WHEELS[@]}"
  if [ -n "$KOHYA" ]; then printf '%s\n' "${KOHYA_WHEELS[@]}"; fi
}

if [ "$MODE" = fetch ]; then
  mkdir -p "$WHEELS"
  while read -r name; do
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform any -d "$WHEELS" "$name"
  done < <(wanted_wheels)
  ls -1 "$WHEELS"
  exit 0
fi

if [ "$MODE" = dry ]; then
  status=0
  echo "gpu_check --dry-run: what would travel and run"
  bash -n "$0" && echo "  script syntax: ok"
  while read -r name; do
    if have_wheel "$name"; then echo "  wheel $name: $(basename "$(compgen -G "$WHEELS/${name//-/_}-*.whl" || compgen -G "$WHEELS/${name}-*.whl" | head -1)")"
    else echo "  wheel $name: MISSING in $WHEELS (fix: benchmarks/gpu_check.sh --fetch-wheels)"; status=1; fi
  done < <(wanted_wheels)
  if [ -n "$KOHYA" ]; then
    if [ -f "$KOHYA/train_network.py" ]; then echo "  kohya: $KOHYA/train_network.py"
    else echo "  kohya: no train_network.py in $KOHYA"; status=1; fi
  fi
  size=$(du -sm --exclude=.git --exclude=.venv --exclude=.cache . | cut -f1)
  echo "  working tree to carry: about ${size} MiB (the device limit is 64 MiB)"
  [ "$size" -lt 64 ] || status=1
  py="${PYTHON:-.venv/bin/python}"
  for script in benchmarks/full_size.py benchmarks/gpu_proof.py benchmarks/full_size_model.py; do
    "$py" -m py_compile "$script" && echo "  $script: compiles"
  done
  "$py" benchmarks/full_size.py --help >/dev/null && echo "  full_size.py --device cuda --keep-lora: accepted"
  "$py" benchmarks/gpu_proof.py --help >/dev/null && echo "  gpu_proof.py: accepted"
  echo "  would run: full_size_model.py (random full-size SD1.5, fp16), full_size.py --device cuda --keep-lora,"
  echo "             gpu_proof.py (loader check, one 512 px drawing of 20 steps)${KOHYA:+, kohya fast on the GPU}"
  exit "$status"
fi

# ------------------------------------------------------------------ on the GPU machine
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || { echo "gpu_check: no NVIDIA GPU here" >&2; exit 1; }
while read -r name; do
  have_wheel "$name" || { echo "gpu_check: wheel $name missing in $WHEELS (fix: --fetch-wheels here, then carry $WHEELS)" >&2; exit 1; }
done < <(wanted_wheels)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl
export PYTHONPATH="/tmp/site:$PWD" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -c 'import torch, diffusers, transformers, accelerate; print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), diffusers {diffusers.__version__}, transformers {transformers.__version__}, accelerate {accelerate.__version__}; {torch.cuda.get_device_name()}")'

work=$(mktemp -d /tmp/qbtui-gpu-check.XXXXXX)
started=$(date +%s)
echo "== building the random full-size SD1.5 file"
model=$(python3 benchmarks/full_size_model.py --out "$work/model" | cut -d' ' -f1)
echo "   $model ($(( $(date +%s) - started )) s)"

echo "== training: fast and standard presets on CUDA${KOHYA:+, then kohya fast}"
kohya_args=()
if [ -n "$KOHYA" ]; then kohya_args=(--kohya-scripts "$KOHYA" --kohya-python "$(command -v python3)"); fi
python3 benchmarks/full_size.py --device cuda --model "$model" --warmup 3 --steps 10 --keep-lora "$work/lora" "${kohya_args[@]}"

echo "== the LoRA written on the GPU: loader check, then one drawing"
python3 benchmarks/gpu_proof.py --model "$model" --lora-dir "$work/lora" --steps 20 --size 512x512
echo "== gpu_check done in $(( $(date +%s) - started )) s"
