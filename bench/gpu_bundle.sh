#!/usr/bin/env bash
# Make, on a machine with the registries, everything bench/gpu_check.sh needs on a GPU
# machine with no network (Python 3.12 there, with torch/numpy/scipy/onnx already):
#   gpu_bundle/wheels/     cp312 manylinux wheels of the project's missing dependencies
#                          (mujoco, mujoco-warp, warp-lang, rsl-rl-lib, tensordict, …),
#                          the exact versions of requirements.lock
#   gpu_bundle/menagerie/  the robot models (iiwa 14, Allegro, LEAP) from MENAGERIE_ROOT
#   gpu_bundle/box_push/,  the synthetic demos through retarget (task/, object/):
#   gpu_bundle/can_lift/   synth, track-object, track-hand, retarget on this CPU
#   gpu_bundle/isaaclab_wheels/  with ISAACLAB=1 (needs make isaaclab-env): the wheels of
#                          what kit-less Isaac Lab training imports (bench/isaaclab_dists.py)
#   gpu_bundle/carry/N/    all of it as one tar in pieces of at most 56 MiB, each piece
#                          small enough for one call of a device tool that carries at most
#                          64 MiB (SHA256SUMS checks the whole after joining)
# Usage: bash bench/gpu_bundle.sh        (after `make setup`; about 3 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=gpu_bundle
PY=.venv/bin/python
: "${MENAGERIE_ROOT:=$(realpath ../shared/data/mujoco_menagerie)}"
export MENAGERIE_ROOT MUJOCO_GL=${MUJOCO_GL:-egl} ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
rm -rf "$OUT" && mkdir -p "$OUT/wheels" "$OUT/menagerie"

# The dependency closure of what training needs, minus what the GPU image has.
pins=$($PY - <<'PY'
# Requirements with extras (etils[epath] wants zipp, fsspec, …) and markers evaluated for
# the GPU image: CPython 3.12 on x86-64 Linux.
import importlib.metadata as md, re
from packaging.requirements import Requirement
roots = ["mujoco", "mujoco-warp", "warp-lang", "rsl-rl-lib", "array-api-compat", "tensordict",
         "mujoco-menagerie", "pyyaml", "rich", "pillow", "tensorboard", "matplotlib",
         "setuptools", "onnxscript"]
image = {"torch", "numpy", "scipy", "onnx", "onnxruntime", "sympy", "mpmath", "jax", "jaxlib"}
target = {"python_version": "3.12", "python_full_version": "3.12.1", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython"}
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
seen, done, stack = {}, set(), [(r, "") for r in roots]
while stack:
    n, extra = stack.pop()
    if norm(n) in image or norm(n).startswith("nvidia") or (norm(n), extra) in done:
        continue
    done.add((norm(n), extra))
    try:
        d = md.distribution(n)
    except md.PackageNotFoundError:  # wanted on 3.12 only: the newest that pip finds
        seen.setdefault(norm(n), None)
        continue
    seen[norm(n)] = d.version
    for line in d.requires or []:
        r = Requirement(line)
        if r.marker is None or r.marker.evaluate({**target, "extra": extra}):
            stack += [(r.name, e) for e in ("", *sorted(r.extras))]
missing = sorted(k for k, v in seen.items() if v is None)
if missing:
    import sys
    print(f"[bundle] not installed here (newest taken, its own dependencies not): {missing}",
          file=sys.stderr)
print(" ".join(k if v is None else f"{k}=={v}" for k, v in sorted(seen.items())))
PY
)
echo "[bundle] wheels: $pins"
# shellcheck disable=SC2086
$PY -m pip download -q --no-deps --only-binary=:all: --implementation cp --python-version 3.12 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  -d "$OUT/wheels" $pins 2>&1 | grep -v "is ignored: it is neither" || true

for robot in kuka_iiwa_14 wonik_allegro leap_hand; do
  [ -d "$MENAGERIE_ROOT/$robot" ] && cp -r "$MENAGERIE_ROOT/$robot" "$OUT/menagerie/"
done

for task in box_push can_lift; do
  WS="$OUT/$task"
  .venv/bin/h2s2r synth --out "$WS" --task "$task"
  .venv/bin/h2s2r track-object "$WS" --no-overlay
  .venv/bin/h2s2r track-hand "$WS" --method ground-truth
  .venv/bin/h2s2r retarget "$WS"
  rm -rf "$WS/capture"  # the GPU machine trains from task/ and object/ only
done

parts="wheels menagerie box_push can_lift"
if [ "${ISAACLAB:-0}" = 1 ]; then
  [ -x .venv-isaaclab/bin/python ] || { echo "ISAACLAB=1: run make isaaclab-env first" >&2; exit 2; }
  .venv-isaaclab/bin/python bench/isaaclab_dists.py > "$OUT/isaaclab_dists.txt"
  echo "[bundle] Isaac Lab: $(wc -l < "$OUT/isaaclab_dists.txt") distributions"
  # The 3.12 interpreter of .venv-isaaclab: cp312 wheels (sdists built here).
  .venv-isaaclab/bin/pip wheel -q --no-deps -r "$OUT/isaaclab_dists.txt" -w "$OUT/isaaclab_wheels" \
    2>&1 | grep -v "is ignored: it is neither" || true
  [ "$(ls "$OUT/isaaclab_wheels" | wc -l)" = "$(wc -l < "$OUT/isaaclab_dists.txt")" ] \
    || { echo "[bundle] Isaac Lab wheels missing" >&2; exit 1; }
  parts="$parts isaaclab_wheels"
fi
# shellcheck disable=SC2086
tar -C "$OUT" -cf "$OUT/bundle.tar" $parts
(cd "$OUT" && sha256sum bundle.tar > SHA256SUMS)
split -b 56m -d "$OUT/bundle.tar" "$OUT/bundle.tar.part-"
rm "$OUT/bundle.tar"
i=0
for part in "$OUT"/bundle.tar.part-*; do
  i=$((i + 1)); mkdir -p "$OUT/carry/$i"; mv "$part" "$OUT/carry/$i/"
done
cp "$OUT/SHA256SUMS" "$OUT/carry/$i/"
du -sh "$OUT"/carry/*
echo "[bundle] $i pieces in $OUT/carry/; see bench/gpu_check.sh for how to carry them"
