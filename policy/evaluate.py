"""``h2s2r eval``: the trained policy against the paper's replay baselines, same simulator.

Example::

    h2s2r eval runs/box --episodes 100            # medium randomization by default

Each of ``episodes`` worlds runs one episode under the chosen randomization for:

- **policy**: the best (or a chosen) checkpoint in ``train/``, or an exported
  ``policy/policy.onnx``;
- **replay** and **object-aware replay**: the paper's baselines
  (:mod:`h2s2r.policy.baselines`).

Success: at the end the object is within 3 cm and 20° of the demo's final pose and never
left the table. Path success: success, and the mean keypoint error along the demo's path
below ``path_tol_m`` (5 cm) — an object pushed to its final spot instead of carried
along the path is not a path success. ``presets`` evaluates the same episodes under more
randomization presets (``<preset>/<method>_success_rate`` in the metrics; the report's
table). Writes ``eval/metrics.json``, ``eval/success.png``, ``eval/rollout.npz`` (the
policy's first episode: time, object pose and joint positions) and ``eval/rollout.mp4``
(that episode from the demo camera, VP9 in MP4: it plays in a browser).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from h2s2r.core.artifacts import EvalResult, Provenance
from h2s2r.core.artifacts.base import staged_folder
from h2s2r.core.config import check_options, option
from h2s2r.core.env import WORLD_BYTES, BatchedEnv, EnvFactory, check_memory
from h2s2r.core.errors import H2S2RError
from h2s2r.core.trust import verify_policy, verify_trained
from h2s2r.policy.baselines import object_aware_targets, replay_targets
from h2s2r.policy.checkpoints import actor, load_runner, policy_checkpoint
from h2s2r.policy.config import ONE_SIM_PER_PROCESS, saved_train_config
from h2s2r.policy.rollout import Episodes, run_episodes

# Physics variants (friction, mass, gains) of eval worlds are drawn from this + the eval
# seed, a range training (its seed) and validation (1_000_003 + its seed) do not use.
EVAL_PHYSICS_SEED = 2_000_003


@dataclass(frozen=True)
class EvalConfig:
    """Options of ``h2s2r eval``."""

    episodes: int = option(100, lo=1)  # episodes per method (one per parallel world)
    randomization: str = "medium"  # none | small | medium | large
    # checkpoint (train/) | onnx (policy/policy.onnx)
    policy: str = option("checkpoint", choices=("checkpoint", "onnx"))
    checkpoint: str = "best"  # best (best validation in training) | latest | a file in train/
    video: bool = True  # render the policy's first episode
    seed: int = option(
        1, lo=0
    )  # start poses, noise, latencies (physics variants: seed + 2000003, unseen)
    # path success: success and a mean keypoint error along the path below this (m), so an
    # object slid to its final spot instead of carried along the demo does not count; at
    # most 0.5 m (the reward's own gate pauses the goal at 0.2 m: a larger bound says nothing)
    path_tol_m: float = option(0.05, above=0.0, hi=0.5)
    # more randomization presets to evaluate: comma-separated (none,small,large) or all
    presets: str = ""
    # simulator: the one the policy trained in ('') or another (mujoco | warp | isaaclab):
    # a policy trained on Isaac Lab evaluated on MuJoCo is the cross-simulator check
    backend: str = option("", choices=("", "mujoco", "warp", "isaaclab"))

    def __post_init__(self) -> None:
        check_options(self)
        if self.policy == "onnx" and self.checkpoint != "best":
            raise ValueError(
                f"--checkpoint {self.checkpoint} chooses a checkpoint of train/, but --policy "
                "onnx evaluates policy/policy.onnx as exported (its checkpoint is in "
                "policy/policy.json): drop --checkpoint, or export that checkpoint first "
                f"(`h2s2r export WS --checkpoint {self.checkpoint}`)"
            )

    def preset_list(self) -> list[str]:
        """``randomization`` first, then the other ``presets``, each once."""
        extra = [p.strip() for p in self.presets.split(",") if p.strip()]
        return list(dict.fromkeys([self.randomization, *extra]))


def onnx_policy(ws: Path) -> Callable[[dict, int], np.ndarray]:
    """``act(obs, step)`` of the exported ``policy/policy.onnx`` (ONNX Runtime)."""
    import onnxruntime as ort

    path = ws / "policy" / "policy.onnx"
    if not path.is_file():
        raise H2S2RError(f"{path} does not exist: run `h2s2r export {ws}` first")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def act(obs: dict, step: int) -> np.ndarray:
        return sess.run(None, {name: obs["policy"]})[0].astype(np.float64)

    return act


def run_eval(
    ws: str | Path, cfg: EvalConfig, make_env: EnvFactory, log=print, progress=None
) -> EvalResult:
    """Evaluate the policy and both baselines in environments from ``make_env``;
    ``progress(done, total)`` counts policy steps over the three methods."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ws = Path(ws)
    # The checks export and deploy make too (h2s2r.core.trust).
    if cfg.policy == "checkpoint":
        _, run = verify_trained(ws)
    else:
        from_checkpoint = verify_policy(ws)[0].header["checkpoint"]
    train_cfg = saved_train_config(ws)
    backend = cfg.backend or train_cfg.backend
    if backend in ONE_SIM_PER_PROCESS and len(cfg.preset_list()) > 1:
        raise H2S2RError(
            f"--presets {cfg.presets}: the {backend} backend runs one simulation per "
            "process — evaluate one randomization per command (--randomization P), or "
            "the others with --backend mujoco"
        )
    check_memory(cfg.episodes, WORLD_BYTES, "--episodes", log)
    # The task as trained (action mode, synergy span, task options); randomization as asked.
    env = make_env(
        train_cfg.env_request(
            ws,
            randomization=cfg.randomization,
            num_envs=cfg.episodes,
            seed=cfg.seed,
            physics_seed=EVAL_PHYSICS_SEED + cfg.seed,
            backend=backend,
        )
    )
    if cfg.policy == "checkpoint":
        ck = policy_checkpoint(ws, cfg.checkpoint, run.checkpoints)  # best → a file, once
        act, source = actor(load_runner(env, train_cfg, ck), env.num_envs), ck.name
        from_checkpoint = cfg.checkpoint
    else:
        act, source = onnx_policy(ws), "policy/policy.onnx"

    def counter(k: int):
        return None if progress is None else lambda i, n: progress(k * n + i, 3 * n)

    runs = _three_methods(env, act, cfg.seed, counter)
    frames = runs["policy"].frames
    metrics = {"episodes": cfg.episodes}
    presets = cfg.preset_list()
    by_preset = {presets[0]: runs}
    for p in presets[1:]:  # the same episodes (seed) under another randomization
        log(f"  {p} randomization …")
        other = make_env(
            train_cfg.env_request(
                ws,
                randomization=p,
                num_envs=cfg.episodes,
                seed=cfg.seed,
                physics_seed=EVAL_PHYSICS_SEED + cfg.seed,
                backend=backend,
            )
        )
        try:
            by_preset[p] = _three_methods(other, act, cfg.seed, lambda k: None)
        finally:
            other.close()
    for p, rs in by_preset.items():
        for name, r in rs.items():
            metrics[f"{p}/{name}_success_rate"] = float(r.success.mean())
            metrics[f"{p}/{name}_tracking_err_mean_m"] = float(r.tracking_err.mean())
    for name, r in runs.items():
        prefix = "" if name == "policy" else f"{name}_"
        metrics[f"{prefix}success_rate"] = float(r.success.mean())
        metrics[f"{prefix}tracking_err_mean_m"] = float(r.tracking_err.mean())
        metrics[f"{prefix}path_success_rate"] = float(
            np.mean(r.success & (r.tracking_err < cfg.path_tol_m))
        )
        # Diverged physics is a simulation problem, not a policy's: say it, never hide it.
        metrics[f"{prefix}diverged_rate"] = float(r.diverged.mean())
    upstream = [ws / "task" / "meta.json"]
    upstream.append(ws / ("train" if cfg.policy == "checkpoint" else "policy") / "meta.json")
    with staged_folder(ws / "eval") as out:
        EvalResult(
            metrics=metrics,
            provenance=Provenance.of_files(
                ws,
                upstream,
                config={**asdict(cfg), "checkpoint": from_checkpoint, "policy_file": source},
            ),
        ).save(out)
        _plot(out / "success.png", runs, cfg)
        if frames:
            _save_rollout(out / "rollout.npz", env, frames)
        if cfg.video and frames:
            _video(out / "rollout.mp4", env, frames)
    env.close()
    out = ws / "eval"
    log(
        f"{source}: success {metrics['success_rate']:.0%} "
        f"(replay {metrics['replay_success_rate']:.0%}, "
        f"object-aware replay {metrics['object_aware_replay_success_rate']:.0%}) over "
        f"{cfg.episodes} episodes, {cfg.randomization} randomization; tracking error "
        f"{metrics['tracking_err_mean_m'] * 100:.1f} cm; path success "
        f"{metrics['path_success_rate']:.0%} (mean error < {cfg.path_tol_m * 100:.0f} cm)"
    )
    diverged = {k: v for k, v in metrics.items() if k.endswith("diverged_rate") and v > 0}
    if diverged:
        log(
            "the physics diverged in some episodes (counted as failures): "
            + ", ".join(f"{k.removesuffix('_rate')} {v:.0%}" for k, v in diverged.items())
        )
    return EvalResult.load(out)


