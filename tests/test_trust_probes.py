"""Trust in artifacts (issue #19): what the held-out probe rounds (``bench/probe/``)
found, one test per find. Each test here failed before its fix."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from h2s2r.cli.main import VERBS, main
from h2s2r.core.artifacts import TrainRun
from h2s2r.core.artifacts.base import (
    partial_path,
    recover_folder,
    replaced_path,
    staged_folder,
)
from h2s2r.core.errors import H2S2RError
from h2s2r.core.trust import verify_trained
from h2s2r.core.workspace import LOCK_FILE, workspace_lock
from h2s2r.policy.config import TrainConfig
from h2s2r.policy.evaluate import EvalConfig, run_eval
from h2s2r.policy.export import run_export
from h2s2r.policy.train import TrainingInterruptedError, run_train
from h2s2r.sim.tasks import make_env
from tests.trust_support import QUIET, copy_trained, env_that_at_step, push_ws


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
    assert main(["synth", "--out", "/proc/h2s2r-ws"]) == 1  # a verb that makes its workspace
    assert "cannot write here" in capsys.readouterr().err
    assert main(["track-hand", "/proc/h2s2r-ws"]) == 1  # one that reads it: none there
    assert "workspace folder does not exist" in capsys.readouterr().err


def test_a_checkpoint_from_another_run_is_refused(trained_ws, tmp_path):
    other = tmp_path / "other.pt"
    shutil.copy(trained_ws / "train" / "best_model.pt", other)
    with pytest.raises(H2S2RError, match="not a checkpoint of"):
        run_eval(trained_ws, EvalConfig(episodes=2, video=False, checkpoint=str(other)), make_env)
    ws = copy_trained(trained_ws, tmp_path)
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


@pytest.mark.parametrize("verb", [v.name for v in VERBS if v.setup])
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


# ---------------------------------------------------------------- round-3 probe
def _poison(ws: Path, name: str) -> None:
    """``train/name`` with NaN actor weights and its hash in meta.json updated, as a
    diverged run would have saved it."""
    import torch

    from h2s2r.core.artifacts.base import sha256_file

    path = ws / "train" / name
    ck = torch.load(path, weights_only=False)
    for k, v in ck["actor_state_dict"].items():
        if k.startswith("mlp.") and torch.is_floating_point(v):
            v.fill_(float("nan"))
    torch.save(ck, path)
    meta = json.loads((ws / "train" / "meta.json").read_text())
    meta["files"][name] = sha256_file(path)
    (ws / "train" / "meta.json").write_text(json.dumps(meta))


def _pt_files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.pt*")}


def test_resume_with_another_network_is_refused_and_renames_nothing(trained_ws, tmp_path):
    """The probe: --resume with large_network.yaml renamed every checkpoint *.unreadable
    (the shape mismatch taken for a damaged file), breaking the finished run."""
    from h2s2r.policy.checkpoints import make_runner, resume_newest_readable
    from h2s2r.policy.config import saved_train_config

    ws = copy_trained(trained_ws, tmp_path)
    before = _pt_files(ws / "train")
    saved = saved_train_config(ws)
    big = TrainConfig(**{**saved.__dict__, "hidden_dims": (256, 128, 64), "resume": True})
    with pytest.raises(H2S2RError, match=r"hidden_dims \[128, 64, 32\] \(now \[256, 128, 64\]\)"):
        run_train(ws, big, make_env, **QUIET)
    assert _pt_files(ws / "train") == before
    verify_trained(ws)  # the finished run is intact: eval and export go on
    # Below the options check (a run without config.json): a load that fails on shapes
    # is not a damaged file either.
    runner = make_runner(make_env(big.env_request(ws, num_envs=2)), big)
    with pytest.raises(H2S2RError, match=r"does not fit the network"):
        resume_newest_readable(runner, ws / "train")
    assert _pt_files(ws / "train") == before


def test_a_full_disk_while_training_is_one_line_and_the_retry_works(tmp_path, capsys):
    """The probe: RLIMIT_FSIZE 300 kB (a full disk) made torch.save raise RuntimeError
    ("unexpected pos …"): a traceback."""
    import resource
    import signal

    from tests.conftest import straight_push_task

    ws = tmp_path / "ws"
    task, mesh = straight_push_task()
    task.save(ws / "task")
    mesh.save(ws / "object")
    argv = ["train", str(ws), "--num-envs", "8", "--total-steps", "128", "--threads", "1"]
    argv += ["--validate-every", "1", "--validate-episodes", "2"]
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as Python starts: EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))  # a checkpoint is larger
    try:
        rc = main(argv)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err and "Traceback" not in err, err
    assert re.search(r"(best_model|model_\d+)\.pt: could not be written", err), err
    assert "free disk space" in err and "--resume" in err
    assert not [p.name for p in (ws / "train").rglob(".*tmp-*")]
    assert main(argv) == 0  # space freed: the same command
    verify_trained(ws)


def test_no_nan_weights_are_saved_nor_exported(trained_ws, tmp_path):
    """The probe: export of a checkpoint with NaN actor weights exited 0 with an ONNX
    policy giving NaN actions; training saved such weights as best or final silently."""
    import torch

    from h2s2r.policy.checkpoints import load_runner
    from h2s2r.policy.config import saved_train_config

    ws = copy_trained(trained_ws, tmp_path)
    _poison(ws, "best_model.pt")
    with pytest.raises(H2S2RError, match=r"best_model\.pt: the policy's weights hold \d+ NaN"):
        run_export(ws, make_env, **QUIET)
    assert not (ws / "policy").exists() and not partial_path(ws / "policy").exists()

    cfg = saved_train_config(ws)
    env = make_env(cfg.env_request(ws, num_envs=2))
    runner = load_runner(env, cfg, ws / "train" / "best_model.pt")
    assert any(torch.isnan(p).any() for p in runner.alg.get_policy().parameters())
    with pytest.raises(H2S2RError, match=r"training diverged.*not written.*--learning-rate"):
        runner.save(str(tmp_path / "model_9.pt"))
    assert not (tmp_path / "model_9.pt").exists()


@pytest.mark.parametrize("verb", ["synth --out {d}/new", "eval {d}", "validate {d}"])
def test_a_bad_mujoco_gl_is_one_line_for_every_verb(verb, tmp_path):
    """The probe: MUJOCO_GL=bogus made `import mujoco` raise inside the parser's set-up,
    before main()'s error handling: a traceback."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MUJOCO_GL": "bogus"}
    r = subprocess.run(
        [sys.executable, "-m", "h2s2r.cli.main", *verb.format(d=tmp_path).split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    err = r.stderr.strip()
    assert r.returncode == 1 and "\n" not in err, err
    assert "MUJOCO_GL='bogus'" in err and "egl" in err and "osmesa" in err


def test_object_as_a_file_is_named_and_a_file_at_a_folder_is_replaced(synth_copy, capsys):
    """The probe: `cp box.obj ws/object` made track-object say "folder does not exist";
    with --mesh, staged_folder's rmtree(ignore_errors=True) left `.object.replaced`."""
    mesh = synth_copy / "object" / "mesh.obj"
    box = synth_copy.parent / "box.obj"
    shutil.copy(mesh, box)
    shutil.rmtree(synth_copy / "object")
    shutil.copy(box, synth_copy / "object")
    assert main(["track-object", str(synth_copy), "--no-overlay"]) == 1
    err = capsys.readouterr().err
    assert "object: is a file, not the object/ folder" in err and "--mesh" in err

    folder = synth_copy / "task"  # the same for any artifact, without the tracking
    folder.write_text("not a folder")
    with staged_folder(folder) as out:
        (out / "a.txt").write_text("new")
    assert (folder / "a.txt").read_text() == "new"
    assert [
        p.name for p in synth_copy.iterdir() if p.name.endswith((".replaced", ".partial"))
    ] == []


def test_a_symlinked_artifact_folder_is_written_through_the_link(tmp_path):
    """The probe: policy/ linked to the robot PC's share was replaced by a local folder,
    silently; the share kept the old policy, and `.policy.replaced` was left."""
    ws, share = tmp_path / "ws", tmp_path / "robot_pc" / "policy"
    ws.mkdir()
    share.mkdir(parents=True)
    (share / "policy.json").write_text("old")
    (ws / "policy").symlink_to(share, target_is_directory=True)
    with staged_folder(ws / "policy") as out:
        (out / "policy.json").write_text("new")
    assert (ws / "policy").is_symlink() and (share / "policy.json").read_text() == "new"
    assert sorted(p.name for p in ws.iterdir()) == ["policy"]
    assert sorted(p.name for p in share.parent.iterdir()) == ["policy"]

    # A kill between the two renames, through the link: the lock puts the share back.
    replaced_path(share).mkdir()
    (replaced_path(share) / "policy.json").write_text("previous")
    share.rename(partial_path(share))  # the new one, never swapped in
    said = []
    with workspace_lock(ws, "h2s2r export ws", log=said.append):
        pass
    assert said and (ws / "policy").is_symlink()
    assert (share / "policy.json").read_text() == "previous"
    assert sorted(p.name for p in share.parent.iterdir()) == ["policy"]
    # What the old code left in the workspace (the link itself renamed) goes too.
    (ws / ".policy.replaced").symlink_to(share, target_is_directory=True)
    recover_folder(ws / "policy")
    assert not (ws / ".policy.replaced").is_symlink() and (share / "policy.json").is_file()


def test_run_checks_the_robot_before_any_stage(synth_copy, capsys):
    """The probe: `robot: iiwa-allegro` in run.yaml was refused only after track-object
    and track-hand had written their folders."""
    cfg = synth_copy.parent / "run.yaml"
    cfg.write_text("robot: iiwa-allegro\nhand_method: ground-truth\n")
    assert main(["run", str(synth_copy), "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "iiwa-allegro" in err and "iiwa_allegro" in err and str(cfg) in err
    assert not (synth_copy / "object_track").exists() and not (synth_copy / "hand_track").exists()


def test_yaml_numbers_without_a_decimal_point_are_numbers(tmp_path):
    """The probe: PyYAML (YAML 1.1) reads `learning_rate: 1e-3` as the string '1e-3',
    which was refused as "must be a number"."""
    from h2s2r.cli.options import load_config_file
    from h2s2r.core.config import apply_overrides

    path = tmp_path / "lr.yaml"
    path.write_text("learning_rate: 1e-3\ntotal_steps: 1.0e6\nentropy_coef: 5E-3\n")
    cfg = apply_overrides(TrainConfig(), load_config_file(path), str(path))
    assert cfg.learning_rate == 0.001 and cfg.entropy_coef == 0.005
    assert cfg.total_steps == 1_000_000 and isinstance(cfg.total_steps, int)
    path.write_text("learning_rate: '1e-3'\n")  # quoted: text, and the message says so
    with pytest.raises(H2S2RError, match=r"learning_rate: must be a number.*without quotes"):
        apply_overrides(TrainConfig(), load_config_file(path), str(path))


def test_validate_names_the_command_still_writing_the_workspace(trained_ws, tmp_path, capsys):
    """The probe: validate during `train` called train/ broken ("meta.json: file is
    missing — re-run h2s2r train")."""
    import subprocess
    import sys

    ws = copy_trained(trained_ws, tmp_path)
    (ws / "train" / "meta.json").unlink()  # as while training runs
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from h2s2r.core.workspace import workspace_lock\n"
            "with workspace_lock(sys.argv[1], 'h2s2r train ws', writes=('train',)):\n"
            "    print('held', flush=True); time.sleep(60)\n",
            str(ws),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["validate", str(ws)]) == 1
        err = capsys.readouterr().err
        assert f"being written by `h2s2r train ws` (pid {holder.pid}" in err, err
        assert "wait for it" in err and "file is missing" not in err
    finally:
        holder.kill()
        holder.wait()
    assert main(["validate", str(ws)]) == 1  # nobody writes it now: it is broken
    assert "meta.json: file is missing" in capsys.readouterr().err


# ----------------------------------------------------------------------------- round 4
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_or_sighup_in_training_saves_like_ctrl_c(tmp_path, signame):
    """A scheduler's SIGTERM or a dropped ssh session's SIGHUP ends training with a
    checkpoint and meta.json (round-4 probe: `run` after SIGHUP found no meta.json)."""
    import os
    import signal

    ws = push_ws(tmp_path)
    signalling_env = env_that_at_step(
        16 * 2 + 3, lambda: os.kill(os.getpid(), getattr(signal, signame))
    )
    cfg = TrainConfig(num_envs=8, total_steps=8 * 16 * 50, threads=2, validate_every=0)
    with pytest.raises(TrainingInterruptedError, match="--resume"):
        run_train(ws, cfg, signalling_env, **QUIET)
    assert TrainRun.load(ws / "train").checkpoints[-1] == "model_1.pt"
    assert signal.getsignal(getattr(signal, signame)) in (
        signal.SIG_DFL,
        signal.default_int_handler,
    )


def test_mini_batches_cannot_exceed_the_samples_of_an_iteration():
    """Round-4 probe: --mini-batches 256 with 128 samples trained on NaN losses, exit 0."""
    with pytest.raises(H2S2RError, match=r"--mini-batches 256: more than the 128 samples"):
        TrainConfig(num_envs=8, steps_per_env=16, mini_batches=256)
    assert TrainConfig(num_envs=8, steps_per_env=16, mini_batches=128).mini_batches == 128


def test_a_train_folder_without_config_json_is_read_from_its_meta_json(tmp_path):
    """Round-4 probe: train/ copied with only the files meta.json lists (no config.json)
    was evaluated with the default options (a joint_delta run failed to load)."""
    from h2s2r.policy.config import saved_train_config

    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "meta.json").write_text(
        json.dumps({"config": {"action_mode": "joint_delta", "hidden_dims": [64, 32]}})
    )
    cfg = saved_train_config(tmp_path)
    assert cfg.action_mode == "joint_delta" and cfg.hidden_dims == (64, 32)


def test_resume_refuses_a_changed_task_and_another_backend(trained_ws, tmp_path):
    """Round-4 probe: after `retarget --robot iiwa_leap`, `train --resume` continued the
    iiwa_allegro run on the new task; a warp run resumed silently on mujoco."""
    ws = copy_trained(trained_ws, tmp_path)
    before = sorted(p.name for p in (ws / "train").iterdir())
    cfg = TrainConfig(num_envs=8, total_steps=8 * 16 * 6, threads=2, resume=True)
    with pytest.raises(H2S2RError, match=r"--backend mujoco.*now warp"):
        run_train(ws, TrainConfig(**{**cfg.__dict__, "backend": "warp"}), make_env, **QUIET)
    meta = json.loads((ws / "task" / "meta.json").read_text())
    meta.setdefault("provenance", {})["edited"] = True  # another task/ (a re-retarget)
    (ws / "task" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(H2S2RError, match=r"task changed since this run was trained"):
        run_train(ws, cfg, make_env, **QUIET)
    assert sorted(p.name for p in (ws / "train").iterdir()) == before  # nothing touched


# ----------------------------------------------------------------------------- round 10
def _numeric_options():
    """``(verb, its parser, the option's action)`` of every int and float option."""
    from h2s2r.cli.main import build_parser

    for v in VERBS:
        if not v.setup:
            continue
        parser, _ = build_parser(v.name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        p = sub.choices[v.name]
        for a in p._actions:
            if a.type in (int, float) and not a.choices:
                yield v.name, p, a


def _outside(action) -> list[str]:
    """Values just outside the range an option's help declares (``; >= lo``, ``> lo``,
    ``<= hi``)."""
    out, h, num = [], action.help or "", r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)"
    if m := re.search(r"; >= " + num, h):
        lo = float(m.group(1))
        out.append(str(int(lo) - 1 if action.type is int else lo - 0.5))
    if m := re.search(r"(?:; |, )> " + num, h):
        out.append(str(action.type(float(m.group(1)))))
    if m := re.search(r"<= " + num, h):
        hi = float(m.group(1))
        out.append(str(int(hi) + 1 if action.type is int else hi * 2 + 1))
    return out


def test_every_numeric_option_is_range_checked_in_one_line(tmp_path, capsys):
    """Probe round 10: ``--seed -1`` (eval, track-object) was a numpy traceback and
    ``deploy --sim-seed -1`` a 60 s wait; ``track-hand --smooth-half-window -1`` was taken.
    Every int and float option of every verb declares its range in its help, and a value
    outside it is refused in one line naming the option, before any work."""
    unranged, unrefused = [], []
    ws = tmp_path / "ws"
    ws.mkdir()
    for verb, parser, action in _numeric_options():
        flag, bad_values = action.option_strings[0], _outside(action)
        if not bad_values:
            unranged.append(f"{verb} {flag}")
        argv = [verb]
        for a in parser._actions:
            if not a.option_strings and a.dest != "help":
                argv.append(str(ws))
            elif a.required:
                argv += [a.option_strings[0], str(ws)]
        for bad in bad_values:
            code = main([*argv, flag, bad])
            err = capsys.readouterr().err.strip()
            left = [p.name for p in ws.iterdir() if p.name != LOCK_FILE]
            if code != 1 or flag not in err or "\n" in err or left:
                unrefused.append(f"{verb} {flag} {bad}: exit {code}, {err[-200:]!r}, left {left}")
                shutil.rmtree(ws)
                ws.mkdir()
    assert unranged == [] and unrefused == []


def test_eval_of_the_onnx_policy_refuses_another_checkpoint(capsys):
    """Probe round 10: ``eval --policy onnx --checkpoint latest`` evaluated policy.onnx
    (exported from the best checkpoint) and recorded "latest"."""
    with pytest.raises(ValueError, match=r"^--checkpoint latest chooses a checkpoint .*export"):
        EvalConfig(policy="onnx", checkpoint="latest")
    EvalConfig(policy="onnx")  # the default is fine
    EvalConfig(policy="checkpoint", checkpoint="latest")


# ----------------------------------------------------------------------------- round 11
def test_a_zero_width_layer_is_refused_naming_hidden_dims(tmp_path, capsys):
    """Probe round 11: ``hidden_dims: [128, 0, 32]`` trained a network whose actions
    cannot depend on the observation, with only torch's warning."""
    (tmp_path / "ws").mkdir()
    net = tmp_path / "net.yaml"
    net.write_text("hidden_dims: [128, 0, 32]\n")
    assert main(["train", str(tmp_path / "ws"), "--config", str(net)]) == 1
    err = capsys.readouterr().err.strip()
    assert "hidden_dims[1] of [128, 0, 32] must be at least 1" in err and "\n" not in err
    assert not (tmp_path / "ws" / "train").exists()
    with pytest.raises(ValueError, match=r"hidden_dims\[0\] .* whole number"):
        TrainConfig(hidden_dims=(64.5, 32))


def test_float_depth_with_a_depth_scale_is_refused(tmp_path):
    """Probe round 11: ``--depth-scale`` with float-metre ``.npy`` depth was dropped
    without a word."""
    from h2s2r.perception.capture.importers import ImportConfig, run_import

    src = _image_folder(tmp_path / "take")
    for p in (src / "depth").glob("*.png"):
        np.save(p.with_suffix(".npy"), np.full((48, 64), 0.8, np.float32))
        p.unlink()
    with pytest.raises(H2S2RError, match=r"^--depth-scale 0\.001: .*float depth.*drop"):
        run_import(tmp_path / "ws", ImportConfig(source=str(src), depth_scale=0.001))
    assert not (tmp_path / "ws" / "capture").exists()
    run_import(tmp_path / "ws", ImportConfig(source=str(src)))  # metres as they are


def test_a_command_rate_below_the_policys_is_refused():
    """Probe round 11: a robot YAML with ``rate_hz: 10`` (the policy steps at 15 Hz)
    deployed without a word."""
    from h2s2r.cli.deploy import DeployConfig, check_command_rate

    check_command_rate(15.0, 1 / 15, DeployConfig())
    with pytest.raises(H2S2RError, match=r"^my.yaml: command rate_hz 10 is below .*15 Hz"):
        check_command_rate(10.0, 1 / 15, DeployConfig(robot_config="my.yaml"))


def test_a_smoothing_window_of_seconds_is_refused(capsys):
    """Probe round 11: ``track-hand --smooth-half-window 100`` on a 30-frame take fitted
    one quadratic across it (11 mm off, against 0.4 mm)."""
    from h2s2r.perception.object_track.smooth import check_smoothing_window

    with pytest.raises(H2S2RError, match=r"spans 6\.70 s of video .* at most 29 \(0 = off\)"):
        check_smoothing_window(100, 30.0)
    check_smoothing_window(2, 30.0, warn_s=0.5)
    check_smoothing_window(2, 3.0, warn_s=None)  # a short, slow take: no word either
    assert capsys.readouterr().err == ""
    check_smoothing_window(10, 30.0, warn_s=0.5)
    assert "warning: --smooth-half-window 10 spans 0.70 s" in capsys.readouterr().err


# ----------------------------------------------------------------------------- round 12
def test_a_usage_error_says_what_to_do(capsys):
    """Probe round 12: ``h2s2r eval`` without a workspace said only "the following
    arguments are required: workspace"."""
    with pytest.raises(SystemExit) as e:
        main(["eval"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert e.value.code == 2
    assert err.endswith(
        "required: workspace — give the workspace folder, e.g. `h2s2r eval runs/mug` "
        "(see `h2s2r eval --help`)"
    )
