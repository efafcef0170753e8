"""The task scene as USD for Isaac Lab: the robot and the object, each converted from the
MJCF of the same ``MjSpec`` the MuJoCo backends compile (``mujoco-usd-converter``).

Two files, because Isaac Lab spawns an articulation (the robot, its base welded to the
world) and a free rigid body (the object) as separate assets; the table is a static box
that :mod:`.env` spawns from the scene's numbers. Meshes given as vertices (the demo's
object, its convex parts) are written as OBJ files beside the MJCF, since the converter
reads meshes from files. Results are cached by the MJCF's hash: the conversion takes a
second, but Isaac Lab re-reads the same file for every world.

Names: the converter makes MuJoCo names valid USD prim names (``hand/ffj0`` →
``tn__handffj0_tC``); :func:`usd_name` applies the same rule to find a joint or a body.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from h2s2r.core.errors import H2S2RError


@dataclass(frozen=True)
class SceneUsd:
    robot: Path  # the articulation (base welded to the world frame = the task's base frame)
    object: Path  # the free object body
    folder: Path


def usd_name(mujoco_name: str) -> str:
    """The prim name the converter gives a MuJoCo element (Isaac Lab's joint and body
    names)."""
    import usdex.core

    return usdex.core.getValidPrimName(mujoco_name)


def cache_root() -> Path:
    base = os.environ.get("H2S2R_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "h2s2r"
    )
    return Path(base) / "isaaclab_usd"


def _copy(spec: mujoco.MjSpec) -> mujoco.MjSpec:
    return mujoco.MjSpec.from_string(spec.to_xml())


def _meshes_to_files(spec: mujoco.MjSpec, folder: Path) -> None:
    """Vertex-given meshes → OBJ files in ``folder`` (the converter reads files only)."""
    for m in spec.meshes:
        if m.file:
            continue
        v = np.asarray(m.uservert, np.float64).reshape(-1, 3)
        f = np.asarray(m.userface, np.int64).reshape(-1, 3)
        path = folder / (m.name.replace("/", "_") + ".obj")
        with open(path, "w") as fh:
            fh.writelines(f"v {a:.9g} {b:.9g} {c:.9g}\n" for a, b, c in v)
            fh.writelines(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in f)
        m.file = str(path)
        m.uservert = []
        m.userface = []


def _robot_spec(scene_spec: mujoco.MjSpec) -> mujoco.MjSpec:
    """The robot alone: the scene without the object, the table, sensors and keyframes
    (sensors are read from bodies in Isaac Lab; the keyframe's size counts the object)."""
    s = _copy(scene_spec)
    s.delete(s.body("object"))
    s.delete(s.geom("table"))
    for coll in (s.sensors, s.keys):
        for e in list(coll):
            s.delete(e)
    return s


def _object_spec(scene_spec: mujoco.MjSpec) -> mujoco.MjSpec:
    """The object alone (free joint, its geoms, mass from its density)."""
    s = _copy(scene_spec)
    for coll in (s.sensors, s.keys, s.actuators, s.excludes, s.tendons, s.equalities):
        for e in list(coll):
            s.delete(e)
    for b in list(s.worldbody.bodies):
        if b.name != "object":
            s.delete(b)
    s.delete(s.geom("table"))
    s.modelname = "object"
    return s


def export_scene_usd(scene_spec: mujoco.MjSpec, root: Path | None = None) -> SceneUsd:
    """Convert (or find in the cache) the robot and the object of ``scene_spec``."""
    try:
        from mujoco_usd_converter import Converter
    except ImportError as e:
        raise H2S2RError(
            "the isaaclab backend needs mujoco-usd-converter (and Isaac Lab 3): make "
            "isaaclab-env makes the environment that has them (see README, Isaac Lab)"
        ) from e
    xml = scene_spec.to_xml()
    key = hashlib.sha256(xml.encode()).hexdigest()[:16]
    folder = (root or cache_root()) / key
    done = folder / "done"
    out = SceneUsd(folder / "robot" / "robot.usdc", folder / "object" / "object.usdc", folder)
    if done.is_file():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in (("robot", _robot_spec), ("object", _object_spec)):
        spec = make(scene_spec)
        spec.modelname = name
        _meshes_to_files(spec, folder)
        mjcf = folder / f"{name}.xml"
        mjcf.write_text(spec.to_xml())
        converted = Converter(layer_structure=False, scene=False).convert(
            str(mjcf), str(folder / name)
        )
        made = Path(str(converted.path))
        if made != getattr(out, name):
            made.replace(getattr(out, name))
    done.write_text(key + "\n")
    return out
