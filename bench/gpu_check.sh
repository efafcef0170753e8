#!/usr/bin/env bash
# On a GPU machine with no network (Python 3.12, torch with CUDA in the image): install the
# project and its missing dependencies from the local bundle that bench/gpu_bundle.sh
# made, then run the warp benchmarks and GPU trainings of box_push and can_lift, results
# into bench/results/ (and $OUT when set, for a device tool that brings back only $OUT:
# copied there on every exit, so a later step's failure keeps the earlier results).
#
# With a device tool that carries at most 64 MiB per call: carry gpu_bundle/carry/1, then
# 2, … in consecutive calls, each copying its piece to a folder that survives between
# calls (`mkdir -p /tmp/h2s2r-bundle && cp gpu_bundle/carry/K/* /tmp/h2s2r-bundle/`), then
# run `bash bench/gpu_check.sh /tmp/h2s2r-bundle`.
#
# Usage: bash bench/gpu_check.sh [BUNDLE_DIR] [--quick]
#   BUNDLE_DIR: the joined pieces (bundle.tar.part-*, SHA256SUMS) or an unpacked bundle
#               (wheels/, menagerie/, box_push/, can_lift/); default gpu_bundle
#   --quick:    smaller runs (1,024–4,096 worlds, box_push only, a 1-minute training)
# Env: DEVICE (default cuda:0; cpu runs the same on Warp's CPU device, slowly),
#      TASKS (default "box_push can_lift"; --quick: box_push; TASKS= trains none),
#      TRAIN_MIN (box_push minutes, 3), CAN_MIN (can_lift minutes, 10): the targets;
#      NUM_ENVS (training worlds, 8192), EPISODES (eval episodes, 100),
#      CURVES (e.g. "256 4096 16384": box_push trained TRAIN_MIN at each, the validation
#      curves of PPO at scale), BENCH=0 (skip the throughput benchmarks),
#      WORLDS (benchmark worlds), VENV (the venv to use),
#      ISAACLAB=0 (skip the Isaac Lab run that a bundle made with ISAACLAB=1 brings:
#      training throughput on Isaac Lab 3 in a second venv, VENV_IL, over the same
#      image torch; then bench/backends_table.py puts it beside MuJoCo Warp's).
# A device tool with 10-minute calls: --quick in one call; then one call per part, e.g.
#   BENCH=0 TASKS=can_lift CAN_MIN=7   and   BENCH=0 TASKS= CURVES="256 4096"
# (the venv in /tmp survives while the machine stays warm; the install is then a check).
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${1:-gpu_bundle}
QUICK=0; [ "${2:-}" = "--quick" ] && QUICK=1
DEVICE=${DEVICE:-cuda:0}
PY=${PYTHON:-python3}
VENV=${VENV:-/tmp/h2s2r-gpu-venv}
RESULTS=bench/results
log() { echo "[gpu_check $(date +%T)] $*"; }

if ls "$BUNDLE"/bundle.tar.part-* >/dev/null 2>&1; then
  log "joining $(ls "$BUNDLE"/bundle.tar.part-* | wc -l) pieces"
  cat "$BUNDLE"/bundle.tar.part-* > "$BUNDLE/bundle.tar"
  (cd "$BUNDLE" && sha256sum -c SHA256SUMS)
  tar -C "$BUNDLE" -xf "$BUNDLE/bundle.tar" && rm "$BUNDLE/bundle.tar" "$BUNDLE"/bundle.tar.part-*
fi
if [ $QUICK = 1 ]; then TASKS=${TASKS-box_push}; else TASKS=${TASKS-"box_push can_lift"}; fi
NEEDED="wheels menagerie $TASKS"; [ -n "${CURVES:-}" ] && NEEDED="$NEEDED box_push"
for d in $NEEDED; do
  [ -d "$BUNDLE/$d" ] || { echo "gpu_check: $BUNDLE/$d missing — make the bundle with bash bench/gpu_bundle.sh" >&2; exit 2; }
done
BUNDLE=$(realpath "$BUNDLE")

if [ ! -x "$VENV/bin/python" ]; then
  log "venv $VENV over the image's packages (torch with CUDA, numpy, scipy, onnx)"
  "$PY" -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/pip" install -q --no-index --find-links "$BUNDLE/wheels" \
  mujoco mujoco-warp warp-lang rsl-rl-lib tensordict array-api-compat mujoco-menagerie \
  pyyaml rich pillow tensorboard matplotlib "setuptools>=77"
