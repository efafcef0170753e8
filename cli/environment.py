"""What the environment must allow before a verb starts: checked by ``h2s2r`` before
any stage is imported, so a bad setting is one line naming it, not a traceback."""

from __future__ import annotations

import os
import sys

from h2s2r.core.errors import H2S2RError

# The values MuJoCo accepts for MUJOCO_GL (mujoco/rendering/classic/gl_context.py): any
# other makes ``import mujoco`` raise, so it is checked before any stage is imported.
_MUJOCO_GL_ANY = ("", "disable", "disabled", "off", "false", "0")
_MUJOCO_GL_ANY += ("enable", "enabled", "on", "true", "1", "glfw")
_MUJOCO_GL_PLATFORM = {"linux": ("egl", "osmesa", "glx"), "darwin": ("cgl",), "win32": ("wgl",)}


def check_mujoco_gl(environ=os.environ) -> None:
    """A one-line error naming ``MUJOCO_GL`` and its values when MuJoCo would refuse it."""
    raw = environ.get("MUJOCO_GL")
    if raw is None:
        return
    value = raw.lower().strip()
    platform = next((k for k in _MUJOCO_GL_PLATFORM if sys.platform.startswith(k)), "")
    if value in _MUJOCO_GL_ANY or value in _MUJOCO_GL_PLATFORM.get(platform, ()):
        return
    raise H2S2RError(
        f"MUJOCO_GL={raw!r} in the environment is not a MuJoCo rendering backend — set "
        "MUJOCO_GL to egl (headless, GPU), osmesa (headless, software), glfw (a display) or "
        "disable (no rendering), or unset it (h2s2r then uses egl)"
    )


def check_torchrun(verb: str) -> None:
    """Only ``train`` runs as a data-parallel ``torchrun`` job; another verb started by
    torchrun would run once per process, each locking the workspace against the others."""
    under_torchrun = "TORCHELASTIC_RUN_ID" in os.environ
    if verb != "train" and under_torchrun and os.environ.get("WORLD_SIZE", "1") != "1":
        raise H2S2RError(
            f"`h2s2r {verb}` was started by torchrun with "
            f"WORLD_SIZE={os.environ['WORLD_SIZE']}: only `h2s2r train` runs as a "
            f"torchrun job — run `h2s2r {verb}` once, without torchrun"
        )
