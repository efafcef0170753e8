"""Task options (``task_config`` in a train YAML) are range-checked before any work: one
line naming the key path, the value and the valid range (issue #19, probe round 5:
a reversed goal_speed and a negative object_density were tracebacks, max_step_rad in
degrees trained)."""

from __future__ import annotations

import math

import pytest

from h2s2r.cli.main import main
from h2s2r.core.control import ControllerConfig
from h2s2r.core.errors import H2S2RError
from h2s2r.core.ranges import check_interval, check_number
from h2s2r.sim.tasks import task_config
from h2s2r.sim.tasks.track_demo import DR_PRESETS, Randomization, RewardWeights, TaskConfig

# (YAML under task_config:, the key path the error names, a piece of the valid range)
BAD = [
    ("goal_speed: [1.0, 0.5]", "task_config: goal_speed", "reversed"),
    ("goal_speed: [0.0, 1.0]", "task_config: goal_speed", "(0, 10]"),
    ("goal_speed: [0.5]", "task_config: goal_speed", "[low, high] pair"),
    ("goal_speed: [0.5, 1.0, 2.0]", "task_config: goal_speed", "[low, high] pair"),
    ("goal_speed: [-1.0, 1.0]", "task_config: goal_speed", "(0, 10]"),
    ("object_density: -500", "task_config: object_density", "[10, 25000] kg/m³"),
    ("object_density: 0.5", "task_config: object_density", "g/cm³"),
    ("physics_dt_s: 120", "task_config: physics_dt_s", "(0, 0.02] s"),
    ("physics_dt_s: 0", "task_config: physics_dt_s", "(0, 0.02] s"),
    ("ctrl_dt_s: 15", "task_config: ctrl_dt_s", "1] s"),
    ("ctrl_dt_s: 0.07", "task_config: ctrl_dt_s", "use the nearest: 0.066666666667 (8 steps"),
    ("pause_distance_m: -0.2", "task_config: pause_distance_m", "(0, 1] m"),
    ("gate_distance_m: 30", "task_config: gate_distance_m", "centimetres"),
    ("far_hand_m: 0", "task_config: far_hand_m", "(0, 2] m"),
    ("episode_slack_s: -1", "task_config: episode_slack_s", "[0, 600] s"),
    ("success_pos_m: 3", "task_config: success_pos_m", "(0, 0.5] m"),
    ("success_rot_deg: 0", "task_config: success_rot_deg", "(0, 180]"),
    ("success_rot_deg: 400", "task_config: success_rot_deg", "(0, 180]"),
    ("success_rot_deg: .nan", "task_config: success_rot_deg", "finite"),
    ("model_variants: 0", "task_config: model_variants", "[1, 1024]"),
    ("start_states: -3", "task_config: start_states", "[1, 1000000]"),
    ("controller: {max_step_rad: 5.7}", "task_config: controller: max_step_rad", "(0, π] rad"),
    ("controller: {max_step_rad: 0}", "task_config: controller: max_step_rad", "(0, π] rad"),
    ("controller: {max_step_m: 2}", "task_config: controller: max_step_m", "(0, 0.1] m"),
    ("controller: {max_step_m: -0.02}", "task_config: controller: max_step_m", "(0, 0.1] m"),
    (
        "controller: {max_joint_step_rad: 10}",
        "task_config: controller: max_joint_step_rad",
        "(0, π] rad",
    ),
    ("controller: {damping: 0}", "task_config: controller: damping", "(0, 1]"),
    ("controller: {damping: .inf}", "task_config: controller: damping", "finite"),
    ("rewards: {action_rate: 0.01}", "task_config: rewards: action_rate", "≤ 0"),
    ("rewards: {keypoint_tracking: -1}", "task_config: rewards: keypoint_tracking", "≥ 0"),
    ("rewards: {keypoint_precision: -0.5}", "task_config: rewards: keypoint_precision", "≥ 0"),
    ("rewards: {fingertip_reach: -0.1}", "task_config: rewards: fingertip_reach", "≥ 0"),
]