"$VENV/bin/pip" install -q --no-index --no-deps --no-build-isolation -e .
export MENAGERIE_ROOT="$BUNDLE/menagerie" MUJOCO_GL=disable OMP_WAIT_POLICY=PASSIVE
export WARP_CACHE_PATH=${WARP_CACHE_PATH:-/tmp/h2s2r-warp-cache}
"$VENV/bin/python" - <<'PY'
import torch, warp as wp, mujoco, mujoco_warp
wp.init()
print(f"torch {torch.__version__} cuda {torch.cuda.is_available()} "
      f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else ''}; "
      f"warp {wp.__version__}; mujoco {mujoco.__version__}; mujoco_warp {mujoco_warp.__version__}")
PY

if [ $QUICK = 1 ]; then W=${WORLDS:-"1024 4096"}; TRAIN_MIN=${TRAIN_MIN:-1}; SECONDS_=2
else W=${WORLDS:-"1024 4096 8192 16384 32768"}; TRAIN_MIN=${TRAIN_MIN:-3}; SECONDS_=5; fi
CAN_MIN=${CAN_MIN:-10}
NUM_ENVS=${NUM_ENVS:-8192}
mkdir -p "$RESULTS"
to_out() {
  [ -z "${OUT:-}" ] || cp "$RESULTS"/*_warp.json "$RESULTS"/*_isaaclab.json "$RESULTS"/gpu_*.json \
    "$RESULTS"/backends_gpu.json "$OUT/" 2>/dev/null || true
}
trap to_out EXIT
if [ "${BENCH:-1}" != 0 ]; then
  log "physics and task throughput ($W worlds)"
  # shellcheck disable=SC2086
  "$VENV/bin/python" bench/sim_throughput.py --backend warp --device "$DEVICE" --worlds $W \
    --seconds $SECONDS_ --out "$RESULTS/sim_throughput_warp.json"
  log "training throughput"
  # shellcheck disable=SC2086
  "$VENV/bin/python" bench/train_throughput.py --backend warp --device "$DEVICE" --worlds $W \
    --out "$RESULTS/train_throughput_warp.json"
fi

# train_eval TASK MINUTES WORLDS NAME: train under medium randomization, evaluate on the
# training backend, keep the validation curve and the eval metrics as gpu_NAME_*.json.
train_eval() {
  local task=$1 minutes=$2 worlds=$3 name=$4 ws=/tmp/h2s2r-gpu-$4
  rm -rf "$ws" && cp -r "$BUNDLE/$task" "$ws"
  log "train $task on $DEVICE: $minutes min, $worlds worlds, medium randomization"
  "$VENV/bin/h2s2r" train "$ws" --backend warp --device "$DEVICE" --num-envs "$worlds" \
    --budget-min "$minutes" --randomization medium --validate-every 10
  log "eval $name (on the training backend)"
  "$VENV/bin/h2s2r" eval "$ws" --episodes "${EPISODES:-100}" --randomization medium --no-video
  cp "$ws/train/validation.json" "$RESULTS/gpu_${name}_validation.json" 2>/dev/null \
    || log "$name: no validation.json (fewer iterations than --validate-every)"
  cp "$ws/eval/metrics.json" "$RESULTS/gpu_${name}_eval.json"
}
if [ -d "$BUNDLE/isaaclab_wheels" ] && [ "${ISAACLAB:-1}" != 0 ]; then
  VENV_IL=${VENV_IL:-/tmp/h2s2r-gpu-venv-isaaclab}
  [ -x "$VENV_IL/bin/python" ] || "$PY" -m venv --system-site-packages "$VENV_IL"
  # Only what kit-less training imports (bench/isaaclab_dists.py), over the image's torch.
  "$VENV_IL/bin/pip" install -q --no-index --no-deps "$BUNDLE"/isaaclab_wheels/*.whl
  "$VENV_IL/bin/pip" install -q --no-index --no-deps --no-build-isolation -e .
  log "Isaac Lab training throughput ($W worlds, one process each)"
  # shellcheck disable=SC2086
  "$VENV_IL/bin/python" bench/train_throughput.py --backend isaaclab --device "$DEVICE" \
    --worlds $W --out "$RESULTS/train_throughput_isaaclab.json"
  if [ -f "$RESULTS/train_throughput_warp.json" ]; then
    "$VENV/bin/python" bench/backends_table.py --backends warp isaaclab \
      --out "$RESULTS/backends_gpu.json"
  fi
fi

for task in $TASKS; do
  if [ "$task" = can_lift ]; then m=$CAN_MIN; else m=$TRAIN_MIN; fi
  train_eval "$task" "$m" "$NUM_ENVS" "$task"
done
for n in ${CURVES:-}; do
  train_eval box_push "$TRAIN_MIN" "$n" "box_push_curve_$n"
done
log "done: results in $RESULTS (*_warp.json, *_isaaclab.json, backends_gpu.json, gpu_*.json)"
