"""Trust in artifacts (issue #19): no-op re-runs harmless, writes atomic, one writer at a
time, training recoverable, options checked before any work, frames checked by every
stage, every problem listed. Each test here failed before its fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from h2s2r.cli.main import main
from h2s2r.core.artifacts import Capture, PolicyExport, TrainRun
from h2s2r.core.artifacts.base import (
    TIMING_FILE,
    WRITTEN_FILE,
    partial_path,
    read_timing,
    recover_folder,
    replaced_path,
    staged_folder,
)
from h2s2r.core.errors import ArtifactError, H2S2RError
from h2s2r.core.runinfo import record_stage_run
from h2s2r.core.trust import verify_policy, verify_trained
from h2s2r.core.workspace import LOCK_FILE, WorkspaceError, validate_workspace, workspace_lock
from h2s2r.policy.config import TrainConfig
from h2s2r.policy.evaluate import EvalConfig, run_eval
from h2s2r.policy.export import run_export
from h2s2r.policy.train import TrainingInterruptedError, run_train
from h2s2r.sim.tasks import make_env
from tests.trust_support import QUIET, copy_trained, digest, env_that_at_step, push_ws


# ---------------------------------------------------------------- deterministic artifacts
@pytest.fixture(scope="module")
def pipeline_ws(tmp_path_factory):
    """synth → track-object → track-hand → retarget → train → eval → export, small."""
    from h2s2r.perception.hand_track.stage import TrackHandConfig, run_track_hand
    from h2s2r.perception.object_track.stage import TrackObjectConfig, run_track_object
    from h2s2r.sim.retarget.stage import RetargetConfig, run_retarget
    from h2s2r.sim.synth import SynthConfig, run_synth

    ws = run_synth(
        SynthConfig(task="box_push", seed=2, frames=40, noise=True),
        tmp_path_factory.mktemp("pipe") / "ws",
    )
    run_track_object(ws, TrackObjectConfig(overlay=False))
    run_track_hand(ws, TrackHandConfig(method="ground-truth"))
    run_retarget(ws, RetargetConfig())
    run_train(
        ws,
        TrainConfig(
            num_envs=8,
            total_steps=8 * 16 * 2,
            save_every=1,
            threads=2,
            validate_every=1,
            validate_episodes=4,
        ),
        make_env,
        **QUIET,
    )
    run_eval(ws, EvalConfig(episodes=2, video=False), make_env, **QUIET)
    run_export(ws, make_env, **QUIET)
    return ws


def test_a_no_op_rerun_of_every_stage_leaves_every_artifact_byte_identical(pipeline_ws, tmp_path):
    """The measured fault: metrics.json held timings, so re-running track-hand on the same
    inputs made task/ and train/ stale and eval refused until a retrain."""
    from h2s2r.perception.hand_track.stage import TrackHandConfig, run_track_hand
    from h2s2r.perception.object_track.stage import TrackObjectConfig, run_track_object
    from h2s2r.sim.retarget.stage import RetargetConfig, run_retarget

    ws = tmp_path / "ws"
    shutil.copytree(pipeline_ws, ws)
    before = digest(ws)
    run_track_object(ws, TrackObjectConfig(overlay=False))
    run_track_hand(ws, TrackHandConfig(method="ground-truth"))
    run_retarget(ws, RetargetConfig())
    run_eval(ws, EvalConfig(episodes=2, video=False), make_env, **QUIET)
    run_export(ws, make_env, **QUIET)
    after = digest(ws)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == []
    assert read_timing(ws / "object_track")["fps"] > 0  # the timings are kept, aside
    verify_trained(ws)  # train/ still belongs to task/: eval and export go on
    verify_policy(ws)
    assert validate_workspace(ws)


# ---------------------------------------------------------------- atomic folders
def test_a_failed_write_leaves_the_old_folder_and_no_partial(tmp_path):
    folder = tmp_path / "task"
    with staged_folder(folder) as out:
        (out / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(folder) as out:
        (out / "a.txt").write_text("new, half")
        raise RuntimeError("killed")
    assert (folder / "a.txt").read_text() == "old"
    assert not partial_path(folder).exists()
    with staged_folder(folder) as out:
        (out / "b.txt").write_text("new")
    assert sorted(p.name for p in folder.iterdir()) == [WRITTEN_FILE, "b.txt"]
    assert not replaced_path(folder).exists()


def test_a_rewritten_folder_keeps_the_files_h2s2r_did_not_write(tmp_path, capsys):
    """Probe round 9: a user's ``policy/NOTES.txt`` vanished without a word when export
    wrote policy/ again. Files its writer did not list are copied into the new folder
    and named; the writer's own files that it no longer writes go."""
    folder = tmp_path / "policy"
    with staged_folder(folder) as out:
        (out / "policy.onnx").write_text("v1")
        (out / "stale.png").write_text("v1 only")
    (folder / "NOTES.txt").write_text("mine")
    (folder / "runs").mkdir()
    (folder / "runs" / "robot_a.log").write_text("mine too")
    capsys.readouterr()
    with staged_folder(folder) as out:
        (out / "policy.onnx").write_text("v2")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == [WRITTEN_FILE, "NOTES.txt", "policy.onnx", "runs/robot_a.log"]
    assert (folder / "NOTES.txt").read_text() == "mine"
    assert (folder / "policy.onnx").read_text() == "v2"
    err = capsys.readouterr().err
    assert "note: policy/: kept NOTES.txt, runs/robot_a.log (not written by h2s2r)" in err
    with staged_folder(folder) as out:  # still the user's, still kept
        (out / "policy.onnx").write_text("v3")
    assert (folder / "NOTES.txt").read_text() == "mine"
    # Probe round 10: the run record h2s2r adds after the swap (timing.json, machine.json)
    # is h2s2r's: a rewrite neither keeps it as a user's nor says so.
    record_stage_run(folder, 1.0, "h2s2r export ws")
    capsys.readouterr()
    with staged_folder(folder) as out:
        (out / "policy.onnx").write_text("v4")
    assert "machine.json" not in capsys.readouterr().err
    assert not (folder / TIMING_FILE).exists() and not (folder / "machine.json").exists()
    # A folder written before the list existed: what the new writer does not write is kept.
    legacy = tmp_path / "eval"
    legacy.mkdir()
    (legacy / "old.txt").write_text("?")
    with staged_folder(legacy) as out:
        (out / "metrics.json").write_text("{}")
    assert (legacy / "old.txt").is_file()


