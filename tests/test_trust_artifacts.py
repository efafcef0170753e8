"""Trust in artifacts (issue #19): no-op re-runs harmless, writes atomic, one writer at a
time, training recoverable, options checked before any work, frames checked by every
stage, every problem listed. Each test here failed before its fix."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from h2s2r.cli.main import main
from h2s2r.core.artifacts import Capture, PolicyExport, TrainRun
from h2s2r.core.artifacts.base import (
    TIMING_FILE,
    partial_path,
    read_timing,
    recover_folder,
    replaced_path,
    staged_folder,
)
from h2s2r.core.errors import ArtifactError, H2S2RError
from h2s2r.core.trust import verify_policy, verify_trained
from h2s2r.core.workspace import LOCK_FILE, WorkspaceError, validate_workspace, workspace_lock
from h2s2r.policy.config import TrainConfig
from h2s2r.policy.evaluate import EvalConfig, run_eval
from h2s2r.policy.export import run_export
from h2s2r.policy.train import TrainingInterruptedError, run_train
from h2s2r.sim.tasks import make_env

QUIET = {"log": lambda *a: None}


def _digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` but the timings."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != TIMING_FILE
    }


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
    before = _digest(ws)
    run_track_object(ws, TrackObjectConfig(overlay=False))
    run_track_hand(ws, TrackHandConfig(method="ground-truth"))
    run_retarget(ws, RetargetConfig())
    run_eval(ws, EvalConfig(episodes=2, video=False), make_env, **QUIET)
    run_export(ws, make_env, **QUIET)
    after = _digest(ws)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == []
    assert read_timing(ws / "object_track")["fps"] > 0  # the timings are kept, aside
    verify_trained(ws)  # train/ still belongs to task/: eval and export go on
    verify_policy(ws)
    assert validate_workspace(ws)


# ---------------------------------------------------------------- atomic folders
def test_a_failed_write_leaves_the_old_folder_and_no_partial(tmp_path):
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(folder) as out:
        (out / "a.txt").write_text("new, half")
        raise RuntimeError("killed")
    assert (folder / "a.txt").read_text() == "old"
    assert not partial_path(folder).exists()
    with staged_folder(folder) as out:
        (out / "b.txt").write_text("new")
    assert sorted(p.name for p in folder.iterdir()) == ["b.txt"]
    assert not replaced_path(folder).exists()


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
def _copy(trained_ws, tmp_path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(trained_ws, ws)
    shutil.rmtree(ws / "policy", ignore_errors=True)
    return ws


def test_resume_falls_back_past_a_truncated_checkpoint(trained_ws, tmp_path):
    ws = _copy(trained_ws, tmp_path)
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
    from tests.conftest import straight_push_task

    ws = tmp_path / "ws"
    task, mesh = straight_push_task()
    task.save(ws / "task")
    mesh.save(ws / "object")
    steps = {"n": 0}

    def interrupting_env(req):
        env = make_env(req)
        if req.num_envs != 8:
            return env
        step = env.step

        def step_then_ctrl_c(*a, **k):
            steps["n"] += 1
            if steps["n"] == 16 * 3 + 5:  # in the fourth rollout
                raise KeyboardInterrupt
            return step(*a, **k)

        env.step = step_then_ctrl_c
        return env

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
    ws = _copy(trained_ws, tmp_path)
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
    assert main(["train", str(tmp_path / "ws"), "--config", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert name in err and str(path) in err and "\n" not in err


def test_a_huge_episode_count_is_refused_up_front(trained_ws, capsys):
    assert main(["eval", str(trained_ws), "--episodes", "100000000", "--no-video"]) == 1
    err = capsys.readouterr().err
    assert "--episodes 100,000,000 needs about" in err and "use at most" in err


# ---------------------------------------------------------------- frames and validate
@pytest.fixture
def synth_copy(synth_box, tmp_path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(synth_box, ws)
    return ws


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


# ---------------------------------------------------------------- held-out probe's finds
def _image_folder(src: Path, n: int = 3, size=(64, 48), depth_mm: int = 800) -> Path:
    (src / "rgb").mkdir(parents=True)
    (src / "depth").mkdir()
    for i in range(n):
        Image.fromarray(np.zeros((size[1], size[0], 3), np.uint8)).save(src / "rgb" / f"{i}.png")
        depth = np.full((size[1], size[0]), depth_mm, np.uint16)
        Image.fromarray(depth).save(src / "depth" / f"{i}.png")
    np.savetxt(src / "cam_K.txt", [[60, 0, 32], [0, 60, 24], [0, 0, 1]])
    return src


@pytest.mark.parametrize(
    "fault, match",
    [
        ("empty_png", r"rgb/1\.png: is empty \(0 bytes\)"),
        ("mixed_size", r"rgb/2\.png: 32×24, but the first frame"),
        ("zero_depth", r"no valid depth"),
    ],
)
def test_a_refused_import_leaves_no_capture_behind(tmp_path, capsys, fault, match):
    src = _image_folder(tmp_path / "src", depth_mm=0 if fault == "zero_depth" else 800)
    if fault == "empty_png":
        (src / "rgb" / "1.png").write_bytes(b"")
    if fault == "mixed_size":
        Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(src / "rgb" / "2.png")
        Image.fromarray(np.full((24, 32), 800, np.uint16)).save(src / "depth" / "2.png")
    ws = tmp_path / "ws"
    assert main(["import", "--from", str(src), str(ws)]) == 1
    err = capsys.readouterr().err
    assert re.search(match, err) and "Traceback" not in err
    assert not (ws / "capture").exists()


def test_a_file_or_unwritable_place_as_workspace_is_one_line(tmp_path, capsys):
    bag = tmp_path / "take.bag"
    bag.write_bytes(b"x")
    assert main(["track-object", str(bag)]) == 1
    assert "is a file, not a workspace folder" in capsys.readouterr().err
    assert main(["track-hand", "/proc/h2s2r-ws"]) == 1
    assert "cannot write here" in capsys.readouterr().err


def test_a_checkpoint_from_another_run_is_refused(trained_ws, tmp_path):
    other = tmp_path / "other.pt"
    shutil.copy(trained_ws / "train" / "best_model.pt", other)
    with pytest.raises(H2S2RError, match="not a checkpoint of"):
        run_eval(trained_ws, EvalConfig(episodes=2, video=False, checkpoint=str(other)), make_env)
    ws = _copy(trained_ws, tmp_path)
    shutil.copy(other, ws / "train" / "model_77.pt")  # copied in: not in meta.json
    with pytest.raises(H2S2RError, match="does not list it"):
        run_export(ws, make_env, checkpoint="model_77.pt", **QUIET)


def test_resume_without_a_run_starts_one_and_a_resumed_run_reopens(trained_ws, tmp_path):
    from tests.conftest import straight_push_task

    ws = tmp_path / "fresh"
    task, mesh = straight_push_task()
    task.save(ws / "task")
    mesh.save(ws / "object")
    said = []
    cfg = TrainConfig(num_envs=8, total_steps=8 * 16, threads=2, validate_every=0, resume=True)
    run_train(ws, cfg, make_env, log=said.append)
    assert "holds no checkpoint yet: starting a new run" in said[0]
    assert TrainRun.load(ws / "train").env_steps == 8 * 16


def test_track_object_option_ranges(synth_copy, capsys):
    for argv, flag in (
        (["--max-points", "0"], "--max-points"),
        (["--mesh-scale", "0.001"], "--mesh-scale"),
        (["--min-agreement", "1.5"], "--min-agreement"),
    ):
        assert main(["track-object", str(synth_copy), *argv]) == 1
        err = capsys.readouterr().err.strip()
        assert flag in err and "\n" not in err
    assert not (synth_copy / "object_track").exists()


@pytest.mark.parametrize(
    "verb",
    [
        "synth",
        "import",
        "calibrate",
        "track-object",
        "track-hand",
        "retarget",
        "train",
        "eval",
        "export",
        "deploy",
        "run",
    ],
)
def test_every_verb_prints_its_help(verb, capsys):
    """A '%' in an option's comment once broke argparse's help of track-object."""
    with pytest.raises(SystemExit) as e:
        main([verb, "--help"])
    assert e.value.code == 0 and "--" in capsys.readouterr().out


def test_another_cameras_intrinsics_are_refused_at_import(tmp_path, capsys):
    src = _image_folder(tmp_path / "src")
    np.savetxt(src / "cam_K.txt", [[1380, 0, 960], [0, 1380, 540], [0, 0, 1]])  # 1920×1080
    ws = tmp_path / "ws"
    assert main(["import", "--from", str(src), str(ws)]) == 1
    err = capsys.readouterr().err
    assert "cam_K.txt: does not fit 64×48 images" in err and "--cam-k" in err
    assert not (ws / "capture").exists()