@pytest.mark.parametrize("yaml_line, key, valid", BAD, ids=[b[0] for b in BAD])
def test_a_bad_task_option_is_one_line_before_any_work(yaml_line, key, valid, tmp_path, capsys):
    path = tmp_path / "my.yaml"
    path.write_text(f"task_config:\n  {yaml_line}\n")
    ws = tmp_path / "ws"
    ws.mkdir()  # empty: a task option that passed would fail later on the missing task/
    assert main(["train", str(ws), "--config", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}: {key}: "), err
    assert valid in err and "\n" not in err and "Traceback" not in err
    assert not (ws / "train").exists()


def test_the_error_names_the_value_and_range():
    with pytest.raises(H2S2RError) as e:
        task_config("track_demo", overrides={"controller": {"max_step_rad": 5.7}}, where="f.yaml")
    msg = str(e.value)
    assert msg.startswith("f.yaml: controller: max_step_rad: 5.7 is out of range")
    assert "degrees? 0.1 rad = 5.7°" in msg
    with pytest.raises(H2S2RError, match=r"goal_speed: \[1.0, 0.5\] is reversed.*\[0.5, 1.0\]"):
        task_config("track_demo", overrides={"goal_speed": [1.0, 0.5]})


def test_the_valid_edges_and_every_preset_pass():
    for preset in DR_PRESETS:
        for mode in ("palm_synergy", "joint_delta"):
            task_config("track_demo", preset, mode, 1.0)
    ok = {
        "goal_speed": [1.0, 1.0],
        "object_density": 10.0,
        "physics_dt_s": 0.01,
        "ctrl_dt_s": 0.05,
        "episode_slack_s": 0,
        "success_rot_deg": 180.0,
        "model_variants": 1,
        "controller": {"max_step_rad": math.pi, "max_step_m": 0.1},
        "rewards": {"action_rate": 0.0, "fingertip_reach": 0.0},
    }
    cfg = task_config("track_demo", overrides=ok)
    assert cfg.goal_speed == (1.0, 1.0) and cfg.controller.max_step_rad == math.pi


def test_the_dataclasses_check_themselves():
    """Code that builds configs without a YAML file meets the same checks."""
    with pytest.raises(ValueError, match=r"max_step_rad: 5\.7"):
        ControllerConfig(max_step_rad=5.7)
    with pytest.raises(ValueError, match="synergy_scale: 0"):
        ControllerConfig(synergy_scale=0.0)
    with pytest.raises(ValueError, match=r"friction: .*reversed"):
        Randomization(friction=(1.4, 0.6))
    with pytest.raises(ValueError, match="object_mass_scale"):
        Randomization(object_mass_scale=(-1.0, 1.0))
    with pytest.raises(ValueError, match="action_latency_steps"):
        Randomization(action_latency_steps=(2, 1))
    with pytest.raises(ValueError, match="obs_rot_noise_rad"):
        Randomization(obs_rot_noise_rad=-0.1)
    with pytest.raises(ValueError, match="action_rate"):
        RewardWeights(action_rate=1.0)
    with pytest.raises(ValueError, match="object_density: -500"):
        TaskConfig(object_density=-500.0)


@pytest.mark.parametrize(
    "ctrl_dt_s, physics_dt_s, nearest",
    [
        (0.07, 1 / 120, "0.066666666667 (8 steps, 15 Hz) or 0.075 (9 steps, 13.3 Hz)"),
        (0.0667, 1 / 120, "0.066666666667 (8 steps, 15 Hz) or 0.075 (9 steps, 13.3 Hz)"),
        (0.013, 0.01, "0.01 (1 step, 100 Hz) or 0.02 (2 steps, 50 Hz)"),
    ],
)
def test_a_control_period_off_the_physics_step_gives_the_nearest_valid(
    ctrl_dt_s, physics_dt_s, nearest
):
    """The probe (round 6): ctrl_dt_s 0.07 with the 1/120 s step was refused without what
    to give. The two nearest multiples are named, written so that each passes (0.0667,
    the 15 Hz period rounded, is 8.004 steps: refused too), and each does pass."""
    with pytest.raises(ValueError) as e:
        TaskConfig(ctrl_dt_s=ctrl_dt_s, physics_dt_s=physics_dt_s)
    msg = str(e.value)
    assert msg.startswith(f"ctrl_dt_s: {ctrl_dt_s:g} is not a multiple of physics_dt_s"), msg
    assert msg.endswith(f"use the nearest: {nearest}"), msg
    for value in nearest.split(" or "):
        dt = float(value.split(" (")[0])
        cfg = TaskConfig(ctrl_dt_s=dt, physics_dt_s=physics_dt_s)
        assert cfg.ctrl_dt_s == dt and abs(dt - ctrl_dt_s) < physics_dt_s


def test_range_helpers():
    check_number("x", 1, 0, 1)
    with pytest.raises(ValueError, match=r"x: 1 is out of range; must be in \[0, 1\) m"):
        check_number("x", 1, 0, 1, hi_open=True, unit="m")
    with pytest.raises(ValueError, match="not an integer"):
        check_number("n", 1.5, 0, integer=True)
    with pytest.raises(ValueError, match="not a number"):
        check_number("x", "0.5", 0)
    with pytest.raises(ValueError, match="not a number"):
        check_number("x", True, 0)
    check_interval("r", (0.2, 0.2), 0.0, lo_open=True)
    with pytest.raises(ValueError, match="reversed"):
        check_interval("r", (0.3, 0.2))