def test_recovery_after_a_kill_between_the_two_renames(tmp_path):
    folder = tmp_path / "task"
    replaced_path(folder).mkdir()
    (replaced_path(folder) / "a.txt").write_text("old")
    partial_path(folder).mkdir()  # the new one, never swapped in
    said = recover_folder(folder)
    assert "put back" in said and (folder / "a.txt").read_text() == "old"
    assert not partial_path(folder).exists() and not replaced_path(folder).exists()


def test_an_interrupted_synth_leaves_nothing_that_blocks_the_retry(tmp_path, monkeypatch):
    import h2s2r.sim.synth.synth as synth

    calls = {"n": 0}
    original = synth.add_sensor_noise

    def dies_on_frame_10(*a, **k):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return original(*a, **k)

    monkeypatch.setattr(synth, "add_sensor_noise", dies_on_frame_10)
    cfg = synth.SynthConfig(frames=30, noise=True)
    with pytest.raises(KeyboardInterrupt):
        synth.run_synth(cfg, tmp_path / "ws")
    assert sorted(p.name for p in (tmp_path / "ws").iterdir()) == []
    monkeypatch.setattr(synth, "add_sensor_noise", original)
    synth.run_synth(cfg, tmp_path / "ws")  # the retry goes through
    assert Capture.load(tmp_path / "ws" / "capture").num_frames == 30


def test_a_failed_import_leaves_no_capture(tmp_path, capsys):
    src = tmp_path / "src"
    (src / "rgb").mkdir(parents=True)
    (src / "depth").mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(src / "rgb" / f"{i}.png")
    Image.fromarray(np.full((48, 64), 800, np.uint16)).save(src / "depth" / "0.png")
    Image.fromarray(np.full((48, 64), 800, np.uint16)).save(src / "depth" / "1.png")
    Image.fromarray(np.full((40, 64), 800, np.uint16)).save(src / "depth" / "2.png")  # bad
    np.savetxt(src / "cam_K.txt", [[60, 0, 32], [0, 60, 24], [0, 0, 1]])
    ws = tmp_path / "ws"
    assert main(["import", "--from", str(src), str(ws)]) == 1
    assert "2.png" in capsys.readouterr().err
    assert not (ws / "capture").exists() and not partial_path(ws / "capture").exists()


# ---------------------------------------------------------------- one writer
def test_a_second_writer_stops_with_the_first_named(tmp_path, capsys):
    with workspace_lock(tmp_path, "h2s2r train ws"):
        with (
            pytest.raises(H2S2RError, match=r"another h2s2r command.*h2s2r train ws"),
            workspace_lock(tmp_path, "h2s2r eval ws"),
        ):
            pass
        assert main(["track-hand", str(tmp_path)]) == 1
        err = capsys.readouterr().err
        assert "another h2s2r command" in err and "h2s2r train ws" in err
    with workspace_lock(tmp_path, "h2s2r eval ws"):  # released with the first
        pass
    assert (tmp_path / LOCK_FILE).is_file()


