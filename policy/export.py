"""``h2s2r export``: the trained policy as ONNX plus the header deployment reads.

Example::

    h2s2r export runs/box

Writes ``policy/policy.onnx`` (input ``obs``: the ``policy`` observation vector, output
``actions``; the observation normalizer is inside the graph) and ``policy/policy.json``
(observation layout, action semantics, control period, joint order, robot).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

from pipeline.artifacts import PolicyExport, Provenance
from pipeline.errors import H2S2RError


def observation_layout(env) -> list[dict]:
    """Names and sizes of the ``policy`` observation blocks, in order (TrackDemoEnv)."""
    n = len(env.info.qpos_adr)
    tips = len(env.info.fingertip_sites)
    return [
        {"name": "joint_pos", "size": n, "units": "rad"},
        {"name": "joint_vel", "size": n, "units": "0.1 rad/s"},
        {"name": "previous_action", "size": env.action_dim, "units": "1"},
        {"name": "fingertips_minus_object", "size": 3 * tips, "units": "m, base frame"},
        {"name": "palm_minus_object", "size": 3, "units": "m, base frame"},
        {"name": "object_pos", "size": 3, "units": "m, base frame"},
        {"name": "object_rot6d", "size": 6, "units": "first two rotation columns"},
        {"name": "goal_pos_minus_object", "size": 3, "units": "m"},
        {"name": "goal_rot6d", "size": 6, "units": "1"},
        {"name": "next_goal_pos_minus_object", "size": 3, "units": "m (goal 0.5 s ahead)"},
        {"name": "next_goal_rot6d", "size": 6, "units": "1"},
        {"name": "progress", "size": 1, "units": "fraction of the demo"},
    ]


def run_export(ws: str | Path, checkpoint: str = "best", log=print) -> PolicyExport:
    from rsl_rl.runners import OnPolicyRunner

    from policy.rsl_env import RslVecEnv
    from policy.train import make_env, policy_checkpoint, ppo_config, saved_train_config

    ws = Path(ws)
    ck = policy_checkpoint(ws, checkpoint)
    cfg = saved_train_config(ws)
    env = make_env(ws, cfg, num_envs=2)
    runner = OnPolicyRunner(RslVecEnv(env), ppo_config(cfg), log_dir=None, device="cpu")
    runner.load(str(ck))
    with tempfile.TemporaryDirectory() as tmp:
        runner.export_policy_to_onnx(tmp, "policy.onnx")
        import onnx

        # torch's exporter may put the weights in a side file; deploy wants one file. The
        # batch dimension is made symbolic so that evaluation can run many worlds at once.
        model = onnx.load(str(Path(tmp) / "policy.onnx"))
        for value in (*model.graph.input, *model.graph.output):
            value.type.tensor_type.shape.dim[0].dim_param = "batch"
        onnx_bytes = model.SerializeToString()
    layout = observation_layout(env)
    assert sum(b["size"] for b in layout) == env.observe()["policy"].shape[1]
    header = {
        "observation_layout": layout,
        "observation_size": int(sum(b["size"] for b in layout)),
        "action_semantics": {
            "dim": env.action_dim,
            **asdict(env.cfg.controller),
            "range": [-1.0, 1.0],
            "hand_reference_qpos": env.task.pre_manip_qpos[-16:].tolist(),
            # (n_hand, 5) joint motion per synergy coefficient (PCA of real hands, ± 2σ)
            "synergy_matrix": env.controller.synergies.round(6).tolist(),
        },
        "ctrl_dt_s": env.cfg.ctrl_dt_s,
        "physics_dt_s": env.cfg.physics_dt_s,
        "joint_names": list(env.robot.joint_names),
        "robot": env.robot.name,
        "checkpoint": ck.name,
        "onnx": {"input": "obs", "output": "actions", "normalizer": "inside the graph"},
    }
    env.close()
    art = PolicyExport(
        header=header,
        onnx_bytes=onnx_bytes,
        provenance=Provenance.of_files(ws, [ws / "train" / "meta.json", ws / "task" / "meta.json"]),
    )
    art.save(ws / "policy")
    _check_names(ws / "policy" / "policy.onnx")
    log(f"wrote {ws / 'policy'}: policy.onnx ({len(onnx_bytes) / 1e3:.0f} kB) from {ck.name}")
    return art


def _check_names(path: Path) -> None:
    import onnx

    m = onnx.load(str(path))
    ins, outs = [i.name for i in m.graph.input], [o.name for o in m.graph.output]
    if ins != ["obs"] or outs != ["actions"]:
        raise H2S2RError(f"{path}: expected input 'obs' and output 'actions', got {ins} {outs}")
