"""The distributions a short ``train --backend isaaclab`` imports, as ``name==version``.

Run with the Isaac Lab environment's Python (``make isaaclab-env``)::

    .venv-isaaclab/bin/python bench/isaaclab_dists.py > dists.txt

``bench/gpu_bundle.sh`` (``ISAACLAB=1``) bundles the wheels of these, less what the GPU
image has: Isaac Lab's full dependency closure is about 1 GB of wheels (open3d, opencv,
transformers, …) that kit-less training on Newton never imports.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("MENAGERIE_ROOT", str(REPO.parent / "shared" / "data" / "mujoco_menagerie"))
os.environ.setdefault("MUJOCO_GL", "egl")

from h2s2r.policy.config import TrainConfig  # noqa: E402
from h2s2r.policy.train import run_train  # noqa: E402
from h2s2r.sim.tasks import make_env  # noqa: E402
from h2s2r.sim.tasks.examples import straight_push  # noqa: E402

# In the GPU image (torch with CUDA and what it brings, numpy, scipy): not bundled.
IMAGE = {"torch", "triton", "numpy", "scipy", "sympy", "mpmath", "h2s2r"}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        root = Path(tmp)
        task, mesh = straight_push()
        task.save(root / "task")
        mesh.save(root / "object")
        cfg = TrainConfig(
            backend="isaaclab", num_envs=4, total_steps=4 * 16 * 2, validate_every=0, threads=1
        )
        run_train(root, cfg, make_env, log=lambda *a: None)
    import h2s2r.cli.main  # noqa: F401  (the command line's own imports)

    owners = md.packages_distributions()
    dists = {d for m in list(sys.modules) for d in owners.get(m.split(".")[0], [])}
    dists.add("setuptools")  # the editable install of h2s2r (--no-build-isolation)
    for d in sorted(dists, key=str.lower):
        if d.lower() not in IMAGE:
            print(f"{d}=={md.version(d)}")


if __name__ == "__main__":
    main()
