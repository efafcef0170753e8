"""The structure: what installs, which way imports point, what each verb needs.

- The wheel holds the ``h2s2r`` package and nothing else at the top level.
- import-linter's contracts (``pyproject.toml``: layers, independent stages, no cycles)
  hold on the installed tree. They are checked on the wheel's files because the editable
  install maps each top-level folder to its ``h2s2r.*`` package, which import-linter's
  file walk does not follow.
- ``h2s2r --help`` imports no stage; ``h2s2r train`` (help and a few seconds of training)
  works where open3d, mediapipe and pyrealsense2 cannot be imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

PERCEPTION_STACK = ("open3d", "mediapipe", "pyrealsense2")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project built as a wheel, from a copy of the sources (the checkout stays
    clean of build folders)."""
    src = tmp_path_factory.mktemp("src")
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for folder in sorted(set(meta["tool"]["setuptools"]["package-dir"].values())):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip, "-w", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("h2s2r-*.whl")
    return whl


def test_only_h2s2r_lands_in_site_packages(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"h2s2r", wheel.name.split("-py3")[0] + ".dist-info"}, top
    for pkg in ("core", "cli", "perception", "calibration", "sim", "policy", "deploy"):
        assert f"h2s2r/{pkg}/__init__.py" in names
    assert "h2s2r/core/robots/synergies/iiwa_allegro.json" in names


def test_import_contracts_hold(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    env = os.environ | {"PYTHONPATH": str(tmp_path / "site")}
    lint = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run(
        [str(lint), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 3 kept, 0 broken." in r.stdout


def _python(code: str, block: tuple[str, ...] = (), cwd: Path | None = None, timeout=300):
    """Run ``code`` in a fresh interpreter where the modules in ``block`` cannot be
    imported (as on a machine without them)."""
    prelude = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in block)
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def test_help_imports_no_stage():
    r = _python(
        """
        from h2s2r.cli.main import build_parser
        build_parser(None)[0].format_help()
        stages = ("perception", "calibration", "sim", "policy", "deploy")
        print(sorted(m for m in sys.modules if m.split(".")[1:2] and m.split(".")[1] in stages
                     and m.startswith("h2s2r.")))
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_train_help_needs_neither_the_perception_stack_nor_torch():
    r = _python(
        """
        from h2s2r.cli.main import main
        try:
            main(["train", "--help"])
        except SystemExit as e:
            assert e.code == 0
        print("torch" in sys.modules, "h2s2r.perception" in sys.modules)
        """,
        block=PERCEPTION_STACK,
    )
    assert r.returncode == 0, r.stderr
    assert "--num-envs" in r.stdout and r.stdout.strip().endswith("False False")


def test_training_runs_without_the_perception_stack(tmp_path):
    """A training server without open3d, mediapipe or pyrealsense2 trains (a few
    seconds), and the task options of ``--config`` land resolved in train/config.json."""
    from tests.conftest import straight_push_task

    task, mesh = straight_push_task()
    task.save(tmp_path / "task")
    mesh.save(tmp_path / "object")
    (tmp_path / "train.yaml").write_text(
        "task_config:\n  rewards: {action_rate: -0.02}\n  success_pos_m: 0.025\n"
    )
    args = [
        "train", str(tmp_path), "--num-envs", "4", "--total-steps", "128", "--threads", "1",
        "--validate-every", "0", "--config", str(tmp_path / "train.yaml"),
    ]  # fmt: skip
    r = _python(
        f"""
        from h2s2r.cli.main import main
        rc = main({args!r})
        print("rc", rc, sorted(m for m in {PERCEPTION_STACK!r} if sys.modules.get(m)))
        """,
        block=PERCEPTION_STACK,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "rc 0 []" in r.stdout, r.stdout + r.stderr[-3000:]
    saved = json.loads((tmp_path / "train" / "config.json").read_text())
    assert saved["train"]["task_config"]["success_pos_m"] == 0.025
    task_cfg = saved["task"]  # resolved: the given options and every default
    assert task_cfg["rewards"]["action_rate"] == -0.02 and task_cfg["success_pos_m"] == 0.025
    assert task_cfg["rewards"]["keypoint_tracking"] == 1.0
    assert (
        task_cfg["randomization"] == "medium" and task_cfg["controller"]["mode"] == "palm_synergy"
    )


def test_bad_task_options_fail_before_anything_runs(tmp_path, capsys):
    from h2s2r.cli.main import main

    for text, message in (
        ("task_config: {rewards: {action_rat: -0.02}}", "unknown option(s) ['action_rat']"),
        ("task_config: {success_pos_m: fast}", "success_pos_m: must be a number"),
        ("task_config: {randomization: large}", "set randomization with --randomization"),
        ("task: push_harder", "unknown task 'push_harder'; valid tasks: track_demo"),
        ("hidden_dims: 64", "hidden_dims: must be a list"),
    ):
        (tmp_path / "c.yaml").write_text(text + "\n")
        assert main(["train", str(tmp_path), "--config", str(tmp_path / "c.yaml")]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
        assert not (tmp_path / "train").exists()
