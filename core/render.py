"""Offscreen rendering with MuJoCo, with a clear error when no GL backend is usable."""

from __future__ import annotations

import os

import mujoco

from h2s2r.core.errors import H2S2RError


def offscreen_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """A ``mujoco.Renderer``; explains how to fix a missing display / GL backend."""
    try:
        return mujoco.Renderer(model, height, width)
    except Exception as e:  # mujoco.FatalError (gladLoadGL), GLFW errors
        backend = os.environ.get("MUJOCO_GL", "unset")
        raise H2S2RError(
            f"MuJoCo cannot render offscreen (MUJOCO_GL={backend}: {e}). On a machine without "
            "a display set MUJOCO_GL=egl (or osmesa) before anything imports mujoco — h2s2r "
            "sets egl itself when it is imported first — and install the EGL/OSMesa "
            "libraries (`make setup` does)"
        ) from e
