"""The command line: every verb listed and implemented, synth end to end."""

from __future__ import annotations

import subprocess
import sys

from h2s2r.cli.main import VERBS, main

DESIGN_VERBS = (
    "capture",
    "import",
    "synth",
    "calibrate",
    "track-object",
    "track-hand",
    "retarget",
    "train",
    "eval",
    "export",
    "deploy",
    "run",
    "demo",
    "report",
)


def test_help_lists_every_design_verb():
    out = subprocess.run(
        [sys.executable, "-m", "h2s2r.cli.main", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for verb in DESIGN_VERBS:
        assert f"\n  {verb} " in out or f"\n    {verb}" in out, verb
    assert {v.name for v in VERBS} >= set(DESIGN_VERBS)


def test_train_without_a_task_says_what_to_run(tmp_path, capsys):
    assert main(["train", str(tmp_path)]) == 1
    assert "h2s2r retarget" in capsys.readouterr().err


def test_synth_then_validate(tmp_path, capsys):
    out = tmp_path / "ws"
    assert main(["synth", "--task", "can_lift", "--out", str(out), "--frames", "30"]) == 0
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed
    assert main(["validate", str(out)]) == 0
    assert "3 artifact(s) valid" in capsys.readouterr().out


def test_user_errors_exit_1_with_one_line(tmp_path, capsys):
    assert main(["synth", "--task", "mug_pour", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "box_push" in err and "can_lift" in err and "Traceback" not in err
    assert main(["validate", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_config_file_and_flag_precedence(tmp_path, capsys):
    from h2s2r.cli.main import build_parser
    from h2s2r.cli.options import config_from_args
    from h2s2r.sim.synth import SynthConfig

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("task: can_lift\nseed: 5\ncamera_distance_m: [0.7, 0.9]\n")
    parser, _ = build_parser("synth")
    args = parser.parse_args(["synth", "--out", "x", "--config", str(cfg_file), "--seed", "9"])
    cfg = config_from_args(SynthConfig, args)
    assert (cfg.task, cfg.seed, cfg.camera_distance_m, cfg.frames) == (
        "can_lift",
        9,
        (0.7, 0.9),
        120,
    )
    cfg_file.write_text("taks: can_lift\n")
    assert main(["synth", "--out", str(tmp_path / "o"), "--config", str(cfg_file)]) == 1
    err = capsys.readouterr().err
    assert "unknown option(s) ['taks']" in err and "task" in err


def test_several_config_files_apply_in_order(tmp_path):
    """Probe round 9: with two ``--config`` files only the last applied, silently. Now
    each applies in order, a later value over an earlier one, ``task_config`` merged key
    by key; flags over both."""
    from h2s2r.cli.main import build_parser
    from h2s2r.cli.options import config_from_args
    from h2s2r.policy.config import TrainConfig

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("seed: 5\nnum_envs: 64\ntask_config:\n  goal_speed: [0.6, 0.9]\n")
    b.write_text("seed: 6\ntask_config:\n  episode_slack_s: 3.0\n")
    parser, _ = build_parser("train")
    argv = ["train", "ws", "--config", str(a), "--config", str(b), "--num-envs", "32"]
    cfg = config_from_args(TrainConfig, parser.parse_args(argv))
    assert (cfg.seed, cfg.num_envs) == (6, 32)
    assert dict(cfg.task_config) == {"goal_speed": [0.6, 0.9], "episode_slack_s": 3.0}


def test_shipped_configs_parse():
    from pathlib import Path

    from h2s2r.cli.backends import check_task_config
    from h2s2r.cli.options import load_config_file
    from h2s2r.core.config import apply_overrides
    from h2s2r.policy.config import TrainConfig, ppo_config
    from h2s2r.sim.synth import SynthConfig

    root = Path(__file__).parents[1] / "configs"
    for verb, cls in (("synth", SynthConfig), ("train", TrainConfig)):
        configs = sorted((root / verb).glob("*.yaml"))
        assert configs
        for path in configs:
            cfg = apply_overrides(cls(), load_config_file(path), str(path))
            if cls is TrainConfig:
                check_task_config(cfg, str(path))
    path = root / "train" / "large_network.yaml"
    large = apply_overrides(TrainConfig(), load_config_file(path), str(path))
    assert ppo_config(large)["actor"]["hidden_dims"] == [256, 128, 64]


def test_track_object_verb(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["synth", "--task", "box_push", "--out", str(ws), "--frames", "30"]) == 0
    assert main(["track-object", str(ws), "--no-overlay"]) == 0
    out = capsys.readouterr().out
    assert "vs ground truth" in out and (ws / "object_track" / "poses.npz").is_file()
    assert main(["track-object", str(ws), "--method", "sam6d"]) == 1
    assert "icp, foundationpose" in capsys.readouterr().err
    assert main(["track-object", str(ws), "--method", "foundationpose"]) == 1
    assert "GPU" in capsys.readouterr().err


def test_run_redoes_a_stage_whose_folder_does_not_load(tmp_path, capsys):
    """Empty stage folders (no meta.json) are not outputs to skip: run re-makes the first
    and, here, stops on the missing capture with the command that makes it."""
    for d in ("object_track", "hand_track", "task", "train", "eval", "policy"):
        (tmp_path / d).mkdir()
    assert main(["run", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "── object_track/ (does not load:" in captured.out
    assert "capture" in captured.err and "h2s2r import" in captured.err


def test_a_quoted_tilde_is_refused_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """Round-4 probe: `h2s2r eval '~/runs/mug'` (the shell leaves a quoted ~ alone) said
    "~/runs/mug/task: folder does not exist" and left a folder named `~` behind."""
    monkeypatch.chdir(tmp_path)
    for verb in ("eval", "train", "track-hand", "export"):
        assert main([verb, "~/runs/mug"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "~/runs/mug: workspace folder does not exist" in err, err
        assert "did not expand '~'" in err and '"$HOME/runs/mug"' in err, err
    # A verb that makes its workspace would make a folder named `~`: refused too.
    assert main(["synth", "--task", "box_push", "--out", "~/runs/mug", "--frames", "30"]) == 1
    assert "did not expand '~'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_missing_workspace_is_refused_before_anything_is_made(tmp_path, capsys):
    ws = tmp_path / "runs" / "mug"
    assert main(["retarget", str(ws)]) == 1
    err = capsys.readouterr().err
    assert f"{ws}: workspace folder does not exist" in err and "h2s2r import" in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_creating_verb_removes_the_parents_it_made(tmp_path, capsys):
    out = tmp_path / "a" / "b" / "ws"
    assert main(["synth", "--task", "mug_pour", "--out", str(out)]) == 1
    assert "box_push" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # not even a/ or a/b/
    (tmp_path / "a").mkdir()  # a folder that was there before stays
    assert main(["synth", "--task", "mug_pour", "--out", str(out)]) == 1
    assert [p.name for p in tmp_path.rglob("*")] == ["a"]


def test_a_deleted_current_directory_is_one_line(tmp_path):
    """A shell left in a folder that was deleted: torch's MKL died with a fatal error that
    named a library; now one line says what happened and what to do."""
    gone = tmp_path / "gone"
    gone.mkdir()
    code = "import sys; from h2s2r.cli.main import main; sys.exit(main(['eval', sys.argv[1]]))"
    shell = f'cd "{gone}" && rmdir "{gone}" && exec "$0" -c "$1" "$2"'
    r = subprocess.run(
        ["bash", "-c", shell, sys.executable, code, str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: the current directory no longer exists"), r.stderr
    assert "cd to an existing folder" in r.stderr and len(r.stderr.splitlines()) == 1