def test_taking_the_lock_repairs_an_interrupted_swap(tmp_path):
    old = replaced_path(tmp_path / "eval")
    old.mkdir()
    (old / "metrics.json").write_text("{}")
    said = []
    with workspace_lock(tmp_path, "h2s2r eval ws", log=said.append):
        pass
    assert (tmp_path / "eval" / "metrics.json").is_file() and said


# ---------------------------------------------------------------- training recovery


def test_resume_falls_back_past_a_truncated_checkpoint(trained_ws, tmp_path):
    ws = copy_trained(trained_ws, tmp_path)
    ckpts = sorted((ws / "train").glob("model_*.pt"), key=lambda p: int(p.stem[6:]))
    newest = ckpts[-1]
    newest.write_bytes(newest.read_bytes()[:1000])  # killed mid-write (before atomic saves)
    said = []
    cfg = json.loads((ws / "train" / "config.json").read_text())["train"]
    cfg = TrainConfig(**{**cfg, "hidden_dims": tuple(cfg["hidden_dims"])})
    run_train(
        ws,
        TrainConfig(**{**cfg.__dict__, "resume": True, "total_steps": cfg.total_steps + 8 * 16}),
        make_env,
        log=said.append,
    )
    msg = " ".join(said)
    assert f"{newest.name} (" in msg and f"resuming from {ckpts[-2].name}" in msg
    assert (ws / "train" / (newest.name + ".unreadable")).is_file()
    verify_trained(ws)


def test_ctrl_c_in_training_saves_a_checkpoint_and_meta_json(tmp_path):
    ws = push_ws(tmp_path)

    def ctrl_c():
        raise KeyboardInterrupt

    interrupting_env = env_that_at_step(16 * 3 + 5, ctrl_c)  # in the fourth rollout

    cfg = TrainConfig(
        num_envs=8, total_steps=8 * 16 * 50, save_every=100, threads=2, validate_every=0
    )
    with pytest.raises(TrainingInterruptedError, match="--resume") as e:
        run_train(ws, cfg, interrupting_env, **QUIET)
    assert e.value.exit_code == 130
    run = TrainRun.load(ws / "train")
    # rsl-rl numbers iterations from 0: three finished ones end at model_2.pt
    assert run.checkpoints[-1] == "model_2.pt" and run.env_steps == 8 * 16 * 3
    policy = run_export(ws, make_env, **QUIET)  # export works on it
    assert isinstance(policy, PolicyExport)


def test_without_meta_json_eval_and_export_name_resume(trained_ws, tmp_path):
    ws = copy_trained(trained_ws, tmp_path)
    (ws / "train" / "meta.json").unlink()
    for call in (
        lambda: run_export(ws, make_env, **QUIET),
        lambda: run_eval(ws, EvalConfig(episodes=2, video=False), make_env, **QUIET),
    ):
        with pytest.raises(ArtifactError, match=r"h2s2r train .* --resume"):
            call()


def test_checkpoints_are_written_through_a_temporary_file(trained_ws, tmp_path):
    from h2s2r.policy.checkpoints import load_runner
    from h2s2r.policy.config import saved_train_config

    cfg = saved_train_config(trained_ws)
    runner = load_runner(
        make_env(cfg.env_request(trained_ws, num_envs=2)),
        cfg,
        trained_ws / "train" / "best_model.pt",
    )
    target = tmp_path / "model_9.pt"
    target.write_bytes(b"old")
    seen = []
    import torch

    real_save = torch.save

    def spy(obj, path, *a, **k):
        seen.append(Path(path).name)
        return real_save(obj, path, *a, **k)

    torch.save = spy
    try:
        runner.save(str(target))
    finally:
        torch.save = real_save
    assert seen and seen[0] != target.name and seen[0].startswith(".model_9.pt.tmp")
    assert torch.load(target, weights_only=False)["iter"] >= 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_9.pt"]


