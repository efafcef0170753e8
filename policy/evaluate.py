"""``h2s2r eval``: the trained policy against the paper's replay baselines, same simulator.

Example::

    h2s2r eval runs/box --episodes 100            # medium randomization by default

Each of ``episodes`` worlds runs one episode under the chosen randomization for:

- **policy**: the latest checkpoint in ``train/`` (or an exported ``policy/policy.onnx``);
- **replay**: the retargeted robot trajectory of the demo (``task/`` extras), open loop at
  the demo's timing;
- **object-aware replay**: the same palm path re-anchored to where the object actually
  starts (its start pose is randomized), tracked with the same differential IK, fingers
  from the replay.

Success: at the end the object is within 3 cm and 20° of the demo's final pose and never
left the table. Path success: success, and the mean keypoint error along the demo's path
below ``path_tol_m`` (5 cm) — an object pushed to its final spot instead of carried
along the path is not a path success. Writes ``eval/metrics.json``, ``eval/success.png`` and
``eval/rollout.mp4`` (the policy's first episode from the demo camera, if known).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pipeline.artifacts import EvalResult, Provenance, TrainRun
from pipeline.errors import H2S2RError
from pipeline.geometry import T_from_pos_quat, T_inv, so3_log

# Physics variants (friction, mass, gains) of eval worlds are drawn from this + the eval
# seed, a range training (its seed) and validation (1_000_003 + its seed) do not use.
EVAL_PHYSICS_SEED = 2_000_003


@dataclass(frozen=True)
class EvalConfig:
    """Options of ``h2s2r eval``."""

    episodes: int = 100  # episodes per method (one per parallel world)
    randomization: str = "medium"  # none | small | medium | large
    policy: str = "checkpoint"  # checkpoint (train/) | onnx (policy/policy.onnx)
    checkpoint: str = "best"  # best (best validation in training) | latest | a file in train/
    video: bool = True  # render the policy's first episode
    seed: int = 1  # start poses, noise, latencies (physics variants: seed + 2000003, unseen)
    # path success: success and a mean keypoint error along the path below this (m), so an
    # object slid to its final spot instead of carried along the demo does not count
    path_tol_m: float = 0.05


def _demo_palm_path(env, replay_q: np.ndarray) -> np.ndarray:
    from sim.control import palm_pose

    return palm_pose(env.controller, replay_q)


class Episodes(NamedTuple):
    """What :func:`run_episodes` measured, one entry per world."""

    success: np.ndarray  # (B,) bool
    tracking_err: np.ndarray  # (B,) mean keypoint distance along the episode (m)
    frames: list  # qpos of the recorded world, one per policy step
    diverged: np.ndarray  # (B,) bool: the physics diverged (the episode counts as failed)


def run_episodes(
    env,
    act: Callable[[dict, int], np.ndarray] | None,
    targets: Callable[[int], np.ndarray] | None = None,
    record_world: int | None = None,
) -> Episodes:
    """One episode per world. Either ``act(obs, step)`` gives actions, or ``targets(step)``
    gives joint targets directly."""
    env.reset(np.arange(env.num_envs))
    obs = env.observe()
    done = np.zeros(env.num_envs, dtype=bool)
    success = np.zeros(env.num_envs, dtype=bool)
    diverged = np.zeros(env.num_envs, dtype=bool)
    err_sum = np.zeros(env.num_envs)
    err_n = np.zeros(env.num_envs)
    frames = []
    step = 0
    while not done.all():
        if act is not None:
            obs, _, term, trunc, info = env.step(act(obs, step))
        else:
            obs, _, term, trunc, info = env.step_targets(targets(step))
        live = ~done
        err_sum[live] += info["keypoint_distance"][live]
        err_n[live] += 1
        if record_world is not None and not done[record_world]:
            frames.append(env.sim.qpos()[record_world].copy())
        ended = live & (term | trunc)
        success[ended] = info["success"][ended] & trunc[ended] & ~term[ended]
        diverged[ended] = info["unstable"][ended]
        done |= term | trunc
        step += 1
    return Episodes(success, err_sum / np.maximum(err_n, 1), frames, diverged)


def replay_targets(env, task) -> Callable[[int], np.ndarray]:
    """Open-loop joint targets of the retargeted demo, resampled to the policy rate."""
    q = task.extras["replay_qpos"]
    fps = 1.0 / float(np.median(np.diff(task.t)))

    def targets(step: int) -> np.ndarray:
        i = min(round(step * env.cfg.ctrl_dt_s * fps), len(q) - 1)
        return np.tile(q[i], (env.num_envs, 1))

    return targets


def object_aware_targets(env, task, iters: int = 8) -> Callable[[int], np.ndarray]:
    """The replay re-anchored to the object's actual start: each demo palm pose is moved
    by the transform from the demo's first object pose to the episode's, and the arm
    joints that reach it are solved kinematically (damped least squares, ``iters`` steps
    from the replay's own joints, warm-started from the last step's offset). The hand
    joints and everything else follow the replay, so with the object exactly at the
    demo's start this is the replay itself.

    The targets are joint positions, like the replay's, not joints measured this step
    plus an IK step: with those the PD error, and so the force the arm pushes with, is
    reset every step, and the replay no longer behaves like the replay."""
    from sim.control import damped_least_squares

    q = task.extras["replay_qpos"]
    fps = 1.0 / float(np.median(np.diff(task.t)))
    palm = _demo_palm_path(env, q)  # (M, 4, 4) demo palm poses (base)
    T_demo0 = T_from_pos_quat(task.object_pos_base[0], task.object_quat_wxyz_base[0])
    ctrl = env.controller
    n_arm, damping = ctrl.n_arm, 0.02
    state = {}

    def targets(step: int) -> np.ndarray:
        i = min(round(step * env.cfg.ctrl_dt_s * fps), len(q) - 1)
        out = np.tile(q[i], (env.num_envs, 1))
        if step == 0:
            pos, quat = env.object_pose()
            state["adj"] = T_from_pos_quat(pos, quat) @ T_inv(T_demo0)  # (B, 4, 4)
            state["offset"] = np.zeros((env.num_envs, n_arm))
        desired = state["adj"] @ palm[i]
        out[:, :n_arm] += state["offset"]
        full = np.zeros((env.num_envs, ctrl.model.nq))
        for _ in range(iters):
            full[:, ctrl.info.qpos_adr] = out
            T, J = ctrl.palm_chain(full)
            twist = np.concatenate(
                [
                    desired[:, :3, 3] - T[:, :3, 3],
                    so3_log(desired[:, :3, :3] @ np.swapaxes(T[:, :3, :3], 1, 2)),
                ],
                axis=1,
            )
            dq = damped_least_squares(J, twist, damping)
            out[:, :n_arm] = np.clip(out[:, :n_arm] + dq, ctrl.lo[:n_arm], ctrl.hi[:n_arm])
        state["offset"] = out[:, :n_arm] - q[i, :n_arm]
        return np.clip(out, ctrl.lo, ctrl.hi)

    return targets


def checkpoint_policy(ws: Path, env, which: str = "best") -> Callable[[dict, int], np.ndarray]:
    import torch
    from rsl_rl.runners import OnPolicyRunner

    from policy.rsl_env import RslVecEnv
    from policy.train import policy_checkpoint, ppo_config, saved_train_config

    ck = policy_checkpoint(ws, which)
    cfg = saved_train_config(ws)
    runner = OnPolicyRunner(RslVecEnv(env), ppo_config(cfg), log_dir=None, device="cpu")
    runner.load(str(ck))
    policy = runner.get_inference_policy()
    from tensordict import TensorDict

    def act(obs: dict, step: int) -> np.ndarray:
        with torch.inference_mode():
            td = TensorDict(
                {k: torch.from_numpy(v) for k, v in obs.items()}, batch_size=[env.num_envs]
            )
            return policy(td).numpy().astype(np.float64)

    return act


def onnx_policy(ws: Path, env) -> Callable[[dict, int], np.ndarray]:
    import onnxruntime as ort

    path = ws / "policy" / "policy.onnx"
    if not path.is_file():
        raise H2S2RError(f"{path} does not exist: run `h2s2r export {ws}` first")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def act(obs: dict, step: int) -> np.ndarray:
        return sess.run(None, {name: obs["policy"]})[0].astype(np.float64)

    return act


def run_eval(ws: str | Path, cfg: EvalConfig = EvalConfig(), log=print) -> EvalResult:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from policy.train import make_env, policy_checkpoint, saved_train_config

    ws = Path(ws)
    run = TrainRun.load(ws / "train") if cfg.policy == "checkpoint" else None
    # The task as trained (action mode, synergy span); randomization as asked.
    env = make_env(
        ws,
        saved_train_config(ws),
        randomization=cfg.randomization,
        num_envs=cfg.episodes,
        seed=cfg.seed,
        physics_seed=EVAL_PHYSICS_SEED + cfg.seed,
    )
    if cfg.policy == "checkpoint":
        source = policy_checkpoint(ws, cfg.checkpoint).name  # resolved once: best → a file
        act = checkpoint_policy(ws, env, source)
    else:
        act, source = onnx_policy(ws, env), "policy/policy.onnx"
    runs = {}
    env.rng = np.random.default_rng(cfg.seed)  # the same start poses for all three methods
    runs["policy"] = run_episodes(env, act, record_world=0 if cfg.video else None)
    frames = runs["policy"].frames
    env.rng = np.random.default_rng(cfg.seed)
    runs["replay"] = run_episodes(env, None, replay_targets(env, env.task))
    env.rng = np.random.default_rng(cfg.seed)
    runs["object_aware_replay"] = run_episodes(env, None, object_aware_targets(env, env.task))
    metrics = {"episodes": cfg.episodes}
    for name, r in runs.items():
        prefix = "" if name == "policy" else f"{name}_"
        metrics[f"{prefix}success_rate"] = float(r.success.mean())
        metrics[f"{prefix}tracking_err_mean_m"] = float(r.tracking_err.mean())
        metrics[f"{prefix}path_success_rate"] = float(
            np.mean(r.success & (r.tracking_err < cfg.path_tol_m))
        )
        # Diverged physics is a simulation problem, not a policy's: say it, never hide it.
        metrics[f"{prefix}diverged_rate"] = float(r.diverged.mean())
    out = ws / "eval"
    upstream = [ws / "task" / "meta.json"]
    if run is not None:
        upstream.append(ws / "train" / "meta.json")
    EvalResult(
        metrics=metrics,
        provenance=Provenance.of_files(ws, upstream, config={**asdict(cfg), "policy_file": source}),
    ).save(out)
    _plot(out / "success.png", runs, cfg)
    if cfg.video and frames:
        _video(out / "rollout.mp4", env, frames)
    env.close()
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


def _video(path: Path, env, frames: list[np.ndarray]) -> None:
    import cv2
    import mujoco

    from pipeline.render import offscreen_renderer

    model = env.variants[0]
    data = mujoco.MjData(model)
    T_base_cam = env.task.extras.get("T_base_cam")
    cam = mujoco.MjvCamera()
    if T_base_cam is None:
        cam.lookat[:] = env.demo_pos[0]
        cam.distance, cam.elevation, cam.azimuth = 1.2, -35, 150
    else:  # look from the demo camera's position at the object
        eye = T_base_cam[:3, 3]
        v = env.demo_pos[0] - eye
        cam.lookat[:] = env.demo_pos[0]
        cam.distance = float(np.linalg.norm(v))
        # The free camera looks along (cos el cos az, cos el sin az, sin el).
        cam.azimuth = float(np.degrees(np.arctan2(v[1], v[0])))
        cam.elevation = float(np.degrees(np.arcsin(v[2] / np.linalg.norm(v))))
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), 1.0 / env.cfg.ctrl_dt_s, (640, 480)
    )
    with offscreen_renderer(model, 480, 640) as r:
        for qpos in frames:
            data.qpos[:] = qpos
            mujoco.mj_forward(model, data)
            r.update_scene(data, camera=cam)
            writer.write(r.render()[..., ::-1])
    writer.release()
