"""The shared fixtures, built once per probe run, and small file helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from .run import TRAIN, h2s2r


# ----------------------------------------------------------------------------- fixtures
class Fixtures:
    """Built once: ``synth`` (capture/ object/ ground_truth/), ``tracked`` (+ object_track/
    hand_track/ task/), ``trained`` (+ train/ policy/), ``other`` (another training run of
    the same demo), ``synth2`` (another demo, its hand_track/), ``src`` (an image folder as
    users bring: rgb/ depth/ cam_K.txt), ``imported`` (``src`` imported)."""

    def __init__(self, root: Path):
        self.root = root

    def build(self) -> None:
        r = self.root / "fixtures"
        steps = [
            ("synth", "--out", r / "synth", "--frames", "30"),
            ("synth", "--out", r / "synth2", "--frames", "30", "--seed", "1"),
            ("track-hand", r / "synth2", "--method", "ground-truth"),
        ]
        for s in steps:
            self._must(*s)
        self.copy_fixture(r / "synth", r / "tracked")
        for s in [
            ("track-object", r / "tracked", "--no-overlay"),
            ("track-hand", r / "tracked", "--method", "ground-truth"),
            ("retarget", r / "tracked"),
        ]:
            self._must(*s)
        self.copy_fixture(r / "tracked", r / "trained")
        self.copy_fixture(r / "tracked", r / "other")
        self._must("train", r / "trained", *TRAIN)
        self._must("export", r / "trained")
        self._must("train", r / "other", *TRAIN, "--seed", "3")
        src = r / "src"
        for sub in ("rgb", "depth"):
            shutil.copytree(r / "synth" / "capture" / sub, src / sub)
        shutil.copy(r / "synth" / "capture" / "cam_K.txt", src / "cam_K.txt")
        self._must("import", "--from", src, r / "imported")

    def _must(self, *args) -> None:
        run = h2s2r(*args)
        print(f"  fixture: {' '.join(map(str, run.argv[1:3]))} … {run.wall_s:.1f} s")
        if run.rc != 0:
            raise SystemExit(f"fixture failed:\n{run.shown()}")

    @staticmethod
    def copy_fixture(a: Path, b: Path) -> None:
        shutil.copytree(a, b, ignore=shutil.ignore_patterns(".h2s2r.lock"))

    def __getattr__(self, name: str) -> Path:
        return self.root / "fixtures" / name

    def ws(self, case: str, fixture: str | None = None, name: str = "ws") -> Path:
        """A fresh folder for ``case``; ``ws`` a copy of ``fixture`` (or not created)."""
        d = self.root / "cases" / case
        d.mkdir(parents=True, exist_ok=True)
        if fixture is not None:
            self.copy_fixture(self.root / "fixtures" / fixture, d / name)
        return d / name


def write_png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def src_copy(fx: Fixtures, d: Path, name: str = "src") -> Path:
    s = d.parent / name
    shutil.copytree(fx.src, s)
    return s