# ---------------------------------------------------------------- options
@pytest.mark.parametrize(
    "argv, flag",
    [
        (["train", "{ws}", "--num-envs", "0"], "--num-envs"),
        (["train", "{ws}", "--num-envs", "-5"], "--num-envs"),
        (["train", "{ws}", "--save-every", "0"], "--save-every"),
        (["train", "{ws}", "--steps-per-env", "0"], "--steps-per-env"),
        (["train", "{ws}", "--threads", "-2"], "--threads"),
        (["train", "{ws}", "--budget-min", "0"], "--budget-min"),
        (["eval", "{ws}", "--episodes", "0"], "--episodes"),
        (["eval", "{ws}", "--episodes", "-4"], "--episodes"),
        (["synth", "--out", "{ws}", "--frames", "10"], "--frames"),
        (["import", "--from", "{ws}", "{ws}", "--fps", "-5"], "--fps"),
    ],
)
def test_out_of_range_options_fail_in_one_line_before_any_work(argv, flag, tmp_path, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()  # train and eval refuse a missing workspace before reading their options
    assert main([a.format(ws=ws) for a in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert flag in err and "\n" not in err and "Traceback" not in err
    leftovers = [p.name for p in ws.iterdir() if p.name != LOCK_FILE] if ws.exists() else []
    assert leftovers == []


@pytest.mark.parametrize(
    "yaml_text, name",
    [
        ("num_envs: many\n", "num_envs"),
        ("num_envs: 0\n", "num_envs"),
        ("learning_rate: '1e-3'\n", "learning_rate"),
        ("hidden_dims: [64, x]\n", "hidden_dims"),
        ("action_mode: joints\n", "action_mode"),
    ],
)
def test_wrong_yaml_values_fail_in_one_line(yaml_text, name, tmp_path, capsys):
    path = tmp_path / "train.yaml"
    path.write_text(yaml_text)
    (tmp_path / "ws").mkdir()  # a missing workspace is refused before the options are read
    assert main(["train", str(tmp_path / "ws"), "--config", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert name in err and str(path) in err and "\n" not in err


def test_a_huge_episode_count_is_refused_up_front(trained_ws, capsys):
    assert main(["eval", str(trained_ws), "--episodes", "100000000", "--no-video"]) == 1
    err = capsys.readouterr().err
    assert "--episodes 100,000,000 needs about" in err and "use at most" in err


# ---------------------------------------------------------------- frames and validate


def test_a_truncated_frame_is_named_by_the_stage(synth_copy):
    from h2s2r.perception.object_track.stage import TrackObjectConfig, run_track_object

    png = synth_copy / "capture" / "rgb" / "000005.png"
    png.write_bytes(png.read_bytes()[: png.stat().st_size // 2])
    with pytest.raises(ArtifactError, match=r"rgb/000005\.png: cannot be decoded"):
        run_track_object(synth_copy, TrackObjectConfig(overlay=False))


def test_an_added_frame_is_not_miscounted(synth_copy):
    cap = synth_copy / "capture"
    n = len(list((cap / "rgb").glob("*.png")))
    shutil.copy(cap / "rgb" / "000000.png", cap / "rgb" / f"{n:06d}.png")
    shutil.copy(cap / "depth" / "000000.png", cap / "depth" / f"{n:06d}.png")
    with pytest.raises(ArtifactError, match=f"holds {n + 1} frames but meta.json says {n}"):
        Capture.load(cap)


def test_validate_lists_every_problem(synth_copy, capsys):
    meta = synth_copy / "object" / "meta.json"
    meta.write_text(meta.read_text()[:-10])  # broken JSON
    gt = synth_copy / "ground_truth" / "meta.json"
    gt.unlink()
    with pytest.raises(WorkspaceError) as e:
        validate_workspace(synth_copy)
    assert len(e.value.problems) == 2
    assert main(["validate", str(synth_copy)]) == 1
    out = capsys.readouterr()
    assert "ok  capture/" in out.out and "2 problems" in out.err
    assert "object/meta.json" in out.err and "ground_truth/meta.json" in out.err


def test_import_depth_scale_disagreeing_with_the_folder_is_refused(tmp_path, capsys):
    src = tmp_path / "src"
    (src / "rgb").mkdir(parents=True)
    (src / "depth").mkdir()
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(src / "rgb" / "0.png")
    Image.fromarray(np.full((48, 64), 8000, np.uint16)).save(src / "depth" / "0.png")
    np.savetxt(src / "cam_K.txt", [[60, 0, 32], [0, 60, 24], [0, 0, 1]])
    (src / "depth_scale.txt").write_text("10000\n")  # 0.0001 m per unit
    ws = tmp_path / "ws"
    assert main(["import", "--from", str(src), str(ws), "--depth-scale", "0.001"]) == 1
    err = capsys.readouterr().err
    assert "--depth-scale 0.001 disagrees with" in err and "depth_scale.txt" in err
    assert main(["import", "--from", str(src), str(ws)]) == 0
    assert Capture.load(ws / "capture").depth_scale_m == pytest.approx(1e-4)
