"""Trust before motion: export, eval and deploy refuse a policy that is not what was
trained on this task (h2s2r.core.trust)."""

from __future__ import annotations

import json
import shutil

import pytest

from h2s2r.core.errors import ArtifactError
from h2s2r.core.trust import verify_policy, verify_trained
from h2s2r.policy.evaluate import EvalConfig, run_eval
from h2s2r.policy.export import run_export
from h2s2r.sim.tasks import make_env
from tests.conftest import straight_push_task


@pytest.fixture
def exported(trained_ws, tmp_path):
    """A copy of the trained workspace, exported."""
    ws = tmp_path / "ws"
    shutil.copytree(trained_ws, ws)
    shutil.rmtree(ws / "policy", ignore_errors=True)
    run_export(ws, make_env, log=lambda *a: None)
    return ws


def test_exported_policy_passes_and_records_its_checkpoint(exported):
    policy, task, notes = verify_policy(exported)
    h = policy.header
    assert h["robot"] == task.robot and notes == []
    assert len(h["checkpoint_sha256"]) == 64 and h["training_config"]["num_envs"] == 8
    assert h["goal"]["pause_distance_m"] == 0.2 and len(h["goal"]["keypoints_obj_m"]) == 3


def test_retargeting_to_another_robot_stops_export_eval_and_deploy(exported):
    """The measured fault: retarget --robot iiwa_leap after training for the Allegro made
    export write a LEAP-labelled policy around Allegro weights."""
    task, _ = straight_push_task("iiwa_leap")
    shutil.rmtree(exported / "task")
    task.save(exported / "task")
    for check in (verify_trained, verify_policy):
        with pytest.raises(ArtifactError, match=r"task/meta\.json"):
            check(exported)
    with pytest.raises(ArtifactError, match=r"task/meta\.json"):
        run_export(exported, make_env, log=lambda *a: None)
    with pytest.raises(ArtifactError, match=r"task/meta\.json"):
        run_eval(exported, EvalConfig(episodes=2, video=False, policy="onnx"), make_env)


def test_an_edited_checkpoint_is_refused(exported):
    ck = (
        exported
        / "train"
        / json.loads((exported / "policy" / "policy.json").read_text())["checkpoint"]
    )
    data = bytearray(ck.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ck.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256 differs"):
        verify_policy(exported)
    with pytest.raises(ArtifactError, match="sha256 differs"):
        run_export(exported, make_env, log=lambda *a: None)


def test_a_policy_from_another_run_is_refused(exported, tmp_path):
    """policy/ copied into a workspace whose train/ is another run: stale, not deployed."""
    other = tmp_path / "other"
    shutil.copytree(exported, other)
    meta = json.loads((other / "train" / "meta.json").read_text())
    meta["config"]["seed"] = 99  # another run: its meta.json (and hash) differ
    (other / "train" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"train/meta\.json"):
        verify_policy(other)


def test_without_train_the_policy_is_checked_against_the_task(exported):
    shutil.rmtree(exported / "train")
    _, _, notes = verify_policy(exported)
    assert notes == ["train/ is absent: policy/ was checked against task/ only"]
