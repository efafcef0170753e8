"""``h2s2r run`` and ``h2s2r demo``: every stage after capture, in order.

Examples::

    h2s2r run runs/mug --budget-min 20            # track-object … export on a recorded demo
    h2s2r demo runs/demo                          # synth box_push, then run

``run`` needs ``capture/``, the object mesh (``object/``, which ``track-object --mesh``
writes) and a camera pose (``calibration/``, or a synthetic demo's ``ground_truth/``).
Each stage writes its folder as if run alone. A re-run skips each stage whose folder
loads with every check (its inputs unchanged) and was made with the options given here;
it re-makes the others (a trained ``train/`` is kept, see :func:`run_stages`). ``demo``
ends with a short ``deploy --sim`` and ``report``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from h2s2r.core.artifacts.base import to_jsonable
from h2s2r.core.config import check_options, option
from h2s2r.core.errors import H2S2RError
from h2s2r.core.robots import ROBOTS
from h2s2r.perception.hand_track.stage import METHODS as HAND_METHODS
from h2s2r.sim.tasks.track_demo import DR_PRESETS


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
        if self.randomization not in DR_PRESETS:
            raise ValueError(
                f"--randomization (randomization) must be one of {', '.join(DR_PRESETS)}; "
                f"got {self.randomization!r}"
            )


OTHER_OPTIONS = "made with other options: "


def stage_state(ws: Path, folder: str, config: Mapping[str, Any]) -> str | None:
    """Why ``folder`` must be (re)made, or None when it is there, loads with every check
    (its upstream files unchanged) and was made with ``config`` (the keys it names)."""
    from h2s2r.core.artifacts import ARTIFACTS

    path = ws / folder
    if not path.is_dir():
        return "not made yet"
    try:
        ARTIFACTS[folder].load(path)
    except H2S2RError as e:
        return f"does not load: {str(e).splitlines()[0]}"
    try:
        made = json.loads((path / "meta.json").read_text()).get("config", {})
    except (OSError, ValueError):
        return "meta.json unreadable"
    want = to_jsonable(dict(config))
    changed = sorted(k for k, v in want.items() if made.get(k) != v)
    if changed:
        return OTHER_OPTIONS + ", ".join(f"{k} {made.get(k)!r} → {want[k]!r}" for k in changed)
    return None


def _holds_training(train: Path) -> bool:
    """Whether ``train/`` holds training worth keeping: a finished run (``meta.json``) or
    checkpoints of a killed one (``--resume`` continues it). An empty folder does not."""
    return (train / "meta.json").is_file() or any(train.glob("model_*.pt"))


def run_stages(ws: Path, stages: list[tuple[str, Mapping[str, Any], Callable]], log=print):
    """Run each ``(folder, config, run)`` whose folder is missing, stale or made with
    other values of ``config``'s keys (the options ``run`` sets; a stage run alone with
    more options is kept); skip the others. Each stage run gets its wall time and
    ``machine.json``. A trained ``train/`` is never replaced: made with other options it
    is kept (and said so); on changed inputs (stale) it is an error that says what to do —
    training is the expensive part."""
    from h2s2r.core.runinfo import record_stage_run

    folders = [f for f, _, _ in stages]
    trained = _holds_training(ws / "train")
    # Each stage's state, checked once (loading an artifact re-hashes its files): the
    # pre-pass's answers hold until a stage is re-made.
    known: dict[str, str | None] = {}
    if "train" in folders and trained:
        # Before any work: a stage upstream of train/ that would be re-made makes the
        # trained policy stale; say so now instead of after re-making it.
        for folder, config, _ in stages[: folders.index("train")]:
            why = known[folder] = stage_state(ws, folder, config)
            if why is not None:
                raise H2S2RError(
                    f"{ws / folder}: {why} — re-making it would leave {ws / 'train'} "
                    f"trained on the old one: delete (or move) {ws / 'train'} to train "
                    "again, or run with the options it was made with"
                )
    for folder, config, run in stages:
        why = known[folder] if folder in known else stage_state(ws, folder, config)
        if why is None:
            log(f"{folder}/ unchanged: skipped")
            continue
        if folder == "train" and why.startswith(OTHER_OPTIONS):
            log(f"{folder}/ kept: {why} (delete {ws / 'train'} to train with these options)")
            continue
        if folder == "train" and trained:
            raise H2S2RError(
                f"{ws / 'train'}: {why} — this run would train again; delete (or move) "
                f"{ws / 'train'} to train with the new inputs, or run the other stages alone"
            )
        log(f"── {folder}/ ({why})")
        known.clear()  # what follows may depend on this stage
        t0 = time.perf_counter()
        run()
        record_stage_run(ws / folder, time.perf_counter() - t0, f"h2s2r run/demo: {folder}")


def run_all(
    ws: str | Path,
    cfg: RunConfig = RunConfig(),
    log=print,
    deploy_s: float | None = None,
    report: bool = False,
) -> Path | None:
    """Every stage after capture in order (each only if needed: :func:`run_stages`);
    with ``deploy_s`` a ``deploy --sim`` of that many seconds, and with ``report`` the
    report, whose path is returned."""
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
        raise H2S2RError(
            f"{ws / 'object'}: no object mesh — run `h2s2r track-object {ws} --mesh PATH "
            f"[--mesh-scale S]` first (it writes object/ and object_track/), then `h2s2r run {ws}`"
        )
    make_env = env_factory("mujoco")
    track_object = TrackObjectConfig()
    track_hand = TrackHandConfig(method=cfg.hand_method)
    retarget = RetargetConfig(robot=cfg.robot)
    train = TrainConfig(
        num_envs=cfg.num_envs, budget_min=cfg.budget_min, randomization=cfg.randomization
    )
    evaluate = EvalConfig(episodes=cfg.episodes, presets=",".join(DR_PRESETS))
    # Compared with each folder's meta.json: the options this command sets.
    trained = {k: asdict(train)[k] for k in ("num_envs", "budget_min", "randomization")}
    stages = [
        ("object_track", {}, lambda: run_track_object(ws, track_object)),
        ("hand_track", {"method": cfg.hand_method}, lambda: run_track_hand(ws, track_hand)),
        ("task", {"robot": cfg.robot}, lambda: run_retarget(ws, retarget)),
        ("train", trained, lambda: run_train(ws, train, make_env)),
        (
            "eval",
            {"episodes": cfg.episodes, "presets": evaluate.presets},
            lambda: run_eval(ws, evaluate, make_env),
        ),
        ("policy", {}, lambda: run_export(ws, make_env)),
    ]
    if deploy_s is not None:
        from h2s2r.cli.deploy import DeployConfig, run_deploy

        deploy = DeployConfig(sim=True, duration=deploy_s)
        stages.append(
            # as asked (duration 0: one demo episode), not the resolved duration_s
            ("deploy_log", {"deploy": asdict(deploy)}, lambda: run_deploy(ws, deploy, log=log))
        )
    run_stages(ws, stages, log)
    if not report:
        return None
    from h2s2r.report.page import build_report

    return build_report(ws, log=log)
