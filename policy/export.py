"""``h2s2r export``: the trained policy as ONNX plus the header deployment reads.

Example::

    h2s2r export runs/box

Writes ``policy/policy.onnx`` (input ``obs``: the ``policy`` observation vector, output
``actions``; the observation normalizer is inside the graph) and ``policy/policy.json``
(the observation layout table of :mod:`h2s2r.core.observation`, action semantics, control
period, joint order, robot).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

from h2s2r.core.artifacts import ObjectMesh, PolicyExport, Provenance
from h2s2r.core.artifacts.base import staged_folder
from h2s2r.core.env import EnvFactory, as_host
from h2s2r.core.errors import H2S2RError
from h2s2r.core.goal import NEXT_GOAL_S, object_keypoints
from h2s2r.core.observation import layout_size, layout_table, robot_policy_layout
from h2s2r.core.trust import policy_header_provenance, verify_policy, verify_trained
from h2s2r.policy.checkpoints import load_runner, nonfinite_weights, policy_checkpoint
from h2s2r.policy.config import saved_train_config


def run_export(
    ws: str | Path, make_env: EnvFactory, checkpoint: str = "best", log=print
) -> PolicyExport:
    """Export a checkpoint of ``train/`` as ``policy/``; ``make_env`` builds the task as it
    was trained (two worlds), which sizes the networks and fills the header."""
    ws = Path(ws)
    _, run = verify_trained(ws)  # the checks eval makes: checkpoints' hashes, same task
    ck = policy_checkpoint(ws, checkpoint, run.checkpoints)
    cfg = saved_train_config(ws)
    if cfg.recurrent:
        raise H2S2RError(
            f"{ws / 'train'}: a recurrent policy (--recurrent) cannot be exported yet: deploy's "
            "policy node and `eval --policy onnx` run a stateless ONNX graph — evaluate it "
            "with `h2s2r eval` (its checkpoint), or train without --recurrent to deploy"
        )
    env = make_env(cfg.env_request(ws, num_envs=2, backend=cfg.side_backend()))
    runner = load_runner(env, cfg, ck)
    bad, total = nonfinite_weights(runner.alg.save())
    if bad:
        env.close()
        raise H2S2RError(
            f"{ck}: the policy's weights hold {bad} NaN or infinite values (of {total}): "
            "training diverged before this checkpoint was saved, and its actions would be "
            f"NaN — export another checkpoint (--checkpoint latest or one of "
            f"{list(run.checkpoints)}), or retrain with a lower --learning-rate"
        )
    with tempfile.TemporaryDirectory() as tmp:
        runner.export_policy_to_onnx(tmp, "policy.onnx")
        import onnx

        # torch's exporter may put the weights in a side file; deploy wants one file. The
        # batch dimension is made symbolic so that evaluation can run many worlds at once.
        model = onnx.load(str(Path(tmp) / "policy.onnx"))
        for value in (*model.graph.input, *model.graph.output):
            value.type.tensor_type.shape.dim[0].dim_param = "batch"
        # Intermediate shapes recorded for a batch of 1 would make ONNX Runtime warn on
        # every larger batch; it infers them again.
        del model.graph.value_info[:]
        onnx_bytes = model.SerializeToString()
    _check_actions_finite(onnx_bytes, as_host(env).observe()["policy"], ck, env.close)
    ctrl = env.controller
    layout = robot_policy_layout(ctrl.robot, ctrl.action_dim)
    size = layout_size(layout)
    if size != as_host(env).observe()["policy"].shape[1]:
        raise H2S2RError(
            f"the {env.name} task observes {as_host(env).observe()['policy'].shape[1]} values but "
            f"the observation table has {size}: the task does not build its observation "
            "with h2s2r.core.observation.policy_observation"
        )
    keypoints, _ = object_keypoints(ObjectMesh.load(ws / "object").vertices)
    header = {
        "observation_layout": layout_table(layout),
        "observation_size": size,
        "action_semantics": {
            "dim": ctrl.action_dim,
            **asdict(ctrl.cfg),
            "range": [-1.0, 1.0],
            "hand_reference_qpos": env.task.pre_manip_qpos[ctrl.n_arm :].tolist(),
            # (n_hand, 5) joint motion per synergy coefficient (PCA of real hands, ± 2σ)
            "synergy_matrix": ctrl.synergies.round(6).tolist(),
        },
        # The goal rule of h2s2r.core.goal as trained: deploy moves the goal the same way.
        "goal": {
            "pause_distance_m": env.cfg.pause_distance_m,
            "goal_speed_range": list(env.cfg.goal_speed),
            "next_goal_s": NEXT_GOAL_S,
            "keypoints_obj_m": keypoints.round(9).tolist(),
            "success_pos_m": env.cfg.success_pos_m,
            "success_rot_deg": env.cfg.success_rot_deg,
        },
        "ctrl_dt_s": env.cfg.ctrl_dt_s,
        "physics_dt_s": env.cfg.physics_dt_s,
        "joint_names": list(ctrl.robot.joint_names),
        "robot": ctrl.robot.name,
        "task": env.name,
        **policy_header_provenance(ws, ck, run),
        "onnx": {"input": "obs", "output": "actions", "normalizer": "inside the graph"},
    }
    env.close()
    art = PolicyExport(
        header=header,
        onnx_bytes=onnx_bytes,
        provenance=Provenance.of_files(ws, [ws / "train" / "meta.json", ws / "task" / "meta.json"]),
    )
    with staged_folder(ws / "policy") as out:  # policy/ is replaced only once it passes
        art.save(out)
        _check_names(out / "policy.onnx")
        verify_policy(ws, out)  # what deploy will check, checked now
    log(f"wrote {ws / 'policy'}: policy.onnx ({len(onnx_bytes) / 1e3:.0f} kB) from {ck.name}")
    return art


def _check_names(path: Path) -> None:
    import onnx

    m = onnx.load(str(path))
    ins, outs = [i.name for i in m.graph.input], [o.name for o in m.graph.output]
    if ins != ["obs"] or outs != ["actions"]:
        raise H2S2RError(f"{path}: expected input 'obs' and output 'actions', got {ins} {outs}")


def _check_actions_finite(onnx_bytes: bytes, obs, ck: Path, on_error) -> None:
    """A test inference of the exported graph, on the task's first observations and on
    zeros: every action finite (finite weights can still overflow)."""
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    obs = np.asarray(obs, dtype=np.float32)
    for x in (obs, np.zeros_like(obs)):
        actions = sess.run(None, {"obs": x})[0]
        if not np.all(np.isfinite(actions)):
            on_error()
            raise H2S2RError(
                f"{ck}: its exported policy gives NaN or infinite actions on "
                f"{'the task' if x is obs else 'a zero'} observation (training diverged?) — "
                "export another checkpoint (--checkpoint latest|FILE), or retrain with a "
                "lower --learning-rate"
            )
