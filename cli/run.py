"""``h2s2r run`` and ``h2s2r demo``: every stage after capture, in order.

Examples::

    h2s2r run runs/mug --budget-min 20            # track-object … export on a recorded demo
    h2s2r demo runs/demo                          # synth box_push, then run

``run`` needs ``capture/``, the object mesh (``object/``, which ``track-object --mesh``
writes) and a camera pose (``calibration/``, or a synthetic demo's ``ground_truth/``).
Each stage writes its folder as if run alone; a stage whose output exists is skipped
(delete the folder to redo it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from h2s2r.core.config import check_options, option
from h2s2r.core.robots import ROBOTS
from h2s2r.perception.hand_track.stage import METHODS as HAND_METHODS


@dataclass(frozen=True)
class RunConfig:
    """Options of ``h2s2r run``, each checked before the first stage runs (a typo in the
    last stage's option must not surface after the others have written their folders)."""

    # track-hand method: mediapipe | hamer | ground-truth
    hand_method: str = option("mediapipe", choices=HAND_METHODS)
    robot: str = option("iiwa_allegro", choices=tuple(ROBOTS))  # robot registry entry
    budget_min: float = option(20.0, above=0.0)  # training wall clock, minutes
    num_envs: int = option(256, lo=1)  # parallel worlds for training
    randomization: str = "medium"  # training randomization: none | small | medium | large
    episodes: int = option(100, lo=1)  # evaluation episodes

    def __post_init__(self) -> None:
        check_options(self)
        from h2s2r.sim.tasks.track_demo import DR_PRESETS

        if self.randomization not in DR_PRESETS:
            raise ValueError(
                f"--randomization (randomization) must be one of {', '.join(DR_PRESETS)}; "
                f"got {self.randomization!r}"
            )


def run_all(ws: str | Path, cfg: RunConfig = RunConfig(), log=print) -> None:
    from h2s2r.cli.backends import env_factory
    from h2s2r.perception.hand_track.stage import TrackHandConfig, run_track_hand
    from h2s2r.perception.object_track.stage import TrackObjectConfig, run_track_object
    from h2s2r.policy.config import TrainConfig
    from h2s2r.policy.evaluate import EvalConfig, run_eval
    from h2s2r.policy.export import run_export
    from h2s2r.policy.train import run_train
    from h2s2r.sim.retarget.stage import RetargetConfig, run_retarget

    ws = Path(ws)
    if not (ws / "object").is_dir() and not (ws / "object_track").is_dir():
        from h2s2r.core.errors import H2S2RError

        raise H2S2RError(
            f"{ws / 'object'}: no object mesh — run `h2s2r track-object {ws} --mesh PATH "
            f"[--mesh-scale S]` first (it writes object/ and object_track/), then `h2s2r run {ws}`"
        )
    make_env = env_factory("mujoco")
    stages = [
        ("object_track", lambda: run_track_object(ws, TrackObjectConfig())),
        ("hand_track", lambda: run_track_hand(ws, TrackHandConfig(method=cfg.hand_method))),
        ("task", lambda: run_retarget(ws, RetargetConfig(robot=cfg.robot))),
        (
            "train",
            lambda: run_train(
                ws,
                TrainConfig(
                    num_envs=cfg.num_envs,
                    budget_min=cfg.budget_min,
                    randomization=cfg.randomization,
                ),
                make_env,
            ),
        ),
        ("eval", lambda: run_eval(ws, EvalConfig(episodes=cfg.episodes), make_env)),
        ("policy", lambda: run_export(ws, make_env)),
    ]
    for folder, stage in stages:
        if (ws / folder).is_dir():
            log(f"{folder}/ exists: skipped")
            continue
        log(f"── {folder}/")
        stage()
