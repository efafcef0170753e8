"""What ran a stage, beside its artifact and never hashed: the stage's wall time (merged
into ``timing.json``) and ``machine.json`` (the command, the machine, the versions).

Both are written after the artifact is in place, by the command line (one verb) or by
``h2s2r run``/``demo`` (each stage); the report shows them.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path

from h2s2r import __version__
from h2s2r.core.artifacts.base import note_written, read_timing, write_json, write_timing

MACHINE_FILE = "machine.json"
PACKAGES = (
    "numpy",
    "mujoco",
    "mujoco-warp",
    "warp-lang",
    "torch",
    "rsl-rl-lib",
    "onnxruntime",
    "open3d",
    "mediapipe",
    "opencv-contrib-python",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> list[str]:
    """NVIDIA GPUs by name (``nvidia-smi -L``), none where there is no driver."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [ln.split(" (UUID")[0] for ln in out.splitlines() if ln.startswith("GPU")]


@functools.cache
def machine_info() -> dict:
    """This machine and the versions that matter for a stage's result."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    mem = _memory_gib()
    return {
        "h2s2r": __version__,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": None if mem is None else round(mem, 1),
        "gpus": _gpus(),
        "packages": versions,
    }


def record_stage_run(folder: str | Path, wall_s: float, command: str) -> None:
    """``wall_time_s`` into ``folder/timing.json`` (its other timings kept) and
    ``folder/machine.json``."""
    folder = Path(folder)
    timing = read_timing(folder)
    timing["wall_time_s"] = round(float(wall_s), 3)
    write_timing(folder, timing)
    finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_json(folder / MACHINE_FILE, {"command": command, "finished": finished, **machine_info()})
    note_written(folder, MACHINE_FILE)


def read_machine(folder: str | Path) -> dict:
    """``machine.json`` of an artifact folder; empty if it has none or it is unreadable."""
    from h2s2r.core.artifacts.base import read_json_or_none

    d = read_json_or_none(Path(folder) / MACHINE_FILE)
    return d if isinstance(d, dict) else {}


__all__ = ["MACHINE_FILE", "machine_info", "read_machine", "record_stage_run"]
