"""h2s2r shared contracts: artifacts, pose math, errors and the command-line interface.

Stages (perception, sim, policy, deploy, calibration) import from here, never from each
other; files in a demo workspace are their only coupling (DESIGN.md).
"""

import os

__version__ = "0.1.0"

# Headless machines have no display: MuJoCo's offscreen renderer needs EGL (or OSMesa).
# Set before any stage imports mujoco; a user's own MUJOCO_GL wins.
os.environ.setdefault("MUJOCO_GL", "egl")
