"""h2s2r: one RGB-D demo of a person manipulating an object → a dexterous robot policy.

Everything imports as ``h2s2r.…``; the sources stay in the repository's top-level folders
(``core/``, ``cli/``, ``perception/``, ``calibration/``, ``sim/``, ``policy/``,
``deploy/``), each mapped to its package by ``pyproject.toml``. Layers (DESIGN.md):
``h2s2r.core`` ← the stages ← ``h2s2r.cli``.
"""

import os

__version__ = "0.1.0"

# Headless machines have no display: MuJoCo's offscreen renderer needs EGL (or OSMesa).
# Set before any stage imports mujoco; a user's own MUJOCO_GL wins.
os.environ.setdefault("MUJOCO_GL", "egl")