def _three_methods(env: BatchedEnv, act, seed: int, counter) -> dict[str, Episodes]:
    """The policy and both replays from the same start poses; world 0 of the policy's
    episodes recorded."""
    task = env.task
    runs = {}
    env.seed(seed)
    runs["policy"] = run_episodes(env, act, record_world=0, progress=counter(0))
    env.seed(seed)
    runs["replay"] = run_episodes(env, None, replay_targets(env, task), progress=counter(1))
    env.seed(seed)
    runs["object_aware_replay"] = run_episodes(
        env, None, object_aware_targets(env, task), progress=counter(2)
    )
    return runs


def _save_rollout(path: Path, env: BatchedEnv, frames: list[np.ndarray]) -> None:
    """World 0's episode: ``t`` (s), ``object_pos``/``object_quat_wxyz`` (base frame) from
    the object's free joint, ``qpos``."""
    import mujoco

    free = [j for j in range(env.model.njnt) if env.model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    q = np.asarray(frames, dtype=np.float64)
    a = int(env.model.jnt_qposadr[free[0]]) if free else None
    np.savez(
        path,
        t=np.arange(len(q)) * env.cfg.ctrl_dt_s,
        qpos=q,
        object_pos=q[:, a : a + 3] if a is not None else np.zeros((len(q), 3)),
        object_quat_wxyz=q[:, a + 3 : a + 7] if a is not None else np.zeros((len(q), 4)),
    )


def _plot(path: Path, runs: dict[str, Episodes], cfg: EvalConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(runs)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].bar(names, [runs[n].success.mean() * 100 for n in names], color=["C0", "C1", "C2"])
    ax[0].set_ylabel("success (%)")
    ax[0].set_ylim(0, 100)
    ax[1].bar(names, [runs[n].tracking_err.mean() * 100 for n in names], color=["C0", "C1", "C2"])
    ax[1].set_ylabel("mean keypoint error (cm)")
    for a in ax:
        a.tick_params(axis="x", labelrotation=15)
    fig.suptitle(f"{cfg.episodes} episodes, {cfg.randomization} randomization")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _video(path: Path, env: BatchedEnv, frames: list[np.ndarray]) -> None:
    """The recorded world's episode seen from the demo camera's position, looking at the
    object's start."""
    import cv2
    import mujoco

    from h2s2r.core.render import offscreen_renderer

    model = env.model
    data = mujoco.MjData(model)
    cam = mujoco.MjvCamera()
    target = env.task.object_pos_base[0]
    v = target - env.task.T_base_cam[:3, 3]
    cam.lookat[:] = target
    cam.distance = float(np.linalg.norm(v))
    # The free camera looks along (cos el cos az, cos el sin az, sin el).
    cam.azimuth = float(np.degrees(np.arctan2(v[1], v[0])))
    cam.elevation = float(np.degrees(np.arcsin(v[2] / np.linalg.norm(v))))
    fps = 1.0 / env.cfg.ctrl_dt_s
    # VP9 in MP4 plays in browsers (the report embeds it); OpenCV builds without it fall
    # back to MPEG-4 part 2, which desktop players still play.
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"vp09"), fps, (640, 480))
    if not writer.isOpened():
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    with offscreen_renderer(model, 480, 640) as r:
        for qpos in frames:
            data.qpos[:] = qpos
            mujoco.mj_forward(model, data)
            r.update_scene(data, camera=cam)
            writer.write(r.render()[..., ::-1])
    writer.release()
